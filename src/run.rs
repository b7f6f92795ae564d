//! A whole `fbl run`: every configured source, SNDS, expiry, send-log pruning, then every
//! configured export. The one module that sequences the IO steps of a run.

use crate::atomic_file;
use crate::attribution::Attribution;
use crate::config::{Config, ExportConfig};
use crate::export::{ExportFormat, ExportOptions};
use crate::ingest::{Ingester, Kept, Progress, StoreFull, Summary, store_failure};
use crate::mail_source::Inputs;
use crate::mailbox_poll::{MailboxSummary, PollOptions, poll_mailbox};
use crate::sendlog::{ReadOptions, SendLogFormat, SendLogReader, read_send_log};
use crate::snds_alerts::SndsAlert;
use crate::snds_fetch::{Days, FetchOptions, SndsSummary};
use crate::store::{SendLogChange, Store, SuppressionFilter};
use anyhow::{Context, Result};
use serde::Serialize;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// What a run did, for the summary and `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    /// True when nothing was changed (`--dry-run`).
    pub dry_run: bool,
    pub send_log: Vec<SendLogImported>,
    pub mailboxes: Vec<MailboxSummary>,
    /// Everything ingested, mailboxes and local sources together.
    pub ingest: Summary,
    /// Of `ingest.messages`, `[[source]]` files read again whose very bytes an earlier run
    /// stored (a source with `after = "keep"` reads its files at every run): not counted in
    /// `ingest.duplicates`, which are other deliveries of a stored report.
    pub already_stored: u64,
    pub expired: u64,
    /// Send-log entries pruned, by the imports and after them.
    pub send_log_pruned: u64,
    pub exports: Vec<ExportWritten>,
    /// Block scan, report files and new alerts (absent on a dry run).
    pub report: Option<crate::reporting::RunReport>,
    /// Sources, send logs and exports that failed, with the reason; the run went on
    /// without them.
    pub source_errors: Vec<String>,
    /// What SNDS fetching did, when `[snds]` is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snds: Option<SndsSummary>,
    /// SNDS alerts raised by this run; each event is raised once, in the run that saw it.
    pub alerts: Vec<SndsAlert>,
    /// What `after` did with the message files of each `[[source]]` that sets it.
    pub source_files: Vec<SourceFilesDone>,
    /// Messages an MTA piped to `fbl ingest --mta` that were quarantined since the last run
    /// (`#ID ORIGIN: REASON`): `ingest --mta` tells the MTA only that they are kept, so the
    /// run tells a person, once.
    pub quarantined_since_last_run: Vec<String>,
}

/// What a `[[source]]`'s `after` did with its message files, once the store kept them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SourceFilesDone {
    pub source: String,
    /// `delete` or `move:FOLDER`.
    pub after: String,
    /// Files deleted or moved.
    pub done: u64,
    /// Files that could not be moved or deleted (each said in `source_errors`).
    pub failed: u64,
    /// Files left where they are: their message is not kept in the store (unreadable, or
    /// bigger than `max_message_bytes`, whose head alone is in quarantine), or they were
    /// written less than two minutes ago, are empty, or changed while they were looked at.
    pub left: u64,
}

impl RunSummary {
    pub fn needs_attention(&self) -> bool {
        self.ingest.needs_attention()
            || !self.source_errors.is_empty()
            || self.mailboxes.iter().any(|m| !m.errors.is_empty())
            || self.send_log.iter().any(SendLogImported::needs_attention)
            || self.report.as_ref().is_some_and(|r| r.needs_attention())
            || self.snds.as_ref().is_some_and(SndsSummary::needs_attention)
            || !self.alerts.is_empty()
            || !self.quarantined_since_last_run.is_empty()
            // A suppressed address an export left out for the first time (said once): that
            // person must be suppressed another way.
            || self.exports.iter().any(|e| e.new_left_out > 0)
            // An export whose readers through its group (a list manager) lost it.
            || self.exports.iter().any(|e| !e.groups_lost.is_empty())
    }
}

/// What importing one send log did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SendLogImported {
    pub origin: String,
    pub entries: u64,
    pub added: u64,
    /// Sends stored already from another log (a Postfix log and the mailer's CSV), which
    /// this one completed (an id, campaign, list, source IP or send time): no entry added.
    pub merged: u64,
    pub already_known: u64,
    /// Entries sent before the `retention_days` cutoff: not stored.
    pub older_than_retention: u64,
    pub bad_lines: u64,
    /// Lines in no shape the format knows, skipped (a Postfix log: lines that are no syslog
    /// line; lines of other programs are not counted).
    pub unrecognised_lines: u64,
    /// The log has lines, but none of them is in its format (a Postfix log without a single
    /// Postfix line): the wrong `--format`, or a log fbl cannot read.
    pub none_recognised: bool,
    pub pruned: u64,
    /// Stored complaints that the new entries attributed.
    pub reattributed: u64,
    pub suppressions_added: u64,
    /// Of the stored complaints attributed now, addresses a person took off the list after
    /// the complaint was reported: left off it (see `ingest::Summary::left_removed`).
    pub left_removed: Vec<String>,
    /// The first bad lines, with the reason.
    pub errors: Vec<String>,
    /// Bytes of the log read: from where the run before stopped to the last whole line
    /// (`fbl run`), or all of it (`fbl sendlog import`).
    pub bytes_read: u64,
    /// `fbl run`: the byte offset reading resumed at, where the run before stopped. Absent
    /// when the log was read from its start (see `from_start`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_at: Option<u64>,
    /// `fbl run`: why the log was read from its start. Absent when reading resumed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_start: Option<FromStart>,
    /// `fbl run`: the log was truncated or replaced and no rotated copy holds what came
    /// after where the last run stopped: lines may never be read (said in `errors`).
    pub lines_may_be_missing: bool,
    /// `fbl run`: bytes of a last line still being written (no line end yet), left for the
    /// next run to read whole.
    pub partial_line_bytes: u64,
    /// `fbl run`: the file read and the offsets reading began and ended at, for the block
    /// scan of the same run to read the same lines (not in `--json`: `origin`, `resumed_at`
    /// and `bytes_read` say it).
    #[serde(skip)]
    pub read_file: Option<(PathBuf, u64, u64)>,
}

/// Why `fbl run` read a send log from its start rather than from where it stopped before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FromStart {
    /// No position is kept for it: its first read, or after `fbl sendlog rewind`.
    FirstRead,
    /// It was read before in another format.
    FormatChanged,
    /// It is shorter than where reading stopped (truncated in place, as logrotate's
    /// `copytruncate` does).
    Truncated,
    /// Its beginning is not what was read before: another file is at its path.
    Replaced,
    /// It was renamed to `PATH.1` (as logrotate does): the rest of `PATH.1` was read first.
    Rotated,
}

impl FromStart {
    pub fn as_str(self) -> &'static str {
        match self {
            FromStart::FirstRead => "first read",
            FromStart::FormatChanged => "format changed",
            FromStart::Truncated => "truncated",
            FromStart::Replaced => "replaced",
            FromStart::Rotated => "rotated",
        }
    }
}

impl SendLogImported {
    /// Bad lines, a log none of whose lines could be read, or a complaint it attributed
    /// that a person's later removal leaves off the list.
    pub fn needs_attention(&self) -> bool {
        self.bad_lines > 0
            || self.none_recognised
            || self.lines_may_be_missing
            || !self.left_removed.is_empty()
    }
}

/// Send-log entries (bad lines included) per transaction: a huge log neither holds one giant
/// transaction nor loses much on a crash (importing again is idempotent).
pub const SEND_LOG_SLICE: usize = 50_000;

/// Imports a send log (idempotently; entries sent before the retention are skipped), prunes
/// entries past the retention, and when anything
/// was added, attributes again the stored complaints that had no complainant.
pub fn import_send_log(
    store: &mut Store,
    ingester: &Ingester,
    format: SendLogFormat,
    input: impl BufRead,
    origin: &str,
    retention_days: u32,
) -> Result<SendLogImported> {
    import_send_log_from(
        store,
        ingester,
        format,
        input,
        origin,
        retention_days,
        None,
        Vec::new(),
    )
}

/// Imports a send log file by hand (`fbl sendlog import FILE`), as [`import_send_log`]; a
/// Postfix log's rotated copy (`FILE.1`, else the newest uncompressed `FILE-DATE`), when
/// there is one, is read first for the queue ids it leaves open (its entries are not
/// imported): a message queued before `FILE` began and delivered in it is joined, as `fbl
/// run` joins it, not a bad line. The queue ids the logs imported before left open are
/// known as for any import.
pub fn import_send_log_file(
    store: &mut Store,
    ingester: &Ingester,
    format: SendLogFormat,
    input: impl BufRead,
    path: &Path,
    origin: &str,
    retention_days: u32,
) -> Result<SendLogImported> {
    let mut before = Vec::new();
    if format == SendLogFormat::Postfix {
        let now = chrono::DateTime::parse_from_rfc3339(ingester.now)
            .context("the run's time is not RFC 3339")?;
        let options = ReadOptions {
            now: now.to_utc(),
            zone: crate::zone::Zone::system(),
        };
        let rotated = rotated_paths(path).into_iter().find_map(|rotated| {
            let file = std::fs::File::open(&rotated).ok()?;
            file.metadata().ok()?.is_file().then_some(file)
        });
        if let Some(file) = rotated {
            let input = std::io::BufReader::with_capacity(256 * 1024, file);
            let mut read = read_send_log(format, input, &options);
            read.by_ref().for_each(drop);
            before = read.open_queue_ids();
        }
    }
    import_send_log_from(
        store,
        ingester,
        format,
        input,
        origin,
        retention_days,
        None,
        before,
    )
}

/// Where a slice of a send log read by `fbl run` begins, and what to keep once it is read.
struct Resume {
    /// Lines before the slice.
    lines_before: u64,
    /// A CSV log's header row, when the slice begins after it.
    header: Option<crate::sendlog::CsvHeader>,
    /// The offset the slice begins at.
    from: u64,
    /// The position to keep once the slice is read whole; its `byte_offset` and `lines` are
    /// set then.
    position: crate::store::SendLogPosition,
    /// Whether a log with lines but none in its format is said (a slice read from the
    /// start); a slice read on from a log read before may hold only other programs' lines.
    check_recognised: bool,
    /// When the log was read up to `from`: the lines of the slice were written after it.
    read_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// `before`: queue ids open at the end of the log before this one, known besides those the
/// store keeps (and overridden by them).
#[allow(clippy::too_many_arguments)]
fn import_send_log_from(
    store: &mut Store,
    ingester: &Ingester,
    format: SendLogFormat,
    input: impl BufRead,
    origin: &str,
    retention_days: u32,
    resume: Option<Resume>,
    before: Vec<crate::sendlog::postfix::OpenQueueId>,
) -> Result<SendLogImported> {
    let now = chrono::DateTime::parse_from_rfc3339(ingester.now)
        .context("the run's time is not RFC 3339")?;
    let options = ReadOptions {
        now: now.to_utc(),
        zone: crate::zone::Zone::system(),
    };
    let cutoff = now.with_timezone(&chrono::Utc) - chrono::Duration::days(retention_days as i64);
    let mut imported = SendLogImported {
        origin: origin.to_string(),
        ..SendLogImported::default()
    };
    let place = store.location().to_string();
    let mut committed = 0;
    let mut read = read_send_log(format, input, &options);
    if let Some(resume) = &resume {
        read = read.resuming(resume.lines_before, resume.header.clone());
        if let Some(read_at) = resume.read_at {
            read = read.written_after(read_at);
        }
    }
    store_send_log(
        store,
        ingester.now,
        read,
        &cutoff.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        &mut imported,
        &mut committed,
        resume,
        before,
    )
    .map_err(|error| store_failure(error, &place, Kept::SendLogEntries(committed)))?;
    // Also when a run before was stopped after its entries were committed and before the
    // complaints were attributed again (killed, a reboot): they would wait for good.
    let pending = store
        .reattribution_pending()
        .map_err(|error| store_failure(error, &place, Kept::SendLogImported))?;
    if imported.added + imported.merged > 0 || pending != 0 {
        let reattributed = ingester
            .reattribute(store)
            .map_err(|error| store_failure(error, &place, Kept::SendLogImported))?;
        imported.reattributed = reattributed.attributed;
        imported.suppressions_added = reattributed.suppressions_added;
        imported.left_removed = reattributed.left_removed;
    }
    Ok(imported)
}

/// The entries of a send log into the store, in slices of `SEND_LOG_SLICE`, then the prune
/// of those sent before `cutoff`. `committed` counts the entries in committed slices: what a
/// failure leaves imported. A Postfix log is read with the queue ids the logs imported
/// before left open, and those it leaves open are kept for the next, in the last slice.
/// So is the position of a log `fbl run` reads (`resume`), once it was read to the end of
/// its slice: never past an entry not committed, never past a line not read.
#[allow(clippy::too_many_arguments)]
fn store_send_log<R: BufRead>(
    store: &mut Store,
    now: &str,
    read: SendLogReader<R>,
    cutoff: &str,
    imported: &mut SendLogImported,
    committed: &mut u64,
    resume: Option<Resume>,
    before: Vec<crate::sendlog::postfix::OpenQueueId>,
) -> Result<()> {
    let mut batch = store.begin()?;
    let forget_queue_ids_before = forget_queue_ids_before(now)?;
    let carried = if read.line_counts().is_some() {
        batch.postfix_open_queue_ids(&forget_queue_ids_before)?
    } else {
        Vec::new()
    };
    // Those of the log before not seen for longer than Postfix keeps a message queued are
    // forgotten, as the store forgets them.
    let before = before
        .into_iter()
        .filter(|id| id.last_seen.as_str() >= forget_queue_ids_before.as_str());
    let mut read = read.carrying(before.chain(carried.iter().cloned()));
    // Entries added in the batch at hand: committed with the mark that the complaints
    // without a complainant must be attributed again (see `set_reattribution_pending`).
    let mut added_before = imported.added + imported.merged;
    for (n, item) in read.by_ref().enumerate() {
        match item {
            Ok(entry) => {
                imported.entries += 1;
                // Stored, it would be pruned at once below, and added again by the next
                // import of the same log.
                if entry
                    .sent_at
                    .as_deref()
                    .is_some_and(|sent_at| sent_at < cutoff)
                {
                    imported.older_than_retention += 1;
                } else {
                    match batch.send_log(&entry, now)? {
                        SendLogChange::Added => imported.added += 1,
                        SendLogChange::Merged => imported.merged += 1,
                        SendLogChange::Known => imported.already_known += 1,
                    }
                }
            }
            Err(error) => {
                imported.bad_lines += 1;
                if imported.errors.len() < 20 {
                    imported
                        .errors
                        .push(format!("{}: {error}", imported.origin));
                }
            }
        }
        if n % SEND_LOG_SLICE == SEND_LOG_SLICE - 1 {
            if imported.added + imported.merged > added_before {
                batch.set_reattribution_pending()?;
                added_before = imported.added + imported.merged;
            }
            batch.commit()?;
            *committed = imported.entries;
            batch = store.begin()?;
        }
    }
    imported.bytes_read = read.bytes_read();
    if let Some(counts) = read.line_counts() {
        imported.unrecognised_lines = counts.unrecognised;
        let check_recognised = resume.as_ref().is_none_or(|r| r.check_recognised);
        if check_recognised && counts.lines > 0 && counts.postfix_lines == 0 {
            imported.none_recognised = true;
            imported.errors.push(format!(
                "{}: {} lines, none recognised as a Postfix log",
                imported.origin, counts.lines
            ));
        }
        batch.set_postfix_open_queue_ids(
            &carried,
            &read.open_queue_ids(),
            &forget_queue_ids_before,
        )?;
    }
    imported.pruned = batch.prune_send_log(cutoff)?;
    // A log none of whose lines was understood (the wrong format) is read again next time
    // and said again; so is one whose read failed or ended early (no CSV header).
    if let Some(mut resume) = resume
        && !read.ended_early()
        && !imported.none_recognised
    {
        resume.position.byte_offset = resume.from + read.bytes_read();
        resume.position.lines = read.lines_read();
        batch.set_send_log_position(&resume.position)?;
    }
    if imported.added + imported.merged > added_before {
        batch.set_reattribution_pending()?;
    }
    batch.commit()?;
    *committed = imported.entries;
    Ok(())
}

/// Bytes of a send log's beginning whose SHA-256 tells a file read before from another.
pub const HEAD_BYTES: u64 = 4096;

/// Imports, for `fbl run`, what was added to a configured send log since the last run (see
/// the README, "Send logs"): from the position kept in the store, when the file still begins
/// as it did and is not shorter; else the rest of `PATH.1` first when the log was rotated,
/// and the file from its start. Only whole lines are read. What each file gave is pushed on
/// `out` as it is committed. A path that is no regular file (a pipe) is read whole, as it
/// comes, and keeps no position.
pub fn import_configured_send_log(
    store: &mut Store,
    ingester: &Ingester,
    import: &crate::config::SendLogImportConfig,
    send_log: &crate::config::SendLogConfig,
    out: &mut Vec<SendLogImported>,
) -> Result<()> {
    let retention_days = send_log.retention_days;
    let origin = import.path.display().to_string();
    let file = std::fs::File::open(&import.path)
        .with_context(|| format!("cannot read send log {origin}"))?;
    let is_file = file
        .metadata()
        .with_context(|| format!("cannot read send log {origin}"))?
        .is_file();
    if !is_file {
        // A pipe or a device has no offset to come back to: read as it comes.
        let reader = std::io::BufReader::with_capacity(256 * 1024, file);
        let imported = import_send_log(
            store,
            ingester,
            import.format,
            reader,
            &origin,
            retention_days,
        )?;
        out.push(imported);
        return Ok(());
    }
    let host = send_log.position_host();
    let key = position_key(&import.path)?;
    let kept = store.send_log_position(&host, &key)?;
    let template = crate::store::SendLogPosition {
        host,
        path: key,
        format: import.format.as_str().to_string(),
        byte_offset: 0,
        lines: 0,
        head_sha256: String::new(),
        head_bytes: 0,
        tail_sha256: String::new(),
        tail_bytes: 0,
        file_id: String::new(),
        read_at: ingester.now.to_string(),
    };
    let length = file_length(&file, &import.path)?;
    let mut read_rotated_whole: Vec<String> = Vec::new();
    let why = match &kept {
        None => FromStart::FirstRead,
        Some(kept) if kept.format != import.format.as_str() => FromStart::FormatChanged,
        Some(kept) if is_where_it_was(&file, kept, length, true)? => {
            let imported = import_file_slice(
                store,
                ingester,
                import.format,
                file,
                &import.path,
                kept,
                false,
                retention_days,
                template,
                None,
            )?;
            out.push(imported);
            return Ok(());
        }
        Some(kept) => {
            // Renamed, it is the same file; copied (`copytruncate`), a copy of its bytes.
            let this_file = file_id(&file).ok();
            let read_at = chrono::DateTime::parse_from_rfc3339(&kept.read_at)
                .ok()
                .map(|at| std::time::SystemTime::from(at.to_utc()));
            let mut rotated: Vec<(std::fs::File, PathBuf, std::time::SystemTime)> =
                rotated_paths(&import.path)
                    .into_iter()
                    .filter_map(|rotated| {
                        let old = std::fs::File::open(&rotated).ok()?;
                        let meta = old.metadata().ok()?;
                        let modified = meta.modified().ok()?;
                        (meta.is_file() && file_id(&old).ok() != this_file)
                            .then_some((old, rotated, modified))
                    })
                    .collect();
            let found = rotated.iter().position(|(old, path, _)| {
                file_length(old, path)
                    .and_then(|length| is_where_it_was(old, kept, length, false))
                    .unwrap_or(false)
            });
            let start = crate::store::SendLogPosition {
                byte_offset: 0,
                lines: 0,
                ..template.clone()
            };
            let found = found.map(|index| rotated.remove(index));
            // Other rotated copies written to since the last run (logrotate ran more than once
            // since: the host down over two nights, a store backup put back) may hold lines no
            // run read: read whole, oldest first, before the new file (reading again is
            // harmless; skipping is not). One last written before that run (a `PATH.1` left
            // from before a switch to `dateext`) was read then, or never will be.
            rotated.retain(|(_, _, modified)| read_at.is_none_or(|read_at| *modified > read_at));
            rotated.sort_by_key(|(_, _, modified)| *modified);
            let why = match found {
                // The writer is done with it: its last line is read even without a line end.
                Some((old, path, _)) => {
                    let imported = import_file_slice(
                        store,
                        ingester,
                        import.format,
                        old,
                        &path,
                        kept,
                        true,
                        retention_days,
                        template.clone(),
                        None,
                    )?;
                    out.push(imported);
                    FromStart::Rotated
                }
                None if length < kept.byte_offset => FromStart::Truncated,
                None => FromStart::Replaced,
            };
            for (old, path, _) in rotated {
                let imported = import_file_slice(
                    store,
                    ingester,
                    import.format,
                    old,
                    &path,
                    &start,
                    true,
                    retention_days,
                    template.clone(),
                    Some(why),
                )?;
                out.push(imported);
                if why != FromStart::Rotated {
                    read_rotated_whole.push(path.display().to_string());
                }
            }
            why
        }
    };
    // A mail log truncated or replaced, and no rotated copy holds what came after the
    // offset: lines written between the last run and the rotation may never be read (a copy
    // compressed at once, without logrotate's `delaycompress`, or rotated more than once
    // since). Said, once, by this run. A CSV or JSON Lines log is the sender's own, which its
    // tool may write anew each time.
    let missed = match (&kept, why) {
        (Some(kept), FromStart::Truncated | FromStart::Replaced)
            if kept.byte_offset > 0 && import.format == SendLogFormat::Postfix =>
        {
            let path = import.path.display();
            let what = if read_rotated_whole.is_empty() {
                why.as_str()
            } else {
                "rotated more than once (or truncated)"
            };
            let read = if read_rotated_whole.is_empty() {
                String::new()
            } else {
                format!(
                    "; {} read whole, as it may hold lines no run read",
                    read_rotated_whole.join(" and ")
                )
            };
            Some(format!(
                "{path}: {what} since the last run, and no rotated copy ({path}.1, or \
                 {path}-DATE, uncompressed) begins as it did{read}: lines written after byte \
                 {} of the log read then may not have been read. If an older or compressed \
                 copy holds them, import it: `zcat FILE.gz | fbl sendlog import --format \
                 postfix -` (reading a line twice is harmless). Keep the newest rotated copy \
                 uncompressed (logrotate's delaycompress), and run fbl more often than the log \
                 rotates",
                kept.byte_offset
            ))
        }
        _ => None,
    };
    let start = crate::store::SendLogPosition {
        byte_offset: 0,
        lines: 0,
        ..template.clone()
    };
    let imported = import_file_slice(
        store,
        ingester,
        import.format,
        file,
        &import.path,
        &start,
        false,
        retention_days,
        template,
        Some(why),
    )?;
    let mut imported = imported;
    if let Some(missed) = missed {
        imported.errors.insert(0, missed);
        imported.lines_may_be_missing = true;
    }
    out.push(imported);
    Ok(())
}

/// Where logrotate puts a log it rotates by renaming, beside the file the path leads to (a
/// link is followed: logrotate rotates the file, not the link): `PATH.1`, then, with
/// `dateext` (Red Hat's default), the two newest uncompressed `PATH-SUFFIX` files.
pub(crate) fn rotated_paths(path: &Path) -> Vec<PathBuf> {
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut first = real.clone().into_os_string();
    first.push(".1");
    let mut paths = vec![PathBuf::from(first)];
    let (Some(folder), Some(name)) = (real.parent(), real.file_name()) else {
        return paths;
    };
    let prefix = [name.as_encoded_bytes(), b"-"].concat();
    const COMPRESSED: [&str; 6] = [".gz", ".xz", ".bz2", ".zst", ".lz4", ".Z"];
    let mut dated: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let bytes = name.as_encoded_bytes();
            bytes.len() > prefix.len()
                && bytes.starts_with(&prefix)
                && !COMPRESSED
                    .iter()
                    .any(|suffix| bytes.ends_with(suffix.as_bytes()))
        })
        .filter_map(|entry| {
            let meta = entry.metadata().ok()?;
            meta.is_file()
                .then(|| Some((meta.modified().ok()?, entry.path())))
                .flatten()
        })
        .collect();
    dated.sort_by_key(|entry| std::cmp::Reverse(entry.0));
    paths.extend(dated.into_iter().take(2).map(|(_, path)| path));
    paths
}

/// Imports a file from `kept`'s offset (a line boundary) to its last line end, or its end
/// when `to_end`, and keeps the position reached in `template`'s host and path.
#[allow(clippy::too_many_arguments)]
fn import_file_slice(
    store: &mut Store,
    ingester: &Ingester,
    format: SendLogFormat,
    mut file: std::fs::File,
    path: &Path,
    kept: &crate::store::SendLogPosition,
    to_end: bool,
    retention_days: u32,
    mut position: crate::store::SendLogPosition,
    from_start: Option<FromStart>,
) -> Result<SendLogImported> {
    use std::io::{Read, Seek};
    let origin = path.display().to_string();
    let context = || format!("cannot read send log {origin}");
    let length = file_length(&file, path)?;
    let from = kept.byte_offset;
    let end = if to_end {
        length
    } else {
        last_line_end(&file, from, length).with_context(context)?
    };
    let head = end.min(HEAD_BYTES);
    position.head_sha256 = head_sha256(&file, head).with_context(context)?;
    position.head_bytes = head;
    let tail = end.min(HEAD_BYTES);
    position.tail_sha256 = range_sha256(&file, end - tail, tail).with_context(context)?;
    position.tail_bytes = tail;
    position.file_id = file_id(&file).with_context(context)?;
    let header = if format == SendLogFormat::Csv && from > 0 {
        file.rewind().with_context(context)?;
        crate::sendlog::read_csv_header(std::io::BufReader::new(Read::by_ref(&mut file)))
            .with_context(context)?
            .filter(|header| header.end <= from)
    } else {
        None
    };
    file.seek(std::io::SeekFrom::Start(from))
        .with_context(context)?;
    let input = std::io::BufReader::with_capacity(256 * 1024, file.take(end - from));
    let resume = Resume {
        lines_before: kept.lines,
        header,
        from,
        position,
        check_recognised: from == 0,
        read_at: (from > 0)
            .then(|| chrono::DateTime::parse_from_rfc3339(&kept.read_at).ok())
            .flatten()
            .map(|at| at.to_utc()),
    };
    let mut imported = import_send_log_from(
        store,
        ingester,
        format,
        input,
        &origin,
        retention_days,
        Some(resume),
        Vec::new(),
    )?;
    imported.resumed_at = from_start.is_none().then_some(from);
    imported.from_start = from_start;
    imported.read_file = Some((path.to_path_buf(), from, end));
    imported.partial_line_bytes = length - end;
    Ok(imported)
}

/// The key a send log's position is kept under: its path as configured, made absolute
/// (links are not followed: a link moved to another file is the log at that path).
pub(crate) fn position_key(path: &Path) -> Result<String> {
    let absolute = std::path::absolute(path)
        .with_context(|| format!("cannot make send log path {} absolute", path.display()))?;
    Ok(absolute.display().to_string())
}

/// The machine's name, which a position is kept under unless `[send_log] host` names
/// another: hosts that share a PostgreSQL store each read their own logs.
pub(crate) fn host_name() -> String {
    let mut name = [0u8; 256];
    // SAFETY: the buffer is writable for its length; gethostname writes at most that.
    let result = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) };
    if result != 0 {
        return String::new();
    }
    let length = name
        .iter()
        .position(|&byte| byte == 0)
        .unwrap_or(name.len());
    String::from_utf8_lossy(&name[..length]).into_owned()
}

fn file_length(file: &std::fs::File, path: &Path) -> Result<u64> {
    Ok(file
        .metadata()
        .with_context(|| format!("cannot read send log {}", path.display()))?
        .len())
}

/// The hex SHA-256 of a file's first `bytes` bytes.
fn head_sha256(file: &std::fs::File, bytes: u64) -> std::io::Result<String> {
    range_sha256(file, 0, bytes)
}

/// The hex SHA-256 of `bytes` bytes of a file from offset `from`.
fn range_sha256(file: &std::fs::File, from: u64, bytes: u64) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::FileExt;
    let mut range = vec![0u8; bytes as usize];
    file.read_exact_at(&mut range, from)?;
    Ok(hex::encode(Sha256::digest(&range)))
}

/// A file's device and inode, `DEV:INO`: which file it is, whatever its name.
fn file_id(file: &std::fs::File) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata()?;
    Ok(format!("{}:{}", meta.dev(), meta.ino()))
}

/// Whether `file` (`length` bytes long) is the log `kept` was read from, unchanged up to where
/// reading stopped: at least as long, with the same bytes at its beginning and just before
/// the offset, and, when `same_file`, the same file (device and inode). A log that was empty,
/// or a CSV header alone, when it was read begins as any other: only its identity tells that
/// another file took its path, and only the bytes before the offset a rewrite in place. A
/// rotated `PATH.1` is looked at by its bytes alone, as logrotate's `copytruncate` makes it a
/// copy (a log read empty then matches any `PATH.1`, which is then read whole: importing
/// again is harmless, losing its lines would not be).
fn is_where_it_was(
    file: &std::fs::File,
    kept: &crate::store::SendLogPosition,
    length: u64,
    same_file: bool,
) -> Result<bool> {
    if length < kept.byte_offset || kept.tail_bytes > kept.byte_offset {
        return Ok(false);
    }
    if same_file && file_id(file).context("cannot read a send log's identity")? != kept.file_id {
        return Ok(false);
    }
    let tail = range_sha256(file, kept.byte_offset - kept.tail_bytes, kept.tail_bytes)
        .context("cannot read a send log")?;
    Ok(tail == kept.tail_sha256 && begins_as(file, kept)?)
}

/// Whether a file begins with the bytes `kept` was read from.
fn begins_as(file: &std::fs::File, kept: &crate::store::SendLogPosition) -> Result<bool> {
    match head_sha256(file, kept.head_bytes) {
        Ok(sha256) => Ok(sha256 == kept.head_sha256),
        // Shorter than the head read before.
        Err(error) if error.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
        Err(error) => Err(error).context("cannot read a send log's beginning"),
    }
}

/// The offset just past the last line end between `from` and `length` (`from` when there
/// is none): a last line still being written is left for the next run.
fn last_line_end(file: &std::fs::File, from: u64, length: u64) -> std::io::Result<u64> {
    use std::os::unix::fs::FileExt;
    const CHUNK: u64 = 64 * 1024;
    let mut buffer = vec![0u8; CHUNK as usize];
    let mut end = length;
    while end > from {
        let start = end.saturating_sub(CHUNK).max(from);
        let chunk = &mut buffer[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        if let Some(newline) = chunk.iter().rposition(|&byte| byte == b'\n') {
            return Ok(start + newline as u64 + 1);
        }
        end = start;
    }
    Ok(from)
}

/// Postfix queue ids not seen since this time are forgotten: their message has left the
/// queue (see [`crate::sendlog::postfix::MAX_QUEUE_LIFETIME`]).
fn forget_queue_ids_before(now: &str) -> Result<String> {
    let now =
        chrono::DateTime::parse_from_rfc3339(now).context("the run's time is not RFC 3339")?;
    Ok((now.to_utc() - crate::sendlog::postfix::MAX_QUEUE_LIFETIME)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string())
}

/// One export file written.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportWritten {
    pub format: String,
    pub path: PathBuf,
    pub entries: u64,
    pub removed_path: Option<PathBuf>,
    pub removed_entries: u64,
    /// Suppressed addresses the format cannot hold, left out of the file.
    pub left_out: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_left_out: Option<String>,
    /// Of `left_out`, those suppressed or changed since this output was last written (all of
    /// them the first time): what `fbl run` tells, once, rather than at every run.
    pub new_left_out: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_new_left_out: Option<String>,
    /// Why an export of changes (`--changed-since-last`) was written in full: the output
    /// was last written in another format, or hashed otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_in_full: Option<String>,
    /// The files replaced (the list, its removals file) that had a group fbl's user could
    /// not give the new version (not a member of it, the folder not set-group-ID to it): its
    /// readers through that group (a list manager) can no longer read it. Said by the run
    /// that replaced it; the file has fbl's group after, so the runs after say nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups_lost: Vec<atomic_file::GroupLost>,
}

/// Which entries an export covers.
#[derive(Debug, Clone, Default)]
pub struct ExportScope {
    /// Only entries changed after this time.
    pub since: Option<String>,
    /// Only entries changed since this output was last written by fbl.
    pub changed_since_last: bool,
    /// The name the output's state is kept under, instead of its path: for an output that
    /// is not a file (standard output, a pipe), where the path tells no reader from another.
    pub state_name: Option<String>,
    /// The host the output's file is on (`[send_log] host`, else the machine's name). On a
    /// store several hosts share (PostgreSQL), a path names a file on one host: its state is
    /// kept under the host too, so that each host's file gets the changes it has not had.
    pub host: Option<String>,
}

/// Runs everything the configuration names, with the store locked: send logs, mailboxes,
/// local sources, expiry and pruning, exports. With `dry_run`, reads and parses everything
/// and changes nothing, in the store, the mailboxes or the exports. Each mailbox folder and
/// each source is a stretch of `progress`. `now_read` is the moment `now` was read: SNDS's
/// come-back time is counted from its answer, later in the run.
pub fn run(
    config: &Config,
    store: &mut Store,
    attribution: &Attribution,
    now: &str,
    now_read: std::time::Instant,
    dry_run: bool,
    progress: &mut dyn Progress,
) -> Result<RunSummary> {
    let mut summary = RunSummary {
        dry_run,
        ..RunSummary::default()
    };
    let ingester = Ingester {
        attribution,
        policy: &config.suppression,
        now,
        dry_run,
        trust: config.trust.as_ref(),
    };
    // Reports stored before this run: a source's file whose bytes are among them is a file
    // read again, not a report delivered twice.
    let stored_before = if config.sources.is_empty() {
        0
    } else {
        store.last_report_id()?
    };
    if !dry_run {
        for import in &config.send_log.imports {
            let imported = import_configured_send_log(
                store,
                &ingester,
                import,
                &config.send_log,
                &mut summary.send_log,
            );
            match imported {
                Ok(()) => {}
                // A store with no room left can take nothing more this run: fatal (exit 2),
                // as for a source.
                Err(error) if error.is::<StoreFull>() => {
                    return Err(error.context(format!("send log {}", import.path.display())));
                }
                Err(error) => summary.source_errors.push(format!("{error:#}")),
            }
        }
    }
    for mailbox in &config.mailboxes {
        // On a shared (PostgreSQL) store another host may be polling this mailbox now: it
        // is left to that host, whose run records the progress.
        let _polling = match store.lock_mailbox(&mailbox.name) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                summary.mailboxes.push(MailboxSummary {
                    mailbox: mailbox.name.clone(),
                    busy: true,
                    ..MailboxSummary::default()
                });
                continue;
            }
            Err(error) => {
                summary.mailboxes.push(MailboxSummary {
                    mailbox: mailbox.name.clone(),
                    errors: vec![format!("{error:#}")],
                    ..MailboxSummary::default()
                });
                continue;
            }
        };
        // Fails only when the store's disk is full: fatal (exit 2), as for a source.
        let polled = poll_mailbox(
            mailbox,
            store,
            &ingester,
            config.limits.max_message_bytes,
            PollOptions { dry_run },
            progress,
        )?;
        summary.ingest.add(&polled.ingest);
        summary.mailboxes.push(polled);
    }
    for source in &config.sources {
        let inputs = match Inputs::open(
            std::slice::from_ref(&source.path),
            config.limits.max_message_bytes,
        ) {
            Ok(inputs) => inputs,
            Err(error) => {
                summary
                    .source_errors
                    .push(format!("source {}: {error:#}", source.name));
                continue;
            }
        };
        progress.start(&format!("source {}", source.name), inputs.known_total());
        // Files read again are told by the ingest's own lookup of each file (whether the
        // report found has these very bytes), not counted among its duplicates.
        let read_again_before = summary.ingest.read_again;
        // The committed batches are counted, whatever happens next.
        let ingested = ingester.ingest_source(
            store,
            inputs,
            &mut summary.ingest,
            |done| progress.advance(done),
            stored_before,
        );
        progress.finish();
        summary.already_stored += summary.ingest.read_again - read_again_before;
        match ingested {
            Ok(()) => {}
            // A store with no room left can take nothing more this run: fatal (exit 2), with
            // what was kept said in the error.
            Err(error) if crate::store::is_disk_full(&error) => {
                return Err(error.context(format!("source {}", source.name)));
            }
            Err(error) => {
                summary
                    .source_errors
                    .push(format!("source {}: {error:#}", source.name));
                continue;
            }
        }
        let after = crate::config::SourceAfter::parse(&source.after)
            .unwrap_or(crate::config::SourceAfter::Keep);
        if dry_run || after == crate::config::SourceAfter::Keep {
            continue;
        }
        let mut done = SourceFilesDone {
            source: source.name.clone(),
            after: source.after.clone(),
            ..SourceFilesDone::default()
        };
        let tidied = tidy_source(
            store,
            &source.path,
            &after,
            config.limits.max_message_bytes,
            &mut done,
            &mut summary.source_errors,
        );
        if let Err(error) = tidied {
            summary
                .source_errors
                .push(format!("source {}: after: {error:#}", source.name));
        }
        summary.source_files.push(done);
    }
    if dry_run {
        summary
            .source_errors
            .extend(dry_run_findings(config, store));
        return Ok(summary);
    }
    let place = store.location().to_string();
    let (untold, highest) = store.quarantined_from_stdin_untold()?;
    summary.quarantined_since_last_run = untold
        .iter()
        .map(|entry| format!("#{} {}: {}", entry.id, entry.origin, entry.reason))
        .collect();
    if let Some(snds) = &config.snds {
        let options = FetchOptions {
            days: Days::Missing,
            refresh: false,
        };
        // Fails only when the store does; its disk full is fatal (exit 2), as for a source.
        let fetched = crate::snds_fetch::fetch_since(snds, store, options, now, now_read)
            .map_err(|error| store_failure(error, &place, Kept::Snds))
            .context("snds")?;
        summary.snds = Some(fetched.summary);
        summary.alerts = fetched.alerts;
    }
    let cutoff = chrono::DateTime::parse_from_rfc3339(now)
        .map(|t| t - chrono::Duration::days(config.send_log.retention_days as i64))
        .context("the run's time is not RFC 3339")?;
    store
        .expire_folded_reasons(&config.suppression, now)
        .map_err(|error| store_failure(error, &place, Kept::Expiry))
        .context("expiry")?;
    let pruned_now;
    (summary.expired, pruned_now) =
        expire(store, now, &cutoff.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .map_err(|error| store_failure(error, &place, Kept::Expiry))
            .context("expiry")?;
    // The imports pruned first: the run's figure counts theirs too.
    summary.send_log_pruned = pruned_now + summary.send_log.iter().map(|s| s.pruned).sum::<u64>();
    let host = config.send_log.position_host();
    for export in &config.exports {
        match never_listed_over_a_list(store, &host, export) {
            Ok(None) => {}
            Ok(Some(why)) => {
                summary.source_errors.push(why);
                continue;
            }
            Err(error) => {
                summary.source_errors.push(format!("{error:#}"));
                continue;
            }
        }
        let scope = ExportScope {
            host: Some(host.clone()),
            ..ExportScope::default()
        };
        match write_configured_export(store, export, &scope, now) {
            Ok(written) => summary.exports.push(written),
            // The store's disk full, not the export's own (which fails this export only):
            // fatal (exit 2), as for a source.
            Err(error) if error.is::<StoreFull>() => return Err(error),
            Err(error) => summary.source_errors.push(format!("{error:#}")),
        }
    }
    // Fails only when the store's disk is full: fatal (exit 2), as for a source.
    summary.report = Some(crate::reporting::run_step(
        store,
        config,
        now,
        &summary.send_log,
    )?);
    // Told: not again. Up to what was read above only: on PostgreSQL another host's
    // `ingest --mta` may have quarantined more since (this run's own are never from standard
    // input, and are in its summary).
    let mut batch = store.begin()?;
    batch.set_quarantine_told(highest)?;
    batch.commit()?;
    Ok(summary)
}

/// Why an export must not be written, when the store has never listed anyone and the
/// export's file, which fbl never wrote, holds a list: a mistyped `[store] path` or a
/// relative `FBL_DB` under cron opens a new, empty store, and would replace the list every
/// list manager reads with an empty one, exit 0. A file that holds what the export writes
/// for an empty list (the format's header line alone, with or without its line end) holds no
/// list.
pub(crate) fn never_listed_over_a_list(
    store: &Store,
    host: &str,
    export: &ExportConfig,
) -> Result<Option<String>> {
    let path = export.path.as_path();
    if store.change_seq()? != 0 {
        return Ok(None);
    }
    let Ok(atomic_file::OutputTarget::Path(real)) = atomic_file::resolve_output(path) else {
        return Ok(None);
    };
    let size = match std::fs::metadata(&real) {
        Ok(meta) if meta.is_file() => meta.len(),
        _ => return Ok(None),
    };
    if size == 0
        || holds_an_empty_list(&real, size, export)
        || store
            .export_state(&export_state_key(store, Some(host), path))?
            .is_some()
    {
        return Ok(None);
    }
    Ok(Some(format!(
        "export {} not written: it holds a list ({size} bytes) that fbl did not write, and \
         the store {} has never listed anyone; a mistyped [store] path or FBL_DB would \
         replace it with an empty list. If the list is to be emptied, remove the file",
        path.display(),
        store.location()
    )))
}

/// Whether the file at `real` (`size` bytes) holds what the export writes for an empty list:
/// a CSV format's header line alone (`email,doNotEmail,fbl_reason`), with or without its line
/// end, or a JSON format's empty array; white space at its end aside.
fn holds_an_empty_list(real: &Path, size: u64, export: &ExportConfig) -> bool {
    let options = ExportOptions { hash: export.hash };
    let mut empty = Vec::new();
    let no_entries: [crate::suppression::Suppression; 0] = [];
    if crate::export::write_export(export.format, &options, no_entries, &mut empty).is_err() {
        return false;
    }
    // Read only when it may be such a file.
    if size > empty.len() as u64 + 2 {
        return false;
    }
    std::fs::read(real).is_ok_and(|bytes| bytes.trim_ascii_end() == empty.trim_ascii_end())
}

/// What a dry run, which imports, fetches and writes nothing, can still find wrong in the
/// steps it leaves out, so that it checks a new configuration as the real run would: an
/// output whose folder does not exist (fbl creates none), a send log that cannot be read, an
/// SNDS account without its key or token. Nothing here touches the network.
fn dry_run_findings(config: &Config, store: &Store) -> Vec<String> {
    let mut found = Vec::new();
    for (name, path) in config.run_outputs() {
        if is_stream(&path) {
            continue;
        }
        let folder = match path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => Path::new("."),
        };
        if !folder.is_dir() {
            found.push(format!(
                "dry run: {name} {}: its folder {} does not exist (fbl does not create folders)",
                path.display(),
                folder.display()
            ));
        }
    }
    for import in &config.send_log.imports {
        if let Err(error) = std::fs::File::open(&import.path) {
            found.push(format!(
                "dry run: send log {}: cannot be read: {error}",
                import.path.display()
            ));
        }
    }
    if let Some(snds) = &config.snds {
        for account in &snds.legacy {
            if let Err(error) = crate::snds_account::legacy_access(account) {
                found.push(format!("dry run: snds account {}: {error:#}", account.name));
            }
        }
        if let Some(api) = &snds.api {
            match crate::snds_account::token_state(api, store) {
                Ok(state) if !state.present => found.push(format!(
                    "dry run: snds account {}: no refresh token: run `fbl snds login`",
                    api.name
                )),
                Ok(_) => {}
                Err(error) => found.push(format!("dry run: snds account {}: {error:#}", api.name)),
            }
        }
    }
    found.extend(
        readable_secret_files(config)
            .into_iter()
            .map(|warning| format!("dry run: {warning}")),
    );
    found
}

/// The files the configuration reads a secret from (passwords, refresh tokens, client
/// secrets, the token secret, SNDS keys and links), each with the setting that names it.
fn secret_files(config: &Config) -> Vec<(String, &Path)> {
    let mut files: Vec<(String, &Path)> = Vec::new();
    if let Some(path) = &config.store.password_file {
        files.push(("[store] password_file".to_owned(), path));
    }
    if let Some(path) = config
        .attribution
        .token
        .as_ref()
        .and_then(|token| token.secret_file.as_deref())
    {
        files.push(("[attribution] token secret_file".to_owned(), path));
    }
    for mailbox in &config.mailboxes {
        let name = &mailbox.name;
        if let Some(path) = &mailbox.password_file {
            files.push((format!("mailbox {name} password_file"), path));
        }
        if let Some(oauth) = &mailbox.oauth {
            files.push((
                format!("mailbox {name} refresh_token_file"),
                &oauth.refresh_token_file,
            ));
            if let Some(path) = oauth
                .client_secret
                .as_ref()
                .and_then(|secret| secret.secret_file.as_deref())
            {
                files.push((format!("mailbox {name} client_secret secret_file"), path));
            }
        }
    }
    if let Some(snds) = &config.snds {
        for account in &snds.legacy {
            let name = &account.name;
            if let Some(path) = &account.key_file {
                files.push((format!("snds account {name} key_file"), path));
            }
            if let Some(path) = &account.access_url_file {
                files.push((format!("snds account {name} access_url_file"), path));
            }
        }
        if let Some(api) = &snds.api {
            let name = &api.name;
            if let Some(path) = &api.token_file {
                files.push((format!("snds account {name} token_file"), path));
            }
            if let Some(path) = api
                .client_secret
                .as_ref()
                .and_then(|secret| secret.secret_file.as_deref())
            {
                files.push((
                    format!("snds account {name} client_secret secret_file"),
                    path,
                ));
            }
        }
    }
    files
}

/// A warning per file holding a secret that every user of this machine may read (links
/// followed). Said by `fbl config` and `fbl run --dry-run`, not by every run: a cron job
/// that warns at every run teaches people to ignore its mail.
pub fn readable_secret_files(config: &Config) -> Vec<String> {
    use std::os::unix::fs::PermissionsExt;
    let mut seen = std::collections::BTreeSet::new();
    secret_files(config)
        .into_iter()
        .filter(|(_, path)| {
            std::fs::metadata(path).is_ok_and(|metadata| {
                metadata.is_file() && metadata.permissions().mode() & 0o004 != 0
            })
        })
        .filter(|(_, path)| seen.insert(path.to_path_buf()))
        .map(|(setting, path)| {
            format!(
                "{setting} {file} is readable by every user of this machine; it holds a secret: \
                 chmod 600 {file}",
                file = path.display()
            )
        })
        .collect()
}

/// Expires the suppressions due by `now` and prunes the send-log entries sent before
/// `cutoff`, in one transaction; returns how many of each.
fn expire(store: &mut Store, now: &str, cutoff: &str) -> Result<(u64, u64)> {
    let mut batch = store.begin()?;
    let expired = batch.expire_suppressions(now)?;
    let pruned = batch.prune_send_log(cutoff)?;
    batch.commit()?;
    Ok((expired, pruned))
}

/// How long a source's file must have been left alone before `after` touches it: a file a
/// tool writes in place (not written elsewhere and renamed, as a Maildir delivery is) may be
/// read half-written; it is read again, whole, by a later run.
pub const SOURCE_FILE_SETTLE: std::time::Duration = std::time::Duration::from_secs(120);

/// Applies a `[[source]]`'s `after` to its message files whose message the store keeps:
/// checked file by file by the bytes read now, and only for a file left alone for
/// [`SOURCE_FILE_SETTLE`], not empty, and still the same file (device, inode, size, time)
/// just before it is moved or deleted. The store's commits are made durable first. A file
/// that cannot be moved or deleted is said in `errors` and left; the others go on. An mbox
/// is refused: its messages cannot be taken out one by one.
fn tidy_source(
    store: &Store,
    path: &Path,
    after: &crate::config::SourceAfter,
    max_bytes: u64,
    done: &mut SourceFilesDone,
    errors: &mut Vec<String>,
) -> Result<()> {
    use crate::config::SourceAfter;
    use std::os::unix::fs::MetadataExt;
    if path.is_file() && crate::mail_source::is_mbox(path)? {
        anyhow::bail!(
            "{} is an mbox, whose messages cannot be moved or deleted one by one: \
             after must be keep",
            path.display()
        );
    }
    if let SourceAfter::Move(folder) = after {
        // A folder the source reads would be read again and moved onto itself: refused
        // before anything is made. A Maildir's own subfolders (`.Done`, Maildir++) are not read.
        let source = path.canonicalize()?;
        let target = match folder.canonicalize() {
            Ok(target) => target,
            Err(_) => std::path::absolute(folder)?,
        };
        if let Ok(inside) = target.strip_prefix(&source) {
            let maildir = source.join("cur").is_dir() && source.join("new").is_dir();
            let subfolder = inside
                .components()
                .next()
                .is_some_and(|first| first.as_os_str().as_encoded_bytes().starts_with(b"."));
            if !(maildir && subfolder) {
                anyhow::bail!(
                    "after = \"move:{}\" is a folder the source reads: its files would be read \
                     again; move them out of {}",
                    folder.display(),
                    path.display()
                );
            }
        }
        // Never made: a mistyped name would put the reports where nobody looks for them.
        if !folder.is_dir() {
            anyhow::bail!(
                "after = \"move:{}\": {} is not a folder (fbl creates none, as a mistyped \
                 name would hide the files); create it, and the next run moves the files",
                folder.display(),
                std::path::absolute(folder)?.display()
            );
        }
    }
    // Nothing leaves the source before the store's commits are on disk.
    if !store.make_durable()? {
        anyhow::bail!(
            "the store is busy making its commits durable: the files stay for the next run"
        );
    }
    let settled_before = std::time::SystemTime::now() - SOURCE_FILE_SETTLE;
    let identity = |meta: &std::fs::Metadata| {
        (
            meta.dev(),
            meta.ino(),
            meta.len(),
            meta.mtime(),
            meta.mtime_nsec(),
        )
    };
    for incoming in Inputs::open(std::slice::from_ref(&path.to_path_buf()), max_bytes)? {
        let Ok(incoming) = incoming else {
            done.left += 1;
            continue;
        };
        let file = PathBuf::from(&incoming.origin);
        let Ok(before) = std::fs::symlink_metadata(&file) else {
            done.left += 1;
            continue;
        };
        let settled = before.modified().is_ok_and(|at| at <= settled_before);
        let whole = before.len() == incoming.raw.len() as u64
            && incoming.oversized.is_none()
            && !incoming.raw.iter().all(u8::is_ascii_whitespace);
        if !settled || !whole {
            done.left += 1;
            continue;
        }
        let digest = crate::store::sha256(&incoming.raw);
        let key = crate::content_key::content_key(&incoming.raw);
        // A forward (an auto-reply) of a report stored as delivered directly was a duplicate:
        // its report is kept under the attached report's key. Parsed only for a file not
        // found otherwise, which is rare.
        let kept = store.keeps_message(&digest, &key)?
            || match crate::ingest::attached_report_key(&incoming.raw) {
                Some(inner) => store.keeps_message(&digest, &inner)?,
                None => false,
            };
        if !kept {
            done.left += 1;
            continue;
        }
        // Still the file whose bytes were read: not replaced or written to meanwhile.
        if std::fs::symlink_metadata(&file)
            .map(|now| identity(&now))
            .ok()
            != Some(identity(&before))
        {
            done.left += 1;
            continue;
        }
        let result = match after {
            SourceAfter::Keep => continue,
            SourceAfter::Delete => std::fs::remove_file(&file)
                .with_context(|| format!("cannot delete {}", file.display())),
            SourceAfter::Move(folder) => move_into(&file, &incoming.raw, folder),
        };
        match result {
            Ok(()) => done.done += 1,
            Err(error) => {
                done.failed += 1;
                errors.push(format!("source {}: {error:#}", done.source));
            }
        }
    }
    Ok(())
}

/// Moves a message file (whose bytes are `raw`) into `folder` (its `cur/` when it is a
/// Maildir), under its own name, or `NAME.1`, `NAME.2`, ... when that is another file's; a
/// file of the same bytes there already is this one, moved by a run that stopped before it
/// removed the original. The new name is made whole (a hard link, or a copy under a
/// temporary name, synced, then linked) and its folder synced before the original goes.
fn move_into(file: &Path, raw: &[u8], folder: &Path) -> Result<()> {
    let name = file
        .file_name()
        .with_context(|| format!("{} has no file name", file.display()))?;
    let maildir_cur = folder.join("cur");
    let into = if maildir_cur.is_dir() && folder.join("new").is_dir() {
        maildir_cur
    } else {
        folder.to_path_buf()
    };
    let sync_folder = || {
        std::fs::File::open(&into)
            .and_then(|folder| folder.sync_all())
            .with_context(|| format!("cannot sync {}", into.display()))
    };
    for attempt in 0..1000u32 {
        let mut target_name = name.to_os_string();
        if attempt > 0 {
            target_name.push(format!(".{attempt}"));
        }
        let target = into.join(&target_name);
        if let Ok(there) = std::fs::read(&target) {
            if there == raw {
                sync_folder()?;
                return std::fs::remove_file(file)
                    .with_context(|| format!("cannot remove {}", file.display()));
            }
            continue;
        }
        match std::fs::hard_link(file, &target) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => continue,
            // Across file systems, or where links are not allowed: a copy under a temporary
            // name, synced, then linked to the name (which fails, replacing nothing, when
            // the name was taken meanwhile).
            Err(_) => {
                let mut temporary = std::ffi::OsString::from(".fbl-moving-");
                temporary.push(&target_name);
                let temporary = into.join(temporary);
                let copied = (|| -> std::io::Result<()> {
                    let mut to = std::fs::OpenOptions::new()
                        .write(true)
                        .create_new(true)
                        .open(&temporary)?;
                    std::io::Write::write_all(&mut to, raw)?;
                    to.sync_all()?;
                    std::fs::hard_link(&temporary, &target).or_else(|error| {
                        if error.kind() == std::io::ErrorKind::AlreadyExists || target.exists() {
                            Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists))
                        } else {
                            std::fs::rename(&temporary, &target)
                        }
                    })
                })();
                let _ = std::fs::remove_file(&temporary);
                copied.with_context(|| {
                    format!("cannot move {} to {}", file.display(), target.display())
                })?;
            }
        }
        sync_folder()?;
        return std::fs::remove_file(file)
            .with_context(|| format!("cannot remove {}", file.display()));
    }
    anyhow::bail!(
        "cannot move {} into {}: its name and a thousand variants are taken",
        file.display(),
        into.display()
    )
}

/// Writes one configured export (and its removals file, when configured).
pub fn write_configured_export(
    store: &mut Store,
    export: &ExportConfig,
    scope: &ExportScope,
    now: &str,
) -> Result<ExportWritten> {
    let options = ExportOptions { hash: export.hash };
    write_export_files(
        store,
        export.format,
        &options,
        &export.path,
        export.removed_path.as_deref(),
        scope,
        now,
    )
}

/// Writes the suppression list (and optionally the removals) atomically in one format.
/// How far back a whole list's removals file reaches (see `write_export_files`).
pub const REMOVALS_WINDOW_DAYS: i64 = 30;

/// The start of the removals window at `now` (RFC 3339).
fn removals_window_start(now: &str) -> Result<String> {
    let now = chrono::DateTime::parse_from_rfc3339(now).context("the time is not RFC 3339")?;
    Ok(
        (now.to_utc() - chrono::Duration::days(REMOVALS_WINDOW_DAYS))
            .format("%Y-%m-%dT%H:%M:%SZ")
            .to_string(),
    )
}

pub fn write_export_files(
    store: &mut Store,
    format: ExportFormat,
    options: &ExportOptions,
    path: &Path,
    removed_path: Option<&Path>,
    scope: &ExportScope,
    now: &str,
) -> Result<ExportWritten> {
    // Keyed by the file the path leads to (absolute, links followed), so that `d.txt` and
    // `./d.txt` are one output and `d.txt` in two folders two. A state recorded before under
    // the path as typed is read once when there is none under that key. Standard output, a
    // pipe or a device is no file that tells one reader from another: its state goes by the
    // name given with it (`--state-name`), and a delta there without a name is refused
    // rather than sharing one state with every other such output.
    let (state_name, typed_name) = match &scope.state_name {
        Some(name) => (format!("{STATE_NAME_PREFIX}{name}"), None),
        None if scope.changed_since_last && is_stream(path) => anyhow::bail!(
            "--changed-since-last to {}: standard output, a pipe or a device is no file that \
             fbl can keep the point of the list it last wrote for; name that point with \
             --state-name NAME (one name per reader of the changes), or write to a file",
            path.display()
        ),
        // On a shared store, the state an older fbl kept under the path alone is taken over
        // by the first host that writes the file (and deleted then: see `record_export`).
        None if store.dialect() == crate::store::Dialect::Postgres => (
            export_state_key(store, scope.host.as_deref(), path),
            Some(path_key(path)),
        ),
        None => (
            export_state_key(store, scope.host.as_deref(), path),
            Some(path.display().to_string()),
        ),
    };
    let shape = state_format(format, options);
    // The expiries due by `now` are recorded first, as `fbl run` records them: each takes
    // its point of the change sequence, so that a delta carries an expiry no run has
    // recorded yet (in its removals file, as a Postfix `DUNNO`), and a delta after a full
    // export, applied in order, gives the list a full export would.
    record_expiries(store, now).with_context(|| format!("export {}", path.display()))?;
    // The sequence, the list (read a page at a time) and its removals from one snapshot of
    // the store: the files show one state of the list, and the sequence recorded is the one
    // they hold, so a change committed meanwhile is exported next time.
    let (
        seq_now,
        (entries, main_file, removed_entries, removed_file),
        new_left_out,
        (whole, written_in_full),
    ) = store.read_snapshot(|store| {
        let seq_now = store.change_seq()?;
        let state = match (store.export_state(&state_name)?, &typed_name) {
            (Some(state), _) => Some(state),
            (None, Some(typed)) if *typed != state_name => store.export_state(typed)?,
            (None, _) => None,
        };
        let last_seq = state.as_ref().map(|state| state.change_seq);
        // What the output left out when it was last written, in which format: all it leaves
        // out is new when it was written in another format (or before fbl kept this), and
        // so are as many as the count grew by.
        let (last_format, last_left_out) = state.map_or((None, None), |s| (s.format, s.left_out));
        // Changes since an output written in another format, or hashed otherwise, would add
        // only the new entries to a file its reader takes as another kind of list: it is
        // written in full. (An output written before fbl kept its format is taken as it is.)
        let written_in_full = match (&last_format, scope.changed_since_last) {
            (Some(last), true) if *last != shape => Some(format!(
                "written in full, not as the changes since it was last written: it was last \
                 written as {}",
                last.replace('+', " hashed with ")
            )),
            _ => None,
        };
        let changed_after_seq = if scope.changed_since_last && written_in_full.is_none() {
            last_seq
        } else {
            None
        };
        let range = ChangeRange {
            since: scope.since.clone(),
            after_seq: changed_after_seq,
        };
        // The removals file of a whole list holds the addresses taken off in the last
        // `REMOVALS_WINDOW_DAYS`, not every address ever taken off: applied as a deletion at
        // every import, the older ones would lift, again and again, a suppression the target
        // has made itself since (an SES bounce, a listmonk blocklisting). A window, not "since
        // this output was last written": a cron run every few minutes rewrites the file, and
        // an importer that reads it once a day must still find the day's removals. The first
        // time, and after a change of shape, it holds them all; with --since, those of the
        // range asked for.
        let same_shape = last_format.as_deref().is_none_or(|last| last == shape);
        let removed_range = match changed_after_seq {
            Some(seq) => ChangeRange {
                since: scope.since.clone(),
                after_seq: Some(seq),
            },
            None if scope.since.is_none() && same_shape && last_seq.is_some() => ChangeRange {
                since: Some(removals_window_start(now)?),
                after_seq: None,
            },
            None => ChangeRange {
                since: scope.since.clone(),
                after_seq: None,
            },
        };
        // Both files are written whole and synced before either is put in place, so that a
        // removals file that cannot be written leaves the list as it was too. An output that
        // is a descriptor or a pipe is written as it is prepared, so it goes last.
        let (entries, main_file, removed_entries, removed_file) = match removed_path {
            Some(removed) if !is_stream(path) || is_stream(removed) => {
                let (entries, main_file) =
                    write_one(store, format, options, path, &range, false, now)?;
                let (removed_entries, removed_file) =
                    write_one(store, format, options, removed, &removed_range, true, now)?;
                (
                    entries,
                    main_file,
                    removed_entries.written,
                    Some(removed_file),
                )
            }
            Some(removed) => {
                let (removed_entries, removed_file) =
                    write_one(store, format, options, removed, &removed_range, true, now)?;
                let (entries, main_file) =
                    write_one(store, format, options, path, &range, false, now)?;
                (
                    entries,
                    main_file,
                    removed_entries.written,
                    Some(removed_file),
                )
            }
            None => {
                let (entries, main_file) =
                    write_one(store, format, options, path, &range, false, now)?;
                (entries, main_file, 0, None)
            }
        };
        // Which of those left out are new since the output was last written: the changes
        // after it, through the same writer into nothing (only when some are left out).
        let same_format = last_format.as_deref() == Some(shape.as_str());
        // An output of changes only (`--changed-since-last`) holds what is new already.
        let delta = changed_after_seq.is_some() || scope.since.is_some();
        let new_left_out = if entries.left_out == 0 || delta {
            (entries.left_out, entries.first_left_out.clone())
        } else if let (Some(seq), Some(before), true) = (last_seq, last_left_out, same_format) {
            // Those of the changes since, or as many as the count grew by (an address on the
            // list before that this output now leaves out), whichever is more.
            let (changed, first) = left_out_changed(store, format, options, scope, seq, now)?;
            let grown = entries.left_out.saturating_sub(before);
            if changed >= grown {
                (changed, first)
            } else {
                (grown, first.or_else(|| entries.first_left_out.clone()))
            }
        } else {
            (entries.left_out, entries.first_left_out.clone())
        };
        let whole = changed_after_seq.is_none() && scope.since.is_none();
        Ok((
            seq_now,
            (entries, main_file, removed_entries, removed_file),
            new_left_out,
            (whole, written_in_full),
        ))
    })?;
    let groups_lost = put_in_place(path, main_file, removed_path, removed_file)?;
    let place = store.location().to_string();
    let kept_left_out = whole.then_some(entries.left_out);
    // On a shared store, the state kept under the path alone was this host's to take over
    // once: another host writing its own file at that path starts from a whole list.
    let taken_over = typed_name
        .as_deref()
        .filter(|_| store.dialect() == crate::store::Dialect::Postgres);
    record_export(
        store,
        &state_name,
        taken_over,
        now,
        seq_now,
        &shape,
        kept_left_out,
    )
    .map_err(|error| store_failure(error, &place, Kept::Export))
    .with_context(|| format!("export {}", path.display()))?;
    Ok(ExportWritten {
        format: format.as_str().to_string(),
        path: path.to_path_buf(),
        entries: entries.written,
        removed_path: removed_path.map(Path::to_path_buf),
        removed_entries,
        left_out: entries.left_out,
        first_left_out: entries.first_left_out,
        new_left_out: new_left_out.0,
        first_new_left_out: new_left_out.1,
        written_in_full,
        groups_lost,
    })
}

/// The prefix of an output's state kept under the name given with `--state-name`: no
/// output path (absolute, or as typed before fbl resolved it) begins with it in practice.
const STATE_NAME_PREFIX: &str = "state-name:";

/// The shape an output is written in, as its state keeps it (the `format` column): the
/// format, and `+sha256` when its addresses are hashed. A delta is a delta of one shape.
fn state_format(format: ExportFormat, options: &ExportOptions) -> String {
    match options.hash {
        None => format.as_str().to_string(),
        Some(hash) => format!("{format}+{hash}"),
    }
}

/// An output's absolute path with the links followed, or the path as given for a descriptor.
fn path_key(path: &Path) -> String {
    match atomic_file::resolve_output(path) {
        Ok(atomic_file::OutputTarget::Path(real)) => real.display().to_string(),
        _ => path.display().to_string(),
    }
}

/// The name an output's `--changed-since-last` state is kept under: its absolute path with
/// the links followed, or the path as given for a descriptor (`/dev/stdout`). On a store
/// several hosts share (PostgreSQL), the host's name before it (see `ExportScope::host`): one
/// host's delta point is not another's, whose file at the same path has not had the changes.
fn export_state_key(store: &Store, host: Option<&str>, path: &Path) -> String {
    let key = path_key(path);
    match store.dialect() {
        crate::store::Dialect::Postgres => {
            let host = host.map_or_else(host_name, str::to_string);
            format!("host:{host}:{key}")
        }
        crate::store::Dialect::Sqlite => key,
    }
}

/// Records the expiry of the suppressions due by `now` (see `expire_suppressions`).
fn record_expiries(store: &mut Store, now: &str) -> Result<()> {
    let mut batch = store.begin()?;
    batch
        .expire_suppressions(now)
        .context("cannot record the expiries due")?;
    batch.commit()
}

/// Records in the store that an output was written: up to which change, in which format,
/// and, for a whole list, how many suppressed addresses it left out.
/// `taken_over` names a state kept under another name that this one replaces.
fn record_export(
    store: &mut Store,
    name: &str,
    taken_over: Option<&str>,
    now: &str,
    seq: i64,
    format: &str,
    left_out: Option<u64>,
) -> Result<()> {
    let mut batch = store.begin()?;
    batch.set_export_state(name, now, seq, format, left_out)?;
    if let Some(old) = taken_over.filter(|old| *old != name) {
        batch.delete_export_state(old)?;
    }
    batch.commit()
}

/// How many suppressed addresses changed after `after_seq` an output in `format` leaves
/// out, and the first: the changes, through the same writer into nothing.
fn left_out_changed(
    store: &Store,
    format: ExportFormat,
    options: &ExportOptions,
    scope: &ExportScope,
    after_seq: i64,
    now: &str,
) -> Result<(u64, Option<String>)> {
    let filter = SuppressionFilter {
        changed_since: scope.since.clone(),
        changed_after_seq: Some(after_seq),
        removed: false,
        now: now.to_string(),
    };
    let mut changed = store.suppressions(&filter);
    let counted = crate::export::write_export(format, options, changed.by_ref(), std::io::sink())?;
    changed.finish()?;
    Ok((counted.left_out, counted.first_left_out))
}

/// Whether an output is written as it is prepared, with no rename: a descriptor (`-`,
/// `/dev/stdout`), a device, a FIFO or a socket.
pub(crate) fn is_stream(path: &Path) -> bool {
    match atomic_file::resolve_output(path) {
        Ok(atomic_file::OutputTarget::Descriptor(_)) => true,
        Ok(atomic_file::OutputTarget::Path(real)) => {
            std::fs::metadata(real).is_ok_and(|meta| !meta.is_file() && !meta.is_dir())
        }
        Err(_) => false,
    }
}

/// Puts an export's prepared files in place: the list, then its removals file. When the
/// removals file cannot be renamed in after the list was, says exactly that: the list is
/// the new one, the removals file the old one, and nothing is recorded, so that the next
/// export of changes covers these again. Hands back the files put in place that lost their
/// group (see [`atomic_file::GroupLost`]).
fn put_in_place(
    path: &Path,
    main_file: atomic_file::Prepared,
    removed_path: Option<&Path>,
    removed_file: Option<atomic_file::Prepared>,
) -> Result<Vec<atomic_file::GroupLost>> {
    let mut groups_lost = Vec::new();
    let main_pending = main_file.is_pending();
    let main_lost = main_file.group_lost().cloned();
    main_file
        .put_in_place()
        .with_context(|| format!("cannot write export {}", path.display()))?;
    groups_lost.extend(main_lost);
    let (Some(removed_path), Some(removed_file)) = (removed_path, removed_file) else {
        return Ok(groups_lost);
    };
    let removed_lost = removed_file.group_lost().cloned();
    removed_file.put_in_place().with_context(|| {
        let main = if main_pending {
            format!("export {} was replaced with the new list", path.display())
        } else {
            format!("export {} holds the new list", path.display())
        };
        format!(
            "{main}, but its removals file {} was left as it was; this export is not \
             recorded, so the next one with --changed-since-last covers its changes again",
            removed_path.display()
        )
    })?;
    groups_lost.extend(removed_lost);
    Ok(groups_lost)
}

/// Which changes an export covers.
struct ChangeRange {
    since: Option<String>,
    after_seq: Option<i64>,
}

/// Writes one file of an export (the list, or with `removed` its removals) to its temporary
/// file, whole and synced, ready to be put in place.
fn write_one(
    store: &Store,
    format: ExportFormat,
    options: &ExportOptions,
    path: &Path,
    range: &ChangeRange,
    removed: bool,
    now: &str,
) -> Result<(crate::export::Exported, atomic_file::Prepared)> {
    // A missing folder is an error, never made: a mistyped folder (`/etc/postfx/`) would
    // put the file where its reader never looks, and the run would say nothing.
    let filter = SuppressionFilter {
        changed_since: range.since.clone(),
        changed_after_seq: range.after_seq,
        removed,
        now: now.to_string(),
    };
    let written = atomic_file::prepare_atomically(path, |out| {
        let mut entries = store.suppressions(&filter);
        let written = crate::export::write_export(format, options, entries.by_ref(), out)?;
        // A read error must not leave a short file in place of the list: fail the write.
        entries
            .finish()
            .map_err(|error| std::io::Error::other(format!("{error:#}")))?;
        Ok(written)
    })
    .with_context(|| format!("cannot write export {}", path.display()))?;
    Ok(written)
}
