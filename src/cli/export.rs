//! `fbl export`: write the suppression list for a list manager.

use super::{Context, Outcome, print_json};
use crate::atomic_file::OutputTarget;
use crate::export::{AddressHash, ExportFormat, ExportOptions};
use crate::ingest::StoreFull;
use crate::run::{ExportScope, write_configured_export, write_export_files};
use crate::store::Location;
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};

/// Write the suppression list in a list manager's format, atomically (a temporary file in
/// the same folder, renamed into place), in address order. Without --format, writes every
/// [[export]] of the configuration (each one even when another fails). Formats: plain, csv,
/// jsonl, listmonk, mautic, phplist, mailman, mailman-json, ses, ses-jsonl, mailgun,
/// postmark, postfix.
///
/// An output that is a link is followed and the file it leads to replaced; `-`,
/// /dev/stdout, /dev/stderr and /dev/fd/N are written to that open descriptor (a `>>`
/// redirection is appended to). An output that is the store, the configuration file or
/// another output of the same command is refused.
///
/// Before importing: in the csv, listmonk and mautic files, a reason, source or name that
/// begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` in front, but an
/// address is never changed (a valid address may begin with `=`), so open an export in a
/// spreadsheet with care; run `postmap` on a postfix export; Postmark
/// takes at most 50 addresses a request (`{"Suppressions": [...]}`), so split the array;
/// Mailgun's import takes files up to 25 MB. A removals file has the same shape as the full
/// list in every format but mautic (doNotEmail 0, which also clears a Do-Not-Contact Mautic
/// set itself: filter it first) and postfix (DUNNO): use it as a deletion (listmonk:
/// unblocklist; SES: a DELETE import job; Mailgun, Postmark: delete calls; Mailman, phpList:
/// take them off the ban or suppression list), never as a normal import, which would
/// suppress those addresses again. Every such deletion also lifts a suppression the target
/// made itself (an SES bounce, a listmonk blocklisting): leave those addresses out first
/// (README, "Exports").
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Output format
    #[arg(long)]
    pub format: Option<ExportFormat>,
    /// Output file (required with --format); `-` is standard output
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Also write the removed and expired addresses to this file, in the same format: those
    /// of the range with --changed-since-last or --since, else those taken off in the last
    /// 30 days (all the first time). Not an import file: it is the same shape as the
    /// list (but for mautic and postfix), so import it as a deletion, never as a normal import
    /// (README, "Exports")
    #[arg(long, value_name = "PATH")]
    pub removed_output: Option<PathBuf>,
    /// Write each address as the lowercase hex SHA-256 of the lower-cased address, for
    /// sharing a list without disclosing it: plain, csv and jsonl only
    #[arg(long, value_name = "sha256")]
    pub hash: Option<AddressHash>,
    /// Only entries changed at or after this RFC 3339 time (any offset)
    #[arg(long, value_name = "TIME", conflicts_with = "changed_since_last")]
    pub since: Option<String>,
    /// Only entries changed since fbl last wrote this output (kept per absolute path, or
    /// under --state-name); the addresses taken off the list since then are written only with
    /// --removed-output, and the next delta starts after them either way. An output last
    /// written in another format (or hashed otherwise) is written in full, and said so
    #[arg(long)]
    pub changed_since_last: bool,
    /// Keep the point of the list this delta reaches under NAME instead of the output's path:
    /// needed for --changed-since-last to standard output, a pipe or a device, which is no
    /// file that tells one reader from another. One name per reader of the changes
    #[arg(long, value_name = "NAME", requires = "changed_since_last")]
    pub state_name: Option<String>,
    /// Print what was written as JSON
    #[arg(long)]
    pub json: bool,
}

/// `-` on the command line: standard output.
pub(super) fn output_path(path: &Path) -> PathBuf {
    if path == Path::new("-") {
        PathBuf::from("/dev/stdout")
    } else {
        path.to_path_buf()
    }
}

/// `--since` as the store keeps times (RFC 3339 in UTC, `Z`, whole seconds), so that the
/// store's text comparison is a comparison of times whatever offset was given. A fraction of
/// a second is dropped: the entries of that second are included.
pub fn since_in_store_form(since: &str) -> Result<String> {
    let time = chrono::DateTime::parse_from_rfc3339(since).map_err(|_| {
        anyhow::anyhow!(
            "--since {since:?} is not an RFC 3339 time (for example 2026-11-22T10:00:00Z or \
             2026-11-22T11:00:00+01:00)"
        )
    })?;
    Ok(super::rfc3339(time.with_timezone(&chrono::Utc)))
}

/// Refuses outputs that would overwrite the store, the configuration or each other, and
/// standard output shared with the --json summary.
pub fn check_outputs(context: &Context, outputs: &[(String, PathBuf)], json: bool) -> Result<()> {
    let store = match &context.db {
        Location::Sqlite(path) => Some(path.as_path()),
        Location::Postgres(_) => None,
    };
    crate::config::check_output_paths(outputs, store, context.config_path.as_deref())?;
    if json {
        for (label, path) in outputs {
            if crate::atomic_file::resolve_output(path).ok() == Some(OutputTarget::Descriptor(1)) {
                bail!(
                    "{label} {} is standard output, where --json prints the summary: drop --json \
                     or write the export to a file",
                    path.display()
                );
            }
        }
    }
    Ok(())
}

pub fn run(context: &Context, args: ExportArgs) -> Result<Outcome> {
    let since = args.since.as_deref().map(since_in_store_form).transpose()?;
    if let Some(name) = &args.state_name
        && (name.is_empty() || name.chars().any(char::is_control))
    {
        bail!("--state-name {name:?}: give a name of visible characters");
    }
    let scope = ExportScope {
        since,
        changed_since_last: args.changed_since_last,
        state_name: args.state_name.clone(),
        host: Some(context.config.send_log.position_host()),
    };
    match (args.format, &args.output) {
        (Some(_), None) => bail!("--format needs --output PATH"),
        (None, Some(_)) => bail!("--output needs --format FORMAT"),
        (None, None) if args.state_name.is_some() => bail!(
            "--state-name goes with --format and --output: each configured export keeps its \
             state under its own path"
        ),
        _ => {}
    }
    let output = args.output.as_deref().map(output_path);
    let removed_output = args.removed_output.as_deref().map(output_path);
    let options = ExportOptions { hash: args.hash };
    let outputs = match (args.format, &output) {
        (Some(format), Some(output)) => {
            options.check(format)?;
            let mut outputs = vec![("--output".to_string(), output.clone())];
            if let Some(removed) = &removed_output {
                outputs.push(("--removed-output".to_string(), removed.clone()));
            }
            outputs
        }
        _ => {
            // Each [[export]] has its own settings: a flag meant for one file is not applied
            // to all of them, nor silently dropped.
            if args.removed_output.is_some() {
                bail!(
                    "--removed-output goes with --format and --output; for the configured \
                     exports, set removed_path in each [[export]]"
                );
            }
            if args.hash.is_some() {
                bail!(
                    "--hash goes with --format and --output; for the configured exports, set \
                     hash = \"sha256\" in each [[export]] that may carry hashes"
                );
            }
            if context.config.exports.is_empty() {
                bail!("no [[export]] in the configuration; give --format and --output");
            }
            context.config.export_outputs()
        }
    };
    check_outputs(context, &outputs, args.json)?;

    let mut store = context.open_existing_store()?;
    let _lock = store.lock()?;
    let mut written = Vec::new();
    let mut failed = 0;
    match (args.format, &output) {
        (Some(format), Some(output)) => written.push(write_export_files(
            &mut store,
            format,
            &options,
            output,
            removed_output.as_deref(),
            &scope,
            &context.now,
        )?),
        _ => {
            // Each configured export alone, as `fbl run` writes them: one that fails does not
            // keep the others from being written.
            for export in &context.config.exports {
                if let Some(why) = delta_to_a_stream(export, &scope) {
                    eprintln!("fbl: {why}");
                    failed += 1;
                    continue;
                }
                match crate::run::never_listed_over_a_list(
                    &store,
                    scope.host.as_deref().unwrap_or_default(),
                    export,
                ) {
                    Ok(None) => {}
                    Ok(Some(why)) => {
                        eprintln!("fbl: {why}");
                        failed += 1;
                        continue;
                    }
                    Err(error) => return Err(error),
                }
                match write_configured_export(&mut store, export, &scope, &context.now) {
                    Ok(done) => written.push(done),
                    // The store's disk full is fatal, as everywhere.
                    Err(error) if error.is::<StoreFull>() => return Err(error),
                    Err(error) => {
                        eprintln!("fbl: {error:#}");
                        failed += 1;
                    }
                }
            }
        }
    }
    for w in &written {
        if let Some(why) = &w.written_in_full {
            eprintln!("fbl: export {} {}: {why}", w.format, w.path.display());
        }
        if let Some(note) = left_out_note(w) {
            eprintln!("fbl: {note}");
        }
        if let Some(note) = size_note(w) {
            eprintln!("fbl: {note}");
        }
        for note in group_lost_notes(w) {
            eprintln!("fbl: {note}");
        }
    }
    if args.json {
        print_json(&written)?;
    } else if super::stdout_is_terminal() {
        for w in &written {
            println!(
                "{} in {} to {}",
                super::counted(w.entries, "entry", "entries"),
                w.format,
                w.path.display()
            );
        }
    }
    if failed > 0 {
        let total = context.config.exports.len();
        if failed == total {
            bail!("every configured export failed ({total}, each named above)");
        }
        bail!(
            "{failed} of {total} configured exports failed (each named above); the others were written"
        );
    }
    // A suppressed address left out (said above) must be suppressed another way, and a list
    // manager that lost the group it read the file through must be given it back: a person
    // is needed.
    Ok(
        if written
            .iter()
            .any(|w| w.left_out > 0 || !w.groups_lost.is_empty())
        {
            Outcome::Attention
        } else {
            Outcome::Clean
        },
    )
}

/// Why a configured export cannot be written as the changes since it was last written,
/// when it cannot: its path is standard output, a pipe or a device, which tells no reader of
/// the changes from another, so fbl keeps their point only under a name given with
/// `--state-name`, which goes with `--format` and `--output`, not with the configured
/// exports. Says what works instead.
fn delta_to_a_stream(export: &crate::config::ExportConfig, scope: &ExportScope) -> Option<String> {
    if !scope.changed_since_last || !crate::run::is_stream(&export.path) {
        return None;
    }
    let path = export.path.display();
    let format = export.format;
    Some(format!(
        "export {format} {path}: --changed-since-last needs the [[export]] written to a file, \
         where fbl keeps the point of the list it last wrote; standard output, a pipe or a \
         device is none, and the configured exports take no --state-name. For the changes \
         there, run `fbl export --format {format} --output {path} --changed-since-last \
         --state-name NAME` (one NAME per reader of the changes), or give this [[export]] a \
         file as its path"
    ))
}

/// The most Mailgun's suppression upload takes (its control panel and its API's file upload
/// refuse a larger CSV).
const MAILGUN_UPLOAD_BYTES: u64 = 25 * 1024 * 1024;

/// What to say of an export too big for its target to take in one file (a Mailgun CSV over
/// 25 MB), when it is one.
pub fn size_note(w: &crate::run::ExportWritten) -> Option<String> {
    if w.format != "mailgun" {
        return None;
    }
    let size = std::fs::metadata(&w.path)
        .ok()
        .filter(|meta| meta.is_file())?
        .len();
    (size > MAILGUN_UPLOAD_BYTES).then(|| {
        format!(
            "export mailgun {}: {size} bytes, more than the 25 MB Mailgun's suppression upload \
             takes: upload it in parts under 25 MB, each with the header line, or through \
             Mailgun's API",
            w.path.display(),
        )
    })
}

/// A line per file of an export that lost its group (the list, its removals file): which,
/// and what to do (see [`crate::atomic_file::GroupLost`]).
pub fn group_lost_notes(w: &crate::run::ExportWritten) -> impl Iterator<Item = String> + '_ {
    w.groups_lost
        .iter()
        .map(|lost| format!("export {}: {}", w.format, lost.message()))
}

/// The line that says which suppressed addresses an export left out, when it left out any.
/// The export does not fail: every other address is in the file. `fbl export` says it every
/// time it is asked.
pub fn left_out_note(written: &crate::run::ExportWritten) -> Option<String> {
    let first = written.first_left_out.as_deref()?;
    Some(note_of(written, written.left_out, first, ""))
}

/// [`left_out_note`] for `fbl run`: only of addresses left out for the first time (suppressed
/// or changed since the output was last written), so that a cron job says it once.
pub fn new_left_out_note(written: &crate::run::ExportWritten) -> Option<String> {
    let first = written.first_new_left_out.as_deref()?;
    let also = match written.left_out - written.new_left_out {
        0 => String::new(),
        older => format!(" ({older} more, said before)"),
    };
    Some(note_of(written, written.new_left_out, first, &also))
}

fn note_of(written: &crate::run::ExportWritten, count: u64, first: &str, also: &str) -> String {
    let them = if count == 1 { "it" } else { "them" };
    if crate::address::parse_typed(first).is_err() {
        // Quoted: such an address may hold a space or a line break.
        return format!(
            "export {} {}: {} suppressed address{} left out{also} (first: {first:?}, not a valid \
             address: kept from before fbl checked addresses, written it would be another \
             address or break the file); fbl suppress list --invalid lists them: remove \
             {them} and suppress the addresses meant",
            written.format,
            written.path.display(),
            count,
            if count == 1 { "" } else { "es" },
        );
    }
    // One line for every address left out: the reasons a format has are all said, as the
    // first address left out may not be the only kind.
    let why = if written.format == crate::export::ExportFormat::Postfix.as_str() {
        format!(
            "postmap reads a line that begins with # as a comment, and folds letter case so \
             that a key with ß or a like letter would also match another address (groß@ as \
             gross@), so reject {them} another way (the A-label form of an internationalised \
             domain is in the map when the part before the @ is ASCII)"
        )
    } else if written.format == crate::export::ExportFormat::Mailman.as_str() {
        format!(
            "Mailman holds no address whose part before the @ is not ASCII, and reads a line \
             that begins with # as a comment (mailman-json holds those), so unsubscribe and \
             ban {them} another way"
        )
    } else {
        format!(
            "{} takes ASCII addresses only and the part before the @ is not ASCII, so suppress \
             {them} another way",
            written.format
        )
    };
    format!(
        "export {} {}: {} suppressed address{} left out{also} (first: {first}): {why}",
        written.format,
        written.path.display(),
        count,
        if count == 1 { "" } else { "es" },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Mailgun CSV over 25 MB is said to be too big for Mailgun's upload; a smaller one, and
    /// another format's file that big, are not.
    #[test]
    fn a_mailgun_file_over_25_mb_is_said_to_be_too_big_to_upload() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.csv");
        // Sparse: no 26 MB written to disk.
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAILGUN_UPLOAD_BYTES + 1)
            .unwrap();
        let small = dir.path().join("small.csv");
        std::fs::write(&small, "address,created_at\n").unwrap();
        let written = |format: &str, path: &std::path::Path| crate::run::ExportWritten {
            format: format.to_string(),
            path: path.to_path_buf(),
            ..Default::default()
        };
        let note = size_note(&written("mailgun", &big)).unwrap();
        assert!(
            note.contains("26214401 bytes, more than the 25 MB Mailgun's suppression upload"),
            "{note}"
        );
        assert_eq!(size_note(&written("mailgun", &small)), None);
        assert_eq!(size_note(&written("csv", &big)), None);
    }
}
