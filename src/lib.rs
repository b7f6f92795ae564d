//! fbl: turn mailbox-provider feedback (ARF, JMRP, SNDS) into suppressions, exports and reports.

pub mod atomic_file;
pub mod export;
pub mod report;
pub mod suppression;
