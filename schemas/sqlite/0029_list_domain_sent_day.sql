-- fbl store, version 29: the complaints per list (`complaint_day_counts` kind `list`: key
-- campaign and list, U+001F between them) and per complainant domain (kind `domain`) are
-- kept per the day each complaint is rated against: the day its message was sent when the
-- send log says (`complaint_facts.sent_day`), else the day it was reported, as the IP and
-- reporter figures are since version 27. Kept per the day reported, complaints about a busy
-- Friday's mail reported after a quiet weekend were rated against Monday's few messages.
--
-- Kind `domain` is counted again from the facts, and kind `list` counted for the first
-- time, here: the facts hold all they need, and the report step takes a fact's counts back
-- by the same day when it redoes the fact. (Facts waiting to be redone are counted as they
-- stand, and taken back so.)

DELETE FROM complaint_day_counts WHERE kind IN ('domain', 'list');
INSERT INTO complaint_day_counts (kind, day, key, complaints)
    SELECT 'domain', coalesce(sent_day, reported_day) AS d, domain AS k, count(*)
    FROM complaint_facts WHERE domain IS NOT NULL GROUP BY d, k;
INSERT INTO complaint_day_counts (kind, day, key, complaints)
    SELECT 'list', coalesce(sent_day, reported_day) AS d,
           coalesce(campaign, '') || char(31) || coalesce(list, '') AS k, count(*)
    FROM complaint_facts WHERE list IS NOT NULL GROUP BY d, k;
