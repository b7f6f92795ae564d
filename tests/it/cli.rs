//! The `fbl` binary end to end, on real SQLite files in temporary folders.

use crate::support::{arf, fbl, run, run_with_stdin, stdout};
use std::path::Path;
use std::process::Stdio;

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

fn counts(dir: &Path) -> fbl::store::StoreCounts {
    fbl::store::Store::open(&dir.join("fbl.sqlite"))
        .unwrap()
        .counts()
        .unwrap()
}

/// A report `arf` would make, but broken: it has no Feedback-Type (quarantined).
fn broken_arf(rcpt_to: &str, message_id: &str) -> String {
    String::from_utf8(arf("abuse", rcpt_to, message_id))
        .unwrap()
        .replace("Feedback-Type: abuse\n", "")
}

/// Suppresses `addresses` in the store of `dir` as a complaint did before fbl checked
/// addresses as closely as now (so an invalid one may be among them).
fn suppressed_by_an_older_fbl(dir: &Path, addresses: &[&str]) {
    let mut store = fbl::store::Store::open(&dir.join("fbl.sqlite")).unwrap();
    let mut batch = store.begin().unwrap();
    for address in addresses {
        batch
            .suppress(&fbl::store::SuppressRequest {
                address,
                reason: "complaint",
                source: "yahoo",
                seen_at: "2026-11-01T00:00:00Z",
                expires_at: None,
                report_id: None,
                actor: "report",
                now: "2026-11-01T00:00:00Z",
            })
            .unwrap();
    }
    batch.commit().unwrap();
}

#[test]
fn parse_prints_one_json_line_per_message_and_reads_stdin() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.eml",
        &arf("abuse", "jane@example.org", "m1@example.com"),
    );
    write(
        dir.path(),
        "b.eml",
        &arf("not-spam", "joe@example.org", "m2@example.com"),
    );
    let output = run(fbl(dir.path()).args(["parse", "a.eml", "b.eml"]));
    assert_eq!(output.status.code(), Some(0));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["kind"], "complaint");
    assert_eq!(lines[0]["recipients"][0]["address"], "jane@example.org");
    assert_eq!(lines[1]["kind"], "not_spam");

    let output = run_with_stdin(
        fbl(dir.path()).args(["parse", "-"]),
        &arf("abuse", "x@example.org", "m3@example.com"),
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("x@example.org"));
    assert!(
        !dir.path().join("fbl.sqlite").exists(),
        "parse must write nothing"
    );
}

#[test]
fn parse_exits_1_on_a_broken_report_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_arf("a@example.org", "m@example.com");
    write(dir.path(), "broken.eml", broken.as_bytes());
    let output = run(fbl(dir.path()).args(["parse", "broken.eml"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("no Feedback-Type"));
    // Which message is broken, among a folder's, is named on standard error.
    write(
        dir.path(),
        "in/a.eml",
        &arf("abuse", "a@example.org", "a@example.com"),
    );
    write(dir.path(), "in/b.eml", broken.as_bytes());
    let output = run(fbl(dir.path()).args(["parse", "in"]));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("fbl: in/b.eml: ") && stderr.contains("no Feedback-Type"),
        "{stderr}"
    );
}

#[test]
fn ingest_twice_stores_and_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("in");
    for (i, rcpt) in ["a@example.org", "b@example.org", "a@example.org"]
        .iter()
        .enumerate()
    {
        write(
            &inbox,
            &format!("{i}.eml"),
            &arf("abuse", rcpt, &format!("m{i}@example.com")),
        );
    }
    let output = run(fbl(dir.path()).args(["ingest", "in", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["stored"], 3);
    assert_eq!(summary["suppressions_added"], 2);
    assert_eq!(summary["suppressions_updated"], 1);
    let first = counts(dir.path());

    let output = run(fbl(dir.path()).args(["ingest", "in", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["stored"], 0);
    assert_eq!(summary["duplicates"], 3);
    assert_eq!(
        counts(dir.path()),
        first,
        "a second ingest changed the store"
    );

    let output = run(fbl(dir.path()).args(["suppress", "check", "A@Example.org"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["count"], 2);
}

/// The same report delivered twice (to an alias and the mailbox behind it, once with CRLF
/// and once with LF, once from an mbox export) is one complaint: each copy's delivery
/// fields and line endings differ, what the provider wrote does not.
#[test]
fn a_report_delivered_twice_counts_once() {
    let dir = tempfile::tempdir().unwrap();
    let report =
        std::fs::read(crate::support::fixtures().join("reports/yahoo-cfl-received-date.eml"))
            .unwrap();
    let aliased = [
        b"Delivered-To: abuse@example.com\nX-Original-To: fbl-alias@example.com\n".as_slice(),
        &report,
    ]
    .concat();
    write(dir.path(), "in/1.eml", &report);
    write(dir.path(), "in/2.eml", &aliased);
    write(dir.path(), "in/3.eml", &crate::support::to_crlf(&report));
    // Another report with the same body but its own Message-ID is another complaint.
    let text = String::from_utf8(report.clone()).unwrap();
    let other = text.replace("Message-ID: <9f21d170.", "Message-ID: <another.9f21d170.");
    assert_ne!(other, text);
    write(dir.path(), "in/4.eml", other.as_bytes());
    let output = run(fbl(dir.path()).args(["ingest", "in", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["stored"], 2, "{summary}");
    assert_eq!(summary["duplicates"], 2, "{summary}");
    let first = counts(dir.path());

    // A copy arriving in a later run (looked up by the reading thread) is a duplicate too.
    let relayed = [
        b"Received: from relay.example.com by mx2.example.com; Mon, 9 Mar 2026 15:00:00 +0000\r\n"
            .as_slice(),
        &crate::support::to_crlf(&report),
    ]
    .concat();
    write(dir.path(), "later/5.eml", &relayed);
    let output = run(fbl(dir.path()).args(["ingest", "later", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["stored"], 0, "{summary}");
    assert_eq!(summary["duplicates"], 1, "{summary}");
    assert_eq!(counts(dir.path()), first, "a copy changed the store");
    // One suppression, counted once per report, not per copy.
    let output = run(fbl(dir.path()).args(["suppress", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["count"], 2, "{list:?}");
}

/// A delivery set aside in quarantine (untrusted by the way it came) leaves it when another
/// delivery of the same report is stored: nobody is left waiting on it, and a retry finds
/// it released.
#[test]
fn a_quarantined_delivery_of_a_stored_report_leaves_the_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[trust]\nauthserv_id = \"mx.sender.example\"\n",
    );
    let report = [
        b"Message-ID: <r1@arf.mail.yahoo.com>\n".as_slice(),
        &arf("abuse", "signed@example.org", "s@example.com"),
    ]
    .concat();
    let through = |results: &str| [results.as_bytes(), &report].concat();
    write(
        dir.path(),
        "first/copy.eml",
        &through("Authentication-Results: mx.other.example; dkim=pass header.d=yahoo.com\n"),
    );
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "ingest", "first", "--json"]));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let open_quarantine = |dir: &Path| -> usize {
        let output = run(fbl(dir).args(["quarantine", "list", "--json"]));
        serde_json::from_str::<Vec<serde_json::Value>>(&stdout(&output))
            .unwrap()
            .len()
    };
    assert_eq!(open_quarantine(dir.path()), 1);
    write(
        dir.path(),
        "second/copy.eml",
        &through(
            "Authentication-Results: mx.sender.example; dkim=pass header.d=yahoo.com header.s=s1\n",
        ),
    );
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "ingest", "second", "--json"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // Storing the trusted delivery released the untrusted one: nothing is left to retry.
    assert_eq!(open_quarantine(dir.path()), 0);
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "quarantine", "retry"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(
        stdout(&output).starts_with("0 retried: 0 stored, 0 still quarantined"),
        "{}",
        stdout(&output)
    );
    assert_eq!(counts(dir.path()).reports, 1);
    // Retried again by its id, it is not retried, and the output says where it went.
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "quarantine", "retry", "1"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(
        stdout(&output),
        "0 retried: 0 stored, 0 still quarantined\n  1: released already, stored as report 1\n"
    );
}

/// An unknown id among several is found before anything is retried: the command fails
/// naming it, and the ids before it were not retried.
#[test]
fn quarantine_retry_checks_every_id_first() {
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_arf("a@example.org", "m@example.com");
    write(dir.path(), "in/1.eml", broken.as_bytes());
    write(
        dir.path(),
        "in/2.eml",
        broken.replace("a@example", "b@example").as_bytes(),
    );
    let output = run(fbl(dir.path()).args(["ingest", "in"]));
    assert_eq!(output.status.code(), Some(1));
    // After an upgrade that reads them, a retry would store them: here it must not start.
    let output = run(fbl(dir.path()).args(["quarantine", "retry", "1", "99", "2", "98"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no quarantined message with id 99, 98; nothing was retried"),
        "{stderr}"
    );
    assert_eq!(stdout(&output), "");
    let output = run(fbl(dir.path()).args(["quarantine", "retry", "1", "2"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).starts_with("2 retried: 0 stored, 2 still quarantined"));
}

#[test]
fn look_alikes_never_suppress() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "in/ns.eml",
        &arf("not-spam", "ns@example.org", "m1@example.com"),
    );
    write(
        dir.path(),
        "in/af.eml",
        &arf("auth-failure", "af@example.org", "m2@example.com"),
    );
    write(
        dir.path(),
        "in/plain.eml",
        b"From: a@example.com\nTo: b@example.org\nSubject: hi\n\nhello\n",
    );
    let output = run(fbl(dir.path()).args(["ingest", "in", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["stored"], 3);
    assert_eq!(summary["by_kind"]["not_spam"], 1);
    assert_eq!(summary["by_kind"]["auth_failure"], 1);
    assert_eq!(summary["by_kind"]["not_a_report"], 1);
    assert_eq!(counts(dir.path()).suppressions, 0);
    for address in ["ns@example.org", "af@example.org", "b@example.org"] {
        let output = run(fbl(dir.path()).args(["suppress", "check", address]));
        assert_eq!(output.status.code(), Some(1), "{address}");
    }
}

#[test]
fn broken_input_is_quarantined_with_its_bytes_and_can_be_retried() {
    let dir = tempfile::tempdir().unwrap();
    let broken = broken_arf("q@example.org", "m@example.com").into_bytes();
    write(dir.path(), "in/broken.eml", &broken);
    write(
        dir.path(),
        "in/good.eml",
        &arf("abuse", "g@example.org", "m2@example.com"),
    );
    let output = run(fbl(dir.path()).args(["ingest", "in"]));
    assert_eq!(output.status.code(), Some(1), "quarantine means exit 1");
    assert!(stdout(&output).contains("no Feedback-Type"));

    let output = run(fbl(dir.path()).args(["quarantine", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(list.len(), 1);
    let id = list[0]["id"].to_string();
    let output = run(fbl(dir.path()).args(["quarantine", "show", &id, "--raw"]));
    assert_eq!(output.stdout, broken, "quarantine keeps the exact bytes");

    // Still broken: the retry keeps it and says so.
    let output = run(fbl(dir.path()).args(["quarantine", "retry"]));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(counts(dir.path()).quarantined, 1);

    // A second ingest of the same input counts it once.
    let output = run(fbl(dir.path()).args(["ingest", "in", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["quarantined"], 0);
    assert_eq!(summary["already_quarantined"], 1);
}

/// `fbl quarantine retry` used to parse the kept head of an oversized message as if it were
/// the message: a complaint whose head parses was stored from its head, and stored again
/// when the original was ingested with a larger limit, so it counted twice. The head stays
/// in quarantine, and says what to do.
#[test]
fn the_head_of_an_oversized_message_stays_in_quarantine_on_retry() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "small.toml",
        b"[store]\npath = \"fbl.sqlite\"\n[limits]\nmax_message_bytes = 1000\n",
    );
    write(dir.path(), "big.toml", b"[store]\npath = \"fbl.sqlite\"\n");
    // A complaint, then 270 KB of base64-like noise: its first 1,000 bytes parse.
    let mut big = arf("abuse", "big@example.org", "big@example.com");
    for line in 0..3_500 {
        big.extend_from_slice(format!("{:076}\n", line * 7919).as_bytes());
    }
    write(dir.path(), "big.eml", &big);
    let size = big.len();

    let output = run(fbl(dir.path()).args(["--config", "small.toml", "ingest", "big.eml"]));
    assert_eq!(output.status.code(), Some(1));
    let output = run(fbl(dir.path()).args(["quarantine", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(list[0]["size"], size, "the message's size, not the head's");
    let output = run(fbl(dir.path()).args(["quarantine", "show", "1", "--raw"]));
    assert_eq!(output.stdout, big[..1000], "the first max_message_bytes");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("keeps only the first 1000 of its {size} bytes")),
        "{stderr}"
    );

    let output = run(fbl(dir.path()).args(["--config", "big.toml", "quarantine", "retry"]));
    assert_eq!(output.status.code(), Some(1), "one is left in quarantine");
    let text = stdout(&output);
    assert!(
        text.starts_with("1 retried: 0 stored, 1 still quarantined\n"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "1: message of {size} bytes was bigger than limits.max_message_bytes: only its first 1000 bytes were kept; ingest the original again with a larger max_message_bytes"
        )),
        "{text}"
    );
    assert_eq!(counts(dir.path()).reports, 0);

    let output = run(fbl(dir.path()).args(["--config", "big.toml", "ingest", "big.eml"]));
    assert_eq!(output.status.code(), Some(0));
    let store = fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    assert_eq!(
        store.evidence("big@example.org").unwrap(),
        [1],
        "counted once"
    );
    // The original stored, its head leaves the quarantine, linked to the report.
    assert_eq!(counts(dir.path()).quarantined, 0, "the head is released");
    let output = run(fbl(dir.path()).args(["quarantine", "list", "--all", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["report_id"], 1);
    assert!(list[0]["released_at"].is_string(), "{list:?}");

    // The other way round: the original is stored (whole, as `ingest --mta` keeps it), then
    // read again with the small limit. Its head is quarantined; ingesting the original again,
    // as the reason says, is a duplicate, and releases the head all the same. It used to
    // stay open until someone dismissed it.
    std::fs::remove_file(dir.path().join("fbl.sqlite")).unwrap();
    let output = run(fbl(dir.path()).args(["--config", "big.toml", "ingest", "big.eml"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["--config", "small.toml", "ingest", "big.eml"]));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(counts(dir.path()).quarantined, 1);
    let output = run(fbl(dir.path()).args(["--config", "big.toml", "ingest", "big.eml"]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(stdout(&output).is_empty() || !stdout(&output).contains("quarantined"));
    assert_eq!(counts(dir.path()).quarantined, 0, "the head is released");
    assert_eq!(counts(dir.path()).reports, 1);
    let output = run(fbl(dir.path()).args(["quarantine", "list", "--all", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(list[0]["report_id"], 1, "{list:?}");
}

/// An empty delivery (a broken pipe, `fbl ingest - < /dev/null`) used to be stored as a
/// message that is not a report, exit 0: nobody saw it. It is quarantined, exit 1.
#[test]
fn an_empty_message_is_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_with_stdin(fbl(dir.path()).args(["ingest", "-"]), b"");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("quarantined: -: empty message (0 bytes)"),
        "{}",
        stdout(&output)
    );
    // And what to do next, once.
    assert_eq!(
        stdout(&output)
            .matches("\n  (fbl quarantine list gives their ids; fbl quarantine show ID, and retry ID after a fix)\n")
            .count(),
        1,
        "{}",
        stdout(&output)
    );
    write(dir.path(), "blank.eml", b"\r\n\n \n");
    let output = run(fbl(dir.path()).args(["ingest", "blank.eml"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("blank.eml: empty message (5 bytes of white space only)"),
        "{}",
        stdout(&output)
    );
    let kept = counts(dir.path());
    assert_eq!((kept.reports, kept.quarantined), (0, 2));
    // Another empty delivery is another lost one: told again, its bytes kept once.
    let output = run_with_stdin(fbl(dir.path()).args(["ingest", "-"]), b"");
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("quarantined: -: empty message (0 bytes)"),
        "{}",
        stdout(&output)
    );
    assert_eq!(counts(dir.path()).quarantined, 2);
}

#[test]
fn unattributed_complaints_exit_1_and_say_why() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "r.eml",
        &arf("abuse", "redacted@example.org", "m@example.com"),
    );
    let output = run(fbl(dir.path()).args(["ingest", "r.eml"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("unattributed"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn ingest_reads_maildir_mbox_and_stdin() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "Maildir/cur/1:2,S",
        &arf("abuse", "md1@example.org", "a@example.com"),
    );
    write(
        dir.path(),
        "Maildir/new/2",
        &arf("abuse", "md2@example.org", "b@example.com"),
    );
    std::fs::create_dir_all(dir.path().join("Maildir/tmp")).unwrap();
    let mut mbox = Vec::new();
    for (i, rcpt) in ["mb1@example.org", "mb2@example.org"].iter().enumerate() {
        mbox.extend_from_slice(b"From feedback@arf.mail.yahoo.com Tue Nov 10 12:00:00 2026\n");
        mbox.extend_from_slice(&arf("abuse", rcpt, &format!("mb{i}@example.com")));
        mbox.extend_from_slice(b"\n");
    }
    write(dir.path(), "reports.mbox", &mbox);
    let output = run(fbl(dir.path()).args(["ingest", "Maildir", "reports.mbox", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["stored"], 4);

    let output = run_with_stdin(
        fbl(dir.path()).args(["ingest", "-"]),
        &arf("abuse", "pipe@example.org", "p@example.com"),
    );
    assert_eq!(output.status.code(), Some(0), "silent success from a pipe");
    assert!(
        output.stdout.is_empty(),
        "cron and MTA pipes get silence when all is well"
    );
    let output = run(fbl(dir.path()).args(["suppress", "check", "pipe@example.org"]));
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn manual_changes_need_a_reason_and_are_kept_in_history() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        "m@Example.ORG",
        "--reason",
        "asked by phone",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "add", "not-an-address"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not an email address"));
    let output = run(fbl(dir.path()).args(["suppress", "remove", "m@example.org"]));
    assert_eq!(
        output.status.code(),
        Some(2),
        "remove without --reason is refused"
    );
    let output = run(fbl(dir.path()).args([
        "suppress",
        "remove",
        "m@example.org",
        "--reason",
        "re-subscribed, ticket 7",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "check", "m@example.org"]));
    assert_eq!(output.status.code(), Some(1));
    let output = run(fbl(dir.path()).args(["suppress", "show", "m@example.org"]));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0]["reason"], "asked by phone");
    assert_eq!(history[1]["action"], "remove");
    assert_eq!(history[1]["note"], "re-subscribed, ticket 7");
}

/// A whole list checked by one process, from the command line or standard input: a line per
/// address in order, exit 0 only when every one is suppressed.
#[test]
fn suppress_check_takes_a_list_from_arguments_or_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args(["suppress", "add", "a@example.org", "b@example.org"]));
    assert_eq!(output.status.code(), Some(0));

    let output = run(fbl(dir.path()).args(["suppress", "check", "A@Example.org", "b@example.org"]));
    assert_eq!(output.status.code(), Some(0), "every one is suppressed");
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("a@example.org suppressed: manual"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("b@example.org suppressed: manual"),
        "{text}"
    );

    let check_stdin = |args: &[&str], input: &str| {
        run_with_stdin(
            fbl(dir.path()).args(["suppress", "check"]).args(args),
            input.as_bytes(),
        )
    };
    let input = "# to send today\nb@example.org\n\n  nobody@example.org\nnot an address\n#hash@example.org\n";
    let output = check_stdin(&["-"], input);
    assert_eq!(output.status.code(), Some(1), "one is not suppressed");
    assert_eq!(
        stdout(&output)
            .lines()
            .map(|line| line.split(':').next().unwrap())
            .collect::<Vec<_>>(),
        [
            "b@example.org suppressed",
            "nobody@example.org not suppressed",
            "\"not an address\" is not an email address",
            "#hash@example.org not suppressed",
        ]
    );
    let output = check_stdin(&["-", "--json"], input);
    assert_eq!(output.status.code(), Some(1));
    let lines: Vec<serde_json::Value> = stdout(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["suppressed"], true);
    assert_eq!(lines[0]["entry"]["reason"], "manual");
    assert_eq!(lines[1]["address"], "nobody@example.org");
    assert_eq!(lines[1]["suppressed"], false);
    assert!(lines[1]["entry"].is_null());
    assert_eq!(lines[2]["error"], "not an email address");
    let output = check_stdin(&["-"], "a@example.org\nb@example.org\n");
    assert_eq!(
        output.status.code(),
        Some(0),
        "every one on stdin is suppressed"
    );
}

/// fbl's own reasons are one reason whatever their letter case: folded to lower case as they
/// come in (`suppress add --reason`, an import's `reason` column), so that they get their
/// configured expiry and rank (an imported `Complaint` is not replaced by `manual`).
#[test]
fn reasons_are_compared_and_kept_without_letter_case() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[suppression]\nexpire_after_days = { unsubscribe = 730 }\n",
    )
    .unwrap();
    let fbl = || {
        let mut command = fbl(dir.path());
        command.args(["--config", "fbl.toml"]);
        command
    };
    std::fs::write(
        dir.path().join("list.csv"),
        "email,reason\na@example.com,Unsubscribe\nb@example.com,UNSUBSCRIBE\n\
         d@example.com,Complaint\nf@example.com,Asked by phone\n",
    )
    .unwrap();
    let output = run(fbl().args(["suppress", "import", "list.csv"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let output = run(fbl().args([
        "suppress",
        "add",
        "e@example.com",
        "--reason",
        "Unsubscribe",
    ]));
    assert_eq!(output.status.code(), Some(0));
    std::fs::write(
        dir.path().join("again.csv"),
        "email,reason\nd@example.com,manual\n",
    )
    .unwrap();
    let output = run(fbl().args(["suppress", "import", "again.csv"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).starts_with("1 address read, 0 added, 1 already listed"),
        "a complaint is not downgraded: {}",
        stdout(&output)
    );
    let output = run(fbl().args(["suppress", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    let entries: Vec<(&str, &str, Option<&str>)> = list
        .iter()
        .map(|e| {
            (
                e["address"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
                e["expires_at"].as_str(),
            )
        })
        .collect();
    let expiry = Some("2028-11-19T08:00:00Z");
    assert_eq!(
        entries,
        [
            ("a@example.com", "unsubscribe", expiry),
            ("b@example.com", "unsubscribe", expiry),
            ("d@example.com", "complaint", None),
            ("e@example.com", "unsubscribe", expiry),
            ("f@example.com", "Asked by phone", None),
        ]
    );
}

/// A list saved on Windows starts with a UTF-8 byte order mark and ends its lines with CRLF:
/// its first address is still looked up (a send script filtering on the answer would mail a
/// suppressed person), and so is one after a second mark (two such lists joined by `cat`).
#[test]
fn suppress_check_of_a_windows_list_drops_its_byte_order_mark_and_crs() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args(["suppress", "add", "a@example.org", "b@example.org"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run_with_stdin(
        fbl(dir.path()).args(["suppress", "check", "-"]),
        b"\xef\xbb\xbfa@example.org\r\nb@example.org\r\n\xef\xbb\xbfa@example.org\r\n",
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let answers: Vec<&str> = text
        .lines()
        .map(|line| line.split(':').next().unwrap())
        .collect();
    assert_eq!(
        answers,
        [
            "a@example.org suppressed",
            "b@example.org suppressed",
            "a@example.org suppressed"
        ]
    );
    let output = run_with_stdin(
        fbl(dir.path()).args(["suppress", "check", "-", "--json"]),
        b"\xef\xbb\xbfnobody@example.org\r\n",
    );
    assert_eq!(output.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_str(stdout(&output).trim()).unwrap();
    assert_eq!(line["address"], "nobody@example.org");
    assert_eq!(line["suppressed"], false);
}

/// One rule for `suppress check`, one address or a list: what is not an email address is not
/// on the list, so it is "not suppressed" (exit 1) with the reason, never a failure (exit 2
/// is for a check that cannot be answered); an entry a store kept by that exact text before
/// addresses were checked as closely as now is suppressed (exit 0).
#[test]
fn suppress_check_of_an_invalid_address_exits_1_alone_or_in_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let check = |args: &[&str]| run(fbl(dir.path()).args(["suppress", "check"]).args(args));
    let output = check(&["a@example.org"]);
    assert_eq!(output.status.code(), Some(2), "no store: no answer");

    suppressed_by_an_older_fbl(dir.path(), &["a@b@c.com", "a@example.org"]);

    let output = check(&["not an address"]);
    assert_eq!(
        output.status.code(),
        Some(1),
        "not an address: not suppressed"
    );
    assert_eq!(stdout(&output), "");
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "fbl: \"not an address\" is not an email address: it has no @; it is not on the \
         suppression list\n"
    );
    let output = check(&["x..y@example.org", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(stdout(&output).trim(), "null");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is not an email address"),
        "the reason is given"
    );

    // The same answer in a list, from arguments or standard input.
    let output = check(&["a@example.org", "not an address"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stdout(&output).lines().nth(1),
        Some("\"not an address\" is not an email address: it has no @")
    );
    let output = run_with_stdin(
        fbl(dir.path()).args(["suppress", "check", "-"]),
        b"a@example.org\nnot an address\n",
    );
    assert_eq!(output.status.code(), Some(1));

    // An entry kept by its exact text is on the list: alone or in a list, exit 0.
    let output = check(&["a@b@c.com"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(stdout(&output).starts_with("a@b@c.com suppressed: complaint"));
    assert_eq!(String::from_utf8(output.stderr).unwrap(), "");
    let output = check(&["a@example.org", "a@b@c.com"]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}

#[test]
fn import_takes_plain_and_csv_lists_and_reports_invalid_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "list.txt",
        b"# old list\none@example.org\n\nTWO@EXAMPLE.ORG\nnot an address\n#hash@example.org\n# commented@example.org\n",
    );
    write(
        dir.path(),
        "list.csv",
        b"name,email,reason\nThree,three@example.org,complaint\nFour,four@example.org,\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "list.txt"]));
    assert_eq!(
        output.status.code(),
        Some(1),
        "an invalid line needs attention"
    );
    assert!(stdout(&output).contains("list.txt:5"));
    let output = run(fbl(dir.path()).args(["suppress", "import", "list.csv"]));
    assert_eq!(output.status.code(), Some(0));
    // Mailchimp's export names its column "Email Address".
    write(
        dir.path(),
        "mailchimp.csv",
        b"Email Address,First Name\nfive@example.org,Five\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "mailchimp.csv"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    // Excel in most of Europe separates with semicolons; a tab-separated export, with tabs.
    write(
        dir.path(),
        "excel.csv",
        b"\xef\xbb\xbfName;E-Mail;Reason\r\n\"Six, Jr\";six@example.org;complaint\r\n",
    );
    write(
        dir.path(),
        "tabs.tsv",
        b"email\treason\nseven@example.org\tcomplaint\n",
    );
    for name in ["excel.csv", "tabs.tsv"] {
        let output = run(fbl(dir.path()).args(["suppress", "import", name]));
        assert_eq!(output.status.code(), Some(0), "{name}: {}", stdout(&output));
    }
    for address in ["six@example.org", "seven@example.org"] {
        let output = run(fbl(dir.path()).args(["suppress", "check", address]));
        assert_eq!(output.status.code(), Some(0), "{address}");
        // Off again, for the list checked below.
        let output = run(fbl(dir.path()).args(["suppress", "remove", address, "--reason", "t"]));
        assert_eq!(output.status.code(), Some(0));
    }
    let output = run(fbl(dir.path()).args(["suppress", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    let summary: Vec<(String, String)> = list
        .iter()
        .map(|e| {
            (
                e["address"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("#hash@example.org".to_string(), "import".to_string()),
            ("five@example.org".to_string(), "import".to_string()),
            ("four@example.org".to_string(), "import".to_string()),
            ("one@example.org".to_string(), "import".to_string()),
            ("three@example.org".to_string(), "complaint".to_string()),
            ("TWO@example.org".to_string(), "import".to_string()),
        ]
    );
    // Importing again changes nothing.
    let before = counts(dir.path()).suppressions;
    run(fbl(dir.path()).args(["suppress", "import", "list.csv"]));
    assert_eq!(counts(dir.path()).suppressions, before);
}

#[test]
fn a_second_fbl_on_the_same_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.eml",
        &arf("abuse", "a@example.org", "m@example.com"),
    );
    let store = fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    let _lock = store.lock().unwrap();
    let output = run(fbl(dir.path()).args(["ingest", "a.eml"]));
    assert_eq!(
        output.status.code(),
        Some(3),
        "an overlapping run has its own exit status"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains(") is working on store"));
    // The same store through a link, or by another path, is the same store.
    std::os::unix::fs::symlink("fbl.sqlite", dir.path().join("link.sqlite")).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    for db in ["link.sqlite", "sub/../fbl.sqlite"] {
        let output = run(fbl(dir.path()).args(["--db", db, "ingest", "a.eml"]));
        assert_eq!(output.status.code(), Some(3), "{db}");
    }
}

/// SQLite keeps its write-ahead log, and fbl its lock file, beside the name a store is opened
/// by: a store file with two names (a hard link) is two logs and two locks, and writes through
/// one name are lost through the other. Refused under either name; a symbolic link is fine.
#[test]
fn a_store_file_with_two_names_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.eml",
        &arf("abuse", "a@example.org", "m@example.com"),
    );
    let output = run(fbl(dir.path()).args(["ingest", "a.eml"]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    std::fs::create_dir(dir.path().join("other")).unwrap();
    std::fs::hard_link(
        dir.path().join("fbl.sqlite"),
        dir.path().join("other/fbl.sqlite"),
    )
    .unwrap();
    for db in ["other/fbl.sqlite", "fbl.sqlite"] {
        let output = run(fbl(dir.path()).args(["--db", db, "suppress", "check", "a@example.org"]));
        assert_eq!(output.status.code(), Some(2), "{db}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with(&format!("fbl: cannot open store {db}: "))
                && stderr.contains("has 2 names (hard links)"),
            "{stderr}"
        );
    }
    std::fs::remove_file(dir.path().join("other/fbl.sqlite")).unwrap();
    let output = run(fbl(dir.path()).args(["suppress", "check", "a@example.org"]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}

/// As root, the store of a service user in that user's own folder (`/var/lib/fbl`) is read
/// and changed (`sudo fbl suppress add`); the lock file root makes is the store owner's, so
/// the service's next run can take it.
#[test]
fn root_works_on_a_service_users_store_in_its_own_folder() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if !crate::dovecot::running_as_root() {
        return;
    }
    let nobody = crate::dovecot::NOBODY;
    let dir = tempfile::tempdir().unwrap();
    let service = dir.path().join("service");
    std::fs::create_dir(&service).unwrap();
    let output = run(fbl(dir.path()).args([
        "--db",
        "service/fbl.sqlite",
        "suppress",
        "add",
        "a@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    std::fs::remove_file(service.join("fbl.sqlite.lock")).unwrap();
    crate::dovecot::chown_tree(&service, nobody, nobody);
    std::fs::set_permissions(&service, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = run(fbl(dir.path()).args([
        "--db",
        "service/fbl.sqlite",
        "suppress",
        "add",
        "b@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let output = run(fbl(dir.path()).args([
        "--db",
        "service/fbl.sqlite",
        "suppress",
        "check",
        "b@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    for name in ["fbl.sqlite.lock", "fbl.sqlite"] {
        assert_eq!(
            std::fs::metadata(service.join(name)).unwrap().uid(),
            nobody,
            "{name}"
        );
    }
    // Root rewrites the service's export in its folder (it stays the service's).
    std::fs::write(service.join("list.txt"), "old\n").unwrap();
    std::os::unix::fs::chown(service.join("list.txt"), Some(nobody), Some(nobody)).unwrap();
    let output = run(fbl(dir.path()).args([
        "--db",
        "service/fbl.sqlite",
        "export",
        "--format",
        "plain",
        "--output",
        "service/list.txt",
    ]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        std::fs::read_to_string(service.join("list.txt")).unwrap(),
        "a@example.org\nb@example.org\n"
    );
    assert_eq!(
        std::fs::metadata(service.join("list.txt")).unwrap().uid(),
        nobody
    );
    // A companion that is a hard link (the service user linking a file of root's there)
    // is refused before root writes to it.
    std::fs::write(dir.path().join("roots-file"), "root's\n").unwrap();
    std::fs::remove_file(service.join("fbl.sqlite.lock")).unwrap();
    std::fs::hard_link(
        dir.path().join("roots-file"),
        service.join("fbl.sqlite.lock"),
    )
    .unwrap();
    let fbl_in = |args: &[&str]| run(fbl(dir.path()).args(args));
    let output = fbl_in(&[
        "--db",
        "service/fbl.sqlite",
        "suppress",
        "add",
        "c@example.org",
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("has 2 names (hard links)"),
        "{output:?}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("roots-file")).unwrap(),
        "root's\n"
    );
    assert_eq!(
        std::fs::metadata(dir.path().join("roots-file"))
            .unwrap()
            .uid(),
        0
    );
    std::fs::remove_file(service.join("fbl.sqlite.lock")).unwrap();
    // Root making a new store in the service user's own folder makes it that user's.
    let output = fbl_in(&[
        "--db",
        "service/new.sqlite",
        "suppress",
        "add",
        "d@example.org",
    ]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    for name in ["new.sqlite", "new.sqlite.lock"] {
        assert_eq!(
            std::fs::metadata(service.join(name)).unwrap().uid(),
            nobody,
            "{name}"
        );
    }
    // The same folder writable by its group: another user may have put the store there.
    std::fs::set_permissions(&service, std::fs::Permissions::from_mode(0o775)).unwrap();
    let output = fbl_in(&[
        "--db",
        "service/fbl.sqlite",
        "suppress",
        "check",
        "b@example.org",
    ]);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("run fbl as the user who owns the store"),
        "{output:?}"
    );
    // A folder of that user's own where it could make one (here: in a folder every user may
    // write, as /tmp) is no service folder: refused too.
    std::fs::set_permissions(&service, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    let output = fbl_in(&[
        "--db",
        "service/fbl.sqlite",
        "suppress",
        "check",
        "b@example.org",
    ]);
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}

/// `--lock-wait SECONDS` makes any command wait for another fbl's lock; `fbl run` waits a
/// minute unless told otherwise (an MTA piping reports in holds it a moment per message).
#[test]
fn a_command_waits_for_a_lock_that_is_let_go() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fbl.toml", b"[store]\npath = \"fbl.sqlite\"\n");
    let store = fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    let hold_then_let_go = |store: fbl::store::Store| {
        let lock = store.lock().unwrap();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(700));
            drop(lock);
            store
        })
    };
    // Without --lock-wait, at once: 3.
    let letting_go = hold_then_let_go(store);
    let output =
        run(fbl(dir.path()).args(["--config", "fbl.toml", "suppress", "add", "a@example.org"]));
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let store = letting_go.join().unwrap();
    // With it, done once the lock is let go.
    let letting_go = hold_then_let_go(store);
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "--lock-wait",
        "30",
        "suppress",
        "add",
        "a@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let store = letting_go.join().unwrap();
    // A run waits by default.
    let letting_go = hold_then_let_go(store);
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    letting_go.join().unwrap();
}

#[test]
fn an_overlapping_cron_run_ends_quietly_until_the_run_it_overlaps_has_held_the_store_an_hour() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fbl.toml", b"[store]\npath = \"fbl.sqlite\"\n");
    let store = fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    let _lock = store.lock().unwrap();
    let lock_file = dir.path().join("fbl.sqlite.lock");
    let written = std::fs::read_to_string(&lock_file).unwrap();
    assert!(
        written.starts_with(&format!("pid {}\nsince 20", std::process::id())),
        "{written}"
    );
    // Under cron (no terminal), a run that started minutes ago is no news: exit 3, silent.
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "--lock-wait", "0", "run"]));
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "{output:?}"
    );
    // Another command says who holds it.
    let output =
        run(fbl(dir.path()).args(["--config", "fbl.toml", "suppress", "add", "a@example.org"]));
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let said = format!("fbl: another fbl (process {}, since ", std::process::id());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&said) && stderr.contains(", less than a minute) is working on store"),
        "{stderr}"
    );
    // A run held for more than an hour is stuck or too slow for its schedule: said each time.
    let since = (chrono::Utc::now() - chrono::TimeDelta::minutes(125))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    std::fs::write(&lock_file, format!("pid 4242\nsince {since}\n")).unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "--lock-wait", "0", "run"]));
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with(&format!(
            "fbl: another fbl (process 4242, since {since}, 2 h 5 min) is working on store "
        )) && stderr.contains("nothing was done"),
        "{stderr}"
    );
    // A lock file an older fbl left empty: said, as before.
    std::fs::write(&lock_file, "").unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "--lock-wait", "0", "run"]));
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(
        String::from_utf8_lossy(&output.stderr).starts_with("fbl: another fbl is working on store"),
        "{output:?}"
    );
    // A holder that has just taken the lock and not yet written who it is: not said.
    std::fs::write(&lock_file, "").unwrap();
    let writer = {
        let lock_file = lock_file.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(60));
            let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
            std::fs::write(&lock_file, format!("pid 4243\nsince {now}\n")).unwrap();
        })
    };
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "--lock-wait", "0", "run"]));
    writer.join().unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "{output:?}"
    );
}

#[test]
fn a_bad_configuration_is_fatal_and_named() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fbl.toml", b"[store]\npaht = \"x\"\n");
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("fbl.toml") && stderr.contains("paht"),
        "{stderr}"
    );
    // A relative path not found says from which folder it was read (cron's is not yours).
    let sub = dir.path().join("elsewhere");
    std::fs::create_dir(&sub).unwrap();
    let output = run(fbl(&sub).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "cannot read configuration file fbl.toml (a relative path, read from the working \
             folder {}: give the full path under cron)",
            sub.canonicalize().unwrap().display()
        )),
        "{stderr}"
    );
}

#[test]
fn config_prints_the_effective_configuration_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fbl.toml", b"[attribution]\nheader = [{ name = \"X-T\", value = \"token\" }]\n[attribution.token]\nsecret = \"hunter2-very-secret\"\n");
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "config"]));
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(!text.contains("hunter2"), "{text}");
    assert!(text.contains("********"));
    assert!(text.contains("fbl.sqlite"));
}

/// A store fed the two sparse JMRP fixtures that only an import can attribute: one with a
/// VERP id, one with nothing but its Message-ID.
fn store_with_unattributed_jmrp(dir: &Path) {
    let fixtures = crate::support::fixtures().join("reports");
    std::fs::copy(fixtures.join("fbl.toml"), dir.join("fbl.toml")).unwrap();
    std::fs::copy(fixtures.join("token-secret"), dir.join("token-secret")).unwrap();
    for name in [
        "jmrp-2026-verp-id.eml",
        "jmrp-2026-unattributable-message-id-only.eml",
    ] {
        std::fs::copy(fixtures.join(name), dir.join(name)).unwrap();
    }
    let output = run(fbl(dir).args([
        "--config",
        "fbl.toml",
        "ingest",
        "jmrp-2026-verp-id.eml",
        "jmrp-2026-unattributable-message-id-only.eml",
        "--json",
    ]));
    assert_eq!(
        output.status.code(),
        Some(1),
        "unattributed complaints need attention"
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["unattributed"], 2);
}

#[test]
fn a_send_log_imported_later_attributes_stored_complaints() {
    let dir = tempfile::tempdir().unwrap();
    store_with_unattributed_jmrp(dir.path());
    let message_id = {
        let raw = std::fs::read_to_string(
            dir.path()
                .join("jmrp-2026-unattributable-message-id-only.eml"),
        )
        .unwrap();
        let line = raw
            .lines()
            .rfind(|l| l.starts_with("Message-ID:"))
            .unwrap()
            .to_string();
        line.trim_start_matches("Message-ID:").trim().to_string()
    };
    write(
        dir.path(),
        "sends.csv",
        format!(
            "message_id,recipient,id,campaign,sent_at\n\
             <other@example.com>,someone@example.org,,july,2026-11-01T10:00:00Z\n\
             ,verp.person@example.org,7f3a9c,july,2026-11-01T10:00:00Z\n\
             {message_id},msgid.person@example.org,,july,2026-11-01T10:00:00Z\n\
             bad row without recipient,,,july,\n"
        )
        .as_bytes(),
    );
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "sendlog",
        "import",
        "sends.csv",
        "--format",
        "csv",
        "--json",
    ]));
    assert_eq!(output.status.code(), Some(1), "a bad line needs attention");
    let imported: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(imported["added"], 3);
    assert_eq!(imported["bad_lines"], 1);
    assert_eq!(imported["reattributed"], 2);
    // Said for a person too, in the singular.
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "sendlog",
        "import",
        "sends.csv",
        "--format",
        "csv",
    ]));
    assert!(
        stdout(&output).contains(", 1 bad line;"),
        "{}",
        stdout(&output)
    );
    for address in ["verp.person@example.org", "msgid.person@example.org"] {
        let output = run(fbl(dir.path()).args(["suppress", "show", address]));
        let shown: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(shown["suppressed"]["source"], "microsoft", "{address}");
        assert_eq!(
            shown["evidence_report_ids"].as_array().unwrap().len(),
            1,
            "{address}"
        );
    }
    assert!(
        stdout(&run(fbl(dir.path()).args(["suppress", "list"])))
            .lines()
            .count()
            == 2
    );

    // Importing the same log again adds nothing and changes nothing.
    let before = counts(dir.path());
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "sendlog",
        "import",
        "sends.csv",
        "--format",
        "csv",
        "--json",
    ]));
    let imported: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(imported["added"], 0);
    assert_eq!(imported["already_known"], 3);
    assert_eq!(counts(dir.path()), before);
}

/// Classic syslog dates carry no year: read on 2 January 2027, December's lines were dated
/// December 2027 (the current year) and January's 2028 (counted on at the rollover).
#[test]
fn a_postfix_log_across_new_year_is_dated_up_to_now() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[store]\npath = \"fbl.sqlite\"\n\n[send_log]\nretention_days = 5000\n",
    );
    write(
        dir.path(),
        "mail.log",
        b"Dec 30 10:00:00 mail01 postfix/cleanup[1202]: AAA111: message-id=<dec30@sender.example>\n\
          Dec 30 10:00:01 mail01 postfix/smtp[1203]: AAA111: to=<dec@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 OK)\n\
          Dec 30 10:00:01 mail01 postfix/qmgr[1204]: AAA111: removed\n\
          Jan  2 09:00:00 mail01 postfix/cleanup[1202]: BBB222: message-id=<jan2@sender.example>\n\
          Jan  2 09:00:01 mail01 postfix/smtp[1203]: BBB222: to=<jan@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 OK)\n\
          Jan  2 09:00:01 mail01 postfix/qmgr[1204]: BBB222: removed\n",
    );
    for (zone, december, january) in [
        ("UTC", "2026-12-30T10:00:01Z", "2027-01-02T09:00:01Z"),
        // Berlin is at +01:00 on both dates.
        (
            "Europe/Berlin",
            "2026-12-30T09:00:01Z",
            "2027-01-02T08:00:01Z",
        ),
    ] {
        let _ = std::fs::remove_file(dir.path().join("fbl.sqlite"));
        let output = run(fbl(dir.path())
            .env("FBL_NOW", "2027-01-02T10:00:00Z")
            .env("TZ", zone)
            .args(["--config", "fbl.toml", "sendlog", "import", "mail.log"])
            .args(["--format", "postfix", "--json"]));
        assert_eq!(output.status.code(), Some(0), "{zone}");
        let store = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
        let mut query = store
            .prepare("SELECT recipient, sent_at FROM send_log ORDER BY sent_at")
            .unwrap();
        let rows: Vec<(String, String)> = query
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            rows,
            [
                ("dec@example.org".to_string(), december.to_string()),
                ("jan@example.org".to_string(), january.to_string()),
            ],
            "{zone}"
        );
    }
}

/// The offset of a classic syslog time is the one in force on its own date: a July line
/// read in November in Berlin is at +02:00 (CEST), not November's +01:00.
#[test]
fn a_postfix_log_from_summer_read_in_winter_keeps_summer_time() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[store]\npath = \"fbl.sqlite\"\n\n[send_log]\nretention_days = 5000\n",
    );
    write(
        dir.path(),
        "mail.log",
        b"Jul 10 12:00:00 mail01 postfix/cleanup[1202]: AAA111: message-id=<jul10@sender.example>\n\
          Jul 10 12:00:01 mail01 postfix/smtp[1203]: AAA111: to=<jul@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 OK)\n",
    );
    let output = run(fbl(dir.path())
        .env("FBL_NOW", "2026-11-20T08:00:00Z")
        .env("TZ", "Europe/Berlin")
        .args(["--config", "fbl.toml", "sendlog", "import", "mail.log"])
        .args(["--format", "postfix", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let store = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
    let sent_at: String = store
        .query_row("SELECT sent_at FROM send_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sent_at, "2026-07-10T10:00:01Z");
}

/// `fbl run` imports the configured logs in order: a message queued in `maillog.1` (before
/// the rotation) and delivered in `maillog` is recorded, and the run is clean. It used to
/// be a bad line, and every run exited 1 until the next rotation.
#[test]
fn a_run_records_a_postfix_delivery_queued_before_the_log_rotation() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "maillog.1",
        b"Nov 27 23:50:00 mail01 postfix/cleanup[1202]: 9ABC12345: message-id=<rot1@sender.example>\n\
          Nov 27 23:50:01 mail01 postfix/smtp[1300]: 9ABC12345: to=<slow@example.net>, relay=mx.example.net[198.51.100.7]:25, delay=1, delays=0.05/0.01/0.5/0.5, dsn=4.7.0, status=deferred (host said: 421 4.7.0 try later)\n",
    );
    write(
        dir.path(),
        "maillog",
        b"Nov 28 00:20:02 mail01 postfix/smtp[1300]: 9ABC12345: to=<slow@example.net>, relay=mx.example.net[198.51.100.7]:25, delay=1802, delays=1800/0.01/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)\n\
          Nov 28 00:20:02 mail01 postfix/qmgr[1100]: 9ABC12345: removed\n",
    );
    write(
        dir.path(),
        "both.toml",
        b"[store]\npath = \"fbl.sqlite\"\n[send_log]\nimport = [{ path = \"maillog.1\", format = \"postfix\" }, { path = \"maillog\", format = \"postfix\" }]\n",
    );
    for pass in ["first", "second"] {
        let output = run(fbl(dir.path())
            .env("FBL_NOW", "2026-11-28T12:00:00Z")
            .env("TZ", "UTC")
            .args(["--config", "both.toml", "run", "--json"]));
        assert_eq!(output.status.code(), Some(0), "{pass} run");
        let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(summary["send_log"][1]["bad_lines"], 0, "{pass} run");
        assert_eq!(
            summary["send_log"][1]["added"],
            if pass == "first" { 1 } else { 0 },
            "{pass} run"
        );
        let store = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
        let sent: Vec<(String, String, String)> = store
            .prepare("SELECT message_id, recipient, sent_at FROM send_log")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            sent,
            [(
                "rot1@sender.example".to_string(),
                "slow@example.net".to_string(),
                "2026-11-28T00:20:02Z".to_string()
            )],
            "{pass} run"
        );
        let open: i64 = store
            .query_row("SELECT count(*) FROM postfix_open_queue_ids", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(open, 0, "{pass} run: removed, so forgotten");
    }
}

/// A send log with lines but not one Postfix line (a CSV given as `--format postfix`, a
/// syslog shape fbl cannot read) is said to be so, and needs attention: it used to be
/// "imported" with 0 entries and exit 0, and `fbl run` said nothing.
#[test]
fn a_send_log_with_no_line_fbl_recognises_needs_attention() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sends.csv",
        b"message_id,recipient,sent_at\n<m1@s.example>,ann@example.org,2026-11-27T10:00:00Z\n<m2@s.example>,bob@example.org,2026-11-27T10:00:00Z\n",
    );
    write(
        dir.path(),
        "fbl.toml",
        b"[store]\npath = \"fbl.sqlite\"\n[send_log]\nimport = [{ path = \"sends.csv\", format = \"postfix\" }]\n",
    );
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "sendlog",
        "import",
        "sends.csv",
        "--format",
        "postfix",
    ]));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("0 bad lines, 3 lines not recognised;"),
        "{text}"
    );
    assert!(
        text.contains("sends.csv: 3 lines, none recognised as a Postfix log"),
        "{text}"
    );
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("3 lines, none recognised as a Postfix log"),
        "{text}"
    );

    // A mail log whose Postfix lines are there, among other programs' and a line in no
    // syslog shape, is fine: the odd line is counted, not an error.
    write(
        dir.path(),
        "mail.log",
        b"Nov 19 01:49:25 mail01 dovecot: imap-login: Login: user=<ann>\n\
          Nov 19 01:49:26 mail01 postfix/anvil[99]: statistics: max connection rate 1/60s\n\
          -- MARK --\n",
    );
    let output = run(fbl(dir.path()).args([
        "--config", "fbl.toml", "sendlog", "import", "mail.log", "--format", "postfix", "--json",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let imported: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(imported["unrecognised_lines"], 1);
    assert_eq!(imported["none_recognised"], false);
}

/// An entry sent before the retention cutoff is not stored: it used to be added and pruned
/// again by every import, which counted it as new each time and so attributed all stored
/// complaints again on every import and every run.
#[test]
fn entries_older_than_the_retention_are_skipped_and_a_reimport_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "old.csv",
        b"message_id,recipient,sent_at\n<old1@s.example>,old1@example.org,2026-03-01T10:00:00Z\n<new1@s.example>,new1@example.org,2026-11-19T10:00:00Z\n",
    );
    let import = || {
        let output = run(
            fbl(dir.path()).args(["sendlog", "import", "old.csv", "--format", "csv", "--json"])
        );
        assert_eq!(output.status.code(), Some(0));
        let imported: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        ["added", "already_known", "older_than_retention", "pruned"]
            .map(|field| imported[field].as_u64().unwrap())
    };
    assert_eq!(import(), [1, 0, 1, 0]);
    for _ in 0..2 {
        assert_eq!(import(), [0, 1, 1, 0], "nothing new, nothing pruned");
    }
    let output = run(fbl(dir.path()).args(["sendlog", "import", "old.csv", "--format", "csv"]));
    assert!(
        stdout(&output).starts_with(
            "2 entries read: 0 added, 1 already known, 1 older than retention, 0 bad lines; 0 pruned;"
        ),
        "{}",
        stdout(&output)
    );

    // A run whose import prunes an entry that grew old counts it in its own figure too.
    write(dir.path(), "fbl.toml", b"[store]\npath = \"fbl.sqlite\"\n[send_log]\nimport = [{ path = \"old.csv\", format = \"csv\" }]\n");
    let output = run(fbl(dir.path())
        .env("FBL_NOW", "2027-05-25T00:00:00Z")
        .args(["--config", "fbl.toml", "run", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["send_log"][0]["pruned"], 1);
    assert_eq!(summary["send_log"][0]["older_than_retention"], 2);
    assert_eq!(summary["send_log_pruned"], 1, "the two pruned counts agree");
}

#[test]
fn ingest_attributes_through_a_send_log_imported_first_and_prunes_old_entries() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sends.jsonl",
        b"{\"message_id\": \"x1@example.com\", \"recipient\": \"first@example.org\", \"sent_at\": \"2026-11-10T00:00:00Z\"}\n\
          {\"message_id\": \"old@example.com\", \"recipient\": \"old@example.org\", \"sent_at\": \"2025-01-01T00:00:00Z\"}\n",
    );
    let output = run(fbl(dir.path()).args([
        "sendlog",
        "import",
        "sends.jsonl",
        "--format",
        "jsonl",
        "--json",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let imported: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        (&imported["added"], &imported["older_than_retention"]),
        (&1.into(), &1.into()),
        "entries older than the retention are not kept"
    );
    write(dir.path(), "r.eml", &arf("abuse", "", "x1@example.com"));
    let output = run(fbl(dir.path()).args(["ingest", "r.eml", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["parse", "r.eml"]));
    assert!(
        !stdout(&output).contains("first@example.org"),
        "parse reads no store"
    );
    let output = run(fbl(dir.path()).args(["suppress", "check", "first@example.org"]));
    assert_eq!(output.status.code(), Some(0));
}

#[test]
fn with_trust_configured_only_authenticated_feedback_loops_suppress() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[trust]\nauthserv_id = \"mx.sender.example\"\n",
    );
    let signed = [
        b"Authentication-Results: mx.sender.example; dkim=pass header.d=yahoo.com header.s=s1024\n"
            .to_vec(),
        arf("abuse", "signed@example.org", "s@example.com"),
    ]
    .concat();
    // The same results, but written by a server that is not ours: anyone can add that.
    let forged = [
        b"Authentication-Results: mx.attacker.example; dkim=pass header.d=yahoo.com\n".to_vec(),
        arf("abuse", "victim@example.org", "f@example.com"),
    ]
    .concat();
    let unsigned = arf("abuse", "victim2@example.org", "u@example.com");
    write(dir.path(), "in/signed.eml", &signed);
    write(dir.path(), "in/forged.eml", &forged);
    write(dir.path(), "in/unsigned.eml", &unsigned);
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "ingest", "in", "--json"]));
    assert_eq!(
        output.status.code(),
        Some(1),
        "untrusted reports need attention"
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["stored"], 1);
    assert_eq!(summary["quarantined"], 2);
    assert_eq!(summary["untrusted"], 2);
    let reasons = summary["quarantine_reasons"].to_string();
    assert!(reasons.contains("untrusted_reporter"), "{reasons}");
    for (address, expected) in [
        ("signed@example.org", 0),
        ("victim@example.org", 1),
        ("victim2@example.org", 1),
    ] {
        let output = run(fbl(dir.path()).args(["suppress", "check", address]));
        assert_eq!(output.status.code(), Some(expected), "{address}");
    }
}

#[test]
fn a_reader_that_stops_early_ends_fbl_quietly() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for i in 0..2000 {
        let name = format!("{i}.eml");
        write(
            dir.path(),
            &name,
            &arf(
                "abuse",
                &format!("p{i}@example.org"),
                &format!("m{i}@example.com"),
            ),
        );
        files.push(name);
    }
    let mut child = fbl(dir.path())
        .arg("parse")
        .args(&files)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is gone (like `| head -1`).
    let output = child.wait_with_output().unwrap();
    assert!(first.contains("p0@example.org"));
    assert_eq!(output.status.code(), Some(141));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// `fbl run` over one configured source, `local` (the folder `in`); its exit code and JSON
/// summary.
fn run_source(dir: &Path) -> (Option<i32>, serde_json::Value) {
    std::fs::write(
        dir.join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n[[source]]\nname = \"local\"\npath = \"in\"\n",
    )
    .unwrap();
    let output = run(fbl(dir).args(["--config", "fbl.toml", "run", "--json"]));
    (
        output.status.code(),
        serde_json::from_str(&stdout(&output)).unwrap(),
    )
}

/// A source with a file that cannot be read (as root too: a link to nothing) after some of
/// its messages needs attention (exit 1): the summary names the file among what was not
/// read, and counts what was committed.
#[test]
fn a_source_that_fails_midway_counts_what_it_committed() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        write(
            &dir.path().join("in"),
            &format!("{i}.eml"),
            &arf(
                "abuse",
                &format!("user{i}@example.org"),
                &format!("m{i}@example.com"),
            ),
        );
    }
    // Read last (a folder is read in name order).
    std::os::unix::fs::symlink("nowhere.eml", dir.path().join("in/zz.eml")).unwrap();

    let (code, summary) = run_source(dir.path());
    assert_eq!(code, Some(1), "a file not read needs attention: {summary}");
    let unreadable = summary["ingest"]["unreadable"].to_string();
    assert!(unreadable.contains("zz.eml"), "{unreadable}");
    assert_eq!(counts(dir.path()).reports, 3);
    assert_eq!(summary["ingest"]["messages"], 3, "{summary}");
    assert_eq!(summary["ingest"]["stored"], 3, "{summary}");
    assert_eq!(summary["ingest"]["suppressions_added"], 3, "{summary}");
}

/// A source whose second batch the store refuses to commit (a deferred constraint that the
/// report after the first batch breaks, checked at COMMIT): the summary counts the first batch, which the
/// store holds, and not the refused one; the next run stores it.
#[test]
fn a_source_batch_the_store_refuses_is_not_counted() {
    let dir = tempfile::tempdir().unwrap();
    let batch = fbl::ingest::BATCH_SIZE;
    let total = batch + 100;
    for i in 0..total {
        write(
            &dir.path().join("in"),
            &format!("{i:04}.eml"),
            &arf(
                "abuse",
                &format!("user{i}@example.org"),
                &format!("m{i}@example.com"),
            ),
        );
    }
    let path = dir.path().join("fbl.sqlite");
    drop(fbl::store::Store::open(&path).unwrap());
    let store = rusqlite::Connection::open(&path).unwrap();
    store
        .execute_batch(&format!(
            "CREATE TABLE test_allowed (id INTEGER PRIMARY KEY);
             CREATE TABLE test_refused (id INTEGER
                 REFERENCES test_allowed (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER test_refuse AFTER INSERT ON reports
             WHEN (SELECT count(*) FROM reports) = {}
             BEGIN INSERT INTO test_refused VALUES (NEW.id); END;",
            batch + 50
        ))
        .unwrap();

    let (code, summary) = run_source(dir.path());
    assert_eq!(code, Some(1), "a failed source needs attention: {summary}");
    let errors = summary["source_errors"].to_string();
    assert!(
        errors.contains("source local") && errors.contains("FOREIGN KEY"),
        "{errors}"
    );
    assert_eq!(counts(dir.path()).reports, batch as u64);
    assert_eq!(summary["ingest"]["messages"], batch, "{summary}");
    assert_eq!(summary["ingest"]["stored"], batch, "{summary}");
    assert_eq!(summary["ingest"]["suppressions_added"], batch, "{summary}");

    store.execute_batch("DROP TRIGGER test_refuse").unwrap();
    let (code, summary) = run_source(dir.path());
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["stored"], total - batch);
    // The files stored by the first run, read again: not other deliveries of their reports.
    assert_eq!(summary["already_stored"], batch);
    assert_eq!(summary["ingest"]["duplicates"], 0);
    assert_eq!(counts(dir.path()).reports, total as u64);
}

/// A cron job that lost its `--config` runs in another folder: a command that reads the
/// store must not make an empty one there and answer from it ("not suppressed", an empty
/// export written over the real list).
#[test]
fn commands_that_read_the_store_refuse_one_that_does_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    std::fs::create_dir(&exports).unwrap();
    std::fs::write(exports.join("list.txt"), "kept@example.org\n").unwrap();
    let commands: [&[&str]; 14] = [
        &["suppress", "check", "jane@example.org"],
        &["suppress", "list"],
        &["suppress", "show", "jane@example.org"],
        &[
            "suppress",
            "remove",
            "jane@example.org",
            "--reason",
            "asked",
        ],
        &[
            "export",
            "--format",
            "plain",
            "--output",
            "exports/list.txt",
        ],
        &["report"],
        &["report", "delist", "--ip", "192.0.2.1"],
        &["store", "info"],
        &["quarantine", "list"],
        &["quarantine", "retry"],
        &["reattribute"],
        &["snds", "show"],
        &["mailbox", "status"],
        &[
            "--db",
            "elsewhere.sqlite",
            "suppress",
            "check",
            "jane@example.org",
        ],
    ];
    for args in commands {
        let output = run(fbl(dir.path()).args(args));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("no store at") && stderr.contains("--config"),
            "{args:?}: {stderr}"
        );
        let made: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|name| name != "exports")
            .collect();
        assert!(made.is_empty(), "{args:?} made {made:?}");
    }
    assert_eq!(
        std::fs::read_to_string(exports.join("list.txt")).unwrap(),
        "kept@example.org\n"
    );

    // Adding to the list starts a store where it is named.
    let output = run(fbl(dir.path()).args(["suppress", "add", "jane@example.org"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "check", "jane@example.org"]));
    assert_eq!(output.status.code(), Some(0));
}

/// A complaint stored unattributed by an older fbl, which this one reads as broken (two
/// Feedback-Types that disagree: one says the mail was wanted), is not attributed and acted on
/// by `fbl reattribute`: it would be quarantined if it came in now.
#[test]
fn reattribute_leaves_a_stored_report_that_now_reads_as_broken() {
    let dir = tempfile::tempdir().unwrap();
    let two_types = String::from_utf8(arf("abuse", "wanted@example.org", "m@example.com"))
        .unwrap()
        .replace(
            "Feedback-Type: abuse\n",
            "Feedback-Type: abuse\nFeedback-Type: not-spam\n",
        );
    let parsed = fbl::report_parser::parse(two_types.as_bytes()).report;
    assert!(parsed.error.is_some(), "{parsed:?}");
    // As an older fbl stored it: a complaint whose complainant it had not found.
    let mut old = parsed.clone();
    old.error = None;
    old.kind = fbl::report::Kind::Complaint;
    old.recipients.clear();
    let mut store = fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    let mut batch = store.begin().unwrap();
    batch
        .store_report(&fbl::store::NewReport {
            raw: two_types.as_bytes(),
            packed: None,
            sha256: fbl::store::sha256(two_types.as_bytes()),
            content_key: None,
            origin: "old.eml",
            report: &old,
            ingested_at: "2026-11-01T00:00:00Z",
        })
        .unwrap();
    batch.commit().unwrap();
    drop(store);
    let output = run(fbl(dir.path()).args(["reattribute"]));
    assert!(
        stdout(&output).starts_with("1 unattributed reports examined: 0 attributed now"),
        "{}",
        stdout(&output)
    );
    let output = run(fbl(dir.path()).args(["suppress", "check", "wanted@example.org"]));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
}

/// A report an MTA pipes to `fbl ingest --mta -` that is quarantined gives the MTA 0 (kept),
/// and nobody heard of it: the next `fbl run` tells of it (exit 1), once.
#[test]
fn the_next_run_tells_of_what_an_mta_delivery_put_in_quarantine() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n",
    )
    .unwrap();
    let fbl_run = || {
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
        (output.status.code(), stdout(&output))
    };
    assert_eq!(fbl_run(), (Some(0), String::new()));
    let mut command = fbl(dir.path());
    command.args(["--config", "fbl.toml", "ingest", "--mta", "-"]);
    let output = run_with_stdin(
        &mut command,
        broken_arf("q@example.org", "q1@example.com").as_bytes(),
    );
    assert_eq!(output.status.code(), Some(0));

    let (code, text) = fbl_run();
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "quarantined since the last run, from standard input (an MTA, fbl ingest -; fbl quarantine show ID): #1 -:"
        ),
        "{text}"
    );
    assert_eq!(fbl_run(), (Some(0), String::new()), "told once");
}

/// `fbl ingest --mta -` speaks an MTA's exit codes (sysexits.h): 0 once the message is kept,
/// stored or quarantined (fbl's 1 would make Postfix bounce the report to the feedback
/// loop), 75 when it could not be kept, so that the MTA keeps it and retries: another fbl
/// holding the store past `--lock-wait`, a configuration that does not load, a mistyped
/// command line. It waits for a lock that is let go, and prints nothing on standard output.
#[test]
fn ingest_for_an_mta_exits_0_once_kept_and_75_when_it_cannot_keep() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("fbl.sqlite");
    let mta = |extra: &[&str], message: &[u8]| {
        let mut command = fbl(dir.path());
        command
            .arg("--db")
            .arg(&store)
            .args(["ingest", "--mta"])
            .args(extra)
            .arg("-");
        run_with_stdin(&mut command, message)
    };
    // Without --config or an absolute --db, the store would be one in the MTA's working
    // folder, which nobody reads: 75, the MTA keeps the message, nothing is made.
    let mut command = fbl(dir.path());
    command.args(["ingest", "--mta", "-"]);
    let output = run_with_stdin(&mut command, &arf("abuse", "", "m1@example.com"));
    assert_eq!(output.status.code(), Some(75));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("ingest --mta needs --config PATH"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!store.exists());
    // Kept: an unattributed complaint, a broken report (quarantined).
    let output = mta(&[], &arf("abuse", "", "m1@example.com"));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
    let broken = broken_arf("b@example.org", "m2@example.com");
    let output = mta(&[], broken.as_bytes());
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
    assert_eq!(counts(dir.path()).reports, 1);
    assert_eq!(counts(dir.path()).quarantined, 1);

    // Another fbl holds the store past the wait: 75, nothing stored.
    let lock = std::fs::File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.path().join("fbl.sqlite.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let output = mta(
        &["--lock-wait", "1"],
        &arf("abuse", "c@example.org", "m3@example.com"),
    );
    assert_eq!(output.status.code(), Some(75));
    assert_eq!(stdout(&output), "");
    // Let go while it waits: stored.
    let letting_go = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(700));
        drop(lock);
    });
    let output = mta(
        &["--lock-wait", "30"],
        &arf("abuse", "c@example.org", "m3@example.com"),
    );
    letting_go.join().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(counts(dir.path()).reports, 2);

    // Standard input that cannot be read (here a folder): not kept, 75.
    let mut command = fbl(dir.path());
    command
        .arg("--db")
        .arg(&store)
        .args(["ingest", "--mta", "-"])
        .stdin(std::fs::File::open(dir.path()).unwrap());
    let output = run(&mut command);
    assert_eq!(
        output.status.code(),
        Some(75),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // A message over max_message_bytes is kept whole (the MTA drops its copy on 0).
    write(
        dir.path(),
        "small.toml",
        b"[limits]\nmax_message_bytes = 1000\n",
    );
    let mut big = arf("abuse", "big@example.org", "m9@example.com");
    big.extend(std::iter::repeat_n(b'x', 5000));
    big.push(b'\n');
    let mut command = fbl(dir.path());
    command.args([
        "--config",
        "small.toml",
        "--db",
        "fbl.sqlite",
        "ingest",
        "--mta",
        "-",
    ]);
    let output = run_with_stdin(&mut command, &big);
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "check", "big@example.org"]));
    assert_eq!(output.status.code(), Some(0), "stored whole and acted on");

    // A configuration that does not load, a mistyped command line, a path: 75.
    write(dir.path(), "bad.toml", b"[nonsense]\n");
    let mut command = fbl(dir.path());
    command.args(["--config", "bad.toml", "ingest", "--mta", "-"]);
    let output = run_with_stdin(
        &mut command,
        &arf("abuse", "d@example.org", "m4@example.com"),
    );
    assert_eq!(output.status.code(), Some(75));
    let output = mta(
        &["--no-such-flag"],
        &arf("abuse", "d@example.org", "m4@example.com"),
    );
    assert_eq!(output.status.code(), Some(75));
    let mut command = fbl(dir.path());
    command.args(["ingest", "--mta", "some.eml"]);
    let output = run_with_stdin(&mut command, b"");
    assert_eq!(output.status.code(), Some(75));
    assert_eq!(counts(dir.path()).reports, 3);
    // Without --mta, fbl's own codes stay.
    let mut command = fbl(dir.path());
    command.args(["ingest", "-"]);
    let output = run_with_stdin(&mut command, &arf("abuse", "", "m5@example.com"));
    assert_eq!(output.status.code(), Some(1));
}

/// A message file that cannot be read (here a link to nothing; in life a file the cron user
/// may not read, which a test run as root cannot make) is said, and the rest of the folder
/// is read, by `fbl ingest` and by `fbl run`'s source alike: one file does not stop a source
/// for good.
#[test]
fn a_message_that_cannot_be_read_is_said_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    for (name, rcpt) in [
        ("1.eml", "one@example.org"),
        ("3.eml", "three@example.org"),
        ("sub/4.eml", "four@example.org"),
    ] {
        write(
            &dir.path().join("M"),
            name,
            &arf("abuse", rcpt, &format!("{rcpt}.m")),
        );
    }
    std::os::unix::fs::symlink("/nonexistent/fbl-test.eml", dir.path().join("M/2.eml")).unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[[source]]\nname = \"m\"\npath = \"M\"\n",
    );
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let text = stdout(&output);
    assert!(
        text.contains("not read (left where it is): cannot read"),
        "{text}"
    );
    assert!(text.contains("2.eml"), "{text}");
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "suppress", "list"]));
    assert_eq!(stdout(&output).lines().count(), 3, "{}", stdout(&output));
    // `fbl ingest` the same: exit 1, the summary, nothing stopped.
    let other = tempfile::tempdir().unwrap();
    let output = run(fbl(other.path())
        .args(["ingest", "--json"])
        .arg(dir.path().join("M")));
    assert_eq!(output.status.code(), Some(1));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["stored"], 3, "{summary}");
    assert_eq!(
        summary["unreadable"].as_array().unwrap().len(),
        1,
        "{summary}"
    );
}

/// A mistyped `[store] path` opens a new, empty store: `fbl run` must not replace the list
/// every list manager reads with an empty one and exit 0. An export fbl did not write, over
/// a store that has never listed anyone, is left as it is and said (exit 1); once the store
/// lists someone, or the file is gone, exports are written as always.
#[test]
fn a_store_that_never_listed_anyone_does_not_empty_an_export() {
    let dir = tempfile::tempdir().unwrap();
    let config = |store: &str| {
        format!(
            "[store]\npath = \"{store}\"\n[[export]]\nformat = \"postfix\"\npath = \"access\"\n"
        )
    };
    write(dir.path(), "fbl.toml", config("fbl.sqlite").as_bytes());
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "suppress",
        "add",
        "x1@example.org",
        "x2@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let list = std::fs::read_to_string(dir.path().join("access")).unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");

    // The typo: a new store, nobody listed. The list stays.
    write(dir.path(), "fbl.toml", config("fbl.sqllite").as_bytes());
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("has never listed anyone"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("access")).unwrap(),
        list
    );
    // `fbl export` of the configured exports alike (exit 2, as for a failed export).
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "export"]));
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(String::from_utf8_lossy(&output.stderr).contains("has never listed anyone"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("access")).unwrap(),
        list
    );

    // A file that is really to be emptied is removed first; an export fbl wrote stays its own.
    std::fs::remove_file(dir.path().join("access")).unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("access")).unwrap(),
        ""
    );
}

/// An export file that holds only its format's header line (as a list manager's template, or
/// fbl's own export of an empty list copied over) is no list someone wrote: an empty store
/// writes over it, with or without the header's line end. One row more is a list, kept.
#[test]
fn an_export_holding_only_its_header_is_not_taken_for_a_list() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[store]\npath = \"fbl.sqlite\"\n[[export]]\nformat = \"mautic\"\npath = \"mautic.csv\"\n\
          [[export]]\nformat = \"postmark\"\npath = \"postmark.json\"\n",
    );
    for header in [
        "email,doNotEmail,fbl_reason\n",
        "email,doNotEmail,fbl_reason",
        "email,doNotEmail,fbl_reason\r\n",
    ] {
        let _ = std::fs::remove_file(dir.path().join("fbl.sqlite"));
        write(dir.path(), "mautic.csv", header.as_bytes());
        write(dir.path(), "postmark.json", b"[]");
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(0), "{header:?}: {stderr}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("mautic.csv")).unwrap(),
            "email,doNotEmail,fbl_reason\n"
        );
    }
    let _ = std::fs::remove_file(dir.path().join("fbl.sqlite"));
    let list = "email,doNotEmail,fbl_reason\nx@example.org,1,complaint\n";
    write(dir.path(), "mautic.csv", list.as_bytes());
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("has never listed anyone"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("mautic.csv")).unwrap(),
        list
    );
}

/// The evidence `fbl suppress show` gives is report ids: `fbl store report ID` shows one
/// (where it came from, whom it names and how, the parse result), `--raw` its bytes; `fbl
/// store unattributed` lists the complaints that name nobody, with why (exit 1 when any).
#[test]
fn stored_reports_can_be_shown_and_the_unattributed_listed() {
    let dir = tempfile::tempdir().unwrap();
    let named = arf("abuse", "jane@example.org", "m1@example.com");
    write(dir.path(), "in/1.eml", &named);
    write(dir.path(), "in/2.eml", &arf("abuse", "", "m2@example.com"));
    let output = run(fbl(dir.path()).args(["ingest", "in"]));
    assert_eq!(output.status.code(), Some(1));
    let output = run(fbl(dir.path()).args(["suppress", "show", "jane@example.org"]));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let id = shown["evidence_report_ids"][0]
        .as_i64()
        .unwrap()
        .to_string();

    let output = run(fbl(dir.path()).args(["store", "report", &id]));
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(
        report["origin"].as_str().unwrap().ends_with("1.eml"),
        "{report}"
    );
    assert_eq!(report["kind"], "complaint");
    assert_eq!(report["complainants"][0]["address"], "jane@example.org");
    assert_eq!(report["complainants"][0]["via"], "original_rcpt_to");
    assert_eq!(report["report"]["feedback_type"], "abuse");
    let output = run(fbl(dir.path()).args(["store", "report", &id, "--raw"]));
    assert_eq!(output.stdout, named);
    let output = run(fbl(dir.path()).args(["store", "report", "999"]));
    assert_eq!(output.status.code(), Some(2));

    let output = run(fbl(dir.path()).args(["store", "unattributed", "--json"]));
    assert_eq!(output.status.code(), Some(1));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert!(list[0]["origin"].as_str().unwrap().ends_with("2.eml"));
    assert!(!list[0]["reason"].as_str().unwrap().is_empty(), "{list:?}");
    let output = run(fbl(dir.path()).args(["store", "unattributed"]));
    assert_eq!(stdout(&output).lines().count(), 1);
}

/// Counts read as English: "1 entry", not "1 entries"; a missing send log is said once; a
/// mailbox asked for by name when none is configured says so, not "(configured: )".
#[test]
fn counts_and_missing_names_read_as_sentences() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "sends.csv",
        b"message_id,recipient,sent_at\n<one@x>,one@example.org,2026-11-19T10:00:00Z\n",
    );
    let output = run(fbl(dir.path()).args(["sendlog", "import", "sends.csv", "--format", "csv"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).starts_with("1 entry read: 1 added"),
        "{}",
        stdout(&output)
    );
    write(dir.path(), "fbl.toml", b"[send_log]\nretention_days = 30\n");
    // A send log that is not there is said once, not again by the block scan.
    write(
        dir.path(),
        "missing.toml",
        b"[send_log]\nimport = [{ path = \"nope.csv\", format = \"csv\" }]\n",
    );
    let output = run(fbl(dir.path()).args(["--config", "missing.toml", "run"]));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("nope.csv").count(), 1, "{stderr}");
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "mailbox", "test", "jmrp"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no [[mailbox]] named \"jmrp\": the configuration has none"),
        "{stderr}"
    );
}

/// An export to standard output next to the `--json` summary on the same standard output
/// would mix the two: refused before anything is done, by `fbl export` and by `fbl run`.
#[test]
fn an_export_to_standard_output_beside_the_json_summary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[[export]]\nformat = \"plain\"\npath = \"/dev/stdout\"\n",
    );
    write(
        dir.path(),
        "in/1.eml",
        &arf("abuse", "a@example.org", "m@example.com"),
    );
    let output = run(fbl(dir.path()).args(["ingest", "in"]));
    assert_eq!(output.status.code(), Some(0));
    for args in [
        &["--config", "fbl.toml", "run", "--json"][..],
        &["export", "--format", "plain", "-o", "-", "--json"],
        &["export", "--format", "plain", "-o", "/dev/stdout", "--json"],
    ] {
        let output = run(fbl(dir.path()).args(args));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert_eq!(stdout(&output), "", "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("is standard output, where --json prints the summary"),
            "{args:?}: {stderr}"
        );
    }
    // Without --json, the list is what standard output carries.
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "a@example.org\n");
}

/// `fbl run` without a configuration (a cron job that lost the FBL_CONFIG of its author's
/// login shell) is a fatal error that names the way out; it makes no store where it stands
/// and does not exit 0 having done nothing.
#[test]
fn run_without_a_configuration_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["run"][..],
        &["run", "--dry-run"],
        &["--db", "x.sqlite", "run"],
    ] {
        let output = run(fbl(dir.path()).args(args));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("needs a configuration") && stderr.contains("FBL_CONFIG"),
            "{args:?}: {stderr}"
        );
        let made: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert!(made.is_empty(), "{args:?} made {made:?}");
    }
    // An empty configuration (a deploy that truncated it), or one of comments only, too.
    for text in ["", "# fbl\n\n# [suppression]\n"] {
        write(dir.path(), "fbl.toml", text.as_bytes());
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
        assert_eq!(output.status.code(), Some(2), "{text:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("fbl.toml sets nothing (an empty file, or comments only)"),
            "{stderr}"
        );
        assert!(!dir.path().join("fbl.sqlite").exists());
    }
}

/// A listing sent to a full disk must fail (exit 2, one line), not end 0 with the list cut
/// short or panic; a reader that goes away early gives 141, as SIGPIPE would.
#[test]
fn output_that_cannot_be_written_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args(["suppress", "add", "a@example.org", "b@example.org"]));
    assert_eq!(output.status.code(), Some(0));
    let commands: [&[&str]; 5] = [
        &["suppress", "list"],
        &["suppress", "list", "--json"],
        &["suppress", "check", "a@example.org"],
        &["suppress", "show", "a@example.org"],
        &["store", "info"],
    ];
    for args in commands {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let output = run(fbl(dir.path()).args(args).stdout(full));
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with("fbl: cannot write to standard output")
                && stderr.contains("No space left on device")
                && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
    }

    // A reader that reads nothing and goes away.
    let mut child = fbl(dir.path())
        .args(["suppress", "list"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(141), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
}

/// Standard error that cannot be written (a cron log on a full disk): the command ends with
/// exit 2, not a panic (101) or an abort (134, when the panic could not be printed either).
#[test]
fn standard_error_that_cannot_be_written_ends_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let commands: [&[&str]; 3] = [
        &["suppress", "check", "not an address"],
        &["suppress", "remove", "nobody@example.org", "--reason", "x"],
        &["ingest", "missing.eml"],
    ];
    for args in commands {
        let output = fbl(dir.path())
            .args(["--db", "fbl.sqlite"])
            .args(args)
            .stderr(full())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let output = fbl(dir.path())
            .args(["--db", "fbl.sqlite"])
            .args(args)
            .stdout(full())
            .stderr(full())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
    }
}

/// `--db 'host=... password=...'` is not a file name: refused, and the password not shown.
#[test]
fn a_libpq_connection_string_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    for db in [
        "host=127.0.0.1 port=1 password=PW-SECRET",
        "dbname=fbl user=fbl password=PW-SECRET",
    ] {
        let output = run(fbl(dir.path()).args(["--db", db, "suppress", "add", "a@example.org"]));
        assert_eq!(output.status.code(), Some(2), "{db}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("postgres://"), "{stderr}");
        assert!(!stderr.contains("PW-SECRET"), "{stderr}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
    // A file whose name merely has an `=` in it is still a file.
    let output =
        run(fbl(dir.path()).args(["--db", "a=b.sqlite", "suppress", "add", "a@example.org"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(dir.path().join("a=b.sqlite").exists());
}

/// `fbl parse` reads what `fbl ingest` reads: every message of an mbox and of a Maildir, not
/// the first message of the file alone.
#[test]
fn parse_reads_every_message_of_an_mbox_and_a_maildir() {
    let dir = tempfile::tempdir().unwrap();
    let mut mbox = Vec::new();
    for (n, address) in ["one@example.org", "two@example.org"].iter().enumerate() {
        mbox.extend_from_slice(b"From feedback@example.net Thu Nov 19 08:00:00 2026\n");
        mbox.extend_from_slice(&arf("abuse", address, &format!("m{n}@example.com")));
        mbox.extend_from_slice(b"\n");
    }
    write(dir.path(), "box.mbox", &mbox);
    write(
        dir.path(),
        "md/new/1.eml",
        &arf("abuse", "three@example.org", "m3@example.com"),
    );
    std::fs::create_dir_all(dir.path().join("md/cur")).unwrap();
    std::fs::create_dir_all(dir.path().join("md/tmp")).unwrap();
    let output = run(fbl(dir.path()).args(["parse", "box.mbox", "md"]));
    assert_eq!(output.status.code(), Some(0));
    let addresses: Vec<String> = stdout(&output)
        .lines()
        .map(|l| {
            let report: serde_json::Value = serde_json::from_str(l).unwrap();
            report["recipients"][0]["address"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        addresses,
        ["one@example.org", "two@example.org", "three@example.org"]
    );
    assert!(
        !dir.path().join("fbl.sqlite").exists(),
        "parse must write nothing"
    );
}

/// Addresses an audit found in the list: two `@`, a dot at the start or doubled in the local
/// part, a domain label with hyphens at its ends.
const INVALID_ADDRESSES: [&str; 4] = ["a@b@c.com", ".a@c.com", "a..b@c.com", "a@-bad-.com"];

#[test]
fn invalid_addresses_never_enter_the_list_from_reports() {
    let dir = tempfile::tempdir().unwrap();
    for (i, address) in INVALID_ADDRESSES.iter().enumerate() {
        let report = arf("abuse", address, &format!("m{i}@example.com"));
        let output = run_with_stdin(fbl(dir.path()).args(["parse", "-"]), &report);
        let parsed: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        let addresses: Vec<&serde_json::Value> = parsed["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r.get("address").filter(|a| !a.is_null()))
            .collect();
        assert!(addresses.is_empty(), "{address}: {parsed}");
        write(dir.path(), &format!("in/{i}.eml"), &report);
    }
    let output = run(fbl(dir.path()).args(["ingest", "in"]));
    assert_eq!(output.status.code(), Some(1), "unattributed");
    assert_eq!(counts(dir.path()).suppressions, 0);
}

#[test]
fn suppress_add_refuses_an_invalid_address_with_exit_2_and_one_line_why() {
    let dir = tempfile::tempdir().unwrap();
    for address in INVALID_ADDRESSES {
        let output = run(fbl(dir.path()).args(["suppress", "add", address]));
        assert_eq!(output.status.code(), Some(2), "{address}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with(&format!("fbl: {address:?} is not an email address: ")),
            "{stderr}"
        );
    }
    let output = run(fbl(dir.path()).args(["suppress", "add", "a@b@c.com"]));
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "fbl: \"a@b@c.com\" is not an email address: it has more than one @\n"
    );
    // What a typed address holds besides the address is not cut away: a list in one
    // argument, or trailing words, are refused rather than cut to their first address.
    for typed in [
        "a1@example.org, b1@example.org",
        "a2@example.org;b2@example.org",
        "c@example.org garbage",
        "jane,doe@example.org",
    ] {
        let output = run(fbl(dir.path()).args(["suppress", "add", typed]));
        assert_eq!(output.status.code(), Some(2), "{typed}");
    }
    // One bad address among good ones adds none of them.
    let output = run(fbl(dir.path()).args(["suppress", "add", "ok@example.org", "a..b@c.com"]));
    assert_eq!(output.status.code(), Some(2));
    let output = run(fbl(dir.path()).args(["suppress", "list", "--json"]));
    assert_eq!(stdout(&output).trim(), "[]");
    // Valid odd shapes are kept as typed, the domain lower-cased.
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        "o'brien@example.ie",
        "a+tag@example.com",
        "josé@EXÄMPLE.de",
        "#hash@example.com",
        "'tis@example.com",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "list"]));
    let text = stdout(&output);
    let listed: Vec<&str> = text
        .lines()
        .map(|line| line.split('\t').next().unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            "#hash@example.com",
            "'tis@example.com",
            "a+tag@example.com",
            "josé@exämple.de",
            "o'brien@example.ie"
        ]
    );
}

#[test]
fn suppress_import_reports_each_invalid_address_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut list = String::from("good@example.org\n");
    for address in INVALID_ADDRESSES {
        list.push_str(address);
        list.push('\n');
    }
    list.push_str("last@example.org\n");
    write(dir.path(), "list.txt", list.as_bytes());
    let output = run(fbl(dir.path()).args(["suppress", "import", "list.txt"]));
    assert_eq!(
        output.status.code(),
        Some(1),
        "invalid lines need attention"
    );
    let text = stdout(&output);
    assert!(
        text.starts_with("6 addresses read, 2 added, 4 invalid\n"),
        "{text}"
    );
    assert!(
        text.contains("list.txt:2: \"a@b@c.com\" is not an email address: it has more than one @"),
        "{text}"
    );
    for line in 3..=5 {
        assert!(text.contains(&format!("list.txt:{line}: ")), "{text}");
    }
    assert_eq!(counts(dir.path()).suppressions, 2);
}

/// The list `suppress list --json` prints, as (address, reason) pairs.
fn listed(dir: &std::path::Path) -> Vec<(String, String)> {
    let output = run(fbl(dir).args(["suppress", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    list.iter()
        .map(|e| {
            (
                e["address"].as_str().unwrap().to_string(),
                e["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A CSV header below blank lines (or a comment) is still the header, its rows counted by
/// their line in the file.
#[test]
fn suppress_import_finds_a_csv_header_after_blank_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "l.csv",
        b"\n# from the CRM\nemail,reason\na@example.com,complaint\nnot an address,complaint\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "l.csv"]));
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("2 addresses read, 1 added, 1 invalid\n"),
        "{text}"
    );
    assert!(text.contains("l.csv:5: \"not an address\""), "{text}");
    assert_eq!(
        listed(dir.path()),
        [("a@example.com".to_string(), "complaint".to_string())]
    );
}

/// `#` comment lines inside a CSV are skipped as in a plain list, not invalid rows; a row
/// whose address begins with `#` is an address.
#[test]
fn suppress_import_skips_comment_lines_in_a_csv() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "l.csv",
        b"email,reason\n# exported 2026-11-01, by hand\na@example.com,complaint\n\
          #team@example.com,manual\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "l.csv"]));
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(text, "2 addresses read, 2 added, 0 invalid\n");
    assert_eq!(
        listed(dir.path()),
        [
            ("#team@example.com".to_string(), "manual".to_string()),
            ("a@example.com".to_string(), "complaint".to_string()),
        ]
    );
}

/// With `Name,Address,Email`, the address is the `Email` column, not the postal `Address`.
#[test]
fn suppress_import_prefers_an_email_column_to_an_address_column() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "l.csv",
        b"Name,Address,Email\nJane,\"1 Main St, Springfield\",jane@example.com\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "l.csv"]));
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert_eq!(
        listed(dir.path()),
        [("jane@example.com".to_string(), "import".to_string())]
    );
}

/// A header that names no address column is one clear error (exit 2, nothing imported), not
/// an error for every row.
#[test]
fn suppress_import_of_a_header_without_an_address_column_says_so_once() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "l.csv",
        b"E-mail-Adresse;Vorname\na@example.com;Anna\nb@example.com;Ben\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "l.csv"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr,
        "fbl: l.csv:1: no address column found in the header \"E-mail-Adresse;Vorname\"; \
         name it email (or address, e-mail, Email Address), or give a plain list of one \
         address a line\n"
    );
    assert_eq!(stdout(&output), "");
}

/// fbl's own SES export (`address,REASON`, no header) imports, its reasons folded: moving an
/// SES list into fbl.
#[test]
fn suppress_import_reads_back_an_ses_export() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "ses.csv",
        b"a@example.org,COMPLAINT\nb@example.org,BOUNCE\r\n\nnot an address,COMPLAINT\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "ses.csv"]));
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.starts_with("3 addresses read, 2 added, 1 invalid\n"),
        "{text}"
    );
    assert!(text.contains("ses.csv:4: \"not an address\""), "{text}");
    assert_eq!(
        listed(dir.path()),
        [
            ("a@example.org".to_string(), "complaint".to_string()),
            ("b@example.org".to_string(), "bounce".to_string()),
        ]
    );
}

#[test]
fn suppress_import_drops_a_utf8_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "b.csv",
        b"\xef\xbb\xbfemail,reason\r\nA@Example.com,bounce\r\n",
    );
    write(dir.path(), "b.txt", b"\xef\xbb\xbfplain@example.com\r\n");
    let output = run(fbl(dir.path()).args(["suppress", "import", "b.csv"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "1 address read, 1 added, 0 invalid\n");
    let output = run(fbl(dir.path()).args(["suppress", "import", "b.txt"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    let summary: Vec<(&str, &str)> = list
        .iter()
        .map(|e| {
            (
                e["address"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [("A@example.com", "bounce"), ("plain@example.com", "import")]
    );
}

#[test]
fn suppress_remove_takes_off_an_invalid_address_kept_before_by_its_text() {
    let dir = tempfile::tempdir().unwrap();
    suppressed_by_an_older_fbl(dir.path(), &["a@b@c.com", "valid@example.com"]);
    // `--invalid` finds it among the rest.
    let output = run(fbl(dir.path()).args(["suppress", "list", "--invalid"]));
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert_eq!(
        text.lines()
            .map(|l| l.split('\t').next().unwrap())
            .collect::<Vec<_>>(),
        ["a@b@c.com"]
    );
    let output =
        run(fbl(dir.path()).args(["suppress", "remove", "a@b@c.com", "--reason", "invalid"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "list", "--invalid", "--json"]));
    assert_eq!(stdout(&output).trim(), "[]");
    let output =
        run(fbl(dir.path()).args(["suppress", "remove", "a@b@c.com", "--reason", "again"]));
    assert_eq!(
        output.status.code(),
        Some(2),
        "not listed and not an address"
    );
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        "fbl: \"a@b@c.com\" is not an email address: it has more than one @\n"
    );
}

/// A dry run before the first run previews against an empty store and leaves no store (nor
/// its lock or log files) behind.
#[test]
fn a_first_dry_run_makes_no_store() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[store]\npath = \"fbl.sqlite\"\n\n[[source]]\nname = \"in\"\npath = \"in\"\n",
    );
    write(
        dir.path(),
        "in/a.eml",
        &arf("abuse", "jane@example.org", "m1@example.com"),
    );
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run", "--dry-run", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["dry_run"], true);
    assert_eq!(summary["ingest"]["stored"], 1, "{summary}");
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["fbl.toml", "in"]);
}

/// A dry run prints its preview when its output is not a terminal (a pipe to `less`, a
/// script), where a clean real run prints nothing.
#[test]
fn a_dry_run_prints_its_preview_off_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[store]\npath = \"fbl.sqlite\"\n\n[[source]]\nname = \"in\"\npath = \"in\"\n",
    );
    write(
        dir.path(),
        "in/a.eml",
        &arf("abuse", "jane@example.org", "m1@example.com"),
    );
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run", "--dry-run"]));
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("dry run: nothing was changed"), "{text}");
    assert!(text.contains("1 message: 1 stored"), "{text}");
    // The real run that follows is clean and, off a terminal, silent (cron).
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
}

/// A dry run checks what the steps it leaves out would meet, as a new configuration's first
/// test: an output whose folder does not exist, a send log that cannot be read, an SNDS
/// account without its key. Each is said, exit 1, and nothing is made.
#[test]
fn a_dry_run_finds_what_the_real_run_would_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[store]\npath = \"fbl.sqlite\"\n\n[[source]]\nname = \"in\"\npath = \"in\"\n\n\
          [send_log]\nimport = [{ path = \"missing.csv\", format = \"csv\" }]\n\n\
          [[export]]\nformat = \"postfix\"\npath = \"etc/postfx/fbl_access\"\n\n\
          [[export]]\nformat = \"plain\"\npath = \"plain.txt\"\n\n\
          [[snds.legacy]]\nname = \"main\"\nkey_env = \"FBL_TEST_UNSET_SNDS_KEY\"\n",
    );
    write(
        dir.path(),
        "in/a.eml",
        &arf("abuse", "jane@example.org", "m1@example.com"),
    );
    let output = run(fbl(dir.path()).env_remove("FBL_TEST_UNSET_SNDS_KEY").args([
        "--config",
        "fbl.toml",
        "run",
        "--dry-run",
    ]));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let said: Vec<&str> = stderr.lines().filter(|l| l.contains("dry run: ")).collect();
    assert_eq!(said.len(), 3, "{stderr}");
    assert!(
        stderr.contains(
            "fbl: dry run: [[export]] 1 path etc/postfx/fbl_access: its folder etc/postfx does \
             not exist (fbl does not create folders)"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("fbl: dry run: send log "), "{stderr}");
    assert!(
        stderr.contains(
            "fbl: dry run: snds account main: environment variable FBL_TEST_UNSET_SNDS_KEY"
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("etc").exists() && !dir.path().join("plain.txt").exists());
}

/// A sparse complaint (no Original-Rcpt-To) whose attached headers are `headers`.
fn sparse_complaint(headers: &str) -> Vec<u8> {
    complaint_without_recipient("staff@hotmail.com", "JMRP/1.0", headers)
}

/// An ARF complaint from `from` that states no recipient, whose attached headers end with
/// `headers`.
fn complaint_without_recipient(from: &str, user_agent: &str, headers: &str) -> Vec<u8> {
    format!(
        "From: {from}\n\
         To: fbl@example.com\n\
         Subject: complaint\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\
         \n\
         --b\n\
         Content-Type: text/plain\n\
         \n\
         A complaint.\n\
         --b\n\
         Content-Type: message/feedback-report\n\
         \n\
         Feedback-Type: abuse\n\
         User-Agent: {user_agent}\n\
         Version: 1\n\
         \n\
         --b\n\
         Content-Type: text/rfc822-headers\n\
         \n\
         Return-Path: <news-return@example.com>\n\
         From: Example Shop <news@example.com>\n\
         Message-ID: <m1@mta1.example.com>\n\
         {headers}\
         \n\
         --b--\n"
    )
    .into_bytes()
}

/// The weak strategies (To, Delivered-To) read headers that name the sender or a list as
/// often as the complainant. They never name the sender's own address, never run once a
/// sender identifier is found (the send log resolves it later, and a To filled in now would
/// stand in its way for good) or a sender token fails, and masked addresses name nobody.
#[test]
fn weak_headers_never_name_the_sender_and_give_way_to_identifiers() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[attribution]\nheader = [\n  { name = \"X-Campaign-Ref\", value = \"id\" },\n  { name = \"X-Fbl-Token\", value = \"token\" },\n]\ntoken = { secret = \"fbl-test-secret\" }\n",
    );
    // A feedback loop that states no recipient but redacts nothing: the weak headers are
    // all there is.
    let complaint = |headers: &str| {
        complaint_without_recipient("feedback@fbl.isp.example", "ExampleFBL/1.0", headers)
    };
    let parse_message = |message: &[u8]| -> serde_json::Value {
        let output = run_with_stdin(
            fbl(dir.path()).args(["--config", "fbl.toml", "parse", "-"]),
            message,
        );
        serde_json::from_str(&stdout(&output)).unwrap()
    };
    let parse = |headers: &str| parse_message(&complaint(headers));
    let addresses = |parsed: &serde_json::Value| -> Vec<String> {
        parsed["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["address"].as_str().map(str::to_owned))
            .collect()
    };
    let notes = |parsed: &serde_json::Value| parsed["attribution_notes"].to_string();

    // The one address in To is the complainant.
    let parsed = parse("To: jane@example.net\n");
    assert_eq!(addresses(&parsed), ["jane@example.net"]);
    // A Bcc mailing's To, written by the sender (`undisclosed-recipients:;`, a name with
    // `<>`), is nobody, but the provider redacted nothing: Delivered-To still names the
    // recipient.
    for to in ["undisclosed-recipients:;", "Subscribers <>"] {
        let parsed = parse(&format!("To: {to}\nDelivered-To: jane@example.net\n"));
        assert_eq!(addresses(&parsed), ["jane@example.net"], "{to}: {parsed}");
    }
    // Not in a June 2026 JMRP report: Microsoft hides the complainant by policy, and what
    // stands in To is a stand-in (formats.md 2.3).
    let parsed = parse_message(&sparse_complaint("To: 5e3b1f0a@outlook.example\n"));
    assert_eq!(addresses(&parsed), Vec::<String>::new());
    assert!(
        notes(&parsed).contains("as the provider redacted the complainant"),
        "{parsed}"
    );

    // Sent with the recipients in Bcc: To is the sender, or the list.
    let parsed = parse("To: Example Shop <news@example.com>\n");
    assert_eq!(addresses(&parsed), Vec::<String>::new());
    assert!(
        notes(&parsed).contains("the sender's own address"),
        "{parsed}"
    );
    let parsed =
        parse("To: members@lists.example.com\nList-Post: <mailto:members@lists.example.com>\n");
    assert_eq!(addresses(&parsed), Vec::<String>::new());
    let parsed = parse("X-Original-To: news-return@example.com\n");
    assert_eq!(addresses(&parsed), Vec::<String>::new());

    // An id found without any send log to resolve it: To is the best there is.
    let parsed = parse("X-Campaign-Ref: sub-r3\nTo: jane@example.net\n");
    assert_eq!(addresses(&parsed), ["jane@example.net"]);

    // With a send log kept, the id waits for it: To (a list here) is not used, and the
    // entry that arrives later names the complainant.
    write(
        dir.path(),
        "early.csv",
        b"message_id,recipient,id\nother@mta1.example.com,someone@example.org,sub-r1\n",
    );
    let import = |file: &str| {
        run(fbl(dir.path()).args([
            "--config", "fbl.toml", "sendlog", "import", file, "--format", "csv",
        ]))
    };
    assert_eq!(import("early.csv").status.code(), Some(0));
    write(
        dir.path(),
        "r3.eml",
        &complaint("X-Campaign-Ref: sub-r3\nTo: members@lists.example.com\n"),
    );
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "ingest", "r3.eml"]));
    assert_eq!(output.status.code(), Some(1), "unattributed for now");
    assert_eq!(counts(dir.path()).suppressions, 0);
    write(
        dir.path(),
        "late.csv",
        b"message_id,recipient,id\nm3@mta1.example.com,real.r3@example.org,sub-r3\n",
    );
    import("late.csv");
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "suppress",
        "check",
        "real.r3@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));

    // A forged token: the headers name nobody.
    let parsed = parse("X-Fbl-Token: amFuZUBleGFtcGxlLm5ldA.AAAA\nTo: bystander@example.org\n");
    assert_eq!(addresses(&parsed), Vec::<String>::new());
    assert!(
        notes(&parsed).contains("as a sender token does not verify"),
        "{parsed}"
    );

    // Masked addresses are nobody.
    for masked in ["j*******@outlook.com", "ja****e@example.net"] {
        let parsed = parse(&format!("To: {masked}\n"));
        assert_eq!(addresses(&parsed), Vec::<String>::new(), "{masked}");
    }
}

/// A report dated in the future (a wrong clock, a forgery) must not date its suppression
/// ahead of now, which would also put off its expiry.
#[test]
fn a_report_dated_in_the_future_is_seen_now() {
    let dir = tempfile::tempdir().unwrap();
    let report = String::from_utf8(arf("abuse", "future@example.org", "f@example.com"))
        .unwrap()
        .replace(
            "Date: Tue, 10 Nov 2026 12:00:00 +0000",
            "Date: Thu, 1 Jan 2099 00:00:00 +0000",
        );
    assert!(report.contains("2099"));
    write(dir.path(), "future.eml", report.as_bytes());
    let output = run(fbl(dir.path())
        .args(["ingest", "future.eml"])
        .env("FBL_NOW", "2026-11-20T08:00:00Z"));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(list[0]["first_seen"], "2026-11-20T08:00:00Z");
    assert_eq!(list[0]["last_seen"], "2026-11-20T08:00:00Z");
    // The complaint counts today, in today's report, not in 2099's.
    let output = run(fbl(dir.path())
        .args(["report", "--days", "1", "--format", "json"])
        .env("FBL_NOW", "2026-11-20T09:00:00Z"));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["overview"]["complaints"], 1, "{report}");
}

/// `report` attached to a message with these outer headers.
fn wrapped(outer: &str, report: &[u8]) -> Vec<u8> {
    let mut message = format!(
        "{outer}To: fbl@example.com\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"w\"\n\
         \n\
         --w\n\
         Content-Type: text/plain\n\
         \n\
         See the attached message.\n\
         --w\n\
         Content-Type: message/rfc822\n\
         \n"
    )
    .into_bytes();
    message.extend_from_slice(report);
    message.extend_from_slice(b"\n--w--\n");
    message
}

/// The kind `fbl parse` gives `attached` inside a message with these outer headers.
fn kind_of_wrapped(dir: &Path, outer: &str, attached: &[u8]) -> String {
    let output = run_with_stdin(fbl(dir).args(["parse", "-"]), &wrapped(outer, attached));
    let parsed: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    parsed["kind"].as_str().unwrap().to_owned()
}

/// A report inside a delay warning is a bounce. One inside mail a program sent (a ticket
/// system's `auto-replied` forward, an automatic answer) is read as the report: dropped, a
/// real complaint was lost. An abuse desk forwarding it by hand counts too.
#[test]
fn a_report_inside_an_auto_reply_is_read_and_inside_a_delay_warning_a_bounce() {
    let dir = tempfile::tempdir().unwrap();
    let report = arf("abuse", "jane@example.org", "m@example.com");
    let kind = |outer: &str| kind_of_wrapped(dir.path(), outer, &report);
    assert_eq!(
        kind("From: colleague@example.com\nSubject: Automatic reply: report\n"),
        "complaint"
    );
    assert_eq!(
        kind("From: colleague@example.com\nAuto-Submitted: auto-replied\nSubject: Re: report\n"),
        "complaint"
    );
    assert_eq!(
        kind(
            "From: MAILER-DAEMON@mx.example.com\nSubject: Warning: message 4Q7Z delayed 4 hours\n"
        ),
        "bounce"
    );
    assert_eq!(
        kind("From: abuse-desk@isp.example\nSubject: Fwd: report\n"),
        "complaint"
    );
}

/// A feedback-report part is a report also when the sender left out `report-type` or wrote
/// multipart/mixed: it used to be stored as "not a report", exit 0, and nobody was told.
#[test]
fn a_feedback_report_part_without_its_report_type_is_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let report = String::from_utf8(arf("abuse", "jane@example.org", "m@example.com")).unwrap();
    let declared = "multipart/report; report-type=feedback-report;";
    assert!(report.contains(declared));
    for written in ["multipart/report;", "multipart/mixed;"] {
        let output = run_with_stdin(
            fbl(dir.path()).args(["parse", "-"]),
            report.replace(declared, written).as_bytes(),
        );
        let parsed: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(parsed["kind"], "complaint", "{written}");
        assert_eq!(parsed["recipients"][0]["address"], "jane@example.org");
    }
}

/// Microsoft's legacy JMRP shape (a message attached to a mail from staff@hotmail.com) is
/// told by the From address, not by what its display name says.
#[test]
fn a_display_name_naming_staff_at_hotmail_is_not_jmrp() {
    let dir = tempfile::tempdir().unwrap();
    let attached =
        b"From: news@example.com\nTo: jane@example.org\nMessage-ID: <n1@example.com>\nSubject: News\n\nHello.\n";
    let kind = |outer: &str| kind_of_wrapped(dir.path(), outer, attached);
    assert_eq!(
        kind("From: \"Forwarded from staff@hotmail.com\" <abuse@isp.example>\nSubject: Fwd\n"),
        "not_a_report"
    );
    assert_eq!(
        kind("From: staff@hotmail.com\nSubject: complaint about message from 192.0.2.20\n"),
        "complaint"
    );
}

/// What a mail client sends to a List-Unsubscribe mailto address `to`.
fn unsubscribe_mail(to: &str) -> String {
    format!(
        "From: Jane <jane@mail.example>\nTo: {to}\nSubject: Unsubscribe\nDate: Tue, 10 Nov 2026 12:00:00 +0000\n\nPlease unsubscribe me.\n"
    )
}

/// A mail to one of the sender's List-Unsubscribe mailto addresses, from any mail client, is
/// an unsubscribe request: its token names who asks, else its sender does. Before, only
/// Apple's carried a mark fbl knew, and every other one was stored as "not a report".
#[test]
fn a_mail_to_a_list_unsubscribe_address_is_an_unsubscribe_request() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[attribution]\nunsubscribe_addresses = [\"leave@lists.example.com\", \"unsubscribe+{token}@lists.example.com\"]\ntoken = { secret = \"fbl-test-secret\" }\n",
    );
    let parse = |message: String| -> serde_json::Value {
        let output = run_with_stdin(
            fbl(dir.path()).args(["--config", "fbl.toml", "parse", "-"]),
            message.as_bytes(),
        );
        serde_json::from_str(&stdout(&output)).unwrap()
    };
    let mail = unsubscribe_mail;
    let plain = parse(mail("leave@lists.example.com"));
    assert_eq!(plain["kind"], "unsubscribe", "{plain}");
    assert_eq!(plain["recipients"][0]["address"], "jane@mail.example");
    assert_eq!(plain["recipients"][0]["via"], "from");

    let token = fbl::token::sign(b"fbl-test-secret", "subscriber@example.org");
    let signed = parse(mail(&format!("unsubscribe+{token}@lists.example.com")));
    assert_eq!(signed["kind"], "unsubscribe", "{signed}");
    assert_eq!(signed["recipients"][0]["address"], "subscriber@example.org");
    assert_eq!(signed["recipients"][0]["via"], "token");

    // Mail to another address, or an automatic reply to this one, is not.
    assert_eq!(
        parse(mail("news@lists.example.com"))["kind"],
        "not_a_report"
    );
    let auto = mail("leave@lists.example.com")
        .replace("Subject: Unsubscribe", "Subject: Automatic reply: News");
    assert_eq!(parse(auto)["kind"], "not_a_report");

    // Ingested, it suppresses with the reason unsubscribe.
    write(
        dir.path(),
        "u.eml",
        mail("leave@lists.example.com").as_bytes(),
    );
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "ingest", "u.eml"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "suppress", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(list[0]["address"], "jane@mail.example");
    assert_eq!(list[0]["reason"], "unsubscribe");
}

/// With `[trust]`, an unsubscribe request from an ordinary mailbox is let through when the
/// address it was sent to carries a token fbl signed (it names the one subscriber it was sent
/// to); without one, it waits in quarantine for a person.
#[test]
fn with_trust_a_signed_unsubscribe_request_is_taken_and_an_unsigned_one_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[trust]\nauthserv_id = \"mx.sender.example\"\n\n[attribution]\nunsubscribe_addresses = [\"leave@lists.example.com\", \"unsubscribe+{token}@lists.example.com\"]\ntoken = { secret = \"fbl-test-secret\" }\n",
    );
    let token = fbl::token::sign(b"fbl-test-secret", "subscriber@example.org");
    let mail = unsubscribe_mail;
    write(
        dir.path(),
        "signed.eml",
        mail(&format!("unsubscribe+{token}@lists.example.com")).as_bytes(),
    );
    write(
        dir.path(),
        "plain.eml",
        mail("leave@lists.example.com").as_bytes(),
    );
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "ingest", "signed.eml"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "ingest", "plain.eml"]));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stdout(&output).contains("untrusted_reporter"),
        "{}",
        stdout(&output)
    );
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "suppress", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    let addresses: Vec<&str> = list
        .iter()
        .map(|e| e["address"].as_str().unwrap())
        .collect();
    assert_eq!(addresses, ["subscriber@example.org"]);
}

/// `fbl report` counts an unattributed complaint once among the reasons, by its first note,
/// as `fbl ingest` does: one with two notes was two reasons.
#[test]
fn an_unattributed_complaint_is_one_reason_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        b"[attribution]\nheader = [\n  { name = \"X-Fbl-Token\", value = \"token\" },\n]\ntoken = { secret = \"fbl-test-secret\" }\n",
    );
    write(
        dir.path(),
        "r.eml",
        &sparse_complaint("X-Fbl-Token: amFuZUBleGFtcGxlLm5ldA.AAAA\n"),
    );
    let output = run(fbl(dir.path())
        .args(["--config", "fbl.toml", "ingest", "r.eml"])
        .env("FBL_NOW", "2026-11-20T08:00:00Z"));
    assert_eq!(output.status.code(), Some(1));
    let output = run(fbl(dir.path())
        .args(["--config", "fbl.toml", "report", "--format", "json"])
        .env("FBL_NOW", "2026-11-20T09:00:00Z"));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(report["unattributed"]["complaints"], 1, "{report}");
    let reasons = report["unattributed"]["top_reasons"].as_array().unwrap();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reasons[0]["reason"]
            .as_str()
            .unwrap()
            .starts_with("header X-Fbl-Token: "),
        "{reasons:?}"
    );
}

/// A folder of reports saved as `.txt` or `.msg`: nothing in it is read (only `*.eml` files
/// are, outside a Maildir). That used to look like a folder without reports (exit 0, "0
/// messages"); it is said, with the files, exit 1. A folder with `.eml` files beside other
/// files says nothing of the others.
#[test]
fn a_folder_without_eml_files_says_what_it_did_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let report = arf("abuse", "saved@example.org", "s@example.com");
    write(dir.path(), "saved/report.txt", &report);
    write(dir.path(), "saved/older/report.msg", &report);
    write(dir.path(), "saved/.hidden.txt", &report);
    let output = run(fbl(dir.path()).args(["--db", "fbl.sqlite", "ingest", "saved"]));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("saved: 2 files not named *.eml (") && text.contains("saved/report.txt"),
        "{text}"
    );
    assert!(!text.contains("hidden"), "{text}");

    write(dir.path(), "saved/report.eml", &report);
    let output = run(fbl(dir.path()).args(["--db", "fbl.sqlite", "ingest", "saved"]));
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(!stdout(&output).contains("not named"));
}

/// The same `suppress import` twice, or a `suppress add` of an address already on the list,
/// changes nothing the second time: counts, history and the change sequence stay, so an
/// export of the changes since the last one is empty; a line twice in one file is imported
/// once. The summary says how many were already listed.
#[test]
fn importing_or_adding_the_same_addresses_again_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "l.txt",
        b"a@example.com\nb@example.com\nb@example.com\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "l.txt"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        "3 addresses read, 2 added, 1 already listed, 0 invalid\n"
    );
    let add = || run(fbl(dir.path()).args(["suppress", "add", "c@example.com"]));
    assert_eq!(add().status.code(), Some(0));
    let export = [
        "export",
        "--format",
        "plain",
        "--output",
        "inc.txt",
        "--changed-since-last",
    ];
    assert_eq!(run(fbl(dir.path()).args(export)).status.code(), Some(0));
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
    assert_eq!(read("inc.txt").lines().count(), 3);
    let state = |dir: &Path| {
        let store = fbl::store::Store::open(&dir.join("fbl.sqlite")).unwrap();
        let counts: Vec<u64> = ["a@example.com", "b@example.com", "c@example.com"]
            .iter()
            .map(|a| {
                store
                    .active_suppression(a, "2026-11-20T08:00:00Z")
                    .unwrap()
                    .unwrap()
                    .count
            })
            .collect();
        let history: usize = ["a@example.com", "b@example.com", "c@example.com"]
            .iter()
            .map(|a| store.history(a).unwrap().len())
            .sum();
        (counts, history, store.change_seq().unwrap())
    };
    let before = state(dir.path());
    assert_eq!((&before.0, before.1), (&vec![1, 1, 1], 3));

    let mut again = fbl(dir.path());
    again.env("FBL_NOW", "2026-11-21T08:00:00Z");
    let output = run(again.args(["suppress", "import", "l.txt"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        "3 addresses read, 0 added, 3 already listed, 0 invalid\n"
    );
    let output = add();
    assert_eq!(output.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("c@example.com was already on the suppression list; nothing changed"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(state(dir.path()), before);
    assert_eq!(run(fbl(dir.path()).args(export)).status.code(), Some(0));
    assert_eq!(read("inc.txt"), "");
}

/// A reason with a tab or a line break would start a field or a row of its own in the
/// tab-separated `suppress list` and in `suppress check`'s lines (`cut -f1` would find an
/// address nobody suppressed). Control characters in a reason are replaced by spaces where it
/// comes in (`add`, `remove`, `import`, said so), and escaped where one kept before is printed;
/// a blank reason is refused.
#[test]
fn control_characters_in_reasons_are_cleaned_in_and_escaped_out() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "inj.csv",
        b"email,reason\nreal@example.com,\"complained\tvia phone\nvictim@example.org\"\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "inj.csv"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).starts_with("1 address read, 1 added, 1 reason cleaned, 0 invalid\n"),
        "{}",
        stdout(&output)
    );
    let output = run(fbl(dir.path()).args(["suppress", "list"]));
    assert_eq!(
        stdout(&output),
        "real@example.com\tcomplained via phone victim@example.org\timport\t\
         2026-11-20T08:00:00Z\t2026-11-20T08:00:00Z\t1\t-\n"
    );

    // Kept so before fbl cleaned reasons: printed escaped, one line each.
    let mut store = fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    let mut batch = store.begin().unwrap();
    batch
        .suppress(&fbl::store::SuppressRequest {
            address: "old@example.com",
            reason: "asked\tby phone\r\nvictim@example.org\t\\",
            source: "manual",
            seen_at: "2026-11-01T00:00:00Z",
            expires_at: None,
            report_id: None,
            actor: "manual",
            now: "2026-11-01T00:00:00Z",
        })
        .unwrap();
    batch.commit().unwrap();
    drop(store);
    let output = run(fbl(dir.path()).args(["suppress", "list"]));
    let text = stdout(&output);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains("old@example.com\tasked\\tby phone\\r\\nvictim@example.org\\t\\\\\tmanual\t"),
        "{text}"
    );
    let output = run_with_stdin(
        fbl(dir.path()).args(["suppress", "check", "-"]),
        b"old@example.com\nvictim@example.org\n",
    );
    assert_eq!(
        stdout(&output),
        "old@example.com suppressed: asked\\tby phone\\r\\nvictim@example.org\\t\\\\ (manual, \
         since 2026-11-01T00:00:00Z)\nvictim@example.org not suppressed\n"
    );
    let output = run(fbl(dir.path()).args(["suppress", "check", "old@example.com"]));
    assert_eq!(stdout(&output).lines().count(), 1);

    // Typed reasons: cleaned and said so; blank ones refused like `remove`'s.
    for blank in ["", "  ", "\t\n"] {
        for command in [
            ["suppress", "add", "new@example.com", "--reason", blank],
            ["suppress", "remove", "old@example.com", "--reason", blank],
        ] {
            let output = run(fbl(dir.path()).args(command));
            assert_eq!(output.status.code(), Some(2), "{command:?}");
            assert!(
                String::from_utf8_lossy(&output.stderr).contains("--reason must say why"),
                "{command:?}"
            );
        }
    }
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        "new@example.com",
        "--reason",
        "asked\nx@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stderr).contains("replaced by spaces"));
    let output = run(fbl(dir.path()).args(["suppress", "check", "new@example.com"]));
    assert!(
        stdout(&output).starts_with("new@example.com suppressed: asked x@example.org (manual,"),
        "{}",
        stdout(&output)
    );
}

/// A line that is not UTF-8 (a Windows-1252 name) is a bad line of its own, named with its
/// line number, not the end of the import: in a column fbl does not read it does not matter,
/// in the address column or a plain list it is an invalid line. `suppress check -` answers
/// such a line as not an address and reads on. A CSV list's line numbers count blank lines.
#[test]
fn a_line_that_is_not_utf8_is_a_bad_line_and_the_rest_is_read() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "names.csv",
        b"email,name\ngood3@example.com,J\xe9r\xf4me\ngood4@example.com,x\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "names.csv"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "2 addresses read, 2 added, 0 invalid\n");

    write(
        dir.path(),
        "bad.csv",
        b"email,reason\nfive@example.com,x\n\nb\xe9@example.com,y\nnot an address,z\nsix@example.com,caf\xe9\n",
    );
    let output = run(fbl(dir.path()).args(["suppress", "import", "bad.csv"]));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.starts_with("4 addresses read, 2 added, 1 reason cleaned, 2 invalid\n"),
        "{text}"
    );
    assert!(
        text.contains("bad.csv:4: \"b\u{fffd}@example.com\" is not UTF-8 text"),
        "{text}"
    );
    assert!(
        text.contains("bad.csv:5: \"not an address\" is not an email address"),
        "{text}"
    );
    assert!(text.contains("bad.csv:6: the reason's"), "{text}");
    write(
        dir.path(),
        "crlf.csv",
        b"email\r\nseven@example.com\r\n\r\n\r\nnot an address\r\n\"a\r\n\r\nb\"\r\n\r\nagain\r\n",
    );
    let text = stdout(&run(
        fbl(dir.path()).args(["suppress", "import", "crlf.csv"])
    ));
    assert!(text.contains("crlf.csv:5: \"not an address\""), "{text}");
    assert!(text.contains("crlf.csv:6: \"a\\r\\n\\r\\nb\""), "{text}");
    assert!(text.contains("crlf.csv:10: \"again\""), "{text}");

    let list = b"good1@example.com\nj\xe9r\xf4me@example.fr\ngood2@example.com\n";
    write(dir.path(), "names.txt", list);
    let output = run(fbl(dir.path()).args(["suppress", "import", "names.txt"]));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.starts_with("3 addresses read, 2 added, 1 invalid\n")
            && text.contains("names.txt:2: \"j\u{fffd}r\u{fffd}me@example.fr\" is not UTF-8 text"),
        "{text}"
    );

    let output = run_with_stdin(fbl(dir.path()).args(["suppress", "check", "-"]), list);
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("good1@example.com suppressed: import"));
    assert_eq!(
        lines[1],
        "\"j\u{fffd}r\u{fffd}me@example.fr\" is not an email address: it is not UTF-8 text"
    );
    assert!(lines[2].starts_with("good2@example.com suppressed: import"));
}

/// `suppress list --json` is written an entry at a time (a list of millions is never held in
/// memory), in the bytes of one pretty-printed JSON array, empty or not.
#[test]
fn suppress_list_json_is_one_pretty_array_written_as_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let listed = |dir: &Path| {
        let output = run(fbl(dir).args(["suppress", "list", "--json"]));
        assert_eq!(output.status.code(), Some(0));
        stdout(&output)
    };
    run(fbl(dir.path()).args(["suppress", "add", "a@example.com", "--reason", "x\ty"]));
    let mut store = fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    let mut batch = store.begin().unwrap();
    batch
        .unsuppress("a@example.com", "gone", "manual", "2026-11-20T08:00:00Z")
        .unwrap();
    batch.commit().unwrap();
    assert_eq!(listed(dir.path()), "[]\n");
    for address in ["b@example.com", "c@example.com", "d@example.com"] {
        run(fbl(dir.path()).args(["suppress", "add", address]));
    }
    let text = listed(dir.path());
    let list: Vec<fbl::suppression::Suppression> = serde_json::from_str(&text).unwrap();
    assert_eq!(list.len(), 3);
    assert_eq!(text, serde_json::to_string_pretty(&list).unwrap() + "\n");
    let output = run(fbl(dir.path()).args(["suppress", "list", "--json", "--removed"]));
    let removed: Vec<fbl::suppression::Suppression> =
        serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        stdout(&output),
        serde_json::to_string_pretty(&removed).unwrap() + "\n"
    );
    assert_eq!(removed[0].reason, "x y");
}

/// `fbl sendlog import` of a log with nothing in it (zero bytes, a CSV header alone) says
/// so, exit 0, rather than a row of zeros alone that looks like a log of known sends; `fbl
/// run`, under cron, says nothing of an empty send log (a mailer's new log is empty until
/// its first send).
#[test]
fn importing_an_empty_send_log_says_it_is_empty_and_a_run_stays_silent() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "empty.csv", b"");
    write(
        dir.path(),
        "header.csv",
        b"message_id,recipient,sent_at\n\n",
    );
    write(dir.path(), "empty.jsonl", b"\n");
    for (file, format, said) in [
        (
            "empty.csv",
            "csv",
            "empty.csv is empty: no send-log lines, nothing to import\n",
        ),
        (
            "header.csv",
            "csv",
            "header.csv has no send-log lines (its header alone, or blank lines): nothing to \
             import\n",
        ),
        (
            "empty.jsonl",
            "jsonl",
            "empty.jsonl has no send-log lines (blank lines alone): nothing to import\n",
        ),
        (
            "empty.csv",
            "postfix",
            "empty.csv is empty: no send-log lines, nothing to import\n",
        ),
    ] {
        let output = run(fbl(dir.path()).args(["sendlog", "import", file, "--format", format]));
        assert_eq!(output.status.code(), Some(0), "{file} {format}");
        assert_eq!(
            stdout(&output),
            format!(
                "0 entries read: 0 added, 0 already known, 0 older than retention, 0 bad lines; \
                 0 pruned; 0 stored complaints attributed now (0 suppressions added)\n{said}"
            ),
            "{file} {format}"
        );
        assert!(output.stderr.is_empty(), "{file} {format}");
    }
    // Standard input is named as such.
    let output = run_with_stdin(
        fbl(dir.path()).args(["sendlog", "import", "-", "--format", "csv"]),
        b"",
    );
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output)
            .ends_with("\nstandard input is empty: no send-log lines, nothing to import\n"),
        "{}",
        stdout(&output)
    );
    // A log with entries is not said to have none.
    write(
        dir.path(),
        "sends.csv",
        b"message_id,recipient,sent_at\n<m1@example.com>,jane@example.org,2026-11-19T10:00:00Z\n",
    );
    let output = run(fbl(dir.path()).args(["sendlog", "import", "sends.csv", "--format", "csv"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).starts_with("1 entry read: 1 added,")
            && stdout(&output).lines().count() == 1,
        "{}",
        stdout(&output)
    );

    // Under cron, a run whose send logs are empty has nothing to say.
    write(
        dir.path(),
        "fbl.toml",
        b"[store]\npath = \"fbl.sqlite\"\n[send_log]\nimport = [{ path = \"empty.csv\", format = \"csv\" }, \
          { path = \"header.csv\", format = \"csv\" }]\n",
    );
    for _ in 0..2 {
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(stdout(&output), "");
        assert!(
            output.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The reports' fixture configuration (the golden tests', the benchmarks') names its token
/// secret in a file, not inline: a command run with it warns of nothing, on a fresh clone
/// too (git keeps the files readable by all).
#[test]
fn the_fixture_configuration_runs_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let config = crate::support::fixtures().join("reports").join("fbl.toml");
    let report = crate::support::fixtures()
        .join("reports")
        .join("arf-attached-message-base64.eml");
    let output = run(fbl(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["--db", "fbl.sqlite", "ingest", "--json"])
        .arg(&report));
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["stored"], 1);
    // Its tokens still verify: a fixture whose complainant only a signed token names.
    let signed = crate::support::fixtures()
        .join("reports")
        .join("jmrp-2026-signed-token-header.eml");
    assert!(signed.exists());
    let output = run(fbl(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["--db", "fbl.sqlite", "ingest", "--json"])
        .arg(&signed));
    assert!(output.stderr.is_empty());
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["attributed"], 1, "{summary}");
}

/// `fbl suppress import -` reads the list from standard input, as `ingest -` and
/// `suppress check -` do (it opened a file named `-`).
#[test]
fn suppress_import_reads_standard_input_from_a_dash() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = fbl(dir.path());
    command.args(["suppress", "import", "-"]);
    let output = run_with_stdin(&mut command, b"email,reason\none@example.org,legacy\n");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let output = run(fbl(dir.path()).args(["suppress", "check", "one@example.org"]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}
