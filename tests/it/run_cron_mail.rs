//! What cron mails: `fbl run` with standard output no terminal and no `--json` leads with
//! what needs a person and keeps the rest to one line per area; at a terminal the whole
//! summary stays; a run with nothing to say prints nothing.

use crate::support::{fbl, run, stdout};
use std::path::Path;
use std::process::Command;

fn demo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    crate::support::copy_tree(&crate::support::fixtures().join("demo"), &demo);
    crate::support::empty_demo_exports(&demo);
    let _ = std::fs::remove_file(demo.join("fbl.sqlite"));
    dir
}

/// `command`'s standard output on a pseudo-terminal (util-linux `script`), standard error
/// dropped.
fn on_terminal(command: &Command) -> (Option<i32>, String) {
    let quote = |word: &std::ffi::OsStr| {
        let word = word.to_str().expect("test paths are UTF-8");
        format!("'{}'", word.replace('\'', r"'\''"))
    };
    let mut line = quote(command.get_program());
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line.push_str(" 2>/dev/null");
    let mut script = Command::new("script");
    script.args(["--quiet", "--return", "--command", &line, "/dev/null"]);
    script.env("SHELL", "/bin/sh");
    if let Some(dir) = command.get_current_dir() {
        script.current_dir(dir);
    }
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => script.env(key, value),
            None => script.env_remove(key),
        };
    }
    let output = run(&mut script);
    (output.status.code(), stdout(&output).replace("\r\n", "\n"))
}

fn demo_run(dir: &Path) -> Command {
    let mut command = fbl(dir);
    command.args(["run", "--config", "demo/fbl.toml"]);
    command
}

#[test]
fn a_cron_mail_starts_with_what_needs_a_person_and_summarises_the_rest_in_a_few_lines() {
    let dir = demo();
    let output = run(&mut demo_run(dir.path()));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    // First the alerts, then what was left unattributed or quarantined, each with what to
    // do; not a send-log position or an export file first.
    assert!(
        lines[0].starts_with("alert: campaign july-deals complaint rate"),
        "{text}"
    );
    let first_not_alert = lines
        .iter()
        .position(|line| !line.starts_with("alert: "))
        .unwrap();
    assert_eq!(first_not_alert, 7, "{text}");
    assert!(lines[7].starts_with("unattributed (1): "), "{text}");
    assert!(
        text.contains(
            "\nquarantined: demo/Maildir/new/1764000023.M23P100.demo: Incidents is not a \
             positive integer: \"several\"\n  (fbl quarantine list gives their ids;"
        ),
        "{text}"
    );
    // Then one line per area with news.
    let (_, summary) = text.split_once("\n\nthis run:\n").expect(&text);
    assert_eq!(
        summary.lines().collect::<Vec<_>>(),
        [
            "  26 messages: 25 stored, 0 duplicates, 1 quarantined; 16 attributed, 2 \
             unattributed; suppressions: 18 added, 0 updated",
            "  send log demo/sends.csv: 3905 new entries, 0 stored complaints attributed by it",
            "  exports written: csv 18 entries, listmonk 18 entries, postfix 18 entries, plain \
             18 entries",
            "  reports written: html 400 days, prometheus 400 days",
            "  snds demo: 4 days (2026-11-15 to 2026-11-18), 16 rows received, 16 new, 3 days \
             without data; ip status 2 ranges, 1 blocked",
        ],
        "{text}"
    );
    assert!(!text.contains("entries to demo/exports/"), "{text}");

    // Nothing new: nothing to mail.
    let output = run(&mut demo_run(dir.path()));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(stdout(&output), "");
    assert!(
        output.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn at_a_terminal_the_run_prints_the_whole_summary() {
    let dir = demo();
    let (code, text) = on_terminal(&demo_run(dir.path()));
    assert_eq!(code, Some(1));
    assert!(
        text.starts_with(
            "send log demo/sends.csv: 3905 entries, 3905 new, 0 bad lines; 0 stored complaints \
             attributed by it; "
        ),
        "{text}"
    );
    for line in [
        "\n26 messages: 25 stored, 0 duplicates, 1 quarantined\n",
        "\n  export csv: 18 entries to demo/exports/suppressions.csv\n",
        "\n  alert: snds demo: 198.51.100.7 turned YELLOW on 2026-11-16 (was GREEN)\n",
    ] {
        assert!(text.contains(line), "{line:?} in {text}");
    }
    assert!(!text.contains("this run:"), "{text}");
}
