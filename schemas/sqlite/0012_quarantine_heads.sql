-- fbl store, version 12: an index of the open quarantine by message size, so that storing a
-- report can find the head of it an earlier run kept (a message bigger than
-- limits.max_message_bytes then) and release it. Before, that head stayed in quarantine for
-- good once the original was ingested with a larger limit.

CREATE INDEX quarantine_open_by_size ON quarantine (raw_size) WHERE released_at IS NULL;
