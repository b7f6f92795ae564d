//! No password, token or key ever reaches output: every command runs with recognisable
//! secrets configured, and none of them may appear in what it prints.

use crate::support::{arf, fbl};

const CANARIES: [&str; 6] = [
    "canary-token-secret-8f2d",
    "canary-imap-password-51ac",
    "canary-command-password-77e0",
    "canary-client-secret-c3b9",
    "canary-snds-key-4e6a",
    "canary-snds-client-secret-92b1",
];

#[test]
fn no_command_prints_a_configured_secret() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[attribution]\n\
         header = [{{ name = \"X-Fbl-Token\", value = \"token\" }}]\n\
         token = {{ secret = \"{token}\" }}\n\
         \n\
         [[mailbox]]\n\
         name = \"env\"\n\
         host = \"127.0.0.1\"\n\
         port = 1\n\
         security = \"tls\"\n\
         user = \"fbl\"\n\
         password_env = \"FBL_TEST_CANARY_PASSWORD\"\n\
         connect_timeout_secs = 2\n\
         \n\
         [[mailbox]]\n\
         name = \"command\"\n\
         host = \"127.0.0.1\"\n\
         port = 1\n\
         user = \"fbl\"\n\
         password_command = \"echo {command}\"\n\
         connect_timeout_secs = 2\n\
         \n\
         [[mailbox]]\n\
         name = \"oauth\"\n\
         host = \"127.0.0.1\"\n\
         port = 1\n\
         user = \"fbl\"\n\
         auth = \"xoauth2\"\n\
         connect_timeout_secs = 2\n\
         [mailbox.oauth]\n\
         token_url = \"http://127.0.0.1:1/token\"\n\
         client_id = \"fbl-test\"\n\
         client_secret = {{ secret = \"{client}\" }}\n\
         scopes = [\"https://outlook.office.com/IMAP.AccessAsUser.All\", \"offline_access\"]\n\
         refresh_token_file = \"refresh-token\"\n\
         \n\
         [snds]\n\
         retries = 0\n\
         timeout_secs = 2\n\
         [[snds.legacy]]\n\
         name = \"legacy\"\n\
         key_env = \"FBL_TEST_CANARY_SNDS_KEY\"\n\
         base_url = \"http://127.0.0.1:1/snds\"\n\
         [snds.api]\n\
         base_url = \"http://127.0.0.1:1\"\n\
         token_url = \"http://127.0.0.1:1/token\"\n\
         client_secret = {{ secret = \"{snds_client}\" }}\n\
         token_file = \"snds-token\"\n",
        token = CANARIES[0],
        command = CANARIES[2],
        client = CANARIES[3],
        snds_client = CANARIES[5],
    );
    std::fs::write(dir.path().join("fbl.toml"), config).unwrap();
    std::fs::write(
        dir.path().join("refresh-token"),
        "canary-refresh-token-0d1e",
    )
    .unwrap();
    std::fs::write(dir.path().join("snds-token"), "canary-refresh-token-0d1e").unwrap();
    std::fs::write(
        dir.path().join("r.eml"),
        arf("abuse", "a@example.org", "m@example.com"),
    )
    .unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["config"],
        vec!["parse", "r.eml"],
        vec!["ingest", "r.eml", "--json"],
        vec!["run"],
        vec!["run", "--json"],
        vec!["run", "--dry-run"],
        vec!["suppress", "list", "--json"],
        vec!["quarantine", "list"],
        vec!["mailbox", "test", "env"],
        vec!["mailbox", "test", "command"],
        vec!["mailbox", "test", "oauth"],
        vec!["mailbox", "status"],
        vec!["export", "--format", "csv", "--output", "x.csv"],
        vec!["snds", "fetch"],
        vec!["snds", "fetch", "--json"],
        vec!["snds", "status", "--json"],
        vec!["snds", "show"],
        vec!["store", "info"],
        vec!["store", "info", "--json"],
    ];
    let mut ran = 0;
    for args in commands {
        let output = fbl(dir.path())
            .env("FBL_TEST_CANARY_PASSWORD", CANARIES[1])
            .env("FBL_TEST_CANARY_SNDS_KEY", CANARIES[4])
            .args(["--config", "fbl.toml"])
            .args(&args)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        for canary in CANARIES.iter().chain(&["canary-refresh-token-0d1e"]) {
            assert!(
                !text.contains(canary),
                "`fbl {}` printed {canary}:\n{text}",
                args.join(" ")
            );
        }
        ran += 1;
    }
    assert_eq!(ran, 19);
}

#[test]
fn a_world_readable_configuration_holding_a_secret_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fbl.toml");
    std::fs::write(
        &path,
        "[attribution.token]\nsecret = \"inline-secret-5e1f\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = fbl(dir.path())
        .args(["--config", "fbl.toml", "config"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("readable by every user"), "{stderr}");
    assert!(!stderr.contains("inline-secret-5e1f"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let output = fbl(dir.path())
        .args(["--config", "fbl.toml", "config"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).is_empty());
    // A password command that reads the secret from elsewhere holds none; one that prints
    // a literal does.
    for (command, warned) in [
        ("cat /etc/fbl/imap.pass", false),
        ("pass show mail/fbl", false),
        (
            "/usr/bin/gpg --quiet --decrypt /etc/fbl/imap.pass.gpg",
            false,
        ),
        ("vault kv get -field password secret/fbl", false),
        ("vault kv get -field=password secret/fbl", false),
        ("gpg --batch --passphrase=inline-secret-5e1f -d f.gpg", true),
        ("gpg --batch --passphrase inline-secret-5e1f -d f.gpg", true),
        ("bw get password imap --session inline-secret-5e1f", true),
        ("echo inline-secret-5e1f", true),
        ("/usr/bin/echo inline-secret-5e1f", true),
        ("exec printf %s inline-secret-5e1f", true),
        ("cat <<< inline-secret-5e1f", true),
        ("sh -c 'echo inline-secret-5e1f'", true),
        ("env LC_ALL=C echo inline-secret-5e1f", true),
        (
            "curl -s -d client_secret=inline-secret-5e1f https://auth.example.com/token",
            true,
        ),
        ("cat /etc/fbl/imap.pass; echo inline-secret-5e1f", true),
    ] {
        std::fs::write(
            &path,
            format!(
                "[[mailbox]]\nname = \"m\"\nhost = \"imap.example.com\"\nuser = \"u\"\n\
                 password_command = \"{command}\"\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let output = fbl(dir.path())
            .args(["--config", "fbl.toml", "config"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            stderr.contains("readable by every user"),
            warned,
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("inline-secret-5e1f"), "{stderr}");
    }
    // A configuration without secrets may be read by anyone.
    std::fs::write(&path, "[store]\npath = \"x.sqlite\"\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = fbl(dir.path())
        .args(["--config", "fbl.toml", "config"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stderr).is_empty());
}

#[test]
fn a_secret_file_every_user_can_read_is_warned_about_by_config_and_dry_run_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let mode = |name: &str, mode: u32| {
        std::fs::set_permissions(dir.path().join(name), std::fs::Permissions::from_mode(mode))
            .unwrap()
    };
    std::fs::create_dir(dir.path().join("snds")).unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n\
         [attribution]\n\
         header = [{ name = \"X-Fbl-Token\", value = \"token\" }]\n\
         token = { secret_file = \"token-secret\" }\n\n\
         [snds]\n\
         [[snds.legacy]]\n\
         name = \"main\"\n\
         key_file = \"snds-key\"\n\
         base_url = \"https://snds.example.com/\"\n",
    )
    .unwrap();
    mode("fbl.toml", 0o600);
    std::fs::write(
        dir.path().join("token-secret"),
        "readable-token-secret-1a2b",
    )
    .unwrap();
    std::fs::write(dir.path().join("snds-key"), "private-snds-key-3c4d").unwrap();
    mode("token-secret", 0o644);
    mode("snds-key", 0o600);
    // Named as the configuration's folder is given: `--config fbl.toml`, here.
    let warning = "[attribution] token secret_file token-secret is readable by every user of \
                   this machine; it holds a secret: chmod 600 token-secret";
    let fbl_here = |args: &[&str]| {
        fbl(dir.path())
            .args(["--config", "fbl.toml"])
            .args(args)
            .output()
            .unwrap()
    };

    let output = fbl_here(&["config"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr, format!("fbl: warning: {warning}\n"));

    let output = fbl_here(&["run", "--dry-run"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("fbl: dry run: {warning}\n")),
        "{stderr}"
    );
    assert!(!stderr.contains("snds-key"), "{stderr}");

    // The run itself does not say it: under cron it would be said at every run.
    let output = fbl_here(&["run"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("readable by every user"), "{stderr}");

    // Mended, nothing is said; no command ever shows a secret.
    mode("token-secret", 0o600);
    for args in [&["config"][..], &["run", "--dry-run"][..]] {
        let output = fbl_here(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!text.contains("readable by every user"), "{args:?}: {text}");
        assert!(!text.contains("readable-token-secret-1a2b"), "{text}");
        assert!(!text.contains("private-snds-key-3c4d"), "{text}");
    }
    let output = fbl_here(&["config"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
}

/// root using a secret file or a `password_command` program another user could change: that
/// user could read the secret, make the file a link to a file of root's (sent to the server
/// as the password), or have their program run as root. fbl refuses (exit 2) before it reads
/// or runs anything, naming the file, the option and the owner; root's own files, not
/// writable by others, are used as before.
#[test]
fn root_refuses_secret_files_and_programs_another_user_could_change() {
    use std::os::unix::fs::{PermissionsExt, chown};
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    let mode = |name: &str, mode: u32| {
        std::fs::set_permissions(path(name), std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let write_config = |mailbox_secret: &str| {
        std::fs::write(
            path("fbl.toml"),
            format!(
                "[store]\npath = \"fbl.sqlite\"\n\n\
                 [attribution]\n\
                 header = [{{ name = \"X-Fbl-Token\", value = \"token\" }}]\n\
                 token = {{ secret_file = \"token-secret\" }}\n\n\
                 [[mailbox]]\nname = \"m\"\nhost = \"127.0.0.1\"\nport = 1\n\
                 security = \"plain\"\nuser = \"u\"\n{mailbox_secret}\n\n\
                 [snds]\n[[snds.legacy]]\nname = \"main\"\nkey_file = \"snds-key\"\n\
                 base_url = \"https://snds.example.com/\"\n"
            ),
        )
        .unwrap();
        mode("fbl.toml", 0o600);
    };
    write_config("password_file = \"imap.pass\"");
    for (name, content) in [
        ("token-secret", "zq7-token-secret"),
        ("snds-key", "zq7-snds-key"),
        ("imap.pass", "zq7-imap-password"),
    ] {
        std::fs::write(path(name), content).unwrap();
        mode(name, 0o600);
    }
    // The script says when it ran (as whom).
    std::fs::write(path("pw.sh"), "#!/bin/sh\nid > ran.txt\necho zq7-cmd\n").unwrap();
    mode("pw.sh", 0o700);
    let config = fbl::config::Config::load(&path("fbl.toml")).unwrap();
    assert_eq!(config.secret_file_refusal(1000), None, "not root: no check");
    if !crate::dovecot::running_as_root() {
        return;
    }
    let nobody = crate::dovecot::NOBODY;
    let run = |args: &[&str]| {
        fbl(dir.path())
            .args(["--config", "fbl.toml"])
            .args(args)
            .output()
            .unwrap()
    };
    let refused = |args: &[&str]| {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(!stderr.contains("zq7"), "{stderr}");
        stderr
    };
    let accepted = || {
        let output = run(&["config"]);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert!(output.stderr.is_empty(), "{output:?}");
    };
    accepted();

    // Each secret file owned by another user.
    for (name, option) in [
        ("imap.pass", "mailbox m password_file"),
        ("token-secret", "[attribution] token secret_file"),
        ("snds-key", "snds legacy account main key_file"),
    ] {
        chown(path(name), Some(nobody), Some(nobody)).unwrap();
        let stderr = refused(&["config"]);
        assert!(
            stderr.starts_with(&format!(
                "fbl: the file {name} ({option}) is owned by nobody, not root: fbl runs as \
                 root here, so whoever can change it could read the secret"
            )) && stderr.contains(&format!("`chown root {}`", path(name).display())),
            "{stderr}"
        );
        chown(path(name), Some(0), Some(0)).unwrap();
        accepted();
    }
    // Root's, but the group may write it.
    mode("imap.pass", 0o620);
    assert!(refused(&["config"]).contains("(mailbox m password_file) can be written by the group"));
    mode("imap.pass", 0o600);
    accepted();

    // A program of another user's, named as a path, run directly or by an interpreter, or
    // the file a command reads: refused before it runs.
    for command in [
        "./pw.sh",
        "sh ./pw.sh",
        &path("pw.sh").display().to_string(),
    ] {
        write_config(&format!("password_command = \"{command}\""));
        chown(path("pw.sh"), Some(nobody), Some(nobody)).unwrap();
        let stderr = refused(&["mailbox", "test", "m"]);
        assert!(
            stderr.contains("(run or read by mailbox m's password_command) is owned by nobody, not root: fbl runs as root here, so whoever can change it could make fbl run any command as root"),
            "{command}: {stderr}"
        );
        assert!(!path("ran.txt").exists(), "{command}: the program ran");
        chown(path("pw.sh"), Some(0), Some(0)).unwrap();
        accepted();
    }
    write_config("password_command = \"cat imap.pass\"");
    accepted();
    write_config("password_command = \"cat ./imap.pass\"");
    chown(path("imap.pass"), Some(nobody), Some(nobody)).unwrap();
    assert!(
        refused(&["config"]).contains("imap.pass (run or read by mailbox m's password_command)")
    );
    chown(path("imap.pass"), Some(0), Some(0)).unwrap();

    // A folder holding one may be changed by every user (no sticky bit): anyone could put
    // their own file there. With the sticky bit (as /tmp), root's file stays root's.
    std::fs::create_dir(path("secrets")).unwrap();
    std::fs::rename(path("imap.pass"), path("secrets/imap.pass")).unwrap();
    write_config("password_file = \"secrets/imap.pass\"");
    accepted();
    mode("secrets", 0o777);
    let stderr = refused(&["config"]);
    assert!(
        stderr.starts_with(&format!(
            "fbl: {}, a folder holding the file secrets/imap.pass (mailbox m password_file), \
             can be written by every user (mode 0777)",
            path("secrets").display()
        )),
        "{stderr}"
    );
    mode("secrets", 0o1777);
    accepted();

    // A file of another user's in that user's folder (a service user's state folder): the
    // advice is to move it, since a `chown root` of the file alone would only be refused
    // again for its folder.
    mode("secrets", 0o750);
    chown(path("secrets"), Some(nobody), Some(nobody)).unwrap();
    chown(path("secrets/imap.pass"), Some(nobody), Some(nobody)).unwrap();
    let stderr = refused(&["config"]);
    assert!(
        stderr.starts_with(
            "fbl: the file secrets/imap.pass (mailbox m password_file) is owned by nobody, not \
             root"
        ) && stderr.contains(&format!(
            "Move {} to a folder of root's (such as /etc/fbl), then `chown root` and `chmod \
             go-w` it, or run fbl as nobody",
            "secrets/imap.pass"
        )) && !stderr.contains("Run `chown root"),
        "{stderr}"
    );
    chown(path("secrets/imap.pass"), Some(0), Some(0)).unwrap();
    chown(path("secrets"), Some(0), Some(0)).unwrap();
    accepted();

    // A CA file decides which server gets the password: another user's is refused too.
    std::fs::write(path("ca.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
    mode("ca.pem", 0o644);
    write_config("password_file = \"secrets/imap.pass\"\nca_file = \"ca.pem\"");
    accepted();
    chown(path("ca.pem"), Some(nobody), Some(nobody)).unwrap();
    let stderr = refused(&["config"]);
    assert!(
        stderr.starts_with(
            "fbl: the file ca.pem (mailbox m ca_file) is owned by nobody, not root: fbl runs \
             as root here, so whoever can change it could make fbl trust their own server"
        ),
        "{stderr}"
    );
}
