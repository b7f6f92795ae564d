//! `fbl store`: where the store is and what it holds, and the copy of a SQLite store into
//! PostgreSQL.

use super::{Context, Outcome, print_json};
use crate::store::{Location, Store, copy_store};
use anyhow::{Context as _, Result, bail};
use std::path::PathBuf;

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Say where the store is, its engine, schema version and how much it holds
    Info {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show a stored report: where and when it came, what it is, whom it names and how,
    /// and the parse result kept with it (the ids `fbl suppress show` gives as evidence)
    Report {
        id: i64,
        /// Write the raw message instead, byte for byte
        #[arg(long)]
        raw: bool,
    },
    /// List the stored complaints and unsubscribes that name nobody yet, with why (exit 1
    /// when there is one; `fbl sendlog import` and `fbl reattribute` may name them)
    Unattributed {
        /// Print as JSON
        #[arg(long)]
        json: bool,
    },
    /// Copy a SQLite store into a PostgreSQL one (idempotent: run it again after an
    /// interruption), then check that every table arrived whole
    Migrate {
        /// The SQLite store to copy
        #[arg(long, value_name = "PATH")]
        from: PathBuf,
        /// The PostgreSQL store to copy into (default: the configured store)
        #[arg(long, value_name = "URL")]
        to: Option<String>,
        /// Print the counts as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(context: &Context, command: StoreCommand) -> Result<Outcome> {
    match command {
        StoreCommand::Info { json } => {
            let store = context.open_store_for_reading()?;
            // The version and the counts from one snapshot of the store.
            let (schema_version, counts) =
                store.read_snapshot(|store| Ok((store.schema_version()?, store.counts()?)))?;
            if json {
                print_json(&serde_json::json!({
                    "store": store.location().to_string(),
                    "engine": format!("{:?}", store.dialect()).to_lowercase(),
                    "schema_version": schema_version,
                    "counts": counts,
                }))?;
            } else {
                println!(
                    "store {} ({:?}, schema version {})",
                    store.location(),
                    store.dialect(),
                    schema_version
                );
                println!(
                    "  {} reports, {} complainants, {} quarantined, {} suppressed, {} history entries, {} send-log entries",
                    counts.reports,
                    counts.complainants,
                    counts.quarantined,
                    counts.suppressions,
                    counts.history,
                    counts.send_log
                );
            }
            Ok(Outcome::Clean)
        }
        StoreCommand::Report { id, raw } => {
            let store = context.open_store_for_reading()?;
            if raw {
                // A stored report's bytes came from outside as a quarantined one's did.
                super::refuse_raw_to_terminal(&format!("fbl store report {id}"))?;
                let Some(bytes) = store.report_raw(id)? else {
                    bail!("no stored report with id {id}");
                };
                std::io::Write::write_all(&mut std::io::stdout(), &bytes)
                    .context("cannot write to standard output")?;
            } else {
                let Some(report) = store.stored_report(id)? else {
                    bail!("no stored report with id {id}");
                };
                print_json(&report)?;
            }
            Ok(Outcome::Clean)
        }
        StoreCommand::Unattributed { json } => {
            let store = context.open_store_for_reading()?;
            let reports = store.unattributed_reports()?;
            if json {
                print_json(&reports)?;
            } else {
                let mut out = std::io::stdout().lock();
                super::terminal_header(
                    &mut out,
                    &["REPORT", "REPORTED", "REPORTER", "ORIGIN", "WHY NOBODY"],
                )?;
                drop(out);
                for report in &reports {
                    println!(
                        "{}\t{}\t{}\t{}\t{}",
                        report.id,
                        report.reported_at,
                        report.reporter,
                        report.origin,
                        report.reason
                    );
                }
            }
            Ok(if reports.is_empty() {
                Outcome::Clean
            } else {
                Outcome::Attention
            })
        }
        StoreCommand::Migrate { from, to, json } => {
            let target = match to {
                Some(url)
                    if !url.starts_with("postgres://") && !url.starts_with("postgresql://") =>
                {
                    bail!(
                        "fbl store migrate copies into PostgreSQL: --to takes a postgres:// or \
                         postgresql:// URL, not {url:?} (a SQLite store is copied with its file, \
                         fbl closed)"
                    );
                }
                Some(url) => Location::Postgres(crate::store::PostgresConfig {
                    url,
                    ..context.config.store.postgres().unwrap_or_default()
                }),
                None => context.db.clone(),
            };
            if !matches!(target, Location::Postgres(_)) {
                bail!(
                    "fbl store migrate copies into PostgreSQL: give --to postgres://... or set [store] url"
                );
            }
            if !from.exists() {
                bail!("no SQLite store at {}", from.display());
            }
            let mut source = Store::open(&from)?;
            source.set_lock_wait(context.lock_wait.unwrap_or_default());
            // Nothing may write to the source while it is copied.
            let _lock = source.lock()?;
            let mut target = Store::open_at(&target)?;
            // Rows copied of each table on a terminal; nothing under cron.
            let mut progress = super::progress::TerminalProgress::stderr();
            let copied = copy_store(&source, &mut target, &mut progress).with_context(|| {
                format!("copying {} into {}", from.display(), target.location())
            })?;
            if json {
                print_json(&copied)?;
            } else {
                println!("copied {} into {}:", from.display(), target.location());
                for table in &copied {
                    if table.skipped {
                        println!(
                            "  {:<22} {:>10} rows, all there already (skipped), counts match",
                            table.table, table.source
                        );
                    } else {
                        println!(
                            "  {:<22} {:>10} rows, {:>10} copied now, counts match",
                            table.table, table.source, table.copied
                        );
                    }
                }
            }
            Ok(Outcome::Clean)
        }
    }
}
