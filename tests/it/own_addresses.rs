//! The sender's own addresses are never suppressed, neither by an unsubscribe request sent
//! from one nor by a complaint that names one. Such a message is stored and counted as
//! unattributed, with its reason. Own: its feedback mailboxes' users, its literal
//! `unsubscribe_addresses`, any address its `verp` or unsubscribe templates match, and an
//! address at one of `[attribution] own_domains`. Without `own_domains`, the domains of
//! `unsubscribe_addresses` and `verp` are taken as the sender's for the weak strategies (To,
//! Delivered-To) only: a guess that must not keep mailing a subscriber who asked to leave,
//! nor lose a complaint the send log or a token names.

use crate::support::{fbl, run, stdout};
use std::path::Path;

const CONFIG: &str = "[store]\npath = \"fbl.sqlite\"\n\n\
    [[mailbox]]\nname = \"m\"\nhost = \"imap.example.com\"\nuser = \"fbl@gmail.com\"\n\
    password_env = \"P\"\n\n\
    [attribution]\n\
    verp = [\"b-{id}@bounce.example.net\"]\n\
    unsubscribe_addresses = [\"unsubscribe@example.com\", \"unsub@gmail.com\"]\n";

/// A request from `from` to `to`, as any mail client writes it.
fn request(from: &str, to: &str) -> Vec<u8> {
    format!(
        "From: {from}\n\
         To: {to}\n\
         Subject: unsubscribe\n\
         Date: Tue, 24 Nov 2026 10:00:00 +0000\n\
         Message-ID: <{}-{}@client.example>\n\
         \n\
         unsubscribe\n",
        from.replace('@', "."),
        to.replace('@', ".")
    )
    .into_bytes()
}

/// A feedback loop's report, naming no complainant, of a message with these headers.
fn complaint(attached: &str) -> Vec<u8> {
    format!(
        "From: feedback@arf.mail.yahoo.com\n\
         To: fbl@gmail.com\n\
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
         Feedback-Type: abuse\n\
         User-Agent: Yahoo!-Mail-Feedback/2.0\n\
         Version: 1\n\
         \n\
         --b\n\
         Content-Type: text/rfc822-headers\n\
         \n\
         {attached}\
         Subject: News\n\
         \n\
         --b--\n"
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

/// Ingests the messages (file name, bytes) with `config`; the summary.
fn ingest(dir: &Path, config: &str, messages: &[(&str, Vec<u8>)]) -> serde_json::Value {
    std::fs::write(dir.join("fbl.toml"), config).unwrap();
    std::fs::create_dir_all(dir.join("in")).unwrap();
    for (name, bytes) in messages {
        std::fs::write(dir.join("in").join(name), bytes).unwrap();
    }
    let output = run(fbl(dir).args(["--config", "fbl.toml", "ingest", "in", "--json"]));
    serde_json::from_str(&stdout(&output)).unwrap()
}

const OWN_REQUEST: &str = "an unsubscribe request from \
     the sender's own address: its sender was not unsubscribed ([attribution] own_domains \
     says which domains are yours)";

/// A request from the sender's own list address (a loop, a colleague's test) used to
/// unsubscribe that address; so did one from a feedback mailbox or a bounce address. A
/// subscriber's request, at a public mailbox provider where the sender also has an
/// unsubscribe address, still does; so does one from a domain the sender's addresses are at,
/// unless `own_domains` says it is the sender's (an ISP or a university mails its own users).
#[test]
fn an_unsubscribe_request_from_the_sender_s_own_address_unsubscribes_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG}own_domains = [\"example.com\", \"example.net\"]\n");
    let summary = ingest(
        dir.path(),
        &config,
        &[
            (
                "list.eml",
                request("News <news@example.com>", "unsubscribe@example.com"),
            ),
            (
                "sub.eml",
                request("ops@mail.Example.com", "unsubscribe@example.com"),
            ),
            (
                "verp.eml",
                request("b-7@bounce.example.net", "unsubscribe@example.com"),
            ),
            (
                "mailbox.eml",
                request("FBL@gmail.com", "unsubscribe@example.com"),
            ),
            (
                "subscriber.eml",
                request("jane@gmail.com", "unsub@gmail.com"),
            ),
        ],
    );
    assert_eq!(summary["stored"], 5, "{summary}");
    assert_eq!(summary["by_kind"]["unsubscribe"], 5, "{summary}");
    assert_eq!(summary["unattributed"], 4, "{summary}");
    assert_eq!(summary["unattributed_reasons"][OWN_REQUEST], 4, "{summary}");
    assert_eq!(suppressed(dir.path()), ["jane@gmail.com"]);

    // `own_domains` replaces the derived domains: example.com is a subscriber's domain now.
    let dir = tempfile::tempdir().unwrap();
    let config = format!("{CONFIG}own_domains = [\"example.org\"]\n");
    let summary = ingest(
        dir.path(),
        &config,
        &[
            (
                "list.eml",
                request("news@lists.example.org", "unsubscribe@example.com"),
            ),
            (
                "other.eml",
                request("news@example.com", "unsubscribe@example.com"),
            ),
        ],
    );
    assert_eq!(summary["unattributed_reasons"][OWN_REQUEST], 1, "{summary}");
    assert_eq!(suppressed(dir.path()), ["news@example.com"]);

    // Without `own_domains`, the domain of an unsubscribe address is no reason to ignore a
    // request: a subscriber of the same ISP asking to leave is unsubscribed. Own addresses
    // (a mailbox's user, what a template matches) still are ignored.
    let dir = tempfile::tempdir().unwrap();
    let summary = ingest(
        dir.path(),
        CONFIG,
        &[
            (
                "neighbour.eml",
                request("jane@example.com", "unsubscribe@example.com"),
            ),
            (
                "verp.eml",
                request("b-7@bounce.example.net", "unsubscribe@example.com"),
            ),
            (
                "mailbox.eml",
                request("FBL@gmail.com", "unsubscribe@example.com"),
            ),
        ],
    );
    assert_eq!(summary["unattributed_reasons"][OWN_REQUEST], 2, "{summary}");
    assert_eq!(suppressed(dir.path()), ["jane@example.com"]);
}

/// A complaint the send log or a header names at a domain of the sender's unsubscribe
/// address (a sender at an ISP, mailing that ISP's users) is that user's: suppressed. Only
/// a weak strategy's To at such a domain is taken for the sender's own (the test below).
#[test]
fn a_strong_strategy_names_a_subscriber_at_the_sender_s_domain() {
    let dir = tempfile::tempdir().unwrap();
    let report = complaint("To: felix.braun@example.com\nMessage-ID: <m7@mail.example.com>\n");
    let text = String::from_utf8(report).unwrap().replacen(
        "Feedback-Type: abuse\n",
        "Feedback-Type: abuse\nOriginal-Rcpt-To: felix.braun@example.com\n",
        1,
    );
    assert!(text.contains("Original-Rcpt-To"), "the fixture changed");
    let summary = ingest(dir.path(), CONFIG, &[("c.eml", text.into_bytes())]);
    assert_eq!(summary["unattributed"], 0, "{summary}");
    assert_eq!(suppressed(dir.path()), ["felix.braun@example.com"]);
}

/// A newsletter sent with its subscribers in Bcc and `To: subscribers@example.com` (an
/// address of the sender's own domain, not its From): the To used to be taken for the
/// complainant and suppressed. The complaint stays unattributed, and says why.
#[test]
fn a_to_at_the_sender_s_own_domain_is_not_the_complainant() {
    let dir = tempfile::tempdir().unwrap();
    let summary = ingest(
        dir.path(),
        CONFIG,
        &[
            (
                "bcc.eml",
                complaint(
                    "From: News <news@example.com>\nTo: Subscribers <subscribers@example.com>\n\
                     Message-ID: <bcc@example.com>\n",
                ),
            ),
            (
                "person.eml",
                complaint(
                    "From: News <news@example.com>\nTo: jane@example.org\n\
                     Message-ID: <person@example.com>\n",
                ),
            ),
        ],
    );
    assert_eq!(summary["by_kind"]["complaint"], 2, "{summary}");
    assert_eq!(summary["unattributed"], 1, "{summary}");
    assert_eq!(
        summary["unattributed_reasons"]["to names subscribers@example.com, at the reported message's From domain: not a complainant"],
        1,
        "{summary}"
    );
    assert_eq!(suppressed(dir.path()), ["jane@example.org"]);
}

/// `own_domains` must hold domains.
#[test]
fn own_domains_must_be_domains() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        format!("{CONFIG}own_domains = [\"news@example.com\"]\n"),
    )
    .unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "config"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("[attribution] own_domains: \"news@example.com\" is not a domain"),
        "{stderr}"
    );
}
