//! Email addresses as fbl compares them: normalisation, validation and redaction tokens.
//!
//! An address fbl keeps is `local@domain` with a dot-atom local part (RFC 5322 `atext`, or
//! any non-ASCII character as RFC 6532 allows, between single dots) and a domain of at least
//! two labels of letters, digits and hyphens (Unicode letters and digits too, for IDNs). A
//! quoted local part (`"a b"@example.org`) and an address literal (`a@[192.0.2.1]`) are not
//! kept. Lengths are RFC 5321's, counted in UTF-8 bytes as on an SMTPUTF8 wire: local part at
//! most 64, domain at most 255 and each of its labels 1 to 63, the whole address at most 254.

/// The longest local part (RFC 5321, 4.5.3.1.1).
const MAX_LOCAL_PART_BYTES: usize = 64;
/// The longest domain (RFC 5321, 4.5.3.1.2).
const MAX_DOMAIN_BYTES: usize = 255;
/// The longest domain label (RFC 1035, 2.3.4).
const MAX_LABEL_BYTES: usize = 63;
/// The longest address: a path is at most 256 bytes with its angle brackets (RFC 5321,
/// 4.5.3.1.3, and its erratum 1690).
const MAX_ADDRESS_BYTES: usize = 254;

/// Why a text is not an address fbl keeps. The text says it to the person who typed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    #[error("it has no @")]
    NoAt,
    #[error("it has more than one @")]
    MoreThanOneAt,
    #[error("a quoted local part is not accepted")]
    QuotedLocalPart,
    #[error("the part before the @ is empty")]
    EmptyLocalPart,
    #[error("the part before the @ is longer than 64 bytes")]
    LocalPartTooLong,
    #[error("the part before the @ starts or ends with a dot")]
    LocalPartEdgeDot,
    #[error("the part before the @ has two dots in a row")]
    LocalPartDoubleDot,
    #[error(
        "the part before the @ has a space, a control or invisible character, or one of ()<>[]\\,;:"
    )]
    LocalPartCharacter,
    #[error("the domain is empty")]
    EmptyDomain,
    #[error("the domain has no dot")]
    DotlessDomain,
    #[error("the domain is longer than 255 bytes")]
    DomainTooLong,
    #[error("the domain starts or ends with a dot, or has two dots in a row")]
    EmptyLabel,
    #[error("a label of the domain is longer than 63 bytes")]
    LabelTooLong,
    #[error("a label of the domain starts or ends with a hyphen")]
    LabelEdgeHyphen,
    #[error("the domain has a character other than letters, digits, hyphens and dots")]
    DomainCharacter,
    #[error("it is longer than 254 bytes")]
    TooLong,
}

/// Trims an address taken from a header or field (angle brackets, quotes, `mailto:`,
/// trailing `; date` as in `X-Apparently-To`), lower-cases its domain and checks it.
/// Returns `None` when what is left is not an address fbl keeps (see [`parse`] for why).
pub fn normalise(raw: &str) -> Option<String> {
    parse(raw).ok()
}

/// [`normalise`], saying why when the text is not an address fbl keeps.
pub fn parse(raw: &str) -> Result<String, Invalid> {
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
    check(text)
}

/// An address a person typed or a list gave (`suppress add`, `import`, `check`): checked as
/// [`parse`] does, but nothing of it is cut away. Only white space around it, and `<...>`
/// (with a display name before it) or `mailto:` around the whole of it, are taken off: a
/// leading `'` is part of the address, and `a@example.org, b@example.org` is not an address.
pub fn parse_typed(raw: &str) -> Result<String, Invalid> {
    let mut text = raw.trim();
    // A list's own separator after the one address (`a@example.org,`).
    text = text.strip_suffix([',', ';']).unwrap_or(text).trim_end();
    if let Some(inside) = text.strip_suffix('>')
        && let Some(start) = inside.rfind('<')
    {
        text = inside[start + 1..].trim();
    }
    // Quotes around the whole value, as a spreadsheet writes it (`"a@example.org"`); a quoted
    // local part (`"a b"@example.org`) is left for `check` to refuse.
    if let Some(inside) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
        && !inside.contains('"')
    {
        text = inside.trim();
    }
    check(text)
}

/// Checks an address taken out of its surroundings; lower-cases its domain.
fn check(text: &str) -> Result<String, Invalid> {
    let text = text
        .strip_prefix("mailto:")
        .or_else(|| text.strip_prefix("MAILTO:"))
        .unwrap_or(text);
    let (local, domain) = text.split_once('@').ok_or(Invalid::NoAt)?;
    // Quotes are looked for first: `"a@b"@example.org` is quoted, not two @.
    if local.contains('"') || domain.contains('"') {
        return Err(Invalid::QuotedLocalPart);
    }
    if domain.contains('@') {
        return Err(Invalid::MoreThanOneAt);
    }
    check_local_part(local)?;
    let domain = domain.to_lowercase();
    check_domain(&domain)?;
    if local.len() + 1 + domain.len() > MAX_ADDRESS_BYTES {
        return Err(Invalid::TooLong);
    }
    Ok(format!("{local}@{domain}"))
}

/// Checks an unquoted local part: a dot-atom of `atext` and non-ASCII characters, at most 64
/// bytes. Also used for the send log's recipients.
pub fn check_local_part(local: &str) -> Result<(), Invalid> {
    if local.is_empty() {
        return Err(Invalid::EmptyLocalPart);
    }
    if local.len() > MAX_LOCAL_PART_BYTES {
        return Err(Invalid::LocalPartTooLong);
    }
    if local.starts_with('.') || local.ends_with('.') {
        return Err(Invalid::LocalPartEdgeDot);
    }
    if local.contains("..") {
        return Err(Invalid::LocalPartDoubleDot);
    }
    // What RFC 5322 `atext` leaves out of printable ASCII, besides the dot and the quote
    // looked at above; non-ASCII is allowed (RFC 6532) unless it cannot be seen.
    let forbidden = |c: char| {
        c.is_control() || c.is_whitespace() || is_invisible(c) || "@<>()[]\\,;:\"".contains(c)
    };
    if local.contains(forbidden) {
        return Err(Invalid::LocalPartCharacter);
    }
    Ok(())
}

/// Format characters that show nothing and would make two addresses look the same: the
/// byte order mark (a list saved by a spreadsheet starts with one), zero-width spaces and
/// joiners, direction marks and embeddings, the soft hyphen.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Checks a lower-cased domain: at least two labels of letters, digits and hyphens.
fn check_domain(domain: &str) -> Result<(), Invalid> {
    if domain.is_empty() {
        return Err(Invalid::EmptyDomain);
    }
    check_domain_labels(domain)?;
    if !domain.contains('.') {
        return Err(Invalid::DotlessDomain);
    }
    if !domain
        .chars()
        .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
    {
        return Err(Invalid::DomainCharacter);
    }
    Ok(())
}

/// Checks a domain's length and labels: at most 255 bytes, labels of 1 to 63 bytes that
/// neither start nor end with a hyphen. Leaves the characters to the caller; also used for
/// the send log's recipients.
pub fn check_domain_labels(domain: &str) -> Result<(), Invalid> {
    if domain.len() > MAX_DOMAIN_BYTES {
        return Err(Invalid::DomainTooLong);
    }
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(Invalid::EmptyLabel);
        }
        if label.len() > MAX_LABEL_BYTES {
            return Err(Invalid::LabelTooLong);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(Invalid::LabelEdgeHyphen);
        }
    }
    Ok(())
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
        || local.chars().all(|c| c == '*')
        // A masked address (`j*******@outlook.com`, `ja****e@`): two stars in a row.
        || local.contains("**")
        // A mask of x's; `x@` and `xx@` are real (if rare) addresses.
        || (local.len() >= 3 && local.chars().all(|c| c == 'x'))
        // AOL even redacts inside VERP: `bounces+123-redacted=aol.example@...`.
        || local
            .split(['-', '+', '.', '_', '='])
            .any(|piece| piece == "redacted")
}

/// The domain of the address in a header value (`Name <a@example.org>`), lower-cased.
pub fn domain_of(raw: &str) -> Option<String> {
    let address = normalise(raw)?;
    address
        .rsplit_once('@')
        .map(|(_, domain)| domain.to_owned())
}

/// Whether `domain` is `parent` or a subdomain of it (case and a trailing dot aside).
pub fn is_within(domain: &str, parent: &str) -> bool {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let parent = parent.trim().to_ascii_lowercase();
    domain == parent || domain.ends_with(&format!(".{parent}"))
}

/// True for a `#` comment line of a plain address list (`suppress import`, `suppress check
/// -`). `#` is a valid first character of a local part, so a line that is an address is not a
/// comment: `#team@example.org`, as fbl's own exports write it, comes back on import.
pub fn is_comment_line(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('#') && parse_typed(line).is_err()
}

/// Splits an address-list header (To, Cc, ...) at the commas, and the semicolons some
/// clients write, outside quotes and angle brackets; trimmed, empty parts left out.
pub fn split_list(value: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    for (i, c) in value.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => {
                parts.push(&value[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&value[start..]);
    parts
        .into_iter()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect()
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
    #[test]
    fn a_typed_address_is_checked_whole() {
        assert_eq!(
            parse_typed(" 'tis@Example.COM ").unwrap(),
            "'tis@example.com"
        );
        assert_eq!(
            parse_typed("Jane Doe <jane@example.org>").unwrap(),
            "jane@example.org"
        );
        assert_eq!(
            parse_typed("mailto:a@example.org").unwrap(),
            "a@example.org"
        );
        assert_eq!(
            parse_typed("a1@example.org, b1@example.org"),
            Err(Invalid::MoreThanOneAt)
        );
        assert_eq!(
            parse_typed("a2@example.org;b2@example.org"),
            Err(Invalid::MoreThanOneAt)
        );
        assert_eq!(
            parse_typed("c@example.org garbage"),
            Err(Invalid::DomainCharacter)
        );
        assert_eq!(
            parse_typed("jane,doe@example.org"),
            Err(Invalid::LocalPartCharacter)
        );
        assert_eq!(
            parse_typed("a b@example.com"),
            Err(Invalid::LocalPartCharacter)
        );
        // What a list around one address adds.
        assert_eq!(
            parse_typed("\"quoted@example.org\"").unwrap(),
            "quoted@example.org"
        );
        assert_eq!(
            parse_typed("trailing@example.org,").unwrap(),
            "trailing@example.org"
        );
        assert_eq!(
            parse_typed("\"a b\"@example.org"),
            Err(Invalid::QuotedLocalPart)
        );
        // Header values keep their lenient reading.
        assert_eq!(parse("'tis@example.com'").unwrap(), "tis@example.com");
    }

    #[test]
    fn a_hash_line_is_a_comment_unless_it_is_an_address() {
        assert!(is_comment_line("# old list"));
        assert!(is_comment_line("  # commented@example.org"));
        assert!(is_comment_line("#"));
        assert!(!is_comment_line("#team@example.org"));
        assert!(!is_comment_line("a@example.org"));
        assert_eq!(parse("#team@example.org").unwrap(), "#team@example.org");
    }

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

    /// The address fbl keeps for `raw`, or why it keeps none.
    fn check(raw: &str, expected: Result<&str, Invalid>) {
        assert_eq!(parse(raw).as_deref(), expected.as_deref(), "{raw:?}");
    }

    #[test]
    fn keeps_valid_addresses_of_odd_shapes() {
        for (raw, kept) in [
            ("o'brien@example.ie", "o'brien@example.ie"),
            ("a+tag@example.com", "a+tag@example.com"),
            ("a.b.c@example.com", "a.b.c@example.com"),
            ("#hash@example.com", "#hash@example.com"),
            (
                "!#$%&'*+-/=?^_`{|}~@example.com",
                "!#$%&'*+-/=?^_`{|}~@example.com",
            ),
            ("JANE@EXAMPLE.COM", "JANE@example.com"),
            ("josé@exämple.de", "josé@exämple.de"),
            ("JOSÉ@EXÄMPLE.DE", "JOSÉ@exämple.de"),
            ("用户@例子.广告", "用户@例子.广告"),
            ("a@xn--exmple-cua.de", "a@xn--exmple-cua.de"),
            ("a@b-c.d-e.example", "a@b-c.d-e.example"),
            ("a@1.example", "a@1.example"),
            ("<a@b.example>", "a@b.example"),
        ] {
            check(raw, Ok(kept));
        }
    }

    #[test]
    fn refuses_invalid_addresses_and_says_why() {
        for (raw, why) in [
            ("a@b@c.com", Invalid::MoreThanOneAt),
            (".a@c.com", Invalid::LocalPartEdgeDot),
            ("a.@c.com", Invalid::LocalPartEdgeDot),
            ("a..b@c.com", Invalid::LocalPartDoubleDot),
            ("a@-bad-.com", Invalid::LabelEdgeHyphen),
            ("a@bad-.com", Invalid::LabelEdgeHyphen),
            ("a@example.-com", Invalid::LabelEdgeHyphen),
            ("no-at.example.com", Invalid::NoAt),
            ("@example.org", Invalid::EmptyLocalPart),
            ("a@", Invalid::EmptyDomain),
            ("a@localhost", Invalid::DotlessDomain),
            ("a@.example.org", Invalid::EmptyLabel),
            ("a@example..org", Invalid::EmptyLabel),
            ("a@example.org.", Invalid::EmptyLabel),
            ("a@exa_mple.org", Invalid::DomainCharacter),
            ("a@[192.0.2.1]", Invalid::DomainCharacter),
            ("\"a b\"@example.org", Invalid::NoAt),
            ("\"a@b\"@example.org", Invalid::QuotedLocalPart),
            ("x\"y@example.org", Invalid::QuotedLocalPart),
            ("a(b)@example.org", Invalid::LocalPartCharacter),
            ("a:b@example.org", Invalid::LocalPartCharacter),
            ("a\\b@example.org", Invalid::LocalPartCharacter),
            ("a\u{7f}@example.org", Invalid::LocalPartCharacter),
            ("\u{feff}a@example.org", Invalid::LocalPartCharacter),
            ("a\u{200b}b@example.org", Invalid::LocalPartCharacter),
            ("a\u{a0}b@example.org", Invalid::LocalPartCharacter),
        ] {
            check(raw, Err(why));
        }
    }

    #[test]
    fn lengths_are_rfc_5321_in_utf8_bytes() {
        let local = |n: usize| "l".repeat(n);
        let label = |n: usize| "d".repeat(n);
        check(
            &format!("{}@example.org", local(64)),
            Ok(&format!("{}@example.org", local(64))),
        );
        check(
            &format!("{}@example.org", local(65)),
            Err(Invalid::LocalPartTooLong),
        );
        // 32 two-byte characters are 64 bytes; one more is too many.
        check(
            &format!("{}@example.org", "é".repeat(32)),
            Ok(&format!("{}@example.org", "é".repeat(32))),
        );
        check(
            &format!("{}@example.org", "é".repeat(33)),
            Err(Invalid::LocalPartTooLong),
        );
        check(
            &format!("a@{}.org", label(63)),
            Ok(&format!("a@{}.org", label(63))),
        );
        check(&format!("a@{}.org", label(64)), Err(Invalid::LabelTooLong));
        // Four labels of 63 and three dots: a domain of 255 bytes, an address of 257.
        let domain_255 = [label(63), label(63), label(63), label(63)].join(".");
        check(&format!("a@{domain_255}"), Err(Invalid::TooLong));
        check(&format!("a@{domain_255}.org"), Err(Invalid::DomainTooLong));
        // 254 bytes in all is the most.
        let domain_250 = [label(63), label(63), label(63), label(58)].join(".");
        let longest = format!("abc@{domain_250}");
        assert_eq!(longest.len(), 254);
        check(&longest, Ok(&longest));
        check(&format!("abcd@{domain_250}"), Err(Invalid::TooLong));
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
        for real in ["x@example.org", "xx@example.org", "xavier@example.org"] {
            assert!(!is_redaction_token(real), "{real}");
            assert_eq!(complainant(real).as_deref(), Some(real));
        }
        for mask in [
            "xxx@example.org",
            "***@example.org",
            "*@example.org",
            "@example.org",
        ] {
            assert!(is_redaction_token(mask), "{mask}");
        }
    }
}
