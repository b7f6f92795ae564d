//! Crash safety: `fbl run` against a real Dovecot holding a few thousand reports, killed
//! (SIGKILL) at pseudo-random moments, then one clean run. Every report must be stored once,
//! every complainant suppressed once, the mailbox left as configured, and no export partial.

use crate::dovecot::{Dovecot, arf_report};
use crate::support::fbl;
use std::time::{Duration, Instant};

/// Reports in the mailbox at the start, and reports that arrive before each run, so that every
/// run has work in hand when it is killed, however fast the machine.
const FIRST: usize = 1000;
const ARRIVING: usize = 34;
const KILLS: usize = 30;
const MESSAGES: usize = FIRST + ARRIVING * KILLS;

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

fn export_is_whole(path: &std::path::Path) -> Result<usize, String> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(0);
    };
    if text.is_empty() {
        return Err("empty export".into());
    }
    if !text.ends_with('\n') {
        return Err("export does not end with a newline".into());
    }
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    if !header.starts_with("email,") {
        return Err(format!("bad header {header:?}"));
    }
    let columns = header.split(',').count();
    let mut n = 0;
    for line in lines {
        if line.split(',').count() != columns {
            return Err(format!("partial line {line:?}"));
        }
        n += 1;
    }
    Ok(n)
}

#[test]
fn killed_runs_lose_nothing_and_count_nothing_twice() {
    let server = Dovecot::start();
    let (user, password) = server.add_user("crash");
    server.login(&user, &password).logout().ok();
    server.drop_into_maildir(&user, (0..FIRST).map(arf_report));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        format!(
            "[[mailbox]]\nname = \"jmrp\"\nhost = \"127.0.0.1\"\nport = {}\nca_file = \"{}\"\n\
             user = \"{user}\"\npassword_env = \"FBL_TEST_IMAP_PASSWORD\"\nafter = \"move:Processed\"\n\
             batch_size = 40\n\n[[export]]\nformat = \"csv\"\npath = \"exports/list.csv\"\n",
            server.imaps_port(),
            server.ca_path().display()
        ),
    )
    .unwrap();
    let export = dir.path().join("exports/list.csv");
    std::fs::create_dir(dir.path().join("exports")).unwrap();
    let command = || {
        let mut command = fbl(dir.path());
        command
            .env("FBL_TEST_IMAP_PASSWORD", &password)
            .args(["--config", "fbl.toml", "run"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command
    };

    let mut random = Lcg(0x5eed_f00d);
    let mut killed = 0;
    let mut finished_early = 0;
    let started = Instant::now();
    for round in 0..KILLS {
        let first = FIRST + round * ARRIVING;
        server.drop_into_maildir(&user, (first..first + ARRIVING).map(arf_report));
        let mut child = command().spawn().unwrap();
        std::thread::sleep(Duration::from_millis(20 + random.next(280)));
        match child.try_wait().unwrap() {
            Some(_) => finished_early += 1,
            None => {
                child.kill().unwrap(); // SIGKILL
                child.wait().unwrap();
                killed += 1;
            }
        }
        export_is_whole(&export).unwrap_or_else(|e| panic!("after a kill: {e}"));
    }
    let status = command().status().unwrap();
    assert!(status.success(), "the final clean run failed: {status:?}");

    let store = fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    let counts = store.counts().unwrap();
    let mut session = server.login(&user, &password);
    let inbox = session.examine("INBOX").unwrap().exists;
    let processed = session.examine("Processed").unwrap().exists;
    session.logout().ok();
    let exported = export_is_whole(&export).unwrap();
    let mut twice = 0;
    store
        .for_each_suppression(
            &fbl::store::SuppressionFilter {
                now: "2026-11-20T08:00:00Z".into(),
                ..Default::default()
            },
            |s| {
                if s.count != 1 {
                    twice += 1;
                }
                Ok(())
            },
        )
        .unwrap();
    eprintln!(
        "crash test: {MESSAGES} reports, {killed} runs killed, {finished_early} finished before the kill, \
         {:.1} s; stored {}, suppressed {}, counted twice {twice}, INBOX {inbox}, Processed {processed}, exported {exported}",
        started.elapsed().as_secs_f64(),
        counts.reports,
        counts.suppressions
    );
    assert!(
        killed >= KILLS / 2,
        "too few runs were killed mid-way ({killed})"
    );
    assert_eq!(counts.reports, MESSAGES as u64);
    assert_eq!(counts.suppressions, MESSAGES as u64);
    assert_eq!(twice, 0, "a complainant was counted twice");
    assert_eq!(inbox, 0);
    assert_eq!(processed, MESSAGES as u32);
    assert_eq!(exported, MESSAGES);
    let state = store.mailbox_state("jmrp", "INBOX").unwrap().unwrap();
    assert!(
        store
            .pending_actions("jmrp", "INBOX", state.uid_validity)
            .unwrap()
            .is_empty()
    );
}
