//! `fbl reattribute`: look again for the complainants of stored complaints that had none.

use super::{Context, Outcome, print_json};
use crate::ingest::Ingester;
use anyhow::Result;

/// Attribute again every stored complaint without a complainant, using the current
/// attribution settings and send log, and suppress whoever is found. `fbl sendlog import`
/// does this by itself after each import.
#[derive(Debug, clap::Args)]
pub struct ReattributeArgs {
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(context: &Context, args: ReattributeArgs) -> Result<Outcome> {
    let attribution = super::parse::attribution_from(&context.config)?;
    let mut store = context.open_existing_store()?;
    let _lock = store.lock()?;
    let ingester = Ingester {
        attribution: &attribution,
        policy: &context.config.suppression,
        now: &context.now,
        dry_run: false,
        trust: context.config.trust.as_ref(),
    };
    let outcome = ingester.reattribute(&mut store)?;
    if args.json {
        print_json(&outcome)?;
    } else {
        println!(
            "{} unattributed reports examined: {} attributed now; suppressions {} added, {} updated",
            outcome.examined,
            outcome.attributed,
            outcome.suppressions_added,
            outcome.suppressions_updated
        );
    }
    Ok(if outcome.examined > outcome.attributed {
        Outcome::Attention
    } else {
        Outcome::Clean
    })
}
