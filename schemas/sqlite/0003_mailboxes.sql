-- fbl store, version 3: IMAP progress per mailbox and folder, and the mailbox actions that
-- are due once the reports they concern are committed.

CREATE TABLE mailbox_state (
    mailbox         TEXT    NOT NULL,
    folder          TEXT    NOT NULL,
    uid_validity    INTEGER NOT NULL,
    last_uid        INTEGER NOT NULL,             -- the highest UID whose report is committed
    last_success_at TEXT,                         -- the end of the last complete poll
    PRIMARY KEY (mailbox, folder)
) WITHOUT ROWID;

-- Written in the same transaction as the reports; deleted once the server has done them.
-- A crash in between leaves them here, and the next run does them first.
CREATE TABLE mailbox_pending (
    mailbox         TEXT    NOT NULL,
    folder          TEXT    NOT NULL,
    uid_validity    INTEGER NOT NULL,
    uid             INTEGER NOT NULL,
    action          TEXT    NOT NULL,             -- seen, delete, move:FOLDER
    PRIMARY KEY (mailbox, folder, uid_validity, uid)
) WITHOUT ROWID;
