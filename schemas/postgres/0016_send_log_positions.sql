-- fbl store, version 16: `fbl run` reads each configured send log from where the run before
-- stopped, instead of the whole file every time. Per host (the machine's name: several
-- hosts may share a PostgreSQL store, each with its own /var/log/mail.log) and path (as
-- configured, made absolute):
--
-- - byte_offset: the byte offset just past the last whole line read;
-- - lines: how many lines lie before it, so that a bad line is named by its line in the file;
-- - head_sha256, head_bytes: the SHA-256 of the file's first head_bytes bytes (at most
--   4 KiB, never past byte_offset): a file whose beginning differs was replaced or rotated,
--   and is read from its start;
-- - tail_sha256, tail_bytes: the SHA-256 of the tail_bytes bytes just before byte_offset (at
--   most 4 KiB): a file rewritten in place (truncated and grown again past the offset, as
--   logrotate's copytruncate and a busy writer can make it) is read from its start, even when
--   its beginning is the same (a CSV header alone);
-- - file_id: the file's device and inode (`DEV:INO`): a log at the path that is another file
--   was rotated or replaced, and the rest of the file read before is looked for at PATH.1 by
--   it (a log that was empty, or a header alone, when last read begins as any other);
-- - format: the format it was read in; another format reads it from the start;
-- - read_at: when it was read.
--
-- The row is written in the transaction that commits the last entries it covers.

CREATE TABLE send_log_positions (
    host         TEXT COLLATE "C"    NOT NULL,
    path         TEXT COLLATE "C"    NOT NULL,
    format       TEXT COLLATE "C"    NOT NULL,
    byte_offset  BIGINT  NOT NULL,
    lines        BIGINT  NOT NULL,
    head_sha256  TEXT COLLATE "C"    NOT NULL,
    head_bytes   BIGINT  NOT NULL,
    tail_sha256  TEXT COLLATE "C"    NOT NULL,
    tail_bytes   BIGINT  NOT NULL,
    file_id      TEXT COLLATE "C"    NOT NULL,
    read_at      TEXT COLLATE "C"    NOT NULL,
    PRIMARY KEY (host, path)
);
