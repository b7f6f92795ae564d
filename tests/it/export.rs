//! `fbl export` end to end on a real store: every format, atomic and deterministic files,
//! incremental exports with removals.

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
            let main = dir.path().join("main");
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
            assert_eq!(output.status.code(), Some(0));
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
    assert_eq!(output.status.code(), Some(0), "the export does not fail");
    assert_eq!(
        std::fs::read_to_string(&map).unwrap(),
        "jane@example.org REJECT 5.7.1 suppressed: manual\n"
    );
    assert_eq!(
        String::from_utf8(output.stderr).unwrap(),
        format!(
            "fbl: export postfix {}: 2 suppressed addresses left out (first: \
             #hash@example.com): postmap reads a line that begins with # as a comment, so \
             reject them another way\n",
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
