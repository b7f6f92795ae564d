//! Network faults between fbl and a real Dovecot, through a small TCP proxy: the connection
//! dropped mid-login and mid-fetch, a server that stops answering, a server that answers
//! garbage. A fetch cut off is taken up again on a new connection; every other fault ends the
//! run with a clear error and exit 1, the store stays whole, and the next run completes the
//! work.

use crate::dovecot::{Dovecot, arf_report};
use crate::support::{fbl, run, stdout};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What the proxy does to the server's bytes.
#[derive(Clone, Copy)]
enum Fault {
    /// Forward this many bytes from the server, then close both sides.
    DropAfter(usize),
    /// Forward this many bytes from the server, then go silent, keeping the connection open.
    StallAfter(usize),
}

/// Accepts connections on a loopback port and relays them to `target` with a fault.
struct Proxy {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    fn start(target: u16, fault: Fault) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        listener.set_nonblocking(true).unwrap();
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let server = TcpStream::connect(("127.0.0.1", target)).unwrap();
                        relay(client, server, fault, stopping.clone());
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Proxy { port, stop }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn relay(client: TcpStream, server: TcpStream, fault: Fault, stop: Arc<AtomicBool>) {
    let (mut client_read, mut server_write) =
        (client.try_clone().unwrap(), server.try_clone().unwrap());
    std::thread::spawn(move || {
        let mut buffer = [0u8; 16384];
        while let Ok(n) = client_read.read(&mut buffer) {
            if n == 0 || server_write.write_all(&buffer[..n]).is_err() {
                break;
            }
        }
    });
    let (mut server_read, mut client_write) = (server, client);
    std::thread::spawn(move || {
        let limit = match fault {
            Fault::DropAfter(n) | Fault::StallAfter(n) => n,
        };
        let mut sent = 0usize;
        let mut buffer = [0u8; 16384];
        while let Ok(n) = server_read.read(&mut buffer) {
            if n == 0 {
                break;
            }
            let take = n.min(limit - sent);
            if client_write.write_all(&buffer[..take]).is_err() {
                break;
            }
            sent += take;
            if sent >= limit {
                match fault {
                    Fault::DropAfter(_) => {
                        let _ = client_write.shutdown(std::net::Shutdown::Both);
                        let _ = server_read.shutdown(std::net::Shutdown::Both);
                    }
                    Fault::StallAfter(_) => {
                        // Keep the sockets open, say nothing, until the test ends.
                        while !stop.load(Ordering::SeqCst) {
                            std::thread::sleep(Duration::from_millis(20));
                        }
                    }
                }
                break;
            }
        }
    });
}

struct Setup {
    dir: tempfile::TempDir,
    password: String,
}

impl Setup {
    fn new(server: &Dovecot, messages: usize) -> (Setup, String) {
        let (user, password) = server.add_user("faults");
        server.login(&user, &password).logout().ok();
        server.drop_into_maildir(&user, (0..messages).map(arf_report));
        let dir = tempfile::tempdir().unwrap();
        (Setup { dir, password }, user)
    }

    fn configure(&self, server: &Dovecot, user: &str, port: u16) {
        std::fs::write(
            self.dir.path().join("fbl.toml"),
            format!(
                "[[mailbox]]\nname = \"jmrp\"\nhost = \"127.0.0.1\"\nport = {port}\nca_file = \"{}\"\n\
                 user = \"{user}\"\npassword_env = \"FBL_TEST_IMAP_PASSWORD\"\nafter = \"move:Processed\"\n\
                 batch_size = 25\nconnect_timeout_secs = 3\nread_timeout_secs = 2\n",
                server.ca_path().display()
            ),
        )
        .unwrap();
    }

    fn run(&self) -> (Option<i32>, String, serde_json::Value) {
        let output = run(fbl(self.dir.path())
            .env("FBL_TEST_IMAP_PASSWORD", &self.password)
            .args(["--config", "fbl.toml", "run", "--json"]));
        let summary = serde_json::from_str(&stdout(&output)).unwrap_or(serde_json::Value::Null);
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
            summary,
        )
    }

    fn reports(&self) -> u64 {
        fbl::store::Store::open(&self.dir.path().join("fbl.sqlite"))
            .map(|s| s.counts().unwrap().reports)
            .unwrap_or(0)
    }
}

fn check_fault(fault: Fault, expect_some_stored: bool) {
    let server = Dovecot::start();
    let (setup, user) = Setup::new(&server, 120);
    let proxy = Proxy::start(server.imaps_port(), fault);
    setup.configure(&server, &user, proxy.port);
    let started = Instant::now();
    let (code, stderr, summary) = setup.run();
    assert_eq!(code, Some(1), "a broken connection means exit 1");
    assert!(started.elapsed() < Duration::from_secs(30), "the run hung");
    assert!(
        stderr.contains("mailbox jmrp") || stderr.contains("jmrp"),
        "{stderr}"
    );
    assert!(
        !summary["mailboxes"][0]["errors"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let partial = setup.reports();
    if expect_some_stored {
        assert!(
            partial > 0 && partial < 120,
            "{partial} stored before the fault"
        );
    }
    drop(proxy);
    // The next run, without the fault, completes the work and counts nothing twice.
    setup.configure(&server, &user, server.imaps_port());
    let (code, stderr, summary) = setup.run();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(setup.reports(), 120);
    assert_eq!(summary["ingest"]["stored"].as_u64().unwrap() + partial, 120);
}

#[test]
fn a_connection_dropped_mid_login_is_an_error_and_the_next_run_completes() {
    check_fault(Fault::DropAfter(600), false);
}

/// A connection dropped in the middle of a fetch (every connection through the proxy drops
/// after 120,000 bytes): the batch is asked for again, message by message, on a new
/// connection, so the run stores every message once, says nothing and exits 0. No message is
/// said to be undeliverable for a connection that broke under it once.
#[test]
fn a_connection_dropped_mid_fetch_is_taken_up_again_on_a_new_connection() {
    let server = Dovecot::start();
    let (setup, user) = Setup::new(&server, 120);
    let proxy = Proxy::start(server.imaps_port(), Fault::DropAfter(120_000));
    setup.configure(&server, &user, proxy.port);
    let (code, stderr, summary) = setup.run();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "", "nothing needs attention");
    assert_eq!(setup.reports(), 120);
    assert_eq!(summary["ingest"]["stored"], 120, "{summary}");
    assert!(
        summary["ingest"]["unreadable"]
            .as_array()
            .is_none_or(|u| u.is_empty()),
        "{summary}"
    );
    // The next run finds nothing new.
    let (code, stderr, summary) = setup.run();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(summary["ingest"]["stored"], 0, "{summary}");
    drop(proxy);
}

#[test]
fn a_server_that_stops_answering_times_out() {
    check_fault(Fault::StallAfter(120_000), true);
}

#[test]
fn a_server_that_answers_garbage_is_a_clear_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(2) {
            let mut stream = stream.unwrap();
            let _ = stream.write_all(b"\x16\x03\x01garbage that is not TLS nor IMAP\r\n");
        }
    });
    let server = Dovecot::start();
    let (setup, user) = Setup::new(&server, 1);
    setup.configure(&server, &user, port);
    let (code, stderr, _) = setup.run();
    assert_eq!(code, Some(1));
    assert!(stderr.contains("127.0.0.1"), "{stderr}");
    assert_eq!(setup.reports(), 0);
}
