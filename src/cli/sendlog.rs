//! `fbl sendlog`: import the sender's own log of what was sent to whom, the only way to
//! attribute a complaint that carries just a Message-ID or an opaque id.

use super::{Context, Outcome, print_json};
use crate::ingest::Ingester;
use crate::run::import_send_log;
use crate::sendlog::SendLogFormat;
use anyhow::{Context as _, Result};
use std::io::BufRead;
use std::path::PathBuf;

/// Import and manage the send log.
#[derive(Debug, clap::Subcommand)]
pub enum SendlogCommand {
    /// Import a send log (idempotent: entries already known are skipped), prune entries
    /// older than [send_log] retention_days, then attribute again the stored complaints
    /// that had no complainant. Formats: csv and jsonl (columns message_id, recipient and
    /// optional id, campaign, list, source_ip, sent_at), postfix (mail logs: message-id
    /// from cleanup joined with status=sent deliveries by queue id). Exit 1 when some
    /// lines could not be read.
    Import {
        /// The log file, or `-` for standard input
        file: PathBuf,
        #[arg(long)]
        format: SendLogFormat,
        #[arg(long)]
        json: bool,
    },
}

pub fn run(context: &Context, command: SendlogCommand) -> Result<Outcome> {
    let SendlogCommand::Import { file, format, json } = command;
    let mut store = context.open_store()?;
    let _lock = store.lock()?;
    let input: Box<dyn BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::BufReader::new(std::io::stdin()))
    } else {
        Box::new(std::io::BufReader::with_capacity(
            256 * 1024,
            std::fs::File::open(&file)
                .with_context(|| format!("cannot read {}", file.display()))?,
        ))
    };
    let attribution = super::parse::attribution_from(&context.config)?;
    let ingester = Ingester {
        attribution: &attribution,
        policy: &context.config.suppression,
        now: &context.now,
        dry_run: false,
        trust: context.config.trust.as_ref(),
    };
    let imported = import_send_log(
        &mut store,
        &ingester,
        format,
        input,
        &file.display().to_string(),
        context.config.send_log.retention_days,
    )?;
    if json {
        print_json(&imported)?;
    } else {
        println!(
            "{} entries read: {} added, {} already known, {} bad lines; {} pruned; {} stored complaints attributed now ({} suppressions added)",
            imported.entries,
            imported.added,
            imported.already_known,
            imported.bad_lines,
            imported.pruned,
            imported.reattributed,
            imported.suppressions_added
        );
        for error in &imported.errors {
            println!("  {error}");
        }
    }
    Ok(if imported.bad_lines > 0 {
        Outcome::Attention
    } else {
        Outcome::Clean
    })
}
