//! Root (`sudo fbl export`, root's cron) and a service user's export in a subfolder of that
//! user's folder (`/var/lib/fbl/exports`, the service's, in `/var/lib/fbl`, the service's,
//! in `/var/lib`, root's): written, the file kept the service's with its mode, through the
//! folder held open (the service user could put a link to `/etc` in the place of `exports`
//! between fbl's checks and its rename: see the unit test in `atomic_file.rs`). It used to
//! be refused as "in a folder other users may write to ... remove it", untrue of a folder of
//! the service's alone. Where the folders above are not that user's alone down from a folder
//! of root's alone, it is still refused, and the refusal says why and the other way
//! (running the command as that user).

use crate::support::{fbl, run};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

/// `nobody` (Debian), standing for the service user `fbl`.
const SERVICE: u32 = 65534;

fn is_root() -> bool {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root (to set up another user's folders); CI runs as root");
        return false;
    }
    true
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn service_owns(path: &Path, mode: u32) {
    std::os::unix::fs::chown(path, Some(SERVICE), Some(SERVICE)).unwrap();
    chmod(path, mode);
}

/// Under `base/top` (root's, standing for `/var/lib`): `svc` (the service user's, 0750,
/// standing for `/var/lib/fbl`) with `svc/exports` (the service's, 0755), in each an export
/// the service's runs wrote, and a report file in `svc/exports`; root's configuration and
/// store in `base`, with one suppressed address.
fn service_layout(base: &Path) {
    let top = base.join("top");
    std::fs::create_dir(&top).unwrap();
    chmod(&top, 0o755);
    let own = top.join("svc");
    let exports = own.join("exports");
    std::fs::create_dir_all(&exports).unwrap();
    service_owns(&own, 0o750);
    service_owns(&exports, 0o755);
    for file in [own.join("list.txt"), exports.join("list.txt")] {
        std::fs::write(&file, "old@example.org\n").unwrap();
        service_owns(&file, 0o640);
    }
    let report = exports.join("report.html");
    std::fs::write(&report, "old report\n").unwrap();
    service_owns(&report, 0o640);
    std::fs::write(
        base.join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n\
         [[export]]\nformat = \"plain\"\npath = \"top/svc/list.txt\"\n\n\
         [[export]]\nformat = \"plain\"\npath = \"top/svc/exports/list.txt\"\n",
    )
    .unwrap();
    let output = fbl_in(base, &["suppress", "add", "jane@example.org"]);
    assert_eq!(output.status.code(), Some(0));
}

fn fbl_in(top: &Path, args: &[&str]) -> std::process::Output {
    run(fbl(top).args(["--config", "fbl.toml"]).args(args))
}

/// (owner, mode) of a file.
fn owner_and_mode(path: &Path) -> (u32, u32) {
    let metadata = std::fs::metadata(path).unwrap();
    (metadata.uid(), metadata.mode() & 0o7777)
}

/// The demo's layout, as root: `fbl export` and `fbl report --output` write the files in
/// the subfolder, and they stay the service's, mode 0640.
#[test]
fn root_writes_a_service_users_export_and_report_in_a_subfolder_of_its_folder() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    service_layout(dir.path());
    let exports = dir.path().join("top/svc/exports");

    let output = fbl_in(dir.path(), &["export"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for list in [
        dir.path().join("top/svc/list.txt"),
        exports.join("list.txt"),
    ] {
        assert_eq!(
            std::fs::read_to_string(&list).unwrap(),
            "jane@example.org\n"
        );
        assert_eq!(owner_and_mode(&list), (SERVICE, 0o640));
    }

    let output = fbl_in(
        dir.path(),
        &[
            "report",
            "--format",
            "html",
            "--output",
            "top/svc/exports/report.html",
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report = exports.join("report.html");
    assert!(std::fs::read_to_string(&report).unwrap().contains("<html"));
    assert_eq!(owner_and_mode(&report), (SERVICE, 0o640));
    // No temporary file left, nothing else made.
    let mut names: Vec<String> = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["list.txt", "report.html"]);
}

/// The same layout in a folder of root's that others may write to (group-writable, standing
/// for a shared `/srv`): someone else could have set up the service's folders there. Refused,
/// saying why (the folder named), and the other way: running the command as that user.
#[test]
fn root_refuses_a_service_users_subfolder_not_down_from_root_alone_and_says_why() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    service_layout(dir.path());
    let top = dir.path().join("top");
    chmod(&top, 0o775);
    let real_top = top.canonicalize().unwrap();
    let real_exports = real_top.join("svc/exports");

    let output = fbl_in(dir.path(), &["export"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for part in [
        format!(
            "it is owned by nobody (uid {SERVICE}), as its folder {} is, and fbl runs as root",
            real_exports.display()
        ),
        format!(
            "here {}, above it, may be written by others than root (mode 0775)",
            real_top.display()
        ),
        "run the command as nobody (`runuser -u nobody -- fbl ...`)".to_string(),
    ] {
        assert!(stderr.contains(&part), "{part} not in {stderr}");
    }
    assert!(!stderr.contains("other users may write to"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(real_exports.join("list.txt")).unwrap(),
        "old@example.org\n"
    );
}

/// Without /proc (a container or a chroot that does not mount it), root cannot hold the
/// folder open by name: the refusal says so, where it used to blame a folder of root's alone
/// ("may be written by others than root (mode 0755)").
#[test]
fn without_proc_root_says_what_is_missing() {
    if !is_root() {
        return;
    }
    let unshare = std::process::Command::new("unshare")
        .args(["-m", "true"])
        .status();
    if !unshare.is_ok_and(|status| status.success()) {
        eprintln!("skipped: unshare -m cannot make a mount namespace here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    service_layout(dir.path());
    let real_exports = dir.path().join("top/svc/exports").canonicalize().unwrap();
    // A new export there too: it would be made by its path, which the service user could
    // swap for a link meanwhile.
    let config = std::fs::read_to_string(dir.path().join("fbl.toml")).unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        format!("{config}\n[[export]]\nformat = \"plain\"\npath = \"top/svc/exports/new.txt\"\n"),
    )
    .unwrap();
    // /proc hidden under an empty tmpfs in a mount namespace of the command's own.
    let line = format!(
        "mount -t tmpfs none /proc && exec {} --config fbl.toml export",
        env!("CARGO_BIN_EXE_fbl")
    );
    let mut command = std::process::Command::new("unshare");
    command
        .args(["-m", "--propagation", "private", "sh", "-c", &line])
        .current_dir(dir.path())
        .env("FBL_NOW", "2026-11-20T08:00:00Z")
        .env_remove("RUST_BACKTRACE");
    let output = run(&mut command);
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("named in /proc/self/fd, which is not there (mount /proc)"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("may be written by others than root"),
        "{stderr}"
    );
    assert!(
        stderr.contains("it would be a new file in") && stderr.contains("(mount /proc)"),
        "{stderr}"
    );
    assert!(!real_exports.join("new.txt").exists(), "made by its path");
    assert_eq!(
        std::fs::read_to_string(real_exports.join("list.txt")).unwrap(),
        "old@example.org\n"
    );
}
