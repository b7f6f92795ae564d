//! Local mail inputs: single message files, folders of `.eml` files, Maildirs (`cur/` and
//! `new/`), mbox files and standard input. Messages are read one at a time, so a large
//! mbox or Maildir is never held in memory whole.

use anyhow::{Context, Result};
use std::collections::VecDeque;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One message read from an input.
#[derive(Debug, Clone)]
pub struct Incoming {
    /// Where it came from: a path, `PATH#N` for the Nth message of an mbox, or `-`.
    pub origin: String,
    /// The bytes; for an oversized message only its first `HEAD_BYTES`.
    pub raw: Vec<u8>,
    /// Set when the message is bigger than the limit: its full size.
    pub oversized: Option<u64>,
}

/// How much of an oversized message is kept in quarantine.
pub const HEAD_BYTES: usize = 64 * 1024;

enum Pending {
    File(PathBuf),
    /// Message files of one folder, by name, in order. Names alone, not whole paths, keep
    /// the listing of a Maildir of a million messages near 60 MB (BENCHMARKS.md).
    Folder {
        folder: PathBuf,
        names: std::vec::IntoIter<Box<OsStr>>,
    },
    Mbox(Box<MboxReader>),
}

/// Reads every message from a list of paths (`-` is standard input), in a stable order.
pub struct Inputs {
    pending: VecDeque<Pending>,
    max_bytes: u64,
    stdin_done: bool,
}

impl Inputs {
    /// Expands the paths now (folders are listed, sorted by name) and reads lazily.
    pub fn open(paths: &[PathBuf], max_bytes: u64) -> Result<Inputs> {
        let mut pending = VecDeque::new();
        for path in paths {
            if path.as_os_str() == "-" {
                pending.push_back(Pending::File(path.clone()));
                continue;
            }
            let metadata = std::fs::metadata(path)
                .with_context(|| format!("cannot read input {}", path.display()))?;
            if metadata.is_dir() {
                for (folder, names) in list_folder(path)? {
                    pending.push_back(Pending::Folder {
                        folder,
                        names: names.into_iter(),
                    });
                }
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
    /// is one message, a listed folder as many as it has files. An mbox is not counted (that
    /// would mean reading it), so inputs with one give `None`.
    pub fn known_total(&self) -> Option<u64> {
        self.pending
            .iter()
            .try_fold(0u64, |sum, pending| match pending {
                Pending::File(_) => Some(sum + 1),
                Pending::Folder { names, .. } => Some(sum + names.len() as u64),
                Pending::Mbox(_) => None,
            })
    }

    fn read_file(&mut self, path: &Path) -> Result<Incoming> {
        if path.as_os_str() == "-" {
            if self.stdin_done {
                anyhow::bail!("standard input can be read only once");
            }
            self.stdin_done = true;
            return read_limited(std::io::stdin().lock(), "-".to_string(), self.max_bytes)
                .context("cannot read standard input");
        }
        let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
        read_limited(file, path.display().to_string(), self.max_bytes)
            .with_context(|| format!("cannot read {}", path.display()))
    }
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
                Pending::Folder { folder, names } => match names.next() {
                    Some(name) => {
                        let path = folder.join(&*name);
                        return Some(self.read_file(&path));
                    }
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

fn read_limited(reader: impl Read, origin: String, max_bytes: u64) -> std::io::Result<Incoming> {
    let mut raw = Vec::new();
    let mut limited = reader.take(max_bytes + 1);
    limited.read_to_end(&mut raw)?;
    if raw.len() as u64 > max_bytes {
        let mut rest = limited.into_inner();
        let extra = std::io::copy(&mut rest, &mut std::io::sink())?;
        let size = raw.len() as u64 + extra;
        raw.truncate(HEAD_BYTES);
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

/// The message files of a folder: a Maildir's `cur/` and `new/`, or every `.eml` file
/// below it (Maildirs found inside are read as Maildirs). In path order, as groups of file
/// names that share a folder.
fn list_folder(folder: &Path) -> Result<Vec<(PathBuf, Vec<Box<OsStr>>)>> {
    let mut groups = Vec::new();
    if is_maildir(folder) {
        for sub in ["cur", "new"] {
            let sub = folder.join(sub);
            let names = regular_files(&sub)?;
            if !names.is_empty() {
                groups.push((sub, names));
            }
        }
    } else {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(folder)
            .with_context(|| format!("cannot list {}", folder.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        // Files of this folder between two subfolders form one group, so the order stays
        // that of the sorted paths.
        let mut names: Vec<Box<OsStr>> = Vec::new();
        for path in entries {
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            if path.is_dir() {
                if !names.is_empty() {
                    groups.push((folder.to_path_buf(), std::mem::take(&mut names)));
                }
                groups.extend(list_folder(&path)?);
            } else if path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| e.eq_ignore_ascii_case("eml"))
                && let Some(name) = path.file_name()
            {
                names.push(name.into());
            }
        }
        if !names.is_empty() {
            groups.push((folder.to_path_buf(), names));
        }
    }
    Ok(groups)
}

pub fn is_maildir(folder: &Path) -> bool {
    folder.join("cur").is_dir() && folder.join("new").is_dir()
}

/// The names of the regular, not hidden files of a folder, sorted.
fn regular_files(folder: &Path) -> Result<Vec<Box<OsStr>>> {
    if !folder.is_dir() {
        return Ok(Vec::new());
    }
    let mut names: Vec<Box<OsStr>> = std::fs::read_dir(folder)
        .with_context(|| format!("cannot list {}", folder.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().into_boxed_os_str())
        .filter(|name| !name.as_encoded_bytes().starts_with(b"."))
        .collect();
    names.sort_unstable();
    Ok(names)
}

fn is_mbox(path: &Path) -> Result<bool> {
    let mut head = [0u8; 5];
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let n = file.read(&mut head)?;
    Ok(n == 5 && &head == b"From ")
}

/// Splits an mbox file (mboxrd or mboxo) into messages at `From ` lines, undoing `>From `
/// quoting.
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
            if previous_blank && self.line.starts_with(b"From ") {
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
        if raw.is_empty() && self.done {
            return None;
        }
        if size > self.max_bytes {
            raw.truncate(HEAD_BYTES);
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
}
