//! A person's removal of an address (`fbl suppress remove`) stands against complaints made
//! before it: a report that comes late (or is attributed late, by `fbl reattribute` after a
//! send log import) is stored and counted, and leaves the address off the list. A complaint
//! made after the removal puts it back. On both engines, through the real commands.

use crate::store::{Backend, TestStore};
use crate::support::{arf, run, stdout};

/// A complaint about `message_id` naming `rcpt_to` (nobody when empty), sent by the
/// provider at `date` (RFC 5322).
fn complaint(rcpt_to: &str, message_id: &str, date: &str) -> Vec<u8> {
    let report = String::from_utf8(arf("abuse", rcpt_to, message_id)).unwrap();
    let line = "Date: Tue, 10 Nov 2026 12:00:00 +0000\n";
    assert!(report.contains(line));
    report
        .replace(line, &format!("Date: {date}\n"))
        .into_bytes()
}

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(output)).unwrap()
}

/// `fbl ingest --json` of one report: its summary, with the exit status as `exit`.
fn ingest(test: &TestStore, now: &str, name: &str, report: &[u8]) -> serde_json::Value {
    let path = test.dir.path().join(name);
    std::fs::write(&path, report).unwrap();
    let output = run(test
        .fbl()
        .env("FBL_NOW", now)
        .args(["ingest", name, "--json"]));
    let mut summary = json(&output);
    summary["exit"] = output.status.code().into();
    summary
}

fn listed(test: &TestStore, now: &str) -> bool {
    let output =
        run(test
            .fbl()
            .env("FBL_NOW", now)
            .args(["suppress", "check", "jane@example.org"]));
    match output.status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!("suppress check exited {other:?}"),
    }
}

fn show(test: &TestStore, now: &str) -> serde_json::Value {
    json(&run(test.fbl().env("FBL_NOW", now).args([
        "suppress",
        "show",
        "jane@example.org",
    ])))
}

fn actions(shown: &serde_json::Value) -> Vec<String> {
    shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|line| line["action"].as_str().unwrap().to_string())
        .collect()
}

fn a_complaint_made_before_a_removal_leaves_the_address_off(backend: Backend) {
    let test = TestStore::new(backend);
    // Jane complains on the 10th; the report is ingested on the 11th.
    let first = ingest(
        &test,
        "2026-11-11T00:00:00Z",
        "first.eml",
        &complaint(
            "jane@example.org",
            "a@news.example",
            "Tue, 10 Nov 2026 12:00:00 +0000",
        ),
    );
    assert_eq!(first["suppressions_added"], 1);
    assert_eq!(first["exit"], 0);
    assert!(listed(&test, "2026-11-11T00:00:01Z"));

    // On the 12th a person takes her off: she confirmed by phone that she wants the mail.
    let output = run(test
        .fbl()
        .env("FBL_NOW", "2026-11-12T09:00:00Z")
        .args(["suppress", "remove", "jane@example.org"])
        .args(["--reason", "confirmed by phone, ticket 9"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(!listed(&test, "2026-11-12T09:00:01Z"));

    // A second complaint, made on the 10th too, whose report comes late (on the 13th): it
    // is stored and said, and Jane stays off the list.
    let late = ingest(
        &test,
        "2026-11-13T00:00:00Z",
        "late.eml",
        &complaint(
            "jane@example.org",
            "b@news.example",
            "Tue, 10 Nov 2026 13:00:00 +0000",
        ),
    );
    assert_eq!(late["stored"], 1);
    assert_eq!(late["exit"], 1, "a person hears of it");
    assert_eq!(late["attributed"], 1);
    assert_eq!(late["suppressions_added"], 0);
    assert_eq!(late["suppressions_updated"], 0);
    assert_eq!(
        late["left_removed"],
        serde_json::json!(["jane@example.org (report 2)"])
    );
    assert!(!listed(&test, "2026-11-13T00:00:01Z"));
    let shown = show(&test, "2026-11-13T00:00:01Z");
    assert_eq!(actions(&shown), ["add", "remove", "not_readded"]);
    let line = &shown["history"][2];
    assert_eq!(line["report_id"], 2);
    assert_eq!(line["actor"], "report");
    let note = line["note"].as_str().unwrap();
    assert!(
        note.contains("reported at 2026-11-10T13:00:00Z")
            && note.contains("before its removal at 2026-11-12T09:00:00Z by a person")
            && note.contains("confirmed by phone, ticket 9"),
        "{note}"
    );
    assert_eq!(
        shown["evidence_report_ids"],
        serde_json::json!([1, 2]),
        "the late report is kept as evidence"
    );

    // A third complaint of the 10th that names nobody, attributed on the 14th by a send log
    // import (which runs `fbl reattribute`): Jane stays off the list too.
    let unattributed = ingest(
        &test,
        "2026-11-13T00:00:00Z",
        "unattributed.eml",
        &complaint("", "c@news.example", "Tue, 10 Nov 2026 14:00:00 +0000"),
    );
    assert_eq!(unattributed["unattributed"], 1);
    std::fs::write(
        test.dir.path().join("sent.csv"),
        "message_id,recipient,sent_at\n<c@news.example>,jane@example.org,2026-11-10T09:00:00Z\n",
    )
    .unwrap();
    let output = run(test
        .fbl()
        .env("FBL_NOW", "2026-11-14T00:00:00Z")
        .args(["sendlog", "import", "sent.csv", "--format", "csv"]));
    assert_eq!(output.status.code(), Some(1), "a person hears of it");
    assert!(
        stdout(&output).contains("1 stored complaints attributed now (0 suppressions added)"),
        "{}",
        stdout(&output)
    );
    assert!(
        stdout(&output).contains(
            "\n  complained before a person took the address off the list (left off it; `fbl \
             suppress show` says when and why, `fbl suppress add` puts it back): \
             jane@example.org (report 3)\n"
        ),
        "{}",
        stdout(&output)
    );
    let output = run(test
        .fbl()
        .env("FBL_NOW", "2026-11-14T00:00:00Z")
        .args(["sendlog", "import", "sent.csv", "--format", "csv", "--json"]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "said once: read again, it attributes nothing"
    );
    assert_eq!(json(&output)["left_removed"], serde_json::json!([]));
    assert!(!listed(&test, "2026-11-14T00:00:01Z"));
    let shown = show(&test, "2026-11-14T00:00:01Z");
    assert_eq!(
        actions(&shown),
        ["add", "remove", "not_readded", "not_readded"]
    );
    assert_eq!(shown["history"][3]["report_id"], 3);

    // A complaint made after the removal (on the 15th) puts her back, as before.
    let after = ingest(
        &test,
        "2026-11-15T12:00:00Z",
        "after.eml",
        &complaint(
            "jane@example.org",
            "d@news.example",
            "Sun, 15 Nov 2026 10:00:00 +0000",
        ),
    );
    assert_eq!(after["suppressions_added"], 1);
    assert_eq!(after["exit"], 0);
    assert_eq!(after["left_removed"], serde_json::json!([]));
    assert!(listed(&test, "2026-11-15T12:00:01Z"));
    let shown = show(&test, "2026-11-15T12:00:01Z");
    assert_eq!(
        actions(&shown),
        ["add", "remove", "not_readded", "not_readded", "add"]
    );

    // And once she is back on, another late complaint of the 10th counts as before.
    let again = ingest(
        &test,
        "2026-11-16T00:00:00Z",
        "again.eml",
        &complaint(
            "jane@example.org",
            "e@news.example",
            "Tue, 10 Nov 2026 15:00:00 +0000",
        ),
    );
    assert_eq!(again["suppressions_updated"], 1);
    assert!(listed(&test, "2026-11-16T00:00:01Z"));
}

/// `fbl suppress import FILE` (with `extra` arguments) at `now`: its standard output and
/// exit status.
fn import(test: &TestStore, now: &str, extra: &[&str]) -> (String, Option<i32>) {
    let output = run(test
        .fbl()
        .env("FBL_NOW", now)
        .args(["suppress", "import", "old-list.txt"])
        .args(extra));
    (stdout(&output), output.status.code())
}

fn an_import_leaves_off_an_address_a_person_removed(backend: Backend) {
    let test = TestStore::new(backend);
    std::fs::write(
        test.dir.path().join("old-list.txt"),
        "jane@example.org\nbob@example.org\n",
    )
    .unwrap();
    let (out, code) = import(&test, "2026-11-10T00:00:00Z", &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(listed(&test, "2026-11-10T00:00:01Z"));

    // Jane asked to be mailed again; a person takes her off.
    let output = run(test
        .fbl()
        .env("FBL_NOW", "2026-11-12T09:00:00Z")
        .args(["suppress", "remove", "jane@example.org"])
        .args(["--reason", "asked to be mailed again, ticket 12"]));
    assert_eq!(output.status.code(), Some(0));
    // A complaint she made before it, reported late, leaves her off (a `not_readded` line):
    // the removal still stands.
    let late = ingest(
        &test,
        "2026-11-12T10:00:00Z",
        "late.eml",
        &complaint(
            "jane@example.org",
            "b@news.example",
            "Tue, 10 Nov 2026 13:00:00 +0000",
        ),
    );
    assert_eq!(late["left_removed"].as_array().unwrap().len(), 1);

    // The old list imported again leaves her off, and says so (exit 1), twice alike: the
    // second import changes nothing either.
    for now in ["2026-11-13T00:00:00Z", "2026-11-14T00:00:00Z"] {
        let (out, code) = import(&test, now, &[]);
        assert_eq!(code, Some(1), "a person hears of it: {out}");
        assert_eq!(
            out,
            "2 addresses read, 0 added, 1 already listed, 1 left off (a person took them off \
             the list; --include-removed puts them back), 0 invalid\n  old-list.txt:1: \
             jane@example.org left off: a person took it off the list at 2026-11-12T09:00:00Z \
             (asked to be mailed again, ticket 12)\n"
        );
        assert!(!listed(&test, now));
        assert_eq!(actions(&show(&test, now)), ["add", "remove", "not_readded"]);
    }

    // `--include-removed` puts her back, recorded as the import's doing; once more, it
    // changes nothing.
    let (out, code) = import(&test, "2026-11-15T00:00:00Z", &["--include-removed"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "2 addresses read, 1 added, 1 already listed, 0 invalid\n"
    );
    assert!(listed(&test, "2026-11-15T00:00:01Z"));
    let shown = show(&test, "2026-11-15T00:00:01Z");
    assert_eq!(actions(&shown), ["add", "remove", "not_readded", "add"]);
    assert_eq!(shown["history"][3]["actor"], "import");
    let (out, code) = import(&test, "2026-11-16T00:00:00Z", &["--include-removed"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        out,
        "2 addresses read, 0 added, 2 already listed, 0 invalid\n"
    );
    assert_eq!(
        actions(&show(&test, "2026-11-16T00:00:01Z")),
        ["add", "remove", "not_readded", "add"]
    );
}

mod sqlite {
    #[test]
    fn a_complaint_made_before_a_removal_leaves_the_address_off() {
        super::a_complaint_made_before_a_removal_leaves_the_address_off(super::Backend::Sqlite)
    }

    #[test]
    fn an_import_leaves_off_an_address_a_person_removed() {
        super::an_import_leaves_off_an_address_a_person_removed(super::Backend::Sqlite)
    }
}

mod postgres {
    #[test]
    fn a_complaint_made_before_a_removal_leaves_the_address_off() {
        super::a_complaint_made_before_a_removal_leaves_the_address_off(super::Backend::Postgres)
    }

    #[test]
    fn an_import_leaves_off_an_address_a_person_removed() {
        super::an_import_leaves_off_an_address_a_person_removed(super::Backend::Postgres)
    }
}
