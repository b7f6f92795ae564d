//! The progress bar of `fbl ingest` and `fbl run`: drawn when standard error is a terminal
//! (a pseudo-terminal from util-linux `script`), absent otherwise, as under cron.

use crate::dovecot::{Dovecot, seed};
use crate::imap_poll::{Setup, reports};
use crate::support::{arf, fbl, run, stdout};
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// What a command wrote to its terminal, and its standard output (kept apart, in a file).
struct OnTerminal {
    code: Option<i32>,
    terminal: String,
    stdout: String,
}

impl OnTerminal {
    /// The last drawing of each line, without the blanks that erase a longer drawing.
    fn final_lines(&self) -> Vec<&str> {
        self.terminal
            .split("\r\n")
            .filter(|line| !line.is_empty())
            .map(|line| line.rsplit('\r').next().unwrap_or("").trim_end())
            .collect()
    }

    /// Every drawing of every line.
    fn drawings(&self) -> Vec<&str> {
        self.terminal
            .split("\r\n")
            .flat_map(|line| line.split('\r'))
            .filter(|drawing| !drawing.is_empty())
            .collect()
    }
}

fn quote(word: &OsStr) -> String {
    let word = word.to_str().expect("test paths are UTF-8");
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Runs `command` with standard error (and input) on a pseudo-terminal, through util-linux
/// `script`, and standard output redirected to a file; the environment and folder are those
/// of `command`.
fn on_terminal(command: &Command, scratch: &Path) -> OnTerminal {
    on_terminal_of_width(command, scratch, None)
}

/// [`on_terminal`] on a pseudo-terminal that says it is `columns` wide (`stty cols`).
fn on_terminal_of_width(command: &Command, scratch: &Path, columns: Option<u16>) -> OnTerminal {
    let stdout_path = scratch.join("stdout-on-terminal.txt");
    let redirect = format!(" >{}", quote(stdout_path.as_os_str()));
    let mut result = in_script(command, columns, &redirect);
    result.stdout = std::fs::read_to_string(&stdout_path).unwrap_or_default();
    result
}

/// Runs `command` with standard output (and input) on a pseudo-terminal and standard error
/// sent to /dev/null: what a person sees of a listing.
fn stdout_on_terminal(command: &Command) -> OnTerminal {
    in_script(command, None, " 2>/dev/null")
}

/// Runs `command` through util-linux `script`, with `redirect` after it on the shell line.
fn in_script(command: &Command, columns: Option<u16>, redirect: &str) -> OnTerminal {
    let mut line = match columns {
        Some(columns) => format!("stty cols {columns} rows 24; "),
        None => String::new(),
    };
    line.push_str(&quote(command.get_program()));
    for arg in command.get_args() {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line.push_str(redirect);
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
    assert!(
        output.stderr.is_empty(),
        "script (util-linux) failed; is it installed?"
    );
    OnTerminal {
        code: output.status.code(),
        terminal: stdout(&output),
        stdout: String::new(),
    }
}

fn make_maildir(path: &Path, count: usize) {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(path.join(sub)).unwrap();
    }
    for n in 0..count {
        let message = arf(
            "abuse",
            &format!("user{n}@example.net"),
            &format!("m{n}@example.com"),
        );
        std::fs::write(path.join("new").join(format!("{n:04}.test:2,")), message).unwrap();
    }
}

#[test]
fn ingest_of_a_maildir_draws_a_bar_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(&dir.path().join("Maildir"), 30);
    let mut command = fbl(dir.path());
    command
        .env("COLUMNS", "100")
        .args(["--db", "fbl.sqlite", "ingest", "--json", "Maildir"]);
    let result = on_terminal(&command, dir.path());
    assert_eq!(result.code, Some(0));
    let summary: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(summary["stored"], 30);

    // One line, ended by a newline: drawn at the first message and at the end.
    let lines = result.final_lines();
    assert_eq!(lines.len(), 1, "{:?}", result.terminal);
    assert!(result.terminal.ends_with("\r\n"), "{:?}", result.terminal);
    let drawings = result.drawings();
    assert!(
        drawings[0].starts_with("fbl: Maildir [#---") && drawings[0].contains("]  1/30   3%  "),
        "{drawings:?}"
    );
    let last = lines[0];
    assert!(last.starts_with("fbl: Maildir [######"), "{last:?}");
    assert!(last.contains("##] 30/30 100%  "), "{last:?}");
    assert!(last.contains("/s  in 0:0"), "{last:?}");
    // As wide as COLUMNS says, less the last column.
    assert_eq!(last.chars().count(), 99, "{last:?}");
    assert!(
        !result.stdout.contains("fbl: Maildir"),
        "the bar went to stdout"
    );
}

#[test]
fn ingest_of_an_mbox_counts_on_a_terminal_without_a_bar() {
    let dir = tempfile::tempdir().unwrap();
    let mut mbox = Vec::new();
    for n in 0..12 {
        mbox.extend_from_slice(b"From feedback@example.com Tue Nov 10 12:00:00 2026\n");
        mbox.extend_from_slice(&arf(
            "abuse",
            &format!("user{n}@example.net"),
            &format!("m{n}@example.com"),
        ));
        mbox.push(b'\n');
    }
    std::fs::write(dir.path().join("old.mbox"), mbox).unwrap();
    let mut command = fbl(dir.path());
    command.args(["--db", "fbl.sqlite", "ingest", "--json", "old.mbox"]);
    let result = on_terminal(&command, dir.path());
    assert_eq!(result.code, Some(0));
    let lines = result.final_lines();
    assert_eq!(lines.len(), 1, "{:?}", result.terminal);
    assert!(
        lines[0].starts_with("fbl: old.mbox  12 messages  ") && lines[0].ends_with("/s"),
        "{lines:?}"
    );
    assert!(!result.terminal.contains('['), "{:?}", result.terminal);
}

#[test]
fn ingest_draws_nothing_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(&dir.path().join("Maildir"), 30);
    let output = run(fbl(dir.path()).env("COLUMNS", "100").args([
        "--db",
        "fbl.sqlite",
        "ingest",
        "--json",
        "Maildir",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["stored"], 30);
    assert!(
        output.stderr.is_empty(),
        "stderr: {:?}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn run_draws_a_bar_per_folder_on_a_terminal_and_nothing_under_cron() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "seen", "folders = [\"INBOX\", \"Junk\"]");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..25));
    session.create_folder_if_missing("Junk").unwrap();
    seed(&mut session, "Junk", reports(25..30));
    let _ = session.logout();

    let mut command = setup.fbl();
    command.env("COLUMNS", "90").args(["run", "--json"]);
    let result = on_terminal(&command, setup.dir.path());
    assert_eq!(result.code, Some(0));
    let summary: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
    assert_eq!(summary["mailboxes"][0]["folders"][0]["new_messages"], 25);
    assert_eq!(summary["mailboxes"][0]["folders"][1]["new_messages"], 5);
    let lines = result.final_lines();
    assert_eq!(lines.len(), 2, "{:?}", result.terminal);
    assert!(
        lines[0].starts_with("fbl: mailbox jmrp INBOX [###") && lines[0].contains("] 25/25 100%"),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with("fbl: mailbox jmrp Junk [###") && lines[1].contains("] 5/5 100%"),
        "{lines:?}"
    );
    assert!(lines.iter().all(|line| line.chars().count() == 89));
    assert!(
        result
            .drawings()
            .iter()
            .any(|drawing| drawing.contains("]  1/25   4%")),
        "{:?}",
        result.terminal
    );

    // New mail, stderr not a terminal (cron): the same work, and not a byte on stderr.
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(30..40));
    let _ = session.logout();
    let output = run(setup.fbl().env("COLUMNS", "90").args(["run", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["mailboxes"][0]["folders"][0]["new_messages"], 10);
    assert!(
        output.stderr.is_empty(),
        "stderr: {:?}",
        String::from_utf8_lossy(&output.stderr)
    );

    // Nothing new on a terminal: folders without new mail draw nothing.
    let result = on_terminal(&command, setup.dir.path());
    assert_eq!(result.code, Some(0));
    assert_eq!(result.terminal, "");
}

#[test]
fn run_draws_a_bar_for_a_local_source_on_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    crate::support::copy_tree(&crate::support::fixtures().join("demo"), &demo);
    crate::support::empty_demo_exports(&demo);
    let _ = std::fs::remove_file(demo.join("fbl.sqlite"));
    let messages = ["cur", "new"]
        .iter()
        .map(|sub| {
            std::fs::read_dir(demo.join("Maildir").join(sub))
                .unwrap()
                .count()
        })
        .sum::<usize>();
    let mut command = fbl(dir.path());
    command.args(["run", "--config", "demo/fbl.toml", "--json"]);
    let result = on_terminal(&command, dir.path());
    // The demo needs attention (README).
    assert_eq!(result.code, Some(1));
    let lines = result.final_lines();
    let expected = format!("] {messages}/{messages} 100%  ");
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("fbl: source demo-maildir [###")
                && line.contains(&expected)),
        "{lines:?}"
    );
    // Width 80 when COLUMNS is not set.
    assert!(lines[0].chars().count() == 79, "{lines:?}");
}

/// Without COLUMNS, the bar is as wide as the terminal says it is.
#[test]
fn without_columns_the_bar_fits_the_terminal_size() {
    let dir = tempfile::tempdir().unwrap();
    make_maildir(&dir.path().join("Maildir"), 30);
    let mut command = fbl(dir.path());
    command.env_remove("COLUMNS").args(["ingest", "Maildir"]);
    let result = on_terminal_of_width(&command, dir.path(), Some(123));
    let lines = result.final_lines();
    assert!(!lines.is_empty(), "{}", result.terminal);
    assert_eq!(lines[0].chars().count(), 122, "{lines:?}");
}

/// A listing carries a header line for the person reading it on a terminal, and none for a
/// script reading a pipe.
#[test]
fn listings_carry_a_header_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args(["suppress", "add", "a@example.org"]));
    assert_eq!(output.status.code(), Some(0));
    let listings: [(&[&str], &str); 3] = [
        (
            &["suppress", "list"],
            "ADDRESS\tREASON\tSOURCE\tFIRST SEEN\tLAST SEEN\tCOUNT\tEXPIRES",
        ),
        (
            &["quarantine", "list"],
            "ID\tQUARANTINED\tSIZE\tORIGIN\tREASON",
        ),
        (
            &["store", "unattributed"],
            "REPORT\tREPORTED\tREPORTER\tORIGIN\tWHY NOBODY",
        ),
    ];
    for (args, header) in listings {
        let mut command = fbl(dir.path());
        command.args(args);
        let seen = stdout_on_terminal(&command);
        assert_eq!(seen.code, Some(0), "{args:?}: {}", seen.terminal);
        let first = seen.terminal.split("\r\n").next().unwrap_or("");
        assert_eq!(first, header, "{args:?}: {:?}", seen.terminal);
        let piped = run(fbl(dir.path()).args(args));
        assert!(!stdout(&piped).contains(header), "{args:?}");
    }
    // The rows follow the header, unchanged.
    let mut command = fbl(dir.path());
    command.args(["suppress", "list"]);
    let seen = stdout_on_terminal(&command);
    let rows: Vec<&str> = seen
        .terminal
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert!(rows[1].starts_with("a@example.org\tmanual\t"), "{rows:?}");
}
