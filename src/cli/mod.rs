//! The command line: clap definitions and dispatch. Only this module knows clap. Each
//! subcommand lives in a file of its own; the doc comments are the `--help` text.

mod config_cmd;
mod export;
mod ingest;
mod mailbox;
mod oauth_login;
mod parse;
mod progress;
mod quarantine;
mod reattribute;
mod report;
mod run;
mod sendlog;
mod snds;
mod store_cmd;
mod suppress;

use crate::config::Config;
use crate::store::{Location, PostgresConfig, Store, is_postgres_url};
use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// How a command ended, which `main` turns into an exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exit 0: everything was fine.
    Clean,
    /// Exit 1: the command finished, but something needs a person's attention (quarantined
    /// input, unattributed complaints, a broken report, an address not suppressed).
    Attention,
}

/// A count with its noun: "1 entry", "2 entries", "0 entries".
pub use crate::rates::counted;

/// The exit status `fbl ingest --mta` gives for any failure: sysexits.h's EX_TEMPFAIL, on
/// which an MTA (Postfix's pipe, procmail, a `.forward`) keeps the message and tries again.
/// fbl's own codes 1, 2 and 3 mean nothing to an MTA: it would bounce the report back to the
/// feedback loop, and lose it.
pub const EX_TEMPFAIL: u8 = 75;

/// Whether the command line asks for `fbl ingest --mta`, looked at before it is parsed, so
/// that even a command line clap refuses, or a configuration that does not load, ends in
/// EX_TEMPFAIL for the MTA rather than a bounce.
pub fn mta_requested() -> bool {
    let mut args = std::env::args_os().skip(1);
    args.any(|a| a == "ingest") && std::env::args_os().any(|a| a == "--mta")
}

/// fbl acts on mailbox-provider feedback: it parses ARF and JMRP complaint reports, keeps
/// a suppression list with evidence, and exports it to list managers.
///
/// Exit status: 0 all fine; 1 finished, but something needs attention (quarantined or
/// broken input, a message file that could not be read, unattributed complaints, `suppress
/// check` of an address not suppressed or of something that is not an address, an SNDS
/// alert or a failed SNDS fetch, a new report alert); 2 fatal (bad configuration, unusable
/// store, an input path that does not exist); 3 another fbl is working on the same store
/// (nothing was done); 75 `ingest --mta` only, for any failure (the MTA retries).
#[derive(Debug, Parser)]
#[command(name = "fbl", version, max_term_width = 100)]
pub struct Cli {
    /// Configuration file (TOML)
    #[arg(long, global = true, env = "FBL_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Store: a SQLite file or a postgres:// URL, overriding [store]
    #[arg(long, global = true, env = "FBL_DB", value_name = "PATH|URL")]
    pub db: Option<String>,

    /// How long to wait, in seconds, while another fbl holds the store's lock, before
    /// exiting 3 (default: 0; `run` 60; `ingest --mta` 300)
    #[arg(long, global = true, env = "FBL_LOCK_WAIT", value_name = "SECONDS")]
    pub lock_wait: Option<u64>,

    /// The time to act as if it were, RFC 3339 (for tests and replays) [env: FBL_NOW]
    #[arg(long, global = true, env = "FBL_NOW", hide = true)]
    pub now: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Parse(parse::ParseArgs),
    Ingest(ingest::IngestArgs),
    Run(run::RunArgs),
    #[command(subcommand)]
    Mailbox(mailbox::MailboxCommand),
    #[command(subcommand)]
    Suppress(suppress::SuppressCommand),
    #[command(subcommand)]
    Quarantine(quarantine::QuarantineCommand),
    #[command(subcommand)]
    Sendlog(sendlog::SendlogCommand),
    #[command(subcommand)]
    Snds(snds::SndsCommand),
    Reattribute(reattribute::ReattributeArgs),
    Report(report::ReportArgs),
    Export(export::ExportArgs),
    Config(config_cmd::ConfigArgs),
    /// The store itself: where it is and what it holds, and copying it into PostgreSQL
    #[command(subcommand)]
    Store(store_cmd::StoreCommand),
}

/// What every command may need: the configuration, where the store is, the time.
pub struct Context {
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub db: Location,
    pub now: String,
    /// `--lock-wait`, when given: how long `Store::lock` waits for another fbl.
    pub lock_wait: Option<std::time::Duration>,
}

impl Context {
    /// Opens the store (creating it and applying migrations when needed), for the commands
    /// that put something in it: `ingest`, `run`, `sendlog import`, `suppress add` and
    /// `import`, the `snds` fetch and login.
    pub fn open_store(&self) -> Result<Store> {
        let mut store = Store::open_at(&self.db)?;
        store.set_lock_wait(self.lock_wait.unwrap_or_default());
        Ok(store)
    }

    /// Opens the store for a command that reads it or acts on what it holds. A SQLite
    /// store that does not exist is an error: made empty, it would answer "not suppressed"
    /// for every address and export an empty list over the real one, as when a cron job
    /// loses its `--config` and runs in another folder.
    pub fn open_existing_store(&self) -> Result<Store> {
        self.refuse_missing_store()?;
        self.open_store()
    }

    /// Opens the store for a command that only reads it (`store info`, `suppress list`,
    /// `check` and `show`, `report`, `snds show` and `status`, `mailbox status`, `quarantine
    /// list` and `show`): as `open_existing_store`, but a store this fbl cannot write (a
    /// backup in a read-only place, another user's file) or one of a newer fbl that says
    /// this one may read it is opened read-only, unmigrated (`Store::open_for_reading`).
    pub fn open_store_for_reading(&self) -> Result<Store> {
        self.refuse_missing_store()?;
        let mut store = Store::open_for_reading(&self.db)?;
        store.set_lock_wait(self.lock_wait.unwrap_or_default());
        Ok(store)
    }

    /// A SQLite store that does not exist is an error for every command but those that may
    /// make it (see `open_existing_store`).
    fn refuse_missing_store(&self) -> Result<()> {
        if let Location::Sqlite(path) = &self.db
            && !path.exists()
        {
            bail!(
                "no store at {}: name it with --config or --db (FBL_CONFIG, FBL_DB); \
                 only ingest, run, sendlog import, suppress add and import, and snds fetch and \
                 login make a new one",
                path.display()
            );
        }
        Ok(())
    }
}

/// Parses the command line and runs the command.
pub fn main() -> Result<Outcome> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) if mta_requested() && error.use_stderr() => {
            // An MTA keeps the message and retries; the mistake shows in its log.
            return Err(anyhow::anyhow!("{}", error.render()));
        }
        Err(error) => error.exit(),
    };
    let config = match &cli.config {
        Some(path) => {
            // SAFETY: geteuid has no preconditions and cannot fail.
            if let Some(refusal) = Config::foreign_owner_refusal(path, unsafe { libc::geteuid() }) {
                bail!("{refusal}");
            }
            let config = Config::load(path)?;
            if let Some(warning) = config.permission_warning(path) {
                eprintln!("fbl: {warning}");
            }
            config
        }
        None => Config::default(),
    };
    let db = match (
        &cli.db,
        config.store.postgres(),
        &config.store.path,
        &cli.config,
    ) {
        (Some(db), _, _, _) if is_postgres_url(db) => Location::Postgres(PostgresConfig {
            url: db.clone(),
            // The password, CA and the rest still come from [store] when it names them.
            ..config.store.postgres().unwrap_or_default()
        }),
        (Some(db), _, _, _) if looks_like_conninfo(db) => bail!(
            // Not echoed: such a string often holds a password.
            "--db (or FBL_DB) looks like a PostgreSQL key=value connection string; \
             give a postgres:// URL, or a SQLite file path"
        ),
        (Some(db), _, _, _) => Location::Sqlite(PathBuf::from(db)),
        (None, Some(postgres), _, _) => Location::Postgres(postgres),
        (None, None, Some(path), _) => Location::Sqlite(path.clone()),
        (None, None, None, Some(config_path)) => Location::Sqlite(
            config_path
                .parent()
                .unwrap_or(std::path::Path::new("."))
                .join("fbl.sqlite"),
        ),
        (None, None, None, None) => Location::Sqlite(PathBuf::from("fbl.sqlite")),
    };
    let now = match cli.now {
        Some(now) => {
            let parsed = chrono::DateTime::parse_from_rfc3339(&now)
                .with_context(|| format!("--now {now:?} is not an RFC 3339 time"))?;
            rfc3339(parsed.with_timezone(&chrono::Utc))
        }
        None => rfc3339(chrono::Utc::now()),
    };
    let context = Context {
        config,
        config_path: cli.config,
        db,
        now,
        lock_wait: cli.lock_wait.map(std::time::Duration::from_secs),
    };
    match cli.command {
        Command::Parse(args) => parse::run(&context, args),
        Command::Ingest(args) => ingest::run(&context, args),
        Command::Run(args) => run::run(&context, args),
        Command::Mailbox(command) => mailbox::run(&context, command),
        Command::Suppress(command) => suppress::run(&context, command),
        Command::Quarantine(command) => quarantine::run(&context, command),
        Command::Sendlog(command) => sendlog::run(&context, command),
        Command::Snds(command) => snds::run(&context, command),
        Command::Reattribute(args) => reattribute::run(&context, args),
        Command::Report(args) => report::run(&context, args),
        Command::Export(args) => export::run(&context, args),
        Command::Config(args) => config_cmd::run(&context, args),
        Command::Store(command) => store_cmd::run(&context, command),
    }
}

/// A libpq `key=value` connection string (`host=db1 dbname=fbl password=...`), which would
/// otherwise name a SQLite file, and show its password wherever the store is named.
fn looks_like_conninfo(db: &str) -> bool {
    const KEYS: [&str; 6] = ["host", "hostaddr", "dbname", "user", "password", "port"];
    db.split_ascii_whitespace().any(|word| {
        word.split_once('=')
            .is_some_and(|(key, _)| KEYS.contains(&key.to_ascii_lowercase().as_str()))
    })
}

pub fn rfc3339(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Prints a value as one JSON document on standard output.
fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    println!("{text}");
    Ok(())
}

fn stdout_is_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal()
}

/// Refuses to write a message's bytes as they came (`command`, given `--raw`) to a terminal:
/// bytes from outside could hold escape sequences that retitle it, clear it or worse. A
/// file or a pipe takes them.
fn refuse_raw_to_terminal(command: &str) -> Result<()> {
    if stdout_is_terminal() {
        bail!(
            "{command} --raw writes the message's bytes as they came, which may hold sequences \
             that change a terminal: not written to one. Redirect it to a file or a pipe: \
             {command} --raw > message.eml, or | less"
        );
    }
    Ok(())
}

/// The header line of a tab-separated listing, for a person: written only when standard
/// output is a terminal, so that what a script reads from a pipe is the rows alone.
fn terminal_header(out: &mut impl std::io::Write, columns: &[&str]) -> Result<()> {
    if stdout_is_terminal() {
        writeln!(out, "{}", columns.join("\t")).context("cannot write to standard output")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_count_takes_its_noun_in_the_right_number() {
        assert_eq!(super::counted(1, "entry", "entries"), "1 entry");
        assert_eq!(super::counted(0, "entry", "entries"), "0 entries");
        assert_eq!(super::counted(2, "day", "days"), "2 days");
    }
}
