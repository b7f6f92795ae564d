//! The store: one SQLite file (WAL) holding reports with their raw bytes, complainants,
//! quarantined input, the suppression list with its history, and the send log. The only
//! module that speaks SQL; everything else sees the narrow interface below, so that another
//! backend can replace this one without changes elsewhere.

use crate::attribution::SendLogLookup;
use crate::report::{Recipient, Report};
use crate::sendlog::SendLogEntry;
use crate::sendlog::postfix::OpenQueueId;
use crate::suppression::Suppression;
use anyhow::{Context, Result, bail};
use db::{Db, Row, params};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};

pub(crate) mod db;
pub use db::{Dialect, is_disk_full};
mod packed;
pub use packed::pack;
mod pg;
pub use pg::{MailboxLock, PostgresConfig, is_postgres_url};
mod copy;
pub use copy::{TableCopy, copy_store};
mod idn;
mod mailbox;
pub use mailbox::{MailboxState, PendingAction, ReleasedMessage};
mod send_log_position;
mod source_files;
pub use send_log_position::SendLogPosition;
mod report;
pub use report::{BounceToScan, DelistFigures, NewBlockEvent, SuppressionDelay};
mod snds;
pub use snds::{
    IpStatusChanges, IpStatusPeriod, SndsAccountState, SndsDayFetched, SndsIpDay, SndsRowChange,
    SndsRowFilter, StoredSndsRow,
};

/// The ids of an address's history lines (`?1`), as the `chain` of a query: from the
/// suppression's latest line back through each line's `previous_id`. Ids only go down along
/// it, so it ends even on a damaged store.
const HISTORY_CHAIN: &str = "WITH RECURSIVE chain (id) AS (
        SELECT last_history_id FROM suppressions
        WHERE address = ?1 AND last_history_id IS NOT NULL
        UNION ALL
        SELECT h.previous_id FROM suppression_history h JOIN chain c ON h.id = c.id
        WHERE h.previous_id IS NOT NULL AND h.previous_id < h.id
    )";

/// The schema version this fbl makes and knows: its number of migrations (the same on both
/// engines).
///
/// Reading a newer store (after a downgrade): each store keeps, from migration 0030 on, a
/// `read_compatible_from` (table `read_compatibility`, one row): the lowest schema version
/// whose fbl may read the store as it is, without migrating it. A migration that only adds
/// (a table, a column, an index, rows older queries do not see) leaves it as it is; one that
/// changes what older read queries rely on (renames or drops a column or table, changes
/// what a column means or how a value is written) raises it to its own number, in its SQL
/// (`UPDATE read_compatibility SET read_compatible_from = N`). An fbl opens a store of a
/// higher version than its own for commands that only read it when its own version is at
/// least the store's `read_compatible_from`, and never writes it; a store without the
/// marker (none before 0030) is refused, as is one whose marker is above this fbl's version
/// (the message names the version needed).
const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;
const _: () = assert!(MIGRATIONS.len() == pg::MIGRATIONS.len());

/// Numbered migrations, applied in order on open. The schema version is `PRAGMA user_version`.
const MIGRATIONS: [(&str, &str); 30] = [
    (
        "0001_init.sql",
        include_str!("../../schemas/sqlite/0001_init.sql"),
    ),
    (
        "0002_snds.sql",
        include_str!("../../schemas/sqlite/0002_snds.sql"),
    ),
    (
        "0003_mailboxes.sql",
        include_str!("../../schemas/sqlite/0003_mailboxes.sql"),
    ),
    (
        "0004_report.sql",
        include_str!("../../schemas/sqlite/0004_report.sql"),
    ),
    (
        "0005_suppression_view.sql",
        include_str!("../../schemas/sqlite/0005_suppression_view.sql"),
    ),
    (
        "0006_raw_packed.sql",
        include_str!("../../schemas/sqlite/0006_raw_packed.sql"),
    ),
    (
        "0007_unused_indexes.sql",
        include_str!("../../schemas/sqlite/0007_unused_indexes.sql"),
    ),
    (
        "0008_evidence_in_history.sql",
        include_str!("../../schemas/sqlite/0008_evidence_in_history.sql"),
    ),
    (
        "0009_unread_update_index.sql",
        include_str!("../../schemas/sqlite/0009_unread_update_index.sql"),
    ),
    (
        "0010_history_chain.sql",
        include_str!("../../schemas/sqlite/0010_history_chain.sql"),
    ),
    (
        "0011_quarantine_size.sql",
        include_str!("../../schemas/sqlite/0011_quarantine_size.sql"),
    ),
    (
        "0012_quarantine_heads.sql",
        include_str!("../../schemas/sqlite/0012_quarantine_heads.sql"),
    ),
    (
        "0013_campaign_volume_by_day.sql",
        include_str!("../../schemas/sqlite/0013_campaign_volume_by_day.sql"),
    ),
    (
        "0014_report_content_key.sql",
        include_str!("../../schemas/sqlite/0014_report_content_key.sql"),
    ),
    (
        "0015_postfix_open_queue_ids.sql",
        include_str!("../../schemas/sqlite/0015_postfix_open_queue_ids.sql"),
    ),
    (
        "0016_send_log_positions.sql",
        include_str!("../../schemas/sqlite/0016_send_log_positions.sql"),
    ),
    (
        "0017_idn_canonical.sql",
        include_str!("../../schemas/sqlite/0017_idn_canonical.sql"),
    ),
    (
        "0018_quarantine_content_key.sql",
        include_str!("../../schemas/sqlite/0018_quarantine_content_key.sql"),
    ),
    (
        "0019_export_left_out.sql",
        include_str!("../../schemas/sqlite/0019_export_left_out.sql"),
    ),
    (
        "0020_expiry_index.sql",
        include_str!("../../schemas/sqlite/0020_expiry_index.sql"),
    ),
    (
        "0021_fact_send.sql",
        include_str!("../../schemas/sqlite/0021_fact_send.sql"),
    ),
    (
        "0022_local_part_case.sql",
        include_str!("../../schemas/sqlite/0022_local_part_case.sql"),
    ),
    (
        "0023_mailbox_unreadable.sql",
        include_str!("../../schemas/sqlite/0023_mailbox_unreadable.sql"),
    ),
    (
        "0024_quarantine_folder_left.sql",
        include_str!("../../schemas/sqlite/0024_quarantine_folder_left.sql"),
    ),
    (
        "0025_snds_come_back.sql",
        include_str!("../../schemas/sqlite/0025_snds_come_back.sql"),
    ),
    (
        "0026_reason_case.sql",
        include_str!("../../schemas/sqlite/0026_reason_case.sql"),
    ),
    (
        "0027_fact_sent_day.sql",
        include_str!("../../schemas/sqlite/0027_fact_sent_day.sql"),
    ),
    (
        "0028_quarantine_dismissed.sql",
        include_str!("../../schemas/sqlite/0028_quarantine_dismissed.sql"),
    ),
    (
        "0029_list_domain_sent_day.sql",
        include_str!("../../schemas/sqlite/0029_list_domain_sent_day.sql"),
    ),
    (
        "0030_read_compatibility.sql",
        include_str!("../../schemas/sqlite/0030_read_compatibility.sql"),
    ),
];

/// What fbl kept of an output the last time it wrote it (`export_state`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportState {
    /// The highest change of the list it had seen.
    pub change_seq: i64,
    /// The format it was written in, and how many suppressed addresses it left out (`None`
    /// for an output written before store version 19, or one of changes only).
    pub format: Option<String>,
    pub left_out: Option<u64>,
}

/// The SHA-256 of a raw message: its identity in the store.
pub fn sha256(raw: &[u8]) -> [u8; 32] {
    Sha256::digest(raw).into()
}

pub struct Store {
    db: Db,
    location: Location,
    /// Whether a `read_snapshot` is open on the connection.
    in_snapshot: std::cell::Cell<bool>,
    /// How long `lock` waits while another fbl holds the store (`--lock-wait`).
    lock_wait: std::time::Duration,
    /// Opened by `open_for_reading` without the right to write (see there): `lock`, and so
    /// every command that writes, refuses it, and SQLite's connection is `query_only`.
    read_only: Option<String>,
}

/// Where a store is.
#[derive(Debug, Clone)]
pub enum Location {
    /// A SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PostgresConfig),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Sqlite(path) => write!(f, "{}", path.display()),
            Location::Postgres(config) => write!(f, "{}", config.redacted()),
        }
    }
}

/// Another fbl holds the store's lock: `main` gives this its own exit status, so cron can
/// tell an overlapping run from a failure.
#[derive(Debug, thiserror::Error)]
#[error(
    "another fbl{} is working on store {} (lock {} is held); nothing was done \
     (`--lock-wait SECONDS` waits for it)",
    holder.as_ref().map(LockHolder::described).unwrap_or_default(),
    store.display(),
    lock.display()
)]
pub struct StoreLocked {
    pub store: PathBuf,
    pub lock: PathBuf,
    /// Who holds it, as it wrote in the lock file (None: a file an older fbl left empty, or
    /// one that cannot be read).
    pub holder: Option<LockHolder>,
    /// Said by nobody: `fbl run` under cron finding a run that started less than
    /// `OVERLAP_SAID_AFTER` ago (see `cli::run`).
    pub quiet: bool,
}

/// What the fbl holding a store's lock wrote in the lock file: its process id and when it
/// took the lock (the system's clock, not `--now`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    pub pid: u32,
    pub since: chrono::DateTime<chrono::Utc>,
}

impl LockHolder {
    fn read(file: &mut File) -> Option<LockHolder> {
        use std::io::{Read, Seek};
        file.rewind().ok()?;
        let mut text = String::new();
        file.take(256).read_to_string(&mut text).ok()?;
        let field = |name: &str| {
            text.lines()
                .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        };
        Some(LockHolder {
            pid: field("pid")?.trim().parse().ok()?,
            since: chrono::DateTime::parse_from_rfc3339(field("since")?.trim())
                .ok()?
                .with_timezone(&chrono::Utc),
        })
    }

    /// How long it has held the lock, by the system's clock.
    pub fn held_for(&self) -> std::time::Duration {
        (chrono::Utc::now() - self.since)
            .to_std()
            .unwrap_or_default()
    }

    fn described(&self) -> String {
        let minutes = self.held_for().as_secs() / 60;
        let held = match minutes {
            0 => "less than a minute".to_owned(),
            m if m < 60 => format!("{m} min"),
            m => format!("{} h {} min", m / 60, m % 60),
        };
        format!(
            " (process {}, since {}, {held})",
            self.pid,
            self.since.format("%Y-%m-%dT%H:%M:%SZ")
        )
    }
}

/// Why a SQLite store file, or a file SQLite or fbl keeps beside it, must not be used under
/// this name: it has another one, a hard link or (`check_mounts`, for the store itself) a bind
/// mount of the file alone. SQLite keeps its write-ahead log (`-wal`, `-shm`) and fbl its lock
/// file beside the name it was given, so two names for one file are two logs and two locks: a
/// write through one name is lost when the other's log is replayed over it, and two fbl write
/// at once. A companion with another name could be any file's (root would write into it).
/// None when it has one name, or cannot be looked at.
fn another_name(real: &Path, check_mounts: bool) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let metadata = std::fs::metadata(real).ok()?;
        if metadata.nlink() > 1 {
            return Some(format!(
                "{} has {} names (hard links): SQLite keeps its write-ahead log beside the name \
                 used, so writes through one name are lost through the other; keep one name \
                 (remove the other links: `find / -xdev -samefile {}` lists them) or use a \
                 symbolic link",
                real.display(),
                metadata.nlink(),
                real.display()
            ));
        }
        if !check_mounts {
            return None;
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
        let mounted = mounts.lines().any(|line| {
            line.split(' ')
                .nth(4)
                .is_some_and(|point| Path::new(&unescape_mount_point(point)) == real)
        });
        if mounted {
            return Some(format!(
                "{} is a mount point (a file bind-mounted alone): SQLite keeps its write-ahead \
                 log beside the name used, so the log written here is not the one the file's \
                 other name sees; mount the store's folder, not the file",
                real.display()
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = (real, check_mounts);
    None
}

/// A mount point as `/proc/self/mountinfo` writes it: space, tab, newline and backslash as
/// three octal digits after a backslash.
fn unescape_mount_point(point: &str) -> String {
    let bytes = point.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|digits| bytes[i] == b'\\' && digits.iter().all(|d| (b'0'..=b'7').contains(d)))
            .map(|d| {
                u32::from(d[0] - b'0') * 64 + u32::from(d[1] - b'0') * 8 + u32::from(d[2] - b'0')
            })
            .and_then(|value| u8::try_from(value).ok());
        match octal {
            Some(byte) => {
                out.push(byte);
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes this process's id and the time into a lock file it holds.
fn write_lock_holder(file: &mut File) -> std::io::Result<()> {
    use std::io::{Seek, Write};
    file.set_len(0)?;
    file.rewind()?;
    let since = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ");
    write!(file, "pid {}\nsince {since}\n", std::process::id())
}

/// An exclusive lock on a SQLite store held for the life of the value (a `.lock` file
/// beside it). A PostgreSQL store needs none: its writes are serialised by the server, and
/// mailboxes are locked one by one (`Store::lock_mailbox`).
pub struct StoreLock {
    _file: Option<File>,
}

/// A report to keep.
pub struct NewReport<'a> {
    pub raw: &'a [u8],
    /// `raw` compressed already (by `pack`), when the caller did it ahead.
    pub packed: Option<&'a [u8]>,
    pub sha256: [u8; 32],
    /// `raw`'s content key (`content_key::content_key`), when the caller has it already.
    pub content_key: Option<[u8; 32]>,
    pub origin: &'a str,
    pub report: &'a Report,
    pub ingested_at: &'a str,
}

/// Looks stored reports up by digest, and the send log up for attribution, on a connection
/// of its own, for a thread that reads ahead of the one that writes. Digest lookups are
/// grouped in read transactions of `LOOKUPS_PER_READ` (one each cost a lock round on every
/// message); each sees what was committed when it began, and none lasts long enough to
/// hold a checkpoint back.
pub struct ReportLookup {
    store: Store,
    in_read: usize,
}

impl ReportLookup {
    const LOOKUPS_PER_READ: usize = 256;

    pub fn open(location: &Location) -> Result<ReportLookup> {
        let store = Store::open_at(location)?;
        if let Db::Sqlite(conn) = &store.db {
            // Lookups of random digests gain little from a cache: keep this connection's
            // small, so that the two connections of an ingest stay within its memory bound.
            conn.pragma_update(None, "cache_size", -2048)?;
        }
        Ok(ReportLookup { store, in_read: 0 })
    }
}

/// What happened to a report handed to the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New(i64),
    Duplicate(i64),
}

/// One quarantined input, without its bytes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QuarantineEntry {
    pub id: i64,
    pub sha256: String,
    pub quarantined_at: String,
    pub origin: String,
    pub reason: String,
    /// The message's size; more than the bytes kept when only its head is.
    pub size: u64,
    pub released_at: Option<String>,
    pub report_id: Option<i64>,
    /// Why a person closed it (`fbl quarantine dismiss`), when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dismissed: Option<String>,
}

/// A stored report, for `fbl store report`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredReport {
    pub id: i64,
    pub ingested_at: String,
    pub origin: String,
    pub kind: String,
    pub reporter: String,
    pub reported_at: String,
    pub attributed: bool,
    pub complainants: Vec<StoredComplainant>,
    /// The parse result kept with the report, as `fbl parse` printed it then.
    pub report: serde_json::Value,
}

/// A complainant found for a stored report, and how.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StoredComplainant {
    pub address: String,
    pub id: String,
    pub via: String,
}

/// A stored complaint or unsubscribe that names nobody yet.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnattributedReport {
    pub id: i64,
    pub reported_at: String,
    pub reporter: String,
    pub origin: String,
    /// The first reason its attribution gave.
    pub reason: String,
}

/// One line of an address's suppression history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct HistoryEntry {
    pub at: String,
    pub action: String,
    pub reason: Option<String>,
    pub actor: String,
    pub report_id: Option<i64>,
    pub note: Option<String>,
}

/// An addition to the suppression list.
#[derive(Debug, Clone)]
pub struct SuppressRequest<'a> {
    pub address: &'a str,
    pub reason: &'a str,
    pub source: &'a str,
    /// When the address was seen. For a report (actor `report` with its `report_id`) the
    /// time the store gives the complaint (`reports.reported_at`: the report's Date, never
    /// after it was stored): a complaint reported before a person's latest removal of the
    /// address (`fbl suppress remove`) does not put it back (see `Batch::suppress`).
    pub seen_at: &'a str,
    pub expires_at: Option<&'a str>,
    pub report_id: Option<i64>,
    /// `report`, `manual`, `import`.
    pub actor: &'a str,
    pub now: &'a str,
}

/// What a suppression request changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuppressChange {
    Added,
    Updated,
    Unchanged,
    /// A report of a complaint made before a person took the address off the list: it
    /// stays off, and its history says so (action `not_readded`, with the removal).
    LeftRemoved,
}

/// What storing a send-log entry did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendLogChange {
    /// A new entry.
    Added,
    /// The same send (Message-ID and recipient) was stored from another log: what the entry
    /// adds (an id, campaign, list, source IP, send time) was filled in; no entry was added.
    Merged,
    /// Stored already, with all it says.
    Known,
}

/// Which suppressions to read.
#[derive(Debug, Clone, Default)]
pub struct SuppressionFilter {
    /// Only entries changed at or after this time.
    pub changed_since: Option<String>,
    /// Only entries changed after this point of the change sequence (see `change_seq`).
    pub changed_after_seq: Option<i64>,
    /// Entries taken off the list (removed or expired) instead of those on it.
    pub removed: bool,
    /// Reference time for expiry.
    pub now: String,
}

/// A suppression on the list at `?2` (now): neither removed nor expired.
const ON_THE_LIST: &str = "removed_at IS NULL AND (expires_at IS NULL OR expires_at > ?2)";

/// Rows read per query when walking the suppression list.
const PAGE_SIZE: usize = 10_000;

/// An iterator over suppressions, a page at a time (see `Store::suppressions`).
pub struct SuppressionPages<'s> {
    store: &'s Store,
    filter: SuppressionFilter,
    after: Option<String>,
    buffer: std::collections::VecDeque<Suppression>,
    done: bool,
    error: Option<anyhow::Error>,
}

impl SuppressionPages<'_> {
    /// Whether the walk ended on an error rather than at the end of the list.
    pub fn finish(self) -> Result<()> {
        match self.error {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Iterator for SuppressionPages<'_> {
    type Item = Suppression;

    fn next(&mut self) -> Option<Suppression> {
        if self.buffer.is_empty() && !self.done {
            match self
                .store
                .suppression_page(&self.filter, self.after.as_deref())
            {
                Ok(page) => {
                    self.done = page.len() < PAGE_SIZE;
                    self.after = page.last().map(|s| s.address.clone());
                    self.buffer.extend(page);
                }
                Err(error) => {
                    self.done = true;
                    self.error = Some(error);
                }
            }
        }
        self.buffer.pop_front()
    }
}

/// Sizes of the store's tables, for summaries and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreCounts {
    pub reports: u64,
    pub complainants: u64,
    pub quarantined: u64,
    pub suppressions: u64,
    pub history: u64,
    pub send_log: u64,
}

/// Why the folder of a SQLite store cannot be written, if it cannot: every connection,
/// readers included, needs the `-wal` and `-shm` files beside the store.
fn folder_not_writable(path: &Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = std::ffi::CString::new(folder.as_os_str().as_bytes()).ok()?;
    // SAFETY: a NUL-terminated path; access(2) only reads it.
    if unsafe { libc::access(name.as_ptr(), libc::W_OK) } == 0 {
        return None;
    }
    let error = std::io::Error::last_os_error();
    Some(format!(
        "its folder {} is not writable ({error})",
        folder.display()
    ))
}

/// Why this process is not to write the SQLite store file `real`: it cannot (its mode, an
/// immutable file, a read-only mount), or it runs as root, whom modes do not stop, and the
/// file has no write permission for anyone: a backup made read-only on purpose (`chmod
/// a-w`) is read, never migrated, by root too.
fn file_not_writable(real: &Path) -> Option<String> {
    if let Some(error) = cannot_access(real, libc::W_OK) {
        return Some(format!("the file is not writable ({error})"));
    }
    no_write_permission_for_root(real).map(|mode| {
        format!("the file has no write permission for anyone (mode {mode:04o}), which root keeps")
    })
}

/// `folder_not_writable` of the store's folder, and, as root, a folder with no write
/// permission for anyone (see `file_not_writable`).
fn store_folder_not_writable(real: &Path) -> Option<String> {
    if let Some(why) = folder_not_writable(real) {
        return Some(why);
    }
    let folder = match real.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    no_write_permission_for_root(folder).map(|mode| {
        format!(
            "its folder {} has no write permission for anyone (mode {mode:04o}), which root keeps",
            folder.display()
        )
    })
}

/// As root, the mode of `path` when it gives nobody write permission.
fn no_write_permission_for_root(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    if crate::atomic_file::euid() != 0 {
        return None;
    }
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o7777;
    (mode & 0o222 == 0).then_some(mode)
}

/// Whether this process cannot `mode` (R_OK, W_OK) the file at `path`, for whatever
/// reason: its mode, an immutable file, a read-only mount (which stops root too).
fn cannot_access(path: &Path, mode: libc::c_int) -> Option<std::io::Error> {
    use std::os::unix::ffi::OsStrExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a NUL-terminated path; access(2) only reads it.
    if unsafe { libc::access(name.as_ptr(), mode) } == 0 {
        return None;
    }
    Some(std::io::Error::last_os_error())
}

/// A SQLite store this process can read but not write (set by `Store::open`), and why: a
/// write to it fails with SQLite's bare "attempt to write a readonly database", which
/// `write_refused` explains.
static NOT_WRITABLE: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// Why this process cannot `mode` (R_OK, W_OK) the store file at `path`, when it cannot and
/// the file's owner and mode say why: a store made by root's cron and then used by a
/// person, or the other way round.
fn file_access_problem(path: &Path, mode: libc::c_int) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let name = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: a NUL-terminated path; access(2) only reads it.
    if unsafe { libc::access(name.as_ptr(), mode) } == 0 {
        return None;
    }
    let error = std::io::Error::last_os_error();
    if error.kind() != std::io::ErrorKind::PermissionDenied {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    // SAFETY: geteuid cannot fail.
    let me = unsafe { libc::geteuid() };
    let owner = crate::atomic_file::user_name(meta.uid());
    if meta.uid() == me {
        return Some(format!(
            "its mode {:04o} does not let its owner, {owner}, {}",
            meta.mode() & 0o7777,
            if mode & libc::R_OK != 0 {
                "read and write it"
            } else {
                "write it"
            }
        ));
    }
    Some(format!(
        "it belongs to {owner} (mode {:04o}) and fbl runs as {}: run fbl as {owner} (for cron, \
         from {owner}'s crontab), or give this user access to the file and its -wal and -shm \
         files",
        meta.mode() & 0o7777,
        crate::atomic_file::user_name(me),
    ))
}

/// What to tell a person whose command failed because the store could not be written,
/// when that is why it failed.
pub fn write_refused(error: &anyhow::Error) -> Option<String> {
    let read_only = error.chain().any(|cause| {
        cause
            .downcast_ref::<rusqlite::Error>()
            .and_then(rusqlite::Error::sqlite_error_code)
            == Some(rusqlite::ErrorCode::ReadOnly)
    });
    if !read_only {
        return None;
    }
    NOT_WRITABLE.lock().ok()?.clone()
}

impl Store {
    /// Opens (creating if needed) a SQLite store and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let store = Store::connect(path)?;
        store
            .migrate()
            .with_context(|| format!("cannot migrate store {}", path.display()))?;
        Ok(store)
    }

    /// Refuses a store whose name, or the name of a file SQLite or fbl keeps beside it,
    /// another user may have planted, or that has a second name.
    fn check_names(path: &Path) -> Result<PathBuf> {
        Store::check_names_of(path, true)
    }

    /// `check_names`; `one_name` false leaves out the second-name check, for a store read
    /// `immutable` (nobody writes it, so there is no log or lock to split): a backup kept
    /// with hard links (`cp -al`, rsnapshot) is read where it lies.
    fn check_names_of(path: &Path, one_name: bool) -> Result<PathBuf> {
        // In a folder other users may write to (/tmp), the store, or a file SQLite keeps
        // beside it, may have been put there by one of them: a link to a file of fbl's
        // user, or a file they could read or change. Beside the real file, as SQLite puts
        // them. (The lock file is opened without following a link: `lock`.)
        // Each of them, and the lock file, has one name only (`another_name`).
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        for suffix in ["", "-wal", "-shm", "-journal", ".lock"] {
            let mut name = real.clone().into_os_string();
            name.push(suffix);
            let name = PathBuf::from(name);
            // The store as named, so that a link on the way is looked at.
            let planted_at = if suffix.is_empty() { path } else { &name };
            let why = (suffix != ".lock")
                .then(|| crate::atomic_file::planted_by_another_user(planted_at))
                .flatten()
                .or_else(|| {
                    one_name
                        .then(|| another_name(&name, suffix.is_empty()))
                        .flatten()
                });
            if let Some(why) = why {
                bail!("cannot open store {}: {why}", path.display());
            }
        }
        Ok(real)
    }

    /// Opens (creating if needed) a SQLite store, without migrating it.
    fn connect(path: &Path) -> Result<Store> {
        let real = Store::check_names(path)?;
        // Root, whom modes do not stop, leaves a store made read-only on purpose (a backup,
        // `chmod a-w`) as it is, as every other user must: the commands that only read
        // read it (`open_for_reading`); one that writes is refused here.
        if real.exists()
            && let Some(why) = no_write_permission_for_root(&real)
                .map(|mode| {
                    format!("the file has no write permission for anyone (mode {mode:04o})")
                })
                .or_else(|| {
                    let folder = real.parent().filter(|f| !f.as_os_str().is_empty())?;
                    no_write_permission_for_root(folder).map(|mode| {
                        format!(
                            "its folder {} has no write permission for anyone (mode {mode:04o})",
                            folder.display()
                        )
                    })
                })
        {
            bail!(
                "cannot write store {}: {why}, which root keeps: a backup made read-only is \
                 read by the commands that only read it; `chmod u+w` it (and its folder) to \
                 change it",
                path.display()
            );
        }
        if !path.exists() {
            // The store holds personal data: readable by its owner only. SQLite gives its
            // -wal and -shm files the same mode.
            use std::os::unix::fs::OpenOptionsExt;
            let created = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create store {}", path.display()))?;
            // Root making the store in a service user's own folder (`sudo fbl suppress
            // import` before the first cron run) makes it that user's: left root's, every run
            // of the service would fail. SQLite gives its -wal and -shm the store's owner.
            #[cfg(unix)]
            if crate::atomic_file::euid() == 0 {
                use std::os::unix::fs::MetadataExt;
                let folder = match real.parent() {
                    Some(folder) if !folder.as_os_str().is_empty() => folder.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                if let Ok(dir) = std::fs::metadata(&folder)
                    && dir.uid() != 0
                    && crate::atomic_file::is_owners_own_folder(&folder, &dir)
                {
                    std::os::unix::fs::fchown(&created, Some(dir.uid()), Some(dir.gid()))
                        .with_context(|| {
                            format!("cannot give store {} to its folder's owner", path.display())
                        })?;
                }
            }
        }
        let conn = rusqlite::Connection::open(path).with_context(|| {
            match file_access_problem(path, libc::R_OK | libc::W_OK) {
                Some(why) => format!("cannot open store {}: {why}", path.display()),
                None => format!("cannot open store {}", path.display()),
            }
        })?;
        if let Some(why) = file_access_problem(path, libc::W_OK)
            && let Ok(mut slot) = NOT_WRITABLE.lock()
        {
            *slot = Some(format!("cannot write the store {}: {why}", path.display()));
        }
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .with_context(|| match folder_not_writable(path) {
                Some(why) => format!(
                    "cannot use store {}: SQLite writes its -wal and -shm files beside it, \
                     and {why}",
                    path.display()
                ),
                None => format!("cannot use store {}", path.display()),
            })?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // 32 MiB of page cache (the default is 2 MB): the indexes of a store of millions of
        // reports stay in memory, and peak memory stays well under 100 MB.
        conn.pragma_update(None, "cache_size", -32768)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let store = Store {
            db: Db::Sqlite(conn),
            location: Location::Sqlite(path.to_path_buf()),
            in_snapshot: Default::default(),
            lock_wait: std::time::Duration::ZERO,
            read_only: None,
        };
        Ok(store)
    }

    /// Opens a store wherever it is, bringing its schema up to date.
    pub fn open_at(location: &Location) -> Result<Store> {
        match location {
            Location::Sqlite(path) => Store::open(path),
            Location::Postgres(config) => {
                let store = Store {
                    db: Db::Postgres(Box::new(pg::connect(config)?)),
                    location: location.clone(),
                    in_snapshot: Default::default(),
                    lock_wait: std::time::Duration::ZERO,
                    read_only: None,
                };
                store
                    .migrate()
                    .with_context(|| format!("cannot migrate store {}", config.redacted()))?;
                Ok(store)
            }
        }
    }

    /// Opens a store for a command that only reads it (`store info`, `suppress check`,
    /// `report`, ...). It must exist. Two cases differ from `open_at`:
    ///
    /// - A SQLite store this process cannot write (a backup in a read-only folder or on a
    ///   read-only mount, a file of another user): opened read-only, never migrated, no
    ///   lock file. SQLite reads a WAL store read-only only when it can make or open the
    ///   `-shm` file beside it; when neither the file nor its folder can be written and the
    ///   store has no write-ahead log left (no `-wal` file, or an empty one), nobody can be
    ///   writing it, and it is opened `immutable` (no `-shm`, no locking). A `-wal` file with
    ///   content holds committed changes: immutable would not see them, so the store is then
    ///   opened `mode=ro`, which works when its `-shm` is there too, and otherwise fails
    ///   saying to copy the store with its `-wal` to a writable place. A store at an older
    ///   schema than this fbl's is refused the same way (fbl would migrate the copy).
    /// - A store of a newer fbl (schema version above `SCHEMA_VERSION`): read, as it is, when
    ///   its `read_compatible_from` says this fbl may (see `READ_COMPATIBLE_FROM`).
    ///
    /// Either way the store is read-only: `lock` refuses it, and so does every command that
    /// writes, saying why (`read_only_reason`).
    pub fn open_for_reading(location: &Location) -> Result<Store> {
        match location {
            Location::Sqlite(path) if Store::can_write(path) => {
                let mut store = Store::connect(path)?;
                if store.newer_but_readable()? {
                    store.set_read_only(format!(
                        "it is at schema version {}, newer than this fbl knows ({})",
                        store.schema_version()?,
                        SCHEMA_VERSION
                    ))?;
                    return Ok(store);
                }
                store
                    .migrate()
                    .with_context(|| format!("cannot migrate store {}", path.display()))?;
                Ok(store)
            }
            Location::Sqlite(path) => Store::open_read_only(path),
            Location::Postgres(config) => {
                let mut store = Store {
                    db: Db::Postgres(Box::new(pg::connect(config)?)),
                    location: location.clone(),
                    in_snapshot: Default::default(),
                    lock_wait: std::time::Duration::ZERO,
                    read_only: None,
                };
                let has_schema: i64 = store.db.value(
                    "SELECT count(*) FROM information_schema.tables \
                     WHERE table_schema = current_schema() AND table_name = 'fbl_schema'",
                    params![],
                )?;
                if has_schema > 0 && store.newer_but_readable()? {
                    let version = store.schema_version()?;
                    store.db.batch("SET default_transaction_read_only = on")?;
                    store.read_only = Some(format!(
                        "it is at schema version {version}, newer than this fbl knows \
                         ({SCHEMA_VERSION})"
                    ));
                    return Ok(store);
                }
                store
                    .migrate()
                    .with_context(|| format!("cannot migrate store {}", config.redacted()))?;
                Ok(store)
            }
        }
    }

    /// Whether this process may write the SQLite store at `path` and the folder SQLite
    /// keeps its `-wal` and `-shm` in (as root: unless a read-only mount or an immutable
    /// file says no).
    fn can_write(path: &Path) -> bool {
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        file_not_writable(&real).is_none() && store_folder_not_writable(&real).is_none()
    }

    /// `open_for_reading` of a SQLite store this process cannot write.
    fn open_read_only(path: &Path) -> Result<Store> {
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        let companion = |suffix: &str| {
            let mut name = real.clone().into_os_string();
            name.push(suffix);
            PathBuf::from(name)
        };
        let file_locked = file_not_writable(&real);
        let folder_locked = store_folder_not_writable(&real);
        let why_not = file_locked
            .clone()
            .or_else(|| folder_locked.clone())
            .unwrap_or_else(|| "it cannot be written".to_string());
        let wal_left = std::fs::metadata(companion("-wal")).is_ok_and(|m| m.len() > 0);
        // A `-shm` file says a process may have the store open (a live store another user
        // writes, a read-only mount of a live folder): read it through SQLite's locking
        // (`mode=ro`), never `immutable`, which would read pages torn by a checkpoint.
        let shm_there = companion("-shm").exists();
        let immutable = !wal_left && !shm_there && file_locked.is_some() && folder_locked.is_some();
        let real = Store::check_names_of(path, !immutable)?;
        // SQLite's URI: `%`, `?` and `#` would be read as its syntax.
        let Some(name) = real.to_str() else {
            bail!(
                "cannot open store {}: its name is not UTF-8",
                path.display()
            )
        };
        let mut uri = String::from("file:");
        for c in name.chars() {
            match c {
                '%' | '?' | '#' => uri.push_str(&format!("%{:02X}", c as u32)),
                _ => uri.push(c),
            }
        }
        let uri = format!(
            "{uri}?mode=ro{}",
            if immutable { "&immutable=1" } else { "" }
        );
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
            | rusqlite::OpenFlags::SQLITE_OPEN_URI
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let copy_it = |what: &str| {
            format!(
                "cannot read store {}: fbl cannot write it ({why_not}), and {what}; copy it \
                 (with its -wal file, if any) to a folder you can write, and give fbl the copy",
                path.display()
            )
        };
        let conn = rusqlite::Connection::open_with_flags(&uri, flags).with_context(|| {
            match file_access_problem(&real, libc::R_OK) {
                Some(why) => format!("cannot open store {}: {why}", path.display()),
                None => format!("cannot open store {}", path.display()),
            }
        })?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let mut store = Store {
            db: Db::Sqlite(conn),
            location: Location::Sqlite(path.to_path_buf()),
            in_snapshot: Default::default(),
            lock_wait: std::time::Duration::ZERO,
            read_only: None,
        };
        // The first read is where SQLite finds it cannot read a WAL store this way.
        let version = store.schema_version().with_context(|| {
            copy_it(if shm_there {
                "SQLite could not read it with the -shm file beside it (one it may not write, \
                 or a process is writing the store)"
            } else if wal_left {
                "SQLite cannot read its write-ahead log (the -wal file) without a -shm file \
                 beside it, which it cannot make there"
            } else {
                "SQLite cannot read it without a -shm file beside it, which it cannot make there"
            })
        })?;
        if let Db::Sqlite(conn) = &store.db {
            conn.pragma_update(None, "cache_size", -32768)?;
        }
        if version < SCHEMA_VERSION {
            bail!(
                "{}",
                copy_it(&format!(
                    "it is at schema version {version}, made by an older fbl: this one ({SCHEMA_VERSION}) \
                     reads it only once migrated, which fbl does to the copy"
                ))
            );
        }
        // A newer store that does not let this fbl read it is refused here.
        store.newer_but_readable()?;
        store.set_read_only(format!("fbl cannot write it: {why_not}"))?;
        Ok(store)
    }

    /// Marks the store read-only: SQLite's connection refuses every write too.
    fn set_read_only(&mut self, why: String) -> Result<()> {
        if let Db::Sqlite(conn) = &self.db {
            conn.pragma_update(None, "query_only", true)?;
        }
        self.read_only = Some(why);
        Ok(())
    }

    /// Why the store was opened read-only (`open_for_reading`), if it was: "fbl cannot
    /// write it: ...", "it is at schema version N, newer than ...".
    pub fn read_only_reason(&self) -> Option<&str> {
        self.read_only.as_deref()
    }

    /// Whether the store is of a newer fbl (a schema version above `SCHEMA_VERSION`) that
    /// this one may read: false for a store this fbl knows; an error, saying which fbl reads
    /// it, for a newer one it may not.
    fn newer_but_readable(&self) -> Result<bool> {
        let version = self.schema_version()?;
        if version <= SCHEMA_VERSION {
            return Ok(false);
        }
        match self.read_compatible_from()? {
            Some(from) if from <= SCHEMA_VERSION => Ok(true),
            Some(from) => bail!(
                "the store {} is at schema version {version}, newer than this fbl knows \
                 ({SCHEMA_VERSION}), and only an fbl of schema version {from} or later may read \
                 it: upgrade fbl",
                self.location
            ),
            None => bail!(
                "the store {} is at schema version {version}, newer than this fbl knows \
                 ({SCHEMA_VERSION}), and does not say older fbl may read it: upgrade fbl",
                self.location
            ),
        }
    }

    /// The store's `read_compatible_from` (migration 0030), `None` before it.
    pub fn read_compatible_from(&self) -> Result<Option<i64>> {
        let exists: i64 = self.db.value(
            self.db.pick(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'read_compatibility'",
                "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_name = 'read_compatibility'",
            ),
            params![],
        )?;
        if exists == 0 {
            return Ok(None);
        }
        Ok(Some(self.db.value(
            "SELECT coalesce(max(read_compatible_from), 0) FROM read_compatibility",
            params![],
        )?))
    }

    /// The SQLite file, for a SQLite store.
    pub fn path(&self) -> Option<&Path> {
        match &self.location {
            Location::Sqlite(path) => Some(path),
            Location::Postgres(_) => None,
        }
    }

    /// Where the store is, fit to print (a PostgreSQL URL without its password).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Which engine holds the store.
    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    /// How long `lock` waits while another fbl holds the store before it fails (none by
    /// default: `--lock-wait`).
    pub fn set_lock_wait(&mut self, wait: std::time::Duration) {
        self.lock_wait = wait;
    }

    /// Takes the store's lock, waiting up to `set_lock_wait`'s time while another fbl holds
    /// it, then failing with [`StoreLocked`]. For a PostgreSQL store this takes nothing:
    /// several hosts share it (see `lock_mailbox`).
    pub fn lock(&self) -> Result<StoreLock> {
        if let Some(why) = &self.read_only {
            bail!(
                "store {} is opened for reading only ({why}); fbl changes nothing in it",
                self.location
            );
        }
        let started = std::time::Instant::now();
        loop {
            match self.lock_once() {
                Err(error)
                    if error.downcast_ref::<StoreLocked>().is_some()
                        && started.elapsed() < self.lock_wait =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                locked => return locked,
            }
        }
    }

    fn lock_once(&self) -> Result<StoreLock> {
        let Location::Sqlite(path) = &self.location else {
            return Ok(StoreLock { _file: None });
        };
        // Beside the file itself: a store reached through a link, or by another path, is
        // one store with one lock.
        let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
        let mut lock_path = real.into_os_string();
        lock_path.push(".lock");
        let lock_path = PathBuf::from(lock_path);
        let mut options = File::options();
        options.create(true).truncate(false).read(true).write(true);
        // A link there is not followed: another user who may write beside the store could
        // make it lead to a file of fbl's user, which taking the lock would rewrite.
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::custom_flags(
            &mut options,
            libc::O_NOFOLLOW | libc::O_NONBLOCK,
        );
        let file = match options.open(&lock_path) {
            // ELOOP, or EACCES where the kernel protects links in sticky folders.
            Err(_)
                if std::fs::symlink_metadata(&lock_path)
                    .is_ok_and(|m| m.file_type().is_symlink()) =>
            {
                bail!(
                    "the lock file {} is a symbolic link: fbl does not follow it (it could lead \
                     to any file); remove it, fbl makes the lock file itself",
                    lock_path.display()
                )
            }
            opened => {
                opened.with_context(|| format!("cannot open lock file {}", lock_path.display()))?
            }
        };
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            bail!(
                "the lock file {} is not a regular file; remove it, fbl makes the lock file \
                 itself",
                lock_path.display()
            );
        }
        // One name only: a lock file that is a hard link to another file would have that file
        // rewritten (and, by root, given away).
        #[cfg(unix)]
        if let Ok(opened) = file.metadata() {
            use std::os::unix::fs::MetadataExt;
            if opened.nlink() > 1 {
                bail!(
                    "the lock file {} has {} names (hard links): fbl does not write to it (it \
                     could be any file's other name); remove it, fbl makes the lock file itself",
                    lock_path.display(),
                    opened.nlink()
                );
            }
        }
        // Root working on a service user's store (`sudo fbl suppress add`) gives the lock
        // file the store's owner, as SQLite does its -wal and -shm: left root's, the
        // service's next run could not open it.
        #[cfg(unix)]
        if crate::atomic_file::euid() == 0 {
            use std::os::unix::fs::MetadataExt;
            if let (Ok(store), Ok(lock)) = (std::fs::metadata(path), file.metadata())
                && lock.uid() != store.uid()
            {
                let _ = std::os::unix::fs::fchown(&file, Some(store.uid()), Some(store.gid()));
            }
        }
        match file.try_lock() {
            Ok(()) => {
                // Who holds it, for the run that finds it held. The lock is what counts: a
                // file that cannot be written only makes that run say less.
                let mut file = file;
                let _ = write_lock_holder(&mut file);
                Ok(StoreLock { _file: Some(file) })
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut file = file;
                // A holder that has just taken the lock writes who it is a moment later: an
                // empty file is read again for a little while before it is taken for an
                // older fbl's, which is said.
                let mut holder = LockHolder::read(&mut file);
                for _ in 0..10 {
                    if holder.is_some() {
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    holder = LockHolder::read(&mut file);
                }
                Err(StoreLocked {
                    store: path.clone(),
                    lock: lock_path,
                    holder,
                    quiet: false,
                }
                .into())
            }
            Err(std::fs::TryLockError::Error(error)) => {
                Err(error).with_context(|| format!("cannot lock {}", lock_path.display()))
            }
        }
    }

    /// Takes the right to poll one mailbox, or `None` when another host is polling it. A
    /// SQLite store is polled by one fbl at a time anyway (`lock`); a PostgreSQL store takes
    /// an advisory lock per mailbox, held until the value is dropped.
    pub fn lock_mailbox(&self, mailbox: &str) -> Result<Option<MailboxLock>> {
        match &self.location {
            Location::Sqlite(_) => Ok(Some(MailboxLock::none())),
            Location::Postgres(config) => pg::lock_mailbox(config, mailbox),
        }
    }

    /// The schema version the store is at.
    pub fn schema_version(&self) -> Result<i64> {
        match self.db.dialect() {
            Dialect::Sqlite => self.db.value("PRAGMA user_version", params![]),
            Dialect::Postgres => self.db.value(
                "SELECT coalesce(max(version), 0) FROM fbl_schema",
                params![],
            ),
        }
    }

    /// Starts a write transaction. Nothing it does is visible until `commit`. Write
    /// transactions are serialised: SQLite's by its write lock, PostgreSQL's by an advisory
    /// lock taken first, so that every check-then-write in a batch sees the latest commit of
    /// every host.
    pub fn begin(&mut self) -> Result<Batch<'_>> {
        let begin = self.db.pick(
            "BEGIN IMMEDIATE",
            "BEGIN; SELECT pg_advisory_xact_lock(7236223434829018368)",
        );
        match self.db.dialect() {
            Dialect::Sqlite => self
                .db
                .batch(begin)
                .with_context(|| format!("cannot write to store {}", self.location))?,
            // PostgreSQL's errors name the store already.
            Dialect::Postgres => self.db.batch(begin)?,
        }
        Ok(Batch {
            tx: &self.db,
            open: true,
            location: &self.location,
            smallest_open_head: None,
        })
    }

    /// Gives the entries whose reason was kept with capitals before fbl folded the case of
    /// its own reasons (`Unsubscribe`, which migration 0026 made `unsubscribe`) the expiry
    /// `[suppression] expire_after_days` gives that reason: kept with capitals, they got none.
    /// Done by `fbl run`, in its own transaction; returns how many entries got one. An entry
    /// that is due already is taken off the list by the expiry step that follows.
    pub fn expire_folded_reasons(
        &mut self,
        policy: &crate::config::SuppressionConfig,
        now: &str,
    ) -> Result<u64> {
        if crate::suppression::KNOWN_REASONS
            .iter()
            .all(|reason| !policy.expire_after_days.contains_key(*reason))
        {
            return Ok(0);
        }
        let mut batch = self.begin()?;
        let given = batch.expire_folded_reasons(policy, now)?;
        batch.commit()?;
        Ok(given)
    }

    /// Runs `read` in one read transaction, so that every query it makes sees the store as
    /// it was at the first of them, whatever other connections commit meanwhile: SQLite's
    /// deferred `BEGIN` (in WAL mode the snapshot is fixed by the first read; writers do not
    /// wait for it, and it holds a checkpoint back only while it lasts), PostgreSQL's
    /// `REPEATABLE READ READ ONLY`. The transaction ends when `read` returns, and is rolled
    /// back when `read` fails or panics, so the connection is usable after. Called inside
    /// another, it reads in the snapshot already open. `read` must not write.
    pub fn read_snapshot<T>(&self, read: impl FnOnce(&Store) -> Result<T>) -> Result<T> {
        if self.in_snapshot.get() {
            return read(self);
        }
        let run = |sql: &str| match self.db.dialect() {
            Dialect::Sqlite => self
                .db
                .batch(sql)
                .with_context(|| format!("cannot read store {}", self.location)),
            // PostgreSQL's errors name the store already.
            Dialect::Postgres => self.db.batch(sql),
        };
        run(self
            .db
            .pick("BEGIN", "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"))?;
        let mut snapshot = ReadSnapshot {
            store: self,
            open: true,
        };
        self.in_snapshot.set(true);
        let result = read(self)?;
        // A read transaction changed nothing: COMMIT only ends it. One that SQLite refuses
        // leaves it open, for the drop to roll back.
        run("COMMIT")?;
        snapshot.open = false;
        Ok(result)
    }

    /// Whether send-log entries were committed since the complaints without a complainant
    /// were last attributed again (see `Batch::set_reattribution_pending`).
    /// The mark's count: 0 when nothing is due.
    pub fn reattribution_pending(&self) -> Result<i64> {
        let value: Option<i64> = self.db.query_opt(
            "SELECT value FROM report_progress WHERE name = 'reattribution_pending'",
            params![],
            |r| r.get(0),
        )?;
        Ok(value.unwrap_or(0))
    }

    /// The send-log entries of a Message-ID (without angle brackets), in the order they
    /// came in.
    pub fn send_log_for_message_id(&self, message_id: &str) -> Result<Vec<SendLogEntry>> {
        let text = |value: String| (!value.is_empty()).then_some(value);
        self.db.query(
            "SELECT message_id, recipient, id, campaign, list, source_ip, sent_at
             FROM send_log WHERE message_id = ?1 AND message_id <> '' ORDER BY rowid",
            params![message_id],
            |r| {
                Ok(SendLogEntry {
                    message_id: text(r.get(0)?),
                    recipient: r.get(1)?,
                    id: text(r.get(2)?),
                    campaign: r.get(3)?,
                    list: r.get(4)?,
                    source_ip: r.get(5)?,
                    sent_at: r.get(6)?,
                })
            },
        )
    }

    /// Sizes of the tables, read in one snapshot.
    pub fn counts(&self) -> Result<StoreCounts> {
        self.read_snapshot(|store| {
            let count = |table: &str| -> Result<u64> {
                Ok(store
                    .db
                    .value::<i64>(&format!("SELECT count(*) FROM {table}"), params![])?
                    as u64)
            };
            Ok(StoreCounts {
                reports: count("reports")?,
                complainants: count("complainants")?,
                quarantined: count("quarantine WHERE released_at IS NULL")?,
                suppressions: count("suppressions WHERE removed_at IS NULL")?,
                history: count("suppression_history")?,
                send_log: count("send_log")?,
            })
        })
    }

    /// The suppression of an address, if it is on the list and not expired at `now`.
    pub fn active_suppression(&self, address: &str, now: &str) -> Result<Option<Suppression>> {
        self.db.query_opt(
            &format!(
                "SELECT address, reason, source, first_seen, last_seen, count, expires_at, removed_at
                 FROM suppressions WHERE address = ?1 AND {ON_THE_LIST}"
            ),
            params![address, now],
            suppression_from_row,
        )
    }

    /// Calls `each` for the suppressions the filter selects, in address order.
    pub fn for_each_suppression(
        &self,
        filter: &SuppressionFilter,
        mut each: impl FnMut(&Suppression) -> Result<()>,
    ) -> Result<u64> {
        let mut pages = self.suppressions(filter);
        let mut n = 0;
        for entry in pages.by_ref() {
            each(&entry)?;
            n += 1;
        }
        pages.finish()?;
        Ok(n)
    }

    /// The suppressions the filter selects, in address order (case-insensitive), read a
    /// page at a time so that a list of millions is never held in memory. Call `finish`
    /// after iterating to learn whether reading stopped on an error.
    pub fn suppressions(&self, filter: &SuppressionFilter) -> SuppressionPages<'_> {
        SuppressionPages {
            store: self,
            filter: filter.clone(),
            after: None,
            buffer: std::collections::VecDeque::new(),
            done: false,
            error: None,
        }
    }

    fn suppression_page(
        &self,
        filter: &SuppressionFilter,
        after: Option<&str>,
    ) -> Result<Vec<Suppression>> {
        let mut sql = String::from(
            "SELECT address, reason, source, first_seen, last_seen, count, expires_at,
                    CASE WHEN removed_at IS NOT NULL THEN removed_at
                         WHEN expires_at IS NOT NULL AND expires_at <= ?1 THEN expires_at END
             FROM suppressions WHERE address > ?3 AND ",
        );
        if filter.removed {
            sql.push_str(
                "(removed_at IS NOT NULL OR (expires_at IS NOT NULL AND expires_at <= ?1))",
            );
        } else {
            sql.push_str("removed_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)");
        }
        sql.push_str(
            " AND (CAST(?2 AS TEXT) IS NULL OR updated_at >= ?2
                   OR (expires_at IS NOT NULL AND expires_at >= ?2 AND expires_at <= ?1))
               AND (CAST(?5 AS BIGINT) IS NULL OR change_seq > ?5)
             ORDER BY address LIMIT ?4",
        );
        // A plain `address > ?3` (every address sorts after '') lets SQLite seek to the
        // page in the primary key; `?3 IS NULL OR ...` made it scan from the start for
        // every page, which made a walk of the whole list quadratic.
        self.db.query(
            &sql,
            params![
                filter.now,
                filter.changed_since,
                after.unwrap_or(""),
                PAGE_SIZE as i64,
                filter.changed_after_seq
            ],
            suppression_from_row,
        )
    }

    /// Every add, change and removal of an address, oldest first.
    pub fn history(&self, address: &str) -> Result<Vec<HistoryEntry>> {
        self.db.query(
            &format!(
                "{HISTORY_CHAIN}
                 SELECT at, action, reason, actor, report_id, note FROM suppression_history
                 WHERE id IN (SELECT id FROM chain) ORDER BY id"
            ),
            params![address],
            |r| {
                Ok(HistoryEntry {
                    at: r.get(0)?,
                    action: r.get(1)?,
                    reason: r.get(2)?,
                    actor: r.get(3)?,
                    report_id: r.get(4)?,
                    note: r.get(5)?,
                })
            },
        )
    }

    /// The reports that are evidence for an address's suppression: those of its history
    /// lines. Stores before version 8 also wrote each to `suppression_evidence`, read too
    /// (every such row has its history line; the union costs nothing and assumes nothing).
    pub fn evidence(&self, address: &str) -> Result<Vec<i64>> {
        self.db.query(
            &format!(
                "{HISTORY_CHAIN}
                 SELECT report_id FROM suppression_history
                 WHERE id IN (SELECT id FROM chain) AND report_id IS NOT NULL
                 UNION
                 SELECT report_id FROM suppression_evidence WHERE address = ?1
                 ORDER BY 1"
            ),
            params![address],
            |r| r.get(0),
        )
    }

    /// The messages quarantined from standard input (`fbl ingest --mta -`, an MTA's pipe)
    /// since `fbl run` last told of them, not released, and the quarantine's highest id now
    /// (for `Batch::set_quarantine_told`). The first time, every such message.
    pub fn quarantined_from_stdin_untold(&self) -> Result<(Vec<QuarantineEntry>, i64)> {
        let told: Option<i64> = self.db.query_opt(
            "SELECT value FROM report_progress WHERE name = 'quarantine_told'",
            params![],
            |r| r.get(0),
        )?;
        let highest: i64 = self
            .db
            .value("SELECT coalesce(max(id), 0) FROM quarantine", params![])?;
        let told = told.unwrap_or(0);
        let untold = self.db.query(
            "SELECT id, sha256, quarantined_at, origin, reason, raw_size, released_at, report_id,
                    dismissed
             FROM quarantine WHERE id > ?1 AND origin = '-' AND released_at IS NULL ORDER BY id",
            params![told],
            quarantine_from_row,
        )?;
        Ok((untold, highest))
    }

    pub fn quarantine_list(&self, include_released: bool) -> Result<Vec<QuarantineEntry>> {
        let mut entries = Vec::new();
        self.quarantine_each(include_released, |entry| {
            entries.push(entry);
            Ok(())
        })?;
        Ok(entries)
    }

    /// [`Store::quarantine_list`]'s entries handed to `each` one at a time, in order, as they
    /// are read (a quarantine of 100,000 messages is never held in memory).
    pub fn quarantine_each(
        &self,
        include_released: bool,
        mut each: impl FnMut(QuarantineEntry) -> Result<()>,
    ) -> Result<()> {
        self.db.walk(
            "SELECT id, sha256, quarantined_at, origin, reason, raw_size, released_at, report_id,
                    dismissed
             FROM quarantine WHERE ?1 OR released_at IS NULL ORDER BY id",
            params![include_released],
            |row| {
                each(quarantine_from_row(row)?)?;
                Ok(true)
            },
        )
    }

    pub fn quarantined(&self, id: i64) -> Result<Option<(QuarantineEntry, Vec<u8>)>> {
        let row = self.db.query_opt(
            "SELECT id, sha256, quarantined_at, origin, reason, raw_size, released_at, report_id, dismissed, raw_packed
             FROM quarantine WHERE id = ?1",
            params![id],
            |r| Ok((quarantine_from_row(r)?, r.get::<Vec<u8>>(9)?)),
        )?;
        match row {
            Some((entry, packed)) => Ok(Some((entry, packed::unpack(&packed)?))),
            None => Ok(None),
        }
    }

    /// A stored report as `fbl store report` shows it: where and when it came, what it is,
    /// whom it names, and the parse result kept with it.
    pub fn stored_report(&self, id: i64) -> Result<Option<StoredReport>> {
        self.read_snapshot(|store| {
            let row = store.db.query_opt(
                "SELECT id, ingested_at, origin, kind, reporter, reported_at, attributed,
                        report_json
                 FROM reports WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        StoredReport {
                            id: r.get(0)?,
                            ingested_at: r.get(1)?,
                            origin: r.get(2)?,
                            kind: r.get(3)?,
                            reporter: r.get(4)?,
                            reported_at: r.get(5)?,
                            attributed: r.get(6)?,
                            complainants: Vec::new(),
                            report: serde_json::Value::Null,
                        },
                        r.get::<String>(7)?,
                    ))
                },
            )?;
            let Some((mut report, json)) = row else {
                return Ok(None);
            };
            report.report = serde_json::from_str(&json)?;
            report.complainants = store.db.query(
                "SELECT address, id, via FROM complainants WHERE report_id = ?1
                 ORDER BY address, id, via",
                params![id],
                |r| {
                    Ok(StoredComplainant {
                        address: r.get(0)?,
                        id: r.get(1)?,
                        via: r.get(2)?,
                    })
                },
            )?;
            Ok(Some(report))
        })
    }

    /// The stored complaints and unsubscribes that name nobody yet, oldest first, each with
    /// the first reason its attribution gave.
    pub fn unattributed_reports(&self) -> Result<Vec<UnattributedReport>> {
        self.db.query(
            "SELECT id, reported_at, reporter, origin, report_json FROM reports
             WHERE attributed = 0 AND kind IN ('complaint', 'unsubscribe') ORDER BY id",
            params![],
            |r| {
                let json: String = r.get(4)?;
                let notes = serde_json::from_str::<serde_json::Value>(&json)
                    .ok()
                    .and_then(|v| v["attribution_notes"][0].as_str().map(str::to_string));
                Ok(UnattributedReport {
                    id: r.get(0)?,
                    reported_at: r.get(1)?,
                    reporter: r.get(2)?,
                    origin: r.get(3)?,
                    reason: notes.unwrap_or_default(),
                })
            },
        )
    }

    /// Whether a message from this origin (`imap:NAME/FOLDER;UIDVALIDITY=V;UID=U`) sits in
    /// quarantine, not yet released. Read without an index: for the rare pending mailbox
    /// action whose kind the configuration no longer tells.
    pub fn is_quarantined_origin(&self, origin: &str) -> Result<bool> {
        self.db.exists(
            "SELECT 1 FROM quarantine WHERE origin = ?1 AND released_at IS NULL",
            params![origin],
        )
    }

    /// The raw bytes of a stored report.
    pub fn report_raw(&self, id: i64) -> Result<Option<Vec<u8>>> {
        let packed: Option<Vec<u8>> = self.db.query_opt(
            "SELECT raw_packed FROM reports WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )?;
        packed.map(|p| packed::unpack(&p)).transpose()
    }

    /// The parse result kept with a report.
    pub fn report_json(&self, id: i64) -> Result<Option<String>> {
        self.db.query_opt(
            "SELECT report_json FROM reports WHERE id = ?1",
            params![id],
            |r| r.get(0),
        )
    }

    /// Ids of complaint and unsubscribe reports without a complainant address, with the time
    /// the store dates each (`reported_at`).
    pub fn unattributed_report_ids(&self) -> Result<Vec<(i64, String)>> {
        self.db.query(
            "SELECT id, reported_at FROM reports
             WHERE attributed = 0 AND kind IN ('complaint', 'unsubscribe')
             ORDER BY id",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }

    /// What fbl kept of an output the last time it wrote it.
    pub fn export_state(&self, name: &str) -> Result<Option<ExportState>> {
        self.db.query_opt(
            "SELECT last_change_seq, format, left_out FROM export_state WHERE name = ?1",
            params![name],
            |r| {
                Ok(ExportState {
                    change_seq: r.get(0)?,
                    format: r.get(1)?,
                    left_out: r.get(2)?,
                })
            },
        )
    }

    /// The latest point of the suppression list's change sequence.
    pub fn change_seq(&self) -> Result<i64> {
        self.db.value(
            "SELECT coalesce(max(change_seq), 0) FROM suppressions",
            params![],
        )
    }
}

impl SendLogLookup for Store {
    fn has_entries(&self) -> bool {
        send_log_has_entries(&self.db)
    }
    fn recipient_by_message_id(&self, message_id: &str) -> Option<String> {
        lookup_message_id(&self.db, message_id)
    }
    fn recipient_by_id(&self, id: &str) -> Option<String> {
        lookup_id(&self.db, id)
    }
    fn has_id(&self, id: &str) -> bool {
        send_log_has(&self.db, "id", id.trim())
    }
    fn has_message_id(&self, message_id: &str) -> bool {
        send_log_has(&self.db, "message_id", bare_message_id(message_id))
    }
}

/// Whether the send log holds an entry (an error reads as "no": To is then used, as
/// before there was a send log).
fn send_log_has_entries(db: &Db) -> bool {
    db.exists("SELECT 1 FROM send_log LIMIT 1", params![])
        .unwrap_or(false)
}

/// The stored report with these bytes, or another delivery of it (its content key).
fn report_id_by_digests(db: &Db, sha256: &[u8; 32], content_key: &[u8; 32]) -> Result<Option<i64>> {
    db.query_opt(
        "SELECT id FROM reports WHERE sha256 = ?1 OR content_key = ?2",
        params![&sha256[..], &content_key[..]],
        |r| r.get(0),
    )
}

/// A Message-ID as the send log keeps it: without angle brackets or white space around.
fn bare_message_id(message_id: &str) -> &str {
    message_id
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
}

/// Whether the send log has an entry whose `column` (`id` or `message_id`) is `value`.
fn send_log_has(db: &Db, column: &str, value: &str) -> bool {
    !value.is_empty()
        && db
            .exists(
                &format!("SELECT 1 FROM send_log WHERE {column} = ?1 AND {column} <> ''"),
                params![value],
            )
            .unwrap_or(false)
}

fn lookup_message_id(db: &Db, message_id: &str) -> Option<String> {
    let bare = bare_message_id(message_id);
    if bare.is_empty() {
        return None;
    }
    // `message_id <> ''` lets SQLite use the partial index send_log_by_message_id.
    only_recipient(db, "message_id", bare)
}

fn lookup_id(db: &Db, id: &str) -> Option<String> {
    // `id <> ''` lets SQLite use the partial index send_log_by_id (without it, a bound `?1`
    // might be '' and the planner walks the whole log by sent_at), and keeps an empty id
    // from matching the entries that have none.
    only_recipient(db, "id", id.trim())
}

/// The one recipient the send log's entries with this `column` (`message_id` or `id`) name.
/// Several entries may name the same recipient: a resend, or the same send in two logs (a
/// Postfix log, which has no id, and a CSV that has one). A Message-ID or an id sent to
/// several recipients (a campaign-level CFBL-Feedback-ID, RFC 9477's `111:222:333:4444`, or
/// an id used again for someone else) names nobody in particular: picking one would
/// suppress someone who may not have complained.
fn only_recipient(db: &Db, column: &str, value: &str) -> Option<String> {
    // A few rows are read, in any order (DISTINCT or ORDER BY cost a temporary b-tree per
    // lookup); only a value with more entries than that is looked at again, for another
    // recipient.
    const FEW: usize = 8;
    let recipients: Vec<String> = db
        .query(
            &format!(
                "SELECT recipient FROM send_log WHERE {column} = ?1 AND {column} <> '' LIMIT {FEW}"
            ),
            params![value],
            |r| r.get(0),
        )
        .ok()?;
    let (first, rest) = recipients.split_first()?;
    if !rest.iter().all(|other| other.eq_ignore_ascii_case(first)) {
        return None;
    }
    if recipients.len() == FEW {
        let someone_else = db
            .exists(
                &format!(
                    "SELECT 1 FROM send_log WHERE {column} = ?1 AND {column} <> '' \
                     AND lower(recipient) <> lower(?2)"
                ),
                params![value, first],
            )
            .ok()?;
        if someone_else {
            return None;
        }
    }
    Some(first.clone())
}

/// A write transaction on the store, rolled back when dropped without `commit`.
pub struct Batch<'a> {
    tx: &'a Db,
    open: bool,
    location: &'a Location,
    /// The smallest message size of the oversized heads in quarantine, not released, when
    /// first asked in this batch (`Some(None)`: there are none): storing a smaller report has
    /// no head to release, so most reports need no lookup.
    smallest_open_head: Option<Option<i64>>,
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        if self.open {
            // Nothing to do on failure: a connection that cannot roll back has lost the
            // transaction with it.
            let _ = self.tx.batch("ROLLBACK");
        }
    }
}

/// An open `Store::read_snapshot`: ended, rolled back, when dropped while open (`read`
/// failed or panicked, or COMMIT was refused).
struct ReadSnapshot<'a> {
    store: &'a Store,
    open: bool,
}

impl Drop for ReadSnapshot<'_> {
    fn drop(&mut self) {
        self.store.in_snapshot.set(false);
        if self.open {
            // Nothing to do on failure: a connection that cannot roll back has lost the
            // transaction with it.
            let _ = self.store.db.batch("ROLLBACK");
        }
    }
}

impl SendLogLookup for ReportLookup {
    fn has_entries(&self) -> bool {
        send_log_has_entries(&self.store.db)
    }
    fn recipient_by_message_id(&self, message_id: &str) -> Option<String> {
        lookup_message_id(&self.store.db, message_id)
    }
    fn recipient_by_id(&self, id: &str) -> Option<String> {
        lookup_id(&self.store.db, id)
    }
    fn has_id(&self, id: &str) -> bool {
        send_log_has(&self.store.db, "id", id.trim())
    }
    fn has_message_id(&self, message_id: &str) -> bool {
        send_log_has(&self.store.db, "message_id", bare_message_id(message_id))
    }
}

impl SendLogLookup for Batch<'_> {
    fn has_entries(&self) -> bool {
        send_log_has_entries(self.tx)
    }
    fn recipient_by_message_id(&self, message_id: &str) -> Option<String> {
        lookup_message_id(self.tx, message_id)
    }
    fn recipient_by_id(&self, id: &str) -> Option<String> {
        lookup_id(self.tx, id)
    }
    fn has_id(&self, id: &str) -> bool {
        send_log_has(self.tx, "id", id.trim())
    }
    fn has_message_id(&self, message_id: &str) -> bool {
        send_log_has(self.tx, "message_id", bare_message_id(message_id))
    }
}

impl Batch<'_> {
    pub fn commit(mut self) -> Result<()> {
        let committed = match self.tx.dialect() {
            Dialect::Sqlite => self
                .tx
                .batch("COMMIT")
                .with_context(|| format!("cannot commit to store {}", self.location)),
            // PostgreSQL's errors name the store already.
            Dialect::Postgres => self.tx.batch("COMMIT"),
        };
        // A COMMIT that SQLite refuses (a deferred constraint, a busy database) leaves the
        // transaction open: dropping the batch rolls it back, or no batch could begin after.
        self.open = committed.is_err();
        committed
    }

    /// The id of a stored report with these bytes or this content key (another delivery
    /// of the same report), if there is one.
    pub fn report_id_by_digests(
        &self,
        sha256: &[u8; 32],
        content_key: &[u8; 32],
    ) -> Result<Option<i64>> {
        report_id_by_digests(self.tx, sha256, content_key)
    }

    /// Keeps a report with its raw bytes and complainants; a report already stored is left
    /// as it was.
    pub fn store_report(&mut self, new: &NewReport) -> Result<Stored> {
        let report = new.report;
        // Never later than it was stored: a report dated ahead would count on a day no
        // report's window has reached yet.
        let reported_at =
            crate::derivation::not_after_now(report.report_date.as_deref(), new.ingested_at)
                .to_string();
        let reported_day = reported_at.get(..10).unwrap_or("").to_string();
        let json = serde_json::to_string(report)?;
        let attributed = !report.recipient_addresses().is_empty();
        let packed_here;
        let packed = match new.packed {
            Some(packed) => packed,
            None => {
                packed_here = packed::pack(new.raw)?;
                &packed_here[..]
            }
        };
        let content_key = new
            .content_key
            .unwrap_or_else(|| crate::content_key::content_key(new.raw));
        // The schema's UNIQUE sha256 and content_key decide: no row is inserted for bytes,
        // or another delivery of a report, stored already (one index search each instead of
        // a lookup and then the insert's own).
        let inserted = self.tx.insert_for_id(
            "INSERT INTO reports (sha256, ingested_at, origin, kind, format, reporter,
                feedback_type, source_ip, arrival_date, reported_at, reported_day, message_id,
                original_mail_from, subject, redacted, attributed, report_json, raw_packed, raw_size,
                content_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)
             ON CONFLICT DO NOTHING",
            params![
                &new.sha256[..],
                new.ingested_at,
                new.origin,
                report.kind.as_str(),
                report.format.as_str(),
                report.reporter.as_str(),
                report.feedback_type,
                report.source_ip,
                report.arrival_date,
                reported_at,
                reported_day,
                report.message_id,
                report.original_mail_from,
                report.subject,
                report.redacted,
                attributed,
                json,
                packed,
                new.raw.len() as i64,
                &content_key[..],
            ],
        )?;
        let Some(id) = inserted else {
            let id = self
                .report_id_by_digests(&new.sha256, &content_key)?
                .context("a report conflicted on its digests but cannot be found")?;
            return Ok(Stored::Duplicate(id));
        };
        self.insert_complainants(id, &report.recipients)?;
        Ok(Stored::New(id))
    }

    fn insert_complainants(&mut self, report_id: i64, recipients: &[Recipient]) -> Result<()> {
        for recipient in recipients {
            self.tx.execute(
                "INSERT INTO complainants (report_id, address, id, via) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
                params![
                    report_id,
                    recipient.address.as_deref().unwrap_or(""),
                    recipient.id.as_deref().unwrap_or(""),
                    recipient.via.as_str(),
                ],
            )?;
        }
        Ok(())
    }

    /// Replaces what is known of a stored report after attributing it again.
    pub fn update_attribution(&mut self, report_id: i64, report: &Report) -> Result<()> {
        self.tx.execute(
            "DELETE FROM complainants WHERE report_id = ?1",
            params![report_id],
        )?;
        self.insert_complainants(report_id, &report.recipients)?;
        self.tx.execute(
            "UPDATE reports SET attributed = ?2, report_json = ?3 WHERE id = ?1",
            params![
                report_id,
                !report.recipient_addresses().is_empty(),
                serde_json::to_string(report)?
            ],
        )?;
        // The report's summary for `fbl report` is redone on the next report step.
        self.tx.execute(
            "UPDATE complaint_facts SET placed = -1 WHERE report_id = ?1",
            params![report_id],
        )?;
        Ok(())
    }

    /// Keeps input that could not be processed, with its bytes and the reason. `size` is the
    /// message's size: more than `raw.len()` when only the head of an oversized message is
    /// kept, which is how `fbl quarantine retry` knows not to parse it. `content_key` is the
    /// message's (`content_key`), so that storing another delivery of it releases it; None
    /// for such a head, whose key would not be the message's. Returns the new row's id, or
    /// None when the same bytes were already quarantined.
    #[allow(clippy::too_many_arguments)]
    pub fn quarantine(
        &mut self,
        raw: &[u8],
        sha256: &[u8; 32],
        content_key: Option<&[u8; 32]>,
        size: u64,
        origin: &str,
        reason: &str,
        now: &str,
    ) -> Result<Option<i64>> {
        let content_key = content_key.map(|key| key.to_vec());
        let known = self.tx.execute(
            "UPDATE quarantine SET reason = ?2, content_key = coalesce(content_key, ?3)
             WHERE sha256 = ?1",
            params![&sha256[..], reason, content_key.clone()],
        )?;
        if known > 0 {
            return Ok(None);
        }
        self.tx.insert_for_id(
            "INSERT INTO quarantine (sha256, quarantined_at, origin, reason, raw_packed, raw_size,
                content_key)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                &sha256[..],
                now,
                origin,
                reason,
                packed::pack(raw)?,
                size as i64,
                content_key
            ],
        )
    }

    /// Where the quarantined message with these bytes came from first, if one is kept.
    pub fn quarantine_origin(&self, sha256: &[u8; 32]) -> Result<Option<String>> {
        self.tx.query_opt(
            "SELECT origin FROM quarantine WHERE sha256 = ?1",
            params![&sha256[..]],
            |r| r.get(0),
        )
    }

    /// True when these bytes sit in quarantine, not yet released.
    pub fn is_quarantined(&self, sha256: &[u8; 32]) -> Result<bool> {
        self.tx.exists(
            "SELECT 1 FROM quarantine WHERE sha256 = ?1 AND released_at IS NULL",
            params![&sha256[..]],
        )
    }

    /// Marks quarantined deliveries of a stored report as stored after all: those with its
    /// bytes, and those with its content key (the same report delivered another way, set
    /// aside as untrusted, say). Returns the ids of the rows released, nearly always none.
    pub fn release_quarantine(
        &mut self,
        sha256: &[u8; 32],
        content_key: Option<&[u8; 32]>,
        report_id: i64,
        now: &str,
    ) -> Result<Vec<i64>> {
        // Two searches of an index each (the open rows' content keys have a partial index of
        // their own): run for every report stored, and nearly always finding nothing.
        let open: Vec<i64> = self.tx.query(
            "SELECT id FROM quarantine WHERE sha256 = ?1 AND released_at IS NULL
             UNION
             SELECT id FROM quarantine WHERE content_key = ?2 AND released_at IS NULL
             ORDER BY 1",
            params![&sha256[..], content_key.map(|key| key.to_vec())],
            |r| r.get(0),
        )?;
        for &id in &open {
            self.tx.execute(
                "UPDATE quarantine SET released_at = ?2, report_id = ?3 WHERE id = ?1",
                params![id, now, report_id],
            )?;
        }
        Ok(open)
    }

    /// Closes a quarantined message a person looked at and found needs nothing done, with
    /// their reason; its bytes stay. False when it was released or dismissed already.
    pub fn dismiss_quarantined(&mut self, id: i64, reason: &str, now: &str) -> Result<bool> {
        let changed = self.tx.execute(
            "UPDATE quarantine SET released_at = ?2, dismissed = ?3
             WHERE id = ?1 AND released_at IS NULL",
            params![id, now, reason],
        )?;
        Ok(changed > 0)
    }

    /// Releases the heads kept in quarantine of `raw` (an oversized message an earlier run
    /// could keep only the start of), now that `raw` is stored as `report_id`; returns how
    /// many.
    pub fn release_quarantined_heads(
        &mut self,
        raw: &[u8],
        report_id: i64,
        now: &str,
    ) -> Result<u64> {
        let smallest = match self.smallest_open_head {
            Some(smallest) => smallest,
            None => {
                // A head's reason begins so (`fbl quarantine retry` keeps it).
                let smallest = self.tx.query_opt(
                    "SELECT min(raw_size) FROM quarantine
                     WHERE released_at IS NULL AND reason LIKE 'message of %'",
                    params![],
                    |r| r.get::<Option<i64>>(0),
                )?;
                let smallest = smallest.flatten();
                self.smallest_open_head = Some(smallest);
                smallest
            }
        };
        if smallest.is_none_or(|smallest| (raw.len() as i64) < smallest) {
            return Ok(0);
        }
        let candidates: Vec<(i64, Vec<u8>)> = self.tx.query(
            "SELECT id, raw_packed FROM quarantine WHERE raw_size = ?1 AND released_at IS NULL",
            params![raw.len() as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let mut released = 0;
        for (id, packed) in candidates {
            let head = packed::unpack(&packed)?;
            if head.len() < raw.len() && raw.starts_with(&head) {
                self.tx.execute(
                    "UPDATE quarantine SET released_at = ?2, report_id = ?3 WHERE id = ?1",
                    params![id, now, report_id],
                )?;
                released += 1;
            }
        }
        Ok(released)
    }

    /// Adds an address to the suppression list, or strengthens the entry it has.
    pub fn suppress(&mut self, request: &SuppressRequest) -> Result<SuppressChange> {
        let existing = self.tx.query_opt(
            "SELECT reason, first_seen, last_seen, expires_at, removed_at, last_history_id
             FROM suppressions WHERE address = ?1",
            params![request.address],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<Option<String>>(3)?,
                    r.get::<Option<String>>(4)?,
                    r.get::<Option<i64>>(5)?,
                ))
            },
        )?;
        // The history line goes first: the suppression row points at it.
        let change = match existing {
            None => {
                let line = self.history(
                    request.address,
                    request.now,
                    "add",
                    Some(request.reason),
                    request.actor,
                    request.report_id,
                    None,
                    None,
                )?;
                self.tx.execute(
                    "INSERT INTO suppressions (address, reason, source, first_seen, last_seen,
                        count, expires_at, removed_at, updated_at, change_seq, last_history_id)
                     VALUES (?1, ?2, ?3, ?4, ?4, 1, ?5, NULL, ?6,
                             (SELECT coalesce(max(change_seq), 0) + 1 FROM suppressions), ?7)",
                    params![
                        request.address,
                        request.reason,
                        request.source,
                        request.seen_at,
                        request.expires_at,
                        request.now,
                        line
                    ],
                )?;
                SuppressChange::Added
            }
            Some((reason, first_seen, last_seen, expires_at, removed_at, mut previous)) => {
                let expired = expires_at.as_deref().is_some_and(|e| e <= request.now);
                let was_off = removed_at.is_some() || expired;
                if was_off
                    && request.actor == "report"
                    && request.report_id.is_some()
                    && let Some(removal) = self.latest_removal(request.address)?
                    && earlier(request.seen_at, &removal.at)
                {
                    // A person took the address off the list after this complaint was
                    // reported (a late report, `fbl quarantine retry`, `fbl reattribute`):
                    // that decision was made after it, and stands. The report stays stored,
                    // and the history names it and the removal.
                    return self.leave_removed(request, &removal, expires_at, removed_at, previous);
                }
                if expired
                    && removed_at.is_none()
                    && let Some(at) = expires_at.as_deref()
                {
                    // Expired, and no `fbl run` has recorded it yet: its history says so
                    // first, as `expire_suppressions` would have, before it is back on.
                    previous = Some(self.history(
                        request.address,
                        at,
                        "expire",
                        None,
                        "expiry",
                        None,
                        None,
                        previous,
                    )?);
                }
                let (old_reason, old_expires_at) = (reason.clone(), expires_at.clone());
                let reason = if was_off || reason_rank(request.reason) > reason_rank(&reason) {
                    request.reason.to_string()
                } else {
                    reason
                };
                let expires_at = if was_off {
                    request.expires_at.map(str::to_string)
                } else {
                    match (expires_at, request.expires_at) {
                        (Some(a), Some(b)) => Some(if a.as_str() > b { a } else { b.to_string() }),
                        _ => None,
                    }
                };
                // A person's `suppress add` or an import brings no new evidence: when the
                // entry is on the list and would keep its reason and expiry (its source stays
                // while it is on the list), nothing changes, so that adding or importing the
                // same list again leaves the count, the history and the change sequence (and
                // so `export --changed-since-last`) as they were. A report always counts.
                if !was_off
                    && request.actor != "report"
                    && request.report_id.is_none()
                    && reason == old_reason
                    && expires_at == old_expires_at
                {
                    return Ok(SuppressChange::Unchanged);
                }
                let first_seen = if was_off || request.seen_at < first_seen.as_str() {
                    request.seen_at.to_string()
                } else {
                    first_seen
                };
                let last_seen = if request.seen_at > last_seen.as_str() {
                    request.seen_at.to_string()
                } else {
                    last_seen
                };
                let action = if was_off { "add" } else { "update" };
                let note = was_off.then_some("back on the list after removal or expiry");
                let line = self.history(
                    request.address,
                    request.now,
                    action,
                    Some(&reason),
                    request.actor,
                    request.report_id,
                    note,
                    previous,
                )?;
                self.tx.execute(
                    "UPDATE suppressions SET reason = ?2, first_seen = ?3, last_seen = ?4,
                        count = CASE WHEN ?8 THEN 1 ELSE count + 1 END, expires_at = ?5,
                        removed_at = NULL, updated_at = ?6,
                        change_seq = (SELECT coalesce(max(change_seq), 0) + 1 FROM suppressions),
                        source = CASE WHEN ?8 THEN ?7 ELSE source END, last_history_id = ?9
                     WHERE address = ?1",
                    params![
                        request.address,
                        reason,
                        first_seen,
                        last_seen,
                        expires_at,
                        request.now,
                        request.source,
                        was_off,
                        line
                    ],
                )?;
                if was_off {
                    SuppressChange::Added
                } else {
                    SuppressChange::Updated
                }
            }
        };
        // The history line just written, with its report, is the evidence (see `evidence`).
        Ok(change)
    }

    /// A person's latest removal of an address (`fbl suppress remove`): the last `remove`
    /// line of its history, if any.
    fn latest_removal(&self, address: &str) -> Result<Option<Removal>> {
        self.tx.query_opt(
            &format!(
                "{HISTORY_CHAIN}
                 SELECT at, actor, note FROM suppression_history
                 WHERE id IN (SELECT id FROM chain) AND action = 'remove'
                 ORDER BY id DESC LIMIT 1"
            ),
            params![address],
            |r| {
                Ok(Removal {
                    at: r.get(0)?,
                    actor: r.get(1)?,
                    why: r.get(2)?,
                })
            },
        )
    }

    /// Whether a person took the address off the list and nothing put it back since: it is
    /// off the list (`removed_at`), and the latest line of its history that put it on or took
    /// it off (a `not_readded` or `merge` line does neither) is a `fbl suppress remove`.
    /// An import leaves such an address off (see `fbl suppress import --include-removed`).
    pub fn removed_by_person(&self, address: &str) -> Result<Option<PersonRemoval>> {
        let removed = self.tx.query_opt(
            "SELECT 1 FROM suppressions WHERE address = ?1 AND removed_at IS NOT NULL",
            params![address],
            |r| r.get::<i64>(0),
        )?;
        if removed.is_none() {
            return Ok(None);
        }
        let latest = self.tx.query_opt(
            &format!(
                "{HISTORY_CHAIN}
                 SELECT action, actor, at, note FROM suppression_history
                 WHERE id IN (SELECT id FROM chain) AND action NOT IN ('not_readded', 'merge')
                 ORDER BY id DESC LIMIT 1"
            ),
            params![address],
            |r| {
                Ok((
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<Option<String>>(3)?,
                ))
            },
        )?;
        Ok(match latest {
            Some((action, actor, at, why)) if action == "remove" && actor == "manual" => {
                Some(PersonRemoval { at, why })
            }
            _ => None,
        })
    }

    /// Records that a report's complaint, made before `removal`, leaves the address off the
    /// list: a history line (with the report, so it is evidence too) that the suppression
    /// points at. The list itself does not change, so no export sees a change; an expiry
    /// due and not recorded yet is recorded first, as `expire_suppressions` would.
    fn leave_removed(
        &mut self,
        request: &SuppressRequest,
        removal: &Removal,
        expires_at: Option<String>,
        removed_at: Option<String>,
        mut previous: Option<i64>,
    ) -> Result<SuppressChange> {
        if removed_at.is_none()
            && let Some(at) = expires_at.as_deref()
        {
            previous = Some(self.record_expiry(request.address, at, previous)?);
        }
        let by = if removal.actor == "manual" {
            "a person (fbl suppress remove)".to_string()
        } else {
            removal.actor.clone()
        };
        let note = format!(
            "not back on the list: reported at {}, before its removal at {} by {by}{}",
            request.seen_at,
            removal.at,
            removal
                .why
                .as_deref()
                .map(|why| format!(": {why}"))
                .unwrap_or_default()
        );
        let line = self.history(
            request.address,
            request.now,
            "not_readded",
            Some(request.reason),
            request.actor,
            request.report_id,
            Some(&note),
            previous,
        )?;
        self.tx.execute(
            "UPDATE suppressions SET last_history_id = ?2 WHERE address = ?1",
            params![request.address, line],
        )?;
        Ok(SuppressChange::LeftRemoved)
    }

    /// Takes an address off the list. Returns false when it was not on it.
    pub fn unsuppress(&mut self, address: &str, why: &str, actor: &str, now: &str) -> Result<bool> {
        let on_list = self.tx.query_opt(
            "SELECT last_history_id FROM suppressions WHERE address = ?1 AND removed_at IS NULL",
            params![address],
            |r| r.get::<Option<i64>>(0),
        )?;
        let Some(previous) = on_list else {
            return Ok(false);
        };
        self.take_off_list(address, now, "remove", actor, Some(why), previous)?;
        Ok(true)
    }

    /// See `Store::expire_folded_reasons`. An entry qualifies when it is on the list with no
    /// expiry, its reason has one in `policy`, and its latest history line is the `add` that
    /// gave that reason with capitals (`Unsubscribe`): that spelling alone kept it from the
    /// expiry. Its expiry counts from when it was added (`updated_at`), as the lower-case
    /// reason's would have; a history line (`update`, actor `expiry`) says so. The history is
    /// not walked back: an entry changed since it was added (a later report, a stronger
    /// reason over a permanent `manual`) is left as it is. The entries so kept are a fixed
    /// set (every entry added since gets its expiry when added), so a reason is done once, the
    /// first run its key is configured, and marked done (`report_progress`,
    /// `folded_expiry:REASON`): no run after scans the list for it again.
    pub fn expire_folded_reasons(
        &mut self,
        policy: &crate::config::SuppressionConfig,
        now: &str,
    ) -> Result<u64> {
        let mut given = 0;
        for reason in crate::suppression::KNOWN_REASONS {
            if !policy.expire_after_days.contains_key(reason) {
                continue;
            }
            let mark = format!("folded_expiry:{reason}");
            if self.tx.exists(
                "SELECT 1 FROM report_progress WHERE name = ?1",
                params![mark],
            )? {
                continue;
            }
            self.tx.execute(
                "INSERT INTO report_progress (name, value) VALUES (?1, 1)
                 ON CONFLICT (name) DO NOTHING",
                params![mark],
            )?;
            let folded: Vec<(String, String, i64, String)> = self.tx.query(
                "SELECT s.address, s.updated_at, s.last_history_id, h.reason
                 FROM suppressions s JOIN suppression_history h ON h.id = s.last_history_id
                 WHERE s.reason = ?1 AND s.removed_at IS NULL AND s.expires_at IS NULL
                   AND h.action = 'add' AND h.reason <> ?1 AND lower(h.reason) = ?1
                 ORDER BY s.address",
                params![reason],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?;
            for (address, added_at, previous, written) in folded {
                let Some(expires_at) = crate::suppression::expiry(reason, &added_at, policy) else {
                    continue;
                };
                let note = format!(
                    "expiry {expires_at} from [suppression] expire_after_days: added as \
                     {written:?} before fbl kept its reasons in lower case, it got none"
                );
                let line = self.history(
                    &address,
                    now,
                    "update",
                    Some(reason),
                    "expiry",
                    None,
                    Some(&note),
                    Some(previous),
                )?;
                self.tx.execute(
                    "UPDATE suppressions SET expires_at = ?2, updated_at = ?3,
                        change_seq = (SELECT coalesce(max(change_seq), 0) + 1 FROM suppressions),
                        last_history_id = ?4
                     WHERE address = ?1",
                    params![address, expires_at, now, line],
                )?;
                given += 1;
            }
        }
        Ok(given)
    }

    /// Records the expiry of every entry whose time has come, so the history says so. Each
    /// expiry is a change of the list like a removal: it takes the next point of the change
    /// sequence, so that an export of the changes since the last one (`change_seq > last`)
    /// carries it.
    pub fn expire_suppressions(&mut self, now: &str) -> Result<u64> {
        let due: Vec<(String, String, Option<i64>)> = self.tx.query(
            "SELECT address, expires_at, last_history_id FROM suppressions
             WHERE removed_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?1",
            params![now],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        for (address, expires_at, previous) in &due {
            self.record_expiry(address, expires_at, *previous)?;
        }
        Ok(due.len() as u64)
    }

    /// Takes an entry whose expiry `expires_at` is due off the list (see `take_off_list`).
    fn record_expiry(
        &mut self,
        address: &str,
        expires_at: &str,
        previous: Option<i64>,
    ) -> Result<i64> {
        self.take_off_list(address, expires_at, "expire", "expiry", None, previous)
    }

    /// Takes an address off the list at `at`: its history line (`action`, after `previous`),
    /// and the next point of the change sequence, so that an export of the changes carries
    /// it. Returns the line's id.
    fn take_off_list(
        &mut self,
        address: &str,
        at: &str,
        action: &str,
        actor: &str,
        note: Option<&str>,
        previous: Option<i64>,
    ) -> Result<i64> {
        let line = self.history(address, at, action, None, actor, None, note, previous)?;
        self.tx.execute(
            "UPDATE suppressions SET removed_at = ?2, updated_at = ?2,
                change_seq = (SELECT coalesce(max(change_seq), 0) + 1 FROM suppressions),
                last_history_id = ?3
             WHERE address = ?1",
            params![address, at, line],
        )?;
        Ok(line)
    }

    /// Writes a history line of `address`, after its line `previous`; returns the new
    /// line's id, for the suppression row to point at.
    #[allow(clippy::too_many_arguments)]
    fn history(
        &mut self,
        address: &str,
        at: &str,
        action: &str,
        reason: Option<&str>,
        actor: &str,
        report_id: Option<i64>,
        note: Option<&str>,
        previous: Option<i64>,
    ) -> Result<i64> {
        self.tx
            .insert_for_id(
                "INSERT INTO suppression_history
                    (address, at, action, reason, actor, report_id, note, previous_id)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    address, at, action, reason, actor, report_id, note, previous
                ],
            )?
            .context("a history line was not written")
    }

    /// Adds a send-log entry; returns false when it was there already (see `send_log`).
    pub fn add_send_log(&mut self, entry: &SendLogEntry, now: &str) -> Result<bool> {
        Ok(self.send_log(entry, now)? != SendLogChange::Known)
    }

    /// Adds a send-log entry, or merges it into the entry of the same send from another log
    /// (see `SendLogChange`).
    pub fn send_log(&mut self, entry: &SendLogEntry, now: &str) -> Result<SendLogChange> {
        let message_id = entry.message_id.as_deref().unwrap_or("");
        let id = entry.id.as_deref().unwrap_or("");
        if !message_id.is_empty() {
            // The same send (Message-ID and recipient) in another log: a Postfix log, which
            // has no id, campaign or source IP, and a CSV written by the mailer, which has
            // them. One row, with what either says: two would count the message twice in
            // the report's volumes. Entries with two different ids stay two.
            type Row = (i64, String, Option<String>, Option<String>, Option<String>);
            let before: Option<(Row, Option<String>)> = self.tx.query_opt(
                // The entry with this very id first: a store written before this merge may
                // hold the send twice (`''` and the id), and filling in the `''` one would
                // collide with the other.
                "SELECT rowid, id, campaign, list, source_ip, sent_at FROM send_log
                 WHERE message_id = ?1 AND message_id <> '' AND recipient = ?2
                   AND (id = '' OR ?3 = '' OR id = ?3)
                 ORDER BY (id = ?3) DESC
                 LIMIT 1",
                params![message_id, entry.recipient, id],
                |r| {
                    Ok((
                        (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?),
                        r.get(5)?,
                    ))
                },
            )?;
            if let Some(((rowid, old_id, campaign, list, source_ip), sent_at)) = before {
                let given = |value: &Option<String>| {
                    value
                        .as_deref()
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                };
                let new_id = if old_id.is_empty() {
                    id.to_string()
                } else {
                    old_id.clone()
                };
                let new_campaign = given(&campaign).or_else(|| given(&entry.campaign));
                let new_list = given(&list).or_else(|| given(&entry.list));
                let new_ip = given(&source_ip).or_else(|| given(&entry.source_ip));
                let new_sent_at = given(&sent_at).or_else(|| given(&entry.sent_at));
                let regrouped = new_campaign != given(&campaign)
                    || new_list != given(&list)
                    || new_ip != given(&source_ip);
                if !regrouped && new_id == old_id && new_sent_at == given(&sent_at) {
                    return Ok(SendLogChange::Known);
                }
                let counted = self.send_log_counted_up_to()?;
                // The report counted this row under no IP, campaign or day: its counts move
                // to its new ones (not the whole send log counted again).
                let recount = rowid <= counted && (regrouped || new_sent_at != given(&sent_at));
                if recount {
                    report::adjust_send_log_volume(self.tx, -1, "rowid = ?1", params![rowid])?;
                }
                self.tx.execute(
                    "UPDATE send_log SET id = ?2, campaign = ?3, list = ?4, source_ip = ?5,
                     sent_at = ?6 WHERE rowid = ?1",
                    params![rowid, new_id, new_campaign, new_list, new_ip, new_sent_at],
                )?;
                if recount {
                    report::adjust_send_log_volume(self.tx, 1, "rowid = ?1", params![rowid])?;
                }
                if new_campaign != given(&campaign)
                    || new_list != given(&list)
                    || new_sent_at != given(&sent_at)
                {
                    // Complaints the report placed in this send were counted under no campaign
                    // (or list, or sent day): counted again by the next report, under the
                    // row's new ones.
                    self.tx.execute(
                        "UPDATE complaint_facts SET placed = -1
                         WHERE send_rowid = ?1 AND send_rowid IS NOT NULL AND placed = 1",
                        params![rowid],
                    )?;
                }
                if new_id != old_id {
                    // Complaints the report could not place, looked up again: one may carry
                    // this id (its CFBL-Feedback-ID), which no row had.
                    self.tx.execute(
                        "UPDATE complaint_facts SET placed = -1 WHERE placed <= 0 AND placed = 0",
                        params![],
                    )?;
                }
                return Ok(SendLogChange::Merged);
            }
        }
        let changed = self.tx.execute(
            "INSERT INTO send_log (message_id, recipient, id, campaign, list, source_ip, sent_at, imported_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT DO NOTHING",
            params![
                entry.message_id.as_deref().unwrap_or(""),
                entry.recipient,
                entry.id.as_deref().unwrap_or(""),
                entry.campaign,
                entry.list,
                entry.source_ip,
                entry.sent_at,
                now
            ],
        )?;
        Ok(if changed > 0 {
            SendLogChange::Added
        } else {
            SendLogChange::Known
        })
    }

    /// Marks (or clears) that send-log entries were committed since the stored complaints
    /// without a complainant were last attributed again: a run killed between the two (the
    /// entries are committed slice by slice, then `reattribute` runs) leaves it set, and the
    /// next import attributes them again even when it adds nothing.
    pub fn set_reattribution_pending(&mut self) -> Result<()> {
        // A count, not a flag: `clear_reattribution_pending` clears only what it read before
        // it attributed, so that entries another host commits meanwhile (PostgreSQL) keep
        // their mark.
        self.tx.execute(
            "INSERT INTO report_progress (name, value) VALUES ('reattribution_pending', 1)
             ON CONFLICT (name) DO UPDATE SET value = report_progress.value + 1",
            params![],
        )?;
        Ok(())
    }

    /// Clears the mark `set_reattribution_pending` left, when it is still what `seen` says
    /// (read by `Store::reattribution_pending` before the attribution began).
    pub fn clear_reattribution_pending(&mut self, seen: i64) -> Result<()> {
        self.tx.execute(
            "UPDATE report_progress SET value = 0
             WHERE name = 'reattribution_pending' AND value = ?1",
            params![seen],
        )?;
        Ok(())
    }

    /// Whether an address is on the list now (neither removed nor expired at `now`).
    pub fn is_suppressed(&self, address: &str, now: &str) -> Result<bool> {
        self.tx.exists(
            &format!("SELECT 1 FROM suppressions WHERE address = ?1 AND {ON_THE_LIST}"),
            params![address, now],
        )
    }

    /// Records that `fbl run` has told of the quarantine up to this id.
    pub fn set_quarantine_told(&mut self, id: i64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO report_progress (name, value) VALUES ('quarantine_told', ?1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            params![id],
        )?;
        Ok(())
    }

    /// The send-log row up to which the report step has counted (`send_log_volume`); 0
    /// before its first count.
    fn send_log_counted_up_to(&self) -> Result<i64> {
        Ok(self
            .tx
            .query_opt(
                "SELECT value FROM report_progress WHERE name = 'send_log_rowid'",
                params![],
                |r| r.get(0),
            )?
            .unwrap_or(0))
    }

    /// Deletes send-log entries sent (or, without a send time, imported) before `cutoff`,
    /// and takes those the report step had counted out of its counts (`send_log_volume`),
    /// in the same transaction: a prune leaves the counts as a full count would make them,
    /// without one.
    pub fn prune_send_log(&mut self, cutoff: &str) -> Result<u64> {
        let counted = self.send_log_counted_up_to()?;
        // Two conditions, each read through the index send_log_by_sent_at: as one,
        // `coalesce(sent_at, imported_at) < ?1`, it read the whole send log at every run.
        let selections = ["sent_at < ?1", "sent_at IS NULL AND imported_at < ?1"];
        // Taking rows out costs more per row than counting them: past about a third of the
        // send log (the retention lowered), the report step counts what is left instead.
        let mut take_out = counted > 0;
        if take_out {
            let mut due: i64 = 0;
            for selection in selections {
                let rows: i64 = self.tx.value(
                    &format!("SELECT count(*) FROM send_log WHERE {selection} AND rowid <= ?2"),
                    params![cutoff, counted],
                )?;
                due += rows;
            }
            let span: i64 = self.tx.value(
                "SELECT coalesce(max(rowid) - min(rowid) + 1, 0) FROM send_log",
                params![],
            )?;
            if due * 3 > span {
                take_out = false;
                self.tx.execute(
                    "INSERT INTO report_progress (name, value) VALUES ('send_log_pruned', 1)
                     ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                    params![],
                )?;
            }
        }
        let mut pruned = 0;
        for selection in selections {
            if take_out {
                report::adjust_send_log_volume(
                    self.tx,
                    -1,
                    &format!("{selection} AND rowid <= ?2"),
                    params![cutoff, counted],
                )?;
            }
            pruned += self.tx.execute(
                &format!("DELETE FROM send_log WHERE {selection}"),
                params![cutoff],
            )?;
        }
        if pruned > 0 && take_out {
            // The highest rows counted went: the report step's mark comes down to the highest
            // left, so that a row given a freed rowid again (SQLite) is counted as new.
            let last: i64 = self
                .tx
                .value("SELECT coalesce(max(rowid), 0) FROM send_log", params![])?;
            if last < counted {
                self.tx.execute(
                    "UPDATE report_progress SET value = ?1 WHERE name = 'send_log_rowid'",
                    params![last],
                )?;
            }
        }
        Ok(pruned)
    }

    /// The Postfix queue ids imported logs left open and that were seen at `since` or
    /// later, oldest first: for the import of the next log.
    pub fn postfix_open_queue_ids(&self, since: &str) -> Result<Vec<OpenQueueId>> {
        self.tx.query(
            "SELECT host, queue_id, message_id, last_seen FROM postfix_open_queue_ids
             WHERE last_seen >= ?1 ORDER BY last_seen, host, queue_id",
            params![since],
            |r| {
                Ok(OpenQueueId {
                    host: r.get(0)?,
                    queue_id: r.get(1)?,
                    message_id: r.get(2)?,
                    last_seen: r.get(3)?,
                })
            },
        )
    }

    /// Records the Postfix queue ids open after a log: those of `carried` (what the log was
    /// read with) no longer in `open` were removed and are forgotten, those of `open` kept;
    /// and every queue id last seen before `forget_before` is forgotten.
    pub fn set_postfix_open_queue_ids(
        &mut self,
        carried: &[OpenQueueId],
        open: &[OpenQueueId],
        forget_before: &str,
    ) -> Result<()> {
        let key = |id: &OpenQueueId| (id.host.clone(), id.queue_id.clone());
        let before: std::collections::HashMap<_, _> =
            carried.iter().map(|id| (key(id), id)).collect();
        let after: std::collections::HashSet<_> = open.iter().map(key).collect();
        for id in carried.iter().filter(|id| !after.contains(&key(id))) {
            self.tx.execute(
                "DELETE FROM postfix_open_queue_ids WHERE host = ?1 AND queue_id = ?2",
                params![id.host, id.queue_id],
            )?;
        }
        for id in open {
            if before.get(&key(id)) == Some(&id) || id.last_seen.as_str() < forget_before {
                continue;
            }
            self.tx.execute(
                "INSERT INTO postfix_open_queue_ids (host, queue_id, message_id, last_seen)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (host, queue_id) DO UPDATE SET message_id = excluded.message_id,
                    last_seen = excluded.last_seen",
                params![id.host, id.queue_id, id.message_id, id.last_seen],
            )?;
        }
        self.tx.execute(
            "DELETE FROM postfix_open_queue_ids WHERE last_seen < ?1",
            params![forget_before],
        )?;
        Ok(())
    }

    /// Records that an output was written: when, up to which change, in which format, and
    /// how many suppressed addresses it left out.
    pub fn set_export_state(
        &mut self,
        name: &str,
        at: &str,
        change_seq: i64,
        format: &str,
        left_out: Option<u64>,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO export_state (name, last_exported_at, last_change_seq, format, left_out)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (name) DO UPDATE SET last_exported_at = excluded.last_exported_at,
                last_change_seq = excluded.last_change_seq, format = excluded.format,
                left_out = excluded.left_out",
            params![name, at, change_seq, format, left_out],
        )?;
        Ok(())
    }

    /// Forgets what was kept of an output under `name` (a state another name took over).
    pub fn delete_export_state(&mut self, name: &str) -> Result<()> {
        self.tx
            .execute("DELETE FROM export_state WHERE name = ?1", params![name])?;
        Ok(())
    }
}

/// A person's removal (`fbl suppress remove`) that keeps an address off the list: when, and
/// the reason they gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRemoval {
    pub at: String,
    pub why: Option<String>,
}

/// A removal of an address by a person: a `remove` line of its history.
struct Removal {
    at: String,
    actor: String,
    why: Option<String>,
}

/// Whether time `a` is before time `b` (RFC 3339; compared as text when either is not).
fn earlier(a: &str, b: &str) -> bool {
    match (
        chrono::DateTime::parse_from_rfc3339(a),
        chrono::DateTime::parse_from_rfc3339(b),
    ) {
        (Ok(a), Ok(b)) => a < b,
        _ => a < b,
    }
}

/// How strong a reason is, without letter case (a reason kept before fbl folded the case of
/// its own reasons, `Complaint`, is a complaint).
fn reason_rank(reason: &str) -> u8 {
    [
        ("complaint", 4),
        ("unsubscribe", 3),
        ("manual", 2),
        ("bounce", 1),
    ]
    .iter()
    .find(|(known, _)| reason.eq_ignore_ascii_case(known))
    .map_or(0, |(_, rank)| *rank)
}

fn suppression_from_row(row: &Row) -> Result<Suppression> {
    Ok(Suppression {
        address: row.get(0)?,
        reason: row.get(1)?,
        source: row.get(2)?,
        first_seen: row.get(3)?,
        last_seen: row.get(4)?,
        count: row.get::<i64>(5)? as u64,
        expires_at: row.get(6)?,
        removed_at: row.get(7)?,
    })
}

fn quarantine_from_row(row: &Row) -> Result<QuarantineEntry> {
    Ok(QuarantineEntry {
        id: row.get(0)?,
        sha256: hex::encode(row.get::<Vec<u8>>(1)?),
        quarantined_at: row.get(2)?,
        origin: row.get(3)?,
        reason: row.get(4)?,
        size: row.get::<i64>(5)? as u64,
        released_at: row.get(6)?,
        report_id: row.get(7)?,
        dismissed: row.get(8)?,
    })
}

impl Store {
    /// Applies the migrations the store has not had, each in its own transaction. On
    /// PostgreSQL an advisory lock keeps two hosts from migrating at once.
    fn migrate(&self) -> Result<()> {
        let migrations: &[(&str, &str)] = match self.db.dialect() {
            Dialect::Sqlite => &MIGRATIONS,
            Dialect::Postgres => &pg::MIGRATIONS,
        };
        if self.db.dialect() == Dialect::Postgres {
            self.db.batch(
                "SELECT pg_advisory_lock(7236223434829018369);
                 CREATE TABLE IF NOT EXISTS fbl_schema (
                     version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
            )?;
        }
        // Then the columns a development build's store may lack (store/db.rs, `REPAIRS`).
        let result = self
            .apply_migrations(migrations)
            .and_then(|()| self.repair_skipped_columns());
        if self.db.dialect() == Dialect::Postgres {
            self.db
                .batch("SELECT pg_advisory_unlock(7236223434829018369)")?;
        }
        result
    }

    fn apply_migrations(&self, migrations: &[(&str, &str)]) -> Result<()> {
        let version = self.schema_version()?;
        if version as usize > migrations.len() {
            let readable =
                matches!(self.read_compatible_from(), Ok(Some(from)) if from <= SCHEMA_VERSION);
            bail!(
                "the store is at schema version {version}, newer than this fbl knows ({}); upgrade \
                 fbl{}",
                migrations.len(),
                if readable {
                    " to change it (commands that only read it, such as `fbl store info`, \
                     `fbl suppress check` and `fbl report`, work with this one)"
                } else {
                    ""
                }
            );
        }
        for (index, (name, sql)) in migrations.iter().enumerate().skip(version as usize) {
            let number = (index + 1) as i64;
            let record = match self.db.dialect() {
                Dialect::Sqlite => format!("PRAGMA user_version = {number};"),
                Dialect::Postgres => format!(
                    "INSERT INTO fbl_schema (version, name) VALUES ({number}, '{}');",
                    name.replace('\'', "")
                ),
            };
            self.db
                .batch(&format!("BEGIN;\n{sql}"))
                .and_then(|()| self.after_migration(name))
                .and_then(|()| self.db.batch(&format!("{record}\nCOMMIT;")))
                .inspect_err(|_| {
                    let _ = self.db.batch("ROLLBACK");
                })
                .with_context(|| format!("migration {name} failed"))?;
        }
        Ok(())
    }

    /// What a migration needs of fbl's own code, in its transaction, after its SQL.
    fn after_migration(&self, name: &str) -> Result<()> {
        if name == "0014_report_content_key.sql" {
            self.key_stored_reports()?;
        }
        // Matched by its name, not its number: the number may change when migrations merge.
        if name.ends_with("_idn_canonical.sql") {
            self.canonical_stored_addresses(true)?;
        }
        if name.ends_with("_local_part_case.sql") {
            self.canonical_stored_addresses(false)?;
        }
        if name.ends_with("_quarantine_content_key.sql") {
            self.key_open_quarantine()?;
        }
        Ok(())
    }

    /// Gives every stored report its content key, reading its raw message, oldest first. A
    /// report whose key an older one has already is a copy stored before version 14: it
    /// keeps none, and stays as it was (reports are never deleted).
    fn key_stored_reports(&self) -> Result<()> {
        const CHUNK: i64 = 1_000;
        let mut after = 0i64;
        loop {
            let rows: Vec<(i64, Vec<u8>)> = self.db.query(
                "SELECT id, raw_packed FROM reports WHERE id > ?1 ORDER BY id LIMIT ?2",
                params![after, CHUNK],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let Some(&(last, _)) = rows.last() else {
                return Ok(());
            };
            for (id, packed) in rows {
                // A raw message that no longer unpacks (damaged outside fbl) keeps no key,
                // as a copy does: the store must still open, and the row is shown as it is.
                let Ok(raw) = packed::unpack(&packed) else {
                    continue;
                };
                let key = crate::content_key::content_key(&raw);
                self.db.execute(
                    "UPDATE reports SET content_key = ?2 WHERE id = ?1
                     AND NOT EXISTS (SELECT 1 FROM reports WHERE content_key = ?2)",
                    params![id, &key[..]],
                )?;
            }
            after = last;
        }
    }
}

impl Store {
    /// Gives every open quarantine row its content key, reading the message kept. The head
    /// of an oversized message (fewer bytes kept than its size) keeps none, as does a row
    /// whose bytes no longer unpack (damaged outside fbl: the store must still open).
    fn key_open_quarantine(&self) -> Result<()> {
        const CHUNK: i64 = 1_000;
        let mut after = 0i64;
        loop {
            let rows: Vec<(i64, Vec<u8>, i64)> = self.db.query(
                "SELECT id, raw_packed, raw_size FROM quarantine
                 WHERE id > ?1 AND released_at IS NULL ORDER BY id LIMIT ?2",
                params![after, CHUNK],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let Some(&(last, _, _)) = rows.last() else {
                return Ok(());
            };
            for (id, packed, size) in rows {
                let Ok(raw) = packed::unpack(&packed) else {
                    continue;
                };
                if raw.len() as i64 != size {
                    continue;
                }
                let key = crate::content_key::content_key(&raw);
                self.db.execute(
                    "UPDATE quarantine SET content_key = ?2 WHERE id = ?1",
                    params![id, &key[..]],
                )?;
            }
            after = last;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mount_point_is_read_as_mountinfo_escapes_it() {
        assert_eq!(
            unescape_mount_point("/srv/my\\040store/fbl.sqlite"),
            "/srv/my store/fbl.sqlite"
        );
        assert_eq!(unescape_mount_point("/a\\011b\\134c"), "/a\tb\\c");
        // Not an escape: kept as it is, never a panic.
        assert_eq!(unescape_mount_point("/x\\777y\\04"), "/x\\777y\\04");
        assert_eq!(unescape_mount_point("/plain"), "/plain");
    }

    /// A store's schema version is the number of migrations it has had, so each migration
    /// must sit at the position its number says, on both engines, and every file must be
    /// listed: a renumbered, missing or misplaced one would be skipped or applied twice.
    #[test]
    fn migrations_are_listed_at_the_position_their_number_says() {
        for (engine, migrations) in [("sqlite", &MIGRATIONS), ("postgres", &pg::MIGRATIONS)] {
            for (index, (name, _)) in migrations.iter().enumerate() {
                assert!(
                    name.starts_with(&format!("{:04}_", index + 1)),
                    "{engine} migration {name} is at position {}",
                    index + 1
                );
            }
            let folder = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("schemas")
                .join(engine);
            let mut files: Vec<String> = std::fs::read_dir(&folder)
                .unwrap()
                .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            files.sort();
            let listed: Vec<&str> = migrations.iter().map(|(name, _)| *name).collect();
            assert_eq!(files, listed, "{engine}: files and the list differ");
            for (name, sql) in migrations.iter() {
                let file = std::fs::read_to_string(folder.join(name)).unwrap();
                assert_eq!(
                    &file, sql,
                    "{engine} migration {name} includes another file"
                );
            }
        }
    }
}
