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
        ("Unsubscribe", "unsubscribe"),
        ("imported", "import"),
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
            "also in folders",
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
