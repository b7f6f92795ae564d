//! What makes two deliveries of a message the same message. Pure.
//!
//! A report reaches fbl more than once when the provider's mail is delivered to two of the
//! sender's addresses (an alias and the mailbox behind it), when a mailbox is exported to an
//! mbox and ingested beside the Maildir it came from, or when one copy went through a relay
//! that rewrote line endings. The copies' bytes differ only in how the message travelled:
//! trace fields added on the way (`Received`, `Delivered-To`, `X-Original-To`,
//! `Return-Path`, `Authentication-Results`, a spam filter's `X-` fields) and CRLF against LF.
//! Counted twice, one complaint would weigh double in every rate.
//!
//! The content key is a SHA-256 over what the sender of the message wrote: the fields that
//! name and describe it ([`IDENTITY_FIELDS`], unfolded, white space collapsed) and its body
//! with line endings made LF and trailing white space at its end left out. Two messages with
//! the same key say the same thing, from the same author, under the same Message-ID and Date.
//! A message without a Message-ID has no identity of its own to go by: its key is taken over
//! all of its bytes, so that only an exact copy shares it.

use sha2::{Digest, Sha256};

/// The header fields that belong to the message itself, not to its delivery. A copy keeps
/// them as they were; two different reports never share all of them and a body.
pub const IDENTITY_FIELDS: [&str; 6] = [
    "message-id",
    "date",
    "from",
    "to",
    "subject",
    "content-type",
];

/// A message's content key (see the module's documentation).
pub fn content_key(raw: &[u8]) -> [u8; 32] {
    let body_at = crate::header_block::body_offset(raw);
    let mut hasher = Sha256::new();
    hasher.update(b"fbl content key 1\n");
    let mut message_id = false;
    // The fields as hashed, in one buffer: one `update` for them all, not one a byte.
    let mut fields = Vec::with_capacity(512);
    for_each_field(&raw[..body_at], |name, value| {
        let Some(known) = IDENTITY_FIELDS
            .iter()
            .find(|known| name.eq_ignore_ascii_case(known.as_bytes()))
        else {
            return;
        };
        message_id |= *known == "message-id";
        fields.extend_from_slice(known.as_bytes());
        fields.push(b':');
        // Folding and runs of white space are how a field was written out, not what it says.
        let mut space = false;
        let mut written = false;
        for &byte in value {
            if matches!(byte, b' ' | b'\t' | b'\r' | b'\n') {
                space = written;
            } else {
                if space {
                    fields.push(b' ');
                    space = false;
                }
                fields.push(byte);
                written = true;
            }
        }
        fields.push(b'\n');
    });
    hasher.update(&fields);
    if !message_id {
        let mut exact = Sha256::new();
        exact.update(b"fbl content key 1, exact\n");
        exact.update(raw);
        return exact.finalize().into();
    }
    hasher.update(b"\n");
    let body = &raw[body_at..];
    let end = body
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .map_or(0, |last| last + 1);
    let mut rest = &body[..end];
    while let Some(at) = memchr::memmem::find(rest, b"\r\n") {
        hasher.update(&rest[..at]);
        hasher.update(b"\n");
        rest = &rest[at + 2..];
    }
    hasher.update(rest);
    hasher.finalize().into()
}

/// Calls `each(name, value)` for every field of a header block, the value with its
/// continuation lines (and their line breaks) as they are. Lines that are not a field are
/// skipped.
fn for_each_field(block: &[u8], mut each: impl FnMut(&[u8], &[u8])) {
    let mut field: Option<(usize, usize, usize)> = None; // name start, colon, end
    let mut at = 0;
    while at < block.len() {
        let end = memchr::memchr(b'\n', &block[at..]).map_or(block.len(), |p| at + p + 1);
        let line = &block[at..end];
        if matches!(line.first(), Some(b' ' | b'\t')) {
            if let Some((_, _, field_end)) = field.as_mut() {
                *field_end = end;
            }
        } else {
            if let Some((start, colon, field_end)) = field.take() {
                each(&block[start..colon], &block[colon + 1..field_end]);
            }
            field = memchr::memchr(b':', line)
                .filter(|&colon| colon > 0 && !line[..colon].iter().any(u8::is_ascii_whitespace))
                .map(|colon| (at, at + colon, end));
        }
        at = end;
    }
    if let Some((start, colon, field_end)) = field {
        each(&block[start..colon], &block[colon + 1..field_end]);
    }
}

#[cfg(test)]
mod tests {
    use super::content_key;

    const REPORT: &str = "Return-Path: <staff@hotmail.com>\r\n\
        Received: from mx.hotmail.com by mx.sender.example; Tue, 17 Nov 2026 09:00:01 +0000\r\n\
        Message-ID: <r1@hotmail.com>\r\n\
        Date: Tue, 17 Nov 2026 09:00:00 +0000\r\n\
        From: staff@hotmail.com\r\n\
        To: fbl@sender.example\r\n\
        Subject: complaint about\r\n message\r\n\
        Content-Type: multipart/report; report-type=feedback-report;\r\n\tboundary=\"b1\"\r\n\
        \r\n\
        --b1\r\n\
        Content-Type: text/plain\r\n\
        \r\n\
        This is an email abuse report\r\n\
        --b1--\r\n";

    #[test]
    fn copies_that_differ_in_delivery_have_one_key() {
        let key = content_key(REPORT.as_bytes());
        // Another mailbox's trace fields, in front and among the others.
        let aliased = format!(
            "Delivered-To: abuse@sender.example\r\nX-Original-To: fbl-alias@sender.example\r\n{}",
            REPORT.replace(
                "From: staff",
                "Authentication-Results: mx2; dkim=pass\r\nFrom: staff"
            )
        );
        assert_eq!(content_key(aliased.as_bytes()), key);
        // LF line endings, a final newline more, folding undone.
        let lf = REPORT.replace("\r\n", "\n") + "\n";
        assert_eq!(content_key(lf.as_bytes()), key);
        let unfolded = REPORT.replace("about\r\n message", "about message");
        assert_eq!(content_key(unfolded.as_bytes()), key);
        // The field's name in another case is the same field.
        assert_eq!(
            content_key(REPORT.replace("Message-ID:", "Message-Id:").as_bytes()),
            key
        );
    }

    #[test]
    fn another_report_has_another_key() {
        let key = content_key(REPORT.as_bytes());
        for (from, to) in [
            ("<r1@hotmail.com>", "<r2@hotmail.com>"),
            ("09:00:00 +0000", "09:00:01 +0000"),
            ("From: staff", "From: other"),
            ("To: fbl@", "To: abuse@"),
            ("complaint about", "complaint on"),
            ("boundary=\"b1\"", "boundary=\"b2\""),
            ("an email abuse report", "an email abuse report."),
            // White space inside a line of the body is what it says.
            ("an email abuse", "an  email abuse"),
        ] {
            let other = REPORT.replacen(from, to, 1);
            assert_ne!(other, REPORT, "{from}");
            assert_ne!(content_key(other.as_bytes()), key, "{from} -> {to}");
        }
        // A field missing is not the same as a field present.
        let without = REPORT.replace("To: fbl@sender.example\r\n", "");
        assert_ne!(content_key(without.as_bytes()), key);
        // Bodies that differ only in how a line ends inside: CR alone is content.
        assert_ne!(
            content_key(b"Subject: a\n\nx\ry\n"),
            content_key(b"Subject: a\n\nx\ny\n")
        );
    }

    #[test]
    fn a_message_without_a_message_id_is_the_same_only_when_its_bytes_are() {
        assert_eq!(content_key(b"Subject: a\n"), content_key(b"Subject: a\n"));
        assert_ne!(content_key(b"Subject: a\n"), content_key(b"Subject: b\n"));
        assert_ne!(
            content_key(b"not a message"),
            content_key(b"not a message either")
        );
        assert_ne!(content_key(b""), content_key(b"\r\n"));
        let plain = "Received: by a\nSubject: hello\n\nbody\n";
        assert_ne!(
            content_key(plain.as_bytes()),
            content_key(plain.replace("by a", "by b").as_bytes())
        );
        assert_ne!(
            content_key(plain.as_bytes()),
            content_key(plain.replace('\n', "\r\n").as_bytes())
        );
        // With a Message-ID, the same message whatever its trace.
        let identified = format!("Message-ID: <m@x>\n{plain}");
        assert_eq!(
            content_key(identified.as_bytes()),
            content_key(identified.replace("by a", "by b").as_bytes())
        );
    }
}
