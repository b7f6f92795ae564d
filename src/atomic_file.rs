//! Replacing an output file atomically: the one place that writes export files. Readers of
//! the file see either the old content or the new, never a half-written file, and a failed
//! write leaves the old file as it was.

use std::ffi::{OsStr, OsString};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// Mode of a file that did not exist before.
#[cfg(unix)]
const NEW_FILE_MODE: u32 = 0o640;

/// Counter that makes temporary file names unique within the process.
static NEXT_TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// How many taken temporary names to step over before giving up.
const TEMPORARY_NAME_ATTEMPTS: u32 = 100;

/// The longest file name most file systems take (`NAME_MAX`), in bytes.
const NAME_MAX: usize = 255;

/// How many symbolic links to follow before calling it a loop (Linux's own limit).
const MAX_LINKS: u32 = 40;

/// A temporary file left by a process that is gone is removed only once it is this old, so
/// that a live writer whose process id cannot be seen (another PID namespace sharing the
/// folder) is never disturbed: a live writer keeps its file's time recent.
const STALE_TEMPORARY_AGE: Duration = Duration::from_secs(15 * 60);

/// Where an output path leads once its symbolic links are followed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OutputTarget {
    /// A descriptor this process has open: `/dev/stdout` (1), `/dev/stderr` (2), `/dev/stdin`
    /// (0), `/dev/fd/N`, `/proc/self/fd/N`, `/proc/<this process>/fd/N`, or a link to one.
    Descriptor(i32),
    /// An absolute path with every symbolic link in it followed (the last name need not
    /// exist).
    Path(PathBuf),
}

/// Follows the symbolic links in `path` (as `realpath` does, but the last name need not
/// exist) and says where it leads. A name that is one of this process's descriptors
/// (`/dev/stdout`, `/dev/fd/N`, `/proc/self/fd/N`, ...) is recognised before its link is
/// followed: following it would give the file that descriptor has open (or a `pipe:[...]`
/// name), and writing there by name would replace or truncate what the descriptor is
/// writing. A descriptor of another process (`/proc/<pid>/fd/N`) is refused.
pub fn resolve_output(path: &Path) -> io::Result<OutputTarget> {
    resolve(path).map(|(target, _)| target)
}

/// [`resolve_output`], and the symbolic links followed on the way, in order.
fn resolve(path: &Path) -> io::Result<(OutputTarget, Vec<PathBuf>)> {
    let absolute = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    let mut pending: Vec<OsString> = Vec::new();
    push_components(&mut pending, &absolute);
    let mut current = PathBuf::from("/");
    let mut links: Vec<PathBuf> = Vec::new();
    while let Some(name) = pending.pop() {
        if name == "/" {
            current = PathBuf::from("/");
            continue;
        }
        if name == "." {
            continue;
        }
        if name == ".." {
            current.pop();
            continue;
        }
        let candidate = current.join(&name);
        if pending.is_empty()
            && let Some(descriptor) = descriptor_of(&candidate)?
        {
            return Ok((OutputTarget::Descriptor(descriptor), links));
        }
        match fs::symlink_metadata(&candidate) {
            Ok(metadata) if metadata.file_type().is_symlink() => {
                if links.len() as u32 >= MAX_LINKS {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("too many levels of symbolic links in {}", path.display()),
                    ));
                }
                let target = fs::read_link(&candidate)?;
                push_components(&mut pending, &target);
                links.push(candidate);
            }
            // A name that does not exist (or cannot be looked at) is taken as it is: the
            // write that follows says what is wrong with it.
            _ => current = candidate,
        }
    }
    Ok((OutputTarget::Path(current), links))
}

/// Puts the components of `path` on the stack `pending`, the first on top. An absolute
/// path starts with `/`, which sends the walk back to the root.
fn push_components(pending: &mut Vec<OsString>, path: &Path) {
    let mut names: Vec<OsString> = Vec::new();
    for component in path.components() {
        names.push(match component {
            Component::RootDir | Component::Prefix(_) => OsString::from("/"),
            Component::CurDir => OsString::from("."),
            Component::ParentDir => OsString::from(".."),
            Component::Normal(name) => name.to_os_string(),
        });
    }
    pending.extend(names.into_iter().rev());
}

/// The descriptor a path names, if it names one of this process's.
fn descriptor_of(path: &Path) -> io::Result<Option<i32>> {
    let Some(text) = path.to_str() else {
        return Ok(None);
    };
    let number = |text: &str| -> Option<i32> {
        (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    match text {
        "/dev/stdin" => return Ok(Some(0)),
        "/dev/stdout" => return Ok(Some(1)),
        "/dev/stderr" => return Ok(Some(2)),
        _ => {}
    }
    if let Some(fd) = text.strip_prefix("/dev/fd/").and_then(number) {
        return Ok(Some(fd));
    }
    let Some(rest) = text.strip_prefix("/proc/") else {
        return Ok(None);
    };
    let parts: Vec<&str> = rest.split('/').collect();
    let (process, fd) = match parts.as_slice() {
        [process, "fd", fd] => (*process, *fd),
        [process, "task", _, "fd", fd] => (*process, *fd),
        _ => return Ok(None),
    };
    let Some(fd) = number(fd) else {
        return Ok(None);
    };
    if process == "self" || process == "thread-self" {
        return Ok(Some(fd));
    }
    match number(process) {
        Some(pid) if pid as u32 == std::process::id() => Ok(Some(fd)),
        Some(_) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is a descriptor of another process", path.display()),
        )),
        None => Ok(None),
    }
}

/// Writes a new version of `path` through `write` and puts it in place atomically.
///
/// The content goes to a temporary file in the same folder (`.NAME.PID.N.tmp`, the name
/// shortened when it would be too long), through a buffer; the file is flushed and synced,
/// renamed over `path`, and the folder is synced so the rename survives a crash. The file
/// keeps the permissions, the group (when this user may give it: a group it is a member of,
/// or the folder's when the folder is set-group-ID; see [`Prepared::group_lost`], which
/// [`prepare_atomically`] hands back and this function does not) and (when running as root)
/// the owner of the file it replaces, or gets mode 0640 when there was none. Temporary files of the same output left
/// by a process that no longer runs (killed mid-write) are removed first.
///
/// A symbolic link at `path` is followed: the file it leads to is replaced (its temporary
/// file is in that file's folder) and the link stays. What another local user could have set
/// up is refused, naming the path and the owner: a link on the way that is not this user's
/// or root's, a folder every user may change (without the sticky bit), or one above it, and
/// an existing output of another user's in a folder others may write to.
///
/// When `path` is (or links to) one of this process's descriptors (`/dev/stdout`,
/// `/dev/stderr`, `/dev/fd/N`, `/proc/self/fd/N`), the content is written to that open
/// descriptor as it is: not reopened, so a `>>` redirection is appended to and nothing is
/// truncated. When it is (or links to) a device, a pipe or a socket, such as `/dev/null` or a
/// FIFO a script reads, there is no file to replace either: the content is written straight
/// to it. A rename there would put a regular file where the device was (as root, `/dev/null`
/// or `/dev/stdout` for the whole machine).
///
/// On any error before the rename, including one returned by `write` (which is passed on
/// unchanged) or a panic inside it, the temporary file is removed and `path` is untouched.
pub fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    let (value, prepared) = prepare_atomically(path, write)?;
    prepared.put_in_place()?;
    Ok(value)
}

/// [`write_atomically`], handing back besides the group the file replaced had and the new
/// version could not be given (see [`GroupLost`]), for the caller to say: a report file
/// written as an export is.
pub fn write_atomically_keeping_group<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<(T, Option<GroupLost>)> {
    let (value, prepared) = prepare_atomically(path, write)?;
    let lost = prepared.group_lost().cloned();
    prepared.put_in_place()?;
    Ok((value, lost))
}

/// A new version of an output, written whole and synced to its temporary file, not yet put
/// in place (see [`prepare_atomically`]). Dropped without [`Prepared::put_in_place`], its
/// temporary file is removed and the output is left as it was.
#[must_use = "the new file is put in place only by put_in_place"]
pub struct Prepared {
    /// The rename still to do; `None` when there is nothing to rename: the new bytes are
    /// the old file's, or the output is a descriptor, a device or a pipe, written already.
    rename: Option<Rename>,
}

struct Rename {
    temporary: RemoveOnDrop,
    real: PathBuf,
    folder: PathBuf,
    shown: String,
    /// The group the file replaced had and the new one could not be given.
    group_lost: Option<GroupLost>,
    /// The folder held open, when `folder` and `real` are named through it: dropped last.
    _pinned: Option<PinnedFolder>,
}

impl Prepared {
    /// Whether the output is written only by [`Prepared::put_in_place`] (a file replaced by
    /// a rename), rather than written already or left as it was.
    pub fn is_pending(&self) -> bool {
        self.rename.is_some()
    }

    /// The group the file replaced had and the new version could not be given (see
    /// [`GroupLost`]): lost once [`Prepared::put_in_place`] has renamed it in. None when the
    /// group is kept, there was no file, or nothing is replaced (the same bytes, a stream).
    pub fn group_lost(&self) -> Option<&GroupLost> {
        self.rename.as_ref()?.group_lost.as_ref()
    }

    /// Renames the temporary file over the output and syncs its folder, so that the rename
    /// survives a crash.
    pub fn put_in_place(self) -> io::Result<()> {
        let Some(mut rename) = self.rename else {
            return Ok(());
        };
        let temporary = rename
            .temporary
            .path
            .clone()
            .expect("the guard holds the path until disarmed");
        fs::rename(&temporary, &rename.real).map_err(|e| {
            context(
                e,
                format!(
                    "cannot replace {} with its temporary file {}",
                    rename.shown,
                    temporary.display()
                ),
            )
        })?;
        rename.temporary.path = None;
        sync_folder(&rename.folder).map_err(|e| {
            context(
                e,
                format!(
                    "wrote {} but cannot sync its folder {}",
                    rename.shown,
                    rename.folder.display()
                ),
            )
        })
    }
}

/// [`write_atomically`] up to the rename: the new version is written to its temporary file,
/// flushed and synced, and handed back with the value `write` returned, to be put in place by
/// [`Prepared::put_in_place`]. Several outputs that go together are prepared first and put in
/// place only once every one is ready, so that one that cannot be written leaves them all as
/// they were.
///
/// An output that is a descriptor, a device or a pipe has no rename: it is written here,
/// straight away, and its [`Prepared`] has nothing left to do.
pub fn prepare_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<(T, Prepared)> {
    let done = Prepared { rename: None };
    if path.as_os_str().as_encoded_bytes().ends_with(b"/") {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "cannot write {}: the path ends with / (a folder), give a file name",
                path.display()
            ),
        ));
    }
    let (real, followed) =
        match resolve(path).map_err(|e| context(e, format!("cannot write {}", path.display())))? {
            (OutputTarget::Descriptor(descriptor), _) => {
                return Ok((write_descriptor(descriptor, path, write)?, done));
            }
            (OutputTarget::Path(real), links) => (real, links),
        };
    // Named as given, and as the file replaced when a link led elsewhere.
    let shown = if !followed.is_empty() {
        format!("{} (link to {})", path.display(), real.display())
    } else {
        path.display().to_string()
    };
    let Some(file_name) = real.file_name() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("cannot write {shown}: the path has no file name"),
        ));
    };
    let folder = match real.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("/"),
    };
    let existing = fs::metadata(&real);
    // Root writing in a subfolder of a service user's folder (a file of that user's, or a
    // new one): looked at once, and written through the folder held open, the file looked at
    // again there.
    let new_or_file = match &existing {
        Ok(file) => file.is_file(),
        Err(error) => error.kind() == io::ErrorKind::NotFound,
    };
    let subfolder_owner = new_or_file
        .then(|| owners_subfolder_owner(folder))
        .flatten();
    // A new file there without /proc/self/fd would be made by its path, which that user
    // could swap for a link between fbl's checks and its rename: refused, saying why.
    if subfolder_owner.is_none()
        && existing.is_err()
        && new_or_file
        && let Some(owner) = subfolder_chain_owner(folder)
    {
        let name = user_name(owner);
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!(
                "cannot write {shown}: it would be a new file in {}, a folder of {name}'s \
                 (uid {owner}), and fbl runs as root: root writes in a subfolder of that user's \
                 only through the folder held open, named in /proc/self/fd, which is not there \
                 (mount /proc), or run the command as {name} (`runuser -u {} -- fbl ...`)",
                folder.display(),
                shell_word(&name),
            ),
        ));
    }
    let owners_file = subfolder_owner
        .is_some_and(|owner| existing.as_ref().is_ok_and(|file| owner_of(file) == owner));
    check_no_other_user(path, &followed, folder, existing.as_ref().ok(), owners_file)?;
    let pinned = match subfolder_owner {
        Some(owner) => Some(PinnedFolder::open(folder, owner, &shown)?),
        None => None,
    };
    // Where the file is read, made and renamed: by its path, or in the folder held open.
    let (folder, target, existing) = match &pinned {
        Some(pinned) => {
            let target = pinned.path.join(file_name);
            let existing = fs::symlink_metadata(&target);
            let still = match &existing {
                Ok(file) => file.is_file(),
                Err(error) => error.kind() == io::ErrorKind::NotFound,
            };
            if !still {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!(
                        "cannot write {shown}: it changed while fbl wrote it (no longer a \
                         file, or a link now); run again"
                    ),
                ));
            }
            (pinned.path.as_path(), target, existing)
        }
        None => (folder, real.clone(), existing),
    };
    let old = match existing {
        Ok(metadata) if metadata.is_dir() => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("cannot write {shown}: it is a folder"),
            ));
        }
        Ok(metadata) if !metadata.is_file() => {
            return Ok((write_through(&target, &shown, write)?, done));
        }
        Ok(metadata) => Some(metadata),
        Err(error) if error.kind() == io::ErrorKind::NotFound => None,
        Err(error) => return Err(context(error, format!("cannot read {shown}"))),
    };

    remove_stale_temporaries(folder, file_name);
    let (file, temporary) = create_temporary(folder, file_name, &shown)?;
    let guard = RemoveOnDrop {
        path: Some(temporary),
    };
    let temporary = guard
        .path
        .clone()
        .expect("the guard holds the path until disarmed");
    let describe = |action: &str| {
        format!(
            "cannot write {shown}: cannot {action} its temporary file {}",
            temporary.display()
        )
    };

    let group_lost = match &old {
        Some(old) => keep_owner(&file, old, &real)
            .map_err(|e| context(e, describe("keep the owner and group on")))?,
        None => None,
    };
    set_permissions(&file, old.as_ref().map(fs::Metadata::permissions))
        .map_err(|e| context(e, describe("set permissions on")))?;
    let mut buffer = BufWriter::with_capacity(64 * 1024, file);
    let value = write(&mut buffer)?;
    let file = buffer
        .into_inner()
        .map_err(|e| context(e.into_error(), describe("write")))?;
    // The same bytes as the file there: it is kept as it is, so that its time says when the
    // content last changed and whatever watches it (a `postmap` job, an import) is not woken
    // for nothing. The temporary file goes with the guard.
    if let Some(old) = &old
        && let Ok(written) = file.metadata()
        && same_content(&temporary, &written, &target, old).unwrap_or(false)
    {
        return Ok((value, done));
    }
    file.sync_all().map_err(|e| context(e, describe("sync")))?;
    drop(file);
    let rename = Rename {
        temporary: guard,
        folder: folder.to_path_buf(),
        real: target,
        shown,
        group_lost,
        _pinned: pinned,
    };
    Ok((
        value,
        Prepared {
            rename: Some(rename),
        },
    ))
}

/// Whether the file at `new` (the temporary file, `new_meta` as written) holds the same bytes
/// as the one at `old` (`old_meta` as looked at before). Each is opened without following a
/// link, without blocking and never as a controlling terminal, and must be the very file
/// looked at: in a folder another user may change (a service user's, written by root), a
/// FIFO or a link put in either's place meanwhile is not read (root would wait on the FIFO
/// for good, holding the store's lock); "not the same" then, and the rename says the rest.
fn same_content(
    new: &Path,
    new_meta: &fs::Metadata,
    old: &Path,
    old_meta: &fs::Metadata,
) -> io::Result<bool> {
    use std::io::Read;
    if new_meta.len() != old_meta.len() {
        return Ok(false);
    }
    let (Some(mut a), Some(mut b)) = (open_same(new, new_meta), open_same(old, old_meta)) else {
        return Ok(false);
    };
    let (mut x, mut y) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(true);
        }
        b.read_exact(&mut y[..n])?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
}

/// The regular file at `path` opened for reading, if it is still the file `seen` describes
/// (same device and inode), without following a link, blocking on a FIFO or taking a
/// terminal.
#[cfg(unix)]
fn open_same(path: &Path, seen: &fs::Metadata) -> Option<fs::File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    let file = fs::File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .ok()?;
    let opened = file.metadata().ok()?;
    (opened.is_file() && opened.dev() == seen.dev() && opened.ino() == seen.ino()).then_some(file)
}

#[cfg(not(unix))]
fn open_same(path: &Path, _seen: &fs::Metadata) -> Option<fs::File> {
    fs::File::open(path).ok()
}

/// The effective user fbl runs as.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Whether `uid` is the user fbl runs as, or root: the owners whose links and files fbl
/// follows and writes.
pub fn is_fbl_or_root(uid: u32) -> bool {
    uid == euid() || uid == 0
}

/// Refuses an output another local user could have set up to be written where they choose
/// or read by them: a symbolic link on the way that is not this user's or root's (it could
/// lead to any file this user may write, such as root's), a folder (of the output or one
/// above it, or of a link on the way) any user may change without the sticky bit (any name
/// in it can be replaced), and, in a folder others may write to (another user's, or group or world
/// writable), an existing output that is not this user's or root's (its owner and mode
/// would be kept: its owner could read the list).
#[cfg(unix)]
fn check_no_other_user(
    path: &Path,
    links: &[PathBuf],
    folder: &Path,
    existing: Option<&fs::Metadata>,
    subfolder: bool,
) -> io::Result<()> {
    let to_do = "remove it, or write to a folder other users cannot change";
    let why = other_users_link(links, to_do)
        .or_else(|| {
            // The folder, or one above it: whoever may rename the names in that one may put
            // a folder of their own in the place of the one the output is written to.
            let open = folder.ancestors().find(|at| open_to_all(at))?;
            Some(if open == folder {
                format!(
                    "its folder {} may be changed by every user (writable by all, without the \
                     sticky bit); write to a folder other users cannot change",
                    folder.display()
                )
            } else {
                format!(
                    "{}, a folder above its folder {}, may be changed by every user (writable \
                     by all, without the sticky bit): anyone could put a folder of their own \
                     in the place of {}; write to a folder other users cannot change",
                    open.display(),
                    folder.display(),
                    folder.display()
                )
            })
        })
        .or_else(|| {
            // Root rewriting a service user's export in that user's own folder (`sudo fbl
            // export`): the file stays that user's, who wrote it in the first place.
            if existing.is_some_and(|file| is_owners_own_folder(folder, file)) {
                return None;
            }
            // The same, a folder deeper (`/var/lib/fbl/exports`): written through the folder
            // held open (see `owners_subfolder_owner`).
            if subfolder {
                return None;
            }
            // A folder of that user's alone, but not down from one of root's: said why.
            if let Some(why) = existing.and_then(|file| owners_subfolder(folder, file)) {
                return Some(why);
            }
            other_users_file(folder, existing).map(|owned| {
                format!(
                    "{owned}: fbl would keep its owner and mode, and that user could read the \
                     list; {to_do}"
                )
            })
        });
    match why {
        Some(why) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("cannot write {}: {why}", path.display()),
        )),
        None => Ok(()),
    }
}

#[cfg(not(unix))]
fn check_no_other_user(
    _path: &Path,
    _links: &[PathBuf],
    _folder: &Path,
    _existing: Option<&fs::Metadata>,
    _subfolder: bool,
) -> io::Result<()> {
    Ok(())
}

/// Why fbl must not open the file at `path` in place (a SQLite store and the files SQLite
/// and fbl keep beside it), when another local user could have set it up, by the rules of
/// [`write_atomically`]: a symbolic link on the way that is not this user's or root's, or
/// one in a folder every user may change, and an existing file that is not this user's or
/// root's in a folder others may write to (another user's, or group or world writable, as
/// `/tmp`). A folder every user may change is not refused by itself: the file is opened,
/// not replaced by name. None when nothing is wrong, or `path` cannot be looked at (opening
/// it says why).
#[cfg(unix)]
pub fn planted_by_another_user(path: &Path) -> Option<String> {
    let (OutputTarget::Path(real), links) = resolve(path).ok()? else {
        return None;
    };
    let folder = match real.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("/"),
    };
    let to_do = "run fbl as the user who owns the store, or keep the store in a folder other \
                 users cannot change";
    let existing = fs::metadata(&real).ok();
    // A service user's store in that user's own folder (`/var/lib/fbl`, the folder its
    // owner's and writable by it alone): nobody else could have put it there, and root may
    // read it (`sudo fbl report`); SQLite gives files root makes beside it their owner.
    let owners_own_folder = existing
        .as_ref()
        .is_some_and(|file| is_owners_own_folder(folder, file));
    other_users_link(&links, to_do).or_else(|| {
        if owners_own_folder {
            return None;
        }
        other_users_file(folder, existing.as_ref()).map(|owned| {
            format!(
                "{}: {owned}, and that user could read or change what fbl keeps there; {to_do}",
                real.display()
            )
        })
    })
}

/// For root: whether `folder` is the own folder of `file`'s owner, as a service user's
/// `/var/lib/fbl` is: that user's, writable by it alone, in a folder root's and writable by
/// root alone (so that user could not have made it anywhere else, such as in `/tmp` or its
/// home). Nobody but that user and root could have put the file there.
#[cfg(unix)]
pub fn is_owners_own_folder(folder: &Path, file: &fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    let private = |m: &fs::Metadata| m.mode() & 0o022 == 0;
    euid() == 0
        && fs::metadata(folder).is_ok_and(|dir| dir.uid() == file.uid() && private(&dir))
        && folder
            .canonicalize()
            .ok()
            .and_then(|real| real.parent().map(Path::to_path_buf))
            .is_some_and(|parent| fs::metadata(parent).is_ok_and(|m| m.uid() == 0 && private(&m)))
}

/// For root: the owner of `folder` when it is a subfolder of that user's own folder, as a
/// service user's `/var/lib/fbl/exports` is: it and every folder above it up to a folder of
/// root's alone (`/var/lib`) that user's, writable by it alone, two or more of them (one is
/// [`is_owners_own_folder`]). Nobody but that user and root could have put a file there,
/// but that user may put a link in the place of the folder (`exports`, in its own folder)
/// between fbl's checks and its rename, and have root write where it chooses (`/etc`): an
/// output there is written through the folder held open ([`PinnedFolder`]), never by its
/// path. None without `/proc/self/fd`, through which the held folder is named.
#[cfg(unix)]
fn owners_subfolder_owner(folder: &Path) -> Option<u32> {
    subfolder_chain_owner(folder).filter(|_| Path::new("/proc/self/fd").is_dir())
}

/// As root, the user whose subfolder `folder` is, when every folder from it up to a folder
/// of root's alone is that user's alone, at least two deep (what `owners_subfolder_owner`
/// needs besides /proc/self/fd to write there held open).
#[cfg(unix)]
fn subfolder_chain_owner(folder: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let private = |m: &fs::Metadata| m.mode() & 0o022 == 0;
    if euid() != 0 {
        return None;
    }
    let real = folder.canonicalize().ok()?;
    let owner = fs::metadata(&real).ok()?.uid();
    if owner == 0 {
        return None;
    }
    let mut depth = 0;
    for at in real.ancestors() {
        let m = fs::metadata(at).ok()?;
        if m.uid() == owner && private(&m) {
            depth += 1;
            continue;
        }
        let chain = depth >= 2 && m.uid() == 0 && private(&m);
        return chain.then_some(owner);
    }
    None
}

/// The owner of a file.
#[cfg(unix)]
fn owner_of(file: &fs::Metadata) -> u32 {
    use std::os::unix::fs::MetadataExt;
    file.uid()
}

#[cfg(not(unix))]
fn owner_of(_file: &fs::Metadata) -> u32 {
    0
}

#[cfg(not(unix))]
fn owners_subfolder_owner(_folder: &Path) -> Option<u32> {
    None
}

#[cfg(not(unix))]
fn subfolder_chain_owner(_folder: &Path) -> Option<u32> {
    None
}

/// The folder of an output held open, named through `/proc/self/fd/N`: whatever is renamed
/// or replaced on the way to it after it is opened, the temporary file, the rename and the
/// sync are in this folder, the one checked. Kept open until the rename is done.
#[cfg(unix)]
struct PinnedFolder {
    path: PathBuf,
    _folder: File,
}

#[cfg(unix)]
impl PinnedFolder {
    /// Opens `folder` (the last name not followed if a link) and checks on what is open that
    /// it is `owner`'s, writable by it alone, as it was when looked at by its path.
    fn open(folder: &Path, owner: u32, shown: &str) -> io::Result<PinnedFolder> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let changed = || {
            io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "cannot write {shown}: its folder {} changed while fbl wrote it (no longer \
                     a folder of uid {owner}'s alone); run again",
                    folder.display()
                ),
            )
        };
        let opened = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
            .open(folder)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) | Some(libc::ENOTDIR) => changed(),
                _ => context(e, format!("cannot open the folder of {shown}")),
            })?;
        let metadata = opened.metadata()?;
        if metadata.uid() != owner || metadata.mode() & 0o022 != 0 {
            return Err(changed());
        }
        Ok(PinnedFolder {
            path: PathBuf::from(format!("/proc/self/fd/{}", opened.as_raw_fd())),
            _folder: opened,
        })
    }
}

#[cfg(not(unix))]
struct PinnedFolder {
    path: PathBuf,
}

#[cfg(not(unix))]
impl PinnedFolder {
    fn open(folder: &Path, _owner: u32, _shown: &str) -> io::Result<PinnedFolder> {
        Ok(PinnedFolder {
            path: folder.to_path_buf(),
        })
    }
}

/// For root: why a file of another user's in a folder of that user's alone is not written:
/// the folders above it are not that user's alone up to a folder of root's alone (as
/// `/var/lib/fbl/exports` is, from `/var/lib`), so another user than root could have set
/// the folder up. Names the folder that breaks the chain and the other way: running the
/// command as that user. None when the rule is not what refuses the file (not root, not a
/// folder of the file's owner alone).
#[cfg(unix)]
fn owners_subfolder(folder: &Path, file: &fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let private = |m: &fs::Metadata| m.mode() & 0o022 == 0;
    let owner = file.uid();
    let dir = fs::metadata(folder).ok()?;
    if euid() != 0 || owner == 0 || dir.uid() != owner || !private(&dir) {
        return None;
    }
    let real = folder.canonicalize().ok()?;
    let stop = real
        .ancestors()
        .find(|at| !fs::metadata(at).is_ok_and(|m| m.uid() == owner && private(&m)))?;
    let name = user_name(owner);
    let user = shell_word(&name);
    // The chain is sound: what is missing is the way to write in it held open.
    if fs::metadata(stop).is_ok_and(|m| m.uid() == 0 && private(&m))
        && !Path::new("/proc/self/fd").is_dir()
    {
        return Some(format!(
            "it is owned by {name} (uid {owner}), as its folder {} is, and fbl runs as root: \
             root writes over another user's file in a subfolder of that user's only through \
             the folder held open, named in /proc/self/fd, which is not there (mount /proc), \
             or run the command as {name} (`runuser -u {user} -- fbl ...`)",
            folder.display(),
        ));
    }
    let above = match fs::metadata(stop) {
        Ok(m) if m.uid() != 0 => format!("{}, above it, is uid {}'s", stop.display(), m.uid()),
        Ok(m) => format!(
            "{}, above it, may be written by others than root (mode {:04o})",
            stop.display(),
            m.mode() & 0o7777
        ),
        Err(_) => format!("{}, above it, cannot be looked at", stop.display()),
    };
    Some(format!(
        "it is owned by {name} (uid {owner}), as its folder {} is, and fbl runs as root: root \
         writes over another user's file only in folders of that user's alone down from a \
         folder of root's alone (as /var/lib/fbl/exports, from /var/lib); here {above}, so \
         another user than root could have set the folder up to be given the list; put the \
         file in such a folder, or run the command as {name} (`runuser -u {user} -- fbl ...`)",
        folder.display(),
    ))
}

#[cfg(not(unix))]
pub fn planted_by_another_user(_path: &Path) -> Option<String> {
    None
}

/// Whether any user may change the names in `folder`: writable by all, without the sticky
/// bit.
#[cfg(unix)]
fn open_to_all(folder: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(folder).is_ok_and(|m| m.mode() & 0o002 != 0 && m.mode() & 0o1000 == 0)
}

/// Why a symbolic link among `links` (followed on the way to a file) must not be followed:
/// it is not this user's or root's, or it is in a folder every user may change.
#[cfg(unix)]
fn other_users_link(links: &[PathBuf], to_do: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let user = euid();
    for link in links {
        let Ok(metadata) = fs::symlink_metadata(link) else {
            continue;
        };
        if !is_fbl_or_root(metadata.uid()) {
            return Some(format!(
                "{} is a symbolic link owned by uid {}, another user than fbl's (uid {user}) \
                 or root: fbl does not follow another user's link (it could lead to any \
                 file); {to_do}",
                link.display(),
                metadata.uid()
            ));
        }
        if let Some(parent) = link.parent()
            && open_to_all(parent)
        {
            return Some(format!(
                "the symbolic link {} is in {}, which every user may change (writable by all, \
                 without the sticky bit); write to a folder other users cannot change",
                link.display(),
                parent.display()
            ));
        }
    }
    None
}

/// When `existing`, a file in `folder`, is neither this user's nor root's and `folder` is
/// one others may write to (another user's, or group or world writable): says so.
#[cfg(unix)]
fn other_users_file(folder: &Path, existing: Option<&fs::Metadata>) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let existing = existing.filter(|m| !m.is_dir() && !is_fbl_or_root(m.uid()))?;
    let others_write =
        fs::metadata(folder).is_ok_and(|m| !is_fbl_or_root(m.uid()) || m.mode() & 0o022 != 0);
    others_write.then(|| {
        format!(
            "it exists and is owned by uid {}, another user than fbl's (uid {}) or root, in a \
             folder other users may write to",
            existing.uid(),
            euid()
        )
    })
}

/// Writes to a descriptor this process has open, through a buffer, on a duplicate of it: the
/// descriptor is neither reopened (which would truncate or restart a `>>` file) nor closed.
#[cfg(unix)]
fn write_descriptor<T>(
    descriptor: i32,
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    use std::os::fd::FromRawFd;
    // SAFETY: fcntl with F_DUPFD_CLOEXEC only reads the descriptor number; a descriptor that
    // is not open gives -1 (EBADF) and nothing else happens.
    let duplicate = unsafe { libc::fcntl(descriptor, libc::F_DUPFD_CLOEXEC, 0) };
    if duplicate < 0 {
        return Err(context(
            io::Error::last_os_error(),
            format!(
                "cannot write {}: descriptor {descriptor} is not open",
                path.display()
            ),
        ));
    }
    // SAFETY: `duplicate` is a new descriptor owned by nothing else; the File closes it.
    let file = unsafe { File::from_raw_fd(duplicate) };
    let mut buffer = BufWriter::with_capacity(64 * 1024, file);
    let value = write(&mut buffer)?;
    buffer
        .flush()
        .map_err(|e| context(e, format!("cannot write {}", path.display())))?;
    Ok(value)
}

#[cfg(not(unix))]
fn write_descriptor<T>(
    _descriptor: i32,
    path: &Path,
    _write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "cannot write {}: descriptors are not supported here",
            path.display()
        ),
    ))
}

/// Writes to a device, a pipe or a socket as it is, through a buffer.
fn write_through<T>(
    path: &Path,
    shown: &str,
    write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
) -> io::Result<T> {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| context(e, format!("cannot open {shown}")))?;
    let mut buffer = BufWriter::with_capacity(64 * 1024, file);
    let value = write(&mut buffer)?;
    buffer
        .flush()
        .map_err(|e| context(e, format!("cannot write {shown}")))?;
    Ok(value)
}

/// The name of a temporary file for `file_name`: `.NAME.PID.N.tmp`, with NAME cut short
/// when the whole would be longer than a file name may be.
fn temporary_name(file_name: &OsStr, process: u32, call: u64) -> OsString {
    let suffix = format!(".{process}.{call}.tmp");
    let bytes = file_name.as_encoded_bytes();
    let room = NAME_MAX.saturating_sub(1 + suffix.len());
    let mut name = OsString::from(".");
    if bytes.len() <= room {
        name.push(file_name);
    } else {
        // Cut on a character boundary where the name is UTF-8; other bytes are kept as they
        // are (a Unix file name is bytes).
        let mut cut = room;
        if let Ok(text) = std::str::from_utf8(bytes) {
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
        }
        name.push(bytes_to_os(&bytes[..cut]));
    }
    name.push(suffix);
    name
}

#[cfg(unix)]
fn bytes_to_os(bytes: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    OsStr::from_bytes(bytes).to_os_string()
}

#[cfg(not(unix))]
fn bytes_to_os(bytes: &[u8]) -> OsString {
    OsString::from(String::from_utf8_lossy(bytes).into_owned())
}

/// The process id in `name` when it is a temporary file of `file_name` as
/// [`temporary_name`] makes them: `.NAME.PID.N.tmp`, NAME whole or cut short to fill the
/// longest file name.
fn temporary_process(name: &OsStr, file_name: &OsStr) -> Option<u32> {
    let bytes = name.as_encoded_bytes();
    let inner = bytes.strip_prefix(b".")?.strip_suffix(b".tmp")?;
    let mut fields = inner.rsplitn(3, |b| *b == b'.');
    let call = fields.next()?;
    let process = fields.next()?;
    let stem = fields.next()?;
    let digits = |field: &[u8]| !field.is_empty() && field.iter().all(u8::is_ascii_digit);
    if !digits(call) || !digits(process) {
        return None;
    }
    let whole = file_name.as_encoded_bytes();
    let same = stem == whole
        || (whole.len() > stem.len() && whole.starts_with(stem) && bytes.len() >= NAME_MAX - 3);
    if !same {
        return None;
    }
    std::str::from_utf8(process).ok()?.parse().ok()
}

/// Whether a process with this id runs (or may: one that cannot be signalled is taken as
/// running).
#[cfg(unix)]
fn process_is_alive(process: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(process) else {
        return true;
    };
    if pid <= 0 {
        return true;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == 0 || io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(not(unix))]
fn process_is_alive(_process: u32) -> bool {
    true
}

/// Removes the temporary files of this output (the exact name pattern fbl makes for it)
/// that a killed run left behind: those of a process id that is not running, old enough
/// not to be a live writer's. Best effort: what cannot be removed stays.
fn remove_stale_temporaries(folder: &Path, file_name: &OsStr) {
    let Ok(entries) = fs::read_dir(folder) else {
        return;
    };
    let own = std::process::id();
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(process) = temporary_process(&name, file_name) else {
            continue;
        };
        if process == own || process_is_alive(process) {
            continue;
        }
        let Ok(metadata) = entry.metadata() else {
            continue;
        };
        let old_enough = metadata
            .modified()
            .ok()
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|age| age >= STALE_TEMPORARY_AGE);
        if metadata.is_file() && old_enough {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Creates a new temporary file beside the target, stepping over names that are taken (for
/// example by a crashed run that had the same process id).
fn create_temporary(folder: &Path, file_name: &OsStr, shown: &str) -> io::Result<(File, PathBuf)> {
    let process = std::process::id();
    let mut attempts = 0;
    loop {
        let call = NEXT_TEMPORARY.fetch_add(1, Ordering::Relaxed);
        let temporary = folder.join(temporary_name(file_name, process, call));
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
                            "cannot create a temporary file for {shown} in {}",
                            folder.display()
                        ),
                    ));
                }
            }
            // A folder that does not exist is said so, by name: fbl never makes it (a
            // mistyped `/etc/postfx/` would put the map where nothing reads it).
            Err(error) if error.kind() == io::ErrorKind::NotFound && !folder.is_dir() => {
                return Err(io::Error::new(
                    error.kind(),
                    format!(
                        "cannot create a temporary file for {shown}: its folder {} does not \
                         exist (fbl does not create folders: check the path, or create it)",
                        folder.display()
                    ),
                ));
            }
            Err(error) => {
                return Err(context(
                    error,
                    format!(
                        "cannot create a temporary file for {shown} in {}",
                        folder.display()
                    ),
                ));
            }
        }
    }
}

/// Gives the new file the group of the file it replaces, and its owner too when running as
/// root (nobody else may give a file away). A group this user may not give (one it is not a
/// member of, the new file not having it from a set-group-ID folder) is left as the new file
/// has it, and said in the [`GroupLost`] handed back: the mode set after is the old one, so
/// the file is at most as open as a new file of this user's, but a reader that read it
/// through the old group (a list manager's user) can no longer.
#[cfg(unix)]
fn keep_owner(file: &File, old: &fs::Metadata, real: &Path) -> io::Result<Option<GroupLost>> {
    use std::os::unix::fs::MetadataExt;
    let new = file.metadata()?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let owner = (root && new.uid() != old.uid()).then(|| old.uid());
    let group = (new.gid() != old.gid()).then(|| old.gid());
    if owner.is_none() && group.is_none() {
        return Ok(None);
    }
    match std::os::unix::fs::fchown(file, owner, group) {
        Err(error) if error.raw_os_error() == Some(libc::EPERM) => {}
        other => other?,
    }
    // What the file has now, whatever the reason it is not the old group (EPERM, or a
    // file system that ignores the change).
    let now = file.metadata()?.gid();
    if now == old.gid() || !readers_lost(old.mode(), old.gid()) {
        return Ok(None);
    }
    Ok(Some(GroupLost {
        path: real.to_path_buf(),
        had_group: group_name(old.gid()),
        had_gid: old.gid(),
        group: group_name(now),
        gid: now,
        // SAFETY: geteuid has no preconditions and cannot fail.
        user: user_name(unsafe { libc::geteuid() }),
    }))
}

/// Whether a file of `mode` and group `gid`, given another group, shuts readers out: only
/// when its group could read it and every user could not (a 0644 file is read by the list
/// manager as "every user" still; a 0600 one never was through its group). Group root
/// (gid 0) is left out: its members are root's equals, and fbl's user is not to be added.
fn readers_lost(mode: u32, gid: u32) -> bool {
    gid != 0 && mode & 0o040 != 0 && mode & 0o004 == 0
}

#[cfg(not(unix))]
fn keep_owner(_file: &File, _old: &fs::Metadata, _real: &Path) -> io::Result<Option<GroupLost>> {
    Ok(None)
}

/// A file replaced that had a group the new version could not be given: this process's user
/// is not a member of it, and the folder is not set-group-ID to it. Whoever read the file
/// through that group (a list manager, user `list`, given the export by `chgrp list`) can no
/// longer read it, and nothing else would say so.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GroupLost {
    /// The file replaced (its links followed).
    pub path: PathBuf,
    /// The group the file had, by name (its number when the system has no name for it).
    pub had_group: String,
    pub had_gid: u32,
    /// The group the file has now: this user's, or its folder's.
    pub group: String,
    pub gid: u32,
    /// The user fbl runs as.
    pub user: String,
}

impl GroupLost {
    /// One line: the file, the group it had and the one it has now, and the two ways to let
    /// that group's users read it again.
    pub fn message(&self) -> String {
        let file = self.path.display();
        let folder = match self.path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => Path::new("/"),
        };
        let (folder, path) = (
            shell_word(&folder.display().to_string()),
            shell_word(&file.to_string()),
        );
        let (had, user) = (&self.had_group, &self.user);
        // A group without a name is given by its number in the commands.
        let group_arg = if *had == format!("gid {}", self.had_gid) {
            self.had_gid.to_string()
        } else {
            shell_word(had)
        };
        // `usermod` takes a user's name: one without a name here is said by its number.
        let add = if user.starts_with("uid ") {
            format!("Add fbl's user ({user}, which has no name here) to the group")
        } else {
            format!(
                "Add {user} to the group (`usermod -aG {group_arg} {}`)",
                shell_word(user)
            )
        };
        format!(
            "{file} had group {had} and now has group {group}: fbl's user {user} is not a \
             member of group {had}, so it cannot give the new file that group, and the users of \
             group {had} (a list manager) can no longer read it. {add} or make the folder \
             set-group-ID to it (`chgrp {group_arg} {folder}; chmod g+s {folder}`), then give \
             the file its group back once (`chgrp {group_arg} {path}`)",
            group = self.group,
        )
    }
}

/// A word as a shell takes it: as it is when it holds only characters no shell treats
/// specially, else in single quotes.
fn shell_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+:@%,=".contains(&b));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// A user's name, or `uid N` when the system has no name for it.
#[cfg(unix)]
pub(crate) fn user_name(uid: u32) -> String {
    let mut buffer = vec![0 as libc::c_char; 4096];
    // SAFETY: an all-zero passwd is a valid value for getpwuid_r to fill in.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: the buffer and entry outlive the call; the name is copied before they go.
    unsafe {
        let status = libc::getpwuid_r(
            uid,
            &mut entry,
            buffer.as_mut_ptr(),
            buffer.len(),
            &mut found,
        );
        if status == 0 && !found.is_null() && !entry.pw_name.is_null() {
            return std::ffi::CStr::from_ptr(entry.pw_name)
                .to_string_lossy()
                .into_owned();
        }
    }
    format!("uid {uid}")
}

/// A group's name, or `gid N` when the system has no name for it.
#[cfg(unix)]
pub(crate) fn group_name(gid: u32) -> String {
    // A group with many members takes a big buffer: grow it while the call says so.
    let mut size = 16 * 1024;
    loop {
        let mut buffer = vec![0 as libc::c_char; size];
        // SAFETY: an all-zero group is a valid value for getgrgid_r to fill in.
        let mut entry: libc::group = unsafe { std::mem::zeroed() };
        let mut found: *mut libc::group = std::ptr::null_mut();
        // SAFETY: the buffer and entry outlive the call; the name is copied before they go.
        unsafe {
            let status = libc::getgrgid_r(
                gid,
                &mut entry,
                buffer.as_mut_ptr(),
                buffer.len(),
                &mut found,
            );
            if status == libc::ERANGE && size < 1 << 24 {
                size *= 4;
                continue;
            }
            if status == 0 && !found.is_null() && !entry.gr_name.is_null() {
                return std::ffi::CStr::from_ptr(entry.gr_name)
                    .to_string_lossy()
                    .into_owned();
            }
        }
        return format!("gid {gid}");
    }
}

/// Gives the new file the old file's permissions, or 0640 (the list holds personal data:
/// owner and group only). Set explicitly, after the owner (a change of owner clears the
/// set-id bits), so that the umask does not take bits away from the old file's mode.
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
    fn the_same_content_leaves_the_file_as_it_was() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("list.txt");
        write_atomically(&path, |out| out.write_all(b"a@example.com\n")).unwrap();
        let before = fs::metadata(&path).unwrap();
        write_atomically(&path, |out| out.write_all(b"a@example.com\n")).unwrap();
        let after = fs::metadata(&path).unwrap();
        assert_eq!(after.ino(), before.ino(), "the same file, not a new one");
        assert_eq!(names_in(dir.path()), ["list.txt"], "no temporary file left");
        // Other bytes, even as many, replace it.
        write_atomically(&path, |out| out.write_all(b"b@example.com\n")).unwrap();
        assert_ne!(fs::metadata(&path).unwrap().ino(), before.ino());
        assert_eq!(fs::read(&path).unwrap(), b"b@example.com\n");
        assert_eq!(names_in(dir.path()), ["list.txt"]);
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
        assert!(
            message.contains(&format!(
                "its folder {} does not exist",
                folder.path().join("no-such-folder").display()
            )),
            "{message}"
        );
        assert!(!folder.path().join("no-such-folder").exists());
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

    #[test]
    fn standard_streams_and_descriptors_resolve_to_the_descriptor() {
        // Resolution only: nothing here writes to these paths.
        for (path, descriptor) in [
            ("/dev/stdout", 1),
            ("/dev/stderr", 2),
            ("/dev/stdin", 0),
            ("/dev/fd/7", 7),
            ("/proc/self/fd/3", 3),
            ("/proc/thread-self/fd/5", 5),
        ] {
            assert_eq!(
                resolve_output(Path::new(path)).unwrap(),
                OutputTarget::Descriptor(descriptor),
                "{path}"
            );
        }
        let own = format!("/proc/{}/fd/4", std::process::id());
        assert_eq!(
            resolve_output(Path::new(&own)).unwrap(),
            OutputTarget::Descriptor(4)
        );
        if std::process::id() != 1 {
            let error = resolve_output(Path::new("/proc/1/fd/1")).unwrap_err();
            assert!(error.to_string().contains("another process"), "{error}");
        }

        // A user's links to them, relative ones and chains included.
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("mystdout");
        std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
        let chain = dir.path().join("chain");
        std::os::unix::fs::symlink("mystdout", &chain).unwrap();
        let via_dev = dir.path().join("err");
        std::os::unix::fs::symlink("/dev/stderr", &via_dev).unwrap();
        assert_eq!(resolve_output(&link).unwrap(), OutputTarget::Descriptor(1));
        assert_eq!(resolve_output(&chain).unwrap(), OutputTarget::Descriptor(1));
        assert_eq!(
            resolve_output(&via_dev).unwrap(),
            OutputTarget::Descriptor(2)
        );

        // Anything else resolves to a path with its links followed.
        let real = fs::canonicalize(dir.path()).unwrap();
        fs::create_dir(real.join("sub")).unwrap();
        std::os::unix::fs::symlink("sub/target.csv", real.join("link.csv")).unwrap();
        assert_eq!(
            resolve_output(&dir.path().join("link.csv")).unwrap(),
            OutputTarget::Path(real.join("sub/target.csv"))
        );
        assert_eq!(
            resolve_output(&dir.path().join("sub/../x/./y.csv")).unwrap(),
            OutputTarget::Path(real.join("x/y.csv"))
        );
        let looped = dir.path().join("loop");
        std::os::unix::fs::symlink("loop", &looped).unwrap();
        assert!(resolve_output(&looped).is_err());
    }

    #[test]
    fn a_link_to_an_open_descriptor_is_written_to_not_replaced_or_truncated() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let sink = dir.path().join("sink.txt");
        fs::write(&sink, "before\n").unwrap();
        // As `>> sink.txt` opens it.
        let open = OpenOptions::new().append(true).open(&sink).unwrap();
        let link = dir.path().join("mystdout");
        std::os::unix::fs::symlink(format!("/proc/self/fd/{}", open.as_raw_fd()), &link).unwrap();

        write_atomically(&link, |out| out.write_all(b"a@example.com\n")).unwrap();
        write_atomically(&link, |out| out.write_all(b"b@example.com\n")).unwrap();

        assert_eq!(
            fs::read_to_string(&sink).unwrap(),
            "before\na@example.com\nb@example.com\n"
        );
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(names_in(dir.path()), ["mystdout", "sink.txt"]);
        // Still open: the write used a duplicate of it.
        drop(open);

        let closed = dir.path().join("closed");
        std::os::unix::fs::symlink("/dev/fd/999", &closed).unwrap();
        let error = write_atomically(&closed, |out| out.write_all(b"x")).unwrap_err();
        assert!(
            error.to_string().contains("descriptor 999 is not open"),
            "{error}"
        );
    }

    #[test]
    fn a_link_to_a_file_is_followed_and_its_target_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        fs::create_dir(&sub).unwrap();
        fs::write(sub.join("target.csv"), "old\n").unwrap();
        let link = dir.path().join("link.csv");
        std::os::unix::fs::symlink("sub/target.csv", &link).unwrap();

        write_atomically(&link, |out| out.write_all(b"new\n")).unwrap();

        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(sub.join("target.csv")).unwrap(), b"new\n");
        assert_eq!(names_in(dir.path()), ["link.csv", "sub"]);
        assert_eq!(names_in(&sub), ["target.csv"]);

        // A link to nothing yet: the file is made where it points.
        let dangling = dir.path().join("later.csv");
        std::os::unix::fs::symlink("sub/later.csv", &dangling).unwrap();
        write_atomically(&dangling, |out| out.write_all(b"first\n")).unwrap();
        assert!(
            fs::symlink_metadata(&dangling)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(sub.join("later.csv")).unwrap(), b"first\n");
    }

    #[cfg(unix)]
    #[test]
    fn keeps_the_group_and_as_root_the_owner_of_the_file_it_replaces() {
        use std::os::unix::fs::MetadataExt;
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("g.csv");
        fs::write(&path, "old\n").unwrap();
        let root = unsafe { libc::geteuid() } == 0;
        let (owner, group) = if root {
            (Some(4321), 4322)
        } else {
            // A group of this user's other than the one a new file gets, if there is one.
            let mut groups = vec![0 as libc::gid_t; 256];
            let count = unsafe { libc::getgroups(256, groups.as_mut_ptr()) };
            let current = fs::metadata(&path).unwrap().gid();
            match groups[..count.max(0) as usize]
                .iter()
                .find(|g| **g != current)
            {
                Some(group) => (None, *group),
                None => return,
            }
        };
        std::os::unix::fs::chown(&path, owner, Some(group)).unwrap();
        fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();

        write_atomically(&path, |out| out.write_all(b"new\n")).unwrap();

        let metadata = fs::metadata(&path).unwrap();
        assert_eq!(metadata.gid(), group);
        if let Some(owner) = owner {
            assert_eq!(metadata.uid(), owner);
        }
        assert_eq!(metadata.mode() & 0o7777, 0o640);
        assert_eq!(fs::read(&path).unwrap(), b"new\n");
    }

    /// The line said of a file that lost its group gives commands a shell runs as they are:
    /// a path with a space or a quote quoted, a group without a name by its number.
    #[test]
    fn a_lost_group_is_said_with_commands_that_run_as_given() {
        let lost = GroupLost {
            path: PathBuf::from("/srv/lists of jo's/block list.csv"),
            had_group: "gid 4242".to_string(),
            had_gid: 4242,
            group: "fbl".to_string(),
            gid: 999,
            user: "fbl".to_string(),
        };
        let text = lost.message();
        assert!(
            text.starts_with(
                "/srv/lists of jo's/block list.csv had group gid 4242 and now has group fbl: \
                 fbl's user fbl is not a member of group gid 4242"
            ),
            "{text}"
        );
        for command in [
            "`usermod -aG 4242 fbl`",
            "`chgrp 4242 '/srv/lists of jo'\\''s'; chmod g+s '/srv/lists of jo'\\''s'`",
            "`chgrp 4242 '/srv/lists of jo'\\''s/block list.csv'`",
        ] {
            assert!(text.contains(command), "{command} not in {text}");
        }
        // A user without a name: no `usermod` command that cannot work.
        let nameless = GroupLost {
            user: "uid 1000".to_string(),
            ..lost
        }
        .message();
        assert!(!nameless.contains("usermod"), "{nameless}");
        assert!(
            nameless.contains("Add fbl's user (uid 1000, which has no name here) to the group"),
            "{nameless}"
        );
    }

    /// The old file swapped for a FIFO (or another file) after it was looked at: the
    /// comparison reads neither, and does not wait on the FIFO (root did, for good, holding
    /// the store's lock, in a service user's folder).
    #[cfg(unix)]
    #[test]
    fn the_same_content_check_reads_only_the_files_it_looked_at() {
        let dir = tempfile::tempdir().unwrap();
        let (new, old) = (dir.path().join("new"), dir.path().join("old"));
        fs::write(&new, "same\n").unwrap();
        fs::write(&old, "same\n").unwrap();
        let (new_meta, old_meta) = (fs::metadata(&new).unwrap(), fs::metadata(&old).unwrap());
        assert!(same_content(&new, &new_meta, &old, &old_meta).unwrap());

        // Another file with the same bytes in its place (the one looked at moved aside, so
        // that its inode is not given to the new one): not the file looked at.
        fs::rename(&old, dir.path().join("moved")).unwrap();
        fs::write(&old, "same\n").unwrap();
        assert!(!same_content(&new, &new_meta, &old, &old_meta).unwrap());

        // A FIFO: answered at once, not waited on.
        fs::remove_file(&old).unwrap();
        let name = std::ffi::CString::new(old.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let (sender, receiver) = std::sync::mpsc::channel();
        let (new2, old2) = (new.clone(), old.clone());
        std::thread::spawn(move || {
            let _ = sender.send(same_content(&new2, &new_meta, &old2, &old_meta).ok());
        });
        let answer = receiver
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("the comparison waited on a FIFO");
        assert_eq!(answer, Some(false));
    }

    /// Said only when the group could read the file and every user could not; never for
    /// group root.
    #[test]
    fn a_group_is_lost_only_for_readers_it_let_in() {
        assert!(readers_lost(0o640, 38));
        assert!(readers_lost(0o660, 38));
        assert!(!readers_lost(0o644, 38), "every user reads it still");
        assert!(!readers_lost(0o600, 38), "the group never read it");
        assert!(!readers_lost(0o640, 0), "group root");
    }

    /// A user other than this one and root (`nobody`).
    const OTHER_USER: u32 = 65534;

    fn is_root() -> bool {
        unsafe { libc::geteuid() == 0 }
    }

    fn chmod(path: &Path, mode: u32) {
        fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(mode)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_link_of_another_user_is_refused_and_its_target_left_alone() {
        if !is_root() {
            return;
        }
        let folder = tempfile::tempdir().unwrap();
        let shared = folder.path().join("shared");
        fs::create_dir(&shared).unwrap();
        chmod(&shared, 0o1777);
        let victim = folder.path().join("victim");
        fs::write(&victim, "root only\n").unwrap();
        let link = shared.join("postfix-access");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(OTHER_USER), Some(OTHER_USER)).unwrap();

        let error = write_atomically(&link, |out| out.write_all(b"list\n")).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
        let text = error.to_string();
        assert!(text.contains(&link.display().to_string()), "{text}");
        assert!(text.contains("owned by uid 65534"), "{text}");
        assert_eq!(fs::read(&victim).unwrap(), b"root only\n");
        assert!(
            fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );

        // The same link of root's, in the same folder: followed, as documented.
        std::os::unix::fs::lchown(&link, Some(0), Some(0)).unwrap();
        write_atomically(&link, |out| out.write_all(b"list\n")).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"list\n");
    }

    #[cfg(unix)]
    #[test]
    fn a_file_of_another_user_in_a_folder_others_write_is_refused() {
        use std::os::unix::fs::MetadataExt;
        if !is_root() {
            return;
        }
        let folder = tempfile::tempdir().unwrap();
        let shared = folder.path().join("shared");
        fs::create_dir(&shared).unwrap();
        chmod(&shared, 0o1777);
        let path = shared.join("suppressions.csv");
        fs::write(&path, "").unwrap();
        std::os::unix::fs::chown(&path, Some(OTHER_USER), Some(OTHER_USER)).unwrap();
        chmod(&path, 0o666);

        let error = write_atomically(&path, |out| out.write_all(b"a@example.com\n")).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("owned by uid 65534"), "{text}");
        assert_eq!(fs::read(&path).unwrap(), b"");
        assert_eq!(names_in(&shared), vec!["suppressions.csv"]);

        // Removed, the list is written, this user's and not readable by others.
        fs::remove_file(&path).unwrap();
        write_atomically(&path, |out| out.write_all(b"a@example.com\n")).unwrap();
        let metadata = fs::metadata(&path).unwrap();
        assert_eq!(metadata.uid(), 0);
        assert_eq!(metadata.mode() & 0o777, 0o640);

        // In a folder only root may change, a file of another user's keeps its owner.
        let closed = folder.path().join("closed");
        fs::create_dir(&closed).unwrap();
        chmod(&closed, 0o755);
        let kept = closed.join("list.csv");
        fs::write(&kept, "").unwrap();
        std::os::unix::fs::chown(&kept, Some(OTHER_USER), None).unwrap();
        write_atomically(&kept, |out| out.write_all(b"a\n")).unwrap();
        assert_eq!(fs::metadata(&kept).unwrap().uid(), OTHER_USER);
    }

    #[cfg(unix)]
    #[test]
    fn a_folder_every_user_may_change_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let open = folder.path().join("open");
        fs::create_dir(&open).unwrap();
        chmod(&open, 0o777);
        let path = open.join("list.csv");
        let error = write_atomically(&path, |out| out.write_all(b"a\n")).unwrap_err();
        let text = error.to_string();
        assert!(text.contains("may be changed by every user"), "{text}");
        assert!(text.contains(&open.display().to_string()), "{text}");
        assert!(!path.exists());
        // With the sticky bit (as /tmp), a new file is written.
        chmod(&open, 0o1777);
        write_atomically(&path, |out| out.write_all(b"a\n")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"a\n");
    }

    /// The output's own folder is closed, but a folder above it is open to every user: anyone
    /// could rename the closed one away and put their own in its place (with a link in it to
    /// a file of fbl's user). Used to be written; refused, naming the open folder.
    #[test]
    fn a_folder_above_that_every_user_may_change_is_refused() {
        let folder = tempfile::tempdir().unwrap();
        let open = folder.path().join("open");
        let closed = open.join("closed");
        fs::create_dir_all(&closed).unwrap();
        chmod(&open, 0o777);
        chmod(&closed, 0o755);
        let path = closed.join("list.csv");
        let error = write_atomically(&path, |out| out.write_all(b"a\n")).unwrap_err();
        let text = error.to_string();
        assert!(
            text.starts_with(&format!(
                "cannot write {}: {}, a folder above its folder {}, may be changed by every user",
                path.display(),
                open.display(),
                closed.display()
            )),
            "{text}"
        );
        assert!(!path.exists());
        // With the sticky bit (as /tmp), nobody else may rename the folder: it is written.
        chmod(&open, 0o1777);
        write_atomically(&path, |out| out.write_all(b"a\n")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"a\n");
    }

    /// The id of a process that has ended.
    /// Root over a service user's export in a subfolder of that user's folder
    /// (`/var/lib/fbl/exports`): written, a file there kept that user's with its mode,
    /// through the folder held open. That user swapping the subfolder for a link to a folder
    /// of root's (`/etc`) between the checks and the rename does not make root write there:
    /// the new file is in the folder checked, wherever it was moved. The same for a new file.
    #[test]
    fn as_root_a_service_users_subfolder_swapped_before_the_rename_is_not_followed() {
        use std::os::unix::fs::MetadataExt;
        if !is_root() {
            return;
        }
        for existed in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let own = dir.path().join("svc");
            let exports = own.join("exports");
            fs::create_dir_all(&exports).unwrap();
            let file = exports.join("list.txt");
            let mut owned = vec![(&own, 0o750), (&exports, 0o755)];
            if existed {
                fs::write(&file, "old@example.org\n").unwrap();
                owned.push((&file, 0o640));
            }
            for (path, mode) in owned {
                std::os::unix::fs::chown(path, Some(65534), Some(65534)).unwrap();
                chmod(path, mode);
            }
            let victim = dir.path().join("etc");
            fs::create_dir(&victim).unwrap();

            let ((), prepared) =
                prepare_atomically(&file, |out| out.write_all(b"jane@example.org\n")).unwrap();
            fs::rename(&exports, own.join("moved")).unwrap();
            std::os::unix::fs::symlink(&victim, &exports).unwrap();
            prepared.put_in_place().unwrap();

            assert!(names_in(&victim).is_empty(), "{:?}", names_in(&victim));
            let written = own.join("moved").join("list.txt");
            assert_eq!(fs::read_to_string(&written).unwrap(), "jane@example.org\n");
            let metadata = fs::metadata(&written).unwrap();
            let owner = if existed { 65534 } else { 0 };
            assert_eq!((metadata.uid(), metadata.mode() & 0o7777), (owner, 0o640));
            assert_eq!(names_in(&own.join("moved")), ["list.txt"]);
        }
    }

    fn dead_process() -> u32 {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let id = child.id();
        child.wait().unwrap();
        id
    }

    #[test]
    fn removes_stale_temporary_files_of_the_same_output_only() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("lm.csv");
        let dead = dead_process();
        let live = std::process::id();
        let hour_ago = SystemTime::now() - Duration::from_secs(3600);
        let make = |name: &str, old: bool| {
            let file = File::create(folder.path().join(name)).unwrap();
            if old {
                file.set_modified(hour_ago).unwrap();
            }
        };
        let stale = format!(".lm.csv.{dead}.0.tmp");
        let kept = [
            format!(".lm.csv.{live}.0.tmp"),      // a live process
            format!(".lm.csv.{dead}.x.tmp"),      // not the pattern
            format!(".lm.csv.bak.{dead}.0.tmp"),  // another output's
            format!(".other.csv.{dead}.0.tmp"),   // another output's
            format!("lm.csv.{dead}.0.tmp"),       // not hidden: not fbl's
            format!(".lm.csv.{dead}.1.tmp.keep"), // not the pattern
        ];
        make(&stale, true);
        for name in &kept {
            make(name, true);
        }
        let recent = format!(".lm.csv.{dead}.2.tmp");
        make(&recent, false);

        write_atomically(&path, |out| out.write_all(b"new\n")).unwrap();

        let names = names_in(folder.path());
        assert!(!names.contains(&stale), "{names:?}");
        for name in kept.iter().chain([&recent]) {
            assert!(names.contains(name), "{name} removed: {names:?}");
        }
        assert!(names.contains(&"lm.csv".to_string()));
    }

    #[test]
    fn a_long_file_name_gets_a_shortened_temporary_name() {
        let folder = tempfile::tempdir().unwrap();
        let name = "é".repeat(60) + &"l".repeat(125); // 245 bytes
        assert_eq!(name.len(), 245);
        let path = folder.path().join(&name);
        let mut seen = Vec::new();
        write_atomically(&path, |out| {
            seen = names_in(folder.path());
            out.write_all(b"x\n")
        })
        .unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"x\n");
        assert_eq!(names_in(folder.path()), std::slice::from_ref(&name));
        assert_eq!(seen.len(), 1);
        assert!(seen[0].len() <= NAME_MAX, "{}", seen[0]);
        // It is still recognised as this output's when a killed run leaves it.
        let process = temporary_process(OsStr::new(&seen[0]), OsStr::new(&name));
        assert_eq!(process, Some(std::process::id()));
        assert_eq!(
            temporary_process(OsStr::new(&seen[0]), OsStr::new("other")),
            None
        );
    }

    #[test]
    fn a_folder_or_a_trailing_slash_is_an_error_naming_the_path() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("nothere/");
        let error = write_atomically(&path, |out| out.write_all(b"x")).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("cannot write {}", path.display())),
            "{message}"
        );
        assert!(!message.contains(".nothere."), "{message}");
        let sub = folder.path().join("sub");
        fs::create_dir(&sub).unwrap();
        let error = write_atomically(&sub, |out| out.write_all(b"x")).unwrap_err();
        assert!(error.to_string().contains("it is a folder"), "{error}");
        assert_eq!(names_in(folder.path()), ["sub"]);
    }
}
