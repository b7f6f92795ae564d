//! A disk that fills up under fbl: the store's, in the middle of an ingest, a mailbox poll or
//! any later step of `fbl run`, and an export's or a report's folder. The disk is a real one,
//! a tiny tmpfs: mounted directly when the tests run as root (CI), else inside a user and
//! mount namespace (`unshare --map-root-user --mount`) in which this test runs again as root.
//! When neither is possible the test fails and says why.

use crate::dovecot::Dovecot;
use crate::support::{arf, fbl, run, to_crlf};
use fbl::imap_client::{Auth, ConnectOptions, ImapError, Security, Session};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Set in the copy of a test that runs inside a namespace.
const IN_NAMESPACE: &str = "FBL_TEST_FULL_DISK_IN_NAMESPACE";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|status| {
            status
                .lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Whether the calling test should go on: yes when it runs as root (it may mount). Else it
/// runs again, `test` by its full name, inside a namespace where it is root, and the caller
/// returns once that run has passed; a failure of that run fails the caller.
fn as_root(test: &str) -> bool {
    as_root_with_env(test, &[])
}

/// `as_root`, with `env` added to the environment of the run inside a namespace.
fn as_root_with_env(test: &str, env: &[(&str, &str)]) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var_os(IN_NAMESPACE).is_none(),
        "inside `unshare --map-root-user` but not root: the full-disk tests cannot mount a tmpfs"
    );
    let probe = Command::new("unshare")
        .args(["--map-root-user", "--mount", "true"])
        .output();
    match probe {
        Ok(output) if output.status.success() => {}
        Ok(output) => panic!(
            "the full-disk tests mount a tmpfs: they need root, or user namespaces for \
             `unshare --map-root-user --mount`, which failed here: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ),
        Err(error) => panic!(
            "the full-disk tests mount a tmpfs: they need root, or `unshare` (util-linux) to \
             run in a user namespace: cannot run unshare: {error}"
        ),
    }
    let done = tempfile::tempdir().unwrap();
    let marker = done.path().join("passed");
    let output = Command::new("unshare")
        .args(["--map-root-user", "--mount", "--"])
        .arg(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(IN_NAMESPACE, &marker)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    // The inner harness's own closing line is left out, so that a summing of the outer
    // output (scripts/test) counts this test once.
    let text = String::from_utf8_lossy(&output.stdout) + String::from_utf8_lossy(&output.stderr);
    let text: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("test result:"))
        .collect();
    assert!(
        output.status.success() && marker.exists(),
        "{test} failed inside `unshare --map-root-user --mount` (exit {:?}):\n{}",
        output.status.code(),
        text.join("\n")
    );
    false
}

/// Records, for the outer run, that the scenario inside a namespace got to its end (so that
/// a test name that matches nothing cannot pass).
fn passed() {
    if let Some(marker) = std::env::var_os(IN_NAMESPACE) {
        std::fs::write(marker, "").unwrap();
    }
}

/// The index SQLite makes beside a store when fbl opens it (its -shm file): a store disk
/// filled but for this much has no room left for the write-ahead log, so the first write of
/// a run fails.
const SHM_BYTES: u64 = 32 * 1024;

/// A tmpfs of a given size on a fresh folder, unmounted when dropped.
struct Tmpfs {
    dir: PathBuf,
    _parent: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let parent = tempfile::tempdir().unwrap();
        let dir = parent.path().join("disk");
        std::fs::create_dir(&dir).unwrap();
        mount(
            &[
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ],
            &dir,
        );
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
        assert!(
            mounts
                .lines()
                .any(|l| l.split(' ').nth(1) == dir.to_str() && l.starts_with("tmpfs ")),
            "{} is not a tmpfs after mounting it",
            dir.display()
        );
        Tmpfs {
            dir,
            _parent: parent,
        }
    }

    fn path(&self) -> &Path {
        &self.dir
    }

    /// Fills the disk with a file, `filler`, then leaves `room` bytes free; returns its path.
    fn fill_leaving(&self, room: u64) -> PathBuf {
        use std::io::Write;
        let filler = self.dir.join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let error = loop {
            if let Err(error) = file.write_all(&[0u8; 4096]) {
                break error;
            }
        };
        assert_eq!(error.kind(), std::io::ErrorKind::StorageFull);
        let len = file.metadata().unwrap().len();
        file.set_len(len - room).unwrap();
        filler
    }

    /// Makes room: the same tmpfs, with its files, grown to `size`.
    fn grow(&self, size: &str) {
        mount(&["-o", &format!("remount,size={size}"), "tmpfs"], &self.dir);
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let status = Command::new("umount").arg(&self.dir).status();
        if !status.is_ok_and(|s| s.success()) {
            // Busy: detach it now, the kernel frees it when the last user goes.
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

fn mount(args: &[&str], dir: &Path) {
    let output = Command::new("mount").args(args).arg(dir).output().unwrap();
    assert!(
        output.status.success(),
        "mount {args:?} {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An ARF complaint about `address` whose text part carries `padding` bytes that do not
/// compress (the store keeps messages compressed).
fn padded_report(address: &str, padding: usize, rng: &mut impl rand::Rng) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::with_capacity(padding + padding / 76 + 1);
    for i in 0..padding {
        text.push(ALPHABET[rng.random_range(0..64)] as char);
        if i % 76 == 75 {
            text.push('\n');
        }
    }
    let report = arf("abuse", address, &format!("{address}.news@example.com"));
    String::from_utf8(report)
        .unwrap()
        .replace("A report.\n", &format!("A report.\n{text}\n"))
        .into_bytes()
}

/// A Maildir of messages, in this order (fbl reads a Maildir sorted by file name).
fn maildir(dir: &Path, messages: &[Vec<u8>]) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for (i, message) in messages.iter().enumerate() {
        std::fs::write(dir.join("new").join(format!("{i:06}.eml")), message).unwrap();
    }
}

/// What a store holds, read from a copy of its files (so that reading writes nothing on the
/// full disk, and the data is shown to be in the files themselves).
#[derive(Debug, Clone, PartialEq)]
struct Contents {
    /// (id, sha256) of every report.
    reports: Vec<(i64, Vec<u8>)>,
    /// (report id, address) of every complainant.
    complainants: Vec<(i64, String)>,
    /// (address, reason, source, first_seen, count, removed_at) of every suppression.
    suppressions: Vec<(String, String, String, String, i64, Option<String>)>,
    history: i64,
    /// Complainants without an active suppression holding their report as evidence.
    complainants_unsuppressed: i64,
    /// Complaint reports without a complainant.
    complaints_unattributed: i64,
}

fn contents(store: &Path) -> Contents {
    let (_copy, db) = open_copy(store);
    let rows = |sql: &str| -> Vec<Vec<rusqlite::types::Value>> {
        let mut statement = db.prepare(sql).unwrap();
        let width = statement.column_count();
        statement
            .query_map([], |row| (0..width).map(|i| row.get(i)).collect())
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let count = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    use rusqlite::types::Value;
    let int = |v: &Value| match v {
        Value::Integer(i) => *i,
        other => panic!("not an integer: {other:?}"),
    };
    let text = |v: &Value| match v {
        Value::Text(t) => t.clone(),
        other => panic!("not text: {other:?}"),
    };
    Contents {
        reports: rows("SELECT id, sha256 FROM reports ORDER BY id")
            .iter()
            .map(|r| match &r[1] {
                Value::Blob(b) => (int(&r[0]), b.clone()),
                other => panic!("sha256 is not a blob: {other:?}"),
            })
            .collect(),
        complainants: rows(
            "SELECT report_id, address FROM complainants ORDER BY report_id, address",
        )
        .iter()
        .map(|r| (int(&r[0]), text(&r[1])))
        .collect(),
        suppressions: rows(
            "SELECT address, reason, source, first_seen, count, removed_at FROM suppressions
             ORDER BY address",
        )
        .iter()
        .map(|r| {
            (
                text(&r[0]),
                text(&r[1]),
                text(&r[2]),
                text(&r[3]),
                int(&r[4]),
                match &r[5] {
                    Value::Null => None,
                    v => Some(text(v)),
                },
            )
        })
        .collect(),
        history: count("SELECT count(*) FROM suppression_history"),
        complainants_unsuppressed: count(
            "SELECT count(*) FROM complainants c
             WHERE NOT EXISTS (SELECT 1 FROM suppressions s
                               WHERE s.address = c.address AND s.removed_at IS NULL)
                OR NOT EXISTS (SELECT 1 FROM suppression_history h
                               WHERE h.address = c.address AND h.report_id = c.report_id)",
        ),
        complaints_unattributed: count(
            "SELECT count(*) FROM reports r WHERE r.kind = 'complaint'
             AND NOT EXISTS (SELECT 1 FROM complainants c WHERE c.report_id = r.id)",
        ),
    }
}

/// A count (`SELECT count(*) ...`) in a copy of the store, checked whole by `open_copy`.
fn count_in(store: &Path, sql: &str) -> i64 {
    let (_copy, db) = open_copy(store);
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// A copy of a store's files, opened and checked whole (the folder goes with the connection).
fn open_copy(store: &Path) -> (tempfile::TempDir, rusqlite::Connection) {
    let copy = tempfile::tempdir().unwrap();
    for suffix in ["", "-wal"] {
        let mut from = store.as_os_str().to_owned();
        from.push(suffix);
        let from = PathBuf::from(from);
        if from.exists() {
            std::fs::copy(&from, copy.path().join(format!("fbl.sqlite{suffix}"))).unwrap();
        }
    }
    let db = rusqlite::Connection::open(copy.path().join("fbl.sqlite")).unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "the store's files are damaged");
    (copy, db)
}

/// The Message-IDs of a store's send log, in order, read from a copy of its files.
fn send_log(store: &Path) -> Vec<String> {
    let (_copy, db) = open_copy(store);
    let mut statement = db
        .prepare("SELECT message_id FROM send_log ORDER BY message_id")
        .unwrap();
    statement
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// What was there before is still there, unchanged.
fn assert_kept(before: &Contents, after: &Contents) {
    for report in &before.reports {
        assert!(
            after.reports.contains(report),
            "report {} was lost",
            report.0
        );
    }
    for complainant in &before.complainants {
        assert!(
            after.complainants.contains(complainant),
            "complainant {complainant:?} was lost"
        );
    }
    for suppression in &before.suppressions {
        assert!(
            after.suppressions.contains(suppression),
            "suppression {suppression:?} was lost or changed"
        );
    }
    assert!(after.history >= before.history, "history was lost");
}

#[test]
fn a_full_disk_stops_ingest_with_a_clear_error_and_loses_nothing_committed() {
    if !as_root(
        "full_disk::a_full_disk_stops_ingest_with_a_clear_error_and_loses_nothing_committed",
    ) {
        return;
    }
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(9);
    let work = tempfile::tempdir().unwrap();
    // The store with the first batch of the Maildir below (2,000 small reports) fits in 7 MB;
    // the second batch (3 MB of reports that do not compress) does not.
    let disk = Tmpfs::mount("7m");
    let store = disk.path().join("fbl.sqlite");
    let db = store.to_str().unwrap();

    // Committed before the disk fills: reports with their suppressions, and one by hand.
    let before: Vec<Vec<u8>> = (0..20)
        .map(|i| {
            arf(
                "abuse",
                &format!("before{i}@example.org"),
                &format!("before{i}@example.com"),
            )
        })
        .collect();
    maildir(&work.path().join("before"), &before);
    let output = run(fbl(work.path()).args(["--db", db, "ingest", "before"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(work.path()).args([
        "--db",
        db,
        "suppress",
        "add",
        "by-hand@example.org",
        "--reason",
        "asked",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let committed = contents(&store);
    assert_eq!(committed.reports.len(), 20);
    assert_eq!(committed.suppressions.len(), 21);

    // A Maildir bigger than what is left: a first batch of small reports that fits, then
    // reports of 30 KB that do not compress.
    let batch = fbl::ingest::BATCH_SIZE;
    let big = 100;
    let total = batch + big;
    let addresses: Vec<String> = (0..total).map(|i| format!("user{i}@example.org")).collect();
    let messages: Vec<Vec<u8>> = addresses
        .iter()
        .enumerate()
        .map(|(i, address)| padded_report(address, if i < batch { 0 } else { 30_000 }, &mut rng))
        .collect();
    maildir(&work.path().join("Maildir"), &messages);

    let output = run(fbl(work.path()).args(["--db", db, "ingest", "Maildir"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a full disk is fatal: {stderr}"
    );
    assert!(
        stderr.contains(&format!("store {db}: the disk is full; free some space")),
        "the error names the store and says the disk is full: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the first {batch} messages of this run are committed"
        )),
        "the error says what this run kept: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line of error, nothing else: {stderr}"
    );

    let after = contents(&store);
    assert_kept(&committed, &after);
    let new = after.reports.len() - committed.reports.len();
    assert!(
        new > 0 && new < total,
        "the disk filled in the middle of the run: {new} of {total} stored"
    );
    assert_eq!(new % batch, 0, "only whole batches are stored: {new}");
    assert_eq!(after.complainants.len(), after.reports.len());
    assert_eq!(after.complainants_unsuppressed, 0);
    assert_eq!(after.complaints_unattributed, 0);
    assert_eq!(after.suppressions.len(), 21 + new);

    // The next cron run, the disk still full: the same error, and nothing changes.
    let output = run(fbl(work.path()).args(["--db", db, "ingest", "Maildir"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("the disk is full"));
    assert_eq!(contents(&store), after);
    // The same from cron's `fbl run` reading the Maildir as a source: fatal too (exit 2),
    // not a source failure among others.
    std::fs::write(
        work.path().join("fbl.toml"),
        "[[source]]\nname = \"old\"\npath = \"Maildir\"\n",
    )
    .unwrap();
    let output = run(fbl(work.path()).args(["--db", db, "--config", "fbl.toml", "run"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("source old") && stderr.contains("the disk is full"),
        "{stderr}"
    );
    assert_eq!(contents(&store), after);

    // With room again, the next run stores the rest, each report once.
    disk.grow("64m");
    let output = run(fbl(work.path()).args(["--db", db, "ingest", "Maildir", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["messages"], total);
    assert_eq!(summary["stored"], total - new);
    assert_eq!(summary["duplicates"], new);

    let last = contents(&store);
    assert_kept(&committed, &last);
    assert_kept(&after, &last);
    assert_eq!(last.reports.len(), 20 + total);
    assert_eq!(last.complainants_unsuppressed, 0);
    assert_eq!(last.complaints_unattributed, 0);
    let mut complainants: Vec<&str> = last
        .complainants
        .iter()
        .map(|(_, address)| address.as_str())
        .filter(|a| a.starts_with("user"))
        .collect();
    complainants.sort();
    let mut expected: Vec<&str> = addresses.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(complainants, expected, "every report stored exactly once");
    assert_eq!(last.suppressions.len(), 21 + total);
    assert!(last.suppressions.iter().all(|s| s.4 == 1 && s.5.is_none()));
    passed();
}

#[test]
fn a_full_disk_while_importing_a_send_log_is_fatal_and_keeps_whole_slices() {
    if !as_root("full_disk::a_full_disk_while_importing_a_send_log_is_fatal_and_keeps_whole_slices")
    {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // 50,000 entries take about 15 MB of store and as much of write-ahead log: the first
    // slice fits, the second does not.
    let disk = Tmpfs::mount("24m");
    let store = disk.path().join("fbl.sqlite");
    let db = store.to_str().unwrap();
    let slice = fbl::run::SEND_LOG_SLICE;
    let total = 2 * slice + slice / 2;
    // Message-IDs in no particular order, as a mail server's are.
    let message_ids: Vec<String> = (0..total as u64)
        .map(|i| {
            format!(
                "{:016x}.{i}@mta1.example.com",
                i.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            )
        })
        .collect();
    let mut csv = String::from("message_id,recipient,campaign,sent_at\n");
    for (i, message_id) in message_ids.iter().enumerate() {
        csv.push_str(&format!(
            "<{message_id}>,subscriber{i}@example.org,spring,2026-11-{:02}T10:00:00Z\n",
            1 + i % 19
        ));
    }
    std::fs::write(work.path().join("sends.csv"), csv).unwrap();
    std::fs::write(
        work.path().join("fbl.toml"),
        "[send_log]\nimport = [{ path = \"sends.csv\", format = \"csv\" }]\n",
    )
    .unwrap();
    let fbl_run = |json: bool| {
        let mut command = fbl(work.path());
        command.args(["--db", db, "--config", "fbl.toml", "run"]);
        if json {
            command.arg("--json");
        }
        run(&mut command)
    };

    let output = fbl_run(false);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a full disk is fatal while importing a send log, as for a source: {stderr}"
    );
    let kept = send_log(&store);
    assert!(
        !kept.is_empty() && kept.len() < total,
        "the disk filled in the middle of the send log: {} of {total} imported",
        kept.len()
    );
    assert_eq!(
        kept.len() % slice,
        0,
        "only whole slices are kept: {}",
        kept.len()
    );
    assert!(
        stderr.contains(&format!(
            "send log sends.csv: store {db}: the disk is full; free some space"
        )),
        "the error names the send log and the store, and says the disk is full: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the first {} entries of the send log are committed",
            kept.len()
        )),
        "the error says what was kept: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line of error, nothing else: {stderr}"
    );

    // The next cron run, the disk still full: the same error, and nothing changes.
    let output = fbl_run(false);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("send log sends.csv") && stderr.contains("the disk is full"),
        "{stderr}"
    );
    assert_eq!(send_log(&store), kept);

    // With room again, the next run imports the rest, each entry once.
    disk.grow("128m");
    let output = fbl_run(true);
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let imported = &summary["send_log"][0];
    assert_eq!(imported["entries"], total);
    assert_eq!(imported["added"], total - kept.len());
    assert_eq!(imported["already_known"], kept.len());
    let mut expected = message_ids;
    expected.sort();
    assert_eq!(
        send_log(&store),
        expected,
        "every entry imported exactly once"
    );
    passed();
}

/// `fbl sendlog import` alone: the entries, then the Outlook.com blocks that its delivery
/// statuses show. A store disk that fills while the blocks are recorded stops it with the
/// shared wording; with room again, the same import records them, once.
#[test]
fn a_full_store_disk_while_recording_a_send_logs_blocks_is_fatal_with_the_shared_wording() {
    if !as_root(
        "full_disk::a_full_store_disk_while_recording_a_send_logs_blocks_is_fatal_with_the_shared_wording",
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let disk = Tmpfs::mount("2m");
    let store = disk.path().join("fbl.sqlite");
    let db = store.to_str().unwrap();
    std::fs::write(dir.join("fbl.toml"), "[send_log]\nretention_days = 5000\n").unwrap();
    // A bounce only: no entry for the send log, one block for the store.
    std::fs::write(
        dir.join("mail.log"),
        "Nov 19 09:16:00 mta1 postfix/smtp[9]: 4ABD: to=<amy@outlook.example>, \
         relay=outlook.example[192.0.2.77]:25, delay=1, dsn=5.7.1, status=bounced (host \
         outlook.example[192.0.2.77] said: 550 SC-004 (BAY004-MC5F3) Unfortunately, some \
         messages from 203.0.113.7 weren't sent. (in reply to MAIL FROM command))\n",
    )
    .unwrap();
    // The store made while the disk has room.
    fbl::store::Store::open(std::path::Path::new(db)).unwrap();
    let import = || {
        run(fbl(dir).args([
            "--config", "fbl.toml", "--db", db, "sendlog", "import", "mail.log", "--format",
            "postfix", "--json",
        ]))
    };
    let blocks = || count_in(&store, "SELECT count(*) FROM block_events");

    let filler = disk.fill_leaving(SHM_BYTES);
    let output = import();
    assert_stopped_alone(
        db,
        "the send log is imported and kept; import it again to record the Outlook.com blocks \
         its delivery statuses show",
        &output,
    );
    assert!(output.stdout.is_empty(), "no summary of a stopped import");
    assert_eq!(blocks(), 0);

    std::fs::remove_file(&filler).unwrap();
    let output = import();
    assert_eq!(output.status.code(), Some(1), "a new block is news");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["block_events_found"], 1, "{summary}");
    assert_eq!(blocks(), 1);
    passed();
}

/// Where the copy of a test inside a namespace finds the IMAP account that the copy outside
/// set up: port, CA file, user and password, a line each.
const IMAP_ACCOUNT: &str = "FBL_TEST_FULL_DISK_IMAP_ACCOUNT";

/// An account on a test Dovecot. Dovecot cannot run inside the namespace (only root is mapped
/// there, and Dovecot will not work as root), so the copy of a test outside it starts the
/// server, and the copy inside is handed the account in its environment.
struct ImapAccount {
    port: u16,
    ca_file: PathBuf,
    user: String,
    password: String,
}

impl ImapAccount {
    /// A new user on `server` whose INBOX holds `messages`.
    fn seeded(server: &Dovecot, messages: Vec<Vec<u8>>) -> ImapAccount {
        let (user, password) = server.add_user("full-disk");
        // Log in once so that the Maildir exists.
        let _ = server.login(&user, &password).logout();
        server.drop_into_maildir(&user, messages);
        ImapAccount {
            port: server.imaps_port(),
            ca_file: server.ca_path(),
            user,
            password,
        }
    }

    fn from_env() -> Option<ImapAccount> {
        let text = std::env::var(IMAP_ACCOUNT).ok()?;
        let [port, ca_file, user, password] = text.lines().collect::<Vec<_>>()[..] else {
            panic!("{IMAP_ACCOUNT} is not four lines: {text:?}");
        };
        Some(ImapAccount {
            port: port.parse().unwrap(),
            ca_file: ca_file.into(),
            user: user.to_string(),
            password: password.to_string(),
        })
    }

    fn to_env(&self) -> String {
        format!(
            "{}\n{}\n{}\n{}",
            self.port,
            self.ca_file.display(),
            self.user,
            self.password
        )
    }

    /// A configuration with one mailbox, `jmrp`: this account's INBOX, read 10 messages to a
    /// batch, each stored message moved to `Processed`.
    fn config(&self) -> String {
        format!(
            "[[mailbox]]\n\
             name = \"jmrp\"\n\
             host = \"127.0.0.1\"\n\
             port = {}\n\
             security = \"tls\"\n\
             ca_file = {:?}\n\
             user = {:?}\n\
             password_env = \"FBL_TEST_IMAP_PASSWORD\"\n\
             after = \"move:Processed\"\n\
             batch_size = 10\n\
             connect_timeout_secs = 5\n\
             read_timeout_secs = 10\n",
            self.port,
            self.ca_file.display().to_string(),
            self.user,
        )
    }

    /// The SHA-256 of every message in a folder (none when there is no such folder), and
    /// whether it is flagged `\Seen`; read without changing anything.
    fn folder(&self, folder: &str) -> Vec<(Vec<u8>, bool)> {
        let mut options = ConnectOptions::new("127.0.0.1", self.port, Security::Tls);
        options.ca_file = Some(self.ca_file.clone());
        let auth = Auth::Password {
            user: self.user.clone(),
            password: self.password.clone(),
        };
        let mut session = Session::connect(&options, &auth).unwrap();
        let mut messages = Vec::new();
        match session.examine(folder) {
            Ok(_) => {
                let uids = session.uids_after(0, None).unwrap();
                let unseen = session.unseen_uids().unwrap();
                for (uid, raw) in session.fetch_batch(&uids).unwrap() {
                    messages.push((fbl::store::sha256(&raw).to_vec(), !unseen.contains(&uid)));
                }
            }
            Err(ImapError::NoSuchFolder(_)) => {}
            Err(error) => panic!("cannot open folder {folder}: {error}"),
        }
        let _ = session.logout();
        messages
    }
}

#[test]
fn a_full_disk_while_polling_a_mailbox_is_fatal_and_moves_only_what_was_stored() {
    let test =
        "full_disk::a_full_disk_while_polling_a_mailbox_is_fatal_and_moves_only_what_was_stored";
    // Complaints of 30 KB that do not compress: far more than the disk below holds.
    let total = 60;
    let addresses: Vec<String> = (0..total).map(|i| format!("imap{i}@example.org")).collect();
    let (_server, account) = match ImapAccount::from_env() {
        // The copy inside a namespace: the server is the outer copy's.
        Some(account) => (None, account),
        None => {
            use rand::SeedableRng;
            let mut rng = rand::rngs::StdRng::seed_from_u64(11);
            let messages = addresses
                .iter()
                .map(|address| to_crlf(&padded_report(address, 30_000, &mut rng)))
                .collect();
            let server = Dovecot::start();
            let account = ImapAccount::seeded(&server, messages);
            (Some(server), account)
        }
    };
    if !as_root_with_env(test, &[(IMAP_ACCOUNT, &account.to_env())]) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    // The store alone needs about 250 KB, each batch of 10 about 300 KB more: a few batches
    // fit, not all of them.
    let disk = Tmpfs::mount("1536k");
    let store = disk.path().join("fbl.sqlite");
    let db = store.to_str().unwrap();
    std::fs::write(work.path().join("fbl.toml"), account.config()).unwrap();
    let fbl_run = || {
        run(fbl(work.path())
            .env("FBL_TEST_IMAP_PASSWORD", &account.password)
            .args(["--db", db, "--config", "fbl.toml", "run"]))
    };
    let digests = |messages: &[(Vec<u8>, bool)]| -> BTreeSet<Vec<u8>> {
        messages.iter().map(|(digest, _)| digest.clone()).collect()
    };
    let inbox = account.folder("INBOX");
    assert_eq!(inbox.len(), total);
    assert!(inbox.iter().all(|(_, seen)| !seen));

    let output = fbl_run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a full disk is fatal while polling a mailbox, as for a source: {stderr}"
    );
    let after = contents(&store);
    let stored = after.reports.len();
    assert!(
        stored > 0 && stored < total,
        "the disk filled in the middle of the mailbox: {stored} of {total} stored"
    );
    assert_eq!(stored % 10, 0, "only whole batches are stored: {stored}");
    assert!(
        stderr.contains(&format!(
            "mailbox jmrp folder INBOX: store {db}: the disk is full; free some space"
        )),
        "the error names the mailbox, its folder and the store, and says the disk is full: \
         {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "the first {stored} messages of this run are committed"
        )),
        "the error says what this run kept: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line of error, nothing else: {stderr}"
    );
    assert_eq!(after.complainants.len(), stored);
    assert_eq!(after.complainants_unsuppressed, 0);
    assert_eq!(after.complaints_unattributed, 0);
    assert_eq!(after.suppressions.len(), stored);
    // Exactly the stored messages were moved; the others are in INBOX as they were.
    let stored_digests: BTreeSet<Vec<u8>> = after.reports.iter().map(|r| r.1.clone()).collect();
    let processed = account.folder("Processed");
    assert_eq!(digests(&processed), stored_digests);
    let left = account.folder("INBOX");
    assert_eq!(left.len(), total - stored);
    assert!(
        left.iter()
            .all(|(digest, seen)| !seen && !stored_digests.contains(digest)),
        "a message left in INBOX is stored or flagged \\Seen"
    );

    // The next cron run, the disk still full: the same error, and nothing changes.
    let output = fbl_run();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("mailbox jmrp folder INBOX") && stderr.contains("the disk is full"),
        "{stderr}"
    );
    assert_eq!(contents(&store), after);
    assert_eq!(account.folder("INBOX"), left);
    assert_eq!(account.folder("Processed"), processed);

    // With room again, the next run stores the rest, each report once, and moves it.
    disk.grow("64m");
    let output = fbl_run();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = contents(&store);
    assert_kept(&after, &last);
    assert_eq!(last.reports.len(), total);
    assert_eq!(last.complainants_unsuppressed, 0);
    assert_eq!(last.complaints_unattributed, 0);
    let mut complainants: Vec<&str> = last
        .complainants
        .iter()
        .map(|(_, address)| address.as_str())
        .collect();
    complainants.sort();
    let mut expected: Vec<&str> = addresses.iter().map(String::as_str).collect();
    expected.sort();
    assert_eq!(complainants, expected, "every report stored exactly once");
    assert_eq!(last.suppressions.len(), total);
    assert!(account.folder("INBOX").is_empty());
    let processed = account.folder("Processed");
    assert_eq!(processed.len(), total);
    assert_eq!(
        digests(&processed),
        last.reports.iter().map(|r| r.1.clone()).collect()
    );
    let store = fbl::store::Store::open(&store).unwrap();
    let state = &store.mailbox_states().unwrap()[0];
    assert!(
        store
            .pending_actions("jmrp", "INBOX", state.uid_validity)
            .unwrap()
            .is_empty(),
        "no mailbox action is left to do"
    );
    passed();
}

#[test]
fn a_full_disk_fails_an_export_and_leaves_the_previous_file_whole() {
    if !as_root("full_disk::a_full_disk_fails_an_export_and_leaves_the_previous_file_whole") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let disk = Tmpfs::mount("128k");
    let list = disk.path().join("list.csv");
    let store = dir.join("fbl.sqlite");
    let db = store.to_str().unwrap();
    let list_arg = list.to_str().unwrap();

    let old: String = (0..100).map(|i| format!("old{i}@example.org\n")).collect();
    std::fs::write(dir.join("old.txt"), old).unwrap();
    let output = run(fbl(dir).args(["--db", db, "suppress", "import", "old.txt"]));
    assert_eq!(output.status.code(), Some(0));
    let export = [
        "--db", db, "export", "--format", "csv", "--output", list_arg,
    ];
    let output = run(fbl(dir).args(export));
    assert_eq!(output.status.code(), Some(0));
    let previous = std::fs::read(&list).unwrap();
    assert_eq!(previous.iter().filter(|&&b| b == b'\n').count(), 101);

    // Fill the disk, then leave 24 KiB: a new export starts, and runs out of room.
    let filler = disk.fill_leaving(24 * 1024);
    let new: String = (0..3000)
        .map(|i| format!("new-subscriber-{i}@example.org\n"))
        .collect();
    std::fs::write(dir.join("new.txt"), new).unwrap();
    let output = run(fbl(dir).args(["--db", db, "suppress", "import", "new.txt"]));
    assert_eq!(output.status.code(), Some(0));

    let files = || {
        let mut names: Vec<String> = std::fs::read_dir(disk.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    // The error names the export and says the disk is full; the previous file is whole and
    // no temporary file is left.
    let failed_and_kept = |stderr: &str| {
        assert!(
            stderr.contains(&format!("cannot write export {list_arg}"))
                && stderr.contains("No space left on device"),
            "the error names the export and says the disk is full: {stderr}"
        );
        assert!(
            std::fs::read(&list).unwrap() == previous,
            "the previous export is changed"
        );
        assert_eq!(files(), ["filler", "list.csv"], "a temporary file is left");
    };
    let output = run(fbl(dir).args(export));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    failed_and_kept(&stderr);

    // `fbl run` writing the same file as an [[export]]: it goes on, says so, exits 1.
    std::fs::write(
        dir.join("fbl.toml"),
        format!("[store]\npath = {db:?}\n\n[[export]]\nformat = \"csv\"\npath = {list_arg:?}\n"),
    )
    .unwrap();
    let output = run(fbl(dir).args(["--config", "fbl.toml", "run"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    failed_and_kept(&stderr);

    // With room again, the export is written whole.
    std::fs::remove_file(&filler).unwrap();
    disk.grow("1m");
    let output = run(fbl(dir).args(export));
    assert_eq!(output.status.code(), Some(0));
    let written = std::fs::read(&list).unwrap();
    assert_eq!(written.iter().filter(|&&b| b == b'\n').count(), 3101);
    assert!(
        written.len() > 24 * 1024,
        "the new export did not fit in the room left"
    );
    assert_eq!(files(), ["list.csv"]);
    passed();
}

#[test]
fn a_full_store_disk_while_recording_an_export_is_fatal_and_the_file_is_whole() {
    if !as_root(
        "full_disk::a_full_store_disk_while_recording_an_export_is_fatal_and_the_file_is_whole",
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let disk = Tmpfs::mount("2m");
    let store = disk.path().join("fbl.sqlite");
    let db = store.to_str().unwrap();
    let list = dir.join("exports/list.csv");
    std::fs::create_dir(dir.join("exports")).unwrap();
    let list_arg = list.to_str().unwrap();
    let addresses: String = (0..100).map(|i| format!("old{i}@example.org\n")).collect();
    std::fs::write(dir.join("list.txt"), addresses).unwrap();
    let output = run(fbl(dir).args(["--db", db, "suppress", "import", "list.txt"]));
    assert_eq!(output.status.code(), Some(0));
    std::fs::write(
        dir.join("fbl.toml"),
        format!("[[export]]\nformat = \"csv\"\npath = {list_arg:?}\n"),
    )
    .unwrap();

    // Fill the store's disk but for its -shm file: the run reads the list and writes the
    // export on another disk, then cannot record it in the store.
    let filler = disk.fill_leaving(SHM_BYTES);
    let recorded = || -> Vec<String> {
        let (_copy, db) = open_copy(&store);
        let mut statement = db.prepare("SELECT name FROM export_state").unwrap();
        statement
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let output = run(fbl(dir).args(["--db", db, "--config", "fbl.toml", "run"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "a full store disk is fatal in an export too: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "export {list_arg}: store {db}: the disk is full; free some space"
        )),
        "the error names the export and the store, and says the disk is full: {stderr}"
    );
    assert!(
        stderr.contains("the export is written whole"),
        "the error says what was kept: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line of error, nothing else: {stderr}"
    );
    let written = std::fs::read_to_string(&list).unwrap();
    assert_eq!(
        written.lines().count(),
        101,
        "the export is whole: {written}"
    );
    assert!(recorded().is_empty(), "the export is recorded");

    // With room again, the run writes the export and records it.
    std::fs::remove_file(&filler).unwrap();
    let output = run(fbl(dir).args(["--db", db, "--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&list).unwrap(), written);
    assert_eq!(recorded(), [list_arg]);
    passed();
}

/// `fbl run` (on `work`, with the configuration `fbl.toml` and the store `db`); its exit code
/// and standard error.
fn fbl_run(work: &Path, db: &str, extra: &[&str]) -> (Option<i32>, String, Vec<u8>) {
    let output = run(fbl(work)
        .args(["--db", db, "--config", "fbl.toml", "run"])
        .args(extra));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code(), stderr, output.stdout)
}

/// The one line of error of a run that a full store disk stopped in `step`, saying what is
/// kept.
fn assert_stopped_in(step: &str, db: &str, kept: &str, code: Option<i32>, stderr: &str) {
    assert_eq!(
        code,
        Some(2),
        "a full store disk is fatal in the {step} step: {stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{step}: store {db}: the disk is full; free some space and run fbl again ("
        )),
        "the error names the step and the store, and says the disk is full: {stderr}"
    );
    assert!(
        stderr.contains(kept),
        "the error says what is kept: {stderr}"
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line of error, nothing else: {stderr}"
    );
}

/// A command other than `fbl run` stopped by its store's full disk: exit 2, one line that
/// names the store, says the disk is full and what is kept.
fn assert_stopped_alone(db: &str, kept: &str, output: &std::process::Output) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.starts_with(&format!(
            "fbl: store {db}: the disk is full; free some space and run fbl again ({kept})"
        )),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn a_full_store_disk_in_the_report_step_is_fatal_and_a_full_report_folder_is_not() {
    if !as_root(
        "full_disk::a_full_store_disk_in_the_report_step_is_fatal_and_a_full_report_folder_is_not",
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let disk = Tmpfs::mount("2m");
    let store = disk.path().join("fbl.sqlite");
    let db = store.to_str().unwrap();
    // The report file on a disk of its own.
    let reports = Tmpfs::mount("256k");
    let report = reports.path().join("report.json");
    std::fs::write(
        dir.join("fbl.toml"),
        format!("[[report.output]]\nformat = \"json\"\npath = {report:?}\n"),
    )
    .unwrap();
    // Complaints ingested, not yet summarised for the report (only `fbl run` and `fbl report`
    // do that).
    let complaints: Vec<Vec<u8>> = (0..50)
        .map(|i| {
            arf(
                "abuse",
                &format!("user{i}@example.org"),
                &format!("m{i}@example.com"),
            )
        })
        .collect();
    maildir(&dir.join("Maildir"), &complaints);
    let output = run(fbl(dir).args(["--db", db, "ingest", "Maildir"]));
    assert_eq!(output.status.code(), Some(0));
    let summarised = || count_in(&store, "SELECT count(*) FROM complaint_facts");
    assert_eq!(summarised(), 0);

    // The store's disk full but for its -shm file: nothing before the report step writes, its
    // summary of the complaints cannot be written.
    let filler = disk.fill_leaving(SHM_BYTES);
    let kept = "everything ingested and exported this run is committed and kept; the next run \
                does the report step again";
    for _ in 0..2 {
        let (code, stderr, _) = fbl_run(dir, db, &[]);
        assert_stopped_in("report", db, kept, code, &stderr);
        assert_eq!(summarised(), 0);
        assert!(!report.exists(), "the run went on to write the report");
    }
    // `fbl report` summarises first too, and says the same of the store.
    let output = run(fbl(dir).args(["--db", db, "report"]));
    assert_stopped_alone(
        db,
        "nothing stored is lost; the next report summarises the complaints again",
        &output,
    );
    assert_eq!(summarised(), 0);

    // Room for the store, none on the report's disk: that report fails alone (exit 1), as an
    // export does, and the rest of the step is done.
    std::fs::remove_file(&filler).unwrap();
    let report_filler = reports.fill_leaving(0);
    let (code, stderr, _) = fbl_run(dir, db, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot write report {}", report.display()))
            && stderr.contains("No space left on device"),
        "the error names the report and says its disk is full: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(summarised(), 50);

    // With room everywhere, the report is written.
    std::fs::remove_file(&report_filler).unwrap();
    let (code, stderr, _) = fbl_run(dir, db, &[]);
    assert_eq!(code, Some(0), "{stderr}");
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(written.is_object(), "{written}");
    passed();
}

#[test]
fn a_full_store_disk_in_the_snds_step_is_fatal_with_the_shared_wording() {
    if !as_root("full_disk::a_full_store_disk_in_the_snds_step_is_fatal_with_the_shared_wording") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let disk = Tmpfs::mount("2m");
    let store = disk.path().join("fbl.sqlite");
    let db = store.to_str().unwrap();
    // The demo's SNDS account, read from its files.
    let snds = crate::support::fixtures().join("demo/snds");
    std::fs::write(
        dir.join("fbl.toml"),
        format!(
            "[snds]\ntimezone = \"UTC\"\nbackfill_days = 7\n\n\
             [[snds.legacy]]\nname = \"demo\"\nbase_url = \"file:{}\"\n",
            snds.display()
        ),
    )
    .unwrap();
    // The store made while the disk has room.
    fbl::store::Store::open(std::path::Path::new(db)).unwrap();
    let snds_rows = || count_in(&store, "SELECT count(*) FROM snds_data");

    let filler = disk.fill_leaving(SHM_BYTES);
    let (code, stderr, _) = fbl_run(dir, db, &[]);
    assert_stopped_in(
        "snds",
        db,
        "everything ingested this run is committed and kept, and the SNDS days stored; the \
         next run fetches the others",
        code,
        &stderr,
    );
    assert_eq!(snds_rows(), 0);
    let output = run(fbl(dir).args(["--config", "fbl.toml", "--db", db, "snds", "fetch"]));
    assert_stopped_alone(
        db,
        "the SNDS days stored before are kept; the next fetch gets the others",
        &output,
    );
    assert_eq!(snds_rows(), 0);

    // With room again, the run stores the days and raises their alerts.
    std::fs::remove_file(&filler).unwrap();
    let (code, stderr, stdout) = fbl_run(dir, db, &["--json"]);
    assert_eq!(code, Some(1), "the demo's SNDS alerts: {stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert!(
        summary["snds"]["accounts"][0]["rows"].as_u64() > Some(0),
        "{summary}"
    );
    assert!(
        !summary["alerts"].as_array().unwrap().is_empty(),
        "{summary}"
    );
    assert!(snds_rows() > 0);
    passed();
}

/// The SNDS API's token endpoint rotates the refresh token at every refresh. A store disk
/// too full to keep the rotated one stops the run (exit 2) and `fbl snds fetch` with the
/// shared wording, which says that a login may be needed; no token is shown.
#[test]
fn a_store_disk_too_full_for_the_rotated_snds_token_is_fatal_and_says_so() {
    use crate::http_server::{TestServer, json, respond, write_test_ca};
    if !as_root("full_disk::a_store_disk_too_full_for_the_rotated_snds_token_is_fatal_and_says_so")
    {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let server = TestServer::start_tls(|request, nth| match request.path() {
        "/token" => json(
            200,
            &format!(
                r#"{{"access_token":"AT-SECRET-{n}","refresh_token":"RT-SECRET-{n}","expires_in":3600}}"#,
                n = nth + 2
            ),
        ),
        _ => respond(404, "text/plain", "no"),
    });
    let url = server.url();
    std::fs::write(
        dir.join("fbl.toml"),
        format!(
            "[snds]\ntimezone = \"UTC\"\nretries = 1\nretry_backoff_secs = 0\ntimeout_secs = 5\n\
             backfill_days = 1\nca_file = \"{}\"\n\n[snds.api]\nname = \"newapi\"\n\
             base_url = \"{url}\"\nauthorize_url = \"{url}/authorize\"\n\
             token_url = \"{url}/token\"\ndevice_code_url = \"{url}/devicecode\"\n\
             client_id = \"fbl-test-client\"\nscopes = [\"api://snds/.default\"]\n",
            write_test_ca(dir).display()
        ),
    )
    .unwrap();
    let disk = Tmpfs::mount("2m");
    let store = disk.path().join("fbl.sqlite");
    let db = store.to_str().unwrap();
    {
        let mut store = fbl::store::Store::open(&store).unwrap();
        let mut batch = store.begin().unwrap();
        batch
            .set_snds_refresh_token("newapi", "RT-SECRET-1", "2026-11-19T00:00:00Z")
            .unwrap();
        batch.commit().unwrap();
    }
    let token = || {
        let (_copy, conn) = open_copy(&store);
        conn.query_row(
            "SELECT refresh_token FROM snds_accounts WHERE account = 'newapi'",
            [],
            |row| row.get::<_, String>(0),
        )
        .unwrap()
    };
    let no_secret = |text: &str| {
        assert!(
            !text.contains("AT-SECRET") && !text.contains("RT-SECRET"),
            "a token is shown: {text}"
        );
    };
    let lost = "cannot keep the rotated refresh token in the store (if the next fetch is \
                refused, run `fbl snds login`)";

    let _filler = disk.fill_leaving(SHM_BYTES);
    let (code, stderr, stdout) = fbl_run(dir, db, &[]);
    assert_stopped_in(
        "snds",
        db,
        "everything ingested this run is committed and kept, and the SNDS days stored; the \
         next run fetches the others",
        code,
        &stderr,
    );
    assert!(stderr.contains(lost), "{stderr}");
    no_secret(&stderr);
    no_secret(&String::from_utf8_lossy(&stdout));
    let output = run(fbl(dir).args(["--config", "fbl.toml", "--db", db, "snds", "fetch"]));
    assert_stopped_alone(
        db,
        "the SNDS days stored before are kept; the next fetch gets the others",
        &output,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(lost), "{stderr}");
    no_secret(&stderr);
    assert_eq!(token(), "RT-SECRET-1", "the token kept is the one before");
    assert_eq!(server.requests().len(), 2, "one refresh per command");
    passed();
}

#[test]
fn a_full_store_disk_while_expiring_is_fatal_with_the_shared_wording() {
    if !as_root("full_disk::a_full_store_disk_while_expiring_is_fatal_with_the_shared_wording") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let disk = Tmpfs::mount("2m");
    let store = disk.path().join("fbl.sqlite");
    let db = store.to_str().unwrap();
    std::fs::write(
        dir.join("fbl.toml"),
        "[suppression]\nexpire_after_days = { manual = 1 }\n",
    )
    .unwrap();
    // A suppression that expired on 2 November; the run is on the 20th.
    let output = run(fbl(dir)
        .env("FBL_NOW", "2026-11-01T08:00:00Z")
        .args(["--db", db, "--config", "fbl.toml", "suppress", "add"])
        .args(["gone@example.org", "--reason", "manual"]));
    assert_eq!(output.status.code(), Some(0));
    let active = || {
        count_in(
            &store,
            "SELECT count(*) FROM suppressions WHERE removed_at IS NULL",
        )
    };
    assert_eq!(active(), 1);

    let filler = disk.fill_leaving(SHM_BYTES);
    let (code, stderr, _) = fbl_run(dir, db, &[]);
    assert_stopped_in(
        "expiry",
        db,
        "everything ingested and fetched this run is committed and kept; the next run expires \
         suppressions and prunes the send log",
        code,
        &stderr,
    );
    assert_eq!(active(), 1);

    std::fs::remove_file(&filler).unwrap();
    let (code, stderr, stdout) = fbl_run(dir, db, &["--json"]);
    assert_eq!(code, Some(0), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(summary["expired"], 1);
    assert_eq!(active(), 0);
    passed();
}

/// A store on a read-only file system (a backup mounted read-only) is read by the commands
/// that only read it (SQLite cannot make its -wal and -shm there: fbl opens it read-only);
/// a command that writes says the folder is not writable, instead of SQLite's "unable to
/// open database file".
#[test]
fn a_store_on_a_read_only_file_system_is_read_and_a_change_says_its_folder_is_not_writable() {
    if !as_root(
        "full_disk::a_store_on_a_read_only_file_system_is_read_and_a_change_says_its_folder_is_not_writable",
    ) {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount("4m");
    let store = disk.path().join("fbl.sqlite");
    let db = store.to_str().unwrap();
    let output = run(fbl(work.path()).args(["--db", db, "suppress", "add", "a@example.org"]));
    assert_eq!(output.status.code(), Some(0));
    mount(&["-o", "remount,ro", "tmpfs"], disk.path());
    let output = run(fbl(work.path()).args(["--db", db, "suppress", "check", "a@example.org"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).starts_with("a@example.org suppressed"));
    let output = run(fbl(work.path()).args(["--db", db, "suppress", "add", "b@example.org"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("its folder") && stderr.contains("is not writable"),
        "{stderr}"
    );
    passed();
}

/// A mailbox's token endpoint rotates the refresh token, and the disk that holds the token
/// file is full: the run still reads the mailbox with the access token it got, says the new
/// token was not kept and what to do, and the old token file is left whole.
#[test]
fn a_rotated_mailbox_token_that_cannot_be_kept_is_said_and_the_run_goes_on() {
    if !as_root(
        "full_disk::a_rotated_mailbox_token_that_cannot_be_kept_is_said_and_the_run_goes_on",
    ) {
        return;
    }
    let server = Dovecot::start();
    let user = format!("oauth-{}", std::process::id());
    let body = format!(
        "{{\"access_token\":\"{}\",\"refresh_token\":\"rotated-refresh-7c1d\",\
         \"token_type\":\"Bearer\",\"expires_in\":3600}}",
        server.access_token(&user)
    );
    let (port, _requests) = crate::imap_poll::token_endpoint(200, body);
    let disk = Tmpfs::mount("64k");
    let token_file = disk.path().join("refresh-token");
    std::fs::write(&token_file, "first-refresh-3b2a\n").unwrap();
    disk.fill_leaving(0);
    let (dir, _) = crate::imap_poll::xoauth2_setup(
        &server,
        &format!(
            "[mailbox.oauth]\ntoken_url = \"http://127.0.0.1:{port}/token\"\n\
             client_id = \"fbl-test\"\nscopes = [\"offline_access\"]\n\
             refresh_token_file = \"{}\"\n",
            token_file.display()
        ),
    );
    let output = run(fbl(dir.path())
        .env_remove("RUST_BACKTRACE")
        .args(["--config", "fbl.toml", "run", "--json"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let summary: serde_json::Value =
        serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    assert_eq!(summary["ingest"]["stored"], 4, "{stderr}");
    assert!(
        stderr.contains("mailbox m365: the token endpoint sent a new refresh token")
            && stderr.contains("fbl mailbox login m365"),
        "{stderr}"
    );
    assert!(!stderr.contains("rotated-refresh-7c1d"), "{stderr}");
    assert!(!stderr.contains("first-refresh-3b2a"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap(),
        "first-refresh-3b2a\n",
        "the old token is left whole"
    );
    passed();
}
