//! What the least an ingest must do costs on this machine, stage by stage, in CPU time
//! (user + system) per message: reading each file of a Maildir, hashing and compressing it,
//! parsing it, and the smallest SQLite store that keeps fbl's guarantees (every raw message
//! kept, once, by its SHA-256, committed in batches in WAL mode with fbl's pragmas; and,
//! as a second row, one suppression upserted per message by a random address).
//!
//! It answers "how far can fbl's ingest go on this machine with this design?": the sum of
//! the floors is the best any ingest of files into one SQLite file could do here, before
//! attribution, the suppression history, summaries and the report's JSON.
//! Everything runs on one thread; figures come from `getrusage`. BENCHMARKS.md, runs 9 and 20.
//!
//! Run 20 added: the SQLite settings as options (`--batch`, messages per transaction, default
//! fbl's; `--cache-kib`, the page cache, default fbl's 32 MiB; `--wal-autocheckpoint`, pages,
//! default SQLite's 1,000); the store with the raw messages kept uncompressed (no LZ4); and
//! the whole floor measured in one pass (read, hash, pack, parse, store with a suppression),
//! with fbl's parser, with mail-parser alone, and without LZ4, beside the sum of the stages.
//!
//! `cargo run --release --example ingest_floor -- MAILDIR [--limit N] [--store PATH] [--repeat R]
//!  [--batch N] [--cache-kib K] [--wal-autocheckpoint P]`

use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

/// The SQLite settings of the floor's store.
#[derive(Clone, Copy)]
struct Settings {
    /// Messages per transaction (`fbl ingest` commits `fbl::ingest::BATCH_SIZE`).
    batch: usize,
    /// Page cache in KiB (fbl's writer: 32 MiB).
    cache_kib: i64,
    /// `wal_autocheckpoint` in pages, if not SQLite's default (1,000).
    wal_autocheckpoint: Option<i64>,
}

/// What one pass of the store floor does besides storing.
#[derive(Clone, Copy, PartialEq)]
enum Parse {
    None,
    MailParser,
    Fbl,
}

/// One pass of the store floor: with a suppression per message or not, the raw message
/// packed with LZ4 (as fbl stores it) or kept as it is, and parsed or not.
#[derive(Clone, Copy)]
struct Pass {
    suppression: bool,
    lz4: bool,
    parse: Parse,
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut maildir = None;
    let mut limit = usize::MAX;
    let mut store = PathBuf::from("ingest-floor.sqlite");
    let mut repeat = 3;
    let mut settings = Settings {
        batch: fbl::ingest::BATCH_SIZE,
        cache_kib: 32768,
        wal_autocheckpoint: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--limit" => limit = args.next().expect("--limit N").parse()?,
            "--batch" => settings.batch = args.next().expect("--batch N").parse()?,
            "--cache-kib" => settings.cache_kib = args.next().expect("--cache-kib K").parse()?,
            "--wal-autocheckpoint" => {
                settings.wal_autocheckpoint =
                    Some(args.next().expect("--wal-autocheckpoint P").parse()?)
            }
            "--store" => store = PathBuf::from(args.next().expect("--store PATH")),
            "--repeat" => repeat = args.next().expect("--repeat R").parse()?,
            _ => maildir = Some(PathBuf::from(arg)),
        }
    }
    let maildir =
        maildir.expect("usage: ingest_floor MAILDIR [--limit N] [--store PATH] [--repeat R]");
    let files = list(&maildir, limit)?;
    let n = files.len();
    println!(
        "{n} messages from {}; transactions of {}, page cache {} KiB, wal_autocheckpoint {}",
        maildir.display(),
        settings.batch,
        settings.cache_kib,
        settings
            .wal_autocheckpoint
            .map_or("1000 (default)".to_string(), |p| p.to_string())
    );

    let bytes: usize = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len() as usize))
        .sum::<Result<_, _>>()?;
    // Each stage reads the files again, so that each is measured the same way; the read
    // alone is subtracted. The least of `repeat` runs of each stage is kept. A first pass,
    // not measured, brings the files into the page cache.
    for_each_file(&files, |_| Ok(()))?;
    let read = best(repeat, || for_each_file(&files, |_| Ok(())))?;
    let read_hash = best(repeat, || {
        for_each_file(&files, |raw| {
            std::hint::black_box(Sha256::digest(raw));
            Ok(())
        })
    })?;
    let read_pack = best(repeat, || {
        for_each_file(&files, |raw| {
            std::hint::black_box(fbl::store::pack(raw)?);
            Ok(())
        })
    })?;
    let read_parse = best(repeat, || {
        for_each_file(&files, |raw| {
            std::hint::black_box(fbl::report_parser::parse(raw));
            Ok(())
        })
    })?;
    let mime_only = mail_parser::MessageParser::default();
    let read_mail_parser = best(repeat, || {
        for_each_file(&files, |raw| {
            std::hint::black_box(mime_only.parse(raw));
            Ok(())
        })
    })?;
    let read_hash_pack = read_hash.plus(read_pack).minus(read);
    let pass = |suppression, lz4, parse| Pass {
        suppression,
        lz4,
        parse,
    };
    let mut store_bytes = Vec::new();
    let mut floor = |pass: Pass| -> anyhow::Result<Cpu> {
        let cpu = best(repeat, || store_floor(&files, &store, settings, pass))?;
        store_bytes.push(std::fs::metadata(&store)?.len());
        Ok(cpu)
    };
    let digest_store = floor(pass(false, true, Parse::None))?;
    let suppression_store = floor(pass(true, true, Parse::None))?;
    let suppression_store_raw = floor(pass(true, false, Parse::None))?;
    let whole_fbl = floor(pass(true, true, Parse::Fbl))?;
    let whole_mail_parser = floor(pass(true, true, Parse::MailParser))?;
    let whole_fbl_raw = floor(pass(true, false, Parse::Fbl))?;

    let per = |cpu: Cpu| cpu.per_message(n);
    let rows = [
        ("read the files (open, read, close)", per(read)),
        ("SHA-256", per(read_hash.minus(read))),
        ("LZ4 (fbl::store::pack)", per(read_pack.minus(read))),
        (
            "fbl's parser (report_parser::parse)",
            per(read_parse.minus(read)),
        ),
        (
            "  of which mail-parser alone, default settings",
            per(read_mail_parser.minus(read)),
        ),
        (
            "SQLite: the raw message kept once by its digest",
            per(digest_store.minus(read_hash_pack)),
        ),
        (
            "SQLite: the same, and one suppression upserted",
            per(suppression_store.minus(read_hash_pack)),
        ),
        (
            "SQLite: the same, the raw message not compressed",
            per(suppression_store_raw.minus(read_hash)),
        ),
    ];
    println!("average message {} bytes", bytes / n.max(1));
    println!("| stage | user µs | system µs | total µs |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, (user, system)) in rows {
        println!(
            "| {name} | {user:.1} | {system:.1} | {:.1} |",
            user + system
        );
    }
    let sum = per(suppression_store.plus(read_parse).minus(read));
    let total = sum.0 + sum.1;
    println!(
        "| the sum: read, hash, pack, parse, store with a suppression | {:.1} | {:.1} | {total:.1} |",
        sum.0, sum.1
    );
    println!(
        "at most {:.0} reports per CPU-second before attribution, history and summaries",
        1e6 / total
    );
    println!();
    println!(
        "The whole floor in one pass (read, hash, [pack,] [parse,] store with a suppression):"
    );
    println!("| pass | user µs | system µs | total µs | store MB |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    let whole = [
        ("LZ4, no parse", suppression_store, store_bytes[1]),
        ("no LZ4, no parse", suppression_store_raw, store_bytes[2]),
        ("LZ4, mail-parser alone", whole_mail_parser, store_bytes[4]),
        ("LZ4, fbl's parser (fbl's floor)", whole_fbl, store_bytes[3]),
        ("no LZ4, fbl's parser", whole_fbl_raw, store_bytes[5]),
    ];
    for (name, cpu, bytes) in whole {
        let (user, system) = per(cpu);
        println!(
            "| {name} | {user:.1} | {system:.1} | {:.1} | {:.1} |",
            user + system,
            bytes as f64 / 1e6
        );
    }
    Ok(())
}

/// The smallest store that keeps fbl's guarantees, filled from scratch.
fn store_floor(
    files: &[PathBuf],
    path: &Path,
    settings: Settings,
    pass: Pass,
) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -settings.cache_kib)?;
    if let Some(pages) = settings.wal_autocheckpoint {
        conn.pragma_update(None, "wal_autocheckpoint", pages)?;
    }
    let mime_only = mail_parser::MessageParser::default();
    conn.execute_batch(
        "CREATE TABLE reports (id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL UNIQUE,
             raw_packed BLOB NOT NULL, raw_size INTEGER NOT NULL);
         CREATE TABLE suppressions (address TEXT PRIMARY KEY COLLATE NOCASE,
             count INTEGER NOT NULL, last_report INTEGER NOT NULL) WITHOUT ROWID;",
    )?;
    for chunk in files.chunks(settings.batch.max(1)) {
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO reports (sha256, raw_packed, raw_size) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sha256) DO NOTHING",
            )?;
            let mut suppress = tx.prepare_cached(
                "INSERT INTO suppressions (address, count, last_report) VALUES (?1, 1, ?2)
                 ON CONFLICT (address) DO UPDATE SET count = count + 1,
                 last_report = excluded.last_report",
            )?;
            for file in chunk {
                let raw = std::fs::read(file)?;
                let digest = Sha256::digest(&raw);
                match pass.parse {
                    Parse::None => {}
                    Parse::MailParser => {
                        std::hint::black_box(mime_only.parse(&raw[..]));
                    }
                    Parse::Fbl => {
                        std::hint::black_box(fbl::report_parser::parse(&raw));
                    }
                }
                if pass.lz4 {
                    let packed = fbl::store::pack(&raw)?;
                    insert.execute(params![&digest[..], packed, raw.len() as i64])?;
                } else {
                    insert.execute(params![&digest[..], &raw[..], raw.len() as i64])?;
                }
                if pass.suppression {
                    // A complainant per message, at a random place in the list, as real
                    // complainants are.
                    let address = format!("{}@example.net", hex::encode(&digest[..8]));
                    suppress.execute(params![address, tx.last_insert_rowid()])?;
                }
            }
        }
        tx.commit()?;
    }
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

/// The message files of a Maildir, `new/` then `cur/`, in name order.
fn list(maildir: &Path, limit: usize) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for sub in ["new", "cur"] {
        let Ok(entries) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        let mut names: Vec<PathBuf> = entries
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<_, _>>()?;
        names.sort();
        files.extend(names);
    }
    files.truncate(limit);
    Ok(files)
}

/// CPU time of this process: user and system, in seconds.
#[derive(Clone, Copy)]
struct Cpu(f64, f64);

impl Cpu {
    fn now() -> Cpu {
        // SAFETY: getrusage writes into the struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
        let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        Cpu(seconds(usage.ru_utime), seconds(usage.ru_stime))
    }

    fn minus(self, other: Cpu) -> Cpu {
        Cpu(self.0 - other.0, self.1 - other.1)
    }

    fn plus(self, other: Cpu) -> Cpu {
        Cpu(self.0 + other.0, self.1 + other.1)
    }

    /// User and system microseconds per message.
    fn per_message(self, n: usize) -> (f64, f64) {
        let n = n.max(1) as f64;
        (self.0 * 1e6 / n, self.1 * 1e6 / n)
    }
}

/// The least CPU time (user + system) `work` takes in `runs` runs.
fn best(runs: usize, mut work: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Cpu> {
    let mut least: Option<Cpu> = None;
    for _ in 0..runs.max(1) {
        let before = Cpu::now();
        work()?;
        let took = Cpu::now().minus(before);
        if least.is_none_or(|l| took.0 + took.1 < l.0 + l.1) {
            least = Some(took);
        }
    }
    Ok(least.expect("at least one run"))
}

/// Reads every file and hands its bytes to `each`.
fn for_each_file(
    files: &[PathBuf],
    mut each: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for file in files {
        each(&std::fs::read(file)?)?;
    }
    Ok(())
}
