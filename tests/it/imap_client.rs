//! The IMAP client against a real Dovecot on loopback: TLS, STARTTLS, login failures,
//! timeouts, batched fetch, flags, moves with and without MOVE, deletes and folders.

use crate::dovecot::{Dovecot, arf_report, seed};
use fbl::imap_client::{Auth, ConnectOptions, ImapError, Security, Session};
use std::net::TcpListener;
use std::time::{Duration, Instant};

fn password(user: &str, password: &str) -> Auth {
    Auth::Password {
        user: user.to_string(),
        password: password.to_string(),
    }
}

fn reports(range: std::ops::Range<usize>) -> impl Iterator<Item = Vec<u8>> {
    range.map(arf_report)
}

#[test]
fn tls_login_lists_move_and_uidplus_after_login() {
    let server = Dovecot::start();
    let (user, pass) = server.add_user("tls");
    let session = Session::connect(&server.options(Security::Tls), &password(&user, &pass))
        .unwrap_or_else(|e| panic!("{e}\n{}", server.diagnostics()));
    assert!(session.has_move(), "{:?}", session.capabilities());
    assert!(session.has_uidplus(), "{:?}", session.capabilities());
    assert!(session.has_capability("imap4rev1"));
    session.logout().unwrap();
}

#[test]
fn tls_by_host_name_checks_the_name_in_the_certificate() {
    let server = Dovecot::start();
    let (user, pass) = server.add_user("name");
    let mut options = server.options(Security::Tls);
    options.host = "localhost".into();
    let session = Session::connect(&options, &password(&user, &pass)).unwrap();
    session.logout().unwrap();
}

#[test]
fn starttls_on_the_plain_port() {
    let server = Dovecot::start();
    let (user, pass) = server.add_user("starttls");
    let mut session =
        Session::connect(&server.options(Security::Starttls), &password(&user, &pass))
            .unwrap_or_else(|e| panic!("{e}\n{}", server.diagnostics()));
    assert!(session.has_move());
    session.select("INBOX").unwrap();
    session.logout().unwrap();
    assert!(
        server.diagnostics().contains("secured"),
        "dovecot should log the login as secured by TLS"
    );
}

#[test]
fn plain_is_allowed_on_loopback() {
    let server = Dovecot::start();
    let (user, pass) = server.add_user("plain");
    let session = Session::connect(&server.options(Security::Plain), &password(&user, &pass))
        .unwrap_or_else(|e| panic!("{e}\n{}", server.diagnostics()));
    session.logout().unwrap();
}

#[test]
fn wrong_password_is_auth_failed_naming_user_and_host_but_not_the_password() {
    let server = Dovecot::start();
    let (user, _) = server.add_user("wrong");
    let secret = "Tr0ub4dor-not-this-one";
    let error = Session::connect(&server.options(Security::Tls), &password(&user, secret))
        .expect_err("a wrong password must not log in");
    let ImapError::AuthFailed { user: named, .. } = &error else {
        panic!("expected AuthFailed, got {error:?}");
    };
    assert_eq!(named, &user);
    let shown = error.to_string();
    let debug = format!("{error:?}");
    assert!(shown.contains(&user), "{shown}");
    assert!(shown.contains("127.0.0.1"), "{shown}");
    assert!(shown.starts_with("authentication failed for"), "{shown}");
    assert!(
        !shown.contains(secret) && !debug.contains(secret),
        "{shown}"
    );
    assert!(!error.is_transient());
}

#[test]
fn xoauth2_with_a_valid_token_logs_in() {
    let server = Dovecot::start();
    // Dovecot's oauth2 passdb needs no users file entry: the token names the user.
    let auth = Auth::XOAuth2 {
        user: "oauth-user".into(),
        access_token: server.access_token("oauth-user"),
    };
    let mut session = Session::connect(&server.options(Security::Tls), &auth)
        .unwrap_or_else(|e| panic!("{e}\n{}", server.diagnostics()));
    session.select("INBOX").unwrap();
    session.logout().unwrap();
}

#[test]
fn xoauth2_with_a_bad_token_is_auth_failed_without_the_token() {
    let server = Dovecot::start();
    let mut token = server.access_token("oauth-user");
    token.truncate(token.len() - 4);
    token.push_str("AAAA");
    let auth = Auth::XOAuth2 {
        user: "oauth-user".into(),
        access_token: token.clone(),
    };
    let error = Session::connect(&server.options(Security::Tls), &auth).unwrap_err();
    assert!(
        matches!(&error, ImapError::AuthFailed { user, .. } if user == "oauth-user"),
        "{error:?}"
    );
    let shown = error.to_string();
    // The server's JSON error details, sent as a last challenge, are kept for the postmaster.
    assert!(shown.contains("401"), "{shown}");
    assert!(!shown.contains(&token) && !format!("{error:?}").contains(&token));
}

#[test]
fn plain_is_refused_for_a_remote_host_without_connecting() {
    // The name cannot resolve, so any attempt to connect would end in a Connect error.
    let options = ConnectOptions::new("imap.example.invalid", 143, Security::Plain);
    let error = Session::connect(&options, &password("fbl", "secret")).unwrap_err();
    assert!(
        matches!(&error, ImapError::PlainRefused { host } if host == "imap.example.invalid"),
        "{error:?}"
    );
    assert!(!error.to_string().contains("secret"));
}

#[test]
fn unrelated_ca_is_a_tls_error() {
    let server = Dovecot::start();
    let (user, pass) = server.add_user("badca");
    for security in [Security::Tls, Security::Starttls] {
        let mut options = server.options(security);
        options.ca_file = Some(server.unrelated_ca_path());
        let error = Session::connect(&options, &password(&user, &pass)).unwrap_err();
        assert!(matches!(error, ImapError::Tls(_)), "{error:?}");
        assert!(error.to_string().contains("ca_file"), "{error}");
    }
}

/// `security = "tls"` on the plain-text port is said for what it is, not as a CA problem.
#[test]
fn tls_on_the_plain_port_says_so() {
    let server = Dovecot::start();
    let (user, pass) = server.add_user("tlsplain");
    let mut options = server.options(Security::Tls);
    options.port = server.imap_port();
    let error = Session::connect(&options, &password(&user, &pass)).unwrap_err();
    assert!(matches!(error, ImapError::Tls(_)), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("did not answer in TLS") && text.contains("security = \"starttls\""),
        "{text}"
    );
    assert!(!text.contains("ca_file"), "{text}");
}

/// `security = "starttls"` (or `"plain"`) on the implicit-TLS port: the server waits for a
/// TLS handshake and sends no greeting. Said for what it is, with the setting to use, not as
/// a server that is down.
#[test]
fn starttls_on_the_tls_port_says_to_use_tls() {
    let server = Dovecot::start();
    let (user, pass) = server.add_user("starttlsimaps");
    for security in [Security::Starttls, Security::Plain] {
        let mut options = server.options(security);
        options.host = "127.0.0.1".into();
        options.port = server.imaps_port();
        options.read_timeout = std::time::Duration::from_secs(1);
        let error = Session::connect(&options, &password(&user, &pass)).unwrap_err();
        assert!(matches!(error, ImapError::NoGreeting { .. }), "{error:?}");
        assert!(error.is_transient(), "a busy server is silent too");
        let text = error.to_string();
        assert!(
            text.contains("no greeting") && text.contains("use security = \"tls\""),
            "{text}"
        );
        assert!(!text.contains("server is up"), "{text}");
    }
}

#[test]
fn without_ca_file_a_private_certificate_is_not_trusted() {
    let server = Dovecot::start();
    let (user, pass) = server.add_user("noca");
    let mut options = server.options(Security::Tls);
    options.ca_file = None;
    let error = Session::connect(&options, &password(&user, &pass)).unwrap_err();
    assert!(matches!(error, ImapError::Tls(_)), "{error:?}");
    assert!(error.to_string().contains("ca_file"), "{error}");
}

#[test]
fn missing_ca_file_is_a_tls_error_naming_the_file() {
    let mut options = ConnectOptions::new("127.0.0.1", 1, Security::Tls);
    options.ca_file = Some("/nonexistent/fbl-ca.pem".into());
    let error = Session::connect(&options, &password("fbl", "secret")).unwrap_err();
    assert!(matches!(error, ImapError::Tls(_)), "{error:?}");
    assert!(
        error.to_string().contains("/nonexistent/fbl-ca.pem"),
        "{error}"
    );
}

#[test]
fn refused_port_is_a_connect_error() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = ConnectOptions::new("127.0.0.1", port, Security::Tls);
    let error = Session::connect(&options, &password("fbl", "secret")).unwrap_err();
    assert!(
        matches!(&error, ImapError::Connect { port: p, .. } if *p == port),
        "{error:?}"
    );
    assert!(error.is_transient());
    // Printed with its chain, as fbl prints errors, the cause is said once.
    let shown = format!("{:#}", anyhow::Error::from(error));
    assert_eq!(shown.matches("Connection refused").count(), 1, "{shown}");
}

#[test]
fn silent_server_times_out_within_the_read_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept every connection and hold it open without a word.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(3) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_secs(10));
    });
    for security in [Security::Tls, Security::Starttls, Security::Plain] {
        let mut options = ConnectOptions::new("127.0.0.1", port, security);
        options.read_timeout = Duration::from_secs(1);
        let started = Instant::now();
        let error = Session::connect(&options, &password("fbl", "secret")).unwrap_err();
        let waited = started.elapsed();
        // With starttls or plain, the silence is said as a missing greeting, with the hint
        // for a port that waits for a TLS handshake.
        assert!(
            match security {
                Security::Tls => matches!(error, ImapError::Timeout { .. }),
                _ => matches!(error, ImapError::NoGreeting { .. }),
            },
            "{security:?}: {error:?}"
        );
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
            "{security:?} waited {waited:?}"
        );
        assert!(error.is_transient());
    }
}

#[test]
fn garbage_greeting_is_a_protocol_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(1) {
            let mut stream = stream.unwrap();
            let _ = std::io::Write::write_all(&mut stream, b"SSH-2.0-OpenSSH_9.2\r\n");
            std::thread::sleep(Duration::from_secs(2));
        }
    });
    let mut options = ConnectOptions::new("127.0.0.1", port, Security::Plain);
    options.read_timeout = Duration::from_secs(5);
    let error = Session::connect(&options, &password("fbl", "secret")).unwrap_err();
    assert!(matches!(error, ImapError::Protocol(_)), "{error:?}");
    assert!(error.to_string().contains("SSH-2.0"), "{error}");
}

#[test]
fn batched_fetch_returns_every_message_byte_for_byte_and_leaves_them_unseen() {
    let server = Dovecot::start();
    let mut session = server.new_session("batch");
    let sent: Vec<Vec<u8>> = reports(0..250).collect();
    let appended = seed(&mut session, "INBOX", sent.clone());
    let status = session.select("INBOX").unwrap();
    assert_eq!(status.exists, 250);

    let uids = session.uids_after(0, None).unwrap();
    assert_eq!(uids, appended);
    let mut fetched = Vec::new();
    for batch in uids.chunks(100) {
        let messages = session.fetch_batch(batch).unwrap();
        assert_eq!(messages.len(), batch.len());
        fetched.extend(messages);
    }
    assert_eq!(fetched.len(), 250);
    for ((uid, body), (expected_uid, expected)) in fetched.iter().zip(appended.iter().zip(&sent)) {
        assert_eq!(uid, expected_uid);
        assert!(body == expected, "message with UID {uid} differs");
    }
    assert_eq!(
        session.unseen_uids().unwrap(),
        uids,
        "fetching must not set \\Seen"
    );
    session.logout().unwrap();
}

#[test]
fn fetch_batch_skips_uids_that_are_gone_and_sorts_by_uid() {
    let server = Dovecot::start();
    let mut session = server.new_session("gone");
    let uids = seed(&mut session, "INBOX", reports(0..5));
    session.select("INBOX").unwrap();
    session.delete(&[uids[1]]).unwrap();
    let asked = [uids[4], uids[1], uids[0], 9999];
    let got: Vec<u32> = session
        .fetch_batch(&asked)
        .unwrap()
        .into_iter()
        .map(|(uid, _)| uid)
        .collect();
    assert_eq!(got, vec![uids[0], uids[4]]);
    assert_eq!(session.fetch_batch(&[]).unwrap(), Vec::new());
}

#[test]
fn fetch_one_matches_fetch_batch() {
    let server = Dovecot::start();
    let mut session = server.new_session("one");
    let uids = seed(&mut session, "INBOX", reports(0..3));
    session.select("INBOX").unwrap();
    let batch = session.fetch_batch(&uids).unwrap();
    for (uid, body) in batch {
        assert_eq!(session.fetch_one(uid).unwrap(), Some(body));
    }
    assert_eq!(session.fetch_one(9999).unwrap(), None);
    assert_eq!(session.unseen_uids().unwrap(), uids);
}

#[test]
fn fetch_sizes_and_fetch_head_bound_what_is_read() {
    let server = Dovecot::start();
    let mut session = server.new_session("sizes");
    let sent: Vec<Vec<u8>> = reports(0..3).collect();
    let uids = seed(&mut session, "INBOX", sent.clone());
    session.select("INBOX").unwrap();
    let sizes = session.fetch_sizes(&[uids[2], uids[0], 9999]).unwrap();
    assert_eq!(
        sizes,
        vec![
            (uids[0], sent[0].len() as u32),
            (uids[2], sent[2].len() as u32)
        ]
    );
    let head = session.fetch_head(uids[1], 100).unwrap().unwrap();
    assert_eq!(head, sent[1][..100].to_vec());
    let whole = session.fetch_head(uids[1], 1_000_000).unwrap().unwrap();
    assert_eq!(whole, sent[1]);
    assert_eq!(session.fetch_head(9999, 100).unwrap(), None);
    assert_eq!(session.unseen_uids().unwrap(), uids);
}

#[test]
fn uids_after_the_last_uid_returns_nothing_new() {
    let server = Dovecot::start();
    let mut session = server.new_session("after");
    let uids = seed(&mut session, "INBOX", reports(0..3));
    session.select("INBOX").unwrap();
    let last = *uids.last().unwrap();
    // "UID last+1:*" matches the highest UID even though it is not above last.
    assert_eq!(session.uids_after(last, None).unwrap(), Vec::<u32>::new());
    assert_eq!(
        session.uids_after(uids[0], None).unwrap(),
        uids[1..].to_vec()
    );

    let newer = seed(&mut session, "INBOX", reports(3..4));
    session.select("INBOX").unwrap();
    assert_eq!(session.uids_after(last, None).unwrap(), newer);
}

#[test]
fn uids_after_honours_since() {
    let server = Dovecot::start();
    let mut session = server.new_session("since");
    let uids = seed(&mut session, "INBOX", reports(0..2));
    session.select("INBOX").unwrap();
    let today = chrono::Utc::now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let yesterday = today.pred_opt().unwrap();
    assert_eq!(session.uids_after(0, Some(yesterday)).unwrap(), uids);
    assert_eq!(
        session.uids_after(0, Some(tomorrow)).unwrap(),
        Vec::<u32>::new()
    );
}

#[test]
fn uidvalidity_changes_when_a_folder_is_deleted_and_made_again() {
    let server = Dovecot::start();
    let mut session = server.new_session("validity");
    assert!(session.create_folder_if_missing("Reports").unwrap());
    seed(&mut session, "Reports", reports(0..2));
    let first = session.select("Reports").unwrap();
    assert_eq!(first.exists, 2);
    assert_eq!(first.uid_next, Some(3));

    session.delete_folder("Reports").unwrap();
    assert!(session.create_folder_if_missing("Reports").unwrap());
    let second = session.select("Reports").unwrap();
    assert_ne!(first.uid_validity, second.uid_validity);
    assert_eq!(second.exists, 0);
}

#[test]
fn move_to_uses_move_when_offered() {
    let server = Dovecot::start();
    let mut session = server.new_session("move");
    assert!(session.has_move());
    check_move(&mut session);
}

#[test]
fn move_to_falls_back_to_copy_and_uid_expunge_without_move() {
    let server = Dovecot::start_without_move();
    let mut session = server.new_session("nomove");
    assert!(!session.has_move(), "{:?}", session.capabilities());
    assert!(session.has_uidplus());
    check_move(&mut session);
}

#[test]
fn move_to_falls_back_to_copy_and_expunge_without_move_or_uidplus() {
    let server = Dovecot::start_without_move_or_uidplus();
    let mut session = server.new_session("bare");
    assert!(!session.has_move(), "{:?}", session.capabilities());
    assert!(!session.has_uidplus(), "{:?}", session.capabilities());
    check_move(&mut session);
}

/// Moves two of five messages to `Processed` and checks both folders.
fn check_move(session: &mut Session) {
    let sent: Vec<Vec<u8>> = reports(0..5).collect();
    for message in &sent {
        session.append("INBOX", message).unwrap();
    }
    session.create_folder_if_missing("Processed").unwrap();
    session.select("INBOX").unwrap();
    let uids = session.uids_after(0, None).unwrap();
    assert_eq!(uids.len(), 5);
    session.move_to(&[uids[1], uids[3]], "Processed").unwrap();

    let left = session.uids_after(0, None).unwrap();
    assert_eq!(left, vec![uids[0], uids[2], uids[4]]);
    let status = session.select("Processed").unwrap();
    assert_eq!(status.exists, 2);
    let moved = session.uids_after(0, None).unwrap();
    let bodies: Vec<Vec<u8>> = session
        .fetch_batch(&moved)
        .unwrap()
        .into_iter()
        .map(|(_, body)| body)
        .collect();
    assert_eq!(bodies, vec![sent[1].clone(), sent[3].clone()]);
}

#[test]
fn move_to_a_missing_folder_is_no_such_folder() {
    let server = Dovecot::start();
    let mut session = server.new_session("missing");
    let uids = seed(&mut session, "INBOX", reports(0..1));
    session.select("INBOX").unwrap();
    let error = session.move_to(&uids, "Nowhere").unwrap_err();
    assert!(
        matches!(&error, ImapError::NoSuchFolder(f) if f == "Nowhere"),
        "{error:?}"
    );
    assert_eq!(session.uids_after(0, None).unwrap(), uids);
}

#[test]
fn delete_removes_only_the_given_messages() {
    let server = Dovecot::start();
    let mut session = server.new_session("delete");
    let uids = seed(&mut session, "INBOX", reports(0..3));
    session.select("INBOX").unwrap();
    session.delete(&[uids[0], uids[2]]).unwrap();
    assert_eq!(session.uids_after(0, None).unwrap(), vec![uids[1]]);
    assert_eq!(session.select("INBOX").unwrap().exists, 1);
}

#[test]
fn mark_seen_sets_seen_on_the_given_messages() {
    let server = Dovecot::start();
    let mut session = server.new_session("seen");
    let uids = seed(&mut session, "INBOX", reports(0..4));
    session.select("INBOX").unwrap();
    assert_eq!(session.unseen_uids().unwrap(), uids);
    session.mark_seen(&uids[..2]).unwrap();
    assert_eq!(session.unseen_uids().unwrap(), uids[2..].to_vec());
}

#[test]
fn examine_is_read_only() {
    let server = Dovecot::start();
    let mut session = server.new_session("examine");
    let uids = seed(&mut session, "INBOX", reports(0..2));
    let status = session.examine("INBOX").unwrap();
    assert_eq!(status.exists, 2);
    assert_eq!(session.fetch_batch(&uids).unwrap().len(), 2);
    for error in [
        session.mark_seen(&uids).unwrap_err(),
        session.delete(&uids).unwrap_err(),
        session.move_to(&uids, "INBOX").unwrap_err(),
    ] {
        assert!(
            matches!(&error, ImapError::ReadOnly(f) if f == "INBOX"),
            "{error:?}"
        );
    }
    session.select("INBOX").unwrap();
    assert_eq!(session.unseen_uids().unwrap(), uids);
}

#[test]
fn create_folder_if_missing_is_idempotent() {
    let server = Dovecot::start();
    let mut session = server.new_session("folders");
    assert!(session.create_folder_if_missing("Complaints").unwrap());
    assert!(!session.create_folder_if_missing("Complaints").unwrap());
    assert!(!session.create_folder_if_missing("INBOX").unwrap());
    assert!(!session.create_folder_if_missing("inbox").unwrap());
    let folders = session.list_folders().unwrap();
    assert!(folders.contains(&"Complaints".to_string()), "{folders:?}");
    assert!(folders.contains(&"INBOX".to_string()), "{folders:?}");
    assert_eq!(folders.iter().filter(|f| *f == "Complaints").count(), 1);
}

#[test]
fn select_of_a_missing_folder_is_no_such_folder() {
    let server = Dovecot::start();
    let mut session = server.new_session("nofolder");
    let error = session.select("Does-Not-Exist").unwrap_err();
    assert!(
        matches!(&error, ImapError::NoSuchFolder(f) if f == "Does-Not-Exist"),
        "{error:?}"
    );
    assert!(error.to_string().contains("Does-Not-Exist"));
    // The session is still usable.
    session.select("INBOX").unwrap();
}

#[test]
fn append_to_a_missing_folder_is_no_such_folder() {
    let server = Dovecot::start();
    let mut session = server.new_session("appendmissing");
    let error = session.append("Nowhere", &arf_report(0)).unwrap_err();
    assert!(matches!(error, ImapError::NoSuchFolder(_)), "{error:?}");
    session.select("INBOX").unwrap();
}

#[test]
fn a_killed_server_mid_session_is_a_transient_error() {
    let server = Dovecot::start();
    let mut session = server.new_session("killed");
    session.select("INBOX").unwrap();
    drop(server);
    let error = session.uids_after(0, None).unwrap_err();
    assert!(error.is_transient(), "{error:?}");
}
