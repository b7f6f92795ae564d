//! `fbl run` against a real Dovecot where the mailbox is not as fbl would wish: a server
//! without UIDPLUS (a plain EXPUNGE removes every message flagged `\Deleted`), a message the
//! server cannot deliver, a server that echoes the password in its refusal.

use crate::dovecot::Dovecot;
use crate::imap_poll::{Setup, reports};
use crate::support::{run, stdout};
use std::net::TcpStream;

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
