-- fbl store, version 7: three indexes that no query of fbl reads are dropped. Every report
-- wrote an entry to each; two of them (by Message-ID, by complainant address) had random
-- keys, so at a million reports each insert read and rewrote a leaf page of both, a good
-- part of what made ingesting slower as the store grew (BENCHMARKS.md).
--   reports_by_day: every query by reported_day also names the kind and is served by
--     reports_complaints_by_day (kind, reported_day, ...), from version 4.
--   reports_by_message_id: attribution looks Message-IDs up in the send log, not in reports.
--   complainants_by_address: complainants are read by report (their UNIQUE index starts
--     with report_id); the suppression list and its evidence answer "who complained".
-- A future query that needs one of them brings it back in a migration of its own.

DROP INDEX IF EXISTS reports_by_day;
DROP INDEX IF EXISTS reports_by_message_id;
DROP INDEX IF EXISTS complainants_by_address;
