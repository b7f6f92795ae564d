//! Integration tests, built as one binary from themed modules.

mod dovecot;
mod support;

mod cli;
mod config;
mod imap_client;
mod parse_golden;
mod parse_properties;
mod store;
