-- fbl store, version 13: the send log's messages per campaign and list are counted per day
-- sent (they were one total), so that a list's rate is over the messages sent in the
-- report's window, as its complaints are. The summary is counted again from the send log at
-- the next report.

DELETE FROM send_log_volume;
DELETE FROM report_progress WHERE name = 'send_log_rowid';
