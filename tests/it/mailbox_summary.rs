//! What `fbl run` says of each mailbox folder, and what `fbl mailbox status` shows, against
//! a real Dovecot: counts of what the run did (not what an earlier run had done already),
//! what `limit` leaves for the next runs, a folder that fails part-way, and the status of
//! every configured folder.

use crate::dovecot::{Dovecot, seed};
use crate::imap_poll::{Setup, reports};
use crate::support::{run, stdout};
use fbl::store::Store;

fn store(setup: &Setup) -> Store {
    Store::open(&setup.dir.path().join("fbl.sqlite")).unwrap()
}

fn uids(server: &Dovecot, setup: &Setup, folder: &str) -> Vec<u32> {
    let mut session = server.login(&setup.user, &setup.password);
    let found = match session.examine(folder) {
        Ok(_) => session.uids_after(0, None).unwrap(),
        Err(_) => Vec::new(),
    };
    let _ = session.logout();
    found
}

/// The audit's case: a run that timed out after the server had moved messages left those
/// moves pending; the next run counted them again as moved by it (675 said, 650 moved).
/// Now a pending action whose message is gone from the folder is forgotten and said apart;
/// those the run did finish are counted, and said to come from an earlier run.
#[test]
fn pending_actions_the_server_already_did_are_not_counted_again() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", "");
    let mut session = server.login(&setup.user, &setup.password);
    let messages = reports(0..5);
    let earlier = seed(&mut session, "INBOX", messages.clone());
    let status = session.select("INBOX").unwrap();

    // An earlier run stored the five and committed their moves...
    let files = setup.dir.path().join("earlier");
    std::fs::create_dir_all(&files).unwrap();
    for (i, message) in messages.iter().enumerate() {
        std::fs::write(files.join(format!("{i}.eml")), message).unwrap();
    }
    assert_eq!(
        run(setup.fbl().args(["ingest", "earlier"])).status.code(),
        Some(0)
    );
    {
        let mut store = store(&setup);
        let mut batch = store.begin().unwrap();
        for uid in &earlier {
            batch
                .add_pending_action("jmrp", "INBOX", status.uid_validity, *uid, "move:Processed")
                .unwrap();
        }
        batch
            .set_mailbox_progress("jmrp", "INBOX", status.uid_validity, earlier[4])
            .unwrap();
        batch.commit().unwrap();
    }
    // ...and the server did two of them before the run timed out waiting for its answer.
    session.create_folder_if_missing("Processed").unwrap();
    session.move_to(&earlier[..2], "Processed").unwrap();
    // New mail since.
    seed(&mut session, "INBOX", reports(5..8));
    let _ = session.logout();

    let (code, summary) = setup.run_json(&[]);
    assert_eq!(code, Some(0), "{summary}");
    let folder = &summary["mailboxes"][0]["folders"][0];
    assert_eq!(folder["actions"]["move:Processed"], 6, "{summary}");
    assert_eq!(folder["pending_finished"]["move:Processed"], 3, "{summary}");
    assert_eq!(folder["pending_found_done"], 2, "{summary}");
    assert_eq!(folder["new_messages"], 3, "{summary}");
    assert_eq!(uids(&server, &setup, "INBOX"), Vec::<u32>::new());
    assert_eq!(uids(&server, &setup, "Processed").len(), 8);
    assert!(
        store(&setup)
            .pending_actions("jmrp", "INBOX", status.uid_validity)
            .unwrap()
            .is_empty()
    );
}

/// The same, said in text (a quarantined message makes the run print its summary): the
/// `seen` count is what this run flagged, not the flags an earlier run had set already.
#[test]
fn the_text_summary_counts_only_what_the_run_did() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "seen", "");
    let mut session = server.login(&setup.user, &setup.password);
    let earlier = seed(&mut session, "INBOX", reports(0..4));
    let status = session.select("INBOX").unwrap();
    let _ = session.logout();
    let (code, _) = setup.run_json(&[]);
    assert_eq!(code, Some(0));
    // The flags were set, but the run that set them did not learn it.
    {
        let mut store = store(&setup);
        let mut batch = store.begin().unwrap();
        for uid in &earlier {
            batch
                .add_pending_action("jmrp", "INBOX", status.uid_validity, *uid, "seen")
                .unwrap();
        }
        batch.commit().unwrap();
    }
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(4..6));
    seed(&mut session, "INBOX", [b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\nno feedback part\r\n--x--\r\n".to_vec()]);
    let _ = session.logout();
    let output = run(setup.fbl().arg("run"));
    assert_eq!(output.status.code(), Some(1), "a quarantined message");
    let text = stdout(&output);
    assert!(
        text.contains(
            "mailbox jmrp INBOX: 3 new; move:fbl-quarantine 1, seen 2; 4 actions left pending \
             by an earlier run found done already on the server\n"
        ),
        "{text}"
    );
}

/// `limit = 4` with ten new messages: four read, six said to be left, in text and JSON,
/// run after run until none is left.
#[test]
fn limit_says_how_many_new_messages_are_left_for_the_next_runs() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "keep", "limit = 4");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..10));
    let _ = session.logout();

    let output = run(setup.fbl().args(["run", "--dry-run"]));
    assert_eq!(output.status.code(), Some(0));
    assert!(
        stdout(&output)
            .contains("mailbox jmrp INBOX: 4 new (6 more left for the next runs: limit)"),
        "{}",
        stdout(&output)
    );
    for (new, left) in [(4, 6), (4, 2), (2, 0)] {
        let (code, summary) = setup.run_json(&[]);
        assert_eq!(code, Some(0), "{summary}");
        let folder = &summary["mailboxes"][0]["folders"][0];
        assert_eq!(folder["new_messages"], new, "{summary}");
        assert_eq!(folder["left_for_next_runs"], left, "{summary}");
    }
    assert_eq!(store(&setup).counts().unwrap().reports, 10);
}

/// A folder whose fourth batch the store refuses (a deferred constraint the 26th report
/// breaks at COMMIT) keeps its line: three batches of seven committed and moved, beside
/// the error.
#[test]
fn a_folder_that_fails_part_way_keeps_its_line_with_what_was_done() {
    let server = Dovecot::start();
    let setup = Setup::new(&server, "move:Processed", "");
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..40));
    let _ = session.logout();
    let path = setup.dir.path().join("fbl.sqlite");
    drop(Store::open(&path).unwrap());
    let sqlite = rusqlite::Connection::open(&path).unwrap();
    sqlite
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
    assert_eq!(code, Some(1), "{summary}");
    let folders = summary["mailboxes"][0]["folders"].as_array().unwrap();
    assert_eq!(folders.len(), 1, "{summary}");
    let folder = &folders[0];
    assert_eq!(folder["folder"], "INBOX", "{summary}");
    assert_eq!(folder["new_messages"], 40, "{summary}");
    assert_eq!(folder["committed"], 21, "{summary}");
    assert_eq!(folder["actions"]["move:Processed"], 21, "{summary}");
    assert!(
        folder["error"].as_str().unwrap().contains("FOREIGN KEY"),
        "{summary}"
    );
    assert_eq!(uids(&server, &setup, "Processed").len(), 21);

    // In text (the run needs attention, so it prints its summary): the next batch of seven
    // is committed, the one after refused.
    sqlite
        .execute_batch(
            "DROP TRIGGER test_refuse;
             CREATE TRIGGER test_refuse AFTER INSERT ON reports
             WHEN (SELECT count(*) FROM reports) = 33
             BEGIN INSERT INTO test_refused VALUES (NEW.id); END;",
        )
        .unwrap();
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(40..45));
    let _ = session.logout();
    let output = run(setup.fbl().arg("run"));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let line = text
        .lines()
        .find(|line| line.contains("mailbox jmrp INBOX:"))
        .unwrap_or_else(|| panic!("no line for INBOX: {text}"));
    assert!(
        line.starts_with(
            "mailbox jmrp INBOX: 24 new; move:Processed 7; failed after 7 \
                          messages committed: "
        ) && line.contains("FOREIGN KEY"),
        "{line}"
    );
}

/// `fbl mailbox status` shows every configured folder (one never polled says so), with its
/// pending actions and undeliverable messages, and marks what is no longer configured.
#[test]
fn mailbox_status_shows_every_configured_folder_and_what_is_left_to_do() {
    let server = Dovecot::start();
    let setup = Setup::new(
        &server,
        "move:Archive..2026",
        "folders = [\"INBOX\", \"Old\"]",
    );
    let mut session = server.login(&setup.user, &setup.password);
    seed(&mut session, "INBOX", reports(0..3));
    session.create_folder_if_missing("Old").unwrap();
    seed(&mut session, "Old", reports(3..4));
    let status = session.examine("INBOX").unwrap();
    let _ = session.logout();
    // The move is refused: three actions pending in INBOX, one in Old.
    let (code, _) = setup.run_json(&[]);
    assert_eq!(code, Some(1));
    {
        let mut store = store(&setup);
        let mut batch = store.begin().unwrap();
        batch
            .add_unreadable(
                "jmrp",
                "INBOX",
                status.uid_validity,
                9,
                "2026-11-20T08:00:00Z",
                "gone",
            )
            .unwrap();
        batch.commit().unwrap();
    }
    // Old is dropped from the configuration, a folder and a mailbox are added.
    let config = setup.dir.path().join("fbl.toml");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("[\"INBOX\", \"Old\"]", "[\"INBOX\", \"Junk\"]");
    let other = text
        .replace("name = \"jmrp\"", "name = \"yahoo\"")
        .replace("folders = [\"INBOX\", \"Junk\"]", "");
    std::fs::write(&config, format!("{text}\n{other}")).unwrap();

    let output = run(setup.fbl().args(["mailbox", "status"]));
    assert_eq!(output.status.code(), Some(0));
    let lines: Vec<String> = stdout(&output).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(
        lines[0].starts_with("jmrp\tINBOX\tUIDVALIDITY ")
            && lines[0].ends_with("\tpending actions 3\tundeliverable 1"),
        "{lines:?}"
    );
    assert_eq!(
        lines[1],
        "jmrp\tJunk\tnever polled yet\tpending actions 0\tundeliverable 0"
    );
    assert_eq!(
        lines[2],
        "yahoo\tINBOX\tnever polled yet\tpending actions 0\tundeliverable 0"
    );
    assert!(
        lines[3].starts_with("jmrp\tOld\tUIDVALIDITY ")
            && lines[3].ends_with("\tpending actions 1\tundeliverable 0\tno longer configured"),
        "{lines:?}"
    );

    let output = run(setup.fbl().args(["mailbox", "status", "--json"]));
    let rows: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0]["pending_actions"], 3);
    assert_eq!(rows[0]["undeliverable"], 1);
    assert_eq!(rows[0]["configured"], true);
    assert_eq!(rows[0]["last_uid"], 3);
    assert!(rows[1]["last_uid"].is_null() && rows[1]["uid_validity"].is_null());
    assert_eq!(rows[3]["folder"], "Old");
    assert_eq!(rows[3]["configured"], false);
}
