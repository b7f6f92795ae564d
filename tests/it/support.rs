//! Helpers shared by the integration tests: a temporary folder, the `fbl` binary, fixtures.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    root().join("fixtures")
}

/// The `fbl` binary with a clean environment: no backtraces, no inherited FBL_ variables.
pub fn fbl(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_fbl"));
    command.current_dir(dir);
    command.env_remove("RUST_BACKTRACE");
    for (key, _) in std::env::vars() {
        if key.starts_with("FBL_") {
            command.env_remove(key);
        }
    }
    command.env("FBL_NOW", "2026-11-20T08:00:00Z");
    command
}

/// Runs a command and returns its output, printing it when the test fails.
pub fn run(command: &mut Command) -> Output {
    let output = command.output().expect("cannot start fbl");
    shown(command, output)
}

/// `run`, with `input` on the command's standard input.
pub fn run_with_stdin(command: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start fbl");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    shown(command, output)
}

/// Prints a command's output for a failing test to show, and hands it back.
fn shown(command: &Command, output: Output) -> Output {
    eprintln!(
        "$ {:?}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
        command,
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Turns LF line ends into CRLF (leaving existing CRLF alone).
pub fn to_crlf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 20);
    let mut previous = 0u8;
    for &byte in raw {
        if byte == b'\n' && previous != b'\r' {
            out.push(b'\r');
        }
        out.push(byte);
        previous = byte;
    }
    out
}

/// Turns CRLF line ends into LF.
pub fn to_lf(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut iter = raw.iter().peekable();
    while let Some(&byte) = iter.next() {
        if byte == b'\r' && iter.peek() == Some(&&b'\n') {
            continue;
        }
        out.push(byte);
    }
    out
}

/// A readable expected/got diff, line by line.
pub fn diff(expected: &str, got: &str) -> String {
    let mut text = String::new();
    let expected: Vec<&str> = expected.lines().collect();
    let got: Vec<&str> = got.lines().collect();
    for i in 0..expected.len().max(got.len()) {
        let e = expected.get(i).copied();
        let g = got.get(i).copied();
        if e != g {
            text.push_str(&format!(
                "line {}:\n  expected: {}\n  got:      {}\n",
                i + 1,
                e.unwrap_or("<none>"),
                g.unwrap_or("<none>")
            ));
        }
    }
    text
}

pub fn updating_golden() -> bool {
    std::env::var_os("FBL_UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

/// Loads a JSON Schema from `schemas/` with format validation on.
pub fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("schemas").join(name)).unwrap();
    let schema: serde_json::Value = serde_json::from_str(&text).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("schema {name} is invalid: {e}"))
}

pub fn schema_errors(validator: &jsonschema::Validator, value: &serde_json::Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

/// A minimal RFC 5965 report for tests: one complaint about `message_id`, naming
/// `rcpt_to` (or nobody when empty), of the given feedback type.
pub fn arf(feedback_type: &str, rcpt_to: &str, message_id: &str) -> Vec<u8> {
    let rcpt = if rcpt_to.is_empty() {
        String::new()
    } else {
        format!("Original-Rcpt-To: {rcpt_to}\n")
    };
    format!(
        "From: feedback@arf.mail.yahoo.com\n\
         To: fbl@example.com\n\
         Date: Tue, 10 Nov 2026 12:00:00 +0000\n\
         Subject: report\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\
         \n\
         --b\n\
         Content-Type: text/plain\n\
         \n\
         A report.\n\
         --b\n\
         Content-Type: message/feedback-report\n\
         \n\
         Feedback-Type: {feedback_type}\n\
         User-Agent: Yahoo!-Mail-Feedback/2.0\n\
         Version: 1\n\
         Source-IP: 192.0.2.10\n\
         {rcpt}\
         \n\
         --b\n\
         Content-Type: text/rfc822-headers\n\
         \n\
         From: news@example.com\n\
         Message-ID: <{message_id}>\n\
         Subject: News\n\
         \n\
         --b--\n"
    )
    .into_bytes()
}

/// The demo's `exports` folder in a copy of it as a fresh clone has it: there, but empty
/// (but for its `.gitignore`), whatever an earlier run in the checkout left in it. fbl
/// never creates an output's folder.
pub fn empty_demo_exports(demo: &Path) {
    let exports = demo.join("exports");
    let _ = std::fs::remove_dir_all(&exports);
    std::fs::create_dir(&exports).unwrap();
    std::fs::copy(
        fixtures().join("demo/exports/.gitignore"),
        exports.join(".gitignore"),
    )
    .unwrap();
}

/// Copies a folder tree (the demo, for instance) so a test can run in a scratch copy.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}
