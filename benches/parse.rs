//! Micro-benchmarks of the pure core: parsing and attributing the fixture mix, in reports
//! per second. Run: `cargo bench --bench parse`. Method and figures: BENCHMARKS.md.

use fbl::attribution::{Attribution, NoSendLog};
use fbl::config::Config;
use std::path::PathBuf;

fn main() {
    divan::main();
}

fn fixtures() -> Vec<Vec<u8>> {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports");
    let mut files: Vec<_> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect()
}

fn attribution() -> Attribution {
    let config =
        Config::load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports/fbl.toml"))
            .unwrap();
    let secret = config
        .attribution
        .token
        .as_ref()
        .map(|t| t.resolve().unwrap());
    Attribution::new(&config.attribution, secret).unwrap()
}

/// Parse only, every fixture once per iteration; throughput counts reports.
#[divan::bench]
fn parse_fixture_mix(bencher: divan::Bencher) {
    let messages = fixtures();
    bencher
        .counter(divan::counter::ItemsCount::new(messages.len()))
        .bench(|| {
            for raw in &messages {
                divan::black_box(fbl::report_parser::parse(divan::black_box(raw)));
            }
        });
}

/// Parse and attribute (no send log), as `fbl parse` does.
#[divan::bench]
fn parse_and_attribute_fixture_mix(bencher: divan::Bencher) {
    let messages = fixtures();
    let attribution = attribution();
    bencher
        .counter(divan::counter::ItemsCount::new(messages.len()))
        .bench(|| {
            for raw in &messages {
                divan::black_box(fbl::report_parser::analyse(
                    divan::black_box(raw),
                    &attribution,
                    &NoSendLog,
                ));
            }
        });
}
