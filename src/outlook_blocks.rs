//! Outlook.com blocks and throttling found in bounces (RFC 3464 delivery status
//! notifications, and the plain-text bounces of mailers that send none) and in the delivery
//! statuses of a send log (Postfix `status=deferred`/`bounced` lines, a CSV or JSON Lines
//! `status` column). Pure: takes bytes or a `BufRead`, opens nothing, reads no clock.
//!
//! Each sighting names the sending IP when the reply text does (Microsoft's usually do);
//! otherwise the caller may look the original Message-ID up in the send log.

use crate::derivation::rfc3339_from_rfc5322;
use crate::header_block::HeaderBlock;
use crate::outlook_codes::{Recognised, recognise};
use crate::sendlog::{FIELD_NAMES, ReadOptions, SendLogFormat};
use mail_parser::{MessageParser, MimeHeaders, PartType};
use std::io::BufRead;

/// One rejection or deferral by Microsoft with a known code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BlockSighting {
    /// The sending IP, when the text or the log line names it.
    pub ip: Option<String>,
    pub recipient: Option<String>,
    /// When it happened, RFC 3339 UTC, when known.
    pub at: Option<String>,
    /// The reply text, unfolded.
    pub text: String,
    pub recognised: Recognised,
    /// The Message-ID of the message that was refused, without angle brackets.
    pub message_id: Option<String>,
}

/// The longest reply text kept; Microsoft's are about 300 characters.
const MAX_TEXT_CHARS: usize = 1000;

/// Every Outlook.com code in a bounce. A DSN's per-recipient `Diagnostic-Code` fields are
/// read first; when none of them holds a known code, the text parts are searched line by
/// line (Postfix's human-readable part, qmail and Exim bounces). A message that is not a
/// bounce, or a bounce for other reasons, gives nothing.
pub fn sightings_in_bounce(raw: &[u8]) -> Vec<BlockSighting> {
    let outer = HeaderBlock::parse(raw);
    let outer_date = outer.get("Date").and_then(rfc3339_from_rfc5322);
    let Some(message) = MessageParser::default().parse(raw) else {
        return Vec::new();
    };
    let mut status_parts: Vec<&[u8]> = Vec::new();
    let mut text_parts: Vec<String> = Vec::new();
    let mut message_id: Option<String> = None;
    for part in &message.parts {
        let (ctype, subtype) = crate::report_parser::type_and_subtype(part.content_type());
        match (ctype.as_str(), subtype.as_str()) {
            ("message", "delivery-status" | "global-delivery-status") => {
                status_parts.push(part.contents())
            }
            ("message", "rfc822" | "global") => {
                if let PartType::Message(inner) = &part.body {
                    message_id = message_id.or(inner.message_id().map(bare_message_id));
                }
            }
            (_, "rfc822-headers" | "global-headers") => {
                let headers = HeaderBlock::parse(part.contents());
                message_id = message_id.or(headers.get("Message-ID").map(bare_message_id));
            }
            ("text", "plain") | ("text", "") => match &part.body {
                PartType::Text(text) => text_parts.push(text.to_string()),
                _ => text_parts.push(String::from_utf8_lossy(part.contents()).into_owned()),
            },
            _ => {}
        }
    }
    if message.parts.len() <= 1 && text_parts.is_empty() {
        text_parts.push(
            String::from_utf8_lossy(message.body_text(0).unwrap_or_default().as_bytes())
                .into_owned(),
        );
    }

    let mut found = Vec::new();
    for body in status_parts {
        let (per_message, recipients) = status_groups(body);
        let arrival = per_message
            .get("Arrival-Date")
            .and_then(rfc3339_from_rfc5322);
        for group in recipients {
            let Some(diagnostic) = group.get("Diagnostic-Code") else {
                continue;
            };
            let Some(recognised) = recognise(diagnostic) else {
                continue;
            };
            let recipient = group
                .get("Final-Recipient")
                .or(group.get("Original-Recipient"))
                .map(|v| v.rsplit(';').next().unwrap_or(v).trim().to_string())
                .filter(|v| !v.is_empty());
            let at = group
                .get("Last-Attempt-Date")
                .and_then(rfc3339_from_rfc5322)
                .or_else(|| arrival.clone())
                .or_else(|| outer_date.clone());
            // `smtp; 550 ...`: the diagnostic type is not part of what Microsoft said.
            let said = match diagnostic.split_once(';') {
                Some((kind, rest)) if kind.trim().eq_ignore_ascii_case("smtp") => rest,
                _ => diagnostic,
            };
            found.push(BlockSighting {
                ip: recognised.ip.clone(),
                recipient,
                at,
                text: clip(said),
                recognised,
                message_id: message_id.clone(),
            });
        }
    }
    if found.is_empty() {
        for text in &text_parts {
            for line in unfolded_lines(text) {
                if let Some(recognised) = recognise(&line) {
                    found.push(BlockSighting {
                        ip: recognised.ip.clone(),
                        recipient: leading_recipient(&line),
                        at: outer_date.clone(),
                        text: clip(&line),
                        recognised,
                        message_id: message_id.clone(),
                    });
                }
            }
        }
    }
    found
}

/// The per-message fields and the per-recipient groups of a `message/delivery-status` body:
/// field blocks separated by empty lines.
fn status_groups(body: &[u8]) -> (HeaderBlock, Vec<HeaderBlock>) {
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
    let mut blocks = text
        .split("\n\n")
        .map(|block| HeaderBlock::parse(block.as_bytes()))
        .filter(|block| !block.is_empty());
    let per_message = blocks.next().unwrap_or_default();
    let mut recipients: Vec<HeaderBlock> = blocks.collect();
    // Some mailers write one block only, recipient fields included.
    if recipients.is_empty() && per_message.contains("Diagnostic-Code") {
        recipients.push(per_message.clone());
    }
    (per_message, recipients)
}

/// Lines of a text with continuation lines (starting with white space) joined to the line
/// before, as Postfix folds `host ... said: 550 ...` over several lines.
fn unfolded_lines(text: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t'])
            && let Some(last) = lines.last_mut()
            && !last.is_empty()
        {
            last.push(' ');
            last.push_str(line.trim());
        } else {
            lines.push(line.trim().to_string());
        }
    }
    lines
}

/// `<jane@example.org>: host ...` names the recipient first.
fn leading_recipient(line: &str) -> Option<String> {
    let rest = line.strip_prefix('<')?;
    let (address, _) = rest.split_once(">:")?;
    address.contains('@').then(|| address.to_string())
}

fn bare_message_id(id: &str) -> String {
    id.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn clip(text: &str) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(MAX_TEXT_CHARS) {
        Some((at, _)) => text[..at].to_string(),
        None => text,
    }
}

/// Every Outlook.com code in a send log's delivery statuses. Postfix: `status=deferred` and
/// `status=bounced` lines (the sending IP comes from the reply text only). CSV and JSON
/// Lines: a column or key named one of `DELIVERY_STATUS_NAMES`, beside the usual recipient,
/// `source_ip`, `sent_at` and `message_id`. A log without such a column gives nothing; a
/// line that cannot be read is skipped (the send-log import reports bad lines).
pub fn sightings_in_send_log(
    format: SendLogFormat,
    input: impl BufRead,
    options: &ReadOptions,
) -> Vec<BlockSighting> {
    match format {
        SendLogFormat::Postfix => postfix_sightings(input, options),
        SendLogFormat::Csv => csv_sightings(input),
        SendLogFormat::Jsonl => jsonl_sightings(input),
    }
}

/// Names of a send log's delivery-status column (compared as `FIELD_NAMES` are).
pub const DELIVERY_STATUS_NAMES: &[&str] = &[
    "status",
    "delivery_status",
    "dsn",
    "response",
    "smtp_response",
    "smtp_reply",
    "reply",
    "diagnostic",
    "diagnostic_code",
    "bounce_reason",
    "error",
];

fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace(['-', ' '], "_")
}

/// Which role a column name plays: 0..7 the send-log fields, 7 the delivery status.
fn role_of(name: &str) -> Option<usize> {
    let name = normalise(name);
    if DELIVERY_STATUS_NAMES.contains(&name.as_str()) {
        return Some(FIELD_NAMES.len());
    }
    FIELD_NAMES
        .iter()
        .position(|names| names.contains(&name.as_str()))
}

const STATUS: usize = FIELD_NAMES.len();
const F_MESSAGE_ID: usize = 0;
const F_RECIPIENT: usize = 1;
const F_SOURCE_IP: usize = 5;
const F_SENT_AT: usize = 6;

fn sighting_from_fields(fields: &[Option<String>; STATUS + 1]) -> Option<BlockSighting> {
    let text = fields[STATUS].as_deref()?;
    let recognised = recognise(text)?;
    let ip = fields[F_SOURCE_IP]
        .as_deref()
        .and_then(|ip| ip.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| ip.to_string())
        .or_else(|| recognised.ip.clone());
    Some(BlockSighting {
        ip,
        recipient: fields[F_RECIPIENT].as_deref().map(|r| r.trim().to_string()),
        at: fields[F_SENT_AT].as_deref().and_then(time_of),
        text: clip(text),
        recognised,
        message_id: fields[F_MESSAGE_ID].as_deref().map(bare_message_id),
    })
}

/// RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC) or Unix seconds, as RFC 3339 UTC.
fn time_of(text: &str) -> Option<String> {
    let text = text.trim();
    let utc = if let Ok(time) = chrono::DateTime::parse_from_rfc3339(text) {
        time.with_timezone(&chrono::Utc)
    } else if let Ok(seconds) = text.parse::<i64>() {
        chrono::DateTime::from_timestamp(seconds, 0)?
    } else {
        let naive =
            chrono::NaiveDateTime::parse_from_str(&text.replace('T', " "), "%Y-%m-%d %H:%M:%S%.f")
                .ok()?;
        naive.and_utc()
    };
    Some(utc.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

fn csv_sightings(input: impl BufRead) -> Vec<BlockSighting> {
    let mut lines = input
        .lines()
        .map_while(Result::ok)
        .filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let delimiter = [b',', b';', b'\t']
        .into_iter()
        .max_by_key(|d| header.bytes().filter(|b| b == d).count())
        .unwrap_or(b',');
    let split = |line: &str| -> Vec<String> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter)
            .flexible(true)
            .from_reader(line.as_bytes())
            .records()
            .next()
            .and_then(Result::ok)
            .map(|record| record.iter().map(str::to_string).collect())
            .unwrap_or_default()
    };
    let roles: Vec<Option<usize>> = split(&header).iter().map(|n| role_of(n)).collect();
    if !roles.contains(&Some(STATUS)) {
        return Vec::new();
    }
    lines
        .filter_map(|line| {
            let mut fields: [Option<String>; STATUS + 1] = Default::default();
            for (value, role) in split(&line).into_iter().zip(&roles) {
                if let Some(role) = role
                    && fields[*role].is_none()
                    && !value.trim().is_empty()
                {
                    fields[*role] = Some(value);
                }
            }
            sighting_from_fields(&fields)
        })
        .collect()
}

fn jsonl_sightings(input: impl BufRead) -> Vec<BlockSighting> {
    input
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| {
            let object: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(line.trim()).ok()?;
            let mut fields: [Option<String>; STATUS + 1] = Default::default();
            for (key, value) in &object {
                let Some(role) = role_of(key) else { continue };
                let text = match value {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => continue,
                };
                if fields[role].is_none() {
                    fields[role] = Some(text);
                }
            }
            sighting_from_fields(&fields)
        })
        .collect()
}

fn postfix_sightings(input: impl BufRead, options: &ReadOptions) -> Vec<BlockSighting> {
    let mut found = Vec::new();
    for line in input.lines().map_while(Result::ok) {
        let Some(at) = line.find(" status=") else {
            continue;
        };
        let status = &line[at + " status=".len()..];
        if !(status.starts_with("deferred") || status.starts_with("bounced")) {
            continue;
        }
        let Some(open) = status.find('(') else {
            continue;
        };
        // The one `)` Postfix closes the reply with: the reply's own, such as `(in reply to
        // MAIL FROM command)`, stay.
        let text = status[open + 1..].trim_end();
        let text = text.strip_suffix(')').unwrap_or(text);
        let Some(recognised) = recognise(text) else {
            continue;
        };
        let recipient = line.find(" to=<").and_then(|start| {
            let rest = &line[start + " to=<".len()..];
            rest.find(">,").map(|end| rest[..end].to_string())
        });
        // Every syslog shape the send log reader knows (classic, RFC 3339, RFC 5424, ...),
        // classic times as the latest such local time up to now, see `ReadOptions`.
        let at = crate::sendlog::postfix::syslog_line_time(&line, options);
        found.push(BlockSighting {
            ip: recognised.ip.clone(),
            recipient,
            at: at.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
            text: clip(text),
            recognised,
            message_id: None,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outlook_codes::BlockClass;

    #[test]
    fn a_postfix_dsn_with_an_s3140_diagnostic_names_ip_recipient_and_time() {
        let raw = include_bytes!("../fixtures/bounces/outlook-s3140-postfix-dsn.eml");
        let found = sightings_in_bounce(raw);
        assert_eq!(found.len(), 1, "{found:?}");
        let one = &found[0];
        assert_eq!(one.recognised.code, "S3140");
        assert_eq!(one.recognised.class, BlockClass::Block);
        assert_eq!(one.ip.as_deref(), Some("203.0.113.5"));
        assert_eq!(one.recipient.as_deref(), Some("zoe.miller@outlook.example"));
        assert_eq!(one.at.as_deref(), Some("2026-11-18T09:15:00Z"));
        assert_eq!(
            one.message_id.as_deref(),
            Some("20261118091458.7c1e@mta1.sender.example")
        );
        assert!(one.text.contains("block list (S3140)."), "{}", one.text);
    }

    #[test]
    fn a_plain_text_bounce_is_searched_line_by_line() {
        let raw = b"From: MAILER-DAEMON@mta1.sender.example\n\
Subject: failure notice\n\
Date: Wed, 18 Nov 2026 10:00:00 +0000\n\
\n\
Hi. This is the qmail-send program.\n\
<amy@hotmail.example>:\n\
192.0.2.77 failed after I sent the message.\n\
Remote host said: 421 RP-001 (BAY004-MC1F33) Unfortunately, some messages from 198.51.100.20 weren't sent.\n";
        let found = sightings_in_bounce(raw);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].recognised.code, "RP-001");
        assert_eq!(found[0].recognised.class, BlockClass::Throttle);
        assert_eq!(found[0].ip.as_deref(), Some("198.51.100.20"));
    }

    #[test]
    fn a_bounce_for_an_unknown_user_is_no_block() {
        let raw = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/reports/dsn-bounce-delivery-status.eml"
        ))
        .unwrap();
        assert!(sightings_in_bounce(&raw).is_empty());
        assert!(sightings_in_bounce(b"").is_empty());
        assert!(sightings_in_bounce(b"\xff\xfe garbage").is_empty());
    }

    #[test]
    fn postfix_deferred_and_bounced_lines_are_read() {
        let log = "Nov 18 09:15:00 mta1 postfix/smtp[9]: 4ABC: to=<zoe@outlook.example>, relay=outlook.example[192.0.2.77]:25, delay=1, dsn=4.7.0, status=deferred (host outlook.example[192.0.2.77] said: 451 4.7.650 The mail server [203.0.113.5] has been temporarily rate limited due to IP reputation. (in reply to MAIL FROM command))\n\
Nov 18 09:16:00 mta1 postfix/smtp[9]: 4ABD: to=<amy@outlook.example>, relay=outlook.example[192.0.2.77]:25, delay=1, dsn=5.7.1, status=bounced (host outlook.example[192.0.2.77] said: 550 SC-001 (BAY004-MC1F12) Unfortunately, messages from 203.0.113.5 weren't sent. (in reply to MAIL FROM command))\n\
Nov 18 09:17:00 mta1 postfix/smtp[9]: 4ABE: to=<bob@example.net>, relay=mx[198.51.100.7]:25, dsn=5.1.1, status=bounced (host mx[198.51.100.7] said: 550 5.1.1 unknown user)\n\
Nov 18 09:18:00 mta1 postfix/smtp[9]: 4ABF: to=<c@outlook.example>, relay=outlook.example[192.0.2.77]:25, dsn=2.0.0, status=sent (250 2.0.0 OK SC-001)\n";
        let found = sightings_in_send_log(
            SendLogFormat::Postfix,
            log.as_bytes(),
            &ReadOptions::utc(2026),
        );
        let got: Vec<_> = found
            .iter()
            .map(|s| {
                (
                    s.recognised.code.as_str(),
                    s.recognised.class,
                    s.ip.as_deref(),
                    s.recipient.as_deref(),
                    s.at.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "4.7.650",
                    BlockClass::Throttle,
                    Some("203.0.113.5"),
                    Some("zoe@outlook.example"),
                    Some("2026-11-18T09:15:00Z")
                ),
                (
                    "SC-001",
                    BlockClass::Block,
                    Some("203.0.113.5"),
                    Some("amy@outlook.example"),
                    Some("2026-11-18T09:16:00Z")
                ),
            ]
        );
        // The reply's text keeps its own closing parenthesis.
        assert!(
            found[1].text.ends_with("(in reply to MAIL FROM command)"),
            "{}",
            found[1].text
        );
    }

    /// Every syslog shape the send log reader takes is dated: RFC 5424, `<PRI>` and
    /// journald's `+0000` lines had no time before.
    #[test]
    fn postfix_lines_in_other_syslog_shapes_are_dated() {
        let status = "postfix/smtp 9 - - 4ABC: to=<zoe@outlook.example>, relay=outlook.example[192.0.2.77]:25, dsn=5.7.1, status=bounced (host outlook.example[192.0.2.77] said: 550 SC-001 (BAY004-MC1F12) Unfortunately, messages from 203.0.113.5 weren't sent.)";
        let classic = status.replacen(" 9 - -", "[9]:", 1);
        let log = format!(
            "<22>1 2026-11-18T09:15:00.5+01:00 mta1 {status}\n\
             <22>Nov 18 09:16:00 mta1 {classic}\n\
             2026-11-18T09:17:00+0000 mta1 {classic}\n\
             2026-11-18 09:18:00 mta1 {classic}\n"
        );
        let found = sightings_in_send_log(
            SendLogFormat::Postfix,
            log.as_bytes(),
            &ReadOptions::utc(2026),
        );
        let at: Vec<_> = found.iter().map(|s| s.at.as_deref()).collect();
        assert_eq!(
            at,
            [
                Some("2026-11-18T08:15:00Z"),
                Some("2026-11-18T09:16:00Z"),
                Some("2026-11-18T09:17:00Z"),
                Some("2026-11-18T09:18:00Z")
            ]
        );
    }

    #[test]
    fn a_csv_send_log_with_a_status_column_gives_its_source_ip() {
        let log = "message_id,recipient,source_ip,sent_at,smtp_response\n\
m1@sender.example,zoe@outlook.example,192.0.2.10,2026-11-18T09:00:00Z,\"550 SC-004 (BAY004) Unfortunately, some messages weren't sent\"\n\
m2@sender.example,bob@example.net,192.0.2.10,2026-11-18T09:00:01Z,250 OK\n";
        let found =
            sightings_in_send_log(SendLogFormat::Csv, log.as_bytes(), &ReadOptions::utc(2026));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].ip.as_deref(), Some("192.0.2.10"));
        assert_eq!(found[0].recognised.code, "SC-004");
        assert_eq!(found[0].message_id.as_deref(), Some("m1@sender.example"));
        // Without a status column there is nothing to find.
        let plain = "message_id,recipient\nm1@sender.example,zoe@outlook.example\n";
        assert!(
            sightings_in_send_log(
                SendLogFormat::Csv,
                plain.as_bytes(),
                &ReadOptions::utc(2026)
            )
            .is_empty()
        );
    }

    #[test]
    fn a_jsonl_send_log_with_a_dsn_key_is_read() {
        let log = r#"{"message_id":"m1@sender.example","rcpt":"zoe@outlook.example","ip":"192.0.2.11","sent_at":1795000000,"response":"421 RP-002 (COL0) Unfortunately, some messages from 192.0.2.11 weren't sent."}
not json
{"message_id":"m2@sender.example","rcpt":"x@example.net","response":"250 ok"}
"#;
        let found = sightings_in_send_log(
            SendLogFormat::Jsonl,
            log.as_bytes(),
            &ReadOptions::utc(2026),
        );
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].recognised.class, BlockClass::Throttle);
        assert_eq!(found[0].ip.as_deref(), Some("192.0.2.11"));
        assert!(found[0].at.is_some());
    }
}
