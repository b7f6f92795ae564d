//! Stores made by older fbl builds, opened by this one: copied into PostgreSQL by
//! `fbl store migrate` with their alert state, and stores of development builds whose
//! migration of one number was another one (repaired on open, store/db.rs `REPAIRS`).

use crate::postgres::shared;
use crate::store::{Backend, TestStore};
use crate::support::{copy_tree, fbl, fixtures, run, run_with_stdin, stdout};
use std::path::Path;

/// A copy of the demo in `dir/demo`, without its store or exports.
fn demo_in(dir: &Path) {
    let demo = dir.join("demo");
    copy_tree(&fixtures().join("demo"), &demo);
    crate::support::empty_demo_exports(&demo);
    let _ = std::fs::remove_file(demo.join("fbl.sqlite"));
}

/// The migration files of SQLite, in order.
fn sqlite_migrations() -> Vec<(String, String)> {
    let folder = crate::support::root().join("schemas/sqlite");
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let sql = std::fs::read_to_string(folder.join(&name)).unwrap();
            (name, sql)
        })
        .collect()
}

/// Makes a SQLite store at `path` as a build of fbl left it at schema `version`: the
/// migrations before `version` as they are now, then `last` (the SQL that build had as
/// migration `version`) in place of today's, then `rows`.
pub(crate) fn sqlite_store_at(path: &Path, version: usize, last: Option<&str>, rows: &str) {
    let migrations = sqlite_migrations();
    let connection = rusqlite::Connection::open(path).unwrap();
    for (_, sql) in migrations.iter().take(version - 1) {
        connection.execute_batch(sql).unwrap();
    }
    connection
        .execute_batch(last.unwrap_or(&migrations[version - 1].1))
        .unwrap();
    connection
        .pragma_update(None, "user_version", version as i64)
        .unwrap();
    connection.execute_batch(rows).unwrap();
}

fn sqlite_value(path: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// A SQLite store copied into PostgreSQL behaves as the original: the first run on the copy
/// raises no alert the original would not raise again (the alert step's `alerted_id`), and
/// does not tell again of messages an MTA quarantined that a run told of already
/// (`quarantine_told`). The store is as one upgraded from before migration 0027: its runs
/// raised no alert for July's complaints (their rule then looked at the last days only),
/// and 0027 marked them seen.
#[test]
fn a_store_migrated_to_postgresql_keeps_its_alert_state() {
    let source = TestStore::new(Backend::Sqlite);
    let dir = source.dir.path();
    demo_in(dir);
    let db = source.db_arg();
    let output = run_with_stdin(
        fbl(dir).args(["--db", &db, "ingest", "--mta", "-"]),
        &std::fs::read(dir.join("demo/Maildir/new/1764000023.M23P100.demo")).unwrap(),
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("1 quarantined"));
    let first = run(fbl(dir).args(["--db", &db, "run", "--config", "demo/fbl.toml"]));
    assert!(
        stdout(&first).contains("quarantined since the last run, from standard input"),
        "{}",
        stdout(&first)
    );
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute_batch("DELETE FROM report_alerts")
        .unwrap();
    let alerted = sqlite_value(
        Path::new(&db),
        "SELECT value FROM report_progress WHERE name = 'alerted_id'",
    );
    assert!(alerted > 0);
    let told = |output: &std::process::Output| {
        let text = format!(
            "{}{}",
            stdout(output),
            String::from_utf8_lossy(&output.stderr)
        );
        text.contains("alert: ") || text.contains("quarantined since the last run")
    };
    // The original, run again: nothing to tell.
    let again = run(fbl(dir).env("FBL_NOW", "2026-11-21T08:00:00Z").args([
        "--db",
        &db,
        "run",
        "--config",
        "demo/fbl.toml",
    ]));
    assert!(!told(&again), "{}", stdout(&again));

    let target = TestStore::new(Backend::Postgres);
    let url = target.db_arg();
    let pgpass = target.dir.path().join("pgpass");
    let output = run(fbl(dir)
        .env("PGPASSFILE", &pgpass)
        .args(["store", "migrate", "--from", &db, "--to", &url]));
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).contains("report_progress"),
        "{}",
        stdout(&output)
    );
    let on_postgres = |name: &str| -> i64 {
        shared().psql_in(
            &target.database(),
            &format!("SELECT coalesce(max(value), -1) FROM report_progress WHERE name = '{name}'"),
        )[0]
        .parse()
        .unwrap()
    };
    assert_eq!(on_postgres("alerted_id"), alerted);
    assert!(on_postgres("quarantine_told") > 0);
    // The summaries' progress is not copied: the target counts its own send log.
    assert_eq!(on_postgres("send_log_rowid"), -1);
    // A second copy changes nothing.
    let output = run(fbl(dir)
        .env("PGPASSFILE", &pgpass)
        .args(["store", "migrate", "--from", &db, "--to", &url, "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let tables: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let progress = tables
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == "report_progress")
        .unwrap();
    assert_eq!(progress["copied"], 0, "{progress}");
    let output = run(fbl(dir)
        .env("PGPASSFILE", &pgpass)
        .env("FBL_NOW", "2026-11-21T08:00:00Z")
        .args(["--db", &url, "run", "--config", "demo/fbl.toml"]));
    assert!(!told(&output), "{}", stdout(&output));
    assert_eq!(output.status.code(), again.status.code());
}

/// Migration 0016 as builds 150a4c8 to ff25135 had it: no tail or file identity.
const OLD_0016: &str = "CREATE TABLE send_log_positions (
    host         TEXT    NOT NULL,
    path         TEXT    NOT NULL,
    format       TEXT    NOT NULL,
    byte_offset  INTEGER NOT NULL,
    lines        INTEGER NOT NULL,
    head_sha256  TEXT    NOT NULL,
    head_bytes   INTEGER NOT NULL,
    read_at      TEXT    NOT NULL,
    PRIMARY KEY (host, path)
) WITHOUT ROWID;";

/// Stores of development builds at version 16 (0016 without the columns it gained in place)
/// and 21 (another migration 0021, so never `0021_fact_send`): fbl adds what they lack when it
/// opens them, says so once, and runs as on any store.
#[test]
fn a_development_build_store_missing_a_migrations_columns_is_repaired() {
    for (version, last, rows) in [
        (
            16,
            Some(OLD_0016),
            "INSERT INTO send_log_positions VALUES
                ('old-host', '/var/log/sends.csv', 'csv', 10, 1, 'x', 10, '2026-01-01T00:00:00Z');",
        ),
        // The 0021 of builds 87f42c3 to 5217a24 changed no schema (today's 0022).
        (21, Some("SELECT 1;"), ""),
    ] {
        let test = TestStore::new(Backend::Sqlite);
        let dir = test.dir.path();
        demo_in(dir);
        sqlite_store_at(&dir.join("fbl.sqlite"), version, last, rows);
        let output = test
            .fbl()
            .args(["run", "--config", "demo/fbl.toml"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(output.status.code(), Some(1), "{version}: {stderr}");
        let lacked = if version == 16 {
            "send_log_positions.tail_sha256, send_log_positions.tail_bytes, send_log_positions.file_id"
        } else {
            "complaint_facts.send_rowid"
        };
        assert!(
            stderr.contains(&format!("fbl: the store lacked {lacked} (")),
            "{version}: {stderr}"
        );
        // Said once: the store has them now, and a second run reads the send log from where
        // the first stopped.
        let output = run(test.fbl().args(["run", "--config", "demo/fbl.toml"]));
        assert_eq!(output.status.code(), Some(0), "{version}");
        assert!(!String::from_utf8_lossy(&output.stderr).contains("lacked"));
        let path = dir.join("fbl.sqlite");
        assert!(sqlite_value(&path, "SELECT count(*) FROM complaint_facts") > 0);
        assert_eq!(
            sqlite_value(
                &path,
                "SELECT count(*) FROM sqlite_master WHERE name = 'complaint_facts_by_send'"
            ),
            1
        );
    }
}

/// The same on PostgreSQL: a store without the columns (dropped here from a store at the
/// current version, as the two builds' stores lack them) has them back when fbl opens it,
/// and runs.
#[test]
fn a_development_build_store_on_postgresql_is_repaired_too() {
    let test = TestStore::new(Backend::Postgres);
    demo_in(test.dir.path());
    let output = run(test.fbl().args(["store", "info"]));
    assert_eq!(output.status.code(), Some(0));
    shared().psql_in(
        &test.database(),
        "DROP INDEX complaint_facts_by_send;
         ALTER TABLE complaint_facts DROP COLUMN send_rowid;
         ALTER TABLE send_log_positions DROP COLUMN tail_sha256, DROP COLUMN tail_bytes,
             DROP COLUMN file_id;",
    );
    let output = run(test.fbl().args(["run", "--config", "demo/fbl.toml"]));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        stderr.contains(
            "fbl: the store lacked send_log_positions.tail_sha256, send_log_positions.tail_bytes, \
             send_log_positions.file_id, complaint_facts.send_rowid ("
        ),
        "{stderr}"
    );
    let output = run(test.fbl().args(["run", "--config", "demo/fbl.toml"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stderr.is_empty());
    let indexes = shared().psql_in(
        &test.database(),
        "SELECT count(*) FROM pg_indexes WHERE indexname = 'complaint_facts_by_send'",
    );
    assert_eq!(indexes[0], "1");
}
