//! Fuzzes the report parser and attribution with every strategy configured.
#![no_main]

use fbl::attribution::{Attribution, NoSendLog};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn attribution() -> &'static Attribution {
    static ATTRIBUTION: OnceLock<Attribution> = OnceLock::new();
    ATTRIBUTION.get_or_init(|| {
        let config = fbl::config::Config::from_toml(include_str!("../../fixtures/reports/fbl.toml"))
            .expect("the fixture configuration parses");
        Attribution::new(&config.attribution, Some(b"fbl-test-secret".to_vec())).expect("valid")
    })
}

fuzz_target!(|data: &[u8]| {
    let report = fbl::report_parser::analyse(data, attribution(), &NoSendLog);
    // The output contract must hold on any input.
    serde_json::to_string(&report).expect("a report always serialises");
});
