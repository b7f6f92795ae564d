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
//! bytes, saying why. The scan reads each line's first bytes only, and is linear.

/// The most header-field lines a message may hold, in its own header and every part's.
pub const MAX_FIELD_LINES: usize = 100_000;

/// The most `*` (RFC 2231 sections and extended values) one `Content-Type` or
/// `Content-Disposition` field may hold.
pub const MAX_PARAMETER_SECTIONS: usize = 500;

/// How deep base64 bodies are decoded and read in turn (a message attached in a message
/// attached in a report, encoded at each level).
const MAX_DEPTH: usize = 4;

/// Why a message is too costly to parse, or None. Lines that look like header fields are
/// counted wherever they are: a body line shaped like one is counted too, which only makes
/// the limit come sooner for a message no feedback loop sends. What the MIME layer decodes
/// before it parses (a base64 `message/rfc822` part, an attached `.eml` fbl parses) is
/// decoded and read too, and a quoted-printable `*` (`=2A`) or soft line break hides nothing.
pub fn too_costly(raw: &[u8]) -> Option<String> {
    scan(raw, 0)
}

fn scan(raw: &[u8], depth: usize) -> Option<String> {
    let mut fields = 0usize;
    let mut sections: Option<usize> = None;
    // The field at hand ended its line with a quoted-printable soft break: the next line goes
    // on with it, whatever it starts with.
    let mut soft_break = false;
    // A `Content-Transfer-Encoding: base64` field was read in the header block at hand: its
    // body, after the blank line, is decoded and read in turn.
    let mut base64_body_next = false;
    let mut start = 0;
    while start < raw.len() {
        let end = line_end(raw, start);
        let line = &raw[start..end];
        start = end;
        if base64_body_next && line.trim_ascii().is_empty() {
            base64_body_next = false;
            let mut body_end = start;
            while body_end < raw.len() {
                let next = line_end(raw, body_end);
                let text = raw[body_end..next].trim_ascii();
                if text.is_empty() || !text.iter().all(|&b| is_base64(b)) {
                    break;
                }
                body_end = next;
            }
            if depth < MAX_DEPTH
                && body_end > start
                && let Some(decoded) = decode_base64(&raw[start..body_end])
                && let Some(why) = scan(&decoded, depth + 1)
            {
                return Some(why);
            }
            start = body_end;
            sections = None;
            continue;
        }
        let continued = soft_break || matches!(line.first(), Some(b' ' | b'\t'));
        soft_break = false;
        if continued {
            if let Some(count) = sections.as_mut() {
                *count += stars(line);
                soft_break = ends_with_soft_break(line);
            }
        } else {
            sections = None;
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
            if name.eq_ignore_ascii_case(b"content-type")
                || name.eq_ignore_ascii_case(b"content-disposition")
            {
                sections = Some(stars(line));
                soft_break = ends_with_soft_break(line);
            } else if name.eq_ignore_ascii_case(b"content-transfer-encoding") {
                let value = &line[name.len()..];
                base64_body_next = value.windows(6).any(|w| w.eq_ignore_ascii_case(b"base64"));
            }
        }
        if sections.is_some_and(|count| count > MAX_PARAMETER_SECTIONS) {
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

/// The `*` of a line, written or quoted-printable (`=2A`).
fn stars(line: &[u8]) -> usize {
    memchr::memchr_iter(b'*', line).count()
        + memchr::memchr_iter(b'=', line)
            .filter(|&at| {
                line.get(at + 1..at + 3)
                    .is_some_and(|hex| hex.eq_ignore_ascii_case(b"2a"))
            })
            .count()
}

fn ends_with_soft_break(line: &[u8]) -> bool {
    line.trim_ascii_end().ends_with(b"=")
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// A base64 body, white space and padding aside; None when it is not base64 after all.
fn decode_base64(body: &[u8]) -> Option<Vec<u8>> {
    use base64::Engine;
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    // A last lone character holds no byte: left out, as a lenient decoder does.
    let usable = compact.len() - usize::from(compact.len() % 4 == 1);
    engine.decode(&compact[..usable]).ok()
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

    /// What the MIME layer decodes before it parses: a base64 `message/rfc822` part (mail-
    /// parser parses it), an attached `.eml` (fbl parses it), nested twice; and a
    /// quoted-printable one, whose soft breaks and `=2A` hide nothing.
    #[test]
    fn many_sections_behind_an_encoding_are_refused() {
        use base64::Engine;
        let params: String = (0..600).map(|n| format!(";\r\n p{n}*{n}=\"x\"")).collect();
        let inner =
            format!("From: a@example.com\r\nContent-Type: text/plain{params}\r\n\r\nhi\r\n");
        let wrap = |body: &str| {
            let encoded = base64::engine::general_purpose::STANDARD.encode(body);
            let lines: Vec<&str> = encoded
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect();
            format!(
                "From: b@example.com\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
                 --b\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n\
                 {}\r\n--b--\r\n",
                lines.join("\r\n")
            )
        };
        let once = wrap(&inner);
        assert!(too_costly(once.as_bytes()).unwrap().contains("RFC 2231"));
        let twice = wrap(&once);
        assert!(too_costly(twice.as_bytes()).unwrap().contains("RFC 2231"));
        let qp = format!(
            "From: b@example.com\r\nContent-Type: message/rfc822\r\n\
             Content-Transfer-Encoding: quoted-printable\r\n\r\nFrom: a@example.com\r\n\
             Content-Type: text/plain{}\r\n\r\nhi\r\n",
            (0..600)
                .map(|n| format!("; p{n}=2A{n}=3D\"x\"=\r\n"))
                .collect::<String>()
        );
        assert!(too_costly(qp.as_bytes()).unwrap().contains("RFC 2231"));
        // An ordinary base64 attachment is decoded and passes.
        assert_eq!(
            too_costly(wrap("From: a@example.com\r\n\r\nhi\r\n").as_bytes()),
            None
        );
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
