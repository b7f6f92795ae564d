//! Hostile input: each shape has a sane outcome, never a crash, a hang or unbounded memory.

use crate::support::{arf, fbl, run, stdout};
use fbl::attribution::{Attribution, NoSendLog};
use fbl::config::AttributionConfig;
use fbl::report::Kind;
use fbl::report_parser::analyse;

fn attribution() -> Attribution {
    Attribution::new(&AttributionConfig::default(), None).unwrap()
}

#[test]
fn nul_bytes_in_headers_and_body_are_read_around() {
    let mut raw = arf("abuse", "nul@example.org", "n@example.com");
    raw.splice(0..0, b"X-Junk: a\0b\0\r\n".iter().copied());
    raw.extend_from_slice(b"\0\0\0trailing");
    let report = analyse(&raw, &attribution(), &NoSendLog);
    assert_eq!(report.kind, Kind::Complaint);
    assert_eq!(report.recipient_addresses(), ["nul@example.org"]);
}

#[test]
fn deeply_nested_multiparts_are_refused_with_a_reason() {
    let mut raw = String::from("Content-Type: multipart/mixed; boundary=b0\n\n");
    for i in 0..20_000 {
        raw.push_str(&format!(
            "--b{i}\nContent-Type: multipart/mixed; boundary=b{}\n\n",
            i + 1
        ));
    }
    let report = analyse(raw.as_bytes(), &attribution(), &NoSendLog);
    assert!(
        report.error.as_deref().unwrap_or("").contains("MIME parts"),
        "{:?}",
        report.error
    );
}

#[test]
fn a_100000_line_header_block_is_bounded() {
    let mut raw = String::new();
    for i in 0..100_000 {
        raw.push_str(&format!("X-Filler-{i}: {i}\n"));
    }
    raw.push_str("Subject: hi\n\nbody\n");
    let started = std::time::Instant::now();
    let report = analyse(raw.as_bytes(), &attribution(), &NoSendLog);
    assert_eq!(report.kind, Kind::NotAReport);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
}

/// RFC 2231 parameter sections by the thousand, in the report's own Content-Type or in the
/// attached message's: mail-parser joins them with a search per section (80,000 took half a
/// minute, a 20 MB message longer than any cron interval, holding the store's lock). Such a
/// message is quarantined unread, with its reason; a complaint beside it is stored.
#[test]
fn a_content_type_with_thousands_of_parameter_sections_is_quarantined_unread() {
    let dir = tempfile::tempdir().unwrap();
    let sections: String = (0..2_000).map(|n| format!(";\n p{n}*{n}=\"x\"")).collect();
    let report = arf("abuse", "a@example.org", "m1@example.com");
    let text = String::from_utf8(report).unwrap();
    let outer = text.replacen(
        "Content-Type: multipart/report;",
        &format!("Content-Type: multipart/report{sections};"),
        1,
    );
    assert_ne!(outer, text, "the fixture's Content-Type moved");
    let inner = text.replacen(
        "\nMessage-ID:",
        &format!("\nContent-Type: text/plain{sections}\nMessage-ID:"),
        1,
    );
    assert_ne!(inner, text, "the attached Message-ID moved");
    std::fs::create_dir(dir.path().join("in")).unwrap();
    std::fs::write(dir.path().join("in/outer.eml"), outer).unwrap();
    std::fs::write(dir.path().join("in/inner.eml"), inner).unwrap();
    std::fs::write(
        dir.path().join("in/fine.eml"),
        arf("abuse", "b@example.org", "m2@example.com"),
    )
    .unwrap();
    let output = run(fbl(dir.path()).args(["ingest", "in", "--json"]));
    assert_eq!(output.status.code(), Some(1));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["quarantined"], 2, "{summary}");
    assert_eq!(summary["stored"], 1, "{summary}");
    let reasons = summary["quarantine_reasons"].to_string();
    assert_eq!(
        reasons.matches("RFC 2231 parameter sections").count(),
        2,
        "{reasons}"
    );
}

/// The same, in a report forwarded as an `.eml` attachment, base64-encoded: fbl decodes and
/// parses such an attachment itself, after the outer message's scan, so it is scanned once
/// decoded and not parsed.
#[test]
fn an_attached_report_with_thousands_of_parameter_sections_is_not_parsed() {
    use base64::Engine;
    let sections: String = (0..2_000).map(|n| format!(";\n p{n}*{n}=\"x\"")).collect();
    let report = String::from_utf8(arf("abuse", "a@example.org", "m1@example.com")).unwrap();
    let hostile = report.replacen(
        "Content-Type: multipart/report;",
        &format!("Content-Type: multipart/report{sections};"),
        1,
    );
    let wrap = |attached: &str| {
        let encoded = base64::engine::general_purpose::STANDARD.encode(attached);
        let lines: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        format!(
            "From: Jane <jane@example.com>\nTo: abuse@example.net\nSubject: Fwd: report\n\
             MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"f\"\n\n--f\n\
             Content-Type: text/plain\n\nSee attached.\n--f\n\
             Content-Type: application/octet-stream; name=\"report.eml\"\n\
             Content-Disposition: attachment; filename=\"report.eml\"\n\
             Content-Transfer-Encoding: base64\n\n{}\n--f--\n",
            lines.join("\n")
        )
    };
    // The well-formed report, so attached, is read: the shape is one fbl reads.
    let fine = analyse(wrap(&report).as_bytes(), &attribution(), &NoSendLog);
    assert_eq!(fine.kind, Kind::Complaint, "{:?}", fine.error);
    let refused = analyse(wrap(&hostile).as_bytes(), &attribution(), &NoSendLog);
    assert_ne!(refused.kind, Kind::Complaint);
}

#[test]
fn a_report_forwarded_inside_another_message_is_found() {
    let inner = arf("abuse", "inner@example.org", "i@example.com");
    let mut raw = b"From: abuse-desk@example.com\nTo: fbl@example.com\nSubject: Fwd: report\n\
                    MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"fw\"\n\n\
                    --fw\nContent-Type: text/plain\n\nForwarding this report.\n\
                    --fw\nContent-Type: message/rfc822\n\n"
        .to_vec();
    raw.extend_from_slice(&inner);
    raw.extend_from_slice(b"\n--fw--\n");
    let report = analyse(&raw, &attribution(), &NoSendLog);
    assert_eq!(report.kind, Kind::Complaint);
    assert_eq!(report.recipient_addresses(), ["inner@example.org"]);
}

#[test]
fn non_utf8_and_encoded_word_headers_decode() {
    let raw = arf("abuse", "enc@example.org", "e@example.com");
    let text = String::from_utf8(raw)
        .unwrap()
        .replace("Subject: News\n", "Subject: =?ISO-8859-1?Q?Caf=E9_news?=\n");
    let report = analyse(text.as_bytes(), &attribution(), &NoSendLog);
    assert_eq!(report.subject.as_deref(), Some("Café news"));
}

#[test]
fn an_oversized_file_is_quarantined_with_its_head_only() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[limits]\nmax_message_bytes = 100000\n",
    )
    .unwrap();
    let mut big = arf("abuse", "big@example.org", "b@example.com");
    big.extend(std::iter::repeat_n(b'x', 500_000));
    std::fs::write(dir.path().join("big.eml"), &big).unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "ingest", "big.eml", "--json"]));
    assert_eq!(output.status.code(), Some(1));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["quarantined"], 1);
    assert!(
        summary["quarantine_reasons"]
            .to_string()
            .contains("max_message_bytes")
    );
}

/// A PDF fed to `fbl ingest` by mistake, and a report whose part 2 says both `abuse` and
/// `not-spam`: each is quarantined with its bytes and a reason, and the run exits 1.
#[test]
fn a_file_that_is_not_an_email_and_a_report_of_two_types_are_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";
    std::fs::write(dir.path().join("scan.pdf"), pdf).unwrap();
    std::fs::write(
        dir.path().join("two.eml"),
        arf(
            "abuse\nFeedback-Type: not-spam",
            "two@example.org",
            "t@example.com",
        ),
    )
    .unwrap();
    let output = run(fbl(dir.path()).args(["ingest", "scan.pdf", "two.eml", "--json"]));
    assert_eq!(output.status.code(), Some(1));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["quarantined"], 2);
    assert_eq!(summary["stored"], 0);
    let reasons = summary["quarantine_reasons"].to_string();
    assert!(
        reasons.contains("not an email message") && reasons.contains("a PDF document"),
        "{reasons}"
    );
    assert!(
        reasons.contains("two Feedback-Type fields: abuse and not-spam"),
        "{reasons}"
    );
    let output = run(fbl(dir.path()).args(["quarantine", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    let id = list
        .iter()
        .find(|q| q["reason"].to_string().contains("PDF"))
        .map(|q| q["id"].to_string())
        .unwrap();
    let output = run(fbl(dir.path()).args(["quarantine", "show", &id, "--raw"]));
    assert_eq!(output.stdout, pdf);
    let output = run(fbl(dir.path()).args(["suppress", "check", "two@example.org"]));
    assert_eq!(output.status.code(), Some(1));
}

/// A short boundary that also occurs inside a part (here in an IDN's A-label, `xn--b...`)
/// is no delimiter there (RFC 2046 5.1.1: delimiters start a line). The MIME layer took it
/// for one and cut the complainant to `user@xn`.
#[test]
fn a_short_boundary_inside_a_field_does_not_cut_it() {
    let raw = "From: staff@hotmail.com\n\
        To: fbl@sender.example\n\
        Subject: complaint\n\
        MIME-Version: 1.0\n\
        Content-Type: multipart/report; report-type=feedback-report; boundary=b\n\
        \n\
        --b\n\
        Content-Type: text/plain\n\
        \n\
        A complaint.\n\
        --b\n\
        Content-Type: message/feedback-report\n\
        \n\
        Feedback-Type: abuse\n\
        User-Agent: Test/1.0\n\
        Version: 1\n\
        Original-Rcpt-To: user@xn--bcher-kva.de\n\
        \n\
        --b\n\
        Content-Type: text/rfc822-headers\n\
        \n\
        From: news@sender.example\n\
        To: user@xn--bcher-kva.de\n\
        Message-ID: <m1@sender.example>\n\
        \n\
        --b--\n";
    let report = analyse(raw.as_bytes(), &attribution(), &NoSendLog);
    assert_eq!(report.error, None);
    assert_eq!(report.kind, Kind::Complaint);
    assert_eq!(report.recipient_addresses(), ["user@bücher.de"]);
    assert_eq!(report.message_id.as_deref(), Some("m1@sender.example"));
}

/// Messages nested ten deep are refused for their depth, not for a part count they do not
/// have.
#[test]
fn deeply_nested_messages_are_refused_for_their_depth() {
    let mut raw = arf("abuse", "deep@example.org", "d@example.com");
    for i in 0..10 {
        let mut outer = format!(
            "From: fwd{i}@example.net\r\nSubject: Fwd\r\nMIME-Version: 1.0\r\n\
             Content-Type: multipart/mixed; boundary=\"=_nest{i}\"\r\n\r\n\
             --=_nest{i}\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n\
             --=_nest{i}\r\nContent-Type: message/rfc822\r\n\r\n"
        )
        .into_bytes();
        outer.extend_from_slice(&raw);
        outer.extend_from_slice(format!("\r\n--=_nest{i}--\r\n").as_bytes());
        raw = outer;
    }
    let report = analyse(&raw, &attribution(), &NoSendLog);
    let error = report.error.unwrap_or_default();
    assert!(error.contains("nested more than 8 deep"), "{error}");
}

/// A false delimiter (`x--b--` inside the first part) ended the first read of the structure
/// early: the part limit was checked on what it saw (two parts), and the copy read with the
/// boundary renamed, holding 1,500 parts, was taken without a check.
#[test]
fn a_false_delimiter_does_not_hide_parts_from_the_part_limit() {
    let mut raw = String::from(
        "From: a@example.com\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\nx--b--\n",
    );
    for _ in 0..1500 {
        raw.push_str("--b\nContent-Type: text/plain\n\npart\n");
    }
    raw.push_str("--b--\n");
    let report = analyse(raw.as_bytes(), &attribution(), &NoSendLog);
    let error = report.error.unwrap_or_default();
    assert!(error.contains("more than 1000 MIME parts"), "{error}");
}
