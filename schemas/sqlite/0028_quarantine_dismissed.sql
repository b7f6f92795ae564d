-- fbl store, version 28: a person may close a quarantined message that needs nothing done
-- (`fbl quarantine dismiss ID --reason TEXT`: mail that is no report, a test, spam sent to the
-- feedback address). Before, such a message stayed in `fbl quarantine list` for good, and
-- `fbl quarantine retry` exited 1 at every try.
--
-- dismissed is the person's reason; released_at is set with it (no report_id: nothing was
-- stored), so the message leaves the open quarantine and an IMAP quarantine folder as a
-- released one does. Its bytes stay.

ALTER TABLE quarantine ADD COLUMN dismissed TEXT;
