//! The store's part of tidying a local source after `fbl run`: whether a message file's bytes
//! are kept, and whether they were stored by an earlier run (a file read again).

use super::Store;
use super::db::{Db, params};
use anyhow::Result;

impl Store {
    /// Whether the store keeps the message whose raw bytes hash to `sha256` (content key
    /// `content_key`): a stored report of these bytes or of another delivery of the same
    /// report, or these bytes in quarantine. A caller must not ask this of the head of an
    /// oversized message, whose quarantined bytes are only that head.
    pub fn keeps_message(&self, sha256: &[u8; 32], content_key: &[u8; 32]) -> Result<bool> {
        let found: Option<i64> = self.db.query_opt(
            "SELECT 1 FROM reports WHERE sha256 = ?1 OR content_key = ?2
             UNION ALL SELECT 1 FROM quarantine WHERE sha256 = ?1
             LIMIT 1",
            params![&sha256[..], &content_key[..]],
            |r| r.get(0),
        )?;
        Ok(found.is_some())
    }

    /// The id of the newest stored report (0 for none): reports stored later have higher ids.
    pub fn last_report_id(&self) -> Result<i64> {
        self.db
            .value("SELECT coalesce(max(id), 0) FROM reports", params![])
    }

    /// Makes every commit durable before something outside the store is removed on the
    /// strength of it: SQLite in WAL mode with `synchronous = NORMAL` syncs at a checkpoint,
    /// so one is run in full (waiting for readers up to the busy timeout). `false` when it
    /// could not complete. PostgreSQL's commits are durable already.
    pub fn make_durable(&self) -> Result<bool> {
        match &self.db {
            Db::Sqlite(conn) => {
                let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(FULL)", [], |r| r.get(0))?;
                Ok(busy == 0)
            }
            _ => Ok(true),
        }
    }

    /// Syncs every commit from now on (SQLite `synchronous = FULL`: the write-ahead log is
    /// synced at each commit), for a run that deletes or moves mail on the strength of its
    /// commits. PostgreSQL's commits are durable already.
    pub fn sync_each_commit(&self) -> Result<()> {
        if let Db::Sqlite(conn) = &self.db {
            conn.pragma_update(None, "synchronous", "FULL")?;
        }
        Ok(())
    }

    /// SQLite's `synchronous` setting (0 off, 1 normal, 2 full, 3 extra); 2 on PostgreSQL.
    pub fn synchronous(&self) -> Result<i64> {
        match &self.db {
            Db::Sqlite(conn) => Ok(conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?),
            _ => Ok(2),
        }
    }
}
