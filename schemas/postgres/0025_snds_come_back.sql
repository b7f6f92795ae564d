-- fbl store, version 25: when SNDS asks an account to come back later (a 429 or 5xx with a
-- Retry-After longer than a run waits), the time it named is kept, so that the runs before
-- it do not ask again. Before, every cron run asked once more, was told to wait once more,
-- and mailed the same failure.
--
-- come_back_at is that time, RFC 3339 in UTC; NULL when SNDS asked for no wait, or once an
-- account's fetch went through.

ALTER TABLE snds_accounts ADD COLUMN come_back_at TEXT;
