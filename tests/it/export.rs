//! `fbl export` end to end on a real store: every format, atomic and deterministic files,
//! incremental exports with removals.

use crate::store::{Backend, TestStore};
use crate::support::{arf, fbl, run, stdout};
use std::path::Path;

fn store_with_list(dir: &Path) {
    let inbox = dir.join("in");
    std::fs::create_dir_all(&inbox).unwrap();
    for (i, rcpt) in ["zoe@example.org", "Adam@Example.net", "mia@example.com"]
        .iter()
        .enumerate()
    {
        std::fs::write(
            inbox.join(format!("{i}.eml")),
            arf("abuse", rcpt, &format!("m{i}@example.com")),
        )
        .unwrap();
    }
    assert_eq!(run(fbl(dir).args(["ingest", "in"])).status.code(), Some(0));
    assert_eq!(
        run(fbl(dir).args(["suppress", "add", "hand@example.org", "--reason", "asked"]))
            .status
            .code(),
        Some(0)
    );
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_format_is_written_atomically_and_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    for format in fbl::export::ExportFormat::ALL {
        let path = out.join(format.as_str());
        let output = run(fbl(dir.path()).args([
            "export",
            "--format",
            format.as_str(),
            "--output",
            path.to_str().unwrap(),
        ]));
        assert_eq!(output.status.code(), Some(0), "{format}");
        let first = std::fs::read(&path).unwrap();
        assert!(!first.is_empty(), "{format}");
        let output = run(fbl(dir.path()).args([
            "export",
            "--format",
            format.as_str(),
            "--output",
            path.to_str().unwrap(),
        ]));
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            first,
            "{format}: unchanged data must give identical bytes"
        );
    }
    let names = files_in(&out);
    assert!(
        names.iter().all(|n| !n.starts_with('.')),
        "temporary files left behind: {names:?}"
    );
    let plain = std::fs::read_to_string(out.join("plain")).unwrap();
    assert_eq!(
        plain,
        "Adam@example.net\nhand@example.org\nmia@example.com\nzoe@example.org\n"
    );
    let postfix = std::fs::read_to_string(out.join("postfix")).unwrap();
    assert!(
        postfix
            .lines()
            .all(|l| l.split_whitespace().nth(1) == Some("REJECT")),
        "{postfix}"
    );
}

#[test]
fn hashed_exports_share_no_address() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "csv",
        "--hash",
        "sha256",
        "--output",
        "hashed.csv",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let text = std::fs::read_to_string(dir.path().join("hashed.csv")).unwrap();
    assert!(!text.contains('@'), "{text}");
    // The hash of the lower-cased address, as list managers compute it.
    use sha2::Digest;
    let expected = hex::encode(sha2::Sha256::digest(b"adam@example.net"));
    assert!(text.contains(&expected), "{expected} missing from:\n{text}");
    assert_eq!(text.lines().count(), 5, "a header and four entries");
}

#[test]
fn incremental_exports_list_changes_and_removals() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let args = [
        "export",
        "--format",
        "plain",
        "--output",
        "delta.txt",
        "--removed-output",
        "removed.txt",
        "--changed-since-last",
    ];
    assert_eq!(run(fbl(dir.path()).args(args)).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("delta.txt"))
            .unwrap()
            .lines()
            .count(),
        4
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("removed.txt")).unwrap(),
        ""
    );

    // Nothing changed: an empty delta.
    let later = |command: &mut std::process::Command| {
        command.env("FBL_NOW", "2026-11-21T08:00:00Z");
    };
    let mut command = fbl(dir.path());
    later(&mut command);
    assert_eq!(run(command.args(args)).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("delta.txt")).unwrap(),
        ""
    );

    let mut command = fbl(dir.path());
    later(&mut command);
    assert_eq!(
        run(command.args([
            "suppress",
            "remove",
            "mia@example.com",
            "--reason",
            "mistake"
        ]))
        .status
        .code(),
        Some(0)
    );
    let mut command = fbl(dir.path());
    command.env("FBL_NOW", "2026-11-22T08:00:00Z");
    assert_eq!(
        run(command.args(["suppress", "add", "new@example.org"]))
            .status
            .code(),
        Some(0)
    );
    let mut command = fbl(dir.path());
    command.env("FBL_NOW", "2026-11-23T08:00:00Z");
    assert_eq!(run(command.args(args)).status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("delta.txt")).unwrap(),
        "new@example.org\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("removed.txt")).unwrap(),
        "mia@example.com\n"
    );
}

#[test]
fn a_failed_export_leaves_the_previous_file_whole() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let output = run(fbl(dir.path()).args(["export", "--format", "csv", "--output", "list.csv"]));
    assert_eq!(output.status.code(), Some(0));
    let before = std::fs::read(dir.path().join("list.csv")).unwrap();
    // A row that cannot be read, last in address order: the export fails half-way through
    // writing, and the old file stays.
    let store = dir.path().join("fbl.sqlite");
    let connection = rusqlite::Connection::open(&store).unwrap();
    connection
        .execute_batch(
            "INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count, updated_at, change_seq)
             VALUES ('zzz@example.org', 'complaint', 'yahoo', 'x', 'x', 'many', 'x', 99)",
        )
        .unwrap();
    drop(connection);
    let output = run(fbl(dir.path()).args(["export", "--format", "csv", "--output", "list.csv"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("list.csv"));
    assert_eq!(std::fs::read(dir.path().join("list.csv")).unwrap(), before);
    assert_eq!(
        files_in(dir.path())
            .iter()
            .filter(|n| n.contains(".tmp"))
            .count(),
        0
    );
    let _ = stdout(&output);
}

/// The fixture list (`fixtures/exports/suppressions.json`) written into a real store, as the
/// store keeps it (removed entries with `removed_at` set).
fn fixture_store(dir: &Path) {
    drop(fbl::store::Store::open(&dir.join("fbl.sqlite")).unwrap());
    let entries: Vec<fbl::suppression::Suppression> = serde_json::from_str(
        &std::fs::read_to_string(crate::support::fixtures().join("exports/suppressions.json"))
            .unwrap(),
    )
    .unwrap();
    let connection = rusqlite::Connection::open(dir.join("fbl.sqlite")).unwrap();
    for (seq, entry) in entries.iter().enumerate() {
        connection
            .execute(
                "INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count,
                    expires_at, removed_at, updated_at, change_seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?5, ?9)",
                rusqlite::params![
                    entry.address,
                    entry.reason,
                    entry.source,
                    entry.first_seen,
                    entry.last_seen,
                    entry.count as i64,
                    entry.expires_at,
                    entry.removed_at,
                    seq as i64 + 1
                ],
            )
            .unwrap();
    }
}

#[test]
fn every_format_from_a_fixture_store_matches_its_golden_file() {
    let dir = tempfile::tempdir().unwrap();
    fixture_store(dir.path());
    let golden = crate::support::fixtures().join("exports/from-store");
    std::fs::create_dir_all(&golden).unwrap();
    let mut cases = 0;
    let mut failures = Vec::new();
    for format in fbl::export::ExportFormat::ALL {
        for (suffix, extra) in [("", vec![]), (".removed", vec!["--removed-output"])] {
            let name = format!("{}{suffix}.{}", format.as_str(), format.file_extension());
            // An output of its own: a second export of one output has in its removals file
            // only the addresses taken off since the first.
            let main = dir.path().join(format!("main-{name}"));
            let removed = dir.path().join("removed");
            let mut args = vec![
                "export",
                "--format",
                format.as_str(),
                "--output",
                main.to_str().unwrap(),
            ];
            if !extra.is_empty() {
                args.extend(["--removed-output", removed.to_str().unwrap()]);
            }
            let output = run(fbl(dir.path())
                .env("FBL_NOW", "2026-11-01T00:00:00Z")
                .args(&args));
            // The fixture holds addresses some formats leave out: said, exit 1.
            let left_out = String::from_utf8_lossy(&output.stderr).contains(" left out");
            assert_eq!(
                output.status.code(),
                Some(if left_out { 1 } else { 0 }),
                "{name}"
            );
            let got = std::fs::read(if extra.is_empty() { &main } else { &removed }).unwrap();
            let expected_path = golden.join(&name);
            if crate::support::updating_golden() {
                std::fs::write(&expected_path, &got).unwrap();
            }
            let expected = std::fs::read(&expected_path).unwrap_or_default();
            if got != expected {
                std::fs::write(golden.join(format!("{name}.actual")), &got).unwrap();
                failures.push(format!(
                    "{name}:\n{}",
                    crate::support::diff(
                        &String::from_utf8_lossy(&expected),
                        &String::from_utf8_lossy(&got)
                    )
                ));
            }
            cases += 1;
        }
    }
    assert_eq!(cases, 26);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `fbl run` says an address its export leaves out once, in the run that first leaves it out,
/// not at every cron run after it: a second such address is said alone, with the count of
/// those said before. `--json` always has the counts; `fbl export` always says it.
#[test]
fn fbl_run_says_an_address_left_out_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n[[export]]\nformat = \"postfix\"\npath = \"access\"\n",
    )
    .unwrap();
    let add = |address: &str| {
        let output =
            run(fbl(dir.path()).args(["--config", "fbl.toml", "suppress", "add", address]));
        assert_eq!(output.status.code(), Some(0));
    };
    let fbl_run = || {
        let mut command = fbl(dir.path());
        command.env_remove("RUST_BACKTRACE");
        let output = run(command.args(["--config", "fbl.toml", "run"]));
        let stderr = String::from_utf8(output.stderr).unwrap();
        // A person is needed when an address is newly left out: exit 1 exactly then.
        let code = if stderr.is_empty() { 0 } else { 1 };
        assert_eq!(output.status.code(), Some(code), "{stderr}");
        stderr
    };
    add("jane@example.org");
    add("#hash@example.com");
    let note = |count: &str, also: &str, first: &str, them: &str| {
        format!(
            "fbl: export postfix access: {count} left out{also} (first: {first}): postmap reads \
             a line that begins with # as a comment, and folds letter case so that a key with ß \
             or a like letter would also match another address (groß@ as gross@), so reject \
             {them} another way (the A-label form of an internationalised domain is in the map \
             when the part before the @ is ASCII)\n"
        )
    };
    assert_eq!(
        fbl_run(),
        note("1 suppressed address", "", "#hash@example.com", "it")
    );
    assert_eq!(fbl_run(), "", "said once");
    add("jane.doe@example.org");
    assert_eq!(
        fbl_run(),
        "",
        "a change that leaves nobody out says nothing"
    );
    add("#two@example.com");
    assert_eq!(
        fbl_run(),
        note(
            "1 suppressed address",
            " (1 more, said before)",
            "#two@example.com",
            "it"
        )
    );
    assert_eq!(fbl_run(), "");
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run", "--json"]));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["exports"][0]["left_out"], 2, "{summary}");
    assert_eq!(summary["exports"][0]["new_left_out"], 0, "{summary}");
    // Asked for, the export says it every time, exit 1: a person is needed.
    let output = run(fbl(dir.path()).args([
        "--config", "fbl.toml", "export", "--format", "postfix", "--output", "access",
    ]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("2 suppressed addresses left out"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// An address already on the list that an export newly leaves out is said too, once: when the
/// output's format changes (a Postfix map becomes an SES list, which cannot hold a non-ASCII
/// local part), and after an upgrade, for an output fbl wrote before it kept what it left out.
#[test]
fn fbl_run_says_an_address_newly_left_out_by_a_format_change_or_an_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let config = |format: &str| {
        std::fs::write(
            dir.path().join("fbl.toml"),
            format!(
                "[store]\npath = \"fbl.sqlite\"\n\n[[export]]\nformat = \"{format}\"\npath = \"out\"\n"
            ),
        )
        .unwrap();
    };
    let fbl_run = || {
        let mut command = fbl(dir.path());
        command.env_remove("RUST_BACKTRACE");
        let output = run(command.args(["--config", "fbl.toml", "run"]));
        let stderr = String::from_utf8(output.stderr).unwrap();
        // A person is needed when an address is newly left out: exit 1 exactly then.
        let code = if stderr.is_empty() { 0 } else { 1 };
        assert_eq!(output.status.code(), Some(code), "{stderr}");
        stderr
    };
    config("postfix");
    let output = run(fbl(dir.path()).args([
        "--config",
        "fbl.toml",
        "suppress",
        "add",
        "josé@example.com",
        "jane@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(fbl_run(), "", "a Postfix map holds josé@example.com");
    config("ses");
    let said = fbl_run();
    assert!(
        said.contains("export ses out: 1 suppressed address left out (first: josé@example.com)"),
        "{said}"
    );
    assert_eq!(fbl_run(), "", "said once");
    // An output written before fbl kept what it left out: said once more, then not.
    let db = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
    db.execute("UPDATE export_state SET format = NULL, left_out = NULL", [])
        .unwrap();
    assert!(fbl_run().contains("1 suppressed address left out"));
    assert_eq!(fbl_run(), "");
}

#[test]
fn postfix_map_leaves_out_an_address_postmap_would_read_as_a_comment() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        "#hash@example.com",
        "#two@example.com",
        "jane@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let map = dir.path().join("access");
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "postfix",
        "--output",
        map.to_str().unwrap(),
    ]));
    assert_eq!(
        output.status.code(),
        Some(1),
        "the export is written, but those addresses need a person"
    );
    assert_eq!(
        std::fs::read_to_string(&map).unwrap(),
        "jane@example.org REJECT 5.7.1 suppressed: manual\n"
    );
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "fbl: export postfix {}: 2 suppressed addresses left out (first: \
             #hash@example.com): postmap reads a line that begins with # as a comment, and \
             folds letter case so that a key with ß or a like letter would also match another \
             address (groß@ as gross@), so reject them another way (the A-label form of an \
             internationalised domain is in the map when the part before the @ is ASCII)\n",
            map.display()
        )
    );
    // The plain list keeps them.
    let plain = dir.path().join("plain");
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "plain",
        "--output",
        plain.to_str().unwrap(),
    ]));
    assert!(output.stderr.is_empty());
    assert_eq!(
        std::fs::read_to_string(&plain).unwrap(),
        "#hash@example.com\n#two@example.com\njane@example.org\n"
    );
}

/// Runs `fbl` (in `dir`, with `args`) with its standard output on `file`, opened for
/// appending as `>>` does; returns the exit code and standard error.
fn run_with_stdout_appended_to(dir: &Path, file: &Path, args: &[&str]) -> (Option<i32>, String) {
    let stdout = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(file)
        .unwrap();
    let output = fbl(dir)
        .args(args)
        .stdout(std::process::Stdio::from(stdout))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    eprintln!("fbl {args:?}: exit {:?}\n{stderr}", output.status.code());
    (output.status.code(), stderr)
}

// Never `-o /dev/stdout` itself here: a broken build would rename a file over the machine's
// /dev/stdout (tests run as root). A link of the test's own to /proc/self/fd/1 goes through
// the same resolution, and `-` is mapped to it.
#[test]
fn standard_output_is_written_to_where_it_is_redirected_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let expected = "Adam@example.net\nhand@example.org\nmia@example.com\nzoe@example.org\n";
    let redirected = dir.path().join("redirected.txt");
    std::fs::write(&redirected, "before\n").unwrap();

    // `-o -` is standard output, appended to as `>>` asks.
    let (code, stderr) = run_with_stdout_appended_to(
        dir.path(),
        &redirected,
        &["export", "--format", "plain", "-o", "-"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(!dir.path().join("-").exists(), "a file named - was made");
    assert_eq!(
        std::fs::read_to_string(&redirected).unwrap(),
        format!("before\n{expected}")
    );

    // A link to /proc/self/fd/1 (as /dev/stdout is): written through, the link kept.
    let link = dir.path().join("mystdout");
    std::os::unix::fs::symlink("/proc/self/fd/1", &link).unwrap();
    let chain = dir.path().join("chain");
    std::os::unix::fs::symlink("mystdout", &chain).unwrap();
    std::fs::write(&redirected, "").unwrap();
    for path in ["mystdout", "chain"] {
        let (code, stderr) = run_with_stdout_appended_to(
            dir.path(),
            &redirected,
            &["export", "--format", "plain", "-o", path],
        );
        assert_eq!(code, Some(0), "{stderr}");
    }
    assert_eq!(
        std::fs::read_to_string(&redirected).unwrap(),
        format!("{expected}{expected}")
    );
    for link in [&link, &chain] {
        assert!(
            std::fs::symlink_metadata(link)
                .unwrap()
                .file_type()
                .is_symlink(),
            "{} was replaced",
            link.display()
        );
    }
    assert_eq!(
        files_in(dir.path())
            .iter()
            .filter(|n| n.contains(".tmp"))
            .count(),
        0
    );

    // The --json summary and the export cannot share standard output.
    let (code, stderr) = run_with_stdout_appended_to(
        dir.path(),
        &redirected,
        &["export", "--format", "plain", "-o", "-", "--json"],
    );
    assert_eq!(code, Some(2));
    assert!(stderr.contains("standard output"), "{stderr}");
}

#[test]
fn an_export_never_overwrites_the_store_the_configuration_or_another_output() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    std::fs::write(dir.path().join("fbl.toml"), "").unwrap();
    std::os::unix::fs::symlink("fbl.sqlite", dir.path().join("store-link")).unwrap();
    let store = std::fs::read(dir.path().join("fbl.sqlite")).unwrap();
    let before = files_in(dir.path());
    for (args, message) in [
        (vec!["-o", "fbl.sqlite"], "is the store fbl.sqlite"),
        (vec!["-o", "./fbl.sqlite"], "is the store fbl.sqlite"),
        (vec!["-o", "store-link"], "is the store fbl.sqlite"),
        (vec!["-o", "sub/../fbl.sqlite-wal"], "the store's -wal file"),
        (vec!["-o", "fbl.sqlite-shm"], "the store's -shm file"),
        (vec!["-o", "fbl.sqlite.lock"], "the store's .lock file"),
        (
            vec!["-o", "list.txt", "--removed-output", "fbl.sqlite"],
            "--removed-output fbl.sqlite is the store",
        ),
        (
            vec!["-o", "list.txt", "--removed-output", "./list.txt"],
            "--removed-output ./list.txt is the same file as --output list.txt",
        ),
        (vec!["-o", "fbl.toml"], "is the configuration file"),
    ] {
        let output = run(fbl(dir.path())
            .args(["--config", "fbl.toml", "export", "--format", "plain"])
            .args(&args));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert_eq!(files_in(dir.path()), before, "{args:?} wrote something");
    }
    assert_eq!(std::fs::read(dir.path().join("fbl.sqlite")).unwrap(), store);
    assert_eq!(std::fs::read(dir.path().join("fbl.toml")).unwrap(), b"");

    // --db names the store when it is elsewhere; `fbl run` checks its exports against it too.
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[[export]]\nformat = \"plain\"\npath = \"fbl.sqlite\"\n",
    )
    .unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "--db", "fbl.sqlite", "run"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is the store"));
    assert_eq!(std::fs::read(dir.path().join("fbl.sqlite")).unwrap(), store);

    // In the configuration: refused when it is read, for every command.
    for (toml, message) in [
        (
            "[[export]]\nformat = \"plain\"\npath = \"a.txt\"\n\
             [[export]]\nformat = \"csv\"\npath = \"./a.txt\"\n",
            "[[export]] 2 path ./a.txt is the same file as [[export]] 1 path",
        ),
        (
            "[[export]]\nformat = \"plain\"\npath = \"a.txt\"\nremoved_path = \"r.txt\"\n\
             [[export]]\nformat = \"plain\"\npath = \"r.txt\"\n",
            "[[export]] 2 path r.txt is the same file as [[export]] 1 removed_path",
        ),
        (
            "[[export]]\nformat = \"plain\"\npath = \"a.txt\"\nremoved_path = \"a.txt\"\n",
            "[[export]] 1 removed_path a.txt is the same file as [[export]] 1 path",
        ),
        (
            "[[export]]\nformat = \"plain\"\npath = \"fbl.toml\"\n",
            "is the configuration file",
        ),
        (
            "[[export]]\nformat = \"plain\"\npath = \"fbl.sqlite\"\n",
            "is the store",
        ),
        // `-` is standard output for `--output` only: here it used to write a file named `-`.
        (
            "[[export]]\nformat = \"plain\"\npath = \"-\"\n",
            "[[export]] 1 path is \"-\": a configured output is a file",
        ),
        (
            "[report]\n[[report.output]]\nformat = \"json\"\npath = \"-\"\n",
            "[[report.output]] 1 path is \"-\"",
        ),
    ] {
        std::fs::write(dir.path().join("fbl.toml"), toml).unwrap();
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "export"]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{toml}");
        assert!(stderr.contains("invalid configuration file"), "{stderr}");
        assert!(stderr.contains(message), "{toml}: {stderr}");
        assert!(!dir.path().join("a.txt").exists());
        assert_eq!(
            std::fs::read(dir.path().join("fbl.toml")).unwrap(),
            toml.as_bytes()
        );
    }
    assert_eq!(std::fs::read(dir.path().join("fbl.sqlite")).unwrap(), store);
}

#[test]
fn since_compares_times_whatever_their_offset() {
    let dir = tempfile::tempdir().unwrap();
    for (address, at) in [
        ("early@example.org", "2026-11-22T08:30:00Z"),
        ("middle@example.org", "2026-11-22T09:02:00Z"),
        ("late@example.org", "2026-11-22T10:30:00Z"),
    ] {
        let output = run(fbl(dir.path())
            .env("FBL_NOW", at)
            .args(["suppress", "add", address]));
        assert_eq!(output.status.code(), Some(0));
    }
    for (since, expected) in [
        // 09:01Z: middle and late. As text, "...T09:02:00Z" sorts before "...T10:01...".
        (
            "2026-11-22T10:01:00+01:00",
            "late@example.org\nmiddle@example.org\n",
        ),
        // 10:00Z: late only. As text, "...T05:00..." let every entry of the day through.
        ("2026-11-22T05:00:00-05:00", "late@example.org\n"),
        // Lower-case t and z are RFC 3339 too.
        (
            "2026-11-22t09:00:00z",
            "late@example.org\nmiddle@example.org\n",
        ),
        (
            "2026-11-22T09:02:00.750Z",
            "late@example.org\nmiddle@example.org\n",
        ),
        ("2026-11-22T09:02:01Z", "late@example.org\n"),
    ] {
        let output = run(fbl(dir.path()).args([
            "export",
            "--format",
            "plain",
            "-o",
            "since.txt",
            "--since",
            since,
        ]));
        assert_eq!(output.status.code(), Some(0), "{since}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("since.txt")).unwrap(),
            expected,
            "--since {since}"
        );
    }
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "plain",
        "-o",
        "since.txt",
        "--since",
        "2026-11-22",
    ]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not an RFC 3339 time"));
}

#[test]
fn hash_is_refused_for_formats_that_need_real_addresses() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    for format in fbl::export::ExportFormat::ALL {
        let path = format!("hashed-{format}");
        let output = run(fbl(dir.path()).args([
            "export",
            "--format",
            format.as_str(),
            "--hash",
            "sha256",
            "-o",
            &path,
        ]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        if matches!(format.as_str(), "plain" | "csv" | "jsonl") {
            assert_eq!(output.status.code(), Some(0), "{format}: {stderr}");
        } else {
            assert_eq!(output.status.code(), Some(2), "{format}");
            assert!(
                stderr.contains(&format!("{format} cannot carry hashed addresses"))
                    && stderr.contains("(plain, csv, jsonl)"),
                "{format}: {stderr}"
            );
            assert!(!dir.path().join(&path).exists(), "{format}");
        }
    }
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[[export]]\nformat = \"postfix\"\npath = \"access\"\nhash = \"sha256\"\n",
    )
    .unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "export"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("postfix cannot carry hashed addresses")
    );
    assert!(!dir.path().join("access").exists());

    // The configured exports have their own settings: --hash and --removed-output are not
    // silently dropped there.
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[[export]]\nformat = \"plain\"\npath = \"list.txt\"\n",
    )
    .unwrap();
    for (flag, value) in [("--hash", "sha256"), ("--removed-output", "gone.txt")] {
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "export", flag, value]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{flag}");
        assert!(
            stderr.contains(&format!("{flag} goes with --format and --output")),
            "{stderr}"
        );
        assert!(!dir.path().join("list.txt").exists());
        assert!(!dir.path().join("gone.txt").exists());
    }
}

#[test]
fn a_linked_output_replaces_the_file_it_leads_to_and_keeps_its_group() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let targets = dir.path().join("targets");
    std::fs::create_dir(&targets).unwrap();
    std::fs::write(targets.join("target.csv"), "stale\n").unwrap();
    std::os::unix::fs::symlink("targets/target.csv", dir.path().join("link.csv")).unwrap();
    let root = unsafe { libc::geteuid() } == 0;
    if root {
        std::os::unix::fs::chown(targets.join("target.csv"), Some(4321), Some(4322)).unwrap();
    }
    std::fs::set_permissions(
        targets.join("target.csv"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();

    let output = run(fbl(dir.path()).args(["export", "--format", "plain", "-o", "link.csv"]));
    assert_eq!(output.status.code(), Some(0));

    assert!(
        std::fs::symlink_metadata(dir.path().join("link.csv"))
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced by a file"
    );
    assert_eq!(
        std::fs::read_to_string(targets.join("target.csv")).unwrap(),
        "Adam@example.net\nhand@example.org\nmia@example.com\nzoe@example.org\n"
    );
    let metadata = std::fs::metadata(targets.join("target.csv")).unwrap();
    assert_eq!(metadata.mode() & 0o7777, 0o640);
    if root {
        assert_eq!((metadata.uid(), metadata.gid()), (4321, 4322));
    }
    assert_eq!(files_in(&targets), ["target.csv"]);
}

#[test]
fn every_configured_export_is_tried_when_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    std::fs::write(
        dir.path().join("blocker"),
        "a file where a folder should be\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[[export]]\nformat = \"plain\"\npath = \"first.txt\"\n\
         [[export]]\nformat = \"csv\"\npath = \"blocker/second.csv\"\n\
         [[export]]\nformat = \"jsonl\"\npath = \"third.jsonl\"\n",
    )
    .unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "export"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("blocker/second.csv"), "{stderr}");
    assert!(
        stderr.contains("1 of 3 configured exports failed"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("first.txt"))
            .unwrap()
            .lines()
            .count(),
        4
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("third.jsonl"))
            .unwrap()
            .lines()
            .count(),
        4,
        "the export after the failed one is written"
    );

    // When every one fails, none is said to have been written.
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[[export]]\nformat = \"csv\"\npath = \"blocker/second.csv\"\n\
         [[export]]\nformat = \"jsonl\"\npath = \"blocker/third.jsonl\"\n",
    )
    .unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "export"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("every configured export failed (2, each named above)")
            && !stderr.contains("the others were written"),
        "{stderr}"
    );
}

/// A missing folder is never made: a mistyped `/etc/postfx/` would put the map where Postfix
/// never reads it, and cron would hear nothing. `fbl export` fails (exit 2); in `fbl run`
/// that export fails alone (exit 1), the others written, and so does a report file.
#[test]
fn an_output_in_a_missing_folder_fails_naming_it_and_no_folder_is_made() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let fbl = |args: &[&str]| {
        let mut command = fbl(dir.path());
        command.env_remove("RUST_BACKTRACE");
        run(command.args(args))
    };
    let output = fbl(&["export", "--format", "ses", "-o", "nodir/x.csv"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("its folder ") && stderr.contains("nodir does not exist"),
        "{stderr}"
    );
    assert!(!dir.path().join("nodir").exists(), "the folder was made");

    let deep = dir.path().join("etc/postfx/deep/fbl_suppressed");
    std::fs::write(
        dir.path().join("fbl.toml"),
        format!(
            "[[export]]\nformat = \"postfix\"\npath = {:?}\n\n\
             [[export]]\nformat = \"plain\"\npath = \"first.txt\"\n\n\
             [[report.output]]\nformat = \"html\"\npath = \"reprts/report.html\"\n",
            deep.to_str().unwrap()
        ),
    )
    .unwrap();
    let output = fbl(&["--config", "fbl.toml", "run"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "its folder {} does not exist",
            dir.path().join("etc/postfx/deep").display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("reprts does not exist"), "{stderr}");
    assert!(!dir.path().join("etc").exists(), "the folders were made");
    assert!(!dir.path().join("reprts").exists(), "the folder was made");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("first.txt"))
            .unwrap()
            .lines()
            .count(),
        4,
        "the other export is written"
    );
    // `fbl export` of the configured exports: the one that fails is named, exit 2.
    let output = fbl(&["--config", "fbl.toml", "export"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("postfx/deep does not exist"), "{stderr}");
    assert!(!dir.path().join("etc").exists(), "the folders were made");
}

#[test]
fn a_killed_exports_temporary_file_is_removed_by_the_next_export() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    let stale = format!(".lm.csv.{dead}.0.tmp");
    let other = format!(".other.csv.{dead}.0.tmp");
    for name in [&stale, &other] {
        let file = std::fs::File::create(dir.path().join(name)).unwrap();
        file.set_modified(hour_ago).unwrap();
    }
    let output = run(fbl(dir.path()).args(["export", "--format", "listmonk", "-o", "lm.csv"]));
    assert_eq!(output.status.code(), Some(0));
    let names = files_in(dir.path());
    assert!(!names.contains(&stale), "{names:?}");
    assert!(
        names.contains(&other),
        "another output's file was removed: {names:?}"
    );

    // A long name: the temporary name is shortened, the export written.
    let long = "l".repeat(245);
    let output = run(fbl(dir.path()).args(["export", "--format", "plain", "-o", &long]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join(&long))
            .unwrap()
            .lines()
            .count(),
        4
    );

    // A path that names a folder: the error names it, not a temporary file.
    let output = run(fbl(dir.path()).args(["export", "--format", "plain", "-o", "nothere/"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr.contains("nothere/"), "{stderr}");
    assert!(!stderr.contains(".nothere."), "{stderr}");
}

#[test]
fn changed_since_last_is_kept_per_file_not_per_spelling() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let db = dir.path().join("fbl.sqlite");
    let db = db.to_str().unwrap();
    let export = |folder: &Path, path: &str| -> String {
        let output = run(fbl(folder).args([
            "--db",
            db,
            "export",
            "--format",
            "plain",
            "-o",
            path,
            "--changed-since-last",
        ]));
        assert_eq!(output.status.code(), Some(0));
        std::fs::read_to_string(folder.join(path)).unwrap()
    };
    assert_eq!(export(dir.path(), "d.txt").lines().count(), 4);
    // The same file, spelt otherwise: nothing changed since.
    assert_eq!(export(dir.path(), "./d.txt"), "");
    assert_eq!(export(&dir.path().join("."), "d.txt"), "");
    // The same name in another folder is another output: a full list the first time.
    let other = dir.path().join("other");
    std::fs::create_dir(&other).unwrap();
    assert_eq!(export(&other, "d.txt").lines().count(), 4);
    assert_eq!(export(&other, "d.txt"), "");
}

#[test]
fn a_removals_file_that_cannot_be_written_leaves_the_list_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    std::fs::write(dir.path().join("main.txt"), "old\n").unwrap();
    std::fs::create_dir(dir.path().join("isdir")).unwrap();
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "plain",
        "-o",
        "main.txt",
        "--removed-output",
        "isdir",
        "--changed-since-last",
    ]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("isdir: it is a folder"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("main.txt")).unwrap(),
        "old\n"
    );
    assert_eq!(
        files_in(dir.path())
            .iter()
            .filter(|n| n.contains(".tmp"))
            .count(),
        0
    );
    // Nothing was recorded: the next delta is the whole list.
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "plain",
        "-o",
        "main.txt",
        "--removed-output",
        "removed.txt",
        "--changed-since-last",
    ]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("main.txt"))
            .unwrap()
            .lines()
            .count(),
        4
    );
}

#[test]
fn a_delta_to_standard_output_needs_a_state_name_and_keeps_its_own() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let out = dir.path().join("stdout.txt");
    let delta = |format: &str, name: Option<&str>| {
        std::fs::write(&out, "").unwrap();
        let mut args = vec![
            "export",
            "--format",
            format,
            "-o",
            "-",
            "--changed-since-last",
        ];
        if let Some(name) = name {
            args.extend(["--state-name", name]);
        }
        let (code, stderr) = run_with_stdout_appended_to(dir.path(), &out, &args);
        (code, stderr, std::fs::read_to_string(&out).unwrap())
    };
    // Without a name: refused, nothing written, nothing recorded.
    let (code, stderr, written) = delta("ses", None);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--state-name NAME"), "{stderr}");
    assert_eq!(written, "");
    // Each name keeps its own point: the first delta of each is the whole list.
    let (code, stderr, written) = delta("ses", Some("ses-import"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(written.lines().count(), 4, "{written}");
    let (code, stderr, written) = delta("postfix", Some("postfix-map"));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(written.lines().count(), 4, "{written}");
    let (code, _, written) = delta("postfix", Some("postfix-map"));
    assert_eq!(code, Some(0));
    assert_eq!(written, "");
}

#[test]
fn a_delta_to_an_output_last_written_in_another_shape_is_written_in_full() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let delta = |args: &[&str]| {
        let output = run(fbl(dir.path())
            .args(["export", "-o", "list.out", "--changed-since-last"])
            .args(args));
        assert_eq!(output.status.code(), Some(0));
        (
            String::from_utf8_lossy(&output.stderr).into_owned(),
            std::fs::read_to_string(dir.path().join("list.out")).unwrap(),
        )
    };
    assert_eq!(delta(&["--format", "plain"]).1.lines().count(), 4);
    assert_eq!(
        delta(&["--format", "plain"]),
        (String::new(), String::new())
    );
    // Another format: the whole list, said once.
    let (stderr, written) = delta(&["--format", "ses"]);
    assert!(
        stderr.contains("written in full") && stderr.contains("last written as plain"),
        "{stderr}"
    );
    assert_eq!(written.lines().count(), 4, "{written}");
    assert_eq!(delta(&["--format", "ses"]), (String::new(), String::new()));
    // Hashed, then not: another shape each time.
    let (stderr, written) = delta(&["--format", "csv", "--hash", "sha256"]);
    assert!(stderr.contains("written in full"), "{stderr}");
    assert_eq!(written.lines().count(), 5, "{written}");
    let (stderr, written) = delta(&["--format", "csv"]);
    assert!(
        stderr.contains("last written as csv hashed with sha256"),
        "{stderr}"
    );
    assert!(written.contains("@"), "{written}");
}

#[test]
fn an_address_from_before_the_address_check_is_left_out_and_said() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    // As a store written before fbl checked addresses may hold them.
    let connection = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
    connection
        .execute_batch(
            "INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count,
                                       updated_at, change_seq)
             VALUES ('jane doe@example.com', 'complaint', 'yahoo', '2026-01-01T00:00:00Z',
                     '2026-01-01T00:00:00Z', 1, '2026-01-01T00:00:00Z', 90),
                    ('line@example.com' || char(10) || 'x@example.com', 'complaint', 'yahoo',
                     '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1,
                     '2026-01-01T00:00:00Z', 91)",
        )
        .unwrap();
    drop(connection);
    for format in ["postfix", "plain", "csv"] {
        let output = run(fbl(dir.path()).args(["export", "--format", format, "-o", "list"]));
        assert_eq!(
            output.status.code(),
            Some(1),
            "left out: a person is needed"
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains(&format!(
                "export {format} list: 2 suppressed addresses left out (first: \"jane \
                 doe@example.com\", not a valid address"
            )),
            "{stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        let written = std::fs::read_to_string(dir.path().join("list")).unwrap();
        assert!(
            !written.contains("jane") && !written.contains("line@"),
            "{written}"
        );
        assert!(written.contains("zoe@example.org"), "{written}");
    }
}

/// A whole list's removals file holds the addresses taken off in the last 30 days: not every
/// address ever taken off (applied at every import, old deletions would lift again and again
/// what the target suppressed itself since), and not only those since the output was last
/// written (a cron run every few minutes rewrites it; an importer that reads it once a day
/// must still find the day's removals).
#[test]
fn a_whole_lists_removals_file_holds_the_removals_of_the_last_30_days() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let at = |now: &str, args: &[&str]| {
        let output = run(fbl(dir.path()).env("FBL_NOW", now).args(args));
        assert_eq!(output.status.code(), Some(0));
    };
    let remove = |now: &str, address: &str| {
        at(now, &["suppress", "remove", address, "--reason", "asked"]);
    };
    let full = |now: &str, format: &str| {
        at(
            now,
            &[
                "export",
                "--format",
                format,
                "-o",
                "list.txt",
                "--removed-output",
                "removed.txt",
            ],
        );
        (
            std::fs::read_to_string(dir.path().join("list.txt")).unwrap(),
            std::fs::read_to_string(dir.path().join("removed.txt")).unwrap(),
        )
    };
    remove("2026-10-01T00:00:00Z", "mia@example.com");
    // The first time: every address taken off.
    let (list, removed) = full("2026-11-22T00:00:00Z", "plain");
    assert_eq!(
        list,
        "Adam@example.net\nhand@example.org\nzoe@example.org\n"
    );
    assert_eq!(removed, "mia@example.com\n");
    // Then those of the last 30 days only: mia's removal is older.
    assert_eq!(full("2026-11-23T00:00:00Z", "plain").1, "");
    remove("2026-11-24T00:00:00Z", "zoe@example.org");
    assert_eq!(
        full("2026-11-25T00:00:00Z", "plain"),
        (
            "Adam@example.net\nhand@example.org\n".to_string(),
            "zoe@example.org\n".to_string()
        )
    );
    // Written again a few minutes later (cron): the day's removal is still there.
    assert_eq!(full("2026-11-25T00:10:00Z", "plain").1, "zoe@example.org\n");
    // 30 days on, it is not.
    assert_eq!(full("2026-12-25T00:10:00Z", "plain").1, "");
    // Another format at that output: every address taken off again, as the first time.
    assert_eq!(
        full("2026-12-26T00:00:00Z", "ses").1,
        "mia@example.com,COMPLAINT\nzoe@example.org,COMPLAINT\n"
    );
}

/// `fbl` on a test store with `[suppression]` expiring manual entries after 30 days, at `now`.
fn fbl_expiring(test: &TestStore, now: &str) -> std::process::Command {
    let config = test.dir.path().join("expiring.toml");
    if !config.exists() {
        std::fs::write(
            &config,
            "[suppression]\nexpire_after_days = { manual = 30 }\n",
        )
        .unwrap();
    }
    let mut command = test.fbl();
    command.args(["--config", config.to_str().unwrap()]);
    command.env("FBL_NOW", now);
    command
}

fn read(test: &TestStore, name: &str) -> String {
    std::fs::read_to_string(test.dir.path().join(name)).unwrap()
}

/// An expiry is a change of the list: a delta carries it, whether `fbl run` recorded it or
/// its time only has passed, and the deltas applied in order give the list a full export
/// gives.
fn an_expiry_reaches_the_next_delta(backend: Backend) {
    let test = TestStore::new(backend);
    let start = "2026-11-01T00:00:00Z";
    let add = |now: &str, args: &[&str]| {
        let output = run(fbl_expiring(&test, now)
            .args(["suppress", "add"])
            .args(args));
        assert_eq!(output.status.code(), Some(0));
    };
    add(start, &["a@example.com"]);
    add(start, &["--reason", "complaint", "b@example.com"]);
    let delta = |now: &str| {
        let output = run(fbl_expiring(&test, now).args([
            "export",
            "--format",
            "postfix",
            "-o",
            "map.txt",
            "--removed-output",
            "map-rm.txt",
            "--changed-since-last",
        ]));
        assert_eq!(output.status.code(), Some(0));
        (read(&test, "map.txt"), read(&test, "map-rm.txt"))
    };
    assert_eq!(
        delta(start),
        (
            "a@example.com REJECT 5.7.1 suppressed: manual\n\
             b@example.com REJECT 5.7.1 suppressed: complaint\n"
                .to_string(),
            String::new()
        )
    );

    // Recorded by `fbl run`.
    let output = run(fbl_expiring(&test, "2026-12-06T00:00:00Z").arg("run"));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        delta("2026-12-06T00:00:00Z"),
        (String::new(), "a@example.com DUNNO\n".to_string())
    );

    // Due by time only: no run recorded it.
    add("2026-11-20T00:00:00Z", &["c@example.com"]);
    assert_eq!(
        delta("2026-11-20T00:00:01Z").0,
        "c@example.com REJECT 5.7.1 suppressed: manual\n"
    );
    assert_eq!(
        delta("2026-12-25T00:00:00Z"),
        (String::new(), "c@example.com DUNNO\n".to_string())
    );
    // Nothing changed since: an empty delta.
    assert_eq!(
        delta("2026-12-26T00:00:00Z"),
        (String::new(), String::new())
    );
    let output = run(fbl_expiring(&test, "2026-12-26T00:00:00Z")
        .args(["export", "--format", "postfix", "-o", "full.txt"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        read(&test, "full.txt"),
        "b@example.com REJECT 5.7.1 suppressed: complaint\n"
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::Backend::Postgres) } )*
        }
    };
}

on_both_backends!(an_expiry_reaches_the_next_delta);

/// A configured export to standard output, asked for its changes (`fbl export
/// --changed-since-last`), is refused with what works instead: the message does not send the
/// user to --state-name, which the configured exports do not take. The other configured
/// export is written, and the command said there works.
#[test]
fn a_configured_delta_to_standard_output_says_what_works() {
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[[export]]\nformat = \"plain\"\npath = \"/dev/stdout\"\n\n\
         [[export]]\nformat = \"csv\"\npath = \"list.csv\"\n",
    )
    .unwrap();
    let output =
        run(fbl(dir.path()).args(["--config", "fbl.toml", "export", "--changed-since-last"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr,
        "fbl: export plain /dev/stdout: --changed-since-last needs the [[export]] written to a \
         file, where fbl keeps the point of the list it last wrote; standard output, a pipe or \
         a device is none, and the configured exports take no --state-name. For the changes \
         there, run `fbl export --format plain --output /dev/stdout --changed-since-last \
         --state-name NAME` (one NAME per reader of the changes), or give this [[export]] a \
         file as its path\n\
         fbl: 1 of 2 configured exports failed (each named above); the others were written\n"
    );
    assert_eq!(stdout(&output), "");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("list.csv"))
            .unwrap()
            .lines()
            .count(),
        5
    );
    // What the message says works.
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "plain",
        "--output",
        "/dev/stdout",
        "--changed-since-last",
        "--state-name",
        "NAME",
    ]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output).lines().count(), 4);
}

/// A reason and a source kept by an older fbl, before reasons were cleaned on the way in,
/// with a line break, a tab and terminal escapes (written straight into the SQLite store
/// here, as such a version left it): every export format writes that entry as it writes a
/// clean one, the reason and source cleaned as fbl cleans them now (each run of control
/// characters one space). No row, line or field is added, nothing else changes, and no
/// control character but the line ends reaches a file.
#[test]
fn a_reason_kept_with_control_characters_before_they_were_cleaned_breaks_no_export() {
    const HOSTILE_REASON: &str = "asked\r\nevil@attacker.example REJECT\t\u{1b}[31mnow\u{7}";
    const CLEAN_REASON: &str = "asked evil@attacker.example REJECT [31mnow";
    const HOSTILE_SOURCE: &str = "manual\n\u{1b}]0;title\u{7}";
    const CLEAN_SOURCE: &str = "manual ]0;title";
    let dir = tempfile::tempdir().unwrap();
    store_with_list(dir.path());
    let export = |format: fbl::export::ExportFormat, name: &str| {
        let path = dir.path().join(name).join(format.as_str());
        let _ = std::fs::create_dir(dir.path().join(name));
        let output = run(fbl(dir.path()).args([
            "export",
            "--format",
            format.as_str(),
            "--output",
            path.to_str().unwrap(),
        ]));
        assert_eq!(output.status.code(), Some(0), "{format}");
        std::fs::read_to_string(&path).unwrap()
    };
    let clean: Vec<String> = fbl::export::ExportFormat::ALL
        .iter()
        .map(|&format| export(format, "clean"))
        .collect();
    // The store kept the entry so, and the cleaned text as reason and source would give
    // these bytes: what each export must write.
    let store = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
    let source: String = store
        .query_row(
            "SELECT source FROM suppressions WHERE address = 'hand@example.org'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(source, "manual");
    let changed = store
        .execute(
            "UPDATE suppressions SET reason = ?1, source = ?2 WHERE address = 'hand@example.org'",
            [HOSTILE_REASON, HOSTILE_SOURCE],
        )
        .unwrap();
    assert_eq!(changed, 1);
    drop(store);
    for (format, clean) in fbl::export::ExportFormat::ALL.iter().zip(&clean) {
        let written = export(*format, "kept-before");
        let expected = clean
            .replace("asked", CLEAN_REASON)
            .replace("manual", CLEAN_SOURCE);
        assert_eq!(written, expected, "{format}");
        assert!(
            !written.chars().any(|c| c.is_control() && c != '\n'),
            "{format}: {written:?}"
        );
        // The formats that carry the reason carry it cleaned.
        if ["csv", "jsonl", "listmonk", "mautic", "postfix"].contains(&format.as_str()) {
            assert!(written.contains(CLEAN_REASON), "{format}: {written}");
        }
    }
}

/// A suppressed address and a reason written to start a spreadsheet formula: the address is
/// exported as it is (importers must match it), the text fbl derives or describes gets a `'`
/// in front, so a spreadsheet shows it rather than running it.
#[test]
fn text_cells_a_spreadsheet_would_run_are_quoted_but_the_address_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let address = "=cmd|'/Ccalc'!A0@example.com";
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        address,
        "--reason",
        "=HYPERLINK(\"http://evil.example/\")",
    ]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let export = |format: &str| {
        let path = dir.path().join(format);
        let output = run(fbl(dir.path()).args([
            "export",
            "--format",
            format,
            "--output",
            path.to_str().unwrap(),
        ]));
        assert_eq!(output.status.code(), Some(0), "{format}: {output:?}");
        std::fs::read_to_string(path).unwrap()
    };
    let csv = export("csv");
    assert!(
        csv.lines().nth(1).unwrap().starts_with(
            "=cmd|'/Ccalc'!A0@example.com,\"'=HYPERLINK(\"\"http://evil.example/\"\")\","
        ),
        "{csv}"
    );
    let listmonk = export("listmonk");
    assert!(
        listmonk
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("=cmd|'/Ccalc'!A0@example.com,'=cmd|'/Ccalc'!A0,"),
        "{listmonk}"
    );
    assert_eq!(
        export("mautic"),
        "email,doNotEmail,fbl_reason\n\
         =cmd|'/Ccalc'!A0@example.com,1,\"'=HYPERLINK(\"\"http://evil.example/\"\")\"\n"
    );
    assert_eq!(export("phplist"), format!("{address}\n"));
}

/// Mailman 3 holds ASCII addresses only, in lower case, looked up exactly, and its plain file
/// reads a line that begins with `#` as a comment: both Mailman exports write what Mailman
/// holds, each address once, and say what they leave out (`delmembers -f` would stop at a
/// non-ASCII line and unsubscribe nobody; `Mixed.Case@` would never be matched).
#[test]
fn mailman_exports_hold_only_addresses_mailman_takes() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        "#hash@example.com",
        "Mixed.Case@example.com",
        "jörg@example.de",
        "user@bücher.de",
        "jane@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let plain = dir.path().join("mailman.txt");
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "mailman",
        "--output",
        plain.to_str().unwrap(),
    ]));
    assert_eq!(
        output.status.code(),
        Some(1),
        "written, but two need a person"
    );
    assert_eq!(
        std::fs::read_to_string(&plain).unwrap(),
        "jane@example.org\nmixed.case@example.com\nuser@xn--bcher-kva.de\n"
    );
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "fbl: export mailman {}: 2 suppressed addresses left out (first: \
             #hash@example.com): Mailman holds no address whose part before the @ is not \
             ASCII, and reads a line that begins with # as a comment (mailman-json holds \
             those), so unsubscribe and ban them another way\n",
            plain.display()
        )
    );

    let json = dir.path().join("mailman.json");
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "mailman-json",
        "--output",
        json.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(1));
    let text = std::fs::read_to_string(&json).unwrap();
    assert_eq!(
        text,
        "{\"emails\": [\n  \"#hash@example.com\",\n  \"jane@example.org\",\n  \
         \"mixed.case@example.com\",\n  \"user@xn--bcher-kva.de\"\n]}\n"
    );
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "fbl: export mailman-json {}: 1 suppressed address left out (first: \
             jörg@example.de): mailman-json takes ASCII addresses only and the part before \
             the @ is not ASCII, so suppress it another way\n",
            json.display()
        )
    );
    let document: serde_json::Value = serde_json::from_str(&text).unwrap();
    let errors: Vec<String> = schema_validator("export-mailman.schema.json")
        .iter_errors(&document)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

fn schema_validator(name: &str) -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name);
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(&schema)
        .unwrap()
}

/// With SMTPUTF8, postmap folds keys (`ß` → `ss`): a line for `groß@example.de` would also
/// reject the innocent `gross@example.de`. Such a line is left out and said; the A-label line
/// of a domain with `ß` goes in.
#[test]
fn postfix_map_leaves_out_a_key_postmap_would_fold_into_another_address() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        "groß@example.de",
        "x@ß.de",
        "jane@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let map = dir.path().join("access");
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "postfix",
        "--output",
        map.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        std::fs::read_to_string(&map).unwrap(),
        "jane@example.org REJECT 5.7.1 suppressed: manual\n\
         x@xn--zca.de REJECT 5.7.1 suppressed: manual\n"
    );
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "fbl: export postfix {}: 2 suppressed addresses left out (first: \
             groß@example.de): postmap reads a line that begins with # as a comment, and \
             folds letter case so that a key with ß or a like letter would also match another \
             address (groß@ as gross@), so reject them another way (the A-label form of an \
             internationalised domain is in the map when the part before the @ is ASCII)\n",
            map.display()
        )
    );
}

/// A reason given by hand or in an import is free text: the JSON Lines export still matches
/// its schema, and a control character in a reason never reaches a file (replaced by a space
/// on the way in, said).
#[test]
fn free_text_reasons_export_valid_json_lines_and_one_line_each() {
    let dir = tempfile::tempdir().unwrap();
    for (address, reason) in [
        ("a@example.org", "=HYPERLINK(\"x\")"),
        ("b@example.org", "reason, with \"quotes\""),
        (
            "c@example.org",
            "line one\nc2@example.org OK\tand\u{1b}more",
        ),
    ] {
        let output = run(fbl(dir.path()).args(["suppress", "add", address, "--reason", reason]));
        assert_eq!(output.status.code(), Some(0));
    }
    std::fs::write(
        dir.path().join("import.csv"),
        "email,reason\nd@example.org,bounced hard\ne@example.org,\"nul\u{0}and\ttab\"\n",
    )
    .unwrap();
    let output = run(fbl(dir.path()).args(["suppress", "import", "import.csv"]));
    assert_eq!(output.status.code(), Some(0));

    let jsonl = dir.path().join("list.jsonl");
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "jsonl",
        "--output",
        jsonl.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(0));
    let validator = schema_validator("export-jsonl.schema.json");
    let text = std::fs::read_to_string(&jsonl).unwrap();
    let mut reasons = Vec::new();
    for line in text.lines() {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let errors: Vec<String> = validator.iter_errors(&row).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{line}: {errors:?}");
        reasons.push(row["reason"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        reasons,
        [
            "=HYPERLINK(\"x\")",
            "reason, with \"quotes\"",
            "line one c2@example.org OK and more",
            "bounced hard",
            "nul and tab"
        ]
    );
    // The schema still refuses a reason with a line break, and an empty one.
    for bad in ["two\nlines", ""] {
        let row = serde_json::json!({
            "email": "a@example.org", "reason": bad, "source": "manual",
            "first_seen": "2026-11-20T08:00:00Z", "last_seen": "2026-11-20T08:00:00Z",
            "expires_at": null, "count": 1, "removed_at": null
        });
        assert!(!validator.is_valid(&row), "{bad:?}");
    }
    // The Postfix map keeps one line per address.
    let map = dir.path().join("access");
    let output = run(fbl(dir.path()).args([
        "export",
        "--format",
        "postfix",
        "--output",
        map.to_str().unwrap(),
    ]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&map).unwrap().lines().count(), 5);
}

/// `fbl export --help` says what is formula-escaped in CSV: reasons, sources and names,
/// never an address.
#[test]
fn export_help_says_csv_text_cells_are_formula_escaped_but_addresses_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let help = stdout(&run(fbl(dir.path()).args(["export", "--help"])));
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(!help.contains("not formula-escaped"), "{help}");
    assert!(
        help.contains("in the csv, listmonk and mautic files, a reason, source or name that begins with `=`, `+`, `-`, `@`, a tab or a carriage return gets a `'` in front, but an address is never changed"),
        "{help}"
    );
}
