//! Tests of the send log reader: golden files under `fixtures/sendlog/`, one case per quirk
//! through `check`, and a property that no input makes the reader panic.

use fbl::sendlog::{ReadOptions, SendLogEntry, SendLogError, SendLogFormat, read_send_log};
use std::fmt::Write as _;
use std::io::{self, BufReader, Read};
use std::path::Path;

/// One line per item: an entry's set fields, or `error line N: reason`.
fn render(items: impl Iterator<Item = Result<SendLogEntry, SendLogError>>) -> String {
    let mut out = String::new();
    for item in items {
        match item {
            Ok(entry) => {
                let fields = [
                    ("message_id", &entry.message_id),
                    ("id", &entry.id),
                    ("campaign", &entry.campaign),
                    ("list", &entry.list),
                    ("source_ip", &entry.source_ip),
                    ("sent_at", &entry.sent_at),
                ];
                write!(out, "{}", entry.recipient).unwrap();
                for (name, value) in fields {
                    if let Some(value) = value {
                        write!(out, " {name}={value}").unwrap();
                    }
                }
                out.push('\n');
            }
            Err(error) => writeln!(out, "error {error}").unwrap(),
        }
    }
    out
}

fn check_with(format: SendLogFormat, options: &ReadOptions, input: &str, expected: &str) {
    let got = render(read_send_log(format, input.as_bytes(), options));
    let expected: String = expected
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(|line| format!("{line}\n"))
        .collect();
    assert_eq!(got, expected, "\nexpected:\n{expected}\ngot:\n{got}");
}

fn check(format: SendLogFormat, input: &str, expected: &str) {
    check_with(format, &ReadOptions::utc(2026), input, expected);
}

mod golden {
    use super::*;

    /// The JSON Lines a golden file holds: each entry as an object, each error as
    /// `{"error": "line N: reason"}`.
    fn golden_output(format: SendLogFormat, input: &[u8]) -> String {
        let mut out = String::new();
        for item in read_send_log(format, input, &ReadOptions::utc(2026)) {
            let line = match item {
                Ok(entry) => serde_json::to_string(&entry).unwrap(),
                Err(error) => serde_json::json!({ "error": error.to_string() }).to_string(),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The first few lines that differ, as `expected` and `got` pairs.
    fn line_diff(expected: &str, actual: &str) -> String {
        let (expected, actual): (Vec<_>, Vec<_>) =
            (expected.lines().collect(), actual.lines().collect());
        (0..expected.len().max(actual.len()))
            .filter(|&index| expected.get(index) != actual.get(index))
            .take(5)
            .map(|index| {
                let missing = "(no line)";
                format!(
                    "  line {}\n    expected: {}\n    got:      {}\n",
                    index + 1,
                    expected.get(index).unwrap_or(&missing),
                    actual.get(index).unwrap_or(&missing)
                )
            })
            .collect()
    }

    fn format_of(path: &Path) -> Option<SendLogFormat> {
        let name = path.file_name()?.to_str()?;
        if name.ends_with(".expected.jsonl") {
            return None;
        }
        match path.extension()?.to_str()? {
            "csv" => Some(SendLogFormat::Csv),
            "jsonl" => Some(SendLogFormat::Jsonl),
            "log" => Some(SendLogFormat::Postfix),
            _ => None,
        }
    }

    /// Reads every fixture with LF and with CRLF line ends and compares with
    /// `NAME.expected.jsonl`. On a mismatch it writes `NAME.actual`; with
    /// `FBL_UPDATE_GOLDEN=1` it rewrites the expected file instead.
    #[test]
    fn fixtures_match_their_expected_output() {
        let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sendlog");
        let update = std::env::var_os("FBL_UPDATE_GOLDEN").is_some_and(|value| value == "1");
        let mut paths: Vec<_> = std::fs::read_dir(&folder)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        paths.sort();
        let mut cases = 0;
        let mut failures = Vec::new();
        for path in paths {
            let Some(format) = format_of(&path) else {
                continue;
            };
            let input = std::fs::read_to_string(&path).unwrap();
            let expected_path = path.with_file_name(format!(
                "{}.expected.jsonl",
                path.file_name().unwrap().to_str().unwrap()
            ));
            let actual = golden_output(format, input.as_bytes());
            if update {
                std::fs::write(&expected_path, &actual).unwrap();
            }
            let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
            let actual_path = path.with_extension(format!(
                "{}.actual",
                path.extension().unwrap().to_str().unwrap()
            ));
            if actual == expected {
                let _ = std::fs::remove_file(&actual_path);
            } else {
                std::fs::write(&actual_path, &actual).unwrap();
                failures.push(format!(
                    "{}: output differs from {} (written to {}):\n{}",
                    path.display(),
                    expected_path.display(),
                    actual_path.display(),
                    line_diff(&expected, &actual)
                ));
            }
            let crlf = input.replace('\n', "\r\n");
            if golden_output(format, crlf.as_bytes()) != actual {
                failures.push(format!(
                    "{}: CRLF line ends change the output",
                    path.display()
                ));
            }
            cases += 1;
        }
        assert!(cases >= 4, "only {cases} golden cases ran");
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }
}

mod csv {
    use super::*;

    #[test]
    fn missing_recipient_column_is_one_error_on_the_header() {
        check(
            SendLogFormat::Csv,
            "message_id,name\n<a@x>,Alice\n<b@x>,Bob\n",
            "error line 1: csv header has no recipient column (accepted names: recipient, rcpt, \
             rcpt_to, to, email, email_address, address; found: message_id, name)",
        );
    }

    #[test]
    fn header_needs_a_message_id_or_an_id_column() {
        check(
            SendLogFormat::Csv,
            "email,campaign\nann@example.org,c1\n",
            "error line 1: csv header has neither a message_id nor an id column (accepted names: \
             message_id, messageid, msgid, msg_id; id, recipient_id, subscriber_id; found: email, campaign)",
        );
    }

    #[test]
    fn an_id_column_is_enough_without_message_id() {
        check(
            SendLogFormat::Csv,
            "ID,Recipient\nu-1,ann@example.org\n",
            "ann@example.org id=u-1",
        );
    }

    #[test]
    fn two_columns_for_one_field_is_an_error() {
        check(
            SendLogFormat::Csv,
            "message_id,email,to\n<a@x>,ann@example.org,bob@example.org\n",
            "error line 1: csv header names the recipient field twice: columns `email` and `to`",
        );
    }

    /// ISO 8601 forms that exports write: an offset without a colon (`+0100`: Python's
    /// `%z`, PHP's `DATE_ISO8601`), a space for the `T`, a space before the offset (Ruby), a
    /// date alone. The first was a bad line, though the Postfix reader took `+0100`.
    #[test]
    fn sent_at_in_iso_8601_forms_is_read() {
        check(
            SendLogFormat::Csv,
            "message_id,recipient,sent_at\n\
             <1@x>,ann@example.org,2026-11-28T10:00:00+0100\n\
             <2@x>,bob@example.org,2026-11-28 10:00:00+01:00\n\
             <3@x>,cat@example.org,2026-11-28 10:00:00 +0100\n\
             <4@x>,dan@example.org,2026-11-28\n",
            "ann@example.org message_id=1@x sent_at=2026-11-28T09:00:00Z
             bob@example.org message_id=2@x sent_at=2026-11-28T09:00:00Z
             cat@example.org message_id=3@x sent_at=2026-11-28T09:00:00Z
             dan@example.org message_id=4@x sent_at=2026-11-28T00:00:00Z",
        );
        check(
            SendLogFormat::Jsonl,
            r#"{"message_id": "<1@x>", "recipient": "ann@example.org", "sent_at": "2026-11-28T10:00:00.250+0100"}"#,
            "ann@example.org message_id=1@x sent_at=2026-11-28T09:00:00Z",
        );
    }

    #[test]
    fn bad_row_is_an_error_with_its_line_number_and_the_others_are_read() {
        check(
            SendLogFormat::Csv,
            "message_id,recipient,sent_at\n\
             <1@x>,ann@example.org,2026-11-28 01:49:26\n\
             <2@x>,not-an-address,2026-11-28 01:49:27\n\
             \n\
             <3@x>,bob@example.org,yesterday\n\
             <4@x>,cat@example.org,\n",
            "ann@example.org message_id=1@x sent_at=2026-11-28T01:49:26Z
             error line 3: recipient `not-an-address` is not an email address
             error line 5: sent_at `yesterday` is not RFC 3339, `YYYY-MM-DD HH:MM:SS` or Unix seconds
             cat@example.org message_id=4@x",
        );
    }

    #[test]
    fn semicolon_and_tab_delimiters_are_recognised_from_the_header() {
        check(
            SendLogFormat::Csv,
            "message_id;recipient;campaign\n<1@x>;ann@example.org;\"a;b\"\n",
            "ann@example.org message_id=1@x campaign=a;b",
        );
        check(
            SendLogFormat::Csv,
            "message_id\trecipient\n<1@x>\tann@example.org\n",
            "ann@example.org message_id=1@x",
        );
    }

    /// Excel writes a byte order mark before the header.
    #[test]
    fn byte_order_mark_before_the_header_is_ignored() {
        check(
            SendLogFormat::Csv,
            "\u{feff}message_id,recipient\n<1@x>,ann@example.org\n",
            "ann@example.org message_id=1@x",
        );
    }

    #[test]
    fn empty_input_and_a_header_alone_have_no_entries_and_no_error() {
        // A mailer that starts a new CSV file after rotating writes its header with its first
        // send: until then the file is empty, and `fbl run` must not call that a bad line at
        // every run.
        check(SendLogFormat::Csv, "", "");
        check(SendLogFormat::Csv, "\n\n", "");
        check(SendLogFormat::Csv, "message_id,recipient\n", "");
    }

    #[test]
    fn quoted_field_cannot_span_lines() {
        check(
            SendLogFormat::Csv,
            "message_id,recipient,campaign\n<1@x>,ann@example.org,\"two\nlines\"\n<2@x>,bob@example.org,c\n",
            "error line 2: unterminated quoted field
             error line 3: missing recipient
             bob@example.org message_id=2@x campaign=c",
        );
    }

    #[test]
    fn invalid_utf8_row_is_an_error() {
        let mut input =
            b"message_id,recipient\n<1@x>,ann@example.org\n<2@x>,b\xffb@example.org\n".to_vec();
        input.extend_from_slice(b"<3@x>,cat@example.org\n");
        let got = render(read_send_log(
            SendLogFormat::Csv,
            input.as_slice(),
            &ReadOptions::utc(2026),
        ));
        assert_eq!(
            got,
            "ann@example.org message_id=1@x\nerror line 3: row is not valid UTF-8\ncat@example.org message_id=3@x\n"
        );
    }
}

mod jsonl {
    use super::*;

    #[test]
    fn numbers_are_accepted_where_they_make_sense() {
        check(
            SendLogFormat::Jsonl,
            r#"{"message_id":"<1@x>","recipient":"ann@example.org","id":42,"list":7,"sent_at":1795830566}"#,
            "ann@example.org message_id=1@x id=42 list=7 sent_at=2026-11-28T01:49:26Z",
        );
    }

    #[test]
    fn bad_lines_are_errors_and_blank_lines_are_skipped() {
        check(
            SendLogFormat::Jsonl,
            "\n{\"message_id\":\"<1@x>\",\"recipient\":\"ann@example.org\"}\n  \nnull\n{\"recipient\":\"bob@example.org\"}\n{\"message_id\":\"<3@x>\",\"recipient\":[\"cat@example.org\"]}\n",
            "ann@example.org message_id=1@x
             error line 4: not a JSON object
             error line 5: bob@example.org has neither a message_id nor an id
             error line 6: `recipient` is neither a string nor a number",
        );
    }

    #[test]
    fn bad_source_ip_is_an_error() {
        check(
            SendLogFormat::Jsonl,
            r#"{"message_id":"<1@x>","recipient":"ann@example.org","source_ip":"mx.example.org"}"#,
            "error line 1: source_ip `mx.example.org` is not an IP address",
        );
    }
}

mod postfix {
    use super::*;

    fn cleanup(stamp: &str, queue_id: &str, message_id: &str) -> String {
        format!("{stamp} mail01 postfix/cleanup[10]: {queue_id}: message-id=<{message_id}>\n")
    }

    fn delivery(stamp: &str, queue_id: &str, recipient: &str, status: &str) -> String {
        format!(
            "{stamp} mail01 postfix/smtp[20]: {queue_id}: to=<{recipient}>, relay=mx.example.org[192.0.2.25]:25, \
             delay=1, delays=0.1/0/0.5/0.4, dsn=2.0.0, status={status} (250 2.0.0 Ok)\n"
        )
    }

    fn removed(stamp: &str, queue_id: &str) -> String {
        format!("{stamp} mail01 postfix/qmgr[30]: {queue_id}: removed\n")
    }

    #[test]
    fn every_delivered_recipient_of_a_message_is_an_entry() {
        let log = [
            cleanup("Nov 28 01:49:25", "4ABC12345", "m1@x"),
            delivery("Nov 28 01:49:26", "4ABC12345", "ann@example.org", "sent"),
            delivery("Nov 28 01:49:26", "4ABC12345", "bob@example.org", "sent"),
            delivery("Nov 28 01:49:27", "4ABC12345", "cat@example.org", "bounced"),
            delivery("Nov 28 01:49:27", "4ABC12345", "dan@example.org", "sent"),
            removed("Nov 28 01:49:27", "4ABC12345"),
        ]
        .concat();
        check(
            SendLogFormat::Postfix,
            &log,
            "ann@example.org message_id=m1@x sent_at=2026-11-28T01:49:26Z
             bob@example.org message_id=m1@x sent_at=2026-11-28T01:49:26Z
             dan@example.org message_id=m1@x sent_at=2026-11-28T01:49:27Z",
        );
    }

    #[test]
    fn deferred_then_sent_is_one_entry_at_the_time_it_was_sent() {
        let log = [
            cleanup("Nov 28 01:49:25", "4Ntq8n0Hq1z1xR3", "m1@x"),
            delivery(
                "Nov 28 01:49:26",
                "4Ntq8n0Hq1z1xR3",
                "ann@example.org",
                "deferred",
            ),
            delivery(
                "Nov 28 02:19:26",
                "4Ntq8n0Hq1z1xR3",
                "ann@example.org",
                "deferred",
            ),
            delivery(
                "Nov 28 03:19:26",
                "4Ntq8n0Hq1z1xR3",
                "ann@example.org",
                "sent",
            ),
            removed("Nov 28 03:19:26", "4Ntq8n0Hq1z1xR3"),
        ]
        .concat();
        check(
            SendLogFormat::Postfix,
            &log,
            "ann@example.org message_id=m1@x sent_at=2026-11-28T03:19:26Z",
        );
    }

    /// A hop to a content filter (amavisd-new on 127.0.0.1:10024), as Postfix's smtp client
    /// logs it: the filter gave the message back to Postfix, which queued it as `next`.
    fn hop(stamp: &str, queue_id: &str, recipient: &str, next: &str) -> String {
        format!(
            "{stamp} mail01 postfix/smtp[21]: {queue_id}: to=<{recipient}>, relay=127.0.0.1[127.0.0.1]:10024, \
             delay=0.75, delays=0.1/0.02/0.01/0.62, dsn=2.0.0, status=sent (250 2.0.0 from \
             MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as {next})\n"
        )
    }

    fn outlook_block(stamp: &str, queue_id: &str, recipient: &str) -> String {
        format!(
            "{stamp} mail01 postfix/smtp[22]: {queue_id}: to=<{recipient}>, \
             relay=outlook-example.mail.protection.outlook.example[192.0.2.77]:25, delay=0.9, \
             delays=0.01/0.01/0.4/0.48, dsn=5.7.1, status=bounced (host \
             outlook-example.mail.protection.outlook.example[192.0.2.77] said: 550 5.7.1 \
             Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your \
             Internet service provider since part of their network is on our block list \
             (S3150). (in reply to MAIL FROM command))\n"
        )
    }

    /// A `status=sent` to a content filter is a hop, not a send: the message queued again
    /// under a queue id of the same log, with the same Message-ID, is delivered, deferred or
    /// bounced later, and that is the recipient's outcome. It used to be an entry at the
    /// hop's time, so a message Outlook.com then refused counted as sent.
    #[test]
    fn a_hop_to_a_content_filter_is_not_a_send_its_requeued_delivery_is() {
        let log = [
            cleanup("Nov 28 09:12:01", "4F1A2B3C4D", "m1@x"),
            cleanup("Nov 28 09:12:02", "5A6B7C8D9E", "m1@x"),
            hop(
                "Nov 28 09:12:02",
                "4F1A2B3C4D",
                "zoe@outlook.example",
                "5A6B7C8D9E",
            ),
            hop(
                "Nov 28 09:12:02",
                "4F1A2B3C4D",
                "ann@example.org",
                "5A6B7C8D9E",
            ),
            removed("Nov 28 09:12:02", "4F1A2B3C4D"),
            delivery("Nov 28 09:12:03", "5A6B7C8D9E", "ann@example.org", "sent"),
            outlook_block("Nov 28 09:12:03", "5A6B7C8D9E", "zoe@outlook.example"),
            removed("Nov 28 09:12:03", "5A6B7C8D9E"),
        ]
        .concat();
        check(
            SendLogFormat::Postfix,
            &log,
            "ann@example.org message_id=m1@x sent_at=2026-11-28T09:12:03Z",
        );
    }

    /// The requeued message may be delivered and removed before the hop's own line is
    /// logged (the filter answers late): the hop is still no send.
    #[test]
    fn a_hop_logged_after_its_requeued_message_was_removed_is_not_a_send() {
        let log = [
            cleanup("Nov 28 09:12:01", "4F1A2B3C4D", "m1@x"),
            cleanup("Nov 28 09:12:02", "5A6B7C8D9E", "m1@x"),
            outlook_block("Nov 28 09:12:02", "5A6B7C8D9E", "zoe@outlook.example"),
            removed("Nov 28 09:12:02", "5A6B7C8D9E"),
            hop(
                "Nov 28 09:12:03",
                "4F1A2B3C4D",
                "zoe@outlook.example",
                "5A6B7C8D9E",
            ),
            removed("Nov 28 09:12:03", "4F1A2B3C4D"),
        ]
        .concat();
        check(SendLogFormat::Postfix, &log, "");
    }

    /// A relayhost on loopback (stunnel to a smarthost, a local KumoMTA or PowerMTA) is a
    /// way out: its `queued as` names a queue id that is none of this log's, and the
    /// delivery is a send. So is a `queued as` naming a queue id of this log that holds
    /// another message (another host's queue id reused, a coincidence).
    #[test]
    fn a_loopback_relayhost_whose_queue_id_is_not_in_the_log_is_a_send() {
        let log = [
            cleanup("Nov 28 10:00:00", "7D8E9F0A1B", "m2@x"),
            "Nov 28 10:00:01 mail01 postfix/smtp[20]: 7D8E9F0A1B: to=<cat@example.com>, \
             relay=127.0.0.1[127.0.0.1]:10465, delay=0.4, delays=0.05/0.01/0.2/0.14, \
             dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4NvC2m3qRst5Uv6)\n"
                .to_string(),
            cleanup("Nov 28 10:00:02", "9A8B7C6D5E", "other@x"),
            hop(
                "Nov 28 10:00:03",
                "7D8E9F0A1B",
                "dan@example.com",
                "9A8B7C6D5E",
            ),
            removed("Nov 28 10:00:03", "7D8E9F0A1B"),
        ]
        .concat();
        check(
            SendLogFormat::Postfix,
            &log,
            "cat@example.com message_id=m2@x sent_at=2026-11-28T10:00:01Z
             dan@example.com message_id=m2@x sent_at=2026-11-28T10:00:03Z",
        );
    }

    /// A hop in one log whose requeued message is bounced in the next: the requeued queue
    /// id is carried like any other, and the hop in the first log was no send. A hop in the
    /// next log to a queue id the first one opened is one too.
    #[test]
    fn a_hop_and_its_requeued_delivery_in_two_logs() {
        let first = [
            cleanup("Nov 28 09:12:01", "4F1A2B3C4D", "m1@x"),
            cleanup("Nov 28 09:12:02", "5A6B7C8D9E", "m1@x"),
            hop(
                "Nov 28 09:12:02",
                "4F1A2B3C4D",
                "zoe@outlook.example",
                "5A6B7C8D9E",
            ),
            removed("Nov 28 09:12:02", "4F1A2B3C4D"),
            cleanup("Nov 28 09:20:00", "4B2C3D4E5F", "m3@x"),
            cleanup("Nov 28 09:20:01", "6C7D8E9F0A", "m3@x"),
        ]
        .concat();
        let mut reader = read_send_log(
            SendLogFormat::Postfix,
            first.as_bytes(),
            &ReadOptions::utc(2026),
        );
        assert_eq!(render(reader.by_ref()), "");
        let open = reader.open_queue_ids();
        let second = [
            hop(
                "Nov 28 09:20:01",
                "4B2C3D4E5F",
                "bob@example.net",
                "6C7D8E9F0A",
            ),
            removed("Nov 28 09:20:01", "4B2C3D4E5F"),
            outlook_block("Nov 28 09:30:03", "5A6B7C8D9E", "zoe@outlook.example"),
            removed("Nov 28 09:30:03", "5A6B7C8D9E"),
            delivery("Nov 28 09:50:05", "6C7D8E9F0A", "bob@example.net", "sent"),
            removed("Nov 28 09:50:05", "6C7D8E9F0A"),
        ]
        .concat();
        let mut reader = read_send_log(
            SendLogFormat::Postfix,
            second.as_bytes(),
            &ReadOptions::utc(2026),
        )
        .carrying(open);
        assert_eq!(
            render(reader.by_ref()),
            "bob@example.net message_id=m3@x sent_at=2026-11-28T09:50:05Z\n"
        );
        assert!(reader.open_queue_ids().is_empty());
    }

    /// A delivery as Postfix's `daemon` logs it, to `relay`, with the reply `reply`.
    fn sent_to(daemon: &str, queue_id: &str, recipient: &str, relay: &str, reply: &str) -> String {
        format!(
            "Nov 28 11:00:01 mail01 postfix/{daemon}[23]: {queue_id}: to=<{recipient}>, \
             relay={relay}, delay=0.35, delays=0.1/0.01/0.01/0.23, dsn=2.7.0, \
             status=sent ({reply})\n"
        )
    }

    /// amavisd-new's answer when it discards a message (virus, spam, banned file, the older
    /// `UBE` shape) or bounces it itself (its own DSN to the sender): Postfix logs
    /// `status=sent`, but the message never left. It used to be an entry, so a message the
    /// filter refused counted toward the complaint rate's denominator.
    #[test]
    fn a_message_amavis_discarded_or_bounced_is_no_send() {
        let amavis = "127.0.0.1[127.0.0.1]:10024";
        let log = [
            cleanup("Nov 28 11:00:00", "3A1B2C3D4E", "m1@x"),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "eve@example.com",
                amavis,
                "250 2.7.0 Ok, discarded, id=01890-11 - INFECTED: Eicar-Test-Signature",
            ),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "fay@example.net",
                "localhost[::1]:10024",
                "250 2.7.0 Ok, discarded, id=01891-03 - spam",
            ),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "gus@example.org",
                amavis,
                "250 2.7.0 Ok, discarded, id=01890-12 - BANNED: P=p003,L=1,M=multipart/mixed \
                 | P=p002,L=1/2,M=application/x-msdownload,T=exe,N=invoice.exe",
            ),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "hal@example.com",
                amavis,
                "250 2.5.0 Ok, id=01892-05, BOUNCE",
            ),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "ida@example.com",
                amavis,
                "250 2.7.1 Ok, discarded, UBE, id=15656-03",
            ),
            sent_to(
                "lmtp",
                "3A1B2C3D4E",
                "jan@example.com",
                "mail01.sender.example[private/amavis]",
                "250 2.7.0 Ok, discarded, id=01890-13-2 - spam",
            ),
            delivery("Nov 28 11:00:02", "3A1B2C3D4E", "kim@example.com", "sent"),
            removed("Nov 28 11:00:02", "3A1B2C3D4E"),
        ]
        .concat();
        check(
            SendLogFormat::Postfix,
            &log,
            "kim@example.com message_id=m1@x sent_at=2026-11-28T11:00:02Z",
        );
    }

    /// Only amavisd-new's exact replies, from a relay on this host, are kept by a filter: the
    /// same words from a relayhost beyond loopback, and other replies with `discarded` in
    /// them, are sends.
    #[test]
    fn other_replies_that_say_discarded_are_sends() {
        let amavis = "127.0.0.1[127.0.0.1]:10024";
        let log = [
            cleanup("Nov 28 11:00:00", "3A1B2C3D4E", "m1@x"),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "eve@example.com",
                "smarthost.example.net[198.51.100.20]:587",
                "250 2.7.0 Ok, discarded, id=01890-11 - spam",
            ),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "fay@example.net",
                amavis,
                "250 2.0.0 Ok, discarded, id=01890-11 - spam",
            ),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "gus@example.org",
                amavis,
                "250 2.7.0 Ok, discarded",
            ),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "hal@example.com",
                amavis,
                "250 2.7.0 Ok, discarded, id=spam - spam",
            ),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "ida@example.com",
                amavis,
                "250 2.0.0 Ok: message discarded duplicates, queued as 4NvD1a2B3c4D5e6",
            ),
            sent_to(
                "smtp",
                "3A1B2C3D4E",
                "jan@example.com",
                "[::ffff:192.0.2.9]:25",
                "250 2.5.0 Ok, id=01892-05, BOUNCE",
            ),
            removed("Nov 28 11:00:02", "3A1B2C3D4E"),
        ]
        .concat();
        check(
            SendLogFormat::Postfix,
            &log,
            "eve@example.com message_id=m1@x sent_at=2026-11-28T11:00:01Z
             fay@example.net message_id=m1@x sent_at=2026-11-28T11:00:01Z
             gus@example.org message_id=m1@x sent_at=2026-11-28T11:00:01Z
             hal@example.com message_id=m1@x sent_at=2026-11-28T11:00:01Z
             ida@example.com message_id=m1@x sent_at=2026-11-28T11:00:01Z
             jan@example.com message_id=m1@x sent_at=2026-11-28T11:00:01Z",
        );
    }

    /// The hop rule and the discard rule together. A message filtered and queued again,
    /// whose requeued copy a second filter pass (amavisd-new's outbound policy bank on
    /// :10026) discards: neither the hop nor the discard is a send. And a message to two
    /// recipients filtered one by one (`smtp-amavis_destination_recipient_limit = 1`),
    /// passed for one and discarded for the other: only the passed one's requeued delivery
    /// is a send.
    #[test]
    fn a_hop_then_a_discard_and_a_discard_for_one_recipient_of_two() {
        let amavis = "127.0.0.1[127.0.0.1]:10024";
        let log = [
            cleanup("Nov 28 11:00:00", "5A7B8C9D0E", "m1@x"),
            cleanup("Nov 28 11:00:01", "6B8C9D0E1F", "m1@x"),
            hop(
                "Nov 28 11:00:01",
                "5A7B8C9D0E",
                "jon@example.net",
                "6B8C9D0E1F",
            ),
            removed("Nov 28 11:00:01", "5A7B8C9D0E"),
            sent_to(
                "smtp",
                "6B8C9D0E1F",
                "jon@example.net",
                "127.0.0.1[127.0.0.1]:10026",
                "250 2.7.0 Ok, discarded, id=01893-01 - spam",
            ),
            removed("Nov 28 11:00:02", "6B8C9D0E1F"),
            cleanup("Nov 28 11:20:00", "3E5F6A7B8C", "m2@x"),
            cleanup("Nov 28 11:20:01", "4F6A7B8C9D", "m2@x"),
            hop(
                "Nov 28 11:20:01",
                "3E5F6A7B8C",
                "ivy@example.org",
                "4F6A7B8C9D",
            ),
            sent_to(
                "smtp",
                "3E5F6A7B8C",
                "zoe@outlook.example",
                amavis,
                "250 2.7.0 Ok, discarded, id=01891-04 - spam",
            ),
            removed("Nov 28 11:20:02", "3E5F6A7B8C"),
            delivery("Nov 28 11:20:03", "4F6A7B8C9D", "ivy@example.org", "sent"),
            removed("Nov 28 11:20:03", "4F6A7B8C9D"),
        ]
        .concat();
        check(
            SendLogFormat::Postfix,
            &log,
            "ivy@example.org message_id=m2@x sent_at=2026-11-28T11:20:03Z",
        );
    }

    fn read_at(now: &str, zone: &str) -> ReadOptions {
        ReadOptions {
            now: chrono::DateTime::parse_from_rfc3339(now).unwrap().to_utc(),
            zone: fbl::zone::Zone::named(zone).unwrap(),
        }
    }

    #[test]
    fn classic_dates_are_the_latest_not_after_now() {
        // Read on 2 January 2027: December is of 2026, the log comes out in order, and a
        // line a day ahead of the clock is still this year's.
        let log = [
            cleanup("Dec 30 10:00:00", "4ABC12345", "m1@x"),
            delivery("Dec 30 10:00:01", "4ABC12345", "ann@example.org", "sent"),
            delivery("Dec 31 23:59:59", "4ABC12345", "bob@example.org", "sent"),
            delivery("Jan  1 00:00:01", "4ABC12345", "cat@example.org", "sent"),
            // A line written late, after January began, is still from December.
            delivery("Dec 31 23:59:59", "4ABC12345", "dan@example.org", "sent"),
            delivery("Jan  2 09:00:01", "4ABC12345", "eve@example.org", "sent"),
            delivery("Jan  3 09:59:59", "4ABC12345", "fay@example.org", "sent"),
            // More than a day ahead: last year's.
            delivery("Jan  3 10:00:01", "4ABC12345", "gus@example.org", "sent"),
            delivery("Feb 29 10:00:00", "4ABC12345", "hal@example.org", "sent"),
        ]
        .concat();
        check_with(
            SendLogFormat::Postfix,
            &read_at("2027-01-02T10:00:00Z", "UTC"),
            &log,
            "ann@example.org message_id=m1@x sent_at=2026-12-30T10:00:01Z
             bob@example.org message_id=m1@x sent_at=2026-12-31T23:59:59Z
             cat@example.org message_id=m1@x sent_at=2027-01-01T00:00:01Z
             dan@example.org message_id=m1@x sent_at=2026-12-31T23:59:59Z
             eve@example.org message_id=m1@x sent_at=2027-01-02T09:00:01Z
             fay@example.org message_id=m1@x sent_at=2027-01-03T09:59:59Z
             gus@example.org message_id=m1@x sent_at=2026-01-03T10:00:01Z
             hal@example.org message_id=m1@x sent_at=2024-02-29T10:00:00Z",
        );
    }

    #[test]
    fn classic_timestamps_take_the_offset_of_their_own_date() {
        let log = [
            cleanup("Jan  1 00:30:00", "4ABC12345", "m1@x"),
            delivery(
                "Jan  1 00:30:00.250",
                "4ABC12345",
                "ann@example.org",
                "sent",
            ),
            // Summer time (CEST, +02:00), read in November (CET, +01:00).
            delivery("Jul 10 12:00:01", "4ABC12345", "bob@example.org", "sent"),
            // 02:30 on 29 March 2026 never happened in Berlin: read with the offset before
            // the change (+01:00).
            delivery("Mar 29 02:30:00", "4ABC12345", "cat@example.org", "sent"),
            // 02:30 on 25 October 2026 happened twice: the earlier, still +02:00.
            delivery("Oct 25 02:30:00", "4ABC12345", "dan@example.org", "sent"),
        ]
        .concat();
        check_with(
            SendLogFormat::Postfix,
            &read_at("2026-11-20T10:00:00Z", "Europe/Berlin"),
            &log,
            "ann@example.org message_id=m1@x sent_at=2025-12-31T23:30:00Z
             bob@example.org message_id=m1@x sent_at=2026-07-10T10:00:01Z
             cat@example.org message_id=m1@x sent_at=2026-03-29T01:30:00Z
             dan@example.org message_id=m1@x sent_at=2026-10-25T00:30:00Z",
        );
    }

    /// Berlin's clocks go back from 03:00 CEST to 02:00 CET on 25 October 2026: 02:00 to
    /// 02:59 happen twice. A message deferred in the first of those hours and delivered in
    /// the second, the next cron run, is read as delivered in the second (its earlier
    /// instant is before the deferral carried from the run before). It used to be read as
    /// older than the carried deferral, as a line of an older log, and was a bad line.
    #[test]
    fn a_deferral_carried_across_the_autumn_change_is_delivered_in_the_repeated_hour() {
        let first = [
            cleanup("Oct 25 02:20:00", "4ABC12345", "m1@x"),
            delivery(
                "Oct 25 02:30:05",
                "4ABC12345",
                "ann@example.org",
                "deferred",
            ),
            cleanup("Oct 25 02:21:00", "5BCD23456", "m2@x"),
            delivery(
                "Oct 25 02:31:05",
                "5BCD23456",
                "bob@example.org",
                "deferred",
            ),
        ]
        .concat();
        let mut reader = read_send_log(
            SendLogFormat::Postfix,
            first.as_bytes(),
            &read_at("2026-10-25T00:40:00Z", "Europe/Berlin"),
        );
        assert_eq!(render(reader.by_ref()), "");
        let open = reader.open_queue_ids();
        assert_eq!(open[0].last_seen, "2026-10-25T00:30:05Z");
        // An hour later, 02:40 again, CET.
        let second = [
            delivery("Oct 25 02:25:00", "4ABC12345", "ann@example.org", "sent"),
            removed("Oct 25 02:25:00", "4ABC12345"),
            delivery(
                "Oct 25 02:26:00",
                "5BCD23456",
                "bob@example.org",
                "deferred",
            ),
        ]
        .concat();
        let mut reader = read_send_log(
            SendLogFormat::Postfix,
            second.as_bytes(),
            &read_at("2026-10-25T01:40:00Z", "Europe/Berlin"),
        )
        .carrying(open);
        assert_eq!(
            render(reader.by_ref()),
            "ann@example.org message_id=m1@x sent_at=2026-10-25T01:25:00Z\n"
        );
        // Still queued: last seen in the repeated hour, not before it was carried.
        let open = reader.open_queue_ids();
        assert_eq!(
            (open[0].queue_id.as_str(), open[0].last_seen.as_str()),
            ("5BCD23456", "2026-10-25T01:26:00Z")
        );
    }

    #[test]
    fn rfc3339_timestamps_keep_their_own_offset() {
        let log = [
            cleanup("2026-12-30T10:00:00.123456+01:00", "4ABC12345", "m1@x"),
            delivery(
                "2026-12-30T10:00:00.123456+01:00",
                "4ABC12345",
                "ann@example.org",
                "sent",
            ),
            delivery(
                "2026-12-30T10:00:01+0100",
                "4ABC12345",
                "bob@example.org",
                "sent",
            ),
        ]
        .concat();
        check_with(
            SendLogFormat::Postfix,
            &read_at("2027-01-02T10:00:00Z", "Europe/Berlin"),
            &log,
            "ann@example.org message_id=m1@x sent_at=2026-12-30T09:00:00Z
             bob@example.org message_id=m1@x sent_at=2026-12-30T09:00:01Z",
        );
    }

    #[test]
    fn delivery_after_removed_or_without_cleanup_is_an_error() {
        let log = [
            delivery("Nov 28 01:49:20", "1A2B3C4D5E", "ann@example.org", "sent"),
            cleanup("Nov 28 01:49:25", "4ABC12345", "m1@x"),
            removed("Nov 28 01:49:26", "4ABC12345"),
            delivery("Nov 28 01:49:27", "4ABC12345", "bob@example.org", "sent"),
        ]
        .concat();
        check(
            SendLogFormat::Postfix,
            &log,
            "error line 1: queue id 1A2B3C4D5E: delivered to ann@example.org, but no message-id is known for it (no cleanup line before, or already removed)
             error line 4: queue id 4ABC12345: delivered to bob@example.org, but no message-id is known for it (no cleanup line before, or already removed)",
        );
    }

    /// The queue ids a log leaves open (queued, not removed), with the time last seen,
    /// continue in the next log's reader; those removed or without a Message-ID do not, and
    /// a queue id is another host's queue id on another host.
    #[test]
    fn queue_ids_left_open_continue_in_the_next_log() {
        use fbl::sendlog::postfix::OpenQueueId;
        let first = [
            cleanup("Nov 27 23:50:00", "9ABC12345", "rot1@x"),
            delivery(
                "Nov 27 23:50:01",
                "9ABC12345",
                "ann@example.org",
                "deferred",
            ),
            cleanup("Nov 27 23:51:00", "1DEF12345", "done@x"),
            delivery("Nov 27 23:51:01", "1DEF12345", "bob@example.org", "sent"),
            removed("Nov 27 23:51:01", "1DEF12345"),
            "Nov 27 23:52:00 mail01 postfix/cleanup[10]: 2FED12345: message-id=<>\n".to_string(),
        ]
        .concat();
        let mut reader = read_send_log(
            SendLogFormat::Postfix,
            first.as_bytes(),
            &ReadOptions::utc(2026),
        );
        assert_eq!(reader.by_ref().filter(Result::is_ok).count(), 1);
        let open = reader.open_queue_ids();
        assert_eq!(
            open,
            [OpenQueueId {
                host: "mail01".to_string(),
                queue_id: "9ABC12345".to_string(),
                message_id: "rot1@x".to_string(),
                last_seen: "2026-11-27T23:50:01Z".to_string(),
            }]
        );
        let second = [
            delivery("Nov 28 00:20:02", "9ABC12345", "ann@example.org", "sent"),
            delivery("Nov 28 00:20:02", "1DEF12345", "bob@example.org", "sent"),
            "Nov 28 00:20:03 mail02 postfix/smtp[20]: 9ABC12345: to=<cat@example.org>, relay=mx[192.0.2.1]:25, dsn=2.0.0, status=sent (250 ok)\n".to_string(),
            removed("Nov 28 00:20:03", "9ABC12345"),
        ]
        .concat();
        let mut reader = read_send_log(
            SendLogFormat::Postfix,
            second.as_bytes(),
            &ReadOptions::utc(2026),
        )
        .carrying(open);
        assert_eq!(
            render(reader.by_ref()),
            "ann@example.org message_id=rot1@x sent_at=2026-11-28T00:20:02Z\n\
             error line 2: queue id 1DEF12345: delivered to bob@example.org, but no message-id is known for it (no cleanup line before, or already removed)\n\
             error line 3: queue id 9ABC12345: delivered to cat@example.org, but no message-id is known for it (no cleanup line before, or already removed)\n"
        );
        assert!(reader.open_queue_ids().is_empty());
    }

    /// The current log read again (every `fbl run` imports it) starts with the queue ids its
    /// own end left open. Postfix reuses short queue ids: a delivery near the start of the
    /// log, before a carried id was last seen, is not joined to that id's later message
    /// (here m2: it would name ann as its recipient, and a complaint about m2 would suppress
    /// her).
    #[test]
    fn a_log_read_again_does_not_join_its_early_lines_to_ids_it_left_open() {
        let log = [
            delivery("Nov 28 09:00:00", "4ABC12345", "ann@example.org", "sent"),
            removed("Nov 28 09:00:01", "4ABC12345"),
            cleanup("Nov 28 10:00:00", "4ABC12345", "m2@x"),
        ]
        .concat();
        // The first read, after the rotated log that opened 4ABC12345 for m1.
        let carried_m1 = vec![fbl::sendlog::postfix::OpenQueueId {
            host: "mail01".to_string(),
            queue_id: "4ABC12345".to_string(),
            message_id: "m1@x".to_string(),
            last_seen: "2026-11-27T10:00:00Z".to_string(),
        }];
        let mut reader = read_send_log(
            SendLogFormat::Postfix,
            log.as_bytes(),
            &ReadOptions::utc(2026),
        )
        .carrying(carried_m1);
        assert_eq!(
            render(reader.by_ref()),
            "ann@example.org message_id=m1@x sent_at=2026-11-28T09:00:00Z\n"
        );
        let left_open = reader.open_queue_ids();
        assert_eq!(left_open.len(), 1);
        assert_eq!(left_open[0].message_id, "m2@x");
        // Read again alone: the early delivery is not m2's.
        let mut again = read_send_log(
            SendLogFormat::Postfix,
            log.as_bytes(),
            &ReadOptions::utc(2026),
        )
        .carrying(left_open);
        let rendered = render(again.by_ref());
        assert!(!rendered.contains("message_id=m2@x"), "{rendered}");
        assert_eq!(again.open_queue_ids()[0].message_id, "m2@x");
    }

    /// The shapes syslog daemons write besides the classic and RFC 3339 ones, each read:
    /// RFC 5424 (rsyslog's `RSYSLOG_SyslogProtocol23Format`, with structured data and a
    /// BOM), a `<PRI>` before a classic line (the network form written to a file), and a
    /// date and time apart (`2026-11-28 01:49:26`, read in the local zone, here UTC, or with
    /// its own offset). They used to be skipped silently, as lines of another program.
    #[test]
    fn rfc5424_priority_and_spaced_date_time_lines_are_read() {
        let log = "\
            <22>1 2026-11-28T01:49:25.123456+00:00 mail01 postfix/cleanup 1202 - - 4ABC12345: message-id=<m1@sender.example>\n\
            <22>1 2026-11-28T01:49:26.123456+00:00 mail01 postfix/smtp 1300 - - 4ABC12345: to=<alice@example.org>, relay=mx1.example.org[192.0.2.25]:25, delay=1.2, delays=0.05/0.01/0.62/0.52, dsn=2.0.0, status=sent (250 2.0.0 OK)\n\
            <22>1 2026-11-28T01:49:27Z mail01 postfix/smtp 1300 - [origin ip=\"192.0.2.1\" x=\"a \\\"]\\\" b\"][meta sequenceId=\"7\"] \u{FEFF}4ABC12345: to=<bob@example.org>, relay=mx1.example.org[192.0.2.25]:25, dsn=2.0.0, status=sent (250 OK)\n\
            <22>Nov 28 01:49:28 mail01 postfix/cleanup[1202]: 5ABC12345: message-id=<m2@sender.example>\n\
            <22>Nov 28 01:49:29 mail01 postfix/smtp[1300]: 5ABC12345: to=<cat@example.org>, relay=mx1.example.org[192.0.2.25]:25, dsn=2.0.0, status=sent (250 OK)\n\
            2026-11-28 01:49:30 mail01 postfix/cleanup[1202]: 6ABC12345: message-id=<m3@sender.example>\n\
            2026-11-28 01:49:31 mail01 postfix/smtp[1300]: 6ABC12345: to=<dan@example.org>, relay=mx1.example.org[192.0.2.25]:25, dsn=2.0.0, status=sent (250 OK)\n\
            2026-11-28 02:49:32+01:00 mail01 postfix/smtp[1300]: 6ABC12345: to=<eve@example.org>, relay=mx1.example.org[192.0.2.25]:25, dsn=2.0.0, status=sent (250 OK)\n\
            2026-11-28T01:49:33 mail01 postfix/smtp[1300]: 6ABC12345: to=<fay@example.org>, relay=mx1.example.org[192.0.2.25]:25, dsn=2.0.0, status=sent (250 OK)\n\
            <22>1 - mail01 postfix/smtp 1300 - - 6ABC12345: to=<gus@example.org>, relay=mx1.example.org[192.0.2.25]:25, dsn=2.0.0, status=sent (250 OK)\n";
        check(
            SendLogFormat::Postfix,
            log,
            "alice@example.org message_id=m1@sender.example sent_at=2026-11-28T01:49:26Z
             bob@example.org message_id=m1@sender.example sent_at=2026-11-28T01:49:27Z
             cat@example.org message_id=m2@sender.example sent_at=2026-11-28T01:49:29Z
             dan@example.org message_id=m3@sender.example sent_at=2026-11-28T01:49:31Z
             eve@example.org message_id=m3@sender.example sent_at=2026-11-28T01:49:32Z
             fay@example.org message_id=m3@sender.example sent_at=2026-11-28T01:49:33Z
             error line 10: queue id 6ABC12345: timestamp `-` is no time",
        );
    }

    /// Lines of other programs are normal in a mail log and are not counted; lines in no
    /// syslog shape are, and a log with no Postfix line at all is noticed by the caller.
    #[test]
    fn lines_in_no_syslog_shape_are_counted() {
        let counts = |log: &str| {
            let mut reader = read_send_log(
                SendLogFormat::Postfix,
                log.as_bytes(),
                &ReadOptions::utc(2026),
            );
            reader.by_ref().for_each(drop);
            let counts = reader.line_counts().unwrap();
            (counts.lines, counts.postfix_lines, counts.unrecognised)
        };
        let mail_log = "\
            Nov 28 01:49:25 mail01 dovecot: imap-login: Login: user=<ann>\n\
            Nov 28 01:49:25 mail01 kernel: [12.3] eth0: link up\n\
            \n\
            Nov 28 01:49:26 mail01 postfix/anvil[99]: statistics: max connection rate 1/60s\n\
            -- Boot 0123456789abcdef --\n";
        assert_eq!(counts(mail_log), (4, 1, 1));
        let csv = "message_id,recipient\n<m1@x>,ann@example.org\n";
        assert_eq!(counts(csv), (2, 0, 2));
        assert!(
            read_send_log(SendLogFormat::Csv, csv.as_bytes(), &ReadOptions::utc(2026))
                .line_counts()
                .is_none()
        );
    }

    #[test]
    fn multi_instance_and_custom_syslog_names_are_read() {
        let log = "\
            2026-11-28T01:49:25+00:00 mail01 postfix-out/cleanup[1]: 4ABC12345: message-id=<m1@x>\n\
            2026-11-28T01:49:26+00:00 mail01 postfix-out/smtp[2]: 4ABC12345: to=<ann@example.org>, relay=mx[192.0.2.1]:25, dsn=2.0.0, status=sent (250 ok)\n\
            2026-11-28T01:49:27+00:00 mail01 postfix/relay/smtp[3]: 4ABC12345: to=<bob@example.org>, relay=mx[192.0.2.1]:25, dsn=2.0.0, status=sent (250 ok)\n\
            2026-11-28T01:49:28+00:00 mail01 smtp[4]: 4ABC12345: to=<cat@example.org>, relay=mx[192.0.2.1]:25, dsn=2.0.0, status=sent (250 ok)\n";
        check(
            SendLogFormat::Postfix,
            log,
            "ann@example.org message_id=m1@x sent_at=2026-11-28T01:49:26Z
             bob@example.org message_id=m1@x sent_at=2026-11-28T01:49:27Z",
        );
    }

    #[test]
    fn empty_message_id_is_an_error_on_delivery() {
        let log = [
            "Nov 28 01:49:25 mail01 postfix/cleanup[10]: 4ABC12345: message-id=<>\n".to_string(),
            delivery("Nov 28 01:49:26", "4ABC12345", "ann@example.org", "sent"),
        ]
        .concat();
        check(
            SendLogFormat::Postfix,
            &log,
            "error line 2: queue id 4ABC12345: delivered to ann@example.org, but its message-id is empty",
        );
    }

    #[test]
    fn impossible_timestamps_on_deliveries_are_errors() {
        let log = [
            cleanup("Feb 28 01:49:25", "4ABC12345", "m1@x"),
            // 29 February is the latest one (see above); 30 February never is.
            delivery("Feb 30 01:49:26", "4ABC12345", "ann@example.org", "sent"),
            delivery("Feb 28 25:49:26", "4ABC12345", "bob@example.org", "sent"),
            delivery(
                "2026-02-30T01:49:26Z",
                "4ABC12345",
                "cat@example.org",
                "sent",
            ),
        ]
        .concat();
        check(
            SendLogFormat::Postfix,
            &log,
            "error line 2: queue id 4ABC12345: timestamp `Feb 30 01:49:26` is not a time in the nine years up to now
             error line 3: queue id 4ABC12345: timestamp `Feb 28 25:49:26` is not a time in the nine years up to now
             error line 4: queue id 4ABC12345: timestamp `2026-02-30T01:49:26Z` is not an RFC 3339 time between the years 0 and 9999",
        );
    }
}

mod reading {
    use super::*;

    #[test]
    fn line_longer_than_the_limit_is_an_error_and_reading_goes_on() {
        let long = "x".repeat(fbl::sendlog::MAX_LINE_BYTES + 1);
        let input = format!(
            "{{\"message_id\":\"<1@x>\",\"recipient\":\"ann@example.org\"}}\n{long}\n{{\"message_id\":\"<2@x>\",\"recipient\":\"bob@example.org\"}}\n"
        );
        check(
            SendLogFormat::Jsonl,
            &input,
            "ann@example.org message_id=1@x
             error line 2: line is longer than 1048576 bytes, skipped
             bob@example.org message_id=2@x",
        );
    }

    /// Gives `data`, then fails.
    struct FailingAfter {
        data: io::Cursor<Vec<u8>>,
    }

    impl Read for FailingAfter {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            match self.data.read(buffer)? {
                0 => Err(io::Error::other("disk on fire")),
                read => Ok(read),
            }
        }
    }

    #[test]
    fn read_failure_ends_the_stream_after_one_error() {
        let input = FailingAfter {
            data: io::Cursor::new(
                b"{\"message_id\":\"<1@x>\",\"recipient\":\"ann@example.org\"}\n".to_vec(),
            ),
        };
        let got = render(read_send_log(
            SendLogFormat::Jsonl,
            BufReader::new(input),
            &ReadOptions::utc(2026),
        ));
        assert_eq!(
            got,
            "ann@example.org message_id=1@x\nerror line 2: cannot read the send log: disk on fire\n"
        );
    }

    #[test]
    fn formats_parse_from_their_names() {
        for format in SendLogFormat::ALL {
            assert_eq!(format.as_str().parse::<SendLogFormat>(), Ok(format));
            assert_eq!(
                serde_json::to_string(&format).unwrap(),
                format!("\"{}\"", format.as_str())
            );
        }
        assert_eq!("JSONL".parse::<SendLogFormat>(), Ok(SendLogFormat::Jsonl));
        assert_eq!(
            "xml".parse::<SendLogFormat>().unwrap_err().to_string(),
            "unknown send log format `xml` (expected csv, jsonl or postfix)"
        );
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    /// Pieces of every format, so that random input often gets past the first checks.
    const PIECES: &str = "(Nov 28 01:49:26 |Dec 31 23:59:59 |Jan  1 00:00:00 |2026-11-28T01:49:26\\.5\\+01:00 |h |\
        postfix/cleanup\\[1\\]: |postfix-out/smtp\\[2\\]: |postfix/qmgr: |4ABC12345: |4Ntq8n0Hq1z1xR3: |\
        message-id=<|to=<|a@b\\.c|>|, status=sent|, status=deferred| \\(250\\)|removed|\
        message_id|recipient|email|id|sent_at|source_ip|\\{|\\}|\\[|\\]|\"|:|,|;|\t|\r|\n|<|@|\\.|[ -~]|[^\\x00-\\x7f]){0,120}";

    fn consume(format: SendLogFormat, input: &[u8], now: i64) {
        let options = ReadOptions {
            now: chrono::DateTime::from_timestamp(now, 0).unwrap_or_default(),
            zone: fbl::zone::Zone::named("America/New_York").unwrap(),
        };
        let lines = input.split(|&byte| byte == b'\n').count() as u64;
        for item in read_send_log(format, input, &options) {
            if let Err(error) = item {
                assert!(
                    (1..=lines).contains(&error.line),
                    "{error} outside 1..={lines}"
                );
            }
        }
    }

    proptest! {
        #[test]
        fn on_arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..512), now in any::<i64>()) {
            for format in SendLogFormat::ALL {
                consume(format, &input, now);
            }
        }

        #[test]
        fn on_pieces_of_real_lines(input in PIECES, now in prop_oneof![Just(1_796_205_600), any::<i64>()]) {
            for format in SendLogFormat::ALL {
                consume(format, input.as_bytes(), now);
            }
        }
    }
}
