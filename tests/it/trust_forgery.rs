//! With `[trust]`, a report suppresses only on your server's own DKIM or DMARC pass for the
//! feedback loop's domain. Whoever writes a report can add fields that look like your
//! server's `Authentication-Results`, write a `;` where a parser that ignores quoting would
//! see a new result, or add a second From: none of that may pass.

use crate::support::{fbl, run, stdout};
use std::path::Path;

const CONFIG: &str =
    "[store]\npath = \"fbl.sqlite\"\n\n[trust]\nauthserv_id = \"mx.sender.example\"\n";

/// An ARF report from `staff@hotmail.com` naming `rcpt`, its header starting with `head`.
fn report(head: &str, rcpt: &str) -> Vec<u8> {
    let from = if head.contains("From:") {
        ""
    } else {
        "From: staff@hotmail.com\n"
    };
    format!(
        "{head}\
         {from}\
         To: fbl@example.com\n\
         Date: Tue, 10 Nov 2026 12:00:00 +0000\n\
         Subject: complaint about message\n\
         Message-ID: <r-{rcpt}@hotmail.com>\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\
         \n\
         --b\n\
         Content-Type: text/plain\n\
         \n\
         This is an abuse report.\n\
         --b\n\
         Content-Type: message/feedback-report\n\
         \n\
         Feedback-Type: abuse\n\
         User-Agent: JMRP/1.0\n\
         Version: 1\n\
         Original-Rcpt-To: {rcpt}\n\
         \n\
         --b\n\
         Content-Type: text/rfc822-headers\n\
         \n\
         From: news@example.com\n\
         Message-ID: <m-{rcpt}@example.com>\n\
         Subject: News\n\
         \n\
         --b--\n"
    )
    .into_bytes()
}

/// Ingests each report (file name, bytes); the summary and who was suppressed.
fn ingest(reports: &[(&str, Vec<u8>)]) -> (serde_json::Value, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let dir: &Path = dir.path();
    std::fs::write(dir.join("fbl.toml"), CONFIG).unwrap();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    for (name, bytes) in reports {
        std::fs::write(dir.join("in").join(name), bytes).unwrap();
    }
    let output = run(fbl(dir).args(["--config", "fbl.toml", "ingest", "in", "--json"]));
    let summary = serde_json::from_str(&stdout(&output)).unwrap();
    let output = run(fbl(dir).args(["--config", "fbl.toml", "suppress", "list"]));
    let suppressed = stdout(&output)
        .lines()
        .map(|line| line.split('\t').next().unwrap().to_string())
        .collect();
    (summary, suppressed)
}

/// The quarantine reason of `file`.
fn reason<'a>(summary: &'a serde_json::Value, file: &str) -> &'a str {
    summary["quarantine_reasons"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r.as_str())
        .find(|r| r.starts_with(&format!("in/{file}: ")))
        .unwrap_or_else(|| panic!("{file} is not quarantined: {summary}"))
}

/// A `;` inside a quoted local part is no separator: the result after it is part of the
/// address, not a DKIM pass of your server's.
#[test]
fn a_pass_inside_a_quoted_string_is_not_believed() {
    let (summary, suppressed) = ingest(&[(
        "quoted.eml",
        report(
            "Authentication-Results: mx.sender.example; spf=fail smtp.mailfrom=\"x;dkim=pass header.d=hotmail.com\"@hotmail.com; dkim=none\n",
            "ceo@victim.example",
        ),
    )]);
    assert!(
        reason(&summary, "quoted.eml").contains("no DKIM or DMARC pass for hotmail.com"),
        "{summary}"
    );
    assert!(suppressed.is_empty(), "{suppressed:?}");
}
