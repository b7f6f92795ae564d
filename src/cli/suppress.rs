//! `fbl suppress`: read and change the suppression list by hand.

use super::{Context, Outcome, print_json};
use crate::address;
use crate::store::{Store, SuppressChange, SuppressRequest, SuppressionFilter};
use crate::suppression::{self, Suppression, escape_field};
use anyhow::{Context as _, Result, bail};
use std::io::BufRead;
use std::path::PathBuf;

/// Read and change the suppression list.
#[derive(Debug, clap::Subcommand)]
pub enum SuppressCommand {
    /// List the suppressed addresses (address, reason, source, first and last seen, count, expiry)
    List {
        /// List removed and expired entries instead
        #[arg(long)]
        removed: bool,
        /// Print the list as one JSON array
        #[arg(long)]
        json: bool,
        /// List only the entries that are not valid addresses (kept before fbl checked
        /// addresses as closely as now); `fbl suppress remove` takes them off
        #[arg(long)]
        invalid: bool,
    },
    /// Exit 0 when ADDRESS is suppressed, 1 when it is not (for scripts); prints the entry
    ///
    /// With several addresses, or `-` to read them from standard input one per line (one
    /// process for a whole list: starting fbl costs far more than a lookup; blank lines and
    /// `#` comments are skipped, but `#a@example.org` is an address), it prints a line for
    /// each, in order (`--json`: a JSON object per line), and exits 0 when every one is
    /// suppressed, 1 when one is not.
    ///
    /// Something that is not an email address is not on the list (unless a store kept it
    /// before addresses were checked as closely as now: then it is, by its exact text), so it
    /// counts as not suppressed, exit 1, one address or a list alike; why is said on standard
    /// error for one address, in its line for a list. Exit 2 only when fbl cannot answer (the
    /// store missing or unusable, standard input unreadable).
    Check {
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
        /// Print the answers as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show an address's entry, its history (every add, change and removal) and evidence
    Show { address: String },
    /// Suppress addresses by hand
    Add {
        #[arg(required = true)]
        addresses: Vec<String>,
        /// Reason kept with the entry (control characters replaced by spaces; not blank)
        #[arg(long, default_value = "manual")]
        reason: String,
    },
    /// Take addresses off the list; the reason is kept in each one's history. Several
    /// addresses, or `-` (one per line on standard input; blank lines and `#` comments
    /// skipped), are taken off in one transaction, with a line per address on standard
    /// output (removed, not on the list, not an email address); exit 1 when one was not
    /// removed
    Remove {
        #[arg(required = true, value_name = "ADDRESS")]
        addresses: Vec<String>,
        /// Why it is removed (required)
        #[arg(long)]
        reason: String,
    },
    /// Import an existing list (a file, or `-` for standard input): one address per line
    /// (blank lines and `#` comments skipped, but `#a@example.org` is an address), or CSV
    /// with an `email`, `address`, `Email Address` or `E-mail` column (and optionally
    /// `reason`)
    ///
    /// An address a person took off the list (`fbl suppress remove`) is left off: the
    /// summary counts and names them, and the command exits 1. `--include-removed` puts them
    /// back.
    Import {
        file: PathBuf,
        /// Reason for entries that give none
        #[arg(long, default_value = "import")]
        reason: String,
        /// Put back on the list the addresses a person took off it (`fbl suppress remove`),
        /// which are otherwise left off
        #[arg(long)]
        include_removed: bool,
    },
}

pub fn run(context: &Context, command: SuppressCommand) -> Result<Outcome> {
    // Adding to the list may start it; every other command needs the list that exists.
    let mut store = match command {
        SuppressCommand::Add { .. } | SuppressCommand::Import { .. } => context.open_store()?,
        SuppressCommand::List { .. }
        | SuppressCommand::Check { .. }
        | SuppressCommand::Show { .. } => context.open_store_for_reading()?,
        _ => context.open_existing_store()?,
    };
    let now = context.now.as_str();
    match command {
        SuppressCommand::List {
            removed,
            json,
            invalid,
        } => {
            let filter = SuppressionFilter {
                changed_since: None,
                changed_after_seq: None,
                removed,
                now: now.to_string(),
            };
            // Written as it is read, never held in memory (a list of millions of entries):
            // the JSON array an entry at a time, in the bytes `print_json` writes for the whole.
            let mut entries = 0u64;
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            if json {
                use std::io::Write;
                write!(out, "[").context("cannot write to standard output")?;
            } else {
                super::terminal_header(
                    &mut out,
                    &[
                        "ADDRESS",
                        "REASON",
                        "SOURCE",
                        "FIRST SEEN",
                        "LAST SEEN",
                        "COUNT",
                        if removed {
                            "EXPIRES/REMOVED"
                        } else {
                            "EXPIRES"
                        },
                    ],
                )?;
            }
            store.for_each_suppression(&filter, |entry| {
                use std::io::Write;
                if invalid && address::parse_typed(&entry.address).is_ok() {
                    return Ok(());
                }
                if json {
                    let text = serde_json::to_string_pretty(entry)?;
                    write!(out, "{}", if entries == 0 { "\n" } else { ",\n" })
                        .context("cannot write to standard output")?;
                    // Indented one level, as in the array (a JSON string holds no line break).
                    for (index, line) in text.lines().enumerate() {
                        let end = if index == 0 { "" } else { "\n" };
                        write!(out, "{end}  {line}").context("cannot write to standard output")?;
                    }
                    entries += 1;
                } else {
                    writeln!(
                        out,
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        escape_field(&entry.address),
                        escape_field(&entry.reason),
                        escape_field(&entry.source),
                        entry.first_seen,
                        entry.last_seen,
                        entry.count,
                        entry
                            .expires_at
                            .as_deref()
                            .or(entry.removed_at.as_deref())
                            .unwrap_or("-")
                    )
                    .context("cannot write to standard output")?;
                }
                Ok(())
            })?;
            if json {
                use std::io::Write;
                let end = if entries == 0 { "]" } else { "\n]" };
                writeln!(out, "{end}").context("cannot write to standard output")?;
            }
            // Dropping the buffer would lose a failed last write (a full disk, a closed pipe).
            std::io::Write::flush(&mut out).context("cannot write to standard output")?;
            Ok(Outcome::Clean)
        }
        SuppressCommand::Check { addresses, json }
            if addresses.len() > 1 || addresses[0] == "-" =>
        {
            check_many(&store, &addresses, json, now)
        }
        SuppressCommand::Check { addresses, json } => {
            // The address to say "not suppressed" of; none for what is not an address, said
            // on standard error instead.
            let (not_suppressed, entry) = match check_address(&store, &addresses[0], now)? {
                Checked::Address { address, entry } => (Some(address), entry),
                Checked::NotAnAddress { raw, why, entry } => {
                    if entry.is_none() {
                        eprintln!(
                            "fbl: {raw:?} is not an email address: {why}; it is not on the \
                             suppression list"
                        );
                    }
                    (None, entry)
                }
            };
            if json {
                print_json(&entry)?;
            } else if let Some(entry) = &entry {
                println!(
                    "{} suppressed: {} ({}, since {})",
                    escape_field(&entry.address),
                    escape_field(&entry.reason),
                    escape_field(&entry.source),
                    entry.first_seen
                );
            } else if let Some(address) = not_suppressed {
                println!("{address} not suppressed");
            }
            Ok(if entry.is_some() {
                Outcome::Clean
            } else {
                Outcome::Attention
            })
        }
        SuppressCommand::Show { address } => {
            let normalised = parse_typed(&address)?;
            let entry = store.active_suppression(&normalised, now)?;
            let value = serde_json::json!({
                "address": normalised,
                "suppressed": entry,
                "history": store.history(&normalised)?,
                "evidence_report_ids": store.evidence(&normalised)?,
            });
            print_json(&value)?;
            Ok(Outcome::Clean)
        }
        SuppressCommand::Add { addresses, reason } => {
            let reason = typed_reason(&reason, "suppressed")?;
            let normalised = addresses
                .iter()
                .map(|a| parse_typed(a))
                .collect::<Result<Vec<_>>>()?;
            let _lock = store.lock()?;
            let expires_at = suppression::expiry(&reason, now, &context.config.suppression);
            let mut batch = store.begin()?;
            let mut listed = Vec::new();
            for address in &normalised {
                let change = batch.suppress(&SuppressRequest {
                    address,
                    reason: &reason,
                    source: "manual",
                    seen_at: now,
                    expires_at: expires_at.as_deref(),
                    report_id: None,
                    actor: "manual",
                    now,
                })?;
                if change == SuppressChange::Unchanged {
                    listed.push(address);
                }
            }
            batch.commit()?;
            for address in listed {
                eprintln!("fbl: {address} was already on the suppression list; nothing changed");
            }
            Ok(Outcome::Clean)
        }
        SuppressCommand::Remove { addresses, reason }
            if addresses.len() > 1 || addresses[0] == "-" =>
        {
            let reason = typed_reason(&reason, "removed")?;
            remove_many(&mut store, &addresses, &reason, now)
        }
        SuppressCommand::Remove { addresses, reason } => {
            let address = &addresses[0];
            let reason = typed_reason(&reason, "removed")?;
            // An entry kept before addresses were checked as closely as now (`a@b@c.com`)
            // can still be taken off by its exact text.
            let (normalised, invalid) = match address::parse_typed(address) {
                Ok(normalised) => (normalised, None),
                Err(why) => (address.trim().to_string(), Some(why)),
            };
            let _lock = store.lock()?;
            let mut batch = store.begin()?;
            let removed = batch.unsuppress(&normalised, &reason, "manual", now)?;
            batch.commit()?;
            if let (false, Some(why)) = (removed, invalid) {
                bail!("{address:?} is not an email address: {why}");
            }
            if !removed {
                eprintln!("fbl: {normalised} was not on the suppression list");
                return Ok(Outcome::Attention);
            }
            Ok(Outcome::Clean)
        }
        SuppressCommand::Import {
            file,
            reason,
            include_removed,
        } => {
            let reason = typed_reason(&reason, "imported")?;
            let entries = read_import(&file, &reason)?;
            let _lock = store.lock()?;
            // One transaction, so that a failure imports nothing (importing again would count
            // every address twice); the list is read as it goes, never held in memory.
            let mut batch = store.begin()?;
            let (mut read, mut added, mut updated, mut unchanged, mut invalid, mut cleaned) =
                (0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
            // Addresses a person took off the list, left off (without `--include-removed`).
            let mut left_removed = 0u64;
            let mut shown = Vec::new();
            for entry in entries {
                let ImportEntry {
                    line,
                    address: raw,
                    reason: entry_reason,
                    cleaned: reason_cleaned,
                } = entry?;
                read += 1;
                if reason_cleaned {
                    cleaned += 1;
                    if shown.len() < 20 {
                        shown.push(format!(
                            "{}:{line}: the reason's control characters (tab, line break) \
                             replaced by spaces, or bytes that are not UTF-8 by U+FFFD",
                            file.display()
                        ));
                    }
                }
                let parsed = match &raw {
                    Ok(raw) => address::parse_typed(raw)
                        .map_err(|why| format!("{raw:?} is not an email address: {why}")),
                    Err(lossy) => Err(format!(
                        "{lossy:?} is not UTF-8 text, so not an email address"
                    )),
                };
                let address = match parsed {
                    Ok(address) => address,
                    Err(why) => {
                        invalid += 1;
                        if shown.len() < 20 {
                            shown.push(format!("{}:{line}: {why}", file.display()));
                        }
                        continue;
                    }
                };
                // A person's removal is a decision (the subscriber asked to be mailed again,
                // the complaint was a mistake): an old list imported again does not undo it.
                if !include_removed && let Some(removal) = batch.removed_by_person(&address)? {
                    left_removed += 1;
                    if shown.len() < 20 {
                        shown.push(format!(
                            "{}:{line}: {address} left off: a person took it off the list at \
                             {}{}",
                            file.display(),
                            removal.at,
                            removal
                                .why
                                .as_deref()
                                .map(|why| format!(" ({})", escape_field(why)))
                                .unwrap_or_default()
                        ));
                    }
                    continue;
                }
                let expires_at =
                    suppression::expiry(&entry_reason, now, &context.config.suppression);
                let change = batch.suppress(&SuppressRequest {
                    address: &address,
                    reason: &entry_reason,
                    source: "import",
                    seen_at: now,
                    expires_at: expires_at.as_deref(),
                    report_id: None,
                    actor: "import",
                    now,
                })?;
                match change {
                    SuppressChange::Added => added += 1,
                    SuppressChange::Updated => updated += 1,
                    // Only a report's complaint is left off the list (not an import).
                    SuppressChange::Unchanged | SuppressChange::LeftRemoved => unchanged += 1,
                }
            }
            batch.commit()?;
            // Updated (a stronger reason, an expiry lifted) and already listed (nothing
            // changed) are said only when there are some, as a first import has none.
            let mut summary = format!(
                "{}, {added} added",
                super::counted(read, "address read", "addresses read")
            );
            if updated > 0 {
                summary.push_str(&format!(", {updated} updated"));
            }
            if unchanged > 0 {
                summary.push_str(&format!(", {unchanged} already listed"));
            }
            if cleaned > 0 {
                summary.push_str(&format!(
                    ", {}",
                    super::counted(cleaned, "reason cleaned", "reasons cleaned")
                ));
            }
            if left_removed > 0 {
                summary.push_str(&format!(
                    ", {left_removed} left off (a person took them off the list; \
                     --include-removed puts them back)"
                ));
            }
            println!("{summary}, {invalid} invalid");
            for line in &shown {
                println!("  {line}");
            }
            let said = invalid + cleaned + left_removed;
            if said > shown.len() as u64 {
                println!("  ... and {} more", said - shown.len() as u64);
            }
            Ok(if invalid == 0 && left_removed == 0 {
                Outcome::Clean
            } else {
                Outcome::Attention
            })
        }
    }
}

/// The address a person typed, normalised; an error that says why it is not one.
fn parse_typed(raw: &str) -> Result<String> {
    address::parse_typed(raw)
        .map_err(|why| anyhow::anyhow!("{raw:?} is not an email address: {why}"))
}

/// A reason typed on the command line, as it is kept (see `suppression::clean_reason`);
/// refused when blank. `done` is what happens to the address (`removed`).
fn typed_reason(reason: &str, done: &str) -> Result<String> {
    let (clean, replaced) = suppression::clean_reason(reason);
    let clean = suppression::fold_reason(clean);
    if clean.is_empty() {
        bail!("--reason must say why the address is {done}");
    }
    if replaced {
        eprintln!(
            "fbl: the reason's control characters (tab, line break) were replaced by spaces: \
             {clean:?}"
        );
    }
    Ok(clean)
}

/// One address of an imported list.
struct ImportEntry {
    /// The line of the file it starts on.
    line: u64,
    /// The address as written; the line's or cell's text, its bytes that are not UTF-8
    /// replaced, when it is not UTF-8 (a bad line).
    address: Result<String, String>,
    /// Cleaned (see `suppression::clean_reason`); the default when the line gives none.
    reason: String,
    /// Whether the line's reason had control characters (replaced by spaces) or bytes that are
    /// not UTF-8 (replaced by U+FFFD).
    cleaned: bool,
}

/// The names of an address column in an imported CSV's header (lower-cased), the most
/// telling first: with `Name,Address,Email`, the `Email` column is the address, and
/// `Address` a postal one.
const ADDRESS_COLUMNS: [&str; 7] = [
    "email",
    "e-mail",
    "email address",
    "e-mail address",
    "email_address",
    "emailaddress",
    "address",
];

/// Reads a plain list or a CSV file, an entry at a time. A line that is not UTF-8 (a
/// Windows-1252 name, say) does not stop the import: in a plain list or in the address
/// column, it is a bad line; elsewhere it does not matter (the reason is read as far as it is
/// UTF-8).
///
/// The first line that is neither blank nor a `#` comment says what the file is: a CSV
/// header naming an address column; a first row of a CSV without a header whose first field
/// is an address and whose second is one of fbl's reasons (`a@example.org,COMPLAINT`, as the
/// SES export writes it); a header that names no address column (an error, said once); or
/// else the first line of a plain list.
fn read_import(
    path: &PathBuf,
    default_reason: &str,
) -> Result<Box<dyn Iterator<Item = Result<ImportEntry>>>> {
    use std::io::Read as _;
    // `-` is standard input, as for `fbl ingest -` and `fbl suppress check -`.
    let file: Box<dyn std::io::Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(
            std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?,
        )
    };
    let mut reader = std::io::BufReader::with_capacity(256 * 1024, file);
    // The first line with content, and its line in the file (blank lines and comments
    // before it are skipped, as they would be in a plain list).
    let mut first = Vec::new();
    let mut first_line_number = 0u64;
    loop {
        first.clear();
        let read = reader
            .read_until(b'\n', &mut first)
            .with_context(|| format!("cannot read {}", path.display()))?;
        first_line_number += 1;
        // A list saved by Excel or another Windows program starts with a UTF-8 byte order
        // mark, which is not part of the header or of the first address (`fbl sendlog
        // import` drops it too).
        if first_line_number == 1 && first.starts_with(BYTE_ORDER_MARK) {
            first.drain(..3);
        }
        let text = String::from_utf8_lossy(&first);
        if read == 0 || !(text.trim().is_empty() || address::is_comment_line(&text)) {
            break;
        }
    }
    let first_line = String::from_utf8_lossy(&first).trim().to_string();
    let columns = |delimiter: char| -> Vec<String> {
        first_line
            .split(delimiter)
            .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
            .collect()
    };
    let address_column_of = |header: &[String]| {
        ADDRESS_COLUMNS
            .iter()
            .find_map(|name| header.iter().position(|h| h == name))
    };
    // Commas, or the semicolons a spreadsheet writes where the comma is the decimal mark
    // (Excel in most of Europe), or tabs: whichever makes a header with an address column.
    let with_header = [',', ';', '\t']
        .into_iter()
        .map(|delimiter| (delimiter, columns(delimiter)))
        .find_map(|(delimiter, header)| {
            let address_column = address_column_of(&header)?;
            let reason_column = header.iter().position(|h| h == "reason");
            Some((delimiter, address_column, reason_column))
        });
    // fbl's own SES export, `address,REASON` with no header: read back, not taken for a
    // plain list whose every line is "not an email address".
    let headerless = || {
        let fields: Vec<&str> = first_line.split(',').map(str::trim).collect();
        (fields.len() == 2
            && address::parse_typed(fields[0]).is_ok()
            && suppression::KNOWN_REASONS
                .iter()
                .any(|known| fields[1].eq_ignore_ascii_case(known)))
        .then_some((',', 0, Some(1)))
    };
    let shown = path.display().to_string();
    let default_reason = default_reason.to_string();
    let csv_shape = match with_header {
        // The CSV reader starts on the line after the header.
        Some(shape) => Some((shape, first_line_number + 1, Vec::new())),
        // It starts on the first row, given back to it.
        None => headerless().map(|shape| (shape, first_line_number, std::mem::take(&mut first))),
    };
    if csv_shape.is_none() {
        // A header (a line of several fields, none of them an address) that names no address
        // column: one clear error, not every row "not an email address".
        let fields = [',', ';', '\t']
            .into_iter()
            .map(columns)
            .max_by_key(Vec::len)
            .unwrap_or_default();
        if fields.len() > 1
            && fields
                .iter()
                .all(|field| address::parse_typed(field).is_err())
        {
            bail!(
                "{shown}:{first_line_number}: no address column found in the header {first_line:?}; \
                 name it email (or address, e-mail, Email Address), or give a plain list of \
                 one address a line"
            );
        }
    }
    if let Some(((delimiter, address_column, reason_column), start, given_back)) = csv_shape {
        let blank = std::rc::Rc::new(std::cell::RefCell::new(std::collections::VecDeque::new()));
        let csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .delimiter(delimiter as u8)
            .flexible(true)
            .from_reader(BlankLines {
                inner: std::io::Cursor::new(given_back).chain(reader),
                line: 1,
                content: false,
                blank: blank.clone(),
            });
        // The line the record before ended on, counted from the line before the CSV
        // reader's first (0). The CSV reader's own positions are where it began reading a
        // record, before the blank lines it skipped (and, with CRLF ends, before the LF of
        // the record before).
        let mut last_line = 0;
        Ok(Box::new(
            csv.into_byte_records()
                .map(move |record| {
                    let record = record.with_context(|| format!("cannot read {shown}"))?;
                    // A record starts on the first line after the record before that is not
                    // blank, and ends as many lines on as its quoted fields hold line breaks.
                    let mut line = last_line + 1;
                    let mut blank = blank.borrow_mut();
                    while let Some(&first) = blank.front().filter(|&&first| first <= line) {
                        blank.pop_front();
                        if first == line {
                            line += 1;
                        }
                    }
                    last_line = line
                        + record
                            .iter()
                            .map(|field| field.iter().filter(|&&b| b == b'\n').count() as u64)
                            .sum::<u64>();
                    // The file's line.
                    let line = line + start - 1;
                    let cell = record.get(address_column).unwrap_or(b"");
                    let address = std::str::from_utf8(cell)
                        .map(str::to_string)
                        .map_err(|_| String::from_utf8_lossy(cell).into_owned());
                    // A `#` comment line: its first field starts with `#`, and it holds no
                    // address where the address is (`#team@example.org,complaint` is one).
                    let first_field = String::from_utf8_lossy(record.get(0).unwrap_or(b""));
                    if first_field.trim_start().starts_with('#')
                        && address
                            .as_deref()
                            .map_or(true, |a| address::parse_typed(a.trim()).is_err())
                    {
                        return Ok(None);
                    }
                    let (reason, cleaned) = match reason_column.and_then(|c| record.get(c)) {
                        None => (String::new(), false),
                        Some(cell) => {
                            let text = String::from_utf8_lossy(cell);
                            let (reason, cleaned) = suppression::clean_reason(&text);
                            (reason, cleaned || std::str::from_utf8(cell).is_err())
                        }
                    };
                    let reason = if reason.is_empty() {
                        default_reason.clone()
                    } else {
                        suppression::fold_reason(reason)
                    };
                    Ok(Some(ImportEntry {
                        line,
                        address,
                        reason,
                        cleaned,
                    }))
                })
                .filter_map(Result::transpose),
        ))
    } else {
        let keep = |text: &str| !text.trim().is_empty() && !address::is_comment_line(text);
        // A line that is not UTF-8 is kept (a bad line to name) unless its text, as far as it
        // is UTF-8, is blank or a comment.
        let entry = move |line: u64, bytes: &[u8]| {
            let address = match std::str::from_utf8(bytes) {
                Ok(text) => Ok(text.trim().to_string()),
                Err(_) => Err(String::from_utf8_lossy(bytes).trim().to_string()),
            };
            let text = address.as_ref().unwrap_or_else(|lossy| lossy);
            keep(text).then(|| ImportEntry {
                line,
                address,
                reason: default_reason.clone(),
                cleaned: false,
            })
        };
        let head = entry(first_line_number, &first).map(Ok);
        let rest = reader
            .split(b'\n')
            .enumerate()
            .filter_map(move |(index, line)| match line {
                Err(error) => Some(Err(
                    anyhow::Error::new(error).context(format!("cannot read {shown}"))
                )),
                Ok(line) => entry(index as u64 + first_line_number + 1, &line).map(Ok),
            });
        Ok(Box::new(head.into_iter().chain(rest)))
    }
}

/// A reader that notes the numbers of the blank lines (empty, or a lone CR) it passes on,
/// counted as the CSV reader counts lines (from 1), for `read_import` to skip.
struct BlankLines<R> {
    inner: R,
    /// The line the next byte is on.
    line: u64,
    /// Whether that line has had a byte other than CR.
    content: bool,
    blank: std::rc::Rc<std::cell::RefCell<std::collections::VecDeque<u64>>>,
}

impl<R: std::io::Read> std::io::Read for BlankLines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        for &byte in &buf[..read] {
            match byte {
                b'\n' => {
                    if !self.content {
                        self.blank.borrow_mut().push_back(self.line);
                    }
                    self.line += 1;
                    self.content = false;
                }
                b'\r' => {}
                _ => self.content = true,
            }
        }
        Ok(read)
    }
}

/// What `fbl suppress remove` of a list did with one of its lines.
enum Removal {
    Removed(String),
    NotListed(String),
    NotAnAddress { raw: String, why: String },
}

/// `fbl suppress remove` of several addresses, or of `-` (a line each on standard input):
/// one transaction, so that 100,000 removals take one lock and one commit, each kept in its
/// address's history as one removal is; then a line per address, in order (once committed:
/// a line never says removed of a removal not kept). Clean when every one was removed.
fn remove_many(
    store: &mut Store,
    addresses: &[String],
    reason: &str,
    now: &str,
) -> Result<Outcome> {
    use std::io::Write;
    // Standard input is read whole first (a person pasting, a slow producer): neither the
    // store's lock nor its write transaction waits on it, so cron's run is not held up.
    let mut lines: Vec<(String, bool)> = Vec::new();
    for address in addresses {
        if address == "-" {
            for line in std::io::stdin().lock().split(b'\n') {
                let line = line.context("cannot read standard input")?;
                let line = line.strip_prefix(BYTE_ORDER_MARK).unwrap_or(&line);
                lines.push(match std::str::from_utf8(line) {
                    Ok(text) => (text.to_owned(), true),
                    Err(_) => (String::from_utf8_lossy(line).into_owned(), false),
                });
            }
        } else {
            lines.push((address.clone(), true));
        }
    }
    let _lock = store.lock()?;
    let mut batch = store.begin()?;
    let mut done = Vec::new();
    // `utf8`: false for a line of standard input that is not UTF-8 (its bytes replaced): not
    // an address, and not an entry's exact text either.
    for (raw, utf8) in &lines {
        let raw = raw.trim();
        // Blank lines and `#` comments, as `suppress import` and `suppress check -` read a list.
        if raw.is_empty() || address::is_comment_line(raw) {
            continue;
        }
        if !utf8 {
            done.push(Removal::NotAnAddress {
                raw: raw.to_owned(),
                why: "it is not UTF-8 text".to_string(),
            });
            continue;
        }
        // An entry kept before addresses were checked as closely as now is taken off by its
        // exact text, as for one address.
        let (normalised, invalid) = match address::parse_typed(raw) {
            Ok(normalised) => (normalised, None),
            Err(why) => (raw.to_owned(), Some(why.to_string())),
        };
        done.push(
            match (
                batch.unsuppress(&normalised, reason, "manual", now)?,
                invalid,
            ) {
                (true, _) => Removal::Removed(normalised),
                (false, Some(why)) => Removal::NotAnAddress {
                    raw: raw.to_owned(),
                    why,
                },
                (false, None) => Removal::NotListed(normalised),
            },
        );
    }
    batch.commit()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut every = true;
    for removal in &done {
        match removal {
            Removal::Removed(address) => writeln!(out, "{address} removed")?,
            Removal::NotListed(address) => {
                every = false;
                writeln!(out, "{address} was not on the suppression list")?;
            }
            Removal::NotAnAddress { raw, why } => {
                every = false;
                writeln!(
                    out,
                    "{raw:?} is not an email address: {why}; it is not on the suppression list"
                )?;
            }
        }
    }
    out.flush()?;
    Ok(if every {
        Outcome::Clean
    } else {
        Outcome::Attention
    })
}

/// The UTF-8 byte order mark a Windows program puts at the start of a text file.
const BYTE_ORDER_MARK: &[u8] = b"\xef\xbb\xbf";

/// The answer of `fbl suppress check` for one typed address.
enum Checked {
    /// A valid address, normalised, and its entry when it is suppressed.
    Address {
        address: String,
        entry: Option<Suppression>,
    },
    /// Not an email address (`raw`, trimmed): not on the list, unless a store kept it by this
    /// exact text before addresses were checked as closely as now (`entry`).
    NotAnAddress {
        raw: String,
        why: String,
        entry: Option<Suppression>,
    },
}

/// The one rule of `fbl suppress check`, for one address and for a list: a valid address is
/// looked up; what is not an address is not on the list (but for an entry kept by its exact
/// text), and so counts as not suppressed, never as a failure.
fn check_address(store: &Store, raw: &str, now: &str) -> Result<Checked> {
    let raw = raw.trim();
    Ok(match address::parse_typed(raw) {
        Ok(address) => Checked::Address {
            entry: store.active_suppression(&address, now)?,
            address,
        },
        Err(why) => Checked::NotAnAddress {
            entry: if raw.is_empty() {
                None
            } else {
                store.active_suppression(raw, now)?
            },
            raw: raw.to_owned(),
            why: why.to_string(),
        },
    })
}

/// `fbl suppress check` of a list: a line per address, in order; Clean when every one is
/// suppressed. A line that is not an address is said so and counts as not suppressed.
fn check_many(store: &Store, addresses: &[String], json: bool, now: &str) -> Result<Outcome> {
    use std::io::Write;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut every = true;
    // `utf8`: false for a line of standard input that is not UTF-8 (`raw` has its bytes
    // replaced), not an address.
    let mut check = |raw: &str, utf8: bool| -> Result<()> {
        let raw = raw.trim();
        // Blank lines and `#` comments, as `suppress import` reads a plain list.
        if raw.is_empty() || address::is_comment_line(raw) {
            return Ok(());
        }
        let checked = if utf8 {
            check_address(store, raw, now)?
        } else {
            Checked::NotAnAddress {
                raw: raw.to_owned(),
                why: "it is not UTF-8 text".to_string(),
                entry: None,
            }
        };
        let (normalised, entry) = match checked {
            Checked::Address { address, entry } => (address, entry),
            Checked::NotAnAddress {
                raw,
                why,
                entry: None,
            } => {
                every = false;
                if json {
                    let line = serde_json::json!({
                        "address": raw,
                        "suppressed": false,
                        "error": "not an email address",
                        "why": why,
                    });
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(out, "{raw:?} is not an email address: {why}")?;
                }
                return Ok(());
            }
            Checked::NotAnAddress { raw, entry, .. } => (raw, entry),
        };
        every &= entry.is_some();
        if json {
            let line = serde_json::json!({
                "address": normalised,
                "suppressed": entry.is_some(),
                "entry": entry,
            });
            writeln!(out, "{line}")?;
        } else if let Some(entry) = &entry {
            writeln!(
                out,
                "{} suppressed: {} ({}, since {})",
                escape_field(&entry.address),
                escape_field(&entry.reason),
                escape_field(&entry.source),
                entry.first_seen
            )?;
        } else {
            writeln!(out, "{normalised} not suppressed")?;
        }
        Ok(())
    };
    for address in addresses {
        if address == "-" {
            // Read as bytes: a line that is not UTF-8 is answered (not an address), and the
            // lines after it are read.
            for line in std::io::stdin().lock().split(b'\n') {
                let line = line.context("cannot read standard input")?;
                // A list saved by a Windows program starts with a UTF-8 byte order mark (and
                // lists joined with `cat` may carry one on a later line): never part of an
                // address, and left on it, the address would be answered "not suppressed".
                // A CR before the LF goes with the trimming.
                let line = line.strip_prefix(BYTE_ORDER_MARK).unwrap_or(&line);
                match std::str::from_utf8(line) {
                    Ok(text) => check(text, true)?,
                    Err(_) => check(&String::from_utf8_lossy(line), false)?,
                }
            }
        } else {
            check(address, true)?;
        }
    }
    out.flush()?;
    Ok(if every {
        Outcome::Clean
    } else {
        Outcome::Attention
    })
}
