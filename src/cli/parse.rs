//! `fbl parse`: print what fbl understands of raw messages, as JSON Lines. Writes nothing.

use super::Outcome;
use crate::attribution::{Attribution, NoSendLog};
use crate::config::Config;
use crate::mail_source::Inputs;
use crate::report_parser;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::PathBuf;

/// Parse raw messages (files, folders, Maildirs, mbox files, or `-` for standard input, as
/// `fbl ingest` reads them) and print one JSON object per message (schema:
/// schemas/report.schema.json). Exit 1 when a message claims to be a report but is broken
#[derive(Debug, clap::Args)]
pub struct ParseArgs {
    /// Message files, folders of them, Maildirs, mbox files, or `-` for one message on
    /// standard input
    #[arg(required = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Pretty-print each object over several lines
    #[arg(long)]
    pub pretty: bool,
}

pub fn run(context: &super::Context, args: ParseArgs) -> Result<Outcome> {
    let attribution = attribution_from(&context.config)?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut outcome = Outcome::Clean;
    // Nothing is stored, so no size limit: a message is parsed whole, however big.
    for incoming in Inputs::open(&args.files, u64::MAX)? {
        let incoming = incoming?;
        let report = report_parser::analyse(&incoming.raw, &attribution, &NoSendLog);
        if let Some(error) = &report.error {
            outcome = Outcome::Attention;
            // The JSON says what is wrong, not where: a folder's broken messages are named.
            eprintln!("fbl: {}: {error}", incoming.origin);
        }
        if args.pretty {
            serde_json::to_writer_pretty(&mut out, &report)?;
        } else {
            serde_json::to_writer(&mut out, &report)?;
        }
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(outcome)
}

/// The attribution settings of a configuration, with the token secret read.
pub fn attribution_from(config: &Config) -> Result<Attribution> {
    let secret = match &config.attribution.token {
        Some(token) => Some(
            token
                .resolve()
                .context("cannot read [attribution.token] secret")?,
        ),
        None => None,
    };
    Ok(Attribution::new(&config.attribution, secret)
        .map_err(anyhow::Error::msg)?
        .with_own_addresses(config.mailboxes.iter().map(|m| m.user.as_str()))
        .with_sending_ips(
            config
                .report
                .as_ref()
                .map(|r| r.sending_ips())
                .unwrap_or_default(),
        ))
}
