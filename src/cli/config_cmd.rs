//! `fbl config`: print the effective configuration with secrets masked.

use super::{Context, Outcome};
use crate::store::Location;
use anyhow::Result;

/// Print the effective configuration (defaults filled in, paths resolved, secrets masked)
/// as TOML, and where the store is.
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {}

pub fn run(context: &Context, _args: ConfigArgs) -> Result<Outcome> {
    let mut config = context.config.masked();
    match &context.db {
        Location::Sqlite(path) => config.store.path = Some(path.clone()),
        Location::Postgres(postgres) => {
            config.store.path = None;
            config.store.url = Some(postgres.redacted());
        }
    }
    print!("{}", toml::to_string_pretty(&config)?);
    Ok(Outcome::Clean)
}
