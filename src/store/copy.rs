//! `fbl store migrate`: copies a SQLite store into another store (a PostgreSQL one),
//! idempotently, and checks that every table arrived whole.
//!
//! Rows keep their ids, so that evidence, history and quarantine still point at the same
//! reports; a row already in the target (same key) is left as it is, so a second run copies
//! nothing and an interrupted one can be run again. The report summaries
//! (`complaint_facts`, `complaint_day_counts`, `send_log_volume`, and their progress in
//! `report_progress`) are not copied: they count send-log rows by SQLite's rowid, and the
//! target rebuilds them on its next report. The other rows of `report_progress` are state
//! and are copied: the highest report id the alert step has seen (without it the first run on
//! the copy raises alerts again for complaints of months ago that no run alerted), how far
//! `fbl run` has told of the quarantine, a reattribution due, reasons whose expiry was given.

use super::db::Value;
use super::{Dialect, Store};
use crate::ingest::Progress;
use anyhow::{Context, Result, bail};

/// The tables copied, parents before children.
const TABLES: [&str; 21] = [
    "reports",
    "complainants",
    "quarantine",
    "suppressions",
    "suppression_evidence",
    "suppression_history",
    "send_log",
    "postfix_open_queue_ids",
    "send_log_positions",
    "export_state",
    "snds_data",
    "snds_days",
    "snds_ip_status",
    "snds_alerts",
    "snds_accounts",
    "mailbox_state",
    "mailbox_pending",
    "mailbox_unreadable",
    "block_events",
    "block_scan_state",
    "report_alerts",
];

/// Tables whose `id` the target numbers itself afterwards (identity columns).
const WITH_ID: [&str; 5] = [
    "reports",
    "quarantine",
    "suppression_history",
    "snds_ip_status",
    "snds_alerts",
];

/// The rows of `report_progress` that are the report summaries' progress (not copied, as
/// the summaries are not): every other row is copied.
const SUMMARY_PROGRESS: &str = "'send_log_rowid', 'send_log_pruned', 'complaint_id', 'source_id'";

/// Rows per statement (one multi-row `INSERT`, its own transaction) in the target at most.
const BATCH_ROWS: usize = 1_000;

/// Parameters per statement at most: well under PostgreSQL's 65,535 and SQLite's 32,766.
const MAX_PARAMS: usize = 30_000;

/// Bytes of text and blobs per statement, past which it is sent before its row count is
/// reached: a thousand raw reports of up to 25 MB each would pass PostgreSQL's 1 GB limit on
/// one message (and hold as much in memory).
const MAX_STATEMENT_BYTES: usize = 64 * 1024 * 1024;

/// What the copy found for one table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableCopy {
    pub table: String,
    pub source: u64,
    pub copied: u64,
    pub target: u64,
    /// The target held every row of the source already (proved by the integer key, see
    /// [`already_complete`]): nothing was read or sent.
    pub skipped: bool,
}

/// A value read from the source, owned.
enum Owned {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Owned {
    fn value(&self) -> Value<'_> {
        match self {
            Owned::Null => Value::Null,
            Owned::Int(i) => Value::Int(*i),
            Owned::Real(f) => Value::Real(*f),
            Owned::Text(t) => Value::Text(t),
            Owned::Blob(b) => Value::Blob(b),
        }
    }
}

/// Copies every table of `source` (a SQLite store) into `target`, in multi-row statements,
/// telling `progress` of each table (rows copied of the source's). A table whose rows are
/// all in the target already is skipped (see [`already_complete`]). Fails, after copying,
/// when a table of the target does not hold exactly the source's rows.
pub fn copy_store(
    source: &Store,
    target: &mut Store,
    progress: &mut dyn Progress,
) -> Result<Vec<TableCopy>> {
    let Some(conn) = source.db.sqlite() else {
        bail!("the store to copy from must be a SQLite file");
    };
    if source.schema_version()? != target.schema_version()? {
        bail!(
            "the two stores are at schema versions {} and {}",
            source.schema_version()?,
            target.schema_version()?
        );
    }
    let mut report = Vec::new();
    for table in &TABLES {
        let columns: Vec<String> = conn
            .prepare(&format!(
                "SELECT name FROM pragma_table_info('{table}') ORDER BY cid"
            ))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let list = columns.join(", ");
        let key = integer_key(conn, table)?;
        let source_count: i64 =
            conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        if let Some(key) = &key
            && already_complete(conn, target, table, key)?
        {
            report.push(TableCopy {
                table: table.to_string(),
                source: source_count as u64,
                copied: 0,
                target: source_count as u64,
                skipped: true,
            });
            continue;
        }
        let per_statement = (MAX_PARAMS / columns.len()).clamp(1, BATCH_ROWS);
        let insert_for = |rows: usize| -> String {
            let mut values = Vec::with_capacity(rows);
            for row in 0..rows {
                let marks: Vec<String> = (1..=columns.len())
                    .map(|i| format!("?{}", row * columns.len() + i))
                    .collect();
                values.push(format!("({})", marks.join(", ")));
            }
            format!(
                "INSERT INTO {table} ({list}) VALUES {} ON CONFLICT DO NOTHING",
                values.join(", ")
            )
        };
        let full_insert = insert_for(per_statement);
        let order = if table == &"send_log" { "rowid" } else { "1" };
        let mut statement =
            conn.prepare(&format!("SELECT {list} FROM {table} ORDER BY {order}"))?;
        let mut rows = statement.query([])?;
        let (mut source_rows, mut copied) = (0u64, 0u64);
        let mut chunk: Vec<Vec<Owned>> = Vec::with_capacity(per_statement);
        let flush = |chunk: &mut Vec<Vec<Owned>>, target: &mut Store| -> Result<u64> {
            if chunk.is_empty() {
                return Ok(0);
            }
            let partial;
            let insert = if chunk.len() == per_statement {
                &full_insert
            } else {
                partial = insert_for(chunk.len());
                &partial
            };
            let values: Vec<Value> = chunk.iter().flatten().map(Owned::value).collect();
            let batch = target.begin()?;
            let n = batch
                .tx
                .execute(insert, &values)
                .with_context(|| format!("cannot copy rows of {table}"))?;
            batch.commit()?;
            chunk.clear();
            Ok(n)
        };
        // An empty table gets no line.
        if source_count > 0 {
            progress.start(&format!("copying {table}"), Some(source_count as u64));
        }
        let mut chunk_bytes = 0usize;
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns.len());
            for index in 0..columns.len() {
                use rusqlite::types::ValueRef;
                values.push(match row.get_ref(index)? {
                    ValueRef::Null => Owned::Null,
                    ValueRef::Integer(i) => Owned::Int(i),
                    ValueRef::Real(f) => Owned::Real(f),
                    ValueRef::Text(t) => {
                        chunk_bytes += t.len();
                        Owned::Text(String::from_utf8_lossy(t).into_owned())
                    }
                    ValueRef::Blob(b) => {
                        chunk_bytes += b.len();
                        Owned::Blob(b.to_vec())
                    }
                });
            }
            chunk.push(values);
            source_rows += 1;
            if chunk.len() == per_statement || chunk_bytes >= MAX_STATEMENT_BYTES {
                copied += flush(&mut chunk, target)?;
                chunk_bytes = 0;
                progress.advance(source_rows);
            }
        }
        copied += flush(&mut chunk, target)?;
        if source_count > 0 {
            progress.advance(source_rows);
            progress.finish();
        }
        let target_rows: i64 = target
            .db
            .value(&format!("SELECT count(*) FROM {table}"), &[])?;
        report.push(TableCopy {
            table: table.to_string(),
            source: source_rows,
            copied,
            target: target_rows as u64,
            skipped: false,
        });
    }
    report.push(copy_progress(conn, target)?);
    if target.dialect() == Dialect::Postgres {
        // Ids given by the copy: the target's own numbering goes on after them.
        for table in WITH_ID {
            target.db.value::<i64>(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'),
                                   coalesce(max(id), 0) + 1, false) FROM {table}"
                ),
                &[],
            )?;
        }
    }
    let wrong: Vec<String> = report
        .iter()
        .filter(|t| t.source != t.target)
        .map(|t| {
            format!(
                "{} ({} in the source, {} in the target)",
                t.table, t.source, t.target
            )
        })
        .collect();
    if !wrong.is_empty() {
        bail!(
            "the copy does not match: {}; the target held other data before (copy into an empty store, or one copied from this same file)",
            wrong.join(", ")
        );
    }
    Ok(report)
}

/// Copies the state rows of `report_progress` (all but `SUMMARY_PROGRESS`). A row the target
/// has already (`alerted_id`, which migration 0027 sets on an empty store) takes the source's
/// value when that is higher: every such row only grows (a report id, a quarantine id, a
/// count of reattributions due, a done mark), so a second copy changes nothing.
fn copy_progress(conn: &rusqlite::Connection, target: &mut Store) -> Result<TableCopy> {
    let rows: Vec<(String, i64)> = conn
        .prepare(&format!(
            "SELECT name, value FROM report_progress WHERE name NOT IN ({SUMMARY_PROGRESS})
             ORDER BY name"
        ))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let batch = target.begin()?;
    let mut copied = 0;
    for (name, value) in &rows {
        copied += batch
            .tx
            .execute(
                "INSERT INTO report_progress (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value
                 WHERE report_progress.value < excluded.value",
                &[Value::Text(name), Value::Int(*value)],
            )
            .context("cannot copy a row of report_progress")?;
    }
    batch.commit()?;
    let target_rows: i64 = target.db.value(
        &format!("SELECT count(*) FROM report_progress WHERE name NOT IN ({SUMMARY_PROGRESS})"),
        &[],
    )?;
    Ok(TableCopy {
        table: "report_progress".to_string(),
        source: rows.len() as u64,
        copied,
        target: target_rows as u64,
        skipped: false,
    })
}

/// The table's primary key when it is one integer column (`id`), else `None`.
fn integer_key(conn: &rusqlite::Connection, table: &str) -> Result<Option<String>> {
    let keys: Vec<(String, String)> = conn
        .prepare(&format!(
            "SELECT name, upper(type) FROM pragma_table_info('{table}') WHERE pk > 0"
        ))?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(match keys.as_slice() {
        [(name, kind)] if kind == "INTEGER" => Some(name.clone()),
        _ => None,
    })
}

/// Whether the target holds a row for every key of the source's `table`, so that copying
/// it would insert nothing (every row would meet `ON CONFLICT DO NOTHING`). Counts alone
/// prove nothing (the target may hold other ids); the proof here is: the source's keys are
/// dense (`max - min + 1 = count`, so they are exactly the integers `min..=max`), and the
/// target's keys (unique, being its primary key) have the same count, minimum and maximum,
/// so they are the same `count` distinct integers in the same range: the same set. A table
/// with gaps in its ids (rows deleted) is copied again, which is still correct, only slower.
fn already_complete(
    conn: &rusqlite::Connection,
    target: &Store,
    table: &str,
    key: &str,
) -> Result<bool> {
    let sql = format!("SELECT count(*), min({key}), max({key}) FROM {table}");
    let (count, min, max): (i64, Option<i64>, Option<i64>) =
        conn.query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(false);
    };
    if max.checked_sub(min).and_then(|d| d.checked_add(1)) != Some(count) {
        return Ok(false);
    }
    let (target_count, target_min, target_max): (i64, Option<i64>, Option<i64>) = target
        .db
        .query_one(&sql, &[], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(target_count == count && target_min == Some(min) && target_max == Some(max))
}
