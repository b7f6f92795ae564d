//! A real Dovecot IMAP server on loopback for tests and benchmarks: a private test CA, a
//! config with free ports, one user per test, and helpers to seed mail.
//!
//! Each [`Dovecot`] is its own server in its own temporary folder, killed when dropped; it
//! starts in about 30 ms. The CA and the server certificate are made once per process.
//! When the tests run as root, Dovecot runs as `nobody:nogroup` (its login process refuses
//! root); otherwise it runs as the current user. Set `FBL_TEST_KEEP_DOVECOT=1` to keep the
//! folder (config, log, Maildirs) after the test for a look.

#![allow(dead_code)]

use base64::Engine as _;
use fbl::imap_client::{Auth, ConnectOptions, Security, Session};
use std::fmt::Write as _;
use std::fs;
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The uid and gid Dovecot runs as when the tests run as root.
pub(crate) const NOBODY: u32 = 65534;

/// The HMAC key with which test access tokens are signed; Dovecot checks them locally.
const OAUTH2_KEY: &[u8] = b"fbl-test-oauth2-key-0123456789abcdef";

/// How long a server may take to open its ports.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// Certificates shared by every server of this process (the HTTPS test server's too), kept
/// in memory so that no folder outlives the process; each server writes them into its own
/// folder.
pub(crate) struct Certificates {
    pub(crate) ca: Vec<u8>,
    pub(crate) unrelated_ca: Vec<u8>,
    pub(crate) cert: Vec<u8>,
    pub(crate) key: Vec<u8>,
}

pub(crate) fn certificates() -> &'static Certificates {
    static CERTIFICATES: OnceLock<Certificates> = OnceLock::new();
    CERTIFICATES.get_or_init(make_certificates)
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("cannot run openssl; install it (apt-get install -y openssl)");
    assert!(
        output.status.success(),
        "openssl {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "3650",
            "-subj",
            &format!("/CN=fbl {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A test CA, a leaf certificate for `localhost` and 127.0.0.1 signed by it, and a second,
/// unrelated CA that must not be trusted for the leaf.
fn make_certificates() -> Certificates {
    let dir = tempfile::Builder::new()
        .prefix("fbl-test-ca-")
        .tempdir()
        .expect("cannot make a temporary folder");
    let path = dir.path();
    make_ca(path, "ca");
    make_ca(path, "unrelated-ca");
    openssl(
        path,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    fs::write(
        path.join("leaf.ext"),
        "basicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\n\
         extendedKeyUsage=serverAuth\n\
         subjectAltName=DNS:localhost,IP:127.0.0.1\n",
    )
    .unwrap();
    openssl(
        path,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "cert.pem",
            "-days",
            "3650",
            "-extfile",
            "leaf.ext",
        ],
    );
    let read = |name: &str| fs::read(path.join(name)).expect("openssl wrote no file");
    Certificates {
        ca: read("ca.pem"),
        unrelated_ca: read("unrelated-ca.pem"),
        cert: read("cert.pem"),
        key: read("key.pem"),
    }
}

pub(crate) fn running_as_root() -> bool {
    fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false)
}

/// The name with the given id in `/etc/passwd` or `/etc/group`.
fn name_of(file: &str, id: u32) -> Option<String> {
    fs::read_to_string(file).ok()?.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 2 && fields[2] == id.to_string()).then(|| fields[0].to_string())
    })
}

/// The current user's and group's names and ids, for running Dovecot as that user when not
/// root.
pub(crate) fn current_user() -> (String, String, u32, u32) {
    let meta = fs::metadata("/proc/self").expect("cannot read /proc/self");
    let (uid, gid) = (meta.uid(), meta.gid());
    let user = name_of("/etc/passwd", uid)
        .or_else(|| std::env::var("USER").ok())
        .expect("cannot find the current user's name");
    let group = name_of("/etc/group", gid).unwrap_or_else(|| gid.to_string());
    (user, group, uid, gid)
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("cannot bind a loopback port")
        .port()
}

fn dovecot_binary() -> PathBuf {
    for candidate in ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    PathBuf::from("dovecot")
}

/// Settings that differ between test servers.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Replaces the capability list Dovecot announces (`imap_capability`), for example to hide
    /// MOVE or UIDPLUS. Dovecot still accepts the hidden commands; only the list changes.
    pub imap_capability: Option<String>,
}

/// A running Dovecot, killed when dropped.
pub struct Dovecot {
    dir: Option<tempfile::TempDir>,
    /// The CA files, fbl's as a client's: not in Dovecot's folder, which is nobody's when
    /// the tests run as root (fbl as root refuses a CA file another user could change).
    client_dir: tempfile::TempDir,
    child: Child,
    imap_port: u16,
    imaps_port: u16,
    next_user: AtomicU32,
}

impl Dovecot {
    /// Starts a server with Dovecot's own capability list.
    pub fn start() -> Dovecot {
        Dovecot::start_with(&ServerOptions::default())
    }

    /// Starts a server that hides MOVE but offers UIDPLUS.
    pub fn start_without_move() -> Dovecot {
        Dovecot::start_with(&ServerOptions {
            imap_capability: Some("IMAP4rev1 LITERAL+ IDLE NAMESPACE UIDPLUS".into()),
        })
    }

    /// Starts a server that hides both MOVE and UIDPLUS.
    pub fn start_without_move_or_uidplus() -> Dovecot {
        Dovecot::start_with(&ServerOptions {
            imap_capability: Some("IMAP4rev1 LITERAL+ IDLE NAMESPACE".into()),
        })
    }

    /// Starts a server; retries with other ports if another process took the chosen ones.
    pub fn start_with(options: &ServerOptions) -> Dovecot {
        let mut last_failure = String::new();
        for _attempt in 0..3 {
            match Dovecot::try_start(options) {
                Ok(server) => return server,
                Err(failure) => last_failure = failure,
            }
        }
        panic!("dovecot did not start:\n{last_failure}");
    }

    fn try_start(options: &ServerOptions) -> Result<Dovecot, String> {
        let certificates = certificates();
        let dir = tempfile::Builder::new()
            .prefix("fbl-dovecot-")
            .tempdir()
            .expect("cannot make a temporary folder");
        let root = dir.path();
        for sub in ["run", "state", "home", "mail", "keys/default/HS256"] {
            fs::create_dir_all(root.join(sub)).unwrap();
        }
        // XOAUTH2: Dovecot validates HS256 JWTs itself with this key (no token server).
        fs::write(
            root.join("keys/default/HS256/default"),
            base64::engine::general_purpose::STANDARD.encode(OAUTH2_KEY),
        )
        .unwrap();
        fs::write(
            root.join("oauth2.conf.ext"),
            format!(
                "introspection_mode = local\n\
                 local_validation_key_dict = fs:posix:prefix={}/keys/\n\
                 username_attribute = sub\n",
                root.display()
            ),
        )
        .unwrap();
        let client_dir = tempfile::Builder::new()
            .prefix("fbl-dovecot-ca-")
            .tempdir()
            .expect("cannot make a temporary folder");
        fs::write(client_dir.path().join("ca.pem"), &certificates.ca).unwrap();
        fs::write(
            client_dir.path().join("unrelated-ca.pem"),
            &certificates.unrelated_ca,
        )
        .unwrap();
        fs::write(root.join("cert.pem"), &certificates.cert).unwrap();
        fs::write(root.join("key.pem"), &certificates.key).unwrap();
        fs::set_permissions(root.join("key.pem"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(root.join("users"), "").unwrap();

        let as_root = running_as_root();
        let (user, group, uid, gid) = if as_root {
            ("nobody".to_string(), "nogroup".to_string(), NOBODY, NOBODY)
        } else {
            current_user()
        };
        let imap_port = free_port();
        let imaps_port = free_port();
        let d = root.display();
        let mut conf = format!(
            "base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
auth_failure_delay = 0
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {user}
passdb {{
  driver = oauth2
  mechanisms = xoauth2
  args = {d}/oauth2.conf.ext
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
mail_location = maildir:{d}/mail/%u
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
    ssl = yes
  }}
}}
"
        );
        if let Some(capability) = &options.imap_capability {
            writeln!(conf, "imap_capability = {capability}").unwrap();
        }
        let conf_path = root.join("dovecot.conf");
        fs::write(&conf_path, conf).unwrap();
        if as_root {
            chown_tree(root, NOBODY, NOBODY);
        }

        // setpriv execs Dovecot in place, so the child is Dovecot's master process; with
        // --pdeathsig it also dies if this process is killed before Drop runs.
        let mut command = Command::new("setpriv");
        command.arg("--pdeathsig").arg("KILL");
        if as_root {
            command.args(["--reuid", "nobody", "--regid", "nogroup", "--clear-groups"]);
        }
        command
            .arg("--")
            .arg(dovecot_binary())
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(
                fs::File::create(root.join("stderr.log")).unwrap(),
            ));
        let child = command
            .spawn()
            .map_err(|e| format!("cannot start dovecot (apt-get install -y dovecot-imapd): {e}"))?;
        let mut server = Dovecot {
            dir: Some(dir),
            client_dir,
            child,
            imap_port,
            imaps_port,
            next_user: AtomicU32::new(1),
        };
        server.wait_for_ports()?;
        Ok(server)
    }

    fn wait_for_ports(&mut self) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "dovecot exited with {status}\n{}",
                    self.diagnostics()
                ));
            }
            let up = |port| TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up(self.imap_port) && up(self.imaps_port) {
                return Ok(());
            }
            if started.elapsed() > START_TIMEOUT {
                return Err(format!(
                    "dovecot did not open ports {} and {} within {START_TIMEOUT:?}\n{}",
                    self.imap_port,
                    self.imaps_port,
                    self.diagnostics()
                ));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The server's folder: config, log, users file, Maildirs.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("folder is kept until drop").path()
    }

    /// The log and standard error of the server, for failure messages.
    pub fn diagnostics(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir().join(name)).unwrap_or_default();
        format!(
            "--- dovecot.log ---\n{}\n--- stderr ---\n{}",
            read("dovecot.log"),
            read("stderr.log")
        )
    }

    /// The plain (STARTTLS) port.
    pub fn imap_port(&self) -> u16 {
        self.imap_port
    }

    /// The TLS port.
    pub fn imaps_port(&self) -> u16 {
        self.imaps_port
    }

    /// The test CA that signed the server's certificate (PEM).
    pub fn ca_path(&self) -> PathBuf {
        self.client_dir.path().join("ca.pem")
    }

    /// A CA that did not sign the server's certificate (PEM).
    pub fn unrelated_ca_path(&self) -> PathBuf {
        self.client_dir.path().join("unrelated-ca.pem")
    }

    /// Adds a user with a fresh password; a unique suffix keeps tests apart. Dovecot reads the
    /// users file again when it changes, without a restart.
    pub fn add_user(&self, name: &str) -> (String, String) {
        let n = self.next_user.fetch_add(1, Ordering::SeqCst);
        let user = format!("{name}-{n}");
        let password = format!("pw-{n}-{}", std::process::id());
        let mut users = fs::OpenOptions::new()
            .append(true)
            .open(self.dir().join("users"))
            .expect("cannot open the users file");
        std::io::Write::write_all(
            &mut users,
            format!("{user}:{{PLAIN}}{password}\n").as_bytes(),
        )
        .expect("cannot add a user");
        (user, password)
    }

    /// A signed access token (JWT, HS256) for a user, valid for ten minutes, that this
    /// server accepts with XOAUTH2.
    pub fn access_token(&self, user: &str) -> String {
        use base64::Engine;
        use hmac::Mac;
        let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let claims = encode(
            format!(
                r#"{{"sub":"{user}","iat":{},"exp":{}}}"#,
                now - 10,
                now + 600
            )
            .as_bytes(),
        );
        let signed = format!("{header}.{claims}");
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(OAUTH2_KEY).unwrap();
        mac.update(signed.as_bytes());
        format!("{signed}.{}", encode(&mac.finalize().into_bytes()))
    }

    /// Connection options for this server: 127.0.0.1, the port for `security`, the test CA,
    /// 10 s timeouts.
    pub fn options(&self, security: Security) -> ConnectOptions {
        let port = match security {
            Security::Tls => self.imaps_port,
            Security::Starttls | Security::Plain => self.imap_port,
        };
        let mut options = ConnectOptions::new("127.0.0.1", port, security);
        options.ca_file = Some(self.ca_path());
        options.connect_timeout = Duration::from_secs(10);
        options.read_timeout = Duration::from_secs(10);
        options
    }

    /// Logs in over TLS.
    pub fn login(&self, user: &str, password: &str) -> Session {
        let auth = Auth::Password {
            user: user.to_string(),
            password: password.to_string(),
        };
        Session::connect(&self.options(Security::Tls), &auth)
            .unwrap_or_else(|e| panic!("login as {user} failed: {e}\n{}", self.diagnostics()))
    }

    /// Adds a user and logs in as that user over TLS.
    pub fn new_session(&self, name: &str) -> Session {
        let (user, password) = self.add_user(name);
        self.login(&user, &password)
    }

    /// The Maildir of a user's INBOX.
    pub fn maildir(&self, user: &str) -> PathBuf {
        self.dir().join("mail").join(user)
    }

    /// Writes messages straight into a user's `INBOX/new/`, much faster than APPEND; Dovecot
    /// gives them UIDs at the next SELECT. The user must have logged in once, so that the
    /// Maildir exists.
    pub fn drop_into_maildir(&self, user: &str, messages: impl IntoIterator<Item = Vec<u8>>) {
        let maildir = self.maildir(user);
        for sub in ["cur", "new", "tmp"] {
            fs::create_dir_all(maildir.join(sub)).unwrap();
        }
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let pid = std::process::id();
        // Unique across calls: two drops within one second must not overwrite each other.
        static DROPPED: AtomicUsize = AtomicUsize::new(0);
        for message in messages {
            let i = DROPPED.fetch_add(1, Ordering::SeqCst);
            let name = format!("{stamp}.M{i}P{pid}.fbl-test");
            let tmp = maildir.join("tmp").join(&name);
            fs::write(&tmp, message).unwrap();
            fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
        }
        if running_as_root() {
            chown_tree(&maildir, NOBODY, NOBODY);
        }
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        // SIGKILL: the master's children end with it and the ports are freed at once.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::env::var_os("FBL_TEST_KEEP_DOVECOT").is_some()
            && let Some(dir) = self.dir.take()
        {
            eprintln!("dovecot folder kept: {}", dir.keep().display());
        }
    }
}

pub(crate) fn chown_tree(path: &Path, uid: u32, gid: u32) {
    // A running Dovecot may move a message (new/ to cur/) between the listing and the
    // chown: what is gone is Dovecot's already.
    match std::os::unix::fs::chown(path, Some(uid), Some(gid)) {
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return,
        result => result.unwrap(),
    }
    if path.is_dir() {
        for entry in fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid, gid);
        }
    }
}

/// Appends messages to a folder and returns their UIDs (from APPENDUID).
pub fn seed(
    session: &mut Session,
    folder: &str,
    messages: impl IntoIterator<Item = Vec<u8>>,
) -> Vec<u32> {
    messages
        .into_iter()
        .map(|message| {
            session
                .append(folder, &message)
                .unwrap_or_else(|e| panic!("append to {folder} failed: {e}"))
                .expect("dovecot sends APPENDUID")
        })
        .collect()
}

/// A small, realistic ARF complaint report (RFC 5965) with CRLF line ends, different for
/// each `n`.
pub fn arf_report(n: usize) -> Vec<u8> {
    let recipient = format!("user{n}@example.net");
    let text = format!(
        "Return-Path: <>\r\n\
         Received: from mx{m}.feedback.example.com (mx{m}.feedback.example.com [192.0.2.{m}])\r\n\
         \tby mail.sender.example with ESMTPS id {n:08X}; Thu, 19 Nov 2026 07:{mm:02}:00 +0000\r\n\
         From: Feedback Loop <fbl@feedback.example.com>\r\n\
         To: fbl@sender.example\r\n\
         Subject: complaint about message from 198.51.100.{m}\r\n\
         Date: Thu, 19 Nov 2026 07:{mm:02}:00 +0000\r\n\
         Message-ID: <arf-{n}@feedback.example.com>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=feedback-report;\r\n\
         \tboundary=\"arf-boundary-{n}\"\r\n\
         \r\n\
         --arf-boundary-{n}\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         This is an email abuse report for an email message received from IP\r\n\
         198.51.100.{m} on Thu, 19 Nov 2026 06:{mm:02}:00 +0000.\r\n\
         \r\n\
         --arf-boundary-{n}\r\n\
         Content-Type: message/feedback-report\r\n\
         \r\n\
         Feedback-Type: abuse\r\n\
         User-Agent: ExampleFBL/1.0\r\n\
         Version: 1\r\n\
         Original-Mail-From: <bounce-{n}@sender.example>\r\n\
         Original-Rcpt-To: <{recipient}>\r\n\
         Arrival-Date: Thu, 19 Nov 2026 06:{mm:02}:00 +0000\r\n\
         Reported-Domain: sender.example\r\n\
         Source-IP: 198.51.100.{m}\r\n\
         \r\n\
         --arf-boundary-{n}\r\n\
         Content-Type: text/rfc822-headers\r\n\
         \r\n\
         Return-Path: <bounce-{n}@sender.example>\r\n\
         From: News <news@sender.example>\r\n\
         To: <{recipient}>\r\n\
         Subject: Our November offers, number {n}\r\n\
         Date: Thu, 19 Nov 2026 06:{mm:02}:00 +0000\r\n\
         Message-ID: <campaign-{n}@sender.example>\r\n\
         List-Unsubscribe: <mailto:unsubscribe-{n}@sender.example>\r\n\
         X-Campaign-ID: november-{c}\r\n\
         \r\n\
         --arf-boundary-{n}--\r\n",
        m = n % 250 + 1,
        mm = n % 60,
        c = n % 7,
    );
    text.into_bytes()
}
