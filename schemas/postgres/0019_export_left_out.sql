-- fbl store, version 19: what an export left out the last time it was written, so that
-- `fbl run` says an address its export leaves out in the run that first leaves it out, and
-- not at every cron run after it, also when the address was on the list before (the format
-- of the output changed; an upgrade changed what a format can hold).
--
-- format: the format the output was last written in; left_out: how many suppressed
-- addresses it left out. NULL for outputs written before this version: their next export
-- says every address it leaves out, once.

ALTER TABLE export_state ADD COLUMN format TEXT COLLATE "C";
ALTER TABLE export_state ADD COLUMN left_out BIGINT;
