//! `fbl run` reads each configured send log from where the run before stopped: appended
//! lines only, a bad line said once, a line still being written left whole for the next run,
//! a truncated, replaced or rotated log read from its start (the rest of `PATH.1` first),
//! a dry run and `fbl sendlog import` moving nothing, `fbl sendlog rewind`, the Postfix
//! carry across a resume, and a failed import never leaving the position past what it did
//! not commit. Real SQLite files; the store part on PostgreSQL too.

use crate::store::{Backend, TestStore};
use crate::support::{fbl, run, stdout};
use fbl::store::SendLogPosition;
use std::io::Write;
use std::path::Path;

const NOW: &str = "2026-11-28T12:00:00Z";

/// A folder with a configuration importing `imports` (path, format) into `fbl.sqlite`.
fn setup(imports: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), imports, true);
    dir
}

fn write_config(dir: &Path, imports: &[(&str, &str)], with_store: bool) {
    let list: Vec<String> = imports
        .iter()
        .map(|(path, format)| format!("{{ path = \"{path}\", format = \"{format}\" }}"))
        .collect();
    let store = if with_store {
        "[store]\npath = \"fbl.sqlite\"\n"
    } else {
        ""
    };
    std::fs::write(
        dir.join("fbl.toml"),
        format!(
            "{store}[send_log]\nretention_days = 5000\nimport = [{}]\n",
            list.join(", ")
        ),
    )
    .unwrap();
}

fn append(dir: &Path, file: &str, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(file))
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

fn size(dir: &Path, file: &str) -> u64 {
    std::fs::metadata(dir.join(file)).unwrap().len()
}

/// `fbl run --json` (and `extra` arguments): its exit status and summary.
fn fbl_run(dir: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    run_with(fbl(dir), extra)
}

fn run_with(
    mut command: std::process::Command,
    extra: &[&str],
) -> (Option<i32>, serde_json::Value) {
    let output = run(command
        .env("FBL_NOW", NOW)
        .env("TZ", "UTC")
        .args(["--config", "fbl.toml", "run", "--json"])
        .args(extra));
    let summary = serde_json::from_str(&stdout(&output)).unwrap_or(serde_json::Value::Null);
    (output.status.code(), summary)
}

fn send_log(dir: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.join("fbl.sqlite")).unwrap();
    let mut statement = db
        .prepare("SELECT recipient FROM send_log ORDER BY recipient")
        .unwrap();
    statement
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn positions(dir: &Path) -> Vec<SendLogPosition> {
    fbl::store::Store::open(&dir.join("fbl.sqlite"))
        .unwrap()
        .send_log_positions()
        .unwrap()
}

fn csv_row(name: &str) -> String {
    format!("<{name}@s.example>,{name}@example.org,2026-11-27T10:00:00Z\n")
}

const CSV_HEADER: &str = "message_id,recipient,sent_at\n";

/// The bad line a CSV log holds is said by the run that first reads it, exit 1, and not by
/// the next runs, which read only what was added: good lines still imported, a new bad line
/// said once, by its line number in the whole file.
#[test]
fn a_bad_line_is_said_once_and_the_lines_added_after_it_are_imported() {
    let dir = setup(&[("sends.csv", "csv")]);
    let first = format!(
        "{CSV_HEADER}{}not an address,,\n{}",
        csv_row("a1"),
        csv_row("a2")
    );
    append(dir.path(), "sends.csv", &first);
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "{summary}");
    let imported = &summary["send_log"][0];
    assert_eq!(imported["bad_lines"], 1);
    assert_eq!(imported["added"], 2);
    assert_eq!(imported["from_start"], "first_read");
    assert!(imported.get("resumed_at").is_none(), "{imported}");
    assert_eq!(imported["bytes_read"], first.len());
    assert_eq!(imported["partial_line_bytes"], 0);

    append(dir.path(), "sends.csv", &csv_row("b1"));
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "the bad line is not said again: {summary}");
    let imported = &summary["send_log"][0];
    assert_eq!(
        (
            &imported["bad_lines"],
            &imported["entries"],
            &imported["added"]
        ),
        (&0.into(), &1.into(), &1.into())
    );
    assert_eq!(imported["resumed_at"], first.len());
    assert!(imported.get("from_start").is_none(), "{imported}");
    assert_eq!(imported["bytes_read"], csv_row("b1").len());

    // Nothing added: nothing read, nothing said.
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["send_log"][0]["bytes_read"], 0);
    assert_eq!(summary["send_log"][0]["entries"], 0);

    // A new bad line is said once, by its line in the file; the line after it imported.
    let offset = size(dir.path(), "sends.csv");
    let added = format!("<c1@s.example>,,\n{}", csv_row("c2"));
    append(dir.path(), "sends.csv", &added);
    let output = run(fbl(dir.path())
        .env("FBL_NOW", NOW)
        .args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("sends.csv: line 6: missing recipient"),
        "{text}"
    );
    assert!(
        text.contains(&format!("read {} bytes from byte {offset}", added.len())),
        "{text}"
    );
    assert_eq!(
        send_log(dir.path()),
        [
            "a1@example.org",
            "a2@example.org",
            "b1@example.org",
            "c2@example.org"
        ]
    );
    let (code, _) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0));
}

/// A last line without its line end is being written: it is left, and read whole by the
/// next run once it is finished.
#[test]
fn a_line_still_being_written_is_read_whole_by_the_next_run() {
    let dir = setup(&[("sends.jsonl", "jsonl")]);
    let whole = "{\"message_id\":\"<j1@s.example>\",\"recipient\":\"j1@example.org\"}\n";
    let (start, rest) = (
        "{\"message_id\":\"<j2@s.exa",
        "mple>\",\"recipient\":\"j2@example.org\"}\n",
    );
    append(dir.path(), "sends.jsonl", &format!("{whole}{start}"));
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "half a line is no bad line: {summary}");
    let imported = &summary["send_log"][0];
    assert_eq!(imported["added"], 1);
    assert_eq!(imported["bytes_read"], whole.len());
    assert_eq!(imported["partial_line_bytes"], start.len());
    assert_eq!(positions(dir.path())[0].byte_offset, whole.len() as u64);

    append(dir.path(), "sends.jsonl", rest);
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    let imported = &summary["send_log"][0];
    assert_eq!(imported["resumed_at"], whole.len());
    assert_eq!(imported["added"], 1);
    assert_eq!(imported["partial_line_bytes"], 0);
    assert_eq!(send_log(dir.path()), ["j1@example.org", "j2@example.org"]);
}

/// A log truncated in place (logrotate's copytruncate) and one replaced by another file are
/// read from their start, and say why; another format reads it from the start too.
#[test]
fn a_truncated_or_replaced_log_is_read_from_its_start() {
    let dir = setup(&[("sends.csv", "csv")]);
    let rows: String = (0..20).map(|i| csv_row(&format!("old{i:02}"))).collect();
    append(dir.path(), "sends.csv", &format!("{CSV_HEADER}{rows}"));
    assert_eq!(fbl_run(dir.path(), &[]).0, Some(0));

    // Truncated, then written again: shorter than the position.
    std::fs::write(
        dir.path().join("sends.csv"),
        format!("{CSV_HEADER}{}", csv_row("new1")),
    )
    .unwrap();
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    let imported = &summary["send_log"][0];
    assert_eq!(imported["from_start"], "truncated");
    assert_eq!(imported["added"], 1);

    // Replaced by a longer file that begins otherwise.
    let other: String = (0..30).map(|i| csv_row(&format!("rep{i:02}"))).collect();
    std::fs::write(
        dir.path().join("sends.csv"),
        format!("{CSV_HEADER}\n{other}"),
    )
    .unwrap();
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    let imported = &summary["send_log"][0];
    assert_eq!(imported["from_start"], "replaced");
    assert_eq!(imported["added"], 30);

    // A header read from the start when reading resumes after it, also past a blank line.
    append(dir.path(), "sends.csv", &csv_row("late"));
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(
        (code, &summary["send_log"][0]["added"]),
        (Some(0), &1.into())
    );

    // Read as another format: from the start.
    write_config(dir.path(), &[("sends.csv", "jsonl")], true);
    let (_, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(summary["send_log"][0]["from_start"], "format_changed");
}

fn cleanup(time: &str, queue_id: &str, message_id: &str) -> String {
    format!("Nov 28 {time} mail01 postfix/cleanup[1202]: {queue_id}: message-id=<{message_id}>\n")
}

fn sent(time: &str, queue_id: &str, to: &str) -> String {
    format!(
        "Nov 28 {time} mail01 postfix/smtp[1300]: {queue_id}: to=<{to}>, relay=mx.example.net[198.51.100.7]:25, delay=1, delays=0.05/0.01/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)\n"
    )
}

fn removed(time: &str, queue_id: &str) -> String {
    format!("Nov 28 {time} mail01 postfix/qmgr[1100]: {queue_id}: removed\n")
}

/// A Postfix message whose message-id= was read by one run and whose delivery is added
/// after it is recorded by the next, which reads only what was added: the queue id left
/// open is carried. Lines of other programs alone in what was added are no wrong format.
#[test]
fn a_postfix_delivery_added_after_its_message_id_was_read_is_recorded() {
    let dir = setup(&[("mail.log", "postfix")]);
    append(
        dir.path(),
        "mail.log",
        &format!(
            "{}{}{}",
            cleanup("01:00:00", "1AAA11111", "one@sender.example"),
            sent("01:00:01", "1AAA11111", "one@example.net"),
            cleanup("01:00:02", "2BBB22222", "two@sender.example")
        ),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["send_log"][0]["added"], 1);
    let offset = size(dir.path(), "mail.log");

    append(
        dir.path(),
        "mail.log",
        "Nov 28 01:00:03 mail01 dovecot: imap-login: Login: user=<x>\n",
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "only dovecot lines added: {summary}");
    assert_eq!(summary["send_log"][0]["none_recognised"], false);

    append(
        dir.path(),
        "mail.log",
        &format!(
            "{}{}",
            sent("01:05:00", "2BBB22222", "two@example.net"),
            removed("01:05:00", "2BBB22222")
        ),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    let imported = &summary["send_log"][0];
    assert!(imported["resumed_at"].as_u64().unwrap() > offset);
    assert_eq!(
        (&imported["added"], &imported["bad_lines"]),
        (&1.into(), &0.into())
    );
    assert_eq!(send_log(dir.path()), ["one@example.net", "two@example.net"]);
}

/// logrotate renames `mail.log` to `mail.log.1` and starts a new `mail.log`: the lines
/// added to the old file after the last run are read from `mail.log.1`, then the new file
/// from its start, and a message queued in one and delivered in the other is recorded.
#[test]
fn a_log_rotated_by_renaming_is_read_to_its_end_then_the_new_one_from_its_start() {
    let dir = setup(&[("mail.log", "postfix")]);
    append(
        dir.path(),
        "mail.log",
        &format!(
            "{}{}",
            cleanup("01:00:00", "1AAA11111", "one@sender.example"),
            sent("01:00:01", "1AAA11111", "one@example.net"),
        ),
    );
    assert_eq!(fbl_run(dir.path(), &[]).0, Some(0));
    let offset = size(dir.path(), "mail.log");
    // Written after that run, before the rotation.
    append(
        dir.path(),
        "mail.log",
        &format!(
            "{}{}",
            cleanup("02:00:00", "3CCC33333", "three@sender.example"),
            sent("02:00:01", "3CCC33333", "three@example.net"),
        ),
    );
    append(
        dir.path(),
        "mail.log",
        &cleanup("02:00:02", "4DDD44444", "four@sender.example"),
    );
    std::fs::rename(dir.path().join("mail.log"), dir.path().join("mail.log.1")).unwrap();
    append(
        dir.path(),
        "mail.log",
        &format!(
            "{}{}{}{}",
            sent("03:00:00", "4DDD44444", "four@example.net"),
            removed("03:00:00", "4DDD44444"),
            cleanup("03:00:01", "5EEE55555", "five@sender.example"),
            sent("03:00:02", "5EEE55555", "five@example.net"),
        ),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    let logs = summary["send_log"].as_array().unwrap();
    assert_eq!(logs.len(), 2, "{summary}");
    assert!(logs[0]["origin"].as_str().unwrap().ends_with("mail.log.1"));
    assert_eq!(logs[0]["resumed_at"], offset);
    assert_eq!(logs[0]["added"], 1);
    assert!(logs[1]["origin"].as_str().unwrap().ends_with("mail.log"));
    assert_eq!(logs[1]["from_start"], "rotated");
    assert_eq!(
        (&logs[1]["added"], &logs[1]["bad_lines"]),
        (&2.into(), &0.into())
    );
    assert_eq!(
        send_log(dir.path()),
        [
            "five@example.net",
            "four@example.net",
            "one@example.net",
            "three@example.net"
        ]
    );
    // The next run reads on in the new file.
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0));
    assert_eq!(summary["send_log"].as_array().unwrap().len(), 1);
    assert_eq!(
        summary["send_log"][0]["resumed_at"],
        size(dir.path(), "mail.log")
    );
}

fn postfix_send(time: &str, queue_id: &str, name: &str) -> String {
    format!(
        "{}{}{}",
        cleanup(time, queue_id, &format!("{name}@sender.example")),
        sent(time, queue_id, &format!("{name}@example.net")),
        removed(time, queue_id)
    )
}

/// The host was down over two nightly rotations (or a backup of the store two days old was
/// put back): the file the last run read is now `mail.log.2.gz`, and `mail.log.1` is a whole
/// day no run read. It is read whole before the new `mail.log`, and the run says once that
/// what came after its position in the file read last may be in a copy it does not read.
#[test]
fn a_log_rotated_twice_since_the_last_run_has_its_newest_copy_read_whole() {
    let dir = setup(&[("mail.log", "postfix")]);
    append(
        dir.path(),
        "mail.log",
        &postfix_send("01:00:00", "1AAA11111", "one"),
    );
    assert_eq!(fbl_run(dir.path(), &[]).0, Some(0));
    let path = |name: &str| dir.path().join(name);
    std::fs::rename(path("mail.log"), path("mail.log.1")).unwrap();
    append(
        dir.path(),
        "mail.log",
        &postfix_send("02:00:00", "2BBB22222", "two"),
    );
    std::fs::rename(path("mail.log.1"), path("mail.log.2")).unwrap();
    std::fs::rename(path("mail.log"), path("mail.log.1")).unwrap();
    append(
        dir.path(),
        "mail.log",
        &postfix_send("03:00:00", "3CCC33333", "three"),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(
        send_log(dir.path()),
        ["one@example.net", "three@example.net", "two@example.net"],
        "{summary}"
    );
    let logs = summary["send_log"].as_array().unwrap();
    assert_eq!(logs.len(), 2, "{summary}");
    assert!(logs[0]["origin"].as_str().unwrap().ends_with("mail.log.1"));
    let said = logs[1]["errors"][0].as_str().unwrap();
    assert!(
        said.contains("mail.log.1 read whole") && said.contains("fbl sendlog import"),
        "{said}"
    );
    // Said once: the next run reads on in the new file.
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
}

/// With logrotate's `dateext`, two rotations leave the file read last as the older of two
/// dated copies: the rest of it is read, then the newer copy whole, then the new log. A
/// `maillog.1` left from before a switch to `dateext`, last written before the last run, is
/// not read again.
#[test]
fn two_dated_rotations_since_the_last_run_are_both_read() {
    let dir = setup(&[("maillog", "postfix")]);
    append(
        dir.path(),
        "maillog",
        &postfix_send("01:00:00", "1AAA11111", "one"),
    );
    assert_eq!(fbl_run(dir.path(), &[]).0, Some(0));
    let path = |name: &str| dir.path().join(name);
    let day = |n: u64| std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(n);
    // Written after that run, before the first rotation.
    append(
        dir.path(),
        "maillog",
        &postfix_send("01:30:00", "4DDD44444", "four"),
    );
    std::fs::rename(path("maillog"), path("maillog-20261127")).unwrap();
    append(
        dir.path(),
        "maillog",
        &postfix_send("02:00:00", "2BBB22222", "two"),
    );
    std::fs::rename(path("maillog"), path("maillog-20261128")).unwrap();
    append(
        dir.path(),
        "maillog.1",
        &postfix_send("00:30:00", "5EEE55555", "stale"),
    );
    // NOW, the time of the runs, is 2026-11-28T12:00:00Z.
    for (name, time) in [
        ("maillog.1", 1_795_132_800),
        ("maillog-20261127", 1_795_870_800),
        ("maillog-20261128", 1_795_874_400),
    ] {
        std::fs::File::options()
            .write(true)
            .open(path(name))
            .unwrap()
            .set_modified(day(time))
            .unwrap();
    }
    append(
        dir.path(),
        "maillog",
        &postfix_send("03:00:00", "3CCC33333", "three"),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        send_log(dir.path()),
        [
            "four@example.net",
            "one@example.net",
            "three@example.net",
            "two@example.net"
        ],
        "{summary}"
    );
    let origins: Vec<&str> = summary["send_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|log| log["origin"].as_str().unwrap())
        .collect();
    assert!(
        origins[0].ends_with("maillog-20261127")
            && origins[1].ends_with("maillog-20261128")
            && origins[2].ends_with("maillog"),
        "{origins:?}"
    );
}

/// `fbl run --dry-run` reads no send log and moves no position; `fbl sendlog import`
/// reads the whole file and moves no position either.
#[test]
fn a_dry_run_and_a_manual_import_move_no_position() {
    let dir = setup(&[("sends.csv", "csv")]);
    append(
        dir.path(),
        "sends.csv",
        &format!("{CSV_HEADER}{}", csv_row("a1")),
    );
    assert_eq!(fbl_run(dir.path(), &[]).0, Some(0));
    let before = positions(dir.path());
    assert_eq!(before.len(), 1);
    append(dir.path(), "sends.csv", &csv_row("b1"));

    let (code, summary) = fbl_run(dir.path(), &["--dry-run"]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["send_log"], serde_json::json!([]));
    assert_eq!(positions(dir.path()), before);

    let output = run(fbl(dir.path()).env("FBL_NOW", NOW).args([
        "--config",
        "fbl.toml",
        "sendlog",
        "import",
        "sends.csv",
        "--format",
        "csv",
        "--json",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let imported: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        (&imported["entries"], &imported["added"]),
        (&2.into(), &1.into())
    );
    assert_eq!(imported["bytes_read"], size(dir.path(), "sends.csv"));
    assert!(imported.get("from_start").is_none() && imported.get("resumed_at").is_none());
    assert_eq!(positions(dir.path()), before);

    let (_, summary) = fbl_run(dir.path(), &[]);
    let imported = &summary["send_log"][0];
    assert_eq!(imported["resumed_at"], before[0].byte_offset);
    assert_eq!(
        (&imported["entries"], &imported["already_known"]),
        (&1.into(), &1.into())
    );
}

/// `fbl sendlog rewind PATH` makes the next run read the log from its start (the bad line
/// said again); a path with no position is an error naming those kept; without a path,
/// every position of the host is forgotten.
#[test]
fn rewind_makes_the_next_run_read_from_the_start() {
    let dir = setup(&[("sends.csv", "csv"), ("other.csv", "csv")]);
    let first = format!("{CSV_HEADER}{}bad,,\n", csv_row("a1"));
    append(dir.path(), "sends.csv", &first);
    append(
        dir.path(),
        "other.csv",
        &format!("{CSV_HEADER}{}", csv_row("o1")),
    );
    assert_eq!(fbl_run(dir.path(), &[]).0, Some(1));
    assert_eq!(fbl_run(dir.path(), &[]).0, Some(0));

    let rewind = |args: &[&str]| {
        run(fbl(dir.path())
            .args(["--config", "fbl.toml", "sendlog", "rewind"])
            .args(args))
    };
    let output = rewind(&["sends.csv"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).contains(&format!(
            "sends.csv: rewound from byte {} (line 3)",
            first.len()
        )),
        "{}",
        stdout(&output)
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "the bad line is said again: {summary}");
    assert_eq!(summary["send_log"][0]["from_start"], "first_read");
    assert_eq!(summary["send_log"][0]["already_known"], 1);
    assert!(summary["send_log"][1]["resumed_at"].is_u64());

    let output = rewind(&["nothere.csv"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no position is kept for send log") && stderr.contains("other.csv"),
        "{stderr}"
    );

    assert_eq!(rewind(&[]).status.code(), Some(0));
    assert!(positions(dir.path()).is_empty());
}

/// An import that fails in the middle (the store refuses an entry) keeps no position past
/// what it did not commit: the next run reads again from where the last good run stopped,
/// and every entry is imported. The log spans more than one slice, the first committed.
#[test]
fn a_failed_import_leaves_the_position_before_what_it_did_not_commit() {
    let dir = setup(&[("sends.csv", "csv")]);
    append(
        dir.path(),
        "sends.csv",
        &format!("{CSV_HEADER}{}", csv_row("first")),
    );
    assert_eq!(fbl_run(dir.path(), &[]).0, Some(0));
    let before = positions(dir.path());
    let slice = fbl::run::SEND_LOG_SLICE;
    let mut rows = String::new();
    for i in 0..slice + 10 {
        rows.push_str(&csv_row(&format!("r{i:06}")));
    }
    rows.push_str(&csv_row("poison"));
    append(dir.path(), "sends.csv", &rows);
    rusqlite::Connection::open(dir.path().join("fbl.sqlite"))
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER test_refuse BEFORE INSERT ON send_log
             WHEN NEW.recipient LIKE 'poison%'
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END;",
        )
        .unwrap();
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "{summary}");
    let errors = summary["source_errors"].to_string();
    assert!(errors.contains("refused by the test"), "{errors}");
    assert_eq!(
        send_log(dir.path()).len(),
        1 + slice,
        "the first slice is committed"
    );
    assert_eq!(positions(dir.path()), before, "the position did not move");

    rusqlite::Connection::open(dir.path().join("fbl.sqlite"))
        .unwrap()
        .execute_batch("DROP TRIGGER test_refuse")
        .unwrap();
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    let imported = &summary["send_log"][0];
    assert_eq!(imported["resumed_at"], before[0].byte_offset);
    assert_eq!(imported["already_known"], slice);
    assert_eq!(imported["added"], 11);
    assert_eq!(send_log(dir.path()).len(), slice + 12);
    assert_eq!(
        positions(dir.path())[0].byte_offset,
        size(dir.path(), "sends.csv")
    );
}

/// The positions on either engine: kept per host and path, replaced, forgotten; and
/// `fbl run` on the store reads on from its position.
fn positions_are_kept_per_host_and_path(backend: Backend) {
    let test = TestStore::new(backend);
    let mut store = test.open();
    let position = |host: &str, path: &str, offset: u64| SendLogPosition {
        host: host.to_string(),
        path: path.to_string(),
        format: "postfix".to_string(),
        byte_offset: offset,
        lines: offset / 10,
        head_sha256: "ab".repeat(32),
        head_bytes: offset.min(4096),
        tail_sha256: "cd".repeat(32),
        tail_bytes: offset.min(4096),
        file_id: format!("2049:{offset}"),
        read_at: NOW.to_string(),
    };
    let mut batch = store.begin().unwrap();
    for kept in [
        position("mx1", "/var/log/mail.log", 100),
        position("mx2", "/var/log/mail.log", 5_000_000_000),
        position("mx1", "/var/log/other.log", 7),
        position("mx1", "/var/log/mail.log", 120),
    ] {
        batch.set_send_log_position(&kept).unwrap();
    }
    batch.commit().unwrap();
    assert_eq!(
        store.send_log_position("mx1", "/var/log/mail.log").unwrap(),
        Some(position("mx1", "/var/log/mail.log", 120))
    );
    assert_eq!(
        store.send_log_position("mx2", "/var/log/mail.log").unwrap(),
        Some(position("mx2", "/var/log/mail.log", 5_000_000_000))
    );
    let mut batch = store.begin().unwrap();
    let forgotten = batch.forget_send_log_positions("mx1", None).unwrap();
    batch.commit().unwrap();
    assert_eq!(forgotten.len(), 2);
    assert_eq!(
        store.send_log_positions().unwrap().len(),
        1,
        "mx2's is kept"
    );
    drop(store);

    let dir = test.dir.path();
    write_config(dir, &[("sends.csv", "csv")], false);
    append(dir, "sends.csv", &format!("{CSV_HEADER}{}", csv_row("a1")));
    let (code, summary) = run_with(test.fbl(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    append(dir, "sends.csv", &csv_row("b1"));
    let (code, summary) = run_with(test.fbl(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        summary["send_log"][0]["resumed_at"],
        CSV_HEADER.len() + csv_row("a1").len()
    );
    assert_eq!(summary["send_log"][0]["added"], 1);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::Backend::Postgres) } )*
        }
    };
}

on_both_backends!(positions_are_kept_per_host_and_path);

/// `fbl run`'s block scan of a send log reads what the import of the same run read, from
/// where it began: a CSV log read on from a later line is scanned with its header row (the
/// Outlook.com rejection appended since the last run is found), and what earlier runs read
/// is not scanned again (an event removed from the store since is not found anew).
#[test]
fn the_block_scan_reads_the_log_from_where_the_import_began() {
    let dir = setup(&[("sends.csv", "csv")]);
    append(
        dir.path(),
        "sends.csv",
        &format!(
            "message_id,recipient,sent_at,source_ip,status\n\
             <m1@s.example>,a@example.org,2026-11-27T10:00:00Z,203.0.113.7,\"250 2.0.0 OK\"\n\
             <m2@s.example>,b@outlook.example,2026-11-27T10:01:00Z,203.0.113.7,\"{}\"\n",
            "550 5.7.1 Unfortunately, messages from [203.0.113.7] weren't sent. (S3140)"
        ),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "a block is a new alert: {summary}");
    assert_eq!(summary["report"]["block_events_found"], 1, "{summary}");
    let db = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
    assert_eq!(
        db.execute("DELETE FROM block_events", []).unwrap(),
        1,
        "the event is stored"
    );
    // Appended: a throttle of another IP, found under the header read from the file's start.
    append(
        dir.path(),
        "sends.csv",
        "<m3@s.example>,c@outlook.example,2026-11-27T11:00:00Z,203.0.113.8,\"451 4.7.650 The mail server [203.0.113.8] has been temporarily rate limited due to IP reputation.\"\n",
    );
    let (_, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(summary["send_log"][0]["entries"], 1, "{summary}");
    assert_eq!(summary["report"]["block_events_found"], 1, "{summary}");
    let ips: Vec<String> = db
        .prepare("SELECT ip FROM block_events ORDER BY ip")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ips, ["203.0.113.8"], "only the appended line was scanned");
}

/// A log that was empty, or held a CSV header alone, when a run read it begins as any other
/// file: a rotation is told by the file's identity, so the lines written to it before it was
/// renamed `PATH.1` are read; and a log rewritten in place past the offset (truncated, then
/// grown again) by the bytes before the offset, so it is read from its start.
#[test]
fn a_log_read_empty_or_header_only_is_still_followed_through_a_rotation() {
    for (format, file, start, a, b) in [
        (
            "jsonl",
            "sends.jsonl",
            String::new(),
            "{\"message_id\": \"<a@s.example>\", \"recipient\": \"a@example.org\"}\n".to_string(),
            "{\"message_id\": \"<b@s.example>\", \"recipient\": \"b@example.org\"}\n".to_string(),
        ),
        (
            "csv",
            "sends.csv",
            CSV_HEADER.to_string(),
            csv_row("a"),
            csv_row("b"),
        ),
    ] {
        let dir = setup(&[(file, format)]);
        append(dir.path(), file, &start);
        let (code, summary) = fbl_run(dir.path(), &[]);
        assert_eq!(code, Some(0), "{format}: {summary}");
        // Written to, then renamed away, and a new log started (with its header).
        append(dir.path(), file, &a);
        std::fs::rename(dir.path().join(file), dir.path().join(format!("{file}.1"))).unwrap();
        append(dir.path(), file, &format!("{start}{b}"));
        let (code, summary) = fbl_run(dir.path(), &[]);
        assert_eq!(code, Some(0), "{format}: {summary}");
        assert_eq!(
            summary["send_log"][1]["from_start"], "rotated",
            "{format}: {summary}"
        );
        assert_eq!(
            send_log(dir.path()),
            ["a@example.org", "b@example.org"],
            "{format}: {summary}"
        );
    }

    // Copied and truncated (logrotate's copytruncate): `PATH.1` is a copy, another file, found
    // by its bytes; the line written before the copy is read from it.
    let dir = setup(&[("sends.csv", "csv")]);
    append(
        dir.path(),
        "sends.csv",
        &format!("{CSV_HEADER}{}", csv_row("f")),
    );
    fbl_run(dir.path(), &[]);
    append(dir.path(), "sends.csv", &csv_row("g"));
    std::fs::copy(dir.path().join("sends.csv"), dir.path().join("sends.csv.1")).unwrap();
    std::fs::write(dir.path().join("sends.csv"), "").unwrap();
    append(
        dir.path(),
        "sends.csv",
        &format!("{CSV_HEADER}{}", csv_row("h")),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["send_log"][1]["from_start"], "rotated", "{summary}");
    assert_eq!(
        send_log(dir.path()),
        ["f@example.org", "g@example.org", "h@example.org"]
    );

    // Rewritten in place: the same file, the same header, other lines past the offset.
    let dir = setup(&[("sends.csv", "csv")]);
    append(
        dir.path(),
        "sends.csv",
        &format!("{CSV_HEADER}{}", csv_row("c")),
    );
    fbl_run(dir.path(), &[]);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(dir.path().join("sends.csv"))
        .unwrap();
    drop(file);
    append(
        dir.path(),
        "sends.csv",
        &format!("{CSV_HEADER}{}{}", csv_row("d"), csv_row("e")),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        summary["send_log"][0]["from_start"], "replaced",
        "{summary}"
    );
    assert_eq!(
        send_log(dir.path()),
        ["c@example.org", "d@example.org", "e@example.org"]
    );
}

/// A mailer that starts a new CSV log (after rotating it, or emptying it) writes the header
/// with its first send. Until then the file is empty: no entries, and nothing to say, at every
/// run; once the header and a row come, they are read.
#[test]
fn an_empty_csv_log_is_not_a_bad_line_at_every_run() {
    let dir = setup(&[("sends.csv", "csv")]);
    append(
        dir.path(),
        "sends.csv",
        &format!("{CSV_HEADER}{}", csv_row("a")),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    std::fs::write(dir.path().join("sends.csv"), "").unwrap();
    for _ in 0..2 {
        let (code, summary) = fbl_run(dir.path(), &[]);
        assert_eq!(code, Some(0), "{summary}");
        assert_eq!(summary["send_log"][0]["bad_lines"], 0, "{summary}");
    }
    append(
        dir.path(),
        "sends.csv",
        &format!("{CSV_HEADER}{}", csv_row("b")),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(send_log(dir.path()), ["a@example.org", "b@example.org"]);
}

/// A log rewritten in place past its first 4 KiB (the same file, the same beginning, at least
/// as long) is told by the bytes just before the offset, and read from its start.
#[test]
fn a_log_rewritten_past_its_first_4_kib_is_read_from_its_start() {
    let dir = setup(&[("sends.csv", "csv")]);
    let mut text = CSV_HEADER.to_string();
    for n in 0..150 {
        text.push_str(&csv_row(&format!("early{n:03}")));
    }
    assert!(text.len() > 8192);
    append(dir.path(), "sends.csv", &text);
    fbl_run(dir.path(), &[]);
    // The same first 4 KiB, other lines after them: rewritten in place, not appended to.
    let keep = &text[..5000];
    let keep = &keep[..=keep.rfind('\n').unwrap()];
    let mut rewritten = keep.to_string();
    for n in 0..150 {
        rewritten.push_str(&csv_row(&format!("late{n:03}")));
    }
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("sends.csv"))
        .unwrap();
    std::os::unix::fs::FileExt::write_all_at(&file, rewritten.as_bytes(), 0).unwrap();
    drop(file);
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        summary["send_log"][0]["from_start"], "replaced",
        "{summary}"
    );
    assert!(send_log(dir.path()).contains(&"late000@example.org".to_string()));
}

/// The block scan reads what the import read: a rejection line still being written (no line
/// end yet) is scanned by the run that reads it whole, once.
#[test]
fn the_block_scan_leaves_a_line_still_being_written() {
    let dir = setup(&[("sends.csv", "csv")]);
    append(
        dir.path(),
        "sends.csv",
        "message_id,recipient,sent_at,source_ip,status\n\
         <m1@s.example>,a@example.org,2026-11-27T10:00:00Z,203.0.113.7,250 ok\n\
         <m2@s.example>,b@outlook.example,2026-11-27T10:01:00Z,203.0.113.7,550 5.7.1 Unfortunately messages from [203.0.113.7] weren't sent (S3140)",
    );
    let (_, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(summary["report"]["block_events_found"], 0, "{summary}");
    append(dir.path(), "sends.csv", "\n");
    let (_, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(summary["report"]["block_events_found"], 1, "{summary}");
}

/// A log named through a symbolic link: logrotate renames the file the link leads to, and
/// its `.1` is looked for there, not beside the link.
#[test]
fn a_log_named_through_a_link_is_followed_through_a_rotation() {
    let dir = setup(&[("sends.csv", "csv")]);
    std::fs::create_dir_all(dir.path().join("logs")).unwrap();
    std::os::unix::fs::symlink("logs/current.csv", dir.path().join("sends.csv")).unwrap();
    append(
        dir.path(),
        "logs/current.csv",
        &format!("{CSV_HEADER}{}", csv_row("a")),
    );
    fbl_run(dir.path(), &[]);
    append(dir.path(), "logs/current.csv", &csv_row("b"));
    std::fs::rename(
        dir.path().join("logs/current.csv"),
        dir.path().join("logs/current.csv.1"),
    )
    .unwrap();
    append(
        dir.path(),
        "logs/current.csv",
        &format!("{CSV_HEADER}{}", csv_row("c")),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        send_log(dir.path()),
        ["a@example.org", "b@example.org", "c@example.org"],
        "{summary}"
    );
}

/// `[send_log] host` names the host positions are kept under, for a container that gets a
/// new name at every start: the next run, whatever the machine's name, reads on, and
/// `fbl sendlog rewind` forgets that host's positions.
#[test]
fn a_configured_host_keeps_the_positions_whatever_the_machine_s_name() {
    let dir = setup(&[("sends.csv", "csv")]);
    let config = std::fs::read_to_string(dir.path().join("fbl.toml")).unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        config.replace("[send_log]\n", "[send_log]\nhost = \"mx-container\"\n"),
    )
    .unwrap();
    append(
        dir.path(),
        "sends.csv",
        &format!("{CSV_HEADER}{}", csv_row("c1")),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    let kept = positions(dir.path());
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].host, "mx-container");

    append(dir.path(), "sends.csv", &csv_row("c2"));
    let (_, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(summary["send_log"][0]["added"], 1, "{summary}");
    assert!(
        summary["send_log"][0].get("resumed_at").is_some(),
        "{summary}"
    );

    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "sendlog", "rewind"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(positions(dir.path()).is_empty());
}

/// Postfix reuses a short queue id. An older log imported again by hand (`fbl sendlog
/// import mail.log.1` after the runs read it) used to put the queue id back on the old
/// message: the newer message's delivery, read by the next run, was recorded under the old
/// Message-ID, and the newer message had no recipient.
#[test]
fn an_older_log_read_again_leaves_a_reused_queue_id_on_its_newer_message() {
    let dir = setup(&[("mail.log", "postfix")]);
    let deferred = |time: &str, queue_id: &str, to: &str| {
        format!(
            "Nov 28 {time} mail01 postfix/smtp[1300]: {queue_id}: to=<{to}>, relay=none, delay=5, dsn=4.4.1, status=deferred (connect to mx.example.org[198.51.100.10]:25: Connection timed out)\n"
        )
    };
    append(
        dir.path(),
        "mail.log",
        &format!(
            "{}{}",
            cleanup("01:00:00", "3F2A1B4C5", "old@sender.example"),
            deferred("01:00:05", "3F2A1B4C5", "olga@example.org")
        ),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    std::fs::rename(dir.path().join("mail.log"), dir.path().join("mail.log.1")).unwrap();
    append(
        dir.path(),
        "mail.log",
        &format!(
            "{}{}{}{}",
            sent("01:20:00", "3F2A1B4C5", "olga@example.org"),
            removed("01:20:00", "3F2A1B4C5"),
            cleanup("09:00:00", "3F2A1B4C5", "new@sender.example"),
            deferred("09:00:05", "3F2A1B4C5", "nina@example.org")
        ),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");

    let output = run(fbl(dir.path())
        .env("FBL_NOW", NOW)
        .env("TZ", "UTC")
        .args(["--config", "fbl.toml", "sendlog", "import", "mail.log.1"])
        .args(["--format", "postfix"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    append(
        dir.path(),
        "mail.log",
        &format!(
            "{}{}",
            sent("09:30:00", "3F2A1B4C5", "nina@example.org"),
            removed("09:30:00", "3F2A1B4C5")
        ),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    let db = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
    let mut statement = db
        .prepare("SELECT message_id, recipient FROM send_log ORDER BY recipient")
        .unwrap();
    let rows: Vec<(String, String)> = statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rows,
        [
            (
                "new@sender.example".to_string(),
                "nina@example.org".to_string()
            ),
            (
                "old@sender.example".to_string(),
                "olga@example.org".to_string()
            ),
        ]
    );
}

/// A run stopped after its send-log entries were committed and before the stored complaints
/// were attributed again (killed, a reboot) left those complaints without a complainant for
/// good: the next import added nothing, so it attributed nothing. The store keeps that the
/// attribution is due, and the next import does it.
#[test]
fn complaints_left_when_a_run_stopped_before_attributing_them_are_attributed_by_the_next() {
    let dir = setup(&[("sends.csv", "csv")]);
    std::fs::copy(
        crate::support::fixtures()
            .join("reports")
            .join("jmrp-2026-unattributable-message-id-only.eml"),
        dir.path().join("complaint.eml"),
    )
    .unwrap();
    let output = run(fbl(dir.path()).env("FBL_NOW", NOW).args([
        "--config",
        "fbl.toml",
        "ingest",
        "complaint.eml",
    ]));
    assert_eq!(
        output.status.code(),
        Some(1),
        "unattributed: {}",
        stdout(&output)
    );

    // What a run stopped at that point leaves: the entry committed, with its mark, and no
    // attribution.
    {
        let mut store = fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
        let mut batch = store.begin().unwrap();
        let entry = fbl::sendlog::SendLogEntry {
            message_id: Some("20260720104501.9b1c77e0@mta1.example.com".to_string()),
            recipient: "late@example.org".to_string(),
            id: None,
            campaign: None,
            list: None,
            source_ip: None,
            sent_at: Some("2026-07-20T10:45:01Z".to_string()),
        };
        assert!(batch.add_send_log(&entry, NOW).unwrap());
        batch.set_reattribution_pending().unwrap();
        batch.commit().unwrap();
    }
    append(
        dir.path(),
        "sends.csv",
        "message_id,recipient,sent_at\n<20260720104501.9b1c77e0@mta1.example.com>,late@example.org,2026-07-20T10:45:01Z\n",
    );
    let (_, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(summary["send_log"][0]["added"], 0, "{summary}");
    assert_eq!(summary["send_log"][0]["reattributed"], 1, "{summary}");
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "suppress",
        "check",
        "late@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let store = fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    assert_eq!(store.reattribution_pending().unwrap(), 0);
}

/// logrotate with `dateext` (Red Hat's default) renames `maillog` to `maillog-20261128`: the
/// rest of it is read first, as from `maillog.1`. When the rotated copy is compressed at
/// once (no `delaycompress`), what was written after the last run and before the rotation
/// cannot be read: the run says so (exit 1), once.
#[test]
fn a_mail_log_rotated_with_a_date_is_followed_and_a_lost_rest_is_said() {
    let dir = setup(&[("maillog", "postfix")]);
    append(
        dir.path(),
        "maillog",
        &format!(
            "{}{}",
            cleanup("01:00:00", "1AAA11111", "one@sender.example"),
            sent("01:00:01", "1AAA11111", "one@example.net")
        ),
    );
    assert_eq!(fbl_run(dir.path(), &[]).0, Some(0));
    append(
        dir.path(),
        "maillog",
        &format!(
            "{}{}",
            cleanup("02:00:00", "2BBB22222", "two@sender.example"),
            sent("02:00:01", "2BBB22222", "two@example.net")
        ),
    );
    std::fs::rename(
        dir.path().join("maillog"),
        dir.path().join("maillog-20261128"),
    )
    .unwrap();
    append(
        dir.path(),
        "maillog",
        &format!(
            "{}{}",
            cleanup("03:00:00", "3CCC33333", "three@sender.example"),
            sent("03:00:01", "3CCC33333", "three@example.net")
        ),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        send_log(dir.path()),
        ["one@example.net", "three@example.net", "two@example.net"]
    );
    assert_eq!(summary["send_log"][1]["from_start"], "rotated", "{summary}");

    // Rotated again, and the copy compressed at once: its rest is gone.
    append(
        dir.path(),
        "maillog",
        &format!(
            "{}{}",
            cleanup("04:00:00", "4DDD44444", "four@sender.example"),
            sent("04:00:01", "4DDD44444", "four@example.net")
        ),
    );
    std::fs::remove_file(dir.path().join("maillog-20261128")).unwrap();
    std::fs::rename(
        dir.path().join("maillog"),
        dir.path().join("maillog-20261129.gz"),
    )
    .unwrap();
    append(
        dir.path(),
        "maillog",
        &cleanup("05:00:00", "5EEE55555", "five@sender.example"),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(1), "{summary}");
    let imported = &summary["send_log"][0];
    assert_eq!(imported["from_start"], "truncated", "{summary}");
    assert!(
        imported["errors"][0]
            .as_str()
            .unwrap()
            .contains("no rotated copy (maillog.1, or maillog-DATE, uncompressed)"),
        "{summary}"
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "said once: {summary}");
}

/// Berlin's clocks go back on 25 October 2026 (03:00 CEST is 02:00 CET again). A message
/// deferred at 02:30 CEST, read by one cron run, and delivered at 02:25 CET, read by the
/// next, is recorded at its delivery (01:25 UTC). Its time used to be read as the earlier
/// 02:25 (CEST), before the deferral the first run carried: a bad line, exit 1, and no entry.
#[test]
fn a_deferral_delivered_in_the_hour_repeated_when_the_clocks_go_back_is_recorded() {
    let dir = setup(&[("mail.log", "postfix")]);
    let fbl_run_at = |now: &str| {
        let output = run(fbl(dir.path())
            .env("FBL_NOW", now)
            .env("TZ", "Europe/Berlin")
            .args(["--config", "fbl.toml", "run", "--json"]));
        let summary: serde_json::Value =
            serde_json::from_str(&stdout(&output)).unwrap_or(serde_json::Value::Null);
        (output.status.code(), summary)
    };
    append(
        dir.path(),
        "mail.log",
        "Oct 25 02:20:00 mail01 postfix/cleanup[1202]: 4ABC12345: message-id=<m1@sender.example>\n\
             Oct 25 02:30:05 mail01 postfix/smtp[1300]: 4ABC12345: to=<ann@example.org>, relay=mx.example.org[198.51.100.10]:25, delay=5, delays=0.1/0/5/0, dsn=4.7.0, status=deferred (host mx.example.org[198.51.100.10] said: 421 4.7.0 Try again later (in reply to MAIL FROM command))\n",
    );
    let (code, summary) = fbl_run_at("2026-10-25T00:40:00Z");
    assert_eq!(code, Some(0), "{summary}");
    append(
        dir.path(),
        "mail.log",
        "Oct 25 02:25:00 mail01 postfix/smtp[1301]: 4ABC12345: to=<ann@example.org>, relay=mx.example.org[198.51.100.10]:25, delay=3900, delays=3899/0/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)\n\
         Oct 25 02:25:00 mail01 postfix/qmgr[1100]: 4ABC12345: removed\n",
    );
    let (code, summary) = fbl_run_at("2026-10-25T01:40:00Z");
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["send_log"][0]["bad_lines"], 0, "{summary}");
    let db = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
    let sent_at: String = db
        .query_row(
            "SELECT sent_at FROM send_log WHERE recipient = 'ann@example.org'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sent_at, "2026-10-25T01:25:00Z");
}

/// The repeated hour read by two cron runs: the first reads the log in the first pass of
/// 02:00 to 03:00 (CEST), the second reads on into the second pass (CET). A line of the second
/// pass is read as written after the first run (its lines all were), not an hour earlier.
#[test]
fn the_repeated_hour_read_across_two_runs_is_read_in_order() {
    let dir = setup(&[("mail.log", "postfix")]);
    let fbl_run_at = |now: &str| {
        let output = run(fbl(dir.path())
            .env("FBL_NOW", now)
            .env("TZ", "Europe/Berlin")
            .args(["--config", "fbl.toml", "run", "--json"]));
        let summary: serde_json::Value =
            serde_json::from_str(&stdout(&output)).unwrap_or(serde_json::Value::Null);
        (output.status.code(), summary)
    };
    let send = |time: &str, id: &str, to: &str| {
        format!(
            "Oct 25 {time} mail01 postfix/cleanup[1]: {id}: message-id=<{id}@sender.example>\n\
             Oct 25 {time} mail01 postfix/smtp[2]: {id}: to=<{to}>, relay=mx[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 ok)\n\
             Oct 25 {time} mail01 postfix/qmgr[3]: {id}: removed\n"
        )
    };
    append(
        dir.path(),
        "mail.log",
        &send("02:50:00", "1AAAA", "ann@example.org"),
    );
    let (code, summary) = fbl_run_at("2026-10-25T00:55:00Z");
    assert_eq!(code, Some(0), "{summary}");
    append(
        dir.path(),
        "mail.log",
        &send("02:05:00", "2BBBB", "bob@example.org"),
    );
    let (code, summary) = fbl_run_at("2026-10-25T01:10:00Z");
    assert_eq!(code, Some(0), "{summary}");
    let db = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
    let sent_at: String = db
        .query_row(
            "SELECT sent_at FROM send_log WHERE recipient = 'bob@example.org'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(sent_at, "2026-10-25T01:05:00Z");
}

/// `fbl sendlog import mail.log` by hand after the cron runs: a message queued before
/// logrotate renamed the log (its message-id= in `mail.log.1`) and delivered after it is
/// joined as `fbl run` joins it, the rotated copy read first for the queue ids it left open.
/// Its delivery used to be a bad line (exit 1) although the runs had recorded it.
#[test]
fn a_manual_import_of_the_current_log_knows_the_messages_queued_in_the_rotated_one() {
    let dir = setup(&[("mail.log", "postfix")]);
    let deferred = "Nov 28 01:00:05 mail01 postfix/smtp[1300]: 3F2A1B4C5: to=<olga@example.org>, relay=none, delay=5, dsn=4.4.1, status=deferred (connect to mx.example.org[198.51.100.10]:25: Connection timed out)\n";
    append(
        dir.path(),
        "mail.log",
        &format!(
            "{}{deferred}",
            cleanup("01:00:00", "3F2A1B4C5", "old@sender.example")
        ),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    std::fs::rename(dir.path().join("mail.log"), dir.path().join("mail.log.1")).unwrap();
    append(
        dir.path(),
        "mail.log",
        &format!(
            "{}{}{}{}",
            sent("01:20:00", "3F2A1B4C5", "olga@example.org"),
            removed("01:20:00", "3F2A1B4C5"),
            cleanup("02:00:00", "4B3C2D1E0", "new@sender.example"),
            sent("02:00:01", "4B3C2D1E0", "nina@example.org"),
        ),
    );
    let (code, summary) = fbl_run(dir.path(), &[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        send_log(dir.path()),
        ["nina@example.org", "olga@example.org"]
    );

    let output = run(fbl(dir.path())
        .env("FBL_NOW", NOW)
        .env("TZ", "UTC")
        .args(["--config", "fbl.toml", "sendlog", "import", "mail.log"])
        .args(["--format", "postfix", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(output.status.code(), Some(0), "{summary}");
    assert_eq!(
        (
            &summary["bad_lines"],
            &summary["already_known"],
            &summary["added"]
        ),
        (&0.into(), &2.into(), &0.into()),
        "{summary}"
    );
}
