//! `fbl run` against a real Dovecot: incremental polling, after-actions, quarantine folder,
//! UIDVALIDITY changes, dry runs, recovery after a crash, several mailboxes with one broken.

use crate::dovecot::{Dovecot, arf_report, seed};
use crate::support::{fbl, run, stdout};
use fbl::imap_client::Session;
use std::process::Command;

/// A test mailbox: a user on the server, and a configuration that polls it.
pub(crate) struct Setup {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) user: String,
    pub(crate) password: String,
}

impl Setup {
    pub(crate) fn new(server: &Dovecot, after: &str, extra: &str) -> Setup {
        let (user, password) = server.add_user("poll");
        // Log in once so that the Maildir exists.
        let session = server.login(&user, &password);
        let _ = session.logout();
        let dir = tempfile::tempdir().unwrap();
        let config = format!(
            "[[mailbox]]\n\
             name = \"jmrp\"\n\
             host = \"127.0.0.1\"\n\
             port = {port}\n\
             security = \"tls\"\n\
             ca_file = \"{ca}\"\n\
             user = \"{user}\"\n\
             password_env = \"FBL_TEST_IMAP_PASSWORD\"\n\
             after = \"{after}\"\n\
             quarantine_folder = \"fbl-quarantine\"\n\
             batch_size = 7\n\
             connect_timeout_secs = 5\n\
             read_timeout_secs = 10\n\
             {extra}\n",
            port = server.imaps_port(),
            ca = server.ca_path().display(),
        );
        std::fs::write(dir.path().join("fbl.toml"), config).unwrap();
        Setup {
            dir,
            user,
            password,
        }
    }

    pub(crate) fn fbl(&self) -> Command {
        let mut command = fbl(self.dir.path());
        command.env("FBL_TEST_IMAP_PASSWORD", &self.password);
        command.args(["--config", "fbl.toml"]);
        command
    }

    pub(crate) fn run_json(&self, args: &[&str]) -> (Option<i32>, serde_json::Value) {
        let output = run(self.fbl().args(["run", "--json"]).args(args));
        let text = stdout(&output);
        let value = serde_json::from_str(&text).unwrap_or(serde_json::Value::Null);
        (output.status.code(), value)
    }

    fn counts(&self) -> fbl::store::StoreCounts {
        fbl::store::Store::open(&self.dir.path().join("fbl.sqlite"))
            .unwrap()
            .counts()
            .unwrap()
    }
}

fn folder_count(server: &Dovecot, setup: &Setup, folder: &str) -> u32 {
    let mut session: Session = server.login(&setup.user, &setup.password);
    let status = session.examine(folder);
    let _ = session.logout();
    status.map(|s| s.exists).unwrap_or(0)
}

pub(crate) fn reports(range: std::ops::Range<usize>) -> Vec<Vec<u8>> {
    range.map(arf_report).collect()
}

#[test]
fn polls_incrementally_and_moves_only_what_is_stored() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", "");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..20));
    seed(&mut session, "INBOX", [b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno feedback part\r\n--x--\r\n".to_vec()]);
    let _ = session.logout();

    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1), "a quarantined message needs attention");
    assert_eq!(summary["ingest"]["stored"], 20);
    assert_eq!(summary["ingest"]["quarantined"], 1);
    assert_eq!(
        summary["mailboxes"][0]["folders"][0]["actions"]["move:Processed"],
        20
    );
    assert_eq!(
        summary["mailboxes"][0]["folders"][0]["actions"]["move:fbl-quarantine"],
        1
    );
    assert_eq!(folder_count(&server, &setup, "INBOX"), 0);
    assert_eq!(folder_count(&server, &setup, "Processed"), 20);
    assert_eq!(folder_count(&server, &setup, "fbl-quarantine"), 1);
    assert_eq!(setup.counts().suppressions, 20);

    // New mail arrives; the next run reads only that.
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(20..25));
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(summary["mailboxes"][0]["folders"][0]["new_messages"], 5);
    assert_eq!(summary["ingest"]["stored"], 5);

    // Nothing new: nothing fetched, nothing changed.
    let before = setup.counts();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(summary["mailboxes"][0]["folders"][0]["new_messages"], 0);
    assert_eq!(setup.counts(), before);
}

/// A batch the store refuses to commit (here a deferred constraint that the 26th report
/// breaks, checked at COMMIT) is rolled back whole and not counted: the summary says what
/// the store holds, the refused batch's messages stay in INBOX, and the next run stores them.
#[test]
fn a_batch_the_store_refuses_is_not_counted_and_the_next_run_stores_it() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", "");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..40));
    let _ = session.logout();
    let path = setup.dir.path().join("fbl.sqlite");
    drop(fbl::store::Store::open(&path).unwrap());
    let store = rusqlite::Connection::open(&path).unwrap();
    store
        .execute_batch(
            "CREATE TABLE test_allowed (id INTEGER PRIMARY KEY);
             CREATE TABLE test_refused (id INTEGER
                 REFERENCES test_allowed (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TRIGGER test_refuse AFTER INSERT ON reports
             WHEN (SELECT count(*) FROM reports) = 26
             BEGIN INSERT INTO test_refused VALUES (NEW.id); END;",
        )
        .unwrap();

    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1), "a failed mailbox needs attention: {summary}");
    let errors = summary["mailboxes"][0]["errors"].to_string();
    assert!(
        errors.contains("mailbox jmrp folder INBOX") && errors.contains("FOREIGN KEY"),
        "{errors}"
    );
    // Batches of 7: three committed, the fourth (reports 22 to 28) refused.
    let counts = setup.counts();
    assert_eq!(counts.reports, 21);
    assert_eq!(counts.suppressions, 21);
    for ingest in [&summary["ingest"], &summary["mailboxes"][0]["ingest"]] {
        assert_eq!(ingest["messages"], 21, "{ingest}");
        assert_eq!(ingest["stored"], 21, "{ingest}");
        assert_eq!(ingest["suppressions_added"], 21, "{ingest}");
    }
    assert_eq!(folder_count(&server, &setup, "Processed"), 21);
    assert_eq!(folder_count(&server, &setup, "INBOX"), 19);

    store.execute_batch("DROP TRIGGER test_refuse").unwrap();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 19);
    assert_eq!(setup.counts().reports, 40);
    assert_eq!(folder_count(&server, &setup, "INBOX"), 0);
    assert_eq!(folder_count(&server, &setup, "Processed"), 40);
}

#[test]
fn seen_keeps_messages_in_place_and_flags_them() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "seen", "");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..9));
    let _ = session.logout();
    let (code, _) = setup.run_json(&[]);
    assert_eq!(code, Some(0));
    let mut session = server.login(&setup.user, &setup.password);
    session.select("INBOX").unwrap();
    assert!(
        session.unseen_uids().unwrap().is_empty(),
        "every stored message is \\Seen"
    );
    let _ = session.logout();
    assert_eq!(folder_count(&server, &setup, "INBOX"), 9);
}

#[test]
fn delete_removes_messages_after_they_are_stored() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "delete", "");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..8));
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(summary["ingest"]["stored"], 8);
    assert_eq!(folder_count(&server, &setup, "INBOX"), 0);
}

#[test]
fn moves_fall_back_to_copy_and_expunge_without_move() {
    let server = Dovecot::start_without_move();
    let setup = Setup::new(&server, "move:Processed", "");
    let mut session = server.login(&setup.user, &setup.password);
    assert!(!session.has_move());
    seed(&mut session, "INBOX", reports(0..10));
    let _ = session.logout();
    let (code, _) = setup.run_json(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(folder_count(&server, &setup, "INBOX"), 0);
    assert_eq!(folder_count(&server, &setup, "Processed"), 10);
}

#[test]
fn a_dry_run_changes_nothing_in_the_store_or_the_mailbox() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", "");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..12));
    let _ = session.logout();
    let (code, summary) = setup.run_json(&["--dry-run"]);
    assert_eq!(code, Some(0));
    assert_eq!(summary["dry_run"], true);
    assert_eq!(
        summary["ingest"]["stored"], 12,
        "the dry run says what would be stored"
    );
    assert_eq!(setup.counts(), fbl::store::StoreCounts::default());
    assert_eq!(folder_count(&server, &setup, "INBOX"), 12);
    let mut session = server.login(&setup.user, &setup.password);
    session.select("INBOX").unwrap();
    assert_eq!(
        session.unseen_uids().unwrap().len(),
        12,
        "nothing was flagged"
    );
    assert!(
        !session
            .list_folders()
            .unwrap()
            .iter()
            .any(|f| f == "Processed")
    );
    let _ = session.logout();
}

#[test]
fn a_new_uidvalidity_rescans_without_double_counting() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "keep", "folders = [\"Reports\"]");
    let mut session = server.login(&setup.user, &setup.password);
    session.create_folder_if_missing("Reports").unwrap();
    seed(&mut session, "Reports", reports(0..6));
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(summary["ingest"]["stored"], 6);

    // The folder is recreated (UIDVALIDITY changes) with the same mail plus one more.
    let mut session = server.login(&setup.user, &setup.password);
    session.delete_folder("Reports").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    session.create_folder_if_missing("Reports").unwrap();
    seed(&mut session, "Reports", reports(0..7));
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0));
    let folder = &summary["mailboxes"][0]["folders"][0];
    assert_eq!(folder["rescanned"], true);
    assert_eq!(folder["new_messages"], 7);
    assert_eq!(summary["ingest"]["duplicates"], 6);
    assert_eq!(summary["ingest"]["stored"], 1);
    assert_eq!(setup.counts().reports, 7);
}

#[test]
fn actions_a_crash_left_undone_are_done_first_and_nothing_is_counted_twice() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", "");
    let mut session = server.login(&setup.user, &setup.password);
    let messages = reports(0..5);
    let uids = seed(&mut session, "INBOX", messages.clone());
    let status = session.select("INBOX").unwrap();
    let _ = session.logout();

    // The state a crash right after the commit leaves: reports stored, progress recorded,
    // the moves still due.
    let inbox = setup.dir.path().join("crash");
    std::fs::create_dir_all(&inbox).unwrap();
    for (i, message) in messages.iter().enumerate() {
        std::fs::write(inbox.join(format!("{i}.eml")), message).unwrap();
    }
    assert_eq!(
        run(setup.fbl().args(["ingest", "crash"])).status.code(),
        Some(0)
    );
    {
        let mut store = fbl::store::Store::open(&setup.dir.path().join("fbl.sqlite")).unwrap();
        let mut batch = store.begin().unwrap();
        for uid in &uids {
            batch
                .add_pending_action("jmrp", "INBOX", status.uid_validity, *uid, "move:Processed")
                .unwrap();
        }
        batch
            .set_mailbox_progress("jmrp", "INBOX", status.uid_validity, *uids.last().unwrap())
            .unwrap();
        batch.commit().unwrap();
    }
    let before = setup.counts();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0));
    assert_eq!(
        summary["mailboxes"][0]["folders"][0]["actions"]["move:Processed"],
        5
    );
    assert_eq!(summary["ingest"]["messages"], 0, "nothing fetched again");
    assert_eq!(setup.counts(), before);
    assert_eq!(folder_count(&server, &setup, "INBOX"), 0);
    assert_eq!(folder_count(&server, &setup, "Processed"), 5);
    let store = fbl::store::Store::open(&setup.dir.path().join("fbl.sqlite")).unwrap();
    assert!(
        store
            .pending_actions("jmrp", "INBOX", status.uid_validity)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn one_broken_mailbox_does_not_stop_the_others_and_its_password_stays_secret() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "keep", "");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..3));
    let _ = session.logout();
    // A second mailbox with a wrong password, listed first.
    let config = std::fs::read_to_string(setup.dir.path().join("fbl.toml")).unwrap();
    let broken = config
        .replace("name = \"jmrp\"", "name = \"broken\"")
        .replace("FBL_TEST_IMAP_PASSWORD", "FBL_TEST_WRONG_PASSWORD");
    std::fs::write(
        setup.dir.path().join("fbl.toml"),
        format!("{broken}\n{config}"),
    )
    .unwrap();
    let secret = "wrong-secret-4711";
    let output = run(setup
        .fbl()
        .env("FBL_TEST_WRONG_PASSWORD", secret)
        .args(["run"]));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("broken") && stderr.to_lowercase().contains("authentication"),
        "{stderr}"
    );
    assert!(!stderr.contains(secret) && !stdout(&output).contains(secret));
    assert_eq!(setup.counts().reports, 3, "the good mailbox was read");
}

#[test]
fn starttls_works_and_plain_is_refused_off_loopback() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "keep", "");
    let config = std::fs::read_to_string(setup.dir.path().join("fbl.toml"))
        .unwrap()
        .replace("security = \"tls\"", "security = \"starttls\"")
        .replace(
            &format!("port = {}", server.imaps_port()),
            &format!("port = {}", server.imap_port()),
        );
    std::fs::write(setup.dir.path().join("fbl.toml"), &config).unwrap();
    let output = run(setup.fbl().args(["mailbox", "test", "jmrp"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).contains("logged in"));
    // The security as the configuration writes it, not a Rust name.
    assert!(
        stdout(&output).contains(&format!(":{} (starttls), user ", server.imap_port())),
        "{}",
        stdout(&output)
    );

    let plain = config
        .replace("security = \"starttls\"", "security = \"plain\"")
        .replace("host = \"127.0.0.1\"", "host = \"imap.example.com\"");
    std::fs::write(setup.dir.path().join("fbl.toml"), plain).unwrap();
    let output = run(setup.fbl().args(["mailbox", "test", "jmrp"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("imap.example.com"));
}

#[test]
fn since_and_limit_bound_a_first_run() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "keep", "limit = 4");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..10));
    let _ = session.logout();
    let (_, summary) = setup.run_json(&[]);
    assert_eq!(summary["ingest"]["stored"], 4);
    let (_, summary) = setup.run_json(&[]);
    assert_eq!(
        summary["ingest"]["stored"], 4,
        "the next run goes on where the last stopped"
    );
}

/// A one-shot OAuth token endpoint on loopback: answers each POST with `body` and `status`,
/// and hands the request bodies it saw to the test.
pub(crate) fn token_endpoint(
    status: u16,
    body: String,
) -> (u16, std::sync::mpsc::Receiver<String>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut request = vec![0; length];
            let _ = reader.read_exact(&mut request);
            let _ = sender.send(String::from_utf8_lossy(&request).into_owned());
            let reason = if status == 200 { "OK" } else { "Bad Request" };
            let _ = write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (port, receiver)
}

pub(crate) fn xoauth2_setup(server: &Dovecot, auth_lines: &str) -> (tempfile::TempDir, String) {
    let user = format!("oauth-{}", std::process::id());
    server.drop_into_maildir(&user, reports(0..4));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        format!(
            "[[mailbox]]\nname = \"m365\"\nhost = \"127.0.0.1\"\nport = {}\nca_file = \"{}\"\n\
             user = \"{user}\"\nauth = \"xoauth2\"\nafter = \"seen\"\n{auth_lines}\n",
            server.imaps_port(),
            server.ca_path().display()
        ),
    )
    .unwrap();
    (dir, user)
}

#[test]
fn xoauth2_with_a_token_command_reads_the_mailbox() {
    let server = Dovecot::start();
    let (dir, user) = xoauth2_setup(&server, "token_command = \"cat access-token\"");
    std::fs::write(dir.path().join("access-token"), server.access_token(&user)).unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["ingest"]["stored"], 4);
}

#[test]
fn xoauth2_refreshes_its_token_unattended_and_keeps_the_rotated_refresh_token() {
    use std::os::unix::fs::PermissionsExt;
    let server = Dovecot::start();
    let user = format!("oauth-{}", std::process::id());
    let body = format!(
        "{{\"access_token\":\"{}\",\"refresh_token\":\"rotated-refresh-2\",\"token_type\":\"Bearer\",\"expires_in\":3600}}",
        server.access_token(&user)
    );
    let (port, requests) = token_endpoint(200, body);
    let (dir, _) = xoauth2_setup(
        &server,
        &format!(
            "[mailbox.oauth]\ntoken_url = \"http://127.0.0.1:{port}/token\"\nclient_id = \"fbl-test\"\n\
             scopes = [\"https://outlook.office.com/IMAP.AccessAsUser.All\", \"offline_access\"]\n\
             refresh_token_file = \"refresh-token\"\n"
        ),
    );
    std::fs::write(dir.path().join("refresh-token"), "first-refresh-1\n").unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["ingest"]["stored"], 4);
    let request = requests
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    assert!(request.contains("grant_type=refresh_token"), "{request}");
    assert!(
        request.contains("refresh_token=first-refresh-1"),
        "{request}"
    );
    let path = dir.path().join("refresh-token");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "rotated-refresh-2");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn an_expired_grant_says_to_log_in_again() {
    let server = Dovecot::start();
    let (port, _) = token_endpoint(
        400,
        "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70008: expired\"}".into(),
    );
    let (dir, _) = xoauth2_setup(
        &server,
        &format!(
            "[mailbox.oauth]\ntoken_url = \"http://127.0.0.1:{port}/token\"\nclient_id = \"fbl-test\"\n\
             scopes = [\"offline_access\"]\nrefresh_token_file = \"refresh-token\"\n"
        ),
    );
    std::fs::write(dir.path().join("refresh-token"), "stale-refresh-token-9").unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run"]));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("fbl mailbox login m365"), "{stderr}");
    assert!(!stderr.contains("stale-refresh-token-9"), "{stderr}");
}

#[test]
fn an_oversized_message_is_quarantined_without_being_loaded() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", "");
    let config = std::fs::read_to_string(setup.dir.path().join("fbl.toml")).unwrap();
    std::fs::write(
        setup.dir.path().join("fbl.toml"),
        format!("[limits]\nmax_message_bytes = 100000\n\n{config}"),
    )
    .unwrap();
    let mut big = arf_report(1);
    big.extend(std::iter::repeat_n(b'x', 300_000));
    let big_size = big.len() as u64;
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", vec![arf_report(0), big]);
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(summary["ingest"]["stored"], 1);
    assert_eq!(summary["ingest"]["quarantined"], 1);
    assert!(
        summary["ingest"]["quarantine_reasons"]
            .to_string()
            .contains("max_message_bytes")
    );
    assert_eq!(folder_count(&server, &setup, "fbl-quarantine"), 1);
    let store = fbl::store::Store::open(&setup.dir.path().join("fbl.sqlite")).unwrap();
    let entry = &store.quarantine_list(false).unwrap()[0];
    assert_eq!(entry.size, big_size, "the message's size");
    let (_, head) = store.quarantined(entry.id).unwrap().unwrap();
    assert_eq!(head.len(), 64 * 1024, "only the head is kept");
}

/// An empty message in a mailbox is quarantined like any message fbl cannot read: moved to
/// the quarantine folder, never to the folder of processed messages.
#[test]
fn an_empty_message_is_quarantined_and_moved_to_the_quarantine_folder() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", "");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", vec![arf_report(0), b"\r\n".to_vec()]);
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(summary["ingest"]["stored"], 1);
    assert_eq!(summary["ingest"]["quarantined"], 1);
    assert!(
        summary["ingest"]["quarantine_reasons"]
            .to_string()
            .contains("empty message"),
        "{summary}"
    );
    assert_eq!(folder_count(&server, &setup, "fbl-quarantine"), 1);
    assert_eq!(folder_count(&server, &setup, "Processed"), 1);
    assert_eq!(folder_count(&server, &setup, "INBOX"), 0);
}

#[test]
fn mailbox_login_stores_a_refresh_token_from_the_loopback_redirect() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    let (port, requests) = token_endpoint(
        200,
        "{\"access_token\":\"at-1\",\"refresh_token\":\"login-refresh-1\",\"token_type\":\"Bearer\",\"expires_in\":3600}".into(),
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        format!(
            "[[mailbox]]\nname = \"m365\"\nhost = \"127.0.0.1\"\nuser = \"fbl@example.com\"\nauth = \"xoauth2\"\n\
             [mailbox.oauth]\nauthorize_url = \"https://login.example.com/authorize\"\n\
             token_url = \"http://127.0.0.1:{port}/token\"\nclient_id = \"fbl-test\"\n\
             scopes = [\"offline_access\"]\nrefresh_token_file = \"tokens/m365\"\n"
        ),
    )
    .unwrap();
    let mut child = fbl(dir.path())
        .args([
            "--config",
            "fbl.toml",
            "mailbox",
            "login",
            "m365",
            "--no-browser",
        ])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The URL to open is printed; a browser would follow it and be redirected back.
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map(|l| l.unwrap())
        .find(|l| l.starts_with("https://login.example.com/authorize"))
        .expect("no authorization URL printed");
    let url = url::Url::parse(&url).unwrap();
    let query: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    let redirect = format!(
        "{}?code=the-code&state={}",
        query["redirect_uri"], query["state"]
    );
    let response = reqwest::blocking::get(&redirect).unwrap_or_else(|error| {
        // Say whether the login had ended already, and why (a flake seen under load).
        let _ = child.kill();
        let status = child.wait();
        let rest: Vec<String> = lines.by_ref().map_while(Result::ok).collect();
        panic!(
            "the redirect to {redirect} failed: {error:?}; fbl: {status:?}\n{}",
            rest.join("\n")
        )
    });
    assert!(response.status().is_success());
    let status = child.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "fbl: {status:?}\n{}", rest.join("\n"));
    let request = requests
        .recv_timeout(std::time::Duration::from_secs(5))
        .unwrap();
    assert!(
        request.contains("grant_type=authorization_code") && request.contains("code=the-code"),
        "{request}"
    );
    assert!(request.contains("code_verifier="), "{request}");
    let path = dir.path().join("tokens/m365");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "login-refresh-1");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
}

#[test]
fn since_skips_older_mail_on_a_first_run() {
    let server = Dovecot::start();
    // Dovecot dates appended mail by its arrival (now): a `since` in the future skips it all,
    // one in the past takes it all.
    let setup = Setup::new(&server, "keep", "since = \"2999-01-01\"");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..3));
    let _ = session.logout();
    let (_, summary) = setup.run_json(&[]);
    assert_eq!(summary["mailboxes"][0]["folders"][0]["new_messages"], 0);
    let config = std::fs::read_to_string(setup.dir.path().join("fbl.toml")).unwrap();
    std::fs::write(
        setup.dir.path().join("fbl.toml"),
        config.replace("since = \"2999-01-01\"", "since = \"2000-01-01\""),
    )
    .unwrap();
    let (_, summary) = setup.run_json(&[]);
    assert_eq!(summary["ingest"]["stored"], 3);
}

/// A folder the server says does not exist is an error for that folder alone: the folders
/// after it are polled (before, INBOX went unread on every run while the typo stayed).
#[test]
fn a_missing_folder_does_not_stop_the_folders_after_it() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", "folders = [\"Nope\", \"INBOX\"]");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..3));
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1), "the missing folder needs attention");
    assert_eq!(summary["ingest"]["stored"], 3, "{summary}");
    let errors = summary["mailboxes"][0]["errors"].to_string();
    assert!(
        errors.contains("Nope") && errors.contains("does not exist"),
        "{errors}"
    );
    assert_eq!(folder_count(&server, &setup, "INBOX"), 0);
    assert_eq!(folder_count(&server, &setup, "Processed"), 3);
}

/// A move the server refuses (here a folder name Dovecot will not create) leaves those
/// messages in the folder, pending, and says so (exit 1); it does not stop the folder's new
/// mail from being read. Once `after` is corrected, the pending messages follow the new
/// setting instead of retrying the refused one for good.
#[test]
fn a_refused_move_stays_pending_without_blocking_new_mail_and_follows_a_corrected_after() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Archive..2026", "");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..3));
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 3, "{summary}");
    let errors = summary["mailboxes"][0]["errors"].to_string();
    assert!(
        errors.contains("3 messages left in the folder")
            && errors.contains("move:Archive..2026 was refused"),
        "{errors}"
    );
    assert_eq!(folder_count(&server, &setup, "INBOX"), 3);

    // New mail is read although the earlier move is still refused.
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(3..5));
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 2, "{summary}");
    let errors = summary["mailboxes"][0]["errors"].to_string();
    assert!(errors.contains("5 messages left"), "{errors}");
    assert_eq!(setup.counts().reports, 5);

    // The typo is mended: what was pending goes where `after` now says.
    let config = setup.dir.path().join("fbl.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("move:Archive..2026", "move:Processed"),
    )
    .unwrap();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        summary["mailboxes"][0]["folders"][0]["actions"]["move:Processed"], 5,
        "{summary}"
    );
    assert_eq!(folder_count(&server, &setup, "INBOX"), 0);
    assert_eq!(folder_count(&server, &setup, "Processed"), 5);
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["messages"], 0, "{summary}");
    assert_eq!(setup.counts().reports, 5);
}

/// A quarantine move the server refused stays a quarantine move when the folder's name is
/// mended: the message goes to the new quarantine folder, never to what `after` does with
/// stored reports (here delete it).
#[test]
fn a_refused_quarantine_move_follows_the_mended_quarantine_folder_not_after() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "delete", "");
    let config = setup.dir.path().join("fbl.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let mistyped = text.replace(
        "quarantine_folder = \"fbl-quarantine\"",
        "quarantine_folder = \"Quarantine..2026\"",
    );
    assert_ne!(mistyped, text);
    std::fs::write(&config, &mistyped).unwrap();
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..2));
    seed(&mut session, "INBOX", [b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno feedback part\r\n--x--\r\n".to_vec()]);
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 2, "{summary}");
    assert_eq!(summary["ingest"]["quarantined"], 1, "{summary}");
    // The two stored were deleted; the quarantined one waits.
    assert_eq!(folder_count(&server, &setup, "INBOX"), 1);

    std::fs::write(&config, mistyped.replace("Quarantine..2026", "Quarantine")).unwrap();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        summary["mailboxes"][0]["folders"][0]["actions"]["move:Quarantine"], 1,
        "{summary}"
    );
    assert_eq!(folder_count(&server, &setup, "INBOX"), 0);
    assert_eq!(folder_count(&server, &setup, "Quarantine"), 1);
}

/// A mailbox whose `after` deletes or moves mail (or that has a `quarantine_folder`) syncs
/// what was committed before it touches the server, and every commit of the run after
/// (SQLite's `synchronous = FULL`, not `NORMAL`, which syncs only at a checkpoint): a power
/// cut cannot take back a report whose message the server already moved away. A mailbox
/// that only marks mail seen leaves the setting as it is.
#[test]
fn a_mailbox_that_moves_mail_syncs_every_commit() {
    for (after, quarantine, synchronous) in [("move:Processed", true, 2), ("seen", false, 1)] {
        // One server a mailbox: a second user added to a running one may not log in at once.
        let server = Dovecot::start();
        let setup = Setup::new(&server, after, "");
        let mut session = server.login(&setup.user, &setup.password);
        seed(&mut session, "INBOX", reports(0..3));
        let _ = session.logout();
        let path = setup.dir.path().join("fbl.toml");
        let mut text = std::fs::read_to_string(&path).unwrap().replace(
            "password_env = \"FBL_TEST_IMAP_PASSWORD\"",
            "password_file = \"imap.pass\"",
        );
        if !quarantine {
            text = text.replace("quarantine_folder = \"fbl-quarantine\"\n", "");
        }
        std::fs::write(&path, text).unwrap();
        std::fs::write(setup.dir.path().join("imap.pass"), &setup.password).unwrap();
        let config = fbl::config::Config::load(&path).unwrap();
        let attribution = fbl::attribution::Attribution::new(&config.attribution, None).unwrap();
        let ingester = fbl::ingest::Ingester {
            attribution: &attribution,
            policy: &config.suppression,
            now: "2026-11-20T08:00:00Z",
            dry_run: false,
            trust: None,
        };
        struct Quiet;
        impl fbl::ingest::Progress for Quiet {}
        let mut store = fbl::store::Store::open(&setup.dir.path().join("fbl.sqlite")).unwrap();
        assert_eq!(store.synchronous().unwrap(), 1, "NORMAL, as opened");
        let summary = fbl::mailbox_poll::poll_mailbox(
            &config.mailboxes[0],
            &mut store,
            &ingester,
            config.limits.max_message_bytes,
            fbl::mailbox_poll::PollOptions { dry_run: false },
            &mut Quiet,
        )
        .unwrap();
        assert!(summary.errors.is_empty(), "{:?}", summary.errors);
        assert_eq!(summary.ingest.stored, 3, "{after}");
        assert_eq!(store.synchronous().unwrap(), synchronous, "{after}");
    }
}
