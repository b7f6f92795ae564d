//! Replays what the fuzz targets (fuzz/fuzz_targets/) run, on every fixture and every input
//! that once broke a target (fixtures/fuzz-regressions/), within the normal test run.

use crate::support::fixtures;
use fbl::attribution::{Attribution, NoSendLog};
use fbl::sendlog::{ReadOptions, SendLogFormat, read_send_log};
use std::path::PathBuf;

fn files(folders: &[&str], extensions: &[&str]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(fixtures().join(folder)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if name == "README.md" || name.starts_with('.') {
                continue;
            }
            if extensions.is_empty() || extensions.iter().any(|e| name.ends_with(e)) {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

#[test]
fn report_parser_target_inputs_parse() {
    let config = fbl::config::Config::load(&fixtures().join("reports/fbl.toml")).unwrap();
    let attribution =
        Attribution::new(&config.attribution, Some(b"fbl-test-secret".to_vec())).unwrap();
    let inputs = files(
        &["reports", "fuzz-regressions/report_parser"],
        &[".eml", ""],
    );
    assert!(inputs.len() >= 40);
    for path in inputs.iter().filter(|p| {
        !p.extension()
            .is_some_and(|e| e == "json" || e == "toml" || e == "md")
    }) {
        let report =
            fbl::report_parser::analyse(&std::fs::read(path).unwrap(), &attribution, &NoSendLog);
        serde_json::to_string(&report).unwrap();
    }
}

#[test]
fn snds_target_inputs_parse() {
    let inputs = files(&["snds", "fuzz-regressions/snds"], &[]);
    assert!(inputs.len() >= 5);
    for path in inputs
        .iter()
        .filter(|p| !p.to_string_lossy().ends_with(".expected.json"))
    {
        let text = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
        let zone = fbl::zone::Zone::default_snds();
        let _ = fbl::snds::parse_data_csv(&text, &zone);
        let _ = fbl::snds::parse_ip_status_csv(&text);
        let _ = fbl::snds::parse_api_data(&text, Some("application/json"), &zone);
        let _ = fbl::snds::parse_api_ip_status(&text, None);
    }
}

#[test]
fn sendlog_target_inputs_read() {
    let inputs = files(&["sendlog", "fuzz-regressions/sendlog"], &[]);
    assert!(inputs.len() >= 4);
    for path in inputs
        .iter()
        .filter(|p| !p.to_string_lossy().ends_with(".expected.jsonl"))
    {
        let data = std::fs::read(path).unwrap();
        for format in [
            SendLogFormat::Csv,
            SendLogFormat::Jsonl,
            SendLogFormat::Postfix,
        ] {
            for entry in read_send_log(format, &data[..], &ReadOptions::utc(2026)).take(10_000) {
                let _ = entry;
            }
        }
    }
}
