//! The JSON export shapes are a contract: every golden JSON and JSON Lines output in
//! `fixtures/exports/expected/` must validate against its schema in `schemas/`, formats
//! (`idn-email`, `date-time`) included, and documents that break the contract must not.

use std::fs;
use std::path::{Path, PathBuf};

use fbl::export::{ExportFormat, ExportOptions, write_export};
use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn validator(schema_name: &str) -> Validator {
    let path = root().join("schemas").join(schema_name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let schema: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{}: not a valid schema: {e}", path.display()))
}

/// How a golden file is split into documents, and which schema each must satisfy.
#[derive(Clone, Copy)]
enum Shape {
    /// One document per line.
    Lines(&'static str),
    /// The whole file is one document.
    Whole(&'static str),
}

/// The schema for a golden file, from the format its name starts with.
fn shape_of(file_name: &str) -> Option<Shape> {
    let format = file_name.split('.').next()?.trim_end_matches("-sha256");
    match format.parse::<ExportFormat>().ok()? {
        ExportFormat::Jsonl => Some(Shape::Lines("export-jsonl.schema.json")),
        ExportFormat::SesJsonl => Some(Shape::Lines("export-ses-jsonl.schema.json")),
        ExportFormat::Postmark => Some(Shape::Whole("export-postmark.schema.json")),
        ExportFormat::MailmanJson => Some(Shape::Whole("export-mailman.schema.json")),
        _ => None,
    }
}

fn documents(shape: Shape, text: &str) -> Vec<Value> {
    match shape {
        Shape::Lines(_) => text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect(),
        Shape::Whole(_) => vec![serde_json::from_str(text).unwrap()],
    }
}

fn schema_name(shape: Shape) -> &'static str {
    match shape {
        Shape::Lines(name) | Shape::Whole(name) => name,
    }
}

fn golden_files(folder: &Path, files: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            golden_files(&path, files);
        } else if path.extension().is_some_and(|e| e != "actual") {
            files.push(path);
        }
    }
}

fn errors_of(validator: &Validator, document: &Value) -> Vec<String> {
    validator
        .iter_errors(document)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}

#[test]
fn golden_json_outputs_validate_against_their_schemas() {
    let mut files = Vec::new();
    golden_files(&root().join("fixtures/exports/expected"), &mut files);
    files.sort();
    let mut checked_per_schema = std::collections::BTreeMap::<&str, usize>::new();
    let mut failures = Vec::new();

    for path in &files {
        let file_name = path.file_name().unwrap().to_string_lossy();
        let Some(shape) = shape_of(&file_name) else {
            continue;
        };
        let validator = validator(schema_name(shape));
        let text = fs::read_to_string(path).unwrap();
        for (number, document) in documents(shape, &text).iter().enumerate() {
            for error in errors_of(&validator, document) {
                failures.push(format!(
                    "{} document {}: {error}",
                    path.display(),
                    number + 1
                ));
            }
            *checked_per_schema.entry(schema_name(shape)).or_default() += 1;
        }
    }

    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for schema in [
        "export-jsonl.schema.json",
        "export-ses-jsonl.schema.json",
        "export-postmark.schema.json",
        "export-mailman.schema.json",
    ] {
        assert!(
            checked_per_schema.get(schema).copied().unwrap_or(0) > 0,
            "no golden document checked against {schema}: {checked_per_schema:?}"
        );
    }
}

#[test]
fn empty_json_outputs_validate_against_their_schemas() {
    for (format, schema) in [
        (ExportFormat::Postmark, "export-postmark.schema.json"),
        (ExportFormat::MailmanJson, "export-mailman.schema.json"),
    ] {
        let mut out = Vec::new();
        write_export(
            format,
            &ExportOptions::default(),
            std::iter::empty::<&fbl::suppression::Suppression>(),
            &mut out,
        )
        .unwrap();
        let document: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            errors_of(&validator(schema), &document),
            Vec::<String>::new()
        );
    }
}

fn valid_jsonl_row() -> Value {
    json!({
        "email": "jane@example.org",
        "reason": "complaint",
        "source": "microsoft",
        "first_seen": "2026-11-28T01:49:26Z",
        "last_seen": "2026-11-28T01:49:26Z",
        "expires_at": null,
        "count": 1,
        "removed_at": null
    })
}

/// A document that breaks the contract in one way, and the schema that must reject it.
fn check_rejected(schema: &str, what: &str, document: Value) {
    let validator = validator(schema);
    assert!(
        !validator.is_valid(&document),
        "{schema} accepted a document with {what}: {document}"
    );
}

#[test]
fn schemas_reject_documents_that_break_the_contract() {
    // The valid baseline passes, so each rejection below is down to its one change.
    let jsonl = "export-jsonl.schema.json";
    assert!(validator(jsonl).is_valid(&valid_jsonl_row()));

    let mut row = valid_jsonl_row();
    row["extra"] = json!("x");
    check_rejected(jsonl, "an unknown field", row);

    let mut row = valid_jsonl_row();
    row.as_object_mut().unwrap().remove("removed_at");
    check_rejected(jsonl, "a missing field", row);

    let mut row = valid_jsonl_row();
    row["email"] = json!("not an address");
    check_rejected(jsonl, "an email that is neither an address nor a hash", row);

    let mut row = valid_jsonl_row();
    row["email"] = json!("13D855CE931073D4924AC377CDA0E9A543908B9D6607727C8033D729C65ECED6");
    check_rejected(jsonl, "an upper-case hash", row);

    let mut row = valid_jsonl_row();
    row["first_seen"] = json!("2026-11-28 01:49:26");
    check_rejected(jsonl, "a time that is not RFC 3339", row);

    let mut row = valid_jsonl_row();
    row["last_seen"] = json!("2026-11-28T02:49:26+01:00");
    check_rejected(jsonl, "a time that is not UTC", row);

    let mut row = valid_jsonl_row();
    row["count"] = json!("1");
    check_rejected(jsonl, "a count given as a string", row);

    let ses = "export-ses-jsonl.schema.json";
    assert!(validator(ses).is_valid(&json!({"emailAddress": "a@example.org", "reason": "BOUNCE"})));
    check_rejected(
        ses,
        "a reason SES does not know",
        json!({"emailAddress": "a@example.org", "reason": "UNSUBSCRIBE"}),
    );
    check_rejected(
        ses,
        "a missing reason",
        json!({"emailAddress": "a@example.org"}),
    );

    // SES and Postmark take ASCII addresses only: an internationalised domain as A-labels.
    assert!(
        validator(ses).is_valid(
            &json!({"emailAddress": "info@xn--bcher-kva.example", "reason": "COMPLAINT"})
        )
    );
    check_rejected(
        ses,
        "a Unicode domain",
        json!({"emailAddress": "info@bücher.example", "reason": "COMPLAINT"}),
    );

    let postmark = "export-postmark.schema.json";
    assert!(validator(postmark).is_valid(&json!([{"EmailAddress": "info@xn--bcher-kva.example"}])));
    check_rejected(
        postmark,
        "a Unicode domain",
        json!([{"EmailAddress": "info@bücher.example"}]),
    );
    check_rejected(
        postmark,
        "an object instead of an array",
        json!({"EmailAddress": "a@example.org"}),
    );
    check_rejected(
        postmark,
        "an extra key",
        json!([{"EmailAddress": "a@example.org", "Origin": "Customer"}]),
    );

    let mailman = "export-mailman.schema.json";
    check_rejected(
        mailman,
        "a string instead of a list",
        json!({"emails": "a@example.org"}),
    );
    check_rejected(mailman, "a missing list", json!({}));
    check_rejected(
        mailman,
        "an address that is not one",
        json!({"emails": ["a@@example.org"]}),
    );
}
