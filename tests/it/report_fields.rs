//! Fields of a report read as RFC 5965 and RFC 3834 have them: a Feedback-Type must say a
//! type, a count may carry a comment, and mail a program sent to an unsubscribe address asks
//! for nothing.

use crate::support::{arf, fbl, run};
use fbl::attribution::{Attribution, NoSendLog};
use fbl::config::AttributionConfig;
use fbl::report::Kind;
use fbl::report_parser::analyse;

fn attribution() -> Attribution {
    Attribution::new(&AttributionConfig::default(), None).unwrap()
}

/// An empty Feedback-Type (or one that is only a comment) says no type: whether to suppress
/// would be a guess, so the report is an error (quarantined), not a complaint.
#[test]
fn an_empty_feedback_type_is_an_error_not_a_complaint() {
    for value in ["", "(none)", "  "] {
        let raw = arf(value, "a@example.net", "m@example.com");
        let report = analyse(&raw, &attribution(), &NoSendLog);
        assert_eq!(
            report.error.as_deref(),
            Some("the Feedback-Type field is empty"),
            "Feedback-Type: {value:?}"
        );
    }
    let report = analyse(
        &arf(
            "abuse (user clicked junk)",
            "a@example.net",
            "m@example.com",
        ),
        &attribution(),
        &NoSendLog,
    );
    assert_eq!(report.error, None);
    assert_eq!(report.kind, Kind::Complaint);
}

/// `Incidents: 2 (two)` is a valid count with a comment (RFC 5965 section 3.1 takes RFC
/// 5322's CFWS around it); `several` is still no count.
#[test]
fn an_incidents_count_may_carry_a_comment() {
    let with_incidents = |value: &str| {
        let raw = String::from_utf8(arf("abuse", "a@example.net", "m@example.com")).unwrap();
        raw.replace("Version: 1\n", &format!("Version: 1\nIncidents: {value}\n"))
    };
    let report = analyse(
        with_incidents("2 (two)").as_bytes(),
        &attribution(),
        &NoSendLog,
    );
    assert_eq!(report.error, None);
    assert_eq!(report.incidents, Some(2));
    let report = analyse(
        with_incidents("several").as_bytes(),
        &attribution(),
        &NoSendLog,
    );
    assert!(report.error.is_some());
}

/// Mail sent to an unsubscribe address as an automatic reply (RFC 3834 `auto-replied`) or a
/// read receipt is no request: nobody is unsubscribed. A person's mail is, and so is one a
/// mail client generated for its user.
#[test]
fn mail_a_program_sent_to_an_unsubscribe_address_is_no_request() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n[attribution]\n\
         unsubscribe_addresses = [\"leave@lists.example.com\"]\n",
    )
    .unwrap();
    let message = |extra: &str, content_type: &str, body: &str| {
        format!(
            "From: jane@example.org\nTo: leave@lists.example.com\nSubject: hello\n\
             Date: Tue, 24 Nov 2026 10:00:00 +0000\nMessage-ID: <x@example.org>\n{extra}\
             MIME-Version: 1.0\nContent-Type: {content_type}\n\n{body}"
        )
    };
    let cases = [
        (
            "person.eml",
            message("", "text/plain", "unsubscribe\n"),
            "unsubscribe",
        ),
        (
            "auto-no.eml",
            message(
                "Auto-Submitted: no (a person)\n",
                "text/plain",
                "unsubscribe\n",
            ),
            "unsubscribe",
        ),
        (
            "vacation.eml",
            message(
                "Auto-Submitted: auto-replied\n",
                "text/plain",
                "I am away until Monday.\n",
            ),
            "not_a_report",
        ),
        // A mail client's mailto unsubscribe, sent by a program for its user, may say so.
        (
            "client.eml",
            message(
                "Auto-Submitted: auto-generated\n",
                "text/plain",
                "unsubscribe\n",
            ),
            "unsubscribe",
        ),
        (
            "receipt.eml",
            message(
                "",
                "multipart/report; report-type=disposition-notification; boundary=\"r\"",
                "--r\nContent-Type: text/plain\n\nRead.\n--r\n\
                 Content-Type: message/disposition-notification\n\n\
                 Final-Recipient: rfc822; jane@example.org\n\
                 Disposition: manual-action/MDN-sent-manually; displayed\n--r--\n",
            ),
            "not_a_report",
        ),
    ];
    for (name, raw, kind) in cases {
        std::fs::write(dir.path().join(name), raw).unwrap();
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "parse", name]));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(json["kind"], kind, "{name}: {json}");
    }
}

/// An expiry counts from when fbl takes the report in, not from its Date: an unsubscribe
/// request dated 2015 by its sender's device (or a backlog's old complaint) made an entry
/// that had expired already, and suppressed nobody, while ingest said "1 added".
#[test]
fn an_old_report_does_not_make_an_entry_that_has_expired_already() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n[suppression]\n\
         expire_after_days = { complaint = 730 }\n",
    )
    .unwrap();
    let raw = String::from_utf8(arf("abuse", "old@example.org", "o@example.com"))
        .unwrap()
        .replace(
            "Tue, 10 Nov 2026 12:00:00 +0000",
            "Tue, 10 Nov 2015 12:00:00 +0000",
        );
    std::fs::write(dir.path().join("old.eml"), raw).unwrap();
    let output = run(fbl(dir.path())
        .env("FBL_NOW", "2026-11-20T08:00:00Z")
        .args(["--config", "fbl.toml", "ingest", "old.eml"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path())
        .env("FBL_NOW", "2026-11-20T08:00:00Z")
        .args([
            "--config",
            "fbl.toml",
            "suppress",
            "show",
            "old@example.org",
        ]));
    let shown: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        shown["suppressed"]["expires_at"], "2028-11-19T08:00:00Z",
        "{shown}"
    );
    let output = run(fbl(dir.path())
        .env("FBL_NOW", "2026-11-20T08:00:00Z")
        .args([
            "--config",
            "fbl.toml",
            "suppress",
            "check",
            "old@example.org",
        ]));
    assert_eq!(output.status.code(), Some(0));
}

/// A CFBL-Feedback-ID the send log has for three recipients (a campaign-level id, as RFC
/// 9477's example is) names none of them, and the summary says why: it named the latest.
#[test]
fn a_feedback_id_of_several_recipients_names_nobody_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = crate::support::fixtures().join("reports");
    std::fs::copy(fixtures.join("fbl.toml"), dir.path().join("fbl.toml")).unwrap();
    std::fs::copy(
        fixtures.join("token-secret"),
        dir.path().join("token-secret"),
    )
    .unwrap();
    std::fs::copy(
        fixtures.join("jmrp-2026-cfbl-feedback-id.eml"),
        dir.path().join("complaint.eml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sends.csv"),
        "id,recipient,campaign,sent_at\n\
         48213:july-deals-2026:8c1e0b2d,alice@outlook.example,july,2026-11-20T10:40:01Z\n\
         48213:july-deals-2026:8c1e0b2d,bob@outlook.example,july,2026-11-20T10:40:02Z\n\
         48213:july-deals-2026:8c1e0b2d,carol@outlook.example,july,2026-11-20T10:40:03Z\n",
    )
    .unwrap();
    let fbl_here = || {
        let mut command = fbl(dir.path());
        command
            .env("FBL_NOW", "2026-11-20T12:00:00Z")
            .args(["--config", "fbl.toml"]);
        command
    };
    let output = run(fbl_here().args(["sendlog", "import", "sends.csv", "--format", "csv"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl_here().args(["ingest", "--json", "complaint.eml"]));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["attributed"], 0, "{summary}");
    let reasons = summary["unattributed_reasons"].to_string();
    assert!(reasons.contains("for several recipients"), "{reasons}");
    for address in [
        "alice@outlook.example",
        "bob@outlook.example",
        "carol@outlook.example",
    ] {
        let output = run(fbl_here().args(["suppress", "check", address]));
        assert_eq!(output.status.code(), Some(1), "{address}");
    }
}

/// A not-spam report (RFC 6430) of an address on the list leaves it there (one user's "not
/// spam" is no consent) and says so, for a person to decide; it was silent.
#[test]
fn a_not_spam_report_of_a_listed_address_is_said() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("complaint.eml"),
        arf("abuse", "jo@example.org", "m1@example.com"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("not-spam.eml"),
        arf("not-spam", "jo@example.org", "m2@example.com"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("other.eml"),
        arf("not-spam", "al@example.org", "m3@example.com"),
    )
    .unwrap();
    let ingest = |name: &str| {
        let output = run(fbl(dir.path()).args(["--db", "fbl.sqlite", "ingest", name]));
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
        )
    };
    assert_eq!(ingest("complaint.eml").0, Some(0));
    let (code, text) = ingest("other.eml");
    assert_eq!(code, Some(0), "not listed: nothing to say: {text}");
    let (code, text) = ingest("not-spam.eml");
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("not spam, says a report, of an address on the list")
            && text.contains("jo@example.org (report 3)"),
        "{text}"
    );
    let output =
        run(fbl(dir.path()).args(["--db", "fbl.sqlite", "suppress", "check", "jo@example.org"]));
    assert_eq!(output.status.code(), Some(0), "still on the list");
}
