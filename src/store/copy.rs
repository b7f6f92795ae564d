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

/// Rows per transaction in the target.
const CHUNK: usize = 2_000;

/// What the copy found for one table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableCopy {
    pub table: String,
    pub source: u64,
    pub copied: u64,
    pub target: u64,
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

/// Copies every table of `source` (a SQLite store) into `target`. Fails, after copying,
/// when a table of the target does not hold exactly the source's rows.
pub fn copy_store(source: &Store, target: &mut Store) -> Result<Vec<TableCopy>> {
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
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let insert = format!(
            "INSERT INTO {table} ({list}) VALUES ({}) ON CONFLICT DO NOTHING",
            marks.join(", ")
        );
        let order = if table == &"send_log" { "rowid" } else { "1" };
        let mut statement =
            conn.prepare(&format!("SELECT {list} FROM {table} ORDER BY {order}"))?;
        let mut rows = statement.query([])?;
        let (mut source_rows, mut copied) = (0u64, 0u64);
        let mut chunk: Vec<Vec<Owned>> = Vec::with_capacity(CHUNK);
        let flush = |chunk: &mut Vec<Vec<Owned>>, target: &mut Store| -> Result<u64> {
            if chunk.is_empty() {
                return Ok(0);
            }
            let batch = target.begin()?;
            let mut n = 0;
            for row in chunk.iter() {
                let values: Vec<Value> = row.iter().map(Owned::value).collect();
                n += batch
                    .tx
                    .execute(&insert, &values)
                    .with_context(|| format!("cannot copy a row of {table}"))?;
            }
            batch.commit()?;
            chunk.clear();
            Ok(n)
        };
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(columns.len());
            for index in 0..columns.len() {
                use rusqlite::types::ValueRef;
                values.push(match row.get_ref(index)? {
                    ValueRef::Null => Owned::Null,
                    ValueRef::Integer(i) => Owned::Int(i),
                    ValueRef::Real(f) => Owned::Real(f),
                    ValueRef::Text(t) => Owned::Text(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Owned::Blob(b.to_vec()),
                });
            }
            chunk.push(values);
            source_rows += 1;
            if chunk.len() == CHUNK {
                copied += flush(&mut chunk, target)?;
            }
        }
        copied += flush(&mut chunk, target)?;
        let target_rows: i64 = target
            .db
            .value(&format!("SELECT count(*) FROM {table}"), &[])?;
        report.push(TableCopy {
            table: table.to_string(),
            source: source_rows,
            copied,
            target: target_rows as u64,
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
    })
}
