-- fbl store, version 10: PostgreSQL spelling of schemas/sqlite/0010_history_chain.sql,
-- same number, same meaning. An address's history lines are found through a chain, not an
-- index by address. Each history line holds the id of the address's line before it
-- (`previous_id`), and each suppression the id of its latest line (`last_history_id`).
-- `fbl suppress show` walks the chain back from the suppression.
--
-- suppression_history_by_address (address, at) is dropped: every history line entered it
-- at a random place (the address), so that once the index outgrew the page cache each
-- complaint read and wrote one more 4 KB page of it. History lines are appended by id, and
-- the suppression row that points at the latest is written anyway by the same change
-- (BENCHMARKS.md, run 8).
--
-- Lines written before are chained here, oldest first, with the index still in place.

ALTER TABLE suppression_history ADD COLUMN previous_id BIGINT;
ALTER TABLE suppressions ADD COLUMN last_history_id BIGINT;

UPDATE suppression_history AS later
SET previous_id = (
    SELECT max(h.id) FROM suppression_history h
    WHERE h.address = later.address AND h.id < later.id
);
UPDATE suppressions
SET last_history_id = (
    SELECT max(h.id) FROM suppression_history h WHERE h.address = suppressions.address
);

DROP INDEX IF EXISTS suppression_history_by_address;
