//! Fuzzes the SNDS data and ipStatus parsers (CSV and JSON).
#![no_main]

use fbl::zone::Zone;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

static ZONE: LazyLock<Zone> = LazyLock::new(Zone::default_snds);

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let _ = fbl::snds::parse_data_csv(&text, &ZONE);
    let _ = fbl::snds::parse_ip_status_csv(&text);
    let _ = fbl::snds::parse_api_data(&text, Some("application/json"), &ZONE);
    let _ = fbl::snds::parse_api_ip_status(&text, None);
});
