//! `fbl run` against a real Dovecot where the mailbox is not as fbl would wish: a server
//! without UIDPLUS (a plain EXPUNGE removes every message flagged `\Deleted`), a message the
//! server cannot deliver, a server that echoes the password in its refusal.

use crate::dovecot::{Dovecot, seed};
use crate::imap_poll::{Setup, reports};
use crate::support::{run, stdout};
use fbl::imap_client::{Auth, ConnectOptions, Security, Session};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// Another client, over plain IMAP on loopback: appends messages and flags some `\Deleted`
/// without expunging, as a mail client does.
fn other_client(server: &Dovecot, setup: &Setup) -> imap::Session<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", server.imap_port())).unwrap();
    let mut client = imap::Client::new(tcp);
    client.read_greeting().unwrap();
    client
        .login(&setup.user, &setup.password)
        .map_err(|(e, _)| e)
        .unwrap()
}

fn append(session: &mut imap::Session<TcpStream>, messages: Vec<Vec<u8>>) {
    for message in messages {
        session.append("INBOX", &message).finish().unwrap();
    }
}

fn flag_deleted(session: &mut imap::Session<TcpStream>, uid: u32) {
    session.select("INBOX").unwrap();
    session
        .uid_store(uid.to_string(), "+FLAGS.SILENT (\\Deleted)")
        .unwrap();
}

/// The UIDs in a folder, and those of them flagged `\Deleted`.
fn uids(server: &Dovecot, setup: &Setup, folder: &str) -> (Vec<u32>, Vec<u32>) {
    let mut session = other_client(server, setup);
    if session.examine(folder).is_err() {
        return (Vec::new(), Vec::new());
    }
    let sorted = |found: std::collections::HashSet<u32>| {
        let mut found: Vec<u32> = found.into_iter().collect();
        found.sort_unstable();
        found
    };
    let all = sorted(session.uid_search("ALL").unwrap());
    let deleted = sorted(session.uid_search("DELETED").unwrap());
    let _ = session.logout();
    (all, deleted)
}

/// The audit's case: another client flagged a report `\Deleted` before fbl read it. Without
/// UIDPLUS, the plain EXPUNGE after fbl's first batch removed it from the server unread.
#[test]
fn without_uidplus_a_report_another_client_flagged_deleted_is_read_not_expunged() {
    let server = Dovecot::start_without_move_or_uidplus();
    let setup = Setup::new(&server, "move:Processed", "");
    let mut other = other_client(&server, &setup);
    append(&mut other, reports(0..10));
    // UID 9: in the second batch of 7.
    flag_deleted(&mut other, 9);
    let _ = other.logout();

    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 10, "{summary}");
    assert_eq!(uids(&server, &setup, "INBOX").0, Vec::<u32>::new());
    assert_eq!(uids(&server, &setup, "Processed").0.len(), 10);
}

/// A message another client flagged `\Deleted` that fbl will not read (below its progress) is
/// never expunged by fbl: fbl's own stay flagged `\Deleted`, and that is said.
#[test]
fn without_uidplus_fbl_leaves_its_own_flagged_rather_than_expunge_another_clients() {
    let server = Dovecot::start_without_move_or_uidplus();
    let setup = Setup::new(&server, "keep", "");
    let mut other = other_client(&server, &setup);
    append(&mut other, reports(0..5));
    let _ = other.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 5);

    // Read and kept; then the user deletes one in a mail client, which does not expunge.
    let mut other = other_client(&server, &setup);
    flag_deleted(&mut other, 3);
    append(&mut other, reports(5..8));
    let _ = other.logout();
    let config = setup.dir.path().join("fbl.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("after = \"keep\"", "after = \"delete\""),
    )
    .unwrap();

    let output = run(setup.fbl().args(["run", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["ingest"]["stored"], 3, "{summary}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("folder INBOX: 3 messages")
            && stderr.contains("does not offer UIDPLUS")
            && stderr.contains("flagged \\Deleted"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("UIDPLUS").count(), 2, "said once: {stderr}");
    assert_eq!(output.status.code(), Some(1));
    let (all, deleted) = uids(&server, &setup, "INBOX");
    assert_eq!(all, vec![1, 2, 3, 4, 5, 6, 7, 8], "nothing expunged");
    assert_eq!(deleted, vec![3, 6, 7, 8]);
}

#[test]
fn mailbox_test_says_the_server_lacks_uidplus_and_move() {
    let server = Dovecot::start_without_move_or_uidplus();
    let setup = Setup::new(&server, "delete", "");
    let output = run(setup.fbl().args(["mailbox", "test", "jmrp"]));
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("no MOVE"), "{text}");
    assert!(text.contains("no UIDPLUS"), "{text}");

    let server = Dovecot::start();
    let setup = Setup::new(&server, "delete", "");
    let output = run(setup.fbl().args(["mailbox", "test", "jmrp"]));
    let text = stdout(&output);
    assert!(
        !text.contains("no UIDPLUS") && !text.contains("no MOVE"),
        "{text}"
    );
}

/// The file of a message in a user's Maildir folder (`dovecot-uidlist` names it by UID).
fn message_file(server: &Dovecot, user: &str, folder: &str, uid: u32) -> PathBuf {
    let mut maildir = server.maildir(user);
    if folder != "INBOX" {
        maildir = maildir.join(format!(".{folder}"));
    }
    let list = std::fs::read_to_string(maildir.join("dovecot-uidlist")).unwrap();
    let base = list
        .lines()
        .skip(1)
        .find(|line| line.split(' ').next() == Some(&uid.to_string()))
        .and_then(|line| line.split_once(" :").map(|(_, name)| name.to_string()))
        .unwrap_or_else(|| panic!("no UID {uid} in {list}"));
    ["cur", "new"]
        .iter()
        .flat_map(|sub| std::fs::read_dir(maildir.join(sub)).unwrap())
        .map(|entry| entry.unwrap().path())
        .find(|path| {
            let name = path.file_name().unwrap().to_string_lossy();
            name.split(':').next() == Some(base.as_str())
        })
        .unwrap_or_else(|| panic!("no file for UID {uid} ({base})"))
}

/// The audit's case: one message the server cannot read (its file mode 000) in the first
/// batch of 7 made every run fail on that batch, and took the folders after it along.
#[test]
fn a_message_the_server_cannot_deliver_stops_neither_its_batch_nor_the_next_folders() {
    let server = Dovecot::start();
    let setup = Setup::new(
        &server,
        "move:Processed",
        "folders = [\"INBOX\", \"Second\"]",
    );
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..10));
    session.create_folder_if_missing("Second").unwrap();
    seed(&mut session, "Second", reports(10..13));
    let _ = session.logout();
    let broken = message_file(&server, &setup.user, "INBOX", 4);
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o000)).unwrap();

    // Every run says it, by folder and UID, until the server can deliver it.
    for run_number in 1..=2 {
        let output = run(setup.fbl().args(["run", "--json"]));
        let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "run {run_number}: {stderr}");
        assert!(
            stderr.contains("mailbox jmrp folder INBOX: UID 4 was not delivered"),
            "run {run_number}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "run {run_number}: {stderr}");
        assert_eq!(
            summary["ingest"]["stored"],
            if run_number == 1 { 12 } else { 0 },
            "run {run_number}: {summary}"
        );
        // Said once (standard error), not also among the ingest's unread files on stdout.
        assert!(
            summary["ingest"]["unreadable"]
                .as_array()
                .is_none_or(|u| u.is_empty()),
            "{summary}"
        );
        let folders = summary["mailboxes"][0]["folders"].as_array().unwrap();
        assert_eq!(folders.len(), 2, "{summary}");
        assert!(folders[0]["unreadable"]["4"].is_string(), "{summary}");
        assert_eq!(uids(&server, &setup, "INBOX").0, vec![4], "left untouched");
        assert_eq!(uids(&server, &setup, "Second").0, Vec::<u32>::new());
        assert_eq!(uids(&server, &setup, "Processed").0.len(), 12);
    }

    // Read by a person: said once, on standard error, not also on standard output.
    let output = run(setup.fbl().args(["run"]));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(!stdout(&output).contains("UID=4"), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        stderr.matches("UID 4 was not delivered").count(),
        1,
        "{stderr}"
    );

    // Readable again: read, stored and moved like the others; then nothing more is said.
    // (Dovecot may have renamed the file meanwhile, new/ to cur/.)
    let broken = message_file(&server, &setup.user, "INBOX", 4);
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 1, "{summary}");
    assert_eq!(uids(&server, &setup, "INBOX").0, Vec::<u32>::new());
    assert_eq!(uids(&server, &setup, "Processed").0.len(), 13);
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["stored"], 0, "{summary}");
}

/// A fake IMAP server on loopback that refuses the login by echoing what it was sent, as a
/// careless server or proxy might; answers one connection. Dovecot never echoes.
fn echoing_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut writer = stream;
        writer.write_all(b"* OK fake IMAP ready\r\n").unwrap();
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let (tag, command) = line.trim_end().split_once(' ').unwrap();
        let tag = tag.to_string();
        let mut echo = command.to_string();
        if command.starts_with("AUTHENTICATE") {
            writer.write_all(b"+ \r\n").unwrap();
            let mut response = String::new();
            reader.read_line(&mut response).unwrap();
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(response.trim_end())
                .unwrap();
            echo = format!(
                "{} {}",
                response.trim_end(),
                String::from_utf8_lossy(&decoded).replace('\x01', " ")
            );
        }
        writer
            .write_all(format!("{tag} NO [AUTHENTICATIONFAILED] bad login: {echo}\r\n").as_bytes())
            .unwrap();
        let _ = reader.read_line(&mut line);
    });
    port
}

fn refusal(auth: &Auth) -> String {
    let port = echoing_server();
    let mut options = ConnectOptions::new("127.0.0.1", port, Security::Plain);
    options.read_timeout = std::time::Duration::from_secs(10);
    match Session::connect(&options, auth) {
        Ok(_) => panic!("the fake server accepted the login"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn a_refusal_that_echoes_the_password_or_token_is_masked() {
    for password in ["S3cretPassw0rd", r#"pa"ss\w0rd"#] {
        let said = refusal(&Auth::Password {
            user: "u@example.com".into(),
            password: password.into(),
        });
        assert!(said.contains("bad login"), "{said}");
        assert!(said.contains("u@example.com"), "{said}");
        assert!(said.contains("***"), "{said}");
        assert!(!said.contains("S3cret") && !said.contains("w0rd"), "{said}");
    }
    let said = refusal(&Auth::XOAuth2 {
        user: "u@example.com".into(),
        access_token: "ya29.TopSecretToken".into(),
    });
    assert!(said.contains("bad login") && said.contains("***"), "{said}");
    assert!(!said.contains("TopSecret"), "{said}");
    use base64::Engine as _;
    let sent = base64::engine::general_purpose::STANDARD
        .encode("user=u@example.com\x01auth=Bearer ya29.TopSecretToken\x01\x01");
    assert!(!said.contains(&sent[..20]), "{said}");
}

/// Without UIDPLUS, the messages fbl flagged `\Deleted` and could not expunge (another
/// client's are there too) stay fbl's own across a new connection opened mid-folder (a message
/// the server cannot deliver breaks the first): all are said, none is taken for another's.
#[test]
fn fbls_own_flagged_messages_stay_its_own_across_a_new_connection() {
    let server = Dovecot::start_without_move_or_uidplus();
    let setup = Setup::new(&server, "keep", "");
    let mut other = other_client(&server, &setup);
    append(&mut other, reports(0..5));
    let _ = other.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");

    // The user deletes a read one in a mail client (no expunge); ten more arrive, the eighth
    // of them (UID 13, in fbl's second batch of 7) unreadable to the server.
    let mut other = other_client(&server, &setup);
    flag_deleted(&mut other, 3);
    append(&mut other, reports(5..15));
    let _ = other.logout();
    let broken = message_file(&server, &setup.user, "INBOX", 13);
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o000)).unwrap();
    let config = setup.dir.path().join("fbl.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("after = \"keep\"", "after = \"delete\""),
    )
    .unwrap();

    let output = run(setup.fbl().args(["run", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["ingest"]["stored"], 9, "{summary}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("folder INBOX: 9 messages"),
        "every one fbl flagged is said: {stderr}"
    );
    let (_, deleted) = uids(&server, &setup, "INBOX");
    assert_eq!(deleted, vec![3, 6, 7, 8, 9, 10, 11, 12, 14, 15]);
}
