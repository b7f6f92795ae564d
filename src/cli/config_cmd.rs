//! `fbl config`: print the effective configuration with secrets masked.

use super::{Context, Outcome};
use anyhow::Result;

/// Print the effective configuration (defaults filled in, paths resolved, secrets masked)
/// as TOML, and where the store is.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {}

pub fn run(context: &Context, _args: ConfigArgs) -> Result<Outcome> {
    let mut config = context.config.masked();
    config.store.path = Some(context.db.clone());
    print!("{}", toml::to_string_pretty(&config)?);
    Ok(Outcome::Clean)
}
