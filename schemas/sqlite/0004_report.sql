-- fbl store, version 4: complaint-rate reports, Outlook.com blocks and alerts.

-- `fbl report` counts complaints per day, source IP and reporter (and whether they were
-- attributed) from this index alone, without reading a row.
CREATE INDEX reports_complaints_by_day ON reports (kind, reported_day, source_ip, reporter, attributed);

-- How fast complainants were suppressed (the delisting packet).
CREATE INDEX suppression_history_by_report ON suppression_history (report_id) WHERE report_id IS NOT NULL;

-- Outlook.com rejections (5xx, class block) and deferrals (4xx, class throttle) with a known
-- code, one per bounce or send-log line and recipient. Finding the same again changes nothing.
CREATE TABLE block_events (
    id          INTEGER PRIMARY KEY,
    ip          TEXT    NOT NULL,             -- the sending IP; '' when it could not be found
    code        TEXT    NOT NULL,             -- SC-001, S3140, 5.7.515, RP-001, 4.7.650 ...
    class       TEXT    NOT NULL,             -- block or throttle
    reply       INTEGER,                      -- the SMTP reply code, 550, 421 ...
    status      TEXT,                         -- the enhanced status code, 5.7.1 ...
    text        TEXT    NOT NULL,             -- the reply text, unfolded
    recipient   TEXT    NOT NULL DEFAULT '',
    seen_at     TEXT    NOT NULL,             -- when Microsoft answered so (else when found)
    day         TEXT    NOT NULL,             -- YYYY-MM-DD of seen_at
    source      TEXT    NOT NULL,             -- bounce or send_log
    report_id   INTEGER REFERENCES reports (id) ON DELETE CASCADE,  -- the bounce, if any
    found_at    TEXT    NOT NULL,
    UNIQUE (source, ip, code, recipient, seen_at)
);
CREATE INDEX block_events_by_ip ON block_events (ip, seen_at);
CREATE INDEX block_events_by_day ON block_events (day);

-- How far the block scan has read: the highest bounce report id looked at.
CREATE TABLE block_scan_state (
    name            TEXT    PRIMARY KEY,
    last_report_id  INTEGER NOT NULL
) WITHOUT ROWID;

-- Alerts raised by `fbl run`, each once: (kind, subject, event) is the event's identity,
-- e.g. (complaint_rate_critical, ip 192.0.2.10, 2026-11-19).
CREATE TABLE report_alerts (
    kind        TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    event       TEXT    NOT NULL,
    message     TEXT    NOT NULL,
    raised_at   TEXT    NOT NULL,
    PRIMARY KEY (kind, subject, event)
) WITHOUT ROWID;

-- What `fbl report` needs of each complaint beyond the reports table, kept so that a report
-- joins nothing: the campaign and list of the message complained about (send log, by
-- Message-ID or the complainant's id), the complainant's domain, and for an unattributed
-- complaint its attribution notes. Filled by the report step for new complaints; `placed`
-- 0 rows are looked up again when the send log grows, -1 rows (attributed again) are redone.
CREATE TABLE complaint_facts (
    report_id       INTEGER PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
    reported_day    TEXT    NOT NULL,
    campaign        TEXT,
    list            TEXT,
    domain          TEXT,                         -- of the complainant address, if any
    notes           TEXT,                         -- JSON array, unattributed complaints only
    placed          INTEGER NOT NULL              -- 1 found in the send log, 0 not, -1 redo
);
CREATE INDEX complaint_facts_to_redo ON complaint_facts (placed) WHERE placed <= 0;
CREATE INDEX complaint_facts_unattributed ON complaint_facts (reported_day, notes)
    WHERE notes IS NOT NULL;

-- Complaints per reported day and campaign-and-list (kind campaign, key campaign U+001F list)
-- or complainant domain (kind domain), added up from complaint_facts as its rows come and go.
CREATE TABLE complaint_day_counts (
    kind        TEXT    NOT NULL,
    day         TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    complaints  INTEGER NOT NULL,
    PRIMARY KEY (kind, day, key)
) WITHOUT ROWID;

-- Messages in the send log per day and source IP (kind ip), per day and recipient domain
-- (kind domain), and per campaign and list (kind campaign, day ''; key campaign U+001F list),
-- added up from the send-log rows imported since the last report step, rebuilt whole when
-- rows were pruned (pruning sets report_progress send_log_pruned).
CREATE TABLE send_log_volume (
    kind        TEXT    NOT NULL,
    day         TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    messages    INTEGER NOT NULL,
    PRIMARY KEY (kind, day, key)
) WITHOUT ROWID;

-- Progress of the two summaries above: the highest send-log rowid and complaint id folded
-- in, and how many send-log rows there were then.
CREATE TABLE report_progress (
    name        TEXT    PRIMARY KEY,
    value       INTEGER NOT NULL
) WITHOUT ROWID;
