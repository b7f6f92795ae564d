//! `fbl run`: the one command for cron.

use super::{Context, Outcome, Progress, print_json, stdout_is_terminal};
use anyhow::Result;

/// Process every configured source, expire suppressions, prune the send log, write every
/// configured export, then print the summary (on a terminal, with --json, or when something
/// needs attention; silent under cron otherwise). Exit 1 when something needs attention.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(context: &Context, args: RunArgs) -> Result<Outcome> {
    let attribution = super::parse::attribution_from(&context.config)?;
    let mut store = context.open_store()?;
    let _lock = store.lock()?;
    let mut progress = Progress::new();
    let summary = crate::run::run(
        &context.config,
        &mut store,
        &attribution,
        &context.now,
        &mut |n| progress.tick(n),
    )?;
    progress.done();
    if args.json {
        print_json(&summary)?;
    } else if stdout_is_terminal() || summary.needs_attention() {
        for import in &summary.send_log {
            println!(
                "send log {}: {} entries, {} new, {} bad lines; {} stored complaints attributed by it",
                import.origin, import.entries, import.added, import.bad_lines, import.reattributed
            );
            for error in &import.errors {
                println!("  {error}");
            }
        }
        print!("{}", super::ingest::describe(&summary.ingest));
        if summary.expired > 0 {
            println!("  expired suppressions: {}", summary.expired);
        }
        for export in &summary.exports {
            println!(
                "  export {}: {} entries to {}",
                export.format,
                export.entries,
                export.path.display()
            );
        }
        for error in &summary.source_errors {
            println!("  error: {error}");
        }
    }
    Ok(if summary.needs_attention() {
        Outcome::Attention
    } else {
        Outcome::Clean
    })
}
