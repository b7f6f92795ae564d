//! An export handed to a list manager through its group (`chgrp list FILE; chmod 640 FILE`),
//! rewritten by fbl running as a service user (here `nobody`, run by `setpriv` from the test,
//! which runs as root): the new file keeps the group when that user may give it (a member of
//! the group, or a set-group-ID folder), keeps its mode 0640 whatever happens, and when the
//! group cannot be kept, the run says so, once, naming the file, both groups and the fix,
//! and exits 1. It used to lose the group without a word: the list manager could no longer
//! read its list.

use crate::support::fbl;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `nobody` and `nogroup` (Debian).
const NOBODY: u32 = 65534;
/// A group `nobody` is not a member of (`list` on Debian: the list manager's).
const LIST: u32 = 38;

/// Whether these tests can run: only root can give a file another user's group and run fbl
/// as another user. Says why not when they cannot.
fn can_run() -> bool {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "skipped: needs root (to give an export another group and run fbl as nobody); \
             CI runs the tests as root"
        );
        return false;
    }
    true
}

/// A group's name in /etc/group, or `gid N` as fbl says it when there is none.
fn group_name(gid: u32) -> String {
    std::fs::read_to_string("/etc/group")
        .unwrap_or_default()
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 2 && fields[2] == gid.to_string()).then(|| fields[0].to_string())
        })
        .unwrap_or_else(|| format!("gid {gid}"))
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

/// A folder of nobody's with fbl's binary in it (the build's folder may be closed to
/// nobody, under root's home), its configuration (one `plain` export to `out/list.txt`,
/// with its removals file), and the export folder `out`.
struct Setup {
    _dir: tempfile::TempDir,
    work: PathBuf,
    binary: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        chmod(dir.path(), 0o755);
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        let binary = dir.path().join("fbl");
        let built = Path::new(env!("CARGO_BIN_EXE_fbl"));
        if std::fs::hard_link(built, &binary).is_err() {
            std::fs::copy(built, &binary).unwrap();
        }
        chmod(&binary, 0o755);
        std::fs::create_dir(work.join("out")).unwrap();
        std::fs::write(
            work.join("fbl.toml"),
            "[store]\npath = \"fbl.sqlite\"\n\n\
             [[export]]\nformat = \"plain\"\npath = \"out/list.txt\"\n\
             removed_path = \"out/removed.txt\"\n",
        )
        .unwrap();
        for path in [&work, &work.join("out"), &work.join("fbl.toml")] {
            chown(path, NOBODY, NOBODY);
        }
        chmod(&work, 0o755);
        chmod(&work.join("out"), 0o755);
        Setup {
            _dir: dir,
            work,
            binary,
        }
    }

    /// fbl as nobody:nogroup, a member of `groups` besides.
    fn fbl(&self, groups: &[u32], args: &[&str]) -> Output {
        let reference = fbl(&self.work);
        let mut command = Command::new("setpriv");
        command.args(["--reuid", "nobody", "--regid", "nogroup"]);
        if groups.is_empty() {
            command.arg("--clear-groups");
        } else {
            let list: Vec<String> = groups.iter().map(u32::to_string).collect();
            command.args(["--groups", &list.join(",")]);
        }
        command.arg("--").arg(&self.binary);
        command.args(["--config", "fbl.toml"]).args(args);
        command.current_dir(&self.work);
        command.env_clear();
        command.env("PATH", "/usr/bin:/bin");
        for (key, value) in reference.get_envs() {
            if let Some(value) = value {
                command.env(key, value);
            }
        }
        crate::support::run(&mut command)
    }

    fn out(&self, name: &str) -> PathBuf {
        self.work.join("out").join(name)
    }

    /// The export as a postmaster hands it to the list manager: `chgrp list; chmod 640`.
    fn hand_over(&self, name: &str, content: &str) {
        let path = self.out(name);
        std::fs::write(&path, content).unwrap();
        chown(&path, NOBODY, LIST);
        chmod(&path, 0o640);
    }

    fn suppress(&self, address: &str) {
        let output = self.fbl(&[], &["suppress", "add", address]);
        assert_eq!(output.status.code(), Some(0));
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// (group, mode) of a file.
fn group_and_mode(path: &Path) -> (u32, u32) {
    let metadata = std::fs::metadata(path).unwrap();
    (metadata.gid(), metadata.mode() & 0o7777)
}

/// The cron job of a service user not in the list manager's group: the run that replaces
/// the file says it lost its group (naming the file, the group it had and has, and both
/// fixes) and exits 1; the file keeps mode 0640 (not opened to every user to make up for
/// it). The next run, the file has fbl's group already: nothing to say, exit 0.
#[test]
fn export_group_lost_by_a_run_is_said_once_with_the_fix() {
    if !can_run() {
        return;
    }
    let setup = Setup::new();
    setup.suppress("jane@example.org");
    setup.hand_over("list.txt", "old@example.org\n");

    let output = setup.fbl(&[], &["run"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    let list = setup.out("list.txt");
    let folder = setup.work.join("out");
    let (had, now) = (group_name(LIST), group_name(NOBODY));
    let said = format!(
        "fbl: export plain: {} had group {had} and now has group {now}: fbl's user nobody is \
         not a member of group {had}, so it cannot give the new file that group",
        list.display()
    );
    assert!(text.contains(&said), "{text}");
    let arg = if had.starts_with("gid ") {
        LIST.to_string()
    } else {
        had.clone()
    };
    for fix in [
        format!("`usermod -aG {arg} nobody`"),
        format!(
            "`chgrp {arg} {}; chmod g+s {}`",
            folder.display(),
            folder.display()
        ),
        format!("`chgrp {arg} {}`", list.display()),
    ] {
        assert!(text.contains(&fix), "{fix} not in {text}");
    }
    assert_eq!(text.matches("had group").count(), 1, "{text}");
    assert_eq!(
        std::fs::read_to_string(&list).unwrap(),
        "jane@example.org\n"
    );
    assert_eq!(group_and_mode(&list), (NOBODY, 0o640));

    // The next run changes the list; the file has nogroup already: nothing more to say.
    setup.suppress("joe@example.org");
    let output = setup.fbl(&[], &["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("had group"));
    assert_eq!(
        std::fs::read_to_string(&list).unwrap(),
        "jane@example.org\njoe@example.org\n"
    );
    assert_eq!(group_and_mode(&list), (NOBODY, 0o640));
}

/// `fbl export` says it too, for the list and its removals file each, exits 1, and its
/// `--json` has the groups for a script.
#[test]
fn export_group_lost_by_fbl_export_is_said_for_each_file_and_in_json() {
    if !can_run() {
        return;
    }
    let setup = Setup::new();
    setup.suppress("jane@example.org");
    setup.hand_over("list.txt", "old@example.org\n");
    setup.hand_over("removed.txt", "gone@example.org\n");

    let output = setup.fbl(&[], &["export", "--json"]);
    assert_eq!(output.status.code(), Some(1));
    let text = stderr(&output);
    for name in ["list.txt", "removed.txt"] {
        let said = format!(
            "fbl: export plain: {} had group {} and now has group {}",
            setup.out(name).display(),
            group_name(LIST),
            group_name(NOBODY)
        );
        assert!(text.contains(&said), "{said} not in {text}");
        assert_eq!(group_and_mode(&setup.out(name)), (NOBODY, 0o640));
    }
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let lost = &json[0]["groups_lost"];
    assert_eq!(lost.as_array().map(Vec::len), Some(2), "{json}");
    assert_eq!(lost[0]["had_gid"], LIST);
    assert_eq!(lost[0]["gid"], NOBODY);
    assert_eq!(lost[0]["user"], "nobody");
}

/// A file every user may read (0644), or one its group could not read (0600), shuts nobody
/// out when it gets fbl's group: nothing is said, exit 0. It used to be said as a lost group
/// (exit 1), with the advice to add fbl's user to the group.
#[test]
fn export_group_changed_that_let_no_reader_in_is_not_said() {
    if !can_run() {
        return;
    }
    for (mode, address) in [(0o644, "jane@example.org"), (0o600, "john@example.org")] {
        let setup = Setup::new();
        setup.suppress(address);
        setup.hand_over("list.txt", "old@example.org\n");
        chmod(&setup.out("list.txt"), mode);
        let output = setup.fbl(&[], &["run"]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{mode:o}: {}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains("had group"), "{mode:o}");
        let list = setup.out("list.txt");
        assert_eq!(
            std::fs::read_to_string(&list).unwrap(),
            format!("{address}\n")
        );
        assert_eq!(group_and_mode(&list), (NOBODY, mode));
    }
}

/// A service user in the list manager's group: the group is kept, and the mode; nothing said.
#[test]
fn export_group_is_kept_by_a_member_of_it() {
    if !can_run() {
        return;
    }
    let setup = Setup::new();
    setup.suppress("jane@example.org");
    setup.hand_over("list.txt", "old@example.org\n");

    let output = setup.fbl(&[LIST], &["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("had group"));
    let list = setup.out("list.txt");
    assert_eq!(
        std::fs::read_to_string(&list).unwrap(),
        "jane@example.org\n"
    );
    assert_eq!(group_and_mode(&list), (LIST, 0o640));
}

/// The export folder set-group-ID to the list manager's group (`chgrp list DIR; chmod g+s
/// DIR`): a new file there gets that group, the service user need not be a member. Kept,
/// with mode 0640; nothing said.
#[test]
fn export_group_is_kept_in_a_set_group_id_folder() {
    if !can_run() {
        return;
    }
    let setup = Setup::new();
    setup.suppress("jane@example.org");
    let folder = setup.work.join("out");
    chown(&folder, NOBODY, LIST);
    chmod(&folder, 0o2755);
    setup.hand_over("list.txt", "old@example.org\n");

    let output = setup.fbl(&[], &["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("had group"));
    let list = setup.out("list.txt");
    assert_eq!(
        std::fs::read_to_string(&list).unwrap(),
        "jane@example.org\n"
    );
    assert_eq!(group_and_mode(&list), (LIST, 0o640));
}

/// A `[[report.output]]` file handed to its reader through its group (a node_exporter's or
/// web server's user), rewritten by a run of a service user not in that group: said as an
/// export's is, naming the file, both groups and the fix, exit 1, and in `--json` under the
/// report file's `groups_lost`. Reports used to lose the group without a word. The next run
/// says nothing.
#[test]
fn report_output_group_lost_by_a_run_is_said_with_the_fix() {
    if !can_run() {
        return;
    }
    let setup = Setup::new();
    let config = setup.work.join("fbl.toml");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[[report.output]]\nformat = \"csv\"\npath = \"out/report.csv\"\n");
    std::fs::write(&config, text).unwrap();
    setup.suppress("jane@example.org");
    setup.hand_over("report.csv", "old report\n");

    let output = setup.fbl(&[], &["run", "--json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stderr(&output);
    let report = setup.out("report.csv");
    let (had, now) = (group_name(LIST), group_name(NOBODY));
    let said = format!(
        "fbl: report csv: {} had group {had} and now has group {now}: fbl's user nobody is \
         not a member of group {had}, so it cannot give the new file that group",
        report.display()
    );
    assert!(text.contains(&said), "{said} not in {text}");
    assert!(text.contains("`usermod -aG "), "{text}");
    assert_eq!(text.matches("had group").count(), 1, "{text}");
    assert_ne!(std::fs::read_to_string(&report).unwrap(), "old report\n");
    assert_eq!(group_and_mode(&report), (NOBODY, 0o640));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let lost = &json["report"]["written"][0]["groups_lost"];
    assert_eq!(lost.as_array().map(Vec::len), Some(1), "{json}");
    assert_eq!(lost[0]["had_gid"], LIST);
    assert_eq!(lost[0]["gid"], NOBODY);

    let output = setup.fbl(&[], &["run"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("had group"));
}

/// `fbl report --output FILE` and `fbl report delist --output FILE` over a file handed to its
/// reader through its group: said, exit 1; a member of the group keeps it, nothing said.
#[test]
fn report_output_group_lost_by_fbl_report_is_said_and_kept_by_a_member() {
    if !can_run() {
        return;
    }
    let setup = Setup::new();
    setup.suppress("jane@example.org");
    setup.hand_over("report.html", "old report\n");
    setup.hand_over("delist.txt", "old packet\n");

    let output = setup.fbl(
        &[],
        &["report", "--format", "html", "--output", "out/report.html"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let said = format!(
        "fbl: report html: {} had group {} and now has group {}",
        setup.work.join("out/report.html").display(),
        group_name(LIST),
        group_name(NOBODY)
    );
    assert!(
        stderr(&output).contains(&said),
        "{said} not in {}",
        stderr(&output)
    );
    assert_eq!(group_and_mode(&setup.out("report.html")), (NOBODY, 0o640));

    let output = setup.fbl(
        &[],
        &[
            "report",
            "delist",
            "--ip",
            "192.0.2.1",
            "--output",
            "out/delist.txt",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("fbl: report delist: "),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("had group"), "{}", stderr(&output));

    setup.hand_over("report.html", "old report\n");
    let output = setup.fbl(
        &[LIST],
        &["report", "--format", "html", "--output", "out/report.html"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("had group"));
    assert_eq!(group_and_mode(&setup.out("report.html")), (LIST, 0o640));
}
