-- fbl store, version 5: a read-only view of the suppression list as it stands now, for
-- list managers that read the database rather than an export. One row per address on the
-- list (not removed, not expired); `count` is how many times it was reported or added.
-- Grant it alone to a list manager's role: GRANT SELECT ON fbl_suppressions TO listmgr;

CREATE VIEW fbl_suppressions AS
SELECT address, reason, source, first_seen, last_seen, count, expires_at, updated_at
FROM suppressions
WHERE removed_at IS NULL
  AND (expires_at IS NULL
       OR expires_at > to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
