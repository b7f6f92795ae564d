//! `fbl ingest`: store, attribute and act on messages from files, folders, Maildirs, mbox
//! files or standard input.

use super::progress::TerminalProgress;
use super::{Context, Outcome, print_json, stdout_is_terminal};
use crate::ingest::{Ingester, Progress as _, Summary};
use crate::mail_source::Inputs;
use anyhow::Result;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Ingest reports: each message is parsed, stored, attributed and acted on (complainants
/// suppressed). A message that cannot be parsed is quarantined with its bytes and reason.
/// Prints a summary on a terminal, with --json, or when something needs attention; silent
/// otherwise (for cron). Exit 1 when input was quarantined or complaints stayed unattributed.
#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    /// .eml files, folders of them, Maildirs, mbox files, or `-` for one message on stdin
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
    /// Delivery by an MTA (a Postfix pipe transport, procmail, a .forward), of `-`: exit 0
    /// once the message is kept (stored, or quarantined for a person), 75 (EX_TEMPFAIL: the
    /// MTA keeps it and retries) when it could not be; wait for another fbl's lock on the
    /// store; print nothing on standard output
    #[arg(long, conflicts_with = "json")]
    pub mta: bool,
}

/// How long `ingest --mta` waits for another fbl's lock unless `--lock-wait` says: a cron
/// run may hold it for minutes, and a delivery can wait that long.
pub const MTA_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

pub fn run(context: &Context, args: IngestArgs) -> Result<Outcome> {
    if args.mta && args.paths.iter().any(|p| p.as_os_str() != "-") {
        anyhow::bail!("--mta reads the one message an MTA delivers on standard input: give `-`");
    }
    // Without a configuration or a store named, the store would be `fbl.sqlite` in the MTA's
    // working folder (Postfix's queue folder, procmail's home), which nobody reads: the
    // MTA, told 0, would drop the only copy. Refused (75: the MTA keeps it and retries).
    if args.mta
        && context.config_path.is_none()
        && matches!(&context.db, crate::store::Location::Sqlite(path) if path.is_relative())
    {
        let folder = std::env::current_dir()
            .map(|dir| format!(" ({})", dir.display()))
            .unwrap_or_default();
        anyhow::bail!(
            "ingest --mta needs --config PATH (or an absolute --db PATH): without them the \
             report would go into a store in the MTA's working folder{folder}, which nobody reads"
        );
    }
    let attribution = super::parse::attribution_from(&context.config)?;
    let mut store = context.open_store()?;
    if args.mta && context.lock_wait.is_none() {
        store.set_lock_wait(MTA_LOCK_WAIT);
    }
    let _lock = store.lock()?;
    // From an MTA, the message on standard input is its only copy once fbl says 0: it is
    // kept whole, however big (the MTA's own size limit bounds it), never as a head that
    // asks for "the original" to be ingested again.
    let max_bytes = if args.mta {
        u64::MAX
    } else {
        context.config.limits.max_message_bytes
    };
    let inputs = Inputs::open(&args.paths, max_bytes)?;
    let ingester = Ingester {
        attribution: &attribution,
        policy: &context.config.suppression,
        now: &context.now,
        dry_run: false,
        trust: context.config.trust.as_ref(),
    };
    let mut progress = TerminalProgress::stderr();
    let label = match args.paths.as_slice() {
        [one] => one.display().to_string(),
        many => format!("{} inputs", many.len()),
    };
    progress.start(&label, inputs.known_total());
    let mut summary = Summary::default();
    let ingested = ingester.ingest_all(&mut store, inputs, &mut summary, |n| progress.advance(n));
    // Before the error, if any, so that it starts a line of its own.
    progress.finish();
    ingested?;
    if summary.messages == 0 {
        // Nothing read at all: a plain folder whose files are not named `*.eml` (reports
        // saved as `.txt` or `.msg`) would otherwise look like a folder without reports.
        for path in args.paths.iter().filter(|p| p.is_dir()) {
            let (count, shown) = crate::mail_source::files_not_read(path);
            if count > 0 {
                let names: Vec<String> = shown.iter().map(|p| p.display().to_string()).collect();
                summary.unreadable.push(format!(
                    "{}: {} not named *.eml ({}{}); in a folder that is not a Maildir only \
                     files named *.eml are read: rename them, or give the files themselves",
                    path.display(),
                    super::counted(count, "file", "files"),
                    names.join(", "),
                    if count > shown.len() as u64 {
                        ", ..."
                    } else {
                        ""
                    }
                ));
            }
        }
    }
    if args.mta {
        // Not read (a short read, a pipe that broke): not kept, so the MTA must keep it.
        if let Some(error) = summary.unreadable.first() {
            anyhow::bail!("the message was not kept: {error}");
        }
        // Kept: the MTA is done with it. What needs a person shows in `fbl quarantine list`
        // and the next `fbl run`; an MTA would put anything printed in a bounce.
        if summary.needs_attention() {
            eprint!("{}", describe(&summary));
        }
        return Ok(Outcome::Clean);
    }
    if args.json {
        print_json(&summary)?;
    } else if stdout_is_terminal() || summary.needs_attention() {
        print!("{}", describe(&summary));
    }
    Ok(if summary.needs_attention() {
        Outcome::Attention
    } else {
        Outcome::Clean
    })
}

/// The summary for a person.
pub fn describe(summary: &Summary) -> String {
    describe_with(summary, 0)
}

/// The summary for a person, with `already_stored` of its messages files read again whose
/// very bytes an earlier run stored (`fbl run`'s sources), not among its duplicates.
pub fn describe_with(summary: &Summary, already_stored: u64) -> String {
    describe_parts(summary, already_stored).text()
}

/// The ingest summary for a person, its lines kept apart: its figures, and what needs a
/// person. `fbl run` prints them whole at a terminal, and under cron puts what needs a
/// person first and the figures in a line of their own.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Described {
    /// The first line: the messages read and what became of them.
    pub headline: String,
    /// The figures under it (kinds, reporters, attribution, suppressions), not indented.
    pub counts: Vec<String>,
    /// What needs a person (unattributed, quarantined, not read, ...), in order, each kind
    /// followed by what to do next.
    pub attention: Vec<Attention>,
}

/// A line of [`Described::attention`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attention {
    /// A thing that needs a person, not indented.
    Item(String),
    /// What to do about the items before it, in brackets: it stays under them.
    Hint(String),
}

impl Described {
    /// The whole summary: the headline, then every other line indented by two spaces.
    pub fn text(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "{}", self.headline);
        for line in &self.counts {
            let _ = writeln!(text, "  {line}");
        }
        for line in &self.attention {
            match line {
                Attention::Item(line) | Attention::Hint(line) => {
                    let _ = writeln!(text, "  {line}");
                }
            }
        }
        text
    }
}

/// How many lines of each list that grows with the input (quarantined, not read, ...) a
/// summary names; the rest are counted.
pub const SHOWN: usize = 10;

/// How many lines of `lines` are past the first [`SHOWN`], when there are any.
pub fn more_than_shown(lines: &[String]) -> Option<usize> {
    Some(lines.len().saturating_sub(SHOWN)).filter(|&more| more > 0)
}

/// [`describe_with`]'s lines, kept apart.
pub fn describe_parts(summary: &Summary, already_stored: u64) -> Described {
    let headline = format!(
        "{}: {} stored, {} duplicates, {} quarantined{}{}{}",
        super::counted(summary.messages, "message", "messages"),
        summary.stored,
        summary.duplicates,
        summary.quarantined,
        if summary.already_quarantined > 0 {
            // Not among the quarantined: the counts of this line add up to the messages.
            format!(", {} already in quarantine", summary.already_quarantined)
        } else {
            String::new()
        },
        if already_stored > 0 {
            format!(", {already_stored} already stored (source files read again)")
        } else {
            String::new()
        },
        if summary.released > 0 {
            format!(
                "; {} released from quarantine (another delivery of their report is stored)",
                summary.released
            )
        } else {
            String::new()
        }
    );
    let list = |map: &std::collections::BTreeMap<String, u64>| {
        map.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut counts = Vec::new();
    if !summary.by_kind.is_empty() {
        counts.push(format!("kinds: {}", list(&summary.by_kind)));
        counts.push(format!("reporters: {}", list(&summary.by_reporter)));
    }
    counts.push(format!(
        "complaints and unsubscribes: {} attributed, {} unattributed",
        summary.attributed, summary.unattributed
    ));
    counts.push(format!(
        "suppressions: {} added, {} updated{}",
        summary.suppressions_added,
        summary.suppressions_updated,
        // More than the reports attributed: one report named several addresses.
        if summary.suppressions_added + summary.suppressions_updated > summary.attributed {
            " (a report may name several addresses)"
        } else {
            ""
        }
    ));
    let mut attention = Vec::new();
    for (reason, count) in &summary.unattributed_reasons {
        attention.push(Attention::Item(format!("unattributed ({count}): {reason}")));
    }
    if !summary.unattributed_reasons.is_empty() {
        // What a person does next, once per summary.
        attention.push(Attention::Hint(
            "(fbl store unattributed lists them; a send log imported later names those it \
             places)"
                .to_string(),
        ));
    }
    // Each list below grows with the input (10,000 broken files, 10,000 lines): the first
    // SHOWN of each are named, the rest counted, so that a cron mail stays readable.
    for line in summary.quarantine_reasons.iter().take(SHOWN) {
        attention.push(Attention::Item(format!("quarantined: {line}")));
    }
    let more = summary.quarantine_reasons.len().saturating_sub(SHOWN);
    if more > 0 {
        // The rest by reason (a line is `ORIGIN: REASON`; an origin, a path or an
        // `imap:` name, is taken to hold no ": "), the commonest first.
        let mut by_reason = std::collections::BTreeMap::<&str, u64>::new();
        for line in &summary.quarantine_reasons[SHOWN..] {
            let reason = line.split_once(": ").map_or(line.as_str(), |(_, r)| r);
            *by_reason.entry(reason).or_default() += 1;
        }
        let mut by_reason: Vec<(&str, u64)> = by_reason.into_iter().collect();
        by_reason.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        for (reason, count) in by_reason.iter().take(SHOWN) {
            attention.push(Attention::Item(format!(
                "quarantined ({count} more): {reason}"
            )));
        }
        if by_reason.len() > SHOWN {
            let rest = &by_reason[SHOWN..];
            attention.push(Attention::Item(format!(
                "quarantined ({} more, for {} other reasons)",
                rest.iter().map(|(_, count)| count).sum::<u64>(),
                rest.len()
            )));
        }
    }
    if !summary.quarantine_reasons.is_empty() {
        attention.push(Attention::Hint(if more > 0 {
            format!(
                "(these {} are all in fbl quarantine list, with their ids; fbl quarantine show \
                 ID, and retry ID after a fix)",
                summary.quarantine_reasons.len()
            )
        } else {
            "(fbl quarantine list gives their ids; fbl quarantine show ID, and retry ID after \
             a fix)"
                .to_string()
        }));
    }
    for line in summary.unreadable.iter().take(SHOWN) {
        attention.push(Attention::Item(format!(
            "not read (left where it is): {line}"
        )));
    }
    if let Some(more) = more_than_shown(&summary.unreadable) {
        attention.push(Attention::Item(format!(
            "not read (left where it is): {more} more (--json lists them all)"
        )));
    }
    for line in summary.not_spam_for_listed.iter().take(SHOWN) {
        attention.push(Attention::Item(format!(
            "not spam, says a report, of an address on the list (left on it; `fbl suppress \
             remove` takes it off): {line}"
        )));
    }
    if let Some(more) = more_than_shown(&summary.not_spam_for_listed) {
        attention.push(Attention::Item(format!(
            "not spam, says a report, of an address on the list (left on it): {more} more \
             (--json lists them all)"
        )));
    }
    for line in summary.left_removed.iter().take(SHOWN) {
        attention.push(Attention::Item(super::sendlog::left_removed(line)));
    }
    if let Some(more) = more_than_shown(&summary.left_removed) {
        attention.push(Attention::Item(format!(
            "complained before a person took the address off the list (left off it): {more} \
             more (--json lists them all)"
        )));
    }
    Described {
        headline,
        counts,
        attention,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_says_a_complaint_a_removal_leaves_off_the_list() {
        let mut summary = Summary::default();
        summary.left_removed = vec!["jane@example.org (report 2)".to_string()];
        assert!(summary.needs_attention());
        assert!(
            describe(&summary).contains(
                "\n  complained before a person took the address off the list (left off it; \
                 `fbl suppress show` says when and why, `fbl suppress add` puts it back): \
                 jane@example.org (report 2)\n"
            ),
            "{}",
            describe(&summary)
        );
    }

    #[test]
    fn the_summary_says_what_left_the_quarantine() {
        let mut summary = Summary::default();
        (summary.messages, summary.stored, summary.released) = (1, 1, 1);
        (summary.attributed, summary.suppressions_added) = (1, 2);
        assert!(
            describe(&summary).contains(
                "  suppressions: 2 added, 0 updated (a report may name several addresses)\n"
            ),
            "{}",
            describe(&summary)
        );
        summary.suppressions_added = 1;
        assert!(describe(&summary).contains("  suppressions: 1 added, 0 updated\n"));
        assert!(
            describe(&summary).starts_with(
                "1 message: 1 stored, 0 duplicates, 0 quarantined; 1 released from quarantine \
                 (another delivery of their report is stored)\n"
            ),
            "{}",
            describe(&summary)
        );
    }

    /// The figures and what needs a person come apart, for `fbl run`'s cron mail to put the
    /// latter first without reading the printed words; the whole text is the two together.
    #[test]
    fn the_summary_keeps_its_figures_apart_from_what_needs_a_person() {
        let mut summary = Summary::default();
        (summary.messages, summary.stored, summary.quarantined) = (3, 2, 1);
        (summary.attributed, summary.unattributed) = (1, 1);
        summary.by_kind.insert("abuse".to_string(), 2);
        summary.by_reporter.insert("microsoft".to_string(), 2);
        summary
            .unattributed_reasons
            .insert("no complainant found".to_string(), 1);
        summary.quarantine_reasons = vec!["a.eml: not a report".to_string()];
        summary.unreadable = vec!["b.eml: permission denied".to_string()];
        let described = describe_parts(&summary, 0);
        assert_eq!(
            described.headline,
            "3 messages: 2 stored, 0 duplicates, 1 quarantined"
        );
        assert_eq!(
            described.counts,
            [
                "kinds: abuse 2",
                "reporters: microsoft 2",
                "complaints and unsubscribes: 1 attributed, 1 unattributed",
                "suppressions: 0 added, 0 updated",
            ]
        );
        let hint = |text: &str| Attention::Hint(text.to_string());
        assert_eq!(
            described.attention,
            [
                Attention::Item("unattributed (1): no complainant found".to_string()),
                hint(
                    "(fbl store unattributed lists them; a send log imported later names \
                     those it places)"
                ),
                Attention::Item("quarantined: a.eml: not a report".to_string()),
                hint(
                    "(fbl quarantine list gives their ids; fbl quarantine show ID, and retry \
                     ID after a fix)"
                ),
                Attention::Item(
                    "not read (left where it is): b.eml: permission denied".to_string()
                ),
            ]
        );
        let text = describe(&summary);
        assert!(text.starts_with("3 messages: 2 stored, 0 duplicates, 1 quarantined\n  kinds: "));
        assert!(text.ends_with("\n  not read (left where it is): b.eml: permission denied\n"));
        assert_eq!(text.lines().count(), 1 + 4 + 5);
    }

    /// The first line's counts add up to the messages read: a message seen again that was
    /// already in quarantine is a count of its own, not one of the quarantined.
    #[test]
    fn the_summary_counts_add_up_to_the_messages() {
        let mut summary = Summary::default();
        (summary.messages, summary.stored, summary.duplicates) = (66, 53, 7);
        (summary.quarantined, summary.already_quarantined) = (5, 1);
        assert!(
            describe(&summary).starts_with(
                "66 messages: 53 stored, 7 duplicates, 5 quarantined, 1 already in quarantine\n"
            ),
            "{}",
            describe(&summary)
        );
    }
}
