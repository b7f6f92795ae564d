-- fbl store, version 1: reports, complainants, quarantine, suppressions and their history,
-- the send log. Times are RFC 3339 UTC text, which sorts as it reads.

CREATE TABLE reports (
    id              INTEGER PRIMARY KEY,
    sha256          BLOB    NOT NULL UNIQUE,      -- of the raw message: the same report is stored once
    ingested_at     TEXT    NOT NULL,
    origin          TEXT    NOT NULL,             -- file path, source name or mailbox/folder/UID
    kind            TEXT    NOT NULL,
    format          TEXT    NOT NULL,
    reporter        TEXT    NOT NULL,
    feedback_type   TEXT,
    source_ip       TEXT,
    arrival_date    TEXT,
    reported_at     TEXT    NOT NULL,             -- the report's own Date, else ingested_at
    reported_day    TEXT    NOT NULL,             -- YYYY-MM-DD of reported_at: the day complaints count on
    message_id      TEXT,
    original_mail_from TEXT,
    subject         TEXT,
    redacted        INTEGER NOT NULL,
    attributed      INTEGER NOT NULL,             -- 1 when a complainant address was found
    report_json     TEXT    NOT NULL,             -- the parse result, as `fbl parse` prints it
    raw_deflate     BLOB    NOT NULL,             -- the raw message, deflate-compressed
    raw_size        INTEGER NOT NULL
);
CREATE INDEX reports_by_day ON reports (reported_day, kind);
CREATE INDEX reports_by_message_id ON reports (message_id);
CREATE INDEX reports_unattributed ON reports (attributed, kind);

CREATE TABLE complainants (
    report_id   INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    address     TEXT    NOT NULL DEFAULT '' COLLATE NOCASE,
    id          TEXT    NOT NULL DEFAULT '',
    via         TEXT    NOT NULL,
    UNIQUE (report_id, address, id, via)
);
CREATE INDEX complainants_by_address ON complainants (address);

CREATE TABLE quarantine (
    id              INTEGER PRIMARY KEY,
    sha256          BLOB    NOT NULL UNIQUE,
    quarantined_at  TEXT    NOT NULL,
    origin          TEXT    NOT NULL,
    reason          TEXT    NOT NULL,
    raw_deflate     BLOB    NOT NULL,
    raw_size        INTEGER NOT NULL,
    released_at     TEXT,                         -- set when a retry stored it as a report
    report_id       INTEGER REFERENCES reports (id)
);

CREATE TABLE suppressions (
    address     TEXT    PRIMARY KEY COLLATE NOCASE,
    reason      TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    first_seen  TEXT    NOT NULL,
    last_seen   TEXT    NOT NULL,
    count       INTEGER NOT NULL,
    expires_at  TEXT,
    removed_at  TEXT,                             -- NULL while on the list
    updated_at  TEXT    NOT NULL,                 -- for exports of changes since a time
    change_seq  INTEGER NOT NULL                  -- grows with every change: exports of changes since the last one
) WITHOUT ROWID;
CREATE INDEX suppressions_by_update ON suppressions (updated_at);
CREATE INDEX suppressions_by_change ON suppressions (change_seq);

CREATE TABLE suppression_evidence (
    address     TEXT    NOT NULL COLLATE NOCASE,
    report_id   INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    PRIMARY KEY (address, report_id)
) WITHOUT ROWID;

CREATE TABLE suppression_history (
    id          INTEGER PRIMARY KEY,
    address     TEXT    NOT NULL COLLATE NOCASE,
    at          TEXT    NOT NULL,
    action      TEXT    NOT NULL,                 -- add, update, remove, expire
    reason      TEXT,
    actor       TEXT    NOT NULL,                 -- report, manual, import, expiry
    report_id   INTEGER,
    note        TEXT
);
CREATE INDEX suppression_history_by_address ON suppression_history (address, at);

CREATE TABLE send_log (
    message_id  TEXT    NOT NULL DEFAULT '',
    recipient   TEXT    NOT NULL COLLATE NOCASE,
    id          TEXT    NOT NULL DEFAULT '',
    campaign    TEXT,
    list        TEXT,
    source_ip   TEXT,
    sent_at     TEXT,
    imported_at TEXT    NOT NULL,
    UNIQUE (message_id, recipient, id)
);
CREATE INDEX send_log_by_message_id ON send_log (message_id) WHERE message_id <> '';
CREATE INDEX send_log_by_id ON send_log (id) WHERE id <> '';
CREATE INDEX send_log_by_sent_at ON send_log (sent_at);

CREATE TABLE export_state (
    name            TEXT PRIMARY KEY,             -- the export's output path
    last_exported_at TEXT NOT NULL,
    last_change_seq INTEGER NOT NULL              -- the highest change_seq the last export saw
);
