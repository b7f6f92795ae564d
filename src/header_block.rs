//! A lenient reader for RFC 5322 header blocks: the `message/feedback-report` field block
//! and the headers of the reported message. Pure; never fails, never panics.

use std::borrow::Cow;

/// The fields of a header block, in order, with lookups by case-insensitive name. Each
/// field's name (in the case it arrived in) and unfolded value sit in one string, so that
/// reading a block allocates twice, not twice per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    /// Every field's name, then its value, one field after the other.
    text: String,
    /// Where each field's name starts, its value starts (where its name ends) and its value
    /// ends, in `text`.
    spans: Vec<[usize; 3]>,
    /// The block went on past `MAX_HEADER_BLOCK_BYTES`: the fields after that were not read.
    truncated: bool,
}

/// The longest header block, in bytes, that is read; the rest is ignored, so that a hostile
/// 100,000-line header cannot cost more than this.
pub const MAX_HEADER_BLOCK_BYTES: usize = 256 * 1024;

impl HeaderBlock {
    /// Reads fields up to the first empty line (or the end). Continuation lines are joined
    /// with a single space; bytes that are not UTF-8 are replaced; lines that are not a
    /// field (no colon, or a name with spaces) are skipped.
    pub fn parse(raw: &[u8]) -> HeaderBlock {
        let longer = raw.len() > MAX_HEADER_BLOCK_BYTES;
        let raw = &raw[..raw.len().min(MAX_HEADER_BLOCK_BYTES)];
        // Only the header block is decoded, not the body after it.
        let end = block_end(raw);
        let mut block = read_fields(&decode(&raw[..end]));
        block.truncated = longer && end == raw.len();
        block
    }

    /// Whether the block went on past `MAX_HEADER_BLOCK_BYTES`, so that fields after that
    /// were not read.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// The fields, as (name, value), in order.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.spans
            .iter()
            .map(|&[name, value, end]| (&self.text[name..value], &self.text[value..end]))
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Every value of a field, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields()
            .filter(move |(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The fields of decoded header text, up to its first blank line.
fn read_fields(text: &str) -> HeaderBlock {
    let mut block = HeaderBlock {
        text: String::with_capacity(text.len()),
        spans: Vec::with_capacity(16),
        truncated: false,
    };
    // The field being read (its name's start and value's start in `block.text`), whose
    // value ends where `block.text` does.
    let mut current: Option<(usize, usize)> = None;
    let mut rest = text;
    while !rest.is_empty() {
        // '\n' is ASCII: splitting the bytes there keeps every line whole UTF-8.
        let (line, next) = match memchr::memchr(b'\n', rest.as_bytes()) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, ""),
        };
        rest = next;
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            if current.is_some() || !block.spans.is_empty() {
                break;
            }
            // Leading blank lines before any field are tolerated.
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current {
                let piece = line.trim();
                if !piece.is_empty() {
                    if block.text.len() > value {
                        block.text.push(' ');
                    }
                    block.text.push_str(piece);
                }
            }
            continue;
        }
        if let Some((name, value)) = current.take() {
            block.spans.push([name, value, block.text.len()]);
        }
        if let Some(colon) = memchr::memchr(b':', line.as_bytes()) {
            let name = line[..colon].trim_end();
            if !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii() && b != b' ' && b != b'\t')
            {
                let start = block.text.len();
                block.text.push_str(name);
                let value = block.text.len();
                block.text.push_str(line[colon + 1..].trim());
                current = Some((start, value));
            }
        }
    }
    if let Some((name, value)) = current.take() {
        block.spans.push([name, value, block.text.len()]);
    }
    block
}

/// Where reading stops: at the first blank line after the start of a field. It may say
/// later than `parse` stops (a line `parse` sees as blank or as a field only once decoded,
/// such as one of non-breaking spaces), never earlier, so `parse` reads the same fields from
/// `raw[..block_end(raw)]` as from `raw`.
fn block_end(raw: &[u8]) -> usize {
    let mut field_seen = false;
    let mut line_start = 0;
    while line_start < raw.len() {
        let line_end =
            memchr::memchr(b'\n', &raw[line_start..]).map_or(raw.len(), |p| line_start + p + 1);
        let line = &raw[line_start..line_end];
        if line.iter().all(u8::is_ascii_whitespace) {
            if field_seen {
                return line_start;
            }
        } else if !field_seen && !line.starts_with(b" ") && !line.starts_with(b"\t") {
            field_seen = line
                .iter()
                .position(|&b| b == b':')
                .map(|colon| line[..colon].trim_ascii_end())
                .is_some_and(|name| {
                    !name.is_empty()
                        && name.is_ascii()
                        && !name.iter().any(|&b| b == b' ' || b == b'\t')
                });
        }
        line_start = line_end;
    }
    raw.len()
}

/// Header bytes as text: UTF-8 where they are UTF-8, and each line that is not read as
/// Latin-1 (8-bit headers from old mailers are mostly ISO-8859-1 or windows-1252).
fn decode(raw: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(raw) {
        return Cow::Borrowed(text);
    }
    let mut text = String::with_capacity(raw.len() + 16);
    for line in raw.split_inclusive(|&b| b == b'\n') {
        match std::str::from_utf8(line) {
            Ok(valid) => text.push_str(valid),
            Err(_) => text.extend(line.iter().map(|&b| b as char)),
        }
    }
    Cow::Owned(text)
}

/// A header field value without its RFC 5322 comments (nested, with quoted pairs), quoted
/// strings left whole (a `(` in a display name in quotes is no comment).
pub fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0u32, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(c),
        }
    }
    out
}

/// Whether `raw` starts as an RFC 5322 message does: its first line that is not blank (after
/// a UTF-8 byte-order mark, and an mbox `From ` line) is a header field, a name of printable
/// ASCII (RFC 5322 `ftext`) and a colon; white space before the colon is the obsolete syntax
/// (RFC 5322 section 4.5), still accepted. A PDF, a ZIP archive or random bytes do not.
pub fn starts_with_field(raw: &[u8]) -> bool {
    let raw = raw.strip_prefix(b"\xef\xbb\xbf").unwrap_or(raw);
    let mut lines = raw
        .split(|&b| b == b'\n')
        .filter(|line| !line.iter().all(u8::is_ascii_whitespace));
    let Some(mut line) = lines.next() else {
        return false;
    };
    if line.starts_with(b"From ") {
        let Some(next) = lines.next() else {
            return false;
        };
        line = next;
    }
    let Some(colon) = memchr::memchr(b':', line) else {
        return false;
    };
    let name = line[..colon].trim_ascii_end();
    !name.is_empty() && name.iter().all(|&b| (33..=126).contains(&b))
}

/// Where the header block of a message ends: the offset just past the first empty line, or
/// the length when there is none.
pub fn body_offset(raw: &[u8]) -> usize {
    let mut line_start = 0;
    while line_start < raw.len() {
        let line_end =
            memchr::memchr(b'\n', &raw[line_start..]).map_or(raw.len(), |p| line_start + p + 1);
        let line = &raw[line_start..line_end];
        if line == b"\n" || line == b"\r\n" {
            return line_end;
        }
        line_start = line_end;
    }
    raw.len()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_block_longer_than_the_limit_says_so() {
        let mut long = String::new();
        while long.len() <= MAX_HEADER_BLOCK_BYTES {
            long.push_str("X-Filler: 0123456789012345678901234567890123456789\n");
        }
        long.push_str("X-Campaign-Ref: sub-1\n\nbody\n");
        let block = HeaderBlock::parse(long.as_bytes());
        assert!(block.is_truncated());
        assert!(block.get("X-Campaign-Ref").is_none());
        let short = HeaderBlock::parse(b"From: a@example.org\n\nbody\n");
        assert!(!short.is_truncated());
        // A short block followed by a long body is whole.
        let mut body = b"From: a@example.org\n\n".to_vec();
        body.resize(MAX_HEADER_BLOCK_BYTES * 2, b'x');
        assert!(!HeaderBlock::parse(&body).is_truncated());
    }

    use super::*;

    #[test]
    fn unfolds_continuation_lines_and_keeps_repeats() {
        let block = HeaderBlock::parse(
            b"Feedback-Type: abuse\r\nOriginal-Mail-From:\r\n  <b@example.com>\r\nOriginal-Rcpt-To: a@x\nOriginal-Rcpt-To: b@x\n\nbody: no\n",
        );
        assert_eq!(block.get("original-mail-from"), Some("<b@example.com>"));
        assert_eq!(block.get_all("ORIGINAL-RCPT-TO").count(), 2);
        assert_eq!(block.get("body"), None);
    }

    #[test]
    fn skips_lines_that_are_not_fields() {
        let block = HeaderBlock::parse(b"garbage line\nSubject: hi\nbad name: x\n");
        assert_eq!(block.fields().count(), 1);
        assert_eq!(block.get("subject"), Some("hi"));
    }

    #[test]
    fn reads_8_bit_lines_as_latin_1() {
        let block = HeaderBlock::parse(b"Subject: Soldes d'\xe9t\xe9\nFrom: a@b.example\n\n");
        assert_eq!(block.get("subject"), Some("Soldes d'\u{e9}t\u{e9}"));
    }

    /// Inputs that exercise the reader: edge cases, every fixture, and 20,000 short mixes
    /// of the bytes that matter.
    fn inputs() -> Vec<Vec<u8>> {
        let mut inputs: Vec<Vec<u8>> = vec![
            b"garbage\n\nFrom: x\n\nbody: 1\n".to_vec(),
            b"\n\n  \nA: b\r\n \t\r\nC: d\n".to_vec(),
            b"A: b\n\xc2\xa0\nC: d\n\nE: f\n".to_vec(),
            b"Name With Space: x\n\nA: b\n\nC: d\n".to_vec(),
            b"N\xe9: x\n\nA: b\n".to_vec(),
            b"A\x0b: b\n\x0b\nC: d\n\nE: f".to_vec(),
            b": empty name\n\nA: b\n".to_vec(),
            b" folded first\n\nA: b\n".to_vec(),
            "A\u{a0}: b\nB:\u{2028}c\u{2028}\n \u{a0}d\u{a0}\nC\u{3000}x: y\n".into(),
            b"A: \r\n  \r\n b\r\n\tc\r\nB:\r\n\r\n".to_vec(),
        ];
        let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/reports");
        for entry in std::fs::read_dir(fixtures).unwrap() {
            inputs.push(std::fs::read(entry.unwrap().path()).unwrap());
        }
        // Lines made of a small alphabet of the bytes that matter, in every mix.
        let alphabet: &[&[u8]] = &[
            b"A: b",
            b"\n",
            b"\r\n",
            b" ",
            b"\t",
            b":",
            b"x",
            b"\xa0",
            b"\xc2\xa0",
            b"\x0b",
            "\u{2028}".as_bytes(),
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut input = Vec::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                input.extend_from_slice(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            inputs.push(input);
        }
        inputs
    }

    /// Reading only up to `block_end` gives the same fields as reading the whole input.
    #[test]
    fn stopping_at_the_block_end_changes_nothing() {
        for input in &inputs() {
            let whole = read_fields(&decode(&input[..input.len().min(MAX_HEADER_BLOCK_BYTES)]));
            assert_eq!(
                HeaderBlock::parse(input),
                whole,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    /// The reader as it was before fields shared one string (a `String` per name and value,
    /// lines split with `str::split`): the fields it read are the ones read now.
    fn fields_before(text: &str) -> Vec<(String, String)> {
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut current: Option<(String, String)> = None;
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                if current.is_some() || !fields.is_empty() {
                    break;
                }
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some((_, value)) = current.as_mut() {
                    let piece = line.trim();
                    if !piece.is_empty() {
                        if !value.is_empty() {
                            value.push(' ');
                        }
                        value.push_str(piece);
                    }
                }
                continue;
            }
            if let Some(field) = current.take() {
                fields.push(field);
            }
            if let Some((name, value)) = line.split_once(':') {
                let name = name.trim_end();
                if !name.is_empty() && !name.contains([' ', '\t']) && name.is_ascii() {
                    current = Some((name.to_string(), value.trim().to_string()));
                }
            }
        }
        fields.extend(current);
        fields
    }

    #[test]
    fn reads_the_fields_the_reader_before_it_read() {
        for input in &inputs() {
            let text = decode(&input[..input.len().min(MAX_HEADER_BLOCK_BYTES)]);
            let now: Vec<(String, String)> = read_fields(&text)
                .fields()
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .collect();
            assert_eq!(
                now,
                fields_before(&text),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn tells_a_message_from_what_is_not_one() {
        for message in [
            &b"From: a@example.org\n\nhi\n"[..],
            b"Received: from x\r\n\tby y\r\n\r\n",
            b"\n\r\n  \nSubject: leading blank lines\n\n",
            b"From sender@example.org Mon Nov 23 10:00:00 2026\nFrom: a@example.org\n\n",
            b"\xef\xbb\xbfReturn-Path: <b@example.com>\n\n",
            b"Subject : obsolete space before the colon\n\n",
            b"X-Junk: a\0b\n\n",
            b"Subject: \xe9t\xe9\n\n",
        ] {
            assert!(starts_with_field(message), "{:?}", message.escape_ascii());
        }
        for other in [
            &b""[..],
            b" \n\r\n",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
            b"PK\x03\x04\x14\0\0\0\x08\0",
            b"\x1f\x8b\x08\0\0\0\0\0",
            b"plain text: with a colon after a space\n",
            b": no name\n",
            b" Subject: folded before any field\n",
            b"From sender@example.org Mon Nov 23 10:00:00 2026\n",
            b"N\xe9: 8-bit name\n",
        ] {
            assert!(!starts_with_field(other), "{:?}", other.escape_ascii());
        }
    }

    #[test]
    fn finds_the_body() {
        assert_eq!(body_offset(b"A: b\r\n\r\nbody"), 8);
        assert_eq!(body_offset(b"A: b\n"), 5);
    }
}
