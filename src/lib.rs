//! fbl: turn mailbox-provider feedback (ARF, JMRP, SNDS) into suppressions, exports and reports.

pub mod address;
pub mod atomic_file;
pub mod attribution;
pub mod cli;
pub mod config;
pub mod derivation;
pub mod export;
pub mod header_block;
pub mod imap_client;
pub mod ingest;
pub mod mail_source;
pub mod report;
pub mod report_parser;
pub mod run;
pub mod sendlog;
pub mod store;
pub mod suppression;
pub mod token;
pub mod verp;
