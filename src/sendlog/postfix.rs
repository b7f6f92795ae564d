//! Postfix mail logs as a send log: each `status=sent` delivery joined, by queue id, with
//! the `message-id=` that cleanup logged for the message.
//!
//! The lines read, from any syslog name whose last part names the daemon (`postfix/smtp`,
//! the multi-instance `postfix-out/smtp`, `postfix/relay/smtp`):
//!
//! - `cleanup`: `4ABC12345: message-id=<...>` opens the queue id.
//! - `smtp`, `lmtp`, `virtual`, `local`, `pipe`: `4ABC12345: to=<...>, ..., status=sent (...)`
//!   gives one entry per delivered recipient. Other statuses (`deferred`, `bounced`,
//!   `expired`, and `deliverable` from address probes) give none, so a recipient deferred
//!   and later sent gives one entry, at the time it was sent.
//! - `4ABC12345: removed` (from qmgr, or postsuper) closes the queue id.
//!
//! Everything else is skipped without error, including lines of other programs. A delivery
//! whose queue id has no `message-id=` line before it is an error, as is one to a recipient
//! that is no address.
//!
//! Queue ids may be short (hex, `4ABC12345`) or long (`4Ntq8n0Hq1z1xR3`).
//!
//! `source_ip` stays empty: Postfix does not log the address a delivery left from, and the
//! `client=` of smtpd lines is the client that injected the message.
//!
//! Timestamps are either RFC 3339 (`2026-11-28T01:49:26.123456+00:00`, also with `+0000`)
//! or classic syslog (`Nov 28 01:49:26`, optionally with a fraction), which has neither year
//! nor zone: each is the latest such time not later than [`ReadOptions::now`] (plus a day of
//! clock skew), read in [`ReadOptions::zone`] with the offset of its own date. December
//! lines read in January are of the year before; a log that spans New Year comes out in
//! order.
//!
//! Memory: one entry per open queue id, forgotten at `removed`. Logs can miss `removed`
//! lines (rotation, a crash), so at most [`MAX_OPEN_QUEUE_IDS`] are kept, the oldest
//! forgotten first.

use super::{
    ReadOptions, SendLogEntry, Step, normalise_message_id, normalise_recipient, rfc3339_utc, shown,
};
use chrono::{DateTime, Datelike, NaiveTime, Utc};
use std::collections::{BTreeMap, HashMap};

/// The most queue ids the reader remembers at once.
pub const MAX_OPEN_QUEUE_IDS: usize = 1_000_000;

/// The daemons whose `status=sent` lines are deliveries.
const DELIVERY_AGENTS: [&str; 5] = ["smtp", "lmtp", "virtual", "local", "pipe"];

pub(super) struct PostfixState {
    options: ReadOptions,
    queue_ids: OpenQueueIds,
}

impl PostfixState {
    pub(super) fn new(options: &ReadOptions) -> PostfixState {
        PostfixState::with_limit(options, MAX_OPEN_QUEUE_IDS)
    }

    fn with_limit(options: &ReadOptions, limit: usize) -> PostfixState {
        PostfixState {
            options: options.clone(),
            queue_ids: OpenQueueIds {
                by_id: HashMap::new(),
                by_age: BTreeMap::new(),
                next_age: 0,
                limit,
            },
        }
    }

    pub(super) fn line(&mut self, bytes: &[u8]) -> Step {
        let text = String::from_utf8_lossy(bytes);
        let Some(line) = SyslogLine::parse(&text) else {
            return Step::Skip;
        };
        let Some((_, daemon)) = line.program.rsplit_once('/') else {
            return Step::Skip;
        };
        let Some((queue_id, event)) = split_queue_id(line.message) else {
            return Step::Skip;
        };
        if daemon == "cleanup" {
            if let Some(message_id) = event.strip_prefix("message-id=") {
                self.queue_ids
                    .open(queue_id, normalise_message_id(message_id));
            }
            Step::Skip
        } else if event.trim_end() == "removed" {
            self.queue_ids.close(queue_id);
            Step::Skip
        } else if DELIVERY_AGENTS.contains(&daemon) {
            self.delivery(queue_id, event, &line.stamp)
        } else {
            Step::Skip
        }
    }

    fn delivery(&self, queue_id: &str, event: &str, stamp: &Stamp<'_>) -> Step {
        let Some((address, status)) = parse_delivery(event) else {
            return Step::Skip;
        };
        if status != "sent" {
            return Step::Skip;
        }
        let Some(recipient) = normalise_recipient(address) else {
            return Step::Error(format!(
                "queue id {queue_id}: recipient `{}` is not an email address",
                shown(address)
            ));
        };
        let message_id = match self.queue_ids.message_id(queue_id) {
            Some(Some(message_id)) => message_id.to_string(),
            Some(None) => {
                return Step::Error(format!(
                    "queue id {queue_id}: delivered to {recipient}, but its message-id is empty"
                ));
            }
            None => {
                return Step::Error(format!(
                    "queue id {queue_id}: delivered to {recipient}, but no message-id is known \
                     for it (no cleanup line before, or already removed)"
                ));
            }
        };
        let Some(sent_at) = self.utc(stamp) else {
            let reason = match *stamp {
                Stamp::Classic { month, day, time } => format!(
                    "`{} {day} {}` is not a time in the nine years up to now",
                    MONTHS[month as usize - 1],
                    shown(time)
                ),
                Stamp::Absolute(time) => format!(
                    "`{}` is not an RFC 3339 time between the years 0 and 9999",
                    shown(time)
                ),
            };
            return Step::Error(format!("queue id {queue_id}: timestamp {reason}"));
        };
        Step::Entry(SendLogEntry {
            message_id: Some(message_id),
            recipient,
            id: None,
            campaign: None,
            list: None,
            source_ip: None,
            sent_at: Some(rfc3339_utc(sent_at)),
        })
    }

    /// The UTC time of a timestamp, if it is a time between the years 0 and 9999.
    fn utc(&self, stamp: &Stamp<'_>) -> Option<DateTime<Utc>> {
        let time = match *stamp {
            Stamp::Absolute(time) => DateTime::parse_from_rfc3339(time)
                .or_else(|_| DateTime::parse_from_str(time, "%Y-%m-%dT%H:%M:%S%.f%z"))
                .ok()?
                .to_utc(),
            Stamp::Classic { month, day, time } => {
                let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f").ok()?;
                self.options.classic_utc(month, day, time)?
            }
        };
        (0..=9999).contains(&time.year()).then_some(time)
    }
}

/// The queue ids seen and not yet removed, with the Message-ID of each.
struct OpenQueueIds {
    /// Queue id to (age, Message-ID); the Message-ID is `None` when cleanup logged it empty.
    by_id: HashMap<String, (u64, Option<String>)>,
    /// Age to queue id, oldest first, to forget the oldest when full.
    by_age: BTreeMap<u64, String>,
    next_age: u64,
    limit: usize,
}

impl OpenQueueIds {
    fn open(&mut self, queue_id: &str, message_id: Option<String>) {
        self.close(queue_id);
        let age = self.next_age;
        self.next_age += 1;
        self.by_id.insert(queue_id.to_string(), (age, message_id));
        self.by_age.insert(age, queue_id.to_string());
        while self.by_id.len() > self.limit {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.by_id.remove(&oldest);
        }
    }

    fn close(&mut self, queue_id: &str) {
        if let Some((age, _)) = self.by_id.remove(queue_id) {
            self.by_age.remove(&age);
        }
    }

    fn message_id(&self, queue_id: &str) -> Option<Option<&str>> {
        self.by_id
            .get(queue_id)
            .map(|(_, message_id)| message_id.as_deref())
    }
}

/// A timestamp as written; the time is parsed only for the lines that need it.
enum Stamp<'a> {
    /// `Nov 28 01:49:26`: no year, local time; `time` is `01:49:26`.
    Classic { month: u32, day: u32, time: &'a str },
    /// `2026-11-28T01:49:26.123456+00:00`.
    Absolute(&'a str),
}

/// A syslog line: `TIMESTAMP HOST PROGRAM[PID]: MESSAGE`.
struct SyslogLine<'a> {
    stamp: Stamp<'a>,
    /// Without the `[PID]`.
    program: &'a str,
    message: &'a str,
}

impl SyslogLine<'_> {
    fn parse(line: &str) -> Option<SyslogLine<'_>> {
        let (first, rest) = next_word(line)?;
        let (stamp, rest) = if first.starts_with(|c: char| c.is_ascii_digit()) {
            (Stamp::Absolute(first), rest)
        } else {
            let month = month_number(first)?;
            let (day, rest) = next_word(rest)?;
            let day = day.parse().ok().filter(|day| (1..=31).contains(day))?;
            let (time, rest) = next_word(rest)?;
            (Stamp::Classic { month, day, time }, rest)
        };
        let (_host, rest) = next_word(rest)?;
        let (program, message) = next_word(rest)?;
        let program = program.strip_suffix(':')?;
        let program = program.split('[').next().unwrap_or(program);
        Some(SyslogLine {
            stamp,
            program,
            message: message.trim_start_matches(' '),
        })
    }
}

/// The first space-separated word of `text` and what follows it.
fn next_word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start_matches(' ');
    if text.is_empty() {
        return None;
    }
    Some(text.split_at(text.find(' ').unwrap_or(text.len())))
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn month_number(name: &str) -> Option<u32> {
    let position = MONTHS
        .iter()
        .position(|month| month.eq_ignore_ascii_case(name))?;
    u32::try_from(position + 1).ok()
}

/// Splits `4ABC12345: event` into queue id and event; `None` for `NOQUEUE` and for
/// messages that do not start with a queue id.
fn split_queue_id(message: &str) -> Option<(&str, &str)> {
    let (queue_id, event) = message.split_once(": ")?;
    let looks_like_queue_id = (5..=20).contains(&queue_id.len())
        && queue_id.bytes().all(|byte| byte.is_ascii_alphanumeric())
        && queue_id != "NOQUEUE";
    looks_like_queue_id.then_some((queue_id, event))
}

/// The recipient and status of `to=<rcpt>, relay=..., status=sent (...)`.
fn parse_delivery(event: &str) -> Option<(&str, &str)> {
    let after_to = event.strip_prefix("to=<")?;
    // The address ends at the first `>` that ends the field.
    let (end, _) = after_to.match_indices('>').find(|&(position, _)| {
        let rest = &after_to[position + 1..];
        rest.is_empty() || rest.starts_with(',')
    })?;
    let fields = &after_to[end + 1..];
    let (_, status) = fields.split_once(" status=")?;
    let status = status.split([' ', ',', '(']).next()?;
    Some((&after_to[..end], status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sendlog::{SendLogReader, read_send_log};

    fn entries(reader: SendLogReader<&[u8]>) -> usize {
        reader.filter(Result::is_ok).count()
    }

    fn message(queue_id: &str, number: usize, removed: bool) -> String {
        let mut lines = format!(
            "Nov 28 01:49:26 mail01 postfix/cleanup[1]: {queue_id}: message-id=<{number}@x>\n\
             Nov 28 01:49:27 mail01 postfix/smtp[2]: {queue_id}: to=<r{number}@example.org>, relay=mx[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 ok)\n"
        );
        if removed {
            lines.push_str(&format!(
                "Nov 28 01:49:27 mail01 postfix/qmgr[3]: {queue_id}: removed\n"
            ));
        }
        lines
    }

    #[test]
    fn removed_queue_ids_are_forgotten() {
        let log: String = (0..2000)
            .map(|number| message(&format!("{number:X}ABCDE"), number, true))
            .collect();
        let mut reader = read_send_log(
            crate::sendlog::SendLogFormat::Postfix,
            log.as_bytes(),
            &ReadOptions::utc(2026),
        );
        assert_eq!(reader.by_ref().filter(Result::is_ok).count(), 2000);
        let crate::sendlog::FormatState::Postfix(state) = &reader.state else {
            panic!("the reader reads postfix")
        };
        assert!(state.queue_ids.by_id.is_empty());
        assert!(state.queue_ids.by_age.is_empty());
    }

    #[test]
    fn without_removed_lines_the_oldest_queue_ids_are_forgotten() {
        let mut state = PostfixState::with_limit(&ReadOptions::utc(2026), 100);
        for number in 0..1000 {
            for line in message(&format!("{number:X}ABCDE"), number, false).lines() {
                let _ = state.line(line.as_bytes());
            }
            assert!(state.queue_ids.by_id.len() <= 100);
        }
        assert_eq!(state.queue_ids.by_id.len(), 100);
        assert_eq!(state.queue_ids.by_age.len(), 100);
        // The newest is still known, the oldest is not.
        assert!(state.queue_ids.message_id("3E7ABCDE").is_some());
        assert!(state.queue_ids.message_id("0ABCDE").is_none());
        let log = message("0ABCDE", 0, false);
        assert_eq!(
            entries(read_send_log(
                crate::sendlog::SendLogFormat::Postfix,
                log.as_bytes(),
                &ReadOptions::utc(2026)
            )),
            1
        );
    }

    #[test]
    fn deliveries_parse_address_and_status() {
        assert_eq!(
            parse_delivery(
                "to=<a@example.org>, relay=none, delay=0, dsn=2.0.0, status=sent (250 ok)"
            ),
            Some(("a@example.org", "sent"))
        );
        assert_eq!(
            parse_delivery(
                "to=<a@example.org>, orig_to=<b@example.org>, relay=local, status=deferred"
            ),
            Some(("a@example.org", "deferred"))
        );
        assert_eq!(
            parse_delivery("to=<\"x>y\"@example.org>, status=sent (250 status=bounced)"),
            Some(("\"x>y\"@example.org", "sent"))
        );
        assert_eq!(parse_delivery("to=<a@example.org"), None);
        assert_eq!(parse_delivery("from=<a@example.org>, status=sent"), None);
    }

    #[test]
    fn queue_ids_short_and_long() {
        assert_eq!(
            split_queue_id("4ABC12345: removed"),
            Some(("4ABC12345", "removed"))
        );
        assert_eq!(
            split_queue_id("4Ntq8n0Hq1z1xR3: removed"),
            Some(("4Ntq8n0Hq1z1xR3", "removed"))
        );
        assert_eq!(split_queue_id("NOQUEUE: reject: RCPT from x"), None);
        assert_eq!(split_queue_id("connect from x[192.0.2.1]"), None);
    }
}
