//! Complaint rates, thresholds and alerts: turns the store's aggregates (complaints and
//! message counts per IP, day, reporter, campaign, list and recipient domain; SNDS figures;
//! Outlook.com block sightings) into the `ComplaintReport` value that every report format
//! renders and that `--format json` prints (`schemas/report-output.schema.json`). Pure: the
//! day the report ends on is passed in.
//!
//! A complaint is rated against the day its message was sent when the send log places it
//! (`ComplaintCount::sent_day`), else the day it was reported: the messages of that day are
//! the ones it is about. A rate is rated complaints ÷ messages in percent, and both sides count the same mail. Per
//! IP and day, the send log's volume (every recipient) is the denominator of all the IP's
//! complaints that day; only when the send log has nothing for the IP and day is SNDS's
//! `message recipients` used, and then, as SNDS counts Outlook.com recipients alone, over
//! Microsoft's complaints only (`rated_complaints`; `complaints` stays the total). Per
//! reporter, the window's messages are those of every day with a known volume, and the rate
//! is over the complaints of those days. A figure whose volume is unknown or below
//! `min_volume` is shown but not judged. SNDS's filter colour is shown beside fbl's figure,
//! never judged; an IP that SNDS ipStatus lists as blocked counts as blocked and critical, as
//! an Outlook.com block seen in bounces does, whatever its volume: an IP's level is the worst
//! of its rates and its blocks, and the overview counts IPs by it. Displayed percentages are cut, never rounded
//! up, so that a figure just under a threshold never shows at it.

use crate::ip_range::IpRanges;
use crate::outlook_codes::BlockClass;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// When a rate is worth a warning.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    pub warn_percent: f64,
    pub critical_percent: f64,
    /// Below this many messages no rate is judged, whatever it covers (a day, a window's
    /// total, a campaign, a list, a domain).
    pub min_volume: u64,
}

impl Default for Thresholds {
    /// Gmail's and Yahoo's published limits (formats.md section 6).
    fn default() -> Self {
        Thresholds {
            warn_percent: 0.1,
            critical_percent: 0.3,
            min_volume: 1000,
        }
    }
}

/// How a figure stands against the thresholds. Ordered from harmless to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// The volume is unknown or below `min_volume`.
    NotJudged,
    Ok,
    Warn,
    Critical,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::NotJudged => "not_judged",
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Critical => "critical",
        }
    }
}

/// The rate of `complaints` in `messages` and its level. More complaints than messages is
/// no rate: the send log lacks messages the complaints are about. It is shown (flagged, see
/// `more_complaints_than_messages`), never judged.
pub fn judge(
    complaints: u64,
    messages: Option<u64>,
    thresholds: &Thresholds,
) -> (Option<f64>, Level) {
    let Some(messages) = messages.filter(|m| *m > 0) else {
        return (None, Level::NotJudged);
    };
    let rate = complaints as f64 * 100.0 / messages as f64;
    let level = if messages < thresholds.min_volume || complaints > messages {
        Level::NotJudged
    } else if rate >= thresholds.critical_percent {
        Level::Critical
    } else if rate >= thresholds.warn_percent {
        Level::Warn
    } else {
        Level::Ok
    };
    (Some(rate), level)
}

/// `judge` for a figure whose rate is over `rated` of its `complaints` (those whose day's
/// volume is known). When complaints were left unrated and none was rated there is no rate:
/// 0% and `ok` would say that complaints nobody weighed were harmless.
pub fn judge_rated(
    complaints: u64,
    rated: u64,
    messages: Option<u64>,
    thresholds: &Thresholds,
) -> (Option<f64>, Level) {
    if rated == 0 && complaints > 0 {
        return (None, Level::NotJudged);
    }
    judge(rated, messages, thresholds)
}

// ---------------------------------------------------------------------------------------
// What the store hands over.

/// Complaints reported on one day about one source IP by one reporter, and about messages
/// the send log says were sent on one day (or that it cannot place).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplaintCount {
    /// The day the complaints were reported.
    pub day: String,
    /// The day their messages were sent, when the send log places them (the send-log row's
    /// `sent_at`): the day they are rated against. `None` when the send log cannot place
    /// them, or gives the send no time: they are rated against the day they were reported.
    pub sent_day: Option<String>,
    pub source_ip: Option<String>,
    pub reporter: String,
    pub complaints: u64,
}

/// Messages counted for a key (an IP and day, a reporter and day).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub key: String,
    pub day: String,
    pub messages: u64,
}

/// SNDS's figures for one IP on one day, its activity windows added up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SndsDay {
    pub ip: String,
    pub day: String,
    pub message_recipients: u64,
    /// The worst filter result of the day's windows: green, yellow, red or unknown.
    pub filter_result: String,
    /// SNDS's complaint band as written (`< 0.1%`, `0.4%`), the worst of the day's windows.
    pub complaint_rate: String,
    /// The band's percentage, when it states one.
    pub complaint_percent: Option<f64>,
    pub trap_hits: u64,
}

/// A range SNDS ipStatus lists, blocked or junked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SndsStatus {
    pub first_ip: String,
    pub last_ip: String,
    pub blocked: bool,
    pub details: String,
    /// When fbl first saw SNDS list these addresses so, without a break since: a range that
    /// grew is listed in parts, its older addresses with their older start.
    pub since: String,
}

/// Complaints and messages of one campaign and list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignCount {
    pub campaign: Option<String>,
    pub list: Option<String>,
    /// Complaints reported in the window.
    pub complaints: u64,
    /// Messages sent in the window.
    pub messages: u64,
    /// Complaints and messages of every day kept (a campaign's rate is over all of it).
    pub complaints_all: u64,
    pub messages_all: u64,
    /// Complaints rated against the window's days (about messages sent in it when the send
    /// log says when, else reported in it), counted for a list only: a list's rate is over
    /// these and `messages`, like with like, as an IP's is.
    pub rated: u64,
}

/// Complaints and messages of one recipient domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainCount {
    pub domain: String,
    pub complaints: u64,
    pub messages: u64,
}

/// One Outlook.com rejection or deferral as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockEvent {
    /// Empty when the sending IP could not be found.
    pub ip: String,
    pub code: String,
    pub class: BlockClass,
    pub text: String,
    pub recipient: Option<String>,
    pub seen_at: String,
    /// `bounce` or `send_log`.
    pub source: String,
}

/// When a mailbox folder was last read completely.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxSuccess {
    pub mailbox: String,
    pub folder: String,
    pub last_success_at: Option<String>,
}

/// Everything the store gives for one report.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    pub complaints: Vec<ComplaintCount>,
    /// Per IP (key) and day, from the send log.
    pub send_log_ip_days: Vec<Volume>,
    /// Per reporter (key) and day, from the send log's recipient domains.
    pub send_log_reporter_days: Vec<Volume>,
    pub snds_days: Vec<SndsDay>,
    /// Whether SNDS storage exists at all (false before SNDS is set up).
    pub snds_available: bool,
    pub snds_status: Vec<SndsStatus>,
    /// The IPs SNDS gave figures for in the `BLOCK_HISTORY_DAYS` before the window ends:
    /// those of a range ipStatus lists as blocked get a line, rows in the window or not.
    pub snds_ips: Vec<String>,
    pub campaigns: Vec<CampaignCount>,
    /// Complaints the send log could not place in a campaign.
    pub complaints_without_campaign: u64,
    pub domains: Vec<DomainCount>,
    pub attributed: u64,
    pub unattributed: u64,
    pub unattributed_reasons: Vec<(String, u64)>,
    /// Sightings from before the window too (see `BLOCK_HISTORY_DAYS`).
    pub blocks: Vec<BlockEvent>,
    pub mailboxes: Vec<MailboxSuccess>,
}

/// Recipient domains of the big feedback loops, for messages per reporter. SNDS counts
/// Microsoft's messages itself; the others come from the send log.
#[rustfmt::skip]
pub const REPORTER_DOMAINS: &[(&str, &[&str])] = &[
    ("microsoft", &["outlook.com", "hotmail.com", "live.com", "msn.com", "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es", "live.co.uk", "live.fr", "live.de", "live.nl", "outlook.fr", "outlook.de", "outlook.es", "windowslive.com", "passport.com"]),
    ("yahoo", &["yahoo.com", "ymail.com", "rocketmail.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.es", "yahoo.it", "yahoo.ca", "yahoo.com.br", "yahoo.co.jp", "yahoo.co.in"]),
    ("aol", &["aol.com", "aim.com", "aol.co.uk", "aol.fr", "aol.de", "verizon.net"]),
    ("validity", &["comcast.net", "xfinity.com", "mail.com", "gmx.com", "gmx.net", "web.de", "fastmail.com"]),
    ("apple", &["icloud.com", "me.com", "mac.com"]),
];

// ---------------------------------------------------------------------------------------
// The report.

/// The days a report covers, both ends included, `YYYY-MM-DD` in UTC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub from_day: String,
    pub to_day: String,
    pub days: u32,
}

impl Window {
    /// The `days` days that end with `to_day`.
    pub fn ending(to_day: chrono::NaiveDate, days: u32) -> Window {
        let days = days.max(1);
        let from = to_day - chrono::Duration::days(days as i64 - 1);
        Window {
            from_day: from.format("%Y-%m-%d").to_string(),
            to_day: to_day.format("%Y-%m-%d").to_string(),
            days,
        }
    }

    /// When the window ends: midnight (UTC) after its last day, RFC 3339.
    pub fn end(&self) -> String {
        chrono::NaiveDate::parse_from_str(&self.to_day, "%Y-%m-%d")
            .ok()
            .and_then(|day| day.succ_opt())
            .map(|next| format!("{}T00:00:00Z", next.format("%Y-%m-%d")))
            .unwrap_or_else(|| format!("{}T23:59:59Z", self.to_day))
    }

    /// Every day of the window, in order.
    pub fn each_day(&self) -> Vec<String> {
        let Ok(mut day) = chrono::NaiveDate::parse_from_str(&self.from_day, "%Y-%m-%d") else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(self.days as usize);
        for _ in 0..self.days {
            out.push(day.format("%Y-%m-%d").to_string());
            day += chrono::Duration::days(1);
        }
        out
    }
}

/// Where a message count came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeSource {
    /// SNDS `message recipients`: Outlook.com recipients only.
    Snds,
    SendLog,
    None,
}

/// The reporter whose complaints an SNDS volume rates: SNDS counts Outlook.com's
/// recipients only.
pub const SNDS_REPORTER: &str = "microsoft";

/// One IP on one day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpDay {
    pub ip: String,
    pub day: String,
    /// Every complaint about the IP that day, from every reporter.
    pub complaints: u64,
    /// The complaints the rate is taken over: all of them when the send log gives the
    /// volume, Microsoft's alone when SNDS does (it counts Outlook.com recipients only),
    /// none when the volume is unknown.
    pub rated_complaints: u64,
    /// The send log's messages from the IP that day, else SNDS's recipients.
    pub messages: Option<u64>,
    pub volume_source: VolumeSource,
    pub rate_percent: Option<f64>,
    pub level: Level,
    /// SNDS's own view of the same IP and day, when it has one.
    pub snds: Option<SndsDay>,
}

/// One IP over the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpSummary {
    pub ip: String,
    pub complaints: u64,
    /// Messages on the days whose volume is known.
    pub messages: Option<u64>,
    /// The days' rated complaints added up: the rate is these over `messages`.
    pub rated_complaints: u64,
    pub rate_percent: Option<f64>,
    /// The IP's level: the worst of `rate_level`, `worst_day_level` and an Outlook.com block
    /// in the window (seen in bounces or send logs, or listed by SNDS ipStatus: critical,
    /// whatever the volume) or throttling (warn). The overview counts IPs by it.
    pub level: Level,
    /// The window's rate alone, judged against the thresholds.
    pub rate_level: Level,
    /// The judged day with the highest rate.
    pub worst_day: Option<String>,
    pub worst_day_rate_percent: Option<f64>,
    pub worst_day_level: Level,
    /// The latest SNDS filter result in the window.
    pub snds_filter_result: Option<String>,
    pub trap_hits: u64,
    /// Whether SNDS ipStatus lists the IP as blocked now.
    pub snds_blocked: bool,
    /// The latest Outlook.com code seen for the IP in the window.
    pub outlook_block: Option<String>,
    /// Whether the IP is one of `[report] sending_ips`; absent when none are configured.
    pub sending_ip: Option<bool>,
}

impl IpSummary {
    /// An IP the window has no complaint or volume of, listed for its block: an Outlook.com
    /// code seen in bounces or send logs, or SNDS ipStatus.
    fn without_figures(
        ip: &str,
        snds_blocked: bool,
        outlook_block: Option<String>,
        sending_ips: &IpRanges,
    ) -> IpSummary {
        IpSummary {
            ip: ip.to_owned(),
            complaints: 0,
            messages: None,
            rated_complaints: 0,
            rate_percent: None,
            level: Level::NotJudged,
            rate_level: Level::NotJudged,
            worst_day: None,
            worst_day_rate_percent: None,
            worst_day_level: Level::NotJudged,
            snds_filter_result: None,
            trap_hits: 0,
            snds_blocked,
            outlook_block,
            sending_ip: sending_ips
                .is_configured()
                .then(|| sending_ips.contains_text(ip)),
        }
    }
}

/// A figure with a rate: a reporter on a day, a campaign, a list, a recipient domain.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RateRow {
    pub subject: String,
    /// The day, for daily figures.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
    pub complaints: u64,
    /// The complaints the rate is taken over: those of the days (or the figure) whose
    /// volume is known.
    pub rated_complaints: u64,
    pub messages: Option<u64>,
    /// For a reporter's window row, `snds` when SNDS gave any of its days' volumes.
    pub volume_source: VolumeSource,
    pub rate_percent: Option<f64>,
    pub level: Level,
}

/// A reason given for complaints left without a complainant, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    pub reason: String,
    pub complaints: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unattributed {
    pub complaints: u64,
    pub top_reasons: Vec<ReasonCount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IpCount {
    pub ip: String,
    pub complaints: u64,
}

/// Complaints about IPs that are not the sender's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeignIps {
    /// False when `[report] sending_ips` is not set: nothing can be said.
    pub configured: bool,
    pub complaints: u64,
    pub ips: Vec<IpCount>,
}

/// One run of Outlook.com rejections of one class for one IP, with no gap longer than
/// `EPISODE_GAP_DAYS` between two of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BlockEpisode {
    pub ip: String,
    pub class: BlockClass,
    /// Every code seen, in order of first sighting.
    pub codes: Vec<String>,
    pub meaning: String,
    pub first_seen: String,
    pub last_seen: String,
    pub sightings: u64,
    pub last_text: String,
    /// Whether SNDS ipStatus lists the IP as blocked as well.
    pub snds_blocked: bool,
}

/// How far before a window block sightings are read, so that an episode that began before
/// the window keeps its start (and its alert is not raised again).
pub const BLOCK_HISTORY_DAYS: i64 = 90;

/// A gap longer than this many days between two sightings starts a new episode.
pub const EPISODE_GAP_DAYS: i64 = 3;

/// How far apart, in minutes, a bounce's and a send log's sightings of one rejection may be
/// (the DSN's Arrival-Date or Date against the log line's time: seconds to minutes). A retry
/// hours later is a rejection of its own.
pub const SAME_REJECTION_MINUTES: i64 = 10;

/// SNDS totals in the window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SndsSummary {
    /// False when no SNDS data is stored: the SNDS columns are then empty.
    pub available: bool,
    pub trap_hits: u64,
    pub ips_red: u64,
    pub ips_yellow: u64,
    pub ip_status: Vec<SndsStatus>,
}

/// Something a person should hear about once.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// `complaint_rate`, `outlook_block`, `outlook_throttle`.
    pub kind: String,
    pub level: Level,
    /// What it is about: `ip 192.0.2.10`, `campaign spring`, `reporter microsoft`.
    pub subject: String,
    /// Which occurrence: a day, or when a block began; empty for once-only subjects.
    pub event: String,
    pub message: String,
    /// A complaint-rate alert's figures, for a machine reading `--json` (the message says
    /// them for a person): the rated complaints, the messages, the rate and the threshold
    /// it reached, in percent.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub figures: Option<AlertFigures>,
}

/// The figures behind a complaint-rate alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertFigures {
    pub complaints: u64,
    pub messages: u64,
    pub rate_percent: f64,
    pub threshold_percent: f64,
}

impl Alert {
    /// The identity under which the store remembers it was raised.
    pub fn key(&self) -> (String, String, String) {
        (
            format!("{}_{}", self.kind, self.level.as_str()),
            self.subject.clone(),
            self.event.clone(),
        )
    }
}

/// Totals and the worst level in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Overview {
    pub complaints: u64,
    pub attributed: u64,
    pub unattributed: u64,
    pub complaints_without_source_ip: u64,
    pub ips: u64,
    pub ips_warn: u64,
    pub ips_critical: u64,
    /// IPs Outlook.com rejected in the window, or that SNDS ipStatus lists as blocked.
    pub ips_blocked: u64,
    pub ips_throttled: u64,
    /// The worst level of every judged figure and block in the window: an Outlook.com block
    /// (in bounces, send logs or SNDS ipStatus) is critical, throttling warn.
    pub worst_level: Level,
}

/// The whole report: the contract of `fbl report --format json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComplaintReport {
    pub generated_at: String,
    pub window: Window,
    pub thresholds: Thresholds,
    pub overview: Overview,
    pub ips: Vec<IpSummary>,
    pub ip_days: Vec<IpDay>,
    pub reporters: Vec<RateRow>,
    pub reporter_days: Vec<RateRow>,
    pub campaigns: Vec<RateRow>,
    pub lists: Vec<RateRow>,
    pub complaints_without_campaign: u64,
    pub recipient_domains: Vec<RateRow>,
    pub unattributed: Unattributed,
    pub foreign_ips: ForeignIps,
    pub snds: SndsSummary,
    pub blocks: Vec<BlockEpisode>,
    pub mailboxes: Vec<MailboxSuccess>,
    /// Alerts for the window's events (each is printed by `fbl run` only once).
    pub alerts: Vec<Alert>,
}

/// How many reasons for unattributed complaints a report names.
pub const TOP_REASONS: usize = 5;

/// Alerts concern only events this many days before the report's last day, or later, so
/// that a first run on an old store does not raise the whole history.
pub const ALERT_LOOKBACK_DAYS: i64 = 7;

/// Builds the report from the store's aggregates.
pub fn build_report(
    input: ReportInput,
    window: Window,
    thresholds: Thresholds,
    sending_ips: &IpRanges,
    generated_at: &str,
) -> ComplaintReport {
    let in_window = |day: &str| day >= window.from_day.as_str() && day <= window.to_day.as_str();

    // IPs, days and reporters are numbered as they come, then ranked in text order: the
    // lists per IP and day below are sorted by rank and hold no copy of a name, so that
    // each list of the input can go as soon as it is read.
    let mut ip_names = Names::default();
    let mut day_names = Names::default();
    let mut reporter_names = Names::default();

    // Complaints per IP and day (all, and Microsoft's, which an SNDS volume rates), per
    // reporter and day; IPs outside the sender's ranges.
    let mut ip_day_complaints: Vec<(u32, u32, u64)> = Vec::with_capacity(input.complaints.len());
    let mut ip_day_microsoft: Vec<(u32, u32, u64)> = Vec::new();
    let mut reporter_day_complaints: Vec<(u32, u32, u64)> =
        Vec::with_capacity(input.complaints.len());
    // Of those, about IPs outside `sending_ips`: counted, never rated.
    let mut reporter_day_foreign: Vec<(u32, u32, u64)> = Vec::new();
    let mut without_ip = 0;
    let mut total = 0;
    let mut foreign: BTreeMap<u32, u64> = BTreeMap::new();
    // A complaint the send log places is rated against the day its message was sent (that
    // day's messages are the ones it is about); any other against the day it was reported.
    // The IP and reporter figures hold the complaints rated against the window's days; the
    // overview's total, and the complaints without a source IP or about another sender's
    // IPs, those reported in it.
    for count in &input.complaints {
        let reported = in_window(&count.day);
        let rated_day = count.sent_day.as_deref().unwrap_or(&count.day);
        let rated = in_window(rated_day);
        if !reported && !rated {
            continue;
        }
        let ip = count.source_ip.as_deref().filter(|ip| !ip.is_empty());
        // A complaint about mail from an IP that is not ours (another sender's, or a forged
        // report) is not over our messages to the reporter: listed apart, not rated.
        let ours =
            ip.is_none_or(|ip| !sending_ips.is_configured() || sending_ips.contains_text(ip));
        if reported {
            total += count.complaints;
            match ip {
                Some(ip) if !ours => {
                    *foreign.entry(ip_names.id(ip)).or_default() += count.complaints;
                }
                Some(_) => {}
                None => without_ip += count.complaints,
            }
        }
        if !rated {
            continue;
        }
        let day = day_names.id(rated_day);
        let reporter = reporter_names.id(&count.reporter);
        reporter_day_complaints.push((reporter, day, count.complaints));
        if !ours {
            reporter_day_foreign.push((reporter, day, count.complaints));
        }
        if let Some(ip) = ip {
            let id = ip_names.id(ip);
            ip_day_complaints.push((id, day, count.complaints));
            if count.reporter == SNDS_REPORTER {
                ip_day_microsoft.push((id, day, count.complaints));
            }
        }
    }
    drop(input.complaints);

    // Volumes: the send log first, SNDS where the send log has nothing. Of two volumes for
    // the same IP and day in one list, the later one counts (as a map filled in order would
    // keep).
    let mut send_log: Vec<(u32, u32, u64)> = Vec::with_capacity(input.send_log_ip_days.len());
    for v in input.send_log_ip_days.iter().filter(|v| in_window(&v.day)) {
        send_log.push((ip_names.id(&v.key), day_names.id(&v.day), v.messages));
    }
    drop(input.send_log_ip_days);
    let mut snds_days: Vec<SndsDay> = input.snds_days;
    snds_days.retain(|s| in_window(&s.day));
    snds_days.sort_by(|a, b| (&a.ip, &a.day).cmp(&(&b.ip, &b.day)));
    keep_last(&mut snds_days, |a, b| (&a.ip, &a.day) == (&b.ip, &b.day));
    let mut snds_keys: Vec<(u32, u32)> = snds_days
        .iter()
        .map(|s| (ip_names.id(&s.ip), day_names.id(&s.day)))
        .collect();
    ip_names.order();
    day_names.order();
    reporter_names.order();

    // Each list in IP (or reporter) and day order, complaints added up (SNDS's is already,
    // by name, which ranks follow).
    let in_rank_order = |list: &mut Vec<(u32, u32, u64)>, first: &Names| {
        for entry in list.iter_mut() {
            *entry = (first.rank(entry.0), day_names.rank(entry.1), entry.2);
        }
        list.sort_by_key(|entry| (entry.0, entry.1));
    };
    let add_up = |list: &mut Vec<(u32, u32, u64)>| {
        list.dedup_by(|later, kept| {
            let same = (later.0, later.1) == (kept.0, kept.1);
            if same {
                kept.2 += later.2;
            }
            same
        })
    };
    in_rank_order(&mut ip_day_complaints, &ip_names);
    add_up(&mut ip_day_complaints);
    in_rank_order(&mut ip_day_microsoft, &ip_names);
    add_up(&mut ip_day_microsoft);
    in_rank_order(&mut reporter_day_complaints, &reporter_names);
    add_up(&mut reporter_day_complaints);
    in_rank_order(&mut reporter_day_foreign, &reporter_names);
    add_up(&mut reporter_day_foreign);
    in_rank_order(&mut send_log, &ip_names);
    keep_last(&mut send_log, |a, b| (a.0, a.1) == (b.0, b.1));
    for key in &mut snds_keys {
        *key = (ip_names.rank(key.0), day_names.rank(key.1));
    }

    // One row per IP and day found in any of the three lists, merged in their order
    // (Microsoft's complaints are a part of the first).
    let mut ip_days: Vec<IpDay> = Vec::with_capacity(
        ip_day_complaints
            .len()
            .max(snds_days.len())
            .max(send_log.len()),
    );
    let mut complaints_at = ip_day_complaints.iter().peekable();
    let mut microsoft_at = ip_day_microsoft.iter().peekable();
    let mut snds_at = snds_keys.into_iter().zip(snds_days).peekable();
    let mut sent_at = send_log.iter().peekable();
    loop {
        let next = [
            complaints_at.peek().map(|c| (c.0, c.1)),
            snds_at.peek().map(|(key, _)| *key),
            sent_at.peek().map(|v| (v.0, v.1)),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(key) = next else {
            break;
        };
        let complaints = complaints_at
            .next_if(|c| (c.0, c.1) == key)
            .map_or(0, |c| c.2);
        let microsoft = microsoft_at
            .next_if(|c| (c.0, c.1) == key)
            .map_or(0, |c| c.2);
        let snds_day = snds_at.next_if(|(at, _)| *at == key).map(|(_, s)| s);
        let sent = sent_at.next_if(|v| (v.0, v.1) == key).map(|v| v.2);
        // The send log counts every recipient: it rates every complaint. SNDS counts
        // Outlook.com's alone: it rates Microsoft's complaints alone, and only where the send
        // log has nothing (its row comes a day or two late; the level must not change then).
        let (messages, volume_source, rated_complaints) = ip_day_volume(
            complaints,
            microsoft,
            sent,
            snds_day.as_ref().map(|s| s.message_recipients),
        );
        let (rate_percent, level) =
            judge_rated(complaints, rated_complaints, messages, &thresholds);
        ip_days.push(IpDay {
            ip: ip_names.name(key.0).to_string(),
            day: day_names.name(key.1).to_string(),
            complaints,
            rated_complaints,
            messages,
            volume_source,
            rate_percent,
            level,
            snds: snds_day,
        });
    }
    drop(ip_day_complaints);
    drop(ip_day_microsoft);
    drop(send_log);
    // SNDS's rows in the window, in IP and day order.
    let snds = || ip_days.iter().filter_map(|d| d.snds.as_ref());

    // Blocks, grouped into episodes (the input may reach further back than the window, so
    // that an episode keeps the start it had); those that go on into the window are shown.
    let blocks: Vec<BlockEpisode> = episodes(&input.blocks, &input.snds_status)
        .into_iter()
        .filter(|b| {
            b.last_seen
                .get(..10)
                .is_some_and(|d| d >= window.from_day.as_str())
        })
        .collect();
    let recent_blocks: Vec<&BlockEpisode> = blocks.iter().collect();
    // Per IP, the episode that matters most: a block before throttling, then the latest.
    let mut latest_block: BTreeMap<&str, &BlockEpisode> = BTreeMap::new();
    for episode in &recent_blocks {
        let rank = |e: &BlockEpisode| (e.class == BlockClass::Block, e.last_seen.clone());
        let keep = latest_block
            .get(episode.ip.as_str())
            .is_none_or(|kept| rank(episode) > rank(kept));
        if keep {
            latest_block.insert(&episode.ip, episode);
        }
    }

    // Per IP over the window.
    let mut ips: Vec<IpSummary> = Vec::new();
    for (ip, days) in group_by_ip(&ip_days) {
        // Each day's rated complaints go with that day's messages, whichever the source.
        let complaints: u64 = days.iter().map(|d| d.complaints).sum();
        let known: Vec<&&IpDay> = days.iter().filter(|d| d.messages.is_some()).collect();
        let messages = (!known.is_empty()).then(|| known.iter().filter_map(|d| d.messages).sum());
        let rated_complaints: u64 = known.iter().map(|d| d.rated_complaints).sum();
        let (rate_percent, level) =
            judge_rated(complaints, rated_complaints, messages, &thresholds);
        let worst = days
            .iter()
            .filter(|d| d.level > Level::NotJudged)
            .max_by(|a, b| {
                (a.level, a.rate_percent.unwrap_or(0.0))
                    .partial_cmp(&(b.level, b.rate_percent.unwrap_or(0.0)))
                    .unwrap_or(std::cmp::Ordering::Equal)
            });
        let snds_filter_result = days
            .iter()
            .rev()
            .find_map(|d| d.snds.as_ref().map(|s| s.filter_result.clone()));
        let trap_hits = days
            .iter()
            .filter_map(|d| d.snds.as_ref().map(|s| s.trap_hits))
            .sum();
        ips.push(IpSummary {
            ip: ip.to_string(),
            complaints,
            messages,
            rated_complaints,
            rate_percent,
            level,
            rate_level: level,
            worst_day: worst.map(|d| d.day.clone()),
            worst_day_rate_percent: worst.and_then(|d| d.rate_percent),
            worst_day_level: worst.map(|d| d.level).unwrap_or(Level::NotJudged),
            snds_filter_result,
            trap_hits,
            snds_blocked: snds_blocked(&input.snds_status, ip),
            outlook_block: latest_block.get(ip).and_then(|b| b.codes.last().cloned()),
            sending_ip: sending_ips
                .is_configured()
                .then(|| sending_ips.contains_text(ip)),
        });
    }
    // IPs only seen in a block or in ipStatus still deserve a line.
    for episode in latest_block.values() {
        if !episode.ip.is_empty() && !ips.iter().any(|s| s.ip == episode.ip) {
            ips.push(IpSummary::without_figures(
                &episode.ip,
                episode.snds_blocked,
                episode.codes.last().cloned(),
                sending_ips,
            ));
        }
    }
    // An IP SNDS ipStatus lists as blocked at the window's end is blocked now, whether or not
    // the window holds a row of it: SNDS's figures come a day or two late, so a short window
    // often holds none.
    for ip in &input.snds_ips {
        if snds_blocked(&input.snds_status, ip) && !ips.iter().any(|s| s.ip == *ip) {
            ips.push(IpSummary::without_figures(ip, true, None, sending_ips));
        }
    }
    // A blocked range none of whose addresses fbl knows still counts: once, as one IP.
    let unknown_blocked_ranges = input
        .snds_status
        .iter()
        .filter(|range| range.blocked)
        .filter(|range| {
            !ips.iter()
                .any(|s| snds_blocked(std::slice::from_ref(*range), &s.ip))
        })
        .count() as u64;
    // An IP's level: its rates', and an Outlook.com block in the window is critical
    // whatever the volume (throttling warn), as the overview's worst level has it.
    for summary in &mut ips {
        let block_level = recent_blocks
            .iter()
            .filter(|e| e.ip == summary.ip)
            .map(|e| block_level(e.class))
            .chain(summary.snds_blocked.then_some(Level::Critical))
            .max()
            .unwrap_or(Level::NotJudged);
        // Complaints left unrated while none was rated: an ok day beside them (one with
        // messages and no complaint) says nothing of them, so the IP is not judged ok.
        let unrated_only = summary.complaints > 0 && summary.rated_complaints == 0;
        let worst_day_level = if unrated_only && summary.worst_day_level < Level::Warn {
            Level::NotJudged
        } else {
            summary.worst_day_level
        };
        summary.level = summary.rate_level.max(worst_day_level).max(block_level);
    }
    ips.sort_by(|a, b| {
        let key = |s: &IpSummary| {
            (
                std::cmp::Reverse(s.outlook_block.is_some() || s.snds_blocked),
                std::cmp::Reverse(s.level),
                std::cmp::Reverse(ordered(s.rate_percent)),
                std::cmp::Reverse(s.complaints),
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.ip.cmp(&b.ip))
    });

    // Per reporter and day: messages to the reporter's domains; for Microsoft, SNDS's total
    // of the day when SNDS has rows for it.
    let mut snds_total: BTreeMap<&str, u64> = BTreeMap::new();
    for s in snds() {
        *snds_total.entry(s.day.as_str()).or_default() += s.message_recipients;
    }
    let reporter_volume: BTreeMap<(&str, &str), u64> = input
        .send_log_reporter_days
        .iter()
        .filter(|v| in_window(&v.day))
        .map(|v| ((v.key.as_str(), v.day.as_str()), v.messages))
        .collect();
    let volume_of = |reporter: &str, day: &str| -> (Option<u64>, VolumeSource) {
        match (
            reporter == SNDS_REPORTER,
            snds_total.get(day),
            reporter_volume.get(&(reporter, day)),
        ) {
            (true, Some(total), _) if *total > 0 => (Some(*total), VolumeSource::Snds),
            (_, _, Some(m)) => (Some(*m), VolumeSource::SendLog),
            _ => (None, VolumeSource::None),
        }
    };
    let mut reporter_days: Vec<RateRow> = Vec::new();
    let mut foreign_at = reporter_day_foreign.iter().peekable();
    for &(reporter_id, day_id, complaints) in &reporter_day_complaints {
        let foreign = foreign_at
            .next_if(|f| (f.0, f.1) == (reporter_id, day_id))
            .map_or(0, |f| f.2);
        let (reporter, day) = (reporter_names.name(reporter_id), day_names.name(day_id));
        let (messages, volume_source) = volume_of(reporter, day);
        let mut row = rate_row(
            reporter.to_string(),
            Some(day.to_string()),
            complaints - foreign,
            messages,
            volume_source,
            &thresholds,
        );
        row.complaints = complaints;
        (row.rate_percent, row.level) =
            judge_rated(complaints, row.rated_complaints, messages, &thresholds);
        reporter_days.push(row);
    }
    // Per reporter over the window: the messages of every day with a known volume, those
    // without a complaint too, and the complaints of those days (`rated_complaints`).
    let mut reporter_complaints: BTreeMap<&str, u64> = BTreeMap::new();
    for row in &reporter_days {
        *reporter_complaints.entry(row.subject.as_str()).or_default() += row.complaints;
    }
    let window_days = window.each_day();
    let mut reporters: Vec<RateRow> = reporter_complaints
        .into_iter()
        .map(|(reporter, complaints)| {
            let (mut messages, mut source) = (None, VolumeSource::None);
            for day in &window_days {
                let (m, s) = volume_of(reporter, day);
                if let Some(m) = m {
                    messages = Some(messages.unwrap_or(0) + m);
                    if source != VolumeSource::Snds {
                        source = s;
                    }
                }
            }
            let rated: u64 = reporter_days
                .iter()
                .filter(|r| r.subject == reporter)
                .map(|r| r.rated_complaints)
                .sum();
            let (rate_percent, level) = judge_rated(complaints, rated, messages, &thresholds);
            RateRow {
                subject: reporter.to_string(),
                day: None,
                complaints,
                rated_complaints: rated,
                messages,
                volume_source: source,
                rate_percent,
                level,
            }
        })
        .collect();
    sort_rows(&mut reporters);

    // Campaigns and lists.
    // A campaign is sent once: shown when it drew a complaint in the window, rated over all
    // its complaints and messages. A list is mailed on and on: rated over the window, its
    // complaints rated against the window's days (`CampaignCount::rated`) and its messages
    // sent in it.
    // Per name: complaints in the window, then the complaints and messages rated.
    let mut campaigns: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    let mut lists: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for count in &input.campaigns {
        if let Some(campaign) = &count.campaign {
            let entry = campaigns.entry(campaign.clone()).or_default();
            entry.0 += count.complaints;
            entry.1 += count.complaints_all;
            entry.2 += count.messages_all;
        }
        if let Some(list) = &count.list {
            let entry = lists.entry(list.clone()).or_default();
            entry.0 += count.rated;
            entry.1 += count.rated;
            entry.2 += count.messages;
        }
    }
    let to_rows = |map: BTreeMap<String, (u64, u64, u64)>| -> Vec<RateRow> {
        let mut rows: Vec<RateRow> = map
            .into_iter()
            .filter(|(_, (in_window, _, _))| *in_window > 0)
            .map(|(subject, (_, complaints, messages))| {
                let source = if messages > 0 {
                    VolumeSource::SendLog
                } else {
                    VolumeSource::None
                };
                rate_row(
                    subject,
                    None,
                    complaints,
                    Some(messages).filter(|m| *m > 0),
                    source,
                    &thresholds,
                )
            })
            .collect();
        sort_rows(&mut rows);
        rows
    };
    let campaigns = to_rows(campaigns);
    let lists = to_rows(lists);

    let mut recipient_domains: Vec<RateRow> = input
        .domains
        .iter()
        .filter(|d| d.complaints > 0)
        .map(|d| {
            let source = if d.messages > 0 {
                VolumeSource::SendLog
            } else {
                VolumeSource::None
            };
            rate_row(
                d.domain.clone(),
                None,
                d.complaints,
                Some(d.messages).filter(|m| *m > 0),
                source,
                &thresholds,
            )
        })
        .collect();
    sort_rows(&mut recipient_domains);

    let mut reasons = input.unattributed_reasons.clone();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let unattributed = Unattributed {
        complaints: input.unattributed,
        top_reasons: reasons
            .into_iter()
            .take(TOP_REASONS)
            .map(|(reason, complaints)| ReasonCount { reason, complaints })
            .collect(),
    };

    let mut foreign: Vec<IpCount> = foreign
        .into_iter()
        .map(|(id, complaints)| IpCount {
            ip: ip_names.name(ip_names.rank(id)).to_string(),
            complaints,
        })
        .collect();
    foreign.sort_by(|a, b| {
        b.complaints
            .cmp(&a.complaints)
            .then_with(|| a.ip.cmp(&b.ip))
    });
    let foreign_ips = ForeignIps {
        configured: sending_ips.is_configured(),
        complaints: foreign.iter().map(|f| f.complaints).sum(),
        ips: foreign,
    };

    let latest_colour: BTreeMap<&str, &str> = snds()
        .map(|s| (s.ip.as_str(), s.filter_result.as_str()))
        .collect();
    let snds_summary = SndsSummary {
        available: input.snds_available,
        trap_hits: snds().map(|s| s.trap_hits).sum(),
        ips_red: latest_colour.values().filter(|c| **c == "red").count() as u64,
        ips_yellow: latest_colour.values().filter(|c| **c == "yellow").count() as u64,
        ip_status: input.snds_status.clone(),
    };

    let judged_levels = ip_days
        .iter()
        .map(|d| d.level)
        .chain(reporter_days.iter().map(|r| r.level))
        .chain(campaigns.iter().map(|r| r.level))
        .chain(lists.iter().map(|r| r.level))
        .chain(recipient_domains.iter().map(|r| r.level))
        .chain(reporters.iter().map(|r| r.level))
        .chain(recent_blocks.iter().map(|b| block_level(b.class)))
        // Each IP's level holds its window's rate and its blocks, SNDS ipStatus's among
        // them (SNDS's colour is not: shown only), so the worst is never below an IP's.
        .chain(ips.iter().map(|s| s.level))
        .chain((unknown_blocked_ranges > 0).then_some(Level::Critical));
    // Blocked: rejected in the window (bounces, send logs), or listed blocked by SNDS.
    let ips_blocked = recent_blocks
        .iter()
        .filter(|e| e.class == BlockClass::Block && !e.ip.is_empty())
        .map(|e| e.ip.as_str())
        .chain(ips.iter().filter(|s| s.snds_blocked).map(|s| s.ip.as_str()))
        .collect::<BTreeSet<_>>()
        .len() as u64
        + unknown_blocked_ranges;
    let overview = Overview {
        complaints: total,
        attributed: input.attributed,
        unattributed: input.unattributed,
        complaints_without_source_ip: without_ip,
        ips: ips.len() as u64,
        ips_warn: ips.iter().filter(|s| s.level == Level::Warn).count() as u64,
        ips_critical: ips.iter().filter(|s| s.level == Level::Critical).count() as u64,
        ips_blocked,
        ips_throttled: distinct_ips(&recent_blocks, BlockClass::Throttle),
        worst_level: judged_levels.max().unwrap_or(Level::NotJudged),
    };

    let mut report = ComplaintReport {
        generated_at: generated_at.to_string(),
        window,
        thresholds,
        overview,
        ips,
        ip_days,
        reporters,
        reporter_days,
        campaigns,
        lists,
        complaints_without_campaign: input.complaints_without_campaign,
        recipient_domains,
        unattributed,
        foreign_ips,
        snds: snds_summary,
        blocks,
        mailboxes: input.mailboxes,
        alerts: Vec::new(),
    };
    report.alerts = alerts(&report);
    report
}

/// Names (IPs, days, reporters) numbered as they come, then ranked in text order.
#[derive(Default)]
struct Names {
    ids: std::collections::HashMap<String, u32>,
    /// The last name numbered and its number: the lists come in runs of one day or IP.
    last: Option<(String, u32)>,
    /// Each id's rank, once `order` has run.
    ranks: Vec<u32>,
    /// The names in text order, once `order` has run.
    sorted: Vec<String>,
}

impl Names {
    /// The number of a name, new or already given.
    fn id(&mut self, name: &str) -> u32 {
        if let Some((last, id)) = &self.last
            && last == name
        {
            return *id;
        }
        let id = match self.ids.get(name) {
            Some(&id) => id,
            None => {
                let id = self.ids.len() as u32;
                self.ids.insert(name.to_string(), id);
                id
            }
        };
        match &mut self.last {
            Some((last, last_id)) => {
                last.clear();
                last.push_str(name);
                *last_id = id;
            }
            None => self.last = Some((name.to_string(), id)),
        }
        id
    }

    /// Ranks the names given so far.
    fn order(&mut self) {
        let mut by_name: Vec<(&String, u32)> = self.ids.iter().map(|(n, &id)| (n, id)).collect();
        by_name.sort_unstable();
        self.ranks = vec![0; by_name.len()];
        for (rank, (_, id)) in by_name.iter().enumerate() {
            self.ranks[*id as usize] = rank as u32;
        }
        self.sorted = by_name.into_iter().map(|(name, _)| name.clone()).collect();
    }

    /// The rank of a numbered name.
    fn rank(&self, id: u32) -> u32 {
        self.ranks[id as usize]
    }

    /// The name of a rank.
    fn name(&self, rank: u32) -> &str {
        &self.sorted[rank as usize]
    }
}

/// Removes each run of neighbours that `same` says are equal but its last one (as a map
/// filled in order keeps the last value given for a key).
fn keep_last<T>(items: &mut Vec<T>, same: impl Fn(&T, &T) -> bool) {
    items.dedup_by(|later, kept| {
        let equal = same(later, kept);
        if equal {
            std::mem::swap(later, kept);
        }
        equal
    });
}

/// The level an Outlook.com episode gives its IP: a block critical, throttling warn.
fn block_level(class: BlockClass) -> Level {
    match class {
        BlockClass::Block => Level::Critical,
        BlockClass::Throttle => Level::Warn,
    }
}

fn distinct_ips(episodes: &[&BlockEpisode], class: BlockClass) -> u64 {
    episodes
        .iter()
        .filter(|e| e.class == class && !e.ip.is_empty())
        .map(|e| e.ip.as_str())
        .collect::<BTreeSet<_>>()
        .len() as u64
}

fn ordered(rate: Option<f64>) -> u64 {
    // Rates are non-negative: their bits sort as the numbers do.
    rate.map(|r| r.max(0.0).to_bits()).unwrap_or(0)
}

/// An IP's day: the messages, where they come from and the complaints they rate, from the
/// day's complaints (all, and Microsoft's), the send log's messages and SNDS's recipients.
/// The send log counts every recipient: it rates every complaint. SNDS counts Outlook.com's
/// alone: it rates Microsoft's complaints alone, and only where the send log has nothing.
/// Also the delisting packet's rule.
pub fn ip_day_volume(
    complaints: u64,
    microsoft: u64,
    send_log: Option<u64>,
    snds_recipients: Option<u64>,
) -> (Option<u64>, VolumeSource, u64) {
    match (send_log, snds_recipients) {
        (Some(m), _) if m > 0 => (Some(m), VolumeSource::SendLog, complaints),
        (_, Some(m)) if m > 0 => (Some(m), VolumeSource::Snds, microsoft),
        _ => (None, VolumeSource::None, 0),
    }
}

fn rate_row(
    subject: String,
    day: Option<String>,
    complaints: u64,
    messages: Option<u64>,
    volume_source: VolumeSource,
    thresholds: &Thresholds,
) -> RateRow {
    let (rate_percent, level) = judge(complaints, messages, thresholds);
    RateRow {
        subject,
        day,
        complaints,
        rated_complaints: if messages.is_some() { complaints } else { 0 },
        messages,
        volume_source,
        rate_percent,
        level,
    }
}

/// Worst first, then by rate, complaints and name.
fn sort_rows(rows: &mut [RateRow]) {
    rows.sort_by(|a, b| {
        let key = |r: &RateRow| {
            (
                std::cmp::Reverse(r.level),
                std::cmp::Reverse(ordered(r.rate_percent)),
                std::cmp::Reverse(r.complaints),
            )
        };
        key(a).cmp(&key(b)).then_with(|| a.subject.cmp(&b.subject))
    });
}

fn group_by_ip(days: &[IpDay]) -> Vec<(&str, Vec<&IpDay>)> {
    let mut out: Vec<(&str, Vec<&IpDay>)> = Vec::new();
    for day in days {
        match out.last_mut() {
            Some((ip, list)) if *ip == day.ip => list.push(day),
            _ => out.push((&day.ip, vec![day])),
        }
    }
    out
}

/// Whether an SNDS ipStatus range that says blocked contains the IP.
pub fn snds_blocked(status: &[SndsStatus], ip: &str) -> bool {
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    status.iter().any(|s| {
        s.blocked
            && match (
                s.first_ip.parse::<std::net::IpAddr>(),
                s.last_ip.parse::<std::net::IpAddr>(),
            ) {
                (Ok(first), Ok(last)) => first <= ip && ip <= last,
                _ => false,
            }
    })
}

/// One sighting per rejection: the sender's Postfix logs a rejection (source `send_log`) and
/// sends back a DSN of it (source `bounce`), two sightings of one event. A bounce and a
/// send-log sighting of the same IP, code and recipient (ASCII case aside) at most
/// `SAME_REJECTION_MINUTES` apart are paired, one with one, and the pair counts once: the
/// earlier sighting stays (the bounce when they are as early), whichever the store got first.
/// Sightings of one source are never paired (two messages refused alike are two events), nor
/// those without a recipient or a readable time. The order of those kept is kept.
pub fn one_per_rejection(events: Vec<BlockEvent>) -> Vec<BlockEvent> {
    type At = chrono::DateTime<chrono::FixedOffset>;
    let at = |event: &BlockEvent| chrono::DateTime::parse_from_rfc3339(&event.seen_at).ok();
    let mut candidates: Vec<(usize, String, At)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, event)| {
            let recipient = event.recipient.as_deref().filter(|r| !r.is_empty())?;
            Some((i, recipient.to_ascii_lowercase(), at(event)?))
        })
        .collect();
    candidates.sort_by(|(a, ra, ta), (b, rb, tb)| {
        let (a, b) = (&events[*a], &events[*b]);
        (a.ip.as_str(), a.code.as_str(), ra, ta, a.source.as_str()).cmp(&(
            b.ip.as_str(),
            b.code.as_str(),
            rb,
            tb,
            b.source.as_str(),
        ))
    });
    let window = chrono::Duration::minutes(SAME_REJECTION_MINUTES);
    let mut dropped = vec![false; events.len()];
    // The kept sightings of the current IP, code and recipient not paired yet, oldest first.
    let mut unpaired: std::collections::VecDeque<(usize, At)> = Default::default();
    let mut previous: Option<(usize, &str)> = None;
    for (i, recipient, t) in &candidates {
        let event = &events[*i];
        let same_group = previous.is_some_and(|(p, r)| {
            let p = &events[p];
            (p.ip.as_str(), p.code.as_str(), r)
                == (event.ip.as_str(), event.code.as_str(), recipient)
        });
        if !same_group {
            unpaired.clear();
        }
        previous = Some((*i, recipient));
        while unpaired.front().is_some_and(|(_, u)| *t - *u > window) {
            unpaired.pop_front();
        }
        let pair = unpaired
            .iter()
            .position(|(u, _)| events[*u].source != event.source);
        match pair {
            Some(k) => {
                unpaired.remove(k);
                dropped[*i] = true;
            }
            None => unpaired.push_back((*i, *t)),
        }
    }
    events
        .into_iter()
        .zip(dropped)
        .filter_map(|(event, dropped)| (!dropped).then_some(event))
        .collect()
}

/// Groups sightings per IP and class into episodes: a gap longer than `EPISODE_GAP_DAYS`
/// starts a new one. Sorted by IP, then start.
pub fn episodes(events: &[BlockEvent], status: &[SndsStatus]) -> Vec<BlockEpisode> {
    let mut sorted: Vec<&BlockEvent> = events.iter().collect();
    sorted.sort_by(|a, b| {
        (a.ip.as_str(), a.class, a.seen_at.as_str()).cmp(&(
            b.ip.as_str(),
            b.class,
            b.seen_at.as_str(),
        ))
    });
    let mut out: Vec<BlockEpisode> = Vec::new();
    for event in sorted {
        let continues = out.last().is_some_and(|e| {
            e.ip == event.ip
                && e.class == event.class
                && gap_days(&e.last_seen, &event.seen_at) <= EPISODE_GAP_DAYS
        });
        if continues {
            let episode = out.last_mut().expect("checked above");
            episode.last_seen = event.seen_at.clone();
            episode.sightings += 1;
            episode.last_text = event.text.clone();
            if !episode.codes.contains(&event.code) {
                episode.codes.push(event.code.clone());
            }
        } else {
            out.push(BlockEpisode {
                ip: event.ip.clone(),
                class: event.class,
                codes: vec![event.code.clone()],
                meaning: crate::outlook_codes::describe(&event.code)
                    .map(|c| c.meaning.to_string())
                    .unwrap_or_default(),
                first_seen: event.seen_at.clone(),
                last_seen: event.seen_at.clone(),
                sightings: 1,
                last_text: event.text.clone(),
                snds_blocked: snds_blocked(status, &event.ip),
            });
        }
    }
    out
}

fn gap_days(earlier: &str, later: &str) -> i64 {
    let parse = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok();
    match (parse(earlier), parse(later)) {
        (Some(a), Some(b)) => (b - a).num_days(),
        _ => 0,
    }
}

/// The alerts of a report: judged figures at warn or critical and Outlook.com blocks, for
/// events of the last `ALERT_LOOKBACK_DAYS` days of the window. Each has a stable key, so
/// the caller can raise it once.
pub fn alerts(report: &ComplaintReport) -> Vec<Alert> {
    let recent_from = alert_days_from(&report.window);
    let recent = |day: &str| day >= recent_from.as_str();
    let t = &report.thresholds;
    let limit = |level: Level| match level {
        Level::Critical => t.critical_percent,
        _ => t.warn_percent,
    };
    let mut out = Vec::new();
    for day in &report.ip_days {
        if day.level >= Level::Warn && recent(&day.day) {
            out.push(Alert {
                kind: "complaint_rate".to_string(),
                level: day.level,
                subject: format!("ip {}", day.ip),
                event: day.day.clone(),
                message: format!(
                    "ip {} complaint rate {} on {} ({} in {}, {}): {} (at or above {}%)",
                    day.ip,
                    percent(day.rate_percent),
                    day.day,
                    rated_text(day),
                    counted(day.messages.unwrap_or(0), "message", "messages"),
                    source_name(day.volume_source),
                    day.level.as_str(),
                    limit(day.level),
                ),
                figures: figures(
                    day.rated_complaints,
                    day.messages,
                    day.rate_percent,
                    limit(day.level),
                ),
            });
        }
    }
    for row in &report.reporter_days {
        let day = row.day.as_deref().unwrap_or("");
        if row.level >= Level::Warn && recent(day) {
            out.push(Alert {
                kind: "complaint_rate".to_string(),
                level: row.level,
                subject: format!("reporter {}", row.subject),
                event: day.to_string(),
                message: format!(
                    "reporter {} complaint rate {} on {} ({} in {}): {} (at or above {}%)",
                    row.subject,
                    percent(row.rate_percent),
                    day,
                    counted(row.complaints, "complaint", "complaints"),
                    counted(row.messages.unwrap_or(0), "message", "messages"),
                    row.level.as_str(),
                    limit(row.level),
                ),
                figures: figures(
                    row.complaints,
                    row.messages,
                    row.rate_percent,
                    limit(row.level),
                ),
            });
        }
    }
    // A campaign is sent once: alerted once. A list is mailed on and on: alerted again each
    // ISO week its rate stays high (once ever would leave a standing list silent for good).
    let week = chrono::NaiveDate::parse_from_str(&report.window.to_day, "%Y-%m-%d")
        .map(|day| {
            use chrono::Datelike;
            let week = day.iso_week();
            format!("{}-W{:02}", week.year(), week.week())
        })
        .unwrap_or_default();
    for (what, rows) in [("campaign", &report.campaigns), ("list", &report.lists)] {
        for row in rows.iter().filter(|r| r.level >= Level::Warn) {
            out.push(Alert {
                kind: "complaint_rate".to_string(),
                level: row.level,
                subject: format!("{what} {}", row.subject),
                event: if what == "list" {
                    week.clone()
                } else {
                    String::new()
                },
                message: format!(
                    "{what} {} complaint rate {} ({} in {}): {} (at or above {}%)",
                    row.subject,
                    percent(row.rate_percent),
                    counted(row.complaints, "complaint", "complaints"),
                    counted(row.messages.unwrap_or(0), "message", "messages"),
                    row.level.as_str(),
                    limit(row.level),
                ),
                figures: figures(
                    row.complaints,
                    row.messages,
                    row.rate_percent,
                    limit(row.level),
                ),
            });
        }
    }
    for episode in &report.blocks {
        if !recent(episode.last_seen.get(..10).unwrap_or("")) {
            continue;
        }
        let ip = if episode.ip.is_empty() {
            "an unknown ip"
        } else {
            &episode.ip
        };
        let (kind, level, verb) = match episode.class {
            BlockClass::Block => ("outlook_block", Level::Critical, "blocked"),
            BlockClass::Throttle => ("outlook_throttle", Level::Warn, "throttled"),
        };
        out.push(Alert {
            kind: kind.to_string(),
            level,
            subject: format!("ip {ip}"),
            event: episode.first_seen.clone(),
            message: format!(
                "Outlook.com {verb} {ip} since {} ({}: {}); last: {}",
                episode.first_seen,
                episode.codes.join(", "),
                episode.meaning,
                episode.last_text
            ),
            figures: None,
        });
    }
    out
}

/// A complaint-rate alert's figures; None without a rate (never for a judged figure).
fn figures(
    complaints: u64,
    messages: Option<u64>,
    rate_percent: Option<f64>,
    threshold_percent: f64,
) -> Option<AlertFigures> {
    Some(AlertFigures {
        complaints,
        messages: messages?,
        rate_percent: rate_percent?,
        threshold_percent,
    })
}

/// The first day whose events a report alerts: `ALERT_LOOKBACK_DAYS` before its last day
/// (or the window's first day, when that is later).
pub fn alert_days_from(window: &Window) -> String {
    let from = chrono::NaiveDate::parse_from_str(&window.to_day, "%Y-%m-%d")
        .map(|d| {
            (d - chrono::Duration::days(ALERT_LOOKBACK_DAYS))
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default();
    from.max(window.from_day.clone())
}

/// The alerts, critical first, then blocks before rates, then by subject and event.
pub fn worst_alerts_first(alerts: &[Alert]) -> Vec<&Alert> {
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by(|a, b| {
        let key = |x: &Alert| {
            (
                std::cmp::Reverse(x.level),
                x.kind == "complaint_rate",
                x.subject.clone(),
                x.event.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    sorted
}

/// `0.123%`, or `-` when there is no rate. Cut to three decimals, never rounded up, so that
/// a rate just under a threshold never shows at it (1 in 1,001 is `0.099%`, not `0.100%`
/// beside `ok`). JSON and CSV keep the exact value.
pub fn percent(rate: Option<f64>) -> String {
    match rate {
        Some(rate) => {
            let thousandths = rate * 1000.0;
            // A rate that is a whole number of thousandths may come out of the division a
            // hair under it (0.3 as 0.29999999999999998): that one is not cut down.
            let nearest = thousandths.round();
            let tolerance = 1e-12 * thousandths.abs().max(1.0);
            let cut = if (thousandths - nearest).abs() <= tolerance {
                nearest
            } else {
                thousandths.floor()
            };
            format!("{:.3}%", cut / 1000.0)
        }
        None => "-".to_string(),
    }
}

/// Whether a rate is over 100%: more complaints than messages, which no real rate is. The
/// send log lacks messages the complaints are about (it is incomplete for the IP and day, or
/// the figure); every format flags it, and it is never judged.
pub fn more_complaints_than_messages(rate: Option<f64>) -> bool {
    rate.is_some_and(|r| r > 100.0)
}

/// A count and its noun, singular for one: `1 complaint`, `2 complaints`.
pub fn counted(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// What a flagged rate (`more_complaints_than_messages`) means, for a note beside it.
pub const MORE_COMPLAINTS_THAN_MESSAGES: &str = "more complaints than messages sent: the send log lacks messages these complaints are about (it is incomplete for this IP and day, or this figure); not a real rate, never judged";

/// Which of an IP's complaints of a day its rate is over: `3 complaints`, or with an SNDS
/// volume `1 Microsoft complaint of 3`.
pub fn rated_text(day: &IpDay) -> String {
    match day.volume_source {
        VolumeSource::Snds => format!(
            "{} of {}",
            counted(
                day.rated_complaints,
                "Microsoft complaint",
                "Microsoft complaints"
            ),
            day.complaints
        ),
        _ if day.rated_complaints != day.complaints => format!(
            "{} of {}",
            counted(day.rated_complaints, "rated complaint", "rated complaints"),
            day.complaints
        ),
        _ => counted(day.complaints, "complaint", "complaints"),
    }
}

fn source_name(source: VolumeSource) -> &'static str {
    match source {
        VolumeSource::Snds => "volume from SNDS, Outlook.com recipients only",
        VolumeSource::SendLog => "volume from the send log",
        VolumeSource::None => "volume unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The report as the table renders it.
    fn table_of(report: &ComplaintReport) -> String {
        let mut table = Vec::new();
        crate::report_render::render(
            crate::report_render::ReportFormat::Table,
            report,
            &mut table,
        )
        .unwrap();
        String::from_utf8(table).unwrap()
    }

    fn day(n: u32) -> String {
        format!("2026-11-{n:02}")
    }

    fn complaints(ip: &str, d: u32, reporter: &str, n: u64) -> ComplaintCount {
        ComplaintCount {
            day: day(d),
            sent_day: None,
            source_ip: (!ip.is_empty()).then(|| ip.to_string()),
            reporter: reporter.to_string(),
            complaints: n,
        }
    }

    fn volume(key: &str, d: u32, messages: u64) -> Volume {
        Volume {
            key: key.to_string(),
            day: day(d),
            messages,
        }
    }

    fn window() -> Window {
        Window::ending(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), 30)
    }

    fn snds(ip: &str, d: u32, recipients: u64, colour: &str) -> SndsDay {
        SndsDay {
            ip: ip.into(),
            day: day(d),
            message_recipients: recipients,
            filter_result: colour.into(),
            complaint_rate: String::new(),
            complaint_percent: None,
            trap_hits: 1,
        }
    }

    /// The lists are merged by IP and day whatever order they come in; a volume given
    /// twice for an IP and day counts as given last, as the maps of before kept it.
    #[test]
    fn the_order_of_the_input_lists_does_not_matter_and_the_last_volume_counts() {
        let ips = ["192.0.2.9", "192.0.2.10", "198.51.100.1", ""];
        let mut complaint_list = Vec::new();
        let mut send_log = Vec::new();
        let mut snds_list = Vec::new();
        for (i, ip) in ips.iter().enumerate() {
            for d in 1..=20 {
                let n = (i as u64 + 1) * d as u64;
                for reporter in ["yahoo", "aol", "microsoft"] {
                    if !(n + reporter.len() as u64).is_multiple_of(3) {
                        complaint_list.push(complaints(ip, d, reporter, n % 7));
                    }
                }
                if d % 2 == 0 && !ip.is_empty() {
                    send_log.push(volume(ip, d, 1000 + n));
                }
                if d % 3 == 0 && !ip.is_empty() {
                    snds_list.push(snds(ip, d, 2000 + n, ["green", "red"][d as usize % 2]));
                }
            }
        }
        let build = |complaints: Vec<ComplaintCount>, send_log: Vec<Volume>, snds_days| {
            build_report(
                ReportInput {
                    complaints,
                    send_log_ip_days: send_log,
                    snds_days,
                    snds_available: true,
                    ..ReportInput::default()
                },
                window(),
                Thresholds::default(),
                &IpRanges::parse(&["192.0.2.0/24".to_string()]).unwrap(),
                "2026-11-20T08:00:00Z",
            )
        };
        let in_order = build(complaint_list.clone(), send_log.clone(), snds_list.clone());
        assert_eq!(in_order.ip_days.len(), 60);
        let mut shuffled = (complaint_list.clone(), send_log.clone(), snds_list.clone());
        shuffled.0.reverse();
        shuffled.1.rotate_left(7);
        shuffled.2.reverse();
        shuffled.2.rotate_left(3);
        assert_eq!(build(shuffled.0, shuffled.1, shuffled.2), in_order);

        // Given twice, the later volume of an IP and day counts.
        let mut twice = send_log.clone();
        twice.insert(0, volume("192.0.2.10", 4, 1));
        twice.push(volume("192.0.2.10", 2, 7));
        let mut snds_twice = snds_list.clone();
        snds_twice.push(snds("192.0.2.9", 3, 5, "yellow"));
        let report = build(complaint_list, twice, snds_twice);
        let ip_day = |ip: &str, d: u32| {
            report
                .ip_days
                .iter()
                .find(|x| x.ip == ip && x.day == day(d))
                .unwrap()
        };
        assert_eq!(ip_day("192.0.2.10", 2).messages, Some(7));
        assert_eq!(ip_day("192.0.2.10", 4).messages, Some(1008));
        let snds_day = ip_day("192.0.2.9", 3);
        assert_eq!(snds_day.messages, Some(5));
        assert_eq!(snds_day.snds.as_ref().unwrap().filter_result, "yellow");
    }

    #[test]
    fn judging_follows_the_thresholds_and_the_minimum_volume() {
        let t = Thresholds::default();
        let check = |c, m, expected: Level| assert_eq!(judge(c, m, &t).1, expected, "{c} in {m:?}");
        check(0, Some(10_000), Level::Ok);
        check(9, Some(10_000), Level::Ok);
        check(10, Some(10_000), Level::Warn);
        check(29, Some(10_000), Level::Warn);
        check(30, Some(10_000), Level::Critical);
        check(5, Some(999), Level::NotJudged);
        check(5, Some(0), Level::NotJudged);
        check(5, None, Level::NotJudged);
        assert_eq!(judge(1, Some(200), &t).0, Some(0.5));
    }

    #[test]
    fn an_ips_rate_is_over_the_complaints_of_the_days_with_volume() {
        let input = ReportInput {
            complaints: vec![
                complaints("192.0.2.10", 18, "microsoft", 4),
                complaints("192.0.2.10", 19, "microsoft", 5),
            ],
            send_log_ip_days: vec![volume("192.0.2.10", 18, 1000)],
            ..ReportInput::default()
        };
        let report = build_report(
            input,
            window(),
            Thresholds::default(),
            &IpRanges::default(),
            "2026-11-20T08:00:00Z",
        );
        let ip = &report.ips[0];
        assert_eq!(
            (ip.complaints, ip.rated_complaints, ip.messages),
            (9, 4, Some(1000))
        );
        assert_eq!(ip.rate_percent, Some(0.4));
        let table = table_of(&report);
        let row = table
            .lines()
            .find(|l| l.trim_start().starts_with("192.0.2.10"))
            .unwrap();
        assert!(
            row.contains("9 (4 rated)") && row.contains("0.400%"),
            "{row}"
        );
    }

    fn build(input: ReportInput) -> ComplaintReport {
        build_report(
            input,
            window(),
            Thresholds::default(),
            &IpRanges::default(),
            "2026-11-20T08:00:00Z",
        )
    }

    /// The audit's case: 20 complaints reported on the 11th and 12th about mail the send log
    /// places on the 10th, the only day with messages. Rated against the 10th, in every
    /// figure; and complaints left unrated while none were rated are never `ok` at 0%.
    #[test]
    fn a_placed_complaint_is_rated_against_its_send_day_and_unrated_ones_are_not_ok() {
        let sent_on_10 = |d: u32, n: u64| ComplaintCount {
            sent_day: Some(day(10)),
            ..complaints("192.0.2.50", d, "yahoo", n)
        };
        let report = build_report(
            ReportInput {
                complaints: vec![sent_on_10(11, 12), sent_on_10(12, 8)],
                send_log_ip_days: vec![volume("192.0.2.50", 10, 5000)],
                send_log_reporter_days: vec![volume("yahoo", 10, 5000)],
                ..ReportInput::default()
            },
            Window::ending(chrono::NaiveDate::from_ymd_opt(2026, 11, 13).unwrap(), 7),
            Thresholds::default(),
            &IpRanges::default(),
            "now",
        );
        let ip = &report.ips[0];
        assert_eq!((ip.complaints, ip.rated_complaints), (20, 20));
        assert_eq!(
            (ip.level, ip.worst_day.as_deref()),
            (Level::Critical, Some("2026-11-10"))
        );
        assert_eq!(report.ip_days.len(), 1);
        assert_eq!(report.reporters[0].level, Level::Critical);
        assert_eq!(report.reporter_days[0].day.as_deref(), Some("2026-11-10"));
        assert!(report.alerts.iter().any(|a| a.subject == "ip 192.0.2.50"));
        assert_eq!(report.overview.complaints, 20);

        // Reported in the window about mail sent before it: in the overview's total, not
        // in the window's IP figures (they belong to the day they are about).
        let short = build_report(
            ReportInput {
                complaints: vec![sent_on_10(11, 12), sent_on_10(12, 8)],
                send_log_ip_days: vec![volume("192.0.2.50", 10, 5000)],
                ..ReportInput::default()
            },
            Window::ending(chrono::NaiveDate::from_ymd_opt(2026, 11, 12).unwrap(), 2),
            Thresholds::default(),
            &IpRanges::default(),
            "now",
        );
        assert_eq!(short.overview.complaints, 20);
        assert!(short.ips.is_empty(), "{:?}", short.ips);

        // Not placed, on days without messages: not judged, never `ok` at 0%.
        let report = build(ReportInput {
            complaints: vec![
                complaints("192.0.2.50", 11, "yahoo", 12),
                complaints("192.0.2.50", 12, "microsoft", 8),
            ],
            send_log_ip_days: vec![volume("192.0.2.50", 10, 5000)],
            send_log_reporter_days: vec![volume("yahoo", 10, 5000)],
            ..ReportInput::default()
        });
        let ip = &report.ips[0];
        assert_eq!(ip.rated_complaints, 0);
        assert_eq!((ip.rate_percent, ip.level), (None, Level::NotJudged));
        for row in report.reporters.iter().chain(&report.reporter_days) {
            assert_eq!(
                (row.rate_percent, row.level),
                (None, Level::NotJudged),
                "{row:?}"
            );
        }
        let table = table_of(&report);
        assert!(!table.contains("0.000%  ok"), "{table}");
    }

    /// The send log counts every recipient: its volume rates every complaint about the IP
    /// that day, SNDS's row or not. SNDS counts Outlook.com's recipients alone: where the
    /// send log has nothing it rates Microsoft's complaints alone.
    #[test]
    fn the_send_log_rates_every_complaint_and_snds_only_microsofts() {
        let input = |with_snds_on_19th: bool| {
            let mut snds_days = vec![SndsDay {
                ip: "192.0.2.10".into(),
                day: day(18),
                message_recipients: 1000,
                filter_result: "yellow".into(),
                complaint_rate: "0.4%".into(),
                complaint_percent: Some(0.4),
                trap_hits: 2,
            }];
            if with_snds_on_19th {
                snds_days.push(snds("192.0.2.10", 19, 1000, "green"));
            }
            ReportInput {
                complaints: vec![
                    complaints("192.0.2.10", 18, "microsoft", 4),
                    complaints("192.0.2.10", 18, "yahoo", 2),
                    complaints("192.0.2.10", 19, "microsoft", 1),
                    complaints("192.0.2.10", 19, "yahoo", 2),
                    complaints("", 19, "yahoo", 5),
                ],
                // 2,000 messages on the 19th: 1,000 to yahoo.com, 1,000 to outlook.com.
                send_log_ip_days: vec![volume("192.0.2.10", 19, 2000)],
                snds_days,
                snds_available: true,
                ..ReportInput::default()
            }
        };
        let report = build(input(true));
        let got: Vec<_> = report
            .ip_days
            .iter()
            .map(|d| {
                (
                    d.day.as_str(),
                    d.complaints,
                    d.rated_complaints,
                    d.messages,
                    d.volume_source,
                    d.level,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                // No send log: SNDS's 1,000 Outlook.com recipients, over the 4 Microsoft
                // complaints (not the 6 of every reporter).
                (
                    "2026-11-18",
                    6,
                    4,
                    Some(1000),
                    VolumeSource::Snds,
                    Level::Critical
                ),
                // 3 in 2,000 = 0.15 %, not 3 in SNDS's 1,000 = 0.3 % critical.
                (
                    "2026-11-19",
                    3,
                    3,
                    Some(2000),
                    VolumeSource::SendLog,
                    Level::Warn
                ),
            ]
        );
        assert_eq!(report.ip_days[0].rate_percent, Some(0.4));
        assert_eq!(report.ip_days[1].rate_percent, Some(0.15));
        // SNDS's row for the 19th, a day or two late, changes nothing but its own column.
        let before = build(input(false));
        assert_eq!(
            (
                before.ip_days[1].messages,
                before.ip_days[1].rate_percent,
                before.ip_days[1].level
            ),
            (Some(2000), Some(0.15), Level::Warn)
        );
        assert!(before.ip_days[1].snds.is_none() && report.ip_days[1].snds.is_some());

        // The window sums each day's rated complaints with that day's messages.
        let ip = &report.ips[0];
        assert_eq!(
            (
                ip.complaints,
                ip.rated_complaints,
                ip.messages,
                ip.rate_level
            ),
            (9, 7, Some(3000), Level::Warn)
        );
        // Its worst day is critical: so is the IP.
        assert_eq!(ip.level, Level::Critical);
        assert_eq!(ip.worst_day.as_deref(), Some("2026-11-18"));
        assert_eq!(ip.snds_filter_result.as_deref(), Some("green"));
        assert_eq!(ip.trap_hits, 3);
        assert_eq!(ip.sending_ip, None);
        assert_eq!(report.overview.complaints, 14);
        assert_eq!(report.overview.complaints_without_source_ip, 5);
        assert_eq!(report.overview.worst_level, Level::Critical);
        // Microsoft's daily volume is SNDS's total for the day.
        let microsoft = report
            .reporter_days
            .iter()
            .find(|r| r.subject == "microsoft" && r.day.as_deref() == Some("2026-11-18"))
            .unwrap();
        assert_eq!(
            (microsoft.messages, microsoft.volume_source),
            (Some(1000), VolumeSource::Snds)
        );
        let alerts: Vec<_> = report
            .alerts
            .iter()
            .map(|a| (a.subject.as_str(), a.event.as_str(), a.level))
            .collect();
        assert!(
            alerts.contains(&("ip 192.0.2.10", "2026-11-18", Level::Critical)),
            "{alerts:?}"
        );
        assert!(
            alerts.contains(&("ip 192.0.2.10", "2026-11-19", Level::Warn)),
            "{alerts:?}"
        );
        // The alert says which complaints were rated.
        let snds_alert = report
            .alerts
            .iter()
            .find(|a| a.event == "2026-11-18")
            .unwrap();
        assert!(
            snds_alert
                .message
                .contains("(4 Microsoft complaints of 6 in 1000 messages, volume from SNDS"),
            "{}",
            snds_alert.message
        );
    }

    /// A reporter's window counts every day of it with a known volume, those without a
    /// complaint too, and its rate is over the complaints of those days only.
    #[test]
    fn a_reporters_window_rate_is_over_every_day_with_volume() {
        let report = build(ReportInput {
            complaints: vec![
                complaints("192.0.2.10", 17, "yahoo", 3),
                complaints("192.0.2.10", 19, "yahoo", 5),
                // No volume known on the 20th.
                complaints("192.0.2.10", 20, "yahoo", 2),
                complaints("192.0.2.10", 19, "microsoft", 1),
            ],
            send_log_reporter_days: vec![
                volume("yahoo", 17, 1500),
                // Sends to Yahoo and no complaint from it on the 18th.
                volume("yahoo", 18, 2000),
                volume("yahoo", 19, 1500),
                // Outside the window: not counted.
                Volume {
                    key: "yahoo".into(),
                    day: "2026-10-01".into(),
                    messages: 9000,
                },
                volume("microsoft", 19, 400),
            ],
            snds_days: vec![snds("192.0.2.10", 18, 600, "green")],
            snds_available: true,
            ..ReportInput::default()
        });
        let row = |name: &str| report.reporters.iter().find(|r| r.subject == name).unwrap();
        let yahoo = row("yahoo");
        assert_eq!(
            (yahoo.complaints, yahoo.rated_complaints, yahoo.messages),
            (10, 8, Some(5000)),
            "8 in 5,000 (not 10 in the 3,000 of the days with a complaint)"
        );
        assert_eq!(yahoo.rate_percent, Some(0.16));
        assert_eq!(yahoo.level, Level::Warn);
        assert_eq!(yahoo.volume_source, VolumeSource::SendLog);
        // Microsoft: SNDS's 600 on the 18th (no complaint that day) and the send log's 400
        // on the 19th, where SNDS has no row.
        let microsoft = row("microsoft");
        assert_eq!(
            (
                microsoft.complaints,
                microsoft.rated_complaints,
                microsoft.messages
            ),
            (1, 1, Some(1000))
        );
        assert_eq!(microsoft.volume_source, VolumeSource::Snds);
        // A day's row rates its complaints when its volume is known.
        let day_20 = report
            .reporter_days
            .iter()
            .find(|r| r.subject == "yahoo" && r.day.as_deref() == Some("2026-11-20"))
            .unwrap();
        assert_eq!((day_20.complaints, day_20.rated_complaints), (2, 0));
        let table = table_of(&report);
        let line = table
            .lines()
            .find(|l| l.trim_start().starts_with("yahoo"))
            .unwrap();
        assert!(
            line.contains("10 (8 rated)") && line.contains("5000") && line.contains("0.160%"),
            "{line}"
        );
    }

    /// A displayed percentage is cut, never rounded up across a threshold; JSON keeps the
    /// exact value.
    #[test]
    fn displayed_rates_are_cut_not_rounded_up() {
        let t = Thresholds::default();
        let (rate, level) = judge(1, Some(1001), &t);
        assert_eq!(level, Level::Ok);
        assert_eq!(percent(rate), "0.099%");
        assert!((rate.unwrap() - 0.0999000999).abs() < 1e-9);
        assert_eq!(percent(judge(1, Some(1000), &t).0), "0.100%");
        assert_eq!(percent(judge(3, Some(1000), &t).0), "0.300%");
        assert_eq!(percent(judge(7, Some(2000), &t).0), "0.350%");
        assert_eq!(percent(judge(2999, Some(1_000_000), &t).0), "0.299%");
        assert_eq!(percent(Some(300.0)), "300.000%");
        assert_eq!(percent(None), "-");
        // Whatever the figures, the display is the exact rate cut to thousandths.
        for messages in (1000..40_000).step_by(7) {
            for complaints in [0, 1, 2, 3, 9, 10, 29, 30, 31, 99, 100, 299, 300] {
                let shown = percent(judge(complaints, Some(messages), &t).0);
                let thousandths = complaints * 100_000 / messages;
                let expected = format!("{}.{:03}%", thousandths / 1000, thousandths % 1000);
                assert_eq!(shown, expected, "{complaints} in {messages}");
            }
        }
    }

    /// An IP SNDS ipStatus lists as blocked is blocked and critical, as one Outlook.com
    /// rejected in a bounce is; a RED day alone is shown, not judged.
    #[test]
    fn an_snds_block_is_a_block_and_a_red_day_is_information() {
        let input = |blocked: bool| ReportInput {
            complaints: vec![complaints("192.0.2.10", 19, "yahoo", 1)],
            send_log_ip_days: vec![volume("192.0.2.10", 19, 5000)],
            snds_days: vec![snds("192.0.2.10", 19, 3000, "red")],
            snds_available: true,
            snds_status: vec![SndsStatus {
                first_ip: "192.0.2.8".into(),
                last_ip: "192.0.2.15".into(),
                blocked,
                details: "Blocked due to user complaints or other evidence of spamming".into(),
                since: "2026-11-18T00:00:00Z".into(),
            }],
            ..ReportInput::default()
        };
        let report = build(input(true));
        assert!(report.ips[0].snds_blocked);
        // Blocked: the IP is critical, and counted so, whatever its rate.
        assert_eq!(report.ips[0].rate_level, Level::Ok);
        assert_eq!(report.ips[0].level, Level::Critical);
        assert_eq!(report.overview.ips_blocked, 1);
        assert_eq!(report.overview.ips_critical, 1);
        assert_eq!(report.overview.worst_level, Level::Critical);
        // Listed, not blocked: a RED day and an ok rate.
        let report = build(input(false));
        assert!(!report.ips[0].snds_blocked);
        assert_eq!(report.ips[0].level, Level::Ok);
        assert_eq!(report.overview.ips_critical, 0);
        assert_eq!(report.overview.ips_blocked, 0);
        assert_eq!(report.overview.worst_level, Level::Ok);
        assert_eq!(report.snds.ips_red, 1);
        // A bounce block and an SNDS block of the same IP count once.
        let mut both = input(true);
        both.blocks = vec![block(
            "192.0.2.10",
            "S3140",
            BlockClass::Block,
            "2026-11-19T10:00:00Z",
        )];
        assert_eq!(build(both).overview.ips_blocked, 1);
    }

    /// The demo's IPs: one SNDS ipStatus lists as blocked, with thousands of messages and
    /// no complaint (`ok` by its rate), one Outlook.com refused with S3140 over two messages
    /// (too few to judge), one throttled. Each showed `ok` or `not_judged` while the header
    /// said "0 critical" beside "worst: critical".
    #[test]
    fn a_blocked_ip_is_critical_whatever_its_volume_and_the_overview_counts_it() {
        let report = build(ReportInput {
            complaints: vec![complaints("192.0.2.25", 19, "yahoo", 3)],
            send_log_ip_days: vec![volume("192.0.2.25", 19, 2), volume("192.0.2.30", 19, 5)],
            snds_days: vec![snds("198.51.100.7", 19, 9000, "red")],
            snds_available: true,
            snds_status: vec![SndsStatus {
                first_ip: "198.51.100.0".into(),
                last_ip: "198.51.100.15".into(),
                blocked: true,
                details: "Blocked due to user complaints or other evidence of spamming".into(),
                since: "2026-11-19T00:00:00Z".into(),
            }],
            blocks: vec![
                block(
                    "192.0.2.25",
                    "S3140",
                    BlockClass::Block,
                    "2026-11-18T09:15:00Z",
                ),
                block(
                    "192.0.2.30",
                    "RP-001",
                    BlockClass::Throttle,
                    "2026-11-18T09:15:00Z",
                ),
            ],
            ..ReportInput::default()
        });
        let level_of = |ip: &str| {
            let summary = report.ips.iter().find(|s| s.ip == ip).unwrap();
            (summary.rate_level, summary.level)
        };
        assert_eq!(level_of("198.51.100.7"), (Level::Ok, Level::Critical));
        assert_eq!(level_of("192.0.2.25"), (Level::NotJudged, Level::Critical));
        assert_eq!(level_of("192.0.2.30"), (Level::NotJudged, Level::Warn));
        assert_eq!(report.overview.ips_critical, 2);
        assert_eq!(report.overview.ips_warn, 1);
        assert_eq!(report.overview.ips_blocked, 2);
        assert_eq!(report.overview.worst_level, Level::Critical);
        let table = table_of(&report);
        assert!(
            table.contains("IPs: 3 (2 critical, 1 warn)"),
            "the header counts blocked IPs as critical:\n{table}"
        );
    }

    /// A range ipStatus lists as blocked at the window's end counts whether or not the
    /// window holds a row of its IPs: an IP SNDS gave figures for before gets a line, a
    /// range fbl knows no address of counts once.
    #[test]
    fn an_snds_blocked_range_counts_without_a_row_in_the_window() {
        let range = |first: &str, last: &str| SndsStatus {
            first_ip: first.into(),
            last_ip: last.into(),
            blocked: true,
            details: "Blocked due to user complaints or other evidence of spamming".into(),
            since: "2026-11-19T00:00:00Z".into(),
        };
        let report = build(ReportInput {
            snds_status: vec![
                range("198.51.100.0", "198.51.100.15"),
                range("203.0.113.0", "203.0.113.3"),
            ],
            snds_ips: vec!["198.51.100.7".into(), "192.0.2.1".into()],
            ..ReportInput::default()
        });
        let ips: Vec<(&str, Level, bool)> = report
            .ips
            .iter()
            .map(|s| (s.ip.as_str(), s.level, s.snds_blocked))
            .collect();
        assert_eq!(ips, [("198.51.100.7", Level::Critical, true)]);
        assert_eq!(report.overview.ips_blocked, 2);
        assert_eq!(report.overview.worst_level, Level::Critical);
    }

    /// An IP whose window total is judged above a threshold while no day is (each day under
    /// `min_volume`) is counted, and the worst level is never below an IP's or a reporter's.
    #[test]
    fn the_worst_level_is_never_below_an_ips_or_a_reporters() {
        let report = build(ReportInput {
            complaints: (10..=14)
                .map(|d| complaints("192.0.2.10", d, "yahoo", 1))
                .collect(),
            send_log_ip_days: (10..=14).map(|d| volume("192.0.2.10", d, 400)).collect(),
            ..ReportInput::default()
        });
        let ip = &report.ips[0];
        assert_eq!(ip.worst_day_level, Level::NotJudged);
        assert_eq!(ip.rate_level, Level::Warn);
        assert_eq!(ip.level, Level::Warn);
        assert_eq!(report.overview.ips_warn, 1);
        assert_eq!(report.overview.worst_level, Level::Warn);
    }

    /// The demo showed 300% and 250% with no note: 9 complaints about a day the send log
    /// holds 2 messages of. More complaints than messages is never judged, and is flagged.
    #[test]
    fn more_complaints_than_messages_is_flagged_and_never_judged() {
        let thresholds = Thresholds::default();
        assert_eq!(
            judge(3000, Some(1500), &thresholds),
            (Some(200.0), Level::NotJudged)
        );
        assert_eq!(
            judge(1500, Some(1500), &thresholds),
            (Some(100.0), Level::Critical)
        );
        assert!(more_complaints_than_messages(Some(100.001)));
        assert!(!more_complaints_than_messages(Some(100.0)));
        assert!(!more_complaints_than_messages(None));
        let report = build(ReportInput {
            complaints: vec![complaints("192.0.2.25", 19, "yahoo", 9)],
            send_log_ip_days: vec![volume("192.0.2.25", 19, 2)],
            ..ReportInput::default()
        });
        let table = table_of(&report);
        assert!(table.contains("450.000% !"), "{table}");
        assert!(
            table.contains(&format!("(!: {MORE_COMPLAINTS_THAN_MESSAGES})")),
            "{table}"
        );
    }

    #[test]
    fn days_outside_the_window_and_old_alerts_are_left_out() {
        let input = ReportInput {
            complaints: vec![complaints("192.0.2.10", 1, "yahoo", 50), {
                let mut c = complaints("192.0.2.10", 1, "yahoo", 50);
                c.day = "2026-09-01".into();
                c
            }],
            send_log_ip_days: vec![volume("192.0.2.10", 1, 1000)],
            ..ReportInput::default()
        };
        let report = build_report(
            input,
            window(),
            Thresholds::default(),
            &IpRanges::default(),
            "now",
        );
        assert_eq!(report.overview.complaints, 50);
        assert_eq!(report.ip_days.len(), 1);
        assert_eq!(report.ip_days[0].level, Level::Critical);
        // 2026-11-01 is more than a week before the 20th: in the report, but no alert.
        assert!(report.alerts.is_empty(), "{:?}", report.alerts);
    }

    #[test]
    fn complaints_about_other_ips_are_counted_when_sending_ips_are_configured() {
        let input = ReportInput {
            complaints: vec![
                complaints("192.0.2.10", 19, "yahoo", 3),
                complaints("198.51.100.99", 19, "yahoo", 2),
            ],
            send_log_reporter_days: vec![volume("yahoo", 19, 1000)],
            ..ReportInput::default()
        };
        let ranges = IpRanges::parse(&["192.0.2.0/24".to_string()]).unwrap();
        let report = build_report(
            input.clone(),
            window(),
            Thresholds::default(),
            &ranges,
            "now",
        );
        assert_eq!(report.foreign_ips.complaints, 2);
        assert_eq!(report.foreign_ips.ips[0].ip, "198.51.100.99");
        // Not ours: counted, not rated over our messages to Yahoo.
        assert_eq!(
            (
                report.reporter_days[0].complaints,
                report.reporter_days[0].rated_complaints
            ),
            (5, 3)
        );
        assert_eq!(
            (
                report.reporters[0].complaints,
                report.reporters[0].rated_complaints
            ),
            (5, 3)
        );
        let none = build_report(
            input,
            window(),
            Thresholds::default(),
            &IpRanges::default(),
            "now",
        );
        assert!(!none.foreign_ips.configured);
        assert_eq!(none.foreign_ips.complaints, 0);
        assert_eq!(none.reporter_days[0].rated_complaints, 5);
    }

    fn block(ip: &str, code: &str, class: BlockClass, at: &str) -> BlockEvent {
        BlockEvent {
            ip: ip.into(),
            code: code.into(),
            class,
            text: format!("550 {code}"),
            recipient: None,
            seen_at: at.into(),
            source: "bounce".into(),
        }
    }

    #[test]
    fn sightings_group_into_episodes_and_a_recent_block_alerts_once_per_episode() {
        let events = [
            block(
                "203.0.113.5",
                "SC-001",
                BlockClass::Block,
                "2026-11-01T10:00:00Z",
            ),
            block(
                "203.0.113.5",
                "S3140",
                BlockClass::Block,
                "2026-11-02T10:00:00Z",
            ),
            block(
                "203.0.113.5",
                "SC-001",
                BlockClass::Block,
                "2026-11-18T10:00:00Z",
            ),
            block(
                "203.0.113.5",
                "SC-001",
                BlockClass::Block,
                "2026-11-19T10:00:00Z",
            ),
            block(
                "203.0.113.5",
                "RP-001",
                BlockClass::Throttle,
                "2026-11-19T11:00:00Z",
            ),
        ];
        let found = episodes(&events, &[]);
        let got: Vec<_> = found
            .iter()
            .map(|e| {
                (
                    e.class,
                    e.first_seen.as_str(),
                    e.sightings,
                    e.codes.join("+"),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    BlockClass::Block,
                    "2026-11-01T10:00:00Z",
                    2,
                    "SC-001+S3140".to_string()
                ),
                (
                    BlockClass::Block,
                    "2026-11-18T10:00:00Z",
                    2,
                    "SC-001".to_string()
                ),
                (
                    BlockClass::Throttle,
                    "2026-11-19T11:00:00Z",
                    1,
                    "RP-001".to_string()
                ),
            ]
        );
        let input = ReportInput {
            blocks: events.to_vec(),
            ..ReportInput::default()
        };
        let report = build_report(
            input,
            window(),
            Thresholds::default(),
            &IpRanges::default(),
            "now",
        );
        let keys: Vec<_> = report.alerts.iter().map(|a| a.key()).collect();
        assert_eq!(
            keys,
            [
                (
                    "outlook_block_critical".to_string(),
                    "ip 203.0.113.5".to_string(),
                    "2026-11-18T10:00:00Z".to_string()
                ),
                (
                    "outlook_throttle_warn".to_string(),
                    "ip 203.0.113.5".to_string(),
                    "2026-11-19T11:00:00Z".to_string()
                ),
            ]
        );
        assert_eq!(report.overview.ips_blocked, 1);
        assert_eq!(report.overview.worst_level, Level::Critical);
        assert_eq!(report.ips[0].outlook_block.as_deref(), Some("SC-001"));
    }

    #[test]
    fn snds_ip_status_ranges_mark_ips_blocked() {
        let status = [SndsStatus {
            first_ip: "192.0.2.254".into(),
            last_ip: "192.0.3.1".into(),
            blocked: true,
            details: "Blocked due to user complaints or other evidence of spamming".into(),
            since: "2026-11-18T00:00:00Z".into(),
        }];
        assert!(snds_blocked(&status, "192.0.3.0"));
        assert!(!snds_blocked(&status, "192.0.3.2"));
        assert!(!snds_blocked(&status, "nonsense"));
    }

    #[test]
    fn campaigns_and_lists_are_judged_and_unattributed_reasons_ranked() {
        let input = ReportInput {
            campaigns: vec![
                // Sent before and in the window, complained about before and in it.
                CampaignCount {
                    campaign: Some("spring".into()),
                    list: Some("weekly".into()),
                    complaints: 6,
                    messages: 1500,
                    complaints_all: 8,
                    messages_all: 2000,
                    rated: 6,
                },
                CampaignCount {
                    campaign: Some("summer".into()),
                    list: Some("weekly".into()),
                    complaints: 1,
                    messages: 5000,
                    complaints_all: 1,
                    messages_all: 5000,
                    rated: 1,
                },
            ],
            unattributed: 9,
            unattributed_reasons: vec![
                ("a".into(), 2),
                ("b".into(), 7),
                ("c".into(), 1),
                ("d".into(), 1),
                ("e".into(), 1),
                ("f".into(), 1),
            ],
            ..ReportInput::default()
        };
        let report = build_report(
            input,
            window(),
            Thresholds::default(),
            &IpRanges::default(),
            "now",
        );
        assert_eq!(report.campaigns[0].subject, "spring");
        // A campaign over all it drew and sent; a list over the window.
        assert_eq!(
            (report.campaigns[0].complaints, report.campaigns[0].messages),
            (8, Some(2000))
        );
        assert_eq!(report.campaigns[0].level, Level::Critical);
        assert_eq!(report.lists[0].complaints, 7);
        assert_eq!(report.lists[0].messages, Some(6500));
        assert_eq!(report.lists[0].level, Level::Warn);
        assert_eq!(report.unattributed.top_reasons.len(), TOP_REASONS);
        assert_eq!(report.unattributed.top_reasons[0].reason, "b");
        assert!(
            report
                .alerts
                .iter()
                .any(|a| a.subject == "campaign spring" && a.event.is_empty())
        );
        // A list is alerted again each week it stays high: the event is the window's week.
        let list = report
            .alerts
            .iter()
            .find(|a| a.subject.starts_with("list "))
            .expect("a list alert");
        assert_eq!(report.window.to_day, "2026-11-20");
        assert_eq!(list.event, "2026-W47");
    }

    /// One of everything: a one-day window, one complaint of one IP, reporter and campaign
    /// on a day of 500 messages, one left outside any campaign, one unattributed, one trap
    /// hit, one IP red, a minimum volume of one message. Every count reads in the singular.
    fn one_of_each() -> ComplaintReport {
        let input = ReportInput {
            complaints: vec![complaints("192.0.2.10", 20, "yahoo", 1)],
            send_log_ip_days: vec![volume("192.0.2.10", 20, 500)],
            send_log_reporter_days: vec![volume("yahoo", 20, 500)],
            snds_days: vec![SndsDay {
                message_recipients: 1,
                ..snds("192.0.2.10", 20, 1, "red")
            }],
            snds_available: true,
            campaigns: vec![CampaignCount {
                campaign: Some("spring".into()),
                list: None,
                complaints: 1,
                messages: 500,
                complaints_all: 1,
                messages_all: 500,
                rated: 0,
            }],
            complaints_without_campaign: 1,
            attributed: 0,
            unattributed: 1,
            ..ReportInput::default()
        };
        build_report(
            input,
            Window::ending(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), 1),
            Thresholds {
                min_volume: 1,
                ..Thresholds::default()
            },
            &IpRanges::default(),
            "2026-11-20T08:00:00Z",
        )
    }

    /// "1 complaints in 500 messages" read as a slip in every alert of one complaint.
    #[test]
    fn alerts_of_one_complaint_say_complaint() {
        let report = one_of_each();
        let messages: Vec<&str> = report.alerts.iter().map(|a| a.message.as_str()).collect();
        for subject in ["ip 192.0.2.10", "reporter yahoo", "campaign spring"] {
            assert!(
                messages
                    .iter()
                    .any(|m| m.starts_with(subject) && m.contains("(1 complaint in 500 messages")),
                "{subject}: {messages:#?}"
            );
        }
        assert!(
            !messages.iter().any(|m| m.contains("1 complaints")),
            "{messages:#?}"
        );
    }

    #[test]
    fn the_table_says_one_day_message_complaint_trap_hit_and_ip() {
        let table = table_of(&one_of_each());
        for expected in [
            "2026-11-20 to 2026-11-20 (1 day),",
            "judged over 1 message or more",
            "campaigns (through the send log; 1 complaint not placed)",
            "SNDS: 1 trap hit; 1 IP red, 0 yellow",
        ] {
            assert!(table.contains(expected), "{expected}:\n{table}");
        }
    }

    #[test]
    fn the_html_page_says_one_day_message_complaint_trap_hit_and_recipient() {
        let mut page = Vec::new();
        crate::report_render::render(
            crate::report_render::ReportFormat::Html,
            &one_of_each(),
            &mut page,
        )
        .unwrap();
        let page = String::from_utf8(page).unwrap();
        for expected in [
            "2026-11-20 to 2026-11-20 (1 day),",
            "judged only over 1 message or more",
            "1 complaint could not be placed in a campaign",
            "<p>1 complaint without a complainant address.</p>",
            "(1 complaint in 500 messages)</title>",
            "(1 complaint, 500 messages from the send log)",
            "1 trap hit, 1 recipient</title>",
            "<title>yahoo: 1 complaint (1 rated)",
        ] {
            assert!(page.contains(expected), "{expected}:\n{page}");
        }
    }

    #[test]
    fn a_bounce_and_a_log_line_of_one_rejection_count_once() {
        let seen = |source: &str, recipient: &str, at: &str| BlockEvent {
            recipient: Some(recipient.into()),
            source: source.into(),
            ..block("203.0.113.5", "S3140", BlockClass::Block, at)
        };
        let events = vec![
            seen("send_log", "zoe@outlook.example", "2026-11-18T09:15:01Z"),
            seen("bounce", "Zoe@outlook.example", "2026-11-18T09:15:00Z"),
            // Two messages refused alike in one log are two events.
            seen("send_log", "amy@outlook.example", "2026-11-18T09:15:01Z"),
            seen("send_log", "amy@outlook.example", "2026-11-18T09:16:01Z"),
            seen("bounce", "amy@outlook.example", "2026-11-18T09:16:30Z"),
            // Hours later, a rejection of its own.
            seen("bounce", "zoe@outlook.example", "2026-11-18T12:15:00Z"),
        ];
        let kept = one_per_rejection(events.clone());
        let at: Vec<(&str, &str)> = kept
            .iter()
            .map(|e| (e.source.as_str(), e.seen_at.as_str()))
            .collect();
        assert_eq!(
            at,
            [
                ("bounce", "2026-11-18T09:15:00Z"),
                ("send_log", "2026-11-18T09:15:01Z"),
                ("send_log", "2026-11-18T09:16:01Z"),
                ("bounce", "2026-11-18T12:15:00Z"),
            ]
        );
        let mut reversed = events;
        reversed.reverse();
        assert_eq!(one_per_rejection(reversed).len(), 4);
    }
}
