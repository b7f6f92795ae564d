-- fbl store, version 23: messages an IMAP server could not deliver (FETCH failed, or the
-- connection closed on them: an unreadable or corrupt file on the server). The folder's
-- progress moves past them; they are asked for again at every run, and said, until the
-- server delivers them (then they are read as any other) or they are gone.

CREATE TABLE mailbox_unreadable (
    mailbox         TEXT    NOT NULL,
    folder          TEXT    NOT NULL,
    uid_validity    INTEGER NOT NULL,
    uid             INTEGER NOT NULL,
    first_failed_at TEXT    NOT NULL,
    error           TEXT    NOT NULL,             -- what the server said the last time
    PRIMARY KEY (mailbox, folder, uid_validity, uid)
) WITHOUT ROWID;
