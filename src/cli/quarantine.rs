//! `fbl quarantine`: look at what could not be processed, and try it again.

use super::{Context, Outcome, print_json};
use crate::ingest::{Ingester, Outcome as IngestOutcome, Summary};
use crate::mail_source::Incoming;
use crate::suppression::escape_field;
use anyhow::{Result, bail};
use std::io::Write;

/// Inspect and retry quarantined input (messages fbl could not process; kept with their
/// bytes and the reason).
#[derive(Debug, clap::Subcommand)]
pub enum QuarantineCommand {
    /// List quarantined messages: id, time, size, origin, reason. The size is the message's;
    /// of an oversized message only the head is kept (the reason says how much)
    List {
        /// Also list messages released: stored by a retry, or another delivery of their
        /// report stored
        #[arg(long)]
        all: bool,
        /// Print the entries as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show one quarantined message's details, or its raw bytes with --raw (of an oversized
    /// message, the head that was kept; standard error says so)
    Show {
        id: i64,
        /// Write the raw message to standard output
        #[arg(long)]
        raw: bool,
    },
    /// Close quarantined messages a person looked at and found need nothing done (mail that
    /// is no report, a test, spam sent to the feedback address), with the reason. Their bytes
    /// stay (`fbl quarantine show ID --raw`, `list --all`); nothing is suppressed. Ids not
    /// quarantined, or closed already, are said, exit 1
    Dismiss {
        /// Ids to close (`fbl quarantine list`)
        #[arg(required = true)]
        ids: Vec<i64>,
        /// Why, kept with them
        #[arg(long)]
        reason: String,
    },
    /// Process quarantined messages again (after an upgrade or a configuration change).
    /// Exit 1 when some stay in quarantine.
    Retry {
        /// Ids to retry; all when none are given
        ids: Vec<i64>,
        /// Take these messages although `[trust]` does not (a forward by a colleague, a
        /// request from an unknown provider): a person looked at them (`fbl quarantine show
        /// ID --raw`) and vouches for them. Needs the ids; every other check still applies
        #[arg(long)]
        trusted: bool,
        /// Print the outcome as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(context: &Context, command: QuarantineCommand) -> Result<Outcome> {
    let mut store = match command {
        QuarantineCommand::List { .. } | QuarantineCommand::Show { .. } => {
            context.open_store_for_reading()?
        }
        _ => context.open_existing_store()?,
    };
    match command {
        QuarantineCommand::List { all, json } => {
            // Written as read, a row (a JSON element) at a time: a quarantine of 100,000
            // messages is never held in memory, and the output is what printing the whole
            // list at once gave.
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            if json {
                let mut first = true;
                store.quarantine_each(all, |e| {
                    // `serde_json::to_string_pretty` of the list: each element indented by
                    // two spaces (a JSON string holds no line break of its own).
                    let element = serde_json::to_string_pretty(&e)?;
                    out.write_all(if first { b"[\n" } else { b",\n" })?;
                    first = false;
                    for (n, line) in element.lines().enumerate() {
                        if n > 0 {
                            out.write_all(b"\n")?;
                        }
                        write!(out, "  {line}")?;
                    }
                    Ok(())
                })?;
                out.write_all(if first { b"[]\n" } else { b"\n]\n" })?;
            } else {
                super::terminal_header(
                    &mut out,
                    &["ID", "QUARANTINED", "SIZE", "ORIGIN", "REASON"],
                )?;
                store.quarantine_each(all, |e| {
                    // An origin is a file's path, which may hold a tab or a line break, and a
                    // reason may quote the message: escaped, so that neither starts a field
                    // or a row of its own (nor sends the terminal an escape sequence).
                    writeln!(
                        out,
                        "{}\t{}\t{} bytes\t{}\t{}{}",
                        e.id,
                        e.quarantined_at,
                        e.size,
                        escape_field(&e.origin),
                        escape_field(&e.reason),
                        match (&e.released_at, e.report_id, &e.dismissed) {
                            (Some(at), Some(report), _) => {
                                format!("\t(released {at}, stored as report {report})")
                            }
                            (Some(at), None, Some(why)) => {
                                format!("\t(dismissed {at}: {})", escape_field(why))
                            }
                            (Some(at), None, None) => format!("\t(released {at})"),
                            (None, _, _) => String::new(),
                        }
                    )?;
                    Ok(())
                })?;
            }
            // Dropping the buffer would lose a failed last write (a full disk, a closed pipe).
            out.flush()?;
            Ok(Outcome::Clean)
        }
        QuarantineCommand::Show { id, raw } => {
            let Some((entry, bytes)) = store.quarantined(id)? else {
                bail!("no quarantined message with id {id}");
            };
            if raw {
                super::refuse_raw_to_terminal(&format!("fbl quarantine show {id}"))?;
                // The bytes as kept; that they are not the whole message goes to standard
                // error, so that it is seen and standard output stays the exact bytes.
                if entry.size > bytes.len() as u64 {
                    eprintln!(
                        "fbl: quarantined message {id} keeps only the first {} of its {} bytes",
                        bytes.len(),
                        entry.size
                    );
                }
                std::io::stdout().write_all(&bytes)?;
            } else {
                print_json(&entry)?;
            }
            Ok(Outcome::Clean)
        }
        QuarantineCommand::Dismiss { ids, reason } => {
            let reason = reason.trim();
            if reason.is_empty() {
                bail!("--reason is empty: say why these need nothing done; nothing was dismissed");
            }
            let _lock = store.lock()?;
            let mut batch = store.begin()?;
            let mut not_open = Vec::new();
            let mut dismissed = 0;
            for &id in &ids {
                if batch.dismiss_quarantined(id, reason, &context.now)? {
                    dismissed += 1;
                } else {
                    not_open.push(id.to_string());
                }
            }
            batch.commit()?;
            println!("{dismissed} dismissed");
            if !not_open.is_empty() {
                eprintln!(
                    "fbl: not in quarantine (unknown, released or dismissed already; `fbl \
                     quarantine list --all`): {}",
                    not_open.join(", ")
                );
                return Ok(Outcome::Attention);
            }
            Ok(Outcome::Clean)
        }
        QuarantineCommand::Retry { ids, trusted, json } => {
            if trusted && ids.is_empty() {
                bail!(
                    "--trusted takes the messages a person looked at: name their ids (`fbl \
                     quarantine list`); nothing was retried"
                );
            }
            let _lock = store.lock()?;
            let attribution = super::parse::attribution_from(&context.config)?;
            let ingester = Ingester {
                attribution: &attribution,
                policy: &context.config.suppression,
                now: &context.now,
                dry_run: false,
                trust: if trusted {
                    None
                } else {
                    context.config.trust.as_ref()
                },
            };
            let ids: Vec<i64> = if ids.is_empty() {
                // Their ids only: not every entry's origin and reason at once.
                let mut open = Vec::new();
                store.quarantine_each(false, |e| {
                    open.push(e.id);
                    Ok(())
                })?;
                open
            } else {
                ids
            };
            // Every id is checked before any is retried: a typo among several must not
            // leave the ones before it retried and the ones after it not.
            let mut unknown = Vec::new();
            let mut released = Vec::new();
            for &id in &ids {
                match store.quarantined(id)? {
                    None => unknown.push(id.to_string()),
                    Some((entry, _)) if entry.released_at.is_some() => {
                        released.push((id, entry.report_id))
                    }
                    Some(_) => {}
                }
            }
            if !unknown.is_empty() {
                bail!(
                    "no quarantined message with id {}; nothing was retried (`fbl quarantine \
                     list --all` lists them)",
                    unknown.join(", ")
                );
            }
            let mut summary = Summary::default();
            let mut still = Vec::new();
            for id in ids {
                if released.iter().any(|&(released, _)| released == id) {
                    continue;
                }
                let Some((entry, raw)) = store.quarantined(id)? else {
                    bail!("no quarantined message with id {id}");
                };
                // Only the head of an oversized message is kept: it is never parsed as if it
                // were the message, and stays in quarantine.
                let oversized = (entry.size > raw.len() as u64).then_some(entry.size);
                let incoming = Incoming {
                    origin: entry.origin.clone(),
                    raw,
                    oversized,
                };
                let mut batch = store.begin()?;
                let outcome = ingester.ingest_one(&mut batch, &incoming, &mut summary)?;
                batch.commit()?;
                if let IngestOutcome::Quarantined(reason) = outcome {
                    still.push(format!("{id}: {reason}"));
                }
            }
            if json {
                print_json(&summary)?;
            } else {
                println!(
                    "{} retried: {} stored, {} still quarantined",
                    summary.messages,
                    summary.stored + summary.duplicates,
                    still.len()
                );
                for line in &still {
                    println!("  {line}");
                }
                for (id, report) in &released {
                    match report {
                        Some(report) => {
                            println!("  {id}: released already, stored as report {report}")
                        }
                        None => println!("  {id}: released already"),
                    }
                }
            }
            Ok(if still.is_empty() {
                Outcome::Clean
            } else {
                Outcome::Attention
            })
        }
    }
}
