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

use crate::config::{Action, SuppressionConfig};
use crate::report::Kind;

/// The suppression reason a report of this kind gives, or `None` when it suppresses nobody.
/// `not_spam`, `auth_failure`, `bounce` and `not_a_report` never suppress.
pub fn reason_for(kind: Kind, policy: &SuppressionConfig) -> Option<&'static str> {
    match kind {
        Kind::Complaint if policy.complaint == Action::Suppress => Some("complaint"),
        Kind::Unsubscribe if policy.unsubscribe == Action::Suppress => Some("unsubscribe"),
        _ => None,
    }
}

/// The reasons fbl gives or knows (a report's, `suppress add`'s and `import`'s defaults, and
/// the SES export's `BOUNCE`), in the lower case fbl keeps them in.
pub const KNOWN_REASONS: [&str; 5] = ["complaint", "unsubscribe", "bounce", "manual", "import"];

/// A reason as it comes in (`suppress add --reason`, an import's `reason` cell, an SES
/// list's `COMPLAINT`): one of fbl's own reasons in any letter case is kept in lower case, so
/// that `Unsubscribe` gets the expiry `unsubscribe` has and ranks as one; any other reason is
/// free text, kept as written.
pub fn fold_reason(reason: String) -> String {
    match KNOWN_REASONS
        .iter()
        .find(|known| reason.eq_ignore_ascii_case(known))
    {
        Some(known) => (*known).to_string(),
        None => reason,
    }
}

/// When a suppression for `reason` first seen at `seen_at` (RFC 3339) expires, if ever.
/// Reasons are compared without letter case (the configuration's keys are lower case).
pub fn expiry(reason: &str, seen_at: &str, policy: &SuppressionConfig) -> Option<String> {
    let days = *policy.expire_after_days.get(&reason.to_lowercase())?;
    let seen = chrono::DateTime::parse_from_rfc3339(seen_at).ok()?;
    let expires = seen.with_timezone(&chrono::Utc) + chrono::Duration::days(days as i64);
    Some(expires.format("%Y-%m-%dT%H:%M:%SZ").to_string())
}

/// A reason as it is kept: each run of control characters (tab, CR, LF, the other C0 and C1
/// controls, DEL) and line or paragraph separators replaced by one space, then trimmed; and
/// whether anything was replaced. A reason is printed in tab-separated lines (`fbl suppress
/// list`, `check`), where such a character would start a field or a row of its own.
pub fn clean_reason(reason: &str) -> (String, bool) {
    let mut clean = String::with_capacity(reason.len());
    let mut replaced = false;
    let mut in_run = false;
    for c in reason.chars() {
        if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
            replaced = true;
            if !in_run {
                clean.push(' ');
            }
            in_run = true;
        } else {
            clean.push(c);
            in_run = false;
        }
    }
    (clean.trim().to_string(), replaced)
}

/// A field of a tab-separated line as printed: control characters, separators and the
/// backslash escaped (`\t`, `\n`, `\u{1b}`, `\\`), so that a reason kept before fbl cleaned
/// them cannot start a field or a row of its own.
pub fn escape_field(field: &str) -> std::borrow::Cow<'_, str> {
    let special = |c: char| c.is_control() || c == '\\' || c == '\u{2028}' || c == '\u{2029}';
    if !field.contains(special) {
        return std::borrow::Cow::Borrowed(field);
    }
    let mut escaped = String::with_capacity(field.len() + 8);
    for c in field.chars() {
        if special(c) {
            escaped.extend(c.escape_debug());
        } else {
            escaped.push(c);
        }
    }
    std::borrow::Cow::Owned(escaped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_lose_control_characters_and_fields_escape_them() {
        assert_eq!(
            clean_reason("complained\tvia phone\r\nvictim@example.org"),
            ("complained via phone victim@example.org".to_string(), true)
        );
        assert_eq!(
            clean_reason(" asked\u{7f}\u{85} twice\n"),
            ("asked  twice".to_string(), true)
        );
        assert_eq!(
            clean_reason("plain reason"),
            ("plain reason".to_string(), false)
        );
        assert_eq!(clean_reason("\u{1}\u{2}"), (String::new(), true));
        assert_eq!(escape_field("plain"), "plain");
        assert_eq!(
            escape_field("a\tb\nc\r\u{1b}\\d"),
            "a\\tb\\nc\\r\\u{1b}\\\\d"
        );
    }

    #[test]
    fn only_complaints_and_unsubscribes_suppress_by_default() {
        let policy = SuppressionConfig::default();
        assert_eq!(reason_for(Kind::Complaint, &policy), Some("complaint"));
        assert_eq!(reason_for(Kind::Unsubscribe, &policy), Some("unsubscribe"));
        for kind in [
            Kind::NotSpam,
            Kind::AuthFailure,
            Kind::Bounce,
            Kind::NotAReport,
        ] {
            assert_eq!(reason_for(kind, &policy), None, "{kind:?}");
        }
    }

    #[test]
    fn expiry_is_never_unless_configured() {
        let mut policy = SuppressionConfig::default();
        assert_eq!(expiry("complaint", "2026-11-01T00:00:00Z", &policy), None);
        policy.expire_after_days.insert("unsubscribe".into(), 30);
        assert_eq!(
            expiry("unsubscribe", "2026-11-01T00:00:00Z", &policy).as_deref(),
            Some("2026-12-01T00:00:00Z")
        );
        // Without letter case: a reason kept before fbl folded its case, or free text.
        assert_eq!(
            expiry("UNSUBSCRIBE", "2026-11-01T00:00:00Z", &policy).as_deref(),
            Some("2026-12-01T00:00:00Z")
        );
        policy.expire_after_days.insert("asked".into(), 1);
        assert_eq!(
            expiry("Asked", "2026-11-01T00:00:00Z", &policy).as_deref(),
            Some("2026-11-02T00:00:00Z")
        );
    }

    #[test]
    fn fbl_reasons_are_folded_to_lower_case_and_other_reasons_kept() {
        assert_eq!(fold_reason("Unsubscribe".into()), "unsubscribe");
        assert_eq!(fold_reason("COMPLAINT".into()), "complaint");
        assert_eq!(fold_reason("Bounce".into()), "bounce");
        assert_eq!(fold_reason("Manual".into()), "manual");
        assert_eq!(fold_reason("IMPORT".into()), "import");
        assert_eq!(fold_reason("Asked by phone".into()), "Asked by phone");
    }
}
