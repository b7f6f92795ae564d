//! A Prometheus textfile (text exposition format 0.0.4) for node_exporter's textfile
//! collector: complaint counts and ratios per IP, reporter, campaign and list over the
//! window and on each IP's latest day, SNDS filter result and trap hits, Outlook.com blocks,
//! SNDS ipStatus, and the last complete read of each mailbox. Rates are ratios (0.003 is
//! 0.3%), as Prometheus convention has it.

use crate::outlook_codes::BlockClass;
use crate::rates::{ComplaintReport, Level};
use std::collections::BTreeMap;
use std::io::{self, Write};

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn labels(pairs: &[(&str, &str)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape(value)))
        .collect();
    format!("{{{}}}", inner.join(","))
}

fn seconds(rfc3339: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp())
}

fn level_number(level: Level) -> i64 {
    match level {
        Level::NotJudged => -1,
        Level::Ok => 0,
        Level::Warn => 1,
        Level::Critical => 2,
    }
}

/// Collects one metric family's samples, then writes HELP, TYPE and the samples.
struct Family {
    name: &'static str,
    help: &'static str,
    samples: Vec<(String, String)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            samples: Vec::new(),
        }
    }

    fn add(&mut self, labels_: &[(&str, &str)], value: impl ToString) {
        self.samples.push((labels(labels_), value.to_string()));
    }

    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.samples.is_empty() {
            return Ok(());
        }
        writeln!(out, "# HELP {} {}", self.name, self.help)?;
        writeln!(out, "# TYPE {} gauge", self.name)?;
        for (labels, value) in &self.samples {
            writeln!(out, "{}{} {}", self.name, labels, value)?;
        }
        Ok(())
    }
}

/// A percentage as a ratio, to ten decimals without trailing zeros (`0.45` is `0.0045`).
/// None above 1 (more complaints than messages, the send log incomplete): not a rate, left
/// out as an unknown volume is.
fn ratio(rate_percent: Option<f64>) -> Option<String> {
    if crate::rates::more_complaints_than_messages(rate_percent) {
        return None;
    }
    rate_percent.map(|r| {
        let text = format!("{:.10}", r / 100.0);
        let text = text.trim_end_matches('0').trim_end_matches('.');
        if text.is_empty() {
            "0".to_string()
        } else {
            text.to_string()
        }
    })
}

pub fn write(report: &ComplaintReport, out: &mut dyn Write) -> io::Result<()> {
    let mut families: Vec<Family> = Vec::new();
    let mut generated = Family::new(
        "fbl_report_generated_timestamp_seconds",
        "When fbl wrote this report.",
    );
    if let Some(s) = seconds(&report.generated_at) {
        generated.add(&[], s);
    }
    families.push(generated);
    let mut window = Family::new("fbl_report_window_days", "Days the window figures cover.");
    window.add(&[], report.window.days);
    families.push(window);
    let mut worst = Family::new(
        "fbl_report_worst_level",
        "Worst level in the window: -1 not judged, 0 ok, 1 warn, 2 critical.",
    );
    worst.add(&[], level_number(report.overview.worst_level));
    families.push(worst);
    let mut complaints = Family::new("fbl_complaints", "Complaints reported in the window.");
    complaints.add(&[], report.overview.complaints);
    families.push(complaints);
    let mut unattributed = Family::new(
        "fbl_unattributed_complaints",
        "Complaints in the window without a complainant address.",
    );
    unattributed.add(&[], report.overview.unattributed);
    families.push(unattributed);
    let mut foreign = Family::new(
        "fbl_foreign_ip_complaints",
        "Complaints in the window about IPs outside [report] sending_ips.",
    );
    if report.foreign_ips.configured {
        foreign.add(&[], report.foreign_ips.complaints);
    }
    families.push(foreign);

    let mut ip_complaints = Family::new(
        "fbl_ip_complaints",
        "Complaints per source IP in the window.",
    );
    let mut ip_rated = Family::new(
        "fbl_ip_rated_complaints",
        "Complaints per source IP in the window that its ratio is over: those of days with a known volume; on a day whose volume is SNDS's (Outlook.com only), Microsoft's alone.",
    );
    let mut ip_messages = Family::new(
        "fbl_ip_messages",
        "Messages per source IP on the window's days with a known volume (the send log, else SNDS's Outlook.com recipients).",
    );
    let mut ip_ratio = Family::new(
        "fbl_ip_complaint_ratio",
        "Complaint rate per source IP in the window (its rated complaints over its messages), as a ratio; absent above 1 (more complaints than messages: the send log is incomplete).",
    );
    let mut ip_level = Family::new(
        "fbl_ip_level",
        "Level per IP in the window (its rates, an Outlook.com block critical, throttling warn): -1 not judged, 0 ok, 1 warn, 2 critical.",
    );
    let mut day_complaints = Family::new(
        "fbl_ip_latest_day_complaints",
        "Complaints per IP on its latest day with figures.",
    );
    let mut day_rated = Family::new(
        "fbl_ip_latest_day_rated_complaints",
        "Complaints per IP on its latest day with figures that its ratio is over: all with the send log's volume, Microsoft's with SNDS's, none without a volume.",
    );
    let mut day_ratio = Family::new(
        "fbl_ip_latest_day_complaint_ratio",
        "Complaint rate per IP on its latest day with a volume, as a ratio; absent above 1 (more complaints than messages: the send log is incomplete).",
    );
    // The day is a value, not a label: a label would start a new series every day.
    let mut day_start = Family::new(
        "fbl_ip_latest_day_timestamp_seconds",
        "Start (UTC, Unix seconds) of the day the fbl_ip_latest_day_* figures are about.",
    );
    let mut colour = Family::new(
        "fbl_snds_filter_result",
        "SNDS filter result on the IP's latest day: 0 green, 1 yellow, 2 red, -1 unknown.",
    );
    let mut traps = Family::new("fbl_snds_trap_hits", "SNDS trap hits per IP in the window.");
    for ip in &report.ips {
        let l = [("ip", ip.ip.as_str())];
        ip_complaints.add(&l, ip.complaints);
        ip_rated.add(&l, ip.rated_complaints);
        if let Some(m) = ip.messages {
            ip_messages.add(&l, m);
        }
        if let Some(r) = ratio(ip.rate_percent) {
            ip_ratio.add(&l, r);
        }
        ip_level.add(&l, level_number(ip.level));
        if let Some(c) = &ip.snds_filter_result {
            let value = match c.as_str() {
                "green" => 0,
                "yellow" => 1,
                "red" => 2,
                _ => -1,
            };
            colour.add(&l, value);
        }
        if report.snds.available {
            traps.add(&l, ip.trap_hits);
        }
    }
    // The latest day of each IP: ip_days are sorted by IP, then day.
    let mut latest: std::collections::BTreeMap<&str, &crate::rates::IpDay> = Default::default();
    for day in &report.ip_days {
        latest.insert(&day.ip, day);
    }
    for (ip, day) in latest {
        let l = [("ip", ip)];
        day_complaints.add(&l, day.complaints);
        day_rated.add(&l, day.rated_complaints);
        if let Some(r) = ratio(day.rate_percent) {
            day_ratio.add(&l, r);
        }
        if let Ok(date) = chrono::NaiveDate::parse_from_str(&day.day, "%Y-%m-%d") {
            let start = date
                .and_hms_opt(0, 0, 0)
                .expect("midnight exists")
                .and_utc();
            day_start.add(&l, start.timestamp());
        }
    }
    families.extend([
        ip_complaints,
        ip_rated,
        ip_messages,
        ip_ratio,
        ip_level,
        day_complaints,
        day_rated,
        day_ratio,
        day_start,
        colour,
        traps,
    ]);

    for (name, help, rows, label) in [
        (
            "fbl_reporter_complaints",
            "Complaints per reporter in the window.",
            &report.reporters,
            "reporter",
        ),
        (
            "fbl_campaign_complaints",
            "Complaints per campaign in the window.",
            &report.campaigns,
            "campaign",
        ),
        (
            "fbl_list_complaints",
            "Complaints per list in the window.",
            &report.lists,
            "list",
        ),
    ] {
        let mut family = Family::new(name, help);
        for row in rows {
            family.add(&[(label, row.subject.as_str())], row.complaints);
        }
        families.push(family);
    }
    let mut reporter_rated = Family::new(
        "fbl_reporter_rated_complaints",
        "Complaints per reporter in the window that its ratio is over: those of days with a known volume.",
    );
    for row in &report.reporters {
        reporter_rated.add(&[("reporter", row.subject.as_str())], row.rated_complaints);
    }
    families.push(reporter_rated);
    for (name, help, rows, label) in [
        (
            "fbl_reporter_complaint_ratio",
            "Complaint rate per reporter in the window (its rated complaints over the messages of its days with a known volume), as a ratio; absent above 1 (more complaints than messages: the send log is incomplete).",
            &report.reporters,
            "reporter",
        ),
        (
            "fbl_campaign_complaint_ratio",
            "Complaint rate per campaign, as a ratio; absent above 1 (more complaints than messages: the send log is incomplete).",
            &report.campaigns,
            "campaign",
        ),
        (
            "fbl_list_complaint_ratio",
            "Complaint rate per list, as a ratio; absent above 1 (more complaints than messages: the send log is incomplete).",
            &report.lists,
            "list",
        ),
    ] {
        let mut family = Family::new(name, help);
        for row in rows {
            if let Some(r) = ratio(row.rate_percent) {
                family.add(&[(label, row.subject.as_str())], r);
            }
        }
        families.push(family);
    }

    let mut blocked = Family::new(
        "fbl_outlook_blocked",
        "1 for each IP and code Outlook.com rejected (class block) or deferred (class throttle) in the window.",
    );
    let mut last_seen = Family::new(
        "fbl_outlook_block_last_seen_timestamp_seconds",
        "When Outlook.com last rejected or deferred the IP.",
    );
    let window_start = format!("{}T00:00:00Z", report.window.from_day);
    for episode in report.blocks.iter().filter(|e| e.last_seen >= window_start) {
        let class = match episode.class {
            BlockClass::Block => "block",
            BlockClass::Throttle => "throttle",
        };
        for code in &episode.codes {
            blocked.add(&[("ip", &episode.ip), ("class", class), ("code", code)], 1);
        }
        if let Some(s) = seconds(&episode.last_seen) {
            last_seen.add(&[("ip", &episode.ip), ("class", class)], s);
        }
    }
    // One sample per label set: the latest episode wins.
    for family in [&mut blocked, &mut last_seen] {
        let mut seen = std::collections::BTreeMap::new();
        for (labels, value) in family.samples.drain(..) {
            seen.insert(labels, value);
        }
        family.samples = seen.into_iter().collect();
    }
    families.push(blocked);
    families.push(last_seen);
    let mut status = Family::new(
        "fbl_snds_ip_status_blocked",
        "SNDS ipStatus ranges listed now: 1 blocked, 0 listed but not blocked.",
    );
    // One sample per series, whatever the list holds: a range listed twice (two SNDS
    // accounts, or two parts of one range with the same ends and details) is blocked when
    // any listing says so (`status_parts` merges them alike); a repeated series would make
    // node_exporter reject the whole file.
    let mut ranges: BTreeMap<(&str, &str, &str), bool> = BTreeMap::new();
    for s in &report.snds.ip_status {
        *ranges
            .entry((&s.first_ip, &s.last_ip, &s.details))
            .or_default() |= s.blocked;
    }
    for s in &report.snds.ip_status {
        let key = (s.first_ip.as_str(), s.last_ip.as_str(), s.details.as_str());
        if let Some(blocked) = ranges.remove(&key) {
            status.add(
                &[
                    ("first_ip", &s.first_ip),
                    ("last_ip", &s.last_ip),
                    ("details", &s.details),
                ],
                i64::from(blocked),
            );
        }
    }
    families.push(status);
    let mut mailboxes = Family::new(
        "fbl_mailbox_last_success_timestamp_seconds",
        "When fbl last read each mailbox folder completely.",
    );
    for mailbox in &report.mailboxes {
        if let Some(s) = mailbox.last_success_at.as_deref().and_then(seconds) {
            mailboxes.add(
                &[("mailbox", &mailbox.mailbox), ("folder", &mailbox.folder)],
                s,
            );
        }
    }
    families.push(mailboxes);
    for family in &families {
        family.write(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip_range::IpRanges;
    use crate::rates::{ReportInput, SndsStatus, Thresholds, Window, build_report};

    /// A range listed twice, blocked and not (as two SNDS accounts may list it), is one
    /// series, blocked: a repeated series makes node_exporter reject the file.
    #[test]
    fn a_range_listed_twice_is_one_series() {
        let listed = |blocked: bool| SndsStatus {
            first_ip: "192.0.2.8".into(),
            last_ip: "192.0.2.15".into(),
            blocked,
            details: "Blocked due to user complaints or other evidence of spamming".into(),
            since: "2026-11-19T00:00:00Z".into(),
        };
        let report = build_report(
            ReportInput {
                snds_status: vec![listed(false), listed(true)],
                ..ReportInput::default()
            },
            Window::ending(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), 7),
            Thresholds::default(),
            &IpRanges::default(),
            "2026-11-20T08:00:00Z",
        );
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let series: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("fbl_snds_ip_status_blocked{"))
            .collect();
        assert_eq!(series.len(), 1, "{text}");
        assert!(series[0].ends_with(" 1"), "{text}");
        let mut seen = std::collections::BTreeSet::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (series, _) = line.rsplit_once(' ').unwrap();
            assert!(seen.insert(series), "{series} repeats in\n{text}");
        }
    }
}
