//! `fbl sendlog`: import the sender's own log of what was sent to whom.
use super::{Context, Outcome};
use anyhow::Result;

/// Import and manage the send log
#[derive(Debug, clap::Subcommand)]
pub enum SendlogCommand {}

pub fn run(_context: &Context, command: SendlogCommand) -> Result<Outcome> {
    match command {}
}
