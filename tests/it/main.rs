//! Integration tests, built as one binary from themed modules.

mod dovecot;
mod postgres;
mod support;

mod cli;
mod config;
mod crash;
mod demo;
mod export;
mod faults;
mod forwarded_reports;
mod full_disk;
mod fuzz_regressions;
mod hostile;
mod http_server;
mod idn;
mod imap_client;
mod imap_poll;
mod parse_golden;
mod parse_properties;
mod progress;
mod quarantine_folder;
mod quarantine_release;
mod report;
mod report_fields;
mod report_html;
mod secrets;
mod sendlog_resume;
mod snds;
mod snds_accounts;
mod snds_client;
mod source_after;
mod store;
mod store_postgres;
mod trust_forgery;
mod unsubscribe_requests;
