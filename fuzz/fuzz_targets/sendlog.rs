//! Fuzzes the send-log readers: CSV, JSON Lines and Postfix logs.
#![no_main]

use fbl::sendlog::{ReadOptions, SendLogFormat, read_send_log};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for format in [
        SendLogFormat::Csv,
        SendLogFormat::Jsonl,
        SendLogFormat::Postfix,
    ] {
        for entry in read_send_log(format, data, &ReadOptions::utc(2026)).take(10_000) {
            let _ = entry;
        }
    }
});
