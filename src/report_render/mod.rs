//! The formats of a complaint report: a terminal table, CSV, JSON, one self-contained HTML
//! page with inline SVG charts, and a Prometheus textfile. Pure: each takes the
//! `ComplaintReport` value and a `Write`.

mod csv;
mod html;
mod prometheus;
mod table;

use crate::rates::ComplaintReport;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};

/// How to write a report. The names are the ones used on the command line and in the
/// configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// A readable table for the terminal.
    Table,
    /// One row per figure, with a `section` column.
    Csv,
    /// The whole report (`schemas/report-output.schema.json`).
    Json,
    /// One self-contained page with inline SVG charts, no external assets.
    Html,
    /// A textfile for node_exporter's textfile collector.
    Prometheus,
}

impl ReportFormat {
    pub const ALL: [ReportFormat; 5] = [
        ReportFormat::Table,
        ReportFormat::Csv,
        ReportFormat::Json,
        ReportFormat::Html,
        ReportFormat::Prometheus,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Table => "table",
            ReportFormat::Csv => "csv",
            ReportFormat::Json => "json",
            ReportFormat::Html => "html",
            ReportFormat::Prometheus => "prometheus",
        }
    }
}

impl std::str::FromStr for ReportFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<ReportFormat, String> {
        ReportFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown report format `{text}` (expected table, csv, json, html or prometheus)"
                )
            })
    }
}

impl std::fmt::Display for ReportFormat {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// Complaints as a table shows them: with, when the rate is not over all of them (some fell
/// on days whose volume is not known, or on days rated by SNDS's Outlook.com-only volume,
/// which rates Microsoft's alone), how many it is taken over ("9 (6 rated)" beside 2
/// messages and 300 %), so that the row's figures agree with each other.
fn rated(complaints: u64, rated_complaints: u64, messages: Option<u64>) -> String {
    if messages.is_some() && rated_complaints != complaints {
        format!("{complaints} ({rated_complaints} rated)")
    } else {
        complaints.to_string()
    }
}

/// An IP's complaints over the window, as `rated` shows them.
fn ip_complaints(ip: &crate::rates::IpSummary) -> String {
    rated(ip.complaints, ip.rated_complaints, ip.messages)
}

/// A reporter's, campaign's, list's or domain's complaints, as `rated` shows them.
fn row_complaints(row: &crate::rates::RateRow) -> String {
    rated(row.complaints, row.rated_complaints, row.messages)
}

/// A rate as a table or the HTML page shows it: cut to three decimals, and flagged with `!`
/// when there are more complaints than messages (`MORE_COMPLAINTS_NOTE` says why).
fn rate_cell(rate: Option<f64>) -> String {
    let text = crate::rates::percent(rate);
    if crate::rates::more_complaints_than_messages(rate) {
        format!("{text} !")
    } else {
        text
    }
}

/// The note beneath a table that shows a flagged rate.
fn more_complaints_note() -> String {
    format!("!: {}", crate::rates::MORE_COMPLAINTS_THAN_MESSAGES)
}

/// What the "rated" of a table means, for a note beneath it.
const RATED_NOTE: &str = "rated: the complaints of the days whose volume is known, over those days' messages; on a day only SNDS counts (Outlook.com recipients), Microsoft's complaints alone";

/// Writes the report in one format.
pub fn render(
    format: ReportFormat,
    report: &ComplaintReport,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        ReportFormat::Table => table::write(report, out),
        ReportFormat::Csv => csv::write(report, out),
        ReportFormat::Json => {
            // serde_json writes a few bytes at a time (a quote, a key, an indent): into a
            // buffer of a known type, each is a copy; through `dyn Write`, a call. At 90
            // days over 1,000,000 complaints (42 MB of JSON) that took 991 M instructions
            // to 677 M (BENCHMARKS.md, "`fbl report` over 1,000,000 complaints").
            let mut buffered = io::BufWriter::with_capacity(64 * 1024, out);
            serde_json::to_writer_pretty(&mut buffered, report)?;
            buffered.write_all(b"\n")?;
            buffered.flush()
        }
        ReportFormat::Html => html::write(report, out),
        ReportFormat::Prometheus => prometheus::write(report, out),
    }
}
