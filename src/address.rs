//! Email addresses as fbl compares them: normalisation, validation and redaction tokens.
//!
//! An address fbl keeps is `local@domain` with a dot-atom local part (RFC 5322 `atext`, or
//! any non-ASCII character as RFC 6532 allows, between single dots) and a domain of at least
//! two labels of letters, digits and hyphens (Unicode letters and digits too, for IDNs). A
//! quoted local part (`"a b"@example.org`) and an address literal (`a@[192.0.2.1]`) are not
//! kept. Lengths are RFC 5321's, counted in UTF-8 bytes as on an SMTPUTF8 wire: local part at
//! most 64, domain at most 255 and each of its labels 1 to 63, the whole address at most 254.
//! An internationalised domain must fit in both its forms on the wire: as UTF-8 (SMTPUTF8) and
//! as A-labels (`xn--...`, as every other mail server sends it).
//!
//! An internationalised domain (IDN) comes in two forms: Unicode (U-labels, `bücher.de`, as a
//! subscriber typed it) and ASCII (A-labels, `xn--bcher-kva.de`, as most MTAs and reports
//! carry it). fbl keeps one: the Unicode form after UTS #46 processing (nontransitional, as
//! IDNA2008 and browsers do: mapped, lower-cased, NFC), so that both forms are one address.
//! A domain that is all ASCII and has no `xn--` label is only lower-cased, as before, without
//! the IDNA machinery.
//!
//! A local part is compared without letter case, as every large mailbox provider treats it.
//! The store compares ASCII letters without case (SQLite's `NOCASE`, PostgreSQL's citext in
//! the "C" collation) but no other letter, so fbl keeps a local part's characters beyond
//! ASCII lower-cased ([`canonical_local_part`]): `ÉLISE@` and `élise@` are one address.

use std::borrow::Cow;

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
    #[error(
        "the domain's last label is all digits: no top-level domain is, and an IP address is \
         no mail domain"
    )]
    NumericTopLevel,
    #[error(
        "the domain is not a valid internationalised domain name (IDNA, UTS #46): an xn-- label \
         does not decode, or it has a character a domain name cannot have"
    )]
    InvalidIdn,
    #[error(
        "in its ASCII form (xn-- labels, as most mail servers send it) the domain is longer than \
         255 bytes, a label longer than 63 or the address longer than 254"
    )]
    AsciiFormTooLong,
}

/// Trims an address taken from a header or field (angle brackets, quotes, `mailto:`,
/// trailing `; date` as in `X-Apparently-To`), lower-cases its domain and checks it.
/// Returns `None` when what is left is not an address fbl keeps (see [`parse`] for why).
pub fn normalise(raw: &str) -> Option<String> {
    parse(raw).ok()
}

/// What stands inside the last `<...>` of a header value (`Name <a@example.org>`,
/// `List <id.example.org>`), if it has one.
pub fn inside_angle_brackets(text: &str) -> Option<&str> {
    let start = text.rfind('<')?;
    let len = text[start + 1..].find('>')?;
    Some(&text[start + 1..start + 1 + len])
}

/// [`normalise`], saying why when the text is not an address fbl keeps.
pub fn parse(raw: &str) -> Result<String, Invalid> {
    let mut text = raw.trim();
    // "Name <addr>" and "<addr>; Thu, 1 Jan ..." forms.
    if let Some(inside) = inside_angle_brackets(text) {
        text = inside;
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

/// The form fbl keeps of a domain (see the module's documentation): lower-cased when it is
/// all ASCII without an `xn--` label (borrowed when it is already), else the Unicode form
/// UTS #46 gives (`XN--BCHER-KVA.de` and `ＢÜＣＨＥＲ.de` are `bücher.de`). `Err` when UTS #46
/// refuses it: an `xn--` label that does not decode, a character no domain name has.
/// Lengths and the characters of an ASCII domain are left to the caller.
pub fn canonical_domain(domain: &str) -> Result<Cow<'_, str>, Invalid> {
    if domain.is_ascii() && !has_a_label(domain) {
        return Ok(if domain.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(domain.to_ascii_lowercase())
        } else {
            Cow::Borrowed(domain)
        });
    }
    let (unicode, result) = idna::uts46::Uts46::new().to_unicode(
        domain.as_bytes(),
        idna::uts46::AsciiDenyList::EMPTY,
        idna::uts46::Hyphens::Allow,
    );
    match result {
        Ok(()) => Ok(Cow::Owned(unicode.into_owned())),
        Err(_) => Err(Invalid::InvalidIdn),
    }
}

/// Whether a label of an ASCII domain starts with the ACE prefix `xn--` (in any case).
fn has_a_label(domain: &str) -> bool {
    domain
        .split('.')
        .any(|label| label.len() >= 4 && label[..4].eq_ignore_ascii_case("xn--"))
}

/// The ASCII form of a canonical domain (A-labels, `xn--bcher-kva.de` for `bücher.de`);
/// borrowed when it is ASCII already. `None` when UTS #46 refuses it (an address left as it
/// was by the store's migration to canonical domains).
pub fn ascii_domain(domain: &str) -> Option<Cow<'_, str>> {
    if domain.is_ascii() {
        return Some(Cow::Borrowed(domain));
    }
    idna::uts46::Uts46::new()
        .to_ascii(
            domain.as_bytes(),
            idna::uts46::AsciiDenyList::EMPTY,
            idna::uts46::Hyphens::Allow,
            idna::uts46::DnsLength::Ignore,
        )
        .ok()
        .map(|ascii| Cow::Owned(ascii.into_owned()))
}

/// An address fbl keeps, written all in ASCII, as formats and servers that do not take
/// SMTPUTF8 need it: its domain as A-labels. `None` when the local part is not ASCII (no
/// ASCII form exists) or the domain has no ASCII form.
pub fn ascii_address(address: &str) -> Option<Cow<'_, str>> {
    if address.is_ascii() {
        return Some(Cow::Borrowed(address));
    }
    let (local, domain) = address.rsplit_once('@')?;
    if !local.is_ascii() {
        return None;
    }
    let domain = ascii_domain(domain)?;
    Some(Cow::Owned(format!("{local}@{domain}")))
}

/// An address with its domain as A-labels and its local part as it is (which may be UTF-8,
/// as an SMTPUTF8 client may send it so). `None` when its domain has no ASCII form.
pub fn ascii_domain_of(address: &str) -> Option<Cow<'_, str>> {
    let (local, domain) = address.rsplit_once('@')?;
    match ascii_domain(domain)? {
        Cow::Borrowed(_) => Some(Cow::Borrowed(address)),
        Cow::Owned(domain) => Some(Cow::Owned(format!("{local}@{domain}"))),
    }
}

/// The domain of a send-log recipient as fbl keeps it: [`canonical_domain`], or only
/// lower-cased when UTS #46 refuses it (a send log keeps what an MTA sent; such a recipient
/// attributes nothing to a suppressible address).
pub fn recipient_domain(domain: &str) -> String {
    canonical_domain(domain).map_or_else(|_| domain.to_lowercase(), Cow::into_owned)
}

/// The form fbl keeps of a local part: lower-cased (Unicode's lower-case mapping, a final
/// `Σ` becoming `ς` as a person types it) when it has a character beyond ASCII; an all-ASCII
/// local part as it came (the store compares ASCII letters without case, and lists written
/// before keep their spelling). Borrowed when nothing changes.
pub fn canonical_local_part(local: &str) -> Cow<'_, str> {
    if local.is_ascii() {
        return Cow::Borrowed(local);
    }
    let lower = local.to_lowercase();
    if lower == local {
        Cow::Borrowed(local)
    } else {
        Cow::Owned(lower)
    }
}

/// Checks an address taken out of its surroundings; puts its local part and its domain in
/// the form fbl keeps ([`canonical_local_part`], [`canonical_domain`]).
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
    let local = canonical_local_part(local);
    check_local_part(&local)?;
    if domain.is_empty() {
        return Err(Invalid::EmptyDomain);
    }
    let domain = canonical_domain(domain)?;
    check_canonical_domain(&domain)?;
    if local.len() + 1 + domain.len() > MAX_ADDRESS_BYTES {
        return Err(Invalid::TooLong);
    }
    if !domain.is_ascii() {
        // The A-label form is what a server without SMTPUTF8 sends: it must fit too.
        let ascii = ascii_domain(&domain).ok_or(Invalid::InvalidIdn)?;
        if local.len() + 1 + ascii.len() > MAX_ADDRESS_BYTES {
            return Err(Invalid::AsciiFormTooLong);
        }
    }
    Ok(format!("{local}@{domain}"))
}

/// Checks a domain in the form [`canonical_domain`] gives. An all-ASCII one must be letters,
/// digits, hyphens and dots in labels of RFC 1035's lengths. An internationalised one has had
/// its characters judged by UTS #46 (which takes what IDNA2008 takes: a Tamil virama, a
/// zero-width joiner where its context allows, and more that are not letters or digits); its
/// shape is checked on the Unicode form, and its A-label form (what a server without SMTPUTF8
/// sends) must be a domain of letters, digits and hyphens of RFC 1035's lengths.
pub fn check_canonical_domain(domain: &str) -> Result<(), Invalid> {
    if domain.is_ascii() {
        return check_domain(domain);
    }
    if domain.is_empty() {
        return Err(Invalid::EmptyDomain);
    }
    // Lengths are DNS's, of the A-label form (a label of 32 `ü` is 64 bytes of UTF-8 and 38
    // of A-label): only the labels' shape is checked here.
    for label in domain.split('.') {
        if label.is_empty() {
            return Err(Invalid::EmptyLabel);
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(Invalid::LabelEdgeHyphen);
        }
    }
    if !domain.contains('.') {
        return Err(Invalid::DotlessDomain);
    }
    let ascii = ascii_domain(domain).ok_or(Invalid::InvalidIdn)?;
    match check_domain(&ascii) {
        Ok(()) => Ok(()),
        Err(Invalid::DomainTooLong | Invalid::LabelTooLong) => Err(Invalid::AsciiFormTooLong),
        Err(other) => Err(other),
    }
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
    // RFC 3696 section 2: a top-level domain is never all-numeric (`a@192.0.2.1` is an IP
    // address written without its brackets, `a@example.123` a typo).
    if domain
        .rsplit('.')
        .next()
        .is_some_and(|top| top.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(Invalid::NumericTopLevel);
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

/// True when a value stands for a removed address rather than being one. A header value's
/// address is what counts (`Redacted <redacted@aol.example>`, `"undisclosed"
/// <undisclosed@example.net>`), as [`parse`] reads it, not the display name before it.
pub fn is_redaction_token(raw: &str) -> bool {
    let text = raw.trim();
    let text = inside_angle_brackets(text).unwrap_or(text);
    let text = text
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
    let (local, domain) = lower.rsplit_once('@').unwrap_or((&lower, ""));
    let local = local.trim_end_matches(':').trim_matches('"');
    REDACTION_LOCAL_PARTS.contains(&local)
        || local.is_empty()
        // A masked address (`j*******@outlook.com`, `ja****e@`, `j*e@`): a star is valid in
        // a local part, but no subscriber's address has one.
        || local.contains('*')
        // The same with hashes (`j###e@`): one `#` is a real, if rare, address's.
        || local.contains("##")
        // A digest in place of the address (`5f4dcc3b...@cable.example`): MD5, SHA-1 or
        // SHA-256 in hex.
        || (matches!(local.len(), 32 | 40 | 64) && local.bytes().all(|b| b.is_ascii_hexdigit()))
        // `.invalid` is reserved (RFC 2606): no mailbox is there.
        || domain == "invalid"
        || domain.trim_end_matches('.').ends_with(".invalid")
        // A redaction word as the domain's last label (`jane@example.net.redacted`): no
        // such top-level domain exists; `redacted.com` is a real domain.
        || domain.trim_end_matches('.').rsplit('.').next() == Some("redacted")
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

/// Whether `domain` is `parent` or a subdomain of it (case, a trailing dot and the form of
/// an internationalised domain aside: `xn--bcher-kva.de` is within `bücher.de`).
pub fn is_within(domain: &str, parent: &str) -> bool {
    is_within_compared(&compared_domain(domain), &compared_domain(parent))
}

/// A domain in the form `is_within` compares: trimmed, without its trailing dot, canonical
/// (or lower-cased when it is no valid domain). Worked out once, it can be held against
/// many parents with `is_within_compared`.
pub fn compared_domain(domain: &str) -> String {
    let text = domain.trim().trim_end_matches('.');
    canonical_domain(text).map_or_else(|_| text.to_ascii_lowercase(), Cow::into_owned)
}

/// `is_within` of two domains already in the form `compared_domain` gives.
pub fn is_within_compared(domain: &str, parent: &str) -> bool {
    domain == parent
        || (domain.len() > parent.len()
            && domain.ends_with(parent)
            && domain.as_bytes()[domain.len() - parent.len() - 1] == b'.')
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

    /// Two spellings of one mailbox that differ only in the case of letters beyond ASCII are
    /// one address: the store folds ASCII letters only, so fbl folds the others before it.
    #[test]
    fn a_local_part_beyond_ascii_is_kept_lower_cased() {
        for (raw, kept) in [
            ("ÉLISE@example.fr", "élise@example.fr"),
            ("Élise@Example.FR", "élise@example.fr"),
            ("élise@example.fr", "élise@example.fr"),
            ("ΔΗΜΗΤΡΗΣ@example.gr", "δημητρης@example.gr"),
            ("ПОЧТА@почта.рф", "почта@почта.рф"),
            ("Joe.ÉLISE@example.fr", "joe.élise@example.fr"),
            // An all-ASCII local part keeps its case: the store compares it without.
            ("Jane.Doe@example.org", "Jane.Doe@example.org"),
            // The Kelvin sign's lower case is an ASCII k.
            ("\u{212A}im@example.org", "kim@example.org"),
        ] {
            check(raw, Ok(kept));
        }
        // Every way of typing it is one address.
        assert_eq!(
            parse_typed("ÉLISE@example.fr"),
            parse_typed("élise@EXAMPLE.fr")
        );
        // A lower case longer than its capital counts in the limits: `İ` is two bytes, its
        // lower case (`i` and a combining dot) three.
        let local = "İ".repeat(22);
        assert_eq!(local.len(), 44);
        check(
            &format!("{local}@example.org"),
            Err(Invalid::LocalPartTooLong),
        );
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
            ("JOSÉ@EXÄMPLE.DE", "josé@exämple.de"),
            ("用户@例子.广告", "用户@例子.广告"),
            ("a@xn--exmple-cua.de", "a@exämple.de"),
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
            ("a@192.0.2.1", Invalid::NumericTopLevel),
            ("a@example.123", Invalid::NumericTopLevel),
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
    fn an_internationalised_domain_is_kept_in_its_unicode_form() {
        for (raw, kept) in [
            // A-labels, in any case, are decoded.
            ("user@xn--bcher-kva.de", "user@bücher.de"),
            ("User@XN--BCHER-KVA.DE", "User@bücher.de"),
            ("user@mail.xn--bcher-kva.de", "user@mail.bücher.de"),
            ("用户@xn--fsqu00a.xn--4rr70v", "用户@例子.广告"),
            // U-labels are mapped as UTS #46 does: case, full-width forms, NFC.
            ("user@BÜCHER.de", "user@bücher.de"),
            ("user@ＢＵＣＨＥＲ.de", "user@bucher.de"),
            ("user@ｂüｃｈｅｒ.de", "user@bücher.de"),
            ("user@bu\u{308}cher.de", "user@bücher.de"),
            // Nontransitional: ß stays ß (IDNA2008), it is not turned into ss.
            ("user@faß.de", "user@faß.de"),
            ("user@xn--fa-hia.de", "user@faß.de"),
        ] {
            check(raw, Ok(kept));
        }
        assert_eq!(
            parse_typed("user@xn--bcher-kva.de"),
            parse_typed("user@bücher.de")
        );
        assert_eq!(
            complainant("<user@xn--bcher-kva.de>").as_deref(),
            Some("user@bücher.de")
        );
        assert_eq!(
            domain_of("a@XN--BCHER-KVA.de").as_deref(),
            Some("bücher.de")
        );
        assert!(is_within("mail.xn--bcher-kva.de", "bücher.de"));
        assert!(is_within("mail.bücher.de", "XN--BCHER-KVA.DE"));
    }

    #[test]
    fn within_compared_domains_answers_as_is_within() {
        let domains = [
            "",
            ".",
            "com",
            "outlook.com",
            "mail.outlook.com",
            "notoutlook.com",
            "OUTLOOK.COM.",
            "x.outlook.com.example",
            "mail.xn--bcher-kva.de",
            "bücher.de",
            "a.bücher.de",
            "xn--zz.com",
            " live.com ",
        ];
        for domain in domains {
            for parent in domains {
                let (d, p) = (compared_domain(domain), compared_domain(parent));
                assert_eq!(
                    is_within_compared(&d, &p),
                    d == p || d.ends_with(&format!(".{p}")),
                    "{domain:?} in {parent:?}"
                );
            }
        }
        assert!(is_within_compared("mail.outlook.com", "outlook.com"));
        assert!(!is_within_compared("notoutlook.com", "outlook.com"));
    }

    /// A label's length limit (63) is its A-label form's: a label of 32 `ü` is 64 bytes of
    /// UTF-8 and 38 of A-label, a legal DNS name; 60 `ü` are too long in either form.
    #[test]
    fn an_idn_label_is_measured_in_its_a_label_form() {
        let long = "ü".repeat(32);
        let a_label = ascii_domain(&format!("{long}.de")).unwrap().into_owned();
        assert!(a_label.split('.').next().unwrap().len() <= 63, "{a_label}");
        let kept = format!("user@{long}.de");
        check(&kept, Ok(kept.as_str()));
        check(&format!("user@{a_label}"), Ok(kept.as_str()));
        let too_long = "ü".repeat(60);
        assert_eq!(
            parse(&format!("user@{too_long}.de")),
            Err(Invalid::AsciiFormTooLong)
        );
    }

    /// IDNA2008 takes characters that are neither letters nor digits (a Tamil or Devanagari
    /// virama, a zero-width non-joiner after one, an emoji kept by UTS #46): registered
    /// domains use them, and their A-label form was kept before fbl decoded A-labels.
    #[test]
    fn an_internationalised_domain_of_marks_and_joiners_is_kept_in_both_forms() {
        for (a_label, unicode) in [
            // .இந்தியா, India's Tamil ccTLD (viramas).
            ("user@example.xn--xkc2dl3a5ee0h", "user@example.இந்தியா"),
            // हिन्दी has a Devanagari virama.
            ("user@xn--j2bd4cyah0f.xn--h2brj9c", "user@हिन्दी.भारत"),
            // A zero-width non-joiner after a virama, where IDNA2008 allows it.
            ("user@xn--11b2ezcs70k.in", "user@क्\u{200C}ष.in"),
            ("user@xn--i-7iq.ws", "user@i❤.ws"),
        ] {
            check(a_label, Ok(unicode));
            check(unicode, Ok(unicode));
            assert_eq!(
                complainant(&format!("<{a_label}>")).as_deref(),
                Some(unicode),
                "{a_label}"
            );
        }
    }

    #[test]
    fn a_domain_uts_46_refuses_is_not_kept() {
        for raw in [
            // Not Punycode.
            "user@xn--.de",
            "user@xn--zz-.de",
            "user@xn--bcher-kva!.de",
            // Punycode of plain ASCII is not an A-label.
            "user@xn--bcher-.de",
            // A disallowed character.
            "user@bü\u{2028}cher.de",
        ] {
            assert!(parse(raw).is_err(), "{raw:?}");
        }
        check("user@xn--zz-.de", Err(Invalid::InvalidIdn));
        check("user@xn--bcher-kva!.de", Err(Invalid::InvalidIdn));
        assert!(Invalid::InvalidIdn.to_string().contains("xn--"));
    }

    #[test]
    fn an_ascii_domain_is_only_lower_cased() {
        for (raw, kept) in [
            ("a@Example.COM", "a@example.com"),
            ("a@exa-mple.org", "a@exa-mple.org"),
            ("a@sub.xn.example", "a@sub.xn.example"),
            ("a@xn-example.org", "a@xn-example.org"),
        ] {
            check(raw, Ok(kept));
        }
        assert!(matches!(
            canonical_domain("example.org"),
            Ok(Cow::Borrowed("example.org"))
        ));
        check("a@exa_mple.org", Err(Invalid::DomainCharacter));
    }

    #[test]
    fn the_ascii_form_of_an_address_has_a_labels() {
        assert_eq!(
            ascii_address("user@bücher.de").as_deref(),
            Some("user@xn--bcher-kva.de")
        );
        assert_eq!(
            ascii_address("User@example.org").as_deref(),
            Some("User@example.org")
        );
        assert_eq!(ascii_address("josé@bücher.de"), None);
        assert_eq!(ascii_address("josé@example.org"), None);
        assert_eq!(
            ascii_domain("例子.广告").as_deref(),
            Some("xn--fsqu00a.xn--4rr70v")
        );
    }

    #[test]
    fn an_idn_must_fit_in_its_ascii_form_too() {
        // 60 bytes in UTF-8, but 66 as the A-label xn--aaa...a-y9f.
        let label = "a".repeat(58) + "ü";
        check(&format!("a@{label}.de"), Err(Invalid::AsciiFormTooLong));
        // 57 bytes in UTF-8, 63 as an A-label: the most.
        let label = "a".repeat(55) + "ü";
        assert_eq!(ascii_domain(&label).unwrap().len(), 63);
        check(&format!("a@{label}.de"), Ok(&format!("a@{label}.de")));
        // The whole address: 252 bytes in UTF-8, 258 with A-labels.
        let domain = [
            "d".repeat(63),
            "d".repeat(63),
            "d".repeat(63),
            "a".repeat(50) + "ü",
        ]
        .join(".");
        let address = format!("abcdefg@{domain}");
        assert_eq!(address.len(), 252);
        check(&address, Err(Invalid::AsciiFormTooLong));
        check(&format!("ab@{domain}"), Ok(&format!("ab@{domain}")));
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
        for real in [
            "x@example.org",
            "xx@example.org",
            "xavier@example.org",
            "#hash@example.com",
            "jane@redacted.com",
            "jane@redacted.example.net",
        ] {
            assert!(!is_redaction_token(real), "{real}");
            assert_eq!(complainant(real).as_deref(), Some(real));
        }
        for mask in [
            "xxx@example.org",
            "***@example.org",
            "*@example.org",
            "j*e@example.org",
            "@example.org",
            "jane.doe@redacted.invalid",
            "j###e@example.org",
            "jane@example.net.redacted",
            "5f4dcc3b5aa765d61d8327deb882cf99@cable.example",
            "2fd4e1c67a2d28fced849ee1bb76e7391b93eb12@cable.example",
        ] {
            assert!(is_redaction_token(mask), "{mask}");
            assert_eq!(complainant(mask), None, "{mask}");
        }
        // A display name before the token: the address is what counts, both ways.
        for token in [
            "Redacted <redacted@aol.example>",
            "\"undisclosed\" <undisclosed@example.net>",
            "Hashed <hashed@cable.example>",
            "\"Redacted\" <redacted@example.net>",
            "Someone <>",
        ] {
            assert!(is_redaction_token(token), "{token}");
            assert_eq!(complainant(token), None, "{token}");
        }
        for real in [
            "Redacted Person <jane@example.org>",
            "\"Hashed, Anna\" <anna@example.org>",
            "deadbeef@example.org",
        ] {
            assert!(!is_redaction_token(real), "{real}");
            assert!(complainant(real).is_some(), "{real}");
        }
    }
}
