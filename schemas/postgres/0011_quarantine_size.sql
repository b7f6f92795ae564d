-- fbl store, version 11: quarantine.raw_size is the message's size, also for an oversized
-- message of which only the head is kept (the bytes kept are in raw_packed). Before, it was
-- the size of the head, so `fbl quarantine retry` took the head for the whole message and
-- stored it as a report.
--
-- Rows written before are given their size from the reason they were quarantined with,
-- which named it: "message of N bytes is bigger than limits.max_message_bytes; only its
-- first K bytes are kept". A row whose reason a retry has since replaced cannot be told.

UPDATE quarantine
SET raw_size = CAST(substring(reason FROM '^message of ([0-9]+) bytes is bigger than') AS BIGINT)
WHERE reason LIKE 'message of % bytes is bigger than limits.max_message_bytes; only its first % bytes are kept';
