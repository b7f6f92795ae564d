//! Files and folders another local user controls, with fbl run as root or as its own user
//! (security audit): a link or a file that user put where fbl writes an export or its lock,
//! a FIFO, a device or a link to a file only fbl's user may read in a folder fbl reads, and
//! a quarantined message's escape sequences sent to a terminal.

use crate::support::{arf, fbl, run, stdout};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A user other than this one and root (`nobody`).
const OTHER_USER: u32 = 65534;

fn is_root() -> bool {
    unsafe { libc::geteuid() == 0 }
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `command`, killed (and the test failed) when it takes longer than `limit`: a read
/// that waits forever must fail the test, not hang it.
fn run_within(command: &mut Command, limit: Duration) -> Output {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start fbl");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().unwrap();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{command:?} still ran after {limit:?}; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    eprintln!(
        "$ {command:?}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// An export folder every user may write to (sticky, as /tmp), where another user put a
/// link to a file of root's and an empty file of their own, open to all: root's fbl used to
/// replace root's file with the list and write the list into the other user's file, which
/// kept its owner and mode 0666. Both are refused, named with their owner; a file fbl makes
/// itself there is written.
#[test]
fn exports_to_a_link_or_a_file_another_user_put_in_a_shared_folder_are_refused() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "root only\n").unwrap();
    let link = shared.join("postfix-access");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(OTHER_USER), Some(OTHER_USER)).unwrap();
    let planted = shared.join("suppressions.csv");
    std::fs::write(&planted, "").unwrap();
    std::os::unix::fs::chown(&planted, Some(OTHER_USER), Some(OTHER_USER)).unwrap();
    chmod(&planted, 0o666);
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n\
         [[export]]\nformat = \"postfix\"\npath = \"shared/postfix-access\"\n\n\
         [[export]]\nformat = \"csv\"\npath = \"shared/suppressions.csv\"\n\n\
         [[export]]\nformat = \"plain\"\npath = \"shared/new.txt\"\n",
    )
    .unwrap();
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "suppress",
        "add",
        "jane@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0));

    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("shared/postfix-access is a symbolic link owned by uid 65534"),
        "{stderr}"
    );
    assert!(
        stderr.contains("shared/suppressions.csv: it exists and is owned by uid 65534"),
        "{stderr}"
    );
    assert!(!stderr.contains("  "), "one line each: {stderr}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"root only\n");
    assert_eq!(std::fs::read(&planted).unwrap(), b"");
    assert!(!stderr.contains("jane@example.org"), "{stderr}");
}

/// `STORE.lock` put there by another user as a link to a file of fbl's user: taking the lock
/// used to truncate that file and write the lock holder into it. The link is refused, named.
#[test]
fn a_lock_file_that_is_a_link_is_refused_and_its_target_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    // In a folder every user may write to, as the audit found it: as root, the link is
    // another user's (the kernel may then refuse to open it at all).
    let store = dir.path().join("store");
    std::fs::create_dir(&store).unwrap();
    chmod(&store, 0o1777);
    let link = store.join("fbl.sqlite.lock");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    if is_root() {
        std::os::unix::fs::lchown(&link, Some(OTHER_USER), Some(OTHER_USER)).unwrap();
    }
    let output = run(fbl(dir.path()).args([
        "--db",
        "store/fbl.sqlite",
        "suppress",
        "add",
        "jane@example.org",
    ]));
    assert_ne!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("fbl.sqlite.lock is a symbolic link: fbl does not follow it"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious\n");
}

/// A folder source others may write to, holding a link to /dev/zero, a FIFO and (as root) a
/// link of another user's to a file only root may read: fbl used to read /dev/zero forever,
/// wait forever at the FIFO, and show the secret's first bytes in a quarantine reason. Each
/// is refused and said, the report beside them is stored, and the run ends.
#[test]
fn a_folder_source_reads_only_files_not_a_fifo_a_device_or_another_users_link() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("in");
    std::fs::create_dir(&folder).unwrap();
    chmod(&folder, 0o1777);
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n[[source]]\nname = \"drop\"\npath = \"in\"\n",
    )
    .unwrap();
    std::fs::write(
        folder.join("good.eml"),
        arf("abuse", "jane@example.org", "m1@example.com"),
    )
    .unwrap();
    std::os::unix::fs::symlink("/dev/zero", folder.join("zero.eml")).unwrap();
    let fifo = std::ffi::CString::new(folder.join("fifo.eml").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o666) }, 0);
    let secret = dir.path().join("pw");
    if is_root() {
        std::fs::write(&secret, "PW-file-hunter2\n").unwrap();
        chmod(&secret, 0o600);
        let link = folder.join("secret.eml");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(OTHER_USER), Some(OTHER_USER)).unwrap();
    }

    let output = run_within(
        fbl(dir.path()).args(["--config", "fbl.toml", "run"]),
        Duration::from_secs(60),
    );
    assert_eq!(output.status.code(), Some(1), "read errors need a person");
    let all = format!(
        "{}{}",
        stdout(&output),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(all.contains("zero.eml"), "{all}");
    assert!(all.contains("fifo.eml"), "{all}");
    assert!(all.contains("not a regular file"), "{all}");
    assert!(!all.contains("PW-file"), "{all}");
    if is_root() {
        assert!(
            all.contains("secret.eml: it is a symbolic link owned by uid 65534"),
            "{all}"
        );
    }
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "quarantine", "list", "--all"]));
    assert!(!stdout(&output).contains("PW-file"));
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "suppress",
        "check",
        "jane@example.org",
    ]));
    assert_eq!(
        output.status.code(),
        Some(0),
        "the report beside them is stored"
    );
    assert_eq!(
        std::fs::metadata(folder.join("good.eml")).unwrap().uid(),
        unsafe { libc::geteuid() }
    );
}

/// `fbl ingest /dev/zero`, named by a person: read up to the limit and a bounded amount
/// after it, then said, rather than read forever.
#[test]
fn ingest_of_an_endless_stream_ends_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_within(
        fbl(dir.path()).args(["--db", "fbl.sqlite", "ingest", "/dev/zero"]),
        Duration::from_secs(120),
    );
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    assert!(
        text.contains("cannot read /dev/zero: it goes on for more than 256 MiB past the limit"),
        "{text}"
    );
}

fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `fbl quarantine show ID --raw` with standard output on a terminal (a pseudo-terminal from
/// util-linux `script`): a message's escape sequences (a new window title, a cleared
/// screen) are not written to it; the command says to redirect. To a pipe, the exact bytes.
#[test]
fn quarantine_show_raw_writes_no_escape_sequences_to_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = b"\x1b]0;pwned\x07\x1b[2J\x1b[Hnot a report\n".to_vec();
    std::fs::write(dir.path().join("hostile.eml"), &hostile).unwrap();
    let output = run(fbl(dir.path()).args(["--db", "fbl.sqlite", "ingest", "hostile.eml"]));
    assert_eq!(output.status.code(), Some(1), "quarantined");

    let line = format!(
        "{} --db fbl.sqlite quarantine show 1 --raw",
        quote(env!("CARGO_BIN_EXE_fbl"))
    );
    let mut script = Command::new("script");
    script
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .current_dir(dir.path())
        .env("SHELL", "/bin/sh")
        .env("FBL_NOW", "2026-11-20T08:00:00Z")
        .env_remove("RUST_BACKTRACE");
    let output = run(&mut script);
    assert_ne!(output.status.code(), Some(0));
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert!(!terminal.contains("pwned"), "{terminal:?}");
    assert!(!terminal.contains("\x1b[2J"), "{terminal:?}");
    assert!(
        terminal.contains("Redirect it to a file or a pipe"),
        "{terminal:?}"
    );

    let output =
        run(fbl(dir.path()).args(["--db", "fbl.sqlite", "quarantine", "show", "1", "--raw"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stdout, hostile, "the exact bytes to a pipe");
}

/// The same for a stored report: `fbl store report ID --raw` wrote a sender-written message's
/// bytes, escape sequences and all, to a terminal.
#[test]
fn store_report_raw_writes_no_escape_sequences_to_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let report = std::fs::read(
        crate::support::fixtures().join("reports/yahoo-cfl-x-apparently-to-only.eml"),
    )
    .unwrap();
    let mut hostile = b"X-Note: \x1b]0;pwned\x07\x1b[2J\x1b[H\n".to_vec();
    hostile.extend_from_slice(&report);
    std::fs::write(dir.path().join("hostile.eml"), &hostile).unwrap();
    let output = run(fbl(dir.path()).args(["--db", "fbl.sqlite", "ingest", "hostile.eml"]));
    assert_eq!(output.status.code(), Some(0), "stored: {output:?}");

    let line = format!(
        "{} --db fbl.sqlite store report 1 --raw",
        quote(env!("CARGO_BIN_EXE_fbl"))
    );
    let mut script = Command::new("script");
    script
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .current_dir(dir.path())
        .env("SHELL", "/bin/sh")
        .env("FBL_NOW", "2026-11-20T08:00:00Z")
        .env_remove("RUST_BACKTRACE");
    let output = run(&mut script);
    assert_ne!(output.status.code(), Some(0));
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert!(!terminal.contains("pwned"), "{terminal:?}");
    assert!(
        terminal.contains("fbl store report 1 --raw > message.eml"),
        "{terminal:?}"
    );

    let output = run(fbl(dir.path()).args(["--db", "fbl.sqlite", "store", "report", "1", "--raw"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(output.stdout, hostile, "the exact bytes to a pipe");
}

/// A SQLite store in a folder every user may write to (sticky, as /tmp), where another user
/// put the store's name, or the name of a file SQLite keeps beside it (`-wal`, `-shm`), as a
/// link to a file of root's, or as a file of their own: root's fbl used to open them, writing
/// the store (or its log) into root's file or into a file that user reads. Each is refused
/// (exit 2), named with its owner, and the files are left as they were; root's own store
/// there is used as before.
#[test]
fn a_store_or_its_companions_another_user_put_in_a_shared_folder_are_refused() {
    if !is_root() {
        // Only root can give a file to another user.
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "root only\n").unwrap();
    chmod(&victim, 0o600);
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    chmod(&shared, 0o1777);
    let store = shared.join("fbl.sqlite");
    let add = || {
        run(fbl(dir.path()).args([
            "--db",
            "shared/fbl.sqlite",
            "suppress",
            "add",
            "jane@example.org",
        ]))
    };
    let plant_link = |name: &str| {
        let link = shared.join(name);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        std::os::unix::fs::lchown(&link, Some(OTHER_USER), Some(OTHER_USER)).unwrap();
        link
    };
    let plant_file = |name: &str| {
        let file = shared.join(name);
        std::fs::write(&file, "").unwrap();
        std::os::unix::fs::chown(&file, Some(OTHER_USER), Some(OTHER_USER)).unwrap();
        chmod(&file, 0o666);
        file
    };
    let refused = |says: &str| {
        let output = add();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with("fbl: cannot open store shared/fbl.sqlite: ")
                && stderr.contains(says),
            "{stderr}"
        );
        assert_eq!(std::fs::read(&victim).unwrap(), b"root only\n");
    };

    // The store's own name.
    let link = plant_link("fbl.sqlite");
    refused("fbl.sqlite is a symbolic link owned by uid 65534");
    std::fs::remove_file(&link).unwrap();
    let planted = plant_file("fbl.sqlite");
    refused("fbl.sqlite: it exists and is owned by uid 65534");
    assert_eq!(std::fs::read(&planted).unwrap(), b"", "left as it was");
    std::fs::remove_file(&planted).unwrap();

    // root's own store there is used.
    assert_eq!(add().status.code(), Some(0));
    let metadata = std::fs::metadata(&store).unwrap();
    assert_eq!((metadata.uid(), metadata.mode() & 0o777), (0, 0o600));

    // The files SQLite opens beside it.
    for name in ["fbl.sqlite-wal", "fbl.sqlite-shm"] {
        let link = plant_link(name);
        refused(&format!("{name} is a symbolic link owned by uid 65534"));
        std::fs::remove_file(&link).unwrap();
        let planted = plant_file(name);
        refused(&format!("{name}: it exists and is owned by uid 65534"));
        std::fs::remove_file(&planted).unwrap();
    }
    assert_eq!(add().status.code(), Some(0));
}
