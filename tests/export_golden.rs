//! Golden tests for the export formats: `fixtures/exports/suppressions.json` written in every
//! format must match, byte for byte, the expected file beside it.
//!
//! Layout of `fixtures/exports/expected/`: `FORMAT.EXT` is the full export (entries without
//! `removed_at`), `FORMAT-sha256.EXT` the same with hashed addresses, and
//! `removals/FORMAT.EXT` the removals file (entries with `removed_at`). On a mismatch the
//! output is written beside the expected file as `NAME.actual`. Run with
//! `FBL_UPDATE_GOLDEN=1` to rewrite the expectations, then review the diff.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use fbl::export::{AddressHash, ExportFormat, ExportOptions, write_export};
use fbl::suppression::Suppression;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/exports")
}

fn load_suppressions() -> Vec<Suppression> {
    let path = fixtures().join("suppressions.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let entries: Vec<Suppression> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        entries.windows(2).all(|w| w[0].address < w[1].address),
        "the fixture must be sorted by address, as the store hands entries over"
    );
    entries
}

/// The entries whose address passes the address check: those an export writes.
fn valid(entries: Vec<Suppression>) -> Vec<Suppression> {
    entries
        .into_iter()
        .filter(|e| fbl::address::parse_typed(&e.address).is_ok())
        .collect()
}

fn render(format: ExportFormat, options: &ExportOptions, entries: &[&Suppression]) -> Vec<u8> {
    let mut out = Vec::new();
    let exported = write_export(format, options, entries.iter().copied(), &mut out)
        .unwrap_or_else(|e| panic!("{format}: {e}"));
    // An address that fails the address check is left out of every format (the fixture's
    // quoted `"jane,doe"@example.net`, kept by a store from before the check), counted when
    // it is suppressed.
    let invalid = |e: &&&Suppression| fbl::address::parse_typed(&e.address).is_err();
    let invalid_suppressed = entries
        .iter()
        .filter(invalid)
        .filter(|e| e.removed_at.is_none())
        .count() as u64;
    let entries: Vec<&Suppression> = entries
        .iter()
        .copied()
        .filter(|e| fbl::address::parse_typed(&e.address).is_ok())
        .collect();
    // SES, Mailgun, Postmark and Mailman take ASCII addresses only: one whose local part is
    // not ASCII has no ASCII form and is left out, counted when it is suppressed.
    let no_ascii_form = |e: &&&Suppression| !e.address.split('@').next().unwrap().is_ascii();
    let (left_out, removals_left_out) = match format {
        ExportFormat::Ses
        | ExportFormat::SesJsonl
        | ExportFormat::Mailgun
        | ExportFormat::Postmark
        | ExportFormat::Mailman
        | ExportFormat::MailmanJson
            if options.hash.is_none() =>
        {
            let all = entries.iter().filter(no_ascii_form);
            let suppressed = all.clone().filter(|e| e.removed_at.is_none()).count();
            (suppressed as u64, (all.count() - suppressed) as u64)
        }
        _ => (0, 0),
    };
    assert_eq!(
        exported.written,
        entries.len() as u64 - left_out - removals_left_out,
        "{format}: entries written"
    );
    assert_eq!(
        exported.left_out,
        left_out + invalid_suppressed,
        "{format}: entries left out"
    );

    out
}

struct Case {
    /// Path relative to `expected/`.
    name: String,
    format: ExportFormat,
    options: ExportOptions,
    removals: bool,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for format in ExportFormat::ALL {
        cases.push(Case {
            name: format!("{format}.{}", format.file_extension()),
            format,
            options: ExportOptions::default(),
            removals: false,
        });
        cases.push(Case {
            name: format!("removals/{format}.{}", format.file_extension()),
            format,
            options: ExportOptions::default(),
            removals: true,
        });
    }
    for format in [ExportFormat::Plain, ExportFormat::Csv, ExportFormat::Jsonl] {
        cases.push(Case {
            name: format!("{format}-sha256.{}", format.file_extension()),
            format,
            options: ExportOptions {
                hash: Some(AddressHash::Sha256),
            },
            removals: false,
        });
    }
    cases
}

/// The first differing line, numbered from 1, for a readable failure message.
fn first_difference(expected: &[u8], actual: &[u8]) -> String {
    let expected = String::from_utf8_lossy(expected);
    let actual = String::from_utf8_lossy(actual);
    let mut expected_lines = expected.split_inclusive('\n');
    let mut actual_lines = actual.split_inclusive('\n');
    let mut number = 1;
    loop {
        match (expected_lines.next(), actual_lines.next()) {
            (Some(e), Some(a)) if e == a => number += 1,
            (None, None) => return "no difference in lines".to_owned(),
            (e, a) => return format!("line {number}:\n  expected: {e:?}\n       got: {a:?}"),
        }
    }
}

#[test]
fn every_format_matches_its_golden_file() {
    let entries = load_suppressions();
    let expected_folder = fixtures().join("expected");
    let update = std::env::var_os("FBL_UPDATE_GOLDEN").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    let mut ran = 0;
    let mut names = BTreeSet::new();

    for case in cases() {
        let selected: Vec<&Suppression> = entries
            .iter()
            .filter(|entry| entry.removed_at.is_some() == case.removals)
            .collect();
        assert!(
            !selected.is_empty(),
            "{}: the fixture has no entries for it",
            case.name
        );
        let actual = render(case.format, &case.options, &selected);
        let expected_path = expected_folder.join(&case.name);
        let actual_path = expected_folder.join(format!("{}.actual", case.name));
        names.insert(case.name.clone());
        ran += 1;

        if update {
            fs::create_dir_all(expected_path.parent().unwrap()).unwrap();
            fs::write(&expected_path, &actual).unwrap();
            let _ = fs::remove_file(&actual_path);
            continue;
        }
        match fs::read(&expected_path) {
            Ok(expected) if expected == actual => {
                let _ = fs::remove_file(&actual_path);
            }
            Ok(expected) => {
                fs::write(&actual_path, &actual).unwrap();
                failures.push(format!(
                    "{}: output differs, see {}\n{}",
                    case.name,
                    actual_path.display(),
                    first_difference(&expected, &actual)
                ));
            }
            Err(error) => {
                fs::write(&actual_path, &actual).unwrap();
                failures.push(format!("{}: {error}", expected_path.display()));
            }
        }
    }

    assert!(ran > 0, "no golden case ran");
    assert!(
        failures.is_empty(),
        "{} of {ran} golden cases failed (FBL_UPDATE_GOLDEN=1 regenerates):\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );

    // Every expected file belongs to a case, so a renamed format leaves no stale file behind.
    let mut on_disk = Vec::new();
    collect_files(&expected_folder, &expected_folder, &mut on_disk);
    let orphans: Vec<&String> = on_disk
        .iter()
        .filter(|name| !name.ends_with(".actual") && !names.contains(*name))
        .collect();
    assert!(
        orphans.is_empty(),
        "expected files without a case: {orphans:?}"
    );
}

fn collect_files(root: &Path, folder: &Path, names: &mut Vec<String>) {
    for entry in fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(root, &path, names);
        } else {
            let relative = path.strip_prefix(root).unwrap();
            names.push(relative.to_string_lossy().replace('\\', "/"));
        }
    }
}

#[test]
fn empty_input_gives_valid_output_in_every_format() {
    for format in ExportFormat::ALL {
        let output = String::from_utf8(render(format, &ExportOptions::default(), &[])).unwrap();
        let expected = match format {
            ExportFormat::Plain
            | ExportFormat::Phplist
            | ExportFormat::Mailman
            | ExportFormat::Jsonl
            | ExportFormat::Ses
            | ExportFormat::SesJsonl
            | ExportFormat::Postfix => "",
            ExportFormat::Csv => {
                "email,reason,source,first_seen,last_seen,expires_at,count,removed_at\n"
            }
            ExportFormat::Listmonk => "email,name,attributes\n",
            ExportFormat::Mautic => "email,doNotEmail,fbl_reason\n",
            ExportFormat::Mailgun => "address,created_at\n",
            ExportFormat::MailmanJson => "{\"emails\": []}\n",
            ExportFormat::Postmark => "[]\n",
        };
        assert_eq!(output, expected, "{format}");
        if format.file_extension() == "json" {
            serde_json::from_str::<serde_json::Value>(&output)
                .unwrap_or_else(|e| panic!("{format}: empty output is not JSON: {e}"));
        }
    }
}

#[test]
fn json_array_formats_parse_as_json() {
    let entries = load_suppressions();
    let all: Vec<&Suppression> = entries.iter().collect();
    let entries = valid(entries.clone());
    for format in [ExportFormat::MailmanJson, ExportFormat::Postmark] {
        let output = render(format, &ExportOptions::default(), &all);
        let value: serde_json::Value = serde_json::from_slice(&output).unwrap();
        let items = match format {
            ExportFormat::MailmanJson => value["emails"].as_array().unwrap().len(),
            _ => value.as_array().unwrap().len(),
        };
        // The address whose local part is not ASCII is left out (Mailman too: it holds ASCII
        // addresses only, an internationalised domain as A-labels alone).
        assert_eq!(items, entries.len() - 1, "{format}");
    }
}

/// How many entries have an internationalised domain: a list manager's file has a second
/// row for each.
fn internationalised(entries: &[Suppression]) -> usize {
    entries
        .iter()
        .filter(|e| !e.address.rsplit('@').next().unwrap().is_ascii())
        .count()
}

/// An internationalised domain is written in the Unicode form fbl keeps for plain, CSV and
/// JSON Lines, as A-labels for SES, Mailgun, Postmark and Mailman (which holds ASCII
/// addresses only), and in both forms for the other list managers and in a Postfix map.
#[test]
fn an_internationalised_domain_is_written_in_the_form_each_consumer_matches() {
    let entries = load_suppressions();
    let idn = entries
        .iter()
        .find(|e| e.address == "info@bücher.example")
        .unwrap();
    let text = |format: ExportFormat| {
        String::from_utf8(render(format, &ExportOptions::default(), &[idn])).unwrap()
    };
    for format in [ExportFormat::Plain, ExportFormat::Csv, ExportFormat::Jsonl] {
        let output = text(format);
        assert!(output.contains("info@bücher.example"), "{format}: {output}");
        assert!(!output.contains("xn--"), "{format}: {output}");
    }
    // A list manager holds an address as it reached it: a web form sends the A-labels.
    for format in [
        ExportFormat::Listmonk,
        ExportFormat::Mautic,
        ExportFormat::Phplist,
    ] {
        let output = text(format);
        let unicode = output.find("info@bücher.example");
        let ascii = output.find("info@xn--bcher-kva.example");
        assert!(
            unicode.is_some() && ascii.is_some() && unicode < ascii,
            "{format}: {output}"
        );
    }
    for format in [
        ExportFormat::Ses,
        ExportFormat::SesJsonl,
        ExportFormat::Mailgun,
        ExportFormat::Postmark,
        ExportFormat::Mailman,
        ExportFormat::MailmanJson,
    ] {
        let output = text(format);
        assert!(
            output.contains("info@xn--bcher-kva.example"),
            "{format}: {output}"
        );
        assert!(output.is_ascii(), "{format}: {output}");
    }
    assert_eq!(
        text(ExportFormat::Postfix),
        "info@bücher.example REJECT 5.7.1 suppressed: complaint\n\
         info@xn--bcher-kva.example REJECT 5.7.1 suppressed: complaint\n"
    );
    // A hash is of the Unicode form, whichever form the domain came in.
    let hashed = ExportOptions {
        hash: Some(AddressHash::Sha256),
    };
    let digest = String::from_utf8(render(ExportFormat::Plain, &hashed, &[idn])).unwrap();
    assert_eq!(
        digest.trim(),
        hex_sha256("info@bücher.example"),
        "the hash of the Unicode form"
    );
}

fn hex_sha256(text: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(text.as_bytes()))
}

#[test]
fn output_is_deterministic() {
    let entries = load_suppressions();
    let all: Vec<&Suppression> = entries.iter().collect();
    let hashed = ExportOptions {
        hash: Some(AddressHash::Sha256),
    };
    for format in ExportFormat::ALL {
        for options in [&ExportOptions::default(), &hashed] {
            let first = render(format, options, &all);
            let second = render(format, options, &all);
            assert_eq!(first, second, "{format} {options:?}");
        }
    }
}

/// A text cell as a spreadsheet must show it: with a `'` in front when it starts with a
/// character that starts a formula (OWASP's advice against CSV injection).
fn as_text(text: &str) -> String {
    match text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        true => format!("'{text}"),
        false => text.to_string(),
    }
}

#[test]
fn csv_formats_read_back_with_the_fields_written() {
    let entries = load_suppressions();
    let all: Vec<&Suppression> = entries.iter().collect();
    let entries = valid(entries.clone());
    let output = render(ExportFormat::Csv, &ExportOptions::default(), &all);
    let mut reader = csv::Reader::from_reader(output.as_slice());
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), entries.len());
    for (record, entry) in records.iter().zip(&entries) {
        assert_eq!(&record[0], entry.address);
        // Text a spreadsheet would run as a formula has a `'` in front; the address never.
        assert_eq!(&record[1], as_text(&entry.reason));
        assert_eq!(&record[2], as_text(&entry.source));
        assert_eq!(&record[5], entry.expires_at.as_deref().unwrap_or(""));
        assert_eq!(record[6].parse::<u64>().unwrap(), entry.count);
    }

    let output = render(ExportFormat::Listmonk, &ExportOptions::default(), &all);
    let mut reader = csv::Reader::from_reader(output.as_slice());
    // An internationalised domain's second row, with its A-labels, beside its first.
    let rows = entries.iter().flat_map(|entry| {
        let ascii = fbl::address::ascii_domain_of(&entry.address)
            .filter(|ascii| *ascii != entry.address)
            .map(|ascii| (ascii.into_owned(), entry));
        std::iter::once((entry.address.clone(), entry)).chain(ascii)
    });
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), entries.len() + internationalised(&entries));
    for (record, (address, entry)) in records.iter().zip(rows) {
        assert_eq!(&record[0], address);
        // The name listmonk would give a subscriber created without one: the local part.
        assert_eq!(&record[1], as_text(address.rsplit_once('@').unwrap().0));
        let attributes: serde_json::Value = serde_json::from_str(&record[2]).unwrap();
        assert_eq!(attributes["fbl_source"], entry.source.as_str());
    }
}
