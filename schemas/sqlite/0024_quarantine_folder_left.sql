-- fbl store, version 24: a message a mailbox's quarantine_folder holds leaves that folder
-- once fbl released it (`fbl quarantine retry`, or another delivery of its report stored).
-- Before, it stayed there, and the postmaster looking at the folder saw reports that were
-- in fact processed.
--
-- left_folder_at is set when the poll of the mailbox the message came from took it out of
-- the quarantine folder (as `after` says), or found it no longer there. The released rows
-- not yet set are indexed by origin (`imap:NAME/...`), so that a poll finds its mailbox's
-- in a few pages, and nearly always finds none. Rows released before this version are
-- looked for once, at the next poll of their mailbox.

ALTER TABLE quarantine ADD COLUMN left_folder_at TEXT;
CREATE INDEX quarantine_released_in_folder ON quarantine (origin)
    WHERE released_at IS NOT NULL AND left_folder_at IS NULL;
