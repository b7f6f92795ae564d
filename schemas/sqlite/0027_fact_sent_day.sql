-- fbl store, version 27: each complaint fact keeps the day its message was sent
-- (`sent_day`, from the `sent_at` of the send-log row that placed it), and the complaints
-- whose message was sent on another day than they were reported are counted per sent day
-- (`complaint_day_counts` kind `sent`: day the sent day, key the reported day, source IP and
-- reporter, U+001F between them), so that a report rates them against the messages of the
-- day they are about rather than of the day they were reported.
--
-- The facts placed before this version have no sent day: they are redone once, by the
-- next report.

ALTER TABLE complaint_facts ADD COLUMN sent_day TEXT;
UPDATE complaint_facts SET placed = -1 WHERE placed = 1;

-- The alert step now reaches back to the complaints stored since the run before
-- (`report_progress` row `alerted_id`). A store upgraded from before had its complaints
-- through that step's seven-day window already: they count as seen, so that the first run
-- after the upgrade does not raise, for complaints of months ago, alerts no run raised then.
INSERT INTO report_progress (name, value)
    SELECT 'alerted_id', coalesce(max(id), 0) FROM reports WHERE true
    ON CONFLICT (name) DO NOTHING;
