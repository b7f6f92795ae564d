//! MIME boundaries that also occur where they are no delimiter.
//!
//! mail-parser ends a part at `--BOUNDARY` wherever it occurs, also in the middle of a line
//! or as the start of a longer word (it is lenient on purpose, for broken mail). RFC 2046
//! (section 5.1.1) has a delimiter only at the start of a line, followed by nothing but `--`
//! and white space. With a short boundary, content cuts its part: a report whose boundary
//! is `b` and whose `Original-Rcpt-To` is `user@xn--bcher-kva.de` names `user@xn`.
//!
//! `renamed` finds such boundaries and gives a copy of the message in which each of them,
//! where it is declared and where it delimits, is renamed to one that occurs nowhere else.
//! Only the copy's structure differs: every part's content is the same bytes.

use mail_parser::{Message, MimeHeaders, PartType};
use memchr::memmem;

/// Messages with more boundaries than this are read as they are: each boundary costs a
/// scan of the whole message, and a real report has one to four.
const MAX_BOUNDARIES: usize = 32;

/// A copy of `raw` in which each boundary of `message` (parsed from `raw`) that also occurs
/// where it is no delimiter is renamed; `None` when every boundary occurs only as a
/// delimiter (nearly always: real generators use long random boundaries).
pub fn renamed(raw: &[u8], message: &Message) -> Option<Vec<u8>> {
    let mut boundaries = Vec::new();
    collect(message, 0, &mut boundaries);
    if boundaries.len() > MAX_BOUNDARIES {
        return None;
    }
    let ambiguous: Vec<&str> = boundaries
        .into_iter()
        .filter(|boundary| !boundary.is_empty() && occurs_off_delimiters(raw, boundary))
        .collect();
    if ambiguous.is_empty() {
        return None;
    }
    let mut out = raw.to_vec();
    for (n, boundary) in ambiguous.iter().enumerate() {
        let fresh = fresh_boundary(&out, n);
        out = rename(&out, boundary, &fresh)?;
    }
    Some(out)
}

/// Every multipart boundary declared in `message` and the messages nested in it.
fn collect<'m>(message: &'m Message, depth: usize, out: &mut Vec<&'m str>) {
    if depth > 8 {
        return;
    }
    for part in &message.parts {
        if let Some(boundary) = part.content_type().and_then(|ct| ct.attribute("boundary"))
            && !out.contains(&boundary)
        {
            out.push(boundary);
        }
        if let PartType::Message(inner) = &part.body {
            collect(inner, depth + 1, out);
        }
    }
}

/// Where `--boundary` is a delimiter line: at the start of a line, followed by `--` at most,
/// then white space to the end of the line. `at` is where its `--` starts.
fn is_delimiter(raw: &[u8], at: usize, boundary: &str) -> bool {
    if at > 0 && raw[at - 1] != b'\n' {
        return false;
    }
    let mut rest = &raw[at + 2 + boundary.len()..];
    if let Some(after) = rest.strip_prefix(b"--") {
        rest = after;
    }
    let line = match memchr::memchr(b'\n', rest) {
        Some(end) => &rest[..end],
        None => rest,
    };
    line.iter()
        .all(|&byte| matches!(byte, b' ' | b'\t' | b'\r'))
}

/// Whether `--boundary` occurs anywhere in `raw` but on a delimiter line.
fn occurs_off_delimiters(raw: &[u8], boundary: &str) -> bool {
    let needle = [b"--", boundary.as_bytes()].concat();
    memmem::find_iter(raw, &needle).any(|at| !is_delimiter(raw, at, boundary))
}

/// A boundary whose delimiter occurs nowhere in `raw`.
fn fresh_boundary(raw: &[u8], n: usize) -> String {
    (0u32..)
        .map(|attempt| format!("=_fbl_{n}_{attempt}_0f9e8d7c6b5a"))
        .find(|candidate| memmem::find(raw, candidate.as_bytes()).is_none())
        .expect("some candidate is not in a finite message")
}

/// `raw` with `boundary` renamed to `fresh` where a `boundary=` parameter declares it and on
/// its delimiter lines. `None` when no declaration is found that can be renamed (an RFC 2231
/// continuation, say): mail-parser then reads the message as it is.
fn rename(raw: &[u8], boundary: &str, fresh: &str) -> Option<Vec<u8>> {
    let mut edits: Vec<(usize, usize)> = declarations(raw, boundary);
    if edits.is_empty() {
        return None;
    }
    let needle = [b"--", boundary.as_bytes()].concat();
    edits.extend(
        memmem::find_iter(raw, &needle)
            .filter(|&at| is_delimiter(raw, at, boundary))
            .map(|at| (at + 2, at + 2 + boundary.len())),
    );
    edits.sort_unstable();
    edits.dedup();
    let mut out = Vec::with_capacity(raw.len() + edits.len() * fresh.len());
    let mut from = 0;
    for (start, end) in edits {
        if start < from {
            continue;
        }
        out.extend_from_slice(&raw[from..start]);
        out.extend_from_slice(fresh.as_bytes());
        from = end;
    }
    out.extend_from_slice(&raw[from..]);
    Some(out)
}

/// Where `boundary` stands as the value of a `boundary=` parameter (any case, quoted or
/// not, white space and folding around the `=` allowed): the byte range of the value.
fn declarations(raw: &[u8], boundary: &str) -> Vec<(usize, usize)> {
    let lower = raw.to_ascii_lowercase();
    let mut found = Vec::new();
    for at in memmem::find_iter(&lower, b"boundary") {
        let mut i = at + b"boundary".len();
        let skip_space = |i: &mut usize| {
            while *i < raw.len() && matches!(raw[*i], b' ' | b'\t' | b'\r' | b'\n') {
                *i += 1;
            }
        };
        skip_space(&mut i);
        if raw.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        skip_space(&mut i);
        let quoted = raw.get(i) == Some(&b'"');
        if quoted {
            i += 1;
        }
        let end = i + boundary.len();
        if raw.get(i..end) != Some(boundary.as_bytes()) {
            continue;
        }
        let closed = match raw.get(end) {
            None => !quoted,
            Some(&byte) if quoted => byte == b'"',
            Some(&byte) => matches!(byte, b';' | b' ' | b'\t' | b'\r' | b'\n'),
        };
        if closed && in_content_type_field(&lower, at) {
            found.push((i, end));
        }
    }
    found
}

/// Whether `at` is inside a `Content-Type` field: the logical line it is on (its folded
/// continuation lines joined) starts with `content-type:`. `lower` is the message lower-cased.
/// Text that only looks like a parameter (`see boundary=b` in a part's content) is not.
fn in_content_type_field(lower: &[u8], at: usize) -> bool {
    let mut start = lower[..at]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |n| n + 1);
    // A continuation line (starting with white space) belongs to the field above it.
    while start > 0 && matches!(lower.get(start), Some(b' ' | b'\t')) {
        start = lower[..start - 1]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |n| n + 1);
    }
    lower[start..].starts_with(b"content-type:")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Message<'_> {
        mail_parser::MessageParser::default().parse(raw).unwrap()
    }

    #[test]
    fn long_random_boundaries_are_left_alone() {
        let raw = b"Content-Type: multipart/mixed; boundary=\"=_a1b2c3\"\r\n\r\n\
            --=_a1b2c3\r\nContent-Type: text/plain\r\n\r\nhello -- world\r\n--=_a1b2c3--\r\n";
        assert!(renamed(raw, &parse(raw)).is_none());
    }

    #[test]
    fn a_boundary_inside_content_is_renamed_where_it_delimits_only() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
            Content-Type: text/plain\n\nuser@xn--bcher-kva.de\n--b \n\
            Content-Type: text/plain\n\nsecond\n--b--\n";
        assert_eq!(
            parse(raw).parts[1].text_contents(),
            Some("user@xn"),
            "mail-parser cuts the part (if it stops doing so, this module can go)"
        );
        let fixed = renamed(raw, &parse(raw)).unwrap();
        let text = String::from_utf8(fixed.clone()).unwrap();
        assert!(text.contains("boundary==_fbl_0_0_0f9e8d7c6b5a\n"), "{text}");
        assert!(
            text.contains("user@xn--bcher-kva.de\n--=_fbl_0_0_"),
            "{text}"
        );
        let message = parse(&fixed);
        assert_eq!(
            message.parts[1].text_contents(),
            Some("user@xn--bcher-kva.de")
        );
        assert_eq!(message.parts[2].text_contents(), Some("second"));
    }

    #[test]
    fn text_that_only_looks_like_a_declaration_is_left_as_it_is() {
        let raw = b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\
            Content-Type: text/plain\n\nsee boundary=b here, and x--by\n--b--\n";
        let fixed = String::from_utf8(renamed(raw, &parse(raw)).unwrap()).unwrap();
        assert!(fixed.contains("see boundary=b here, and x--by"), "{fixed}");
        assert!(fixed.starts_with("Content-Type: multipart/mixed; boundary==_fbl_"));
    }

    #[test]
    fn a_boundary_that_starts_a_longer_word_is_renamed() {
        let raw = b"Content-Type: multipart/mixed;\r\n boundary = \"ab\"\r\n\r\n--ab\r\n\
            Content-Type: text/plain\r\n\r\n--abc is not a delimiter\r\n--ab--\r\n";
        let fixed = renamed(raw, &parse(raw)).unwrap();
        let message = parse(&fixed);
        assert_eq!(
            message.parts[1].text_contents(),
            Some("--abc is not a delimiter")
        );
    }

    #[test]
    fn a_boundary_declared_only_by_continuations_is_left_as_it_is() {
        let raw = b"Content-Type: multipart/mixed; boundary*0=b\n\n--b\n\
            Content-Type: text/plain\n\nx--by\n--b--\n";
        let message = parse(raw);
        if message
            .content_type()
            .and_then(|ct| ct.attribute("boundary"))
            == Some("b")
        {
            assert!(renamed(raw, &message).is_none());
        }
    }
}
