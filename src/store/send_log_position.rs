//! The store's part of reading send logs from where `fbl run` left off: one position per
//! host and path (see `schemas/sqlite/0016_send_log_positions.sql`).

use super::db::{Row, params};
use super::{Batch, Store};
use anyhow::Result;

/// How far `fbl run` has read one send log.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SendLogPosition {
    /// The machine's name: several hosts may share a PostgreSQL store, each with its logs.
    pub host: String,
    /// The log's path as configured, made absolute.
    pub path: String,
    /// `csv`, `jsonl` or `postfix`: the format it was read in.
    pub format: String,
    /// Just past the last whole line read.
    pub byte_offset: u64,
    /// Lines before `byte_offset`.
    pub lines: u64,
    /// SHA-256 (hex) of the file's first `head_bytes` bytes.
    pub head_sha256: String,
    pub head_bytes: u64,
    /// SHA-256 (hex) of the `tail_bytes` bytes just before `byte_offset`.
    pub tail_sha256: String,
    pub tail_bytes: u64,
    /// The file's device and inode, `DEV:INO`.
    pub file_id: String,
    pub read_at: String,
}

const COLUMNS: &str = "host, path, format, byte_offset, lines, head_sha256, head_bytes, \
                       tail_sha256, tail_bytes, file_id, read_at";

fn from_row(r: &Row) -> Result<SendLogPosition> {
    Ok(SendLogPosition {
        host: r.get(0)?,
        path: r.get(1)?,
        format: r.get(2)?,
        byte_offset: r.get(3)?,
        lines: r.get(4)?,
        head_sha256: r.get(5)?,
        head_bytes: r.get(6)?,
        tail_sha256: r.get(7)?,
        tail_bytes: r.get(8)?,
        file_id: r.get(9)?,
        read_at: r.get(10)?,
    })
}

impl Store {
    /// Where `fbl run` on `host` stopped reading the send log at `path`, if it read it.
    pub fn send_log_position(&self, host: &str, path: &str) -> Result<Option<SendLogPosition>> {
        self.db.query_opt(
            &format!("SELECT {COLUMNS} FROM send_log_positions WHERE host = ?1 AND path = ?2"),
            params![host, path],
            from_row,
        )
    }

    /// Every position kept, by host and path.
    pub fn send_log_positions(&self) -> Result<Vec<SendLogPosition>> {
        self.db.query(
            &format!("SELECT {COLUMNS} FROM send_log_positions ORDER BY host, path"),
            params![],
            from_row,
        )
    }
}

impl Batch<'_> {
    /// Records how far a send log was read, replacing what was kept for its host and path.
    pub fn set_send_log_position(&mut self, position: &SendLogPosition) -> Result<()> {
        self.tx.execute(
            &format!(
                "INSERT INTO send_log_positions ({COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (host, path) DO UPDATE SET format = excluded.format,
                    byte_offset = excluded.byte_offset, lines = excluded.lines,
                    head_sha256 = excluded.head_sha256, head_bytes = excluded.head_bytes,
                    tail_sha256 = excluded.tail_sha256, tail_bytes = excluded.tail_bytes,
                    file_id = excluded.file_id, read_at = excluded.read_at"
            ),
            params![
                position.host,
                position.path,
                position.format,
                position.byte_offset,
                position.lines,
                position.head_sha256,
                position.head_bytes,
                position.tail_sha256,
                position.tail_bytes,
                position.file_id,
                position.read_at
            ],
        )?;
        Ok(())
    }

    /// Forgets the positions of `host`: of `path` alone, or all of them. Returns the
    /// positions forgotten.
    pub fn forget_send_log_positions(
        &mut self,
        host: &str,
        path: Option<&str>,
    ) -> Result<Vec<SendLogPosition>> {
        let forgotten = match path {
            Some(path) => self.tx.query(
                &format!("SELECT {COLUMNS} FROM send_log_positions WHERE host = ?1 AND path = ?2"),
                params![host, path],
                from_row,
            )?,
            None => self.tx.query(
                &format!("SELECT {COLUMNS} FROM send_log_positions WHERE host = ?1 ORDER BY path"),
                params![host],
                from_row,
            )?,
        };
        for position in &forgotten {
            self.tx.execute(
                "DELETE FROM send_log_positions WHERE host = ?1 AND path = ?2",
                params![position.host, position.path],
            )?;
        }
        Ok(forgotten)
    }
}
