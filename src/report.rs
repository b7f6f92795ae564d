//! The parsed form of one feedback message: the public contract printed by `fbl parse`.
//!
//! Field names follow RFC 5965 and are fixed: `schemas/report.schema.json` describes them
//! and a test validates every fixture's output against it.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What a message is, as far as acting on it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// abuse, fraud, virus, other and unknown feedback types.
    Complaint,
    NotSpam,
    /// An unsubscribe request such as Apple iCloud's one-click unsubscribe mail.
    Unsubscribe,
    /// DMARC/DKIM/SPF failure reports (RFC 6591).
    AuthFailure,
    /// Delivery status notifications (RFC 3464).
    Bounce,
    NotAReport,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Complaint,
        Kind::NotSpam,
        Kind::Unsubscribe,
        Kind::AuthFailure,
        Kind::Bounce,
        Kind::NotAReport,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Complaint => "complaint",
            Kind::NotSpam => "not_spam",
            Kind::Unsubscribe => "unsubscribe",
            Kind::AuthFailure => "auth_failure",
            Kind::Bounce => "bounce",
            Kind::NotAReport => "not_a_report",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// The wire shape the report arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// RFC 5965 `multipart/report; report-type=feedback-report`.
    Arf,
    /// Microsoft's pre-June-2026 multipart/mixed JMRP report.
    JmrpLegacy,
    /// A complaint forwarded without ARF (Amazon SES and the like).
    Forwarded,
    None,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Arf => "arf",
            Format::JmrpLegacy => "jmrp_legacy",
            Format::Forwarded => "forwarded",
            Format::None => "none",
        }
    }
}

/// Who sent the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reporter {
    Microsoft,
    Yahoo,
    Aol,
    Validity,
    AmazonSes,
    Apple,
    Other,
}

impl Reporter {
    pub fn as_str(self) -> &'static str {
        match self {
            Reporter::Microsoft => "microsoft",
            Reporter::Yahoo => "yahoo",
            Reporter::Aol => "aol",
            Reporter::Validity => "validity",
            Reporter::AmazonSes => "amazon_ses",
            Reporter::Apple => "apple",
            Reporter::Other => "other",
        }
    }
}

/// How a complainant was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    OriginalRcptTo,
    /// `Removal-Recipient` of an old-draft `opt-out` report: the address to unsubscribe.
    RemovalRecipient,
    JmrpOriginalRecipient,
    Header,
    Verp,
    Token,
    SendLog,
    CfblFeedbackId,
    XApparentlyTo,
    DeliveredTo,
    To,
    /// The sender of an unsubscribe request (Apple iCloud one-click unsubscribe mail).
    From,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::OriginalRcptTo => "original_rcpt_to",
            Via::RemovalRecipient => "removal_recipient",
            Via::JmrpOriginalRecipient => "jmrp_original_recipient",
            Via::Header => "header",
            Via::Verp => "verp",
            Via::Token => "token",
            Via::SendLog => "send_log",
            Via::CfblFeedbackId => "cfbl_feedback_id",
            Via::XApparentlyTo => "x_apparently_to",
            Via::DeliveredTo => "delivered_to",
            Via::To => "to",
            Via::From => "from",
        }
    }
}

/// One complainant found in a report. `address` is absent when the sender's identifier
/// gave only an `id`, to be resolved through the send log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub id: Option<String>,
    pub via: Via,
}

/// Everything fbl knows about one message. Absent values are `null`, lists are `[]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub kind: Kind,
    pub format: Format,
    pub reporter: Reporter,
    /// Date of the report message itself (when the provider sent it), RFC 3339 UTC.
    pub report_date: Option<String>,
    pub feedback_type: Option<String>,
    pub user_agent: Option<String>,
    pub version: Option<String>,
    pub incidents: Option<u64>,
    pub original_envelope_id: Option<String>,
    pub original_mail_from: Option<String>,
    /// RFC 3339, UTC.
    pub arrival_date: Option<String>,
    pub reporting_mta: Option<String>,
    pub source_ip: Option<String>,
    pub source_port: Option<u16>,
    pub original_rcpt_to: Vec<String>,
    pub reported_domain: Vec<String>,
    pub reported_uri: Vec<String>,
    pub authentication_results: Vec<String>,
    /// Feedback-report fields fbl has no name for, by lower-cased field name.
    pub extensions: BTreeMap<String, Vec<String>>,
    /// Of the reported (original) message.
    pub message_id: Option<String>,
    pub subject: Option<String>,
    pub from: Option<String>,
    /// Of the reported message, RFC 3339 UTC.
    pub date: Option<String>,
    /// `CFBL-Feedback-ID` of the reported message (RFC 9477).
    pub feedback_id: Option<String>,
    pub headers_only: bool,
    /// For each field the report did not state but fbl derived: where it came from.
    pub derived: BTreeMap<String, String>,
    pub recipients: Vec<Recipient>,
    pub redacted: bool,
    /// Why no complainant was found, or what was rejected on the way (a forged token).
    pub attribution_notes: Vec<String>,
    pub error: Option<String>,
}

impl Report {
    pub fn empty(kind: Kind, format: Format, reporter: Reporter) -> Report {
        Report {
            kind,
            format,
            reporter,
            report_date: None,
            feedback_type: None,
            user_agent: None,
            version: None,
            incidents: None,
            original_envelope_id: None,
            original_mail_from: None,
            arrival_date: None,
            reporting_mta: None,
            source_ip: None,
            source_port: None,
            original_rcpt_to: Vec::new(),
            reported_domain: Vec::new(),
            reported_uri: Vec::new(),
            authentication_results: Vec::new(),
            extensions: BTreeMap::new(),
            message_id: None,
            subject: None,
            from: None,
            date: None,
            feedback_id: None,
            headers_only: false,
            derived: BTreeMap::new(),
            recipients: Vec::new(),
            redacted: false,
            attribution_notes: Vec::new(),
            error: None,
        }
    }

    /// Addresses of the complainants found, in order of strength, without repeats.
    pub fn recipient_addresses(&self) -> Vec<&str> {
        let mut seen: Vec<&str> = Vec::new();
        for recipient in &self.recipients {
            if let Some(address) = recipient.address.as_deref()
                && !seen.iter().any(|s| s.eq_ignore_ascii_case(address))
            {
                seen.push(address);
            }
        }
        seen
    }
}
