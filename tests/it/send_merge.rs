//! One send seen in a Postfix log, then in the mailer's CSV (a later import): the CSV's
//! entry is merged into the Postfix one (`Batch::add_send_log`). The import says it merged
//! the send rather than added one, and the report counts the complaints already summarised
//! against that send under the campaign and list the CSV gave it. On both engines, through
//! the real commands.

use crate::store::{Backend, TestStore};
use crate::support::{arf, run, stdout};

const NOW: &str = "2026-11-20T08:00:00Z";

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_str(&stdout(output)).unwrap()
}

fn import(test: &TestStore, file: &str, format: &str) -> serde_json::Value {
    let output = run(test
        .fbl()
        .env("FBL_NOW", NOW)
        .env("TZ", "UTC")
        .args(["sendlog", "import", file, "--format", format, "--json"]));
    assert_eq!(output.status.code(), Some(0));
    json(&output)
}

fn report(test: &TestStore) -> serde_json::Value {
    json(&run(test
        .fbl()
        .env("FBL_NOW", NOW)
        .args(["report", "--format", "json", "--days", "30"])))
}

fn campaign<'a>(report: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    report["campaigns"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["subject"] == name)
}

fn a_send_merged_from_a_later_csv_moves_its_complaints_to_its_campaign(backend: Backend) {
    let test = TestStore::new(backend);
    let dir = test.dir.path();
    // Postfix delivered two messages on the 18th; fbl run (or an import) read the log.
    std::fs::write(
        dir.join("mail.log"),
        "Nov 18 09:00:00 mail01 postfix/cleanup[1202]: AAA111: message-id=<m1@sender.example>\n\
         Nov 18 09:00:01 mail01 postfix/smtp[1203]: AAA111: to=<jane@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 OK)\n\
         Nov 18 09:00:01 mail01 postfix/qmgr[1204]: AAA111: removed\n\
         Nov 18 09:00:02 mail01 postfix/cleanup[1202]: BBB222: message-id=<m2@sender.example>\n\
         Nov 18 09:00:03 mail01 postfix/smtp[1203]: BBB222: to=<joe@example.org>, relay=mx.example.org[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 OK)\n\
         Nov 18 09:00:03 mail01 postfix/qmgr[1204]: BBB222: removed\n",
    )
    .unwrap();
    let imported = import(&test, "mail.log", "postfix");
    assert_eq!(
        (imported["added"].as_u64(), imported["merged"].as_u64()),
        (Some(2), Some(0))
    );

    // Jane complains; the report is summarised with the send placed, but under no campaign
    // (the Postfix log names none).
    std::fs::write(
        dir.join("complaint.eml"),
        arf("abuse", "jane@example.org", "m1@sender.example"),
    )
    .unwrap();
    let output = run(test
        .fbl()
        .env("FBL_NOW", NOW)
        .args(["ingest", "complaint.eml"]));
    assert_eq!(output.status.code(), Some(0));
    let before = report(&test);
    assert_eq!(before["complaints_without_campaign"], 1);
    assert!(campaign(&before, "autumn").is_none());

    // The mailer's CSV comes later, with the campaign, list and source IP of both sends.
    std::fs::write(
        dir.join("sent.csv"),
        "message_id,recipient,campaign,list,source_ip,sent_at\n\
         <m1@sender.example>,jane@example.org,autumn,monthly,192.0.2.10,2026-11-18T09:00:00Z\n\
         <m2@sender.example>,joe@example.org,autumn,monthly,192.0.2.10,2026-11-18T09:00:02Z\n\
         <m3@sender.example>,ann@example.org,autumn,monthly,192.0.2.10,2026-11-18T09:00:04Z\n",
    )
    .unwrap();
    let imported = import(&test, "sent.csv", "csv");
    assert_eq!(
        ["entries", "added", "merged", "already_known"].map(|key| imported[key].as_u64().unwrap()),
        [3, 1, 2, 0],
        "two sends completed, one new: {imported}"
    );
    let text = run(test
        .fbl()
        .env("FBL_NOW", NOW)
        .args(["sendlog", "import", "sent.csv", "--format", "csv"]));
    assert!(
        stdout(&text).starts_with("3 entries read: 0 added, 3 already known,"),
        "read again, nothing is merged: {}",
        stdout(&text)
    );

    let after = report(&test);
    assert_eq!(after["complaints_without_campaign"], 0, "{after:#}");
    let autumn = campaign(&after, "autumn").expect("campaign autumn in the report");
    assert_eq!(
        (autumn["complaints"].as_u64(), autumn["messages"].as_u64()),
        (Some(1), Some(3)),
        "{autumn:#}"
    );
}

/// The text summary of `fbl sendlog import` says the merges apart from the entries added.
fn the_import_summary_says_merges_apart(backend: Backend) {
    let test = TestStore::new(backend);
    let dir = test.dir.path();
    std::fs::write(
        dir.join("first.csv"),
        "message_id,recipient,sent_at\n<m1@sender.example>,jane@example.org,2026-11-18T09:00:00Z\n",
    )
    .unwrap();
    import(&test, "first.csv", "csv");
    std::fs::write(
        dir.join("second.csv"),
        "message_id,recipient,campaign,sent_at\n\
         <m1@sender.example>,jane@example.org,autumn,2026-11-18T09:00:00Z\n\
         <m2@sender.example>,joe@example.org,autumn,2026-11-18T09:00:00Z\n",
    )
    .unwrap();
    let output = run(test.fbl().env("FBL_NOW", NOW).args([
        "sendlog",
        "import",
        "second.csv",
        "--format",
        "csv",
    ]));
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output).starts_with(
            "2 entries read: 1 added, 1 merged into sends already known from another log, \
             0 already known,"
        ),
        "{}",
        stdout(&output)
    );
}

mod sqlite {
    #[test]
    fn a_send_merged_from_a_later_csv_moves_its_complaints_to_its_campaign() {
        super::a_send_merged_from_a_later_csv_moves_its_complaints_to_its_campaign(
            super::Backend::Sqlite,
        )
    }

    #[test]
    fn the_import_summary_says_merges_apart() {
        super::the_import_summary_says_merges_apart(super::Backend::Sqlite)
    }
}

mod postgres {
    #[test]
    fn a_send_merged_from_a_later_csv_moves_its_complaints_to_its_campaign() {
        super::a_send_merged_from_a_later_csv_moves_its_complaints_to_its_campaign(
            super::Backend::Postgres,
        )
    }
}
