//! Postfix mail logs as a send log: each `status=sent` delivery joined, by host and queue id,
//! with the `message-id=` that cleanup logged for the message.
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
//! A `status=sent` whose reply names the queue id the next MTA gave the message (`250 2.0.0
//! Ok: queued as 5A6B7C8D9E`, also after amavisd-new's `from MTA(smtp:[127.0.0.1]:10025):`)
//! is a hop, not a send, when that queue id is one of this log's (same host, open, carried
//! from the log before, or among the last [`RECENTLY_REMOVED`] removed) and its cleanup logged
//! the same Message-ID: a content filter, or another Postfix instance, gave the message back
//! to Postfix, and the recipient's outcome is the delivery of the message queued again (sent,
//! deferred, bounced). The filter answers once it has queued the message again, so the new
//! queue id's cleanup line comes before the hop's. A relayhost on loopback (stunnel to a
//! smarthost, a local KumoMTA) names a queue id that is none of this log's: a send.
//!
//! A `status=sent` from a relay on this host (loopback, or a unix socket) whose reply is
//! amavisd-new's for a message it discarded (`250 2.7.0 Ok, discarded, id=12345-01 - spam`)
//! or bounced itself (`250 2.5.0 Ok, id=12345-01, BOUNCE`) is no send either: the message
//! went no further. Only those exact shapes; a relayhost's reply is never one.
//!
//! Everything else is skipped without error, including lines of other programs. A delivery
//! whose queue id has no `message-id=` line before it (in this log, or carried from the one
//! before, see below) is an error, as is one to a recipient that is no address.
//!
//! Queue ids may be short (hex, `4ABC12345`) or long (`4Ntq8n0Hq1z1xR3`). They are per
//! host: a log gathered from several hosts joins each host's lines alone.
//!
//! `source_ip` stays empty: Postfix does not log the address a delivery left from, and the
//! `client=` of smtpd lines is the client that injected the message.
//!
//! # Line shapes
//!
//! - Classic syslog (RFC 3164, rsyslog's default `RSYSLOG_TraditionalFileFormat`, journald's
//!   `journalctl -o short`): `Nov 28 01:49:26 host postfix/smtp[1300]: ...`, optionally with
//!   a fraction of a second.
//! - RFC 3339 times (rsyslog's `RSYSLOG_FileFormat`, syslog-ng's `ISODATE`, `journalctl -o
//!   short-iso` and `short-iso-precise`): `2026-11-28T01:49:26.123456+00:00 host ...`, also
//!   with `+0000` or `Z`.
//! - A date and a time apart: `2026-11-28 01:49:26 host ...`, with or without an offset.
//! - Either of the above after a `<PRI>` priority (`<22>Nov 28 ...`), as when the network
//!   form is written to a file.
//! - RFC 5424 (rsyslog's `RSYSLOG_SyslogProtocol23Format`): `<22>1 2026-11-28T01:49:26.123Z
//!   host postfix/smtp 1300 - - 4ABC12345: ...`, structured data and a BOM skipped.
//!
//! A time with a zone (RFC 3339, RFC 5424) is read as written. Classic times have neither
//! year nor zone: each is the latest such time not later than [`ReadOptions::now`] (plus a
//! day of clock skew), read in [`ReadOptions::zone`] with the offset of its own date.
//! December lines read in January are of the year before; a log that spans New Year comes
//! out in order. A date and time without an offset is read in [`ReadOptions::zone`] too.
//! A local time repeated when the clocks go back is its earlier instant, but after lines of
//! the same log more than five minutes later (the repeated hour's lines follow the first
//! pass's), and for a queue id carried from the log before when the earlier is before the
//! queue id was last seen (deferred in the first of the two hours, delivered in the second):
//! then its later one.
//!
//! A line in none of these shapes is counted as unrecognised ([`LineCounts`]); a line of
//! another program (dovecot, the kernel, `postfix/anvil`) is a syslog line and is not. A log
//! with lines but no Postfix line at all is not a Postfix log fbl can read: the caller says so.
//!
//! # Across logs
//!
//! A message queued before a log was rotated and delivered after it has its `message-id=`
//! in one file and its delivery in the next. The queue ids still open at the end of a log
//! ([`SendLogReader::open_queue_ids`](super::SendLogReader::open_queue_ids)) are kept by the
//! caller and given to the reader of the next log
//! ([`SendLogReader::carrying`](super::SendLogReader::carrying)). Postfix reuses short queue
//! ids, so a caller forgets one not seen for [`MAX_QUEUE_LIFETIME`], Postfix's own default
//! `maximal_queue_lifetime`: by then the message has left the queue.
//!
//! Memory: one entry per open queue id, forgotten at `removed`. Logs can miss `removed`
//! lines (rotation, a crash), so at most [`MAX_OPEN_QUEUE_IDS`] are kept, the oldest
//! forgotten first.

use super::{
    ReadOptions, SendLogEntry, Step, normalise_message_id, normalise_recipient, rfc3339_utc, shown,
};
use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use std::collections::{BTreeMap, HashMap};

/// The most queue ids the reader remembers at once.
pub const MAX_OPEN_QUEUE_IDS: usize = 1_000_000;

/// How long a queue id is remembered across logs after it was last seen: Postfix's default
/// `maximal_queue_lifetime`, after which a message still queued is returned to its sender.
pub const MAX_QUEUE_LIFETIME: TimeDelta = TimeDelta::days(5);

/// The daemons whose `status=sent` lines are deliveries.
const DELIVERY_AGENTS: [&str; 5] = ["smtp", "lmtp", "virtual", "local", "pipe"];

/// A queue id still open at the end of a log: its message was queued, and not yet removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenQueueId {
    /// The host name of its lines, as syslog wrote it.
    pub host: String,
    pub queue_id: String,
    /// As cleanup logged it, normalised as a send log entry's.
    pub message_id: String,
    /// The time of the last line that named it, RFC 3339 UTC with whole seconds.
    pub last_seen: String,
}

/// How the lines of a Postfix log were read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineCounts {
    /// Lines that are not blank.
    pub lines: u64,
    /// Syslog lines of a Postfix program (`postfix/...`, `postfix-out/...`).
    pub postfix_lines: u64,
    /// Lines that are no syslog line in any shape the reader knows.
    pub unrecognised: u64,
}

pub(super) struct PostfixState {
    options: ReadOptions,
    queue_ids: OpenQueueIds,
    counts: LineCounts,
    /// `host queue_id` of the line at hand, kept to look queue ids up without allocating.
    key: String,
    /// For a queue id carried from an earlier import: the Message-ID its cleanup logged
    /// before it was last seen there (an older log read again, where Postfix may have used
    /// the id for another message), for that log's deliveries. The carried entry stays as
    /// it is: that log is not newer.
    earlier: HashMap<String, Option<String>>,
    /// The queue ids removed last, with their Message-ID: a hop's line may come after the
    /// message it queued again was delivered and removed.
    recently_removed: RecentlyRemoved,
    /// The latest instant of a `message-id=` or delivery line read in this log so far: a
    /// local time repeated when the clocks went back, well before it, is the repeated hour's.
    latest: Option<DateTime<Utc>>,
}

/// How far before the latest line read a line may be and still be taken as written in the
/// first pass of an hour repeated when the clocks went back: syslog writes lines of several
/// processes a little out of order, never by minutes.
const OUT_OF_ORDER: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

impl PostfixState {
    pub(super) fn new(options: &ReadOptions) -> PostfixState {
        PostfixState::with_limit(options, MAX_OPEN_QUEUE_IDS)
    }

    fn with_limit(options: &ReadOptions, limit: usize) -> PostfixState {
        PostfixState {
            options: options.clone(),
            queue_ids: OpenQueueIds {
                by_key: HashMap::new(),
                by_age: BTreeMap::new(),
                next_age: 0,
                limit,
            },
            counts: LineCounts::default(),
            key: String::new(),
            earlier: HashMap::new(),
            recently_removed: RecentlyRemoved::default(),
            latest: None,
        }
    }

    /// Reads on from a point the log reached at `read_at`: the lines to come were written
    /// after it (see `latest`).
    pub(super) fn written_after(&mut self, read_at: DateTime<Utc>) {
        self.latest = Some(self.latest.map_or(read_at, |latest| latest.max(read_at)));
    }

    /// Opens the queue ids a log before this one left open, oldest first.
    pub(super) fn carry(&mut self, open: impl IntoIterator<Item = OpenQueueId>) {
        for carried in open {
            let Ok(seen) = DateTime::parse_from_rfc3339(&carried.last_seen) else {
                continue;
            };
            let key = format!("{} {}", carried.host, carried.queue_id);
            self.queue_ids.open(
                key,
                Some(carried.message_id),
                Seen::Utc(seen.to_utc()),
                Some(seen.to_utc()),
            );
        }
    }

    /// The queue ids open now with a known Message-ID, oldest first.
    pub(super) fn open_queue_ids(&self) -> Vec<OpenQueueId> {
        self.queue_ids
            .by_age
            .values()
            .filter_map(|key| {
                let (_, message_id, seen, carried) = self.queue_ids.by_key.get(key)?;
                let message_id = message_id.clone()?;
                let utc = |stamp: &Stamp<'_>| stamp_utc_from(stamp, &self.options, *carried);
                let last_seen = match seen {
                    Seen::Utc(time) => *time,
                    Seen::Classic { month, day, time } => utc(&Stamp::Classic {
                        month: *month,
                        day: *day,
                        time,
                    })?,
                    Seen::Written(text) => utc(&Stamp::Absolute(text))?,
                    Seen::Unknown => return None,
                };
                let (host, queue_id) = key.split_once(' ')?;
                Some(OpenQueueId {
                    host: host.to_string(),
                    queue_id: queue_id.to_string(),
                    message_id,
                    last_seen: rfc3339_utc(last_seen),
                })
            })
            .collect()
    }

    pub(super) fn counts(&self) -> LineCounts {
        self.counts
    }

    pub(super) fn line(&mut self, bytes: &[u8]) -> Step {
        if super::is_blank(bytes) {
            return Step::Skip;
        }
        self.counts.lines += 1;
        let text = String::from_utf8_lossy(bytes);
        let Some(line) = SyslogLine::parse(&text) else {
            self.counts.unrecognised += 1;
            return Step::Skip;
        };
        let Some((instance, daemon)) = line.program.rsplit_once('/') else {
            return Step::Skip;
        };
        if instance.starts_with("postfix") {
            self.counts.postfix_lines += 1;
        }
        let Some((queue_id, event)) = split_queue_id(line.message) else {
            return Step::Skip;
        };
        self.key.clear();
        self.key.push_str(line.host);
        self.key.push(' ');
        self.key.push_str(queue_id);
        if daemon == "cleanup" {
            if let Some(message_id) = event.strip_prefix("message-id=") {
                self.instant(&line.stamp);
                if self.before_carried(&line.stamp) {
                    self.earlier
                        .insert(self.key.clone(), normalise_message_id(message_id));
                } else {
                    self.queue_ids.open(
                        self.key.clone(),
                        normalise_message_id(message_id),
                        Seen::of(&line.stamp),
                        None,
                    );
                }
            }
            Step::Skip
        } else if event.trim_end() == "removed" {
            if self.before_carried(&line.stamp) {
                self.earlier.remove(&self.key);
            } else if let Some(Some(message_id)) = self.queue_ids.close(&self.key) {
                self.recently_removed.add(self.key.clone(), message_id);
            }
            Step::Skip
        } else if DELIVERY_AGENTS.contains(&daemon) {
            self.delivery(queue_id, event, &line.stamp)
        } else {
            Step::Skip
        }
    }

    fn delivery(&mut self, queue_id: &str, event: &str, stamp: &Stamp<'_>) -> Step {
        let Some((address, status)) = parse_delivery(event) else {
            return Step::Skip;
        };
        // A line from before a queue id carried from an earlier import was last seen is the
        // same log read again, where Postfix may have used the id for another message:
        // the carried Message-ID is not this line's.
        let before_carried = self.before_carried(stamp);
        // A deferred delivery is a sign of life: the message is still queued.
        if !before_carried {
            self.queue_ids.seen(&self.key, stamp);
        }
        if status != "sent" {
            return Step::Skip;
        }
        // amavisd-new discarded the message, or bounced it itself: it never left.
        if kept_by_content_filter(event) {
            return Step::Skip;
        }
        let Some(recipient) = normalise_recipient(address) else {
            return Step::Error(format!(
                "queue id {queue_id}: recipient `{}` is not an email address",
                shown(address)
            ));
        };
        let known = if before_carried {
            self.earlier.get(&self.key).map(Option::as_deref)
        } else {
            self.queue_ids.message_id(&self.key)
        };
        let message_id = match known {
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
        // A hop to a content filter (amavisd-new on 127.0.0.1:10024) or to another Postfix
        // instance, which queued the message again under a queue id of this log: the
        // recipient's outcome is that queue id's delivery, not this hop.
        if let Some(next) = queued_as(event)
            && self.queued_again(next, &message_id)
        {
            return Step::Skip;
        }
        let Some(sent_at) = self.instant(stamp) else {
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
                Stamp::Apart { date, time } => format!(
                    "`{} {}` is not a time between the years 0 and 9999",
                    shown(date),
                    shown(time)
                ),
                Stamp::Nil => "`-` is no time".to_string(),
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

    /// Whether `queue_id`, on the host of the line at hand, is a Postfix queue id of this
    /// log (open, carried, or removed a little before) whose cleanup logged `message_id`.
    fn queued_again(&self, queue_id: &str, message_id: &str) -> bool {
        let host = self.key.split_once(' ').map_or("", |(host, _)| host);
        let key = format!("{host} {queue_id}");
        self.queue_ids.message_id(&key) == Some(Some(message_id))
            || self.earlier.get(&key).and_then(Option::as_deref) == Some(message_id)
            || self.recently_removed.message_id(&key) == Some(message_id)
    }

    /// The UTC time of the line at hand, kept as the latest when it is. A local time repeated
    /// when the clocks went back takes its later instant when the earlier one is before the
    /// time its queue id was last seen in an earlier import, or more than [`OUT_OF_ORDER`]
    /// before the latest line of this log: the lines of the repeated hour follow the first
    /// pass's in the log, and must not be read as an hour older than them.
    fn instant(&mut self, stamp: &Stamp<'_>) -> Option<DateTime<Utc>> {
        let floor = self.latest.map(|latest| latest - OUT_OF_ORDER);
        let reference = match (self.carried_seen(), floor) {
            (Some(carried), Some(floor)) => Some(carried.max(floor)),
            (carried, floor) => carried.or(floor),
        };
        let at = stamp_utc_from(stamp, &self.options, reference)?;
        self.latest = Some(self.latest.map_or(at, |latest| latest.max(at)));
        Some(at)
    }

    /// When the queue id of the line at hand (`self.key`), carried from an earlier import,
    /// was last seen there.
    fn carried_seen(&self) -> Option<DateTime<Utc>> {
        match self.queue_ids.by_key.get(&self.key) {
            Some((_, _, _, carried)) => *carried,
            None => None,
        }
    }

    /// Whether the line at hand (`self.key`) is older than the time its queue id, carried
    /// from an earlier import, was last seen there.
    fn before_carried(&self, stamp: &Stamp<'_>) -> bool {
        self.carried_seen().is_some_and(|carried| {
            stamp_utc_from(stamp, &self.options, Some(carried)).is_some_and(|at| at < carried)
        })
    }
}

/// The UTC time of a syslog line in any shape the reader knows (see the module
/// documentation), for other readers of mail logs: the Outlook.com block scan.
pub fn syslog_line_time(line: &str, options: &ReadOptions) -> Option<DateTime<Utc>> {
    stamp_utc(&SyslogLine::parse(line)?.stamp, options)
}

/// The UTC time of a timestamp, if it is a time between the years 0 and 9999.
fn stamp_utc(stamp: &Stamp<'_>, options: &ReadOptions) -> Option<DateTime<Utc>> {
    let time = match *stamp {
        Stamp::Absolute(time) => date_time_utc(time, options)?,
        Stamp::Apart { date, time } => date_time_utc(&format!("{date}T{time}"), options)?,
        Stamp::Classic { month, day, time } => {
            let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f").ok()?;
            options.classic_utc(month, day, time)?
        }
        Stamp::Nil => return None,
    };
    (0..=9999).contains(&time.year()).then_some(time)
}

/// The UTC time of a timestamp of a queue id carried from an earlier import, last seen there
/// at `carried`: a local time repeated when the clocks went back (the hour after 02:00 on the
/// last Sunday of October in Europe) takes its later instant when the earlier one is before
/// `carried`, as a message delivered in the repeated hour after a deferral logged in the
/// first one. Else as [`stamp_utc`].
fn stamp_utc_from(
    stamp: &Stamp<'_>,
    options: &ReadOptions,
    carried: Option<DateTime<Utc>>,
) -> Option<DateTime<Utc>> {
    let time = stamp_utc(stamp, options)?;
    let Some(carried) = carried.filter(|carried| time < *carried) else {
        return Some(time);
    };
    let later = local_time(stamp, options)
        .and_then(|local| options.zone.to_utc_later(local))
        .filter(|later| *later >= carried && (0..=9999).contains(&later.year()));
    Some(later.unwrap_or(time))
}

/// The local date and time of a timestamp written without an offset.
fn local_time(stamp: &Stamp<'_>, options: &ReadOptions) -> Option<NaiveDateTime> {
    let written = |text: &str| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok();
    match *stamp {
        Stamp::Classic { month, day, time } => {
            let time = NaiveTime::parse_from_str(time, "%H:%M:%S%.f").ok()?;
            options.classic_local(month, day, time)
        }
        Stamp::Absolute(text) => written(text),
        Stamp::Apart { date, time } => written(&format!("{date}T{time}")),
        Stamp::Nil => None,
    }
}

/// `2026-11-28T01:49:26.5+01:00` (also `+0100`, `Z`) as written, and without an offset in
/// the zone of the options.
fn date_time_utc(text: &str, options: &ReadOptions) -> Option<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
    {
        return Some(time.to_utc());
    }
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").ok()?;
    options.zone.to_utc(local)
}

/// When a queue id was last seen, as written; turned into UTC only for the queue ids still
/// open at the end of a log.
enum Seen {
    Utc(DateTime<Utc>),
    Classic {
        month: u32,
        day: u32,
        time: Box<str>,
    },
    /// A date and time, with `T` between them.
    Written(Box<str>),
    Unknown,
}

impl Seen {
    fn of(stamp: &Stamp<'_>) -> Seen {
        match *stamp {
            Stamp::Classic { month, day, time } => Seen::Classic {
                month,
                day,
                time: time.into(),
            },
            Stamp::Absolute(time) => Seen::Written(time.into()),
            Stamp::Apart { date, time } => Seen::Written(format!("{date}T{time}").into()),
            Stamp::Nil => Seen::Unknown,
        }
    }
}

/// An open queue id: (age, Message-ID, last seen, carried).
type OpenEntry = (u64, Option<String>, Seen, Option<DateTime<Utc>>);

/// The queue ids seen and not yet removed, with the Message-ID of each, by `host queue_id`.
struct OpenQueueIds {
    /// Key to (age, Message-ID, last seen, carried); the Message-ID is `None` when cleanup
    /// logged it empty; `carried` is when a queue id carried from an earlier import was last
    /// seen there.
    by_key: HashMap<String, OpenEntry>,
    /// Age to key, oldest first, to forget the oldest when full.
    by_age: BTreeMap<u64, String>,
    next_age: u64,
    limit: usize,
}

impl OpenQueueIds {
    fn open(
        &mut self,
        key: String,
        message_id: Option<String>,
        seen: Seen,
        carried: Option<DateTime<Utc>>,
    ) {
        self.close(&key);
        let age = self.next_age;
        self.next_age += 1;
        self.by_age.insert(age, key.clone());
        self.by_key.insert(key, (age, message_id, seen, carried));
        while self.by_key.len() > self.limit {
            let Some((_, oldest)) = self.by_age.pop_first() else {
                break;
            };
            self.by_key.remove(&oldest);
        }
    }

    /// Forgets a queue id; its Message-ID, if it was open.
    fn close(&mut self, key: &str) -> Option<Option<String>> {
        let (age, message_id, _, _) = self.by_key.remove(key)?;
        self.by_age.remove(&age);
        Some(message_id)
    }

    /// Notes a later line of an open queue id.
    fn seen(&mut self, key: &str, stamp: &Stamp<'_>) {
        if let Some((_, _, seen, _)) = self.by_key.get_mut(key) {
            let later = Seen::of(stamp);
            if !matches!(later, Seen::Unknown) {
                *seen = later;
            }
        }
    }

    fn message_id(&self, key: &str) -> Option<Option<&str>> {
        self.by_key
            .get(key)
            .map(|(_, message_id, _, _)| message_id.as_deref())
    }
}

/// How many removed queue ids are remembered for the hops that name them.
const RECENTLY_REMOVED: usize = 10_000;

/// The last [`RECENTLY_REMOVED`] queue ids removed, by `host queue_id`, with their Message-ID.
#[derive(Default)]
struct RecentlyRemoved {
    by_key: HashMap<String, String>,
    order: std::collections::VecDeque<String>,
}

impl RecentlyRemoved {
    fn add(&mut self, key: String, message_id: String) {
        if self.by_key.insert(key.clone(), message_id).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > RECENTLY_REMOVED {
            if let Some(oldest) = self.order.pop_front() {
                self.by_key.remove(&oldest);
            }
        }
    }

    fn message_id(&self, key: &str) -> Option<&str> {
        self.by_key.get(key).map(String::as_str)
    }
}

/// A timestamp as written; the time is parsed only for the lines that need it.
enum Stamp<'a> {
    /// `Nov 28 01:49:26`: no year, local time; `time` is `01:49:26`.
    Classic { month: u32, day: u32, time: &'a str },
    /// `2026-11-28T01:49:26.123456+00:00`, or without an offset (local time).
    Absolute(&'a str),
    /// `2026-11-28 01:49:26`, the time perhaps with an offset.
    Apart { date: &'a str, time: &'a str },
    /// RFC 5424's `-`: the sender knew no time.
    Nil,
}

/// A syslog line: `TIMESTAMP HOST PROGRAM[PID]: MESSAGE`, or RFC 5424's
/// `<PRI>1 TIMESTAMP HOST APP-NAME PROCID MSGID STRUCTURED-DATA MESSAGE`.
struct SyslogLine<'a> {
    stamp: Stamp<'a>,
    host: &'a str,
    /// Without the `[PID]`.
    program: &'a str,
    message: &'a str,
}

impl SyslogLine<'_> {
    fn parse(line: &str) -> Option<SyslogLine<'_>> {
        let line = strip_priority(line);
        if let Some(rest) = line.strip_prefix("1 ") {
            return SyslogLine::rfc5424(rest);
        }
        let (first, rest) = next_word(line)?;
        let (stamp, rest) = if is_date(first) {
            match next_word(rest) {
                Some((time, after)) if is_time(time) => (Stamp::Apart { date: first, time }, after),
                _ => return None,
            }
        } else if first.starts_with(|c: char| c.is_ascii_digit()) {
            (Stamp::Absolute(first), rest)
        } else {
            let month = month_number(first)?;
            let (day, rest) = next_word(rest)?;
            let day = day.parse().ok().filter(|day| (1..=31).contains(day))?;
            let (time, rest) = next_word(rest)?;
            (Stamp::Classic { month, day, time }, rest)
        };
        let (host, rest) = next_word(rest)?;
        let (program, message) = next_word(rest)?;
        let program = program.strip_suffix(':')?;
        let program = program.split('[').next().unwrap_or(program);
        Some(SyslogLine {
            stamp,
            host,
            program,
            message: message.trim_start_matches(' '),
        })
    }

    /// The rest of an RFC 5424 line after `<PRI>1 `.
    fn rfc5424(rest: &str) -> Option<SyslogLine<'_>> {
        let (stamp, rest) = next_word(rest)?;
        let (host, rest) = next_word(rest)?;
        let (program, rest) = next_word(rest)?;
        let (_procid, rest) = next_word(rest)?;
        let (_msgid, rest) = next_word(rest)?;
        let message = skip_structured_data(rest.trim_start_matches(' '))?;
        let message = message.strip_prefix(' ').unwrap_or(message);
        let message = message.strip_prefix('\u{FEFF}').unwrap_or(message);
        Some(SyslogLine {
            stamp: if stamp == "-" {
                Stamp::Nil
            } else {
                Stamp::Absolute(stamp)
            },
            host,
            program,
            message: message.trim_start_matches(' '),
        })
    }
}

/// A line without its `<PRI>` (`<22>`), if it has one.
fn strip_priority(line: &str) -> &str {
    let Some(rest) = line.strip_prefix('<') else {
        return line;
    };
    match rest.split_once('>') {
        Some((digits, after))
            if (1..=3).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            after
        }
        _ => line,
    }
}

/// What follows RFC 5424 structured data: `-`, or elements `[id name="value" ...]` whose
/// values may hold `\]`, `\"` and spaces. `None` when it does not end.
fn skip_structured_data(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix('-') {
        return Some(rest);
    }
    let mut rest = text;
    while rest.starts_with('[') {
        let mut in_value = false;
        let mut escaped = false;
        let mut end = None;
        for (position, c) in rest.char_indices().skip(1) {
            match c {
                _ if escaped => escaped = false,
                '\\' if in_value => escaped = true,
                '"' => in_value = !in_value,
                ']' if !in_value => {
                    end = Some(position);
                    break;
                }
                _ => {}
            }
        }
        rest = &rest[end? + 1..];
    }
    Some(rest)
}

/// `2026-11-28`.
fn is_date(word: &str) -> bool {
    word.len() == 10 && NaiveDate::parse_from_str(word, "%Y-%m-%d").is_ok()
}

/// `01:49:26`, perhaps with a fraction and an offset.
fn is_time(word: &str) -> bool {
    let bytes = word.as_bytes();
    bytes.len() >= 8 && bytes[2] == b':' && bytes[5] == b':'
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

/// The queue id a delivery's reply names, `250 2.0.0 Ok: queued as 4XyzAB12` (also after
/// amavisd-new's `250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): `): the next MTA's, which is
/// this log's own when the hop was to a content filter that gave the message back to Postfix.
fn queued_as(event: &str) -> Option<&str> {
    let (_, status) = event.split_once(" status=")?;
    let (_, after) = status.rsplit_once("queued as ")?;
    let end = after
        .find(|c: char| !c.is_ascii_alphanumeric())
        .unwrap_or(after.len());
    let queue_id = &after[..end];
    (5..=20).contains(&queue_id.len()).then_some(queue_id)
}

/// Whether a `status=sent` delivery is a content filter on this host (a relay on a loopback
/// address or a unix socket) that kept the message: amavisd-new's reply when it discards a
/// message (`final_*_destiny` D_DISCARD) or bounces it itself (D_BOUNCE, its own DSN to the
/// sender). Postfix's client logs `sent`, yet the message went no further. Only amavisd-new's
/// exact shapes (see [`amavis_kept`]), never any reply with `discarded` in it.
fn kept_by_content_filter(event: &str) -> bool {
    let Some((_, fields)) = event.split_once(", relay=") else {
        return false;
    };
    let relay = fields.split(',').next().unwrap_or("");
    let Some((_, status)) = fields.split_once(" status=sent (") else {
        return false;
    };
    let reply = status.trim_end();
    let Some(reply) = reply.strip_suffix(')') else {
        return false;
    };
    relay_is_local(relay) && amavis_kept(reply)
}

/// Whether a delivery's `relay=` (`127.0.0.1[127.0.0.1]:10024`, `localhost[::1]:10024`,
/// `host[private/amavis]`) is on this host: a loopback address, or a unix socket.
fn relay_is_local(relay: &str) -> bool {
    let Some((_, after)) = relay.split_once('[') else {
        return false;
    };
    let Some((address, _)) = after.split_once(']') else {
        return false;
    };
    if address.contains('/') {
        return true;
    }
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(v4)) => v4.is_loopback(),
        Ok(std::net::IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// amavisd-new's replies for a message it did not pass on, with its default
/// `%smtp_reason_by_ccat` (`id=%n - INFECTED: %V`, `id=%n - spam`, `id=%n - BANNED: %F`):
///
/// - `250 2.7.0 Ok, discarded, id=12345-01 - INFECTED: Eicar-Test-Signature` (2.7.1 in
///   older releases), and the older `250 2.7.1 Ok, discarded, UBE, id=12345-01`;
/// - `250 2.5.0 Ok, id=12345-01, BOUNCE`: amavisd-new sent the sender a DSN itself.
///
/// `12345-01` is amavisd-new's log id (process id, task count, perhaps `-2` for a part of
/// the recipients).
fn amavis_kept(reply: &str) -> bool {
    let is_log_id = |id: &str| {
        let mut parts = id.split('-');
        let first = parts.next().unwrap_or("");
        let digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
        let rest: Vec<&str> = parts.collect();
        digits(first) && !rest.is_empty() && rest.iter().all(|part| digits(part))
    };
    if let Some(rest) = reply.strip_prefix("250 2.5.0 Ok, id=") {
        return rest.strip_suffix(", BOUNCE").is_some_and(is_log_id);
    }
    let Some(rest) = reply
        .strip_prefix("250 2.7.0 Ok, discarded, ")
        .or_else(|| reply.strip_prefix("250 2.7.1 Ok, discarded, "))
    else {
        return false;
    };
    if let Some(id) = rest.strip_prefix("UBE, id=") {
        return is_log_id(id);
    }
    let Some(rest) = rest.strip_prefix("id=") else {
        return false;
    };
    match rest.split_once(" - ") {
        Some((id, reason)) => is_log_id(id) && !reason.trim().is_empty(),
        None => false,
    }
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
        assert!(state.queue_ids.by_key.is_empty());
        assert!(state.queue_ids.by_age.is_empty());
    }

    #[test]
    fn without_removed_lines_the_oldest_queue_ids_are_forgotten() {
        let mut state = PostfixState::with_limit(&ReadOptions::utc(2026), 100);
        for number in 0..1000 {
            for line in message(&format!("{number:X}ABCDE"), number, false).lines() {
                let _ = state.line(line.as_bytes());
            }
            assert!(state.queue_ids.by_key.len() <= 100);
        }
        assert_eq!(state.queue_ids.by_key.len(), 100);
        assert_eq!(state.queue_ids.by_age.len(), 100);
        // The newest is still known, the oldest is not.
        assert!(state.queue_ids.message_id("mail01 3E7ABCDE").is_some());
        assert!(state.queue_ids.message_id("mail01 0ABCDE").is_none());
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

    /// The hour repeated when the clocks went back (01:00 to 02:00 on 1 November 2026 in Los
    /// Angeles), within one log: lines of the second pass come after the first pass's and
    /// are read as the later instant, so times never run backwards; lines a little out of
    /// order in the first pass stay in it.
    #[test]
    fn the_repeated_hour_within_one_log_is_read_in_order() {
        let options = ReadOptions {
            now: "2026-11-01T12:00:00Z".parse().unwrap(),
            zone: crate::zone::Zone::named("America/Los_Angeles").unwrap(),
        };
        let send = |time: &str, id: &str| {
            format!(
                "Nov  1 {time} mail01 postfix/cleanup[1]: {id}: message-id=<{id}@x>\n\
                 Nov  1 {time} mail01 postfix/smtp[2]: {id}: to=<{id}@example.org>, relay=mx[192.0.2.1]:25, delay=1, dsn=2.0.0, status=sent (250 ok)\n\
                 Nov  1 {time} mail01 postfix/qmgr[3]: {id}: removed\n"
            )
        };
        let log = [
            send("01:30:00", "1AAAA"),
            send("01:59:30", "2BBBB"),
            send("01:59:10", "3CCCC"),
            send("01:10:00", "4DDDD"),
            send("01:40:00", "5EEEE"),
            send("02:05:00", "6FFFF"),
        ]
        .concat();
        let times: Vec<String> = read_send_log(
            crate::sendlog::SendLogFormat::Postfix,
            log.as_bytes(),
            &options,
        )
        .map(|entry| entry.unwrap().sent_at.unwrap())
        .collect();
        assert_eq!(
            times,
            [
                "2026-11-01T08:30:00Z",
                "2026-11-01T08:59:30Z",
                "2026-11-01T08:59:10Z",
                "2026-11-01T09:10:00Z",
                "2026-11-01T09:40:00Z",
                "2026-11-01T10:05:00Z",
            ]
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
