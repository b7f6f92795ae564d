-- fbl store, version 21: each complaint fact keeps the send-log row that placed it
-- (`send_rowid`), so that when a later import gives that row a campaign, list or id (the
-- same send seen first in a Postfix log, then in the mailer's CSV: `Batch::add_send_log`)
-- the facts it placed are counted again under it, found through this index instead of a
-- search of every report by Message-ID.
--
-- Facts placed before this version by a row without a campaign or list may have been
-- merged since: they are counted again once, by the next report.

ALTER TABLE complaint_facts ADD COLUMN send_rowid INTEGER;
CREATE INDEX complaint_facts_by_send ON complaint_facts (send_rowid)
    WHERE send_rowid IS NOT NULL;
UPDATE complaint_facts SET placed = -1
WHERE placed = 1 AND (campaign IS NULL OR list IS NULL);
