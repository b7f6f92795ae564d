//! A lenient reader for RFC 5322 header blocks: the `message/feedback-report` field block
//! and the headers of the reported message. Pure; never fails, never panics.

use std::borrow::Cow;

/// One unfolded header field. `name` keeps the case it arrived in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub name: String,
    pub value: String,
}

/// The fields of a header block, in order, with lookups by case-insensitive name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderBlock {
    pub fields: Vec<Field>,
}

/// The longest header block, in bytes, that is read; the rest is ignored, so that a hostile
/// 100,000-line header cannot cost more than this.
pub const MAX_HEADER_BLOCK_BYTES: usize = 256 * 1024;

impl HeaderBlock {
    /// Reads fields up to the first empty line (or the end). Continuation lines are joined
    /// with a single space; bytes that are not UTF-8 are replaced; lines that are not a
    /// field (no colon, or a name with spaces) are skipped.
    pub fn parse(raw: &[u8]) -> HeaderBlock {
        let raw = &raw[..raw.len().min(MAX_HEADER_BLOCK_BYTES)];
        let text: Cow<str> = decode(raw);
        let mut fields: Vec<Field> = Vec::new();
        let mut current: Option<Field> = None;
        for line in text.split('\n') {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.trim().is_empty() {
                if current.is_some() || !fields.is_empty() {
                    break;
                }
                // Leading blank lines before any field are tolerated.
                continue;
            }
            if line.starts_with([' ', '\t']) {
                if let Some(field) = current.as_mut() {
                    let piece = line.trim();
                    if !piece.is_empty() {
                        if !field.value.is_empty() {
                            field.value.push(' ');
                        }
                        field.value.push_str(piece);
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
                    current = Some(Field {
                        name: name.to_string(),
                        value: value.trim().to_string(),
                    });
                }
            }
        }
        if let Some(field) = current.take() {
            fields.push(field);
        }
        HeaderBlock { fields }
    }

    /// The first value of a field.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value.as_str())
    }

    /// Every value of a field, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |field| field.name.eq_ignore_ascii_case(name))
            .map(|field| field.value.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
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

/// Where the header block of a message ends: the offset just past the first empty line, or
/// the length when there is none.
pub fn body_offset(raw: &[u8]) -> usize {
    let mut line_start = 0;
    while line_start < raw.len() {
        let line_end = raw[line_start..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(raw.len(), |p| line_start + p + 1);
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
        assert_eq!(block.fields.len(), 1);
        assert_eq!(block.get("subject"), Some("hi"));
    }

    #[test]
    fn reads_8_bit_lines_as_latin_1() {
        let block = HeaderBlock::parse(b"Subject: Soldes d'\xe9t\xe9\nFrom: a@b.example\n\n");
        assert_eq!(block.get("subject"), Some("Soldes d'\u{e9}t\u{e9}"));
    }

    #[test]
    fn finds_the_body() {
        assert_eq!(body_offset(b"A: b\r\n\r\nbody"), 8);
        assert_eq!(body_offset(b"A: b\n"), 5);
    }
}
