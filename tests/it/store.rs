//! The store on real SQLite files: migrations, uniqueness, the suppression list and its
//! history.

use fbl::store::{Store, SuppressChange, SuppressRequest, SuppressionFilter};

fn request<'a>(address: &'a str, reason: &'a str, now: &'a str) -> SuppressRequest<'a> {
    SuppressRequest {
        address,
        reason,
        source: "yahoo",
        seen_at: now,
        expires_at: None,
        report_id: None,
        actor: "report",
        now,
    }
}

fn listed(store: &Store, now: &str, removed: bool) -> Vec<String> {
    let mut out = Vec::new();
    store
        .for_each_suppression(
            &SuppressionFilter {
                changed_since: None,
                changed_after_seq: None,
                removed,
                now: now.to_string(),
            },
            |s| {
                out.push(s.address.clone());
                Ok(())
            },
        )
        .unwrap();
    out
}

#[test]
fn migrations_apply_to_a_fresh_file_and_reopen_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fbl.sqlite");
    let store = Store::open(&path).unwrap();
    let version = store.schema_version().unwrap();
    assert!(version >= 1);
    drop(store);
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), version);
    let mode: String = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn a_store_from_a_newer_fbl_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fbl.sqlite");
    drop(Store::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let error = Store::open(&path).err().unwrap();
    assert!(
        format!("{error:#}").contains("newer than this fbl knows"),
        "{error:#}"
    );
}

#[test]
fn suppressions_count_repeats_keep_the_strongest_reason_and_record_history() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
    let mut batch = store.begin().unwrap();
    assert_eq!(
        batch
            .suppress(&request(
                "a@example.org",
                "unsubscribe",
                "2026-11-01T00:00:00Z"
            ))
            .unwrap(),
        SuppressChange::Added
    );
    assert_eq!(
        batch
            .suppress(&request(
                "A@EXAMPLE.ORG",
                "complaint",
                "2026-11-02T00:00:00Z"
            ))
            .unwrap(),
        SuppressChange::Updated
    );
    assert_eq!(
        batch
            .suppress(&request(
                "a@example.org",
                "unsubscribe",
                "2026-11-03T00:00:00Z"
            ))
            .unwrap(),
        SuppressChange::Updated
    );
    batch.commit().unwrap();
    let entry = store
        .active_suppression("a@example.org", "2026-11-04T00:00:00Z")
        .unwrap()
        .unwrap();
    assert_eq!(entry.reason, "complaint");
    assert_eq!(entry.count, 3);
    assert_eq!(entry.first_seen, "2026-11-01T00:00:00Z");
    assert_eq!(entry.last_seen, "2026-11-03T00:00:00Z");
    let actions: Vec<String> = store
        .history("a@example.org")
        .unwrap()
        .into_iter()
        .map(|h| h.action)
        .collect();
    assert_eq!(actions, ["add", "update", "update"]);
}

#[test]
fn removal_and_expiry_take_an_address_off_the_list_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
    let mut batch = store.begin().unwrap();
    batch
        .suppress(&request(
            "gone@example.org",
            "complaint",
            "2026-11-01T00:00:00Z",
        ))
        .unwrap();
    let mut expiring = request("brief@example.org", "unsubscribe", "2026-11-01T00:00:00Z");
    expiring.expires_at = Some("2026-11-10T00:00:00Z");
    batch.suppress(&expiring).unwrap();
    batch
        .suppress(&request(
            "stays@example.org",
            "complaint",
            "2026-11-01T00:00:00Z",
        ))
        .unwrap();
    assert!(
        batch
            .unsuppress(
                "gone@example.org",
                "customer asked, ticket 42",
                "manual",
                "2026-11-05T00:00:00Z"
            )
            .unwrap()
    );
    assert!(
        !batch
            .unsuppress("never@example.org", "x", "manual", "2026-11-05T00:00:00Z")
            .unwrap()
    );
    batch.commit().unwrap();

    let later = "2026-11-20T00:00:00Z";
    assert_eq!(listed(&store, later, false), ["stays@example.org"]);
    assert_eq!(
        listed(&store, later, true),
        ["brief@example.org", "gone@example.org"]
    );
    let mut batch = store.begin().unwrap();
    assert_eq!(batch.expire_suppressions(later).unwrap(), 1);
    assert_eq!(batch.expire_suppressions(later).unwrap(), 0);
    batch.commit().unwrap();
    let history = store.history("gone@example.org").unwrap();
    assert_eq!(history.last().unwrap().action, "remove");
    assert_eq!(
        history.last().unwrap().note.as_deref(),
        Some("customer asked, ticket 42")
    );
    assert_eq!(
        store
            .history("brief@example.org")
            .unwrap()
            .last()
            .unwrap()
            .action,
        "expire"
    );
}

#[test]
fn quarantine_keeps_bytes_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
    let raw = b"broken report bytes \x00\xff".to_vec();
    let digest = fbl::store::sha256(&raw);
    let mut batch = store.begin().unwrap();
    assert!(
        batch
            .quarantine(&raw, &digest, "a.eml", "broken", "2026-11-01T00:00:00Z")
            .unwrap()
    );
    assert!(
        !batch
            .quarantine(&raw, &digest, "a.eml", "broken", "2026-11-02T00:00:00Z")
            .unwrap()
    );
    batch.commit().unwrap();
    let list = store.quarantine_list(false).unwrap();
    assert_eq!(list.len(), 1);
    let (_, bytes) = store.quarantined(list[0].id).unwrap().unwrap();
    assert_eq!(bytes, raw);
}

#[test]
fn a_new_store_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fbl.sqlite");
    let mut store = Store::open(&path).unwrap();
    let batch = store.begin().unwrap();
    batch.commit().unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_store_written_by_an_older_version_is_migrated_on_open_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.sqlite");
    {
        // The store as the first version left it: only migration 0001, one suppression.
        let connection = rusqlite::Connection::open(&path).unwrap();
        let first =
            std::fs::read_to_string(crate::support::root().join("schemas/sqlite/0001_init.sql"))
                .unwrap();
        connection.execute_batch(&first).unwrap();
        connection.pragma_update(None, "user_version", 1).unwrap();
        connection
            .execute(
                "INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count, updated_at, change_seq)
                 VALUES ('old@example.org', 'complaint', 'yahoo', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1, '2026-01-01T00:00:00Z', 1)",
                [],
            )
            .unwrap();
    }
    let migrations = std::fs::read_dir(crate::support::root().join("schemas/sqlite"))
        .unwrap()
        .count() as i64;
    let store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), migrations);
    assert!(
        store
            .active_suppression("old@example.org", "2026-11-01T00:00:00Z")
            .unwrap()
            .is_some()
    );
    assert!(
        store.mailbox_states().unwrap().is_empty(),
        "later tables exist"
    );
}

/// The id lookup once walked the whole send log (the partial index on `id` was never used)
/// and matched an empty id against the entries that carry none.
#[test]
fn send_log_lookup_by_empty_id_finds_nobody() {
    use fbl::attribution::SendLogLookup;
    use fbl::sendlog::SendLogEntry;
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite")).unwrap();
    let entry = |message_id: Option<&str>, recipient: &str, id: Option<&str>| SendLogEntry {
        message_id: message_id.map(str::to_string),
        recipient: recipient.to_string(),
        id: id.map(str::to_string),
        campaign: None,
        list: None,
        source_ip: None,
        sent_at: Some("2026-11-01T00:00:00Z".to_string()),
    };
    let mut batch = store.begin().unwrap();
    let now = "2026-11-02T00:00:00Z";
    batch
        .add_send_log(&entry(Some("m1@example.com"), "ann@example.net", None), now)
        .unwrap();
    batch
        .add_send_log(&entry(None, "bob@example.net", Some("7f3a9c")), now)
        .unwrap();
    batch.commit().unwrap();
    assert_eq!(store.recipient_by_id(""), None);
    assert_eq!(store.recipient_by_id("  "), None);
    assert_eq!(
        store.recipient_by_id("7f3a9c").as_deref(),
        Some("bob@example.net")
    );
}

/// A store fbl may not write to (here: owned by root, fbl running as `nobody`; as an ordinary
/// user, a 0400 file) gives a clear error naming it, and keeps what it held.
#[test]
fn a_store_fbl_cannot_write_gives_a_clear_error_and_keeps_its_data() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("fbl.sqlite");
    {
        let mut store = Store::open(&path).unwrap();
        let mut batch = store.begin().unwrap();
        batch
            .suppress(&request(
                "kept@example.org",
                "complaint",
                "2026-11-01T00:00:00Z",
            ))
            .unwrap();
        batch.commit().unwrap();
    }
    std::fs::write(
        dir.path().join("r.eml"),
        crate::support::arf("abuse", "new@example.org", "m@example.com"),
    )
    .unwrap();
    std::fs::set_permissions(
        dir.path().join("r.eml"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let mut command = if root {
        // Root writes through file modes: run fbl as an unprivileged user instead.
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let mut command = std::process::Command::new("setpriv");
        command.args([
            "--reuid",
            "nobody",
            "--regid",
            "nogroup",
            "--clear-groups",
            "--",
        ]);
        command.arg(env!("CARGO_BIN_EXE_fbl"));
        command
    } else {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_fbl"))
    };
    let output = command
        .current_dir(dir.path())
        .env_remove("RUST_BACKTRACE")
        .args(["--db", path.to_str().unwrap(), "ingest", "r.eml"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("fbl.sqlite"),
        "the error names the store: {stderr}"
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let store = Store::open(&path).unwrap();
    assert!(
        store
            .active_suppression("kept@example.org", "2026-11-03T00:00:00Z")
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .active_suppression("new@example.org", "2026-11-03T00:00:00Z")
            .unwrap()
            .is_none()
    );
}
