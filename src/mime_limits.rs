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
//! bytes, saying why. The scan reads each line's first bytes only, and is linear. An
//! attachment fbl parses as a message (an `.eml`) is scanned once decoded, before it is
//! parsed. A `message/rfc822` part sent base64- or quoted-printable-encoded, which mail-parser
//! decodes and parses within the outer message, is not scanned: decoding every such part as
//! mail-parser does was tried and cost more than it saved (see the fourteenth session's notes).

/// The most header-field lines a message may hold, in its own header and every part's.
pub const MAX_FIELD_LINES: usize = 100_000;

/// The most `*` (RFC 2231 sections and extended values) one `Content-Type` or
/// `Content-Disposition` field may hold.
pub const MAX_PARAMETER_SECTIONS: usize = 500;

/// Why a message is too costly to parse, or None. Lines that look like header fields are
/// counted wherever they are: a body line shaped like one is counted too, which only makes
/// the limit come sooner for a message no feedback loop sends.
pub fn too_costly(raw: &[u8]) -> Option<String> {
    let mut fields = 0usize;
    let mut sections: Option<usize> = None;
    let mut start = 0;
    while start < raw.len() {
        let end = memchr::memchr(b'\n', &raw[start..]).map_or(raw.len(), |at| start + at + 1);
        let line = &raw[start..end];
        start = end;
        match line.first() {
            // A folded line goes on with the field before it.
            Some(b' ' | b'\t') => {
                if let Some(count) = sections.as_mut() {
                    *count += memchr::memchr_iter(b'*', line).count();
                }
            }
            _ => {
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
                    sections = Some(memchr::memchr_iter(b'*', line).count());
                }
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

    #[test]
    fn millions_of_fields_are_refused() {
        let mut raw = b"From: a@example.com\n".to_vec();
        raw.extend(b"X-H: v\n".repeat(MAX_FIELD_LINES));
        assert!(too_costly(&raw).unwrap().contains("header fields"));
        raw.truncate(raw.len() - 7);
        assert_eq!(too_costly(&raw), None);
    }
}
