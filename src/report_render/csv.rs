//! CSV: one row per figure. `section` says what a row is (`ip_day`, `ip`, `reporter_day`,
//! `reporter`, `campaign`, `list`, `recipient_domain`, `foreign_ip`, `unattributed_reason`,
//! `block`); columns that do not apply to a section are empty (an `ip` row's figures are the
//! window's: no day; its worst day is in `detail`). A rate over 100 (more complaints than
//! messages: the send log is incomplete) says so in `detail` and is `not_judged`. `rated_complaints` (last, so
//! that the columns before it keep their places) is how many of `complaints` the rate is
//! over: those of days with a known volume, and on an IP's day whose volume is SNDS's
//! (Outlook.com recipients only), Microsoft's alone. `rate_level` (after it, for the same
//! reason) is, on an `ip` row, the level of its rate alone: its `level` is the worst of that,
//! its worst day's and a block, so that a blocked IP with a low rate is `critical` there and
//! its rate's own level shows here. Other rows leave it empty (their `level` is their rate's).

use crate::rates::{ComplaintReport, Level, RateRow, VolumeSource, more_complaints_than_messages};
use std::io::{self, Write};

const COLUMNS: usize = 15;

const HEADER: [&str; COLUMNS] = [
    "section",
    "subject",
    "day",
    "complaints",
    "messages",
    "volume_source",
    "rate_percent",
    "level",
    "snds_filter_result",
    "snds_complaint_rate",
    "snds_trap_hits",
    "snds_message_recipients",
    "detail",
    "rated_complaints",
    "rate_level",
];

fn number(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_default()
}

/// The exact rate, as JSON writes it (the shortest decimal that reads back as the same
/// number): never rounded, so that a rate just under a threshold never shows at it (2 in
/// 2,001 was written `0.1000` beside `ok`).
fn rate(rate: Option<f64>) -> String {
    rate.map(|r| r.to_string()).unwrap_or_default()
}

/// The `detail` of a figure with more complaints than messages, else nothing.
fn flag(rate: Option<f64>) -> String {
    if more_complaints_than_messages(rate) {
        crate::rates::MORE_COMPLAINTS_THAN_MESSAGES.to_string()
    } else {
        String::new()
    }
}

fn source(source: VolumeSource) -> &'static str {
    match source {
        VolumeSource::Snds => "snds",
        VolumeSource::SendLog => "send_log",
        VolumeSource::None => "",
    }
}

fn level(level: Level) -> &'static str {
    level.as_str()
}

pub fn write(report: &ComplaintReport, out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    let mut put = |cells: [String; COLUMNS]| -> io::Result<()> {
        writer.write_record(&cells).map_err(io::Error::other)
    };
    put(HEADER.map(str::to_string))?;
    for day in &report.ip_days {
        let snds = day.snds.as_ref();
        put([
            "ip_day".into(),
            day.ip.clone(),
            day.day.clone(),
            day.complaints.to_string(),
            number(day.messages),
            source(day.volume_source).into(),
            rate(day.rate_percent),
            level(day.level).into(),
            snds.map(|s| s.filter_result.clone()).unwrap_or_default(),
            snds.map(|s| s.complaint_rate.clone()).unwrap_or_default(),
            number(snds.map(|s| s.trap_hits)),
            number(snds.map(|s| s.message_recipients)),
            flag(day.rate_percent),
            day.rated_complaints.to_string(),
            String::new(),
        ])?;
    }
    for ip in &report.ips {
        let mut detail: Vec<String> = Vec::new();
        if let Some(code) = &ip.outlook_block {
            detail.push(format!("outlook {code}"));
        }
        if ip.snds_blocked {
            detail.push("snds blocked".into());
        }
        if ip.sending_ip == Some(false) {
            detail.push("not a sending ip".into());
        }
        if more_complaints_than_messages(ip.rate_percent) {
            detail.push(flag(ip.rate_percent));
        }
        // The row's figures are the window's: its day column stays empty, and the worst day
        // goes in the detail with its own rate, not beside the window's rate.
        if let Some(day) = &ip.worst_day {
            detail.push(format!(
                "worst day {day} {} {}",
                rate(ip.worst_day_rate_percent),
                level(ip.worst_day_level)
            ));
        }
        put([
            "ip".into(),
            ip.ip.clone(),
            String::new(),
            ip.complaints.to_string(),
            number(ip.messages),
            String::new(),
            rate(ip.rate_percent),
            level(ip.level).into(),
            ip.snds_filter_result.clone().unwrap_or_default(),
            String::new(),
            ip.trap_hits.to_string(),
            String::new(),
            detail.join("; "),
            ip.rated_complaints.to_string(),
            level(ip.rate_level).into(),
        ])?;
    }
    let rows: [(&str, &Vec<RateRow>); 5] = [
        ("reporter_day", &report.reporter_days),
        ("reporter", &report.reporters),
        ("campaign", &report.campaigns),
        ("list", &report.lists),
        ("recipient_domain", &report.recipient_domains),
    ];
    for (section, rows) in rows {
        for row in rows {
            put([
                section.into(),
                row.subject.clone(),
                row.day.clone().unwrap_or_default(),
                row.complaints.to_string(),
                number(row.messages),
                source(row.volume_source).into(),
                rate(row.rate_percent),
                level(row.level).into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                flag(row.rate_percent),
                row.rated_complaints.to_string(),
                String::new(),
            ])?;
        }
    }
    for ip in &report.foreign_ips.ips {
        put([
            "foreign_ip".into(),
            ip.ip.clone(),
            String::new(),
            ip.complaints.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            "not in [report] sending_ips".into(),
            String::new(),
            String::new(),
        ])?;
    }
    for reason in &report.unattributed.top_reasons {
        put([
            "unattributed_reason".into(),
            String::new(),
            String::new(),
            reason.complaints.to_string(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            reason.reason.clone(),
            String::new(),
            String::new(),
        ])?;
    }
    for episode in &report.blocks {
        put([
            "block".into(),
            episode.ip.clone(),
            episode.first_seen.get(..10).unwrap_or("").into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            match episode.class {
                crate::outlook_codes::BlockClass::Block => "critical",
                crate::outlook_codes::BlockClass::Throttle => "warn",
            }
            .into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            format!(
                "{} {} from {} to {} ({} seen): {}",
                episode.class.as_str(),
                episode.codes.join(", "),
                episode.first_seen,
                episode.last_seen,
                episode.sightings,
                episode.last_text
            ),
            String::new(),
            String::new(),
        ])?;
    }
    writer.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ip_range::IpRanges;
    use crate::rates::{ReportInput, Thresholds, Volume, Window, build_report};

    /// 2 complaints in 2,001 messages is 0.09995…%, under warn's 0.1%: `ok`, and never
    /// written as `0.1000`.
    #[test]
    fn a_rate_just_under_a_threshold_is_written_exactly_never_rounded_up() {
        let day = "2026-11-19".to_string();
        let input = ReportInput {
            complaints: vec![crate::rates::ComplaintCount {
                day: day.clone(),
                sent_day: None,
                source_ip: Some("192.0.2.10".into()),
                reporter: "yahoo".into(),
                complaints: 2,
            }],
            send_log_ip_days: vec![Volume {
                key: "192.0.2.10".into(),
                day,
                messages: 2001,
            }],
            ..ReportInput::default()
        };
        let report = build_report(
            input,
            Window::ending(chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap(), 7),
            Thresholds::default(),
            &IpRanges::default(),
            "now",
        );
        let mut out = Vec::new();
        write(&report, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut reader = ::csv::Reader::from_reader(text.as_bytes());
        let row = reader
            .records()
            .map(Result::unwrap)
            .find(|r| &r[0] == "ip_day")
            .unwrap();
        let written: f64 = row[6].parse().unwrap();
        assert_eq!(written, 2.0 * 100.0 / 2001.0, "{text}");
        assert!(written < 0.1, "{text}");
        assert_eq!(&row[7], "ok");
    }
}
