//! Placeholder until the send-log module lands from its branch.
use serde::{Deserialize, Serialize};
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendLogEntry {
    pub message_id: Option<String>,
    pub recipient: String,
    pub id: Option<String>,
    pub campaign: Option<String>,
    pub list: Option<String>,
    pub source_ip: Option<String>,
    pub sent_at: Option<String>,
}
