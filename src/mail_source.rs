//! Local mail inputs: single message files, folders of `.eml` files, Maildirs (`new/` and
//! `cur/`), mbox files and standard input. Messages are read one at a time, so a large
//! mbox or Maildir is never held in memory whole; folders are listed in chunks of at most
//! `LISTING_CHUNK` names, so neither is the list of their files.

use anyhow::{Context, Result};
use std::collections::{BTreeSet, VecDeque};
use std::ffi::OsStr;
use std::fs::{File, ReadDir};
use std::io::{BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// One message read from an input.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Where it came from: a path, `PATH#N` for the Nth message of an mbox, or `-`.
    pub origin: String,
    /// The bytes; for an oversized message only its first `head_bytes(max_bytes)`.
    pub raw: Vec<u8>,
    /// Set when the message is bigger than the limit: its full size.
    pub oversized: Option<u64>,
}

/// How much of an oversized message is kept in quarantine, at most.
pub const HEAD_BYTES: usize = 64 * 1024;

/// How much of a message bigger than `max_bytes` is kept in quarantine: its first
/// `HEAD_BYTES`, or its first `max_bytes` when that is less, so that no more than the limit
/// is ever kept.
pub fn head_bytes(max_bytes: u64) -> usize {
    usize::try_from(max_bytes).map_or(HEAD_BYTES, |max| max.min(HEAD_BYTES))
}

/// The most file names of one folder held in memory at a time (about 60 bytes each).
pub const LISTING_CHUNK: usize = 4096;

enum Pending {
    File(PathBuf),
    /// The message files of a folder given as input, walked lazily (`FolderWalk`).
    Folder {
        walk: Box<FolderWalk>,
        /// Message files counted when the inputs were opened and not yet yielded.
        left: u64,
    },
    Mbox(Box<MboxReader>),
}

/// Reads every message from a list of paths (`-` is standard input), in a stable order:
/// the paths as given; inside a folder, the order of `FolderWalk` (by name for a folder of
/// up to `LISTING_CHUNK` files).
pub struct Inputs {
    pending: VecDeque<Pending>,
    max_bytes: u64,
    stdin_done: bool,
}

impl Inputs {
    /// Checks the paths now and reads lazily. A folder is walked once now to count its
    /// message files (for `known_total`; no names are kept), and listed again chunk by
    /// chunk as it is read (`FolderWalk`), so memory does not grow with its size.
    pub fn open(paths: &[PathBuf], max_bytes: u64) -> Result<Inputs> {
        Inputs::open_chunked(paths, max_bytes, LISTING_CHUNK)
    }

    fn open_chunked(paths: &[PathBuf], max_bytes: u64, chunk: usize) -> Result<Inputs> {
        let mut pending = VecDeque::new();
        for path in paths {
            if path.as_os_str() == "-" {
                pending.push_back(Pending::File(path.clone()));
                continue;
            }
            let metadata = std::fs::metadata(path)
                .with_context(|| format!("cannot read input {}", path.display()))?;
            if metadata.is_dir() {
                // Fails, as the reading would, when a folder inside cannot be listed.
                let mut left = 0u64;
                for file in FolderWalk::new(path, chunk) {
                    file?;
                    left += 1;
                }
                pending.push_back(Pending::Folder {
                    walk: Box::new(FolderWalk::new(path, chunk)),
                    left,
                });
            } else if is_mbox(path)? {
                pending.push_back(Pending::Mbox(Box::new(MboxReader::open(path, max_bytes)?)));
            } else {
                pending.push_back(Pending::File(path.clone()));
            }
        }
        Ok(Inputs {
            pending,
            max_bytes,
            stdin_done: false,
        })
    }

    /// How many messages are left to read, when that is known without reading them: a file
    /// is one message, a folder as many as it had files when the inputs were opened, less
    /// those yielded since. An mbox is not counted (that would mean reading it), so inputs
    /// with one give `None`.
    pub fn known_total(&self) -> Option<u64> {
        self.pending
            .iter()
            .try_fold(0u64, |sum, pending| match pending {
                Pending::File(_) => Some(sum + 1),
                Pending::Folder { left, .. } => Some(sum + *left),
                Pending::Mbox(_) => None,
            })
    }

    fn read_file(&mut self, path: &Path) -> Result<Incoming> {
        if path.as_os_str() == "-" {
            if self.stdin_done {
                anyhow::bail!("standard input can be read only once");
            }
            self.stdin_done = true;
            return read_limited(std::io::stdin().lock(), "-".to_string(), self.max_bytes, 0)
                .context("cannot read standard input");
        }
        read_message(path, self.max_bytes, false)
            .with_context(|| format!("cannot read {}", path.display()))
    }
}

/// Reads a message file; the error is the file system's, to tell a file that is gone. A
/// file `found` in a folder (not named by a person) is read only when it is a regular file,
/// reached, if through a symbolic link, by a link of fbl's user or root: anyone who may
/// write to the folder could put there a FIFO (whose opening waits forever), a device
/// (`/dev/zero` never ends) or a link to a file only fbl's user may read (its first bytes
/// would be shown in a quarantine reason).
fn read_message(path: &Path, max_bytes: u64, found: bool) -> std::io::Result<Incoming> {
    let (file, size) = if found {
        open_found(path)?
    } else {
        let file = File::open(path)?;
        let size = file.metadata().map_or(0, |meta| meta.len());
        (file, size)
    };
    // The size read beforehand makes the buffer right at once: without it, reading starts
    // with small probing reads, then grows and copies the buffer.
    read_limited(file, path.display().to_string(), max_bytes, size)
}

impl Iterator for Inputs {
    type Item = Result<Incoming>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.pending.front_mut()? {
                Pending::File(_) => {
                    let Some(Pending::File(path)) = self.pending.pop_front() else {
                        unreachable!("the front was a file")
                    };
                    return Some(self.read_file(&path));
                }
                Pending::Folder { walk, left } => match walk.next() {
                    Some(Ok(path)) => {
                        *left = left.saturating_sub(1);
                        match read_message(&path, self.max_bytes, true) {
                            // Moved to `cur/` since `new/` was listed: read there.
                            Err(error)
                                if error.kind() == std::io::ErrorKind::NotFound
                                    && walk.expect_in_cur(&path) => {}
                            read => {
                                return Some(
                                    read.with_context(|| format!("cannot read {}", path.display())),
                                );
                            }
                        }
                    }
                    // A folder inside that could no longer be listed; the walk goes on.
                    Some(Err(error)) => return Some(Err(error)),
                    None => {
                        self.pending.pop_front();
                    }
                },
                Pending::Mbox(reader) => match reader.next() {
                    Some(item) => return Some(item),
                    None => {
                        self.pending.pop_front();
                    }
                },
            }
        }
    }
}

/// The file at `path`, found in a folder, opened for reading if it is a regular file that
/// fbl may read (see [`read_message`]), with its size as it was opened; an error that says
/// why not otherwise.
#[cfg(unix)]
fn open_found(path: &Path) -> std::io::Result<(File, u64)> {
    use std::io::{Error, ErrorKind};
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let refused = |why: String| Error::new(ErrorKind::InvalidInput, why);
    let not_a_file = || {
        refused(
            "not a regular file (a FIFO, a device or a socket, or a link to one): only files \
             are read in a folder"
                .to_string(),
        )
    };
    // Not blocking, so that a FIFO is not waited for (its opening would wait for a writer),
    // and not made the controlling terminal if it is one; what was opened is checked on the
    // descriptor. The usual case, a file, costs one `openat` and one `statx`: the name is
    // looked at by itself only when the opening fails, to say why or to follow a link.
    let flags = libc::O_NONBLOCK | libc::O_NOCTTY;
    let file = match File::options()
        .read(true)
        .custom_flags(flags | libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(file) => file,
        // A symbolic link (`ELOOP` under `O_NOFOLLOW`), a socket (`ENXIO`), or a real
        // failure (gone, not permitted): the name says which.
        Err(error) => {
            let Ok(metadata) = std::fs::symlink_metadata(path) else {
                return Err(error);
            };
            if !metadata.file_type().is_symlink() {
                if !metadata.is_file() {
                    return Err(not_a_file());
                }
                return Err(error);
            }
            if !crate::atomic_file::is_fbl_or_root(metadata.uid()) {
                let user = crate::atomic_file::euid();
                return Err(refused(format!(
                    "it is a symbolic link owned by uid {}, another user than fbl's (uid \
                     {user}) or root: not followed, it could lead to a file that user may not \
                     read",
                    metadata.uid()
                )));
            }
            File::options().read(true).custom_flags(flags).open(path)?
        }
    };
    let opened = file.metadata()?;
    if !opened.is_file() {
        return Err(not_a_file());
    }
    Ok((file, opened.len()))
}

#[cfg(not(unix))]
fn open_found(path: &Path) -> std::io::Result<(File, u64)> {
    let file = File::open(path)?;
    let size = file.metadata().map_or(0, |meta| meta.len());
    Ok((file, size))
}

/// How much of a stream (standard input, a device) beyond `max_bytes` is counted for the
/// size said of an oversized message; one that goes on longer is an error, not read.
const STREAM_REST_LIMIT: u64 = 256 * 1024 * 1024;

/// Reads up to `max_bytes` (and counts the rest); `size` is the expected size, 0 if unknown.
fn read_limited(
    reader: impl Read,
    origin: String,
    max_bytes: u64,
    size: u64,
) -> std::io::Result<Incoming> {
    // One byte more than expected, so that the end shows without a probing read.
    let mut raw = Vec::with_capacity(size.min(max_bytes) as usize + 1);
    let mut limited = reader.take(max_bytes.saturating_add(1));
    limited.read_to_end(&mut raw)?;
    if raw.len() as u64 > max_bytes {
        // A regular file's size is known: a sparse terabyte is not read to its end. A stream
        // is counted up to a limit: `/dev/zero` never ends.
        let size = if size >= raw.len() as u64 {
            size
        } else {
            let mut rest = limited.into_inner().take(STREAM_REST_LIMIT + 1);
            let extra = std::io::copy(&mut rest, &mut std::io::sink())?;
            if extra > STREAM_REST_LIMIT {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "it goes on for more than {} MiB past the limit of {max_bytes} bytes \
                         ([limits] max_message_bytes): not read (an endless stream, such as \
                         /dev/zero?)",
                        STREAM_REST_LIMIT >> 20
                    ),
                ));
            }
            raw.len() as u64 + extra
        };
        raw.truncate(head_bytes(max_bytes));
        return Ok(Incoming {
            origin,
            raw,
            oversized: Some(size),
        });
    }
    Ok(Incoming {
        origin,
        raw,
        oversized: None,
    })
}

/// The message files below a folder given as input, found lazily: a Maildir's `new/` then
/// its `cur/` (every regular file not hidden), or every `.eml` file below a plain folder,
/// not hidden, with a Maildir found inside read as a Maildir at its place.
///
/// `new/` comes first because mail clients move messages from `new/` to `cur/` (adding
/// `:2,` and flags to the name), never back: a message moved during the walk is found in
/// one or the other. One listed in `new/` but gone when it is read is expected in `cur/`,
/// which is listed later (`expect_in_cur`): it is read there, and it is an error only if
/// `cur/` does not list it either. One moved after it was read is read again from `cur/`
/// (the store knows it by its digest: a duplicate).
///
/// Order: each folder is read through one `read_dir` stream, in chunks of at most `chunk`
/// names in the order the file system gives them. Each chunk is sorted by name and walked
/// before the next is read, a subfolder being walked whole at its place in its chunk. A
/// folder of at most `chunk` entries that count (message files, and subfolders of a plain
/// folder) is therefore read in name order; a larger one in sorted runs of `chunk`. The
/// order is the same every time for an unchanged folder (a file system lists an unchanged
/// directory in the same order), and memory is one chunk per level of nesting, whatever
/// the number of files, plus the names of the messages expected in `cur/`.
///
/// Keeping one stream per folder, rather than reopening it for each chunk, means that every
/// entry that stays in place during the walk is yielded exactly once (POSIX `readdir`); an
/// entry added or removed meanwhile may or may not be. A file removed after its chunk was
/// read is still yielded, and reading it fails, unless it is a message of a Maildir's
/// `new/`, expected in `cur/`.
struct FolderWalk {
    chunk: usize,
    /// The folders being walked, innermost last.
    stack: Vec<Listing>,
}

/// One folder of a walk, listed a chunk at a time.
struct Listing {
    folder: PathBuf,
    /// A Maildir's `cur/` or `new/`: every regular file not hidden. Otherwise a plain
    /// folder: its `.eml` files and subfolders, not hidden.
    maildir_part: bool,
    /// In a Maildir's `cur/`: the unique names (before the `:`) of messages listed in `new/`
    /// but gone when read, most likely moved here. Each is crossed off when this folder
    /// lists it; one never listed is an error once the listing ends.
    expected: BTreeSet<Box<[u8]>>,
    /// `None` until the first chunk is read.
    entries: Option<ReadDir>,
    /// What is left of the chunk being walked: names, sorted, and whether each is a
    /// subfolder.
    chunk: std::vec::IntoIter<(Box<OsStr>, bool)>,
}

impl FolderWalk {
    fn new(folder: &Path, chunk: usize) -> FolderWalk {
        let mut walk = FolderWalk {
            chunk: chunk.max(1),
            stack: Vec::new(),
        };
        walk.enter(folder.to_path_buf());
        walk
    }

    fn enter(&mut self, folder: PathBuf) {
        if is_maildir(&folder) {
            // The last pushed is walked first: `new/`, then `cur/`.
            for sub in ["cur", "new"] {
                self.stack.push(Listing::new(folder.join(sub), true));
            }
        } else {
            self.stack.push(Listing::new(folder, false));
        }
    }

    /// Called when `path`, just yielded, is gone: when it was in a Maildir's `new/`, its
    /// sibling `cur/` (below it on the stack, walked after it) now expects it, and true.
    fn expect_in_cur(&mut self, path: &Path) -> bool {
        let (Some([cur, new]), Some(name)) = (self.stack.last_chunk_mut(), path.file_name()) else {
            return false;
        };
        let in_new = new.maildir_part
            && new.folder.ends_with("new")
            && path.parent() == Some(new.folder.as_path())
            && cur.maildir_part
            && cur.folder.parent() == new.folder.parent()
            && cur.folder.ends_with("cur");
        if in_new {
            cur.expected
                .insert(unique_name(name.as_encoded_bytes()).into());
        }
        in_new
    }
}

/// What names a Maildir message wherever it is: its file name up to the first `:`.
fn unique_name(name: &[u8]) -> &[u8] {
    name.split(|&b| b == b':').next().unwrap_or(name)
}

impl Iterator for FolderWalk {
    type Item = Result<PathBuf>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let listing = self.stack.last_mut()?;
            if let Some((name, is_folder)) = listing.chunk.next() {
                let path = listing.folder.join(&*name);
                if is_folder {
                    self.enter(path);
                    continue;
                }
                return Some(Ok(path));
            }
            match listing.read_chunk(self.chunk) {
                Ok(true) => {}
                Ok(false) => {
                    if let Some(unique) = listing.expected.pop_first() {
                        let cur = &listing.folder;
                        let new = cur.with_file_name("new");
                        return Some(Err(anyhow::anyhow!(
                            "cannot read {}: it vanished from new/ and {} does not hold it",
                            new.join(OsStr::from_bytes(&unique)).display(),
                            cur.display()
                        )));
                    }
                    self.stack.pop();
                }
                Err(error) => {
                    self.stack.pop();
                    return Some(Err(error));
                }
            }
        }
    }
}

impl Listing {
    fn new(folder: PathBuf, maildir_part: bool) -> Listing {
        Listing {
            folder,
            maildir_part,
            expected: BTreeSet::new(),
            entries: None,
            chunk: Vec::new().into_iter(),
        }
    }

    /// Reads and sorts the next chunk of at most `size` names; false when none are left.
    fn read_chunk(&mut self, size: usize) -> Result<bool> {
        let entries = match &mut self.entries {
            Some(entries) => entries,
            None => {
                // A Maildir's `cur/` or `new/` that is not there holds nothing.
                if self.maildir_part && !self.folder.is_dir() {
                    return Ok(false);
                }
                let entries = std::fs::read_dir(&self.folder)
                    .with_context(|| format!("cannot list {}", self.folder.display()))?;
                self.entries.insert(entries)
            }
        };
        let mut names = Vec::new();
        // An entry that cannot be read is skipped; after an error the stream ends.
        for entry in entries.by_ref().filter_map(|e| e.ok()) {
            let kept = if self.maildir_part {
                let file = maildir_file(&entry);
                if let Some((name, _)) = &file
                    && !self.expected.is_empty()
                {
                    self.expected.remove(unique_name(name.as_encoded_bytes()));
                }
                file
            } else {
                eml_file_or_folder(&entry)
            };
            if let Some(kept) = kept {
                names.push(kept);
                if names.len() == size {
                    break;
                }
            }
        }
        if names.is_empty() {
            return Ok(false);
        }
        names.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        self.chunk = names.into_iter();
        Ok(true)
    }
}

/// In a Maildir's `cur/` or `new/`: a regular file, not hidden.
fn maildir_file(entry: &std::fs::DirEntry) -> Option<(Box<OsStr>, bool)> {
    if !entry.file_type().is_ok_and(|t| t.is_file()) {
        return None;
    }
    let name = entry.file_name().into_boxed_os_str();
    (!name.as_encoded_bytes().starts_with(b".")).then_some((name, false))
}

/// The files below a plain folder given as input that a walk does not read (not named
/// `*.eml`, not hidden, not in a Maildir): how many, and the first few paths. For a person
/// who gave a folder of reports saved as `.txt` or `.msg` and saw nothing happen.
pub fn files_not_read(folder: &Path) -> (u64, Vec<PathBuf>) {
    const SHOWN: usize = 3;
    const LOOKED_AT: usize = 100_000;
    let mut count = 0u64;
    let mut shown = Vec::new();
    let mut folders = vec![folder.to_path_buf()];
    let mut looked_at = 0;
    while let Some(folder) = folders.pop() {
        if is_maildir(&folder) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            looked_at += 1;
            if looked_at > LOOKED_AT {
                return (count, shown);
            }
            if entry.file_name().as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let path = entry.path();
            match entry.file_type() {
                Ok(kind) if kind.is_dir() => folders.push(path),
                Ok(kind) if kind.is_file() && eml_file_or_folder(&entry).is_none() => {
                    count += 1;
                    if shown.len() < SHOWN {
                        shown.push(path);
                    }
                }
                _ => {}
            }
        }
    }
    (count, shown)
}

/// In a plain folder: a subfolder (true) or an `.eml` file (false), not hidden.
fn eml_file_or_folder(entry: &std::fs::DirEntry) -> Option<(Box<OsStr>, bool)> {
    let name = entry.file_name();
    if name.to_str().is_some_and(|n| n.starts_with('.')) {
        return None;
    }
    let path = entry.path();
    // A link of another user's to a folder is not walked (reading it, as an `.eml` file,
    // says why).
    if path.is_dir() && !foreign_link(entry) {
        return Some((name.into_boxed_os_str(), true));
    }
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("eml"))
        .then(|| (name.into_boxed_os_str(), false))
}

/// Whether an entry is a symbolic link owned by another user than fbl's and root.
#[cfg(unix)]
fn foreign_link(entry: &std::fs::DirEntry) -> bool {
    use std::os::unix::fs::MetadataExt;
    entry.file_type().is_ok_and(|t| t.is_symlink())
        && entry
            .metadata()
            .is_ok_and(|m| !crate::atomic_file::is_fbl_or_root(m.uid()))
}

#[cfg(not(unix))]
fn foreign_link(_entry: &std::fs::DirEntry) -> bool {
    false
}

pub fn is_maildir(folder: &Path) -> bool {
    folder.join("cur").is_dir() && folder.join("new").is_dir()
}

pub(crate) fn is_mbox(path: &Path) -> Result<bool> {
    let mut head = [0u8; 5];
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let n = file.read(&mut head)?;
    Ok(n == 5 && &head == b"From ")
}

/// Whether a line (after a blank one) starts a new message of an mbox: `From `, the envelope
/// sender, then a date with a time of day and a year, as every mbox writer puts it
/// (`From jane@example.com Thu Nov 19 08:00:00 2026`, with or without a zone). A body line
/// that an mboxo writer left unquoted, such as `From the desk of the editor`, does not cut
/// the message in two.
fn is_separator(line: &[u8]) -> bool {
    let Some(rest) = line.strip_prefix(b"From ") else {
        return false;
    };
    let Ok(rest) = std::str::from_utf8(rest) else {
        return false;
    };
    let mut words = rest.split_ascii_whitespace();
    if words.next().is_none() {
        return false;
    }
    let date: Vec<&str> = words.collect();
    let time = date.iter().any(|w| {
        let parts: Vec<&str> = w.split(':').collect();
        (parts.len() == 2 || parts.len() == 3)
            && parts
                .iter()
                .all(|p| (1..=2).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()))
    });
    let year = date
        .iter()
        .any(|w| w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()));
    time && year
}

/// Splits an mbox file (mboxrd or mboxo) into messages at `From ` lines (`is_separator`),
/// undoing `>From ` quoting.
struct MboxReader {
    reader: BufReader<File>,
    path: PathBuf,
    index: u64,
    max_bytes: u64,
    line: Vec<u8>,
    done: bool,
}

impl MboxReader {
    fn open(path: &Path, max_bytes: u64) -> Result<MboxReader> {
        let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        let mut reader = MboxReader {
            reader: BufReader::with_capacity(256 * 1024, file),
            path: path.to_path_buf(),
            index: 0,
            max_bytes,
            line: Vec::new(),
            done: false,
        };
        // The first line is the first separator.
        reader.read_line()?;
        Ok(reader)
    }

    fn read_line(&mut self) -> Result<bool> {
        self.line.clear();
        let n = self
            .reader
            .read_until(b'\n', &mut self.line)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        Ok(n > 0)
    }
}

impl Iterator for MboxReader {
    type Item = Result<Incoming>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        self.index += 1;
        let origin = format!("{}#{}", self.path.display(), self.index);
        let mut raw = Vec::new();
        let mut size: u64 = 0;
        let mut previous_blank = true;
        loop {
            match self.read_line() {
                Ok(true) => {}
                Ok(false) => {
                    self.done = true;
                    break;
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
            if previous_blank && is_separator(&self.line) {
                break;
            }
            let blank = self.line == b"\n" || self.line == b"\r\n";
            let mut line: &[u8] = &self.line;
            let stripped = line.iter().position(|&b| b != b'>');
            if let Some(p) = stripped
                && p > 0
                && line[p..].starts_with(b"From ")
            {
                line = &line[1..];
            }
            size += line.len() as u64;
            if size <= self.max_bytes {
                raw.extend_from_slice(line);
            }
            previous_blank = blank;
        }
        // The blank line before the next separator belongs to the mbox, not the message.
        if !self.done && raw.ends_with(b"\n\n") {
            raw.pop();
        } else if !self.done && raw.ends_with(b"\r\n\r\n") {
            raw.truncate(raw.len() - 2);
        }
        // Nothing read: the end of the file. (An oversized message whose first line is over
        // the limit keeps no bytes, and is still a message.)
        if size == 0 && self.done {
            return None;
        }
        if size > self.max_bytes {
            raw.truncate(head_bytes(self.max_bytes));
            return Some(Ok(Incoming {
                origin,
                raw,
                oversized: Some(size),
            }));
        }
        Some(Ok(Incoming {
            origin,
            raw,
            oversized: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_an_mbox_and_unquotes_from_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        std::fs::write(
            &path,
            b"From a@example.com Thu Jan  1 00:00:00 2026\nSubject: one\n\n>From the start\nbody\n\nFrom b@example.com Thu Jan  1 00:00:00 2026\nSubject: two\n\nx\n",
        )
        .unwrap();
        let messages: Vec<Incoming> = Inputs::open(&[path], 1 << 20)
            .unwrap()
            .map(|m| m.unwrap())
            .collect();
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].raw, b"Subject: one\n\nFrom the start\nbody\n");
        assert_eq!(messages[1].raw, b"Subject: two\n\nx\n");
        assert!(messages[1].origin.ends_with("box#2"));
    }

    #[test]
    fn an_unquoted_from_line_in_a_body_does_not_split_the_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("box");
        std::fs::write(
            &path,
            b"From a@example.com Thu Jan  1 00:00:00 2026\nSubject: one\n\nFrom the desk of the editor\nbody\n\nFrom b@example.com Thu Jan  1 00:00:00 +0000 2026\nSubject: two\n\nx\n\nFrom MAILER-DAEMON Fri Nov 20 9:05 2026\nSubject: three\n\ny\n",
        )
        .unwrap();
        let messages: Vec<Incoming> = Inputs::open(&[path], 1 << 20)
            .unwrap()
            .map(|m| m.unwrap())
            .collect();
        assert_eq!(messages.len(), 3);
        assert_eq!(
            messages[0].raw,
            b"Subject: one\n\nFrom the desk of the editor\nbody\n"
        );
        assert_eq!(messages[1].raw, b"Subject: two\n\nx\n");
        assert_eq!(messages[2].raw, b"Subject: three\n\ny\n");
        for line in [
            "From the desk of the editor\n",
            "From here on, 2026 is the year\n",
            "From 9:00 to 17:00\n",
            "From \n",
        ] {
            assert!(!is_separator(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn counts_files_and_folders_beforehand_but_not_an_mbox() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        for name in ["cur/1:2,S", "cur/2:2,", "new/3", "new/.hidden", "tmp/4"] {
            std::fs::write(maildir.join(name), b"Subject: x\n\nx\n").unwrap();
        }
        let one = dir.path().join("one.eml");
        std::fs::write(&one, b"Subject: one\n\nx\n").unwrap();
        let mbox = dir.path().join("box");
        std::fs::write(
            &mbox,
            b"From a@example.com Thu Jan  1 00:00:00 2026\nSubject: x\n\nx\n",
        )
        .unwrap();

        let mut inputs = Inputs::open(&[maildir.clone(), one.clone()], 1 << 20).unwrap();
        assert_eq!(inputs.known_total(), Some(4));
        inputs.next().unwrap().unwrap();
        assert_eq!(inputs.known_total(), Some(3), "what is left");
        assert_eq!(inputs.count(), 3);
        let inputs = Inputs::open(&[maildir, mbox, one], 1 << 20).unwrap();
        assert_eq!(inputs.known_total(), None);
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        assert_eq!(
            Inputs::open(&[empty], 1 << 20).unwrap().known_total(),
            Some(0)
        );
    }

    fn origins(inputs: Inputs) -> Vec<String> {
        inputs.map(|m| m.unwrap().origin).collect()
    }

    fn relative(origins: &[String], root: &Path) -> Vec<String> {
        let root = format!("{}/", root.display());
        origins
            .iter()
            .map(|o| o.strip_prefix(&root).unwrap().to_string())
            .collect()
    }

    #[test]
    fn reads_a_maildir_larger_than_a_chunk_once_each_in_a_stable_order() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("Maildir");
        for sub in ["cur", "new", "tmp", "cur/sub"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let mut expected = Vec::new();
        for i in 0..8 {
            let name = format!("new/{i:02}");
            std::fs::write(maildir.join(&name), format!("Subject: new {i}\n\nx\n")).unwrap();
            expected.push(name);
        }
        for i in 0..23 {
            let name = format!("cur/{i:02}:2,S");
            std::fs::write(maildir.join(&name), format!("Subject: {i}\n\nx\n")).unwrap();
            expected.push(name);
        }
        for name in ["cur/.hidden", "new/.hidden", "tmp/1", "cur/sub/1"] {
            std::fs::write(maildir.join(name), b"Subject: no\n\nx\n").unwrap();
        }
        #[cfg(unix)]
        std::os::unix::fs::symlink(maildir.join("cur/00:2,S"), maildir.join("new/link")).unwrap();

        let chunk = 4;
        let mut inputs =
            Inputs::open_chunked(std::slice::from_ref(&maildir), 1 << 20, chunk).unwrap();
        assert_eq!(inputs.known_total(), Some(31));
        let first = inputs.next().unwrap().unwrap().origin;
        assert_eq!(inputs.known_total(), Some(30), "what is left");
        let mut order = vec![first];
        for (n, message) in inputs.by_ref().enumerate() {
            order.push(message.unwrap().origin);
            if n == 10 {
                break;
            }
        }
        assert_eq!(inputs.known_total(), Some(31 - order.len() as u64));
        order.extend(origins(inputs));
        let order = relative(&order, &maildir);

        // Every message file once, `new/` before `cur/`.
        assert!(order[..8].iter().all(|p| p.starts_with("new/")));
        let mut sorted = order.clone();
        sorted.sort();
        let mut all = expected.clone();
        all.sort();
        assert_eq!(sorted, all);
        // Each chunk sorted by name.
        for part in [&order[..8], &order[8..]] {
            for run in part.chunks(chunk) {
                assert!(run.is_sorted(), "{run:?}");
            }
        }
        // The same order again.
        let again = Inputs::open_chunked(std::slice::from_ref(&maildir), 1 << 20, chunk).unwrap();
        assert_eq!(relative(&origins(again), &maildir), order);
        // A chunk as large as the folder: name order, as `open` gives.
        let whole = Inputs::open_chunked(std::slice::from_ref(&maildir), 1 << 20, 23).unwrap();
        assert_eq!(relative(&origins(whole), &maildir), expected);
        let open = Inputs::open(std::slice::from_ref(&maildir), 1 << 20).unwrap();
        assert_eq!(relative(&origins(open), &maildir), expected);
    }

    #[test]
    fn reads_a_tree_of_eml_files_in_chunks_with_subfolders_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("reports");
        for sub in ["b", "b/c", "d/cur", "d/new", "d/tmp", ".hidden", "e"] {
            std::fs::create_dir_all(root.join(sub)).unwrap();
        }
        let files = [
            "a1.eml",
            "a2.EML",
            "b/1.eml",
            "b/2.eml",
            "b/c/1.eml",
            "b3.eml",
            "c.eml",
            "d/new/2",
            "d/cur/1",
            "e/1.eml",
            "f.eml",
            "g.eml",
        ];
        for name in files {
            std::fs::write(root.join(name), b"Subject: x\n\nx\n").unwrap();
        }
        for name in [
            "notes.txt",
            ".h.eml",
            ".hidden/1.eml",
            "b/.2.eml",
            "d/tmp/1",
        ] {
            std::fs::write(root.join(name), b"Subject: no\n\nx\n").unwrap();
        }
        let open =
            |chunk| Inputs::open_chunked(std::slice::from_ref(&root), 1 << 20, chunk).unwrap();
        // One chunk: path order, as before chunks.
        let whole = open(LISTING_CHUNK);
        assert_eq!(whole.known_total(), Some(files.len() as u64));
        assert_eq!(relative(&origins(whole), &root), files);
        for chunk in [1, 2, 3, 5] {
            let inputs = open(chunk);
            assert_eq!(inputs.known_total(), Some(files.len() as u64));
            let order = relative(&origins(inputs), &root);
            let mut sorted = order.clone();
            sorted.sort();
            let mut expected = files.map(String::from).to_vec();
            expected.sort();
            assert_eq!(sorted, expected, "chunk {chunk}: each file once");
            // A subfolder is read whole, at one place.
            let b = order.iter().position(|p| p.starts_with("b/")).unwrap();
            assert!(
                order[b..b + 3].iter().all(|p| p.starts_with("b/")),
                "{order:?}"
            );
            assert_eq!(
                relative(&origins(open(chunk)), &root),
                order,
                "chunk {chunk}"
            );
        }
    }

    #[test]
    fn a_file_removed_after_its_chunk_was_listed_fails_to_read_and_the_rest_follows() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("reports");
        std::fs::create_dir(&folder).unwrap();
        for name in ["1.eml", "2.eml", "3.eml"] {
            std::fs::write(folder.join(name), b"Subject: x\n\nx\n").unwrap();
        }
        let mut inputs = Inputs::open(std::slice::from_ref(&folder), 1 << 20).unwrap();
        assert!(inputs.next().unwrap().unwrap().origin.ends_with("1.eml"));
        std::fs::remove_file(folder.join("2.eml")).unwrap();
        let error = inputs.next().unwrap().unwrap_err();
        assert!(
            format!("{error:#}")
                .starts_with(&format!("cannot read {}", folder.join("2.eml").display())),
            "{error:#}"
        );
        assert!(inputs.next().unwrap().unwrap().origin.ends_with("3.eml"));
        assert!(inputs.next().is_none());
    }

    /// A Maildir with these message files (paths below it) and an empty `tmp/`.
    fn maildir_with(root: &Path, files: &[&str]) -> PathBuf {
        let maildir = root.join("Maildir");
        for sub in ["cur", "new", "tmp"] {
            std::fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        for name in files {
            std::fs::write(maildir.join(name), format!("Subject: {name}\n\nx\n")).unwrap();
        }
        maildir
    }

    #[test]
    fn reads_a_maildirs_new_before_its_cur() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = maildir_with(dir.path(), &["cur/1:2,S", "cur/3:2,", "new/2", "new/4"]);
        let inputs = Inputs::open(std::slice::from_ref(&maildir), 1 << 20).unwrap();
        assert_eq!(
            relative(&origins(inputs), &maildir),
            ["new/2", "new/4", "cur/1:2,S", "cur/3:2,"]
        );
    }

    #[test]
    fn a_message_moved_to_cur_after_new_was_listed_is_read_there_once() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = maildir_with(dir.path(), &["new/1", "new/2", "new/3", "new/4:2,"]);
        let mut inputs = Inputs::open(std::slice::from_ref(&maildir), 1 << 20).unwrap();
        assert_eq!(inputs.known_total(), Some(4));
        // The first read lists `new/`; then a mail client moves three of its messages: one
        // with a flag set, one with none, one named with its info already.
        let mut order = vec![inputs.next().unwrap().unwrap()];
        std::fs::rename(maildir.join("new/2"), maildir.join("cur/2:2,S")).unwrap();
        std::fs::rename(maildir.join("new/3"), maildir.join("cur/3:2,")).unwrap();
        std::fs::rename(maildir.join("new/4:2,"), maildir.join("cur/4:2,")).unwrap();
        // Flags changed again before `cur/` is listed: the same message still.
        std::fs::rename(maildir.join("cur/2:2,S"), maildir.join("cur/2:2,RS")).unwrap();
        for message in inputs.by_ref() {
            order.push(message.unwrap());
        }
        let origins: Vec<String> = order.iter().map(|m| m.origin.clone()).collect();
        assert_eq!(
            relative(&origins, &maildir),
            ["new/1", "cur/2:2,RS", "cur/3:2,", "cur/4:2,"]
        );
        assert_eq!(order[1].raw, b"Subject: new/2\n\nx\n");
        assert_eq!(inputs.known_total(), Some(0));
    }

    #[test]
    fn a_message_gone_from_new_and_not_in_cur_is_an_error_that_says_it_vanished() {
        let dir = tempfile::tempdir().unwrap();
        let maildir = maildir_with(dir.path(), &["cur/9:2,S", "new/1", "new/2", "new/3"]);
        let mut inputs = Inputs::open(std::slice::from_ref(&maildir), 1 << 20).unwrap();
        assert!(inputs.next().unwrap().unwrap().origin.ends_with("new/1"));
        std::fs::remove_file(maildir.join("new/2")).unwrap();
        // The rest is read first: the message may still turn up in `cur/`.
        for expected in ["new/3", "cur/9:2,S"] {
            let origin = inputs.next().unwrap().unwrap().origin;
            assert_eq!(relative(&[origin], &maildir), [expected]);
        }
        let error = format!("{:#}", inputs.next().unwrap().unwrap_err());
        assert!(
            error.starts_with(&format!("cannot read {}", maildir.join("new/2").display()))
                && error.contains("vanished"),
            "{error}"
        );
        assert!(inputs.next().is_none());
    }

    /// A regular file's size is known from its metadata: the rest past the limit is not
    /// read (a sparse terabyte used to be read to its end). Here, reading past the first
    /// bytes fails.
    #[test]
    fn the_rest_of_an_oversized_file_is_not_read_when_its_size_is_known() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("read past the head"))
            }
        }
        let reader = std::io::Cursor::new(vec![b'a'; 2_000]).chain(Broken);
        let message = read_limited(reader, "big".into(), 1_000, 1 << 40).unwrap();
        assert_eq!(message.oversized, Some(1 << 40));
        assert_eq!(message.raw.len(), 1_000);
    }

    /// A stream of unknown size is counted up to a limit past `max_bytes`, then refused
    /// with a message (`/dev/zero` never ends).
    #[test]
    fn an_endless_stream_is_counted_up_to_a_limit_then_refused() {
        let endless = std::io::repeat(b'z').take(STREAM_REST_LIMIT + 10_000);
        let error = read_limited(endless, "-".into(), 1_000, 0).unwrap_err();
        assert!(error.to_string().contains("an endless stream"), "{error}");
        let long = std::io::repeat(b'z').take(5_000);
        let message = read_limited(long, "-".into(), 1_000, 0).unwrap();
        assert_eq!(message.oversized, Some(5_000));
    }

    /// In a folder, a FIFO is not opened (opening it waited for a writer forever), a link
    /// to a device is not read, and a link to a file is.
    #[cfg(unix)]
    #[test]
    fn a_folder_walk_reads_files_not_a_fifo_or_a_device() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("in");
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("a.eml"), b"Subject: a\n\nx\n").unwrap();
        std::fs::write(dir.path().join("b"), b"Subject: b\n\nx\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("b"), folder.join("b.eml")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", folder.join("c.eml")).unwrap();
        let fifo = std::ffi::CString::new(folder.join("d.eml").to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
        let results: Vec<_> = Inputs::open(std::slice::from_ref(&folder), 1 << 20)
            .unwrap()
            .collect();
        assert_eq!(results.len(), 4);
        assert_eq!(results[0].as_ref().unwrap().raw, b"Subject: a\n\nx\n");
        assert_eq!(results[1].as_ref().unwrap().raw, b"Subject: b\n\nx\n");
        for (result, name) in results[2..].iter().zip(["c.eml", "d.eml"]) {
            let error = format!("{:#}", result.as_ref().unwrap_err());
            assert!(error.contains(name), "{error}");
            assert!(error.contains("not a regular file"), "{error}");
        }
    }

    #[test]
    fn keeps_only_the_head_of_an_oversized_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.eml");
        std::fs::write(&path, vec![b'a'; 200_000]).unwrap();
        let message = Inputs::open(&[path], 100_000)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        assert_eq!(message.oversized, Some(200_000));
        assert_eq!(message.raw.len(), HEAD_BYTES);
    }

    /// With a limit below `HEAD_BYTES`, the first `max_bytes` are kept, not `max_bytes + 1`
    /// (a file used to keep the byte read to see that it was over the limit).
    #[test]
    fn keeps_no_more_than_a_limit_smaller_than_the_head() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.eml");
        let mbox = dir.path().join("big.mbox");
        let lines: Vec<u8> = [[b'a'; 99].as_slice(), b"\n"].concat().repeat(50);
        std::fs::write(&file, &lines).unwrap();
        let mut text = b"From sender@example.com Mon Jan  1 00:00:00 2026\n".to_vec();
        text.extend_from_slice(&lines);
        std::fs::write(&mbox, text).unwrap();
        for path in [file, mbox] {
            let message = Inputs::open(std::slice::from_ref(&path), 1_000)
                .unwrap()
                .next()
                .unwrap()
                .unwrap();
            assert_eq!(message.oversized, Some(5_000), "{}", path.display());
            assert_eq!(message.raw, lines[..1_000], "{}", path.display());
        }
        // A last message whose first line is over the limit keeps nothing of it, and is
        // still yielded (it used to end the mbox as if it were empty).
        let one_line = dir.path().join("one-line.mbox");
        let mut text = b"From sender@example.com Mon Jan  1 00:00:00 2026\n".to_vec();
        text.extend_from_slice(&[b'a'; 4_999]);
        text.push(b'\n');
        std::fs::write(&one_line, text).unwrap();
        let messages: Vec<Incoming> = Inputs::open(&[one_line], 1_000)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0].oversized, Some(5_000));
        assert!(messages[0].raw.is_empty());
    }
}
