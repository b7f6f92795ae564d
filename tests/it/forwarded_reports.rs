//! Through `fbl ingest`: legacy JMRP and Amazon SES complaints that a person or an abuse desk
//! forwarded to the feedback mailbox, in every way mail clients forward them, and the signed
//! token of a complaint's `List-Unsubscribe` mailto address.

use crate::support::{fbl, fixtures, run, stdout};
use std::path::Path;

/// Copies `fixtures/reports/NAME` into `dir/in/`, with `prefix` (header lines) before it.
fn put(dir: &Path, name: &str, prefix: &str) {
    let raw = std::fs::read(fixtures().join("reports").join(name)).unwrap();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    std::fs::write(
        dir.join("in").join(name),
        [prefix.as_bytes(), &raw].concat(),
    )
    .unwrap();
}

/// `fbl ingest in --json` with `fbl.toml`: its exit code, summary and everything it wrote.
fn ingest(dir: &Path) -> (Option<i32>, serde_json::Value, String) {
    let output = run(fbl(dir).args(["--config", "fbl.toml", "ingest", "in", "--json"]));
    let all = format!(
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    (
        output.status.code(),
        serde_json::from_str(&stdout(&output)).unwrap(),
        all,
    )
}

fn is_suppressed(dir: &Path, address: &str) -> bool {
    let output = run(fbl(dir).args(["--config", "fbl.toml", "suppress", "check", address]));
    output.status.code() == Some(0)
}

/// The stored report that suppressed `address`, as `fbl store report` shows it.
fn evidence(dir: &Path, address: &str) -> serde_json::Value {
    let output = run(fbl(dir).args(["--config", "fbl.toml", "suppress", "show", address]));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let id = shown["evidence_report_ids"][0]
        .as_i64()
        .unwrap_or_else(|| panic!("no evidence for {address}: {shown}"))
        .to_string();
    let output = run(fbl(dir).args(["--config", "fbl.toml", "store", "report", &id]));
    assert_eq!(output.status.code(), Some(0));
    serde_json::from_str(&stdout(&output)).unwrap()
}

/// A colleague's Thunderbird or Outlook forward of a legacy JMRP report, a Gmail forward of
/// an Amazon SES complaint, and an abuse desk's inline one: each is read as the report it
/// carries, and suppresses the complainant that report names; the person who forwarded it
/// is nobody's complainant.
#[test]
fn a_forwarded_legacy_jmrp_or_ses_complaint_suppresses_its_complainant() {
    for (fixture, reporter, format, complainant, via, forwarder) in [
        (
            "forwarded-jmrp-legacy-thunderbird-message-rfc822.eml",
            "microsoft",
            "jmrp_legacy",
            "lucy.grant@hotmail.example",
            "jmrp_original_recipient",
            "marta.lindqvist@example.com",
        ),
        (
            "forwarded-jmrp-legacy-outlook-octet-stream-base64.eml",
            "microsoft",
            "jmrp_legacy",
            "marco.rossi@outlook.example",
            "jmrp_original_recipient",
            "noc@example.com",
        ),
        (
            "forwarded-ses-gmail-message-rfc822.eml",
            "amazon_ses",
            "forwarded",
            "carla.mendes@example.net",
            "to",
            "priya.natarajan@example.com",
        ),
        (
            "forwarded-ses-message-rfc822-inline.eml",
            "amazon_ses",
            "forwarded",
            "carla.mendes@example.net",
            "to",
            "abuse@example.com",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fbl.toml"), "").unwrap();
        put(dir.path(), fixture, "");
        let (code, summary, _) = ingest(dir.path());
        assert_eq!(code, Some(0), "{fixture}: {summary}");
        assert_eq!(summary["stored"], 1, "{fixture}: {summary}");
        assert_eq!(summary["by_kind"]["complaint"], 1, "{fixture}: {summary}");
        assert_eq!(summary["by_reporter"][reporter], 1, "{fixture}: {summary}");
        assert!(is_suppressed(dir.path(), complainant), "{fixture}");
        assert!(!is_suppressed(dir.path(), forwarder), "{fixture}");
        let report = evidence(dir.path(), complainant);
        assert_eq!(report["kind"], "complaint", "{fixture}: {report}");
        assert_eq!(report["report"]["format"], format, "{fixture}: {report}");
        assert_eq!(
            report["complainants"][0]["address"], complainant,
            "{fixture}: {report}"
        );
        assert_eq!(report["complainants"][0]["via"], via, "{fixture}: {report}");
    }
}

/// With `[trust]`, a forwarded legacy JMRP report is judged as a forwarded ARF report is:
/// its reporter is the one its own From names, but the message fbl received comes from the
/// person who forwarded it, so it may suppress only when that person's domain is one of
/// `extra_domains` with a DKIM pass your server recorded; otherwise it is quarantined.
#[test]
fn with_trust_a_forwarded_legacy_jmrp_report_is_judged_as_a_forwarded_arf_report() {
    let signed = "Authentication-Results: mx1.example.com; dkim=pass header.d=example.com header.s=s1;\n \
                  dmarc=pass header.from=example.com\n";
    for (extra_domains, trusted) in [("", false), ("extra_domains = [\"example.com\"]\n", true)] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fbl.toml"),
            format!("[trust]\nauthserv_id = \"mx1.example.com\"\n{extra_domains}"),
        )
        .unwrap();
        put(
            dir.path(),
            "forwarded-jmrp-legacy-thunderbird-message-rfc822.eml",
            signed,
        );
        put(
            dir.path(),
            "forwarded-as-attachment-octet-stream-base64.eml",
            signed,
        );
        let (code, summary, _) = ingest(dir.path());
        for complainant in ["lucy.grant@hotmail.example", "emma.wilson@yahoo.example"] {
            assert_eq!(
                is_suppressed(dir.path(), complainant),
                trusted,
                "{complainant} ({extra_domains}): {summary}"
            );
        }
        if trusted {
            assert_eq!(
                (code, &summary["stored"]),
                (Some(0), &2.into()),
                "{summary}"
            );
        } else {
            assert_eq!(code, Some(1), "{summary}");
            assert_eq!(summary["untrusted"], 2, "{summary}");
            let reasons = summary["quarantine_reasons"].to_string();
            assert!(
                reasons.contains("untrusted_reporter: From domain example.com"),
                "{reasons}"
            );
        }
    }
}

/// A complaint whose attached original names nobody but carries
/// `List-Unsubscribe: <mailto:unsubscribe+TOKEN@lists.example.com>`: the signed token names
/// the complainant (via `token`), as the https link's does; a forged one names nobody, and the
/// report says so. The token secret is written nowhere.
#[test]
fn a_list_unsubscribe_mailto_token_names_the_complainant_and_a_forged_one_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "fbl-test-secret";
    std::fs::write(
        dir.path().join("fbl.toml"),
        format!(
            "[attribution]\nunsubscribe_addresses = [\"unsubscribe+{{token}}@lists.example.com\"]\n\
             token = {{ secret = \"{secret}\" }}\n"
        ),
    )
    .unwrap();
    put(
        dir.path(),
        "arf-list-unsubscribe-mailto-signed-token.eml",
        "",
    );
    put(
        dir.path(),
        "arf-list-unsubscribe-mailto-token-forged.eml",
        "",
    );
    let (code, summary, mut written) = ingest(dir.path());
    assert_eq!(
        code,
        Some(1),
        "the forged one stays unattributed: {summary}"
    );
    assert_eq!(summary["stored"], 2, "{summary}");
    assert_eq!(summary["attributed"], 1, "{summary}");
    assert_eq!(summary["unattributed"], 1, "{summary}");

    assert!(is_suppressed(dir.path(), "rosa.klein@example.org"));
    assert!(!is_suppressed(dir.path(), "victim@example.org"));
    let report = evidence(dir.path(), "rosa.klein@example.org");
    assert_eq!(report["complainants"][0]["via"], "token", "{report}");

    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "store", "unattributed"]));
    let listed = stdout(&output);
    assert!(
        listed.contains("mailto:unsubscribe+dmljdGltQGV4YW1wbGUub3Jn")
            && listed.contains("does not verify"),
        "{listed}"
    );
    written.push_str(&listed);
    written.push_str(&String::from_utf8_lossy(&output.stderr));
    assert!(
        !written.contains(secret),
        "the secret was written: {written}"
    );
}

/// A complaint whose attached `List-Unsubscribe` mailto address carries an opaque `{id}` of
/// an `unsubscribe_addresses` template: the send log resolves the id (via `send_log`), as it
/// resolves the same id in a VERP Return-Path.
#[test]
fn a_list_unsubscribe_mailto_id_is_resolved_through_the_send_log() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[attribution]\nunsubscribe_addresses = [\"leave-{id}@lists.example.com\"]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("sends.csv"),
        "id,recipient,sent_at\nmt7d21,nadia.haddad@example.org,2026-11-10T10:25:00Z\n",
    )
    .unwrap();
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "sendlog",
        "import",
        "sends.csv",
        "--format",
        "csv",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let raw = std::fs::read_to_string(
        fixtures().join("reports/arf-list-unsubscribe-mailto-signed-token.eml"),
    )
    .unwrap();
    let token_address = "unsubscribe+cm9zYS5rbGVpbkBleGFtcGxlLm9yZw.Jc17k8UzPBPsd5YrYbOOUg";
    assert!(raw.contains(token_address));
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    std::fs::write(
        dir.path().join("in/id.eml"),
        raw.replace(token_address, "leave-mt7d21"),
    )
    .unwrap();
    let (code, summary, _) = ingest(dir.path());
    assert_eq!(code, Some(0), "{summary}");
    assert!(is_suppressed(dir.path(), "nadia.haddad@example.org"));
    let report = evidence(dir.path(), "nadia.haddad@example.org");
    let complainants = report["complainants"].to_string();
    assert!(
        complainants.contains("\"via\":\"send_log\"")
            && complainants.contains("nadia.haddad@example.org"),
        "{report}"
    );
}

/// A person selects three reports and forwards them as attachments in one message: fbl
/// reads one report a message, so it acts on none of them and quarantines the forward with
/// a reason (it used to read the first and drop the other two without a word). The same
/// report attached twice is one report.
#[test]
fn a_forward_of_several_reports_is_quarantined_not_read_in_part() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixtures().join("reports").join("fbl.toml"),
        dir.path().join("fbl.toml"),
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("reports").join("token-secret"),
        dir.path().join("token-secret"),
    )
    .unwrap();
    let attach = |names: &[&str]| {
        let mut raw = String::from(
            "From: colleague@sender.example\nTo: fbl@sender.example\nSubject: Fwd: reports\n\
             Date: Tue, 24 Nov 2026 10:00:00 +0000\nMIME-Version: 1.0\n\
             Content-Type: multipart/mixed; boundary=\"=_fwd_7c1a\"\n\n\
             --=_fwd_7c1a\nContent-Type: text/plain\n\nThree complaints, see attached.\n",
        );
        for name in names {
            let report = std::fs::read_to_string(fixtures().join("reports").join(name)).unwrap();
            raw.push_str(&format!(
                "--=_fwd_7c1a\nContent-Type: message/rfc822\n\
                 Content-Disposition: attachment; filename=\"{name}\"\n\n{report}\n"
            ));
        }
        raw.push_str("--=_fwd_7c1a--\n");
        raw
    };
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    std::fs::write(
        dir.path().join("in/three.eml"),
        attach(&[
            "arf-rfc5965-every-field.eml",
            "mailru-arf-address-in-clear.eml",
            "jmrp-legacy-2016.eml",
        ]),
    )
    .unwrap();
    let (code, summary, all) = ingest(dir.path());
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(summary["quarantined"], 1, "{summary}");
    assert!(all.contains("forwards 3 reports"), "{all}");
    assert!(!is_suppressed(dir.path(), "jane.doe@example.net"));
    assert!(!is_suppressed(dir.path(), "lucy.grant@hotmail.example"));

    // One report attached twice: read as that report.
    std::fs::remove_file(dir.path().join("in/three.eml")).unwrap();
    std::fs::write(
        dir.path().join("in/twice.eml"),
        attach(&["arf-rfc5965-every-field.eml", "arf-rfc5965-every-field.eml"]),
    )
    .unwrap();
    let (code, summary, all) = ingest(dir.path());
    assert_eq!(summary["quarantined"], 0, "{summary} {all}");
    assert_eq!(code, Some(0), "{all}");
    assert!(is_suppressed(dir.path(), "jane.doe@example.net"));
}

/// A helpdesk forwarding a colleague's forward is read through to the report, which
/// suppresses its complainant. A report pasted into a forward's text (an HTML-only forward's
/// too), or attached as a `.txt` file, cannot be read reliably: it is quarantined with the reason, not filed as
/// "not a report" (where a real complaint used to disappear). Ordinary mail that talks
/// about reports is still not a report.
#[test]
fn a_forward_of_a_forward_is_read_and_a_pasted_report_quarantined() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fbl.toml"), "").unwrap();
    put(dir.path(), "forwarded-forward-of-forward-helpdesk.eml", "");
    let (code, summary, all) = ingest(dir.path());
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(summary["by_kind"]["complaint"], 1, "{summary}");
    assert!(is_suppressed(dir.path(), "jane.doe@example.net"));
    assert!(!is_suppressed(dir.path(), "helpdesk@example.com"));
    assert!(!is_suppressed(dir.path(), "alice@example.com"));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fbl.toml"), "").unwrap();
    for name in [
        "forwarded-inline-in-text-body.eml",
        "forwarded-inline-in-html-body.eml",
        "forwarded-as-text-attachment-report-txt.eml",
        "ordinary-mail-mentioning-complaints.eml",
    ] {
        put(dir.path(), name, "");
    }
    let (code, summary, all) = ingest(dir.path());
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(summary["quarantined"], 3, "{summary}");
    assert_eq!(summary["by_kind"]["not_a_report"], 1, "{summary}");
    let reasons = summary["quarantine_reasons"].to_string();
    for said in [
        "a forwarded feedback report that fbl cannot read reliably (an ARF report in the text of the message): forward it as an attachment (message/rfc822)",
        "(an ARF report in the attached file \\\"report.txt\\\")",
    ] {
        assert!(reasons.contains(said), "{said}: {reasons}");
    }
    assert!(
        reasons.contains("forwarded-inline-in-html-body.eml"),
        "{reasons}"
    );
    assert!(!reasons.contains("ordinary-mail"), "{reasons}");
    assert!(!is_suppressed(dir.path(), "jane.doe@example.net"));
}

/// A ticket system passes reports on as mail a program sent (`Auto-Submitted:
/// auto-replied`, `auto-generated` with `X-Auto-Response-Suppress`, a no-reply sender, an
/// automatic-reply subject): the report it carries, attached or a forward deep, used to be
/// dropped as an automatic reply, filed as not a report, and its complainant never
/// suppressed. It is read as the report; one pasted into its text is quarantined.
#[test]
fn a_report_forwarded_by_a_ticket_system_marked_automatic_is_read() {
    for (fixture, prefix, complainant) in [
        (
            "forwarded-forward-of-forward-helpdesk.eml",
            "Auto-Submitted: auto-replied\n",
            "jane.doe@example.net",
        ),
        (
            "forwarded-jmrp-legacy-thunderbird-message-rfc822.eml",
            "Auto-Submitted: auto-generated\nX-Auto-Response-Suppress: All\n",
            "lucy.grant@hotmail.example",
        ),
        (
            "forwarded-ses-message-rfc822-inline.eml",
            "Auto-Submitted: auto-replied (ticket 4711)\nPrecedence: auto_reply\n\
             X-Autoreply: yes\n",
            "carla.mendes@example.net",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fbl.toml"), "").unwrap();
        put(dir.path(), fixture, prefix);
        let (code, summary, all) = ingest(dir.path());
        assert_eq!(code, Some(0), "{fixture}: {all}");
        assert_eq!(summary["by_kind"]["complaint"], 1, "{fixture}: {summary}");
        assert!(is_suppressed(dir.path(), complainant), "{fixture}");
    }

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fbl.toml"), "").unwrap();
    put(
        dir.path(),
        "forwarded-inline-in-text-body.eml",
        "Auto-Submitted: auto-replied\n",
    );
    let (code, summary, all) = ingest(dir.path());
    assert_eq!(code, Some(1), "{all}");
    assert_eq!(summary["quarantined"], 1, "{summary}");
}

/// An out-of-office reply that attaches the report it answers (`message/rfc822`, as sent).
pub(crate) fn out_of_office_attaching(report: &[u8]) -> Vec<u8> {
    [
        b"Return-Path: <>\n\
          From: Ruth Becker <ruth.becker@example.com>\n\
          To: fbl@example.com\n\
          Subject: Automatic reply: FW: Your July deals are here\n\
          Date: Tue, 10 Mar 2026 09:12:00 +0000\n\
          Message-ID: <auto.5e1f@example.com>\n\
          Auto-Submitted: auto-replied\n\
          MIME-Version: 1.0\n\
          Content-Type: multipart/mixed; boundary=\"=_ooo_41\"\n\n\
          --=_ooo_41\n\
          Content-Type: text/plain\n\n\
          I am out of the office until 28 March.\n\n\
          --=_ooo_41\n\
          Content-Type: message/rfc822\n\n"
            .as_slice(),
        report,
        b"\n--=_ooo_41--\n",
    ]
    .concat()
}

/// A colleague's forward, from a mail client that attached the report as a file
/// (`application/octet-stream`, base64) with CRLF line endings.
fn colleague_forward_attaching(report: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    let encoded = base64::engine::general_purpose::STANDARD
        .encode(crate::support::to_crlf(report))
        .into_bytes();
    let mut lines = Vec::new();
    for line in encoded.chunks(76) {
        lines.extend_from_slice(line);
        lines.push(b'\n');
    }
    [
        b"From: Marta Lindqvist <marta.lindqvist@example.com>\n\
          To: fbl@example.com\n\
          Subject: FW: complaint\n\
          Date: Tue, 10 Mar 2026 10:30:00 +0000\n\
          Message-ID: <fw.77a0@example.com>\n\
          MIME-Version: 1.0\n\
          Content-Type: multipart/mixed; boundary=\"=_fw_9\"\n\n\
          --=_fw_9\n\
          Content-Type: text/plain\n\n\
          See the attached complaint.\n\n\
          --=_fw_9\n\
          Content-Type: application/octet-stream; name=\"report.eml\"\n\
          Content-Disposition: attachment; filename=\"report.eml\"\n\
          Content-Transfer-Encoding: base64\n\n"
            .as_slice(),
        &lines,
        b"--=_fw_9--\n",
    ]
    .concat()
}

/// `fbl suppress list --json`: each listed address with its count of reports.
fn suppression_counts(dir: &Path) -> Vec<(String, u64)> {
    let output = run(fbl(dir).args(["--config", "fbl.toml", "suppress", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    list.iter()
        .map(|entry| {
            (
                entry["address"].as_str().unwrap().to_string(),
                entry["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn stored_reports(dir: &Path) -> u64 {
    fbl::store::Store::open(&dir.join("fbl.sqlite"))
        .unwrap()
        .counts()
        .unwrap()
        .reports
}

/// A report that reaches fbl directly and again attached to another message (an out-of-office
/// reply to the abuse desk's mail, a colleague forwarding it as a file) is one complaint,
/// whichever comes first, in one ingest or two: the second is a duplicate, as another
/// delivery of the report is, and the complainant's count is 1 (it used to be 2, every rate
/// doubled). A forward of another report is still a report of its own.
#[test]
fn a_report_received_directly_and_attached_to_another_message_counts_once() {
    let direct = std::fs::read(fixtures().join("reports/arf-rfc5965-every-field.eml")).unwrap();
    let complainant = "jane.doe@example.net";
    type Wrap = fn(&[u8]) -> Vec<u8>;
    let wrappers: [(&str, Wrap); 2] = [
        ("out-of-office reply", out_of_office_attaching),
        ("colleague's forward", colleague_forward_attaching),
    ];
    for (what, wrap) in wrappers {
        let forward = wrap(&direct);
        for forward_first in [false, true] {
            let case = format!("{what}, forward first: {forward_first}");
            let (first, second) = if forward_first {
                (&forward, &direct)
            } else {
                (&direct, &forward)
            };
            // In two ingests.
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("fbl.toml"), "").unwrap();
            std::fs::create_dir_all(dir.path().join("in")).unwrap();
            std::fs::write(dir.path().join("in/first.eml"), first).unwrap();
            let (code, summary, all) = ingest(dir.path());
            assert_eq!(code, Some(0), "{case}: {all}");
            assert_eq!(summary["stored"], 1, "{case}: {summary}");
            std::fs::remove_file(dir.path().join("in/first.eml")).unwrap();
            std::fs::write(dir.path().join("in/second.eml"), second).unwrap();
            let (code, summary, all) = ingest(dir.path());
            assert_eq!(code, Some(0), "{case}: {all}");
            assert_eq!(
                (&summary["stored"], &summary["duplicates"]),
                (&0.into(), &1.into()),
                "{case}: {summary}"
            );
            assert_eq!(stored_reports(dir.path()), 1, "{case}");
            assert_eq!(
                suppression_counts(dir.path()),
                [(complainant.to_string(), 1)],
                "{case}"
            );
            // The report stored is the first delivery, its bytes as they came.
            let report = evidence(dir.path(), complainant);
            let origin = report["origin"].to_string();
            assert!(origin.contains("first.eml"), "{case}: {report}");

            // In one ingest: the second file is a duplicate of the first.
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("fbl.toml"), "").unwrap();
            std::fs::create_dir_all(dir.path().join("in")).unwrap();
            std::fs::write(dir.path().join("in/1.eml"), first).unwrap();
            std::fs::write(dir.path().join("in/2.eml"), second).unwrap();
            let (code, summary, all) = ingest(dir.path());
            assert_eq!(code, Some(0), "{case}: {all}");
            assert_eq!(
                (&summary["stored"], &summary["duplicates"]),
                (&1.into(), &1.into()),
                "{case}: {summary}"
            );
            assert_eq!(
                suppression_counts(dir.path()),
                [(complainant.to_string(), 1)],
                "{case}"
            );
        }
    }

    // The out-of-office reply and the colleague's forward of one report: one report too.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fbl.toml"), "").unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    std::fs::write(
        dir.path().join("in/1.eml"),
        out_of_office_attaching(&direct),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("in/2.eml"),
        colleague_forward_attaching(&direct),
    )
    .unwrap();
    // A forward of another report (its own Message-ID) is another complaint.
    let text = String::from_utf8(direct.clone()).unwrap();
    let other = text.replace(
        "Message-ID: <fbl-20260310-0341-7731@",
        "Message-ID: <another-0341-7731@",
    );
    assert_ne!(other, text);
    std::fs::write(
        dir.path().join("in/3.eml"),
        out_of_office_attaching(other.as_bytes()),
    )
    .unwrap();
    let (code, summary, all) = ingest(dir.path());
    assert_eq!(code, Some(0), "{all}");
    assert_eq!(
        (&summary["stored"], &summary["duplicates"]),
        (&2.into(), &1.into()),
        "{summary}"
    );
    assert_eq!(
        suppression_counts(dir.path()),
        [(complainant.to_string(), 2)]
    );
}

/// With `[trust]`, a colleague's forward that may not suppress is set aside in quarantine;
/// the report delivered directly, signed, releases it (another delivery of its report is
/// stored: nobody needs to look at it). Arriving after the report was stored, such a
/// forward is a duplicate, not quarantined.
#[test]
fn with_trust_a_quarantined_forward_of_a_report_is_released_by_its_direct_delivery() {
    let report = std::fs::read(fixtures().join("reports/arf-rfc5965-every-field.eml")).unwrap();
    let signed = [
        b"Authentication-Results: mx1.example.com; dkim=pass header.d=example.net header.s=s1;\n \
          dmarc=pass header.from=example.net\n"
            .as_slice(),
        &report,
    ]
    .concat();
    let forward = colleague_forward_attaching(&report);
    let open_quarantine = |dir: &Path| -> usize {
        let output = run(fbl(dir).args(["--config", "fbl.toml", "quarantine", "list", "--json"]));
        serde_json::from_str::<Vec<serde_json::Value>>(&stdout(&output))
            .unwrap()
            .len()
    };
    for forward_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fbl.toml"),
            "[trust]\nauthserv_id = \"mx1.example.com\"\nextra_domains = [\"example.net\"]\n",
        )
        .unwrap();
        std::fs::create_dir_all(dir.path().join("in")).unwrap();
        let deliveries = if forward_first {
            [&forward, &signed]
        } else {
            [&signed, &forward]
        };
        for (n, delivery) in deliveries.into_iter().enumerate() {
            let name = format!("in/{n}.eml");
            std::fs::write(dir.path().join(&name), delivery).unwrap();
            let (code, summary, all) = ingest(dir.path());
            std::fs::remove_file(dir.path().join(&name)).unwrap();
            match (forward_first, n) {
                (true, 0) => {
                    assert_eq!(code, Some(1), "{all}");
                    assert_eq!(summary["untrusted"], 1, "{summary}");
                    assert_eq!(open_quarantine(dir.path()), 1);
                }
                (true, _) => {
                    assert_eq!(code, Some(0), "{all}");
                    assert_eq!(
                        (&summary["stored"], &summary["released"]),
                        (&1.into(), &1.into()),
                        "{summary}"
                    );
                }
                (false, 0) => {
                    assert_eq!((code, &summary["stored"]), (Some(0), &1.into()), "{all}");
                }
                (false, _) => {
                    assert_eq!(code, Some(0), "{all}");
                    assert_eq!(
                        (&summary["duplicates"], &summary["quarantined"]),
                        (&1.into(), &0.into()),
                        "{summary}"
                    );
                }
            }
        }
        assert_eq!(
            open_quarantine(dir.path()),
            0,
            "forward first: {forward_first}"
        );
        assert_eq!(
            suppression_counts(dir.path()),
            [("jane.doe@example.net".to_string(), 1)],
            "forward first: {forward_first}"
        );
    }
}
