//! The delisting packet of `fbl report delist --ip IP`: the evidence Microsoft's sender
//! support form asks for, gathered from the store, as plain text or Markdown ready to paste.
//! Pure: takes the figures, returns text.

use crate::address;
use crate::config::{AttributionConfig, HeaderValueKind};
use crate::header_block::HeaderBlock;
use crate::outlook_codes::BlockClass;
use crate::rates::{
    BlockEvent, SndsDay, SndsStatus, Thresholds, counted, episodes, judge, percent,
};
use crate::verp::VerpTemplate;
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
    /// Day, complaints, of which Microsoft's (the only ones SNDS's volume counts). The day
    /// is the one `fbl report` rates them against: their send day when the send log places
    /// them, else the day they were reported.
    pub complaints_by_day: Vec<(String, u64, u64)>,
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
    /// The complainant the example's own report names (its `Original-Rcpt-To`, or what the
    /// parser found), removed from the headers with what they show of it.
    pub example_complainants: Vec<String>,
}

/// Plain text or Markdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketFormat {
    Text,
    Markdown,
}

/// Headers whose addresses are the recipient's: each mailbox, display name included, shown
/// as `[recipient]`.
const RECIPIENT_HEADERS: &[&str] = &[
    "to",
    "cc",
    "bcc",
    "resent-to",
    "resent-cc",
    "delivered-to",
    "x-delivered-to",
    "x-original-to",
    "x-apparently-to",
    "envelope-to",
    "x-envelope-to",
    "original-recipient",
    "x-hmxmroriginalrecipient",
];

/// Headers whose value is kept (after the complainant is removed from it): what Microsoft
/// needs to see (sender, subject, date, authentication, the path with the sending IP) and
/// what cannot hold a recipient. Any other header, the sender's own among them, is shown
/// with its value `[redacted]`: an unknown header may carry a recipient id.
const KEPT_HEADERS: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "subject",
    "date",
    "return-path",
    "received",
    "received-spf",
    "authentication-results",
    "arc-authentication-results",
    "arc-seal",
    "arc-message-signature",
    "dkim-signature",
    "domainkey-signature",
    "list-id",
    "list-unsubscribe-post",
    "precedence",
    "auto-submitted",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "x-mailer",
    "x-originating-ip",
];

/// Headers that name a message: shown as `<[redacted]@domain>`, since a sender's Message-ID
/// can stand for the recipient (the send log maps one to the other).
const MESSAGE_ID_HEADERS: &[&str] = &[
    "message-id",
    "in-reply-to",
    "references",
    "resent-message-id",
];

/// Headers of an unsubscribe link: each URI shown with its scheme and host only.
const UNSUBSCRIBE_HEADERS: &[&str] = &["list-unsubscribe"];

/// Headers added by Microsoft's own servers, kept (after the complainant is removed from
/// them): they are Microsoft's evidence.
const MICROSOFT_HEADER_PREFIXES: &[&str] = &["x-ms-", "x-microsoft-", "x-forefront-"];

/// The shortest local part or name word removed wherever it appears: shorter ones (`jo`)
/// would cut unrelated words.
const MIN_SECRET_CHARS: usize = 3;

/// The longest header value shown in the example.
const MAX_HEADER_CHARS: usize = 300;

const RECIPIENT: &str = "[recipient]";
const REDACTED: &str = "[redacted]";

/// What `[attribution]` says identifies a recipient in the sender's own mail: the example
/// headers are redacted with it.
#[derive(Debug, Clone, Default)]
pub struct Redaction {
    /// Lower-case names of the `[attribution] header` headers, with the JSON member of the
    /// `base64_json` ones.
    identifier_headers: Vec<(String, Option<String>)>,
    verp: Vec<VerpTemplate>,
    /// Complainant addresses known besides the headers (the report's own fields).
    complainants: Vec<String>,
}

impl Redaction {
    /// From the configuration (whose VERP templates were checked when it was read; one that
    /// does not parse is skipped).
    pub fn new(config: &AttributionConfig) -> Redaction {
        Redaction {
            identifier_headers: config
                .header
                .iter()
                .map(|h| {
                    let json_field = (h.value == HeaderValueKind::Base64Json)
                        .then(|| h.json_field.clone().unwrap_or_else(|| "recipient".into()));
                    (h.name.to_ascii_lowercase(), json_field)
                })
                .collect(),
            verp: config
                .verp
                .iter()
                .filter_map(|t| VerpTemplate::parse(t).ok())
                .collect(),
            complainants: Vec::new(),
        }
    }
}

/// The address and display name of one mailbox (`"Name" <a@b>`, `Name <a@b>`, `a@b`).
fn mailbox_parts(mailbox: &str) -> (Option<&str>, Option<&str>) {
    match (mailbox.find('<'), mailbox.rfind('>')) {
        (Some(open), Some(close)) if open < close => {
            let name = mailbox[..open].trim().trim_matches('"').trim();
            let address = mailbox[open + 1..close].trim();
            (
                Some(address).filter(|a| a.contains('@')),
                Some(name).filter(|n| !n.is_empty()),
            )
        }
        _ => (
            Some(mailbox.trim_matches(|c: char| c == '"' || c.is_whitespace()))
                .filter(|a| a.contains('@')),
            None,
        ),
    }
}

/// The words of a header value that hold an `@`, as bare addresses: angle brackets,
/// quotes, a `mailto:` scheme and `?` parameters removed.
fn address_words(value: &str) -> Vec<&str> {
    value
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';' | '"' | '(' | ')'))
        .map(|word| {
            let word = word
                .strip_prefix("mailto:")
                .or_else(|| word.strip_prefix("MAILTO:"))
                .unwrap_or(word);
            word.split('?').next().unwrap_or(word)
        })
        .filter(|word| word.contains('@') && !word.starts_with('@'))
        .collect()
}

/// Percent-encodes what a URL would.
fn url_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Replaces every occurrence of `needle` in `text`, ASCII case ignored, with `with`; when
/// `whole_words`, only where no letter or digit touches it on either side.
fn replace_ignoring_case(text: &str, needle: &str, with: &str, whole_words: bool) -> String {
    if needle.is_empty() {
        return text.to_string();
    }
    let lower_text = text.to_ascii_lowercase();
    let lower_needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut from = 0;
    while let Some(found) = lower_text[from..].find(&lower_needle) {
        let at = from + found;
        let end = at + lower_needle.len();
        let touches = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        if whole_words
            && (touches(text[..at].chars().next_back()) || touches(text[end..].chars().next()))
        {
            from = at + lower_needle.chars().next().map_or(1, char::len_utf8);
            continue;
        }
        out.push_str(&text[done..at]);
        out.push_str(with);
        done = end;
        from = end;
    }
    out.push_str(&text[done..]);
    out
}

/// What identifies the complainant, found in the headers, to be removed wherever it appears.
#[derive(Debug, Default)]
struct Secrets {
    /// Addresses, their encodings and local parts: replaced by `[recipient]`.
    addresses: Vec<String>,
    /// Display names and their words: replaced by `[recipient]` as whole words.
    names: Vec<String>,
    /// Ids, tokens and other identifier values: replaced by `[redacted]`.
    ids: Vec<String>,
}

impl Secrets {
    fn address(&mut self, address: &str, redaction: &Redaction) {
        let address = address.trim().trim_matches(|c| c == '<' || c == '>');
        let Some((local, domain)) = address.rsplit_once('@') else {
            return;
        };
        if local.is_empty() || domain.is_empty() {
            return;
        }
        let local = local.trim_matches('"');
        let mut forms = vec![
            address.to_string(),
            format!("{local}={domain}"),
            format!("{local}%40{domain}"),
            url_encoded(address),
        ];
        for template in &redaction.verp {
            if let Some(encoded) = template.encode(local, domain) {
                forms.push(encoded.split('@').next().unwrap_or(&encoded).to_string());
            }
        }
        if local.chars().count() >= MIN_SECRET_CHARS {
            forms.push(local.to_string());
            forms.push(url_encoded(local));
        }
        self.addresses.extend(forms);
    }

    fn name(&mut self, name: &str) {
        self.names.push(name.to_string());
        self.names.extend(
            name.split(|c: char| !c.is_alphanumeric())
                .filter(|word| word.chars().count() >= MIN_SECRET_CHARS)
                .map(str::to_string),
        );
    }

    fn id(&mut self, id: &str) {
        let id = id.trim().trim_matches(|c| c == '<' || c == '>');
        if id.chars().count() >= MIN_SECRET_CHARS {
            self.ids.push(id.to_string());
        }
    }

    /// Everything found in the headers, longest first so that an address goes before its
    /// local part.
    fn find(headers: &HeaderBlock, redaction: &Redaction) -> Secrets {
        let mut secrets = Secrets::default();
        for address in &redaction.complainants {
            secrets.address(address, redaction);
        }
        for (field, value) in headers.fields() {
            let name = field.to_ascii_lowercase();
            if RECIPIENT_HEADERS.contains(&name.as_str()) {
                for mailbox in address::split_list(value) {
                    let (address, display) = mailbox_parts(mailbox);
                    if let Some(address) = address {
                        secrets.address(address, redaction);
                    }
                    if let Some(display) = display {
                        secrets.name(display);
                    }
                }
            }
            if name == "received"
                && let Some(at) = value.find(" for ")
            {
                for address in address_words(&value[at..]).into_iter().take(1) {
                    secrets.address(address, redaction);
                }
            }
            if let Some((_, json_field)) = redaction
                .identifier_headers
                .iter()
                .find(|(n, _)| *n == name)
            {
                secrets.id(value);
                for address in address_words(value) {
                    secrets.address(address, redaction);
                }
                if let Some(field) = json_field
                    && let Some(found) = crate::attribution::decode_base64_json(value, field)
                {
                    if found.contains('@') {
                        secrets.address(&found, redaction);
                    } else {
                        secrets.id(&found);
                    }
                }
            }
            for word in address_words(value) {
                for template in &redaction.verp {
                    let Some(capture) = template.capture(word) else {
                        continue;
                    };
                    if let (Some(local), Some(domain)) = (&capture.local, &capture.domain) {
                        secrets.address(&format!("{local}@{domain}"), redaction);
                    }
                    for id in [&capture.id, &capture.token].into_iter().flatten() {
                        secrets.id(id);
                    }
                }
            }
        }
        for list in [&mut secrets.addresses, &mut secrets.names, &mut secrets.ids] {
            list.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
            list.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
        }
        secrets
    }

    /// The value with every secret removed.
    fn remove_from(&self, value: &str) -> String {
        let mut value = value.to_string();
        for address in &self.addresses {
            value = replace_ignoring_case(&value, address, RECIPIENT, false);
        }
        for id in &self.ids {
            value = replace_ignoring_case(&value, id, REDACTED, false);
        }
        for name in &self.names {
            value = replace_ignoring_case(&value, name, RECIPIENT, true);
        }
        value
    }
}

/// Each address a VERP template matches, shown as the template with its placeholders
/// `[redacted]`.
fn mask_verp(value: &str, redaction: &Redaction) -> String {
    let mut value = value.to_string();
    for word in address_words(&value.clone()) {
        if let Some(template) = redaction.verp.iter().find(|t| t.capture(word).is_some()) {
            value = value.replace(word, &template.masked(REDACTED));
        }
    }
    value
}

/// `<local@domain>` as `<[redacted]@domain>`, for each message id of the value.
fn mask_message_ids(value: &str) -> String {
    let ids: Vec<String> = value
        .split(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == ',')
        .filter(|id| !id.is_empty())
        .map(|id| match id.rsplit_once('@') {
            Some((_, domain)) => format!("<{REDACTED}@{domain}>"),
            None => format!("<{REDACTED}>"),
        })
        .collect();
    ids.join(" ")
}

/// Each URI of a List-Unsubscribe value with its scheme and host only:
/// `<mailto:[redacted]@host>`, `<https://host/[redacted]>`.
fn mask_unsubscribe(value: &str) -> String {
    let uris: Vec<String> = value
        .split(',')
        .map(|uri| {
            uri.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
        })
        .filter(|uri| !uri.is_empty())
        .map(|uri| {
            if let Some(rest) = uri.get(..7).filter(|s| s.eq_ignore_ascii_case("mailto:")) {
                let address = uri[rest.len()..].split('?').next().unwrap_or("");
                match address.rsplit_once('@') {
                    Some((_, host)) => format!("<mailto:{REDACTED}@{host}>"),
                    None => format!("<mailto:{REDACTED}>"),
                }
            } else if let Some((scheme, rest)) = uri.split_once("://") {
                let host = rest.split(['/', '?', '#']).next().unwrap_or("");
                let host = host.rsplit('@').next().unwrap_or(host);
                format!("<{scheme}://{host}/{REDACTED}>")
            } else {
                format!("<{REDACTED}>")
            }
        })
        .collect();
    uris.join(", ")
}

/// The example headers with the complainant removed, for a packet that leaves the company:
///
/// - recipient headers (To, Cc, Delivered-To, ...): each mailbox, its display name
///   included, as `[recipient]`;
/// - the headers `[attribution] header` names, and any header not known to be needed or
///   safe (see `KEPT_HEADERS`): the value as `[redacted]`;
/// - Message-ID and its kin: the domain only; List-Unsubscribe: scheme and host only;
/// - addresses a configured VERP template matches (Return-Path): what the template decodes
///   as `[redacted]`;
/// - in every value kept, the complainant's address, its local part, its encodings
///   (`local=domain`, `%40`, URL-encoded, the configured VERP forms), display name, and the
///   ids and tokens found for it, wherever they appear (a `Received: ... for <address>`,
///   a DKIM `z=` copy of To).
pub fn redacted_headers(headers: &HeaderBlock, redaction: &Redaction) -> Vec<(String, String)> {
    let secrets = Secrets::find(headers, redaction);
    headers
        .fields()
        .map(|(field, value)| {
            let name = field.to_ascii_lowercase();
            let name = name.as_str();
            let value = if RECIPIENT_HEADERS.contains(&name) {
                vec![RECIPIENT; address::split_list(value).len().max(1)].join(", ")
            } else if redaction.identifier_headers.iter().any(|(n, _)| n == name) {
                REDACTED.to_string()
            } else if MESSAGE_ID_HEADERS.contains(&name) {
                secrets.remove_from(&mask_message_ids(value))
            } else if UNSUBSCRIBE_HEADERS.contains(&name) {
                secrets.remove_from(&mask_unsubscribe(value))
            } else if KEPT_HEADERS.contains(&name)
                || MICROSOFT_HEADER_PREFIXES
                    .iter()
                    .any(|p| name.starts_with(p))
            {
                secrets.remove_from(&mask_verp(value, redaction))
            } else {
                REDACTED.to_string()
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

/// The packet, ready to paste; the example headers redacted with `redaction`.
pub fn packet(input: &DelistInput, format: PacketFormat, redaction: &Redaction) -> String {
    let mut doc = Doc {
        format,
        text: String::new(),
    };
    let ip = &input.ip;
    doc.title(&format!("Delisting evidence for {ip}"));
    doc.para(&format!(
        "Gathered by fbl from its store at {}; figures cover {} to {}. Complaint rates are \
         complaints ÷ messages (messages from our send log; where it has none, from SNDS, against Microsoft's complaints alone).",
        input.generated_at,
        input.from_day,
        input.generated_at.get(..10).unwrap_or(&input.generated_at)
    ));

    // Summary.
    let found = episodes(&input.blocks, &input.ip_status);
    let latest_block = found.iter().rev().find(|e| e.class == BlockClass::Block);
    let latest_throttle = found.iter().rev().find(|e| e.class == BlockClass::Throttle);
    let listed: Vec<&SndsStatus> = input.ip_status.iter().filter(|s| contains(s, ip)).collect();
    let complaints: u64 = input.complaints_by_day.iter().map(|(_, n, _)| n).sum();
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
            "Outlook.com has rejected mail from this IP since {} ({}: {}); last rejection {}, {} seen.",
            e.first_seen,
            e.codes.join(", "),
            e.meaning,
            e.last_seen,
            counted(e.sightings, "rejection", "rejections")
        ),
        None => "No Outlook.com block (5xx) seen in our bounces or send log.".to_string(),
    });
    if let Some(e) = latest_throttle {
        summary.push(format!(
            "Outlook.com deferred (4xx, rate limiting) mail from this IP from {} to {} ({}), {}.",
            e.first_seen,
            e.last_seen,
            e.codes.join(", "),
            match e.sightings {
                1 => "once".to_string(),
                n => format!("{n} times"),
            }
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
    // As the report rates them: each day's complaints over the volume that counted them.
    let (rated, volume) = day_rates(input)
        .iter()
        .filter_map(|d| d.messages.map(|m| (d.rated, m)))
        .fold((0, 0), |(c, v), (rated, m)| (c + rated, v + m));
    summary.push(format!(
        "Complaints about mail from this IP: {complaints} in the period{}.",
        match volume {
            0 => String::new(),
            _ if rated == complaints => format!(
                ", against {} ({})",
                counted(volume, "message", "messages"),
                percent(Some(rated as f64 * 100.0 / volume as f64))
            ),
            _ => format!(
                "; {rated} of them on days of known volume, against {} ({})",
                counted(volume, "message", "messages"),
                percent(Some(rated as f64 * 100.0 / volume as f64))
            ),
        }
    ));
    summary.push(format!(
        "Complainants suppressed: {} of {}; time from the provider's report to suppression: {}.",
        suppressed.len(),
        counted(
            input.suppression_minutes.len() as u64,
            "complaint",
            "complaints"
        ),
        delay_summary(&suppressed)
    ));
    summary.push(format!(
        "Suppression list: {} that we never mail again.",
        counted(input.suppressions_active, "address", "addresses")
    ));
    let loops: Vec<String> = input
        .reporters
        .iter()
        .map(|(reporter, n, latest)| {
            format!(
                "{reporter} ({}, latest {latest})",
                counted(*n, "report", "reports")
            )
        })
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
    let days = day_rates(input);
    if days.is_empty() {
        doc.para("No complaints and no volume recorded for this IP in the period.");
    } else {
        let rows: Vec<Vec<String>> = days
            .iter()
            .map(|d| {
                let (rate, level) = judge(d.rated, d.messages, &input.thresholds);
                vec![
                    d.day.clone(),
                    if d.rated == d.complaints || d.messages.is_none() {
                        d.complaints.to_string()
                    } else {
                        format!("{} ({} rated)", d.complaints, d.rated)
                    },
                    d.messages
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| "-".into()),
                    d.source.to_string(),
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
        if days.iter().any(|d| d.source == SNDS_ONLY) {
            doc.para(
                "Where the send log has no volume, SNDS's is used; it counts Outlook.com \
                 recipients only, so only Microsoft's complaints are rated against it.",
            );
        }
    }

    doc.heading("Example headers of a recent message from this IP");
    match &input.example_headers {
        Some(headers) if !headers.is_empty() => {
            doc.para(
                "The recipient's addresses and name are replaced by [recipient]; identifiers \
                 of the recipient, and headers not needed here, by [redacted].",
            );
            let redaction = Redaction {
                complainants: input.example_complainants.clone(),
                ..redaction.clone()
            };
            let lines: Vec<String> = redacted_headers(headers, &redaction)
                .into_iter()
                .map(|(name, value)| format!("{name}: {value}"))
                .collect();
            doc.code(&lines);
        }
        _ => doc.para("No stored complaint or bounce about this IP carries the message's headers."),
    }
    doc.text.trim_end().to_string() + "\n"
}

/// The volume column of a day rated against SNDS's figure.
const SNDS_ONLY: &str = "SNDS (Outlook.com)";

/// One day of the packet's rate table.
struct DayRate {
    day: String,
    complaints: u64,
    /// The complaints the volume counted: all with the send log's, Microsoft's with SNDS's.
    rated: u64,
    messages: Option<u64>,
    source: &'static str,
}

/// Each day with complaints or volume, rated as `fbl report` rates an IP's day: the send
/// log's volume rates all complaints; where it has none, SNDS's rates Microsoft's alone.
fn day_rates(input: &DelistInput) -> Vec<DayRate> {
    let mut days: Vec<&str> = input
        .complaints_by_day
        .iter()
        .map(|(d, _, _)| d.as_str())
        .chain(input.send_log_by_day.iter().map(|(d, _)| d.as_str()))
        .chain(input.snds_days.iter().map(|d| d.day.as_str()))
        .collect();
    days.sort_unstable();
    days.dedup();
    days.into_iter()
        .map(|day| {
            let (complaints, microsoft) = input
                .complaints_by_day
                .iter()
                .find(|(d, _, _)| d == day)
                .map(|(_, n, m)| (*n, *m))
                .unwrap_or((0, 0));
            let snds = input
                .snds_days
                .iter()
                .find(|d| d.day == day)
                .map(|d| d.message_recipients);
            let log = input
                .send_log_by_day
                .iter()
                .find(|(d, _)| d == day)
                .map(|(_, n)| *n);
            let (messages, from, rated) =
                crate::rates::ip_day_volume(complaints, microsoft, log, snds);
            let source = match from {
                crate::rates::VolumeSource::SendLog => "send log",
                crate::rates::VolumeSource::Snds => SNDS_ONLY,
                crate::rates::VolumeSource::None => "-",
            };
            DayRate {
                day: day.to_owned(),
                complaints,
                rated,
                messages,
                source,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    /// A day whose only volume is SNDS's rates Microsoft's complaints alone against it, as
    /// `fbl report` does; a day with the send log's rates them all.
    #[test]
    fn a_day_with_only_snds_volume_rates_microsofts_complaints_alone() {
        let snds_day = |day: &str, recipients: u64| crate::rates::SndsDay {
            ip: "192.0.2.10".into(),
            day: day.into(),
            message_recipients: recipients,
            filter_result: "green".into(),
            complaint_rate: "< 0.1%".into(),
            complaint_percent: None,
            trap_hits: 0,
        };
        let input = DelistInput {
            ip: "192.0.2.10".into(),
            generated_at: "2026-11-20T08:00:00Z".into(),
            from_day: "2026-11-01".into(),
            thresholds: Thresholds::default(),
            sending_ip: None,
            blocks: vec![],
            ip_status: vec![],
            snds_available: true,
            snds_days: vec![snds_day("2026-11-18", 1000), snds_day("2026-11-19", 1000)],
            complaints_by_day: vec![("2026-11-18".into(), 3, 1), ("2026-11-19".into(), 4, 1)],
            send_log_by_day: vec![("2026-11-19".into(), 2000)],
            suppression_minutes: vec![],
            suppressions_active: 0,
            reporters: vec![],
            mailboxes: vec![],
            example_headers: None,
            example_complainants: vec![],
        };
        let text = packet(&input, PacketFormat::Text, &Redaction::default());
        assert!(
            text.contains(
                "  2026-11-18  3 (1 rated)  1000      SNDS (Outlook.com)  0.100%  warn\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "  2026-11-19  4            2000      send log            0.200%  warn\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "7 in the period; 5 of them on days of known volume, against 3000 messages (0.166%)"
            ),
            "{text}"
        );
    }

    use super::*;

    /// "1 reports", "1 rejections seen", "1 times", "1 of 1 complaints", "1 addresses":
    /// counts of one read in the singular.
    #[test]
    fn counts_of_one_read_in_the_singular() {
        let event = |code: &str, class: BlockClass, at: &str| crate::rates::BlockEvent {
            ip: "192.0.2.10".into(),
            code: code.into(),
            class,
            text: format!("550 {code}"),
            recipient: None,
            seen_at: at.into(),
            source: "bounce".into(),
        };
        let input = DelistInput {
            ip: "192.0.2.10".into(),
            generated_at: "2026-11-20T08:00:00Z".into(),
            from_day: "2026-11-01".into(),
            thresholds: Thresholds::default(),
            sending_ip: None,
            blocks: vec![
                event("S3140", BlockClass::Block, "2026-11-18T10:00:00Z"),
                event("RP-001", BlockClass::Throttle, "2026-11-17T10:00:00Z"),
            ],
            ip_status: vec![],
            snds_available: false,
            snds_days: vec![],
            complaints_by_day: vec![("2026-11-19".into(), 1, 0)],
            send_log_by_day: vec![("2026-11-19".into(), 1)],
            suppression_minutes: vec![Some(30)],
            suppressions_active: 1,
            reporters: vec![("yahoo".into(), 1, "2026-11-19T10:00:00Z".into())],
            mailboxes: vec![],
            example_headers: None,
            example_complainants: vec![],
        };
        let text = packet(&input, PacketFormat::Text, &Redaction::default());
        for expected in [
            "last rejection 2026-11-18T10:00:00Z, 1 rejection seen.",
            "(RP-001), once.",
            "1 in the period, against 1 message (",
            "Complainants suppressed: 1 of 1 complaint;",
            "Suppression list: 1 address that we never mail again.",
            "yahoo (1 report, latest 2026-11-19T10:00:00Z)",
        ] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
    }

    fn redaction(toml: &str) -> Redaction {
        let config: AttributionConfig = toml::from_str(toml).unwrap();
        Redaction::new(&config)
    }

    #[test]
    fn recipient_addresses_are_redacted_and_the_sender_kept() {
        let headers = HeaderBlock::parse(
            b"Received: from mta1.sender.example (mta1 [203.0.113.5]) by mx.example.net\n for <zoe@outlook.example>; Wed, 18 Nov 2026 09:15:00 +0000\n\
From: News <news@sender.example>\n\
To: \"Zoe Quill\" <zoe@outlook.example>, amy@outlook.example\n\
Subject: Hello\n",
        );
        let got = redacted_headers(&headers, &Redaction::default());
        assert_eq!(
            got[0].1,
            "from mta1.sender.example (mta1 [203.0.113.5]) by mx.example.net for <[recipient]>; Wed, 18 Nov 2026 09:15:00 +0000"
        );
        assert_eq!(got[1].1, "News <news@sender.example>");
        assert_eq!(got[2].1, "[recipient], [recipient]");
    }

    /// The audit's case: a sender's own recipient header, a display name, and the address
    /// encoded in List-Unsubscribe, Return-Path (VERP), Message-ID and a personalised Subject.
    #[test]
    fn the_complainant_is_removed_from_every_header_in_every_encoding() {
        let headers = HeaderBlock::parse(
            b"Return-Path: <bounces+victim.person=example.net@bounce.sender.example>\n\
Received: from mta1.sender.example (mta1 [192.0.2.25]) by mx.example.net for <victim.person@example.net>; Wed, 18 Nov 2026 09:15:00 +0000\n\
Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=bounce.sender.example; dkim=pass header.d=sender.example\n\
DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s1; h=from:to:subject; z=To:victim.person@example.net; bh=abc=; b=def=\n\
From: News <news@sender.example>\n\
To: \"Victim Person\" <victim.person@example.net>\n\
Subject: Victim, your November news\n\
Date: Wed, 18 Nov 2026 09:14:00 +0000\n\
Message-ID: <20261118.victim.person=example.net@sender.example>\n\
X-Fbl-Rcpt: victim.person@example.net\n\
X-Kumo-Ref: eyJyZWNpcGllbnQiOiJ2aWN0aW0ucGVyc29uQGV4YW1wbGUubmV0In0=\n\
X-Subscriber: 884211\n\
List-Unsubscribe: <mailto:unsub+victim.person=example.net@example.com?subject=unsubscribe>, <https://sender.example/u?e=victim.person%40example.net&t=Zx81>\n\
List-Unsubscribe-Post: List-Unsubscribe=One-Click\n\
X-MS-Exchange-Organization-AuthAs: Anonymous\n",
        );
        let redaction = redaction(
            "header = [\n\
               { name = \"X-Fbl-Rcpt\", value = \"address\" },\n\
               { name = \"x-kumo-ref\", value = \"base64_json\", json_field = \"recipient\" },\n\
             ]\n\
             verp = [\"bounces+{local}={domain}@bounce.sender.example\"]\n",
        );
        let got = redacted_headers(&headers, &redaction);
        let shown: String = got.iter().map(|(n, v)| format!("{n}: {v}\n")).collect();
        for secret in ["victim", "person", "884211", "eyJ", "Zx81"] {
            assert!(
                !shown
                    .to_ascii_lowercase()
                    .contains(&secret.to_ascii_lowercase()),
                "{secret:?} is shown:\n{shown}"
            );
        }
        let expected = "\
Return-Path: <bounces+[redacted]=[redacted]@bounce.sender.example>
Received: from mta1.sender.example (mta1 [192.0.2.25]) by mx.example.net for <[recipient]>; Wed, 18 Nov 2026 09:15:00 +0000
Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=bounce.sender.example; dkim=pass header.d=sender.example
DKIM-Signature: v=1; a=rsa-sha256; d=sender.example; s=s1; h=from:to:subject; z=To:[recipient]; bh=abc=; b=def=
From: News <news@sender.example>
To: [recipient]
Subject: [recipient], your November news
Date: Wed, 18 Nov 2026 09:14:00 +0000
Message-ID: <[redacted]@sender.example>
X-Fbl-Rcpt: [redacted]
X-Kumo-Ref: [redacted]
X-Subscriber: [redacted]
List-Unsubscribe: <mailto:[redacted]@example.com>, <https://sender.example/[redacted]>
List-Unsubscribe-Post: List-Unsubscribe=One-Click
X-MS-Exchange-Organization-AuthAs: Anonymous
";
        assert_eq!(shown, expected);
    }

    #[test]
    fn ids_a_verp_template_decodes_are_removed_wherever_they_appear() {
        let headers = HeaderBlock::parse(
            b"Return-Path: <b-7f3a9c@bounce.sender.example>\n\
Received: from mta1.sender.example by mx.example.net with ESMTP id 7f3a9c-x; Wed, 18 Nov 2026 09:15:00 +0000\n\
From: news@sender.example\n",
        );
        let got = redacted_headers(
            &headers,
            &redaction("verp = [\"b-{id}@bounce.sender.example\"]\n"),
        );
        assert_eq!(got[0].1, "<b-[redacted]@bounce.sender.example>");
        assert_eq!(
            got[1].1,
            "from mta1.sender.example by mx.example.net with ESMTP id [redacted]-x; Wed, 18 Nov 2026 09:15:00 +0000"
        );
        assert_eq!(got[2].1, "news@sender.example");
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
