//! Times `write_export` on 1,000,000 synthetic suppressions in every format, into
//! `std::io::sink()` and into a file written with `write_atomically` (buffered, fsynced),
//! reporting the best of three runs of each.
//! Run it in release: `cargo run --release --example export_bench`.

use std::io;
use std::time::{Duration, Instant};

use fbl::atomic_file::write_atomically;
use fbl::export::{AddressHash, ExportFormat, ExportOptions, write_export};
use fbl::suppression::Suppression;

const ENTRIES: usize = 1_000_000;

/// Timed runs per format and destination; the fastest is reported.
const RUNS: usize = 3;

const REASONS: [&str; 5] = ["complaint", "complaint", "unsubscribe", "manual", "bounce"];
const SOURCES: [&str; 5] = ["microsoft", "yahoo", "validity", "manual", "import"];

/// Entries sorted by address, as the store hands them over, with realistic field lengths.
fn synthetic_suppressions() -> Vec<Suppression> {
    (0..ENTRIES)
        .map(|i| {
            let day = 1 + i % 28;
            let second = i % 60;
            Suppression {
                address: format!("subscriber{i:07}@example{}.org", i % 97),
                reason: REASONS[i % REASONS.len()].to_owned(),
                source: SOURCES[i % SOURCES.len()].to_owned(),
                first_seen: format!("2026-10-{day:02}T08:30:{second:02}Z"),
                last_seen: format!("2026-11-{day:02}T19:12:{second:02}Z"),
                count: 1 + (i % 4) as u64,
                expires_at: (i % 10 == 0).then(|| format!("2027-11-{day:02}T00:00:00Z")),
                removed_at: None,
            }
        })
        .collect()
}

/// Counts the bytes going through, so the sink run can report a size.
struct CountingSink {
    bytes: u64,
}

impl io::Write for CountingSink {
    fn write(&mut self, buffer: &[u8]) -> io::Result<usize> {
        self.bytes += buffer.len() as u64;
        Ok(buffer.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The shortest of `runs` timings of `work`.
fn best_of(runs: usize, mut work: impl FnMut() -> io::Result<()>) -> io::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..runs {
        let clock = Instant::now();
        work()?;
        best = best.min(clock.elapsed());
    }
    Ok(best)
}

fn main() -> io::Result<()> {
    let started = Instant::now();
    let entries = synthetic_suppressions();
    eprintln!(
        "built {} entries in {:.2} s",
        entries.len(),
        started.elapsed().as_secs_f64()
    );
    let folder = tempfile::tempdir()?;

    let hashed = ExportOptions {
        hash: Some(AddressHash::Sha256),
    };
    let plain = ExportOptions::default();
    let mut runs: Vec<(String, ExportFormat, &ExportOptions)> = ExportFormat::ALL
        .into_iter()
        .map(|format| (format.to_string(), format, &plain))
        .collect();
    runs.push(("csv-sha256".to_owned(), ExportFormat::Csv, &hashed));
    runs.push(("plain-sha256".to_owned(), ExportFormat::Plain, &hashed));

    println!(
        "{:<14} {:>10} {:>10} {:>9} {:>10}",
        "format", "sink s", "file s", "MB", "sink MB/s"
    );
    let mut slowest = Duration::ZERO;
    for (name, format, options) in runs {
        // A first pass counts the bytes and warms the caches; the timed runs follow.
        let mut sink = CountingSink { bytes: 0 };
        let written = write_export(format, options, &entries, &mut sink)?.written;
        assert_eq!(written, ENTRIES as u64);

        // The best of several runs, as a shared machine makes single timings noisy.
        let io_sink_time = best_of(RUNS, || {
            write_export(format, options, &entries, io::sink())?;
            Ok(())
        })?;
        let path = folder
            .path()
            .join(format!("{name}.{}", format.file_extension()));
        let file_time = best_of(RUNS, || {
            write_atomically(&path, |out| write_export(format, options, &entries, out))?;
            Ok(())
        })?;
        assert_eq!(std::fs::metadata(&path)?.len(), sink.bytes);
        std::fs::remove_file(&path)?;

        slowest = slowest.max(file_time).max(io_sink_time);
        let megabytes = sink.bytes as f64 / 1e6;
        println!(
            "{name:<14} {:>10.3} {:>10.3} {megabytes:>9.1} {:>10.0}",
            io_sink_time.as_secs_f64(),
            file_time.as_secs_f64(),
            megabytes / io_sink_time.as_secs_f64(),
        );
    }
    println!("slowest: {:.3} s", slowest.as_secs_f64());
    Ok(())
}
