//! `fbl run`: the one command for cron.

use super::progress::TerminalProgress;
use super::{Context, Outcome, print_json, stdout_is_terminal};
use crate::ingest::Progress as _;
use anyhow::{Context as _, Result, bail};

/// Process every configured source, fetch SNDS, expire suppressions, prune the send log,
/// write every configured export, then print the summary (on a terminal, with --json, or
/// when something needs attention; silent under cron otherwise). Exit 1 when something
/// needs attention, an SNDS alert included (an IP turned YELLOW or RED, hit spam traps or
/// more of them on a day already alerted, was blocked or unblocked; each alert is raised
/// once).
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
    /// Read and parse everything, change nothing (store, mailboxes, exports)
    #[arg(long)]
    pub dry_run: bool,
}

pub fn run(context: &Context, args: RunArgs) -> Result<Outcome> {
    // The run's time was read just before: SNDS's come-back time is counted from here.
    let now_read = std::time::Instant::now();
    // Everything `run` does comes from the configuration: without one it would make an
    // empty store where it stands and exit 0, every night, as when a cron job loses the
    // FBL_CONFIG its author set in a login shell.
    if context.config_path.is_none() {
        bail!(
            "fbl run needs a configuration (its sources, mailboxes, exports): give --config PATH \
             or set FBL_CONFIG"
        );
    }
    // An empty file (a deploy that truncated it) would otherwise pass for a quiet night:
    // with nothing configured, a run only expires and reports on what the store holds.
    if let Some(path) = &context.config_path
        && std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.parse::<toml::Table>().ok())
            .is_some_and(|table| table.is_empty())
    {
        bail!(
            "{} sets nothing (an empty file, or comments only): fbl run would read no \
             source, mailbox, send log or SNDS and write no export",
            path.display()
        );
    }
    // An [[export]] or [[report.output]] that is the store (given by --db), the
    // configuration file or another output of the run is refused before anything is done.
    super::export::check_outputs(context, &context.config.run_outputs(), args.json)?;
    let attribution = super::parse::attribution_from(&context.config)?;
    // A dry run changes nothing, not even by making the store: before the first run it
    // previews against an empty store in a temporary folder, removed after.
    let mut _preview_folder = None;
    let mut store = match &context.db {
        crate::store::Location::Sqlite(path) if args.dry_run && !path.exists() => {
            let folder = PreviewFolder::make()?;
            let store = crate::store::Store::open(&folder.0.join("fbl.sqlite"))?;
            _preview_folder = Some(folder);
            store
        }
        _ => context.open_store()?,
    };
    let _lock = lock_for_run(&mut store, context.lock_wait.unwrap_or(RUN_LOCK_WAIT))
        .map_err(quiet_overlap)?;
    let mut progress = TerminalProgress::stderr();
    let summary = crate::run::run(
        &context.config,
        &mut store,
        &attribution,
        &context.now,
        now_read,
        args.dry_run,
        &mut progress,
    );
    // Ends a bar cut short by an error, so that the error starts a line of its own.
    progress.finish();
    let summary = summary?;
    for export in &summary.exports {
        // Said by the run that first leaves an address out, not by every cron run after it
        // (`fbl export` says it every time; `--json` has the counts).
        if let Some(note) = super::export::new_left_out_note(export) {
            eprintln!("fbl: {note}");
        }
        // Said by the run that replaced the file: it has fbl's group after.
        for note in super::export::group_lost_notes(export) {
            eprintln!("fbl: {note}");
        }
    }
    // A [[report.output]] file that lost its group, as an export.
    for written in summary.report.iter().flat_map(|r| &r.written) {
        for lost in &written.groups_lost {
            eprintln!("fbl: report {}: {}", written.format, lost.message());
        }
    }
    // Under cron (standard output no terminal, no --json) the mail starts with why it was
    // sent: the problems on standard error first, then what needs a person, then one line per
    // area with news. At a terminal, and for a dry run's preview, the whole summary.
    let for_cron =
        !args.json && !summary.dry_run && !stdout_is_terminal() && summary.needs_attention();
    if for_cron {
        print_errors(&summary);
        print!("{}", cron_text(&summary));
    } else if args.json {
        print_json(&summary)?;
    } else if stdout_is_terminal() || summary.needs_attention() || summary.dry_run {
        // A dry run is asked for its preview: it prints it wherever its output goes (a pipe
        // to less, a script), not only on a terminal.
        print!("{}", full_text(&summary));
    }
    if !for_cron {
        print_errors(&summary);
    }
    Ok(if summary.needs_attention() {
        Outcome::Attention
    } else {
        Outcome::Clean
    })
}

/// One line per problem on stderr, whatever the output format.
fn print_errors(summary: &crate::run::RunSummary) {
    for error in summary
        .mailboxes
        .iter()
        .flat_map(|m| &m.errors)
        .chain(&summary.source_errors)
        .chain(summary.report.iter().flat_map(|r| &r.errors))
        .chain(summary.snds.iter().flat_map(|s| &s.errors))
    {
        eprintln!("fbl: {error}");
    }
}

/// A send log's line, then its errors and the addresses it left off the list, indented.
fn send_log_lines(text: &mut String, import: &crate::run::SendLogImported) {
    use std::fmt::Write as _;
    let _ = writeln!(
        text,
        "send log {}: {}, {} new, {}{}; {} stored complaints attributed by it; {}",
        import.origin,
        super::counted(import.entries, "entry", "entries"),
        import.added,
        super::counted(import.bad_lines, "bad line", "bad lines"),
        super::sendlog::unrecognised(import),
        import.reattributed,
        super::sendlog::how_read(import)
    );
    for error in &import.errors {
        let _ = writeln!(text, "  {error}");
    }
    // As many as the log names: the first few, then a count.
    for line in import.left_removed.iter().take(super::ingest::SHOWN) {
        let _ = writeln!(text, "  {}", super::sendlog::left_removed(line));
    }
    if let Some(more) = super::ingest::more_than_shown(&import.left_removed) {
        let _ = writeln!(
            text,
            "  complained before a person took the address off the list (left off it): {more} \
             more (--json lists them all)"
        );
    }
}

/// The messages put in quarantine from standard input (an MTA, `fbl ingest -`) since the last
/// run, the first ten of them.
fn quarantined_from_standard_input(text: &mut String, indent: &str, lines: &[String]) {
    use super::ingest::{SHOWN, more_than_shown};
    use std::fmt::Write as _;
    for line in lines.iter().take(SHOWN) {
        let _ = writeln!(
            text,
            "{indent}quarantined since the last run, from standard input (an MTA, fbl ingest -; fbl \
             quarantine show ID): {line}"
        );
    }
    if let Some(more) = more_than_shown(lines) {
        let _ = writeln!(
            text,
            "{indent}... and {more} more quarantined from standard input (fbl quarantine list)"
        );
    }
}

/// The whole summary: at a terminal, and a dry run's preview.
fn full_text(summary: &crate::run::RunSummary) -> String {
    use std::fmt::Write as _;
    let mut text = String::new();
    for import in &summary.send_log {
        send_log_lines(&mut text, import);
    }
    text.push_str(&super::ingest::describe_with(
        &summary.ingest,
        summary.already_stored,
    ));
    if summary.expired > 0 {
        let _ = writeln!(text, "  expired suppressions: {}", summary.expired);
    }
    for files in &summary.source_files {
        let _ = writeln!(
            text,
            "  source {}: {} {}{}",
            files.source,
            super::counted(files.done, "file", "files"),
            match files.after.strip_prefix("move:") {
                Some(folder) => format!("moved to {folder}"),
                None => "deleted".to_string(),
            },
            match (files.left, files.failed) {
                (0, 0) => String::new(),
                (left, 0) => format!(
                    "; {left} left (not kept in the store, written in the last two minutes, \
                     or empty)"
                ),
                (left, failed) => format!(
                    "; {left} left (not kept in the store, written in the last two \
                     minutes, or empty), {failed} could not be moved or deleted"
                ),
            }
        );
    }
    for export in &summary.exports {
        let _ = writeln!(
            text,
            "  export {}: {} to {}",
            export.format,
            super::counted(export.entries, "entry", "entries"),
            export.path.display()
        );
        if let Some(note) = super::export::size_note(export) {
            let _ = writeln!(text, "  {note}");
        }
    }
    for mailbox in &summary.mailboxes {
        if mailbox.busy {
            let _ = writeln!(
                text,
                "  mailbox {}: another host is polling it; left to that host",
                mailbox.mailbox
            );
        }
        for folder in &mailbox.folders {
            let _ = writeln!(text, "  {}", folder_line(&mailbox.mailbox, folder));
        }
    }
    if let Some(report) = &summary.report {
        for written in &report.written {
            let _ = writeln!(
                text,
                "  report {}: {} days to {}",
                written.format,
                written.days,
                written.path.display()
            );
        }
        for alert in &report.alerts {
            let _ = writeln!(text, "  alert: {}", alert.message);
        }
    }
    if let Some(snds) = &summary.snds {
        text.push_str(&super::snds::describe(snds));
    }
    for alert in &summary.alerts {
        let _ = writeln!(text, "  alert: {}", alert.message);
    }
    quarantined_from_standard_input(&mut text, "  ", &summary.quarantined_since_last_run);
    if summary.dry_run {
        let _ = writeln!(text, "  dry run: nothing was changed");
    }
    text
}

/// `fbl run` under cron when something needs a person (its problems are on standard error,
/// written before this): first each thing that needs one on a line of its own (alerts, what
/// was quarantined or left unattributed, send-log and mailbox trouble), so that the mail's
/// first lines say why it was sent; then a short summary, one line per area with news.
fn cron_text(summary: &crate::run::RunSummary) -> String {
    use std::fmt::Write as _;
    let mut attention = String::new();
    let mut news = Vec::new();
    for alert in summary.report.iter().flat_map(|r| &r.alerts) {
        let _ = writeln!(attention, "alert: {}", alert.message);
    }
    for alert in &summary.alerts {
        let _ = writeln!(attention, "alert: {}", alert.message);
    }
    quarantined_from_standard_input(&mut attention, "", &summary.quarantined_since_last_run);
    // The ingest summary's lines past its counts say what needs a person (quarantined,
    // unattributed, not read, ...), each with what to do next.
    let ingest = super::ingest::describe_parts(&summary.ingest, summary.already_stored);
    for line in &ingest.attention {
        match line {
            super::ingest::Attention::Item(item) => {
                let _ = writeln!(attention, "{item}");
            }
            // A hint in brackets stays under the lines it is about.
            super::ingest::Attention::Hint(hint) => {
                let _ = writeln!(attention, "  {hint}");
            }
        }
    }
    for import in &summary.send_log {
        if import.needs_attention() {
            send_log_lines(&mut attention, import);
        } else if import.added > 0 || import.reattributed > 0 {
            news.push(format!(
                "send log {}: {}, {} stored complaints attributed by it",
                import.origin,
                super::counted(import.added, "new entry", "new entries"),
                import.reattributed
            ));
        }
    }
    for mailbox in &summary.mailboxes {
        for folder in &mailbox.folders {
            if folder.error.is_some() {
                let _ = writeln!(attention, "{}", folder_line(&mailbox.mailbox, folder));
            } else if folder.new_messages > 0
                || folder.left_for_next_runs > 0
                || folder.rescanned
                || !folder.pending_finished.is_empty()
                || folder.pending_found_done > 0
            {
                news.push(folder_line(&mailbox.mailbox, folder));
            }
        }
    }
    if summary.ingest.messages > 0 {
        news.insert(
            0,
            format!(
                "{}; {} attributed, {} unattributed; suppressions: {} added, {} updated",
                ingest.headline,
                summary.ingest.attributed,
                summary.ingest.unattributed,
                summary.ingest.suppressions_added,
                summary.ingest.suppressions_updated
            ),
        );
    }
    if summary.expired > 0 {
        news.push(format!("expired suppressions: {}", summary.expired));
    }
    for files in &summary.source_files {
        if files.failed > 0 {
            let _ = writeln!(
                attention,
                "source {}: {} could not be moved or deleted",
                files.source,
                super::counted(files.failed, "file", "files")
            );
        }
        if files.done > 0 {
            news.push(format!(
                "source {}: {} {}",
                files.source,
                super::counted(files.done, "file", "files"),
                match files.after.strip_prefix("move:") {
                    Some(folder) => format!("moved to {folder}"),
                    None => "deleted".to_string(),
                }
            ));
        }
    }
    if !summary.exports.is_empty() {
        let written: Vec<String> = summary
            .exports
            .iter()
            .map(|export| {
                format!(
                    "{} {}",
                    export.format,
                    super::counted(export.entries, "entry", "entries")
                )
            })
            .collect();
        news.push(format!("exports written: {}", written.join(", ")));
        news.extend(summary.exports.iter().filter_map(super::export::size_note));
    }
    if let Some(report) = summary.report.as_ref().filter(|r| !r.written.is_empty()) {
        let written: Vec<String> = report
            .written
            .iter()
            .map(|written| format!("{} {} days", written.format, written.days))
            .collect();
        news.push(format!("reports written: {}", written.join(", ")));
    }
    if let Some(snds) = &summary.snds {
        let with_news = crate::snds_fetch::SndsSummary {
            accounts: snds
                .accounts
                .iter()
                .filter(|a| a.waiting || a.rows_added > 0 || a.rows_updated > 0)
                .cloned()
                .collect(),
            errors: Vec::new(),
        };
        news.extend(
            super::snds::describe(&with_news)
                .lines()
                .map(|line| line.trim_start().to_owned()),
        );
    }
    let mut text = attention;
    if !news.is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str("this run:\n");
        for line in news {
            let _ = writeln!(text, "  {line}");
        }
    }
    text
}

/// A folder's line in the summary: what this run read and did, what it left for the next
/// runs (`limit`), what it finished for an earlier run, and the error that stopped it.
fn folder_line(mailbox: &str, folder: &crate::mailbox_poll::FolderSummary) -> String {
    let listed = |map: &std::collections::BTreeMap<String, u64>| {
        map.iter()
            .map(|(a, n)| format!("{a} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut line = format!(
        "mailbox {mailbox} {}: {} new",
        folder.folder, folder.new_messages
    );
    if folder.left_for_next_runs > 0 {
        line.push_str(&format!(
            " ({} more left for the next runs: limit)",
            folder.left_for_next_runs
        ));
    }
    if folder.rescanned {
        line.push_str(" (UIDVALIDITY changed: read again from the start)");
    }
    if !folder.actions.is_empty() {
        line.push_str(&format!("; {}", listed(&folder.actions)));
    }
    if !folder.pending_finished.is_empty() {
        line.push_str(&format!(
            " (of which left pending by an earlier run: {})",
            listed(&folder.pending_finished)
        ));
    }
    if folder.pending_found_done > 0 {
        line.push_str(&format!(
            "; {} left pending by an earlier run found done already on the server",
            super::counted(folder.pending_found_done, "action", "actions")
        ));
    }
    if let Some(error) = &folder.error {
        line.push_str(&format!(
            "; failed after {} committed: {error}",
            super::counted(folder.committed, "message", "messages")
        ));
    }
    line
}

/// A private temporary folder for a dry run's empty store, removed with what it holds when
/// dropped (after the store is closed: it is declared before the store).
struct PreviewFolder(std::path::PathBuf);

impl PreviewFolder {
    fn make() -> Result<PreviewFolder> {
        use std::os::unix::fs::DirBuilderExt;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("fbl-dry-run-{}-{nanos}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .with_context(|| format!("cannot make {} for the dry run's store", path.display()))?;
        Ok(PreviewFolder(path))
    }
}

impl Drop for PreviewFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// How long `fbl run` waits for another fbl's lock unless `--lock-wait` says. An MTA that
/// pipes reports in (`ingest --mta`) takes the lock for a moment per message: a run that
/// gave up at once would be skipped, without a word, for as long as mail streams in.
pub const RUN_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Takes the store's lock for a run, waiting up to `wait` for another fbl; a person at a
/// terminal is told that it waits.
fn lock_for_run(
    store: &mut crate::store::Store,
    wait: std::time::Duration,
) -> Result<crate::store::StoreLock> {
    use std::io::IsTerminal;
    store.set_lock_wait(std::time::Duration::ZERO);
    match store.lock() {
        Err(error)
            if !wait.is_zero() && error.downcast_ref::<crate::store::StoreLocked>().is_some() =>
        {
            if std::io::stderr().is_terminal() {
                eprintln!(
                    "fbl: another fbl is working on store {}: waiting up to {} s for it",
                    store.location(),
                    wait.as_secs()
                );
            }
            store.set_lock_wait(wait);
            store.lock()
        }
        locked => locked,
    }
}

/// How long a run may hold the store before the cron run that finds it held says so. A run
/// on a large backlog (a first poll of an old mailbox) may take longer than cron's interval:
/// the runs it overlaps exit 3 without a word, so cron mails nothing; one held longer than
/// this is stuck or too slow for its schedule, and each run that finds it says so.
pub const OVERLAP_SAID_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// `fbl run` without a terminal (cron, a timer) that finds another run's lock taken less
/// than `OVERLAP_SAID_AFTER` ago ends quietly; at a terminal, a person is told.
fn quiet_overlap(error: anyhow::Error) -> anyhow::Error {
    use std::io::IsTerminal;
    match error.downcast::<crate::store::StoreLocked>() {
        Ok(mut locked) => {
            locked.quiet = !std::io::stderr().is_terminal()
                && locked
                    .holder
                    .as_ref()
                    .is_some_and(|holder| holder.held_for() < OVERLAP_SAID_AFTER);
            locked.into()
        }
        Err(error) => error,
    }
}
