//! The parser never panics and never hangs: random and mutated messages.

use crate::support;
use fbl::attribution::{Attribution, NoSendLog};
use fbl::report_parser;
use proptest::prelude::*;

fn seeds() -> Vec<Vec<u8>> {
    let mut files: Vec<_> = std::fs::read_dir(support::fixtures().join("reports"))
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
    let config = fbl::config::Config::from_toml(
        r#"
[attribution]
verp = ["bounces+{local}={domain}@bounce.example.com", "b-{id}@bounce.example.com", "t-{token}@bounce.example.com"]
header = [
  { name = "X-Fbl-Rcpt", value = "address" },
  { name = "X-KumoRef", value = "base64_json", json_field = "recipient" },
  { name = "X-Fbl-Token", value = "token" },
]
token = { secret = "fbl-test-secret" }
"#,
    )
    .unwrap();
    Attribution::new(&config.attribution, Some(b"fbl-test-secret".to_vec())).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(raw in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = report_parser::analyse(&raw, &attribution(), &NoSendLog);
    }

    #[test]
    fn mutated_fixtures_never_panic(
        index in any::<prop::sample::Index>(),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..24),
    ) {
        let seeds = seeds();
        let mut raw = seeds[index.index(seeds.len())].clone();
        for (at, byte, op) in edits {
            if raw.is_empty() { break; }
            let i = at.index(raw.len());
            match op {
                0 => raw[i] = byte,
                1 => { raw.insert(i, byte); }
                2 => { raw.remove(i); }
                _ => { raw.truncate(i); }
            }
        }
        let report = report_parser::analyse(&raw, &attribution(), &NoSendLog);
        // Whatever came out must still be serialisable: the contract holds on any input.
        prop_assert!(serde_json::to_string(&report).is_ok());
    }
}
