//! A mailbox's `quarantine_folder` against a real Dovecot: a message fbl moved there and
//! released since (a retry stored it, another delivery of its report was stored) is taken
//! out at the next poll, as `after` says, found by its bytes; a message fbl cannot prove it
//! released stays, and a refused action loses nothing.

use crate::dovecot::{Dovecot, seed};
use crate::imap_poll::Setup;
use crate::quarantine_release::{trusted, untrusted};
use crate::support::{run, stdout, to_crlf};

/// `[trust]` after the mailbox's lines: the untrusted delivery is quarantined.
const TRUST: &str = "\n[trust]\nauthserv_id = \"mx.sender.example\"\n";

/// A message fbl cannot read: quarantined for good.
const BROKEN: &[u8] = b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno feedback part\r\n--x--\r\n";

/// The messages of a folder, as the server gives them back.
fn messages(server: &Dovecot, setup: &Setup, folder: &str) -> Vec<Vec<u8>> {
    let mut session = server.login(&setup.user, &setup.password);
    let messages = match session.examine(folder) {
        Ok(_) => {
            let uids = session.uids_after(0, None).unwrap();
            session
                .fetch_batch(&uids)
                .unwrap()
                .into_iter()
                .map(|(_, raw)| raw)
                .collect()
        }
        Err(_) => Vec::new(),
    };
    let _ = session.logout();
    messages
}

/// Whether one of `messages` begins with the first line of `message`.
fn holds(messages: &[Vec<u8>], message: &[u8]) -> bool {
    let first = message.split(|&b| b == b'\n').next().unwrap();
    messages.iter().any(|m| m.starts_with(first))
}

fn quarantine_ids(setup: &Setup) -> Vec<i64> {
    let output = run(setup.fbl().args(["quarantine", "list", "--json"]));
    let list: Vec<serde_json::Value> = serde_json::from_str(&stdout(&output)).unwrap();
    list.iter().map(|e| e["id"].as_i64().unwrap()).collect()
}

/// The untrusted delivery is quarantined and moved to the quarantine folder; the trusted one,
/// read in a later run, is stored and releases it. That run takes the untrusted copy out of
/// the quarantine folder to Processed, where `after` puts processed mail. The broken message
/// (still in quarantine) stays, and so does a message a person put in the folder that is
/// another delivery of the report (not the bytes fbl released). The next run changes nothing.
#[test]
fn a_released_message_leaves_the_quarantine_folder_as_after_says() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", TRUST);
    // Another delivery of the same report (its content key is the report's), put in the
    // folder by a person: fbl did not move it there, and its bytes are not those released.
    let by_hand = to_crlf(&[b"X-Put-There-By: postmaster\n".as_slice(), &untrusted()[..]].concat());
    let mut session = server.login(&setup.user, &setup.password);
    session.create_folder_if_missing("fbl-quarantine").unwrap();
    seed(&mut session, "fbl-quarantine", [by_hand.clone()]);
    seed(
        &mut session,
        "INBOX",
        [to_crlf(&untrusted()), BROKEN.to_vec()],
    );
    let _ = session.logout();

    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(summary["ingest"]["quarantined"], 2, "{summary}");
    let quarantined = messages(&server, &setup, "fbl-quarantine");
    assert_eq!(quarantined.len(), 3);
    assert!(holds(&quarantined, &untrusted()));

    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", [to_crlf(&trusted())]);
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(summary["ingest"]["stored"], 1, "{summary}");
    assert_eq!(summary["ingest"]["released"], 1, "{summary}");
    let quarantined = messages(&server, &setup, "fbl-quarantine");
    assert_eq!(
        quarantined.len(),
        2,
        "the broken message and the one put by hand"
    );
    assert!(quarantined.contains(&BROKEN.to_vec()));
    assert!(quarantined.contains(&by_hand));
    let processed = messages(&server, &setup, "Processed");
    assert_eq!(processed.len(), 2);
    assert!(processed.contains(&to_crlf(&untrusted())));
    assert!(processed.contains(&to_crlf(&trusted())));
    assert_eq!(
        summary["mailboxes"][0]["released_from_quarantine"],
        serde_json::json!({"move:Processed": 1}),
        "{summary}"
    );
    assert_eq!(code, Some(0), "{summary}");

    // Nothing more to do: the next run leaves both folders as they are.
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert!(
        summary["mailboxes"][0]
            .get("released_from_quarantine")
            .is_none(),
        "{summary}"
    );
    assert_eq!(messages(&server, &setup, "fbl-quarantine").len(), 2);
    assert_eq!(messages(&server, &setup, "Processed").len(), 2);
}

/// With `after = "keep"`, a message `fbl quarantine retry --trusted` stores goes back to the
/// folder it was read from, where processed mail stays; the next run reads it there as a
/// duplicate and keeps it, and the one after changes nothing: it never goes back and forth.
#[test]
fn with_keep_a_retried_message_goes_back_to_its_folder_once() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "keep", TRUST);
    let mut session = server.login(&setup.user, &setup.password);
    seed(
        &mut session,
        "INBOX",
        [to_crlf(&untrusted()), BROKEN.to_vec()],
    );
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1), "{summary}");
    assert_eq!(messages(&server, &setup, "fbl-quarantine").len(), 2);
    assert!(messages(&server, &setup, "INBOX").is_empty());

    // A person looked at the untrusted one and vouches for it.
    let ids = quarantine_ids(&setup);
    assert_eq!(ids.len(), 2);
    let untrusted_id = ids
        .iter()
        .find(|&&id| {
            let output = run(setup.fbl().args(["quarantine", "show", &id.to_string()]));
            stdout(&output).contains("untrusted_reporter")
        })
        .unwrap();
    let output = run(setup.fbl().args([
        "quarantine",
        "retry",
        "--trusted",
        &untrusted_id.to_string(),
    ]));
    assert_eq!(output.status.code(), Some(0));

    let (code, summary) = setup.run_json(&[]);
    assert_eq!(
        messages(&server, &setup, "fbl-quarantine"),
        vec![BROKEN.to_vec()]
    );
    assert_eq!(
        messages(&server, &setup, "INBOX"),
        vec![to_crlf(&untrusted())]
    );
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        summary["mailboxes"][0]["released_from_quarantine"],
        serde_json::json!({"move:INBOX": 1}),
        "{summary}"
    );

    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["duplicates"], 1, "{summary}");
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(summary["ingest"]["messages"], 0, "{summary}");
    assert_eq!(messages(&server, &setup, "INBOX").len(), 1);
    assert_eq!(messages(&server, &setup, "fbl-quarantine").len(), 1);
}

/// A released message whose move the server refuses (`after` names a folder it will not
/// create) stays in the quarantine folder, said in the errors, and is moved once `after` is
/// mended: nothing is lost on the way.
#[test]
fn a_refused_move_of_a_released_message_leaves_it_in_place_until_after_is_mended() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Archive..2026", TRUST);
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", [to_crlf(&untrusted())]);
    let _ = session.logout();
    let (code, _) = setup.run_json(&[]);
    assert_eq!(code, Some(1));
    assert_eq!(messages(&server, &setup, "fbl-quarantine").len(), 1);

    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", [to_crlf(&trusted())]);
    let _ = session.logout();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1), "{summary}");
    let errors = summary["mailboxes"][0]["errors"].to_string();
    assert!(
        errors.contains("quarantine folder fbl-quarantine: 1 released message left in the folder")
            && errors.contains("move:Archive..2026 was refused"),
        "{errors}"
    );
    assert_eq!(
        messages(&server, &setup, "fbl-quarantine"),
        vec![to_crlf(&untrusted())]
    );

    let config = setup.dir.path().join("fbl.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("move:Archive..2026", "move:Processed"),
    )
    .unwrap();
    let (code, summary) = setup.run_json(&[]);
    assert!(messages(&server, &setup, "fbl-quarantine").is_empty());
    let processed = messages(&server, &setup, "Processed");
    assert_eq!(processed.len(), 2);
    assert!(processed.contains(&to_crlf(&untrusted())));
    assert_eq!(code, Some(0), "{summary}");
    assert_eq!(
        summary["mailboxes"][0]["released_from_quarantine"],
        serde_json::json!({"move:Processed": 1}),
        "{summary}"
    );
}

/// A move into the quarantine folder still due (the server refused to create the folder)
/// for a message released since is not done: the message needs no person, and takes `after`
/// at once. Before, it waited for the folder, and went there once the server took it, after
/// the poll that would have taken it out had found it missing: there for good.
#[test]
fn a_quarantine_move_still_due_for_a_message_released_since_takes_after() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", TRUST);
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", [to_crlf(&untrusted())]);
    let _ = session.logout();
    // A file where the quarantine folder's Maildir would be: the server cannot create it.
    let blocker = server.maildir(&setup.user).join(".fbl-quarantine");
    std::fs::write(&blocker, b"not a folder").unwrap();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(1), "{summary}");
    let errors = summary["mailboxes"][0]["errors"].to_string();
    assert!(
        errors.contains("move:fbl-quarantine was refused"),
        "{errors}"
    );
    assert_eq!(messages(&server, &setup, "INBOX").len(), 1);

    let ids = quarantine_ids(&setup);
    let output = run(setup
        .fbl()
        .args(["quarantine", "retry", "--trusted", &ids[0].to_string()]));
    assert_eq!(output.status.code(), Some(0));

    let (code, summary) = setup.run_json(&[]);
    assert!(messages(&server, &setup, "INBOX").is_empty(), "{summary}");
    assert_eq!(
        messages(&server, &setup, "Processed"),
        vec![to_crlf(&untrusted())]
    );
    assert_eq!(code, Some(0), "{summary}");
    std::fs::remove_file(&blocker).unwrap();
    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    assert!(messages(&server, &setup, "fbl-quarantine").is_empty());
    assert_eq!(messages(&server, &setup, "Processed").len(), 1);
}
