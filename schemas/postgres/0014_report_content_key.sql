-- fbl store, version 14: a report delivered twice is stored once. Two deliveries of one
-- report (to an alias and the mailbox behind it, from a Maildir and an mbox export of it,
-- through a relay that rewrote line endings) differ in their bytes, so their SHA-256 differ
-- and each was stored and counted: one complaint weighed double in every rate.
--
-- content_key is the SHA-256 of what the message says (src/content_key.rs): its Message-ID,
-- Date, From, To, Subject and Content-Type and its body, line endings made LF; a message
-- without a Message-ID is keyed by all its bytes. A report whose content key is stored
-- already is a duplicate, as one whose bytes are.
--
-- Reports stored before are keyed by fbl when this migration runs (it reads each raw
-- message), in the same transaction; a copy stored before this version keeps no key, and
-- stays counted as it was.

ALTER TABLE reports ADD COLUMN content_key BYTEA;
CREATE UNIQUE INDEX reports_by_content_key ON reports (content_key);
