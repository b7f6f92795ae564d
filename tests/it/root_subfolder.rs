//! Root (`sudo fbl export`, root's cron) and a service user's export in a subfolder of that
//! user's folder (`/var/lib/fbl/exports`, the service's, in `/var/lib/fbl`, the service's,
//! in `/var/lib`, root's): refused, as before, because the service user could put a link to
//! another folder (`/etc`) in the place of `exports` between fbl's check and its rename and
//! have root write there. The refusal used to say the file was "in a folder other users may
//! write to" and to "remove it", untrue of a folder of the service's alone (0755) and of no
//! help: it now says why, the folder where root may write it (the service user's own
//! folder, `/var/lib/fbl`) and the other way (running the command as that user). The same
//! file directly in the service user's own folder is written.

use crate::support::{fbl, run};
use std::os::unix::fs::PermissionsExt;
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

/// The production layout under a folder of root's (standing for `/var/lib`): `svc` (the
/// service user's, 0750, standing for `/var/lib/fbl`) with `svc/exports` (the service's,
/// 0755) and, in each, an export the service's runs wrote. Root runs `fbl export` and
/// `fbl report --output`.
#[test]
fn root_and_an_export_in_a_subfolder_of_the_service_users_folder_says_why_and_what_to_do() {
    if !is_root() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    let own = dir.path().join("svc");
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
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n\
         [[export]]\nformat = \"plain\"\npath = \"svc/list.txt\"\n\n\
         [[export]]\nformat = \"plain\"\npath = \"svc/exports/list.txt\"\n",
    )
    .unwrap();
    let fbl_here = |args: &[&str]| run(fbl(dir.path()).args(["--config", "fbl.toml"]).args(args));
    let output = fbl_here(&["suppress", "add", "jane@example.org"]);
    assert_eq!(output.status.code(), Some(0));

    let real_own = own.canonicalize().unwrap();
    let real_exports = real_own.join("exports");
    let said = |stderr: &str| {
        for part in [
            format!(
                "it is owned by nobody (uid {SERVICE}), as its folder {} is, and fbl runs as root",
                real_exports.display()
            ),
            format!(
                "here {}, the folder above it, is nobody's (uid {SERVICE}), so nobody could put \
                 a link to another folder (/etc) in the place of {}",
                real_own.display(),
                real_exports.display()
            ),
            format!("put the file in {} itself", real_own.display()),
            "run the command as nobody (`runuser -u nobody -- fbl ...`)".to_string(),
        ] {
            assert!(stderr.contains(&part), "{part} not in {stderr}");
        }
        assert!(!stderr.contains("other users may write to"), "{stderr}");
    };

    let output = fbl_here(&["export"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    said(&stderr);
    // Refused: left as the service wrote it, still its.
    assert_eq!(
        std::fs::read_to_string(exports.join("list.txt")).unwrap(),
        "old@example.org\n"
    );
    // Directly in the service user's own folder: written, and still the service's.
    assert_eq!(
        std::fs::read_to_string(own.join("list.txt")).unwrap(),
        "jane@example.org\n"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(own.join("list.txt")).unwrap().uid(),
        SERVICE
    );

    let output = fbl_here(&[
        "report",
        "--format",
        "html",
        "--output",
        "svc/exports/report.html",
    ]);
    assert_eq!(output.status.code(), Some(2));
    said(&String::from_utf8_lossy(&output.stderr));
    assert_eq!(std::fs::read_to_string(&report).unwrap(), "old report\n");
}
