//! Export formatting: writes suppression entries in the shapes that list managers, email
//! services and MTAs import. Pure: no file IO, no clock, no environment; it writes to any
//! `std::io::Write` the caller hands it.
//!
//! Rules every format follows:
//!
//! - Streaming: entries are written one at a time and never collected, so memory stays flat
//!   however long the list is.
//! - Order: output order is input order. The caller passes entries sorted by address, so an
//!   unchanged list gives byte-identical output (no timestamps, no "generated at" lines).
//! - Every entry given is written. A full export and a removals file are separate calls; the
//!   caller decides which entries go into which. Where a format can say "no longer
//!   suppressed", an entry with `removed_at` set says so: Mautic writes `doNotEmail` 0 and
//!   Postfix writes `DUNNO`. Everywhere else a removals file has the same shape as a full
//!   export and the import on the other side is told to delete (listmonk's blocklist removal,
//!   an SES import job with action `DELETE`, Postmark's `suppressions/delete`, ...).
//! - Hashing ([`AddressHash::Sha256`]) replaces the address with the lowercase hex SHA-256 of
//!   the lower-cased address; the rest of the row is unchanged. An internationalised domain is
//!   hashed in the Unicode form fbl keeps (`bücher.de`, not `xn--bcher-kva.de`).
//! - Internationalised domains: the store keeps the Unicode form (U-labels), and that is
//!   what plain, CSV and JSON Lines get (one row per suppression, for your own tools). A list
//!   manager holds an address as it was typed or sent to it: a web form usually sends the
//!   A-label form (`user@xn--bcher-kva.de`), another signup the Unicode one. listmonk,
//!   Mautic and phpList get both, one row each, the Unicode form first (one entry
//!   written). Amazon SES, Mailgun, Postmark and Mailman get the ASCII form (A-labels,
//!   `xn--bcher-kva.de`): none of them takes SMTPUTF8 addresses, and SES refuses a Unicode
//!   domain. An address whose local part is not ASCII has no ASCII form: those four leave it
//!   out and count it ([`Exported::left_out`]) rather than write a line the import refuses or
//!   reads as another address (Mailman's `delmembers -f` stops at such a line and removes
//!   nobody). Mailman also gets addresses in lower case, as it keeps and looks them up.
//!   Postfix gets both forms (see [`ExportFormat::Postfix`]).
//! - Line-oriented text formats (plain, phpList, Mailman, Postfix) cannot carry a line break
//!   inside a value, so control characters are removed from what they write. A hostile value
//!   can therefore never add a second line. CSV and JSON formats quote and escape instead.
//!   A reason or source an older fbl kept with control characters (before it cleaned them
//!   on the way in) is written cleaned as a new one would be, in every format: a CSV cell
//!   with a line break, valid as it is, still splits a row for an importer that reads lines.
//! - Spreadsheet formulas: a CSV cell fbl derives or describes (the reason and source of
//!   `csv`, listmonk's name, Mautic's `fbl_reason`) that starts with `=`, `+`, `-`, `@`, a tab
//!   or a carriage return gets a `'` in front (OWASP's advice against CSV injection), so a
//!   spreadsheet shows it as text rather than running it. The address itself is never
//!   changed, in any format, `csv` included: importers and your own tools match it byte for
//!   byte, and `'=x@example.com` is another address. RFC 4180 quoting already keeps a value
//!   inside its cell.

use std::borrow::Borrow;
use std::borrow::Cow;
use std::fmt;
use std::io::{self, BufWriter, Write};
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::suppression::Suppression;

/// Size of the write buffer put in front of the caller's writer.
const BUFFER_CAPACITY: usize = 64 * 1024;

/// Which shape to write. The names (`as_str`, `FromStr`, serde) are the ones used on the
/// command line and in the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportFormat {
    /// One address per line.
    Plain,
    /// Generic CSV with a header row and every field.
    Csv,
    /// Generic JSON Lines: one object per entry with the same fields as `csv`.
    Jsonl,
    /// listmonk subscriber import (mode `blocklist`): `email,name,attributes`.
    Listmonk,
    /// Mautic contact import: `email,doNotEmail,fbl_reason`.
    Mautic,
    /// phpList permanent suppression list: one address per line.
    Phplist,
    /// Mailman 3 mass unsubscribe: one address per line, in lower case, ASCII only (an
    /// internationalised domain as A-labels, an address whose local part is not ASCII left
    /// out, as `ses`). An address that begins with `#` is left out: Mailman reads such a
    /// line as a comment.
    Mailman,
    /// Mailman 3 mass unsubscribe REST body: `{"emails": [...]}`, addresses as `mailman`
    /// (one that begins with `#` included).
    MailmanJson,
    /// Amazon SES suppression list import job: `address,COMPLAINT` lines, no header. ASCII
    /// addresses only: an internationalised domain is written as A-labels, and an address
    /// whose local part is not ASCII is left out (SES does not take SMTPUTF8 addresses).
    Ses,
    /// Amazon SES suppression list import job as JSON Lines; ASCII addresses only, as `ses`.
    SesJsonl,
    /// Mailgun complaints import: `address,created_at` with an RFC 2822 date. ASCII addresses
    /// only, as `ses`: Mailgun sends without SMTPUTF8 and keys its lists by the ASCII form.
    Mailgun,
    /// Postmark suppressions: a JSON array of `{"EmailAddress": ...}`. ASCII addresses only,
    /// as `ses`: Postmark does not send to SMTPUTF8 addresses.
    Postmark,
    /// Postfix access map source, ready for `postmap`. An address that begins with `#` is
    /// left out: postmap(1) reads such a line as a comment, and a key cannot be quoted. An
    /// internationalised domain gets two lines, the Unicode form (what an SMTPUTF8 client
    /// sends) and the A-label form (what every other client sends). A line whose key has a
    /// character that Unicode case folding does not map to its lower case (`ß` folds to
    /// `ss`) is left out, as postmap would fold it into another address's key; the A-label
    /// line of such a domain still goes in when the local part is ASCII.
    Postfix,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 13] = [
        ExportFormat::Plain,
        ExportFormat::Csv,
        ExportFormat::Jsonl,
        ExportFormat::Listmonk,
        ExportFormat::Mautic,
        ExportFormat::Phplist,
        ExportFormat::Mailman,
        ExportFormat::MailmanJson,
        ExportFormat::Ses,
        ExportFormat::SesJsonl,
        ExportFormat::Mailgun,
        ExportFormat::Postmark,
        ExportFormat::Postfix,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Plain => "plain",
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
            ExportFormat::Listmonk => "listmonk",
            ExportFormat::Mautic => "mautic",
            ExportFormat::Phplist => "phplist",
            ExportFormat::Mailman => "mailman",
            ExportFormat::MailmanJson => "mailman-json",
            ExportFormat::Ses => "ses",
            ExportFormat::SesJsonl => "ses-jsonl",
            ExportFormat::Mailgun => "mailgun",
            ExportFormat::Postmark => "postmark",
            ExportFormat::Postfix => "postfix",
        }
    }

    /// Formats that may carry hashed addresses (`hash = "sha256"`): those for sharing a list
    /// without disclosing it. Every other format feeds a system that matches real addresses
    /// (a Postfix map, an SES import, a list manager's blocklist), where a hex string in
    /// the address column would suppress nobody.
    pub const HASHABLE: [ExportFormat; 3] =
        [ExportFormat::Plain, ExportFormat::Csv, ExportFormat::Jsonl];

    /// Whether this format may carry hashed addresses (see [`ExportFormat::HASHABLE`]).
    pub fn allows_hash(self) -> bool {
        ExportFormat::HASHABLE.contains(&self)
    }

    /// The usual file name extension for this format, without the dot. Line-oriented text,
    /// including the Postfix map source, is `txt`.
    pub fn file_extension(self) -> &'static str {
        match self {
            ExportFormat::Plain
            | ExportFormat::Phplist
            | ExportFormat::Mailman
            | ExportFormat::Postfix => "txt",
            ExportFormat::Csv
            | ExportFormat::Listmonk
            | ExportFormat::Mautic
            | ExportFormat::Ses
            | ExportFormat::Mailgun => "csv",
            ExportFormat::Jsonl | ExportFormat::SesJsonl => "jsonl",
            ExportFormat::MailmanJson | ExportFormat::Postmark => "json",
        }
    }
}

impl fmt::Display for ExportFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of [`ExportFormat::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown export format `{name}` (expected one of: {})", format_names())]
pub struct UnknownExportFormat {
    pub name: String,
}

fn format_names() -> String {
    let names: Vec<&str> = ExportFormat::ALL.iter().map(|f| f.as_str()).collect();
    names.join(", ")
}

impl FromStr for ExportFormat {
    type Err = UnknownExportFormat;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ExportFormat::ALL
            .into_iter()
            .find(|format| format.as_str() == name)
            .ok_or_else(|| UnknownExportFormat {
                name: name.to_owned(),
            })
    }
}

/// How to disguise addresses in an export meant for sharing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AddressHash {
    /// Lowercase hex SHA-256 of the lower-cased address.
    Sha256,
}

impl AddressHash {
    pub fn as_str(self) -> &'static str {
        match self {
            AddressHash::Sha256 => "sha256",
        }
    }
}

impl fmt::Display for AddressHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A hash asked for with a format that needs real addresses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{format} cannot carry hashed addresses: it feeds a system that matches real addresses, \
     where a hash would suppress nobody; hashing is for sharing a list ({})",
    hashable_names()
)]
pub struct HashNotAllowed {
    pub format: ExportFormat,
}

fn hashable_names() -> String {
    let names: Vec<&str> = ExportFormat::HASHABLE.iter().map(|f| f.as_str()).collect();
    names.join(", ")
}

impl ExportOptions {
    /// Refuses a hash for a format that needs real addresses.
    pub fn check(&self, format: ExportFormat) -> Result<(), HashNotAllowed> {
        match self.hash {
            Some(_) if !format.allows_hash() => Err(HashNotAllowed { format }),
            _ => Ok(()),
        }
    }
}

/// A name that is not a supported address hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown address hash `{name}` (expected: sha256)")]
pub struct UnknownAddressHash {
    pub name: String,
}

impl FromStr for AddressHash {
    type Err = UnknownAddressHash;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "sha256" => Ok(AddressHash::Sha256),
            _ => Err(UnknownAddressHash {
                name: name.to_owned(),
            }),
        }
    }
}

/// Choices that apply to every format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportOptions {
    /// Write a hash instead of each address.
    pub hash: Option<AddressHash>,
}

/// What an export wrote, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Exported {
    /// How many entries were written.
    pub written: u64,
    /// How many suppressed addresses the format cannot hold and were left out: in every
    /// format, an address that fails the address check (kept by a store written before fbl
    /// checked addresses); in Postfix and Mailman, an address that begins with `#` (see
    /// [`ExportFormat::Postfix`]); in Postfix, an address whose Unicode form case folding
    /// would turn into another ([`folds_unlike_lower_case`], counted even when its A-label
    /// line is written); in SES, Mailgun, Postmark and Mailman (both formats), an address
    /// with no ASCII form (its local part is not ASCII).
    pub left_out: u64,
    /// The first address left out.
    pub first_left_out: Option<String>,
}

/// Writes `entries` to `out` in `format`, in the order given, and says how many entries were
/// written. That is every entry given, except that an address that fails the address check
/// ([`crate::address::parse_typed`]) is left out, the line-oriented formats skip an entry
/// whose address is empty once control characters are removed, Postfix and Mailman leave
/// out an address that begins with `#`, Postfix a key case folding would change
/// ([`folds_unlike_lower_case`]), and SES, Mailgun, Postmark and Mailman an address with no
/// ASCII form (each counted in [`Exported::left_out`] when it is suppressed).
///
/// The writer is buffered here, so an unbuffered `File` is fine; everything is flushed before
/// this returns. An error comes only from `out`.
pub fn write_export<W: Write>(
    format: ExportFormat,
    options: &ExportOptions,
    entries: impl IntoIterator<Item = impl Borrow<Suppression>>,
    out: W,
) -> io::Result<Exported> {
    // An address that fails today's check (a store written before fbl checked addresses
    // may hold `jane doe@example.com`, or one with a line break) is left out of every
    // format: written, it would be mangled into another address (a space or a line break
    // dropped) or split a line.
    let mut invalid = LeftOut::default();
    let entries = entries.into_iter().filter(|entry| {
        let entry = entry.borrow();
        let valid = crate::address::parse_typed(&entry.address).is_ok();
        if !valid {
            invalid.add(entry, &entry.address);
        }
        valid
    });
    let exported = write_valid(format, options, entries, out)?;
    Ok(invalid.before(exported))
}

/// [`write_export`] of the entries whose address passes the address check.
fn write_valid<W: Write>(
    format: ExportFormat,
    options: &ExportOptions,
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    out: W,
) -> io::Result<Exported> {
    let mut address = AddressText::new(options.hash);
    let written = match format {
        ExportFormat::Plain => write_address_lines(entries, &mut address, false, out),
        ExportFormat::Phplist => write_address_lines(entries, &mut address, true, out),
        ExportFormat::Mailman => return write_mailman(entries, &mut address, out),
        ExportFormat::Csv => write_generic_csv(entries, &mut address, out),
        ExportFormat::Jsonl => write_generic_jsonl(entries, &mut address, out),
        ExportFormat::Listmonk => write_listmonk(entries, &mut address, out),
        ExportFormat::Mautic => write_mautic(entries, &mut address, out),
        ExportFormat::MailmanJson => return write_mailman_json(entries, &mut address, out),
        ExportFormat::Ses => return write_ses_csv(entries, &mut address, out),
        ExportFormat::SesJsonl => return write_ses_jsonl(entries, &mut address, out),
        ExportFormat::Mailgun => return write_mailgun(entries, &mut address, out),
        ExportFormat::Postmark => return write_postmark(entries, &mut address, out),
        ExportFormat::Postfix => return write_postfix(entries, &mut address, out),
    }?;
    Ok(Exported {
        written,
        ..Exported::default()
    })
}

/// Turns an address into the text an export writes for it, reusing its buffers so that
/// hashing a million addresses does not allocate a million times.
struct AddressText {
    hash: Option<AddressHash>,
    lower_case: String,
    hex: [u8; 64],
}

impl AddressText {
    fn new(hash: Option<AddressHash>) -> Self {
        AddressText {
            hash,
            lower_case: String::new(),
            hex: [0; 64],
        }
    }

    fn render<'s>(&'s mut self, address: &'s str) -> &'s str {
        match self.hash {
            None => address,
            Some(AddressHash::Sha256) => {
                let digest = if address
                    .bytes()
                    .any(|b| !b.is_ascii() || b.is_ascii_uppercase())
                {
                    // `to_lowercase` handles non-ASCII letters too; the buffer is reused.
                    self.lower_case.clear();
                    self.lower_case
                        .extend(address.chars().flat_map(char::to_lowercase));
                    Sha256::digest(self.lower_case.as_bytes())
                } else {
                    Sha256::digest(address.as_bytes())
                };
                hex::encode_to_slice(digest, &mut self.hex)
                    .expect("a SHA-256 digest is 32 bytes and the buffer holds 64 hex digits");
                std::str::from_utf8(&self.hex).expect("hex digits are ASCII")
            }
        }
    }
}

impl AddressText {
    /// The address as a format that takes ASCII addresses only writes it: the domain as
    /// A-labels. `None` when it has no ASCII form (a local part that is not ASCII). A hash is
    /// ASCII already.
    fn render_ascii<'s>(&'s mut self, address: &'s str) -> Option<Cow<'s, str>> {
        if self.hash.is_some() {
            return Some(Cow::Borrowed(self.render(address)));
        }
        crate::address::ascii_address(address)
    }
}

/// The address with its internationalised domain as A-labels (`user@xn--bcher-kva.de`),
/// when that differs from `text`: the second form that the list managers and Postfix get.
/// `None` for an ASCII domain and for a hash.
fn a_label_form(text: &str, hashed: bool) -> Option<String> {
    if hashed {
        return None;
    }
    match crate::address::ascii_domain_of(text) {
        Some(ascii) if ascii != text => Some(ascii.into_owned()),
        _ => None,
    }
}

/// The suppressed addresses a format cannot hold, counted as they are left out.
#[derive(Default)]
struct LeftOut {
    count: u64,
    first: Option<String>,
}

impl LeftOut {
    /// Counts an entry left out, when it is suppressed: a removal that is not written says
    /// nothing wrong, as an address not in the file is not suppressed there either.
    fn add(&mut self, entry: &Suppression, shown: &str) {
        if entry.removed_at.is_none() {
            self.count += 1;
            self.first.get_or_insert_with(|| shown.to_owned());
        }
    }

    /// Adds these to what a format left out, the first of these first.
    fn before(self, exported: Exported) -> Exported {
        Exported {
            written: exported.written,
            left_out: self.count + exported.left_out,
            first_left_out: self.first.or(exported.first_left_out),
        }
    }

    fn exported(self, written: u64) -> Exported {
        Exported {
            written,
            left_out: self.count,
            first_left_out: self.first,
        }
    }
}

/// Removes characters that would end or disturb a line in a line-oriented file: control
/// characters (CR, LF, tab, NEL, ...) and the Unicode line and paragraph separators. When
/// `strip_spaces` is set every other whitespace character goes too, for formats where a space
/// separates fields.
fn line_safe(text: &str, strip_spaces: bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || (c.is_whitespace() && (strip_spaces || c != ' '));
    if text
        .bytes()
        .all(|b| b.is_ascii() && !b.is_ascii_control() && (!strip_spaces || b != b' '))
    {
        return Cow::Borrowed(text);
    }
    Cow::Owned(text.chars().filter(|&c| !unsafe_char(c)).collect())
}

/// A reason or source as fbl keeps one today: a value kept by an older fbl (before it
/// cleaned reasons on the way in) may hold tabs, line breaks or escape sequences, which would
/// start a row or a line of their own in a CSV cell read line by line, a Postfix map or a
/// terminal. Cleaned here as [`crate::suppression::clean_reason`] cleans a reason on the way
/// in (each run of control characters and line or paragraph separators one space, then
/// trimmed); a clean value is written as it is.
fn kept_text(text: &str) -> Cow<'_, str> {
    if text
        .chars()
        .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
    {
        Cow::Owned(crate::suppression::clean_reason(text).0)
    } else {
        Cow::Borrowed(text)
    }
}

/// A CSV cell of text fbl derives or describes, safe to open in a spreadsheet: one that
/// starts with a character a spreadsheet reads as the start of a formula (`=`, `+`, `-`, `@`,
/// a tab, a carriage return) gets a `'` in front, as OWASP advises against CSV injection.
/// Never used for an address, which must stay what it is.
fn formula_safe(text: &str) -> Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{text}"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Makes free text safe inside one line: line breaks and other control characters become a
/// space, so words stay apart.
fn one_line_text(text: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || (c.is_whitespace() && c != ' ');
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| if unsafe_char(c) { ' ' } else { c })
            .collect(),
    )
}

fn buffered<W: Write>(out: W) -> BufWriter<W> {
    BufWriter::with_capacity(BUFFER_CAPACITY, out)
}

fn csv_writer<W: Write>(out: W) -> csv::Writer<W> {
    csv::WriterBuilder::new()
        .buffer_capacity(BUFFER_CAPACITY)
        .has_headers(false)
        .from_writer(out)
}

/// Unwraps the IO error inside a CSV error; the other kinds cannot happen with fixed-width
/// records written by hand, but are reported rather than hidden.
fn csv_error(error: csv::Error) -> io::Error {
    match error.into_kind() {
        csv::ErrorKind::Io(error) => error,
        kind => io::Error::other(format!("csv writer: {kind:?}")),
    }
}

/// Writes a `u64` as decimal text into a reused buffer.
fn decimal(buffer: &mut String, value: u64) -> &str {
    use std::fmt::Write as _;
    buffer.clear();
    write!(buffer, "{value}").expect("writing to a String cannot fail");
    buffer
}

/// Amazon SES knows two suppression reasons: a bounce is `BOUNCE`, everything else
/// (complaint, unsubscribe, manual, import, ...) is `COMPLAINT`.
fn ses_reason(reason: &str) -> &'static str {
    if reason.eq_ignore_ascii_case("bounce") {
        "BOUNCE"
    } else {
        "COMPLAINT"
    }
}

/// Plain and phpList: the address and a line feed. An address that is empty once
/// made line-safe is skipped rather than written as a blank line. With `both_forms` (the
/// list managers), an internationalised domain gives a second line with its A-labels.
fn write_address_lines<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    both_forms: bool,
    out: W,
) -> io::Result<u64> {
    let mut out = buffered(out);
    let mut written = 0;
    let hashed = address.hash.is_some();
    for entry in entries {
        let entry = entry.borrow();
        let text = line_safe(address.render(&entry.address), false);
        if text.is_empty() {
            continue;
        }
        let other = a_label_form(&text, hashed || !both_forms);
        for text in std::iter::once(text.as_ref()).chain(other.as_deref()) {
            out.write_all(text.as_bytes())?;
            out.write_all(b"\n")?;
        }
        written += 1;
    }
    out.flush()?;
    Ok(written)
}

const GENERIC_CSV_HEADER: [&str; 8] = [
    "email",
    "reason",
    "source",
    "first_seen",
    "last_seen",
    "expires_at",
    "count",
    "removed_at",
];

/// Generic CSV: every field, absent values as empty cells.
fn write_generic_csv<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<u64> {
    let mut csv = csv_writer(out);
    csv.write_record(GENERIC_CSV_HEADER).map_err(csv_error)?;
    let mut count = String::new();
    let mut written = 0;
    for entry in entries {
        let entry = entry.borrow();
        csv.write_record([
            address.render(&entry.address),
            &formula_safe(&kept_text(&entry.reason)),
            &formula_safe(&kept_text(&entry.source)),
            &entry.first_seen,
            &entry.last_seen,
            entry.expires_at.as_deref().unwrap_or(""),
            decimal(&mut count, entry.count),
            entry.removed_at.as_deref().unwrap_or(""),
        ])
        .map_err(csv_error)?;
        written += 1;
    }
    csv.flush()?;
    Ok(written)
}

/// One line of the generic JSON Lines export; field order matches the CSV header.
#[derive(Serialize)]
struct GenericJsonRow<'e> {
    email: &'e str,
    reason: &'e str,
    source: &'e str,
    first_seen: &'e str,
    last_seen: &'e str,
    expires_at: Option<&'e str>,
    count: u64,
    removed_at: Option<&'e str>,
}

fn write_generic_jsonl<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<u64> {
    let mut out = buffered(out);
    let mut written = 0;
    for entry in entries {
        let entry = entry.borrow();
        let row = GenericJsonRow {
            email: address.render(&entry.address),
            reason: &kept_text(&entry.reason),
            source: &kept_text(&entry.source),
            first_seen: &entry.first_seen,
            last_seen: &entry.last_seen,
            expires_at: entry.expires_at.as_deref(),
            count: entry.count,
            removed_at: entry.removed_at.as_deref(),
        };
        serde_json::to_writer(&mut out, &row)?;
        out.write_all(b"\n")?;
        written += 1;
    }
    out.flush()?;
    Ok(written)
}

/// The listmonk `attributes` cell: fbl's fields under an `fbl_` prefix so they cannot clash
/// with the list's own attributes.
#[derive(Serialize)]
struct ListmonkAttributes<'e> {
    fbl_reason: &'e str,
    fbl_source: &'e str,
    fbl_first_seen: &'e str,
    fbl_last_seen: &'e str,
}

/// listmonk's subscriber import takes `email,name,attributes` with attributes as a JSON
/// object; importing with mode `blocklist` blocklists every address in the file. fbl does
/// not know the name: it writes the address's local part, as listmonk names a subscriber
/// created without one (with a `'` in front where a spreadsheet would read it as a formula,
/// [`formula_safe`]). Some listmonk versions skip a row with an empty name ("invalid
/// name"), which would blocklist nobody; a blocklist import of an existing subscriber sets
/// its status only, so its own name stays.
fn write_listmonk<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<u64> {
    let mut csv = csv_writer(out);
    csv.write_record(["email", "name", "attributes"])
        .map_err(csv_error)?;
    let mut attributes = Vec::new();
    let mut written = 0;
    for entry in entries {
        let entry = entry.borrow();
        attributes.clear();
        serde_json::to_writer(
            &mut attributes,
            &ListmonkAttributes {
                fbl_reason: &kept_text(&entry.reason),
                fbl_source: &kept_text(&entry.source),
                fbl_first_seen: &entry.first_seen,
                fbl_last_seen: &entry.last_seen,
            },
        )?;
        let text = address.render(&entry.address);
        let other = a_label_form(text, false);
        for text in std::iter::once(text).chain(other.as_deref()) {
            let name = formula_safe(text.rsplit_once('@').map_or(text, |(local, _)| local));
            csv.write_record([text.as_bytes(), name.as_bytes(), &attributes])
                .map_err(csv_error)?;
        }
        written += 1;
    }
    csv.flush()?;
    Ok(written)
}

/// Mautic's contact import maps a column to the special field `doNotEmail` ("Do Not Email"
/// in the mapping screen). A true value (`1`) adds a manual Do-Not-Contact record for the
/// email channel, a false value (`0`) removes it, so an entry with `removed_at` set writes
/// `0` and a removals file lifts the suppression. The import cannot set the DNC reason (it
/// records "set by user via import"), so fbl's reason goes in `fbl_reason`: it is mapped
/// automatically when the instance has a custom contact field with that alias, and is
/// otherwise left unmapped in the import screen.
fn write_mautic<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<u64> {
    let mut csv = csv_writer(out);
    csv.write_record(["email", "doNotEmail", "fbl_reason"])
        .map_err(csv_error)?;
    let mut written = 0;
    for entry in entries {
        let entry = entry.borrow();
        let do_not_email = if entry.removed_at.is_some() { "0" } else { "1" };
        let reason = kept_text(&entry.reason);
        let reason = formula_safe(&reason);
        let text = address.render(&entry.address);
        let other = a_label_form(text, false);
        for text in std::iter::once(text).chain(other.as_deref()) {
            csv.write_record([text, do_not_email, &reason])
                .map_err(csv_error)?;
        }
        written += 1;
    }
    csv.flush()?;
    Ok(written)
}

/// Writes a JSON array one element per line, opening it lazily so that an empty input still
/// gives valid JSON: `[` and `]` for elements, `[]` when there are none.
struct JsonArray<W: Write> {
    out: BufWriter<W>,
    opening: &'static [u8],
    empty: &'static [u8],
    closing: &'static [u8],
    written: u64,
}

impl<W: Write> JsonArray<W> {
    fn new(out: W, opening: &'static [u8], empty: &'static [u8], closing: &'static [u8]) -> Self {
        JsonArray {
            out: buffered(out),
            opening,
            empty,
            closing,
            written: 0,
        }
    }

    /// Starts the next element and returns the writer for its body.
    fn next_element(&mut self) -> io::Result<&mut BufWriter<W>> {
        if self.written == 0 {
            self.out.write_all(self.opening)?;
            self.out.write_all(b"\n  ")?;
        } else {
            self.out.write_all(b",\n  ")?;
        }
        self.written += 1;
        Ok(&mut self.out)
    }

    fn finish(mut self) -> io::Result<u64> {
        if self.written == 0 {
            self.out.write_all(self.empty)?;
        } else {
            self.out.write_all(b"\n")?;
            self.out.write_all(self.closing)?;
        }
        self.out.write_all(b"\n")?;
        self.out.flush()?;
        Ok(self.written)
    }
}

/// The address as Mailman 3 holds it, or `None` when it cannot hold it. Mailman takes ASCII
/// addresses only (`addmembers` refuses any other, the REST API answers 400, and `delmembers
/// -f` stops at the first one, removing nobody), so an internationalised domain is written as
/// A-labels and an address whose local part is not ASCII has no form Mailman holds. Mailman
/// keeps an address in lower case and looks it up exactly, so the address is lower-cased:
/// `Mixed.Case@example.com` as fbl keeps it would be neither unsubscribed nor banned.
fn mailman_address<'s>(address: &'s mut AddressText, raw: &'s str) -> Option<Cow<'s, str>> {
    let text = address.render_ascii(raw)?;
    Some(if text.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(text.to_ascii_lowercase())
    } else {
        text
    })
}

/// Writes each Mailman address once: two kept addresses may have one Mailman form (`Jane@`
/// and `jane@` in a store written before fbl compared addresses without case). Only the forms
/// that differ from the kept address are remembered, so memory stays flat for a list of
/// lower-case addresses; in address order, of two addresses equal but for ASCII case the one
/// with an upper-case letter comes first, and is the one remembered.
#[derive(Default)]
struct WrittenOnce {
    changed: std::collections::HashSet<String>,
    last: String,
}

impl WrittenOnce {
    /// Whether `text` (the form of `kept`) is new; remembers it.
    fn first_time(&mut self, kept: &str, text: &str) -> bool {
        if text == self.last || self.changed.contains(text) {
            return false;
        }
        if text != kept {
            self.changed.insert(text.to_owned());
        }
        self.last.clear();
        self.last.push_str(text);
        true
    }
}

/// Mailman 3's mass unsubscribe (`mailman delmembers -f`, `addmembers`, the ban list): one
/// address per line, as [`mailman_address`] writes it. An address that begins with `#` is left
/// out: Mailman reads such a line as a comment, so it would silently stay subscribed.
fn write_mailman<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<Exported> {
    let mut out = buffered(out);
    let mut written = 0;
    let mut left_out = LeftOut::default();
    let mut once = WrittenOnce::default();
    for entry in entries {
        let entry = entry.borrow();
        let Some(text) = mailman_address(address, &entry.address) else {
            left_out.add(entry, &entry.address);
            continue;
        };
        let text = line_safe(&text, true);
        if text.is_empty() {
            continue;
        }
        if text.starts_with('#') {
            left_out.add(entry, &entry.address);
            continue;
        }
        if once.first_time(&entry.address, &text) {
            out.write_all(text.as_bytes())?;
            out.write_all(b"\n")?;
        }
        written += 1;
    }
    out.flush()?;
    Ok(left_out.exported(written))
}

/// Mailman 3's mass unsubscribe REST call takes `{"emails": [...]}`, each address as
/// [`mailman_address`] writes it (JSON has no comments: an address that begins with `#` is
/// written).
fn write_mailman_json<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<Exported> {
    let mut array = JsonArray::new(out, b"{\"emails\": [", b"{\"emails\": []}", b"]}");
    let mut written = 0;
    let mut left_out = LeftOut::default();
    let mut once = WrittenOnce::default();
    for entry in entries {
        let entry = entry.borrow();
        let Some(text) = mailman_address(address, &entry.address) else {
            left_out.add(entry, &entry.address);
            continue;
        };
        if once.first_time(&entry.address, &text) {
            serde_json::to_writer(array.next_element()?, text.as_ref())?;
        }
        written += 1;
    }
    array.finish()?;
    Ok(left_out.exported(written))
}

/// Postmark's suppression calls take objects with `EmailAddress`; the API wraps them in
/// `{"Suppressions": [...]}` at most 50 a request, which the caller does when it sends them.
fn write_postmark<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<Exported> {
    let mut array = JsonArray::new(out, b"[", b"[]", b"]");
    let mut left_out = LeftOut::default();
    for entry in entries {
        let entry = entry.borrow();
        let Some(text) = address.render_ascii(&entry.address) else {
            left_out.add(entry, &entry.address);
            continue;
        };
        let out = array.next_element()?;
        out.write_all(b"{\"EmailAddress\": ")?;
        serde_json::to_writer(&mut *out, text.as_ref())?;
        out.write_all(b"}")?;
    }
    let written = array.finish()?;
    Ok(left_out.exported(written))
}

/// Amazon SES import job data, CSV flavour: `address,REASON`, no header.
fn write_ses_csv<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<Exported> {
    let mut csv = csv_writer(out);
    let mut written = 0;
    let mut left_out = LeftOut::default();
    for entry in entries {
        let entry = entry.borrow();
        let Some(text) = address.render_ascii(&entry.address) else {
            left_out.add(entry, &entry.address);
            continue;
        };
        csv.write_record([text.as_ref(), ses_reason(&kept_text(&entry.reason))])
            .map_err(csv_error)?;
        written += 1;
    }
    csv.flush()?;
    Ok(left_out.exported(written))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SesJsonRow<'e> {
    email_address: &'e str,
    reason: &'static str,
}

/// Amazon SES import job data, JSON flavour: `{"emailAddress": ..., "reason": ...}` lines.
fn write_ses_jsonl<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<Exported> {
    let mut out = buffered(out);
    let mut written = 0;
    let mut left_out = LeftOut::default();
    for entry in entries {
        let entry = entry.borrow();
        let Some(text) = address.render_ascii(&entry.address) else {
            left_out.add(entry, &entry.address);
            continue;
        };
        let row = SesJsonRow {
            email_address: &text,
            reason: ses_reason(&kept_text(&entry.reason)),
        };
        serde_json::to_writer(&mut out, &row)?;
        out.write_all(b"\n")?;
        written += 1;
    }
    out.flush()?;
    Ok(left_out.exported(written))
}

/// Writes the RFC 2822 date of an RFC 3339 time, in UTC and with a two-digit day, into a
/// reused buffer: `Sat, 28 Nov 2026 01:49:26 +0000`. A time that does not parse gives an
/// empty string. The day is zero-padded because strict parsers (Go's `RFC1123Z`, for one)
/// insist on it, and every RFC 2822 parser accepts it.
fn rfc2822_date<'b>(buffer: &'b mut String, rfc3339: &str) -> &'b str {
    use chrono::{Datelike, Timelike};
    use std::fmt::Write as _;
    const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    buffer.clear();
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(rfc3339) {
        // Formatted by hand: chrono's `format` parses its pattern on every call, which made
        // this the slowest export by far.
        let time = time.with_timezone(&chrono::Utc);
        buffer.push_str(WEEKDAYS[time.weekday().num_days_from_monday() as usize]);
        buffer.push_str(", ");
        push_two_digits(buffer, time.day());
        buffer.push(' ');
        buffer.push_str(MONTHS[time.month0() as usize]);
        buffer.push(' ');
        write!(buffer, "{:04}", time.year()).expect("writing to a String cannot fail");
        buffer.push(' ');
        push_two_digits(buffer, time.hour());
        buffer.push(':');
        push_two_digits(buffer, time.minute());
        buffer.push(':');
        // A leap second (`:60`) shows as 59 plus a nanosecond overflow in chrono; keep 59.
        push_two_digits(buffer, time.second());
        buffer.push_str(" +0000");
    }
    buffer
}

/// Appends a number below 100 as two digits.
fn push_two_digits(buffer: &mut String, value: u32) {
    buffer.push(char::from(b'0' + (value / 10 % 10) as u8));
    buffer.push(char::from(b'0' + (value % 10) as u8));
}

/// Mailgun's complaints import: `address,created_at`, the date from `first_seen`. Mailgun
/// treats `created_at` as optional, so a `first_seen` that does not parse leaves it empty
/// instead of failing the export.
fn write_mailgun<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<Exported> {
    let mut csv = csv_writer(out);
    csv.write_record(["address", "created_at"])
        .map_err(csv_error)?;
    let mut created_at = String::new();
    let mut written = 0;
    let mut left_out = LeftOut::default();
    for entry in entries {
        let entry = entry.borrow();
        let Some(text) = address.render_ascii(&entry.address) else {
            left_out.add(entry, &entry.address);
            continue;
        };
        csv.write_record([
            text.as_ref(),
            rfc2822_date(&mut created_at, &entry.first_seen),
        ])
        .map_err(csv_error)?;
        written += 1;
    }
    csv.flush()?;
    Ok(left_out.exported(written))
}

/// Postfix access map source: `address REJECT 5.7.1 suppressed: reason`, or `address DUNNO`
/// ("as if not listed") for an entry with `removed_at` set.
///
/// `postmap` reads the key up to the first whitespace and treats a line that starts with
/// whitespace as the continuation of the previous one, so whitespace and control characters
/// are removed from the key, and the reason is kept on one line. An entry whose key is empty
/// once cleaned is skipped.
///
/// `postmap` also skips a line whose first non-whitespace character is `#` as a comment, and
/// has no quoting for keys, so an address that begins with `#` (valid: `#` is `atext`)
/// cannot be a key. Written, it would be silently not rejected; it is left out and counted,
/// so that the caller can say so. Its `DUNNO` line is left out uncounted: a key that is not
/// in the map is not listed either.
///
/// An address with an internationalised domain is written twice, with the same value: in
/// the Unicode form fbl keeps, which an SMTPUTF8 client sends, and with its domain as
/// A-labels, which every other client sends (`user@xn--bcher-kva.de`). It counts as one
/// entry written.
///
/// A key with a character that case folding maps to something other than its lower case
/// ([`folds_unlike_lower_case`]: `groß@example.de` folds to `gross@example.de`) is not
/// written: postmap would fold it into another address's key and reject that address. The
/// address is counted as left out, as the SMTPUTF8 form is not rejected; its A-label line
/// is still written when it has none of those characters (an ASCII local part).
fn write_postfix<W: Write>(
    entries: impl Iterator<Item = impl Borrow<Suppression>>,
    address: &mut AddressText,
    out: W,
) -> io::Result<Exported> {
    let mut out = buffered(out);
    let mut written = 0;
    let mut left_out = LeftOut::default();
    let hashed = address.hash.is_some();
    for entry in entries {
        let entry = entry.borrow();
        let key = line_safe(address.render(&entry.address), true);
        if key.is_empty() {
            continue;
        }
        if key.starts_with('#') {
            left_out.add(entry, &key);
            continue;
        }
        let ascii_key = match crate::address::ascii_domain_of(&key) {
            Some(ascii) if !hashed && ascii != key => Some(ascii.into_owned()),
            _ => None,
        };
        let keys = std::iter::once(key.as_ref()).chain(ascii_key.as_deref());
        if key.chars().any(folds_unlike_lower_case) {
            left_out.add(entry, &key);
        }
        let mut any = false;
        for key in keys.filter(|key| !key.chars().any(folds_unlike_lower_case)) {
            any = true;
            out.write_all(key.as_bytes())?;
            if entry.removed_at.is_some() {
                out.write_all(b" DUNNO\n")?;
            } else {
                out.write_all(b" REJECT 5.7.1 suppressed: ")?;
                out.write_all(one_line_text(kept_text(&entry.reason).trim()).as_bytes())?;
                out.write_all(b"\n")?;
            }
        }
        written += u64::from(any);
    }
    out.flush()?;
    Ok(left_out.exported(written))
}

/// Whether Unicode full case folding maps `c` to something other than its lower case. With
/// SMTPUTF8 (the default from compatibility level 3.6) postmap and the lookups fold keys, so
/// a key with such a character matches another address too: `groß@example.de` folds to
/// `gross@example.de`, and would reject that innocent address. The characters are those of
/// Unicode's CaseFolding.txt whose full folding is not their lower case (`ß`, `ẞ`, `ſ`, `ς`,
/// `µ`, Greek symbol letters and iota forms, ligatures, Cherokee, ...).
pub fn folds_unlike_lower_case(c: char) -> bool {
    matches!(
        c,
        '\u{B5}'
            | '\u{DF}'
            | '\u{149}'
            | '\u{17F}'
            | '\u{1F0}'
            | '\u{345}'
            | '\u{390}'
            | '\u{3B0}'
            | '\u{3C2}'
            | '\u{3D0}'..='\u{3D1}'
            | '\u{3D5}'..='\u{3D6}'
            | '\u{3F0}'..='\u{3F1}'
            | '\u{3F5}'
            | '\u{587}'
            | '\u{13A0}'..='\u{13F5}'
            | '\u{13F8}'..='\u{13FD}'
            | '\u{1C80}'..='\u{1C88}'
            | '\u{1E96}'..='\u{1E9B}'
            | '\u{1E9E}'
            | '\u{1F50}'
            | '\u{1F52}'
            | '\u{1F54}'
            | '\u{1F56}'
            | '\u{1F80}'..='\u{1FFF}'
            | '\u{AB70}'..='\u{ABBF}'
            | '\u{FB00}'..='\u{FB06}'
            | '\u{FB13}'..='\u{FB17}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(address: &str, reason: &str) -> Suppression {
        Suppression {
            address: address.to_owned(),
            reason: reason.to_owned(),
            source: "microsoft".to_owned(),
            first_seen: "2026-11-28T01:49:26Z".to_owned(),
            last_seen: "2026-11-28T01:49:26Z".to_owned(),
            count: 1,
            expires_at: None,
            removed_at: None,
        }
    }

    fn export(format: ExportFormat, hash: Option<AddressHash>, entries: &[Suppression]) -> String {
        let mut out = Vec::new();
        let exported = write_export(format, &ExportOptions { hash }, entries, &mut out).unwrap();
        assert_eq!(exported.written, entries.len() as u64, "{format}");
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn format_names_round_trip_through_from_str_and_serde() {
        for format in ExportFormat::ALL {
            assert_eq!(format.as_str().parse::<ExportFormat>(), Ok(format));
            let json = serde_json::to_string(&format).unwrap();
            assert_eq!(json, format!("\"{}\"", format.as_str()));
            assert_eq!(serde_json::from_str::<ExportFormat>(&json).unwrap(), format);
        }
    }

    #[test]
    fn format_and_hash_read_from_toml_configuration() {
        #[derive(Deserialize)]
        struct Target {
            format: ExportFormat,
            hash: Option<AddressHash>,
        }
        let target: Target =
            toml::from_str("format = \"mailman-json\"\nhash = \"sha256\"\n").unwrap();
        assert_eq!(target.format, ExportFormat::MailmanJson);
        assert_eq!(target.hash, Some(AddressHash::Sha256));
        assert!(toml::from_str::<Target>("format = \"mailman_json\"\n").is_err());
    }

    #[test]
    fn unknown_format_name_lists_the_known_ones() {
        let error = "excel".parse::<ExportFormat>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown export format `excel` (expected one of: plain, csv, jsonl, listmonk, \
             mautic, phplist, mailman, mailman-json, ses, ses-jsonl, mailgun, postmark, postfix)"
        );
        assert_eq!("sha256".parse::<AddressHash>(), Ok(AddressHash::Sha256));
        assert!("md5".parse::<AddressHash>().is_err());
    }

    #[test]
    fn sha256_hashes_the_lower_cased_address() {
        // Expected values computed independently with `printf %s ADDRESS | sha256sum`.
        let entries = [
            entry("Jane@Example.org", "complaint"),
            entry("JÖRG@bücher.example", "complaint"),
        ];
        assert_eq!(
            export(ExportFormat::Plain, Some(AddressHash::Sha256), &entries),
            "13d855ce931073d4924ac377cda0e9a543908b9d6607727c8033d729c65eced6\n\
             ac740d2d12fbac869cdcb7b9d97a0abb131a2fcf19a3fdb98df2990082106bb6\n"
        );
    }

    #[test]
    fn hash_is_allowed_only_where_the_list_is_for_sharing() {
        let hashed = ExportOptions {
            hash: Some(AddressHash::Sha256),
        };
        for format in ExportFormat::ALL {
            let allowed = matches!(
                format,
                ExportFormat::Plain | ExportFormat::Csv | ExportFormat::Jsonl
            );
            assert_eq!(hashed.check(format).is_ok(), allowed, "{format}");
            assert!(ExportOptions::default().check(format).is_ok());
        }
        assert_eq!(
            hashed.check(ExportFormat::Postfix).unwrap_err().to_string(),
            "postfix cannot carry hashed addresses: it feeds a system that matches real \
             addresses, where a hash would suppress nobody; hashing is for sharing a list \
             (plain, csv, jsonl)"
        );
    }

    #[test]
    fn postfix_line_cannot_be_split_by_a_hostile_reason() {
        let hostile = entry("jane@example.org", "complaint\n  bob@example.org OK");
        let output = export(ExportFormat::Postfix, None, &[hostile]);
        assert_eq!(
            output,
            "jane@example.org REJECT 5.7.1 suppressed: complaint   bob@example.org OK\n"
        );
        assert_eq!(output.lines().count(), 1);
    }

    #[test]
    fn an_address_that_fails_the_check_is_left_out_of_every_format() {
        // Kept by a store written before fbl checked addresses: written, each would be
        // another address (a space dropped, lines joined) or break the file.
        let mut removed = entry("gone @example.org", "complaint");
        removed.removed_at = Some("2026-12-01T00:00:00Z".to_owned());
        let entries = [
            entry("a@example.org", "complaint"),
            entry("jane doe@example.com", "complaint"),
            entry("jane@example.org\r\nvictim@example.org OK", "complaint"),
            entry("\r\n", "complaint"),
            removed,
        ];
        for format in ExportFormat::ALL {
            for hash in [None, Some(AddressHash::Sha256)] {
                if hash.is_some() && !format.allows_hash() {
                    continue;
                }
                let mut out = Vec::new();
                let exported =
                    write_export(format, &ExportOptions { hash }, &entries, &mut out).unwrap();
                assert_eq!(
                    exported,
                    Exported {
                        written: 1,
                        left_out: 3,
                        first_left_out: Some("jane doe@example.com".to_owned()),
                    },
                    "{format}"
                );
                let output = String::from_utf8(out).unwrap();
                assert!(!output.contains("jane"), "{format}: {output}");
                assert!(!output.contains("gone"), "{format}: {output}");
            }
        }
    }

    #[test]
    fn postfix_leaves_out_an_address_that_postmap_would_read_as_a_comment() {
        let mut removed = entry("#gone@example.org", "complaint");
        removed.removed_at = Some("2026-12-01T00:00:00Z".to_owned());
        let entries = [
            entry("#hash@example.com", "complaint"),
            entry("#second@example.com", "complaint"),
            removed,
            entry("a#b@example.org", "complaint"),
        ];
        let mut out = Vec::new();
        let exported = write_export(
            ExportFormat::Postfix,
            &ExportOptions::default(),
            &entries,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a#b@example.org REJECT 5.7.1 suppressed: complaint\n"
        );
        assert_eq!(
            exported,
            Exported {
                written: 1,
                left_out: 2,
                first_left_out: Some("#hash@example.com".to_owned()),
            }
        );
        // Every other format but Mailman's plain file keeps it: `#` has no meaning at the
        // start of their lines.
        for format in ExportFormat::ALL {
            if format != ExportFormat::Postfix && format != ExportFormat::Mailman {
                let output = export(format, None, &entries[..1]);
                assert!(output.contains("#hash@example.com"), "{format}: {output}");
            }
        }
        // A hash never begins with `#`.
        let hashed = export(
            ExportFormat::Postfix,
            Some(AddressHash::Sha256),
            &entries[..1],
        );
        assert!(
            hashed.ends_with(" REJECT 5.7.1 suppressed: complaint\n"),
            "{hashed}"
        );
    }

    /// Mailman 3 holds ASCII addresses only, in lower case, and looks them up exactly; its
    /// plain file reads a line that begins with `#` as a comment.
    #[test]
    fn mailman_gets_only_addresses_it_can_hold_in_lower_case() {
        let mut removed = entry("Gone@Example.org", "complaint");
        removed.removed_at = Some("2026-12-01T00:00:00Z".to_owned());
        let entries = [
            entry("#hash@example.com", "complaint"),
            entry("Jane@example.org", "complaint"),
            entry("Mixed.Case@example.com", "complaint"),
            entry("jane@example.org", "complaint"),
            entry("jörg@example.de", "complaint"),
            entry("user@bücher.de", "complaint"),
            removed,
        ];
        let run = |format| {
            let mut out = Vec::new();
            let exported =
                write_export(format, &ExportOptions::default(), &entries, &mut out).unwrap();
            (String::from_utf8(out).unwrap(), exported)
        };
        let (plain, exported) = run(ExportFormat::Mailman);
        assert_eq!(
            plain,
            "jane@example.org\nmixed.case@example.com\nuser@xn--bcher-kva.de\n\
             gone@example.org\n"
        );
        assert_eq!(
            exported,
            Exported {
                written: 5,
                left_out: 2,
                first_left_out: Some("#hash@example.com".to_owned()),
            }
        );
        let (json, exported) = run(ExportFormat::MailmanJson);
        assert_eq!(
            json,
            "{\"emails\": [\n  \"#hash@example.com\",\n  \"jane@example.org\",\n  \
             \"mixed.case@example.com\",\n  \"user@xn--bcher-kva.de\",\n  \
             \"gone@example.org\"\n]}\n"
        );
        assert_eq!(
            exported,
            Exported {
                written: 6,
                left_out: 1,
                first_left_out: Some("jörg@example.de".to_owned()),
            }
        );
    }

    /// With SMTPUTF8, postmap folds keys: a key with `ß` would also reject the address with
    /// `ss`. Such a line is left out; the A-label line of a domain still goes in.
    #[test]
    fn postfix_leaves_out_a_key_case_folding_would_turn_into_another() {
        let entries = [
            entry("a@example.org", "complaint"),
            entry("groß@example.de", "complaint"),
            entry("x@ß.de", "complaint"),
            entry("ﬀ@example.com", "complaint"),
            entry("user@bücher.de", "complaint"),
        ];
        let mut out = Vec::new();
        let exported = write_export(
            ExportFormat::Postfix,
            &ExportOptions::default(),
            &entries,
            &mut out,
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "a@example.org REJECT 5.7.1 suppressed: complaint\n\
             x@xn--zca.de REJECT 5.7.1 suppressed: complaint\n\
             user@bücher.de REJECT 5.7.1 suppressed: complaint\n\
             user@xn--bcher-kva.de REJECT 5.7.1 suppressed: complaint\n"
        );
        assert_eq!(
            exported,
            Exported {
                written: 3,
                left_out: 3,
                first_left_out: Some("groß@example.de".to_owned()),
            }
        );
        for c in [
            'ß', 'ẞ', 'ſ', 'ς', 'ϐ', 'ϵ', 'ẛ', '\u{1FBE}', 'ŉ', 'ǰ', 'ΐ', 'ΰ', 'և',
        ] {
            assert!(folds_unlike_lower_case(c), "{c}");
        }
        for c in ['a', 'Z', 'ü', 'Ä', 'σ', 'Σ', 'ж', 'é', '@', '.'] {
            assert!(!folds_unlike_lower_case(c), "{c}");
        }
    }

    #[test]
    fn removed_entries_lift_the_suppression_where_the_format_can_say_so() {
        let mut removed = entry("jane@example.org", "complaint");
        removed.removed_at = Some("2026-12-01T00:00:00Z".to_owned());
        let removed = [removed];
        assert_eq!(
            export(ExportFormat::Postfix, None, &removed),
            "jane@example.org DUNNO\n"
        );
        assert_eq!(
            export(ExportFormat::Mautic, None, &removed),
            "email,doNotEmail,fbl_reason\njane@example.org,0,complaint\n"
        );
    }

    #[test]
    fn list_managers_get_both_forms_of_an_internationalised_domain() {
        let entries = [
            entry("a@example.org", "complaint"),
            entry("user@bücher.de", "complaint"),
        ];
        assert_eq!(
            export(ExportFormat::Phplist, None, &entries),
            "a@example.org\nuser@bücher.de\nuser@xn--bcher-kva.de\n"
        );
        // Mailman holds ASCII addresses only: the A-label form alone.
        assert_eq!(
            export(ExportFormat::Mailman, None, &entries),
            "a@example.org\nuser@xn--bcher-kva.de\n"
        );
        assert_eq!(
            export(ExportFormat::MailmanJson, None, &entries),
            "{\"emails\": [\n  \"a@example.org\",\n  \"user@xn--bcher-kva.de\"\n]}\n"
        );
        assert_eq!(
            export(ExportFormat::Mautic, None, &entries),
            "email,doNotEmail,fbl_reason\na@example.org,1,complaint\n\
             user@bücher.de,1,complaint\nuser@xn--bcher-kva.de,1,complaint\n"
        );
        let listmonk = export(ExportFormat::Listmonk, None, &entries);
        assert!(
            listmonk.contains("\nuser@bücher.de,user,")
                && listmonk.contains("\nuser@xn--bcher-kva.de,user,"),
            "{listmonk}"
        );
        // Plain, CSV and JSON Lines keep one row per suppression, in the form fbl keeps.
        assert_eq!(
            export(ExportFormat::Plain, None, &entries),
            "a@example.org\nuser@bücher.de\n"
        );
        assert!(!export(ExportFormat::Csv, None, &entries).contains("xn--"));
        assert!(!export(ExportFormat::Jsonl, None, &entries).contains("xn--"));
    }

    #[test]
    fn ses_reason_is_bounce_only_for_bounces() {
        let entries = [
            entry("a@example.org", "bounce"),
            entry("b@example.org", "complaint"),
            entry("c@example.org", "unsubscribe"),
            entry("d@example.org", "manual"),
        ];
        assert_eq!(
            export(ExportFormat::Ses, None, &entries),
            "a@example.org,BOUNCE\nb@example.org,COMPLAINT\nc@example.org,COMPLAINT\n\
             d@example.org,COMPLAINT\n"
        );
    }

    #[test]
    fn mailgun_date_is_rfc_2822_in_utc_and_empty_when_unparseable() {
        let mut offset = entry("a@example.org", "complaint");
        offset.first_seen = "2026-11-28T02:49:26+01:00".to_owned();
        let mut broken = entry("b@example.org", "complaint");
        broken.first_seen = "yesterday".to_owned();
        assert_eq!(
            export(ExportFormat::Mailgun, None, &[offset, broken]),
            "address,created_at\na@example.org,\"Sat, 28 Nov 2026 01:49:26 +0000\"\n\
             b@example.org,\n"
        );
    }

    #[test]
    fn csv_quotes_values_that_need_it() {
        let entries = [entry("jane@example.org", "complaint, \"spam\" button")];
        let output = export(ExportFormat::Csv, None, &entries);
        let mut reader = csv::Reader::from_reader(output.as_bytes());
        let record = reader.records().next().unwrap().unwrap();
        assert_eq!(&record[1], "complaint, \"spam\" button");
        assert_eq!(record.len(), 8);
    }

    #[test]
    fn text_cells_a_spreadsheet_would_run_get_a_quote_but_the_address_stays() {
        let mut hostile = entry("=cmd|'/Ccalc'!A0@example.com", "=HYPERLINK(\"x\")");
        hostile.source = "@SUM(1)".into();
        let entries = [hostile, entry("-2+3@example.com", "+complaint")];
        let csv = export(ExportFormat::Csv, None, &entries);
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert!(
            rows[0]
                .starts_with("=cmd|'/Ccalc'!A0@example.com,\"'=HYPERLINK(\"\"x\"\")\",'@SUM(1),"),
            "{csv}"
        );
        assert!(
            rows[1].starts_with("-2+3@example.com,'+complaint,"),
            "{csv}"
        );
        let listmonk = export(ExportFormat::Listmonk, None, &entries);
        let rows: Vec<&str> = listmonk.lines().skip(1).collect();
        assert!(
            rows[0].starts_with("=cmd|'/Ccalc'!A0@example.com,'=cmd|'/Ccalc'!A0,\"{"),
            "{listmonk}"
        );
        assert!(
            rows[1].starts_with("-2+3@example.com,'-2+3,\"{"),
            "{listmonk}"
        );
        let mautic = export(ExportFormat::Mautic, None, &entries);
        assert!(
            mautic.contains("\n=cmd|'/Ccalc'!A0@example.com,1,\"'=HYPERLINK(\"\"x\"\")\"\n"),
            "{mautic}"
        );
        assert!(
            mautic.contains("\n-2+3@example.com,1,'+complaint\n"),
            "{mautic}"
        );
        // A cell that starts with anything else is as it was.
        let plain = export(
            ExportFormat::Csv,
            None,
            &[entry("a@example.com", "complaint")],
        );
        assert!(plain.contains("\na@example.com,complaint,"), "{plain}");
        // Address-only formats write the address as it is.
        for format in [ExportFormat::Plain, ExportFormat::Phplist] {
            assert_eq!(
                export(format, None, &entries),
                "=cmd|'/Ccalc'!A0@example.com\n-2+3@example.com\n"
            );
        }
    }
}
