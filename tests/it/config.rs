//! The configuration file: the shipped examples parse, typos are errors.

use crate::support;
use fbl::config::Config;

#[test]
fn the_example_configuration_parses() {
    let config = Config::load(&support::root().join("fbl.example.toml")).unwrap();
    assert_eq!(config.exports.len(), 3);
    assert_eq!(config.sources.len(), 1);
    assert_eq!(config.mailboxes.len(), 2);
    assert!(config.trust.is_some());
    assert!(config.attribution.token.is_some());
    let snds = config.snds.expect("the example shows [snds]");
    assert_eq!(snds.legacy.len(), 2);
    assert!(snds.api.is_some());
}

#[test]
fn the_demo_configuration_parses() {
    let config = Config::load(&support::fixtures().join("demo/fbl.toml")).unwrap();
    assert!(
        config.exports.len() >= 3,
        "the demo writes at least three formats"
    );
}

#[test]
fn unknown_keys_are_errors() {
    for text in [
        "[store]\npaht = \"x\"\n",
        "[attribution]\nordre = []\n",
        "[[export]]\nformat = \"csv\"\npath = \"x\"\nhashed = true\n",
        "surprise = 1\n",
    ] {
        let error = Config::from_toml(text).unwrap_err();
        assert!(
            format!("{error:#}").contains("unknown field"),
            "{text}: {error:#}"
        );
    }
}

/// A key written where fbl takes none, or a secret's value of the wrong type, is refused
/// without the line's text or the value when its key names a secret: the message reaches
/// cron's mail. It used to quote
/// the line (`5 | password = "..."`) and the value (`invalid type: string "..."`).
#[test]
fn a_toml_error_never_shows_the_value_of_its_line() {
    for (text, line) in [
        (
            "[[mailbox]]\nname = \"m\"\nhost = \"imap.example.com\"\nuser = \"u\"\n\
             password = \"SECRET-pw-1\"\n",
            5,
        ),
        ("[attribution]\ntoken = \"SECRET-tok-5\"\n", 2),
        (
            "[[mailbox]]\nname = \"m\"\nhost = \"h.example\"\nuser = \"u\"\n\
             oauth = { client_secret = { secret = \"SECRET-in-line\" }, bogus = 1 }\n",
            5,
        ),
        (
            "[snds]\n[[snds.legacy]]\nname = \"a\"\nkey = \"SECRET-key-7\"\n",
            4,
        ),
        (
            "[store]\nurl = \"postgres://fbl@db.example/fbl\"\npassword_env = \"SECRET-x\" oops\n",
            3,
        ),
    ] {
        let error = format!("{:#}", Config::from_toml(text).unwrap_err());
        assert!(!error.contains("SECRET"), "{text}: {error}");
        assert!(
            error.contains(&format!("line {line}, column ")),
            "{text}: {error}"
        );
    }
    let error = format!(
        "{:#}",
        Config::from_toml("[attribution]\nordre = []\n").unwrap_err()
    );
    assert!(error.contains("unknown field `ordre`"), "{error}");
    // A line that holds no secret is shown, with its value: it helps.
    let error = format!(
        "{:#}",
        Config::from_toml("[store]\npath = \"x\" oops\n").unwrap_err()
    );
    assert!(error.contains("path = \"x\" oops"), "{error}");
}

/// A syntax error on a line of a multi-line string (`"""` or `'''`), or an unclosed one: the
/// line does not name the key it belongs to, but it is part of that key's value, a password
/// here. It used to be shown (`7 | ZQ7-ml-2 \q`), in cron's mail. (The marker names no
/// secret-like word: a line that does was masked already.)
#[test]
fn a_toml_error_inside_a_multi_line_secret_never_shows_its_lines() {
    let mailbox = "[[mailbox]]\nname = \"m\"\nhost = \"h.example\"\nuser = \"u\"\n";
    for (text, line) in [
        (
            format!("{mailbox}password = \"\"\"\nZQ7-ml-1\nZQ7-ml-2 \\q\n\"\"\"\n"),
            7,
        ),
        (
            format!("{mailbox}password = '''\nZQ7-lit-1\nZQ7-lit-2 \u{1}\n'''\n"),
            7,
        ),
        (
            "[attribution]\ntoken = { secret = \"\"\"\nZQ7-unclosed\nZQ7-end".to_string(),
            4,
        ),
    ] {
        let error = format!("{:#}", Config::from_toml(&text).unwrap_err());
        assert!(!error.contains("ZQ7"), "{text}: {error}");
        assert!(
            error.contains(&format!("line {line}, column ")),
            "{text}: {error}"
        );
    }
}

#[test]
fn bad_values_are_errors_that_name_the_problem() {
    for (text, says) in [
        ("[store]\npath = \"\"\n", "[store] path is empty"),
        (
            "[[source]]\nname = \"m\"\npath = \"\"\n",
            "[[source]] 1 path is empty",
        ),
        (
            "[send_log]\nimport = [{ path = \"\", format = \"csv\" }]\n",
            "[send_log] import 1 path is empty",
        ),
        (
            "[[export]]\nformat = \"plain\"\npath = \"\"\n",
            "[[export]] 1 path is empty",
        ),
    ] {
        let error = Config::from_toml(text).unwrap_err();
        assert!(format!("{error:#}").contains(says), "{text}: {error:#}");
    }
    // A reason a letter or a case away from fbl's own would never expire anything.
    for (key, write) in [
        ("complaints", "complaint"),
        ("imported", "import"),
        ("unsubscibe", "unsubscribe"),
        ("complaitn", "complaint"),
        ("bouce", "bounce"),
    ] {
        let error = Config::from_toml(&format!(
            "[suppression]\nexpire_after_days = {{ {key} = 30 }}\n"
        ))
        .unwrap_err();
        assert!(
            format!("{error:#}").contains(&format!(
                "names \"{key}\", which no suppression has: write \"{write}\""
            )),
            "{key}: {error:#}"
        );
    }
    // A reason of the user's own, not a typo of fbl's, is taken.
    for key in ["legal", "gdpr_request", "asked"] {
        Config::from_toml(&format!(
            "[suppression]\nexpire_after_days = {{ {key} = 30 }}\n"
        ))
        .unwrap_or_else(|e| panic!("{key}: {e:#}"));
    }
    // Reasons are compared without letter case, so a key is written in lower case: fbl's
    // reasons and the user's own alike (two keys could otherwise name one reason).
    for (key, write) in [("Unsubscribe", "unsubscribe"), ("Legal", "legal")] {
        let error = Config::from_toml(&format!(
            "[suppression]\nexpire_after_days = {{ {key} = 30 }}\n"
        ))
        .unwrap_err();
        assert!(
            format!("{error:#}").contains(&format!(
                "names \"{key}\": write it in lower case, \"{write}\""
            )),
            "{key}: {error:#}"
        );
    }
    // 0 days would expire every entry as it is made: nobody would be suppressed.
    let error =
        Config::from_toml("[suppression]\nexpire_after_days = { complaint = 0 }\n").unwrap_err();
    assert!(
        format!("{error:#}").contains("gives \"complaint\" 0 days"),
        "{error:#}"
    );
    // fbl's reasons, and one of the user's own (`suppress add --reason legal`), are fine.
    Config::from_toml(
        "[suppression]\nexpire_after_days = { complaint = 30, unsubscribe = 10, manual = 5, import = 1, legal = 3 }\n",
    )
    .unwrap();
    let error = Config::from_toml("[attribution]\nverp = [\"b-{nope}@x.example\"]\n").unwrap_err();
    assert!(
        format!("{error:#}").contains("unknown placeholder"),
        "{error:#}"
    );
    let error = Config::from_toml("[attribution]\nverp = [\"t-{token}@x.example\"]\n").unwrap_err();
    assert!(
        format!("{error:#}").contains("[attribution.token]"),
        "{error:#}"
    );
    let error = Config::from_toml("[[export]]\nformat = \"excel\"\npath = \"x\"\n").unwrap_err();
    assert!(format!("{error:#}").contains("excel"), "{error:#}");
    for (value, says) in [
        ("not an address", "neither an address nor a template"),
        ("u-{nope}@x.example", "unknown placeholder"),
        ("u-{token}@x.example", "[attribution.token]"),
    ] {
        let error = Config::from_toml(&format!(
            "[attribution]\nunsubscribe_addresses = [\"{value}\"]\n"
        ))
        .unwrap_err();
        assert!(format!("{error:#}").contains(says), "{value}: {error:#}");
    }
    for (value, says) in [
        ("https://example.com/u/{id}", "no other placeholder"),
        ("mailto:u+{token}@example.com", "https"),
        ("https://{token}.example.com/u", "in the path or in a query"),
        ("https://example.com/u/{token}", "[attribution.token]"),
    ] {
        let error = Config::from_toml(&format!(
            "[attribution]\nunsubscribe_urls = [\"{value}\"]\n"
        ))
        .unwrap_err();
        assert!(format!("{error:#}").contains(says), "{value}: {error:#}");
    }
    let config = Config::from_toml(
        "[attribution]\nunsubscribe_urls = [\"https://example.com/unsubscribe?t={token}\"]\n\
         token = { secret = \"s\" }\n",
    )
    .unwrap();
    assert_eq!(config.attribution.unsubscribe_urls.len(), 1);
}

/// A mailbox setting that could only loop or do nothing is refused when the file is read:
/// moving into a polled folder (fetched and moved again every run), a limit of 0, a timeout
/// of 0.
#[test]
fn mailbox_settings_that_loop_or_do_nothing_are_refused() {
    let mailbox = |extra: &str| {
        format!(
            "[[mailbox]]\nname = \"m\"\nhost = \"imap.example.com\"\nuser = \"u\"\n\
             password_env = \"P\"\n{extra}\n"
        )
    };
    for (extra, expected) in [
        (
            "folders = [\"INBOX\", \"Processed\"]\nafter = \"move:Processed\"",
            "also in folders",
        ),
        (
            "folders = [\"inbox\"]\nafter = \"move:INBOX\"",
            "after = \"move:INBOX\" moves messages into \"INBOX\", which is also in folders",
        ),
        (
            "folders = [\"INBOX\", \"fbl-quarantine\"]\nquarantine_folder = \"fbl-quarantine\"",
            "quarantine_folder",
        ),
        ("limit = 0", "limit must be at least 1"),
        (
            "connect_timeout_secs = 0",
            "connect_timeout_secs must be at least 1",
        ),
        (
            "read_timeout_secs = 0",
            "read_timeout_secs must be at least 1",
        ),
        // Non-ASCII names the server would refuse (only after the reports are stored):
        // the modified UTF-7 to write is given.
        (
            "folders = [\"Reçus\"]",
            "folders names the folder \"Reçus\"; IMAP names it in modified UTF-7: write \"Re&AOc-us\"",
        ),
        ("after = \"move:Traités\"", "write \"Trait&AOk-s\""),
        (
            "quarantine_folder = \"Quarantäne\"",
            "write \"Quarant&AOQ-ne\"",
        ),
    ] {
        let error = Config::from_toml(&mailbox(extra)).unwrap_err();
        assert!(
            format!("{error:#}").contains(expected),
            "{extra}: {error:#}"
        );
    }
    // A day as TOML writes it, unquoted, is a day as the quoted one is; a time is not a day.
    for since in ["2026-01-01", "\"2026-01-01\""] {
        let config = Config::from_toml(&mailbox(&format!("since = {since}"))).unwrap();
        assert_eq!(
            config.mailboxes[0].since,
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1),
            "{since}"
        );
    }
    for (since, says) in [
        ("2026-01-01T10:00:00Z", "is a time; give a day"),
        ("\"1 Jan 2026\"", "\"1 Jan 2026\" is not a day, YYYY-MM-DD"),
    ] {
        let error = Config::from_toml(&mailbox(&format!("since = {since}"))).unwrap_err();
        assert!(format!("{error:#}").contains(says), "{since}: {error:#}");
    }
    // Moving elsewhere, and a quarantine folder that is not polled, are fine.
    Config::from_toml(&mailbox(
        "folders = [\"INBOX\", \"Junk\", \"Re&AOc-us\"]\nafter = \"move:Processed\"\nquarantine_folder = \"q\"\nlimit = 1",
    ))
    .unwrap();
}

/// The whole "Automated Access" link pasted where the key alone belongs is said plainly,
/// without quoting it (it holds the key).
#[test]
fn an_snds_link_given_as_the_key_is_refused_without_showing_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("key");
    std::fs::write(
        &file,
        "https://sendersupport.olc.protection.outlook.com/snds/data.aspx?key=K-SECRET-1\n",
    )
    .unwrap();
    let config = Config::from_toml(&format!(
        "[snds]\n[[snds.legacy]]\nname = \"a\"\nkey_file = \"{}\"\n",
        file.display()
    ))
    .unwrap();
    let snds = config.snds.unwrap();
    let error = fbl::snds_account::legacy_access(&snds.legacy[0]).unwrap_err();
    let shown = format!("{error:#}");
    assert!(shown.contains("access_url_file"), "{shown}");
    assert!(!shown.contains("K-SECRET-1"), "{shown}");
    // The key alone is fine.
    std::fs::write(&file, "K-SECRET-1\n").unwrap();
    assert_eq!(
        fbl::snds_account::legacy_access(&snds.legacy[0])
            .unwrap()
            .key,
        "K-SECRET-1"
    );
}

/// Settings that would silently do nothing, or guess, are refused when the configuration is
/// read, each naming what is wrong.
#[test]
fn settings_that_would_do_nothing_or_guess_are_refused() {
    for (text, says) in [
        (
            "[send_log]\nretention_days = 0\n",
            "[send_log] retention_days is 0",
        ),
        (
            "[limits]\nmax_message_bytes = 0\n",
            "[limits] max_message_bytes is 0",
        ),
        (
            "[attribution]\norder = []\n",
            "[attribution] order is empty",
        ),
        (
            "[trust]\nauthserv_id = \" \"\n",
            "[trust] authserv_id is empty",
        ),
        (
            "[store]\nurl = \"postgres://fbl@db.example/fbl\"\npassword_env = \"P\"\n\
             password_file = \"p\"\n",
            "both password_env and password_file",
        ),
        (
            "[[mailbox]]\nname = \"m\"\nhost = \"imap.example.com\"\nport = 0\nuser = \"u\"\n\
             password_env = \"P\"\n",
            "mailbox m: port 0",
        ),
        (
            "[attribution.token]\nsecret = \"a\"\nsecret_env = \"B\"\n",
            "[attribution.token]: give exactly one of secret, secret_env or secret_file",
        ),
        (
            "[attribution.token]\n",
            "[attribution.token]: give exactly one of secret, secret_env or secret_file",
        ),
        (
            "[[mailbox]]\nname = \"m\"\nhost = \"imap.example.com\"\nuser = \"u\"\n\
             auth = \"xoauth2\"\n[mailbox.oauth]\ntoken_url = \"https://t.example/token\"\n\
             client_id = \"c\"\nscopes = [\"s\"]\nrefresh_token_file = \"rt\"\n\
             client_secret = { secret = \"a\", secret_file = \"b\" }\n",
            "mailbox m: [mailbox.oauth] client_secret: give exactly one",
        ),
        (
            "[[mailbox]]\nname = \"a/b\"\nhost = \"imap.example.com\"\nuser = \"u\"\n\
             password_env = \"P\"\n",
            "mailbox \"a/b\": a mailbox name must not be empty nor hold a `/`",
        ),
        (
            "[[mailbox]]\nname = \"m\"\nhost = \"imap.example.com\"\nsecurity = \"plain\"\n\
             user = \"u\"\npassword_env = \"P\"\n",
            "mailbox m: security = \"plain\" would send the password unencrypted to \
             imap.example.com",
        ),
        (
            "[[mailbox]]\nname = \"m\"\nhost = \"imap.example.com\"\nuser = \"u\"\n\
             auth = \"xoauth2\"\n[mailbox.oauth]\ntoken_url = \"http://login.example/token\"\n\
             client_id = \"c\"\nscopes = [\"s\"]\nrefresh_token_file = \"rt\"\n",
            "mailbox m: [mailbox.oauth] token_url \"http://login.example/token\": plain http",
        ),
        (
            "[snds]\n[snds.api]\nname = \"api\"\ntoken_url = \"http://login.example/token\"\n",
            "snds api account api: token_url \"http://login.example/token\": plain http",
        ),
    ] {
        let error = Config::from_toml(text).unwrap_err();
        assert!(format!("{error:#}").contains(says), "{text}: {error:#}");
    }
}

/// An empty token secret (an empty variable, a truncated file, `secret = ""`) is refused: a
/// signature under an empty key is one anyone can make, so a forged report carrying such a
/// token would suppress whoever it names.
#[test]
fn an_empty_token_secret_is_refused_before_anything_is_read() {
    use crate::support::{fbl, run};
    let dir = tempfile::tempdir().unwrap();
    let fixtures = support::fixtures().join("reports");
    std::fs::copy(
        fixtures.join("jmrp-2026-verp-id.eml"),
        dir.path().join("r.eml"),
    )
    .unwrap();
    std::fs::write(dir.path().join("empty.key"), "\n").unwrap();
    for (token, origin) in [
        ("secret = \"\"", "[attribution.token]: secret is empty"),
        (
            "secret_env = \"FBL_TEST_EMPTY_SECRET\"",
            "the secret from environment variable FBL_TEST_EMPTY_SECRET is empty",
        ),
        ("secret_file = \"empty.key\"", "the secret from secret file"),
    ] {
        std::fs::write(
            dir.path().join("fbl.toml"),
            format!(
                "[attribution]\nheader = [{{ name = \"X-Fbl-Token\", value = \"token\" }}]\n\
                 [attribution.token]\n{token}\n"
            ),
        )
        .unwrap();
        let output = run(fbl(dir.path())
            .env("FBL_TEST_EMPTY_SECRET", "")
            .env_remove("RUST_BACKTRACE")
            .args(["--config", "fbl.toml", "ingest", "r.eml"]));
        assert_eq!(output.status.code(), Some(2), "{token}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(origin), "{token}: {stderr}");
        assert!(stderr.contains("anyone can make"), "{token}: {stderr}");
    }
    // Written in the configuration, it is known without reading anything: `fbl config`, run
    // to check a new configuration, says so too.
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[attribution]\nheader = [{ name = \"X-Fbl-Token\", value = \"token\" }]\n\
         [attribution.token]\nsecret = \" \"\n",
    )
    .unwrap();
    let output = run(fbl(dir.path())
        .env_remove("RUST_BACKTRACE")
        .args(["--config", "fbl.toml", "config"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("[attribution.token]: secret is empty"),
        "{output:?}"
    );
    // A variable that is not set is said once, plainly.
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[attribution]\nheader = [{ name = \"X-Fbl-Token\", value = \"token\" }]\n\
         [attribution.token]\nsecret_env = \"FBL_TEST_UNSET_SECRET\"\n",
    )
    .unwrap();
    let output = run(fbl(dir.path())
        .env_remove("FBL_TEST_UNSET_SECRET")
        .env_remove("RUST_BACKTRACE")
        .args(["--config", "fbl.toml", "ingest", "r.eml"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.matches("not set").count(), 1, "said once: {stderr}");
    // With what to do: cron, where it is met first, sets almost no variables.
    assert!(
        stderr.contains(
            "give the secret by file instead (secret_file: readable by the user fbl runs as"
        ),
        "{stderr}"
    );
    assert!(
        !stderr.contains("environment variable not found"),
        "{stderr}"
    );
}

/// A PostgreSQL URL whose query holds settings only (`?sslmode=verify-full`, as the README
/// recommends) holds no secret: no warning at every cron run. One with a password in its
/// query does, and `fbl config` shows the settings with the password masked.
#[test]
fn a_store_url_with_settings_only_is_no_secret() {
    use crate::support::{fbl, run, stdout};
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fbl.toml");
    for (url, warned) in [
        ("postgres://fbl@127.0.0.1:9/fbl?sslmode=verify-full", false),
        ("postgres://fbl@127.0.0.1:9/fbl", false),
        (
            "postgres://fbl@127.0.0.1:9/fbl?sslmode=disable&password=inline-pg-5e1f",
            true,
        ),
    ] {
        std::fs::write(
            &path,
            format!("[store]\nurl = \"{url}\"\npassword_env = \"FBL_PG_PW\"\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "config"]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.contains("readable by every user"),
            warned,
            "{url}: {stderr}"
        );
        let shown = stdout(&output);
        assert_eq!(
            shown.contains("sslmode="),
            url.contains("sslmode="),
            "the TLS mode is shown: {shown}"
        );
        assert!(!shown.contains("inline-pg-5e1f"), "{shown}");
    }
}

/// A mailbox's `connect_timeout_secs` and `read_timeout_secs` bound its OAuth token request
/// too, not a fixed 30 s: a token endpoint that never answers fails the mailbox (and only it)
/// in about the time its settings give.
#[test]
fn a_mailbox_token_request_keeps_the_mailbox_timeouts() {
    use crate::http_server::{Reply, TestServer};
    let server = TestServer::start(|_, _| Reply::Hang(std::time::Duration::from_secs(40)));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        format!(
            "[store]\npath = \"fbl.sqlite\"\n\n\
             [[mailbox]]\nname = \"m365\"\nhost = \"127.0.0.1\"\nport = 1\n\
             user = \"fbl\"\nauth = \"xoauth2\"\n\
             connect_timeout_secs = 1\nread_timeout_secs = 2\n\
             [mailbox.oauth]\ntoken_url = \"{}/token\"\nclient_id = \"fbl-test\"\n\
             scopes = [\"offline_access\"]\nrefresh_token_file = \"refresh-token\"\n",
            server.url()
        ),
    )
    .unwrap();
    std::fs::write(dir.path().join("refresh-token"), "refresh-token-value-7d1c").unwrap();
    let started = std::time::Instant::now();
    let output =
        support::run(support::fbl(dir.path()).args(["--config", "fbl.toml", "run", "--json"]));
    let took = started.elapsed();
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let summary: serde_json::Value = serde_json::from_str(&support::stdout(&output)).unwrap();
    let errors = summary["mailboxes"][0]["errors"].to_string();
    assert!(
        errors.contains("mailbox m365: OAuth token refresh"),
        "{errors}"
    );
    assert!(!errors.contains("refresh-token-value-7d1c"), "{errors}");
    assert_eq!(server.requests().len(), 1, "a timeout is not retried");
    assert!(
        took < std::time::Duration::from_secs(15),
        "the token request took {took:?}: not bounded by the mailbox's 1 + 2 s"
    );
}

/// root running a configuration another user could have written: its `password_command`
/// would run as root, its `password_file` could name any file. fbl refuses it (exit 2),
/// naming the file, its owner and the fix; a user who is not root runs their own as before.
#[test]
fn root_refuses_a_configuration_another_user_could_have_written() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fbl.toml");
    std::fs::write(
        &path,
        "[store]\npath = \"fbl.sqlite\"\n\n[[mailbox]]\nname = \"m\"\nhost = \"127.0.0.1\"\n\
         port = 1\nsecurity = \"plain\"\nuser = \"u\"\n\
         password_command = \"id > ran-as.txt; echo x\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Not root: no check, whoever owns the file.
    assert_eq!(Config::foreign_owner_refusal(&path, 1000), None);
    if !crate::dovecot::running_as_root() {
        // Only root can give a file to another user; the rest needs root.
        return;
    }
    assert_eq!(Config::foreign_owner_refusal(&path, 0), None);
    let mode = |path: &std::path::Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let refused = |args: &[&str]| {
        let output = support::fbl(dir.path())
            .args(["--config", "fbl.toml"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let nobody = crate::dovecot::NOBODY;

    // Owned by another user: refused before the command runs.
    std::os::unix::fs::chown(&path, Some(nobody), Some(nobody)).unwrap();
    let stderr = refused(&["mailbox", "test", "m"]);
    let full = std::path::absolute(&path).unwrap();
    assert_eq!(
        stderr,
        format!(
            "fbl: the configuration file fbl.toml is owned by nobody, not root: fbl runs as root \
             here, so whoever can change the file could make fbl run a command \
             (password_command) or send any file (password_file) as root. Run `chown root {0}` \
             and `chmod go-w {0}`, or run fbl as nobody\n",
            full.display()
        )
    );
    assert!(!dir.path().join("ran-as.txt").exists());

    // Owned by root but writable by every user, or by a group.
    std::os::unix::fs::chown(&path, Some(0), Some(0)).unwrap();
    mode(&path, 0o666);
    let stderr = refused(&["config"]);
    assert!(
        stderr.starts_with(
            "fbl: the configuration file fbl.toml can be written by every user (mode 0666)"
        ) && stderr.contains(&format!("Run `chmod go-w {}`", full.display())),
        "{stderr}"
    );
    mode(&path, 0o660);
    assert!(refused(&["config"]).contains("can be written by the group root (mode 0660)"));

    // The file is fine, its folder is not: another user could put their own file there.
    mode(&path, 0o600);
    mode(dir.path(), 0o777);
    let stderr = refused(&["config"]);
    assert!(
        stderr.starts_with(&format!(
            "fbl: {}, a folder holding the configuration file fbl.toml, can be written by every \
             user (mode 0777)",
            dir.path().display()
        )),
        "{stderr}"
    );
    mode(dir.path(), 0o700);
    std::os::unix::fs::chown(dir.path(), Some(nobody), Some(nobody)).unwrap();
    let stderr = refused(&["config"]);
    assert!(
        stderr.contains(&format!(
            "{}, a folder holding the configuration file fbl.toml, is owned by nobody, not root",
            dir.path().display()
        )),
        "{stderr}"
    );
    // The folder is that user's to keep (a service user's store folder, say): the advice is
    // to move the file first, not to take the folder away.
    assert!(
        stderr.contains("Move fbl.toml to a folder of root's (such as /etc/fbl)"),
        "{stderr}"
    );
    std::os::unix::fs::chown(dir.path(), Some(0), Some(0)).unwrap();

    // A symbolic link to a file another user owns is that file.
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(&path, other.path().join("real.toml")).unwrap();
    std::os::unix::fs::chown(other.path().join("real.toml"), Some(nobody), Some(nobody)).unwrap();
    std::os::unix::fs::symlink(other.path().join("real.toml"), dir.path().join("link.toml"))
        .unwrap();
    let output = support::fbl(dir.path())
        .args(["--config", "link.toml", "config"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("is owned by nobody, not root"));

    // root's own file, in a folder only root writes to, or a sticky one such as /tmp.
    let ok = |dir: &std::path::Path| {
        let output = support::fbl(dir)
            .args(["--config", "fbl.toml", "config"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert!(
            !String::from_utf8_lossy(&output.stderr).contains("root"),
            "{output:?}"
        );
    };
    ok(dir.path());
    mode(dir.path(), 0o1777);
    ok(dir.path());

    // nobody running their own file: no check.
    mode(dir.path(), 0o777);
    std::os::unix::fs::chown(&path, Some(nobody), Some(nobody)).unwrap();
    let output = std::process::Command::new("setpriv")
        .args([
            "--reuid",
            "nobody",
            "--regid",
            "nogroup",
            "--clear-groups",
            "--",
        ])
        .arg(env!("CARGO_BIN_EXE_fbl"))
        .current_dir(dir.path())
        .env_remove("RUST_BACKTRACE")
        .args(["--config", "fbl.toml", "config"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("root"),
        "{output:?}"
    );
}
