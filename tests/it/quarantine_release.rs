//! A report delivered twice, once by a path `[trust]` does not accept and once by one it
//! does: the untrusted copy is not left in quarantine waiting for a person once the trusted
//! one is stored, in whichever order and whichever run the two come.

use crate::support::{arf, fbl, run, stdout};
use std::path::Path;

const CONFIG: &[u8] = b"[trust]\nauthserv_id = \"mx.sender.example\"\n";

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, bytes).unwrap();
}

/// The report both deliveries carry: the same Message-ID, Date, From, To, Subject and body.
fn report() -> Vec<u8> {
    [
        b"Message-ID: <twice@arf.mail.yahoo.com>\n".as_slice(),
        &arf("abuse", "twice@example.org", "t@example.com"),
    ]
    .concat()
}

/// The report as delivered through a forwarder whose results `[trust]` does not accept.
pub(crate) fn untrusted() -> Vec<u8> {
    [
        b"Delivered-To: fbl-forward@example.com\n\
          Received: from forwarder.example.net (forwarder.example.net [198.51.100.7])\n\
          \tby mx.other.example; Tue, 10 Nov 2026 12:00:05 +0000\n\
          Authentication-Results: mx.other.example; dkim=pass header.d=yahoo.com\n"
            .as_slice(),
        &report(),
    ]
    .concat()
}

/// The report as delivered straight to the sender's own MX.
pub(crate) fn trusted() -> Vec<u8> {
    [
        b"Delivered-To: fbl@example.com\n\
          Received: from mta.arf.mail.yahoo.com (mta.arf.mail.yahoo.com [203.0.113.5])\n\
          \tby mx.sender.example; Tue, 10 Nov 2026 12:00:02 +0000\n\
          Authentication-Results: mx.sender.example; dkim=pass header.d=yahoo.com header.s=s1\n"
            .as_slice(),
        &report(),
    ]
    .concat()
}

/// Another trusted complaint, the `n`th, for a folder of many.
fn other(n: usize) -> Vec<u8> {
    [
        b"Authentication-Results: mx.sender.example; dkim=pass header.d=yahoo.com header.s=s1\n"
            .as_slice(),
        &arf(
            "abuse",
            &format!("user{n}@example.org"),
            &format!("m{n}@example.com"),
        ),
    ]
    .concat()
}

/// `fbl ingest --json` of `input` with the `[trust]` configuration: its exit code and
/// summary.
fn ingest(dir: &Path, input: &str) -> (Option<i32>, serde_json::Value) {
    let output = run(fbl(dir).args(["--config", "fbl.toml", "ingest", input, "--json"]));
    let summary = serde_json::from_str(&stdout(&output)).unwrap();
    (output.status.code(), summary)
}

/// `fbl quarantine list --json` (with `--all`, the released rows too).
fn quarantine_list(dir: &Path, all: bool) -> Vec<serde_json::Value> {
    let mut command = fbl(dir);
    command.args(["quarantine", "list", "--json"]);
    if all {
        command.arg("--all");
    }
    serde_json::from_str(&stdout(&run(&mut command))).unwrap()
}

/// A Maildir of `count` other complaints, with the two deliveries of the report put at
/// positions `first` and `second` (by their sorted file names).
fn maildir(dir: &Path, count: usize, first: (usize, Vec<u8>), second: (usize, Vec<u8>)) {
    for folder in ["tmp", "new"] {
        std::fs::create_dir_all(dir.join("maildir").join(folder)).unwrap();
    }
    for n in 0..count {
        let raw = if n == first.0 {
            first.1.clone()
        } else if n == second.0 {
            second.1.clone()
        } else {
            other(n)
        };
        write(dir, &format!("maildir/cur/{n:05}.fbl:2,S"), &raw);
    }
}

/// (a) The untrusted copy comes first and is quarantined; the trusted one, in a later run,
/// is stored and releases it, linked to the report: the quarantine lists nothing open, and
/// the untrusted copy seen again is a duplicate.
#[test]
fn storing_a_trusted_delivery_releases_the_untrusted_one_quarantined_before() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fbl.toml", CONFIG);
    write(dir.path(), "untrusted/copy.eml", &untrusted());
    let (code, summary) = ingest(dir.path(), "untrusted");
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(summary["untrusted"], 1, "{summary}");
    assert_eq!(quarantine_list(dir.path(), false).len(), 1);

    write(dir.path(), "trusted/copy.eml", &trusted());
    let (code, summary) = ingest(dir.path(), "trusted");
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["stored"], 1, "{summary}");
    assert_eq!(summary["released"], 1, "{summary}");
    assert!(quarantine_list(dir.path(), false).is_empty());
    let all = quarantine_list(dir.path(), true);
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0]["report_id"], 1, "{all:?}");
    assert_eq!(all[0]["released_at"], "2026-11-20T08:00:00Z", "{all:?}");
    let output = run(fbl(dir.path()).args(["quarantine", "list", "--all"]));
    assert!(
        stdout(&output).contains("(released 2026-11-20T08:00:00Z, stored as report 1)"),
        "{}",
        stdout(&output)
    );

    // The untrusted copy delivered again: a duplicate, nothing for a person.
    let (code, summary) = ingest(dir.path(), "untrusted");
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["duplicates"], 1, "{summary}");
    assert_eq!(summary["quarantined"], 0, "{summary}");
}

/// (b) Both copies in one ingest, the trusted one first: the reading thread looks the
/// untrusted one up before the trusted one is committed (the storing thread commits every
/// `BATCH_SIZE` messages), but the storing thread finds it stored: a duplicate, not quarantined.
#[test]
fn an_untrusted_delivery_after_a_trusted_one_in_the_same_ingest_is_a_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fbl.toml", CONFIG);
    maildir(dir.path(), 300, (20, trusted()), (250, untrusted()));
    let (code, summary) = ingest(dir.path(), "maildir");
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["messages"], 300, "{summary}");
    assert_eq!(summary["stored"], 299, "{summary}");
    assert_eq!(summary["duplicates"], 1, "{summary}");
    assert_eq!(summary["quarantined"], 0, "{summary}");
    assert_eq!(summary["untrusted"], 0, "{summary}");
    assert!(quarantine_list(dir.path(), true).is_empty());
}

/// (c) Both copies in one ingest, the untrusted one first: it is quarantined, then released
/// when the trusted one is stored, and the run needs nobody: exit 0, nothing counted as
/// quarantined. Once in one transaction, once across two (the storing thread commits every
/// `BATCH_SIZE` messages).
#[test]
fn a_trusted_delivery_after_an_untrusted_one_in_the_same_ingest_releases_it() {
    let batch = fbl::ingest::BATCH_SIZE;
    for (count, second) in [(300, 250), (batch + 100, batch + 50)] {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "fbl.toml", CONFIG);
        maildir(dir.path(), count, (5, untrusted()), (second, trusted()));
        let (code, summary) = ingest(dir.path(), "maildir");
        assert_eq!(code, Some(0), "{count}: {summary}");
        assert_eq!(summary["stored"], count - 1, "{summary}");
        assert_eq!(summary["quarantined"], 0, "{summary}");
        assert_eq!(summary["untrusted"], 0, "{summary}");
        assert_eq!(summary["released"], 1, "{summary}");
        assert_eq!(
            summary["quarantine_reasons"],
            serde_json::json!([]),
            "{summary}"
        );
        assert!(quarantine_list(dir.path(), false).is_empty());
        let all = quarantine_list(dir.path(), true);
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(all[0]["report_id"].is_i64(), "{all:?}");
        assert!(
            all[0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("untrusted_reporter"),
            "{all:?}"
        );
        // The next run has nothing for a person either.
        let (code, summary) = ingest(dir.path(), "maildir");
        assert_eq!(code, Some(0), "{summary}");
        assert_eq!(summary["duplicates"], count, "{summary}");
    }
}

/// The head of an oversized message is kept without a content key: its key would be the
/// head's, not the message's. A message quarantined whole has its key.
#[test]
fn the_head_of_an_oversized_message_is_quarantined_without_a_content_key() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        &[CONFIG, b"[limits]\nmax_message_bytes = 100000\n".as_slice()].concat(),
    );
    let mut big = trusted();
    big.extend(std::iter::repeat_n(b'x', 200_000));
    write(dir.path(), "in/1-big.eml", &big);
    write(dir.path(), "in/2-untrusted.eml", &untrusted());
    let (code, summary) = ingest(dir.path(), "in");
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(summary["quarantined"], 2, "{summary}");
    let keys: Vec<(String, Option<Vec<u8>>)> =
        rusqlite::Connection::open(dir.path().join("fbl.sqlite"))
            .unwrap()
            .prepare("SELECT origin, content_key FROM quarantine ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
    assert_eq!(
        keys,
        [
            (String::from("in/1-big.eml"), None),
            (
                String::from("in/2-untrusted.eml"),
                Some(fbl::content_key::content_key(&untrusted()).to_vec())
            ),
        ]
    );
}

/// `fbl run` over a source holding the untrusted copy and then the trusted one: the run
/// needs nobody (exit 0), and the next run neither.
#[test]
fn a_run_whose_untrusted_copy_is_released_by_its_trusted_one_needs_nobody() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "fbl.toml",
        &[
            CONFIG,
            b"\n[store]\npath = \"fbl.sqlite\"\n\n[[source]]\nname = \"local\"\npath = \"maildir\"\n"
                .as_slice(),
        ]
        .concat(),
    );
    maildir(dir.path(), 40, (3, untrusted()), (30, trusted()));
    for stored in [39, 0] {
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run", "--json"]));
        assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
        let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(summary["ingest"]["stored"], stored, "{summary}");
        assert_eq!(summary["ingest"]["quarantined"], 0, "{summary}");
    }
    assert!(quarantine_list(dir.path(), false).is_empty());
    assert_eq!(quarantine_list(dir.path(), true).len(), 1);
}

/// A person who looked at an untrusted message takes it with `fbl quarantine retry --trusted
/// ID`: stored and acted on, released; a plain retry leaves it, and `--trusted` without ids
/// is refused.
#[test]
fn a_person_takes_an_untrusted_message_with_retry_trusted() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "fbl.toml", CONFIG);
    write(dir.path(), "untrusted/copy.eml", &untrusted());
    let (code, _) = ingest(dir.path(), "untrusted");
    assert_eq!(code, Some(1));
    let id = quarantine_list(dir.path(), false)[0]["id"].to_string();
    let retry = |args: &[&str]| {
        run(fbl(dir.path())
            .args(["--config", "fbl.toml", "quarantine", "retry"])
            .args(args))
    };
    let output = retry(&[&id]);
    assert_eq!(output.status.code(), Some(1), "still untrusted");
    let output = retry(&["--trusted"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("name their ids"));
    let output = retry(&["--trusted", &id]);
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
    assert!(quarantine_list(dir.path(), false).is_empty());
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "suppress",
        "check",
        "twice@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0));
}

/// `fbl quarantine list` prints one line per message, tab-separated: a file name with a tab
/// and a line break in it (the origin) is escaped, never a field or a row of its own.
#[test]
fn quarantine_list_escapes_an_origin_with_a_tab_and_a_line_break() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "in/bad\tname\n\u{1b}[31m.eml",
        b"not a report at all\n",
    );
    let output = run(fbl(dir.path()).args(["ingest", "in"]));
    assert_eq!(output.status.code(), Some(1));
    let output = run(fbl(dir.path()).args(["quarantine", "list"]));
    assert_eq!(output.status.code(), Some(0));
    let listed = stdout(&output);
    assert_eq!(listed.lines().count(), 1, "{listed:?}");
    let fields: Vec<&str> = listed.trim_end_matches('\n').split('\t').collect();
    assert_eq!(fields.len(), 5, "{listed:?}");
    assert!(
        fields[3].ends_with("in/bad\\tname\\n\\u{1b}[31m.eml"),
        "{listed:?}"
    );
    assert!(!listed.contains('\u{1b}'), "{listed:?}");
}

/// A person closes what needs nothing done: it leaves the open quarantine (`list`, `store
/// info`, `retry` of all), keeps its bytes and says why; an id not open is said, exit 1.
#[test]
fn a_person_dismisses_a_quarantined_message_with_a_reason_and_its_bytes_stay() {
    let dir = tempfile::tempdir().unwrap();
    let broken = b"From: a@example.org\nContent-Type: multipart/report; report-type=feedback-report; boundary=\"x\"\n\n--x\nContent-Type: message/feedback-report\n\nFeedback-Type: abuse\nIncidents: several\n\n--x--\n";
    write(dir.path(), "broken.eml", broken);
    let output = run(fbl(dir.path()).args(["ingest", "broken.eml"]));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let open = quarantine_list(dir.path(), false);
    assert_eq!(open.len(), 1, "{open:?}");
    let id = open[0]["id"].as_i64().unwrap().to_string();
    // `retry` of all keeps failing on it: the reason it needs a person.
    let output = run(fbl(dir.path()).args(["quarantine", "retry"]));
    assert_eq!(output.status.code(), Some(1), "{output:?}");

    let output = run(fbl(dir.path()).args([
        "quarantine",
        "dismiss",
        &id,
        "--reason",
        "a test message of ours",
    ]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "1 dismissed\n");
    assert!(quarantine_list(dir.path(), false).is_empty());
    let all = quarantine_list(dir.path(), true);
    assert_eq!(all[0]["dismissed"], "a test message of ours", "{all:?}");
    assert!(all[0]["released_at"].is_string(), "{all:?}");
    let output = run(fbl(dir.path()).args(["quarantine", "retry"]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let output = run(fbl(dir.path()).args(["quarantine", "show", &id, "--raw"]));
    assert_eq!(output.stdout, broken, "the bytes stay");
    let output = run(fbl(dir.path()).args(["quarantine", "list", "--all"]));
    assert!(
        stdout(&output).contains("\t(dismissed 2026-11-20T08:00:00Z: a test message of ours)"),
        "{}",
        stdout(&output)
    );

    // Twice, or an unknown id: said, exit 1; an empty reason: refused, exit 2.
    let output = run(fbl(dir.path()).args(["quarantine", "dismiss", &id, "999", "--reason", "x"]));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stdout(&output), "0 dismissed\n");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&format!(": {id}, 999\n")),
        "{output:?}"
    );
    let output = run(fbl(dir.path()).args(["quarantine", "dismiss", &id, "--reason", " "]));
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}
