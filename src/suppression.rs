//! The suppression list's values and policy: which report kinds suppress whom, for what
//! reason, until when. Pure: no IO, no clock (`now` is passed in).

use serde::{Deserialize, Serialize};

/// One entry of the suppression list, as the store keeps it and the exports write it.
/// Times are RFC 3339 UTC strings (`2026-11-28T01:49:26Z`), which sort as they read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suppression {
    /// Normalised: trimmed, domain lower-cased.
    pub address: String,
    /// `complaint`, `unsubscribe`, `manual`, `import`, ...
    pub reason: String,
    /// A reporter (`microsoft`, `yahoo`, ...), `manual` or `import`.
    pub source: String,
    pub first_seen: String,
    pub last_seen: String,
    /// How many reports or actions confirmed it.
    pub count: u64,
    pub expires_at: Option<String>,
    /// Set only in incremental exports: when the address was taken off the list.
    pub removed_at: Option<String>,
}
