//! Integration tests, built as one binary from themed modules.

mod support;

mod cli;
mod config;
mod demo;
mod export;
mod parse_golden;
mod parse_properties;
mod secrets;
mod store;
