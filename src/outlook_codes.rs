//! How Outlook.com (and Exchange Online) says an IP is blocked or throttled: the codes of
//! formats.md section 5 as data, one line per code, and the recognition of them in an SMTP
//! reply text. Pure: no IO.
//!
//! A new code is one line in `OUTLOOK_CODES`. The reply's own first digit decides whether a
//! sighting is a block (5xx) or throttling (4xx); the table's class is used only when the
//! text carries no reply code or enhanced status.

use serde::Serialize;
use std::net::IpAddr;

/// Whether Microsoft refused the mail for good or asked to come back later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BlockClass {
    /// A 5xx rejection: nothing is delivered, not even to the junk folder.
    Block,
    /// A 4xx deferral: too much volume or a new IP, not a block-list entry.
    Throttle,
}

impl BlockClass {
    pub fn as_str(self) -> &'static str {
        match self {
            BlockClass::Block => "block",
            BlockClass::Throttle => "throttle",
        }
    }

    pub fn parse(text: &str) -> Option<BlockClass> {
        match text {
            "block" => Some(BlockClass::Block),
            "throttle" => Some(BlockClass::Throttle),
            _ => None,
        }
    }
}

/// What a code looks like in a reply text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodePattern {
    /// A word of its own: `SC-001`, `S3140`, `RP-001`.
    Token(&'static str),
    /// An enhanced status code (RFC 3463) in an inclusive range: `5.7.606`..`5.7.649`.
    Status(&'static str, &'static str),
}

/// One known code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutlookCode {
    /// The name fbl records: `SC-001`, `S3140`, `5.7.606-5.7.649` is recorded as the status
    /// actually seen.
    pub pattern: CodePattern,
    pub class: BlockClass,
    pub meaning: &'static str,
    /// Where the sender goes to be delisted or what to do.
    pub remedy: &'static str,
}

const FORM: &str = "Microsoft sender support form (fbl report delist --ip IP)";
const WAIT: &str = "slow down and retry; no delisting needed";

const fn token(code: &'static str, class: BlockClass, meaning: &'static str) -> OutlookCode {
    OutlookCode {
        pattern: CodePattern::Token(code),
        class,
        meaning,
        remedy: match class {
            BlockClass::Block => FORM,
            BlockClass::Throttle => WAIT,
        },
    }
}

const fn status(
    first: &'static str,
    last: &'static str,
    class: BlockClass,
    meaning: &'static str,
    remedy: &'static str,
) -> OutlookCode {
    OutlookCode {
        pattern: CodePattern::Status(first, last),
        class,
        meaning,
        remedy,
    }
}

use BlockClass::{Block, Throttle};

/// Every code fbl recognises, the most specific first: the first line that matches a text
/// names its code. Sources: formats.md section 5 and issue 7.
#[rustfmt::skip]
pub const OUTLOOK_CODES: &[OutlookCode] = &[
    token("SC-001", Block, "policy: spam-like content or IP/domain reputation"),
    token("SC-002", Block, "namespace mining (many unknown recipients)"),
    token("SC-003", Block, "open proxy or relay"),
    token("SC-004", Block, "complaints about mail from this IP"),
    token("DY-001", Block, "dynamic IP address"),
    token("DY-002", Block, "compromised or infected server"),
    token("OU-001", Block, "policy"),
    token("OU-002", Block, "policy: content"),
    token("S3140", Block, "the IP or its network is on Microsoft's block list"),
    token("S3150", Block, "the IP or its network is on Microsoft's block list"),
    token("RP-001", Throttle, "rate limited because of IP reputation"),
    token("RP-002", Throttle, "rate limited: connection limits"),
    token("RP-003", Throttle, "rate limited: connection limits"),
    status("5.7.515", "5.7.515", Block, "the sending domain fails Microsoft's SPF/DKIM/DMARC requirements for bulk senders", "publish SPF, DKIM and DMARC that pass and align"),
    status("5.7.606", "5.7.649", Block, "Exchange Online: banned sending IP", "Exchange Online delist portal (sender.office.com)"),
    status("4.7.650", "4.7.650", Throttle, "temporary rate limiting because of IP reputation", WAIT),
    status("4.7.651", "4.7.651", Throttle, "temporary rate limiting of a new IP", WAIT),
    status("4.7.652", "4.7.652", Throttle, "temporary rate limiting: too many connections", WAIT),
];

/// An Outlook.com code found in a reply text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recognised {
    /// The code as recorded: the token (`SC-001`) or the enhanced status seen (`5.7.610`).
    pub code: String,
    pub class: BlockClass,
    pub meaning: &'static str,
    pub remedy: &'static str,
    /// The basic SMTP reply code, when the text has one (`550`, `421`).
    pub reply: Option<u16>,
    /// The first enhanced status code in the text (`5.7.1`).
    pub status: Option<String>,
    /// The sending IP the text names (`messages from [203.0.113.5]`), when it names one.
    pub ip: Option<String>,
}

/// Looks for a known code in an SMTP reply or diagnostic text (`smtp; 550 5.7.1 ... (S3140)`,
/// or a Postfix line `host mx[ip] said: 421 RP-001 ...`). `None` when the text holds none.
pub fn recognise(text: &str) -> Option<Recognised> {
    // Postfix and others prefix the remote host's own address: `host mx.example[192.0.2.7]
    // said:`, or `refused to talk to me:` when the host rejects in its greeting (also after
    // `delivery temporarily suspended:`). That address is Microsoft's, not the sender's:
    // read only what the host said.
    let said = [" said:", " refused to talk to me:"]
        .iter()
        .filter_map(|marker| text.rfind(marker).map(|at| at + marker.len()))
        .max()
        .map_or(text, |at| &text[at..]);
    let said = said
        .trim_start()
        .strip_prefix("smtp;")
        .unwrap_or(said)
        .trim_start();
    let words = words(said);
    let statuses: Vec<(u16, u16, u16)> = words.iter().filter_map(|w| parse_status(w)).collect();
    let (pattern, entry) = OUTLOOK_CODES.iter().find_map(|entry| match entry.pattern {
        CodePattern::Token(code) => words
            .iter()
            .any(|w| w.eq_ignore_ascii_case(code))
            .then(|| (code.to_string(), entry)),
        CodePattern::Status(first, last) => {
            let (first, last) = (parse_status(first)?, parse_status(last)?);
            statuses
                .iter()
                .find(|s| **s >= first && **s <= last)
                .map(|(a, b, c)| (format!("{a}.{b}.{c}"), entry))
        }
    })?;
    let reply = words
        .iter()
        .take(3)
        .find_map(|w| w.parse::<u16>().ok().filter(|n| (200..600).contains(n)));
    let status = statuses.first().map(|(a, b, c)| format!("{a}.{b}.{c}"));
    let class = match reply.map(|r| r / 100).or(statuses.first().map(|s| s.0)) {
        Some(5) => BlockClass::Block,
        Some(4) => BlockClass::Throttle,
        _ => entry.class,
    };
    Some(Recognised {
        code: pattern,
        class,
        meaning: entry.meaning,
        remedy: entry.remedy,
        reply,
        status,
        ip: sender_ip(said),
    })
}

/// The words of a text: runs of letters, digits, dots, hyphens and colons (so that `SC-001`,
/// `5.7.1`, `203.0.113.5` and `2001:db8::5` are one word each).
fn words(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':')))
        .map(|w| w.trim_matches(|c| matches!(c, '.' | '-' | ':')))
        .filter(|w| !w.is_empty())
        .collect()
}

/// `5.7.1` as numbers; `None` for anything else (an IP address has four parts, not three).
fn parse_status(word: &str) -> Option<(u16, u16, u16)> {
    let mut parts = word.split('.');
    let class: u16 = parts.next()?.parse().ok()?;
    let subject: u16 = parts.next()?.parse().ok()?;
    let detail: u16 = parts.next()?.parse().ok()?;
    (parts.next().is_none() && matches!(class, 2 | 4 | 5) && subject < 1000 && detail < 1000)
        .then_some((class, subject, detail))
}

/// The first IP address in the text, which in Microsoft's replies is the sender's own
/// (`messages from [203.0.113.5] weren't sent`, `The mail server [203.0.113.5] has been`).
fn sender_ip(text: &str) -> Option<String> {
    // A host's own address written after its name (`mx.example[192.0.2.7]`) is not the
    // sender's: blanked out before looking.
    let mut bare = String::with_capacity(text.len());
    let mut in_host_address = false;
    let mut previous = ' ';
    for c in text.chars() {
        match c {
            '[' if previous.is_ascii_alphanumeric() || previous == '.' => in_host_address = true,
            ']' if in_host_address => in_host_address = false,
            _ if in_host_address => {}
            _ => bare.push(c),
        }
        previous = c;
    }
    words(&bare)
        .into_iter()
        .filter(|w| w.contains('.') || w.contains(':'))
        .find_map(|w| w.parse::<IpAddr>().ok())
        .map(|ip| ip.to_string())
}

/// The table line for a recorded code, to explain it in reports.
pub fn describe(code: &str) -> Option<&'static OutlookCode> {
    OUTLOOK_CODES.iter().find(|entry| match entry.pattern {
        CodePattern::Token(token) => token.eq_ignore_ascii_case(code),
        CodePattern::Status(first, last) => {
            match (parse_status(code), parse_status(first), parse_status(last)) {
                (Some(seen), Some(first), Some(last)) => seen >= first && seen <= last,
                _ => false,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One reply text and what should be recognised in it: `None`, or code, class, IP.
    fn check(text: &str, expected: Option<(&str, BlockClass, Option<&str>)>) {
        let got = recognise(text);
        let got = got
            .as_ref()
            .map(|r| (r.code.as_str(), r.class, r.ip.as_deref()));
        assert_eq!(got, expected, "text: {text}");
    }

    #[test]
    fn block_list_s3140_names_the_sender_ip_not_the_mx() {
        check(
            "host outlook-com.olc.protection.outlook.com[192.0.2.77] said: 550 5.7.1 \
             Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your \
             Internet service provider since part of their network is on our block list \
             (S3140). You can also refer your provider to \
             http://mail.live.com/mail/troubleshooting.aspx#errors.",
            Some(("S3140", Block, Some("203.0.113.5"))),
        );
    }

    /// A rejection in the greeting: Postfix writes `refused to talk to me:` (also after
    /// `delivery temporarily suspended:`), not `said:`; the MX's address is not the sender's.
    #[test]
    fn a_greeting_rejection_names_the_sender_ip_not_the_mx() {
        check(
            "host outlook-com.olc.protection.outlook.com[52.101.8.33] refused to talk to me: \
             550 SC-001 (BAY004-MC1F23) Unfortunately, messages from 203.0.113.6 weren't sent. \
             Please contact your Internet service provider.",
            Some(("SC-001", Block, Some("203.0.113.6"))),
        );
        check(
            "delivery temporarily suspended: host hotmail-com.olc.protection.outlook.com\
             [52.101.42.7] refused to talk to me: 421 RP-002 (BAY004-MC3F6) Unfortunately, \
             some messages from 203.0.113.6 weren't sent.",
            Some(("RP-002", Throttle, Some("203.0.113.6"))),
        );
        // With no sender address in the reply, the MX's is not taken for one.
        check(
            "host mx.example[192.0.2.9] refused to talk to me: 550 SC-004 blocked",
            Some(("SC-004", Block, None)),
        );
    }

    #[test]
    fn every_code_of_the_table_is_recognised() {
        check(
            "smtp; 550 SC-001 (BAY004-MC1F12) Unfortunately, messages from 198.51.100.20 weren't sent.",
            Some(("SC-001", Block, Some("198.51.100.20"))),
        );
        check(
            "550 SC-002 (COL004-MC2F5) Unfortunately, messages from 198.51.100.20 weren't sent. Please contact your Internet service provider.",
            Some(("SC-002", Block, Some("198.51.100.20"))),
        );
        check(
            "550 SC-003 (SNT004) mail rejected",
            Some(("SC-003", Block, None)),
        );
        check(
            "550 SC-004 (BAY004-MC5F3) Unfortunately, some messages from 203.0.113.9 weren't sent. Please try again. We have limits",
            Some(("SC-004", Block, Some("203.0.113.9"))),
        );
        check(
            "550 DY-001 (SNT004-MC4F26) Unfortunately, messages from 203.0.113.9 weren't sent.",
            Some(("DY-001", Block, Some("203.0.113.9"))),
        );
        check(
            "550 DY-002 (COL004-MC1F38) Unfortunately, messages from 203.0.113.9 weren't sent.",
            Some(("DY-002", Block, Some("203.0.113.9"))),
        );
        check(
            "550 OU-001 (SNT004-MC1F15) Unfortunately, messages from 203.0.113.9 weren't sent.",
            Some(("OU-001", Block, Some("203.0.113.9"))),
        );
        check(
            "550 OU-002 (BAY0-MC3-F41) Unfortunately, messages from 203.0.113.9 weren't sent.",
            Some(("OU-002", Block, Some("203.0.113.9"))),
        );
        check(
            "550 5.7.1 Unfortunately, messages from [203.0.113.9] weren't sent. (S3150)",
            Some(("S3150", Block, Some("203.0.113.9"))),
        );
        check(
            "421 RP-001 (BAY004-MC1F33) Unfortunately, some messages from 203.0.113.9 weren't sent. Please try again.",
            Some(("RP-001", Throttle, Some("203.0.113.9"))),
        );
        check(
            "421 RP-002 (COL0-MC5-F28) Unfortunately, some messages from 203.0.113.9 weren't sent.",
            Some(("RP-002", Throttle, Some("203.0.113.9"))),
        );
        check(
            "421 RP-003 (BAY0-MC1-F22) Unfortunately, some messages from 203.0.113.9 weren't sent.",
            Some(("RP-003", Throttle, Some("203.0.113.9"))),
        );
        check(
            "550 5.7.515 Access denied, sending domain example.com does not meet the required authentication level.",
            Some(("5.7.515", Block, None)),
        );
        check(
            "550 5.7.606 Access denied, banned sending IP [203.0.113.9].",
            Some(("5.7.606", Block, Some("203.0.113.9"))),
        );
        check(
            "550 5.7.649 Access denied, banned sending IP [2001:db8::9].",
            Some(("5.7.649", Block, Some("2001:db8::9"))),
        );
        check(
            "451 4.7.650 The mail server [203.0.113.9] has been temporarily rate limited due to IP reputation.",
            Some(("4.7.650", Throttle, Some("203.0.113.9"))),
        );
        check(
            "451 4.7.651 The mail server [203.0.113.9] has been temporarily rate limited.",
            Some(("4.7.651", Throttle, Some("203.0.113.9"))),
        );
        check(
            "451 4.7.652 The mail server [203.0.113.9] has exceeded the maximum number of connections.",
            Some(("4.7.652", Throttle, Some("203.0.113.9"))),
        );
    }

    #[test]
    fn other_rejections_are_not_outlook_blocks() {
        check(
            "550 5.1.1 <gone.user@example.net>: Recipient address rejected: User unknown",
            None,
        );
        check(
            "421 4.7.0 [TSS04] Messages from 203.0.113.5 temporarily deferred due to unexpected volume",
            None,
        );
        check("550 5.7.650 not a banned-IP code", None);
        check("250 2.0.0 OK", None);
        check("", None);
        // A code inside a longer word is not the code.
        check("550 XSC-0012 something", None);
    }

    #[test]
    fn the_reply_code_decides_block_or_throttle() {
        // A deferral quoting a block code is throttling: the mail will be retried.
        check(
            "421 4.7.0 SC-001 try again later",
            Some(("SC-001", Throttle, None)),
        );
        // No reply code: the enhanced status decides, else the table.
        check(
            "5.7.1 messages weren't sent (S3140)",
            Some(("S3140", Block, None)),
        );
        check("RP-001 slow down", Some(("RP-001", Throttle, None)));
    }

    #[test]
    fn the_reply_and_status_are_kept() {
        let got = recognise("smtp; 550 5.7.1 Unfortunately ... (S3140)").unwrap();
        assert_eq!(got.reply, Some(550));
        assert_eq!(got.status.as_deref(), Some("5.7.1"));
    }

    #[test]
    fn recorded_codes_describe_themselves() {
        assert_eq!(describe("sc-004").unwrap().class, Block);
        assert_eq!(
            describe("5.7.620").unwrap().meaning,
            "Exchange Online: banned sending IP"
        );
        assert!(describe("5.1.1").is_none());
    }
}
