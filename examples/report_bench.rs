//! Builds a store of 1,000,000 complaints across 1,000 IPs and 90 days (with a send log of
//! the complained messages, SNDS rows for every IP and day, and a few Outlook.com blocks),
//! then times `fbl report`'s work in-process: the default report (30 days, table) and the
//! 90-day report in every format, best of three runs each.
//!
//! Run it in release: `cargo run --release --example report_bench [STORE]`. Without STORE
//! the store is a temporary file; with it, the store is kept (built only when missing), so
//! the binary can be timed too: `time target/release/fbl --db STORE report`.
//! The store takes about 1.7 GB and one to seven minutes to build, as loaded as the machine
//! is; the first report step after the build then summarises every complaint once (10 to
//! 35 s so far: BENCHMARKS.md, "`fbl report` over 1,000,000 complaints").

use fbl::config::ReportConfig;
use fbl::outlook_codes::BlockClass;
use fbl::report::{Format, Kind, Recipient, Report, Reporter, Via};
use fbl::report_render::{ReportFormat, render};
use fbl::sendlog::SendLogEntry;
use fbl::snds::{ComplaintBand, FilterColor, SndsDataRow};
use fbl::store::{NewBlockEvent, NewReport, Store, sha256};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const COMPLAINTS: usize = 1_000_000;
const IPS: usize = 1_000;
const DAYS: usize = 90;
/// The day after the last day of data: the report's "now".
const NOW: &str = "2026-11-20T08:00:00Z";
const RUNS: usize = 3;
/// Complaints per transaction while building.
const BATCH: usize = 20_000;

const REPORTERS: [Reporter; 4] = [
    Reporter::Microsoft,
    Reporter::Yahoo,
    Reporter::Aol,
    Reporter::Validity,
];
const DOMAINS: [&str; 6] = [
    "outlook.com",
    "hotmail.com",
    "yahoo.com",
    "aol.com",
    "comcast.net",
    "example.org",
];

/// The benchmarking range of RFC 2544: 198.18.0.0/15.
fn ip(n: usize) -> String {
    format!("198.18.{}.{}", n / 256, n % 256)
}

fn day(n: usize) -> String {
    let first = chrono::NaiveDate::from_ymd_opt(2026, 8, 22).unwrap();
    (first + chrono::Duration::days(n as i64))
        .format("%Y-%m-%d")
        .to_string()
}

fn build(path: &Path) -> anyhow::Result<()> {
    let clock = Instant::now();
    let mut store = Store::open(path)?;
    let mut batch = store.begin()?;
    for i in 0..COMPLAINTS {
        let ip_n = (i * 7919) % IPS;
        let day_n = (i / 13) % DAYS;
        let reporter = REPORTERS[i % REPORTERS.len()];
        let address = format!("subscriber{i}@{}", DOMAINS[i % DOMAINS.len()]);
        let message_id = format!("{i}.{ip_n}@mta.sender.example");
        let sent_at = format!("{}T{:02}:{:02}:00Z", day(day_n), i % 24, i % 60);
        let attributed = i % 10 != 0;
        let mut report = Report::empty(Kind::Complaint, Format::Arf, reporter);
        report.report_date = Some(format!("{}T{:02}:30:00Z", day(day_n), (i + 3) % 24));
        report.feedback_type = Some("abuse".into());
        report.source_ip = Some(ip(ip_n));
        report.message_id = Some(message_id.clone());
        if attributed {
            report.recipients.push(Recipient {
                address: Some(address.clone()),
                id: None,
                via: Via::OriginalRcptTo,
            });
        } else {
            report.redacted = i % 20 == 0;
            report.attribution_notes.push(
                if report.redacted {
                    "the provider redacted the complainant and no sender identifier was found"
                } else {
                    "no complainant address and no sender identifier found"
                }
                .into(),
            );
        }
        let raw = format!(
            "Message-ID: <{message_id}>\r\nSource-IP: {}\r\n\r\nbench {i}\r\n",
            ip(ip_n)
        );
        batch.store_report(&NewReport {
            packed: None,
            raw: raw.as_bytes(),
            sha256: sha256(raw.as_bytes()),
            content_key: None,
            origin: "bench",
            report: &report,
            ingested_at: NOW,
        })?;
        batch.add_send_log(
            &SendLogEntry {
                message_id: Some(message_id),
                recipient: address,
                id: None,
                campaign: Some(format!("campaign-{}", i % 40)),
                list: Some(format!("list-{}", i % 7)),
                source_ip: Some(ip(ip_n)),
                sent_at: Some(sent_at),
            },
            NOW,
        )?;
        if i % BATCH == BATCH - 1 {
            batch.commit()?;
            batch = store.begin()?;
            eprint!("\rcomplaints: {}", i + 1);
        }
    }
    eprintln!();
    // SNDS: one row per IP and day, 5,000 to 20,000 recipients.
    for ip_n in 0..IPS {
        for day_n in 0..DAYS {
            let (m, d, y) = {
                let d = chrono::NaiveDate::parse_from_str(&day(day_n), "%Y-%m-%d").unwrap();
                use chrono::Datelike;
                (d.month(), d.day(), d.year())
            };
            let colour = match (ip_n + day_n) % 50 {
                0 => FilterColor::Red,
                1..=4 => FilterColor::Yellow,
                _ => FilterColor::Green,
            };
            let row = SndsDataRow {
                ip: ip(ip_n).parse().unwrap(),
                activity_start_raw: format!("{m}/{d}/{y} 12:00 AM"),
                activity_end_raw: format!("{m}/{d}/{y} 11:59 PM"),
                activity_start: None,
                activity_end: None,
                rcpt_commands: 0,
                data_commands: 0,
                message_recipients: 5_000 + ((ip_n * 31 + day_n * 17) % 15_000) as u64,
                filter_result: colour,
                filter_result_raw: format!("{colour:?}").to_uppercase(),
                complaint_rate_raw: "< 0.1%".into(),
                complaint_rate: ComplaintBand::BelowPointOne,
                trap_period_start_raw: String::new(),
                trap_period_end_raw: String::new(),
                trap_period_start: None,
                trap_period_end: None,
                trap_hits: ((ip_n + day_n) % 97 == 0) as u64 * 3,
                sample_helo: None,
                jmr_p1_sender: None,
                comments: None,
            };
            batch.upsert_snds_row("bench", &day(day_n), &row, NOW)?;
        }
    }
    // A handful of Outlook.com blocks.
    for n in 0..50 {
        let seen_at = format!("{}T10:00:00Z", day(DAYS - 1 - n % 10));
        let ip = ip(n * 13);
        batch.add_block_event(&NewBlockEvent {
            ip: &ip,
            code: if n % 3 == 0 { "RP-001" } else { "S3140" },
            class: if n % 3 == 0 {
                BlockClass::Throttle
            } else {
                BlockClass::Block
            },
            reply: Some(if n % 3 == 0 { 421 } else { 550 }),
            status: None,
            text: "550 5.7.1 Unfortunately, messages from [198.18.0.13] weren't sent. (S3140)",
            recipient: "",
            seen_at: &seen_at,
            source: "bounce",
            report_id: None,
            found_at: NOW,
        })?;
    }
    batch.commit()?;
    eprintln!(
        "built {} in {:.1} s",
        path.display(),
        clock.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The shortest of `RUNS` timings of `work`.
fn best_of(mut work: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..RUNS {
        let clock = Instant::now();
        work()?;
        best = best.min(clock.elapsed());
    }
    Ok(best)
}

fn main() -> anyhow::Result<()> {
    let temporary = tempfile::tempdir()?;
    let path: PathBuf = match std::env::args_os().nth(1) {
        Some(path) => PathBuf::from(path),
        None => temporary.path().join("bench.sqlite"),
    };
    if !path.exists() {
        build(&path)?;
    }
    let mut store = Store::open(&path)?;
    let clock = Instant::now();
    store.refresh_report_summaries()?;
    println!(
        "summaries brought up to date in {:.1} s (once, after the build)",
        clock.elapsed().as_secs_f64()
    );
    let time = best_of(|| store.refresh_report_summaries())?;
    println!("summaries with nothing new: {:.3} s", time.as_secs_f64());
    let settings = ReportConfig::default();
    let mut sink = std::io::sink();
    let time = best_of(|| {
        let report = fbl::reporting::build(&store, &settings, 30, NOW)?;
        render(ReportFormat::Table, &report, &mut sink)?;
        Ok(())
    })?;
    println!(
        "default report (30 days, table): {:.3} s",
        time.as_secs_f64()
    );
    let report = fbl::reporting::build(&store, &settings, 90, NOW)?;
    println!(
        "90 days: {} complaints, {} IPs, {} IP-days",
        report.overview.complaints,
        report.ips.len(),
        report.ip_days.len()
    );
    for format in ReportFormat::ALL {
        let time = best_of(|| {
            let report = fbl::reporting::build(&store, &settings, 90, NOW)?;
            let mut out = Vec::new();
            render(format, &report, &mut out)?;
            Ok(())
        })?;
        println!("90-day report, {format}: {:.3} s", time.as_secs_f64());
    }
    Ok(())
}
