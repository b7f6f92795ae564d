//! Email addresses as fbl compares them: normalisation, validation and redaction tokens.

/// Trims an address taken from a header or field (angle brackets, quotes, `mailto:`,
/// trailing `; date` as in `X-Apparently-To`), lower-cases its domain and checks it.
/// Returns `None` when what is left is not a plausible `local@domain` address.
pub fn normalise(raw: &str) -> Option<String> {
    let mut text = raw.trim();
    // "Name <addr>" and "<addr>; Thu, 1 Jan ..." forms.
    if let Some(start) = text.rfind('<')
        && let Some(len) = text[start + 1..].find('>')
    {
        text = &text[start + 1..start + 1 + len];
    } else if let Some((first, _)) = text.split_once([';', ' ', ',']) {
        text = first;
    }
    let text = text.trim().trim_matches(['"', '\'']).trim();
    let text = text
        .strip_prefix("mailto:")
        .or_else(|| text.strip_prefix("MAILTO:"))
        .unwrap_or(text);
    let (local, domain) = text.rsplit_once('@')?;
    if local.is_empty()
        || local.len() > 64
        || domain.len() > 255
        || !domain.contains('.')
        || domain.starts_with('.')
        || domain.ends_with('.')
        || domain.contains("..")
    {
        return None;
    }
    let local_ok = local
        .chars()
        .all(|c| !c.is_control() && !c.is_whitespace() && !"<>()[]\\,;:\"".contains(c));
    let domain_ok = domain
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
    if !local_ok || !domain_ok {
        return None;
    }
    Some(format!("{local}@{}", domain.to_lowercase()))
}

/// Local parts providers put where they removed the complainant (RFC 6590): `redacted`,
/// `"undisclosed"`, `hashed@...`, and their friends.
const REDACTION_LOCAL_PARTS: [&str; 8] = [
    "redacted",
    "undisclosed",
    "undisclosed-recipients",
    "hashed",
    "anonymous",
    "anonymized",
    "removed",
    "xxxxx",
];

/// True when a value stands for a removed address rather than being one.
pub fn is_redaction_token(raw: &str) -> bool {
    let text = raw
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .trim_matches(['"', '\''])
        .trim();
    let lower = text.to_ascii_lowercase();
    if lower.is_empty() || lower == "redacted" || lower == "undisclosed" {
        return true;
    }
    let local = lower.split('@').next().unwrap_or("");
    let local = local.trim_end_matches(':').trim_matches('"');
    REDACTION_LOCAL_PARTS.contains(&local)
        || local.chars().all(|c| c == '*' || c == 'x')
        // AOL even redacts inside VERP: `bounces+123-redacted=aol.example@...`.
        || local
            .split(['-', '+', '.', '_', '='])
            .any(|piece| piece == "redacted")
}

/// The complainant address in `raw`, unless it is a redaction token or not an address.
pub fn complainant(raw: &str) -> Option<String> {
    if is_redaction_token(raw) {
        return None;
    }
    normalise(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_common_shapes() {
        assert_eq!(
            normalise(" <Jane@Example.ORG> ").as_deref(),
            Some("Jane@example.org")
        );
        assert_eq!(
            normalise("Jane <jane@example.org>").as_deref(),
            Some("jane@example.org")
        );
        assert_eq!(
            normalise("jane@example.org; Thu, 12 Nov 2026 10:00:00 +0000").as_deref(),
            Some("jane@example.org")
        );
        assert_eq!(
            normalise("mailto:a@b.example").as_deref(),
            Some("a@b.example")
        );
        assert_eq!(normalise("not an address"), None);
        assert_eq!(normalise("a@localhost"), None);
        assert_eq!(normalise("@example.org"), None);
    }

    #[test]
    fn knows_redaction_tokens() {
        for token in [
            "redacted",
            "redacted@aol.example",
            "\"undisclosed\"",
            "hashed@example.com",
            "<redacted@>",
            "xxxxx@example.com",
            "123-redacted@aol.example",
        ] {
            assert!(is_redaction_token(token), "{token}");
            assert_eq!(complainant(token), None, "{token}");
        }
        assert!(!is_redaction_token("jane@example.org"));
    }
}
