//! What a message may hold before the MIME layer is let at it: a few shapes cost mail-parser
//! far more than their size, and anyone can mail them to the feedback address.
//!
//! - A `Content-Type` or `Content-Disposition` field with many RFC 2231 parameter sections
//!   (`name*0="x"; name*1="y"; ...`): mail-parser joins the sections with a search per
//!   section, so 80,000 of them in a 1.4 MB message took half a minute, and a 20 MB one longer
//!   than any cron interval, holding the store's lock all the while.
//! - Millions of header fields: mail-parser keeps each with its own allocations, about 300
//!   bytes apiece, so 2.5 million `X: v` lines (20 MB) took 800 MB.
//!
//! No mail carries a tenth of either limit. A message over one is quarantined, with its
//! bytes, saying why. The scan reads each line's first bytes only, and is linear. A
//! `message/*` part sent base64 or quoted-printable, which mail-parser decodes and parses
//! within the message, is decoded as mail-parser decodes it and read in turn (no other part
//! is: decoding every base64 body cost a report with a base64 HTML body 200 µs). An
//! attachment fbl parses as a message itself (an `.eml`) is scanned once decoded, before it
//! is parsed (`report_parser`).

/// The most header-field lines a message may hold, in its own header and every part's.
pub const MAX_FIELD_LINES: usize = 100_000;

/// The most `*` (RFC 2231 sections and extended values) one `Content-Type` or
/// `Content-Disposition` field may hold.
pub const MAX_PARAMETER_SECTIONS: usize = 500;

/// How deep encoded `message/*` parts are decoded and read in turn.
const MAX_DEPTH: usize = 4;

/// The most bytes of a `Content-Type` or `Content-Transfer-Encoding` value kept to read
/// its type, encoding and boundary.
const MAX_VALUE_BYTES: usize = 4096;

/// Why a message is too costly to parse, or None. Lines that look like header fields are
/// counted wherever they are: a body line shaped like one is counted too, which only makes
/// the limit come sooner for a message no feedback loop sends. A `message/*` part sent
/// base64 or quoted-printable, which mail-parser decodes and parses within the message, is
/// decoded as mail-parser decodes it and read in turn; no other part is decoded here.
pub fn too_costly(raw: &[u8]) -> Option<String> {
    scan(raw, 0)
}

/// The field being read, when its value matters.
#[derive(Clone, Copy, PartialEq)]
enum Field {
    ContentType,
    Disposition,
    Encoding,
}

fn scan(raw: &[u8], depth: usize) -> Option<String> {
    let mut fields = 0usize;
    let mut sections = 0usize;
    let mut field: Option<Field> = None;
    // This header block's Content-Type and Content-Transfer-Encoding values, unfolded.
    let mut content_type: Vec<u8> = Vec::new();
    let mut encoding: Vec<u8> = Vec::new();
    let mut boundaries: Vec<Vec<u8>> = Vec::new();
    let mut start = 0;
    while start < raw.len() {
        let end = line_end(raw, start);
        let line = &raw[start..end];
        start = end;
        if line.trim_ascii().is_empty() {
            // The end of a header block (or a blank body line): an encoded message part's
            // body comes next.
            field = None;
            let is_message = contains(&content_type, b"message/");
            let base64 = contains(&encoding, b"base64");
            let quoted = contains(&encoding, b"quoted-printable");
            if let Some(boundary) = boundary_of(&content_type) {
                boundaries.push(boundary);
            }
            content_type.clear();
            encoding.clear();
            if is_message && (base64 || quoted) && depth < MAX_DEPTH {
                let mut body_end = start;
                while body_end < raw.len() {
                    let next = line_end(raw, body_end);
                    if is_delimiter(&raw[body_end..next], &boundaries) {
                        break;
                    }
                    body_end = next;
                }
                let body = &raw[start..body_end];
                let decoded = if base64 {
                    decode_base64(body)
                } else {
                    decode_quoted_printable(body)
                };
                if let Some(why) = scan(&decoded, depth + 1) {
                    return Some(why);
                }
                start = body_end;
            }
            continue;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // A folded line goes on with the field before it.
            match field {
                Some(Field::ContentType) => {
                    sections += stars(line);
                    keep(&mut content_type, line);
                }
                Some(Field::Disposition) => sections += stars(line),
                Some(Field::Encoding) => keep(&mut encoding, line),
                None => {}
            }
        } else {
            field = None;
            let Some(name) = field_name(line) else {
                continue;
            };
            fields += 1;
            if fields > MAX_FIELD_LINES {
                return Some(format!(
                    "more than {MAX_FIELD_LINES} header fields: no report carries that \
                     many, and reading them would take gigabytes of memory (hostile input?)"
                ));
            }
            let value = &line[name.len()..];
            if name.eq_ignore_ascii_case(b"content-type") {
                field = Some(Field::ContentType);
                sections = stars(line);
                content_type.clear();
                keep(&mut content_type, value);
            } else if name.eq_ignore_ascii_case(b"content-disposition") {
                field = Some(Field::Disposition);
                sections = stars(line);
            } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
                field = Some(Field::Encoding);
                encoding.clear();
                keep(&mut encoding, value);
            }
        }
        if matches!(field, Some(Field::ContentType | Field::Disposition))
            && sections > MAX_PARAMETER_SECTIONS
        {
            return Some(format!(
                "a Content-Type or Content-Disposition field with more than \
                 {MAX_PARAMETER_SECTIONS} RFC 2231 parameter sections: no mail carries that \
                 many, and joining them would take minutes (hostile input?)"
            ));
        }
    }
    None
}

/// Where the line that starts at `start` ends: past its line feed, or at the end.
fn line_end(raw: &[u8], start: usize) -> usize {
    memchr::memchr(b'\n', &raw[start..]).map_or(raw.len(), |at| start + at + 1)
}

fn stars(line: &[u8]) -> usize {
    memchr::memchr_iter(b'*', line).count()
}

fn keep(value: &mut Vec<u8>, line: &[u8]) {
    let room = MAX_VALUE_BYTES.saturating_sub(value.len());
    value.extend(
        line[..line.len().min(room)]
            .iter()
            .map(u8::to_ascii_lowercase),
    );
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(haystack, needle).is_some()
}

/// The `boundary` parameter of a lower-cased Content-Type value, lower-cased (a delimiter
/// is then matched without case: a little wider than MIME, which only stops a decode early).
fn boundary_of(content_type: &[u8]) -> Option<Vec<u8>> {
    let at = memchr::memmem::find(content_type, b"boundary=")? + b"boundary=".len();
    let rest = &content_type[at..];
    let value: Vec<u8> = match rest.first() {
        Some(b'"') => rest[1..]
            .iter()
            .take_while(|&&b| b != b'"')
            .copied()
            .collect(),
        _ => rest
            .iter()
            .take_while(|&&b| !b.is_ascii_whitespace() && b != b';')
            .copied()
            .collect(),
    };
    (!value.is_empty()).then_some(value)
}

/// Whether a line is a delimiter of one of `boundaries` (`--BOUNDARY`, perhaps closing).
fn is_delimiter(line: &[u8], boundaries: &[Vec<u8>]) -> bool {
    let Some(rest) = line.strip_prefix(b"--") else {
        return false;
    };
    boundaries.iter().any(|boundary| {
        rest.get(..boundary.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(boundary))
    })
}

/// Base64 as mail-parser reads it: letters of the alphabet taken, `=` ends a group (what
/// follows starts a new one), anything else skipped.
fn decode_base64(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() / 4 * 3);
    let (mut bits, mut count) = (0u32, 0u8);
    for &b in body {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                // The group ends: its whole bytes out, the rest dropped.
                match count {
                    2 => out.push((bits >> 4) as u8),
                    3 => out.extend([(bits >> 10) as u8, (bits >> 2) as u8]),
                    _ => {}
                }
                (bits, count) = (0, 0);
                continue;
            }
            _ => continue,
        };
        bits = (bits << 6) | u32::from(value);
        count += 1;
        if count == 4 {
            out.extend([(bits >> 16) as u8, (bits >> 8) as u8, bits as u8]);
            (bits, count) = (0, 0);
        }
    }
    out
}

/// Quoted-printable: `=XX` a byte, `=` at a line's end a soft break, the rest as written.
fn decode_quoted_printable(body: &[u8]) -> Vec<u8> {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    while at < body.len() {
        if body[at] == b'=' {
            let rest = &body[at + 1..];
            if let Some(skip) = [&b"\r\n"[..], b"\n"]
                .iter()
                .find(|end| rest.starts_with(end))
            {
                at += 1 + skip.len();
                continue;
            }
            if let (Some(high), Some(low)) = (
                rest.first().copied().and_then(hex),
                rest.get(1).copied().and_then(hex),
            ) {
                out.push(high << 4 | low);
                at += 3;
                continue;
            }
        }
        out.push(body[at]);
        at += 1;
    }
    out
}

/// The name of the header field a line starts, if it starts one: a name of letters, digits,
/// `-`, `_` or `.` (other characters are allowed by RFC 5322, but such names do not cost the
/// MIME layer anything special), then a colon, perhaps after white space.
fn field_name(line: &[u8]) -> Option<&[u8]> {
    let colon = memchr::memchr(b':', &line[..line.len().min(80)])?;
    let name = line[..colon].trim_ascii_end();
    let is_name = !name.is_empty()
        && name
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    is_name.then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_mail_passes() {
        for fixture in std::fs::read_dir("fixtures/reports").unwrap() {
            let path = fixture.unwrap().path();
            if path.extension().is_some_and(|e| e == "eml") {
                let raw = std::fs::read(&path).unwrap();
                assert_eq!(too_costly(&raw), None, "{}", path.display());
            }
        }
        // A long file name in RFC 2231 sections, folded.
        let mut raw = b"From: a@example.com\r\nContent-Disposition: attachment;\r\n".to_vec();
        for n in 0..40 {
            raw.extend(format!(" filename*{n}*=UTF-8''part{n};\r\n").as_bytes());
        }
        raw.extend(b"\r\nbody\r\n");
        assert_eq!(too_costly(&raw), None);
    }

    #[test]
    fn many_parameter_sections_are_refused_on_one_line_or_folded() {
        let params: String = (0..600).map(|n| format!("; p{n}*{n}=\"x\"")).collect();
        let one_line = format!("From: a@example.com\nContent-Type: text/plain{params}\n\nbody\n");
        let refused = too_costly(one_line.as_bytes()).unwrap();
        assert!(refused.contains("RFC 2231 parameter sections"), "{refused}");
        let folded = format!(
            "From: a@example.com\nContent-type: text/plain{}\n\nbody\n",
            params.replace("; ", ";\n ")
        );
        assert!(too_costly(folded.as_bytes()).is_some());
        // As many stars in another field, or in a body, are nothing to the MIME layer.
        let elsewhere = format!("From: a@example.com\nX-Note: {params}\n\n{params}\n");
        assert_eq!(too_costly(elsewhere.as_bytes()), None);
    }

    /// A `message/rfc822` part sent encoded, which mail-parser decodes and parses within the
    /// message: base64 (with a folded transfer-encoding field, a lone `-` line, padding
    /// inside the body: each as mail-parser reads it), nested, and quoted-printable (soft
    /// breaks, `=2A`); an encoded part of another type is not decoded.
    #[test]
    fn many_sections_in_an_encoded_message_part_are_refused() {
        use base64::Engine;
        let params: String = (0..600).map(|n| format!(";\r\n p{n}*{n}=\"x\"")).collect();
        let inner =
            format!("From: a@example.com\r\nContent-Type: text/plain{params}\r\n\r\nhi\r\n");
        let encode = |body: &str| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(body);
            encoded
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join("\r\n")
        };
        let wrap = |kind: &str, encoding: &str, body: &str| {
            format!(
                "From: b@example.com\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: {kind}\r\nContent-Transfer-Encoding:{encoding}\r\n\r\n\
                 {body}\r\n--b--\r\n"
            )
        };
        let once = wrap("message/rfc822", " base64", &encode(&inner));
        assert!(too_costly(once.as_bytes()).is_some());
        assert!(too_costly(wrap("message/rfc822", " base64", &encode(&once)).as_bytes()).is_some());
        let folded = wrap("message/rfc822", "\r\n base64", &encode(&inner));
        assert!(too_costly(folded.as_bytes()).is_some());
        let dash = wrap(
            "message/rfc822",
            " base64",
            &format!("-\r\n{}", encode(&inner)),
        );
        assert!(too_costly(dash.as_bytes()).is_some());
        let padded = wrap(
            "message/rfc822",
            " base64",
            &format!("QQ==\r\n{}", encode(&inner)),
        );
        assert!(too_costly(padded.as_bytes()).is_some());
        let quoted: String = (0..600)
            .map(|n| format!("; p{n}=2A{n}=3D\"x\"=\r\n"))
            .collect();
        let qp = wrap(
            "message/rfc822",
            " quoted-printable",
            &format!("From: a@example.com\r\nContent-Type: text/plain{quoted}\r\n\r\nhi"),
        );
        assert!(too_costly(qp.as_bytes()).is_some());
        // Another type is not decoded here (fbl scans an attachment it parses itself).
        let html = wrap("text/html", " base64", &encode(&inner));
        assert_eq!(too_costly(html.as_bytes()), None);
        // An ordinary encoded message passes.
        let fine = wrap(
            "message/rfc822",
            " base64",
            &encode("From: a@example.com\r\n\r\nhi\r\n"),
        );
        assert_eq!(too_costly(fine.as_bytes()), None);
    }

    #[test]
    fn millions_of_fields_are_refused() {
        let mut raw = b"From: a@example.com\n".to_vec();
        raw.extend(b"X-H: v\n".repeat(MAX_FIELD_LINES));
        assert!(too_costly(&raw).unwrap().contains("header fields"));
        raw.truncate(raw.len() - 7);
        assert_eq!(too_costly(&raw), None);
    }
}
