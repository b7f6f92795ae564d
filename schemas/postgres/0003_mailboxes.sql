-- fbl store, version 3: IMAP progress per mailbox and folder, and the mailbox actions that
-- are due once the reports they concern are committed.

CREATE TABLE mailbox_state (
    mailbox         TEXT COLLATE "C"    NOT NULL,
    folder          TEXT COLLATE "C"    NOT NULL,
    uid_validity    BIGINT NOT NULL,
    last_uid        BIGINT NOT NULL,             -- the highest UID whose report is committed
    last_success_at TEXT COLLATE "C",                         -- the end of the last complete poll
    PRIMARY KEY (mailbox, folder)
);

-- Written in the same transaction as the reports; deleted once the server has done them.
-- A crash in between leaves them here, and the next run does them first.
CREATE TABLE mailbox_pending (
    mailbox         TEXT COLLATE "C"    NOT NULL,
    folder          TEXT COLLATE "C"    NOT NULL,
    uid_validity    BIGINT NOT NULL,
    uid             BIGINT NOT NULL,
    action          TEXT COLLATE "C"    NOT NULL,             -- seen, delete, move:FOLDER
    PRIMARY KEY (mailbox, folder, uid_validity, uid)
);
