//! `fbl export`: write the suppression list for a list manager.

use super::{Context, Outcome, print_json};
use crate::export::{AddressHash, ExportFormat, ExportOptions};
use crate::run::{ExportScope, write_configured_export, write_export_files};
use anyhow::{Result, bail};
use std::path::PathBuf;

/// Write the suppression list in a list manager's format, atomically (a temporary file in
/// the same folder, renamed into place), in address order. Without --format, writes every
/// [[export]] of the configuration. Formats: plain, csv, jsonl, listmonk, mautic, phplist,
/// mailman, mailman-json, ses, ses-jsonl, mailgun, postmark, postfix.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Output format
    #[arg(long)]
    pub format: Option<ExportFormat>,
    /// Output file (required with --format)
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Also write removed and expired addresses to this file, in the same format
    #[arg(long)]
    pub removed_output: Option<PathBuf>,
    /// Write addresses as lowercase SHA-256 hex
    #[arg(long)]
    pub hash: Option<AddressHash>,
    /// Only entries changed after this RFC 3339 time
    #[arg(long, conflicts_with = "changed_since_last")]
    pub since: Option<String>,
    /// Only entries changed since fbl last wrote this output
    #[arg(long)]
    pub changed_since_last: bool,
    /// Print what was written as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(context: &Context, args: ExportArgs) -> Result<Outcome> {
    let mut store = context.open_existing_store()?;
    let _lock = store.lock()?;
    if let Some(since) = &args.since {
        chrono::DateTime::parse_from_rfc3339(since)
            .map_err(|_| anyhow::anyhow!("--since {since:?} is not an RFC 3339 time"))?;
    }
    let scope = ExportScope {
        since: args.since.clone(),
        changed_since_last: args.changed_since_last,
    };
    let written = match (args.format, &args.output) {
        (Some(format), Some(output)) => vec![write_export_files(
            &mut store,
            format,
            &ExportOptions { hash: args.hash },
            output,
            args.removed_output.as_deref(),
            &scope,
            &context.now,
        )?],
        (Some(_), None) => bail!("--format needs --output PATH"),
        (None, Some(_)) => bail!("--output needs --format FORMAT"),
        (None, None) => {
            if context.config.exports.is_empty() {
                bail!("no [[export]] in the configuration; give --format and --output");
            }
            context
                .config
                .exports
                .iter()
                .map(|export| write_configured_export(&mut store, export, &scope, &context.now))
                .collect::<Result<Vec<_>>>()?
        }
    };
    for w in &written {
        if let Some(note) = left_out_note(w) {
            eprintln!("fbl: {note}");
        }
    }
    if args.json {
        print_json(&written)?;
    } else if super::stdout_is_terminal() {
        for w in &written {
            println!(
                "{} entries in {} to {}",
                w.entries,
                w.format,
                w.path.display()
            );
        }
    }
    Ok(Outcome::Clean)
}

/// The line that says which suppressed addresses an export left out, when it left out any.
/// The export does not fail: every other address is in the file, and the next run says it
/// again for as long as they are on the list.
pub fn left_out_note(written: &crate::run::ExportWritten) -> Option<String> {
    let first = written.first_left_out.as_deref()?;
    Some(format!(
        "export {} {}: {} suppressed address{} left out (first: {first}): postmap reads a \
         line that begins with # as a comment, so reject {} another way",
        written.format,
        written.path.display(),
        written.left_out,
        if written.left_out == 1 { "" } else { "es" },
        if written.left_out == 1 { "it" } else { "them" },
    ))
}
