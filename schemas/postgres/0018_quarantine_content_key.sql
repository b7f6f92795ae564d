-- fbl store, version 18: a quarantined delivery of a report leaves the quarantine when
-- another delivery of the same report is stored. A complaint that came once through a path
-- [trust] does not accept and once through one it does was stored and acted on, but its
-- untrusted copy stayed in quarantine, waiting for a person (exit 1, a line in
-- `fbl quarantine list`): only a copy with the same bytes released it.
--
-- content_key is the quarantined message's content key (src/content_key.rs, as in
-- reports since version 14). Open rows quarantined before are keyed by fbl when this
-- migration runs (it reads each kept message), in the same transaction; the head of an
-- oversized message keeps no key, as does a row released already.

ALTER TABLE quarantine ADD COLUMN content_key BYTEA;
CREATE INDEX quarantine_open_by_content_key ON quarantine (content_key) WHERE released_at IS NULL;
