//! Replacing an output file atomically: the one place that writes export files. Readers of
//! the file see either the old content or the new, never a half-written file, and a failed
//! write leaves the old file as it was.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of a file that did not exist before.
#[cfg(unix)]
const NEW_FILE_MODE: u32 = 0o640;

/// Counter that makes temporary file names unique within the process.
static NEXT_TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// How many taken temporary names to step over before giving up.
const TEMPORARY_NAME_ATTEMPTS: u32 = 100;

/// Writes a new version of `path` through `write` and puts it in place atomically.
///
/// The content goes to a temporary file in the same folder (`.NAME.PID.N.tmp`), through a
/// buffer; the file is flushed and synced, renamed over `path`, and the folder is synced so
/// the rename survives a crash. The file keeps the permissions of the file it replaces, or
/// gets mode 0640 when there was none. A symbolic link at `path` to a file (or to nothing) is
/// replaced by the file, not followed.
///
/// When `path` is (or links to) a device, a pipe or a socket, such as `/dev/stdout` or a
/// FIFO a script reads, there is no file to replace: the content is written straight to it.
/// A rename there would put a regular file where the device was (as root, `/dev/null` or
/// `/dev/stdout` for the whole machine).
///
/// On any error before the rename, including one returned by `write` (which is passed on
/// unchanged) or a panic inside it, the temporary file is removed and `path` is untouched.
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot write {}: the path has no file name", path.display()),
        )
    })?;
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let permissions = match fs::metadata(path) {
        Ok(metadata) if !metadata.is_file() && !metadata.is_dir() => {
            return write_through(path, write);
        }
        Ok(metadata) => Some(metadata.permissions()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(context(error, format!("cannot read {}", path.display()))),
    };

    let (file, temporary) = create_temporary(folder, file_name, path)?;
    let mut guard = RemoveOnDrop {
        path: Some(temporary),
    };
    let temporary = guard
        .path
        .clone()
        .expect("the guard holds the path until disarmed");
    let describe = |action: &str| {
        format!(
            "cannot {action} {} (temporary file for {})",
            temporary.display(),
            path.display()
        )
    };

    set_permissions(&file, permissions).map_err(|e| context(e, describe("set permissions on")))?;
    let mut buffer = BufWriter::with_capacity(64 * 1024, file);
    let value = write(&mut buffer)?;
    let file = buffer
        .into_inner()
        .map_err(|e| context(e.into_error(), describe("write")))?;
    file.sync_all().map_err(|e| context(e, describe("sync")))?;
    drop(file);

    fs::rename(&temporary, path).map_err(|e| {
        context(
            e,
            format!(
                "cannot rename {} to {}",
                temporary.display(),
                path.display()
            ),
        )
    })?;
    guard.path = None;

    sync_folder(folder).map_err(|e| {
        context(
            e,
            format!(
                "wrote {} but cannot sync its folder {}",
                path.display(),
                folder.display()
            ),
        )
    })?;
    Ok(value)
}

/// Writes to a device, a pipe or a socket as it is, through a buffer.
fn write_through<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| context(e, format!("cannot open {}", path.display())))?;
    let mut buffer = BufWriter::with_capacity(64 * 1024, file);
    let value = write(&mut buffer)?;
    buffer
        .flush()
        .map_err(|e| context(e, format!("cannot write {}", path.display())))?;
    Ok(value)
}

/// Creates a new temporary file beside the target, stepping over names that are taken (for
/// example by a crashed run that had the same process id).
fn create_temporary(
    folder: &Path,
    file_name: &std::ffi::OsStr,
    target: &Path,
) -> io::Result<(File, PathBuf)> {
    let process = std::process::id();
    let mut attempts = 0;
    loop {
        let call = NEXT_TEMPORARY.fetch_add(1, Ordering::Relaxed);
        let mut name = std::ffi::OsString::from(".");
        name.push(file_name);
        name.push(format!(".{process}.{call}.tmp"));
        let temporary = folder.join(name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
        {
            Ok(file) => return Ok((file, temporary)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
                attempts += 1;
                if attempts >= TEMPORARY_NAME_ATTEMPTS {
                    return Err(context(
                        error,
                        format!(
                            "cannot create a temporary file for {} in {}",
                            target.display(),
                            folder.display()
                        ),
                    ));
                }
            }
            Err(error) => {
                return Err(context(
                    error,
                    format!(
                        "cannot create a temporary file for {} in {}",
                        target.display(),
                        folder.display()
                    ),
                ));
            }
        }
    }
}

/// Gives the new file the old file's permissions, or 0640 (the list holds personal data: owner and group only). Set explicitly so that the umask
/// does not take bits away from the old file's mode.
#[cfg(unix)]
fn set_permissions(file: &File, old: Option<fs::Permissions>) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let permissions = old.unwrap_or_else(|| fs::Permissions::from_mode(NEW_FILE_MODE));
    file.set_permissions(permissions)
}

#[cfg(not(unix))]
fn set_permissions(file: &File, old: Option<fs::Permissions>) -> io::Result<()> {
    match old {
        Some(permissions) => file.set_permissions(permissions),
        None => Ok(()),
    }
}

/// Syncs a folder so that a rename inside it is durable.
#[cfg(unix)]
fn sync_folder(folder: &Path) -> io::Result<()> {
    File::open(folder)?.sync_all()
}

/// Folders cannot be opened as files here; the rename is as durable as the platform makes it.
#[cfg(not(unix))]
fn sync_folder(_folder: &Path) -> io::Result<()> {
    Ok(())
}

/// Adds what was being done to an IO error, keeping its kind.
fn context(error: io::Error, what: String) -> io::Error {
    io::Error::new(error.kind(), format!("{what}: {error}"))
}

/// Removes the temporary file unless the rename has happened.
struct RemoveOnDrop {
    path: Option<PathBuf>,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            // Nothing useful can be done if this fails: the original error is what matters.
            let _ = fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names_in(folder: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A FIFO at `path`, and a thread that reads it whole.
    fn fifo_with_reader(path: &Path) -> std::thread::JoinHandle<Vec<u8>> {
        use std::os::unix::ffi::OsStrExt;
        let name = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let path = path.to_path_buf();
        std::thread::spawn(move || fs::read(path).unwrap())
    }

    #[test]
    fn a_pipe_is_written_to_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("list.fifo");
        let reader = fifo_with_reader(&fifo);
        let value = write_atomically(&fifo, |out| {
            out.write_all(b"a@example.com\n")?;
            Ok(7)
        })
        .unwrap();
        assert_eq!(value, 7);
        // Checked first: had the pipe been replaced, the reader would wait forever.
        assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
        assert_eq!(reader.join().unwrap(), b"a@example.com\n");
        assert_eq!(names_in(dir.path()), ["list.fifo"]);

        // Through a symbolic link too (as /dev/stdout is one): the link stays.
        let link = dir.path().join("out");
        std::os::unix::fs::symlink(&fifo, &link).unwrap();
        let reader = std::thread::spawn({
            let fifo = fifo.clone();
            move || fs::read(fifo).unwrap()
        });
        write_atomically(&link, |out| out.write_all(b"b@example.com\n")).unwrap();
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(reader.join().unwrap(), b"b@example.com\n");
        assert_eq!(names_in(dir.path()), ["list.fifo", "out"]);
    }

    #[test]
    fn success_replaces_the_content_and_returns_the_value() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("suppressions.csv");
        fs::write(&path, "old content that is longer\n").unwrap();

        let value = write_atomically(&path, |out| {
            out.write_all(b"new\n")?;
            Ok(7)
        })
        .unwrap();

        assert_eq!(value, 7);
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
        assert_eq!(names_in(folder.path()), ["suppressions.csv"]);
    }

    #[test]
    fn creates_a_missing_file_with_mode_0640() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("new.txt");
        write_atomically(&path, |out| out.write_all(b"a@example.org\n")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"a@example.org\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
            assert_eq!(mode, 0o640);
        }
    }

    #[cfg(unix)]
    #[test]
    fn keeps_the_mode_of_the_file_it_replaces() {
        use std::os::unix::fs::PermissionsExt;
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("private.csv");
        fs::write(&path, "old\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();

        write_atomically(&path, |out| out.write_all(b"new\n")).unwrap();

        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn closure_error_leaves_the_old_file_and_no_temporary_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("suppressions.csv");
        let old = b"email\r\njane@example.org\r\n\xff binary too\n";
        fs::write(&path, old).unwrap();

        let error = write_atomically(&path, |out| -> io::Result<()> {
            // Enough to go past the buffer, so part of it has reached the temporary file.
            out.write_all(&vec![b'x'; 200_000])?;
            Err(io::Error::other("the store went away"))
        })
        .unwrap_err();

        assert_eq!(error.to_string(), "the store went away");
        assert_eq!(fs::read(&path).unwrap(), old);
        assert_eq!(names_in(folder.path()), ["suppressions.csv"]);
    }

    #[test]
    fn closure_error_without_an_old_file_leaves_nothing() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("never.csv");
        let result = write_atomically(&path, |_| -> io::Result<()> {
            Err(io::Error::other("nothing to write"))
        });
        assert!(result.is_err());
        assert!(names_in(folder.path()).is_empty());
    }

    #[test]
    fn missing_folder_is_an_error_naming_the_path() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("no-such-folder").join("out.csv");
        let error = write_atomically(&path, |out| out.write_all(b"x")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "cannot create a temporary file for {}",
                path.display()
            )),
            "{message}"
        );
    }

    #[test]
    fn temporary_names_are_hidden_and_unique_per_call() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("out.txt");
        let mut seen = Vec::new();
        for _ in 0..2 {
            write_atomically(&path, |_| {
                let mut names = names_in(folder.path());
                names.retain(|name| name != "out.txt");
                seen.extend(names);
                Ok(())
            })
            .unwrap();
        }
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_ne!(seen[0], seen[1]);
        for name in &seen {
            assert!(
                name.starts_with(".out.txt.") && name.ends_with(".tmp"),
                "{name}"
            );
        }
    }
}
