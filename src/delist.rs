//! The delisting packet of `fbl report delist --ip IP`: the evidence Microsoft's sender
//! support form asks for, gathered from the store, as plain text or Markdown ready to paste.
//! Pure: takes the figures, returns text.

use crate::header_block::HeaderBlock;
use crate::outlook_codes::BlockClass;
use crate::rates::{BlockEvent, SndsDay, SndsStatus, Thresholds, episodes, judge, percent};
use std::fmt::Write as _;

/// Everything the packet says.
#[derive(Debug, Clone)]
pub struct DelistInput {
    pub ip: String,
    pub generated_at: String,
    pub from_day: String,
    pub thresholds: Thresholds,
    /// Whether the IP is one of `[report] sending_ips`; `None` when none are configured.
    pub sending_ip: Option<bool>,
    pub blocks: Vec<BlockEvent>,
    /// Every ipStatus period kept (the packet picks those containing the IP).
    pub ip_status: Vec<SndsStatus>,
    pub snds_available: bool,
    pub snds_days: Vec<SndsDay>,
    pub complaints_by_day: Vec<(String, u64)>,
    pub send_log_by_day: Vec<(String, u64)>,
    /// Minutes from each complaint report to the suppression of its complainant; `None`
    /// for complaints whose complainant was not suppressed.
    pub suppression_minutes: Vec<Option<i64>>,
    pub suppressions_active: u64,
    /// Reporter, reports, latest report.
    pub reporters: Vec<(String, u64, String)>,
    /// Configured feedback mailboxes: name and host.
    pub mailboxes: Vec<(String, String)>,
    /// The header block of a recent message from the IP.
    pub example_headers: Option<HeaderBlock>,
}

/// Plain text or Markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketFormat {
    Text,
    Markdown,
}

/// Headers whose addresses are the recipient's: replaced in the example.
const RECIPIENT_HEADERS: &[&str] = &[
    "to",
    "cc",
    "delivered-to",
    "x-original-to",
    "x-apparently-to",
    "original-recipient",
    "x-hmxmroriginalrecipient",
];

/// The longest header value shown in the example.
const MAX_HEADER_CHARS: usize = 300;

/// Replaces every address in a text with `[recipient]`.
fn redact_addresses(text: &str) -> String {
    text.split_inclusive(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"'))
        .map(|piece| {
            let word = piece.trim_end_matches(|c: char| {
                c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"')
            });
            if word.contains('@') && !word.starts_with('@') {
                piece.replacen(word, "[recipient]", 1)
            } else {
                piece.to_string()
            }
        })
        .collect()
}

/// The example headers with the recipient's addresses removed: recipient fields redacted
/// whole, and `for <address>` in Received fields.
pub fn redacted_headers(headers: &HeaderBlock) -> Vec<(String, String)> {
    headers
        .fields()
        .map(|(field, value)| {
            let name = field.to_ascii_lowercase();
            let value = if RECIPIENT_HEADERS.contains(&name.as_str()) {
                redact_addresses(value)
            } else if name == "received" {
                match value.find(" for ") {
                    Some(at) => {
                        let (head, tail) = value.split_at(at);
                        format!("{head}{}", redact_addresses(tail))
                    }
                    None => value.to_owned(),
                }
            } else {
                value.to_owned()
            };
            let value = if value.chars().count() > MAX_HEADER_CHARS {
                let mut short: String = value.chars().take(MAX_HEADER_CHARS).collect();
                short.push_str(" …");
                short
            } else {
                value
            };
            (field.to_owned(), value)
        })
        .collect()
}

/// Writes headings, lists and tables as plain text or Markdown.
struct Doc {
    format: PacketFormat,
    text: String,
}

impl Doc {
    fn title(&mut self, title: &str) {
        match self.format {
            PacketFormat::Markdown => {
                let _ = writeln!(self.text, "# {title}\n");
            }
            PacketFormat::Text => {
                let _ = writeln!(
                    self.text,
                    "{title}\n{}\n",
                    "=".repeat(title.chars().count())
                );
            }
        }
    }

    fn heading(&mut self, heading: &str) {
        match self.format {
            PacketFormat::Markdown => {
                let _ = writeln!(self.text, "## {heading}\n");
            }
            PacketFormat::Text => {
                let _ = writeln!(
                    self.text,
                    "{heading}\n{}\n",
                    "-".repeat(heading.chars().count())
                );
            }
        }
    }

    fn para(&mut self, text: &str) {
        let _ = writeln!(self.text, "{text}\n");
    }

    fn items(&mut self, items: &[String]) {
        for item in items {
            let _ = writeln!(self.text, "- {item}");
        }
        self.text.push('\n');
    }

    fn table(&mut self, headers: &[&str], rows: &[Vec<String>]) {
        if rows.is_empty() {
            return;
        }
        match self.format {
            PacketFormat::Markdown => {
                let cell = |c: &str| c.replace('|', "\\|");
                let _ = writeln!(self.text, "| {} |", headers.join(" | "));
                let _ = writeln!(self.text, "|{}", " --- |".repeat(headers.len()));
                for row in rows {
                    let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
                    let _ = writeln!(self.text, "| {} |", cells.join(" | "));
                }
            }
            PacketFormat::Text => {
                let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
                for row in rows {
                    for (i, c) in row.iter().enumerate() {
                        widths[i] = widths[i].max(c.chars().count());
                    }
                }
                let line = |cells: Vec<&str>| -> String {
                    let padded: Vec<String> = cells
                        .iter()
                        .enumerate()
                        .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
                        .collect();
                    format!("  {}", padded.join("  ").trim_end())
                };
                let _ = writeln!(self.text, "{}", line(headers.to_vec()));
                for row in rows {
                    let _ = writeln!(
                        self.text,
                        "{}",
                        line(row.iter().map(String::as_str).collect())
                    );
                }
            }
        }
        self.text.push('\n');
    }

    fn code(&mut self, lines: &[String]) {
        match self.format {
            PacketFormat::Markdown => {
                let _ = writeln!(self.text, "```\n{}\n```\n", lines.join("\n"));
            }
            PacketFormat::Text => {
                for line in lines {
                    let _ = writeln!(self.text, "    {line}");
                }
                self.text.push('\n');
            }
        }
    }
}

fn contains(status: &SndsStatus, ip: &str) -> bool {
    match (
        ip.parse::<std::net::IpAddr>(),
        status.first_ip.parse::<std::net::IpAddr>(),
        status.last_ip.parse::<std::net::IpAddr>(),
    ) {
        (Ok(ip), Ok(first), Ok(last)) => first <= ip && ip <= last,
        _ => false,
    }
}

/// The median, 95th percentile and longest of some minutes, in words.
fn delay_summary(minutes: &[i64]) -> String {
    if minutes.is_empty() {
        return "no complainant was suppressed".to_string();
    }
    let mut sorted = minutes.to_vec();
    sorted.sort_unstable();
    let at = |q: f64| sorted[((sorted.len() - 1) as f64 * q).round() as usize];
    format!(
        "median {}, 95% within {}, longest {}",
        duration(at(0.5)),
        duration(at(0.95)),
        duration(*sorted.last().expect("not empty"))
    )
}

fn duration(minutes: i64) -> String {
    let minutes = minutes.max(0);
    match minutes {
        0..60 => format!("{minutes} min"),
        60..2880 => format!("{:.1} h", minutes as f64 / 60.0),
        _ => format!("{:.1} days", minutes as f64 / 1440.0),
    }
}

/// The packet, ready to paste.
pub fn packet(input: &DelistInput, format: PacketFormat) -> String {
    let mut doc = Doc {
        format,
        text: String::new(),
    };
    let ip = &input.ip;
    doc.title(&format!("Delisting evidence for {ip}"));
    doc.para(&format!(
        "Gathered by fbl from its store at {}; figures cover {} to {}. Complaint rates are \
         complaints ÷ messages (messages from SNDS where it has a row, else from our send log).",
        input.generated_at,
        input.from_day,
        input.generated_at.get(..10).unwrap_or(&input.generated_at)
    ));

    // Summary.
    let found = episodes(&input.blocks, &input.ip_status);
    let latest_block = found.iter().rev().find(|e| e.class == BlockClass::Block);
    let latest_throttle = found.iter().rev().find(|e| e.class == BlockClass::Throttle);
    let listed: Vec<&SndsStatus> = input.ip_status.iter().filter(|s| contains(s, ip)).collect();
    let complaints: u64 = input.complaints_by_day.iter().map(|(_, n)| n).sum();
    let suppressed: Vec<i64> = input
        .suppression_minutes
        .iter()
        .flatten()
        .copied()
        .collect();
    let mut summary: Vec<String> = Vec::new();
    summary.push(match input.sending_ip {
        Some(true) => format!("Sending IP: {ip}, one of our configured sending IPs."),
        Some(false) => format!("Sending IP: {ip} (not in our configured sending IPs)."),
        None => format!("Sending IP: {ip}."),
    });
    summary.push(match latest_block {
        Some(e) => format!(
            "Outlook.com has rejected mail from this IP since {} ({}: {}); last rejection {}, {} rejections seen.",
            e.first_seen,
            e.codes.join(", "),
            e.meaning,
            e.last_seen,
            e.sightings
        ),
        None => "No Outlook.com block (5xx) seen in our bounces or send log.".to_string(),
    });
    if let Some(e) = latest_throttle {
        summary.push(format!(
            "Outlook.com deferred (4xx, rate limiting) mail from this IP from {} to {} ({}), {} times.",
            e.first_seen,
            e.last_seen,
            e.codes.join(", "),
            e.sightings
        ));
    }
    summary.push(if !input.snds_available {
        "SNDS: no SNDS data stored by fbl.".to_string()
    } else if listed.is_empty() {
        "SNDS ipStatus: the IP is not listed.".to_string()
    } else {
        let s = listed.last().expect("not empty");
        format!(
            "SNDS ipStatus: {} since {} ({}).",
            if s.blocked { "blocked" } else { "listed" },
            s.since,
            s.details
        )
    });
    let volume: u64 = input
        .send_log_by_day
        .iter()
        .map(|(_, n)| n)
        .sum::<u64>()
        .max(input.snds_days.iter().map(|d| d.message_recipients).sum());
    summary.push(format!(
        "Complaints about mail from this IP: {complaints} in the period{}.",
        if volume > 0 {
            format!(
                ", against {volume} messages ({})",
                percent(Some(complaints as f64 * 100.0 / volume as f64))
            )
        } else {
            String::new()
        }
    ));
    summary.push(format!(
        "Complainants suppressed: {} of {} complaints; time from the provider's report to suppression: {}.",
        suppressed.len(),
        input.suppression_minutes.len(),
        delay_summary(&suppressed)
    ));
    summary.push(format!(
        "Suppression list: {} addresses that we never mail again.",
        input.suppressions_active
    ));
    let loops: Vec<String> = input
        .reporters
        .iter()
        .map(|(reporter, n, latest)| format!("{reporter} ({n} reports, latest {latest})"))
        .collect();
    summary.push(if loops.is_empty() {
        "Feedback loops: no reports received yet.".to_string()
    } else {
        format!(
            "Feedback loops we receive and act on: {}.",
            loops.join("; ")
        )
    });
    if !input.mailboxes.is_empty() {
        let names: Vec<String> = input
            .mailboxes
            .iter()
            .map(|(name, host)| format!("{name} ({host})"))
            .collect();
        summary.push(format!(
            "Feedback mailboxes read automatically: {}.",
            names.join(", ")
        ));
    }
    doc.heading("Summary");
    doc.items(&summary);

    doc.heading("Bounce texts from Outlook.com");
    if input.blocks.is_empty() {
        doc.para("None recorded.");
    } else {
        let mut codes: Vec<(String, String, u64, String, String)> = Vec::new();
        for event in &input.blocks {
            match codes.iter_mut().find(|c| c.0 == event.code) {
                Some(c) => {
                    c.2 += 1;
                    c.3 = event.seen_at.clone();
                    c.4 = event.text.clone();
                }
                None => codes.push((
                    event.code.clone(),
                    event.seen_at.clone(),
                    1,
                    event.seen_at.clone(),
                    event.text.clone(),
                )),
            }
        }
        let rows: Vec<Vec<String>> = codes
            .iter()
            .map(|(code, first, n, last, _)| {
                vec![code.clone(), first.clone(), last.clone(), n.to_string()]
            })
            .collect();
        doc.table(&["code", "first seen", "last seen", "times"], &rows);
        for (code, _, _, _, text) in &codes {
            doc.para(&format!("Latest {code} text:"));
            doc.code(std::slice::from_ref(text));
        }
    }

    doc.heading("SNDS history");
    if input.snds_days.is_empty() {
        doc.para(if input.snds_available {
            "SNDS has no rows for this IP in the period."
        } else {
            "No SNDS data stored by fbl."
        });
    } else {
        let rows: Vec<Vec<String>> = input
            .snds_days
            .iter()
            .map(|d| {
                vec![
                    d.day.clone(),
                    d.message_recipients.to_string(),
                    d.filter_result.clone(),
                    d.complaint_rate.clone(),
                    d.trap_hits.to_string(),
                ]
            })
            .collect();
        doc.table(
            &[
                "day",
                "recipients",
                "filter result",
                "complaint rate",
                "trap hits",
            ],
            &rows,
        );
    }
    if !listed.is_empty() {
        let rows: Vec<Vec<String>> = listed
            .iter()
            .map(|s| {
                vec![
                    format!("{}–{}", s.first_ip, s.last_ip),
                    if s.blocked { "blocked" } else { "listed" }.to_string(),
                    s.since.clone(),
                    s.details.clone(),
                ]
            })
            .collect();
        doc.table(&["ipStatus range", "status", "since", "details"], &rows);
    }

    doc.heading("Complaint rates by day");
    let mut days: Vec<&str> = input
        .complaints_by_day
        .iter()
        .map(|(d, _)| d.as_str())
        .chain(input.send_log_by_day.iter().map(|(d, _)| d.as_str()))
        .chain(input.snds_days.iter().map(|d| d.day.as_str()))
        .collect();
    days.sort_unstable();
    days.dedup();
    if days.is_empty() {
        doc.para("No complaints and no volume recorded for this IP in the period.");
    } else {
        let rows: Vec<Vec<String>> = days
            .iter()
            .map(|day| {
                let complaints = input
                    .complaints_by_day
                    .iter()
                    .find(|(d, _)| d == day)
                    .map(|(_, n)| *n)
                    .unwrap_or(0);
                let snds = input
                    .snds_days
                    .iter()
                    .find(|d| d.day == *day)
                    .map(|d| d.message_recipients)
                    .filter(|m| *m > 0);
                let log = input
                    .send_log_by_day
                    .iter()
                    .find(|(d, _)| d == day)
                    .map(|(_, n)| *n);
                let (messages, source) = match (snds, log) {
                    (Some(m), _) => (Some(m), "SNDS"),
                    (None, Some(m)) => (Some(m), "send log"),
                    (None, None) => (None, "-"),
                };
                let (rate, level) = judge(complaints, messages, &input.thresholds);
                vec![
                    day.to_string(),
                    complaints.to_string(),
                    messages
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "-".into()),
                    source.to_string(),
                    percent(rate),
                    level.as_str().to_string(),
                ]
            })
            .collect();
        doc.table(
            &[
                "day",
                "complaints",
                "messages",
                "volume from",
                "rate",
                "level",
            ],
            &rows,
        );
    }

    doc.heading("Example headers of a recent message from this IP");
    match &input.example_headers {
        Some(headers) if !headers.is_empty() => {
            doc.para("Recipient addresses are replaced by [recipient].");
            let lines: Vec<String> = redacted_headers(headers)
                .into_iter()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            doc.code(&lines);
        }
        _ => doc.para("No stored complaint or bounce about this IP carries the message's headers."),
    }
    doc.text.trim_end().to_string() + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipient_addresses_are_redacted_and_the_sender_kept() {
        let headers = HeaderBlock::parse(
            b"Received: from mta1.sender.example (mta1 [203.0.113.5]) by mx.example.net\n for <zoe@outlook.example>; Wed, 18 Nov 2026 09:15:00 +0000\n\
From: News <news@sender.example>\n\
To: \"Zoe\" <zoe@outlook.example>, amy@outlook.example\n\
Subject: Hello\n",
        );
        let got = redacted_headers(&headers);
        assert_eq!(
            got[0].1,
            "from mta1.sender.example (mta1 [203.0.113.5]) by mx.example.net for <[recipient]>; Wed, 18 Nov 2026 09:15:00 +0000"
        );
        assert_eq!(got[1].1, "News <news@sender.example>");
        assert_eq!(got[2].1, "\"Zoe\" <[recipient]>, [recipient]");
    }

    #[test]
    fn delays_read_as_a_person_would_say_them() {
        assert_eq!(delay_summary(&[]), "no complainant was suppressed");
        assert_eq!(
            delay_summary(&[3, 5, 200, 4000]),
            "median 3.3 h, 95% within 2.8 days, longest 2.8 days"
        );
    }
}
