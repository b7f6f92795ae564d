//! Microsoft SNDS report bodies: the legacy `data.aspx` and `ipStatus.aspx` CSV exports and
//! the new API's CSV or JSON answers. Pure: no IO, no clock.
//!
//! Parsing is by position (formats.md section 4): no header row is expected but one is
//! tolerated, rows may carry 13 or 14 fields (more are ignored), lines starting with `#` are
//! comments, and quoted commas follow RFC 4180. Times are kept as the raw text and also
//! converted to UTC with a configurable zone, because SNDS does not say which zone it writes.

use crate::zone::Zone;
use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use serde::{Serialize, Serializer};
use std::borrow::Cow;
use std::net::IpAddr;

/// Fewer fields than this (through the complaint rate) is not a data row.
const MIN_DATA_FIELDS: usize = 8;

/// The fields of a whole data row: SNDS writes 13 or 14 (formats.md 4.1).
const FULL_DATA_FIELDS: usize = 13;

/// Fewer fields than this (first IP, last IP, blocked) is not an IP status row.
const MIN_IP_STATUS_FIELDS: usize = 3;

/// A time before this year is not SNDS's (it began in 2005): a year misread or mistyped.
const FIRST_YEAR: i32 = 2000;

/// How much of an offending value an error message quotes.
const EXCERPT_CHARS: usize = 60;

/// Why an SNDS body could not be read. "No data" is not an error: it is `Ok(vec![])`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SndsParseError {
    /// SNDS answers a bad or expired key with its HTML sign-in page instead of CSV.
    #[error("snds answered with an html page instead of data: the key is bad or expired")]
    SignInPage,
    /// A CSV row that claims to be data but is broken.
    #[error("snds csv line {line}: {reason}")]
    BadRow { line: u64, reason: String },
    /// The body is not valid JSON although it was announced or looked like JSON.
    #[error("snds json body: {reason}")]
    BadJson { reason: String },
    /// One element of a JSON array that is not a usable row (index counts from 0).
    #[error("snds json item {index}: {reason}")]
    BadJsonItem { index: usize, reason: String },
}

impl SndsParseError {
    /// Replaces `secret` in the error's text with `***`, for callers that hold a key or token
    /// which a hostile or confused server might echo into the body: the secret as sent and
    /// URL-encoded, and its first characters (8 or more) where a quoted value was cut short.
    /// A caller should also scrub the body before parsing it (quoting is cut after 60
    /// characters, which may fall inside the secret); this catches what is left.
    pub fn redact(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        match self {
            SndsParseError::SignInPage => {}
            SndsParseError::BadRow { reason, .. }
            | SndsParseError::BadJson { reason }
            | SndsParseError::BadJsonItem { reason, .. } => {
                *reason = redact_secret(reason, secret);
            }
        }
    }
}

/// The fewest leading characters of a secret that are masked where a quote was cut.
const SECRET_PREFIX_CHARS: usize = 8;

/// `text` without `secret`, as sent or URL-encoded, nor its first 8 or more characters just
/// before a cut (`…`), in any case of their letters.
pub(crate) fn redact_secret(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        return text.to_owned();
    }
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    // In any case of its letters: a server may echo a key upper-cased.
    let mut out = replace_ignoring_ascii_case(text, secret, "***");
    if encoded != secret {
        out = replace_ignoring_ascii_case(&out, &encoded, "***");
    }
    for form in [secret, encoded.as_str()] {
        out = mask_prefix_before_cut(&out, form);
    }
    out
}

/// `text` with every occurrence of `needle`, compared without regard to ASCII case, replaced
/// by `with`. ASCII lower-casing keeps every byte where it is, so offsets in the lower-cased
/// copy are offsets in `text`, on character boundaries.
fn replace_ignoring_ascii_case(text: &str, needle: &str, with: &str) -> String {
    if needle.is_empty() {
        return text.to_string();
    }
    let lower_text = text.to_ascii_lowercase();
    let lower_needle = needle.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    while let Some(at) = lower_text[from..].find(&lower_needle) {
        out.push_str(&text[from..from + at]);
        out.push_str(with);
        from += at + needle.len();
    }
    out.push_str(&text[from..]);
    out
}

/// Whether `text` ends with `suffix`, compared without regard to ASCII case. A match starts
/// where `suffix` starts, on a character boundary: other bytes compare exactly.
fn ends_with_ignoring_ascii_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len()
        && text.is_char_boundary(text.len() - suffix.len())
        && text.as_bytes()[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

fn mask_prefix_before_cut(text: &str, secret: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('…') {
        let before = &rest[..at];
        // The longest start of the secret, of at least 8 characters, that ends at the cut, in
        // any case of its letters (a server may echo a key upper-cased, and the whole of it
        // is masked so before it is quoted; its start, cut off, must be too).
        let start_len = secret
            .char_indices()
            .map(|(index, c)| index + c.len_utf8())
            .skip(SECRET_PREFIX_CHARS - 1)
            .filter(|end| ends_with_ignoring_ascii_case(before, &secret[..*end]))
            .last();
        match start_len {
            Some(len) => {
                out.push_str(&before[..before.len() - len]);
                out.push_str("***");
            }
            None => out.push_str(before),
        }
        out.push('…');
        rest = &rest[at + '…'.len_utf8()..];
    }
    out.push_str(rest);
    out
}

/// The `filter result` column: how often SmartScreen judged the IP's mail to be spam.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FilterColor {
    /// Spam verdict under 10% of the time.
    Green,
    /// Spam verdict 10% to 90% of the time.
    Yellow,
    /// Spam verdict over 90% of the time.
    Red,
    /// Empty or a value SNDS has not been seen to send; the raw text is kept beside it.
    Unknown,
}

impl FilterColor {
    /// Reads `GREEN`, `Yellow`, `red` and so on; anything else is `Unknown`.
    pub fn parse(raw: &str) -> FilterColor {
        match raw.trim().to_ascii_lowercase().as_str() {
            "green" => FilterColor::Green,
            "yellow" => FilterColor::Yellow,
            "red" => FilterColor::Red,
            _ => FilterColor::Unknown,
        }
    }

    /// The name stored and printed: `green`, `yellow`, `red`, `unknown`.
    pub fn as_str(self) -> &'static str {
        match self {
            FilterColor::Green => "green",
            FilterColor::Yellow => "yellow",
            FilterColor::Red => "red",
            FilterColor::Unknown => "unknown",
        }
    }

    /// How bad the colour is, for "did it get worse": unknown and green are 0, yellow 1,
    /// red 2.
    pub fn severity(self) -> u8 {
        match self {
            FilterColor::Green | FilterColor::Unknown => 0,
            FilterColor::Yellow => 1,
            FilterColor::Red => 2,
        }
    }
}

/// The `complaint rate` column: complaints divided by message recipients, in percent.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ComplaintBand {
    /// `< 0.1%` or `<0.1%`: SNDS does not say how far below.
    BelowPointOne,
    /// A percentage: `0.4%` is `Percent(0.4)`.
    Percent(f64),
    /// Empty or unreadable; the raw text is kept beside it.
    Unknown,
}

impl ComplaintBand {
    /// Reads `< 0.1%`, `<0.1%`, `0.4%`, `0.4` and `12 %`; anything else is `Unknown`.
    pub fn parse(raw: &str) -> ComplaintBand {
        let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        let number = |text: &str| -> Option<f64> {
            let value: f64 = text.strip_suffix('%').unwrap_or(text).parse().ok()?;
            (value.is_finite() && value >= 0.0).then_some(value)
        };
        if let Some(rest) = compact.strip_prefix('<') {
            return match number(rest) {
                Some(value) if (value - 0.1).abs() < 1e-9 => ComplaintBand::BelowPointOne,
                _ => ComplaintBand::Unknown,
            };
        }
        match number(&compact) {
            Some(value) => ComplaintBand::Percent(value),
            None => ComplaintBand::Unknown,
        }
    }

    /// The rate as a percentage for threshold checks: `BelowPointOne` counts as 0.1, the
    /// most it can be, so a warning at 0.1% fires only on a known rate at or above it.
    pub fn upper_bound_percent(self) -> Option<f64> {
        match self {
            ComplaintBand::BelowPointOne => Some(0.1),
            ComplaintBand::Percent(value) => Some(value),
            ComplaintBand::Unknown => None,
        }
    }
}

/// One row of `data.aspx` or of the API's data report: one IP over one activity window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SndsDataRow {
    pub ip: IpAddr,
    /// The activity window exactly as SNDS wrote it, e.g. `2/10/2026 4:00 PM`.
    pub activity_start_raw: String,
    pub activity_end_raw: String,
    /// The window converted to UTC with the configured zone; `None` when the text is empty
    /// or in a shape not recognised.
    #[serde(serialize_with = "serialize_optional_utc")]
    pub activity_start: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_optional_utc")]
    pub activity_end: Option<DateTime<Utc>>,
    pub rcpt_commands: u64,
    pub data_commands: u64,
    pub message_recipients: u64,
    pub filter_result: FilterColor,
    pub filter_result_raw: String,
    pub complaint_rate_raw: String,
    pub complaint_rate: ComplaintBand,
    pub trap_period_start_raw: String,
    pub trap_period_end_raw: String,
    #[serde(serialize_with = "serialize_optional_utc")]
    pub trap_period_start: Option<DateTime<Utc>>,
    #[serde(serialize_with = "serialize_optional_utc")]
    pub trap_period_end: Option<DateTime<Utc>>,
    /// Empty in the CSV means none, so 0.
    pub trap_hits: u64,
    pub sample_helo: Option<String>,
    /// Envelope MAIL FROM of a sample complaint.
    pub jmr_p1_sender: Option<String>,
    /// Free text such as `Abuse reported for: ...` or `JMR Block`.
    pub comments: Option<String>,
}

/// One row of `ipStatus.aspx`: an inclusive range of IPs and whether Outlook.com blocks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpStatusRange {
    pub first_ip: IpAddr,
    /// Inclusive; the range may cross octets (`192.0.2.254` to `192.0.3.1`).
    pub last_ip: IpAddr,
    pub blocked: bool,
    /// `Yes`, `No`, `True`, ... as SNDS wrote it.
    pub blocked_raw: String,
    /// E.g. `Blocked due to user complaints or other evidence of spamming`.
    pub details: String,
}

impl IpStatusRange {
    /// Whether `ip` lies in the range, bounds included. An IPv4 address is never in an IPv6
    /// range or the other way round. A range written backwards is read forwards.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.first_ip, self.last_ip, ip) {
            (IpAddr::V4(first), IpAddr::V4(last), IpAddr::V4(ip)) => {
                let (low, high) = ordered(u32::from(first), u32::from(last));
                (low..=high).contains(&u32::from(ip))
            }
            (IpAddr::V6(first), IpAddr::V6(last), IpAddr::V6(ip)) => {
                let (low, high) = ordered(u128::from(first), u128::from(last));
                (low..=high).contains(&u128::from(ip))
            }
            _ => false,
        }
    }
}

/// The first range that contains `ip`, if any.
pub fn find_ip_status(ranges: &[IpStatusRange], ip: IpAddr) -> Option<&IpStatusRange> {
    ranges.iter().find(|range| range.contains(ip))
}

fn ordered<T: Ord>(a: T, b: T) -> (T, T) {
    if a <= b { (a, b) } else { (b, a) }
}

/// Parses a `data.aspx` body (or the API's CSV data report). Times are read in `zone`.
/// The first broken row makes the whole body an error; [`parse_data_keeping_good_rows`]
/// keeps the others.
pub fn parse_data_csv(body: &str, zone: &Zone) -> Result<Vec<SndsDataRow>, SndsParseError> {
    strict(data_csv(body, zone, AnswerEnd::Unchecked)?)
}

/// The rows of a data report that could be read, and one error (naming its line or item)
/// for each row that could not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DataParse {
    pub rows: Vec<SndsDataRow>,
    pub rejected: Vec<SndsParseError>,
}

/// Parses a data report as [`parse_api_data`] does (CSV or JSON), but a row that is broken
/// (a first column that is not an IP, a count that is not a number) is set aside with its
/// line number and the rest still load. A body in which no row at all can be read is an
/// error: it is not a report.
pub fn parse_data_keeping_good_rows(
    body: &str,
    content_type: Option<&str>,
    zone: &Zone,
    end: AnswerEnd,
) -> Result<DataParse, SndsParseError> {
    let parse = if is_json(strip_bom(body), content_type) && !looks_like_html(body) {
        api_data_json(strip_bom(body), zone)?
    } else {
        data_csv(body, zone, end)?
    };
    match parse.rejected.first() {
        Some(first) if parse.rows.is_empty() => Err(first.clone()),
        _ => Ok(parse),
    }
}

fn strict(parse: DataParse) -> Result<Vec<SndsDataRow>, SndsParseError> {
    match parse.rejected.into_iter().next() {
        Some(first) => Err(first),
        None => Ok(parse.rows),
    }
}

fn data_csv(body: &str, zone: &Zone, end: AnswerEnd) -> Result<DataParse, SndsParseError> {
    let body = strip_bom(body);
    if looks_like_html(body) {
        return Err(SndsParseError::SignInPage);
    }
    let mut parse = DataParse::default();
    for_each_csv_record(body, |line, fields, first, line_end| {
        if first && is_header_row(fields, MIN_DATA_FIELDS, DATA_COLUMN_NAMES[0]) {
            return Ok(());
        }
        if let Some(reason) = cut_off(end, line_end, fields.len(), FULL_DATA_FIELDS) {
            // Storing it would overwrite the figures stored before with what is missing.
            parse.rejected.push(SndsParseError::BadRow {
                line,
                reason: format!("{reason}, so the row is not kept"),
            });
            return Ok(());
        }
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        match data_row_from_fields(&fields, zone) {
            Ok(row) => parse.rows.push(row),
            Err(reason) => parse.rejected.push(SndsParseError::BadRow { line, reason }),
        }
        Ok(())
    })?;
    Ok(parse)
}

/// Parses an `ipStatus.aspx` body (or the API's CSV status report), as a whole answer whose
/// end nothing else checked (see [`AnswerEnd::Unchecked`]).
pub fn parse_ip_status_csv(body: &str) -> Result<Vec<IpStatusRange>, SndsParseError> {
    parse_ip_status_csv_answer(body, AnswerEnd::Unchecked)
}

/// Parses an `ipStatus.aspx` answer: one cut off in transfer (see [`AnswerEnd`]) is refused
/// whole.
pub fn parse_ip_status_csv_answer(
    body: &str,
    end: AnswerEnd,
) -> Result<Vec<IpStatusRange>, SndsParseError> {
    let body = strip_bom(body);
    if looks_like_html(body) {
        return Err(SndsParseError::SignInPage);
    }
    let mut ranges = Vec::new();
    for_each_csv_record(body, |line, fields, first, line_end| {
        if first && is_header_row(fields, MIN_IP_STATUS_FIELDS, IP_STATUS_COLUMN_NAMES[0]) {
            return Ok(());
        }
        // The ipStatus answer is the whole block list: a range missing from it is read as
        // unblocked. A cut answer lacks the ranges after the cut, so it is refused whole.
        if let Some(reason) = cut_off(end, line_end, fields.len(), MIN_IP_STATUS_FIELDS) {
            return Err(SndsParseError::BadRow {
                line,
                reason: format!(
                    "{reason}, so the ip status is not applied (the stored one is kept)"
                ),
            });
        }
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let range = ip_status_from_fields(&fields)
            .map_err(|reason| SndsParseError::BadRow { line, reason })?;
        ranges.push(range);
        Ok(())
    })?;
    Ok(ranges)
}

/// Whether a cut in transfer would have been noticed before the parser sees an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnswerEnd {
    /// The transport checked the answer's length: an HTTP body with a `Content-Length` or
    /// in chunks, which the HTTP client fails when the connection closes before its end.
    Checked,
    /// Nothing did: an HTTP body ended by the server closing the connection (HTTP/1.1
    /// without a length, which a connection dropped mid-answer looks exactly like), or a
    /// file, which whatever wrote it may not have finished.
    Unchecked,
}

/// Why a row that the answer ends in is taken for an answer cut off in transfer, or `None`.
///
/// SNDS ends every row with a line end (CRLF, formats.md 4.1), the last one too. A last row
/// without one, in an answer whose end nothing checked, was cut in transfer: at any point
/// of it, since a cut in the sample HELO, the JMR P1 sender, the comments or the ipStatus
/// details leaves the right number of fields, and a value cut short (`192.0.2.25` of
/// `192.0.2.254`, `Y` of `Yes`, `12` of `120` trap hits) is often a valid value itself. An
/// answer whose length was checked arrived whole, so there only a last row short of
/// `short_of` fields and without a line end is taken for cut (before it was sent).
///
/// What no check can see: a cut that falls just after a line end (between two rows, or
/// before the first byte), which leaves whole rows only. The rows after it are missing,
/// and the answer reads as a shorter one. Only a length (which SNDS sends when it gives
/// one, and which the transport then checks) tells it.
fn cut_off(end: AnswerEnd, line_end: bool, fields: usize, short_of: usize) -> Option<String> {
    if line_end {
        return None;
    }
    if fields < short_of {
        return Some(format!(
            "the answer ends in this row, after {fields} of {short_of} fields and without a \
             line end: it was cut off"
        ));
    }
    (end == AnswerEnd::Unchecked).then(|| {
        "the answer ends in this row without the line end that ends every row SNDS writes, \
         and its length was not told: it was cut off"
            .to_owned()
    })
}

/// Parses a data report from the new API, which may answer CSV in the legacy column order or
/// JSON (an array of objects keyed in camelCase or by the legacy column names, possibly
/// wrapped in an object). JSON is chosen when `content_type` says so or the body starts
/// with `[` or `{`.
pub fn parse_api_data(
    body: &str,
    content_type: Option<&str>,
    zone: &Zone,
) -> Result<Vec<SndsDataRow>, SndsParseError> {
    let body = strip_bom(body);
    if looks_like_html(body) {
        return Err(SndsParseError::SignInPage);
    }
    if !is_json(body, content_type) {
        return parse_data_csv(body, zone);
    }
    strict(api_data_json(body, zone)?)
}

fn api_data_json(body: &str, zone: &Zone) -> Result<DataParse, SndsParseError> {
    let items = json_items(body)?;
    let mut parse = DataParse::default();
    for (index, item) in items.iter().enumerate() {
        let Some(fields) = json_fields(item, &DATA_COLUMN_NAMES) else {
            parse.rejected.push(SndsParseError::BadJsonItem {
                index,
                reason: "not an object".to_owned(),
            });
            continue;
        };
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        match data_row_from_fields(&fields, zone) {
            Ok(row) => parse.rows.push(row),
            Err(reason) => parse
                .rejected
                .push(SndsParseError::BadJsonItem { index, reason }),
        }
    }
    Ok(parse)
}

/// Parses an IP status report from the new API, CSV or JSON as for [`parse_api_data`].
/// A JSON item may name a single `ipAddress` instead of a first and last IP.
pub fn parse_api_ip_status(
    body: &str,
    content_type: Option<&str>,
) -> Result<Vec<IpStatusRange>, SndsParseError> {
    parse_ip_status_answer(body, content_type, AnswerEnd::Unchecked)
}

/// Parses an IP status answer, CSV or JSON as for [`parse_api_ip_status`]: a CSV answer
/// that was cut off (see [`AnswerEnd`]) is refused whole.
pub fn parse_ip_status_answer(
    body: &str,
    content_type: Option<&str>,
    end: AnswerEnd,
) -> Result<Vec<IpStatusRange>, SndsParseError> {
    let body = strip_bom(body);
    if looks_like_html(body) {
        return Err(SndsParseError::SignInPage);
    }
    if !is_json(body, content_type) {
        return parse_ip_status_csv_answer(body, end);
    }
    let items = json_items(body)?;
    let mut ranges = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let mut fields = json_fields(item, &IP_STATUS_COLUMN_NAMES).ok_or_else(|| {
            SndsParseError::BadJsonItem {
                index,
                reason: "not an object".to_owned(),
            }
        })?;
        // A single address stands for a range of one.
        let single = json_fields(item, &[&["ipaddress", "ip"]]).unwrap_or_default();
        if let Some(single) = single.into_iter().next().filter(|ip| !ip.is_empty()) {
            if fields[0].is_empty() {
                fields[0] = single.clone();
            }
            if fields[1].is_empty() {
                fields[1] = single;
            }
        }
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let range = ip_status_from_fields(&fields)
            .map_err(|reason| SndsParseError::BadJsonItem { index, reason })?;
        ranges.push(range);
    }
    Ok(ranges)
}

/// Converts an SNDS time such as `2/10/2026 4:00 PM` to UTC, reading it in `zone`.
/// Also reads 24-hour and ISO 8601 forms; an ISO time with an offset keeps its offset.
/// A local time skipped by a daylight-saving change is read with the offset before the
/// change; a repeated one takes the earlier instant. A two-digit year (`11/18/26`) is
/// read as 20YY; a year before 2000 (`11/18/0026`) is refused. Empty or unknown text gives
/// `None`.
pub fn parse_snds_time(raw: &str, zone: &Zone) -> Option<DateTime<Utc>> {
    const LOCAL_FORMATS: [&str; 10] = [
        "%m/%d/%Y %I:%M %p",
        "%m/%d/%Y %I:%M:%S %p",
        "%m/%d/%Y %H:%M",
        "%m/%d/%Y %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ];
    let text = raw.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(with_offset) = DateTime::parse_from_rfc3339(text) {
        return (with_offset.year() >= FIRST_YEAR).then(|| with_offset.with_timezone(&Utc));
    }
    let text = with_four_digit_year(text);
    let naive = LOCAL_FORMATS
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&text, format).ok())
        .filter(|naive| naive.year() >= FIRST_YEAR)?;
    zone.to_utc(naive)
}

/// `M/D/YY h:mm AM` as `M/D/20YY h:mm AM`: chrono's `%Y` reads `26` as the year 26.
fn with_four_digit_year(text: &str) -> Cow<'_, str> {
    let (date, time) = match text.split_once(' ') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let parts: Vec<&str> = date.split('/').collect();
    match parts[..] {
        [month, day, year] if year.len() == 2 && year.bytes().all(|b| b.is_ascii_digit()) => {
            let date = format!("{month}/{day}/20{year}");
            Cow::Owned(match time {
                Some(time) => format!("{date} {time}"),
                None => date,
            })
        }
        _ => Cow::Borrowed(text),
    }
}

fn strip_bom(body: &str) -> &str {
    body.strip_prefix('\u{feff}').unwrap_or(body)
}

/// A body that is HTML: SNDS's sign-in page for a bad or expired key.
fn looks_like_html(body: &str) -> bool {
    if body.trim_start().starts_with('<') {
        return true;
    }
    // `<html` anywhere, in any case, without copying a large body.
    body.as_bytes()
        .windows(5)
        .any(|window| window.eq_ignore_ascii_case(b"<html"))
}

fn is_json(body: &str, content_type: Option<&str>) -> bool {
    let announced = content_type
        .map(|value| value.to_ascii_lowercase().contains("json"))
        .unwrap_or(false);
    let trimmed = body.trim_start();
    announced || trimmed.starts_with('[') || trimmed.starts_with('{')
}

/// Whether a first row is a header (`IP Address,Activity start,...`, `First IP,...`): its
/// first cell is a known name of the first column and the row has as many fields as a
/// data row needs. A line of prose (`Service unavailable, try later`) is not a header.
fn is_header_row(fields: &[String], min_fields: usize, first_column: &[&str]) -> bool {
    let cell = fields.first().map(String::as_str).unwrap_or("");
    fields.len() >= min_fields && first_column.contains(&normalise_key(cell).as_str())
}

/// Calls `each(line, fields, is_first_record, ends_with_a_line_end)` for every CSV record,
/// trimmed; blank lines and lines starting with `#` (comments) are skipped.
fn for_each_csv_record(
    body: &str,
    mut each: impl FnMut(u64, &[String], bool, bool) -> Result<(), SndsParseError>,
) -> Result<(), SndsParseError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(body.as_bytes());
    let mut record = csv::StringRecord::new();
    let mut first = true;
    loop {
        // The csv crate counts lines and bytes from where it started reading, before the
        // line ends and blank lines it skips: step over those, then count.
        let line_at = |byte: u64| {
            let bytes = body.as_bytes();
            let mut start = usize::try_from(byte).unwrap_or(usize::MAX).min(bytes.len());
            while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
                start += 1;
            }
            1 + bytes[..start].iter().filter(|b| **b == b'\n').count() as u64
        };
        let line = line_at(reader.position().byte());
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {}
            Err(err) => {
                let line = err.position().map(|p| line_at(p.byte())).unwrap_or(line);
                return Err(SndsParseError::BadRow {
                    line,
                    reason: format!("unreadable csv: {err}"),
                });
            }
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        let line = record.position().map(|p| line_at(p.byte())).unwrap_or(line);
        // The reader stops after the record's line end, if it has one.
        let end = usize::try_from(reader.position().byte()).unwrap_or(usize::MAX);
        let line_end = body.as_bytes()[..end.min(body.len())]
            .last()
            .is_some_and(|b| matches!(b, b'\r' | b'\n'));
        let fields: Vec<String> = record.iter().map(str::to_owned).collect();
        each(line, &fields, first, line_end)?;
        first = false;
    }
}

/// Builds a data row from fields in the legacy column order; a missing trailing field is
/// empty. The error is the reason, without the location, which the caller adds.
fn data_row_from_fields(fields: &[&str], zone: &Zone) -> Result<SndsDataRow, String> {
    if fields.len() < MIN_DATA_FIELDS {
        return Err(format!(
            "expected at least {MIN_DATA_FIELDS} fields, found {}",
            fields.len()
        ));
    }
    let field = |index: usize| fields.get(index).map(|f| f.trim()).unwrap_or("");
    let optional = |index: usize| Some(field(index).to_owned()).filter(|text| !text.is_empty());
    let ip = parse_ip(field(0), "ip address")?;
    let count = |index: usize, name: &str| parse_count(field(index), name);
    Ok(SndsDataRow {
        ip,
        activity_start_raw: field(1).to_owned(),
        activity_end_raw: field(2).to_owned(),
        activity_start: parse_snds_time(field(1), zone),
        activity_end: parse_snds_time(field(2), zone),
        rcpt_commands: count(3, "rcpt commands")?,
        data_commands: count(4, "data commands")?,
        message_recipients: count(5, "message recipients")?,
        filter_result: FilterColor::parse(field(6)),
        filter_result_raw: field(6).to_owned(),
        complaint_rate_raw: field(7).to_owned(),
        complaint_rate: ComplaintBand::parse(field(7)),
        trap_period_start_raw: field(8).to_owned(),
        trap_period_end_raw: field(9).to_owned(),
        trap_period_start: parse_snds_time(field(8), zone),
        trap_period_end: parse_snds_time(field(9), zone),
        trap_hits: count(10, "trap hits")?,
        sample_helo: optional(11),
        jmr_p1_sender: optional(12),
        // Columns after the 14th are none SNDS is known to write: left out, not glued on.
        comments: optional(13),
    })
}

fn ip_status_from_fields(fields: &[&str]) -> Result<IpStatusRange, String> {
    if fields.len() < MIN_IP_STATUS_FIELDS {
        return Err(format!(
            "expected at least {MIN_IP_STATUS_FIELDS} fields, found {}",
            fields.len()
        ));
    }
    let field = |index: usize| fields.get(index).map(|f| f.trim()).unwrap_or("");
    let first_ip = parse_ip(field(0), "first ip")?;
    let last_ip = parse_ip(field(1), "last ip")?;
    if first_ip.is_ipv4() != last_ip.is_ipv4() {
        return Err(format!(
            "first ip {first_ip} and last ip {last_ip} are of different families"
        ));
    }
    // A range written backwards is the same range: kept in order, so that every reader (the
    // store's periods, the report) sees one shape of it.
    let (first_ip, last_ip) = if last_ip < first_ip {
        (last_ip, first_ip)
    } else {
        (first_ip, last_ip)
    };
    let blocked_raw = field(2).to_owned();
    let blocked = match blocked_raw.to_ascii_lowercase().as_str() {
        "yes" | "y" | "true" | "1" | "blocked" => true,
        "no" | "n" | "false" | "0" | "not blocked" | "notblocked" | "unblocked" => false,
        _ => {
            return Err(format!(
                "blocked column holds {:?}, neither yes nor no",
                excerpt(&blocked_raw)
            ));
        }
    };
    Ok(IpStatusRange {
        first_ip,
        last_ip,
        blocked,
        blocked_raw,
        details: joined_tail(fields, 3).unwrap_or_default(),
    })
}

/// The free-text last column: an unquoted comma in it splits it into extra fields, so the
/// fields from `start` on are joined back; `None` when all are empty.
fn joined_tail(fields: &[&str], start: usize) -> Option<String> {
    let parts: Vec<&str> = fields
        .get(start..)
        .unwrap_or(&[])
        .iter()
        .map(|f| f.trim())
        .collect();
    let last_non_empty = parts.iter().rposition(|part| !part.is_empty())?;
    Some(parts[..=last_non_empty].join(", "))
}

fn parse_ip(text: &str, name: &str) -> Result<IpAddr, String> {
    text.parse()
        .map_err(|_| format!("{name} column holds {:?}, not an ip address", excerpt(text)))
}

/// A count; empty is 0, and thousands separators are tolerated.
fn parse_count(text: &str, name: &str) -> Result<u64, String> {
    let compact: String = text.chars().filter(|c| *c != ',' && *c != ' ').collect();
    if compact.is_empty() {
        return Ok(0);
    }
    if let Ok(value) = compact.parse::<u64>() {
        return Ok(value);
    }
    // JSON numbers such as `12.0`.
    match compact.parse::<f64>() {
        Ok(value) if value >= 0.0 && value.fract() == 0.0 && value < u64::MAX as f64 => {
            Ok(value as u64)
        }
        _ => Err(format!(
            "{name} column holds {:?}, not a count",
            excerpt(text)
        )),
    }
}

/// `text`, cut to 60 characters (`…` marks the cut). Scrub any secret from `text` first.
pub(crate) fn excerpt(text: &str) -> String {
    if text.chars().count() <= EXCERPT_CHARS {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(EXCERPT_CHARS).collect();
        short.push('…');
        short
    }
}

/// Accepted JSON keys per legacy column, compared after lower-casing and dropping
/// everything but letters and digits, so `ipAddress`, `IP Address` and `ip_address` match.
const DATA_COLUMN_NAMES: [&[&str]; 14] = [
    &["ipaddress", "ip", "ipaddr"],
    &[
        "activitystart",
        "activitystartdate",
        "activityperiodstart",
        "activitystarttime",
        "startdate",
        "start",
    ],
    &[
        "activityend",
        "activityenddate",
        "activityperiodend",
        "activityendtime",
        "enddate",
        "end",
    ],
    &["rcptcommands", "rcptcommand", "rcpt"],
    &["datacommands", "datacommand", "data"],
    &["messagerecipients", "recipients", "msgrecipients"],
    &["filterresult", "filterresults", "filter"],
    &["complaintrate", "complaintrates", "complaint"],
    &[
        "trapmessageperiodstart",
        "trapmessagesperiodstart",
        "trapperiodstart",
        "trapmessagestart",
        "trapstart",
    ],
    &[
        "trapmessageperiodend",
        "trapmessagesperiodend",
        "trapperiodend",
        "trapmessageend",
        "trapend",
    ],
    &["traphits", "traphit", "trapmessages", "trapmessagehits"],
    &["samplehelo", "helo"],
    &[
        "jmrp1sender",
        "jmrsender",
        "jmrpp1sender",
        "samplemailfrom",
        "p1sender",
    ],
    &["comments", "comment"],
];

const IP_STATUS_COLUMN_NAMES: [&[&str]; 4] = [
    &[
        "firstip",
        "ipstart",
        "startip",
        "rangestart",
        "fromip",
        "first",
    ],
    &["lastip", "ipend", "endip", "rangeend", "toip", "last"],
    &["blocked", "isblocked", "status", "blockstatus"],
    &["details", "detail", "reason", "blockreason", "description"],
];

/// The rows of a JSON body: a top-level array, or the first array-valued member of a
/// top-level object (`{"value": [...]}`, `{"data": [...]}`), or a single object.
fn json_items(body: &str) -> Result<Vec<serde_json::Value>, SndsParseError> {
    if body.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: serde_json::Value =
        serde_json::from_str(body).map_err(|err| SndsParseError::BadJson {
            reason: err.to_string(),
        })?;
    match value {
        serde_json::Value::Array(items) => Ok(items),
        serde_json::Value::Null => Ok(Vec::new()),
        serde_json::Value::Object(map) => {
            if let Some(items) = map.values().find_map(|v| v.as_array()) {
                Ok(items.clone())
            } else if map.is_empty() {
                Ok(Vec::new())
            } else {
                Ok(vec![serde_json::Value::Object(map)])
            }
        }
        _ => Err(SndsParseError::BadJson {
            reason: "expected an array of objects".to_owned(),
        }),
    }
}

/// The item's values in column order as text (missing or null is empty), or `None` when
/// the item is not an object.
fn json_fields(item: &serde_json::Value, columns: &[&[&str]]) -> Option<Vec<String>> {
    let object = item.as_object()?;
    let normalised: Vec<(String, &serde_json::Value)> = object
        .iter()
        .map(|(key, value)| (normalise_key(key), value))
        .collect();
    let fields = columns
        .iter()
        .map(|aliases| {
            aliases
                .iter()
                .find_map(|alias| {
                    normalised
                        .iter()
                        .find(|(key, _)| key == alias)
                        .map(|(_, value)| json_text(value))
                })
                .unwrap_or_default()
        })
        .collect();
    Some(fields)
}

fn normalise_key(key: &str) -> String {
    key.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn json_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Bool(flag) => flag.to_string(),
        serde_json::Value::Number(number) => number.to_string(),
        other => other.to_string(),
    }
}

fn serialize_optional_utc<S: Serializer>(
    time: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match time {
        Some(time) => {
            serializer.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        }
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn pacific() -> Zone {
        Zone::default_snds()
    }

    fn utc(text: &str) -> Option<DateTime<Utc>> {
        Some(
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    fn fixture(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/snds")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
    }

    /// Runs the parser a fixture's name asks for: `data-*` or `ipstatus-*`, CSV or JSON.
    fn parse_fixture(name: &str, body: &str) -> serde_json::Value {
        let json = name.ends_with(".json");
        let outcome = if name.starts_with("ipstatus-") {
            let parsed = if json {
                parse_api_ip_status(body, Some("application/json"))
            } else {
                parse_ip_status_csv(body)
            };
            parsed.map(|ranges| serde_json::to_value(ranges).unwrap())
        } else {
            let parsed = if json {
                parse_api_data(body, Some("application/json; charset=utf-8"), &pacific())
            } else {
                parse_data_csv(body, &pacific())
            };
            parsed.map(|rows| serde_json::to_value(rows).unwrap())
        };
        match outcome {
            Ok(value) => serde_json::json!({ "ok": value }),
            Err(err) => serde_json::json!({ "error": err.to_string() }),
        }
    }

    fn with_line_ends(body: &str, crlf: bool) -> String {
        let lf = body.replace("\r\n", "\n");
        if crlf { lf.replace('\n', "\r\n") } else { lf }
    }

    /// Every fixture in `fixtures/snds/` against its `.expected.json`, with LF and with CRLF.
    /// On a mismatch the output is written to `.actual.json` beside it; `UPDATE_EXPECT=1`
    /// rewrites the expectations instead.
    #[test]
    fn golden_fixtures() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/snds");
        let update = std::env::var_os("UPDATE_EXPECT").is_some();
        let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .filter(|path| {
                let name = path.file_name().unwrap().to_string_lossy();
                !name.ends_with(".expected.json")
                    && !name.ends_with(".actual.json")
                    && !name.ends_with(".md")
            })
            .collect();
        inputs.sort();
        let mut failures = Vec::new();
        for path in &inputs {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let stem = name.rsplit_once('.').map(|(stem, _)| stem).unwrap_or(&name);
            let expected_path = dir.join(format!("{stem}.expected.json"));
            let actual_path = dir.join(format!("{stem}.actual.json"));
            let body = std::fs::read_to_string(path).unwrap();
            let lf = parse_fixture(&name, &with_line_ends(&body, false));
            let crlf = parse_fixture(&name, &with_line_ends(&body, true));
            assert_eq!(lf, crlf, "{name}: LF and CRLF line ends parse differently");
            let got = serde_json::to_string_pretty(&lf).unwrap() + "\n";
            if update {
                std::fs::write(&expected_path, &got).unwrap();
                continue;
            }
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            if expected != got {
                std::fs::write(&actual_path, &got).unwrap();
                failures.push(format!(
                    "{name}: expected {}, got {}",
                    expected_path.display(),
                    actual_path.display()
                ));
            } else {
                let _ = std::fs::remove_file(&actual_path);
            }
        }
        assert!(inputs.len() >= 10, "too few fixtures ran: {}", inputs.len());
        assert!(
            failures.is_empty(),
            "golden mismatches:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn fourteen_fields_with_quoted_comma_in_comments() {
        let rows = parse_data_csv(&fixture("data-14-fields.csv"), &pacific()).unwrap();
        assert_eq!(rows.len(), 4);
        let red = &rows[2];
        assert_eq!(red.ip, "198.51.100.7".parse::<IpAddr>().unwrap());
        assert_eq!(red.filter_result, FilterColor::Red);
        assert_eq!(red.filter_result_raw, "RED");
        assert_eq!(red.complaint_rate, ComplaintBand::Percent(1.2));
        assert_eq!(red.trap_hits, 112);
        assert_eq!(
            red.comments.as_deref(),
            Some("Abuse reported for: newsletter, promotions")
        );
        assert_eq!(red.jmr_p1_sender.as_deref(), Some("news@example.org"));
        assert_eq!(rows[3].comments.as_deref(), Some("JMR Block"));
        assert_eq!(rows[0].complaint_rate, ComplaintBand::BelowPointOne);
        assert_eq!(rows[0].complaint_rate_raw, "< 0.1%");
    }

    #[test]
    fn thirteen_fields_leave_comments_empty() {
        // Real rows have been seen without the comments column (formats.md 4.1).
        let rows = parse_data_csv(&fixture("data-13-fields.csv"), &pacific()).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].complaint_rate, ComplaintBand::BelowPointOne);
        assert_eq!(rows[0].complaint_rate_raw, "<0.1%");
        assert_eq!(rows[0].trap_hits, 0);
        assert_eq!(rows[1].sample_helo.as_deref(), Some("mx1.example.com"));
        assert_eq!(rows[1].jmr_p1_sender, None);
        assert_eq!(rows[1].comments, None);
    }

    #[test]
    fn windows_crossing_midnight_and_daylight_saving_changes() {
        let rows =
            parse_data_csv(&fixture("data-crossing-midnight-and-dst.csv"), &pacific()).unwrap();
        // 11 PM PST on 7 March to 11 PM PDT on 8 March: 23 hours, across midnight and the change.
        assert_eq!(rows[0].activity_start, utc("2026-03-08T07:00:00Z"));
        assert_eq!(rows[0].activity_end, utc("2026-03-09T06:00:00Z"));
        // 1:30 AM on 1 November 2026 happens twice in Pacific time: the earlier is taken.
        assert_eq!(rows[1].activity_end, utc("2026-11-01T08:30:00Z"));
        // 2:30 AM on 8 March 2026 never happens in Pacific time: read with the PST offset.
        assert_eq!(rows[2].activity_start, utc("2026-03-08T10:30:00Z"));
    }

    #[test]
    fn zone_is_configurable() {
        let rows = parse_data_csv(&fixture("data-14-fields.csv"), &Zone::utc()).unwrap();
        assert_eq!(rows[0].activity_start, utc("2026-02-10T16:00:00Z"));
        assert_eq!(rows[0].activity_start_raw, "2/10/2026 4:00 PM");
        let pacific = parse_data_csv(&fixture("data-14-fields.csv"), &pacific()).unwrap();
        assert_eq!(pacific[0].activity_start, utc("2026-02-11T00:00:00Z"));
    }

    #[test]
    fn times_in_every_accepted_shape() {
        let check = |raw: &str, expected: Option<&str>| {
            assert_eq!(
                parse_snds_time(raw, &Zone::utc()),
                expected.and_then(utc),
                "{raw}"
            );
        };
        check("2/10/2026 4:00 PM", Some("2026-02-10T16:00:00Z"));
        check("12/31/2026 12:05 AM", Some("2026-12-31T00:05:00Z"));
        check("2/1/2026 12:00 pm", Some("2026-02-01T12:00:00Z"));
        check("02/01/2026 09:15:30 AM", Some("2026-02-01T09:15:30Z"));
        check("2/1/2026 17:45", Some("2026-02-01T17:45:00Z"));
        check("2026-02-01T17:45:00", Some("2026-02-01T17:45:00Z"));
        check("2026-02-01T17:45:00.123", Some("2026-02-01T17:45:00.123Z"));
        check("2026-02-01T17:45:00-08:00", Some("2026-02-02T01:45:00Z"));
        check("", None);
        check("   ", None);
        check("yesterday", None);
        check("13/45/2026 4:00 PM", None);
    }

    #[test]
    fn complaint_rate_spellings() {
        let check = |raw: &str, expected: ComplaintBand| {
            assert_eq!(ComplaintBand::parse(raw), expected, "{raw}");
        };
        check("< 0.1%", ComplaintBand::BelowPointOne);
        check("<0.1%", ComplaintBand::BelowPointOne);
        check(" < 0.1 % ", ComplaintBand::BelowPointOne);
        check("0.4%", ComplaintBand::Percent(0.4));
        check("12 %", ComplaintBand::Percent(12.0));
        check("0.25", ComplaintBand::Percent(0.25));
        check("", ComplaintBand::Unknown);
        check("<5%", ComplaintBand::Unknown);
        check("NaN%", ComplaintBand::Unknown);
        check("-1%", ComplaintBand::Unknown);
        assert_eq!(
            ComplaintBand::BelowPointOne.upper_bound_percent(),
            Some(0.1)
        );
    }

    #[test]
    fn header_row_is_tolerated() {
        let rows = parse_data_csv(&fixture("data-with-header-row.csv"), &pacific()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].rcpt_commands, 1502);
        assert_eq!(rows[0].filter_result, FilterColor::Green);
    }

    #[test]
    fn prose_is_not_mistaken_for_a_header() {
        let err = parse_data_csv("Service temporarily unavailable, try later\r\n", &pacific())
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "snds csv line 1: expected at least 8 fields, found 2"
        );
        let err = parse_ip_status_csv("Description,of,the,outage\n").unwrap_err();
        assert!(
            matches!(err, SndsParseError::BadRow { line: 1, .. }),
            "{err:?}"
        );
        assert_eq!(
            parse_ip_status_csv("First IP,Last IP,Blocked,Details\n"),
            Ok(vec![])
        );
    }

    #[test]
    fn row_without_an_ip_is_an_error_naming_its_line() {
        let err = parse_data_csv(&fixture("data-bad-ip-on-line-3.csv"), &pacific()).unwrap_err();
        assert_eq!(
            err,
            SndsParseError::BadRow {
                line: 3,
                reason: "ip address column holds \"not-an-ip\", not an ip address".to_owned()
            }
        );
    }

    #[test]
    fn keeping_good_rows_sets_the_broken_one_aside_with_its_line() {
        let parse = parse_data_keeping_good_rows(
            &fixture("data-bad-ip-on-line-3.csv"),
            None,
            &pacific(),
            AnswerEnd::Checked,
        )
        .unwrap();
        assert_eq!(parse.rows.len(), 1);
        assert_eq!(
            parse.rejected,
            [SndsParseError::BadRow {
                line: 3,
                reason: "ip address column holds \"not-an-ip\", not an ip address".to_owned()
            }]
        );
        let parse = parse_data_keeping_good_rows(
            r#"[{"ipAddress":"192.0.2.1","rcptCommands":1}, 5]"#,
            None,
            &pacific(),
            AnswerEnd::Checked,
        )
        .unwrap();
        assert_eq!(parse.rows.len(), 1);
        assert!(matches!(
            parse.rejected[..],
            [SndsParseError::BadJsonItem { index: 1, .. }]
        ));
    }

    #[test]
    fn a_broken_first_row_is_set_aside_too() {
        let body = fixture("data-bad-ip-on-line-3.csv");
        let lines: Vec<&str> = body.lines().collect();
        let good = lines
            .iter()
            .find(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .unwrap();
        let broken = good.replacen(good.split(',').next().unwrap(), "192.0.2.0/24", 1);
        let parse = parse_data_keeping_good_rows(
            &format!("{broken}\n{good}\n"),
            None,
            &pacific(),
            AnswerEnd::Checked,
        )
        .unwrap();
        assert_eq!(parse.rows.len(), 1);
        assert!(matches!(
            parse.rejected[..],
            [SndsParseError::BadRow { line: 1, .. }]
        ));
    }

    #[test]
    fn keeping_good_rows_of_a_body_without_any_is_an_error() {
        let err = parse_data_keeping_good_rows(
            "Service temporarily unavailable, try later\n",
            None,
            &pacific(),
            AnswerEnd::Checked,
        )
        .unwrap_err();
        assert!(
            matches!(err, SndsParseError::BadRow { line: 1, .. }),
            "{err:?}"
        );
        assert_eq!(
            parse_data_keeping_good_rows(
                &fixture("data-sign-in-page.html"),
                None,
                &pacific(),
                AnswerEnd::Checked
            ),
            Err(SndsParseError::SignInPage)
        );
        assert_eq!(
            parse_data_keeping_good_rows(
                "",
                Some("application/json"),
                &pacific(),
                AnswerEnd::Checked
            ),
            Ok(DataParse::default())
        );
    }

    #[test]
    fn short_and_garbled_rows_are_errors() {
        let err = parse_data_csv("192.0.2.1,2/10/2026 4:00 PM,x\n", &pacific()).unwrap_err();
        assert!(
            matches!(err, SndsParseError::BadRow { line: 1, .. }),
            "{err:?}"
        );
        let err =
            parse_data_csv("192.0.2.1,a,b,many,1,1,GREEN,< 0.1%,,,,,,\n", &pacific()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "snds csv line 1: rcpt commands column holds \"many\", not a count"
        );
        let err = parse_ip_status_csv("192.0.2.1,192.0.2.9,Maybe,x\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "snds csv line 1: blocked column holds \"Maybe\", neither yes nor no"
        );
        let err = parse_ip_status_csv("192.0.2.1,2001:db8::1,Yes,x\n").unwrap_err();
        assert!(err.to_string().contains("different families"), "{err}");
    }

    #[test]
    fn empty_body_is_no_data() {
        assert_eq!(parse_data_csv("", &pacific()), Ok(vec![]));
        assert_eq!(parse_data_csv("\r\n\r\n", &pacific()), Ok(vec![]));
        assert_eq!(parse_ip_status_csv(""), Ok(vec![]));
        assert_eq!(
            parse_api_data("", Some("application/json"), &pacific()),
            Ok(vec![])
        );
        assert_eq!(parse_api_data("[]", None, &pacific()), Ok(vec![]));
        assert_eq!(parse_api_ip_status("", None), Ok(vec![]));
    }

    #[test]
    fn html_is_a_sign_in_page() {
        let page = fixture("data-sign-in-page.html");
        assert_eq!(
            parse_data_csv(&page, &pacific()),
            Err(SndsParseError::SignInPage)
        );
        assert_eq!(parse_ip_status_csv(&page), Err(SndsParseError::SignInPage));
        assert_eq!(
            parse_api_data(&page, Some("text/html"), &pacific()),
            Err(SndsParseError::SignInPage)
        );
        let late = "Please sign in\n<HTML><body>x</body></HTML>";
        assert_eq!(
            parse_data_csv(late, &pacific()),
            Err(SndsParseError::SignInPage)
        );
        assert_eq!(
            parse_data_csv("\u{feff}  \n<!doctype html>", &pacific()),
            Err(SndsParseError::SignInPage)
        );
    }

    #[test]
    fn ip_status_range_crossing_octets() {
        let ranges = parse_ip_status_csv(&fixture("ipstatus-ranges.csv")).unwrap();
        assert_eq!(ranges.len(), 4);
        let first = &ranges[0];
        assert!(first.blocked);
        for inside in ["192.0.2.254", "192.0.2.255", "192.0.3.0", "192.0.3.1"] {
            assert!(first.contains(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["192.0.2.253", "192.0.3.2", "2001:db8::1"] {
            assert!(!first.contains(outside.parse().unwrap()), "{outside}");
        }
        assert!(ranges[1].blocked, "True means blocked");
        assert_eq!(ranges[1].blocked_raw, "True");
        assert!(!ranges[2].blocked);
        assert_eq!(ranges[2].details, "");
        assert_eq!(ranges[3].details, "SpamHaus SBL/XBL, Symantec Brightmail");
        let found = find_ip_status(&ranges, "198.51.100.20".parse().unwrap()).unwrap();
        assert_eq!(found.first_ip, "198.51.100.16".parse::<IpAddr>().unwrap());
        assert!(find_ip_status(&ranges, "10.0.0.1".parse().unwrap()).is_none());
    }

    #[test]
    fn backwards_and_ipv6_ranges() {
        let range = IpStatusRange {
            first_ip: "192.0.2.9".parse().unwrap(),
            last_ip: "192.0.2.1".parse().unwrap(),
            blocked: true,
            blocked_raw: "Yes".to_owned(),
            details: String::new(),
        };
        assert!(range.contains("192.0.2.5".parse().unwrap()));
        let read = parse_ip_status_csv("192.0.2.15,192.0.2.8,Yes,Blocked\n").unwrap();
        assert_eq!(
            (read[0].first_ip.to_string(), read[0].last_ip.to_string()),
            ("192.0.2.8".to_owned(), "192.0.2.15".to_owned()),
            "kept in order"
        );
        let ranges = parse_ip_status_csv("2001:db8::,2001:db8::ff,No,\n").unwrap();
        assert!(ranges[0].contains("2001:db8::a0".parse().unwrap()));
        assert!(!ranges[0].contains("2001:db8::100".parse().unwrap()));
    }

    #[test]
    fn unquoted_comma_in_details_is_joined_back() {
        let ranges =
            parse_ip_status_csv("192.0.2.1,192.0.2.1,Yes,SpamHaus SBL/XBL, Symantec Brightmail\n")
                .unwrap();
        assert_eq!(ranges[0].details, "SpamHaus SBL/XBL, Symantec Brightmail");
    }

    #[test]
    fn api_json_in_camel_case() {
        let rows = parse_api_data(
            &fixture("data-api.json"),
            Some("application/json"),
            &pacific(),
        )
        .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].rcpt_commands, 1502);
        assert_eq!(rows[0].activity_start, utc("2026-06-10T23:00:00Z"));
        assert_eq!(rows[0].sample_helo, None);
        assert_eq!(rows[1].filter_result, FilterColor::Red);
        assert_eq!(rows[1].message_recipients, 20980);
        assert_eq!(rows[1].trap_period_start, utc("2026-06-10T17:12:00Z"));
        assert_eq!(rows[1].comments.as_deref(), Some("JMR Block"));
    }

    #[test]
    fn api_json_with_legacy_names_wrapped_in_an_object() {
        // No content type: the leading `{` says JSON.
        let rows =
            parse_api_data(&fixture("data-api-legacy-names.json"), None, &pacific()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].trap_hits, 112);
        assert_eq!(rows[0].jmr_p1_sender.as_deref(), Some("news@example.org"));
    }

    #[test]
    fn api_csv_goes_to_the_csv_parser() {
        let body = fixture("data-14-fields.csv");
        let rows = parse_api_data(&body, Some("text/csv"), &pacific()).unwrap();
        assert_eq!(rows, parse_data_csv(&body, &pacific()).unwrap());
    }

    #[test]
    fn api_json_errors_name_the_item() {
        let err =
            parse_api_data(r#"[{"ipAddress":"192.0.2.1"}, 5]"#, None, &pacific()).unwrap_err();
        assert_eq!(
            err,
            SndsParseError::BadJsonItem {
                index: 1,
                reason: "not an object".to_owned()
            }
        );
        let err = parse_api_data(r#"[{"ipAddress":"x"}]"#, None, &pacific()).unwrap_err();
        assert!(
            matches!(err, SndsParseError::BadJsonItem { index: 0, .. }),
            "{err:?}"
        );
        let err = parse_api_data("[{", Some("application/json"), &pacific()).unwrap_err();
        assert!(matches!(err, SndsParseError::BadJson { .. }), "{err:?}");
        let err = parse_api_ip_status("\"text\"", Some("application/json")).unwrap_err();
        assert!(matches!(err, SndsParseError::BadJson { .. }), "{err:?}");
    }

    #[test]
    fn api_ip_status_json() {
        let ranges = parse_api_ip_status(&fixture("ipstatus-api.json"), None).unwrap();
        assert_eq!(ranges.len(), 2);
        assert!(ranges[0].blocked);
        assert!(ranges[0].contains("192.0.3.0".parse().unwrap()));
        assert_eq!(ranges[1].first_ip, ranges[1].last_ip);
        assert!(!ranges[1].blocked);
    }

    #[test]
    fn redact_scrubs_reasons() {
        let mut err = SndsParseError::BadRow {
            line: 1,
            reason: "x secret-key y".to_owned(),
        };
        err.redact("secret-key");
        assert_eq!(err.to_string(), "snds csv line 1: x *** y");
    }

    #[test]
    fn redact_leaves_no_part_of_a_secret_at_the_cut() {
        let secret = "0f8b3c2a-51d7-4e9b-a1c3-7d2e9f4b6a10";
        for left in 1..=secret.len() {
            let text = format!(
                "{:<width$}{secret} please renew",
                "Unknown key:",
                width = 60 - left
            );
            let mut err = SndsParseError::BadRow {
                line: 1,
                reason: format!(
                    "ip address column holds {:?}, not an ip address",
                    excerpt(&text)
                ),
            };
            err.redact(secret);
            let shown = err.to_string();
            let chars: Vec<char> = secret.chars().collect();
            for window in chars.windows(8) {
                let part: String = window.iter().collect();
                assert!(!shown.contains(&part), "{left}: {shown}");
            }
        }
        let mut err = SndsParseError::BadRow {
            line: 1,
            reason: "x k%2Fy%2Bz-123456 y".to_owned(),
        };
        err.redact("k/y+z-123456");
        assert_eq!(err.to_string(), "snds csv line 1: x *** y");
    }

    #[test]
    fn a_cut_off_last_line_is_set_aside() {
        let whole = "192.0.2.10,11/17/2026 4:00 PM,11/18/2026 4:00 PM,1500,1500,1500,GREEN,< 0.1%,,,0,mail.example.com,,\r\n";
        let cut = "198.51.100.7,11/17/2026 4:00 PM,11/18/2026 4:00 PM,9301,9301,9301,RED,0.6%,11/17/2026 4:00 PM";
        for end in [AnswerEnd::Checked, AnswerEnd::Unchecked] {
            let parse =
                parse_data_keeping_good_rows(&format!("{whole}{cut}"), None, &Zone::utc(), end)
                    .unwrap();
            assert_eq!(parse.rows.len(), 1);
            assert_eq!(
                parse.rejected,
                [SndsParseError::BadRow {
                    line: 2,
                    reason: "the answer ends in this row, after 9 of 13 fields and without a \
                             line end: it was cut off, so the row is not kept"
                        .to_owned()
                }]
            );
        }
        // Where the transport checked the length, a whole row without a line end, and a
        // short row that has one, are read.
        let short = "192.0.2.11,11/17/2026 4:00 PM,11/18/2026 4:00 PM,7,7,7,GREEN,< 0.1%,,,0\n";
        let body = format!("{short}{}", whole.trim_end());
        let parse =
            parse_data_keeping_good_rows(&body, None, &Zone::utc(), AnswerEnd::Checked).unwrap();
        assert_eq!((parse.rows.len(), parse.rejected.len()), (2, 0));
        // Where nothing checked it, the row without a line end may have been cut anywhere.
        let parse =
            parse_data_keeping_good_rows(&body, None, &Zone::utc(), AnswerEnd::Unchecked).unwrap();
        assert_eq!((parse.rows.len(), parse.rejected.len()), (1, 1));
    }

    #[test]
    fn an_unchecked_answer_cut_anywhere_in_its_last_row_keeps_nothing_of_it() {
        let first = "192.0.2.10,11/17/2026 4:00 PM,11/18/2026 4:00 PM,1500,1500,1500,GREEN,< 0.1%,,,0,mail.example.com,,\r\n";
        let last = "198.51.100.7,11/17/2026 4:00 PM,11/18/2026 4:00 PM,9301,9301,9301,RED,0.6%,11/17/2026 4:00 PM,11/18/2026 4:00 PM,120,ehlo.example.org,news@example.org,\"Abuse reported for: newsletter, promotions\"\r\n";
        // Every cut from the first byte of the last row up to its line end.
        for at in 1..last.len() - 1 {
            let body = format!("{first}{}", &last[..at]);
            let parse =
                parse_data_keeping_good_rows(&body, None, &Zone::utc(), AnswerEnd::Unchecked)
                    .unwrap();
            assert_eq!(parse.rows.len(), 1, "cut at {at}: {:?}", &last[..at]);
            assert!(
                matches!(&parse.rejected[..], [SndsParseError::BadRow { line: 2, reason }]
                    if reason.contains("cut off")),
                "cut at {at}: {:?}",
                parse.rejected
            );
        }
        // Cut between CR and LF, the row is whole.
        let body = format!("{first}{}", &last[..last.len() - 1]);
        let parse =
            parse_data_keeping_good_rows(&body, None, &Zone::utc(), AnswerEnd::Unchecked).unwrap();
        assert_eq!((parse.rows.len(), parse.rejected.len()), (2, 0));
        let ranges = "192.0.2.254,192.0.3.1,Yes,Blocked due to user complaints\r\n";
        let last = "203.0.113.40,203.0.113.47,Yes,\"SpamHaus SBL/XBL, Symantec Brightmail\"\r\n";
        for at in 1..last.len() - 1 {
            let body = format!("{ranges}{}", &last[..at]);
            let err = parse_ip_status_csv_answer(&body, AnswerEnd::Unchecked).unwrap_err();
            assert!(
                matches!(&err, SndsParseError::BadRow { line: 2, reason }
                    if reason.contains("cut off") && reason.contains("not applied")),
                "cut at {at}: {err:?}"
            );
        }
        let whole = format!("{ranges}{last}");
        assert_eq!(
            parse_ip_status_csv_answer(&whole, AnswerEnd::Unchecked)
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_secret_echoed_in_another_case_is_masked() {
        let key = "0f8b3c2a-51d7-4e9b-a1c3-7d2e9f4b6a10";
        let text = format!("Invalid key {} here", key.to_ascii_uppercase());
        assert_eq!(redact_secret(&text, key), "Invalid key *** here");
        // Cut short, in another case: its start is masked all the same.
        let cut = format!("Invalid key {}…", &key.to_ascii_uppercase()[..12]);
        assert_eq!(redact_secret(&cut, key), "Invalid key ***…");
        let encoded = redact_secret("key=K%2fY%2BZ-1234…", "k/y+z-123456");
        assert_eq!(encoded, "key=***…");
        assert_eq!(
            redact_secret("é0F8B3C2A-51D7-4E9B-A1C3-7D2E9F4B6A10é", key),
            "é***é"
        );
    }

    #[test]
    fn two_digit_years_are_this_century_and_years_before_2000_are_refused() {
        let check = |raw: &str, expected: Option<&str>| {
            assert_eq!(
                parse_snds_time(raw, &Zone::utc()),
                expected.and_then(utc),
                "{raw}"
            );
        };
        check("11/18/26 4:00 PM", Some("2026-11-18T16:00:00Z"));
        check("11/18/26 16:00", Some("2026-11-18T16:00:00Z"));
        check("1/2/99 4:00 PM", Some("2099-01-02T16:00:00Z"));
        check("11/18/0026 4:00 PM", None);
        check("11/18/1999 4:00 PM", None);
        check("11/18/126 4:00 PM", None);
        check("0026-11-18T16:00:00", None);
        check("18.11.2026 16:00", None);
    }

    #[test]
    fn comment_lines_are_skipped_and_extra_columns_stay_out_of_comments() {
        let body = "# SNDS export\r\n\r\n192.0.2.10,11/17/2026 4:00 PM,11/18/2026 4:00 PM,1,1,1,GREEN,< 0.1%,,,0,,,JMR Block,extra1,extra2\r\n# end\r\n";
        let rows = parse_data_csv(body, &Zone::utc()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].comments.as_deref(), Some("JMR Block"));
        let ranges = parse_ip_status_csv("# ranges\n192.0.2.1,192.0.2.9,Yes,x\n").unwrap();
        assert_eq!(ranges.len(), 1);
    }

    #[test]
    fn row_serialises_times_as_rfc3339() {
        let rows = parse_data_csv(&fixture("data-13-fields.csv"), &Zone::utc()).unwrap();
        let value = serde_json::to_value(&rows[0]).unwrap();
        assert_eq!(value["activity_start"], "2026-03-02T01:00:00Z");
        assert_eq!(value["trap_period_start"], serde_json::Value::Null);
        assert_eq!(value["complaint_rate"], "below_point_one");
        assert_eq!(value["filter_result"], "green");
    }

    proptest::proptest! {
        #[test]
        fn parsing_arbitrary_text_never_panics(body in "\\PC*") {
            let _ = parse_data_csv(&body, &pacific());
            let _ = parse_ip_status_csv(&body);
            let _ = parse_api_data(&body, Some("application/json"), &pacific());
            let _ = parse_api_ip_status(&body, None);
        }

        #[test]
        fn parsing_csv_shaped_text_never_panics(
            body in "([0-9./: APM<%\",a-z-]{0,40}(\r?\n)){0,8}"
        ) {
            let _ = parse_data_csv(&body, &pacific());
            let _ = parse_ip_status_csv(&body);
            let _ = parse_api_data(&body, None, &pacific());
        }

        #[test]
        fn parsing_json_shaped_text_never_panics(
            body in r#"[\[\]{}":, 0-9a-zA-Z.%<-]{0,80}"#
        ) {
            let _ = parse_api_data(&body, Some("application/json"), &pacific());
            let _ = parse_api_ip_status(&body, Some("application/json"));
        }
    }
}
