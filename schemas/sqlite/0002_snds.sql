-- fbl store, version 2: Microsoft SNDS. Data rows per account, IP and activity window; the
-- days asked for; ipStatus as periods over time; alerts raised (each once); per-account
-- state and the new API's refresh token when it is kept here. Times are RFC 3339 UTC text,
-- days are YYYY-MM-DD.

-- One row of data.aspx (or the API's data report). Fetching a day again updates its rows.
CREATE TABLE snds_data (
    account             TEXT    NOT NULL,     -- the [[snds.legacy]] or [snds.api] name
    ip                  TEXT    NOT NULL,
    activity_start_raw  TEXT    NOT NULL,     -- as SNDS wrote it: the window's identity
    activity_end_raw    TEXT    NOT NULL,
    day                 TEXT    NOT NULL,     -- the SNDS day: the date the window starts on
    activity_start      TEXT,                 -- UTC, read in snds.timezone; NULL if unreadable
    activity_end        TEXT,
    rcpt_commands       INTEGER NOT NULL,
    data_commands       INTEGER NOT NULL,
    message_recipients  INTEGER NOT NULL,
    filter_result       TEXT    NOT NULL,     -- green, yellow, red, unknown
    filter_result_raw   TEXT    NOT NULL,
    complaint_rate      TEXT    NOT NULL,     -- below_point_one, percent, unknown
    complaint_percent   REAL,                 -- the percentage when complaint_rate = percent
    complaint_rate_raw  TEXT    NOT NULL,
    trap_period_start_raw TEXT  NOT NULL,
    trap_period_end_raw TEXT    NOT NULL,
    trap_period_start   TEXT,
    trap_period_end     TEXT,
    trap_hits           INTEGER NOT NULL,
    sample_helo         TEXT,
    jmr_p1_sender       TEXT,
    comments            TEXT,
    first_fetched_at    TEXT    NOT NULL,
    fetched_at          TEXT    NOT NULL,     -- the last fetch that returned the row
    PRIMARY KEY (account, ip, activity_start_raw)
) WITHOUT ROWID;
CREATE INDEX snds_data_by_day ON snds_data (day, ip);
CREATE INDEX snds_data_by_ip ON snds_data (account, ip, day);

-- The days asked for by date, so that a fetch can skip them. rows = 0 is a day SNDS had no
-- data for when asked; it is asked again while it may still come.
CREATE TABLE snds_days (
    account     TEXT    NOT NULL,
    day         TEXT    NOT NULL,
    rows        INTEGER NOT NULL,
    fetched_at  TEXT    NOT NULL,
    PRIMARY KEY (account, day)
) WITHOUT ROWID;

-- ipStatus as periods: a range with a blocked value, from the first snapshot that listed it
-- to the first that did not (ended_at). "When was it blocked" is first_seen_at.
CREATE TABLE snds_ip_status (
    id              INTEGER PRIMARY KEY,
    account         TEXT    NOT NULL,
    first_ip        TEXT    NOT NULL,
    last_ip         TEXT    NOT NULL,
    blocked         INTEGER NOT NULL,
    blocked_raw     TEXT    NOT NULL,
    details         TEXT    NOT NULL,         -- the latest snapshot's
    first_seen_at   TEXT    NOT NULL,
    last_seen_at    TEXT    NOT NULL,
    ended_at        TEXT                      -- NULL while the latest snapshot lists it
);
CREATE UNIQUE INDEX snds_ip_status_open ON snds_ip_status (account, first_ip, last_ip, blocked)
    WHERE ended_at IS NULL;

-- Alerts raised. The key makes each event raise once: (kind, ip, event) where event is the
-- day for data alerts and the ipStatus period for blocked and unblocked.
CREATE TABLE snds_alerts (
    id          INTEGER PRIMARY KEY,
    account     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,             -- turned_yellow, turned_red, trap_hits, blocked, unblocked
    ip          TEXT    NOT NULL,             -- an IP, or a range first-last
    event       TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    raised_at   TEXT    NOT NULL,
    UNIQUE (account, kind, ip, event)
);

CREATE TABLE snds_accounts (
    account             TEXT    PRIMARY KEY,
    last_data_fetch_at  TEXT,
    last_ip_status_at   TEXT,
    refresh_token       TEXT,                 -- the new API's, when no token_file is configured
    refresh_token_saved_at TEXT
) WITHOUT ROWID;
