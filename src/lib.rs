//! fbl: turn mailbox-provider feedback (ARF, JMRP, SNDS) into suppressions, exports and reports.

pub mod oauth;
pub mod report;
pub mod snds;
pub mod snds_client;
pub mod suppression;
