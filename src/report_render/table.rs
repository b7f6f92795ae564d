//! The terminal table: the overview, alerts, the worst IPs, reporters, campaigns, lists,
//! domains, unattributed complaints, foreign IPs, Outlook.com blocks, SNDS and mailboxes.

use crate::rates::{ComplaintReport, RateRow, counted, more_complaints_than_messages};
use std::io::{self, Write};

/// Rows shown per section; CSV and JSON have them all.
const MAX_ROWS: usize = 20;

/// Columns aligned to their widest cell; numbers to the right.
struct Table {
    headers: Vec<&'static str>,
    right: Vec<bool>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(columns: &[(&'static str, bool)]) -> Table {
        Table {
            headers: columns.iter().map(|c| c.0).collect(),
            right: columns.iter().map(|c| c.1).collect(),
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate() {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| -> String {
            let mut text = String::from(" ");
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                text.push(' ');
                if self.right[i] {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(cell);
                } else {
                    text.push_str(cell);
                    if i + 1 < cells.len() {
                        text.push_str(&" ".repeat(pad));
                    }
                }
                text.push(' ');
            }
            text.trim_end().to_string()
        };
        let headers: Vec<String> = self.headers.iter().map(|h| h.to_string()).collect();
        writeln!(out, "{}", line(&headers))?;
        for row in &self.rows {
            writeln!(out, "{}", line(row))?;
        }
        Ok(())
    }
}

fn count(n: Option<u64>) -> String {
    n.map(|n| n.to_string()).unwrap_or_else(|| "-".to_string())
}

fn clip(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_string()
    } else {
        let mut clipped: String = text.chars().take(chars.saturating_sub(1)).collect();
        clipped.push('…');
        clipped
    }
}

fn rate_table(title: &str, rows: &[RateRow], out: &mut dyn Write) -> io::Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    writeln!(out, "\n{title}")?;
    let mut table = Table::new(&[
        ("name", false),
        ("complaints", true),
        ("messages", true),
        ("rate", true),
        ("level", false),
    ]);
    for row in rows.iter().take(MAX_ROWS) {
        table.row(vec![
            clip(&row.subject, 40),
            super::row_complaints(row),
            count(row.messages),
            super::rate_cell(row.rate_percent),
            row.level.as_str().to_string(),
        ]);
    }
    table.write(out)?;
    if rows.len() > MAX_ROWS {
        writeln!(
            out,
            "  ({} more; --format csv or json lists them all)",
            rows.len() - MAX_ROWS
        )?;
    }
    if rows
        .iter()
        .take(MAX_ROWS)
        .any(|r| super::row_complaints(r) != r.complaints.to_string())
    {
        writeln!(out, "  ({})", super::RATED_NOTE)?;
    }
    if rows
        .iter()
        .take(MAX_ROWS)
        .any(|r| more_complaints_than_messages(r.rate_percent))
    {
        writeln!(out, "  ({})", super::more_complaints_note())?;
    }
    Ok(())
}

pub fn write(report: &ComplaintReport, out: &mut dyn Write) -> io::Result<()> {
    let w = &report.window;
    let t = &report.thresholds;
    let o = &report.overview;
    writeln!(
        out,
        "fbl complaint report {} to {} ({}), generated {}",
        w.from_day,
        w.to_day,
        counted(w.days.into(), "day", "days"),
        report.generated_at
    )?;
    writeln!(
        out,
        "thresholds: warn {}%, critical {}%, judged over {} or more (a day, a window's total, a campaign, a list, a domain); worst: {}",
        t.warn_percent,
        t.critical_percent,
        counted(t.min_volume, "message", "messages"),
        o.worst_level.as_str()
    )?;
    writeln!(
        out,
        "complaints: {} ({} attributed, {} unattributed, {} without a source IP); IPs: {} ({} critical, {} warn); Outlook.com: {} blocked, {} throttled",
        o.complaints,
        o.attributed,
        o.unattributed,
        o.complaints_without_source_ip,
        o.ips,
        o.ips_critical,
        o.ips_warn,
        o.ips_blocked,
        o.ips_throttled
    )?;

    if !report.alerts.is_empty() {
        writeln!(
            out,
            "\nalerts, worst first (complaint rates and Outlook.com blocks, {} to {}; SNDS's are told by fbl run)",
            crate::rates::alert_days_from(w),
            w.to_day
        )?;
        let alerts = crate::rates::worst_alerts_first(&report.alerts);
        for alert in alerts.iter().take(MAX_ROWS) {
            writeln!(out, "  {:<8} {}", alert.level.as_str(), alert.message)?;
        }
        if alerts.len() > MAX_ROWS {
            writeln!(
                out,
                "  ({} more; --format csv or json lists them all)",
                alerts.len() - MAX_ROWS
            )?;
        }
    }

    if !report.ips.is_empty() {
        writeln!(out, "\nIPs, worst first")?;
        let mut table = Table::new(&[
            ("ip", false),
            ("complaints", true),
            ("messages", true),
            ("rate", true),
            ("level", false),
            ("worst day", false),
            ("worst rate", true),
            ("snds", false),
            ("traps", true),
            ("blocked", false),
        ]);
        for ip in report.ips.iter().take(MAX_ROWS) {
            let mut blocked: Vec<String> = Vec::new();
            if let Some(code) = &ip.outlook_block {
                blocked.push(code.clone());
            }
            if ip.snds_blocked {
                blocked.push("snds".to_string());
            }
            let name = match ip.sending_ip {
                Some(false) => format!("{} (not ours)", ip.ip),
                _ => ip.ip.clone(),
            };
            table.row(vec![
                name,
                super::ip_complaints(ip),
                count(ip.messages),
                super::rate_cell(ip.rate_percent),
                ip.level.as_str().to_string(),
                ip.worst_day.clone().unwrap_or_else(|| "-".to_string()),
                super::rate_cell(ip.worst_day_rate_percent),
                ip.snds_filter_result
                    .clone()
                    .unwrap_or_else(|| "-".to_string()),
                ip.trap_hits.to_string(),
                if blocked.is_empty() {
                    "-".to_string()
                } else {
                    blocked.join(", ")
                },
            ]);
        }
        table.write(out)?;
        if report.ips.len() > MAX_ROWS {
            writeln!(
                out,
                "  ({}; --format csv or json lists them all)",
                counted((report.ips.len() - MAX_ROWS) as u64, "more IP", "more IPs")
            )?;
        }
        if report
            .ips
            .iter()
            .take(MAX_ROWS)
            .any(|ip| super::ip_complaints(ip) != ip.complaints.to_string())
        {
            writeln!(out, "  ({})", super::RATED_NOTE)?;
        }
        if report.ips.iter().take(MAX_ROWS).any(|ip| {
            more_complaints_than_messages(ip.rate_percent)
                || more_complaints_than_messages(ip.worst_day_rate_percent)
        }) {
            writeln!(out, "  ({})", super::more_complaints_note())?;
        }
    }

    rate_table("reporters", &report.reporters, out)?;
    rate_table(
        &format!(
            "campaigns (through the send log; {} not placed)",
            counted(
                report.complaints_without_campaign,
                "complaint",
                "complaints"
            )
        ),
        &report.campaigns,
        out,
    )?;
    rate_table("lists", &report.lists, out)?;
    rate_table("recipient domains", &report.recipient_domains, out)?;

    if report.unattributed.complaints > 0 {
        writeln!(
            out,
            "\nunattributed complaints: {}",
            report.unattributed.complaints
        )?;
        for reason in &report.unattributed.top_reasons {
            writeln!(out, "  {:>8}  {}", reason.complaints, reason.reason)?;
        }
    }
    if report.foreign_ips.configured && report.foreign_ips.complaints > 0 {
        writeln!(
            out,
            "\ncomplaints about IPs outside [report] sending_ips: {}",
            report.foreign_ips.complaints
        )?;
        for ip in report.foreign_ips.ips.iter().take(MAX_ROWS) {
            writeln!(out, "  {:>8}  {}", ip.complaints, ip.ip)?;
        }
    }

    if !report.blocks.is_empty() {
        writeln!(out, "\nOutlook.com blocks and throttling")?;
        let mut table = Table::new(&[
            ("ip", false),
            ("class", false),
            ("codes", false),
            ("first seen", false),
            ("last seen", false),
            ("seen", true),
            ("snds", false),
            ("last text", false),
        ]);
        for episode in report.blocks.iter().rev().take(MAX_ROWS) {
            table.row(vec![
                if episode.ip.is_empty() {
                    "unknown".to_string()
                } else {
                    episode.ip.clone()
                },
                episode.class.as_str().to_string(),
                episode.codes.join(", "),
                episode.first_seen.clone(),
                episode.last_seen.clone(),
                episode.sightings.to_string(),
                if episode.snds_blocked { "blocked" } else { "-" }.to_string(),
                clip(&episode.last_text, 60),
            ]);
        }
        table.write(out)?;
    }

    if report.snds.available {
        writeln!(
            out,
            "\nSNDS: {}; {} red, {} yellow on their latest day",
            counted(report.snds.trap_hits, "trap hit", "trap hits"),
            counted(report.snds.ips_red, "IP", "IPs"),
            report.snds.ips_yellow
        )?;
        for status in &report.snds.ip_status {
            writeln!(
                out,
                "  ipStatus {}-{}: {} since {} ({})",
                status.first_ip,
                status.last_ip,
                if status.blocked { "blocked" } else { "listed" },
                status.since,
                status.details
            )?;
        }
    } else {
        writeln!(out, "\nSNDS: no data stored")?;
    }
    if !report.mailboxes.is_empty() {
        writeln!(out, "\nmailboxes, last complete read")?;
        for mailbox in &report.mailboxes {
            writeln!(
                out,
                "  {} {}: {}",
                mailbox.mailbox,
                mailbox.folder,
                mailbox.last_success_at.as_deref().unwrap_or("never")
            )?;
        }
    }
    Ok(())
}
