//! A real PostgreSQL server on loopback for tests: a fresh cluster per [`Postgres`] in its
//! own temporary folder, password authentication (SCRAM-SHA-256) for a superuser and for a
//! role `fbl` that owns a database `fbl`, optional TLS with the test CA of the Dovecot
//! harness, and helpers to make databases, run SQL and drop connections.
//!
//! `initdb` takes about a second, so most tests should use [`fresh_database`], an empty
//! database on one server shared by the whole test process ([`shared`]); tests that stop,
//! break or reconfigure a server start their own with [`Postgres::start`].
//!
//! Processes: when the tests run as root, `initdb` and `postgres` run as `nobody:nogroup`
//! (both refuse root) in a folder chowned to it; otherwise as the current user. The server
//! is started through `setpriv --pdeathsig QUIT` from a thread that lives as long as the
//! process, so it shuts down (immediate mode: backends stopped, shared memory released)
//! if the test process dies without unwinding; dropping a [`Postgres`] (also while a test
//! panics) stops it and waits for it; the shared server is stopped and its folder removed
//! when the test process exits. Folders of test processes that were killed are removed by
//! the next test process that starts a server. Set `FBL_TEST_KEEP_POSTGRES=1` to keep the
//! folder (data directory, `postgres.log`) after the test for a look.
//!
//! Binaries: `$FBL_TEST_PG_BINDIR`, else `pg_config --bindir`, else the highest
//! `/usr/lib/postgresql/*/bin`, else `initdb` on `PATH`. PostgreSQL 14 or newer
//! (`pg_terminate_backend` with a timeout, `initdb --no-instructions`).
//!
//! The settings are for speed, not durability (`fsync`, `synchronous_commit` and
//! `full_page_writes` off): do not measure throughput with this server.

#![allow(dead_code)]

use crate::dovecot::{NOBODY, certificates, chown_tree, current_user, free_port, running_as_root};
use postgres::NoTls;
use postgres_native_tls::MakeTlsConnector;
use rand::Rng as _;
use std::fs;
use std::io::{BufRead as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, Once, OnceLock, mpsc};
use std::time::{Duration, Instant};

/// How long a new server may take to accept a login.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an immediate shutdown may take before the postmaster is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// The superuser made by `initdb`.
pub const SUPERUSER: &str = "postgres";

/// The role fbl logs in as, and the database it owns.
pub const ROLE: &str = "fbl";
pub const DATABASE: &str = "fbl";

/// Folder names in the temporary folder, so that stale ones can be found.
const FOLDER_PREFIX: &str = "fbl-postgres-";

/// The `application_name` of the harness's own connections.
const HARNESS_APPLICATION: &str = "fbl-test-harness";

const SIGQUIT: i32 = 3;

unsafe extern "C" {
    /// kill(2): sends the postmaster SIGQUIT (immediate shutdown). Any arguments are memory
    /// safe.
    safe fn kill(pid: i32, signal: i32) -> i32;
    /// atexit(3): stops the shared server when the test process exits.
    safe fn atexit(callback: extern "C" fn()) -> i32;
}

/// Whether and how the server offers TLS.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Tls {
    /// Plain connections only (`ssl = off`).
    #[default]
    Off,
    /// `ssl = on` with a certificate for `localhost` and 127.0.0.1 from the test CA; plain
    /// connections are accepted too.
    On,
    /// As `On`, but connections without TLS are refused (`hostssl` only in `pg_hba.conf`).
    Required,
}

/// Settings that differ between test servers.
#[derive(Debug, Clone, Default)]
pub struct PostgresOptions {
    pub tls: Tls,
}

/// A running PostgreSQL cluster, stopped and deleted when dropped.
pub struct Postgres {
    path: PathBuf,
    /// The CA files, fbl's as a client's: not in the server's folder, which is nobody's when
    /// the tests run as root (fbl as root refuses a CA file another user could change).
    client_dir: std::sync::Arc<tempfile::TempDir>,
    dir: Mutex<Option<tempfile::TempDir>>,
    child: Mutex<Child>,
    port: u16,
    /// `cluster_name`, unique per server: it appears in the title of every server process.
    name: String,
    tls: Tls,
    superuser_password: String,
    password: String,
}

impl Postgres {
    /// Starts a server without TLS.
    pub fn start() -> Postgres {
        Postgres::start_with(&PostgresOptions::default())
    }

    /// Starts a server that offers TLS (and still accepts plain connections).
    pub fn start_tls() -> Postgres {
        Postgres::start_with(&PostgresOptions { tls: Tls::On })
    }

    /// Starts a server; panics with the server's log if it does not come up.
    pub fn start_with(options: &PostgresOptions) -> Postgres {
        static COLLECT: Once = Once::new();
        COLLECT.call_once(collect_stale_folders);

        let bindir = bindir();
        let dir = tempfile::Builder::new()
            .prefix(FOLDER_PREFIX)
            .tempdir()
            .expect("cannot make a temporary folder");
        let path = dir.path().to_path_buf();
        // Written first: a folder without it is never collected as stale.
        fs::write(path.join("owner"), owner_stamp(std::process::id()).unwrap()).unwrap();
        let superuser_password = new_password();
        let password = new_password();
        fs::write(path.join("pwfile"), format!("{superuser_password}\n")).unwrap();
        fs::create_dir(path.join("socket")).unwrap();
        let as_root = running_as_root();
        if as_root {
            chown_tree(&path, NOBODY, NOBODY);
        }

        let output = unprivileged(&bindir.join("initdb"), "KILL", as_root)
            .arg("--pgdata")
            .arg(path.join("data"))
            .args([
                "--username",
                SUPERUSER,
                "--auth",
                "scram-sha-256",
                "--encoding",
                "UTF8",
                "--locale",
                "C",
                // 1 MB WAL segments instead of 16: a smaller folder.
                "--wal-segsize",
                "1",
                "--no-sync",
                "--no-instructions",
            ])
            .arg(format!("--pwfile={}", path.join("pwfile").display()))
            .current_dir(&path)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {} (apt-get install -y postgresql): {e}",
                    bindir.join("initdb").display()
                )
            });
        let _ = fs::remove_file(path.join("pwfile"));
        assert!(
            output.status.success(),
            "initdb failed ({}) in {}:\n{}{}",
            output.status,
            path.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );

        let tls = options.tls;
        // The harness itself logs in as the superuser through the Unix socket, as the user
        // the tests run as (peer authentication, mapped): no SCRAM, which costs ~70 ms per
        // connection in a debug build. Everything else needs a password.
        let os_user = if as_root {
            "root".to_string()
        } else {
            current_user().0
        };
        fs::write(
            path.join("data/pg_ident.conf"),
            format!("# MAPNAME SYSTEM-USERNAME PG-USERNAME\nharness {os_user} {SUPERUSER}\n"),
        )
        .unwrap();
        let mut hba = String::from("# TYPE DATABASE USER ADDRESS METHOD\n");
        hba.push_str(&format!("local all {SUPERUSER} peer map=harness\n"));
        hba.push_str("local all all scram-sha-256\n");
        match tls {
            Tls::Off | Tls::On => hba.push_str("host all all 127.0.0.1/32 scram-sha-256\n"),
            Tls::Required => hba.push_str("hostssl all all 127.0.0.1/32 scram-sha-256\n"),
        }
        fs::write(path.join("data/pg_hba.conf"), hba).unwrap();
        let client_dir = std::sync::Arc::new(
            tempfile::Builder::new()
                .prefix("fbl-postgres-ca-")
                .tempdir()
                .expect("cannot make a temporary folder"),
        );
        if tls != Tls::Off {
            let certificates = certificates();
            fs::write(client_dir.path().join("ca.pem"), &certificates.ca).unwrap();
            fs::write(
                client_dir.path().join("unrelated-ca.pem"),
                &certificates.unrelated_ca,
            )
            .unwrap();
            fs::write(path.join("server.crt"), &certificates.cert).unwrap();
            fs::write(path.join("server.key"), &certificates.key).unwrap();
            // PostgreSQL refuses a key that others can read.
            fs::set_permissions(path.join("server.key"), fs::Permissions::from_mode(0o600))
                .unwrap();
        }
        if as_root {
            chown_tree(&path, NOBODY, NOBODY);
        }

        static SERVERS: AtomicUsize = AtomicUsize::new(1);
        let name = format!(
            "fbl-test-{}-{}",
            std::process::id(),
            SERVERS.fetch_add(1, Ordering::SeqCst)
        );
        // Another process may take the free port before the server binds it: try again with
        // another port, in the same data directory.
        let mut failure = String::new();
        for _attempt in 0..3 {
            let port = free_port();
            let child = spawn_postgres(&bindir, &path, port, &name, tls, as_root);
            let server = Postgres {
                path: path.clone(),
                client_dir: std::sync::Arc::clone(&client_dir),
                dir: Mutex::new(None),
                child: Mutex::new(child),
                port,
                name: name.clone(),
                tls,
                superuser_password: superuser_password.clone(),
                password: password.clone(),
            };
            match server.wait_until_ready() {
                Ok(()) => {
                    *lock(&server.dir) = Some(dir);
                    server.create_role_and_database();
                    return server;
                }
                Err(message) => {
                    server.stop();
                    let log = server.log();
                    failure = format!("{message}\n--- postgres.log ---\n{log}");
                    fs::rename(
                        path.join("postgres.log"),
                        path.join(format!("postgres-port-{port}.log")),
                    )
                    .ok();
                    if !log.contains("could not bind") {
                        break;
                    }
                }
            }
        }
        if std::env::var_os("FBL_TEST_KEEP_POSTGRES").is_some() {
            let _ = fs::remove_file(path.join("owner"));
            let _ = dir.keep();
        }
        panic!("postgres did not start in {}:\n{failure}", path.display());
    }

    fn wait_until_ready(&self) -> Result<(), String> {
        let started = Instant::now();
        let mut last_error = String::from("the port is not open yet");
        loop {
            if let Ok(Some(status)) = lock(&self.child).try_wait() {
                return Err(format!("postgres exited with {status}"));
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                match self.superuser_client("postgres") {
                    Ok(mut client) => match client.simple_query("SELECT 1") {
                        Ok(_) => return Ok(()),
                        Err(e) => last_error = describe(&e),
                    },
                    Err(e) => last_error = describe(&e),
                }
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "postgres did not accept a login on 127.0.0.1:{} within {START_TIMEOUT:?}; \
                     last error: {last_error}",
                    self.port
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn create_role_and_database(&self) {
        let mut client = self
            .superuser_client("postgres")
            .unwrap_or_else(|e| panic!("cannot connect as {SUPERUSER}: {}", describe(&e)));
        // Sent in clear over loopback, stored as SCRAM (password_encryption's default);
        // letters and digits need no quoting. Not in the panic message.
        client
            .batch_execute(&format!(
                "CREATE ROLE {ROLE} LOGIN PASSWORD '{}'",
                self.password
            ))
            .unwrap_or_else(|e| panic!("cannot create the role {ROLE}: {}", describe(&e)));
        client
            .batch_execute(&format!("CREATE DATABASE {DATABASE} OWNER {ROLE}"))
            .unwrap_or_else(|e| panic!("cannot create the database {DATABASE}: {}", describe(&e)));
    }

    /// The server's folder: `data/` (the cluster), `postgres.log`, `socket/`, and with TLS
    /// the certificates.
    pub fn dir(&self) -> &Path {
        &self.path
    }

    /// The server's log (its standard error), for failure messages.
    pub fn log(&self) -> String {
        fs::read_to_string(self.path.join("postgres.log")).unwrap_or_default()
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `cluster_name`, which appears in the process title of every server process.
    pub fn cluster_name(&self) -> &str {
        &self.name
    }

    /// The folder of the Unix socket, where only the superuser may log in without a password
    /// (as the user the tests run as).
    pub fn socket_dir(&self) -> PathBuf {
        self.path.join("socket")
    }

    /// The role `fbl`'s password: random, 24 letters and digits.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The superuser `postgres`'s password: random, 24 letters and digits.
    pub fn superuser_password(&self) -> &str {
        &self.superuser_password
    }

    /// `postgres://fbl:<password>@127.0.0.1:<port>/fbl`
    pub fn url(&self) -> String {
        self.database_url(DATABASE)
    }

    /// `postgres://fbl@127.0.0.1:<port>/fbl`, for tests that pass the password another way.
    pub fn url_without_password(&self) -> String {
        self.database_url_without_password(DATABASE)
    }

    /// `postgres://fbl:<password>@127.0.0.1:<port>/<database>`
    pub fn database_url(&self, database: &str) -> String {
        check_name(database);
        format!(
            "postgres://{ROLE}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// `postgres://fbl@127.0.0.1:<port>/<database>`
    pub fn database_url_without_password(&self, database: &str) -> String {
        check_name(database);
        format!("postgres://{ROLE}@127.0.0.1:{}/{database}", self.port)
    }

    /// `postgres://postgres:<password>@127.0.0.1:<port>/postgres`
    pub fn superuser_url(&self) -> String {
        format!(
            "postgres://{SUPERUSER}:{}@127.0.0.1:{}/postgres",
            self.superuser_password, self.port
        )
    }

    /// A line for a password file (`PGPASSFILE`, `~/.pgpass`) that gives `fbl`'s password for
    /// every database of this server. libpq ignores the file unless its mode is 0600 or less.
    pub fn pgpass_line(&self) -> String {
        format!("127.0.0.1:{}:*:{ROLE}:{}\n", self.port, self.password)
    }

    /// Whether the server offers TLS.
    pub fn tls(&self) -> Tls {
        self.tls
    }

    /// The test CA (PEM) that signed the server's certificate; the certificate names
    /// `localhost` and 127.0.0.1. Panics when the server was started without TLS.
    pub fn ca_file(&self) -> PathBuf {
        assert!(self.tls != Tls::Off, "this server was started without TLS");
        self.client_dir.path().join("ca.pem")
    }

    /// A CA (PEM) that did not sign the server's certificate. Panics without TLS.
    pub fn unrelated_ca_file(&self) -> PathBuf {
        assert!(self.tls != Tls::Off, "this server was started without TLS");
        self.client_dir.path().join("unrelated-ca.pem")
    }

    /// A TLS connector for the `postgres` crate that trusts the test CA (and the system's
    /// roots) and checks the host name.
    pub fn tls_connector(&self) -> MakeTlsConnector {
        tls_connector_trusting(&certificates().ca)
    }

    /// Connects as `fbl` to a database, over TLS when the server offers it.
    pub fn connect(&self, database: &str) -> postgres::Client {
        self.client(ROLE, &self.password, database)
            .unwrap_or_else(|e| panic!("cannot connect as {ROLE} to {database}: {}", describe(&e)))
    }

    /// The harness's own connection: the superuser through the Unix socket.
    fn superuser_client(&self, database: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Config::new()
            .host_path(self.socket_dir())
            .port(self.port)
            .user(SUPERUSER)
            .dbname(database)
            .application_name(HARNESS_APPLICATION)
            .connect_timeout(Duration::from_secs(10))
            .connect(NoTls)
    }

    fn client(
        &self,
        user: &str,
        password: &str,
        database: &str,
    ) -> Result<postgres::Client, postgres::Error> {
        let mut config = postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user(user)
            .password(password)
            .dbname(database)
            .connect_timeout(Duration::from_secs(10));
        match self.tls {
            Tls::Off => config.connect(NoTls),
            Tls::On | Tls::Required => {
                config.ssl_mode(postgres::config::SslMode::Require);
                config.connect(self.tls_connector())
            }
        }
    }

    /// Makes an empty database owned by `fbl` and returns its URL (with the password). Names
    /// are lowercase letters, digits and `_`.
    pub fn new_database(&self, name: &str) -> String {
        check_name(name);
        self.psql_in("postgres", &format!("CREATE DATABASE {name} OWNER {ROLE}"));
        self.database_url(name)
    }

    /// Runs SQL (one or more statements) as the superuser in the database `fbl` and returns
    /// the rows of the last statement the way `psql -At` prints them: columns separated by
    /// `|`, NULL as an empty string.
    pub fn psql(&self, sql: &str) -> Vec<String> {
        self.psql_in(DATABASE, sql)
    }

    /// [`Postgres::psql`] in another database.
    pub fn psql_in(&self, database: &str, sql: &str) -> Vec<String> {
        let mut client = self.superuser_client(database).unwrap_or_else(|e| {
            panic!(
                "cannot connect as {SUPERUSER} to {database}: {}",
                describe(&e)
            )
        });
        let messages = client
            .simple_query(sql)
            .unwrap_or_else(|e| panic!("SQL failed in {database}: {}\n{sql}", describe(&e)));
        let (mut last, mut current) = (Vec::new(), Vec::new());
        for message in messages {
            match message {
                postgres::SimpleQueryMessage::Row(row) => current.push(
                    (0..row.len())
                        .map(|i| row.get(i).unwrap_or(""))
                        .collect::<Vec<_>>()
                        .join("|"),
                ),
                // Each statement ends with its command tag.
                postgres::SimpleQueryMessage::CommandComplete(_) => {
                    last = std::mem::take(&mut current)
                }
                _ => {}
            }
        }
        last
    }

    /// Ends every connection to a database but the harness's own (`pg_terminate_backend`),
    /// waiting up to 5 s for each backend to exit, and returns how many were ended. The
    /// clients' next statement fails.
    pub fn terminate_connections(&self, database: &str) -> usize {
        let mut client = self
            .superuser_client("postgres")
            .unwrap_or_else(|e| panic!("cannot connect as {SUPERUSER}: {}", describe(&e)));
        let rows = client
            .query(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
                 WHERE datname = $1 AND application_name <> $2",
                &[&database, &HARNESS_APPLICATION],
            )
            .unwrap_or_else(|e| {
                panic!(
                    "cannot terminate the connections to {database}: {}",
                    describe(&e)
                )
            });
        rows.iter().filter(|row| row.get::<_, bool>(0)).count()
    }

    /// Whether the server process is still running.
    pub fn is_running(&self) -> bool {
        matches!(lock(&self.child).try_wait(), Ok(None))
    }

    /// Stops the server (immediate shutdown, then SIGKILL after 10 s) and waits for it.
    /// Never panics: it also runs at process exit for the shared server.
    pub fn stop(&self) {
        let mut child = lock(&self.child);
        if !matches!(child.try_wait(), Ok(None)) {
            return;
        }
        // Not yet waited for, so the pid is still this server's.
        kill(child.id() as i32, SIGQUIT);
        let deadline = Instant::now() + STOP_TIMEOUT;
        while Instant::now() < deadline {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops the server and deletes its folder (or keeps it with `FBL_TEST_KEEP_POSTGRES`).
    fn shut_down(&self) {
        self.stop();
        if let Some(dir) = lock(&self.dir).take() {
            if std::env::var_os("FBL_TEST_KEEP_POSTGRES").is_some() {
                let _ = fs::remove_file(dir.path().join("owner"));
                let kept = dir.keep();
                let _ = writeln!(
                    std::io::stderr(),
                    "postgres folder kept: {}",
                    kept.display()
                );
            } else {
                drop(dir);
            }
        }
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.shut_down();
    }
}

/// One server for the whole test process, started on first use and stopped when the process
/// exits. Tests must not stop it or terminate connections other than their own database's.
pub fn shared() -> &'static Postgres {
    static SHARED: OnceLock<Result<Postgres, String>> = OnceLock::new();
    extern "C" fn stop_shared() {
        if let Some(Ok(server)) = SHARED.get() {
            server.shut_down();
        }
    }
    let started = SHARED.get_or_init(|| {
        let result = std::panic::catch_unwind(Postgres::start).map_err(|panic| {
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        });
        if result.is_ok() {
            atexit(stop_shared);
        }
        result
    });
    match started {
        Ok(server) => server,
        Err(message) => panic!("the shared postgres server did not start:\n{message}"),
    }
}

/// A new, empty database owned by `fbl` on the shared server; returns its URL (with the
/// password).
pub fn fresh_database() -> String {
    static DATABASES: AtomicUsize = AtomicUsize::new(1);
    let n = DATABASES.fetch_add(1, Ordering::SeqCst);
    shared().new_database(&format!("fbl_test_{n}"))
}

/// A TLS connector that trusts `ca` (PEM) besides the system's roots.
pub fn tls_connector_trusting(ca: &[u8]) -> MakeTlsConnector {
    let connector = native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(ca).expect("a PEM certificate"))
        .build()
        .expect("cannot build a TLS connector");
    MakeTlsConnector::new(connector)
}

/// An error with its causes: the `postgres` crate's `Display` says only "db error" and leaves
/// the server's message to the source.
pub fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn check_name(name: &str) {
    assert!(
        !name.is_empty()
            && name.len() < 64
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
        "database names here are lowercase letters, digits and _: {name:?}"
    );
}

fn new_password() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// The folder with `initdb` and `postgres`.
fn bindir() -> PathBuf {
    static BINDIR: OnceLock<PathBuf> = OnceLock::new();
    BINDIR
        .get_or_init(|| {
            let has_server =
                |dir: &Path| dir.join("initdb").exists() && dir.join("postgres").exists();
            if let Some(dir) = std::env::var_os("FBL_TEST_PG_BINDIR") {
                return PathBuf::from(dir);
            }
            // Debian's /usr/bin/pg_config may be libpq-dev's, whose bindir has no server.
            if let Ok(output) = Command::new("pg_config").arg("--bindir").output()
                && output.status.success()
            {
                let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
                if has_server(&dir) {
                    return dir;
                }
            }
            let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|entry| {
                    let version = entry
                        .file_name()
                        .to_str()?
                        .split('.')
                        .map(|part| part.parse().ok())
                        .collect::<Option<Vec<u32>>>()?;
                    let dir = entry.path().join("bin");
                    has_server(&dir).then_some((version, dir))
                })
                .collect();
            versions.sort();
            if let Some((_, dir)) = versions.pop() {
                return dir;
            }
            std::env::var_os("PATH")
                .iter()
                .flat_map(std::env::split_paths)
                .find(|dir| has_server(dir))
                .unwrap_or_else(|| {
                    panic!(
                        "cannot find PostgreSQL's initdb and postgres (pg_config --bindir, \
                         /usr/lib/postgresql/*/bin, PATH); install the server \
                         (apt-get install -y postgresql; scripts/test does this)"
                    )
                })
        })
        .clone()
}

/// `setpriv` running a program as `nobody:nogroup` when the tests run as root, with a signal
/// for when the thread that spawned it ends, and without the caller's libpq settings.
fn unprivileged(program: &Path, death_signal: &str, as_root: bool) -> Command {
    let mut command = Command::new("setpriv");
    command.args(["--pdeathsig", death_signal]);
    if as_root {
        command.args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]);
    }
    command.arg("--").arg(program);
    for (key, _) in std::env::vars_os() {
        if key.to_str().is_some_and(|key| key.starts_with("PG")) {
            command.env_remove(key);
        }
    }
    command.env("LC_ALL", "C");
    command
}

fn spawn_postgres(
    bindir: &Path,
    path: &Path,
    port: u16,
    name: &str,
    tls: Tls,
    as_root: bool,
) -> Child {
    let log = fs::File::create(path.join("postgres.log")).expect("cannot make postgres.log");
    if as_root {
        std::os::unix::fs::chown(path.join("postgres.log"), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    // SIGQUIT on the death of the spawning thread is an immediate shutdown: backends are
    // stopped and shared memory is released. setpriv execs postgres, so the child is the
    // postmaster.
    let mut command = unprivileged(&bindir.join("postgres"), "QUIT", as_root);
    command.arg("-D").arg(path.join("data"));
    let mut settings = vec![
        ("listen_addresses", "127.0.0.1".to_string()),
        ("port", port.to_string()),
        (
            "unix_socket_directories",
            path.join("socket").display().to_string(),
        ),
        ("cluster_name", name.to_string()),
        ("max_connections", "100".into()),
        ("shared_buffers", "32MB".into()),
        ("fsync", "off".into()),
        ("synchronous_commit", "off".into()),
        ("full_page_writes", "off".into()),
        ("autovacuum", "off".into()),
        // Files in the data directory instead of /dev/shm, which a killed server would leave.
        ("dynamic_shared_memory_type", "mmap".into()),
        ("timezone", "UTC".into()),
        ("log_timezone", "UTC".into()),
    ];
    if tls != Tls::Off {
        settings.extend([
            ("ssl", "on".to_string()),
            (
                "ssl_cert_file",
                path.join("server.crt").display().to_string(),
            ),
            (
                "ssl_key_file",
                path.join("server.key").display().to_string(),
            ),
        ]);
    }
    for (key, value) in settings {
        command.arg("-c").arg(format!("{key}={value}"));
    }
    command
        .current_dir(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    spawn_from_keeper(command).unwrap_or_else(|e| {
        panic!(
            "cannot start {} (apt-get install -y postgresql): {e}",
            bindir.join("postgres").display()
        )
    })
}

/// Spawns a command from a thread that lives as long as the process. The parent-death signal
/// fires when the *thread* that spawned a process ends, so a server spawned from a test's
/// thread would be shut down when that thread ends (a shared server outlives the test that
/// started it; a test may start a server in a helper thread).
fn spawn_from_keeper(command: Command) -> std::io::Result<Child> {
    type Request = (Command, mpsc::Sender<std::io::Result<Child>>);
    static KEEPER: OnceLock<mpsc::Sender<Request>> = OnceLock::new();
    let keeper = KEEPER.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Request>();
        std::thread::Builder::new()
            .name("postgres-keeper".into())
            .spawn(move || {
                // The sender is in a static, so this loop ends only with the process.
                for (mut command, reply) in receiver {
                    let _ = reply.send(command.spawn());
                }
            })
            .expect("cannot start the postgres keeper thread");
        sender
    });
    let (reply, result) = mpsc::channel();
    keeper
        .send((command, reply))
        .expect("the postgres keeper thread is gone");
    result.recv().expect("the postgres keeper thread is gone")
}

/// `<pid> <start time>` of a process (`/proc/<pid>/stat`, field 22), which tells it apart
/// from a later process with the same pid.
fn owner_stamp(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces; the fields after it do not.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let start_time = after_name.split_whitespace().nth(19)?;
    Some(format!("{pid} {start_time}\n"))
}

/// Whether a process exists and is not a zombie (an orphaned server that PID 1 has not reaped
/// yet is gone for our purposes).
fn is_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat[stat.rfind(')')? + 1..]
                .split_whitespace()
                .next()?
                .to_string();
            Some(state != "Z" && state != "X")
        })
        .unwrap_or(false)
}

/// Deletes the folders of servers whose test process is gone (killed before it could clean
/// up) and whose postmaster is gone too. Runs once per process, before the first server.
pub fn collect_stale_folders() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        if !entry
            .file_name()
            .to_str()
            .is_some_and(|name| name.starts_with(FOLDER_PREFIX))
        {
            continue;
        }
        let path = entry.path();
        // Kept folders and folders still being made have no owner file.
        let Ok(owner) = fs::read_to_string(path.join("owner")) else {
            continue;
        };
        let owner_alive = owner
            .split_whitespace()
            .next()
            .and_then(|pid| pid.parse::<u32>().ok())
            .and_then(owner_stamp)
            .is_some_and(|stamp| stamp == owner);
        let postmaster_alive = fs::read_to_string(path.join("data/postmaster.pid"))
            .ok()
            .and_then(|pidfile| pidfile.lines().next()?.trim().parse::<u32>().ok())
            .is_some_and(is_alive);
        if !owner_alive && !postmaster_alive {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

/// The pids of the live processes of a server: the postmaster's arguments name its
/// `cluster_name`, and every server process shows it in its title (`postgres: <name>: ...`).
pub fn processes_of(cluster_name: &str) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = fs::read(entry.path().join("cmdline")).ok()?;
            String::from_utf8_lossy(&cmdline)
                .split(['\0', ' ', ':', '='])
                .any(|word| word == cluster_name)
                .then_some(pid)
        })
        .collect()
}

// --- Tests of the harness itself -------------------------------------------------------------

fn port_is_open(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// Waits up to 10 s for a condition.
fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn plain_client(url: &str) -> Result<postgres::Client, postgres::Error> {
    url.parse::<postgres::Config>()
        .expect("a valid URL")
        .connect(NoTls)
}

#[test]
fn fbl_logs_in_with_its_password_and_owns_its_database() {
    let started = Instant::now();
    let pg = Postgres::start();
    eprintln!("postgres started in {:?}", started.elapsed());
    assert!(pg.url().starts_with("postgres://fbl:"));
    assert_eq!(
        pg.url(),
        format!(
            "postgres://fbl:{}@127.0.0.1:{}/fbl",
            pg.password(),
            pg.port()
        )
    );

    let mut client =
        plain_client(&pg.url()).unwrap_or_else(|e| panic!("{}\n{}", describe(&e), pg.log()));
    client
        .batch_execute(
            "CREATE TABLE suppressions (address text PRIMARY KEY, since timestamptz NOT NULL);
             INSERT INTO suppressions VALUES ('a@example.org', '2026-11-01T00:00:00Z');",
        )
        .unwrap();
    let row = client
        .query_one(
            "SELECT current_user, current_database(), \
             (SELECT rolsuper FROM pg_roles WHERE rolname = current_user), \
             current_setting('timezone'), current_setting('server_encoding'), \
             current_setting('fsync'), current_setting('max_connections')::int, \
             (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
            &[],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "fbl");
    assert_eq!(row.get::<_, String>(1), "fbl");
    assert!(!row.get::<_, bool>(2), "fbl is not a superuser");
    assert_eq!(row.get::<_, String>(3), "UTC");
    assert_eq!(row.get::<_, String>(4), "UTF8");
    assert_eq!(row.get::<_, String>(5), "off");
    assert!(row.get::<_, i32>(6) >= 50);
    assert!(!row.get::<_, bool>(7), "no TLS on a plain server");

    // The superuser sees fbl's table; psql prints rows like `psql -At`.
    assert_eq!(
        pg.psql("SELECT address, since, NULL FROM suppressions"),
        ["a@example.org|2026-11-01 00:00:00+00|"]
    );
    assert_eq!(
        pg.psql("SELECT tableowner FROM pg_tables WHERE tablename = 'suppressions'"),
        ["fbl"]
    );
    assert_eq!(
        pg.psql("SELECT 1; SELECT 2 UNION ALL SELECT 3"),
        ["2", "3"],
        "rows of the last statement"
    );
    let mut superuser = plain_client(&pg.superuser_url()).unwrap();
    let is_super: bool = superuser
        .query_one(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(is_super);
}

#[test]
fn the_password_can_come_from_outside_the_url() {
    let pg = shared();
    let url = pg.url_without_password();
    assert!(!url.contains(pg.password()));
    assert_eq!(url, format!("postgres://fbl@127.0.0.1:{}/fbl", pg.port()));
    let mut config: postgres::Config = url.parse().unwrap();
    config.password(pg.password());
    let mut client = config.connect(NoTls).unwrap();
    assert_eq!(
        client
            .query_one("SELECT current_user", &[])
            .unwrap()
            .get::<_, String>(0),
        "fbl"
    );
    assert_eq!(
        pg.pgpass_line(),
        format!("127.0.0.1:{}:*:fbl:{}\n", pg.port(), pg.password())
    );
}

#[test]
fn a_wrong_or_missing_password_is_refused() {
    let pg = shared();
    let wrong = pg.url().replace(pg.password(), "not-the-password");
    let error = plain_client(&wrong)
        .err()
        .expect("a wrong password is refused");
    assert_eq!(
        error.code(),
        Some(&postgres::error::SqlState::INVALID_PASSWORD),
        "{}",
        describe(&error)
    );
    let error = plain_client(&pg.url_without_password())
        .err()
        .expect("no password is refused");
    assert!(
        describe(&error).contains("password"),
        "{}",
        describe(&error)
    );
    // The superuser's password is not fbl's.
    let swapped = pg
        .superuser_url()
        .replace(pg.superuser_password(), pg.password());
    assert!(plain_client(&swapped).is_err());
}

#[test]
fn tls_is_verified_against_the_test_ca() {
    let pg = Postgres::start_tls();
    let ca = fs::read(pg.ca_file()).unwrap();
    for host in ["127.0.0.1", "localhost"] {
        let url = format!("{}?sslmode=require", pg.url().replace("127.0.0.1", host));
        let mut client = url
            .parse::<postgres::Config>()
            .unwrap()
            .connect(tls_connector_trusting(&ca))
            .unwrap_or_else(|e| panic!("TLS to {host}: {}\n{}", describe(&e), pg.log()));
        let ssl: bool = client
            .query_one(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                &[],
            )
            .unwrap()
            .get(0);
        assert!(ssl, "the connection to {host} uses TLS");
    }
    // A CA that did not sign the certificate: the handshake fails.
    let unrelated = fs::read(pg.unrelated_ca_file()).unwrap();
    let url = format!("{}?sslmode=require", pg.url());
    let error = url
        .parse::<postgres::Config>()
        .unwrap()
        .connect(tls_connector_trusting(&unrelated))
        .err()
        .expect("an unrelated CA is not trusted");
    assert!(
        describe(&error).contains("certificate verify failed"),
        "{}",
        describe(&error)
    );
    // Plain connections are still accepted on a server that merely offers TLS.
    let mut plain = plain_client(&pg.url()).unwrap();
    plain.simple_query("SELECT 1").unwrap();
    // Connections the harness makes as fbl use TLS.
    let ssl: bool = pg
        .connect(DATABASE)
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(ssl);
}

#[test]
fn a_tls_only_server_refuses_plain_connections() {
    let pg = Postgres::start_with(&PostgresOptions { tls: Tls::Required });
    let error = plain_client(&pg.url()).err().expect("plain is refused");
    assert!(
        describe(&error).contains("no encryption"),
        "{}",
        describe(&error)
    );
    let mut client = format!("{}?sslmode=require", pg.url())
        .parse::<postgres::Config>()
        .unwrap()
        .connect(pg.tls_connector())
        .unwrap();
    client.simple_query("SELECT 1").unwrap();
    pg.connect(DATABASE).simple_query("SELECT 1").unwrap();
}

#[test]
fn terminated_connections_fail_their_next_statement() {
    let pg = shared();
    let url = fresh_database();
    let database = url.rsplit('/').next().unwrap().to_string();
    let mut victim = plain_client(&url).unwrap();
    victim.batch_execute("CREATE TABLE t (x int)").unwrap();
    let mut other = plain_client(&pg.url()).unwrap();
    assert_eq!(pg.terminate_connections(&database), 1);
    let error = victim
        .execute("INSERT INTO t VALUES (1)", &[])
        .expect_err("the terminated connection fails");
    eprintln!("the terminated client sees: {}", describe(&error));
    assert!(victim.execute("SELECT 1", &[]).is_err(), "and stays broken");
    // Connections to other databases are untouched; new connections work.
    other.simple_query("SELECT 1").unwrap();
    let mut again = plain_client(&url).unwrap();
    again.execute("INSERT INTO t VALUES (1)", &[]).unwrap();
    assert_eq!(pg.terminate_connections("no_such_database"), 0);
}

#[test]
fn databases_are_separate_and_owned_by_fbl() {
    let pg = shared();
    let one = fresh_database();
    let two = fresh_database();
    assert_ne!(one, two);
    plain_client(&one)
        .unwrap()
        .batch_execute("CREATE TABLE only_in_one (x int)")
        .unwrap();
    let mut client = plain_client(&two).unwrap();
    let tables: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "a fresh database is empty");
    let named = pg.new_database("fbl_named_for_a_test");
    assert!(named.ends_with("/fbl_named_for_a_test"));
    assert_eq!(
        pg.psql_in(
            "postgres",
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'fbl_named_for_a_test'"
        ),
        ["fbl"]
    );
}

#[test]
fn dropping_a_server_stops_every_process_and_deletes_its_folder() {
    let pg = Postgres::start();
    let (port, name, dir) = (
        pg.port(),
        pg.cluster_name().to_string(),
        pg.dir().to_path_buf(),
    );
    let _client = plain_client(&pg.url()).unwrap();
    let processes = processes_of(&name);
    assert!(
        processes.len() >= 3,
        "postmaster, backends and workers: {processes:?}"
    );
    drop(pg);
    assert!(!port_is_open(port), "port {port} is closed after drop");
    assert_eq!(processes_of(&name), Vec::<u32>::new());
    assert!(!dir.exists(), "{} is deleted", dir.display());
}

#[test]
fn a_panicking_test_stops_its_server() {
    let (sender, receiver) = mpsc::channel();
    let result = std::thread::spawn(move || {
        let pg = Postgres::start();
        sender
            .send((pg.port(), pg.cluster_name().to_string()))
            .unwrap();
        panic!("a deliberate panic with a server running");
    })
    .join();
    assert!(result.is_err());
    let (port, name) = receiver.recv().unwrap();
    assert!(!port_is_open(port));
    assert_eq!(processes_of(&name), Vec::<u32>::new());
}

#[test]
fn two_servers_run_at_once_and_outlive_the_thread_that_started_them() {
    let (a, b) = std::thread::scope(|scope| {
        let a = scope.spawn(Postgres::start);
        let b = scope.spawn(Postgres::start);
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_ne!(a.port(), b.port());
    // The threads have ended; the servers run on.
    std::thread::sleep(Duration::from_millis(200));
    assert!(a.is_running() && b.is_running());
    a.connect(DATABASE)
        .batch_execute("CREATE TABLE only_in_a (x int)")
        .unwrap();
    assert_eq!(
        b.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"),
        ["0"]
    );
    assert_eq!(
        a.psql("SELECT count(*) FROM pg_tables WHERE tablename = 'only_in_a'"),
        ["1"]
    );
    assert_ne!(a.password(), b.password());
    assert!(
        plain_client(
            &b.url()
                .replace(&b.port().to_string(), &a.port().to_string())
        )
        .is_err()
    );
}

/// A test process running the helper below, once its server is up.
struct Helper {
    child: Child,
    stdout: std::io::BufReader<std::process::ChildStdout>,
    stderr: tempfile::NamedTempFile,
    port: u16,
    name: String,
    dir: PathBuf,
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the helper below in a new test process and returns once its server is up.
fn helper_process(mode: &str) -> Helper {
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "postgres::helper_for_process_tests",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FBL_TEST_POSTGRES_HELPER", mode)
        .env_remove("FBL_TEST_KEEP_POSTGRES")
        .stdout(Stdio::piped())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while stdout.read_line(&mut line).unwrap() > 0 {
        // libtest prints the test's name on the same line.
        if let Some((_, rest)) = line.trim_end().split_once("helper server: ") {
            let parts: Vec<&str> = rest.splitn(3, ' ').collect();
            return Helper {
                port: parts[0].parse().unwrap(),
                name: parts[1].to_string(),
                dir: PathBuf::from(parts[2]),
                child,
                stdout,
                stderr,
            };
        }
        line.clear();
    }
    let _ = child.wait();
    panic!(
        "the helper process ended without starting a server:\n{}",
        fs::read_to_string(stderr.path()).unwrap_or_default()
    );
}

#[test]
#[ignore = "run by other tests in a child process"]
fn helper_for_process_tests() {
    let Ok(mode) = std::env::var("FBL_TEST_POSTGRES_HELPER") else {
        return;
    };
    let owned;
    let pg = match mode.as_str() {
        "shared" => shared(),
        _ => {
            owned = Postgres::start();
            &owned
        }
    };
    println!(
        "helper server: {} {} {}",
        pg.port(),
        pg.cluster_name(),
        pg.dir().display()
    );
    std::io::stdout().flush().unwrap();
    if mode == "hang" {
        std::thread::sleep(Duration::from_secs(120));
    }
}

#[test]
fn the_shared_server_stops_when_the_test_process_exits() {
    let mut helper = helper_process("shared");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut helper.stdout, &mut rest).unwrap();
    let status = helper.child.wait().unwrap();
    assert!(
        status.success(),
        "{status}\n{rest}\n{}",
        fs::read_to_string(helper.stderr.path()).unwrap_or_default()
    );
    assert!(!port_is_open(helper.port));
    assert_eq!(processes_of(&helper.name), Vec::<u32>::new());
    assert!(
        !helper.dir.exists(),
        "{} is deleted at exit",
        helper.dir.display()
    );
}

#[test]
fn a_killed_test_process_leaves_no_server_running() {
    let mut helper = helper_process("hang");
    assert!(port_is_open(helper.port));
    helper.child.kill().unwrap();
    helper.child.wait().unwrap();
    eventually("the orphaned server has stopped", || {
        !port_is_open(helper.port) && processes_of(&helper.name).is_empty()
    });
    // Its folder remains, and the next test process to start a server deletes it.
    assert!(helper.dir.exists());
    collect_stale_folders();
    assert!(
        !helper.dir.exists(),
        "{} is collected",
        helper.dir.display()
    );
}
