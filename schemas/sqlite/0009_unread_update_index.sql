-- fbl store, version 9: suppressions_by_update is dropped; no query of fbl reads it.
-- Exports of the changes since a time walk the suppression list by address (its primary key)
-- and test updated_at on each row (EXPLAIN QUERY PLAN, both engines' queries being one).
-- Every added or changed suppression wrote an entry to it, and within one run every entry
-- has the same updated_at, so they went in address order: one more B-tree written at a
-- random place per complaint, as the list grows (BENCHMARKS.md, run 7).
-- A future query that needs it brings it back in a migration of its own.

DROP INDEX IF EXISTS suppressions_by_update;
