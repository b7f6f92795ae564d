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
    // Said here and by `fbl run --dry-run`, the commands run to check a configuration, not
    // by every run. A warning: the configuration is printed as asked, exit 0.
    for warning in crate::run::readable_secret_files(&context.config) {
        eprintln!("fbl: warning: {warning}");
    }
    Ok(Outcome::Clean)
}
