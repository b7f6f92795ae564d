//! `fbl sendlog`: import the sender's own log of what was sent to whom, the only way to
//! attribute a complaint that carries just a Message-ID or an opaque id.

use super::{Context, Outcome, print_json};
use crate::ingest::Ingester;
use crate::sendlog::{ReadOptions, SendLogFormat, read_send_log};
use anyhow::{Context as _, Result};
use chrono::{Datelike, Offset};
use serde::Serialize;
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

#[derive(Debug, Default, Serialize)]
struct Imported {
    entries: u64,
    added: u64,
    already_known: u64,
    bad_lines: u64,
    pruned: u64,
    reattributed: u64,
    suppressions_added: u64,
    /// The first bad lines, with the reason.
    errors: Vec<String>,
}

pub fn run(context: &Context, command: SendlogCommand) -> Result<Outcome> {
    match command {
        SendlogCommand::Import { file, format, json } => import(context, file, format, json),
    }
}

fn import(context: &Context, file: PathBuf, format: SendLogFormat, json: bool) -> Result<Outcome> {
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
    let now = chrono::DateTime::parse_from_rfc3339(&context.now)?;
    let options = ReadOptions {
        year: now.year(),
        offset: chrono::Local::now().offset().fix(),
    };
    let mut imported = Imported::default();
    let mut batch = store.begin()?;
    for (n, item) in read_send_log(format, input, &options).enumerate() {
        match item {
            Ok(entry) => {
                imported.entries += 1;
                if batch.add_send_log(&entry, &context.now)? {
                    imported.added += 1;
                } else {
                    imported.already_known += 1;
                }
            }
            Err(error) => {
                imported.bad_lines += 1;
                if imported.errors.len() < 20 {
                    imported.errors.push(format!("{}: {error}", file.display()));
                }
            }
        }
        // Commit in slices so a huge log neither holds one giant transaction nor loses
        // much on a crash; re-importing is idempotent.
        if n % 50_000 == 49_999 {
            batch.commit()?;
            batch = store.begin()?;
        }
    }
    let cutoff = now.with_timezone(&chrono::Utc)
        - chrono::Duration::days(context.config.send_log.retention_days as i64);
    imported.pruned = batch.prune_send_log(&super::rfc3339(cutoff))?;
    batch.commit()?;

    let attribution = super::parse::attribution_from(&context.config)?;
    let ingester = Ingester {
        attribution: &attribution,
        policy: &context.config.suppression,
        now: &context.now,
    };
    let reattributed = ingester.reattribute(&mut store)?;
    imported.reattributed = reattributed.attributed;
    imported.suppressions_added = reattributed.suppressions_added;

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
