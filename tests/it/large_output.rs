//! What a large run prints: lists that grow with the input (quarantined messages) name the
//! first few and count the rest, so that a cron mail stays readable; `fbl quarantine list`
//! writes its rows as it reads them; `fbl suppress remove` takes a list.

use crate::support::{arf, fbl, run, run_with_stdin, stdout};
use std::path::Path;

/// A report fbl cannot read: its Incidents field is `word`, no number.
fn broken(n: usize, word: &str) -> Vec<u8> {
    String::from_utf8(arf("abuse", "", &format!("m{n}@example.com")))
        .unwrap()
        .replace("Version: 1\n", &format!("Version: 1\nIncidents: {word}\n"))
        .into_bytes()
}

/// Writes a message file as a delivery an hour ago left it (settled for a `[[source]]`).
fn put(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap();
    let hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(hour_ago)
        .unwrap();
}

const SEVERAL: &str = "Incidents is not a positive integer: \"several\"";

/// 40 broken reports used to print 40 `quarantined:` lines; 10,000 printed 10,000. The
/// first ten are named as before, the rest counted by reason, the commonest first.
#[test]
fn ingest_names_ten_quarantined_messages_and_counts_the_rest_by_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut names = Vec::new();
    for n in 0..40 {
        // 25 with one reason (the first ten of them named), 15 with one each.
        let word = if n < 25 {
            "several".to_string()
        } else {
            format!("w{:02}", n - 25)
        };
        let name = format!("m{n:02}.eml");
        put(&dir.path().join(&name), &broken(n, &word));
        names.push(name);
    }
    let output = run(fbl(dir.path()).arg("ingest").args(&names));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    assert!(
        text.starts_with("40 messages: 0 stored, 0 duplicates, 40 quarantined\n"),
        "{text}"
    );
    assert_eq!(text.matches("\n  quarantined: ").count(), 10, "{text}");
    assert!(
        text.contains(&format!("\n  quarantined: m00.eml: {SEVERAL}\n")),
        "{text}"
    );
    // The rest: 15 "several", then 9 of the 15 single reasons, then the other 6 counted.
    assert!(
        text.contains(&format!("\n  quarantined (15 more): {SEVERAL}\n")),
        "{text}"
    );
    assert!(
        text.contains("\n  quarantined (1 more): Incidents is not a positive integer: \"w00\"\n"),
        "{text}"
    );
    assert_eq!(
        text.matches("\n  quarantined (1 more): ").count(),
        9,
        "{text}"
    );
    assert!(
        text.contains("\n  quarantined (6 more, for 6 other reasons)\n"),
        "{text}"
    );
    assert!(
        text.contains("\n  (these 40 are all in fbl quarantine list, with their ids;"),
        "{text}"
    );
    assert!(text.lines().count() < 30, "{text}");
}

/// `fbl run` under cron with a `[[source]]` of broken reports: the mail names ten and counts
/// the rest, whatever the number (10,000 used to make a 1 MB mail).
#[test]
fn a_cron_run_names_ten_quarantined_messages_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("in")).unwrap();
    for n in 0..40 {
        put(
            &dir.path().join(format!("in/m{n:02}.eml")),
            &broken(n, "several"),
        );
    }
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n[[source]]\nname = \"local\"\npath = \"in\"\n",
    )
    .unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    assert_eq!(
        text.lines()
            .filter(|line| line.starts_with("quarantined: "))
            .count(),
        10,
        "{text}"
    );
    assert!(
        text.contains(&format!("\nquarantined (30 more): {SEVERAL}\n")),
        "{text}"
    );
    assert!(
        text.contains("\n  (these 40 are all in fbl quarantine list, with their ids;"),
        "{text}"
    );
    assert!(text.lines().count() < 25, "{text}");
}

/// `fbl quarantine list --json` is written an element at a time now: the bytes are those of
/// the whole list printed at once, as before (and `[]` for an empty quarantine).
#[test]
fn quarantine_list_json_is_the_whole_list_as_before() {
    let dir = tempfile::tempdir().unwrap();
    run(fbl(dir.path()).args(["suppress", "add", "a@example.org"]));
    let output = run(fbl(dir.path()).args(["quarantine", "list", "--json"]));
    assert_eq!(stdout(&output), "[]\n");
    let mut names = Vec::new();
    for n in 0..3 {
        let name = format!("m{n}.eml");
        put(&dir.path().join(&name), &broken(n, "several"));
        names.push(name);
    }
    run(fbl(dir.path()).arg("ingest").args(&names));
    let entries = fbl::store::Store::open(&dir.path().join("fbl.sqlite"))
        .unwrap()
        .quarantine_list(false)
        .unwrap();
    assert_eq!(entries.len(), 3);
    let output = run(fbl(dir.path()).args(["quarantine", "list", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        stdout(&output),
        format!("{}\n", serde_json::to_string_pretty(&entries).unwrap())
    );
    let output = run(fbl(dir.path()).args(["quarantine", "list"]));
    assert_eq!(stdout(&output).lines().count(), 3);
    assert!(stdout(&output).starts_with(&format!("{}\t", entries[0].id)));
}

/// `fbl suppress remove` took one address per process (a lock and a commit each: 100,000
/// addresses took 25 minutes). It takes several, and `-` (a line each on standard input),
/// in one transaction, with a line per address; exit 1 when one was not removed.
#[test]
fn suppress_remove_takes_a_list() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@example.org",
    ]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let output = run_with_stdin(
        fbl(dir.path()).args([
            "suppress",
            "remove",
            "--reason",
            "asked by phone",
            "a@example.org",
            "nobody@example.org",
            "not an address",
            "-",
        ]),
        b"# from the help desk\nb@example.org\n\n\xef\xbb\xbfc@example.org\r\n",
    );
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert_eq!(lines[0], "a@example.org removed");
    assert_eq!(
        lines[1],
        "nobody@example.org was not on the suppression list"
    );
    assert!(
        lines[2].starts_with("\"not an address\" is not an email address: "),
        "{text}"
    );
    assert_eq!(
        lines[3..],
        ["b@example.org removed", "c@example.org removed"]
    );
    // Each removal kept in its address's history, with the one reason.
    for address in ["a@example.org", "b@example.org", "c@example.org"] {
        let output = run(fbl(dir.path()).args(["suppress", "show", address]));
        let show: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert!(show["suppressed"].is_null(), "{show}");
        assert!(
            show["history"].to_string().contains("asked by phone"),
            "{show}"
        );
    }
    // Every one removed: exit 0.
    let output = run_with_stdin(
        fbl(dir.path()).args(["suppress", "remove", "--reason", "asked", "-"]),
        b"d@example.org\n",
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "d@example.org removed\n");
    // One address, as before: nothing on standard output.
    let output =
        run(fbl(dir.path()).args(["suppress", "remove", "--reason", "asked", "d@example.org"]));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(stdout(&output), "");
}

/// The peak memory (KiB) of `fbl ARGS` run in `dir`, its standard output thrown away.
///
/// Measured by a small Python process that starts it and reads its children's peak: a
/// child of this test process itself would count this process's memory too (Linux keeps,
/// in a process's peak, that of the memory it had before `exec`, here a copy of the test
/// harness's, over 100 MB while the whole suite runs).
fn peak_kib(dir: &Path, args: &[&str]) -> i64 {
    let reference = fbl(dir);
    let mut command = std::process::Command::new("python3");
    command.args([
        "-c",
        "import resource, subprocess, sys\n\
         done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL)\n\
         if done.returncode: sys.exit(97)\n\
         print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
    ]);
    command.arg(reference.get_program());
    command.args(reference.get_args()).args(args);
    if let Some(folder) = reference.get_current_dir() {
        command.current_dir(folder);
    }
    for (key, value) in reference.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    let output = command.output().unwrap();
    assert!(output.status.success(), "{output:?}");
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

/// `fbl quarantine list` read the whole quarantine into memory (100,000 entries: 138 MB
/// with `--json`); it writes each row as it reads it.
#[test]
fn quarantine_list_does_not_hold_the_quarantine_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    put(&dir.path().join("m.eml"), &broken(0, "several"));
    run(fbl(dir.path()).args(["ingest", "m.eml"]));
    // 20,000 more entries of 4 KB of reason each: 80 MB (the store's page cache takes up to
    // 32 MB of it whatever the command).
    let db = rusqlite::Connection::open(dir.path().join("fbl.sqlite")).unwrap();
    db.execute_batch(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
         INSERT INTO quarantine (sha256, quarantined_at, origin, reason, raw_packed, raw_size)
         SELECT randomblob(32), quarantined_at, origin || i, hex(zeroblob(2000)), raw_packed,
                raw_size
         FROM quarantine, n",
    )
    .unwrap();
    drop(db);
    for args in [
        &["quarantine", "list", "--json"][..],
        &["quarantine", "list"][..],
    ] {
        let peak = peak_kib(dir.path(), args);
        assert!(peak < 100_000, "{args:?}: {peak} KiB");
    }
}

/// `suppress remove -` reads its list before it takes the store's lock: a person pasting
/// addresses (standard input still open) does not hold up another fbl, as cron's run. It
/// used to hold the lock and a write transaction while it read.
#[test]
fn suppress_remove_of_a_list_holds_no_lock_while_it_reads() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args(["suppress", "add", "a@example.org"]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let mut remove = fbl(dir.path())
        .args(["suppress", "remove", "--reason", "asked", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = remove.stdin.take().unwrap();
    input.write_all(b"a@example.org\n").unwrap();
    input.flush().unwrap();
    // The list is still being typed: another fbl gets the store at once.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let other = run(fbl(dir.path()).args(["--lock-wait", "0", "suppress", "add", "b@example.org"]));
    assert_eq!(other.status.code(), Some(0), "{other:?}");
    drop(input);
    let output = remove.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "a@example.org removed\n"
    );
}
