//! IMAP mailbox access: connecting over TLS, STARTTLS or loopback plain text, logging in, and
//! the few commands fbl needs (UID search, batched fetch, flags, move, delete, append).
//!
//! This module does IO only. It knows nothing about reports, state or configuration files:
//! the caller says which folder, which UIDs and what to do with them.
//!
//! Invariants:
//! - **Certificates are always verified.** There is no switch to turn verification off; a
//!   private CA is trusted by naming its PEM file in [`ConnectOptions::ca_file`].
//! - **Passwords and tokens never appear in an error message or in `Debug` output.**
//! - **Reading a message never sets `\Seen`** (`BODY.PEEK[]` is used, never `RFC822`).
//! - **No call blocks forever**: the socket read and write timeouts are set before the TLS
//!   handshake and before the greeting is read.

use chrono::NaiveDate;
use imap::types::Fetches;
use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

/// The longest UID set put on one command line. Dovecot accepts lines of 64 KiB; other servers
/// accept less, so sets longer than this are split over several commands.
const MAX_UID_SET_CHARS: usize = 8000;

/// The longest greeting or STARTTLS answer line read before TLS is up.
const MAX_PLAIN_LINE: usize = 8192;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (usually port 993).
    Tls,
    /// A plain connection upgraded with STARTTLS before login (usually port 143).
    Starttls,
    /// No encryption at all; refused unless the host is `localhost` or a loopback address.
    Plain,
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// An extra trust root (PEM, one or more certificates) on top of the system's roots.
    pub ca_file: Option<PathBuf>,
    /// How long to wait for the TCP connection, per resolved address.
    pub connect_timeout: Duration,
    /// How long any single read or write may wait before the server is declared silent.
    pub read_timeout: Duration,
}

impl ConnectOptions {
    /// Options with the usual timeouts: 15 s to connect, 60 s per read or write.
    pub fn new(host: impl Into<String>, port: u16, security: Security) -> ConnectOptions {
        ConnectOptions {
            host: host.into(),
            port,
            security,
            ca_file: None,
            connect_timeout: Duration::from_secs(15),
            read_timeout: Duration::from_secs(60),
        }
    }
}

/// The credentials for one mailbox. `Debug` shows the user but masks the secret.
#[derive(Clone)]
pub enum Auth {
    /// IMAP `LOGIN` with a user name and a password.
    Password { user: String, password: String },
    /// SASL `XOAUTH2` with an OAuth 2.0 access token (Gmail, Microsoft 365).
    XOAuth2 { user: String, access_token: String },
}

impl Auth {
    /// The user name, which may be shown in messages.
    pub fn user(&self) -> &str {
        match self {
            Auth::Password { user, .. } | Auth::XOAuth2 { user, .. } => user,
        }
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Password { user, .. } => f
                .debug_struct("Password")
                .field("user", user)
                .field("password", &"***")
                .finish(),
            Auth::XOAuth2 { user, .. } => f
                .debug_struct("XOAuth2")
                .field("user", user)
                .field("access_token", &"***")
                .finish(),
        }
    }
}

/// What went wrong talking to an IMAP server. The variants are the cases a caller acts on
/// differently: retry later ([`ImapError::is_transient`]), fix the configuration, or give up
/// on one folder.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    /// The TCP connection could not be made (refused, unreachable, name not found).
    /// (The cause is in the message, and not also a `source`: errors are printed with their
    /// chain, which would say it twice.)
    #[error("cannot connect to IMAP server {host}:{port}: {cause}")]
    Connect {
        host: String,
        port: u16,
        cause: io::Error,
    },
    /// The server accepted nothing or said nothing within the timeout.
    #[error(
        "no answer from IMAP server {host}:{port} within {} s; check that the host and port are right and the server is up",
        waited.as_secs_f64()
    )]
    Timeout {
        host: String,
        port: u16,
        waited: Duration,
    },
    /// No greeting after the TCP connection, with `starttls` or `plain`: most often a port
    /// that speaks TLS from the first byte (993), which waits for the client's handshake; else
    /// a server too busy to answer, so it is transient as a timeout is.
    #[error(
        "no greeting from IMAP server {host}:{port} within {} s: a port that speaks TLS from the \
         first byte (993, IMAPS) waits for the client to start it; if this is one, use security \
         = \"tls\" (starttls and plain are for port 143)",
        waited.as_secs_f64()
    )]
    NoGreeting {
        host: String,
        port: u16,
        waited: Duration,
    },
    /// TLS could not be set up: certificate not trusted, wrong name, no STARTTLS, bad CA file.
    #[error("{0}")]
    Tls(String),
    /// The server rejected the credentials.
    #[error("authentication failed for {user} at {host}: {server_said}")]
    AuthFailed {
        user: String,
        host: String,
        server_said: String,
    },
    /// Plain-text IMAP was asked for a host that is not this machine.
    #[error(
        "refusing plain-text IMAP to {host}: the password would cross the network unencrypted; use security tls or starttls (plain is allowed only for localhost)"
    )]
    PlainRefused { host: String },
    /// The server sent something that is not IMAP, or dropped the connection mid-response.
    #[error("{0}")]
    Protocol(String),
    /// The folder does not exist on the server.
    #[error("folder {0:?} does not exist on the IMAP server")]
    NoSuchFolder(String),
    /// A change was asked for in a folder opened read-only with `examine` (a dry run).
    #[error("folder {0:?} was opened read-only for a dry run; not changing it")]
    ReadOnly(String),
    /// The server answered NO or BAD to a command.
    #[error("IMAP server {host} refused {command}: {server_said}")]
    Refused {
        host: String,
        command: String,
        server_said: String,
    },
}

impl ImapError {
    /// True when trying again later may succeed without changing the configuration. After
    /// such an error the session is out of step with the server: drop it and connect anew.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ImapError::Connect { .. }
                | ImapError::Timeout { .. }
                | ImapError::NoGreeting { .. }
                | ImapError::Protocol(_)
        )
    }
}

/// What `SELECT` or `EXAMINE` says about a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderStatus {
    /// UIDs are only comparable while this stays the same.
    pub uid_validity: u32,
    /// The UID the next message will get, if the server said.
    pub uid_next: Option<u32>,
    /// How many messages the folder holds.
    pub exists: u32,
}

/// The SASL `XOAUTH2` exchange. The first challenge is answered with the token; a second
/// challenge carries the server's error details (JSON) and is answered with an empty line, as
/// the mechanism requires, so that the server can send its tagged `NO`.
struct XOAuth2Sasl<'a> {
    user: &'a str,
    access_token: &'a str,
    rounds: RefCell<u32>,
    error_details: RefCell<Option<String>>,
}

impl imap::Authenticator for XOAuth2Sasl<'_> {
    type Response = Vec<u8>;

    fn process(&self, challenge: &[u8]) -> Vec<u8> {
        let mut rounds = self.rounds.borrow_mut();
        *rounds += 1;
        if *rounds == 1 {
            format!(
                "user={}\x01auth=Bearer {}\x01\x01",
                self.user, self.access_token
            )
            .into_bytes()
        } else {
            *self.error_details.borrow_mut() = Some(String::from_utf8_lossy(challenge).into());
            Vec::new()
        }
    }
}

/// A logged-in IMAP connection. Commands that act on messages work on the folder chosen with
/// [`Session::select`] or [`Session::examine`]. After a transient error
/// ([`ImapError::is_transient`]) the session must be dropped, not used again.
pub struct Session {
    inner: imap::Session<imap::Connection>,
    host: String,
    port: u16,
    read_timeout: Duration,
    capabilities: Vec<String>,
    selected: Option<String>,
    read_only: bool,
    /// Without UIDPLUS: per folder, the UIDs this session flagged `\Deleted` and has not yet
    /// expunged (a plain EXPUNGE is sent only when no other message is flagged).
    own_deleted: std::collections::BTreeMap<String, std::collections::BTreeSet<u32>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("selected", &self.selected)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// Connects, sets up TLS as asked, logs in and reads the capabilities the server offers
    /// after login.
    pub fn connect(opts: &ConnectOptions, auth: &Auth) -> Result<Session, ImapError> {
        if opts.security == Security::Plain && !is_loopback_host(&opts.host) {
            return Err(ImapError::PlainRefused {
                host: opts.host.clone(),
            });
        }
        let tls = match opts.security {
            Security::Plain => None,
            Security::Tls | Security::Starttls => Some(tls_connector(opts)?),
        };
        let mut tcp = connect_tcp(opts)?;

        let client = match (opts.security, tls) {
            (Security::Tls, Some(tls)) => {
                let stream = tls_handshake(opts, &tls, tcp)?;
                let mut client = imap::Client::new(Box::new(stream) as imap::Connection);
                let greeting = client
                    .read_greeting()
                    .map_err(|e| pre_login_error(opts, "reading the greeting", e))?;
                check_greeting(opts, &greeting)?;
                client
            }
            (Security::Starttls, Some(tls)) => {
                let greeting = read_plain_line(opts, &mut tcp).map_err(no_greeting)?;
                check_greeting(opts, &greeting)?;
                start_tls(opts, &mut tcp)?;
                let stream = tls_handshake(opts, &tls, tcp)?;
                let mut client = imap::Client::new(Box::new(stream) as imap::Connection);
                // The greeting came before STARTTLS; none follows the handshake.
                client.greeting_read = true;
                client
            }
            _ => {
                let mut client = imap::Client::new(Box::new(tcp) as imap::Connection);
                let greeting = client
                    .read_greeting()
                    .map_err(|e| pre_login_error(opts, "reading the greeting", e))
                    .map_err(no_greeting)?;
                check_greeting(opts, &greeting)?;
                client
            }
        };

        // The crate's `debug` switch is left off: it would print LOGIN with the password.
        let inner = login(opts, auth, client)?;
        let mut session = Session {
            inner,
            host: opts.host.clone(),
            port: opts.port,
            read_timeout: opts.read_timeout,
            capabilities: Vec::new(),
            selected: None,
            read_only: false,
            own_deleted: Default::default(),
        };
        // Servers such as Dovecot list MOVE and UIDPLUS only after login, so ask again now.
        // The raw answer is read because the crate's capability type cannot be named here.
        let result = session.inner.run_command_and_read_response("CAPABILITY");
        let answer = session.check(result, || "CAPABILITY".into())?;
        session.capabilities = parse_capabilities(&answer);
        Ok(session)
    }

    /// The capabilities the server listed after login, as the server spelled them.
    pub fn capabilities(&self) -> &[String] {
        &self.capabilities
    }

    /// Whether the server offers a capability (compared ignoring case).
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    }

    /// Whether the server offers `MOVE` (RFC 6851).
    pub fn has_move(&self) -> bool {
        self.has_capability("MOVE")
    }

    /// Whether the server offers `UIDPLUS` (RFC 4315): `UID EXPUNGE` and `APPENDUID`.
    pub fn has_uidplus(&self) -> bool {
        self.has_capability("UIDPLUS")
    }

    /// The host this session talks to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Every folder of the account, as the server names them (modified UTF-7 is not decoded).
    pub fn list_folders(&mut self) -> Result<Vec<String>, ImapError> {
        let result = self.inner.list(Some(""), Some("*"));
        let names = self.check(result, || "LIST".into())?;
        Ok(names.iter().map(|n| n.name().to_string()).collect())
    }

    /// Creates a folder unless it exists. Returns whether it was created.
    pub fn create_folder_if_missing(&mut self, folder: &str) -> Result<bool, ImapError> {
        check_folder_name(folder)?;
        if self.folder_exists(folder)? {
            return Ok(false);
        }
        let result = self.inner.create(folder);
        match self.check(result, || format!("CREATE of folder {folder:?}")) {
            Ok(()) => Ok(true),
            // Another client may have created it in between.
            Err(ImapError::Refused { .. }) if self.folder_exists(folder)? => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Deletes a folder and everything in it. fbl itself never deletes folders; tests use this
    /// to see UIDVALIDITY change when a folder is made again.
    pub fn delete_folder(&mut self, folder: &str) -> Result<(), ImapError> {
        check_folder_name(folder)?;
        // Dovecot drops the connection when the selected folder is deleted, so leave it first.
        if self.selected.as_deref() == Some(folder) {
            let result = self.inner.close();
            self.check(result, || format!("CLOSE of folder {folder:?}"))?;
            self.selected = None;
        }
        let result = self.inner.delete(folder);
        match self.check(result, || format!("DELETE of folder {folder:?}")) {
            Err(ImapError::Refused { .. }) if !self.folder_exists(folder)? => {
                Err(ImapError::NoSuchFolder(folder.to_string()))
            }
            other => other,
        }
    }

    /// Selects a folder read-write; later commands act on it.
    pub fn select(&mut self, folder: &str) -> Result<FolderStatus, ImapError> {
        check_folder_name(folder)?;
        let result = self.inner.select(folder);
        self.open_folder(folder, "SELECT", result)
    }

    /// Opens a folder read-only (`EXAMINE`), for dry runs: nothing can be changed in it.
    pub fn examine(&mut self, folder: &str) -> Result<FolderStatus, ImapError> {
        check_folder_name(folder)?;
        let result = self.inner.examine(folder);
        self.open_folder(folder, "EXAMINE", result)
    }

    /// The UIDs above `last_uid` in the selected folder, ascending, optionally only those of
    /// messages that arrived on or after `since`.
    pub fn uids_after(
        &mut self,
        last_uid: u32,
        since: Option<NaiveDate>,
    ) -> Result<Vec<u32>, ImapError> {
        let Some(first) = last_uid.checked_add(1) else {
            return Ok(Vec::new());
        };
        let mut query = format!("UID {first}:*");
        if let Some(day) = since {
            query.push_str(&format!(" SINCE {}", day.format("%-d-%b-%Y")));
        }
        let result = self.inner.uid_search(&query);
        let found = self.check(result, || format!("UID SEARCH {query}"))?;
        // "UID n:*" always matches the highest UID, even when it is below n.
        let mut uids: Vec<u32> = found.into_iter().filter(|&uid| uid > last_uid).collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// The UIDs of messages without `\Seen` in the selected folder, ascending.
    pub fn unseen_uids(&mut self) -> Result<Vec<u32>, ImapError> {
        let result = self.inner.uid_search("UNSEEN");
        let found = self.check(result, || "UID SEARCH UNSEEN".into())?;
        let mut uids: Vec<u32> = found.into_iter().collect();
        uids.sort_unstable();
        Ok(uids)
    }

    /// Fetches whole messages by UID in one round trip (split only if the UID set is very
    /// long), without setting `\Seen`. The result is sorted by UID; UIDs that no longer exist
    /// are missing from it.
    pub fn fetch_batch(&mut self, uids: &[u32]) -> Result<Vec<(u32, Vec<u8>)>, ImapError> {
        let mut wanted = uids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut messages = Vec::with_capacity(wanted.len());
        for set in uid_sets(&wanted) {
            let result = self.inner.uid_fetch(&set, "BODY.PEEK[]");
            let fetches = self.check(result, || format!("UID FETCH {set}"))?;
            collect_bodies(&fetches, &wanted, &mut messages);
        }
        messages.sort_by_key(|(uid, _)| *uid);
        messages.dedup_by_key(|(uid, _)| *uid);
        Ok(messages)
    }

    /// The sizes in bytes (`RFC822.SIZE`) of messages by UID, in one round trip, sorted by
    /// UID; lets a caller keep a batch's memory bounded and spot oversized messages before
    /// fetching them.
    pub fn fetch_sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>, ImapError> {
        let mut wanted = uids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut sizes = Vec::with_capacity(wanted.len());
        for set in uid_sets(&wanted) {
            let result = self.inner.uid_fetch(&set, "RFC822.SIZE");
            let fetches = self.check(result, || format!("UID FETCH {set} RFC822.SIZE"))?;
            for fetch in fetches.iter() {
                if let (Some(uid), Some(size)) = (fetch.uid, fetch.size)
                    && wanted.binary_search(&uid).is_ok()
                {
                    sizes.push((uid, size));
                }
            }
        }
        sizes.sort_unstable();
        sizes.dedup_by_key(|(uid, _)| *uid);
        Ok(sizes)
    }

    /// The first `max_bytes` of a message (`BODY.PEEK[]<0.max_bytes>`), without setting
    /// `\Seen`; for keeping the head of an oversized message in quarantine.
    pub fn fetch_head(&mut self, uid: u32, max_bytes: u32) -> Result<Option<Vec<u8>>, ImapError> {
        let set = uid.to_string();
        let query = format!("BODY.PEEK[]<0.{max_bytes}>");
        let result = self.inner.uid_fetch(&set, &query);
        let fetches = self.check(result, || format!("UID FETCH {set} {query}"))?;
        let mut messages = Vec::with_capacity(1);
        collect_bodies(&fetches, &[uid], &mut messages);
        Ok(messages.pop().map(|(_, body)| body))
    }

    /// Fetches one message by UID, without setting `\Seen`: one round trip per message, kept
    /// as the baseline that [`Session::fetch_batch`] is measured against.
    pub fn fetch_one(&mut self, uid: u32) -> Result<Option<Vec<u8>>, ImapError> {
        let set = uid.to_string();
        let result = self.inner.uid_fetch(&set, "BODY.PEEK[]");
        let fetches = self.check(result, || format!("UID FETCH {set}"))?;
        let mut messages = Vec::with_capacity(1);
        collect_bodies(&fetches, &[uid], &mut messages);
        Ok(messages.pop().map(|(_, body)| body))
    }

    /// Sets `\Seen` on messages of the selected folder.
    pub fn mark_seen(&mut self, uids: &[u32]) -> Result<(), ImapError> {
        self.store_flag(uids, "\\Seen")
    }

    /// Moves messages of the selected folder to another folder: `UID MOVE` when offered,
    /// otherwise copy, flag `\Deleted` and expunge (`UID EXPUNGE` with UIDPLUS; without it a
    /// plain `EXPUNGE` only when no other message is flagged `\Deleted`: see `expunge_set`).
    pub fn move_to(&mut self, uids: &[u32], folder: &str) -> Result<(), ImapError> {
        check_folder_name(folder)?;
        self.check_writable()?;
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for set in uid_sets(&sorted) {
            if self.has_move() {
                let result = self.inner.uid_mv(&set, folder);
                self.check_target(result, folder, || format!("UID MOVE {set} to {folder:?}"))?;
            } else {
                let result = self.inner.uid_copy(&set, quote(folder));
                self.check_target(result, folder, || format!("UID COPY {set} to {folder:?}"))?;
                self.store_flag_set(&set, "\\Deleted")?;
                self.expunge_set(&set)?;
            }
        }
        Ok(())
    }

    /// Deletes messages of the selected folder: flag `\Deleted`, then expunge (`UID EXPUNGE`
    /// with UIDPLUS, else a plain `EXPUNGE` only when no other message is flagged `\Deleted`:
    /// see `expunge_set`).
    pub fn delete(&mut self, uids: &[u32]) -> Result<(), ImapError> {
        self.check_writable()?;
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for set in uid_sets(&sorted) {
            self.store_flag_set(&set, "\\Deleted")?;
            self.expunge_set(&set)?;
        }
        Ok(())
    }

    /// Appends a message to a folder. Returns its UID when the server says (UIDPLUS
    /// `APPENDUID`).
    pub fn append(&mut self, folder: &str, message: &[u8]) -> Result<Option<u32>, ImapError> {
        // The crate puts the name between quotes without escaping it.
        if folder.contains(['"', '\\']) {
            return Err(ImapError::Protocol(format!(
                "cannot append to folder {folder:?}: quotes and backslashes are not supported in its name"
            )));
        }
        check_folder_name(folder)?;
        let result = self.inner.append(folder, message).finish();
        let appended = match result {
            Err(imap::Error::Append) if !self.folder_exists(folder)? => {
                return Err(ImapError::NoSuchFolder(folder.to_string()));
            }
            other => self.check(other, || format!("APPEND to folder {folder:?}"))?,
        };
        Ok(appended
            .uids
            .as_ref()
            .and_then(|members| members.first())
            .and_then(first_uid))
    }

    /// Logs out politely.
    pub fn logout(mut self) -> Result<(), ImapError> {
        let result = self.inner.logout();
        match result {
            Err(imap::Error::ConnectionLost) => Ok(()),
            other => self.check(other, || "LOGOUT".into()),
        }
    }

    /// Refuses to change a folder opened with EXAMINE. Dovecot answers OK to STORE in a
    /// read-only folder without storing anything, which would hide a bug in a dry run.
    fn check_writable(&self) -> Result<(), ImapError> {
        match (&self.selected, self.read_only) {
            (Some(folder), true) => Err(ImapError::ReadOnly(folder.clone())),
            _ => Ok(()),
        }
    }

    fn folder_exists(&mut self, folder: &str) -> Result<bool, ImapError> {
        let pattern = quote(folder);
        let result = self.inner.list(Some(""), Some(&pattern));
        let names = self.check(result, || format!("LIST of folder {folder:?}"))?;
        let inbox = folder.eq_ignore_ascii_case("INBOX");
        Ok(names
            .iter()
            .any(|n| n.name() == folder || (inbox && n.name().eq_ignore_ascii_case("INBOX"))))
    }

    fn open_folder(
        &mut self,
        folder: &str,
        verb: &str,
        result: imap::Result<imap::types::Mailbox>,
    ) -> Result<FolderStatus, ImapError> {
        self.selected = None;
        let mailbox = match result {
            Err(imap::Error::No(_)) if !self.folder_exists(folder)? => {
                return Err(ImapError::NoSuchFolder(folder.to_string()));
            }
            other => self.check(other, || format!("{verb} of folder {folder:?}"))?,
        };
        let Some(uid_validity) = mailbox.uid_validity else {
            return Err(ImapError::Protocol(format!(
                "IMAP server {} sent no UIDVALIDITY for folder {folder:?}, so UIDs cannot be tracked",
                self.host
            )));
        };
        self.selected = Some(folder.to_string());
        self.read_only = verb == "EXAMINE";
        Ok(FolderStatus {
            uid_validity,
            uid_next: mailbox.uid_next,
            exists: mailbox.exists,
        })
    }

    fn store_flag(&mut self, uids: &[u32], flag: &str) -> Result<(), ImapError> {
        self.check_writable()?;
        let mut sorted = uids.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for set in uid_sets(&sorted) {
            self.store_flag_set(&set, flag)?;
        }
        Ok(())
    }

    fn store_flag_set(&mut self, set: &str, flag: &str) -> Result<(), ImapError> {
        let query = format!("+FLAGS.SILENT ({flag})");
        let result = self.inner.uid_store(set, &query);
        self.check(result, || format!("UID STORE {set} {query}"))?;
        Ok(())
    }

    /// Expunges the messages of `set`, already flagged `\Deleted`. With UIDPLUS, `UID EXPUNGE`
    /// of that set alone. Without it only a plain `EXPUNGE` exists, which removes every
    /// message flagged `\Deleted`, another client's too (a report not read yet): it is sent
    /// only when `UID SEARCH DELETED` finds no message but those this session flagged in the
    /// folder. Otherwise fbl's own stay flagged `\Deleted` (they are stored, and never read
    /// again: progress is by UID) until some client expunges the folder, and
    /// [`Session::take_left_flagged_deleted`] says how many.
    fn expunge_set(&mut self, set: &str) -> Result<(), ImapError> {
        if self.has_uidplus() {
            let result = self.inner.uid_expunge(set);
            self.check(result, || format!("EXPUNGE of UIDs {set}"))?;
            return Ok(());
        }
        let folder = self.selected.clone().unwrap_or_default();
        self.own_deleted
            .entry(folder.clone())
            .or_default()
            .extend(set_uids(set));
        let result = self.inner.uid_search("DELETED");
        let flagged = self.check(result, || "UID SEARCH DELETED".into())?;
        let own = self.own_deleted.entry(folder).or_default();
        if flagged.iter().all(|uid| own.contains(uid)) {
            let result = self.inner.expunge();
            self.check(result, || format!("EXPUNGE of UIDs {set}"))?;
            if let Some(folder) = &self.selected {
                self.own_deleted.remove(folder);
            }
        }
        Ok(())
    }

    /// Hands the messages this session flagged `\Deleted` itself over to `next`, a session
    /// that replaces it: they stay fbl's own, to be expunged or said.
    pub fn hand_over_own_deleted(&mut self, next: &mut Session) {
        for (folder, uids) in std::mem::take(&mut self.own_deleted) {
            next.own_deleted.entry(folder).or_default().extend(uids);
        }
    }

    /// The messages this session flagged `\Deleted` but left unexpunged (a server without
    /// UIDPLUS, and another client's message flagged `\Deleted` in the folder), by folder;
    /// forgotten once taken.
    pub fn take_left_flagged_deleted(&mut self) -> Vec<(String, usize)> {
        std::mem::take(&mut self.own_deleted)
            .into_iter()
            .filter(|(_, uids)| !uids.is_empty())
            .map(|(folder, uids)| (folder, uids.len()))
            .collect()
    }

    /// Like [`Session::check`], but a `NO` for a target folder that does not exist becomes
    /// [`ImapError::NoSuchFolder`] (servers say `[TRYCREATE]`, which the crate does not
    /// expose in a type that can be named here, so the folder list is asked instead).
    fn check_target<T>(
        &mut self,
        result: imap::Result<T>,
        folder: &str,
        command: impl FnOnce() -> String,
    ) -> Result<T, ImapError> {
        if let Err(imap::Error::No(_)) = &result
            && !self.folder_exists(folder)?
        {
            self.inner.take_all_unsolicited().for_each(drop);
            return Err(ImapError::NoSuchFolder(folder.to_string()));
        }
        self.check(result, command)
    }

    /// Turns the crate's error into ours, naming the command and the selected folder, and
    /// drops the unsolicited responses collected meanwhile so they cannot pile up.
    fn check<T>(
        &mut self,
        result: imap::Result<T>,
        command: impl FnOnce() -> String,
    ) -> Result<T, ImapError> {
        self.inner.take_all_unsolicited().for_each(drop);
        result.map_err(|e| {
            let mut command = command();
            if let Some(folder) = &self.selected {
                command.push_str(&format!(" in folder {folder:?}"));
            }
            session_error(&self.host, self.port, self.read_timeout, &command, e)
        })
    }
}

/// The capability names from the untagged `* CAPABILITY` lines of a response.
fn parse_capabilities(answer: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(answer);
    let mut names = Vec::new();
    for line in text.lines() {
        let mut words = line.split_ascii_whitespace();
        if words.next() == Some("*")
            && words
                .next()
                .is_some_and(|w| w.eq_ignore_ascii_case("CAPABILITY"))
        {
            names.extend(words.map(str::to_string));
        }
    }
    names
}

/// The first UID of an `APPENDUID` set member. The crate does not re-export the member's
/// type, so its `Debug` form (`Uid(7)` or `UidRange(7..=7)`) is read instead.
fn first_uid(member: &impl fmt::Debug) -> Option<u32> {
    let shown = format!("{member:?}");
    let digits: String = shown
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

/// Appends `(uid, body)` for every fetched message whose UID was asked for and that came
/// with a body; unsolicited flag updates are skipped.
fn collect_bodies(fetches: &Fetches, wanted_sorted: &[u32], into: &mut Vec<(u32, Vec<u8>)>) {
    for fetch in fetches.iter() {
        if let (Some(uid), Some(body)) = (fetch.uid, fetch.body())
            && wanted_sorted.binary_search(&uid).is_ok()
        {
            into.push((uid, body.to_vec()));
        }
    }
}

/// Writes sorted, distinct UIDs as compact IMAP sets (`5:9,12`), each at most
/// `MAX_UID_SET_CHARS` long.
pub fn uid_sets(sorted_uids: &[u32]) -> Vec<String> {
    let mut sets = Vec::new();
    let mut current = String::new();
    let mut i = 0;
    while i < sorted_uids.len() {
        let start = sorted_uids[i];
        let mut end = start;
        while i + 1 < sorted_uids.len() && sorted_uids[i + 1] == end.wrapping_add(1) {
            i += 1;
            end = sorted_uids[i];
        }
        i += 1;
        let item = if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        };
        if !current.is_empty() && current.len() + 1 + item.len() > MAX_UID_SET_CHARS {
            sets.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(',');
        }
        current.push_str(&item);
    }
    if !current.is_empty() {
        sets.push(current);
    }
    sets
}

/// The UIDs of a set written by [`uid_sets`] (`5:9,12`).
fn set_uids(set: &str) -> Vec<u32> {
    let mut uids = Vec::new();
    for item in set.split(',') {
        let mut ends = item.splitn(2, ':').map(|n| n.parse::<u32>().ok());
        match (ends.next().flatten(), ends.next()) {
            (Some(uid), None) => uids.push(uid),
            (Some(start), Some(Some(end))) => uids.extend(start.min(end)..=start.max(end)),
            _ => {}
        }
    }
    uids
}

/// Refuses folder names that cannot be sent on a command line.
fn check_folder_name(folder: &str) -> Result<(), ImapError> {
    if folder.is_empty() || folder.contains(['\r', '\n', '\0']) {
        return Err(ImapError::Protocol(format!(
            "folder name {folder:?} is empty or contains a line break or NUL; nothing was sent"
        )));
    }
    Ok(())
}

/// An IMAP quoted string.
fn quote(text: &str) -> String {
    format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `localhost` or a loopback address, the only hosts plain-text IMAP (and plain HTTP for
/// SNDS and OAuth, whose requests carry keys and tokens) may go to.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.eq_ignore_ascii_case("localhost.")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn tls_connector(opts: &ConnectOptions) -> Result<native_tls::TlsConnector, ImapError> {
    let mut builder = native_tls::TlsConnector::builder();
    if let Some(path) = &opts.ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| ImapError::Tls(format!("cannot read ca_file {}: {e}", path.display())))?;
        let certificates = native_tls::Certificate::stack_from_pem(&pem).map_err(|e| {
            ImapError::Tls(format!(
                "ca_file {} is not a PEM certificate: {e}",
                path.display()
            ))
        })?;
        if certificates.is_empty() {
            return Err(ImapError::Tls(format!(
                "ca_file {} holds no PEM certificate",
                path.display()
            )));
        }
        for certificate in certificates {
            builder.add_root_certificate(certificate);
        }
    }
    builder
        .build()
        .map_err(|e| ImapError::Tls(format!("cannot set up TLS: {e}")))
}

fn connect_tcp(opts: &ConnectOptions) -> Result<TcpStream, ImapError> {
    let connect_error = |cause| ImapError::Connect {
        host: opts.host.clone(),
        port: opts.port,
        cause,
    };
    let host = opts.host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = (host, opts.port)
        .to_socket_addrs()
        .map_err(connect_error)?
        .collect();
    let mut last_error = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, opts.connect_timeout) {
            Ok(tcp) => {
                let timeout = Some(opts.read_timeout.max(Duration::from_millis(1)));
                tcp.set_read_timeout(timeout).map_err(connect_error)?;
                tcp.set_write_timeout(timeout).map_err(connect_error)?;
                tcp.set_nodelay(true).map_err(connect_error)?;
                return Ok(tcp);
            }
            Err(e) => last_error = e,
        }
    }
    if matches!(
        last_error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    ) {
        return Err(ImapError::Timeout {
            host: opts.host.clone(),
            port: opts.port,
            waited: opts.connect_timeout,
        });
    }
    Err(connect_error(last_error))
}

fn tls_handshake(
    opts: &ConnectOptions,
    tls: &native_tls::TlsConnector,
    tcp: TcpStream,
) -> Result<native_tls::TlsStream<TcpStream>, ImapError> {
    let host = opts.host.trim_start_matches('[').trim_end_matches(']');
    tls.connect(host, tcp).map_err(|e| match e {
        native_tls::HandshakeError::WouldBlock(_) => timeout(opts),
        native_tls::HandshakeError::Failure(e) => ImapError::Tls(format!(
            "TLS handshake with IMAP server {}:{} failed: {e}{}",
            opts.host,
            opts.port,
            tls_hint(&e.to_string(), opts.port)
        )),
    })
}

/// What to try after a failed TLS handshake, from OpenSSL's words: a certificate that does
/// not verify wants `ca_file`; an answer that is not TLS at all (OpenSSL's "wrong version
/// number", "packet length too long") is a plain-text port given `security = "tls"`.
fn tls_hint(error: &str, port: u16) -> String {
    let error = error.to_ascii_lowercase();
    if error.contains("certificate") || error.contains("issuer") {
        "; if the server uses a private CA, name its PEM certificate in ca_file".to_string()
    } else if error.contains("wrong version number") || error.contains("packet length too long") {
        format!(
            "; the server did not answer in TLS: port {port} looks like a plain-text port \
             (IMAP's is 143: give it security = \"starttls\"), security = \"tls\" wants the \
             implicit-TLS port (993)"
        )
    } else {
        String::new()
    }
}

/// Reads one line from the plain socket, one byte at a time, so that nothing the server sends
/// after the STARTTLS answer is read as plain text.
fn read_plain_line(opts: &ConnectOptions, tcp: &mut TcpStream) -> Result<Vec<u8>, ImapError> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        match tcp.read(&mut byte) {
            Ok(0) => {
                return Err(ImapError::Protocol(format!(
                    "IMAP server {}:{} closed the connection before TLS was set up",
                    opts.host, opts.port
                )));
            }
            Ok(_) => {
                line.push(byte[0]);
                if byte[0] == b'\n' {
                    return Ok(line);
                }
                if line.len() > MAX_PLAIN_LINE {
                    return Err(not_imap(opts, &line));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io_error(opts, "before TLS was set up", e)),
        }
    }
}

fn start_tls(opts: &ConnectOptions, tcp: &mut TcpStream) -> Result<(), ImapError> {
    tcp.write_all(b"S1 STARTTLS\r\n")
        .and_then(|()| tcp.flush())
        .map_err(|e| io_error(opts, "sending STARTTLS", e))?;
    loop {
        let line = read_plain_line(opts, tcp)?;
        if line.starts_with(b"* ") {
            continue;
        }
        if line.starts_with(b"S1 OK") {
            return Ok(());
        }
        if line.starts_with(b"S1 ") {
            return Err(ImapError::Tls(format!(
                "IMAP server {}:{} does not offer STARTTLS (it said {:?}); use security tls on its TLS port",
                opts.host,
                opts.port,
                printable(&line)
            )));
        }
        return Err(not_imap(opts, &line));
    }
}

fn check_greeting(opts: &ConnectOptions, greeting: &[u8]) -> Result<(), ImapError> {
    if greeting.starts_with(b"* OK") || greeting.starts_with(b"* PREAUTH") {
        return Ok(());
    }
    if greeting.starts_with(b"* BYE") {
        return Err(ImapError::Protocol(format!(
            "IMAP server {}:{} turned the connection away: {}",
            opts.host,
            opts.port,
            printable(greeting)
        )));
    }
    Err(not_imap(opts, greeting))
}

fn not_imap(opts: &ConnectOptions, line: &[u8]) -> ImapError {
    ImapError::Protocol(format!(
        "{}:{} does not speak IMAP as expected; it sent {:?}",
        opts.host,
        opts.port,
        printable(line)
    ))
}

fn login(
    opts: &ConnectOptions,
    auth: &Auth,
    client: imap::Client<imap::Connection>,
) -> Result<imap::Session<imap::Connection>, ImapError> {
    // A server or proxy may echo the command it refuses, password or token included.
    let auth_failed = |server_said: String| ImapError::AuthFailed {
        user: auth.user().to_string(),
        host: opts.host.clone(),
        server_said: mask_secret(&server_said, auth),
    };
    let (result, details) = match auth {
        Auth::Password { user, password } => (client.login(user, password), None),
        Auth::XOAuth2 { user, access_token } => {
            let sasl = XOAuth2Sasl {
                user,
                access_token,
                rounds: RefCell::new(0),
                error_details: RefCell::new(None),
            };
            let result = client.authenticate("XOAUTH2", &sasl);
            (result, sasl.error_details.into_inner())
        }
    };
    result.map_err(|(e, _client)| match e {
        imap::Error::No(no) => auth_failed(with_details(no.information, details)),
        imap::Error::Bad(bad) => auth_failed(with_details(bad.information, details)),
        imap::Error::Validate(_) => auth_failed(
            "the user name or secret contains a line break, so nothing was sent".to_string(),
        ),
        other => match pre_login_error(opts, "logging in", other) {
            ImapError::Protocol(text) => ImapError::Protocol(mask_secret(&text, auth)),
            ImapError::Tls(text) => ImapError::Tls(mask_secret(&text, auth)),
            error => error,
        },
    })
}

/// `text` with the password or access token of `auth` masked: as sent (an IMAP quoted
/// string escapes `"` and `\`) or bare, URL-encoded, and for XOAUTH2 the base64 of the
/// exchange that carries the token.
fn mask_secret(text: &str, auth: &Auth) -> String {
    use base64::Engine as _;
    let (secret, sasl) = match auth {
        Auth::Password { password, .. } => (password, None),
        Auth::XOAuth2 { user, access_token } => (
            access_token,
            Some(
                base64::engine::general_purpose::STANDARD
                    .encode(format!("user={user}\x01auth=Bearer {access_token}\x01\x01")),
            ),
        ),
    };
    let quoted = secret.replace('\\', "\\\\").replace('"', "\\\"");
    let mut forms = vec![quoted.as_str(), secret.as_str()];
    if let Some(sasl) = &sasl {
        forms.insert(0, sasl.as_str());
    }
    crate::oauth::redact(text, &forms)
}

/// A server silent after the TCP connection, with `starttls` or `plain` (see
/// [`ImapError::NoGreeting`]).
fn no_greeting(error: ImapError) -> ImapError {
    match error {
        ImapError::Timeout { host, port, waited } => ImapError::NoGreeting { host, port, waited },
        other => other,
    }
}

fn with_details(server_said: String, details: Option<String>) -> String {
    match details {
        Some(details) if !details.is_empty() => format!("{server_said} ({details})"),
        _ => server_said,
    }
}

fn timeout(opts: &ConnectOptions) -> ImapError {
    ImapError::Timeout {
        host: opts.host.clone(),
        port: opts.port,
        waited: opts.read_timeout,
    }
}

fn io_error(opts: &ConnectOptions, doing: &str, e: io::Error) -> ImapError {
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return timeout(opts);
    }
    ImapError::Protocol(format!(
        "connection to IMAP server {}:{} failed {doing}: {e}",
        opts.host, opts.port
    ))
}

fn pre_login_error(opts: &ConnectOptions, doing: &str, e: imap::Error) -> ImapError {
    session_error(&opts.host, opts.port, opts.read_timeout, doing, e)
}

/// Maps the crate's error for a command (described by `command`) to ours.
fn session_error(
    host: &str,
    port: u16,
    read_timeout: Duration,
    command: &str,
    e: imap::Error,
) -> ImapError {
    match e {
        imap::Error::Io(io)
            if matches!(
                io.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            ImapError::Timeout {
                host: host.to_string(),
                port,
                waited: read_timeout,
            }
        }
        imap::Error::Io(io) => ImapError::Protocol(format!(
            "connection to IMAP server {host}:{port} failed during {command}: {io}"
        )),
        imap::Error::ConnectionLost => ImapError::Protocol(format!(
            "IMAP server {host}:{port} closed the connection during {command}"
        )),
        imap::Error::Bye(bye) => ImapError::Protocol(format!(
            "IMAP server {host}:{port} ended the session during {command}: {}",
            bye.information
        )),
        imap::Error::No(no) => ImapError::Refused {
            host: host.to_string(),
            command: command.to_string(),
            server_said: no.information,
        },
        imap::Error::Bad(bad) => ImapError::Refused {
            host: host.to_string(),
            command: command.to_string(),
            server_said: bad.information,
        },
        imap::Error::Tls(tls) => ImapError::Tls(format!(
            "TLS with IMAP server {host}:{port} failed during {command}: {tls}"
        )),
        imap::Error::TlsHandshake(handshake) => ImapError::Tls(format!(
            "TLS with IMAP server {host}:{port} failed during {command}: {handshake}"
        )),
        other => {
            let mut text = other.to_string();
            if text.len() > 300 {
                let mut cut = 300;
                while !text.is_char_boundary(cut) {
                    cut -= 1;
                }
                text.truncate(cut);
                text.push_str("...");
            }
            ImapError::Protocol(format!(
                "cannot understand IMAP server {host}:{port} during {command}: {text}"
            ))
        }
    }
}

/// A server line shown in a message: without its line end, at most 200 characters.
fn printable(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    text.chars().take(200).collect()
}

/// A folder name in IMAP's modified UTF-7 (RFC 3501, 5.1.3): printable ASCII as it is but
/// `&` as `&-`, and each run of other characters as `&`, the modified base64 (`,` for `/`,
/// no padding) of its UTF-16BE, and `-`.
pub fn modified_utf7(name: &str) -> String {
    use base64::Engine as _;
    const MODIFIED: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::IMAP_MUTF7,
        base64::engine::general_purpose::NO_PAD,
    );
    let mut out = String::with_capacity(name.len());
    let mut run: Vec<u8> = Vec::new();
    let flush = |run: &mut Vec<u8>, out: &mut String| {
        if !run.is_empty() {
            out.push('&');
            out.push_str(&MODIFIED.encode(&run));
            out.push('-');
            run.clear();
        }
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut run, &mut out);
            if c == '&' {
                out.push_str("&-");
            } else {
                out.push(c);
            }
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                run.extend_from_slice(&unit.to_be_bytes());
            }
        }
    }
    flush(&mut run, &mut out);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn folder_names_in_modified_utf7() {
        use super::modified_utf7;
        // RFC 3501's own example, and names a user would write.
        assert_eq!(
            modified_utf7("~peter/mail/\u{53f0}\u{5317}/\u{65e5}\u{672c}\u{8a9e}"),
            "~peter/mail/&U,BTFw-/&ZeVnLIqe-"
        );
        assert_eq!(modified_utf7("Reçus"), "Re&AOc-us");
        assert_eq!(modified_utf7("Traités"), "Trait&AOk-s");
        assert_eq!(modified_utf7("Q&A"), "Q&-A");
        assert_eq!(modified_utf7("INBOX.Processed"), "INBOX.Processed");
        // Outside the BMP: a surrogate pair in one run.
        assert_eq!(modified_utf7("\u{1F4E7}"), "&2D3c5w-");
    }

    use super::*;

    #[test]
    fn uid_sets_are_compact_ranges() {
        assert_eq!(uid_sets(&[5, 6, 7, 8, 9, 12]), vec!["5:9,12".to_string()]);
        assert_eq!(uid_sets(&[1, 3, 5]), vec!["1,3,5".to_string()]);
        assert_eq!(uid_sets(&[]), Vec::<String>::new());
        assert_eq!(uid_sets(&[u32::MAX]), vec![u32::MAX.to_string()]);
    }

    #[test]
    fn uid_sets_are_read_back() {
        assert_eq!(set_uids("5:9,12"), vec![5, 6, 7, 8, 9, 12]);
        assert_eq!(set_uids("3"), vec![3]);
    }

    #[test]
    fn long_uid_sets_are_split() {
        let sparse: Vec<u32> = (0..5000).map(|i| 1_000_000 + i * 2).collect();
        let sets = uid_sets(&sparse);
        assert!(sets.len() > 1);
        assert!(sets.iter().all(|s| s.len() <= MAX_UID_SET_CHARS));
        let count: usize = sets.iter().map(|s| s.split(',').count()).sum();
        assert_eq!(count, sparse.len());
    }

    #[test]
    fn loopback_hosts() {
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
        ] {
            assert!(is_loopback_host(host), "{host}");
        }
        for host in [
            "imap.example.com",
            "10.0.0.1",
            "localhost.example.com",
            "::2",
        ] {
            assert!(!is_loopback_host(host), "{host}");
        }
    }

    #[test]
    fn capabilities_are_read_from_untagged_lines() {
        let answer = b"* CAPABILITY IMAP4rev1 UIDPLUS MOVE AUTH=PLAIN\r\n";
        assert_eq!(
            parse_capabilities(answer),
            vec!["IMAP4rev1", "UIDPLUS", "MOVE", "AUTH=PLAIN"]
        );
    }

    #[test]
    fn first_uid_reads_both_member_shapes() {
        #[derive(Debug)]
        #[allow(dead_code)]
        enum Member {
            Uid(u32),
            UidRange(std::ops::RangeInclusive<u32>),
        }
        assert_eq!(first_uid(&Member::Uid(7)), Some(7));
        assert_eq!(first_uid(&Member::UidRange(12..=15)), Some(12));
    }

    #[test]
    fn auth_debug_masks_the_secret() {
        let password = Auth::Password {
            user: "fbl@example.com".into(),
            password: "hunter2".into(),
        };
        let token = Auth::XOAuth2 {
            user: "fbl@example.com".into(),
            access_token: "ya29.secret".into(),
        };
        let shown = format!("{password:?} {token:?}");
        assert!(shown.contains("fbl@example.com"));
        assert!(!shown.contains("hunter2"));
        assert!(!shown.contains("ya29"));
    }

    #[test]
    fn xoauth2_answers_the_error_challenge_with_an_empty_line() {
        use imap::Authenticator;
        let sasl = XOAuth2Sasl {
            user: "u@example.com",
            access_token: "tok",
            rounds: RefCell::new(0),
            error_details: RefCell::new(None),
        };
        assert_eq!(
            sasl.process(b""),
            b"user=u@example.com\x01auth=Bearer tok\x01\x01".to_vec()
        );
        assert_eq!(sasl.process(br#"{"status":"401"}"#), Vec::<u8>::new());
        assert_eq!(
            sasl.error_details.into_inner().as_deref(),
            Some(r#"{"status":"401"}"#)
        );
    }
}
