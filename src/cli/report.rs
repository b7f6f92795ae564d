//! `fbl report`: complaint rates, thresholds and Outlook.com blocks; `fbl report delist`.

use super::{Context, Outcome};
use crate::config::MAX_REPORT_DAYS;
use crate::delist::{PacketFormat, Redaction, packet};
use crate::ingest::{Kept, store_failure};
use crate::rates::Level;
use crate::report_render::{ReportFormat, render};
use crate::reporting;
use anyhow::{Result, bail};
use std::io::Write;
use std::path::PathBuf;

/// Complaint rates per IP and day (messages from the send log; where it has none, SNDS's
/// Outlook.com volume against Microsoft's complaints alone), per reporter and
/// day, per campaign and list (through the send log) and per recipient domain, judged against
/// the [report] thresholds (warn 0.1%, critical 0.3%; nothing is judged below min_volume
/// messages, be it a day, a window's total, a campaign, a list or a domain); SNDS
/// filter result, complaint band and trap hits beside fbl's own figure; unattributed
/// complaints and why; complaints about IPs outside [report] sending_ips; Outlook.com blocks
/// (5xx) and throttling (4xx) found in bounces and send logs.
///
/// Formats: table (default), csv, json (schemas/report-output.schema.json), html (one
/// self-contained page with charts), prometheus (node_exporter textfile).
///
/// Exit status: 0; 1 with --fail-on when the worst figure or block of the window is at that
/// level or worse (an Outlook.com block counts as critical, throttling as warn), or when the
/// --output file replaced had a group fbl's user could not give it (said, with the fix); 2
/// fatal.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReportArgs {
    #[command(subcommand)]
    pub command: Option<ReportCommand>,
    /// Days covered, ending today (UTC) [default: [report] days, else 30]
    #[arg(long, value_name = "N")]
    pub days: Option<u32>,
    /// table, csv, json, html or prometheus
    #[arg(long, default_value = "table")]
    pub format: ReportFormat,
    /// Write to this file, atomically, instead of standard output; a link is followed and
    /// its target replaced; `-`, /dev/stdout and /dev/fd/N are written to as they are open
    /// (a `>>` redirection is appended to). The store and the configuration file are refused
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Exit 1 when anything in the window is at this level or worse: warn or critical
    #[arg(long, value_name = "LEVEL")]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Warn,
    Critical,
}

#[derive(Debug, clap::Subcommand)]
pub enum ReportCommand {
    Delist(DelistArgs),
}

/// The evidence Microsoft's sender support form asks for about a blocked IP, from the
/// store: when the block began and its bounce texts, SNDS history and ipStatus, complaint
/// rates by day, how fast complainants were suppressed, the suppression list size, the
/// feedback loops, and example headers of a recent message (recipients redacted). Plain
/// text or Markdown, ready to paste.
#[derive(Debug, clap::Args)]
pub struct DelistArgs {
    /// The blocked IP
    #[arg(long)]
    pub ip: String,
    /// Days of history
    #[arg(long, value_name = "N", default_value_t = 90)]
    pub days: u32,
    /// Markdown instead of plain text
    #[arg(long)]
    pub markdown: bool,
    /// Write to this file, atomically, instead of standard output; the store and the
    /// configuration file are refused
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
}

fn check_days(days: u32) -> Result<u32> {
    if days == 0 || days > MAX_REPORT_DAYS {
        bail!("--days must be 1 to {MAX_REPORT_DAYS}, not {days}");
    }
    Ok(days)
}

/// Writes text to a file atomically, or to standard output. A file replaced that had a
/// group fbl's user could not give the new version (a web server's user read it through
/// that group) is said on standard error, naming the fix, as an export's: true when so.
fn emit(
    output: Option<&PathBuf>,
    what: &str,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<bool> {
    match output {
        Some(path) => {
            // Its folder must exist, as an export's: a mistyped folder is an error.
            let ((), lost) = crate::atomic_file::write_atomically_keeping_group(path, write)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            if let Some(lost) = &lost {
                eprintln!("fbl: {what}: {}", lost.message());
            }
            Ok(lost.is_some())
        }
        None => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            write(&mut out)?;
            out.flush()?;
            Ok(false)
        }
    }
}

pub fn run(context: &Context, args: ReportArgs) -> Result<Outcome> {
    // An output that is the store or the configuration file is refused before the store is
    // touched, as an export's is.
    // `-` is standard output, as for an export.
    let output = match &args.command {
        Some(ReportCommand::Delist(delist)) => delist.output.as_deref(),
        None => args.output.as_deref(),
    }
    .map(super::export::output_path);
    if let Some(output) = &output {
        super::export::check_outputs(context, &[("--output".to_owned(), output.clone())], false)?;
    }
    let mut store = context.open_store_for_reading()?;
    // New bounces are searched for blocks and the summaries brought up to date first,
    // unless a running fbl holds the store (it does the same), or this fbl may not write it
    // (a backup in a read-only place, a newer fbl's store): its figures are then those the
    // last `fbl run` or `fbl report` that wrote it brought up to date.
    if let Some(why) = store.read_only_reason() {
        eprintln!(
            "fbl: store {} read as it is ({why}): the report's figures are those the last \
             `fbl run` or `fbl report` that wrote it brought up to date (what was ingested or \
             imported after it is left out)",
            store.location()
        );
    } else if let Ok(_lock) = store.lock() {
        let place = store.location().to_string();
        reporting::scan_bounces(&mut store, &context.now)
            .and_then(|_| store.refresh_report_summaries())
            .map_err(|error| store_failure(error, &place, Kept::Summaries))?;
    }
    if let Some(ReportCommand::Delist(delist)) = args.command {
        let ip = match delist.ip.trim().parse::<std::net::IpAddr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => bail!("--ip {:?} is not an IP address", delist.ip),
        };
        let input = reporting::delist_input(
            &store,
            &context.config,
            &ip,
            check_days(delist.days)?,
            &context.now,
        )?;
        let format = if delist.markdown {
            PacketFormat::Markdown
        } else {
            PacketFormat::Text
        };
        let text = packet(&input, format, &Redaction::new(&context.config.attribution));
        let lost = emit(output.as_ref(), "report delist", |out| {
            out.write_all(text.as_bytes())
        })?;
        return Ok(if lost {
            Outcome::Attention
        } else {
            Outcome::Clean
        });
    }
    let settings = reporting::settings(&context.config);
    let days = check_days(args.days.unwrap_or(settings.days))?;
    let report = reporting::build(&store, &settings, days, &context.now)?;
    let what = format!("report {}", args.format);
    let lost = emit(output.as_ref(), &what, |out| {
        render(args.format, &report, out)
    })?;
    // Its readers through the group (said above) need a person, as --fail-on's figures do.
    if lost {
        return Ok(Outcome::Attention);
    }
    let limit = match args.fail_on {
        None => return Ok(Outcome::Clean),
        Some(FailOn::Warn) => Level::Warn,
        Some(FailOn::Critical) => Level::Critical,
    };
    Ok(if report.overview.worst_level >= limit {
        Outcome::Attention
    } else {
        Outcome::Clean
    })
}
