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

/// Your server's field says no signature; one the sender added below it (as an MTA that
/// does not delete incoming fields of its authserv-id lets through) says pass.
#[test]
fn a_pass_added_under_your_server_s_result_is_not_believed() {
    let (summary, suppressed) = ingest(&[
        (
            "forged.eml",
            report(
                "Authentication-Results: mx.sender.example; spf=softfail smtp.mailfrom=attacker.example; dkim=none\n\
                 Received: from evil.attacker.example (evil.attacker.example [203.0.113.66]) by mx.sender.example with ESMTP; Mon, 9 Nov 2026 11:00:00 +0000\n\
                 Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com header.s=s1\n",
                "ceo@victim.example",
            ),
        ),
        (
            "failed.eml",
            report(
                "Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com header.s=s1\n\
                 Authentication-Results: mx.sender.example; dkim=fail (bad signature) header.d=hotmail.com\n",
                "cfo@victim.example",
            ),
        ),
    ]);
    assert_eq!(summary["untrusted"], 2, "{summary}");
    for file in ["forged.eml", "failed.eml"] {
        let why = reason(&summary, file);
        assert!(
            why.contains("untrusted_reporter: Authentication-Results fields of mx.sender.example disagree on DKIM for hotmail.com")
                && why.contains("remove Authentication-Results fields with the authserv-id mx.sender.example from incoming mail (RFC 8601 section 5)"),
            "{why}"
        );
    }
    assert!(suppressed.is_empty(), "{suppressed:?}");
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

/// Two From fields (RFC 5322 allows one): whichever is read first, the report is not trusted.
#[test]
fn a_report_with_two_from_fields_is_not_trusted() {
    let signed = "Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com header.s=s1; dmarc=pass header.from=hotmail.com\n";
    let (summary, suppressed) = ingest(&[
        (
            "two.eml",
            report(
                &format!("{signed}From: staff@hotmail.com\nFrom: attacker@hotmail.com\n"),
                "ceo@victim.example",
            ),
        ),
        (
            "two-rev.eml",
            report(
                &format!("{signed}From: attacker@hotmail.com\nFrom: staff@hotmail.com\n"),
                "cfo@victim.example",
            ),
        ),
        (
            "list.eml",
            report(
                &format!("{signed}From: staff@hotmail.com, attacker@hotmail.com\n"),
                "cto@victim.example",
            ),
        ),
    ]);
    assert_eq!(summary["untrusted"], 3, "{summary}");
    for file in ["two.eml", "two-rev.eml"] {
        let why = reason(&summary, file);
        assert!(
            why.contains("the report has 2 From fields"),
            "{file}: {why}"
        );
    }
    let why = reason(&summary, "list.eml");
    assert!(why.contains("2 addresses"), "{why}");
    assert!(suppressed.is_empty(), "{suppressed:?}");
}

/// What MTAs write: SPF, DKIM and DMARC milters each with a field of their own, comments with
/// `;` in them, a second signature failing for another domain, two verifiers that agree, a
/// DMARC pass on an aligned SPF pass. All trusted.
#[test]
fn results_your_server_wrote_in_several_fields_are_trusted() {
    let (summary, suppressed) = ingest(&[
        (
            "milters.eml",
            report(
                "Authentication-Results: mx.sender.example; dmarc=pass (p=reject dis=none) header.from=hotmail.com\n\
                 Authentication-Results: mx.sender.example;\n\tdkim=pass (2048-bit key; unprotected) header.d=hotmail.com header.i=@hotmail.com header.b=\"AbCdEfGh\";\n\tdkim=fail reason=\"signature verification failed\" (1024-bit key; unprotected) header.d=esp.example header.i=@esp.example header.b=\"XyZ\"\n\
                 Authentication-Results: mx.sender.example; spf=pass (mailfrom) smtp.mailfrom=hotmail.com (client-ip=192.0.2.9; helo=mail.hotmail.com; envelope-from=staff@hotmail.com; receiver=<UNKNOWN>)\n",
                "one@example.org",
            ),
        ),
        (
            "two-verifiers.eml",
            report(
                "Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com header.s=s1 header.b=AbC; dmarc=pass (policy=reject) header.from=hotmail.com\n\
                 Authentication-Results: mx.sender.example 1; dkim=pass (2048-bit key) header.d=hotmail.com header.b=\"AbCd\"\n",
                "two@example.org",
            ),
        ),
        (
            "spf-aligned.eml",
            report(
                "Authentication-Results: mx.sender.example; spf=pass smtp.mailfrom=bounce@hotmail.com; dkim=none\n\
                 Authentication-Results: mx.sender.example; dmarc=pass header.from=hotmail.com\n",
                "three@example.org",
            ),
        ),
    ]);
    assert_eq!(summary["stored"], 3, "{summary}");
    assert_eq!(summary["untrusted"], 0, "{summary}");
    assert_eq!(
        suppressed,
        ["one@example.org", "three@example.org", "two@example.org"]
    );
}

/// Forms of your authserv-id that README's Postfix regexp
/// (`/^Authentication-Results:[[:space:]]*mx\.sender\.example[[:space:];]/`) does not remove:
/// the sender wrote them, so a pass in them is not believed, even where your server writes no
/// DKIM result of its own.
#[test]
fn a_field_your_mta_does_not_remove_is_not_believed() {
    let pass = "dkim=pass header.d=hotmail.com header.s=s1";
    let forms = [
        (
            "comment.eml",
            format!("Authentication-Results: (x) mx.sender.example; {pass}\n"),
        ),
        (
            "quoted.eml",
            format!("Authentication-Results: \"mx.sender.example\"; {pass}\n"),
        ),
        (
            "after.eml",
            format!("Authentication-Results: mx.sender.example(x); {pass}\n"),
        ),
        (
            "colon.eml",
            format!("Authentication-Results : mx.sender.example; {pass}\n"),
        ),
    ];
    let mut reports: Vec<(&str, Vec<u8>)> = forms
        .iter()
        .map(|(name, head)| (*name, report(head, &format!("victim-{name}@example.com"))))
        .collect();
    reports.push((
        "plain.eml",
        report(
            &format!("Authentication-Results: mx.sender.example; {pass}\n"),
            "complainer@example.com",
        ),
    ));
    let (summary, suppressed) = ingest(&reports);
    assert_eq!(summary["untrusted"], 4, "{summary}");
    for (file, _) in &forms {
        let why = reason(&summary, file);
        assert!(
            why.starts_with(&format!(
                "in/{file}: untrusted_reporter: an Authentication-Results field names mx.sender.example written with "
            )) && why.ends_with(
                "which your MTA's filter does not remove, so the sender may have written it; only \
                 `Authentication-Results: mx.sender.example;` (white space alone between) is believed"
            ),
            "{why}"
        );
    }
    assert_eq!(suppressed, ["complainer@example.com"]);
}
