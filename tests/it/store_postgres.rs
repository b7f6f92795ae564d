//! fbl on a PostgreSQL store, end to end against a real server: the same outputs as on
//! SQLite, `fbl store migrate`, the password and TLS settings, two `fbl run` at once against
//! one Dovecot, and a connection dropped in the middle of a run.

use crate::dovecot::{Dovecot, arf_report};
use crate::postgres::{Postgres, fresh_database, shared};
use crate::store::{Backend, TestStore};
use crate::support::{copy_tree, fbl, fixtures, run, stdout};
use std::path::Path;
use std::process::Stdio;

/// A copy of the demo in `dir/demo`, without its store or exports.
fn demo_in(dir: &Path) {
    let demo = dir.join("demo");
    copy_tree(&fixtures().join("demo"), &demo);
    crate::support::empty_demo_exports(&demo);
    let _ = std::fs::remove_file(demo.join("fbl.sqlite"));
}

fn files_in(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

fn count(test: &TestStore, table: &str) -> i64 {
    shared().psql_in(&test.database(), &format!("SELECT count(*) FROM {table}"))[0]
        .parse()
        .unwrap()
}

/// The demo, run twice on each engine: the same summaries, the same export and report
/// bytes. Every step of `fbl run` (send log, ingest, suppression, exports, SNDS with its
/// alerts, reports) reads and writes the store.
#[test]
fn the_demo_gives_the_same_outputs_on_postgresql_as_on_sqlite() {
    let mut results = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let test = TestStore::new(backend);
        demo_in(test.dir.path());
        let mut summaries = Vec::new();
        // The first run needs attention (a broken report, redacted complaints); the
        // second finds nothing new.
        for expected in [1, 0] {
            let output = run(test
                .fbl()
                .args(["run", "--config", "demo/fbl.toml", "--json"]));
            assert_eq!(output.status.code(), Some(expected), "{backend:?}");
            summaries.push(stdout(&output));
        }
        let report =
            run(test
                .fbl()
                .args(["--config", "demo/fbl.toml", "report", "--format", "json"]));
        let exports = files_in(&test.dir.path().join("demo/exports"));
        results.push((summaries, stdout(&report), exports, test));
    }
    let (sqlite, postgres) = (&results[0], &results[1]);
    assert_eq!(sqlite.0, postgres.0, "run summaries differ");
    assert_eq!(sqlite.1, postgres.1, "reports differ");
    assert!(sqlite.2.len() >= 6);
    for ((name, a), (other, b)) in sqlite.2.iter().zip(&postgres.2) {
        assert_eq!(name, other);
        assert!(
            a == b,
            "export {name} differs between SQLite and PostgreSQL"
        );
    }
    let test = &postgres.3;
    assert_eq!(
        count(test, "fbl_suppressions"),
        count(test, "suppressions WHERE removed_at IS NULL")
    );
}

/// `fbl store migrate` copies a SQLite store whole, a second time copies nothing, and the
/// copy answers every command as the original does.
#[test]
fn store_migrate_copies_a_sqlite_store_idempotently() {
    let source = TestStore::new(Backend::Sqlite);
    demo_in(source.dir.path());
    let db = source.db_arg();
    run(fbl(source.dir.path()).args(["--db", &db, "run", "--config", "demo/fbl.toml"]));
    let target = TestStore::new(Backend::Postgres);
    let url = target.db_arg();
    let pgpass = target.dir.path().join("pgpass");
    let migrate = |expect_copied: bool| {
        let output = run(fbl(source.dir.path())
            .env("PGPASSFILE", &pgpass)
            .args(["store", "migrate", "--from", &db, "--to", &url, "--json"]));
        assert_eq!(output.status.code(), Some(0));
        let tables: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        let tables = tables.as_array().unwrap();
        assert!(tables.len() >= 18);
        for table in tables {
            assert_eq!(table["source"], table["target"], "{table}");
            if !expect_copied {
                assert_eq!(table["copied"], 0, "{table}");
            }
        }
        let copied: u64 = tables.iter().map(|t| t["copied"].as_u64().unwrap()).sum();
        assert_eq!(copied > 0, expect_copied);
        stdout(&output)
    };
    let first = migrate(true);
    assert!(first.contains("\"reports\""));
    migrate(false);
    // The password never shows, in output or errors.
    assert!(!first.contains(crate::postgres::shared().password()));

    for args in [
        vec!["suppress", "list", "--json"],
        vec!["quarantine", "list"],
        vec!["report", "--format", "json"],
        vec!["export", "--format", "mailgun", "--output", "out.csv"],
    ] {
        let on = |store: &str| {
            let output = run(fbl(source.dir.path())
                .env("PGPASSFILE", &pgpass)
                .args(["--db", store, "--config", "demo/fbl.toml"])
                .args(&args));
            let file = std::fs::read(source.dir.path().join("out.csv")).unwrap_or_default();
            let _ = std::fs::remove_file(source.dir.path().join("out.csv"));
            (output.status.code(), stdout(&output), file)
        };
        assert_eq!(on(&db), on(&url), "fbl {args:?}");
    }
    // New rows after the copy get new ids, past the copied ones.
    let output = run(target.fbl().args(["suppress", "add", "new@example.org"]));
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn the_password_comes_from_the_url_an_environment_variable_a_file_or_pgpassfile() {
    let server = shared();
    let url = fresh_database();
    let database = url.rsplit('/').next().unwrap().to_string();
    let bare = server.database_url_without_password(&database);
    let dir = tempfile::tempdir().unwrap();
    let info = |config: &str, env: &[(&str, String)], db: &str| {
        std::fs::write(dir.path().join("fbl.toml"), config).unwrap();
        let mut command = fbl(dir.path());
        command.env_remove("PGPASSWORD").env_remove("PGPASSFILE");
        for (key, value) in env {
            command.env(key, value);
        }
        // Not `support::run`: the command line may hold the password.
        let output = command
            .args(["--config", "fbl.toml", "--db", db, "store", "info"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stderr.contains(server.password()), "password printed");
        assert!(
            !stdout(&output).contains(server.password()),
            "password printed"
        );
        (output.status.code(), stdout(&output), stderr)
    };
    // In the URL.
    let (code, out, _) = info("", &[], &url);
    assert_eq!(code, Some(0));
    assert!(out.contains("Postgres"), "{out}");
    assert!(out.contains(":***@"), "{out}");
    // From an environment variable named in [store].
    let (code, _, _) = info(
        "[store]\npassword_env = \"STORE_PASSWORD\"\nurl = \"postgres://unused/x\"\n",
        &[("STORE_PASSWORD", server.password().to_string())],
        &bare,
    );
    assert_eq!(code, Some(0));
    // From a file.
    std::fs::write(dir.path().join("pw"), format!("{}\n", server.password())).unwrap();
    let (code, _, _) = info(
        "[store]\npassword_file = \"pw\"\nurl = \"postgres://unused/x\"\n",
        &[],
        &bare,
    );
    assert_eq!(code, Some(0));
    // From a pgpass file.
    std::fs::write(
        dir.path().join("pgpass"),
        format!("{}\n", server.pgpass_line()),
    )
    .unwrap();
    let (code, _, _) = info(
        "",
        &[(
            "PGPASSFILE",
            dir.path().join("pgpass").display().to_string(),
        )],
        &bare,
    );
    assert_eq!(code, Some(0));
    // A wrong one is refused with the server's reason, and not printed.
    let wrong = url.replace(server.password(), "not-the-password");
    let (code, _, stderr) = info("", &[], &wrong);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("password authentication failed"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"), "{stderr}");
    // No password at all.
    let (code, _, stderr) = info("", &[], &bare);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("cannot connect to store"), "{stderr}");
    // `fbl config` shows the store without its password.
    std::fs::write(
        dir.path().join("fbl.toml"),
        format!("[store]\nurl = \"{url}?sslmode=disable\"\n"),
    )
    .unwrap();
    let output = fbl(dir.path())
        .args(["--config", "fbl.toml", "config"])
        .output()
        .unwrap();
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0));
    assert!(text.contains(":***@127.0.0.1"), "{text}");
    assert!(
        !text.contains(server.password()),
        "password printed by fbl config"
    );
}

#[test]
fn tls_to_the_server_is_verified_against_the_configured_ca() {
    let server = Postgres::start_tls();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let info = |config: &str, db: &str| {
        std::fs::write(dir.path().join("fbl.toml"), config).unwrap();
        let output =
            run(fbl(dir.path()).args(["--config", "fbl.toml", "--db", db, "store", "info"]));
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let with_ca = format!(
        "[store]\nurl = \"postgres://unused/x\"\nca_file = \"{}\"\n",
        server.ca_file().display()
    );
    let (code, stderr) = info(&with_ca, &format!("{url}?sslmode=verify-full"));
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = info(
        "",
        &format!(
            "{url}?sslmode=require&sslrootcert={}",
            server.ca_file().display()
        ),
    );
    assert_eq!(code, Some(0), "{stderr}");
    // Without the CA the certificate is not trusted, whatever the mode.
    let (code, stderr) = info("", &format!("{url}?sslmode=require"));
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("cannot connect to store"), "{stderr}");
    let with_other_ca = format!(
        "[store]\nurl = \"postgres://unused/x\"\nca_file = \"{}\"\n",
        server.unrelated_ca_file().display()
    );
    let (code, _) = info(&with_other_ca, &format!("{url}?sslmode=verify-full"));
    assert_eq!(code, Some(2));
}

/// Two hosts' `fbl run` against the same two mailboxes and one PostgreSQL store at the same
/// time: each mailbox is polled by one of them at a time, every report is stored once and
/// every complainant suppressed once, and both mailboxes end as configured.
#[test]
fn two_runs_at_once_share_the_mailboxes_and_store_everything_once() {
    let server = Dovecot::start();
    let test = TestStore::new(Backend::Postgres);
    let per_mailbox = 300;
    let mut config = String::new();
    let mut passwords = Vec::new();
    let mut users = Vec::new();
    // Both users first: Dovecot rereads its passwd file only when its time changes.
    let accounts: Vec<(String, String)> = ["jmrp", "yahoo"]
        .iter()
        .map(|name| server.add_user(name))
        .collect();
    for (index, (name, (user, password))) in ["jmrp", "yahoo"].iter().zip(accounts).enumerate() {
        let session = server.login(&user, &password);
        let _ = session.logout();
        let first = index * per_mailbox;
        server.drop_into_maildir(&user, (first..first + per_mailbox).map(arf_report));
        config.push_str(&format!(
            "[[mailbox]]\nname = \"{name}\"\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"tls\"\n\
             ca_file = \"{ca}\"\nuser = \"{user}\"\npassword_env = \"IMAP_PASSWORD_{index}\"\n\
             after = \"move:Processed\"\nbatch_size = 25\n\n",
            port = server.imaps_port(),
            ca = server.ca_path().display(),
        ));
        passwords.push(password);
        users.push(user);
    }
    std::fs::write(test.dir.path().join("fbl.toml"), &config).unwrap();
    let start = || {
        let mut command = test.fbl();
        for (index, password) in passwords.iter().enumerate() {
            command.env(format!("IMAP_PASSWORD_{index}"), password);
        }
        command
            .args(["--config", "fbl.toml", "run", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    let mut summaries = Vec::new();
    for child in [a, b] {
        let output = child.wait_with_output().unwrap();
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
        summaries.push(serde_json::from_str::<serde_json::Value>(&stdout(&output)).unwrap());
    }
    let stored: u64 = summaries
        .iter()
        .map(|s| s["ingest"]["stored"].as_u64().unwrap())
        .sum();
    let busy: usize = summaries
        .iter()
        .flat_map(|s| s["mailboxes"].as_array().unwrap())
        .filter(|m| m["busy"] == true)
        .count();
    eprintln!("stored by the two runs: {stored}; mailboxes left to the other run: {busy}");
    let total = 2 * per_mailbox as i64;
    assert_eq!(count(&test, "reports"), total);
    assert_eq!(count(&test, "suppressions"), total);
    assert_eq!(count(&test, "suppression_history"), total);
    assert_eq!(
        count(&test, "suppression_evidence"),
        0,
        "evidence is in the history"
    );
    for (user, password) in users.iter().zip(&passwords) {
        let mut session = server.login(user, password);
        assert_eq!(session.examine("INBOX").unwrap().exists, 0, "{user}");
        assert_eq!(
            session.examine("Processed").unwrap().exists as usize,
            per_mailbox,
            "{user}"
        );
        let _ = session.logout();
    }
    // A last run finds nothing new.
    let output = run(test
        .fbl()
        .envs(
            passwords
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("IMAP_PASSWORD_{i}"), p.clone())),
        )
        .args(["--config", "fbl.toml", "run", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let last: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(last["ingest"]["messages"], 0, "{last}");
    assert_eq!(count(&test, "reports"), total);
}

/// The database connection dropped in the middle of an ingest: a clear error and a
/// non-zero exit, nothing half-stored, and the next run stores the rest.
#[test]
fn a_connection_dropped_mid_run_ends_in_a_clear_error_and_the_next_run_completes() {
    let test = TestStore::new(Backend::Postgres);
    let maildir = test.dir.path().join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    let total = 3000;
    for n in 0..total {
        std::fs::write(
            maildir.join("new").join(format!("{n:06}.eml")),
            arf_report(n),
        )
        .unwrap();
    }
    let child = test
        .fbl()
        .args(["ingest", "Maildir"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until some batches are committed, then cut every connection to the database.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let stored = shared().psql_in(
            &test.database(),
            "SELECT count(*) FROM pg_tables WHERE tablename = 'reports'",
        )[0]
        .clone();
        if stored == "1" && count(&test, "reports") > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the ingest never stored anything"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let cut = shared().terminate_connections(&test.database());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stored_before = count(&test, "reports");
    eprintln!("connections cut: {cut}; reports stored before: {stored_before}\n{stderr}");
    assert!(
        stored_before < total as i64,
        "the cut came too late to test anything"
    );
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("PostgreSQL") || stderr.contains("connection"),
        "{stderr}"
    );
    // Whatever was committed is whole: every stored complaint has its complainant and its
    // suppression.
    assert_eq!(count(&test, "complainants"), stored_before);
    assert_eq!(count(&test, "suppressions"), stored_before);
    let output = run(test.fbl().args(["ingest", "Maildir"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(count(&test, "reports"), total as i64);
    assert_eq!(count(&test, "suppressions"), total as i64);
    assert_eq!(count(&test, "suppression_history"), total as i64);
}

/// The same in the middle of `fbl run` polling a mailbox: the run ends in a clear error and
/// exit 2 (the mailbox's failure is recorded, then the run's next step finds the connection
/// lost), no message is moved whose report is not committed, and the next run finishes the
/// mailbox.
#[test]
fn a_connection_dropped_mid_poll_moves_only_what_is_stored_and_the_next_run_completes() {
    let server = Dovecot::start();
    let test = TestStore::new(Backend::Postgres);
    let (user, password) = server.add_user("jmrp");
    let session = server.login(&user, &password);
    let _ = session.logout();
    let total = 2000;
    server.drop_into_maildir(&user, (0..total).map(arf_report));
    std::fs::write(
        test.dir.path().join("fbl.toml"),
        format!(
            "[[mailbox]]\nname = \"jmrp\"\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"tls\"\n\
             ca_file = \"{ca}\"\nuser = \"{user}\"\npassword_env = \"IMAP_PASSWORD\"\n\
             after = \"move:Processed\"\nbatch_size = 100\n",
            port = server.imaps_port(),
            ca = server.ca_path().display(),
        ),
    )
    .unwrap();
    let fbl_run = || {
        let mut command = test.fbl();
        command
            .env("IMAP_PASSWORD", &password)
            .args(["--config", "fbl.toml", "run", "--json"]);
        command
    };
    let child = fbl_run()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let ready = shared().psql_in(
            &test.database(),
            "SELECT count(*) FROM pg_tables WHERE tablename = 'reports'",
        )[0] == "1";
        if ready && count(&test, "reports") > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the run never stored anything"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    shared().terminate_connections(&test.database());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(&stdout(&output)).unwrap_or(serde_json::Value::Null);
    let stored = count(&test, "reports");
    let mut session = server.login(&user, &password);
    let moved = session.examine("Processed").map(|s| s.exists).unwrap_or(0) as i64;
    let _ = session.logout();
    eprintln!("reports stored before the cut: {stored}; moved: {moved}\n{stderr}\n{summary}");
    assert!(
        stored < total as i64,
        "the cut came too late to test anything"
    );
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let errors = summary["mailboxes"][0]["errors"].to_string() + &stderr;
    assert!(errors.contains("PostgreSQL"), "a clear error: {errors}");
    assert!(
        moved <= stored,
        "a message was moved whose report is not stored"
    );
    assert_eq!(count(&test, "suppressions"), stored);

    let output = run(&mut fbl_run());
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(count(&test, "reports"), total as i64);
    assert_eq!(count(&test, "suppressions"), total as i64);
    let mut session = server.login(&user, &password);
    assert_eq!(session.examine("INBOX").unwrap().exists, 0);
    assert_eq!(session.examine("Processed").unwrap().exists as usize, total);
    let _ = session.logout();
}

/// Two hosts share one PostgreSQL store, each writing the same `--changed-since-last`
/// export path on its own disk: each host's file gets every change it has not had. A delta
/// point kept under the path alone was shared, so the second host's first delta missed all
/// the first host had exported.
#[test]
fn each_host_keeps_its_own_delta_point_on_a_shared_store() {
    let test = TestStore::new(Backend::Postgres);
    let dir = test.dir.path();
    for host in ["mx1", "mx2"] {
        std::fs::write(
            dir.join(format!("{host}.toml")),
            format!("[send_log]\nhost = \"{host}\"\n"),
        )
        .unwrap();
    }
    let output = run(test.fbl().args([
        "--config",
        "mx1.toml",
        "suppress",
        "add",
        "a@example.org",
        "b@example.org",
        "--reason",
        "asked",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let out = dir.join("list.txt");
    let delta = |host: &str| -> String {
        let _ = std::fs::remove_file(&out);
        let output = run(test.fbl().args([
            "--config",
            &format!("{host}.toml"),
            "export",
            "--format",
            "plain",
            "--output",
            out.to_str().unwrap(),
            "--changed-since-last",
        ]));
        assert_eq!(output.status.code(), Some(0), "{host}");
        std::fs::read_to_string(&out).unwrap()
    };
    // The point an older fbl kept under the path alone, after exporting the two: the first
    // host to write the file takes it over (nothing new for it), and it is gone for others.
    let real = std::fs::canonicalize(dir).unwrap().join("list.txt");
    shared().psql_in(
        &test.database(),
        &format!(
            "INSERT INTO export_state (name, last_exported_at, last_change_seq, format)
             SELECT '{}', '2026-11-01T00:00:00Z', max(change_seq), 'plain' FROM suppressions",
            real.display()
        ),
    );
    assert_eq!(delta("mx1"), "", "mx1 took over the point kept before");
    assert_eq!(count(&test, "export_state"), 1, "one point, mx1's");
    // mx2's disk has no such file yet: it gets the whole list, not mx1's empty delta.
    assert_eq!(delta("mx2"), "a@example.org\nb@example.org\n");
    assert_eq!(delta("mx1"), "", "nothing changed since mx1's last export");
    let output = run(test.fbl().args([
        "--config",
        "mx2.toml",
        "suppress",
        "add",
        "c@example.org",
        "--reason",
        "asked",
    ]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(delta("mx1"), "c@example.org\n");
    assert_eq!(delta("mx2"), "c@example.org\n");
}

/// The rows of `sql` in a SQLite file, as `psql_in` gives them (columns joined by `|`, NULL
/// empty).
fn sqlite_rows(path: &Path, sql: &str) -> Vec<String> {
    let db = rusqlite::Connection::open(path).unwrap();
    let mut statement = db.prepare(sql).unwrap();
    let columns = statement.column_count();
    statement
        .query_map([], |row| {
            Ok((0..columns)
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Null => String::new(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    other => panic!("unexpected {other:?}"),
                })
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `fbl store migrate` of tables larger than one statement's rows (2,345 suppressions and
/// history rows: two full batches and a partial one): the copy is the same rows, an
/// interrupted copy (the last rows missing in the target) completes on the next run, and a
/// run after a complete copy skips the history (integer ids, all there) without sending a
/// row. Nothing is written to a standard error that is not a terminal.
#[test]
fn store_migrate_copies_in_batches_completes_an_interrupted_copy_and_skips_a_complete_table() {
    const ROWS: usize = 2_345;
    let source = TestStore::new(Backend::Sqlite);
    drop(source.open());
    let path = source.dir.path().join("fbl.sqlite");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
             INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count,
                                       expires_at, removed_at, updated_at, change_seq,
                                       last_history_id)
             SELECT 'user' || i || '@example.org', 'complaint', 'report',
                    '2026-11-01T00:00:00Z', '2026-11-02T00:00:00Z', i % 7 + 1,
                    CASE WHEN i % 3 = 0 THEN '2027-01-01T00:00:00Z' END,
                    CASE WHEN i % 5 = 0 THEN '2026-11-03T00:00:00Z' END,
                    '2026-11-02T00:00:00Z', i, i FROM n;
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
             INSERT INTO suppression_history (id, address, at, action, reason, actor, report_id,
                                              note, previous_id)
             SELECT i, 'user' || i || '@example.org', '2026-11-01T00:00:00Z', 'add',
                    'complaint', 'manual', NULL, 'note ' || i, NULL FROM n;"
        ))
        .unwrap();
    let db = path.display().to_string();
    let target = TestStore::new(Backend::Postgres);
    let url = target.db_arg();
    let pgpass = target.dir.path().join("pgpass");
    let migrate = || {
        let output = run(fbl(source.dir.path())
            .env("PGPASSFILE", &pgpass)
            .args(["store", "migrate", "--from", &db, "--to", &url, "--json"]));
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(String::from_utf8_lossy(&output.stderr), "");
        let tables: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        let table = |name: &str| {
            let table = tables
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["table"] == name)
                .unwrap()
                .clone();
            assert_eq!(table["source"], ROWS as u64, "{table}");
            assert_eq!(table["target"], ROWS as u64, "{table}");
            (table["copied"].as_u64().unwrap(), table["skipped"] == true)
        };
        (table("suppressions"), table("suppression_history"))
    };
    let same = || {
        for sql in [
            "SELECT address, reason, source, first_seen, last_seen, count, expires_at,
                    removed_at, updated_at, change_seq, last_history_id
             FROM suppressions ORDER BY change_seq",
            "SELECT id, address, at, action, reason, actor, report_id, note, previous_id
             FROM suppression_history ORDER BY id",
        ] {
            let (a, b) = (
                sqlite_rows(&path, sql),
                shared().psql_in(&target.database(), sql),
            );
            assert_eq!(a.len(), ROWS);
            assert!(a == b, "the copy differs: {sql}");
        }
    };
    let first = migrate();
    assert_eq!(first, ((ROWS as u64, false), (ROWS as u64, false)));
    same();
    // An interruption after the first batches: the rest is copied by the next run.
    shared().psql_in(
        &target.database(),
        "DELETE FROM suppressions WHERE change_seq > 1500;
         DELETE FROM suppression_history WHERE id > 1500",
    );
    let missing = (ROWS - 1500) as u64;
    assert_eq!(migrate(), ((missing, false), (missing, false)));
    same();
    // All there: the history is skipped, the suppressions (keyed by address) copy nothing.
    assert_eq!(migrate(), ((0, false), (0, true)));
    same();

    // On a terminal (util-linux `script`), standard output to a file: one line per table
    // read, ending at all its rows; none for the skipped history or the empty tables.
    let out = source.dir.path().join("migrate-stdout.txt");
    let quote = |word: &str| format!("'{}'", word.replace('\'', r"'\''"));
    let line = format!(
        "{} store migrate --from {} --to {} >{}",
        quote(env!("CARGO_BIN_EXE_fbl")),
        quote(&db),
        quote(&url),
        quote(&out.display().to_string())
    );
    let output = run(std::process::Command::new("script")
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .current_dir(source.dir.path())
        .env("SHELL", "/bin/sh")
        .env("COLUMNS", "100")
        .env("PGPASSFILE", &pgpass));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let terminal = stdout(&output);
    let lines: Vec<&str> = terminal
        .split("\r\n")
        .filter(|line| !line.is_empty())
        .map(|line| line.rsplit('\r').next().unwrap().trim_end())
        .collect();
    assert_eq!(lines.len(), 1, "{terminal:?}");
    assert!(
        lines[0].starts_with("fbl: copying suppressions [####")
            && lines[0].contains("] 2345/2345 100%"),
        "{terminal:?}"
    );
    let printed = std::fs::read_to_string(&out).unwrap();
    assert!(
        printed.contains("suppression_history          2345 rows, all there already (skipped)"),
        "{printed}"
    );
}
