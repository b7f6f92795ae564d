//! fbl: turn mailbox-provider feedback (ARF, JMRP, SNDS) into suppressions, exports and reports.

pub mod report;
pub mod sendlog;
pub mod suppression;
