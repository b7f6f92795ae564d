//! `fbl run` on a Postfix log where mail passes a content filter (amavisd-new on
//! 127.0.0.1:10024, given back to Postfix on :10025 under a new queue id): the hop to the
//! filter is no send, the requeued message's delivery is, across two runs. Real SQLite files.

use crate::support::{fbl, fixtures, run, stdout};
use std::io::Write;
use std::path::Path;

const NOW: &str = "2026-11-28T12:00:00Z";
const MESSAGE_ID: &str = "20261128091201.4F1A2B3C4D@mail01.sender.example";

fn append(dir: &Path, text: &str) {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("mail.log"))
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

fn fbl_run(dir: &Path) -> (Option<i32>, serde_json::Value) {
    let output = run(fbl(dir)
        .env("FBL_NOW", NOW)
        .env("TZ", "UTC")
        .args(["--config", "fbl.toml", "run", "--json"]));
    let summary = serde_json::from_str(&stdout(&output)).unwrap_or(serde_json::Value::Null);
    (output.status.code(), summary)
}

fn rows(dir: &Path, sql: &str) -> Vec<String> {
    let db = rusqlite::Connection::open(dir.join("fbl.sqlite")).unwrap();
    let mut statement = db.prepare(sql).unwrap();
    statement
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// The first run reads the message queued, filtered and queued again (the hop's
/// `status=sent`), the second the requeued message delivered to ann and refused by
/// Outlook.com for zoe (S3150). Only ann is sent; zoe's block is still found by the block
/// scan. The hop used to make zoe an entry: a blocked recipient counted as sent.
#[test]
fn a_message_filtered_then_refused_by_outlook_is_no_send_and_its_block_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n[send_log]\nretention_days = 5000\n\
         import = [{ path = \"mail.log\", format = \"postfix\" }]\n",
    )
    .unwrap();
    append(
        dir.path(),
        &format!(
            "Nov 28 09:12:01 mail01 postfix/pickup[2101]: 4F1A2B3C4D: uid=1001 from=<news@sender.example>
Nov 28 09:12:01 mail01 postfix/cleanup[2102]: 4F1A2B3C4D: message-id=<{MESSAGE_ID}>
Nov 28 09:12:01 mail01 postfix/qmgr[1100]: 4F1A2B3C4D: from=<news@sender.example>, size=4502, nrcpt=2 (queue active)
Nov 28 09:12:02 mail01 postfix/smtpd[2201]: 5A6B7C8D9E: client=localhost[127.0.0.1]
Nov 28 09:12:02 mail01 postfix/cleanup[2102]: 5A6B7C8D9E: message-id=<{MESSAGE_ID}>
Nov 28 09:12:02 mail01 postfix/qmgr[1100]: 5A6B7C8D9E: from=<news@sender.example>, size=5021, nrcpt=2 (queue active)
Nov 28 09:12:02 mail01 postfix/smtp[2301]: 4F1A2B3C4D: to=<zoe@outlook.example>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.75, delays=0.1/0.02/0.01/0.62, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 5A6B7C8D9E)
Nov 28 09:12:02 mail01 postfix/smtp[2301]: 4F1A2B3C4D: to=<ann@example.org>, relay=127.0.0.1[127.0.0.1]:10024, delay=0.75, delays=0.1/0.02/0.01/0.62, dsn=2.0.0, status=sent (250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 5A6B7C8D9E)
Nov 28 09:12:02 mail01 postfix/qmgr[1100]: 4F1A2B3C4D: removed
"
        ),
    );
    let (code, summary) = fbl_run(dir.path());
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["send_log"][0]["entries"], 0, "{summary}");

    append(
        dir.path(),
        "Nov 28 09:12:03 mail01 postfix/smtp[2302]: 5A6B7C8D9E: to=<ann@example.org>, relay=mx1.example.org[192.0.2.25]:25, delay=0.6, delays=0.01/0.01/0.3/0.28, dsn=2.0.0, status=sent (250 2.0.0 OK  1795857123 a1si2345678qkb.12 - gsmtp)
Nov 28 09:12:03 mail01 postfix/smtp[2303]: 5A6B7C8D9E: to=<zoe@outlook.example>, relay=outlook-example.mail.protection.outlook.example[192.0.2.77]:25, delay=0.9, delays=0.01/0.01/0.4/0.48, dsn=5.7.1, status=bounced (host outlook-example.mail.protection.outlook.example[192.0.2.77] said: 550 5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3150). You can also refer your provider to http://mail.live.com/mail/troubleshooting.aspx#errors. (in reply to MAIL FROM command))
Nov 28 09:12:03 mail01 postfix/qmgr[1100]: 5A6B7C8D9E: removed
",
    );
    let (_, summary) = fbl_run(dir.path());
    let imported = &summary["send_log"][0];
    assert_eq!(
        (&imported["added"], &imported["bad_lines"]),
        (&1.into(), &0.into()),
        "{summary}"
    );
    assert_eq!(summary["report"]["block_events_found"], 1, "{summary}");
    assert_eq!(
        rows(
            dir.path(),
            "SELECT recipient || ' ' || message_id || ' ' || sent_at FROM send_log ORDER BY recipient"
        ),
        [format!("ann@example.org {MESSAGE_ID} 2026-11-28T09:12:03Z")]
    );
    assert_eq!(
        rows(
            dir.path(),
            "SELECT code || ' ' || ip || ' ' || recipient FROM block_events"
        ),
        ["S3150 203.0.113.5 zoe@outlook.example"]
    );
}

/// `fbl sendlog import` of a log where amavisd-new discarded messages (a virus, spam, a
/// banned file, spam for one recipient of two, spam on a second filter pass after a hop) and
/// bounced one itself: Postfix logged each `status=sent` to 127.0.0.1:10024, but only the
/// two messages that left are sends. The discarded and bounced ones used to be entries,
/// counted in the complaint rate's denominator.
#[test]
fn messages_amavis_discarded_or_bounced_are_no_sends() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n[send_log]\nretention_days = 5000\n",
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("sendlog/postfix-amavis-discard.log"),
        dir.path().join("mail.log"),
    )
    .unwrap();
    let output = run(fbl(dir.path())
        .env("FBL_NOW", NOW)
        .env("TZ", "UTC")
        .args(["--config", "fbl.toml", "sendlog", "import", "mail.log"])
        .args(["--format", "postfix", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(output.status.code(), Some(0), "{summary}");
    assert_eq!(
        (
            &summary["entries"],
            &summary["added"],
            &summary["bad_lines"]
        ),
        (&2.into(), &2.into(), &0.into()),
        "{summary}"
    );
    assert_eq!(
        rows(
            dir.path(),
            "SELECT recipient || ' ' || sent_at FROM send_log ORDER BY recipient"
        ),
        [
            "ivy@example.org 2026-11-28T11:20:03Z",
            "kim@example.com 2026-11-28T11:30:01Z"
        ]
    );
}
