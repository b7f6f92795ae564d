-- fbl store, version 15: a message queued before a Postfix log was rotated and delivered
-- after it has its message-id= in one file and its delivery in the next. The queue ids still
-- open (no `removed` line) at the end of an imported Postfix log are kept here, with the
-- Message-ID cleanup logged and the time of the last line that named them, and given to the
-- import of the next log. A queue id is forgotten once `removed`, and when not seen for
-- longer than Postfix keeps a message queued (5 days), as Postfix reuses short queue ids.
-- Queue ids are per host: `host` is the syslog host name of the lines.

CREATE TABLE postfix_open_queue_ids (
    host        TEXT    NOT NULL,
    queue_id    TEXT    NOT NULL,
    message_id  TEXT    NOT NULL,
    last_seen   TEXT    NOT NULL,
    PRIMARY KEY (host, queue_id)
) WITHOUT ROWID;
