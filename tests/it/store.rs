//! The store on both engines, real SQLite files and a real PostgreSQL server: migrations,
//! uniqueness, the suppression list and its history. Every test taking a [`Backend`] runs
//! once per engine (see `on_both_backends!` at the end).

use fbl::store::{
    Location, PostgresConfig, Store, SuppressChange, SuppressRequest, SuppressionFilter,
};

/// The engine a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// A store of its own for one test: a file in a temporary folder, or a fresh database on
/// the shared PostgreSQL server. The database's password is in a pgpass file in the folder,
/// so that no command line or URL a test prints carries it.
pub(crate) struct TestStore {
    pub(crate) location: Location,
    pub(crate) dir: tempfile::TempDir,
}

impl TestStore {
    pub(crate) fn new(backend: Backend) -> TestStore {
        let dir = tempfile::tempdir().unwrap();
        let location = match backend {
            Backend::Sqlite => Location::Sqlite(dir.path().join("fbl.sqlite")),
            Backend::Postgres => {
                let server = crate::postgres::shared();
                let url = crate::postgres::fresh_database();
                let database = url.rsplit('/').next().unwrap().to_string();
                let pgpass = dir.path().join("pgpass");
                std::fs::write(&pgpass, format!("{}\n", server.pgpass_line())).unwrap();
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
                Location::Postgres(PostgresConfig {
                    url: server.database_url_without_password(&database),
                    password_file: Some(dir.path().join("password")),
                    ..PostgresConfig::default()
                })
            }
        };
        if backend == Backend::Postgres {
            std::fs::write(
                dir.path().join("password"),
                crate::postgres::shared().password(),
            )
            .unwrap();
        }
        TestStore { location, dir }
    }

    /// `fbl` in the test's folder on this store (`--db`, and the pgpass file for PostgreSQL).
    pub(crate) fn fbl(&self) -> std::process::Command {
        let mut command = crate::support::fbl(self.dir.path());
        command.args(["--db", &self.db_arg()]);
        if matches!(self.location, Location::Postgres(_)) {
            command.env("PGPASSFILE", self.dir.path().join("pgpass"));
        }
        command
    }

    pub(crate) fn open(&self) -> Store {
        Store::open_at(&self.location).unwrap()
    }

    /// The `--db` argument naming this store.
    pub(crate) fn db_arg(&self) -> String {
        match &self.location {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(config) => config.url.clone(),
        }
    }

    /// The PostgreSQL database's name.
    pub(crate) fn database(&self) -> String {
        match &self.location {
            Location::Postgres(config) => config
                .url
                .rsplit('/')
                .next()
                .unwrap()
                .split('?')
                .next()
                .unwrap()
                .to_string(),
            Location::Sqlite(_) => panic!("not a PostgreSQL store"),
        }
    }
}

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

fn migration_names(engine: &str) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(crate::support::root().join("schemas").join(engine))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
    names.sort();
    names
}

#[test]
fn both_engines_have_the_same_numbered_migrations() {
    assert_eq!(migration_names("sqlite"), migration_names("postgres"));
}

fn migrations_apply_to_a_fresh_store_and_reopen_cleanly(backend: Backend) {
    let test = TestStore::new(backend);
    let store = test.open();
    let version = store.schema_version().unwrap();
    assert_eq!(version, migration_names("sqlite").len() as i64);
    drop(store);
    let store = test.open();
    assert_eq!(store.schema_version().unwrap(), version);
    match &test.location {
        Location::Sqlite(path) => {
            let mode: String = rusqlite::Connection::open(path)
                .unwrap()
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(mode, "wal");
        }
        Location::Postgres(_) => {
            let rows = crate::postgres::shared().psql_in(
                &test.database(),
                "SELECT version, name FROM fbl_schema ORDER BY version",
            );
            assert_eq!(rows.len() as i64, version, "{rows:?}");
            assert_eq!(rows[0], "1|0001_init.sql");
        }
    }
}

fn a_store_from_a_newer_fbl_is_refused_with_a_clear_error(backend: Backend) {
    let test = TestStore::new(backend);
    drop(test.open());
    match &test.location {
        Location::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .pragma_update(None, "user_version", 999)
            .unwrap(),
        Location::Postgres(_) => {
            crate::postgres::shared().psql_in(
                &test.database(),
                "INSERT INTO fbl_schema (version, name) VALUES (999, 'from the future')",
            );
        }
    }
    let error = Store::open_at(&test.location).err().unwrap();
    assert!(
        format!("{error:#}").contains("newer than this fbl knows"),
        "{error:#}"
    );
}

fn suppressions_count_repeats_keep_the_strongest_reason_and_record_history(backend: Backend) {
    let test = TestStore::new(backend);
    let mut store = test.open();
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

fn removal_and_expiry_take_an_address_off_the_list_and_say_so(backend: Backend) {
    let test = TestStore::new(backend);
    let mut store = test.open();
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

    // Expired, and no run recorded it yet, when a new report puts it back: the history has
    // the expiry before the new add.
    let mut batch = store.begin().unwrap();
    let mut short = request("short@example.org", "unsubscribe", "2026-11-01T00:00:00Z");
    short.expires_at = Some("2026-11-02T00:00:00Z");
    batch.suppress(&short).unwrap();
    batch
        .suppress(&request("short@example.org", "complaint", later))
        .unwrap();
    batch.commit().unwrap();
    let history: Vec<(String, String)> = store
        .history("short@example.org")
        .unwrap()
        .into_iter()
        .map(|line| (line.action, line.at))
        .collect();
    assert_eq!(
        history,
        [
            ("add".to_string(), "2026-11-01T00:00:00Z".to_string()),
            ("expire".to_string(), "2026-11-02T00:00:00Z".to_string()),
            ("add".to_string(), later.to_string()),
        ]
    );
}

fn quarantine_keeps_bytes_once(backend: Backend) {
    let test = TestStore::new(backend);
    let mut store = test.open();
    let raw = b"broken report bytes \x00\xff".to_vec();
    let digest = fbl::store::sha256(&raw);
    let mut batch = store.begin().unwrap();
    assert!(
        batch
            .quarantine(
                &raw,
                &digest,
                Some(&fbl::content_key::content_key(&raw)),
                raw.len() as u64,
                "a.eml",
                "broken",
                "2026-11-01T00:00:00Z"
            )
            .unwrap()
            .is_some()
    );
    assert!(
        batch
            .quarantine(
                &raw,
                &digest,
                Some(&fbl::content_key::content_key(&raw)),
                raw.len() as u64,
                "a.eml",
                "broken",
                "2026-11-02T00:00:00Z"
            )
            .unwrap()
            .is_none()
    );
    // The head of an oversized message is kept without a content key, and a release by
    // digest alone (of such a head) finds nothing else.
    let head = b"the head of a big message".to_vec();
    assert!(
        batch
            .quarantine(
                &head,
                &fbl::store::sha256(&head),
                None,
                100_000,
                "big.eml",
                "message of 100000 bytes",
                "2026-11-02T00:00:00Z"
            )
            .unwrap()
            .is_some()
    );
    let none = batch
        .release_quarantine(
            &fbl::store::sha256(b"other"),
            None,
            1,
            "2026-11-03T00:00:00Z",
        )
        .unwrap();
    assert!(none.is_empty());
    batch.commit().unwrap();
    let list = store.quarantine_list(false).unwrap();
    assert_eq!(list.len(), 2);
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

fn a_store_written_by_an_older_version_is_migrated_on_open_and_keeps_its_data(backend: Backend) {
    let test = TestStore::new(backend);
    let insert = "INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count, updated_at, change_seq)
         VALUES ('old@example.org', 'complaint', 'yahoo', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z', 1, '2026-01-01T00:00:00Z', 1)";
    // A report and a quarantined message as the first version kept them: raw DEFLATE.
    let raw = b"From: staff@hotmail.com\r\nSubject: complaint\r\n\r\nkept by the first version\r\n";
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut encoder, raw).unwrap();
    let deflated = hex::encode(encoder.finish().unwrap());
    let blob = match backend {
        Backend::Sqlite => format!("X'{deflated}'"),
        Backend::Postgres => format!("'\\x{deflated}'::bytea"),
    };
    let old_rows = format!(
        "INSERT INTO reports (id, sha256, ingested_at, origin, kind, format, reporter, reported_at,
             reported_day, redacted, attributed, report_json, raw_deflate, raw_size)
         VALUES (7, {blob}, '2026-01-01T00:00:00Z', 'old.eml', 'complaint', 'jmrp_legacy',
             'microsoft', '2026-01-01T00:00:00Z', '2026-01-01', 0, 0, '{{}}', {blob}, {size});
         INSERT INTO quarantine (id, sha256, quarantined_at, origin, reason, raw_deflate, raw_size)
         VALUES (3, {blob}, '2026-01-01T00:00:00Z', 'bad.eml', 'broken', {blob}, {size});
         INSERT INTO suppression_evidence (address, report_id) VALUES ('old@example.org', 7);",
        size = raw.len()
    );
    // The store as the first version left it: only migration 0001, one suppression.
    match &test.location {
        Location::Sqlite(path) => {
            let connection = rusqlite::Connection::open(path).unwrap();
            let first = std::fs::read_to_string(
                crate::support::root().join("schemas/sqlite/0001_init.sql"),
            )
            .unwrap();
            connection.execute_batch(&first).unwrap();
            connection.pragma_update(None, "user_version", 1).unwrap();
            connection.execute(insert, []).unwrap();
            connection.execute_batch(&old_rows).unwrap();
        }
        Location::Postgres(_) => {
            let first = std::fs::read_to_string(
                crate::support::root().join("schemas/postgres/0001_init.sql"),
            )
            .unwrap();
            let server = crate::postgres::shared();
            server.psql_in(&test.database(), &first);
            server.psql_in(
                &test.database(),
                "CREATE TABLE fbl_schema (version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now());
                 INSERT INTO fbl_schema (version, name) VALUES (1, '0001_init.sql');
                 ALTER TABLE suppressions OWNER TO fbl; ALTER TABLE fbl_schema OWNER TO fbl;",
            );
            // The superuser made the tables: hand every one to fbl, as if fbl had made them.
            server.psql_in(
                &test.database(),
                "DO $$ DECLARE t record; BEGIN
                   FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
                     EXECUTE format('ALTER TABLE %I OWNER TO fbl', t.tablename);
                   END LOOP; END $$;",
            );
            server.psql_in(&test.database(), insert);
            server.psql_in(&test.database(), &old_rows);
        }
    }
    let store = Store::open_at(&test.location).unwrap();
    // Messages compressed by the first version read back whole after the migrations.
    assert_eq!(store.report_raw(7).unwrap().unwrap(), raw);
    assert_eq!(store.quarantined(3).unwrap().unwrap().1, raw);
    assert_eq!(
        store.schema_version().unwrap(),
        migration_names("sqlite").len() as i64
    );
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
    // Evidence the first version kept in its own table (from version 8 it is read from the
    // history) is still shown, once, also when the history names the same report.
    assert_eq!(store.evidence("old@example.org").unwrap(), [7]);
    let mut store = store;
    let mut batch = store.begin().unwrap();
    batch
        .suppress(&fbl::store::SuppressRequest {
            address: "old@example.org",
            reason: "complaint",
            source: "yahoo",
            seen_at: "2026-11-01T00:00:00Z",
            expires_at: None,
            report_id: Some(7),
            actor: "report",
            now: "2026-11-01T00:00:00Z",
        })
        .unwrap();
    batch.commit().unwrap();
    assert_eq!(store.evidence("old@example.org").unwrap(), [7]);
}

/// Makes `test`'s store as fbl left it at schema `version` (its first `version` migrations),
/// holding `rows` (SQL for the test's engine).
fn store_of_version(test: &TestStore, version: usize, rows: &str) {
    let engine = match test.location {
        Location::Sqlite(_) => "sqlite",
        Location::Postgres(_) => "postgres",
    };
    let names: Vec<String> = migration_names(engine).into_iter().take(version).collect();
    assert_eq!(names.len(), version);
    let schema: Vec<String> = names
        .iter()
        .map(|name| {
            std::fs::read_to_string(crate::support::root().join(format!("schemas/{engine}/{name}")))
                .unwrap()
        })
        .collect();
    match &test.location {
        Location::Sqlite(path) => {
            let connection = rusqlite::Connection::open(path).unwrap();
            for sql in &schema {
                connection.execute_batch(sql).unwrap();
            }
            connection
                .pragma_update(None, "user_version", version as i64)
                .unwrap();
            connection.execute_batch(rows).unwrap();
        }
        Location::Postgres(_) => {
            let server = crate::postgres::shared();
            for sql in &schema {
                server.psql_in(&test.database(), sql);
            }
            let mut versions = String::from(
                "CREATE TABLE fbl_schema (version BIGINT PRIMARY KEY, name TEXT NOT NULL,
                     applied_at TIMESTAMPTZ NOT NULL DEFAULT now());",
            );
            for (i, name) in names.iter().enumerate() {
                versions.push_str(&format!(
                    "INSERT INTO fbl_schema (version, name) VALUES ({}, '{name}');",
                    i + 1
                ));
            }
            server.psql_in(&test.database(), &versions);
            server.psql_in(
                &test.database(),
                "DO $$ DECLARE t record; BEGIN
                   FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
                     EXECUTE format('ALTER TABLE %I OWNER TO fbl', t.tablename);
                   END LOOP;
                   FOR t IN SELECT viewname FROM pg_views WHERE schemaname = 'public' LOOP
                     EXECUTE format('ALTER VIEW %I OWNER TO fbl', t.viewname);
                   END LOOP; END $$;",
            );
            server.psql_in(&test.database(), rows);
        }
    }
}

/// Before version 11 a quarantined oversized message was kept with the size of its head,
/// so `fbl quarantine retry` parsed the head as if it were the message. The migration gives
/// such a row its message's size back from its reason; other rows keep theirs.
fn oversized_quarantine_written_before_version_11_gets_its_size_from_its_reason(backend: Backend) {
    let test = TestStore::new(backend);
    // The head of a complaint padded out, as fbl kept it: the first 1,001 bytes.
    let mut head = crate::support::arf("abuse", "big@example.org", "b@example.com");
    head.resize(1001, b'x');
    let head_digest = fbl::store::sha256(&head);
    let head = fbl::store::pack(&head).unwrap();
    let broken_digest = fbl::store::sha256(b"broken");
    let broken = fbl::store::pack(b"broken").unwrap();
    let rows = format!(
        "INSERT INTO quarantine (id, sha256, quarantined_at, origin, reason, raw_packed, raw_size)
         VALUES (1, {a}, '2026-01-01T00:00:00Z', 'big.eml',
                 'message of 270840 bytes is bigger than limits.max_message_bytes; only its first 1001 bytes are kept',
                 {head}, 1001),
                (2, {b}, '2026-01-01T00:00:00Z', 'bad.eml', 'no Feedback-Type field', {broken}, 6);",
        a = blob(backend, &head_digest),
        b = blob(backend, &broken_digest),
        head = blob(backend, &head),
        broken = blob(backend, &broken),
    );
    store_of_version(&test, 10, &rows);
    let store = Store::open_at(&test.location).unwrap();
    let sizes: Vec<(i64, u64)> = store
        .quarantine_list(false)
        .unwrap()
        .iter()
        .map(|e| (e.id, e.size))
        .collect();
    assert_eq!(sizes, [(1, 270_840), (2, 6)]);
    drop(store);

    // The retry keeps the head in quarantine, and says why.
    let output = crate::support::run(test.fbl().args(["quarantine", "retry", "1"]));
    assert_eq!(output.status.code(), Some(1));
    let text = crate::support::stdout(&output);
    assert!(
        text.starts_with("1 retried: 0 stored, 1 still quarantined\n"),
        "{text}"
    );
    assert!(
        text.contains("1: message of 270840 bytes was bigger than limits.max_message_bytes: only its first 1001 bytes were kept"),
        "{text}"
    );
    assert_eq!(test.open().quarantine_list(false).unwrap().len(), 2);
}

/// Version 18 keys the quarantine by what each message says, so that storing another
/// delivery of a report releases its quarantined copies. Open rows quarantined before are
/// keyed by the migration, reading their kept bytes; the head of an oversized message, a
/// released row and bytes that no longer unpack keep no key (and the store still opens).
fn quarantine_written_before_version_18_is_keyed_by_the_migration(backend: Backend) {
    let test = TestStore::new(backend);
    let report = [
        b"Message-ID: <twice@arf.example>\n".as_slice(),
        &crate::support::arf("abuse", "twice@example.org", "t@example.com"),
    ]
    .concat();
    let untrusted = [
        b"Authentication-Results: mx.other.example; dkim=pass header.d=yahoo.com\n".as_slice(),
        &report,
    ]
    .concat();
    let trusted = [
        b"Authentication-Results: mx.sender.example; dkim=pass header.d=yahoo.com\n".as_slice(),
        &report,
    ]
    .concat();
    // A message without a Message-ID is keyed by all its bytes: a head of it would have a
    // key of its own, were it keyed.
    let mut head = crate::support::arf("abuse", "big@example.org", "b@example.com");
    head.resize(1001, b'x');
    let retried = crate::support::arf("abuse", "retried@example.org", "r@example.com");
    let row = |id: i64, raw: &[u8], size: usize, reason: &str, released: &str| {
        format!(
            "({id}, {sha}, '2026-01-01T00:00:00Z', 'q{id}.eml', '{reason}', {packed}, {size},
              {released})",
            sha = blob(backend, &fbl::store::sha256(raw)),
            packed = blob(backend, &fbl::store::pack(raw).unwrap()),
        )
    };
    let rows = format!(
        "INSERT INTO reports (id, sha256, ingested_at, origin, kind, format, reporter,
             reported_at, reported_day, redacted, attributed, report_json, raw_packed, raw_size,
             content_key)
         VALUES (1, {sha}, '2026-01-01T00:00:00Z', 'trusted.eml', 'complaint', 'arf', 'yahoo',
              '2026-01-01T00:00:00Z', '2026-01-01', 0, 0, '{{}}', {packed}, {size}, {key});
         INSERT INTO quarantine (id, sha256, quarantined_at, origin, reason, raw_packed,
             raw_size, released_at)
         VALUES {}, {}, {}, {};",
        row(
            1,
            &untrusted,
            untrusted.len(),
            "untrusted_reporter: not ours",
            "NULL"
        ),
        row(
            2,
            &head,
            270840,
            "message of 270840 bytes was bigger",
            "NULL"
        ),
        row(
            3,
            &retried,
            retried.len(),
            "no Feedback-Type field",
            "'2026-01-02T00:00:00Z'"
        ),
        // Bytes damaged outside fbl: they no longer unpack.
        row(4, b"damaged", 7, "broken", "NULL").replace(
            &blob(backend, &fbl::store::pack(b"damaged").unwrap()),
            &blob(backend, b"\x00")
        ),
        sha = blob(backend, &fbl::store::sha256(&trusted)),
        packed = blob(backend, &fbl::store::pack(&trusted).unwrap()),
        size = trusted.len(),
        key = blob(backend, &fbl::content_key::content_key(&trusted)),
    );
    let version = migration_names("sqlite")
        .iter()
        .position(|name| name.ends_with("_quarantine_content_key.sql"))
        .expect("the migration is listed");
    store_of_version(&test, version, &rows);
    let mut store = Store::open_at(&test.location).unwrap();
    assert_eq!(store.quarantine_list(true).unwrap().len(), 4);
    if let Location::Sqlite(path) = &test.location {
        let keys: Vec<(i64, Option<Vec<u8>>)> = rusqlite::Connection::open(path)
            .unwrap()
            .prepare("SELECT id, content_key FROM quarantine ORDER BY id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            keys,
            [
                (1, Some(fbl::content_key::content_key(&untrusted).to_vec())),
                (2, None),
                (3, None),
                (4, None)
            ]
        );
    }
    // Another delivery of the report, stored or found stored, releases the untrusted copy
    // by its content key, and nothing else.
    let delivered = [b"Delivered-To: fbl@example.com\n".as_slice(), &trusted].concat();
    let mut batch = store.begin().unwrap();
    let released = batch
        .release_quarantine(
            &fbl::store::sha256(&delivered),
            Some(&fbl::content_key::content_key(&delivered)),
            1,
            "2026-11-20T08:00:00Z",
        )
        .unwrap();
    assert_eq!(released, [1]);
    batch.commit().unwrap();
    let open: Vec<i64> = store
        .quarantine_list(false)
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(open, [2, 4]);
    let (entry, _) = store.quarantined(1).unwrap().unwrap();
    assert_eq!(entry.report_id, Some(1));
    assert_eq!(entry.released_at.as_deref(), Some("2026-11-20T08:00:00Z"));
}

/// Bytes as an SQL literal for the engine.
fn blob(backend: Backend, bytes: &[u8]) -> String {
    match backend {
        Backend::Sqlite => format!("X'{}'", hex::encode(bytes)),
        Backend::Postgres => format!("'\\x{}'::bytea", hex::encode(bytes)),
    }
}

/// Version 10 finds an address's history lines through a chain (each line's previous line,
/// the suppression's latest) instead of an index by address. A store of version 9 is
/// chained by the migration: every address shows the lines it showed before, in order, the
/// case of the address as written notwithstanding, and lines written after follow on.
fn history_written_before_version_10_is_chained_by_the_migration(backend: Backend) {
    let test = TestStore::new(backend);
    // Two addresses on the list, one taken off, lines interleaved as runs write them; the
    // history of `Mixed@Example.org` was written under two spellings of its local part.
    let rows = "INSERT INTO reports (id, sha256, ingested_at, origin, kind, format, reporter,
             reported_at, reported_day, redacted, attributed, report_json, raw_packed, raw_size)
         VALUES (5, 'r5', '2026-01-01T00:00:00Z', 'a.eml', 'complaint', 'arf', 'yahoo',
             '2026-01-01T00:00:00Z', '2026-01-01', 0, 1, '{}', 'x', 1),
            (6, 'r6', '2026-01-02T00:00:00Z', 'b.eml', 'complaint', 'arf', 'yahoo',
             '2026-01-02T00:00:00Z', '2026-01-02', 0, 1, '{}', 'x', 1);
         INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count,
             removed_at, updated_at, change_seq)
         VALUES ('ann@example.org', 'complaint', 'yahoo', '2026-01-01T00:00:00Z',
                 '2026-01-02T00:00:00Z', 2, NULL, '2026-01-02T00:00:00Z', 3),
                ('Mixed@Example.org', 'complaint', 'manual', '2026-01-01T00:00:00Z',
                 '2026-01-01T00:00:00Z', 1, '2026-01-03T00:00:00Z', '2026-01-03T00:00:00Z', 4);
         INSERT INTO suppression_history (id, address, at, action, reason, actor, report_id, note)
         VALUES (1, 'ann@example.org', '2026-01-01T00:00:00Z', 'add', 'complaint', 'report', 5, NULL),
                (2, 'Mixed@Example.org', '2026-01-01T00:00:00Z', 'add', 'complaint', 'manual', NULL, 'by hand'),
                (3, 'ann@example.org', '2026-01-02T00:00:00Z', 'update', 'complaint', 'report', 6, NULL),
                (4, 'mixed@Example.org', '2026-01-03T00:00:00Z', 'remove', NULL, 'manual', NULL, 'asked');";
    let rows = match backend {
        Backend::Sqlite => rows
            .replace("'r5'", "X'05'")
            .replace("'r6'", "X'06'")
            .replace("'x'", "X'00'"),
        Backend::Postgres => rows
            .replace("'r5'", "'\\x05'::bytea")
            .replace("'r6'", "'\\x06'::bytea")
            .replace("'x'", "'\\x00'::bytea"),
    };
    store_of_version(&test, 9, &rows);
    if backend == Backend::Postgres {
        crate::postgres::shared().psql_in(
            &test.database(),
            "SELECT setval(pg_get_serial_sequence('suppression_history', 'id'), 4)",
        );
    }
    let mut store = Store::open_at(&test.location).unwrap();
    assert_eq!(
        store.schema_version().unwrap(),
        migration_names("sqlite").len() as i64
    );
    let actions = |store: &Store, address: &str| -> Vec<(String, String, Option<i64>)> {
        store
            .history(address)
            .unwrap()
            .into_iter()
            .map(|h| (h.at[..10].to_string(), h.action, h.report_id))
            .collect()
    };
    let line = |day: &str, action: &str, report: Option<i64>| {
        (day.to_string(), action.to_string(), report)
    };
    assert_eq!(
        actions(&store, "ann@example.org"),
        [
            line("2026-01-01", "add", Some(5)),
            line("2026-01-02", "update", Some(6))
        ]
    );
    assert_eq!(store.evidence("ann@example.org").unwrap(), [5, 6]);
    let mixed = [
        line("2026-01-01", "add", None),
        line("2026-01-03", "remove", None),
    ];
    assert_eq!(actions(&store, "mixed@example.org"), mixed);
    assert_eq!(actions(&store, "MIXED@example.org"), mixed);
    assert!(actions(&store, "nobody@example.org").is_empty());

    // Lines written from now on follow on from the chained ones.
    let mut batch = store.begin().unwrap();
    batch
        .suppress(&fbl::store::SuppressRequest {
            address: "mixed@example.org",
            reason: "complaint",
            source: "yahoo",
            seen_at: "2026-01-04T00:00:00Z",
            expires_at: None,
            report_id: Some(6),
            actor: "report",
            now: "2026-01-04T00:00:00Z",
        })
        .unwrap();
    assert!(
        batch
            .unsuppress("ann@example.org", "asked", "manual", "2026-01-05T00:00:00Z")
            .unwrap()
    );
    batch.commit().unwrap();
    let mut mixed = mixed.to_vec();
    mixed.push(line("2026-01-04", "add", Some(6)));
    assert_eq!(actions(&store, "Mixed@Example.org"), mixed);
    assert_eq!(store.evidence("mixed@example.org").unwrap(), [6]);
    assert_eq!(
        actions(&store, "ann@example.org"),
        [
            line("2026-01-01", "add", Some(5)),
            line("2026-01-02", "update", Some(6)),
            line("2026-01-05", "remove", None)
        ]
    );
}

/// The same send in a Postfix log (no id, campaign or source IP) and in the mailer's CSV
/// (with them), in either order, is one send-log entry with what both say: two counted the
/// message twice in the report's volumes.
fn one_send_in_two_logs_is_one_entry(backend: Backend) {
    use fbl::sendlog::SendLogEntry;
    let test = TestStore::new(backend);
    let mut store = test.open();
    let postfix = |message_id: &str| SendLogEntry {
        message_id: Some(message_id.to_string()),
        recipient: "uma@outlook.example".to_string(),
        id: None,
        campaign: None,
        list: None,
        source_ip: None,
        sent_at: Some("2026-11-01T00:00:05Z".to_string()),
    };
    let csv = |message_id: &str| SendLogEntry {
        id: Some("sub-1001".to_string()),
        campaign: Some("black-friday".to_string()),
        list: Some("news".to_string()),
        source_ip: Some("203.0.113.5".to_string()),
        sent_at: Some("2026-11-01T00:00:00Z".to_string()),
        ..postfix(message_id)
    };
    let now = "2026-11-02T00:00:00Z";
    let mut batch = store.begin().unwrap();
    assert!(batch.add_send_log(&postfix("u1@s.example"), now).unwrap());
    assert!(
        batch.add_send_log(&csv("u1@s.example"), now).unwrap(),
        "filled in"
    );
    assert!(batch.add_send_log(&csv("u2@s.example"), now).unwrap());
    assert!(!batch.add_send_log(&postfix("u2@s.example"), now).unwrap());
    // Read again: nothing changes.
    assert!(!batch.add_send_log(&csv("u1@s.example"), now).unwrap());
    assert!(!batch.add_send_log(&postfix("u1@s.example"), now).unwrap());
    // Another id for the same Message-ID and recipient is another entry.
    let other = SendLogEntry {
        id: Some("sub-2002".to_string()),
        ..csv("u1@s.example")
    };
    assert!(batch.add_send_log(&other, now).unwrap());
    batch.commit().unwrap();
    assert_eq!(store.counts().unwrap().send_log, 3);
    for message_id in ["u1@s.example", "u2@s.example"] {
        let rows = store.send_log_for_message_id(message_id).unwrap();
        let first = &rows[0];
        assert_eq!(
            (
                first.id.as_deref(),
                first.campaign.as_deref(),
                first.source_ip.as_deref()
            ),
            (Some("sub-1001"), Some("black-friday"), Some("203.0.113.5")),
            "{message_id}: {rows:?}"
        );
    }
}

/// A store written before sends were merged may hold one send twice: from the Postfix log
/// (no id) and from the CSV (with one). Reading the CSV again used to fill the id into the
/// first and fail on the second (UNIQUE constraint), ending the import every time.
#[test]
fn a_send_kept_twice_by_an_older_fbl_is_read_again_without_error() {
    use fbl::sendlog::SendLogEntry;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fbl.sqlite");
    let csv = SendLogEntry {
        message_id: Some("u1@s.example".to_string()),
        recipient: "uma@outlook.example".to_string(),
        id: Some("sub-1001".to_string()),
        campaign: Some("black-friday".to_string()),
        list: None,
        source_ip: Some("203.0.113.5".to_string()),
        sent_at: Some("2026-11-01T00:00:00Z".to_string()),
    };
    let now = "2026-11-02T00:00:00Z";
    {
        let mut store = Store::open(&path).unwrap();
        let mut batch = store.begin().unwrap();
        assert!(batch.add_send_log(&csv, now).unwrap());
        batch.commit().unwrap();
    }
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO send_log (message_id, recipient, id, sent_at, imported_at)
             VALUES ('u1@s.example', 'uma@outlook.example', '', '2026-11-01T00:00:05Z', ?1)",
            [now],
        )
        .unwrap();
    let mut store = Store::open(&path).unwrap();
    let mut batch = store.begin().unwrap();
    assert!(!batch.add_send_log(&csv, now).unwrap());
    batch.commit().unwrap();
    assert_eq!(store.counts().unwrap().send_log, 2);
}

/// The id lookup once walked the whole send log (the partial index on `id` was never used)
/// and matched an empty id against the entries that carry none.
fn send_log_lookup_by_empty_id_finds_nobody(backend: Backend) {
    use fbl::attribution::SendLogLookup;
    use fbl::sendlog::SendLogEntry;
    let test = TestStore::new(backend);
    let mut store = test.open();
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

    // An id sent again to the same recipient names that recipient; an id sent to several
    // recipients (a campaign-level id) names none of them, whichever was sent last. A
    // Message-ID sent to two recipients names neither.
    let mut batch = store.begin().unwrap();
    for (recipient, sent_at) in [
        ("carol@example.net", Some("2026-10-01T00:00:00Z")),
        ("dave@example.net", Some("2026-11-01T00:00:00Z")),
        ("erin@example.net", None),
    ] {
        let send = SendLogEntry {
            sent_at: sent_at.map(str::to_string),
            ..entry(None, recipient, Some("resent"))
        };
        batch.add_send_log(&send, now).unwrap();
    }
    for day in 1..=2 {
        let send = SendLogEntry {
            sent_at: Some(format!("2026-10-{day:02}T00:00:00Z")),
            ..entry(None, "hal@example.net", Some("twice"))
        };
        batch.add_send_log(&send, now).unwrap();
    }
    // Sent ten times to one recipient, then once to another: more rows than one read takes.
    for day in 1..=11 {
        let recipient = if day == 11 {
            "ivy@example.net"
        } else {
            "joe@example.net"
        };
        let message_id = format!("often-{day}@example.com");
        let send = SendLogEntry {
            sent_at: Some(format!("2026-10-{day:02}T00:00:00Z")),
            ..entry(Some(&message_id), recipient, Some("often"))
        };
        batch.add_send_log(&send, now).unwrap();
    }
    // The same send in two logs: a Postfix log (no id) and a CSV (with one).
    for id in [None, Some("sub-1001")] {
        batch
            .add_send_log(&entry(Some("m3@example.com"), "kim@example.net", id), now)
            .unwrap();
    }
    for recipient in ["fay@example.net", "gus@example.net"] {
        batch
            .add_send_log(&entry(Some("m2@example.com"), recipient, None), now)
            .unwrap();
    }
    batch.commit().unwrap();
    assert_eq!(store.recipient_by_id("resent"), None);
    assert_eq!(
        store.recipient_by_id("twice").as_deref(),
        Some("hal@example.net")
    );
    assert_eq!(store.recipient_by_id("often"), None);
    assert_eq!(
        store
            .recipient_by_message_id("<often-3@example.com>")
            .as_deref(),
        Some("joe@example.net")
    );
    assert_eq!(store.recipient_by_message_id("<m2@example.com>"), None);
    assert_eq!(
        store.recipient_by_message_id("<m3@example.com>").as_deref(),
        Some("kim@example.net")
    );
    assert_eq!(
        store.recipient_by_message_id("<m1@example.com>").as_deref(),
        Some("ann@example.net")
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
    let mode = if running_as_root() { 0o644 } else { 0o400 };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    let mut command = fbl_as_another_user();
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

/// Whether the tests run as root (as CI does), which writes through file modes.
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// fbl run by a user that does not own the store: as root, `nobody` (setpriv); otherwise
/// the test's own user, kept off the file by its mode.
fn fbl_as_another_user() -> std::process::Command {
    if running_as_root() {
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
        std::process::Command::new(env!("CARGO_BIN_EXE_fbl"))
    }
}

/// A store made by one user (root's cron) and used by another: SQLite's own words ("attempt
/// to write a readonly database", "unable to open database file") name neither the file nor
/// the cause. fbl says whose the file is, its mode, who fbl runs as, and what to do.
#[test]
fn a_store_of_another_user_says_whose_it_is() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
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
    let root = running_as_root();
    let owner = if root { "root" } else { "its owner" };
    let run = |args: &[&str]| {
        let output = fbl_as_another_user()
            .current_dir(dir.path())
            .env_remove("RUST_BACKTRACE")
            .args(["--db", path.to_str().unwrap()])
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };

    // Readable, not writable: reading works, a change is refused with the reason.
    let mode = if root { 0o644 } else { 0o400 };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    let (code, stdout, stderr) = run(&["suppress", "list"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.contains("kept@example.org"), "{stdout}");
    let (code, _, stderr) = run(&["suppress", "add", "new@example.org", "--reason", "x"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{}", path.display()))
            && stderr.contains(owner)
            && stderr.contains(&format!("mode {mode:04o}")),
        "{stderr}"
    );
    if root {
        assert!(
            stderr.contains("fbl runs as nobody: run fbl as root"),
            "{stderr}"
        );
    }

    // Not even readable: the open fails with the same explanation.
    let mode = if root { 0o600 } else { 0o000 };
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    let (code, _, stderr) = run(&["suppress", "check", "kept@example.org"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot open store {}", path.display()))
            && stderr.contains(owner)
            && stderr.contains(&format!("mode {mode:04o}")),
        "{stderr}"
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    // The -wal and -shm files the other user's fbl left in this folder every user may write
    // to are not the store's owner's: as root, fbl refuses them (hostile_files). Gone, the
    // store opens.
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let store = Store::open(&path).unwrap();
    assert!(
        store
            .active_suppression("new@example.org", "2026-11-03T00:00:00Z")
            .unwrap()
            .is_none()
    );
}

/// The read-only view lists what is on the list now: not removed, not expired.
fn the_suppression_view_lists_the_current_list(backend: Backend) {
    let test = TestStore::new(backend);
    let mut store = test.open();
    let mut batch = store.begin().unwrap();
    for address in [
        "on@example.org",
        "gone@example.org",
        "expired@example.org",
        "later@example.org",
    ] {
        let mut entry = request(address, "complaint", "2026-11-01T00:00:00Z");
        if address == "expired@example.org" {
            entry.expires_at = Some("2026-11-02T00:00:00Z");
        }
        if address == "later@example.org" {
            entry.expires_at = Some("2999-01-01T00:00:00Z");
        }
        batch.suppress(&entry).unwrap();
    }
    batch
        .unsuppress(
            "gone@example.org",
            "asked",
            "manual",
            "2026-11-03T00:00:00Z",
        )
        .unwrap();
    batch.commit().unwrap();
    drop(store);
    let sql = "SELECT address, reason, count FROM fbl_suppressions ORDER BY address";
    let rows: Vec<String> = match &test.location {
        Location::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .prepare(sql)
            .unwrap()
            .query_map([], |r| {
                Ok(format!(
                    "{}|{}|{}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect(),
        Location::Postgres(_) => crate::postgres::shared().psql_in(&test.database(), sql),
    };
    assert_eq!(
        rows,
        [
            "later@example.org|complaint|1",
            "on@example.org|complaint|1"
        ]
    );
}

/// Stores each of `raws` as `report` from a connection of its own, all at the same moment
/// (a barrier), each in its own transaction; what the store answered each.
fn stored_at_once(
    test: &TestStore,
    report: &fbl::report::Report,
    raws: Vec<Vec<u8>>,
) -> Vec<fbl::store::Stored> {
    let barrier = std::sync::Barrier::new(raws.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = raws
            .into_iter()
            .map(|raw| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut store = test.open();
                    barrier.wait();
                    let mut batch = store.begin().unwrap();
                    let stored = batch
                        .store_report(&fbl::store::NewReport {
                            packed: None,
                            raw: &raw,
                            sha256: fbl::store::sha256(&raw),
                            content_key: None,
                            origin: "test",
                            report,
                            ingested_at: "2026-11-01T00:00:00Z",
                        })
                        .unwrap();
                    batch.commit().unwrap();
                    stored
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Two connections storing the same report at the same moment store it once: the second
/// write transaction waits for the first and then sees it.
fn the_same_report_stored_at_once_by_two_connections_is_stored_once(backend: Backend) {
    let test = TestStore::new(backend);
    drop(test.open());
    let raw = crate::support::arf("abuse", "twice@example.org", "m@example.com");
    let report = fbl::report_parser::parse(&raw).report;
    let outcomes = stored_at_once(&test, &report, vec![raw; 8]);
    let new = outcomes
        .iter()
        .filter(|o| matches!(o, fbl::store::Stored::New(_)))
        .count();
    assert_eq!(new, 1, "{outcomes:?}");
    assert_eq!(test.open().counts().unwrap().reports, 1);
}

/// One report delivered several ways (each copy with trace fields of its own, some with LF
/// and some with CRLF) and stored at once by as many connections is stored once: the other
/// deliveries are duplicates of it, and so is one stored later.
fn deliveries_of_one_report_are_stored_once(backend: Backend) {
    let test = TestStore::new(backend);
    drop(test.open());
    let original = [
        b"Message-ID: <report-1@arf.example>\n".as_slice(),
        &crate::support::arf("abuse", "twice@example.org", "m@example.com"),
    ]
    .concat();
    let delivery = |n: usize| -> Vec<u8> {
        let copy = [
            format!("Received: by mx{n}.example.com; Tue, 10 Nov 2026 12:00:0{n} +0000\n")
                .as_bytes(),
            &original,
        ]
        .concat();
        if n.is_multiple_of(2) {
            crate::support::to_crlf(&copy)
        } else {
            copy
        }
    };
    let report = fbl::report_parser::parse(&original).report;
    let outcomes = stored_at_once(&test, &report, (0..8).map(delivery).collect());
    let new: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| match o {
            fbl::store::Stored::New(id) => Some(*id),
            fbl::store::Stored::Duplicate(_) => None,
        })
        .collect();
    assert_eq!(new.len(), 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, fbl::store::Stored::New(id) | fbl::store::Stored::Duplicate(id) if *id == new[0])),
        "{outcomes:?}"
    );
    let mut store = test.open();
    let later = delivery(9);
    let batch = store.begin().unwrap();
    assert_eq!(
        batch
            .report_id_by_digests(
                &fbl::store::sha256(&later),
                &fbl::content_key::content_key(&later)
            )
            .unwrap(),
        Some(new[0])
    );
    drop(batch);
    assert_eq!(store.counts().unwrap().reports, 1);
}

/// Version 14 keys reports by what they say. Reports stored before are keyed by the
/// migration, reading their raw messages, so that a later delivery of one is a duplicate; a
/// second delivery stored before keeps no key (the migration does not fail on it) and stays.
fn reports_stored_before_version_14_are_keyed_by_the_migration(backend: Backend) {
    let test = TestStore::new(backend);
    let first = [
        b"Message-ID: <report-1@arf.example>\n".as_slice(),
        &crate::support::arf("abuse", "one@example.org", "m1@example.com"),
    ]
    .concat();
    let first_again = [b"Delivered-To: alias@example.com\n".as_slice(), &first].concat();
    let second = [
        b"Message-ID: <report-2@arf.example>\n".as_slice(),
        &crate::support::arf("abuse", "two@example.org", "m2@example.com"),
    ]
    .concat();
    let row = |id: i64, raw: &[u8]| {
        format!(
            "({id}, {sha}, '2026-01-01T00:00:00Z', 'old.eml', 'complaint', 'arf', 'yahoo',
              '2026-01-01T00:00:00Z', '2026-01-01', 0, 0, '{{}}', {packed}, {size})",
            sha = blob(backend, &fbl::store::sha256(raw)),
            packed = blob(backend, &fbl::store::pack(raw).unwrap()),
            size = raw.len()
        )
    };
    let rows = format!(
        "INSERT INTO reports (id, sha256, ingested_at, origin, kind, format, reporter,
             reported_at, reported_day, redacted, attributed, report_json, raw_packed, raw_size)
         VALUES {}, {}, {}, {};",
        row(1, &first),
        row(2, &first_again),
        row(3, &second),
        // A raw message damaged outside fbl: it no longer unpacks. The store still opens.
        row(4, b"damaged").replace(
            &blob(backend, &fbl::store::pack(b"damaged").unwrap()),
            &blob(backend, b"\x00")
        )
    );
    store_of_version(&test, 13, &rows);
    let mut store = Store::open_at(&test.location).unwrap();
    assert_eq!(store.counts().unwrap().reports, 4);
    if let Location::Sqlite(path) = &test.location {
        // The copy stored before and the damaged row keep no key; the others have theirs.
        let keyless: Vec<i64> = rusqlite::Connection::open(path)
            .unwrap()
            .prepare("SELECT id FROM reports WHERE content_key IS NULL ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(keyless, [2, 4]);
    }
    let batch = store.begin().unwrap();
    for (raw, id) in [
        (
            [b"Delivered-To: abuse@example.com\n".as_slice(), &first].concat(),
            1,
        ),
        (crate::support::to_crlf(&second), 3),
    ] {
        assert_eq!(
            batch
                .report_id_by_digests(
                    &fbl::store::sha256(&raw),
                    &fbl::content_key::content_key(&raw)
                )
                .unwrap(),
            Some(id)
        );
    }
}

/// `fbl store report` and `fbl store unattributed` read the same on both engines.
fn a_stored_report_and_the_unattributed_read_back(backend: Backend) {
    let test = TestStore::new(backend);
    let mut store = test.open();
    let mut batch = store.begin().unwrap();
    let mut ids = Vec::new();
    for rcpt in ["jane@example.org", ""] {
        let raw = crate::support::arf("abuse", rcpt, &format!("{rcpt}m@example.com"));
        let mut report = fbl::report_parser::parse(&raw).report;
        if !rcpt.is_empty() {
            report.recipients.push(fbl::report::Recipient {
                address: Some(rcpt.to_string()),
                id: None,
                via: fbl::report::Via::OriginalRcptTo,
            });
        } else {
            report.attribution_notes.push("nobody named".to_string());
        }
        let stored = batch
            .store_report(&fbl::store::NewReport {
                raw: &raw,
                packed: None,
                sha256: fbl::store::sha256(&raw),
                content_key: None,
                origin: "test.eml",
                report: &report,
                ingested_at: "2026-11-01T00:00:00Z",
            })
            .unwrap();
        ids.push(match stored {
            fbl::store::Stored::New(id) => id,
            other => panic!("{other:?}"),
        });
    }
    batch.commit().unwrap();
    let shown = store.stored_report(ids[0]).unwrap().unwrap();
    assert_eq!(shown.kind, "complaint");
    assert!(shown.attributed);
    assert_eq!(shown.complainants.len(), 1);
    assert_eq!(shown.complainants[0].address, "jane@example.org");
    assert_eq!(shown.complainants[0].via, "original_rcpt_to");
    assert_eq!(shown.report["feedback_type"], "abuse");
    assert!(store.stored_report(ids[1] + 100).unwrap().is_none());
    let unattributed = store.unattributed_reports().unwrap();
    assert_eq!(unattributed.len(), 1);
    assert_eq!(unattributed[0].id, ids[1]);
    assert_eq!(unattributed[0].reason, "nobody named");
}

/// A COMMIT the store refuses (here a deferred constraint, checked only then) leaves no
/// transaction open: what the batch did is rolled back, and the next batch commits alone.
fn a_refused_commit_rolls_back_and_the_next_batch_commits(backend: Backend) {
    let test = TestStore::new(backend);
    let mut store = test.open();
    // Suppressing an address starting with "refused" breaks a deferred foreign key.
    match &test.location {
        Location::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(
                "CREATE TABLE test_allowed (address TEXT PRIMARY KEY);
                 CREATE TABLE test_refused (address TEXT
                     REFERENCES test_allowed (address) DEFERRABLE INITIALLY DEFERRED);
                 CREATE TRIGGER test_refuse AFTER INSERT ON suppressions
                 WHEN NEW.address LIKE 'refused%'
                 BEGIN INSERT INTO test_refused VALUES (NEW.address); END;",
            )
            .unwrap(),
        Location::Postgres(_) => {
            crate::postgres::shared().psql_in(
                &test.database(),
                "CREATE TABLE test_allowed (address text PRIMARY KEY);
                 CREATE TABLE test_refused (address text
                     REFERENCES test_allowed (address) DEFERRABLE INITIALLY DEFERRED);
                 CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql
                 SECURITY DEFINER AS $$
                 BEGIN
                     IF NEW.address LIKE 'refused%' THEN
                         INSERT INTO test_refused VALUES (NEW.address);
                     END IF;
                     RETURN NEW;
                 END $$;
                 CREATE TRIGGER test_refuse AFTER INSERT ON suppressions
                 FOR EACH ROW EXECUTE FUNCTION test_refuse();",
            );
        }
    }
    let now = "2026-11-01T00:00:00Z";
    let mut batch = store.begin().unwrap();
    for address in ["rolled-back@example.org", "refused@example.org"] {
        batch.suppress(&request(address, "complaint", now)).unwrap();
    }
    let error = batch
        .commit()
        .expect_err("the deferred constraint fails the commit");
    assert!(
        format!("{error:#}").to_lowercase().contains("foreign key"),
        "{error:#}"
    );
    let mut batch = store.begin().unwrap();
    batch
        .suppress(&request("later@example.org", "complaint", now))
        .unwrap();
    batch.commit().unwrap();
    assert_eq!(
        listed(&store, "2026-11-02T00:00:00Z", false),
        ["later@example.org"]
    );
    assert_eq!(test.open().counts().unwrap().history, 1);
}

/// Addresses sort the same on both engines (byte order, ASCII case folded), so exports are
/// the same bytes whichever holds the list.
#[test]
fn both_engines_list_addresses_in_the_same_order() {
    let addresses = [
        "zed@example.org",
        "Anna@example.org",
        "anna.b@example.org",
        "anna_c@example.org",
        "ANNA-D@example.org",
        "0001@example.org",
        "émile@example.org",
        "Émile2@example.org",
        "bob+tag@example.org",
        "bob@Example.org",
    ];
    let listings: Vec<Vec<String>> = [Backend::Sqlite, Backend::Postgres]
        .into_iter()
        .map(|backend| {
            let test = TestStore::new(backend);
            let mut store = test.open();
            let mut batch = store.begin().unwrap();
            for address in addresses {
                batch
                    .suppress(&request(address, "complaint", "2026-11-01T00:00:00Z"))
                    .unwrap();
            }
            batch.commit().unwrap();
            listed(&store, "2026-11-02T00:00:00Z", false)
        })
        .collect();
    assert_eq!(listings[0].len(), addresses.len());
    assert_eq!(listings[0], listings[1]);
}

/// On PostgreSQL one host at a time polls a mailbox; the lock ends with its holder.
#[test]
fn a_mailbox_lock_is_held_by_one_connection_at_a_time() {
    let test = TestStore::new(Backend::Postgres);
    let store = test.open();
    let other = test.open();
    let held = store.lock_mailbox("jmrp").unwrap().expect("free at first");
    assert!(
        other.lock_mailbox("jmrp").unwrap().is_none(),
        "held elsewhere"
    );
    assert!(
        other.lock_mailbox("yahoo").unwrap().is_some(),
        "another mailbox is free"
    );
    drop(held);
    assert!(other.lock_mailbox("jmrp").unwrap().is_some(), "free again");
    // SQLite stores have one fbl at a time anyway (the store lock): always free.
    let sqlite = TestStore::new(Backend::Sqlite).open();
    let _a = sqlite.lock_mailbox("jmrp").unwrap().unwrap();
    assert!(sqlite.lock_mailbox("jmrp").unwrap().is_some());
}

/// Runs SQL on the test's store through a connection of the harness.
fn run_sql(test: &TestStore, sql: &str) {
    match &test.location {
        Location::Sqlite(path) => rusqlite::Connection::open(path)
            .unwrap()
            .execute_batch(sql)
            .unwrap(),
        Location::Postgres(_) => {
            crate::postgres::shared().psql_in(&test.database(), sql);
        }
    }
}

/// A read snapshot sees the store as it was at its first read: a commit by another
/// connection after that (which does not wait for the snapshot) shows only once it ends.
fn a_read_snapshot_sees_no_commit_made_after_its_first_read(backend: Backend) {
    let test = TestStore::new(backend);
    let now = "2026-11-01T00:00:00Z";
    let mut writer = test.open();
    let reader = test.open();
    let suppress = |writer: &mut Store, address: &str| {
        let mut batch = writer.begin().unwrap();
        batch.suppress(&request(address, "complaint", now)).unwrap();
        batch.commit().unwrap();
    };
    suppress(&mut writer, "first@example.org");
    let (before, during) = reader
        .read_snapshot(|store| {
            let before = store.counts()?;
            suppress(&mut writer, "second@example.org");
            Ok((before, store.counts()?))
        })
        .unwrap();
    assert_eq!(before.suppressions, 1);
    assert_eq!(during, before);
    assert_eq!(writer.counts().unwrap().suppressions, 2);
    assert_eq!(reader.counts().unwrap().suppressions, 2);
}

/// A read that fails ends its snapshot (on PostgreSQL, a failed statement aborts the
/// transaction): the connection reads, in a new snapshot, what was committed meanwhile.
fn a_failed_read_snapshot_ends_and_the_connection_reads_on(backend: Backend) {
    let test = TestStore::new(backend);
    let now = "2026-11-01T00:00:00Z";
    let mut writer = test.open();
    let reader = test.open();
    run_sql(&test, "ALTER TABLE mailbox_state RENAME TO test_away");
    let failed = reader.read_snapshot(|store| {
        assert_eq!(store.counts()?.suppressions, 0);
        let mut batch = writer.begin()?;
        batch.suppress(&request("late@example.org", "complaint", now))?;
        batch.commit()?;
        store.mailbox_successes()
    });
    let error = format!("{:#}", failed.unwrap_err());
    assert!(error.contains("mailbox_state"), "{error}");
    run_sql(&test, "ALTER TABLE test_away RENAME TO mailbox_state");
    assert_eq!(reader.counts().unwrap().suppressions, 1);
    assert!(reader.mailbox_successes().unwrap().is_empty());
    let again = reader.read_snapshot(|store| store.counts()).unwrap();
    assert_eq!(again.suppressions, 1);
}

/// A message queued before the nightly log rotation and delivered after it: its message-id=
/// is in `maillog.1`, its delivery in `maillog`. The queue id still open at the end of the
/// first import is kept in the store and joins the delivery in the second; once `removed`,
/// it is forgotten. It used to be a bad line ("no message-id is known"), lost for good.
fn a_postfix_message_deferred_across_log_rotation_is_recorded(backend: Backend) {
    let test = TestStore::new(backend);
    let dir = test.dir.path();
    std::fs::write(
        dir.join("maillog.1"),
        "Nov 27 23:50:00 mail01 postfix/cleanup[1202]: 9ABC12345: message-id=<rot1@sender.example>\n\
         Nov 27 23:50:01 mail01 postfix/smtp[1300]: 9ABC12345: to=<slow@example.net>, relay=mx.example.net[198.51.100.7]:25, delay=1, delays=0.05/0.01/0.5/0.5, dsn=4.7.0, status=deferred (host said: 421 4.7.0 try later)\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("maillog"),
        "Nov 28 00:20:02 mail01 postfix/smtp[1300]: 9ABC12345: to=<slow@example.net>, relay=mx.example.net[198.51.100.7]:25, delay=1802, delays=1800/0.01/0.5/0.5, dsn=2.0.0, status=sent (250 2.0.0 OK)\n\
         Nov 28 00:20:02 mail01 postfix/qmgr[1100]: 9ABC12345: removed\n",
    )
    .unwrap();
    let import = |file: &str, now: &str| {
        let output = crate::support::run(
            test.fbl()
                .env("FBL_NOW", now)
                .env("TZ", "UTC")
                .args(["sendlog", "import", file, "--format", "postfix", "--json"]),
        );
        let imported: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or_default();
        (output.status.code(), imported)
    };
    let open_queue_ids = || -> Vec<(String, String, String, String)> {
        let mut store = test.open();
        let batch = store.begin().unwrap();
        batch
            .postfix_open_queue_ids("0000")
            .unwrap()
            .into_iter()
            .map(|id| (id.host, id.queue_id, id.message_id, id.last_seen))
            .collect()
    };
    let now = "2026-11-28T12:00:00Z";
    let (code, imported) = import("maillog.1", now);
    assert_eq!(code, Some(0), "{imported}");
    assert_eq!(imported["entries"], 0);
    assert_eq!(
        open_queue_ids(),
        [(
            "mail01".to_string(),
            "9ABC12345".to_string(),
            "rot1@sender.example".to_string(),
            "2026-11-27T23:50:01Z".to_string()
        )],
        "kept, last seen at the deferral"
    );
    // Read again, the first log changes nothing.
    let (code, imported) = import("maillog.1", now);
    assert_eq!((code, &imported["entries"]), (Some(0), &0.into()));
    assert_eq!(open_queue_ids().len(), 1);
    let (code, imported) = import("maillog", now);
    assert_eq!(code, Some(0), "{imported}");
    assert_eq!(imported["bad_lines"], 0);
    assert_eq!(imported["added"], 1);
    assert!(open_queue_ids().is_empty(), "removed: forgotten");
    let store = test.open();
    assert_eq!(store.counts().unwrap().send_log, 1);
    drop(store);

    // Both again, in order: nothing new, nothing kept.
    assert_eq!(import("maillog.1", now).1["added"], 0);
    let (code, imported) = import("maillog", now);
    assert_eq!((code, &imported["already_known"]), (Some(0), &1.into()));
    assert!(open_queue_ids().is_empty());

    // A queue id not seen for longer than Postfix keeps a message queued (5 days) is
    // forgotten: Postfix reuses short queue ids, so a later delivery under it is another
    // message's.
    let test_later = TestStore::new(backend);
    for file in ["maillog.1", "maillog"] {
        std::fs::copy(dir.join(file), test_later.dir.path().join(file)).unwrap();
    }
    let import_later = |file: &str, now: &str| {
        crate::support::run(
            test_later
                .fbl()
                .env("FBL_NOW", now)
                .env("TZ", "UTC")
                .args(["sendlog", "import", file, "--format", "postfix", "--json"]),
        )
    };
    assert_eq!(import_later("maillog.1", now).status.code(), Some(0));
    let output = import_later("maillog", "2026-12-03T00:00:00Z");
    assert_eq!(
        output.status.code(),
        Some(1),
        "an unknown queue id is a bad line"
    );
    assert!(
        crate::support::stdout(&output).contains("no message-id is known"),
        "{}",
        crate::support::stdout(&output)
    );
}

/// The store's schema version before migration `0017_idn_canonical` (found by its name, so
/// that a renumbering when branches merge changes nothing here).
fn version_before_idn_canonical() -> usize {
    migration_names("sqlite")
        .iter()
        .position(|name| name.ends_with("_idn_canonical.sql"))
        .expect("the migration is listed")
}

/// An internationalised domain is kept in one form (Unicode) since migration 0017. A store
/// written before holds both forms: the migration rewrites every address, merges the two
/// suppressions of one person (earliest first seen, latest last seen, counts added, the
/// stronger reason, no expiry when either has none), keeps both histories in one chain with
/// a `merge` line and both evidence, and leaves an address UTS #46 refuses as it is.
fn addresses_stored_before_idn_canonical_are_rewritten_and_merged(backend: Backend) {
    let test = TestStore::new(backend);
    let rows = "INSERT INTO reports (id, sha256, ingested_at, origin, kind, format, reporter,
             reported_at, reported_day, redacted, attributed, report_json, raw_packed, raw_size)
         VALUES (5, 'r5', '2026-01-05T00:00:00Z', 'a.eml', 'complaint', 'arf', 'yahoo',
             '2026-01-05T00:00:00Z', '2026-01-05', 0, 1, '{}', 'x', 1),
            (6, 'r6', '2026-02-01T00:00:00Z', 'b.eml', 'complaint', 'arf', 'yahoo',
             '2026-02-01T00:00:00Z', '2026-02-01', 0, 1, '{}', 'x', 1);
         INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count,
             expires_at, removed_at, updated_at, change_seq, last_history_id)
         VALUES ('user@xn--bcher-kva.de', 'complaint', 'yahoo', '2026-01-05T00:00:00Z',
                 '2026-02-01T00:00:00Z', 2, NULL, NULL, '2026-02-01T00:00:00Z', 3, 4),
                ('user@bücher.de', 'manual', 'manual', '2026-01-01T00:00:00Z',
                 '2026-01-10T00:00:00Z', 1, '2027-01-01T00:00:00Z', NULL,
                 '2026-01-10T00:00:00Z', 2, 2),
                ('solo@xn--caf-dma.example', 'complaint', 'yahoo', '2026-01-05T00:00:00Z',
                 '2026-01-05T00:00:00Z', 1, NULL, NULL, '2026-01-05T00:00:00Z', 1, 3),
                ('bad@xn--zz-.de', 'manual', 'manual', '2026-01-05T00:00:00Z',
                 '2026-01-05T00:00:00Z', 1, NULL, NULL, '2026-01-05T00:00:00Z', 4, 5),
                ('t@example.xn--xkc2dl3a5ee0h', 'complaint', 'yahoo', '2026-01-05T00:00:00Z',
                 '2026-01-05T00:00:00Z', 1, NULL, NULL, '2026-01-05T00:00:00Z', 5, 6),
                ('back@xn--bcher-kva.de', 'complaint', 'yahoo', '2026-01-05T00:00:00Z',
                 '2026-01-05T00:00:00Z', 1, NULL, NULL, '2026-01-05T00:00:00Z', 99, 7),
                ('back@bücher.de', 'manual', 'manual', '2026-01-02T00:00:00Z',
                 '2026-01-02T00:00:00Z', 1, NULL, '2026-03-01T00:00:00Z', '2026-03-01T00:00:00Z',
                 0, 9);
         INSERT INTO suppression_history
             (id, address, at, action, reason, actor, report_id, note, previous_id)
         VALUES (1, 'user@xn--bcher-kva.de', '2026-01-05T00:00:00Z', 'add', 'complaint', 'report', 5, NULL, NULL),
                (2, 'user@bücher.de', '2026-01-10T00:00:00Z', 'add', 'manual', 'manual', NULL, 'by phone', NULL),
                (3, 'solo@xn--caf-dma.example', '2026-01-05T00:00:00Z', 'add', 'complaint', 'report', 5, NULL, NULL),
                (4, 'user@xn--bcher-kva.de', '2026-02-01T00:00:00Z', 'update', 'complaint', 'report', 6, NULL, 1),
                (5, 'bad@xn--zz-.de', '2026-01-05T00:00:00Z', 'add', 'manual', 'manual', NULL, NULL, NULL),
                (6, 't@example.xn--xkc2dl3a5ee0h', '2026-01-05T00:00:00Z', 'add', 'complaint', 'report', 5, NULL, NULL),
                (7, 'back@xn--bcher-kva.de', '2026-01-05T00:00:00Z', 'add', 'complaint', 'report', 5, NULL, NULL),
                (8, 'back@bücher.de', '2026-01-02T00:00:00Z', 'add', 'manual', 'manual', NULL, NULL, NULL),
                (9, 'back@bücher.de', '2026-03-01T00:00:00Z', 'remove', 'manual', 'manual', NULL, 'confirmed opt-in again', 8);
         INSERT INTO suppression_evidence (address, report_id) VALUES ('user@xn--bcher-kva.de', 5);
         INSERT INTO complainants (report_id, address, id, via)
         VALUES (5, 'user@xn--bcher-kva.de', '', 'original_rcpt_to'),
                (6, 'user@xn--bcher-kva.de', '', 'original_rcpt_to'),
                (6, 'user@bücher.de', '', 'original_rcpt_to');
         INSERT INTO send_log (message_id, recipient, id, imported_at)
         VALUES ('m1@example.com', 'user@xn--bcher-kva.de', '', '2026-01-01T00:00:00Z'),
                ('m1@example.com', 'user@bücher.de', '', '2026-01-01T00:00:00Z'),
                ('m2@example.com', 'solo@XN--CAF-DMA.example', '', '2026-01-01T00:00:00Z');";
    let rows = match backend {
        Backend::Sqlite => rows
            .replace("'r5'", "X'05'")
            .replace("'r6'", "X'06'")
            .replace("'x'", "X'00'"),
        Backend::Postgres => rows
            .replace("'r5'", "'\\x05'::bytea")
            .replace("'r6'", "'\\x06'::bytea")
            .replace("'x'", "'\\x00'::bytea"),
    };
    store_of_version(&test, version_before_idn_canonical(), &rows);
    if backend == Backend::Postgres {
        crate::postgres::shared().psql_in(
            &test.database(),
            "SELECT setval(pg_get_serial_sequence('suppression_history', 'id'), 9)",
        );
    }
    // The first fbl to open the store migrates it, and names what it left as it was.
    let output = test.fbl().args(["store", "info"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(
        stderr.matches("bad@xn--zz-.de").count(),
        1,
        "named once: {stderr}"
    );
    assert!(stderr.contains("1 stored address"), "{stderr}");
    let output = test.fbl().args(["store", "info"]).output().unwrap();
    assert!(output.stderr.is_empty(), "said once, not at every open");
    let store = Store::open_at(&test.location).unwrap();
    let list: Vec<fbl::suppression::Suppression> =
        store.suppressions(&SuppressionFilter::default()).collect();
    let addresses: Vec<&str> = list.iter().map(|s| s.address.as_str()).collect();
    // Refused by UTS #46: left as it is, not lost.
    assert_eq!(
        addresses,
        [
            "bad@xn--zz-.de",
            "solo@café.example",
            "t@example.இந்தியா",
            "user@bücher.de"
        ]
    );
    // A domain of viramas (India's Tamil ccTLD) is rewritten to the form a check of either
    // form finds.
    assert_eq!(
        fbl::address::parse_typed("t@example.xn--xkc2dl3a5ee0h").as_deref(),
        Ok("t@example.இந்தியா")
    );
    // Renamed or merged, an entry is a change for the exports that send changes only: the
    // list manager gets the form its subscriber's record holds.
    let changed: Vec<String> = store
        .suppressions(&SuppressionFilter {
            changed_after_seq: Some(5),
            ..SuppressionFilter::default()
        })
        .map(|s| s.address)
        .collect();
    assert_eq!(
        changed,
        ["solo@café.example", "t@example.இந்தியா", "user@bücher.de"]
    );
    let merged = &list[3];
    assert_eq!(merged.reason, "complaint", "the stronger reason");
    assert_eq!(merged.source, "yahoo");
    assert_eq!(merged.first_seen, "2026-01-01T00:00:00Z");
    assert_eq!(merged.last_seen, "2026-02-01T00:00:00Z");
    assert_eq!(merged.count, 3);
    assert_eq!(merged.expires_at, None, "one of the two never expired");
    assert_eq!(merged.removed_at, None);

    let history = store.history("user@bücher.de").unwrap();
    let actions: Vec<(&str, Option<i64>)> = history
        .iter()
        .map(|h| (h.action.as_str(), h.report_id))
        .collect();
    assert_eq!(
        actions,
        [
            ("add", Some(5)),
            ("add", None),
            ("update", Some(6)),
            ("merge", None)
        ]
    );
    let note = history.last().unwrap().note.as_deref().unwrap();
    assert!(note.contains("merged with user@xn--bcher-kva.de"), "{note}");
    assert_eq!(store.evidence("user@bücher.de").unwrap(), [5, 6]);
    // The twin merged away held the store's latest change (99): the merge comes after it,
    // so that an export that recorded 99 still sends what changed.
    assert!(store.change_seq().unwrap() > 99);
    // A person's removal of one form after the other's last report stands: the merged entry
    // is off the list (`back@...` is not listed above), and its history says why.
    let history = store.history("back@bücher.de").unwrap();
    let actions: Vec<&str> = history.iter().map(|h| h.action.as_str()).collect();
    assert_eq!(actions, ["add", "add", "remove", "merge"]);
    let note = history.last().unwrap().note.as_deref().unwrap();
    assert!(
        note.contains("off the list, as the removal of back@bücher.de"),
        "{note}"
    );
    assert_eq!(store.history("solo@café.example").unwrap().len(), 1);
    assert_eq!(store.history("bad@xn--zz-.de").unwrap().len(), 1);

    let complainants = |id: i64| -> Vec<String> {
        store
            .stored_report(id)
            .unwrap()
            .unwrap()
            .complainants
            .into_iter()
            .map(|c| c.address)
            .collect()
    };
    assert_eq!(complainants(5), ["user@bücher.de"]);
    assert_eq!(complainants(6), ["user@bücher.de"], "two forms, one row");
    use fbl::attribution::SendLogLookup;
    assert_eq!(
        store.recipient_by_message_id("m1@example.com").as_deref(),
        Some("user@bücher.de")
    );
    assert_eq!(
        store.recipient_by_message_id("m2@example.com").as_deref(),
        Some("solo@café.example")
    );
    assert_eq!(store.counts().unwrap().send_log, 2, "two forms, one entry");
}

/// A local part with letters beyond ASCII is kept lower-cased since migration 0022 (the store
/// folds ASCII letters only). A store written before holds `ÉLISE@` and `élise@` as two
/// addresses: the migration rewrites every address and merges the two suppressions of one
/// person, as 0017 does for the two forms of a domain.
fn local_parts_stored_before_0022_are_lower_cased_and_merged(backend: Backend) {
    let test = TestStore::new(backend);
    let rows = "INSERT INTO reports (id, sha256, ingested_at, origin, kind, format, reporter,
             reported_at, reported_day, redacted, attributed, report_json, raw_packed, raw_size)
         VALUES (5, 'r5', '2026-01-05T00:00:00Z', 'a.eml', 'complaint', 'arf', 'yahoo',
             '2026-01-05T00:00:00Z', '2026-01-05', 0, 1, '{}', 'x', 1);
         INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count,
             expires_at, removed_at, updated_at, change_seq, last_history_id)
         VALUES ('ÉLISE@example.fr', 'complaint', 'yahoo', '2026-01-05T00:00:00Z',
                 '2026-01-05T00:00:00Z', 1, NULL, NULL, '2026-01-05T00:00:00Z', 2, 2),
                ('élise@example.fr', 'manual', 'manual', '2026-01-01T00:00:00Z',
                 '2026-01-01T00:00:00Z', 1, NULL, NULL, '2026-01-01T00:00:00Z', 1, 1),
                ('Jane@example.org', 'manual', 'manual', '2026-01-01T00:00:00Z',
                 '2026-01-01T00:00:00Z', 1, NULL, NULL, '2026-01-01T00:00:00Z', 3, 3);
         INSERT INTO suppression_history
             (id, address, at, action, reason, actor, report_id, note, previous_id)
         VALUES (1, 'élise@example.fr', '2026-01-01T00:00:00Z', 'add', 'manual', 'manual', NULL, NULL, NULL),
                (2, 'ÉLISE@example.fr', '2026-01-05T00:00:00Z', 'add', 'complaint', 'report', 5, NULL, NULL),
                (3, 'Jane@example.org', '2026-01-01T00:00:00Z', 'add', 'manual', 'manual', NULL, NULL, NULL);
         INSERT INTO complainants (report_id, address, id, via)
         VALUES (5, 'ÉLISE@example.fr', '', 'original_rcpt_to');
         INSERT INTO send_log (message_id, recipient, id, imported_at)
         VALUES ('m1@example.com', 'ÉLISE@example.fr', '', '2026-01-01T00:00:00Z');";
    let rows = match backend {
        Backend::Sqlite => rows.replace("'r5'", "X'05'").replace("'x'", "X'00'"),
        Backend::Postgres => rows
            .replace("'r5'", "'\\x05'::bytea")
            .replace("'x'", "'\\x00'::bytea"),
    };
    let version = migration_names("sqlite")
        .iter()
        .position(|name| name.ends_with("_local_part_case.sql"))
        .expect("the migration is listed");
    store_of_version(&test, version, &rows);
    if backend == Backend::Postgres {
        crate::postgres::shared().psql_in(
            &test.database(),
            "SELECT setval(pg_get_serial_sequence('suppression_history', 'id'), 3)",
        );
    }
    let output = test.fbl().args(["store", "info"]).output().unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(output.stderr.is_empty(), "nothing to say");
    let store = Store::open_at(&test.location).unwrap();
    let addresses: Vec<String> = store
        .suppressions(&SuppressionFilter::default())
        .map(|s| s.address)
        .collect();
    // An all-ASCII local part keeps its spelling.
    assert_eq!(addresses, ["Jane@example.org", "élise@example.fr"]);
    let merged = store
        .active_suppression("élise@example.fr", "2026-02-01T00:00:00Z")
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            merged.reason.as_str(),
            merged.count,
            merged.first_seen.as_str()
        ),
        ("complaint", 2, "2026-01-01T00:00:00Z")
    );
    let actions: Vec<String> = store
        .history("élise@example.fr")
        .unwrap()
        .into_iter()
        .map(|h| h.action)
        .collect();
    assert_eq!(actions, ["add", "add", "merge"]);
    let complainants: Vec<String> = store
        .stored_report(5)
        .unwrap()
        .unwrap()
        .complainants
        .into_iter()
        .map(|c| c.address)
        .collect();
    assert_eq!(complainants, ["élise@example.fr"]);
    use fbl::attribution::SendLogLookup;
    assert_eq!(
        store.recipient_by_message_id("m1@example.com").as_deref(),
        Some("élise@example.fr")
    );
}

/// A person's `suppress add` or an import of an address already on the list, with nothing to
/// change (its reason and expiry stay), changes nothing: no count, no history line, no point
/// of the change sequence (which `export --changed-since-last` follows). A stronger reason
/// still changes the entry, and a report (new evidence) still counts.
fn adding_or_importing_a_listed_address_again_changes_nothing(backend: Backend) {
    let test = TestStore::new(backend);
    let mut store = test.open();
    let by = |actor: &'static str, reason: &'static str, now: &'static str| SuppressRequest {
        source: actor,
        actor,
        ..request("a@example.org", reason, now)
    };
    let mut batch = store.begin().unwrap();
    let first = by("import", "import", "2026-11-01T00:00:00Z");
    assert_eq!(batch.suppress(&first).unwrap(), SuppressChange::Added);
    assert_eq!(batch.suppress(&first).unwrap(), SuppressChange::Unchanged);
    batch.commit().unwrap();
    let seq = store.change_seq().unwrap();

    let mut batch = store.begin().unwrap();
    for request in [
        by("import", "import", "2026-11-02T00:00:00Z"),
        by("manual", "asked by phone", "2026-11-02T00:00:00Z"),
    ] {
        assert_eq!(batch.suppress(&request).unwrap(), SuppressChange::Unchanged);
    }
    batch.commit().unwrap();
    assert_eq!(store.change_seq().unwrap(), seq);
    let entry = store
        .active_suppression("a@example.org", "2026-11-03T00:00:00Z")
        .unwrap()
        .unwrap();
    assert_eq!(
        (entry.reason.as_str(), entry.count, entry.last_seen.as_str()),
        ("import", 1, "2026-11-01T00:00:00Z")
    );
    assert_eq!(store.history("a@example.org").unwrap().len(), 1);

    // A stronger reason by hand, then the same again; then a report.
    let mut batch = store.begin().unwrap();
    let manual = by("manual", "manual", "2026-11-03T00:00:00Z");
    assert_eq!(batch.suppress(&manual).unwrap(), SuppressChange::Updated);
    assert_eq!(batch.suppress(&manual).unwrap(), SuppressChange::Unchanged);
    let report = request("a@example.org", "manual", "2026-11-04T00:00:00Z");
    assert_eq!(batch.suppress(&report).unwrap(), SuppressChange::Updated);
    batch.commit().unwrap();
    let entry = store
        .active_suppression("a@example.org", "2026-11-05T00:00:00Z")
        .unwrap()
        .unwrap();
    assert_eq!(
        (entry.reason.as_str(), entry.count, entry.last_seen.as_str()),
        ("manual", 3, "2026-11-04T00:00:00Z")
    );
    let actions: Vec<String> = store
        .history("a@example.org")
        .unwrap()
        .into_iter()
        .map(|h| h.action)
        .collect();
    assert_eq!(actions, ["add", "update", "update"]);
    assert_eq!(store.change_seq().unwrap(), seq + 2);
}

/// fbl's own reasons kept with capitals before 0026 (an imported `Complaint`, an SES list's
/// `UNSUBSCRIBE`) are folded to lower case; free text is kept as written, and so is the
/// history.
fn reasons_stored_before_0026_are_folded_to_lower_case(backend: Backend) {
    let test = TestStore::new(backend);
    let rows = "INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count,
             expires_at, removed_at, updated_at, change_seq, last_history_id)
         VALUES ('a@example.org', 'Complaint', 'import', '2026-01-01T00:00:00Z',
                 '2026-01-01T00:00:00Z', 1, NULL, NULL, '2026-01-01T00:00:00Z', 1, 1),
                ('b@example.org', 'UNSUBSCRIBE', 'import', '2026-01-01T00:00:00Z',
                 '2026-01-01T00:00:00Z', 1, NULL, NULL, '2026-01-01T00:00:00Z', 2, 2),
                ('c@example.org', 'Asked by phone', 'manual', '2026-01-01T00:00:00Z',
                 '2026-01-01T00:00:00Z', 1, NULL, NULL, '2026-01-01T00:00:00Z', 3, 3),
                ('d@example.org', 'bounce', 'import', '2026-01-01T00:00:00Z',
                 '2026-01-01T00:00:00Z', 1, NULL, NULL, '2026-01-01T00:00:00Z', 4, 4);
         INSERT INTO suppression_history
             (id, address, at, action, reason, actor, report_id, note, previous_id)
         VALUES (1, 'a@example.org', '2026-01-01T00:00:00Z', 'add', 'Complaint', 'import', NULL, NULL, NULL),
                (2, 'b@example.org', '2026-01-01T00:00:00Z', 'add', 'UNSUBSCRIBE', 'import', NULL, NULL, NULL),
                (3, 'c@example.org', '2026-01-01T00:00:00Z', 'add', 'Asked by phone', 'manual', NULL, NULL, NULL),
                (4, 'd@example.org', '2026-01-01T00:00:00Z', 'add', 'bounce', 'import', NULL, NULL, NULL);";
    let version = migration_names("sqlite")
        .iter()
        .position(|name| name.ends_with("_reason_case.sql"))
        .expect("the migration is listed");
    store_of_version(&test, version, rows);
    let store = Store::open_at(&test.location).unwrap();
    let reasons: Vec<(String, String)> = store
        .suppressions(&SuppressionFilter::default())
        .map(|s| (s.address, s.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            ("a@example.org".to_string(), "complaint".to_string()),
            ("b@example.org".to_string(), "unsubscribe".to_string()),
            ("c@example.org".to_string(), "Asked by phone".to_string()),
            ("d@example.org".to_string(), "bounce".to_string()),
        ]
    );
    let history = store.history("a@example.org").unwrap();
    assert_eq!(
        history[0].reason.as_deref(),
        Some("Complaint"),
        "history is kept"
    );
}

/// An entry added as `Unsubscribe` before 0026 got no expiry from `expire_after_days = {
/// unsubscribe = ... }` (the key is lower case); 0026 folded its reason but could not give it
/// one (the configuration is not known to a migration). The next `fbl run` does, counted from
/// when it was added; one due already is taken off the list by the same run. Entries
/// given no expiry on purpose are left alone, and a second run changes nothing.
fn reasons_folded_by_0026_get_their_configured_expiry_at_the_next_run(backend: Backend) {
    let test = TestStore::new(backend);
    // An entry, its change sequence `seq`, and its latest history line `last`.
    let row = |seq: u32, last: u32, address: &str, reason: &str, at: &str| {
        format!(
            "INSERT INTO suppressions (address, reason, source, first_seen, last_seen, count,
                 expires_at, removed_at, updated_at, change_seq, last_history_id)
             VALUES ('{address}', '{reason}', 'import', '{at}', '{at}', 1, NULL, NULL, '{at}',
                 {seq}, {last});"
        )
    };
    let line = |id: u32, address: &str, action: &str, reason: &str, at: &str, previous: &str| {
        format!(
            "INSERT INTO suppression_history
                 (id, address, at, action, reason, actor, report_id, note, previous_id)
             VALUES ({id}, '{address}', '{at}', '{action}', '{reason}', 'import', NULL, NULL,
                 {previous});"
        )
    };
    let (jan, last_year) = ("2026-01-01T00:00:00Z", "2025-01-01T00:00:00Z");
    let rows = [
        // Imported as `Unsubscribe`: gets one, a year on from its import.
        row(1, 1, "a@example.org", "Unsubscribe", jan),
        line(1, "a@example.org", "add", "Unsubscribe", jan, "NULL"),
        // The same, imported two years ago: gets one that is due, and leaves the list.
        row(2, 2, "b@example.org", "UNSUBSCRIBE", last_year),
        line(2, "b@example.org", "add", "UNSUBSCRIBE", last_year, "NULL"),
        // Added in lower case with no expiry (the key came later): left as it is.
        row(3, 3, "c@example.org", "unsubscribe", jan),
        line(3, "c@example.org", "add", "unsubscribe", jan, "NULL"),
        // A permanent `manual` entry an `Unsubscribe` import strengthened: left as it is,
        // as a lower-case one would have been.
        row(4, 5, "d@example.org", "Unsubscribe", jan),
        line(4, "d@example.org", "add", "manual", last_year, "NULL"),
        line(5, "d@example.org", "update", "Unsubscribe", jan, "4"),
        // `Complaint`, whose reason has no expiry configured: left as it is.
        row(5, 6, "e@example.org", "Complaint", jan),
        line(6, "e@example.org", "add", "Complaint", jan, "NULL"),
    ]
    .concat();
    let version = migration_names("sqlite")
        .iter()
        .position(|name| name.ends_with("_reason_case.sql"))
        .expect("the migration is listed");
    store_of_version(&test, version, &rows);
    if backend == Backend::Postgres {
        // The lines above were given their ids: the sequence goes on after them.
        crate::postgres::shared().psql_in(
            &test.database(),
            "SELECT setval(pg_get_serial_sequence('suppression_history', 'id'), 6)",
        );
    }
    std::fs::write(
        test.dir.path().join("fbl.toml"),
        "[suppression]\nexpire_after_days = { unsubscribe = 365 }\n",
    )
    .unwrap();
    let fbl_run = || {
        let output = crate::support::run(
            test.fbl()
                .env("FBL_NOW", "2026-06-01T00:00:00Z")
                .args(["--config", "fbl.toml", "run", "--json"]),
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let summary = fbl_run();
    assert_eq!(summary["expired"], 1, "{summary}");
    let store = test.open();
    let entries: Vec<(String, Option<String>, Option<String>)> = store
        .suppressions(&SuppressionFilter {
            now: "2026-06-01T00:00:00Z".to_string(),
            ..SuppressionFilter::default()
        })
        .map(|s| (s.address, s.expires_at, s.removed_at))
        .collect();
    assert_eq!(
        entries,
        [
            (
                "a@example.org".to_string(),
                Some("2027-01-01T00:00:00Z".to_string()),
                None
            ),
            ("c@example.org".to_string(), None, None),
            ("d@example.org".to_string(), None, None),
            ("e@example.org".to_string(), None, None),
        ]
    );
    let history = store.history("a@example.org").unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(
        (history[1].action.as_str(), history[1].actor.as_str()),
        ("update", "expiry")
    );
    assert!(
        history[1]
            .note
            .as_deref()
            .unwrap()
            .contains("added as \"Unsubscribe\""),
        "{:?}",
        history[1].note
    );
    let actions: Vec<String> = store
        .history("b@example.org")
        .unwrap()
        .into_iter()
        .map(|h| h.action)
        .collect();
    assert_eq!(actions, ["add", "update", "expire"]);
    // Done once: the runs after it do not scan the list again (an entry as 0026 left it,
    // its reason folded and its history line with capitals, is not looked for any more).
    let late = [
        row(100, 100, "f@example.org", "unsubscribe", jan),
        line(100, "f@example.org", "add", "Unsubscribe", jan, "NULL"),
    ]
    .concat();
    match backend {
        Backend::Sqlite => rusqlite::Connection::open(test.dir.path().join("fbl.sqlite"))
            .unwrap()
            .execute_batch(&late)
            .unwrap(),
        Backend::Postgres => {
            crate::postgres::shared().psql_in(&test.database(), &late);
        }
    }
    let seq = store.change_seq().unwrap();
    let summary = fbl_run();
    assert_eq!(summary["expired"], 0, "{summary}");
    assert_eq!(
        store.change_seq().unwrap(),
        seq,
        "a second run changes nothing"
    );
    assert!(store.history("f@example.org").unwrap().len() == 1);
}

/// The alert step reaches back to the complaints stored since the run before: a store from
/// before 0027 counts its complaints as seen, so the first run after the upgrade raises no
/// alert for a complaint of months ago that no run raised then.
fn complaints_stored_before_0027_count_as_alerted(backend: Backend) {
    let test = TestStore::new(backend);
    let raw = crate::support::arf("abuse", "old@example.org", "m1@example.com");
    let rows = format!(
        "INSERT INTO reports (id, sha256, ingested_at, origin, kind, format, reporter,
             reported_at, reported_day, redacted, attributed, report_json, raw_packed, raw_size,
             content_key)
         VALUES (7, {sha}, '2026-07-01T00:00:00Z', 'old.eml', 'complaint', 'arf', 'yahoo',
             '2026-07-01T00:00:00Z', '2026-07-01', 0, 0, '{{}}', {packed}, {size}, {sha});",
        sha = blob(backend, &fbl::store::sha256(&raw)),
        packed = blob(backend, &fbl::store::pack(&raw).unwrap()),
        size = raw.len()
    );
    let version = migration_names("sqlite")
        .iter()
        .position(|name| name.ends_with("_fact_sent_day.sql"))
        .expect("the migration is listed");
    store_of_version(&test, version, &rows);
    let store = Store::open_at(&test.location).unwrap();
    assert_eq!(store.complaints_to_alert().unwrap(), (7, None));
}

/// Before 0029 the complaints per list and per complainant domain were kept per the day
/// they were reported; 0029 counts them again per the day they are rated against (their
/// message's send day when the send log gave one), and the report step, redoing a fact, takes
/// its counts back from that same day.
fn list_and_domain_counts_kept_before_0029_move_to_the_send_day(backend: Backend) {
    let test = TestStore::new(backend);
    let raw = crate::support::arf("abuse", "f1@yahoo.com", "fri-1@sender.example");
    let sep = match backend {
        Backend::Sqlite => "char(31)",
        Backend::Postgres => "chr(31)",
    };
    let rows = format!(
        "INSERT INTO reports (id, sha256, ingested_at, origin, kind, format, reporter,
             reported_at, reported_day, redacted, attributed, report_json, raw_packed, raw_size,
             content_key)
         VALUES (7, {sha}, '2026-11-16T12:00:00Z', 'late.eml', 'complaint', 'arf', 'yahoo',
             '2026-11-16T12:00:00Z', '2026-11-16', 0, 1, '{{}}', {packed}, {size}, {sha});
         INSERT INTO complainants (report_id, address, id, via)
             VALUES (7, 'f1@yahoo.com', '', 'original_rcpt_to');
         INSERT INTO complaint_facts
             (report_id, reported_day, campaign, list, domain, notes, placed, send_rowid, sent_day)
             VALUES (7, '2026-11-16', 'friday', 'weekly', 'yahoo.com', NULL, -1, NULL,
                     '2026-11-06');
         INSERT INTO complaint_day_counts (kind, day, key, complaints) VALUES
             ('campaign', '2026-11-16', 'friday' || {sep} || 'weekly', 1),
             ('domain', '2026-11-16', 'yahoo.com', 1);
         INSERT INTO report_progress (name, value) VALUES ('complaint_id', 7);",
        sha = blob(backend, &fbl::store::sha256(&raw)),
        packed = blob(backend, &fbl::store::pack(&raw).unwrap()),
        size = raw.len()
    );
    let version = migration_names("sqlite")
        .iter()
        .position(|name| name.ends_with("_list_domain_sent_day.sql"))
        .expect("the migration is listed");
    store_of_version(&test, version, &rows);
    let mut store = Store::open_at(&test.location).unwrap();
    let domains = |store: &Store, day: &str| -> Vec<(String, u64)> {
        store
            .domain_counts(day, day)
            .unwrap()
            .into_iter()
            .map(|d| (d.domain, d.complaints))
            .collect()
    };
    let list_rated = |store: &Store, day: &str| -> Vec<(Option<String>, u64)> {
        store
            .campaign_counts(day, day)
            .unwrap()
            .into_iter()
            .filter(|c| c.rated > 0)
            .map(|c| (c.list, c.rated))
            .collect()
    };
    assert_eq!(
        domains(&store, "2026-11-06"),
        [("yahoo.com".to_string(), 1)]
    );
    assert_eq!(domains(&store, "2026-11-16"), []);
    assert_eq!(
        list_rated(&store, "2026-11-06"),
        [(Some("weekly".to_string()), 1)]
    );
    assert_eq!(list_rated(&store, "2026-11-16"), []);
    // The campaign is still counted on the day reported.
    let friday = store.campaign_counts("2026-11-16", "2026-11-16").unwrap();
    assert_eq!(
        friday
            .iter()
            .map(|c| (c.campaign.as_deref(), c.complaints))
            .collect::<Vec<_>>(),
        [(Some("friday"), 1)]
    );

    // The fact is redone: the send log (empty) no longer places it, so it counts on the day
    // reported, and nothing is left on the send day.
    store.refresh_report_summaries().unwrap();
    assert_eq!(domains(&store, "2026-11-06"), []);
    assert_eq!(
        domains(&store, "2026-11-16"),
        [("yahoo.com".to_string(), 1)]
    );
    assert_eq!(list_rated(&store, "2026-11-06"), []);
    assert_eq!(list_rated(&store, "2026-11-16"), []);
}

/// The delisting packet's feedback loops: reports per reporter (complaints, not-spam and
/// unsubscribe reports; no bounce) and the latest report time, several reports a day, the
/// latest not the last stored. Counted from the index per day since the table scan took 9 to
/// 22 s over 1,000,000 complaints; the figures are the same.
fn the_delisting_packets_feedback_loops_count_every_report_and_the_latest(backend: Backend) {
    use fbl::report::{Format, Kind, Report, Reporter};
    let test = TestStore::new(backend);
    let mut store = test.open();
    let reports = [
        (
            Kind::Complaint,
            Reporter::Yahoo,
            "192.0.2.1",
            "2026-11-02T23:59:59Z",
        ),
        (
            Kind::Complaint,
            Reporter::Yahoo,
            "192.0.2.2",
            "2026-11-03T10:00:00Z",
        ),
        (Kind::Complaint, Reporter::Yahoo, "", "2026-11-03T18:30:00Z"),
        (
            Kind::NotSpam,
            Reporter::Yahoo,
            "192.0.2.1",
            "2026-11-03T09:00:00Z",
        ),
        (
            Kind::Complaint,
            Reporter::Aol,
            "192.0.2.1",
            "2026-11-04T08:00:00Z",
        ),
        (
            Kind::Unsubscribe,
            Reporter::Apple,
            "",
            "2026-11-05T07:00:00Z",
        ),
        (
            Kind::Unsubscribe,
            Reporter::Apple,
            "",
            "2026-11-01T07:00:00Z",
        ),
        (
            Kind::Complaint,
            Reporter::Aol,
            "192.0.2.3",
            "2026-11-01T08:00:00Z",
        ),
        (
            Kind::Bounce,
            Reporter::Microsoft,
            "192.0.2.1",
            "2026-11-06T08:00:00Z",
        ),
        (
            Kind::Complaint,
            Reporter::Microsoft,
            "192.0.2.1",
            "2026-11-02T12:00:00Z",
        ),
    ];
    let mut batch = store.begin().unwrap();
    for (n, (kind, reporter, ip, at)) in reports.iter().enumerate() {
        let mut report = Report::empty(*kind, Format::Arf, *reporter);
        report.report_date = Some(at.to_string());
        report.source_ip = (!ip.is_empty()).then(|| ip.to_string());
        let raw = format!("report {n}");
        batch
            .store_report(&fbl::store::NewReport {
                raw: raw.as_bytes(),
                packed: None,
                sha256: fbl::store::sha256(raw.as_bytes()),
                content_key: None,
                origin: "test",
                report: &report,
                ingested_at: "2026-11-10T00:00:00Z",
            })
            .unwrap();
    }
    batch.commit().unwrap();
    let figures = store.delist_figures("192.0.2.1", "2026-11-01").unwrap();
    let expected: Vec<(String, u64, String)> = [
        ("yahoo", 4, "2026-11-03T18:30:00Z"),
        ("aol", 2, "2026-11-04T08:00:00Z"),
        ("apple", 2, "2026-11-05T07:00:00Z"),
        ("microsoft", 1, "2026-11-02T12:00:00Z"),
    ]
    .iter()
    .map(|(r, n, at)| (r.to_string(), *n, at.to_string()))
    .collect();
    assert_eq!(figures.reporters, expected);
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::Backend::Postgres) } )*
        }
    };
}

on_both_backends!(
    migrations_apply_to_a_fresh_store_and_reopen_cleanly,
    a_store_from_a_newer_fbl_is_refused_with_a_clear_error,
    suppressions_count_repeats_keep_the_strongest_reason_and_record_history,
    removal_and_expiry_take_an_address_off_the_list_and_say_so,
    quarantine_keeps_bytes_once,
    a_store_written_by_an_older_version_is_migrated_on_open_and_keeps_its_data,
    history_written_before_version_10_is_chained_by_the_migration,
    oversized_quarantine_written_before_version_11_gets_its_size_from_its_reason,
    send_log_lookup_by_empty_id_finds_nobody,
    one_send_in_two_logs_is_one_entry,
    the_suppression_view_lists_the_current_list,
    the_same_report_stored_at_once_by_two_connections_is_stored_once,
    deliveries_of_one_report_are_stored_once,
    a_stored_report_and_the_unattributed_read_back,
    reports_stored_before_version_14_are_keyed_by_the_migration,
    a_refused_commit_rolls_back_and_the_next_batch_commits,
    a_read_snapshot_sees_no_commit_made_after_its_first_read,
    a_failed_read_snapshot_ends_and_the_connection_reads_on,
    a_postfix_message_deferred_across_log_rotation_is_recorded,
    addresses_stored_before_idn_canonical_are_rewritten_and_merged,
    local_parts_stored_before_0022_are_lower_cased_and_merged,
    quarantine_written_before_version_18_is_keyed_by_the_migration,
    adding_or_importing_a_listed_address_again_changes_nothing,
    reasons_stored_before_0026_are_folded_to_lower_case,
    complaints_stored_before_0027_count_as_alerted,
    list_and_domain_counts_kept_before_0029_move_to_the_send_day,
    the_delisting_packets_feedback_loops_count_every_report_and_the_latest,
    reasons_folded_by_0026_get_their_configured_expiry_at_the_next_run,
);
