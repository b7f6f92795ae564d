//! Which reports may suppress anyone. Anyone can mail the feedback address, so a report is
//! trusted only when it comes from a known feedback loop, by its From domain, and the
//! receiving server's own `Authentication-Results` (its `authserv-id`) shows a DKIM or DMARC
//! pass for that domain. Pure.

use crate::header_block::HeaderBlock;
use crate::report::Reporter;
use serde::{Deserialize, Serialize};

/// `[trust]`: present means enforced.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustConfig {
    /// The `authserv-id` your receiving server writes in `Authentication-Results` (the first
    /// word of the header). Only its results are believed; any other can be forged.
    pub authserv_id: String,
    /// The reporters whose reports may suppress. Default: every known feedback loop.
    #[serde(default = "default_reporters")]
    pub reporters: Vec<Reporter>,
    /// More sending domains to trust, beyond the built-in ones (e.g. an ISP's Validity
    /// feedback domain such as `feedback.comcast.net`, or a private feedback loop).
    #[serde(default)]
    pub extra_domains: Vec<String>,
}

fn default_reporters() -> Vec<Reporter> {
    vec![
        Reporter::Microsoft,
        Reporter::Yahoo,
        Reporter::Aol,
        Reporter::Validity,
        Reporter::AmazonSes,
        Reporter::Apple,
    ]
}

/// The domains each feedback loop sends from (and signs with).
pub fn reporter_domains(reporter: Reporter) -> &'static [&'static str] {
    match reporter {
        Reporter::Microsoft => &[
            "hotmail.com",
            "outlook.com",
            "live.com",
            "msn.com",
            "microsoft.com",
        ],
        Reporter::Yahoo => &["yahoo.com", "yahoo.net", "yahoo-inc.com", "yahoodns.net"],
        Reporter::Aol => &["aol.com", "aol.net", "yahoo.com", "verizonmedia.com"],
        Reporter::Validity => &[
            "returnpath.net",
            "validity.com",
            "comcast.net",
            "rackspace.com",
        ],
        Reporter::AmazonSes => &["amazonses.com", "amazon.com"],
        Reporter::Apple => &["icloud.com", "me.com", "mac.com", "apple.com"],
        Reporter::Other => &[],
    }
}

/// Mail domains where anyone can open an account whose mail the provider signs: a loop's
/// domain there proves nothing, only the loop's own address (or a subdomain of it, such as
/// `arf.mail.yahoo.com`, where nobody has a mailbox) does.
const CONSUMER_DOMAINS: [&str; 10] = [
    "hotmail.com",
    "outlook.com",
    "live.com",
    "msn.com",
    "yahoo.com",
    "aol.com",
    "comcast.net",
    "icloud.com",
    "me.com",
    "mac.com",
];

/// The feedback loops' own addresses on consumer domains (formats.md section 2.1).
const LOOP_ADDRESSES: [&str; 1] = ["staff@hotmail.com"];

/// Checks a report's origin. `Err` says why it is not trusted. `raw` is the message, whose
/// header block `outer` is.
/// `own_unsubscribe`: the message is a subscriber's own unsubscribe request (Apple's
/// one-click mail, sent from the subscriber's iCloud address), which can only take that
/// address off the list; it may come from a consumer mailbox.
pub fn check(
    raw: &[u8],
    outer: &HeaderBlock,
    reporter: Reporter,
    own_unsubscribe: bool,
    config: &TrustConfig,
) -> Result<(), String> {
    if !config.reporters.contains(&reporter) && config.extra_domains.is_empty() {
        return Err(format!(
            "reporter {} is not trusted ([trust] reporters)",
            reporter.as_str()
        ));
    }
    // Which of two senders a report is from cannot be told: RFC 5322 (section 3.6) allows one
    // From field, and DMARC (RFC 7489 section 6.6.1) rejects a message with several, or with
    // several addresses in it.
    let froms: Vec<&str> = outer.get_all("From").collect();
    if froms.len() > 1 {
        return Err(format!(
            "the report has {} From fields (RFC 5322 allows one): which of them sent it cannot \
             be told",
            froms.len()
        ));
    }
    // Comments are no part of the address (RFC 5322 section 3.2.2): `random@yahoo.com
    // (<feedback@arf.mail.yahoo.com>)` is random's mail, whose `<...>` a reader that takes the
    // last angle-addr would take for the loop's.
    let from = crate::header_block::without_comments(froms.first().copied().unwrap_or(""));
    let from = from.as_str();
    let addresses = crate::address::split_list(from)
        .iter()
        .filter(|part| part.contains('@'))
        .count();
    if addresses > 1 {
        return Err(format!(
            "the report's From holds {addresses} addresses: which of them sent it cannot be told \
             (RFC 7489 section 6.6.1)"
        ));
    }
    let Some(from_domain) = crate::address::domain_of(from) else {
        return Err("the report has no From address".to_string());
    };
    let mut allowed: Vec<&str> = config.extra_domains.iter().map(String::as_str).collect();
    if config.reporters.contains(&reporter) {
        allowed.extend(reporter_domains(reporter));
    }
    let Some(domain) = allowed
        .iter()
        .find(|d| crate::address::is_within(&from_domain, d))
    else {
        return Err(format!(
            "From domain {from_domain} is not a trusted feedback loop domain"
        ));
    };
    // Apple's unsubscribe mail comes from the subscriber's own iCloud address; an ARF report
    // from an iCloud mailbox is anyone's.
    let consumer = CONSUMER_DOMAINS.contains(&from_domain.as_str())
        && !(own_unsubscribe && reporter == Reporter::Apple);
    let from_address = crate::address::normalise(from).unwrap_or_default();
    if consumer
        && !LOOP_ADDRESSES
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&from_address))
        && !config
            .extra_domains
            .iter()
            .any(|d| d.eq_ignore_ascii_case(&from_domain))
    {
        return Err(format!(
            "{from_address} is a mailbox anyone can have at {from_domain}, not a feedback loop's \
             address"
        ));
    }
    // Your MTA can be made to remove a field of your authserv-id only in the form its filter
    // matches (README's Postfix regexp): any other form naming it may be the sender's.
    if let Some(form) = unplain_field(raw, &config.authserv_id) {
        return Err(format!(
            "an Authentication-Results field names {id} written with {form}, which your MTA's \
             filter does not remove, so the sender may have written it; only \
             `Authentication-Results: {id};` (white space alone between) is believed",
            id = config.authserv_id
        ));
    }
    // What each field of your server records for `domain`. Your server's own field cannot
    // be taken away, but one that looks like it can be added by whoever wrote the message
    // (RFC 8601 section 5 asks the MTA to delete those; not every one does): where two of
    // them disagree, one is a forgery and the message proves nothing.
    let mut fields: Vec<Recorded> = Vec::new();
    for value in outer.get_all("Authentication-Results") {
        // Results written by another server are anyone's.
        if !authserv_id_of(value).is_some_and(|id| id.eq_ignore_ascii_case(&config.authserv_id)) {
            continue;
        }
        // A field that cannot be read says nothing: not a pass, and no disagreement (a forged
        // one gains nothing by being unreadable; a real one in a shape this reader does not
        // know should not refuse a report another field shows passed).
        let Ok(results) = parse_authentication_results(value) else {
            continue;
        };
        fields.push(Recorded::of(&results, domain));
    }
    // A DMARC failure your server wrote outweighs any pass: a forger can add a header that
    // looks like your server's, but cannot take away the one it wrote. Only `fail` counts: a
    // temporary error, or one of two signatures failing, is not a forgery.
    if fields
        .iter()
        .filter_map(|f| f.dmarc.as_ref())
        .any(|results| results.iter().any(|r| r == "fail"))
    {
        return Err(format!(
            "an Authentication-Results header from {} records a failure for {domain}",
            config.authserv_id
        ));
    }
    let remove = format!(
        "one of them was not written by your server; make your MTA remove Authentication-Results \
         fields with the authserv-id {} from incoming mail (RFC 8601 section 5)",
        config.authserv_id
    );
    for (method, recorded) in [
        (
            "DKIM",
            fields
                .iter()
                .filter_map(|f| f.dkim.as_ref())
                .collect::<Vec<_>>(),
        ),
        (
            "DMARC",
            fields.iter().filter_map(|f| f.dmarc.as_ref()).collect(),
        ),
    ] {
        // One verifier records no signature (`dkim=none`) and a valid one at once only when
        // someone else wrote a part of what it seems to have written.
        if recorded
            .iter()
            .any(|r| r.iter().any(|x| x == "pass") && r.iter().any(|x| x == "none"))
        {
            return Err(format!(
                "Authentication-Results fields of {} record both none and pass for {method} of \
                 {domain}: {remove}",
                config.authserv_id
            ));
        }
        // A temporary error (a DNS timeout) of one verifier or hop beside another's pass is
        // no sign of a forgery; any other difference is (a failure for the domain is what a
        // copied signature gets, and no result for it what a message without one does).
        let settled: Vec<&Vec<String>> = recorded
            .iter()
            .copied()
            .filter(|r| r.is_empty() || !r.iter().all(|x| x == "temperror"))
            .collect();
        if let Some(other) = settled.iter().find(|r| ***r != *settled[0]) {
            let said = |r: &Vec<String>| match r.is_empty() {
                true => "no result".to_string(),
                false => r.join(" and "),
            };
            return Err(format!(
                "Authentication-Results fields of {} disagree on {method} for {domain} (one \
                 records {}, another {}): {remove}",
                config.authserv_id,
                said(settled[0]),
                said(other)
            ));
        }
    }
    let dkim_pass = fields
        .iter()
        .filter_map(|f| f.dkim.as_ref())
        .any(|r| r.iter().any(|x| x == "pass"));
    let dmarc_pass = fields
        .iter()
        .filter_map(|f| f.dmarc.as_ref())
        .any(|r| r.iter().any(|x| x == "pass"));
    // DMARC passes on an aligned DKIM or SPF pass: a DMARC pass beside your server's DKIM and
    // SPF results, neither of which passed for the domain, was not your server's.
    let dkim_recorded = fields.iter().any(|f| f.dkim.is_some());
    let spf_recorded = fields.iter().any(|f| f.spf.is_some());
    let spf_pass = fields.iter().any(|f| f.spf == Some(true));
    if dmarc_pass && !dkim_pass && dkim_recorded && spf_recorded && !spf_pass {
        return Err(format!(
            "Authentication-Results fields of {} record a DMARC pass for {domain} but neither a \
             DKIM nor an SPF pass for it: {remove}",
            config.authserv_id
        ));
    }
    let passed = dkim_pass || dmarc_pass;
    if passed {
        return Ok(());
    }
    Err(format!(
        "no DKIM or DMARC pass for {domain} in an Authentication-Results header from {}",
        config.authserv_id
    ))
}

/// One result of an `Authentication-Results` field (RFC 8601 section 2.2): `method=result`
/// and its properties (`header.d=...`, `smtp.mailfrom=...`, `reason=...`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct MethodResult {
    /// Lower-cased, without its version (`dkim/1`).
    method: String,
    /// Lower-cased.
    result: String,
    properties: Vec<Property>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Property {
    /// Lower-cased: `header.d`, `smtp.mailfrom`.
    name: String,
    /// Unquoted, its quoted-pairs undone.
    value: String,
    /// Whether any of the value was written as a quoted-string.
    quoted: bool,
}

impl MethodResult {
    fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// A reader of one field value, by RFC 8601's grammar: a `;` or `=` inside a quoted-string
/// or a comment (nested, with quoted-pairs) separates nothing.
struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
}

impl Reader<'_> {
    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    /// Skips white space and comments.
    fn skip_cfws(&mut self) -> Result<(), String> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.chars.next();
                }
                Some('(') => self.comment()?,
                _ => return Ok(()),
            }
        }
    }

    fn comment(&mut self) -> Result<(), String> {
        self.chars.next();
        let mut depth = 1;
        while depth > 0 {
            match self.chars.next() {
                None => return Err("a comment is not closed".to_string()),
                Some('\\') => {
                    self.chars.next();
                }
                Some('(') => depth += 1,
                Some(')') => depth -= 1,
                Some(_) => {}
            }
        }
        Ok(())
    }

    /// A method, result or property name: up to white space, a comment, `;`, `=` or a quote.
    fn token(&mut self) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if c.is_whitespace() || matches!(c, '(' | ')' | ';' | '=' | '"') {
                break;
            }
            out.push(c);
            self.chars.next();
        }
        out
    }

    /// A value: tokens and quoted-strings written together (`"a b"@example.com`), up to white
    /// space, a comment or `;`; and whether any of it was quoted.
    fn value(&mut self) -> Result<(String, bool), String> {
        let (mut out, mut quoted) = (String::new(), false);
        while let Some(c) = self.peek() {
            match c {
                '"' => {
                    quoted = true;
                    self.chars.next();
                    loop {
                        match self.chars.next() {
                            None => return Err("a quoted-string is not closed".to_string()),
                            Some('"') => break,
                            Some('\\') => match self.chars.next() {
                                Some(escaped) => out.push(escaped),
                                None => {
                                    return Err("a quoted-string is not closed".to_string());
                                }
                            },
                            Some(other) => out.push(other),
                        }
                    }
                }
                c if c.is_whitespace() || c == '(' || c == ';' => break,
                c => {
                    out.push(c);
                    self.chars.next();
                }
            }
        }
        Ok((out, quoted))
    }

    fn expect(&mut self, wanted: char, after: &str) -> Result<(), String> {
        match self.chars.next() {
            Some(c) if c == wanted => Ok(()),
            Some(c) => Err(format!("{c:?} where '{wanted}' should follow {after}")),
            None => Err(format!(
                "the field ends where '{wanted}' should follow {after}"
            )),
        }
    }
}

/// Reads the results of an `Authentication-Results` field value (RFC 8601 section 2.2),
/// after its authserv-id. `Err` says what cannot be read.
fn parse_authentication_results(value: &str) -> Result<Vec<MethodResult>, String> {
    let mut reader = Reader {
        chars: value.chars().peekable(),
    };
    reader.skip_cfws()?;
    if reader.value()?.0.is_empty() {
        return Err("it has no authserv-id".to_string());
    }
    reader.skip_cfws()?;
    // An optional version.
    if reader.peek().is_some_and(|c| c.is_ascii_digit()) {
        reader.token();
        reader.skip_cfws()?;
    }
    let mut results = Vec::new();
    loop {
        match reader.peek() {
            None => break,
            Some(';') => {
                reader.chars.next();
            }
            Some(c) => return Err(format!("{c:?} where ';' should come")),
        }
        reader.skip_cfws()?;
        if reader.peek().is_none() {
            break;
        }
        let method = reader.token().to_ascii_lowercase();
        if method.is_empty() {
            return Err("a result has no method".to_string());
        }
        reader.skip_cfws()?;
        // `none`: nothing was checked.
        if method == "none" && matches!(reader.peek(), None | Some(';')) {
            continue;
        }
        reader.expect('=', &method)?;
        reader.skip_cfws()?;
        let result = reader.token().to_ascii_lowercase();
        if result.is_empty() {
            return Err(format!("{method} has no result"));
        }
        let mut properties = Vec::new();
        loop {
            reader.skip_cfws()?;
            if matches!(reader.peek(), None | Some(';')) {
                break;
            }
            let name = reader.token().to_ascii_lowercase();
            if name.is_empty() {
                return Err(format!(
                    "{:?} in the result of {method}",
                    reader.peek().unwrap_or(' ')
                ));
            }
            reader.skip_cfws()?;
            reader.expect('=', &name)?;
            reader.skip_cfws()?;
            let (value, quoted) = reader.value()?;
            properties.push(Property {
                name,
                value,
                quoted,
            });
        }
        let method = method.split('/').next().unwrap_or("").to_string();
        results.push(MethodResult {
            method,
            result,
            properties,
        });
    }
    Ok(results)
}

/// The domain a `header.d`, `header.from` (`at = false`) or `header.i` (`at = true`: `@` and
/// the domain, after an optional local part) property names; None when it is not a plain
/// domain (quoted, or with another `@` or characters no domain has).
fn domain_property(property: &Property, at: bool) -> Option<&str> {
    if property.quoted {
        return None;
    }
    let domain = if at {
        let (local, domain) = property.value.rsplit_once('@')?;
        if local.contains('@') {
            return None;
        }
        domain
    } else {
        &property.value
    };
    let plain = !domain.is_empty()
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_'));
    plain.then_some(domain)
}

/// What one `Authentication-Results` field records for a domain.
#[derive(Debug, Default)]
struct Recorded {
    /// With any `dkim=` result: the results for signatures of the domain (a `header.d`
    /// within it, or a `header.i` when there is no `header.d`), and `none` when no signature
    /// was found; sorted, each once.
    dkim: Option<Vec<String>>,
    /// With any `dmarc=` result: the results for a `header.from` within the domain.
    dmarc: Option<Vec<String>>,
    /// With any `spf=` result: whether one passed for an envelope sender within the domain
    /// (`smtp.mailfrom`, else `smtp.helo`).
    spf: Option<bool>,
}

impl Recorded {
    fn of(field: &[MethodResult], domain: &str) -> Recorded {
        let mut recorded = Recorded::default();
        for result in field {
            let about = |name: &str, at: bool| {
                result
                    .property(name)
                    .and_then(|p| domain_property(p, at))
                    .is_some_and(|d| crate::address::is_within(d, domain))
            };
            match result.method.as_str() {
                "dkim" => {
                    let named = result.property("header.d").is_some()
                        || result.property("header.i").is_some();
                    // The signing domain; the AUID only when no `header.d` is given.
                    let about_domain = if result.property("header.d").is_some() {
                        about("header.d", false)
                    } else {
                        about("header.i", true)
                    };
                    let results = recorded.dkim.get_or_insert_with(Vec::new);
                    if about_domain || (!named && result.result == "none") {
                        results.push(result.result.clone());
                    }
                }
                "dmarc" => {
                    let results = recorded.dmarc.get_or_insert_with(Vec::new);
                    if about("header.from", false) {
                        results.push(result.result.clone());
                    }
                }
                "spf" => {
                    let sender = result
                        .property("smtp.mailfrom")
                        .or_else(|| result.property("smtp.helo"))
                        .filter(|p| !p.quoted)
                        .map(|p| {
                            let value = p.value.trim_start_matches('<').trim_end_matches('>');
                            value.rsplit('@').next().unwrap_or("")
                        });
                    let aligned = result.result == "pass"
                        && sender.is_some_and(|d| crate::address::is_within(d, domain));
                    let passed = recorded.spf.get_or_insert(false);
                    *passed |= aligned;
                }
                _ => {}
            }
        }
        for results in [&mut recorded.dkim, &mut recorded.dmarc]
            .into_iter()
            .flatten()
        {
            results.sort();
            results.dedup();
        }
        recorded
    }
}

/// The authserv-id of an `Authentication-Results` field value: its first word.
fn authserv_id_of(value: &str) -> Option<String> {
    let mut reader = Reader {
        chars: value.chars().peekable(),
    };
    reader.skip_cfws().ok()?;
    let (id, _) = reader.value().ok()?;
    (!id.is_empty()).then_some(id)
}

/// White space as POSIX `[[:space:]]` knows it in the C locale.
fn posix_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// The field's name as the filter of README's recipe matches it.
const AR_PREFIX: &[u8] = b"Authentication-Results:";

/// Whether a field, as its bytes arrived (its lines and their line ends), is
/// `Authentication-Results:`, white space, `id`, and white space or `;`: the form README's
/// Postfix recipe (`/^Authentication-Results:[[:space:]]*ID[[:space:];]/`, case-insensitive)
/// removes from incoming mail.
fn is_plain_form(field: &[u8], id: &str) -> bool {
    // The filter sees the field without its last line end.
    let field = field.strip_suffix(b"\n").unwrap_or(field);
    let field = field.strip_suffix(b"\r").unwrap_or(field);
    let Some(rest) = field
        .get(..AR_PREFIX.len())
        .filter(|name| name.eq_ignore_ascii_case(AR_PREFIX))
        .map(|_| &field[AR_PREFIX.len()..])
    else {
        return false;
    };
    let start = rest
        .iter()
        .position(|&b| !posix_space(b))
        .unwrap_or(rest.len());
    let rest = &rest[start..];
    let id = id.as_bytes();
    rest.len() > id.len()
        && rest[..id.len()].eq_ignore_ascii_case(id)
        && (posix_space(rest[id.len()]) || rest[id.len()] == b';')
}

/// What makes a field naming `id` another form than the plain one, for the reason.
fn form_of(field: &[u8], value: &str) -> &'static str {
    let name_end = field.iter().position(|&b| b == b':').unwrap_or(0);
    if name_end != AR_PREFIX.len() - 1 {
        return "something between the field name and its colon";
    }
    match value.trim_start().chars().next() {
        Some('(') => "a comment before the authserv-id",
        Some('"') => "the authserv-id in quotes",
        _ => "a comment, a quote or other characters around the authserv-id",
    }
}

/// The first `Authentication-Results` field of the header block of `raw` that `check` would
/// read as one of `id`'s but that is not written in the plain form README's recipe removes
/// (`is_plain_form`): what its form has instead. The fields are split as `HeaderBlock`
/// splits them (each line decoded alone, continuation lines starting with a space or a tab,
/// ending at the first blank line after a field), and each is read by `HeaderBlock` itself.
fn unplain_field(raw: &[u8], id: &str) -> Option<&'static str> {
    const NAME: &[u8] = b"authentication-results";
    let raw = &raw[..raw.len().min(crate::header_block::MAX_HEADER_BLOCK_BYTES)];
    // Where the field being read starts, and whether a field was read before.
    let mut current: Option<usize> = None;
    let mut seen = false;
    let mut line_start = 0;
    let check = |from: usize, to: usize| -> Option<&'static str> {
        let field = &raw[from..to];
        // Only a field whose name starts so can be one (a space before its colon aside):
        // the others are not parsed, which would cost each complaint microseconds.
        if !field
            .get(..NAME.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(NAME))
        {
            return None;
        }
        let block = HeaderBlock::parse(field);
        let (name, value) = block.fields().next()?;
        let ours = name.eq_ignore_ascii_case("Authentication-Results")
            && authserv_id_of(value).is_some_and(|found| found.eq_ignore_ascii_case(id));
        (ours && !is_plain_form(field, id)).then(|| form_of(field, value))
    };
    while line_start < raw.len() {
        let line_end =
            memchr::memchr(b'\n', &raw[line_start..]).map_or(raw.len(), |p| line_start + p + 1);
        let line = &raw[line_start..line_end];
        if line.trim_ascii().is_empty() {
            if current.is_some() || seen {
                break;
            }
        } else if !line.starts_with(b" ") && !line.starts_with(b"\t") {
            if let Some(from) = current.take()
                && let Some(form) = check(from, line_start)
            {
                return Some(form);
            }
            let is_field = memchr::memchr(b':', line).is_some_and(|colon| {
                let name = line[..colon].trim_ascii_end();
                !name.is_empty()
                    && name
                        .iter()
                        .all(|&b| b.is_ascii() && b != b' ' && b != b'\t')
            });
            if is_field {
                current = Some(line_start);
                seen = true;
            }
        }
        line_start = line_end;
    }
    current.and_then(|from| check(from, line_start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> TrustConfig {
        TrustConfig {
            authserv_id: "mx.sender.example".into(),
            reporters: default_reporters(),
            extra_domains: vec![],
        }
    }

    /// `check` on a header block written out again, one field a line.
    fn check_block(
        outer: &HeaderBlock,
        reporter: Reporter,
        own_unsubscribe: bool,
        config: &TrustConfig,
    ) -> Result<(), String> {
        let raw: String = outer
            .fields()
            .map(|(name, value)| format!("{name}: {value}\n"))
            .collect();
        check(raw.as_bytes(), outer, reporter, own_unsubscribe, config)
    }

    fn headers(text: &str) -> HeaderBlock {
        HeaderBlock::parse(text.as_bytes())
    }

    #[test]
    fn trusts_a_signed_report_from_a_known_loop() {
        let outer = headers(
            "Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com header.s=s1; spf=pass\n\
             From: staff@hotmail.com\n\n",
        );
        assert_eq!(
            check_block(&outer, Reporter::Microsoft, false, &config()),
            Ok(())
        );
    }

    #[test]
    fn refuses_forgeries() {
        // Results written by someone else's server prove nothing.
        let foreign = headers(
            "Authentication-Results: evil.example; dkim=pass header.d=hotmail.com\nFrom: staff@hotmail.com\n\n",
        );
        assert!(check_block(&foreign, Reporter::Microsoft, false, &config()).is_err());
        // A pass for another domain.
        let other = headers(
            "Authentication-Results: mx.sender.example; dkim=pass header.d=evil.example\nFrom: staff@hotmail.com\n\n",
        );
        assert!(check_block(&other, Reporter::Microsoft, false, &config()).is_err());
        // A failed signature.
        let failed = headers(
            "Authentication-Results: mx.sender.example; dkim=fail header.d=hotmail.com\nFrom: staff@hotmail.com\n\n",
        );
        assert!(check_block(&failed, Reporter::Microsoft, false, &config()).is_err());
        // A look-alike domain.
        let lookalike = headers(
            "Authentication-Results: mx.sender.example; dkim=pass header.d=nothotmail.com\nFrom: staff@nothotmail.com\n\n",
        );
        assert!(check_block(&lookalike, Reporter::Microsoft, false, &config()).is_err());
        // An unknown reporter.
        let unknown = headers("From: fbl@random.example\n\n");
        assert!(check_block(&unknown, Reporter::Other, false, &config()).is_err());
    }

    #[test]
    fn a_consumer_mailbox_at_a_loop_domain_is_not_the_loop() {
        // Anyone's hotmail.com or yahoo.com mail passes DKIM for the domain.
        for (from, reporter) in [
            ("random.user1234@yahoo.com", Reporter::Yahoo),
            ("someone@outlook.com", Reporter::Microsoft),
            ("someone@hotmail.com", Reporter::Microsoft),
            ("user@comcast.net", Reporter::Validity),
        ] {
            let domain = from.split('@').nth(1).unwrap();
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; dkim=pass header.d={domain}\nFrom: {from}\n\n"
            ));
            let why = check_block(&outer, reporter, false, &config()).unwrap_err();
            assert!(why.contains("anyone can have"), "{from}: {why}");
        }
        // The loops' own addresses, and subdomains where nobody has a mailbox, are trusted.
        for (from, d, reporter) in [
            ("staff@hotmail.com", "hotmail.com", Reporter::Microsoft),
            ("feedback@arf.mail.yahoo.com", "yahoo.com", Reporter::Yahoo),
            (
                "feedbackloop@feedback.comcast.net",
                "comcast.net",
                Reporter::Validity,
            ),
        ] {
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; dkim=pass header.d={d}\nFrom: {from}\n\n"
            ));
            assert_eq!(
                check_block(&outer, reporter, false, &config()),
                Ok(()),
                "{from}"
            );
        }
        // An iCloud mailbox: its owner's own unsubscribe request, not a report about others.
        let icloud = headers(
            "Authentication-Results: mx.sender.example; dkim=pass header.d=icloud.com\nFrom: subscriber@icloud.com\n\n",
        );
        assert_eq!(
            check_block(&icloud, Reporter::Apple, true, &config()),
            Ok(())
        );
        assert!(check_block(&icloud, Reporter::Apple, false, &config()).is_err());
    }

    #[test]
    fn a_failure_from_your_server_outweighs_a_pass() {
        let outer = headers(
            "Authentication-Results: mx.sender.example; dmarc=fail header.from=hotmail.com\n\
             Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com\n\
             From: staff@hotmail.com\n\n",
        );
        let why = check_block(&outer, Reporter::Microsoft, false, &config()).unwrap_err();
        assert!(why.contains("records a failure"), "{why}");
        // A temporary error, or one failing signature beside a passing one, is no forgery.
        for results in [
            "dkim=temperror header.d=yahoo.com; dmarc=pass header.from=yahoo.com",
            "dkim=fail header.d=yahoo.com; dkim=pass header.d=yahoo.com",
        ] {
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; {results}\nFrom: feedback@arf.mail.yahoo.com\n\n"
            ));
            assert_eq!(
                check_block(&outer, Reporter::Yahoo, false, &config()),
                Ok(()),
                "{results}"
            );
        }
    }

    #[test]
    fn a_semicolon_in_a_quoted_string_or_a_comment_separates_nothing() {
        for results in [
            r#"spf=fail smtp.mailfrom="x;dkim=pass header.d=hotmail.com"@hotmail.com; dkim=none"#,
            "spf=fail (x; dkim=pass header.d=hotmail.com) smtp.mailfrom=evil.example; dkim=none",
            r"spf=fail (a (nested; comment) \) ; dkim=pass header.d=hotmail.com) smtp.mailfrom=evil.example",
            r#"dkim=fail reason="bad; dkim=pass header.d=hotmail.com" header.d=evil.example"#,
        ] {
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; {results}\nFrom: staff@hotmail.com\n\n"
            ));
            let why = check_block(&outer, Reporter::Microsoft, false, &config()).unwrap_err();
            assert!(why.starts_with("no DKIM or DMARC pass"), "{results}: {why}");
        }
    }

    #[test]
    fn a_signing_domain_must_be_a_plain_domain() {
        for results in [
            r#"dkim=pass header.d="hotmail.com""#,
            r#"dkim=pass header.d=hotmail.com"@hotmail.com""#,
            r#"dkim=pass header.d="x"@hotmail.com"#,
            "dkim=pass header.d=evil.example@hotmail.com",
            "dkim=pass header.i=a@b@hotmail.com",
            r#"dkim=pass header.i="a@b"@hotmail.com"#,
            r#"dmarc=pass header.from="hotmail.com""#,
            "dmarc=pass header.from=evil@hotmail.com",
        ] {
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; {results}\nFrom: staff@hotmail.com\n\n"
            ));
            assert!(
                check_block(&outer, Reporter::Microsoft, false, &config()).is_err(),
                "{results}"
            );
        }
    }

    #[test]
    fn results_as_mtas_write_them_are_read() {
        for field in [
            // OpenDKIM: a comment with a `;`, a quoted header.b.
            "mx.sender.example; dkim=pass (2048-bit key; unprotected) header.d=hotmail.com \
             header.i=@hotmail.com header.a=rsa-sha256 header.s=selector1 header.b=\"AbCdEf\"",
            // rspamd: one field for all, comments with colons, a VERP envelope sender.
            "mx.sender.example; dkim=pass header.d=hotmail.com header.s=s1 header.b=AbC; \
             spf=pass (mx.sender.example: domain of bounces+x=y.example@hotmail.com designates \
             192.0.2.1 as permitted sender) smtp.mailfrom=bounces+x=y.example@hotmail.com; \
             dmarc=pass (policy=none) header.from=hotmail.com",
            // A version, white space around `=`, a trailing `;`, the AUID alone.
            "mx.sender.example 1; dkim = pass header.i = staff@hotmail.com;",
            // Case.
            "MX.Sender.Example; DKIM=Pass Header.D=Hotmail.COM",
        ] {
            let outer = headers(&format!(
                "Authentication-Results: {field}\nFrom: staff@hotmail.com\n\n"
            ));
            assert_eq!(
                check_block(&outer, Reporter::Microsoft, false, &config()),
                Ok(()),
                "{field}"
            );
        }
    }

    #[test]
    fn a_field_of_your_server_that_cannot_be_read_says_nothing() {
        for results in [
            "dkim=pass header.d=hotmail.com (a comment that never ends",
            r#"dkim=pass header.d=hotmail.com header.b="unclosed"#,
            "dkim=pass header.d=hotmail.com header.s",
        ] {
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; {results}\nFrom: staff@hotmail.com\n\n"
            ));
            // Not a pass: it is not believed.
            let why = check_block(&outer, Reporter::Microsoft, false, &config()).unwrap_err();
            assert!(why.contains("no DKIM or DMARC pass"), "{results}: {why}");
            // Nor a disagreement: a real pass in another field stands.
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; {results}\n\
                 Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com\n\
                 From: staff@hotmail.com\n\n"
            ));
            assert_eq!(
                check_block(&outer, Reporter::Microsoft, false, &config()),
                Ok(()),
                "{results}"
            );
        }
        // A temporary error of one verifier beside another's pass is no forgery; a failure
        // for the domain (a copied signature) is.
        for (other, trusted) in [
            ("dkim=temperror (DNS timeout) header.d=hotmail.com", true),
            ("dkim=fail (body hash mismatch) header.d=hotmail.com", false),
        ] {
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; {other}\n\
                 Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com\n\
                 From: staff@hotmail.com\n\n"
            ));
            assert_eq!(
                check_block(&outer, Reporter::Microsoft, false, &config()).is_ok(),
                trusted,
                "{other}"
            );
        }
        // An SPF sender in angle brackets is read as its domain.
        let outer = headers(
            "Authentication-Results: mx.sender.example; spf=pass \
             smtp.mailfrom=<staff@hotmail.com>; dkim=fail header.d=hotmail.com; \
             dmarc=pass header.from=hotmail.com\n\
             From: staff@hotmail.com\n\n",
        );
        assert_eq!(
            check_block(&outer, Reporter::Microsoft, false, &config()),
            Ok(())
        );
        // Another server's field is not read at all.
        let outer = headers(
            "Authentication-Results: other.example; dkim=pass (oops\n\
             Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com\n\
             From: staff@hotmail.com\n\n",
        );
        assert_eq!(
            check_block(&outer, Reporter::Microsoft, false, &config()),
            Ok(())
        );
    }

    #[test]
    fn a_result_added_beside_your_server_s_is_found_out() {
        for fields in [
            // Your server found no signature; the sender added a pass under its field.
            "mx.sender.example; spf=softfail smtp.mailfrom=attacker.example; dkim=none\n\
             Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com",
            // Or above it.
            "mx.sender.example; dkim=pass header.d=hotmail.com\n\
             Authentication-Results: mx.sender.example; dkim=none",
            // A failure, or another result, for the same domain.
            "mx.sender.example; dkim=fail header.d=hotmail.com\n\
             Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com",
            "mx.sender.example; dkim=neutral header.d=hotmail.com\n\
             Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com",
            // Your server verified the sender's own signature only.
            "mx.sender.example; dkim=pass header.d=attacker.example\n\
             Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com",
            // A DMARC pass beside a DMARC result of another kind.
            "mx.sender.example; dmarc=none header.from=hotmail.com\n\
             Authentication-Results: mx.sender.example; dmarc=pass header.from=hotmail.com",
        ] {
            let outer = headers(&format!(
                "Authentication-Results: {fields}\nFrom: staff@hotmail.com\n\n"
            ));
            let why = check_block(&outer, Reporter::Microsoft, false, &config()).unwrap_err();
            assert!(
                why.contains("disagree on") && why.contains("(RFC 8601 section 5)"),
                "{fields}: {why}"
            );
        }
        // No signature and a valid one, in what looks like one field.
        let outer = headers(
            "Authentication-Results: mx.sender.example; dkim=none; dkim=pass header.d=hotmail.com\n\
             From: staff@hotmail.com\n\n",
        );
        let why = check_block(&outer, Reporter::Microsoft, false, &config()).unwrap_err();
        assert!(why.contains("both none and pass"), "{why}");
        // A DMARC pass where your server's DKIM and SPF results show nothing that could pass.
        let outer = headers(
            "Authentication-Results: mx.sender.example; spf=fail smtp.mailfrom=attacker.example; dkim=none\n\
             Authentication-Results: mx.sender.example; dmarc=pass header.from=hotmail.com\n\
             From: staff@hotmail.com\n\n",
        );
        let why = check_block(&outer, Reporter::Microsoft, false, &config()).unwrap_err();
        assert!(why.contains("neither a DKIM nor an SPF pass"), "{why}");
    }

    #[test]
    fn fields_your_server_s_milters_write_are_trusted() {
        for fields in [
            // SPF, DKIM and DMARC milters, a field each.
            "mx.sender.example; spf=pass smtp.mailfrom=staff@hotmail.com\n\
             Authentication-Results: mx.sender.example; dkim=pass (2048-bit key; unprotected) \
             header.d=hotmail.com header.i=@hotmail.com header.b=\"AbC\"\n\
             Authentication-Results: mx.sender.example; dmarc=pass (p=reject dis=none) \
             header.from=hotmail.com",
            // Two signatures, one failing for another domain.
            "mx.sender.example; dkim=pass header.d=hotmail.com; dkim=fail header.d=esp.example\n\
             Authentication-Results: mx.sender.example; dmarc=pass header.from=hotmail.com",
            // Two verifiers that agree.
            "mx.sender.example; dkim=pass header.d=hotmail.com header.s=s1\n\
             Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com",
            // DMARC on an aligned SPF pass, no signature.
            "mx.sender.example; spf=pass smtp.mailfrom=bounce@hotmail.com; dkim=none\n\
             Authentication-Results: mx.sender.example; dmarc=pass header.from=hotmail.com",
            // Another server's results, whatever they say, are not compared.
            "mx.sender.example; dkim=pass header.d=hotmail.com\n\
             Authentication-Results: relay.example; dkim=none",
        ] {
            let outer = headers(&format!(
                "Authentication-Results: {fields}\nFrom: staff@hotmail.com\n\n"
            ));
            assert_eq!(
                check_block(&outer, Reporter::Microsoft, false, &config()),
                Ok(()),
                "{fields}"
            );
        }
    }

    #[test]
    fn a_report_from_two_senders_is_not_trusted() {
        let signed = "Authentication-Results: mx.sender.example; dkim=pass header.d=hotmail.com\n";
        for (froms, says) in [
            (
                "From: staff@hotmail.com\nFrom: attacker@hotmail.com\n",
                "2 From fields",
            ),
            (
                "From: attacker@hotmail.com\nFrom: staff@hotmail.com\n",
                "2 From fields",
            ),
            (
                "From: staff@hotmail.com, attacker@hotmail.com\n",
                "From holds 2 addresses",
            ),
            (
                "From: Staff <staff@hotmail.com>, <x@evil.example>\n",
                "From holds 2 addresses",
            ),
        ] {
            let outer = headers(&format!("{signed}{froms}\n"));
            let why = check_block(&outer, Reporter::Microsoft, false, &config()).unwrap_err();
            assert!(why.contains(says), "{froms}: {why}");
        }
        // A comment is no address: the mail of a Yahoo or Outlook mailbox that writes the
        // loop's address in a comment is that mailbox's, anyone's.
        for (reporter, from) in [
            (
                Reporter::Yahoo,
                "random@yahoo.com (<feedback@arf.mail.yahoo.com>)",
            ),
            (
                Reporter::Microsoft,
                "random@hotmail.com (<staff@hotmail.com>)",
            ),
        ] {
            let outer = headers(&format!(
                "Authentication-Results: mx.sender.example; dkim=pass header.d=yahoo.com; \
                 dkim=pass header.d=hotmail.com\nFrom: {from}\n\n"
            ));
            let why = check_block(&outer, reporter, false, &config()).unwrap_err();
            assert!(why.contains("a mailbox anyone can have"), "{from}: {why}");
        }
        // A display name in quotes keeps its parentheses.
        let outer = headers(&format!(
            "{signed}From: \"Staff (JMRP)\" <staff@hotmail.com>\n\n"
        ));
        assert_eq!(
            check_block(&outer, Reporter::Microsoft, false, &config()),
            Ok(())
        );
        // A display name with a comma in quotes is one address.
        let outer = headers(&format!(
            "{signed}From: \"Staff, Hotmail\" <staff@hotmail.com>\n\n"
        ));
        assert_eq!(
            check_block(&outer, Reporter::Microsoft, false, &config()),
            Ok(())
        );
    }

    #[test]
    fn dmarc_pass_and_extra_domains_count() {
        let mut config = config();
        config.extra_domains.push("feedback.isp.example".into());
        let outer = headers(
            "Authentication-Results: mx.sender.example;\n dmarc=pass header.from=feedback.isp.example\nFrom: feedbackloop@feedback.isp.example\n\n",
        );
        assert_eq!(
            check_block(&outer, Reporter::Validity, false, &config),
            Ok(())
        );
    }

    #[test]
    fn only_the_form_the_mta_recipe_removes_is_believed() {
        let pass = "dkim=pass header.d=hotmail.com header.s=s1";
        let verdict = |field: String| {
            let raw = format!("{field}\nFrom: staff@hotmail.com\n\nbody\n");
            check(
                raw.as_bytes(),
                &headers(&raw),
                Reporter::Microsoft,
                false,
                &config(),
            )
        };
        // What README's Postfix regexp removes (case aside), folded or not.
        for plain in [
            format!("Authentication-Results: mx.sender.example; {pass}"),
            format!("authentication-results:MX.Sender.Example;{pass}"),
            format!("Authentication-Results: mx.sender.example (amavis); {pass}"),
            format!("Authentication-Results: mx.sender.example 1; {pass}"),
            format!("Authentication-Results:\r\n\tmx.sender.example;\r\n\t{pass}\r"),
            format!("Authentication-Results: mx.sender.example\n\t; {pass}"),
        ] {
            assert_eq!(verdict(plain.clone()), Ok(()), "{plain:?}");
        }
        // What it leaves, that fbl would otherwise read as your server's.
        for (forged, form) in [
            (
                format!("Authentication-Results: (x) mx.sender.example; {pass}"),
                "a comment before the authserv-id",
            ),
            (
                format!("Authentication-Results: \"mx.sender.example\"; {pass}"),
                "the authserv-id in quotes",
            ),
            (
                format!("Authentication-Results: mx.sender.example(x); {pass}"),
                "a comment, a quote or other characters around the authserv-id",
            ),
            (
                format!("Authentication-Results : mx.sender.example; {pass}"),
                "something between the field name and its colon",
            ),
            (
                format!("Authentication-Results\t: mx.sender.example; {pass}"),
                "something between the field name and its colon",
            ),
            (
                format!("Authentication-Results:\u{a0}mx.sender.example; {pass}"),
                "a comment, a quote or other characters around the authserv-id",
            ),
            (
                format!("Authentication-Results: mx.sender.example\u{a0}; {pass}"),
                "a comment, a quote or other characters around the authserv-id",
            ),
        ] {
            let why = verdict(forged.clone()).expect_err(&forged);
            assert!(
                why.contains(&format!(
                    "an Authentication-Results field names mx.sender.example written with {form}"
                )),
                "{forged:?}: {why}"
            );
        }
        // A non-plain form beside your server's plain field refuses the report too.
        let both = format!(
            "Authentication-Results: mx.sender.example; {pass}\nAuthentication-Results: (x) mx.sender.example; {pass}"
        );
        assert!(verdict(both).is_err());
        // Another server's field, in any form, is ignored as before.
        assert!(
            verdict(format!(
                "Authentication-Results: mx.sender.example; {pass}\nAuthentication-Results : (x) other.example; dkim=fail"
            ))
            .is_ok()
        );
        // Fields in the body are not the header's.
        let raw = format!(
            "Authentication-Results: mx.sender.example; {pass}\nFrom: staff@hotmail.com\n\nAuthentication-Results : mx.sender.example; {pass}\n"
        );
        assert_eq!(
            check(
                raw.as_bytes(),
                &headers(&raw),
                Reporter::Microsoft,
                false,
                &config()
            ),
            Ok(())
        );
        // Latin-1 bytes (NEL, 0x85) before the authserv-id are no white space to the filter.
        let mut raw = b"Authentication-Results:\x85mx.sender.example; ".to_vec();
        raw.extend_from_slice(pass.as_bytes());
        raw.extend_from_slice(b"\nFrom: staff@hotmail.com\n\n");
        assert!(
            check(
                &raw,
                &HeaderBlock::parse(&raw),
                Reporter::Microsoft,
                false,
                &config()
            )
            .is_err()
        );
    }
}
