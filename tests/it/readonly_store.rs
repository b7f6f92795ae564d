//! A store fbl cannot write, read all the same by the commands that only read it: a backup
//! in a read-only folder (last night's copy, restored by root for a look), and a store of a
//! newer fbl after a downgrade, when the newer schema says older readers may read it.
//!
//! "Cannot write" is real: as root (CI), fbl runs as `nobody` (setpriv) on files of root's;
//! otherwise the test's own user is kept off the folder and the file by their modes. Either
//! way SQLite cannot make its `-shm` and `-wal` files, nor fbl its lock file.

use crate::store::{Backend, TestStore};
use crate::support::{fbl, run};
use fbl::store::Location;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn running_as_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The schema version this fbl makes: its number of migrations.
fn schema_version() -> i64 {
    std::fs::read_dir(crate::support::root().join("schemas/sqlite"))
        .unwrap()
        .count() as i64
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A folder `backup` in a temporary folder others may pass through, and the store in it.
struct Backup {
    dir: tempfile::TempDir,
    folder: PathBuf,
    store: PathBuf,
}

impl Backup {
    /// A store holding `gone@example.org`, made by fbl as the test's user.
    fn new() -> Backup {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let folder = dir.path().join("backup");
        std::fs::create_dir(&folder).unwrap();
        let store = folder.join("fbl.sqlite");
        let made = run(fbl(dir.path())
            .args(["--db", store.to_str().unwrap()])
            .args(["suppress", "add", "gone@example.org"]));
        assert!(made.status.success());
        Backup { dir, folder, store }
    }

    /// The folder and everything in it made read-only (files readable by all, as a
    /// restored backup often is), as `chmod -R a-w` would.
    fn make_read_only(&self) {
        for entry in std::fs::read_dir(&self.folder).unwrap() {
            chmod(&entry.unwrap().path(), 0o444);
        }
        chmod(&self.folder, 0o555);
    }

    /// fbl on the store, as a user that cannot write it.
    fn fbl(&self, args: &[&str]) -> Output {
        let mut command = if running_as_root() {
            let mut command = Command::new("setpriv");
            command.args([
                "--reuid",
                "nobody",
                "--regid",
                "nogroup",
                "--clear-groups",
                "--",
            ]);
            command.arg(env!("CARGO_BIN_EXE_fbl"));
            command
        } else {
            Command::new(env!("CARGO_BIN_EXE_fbl"))
        };
        command
            .current_dir(self.dir.path())
            .env_remove("RUST_BACKTRACE")
            .env("FBL_NOW", "2026-11-20T08:00:00Z")
            .args(["--db", self.store.to_str().unwrap()])
            .args(args);
        run(&mut command)
    }

    /// The names in the folder, sorted.
    fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.folder)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Backup {
    fn drop(&mut self) {
        // So that a test not run as root can remove it.
        chmod(&self.folder, 0o755);
    }
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The postmaster asking "was this address suppressed in last week's backup?": every
/// command that only reads works on a store in a read-only folder, and none of them leaves
/// a file there or changes the store; a command that writes refuses, saying why.
#[test]
fn a_backup_in_a_read_only_folder_is_read_and_left_as_it_was() {
    let backup = Backup::new();
    // No -wal left: fbl checkpoints it when it closes the store.
    let _ = std::fs::remove_file(backup.folder.join("fbl.sqlite.lock"));
    backup.make_read_only();
    let before = std::fs::read(&backup.store).unwrap();
    let files = backup.files();
    assert_eq!(files, ["fbl.sqlite"]);

    let info = backup.fbl(&["store", "info"]);
    assert_eq!(info.status.code(), Some(0), "{}", stderr(&info));
    assert!(stdout(&info).contains("1 suppressed"), "{}", stdout(&info));
    assert!(
        stdout(&info).contains(&format!("schema version {}", schema_version())),
        "{}",
        stdout(&info)
    );

    let check = backup.fbl(&["suppress", "check", "gone@example.org"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert!(stdout(&check).starts_with("gone@example.org suppressed: manual"));
    let other = backup.fbl(&["suppress", "check", "kept@example.org"]);
    assert_eq!(other.status.code(), Some(1), "{}", stderr(&other));
    assert_eq!(stdout(&other), "kept@example.org not suppressed\n");

    let list = backup.fbl(&["suppress", "list"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert!(stdout(&list).starts_with("gone@example.org\tmanual\t"));

    let show = backup.fbl(&["suppress", "show", "gone@example.org"]);
    assert_eq!(show.status.code(), Some(0), "{}", stderr(&show));

    // The report says its figures are those the store holds, as it does not bring them up
    // to date.
    let report = backup.fbl(&["report", "--format", "json"]);
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    assert!(
        stderr(&report).contains("read as it is"),
        "{}",
        stderr(&report)
    );
    serde_json::from_slice::<serde_json::Value>(&report.stdout).unwrap();

    let add = backup.fbl(&["suppress", "add", "new@example.org"]);
    assert_eq!(add.status.code(), Some(2));
    assert!(stderr(&add).contains("is not writable"), "{}", stderr(&add));

    assert_eq!(backup.files(), files, "a file was left beside the backup");
    assert!(
        std::fs::read(&backup.store).unwrap() == before,
        "the backup was changed"
    );
}

/// A copy of a live store taken with its write-ahead log: the -wal holds committed changes
/// the main file does not. With the -shm copied too, SQLite reads it read-only and the
/// changes are seen (an `immutable` open would silently miss them); without the -shm it
/// cannot, and fbl says to copy the store, -wal included, to a writable place.
#[test]
fn a_backup_with_a_write_ahead_log_is_read_with_it_or_refused_saying_what_to_do() {
    let live = Backup::new();
    let writer = rusqlite::Connection::open(&live.store).unwrap();
    writer
        .execute_batch(
            "PRAGMA wal_autocheckpoint = 0;
             UPDATE suppressions SET count = 7 WHERE address = 'gone@example.org';",
        )
        .unwrap();
    let with_shm = Backup::new();
    let without_shm = Backup::new();
    for (backup, suffixes) in [
        (&with_shm, &["", "-wal", "-shm"][..]),
        (&without_shm, &["", "-wal"][..]),
    ] {
        for name in std::fs::read_dir(&backup.folder).unwrap() {
            std::fs::remove_file(name.unwrap().path()).unwrap();
        }
        for suffix in suffixes {
            std::fs::copy(
                format!("{}{suffix}", live.store.display()),
                format!("{}{suffix}", backup.store.display()),
            )
            .unwrap();
        }
        backup.make_read_only();
    }
    drop(writer);
    assert!(
        std::fs::metadata(format!("{}-wal", without_shm.store.display()))
            .unwrap()
            .len()
            > 0
    );

    let list = with_shm.fbl(&["suppress", "list"]);
    assert_eq!(list.status.code(), Some(0), "{}", stderr(&list));
    assert!(
        stdout(&list).contains("\t7\t"),
        "the change in the -wal is not seen: {}",
        stdout(&list)
    );

    let refused = without_shm.fbl(&["suppress", "list"]);
    assert_eq!(refused.status.code(), Some(2));
    let said = stderr(&refused);
    assert!(said.contains("write-ahead log"), "{said}");
    assert!(said.contains("copy it (with its -wal file"), "{said}");
    assert!(stdout(&refused).is_empty(), "{}", stdout(&refused));
}

/// A backup made by an older fbl would need migrating, which a read-only copy cannot be:
/// refused, saying to copy it to a writable place where fbl migrates the copy.
#[test]
fn an_older_backup_in_a_read_only_folder_is_refused_saying_to_copy_it() {
    let backup = Backup::new();
    std::fs::remove_file(&backup.store).unwrap();
    let _ = std::fs::remove_file(backup.folder.join("fbl.sqlite.lock"));
    let older = schema_version() - 1;
    crate::upgrade::sqlite_store_at(&backup.store, older as usize, None, "");
    backup.make_read_only();
    let info = backup.fbl(&["store", "info"]);
    assert_eq!(info.status.code(), Some(2));
    let said = stderr(&info);
    assert!(said.contains(&format!("schema version {older}")), "{said}");
    assert!(said.contains("to a folder you can write"), "{said}");
    assert_eq!(backup.files(), ["fbl.sqlite"]);
}

/// Raises the store's schema version to `version` and its `read_compatible_from` to
/// `from`, as a newer fbl would have.
fn as_if_newer(test: &TestStore, version: i64, from: i64) {
    match &test.location {
        Location::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.pragma_update(None, "user_version", version).unwrap();
            conn.execute(
                "UPDATE read_compatibility SET read_compatible_from = ?1",
                [from],
            )
            .unwrap();
        }
        Location::Postgres(_) => {
            crate::postgres::shared().psql_in(
                &test.database(),
                &format!(
                    "INSERT INTO fbl_schema (version, name) VALUES ({version}, 'from the future') \
                     ON CONFLICT DO NOTHING;
                     UPDATE read_compatibility SET read_compatible_from = {from};"
                ),
            );
        }
    }
}

/// After a downgrade: a store of a newer fbl whose schema says this fbl may read it is read
/// by the commands that only read (and left at its version); commands that write refuse.
/// One whose schema needs a newer reader is refused by all, naming the version needed.
fn a_newer_store_is_read_when_it_says_older_fbl_may(backend: Backend) {
    let test = TestStore::new(backend);
    let ours = schema_version();
    let added = run(test.fbl().args(["suppress", "add", "gone@example.org"]));
    assert!(added.status.success());
    as_if_newer(&test, ours + 2, ours);

    let info = run(test.fbl().args(["store", "info", "--json"]));
    assert_eq!(info.status.code(), Some(0), "{}", stderr(&info));
    let value: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
    assert_eq!(value["schema_version"], ours + 2);
    assert_eq!(value["counts"]["suppressions"], 1);
    let check = run(test.fbl().args(["suppress", "check", "gone@example.org"]));
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let report = run(test.fbl().args(["report", "--format", "json"]));
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));

    let add = run(test.fbl().args(["suppress", "add", "new@example.org"]));
    assert_eq!(add.status.code(), Some(2));
    assert!(
        stderr(&add).contains("newer than this fbl knows")
            && stderr(&add).contains("commands that only read it"),
        "{}",
        stderr(&add)
    );
    let store = fbl::store::Store::open_for_reading(&test.location).unwrap();
    assert_eq!(store.schema_version().unwrap(), ours + 2);
    assert!(
        store.lock().is_err(),
        "a store read as it is was locked for writing"
    );
    drop(store);

    as_if_newer(&test, ours + 2, ours + 1);
    for args in [
        &["store", "info"][..],
        &["suppress", "check", "gone@example.org"],
    ] {
        let refused = run(test.fbl().args(args));
        assert_eq!(refused.status.code(), Some(2));
        assert!(
            stderr(&refused).contains(&format!(
                "only an fbl of schema version {} or later may read it",
                ours + 1
            )),
            "{}",
            stderr(&refused)
        );
    }
}

mod sqlite {
    #[test]
    fn a_newer_store_is_read_when_it_says_older_fbl_may() {
        super::a_newer_store_is_read_when_it_says_older_fbl_may(super::Backend::Sqlite)
    }
}

mod postgres {
    #[test]
    fn a_newer_store_is_read_when_it_says_older_fbl_may() {
        super::a_newer_store_is_read_when_it_says_older_fbl_may(super::Backend::Postgres)
    }
}

/// Root, whom modes do not stop, reading a backup made read-only on purpose (file 0444,
/// folder 0555): it used to take the normal path, migrating the store, refreshing its
/// figures and leaving a lock file beside it. It now reads it as it is, as any user does;
/// and a backup kept by hard links (`cp -al`, rsnapshot), which has two names, is read too.
#[test]
fn root_reads_a_read_only_backup_as_it_is_even_hard_linked() {
    if !running_as_root() {
        return;
    }
    let backup = Backup::new();
    let _ = std::fs::remove_file(backup.folder.join("fbl.sqlite.lock"));
    // The snapshot beside it, sharing the file (rsnapshot's `cp -al`).
    let snapshot = backup.dir.path().join("snapshot");
    std::fs::create_dir(&snapshot).unwrap();
    std::fs::hard_link(&backup.store, snapshot.join("fbl.sqlite")).unwrap();
    backup.make_read_only();
    let before = std::fs::read(&backup.store).unwrap();
    let files = backup.files();
    let as_root = |args: &[&str]| {
        run(fbl(backup.dir.path())
            .env_remove("RUST_BACKTRACE")
            .args(["--db", backup.store.to_str().unwrap()])
            .args(args))
    };
    let check = as_root(&["suppress", "check", "gone@example.org"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    let report = as_root(&["report", "--format", "json"]);
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    let info = as_root(&["store", "info"]);
    assert_eq!(info.status.code(), Some(0), "{}", stderr(&info));
    // A change is refused (here for the second name, before the mode is looked at).
    let add = as_root(&["suppress", "add", "new@example.org"]);
    assert_eq!(add.status.code(), Some(2), "{}", stderr(&add));
    assert_eq!(backup.files(), files, "a file was left beside the backup");
    assert!(
        std::fs::read(&backup.store).unwrap() == before,
        "the backup was changed"
    );
}

/// Root's commands that write leave a backup made read-only on purpose as it is (the file
/// and its folder without write permission for anyone), as every other user's must: root
/// used to write it, migrating it and leaving a lock file, where modes do not stop root.
#[test]
fn root_does_not_write_a_backup_made_read_only() {
    if !running_as_root() {
        return;
    }
    let backup = Backup::new();
    let _ = std::fs::remove_file(backup.folder.join("fbl.sqlite.lock"));
    backup.make_read_only();
    let before = std::fs::read(&backup.store).unwrap();
    let files = backup.files();
    let as_root = |args: &[&str]| {
        run(fbl(backup.dir.path())
            .env_remove("RUST_BACKTRACE")
            .args(["--db", backup.store.to_str().unwrap()])
            .args(args))
    };
    let add = as_root(&["suppress", "add", "new@example.org"]);
    assert_eq!(add.status.code(), Some(2), "{}", stderr(&add));
    assert!(
        stderr(&add).contains("has no write permission for anyone"),
        "{}",
        stderr(&add)
    );
    let check = as_root(&["suppress", "check", "gone@example.org"]);
    assert_eq!(check.status.code(), Some(0), "{}", stderr(&check));
    assert_eq!(backup.files(), files, "a file was left beside the backup");
    assert!(
        std::fs::read(&backup.store).unwrap() == before,
        "the backup was changed"
    );
}
