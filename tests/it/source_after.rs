//! `[[source]] after`: what `fbl run` does with a local source's message files once the store
//! keeps their message (delete, or move into a folder or a Maildir), and never with one it
//! does not keep (an oversized message, whose head alone is in quarantine), one written in the
//! last two minutes (perhaps half-written) or an empty one; an mbox is refused; a dry run
//! touches nothing.

use crate::support::{arf, fbl, run, stdout};
use std::path::Path;

fn maildir(root: &Path, name: &str) -> std::path::PathBuf {
    let dir = root.join(name);
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    dir
}

/// Writes a message file as a delivery an hour ago left it (settled: see
/// `fbl::run::SOURCE_FILE_SETTLE`).
fn put(path: impl AsRef<Path>, bytes: &[u8]) {
    let path = path.as_ref();
    std::fs::write(path, bytes).unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

fn config(dir: &Path, source_path: &str, after: &str) {
    std::fs::write(
        dir.join("fbl.toml"),
        format!(
            "[store]\npath = \"fbl.sqlite\"\n[limits]\nmax_message_bytes = 4000\n\n\
             [[source]]\nname = \"local\"\npath = \"{source_path}\"\nafter = \"{after}\"\n"
        ),
    )
    .unwrap();
}

fn fbl_run(dir: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let output = run(fbl(dir)
        .args(["--config", "fbl.toml", "run", "--json"])
        .args(extra));
    let summary = serde_json::from_str(&stdout(&output)).unwrap_or(serde_json::Value::Null);
    (output.status.code(), summary)
}

/// A Maildir of a complaint, a duplicate delivery of it, a broken report and one too big:
/// `delete` removes the first three (stored, a duplicate, quarantined with its bytes) and
/// leaves the one whose head alone is kept; a dry run before touches nothing.
#[test]
fn delete_removes_the_files_whose_message_the_store_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = maildir(dir.path(), "Maildir");
    let complaint = arf("abuse", "jane@example.org", "m1@example.com");
    put(inbox.join("new/1.host"), &complaint);
    put(inbox.join("new/2.host"), &complaint);
    put(
        inbox.join("new/3.host"),
        b"Subject: hello\n\nnot a report at all\n",
    );
    let mut big = arf("abuse", "joe@example.org", "m2@example.com");
    big.extend(std::iter::repeat_n(b'x', 5000));
    put(inbox.join("cur/4.host:2,S"), &big);
    config(dir.path(), "Maildir", "delete");

    let (_, summary) = fbl_run(dir.path(), &["--dry-run"]);
    assert_eq!(summary["source_files"], serde_json::json!([]), "{summary}");
    assert_eq!(files(&inbox.join("new")), ["1.host", "2.host", "3.host"]);

    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "the oversized one is quarantined: {summary}");
    assert_eq!(summary["source_files"][0]["done"], 3, "{summary}");
    assert_eq!(summary["source_files"][0]["left"], 1, "{summary}");
    assert!(files(&inbox.join("new")).is_empty());
    assert_eq!(
        files(&inbox.join("cur")),
        ["4.host:2,S"],
        "its head alone is kept"
    );
    // The next run reads the one left (already in quarantine) and nothing else.
    let (_, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(summary["ingest"]["messages"], 1, "{summary}");
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "suppress",
        "check",
        "jane@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0));
}

/// `move:FOLDER` puts the files into a Maildir's `cur/` (a folder with `cur/` and `new/`) or a
/// plain folder, under their own names; a name taken there by another file is never
/// replaced (the file gets `NAME.1`), and one taken by the same bytes (a move a run stopped
/// before it removed the original) is this file: the original goes.
#[test]
fn move_puts_the_files_into_a_maildir_or_a_folder_and_replaces_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = maildir(dir.path(), "Maildir");
    let done = maildir(dir.path(), "Done");
    let one = arf("abuse", "a@example.org", "m1@example.com");
    let two = arf("abuse", "b@example.org", "m2@example.com");
    let three = arf("abuse", "c@example.org", "m3@example.com");
    put(inbox.join("new/1.host"), &one);
    put(inbox.join("new/2.host"), &two);
    put(inbox.join("new/3.host"), &three);
    std::fs::write(done.join("cur/2.host"), b"someone else's file").unwrap();
    std::fs::write(done.join("cur/3.host"), &three).unwrap();
    config(dir.path(), "Maildir", "move:Done");
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["source_files"][0]["done"], 3, "{summary}");
    assert!(files(&inbox.join("new")).is_empty());
    assert_eq!(
        files(&done.join("cur")),
        ["1.host", "2.host", "2.host.1", "3.host"]
    );
    assert_eq!(
        std::fs::read(done.join("cur/2.host")).unwrap(),
        b"someone else's file",
        "never replaced"
    );
    assert_eq!(std::fs::read(done.join("cur/2.host.1")).unwrap(), two);

    // A plain folder that does not exist is never made (a mistyped name would hide the
    // files): said, exit 1, the files stay; once it is made, they are moved into it.
    let dir = tempfile::tempdir().unwrap();
    let inbox = maildir(dir.path(), "Maildir");
    put(inbox.join("new/1.host"), &one);
    config(dir.path(), "Maildir", "move:processed/fbl");
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "{summary}");
    assert!(
        summary["source_errors"]
            .to_string()
            .contains("is not a folder (fbl creates none"),
        "{summary}"
    );
    assert!(!dir.path().join("processed").exists());
    assert_eq!(files(&inbox.join("new")), ["1.host"]);
    std::fs::create_dir_all(dir.path().join("processed/fbl")).unwrap();
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(files(&dir.path().join("processed/fbl")), ["1.host"]);
    assert!(files(&inbox.join("new")).is_empty());
}

/// A file written in the last two minutes may be half-written by a tool that writes in place:
/// it stays (a later run reads it whole), as does an empty one; in a plain folder, the rest of
/// such a file reaches the store.
#[test]
fn a_file_written_just_now_or_empty_stays() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    let complaint = arf("abuse", "a@example.org", "m1@example.com");
    let half = &complaint[..complaint.len() / 2];
    std::fs::write(dir.path().join("in/being-written.eml"), half).unwrap();
    put(dir.path().join("in/empty.eml"), b"");
    config(dir.path(), "in", "delete");
    let (_, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(summary["source_files"][0]["done"], 0, "{summary}");
    assert_eq!(summary["source_files"][0]["left"], 2, "{summary}");
    assert_eq!(
        files(&dir.path().join("in")),
        ["being-written.eml", "empty.eml"]
    );
    // Written whole, and settled: stored, then deleted.
    put(dir.path().join("in/being-written.eml"), &complaint);
    let (_, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(summary["source_files"][0]["done"], 1, "{summary}");
    assert_eq!(files(&dir.path().join("in")), ["empty.eml"]);
    let output =
        run(fbl(dir.path()).args(["--config", "fbl.toml", "suppress", "check", "a@example.org"]));
    assert_eq!(output.status.code(), Some(0));
}

/// An empty file stays in the source (it may be a file still being written), so every run
/// reads it again: the first run says it (exit 1), the next ones count it as already in
/// quarantine and are silent, as for any other broken file. Another empty file is said at
/// every run until it is deleted: all empty messages share one quarantine entry, so a
/// dismissal cannot tell them apart, and must not silence the empty deliveries to come. Both
/// used to be said, exit 1, at every cron run.
#[test]
fn an_empty_file_left_in_a_source_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    put(dir.path().join("in/empty.eml"), b"");
    for after in ["keep", "delete"] {
        config(dir.path(), "in", after);
        let (code, summary) = fbl_run(dir.path(), &[]);
        let first = after == "keep";
        assert_eq!(code, Some(if first { 1 } else { 0 }), "{after}: {summary}");
        assert_eq!(
            summary["ingest"]["quarantined"],
            u64::from(first),
            "{after}: {summary}"
        );
    }
    let output = run(fbl(dir.path())
        .env_remove("RUST_BACKTRACE")
        .args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "", "silent under cron");
    put(dir.path().join("in/empty-too.eml"), b"");
    for _ in 0..2 {
        let (code, summary) = fbl_run(dir.path(), &[]);
        assert_eq!(code, Some(1), "another empty file: {summary}");
    }
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "quarantine",
        "dismiss",
        "1",
        "--reason",
        "empty files left by a broken delivery",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "dismissed, and still there: {summary}");
    std::fs::remove_file(dir.path().join("in/empty-too.eml")).unwrap();
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "deleted: {summary}");
}

/// An mbox cannot have its messages taken out one by one: `after` other than `keep` is said,
/// and the mbox is read and left whole; a folder the source reads is refused as a target;
/// a value that is no action is a configuration error.
#[test]
fn an_mbox_or_a_folder_the_source_reads_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut mbox = b"From MAILER-DAEMON Thu Nov 20 08:00:00 2026\n".to_vec();
    mbox.extend(arf("abuse", "a@example.org", "m1@example.com"));
    std::fs::write(dir.path().join("reports.mbox"), &mbox).unwrap();
    config(dir.path(), "reports.mbox", "delete");
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 1, "{summary}");
    assert!(
        summary["source_errors"].to_string().contains("is an mbox"),
        "{summary}"
    );
    assert_eq!(
        std::fs::read(dir.path().join("reports.mbox")).unwrap(),
        mbox
    );

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    put(
        dir.path().join("in/a.eml"),
        &arf("abuse", "a@example.org", "m1@example.com"),
    );
    config(dir.path(), "in", "move:in/done");
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "{summary}");
    assert!(
        summary["source_errors"]
            .to_string()
            .contains("is a folder the source reads"),
        "{summary}"
    );
    assert_eq!(files(&dir.path().join("in")), ["a.eml"], "nothing made");

    config(dir.path(), "in", "remove");
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("after = \"remove\" is not one of keep, delete, move:FOLDER"),
        "{stderr}"
    );
}

/// Under `after = "keep"` a source's files are read again at every run: they are said as
/// already stored, not as duplicates, which stay for another delivery of a stored report
/// (the same report with other trace fields, or the same bytes twice within a run).
#[test]
fn files_kept_and_read_again_are_already_stored_not_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = maildir(dir.path(), "Maildir");
    // With a Message-ID of its own, a report is known in another delivery too.
    let with_id = |id: &str, report: Vec<u8>| {
        let mut bytes = format!("Message-ID: <{id}@arf.mail.yahoo.com>\n").into_bytes();
        bytes.extend_from_slice(&report);
        bytes
    };
    let one = with_id("r1", arf("abuse", "a@example.org", "m1@example.com"));
    let two = with_id("r2", arf("abuse", "b@example.org", "m2@example.com"));
    put(inbox.join("new/1.host"), &one);
    put(inbox.join("new/2.host"), &two);
    // The same bytes twice in one run: a report delivered twice.
    put(inbox.join("new/3.host"), &two);
    config(dir.path(), "Maildir", "keep");

    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 2, "{summary}");
    assert_eq!(summary["ingest"]["duplicates"], 1, "{summary}");
    assert_eq!(summary["already_stored"], 0, "{summary}");

    // The next run reads the three files again and a new delivery of the first report, with
    // a trace field of its own.
    let mut again =
        b"Received: from mx2.example.net by mx.example.com; Fri, 20 Nov 2026 07:00:00 +0000\n"
            .to_vec();
    again.extend_from_slice(&one);
    put(inbox.join("new/4.host"), &again);
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["messages"], 4, "{summary}");
    assert_eq!(summary["ingest"]["stored"], 0, "{summary}");
    assert_eq!(summary["already_stored"], 3, "{summary}");
    assert_eq!(summary["ingest"]["duplicates"], 1, "{summary}");

    // The summary a person reads says so.
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run", "--dry-run"]));
    assert!(
        stdout(&output).starts_with(
            "4 messages: 0 stored, 1 duplicates, 0 quarantined, 3 already stored (source files \
             read again)\n"
        ),
        "{}",
        stdout(&output)
    );
}

/// A report delivered directly and again attached to an out-of-office reply is one report:
/// the reply is a duplicate, and `delete` removes both files (the store keeps their report),
/// as it removes another delivery of a stored report. Before, the reply was stored as a
/// second complaint.
#[test]
fn a_reply_attaching_a_stored_report_is_a_duplicate_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = maildir(dir.path(), "Maildir");
    let mut report = b"Message-ID: <r1@arf.mail.yahoo.com>\n".to_vec();
    report.extend_from_slice(&arf("abuse", "a@example.org", "m1@example.com"));
    put(inbox.join("new/1.host"), &report);
    put(
        inbox.join("new/2.host"),
        &crate::forwarded_reports::out_of_office_attaching(&report),
    );
    config(dir.path(), "Maildir", "delete");
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 1, "{summary}");
    assert_eq!(summary["ingest"]["duplicates"], 1, "{summary}");
    assert_eq!(summary["source_files"][0]["done"], 2, "{summary}");
    assert_eq!(summary["source_files"][0]["left"], 0, "{summary}");
    assert!(files(&inbox.join("new")).is_empty());
}
