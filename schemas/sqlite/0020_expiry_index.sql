-- fbl store, version 20: the suppressions that will expire, indexed, so that recording the
-- expiries due (every `fbl run`, and every export before it reads the list, so that a delta
-- carries them) reads those entries only, not the whole list. Only entries on the list with
-- an expiry are in it: with the default policy (complaints never expire), it stays small.

CREATE INDEX suppressions_by_expiry ON suppressions (expires_at)
    WHERE removed_at IS NULL AND expires_at IS NOT NULL;
