//! Internationalised domains end to end: an address is one address whichever form its domain
//! comes in (Unicode `bücher.de` or A-labels `xn--bcher-kva.de`), kept in its Unicode form.

use crate::support::{fbl, run, run_with_stdin, stdout};

/// `support::arf` with a longer MIME boundary: its boundary `b` would be found inside
/// `xn--bcher` by the MIME parser, which cuts the address there.
fn arf(feedback_type: &str, rcpt_to: &str, message_id: &str) -> Vec<u8> {
    String::from_utf8(crate::support::arf(feedback_type, rcpt_to, message_id))
        .unwrap()
        .replace("boundary=\"b\"", "boundary=\"=_report_=\"")
        .replace("\n--b\n", "\n--=_report_=\n")
        .replace("\n--b--\n", "\n--=_report_=--\n")
        .into_bytes()
}

fn listed(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let output = run(fbl(dir).args(["suppress", "list", "--json"]));
    assert_eq!(output.status.code(), Some(0));
    let list: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    match list {
        serde_json::Value::Array(rows) => rows,
        other => other["suppressions"].as_array().unwrap().clone(),
    }
}

#[test]
fn a_complaint_under_the_a_label_form_suppresses_the_unicode_form() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_with_stdin(
        fbl(dir.path()).args(["ingest", "-"]),
        &arf("abuse", "user@xn--bcher-kva.de", "m1@example.com"),
    );
    assert_eq!(output.status.code(), Some(0));
    for form in [
        "user@bücher.de",
        "user@xn--bcher-kva.de",
        "user@XN--BCHER-KVA.DE",
        "user@BÜCHER.de",
        "user@ｂüｃｈｅｒ.de",
    ] {
        let output = run(fbl(dir.path()).args(["suppress", "check", form]));
        assert_eq!(output.status.code(), Some(0), "{form}");
    }
    // A second complaint and a manual add under the other forms: still one suppression.
    let output = run_with_stdin(
        fbl(dir.path()).args(["ingest", "-"]),
        &arf("abuse", "user@bücher.de", "m2@example.com"),
    );
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        "user@XN--bcher-kva.de",
        "--reason",
        "asked by phone",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let rows = listed(dir.path());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["address"], "user@bücher.de");
    // The manual add changes neither reason nor expiry of the listed entry: not counted.
    assert_eq!(rows[0]["count"], 2);

    // Removed under one form, it is off the list under both.
    let output = run(fbl(dir.path()).args([
        "suppress",
        "remove",
        "user@xn--bcher-kva.de",
        "--reason",
        "re-subscribed",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "check", "user@bücher.de"]));
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn an_a_label_that_does_not_decode_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let output =
        run(fbl(dir.path()).args(["suppress", "add", "user@xn--zz-.de", "--reason", "typed"]));
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not a valid internationalised domain name"),
        "{stderr}"
    );
}

#[test]
fn a_send_log_recipient_is_kept_in_the_same_form_as_a_complainant() {
    for (raw, kept) in [
        ("user@xn--bcher-kva.de", "user@bücher.de"),
        ("<User@XN--BCHER-KVA.DE>", "User@bücher.de"),
        ("user@BÜCHER.de", "user@bücher.de"),
        ("user@Example.ORG", "user@example.org"),
        // A local part beyond ASCII lower-cased, as a complainant's is.
        ("ÉLISE@example.fr", "élise@example.fr"),
        ("\"odd@local\"@xn--bcher-kva.de", "\"odd@local\"@bücher.de"),
        // A domain UTS #46 refuses stays as the log has it, lower-cased.
        ("user@XN--ZZ.de", "user@xn--zz.de"),
    ] {
        assert_eq!(
            fbl::sendlog::normalise_recipient(raw).as_deref(),
            Some(kept),
            "{raw}"
        );
    }
}

#[test]
fn exports_write_each_consumer_the_form_it_matches() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        "info@xn--bcher-kva.example",
        "josé@bücher.example",
        "--reason",
        "asked",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let export = |format: &str| {
        let path = dir.path().join(format);
        let output = run(fbl(dir.path()).args([
            "export",
            "--format",
            format,
            "--output",
            path.to_str().unwrap(),
        ]));
        let stderr = String::from_utf8(output.stderr).unwrap();
        // An address left out (said) needs a person: exit 1.
        let code = if stderr.is_empty() { 0 } else { 1 };
        assert_eq!(output.status.code(), Some(code), "{format}: {stderr}");
        (std::fs::read_to_string(&path).unwrap(), stderr, path)
    };
    let (plain, stderr, _) = export("plain");
    assert_eq!(plain, "info@bücher.example\njosé@bücher.example\n");
    assert_eq!(stderr, "");
    let (ses, stderr, path) = export("ses");
    assert_eq!(ses, "info@xn--bcher-kva.example,COMPLAINT\n");
    assert_eq!(
        stderr,
        format!(
            "fbl: export ses {}: 1 suppressed address left out (first: josé@bücher.example): \
             ses takes ASCII addresses only and the part before the @ is not ASCII, so \
             suppress it another way\n",
            path.display()
        )
    );
    let (postfix, stderr, _) = export("postfix");
    assert_eq!(
        postfix,
        "info@bücher.example REJECT 5.7.1 suppressed: asked\n\
         info@xn--bcher-kva.example REJECT 5.7.1 suppressed: asked\n\
         josé@bücher.example REJECT 5.7.1 suppressed: asked\n\
         josé@xn--bcher-kva.example REJECT 5.7.1 suppressed: asked\n"
    );
    assert_eq!(stderr, "");
}

/// A local part with letters beyond ASCII is one address whatever their case: the store folds
/// only ASCII letters, so fbl keeps such a local part lower-cased (`ÉLISE@` is `élise@`).
#[test]
fn a_local_part_beyond_ascii_is_one_address_in_any_case() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_with_stdin(
        fbl(dir.path()).args(["ingest", "-"]),
        &arf("abuse", "ÉLISE.Dupont@example.fr", "m1@example.com"),
    );
    assert_eq!(output.status.code(), Some(0));
    for form in [
        "élise.dupont@example.fr",
        "ÉLISE.DUPONT@example.fr",
        "Élise.Dupont@EXAMPLE.FR",
    ] {
        let output = run(fbl(dir.path()).args(["suppress", "check", form]));
        assert_eq!(output.status.code(), Some(0), "{form}");
    }
    let output = run(fbl(dir.path()).args([
        "suppress",
        "add",
        "élise.dupont@example.fr",
        "--reason",
        "asked by phone",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let rows = listed(dir.path());
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["address"], "élise.dupont@example.fr");
    // Removed under one spelling, it is off the list under every other.
    let output = run(fbl(dir.path()).args([
        "suppress",
        "remove",
        "Élise.Dupont@example.fr",
        "--reason",
        "re-subscribed",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path()).args(["suppress", "check", "ÉLISE.DUPONT@example.fr"]));
    assert_eq!(output.status.code(), Some(1));
}

/// Two suppressions of a store written before migration 0022 that differ only by the case of
/// a local part beyond ASCII are merged by 0022, and the history's `merge` line says so (not
/// that their domain was in another form, 0017's job); two whose domain differs say 0017.
#[test]
fn a_merge_line_names_what_differed_and_the_migration_that_merged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fbl.sqlite");
    let version = std::fs::read_dir(crate::support::root().join("schemas/sqlite"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().as_ref() < "0022"
        })
        .count();
    let suppression = |address: &str, seq: i64| {
        format!(
            "INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count,
                 expires_at, removed_at, updated_at, change_seq, last_history_id)
             VALUES ('{address}', 'manual', 'manual', '2026-01-0{seq}T00:00:00Z',
                 '2026-01-0{seq}T00:00:00Z', 1, NULL, NULL, '2026-01-0{seq}T00:00:00Z', {seq}, {seq});
             INSERT INTO suppression_history
                 (id, address, at, action, reason, actor, report_id, note, previous_id)
             VALUES ({seq}, '{address}', '2026-01-0{seq}T00:00:00Z', 'add', 'manual', 'manual',
                 NULL, NULL, NULL);"
        )
    };
    let rows = [
        suppression("élise@example.net", 1),
        suppression("ÉLISE@example.net", 2),
    ]
    .concat();
    crate::upgrade::sqlite_store_at(&path, version, None, &rows);
    let output = run(fbl(dir.path()).args([
        "--db",
        path.to_str().unwrap(),
        "suppress",
        "show",
        "élise@example.net",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let shown = stdout(&output);
    assert!(
        shown.contains(
            "merged with ÉLISE@example.net (the same address, its local part in other \
             capitals) by store migration 0022"
        ),
        "{shown}"
    );
    assert!(!shown.contains("0017"), "{shown}");
}
