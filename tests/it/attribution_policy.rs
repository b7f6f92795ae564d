//! Who a report may suppress, beyond finding an address: a fraud or virus report only when
//! the mail is shown to be the sender's; the weak strategies never take an address at the
//! reported message's From domain; one strategy naming several different addresses names
//! nobody; a hidden legacy JMRP recipient is a redaction; an old-draft opt-out report
//! unsubscribes its Removal-Recipient. Real `fbl ingest` and `fbl parse` runs on a real
//! SQLite store.

use crate::support::{fbl, run, stdout};
use std::path::Path;

const CONFIG: &str = "[store]\npath = \"fbl.sqlite\"\n\n\
    [attribution]\n\
    header = [{ name = \"X-Fbl-Rcpt\", value = \"address\" }]\n";

/// An ARF report of `feedback_type` with these feedback-report fields (each ending in a
/// newline) about a message with these headers.
fn arf(feedback_type: &str, fields: &str, attached: &str) -> Vec<u8> {
    format!(
        "From: Abuse Desk <abuse@mail.example.net>\n\
         To: fbl@example.com\n\
         Date: Tue, 10 Nov 2026 12:00:00 +0000\n\
         Subject: report\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\
         \n\
         --b\n\
         Content-Type: text/plain\n\
         \n\
         A report.\n\
         --b\n\
         Content-Type: message/feedback-report\n\
         \n\
         Feedback-Type: {feedback_type}\n\
         User-Agent: ExampleNet-FBL/3.2\n\
         Version: 1\n\
         {fields}\
         \n\
         --b\n\
         Content-Type: text/rfc822-headers\n\
         \n\
         {attached}\
         Subject: News\n\
         Date: Tue, 10 Nov 2026 08:00:00 +0000\n\
         \n\
         --b--\n"
    )
    .into_bytes()
}

/// A legacy (pre-June-2026) JMRP report whose attached message starts with
/// `X-HmXmrOriginalRecipient: {hidden}` (none when empty) and is addressed to a subscriber.
fn legacy_jmrp(hidden: &str, n: usize) -> Vec<u8> {
    let field = if hidden.is_empty() {
        String::new()
    } else {
        format!("X-HmXmrOriginalRecipient: {hidden}\n")
    };
    format!(
        "From: <staff@hotmail.com>\n\
         To: jmrp@example.com\n\
         Subject: complaint about message from  192.0.2.20\n\
         Date: Mon, 9 Nov 2026 06:02:17 +0000\n\
         Message-ID: <jmrp-{n}@outlook.example>\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"j\"\n\
         \n\
         --j\n\
         Content-Type: message/rfc822\n\
         Content-Disposition: inline\n\
         \n\
         {field}\
         X-Sender-IP: 192.0.2.20\n\
         From: Example Shop <news@example.com>\n\
         To: marco.rossi@outlook.example\n\
         Subject: Your picks\n\
         Date: Mon, 9 Nov 2026 04:30:41 +0000\n\
         Message-ID: <picks-{n}@mta1.example.com>\n\
         \n\
         Hi Marco.\n\
         --j--\n"
    )
    .into_bytes()
}

fn suppressed(dir: &Path) -> Vec<String> {
    let output = run(fbl(dir).args(["--config", "fbl.toml", "suppress", "list"]));
    stdout(&output)
        .lines()
        .map(|line| line.split('\t').next().unwrap().to_string())
        .collect()
}

/// Ingests the messages (file name, bytes) into a new store with `config`; the summary.
fn ingest(dir: &Path, config: &str, messages: &[(&str, Vec<u8>)]) -> serde_json::Value {
    std::fs::write(dir.join("fbl.toml"), config).unwrap();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    for (name, bytes) in messages {
        std::fs::write(dir.join("in").join(name), bytes).unwrap();
    }
    let output = run(fbl(dir).args(["--config", "fbl.toml", "ingest", "in", "--json"]));
    serde_json::from_str(&stdout(&output)).unwrap()
}

/// `fbl parse` of one message with `CONFIG`.
fn parse(dir: &Path, bytes: &[u8]) -> serde_json::Value {
    std::fs::write(dir.join("fbl.toml"), CONFIG).unwrap();
    std::fs::write(dir.join("one.eml"), bytes).unwrap();
    let output = run(fbl(dir).args(["--config", "fbl.toml", "parse", "one.eml"]));
    serde_json::from_str(&stdout(&output)).unwrap()
}

/// The unattributed reasons of a summary that start with `start`, with their counts.
fn reasons_starting(summary: &serde_json::Value, start: &str) -> u64 {
    summary["unattributed_reasons"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(reason, _)| reason.starts_with(start))
        .map(|(_, count)| count.as_u64().unwrap())
        .sum()
}

const PHISH: &str = "Source-IP: 203.0.113.200\nOriginal-Rcpt-To: <victim@example.net>\n";
const PHISH_ATTACHED: &str = "Return-Path: <news-return@example.com>\n\
    From: Example Shop Security <security@example.com>\n\
    To: Jane Doe <victim@example.net>\n\
    Message-ID: <phish-1@hacked-host.example.org>\n";

/// A phishing message that spoofs the sender, reported as `fraud` (or `virus`), used to
/// suppress its victim through Original-Rcpt-To. It is kept and counted, and suppresses
/// nobody, unless the mail is shown to be the sender's: one of its identifiers is in it, or
/// its Source-IP is one of `[report] sending_ips`. An `abuse` report is unchanged.
#[test]
fn a_fraud_report_suppresses_only_when_the_mail_is_shown_to_be_the_sender_s() {
    let dir = tempfile::tempdir().unwrap();
    let summary = ingest(
        dir.path(),
        CONFIG,
        &[
            ("fraud.eml", arf("fraud", PHISH, PHISH_ATTACHED)),
            (
                "virus.eml",
                arf(
                    "virus",
                    "Source-IP: 203.0.113.201\nOriginal-Rcpt-To: <other@example.net>\n",
                    "From: news@example.com\nTo: other@example.net\n",
                ),
            ),
            (
                "abuse.eml",
                arf(
                    "abuse",
                    "Source-IP: 203.0.113.200\nOriginal-Rcpt-To: <abuser@example.net>\n",
                    "From: news@example.com\nTo: abuser@example.net\n",
                ),
            ),
            (
                "signed.eml",
                arf(
                    "fraud",
                    "Source-IP: 203.0.113.200\nOriginal-Rcpt-To: <ours@example.net>\n",
                    "From: news@example.com\nTo: ours@example.net\n\
                     X-Fbl-Rcpt: ours@example.net\n",
                ),
            ),
        ],
    );
    assert_eq!(summary["stored"], 4, "{summary}");
    assert_eq!(summary["by_kind"]["complaint"], 4, "{summary}");
    assert_eq!(summary["unattributed"], 2, "{summary}");
    assert_eq!(
        reasons_starting(&summary, "not shown to be your mail: a fraud report"),
        1,
        "{summary}"
    );
    assert_eq!(
        reasons_starting(&summary, "not shown to be your mail: a virus report"),
        1,
        "{summary}"
    );
    assert_eq!(
        suppressed(dir.path()),
        ["abuser@example.net", "ours@example.net"]
    );
    // The notes name whom the report named, for a person to add by hand.
    let parsed = parse(dir.path(), &arf("fraud", PHISH, PHISH_ATTACHED));
    assert_eq!(parsed["recipients"], serde_json::json!([]), "{parsed}");
    let notes = parsed["attribution_notes"].to_string();
    assert!(notes.contains("[report] sending_ips is not set"), "{notes}");
    assert!(
        notes.contains("original_rcpt_to names victim@example.net: not suppressed"),
        "{notes}"
    );

    // Sent from one of the sender's IPs: its mail.
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG}\n[report]\nsending_ips = [\"203.0.113.192/28\"]\n");
    let summary = ingest(
        dir.path(),
        &config,
        &[
            ("fraud.eml", arf("fraud", PHISH, PHISH_ATTACHED)),
            (
                "elsewhere.eml",
                arf(
                    "fraud",
                    "Source-IP: 198.51.100.7\nOriginal-Rcpt-To: <far@example.net>\n",
                    "From: news@example.com\nTo: far@example.net\n",
                ),
            ),
        ],
    );
    assert_eq!(summary["unattributed"], 1, "{summary}");
    assert_eq!(
        reasons_starting(
            &summary,
            "not shown to be your mail: a fraud report (spoofed mail is reported so) with no \
             sender identifier of yours, and Source-IP 198.51.100.7 is not one of [report] \
             sending_ips"
        ),
        1,
        "{summary}"
    );
    assert_eq!(suppressed(dir.path()), ["victim@example.net"]);
}

/// A list mailed with its subscribers in Bcc has its own address in To: at the From's
/// domain (`subscribers@example.com`), a subdomain of it or a domain above it. To named it
/// as the complainant and suppressed it. A subscriber at a public mailbox provider the
/// sender also mails from is still named.
#[test]
fn the_weak_strategies_never_take_an_address_at_the_from_domain() {
    let dir = tempfile::tempdir().unwrap();
    let fields = "Source-IP: 192.0.2.25\n";
    let summary = ingest(
        dir.path(),
        CONFIG,
        &[
            (
                "same.eml",
                arf(
                    "abuse",
                    fields,
                    "From: Example Shop <news@example.com>\nTo: subscribers@example.com\n",
                ),
            ),
            (
                "sub.eml",
                arf(
                    "abuse",
                    fields,
                    "From: news@example.com\nTo: newsletter@news.Example.com\n",
                ),
            ),
            (
                "parent.eml",
                arf(
                    "abuse",
                    fields,
                    "From: news@mail.example.org\nDelivered-To: all@example.org\n",
                ),
            ),
            (
                "public.eml",
                arf(
                    "abuse",
                    fields,
                    "From: club@gmail.com\nTo: member@gmail.com\n",
                ),
            ),
            (
                "other.eml",
                arf(
                    "abuse",
                    fields,
                    "From: news@example.com\nTo: jane@example.net\n",
                ),
            ),
        ],
    );
    assert_eq!(summary["stored"], 5, "{summary}");
    assert_eq!(summary["unattributed"], 3, "{summary}");
    assert_eq!(
        summary["unattributed_reasons"]["to names subscribers@example.com, at the reported message's From domain: not a complainant"],
        1,
        "{summary}"
    );
    assert_eq!(
        suppressed(dir.path()),
        ["jane@example.net", "member@gmail.com"]
    );
}

/// A public mailbox provider's country domain (`hotmail.co.uk`, `yahoo.fr`) is not the
/// sender's From domain either: a club mailing from one to its members there named nobody.
#[test]
fn a_public_mailbox_provider_s_country_domain_is_not_the_from_domain() {
    let dir = tempfile::tempdir().unwrap();
    let fields = "Source-IP: 192.0.2.25\n";
    let summary = ingest(
        dir.path(),
        CONFIG,
        &[
            (
                "uk.eml",
                arf(
                    "abuse",
                    fields,
                    "From: club@hotmail.co.uk\nTo: member@hotmail.co.uk\n",
                ),
            ),
            (
                "fr.eml",
                arf(
                    "abuse",
                    fields,
                    "From: club@yahoo.fr\nTo: membre@yahoo.fr\n",
                ),
            ),
            (
                "own.eml",
                arf(
                    "abuse",
                    fields,
                    "From: news@shop.example.co.uk\nTo: all@example.co.uk\n",
                ),
            ),
        ],
    );
    assert_eq!(summary["stored"], 3, "{summary}");
    assert_eq!(summary["unattributed"], 1, "{summary}");
    assert_eq!(
        suppressed(dir.path()),
        ["member@hotmail.co.uk", "membre@yahoo.fr"]
    );
}

/// Phishing that copies a real newsletter keeps the copier's identifier (here its
/// `X-Fbl-Rcpt`): an identifier that names someone other than the reported recipient does
/// not show the mail to be the sender's, and the victim is not suppressed.
#[test]
fn a_fraud_report_about_a_copied_newsletter_suppresses_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let cloned = arf(
        "fraud",
        PHISH,
        "From: security@example.com\nTo: victim@example.net\n\
         X-Fbl-Rcpt: cloner@example.org\n",
    );
    let summary = ingest(
        dir.path(),
        CONFIG,
        &[
            ("cloned.eml", cloned.clone()),
            (
                "ours.eml",
                arf(
                    "fraud",
                    "Source-IP: 203.0.113.200\nOriginal-Rcpt-To: <Ours@Example.net>\n",
                    "From: news@example.com\nTo: ours@example.net\n\
                     X-Fbl-Rcpt: ours@example.NET\n",
                ),
            ),
        ],
    );
    assert_eq!(summary["stored"], 2, "{summary}");
    assert_eq!(summary["unattributed"], 1, "{summary}");
    assert_eq!(suppressed(dir.path()), ["Ours@example.net"]);
    let parsed = parse(dir.path(), &cloned);
    assert_eq!(parsed["recipients"], serde_json::json!([]), "{parsed}");
    let notes = parsed["attribution_notes"].to_string();
    assert!(
        notes.contains("names someone else (cloner@example.org)"),
        "{notes}"
    );
    assert!(
        notes.contains("original_rcpt_to names victim@example.net: not suppressed"),
        "{notes}"
    );
}

/// Postfix writes X-Original-To (the address mailed, before an alias) and Delivered-To
/// (the final mailbox), and each forward hop adds a Delivered-To on top: one subscriber,
/// which named nobody ("several different addresses"). The address mailed is taken:
/// X-Original-To, else the bottom-most Delivered-To.
#[test]
fn delivered_to_after_an_alias_or_a_forward_names_the_address_mailed() {
    let dir = tempfile::tempdir().unwrap();
    let fields = "Source-IP: 192.0.2.25\n";
    let summary = ingest(
        dir.path(),
        CONFIG,
        &[
            (
                "alias.eml",
                arf(
                    "abuse",
                    fields,
                    "From: news@example.com\nTo: undisclosed-recipients:;\n\
                     Delivered-To: jane.mailbox@example.net\nX-Original-To: jane@example.org\n",
                ),
            ),
            (
                "forward.eml",
                arf(
                    "abuse",
                    fields,
                    "From: news@example.com\nTo: undisclosed-recipients:;\n\
                     Delivered-To: john@forwarded.example\nX-Delivered-To: john@example.org\n",
                ),
            ),
            // Real Postfix order: each hop's fields on top of the last. The first hop (an
            // alias to another domain) adds a Delivered-To alone; the mailbox's hop writes its
            // X-Original-To above its Delivered-To. That X-Original-To is the forward's target.
            (
                "postfix-forward.eml",
                arf(
                    "abuse",
                    fields,
                    "X-Original-To: ann@forwarded.example\nDelivered-To: ann@forwarded.example\n\
                     Delivered-To: ann@example.org\n\
                     From: news@example.com\nTo: undisclosed-recipients:;\n",
                ),
            ),
            // One hop, Postfix order: X-Original-To (the alias mailed) right above the
            // mailbox's Delivered-To.
            (
                "postfix-alias.eml",
                arf(
                    "abuse",
                    fields,
                    "X-Original-To: bo@example.org\nDelivered-To: bo.mailbox@example.net\n\
                     From: news@example.com\nTo: undisclosed-recipients:;\n",
                ),
            ),
        ],
    );
    assert_eq!(summary["stored"], 4, "{summary}");
    assert_eq!(summary["unattributed"], 0, "{summary}");
    assert_eq!(
        suppressed(dir.path()),
        [
            "ann@example.org",
            "bo@example.org",
            "jane@example.org",
            "john@example.org"
        ]
    );
}

/// One message goes to one recipient: two identifier headers or two X-Apparently-To naming
/// different people used to suppress both. Now nobody, said; one address written twice
/// (in two cases) is still one complainant.
#[test]
fn one_strategy_naming_several_different_addresses_names_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let fields = "Source-IP: 192.0.2.25\n";
    let summary = ingest(
        dir.path(),
        CONFIG,
        &[
            (
                "header.eml",
                arf(
                    "abuse",
                    fields,
                    "From: news@example.com\nX-Fbl-Rcpt: alice@example.org\n\
                     X-Fbl-Rcpt: bob@example.org\nTo: alice@example.org\n",
                ),
            ),
            (
                "apparently.eml",
                arf(
                    "abuse",
                    fields,
                    "From: news@example.com\n\
                     X-Apparently-To: jane.doe@example.net; Tue, 10 Nov 2026 08:00:05 +0000\n\
                     X-Apparently-To: john.roe@example.net; Tue, 10 Nov 2026 08:00:05 +0000\n\
                     To: undisclosed-recipients:;\n",
                ),
            ),
            (
                "same.eml",
                arf(
                    "abuse",
                    fields,
                    "From: news@example.com\nX-Fbl-Rcpt: carol@example.org\n\
                     X-Fbl-Rcpt: Carol@example.org\n",
                ),
            ),
        ],
    );
    assert_eq!(summary["stored"], 3, "{summary}");
    assert_eq!(summary["unattributed"], 2, "{summary}");
    assert_eq!(
        summary["unattributed_reasons"]["header names 2 different addresses (alice@example.org, \
             bob@example.org): one message goes to one recipient, which of them complained \
             cannot be told; nobody is attributed"],
        1,
        "{summary}"
    );
    assert_eq!(
        reasons_starting(&summary, "x_apparently_to names 2 different addresses"),
        1,
        "{summary}"
    );
    assert_eq!(suppressed(dir.path()), ["carol@example.org"]);
    // The header's disagreement keeps To from picking one of them.
    let parsed = parse(
        dir.path(),
        &arf(
            "abuse",
            fields,
            "From: news@example.com\nX-Fbl-Rcpt: alice@example.org\n\
             X-Fbl-Rcpt: bob@example.org\nTo: alice@example.org\n",
        ),
    );
    assert_eq!(parsed["recipients"], serde_json::json!([]), "{parsed}");
}

/// Legacy JMRP names the complainant in X-HmXmrOriginalRecipient; a redaction token, a
/// masked address, a digest or `<>` there hides it, as the field's absence does: To is a
/// stand-in then, never used, and the report says it was redacted.
#[test]
fn a_hidden_legacy_jmrp_recipient_is_a_redaction() {
    let dir = tempfile::tempdir().unwrap();
    let hidden = [
        "redacted",
        "hashed@outlook.example",
        "m*********@outlook.example",
        "<>",
        "5f4dcc3b5aa765d61d8327deb882cf99@outlook.example",
        "",
    ];
    for (n, value) in hidden.iter().enumerate() {
        let parsed = parse(dir.path(), &legacy_jmrp(value, n));
        assert_eq!(parsed["format"], "jmrp_legacy", "{value}: {parsed}");
        assert_eq!(parsed["redacted"], true, "{value}: {parsed}");
        assert_eq!(
            parsed["recipients"],
            serde_json::json!([]),
            "{value}: {parsed}"
        );
    }
    // In clear, it names the complainant.
    let parsed = parse(dir.path(), &legacy_jmrp("<marco.rossi@outlook.example>", 9));
    assert_eq!(parsed["redacted"], false, "{parsed}");
    assert_eq!(
        parsed["recipients"],
        serde_json::json!([{"address": "marco.rossi@outlook.example", "via": "jmrp_original_recipient"}]),
        "{parsed}"
    );
    let summary = ingest(
        dir.path(),
        CONFIG,
        &["a.eml", "b.eml", "c.eml", "d.eml", "e.eml", "f.eml"]
            .into_iter()
            .zip(hidden.iter().enumerate())
            .map(|(name, (n, value))| (name, legacy_jmrp(value, n)))
            .collect::<Vec<_>>(),
    );
    assert_eq!(summary["stored"], 6, "{summary}");
    assert_eq!(summary["unattributed"], 6, "{summary}");
    assert!(suppressed(dir.path()).is_empty());
}

/// An old-draft `opt-out` report names the address to unsubscribe in Removal-Recipient. It
/// was ignored: a report with only that field unsubscribed nobody, one with a different
/// Original-Rcpt-To unsubscribed that address instead.
#[test]
fn an_opt_out_report_unsubscribes_its_removal_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let attached = "From: Example Shop <news@example.com>\nTo: members@lists.example.com\n";
    let summary = ingest(
        dir.path(),
        CONFIG,
        &[
            (
                "only.eml",
                arf(
                    "opt-out",
                    "Source-IP: 192.0.2.25\nRemoval-Recipient: john.roe@example.net\n",
                    attached,
                ),
            ),
            (
                "both.eml",
                arf(
                    "opt-out",
                    "Source-IP: 192.0.2.25\nOriginal-Rcpt-To: <jane.doe@example.net>\n\
                     Removal-Recipient: ann@example.net\n",
                    attached,
                ),
            ),
        ],
    );
    assert_eq!(summary["by_kind"]["unsubscribe"], 2, "{summary}");
    assert_eq!(summary["unattributed"], 0, "{summary}");
    assert_eq!(
        suppressed(dir.path()),
        ["ann@example.net", "john.roe@example.net"]
    );
    let parsed = parse(
        dir.path(),
        &arf(
            "opt-out",
            "Original-Rcpt-To: <jane.doe@example.net>\nRemoval-Recipient: ann@example.net\n",
            attached,
        ),
    );
    assert_eq!(
        parsed["recipients"],
        serde_json::json!([{"address": "ann@example.net", "via": "removal_recipient"}]),
        "{parsed}"
    );
    assert_eq!(
        parsed["attribution_notes"],
        serde_json::json!([
            "original_rcpt_to names jane.doe@example.net: not unsubscribed, \
             the report's Removal-Recipient names the address to remove"
        ]),
        "{parsed}"
    );
}
