//! `fbl sendlog`: import the sender's own log of what was sent to whom, the only way to
//! attribute a complaint that carries just a Message-ID or an opaque id.

use super::{Context, Outcome, print_json};
use crate::ingest::Ingester;
use crate::run::{import_send_log, import_send_log_file};
use crate::sendlog::SendLogFormat;
use anyhow::{Context as _, Result, bail};
use std::io::BufRead;
use std::path::PathBuf;

/// Import and manage the send log.
#[derive(Debug, clap::Subcommand)]
pub enum SendlogCommand {
    /// Import a send log (idempotent: entries already known, and entries older than
    /// [send_log] retention_days, are skipped), prune stored entries older than that,
    /// attribute again the stored complaints that had no complainant, and record the
    /// Outlook.com blocks and throttling its delivery statuses show. Formats: csv and jsonl
    /// (columns recipient, message_id and/or id, and optional campaign, list, source_ip,
    /// sent_at, status), postfix (mail logs: message-id from cleanup joined with deliveries by queue
    /// id; queue ids still open at the end are kept for the next import, so import a rotated
    /// log before the current one; the rotated copy of FILE, FILE.1 or the newest
    /// uncompressed FILE-DATE, is read first for the message-ids of messages queued before
    /// FILE began, its entries not imported). Exit 1 when some lines could not be read, a postfix log
    /// has no Postfix line, or new blocks were found. The whole file is read, whatever fbl run
    /// read of it before, and fbl run's positions are left as they are.
    Import {
        /// The log file, or `-` for standard input
        file: PathBuf,
        /// The log's format
        #[arg(long)]
        format: SendLogFormat,
        /// Print the summary as JSON
        #[arg(long)]
        json: bool,
    },
    /// Make fbl run read a configured send log from its start again (after a bad line was
    /// fixed in place, for instance): forget where it stopped reading it. fbl run reads each
    /// [send_log] import from where the run before stopped. Without PATH, every send log
    /// this host read.
    Rewind {
        /// The log, as in [send_log] import
        path: Option<PathBuf>,
    },
}

pub fn run(context: &Context, command: SendlogCommand) -> Result<Outcome> {
    match command {
        SendlogCommand::Import { file, format, json } => import(context, file, format, json),
        SendlogCommand::Rewind { path } => rewind(context, path),
    }
}

/// `fbl sendlog rewind [PATH]`.
fn rewind(context: &Context, path: Option<PathBuf>) -> Result<Outcome> {
    let mut store = context.open_existing_store()?;
    let _lock = store.lock()?;
    let host = context.config.send_log.position_host();
    let key = path.as_deref().map(crate::run::position_key).transpose()?;
    let mut batch = store.begin()?;
    let forgotten = batch.forget_send_log_positions(&host, key.as_deref())?;
    batch.commit()?;
    if let (Some(key), true) = (&key, forgotten.is_empty()) {
        let kept: Vec<String> = store
            .send_log_positions()?
            .into_iter()
            .filter(|position| position.host == host)
            .map(|position| position.path)
            .collect();
        bail!(
            "no position is kept for send log {key} on this host ({host}): fbl run reads it \
             from its start anyway; positions kept: {}",
            if kept.is_empty() {
                "none".to_string()
            } else {
                kept.join(", ")
            }
        );
    }
    if forgotten.is_empty() {
        println!("no position is kept for any send log on this host ({host}): nothing to rewind");
    }
    for position in &forgotten {
        println!(
            "send log {}: rewound from byte {} (line {}); the next fbl run reads it from its start",
            position.path, position.byte_offset, position.lines
        );
    }
    Ok(Outcome::Clean)
}

fn import(context: &Context, file: PathBuf, format: SendLogFormat, json: bool) -> Result<Outcome> {
    let mut store = context.open_store()?;
    let _lock = store.lock()?;
    // The log is read twice: once for the entries, once for Outlook.com codes in delivery
    // statuses. Standard input is kept in a private temporary file for that, removed after.
    let spooled = if file.as_os_str() == "-" {
        Some(Spool::from_stdin()?)
    } else {
        None
    };
    let path = spooled
        .as_ref()
        .map_or(file.as_path(), |s| s.path.as_path());
    let input: Box<dyn BufRead> = Box::new(std::io::BufReader::with_capacity(
        256 * 1024,
        std::fs::File::open(path).with_context(|| format!("cannot read {}", file.display()))?,
    ));
    let attribution = super::parse::attribution_from(&context.config)?;
    let ingester = Ingester {
        attribution: &attribution,
        policy: &context.config.suppression,
        now: &context.now,
        dry_run: false,
        trust: context.config.trust.as_ref(),
    };
    let imported = match &spooled {
        // Standard input has no rotated copy.
        Some(_) => import_send_log(
            &mut store,
            &ingester,
            format,
            input,
            &file.display().to_string(),
            context.config.send_log.retention_days,
        )?,
        None => import_send_log_file(
            &mut store,
            &ingester,
            format,
            input,
            &file,
            &file.display().to_string(),
            context.config.send_log.retention_days,
        )?,
    };
    let place = store.location().to_string();
    let blocks = crate::reporting::scan_send_log(&mut store, path, format, &context.now).map_err(
        |error| {
            let error = error.context("block scan of the send log");
            if crate::store::is_disk_full(&error) {
                crate::ingest::disk_full(error, &place, crate::ingest::Kept::SendLogBlocks)
            } else {
                error
            }
        },
    )?;
    if json {
        let mut value = serde_json::to_value(&imported)?;
        value["block_events_found"] = blocks.into();
        print_json(&value)?;
    } else {
        println!(
            "{} read: {} added{}, {} already known, {} older than retention, {}{}; {} pruned; {} stored complaints attributed now ({} suppressions added)",
            super::counted(imported.entries, "entry", "entries"),
            imported.added,
            merged(&imported),
            imported.already_known,
            imported.older_than_retention,
            super::counted(imported.bad_lines, "bad line", "bad lines"),
            unrecognised(&imported),
            imported.pruned,
            imported.reattributed,
            imported.suppressions_added
        );
        if let Some(note) = no_lines_note(&imported, format, &file) {
            println!("{note}");
        }
        if blocks > 0 {
            println!(
                "{} in delivery statuses (see fbl report; the next fbl run alerts)",
                super::counted(
                    blocks,
                    "new Outlook.com block or throttling event",
                    "new Outlook.com block or throttling events"
                )
            );
        }
        for error in &imported.errors {
            println!("  {error}");
        }
        for line in &imported.left_removed {
            println!("  {}", left_removed(line));
        }
    }
    Ok(if imported.needs_attention() || blocks > 0 {
        Outcome::Attention
    } else {
        Outcome::Clean
    })
}

/// What `fbl sendlog import` says of a log that held nothing to import: a person who gave
/// the wrong file (a mailer's log not rotated in yet, an empty export) is told so, not only
/// shown a row of zeros. `fbl run` says nothing of an empty send log: a mailer's new log
/// is empty until its first send. A Postfix log with lines but no whole send says nothing
/// more: the queue ids it leaves open wait for the next log.
fn no_lines_note(
    imported: &crate::run::SendLogImported,
    format: SendLogFormat,
    file: &std::path::Path,
) -> Option<String> {
    if imported.entries > 0
        || imported.bad_lines > 0
        || imported.unrecognised_lines > 0
        || imported.none_recognised
    {
        return None;
    }
    let name = if file.as_os_str() == "-" {
        "standard input".to_string()
    } else {
        file.display().to_string()
    };
    match (imported.bytes_read, format) {
        (0, _) => Some(format!(
            "{name} is empty: no send-log lines, nothing to import"
        )),
        (_, SendLogFormat::Csv) => Some(format!(
            "{name} has no send-log lines (its header alone, or blank lines): nothing to import"
        )),
        (_, SendLogFormat::Jsonl) => Some(format!(
            "{name} has no send-log lines (blank lines alone): nothing to import"
        )),
        _ => None,
    }
}

/// `, N merged into sends already known from another log` when some entries completed a
/// send stored from another log (a Postfix log and the mailer's CSV): none was added.
pub(crate) fn merged(imported: &crate::run::SendLogImported) -> String {
    match imported.merged {
        0 => String::new(),
        n => format!(", {n} merged into sends already known from another log"),
    }
}

/// A complaint attributed now that a person's later removal leaves off the list.
pub(crate) fn left_removed(line: &str) -> String {
    format!(
        "complained before a person took the address off the list (left off it; `fbl suppress \
         show` says when and why, `fbl suppress add` puts it back): {line}"
    )
}

/// `, N lines not recognised` for a log with lines in no shape its format knows.
pub(crate) fn unrecognised(imported: &crate::run::SendLogImported) -> String {
    match imported.unrecognised_lines {
        0 => String::new(),
        1 => ", 1 line not recognised".to_string(),
        n => format!(", {n} lines not recognised"),
    }
}

/// How `fbl run` read a send log: `read 120 bytes from byte 4096`, `read 4096 bytes from the
/// start (rotated)`, and the bytes of a line still being written, left for the next run.
pub(crate) fn how_read(imported: &crate::run::SendLogImported) -> String {
    let from = match (imported.resumed_at, imported.from_start) {
        (Some(offset), _) => format!("from byte {offset}"),
        (None, Some(why)) => format!("from the start ({})", why.as_str()),
        (None, None) => "from the start".to_string(),
    };
    let partial = match imported.partial_line_bytes {
        0 => String::new(),
        bytes => format!(
            ", {} of a line still being written left for the next run",
            super::counted(bytes, "byte", "bytes")
        ),
    };
    format!(
        "read {} {from}{partial}",
        super::counted(imported.bytes_read, "byte", "bytes")
    )
}

/// Standard input copied into a file only its owner can read, deleted when dropped.
struct Spool {
    path: PathBuf,
}

impl Spool {
    fn from_stdin() -> Result<Spool> {
        use std::os::unix::fs::OpenOptionsExt;
        let path = std::env::temp_dir().join(format!(
            "fbl-sendlog-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let spool = Spool { path };
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&spool.path)
            .with_context(|| format!("cannot create {}", spool.path.display()))?;
        std::io::copy(&mut std::io::stdin().lock(), &mut out)
            .with_context(|| format!("cannot keep standard input in {}", spool.path.display()))?;
        Ok(spool)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
