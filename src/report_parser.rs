//! Raw message bytes in, `Report` out: RFC 5965 ARF in every shape seen, legacy JMRP,
//! forwarded complaints, and the look-alikes that are not complaints. Pure: no IO, and it
//! never panics. "Not a report" is a `Report` of kind `not_a_report`; a message that claims
//! to be a report but is broken has `error` set.

use crate::address;
use crate::attribution::{Attribution, SendLogLookup};
use crate::derivation;
use crate::header_block::{self, HeaderBlock};
use crate::report::{Format, Kind, Recipient, Report, Reporter, Via};
use mail_parser::{HeaderName, Message, MessageParser, MimeHeaders, PartType};
use std::sync::LazyLock;

/// The MIME layer reads only what fbl asks of it: the MIME headers (to walk and decode the
/// parts) and the Message-ID, Subject, From and Date of the reported message. Every other
/// header is skipped without being decoded: an attached message often carries a dozen
/// Received fields, and fbl reads the headers it needs with its own reader (`header_block`).
static MIME: LazyLock<MessageParser> = LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .header_id(HeaderName::MessageId)
        .header_text(HeaderName::Subject)
        .header_address(HeaderName::From)
        .header_date(HeaderName::Date)
        .default_header_ignore()
});

/// A parsed message: the report, and the headers of the reported message for attribution.
#[derive(Debug, Clone)]
pub struct Parsed {
    pub report: Report,
    pub original: HeaderBlock,
    /// When the report was read from a message attached to this one (a forward, an
    /// auto-reply quoting it, a ticket system passing it on), that message's bytes as
    /// attached (transfer encoding decoded): the report as it was delivered, whose content key
    /// is the report's own (`ingest` keys de-duplication on it). None for a report read
    /// from the message itself, and for a forward of several reports.
    pub inner: Option<Vec<u8>>,
}

/// Limits that keep one message from costing unbounded memory or time.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// MIME parts in the whole message, nested messages included.
    pub max_parts: usize,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits { max_parts: 1000 }
    }
}

/// Parses and attributes one message.
pub fn analyse(raw: &[u8], attribution: &Attribution, send_log: &dyn SendLogLookup) -> Report {
    let Parsed {
        mut report,
        original,
        ..
    } = parse(raw);
    attribute(&mut report, &original, attribution, send_log);
    report
}

/// Runs attribution on a parsed report and records the outcome in it.
pub fn attribute(
    report: &mut Report,
    original: &HeaderBlock,
    attribution: &Attribution,
    send_log: &dyn SendLogLookup,
) {
    // A message sent to one of the sender's List-Unsubscribe mailto addresses (from any mail
    // client: Apple's carries its own mark) asks to unsubscribe its sender, or whoever the
    // address's token or id names.
    if report.kind == Kind::NotAReport
        && report.format == Format::None
        && report.error.is_none()
        && attribution.is_unsubscribe_request(original)
    {
        report.kind = Kind::Unsubscribe;
        if let Some(from) = original.get("From").and_then(address::complainant) {
            report.recipients.push(Recipient {
                address: Some(from),
                id: None,
                via: Via::From,
            });
        }
    }
    match report.kind {
        Kind::Complaint | Kind::NotSpam | Kind::Unsubscribe => {
            // Apple's unsubscribe mail names the subscriber in From (set by `parse`); a
            // signed token in the address it was sent to is stronger evidence.
            let from_sender = std::mem::take(&mut report.recipients);
            let found = attribution.attribute(report, original, send_log);
            report.recipients = found.recipients;
            report.attribution_notes = found.notes;
            if report.recipient_addresses().is_empty() {
                // The sender's own address (its list's, one at its domain) asking to leave
                // is a loop or a test, never a subscriber: it stays on, and is said.
                let (own, others): (Vec<Recipient>, Vec<Recipient>) =
                    from_sender.into_iter().partition(|r| {
                        r.address
                            .as_deref()
                            .is_some_and(|a| attribution.is_own(a, false))
                    });
                report.recipients.extend(others);
                if let Some(address) = own.into_iter().find_map(|r| r.address) {
                    report
                        .attribution_notes
                        .insert(0, OWN_ADDRESS_REQUEST.to_string());
                    report.attribution_notes.push(format!(
                        "From names {address}, the sender's own address: not unsubscribed"
                    ));
                }
            }
        }
        Kind::AuthFailure | Kind::Bounce | Kind::NotAReport => {}
    }
    if original.is_truncated() {
        report.attribution_notes.push(format!(
            "the reported message's headers are longer than {} KiB: fields after that were \
             not read (a sender identifier there was not found)",
            crate::header_block::MAX_HEADER_BLOCK_BYTES / 1024
        ));
    }
    if matches!(
        report.kind,
        Kind::Complaint | Kind::Unsubscribe | Kind::NotSpam
    ) && report.recipient_addresses().is_empty()
    {
        let reason = if report.recipients.iter().any(|r| r.id.is_some()) {
            "only an id was found; import the send log to resolve it"
        } else if report.redacted {
            "the provider redacted the complainant and no sender identifier was found"
        } else {
            "no complainant address and no sender identifier found"
        };
        if !report.attribution_notes.iter().any(|n| n == reason) {
            report.attribution_notes.push(reason.to_string());
        }
    }
}

/// The reason an unsubscribe request from the sender's own address is left unattributed.
pub const OWN_ADDRESS_REQUEST: &str = "an unsubscribe request from \
     the sender's own address: its sender was not unsubscribed ([attribution] own_domains \
     says which domains are yours)";

/// Parses one message without attributing it.
pub fn parse(raw: &[u8]) -> Parsed {
    parse_with_limits(raw, ParseLimits::default())
}

pub fn parse_with_limits(raw: &[u8], limits: ParseLimits) -> Parsed {
    // A PDF, a ZIP archive or random bytes fed to fbl is a mistake a person must see (the
    // wrong file, a broken delivery), not a message that is quietly not a report: it is
    // refused with a reason, and ingest quarantines it with its bytes.
    if !header_block::starts_with_field(raw) {
        let mut report = Report::empty(Kind::NotAReport, Format::None, Reporter::Other);
        report.error = Some(not_an_email(raw));
        return Parsed {
            report,
            original: HeaderBlock::default(),
            inner: None,
        };
    }
    // Blank lines before the first field (a pipe or a tool that wrote a newline first): the
    // MIME layer would take the first for the end of an empty header.
    let raw = &raw[leading_blank_lines(raw)..];
    let outer = HeaderBlock::parse(raw);
    // A few shapes cost the MIME layer far more than their size (`mime_limits`).
    if let Some(why) = crate::mime_limits::too_costly(raw) {
        let mut report = Report::empty(Kind::NotAReport, Format::None, reporter_of(&outer, None));
        report.error = Some(why);
        return Parsed {
            report,
            original: HeaderBlock::default(),
            inner: None,
        };
    }
    // The MIME layer is a dependency: whatever it does on hostile input, this parser returns.
    let parsed = std::panic::catch_unwind(|| MIME.parse(raw));
    let Ok(parsed) = parsed else {
        let mut report = Report::empty(Kind::NotAReport, Format::None, reporter_of(&outer, None));
        report.error =
            Some("the MIME structure cannot be read (the MIME parser failed)".to_string());
        return Parsed {
            report,
            original: HeaderBlock::default(),
            inner: None,
        };
    };
    let Some(message) = parsed else {
        let report = Report::empty(Kind::NotAReport, Format::None, reporter_of(&outer, None));
        return Parsed {
            report,
            original: HeaderBlock::default(),
            inner: None,
        };
    };
    if let Some(why) = too_complex(&message, limits) {
        let mut report = Report::empty(Kind::NotAReport, Format::None, reporter_of(&outer, None));
        report.error = Some(why);
        return Parsed {
            report,
            original: HeaderBlock::default(),
            inner: None,
        };
    }
    // A boundary that also occurs where it is no delimiter would cut a part short: the
    // structure is read again from a copy in which it is renamed (`mime_boundary`).
    let repaired = crate::mime_boundary::renamed(raw, &message);
    let (raw, message) = read_again(raw, message, repaired.as_deref());
    // The copy's structure, which may hold what a false delimiter hid from the first read.
    if repaired.is_some()
        && let Some(why) = too_complex(&message, limits)
    {
        let mut report = Report::empty(Kind::NotAReport, Format::None, reporter_of(&outer, None));
        report.error = Some(why);
        return Parsed {
            report,
            original: HeaderBlock::default(),
            inner: None,
        };
    }
    let mut parsed = parse_message(raw, &outer, &message, limits);
    parsed.report.report_date = outer.get("Date").and_then(derivation::rfc3339_from_rfc5322);
    parsed
}

/// How many bytes the blank lines at the start of `raw` take.
fn leading_blank_lines(raw: &[u8]) -> usize {
    let mut start = 0;
    while let Some(end) = memchr::memchr(b'\n', &raw[start..]).map(|at| start + at + 1) {
        if !raw[start..end].iter().all(u8::is_ascii_whitespace) {
            break;
        }
        start = end;
    }
    start
}

/// Why input that does not start with a header field is not read: what it begins with, and
/// what that looks like when it is a common kind of file.
fn not_an_email(raw: &[u8]) -> String {
    let start = raw.trim_ascii_start();
    if start.is_empty() {
        return "not an email message: it is empty".to_string();
    }
    const KNOWN: [(&[u8], &str); 7] = [
        (b"%PDF-", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive or an Office document"),
        (b"\x1f\x8b", "gzip data"),
        (
            b"\xd0\xcf\x11\xe0",
            "an OLE file, such as a message saved by Outlook as .msg",
        ),
        (b"\x89PNG", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"{\\rtf", "an RTF document"),
    ];
    let what = KNOWN
        .iter()
        .find(|(magic, _)| start.starts_with(magic))
        .map(|(_, what)| format!(", {what}"))
        .unwrap_or_default();
    format!(
        "not an email message: it does not start with a header field (it begins \"{}\"{what})",
        start[..start.len().min(16)].escape_ascii()
    )
}

/// Messages nested deeper than this (a forward of a forward of ...) are not read.
const MAX_NESTING: usize = 8;

/// Why `message` is too complex to read, if it is: more MIME parts than `limits` allow, or
/// messages nested more than `MAX_NESTING` deep.
fn too_complex(message: &Message, limits: ParseLimits) -> Option<String> {
    if nesting(message, 0) > MAX_NESTING {
        return Some(format!(
            "messages are nested more than {MAX_NESTING} deep (a forward of a forward ...); \
             not parsed"
        ));
    }
    (count_parts(message, 0) > limits.max_parts).then(|| {
        format!(
            "message has more than {} MIME parts; not parsed",
            limits.max_parts
        )
    })
}

/// How deep messages are nested in `message` (0: none attached).
fn nesting(message: &Message, depth: usize) -> usize {
    if depth > MAX_NESTING {
        return depth;
    }
    message
        .parts
        .iter()
        .filter_map(|part| match &part.body {
            PartType::Message(inner) => Some(nesting(inner, depth + 1)),
            _ => None,
        })
        .max()
        .unwrap_or(depth)
}

fn count_parts(message: &Message, depth: usize) -> usize {
    if depth > 8 {
        return usize::MAX / 2;
    }
    message
        .parts
        .iter()
        .map(|part| match &part.body {
            PartType::Message(inner) => 1usize.saturating_add(count_parts(inner, depth + 1)),
            _ => 1,
        })
        .fold(0usize, usize::saturating_add)
}

fn content_type_of(message: &Message) -> (String, String) {
    type_and_subtype(message.content_type())
}

/// A message's or part's MIME type and subtype, lower-cased; `text/plain` when it states
/// none (RFC 2045 §5.2).
pub(crate) fn type_and_subtype(ct: Option<&mail_parser::ContentType>) -> (String, String) {
    ct.map(|ct| {
        (
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase(),
        )
    })
    .unwrap_or_else(|| ("text".to_string(), "plain".to_string()))
}

/// What a message is, read at the top level (a report forwarded inside it is read by
/// `forwarded_report`).
fn parse_message(
    raw: &[u8],
    outer: &HeaderBlock,
    message: &Message,
    limits: ParseLimits,
) -> Parsed {
    let (ctype, subtype) = content_type_of(message);
    let report_type = message
        .content_type()
        .and_then(|ct| ct.attribute("report-type"))
        .map(|v| v.trim().trim_matches('"').to_ascii_lowercase());
    if ctype == "multipart"
        && subtype == "report"
        && report_type.as_deref() == Some("delivery-status")
        && !mislabelled_feedback_report(message)
    {
        return not_a_complaint(outer, attached_message(message), Kind::Bounce);
    }
    if let Some(parsed) = loop_report(raw, outer, message) {
        return parsed;
    }
    // A DSN a mail system sent as multipart/mixed, or without its report-type.
    if ctype == "multipart" && has_delivery_status_part(message) {
        return not_a_complaint(outer, attached_message(message), Kind::Bounce);
    }
    if is_apple_unsubscribe(outer) {
        let mut report = Report::empty(Kind::Unsubscribe, Format::None, Reporter::Apple);
        if let Some(from) = outer.get("From").and_then(address::complainant) {
            report.recipients.push(Recipient {
                address: Some(from),
                id: None,
                via: Via::From,
            });
        }
        return Parsed {
            report,
            original: outer.clone(),
            inner: None,
        };
    }
    if looks_like_bounce(outer) {
        return not_a_complaint(outer, attached_message(message), Kind::Bounce);
    }
    let subject = subject_of(outer, message);
    // A report forwarded inside another message (an abuse desk or a person forwarding it
    // on), whatever marks the forward as sent by a program: a ticket system passes reports
    // on with `Auto-Submitted: auto-replied`, and a complaint dropped for that is lost
    // without a word. Only an unsubscribe request is discarded for being automatic.
    if let Some(parsed) = forwarded_report(message, limits, 0) {
        return parsed;
    }
    // A report fbl cannot read reliably: pasted into the text of a forward (its headers
    // rewritten by the mail client), or attached as a text file. Filed as not a report, a
    // real complaint would disappear without a word: it is quarantined for a person.
    if let Some(what) = unreadable_report(message) {
        let mut report = Report::empty(Kind::NotAReport, Format::None, reporter_of(outer, None));
        report.error = Some(if what.starts_with(SES_NOTIFICATION) {
            // An SNS notification (JSON) is no report in any form fbl reads, however it is
            // forwarded: the setup must change, not the forwarding.
            format!(
                "{what}: fbl does not read SES's JSON notifications; have SES send complaints \
                 by email instead (email feedback forwarding), which fbl reads"
            )
        } else {
            format!(
                "a forwarded feedback report that fbl cannot read reliably ({what}): forward it \
                 as an attachment (message/rfc822), or save it as an .eml file and give that to \
                 fbl ingest"
            )
        });
        return Parsed {
            report,
            original: HeaderBlock::default(),
            inner: None,
        };
    }
    let report = Report::empty(Kind::NotAReport, Format::None, reporter_of(outer, None));
    // Its own headers: `attribute` tells from them whether it is an unsubscribe request
    // sent to one of the sender's `unsubscribe_addresses`. Not one a program sent by itself
    // (`sent_by_a_program`: an out-of-office answer, a mailer daemon's warning) nor a report
    // of any kind (a read receipt, RFC 8098): no person asked for anything.
    let sent_by_a_program =
        sent_by_a_program(outer, subject) || (ctype == "multipart" && subtype == "report");
    let original = if !sent_by_a_program {
        outer.clone()
    } else {
        HeaderBlock::default()
    };
    Parsed {
        report,
        original,
        inner: None,
    }
}

/// A feedback loop's own report, of any shape it sends: RFC 5965 ARF (the sparse 2026 JMRP
/// too), or a feedback-report part in another multipart; legacy JMRP and Amazon SES, which
/// forward the complained-about message in a multipart/mixed. `None` for any other message
/// (a bounce, an unsubscribe request, ordinary mail): the caller decides what it is.
fn loop_report(raw: &[u8], outer: &HeaderBlock, message: &Message) -> Option<Parsed> {
    let (ctype, subtype) = content_type_of(message);
    if ctype != "multipart" {
        return None;
    }
    let report_type = message
        .content_type()
        .and_then(|ct| ct.attribute("report-type"))
        .map(|v| v.trim().trim_matches('"').to_ascii_lowercase());
    let attached = attached_message(message);
    match report_type.as_deref() {
        Some("feedback-report") if subtype == "report" => {
            return Some(parse_arf(raw, outer, message, attached));
        }
        Some("delivery-status") if subtype == "report" && !mislabelled_feedback_report(message) => {
            return None;
        }
        _ => {}
    }
    // A feedback-report part in a multipart/report without its report-type, or in a
    // multipart/mixed: a report written carelessly is still a report.
    if (report_type.as_deref() != Some("delivery-status") || mislabelled_feedback_report(message))
        && has_feedback_report_part(message)
    {
        return Some(parse_arf(raw, outer, message, attached));
    }
    parse_forwarded(outer, message, attached.as_ref())
}

/// The first feedback loop's report attached to `message`, of any shape `loop_report` reads
/// (ARF, legacy JMRP, Amazon SES): as `message/rfc822` (attached or inline), or as a file
/// that a mail client attached as it saw fit when a person forwarded the report "as
/// attachment" (`application/octet-stream` or `text/plain` named `report.eml`,
/// `application/x-eml`), its transfer encoding decoded. Such a file is read when it starts
/// with a header field and is such a report; any other attachment (a PDF, a picture, an
/// ordinary message) is left as it is. The report is read from its own headers, as if it
/// had arrived by itself (its reporter from its own From); only its date is the forward's.
/// An unsubscribe request is not looked for inside a forward: its sender, who names the
/// subscriber, would be anyone's say-so there.
///
/// A forward of a forward (a helpdesk passing on a colleague's forward) is read through, up
/// to `MAX_FORWARDS` forwards deep; `depth` counts the forwards already entered.
fn forwarded_report(message: &Message, limits: ParseLimits, depth: usize) -> Option<Parsed> {
    // Every report attached, each once (the same one attached twice is one): a message that
    // forwards several ("select three, forward as attachments", a digest) is not read in
    // part, which would drop the others without a word.
    let mut found: Vec<(&[u8], Parsed)> = Vec::new();
    for part in &message.parts {
        let attached: &[u8] = match &part.body {
            PartType::Message(inner) => inner.raw_message(),
            PartType::Binary(_) | PartType::InlineBinary(_) | PartType::Text(_)
                if may_be_a_message_file(part) =>
            {
                part.contents()
            }
            _ => continue,
        };
        if found.iter().any(|(bytes, _)| *bytes == attached) {
            continue;
        }
        if let Some(parsed) = attached_report(part, limits, depth) {
            found.push((attached, parsed));
        }
    }
    let count = found.len();
    let (_, mut first) = found.into_iter().next()?;
    if count > 1 {
        // Not any one report's delivery: another delivery of the first is no copy of this.
        first.inner = None;
        first.report.error = Some(format!(
            "this message forwards {count} reports, and fbl reads one report a message: none \
             of them was acted on; forward each in a message of its own, or save them as .eml \
             files and give those to fbl ingest"
        ));
    }
    Some(first)
}

/// The feedback loop's report one attachment holds, if it holds one (see `forwarded_report`).
fn attached_report(
    part: &mail_parser::MessagePart,
    limits: ParseLimits,
    depth: usize,
) -> Option<Parsed> {
    match &part.body {
        PartType::Message(inner) => {
            let inner_raw = inner.raw_message();
            let inner_outer = HeaderBlock::parse(inner_raw);
            loop_report(inner_raw, &inner_outer, inner)
                .map(|parsed| delivered_as(parsed, inner_raw))
                .or_else(|| forwarded_again(inner, limits, depth))
        }
        _ => {
            let contents = part.contents();
            let attached = contents;
            if !header_block::starts_with_field(contents) {
                return None;
            }
            // Decoded only now: the outer message's scan did not see it (`mime_limits`).
            if crate::mime_limits::too_costly(contents).is_some() {
                return None;
            }
            let inner = std::panic::catch_unwind(|| MIME.parse(contents)).ok()??;
            if too_complex(&inner, limits).is_some() {
                return None;
            }
            let repaired = crate::mime_boundary::renamed(contents, &inner);
            let (contents, inner) = read_again(contents, inner, repaired.as_deref());
            if repaired.is_some() && too_complex(&inner, limits).is_some() {
                return None;
            }
            let inner_outer = HeaderBlock::parse(contents);
            loop_report(contents, &inner_outer, &inner)
                .map(|parsed| delivered_as(parsed, attached))
                .or_else(|| forwarded_again(&inner, limits, depth))
        }
    }
}

/// A report read from an attached message, with that message's bytes (`Parsed::inner`): as
/// attached, not a copy whose boundary `mime_boundary` renamed.
fn delivered_as(mut parsed: Parsed, attached: &[u8]) -> Parsed {
    parsed.inner = Some(attached.to_vec());
    parsed
}

/// Forwards read through to find a report: a helpdesk forwarding a colleague's forward is
/// two; more than this is not a forward a person made.
const MAX_FORWARDS: usize = 4;

/// The report an attached message that is itself a forward carries (`forwarded_report`
/// one level deeper), whatever marks it as sent by a program (see `parse_message`).
fn forwarded_again(message: &Message, limits: ParseLimits, depth: usize) -> Option<Parsed> {
    if depth + 1 >= MAX_FORWARDS {
        return None;
    }
    forwarded_report(message, limits, depth + 1)
}

/// What shows that `message` holds a feedback loop's report that `loop_report` and
/// `forwarded_report` could not read (one pasted into a forward's text, one attached as a
/// `.txt` file), if it does. Only markers a report carries and ordinary mail about
/// complaints does not: a `Feedback-Type:` line beside a `User-Agent:` or `Version:` line,
/// a `message/feedback-report` or `report-type=feedback-report` Content-Type line, JMRP's
/// `X-HmXmrOriginalRecipient:` line, or Amazon SES's complaint notification
/// (`"notificationType":"Complaint"`). Read in the decoded bodies of text and attached parts,
/// nested messages too, and in the text of HTML parts (`html_text`): a forward written in
/// HTML only (Outlook's, a web mail's) holds the pasted report there alone.
fn unreadable_report(message: &Message) -> Option<String> {
    message.parts.iter().find_map(|part| {
        let what = match &part.body {
            PartType::Text(text) => report_markers(text.as_bytes()),
            PartType::Html(html) => report_markers(html_text(html).as_bytes()),
            PartType::Binary(bytes) | PartType::InlineBinary(bytes) => report_markers(bytes)
                .or_else(|| report_markers_in_utf16(bytes))
                .or_else(|| {
                    is_outlook_item(part).then_some("an Outlook item, which may hold one,")
                }),
            PartType::Message(inner) => return unreadable_report(inner),
            PartType::Multipart(_) => None,
        }?;
        Some(match part.attachment_name() {
            Some(name) => format!("{what} in the attached file {:?}", name.trim()),
            None => format!("{what} in the text of the message"),
        })
    })
}

/// The text of an HTML body as its reader sees its lines, for `report_markers` only: tags
/// removed, a line break at each `<br>` and block element (`<p>`, `<div>`, a table row, ...),
/// white space in the source one space (but in `<pre>`), comments, styles and scripts
/// dropped, and the entities a pasted report's text shows decoded (`&nbsp;`, `&lt;`,
/// `&quot;`, numeric ones).
fn html_text(html: &str) -> String {
    const BLOCKS: [&str; 20] = [
        "br",
        "p",
        "div",
        "tr",
        "li",
        "ul",
        "ol",
        "table",
        "blockquote",
        "pre",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "dt",
        "dd",
        "body",
    ];
    let mut out = String::with_capacity(html.len());
    // Searched for the end of a comment, style or script without regard to case, once.
    let lower_html = html.to_ascii_lowercase();
    let (mut rest, mut pre) = (html, false);
    while let Some(at) = rest.find(['<', '&', '\n', '\r', '\t', ' ', '\u{a0}']) {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let c = rest.chars().next().unwrap_or(' ');
        if c == '<' {
            let offset = html.len() - rest.len();
            let lower = &lower_html[offset..];
            let skip_to = if lower.starts_with("<!--") {
                "-->"
            } else if lower.starts_with("<style") {
                "</style>"
            } else if lower.starts_with("<script") {
                "</script>"
            } else {
                ">"
            };
            let Some(end) = lower.find(skip_to).map(|e| e + skip_to.len()) else {
                break;
            };
            let tag = rest[1..end - 1].trim_start_matches('/');
            let name: String = tag
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect::<String>()
                .to_ascii_lowercase();
            if name == "pre" {
                pre = !rest[1..].starts_with('/');
            }
            if BLOCKS.contains(&name.as_str()) && !out.ends_with('\n') {
                out.push('\n');
            }
            rest = &rest[end..];
        } else if c == '&' {
            let entity = rest
                .get(1..rest.len().min(12))
                .and_then(|e| e.find(';').map(|end| &e[..end]));
            let decoded = entity.and_then(|e| match e.to_ascii_lowercase().as_str() {
                "nbsp" => Some(' '),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "amp" => Some('&'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                lower => lower
                    .strip_prefix("#x")
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| lower.strip_prefix('#').and_then(|n| n.parse().ok()))
                    .and_then(char::from_u32),
            });
            match (entity, decoded) {
                (Some(entity), Some(decoded)) => {
                    out.push(if decoded == '\u{a0}' { ' ' } else { decoded });
                    rest = &rest[entity.len() + 2..];
                }
                _ => {
                    out.push('&');
                    rest = &rest[1..];
                }
            }
        } else if pre && (c == '\n' || c == '\r') {
            out.push('\n');
            rest = &rest[1..];
        } else {
            if !out.ends_with([' ', '\n']) {
                out.push(' ');
            }
            rest = &rest[c.len_utf8()..];
        }
    }
    out.push_str(rest);
    out
}

/// An RFC 3464 address type (`rfc822`, `utf-8`, `x400`, `unknown`) or the like (`smtp`): a
/// short token of letters, digits and hyphens, never an address.
fn is_address_type(token: &str) -> bool {
    (1..=16).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `report_markers` of a file that keeps its text as UTF-16LE, as Outlook keeps a forwarded
/// message's fields in a `.msg` item or a `winmail.dat` (TNEF): each ASCII character a byte
/// followed by a zero byte, the text starting at an even or an odd offset. Only the runs of
/// such characters are read, each on a line of its own.
fn report_markers_in_utf16(bytes: &[u8]) -> Option<&'static str> {
    // A file of ASCII text has no zero bytes: not worth a second look.
    if !bytes.contains(&0) {
        return None;
    }
    (0..2).find_map(|start| {
        let mut text = Vec::with_capacity(bytes.len() / 2);
        for pair in bytes[start..].chunks_exact(2) {
            match pair {
                [c, 0] if c.is_ascii() && *c != 0 => text.push(*c),
                _ if text.last() != Some(&b'\n') => text.push(b'\n'),
                _ => {}
            }
        }
        report_markers(&text)
    })
}

/// Whether an attachment is an Outlook item (a message dragged into another, saved as
/// `.msg`): a compound file fbl cannot read, whatever is in it. In a feedback mailbox it is
/// most likely a report a person forwarded from Outlook.
fn is_outlook_item(part: &mail_parser::MessagePart) -> bool {
    let by_type = part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("application")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("vnd.ms-outlook"))
    });
    let by_name = part.attachment_name().is_some_and(|name| {
        name.trim()
            .rsplit_once('.')
            .is_some_and(|(_, ext)| ext.eq_ignore_ascii_case("msg"))
    });
    by_type || by_name
}

/// The kind of report `body` shows the markers of (see `unreadable_report`), if any.
fn report_markers(body: &[u8]) -> Option<&'static str> {
    let (mut feedback_type, mut agent_or_version) = (false, false);
    let mut ses = false;
    for line in body.split(|&b| b == b'\n') {
        // A quoted forward (`> Feedback-Type: abuse`) is the same text.
        let line = line
            .iter()
            .position(|b| !b.is_ascii_whitespace() && *b != b'>')
            .map_or(&[][..], |start| &line[start..]);
        let lower_line = line.to_ascii_lowercase();
        let lower = &lower_line[..lower_line.len().min(200)];
        let field = |name: &[u8]| {
            lower.strip_prefix(name).is_some_and(|rest| {
                rest.trim_ascii_start().starts_with(b":") && !rest.trim_ascii().eq(b":")
            })
        };
        if field(b"x-hmxmroriginalrecipient") {
            return Some("a Microsoft JMRP report");
        }
        if lower.starts_with(b"content-type:")
            && (contains(lower, b"message/feedback-report")
                || contains(lower, b"report-type=feedback-report")
                || contains(lower, b"report-type=\"feedback-report\""))
        {
            return Some("an ARF report");
        }
        feedback_type |= field(b"feedback-type");
        agent_or_version |= field(b"user-agent") || field(b"version");
        if feedback_type && agent_or_version {
            return Some("an ARF report");
        }
        ses |= ses_complaint(&lower_line);
    }
    ses.then_some(SES_NOTIFICATION)
}

/// What `report_markers` calls an SES notification in JSON.
const SES_NOTIFICATION: &str = "an Amazon SES complaint notification";

/// Whether a line holds `"notificationType" : "Complaint"` (any case, any spaces).
fn ses_complaint(lower: &[u8]) -> bool {
    let key = b"\"notificationtype\"";
    let mut rest = lower;
    while let Some(at) = memchr::memmem::find(rest, key) {
        rest = &rest[at + key.len()..];
        if let Some(value) = rest.trim_ascii_start().strip_prefix(b":")
            && value.trim_ascii_start().starts_with(b"\"complaint\"")
        {
            return true;
        }
    }
    false
}

/// The message read again from `copy` (`mime_boundary::renamed`), when there is one and the
/// MIME layer reads it; else `raw` and the message read from it.
fn read_again<'a>(
    raw: &'a [u8],
    message: Message<'a>,
    copy: Option<&'a [u8]>,
) -> (&'a [u8], Message<'a>) {
    let again = copy.and_then(|copy| {
        let message = std::panic::catch_unwind(|| MIME.parse(copy))
            .ok()
            .flatten()?;
        Some((copy, message))
    });
    again.unwrap_or((raw, message))
}

/// Whether an attachment that is not `message/rfc822` may hold a saved message: a file named
/// `*.eml`, whatever its type, or one of the types mail clients give such a file.
fn may_be_a_message_file(part: &mail_parser::MessagePart) -> bool {
    if part
        .attachment_name()
        .is_some_and(|name| name.trim().to_ascii_lowercase().ends_with(".eml"))
    {
        return true;
    }
    part.content_type().is_some_and(|ct| {
        let subtype = ct.subtype().unwrap_or("").to_ascii_lowercase();
        match ct.ctype().to_ascii_lowercase().as_str() {
            "application" => matches!(subtype.as_str(), "octet-stream" | "x-eml" | "eml"),
            "message" => subtype == "x-eml",
            _ => false,
        }
    })
}

/// A `multipart/report; report-type=delivery-status` that holds a feedback-report part and
/// no delivery-status part: a complaint labelled as a bounce by a careless writer. Filed as a
/// bounce, its complaint would be lost without a word.
fn mislabelled_feedback_report(message: &Message) -> bool {
    has_feedback_report_part(message) && !has_delivery_status_part(message)
}

fn has_feedback_report_part(message: &Message) -> bool {
    message.parts.iter().skip(1).any(|part| {
        part.content_type().is_some_and(|ct| {
            ct.ctype().eq_ignore_ascii_case("message")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("feedback-report"))
        })
    })
}

/// The reported message: its raw bytes (whole or headers only) and whether only headers
/// were attached.
#[derive(Debug, Clone)]
struct Attached<'a> {
    raw: &'a [u8],
    headers_only: bool,
    nested: Option<&'a Message<'a>>,
}

const MESSAGE_TYPES: [(&str, &str, bool); 9] = [
    ("message", "rfc822", false),
    ("message", "global", false),
    ("text", "rfc822", false),
    ("text", "rfc822-headers", true),
    ("text", "rfc822-header", true),
    ("message", "rfc822-headers", true),
    ("message", "rfc822-header", true),
    ("message", "global-headers", true),
    ("text", "global-headers", true),
];

fn attached_message<'a>(message: &'a Message<'a>) -> Option<Attached<'a>> {
    for part in message.parts.iter().skip(1) {
        let Some(ct) = part.content_type() else {
            continue;
        };
        let ctype = ct.ctype().to_ascii_lowercase();
        let subtype = ct.subtype().unwrap_or("").to_ascii_lowercase();
        let Some((_, _, headers_only)) = MESSAGE_TYPES
            .iter()
            .find(|(t, s, _)| *t == ctype && *s == subtype)
        else {
            continue;
        };
        let nested = match &part.body {
            PartType::Message(inner) => Some(inner),
            _ => None,
        };
        return Some(Attached {
            raw: part.contents(),
            headers_only: *headers_only,
            nested,
        });
    }
    reported_message_mistyped(message)
}

/// The reported message of a report that attached it under a type of its own choosing
/// (`text/plain`, `application/octet-stream`): the part after the feedback-report or
/// delivery-status part, when it starts with a header field. Its Message-ID and the
/// sender's identifiers in its headers are as good as in a `message/rfc822` part.
fn reported_message_mistyped<'a>(message: &'a Message<'a>) -> Option<Attached<'a>> {
    let report_part = message.parts.iter().skip(1).position(|part| {
        is_message_part(
            part,
            &[
                "feedback-report",
                "delivery-status",
                "global-delivery-status",
            ],
        )
    })?;
    let part = message
        .parts
        .iter()
        .skip(1)
        .skip(report_part + 1)
        .find(|part| !matches!(part.body, PartType::Multipart(_)))?;
    let (ctype, subtype) = type_and_subtype(part.content_type());
    let fits = matches!(
        (ctype.as_str(), subtype.as_str()),
        ("text", "plain") | ("application", "octet-stream")
    );
    let raw = part.contents();
    (fits && header_block::starts_with_field(raw)).then_some(Attached {
        raw,
        headers_only: false,
        nested: None,
    })
}

/// Whether a multipart holds an RFC 3464 delivery-status part (or RFC 6533's
/// global-delivery-status) of its own: a bounce, also when sent as multipart/mixed or
/// without its report-type.
fn has_delivery_status_part(message: &Message) -> bool {
    message
        .parts
        .iter()
        .skip(1)
        .any(|part| is_message_part(part, &["delivery-status", "global-delivery-status"]))
}

/// Whether a part is `message/SUBTYPE` for one of `subtypes` (any letter case).
fn is_message_part(part: &mail_parser::MessagePart, subtypes: &[&str]) -> bool {
    part.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("message")
            && ct
                .subtype()
                .is_some_and(|s| subtypes.iter().any(|t| s.eq_ignore_ascii_case(t)))
    })
}

fn not_a_complaint(outer: &HeaderBlock, attached: Option<Attached>, kind: Kind) -> Parsed {
    let original = attached
        .as_ref()
        .map(|a| HeaderBlock::parse(a.raw))
        .unwrap_or_default();
    let mut report = Report::empty(kind, Format::None, reporter_of(outer, None));
    fill_original(&mut report, &original, attached.as_ref());
    Parsed {
        report,
        original,
        inner: None,
    }
}

fn parse_arf(
    raw: &[u8],
    outer: &HeaderBlock,
    message: &Message,
    attached: Option<Attached>,
) -> Parsed {
    let mut report = Report::empty(Kind::Complaint, Format::Arf, Reporter::Other);
    let mut errors: Vec<String> = Vec::new();

    let mut feedback_parts = message.parts.iter().skip(1).filter(|part| {
        part.content_type().is_some_and(|ct| {
            ct.subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("feedback-report"))
        })
    });
    let feedback_part = feedback_parts.next();
    // RFC 5965 gives a report one feedback-report part. A second one that says something
    // else (another complainant, another type) cannot be told apart from the first: reading
    // the first alone would drop the other's complainant without a word.
    if let Some(first) = feedback_part {
        let others = feedback_parts
            .filter(|part| part.contents() != first.contents())
            .count();
        if others > 0 {
            errors.push(format!(
                "{} message/feedback-report parts that say different things: a report has one",
                others + 1
            ));
        }
    }
    match feedback_part {
        Some(part) => {
            let fields = HeaderBlock::parse(part.contents());
            read_feedback_fields(&mut report, &fields, &mut errors);
        }
        None => errors.push(
            "multipart/report with report-type=feedback-report has no message/feedback-report part"
                .to_string(),
        ),
    }
    if let Some(boundary) = message
        .content_type()
        .and_then(|ct| ct.attribute("boundary"))
    {
        let closing = format!("--{boundary}--");
        if !contains(raw, closing.as_bytes()) {
            errors.push(format!(
                "report is truncated: its closing MIME boundary {closing} is missing"
            ));
        }
    }

    let original = attached
        .as_ref()
        .map(|a| HeaderBlock::parse(a.raw))
        .unwrap_or_default();
    if attached.is_none() && errors.is_empty() {
        // RFC 5965 requires the third part, but a report without it still says enough.
        report
            .extensions
            .entry("x-fbl-missing-part".to_string())
            .or_default()
            .push("the reported message is not attached".to_string());
    }
    fill_original(&mut report, &original, attached.as_ref());
    derive_missing(&mut report, &original);

    report.kind = kind_of_feedback_type(report.feedback_type.as_deref());
    report.reporter = reporter_of(outer, report.user_agent.as_deref());
    if report.reporter == Reporter::Other && original.contains("X-HmXmrOriginalRecipient") {
        report.reporter = Reporter::Microsoft;
    }
    report.redacted = is_redacted(&report, &original, attached.as_ref());
    if !errors.is_empty() {
        report.error = Some(errors.join("; "));
    }
    Parsed {
        report,
        original,
        inner: None,
    }
}

/// True when `needle` occurs in `haystack`, searched from the end (where a closing boundary
/// sits).
fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && memchr::memmem::rfind(haystack, needle).is_some()
}

fn kind_of_feedback_type(feedback_type: Option<&str>) -> Kind {
    match feedback_type.map(|t| t.to_ascii_lowercase()).as_deref() {
        Some("not-spam") => Kind::NotSpam,
        // A type that says "not" (`not-junk`, `notjunk`, say) is never a complaint:
        // suppressing whom the user said the mail is wanted by is the costly mistake. No
        // complaint type begins with "not".
        Some(other) if other.starts_with("not") => Kind::NotSpam,
        Some("auth-failure") => Kind::AuthFailure,
        // The old draft's opt-out type asks for removal: an unsubscribe, not a complaint.
        Some("opt-out") | Some("unsubscribe") => Kind::Unsubscribe,
        _ => Kind::Complaint,
    }
}

/// The Feedback-Type token of a field value, lower-cased: RFC 5322 comments, quotes and
/// anything after the token (`not-spam;`, `auth-failure (dmarc)`) left out, so that a
/// look-alike is never read as a complaint for its decoration. The registered types in the
/// spellings loops write them (`not spam`, `Not_Spam`, `notspam`, `auth_failure`) are read
/// as those types: `not spam` is not the type `not`.
fn feedback_type_token(value: &str) -> String {
    // Nearly every report writes one plain token (`abuse`): read without splitting.
    let simple = value.trim();
    if !simple.is_empty()
        && simple
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !simple.starts_with('-')
        && !simple.ends_with('-')
        && !simple.contains("--")
    {
        let lower = simple.to_ascii_lowercase();
        return match lower.as_str() {
            "notspam" => "not-spam".to_string(),
            "authfailure" => "auth-failure".to_string(),
            "optout" => "opt-out".to_string(),
            _ => lower,
        };
    }
    let value = header_block::without_comments(value);
    let words: Vec<String> = value
        .split([';', ','])
        .next()
        .unwrap_or("")
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .map(|word| word.trim_matches(['"', '\'']).to_ascii_lowercase())
        .filter(|word| !word.is_empty())
        .collect();
    let joined = words.join("-");
    if matches!(
        joined.as_str(),
        "not-spam" | "notspam" | "auth-failure" | "authfailure" | "opt-out" | "optout"
    ) {
        return match joined.as_str() {
            "notspam" => "not-spam".to_string(),
            "authfailure" => "auth-failure".to_string(),
            "optout" => "opt-out".to_string(),
            other => other.to_string(),
        };
    }
    // A negation is kept whole (`not junk` is `not-junk`, never a complaint); otherwise
    // the first token, as before: `abuse extra words` is `abuse`.
    if words.len() > 1 && words[0] == "not" {
        return joined;
    }
    value
        .split(|c: char| c.is_whitespace() || c == ';' || c == ',')
        .map(|token| token.trim_matches(['"', '\'']))
        .find(|token| !token.is_empty())
        .unwrap_or("")
        .to_ascii_lowercase()
        .replace('_', "-")
}

fn read_feedback_fields(report: &mut Report, fields: &HeaderBlock, errors: &mut Vec<String>) {
    // Every Feedback-Type value, once each, in order. RFC 5965 section 3.1 allows exactly
    // one. Two that disagree (`abuse` and `not-spam`) make the report an error rather than
    // letting the first win: the type decides whether the complainant is suppressed at all
    // (a complaint) or must never be (the user said the mail is wanted), so either pick may
    // be the wrong action, and a report built that way is broken or forged. It is
    // quarantined for a person to look at. The same value repeated says nothing new.
    let mut feedback_types: Vec<String> = Vec::new();
    let mut feedback_type_fields = 0;
    for (name, value) in fields.fields() {
        let name = name.to_ascii_lowercase();
        let value = value.trim();
        let single = |slot: &Option<String>| slot.is_some();
        if name == "feedback-type" {
            feedback_type_fields += 1;
            let token = feedback_type_token(value);
            if !feedback_types.contains(&token) {
                feedback_types.push(token);
            }
        }
        match name.as_str() {
            "feedback-type" if report.feedback_type.is_none() => {
                report.feedback_type = Some(feedback_type_token(value))
            }
            "user-agent" if report.user_agent.is_none() => {
                report.user_agent = Some(value.to_string())
            }
            "version" if report.version.is_none() => report.version = Some(value.to_string()),
            "original-envelope-id" if !single(&report.original_envelope_id) => {
                report.original_envelope_id = Some(value.to_string())
            }
            "original-mail-from" if !single(&report.original_mail_from) => {
                report.original_mail_from = Some(bare_address(value))
            }
            "arrival-date" | "received-date" if report.arrival_date.is_none() => {
                match derivation::rfc3339_from_rfc5322(value) {
                    Some(date) => report.arrival_date = Some(date),
                    None => keep(report, &name, value),
                }
            }
            "reporting-mta" if report.reporting_mta.is_none() => {
                report.reporting_mta = Some(value.to_string())
            }
            "source-ip" if report.source_ip.is_none() => match derivation::parse_ip(value) {
                Some(ip) => report.source_ip = Some(ip.to_string()),
                None => keep(report, &name, value),
            },
            "source-port" if report.source_port.is_none() => {
                match value.split_whitespace().next().and_then(|p| p.parse().ok()) {
                    Some(port) => report.source_port = Some(port),
                    None => keep(report, &name, value),
                }
            }
            "incidents" if report.incidents.is_none() => {
                match header_block::without_comments(value).trim().parse::<u64>() {
                    Ok(n) if n > 0 => report.incidents = Some(n),
                    _ => errors.push(format!("Incidents is not a positive integer: {value:?}")),
                }
            }
            "authentication-results" => report.authentication_results.push(value.to_string()),
            // One address a field (RFC 5965 section 3.2); a list written in one is each of them.
            "original-rcpt-to" => {
                // An address type in front, as DSN fields have it (`rfc822; jane@...`,
                // `utf-8;`, and `smtp;` as some loops write it), is no address.
                let value = match value.trim().split_once(';') {
                    Some((kind, rest)) if is_address_type(kind.trim()) => rest,
                    _ => value,
                };
                let parts = address::split_list(value);
                if parts.is_empty() {
                    // An empty field is how some loops redact the complainant: kept as it is.
                    report.original_rcpt_to.push(bare_address(value));
                } else {
                    report
                        .original_rcpt_to
                        .extend(parts.into_iter().map(bare_address));
                }
            }
            "reported-domain" => report.reported_domain.push(value.to_string()),
            "reported-uri" => report.reported_uri.push(value.to_string()),
            _ => keep(report, &name, value),
        }
    }
    if report.feedback_type.is_none() {
        errors.push("the feedback-report part has no Feedback-Type field".to_string());
    }
    if let [only] = feedback_types.as_slice()
        && only.is_empty()
    {
        // RFC 5965 section 3.1 requires a type: without one, whether to suppress is a guess.
        errors.push("the Feedback-Type field is empty".to_string());
    }
    if let [first @ .., last] = feedback_types.as_slice()
        && !first.is_empty()
    {
        let count = match feedback_type_fields {
            2 => "two".to_string(),
            n => n.to_string(),
        };
        let shown = |t: &String| {
            if t.is_empty() {
                "\"\"".to_string()
            } else {
                t.clone()
            }
        };
        errors.push(format!(
            "{count} Feedback-Type fields: {} and {}",
            first.iter().map(shown).collect::<Vec<_>>().join(", "),
            shown(last)
        ));
    }
}

fn keep(report: &mut Report, name: &str, value: &str) {
    report
        .extensions
        .entry(name.to_string())
        .or_default()
        .push(value.to_string());
}

fn bare_address(value: &str) -> String {
    let trimmed = value.trim();
    trimmed
        .strip_prefix('<')
        .and_then(|v| v.strip_suffix('>'))
        .unwrap_or(trimmed)
        .trim()
        .to_string()
}

/// Message-ID, Subject, From, Date and CFBL-Feedback-ID of the reported message.
fn fill_original(report: &mut Report, original: &HeaderBlock, attached: Option<&Attached>) {
    let Some(attached) = attached else {
        return;
    };
    report.headers_only =
        attached.headers_only || header_block::body_offset(attached.raw) >= attached.raw.len();
    let owned;
    let decoded: Option<&Message> = match attached.nested {
        Some(nested) => Some(nested),
        None => {
            owned = MIME.parse_headers(attached.raw);
            owned.as_ref()
        }
    };
    if let Some(decoded) = decoded {
        report.message_id = decoded.message_id().map(|id| id.trim().to_string());
        report.subject = decoded.subject().map(|s| s.to_string());
        if report
            .subject
            .as_deref()
            .is_some_and(|s| s.contains('\u{FFFD}'))
        {
            // Raw 8-bit bytes: the header reader's Latin-1 reading beats replacement marks.
            report.subject = original.get("Subject").map(str::to_string);
        }
        report.from = decoded
            .from()
            .and_then(|from| from.first())
            .and_then(|a| a.address())
            .map(|a| a.to_string())
            .or_else(|| original.get("From").map(str::to_string));
        report.date = decoded
            .date()
            .filter(|d| d.is_valid())
            .and_then(|d| derivation::rfc3339_from_timestamp(d.to_timestamp()));
    }
    if report.message_id.is_none() {
        report.message_id = original
            .get("Message-ID")
            .map(|v| {
                v.trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_string()
            })
            .filter(|v| !v.is_empty());
    }
    report.feedback_id = original
        .get("CFBL-Feedback-ID")
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty());
}

/// Fills source IP, arrival date and mail-from from the attached headers when the report
/// did not state them.
fn derive_missing(report: &mut Report, original: &HeaderBlock) {
    if report.source_ip.is_none()
        && let Some((ip, from)) = derivation::source_ip(original)
    {
        report.source_ip = Some(ip.to_string());
        report
            .derived
            .insert("source_ip".to_string(), from.to_string());
    }
    if report.arrival_date.is_none()
        && let Some((date, from)) = derivation::arrival_date(original)
    {
        report.arrival_date = Some(date);
        report
            .derived
            .insert("arrival_date".to_string(), from.to_string());
    }
    if report.original_mail_from.is_none()
        && let Some((mail_from, from)) = derivation::mail_from(original)
    {
        report.original_mail_from = Some(mail_from);
        report
            .derived
            .insert("original_mail_from".to_string(), from.to_string());
    }
}

fn is_redacted(report: &Report, original: &HeaderBlock, attached: Option<&Attached>) -> bool {
    if redacted_by_provider(report, original) || to_is_redacted(original) {
        return true;
    }
    if let Some(attached) = attached {
        // Validity reduces the attached message, or just its body, to `REDACTED`.
        let is_redaction = |bytes: &[u8]| bytes.trim_ascii().eq_ignore_ascii_case(b"redacted");
        let body = &attached.raw[header_block::body_offset(attached.raw)..];
        if is_redaction(body) || is_redaction(attached.raw) {
            return true;
        }
    }
    false
}

/// Whether the provider says, in what it wrote itself, that it removed the complainant: a
/// redaction token in Original-Rcpt-To or in legacy JMRP's X-HmXmrOriginalRecipient, a
/// Redacted-Address field, or a June 2026 JMRP report, which states no recipient by policy.
/// Then the reported message's To and Delivered-To hold a stand-in, never the complainant. A token in the reported message's own To is not enough:
/// the sender may have written it (`undisclosed-recipients:;`, a Bcc mailing), and its other
/// headers still name the recipient.
pub(crate) fn redacted_by_provider(report: &Report, original: &HeaderBlock) -> bool {
    report
        .original_rcpt_to
        .iter()
        .any(|r| address::is_redaction_token(r))
        || report.extensions.contains_key("redacted-address")
        // Legacy JMRP names the complainant in a field Microsoft adds: a token or a digest
        // there (`redacted`, `<>`, `m*****@...`) hides it as one in Original-Rcpt-To does.
        || original
            .get_all("X-HmXmrOriginalRecipient")
            .any(address::is_redaction_token)
        // Since June 2026 JMRP states no recipient at all: Microsoft hides it by policy.
        || (report.reporter == Reporter::Microsoft
            && report.original_rcpt_to.is_empty()
            && !original.contains("X-HmXmrOriginalRecipient"))
}

/// Whether the reported message's To was emptied, or one of its addresses is a redaction
/// token.
fn to_is_redacted(original: &HeaderBlock) -> bool {
    original.get_all("To").any(|to| {
        to.trim().is_empty()
            || address::split_list(to)
                .into_iter()
                .any(address::is_redaction_token)
    })
}

/// Legacy JMRP and Amazon SES: a complaint forwarded as multipart/mixed with the original
/// attached, no feedback-report part.
fn parse_forwarded(
    outer: &HeaderBlock,
    message: &Message,
    attached: Option<&Attached>,
) -> Option<Parsed> {
    let (ctype, _) = content_type_of(message);
    if ctype != "multipart" {
        return None;
    }
    let attached = attached?;
    let from = outer.get("From").unwrap_or("").to_ascii_lowercase();
    let subject = outer.get("Subject").unwrap_or("");
    let original = HeaderBlock::parse(attached.raw);
    let subject_ip = subject
        .trim()
        .to_ascii_lowercase()
        .strip_prefix("complaint about message from")
        .and_then(derivation::parse_ip);
    // The From address, never its display name ("Forwarded from staff@hotmail.com").
    let from_address = address::normalise(&from).unwrap_or_default();
    let is_jmrp = from_address == "staff@hotmail.com"
        || original.contains("X-HmXmrOriginalRecipient")
        || (subject_ip.is_some() && is_microsoft_domain(&from));
    let is_ses = from_domain_is(&from, &["email-abuse.amazonses.com"])
        || (from_address.starts_with("complaints@") && from_domain_is(&from, &["amazonses.com"]));
    if !is_jmrp && !is_ses {
        return None;
    }
    let (format, reporter) = if is_jmrp {
        (Format::JmrpLegacy, Reporter::Microsoft)
    } else {
        (Format::Forwarded, Reporter::AmazonSes)
    };
    let mut report = Report::empty(Kind::Complaint, format, reporter);
    report.feedback_type = Some("abuse".to_string());
    report
        .derived
        .insert("feedback_type".to_string(), format.as_str().to_string());
    if let Some(ip) = subject_ip {
        report.source_ip = Some(ip.to_string());
        report
            .derived
            .insert("source_ip".to_string(), "subject".to_string());
    } else if let Some(ip) = original.get("X-Sender-IP").and_then(derivation::parse_ip) {
        report.source_ip = Some(ip.to_string());
        report
            .derived
            .insert("source_ip".to_string(), "x_sender_ip".to_string());
    }
    fill_original(&mut report, &original, Some(attached));
    derive_missing(&mut report, &original);
    report.redacted = redacted_by_provider(&report, &original) || to_is_redacted(&original);
    Some(Parsed {
        report,
        original,
        inner: None,
    })
}

/// The domains of Microsoft's consumer mail (a From there is Outlook.com's JMRP).
const MICROSOFT_DOMAINS: &[&str] = &[
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "microsoft.com",
];
const YAHOO_DOMAINS: &[&str] = &["yahoo.com", "yahoo.net", "yahoo-inc.com", "yahoodns.net"];
const AOL_DOMAINS: &[&str] = &["aol.com", "aol.net"];
const SES_DOMAINS: &[&str] = &["amazonses.com"];
const APPLE_DOMAINS: &[&str] = &["icloud.com", "me.com", "mac.com", "apple.com"];

/// Whether a From header's address is at one of Microsoft's mail domains (or a subdomain).
/// Only the address counts: `"Forwarded via msn.com" <abuse@isp.example>` is not Microsoft.
fn is_microsoft_domain(from: &str) -> bool {
    from_domain_is(from, MICROSOFT_DOMAINS)
}

/// Whether a From header's address is at one of `domains` or a subdomain of one.
fn from_domain_is(from: &str, domains: &[&str]) -> bool {
    address::domain_of(from)
        .is_some_and(|domain| domains.iter().any(|d| address::is_within(&domain, d)))
}

/// Whether `domain`, in the form `address::compared_domain` gives, is one of `parents` or
/// a subdomain of one; `parents` are written in that form already (lower case, no dot at
/// the end, no `xn--` label), so nothing is worked out again per parent.
fn compared_within(domain: Option<&str>, parents: &[&str]) -> bool {
    domain.is_some_and(|domain| {
        parents
            .iter()
            .any(|parent| address::is_within_compared(domain, parent))
    })
}

fn is_apple_unsubscribe(outer: &HeaderBlock) -> bool {
    outer
        .get("X-Apple-Unsubscribe")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

fn looks_like_bounce(outer: &HeaderBlock) -> bool {
    let from = outer.get("From").unwrap_or("").to_ascii_lowercase();
    let subject = outer.get("Subject").unwrap_or("").to_ascii_lowercase();
    let daemon = from.contains("mailer-daemon");
    // A mailer daemon writing from the null sender (RFC 5321 section 4.5.5) is a
    // notification about delivery, whatever its subject says ("Warning: could not send").
    if daemon && null_return_path(outer) {
        return true;
    }
    (daemon || from.contains("postmaster@"))
        && [
            "undeliver",
            "delivery status",
            "delivery failure",
            "returned mail",
            "failure notice",
            "mail delivery failed",
        ]
        .iter()
        .any(|s| subject.contains(s))
        // Words a person forwarding mail from a postmaster@ address may write too.
        || daemon
            && [
                "delivery has failed",
                "delivery notification",
                "could not be delivered",
                "not delivered",
                "delayed",
                "could not send",
                "delivery delay",
                "returned to sender",
                "non-delivery",
                "nondelivery",
                "undelivered",
            ]
            .iter()
            .any(|s| subject.contains(s))
}

/// The Subject with its encoded words decoded (`=?utf-8?q?Automatic_reply=3A...?=`), as
/// the MIME layer reads it; else as written.
fn subject_of<'a>(outer: &'a HeaderBlock, message: &'a Message) -> &'a str {
    message
        .subject()
        .or_else(|| outer.get("Subject"))
        .unwrap_or("")
}

/// How mail programs begin the subject of an out-of-office or other automatic answer, lower
/// case: Outlook, Exchange, Gmail, Lotus Notes and others, in English, German, French,
/// Spanish, Dutch, Italian, Portuguese and the Nordic languages.
const AUTO_REPLY_SUBJECTS: [&str; 33] = [
    "automatic reply",
    "auto:",
    "autoreply",
    "auto-reply",
    "auto reply",
    "auto response",
    "autoresponse",
    "out of office",
    "out-of-office",
    "out of the office",
    "ooo:",
    "automatische antwort",
    "abwesenheitsnotiz",
    "abwesend:",
    "réponse automatique",
    "reponse automatique",
    "absence du bureau",
    "absent du bureau",
    "respuesta automática",
    "respuesta automatica",
    "fuera de la oficina",
    "automatisch antwoord",
    "afwezig:",
    "risposta automatica",
    "fuori sede",
    "fuori ufficio",
    "resposta automática",
    "resposta automatica",
    "ausência temporária",
    "fora do escritório",
    "automatiskt svar",
    "automatisk svar",
    "automatisch beantwoord",
];

/// The `Auto-Submitted` value (RFC 3834), lower-cased, without its comments.
fn auto_submitted(outer: &HeaderBlock) -> Option<String> {
    outer.get("Auto-Submitted").map(|v| {
        header_block::without_comments(v)
            .trim()
            .to_ascii_lowercase()
    })
}

/// An answer a program sent by itself: RFC 3834 `Auto-Submitted: auto-replied` (or
/// `auto-notified`, RFC 5436), the common auto-responder headers (`X-Autoreply`,
/// `X-Autorespond`, `X-Vacation`, ...), `Precedence: auto_reply`, or an out-of-office subject
/// (`subject` decoded, see `subject_of`) in one of the languages of `AUTO_REPLY_SUBJECTS`.
fn is_automatic_reply(outer: &HeaderBlock, subject: &str) -> bool {
    let subject = subject.trim().to_lowercase();
    auto_submitted(outer)
        .is_some_and(|v| v.starts_with("auto-replied") || v.starts_with("auto-notified"))
        || [
            "X-Autoreply",
            "X-Autorespond",
            "X-Autoresponder",
            "X-AutoReply-From",
            "X-Mail-Autoreply",
            "X-Vacation",
        ]
        .iter()
        .any(|name| outer.contains(name))
        || outer
            .get("Precedence")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("auto_reply"))
        || AUTO_REPLY_SUBJECTS
            .iter()
            .any(|prefix| subject.starts_with(prefix))
}

/// Whether the message was sent by a program on its own, so that no person asks anything in
/// it (mail to an unsubscribe address that no one wrote): an automatic reply
/// (`is_automatic_reply`); `Auto-Submitted` other than `no`, except `auto-generated` on its
/// own (a mail client's mailto unsubscribe is generated for its user, and may say so) but
/// with `X-Auto-Response-Suppress` beside it (a ticket system's acknowledgement; Outlook
/// writes that header on ordinary mail too, so it is no mark on its own); `Precedence`
/// `bulk`, `junk` or `list`; the null sender (`Return-Path: <>`, which delivery
/// notifications and automatic replies use); or a From whose local part is a mail system's
/// or a no-reply address (MAILER-DAEMON, postmaster, noreply, ...).
fn sent_by_a_program(outer: &HeaderBlock, subject: &str) -> bool {
    let auto_submitted = match auto_submitted(outer)
        .filter(|v| !v.is_empty() && v != "no")
        .as_deref()
    {
        None => false,
        Some(v) if v.starts_with("auto-generated") => outer.contains("X-Auto-Response-Suppress"),
        Some(_) => true,
    };
    auto_submitted
        || is_automatic_reply(outer, subject)
        || outer.get("Precedence").is_some_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "bulk" | "junk" | "list" | "auto_reply"
            )
        })
        || null_return_path(outer)
        || outer.get("From").is_some_and(is_a_system_sender)
}

/// Whether the message came from the null sender: `Return-Path: <>`.
fn null_return_path(outer: &HeaderBlock) -> bool {
    outer
        .get("Return-Path")
        .is_some_and(|v| header_block::without_comments(v).trim() == "<>")
}

/// Whether a From header names a mail system or a no-reply address by its local part
/// (`MAILER-DAEMON@mx.example.de`, `Mail Delivery System <postmaster@...>`,
/// `no-reply@accounts.example.org`): no person writes from those.
fn is_a_system_sender(from: &str) -> bool {
    let from = header_block::without_comments(from).to_ascii_lowercase();
    let address = address::inside_angle_brackets(&from).unwrap_or(from.as_str());
    let local = address
        .trim()
        .rsplit_once('@')
        .map_or(address.trim(), |(l, _)| l);
    let local = local.trim_matches('"');
    matches!(
        local,
        "mailer-daemon"
            | "mailerdaemon"
            | "mailer_daemon"
            | "mail-daemon"
            | "maildaemon"
            | "postmaster"
    ) || [
        "noreply",
        "no-reply",
        "no_reply",
        "donotreply",
        "do-not-reply",
        "do_not_reply",
    ]
    .iter()
    .any(|prefix| local.starts_with(prefix))
}

/// Who sent a message, from its User-Agent, From and tell-tale headers.
fn reporter_of(outer: &HeaderBlock, user_agent: Option<&str>) -> Reporter {
    let agent = user_agent.unwrap_or("").to_ascii_lowercase();
    // The address of From, never its display name. Its domain is read once, for every
    // provider's domains below.
    let from = outer.get("From").unwrap_or("");
    let domain = address::domain_of(from);
    let compared = domain.as_deref().map(address::compared_domain);
    let within = |parents: &[&str]| compared_within(compared.as_deref(), parents);
    if agent.contains("jmrp") || within(MICROSOFT_DOMAINS) {
        return Reporter::Microsoft;
    }
    if agent.contains("yahoo") || within(YAHOO_DOMAINS) || outer.contains("X-Yahoo-Newman-Property")
    {
        return Reporter::Yahoo;
    }
    if agent.contains("aol") || within(AOL_DOMAINS) {
        return Reporter::Aol;
    }
    if agent.contains("returnpath")
        || outer.contains("X-Rp-Fbl")
        || domain
            .as_deref()
            .unwrap_or_default()
            .starts_with("feedback.")
    {
        return Reporter::Validity;
    }
    if within(SES_DOMAINS) {
        return Reporter::AmazonSes;
    }
    if outer.contains("X-Apple-Unsubscribe") || within(APPLE_DOMAINS) {
        return Reporter::Apple;
    }
    Reporter::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reporter_reads_the_from_domain_once_with_the_same_answers() {
        let lists = [
            MICROSOFT_DOMAINS,
            YAHOO_DOMAINS,
            AOL_DOMAINS,
            SES_DOMAINS,
            APPLE_DOMAINS,
        ];
        // The lists are written in the form domains are compared in.
        for parent in lists.iter().flat_map(|list| list.iter()) {
            assert_eq!(address::compared_domain(parent), *parent);
        }
        for from in [
            "staff@hotmail.com",
            "staff@HOTMAIL.COM.",
            "Staff <staff@mail.Outlook.com>",
            "x@notoutlook.com",
            "x@outlook.com.example",
            "feedback@arf.mail.yahoo.com",
            "scomp@aol.net",
            "reports@gaol.example",
            "x@xaol.com",
            "complaints@email-abuse.amazonses.com",
            "x@ME.com",
            "x@apple.com.",
            "x@xn--bcher-kva.de",
            "x@bücher.de",
            "x@xn--zz.com",
            "\"Forwarded via msn.com\" <abuse@isp.example>",
            "not an address",
            "",
        ] {
            let domain = address::domain_of(from);
            let compared = domain.as_deref().map(address::compared_domain);
            for list in lists {
                assert_eq!(
                    compared_within(compared.as_deref(), list),
                    from_domain_is(from, list),
                    "{from} in {list:?}"
                );
            }
        }
    }

    #[test]
    fn the_reporter_is_told_by_the_from_address_not_its_display_name() {
        let reporter = |from: &str| {
            reporter_of(
                &HeaderBlock::parse(format!("From: {from}\n\n").as_bytes()),
                None,
            )
        };
        assert_eq!(reporter("staff@hotmail.com"), Reporter::Microsoft);
        assert_eq!(
            reporter("Yahoo! Mail AntiSpam Feedback <feedback@arf.mail.yahoo.com>"),
            Reporter::Yahoo
        );
        assert_eq!(reporter("scomp@aol.net"), Reporter::Aol);
        assert_eq!(
            reporter("feedbackloop@feedback.comcast.net"),
            Reporter::Validity
        );
        assert_eq!(
            reporter("\"Forwarded via msn.com\" <abuse@isp.example>"),
            Reporter::Other
        );
        assert_eq!(reporter("reports@gaol.example"), Reporter::Other);
        assert_eq!(reporter("\"Not yahoo\" <x@isp.example>"), Reporter::Other);
    }

    #[test]
    fn an_address_type_before_original_rcpt_to_is_not_an_address() {
        let fields =
            HeaderBlock::parse(b"Feedback-Type: abuse\nOriginal-Rcpt-To: rfc822; <jane@example.net>\nOriginal-Rcpt-To: RFC822;joe@example.org\nOriginal-Rcpt-To: smtp;ann@example.com\nOriginal-Rcpt-To: utf-8; bo@example.com\n\n");
        let mut report = Report::empty(Kind::Complaint, Format::Arf, Reporter::Other);
        read_feedback_fields(&mut report, &fields, &mut Vec::new());
        assert_eq!(
            report.original_rcpt_to,
            [
                "jane@example.net",
                "joe@example.org",
                "ann@example.com",
                "bo@example.com"
            ]
        );
    }

    #[test]
    fn a_list_in_one_original_rcpt_to_is_each_of_its_addresses() {
        let fields = HeaderBlock::parse(
            b"Feedback-Type: abuse\nOriginal-Rcpt-To: <a@example.org>, b@example.net\nOriginal-Rcpt-To: c@example.com\n\n",
        );
        let mut report = Report::empty(Kind::Complaint, Format::Arf, Reporter::Other);
        read_feedback_fields(&mut report, &fields, &mut Vec::new());
        assert_eq!(
            report.original_rcpt_to,
            ["a@example.org", "b@example.net", "c@example.com"]
        );
        // An empty one is kept: it says the complainant was redacted.
        let fields = HeaderBlock::parse(b"Feedback-Type: abuse\nOriginal-Rcpt-To: \n\n");
        let mut report = Report::empty(Kind::Complaint, Format::Arf, Reporter::Other);
        read_feedback_fields(&mut report, &fields, &mut Vec::new());
        assert_eq!(report.original_rcpt_to, [""]);
    }

    const EVERY_FIELD: &[u8] = include_bytes!("../fixtures/reports/arf-rfc5965-every-field.eml");

    /// The fixture with its part-2 `Feedback-Type: abuse` line replaced by `lines`.
    fn with_feedback_types(lines: &str) -> Vec<u8> {
        let text = std::str::from_utf8(EVERY_FIELD).unwrap();
        assert!(text.contains("\nFeedback-Type: abuse\n"));
        text.replacen("\nFeedback-Type: abuse\n", &format!("\n{lines}"), 1)
            .into_bytes()
    }

    #[test]
    fn input_that_is_not_an_email_is_an_error_not_a_message_without_a_report() {
        let mut random = vec![0u8; 2048];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for byte in &mut random {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *byte = state as u8;
        }
        random[0] = 0x8c;
        for (raw, says) in [
            (
                &b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\n"[..],
                "(it begins \"%PDF-1.4\\n%\\xe2\\xe3\\xcf\\xd3\\n1\", a PDF document)",
            ),
            (
                b"PK\x03\x04\x14\x00\x00\x00\x08\x00report.eml",
                "a ZIP archive",
            ),
            (&random, "does not start with a header field"),
            (b"", "it is empty"),
        ] {
            let report = parse(raw).report;
            assert_eq!(report.kind, Kind::NotAReport);
            let error = report.error.unwrap_or_default();
            assert!(error.starts_with("not an email message: "), "{error}");
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn odd_but_real_emails_still_parse() {
        let text = std::str::from_utf8(EVERY_FIELD).unwrap();
        for raw in [
            format!("From news-return@example.com Tue Mar 10 08:00:05 2026\n{text}"),
            format!("\n\r\n{text}"),
            format!("\u{feff}{text}"),
            text.replace('\n', "\r\n"),
            text.replacen("Subject: ", "Subject: \u{e9}t\u{e9} ", 1),
        ] {
            let report = parse(raw.as_bytes()).report;
            assert_eq!(report.error, None, "{:?}", &raw[..40]);
            assert_eq!(report.kind, Kind::Complaint);
            assert_eq!(report.original_rcpt_to, ["jane.doe@example.net"]);
        }
        let latin1 = [
            b"Subject: \xe9t\xe9\nFrom: a@example.org\n\n".as_slice(),
            b"hello\n",
        ]
        .concat();
        let report = parse(&latin1).report;
        assert_eq!((report.kind, report.error), (Kind::NotAReport, None));
    }

    /// A person's message forwarding `attachment` (its part headers, then its body).
    fn forwarding(part_headers: &str, body: &[u8]) -> Vec<u8> {
        [
            b"From: Dana <dana@example.com>\nTo: fbl@example.com\nSubject: FW: complaint\n\
              MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"fw\"\n\n\
              --fw\nContent-Type: text/plain\n\nSee the attached report.\n--fw\n"
                .as_slice(),
            part_headers.as_bytes(),
            b"\n\n",
            body,
            b"\n--fw--\n",
        ]
        .concat()
    }

    fn base64_lines(bytes: &[u8]) -> Vec<u8> {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        text.as_bytes().chunks(76).collect::<Vec<_>>().join(&b'\n')
    }

    #[test]
    fn a_report_a_mail_client_attached_as_a_file_is_read_as_forwarded() {
        for (headers, body) in [
            (
                "Content-Type: application/octet-stream; name=\"complaint.eml\"\n\
                 Content-Disposition: attachment; filename=\"complaint.eml\"\n\
                 Content-Transfer-Encoding: base64",
                base64_lines(EVERY_FIELD),
            ),
            (
                "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64",
                base64_lines(EVERY_FIELD),
            ),
            (
                "Content-Type: application/x-eml\nContent-Disposition: attachment",
                EVERY_FIELD.to_vec(),
            ),
            (
                "Content-Type: text/plain; charset=us-ascii; name=\"FW complaint.EML\"\n\
                 Content-Disposition: attachment",
                EVERY_FIELD.to_vec(),
            ),
        ] {
            let report = parse(&forwarding(headers, &body)).report;
            assert_eq!(report.error, None, "{headers}");
            assert_eq!(report.kind, Kind::Complaint, "{headers}");
            assert_eq!(
                report.original_rcpt_to,
                ["jane.doe@example.net"],
                "{headers}"
            );
        }
    }

    const LEGACY_JMRP: &[u8] = include_bytes!("../fixtures/reports/jmrp-legacy-2016.eml");
    const SES: &[u8] = include_bytes!("../fixtures/reports/amazon-ses-forwarded-complaint.eml");

    /// Every way a mail client attaches a forwarded message: `message/rfc822` attached or
    /// inline, and a file (base64 `application/octet-stream`, `application/x-eml`,
    /// `text/plain` named `*.eml`).
    fn attached_every_way(report: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            (
                "Content-Type: message/rfc822; name=\"complaint.eml\"\n\
                 Content-Disposition: attachment; filename=\"complaint.eml\"",
                report.to_vec(),
            ),
            (
                "Content-Type: message/rfc822\nContent-Disposition: inline",
                report.to_vec(),
            ),
            (
                "Content-Type: application/octet-stream; name=\"complaint.eml\"\n\
                 Content-Disposition: attachment; filename=\"complaint.eml\"\n\
                 Content-Transfer-Encoding: base64",
                base64_lines(report),
            ),
            (
                "Content-Type: application/x-eml\nContent-Disposition: attachment",
                report.to_vec(),
            ),
            (
                "Content-Type: text/plain; charset=us-ascii; name=\"FW complaint.eml\"\n\
                 Content-Disposition: attachment",
                report.to_vec(),
            ),
        ]
    }

    /// A report read from an attachment comes with the attached message, whose content key
    /// is the report's as delivered directly (ingest de-duplicates on it); a forward of a
    /// forward gives the innermost, a forward of several reports none, a report read from the
    /// message itself none.
    #[test]
    fn a_report_read_from_an_attachment_gives_the_attached_message() {
        use crate::content_key::content_key;
        for report in [EVERY_FIELD, LEGACY_JMRP, SES] {
            assert!(parse(report).inner.is_none());
            for (headers, body) in attached_every_way(report) {
                let forward = forwarding(headers, &body);
                let inner = parse(&forward).inner.expect(headers);
                assert_eq!(content_key(&inner), content_key(report), "{headers}");
                let again = forwarding("Content-Type: message/rfc822", &forward);
                let inner = parse(&again).inner.expect(headers);
                assert_eq!(content_key(&inner), content_key(report), "{headers}");
            }
        }
        let several = [
            b"From: Dana <dana@example.com>\nSubject: FW: two\nMIME-Version: 1.0\n\
              Content-Type: multipart/mixed; boundary=\"fw\"\n\n\
              --fw\nContent-Type: message/rfc822\n\n"
                .as_slice(),
            EVERY_FIELD,
            b"\n--fw\nContent-Type: message/rfc822\n\n",
            SES,
            b"\n--fw--\n",
        ]
        .concat();
        let parsed = parse(&several);
        assert!(parsed.report.error.is_some(), "{:?}", parsed.report);
        assert!(parsed.inner.is_none());
    }

    #[test]
    fn a_forwarded_legacy_jmrp_or_ses_complaint_is_read_as_it_arrived() {
        for (fixture, format, reporter, complainant) in [
            (
                LEGACY_JMRP,
                Format::JmrpLegacy,
                Reporter::Microsoft,
                "lucy.grant@hotmail.example",
            ),
            (
                SES,
                Format::Forwarded,
                Reporter::AmazonSes,
                "carla.mendes@example.net",
            ),
        ] {
            let direct = parse(fixture);
            for (headers, body) in attached_every_way(fixture) {
                let Parsed {
                    report, original, ..
                } = parse(&forwarding(headers, &body));
                assert_eq!(report.error, None, "{headers}");
                assert_eq!(
                    (report.kind, report.format, report.reporter),
                    (Kind::Complaint, format, reporter),
                    "{headers}"
                );
                // The report's own fields, and the complained-about message's headers for
                // attribution, are those of the report as it arrived.
                assert_eq!(report.source_ip, direct.report.source_ip, "{headers}");
                assert_eq!(report.message_id, direct.report.message_id, "{headers}");
                assert_eq!(report.derived, direct.report.derived, "{headers}");
                assert!(
                    original
                        .get_all("To")
                        .chain(original.get_all("X-HmXmrOriginalRecipient"))
                        .any(|to| to.contains(complainant)),
                    "{headers}"
                );
            }
        }
    }

    #[test]
    fn a_forward_holds_no_unsubscribe_request_nor_bounce() {
        // Anyone can write a message with an Apple mark and a From naming someone else, and
        // attach it: only its own sender may ask to leave a list.
        let apple = b"From: victim@example.org\nTo: unsubscribe@lists.example.com\n\
                      Subject: unsubscribe\nX-Apple-Unsubscribe: true\n\nunsubscribe\n";
        let bounce = b"From: MAILER-DAEMON@mx.example.net\nTo: news-return@example.com\n\
                       Subject: Undelivered Mail Returned to Sender\n\nThe mail could not be delivered.\n";
        for fixture in [&apple[..], &bounce[..]] {
            for (headers, body) in attached_every_way(fixture) {
                let report = parse(&forwarding(headers, &body)).report;
                assert_eq!(
                    (report.kind, report.error, report.recipients.len()),
                    (Kind::NotAReport, None, 0),
                    "{headers}"
                );
            }
        }
    }

    #[test]
    fn an_outlook_item_or_utf16_winmail_dat_is_quarantined_not_filed_as_no_report() {
        let utf16 = |text: &str| -> Vec<u8> {
            text.encode_utf16()
                .flat_map(|unit| unit.to_le_bytes())
                .collect()
        };
        let fields = "Feedback-Type: abuse\r\nUser-Agent: ExampleNet-FBL/3.2\r\n\
                      Version: 1\r\nOriginal-Rcpt-To: <jane@example.net>\r\n";
        // Outlook keeps a forwarded item's text as UTF-16LE, between binary structures.
        let mut msg = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x00\x3e\x00".to_vec();
        msg.extend(utf16(fields));
        msg.extend([0x00, 0x00, 0x1f, 0x00]);
        let mut odd = vec![0x78u8];
        odd.extend(utf16(fields));
        for (headers, body, says) in [
            (
                "Content-Type: application/octet-stream; name=\"winmail.dat\"\n\
                 Content-Transfer-Encoding: base64",
                base64_lines(&odd),
                "an ARF report in the attached file \"winmail.dat\"",
            ),
            (
                "Content-Type: application/octet-stream; name=\"FW complaint.msg\"\n\
                 Content-Transfer-Encoding: base64",
                base64_lines(&msg),
                "an ARF report in the attached file \"FW complaint.msg\"",
            ),
            // An Outlook item keeps its body compressed: nothing to see, still a forward.
            (
                "Content-Type: application/vnd.ms-outlook; name=\"item\"\n\
                 Content-Transfer-Encoding: base64",
                base64_lines(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00\x01\x02\x03"),
                "an Outlook item, which may hold one, in the attached file \"item\"",
            ),
        ] {
            let report = parse(&forwarding(headers, &body)).report;
            assert_eq!(report.kind, Kind::NotAReport, "{says}");
            assert_eq!(
                report.error.as_deref(),
                Some(
                    format!(
                        "a forwarded feedback report that fbl cannot read reliably ({says}): \
                         forward it as an attachment (message/rfc822), or save it as an .eml \
                         file and give that to fbl ingest"
                    )
                    .as_str()
                ),
            );
        }
        // A binary file with zero bytes and no report text stays an attachment.
        let mut png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".to_vec();
        png.extend(utf16("Title: holiday"));
        let report = parse(&forwarding(
            "Content-Type: image/png; name=\"beach.png\"\nContent-Transfer-Encoding: base64",
            &base64_lines(&png),
        ))
        .report;
        assert_eq!((report.kind, report.error), (Kind::NotAReport, None));
    }

    #[test]
    fn an_attached_file_that_is_no_report_stays_an_attachment() {
        let ordinary = b"From: a@example.org\nTo: b@example.com\nSubject: hi\n\nhello\n";
        for (headers, body) in [
            (
                "Content-Type: application/octet-stream; name=\"invoice.pdf\"\n\
                 Content-Transfer-Encoding: base64",
                base64_lines(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< >>\nendobj\n"),
            ),
            (
                "Content-Type: application/octet-stream; name=\"noise.eml\"\n\
                 Content-Transfer-Encoding: base64",
                base64_lines(&[0x8c, 0x00, 0xff, 0x3a, 0x10, 0x9e, 0x3a, 0x0a]),
            ),
            (
                "Content-Type: application/x-eml; name=\"hello.eml\"",
                ordinary.to_vec(),
            ),
            (
                "Content-Type: text/plain; name=\"notes.txt\"",
                b"Minutes of Tuesday's meeting.\n".to_vec(),
            ),
        ] {
            let report = parse(&forwarding(headers, &body)).report;
            assert_eq!(
                (report.kind, report.error),
                (Kind::NotAReport, None),
                "{headers}"
            );
        }
    }

    /// A report with two feedback-report parts naming two complainants: reading the first
    /// alone dropped the second without a word.
    const TWO_FEEDBACK_PARTS: &str = "From: Abuse Desk <abuse@mail.example.net>\n\
        To: fbl@example.com\n\
        Subject: Abuse report\n\
        Date: Tue, 10 Mar 2026 03:41:17 -0500\n\
        MIME-Version: 1.0\n\
        Content-Type: multipart/report; report-type=feedback-report; boundary=\"B\"\n\n\
        --B\nContent-Type: text/plain\n\nThis is an abuse report.\n\n\
        --B\nContent-Type: message/feedback-report\n\n\
        Feedback-Type: abuse\nUser-Agent: ExampleNet-FBL/3.2\nVersion: 1\n\
        Source-IP: 192.0.2.25\nOriginal-Rcpt-To: <jane.doe@example.net>\n\n\
        --B\nContent-Type: message/feedback-report\n\n\
        Feedback-Type: abuse\nUser-Agent: ExampleNet-FBL/3.2\nVersion: 1\n\
        Source-IP: 192.0.2.25\nOriginal-Rcpt-To: <john.roe@example.net>\n\n\
        --B\nContent-Type: message/rfc822\n\n\
        From: Example Shop <news@example.com>\nTo: Jane Doe <jane.doe@example.net>\n\
        Subject: Deals\nMessage-ID: <d-1@mta1.example.com>\n\nHello.\n\n--B--\n";

    #[test]
    fn two_feedback_report_parts_that_disagree_are_an_error() {
        let report = parse(TWO_FEEDBACK_PARTS.as_bytes()).report;
        assert_eq!(
            report.error.as_deref(),
            Some("2 message/feedback-report parts that say different things: a report has one")
        );
        // The same part twice (a writer's slip) says one thing: read.
        let second = TWO_FEEDBACK_PARTS.replace("john.roe", "jane.doe");
        let report = parse(second.as_bytes()).report;
        assert_eq!(report.error, None);
        assert_eq!(report.kind, Kind::Complaint);
        assert_eq!(report.original_rcpt_to, ["jane.doe@example.net"]);
    }

    #[test]
    fn a_feedback_report_labelled_delivery_status_is_read_as_the_report_it_is() {
        let one = TWO_FEEDBACK_PARTS.replace("john.roe", "jane.doe");
        let mislabelled = one.replace("report-type=feedback-report", "report-type=delivery-status");
        let report = parse(mislabelled.as_bytes()).report;
        assert_eq!((report.kind, report.format), (Kind::Complaint, Format::Arf));
        assert_eq!(report.original_rcpt_to, ["jane.doe@example.net"]);
        // A real bounce (a delivery-status part) that also carries a feedback-report part
        // stays a bounce, as before.
        let bounce = mislabelled.replacen(
            "--B\nContent-Type: message/feedback-report",
            "--B\nContent-Type: message/delivery-status\n\n\
             Reporting-MTA: dns; mx.example.net\n\n\
             Final-Recipient: rfc822; jane.doe@example.net\nAction: failed\nStatus: 5.1.1\n\n\
             --B\nContent-Type: message/feedback-report",
            1,
        );
        assert_eq!(parse(bounce.as_bytes()).report.kind, Kind::Bounce);
    }

    #[test]
    fn two_feedback_types_that_disagree_are_an_error() {
        let report = parse(&with_feedback_types(
            "Feedback-Type: abuse\nFeedback-Type: not-spam\n",
        ))
        .report;
        assert_eq!(
            report.error.as_deref(),
            Some("two Feedback-Type fields: abuse and not-spam")
        );
        let report = parse(&with_feedback_types(
            "Feedback-Type: not-spam\nFeedback-Type: abuse\nFeedback-Type: fraud\n",
        ))
        .report;
        assert_eq!(
            report.error.as_deref(),
            Some("3 Feedback-Type fields: not-spam, abuse and fraud")
        );
        // The same type twice, in another case or with a comment, is no contradiction.
        let report = parse(&with_feedback_types(
            "Feedback-Type: abuse\nFeedback-Type: Abuse (again)\n",
        ))
        .report;
        assert_eq!(report.error, None);
        assert_eq!(report.kind, Kind::Complaint);
        assert_eq!(report.feedback_type.as_deref(), Some("abuse"));
    }

    /// RFC 2047 encoded words in the East Asian charsets mailers still use for subjects
    /// (mail-parser's `full_encoding` feature). Each word was made with Python's codecs and
    /// checked to decode back with `email.header.decode_header`.
    #[test]
    fn east_asian_encoded_word_subjects_are_decoded() {
        let text = std::str::from_utf8(EVERY_FIELD).unwrap();
        let attached = "\nSubject: Your July deals are here\n";
        assert!(text.contains(attached));
        for (word, subject) in [
            (
                "=?ISO-2022-JP?B?GyRCPVUkTiU7ITwlayEnQTRJShsoQjMwJRskQiUqJVUbKEI=?=",
                "春のセール：全品30%オフ",
            ),
            (
                "=?GB2312?B?tLq8vrTZz/qjusirs6HG39Xb?=",
                "春季促销：全场七折",
            ),
            (
                "=?Shift_JIS?B?j3SCzINagVuDi4FGkVOVaTMwJYNJg3Q=?=",
                "春のセール：全品30%オフ",
            ),
            (
                "=?EUC-KR?B?ur24wsDMILy8wM86IMD8IMewuPEgMzAlIMfSwM4=?=",
                "봄맞이 세일: 전 품목 30% 할인",
            ),
            ("=?Big5?B?rEupda9TveahR6X+wF2kQ6fp?=", "春季特賣：全館七折"),
        ] {
            let raw = text.replacen(attached, &format!("\nSubject: {word}\n"), 1);
            let report = parse(raw.as_bytes()).report;
            assert_eq!(report.subject.as_deref(), Some(subject), "{word}");
        }
    }

    #[test]
    fn a_feedback_type_is_read_without_its_comments_and_quotes() {
        for (value, token, kind) in [
            ("abuse", "abuse", Kind::Complaint),
            ("Abuse ", "abuse", Kind::Complaint),
            ("auth-failure (dmarc)", "auth-failure", Kind::AuthFailure),
            (
                "not-spam (user marked (as) not junk)",
                "not-spam",
                Kind::NotSpam,
            ),
            ("\"not-spam\"", "not-spam", Kind::NotSpam),
            ("not-spam;", "not-spam", Kind::NotSpam),
            ("(comment) opt-out", "opt-out", Kind::Unsubscribe),
            // The spellings loops write the registered types in.
            ("not spam", "not-spam", Kind::NotSpam),
            ("Not  Spam", "not-spam", Kind::NotSpam),
            ("not_spam", "not-spam", Kind::NotSpam),
            ("NOT_SPAM", "not-spam", Kind::NotSpam),
            ("notspam", "not-spam", Kind::NotSpam),
            ("\"not spam\"", "not-spam", Kind::NotSpam),
            ("not spam; user action", "not-spam", Kind::NotSpam),
            ("auth_failure", "auth-failure", Kind::AuthFailure),
            ("Auth Failure", "auth-failure", Kind::AuthFailure),
            ("opt_out", "opt-out", Kind::Unsubscribe),
            // A negation fbl does not know is never a complaint.
            ("not junk", "not-junk", Kind::NotSpam),
            ("notjunk", "notjunk", Kind::NotSpam),
            // One plain token, read without splitting, as the others.
            ("Not-Spam", "not-spam", Kind::NotSpam),
            ("ABUSE", "abuse", Kind::Complaint),
            ("Auth-Failure", "auth-failure", Kind::AuthFailure),
            (" abuse ", "abuse", Kind::Complaint),
            ("NotJunk", "notjunk", Kind::NotSpam),
            // Unknown types are complaints, kept as written (fixtures/reports/README.md).
            ("complaint", "complaint", Kind::Complaint),
            ("abuse extra words", "abuse", Kind::Complaint),
        ] {
            let read = feedback_type_token(value);
            assert_eq!(read, token, "{value}");
            assert_eq!(kind_of_feedback_type(Some(&read)), kind, "{value}");
        }
    }

    /// `attachment` forwarded by a person inside a multipart/mixed with `boundary`.
    fn forwarded_with(boundary: &str, part_headers: &str, body: &[u8]) -> Vec<u8> {
        [
            format!(
                "From: Helpdesk <helpdesk@example.com>\nTo: fbl@example.com\n\
                 Subject: Fwd: complaint\nMIME-Version: 1.0\n\
                 Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\n\
                 --{boundary}\nContent-Type: text/plain\n\nPassing this on.\n\
                 --{boundary}\n{part_headers}\n\n"
            )
            .as_bytes(),
            body,
            format!("\n--{boundary}--\n").as_bytes(),
        ]
        .concat()
    }

    #[test]
    fn a_forward_of_a_forward_is_read_through_to_a_limit() {
        // A helpdesk forwards a colleague's forward; the same with the report as a file in
        // the inner one, and with a legacy JMRP report.
        for (report, complainant, part) in [
            (
                EVERY_FIELD,
                "jane.doe@example.net",
                "Content-Type: message/rfc822",
            ),
            (
                EVERY_FIELD,
                "jane.doe@example.net",
                "Content-Type: application/octet-stream; name=\"complaint.eml\"\n\
                 Content-Transfer-Encoding: base64",
            ),
            (
                LEGACY_JMRP,
                "lucy.grant@hotmail.example",
                "Content-Type: message/rfc822",
            ),
        ] {
            let body = if part.contains("base64") {
                base64_lines(report)
            } else {
                report.to_vec()
            };
            let once = forwarded_with("inner", part, &body);
            let twice = forwarded_with("outer", "Content-Type: message/rfc822", &once);
            let Parsed {
                report, original, ..
            } = parse(&twice);
            assert_eq!(
                (report.kind, report.error),
                (Kind::Complaint, None),
                "{part}"
            );
            assert!(
                report.original_rcpt_to.iter().any(|r| r == complainant)
                    || original
                        .get_all("X-HmXmrOriginalRecipient")
                        .any(|to| to.contains(complainant)),
                "{part}"
            );
        }
        // Four forwards deep is read; five is no forward a person made: not read, and
        // quarantined (the report is there) rather than filed as not a report.
        let mut raw = EVERY_FIELD.to_vec();
        for level in 0..MAX_FORWARDS {
            raw = forwarded_with(&format!("b{level}"), "Content-Type: message/rfc822", &raw);
        }
        let report = parse(&raw).report;
        assert_eq!((report.kind, report.error), (Kind::Complaint, None));
        raw = forwarded_with("b9", "Content-Type: message/rfc822", &raw);
        let report = parse(&raw).report;
        assert_eq!(report.kind, Kind::NotAReport);
        assert!(
            report
                .error
                .is_some_and(|e| e.starts_with("a forwarded feedback report that fbl cannot read"))
        );
    }

    #[test]
    fn a_report_pasted_into_a_forward_or_attached_as_text_is_quarantined() {
        let every_field = std::str::from_utf8(EVERY_FIELD).unwrap();
        let jmrp = std::str::from_utf8(LEGACY_JMRP).unwrap();
        let quoted: String = every_field.lines().map(|l| format!("> {l}\n")).collect();
        let ses_json = "{\"notificationType\" : \"Complaint\",\"complaint\":{\"complainedRecipients\":\
                        [{\"emailAddress\":\"jane@example.net\"}]},\"mail\":{}}";
        for (part, body, says) in [
            (
                "Content-Type: text/plain",
                format!("---------- Forwarded message ---------\n{every_field}"),
                "an ARF report in the text of the message",
            ),
            (
                "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable",
                format!("Begin forwarded message:\n\n{}", quoted.replace('=', "=3D")),
                "an ARF report in the text of the message",
            ),
            (
                "Content-Type: text/plain; name=\"report.txt\"\n\
                 Content-Disposition: attachment; filename=\"report.txt\"",
                every_field.to_string(),
                "an ARF report in the attached file \"report.txt\"",
            ),
            (
                "Content-Type: text/plain",
                format!("-----Original Message-----\n{jmrp}"),
                "a Microsoft JMRP report in the text of the message",
            ),
            // Forwards written in HTML only: a web mail's `<div>` and `<br>` lines with the
            // angle brackets as entities, Outlook's `<p class=MsoNormal>` paragraphs whose
            // source breaks a line where the reader sees none.
            (
                "Content-Type: text/html; charset=utf-8",
                format!(
                    "<div dir=\"ltr\">---------- Forwarded message ---------<br>{}</div>",
                    every_field
                        .lines()
                        .map(|l| l.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"))
                        .collect::<Vec<_>>()
                        .join("<br>\n")
                ),
                "an ARF report in the text of the message",
            ),
            (
                "Content-Type: text/html; charset=\"us-ascii\"",
                format!(
                    "<html><head><style><!-- p.MsoNormal {{margin:0cm}} --></style></head>\
                     <body><p class=MsoNormal><b>From:</b> staff@hotmail.com<o:p></o:p></p>\n{}\
                     </body></html>",
                    jmrp.lines()
                        .map(|l| format!(
                            "<p class=MsoNormal><span\nstyle='font-size:11.0pt'>{}<o:p>&nbsp;</o:p></span></p>\n",
                            l.replacen(": ", ":\n", 1).replace('<', "&lt;")
                        ))
                        .collect::<String>()
                ),
                "a Microsoft JMRP report in the text of the message",
            ),
        ] {
            let report = parse(&forwarded_with("fw", part, body.as_bytes())).report;
            assert_eq!(report.kind, Kind::NotAReport, "{says}");
            assert_eq!(
                report.error.as_deref(),
                Some(
                    format!(
                        "a forwarded feedback report that fbl cannot read reliably ({says}): \
                         forward it as an attachment (message/rfc822), or save it as an .eml \
                         file and give that to fbl ingest"
                    )
                    .as_str()
                ),
            );
        }
        // An SES notification in JSON (an SNS topic mailed to the feedback address) is no
        // report fbl reads however it is forwarded: the advice is to change SES's setup.
        let report = parse(&forwarded_with(
            "fw",
            "Content-Type: text/plain",
            ses_json.as_bytes(),
        ))
        .report;
        assert_eq!(
            report.error.as_deref(),
            Some(
                "an Amazon SES complaint notification in the text of the message: fbl does \
                 not read SES's JSON notifications; have SES send complaints by email instead \
                 (email feedback forwarding), which fbl reads"
            )
        );
        // The whole message a pasted report, not multipart.
        let pasted = format!(
            "From: a@example.com\nTo: fbl@example.com\nSubject: Fwd: Abuse report\n\n\
             ---------- Forwarded message ---------\n{every_field}"
        );
        assert!(parse(pasted.as_bytes()).report.error.is_some());
    }

    #[test]
    fn the_text_of_html_is_read_as_its_reader_sees_it() {
        assert_eq!(
            html_text(
                "<HTML><Style>p {}</STYLE><!-- <p>x</p> --><p>Feedback-Type:\n  abuse</p>\
                 <div>To: &lt;a&#64;example.org&gt;&nbsp;&amp;&bogus; &#x3c;</div>\
                 <pre>a\n  b</pre>c<br>d <script>e</script>&"
            ),
            "\nFeedback-Type: abuse\nTo: <a@example.org> &&bogus; <\na\nb\nc\nd &"
        );
        // Unclosed markup ends the text; bytes beyond ASCII pass through.
        assert_eq!(html_text("é <b"), "é <b");
        assert_eq!(html_text("<!-- never closed"), "<!-- never closed");
    }

    #[test]
    fn mail_that_only_mentions_report_words_is_not_quarantined() {
        let ordinary =
            include_bytes!("../fixtures/reports/ordinary-mail-mentioning-complaints.eml");
        assert_eq!(
            (parse(ordinary).report.kind, parse(ordinary).report.error),
            (Kind::NotAReport, None)
        );
        for text in [
            "Feedback-Type: abuse reports are rare; the Version: field says 1.\n",
            "Feedback-Type: abuse\nis what the part says.\n",
            "We read the message/feedback-report part of each report.\n",
            "The notificationType is Complaint or Bounce.\n",
            "{\"notificationType\":\"Bounce\",\"bounce\":{}}\n",
            "X-HmXmrOriginalRecipient is gone since June.\n",
            "User-Agent: Thunderbird\nVersion: 115\n",
        ] {
            let raw = forwarded_with("fw", "Content-Type: text/plain", text.as_bytes());
            let report = parse(&raw).report;
            assert_eq!(
                (report.kind, report.error),
                (Kind::NotAReport, None),
                "{text}"
            );
        }
        // A report pasted into mail a program sent (a ticket system's `auto-replied`
        // forward, an answer that quotes it) is a report all the same: a person looks.
        let every_field = std::str::from_utf8(EVERY_FIELD).unwrap();
        let answer = format!(
            "From: a@example.org\nTo: fbl@example.com\nSubject: Automatic reply: Abuse report\n\
             Auto-Submitted: auto-replied\n\nI am away.\n\n{every_field}"
        );
        let report = parse(answer.as_bytes()).report;
        assert_eq!(report.kind, Kind::NotAReport);
        assert!(
            report
                .error
                .is_some_and(|e| e.contains("cannot read reliably"))
        );
    }

    /// A message to an unsubscribe address: `From`, `Subject`, then `extra` header lines.
    fn to_unsubscribe(from: &str, subject: &str, extra: &str) -> Vec<u8> {
        format!(
            "From: {from}\nTo: unsubscribe@lists.example.com\nSubject: {subject}\n\
             Date: Tue, 10 Mar 2026 10:00:00 +0000\n{extra}\nbody\n"
        )
        .into_bytes()
    }

    #[test]
    fn mail_no_person_wrote_is_no_unsubscribe_request() {
        // `original` empty: `attribute` finds no unsubscribe address in it, so nobody asks.
        for (from, subject, extra) in [
            (
                "Max <max@example.de>",
                "=?utf-8?q?Automatic_reply=3A_Spring_sale?=",
                "",
            ),
            (
                "Max <max@example.de>",
                "=?iso-8859-1?q?R=E9ponse_automatique_=3A_Soldes?=",
                "",
            ),
            (
                "Max <max@example.de>",
                "Automatische Antwort: Spring sale",
                "",
            ),
            ("Max <max@example.de>", "Abwesenheitsnotiz: Spring sale", ""),
            ("Max <max@example.de>", "Out-of-Office: Spring sale", ""),
            ("Max <max@example.de>", "Respuesta automática: Rebajas", ""),
            (
                "Max <max@example.de>",
                "Automatisch antwoord: Uitverkoop",
                "",
            ),
            ("Max <max@example.de>", "Risposta automatica: Saldi", ""),
            ("Max <max@example.de>", "Resposta automática: Promoção", ""),
            (
                "Max <max@example.de>",
                "Re: Spring sale",
                "X-Vacation: yes\n",
            ),
            (
                "Max <max@example.de>",
                "Re: Spring sale",
                "Precedence: bulk\n",
            ),
            (
                "Max <max@example.de>",
                "Re: Spring sale",
                "Precedence: junk\n",
            ),
            (
                "Max <max@example.de>",
                "Re: Spring sale",
                "Auto-Submitted: auto-replied (vacation)\n",
            ),
            (
                "Max <max@example.de>",
                "Re: Spring sale",
                "Auto-Submitted: auto-notified\n",
            ),
            (
                "Max <max@example.de>",
                "Re: Spring sale",
                "X-Autoreply: yes\n",
            ),
            (
                "Support <support@helpdesk.example.org>",
                "[Ticket #4711] We received your request",
                "Auto-Submitted: auto-generated\nX-Auto-Response-Suppress: All\n",
            ),
            ("Max <max@example.de>", "unsubscribe", "Return-Path: <>\n"),
            ("MAILER-DAEMON@mx.example.de", "Hello", ""),
            ("Mail System <postmaster@mx.example.de>", "Hello", ""),
            (
                "no-reply@accounts.example.org",
                "Please confirm your address",
                "",
            ),
            (
                "\"Accounts\" <noreply+x@accounts.example.org>",
                "Please confirm",
                "",
            ),
        ] {
            let Parsed {
                report, original, ..
            } = parse(&to_unsubscribe(from, subject, extra));
            assert_eq!(report.error, None, "{subject} {extra}");
            assert!(
                original.fields().next().is_none(),
                "{from} {subject} {extra}: read as a person's mail"
            );
        }
        // A mailer daemon's delay warning is a bounce, whatever its subject.
        for (subject, extra) in [
            ("Warning: could not send message for past 4 hours", ""),
            ("Hello", "Return-Path: <>\n"),
        ] {
            let raw = to_unsubscribe(
                "Mail Delivery Subsystem <mailer-daemon@mx.example.de>",
                subject,
                extra,
            );
            assert_eq!(parse(&raw).report.kind, Kind::Bounce, "{subject}");
        }
        // A person's request keeps its headers, also with a mail client's own marks:
        // `Auto-Submitted: auto-generated` (a mailto unsubscribe is generated for its user)
        // and `X-Auto-Response-Suppress` (Outlook writes it on ordinary mail) alone.
        for extra in [
            "",
            "Auto-Submitted: auto-generated\n",
            "Auto-Submitted: no\n",
            "X-Auto-Response-Suppress: All\n",
            "Precedence: first-class\n",
            "Return-Path: <max@example.de>\n",
        ] {
            let raw = to_unsubscribe("Max <max@example.de>", "unsubscribe", extra);
            let Parsed {
                report, original, ..
            } = parse(&raw);
            assert_eq!(report.kind, Kind::NotAReport, "{extra}");
            assert!(
                original.contains("To"),
                "{extra}: not read as a person's mail"
            );
        }
    }

    #[test]
    fn a_reported_message_attached_as_text_or_octet_stream_is_read() {
        let text = std::str::from_utf8(EVERY_FIELD).unwrap();
        let direct = parse(EVERY_FIELD);
        assert!(direct.report.message_id.is_some());
        let part = "\nContent-Type: message/rfc822\n";
        assert!(text.contains(part));
        for written in [
            "\nContent-Type: text/plain; charset=utf-8\n",
            "\nContent-Type: application/octet-stream\n",
        ] {
            let Parsed {
                report, original, ..
            } = parse(text.replacen(part, written, 1).as_bytes());
            assert_eq!(
                (report.kind, report.error),
                (Kind::Complaint, None),
                "{written}"
            );
            assert_eq!(report.message_id, direct.report.message_id, "{written}");
            assert_eq!(report.subject, direct.report.subject, "{written}");
            assert_eq!(
                original.get("Return-Path"),
                direct.original.get("Return-Path")
            );
            assert!(!report.extensions.contains_key("x-fbl-missing-part"));
        }
        // A part that does not start with a header field is no message.
        let notes = text.replacen(
            part,
            "\nContent-Type: text/plain\n\nThe original was deleted.\n\n",
            1,
        );
        assert_eq!(parse(notes.as_bytes()).report.message_id, None);
    }

    #[test]
    fn a_dsn_sent_as_multipart_mixed_is_a_bounce() {
        let dsn = include_bytes!("../fixtures/reports/dsn-bounce-delivery-status.eml");
        let text = std::str::from_utf8(dsn).unwrap();
        let declared = "multipart/report; report-type=delivery-status;";
        assert!(text.contains(declared));
        let direct = parse(dsn).report;
        assert_eq!(direct.kind, Kind::Bounce);
        let mixed = text
            .replacen(declared, "multipart/mixed;", 1)
            .replacen(
                "From: ",
                "From: Mail System <postmaster@mx.example.net>\nX-Old-From: ",
                1,
            )
            .replacen(
                "Subject: ",
                "Subject: Message not delivered\nX-Old-Subject: ",
                1,
            );
        let report = parse(mixed.as_bytes()).report;
        assert_eq!((report.kind, report.error), (Kind::Bounce, None));
        assert_eq!(report.message_id, direct.message_id);
    }
}
