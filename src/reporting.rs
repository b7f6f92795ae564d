//! The IO side of complaint reports: finds Outlook.com blocks in stored bounces and in the
//! configured send logs, gathers a report's figures from the store, writes report files
//! atomically, and raises each alert once (the store remembers which were raised). Used by
//! `fbl report` and by every `fbl run`.

use crate::atomic_file;
use crate::config::{Config, ReportConfig};
use crate::ingest::{Kept, disk_full};
use crate::outlook_blocks::{BlockSighting, sightings_in_bounce, sightings_in_send_log};
use crate::rates::{
    Alert, BlockEvent, ComplaintReport, REPORTER_DOMAINS, ReportInput, Volume, Window, build_report,
};
use crate::report_render::{ReportFormat, render};
use crate::sendlog::{ReadOptions, SendLogFormat};
use crate::store::{NewBlockEvent, Store};
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bounces read from the store per transaction.
const SCAN_BATCH: usize = 500;

/// The `[report]` section, or its defaults.
pub fn settings(config: &Config) -> ReportConfig {
    config.report.clone().unwrap_or_default()
}

/// The UTC day of an RFC 3339 time.
pub fn day_of(now: &str) -> Result<chrono::NaiveDate> {
    Ok(chrono::DateTime::parse_from_rfc3339(now)
        .with_context(|| format!("{now:?} is not an RFC 3339 time"))?
        .with_timezone(&chrono::Utc)
        .date_naive())
}

/// Records the sightings; returns how many rejections are new: those the report counts now
/// and did not before. A sighting of a rejection already stored from the other source (the
/// send log's line of a refusal whose DSN was stored, or the DSN of one logged) is kept
/// but is no new rejection: the report counts the pair once (`rates::one_per_rejection`).
/// A sighting without an IP in its text takes the send log's source IP of the refused
/// message, when the send log knows it.
fn record(
    store: &mut Store,
    sightings: &[BlockSighting],
    source: &str,
    report_id: Option<i64>,
    fallback_at: &str,
    now: &str,
) -> Result<u64> {
    let ips: Vec<String> = sightings
        .iter()
        .map(|s| match (&s.ip, &s.message_id) {
            (Some(ip), _) => Ok(ip.clone()),
            (None, Some(id)) => Ok(store.send_log_source_ip(id)?.unwrap_or_default()),
            (None, None) => Ok(String::new()),
        })
        .collect::<Result<_>>()?;
    // The sightings already stored that a new one may pair with, per IP, code and
    // recipient (ASCII case aside), read before any is added: those linked to the new
    // sightings' times (`linked_sightings`).
    type Group = (String, String, String);
    let mut times: BTreeMap<Group, (&str, Vec<Instant>)> = BTreeMap::new();
    for (sighting, ip) in sightings.iter().zip(&ips) {
        let recipient = sighting.recipient.as_deref().unwrap_or("");
        if recipient.is_empty() {
            continue;
        }
        let key = (
            ip.clone(),
            sighting.recognised.code.clone(),
            recipient.to_ascii_lowercase(),
        );
        let seen_at = sighting.at.as_deref().unwrap_or(fallback_at);
        let entry = times.entry(key).or_insert((recipient, Vec::new()));
        entry.1.extend(instant(seen_at));
    }
    let mut groups: BTreeMap<Group, (Vec<BlockEvent>, Vec<BlockEvent>)> = BTreeMap::new();
    for (key, (recipient, new)) in times {
        let stored = linked_sightings(store, &key.0, &key.1, recipient, &new)?;
        groups.insert(key, (stored, Vec::new()));
    }
    let mut batch = store.begin()?;
    let mut added = 0;
    for (sighting, ip) in sightings.iter().zip(&ips) {
        let seen_at = sighting.at.as_deref().unwrap_or(fallback_at);
        let event = NewBlockEvent {
            ip,
            code: &sighting.recognised.code,
            class: sighting.recognised.class,
            reply: sighting.recognised.reply,
            status: sighting.recognised.status.as_deref(),
            text: &sighting.text,
            recipient: sighting.recipient.as_deref().unwrap_or(""),
            seen_at,
            source,
            report_id,
            found_at: now,
        };
        if !batch.add_block_event(&event)? {
            continue;
        }
        let recipient = event.recipient;
        match groups.get_mut(&(
            ip.clone(),
            event.code.to_string(),
            recipient.to_ascii_lowercase(),
        )) {
            Some((_, new)) => new.push(BlockEvent {
                ip: ip.clone(),
                code: event.code.to_string(),
                class: event.class,
                text: event.text.to_string(),
                recipient: Some(recipient.to_string()),
                seen_at: seen_at.to_string(),
                source: source.to_string(),
            }),
            // No recipient: never paired, always a rejection of its own.
            None => added += 1,
        }
    }
    batch.commit()?;
    for (stored, new) in groups.into_values().filter(|(_, new)| !new.is_empty()) {
        let before = crate::rates::one_per_rejection(stored.clone()).len();
        let after = crate::rates::one_per_rejection(stored.into_iter().chain(new).collect()).len();
        added += after.saturating_sub(before) as u64;
    }
    Ok(added)
}

type Instant = chrono::DateTime<chrono::FixedOffset>;

fn instant(seen_at: &str) -> Option<Instant> {
    chrono::DateTime::parse_from_rfc3339(seen_at).ok()
}

/// The stored sightings of one IP, code and recipient that new ones seen at `new` may pair
/// differently from how they pair now: those chained to the new times by sightings at most
/// `SAME_REJECTION_MINUTES` apart. `rates::one_per_rejection` pairs in time order and
/// forgets a sighting older than that: before a gap longer than it, and after one past the
/// new times, it pairs the same with or without them, so the sightings beyond those gaps
/// add as many rejections before as after and are not read. (A sighting whose time cannot
/// be read is never paired, so it changes nothing either.) Read in a span of the IP's
/// sightings around the new times, widened until the chain ends inside it: times are
/// compared as text in the store, so the span has a day's margin for a time written with
/// an offset (at most 14 hours) or other than fbl writes it.
fn linked_sightings(
    store: &Store,
    ip: &str,
    code: &str,
    recipient: &str,
    new: &[Instant],
) -> Result<Vec<BlockEvent>> {
    let (Some(&first), Some(&last)) = (new.iter().min(), new.iter().max()) else {
        return Ok(Vec::new());
    };
    let window = chrono::Duration::minutes(crate::rates::SAME_REJECTION_MINUTES);
    let margin = chrono::Duration::days(1);
    let text = |at: Instant| {
        at.with_timezone(&chrono::Utc)
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let (mut from, mut to) = (first, last);
    loop {
        // Read from..to widened by the pairing window, plus the margin twice: sightings
        // within one margin of the read's ends may have been written out of it.
        let (read_from, read_to) = (from - window - margin * 2, to + window + margin * 2);
        let stored = store.block_events_of_recipient(
            ip,
            code,
            recipient,
            &text(read_from),
            &text(read_to),
        )?;
        let mut times: Vec<Instant> = stored.iter().filter_map(|e| instant(&e.seen_at)).collect();
        times.extend_from_slice(new);
        times.sort();
        // The chain through the new times: back from the first, on from the last, while
        // the next sighting is at most the window away.
        let mut start = times.iter().position(|t| *t == first).unwrap_or(0);
        while start > 0 && times[start] - times[start - 1] <= window {
            start -= 1;
        }
        let mut end = times
            .iter()
            .rposition(|t| *t == last)
            .unwrap_or(times.len() - 1);
        while end + 1 < times.len() && times[end + 1] - times[end] <= window {
            end += 1;
        }
        let (chain_from, chain_to) = (times[start], times[end]);
        if chain_from - window >= read_from + margin && chain_to + window <= read_to - margin {
            return Ok(stored
                .into_iter()
                .filter(|e| instant(&e.seen_at).is_some_and(|t| t >= chain_from && t <= chain_to))
                .collect());
        }
        (from, to) = (chain_from, chain_to);
    }
}

/// Searches the bounces stored since the last scan for Outlook.com codes. Returns how many
/// new block events were recorded.
pub fn scan_bounces(store: &mut Store, now: &str) -> Result<u64> {
    let mut added = 0;
    loop {
        let bounces = store.bounces_to_scan(SCAN_BATCH)?;
        let Some(last) = bounces.last().map(|b| b.id) else {
            break;
        };
        for bounce in &bounces {
            let mut sightings = sightings_in_bounce(&bounce.raw);
            for sighting in &mut sightings {
                if sighting.message_id.is_none() {
                    sighting.message_id = bounce.message_id.clone();
                }
            }
            added += record(
                store,
                &sightings,
                "bounce",
                Some(bounce.id),
                &bounce.reported_at,
                now,
            )?;
        }
        let mut batch = store.begin()?;
        batch.set_bounce_scan_position(last)?;
        batch.commit()?;
        if bounces.len() < SCAN_BATCH {
            break;
        }
    }
    Ok(added)
}

/// Searches a send log's delivery statuses for Outlook.com codes (idempotent: a sighting is
/// recorded once however often the log is read).
pub fn scan_send_log(
    store: &mut Store,
    path: &Path,
    format: SendLogFormat,
    now: &str,
) -> Result<u64> {
    scan_send_log_from(store, path, format, now, 0, None)
}

/// [`scan_send_log`] of the lines from byte `from` (a line boundary) to `to` (or the end):
/// what `fbl run` read of the log this time, not a line still being written. A CSV log read
/// from a later line is read with its header row first, as the import reads it.
pub fn scan_send_log_from(
    store: &mut Store,
    path: &Path,
    format: SendLogFormat,
    now: &str,
    from: u64,
    to: Option<u64>,
) -> Result<u64> {
    use std::io::{Read, Seek};
    let context = || format!("cannot read send log {}", path.display());
    let mut file = std::fs::File::open(path).with_context(context)?;
    let options = ReadOptions {
        now: chrono::DateTime::parse_from_rfc3339(now)
            .context("the run's time is not RFC 3339")?
            .to_utc(),
        zone: crate::zone::Zone::system(),
    };
    let mut header = Vec::new();
    if format == SendLogFormat::Csv && from > 0 {
        let found =
            crate::sendlog::read_csv_header(std::io::BufReader::new(Read::by_ref(&mut file)))
                .with_context(context)?;
        if let Some(found) = found.filter(|found| found.end <= from) {
            header = found.bytes;
            header.push(b'\n');
        }
    }
    file.seek(std::io::SeekFrom::Start(from))
        .with_context(context)?;
    let slice = file.take(to.map_or(u64::MAX, |to| to.saturating_sub(from)));
    let input = std::io::BufReader::with_capacity(256 * 1024, header.as_slice().chain(slice));
    let sightings = sightings_in_send_log(format, input, &options);
    record(store, &sightings, "send_log", None, now, now)
}

/// Gathers the figures of the `days` days ending on `now`'s day and builds the report. The
/// campaign, domain and volume figures are as fresh as the last
/// `Store::refresh_report_summaries` (done by `fbl run` and `fbl report`).
pub fn build(
    store: &Store,
    settings: &ReportConfig,
    days: u32,
    now: &str,
) -> Result<ComplaintReport> {
    let window = Window::ending(day_of(now)?, days);
    let input = read_input(store, &window, &mut || Ok(()))?;
    Ok(build_report(
        input,
        window,
        settings.thresholds(),
        &settings.sending_ips(),
        now,
    ))
}

/// What the store holds for a report's window, read in one snapshot of the store (commits
/// by another fbl meanwhile are left to the next report, not mixed into this one) and with
/// the small page cache. `after_first_read` runs between the complaint counts and the other
/// reads: a no-op but in the test of the snapshot, which commits there through another
/// connection.
fn read_input(
    store: &Store,
    window: &Window,
    after_first_read: &mut dyn FnMut() -> Result<()>,
) -> Result<ReportInput> {
    store.with_small_cache(|| store.read_snapshot(|store| gather(store, window, after_first_read)))
}

/// What the store holds for a report's window.
fn gather(
    store: &Store,
    window: &Window,
    after_first_read: &mut dyn FnMut() -> Result<()>,
) -> Result<ReportInput> {
    let (from, to) = (window.from_day.as_str(), window.to_day.as_str());
    let (complaints, attributed, unattributed) = store.complaint_counts(from, to)?;
    after_first_read()?;
    let domains: Vec<&str> = REPORTER_DOMAINS
        .iter()
        .flat_map(|(_, d)| d.iter().copied())
        .collect();
    let send_log_reporter_days = store
        .send_log_domain_days(from, to, &domains)?
        .into_iter()
        .filter_map(|v| {
            let reporter = REPORTER_DOMAINS
                .iter()
                .find(|(_, list)| list.contains(&v.key.as_str()))?
                .0;
            Some(Volume {
                key: reporter.to_string(),
                ..v
            })
        })
        .fold(Vec::<Volume>::new(), |mut out, v| {
            match out.iter_mut().find(|o| o.key == v.key && o.day == v.day) {
                Some(o) => o.messages += v.messages,
                None => out.push(v),
            }
            out
        });
    let campaigns = store.campaign_counts(from, to)?;
    let complaints_without_campaign = campaigns
        .iter()
        .filter(|c| c.campaign.is_none() && c.list.is_none())
        .map(|c| c.complaints)
        .sum();
    let input = ReportInput {
        complaints,
        send_log_ip_days: store.send_log_ip_days(from, to)?,
        send_log_reporter_days,
        snds_days: store.snds_days(from, to, None)?,
        snds_available: store.has_snds()?,
        // The block list of the window's time: today's for a window that ends today, the
        // one SNDS showed then for a past one (ipStatus is kept as periods).
        snds_status: store.snds_ip_status_before(&window.end())?,
        snds_ips: store.snds_ips(&history_from(window), &window.to_day)?,
        campaigns,
        complaints_without_campaign,
        domains: store.domain_counts(from, to)?,
        attributed,
        unattributed,
        unattributed_reasons: if unattributed > 0 {
            store.unattributed_reasons(from, to)?
        } else {
            Vec::new()
        },
        blocks: block_history(store, window)?,
        mailboxes: store.mailbox_successes()?,
    };
    Ok(input)
}

/// The block sightings a window's report needs: those from `history_from`, and for an
/// episode already going on then, the ones before that belong to it, so that the episode
/// keeps its true start (and its alert its identity) as the window moves on.
fn block_history(store: &Store, window: &Window) -> Result<Vec<crate::rates::BlockEvent>> {
    use crate::rates::EPISODE_GAP_DAYS;
    let from = history_from(window);
    let mut events = store.block_events(&from, None)?;
    // Per IP and class, the earliest sighting read: its episode may reach further back.
    let mut earliest: BTreeMap<(String, crate::outlook_codes::BlockClass), String> =
        BTreeMap::new();
    for event in &events {
        let key = (event.ip.clone(), event.class);
        let at = earliest.entry(key).or_insert_with(|| event.seen_at.clone());
        if event.seen_at < *at {
            *at = event.seen_at.clone();
        }
    }
    let gap = |earlier: &str, later: &str| match (
        chrono::DateTime::parse_from_rfc3339(earlier),
        chrono::DateTime::parse_from_rfc3339(later),
    ) {
        (Ok(a), Ok(b)) => (b - a).num_days() <= EPISODE_GAP_DAYS,
        _ => false,
    };
    let history_start = format!("{from}T00:00:00Z");
    let ips: BTreeSet<String> = earliest
        .iter()
        .filter(|(_, at)| gap(&history_start, at))
        .map(|((ip, _), _)| ip.clone())
        .collect();
    for ip in ips {
        // The sightings before the history read, newest first: each class's chain goes on
        // while its sightings are close enough.
        for event in store.block_events_before(&ip, &history_start)? {
            let key = (event.ip.clone(), event.class);
            if let Some(at) = earliest.get_mut(&key)
                && event.seen_at < *at
                && gap(&event.seen_at, at)
            {
                *at = event.seen_at.clone();
                events.push(event);
            }
        }
    }
    // A rejection both logged and bounced back is one.
    Ok(crate::rates::one_per_rejection(events))
}

/// The first day block sightings are read from for a window.
fn history_from(window: &Window) -> String {
    chrono::NaiveDate::parse_from_str(&window.from_day, "%Y-%m-%d")
        .map(|d| {
            (d - chrono::Duration::days(crate::rates::BLOCK_HISTORY_DAYS))
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default()
}

/// Writes a report to a file, atomically. Its folder must exist, as an export's: a
/// mistyped folder is an error, never made. Hands back the group the file replaced had and
/// the new one could not be given (fbl's user not a member of it), for the caller to say,
/// as an export's is.
pub fn write_file(
    report: &ComplaintReport,
    format: ReportFormat,
    path: &Path,
) -> Result<Option<atomic_file::GroupLost>> {
    atomic_file::write_atomically_keeping_group(path, |out| render(format, report, out))
        .map(|((), lost)| lost)
        .with_context(|| format!("cannot write report {}", path.display()))
}

/// Records the alerts and returns those never raised before.
pub fn raise_new(store: &mut Store, alerts: &[Alert], now: &str) -> Result<Vec<Alert>> {
    let mut batch = store.begin()?;
    let mut new = Vec::new();
    for alert in alerts {
        if batch.raise_alert(&alert.key(), &alert.message, now)? {
            new.push(alert.clone());
        }
    }
    batch.commit()?;
    Ok(new)
}

/// One report file written by `fbl run`.
#[derive(Debug, Clone, Serialize)]
pub struct ReportWritten {
    pub format: ReportFormat,
    pub path: PathBuf,
    pub days: u32,
    /// The file replaced had a group fbl's user could not give the new version (not a
    /// member of it, the folder not set-group-ID to it): its readers through that group (a
    /// web server's, a node_exporter's user) can no longer read it. Said by the run that
    /// replaced it, as an export's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups_lost: Vec<atomic_file::GroupLost>,
}

/// What the report step of `fbl run` did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    /// New Outlook.com block events found in bounces and send logs.
    pub block_events_found: u64,
    pub written: Vec<ReportWritten>,
    /// Alerts raised for the first time by this run.
    pub alerts: Vec<Alert>,
    pub errors: Vec<String>,
}

impl RunReport {
    pub fn needs_attention(&self) -> bool {
        !self.alerts.is_empty()
            || !self.errors.is_empty()
            || self.written.iter().any(|w| !w.groups_lost.is_empty())
    }
}

/// The report step of `fbl run`: scan new bounces and the configured send logs for blocks,
/// write every `[[report.output]]`, raise new alerts. A failure is kept in `errors` and the
/// step goes on, but for a full store disk: the store can take nothing more this run, which
/// stops on it (exit 2). A report file's own full disk fails that file only, as an export's.
/// `read` is what the run's send-log imports read: each log is scanned for blocks from where
/// its import began reading (not all of it again at every run), and the rest of a rotated
/// `PATH.1` the import read too. A log the import did not read (its import failed) is
/// scanned whole; one that is no regular file (a pipe) not at all: what it held went to the
/// import.
pub fn run_step(
    store: &mut Store,
    config: &Config,
    now: &str,
    read: &[crate::run::SendLogImported],
) -> Result<RunReport> {
    let settings = settings(config);
    let mut step = RunReport::default();
    let place = store.location().to_string();
    // Only the store is written below, but for the report files: a full disk met elsewhere
    // is the store's (reading a send log cannot fill one).
    let failed = |errors: &mut Vec<String>, what: &str, error: anyhow::Error| {
        if crate::store::is_disk_full(&error) {
            return Err(disk_full(error, &place, Kept::Report).context("report"));
        }
        errors.push(format!("{what}: {error:#}"));
        Ok(())
    };
    match scan_bounces(store, now) {
        Ok(n) => step.block_events_found += n,
        Err(error) => failed(&mut step.errors, "block scan of bounces", error)?,
    }
    for import in &config.send_log.imports {
        // A log that is not there was said by the import step already: once is enough.
        if !import.path.is_file() {
            continue;
        }
        let rotated = crate::run::rotated_paths(&import.path);
        let mut slices: Vec<(&Path, u64, Option<u64>)> = read
            .iter()
            .filter_map(|imported| imported.read_file.as_ref())
            .filter(|(path, _, _)| *path == import.path || rotated.contains(path))
            .map(|(path, from, to)| (path.as_path(), *from, Some(*to)))
            .collect();
        if slices.is_empty() {
            slices.push((&import.path, 0, None));
        }
        for (path, from, to) in slices {
            match scan_send_log_from(store, path, import.format, now, from, to) {
                Ok(n) => step.block_events_found += n,
                Err(error) => failed(&mut step.errors, "block scan of send log", error)?,
            }
        }
    }
    if let Err(error) = store.refresh_report_summaries() {
        failed(&mut step.errors, "report summaries", error)?;
    }
    let mut built: Vec<(u32, ComplaintReport)> = Vec::new();
    let mut report_for = |store: &Store, days: u32| -> Result<ComplaintReport> {
        if let Some((_, report)) = built.iter().find(|(d, _)| *d == days) {
            return Ok(report.clone());
        }
        let report = build(store, &settings, days, now)?;
        built.push((days, report.clone()));
        Ok(report)
    };
    for output in &settings.outputs {
        let days = output.days.unwrap_or(settings.days);
        let written = report_for(store, days)
            .and_then(|report| write_file(&report, output.format, &output.path));
        match written {
            Ok(lost) => step.written.push(ReportWritten {
                format: output.format,
                path: output.path.clone(),
                days,
                groups_lost: lost.into_iter().collect(),
            }),
            Err(error) => step.errors.push(format!("{error:#}")),
        }
    }
    // Alerts concern the last days, and the complaints stored since the last alert step
    // however long ago they were reported (a mailbox's backlog, a first run): a campaign or
    // list they put over a threshold is alerted once, as the report's alerts show it.
    let raised = store.complaints_to_alert().and_then(|(through, earliest)| {
        let days = alert_window_days(now, earliest.as_deref())?;
        let report = report_for(store, days)?;
        let alerts = raise_new(store, &report.alerts, now)?;
        let mut batch = store.begin()?;
        batch.set_alerted_through(through)?;
        batch.commit()?;
        Ok(alerts)
    });
    match raised {
        Ok(alerts) => step.alerts = alerts,
        Err(error) => failed(&mut step.errors, "alerts", error)?,
    }
    Ok(step)
}

/// The longest window an alert step reads: from the earliest day a complaint not alerted
/// yet was reported, at most `ALERT_BACKLOG_DAYS`.
const ALERT_BACKLOG_DAYS: i64 = 366;

/// How many days the alert step's report covers: the last `ALERT_LOOKBACK_DAYS` and the day
/// it ends on, or back to `earliest` (the earliest day a complaint stored since the last
/// alert step was reported), whichever is longer.
fn alert_window_days(now: &str, earliest: Option<&str>) -> Result<u32> {
    let lookback = crate::rates::ALERT_LOOKBACK_DAYS + 1;
    let today = day_of(now)?;
    let backlog = earliest
        .and_then(|day| chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
        .map(|day| (today - day).num_days() + 1)
        .unwrap_or(0);
    Ok(backlog.clamp(lookback, ALERT_BACKLOG_DAYS) as u32)
}

/// One IP's complaints per day they are rated against, and of those Microsoft's, as
/// `fbl report` rates them (`rates::build_report`): a complaint the send log places on its
/// send day counts on that day, any other on the day it was reported; days outside the
/// window are left out.
fn ip_complaints_by_rated_day(
    counts: &[crate::rates::ComplaintCount],
    ip: &str,
    window: &Window,
) -> Vec<(String, u64, u64)> {
    let mut days: std::collections::BTreeMap<&str, (u64, u64)> = Default::default();
    for count in counts.iter().filter(|c| c.source_ip.as_deref() == Some(ip)) {
        let day = count.sent_day.as_deref().unwrap_or(&count.day);
        if day < window.from_day.as_str() || day > window.to_day.as_str() {
            continue;
        }
        let entry = days.entry(day).or_default();
        entry.0 += count.complaints;
        if count.reporter == crate::rates::SNDS_REPORTER {
            entry.1 += count.complaints;
        }
    }
    days.into_iter()
        .map(|(day, (all, microsoft))| (day.to_string(), all, microsoft))
        .collect()
}

/// Gathers the delisting packet's figures for one IP over the `days` days ending on `now`.
pub fn delist_input(
    store: &Store,
    config: &Config,
    ip: &str,
    days: u32,
    now: &str,
) -> Result<crate::delist::DelistInput> {
    let settings = settings(config);
    let window = Window::ending(day_of(now)?, days);
    // One snapshot of the store for every figure of the packet, as for a report.
    let (figures, complaints_by_day, blocks, ip_status, snds_available, snds_days) = store
        .read_snapshot(|store| {
            let (counts, _, _) = store.complaint_counts(&window.from_day, &window.to_day)?;
            Ok((
                store.delist_figures(ip, &window.from_day)?,
                ip_complaints_by_rated_day(&counts, ip, &window),
                crate::rates::one_per_rejection(store.block_events("", Some(ip))?),
                store.snds_ip_status_all_periods()?,
                store.has_snds()?,
                store.snds_days(&window.from_day, &window.to_day, Some(ip))?,
            ))
        })?;
    let minutes = |from: &str, to: &str| -> Option<i64> {
        let from = chrono::DateTime::parse_from_rfc3339(from).ok()?;
        let to = chrono::DateTime::parse_from_rfc3339(to).ok()?;
        Some((to - from).num_minutes())
    };
    let suppression_minutes = figures
        .delays
        .iter()
        .map(|d| {
            d.suppressed_at
                .as_deref()
                .and_then(|at| minutes(&d.reported_at, at))
        })
        .collect();
    let example = figures
        .example_raw
        .as_deref()
        .map(crate::report_parser::parse);
    let example_complainants = example
        .as_ref()
        .map(|parsed| {
            let report = &parsed.report;
            let mut found: Vec<String> = report.original_rcpt_to.clone();
            found.extend(report.recipients.iter().filter_map(|r| r.address.clone()));
            found
        })
        .unwrap_or_default();
    let example_headers = example.map(|parsed| parsed.original);
    let ranges = settings.sending_ips();
    Ok(crate::delist::DelistInput {
        ip: ip.to_string(),
        generated_at: now.to_string(),
        from_day: window.from_day.clone(),
        thresholds: settings.thresholds(),
        sending_ip: ranges.is_configured().then(|| ranges.contains_text(ip)),
        blocks,
        ip_status,
        snds_available,
        snds_days,
        complaints_by_day,
        send_log_by_day: figures.send_log_by_day,
        suppression_minutes,
        suppressions_active: figures.suppressions_active,
        reporters: figures.reporters,
        mailboxes: config
            .mailboxes
            .iter()
            .map(|m| (m.name.clone(), m.host.clone()))
            .collect(),
        example_headers,
        example_complainants,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Format, Kind, Recipient, Report, Reporter, Via};
    use crate::store::{NewReport, sha256};

    const NOW: &str = "2026-11-20T08:00:00Z";
    const DAYS: u32 = 30;

    /// Stores complaint `n` (in the window; one in three without a complainant) and commits.
    fn store_complaint(store: &mut Store, n: usize) {
        let mut report = Report::empty(Kind::Complaint, Format::Arf, Reporter::Yahoo);
        report.report_date = Some(format!("2026-11-0{}T10:00:00Z", 1 + n % 5));
        report.source_ip = Some("192.0.2.1".into());
        if n.is_multiple_of(3) {
            report.attribution_notes.push("no complainant found".into());
        } else {
            report.recipients.push(Recipient {
                address: Some(format!("user{n}@example.org")),
                id: None,
                via: Via::OriginalRcptTo,
            });
        }
        let raw = format!("complaint {n}");
        let mut batch = store.begin().unwrap();
        batch
            .store_report(&NewReport {
                raw: raw.as_bytes(),
                packed: None,
                sha256: sha256(raw.as_bytes()),
                content_key: None,
                origin: "test",
                report: &report,
                ingested_at: NOW,
            })
            .unwrap();
        batch.commit().unwrap();
    }

    /// The report of an input, as `build` makes it.
    fn report_of(input: ReportInput) -> ComplaintReport {
        let settings = ReportConfig::default();
        build_report(
            input,
            Window::ending(day_of(NOW).unwrap(), DAYS),
            settings.thresholds(),
            &settings.sending_ips(),
            NOW,
        )
    }

    /// Every complaint counted once in each of the report's figures: the total per day, the
    /// attributed/unattributed split, the campaigns (none here: no send log) and the
    /// complainant domains (of the attributed ones).
    fn assert_one_state(input: &ReportInput) {
        let per_day: u64 = input.complaints.iter().map(|c| c.complaints).sum();
        let campaigns: u64 = input.campaigns.iter().map(|c| c.complaints).sum();
        let domains: u64 = input.domains.iter().map(|d| d.complaints).sum();
        assert_eq!(per_day, input.attributed + input.unattributed);
        assert_eq!(campaigns, per_day, "campaigns");
        assert_eq!(input.complaints_without_campaign, per_day);
        assert_eq!(domains, input.attributed, "domains");
    }

    /// Another fbl (`fbl run`'s report step, on a second connection to the same file)
    /// stores a complaint and brings the summaries up to date while a report is reading.
    /// Before the report read in one snapshot, its per-day counts and split came from the
    /// store before that commit and its campaign and domain figures from after it.
    #[test]
    fn a_complaint_committed_while_a_report_reads_is_left_to_the_next_report() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fbl.sqlite");
        let mut writer = Store::open(&path).unwrap();
        for n in 0..9 {
            store_complaint(&mut writer, n);
        }
        writer.refresh_report_summaries().unwrap();
        let reader = Store::open(&path).unwrap();
        let window = Window::ending(day_of(NOW).unwrap(), DAYS);

        let before = read_input(&reader, &window, &mut || Ok(())).unwrap();
        assert_one_state(&before);
        assert_eq!((before.attributed, before.unattributed), (6, 3));

        let mut commits = 0;
        let during = read_input(&reader, &window, &mut || {
            store_complaint(&mut writer, 9);
            writer.refresh_report_summaries()?;
            commits += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(commits, 1);
        assert_one_state(&during);
        assert_eq!(report_of(during), report_of(before.clone()));

        // The next report sees the complaint, and the connection is out of its snapshot.
        let after = read_input(&reader, &window, &mut || Ok(())).unwrap();
        assert_one_state(&after);
        assert_eq!((after.attributed, after.unattributed), (6, 4));
    }

    /// Stores sightings of 203.0.113.5, S3140, amy@outlook.example at the times given, with
    /// their sources.
    fn store_sightings(store: &mut Store, at: &[(&str, &str)]) {
        let mut batch = store.begin().unwrap();
        for (seen_at, source) in at {
            let event = NewBlockEvent {
                ip: "203.0.113.5",
                code: "S3140",
                class: crate::outlook_codes::BlockClass::Block,
                reply: Some(550),
                status: Some("5.7.1"),
                text: "on our block list (S3140)",
                recipient: "amy@outlook.example",
                seen_at,
                source,
                report_id: None,
                found_at: NOW,
            };
            assert!(batch.add_block_event(&event).unwrap());
        }
        batch.commit().unwrap();
    }

    /// The rejections one new sighting adds to `stored`, as `record` counts them.
    fn rejections_added(stored: &[BlockEvent], seen_at: &str, source: &str) -> usize {
        let mut with = stored.to_vec();
        with.push(BlockEvent {
            seen_at: seen_at.to_string(),
            source: source.to_string(),
            ..stored[0].clone()
        });
        crate::rates::one_per_rejection(with).len()
            - crate::rates::one_per_rejection(stored.to_vec()).len()
    }

    /// `record` read every sighting of the IP to pair one new sighting; it now reads those
    /// chained to it by sightings at most ten minutes apart, and counts the same.
    #[test]
    fn a_new_sighting_is_paired_against_the_sightings_chained_to_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("fbl.sqlite")).unwrap();
        store_sightings(
            &mut store,
            &[
                ("2026-11-01T09:00:00Z", "bounce"),
                ("2026-11-10T08:40:00Z", "send_log"),
                ("2026-11-10T08:48:00Z", "bounce"),
                // 08:56 UTC, written with an offset.
                ("2026-11-10T09:56:00+01:00", "send_log"),
                ("2026-11-12T09:00:00Z", "send_log"),
            ],
        );
        let all = store
            .block_events_of_recipient("203.0.113.5", "S3140", "amy@outlook.example", "", "9999")
            .unwrap();
        assert_eq!(all.len(), 5);
        let new = "2026-11-10T09:05:00Z";
        let linked = linked_sightings(
            &store,
            "203.0.113.5",
            "S3140",
            "AMY@outlook.example",
            &[instant(new).unwrap()],
        )
        .unwrap();
        let times: Vec<&str> = linked.iter().map(|e| e.seen_at.as_str()).collect();
        assert_eq!(
            times,
            [
                "2026-11-10T08:40:00Z",
                "2026-11-10T08:48:00Z",
                "2026-11-10T09:56:00+01:00"
            ]
        );
        for source in ["bounce", "send_log"] {
            assert_eq!(
                rejections_added(&linked, new, source),
                rejections_added(&all, new, source),
                "{source}"
            );
        }
        // The chain decides: 08:40 (log) and 08:48 (bounce) pair, so a bounce at 09:05
        // pairs with the log's 08:56; without the 08:40 sighting it would not.
        assert_eq!(rejections_added(&all, new, "bounce"), 0);
        assert_eq!(rejections_added(&all[2..], new, "bounce"), 1);
    }

    /// A chain of sightings nine minutes apart for three days before the new one: read
    /// wider until its start, and counted the same as over every sighting.
    #[test]
    fn a_chain_longer_than_the_read_is_followed_to_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("fbl.sqlite")).unwrap();
        let start = instant("2026-11-07T09:00:00Z").unwrap();
        let chain: Vec<(String, &str)> = (0..480)
            .map(|i| {
                let at = start + chrono::Duration::minutes(9 * i);
                let source = if i % 3 == 0 { "bounce" } else { "send_log" };
                (at.format("%Y-%m-%dT%H:%M:%SZ").to_string(), source)
            })
            .collect();
        let mut at: Vec<(&str, &str)> = chain.iter().map(|(t, s)| (t.as_str(), *s)).collect();
        at.push(("2026-11-06T20:00:00Z", "bounce"));
        store_sightings(&mut store, &at);
        let new = start + chrono::Duration::minutes(9 * 480);
        let linked = linked_sightings(
            &store,
            "203.0.113.5",
            "S3140",
            "amy@outlook.example",
            &[new],
        )
        .unwrap();
        assert_eq!(linked.len(), 480);
        let all = store
            .block_events_of_recipient("203.0.113.5", "S3140", "amy@outlook.example", "", "9999")
            .unwrap();
        let new = new.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        for source in ["bounce", "send_log"] {
            assert_eq!(
                rejections_added(&linked, &new, source),
                rejections_added(&all, &new, source),
                "{source}"
            );
        }
    }

    /// A failed read ends the snapshot: the connection reads the latest commit after it.
    #[test]
    fn a_report_read_that_fails_ends_its_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fbl.sqlite");
        let mut writer = Store::open(&path).unwrap();
        store_complaint(&mut writer, 1);
        writer.refresh_report_summaries().unwrap();
        let reader = Store::open(&path).unwrap();
        let window = Window::ending(day_of(NOW).unwrap(), DAYS);
        let failed = read_input(&reader, &window, &mut || {
            store_complaint(&mut writer, 2);
            writer.refresh_report_summaries()?;
            anyhow::bail!("stopped between reads")
        });
        assert_eq!(
            format!("{:#}", failed.err().unwrap()),
            "stopped between reads"
        );
        let after = read_input(&reader, &window, &mut || Ok(())).unwrap();
        assert_one_state(&after);
        assert_eq!(after.attributed, 2);
    }
}
