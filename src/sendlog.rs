//! The sender's send log: which message went to which recipient, read from CSV, JSON Lines or
//! Postfix mail logs, so that a complaint carrying only a Message-ID or an opaque id can be
//! traced back to an address.
//!
//! **The reader does no IO of its own:** it reads from any [`BufRead`] it is given, opens no
//! file, reads no clock and no environment. **It streams:** it holds one line at a time, at
//! most [`MAX_LINE_BYTES`] of it, plus for Postfix one small entry per open queue id, so a
//! 10 GB log is read in bounded memory.
//!
//! The reader yields one `Result` per entry. A bad line is an `Err` naming its line number,
//! and reading goes on after it. Only a missing or unusable CSV header and a failing reader
//! end the stream early, right after their `Err`.
//!
//! # CSV and JSON Lines
//!
//! Both carry the fields of [`SendLogEntry`] under the names in [`FIELD_NAMES`]: a name is
//! compared after trimming, lower-casing, and turning `-` and spaces into `_`, so
//! `Message-ID` is `message_id`. Unknown columns and keys are ignored.
//!
//! - CSV: the first non-blank line is the header. It must name the recipient and at least
//!   one of `message_id` and `id`. The delimiter is a comma, or a semicolon or tab when the
//!   header holds more of those than commas. Quoting follows RFC 4180, except that a quoted
//!   field may not span lines: a row is one line, so a broken row cannot swallow the rest
//!   of the file. Blank lines are skipped.
//! - JSON Lines: one object per line; blank lines are skipped. Values are strings, `null`
//!   for absent, and numbers where a number makes sense (`id`, `campaign`, `list`, and
//!   `sent_at` as Unix seconds).
//!
//! Every entry needs a recipient address and a `message_id` or an `id`. `sent_at` may be
//! RFC 3339, ISO 8601's forms of it (`+0100`, a space for the `T`), a time without an
//! offset (UTC), a date alone, or Unix seconds: see [`normalise_sent_at`]. A `source_ip` or
//! `sent_at` that does not parse makes the row an error.
//!
//! # Postfix
//!
//! See [`postfix`] for the lines read and how they are joined.

pub mod postfix;

use crate::zone::Zone;
use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat, TimeDelta, Utc,
};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io::{self, BufRead};
use std::net::IpAddr;
use std::str::FromStr;

/// One message sent to one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendLogEntry {
    /// Without angle brackets or surrounding whitespace; case is kept.
    pub message_id: Option<String>,
    /// Trimmed, domain lower-cased.
    pub recipient: String,
    /// The sender's own opaque recipient id, as put in a VERP address or a custom header.
    pub id: Option<String>,
    pub campaign: Option<String>,
    pub list: Option<String>,
    /// An IPv4 or IPv6 address in its canonical text form.
    pub source_ip: Option<String>,
    /// RFC 3339 UTC, whole seconds (`2026-11-28T01:49:26Z`).
    pub sent_at: Option<String>,
}

/// The shape of a send log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SendLogFormat {
    Csv,
    Jsonl,
    /// A Postfix mail log, as syslog writes it.
    Postfix,
}

impl SendLogFormat {
    pub const ALL: [SendLogFormat; 3] = [
        SendLogFormat::Csv,
        SendLogFormat::Jsonl,
        SendLogFormat::Postfix,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SendLogFormat::Csv => "csv",
            SendLogFormat::Jsonl => "jsonl",
            SendLogFormat::Postfix => "postfix",
        }
    }
}

impl fmt::Display for SendLogFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for SendLogFormat {
    type Err = UnknownSendLogFormat;

    /// Accepts the names `as_str` gives, in any case.
    fn from_str(text: &str) -> Result<SendLogFormat, UnknownSendLogFormat> {
        SendLogFormat::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| UnknownSendLogFormat(text.to_string()))
    }
}

/// A send log format name that is not `csv`, `jsonl` or `postfix`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown send log format `{0}` (expected csv, jsonl or postfix)")]
pub struct UnknownSendLogFormat(pub String);

/// Why one line of a send log gave no entry. `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct SendLogError {
    pub line: u64,
    pub reason: String,
}

/// How far past `now` a classic syslog timestamp may be and still count as this year's:
/// the logging host's clock and fbl's may disagree a little.
pub const CLOCK_SKEW: TimeDelta = TimeDelta::days(1);

/// What the reader cannot know from the log itself.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// When the log is read. A classic syslog timestamp (`Nov 28 01:49:26`) carries no year:
    /// it is taken as the latest such local time not later than `now` plus [`CLOCK_SKEW`],
    /// so December lines read in January are of the year before, and a log that spans New
    /// Year comes out in order.
    pub now: DateTime<Utc>,
    /// The zone of classic syslog timestamps, with its daylight-saving rules: each time is
    /// read with the offset in force on its own date. See [`Zone::to_utc`] for the hour
    /// skipped and the hour repeated at a change.
    pub zone: Zone,
}

impl ReadOptions {
    /// Classic syslog timestamps read as UTC, each in `year`: as read at the last instant
    /// of `year` less [`CLOCK_SKEW`]. For tests and fuzzing.
    pub fn utc(year: i32) -> ReadOptions {
        let end = NaiveDate::from_ymd_opt(year.clamp(-9998, 9998) + 1, 1, 1)
            .expect("a year within chrono's range")
            .and_time(NaiveTime::MIN)
            .and_utc();
        ReadOptions {
            now: end - TimeDelta::nanoseconds(1) - CLOCK_SKEW,
            zone: Zone::utc(),
        }
    }

    /// The instant of a classic syslog timestamp, `month`/`day` at `time` local: of the
    /// latest year (of the nine up to `now`'s, which always hold a 29 February) in which
    /// that date exists and is not later than `now` plus [`CLOCK_SKEW`]. `None` for a date
    /// that is in none of them, or outside the years -9999 to 9999.
    pub fn classic_utc(&self, month: u32, day: u32, time: NaiveTime) -> Option<DateTime<Utc>> {
        self.zone.to_utc(self.classic_local(month, day, time)?)
    }

    /// The local date and time of a classic syslog timestamp, of the year
    /// [`classic_utc`](Self::classic_utc) takes.
    pub fn classic_local(&self, month: u32, day: u32, time: NaiveTime) -> Option<NaiveDateTime> {
        let latest = self
            .zone
            .to_local(self.now.checked_add_signed(CLOCK_SKEW)?)?;
        let newest = latest.year();
        (newest - 8..=newest)
            .rev()
            .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
            .map(|date| date.and_time(time))
            .find(|local| *local <= latest)
    }
}

/// The longest line the reader takes, in bytes. A longer line is an error and is skipped.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// The names accepted for each field, as CSV columns and JSON keys. The first name of each
/// is the field's own; names are compared after trimming, lower-casing and turning `-` and
/// spaces into `_`.
pub const FIELD_NAMES: [&[&str]; 7] = [
    &["message_id", "messageid", "msgid", "msg_id"],
    &[
        "recipient",
        "rcpt",
        "rcpt_to",
        "to",
        "email",
        "email_address",
        "address",
    ],
    &["id", "recipient_id", "subscriber_id"],
    &["campaign", "campaign_id"],
    &["list", "list_id"],
    &["source_ip", "ip", "sending_ip"],
    &["sent_at", "timestamp", "date", "time"],
];

// Positions in `FIELD_NAMES` of the fields a CSV header must have.
const MESSAGE_ID: usize = 0;
const RECIPIENT: usize = 1;
const ID: usize = 2;

/// The raw text of each field of one row, by position in `FIELD_NAMES`.
type RawFields = [Option<String>; FIELD_NAMES.len()];

/// Reads a send log entry by entry. See the module documentation for the formats.
pub fn read_send_log<R: BufRead>(
    format: SendLogFormat,
    input: R,
    options: &ReadOptions,
) -> SendLogReader<R> {
    let state = match format {
        SendLogFormat::Csv => FormatState::Csv { columns: None },
        SendLogFormat::Jsonl => FormatState::Jsonl,
        SendLogFormat::Postfix => FormatState::Postfix(postfix::PostfixState::new(options)),
    };
    SendLogReader {
        lines: LineReader {
            input,
            buffer: Vec::new(),
            number: 0,
            consumed: 0,
            ended_line: true,
        },
        state,
        finished: false,
        ended_early: false,
        pending: None,
    }
}

/// The header row of a CSV send log: its first non-blank line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvHeader {
    /// Its line number, from 1.
    pub line: u64,
    /// The line, without its line end and a UTF-8 BOM.
    pub bytes: Vec<u8>,
    /// The offset just past its line end.
    pub end: u64,
}

/// The header row of a CSV send log read from its start, to read the log on from a later
/// line ([`SendLogReader::resuming`]): the line the reader takes as the header; `None` when
/// the input has no such line that ends with a line end.
pub fn read_csv_header<R: BufRead>(input: R) -> io::Result<Option<CsvHeader>> {
    let mut lines = LineReader {
        input,
        buffer: Vec::new(),
        number: 0,
        consumed: 0,
        ended_line: true,
    };
    loop {
        match lines.next_line() {
            LineRead::End => return Ok(None),
            LineRead::Failed(error) => return Err(error),
            // Skipped, as the reader skips it: the next line is the header.
            LineRead::TooLong => {}
            LineRead::Line if is_blank(&lines.buffer) => {}
            LineRead::Line => {
                return Ok(lines.ended_line.then(|| CsvHeader {
                    line: lines.number,
                    bytes: std::mem::take(&mut lines.buffer),
                    end: lines.consumed,
                }));
            }
        }
    }
}

/// The iterator [`read_send_log`] returns.
pub struct SendLogReader<R> {
    lines: LineReader<R>,
    state: FormatState,
    finished: bool,
    /// The stream ended on an error before the end of the input.
    ended_early: bool,
    /// An error to give before reading on (a bad CSV header given to `resuming`).
    pending: Option<SendLogError>,
}

impl<R> SendLogReader<R> {
    /// The reader of the rest of a log, from a line boundary after its first `lines_before`
    /// lines: errors name lines by their number in the whole log, and a CSV log, whose rest
    /// holds no header, is read with `header`, its header row read from its start (see
    /// [`read_csv_header`]); a header that does not read ends the stream with its error.
    pub fn resuming(mut self, lines_before: u64, header: Option<CsvHeader>) -> Self {
        self.lines.number = lines_before;
        if let (FormatState::Csv { columns }, Some(header)) = (&mut self.state, header)
            && let Step::Fatal(reason) | Step::Error(reason) = csv_line(columns, &header.bytes)
        {
            self.pending = Some(SendLogError {
                line: header.line,
                reason,
            });
        }
        self
    }

    /// The lines read so far (with those before a [`resuming`](Self::resuming) point).
    pub fn lines_read(&self) -> u64 {
        self.lines.number
    }

    /// The bytes of the input read so far.
    pub fn bytes_read(&self) -> u64 {
        self.lines.consumed
    }

    /// Whether the last line read ended with a line end (true before any line).
    pub fn last_line_ended(&self) -> bool {
        self.lines.ended_line
    }

    /// Whether the stream ended on an error before the end of the input (a read that
    /// failed, a missing or unusable CSV header): what follows was not read.
    pub fn ended_early(&self) -> bool {
        self.ended_early
    }

    /// The reader of a Postfix log that continues `open`, the queue ids the log before it
    /// left open (see [`postfix`]); other formats ignore them.
    pub fn carrying(mut self, open: impl IntoIterator<Item = postfix::OpenQueueId>) -> Self {
        if let FormatState::Postfix(state) = &mut self.state {
            state.carry(open);
        }
        self
    }

    /// The reader of the rest of a Postfix log read before at `read_at`: its lines were
    /// written after that, so a local time repeated when the clocks went back, whose earlier
    /// instant is well before it, is the repeated hour's (see [`postfix`]).
    pub fn written_after(mut self, read_at: DateTime<Utc>) -> Self {
        if let FormatState::Postfix(state) = &mut self.state {
            state.written_after(read_at);
        }
        self
    }

    /// A Postfix log's queue ids open at this point (all of them once the reader is done),
    /// with their Message-ID, oldest first: for the reader of the next log. Empty for other
    /// formats.
    pub fn open_queue_ids(&self) -> Vec<postfix::OpenQueueId> {
        match &self.state {
            FormatState::Postfix(state) => state.open_queue_ids(),
            _ => Vec::new(),
        }
    }

    /// How a Postfix log's lines were read so far; `None` for other formats, whose every
    /// line is an entry or an error.
    pub fn line_counts(&self) -> Option<postfix::LineCounts> {
        match &self.state {
            FormatState::Postfix(state) => Some(state.counts()),
            _ => None,
        }
    }
}

enum FormatState {
    /// `columns` is `None` until the header has been read.
    Csv {
        columns: Option<CsvColumns>,
    },
    Jsonl,
    Postfix(postfix::PostfixState),
}

/// What one line gave.
enum Step {
    Skip,
    Entry(SendLogEntry),
    Error(String),
    /// An error after which the rest of the input cannot be read.
    Fatal(String),
}

impl<R: BufRead> Iterator for SendLogReader<R> {
    type Item = Result<SendLogEntry, SendLogError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(error) = self.pending.take() {
            self.finished = true;
            self.ended_early = true;
            return Some(Err(error));
        }
        while !self.finished {
            let step = match self.lines.next_line() {
                LineRead::End => {
                    self.finished = true;
                    // A CSV log with no header yet (empty, or blank lines alone) holds no
                    // entries: a mailer that starts a new file after rotating writes its header
                    // with its first send. Saying so at every run until then would be noise.
                    Step::Skip
                }
                LineRead::Failed(error) => {
                    Step::Fatal(format!("cannot read the send log: {error}"))
                }
                LineRead::TooLong => Step::Error(format!(
                    "line is longer than {MAX_LINE_BYTES} bytes, skipped"
                )),
                LineRead::Line => match &mut self.state {
                    FormatState::Csv { columns } => csv_line(columns, &self.lines.buffer),
                    FormatState::Jsonl => jsonl_line(&self.lines.buffer),
                    FormatState::Postfix(state) => state.line(&self.lines.buffer),
                },
            };
            let line = self.lines.number.max(1);
            match step {
                Step::Skip => {}
                Step::Entry(entry) => return Some(Ok(entry)),
                Step::Error(reason) => return Some(Err(SendLogError { line, reason })),
                Step::Fatal(reason) => {
                    self.finished = true;
                    self.ended_early = true;
                    return Some(Err(SendLogError { line, reason }));
                }
            }
        }
        None
    }
}

/// Splits input into lines without holding more than [`MAX_LINE_BYTES`] of one.
struct LineReader<R> {
    input: R,
    /// The current line, without its line end and, on line 1, without a UTF-8 BOM.
    buffer: Vec<u8>,
    /// The number of the current line, from 1.
    number: u64,
    /// The bytes consumed from `input`.
    consumed: u64,
    /// Whether the current line ended with a line end (not the end of the input).
    ended_line: bool,
}

enum LineRead {
    Line,
    TooLong,
    End,
    Failed(io::Error),
}

impl<R: BufRead> LineReader<R> {
    fn next_line(&mut self) -> LineRead {
        self.buffer.clear();
        let mut read_any = false;
        let mut too_long = false;
        loop {
            let available = match self.input.fill_buf() {
                Ok(available) => available,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    self.number += 1;
                    return LineRead::Failed(error);
                }
            };
            if available.is_empty() {
                break;
            }
            read_any = true;
            let newline = available.iter().position(|&byte| byte == b'\n');
            let chunk = &available[..newline.unwrap_or(available.len())];
            if !too_long {
                if self.buffer.len() + chunk.len() > MAX_LINE_BYTES {
                    too_long = true;
                    self.buffer.clear();
                } else {
                    self.buffer.extend_from_slice(chunk);
                }
            }
            let used = chunk.len() + usize::from(newline.is_some());
            self.input.consume(used);
            self.consumed += used as u64;
            if newline.is_some() {
                self.ended_line = true;
                break;
            }
            self.ended_line = false;
        }
        if !read_any {
            return LineRead::End;
        }
        self.number += 1;
        if too_long {
            return LineRead::TooLong;
        }
        if self.buffer.last() == Some(&b'\r') {
            self.buffer.pop();
        }
        if self.number == 1 && self.buffer.starts_with(b"\xEF\xBB\xBF") {
            self.buffer.drain(..3);
        }
        LineRead::Line
    }
}

/// Where each field sits in a CSV row.
struct CsvColumns {
    delimiter: char,
    positions: [Option<usize>; FIELD_NAMES.len()],
}

fn csv_line(columns: &mut Option<CsvColumns>, bytes: &[u8]) -> Step {
    if is_blank(bytes) {
        return Step::Skip;
    }
    let Ok(text) = std::str::from_utf8(bytes) else {
        return match columns {
            Some(_) => Step::Error("row is not valid UTF-8".to_string()),
            None => Step::Fatal("csv header is not valid UTF-8".to_string()),
        };
    };
    let Some(columns) = columns else {
        return match csv_header(text) {
            Ok(found) => {
                *columns = Some(found);
                Step::Skip
            }
            Err(reason) => Step::Fatal(reason),
        };
    };
    let mut values = match split_csv_row(text, columns.delimiter) {
        Ok(values) => values,
        Err(reason) => return Step::Error(reason),
    };
    let mut fields = RawFields::default();
    for (field, position) in columns.positions.iter().enumerate() {
        if let Some(value) = position.and_then(|position| values.get_mut(position)) {
            fields[field] = Some(std::mem::take(value));
        }
    }
    step_from_fields(fields)
}

fn csv_header(text: &str) -> Result<CsvColumns, String> {
    // `max_by_key` keeps the last of equals, so the reversed order makes ties go to the comma.
    let delimiter = [',', ';', '\t']
        .into_iter()
        .rev()
        .max_by_key(|&delimiter| text.matches(delimiter).count())
        .unwrap_or(',');
    let names = split_csv_row(text, delimiter).map_err(|reason| format!("csv header: {reason}"))?;
    let mut positions: [Option<usize>; FIELD_NAMES.len()] = [None; FIELD_NAMES.len()];
    for (position, name) in names.iter().enumerate() {
        let Some(field) = field_named(name) else {
            continue;
        };
        if let Some(earlier) = positions[field] {
            return Err(format!(
                "csv header names the {} field twice: columns `{}` and `{}`",
                FIELD_NAMES[field][0],
                names[earlier].trim(),
                name.trim()
            ));
        }
        positions[field] = Some(position);
    }
    let found = || shown(&names.join(", "));
    if positions[RECIPIENT].is_none() {
        return Err(format!(
            "csv header has no recipient column (accepted names: {}; found: {})",
            FIELD_NAMES[RECIPIENT].join(", "),
            found()
        ));
    }
    if positions[MESSAGE_ID].is_none() && positions[ID].is_none() {
        return Err(format!(
            "csv header has neither a message_id nor an id column (accepted names: {}; {}; found: {})",
            FIELD_NAMES[MESSAGE_ID].join(", "),
            FIELD_NAMES[ID].join(", "),
            found()
        ));
    }
    Ok(CsvColumns {
        delimiter,
        positions,
    })
}

/// Splits one CSV line into fields. A field that starts with `"` (after spaces) is quoted,
/// with `""` standing for a quote; text after its closing quote is kept as it is.
fn split_csv_row(line: &str, delimiter: char) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        let mut ahead = chars.clone();
        while ahead.next_if(|&c| c == ' ' && c != delimiter).is_some() {}
        if ahead.peek() == Some(&'"') {
            ahead.next();
            chars = ahead;
            loop {
                match chars.next() {
                    None => return Err("unterminated quoted field".to_string()),
                    Some('"') if chars.next_if_eq(&'"').is_some() => field.push('"'),
                    Some('"') => break,
                    Some(c) => field.push(c),
                }
            }
        }
        loop {
            match chars.next() {
                None => {
                    fields.push(field);
                    return Ok(fields);
                }
                Some(c) if c == delimiter => break,
                Some(c) => field.push(c),
            }
        }
        fields.push(field);
    }
}

fn jsonl_line(bytes: &[u8]) -> Step {
    if is_blank(bytes) {
        return Step::Skip;
    }
    let object = match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => return Step::Error("not a JSON object".to_string()),
        Err(error) => {
            let message = error.to_string();
            let message = message.split(" at line ").next().unwrap_or_default();
            return Step::Error(format!(
                "invalid JSON at column {}: {message}",
                error.column()
            ));
        }
    };
    let mut fields = RawFields::default();
    let mut keys: [Option<&str>; FIELD_NAMES.len()] = [None; FIELD_NAMES.len()];
    for (key, value) in &object {
        let Some(field) = field_named(key) else {
            continue;
        };
        if let Some(earlier) = keys[field] {
            return Step::Error(format!(
                "keys `{earlier}` and `{key}` both name the {} field",
                FIELD_NAMES[field][0]
            ));
        }
        keys[field] = Some(key);
        fields[field] = match value {
            serde_json::Value::Null => None,
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Number(number) => Some(number.to_string()),
            _ => return Step::Error(format!("`{key}` is neither a string nor a number")),
        };
    }
    step_from_fields(fields)
}

fn step_from_fields(fields: RawFields) -> Step {
    match entry_from_fields(fields) {
        Ok(entry) => Step::Entry(entry),
        Err(reason) => Step::Error(reason),
    }
}

/// Checks and normalises one row of CSV or JSON Lines.
fn entry_from_fields(fields: RawFields) -> Result<SendLogEntry, String> {
    let [
        message_id,
        recipient,
        id,
        campaign,
        list,
        source_ip,
        sent_at,
    ] = fields.map(|value| value.filter(|value| !value.trim().is_empty()));
    let recipient = recipient.ok_or("missing recipient")?;
    let recipient = normalise_recipient(&recipient)
        .ok_or_else(|| format!("recipient `{}` is not an email address", shown(&recipient)))?;
    let message_id = message_id.as_deref().and_then(normalise_message_id);
    let id = id.map(|id| id.trim().to_string());
    if message_id.is_none() && id.is_none() {
        return Err(format!("{recipient} has neither a message_id nor an id"));
    }
    let source_ip = match source_ip {
        None => None,
        Some(text) => Some(
            normalise_source_ip(&text)
                .ok_or_else(|| format!("source_ip `{}` is not an IP address", shown(&text)))?,
        ),
    };
    let sent_at = match sent_at {
        None => None,
        Some(text) => Some(normalise_sent_at(&text).ok_or_else(|| {
            format!(
                "sent_at `{}` is not RFC 3339, `YYYY-MM-DD HH:MM:SS` or Unix seconds",
                shown(&text)
            )
        })?),
    };
    Ok(SendLogEntry {
        message_id,
        recipient,
        id,
        campaign: campaign.map(|campaign| campaign.trim().to_string()),
        list: list.map(|list| list.trim().to_string()),
        source_ip,
        sent_at,
    })
}

/// The position in `FIELD_NAMES` of the field a column or key names.
fn field_named(name: &str) -> Option<usize> {
    let name: String = name
        .trim()
        .chars()
        .map(|c| match c {
            '-' | ' ' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    FIELD_NAMES
        .iter()
        .position(|names| names.contains(&name.as_str()))
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(u8::is_ascii_whitespace)
}

/// A value for an error message, cut short if long.
fn shown(value: &str) -> String {
    const LIMIT: usize = 80;
    match value.char_indices().nth(LIMIT) {
        Some((end, _)) => format!("{}...", &value[..end]),
        None => value.to_string(),
    }
}

/// A Message-ID without angle brackets or surrounding whitespace, case kept; `None` when
/// nothing is left. Text after the closing bracket (a comment) is dropped.
pub fn normalise_message_id(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let inner = match trimmed.strip_prefix('<') {
        Some(rest) => rest.split('>').next().unwrap_or(rest),
        None => trimmed,
    };
    let inner = inner.trim();
    (!inner.is_empty()).then(|| inner.to_string())
}

/// An email address trimmed, domain lower-cased, from a bare address, one in angle brackets,
/// or one with a display name (`Ann <ann@example.org>`); `None` when it is not an address
/// (no `@`, an empty part, whitespace, brackets, or a domain with characters no domain has).
///
/// Wider than [`crate::address::normalise`], as a log records what an MTA sent: a quoted
/// local part (`"odd@local"@example.net`), an address literal, `_` and dotless domains are
/// kept; such an entry can attribute a complaint but never suppresses anyone. An unquoted
/// local part and a domain name follow the same rules as the suppression list's addresses:
/// one `@`, no leading, trailing or doubled dot, labels of 1 to 63 bytes not starting or
/// ending with a hyphen, RFC 5321's lengths.
pub fn normalise_recipient(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let address = trimmed
        .strip_suffix('>')
        .and_then(|rest| rest.rsplit_once('<'))
        .map_or(trimmed, |(_, address)| address);
    let (local, domain) = address.rsplit_once('@')?;
    let domain_is_valid = if let Some(literal) = domain.strip_prefix('[') {
        literal.strip_suffix(']').is_some_and(|inner| {
            !inner.is_empty()
                && !inner.contains(|c: char| c.is_whitespace() || c == '[' || c == ']')
        })
    } else {
        !domain.is_empty()
            && crate::address::check_domain_labels(domain).is_ok()
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'))
    };
    let local_is_valid = if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        !local.contains(|c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
    } else {
        crate::address::check_local_part(local).is_ok()
    };
    let recipient = format!(
        "{}@{}",
        crate::address::canonical_local_part(local),
        crate::address::recipient_domain(domain)
    );
    (domain_is_valid && local_is_valid && recipient.len() <= 254).then_some(recipient)
}

/// An IPv4 or IPv6 address in canonical form; brackets around it are dropped.
pub fn normalise_source_ip(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let bare = trimmed
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(trimmed);
    bare.parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// A time as RFC 3339 UTC with whole seconds, from:
///
/// - RFC 3339 (`2026-11-28T10:00:00Z`, `2026-11-28T10:00:00.5+01:00`), also with a space for
///   the `T`, with ISO 8601's offset without a colon (`+0100`) or of hours alone (`+01`),
///   and with a space before the offset or `UTC` (`2026-11-28 10:00:00 +0100`, as Ruby
///   writes times; `2026-11-28 10:00:00 UTC`);
/// - a date and time without an offset (`2026-11-28 10:00:00`, or with `T`), as UTC;
/// - a date alone (`2026-11-28`), as its midnight UTC;
/// - Unix seconds.
///
/// Fractions of a second are allowed everywhere and cut off.
pub fn normalise_sent_at(text: &str) -> Option<String> {
    let text = text.trim();
    let time = if let Some(seconds) = unix_seconds(text) {
        DateTime::from_timestamp(seconds, 0)?
    } else if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        time.to_utc()
    } else if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        date.and_time(NaiveTime::MIN).and_utc()
    } else {
        let text = text
            .strip_suffix("UTC")
            .or_else(|| text.strip_suffix('Z'))
            .map_or(text, |rest| rest.trim_end());
        let with_offset = [
            "%Y-%m-%dT%H:%M:%S%.f%#z",
            "%Y-%m-%d %H:%M:%S%.f%#z",
            "%Y-%m-%dT%H:%M:%S%.f %#z",
            "%Y-%m-%d %H:%M:%S%.f %#z",
        ];
        match with_offset
            .into_iter()
            .find_map(|format| DateTime::parse_from_str(text, format).ok())
        {
            Some(time) => time.to_utc(),
            None => ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
                .into_iter()
                .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())?
                .and_utc(),
        }
    };
    Some(rfc3339_utc(time))
}

/// Whole Unix seconds up to the end of year 9999, from digits with an optional fraction.
fn unix_seconds(text: &str) -> Option<i64> {
    const LAST_SECOND_OF_9999: i64 = 253_402_300_799;
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    let all_digits = |part: &str| part.bytes().all(|byte| byte.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    whole
        .parse::<i64>()
        .ok()
        .filter(|&seconds| seconds <= LAST_SECOND_OF_9999)
}

fn rfc3339_utc(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_split_with_quotes_and_doubled_quotes() {
        let fields = split_csv_row(r#"a, "b,c" ,"say ""hi""",,"#, ',').unwrap();
        assert_eq!(fields, ["a", "b,c ", r#"say "hi""#, "", ""]);
        assert_eq!(
            split_csv_row(r#"a,"open"#, ',').unwrap_err(),
            "unterminated quoted field"
        );
        assert_eq!(split_csv_row("a\tb;c", '\t').unwrap(), ["a", "b;c"]);
    }

    #[test]
    fn message_ids_lose_brackets_and_keep_case() {
        assert_eq!(
            normalise_message_id("  <ABC.123@Mail.Example> ").as_deref(),
            Some("ABC.123@Mail.Example")
        );
        assert_eq!(normalise_message_id("abc@x").as_deref(), Some("abc@x"));
        assert_eq!(
            normalise_message_id("<abc@x> (added by relay)").as_deref(),
            Some("abc@x")
        );
        assert_eq!(normalise_message_id("<>"), None);
        assert_eq!(normalise_message_id("   "), None);
    }

    #[test]
    fn recipients_keep_the_local_part_and_lower_case_the_domain() {
        let check = |input: &str, expected: Option<&str>| {
            assert_eq!(normalise_recipient(input).as_deref(), expected, "{input}")
        };
        check(" Alice.Smith@Example.ORG ", Some("Alice.Smith@example.org"));
        check("<bob@example.net>", Some("bob@example.net"));
        check("Bob B. <bob@Example.NET>", Some("bob@example.net"));
        check("\"Bob <b>\" <bob@example.net>", Some("bob@example.net"));
        check(
            "\"odd@local\"@example.net",
            Some("\"odd@local\"@example.net"),
        );
        check("postmaster@[192.0.2.1]", Some("postmaster@[192.0.2.1]"));
        check("user@bücher.example", Some("user@bücher.example"));
        check("no-at-sign", None);
        check("@example.org", None);
        check("user@", None);
        check("user@exa mple.org", None);
        check("two words@example.org", None);
        check("user@example..org", None);
        check("user@example.org.", None);
        check("user@exa,mple.org", None);
        check("a@b@c.com", None);
        check(".a@c.com", None);
        check("a..b@c.com", None);
        check("a@-bad-.com", None);
        check(&format!("{}@example.org", "l".repeat(65)), None);
        check("o'brien@example.ie", Some("o'brien@example.ie"));
        check("root@localhost", Some("root@localhost"));
        check("a@under_score.example", Some("a@under_score.example"));
    }

    #[test]
    fn source_ips_are_canonical() {
        assert_eq!(
            normalise_source_ip(" 192.0.2.1 ").as_deref(),
            Some("192.0.2.1")
        );
        assert_eq!(
            normalise_source_ip("[2001:DB8:0:0::1]").as_deref(),
            Some("2001:db8::1")
        );
        assert_eq!(normalise_source_ip("192.0.2.256"), None);
        assert_eq!(normalise_source_ip("mx.example.org"), None);
    }

    #[test]
    fn sent_at_accepts_rfc3339_plain_utc_and_unix_seconds() {
        let check = |input: &str, expected: Option<&str>| {
            assert_eq!(normalise_sent_at(input).as_deref(), expected, "{input}")
        };
        let expected = Some("2026-11-28T01:49:26Z");
        check("2026-11-28T01:49:26Z", expected);
        check("2026-11-28T02:49:26.75+01:00", expected);
        check("2026-11-28 01:49:26", expected);
        check("2026-11-28 01:49:26.123", expected);
        check("2026-11-28T01:49:26", expected);
        // ISO 8601's offset without a colon, and of hours alone (exports, Ruby, Python's
        // `%z`); a space before the offset or UTC; a space for the `T` with an offset.
        check("2026-11-28T02:49:26+0100", expected);
        check("2026-11-28T02:49:26.5+0100", expected);
        check("2026-11-28T02:49:26+01", expected);
        check("2026-11-27T20:49:26-0500", expected);
        check("2026-11-28 02:49:26 +0100", expected);
        check("2026-11-28 02:49:26+01:00", expected);
        check("2026-11-28 01:49:26 UTC", expected);
        check("2026-11-28 01:49:26Z", expected);
        check("2026-11-28t01:49:26z", expected);
        // A date alone is its midnight, UTC.
        check("2026-11-28", Some("2026-11-28T00:00:00Z"));
        check("1795830566", expected);
        check("1795830566.9", expected);
        check("28/11/2026", None);
        check("-5", None);
        check("1795830566000", None);
        check("2026-02-30 00:00:00", None);
        check("2026-11-28T01:49:26+2500", None);
        check("2026-11-28 01:49:26 CET", None);
        check("2026-11-28 01", None);
        check("2026-11-28T01:49:26+01:00 trailing", None);
    }
}
