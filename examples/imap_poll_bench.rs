//! Benchmark of pulling complaint reports from IMAP: batched `UID FETCH` (500 per round trip)
//! against one round trip per message, on a private Dovecot over TLS on loopback.
//!
//! Run: `cargo run --release --example imap_poll_bench -- [N]` (N reports, default 20000).
//! It needs `dovecot` and `openssl` installed, as the integration tests do.

#[path = "../tests/it/dovecot.rs"]
mod dovecot;

use dovecot::{Dovecot, arf_report};
use std::time::{Duration, Instant};

const BATCH: usize = 500;

fn main() {
    let count: usize = match std::env::args().nth(1) {
        Some(arg) => arg.parse().unwrap_or_else(|_| {
            eprintln!("usage: imap_poll_bench [N]: N must be a whole number, got {arg:?}");
            std::process::exit(2);
        }),
        None => 20_000,
    };

    let server = Dovecot::start();
    let (user, password) = server.add_user("bench");
    let mut session = server.login(&user, &password);
    // The first SELECT makes the Maildir.
    session.select("INBOX").expect("select INBOX");

    let started = Instant::now();
    // Generated lazily, so that the seeding does not raise the peak RSS measured below.
    let seeded_bytes: usize = (0..count).map(|n| arf_report(n).len()).sum();
    server.drop_into_maildir(&user, (0..count).map(arf_report));
    println!(
        "seeded {count} reports ({:.1} MiB) into the Maildir in {:.2} s",
        seeded_bytes as f64 / 1048576.0,
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let status = session.select("INBOX").expect("select INBOX");
    let uids = session.uids_after(0, None).expect("search");
    assert_eq!(status.exists as usize, count);
    assert_eq!(uids.len(), count);
    println!(
        "SELECT (Dovecot indexes the new files) and UID SEARCH: {:.2} s",
        started.elapsed().as_secs_f64()
    );

    let (batched_bytes, batched) = time(|| {
        let mut bytes = 0;
        for chunk in uids.chunks(BATCH) {
            let fetched = session.fetch_batch(chunk).expect("fetch_batch");
            assert_eq!(fetched.len(), chunk.len());
            bytes += fetched.iter().map(|(_, body)| body.len()).sum::<usize>();
        }
        bytes
    });
    report(
        &format!("batched fetch ({BATCH} per UID FETCH)"),
        count,
        batched,
    );
    let rss_after_batched = peak_rss_kib();

    let (single_bytes, single) = time(|| {
        let mut bytes = 0;
        for &uid in &uids {
            bytes += session
                .fetch_one(uid)
                .expect("fetch_one")
                .expect("exists")
                .len();
        }
        bytes
    });
    report("one UID FETCH per message", count, single);

    let (again_bytes, again) = time(|| {
        let mut bytes = 0;
        for chunk in uids.chunks(BATCH) {
            bytes += session
                .fetch_batch(chunk)
                .expect("fetch_batch")
                .iter()
                .map(|(_, body)| body.len())
                .sum::<usize>();
        }
        bytes
    });
    report("batched fetch again (warm caches)", count, again);

    assert_eq!(batched_bytes, single_bytes);
    assert_eq!(batched_bytes, again_bytes);
    assert_eq!(
        session.unseen_uids().expect("search unseen").len(),
        count,
        "fetching must not set \\Seen"
    );
    println!(
        "bytes fetched per pass: {batched_bytes}; batched is {:.1}x faster than one per message",
        single.as_secs_f64() / batched.as_secs_f64()
    );
    println!(
        "peak RSS (VmHWM): {} KiB after the batched pass, {} KiB at the end",
        rss_after_batched,
        peak_rss_kib()
    );
    session.logout().expect("logout");
}

fn time<T>(work: impl FnOnce() -> T) -> (T, Duration) {
    let started = Instant::now();
    let value = work();
    (value, started.elapsed())
}

fn report(what: &str, count: usize, took: Duration) {
    println!(
        "{what}: {count} reports in {:.2} s = {:.0} reports/s",
        took.as_secs_f64(),
        count as f64 / took.as_secs_f64()
    );
}

/// The peak resident set size of this process, from `/proc/self/status`.
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse().ok())
        })
        .unwrap_or(0)
}
