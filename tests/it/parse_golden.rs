//! Golden tests of the parser: every `fixtures/reports/NAME.eml` beside its `NAME.json`,
//! run with LF and with CRLF line ends. On a mismatch the actual output is written beside
//! the fixture as `NAME.actual.json`; `FBL_UPDATE_GOLDEN=1` rewrites the expectations.

use crate::support::{self, diff, to_crlf, to_lf};
use fbl::attribution::{Attribution, NoSendLog};
use fbl::config::Config;
use fbl::report_parser;

fn fixture_attribution() -> Attribution {
    let config = Config::load(&support::fixtures().join("reports/fbl.toml")).unwrap();
    let secret = config
        .attribution
        .token
        .as_ref()
        .map(|t| t.resolve().unwrap());
    Attribution::new(&config.attribution, secret).unwrap()
}

fn fixture_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(support::fixtures().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_fixture_parses_as_expected_with_lf_and_crlf() {
    let attribution = fixture_attribution();
    let mut cases = 0;
    let mut failures = Vec::new();
    for path in fixture_files() {
        let raw = std::fs::read(&path).unwrap();
        let expected_path = path.with_extension("json");
        let lf = to_lf(&raw);
        let got =
            serde_json::to_string_pretty(&report_parser::analyse(&lf, &attribution, &NoSendLog))
                .unwrap()
                + "\n";
        if support::updating_golden() {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        let actual_path = path.with_extension("actual.json");
        if got != expected {
            std::fs::write(&actual_path, &got).unwrap();
            failures.push(format!(
                "{} (LF):\n{}",
                path.display(),
                diff(&expected, &got)
            ));
        } else {
            let _ = std::fs::remove_file(&actual_path);
        }
        cases += 1;
        let crlf = to_crlf(&lf);
        let got_crlf =
            serde_json::to_string_pretty(&report_parser::analyse(&crlf, &attribution, &NoSendLog))
                .unwrap()
                + "\n";
        if got_crlf != expected {
            failures.push(format!(
                "{} (CRLF):\n{}",
                path.display(),
                diff(&expected, &got_crlf)
            ));
        }
        cases += 1;
    }
    assert!(
        cases >= 80,
        "only {cases} cases ran: fixtures/reports should hold at least 40 messages"
    );
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_fixture_output_matches_the_report_schema() {
    let attribution = fixture_attribution();
    let validator = support::schema("report.schema.json");
    let mut checked = 0;
    for path in fixture_files() {
        let raw = std::fs::read(&path).unwrap();
        let value =
            serde_json::to_value(report_parser::analyse(&raw, &attribution, &NoSendLog)).unwrap();
        let errors = support::schema_errors(&validator, &value);
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        checked += 1;
    }
    assert!(checked >= 40);
}

#[test]
fn the_report_schema_rejects_what_it_should() {
    let validator = support::schema("report.schema.json");
    let attribution = fixture_attribution();
    let path = fixture_files().into_iter().next().unwrap();
    let good = serde_json::to_value(report_parser::analyse(
        &std::fs::read(path).unwrap(),
        &attribution,
        &NoSendLog,
    ))
    .unwrap();
    for (field, bad) in [
        ("kind", serde_json::json!("spam")),
        ("source_ip", serde_json::json!("not-an-ip")),
        ("arrival_date", serde_json::json!("Tue, 10 Nov 2026")),
        ("recipients", serde_json::json!([{"via": "psychic"}])),
    ] {
        let mut value = good.clone();
        value[field] = bad;
        assert!(
            !support::schema_errors(&validator, &value).is_empty(),
            "{field} accepted"
        );
    }
    let mut value = good.clone();
    value["surprise"] = serde_json::json!(1);
    assert!(
        !support::schema_errors(&validator, &value).is_empty(),
        "unknown field accepted"
    );
}
