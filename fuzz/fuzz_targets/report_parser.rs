//! Fuzzes the report parser and attribution with every strategy configured.
#![no_main]

use fbl::attribution::{Attribution, NoSendLog};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn attribution() -> &'static Attribution {
    static ATTRIBUTION: OnceLock<Attribution> = OnceLock::new();
    ATTRIBUTION.get_or_init(|| {
        let config =
            fbl::config::Config::from_toml(include_str!("../../fixtures/reports/fbl.toml"))
                .expect("the fixture configuration parses");
        Attribution::new(&config.attribution, Some(b"fbl-test-secret".to_vec())).expect("valid")
    })
}

/// fbl runs mail-parser under `catch_unwind` and turns a panic there into a quarantined
/// message (`report_parser::parse`), so a panic inside mail-parser is handled, not a crash
/// of fbl. libFuzzer's panic hook aborts on any panic before it can unwind: this hook lets
/// the ones raised in mail-parser unwind to fbl's handler (among them a `debug_assert` that
/// fires on some corrupt MIME in the unoptimised builds of the smoke run) and leaves every
/// other panic to libFuzzer.
fn let_fbl_handle_mail_parser_panics() {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let libfuzzer = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let in_mail_parser = info
                .location()
                .is_some_and(|l| l.file().contains("/mail-parser-"));
            if !in_mail_parser {
                libfuzzer(info);
            }
        }));
    });
}

fuzz_target!(|data: &[u8]| {
    let_fbl_handle_mail_parser_panics();
    let report = fbl::report_parser::analyse(data, attribution(), &NoSendLog);
    // The output contract must hold on any input.
    serde_json::to_string(&report).expect("a report always serialises");
});
