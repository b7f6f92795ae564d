//! The HTML report: one self-contained page (inline CSS and SVG, no script, no external
//! asset, no network) that a person would rather look at than read the table. Charts:
//! complaint rate per IP over time with the threshold lines, fbl's level and SNDS's filter
//! result per IP and day as heat strips with Outlook.com blocks marked beside them, and
//! complaints per reporter.

use super::rate_cell;
use crate::outlook_codes::BlockClass;
use crate::rates::{
    ComplaintReport, IpDay, Level, RateRow, VolumeSource, counted, more_complaints_than_messages,
    percent, rated_text,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, Write};

/// Lines drawn in the rate chart; more would be unreadable.
const CHART_IPS: usize = 8;
/// Rows of the heat strips.
const STRIP_IPS: usize = 40;
/// Rows of each table.
const TABLE_ROWS: usize = 50;

const PALETTE: [&str; CHART_IPS] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2",
];

/// Text for HTML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn level_colour(level: Level) -> &'static str {
    match level {
        Level::NotJudged => "#cfd8dc",
        Level::Ok => "#43a047",
        Level::Warn => "#fb8c00",
        Level::Critical => "#e53935",
    }
}

fn snds_colour(colour: &str) -> &'static str {
    match colour {
        "green" => "#43a047",
        "yellow" => "#fdd835",
        "red" => "#e53935",
        _ => "#9e9e9e",
    }
}

const STYLE: &str = "
:root { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #212121; }
body { margin: 0 auto; max-width: 1100px; padding: 16px 24px 48px; background: #fafafa; }
h1 { font-size: 1.6em; margin: 0.2em 0; }
h2 { font-size: 1.2em; margin: 1.6em 0 0.4em; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
p.meta { color: #555; margin: 0.2em 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid #e0e0e0; border-radius: 6px; padding: 10px 14px; min-width: 120px; }
.card .value { font-size: 1.5em; font-weight: 600; }
.card .label { color: #666; font-size: 0.85em; }
.level { display: inline-block; padding: 1px 8px; border-radius: 10px; color: #fff; font-size: 0.85em; }
.level.critical { background: #e53935; } .level.warn { background: #fb8c00; }
.level.ok { background: #43a047; } .level.not_judged { background: #90a4ae; }
table { border-collapse: collapse; background: #fff; width: 100%; font-size: 0.9em; }
th, td { border-bottom: 1px solid #eee; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
th.n, td.n { text-align: right; font-variant-numeric: tabular-nums; }
ul.alerts { padding-left: 0; list-style: none; }
ul.alerts li { margin: 4px 0; }
svg { background: #fff; border: 1px solid #e0e0e0; border-radius: 6px; max-width: 100%; height: auto; }
svg text { font-size: 11px; fill: #424242; }
.note { color: #666; font-size: 0.9em; }
footer { margin-top: 3em; color: #888; font-size: 0.85em; }
";

pub fn write(report: &ComplaintReport, out: &mut dyn Write) -> io::Result<()> {
    let mut page = String::with_capacity(256 * 1024);
    page_into(report, &mut page).map_err(io::Error::other)?;
    out.write_all(page.as_bytes())
}

fn badge(level: Level) -> String {
    format!(
        "<span class=\"level {}\">{}</span>",
        level.as_str(),
        level.as_str().replace('_', " ")
    )
}

fn page_into(report: &ComplaintReport, page: &mut String) -> std::fmt::Result {
    let w = &report.window;
    let t = &report.thresholds;
    let o = &report.overview;
    write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>fbl complaint report {} to {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&w.from_day),
        esc(&w.to_day)
    )?;
    writeln!(
        page,
        "<header><h1>Complaint report</h1>\
         <p class=\"meta\">Worst level: {} &nbsp; {} to {} ({}), generated {}.</p>\
         <p class=\"meta\">Thresholds: warn at {}%, critical at {}%; a rate is judged only over {} or more, whatever it covers: an IP's or a reporter's day, a window's total, a campaign, a list or a domain.</p></header>",
        badge(o.worst_level),
        esc(&w.from_day),
        esc(&w.to_day),
        counted(w.days.into(), "day", "days"),
        esc(&report.generated_at),
        t.warn_percent,
        t.critical_percent,
        counted(t.min_volume, "message", "messages")
    )?;

    page.push_str("<section class=\"cards\" id=\"overview\">\n");
    let mut card = |value: String, label: &str| {
        let _ = writeln!(
            page,
            "<div class=\"card\"><div class=\"value\">{value}</div><div class=\"label\">{}</div></div>",
            esc(label)
        );
    };
    card(o.complaints.to_string(), "complaints");
    card(o.unattributed.to_string(), "unattributed");
    card(o.ips_critical.to_string(), "IPs critical");
    card(o.ips_warn.to_string(), "IPs warn");
    card(o.ips_blocked.to_string(), "IPs blocked by Outlook.com");
    card(o.ips_throttled.to_string(), "IPs throttled");
    if report.snds.available {
        card(report.snds.trap_hits.to_string(), "SNDS trap hits");
    }
    if report.foreign_ips.configured {
        card(
            report.foreign_ips.complaints.to_string(),
            "complaints about other IPs",
        );
    }
    page.push_str("</section>\n");

    page.push_str("<section id=\"alerts\"><h2>Alerts</h2>\n");
    let alert_from = crate::rates::alert_days_from(w);
    writeln!(
        page,
        "<p class=\"note\">Complaint rates at warn or critical, and Outlook.com blocks and throttling, from {} to {}: {}. SNDS's alerts (an IP turned YELLOW or RED, trap hits, a range blocked or unblocked) are told by <code>fbl run</code> when it fetches them and are not repeated in this list; what SNDS shows for these days is below it.</p>",
        esc(&alert_from),
        esc(&w.to_day),
        match report.alerts.len() {
            0 => "none".to_string(),
            1 => "1 alert".to_string(),
            n => format!("{n} alerts"),
        }
    )?;
    if !report.alerts.is_empty() {
        page.push_str("<ul class=\"alerts\">\n");
        let alerts = crate::rates::worst_alerts_first(&report.alerts);
        for alert in alerts.iter().take(TABLE_ROWS / 2) {
            writeln!(
                page,
                "<li>{} {}</li>",
                badge(alert.level),
                esc(&alert.message)
            )?;
        }
        page.push_str("</ul>\n");
        if alerts.len() > TABLE_ROWS / 2 {
            writeln!(
                page,
                "<p class=\"note\">{} in the JSON output.</p>",
                counted(
                    (alerts.len() - TABLE_ROWS / 2) as u64,
                    "more alert",
                    "more alerts"
                )
            )?;
        }
    }
    let snds = snds_events(report, &alert_from);
    if !snds.is_empty() {
        page.push_str("<p>SNDS in the same days (a day's data beside the UTC day its window mostly covers, as below; <code>fbl run</code> names it by the day it starts on):</p>\n<ul class=\"alerts\">\n");
        for event in &snds {
            writeln!(page, "<li>{}</li>", esc(event))?;
        }
        page.push_str("</ul>\n");
    }
    page.push_str("</section>\n");

    let days = w.each_day();
    page.push_str("<section id=\"rate-chart\"><h2>Complaint rate per IP</h2>\n");
    rate_chart(report, &days, page)?;
    page.push_str("</section>\n");
    page.push_str(
        "<section id=\"level-strip\"><h2>Level per IP and day, with Outlook.com blocks</h2>\n",
    );
    strip(report, &days, Strip::Level, page)?;
    page.push_str("</section>\n");
    page.push_str("<section id=\"snds-strip\"><h2>SNDS filter result per IP and day</h2>\n");
    if report.snds.available && report.ip_days.iter().any(|d| d.snds.is_some()) {
        strip(report, &days, Strip::Snds, page)?;
    } else {
        page.push_str("<p class=\"note\">No SNDS data stored for these days (see <code>fbl snds fetch</code>).</p>\n");
    }
    page.push_str("</section>\n");
    page.push_str("<section id=\"reporters\"><h2>Complaints per reporter</h2>\n");
    reporter_bars(&report.reporters, page)?;
    page.push_str("</section>\n");

    ip_table(report, page)?;
    blocks_table(report, page)?;
    for (id, title, rows) in [
        ("campaigns", "Campaigns", &report.campaigns),
        ("lists", "Lists", &report.lists),
        ("domains", "Recipient domains", &report.recipient_domains),
    ] {
        rate_table(id, title, rows, page)?;
    }
    if report.complaints_without_campaign > 0 {
        writeln!(
            page,
            "<p class=\"note\">{} could not be placed in a campaign through the send log.</p>",
            counted(
                report.complaints_without_campaign,
                "complaint",
                "complaints"
            )
        )?;
    }
    page.push_str("<section id=\"unattributed\"><h2>Unattributed complaints</h2>\n");
    writeln!(
        page,
        "<p>{} without a complainant address.</p>",
        counted(report.unattributed.complaints, "complaint", "complaints")
    )?;
    if !report.unattributed.top_reasons.is_empty() {
        page.push_str("<table><thead><tr><th class=\"n\">complaints</th><th>reason</th></tr></thead><tbody>\n");
        for reason in &report.unattributed.top_reasons {
            writeln!(
                page,
                "<tr><td class=\"n\">{}</td><td>{}</td></tr>",
                reason.complaints,
                esc(&reason.reason)
            )?;
        }
        page.push_str("</tbody></table>\n");
    }
    page.push_str("</section>\n");
    if report.foreign_ips.configured {
        page.push_str("<section id=\"foreign\"><h2>Complaints about IPs that are not yours</h2>\n");
        if report.foreign_ips.ips.is_empty() {
            page.push_str("<p class=\"note\">Every complaint names one of your sending IPs.</p>\n");
        } else {
            page.push_str("<table><thead><tr><th>ip</th><th class=\"n\">complaints</th></tr></thead><tbody>\n");
            for ip in report.foreign_ips.ips.iter().take(TABLE_ROWS) {
                writeln!(
                    page,
                    "<tr><td>{}</td><td class=\"n\">{}</td></tr>",
                    esc(&ip.ip),
                    ip.complaints
                )?;
            }
            page.push_str("</tbody></table>\n");
        }
        page.push_str("</section>\n");
    }
    if report.snds.available && !report.snds.ip_status.is_empty() {
        page.push_str("<section id=\"ip-status\"><h2>SNDS ipStatus</h2>\n<table><thead><tr><th>range</th><th>status</th><th>since</th><th>details</th></tr></thead><tbody>\n");
        for s in &report.snds.ip_status {
            writeln!(
                page,
                "<tr><td>{} – {}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.first_ip),
                esc(&s.last_ip),
                if s.blocked { "blocked" } else { "listed" },
                esc(&s.since),
                esc(&s.details)
            )?;
        }
        page.push_str("</tbody></table></section>\n");
    }
    if !report.mailboxes.is_empty() {
        page.push_str("<section id=\"mailboxes\"><h2>Feedback mailboxes</h2>\n<table><thead><tr><th>mailbox</th><th>folder</th><th>last complete read</th></tr></thead><tbody>\n");
        for m in &report.mailboxes {
            writeln!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&m.mailbox),
                esc(&m.folder),
                esc(m.last_success_at.as_deref().unwrap_or("never"))
            )?;
        }
        page.push_str("</tbody></table></section>\n");
    }
    writeln!(
        page,
        "<footer>Written by fbl. An IP's volume for a day comes from the send log, which rates every complaint; where the send log has nothing for the IP and day, from SNDS, which counts Outlook.com recipients only and so rates Microsoft's complaints alone. SNDS's colour and trap hits are shown, not judged; an IP Outlook.com blocked in the window (in a bounce or send log, or listed as blocked by SNDS ipStatus) is critical whatever its volume, throttling warn. A rate marked ! is over 100%: more complaints than messages, the send log incomplete; it is never judged. Complaints count on the day they were reported.</footer>\n</body>\n</html>"
    )
}

/// What SNDS shows from `from` on, as the alerts of `fbl run` would name it: per IP, its
/// YELLOW and RED days and trap hits; the ranges ipStatus lists as blocked.
fn snds_events(report: &ComplaintReport, from: &str) -> Vec<String> {
    let mut out = Vec::new();
    if !report.snds.available {
        return out;
    }
    for (ip, days) in by_ip(report) {
        let recent: Vec<(&str, &crate::rates::SndsDay)> = days
            .iter()
            .filter(|d| d.day.as_str() >= from)
            .filter_map(|d| d.snds.as_ref().map(|s| (d.day.as_str(), s)))
            .collect();
        for colour in ["red", "yellow"] {
            let on: Vec<&str> = recent
                .iter()
                .filter(|(_, s)| s.filter_result == colour)
                .map(|(day, _)| *day)
                .collect();
            if !on.is_empty() {
                out.push(format!(
                    "{ip}: {} on {}",
                    colour.to_uppercase(),
                    on.join(", ")
                ));
            }
        }
        let traps: Vec<String> = recent
            .iter()
            .filter(|(_, s)| s.trap_hits > 0)
            .map(|(day, s)| format!("{} on {day}", s.trap_hits))
            .collect();
        if !traps.is_empty() {
            out.push(format!("{ip}: trap hits {}", traps.join(", ")));
        }
    }
    for status in report.snds.ip_status.iter().filter(|s| s.blocked) {
        out.push(format!(
            "{} – {}: blocked by Outlook.com since {} ({})",
            status.first_ip, status.last_ip, status.since, status.details
        ));
    }
    out
}

/// A day's position in the window.
fn day_index(days: &[String]) -> BTreeMap<&str, usize> {
    days.iter()
        .enumerate()
        .map(|(i, d)| (d.as_str(), i))
        .collect()
}

fn by_ip(report: &ComplaintReport) -> BTreeMap<&str, Vec<&IpDay>> {
    let mut map: BTreeMap<&str, Vec<&IpDay>> = BTreeMap::new();
    for day in &report.ip_days {
        map.entry(day.ip.as_str()).or_default().push(day);
    }
    map
}

/// A round number at or above `value` for the top of an axis.
fn nice_ceiling(value: f64) -> f64 {
    if value <= 0.0 {
        return 1.0;
    }
    let magnitude = 10f64.powf(value.log10().floor());
    for step in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if step * magnitude >= value {
            return step * magnitude;
        }
    }
    10.0 * magnitude
}

fn rate_chart(report: &ComplaintReport, days: &[String], page: &mut String) -> std::fmt::Result {
    let per_ip = by_ip(report);
    let chosen: Vec<&str> = report
        .ips
        .iter()
        .filter(|ip| {
            per_ip
                .get(ip.ip.as_str())
                .is_some_and(|d| d.iter().any(|d| d.level > Level::NotJudged))
        })
        .take(CHART_IPS)
        .map(|ip| ip.ip.as_str())
        .collect();
    if chosen.is_empty() {
        page.push_str(
            "<p class=\"note\">No IP had enough messages on any day for a rate to be judged.</p>\n",
        );
        return Ok(());
    }
    let t = &report.thresholds;
    let highest = chosen
        .iter()
        .flat_map(|ip| per_ip[ip].iter())
        .filter(|d| d.level > Level::NotJudged)
        .filter_map(|d| d.rate_percent)
        .fold(t.critical_percent * 1.2, f64::max);
    let top = nice_ceiling(highest);
    let (width, height) = (900.0, 320.0);
    let (left, right, upper, lower) = (56.0, 16.0, 16.0, 40.0);
    let plot_w = width - left - right;
    let plot_h = height - upper - lower;
    let step = if days.len() > 1 {
        plot_w / (days.len() - 1) as f64
    } else {
        0.0
    };
    let x = |i: usize| left + step * i as f64;
    let y = |rate: f64| upper + plot_h * (1.0 - (rate / top).min(1.0));
    let index = day_index(days);
    writeln!(
        page,
        "<svg viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" role=\"img\" aria-labelledby=\"rate-title\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"rate-title\">Complaint rate per IP and day, in percent, with the warn and critical thresholds</title>"
    )?;
    // Axes and grid.
    for i in 0..=4 {
        let value = top * i as f64 / 4.0;
        let yy = y(value);
        writeln!(
            page,
            "<line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"#eeeeee\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}%</text>",
            width - right,
            left - 6.0,
            yy + 4.0,
            trim_number(value)
        )?;
    }
    let label_every = (days.len() / 8).max(1);
    for (i, day) in days.iter().enumerate() {
        if i % label_every == 0 || i + 1 == days.len() {
            writeln!(
                page,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x(i),
                height - lower + 16.0,
                esc(day.get(5..).unwrap_or(day))
            )?;
        }
    }
    writeln!(
        page,
        "<line x1=\"{left}\" y1=\"{upper}\" x2=\"{left}\" y2=\"{:.1}\" stroke=\"#9e9e9e\"/><line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#9e9e9e\"/>",
        height - lower,
        height - lower,
        width - right,
        height - lower
    )?;
    // Threshold lines.
    for (rate, colour, name) in [
        (t.warn_percent, "#fb8c00", "warn"),
        (t.critical_percent, "#e53935", "critical"),
    ] {
        let yy = y(rate);
        writeln!(
            page,
            "<g class=\"threshold {name}\"><line x1=\"{left}\" y1=\"{yy:.1}\" x2=\"{:.1}\" y2=\"{yy:.1}\" stroke=\"{colour}\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" style=\"fill:{colour}\">{name} {}%</text></g>",
            width - right,
            width - right - 4.0,
            yy - 4.0,
            trim_number(rate)
        )?;
    }
    // One line per IP, broken where a day is not judged.
    for (n, ip) in chosen.iter().enumerate() {
        let colour = PALETTE[n % PALETTE.len()];
        writeln!(page, "<g class=\"ip-line\"><title>{}</title>", esc(ip))?;
        let mut segment: Vec<(f64, f64)> = Vec::new();
        let mut previous: Option<usize> = None;
        let mut points = String::new();
        let flush = |segment: &mut Vec<(f64, f64)>, page: &mut String| {
            if segment.len() > 1 {
                let path: Vec<String> = segment
                    .iter()
                    .map(|(a, b)| format!("{a:.1},{b:.1}"))
                    .collect();
                let _ = writeln!(
                    page,
                    "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>",
                    path.join(" ")
                );
            }
            segment.clear();
        };
        for day in per_ip[ip].iter().filter(|d| d.level > Level::NotJudged) {
            let (Some(i), Some(rate)) = (index.get(day.day.as_str()).copied(), day.rate_percent)
            else {
                continue;
            };
            if previous.is_some_and(|p| p + 1 != i) {
                flush(&mut segment, page);
            }
            previous = Some(i);
            segment.push((x(i), y(rate)));
            write!(
                points,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"><title>{} {}: {} ({} in {})</title></circle>",
                x(i),
                y(rate),
                esc(ip),
                esc(&day.day),
                percent(day.rate_percent),
                esc(&rated_text(day)),
                counted(day.messages.unwrap_or(0), "message", "messages")
            )?;
        }
        flush(&mut segment, page);
        page.push_str(&points);
        page.push_str("</g>\n");
    }
    page.push_str("</svg>\n");
    // The legend, as HTML so that it wraps.
    page.push_str("<p class=\"legend\">");
    for (n, ip) in chosen.iter().enumerate() {
        write!(
            page,
            "<span style=\"color:{}\">&#9632;</span> {} &nbsp; ",
            PALETTE[n % PALETTE.len()],
            esc(ip)
        )?;
    }
    page.push_str("</p>\n");
    if report.ips.len() > chosen.len() {
        writeln!(
            page,
            "<p class=\"note\">{}; the tables and the JSON output have all {}.</p>",
            match chosen.len() {
                1 => "The worst IP with a judged day is drawn".to_string(),
                n => format!("The {n} worst IPs with a judged day are drawn"),
            },
            report.ips.len()
        )?;
    }
    Ok(())
}

fn trim_number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Strip {
    Level,
    Snds,
}

fn strip(
    report: &ComplaintReport,
    days: &[String],
    kind: Strip,
    page: &mut String,
) -> std::fmt::Result {
    let per_ip = by_ip(report);
    let rows: Vec<&str> = report
        .ips
        .iter()
        .map(|ip| ip.ip.as_str())
        .filter(|ip| match kind {
            Strip::Level => true,
            Strip::Snds => per_ip
                .get(ip)
                .is_some_and(|d| d.iter().any(|d| d.snds.is_some())),
        })
        .take(STRIP_IPS)
        .collect();
    if rows.is_empty() {
        page.push_str("<p class=\"note\">No IP in the window.</p>\n");
        return Ok(());
    }
    let index = day_index(days);
    let label_w = 150.0;
    let cell_w = (720.0 / days.len().max(1) as f64).clamp(4.0, 24.0);
    let cell_h = 14.0;
    let row_h = if kind == Strip::Level { 22.0 } else { 18.0 };
    let width = label_w + cell_w * days.len() as f64 + 90.0;
    let height = 24.0 + row_h * rows.len() as f64 + 24.0;
    let title = match kind {
        Strip::Level => {
            "fbl's level per IP and day; dark bars beneath mark Outlook.com blocks, purple bars throttling"
        }
        Strip::Snds => {
            "SNDS filter result per IP and day: green, yellow, red; grey is unknown, pale is no data"
        }
    };
    writeln!(
        page,
        "<svg viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\"><title>{title}</title>"
    )?;
    let label_every = (days.len() / 8).max(1);
    for (i, day) in days.iter().enumerate() {
        if i % label_every == 0 {
            writeln!(
                page,
                "<text x=\"{:.1}\" y=\"14\">{}</text>",
                label_w + cell_w * i as f64,
                esc(day.get(5..).unwrap_or(day))
            )?;
        }
    }
    let blocks_by_ip: BTreeMap<&str, Vec<&crate::rates::BlockEpisode>> =
        report.blocks.iter().fold(BTreeMap::new(), |mut map, b| {
            map.entry(b.ip.as_str()).or_insert_with(Vec::new).push(b);
            map
        });
    let summaries: BTreeMap<&str, &crate::rates::IpSummary> =
        report.ips.iter().map(|s| (s.ip.as_str(), s)).collect();
    for (r, ip) in rows.iter().enumerate() {
        let top = 24.0 + row_h * r as f64;
        writeln!(
            page,
            "<text x=\"4\" y=\"{:.1}\">{}</text>",
            top + 11.0,
            esc(ip)
        )?;
        // Empty cells first, so that missing days show.
        writeln!(
            page,
            "<rect x=\"{label_w}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{cell_h}\" fill=\"#f5f5f5\"/>",
            cell_w * days.len() as f64
        )?;
        for day in per_ip.get(ip).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(i) = index.get(day.day.as_str()).copied() else {
                continue;
            };
            let (fill, label) = match kind {
                Strip::Level => (
                    level_colour(day.level),
                    format!(
                        "{} {}: {} ({}, {}{}){}",
                        ip,
                        day.day,
                        day.level.as_str(),
                        rated_text(day),
                        day.messages
                            .map(|m| counted(m, "message", "messages"))
                            .unwrap_or_else(|| "unknown messages".into()),
                        match day.volume_source {
                            VolumeSource::Snds => " from SNDS, Outlook.com only",
                            VolumeSource::SendLog => " from the send log",
                            VolumeSource::None => "",
                        },
                        if more_complaints_than_messages(day.rate_percent) {
                            format!(": {}", crate::rates::MORE_COMPLAINTS_THAN_MESSAGES)
                        } else {
                            String::new()
                        }
                    ),
                ),
                Strip::Snds => match &day.snds {
                    Some(s) => (
                        snds_colour(&s.filter_result),
                        format!(
                            "{} {}: SNDS {} , complaint rate {}, {}, {}",
                            ip,
                            day.day,
                            s.filter_result,
                            s.complaint_rate,
                            counted(s.trap_hits, "trap hit", "trap hits"),
                            counted(s.message_recipients, "recipient", "recipients")
                        ),
                    ),
                    None => continue,
                },
            };
            writeln!(
                page,
                "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{cell_h}\" fill=\"{fill}\"><title>{}</title></rect>",
                label_w + cell_w * i as f64,
                (cell_w - 1.0).max(1.0),
                esc(&label)
            )?;
        }
        if kind == Strip::Level {
            for episode in blocks_by_ip.get(ip).map(Vec::as_slice).unwrap_or(&[]) {
                let first = episode.first_seen.get(..10).unwrap_or("");
                let last = episode.last_seen.get(..10).unwrap_or("");
                let from = days.iter().position(|d| d.as_str() >= first);
                let to = days.iter().rposition(|d| d.as_str() <= last);
                let (Some(from), Some(to)) = (from, to) else {
                    continue;
                };
                if to < from {
                    continue;
                }
                let colour = match episode.class {
                    BlockClass::Block => "#212121",
                    BlockClass::Throttle => "#7e57c2",
                };
                writeln!(
                    page,
                    "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"4\" fill=\"{colour}\"><title>{}</title></rect>",
                    label_w + cell_w * from as f64,
                    top + cell_h + 1.0,
                    cell_w * (to - from + 1) as f64 - 1.0,
                    esc(&format!(
                        "Outlook.com {} {} from {} to {}: {}",
                        episode.class.as_str(),
                        episode.codes.join(", "),
                        episode.first_seen,
                        episode.last_seen,
                        episode.last_text
                    ))
                )?;
            }
        }
        let mut marks: Vec<&str> = Vec::new();
        if let Some(summary) = summaries.get(ip) {
            if summary.snds_blocked {
                marks.push("SNDS blocked");
            }
            if kind == Strip::Level && summary.outlook_block.is_some() {
                marks.push("Outlook.com");
            }
        }
        if !marks.is_empty() {
            writeln!(
                page,
                "<text x=\"{:.1}\" y=\"{:.1}\" style=\"fill:#b71c1c\">{}</text>",
                label_w + cell_w * days.len() as f64 + 6.0,
                top + 11.0,
                esc(&marks.join(", "))
            )?;
        }
    }
    page.push_str("</svg>\n");
    if report.ips.len() > rows.len() && kind == Strip::Level {
        writeln!(
            page,
            "<p class=\"note\">The {} worst of {} IPs are shown.</p>",
            rows.len(),
            report.ips.len()
        )?;
    }
    Ok(())
}

fn reporter_bars(rows: &[RateRow], page: &mut String) -> std::fmt::Result {
    if rows.is_empty() {
        page.push_str("<p class=\"note\">No complaints in the window.</p>\n");
        return Ok(());
    }
    let mut rows: Vec<&RateRow> = rows.iter().collect();
    rows.sort_by(|a, b| {
        b.complaints
            .cmp(&a.complaints)
            .then_with(|| a.subject.cmp(&b.subject))
    });
    let most = rows.iter().map(|r| r.complaints).max().unwrap_or(1).max(1) as f64;
    let (label_w, bar_w, row_h) = (120.0, 560.0, 24.0);
    let width = label_w + bar_w + 200.0;
    let height = 12.0 + row_h * rows.len() as f64;
    writeln!(
        page,
        "<svg viewBox=\"0 0 {width:.0} {height:.0}\" width=\"{width:.0}\" height=\"{height:.0}\" role=\"img\" xmlns=\"http://www.w3.org/2000/svg\"><title>Complaints per reporter in the window</title>"
    )?;
    for (i, row) in rows.iter().enumerate() {
        let top = 6.0 + row_h * i as f64;
        let length = (bar_w * row.complaints as f64 / most).max(1.0);
        writeln!(
            page,
            "<text x=\"4\" y=\"{:.1}\">{}</text><rect x=\"{label_w}\" y=\"{top:.1}\" width=\"{length:.1}\" height=\"16\" fill=\"{}\"><title>{}: {} ({} rated), rate {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\">{} · {}</text>",
            top + 12.0,
            esc(&row.subject),
            match row.level {
                Level::NotJudged => "#5c6bc0",
                level => level_colour(level),
            },
            esc(&row.subject),
            counted(row.complaints, "complaint", "complaints"),
            row.rated_complaints,
            rate_cell(row.rate_percent),
            label_w + length + 6.0,
            top + 12.0,
            row.complaints,
            rate_cell(row.rate_percent)
        )?;
    }
    page.push_str("</svg>\n");
    Ok(())
}

fn ip_table(report: &ComplaintReport, page: &mut String) -> std::fmt::Result {
    page.push_str("<section id=\"ips\"><h2>IPs, worst first</h2>\n");
    if report.ips.is_empty() {
        page.push_str(
            "<p class=\"note\">No complaints, volumes or blocks in the window.</p></section>\n",
        );
        return Ok(());
    }
    page.push_str("<table><thead><tr><th>ip</th><th class=\"n\">complaints</th><th class=\"n\">messages</th><th class=\"n\">rate</th><th>level</th><th>worst day</th><th class=\"n\">worst rate</th><th>SNDS</th><th class=\"n\">trap hits</th><th>blocked</th></tr></thead><tbody>\n");
    for ip in report.ips.iter().take(TABLE_ROWS) {
        let mut blocked: Vec<String> = Vec::new();
        if let Some(code) = &ip.outlook_block {
            blocked.push(format!("Outlook.com {code}"));
        }
        if ip.snds_blocked {
            blocked.push("SNDS ipStatus".to_string());
        }
        let name = match ip.sending_ip {
            Some(false) => format!("{} (not yours)", ip.ip),
            _ => ip.ip.clone(),
        };
        writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&name),
            esc(&super::ip_complaints(ip)),
            ip.messages
                .map(|m| m.to_string())
                .unwrap_or_else(|| "–".into()),
            rate_cell(ip.rate_percent),
            badge(ip.level),
            esc(ip.worst_day.as_deref().unwrap_or("–")),
            rate_cell(ip.worst_day_rate_percent),
            esc(ip.snds_filter_result.as_deref().unwrap_or("–")),
            ip.trap_hits,
            esc(&blocked.join(", "))
        )?;
    }
    page.push_str("</tbody></table>\n");
    if report
        .ips
        .iter()
        .take(TABLE_ROWS)
        .any(|ip| super::ip_complaints(ip) != ip.complaints.to_string())
    {
        writeln!(page, "<p class=\"note\">{}.</p>", esc(super::RATED_NOTE))?;
    }
    if report.ips.iter().take(TABLE_ROWS).any(|ip| {
        more_complaints_than_messages(ip.rate_percent)
            || more_complaints_than_messages(ip.worst_day_rate_percent)
    }) {
        writeln!(
            page,
            "<p class=\"note\">{}.</p>",
            esc(&super::more_complaints_note())
        )?;
    }
    if report.ips.len() > TABLE_ROWS {
        writeln!(
            page,
            "<p class=\"note\">{} in the CSV and JSON output.</p>",
            counted(
                (report.ips.len() - TABLE_ROWS) as u64,
                "more IP",
                "more IPs"
            )
        )?;
    }
    page.push_str("</section>\n");
    Ok(())
}

fn blocks_table(report: &ComplaintReport, page: &mut String) -> std::fmt::Result {
    page.push_str("<section id=\"blocks\"><h2>Outlook.com blocks and throttling</h2>\n");
    if report.blocks.is_empty() {
        page.push_str("<p class=\"note\">No Outlook.com block or deferral codes seen in bounces or the send log.</p></section>\n");
        return Ok(());
    }
    page.push_str("<table><thead><tr><th>ip</th><th>class</th><th>codes</th><th>meaning</th><th>first seen</th><th>last seen</th><th class=\"n\">seen</th><th>SNDS</th><th>last text</th></tr></thead><tbody>\n");
    for e in report.blocks.iter().rev().take(TABLE_ROWS) {
        writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>",
            esc(if e.ip.is_empty() { "unknown" } else { &e.ip }),
            e.class.as_str(),
            esc(&e.codes.join(", ")),
            esc(&e.meaning),
            esc(&e.first_seen),
            esc(&e.last_seen),
            e.sightings,
            if e.snds_blocked { "blocked" } else { "–" },
            esc(&e.last_text)
        )?;
    }
    page.push_str("</tbody></table></section>\n");
    Ok(())
}

fn rate_table(id: &str, title: &str, rows: &[RateRow], page: &mut String) -> std::fmt::Result {
    writeln!(page, "<section id=\"{id}\"><h2>{}</h2>", esc(title))?;
    if rows.is_empty() {
        page.push_str("<p class=\"note\">No complaints could be placed here.</p></section>\n");
        return Ok(());
    }
    page.push_str("<table><thead><tr><th>name</th><th class=\"n\">complaints</th><th class=\"n\">messages</th><th class=\"n\">rate</th><th>level</th></tr></thead><tbody>\n");
    for row in rows.iter().take(TABLE_ROWS) {
        writeln!(
            page,
            "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&row.subject),
            esc(&super::row_complaints(row)),
            row.messages
                .map(|m| m.to_string())
                .unwrap_or_else(|| "–".into()),
            rate_cell(row.rate_percent),
            badge(row.level)
        )?;
    }
    page.push_str("</tbody></table>\n");
    if rows
        .iter()
        .take(TABLE_ROWS)
        .any(|r| more_complaints_than_messages(r.rate_percent))
    {
        writeln!(
            page,
            "<p class=\"note\">{}.</p>",
            esc(&super::more_complaints_note())
        )?;
    }
    if rows
        .iter()
        .take(TABLE_ROWS)
        .any(|r| super::row_complaints(r) != r.complaints.to_string())
    {
        writeln!(page, "<p class=\"note\">{}.</p>", esc(super::RATED_NOTE))?;
    }
    page.push_str("</section>\n");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_store_is_escaped() {
        assert_eq!(
            esc("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_ceiling(0.36), 0.5);
        assert_eq!(nice_ceiling(0.21), 0.25);
        assert_eq!(nice_ceiling(3.2), 5.0);
        assert_eq!(nice_ceiling(0.0), 1.0);
    }
}
