//! Fuzzes the SNDS data and ipStatus parsers (CSV and JSON).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let zone = fbl::snds::DEFAULT_SNDS_ZONE;
    let _ = fbl::snds::parse_data_csv(&text, zone);
    let _ = fbl::snds::parse_ip_status_csv(&text);
    let _ = fbl::snds::parse_api_data(&text, Some("application/json"), zone);
    let _ = fbl::snds::parse_api_ip_status(&text, None);
});
