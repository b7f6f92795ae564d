//! The configuration file: one TOML document, unknown keys rejected so that a typo is an
//! error. Loading resolves relative paths against the file's folder. Secrets are read from
//! the environment or files only when used, and never printed (`fbl config` masks them).

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

mod report;
pub use report::{MAX_REPORT_DAYS, ReportConfig, ReportOutputConfig};
mod snds;
pub use snds::{SNDS_HISTORY_DAYS, SndsApiConfig, SndsConfig, SndsLegacyConfig};

/// Everything fbl can be told. Every section is optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub store: StoreConfig,
    #[serde(default)]
    pub attribution: AttributionConfig,
    #[serde(default)]
    pub suppression: SuppressionConfig,
    #[serde(default)]
    pub send_log: SendLogConfig,
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Which reports may suppress anyone; absent means every parsed report may.
    pub trust: Option<crate::trust::TrustConfig>,
    /// IMAP feedback mailboxes polled by `fbl run`.
    #[serde(default, rename = "mailbox")]
    pub mailboxes: Vec<MailboxConfig>,
    /// Local inputs processed by `fbl run`: files, folders, Maildirs, mbox files.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Files written by `fbl export` without arguments and by every `fbl run`.
    #[serde(default, rename = "export")]
    pub exports: Vec<ExportConfig>,
    /// Complaint-rate thresholds, sending IPs and report files; absent means the defaults.
    pub report: Option<ReportConfig>,
    /// Microsoft SNDS, fetched by `fbl snds fetch` and by every `fbl run`.
    #[serde(default)]
    pub snds: Option<SndsConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite file; default `fbl.sqlite` beside the configuration file.
    pub path: Option<PathBuf>,
    /// A PostgreSQL store instead: `postgres://user@host:port/database`, with libpq's
    /// `sslmode` (disable, prefer, require, verify-ca, verify-full) and `sslrootcert`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Environment variable holding the PostgreSQL password (when the URL has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_env: Option<String>,
    /// File holding the PostgreSQL password (first line; keep it 0600).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// Extra trust root (PEM) for the PostgreSQL server's certificate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

impl StoreConfig {
    /// The PostgreSQL store the section names, if it names one.
    pub fn postgres(&self) -> Option<crate::store::PostgresConfig> {
        self.url.as_ref().map(|url| crate::store::PostgresConfig {
            url: url.clone(),
            password_env: self.password_env.clone(),
            password_file: self.password_file.clone(),
            ca_file: self.ca_file.clone(),
        })
    }
}

/// A way of finding the complainant, tried in the configured order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    OriginalRcptTo,
    JmrpOriginalRecipient,
    Header,
    Token,
    Verp,
    CfblFeedbackId,
    SendLog,
    XApparentlyTo,
    DeliveredTo,
    To,
}

pub const DEFAULT_STRATEGY_ORDER: [Strategy; 10] = [
    Strategy::OriginalRcptTo,
    Strategy::JmrpOriginalRecipient,
    Strategy::Token,
    Strategy::Header,
    Strategy::Verp,
    Strategy::CfblFeedbackId,
    Strategy::SendLog,
    Strategy::XApparentlyTo,
    Strategy::DeliveredTo,
    Strategy::To,
];

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AttributionConfig {
    /// Strategies in order of trust; the first that yields an address wins.
    #[serde(default = "default_order")]
    pub order: Vec<Strategy>,
    /// Headers the sender puts into its own mail.
    #[serde(default)]
    pub header: Vec<HeaderIdentifierConfig>,
    /// VERP Return-Path templates with `{local}`/`{domain}`, `{id}` or `{token}`.
    #[serde(default)]
    pub verp: Vec<String>,
    /// The HMAC secret that signs tokens (`value = "token"` headers and `{token}` VERP).
    #[serde(default)]
    pub token: Option<SecretConfig>,
    /// The addresses of your `List-Unsubscribe: <mailto:...>` links: a literal address, or a
    /// template like `verp`'s (`unsubscribe+{token}@lists.example.com`). A message sent to
    /// one is an unsubscribe request; the template's token or id, else its sender, names
    /// who asks. A complaint whose attached `List-Unsubscribe` holds such a mailto link is
    /// attributed by its token (`token`) or id (`verp`) too.
    #[serde(default)]
    pub unsubscribe_addresses: Vec<String>,
    /// Templates of the https links of your `List-Unsubscribe` headers that carry a signed
    /// token: `https://example.com/u/{token}`, `https://example.com/unsubscribe?t={token}`.
    /// A report whose attached headers hold such a link names whom the token names (`token`).
    #[serde(default)]
    pub unsubscribe_urls: Vec<String>,
    /// The domains whose addresses are the sender's own (a subdomain of one too): never
    /// suppressed by a complaint or an unsubscribe request. Left out, the domains of
    /// `unsubscribe_addresses` and `verp` (a public mailbox provider's, as gmail.com, only
    /// for that one address). The mailboxes' `user` addresses are always the sender's own.
    #[serde(default)]
    pub own_domains: Option<Vec<String>>,
}

fn default_order() -> Vec<Strategy> {
    DEFAULT_STRATEGY_ORDER.to_vec()
}

impl Default for AttributionConfig {
    fn default() -> Self {
        AttributionConfig {
            order: default_order(),
            header: Vec::new(),
            verp: Vec::new(),
            token: None,
            unsubscribe_addresses: Vec::new(),
            unsubscribe_urls: Vec::new(),
            own_domains: None,
        }
    }
}

/// What a sender's own header holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HeaderValueKind {
    Address,
    Id,
    /// Base64 of a JSON object (KumoMTA's `X-KumoRef`); `json_field` names the member.
    Base64Json,
    /// A signed token (see `[attribution.token]`).
    Token,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HeaderIdentifierConfig {
    pub name: String,
    pub value: HeaderValueKind,
    /// For `base64_json`: the member holding an address (or an id when it has no `@`).
    pub json_field: Option<String>,
}

/// A secret given inline, by environment variable or by file (first one set wins).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SecretConfig {
    pub secret: Option<String>,
    pub secret_env: Option<String>,
    pub secret_file: Option<PathBuf>,
}

impl SecretConfig {
    /// Reads the secret. The error names where it looked, never the value. An empty secret
    /// is refused: an HMAC under an empty key is one anyone can compute, and an empty
    /// variable or a truncated file after a deploy would turn the check off silently.
    pub fn resolve(&self) -> Result<Vec<u8>> {
        let (value, origin) = if let Some(secret) = &self.secret {
            (secret.as_bytes().to_vec(), "secret".to_string())
        } else if let Some(name) = &self.secret_env {
            let value = match std::env::var(name) {
                Ok(value) => value,
                Err(std::env::VarError::NotPresent) => {
                    return Err(unset_variable(name, "secret_env", "secret_file"));
                }
                Err(std::env::VarError::NotUnicode(_)) => {
                    bail!("environment variable {name} is not valid UTF-8")
                }
            };
            (
                value.trim_end_matches(['\r', '\n']).as_bytes().to_vec(),
                format!("environment variable {name}"),
            )
        } else if let Some(path) = &self.secret_file {
            let mut value = std::fs::read(path)
                .with_context(|| format!("cannot read secret file {}", path.display()))?;
            while value.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                value.pop();
            }
            (value, format!("secret file {}", path.display()))
        } else {
            bail!("no secret given: set one of secret, secret_env or secret_file")
        };
        if value.iter().all(u8::is_ascii_whitespace) {
            bail!(
                "the secret from {origin} is empty: a signature under an empty key is one \
                 anyone can make; give the secret"
            );
        }
        Ok(value)
    }

    /// Exactly one of the three ways must be given: with two, which one is used would be a
    /// guess the reader of the configuration cannot see.
    pub(crate) fn check(&self, label: &str) -> Result<()> {
        let given = [
            self.secret.is_some(),
            self.secret_env.is_some(),
            self.secret_file.is_some(),
        ]
        .iter()
        .filter(|given| **given)
        .count();
        if given != 1 {
            bail!("{label}: give exactly one of secret, secret_env or secret_file");
        }
        // Known without reading anything: said by `fbl config` too, not only at first use.
        if self
            .secret
            .as_ref()
            .is_some_and(|secret| secret.bytes().all(|b| b.is_ascii_whitespace()))
        {
            bail!(
                "{label}: secret is empty: anyone can make what an empty secret signs or \
                 proves; give the secret"
            );
        }
        Ok(())
    }

    fn masked(&self) -> SecretConfig {
        SecretConfig {
            secret: self.secret.as_ref().map(|_| "********".to_string()),
            ..self.clone()
        }
    }
}

/// What to do with each kind of report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Add the complainant to the suppression list.
    Suppress,
    /// Keep the report, suppress nobody.
    Record,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SuppressionConfig {
    #[serde(default = "suppress")]
    pub complaint: Action,
    #[serde(default = "suppress")]
    pub unsubscribe: Action,
    /// Expiry in days per reason (`complaint`, `unsubscribe`, `manual`, `import`); absent = never.
    #[serde(default)]
    pub expire_after_days: std::collections::BTreeMap<String, u32>,
}

fn suppress() -> Action {
    Action::Suppress
}

impl Default for SuppressionConfig {
    fn default() -> Self {
        SuppressionConfig {
            complaint: Action::Suppress,
            unsubscribe: Action::Suppress,
            expire_after_days: Default::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SendLogConfig {
    /// Entries older than this are pruned on import and on `fbl run`.
    #[serde(default = "default_retention")]
    pub retention_days: u32,
    /// Logs `fbl run` imports before reading reports (idempotent, so a growing or rotated
    /// log can be named every time).
    #[serde(default, rename = "import")]
    pub imports: Vec<SendLogImportConfig>,
    /// The name `fbl run` keeps the `import` positions under, instead of the machine's
    /// (`gethostname`): for a container that gets a new name at every start, which would
    /// read its logs from their start every time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
}

impl SendLogConfig {
    /// The host name send-log positions are kept under (see `host`).
    pub fn position_host(&self) -> String {
        match self.host.as_deref().map(str::trim) {
            Some(host) if !host.is_empty() => host.to_string(),
            _ => crate::run::host_name(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SendLogImportConfig {
    pub path: PathBuf,
    pub format: crate::sendlog::SendLogFormat,
}

fn default_retention() -> u32 {
    120
}

impl Default for SendLogConfig {
    fn default() -> Self {
        SendLogConfig {
            retention_days: default_retention(),
            imports: Vec::new(),
            host: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Messages bigger than this are quarantined without being parsed.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: u64,
}

fn default_max_message_bytes() -> u64 {
    25 * 1024 * 1024
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_message_bytes: default_max_message_bytes(),
        }
    }
}

/// How to reach an IMAP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailboxSecurity {
    /// TLS from the first byte (port 993).
    Tls,
    /// Plain connection upgraded with STARTTLS (port 143).
    Starttls,
    /// No encryption: refused unless the host is loopback.
    Plain,
}

impl MailboxSecurity {
    /// As the configuration writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            MailboxSecurity::Tls => "tls",
            MailboxSecurity::Starttls => "starttls",
            MailboxSecurity::Plain => "plain",
        }
    }
}

/// How fbl logs in to a mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MailboxAuth {
    Password,
    /// SASL XOAUTH2 with a bearer token (Microsoft 365, Outlook.com, Gmail).
    Xoauth2,
}

/// What happens to a message in the mailbox once its report is safely stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAction {
    Keep,
    Seen,
    Move(String),
    Delete,
}

impl AfterAction {
    pub fn parse(text: &str) -> Result<AfterAction, String> {
        match text {
            "keep" => Ok(AfterAction::Keep),
            "seen" => Ok(AfterAction::Seen),
            "delete" => Ok(AfterAction::Delete),
            _ => match text.strip_prefix("move:") {
                Some(folder) if !folder.trim().is_empty() => {
                    Ok(AfterAction::Move(folder.trim().to_string()))
                }
                _ => Err(format!(
                    "after = {text:?} is not one of keep, seen, move:FOLDER, delete"
                )),
            },
        }
    }

    pub fn as_string(&self) -> String {
        match self {
            AfterAction::Keep => "keep".to_string(),
            AfterAction::Seen => "seen".to_string(),
            AfterAction::Move(folder) => format!("move:{folder}"),
            AfterAction::Delete => "delete".to_string(),
        }
    }
}

/// One IMAP feedback mailbox.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxConfig {
    pub name: String,
    pub host: String,
    /// Default 993 with `tls`, 143 otherwise.
    pub port: Option<u16>,
    #[serde(default = "default_security")]
    pub security: MailboxSecurity,
    /// Extra trust roots (PEM), added to the system's. Verification is always on.
    pub ca_file: Option<PathBuf>,
    pub user: String,
    #[serde(default = "default_auth")]
    pub auth: MailboxAuth,
    /// Password: one of password_env, password_file, password_command.
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    /// A command whose standard output is the password (as mail clients do).
    pub password_command: Option<String>,
    /// XOAUTH2: a command whose standard output is a bearer token.
    pub token_command: Option<String>,
    /// XOAUTH2: fbl's own refresh-token flow.
    pub oauth: Option<MailboxOAuthConfig>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    #[serde(default = "default_read_timeout")]
    pub read_timeout_secs: u64,
    #[serde(default = "default_folders")]
    pub folders: Vec<String>,
    /// keep, seen, move:FOLDER or delete; applied only after the report is committed.
    #[serde(default = "default_after")]
    pub after: String,
    /// Where messages that could not be processed go (never deleted). Absent: left in place.
    pub quarantine_folder: Option<String>,
    /// Messages fetched per round trip.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Only messages received on or after this day (YYYY-MM-DD), for a first run on a
    /// large old mailbox.
    #[serde(default, deserialize_with = "date_quoted_or_not")]
    pub since: Option<chrono::NaiveDate>,
    /// At most this many messages per folder and run.
    pub limit: Option<usize>,
    /// The configuration file's folder, where `password_command` and `token_command` run,
    /// so that a relative path in them means what every other relative path in the file
    /// means (cron's own folder is `$HOME`). Not a setting.
    #[serde(skip)]
    pub command_dir: Option<PathBuf>,
}

/// Whether two IMAP folder names are the same folder: `INBOX` in any case (RFC 3501), other
/// names exactly.
fn same_folder(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case("INBOX") {
        b.eq_ignore_ascii_case("INBOX")
    } else {
        a == b
    }
}

fn default_security() -> MailboxSecurity {
    MailboxSecurity::Tls
}
fn default_auth() -> MailboxAuth {
    MailboxAuth::Password
}
/// A day written as TOML writes one (`since = 2026-01-01`) or quoted (`"2026-01-01"`).
fn date_quoted_or_not<'de, D>(deserializer: D) -> Result<Option<chrono::NaiveDate>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Day {
        Text(String),
        Toml(toml::value::Datetime),
    }
    let text = match Day::deserialize(deserializer)? {
        Day::Text(text) => text,
        Day::Toml(datetime) if datetime.time.is_none() && datetime.offset.is_none() => {
            datetime.to_string()
        }
        Day::Toml(datetime) => {
            return Err(serde::de::Error::custom(format!(
                "{datetime} is a time; give a day, YYYY-MM-DD"
            )));
        }
    };
    chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("{text:?} is not a day, YYYY-MM-DD")))
}

fn default_connect_timeout() -> u64 {
    15
}
fn default_read_timeout() -> u64 {
    60
}
fn default_folders() -> Vec<String> {
    vec!["INBOX".to_string()]
}
fn default_after() -> String {
    "seen".to_string()
}
fn default_batch_size() -> usize {
    200
}

/// fbl's own OAuth 2.0 refresh-token flow for XOAUTH2.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MailboxOAuthConfig {
    pub token_url: String,
    /// For `fbl mailbox login`: the authorization endpoint (code flow with PKCE).
    pub authorize_url: Option<String>,
    /// For `fbl mailbox login --device-code`.
    pub device_code_url: Option<String>,
    pub client_id: String,
    /// Confidential clients only.
    pub client_secret: Option<SecretConfig>,
    pub scopes: Vec<String>,
    /// Where the refresh token lives (mode 0600), rotated when the server sends a new one.
    pub refresh_token_file: PathBuf,
}

impl MailboxConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.security {
            MailboxSecurity::Tls => 993,
            _ => 143,
        })
    }

    pub fn after_action(&self) -> AfterAction {
        AfterAction::parse(&self.after).expect("checked when the configuration was loaded")
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    /// A file, a folder of `.eml` files, a Maildir or an mbox file.
    pub path: PathBuf,
    /// What `fbl run` does with a message file once the store keeps it: `keep` (read again,
    /// and skipped as stored, at every run), `delete`, or `move:FOLDER`. Not for an mbox.
    #[serde(default = "default_source_after")]
    pub after: String,
}

fn default_source_after() -> String {
    "keep".to_string()
}

/// What `fbl run` does with a source's message file once the store keeps its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceAfter {
    Keep,
    Delete,
    /// Into this folder (its `cur/` when it is a Maildir), under the same name.
    Move(PathBuf),
}

impl SourceAfter {
    pub fn parse(text: &str) -> Result<SourceAfter, String> {
        match text {
            "keep" => Ok(SourceAfter::Keep),
            "delete" => Ok(SourceAfter::Delete),
            _ => match text.strip_prefix("move:") {
                Some(folder) if !folder.trim().is_empty() => {
                    Ok(SourceAfter::Move(PathBuf::from(folder.trim())))
                }
                _ => Err(format!(
                    "after = {text:?} is not one of keep, delete, move:FOLDER"
                )),
            },
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExportConfig {
    pub format: crate::export::ExportFormat,
    pub path: PathBuf,
    /// Write addresses as lowercase SHA-256 hex.
    #[serde(default)]
    pub hash: Option<crate::export::AddressHash>,
    /// Also write the addresses removed from the list to this file, in the same format.
    pub removed_path: Option<PathBuf>,
}

/// A TOML error, without the text of its line and with the values it quotes masked when the
/// line may hold a secret (a key on it names a password, secret, token, key or URL, as
/// `password = "..."` written where fbl takes no password does) or may be a line of a
/// multi-line string: the error reaches cron's mail. Other errors are shown whole, with
/// their line.
fn toml_error(error: &toml::de::Error, text: &str) -> anyhow::Error {
    let Some(span) = error.span() else {
        return anyhow::anyhow!("{}", error.message().trim());
    };
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |at| at + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |at| start + at);
    // Every key of the line, an inline table's too (`oauth = { client_secret = ... }`).
    let line = text[line_start..line_end].to_ascii_lowercase();
    // A line at or after the start of a multi-line string (`"""` or `'''`) may be one of its
    // lines, which do not name its key (`password = """` is a line above), or the string is
    // not closed and the error is at the end of the file. Such strings are rare in a
    // configuration: every line from the first one's start on is taken as a secret's.
    let before = &text[..line_end];
    let in_multi_line_string = before.contains("\"\"\"") || before.contains("'''");
    let secret_like = in_multi_line_string
        || ["pass", "secret", "token", "key", "url", "credential"]
            .iter()
            .any(|word| line.contains(word));
    if !secret_like {
        return anyhow::anyhow!("{error}");
    }
    let mut message = String::new();
    let mut quoted = false;
    for part in error.message().trim().split('"') {
        if quoted {
            message.push_str("\"***\"");
        } else {
            message.push_str(part);
        }
        quoted = !quoted;
    }
    let message = message.replace('\n', "; ");
    let line = text[..start].matches('\n').count() + 1;
    let column = start - line_start + 1;
    anyhow::anyhow!(
        "line {line}, column {column}: {message} (the line is not shown, as it may hold a secret)"
    )
}

impl Config {
    /// Reads and checks a configuration file. As root, one naming a secret file or a command
    /// program another user could change is refused ([`Config::secret_file_refusal`]).
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| {
            // A relative path is read from the working folder, which under cron is the home
            // folder (or `/`), not where the file was written: say which folder that was.
            let from = if path.is_relative() {
                std::env::current_dir()
                    .map(|dir| {
                        format!(
                            " (a relative path, read from the working folder {}: give the full path under cron)",
                            dir.display()
                        )
                    })
                    .unwrap_or_default()
            } else {
                String::new()
            };
            format!("cannot read configuration file {}{from}", path.display())
        })?;
        let mut config = Config::from_toml(&text)
            .with_context(|| format!("invalid configuration file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        config
            .check_export_paths(path)
            .with_context(|| format!("invalid configuration file {}", path.display()))?;
        if let Some(refusal) = config.secret_file_refusal(crate::atomic_file::euid()) {
            bail!("{refusal}");
        }
        Ok(config)
    }

    /// Refuses `[[export]]` and `[[report.output]]` files that would overwrite the store this
    /// file names, the file itself, or one another.
    fn check_export_paths(&self, config_path: &Path) -> Result<()> {
        let store = match (&self.store.url, &self.store.path) {
            (Some(_), _) => None,
            (None, Some(path)) => Some(path.clone()),
            (None, None) => Some(
                config_path
                    .parent()
                    .unwrap_or(Path::new("."))
                    .join("fbl.sqlite"),
            ),
        };
        for (name, path) in self.run_outputs() {
            // `-` is standard output for `--output` only: here it would be a file named `-`
            // beside this file, which no reader looks for.
            if path.file_name() == Some(std::ffi::OsStr::new("-")) {
                bail!(
                    "{name} is \"-\": a configured output is a file (standard output is for \
                     `fbl export --output -` and `fbl report --output -`); name a file"
                );
            }
        }
        check_output_paths(&self.run_outputs(), store.as_deref(), Some(config_path))
    }

    /// Every file an `fbl run` writes: the `[[export]]` files, then the `[[report.output]]`
    /// files, named for messages.
    pub fn run_outputs(&self) -> Vec<(String, PathBuf)> {
        let mut outputs = self.export_outputs();
        let reports = self.report.iter().flat_map(|report| &report.outputs);
        for (index, output) in reports.enumerate() {
            let number = index + 1;
            outputs.push((
                format!("[[report.output]] {number} path"),
                output.path.clone(),
            ));
        }
        outputs
    }

    /// Every file the `[[export]]` entries write, named for messages.
    pub fn export_outputs(&self) -> Vec<(String, PathBuf)> {
        let mut outputs = Vec::new();
        for (index, export) in self.exports.iter().enumerate() {
            let number = index + 1;
            outputs.push((format!("[[export]] {number} path"), export.path.clone()));
            if let Some(removed) = &export.removed_path {
                outputs.push((format!("[[export]] {number} removed_path"), removed.clone()));
            }
        }
        outputs
    }

    /// When fbl runs as root (`euid` 0): why it must not read the configuration at `path`, if
    /// another user could have written what it says. Its `password_command` would run as
    /// root, and its `password_file` could name any file root may read, sent to a server
    /// that user chose. Such a user is one who owns the file, or a folder on its way
    /// (symbolic links followed or not), or one who may write to either (group or every
    /// user; a folder with the sticky bit, as `/tmp`, only lets them replace their own
    /// files). Not root: None, the file can do no more than its reader may.
    pub fn foreign_owner_refusal(path: &Path, euid: u32) -> Option<String> {
        if euid != 0 {
            return None;
        }
        foreign_path_refusal(
            path,
            &format!("the configuration file {}", path.display()),
            "fbl runs as root here, so whoever can change the file could make fbl run a \
             command (password_command) or send any file (password_file) as root",
        )
    }

    /// When fbl runs as root (`euid` 0): why it must not use the secret files this
    /// configuration names (`password_file`, `secret_file`, `refresh_token_file`, `key_file`,
    /// `access_url_file`, `token_file`), its CA files (`ca_file`), or the files its
    /// `password_command` and `token_command` run, if another user could change one, by the rule of
    /// [`Config::foreign_owner_refusal`]. Such a user could read the secret, or make the file
    /// a link to any file of root's, which fbl would use as the secret (or overwrite, for a
    /// token fbl keeps); a program of theirs would run as root. A file that does not exist is
    /// judged by its folders. Not root: None.
    pub fn secret_file_refusal(&self, euid: u32) -> Option<String> {
        if euid != 0 {
            return None;
        }
        let secret_risk = "fbl runs as root here, so whoever can change it could read the \
                           secret, or make it a link to any file of root's, which fbl would \
                           use as the secret";
        let command_risk = "fbl runs as root here, so whoever can change it could make fbl \
                            run any command as root";
        for (named, path) in self.secret_files() {
            let named = format!("the file {} ({named})", path.display());
            if let Some(refusal) = foreign_path_refusal(&path, &named, secret_risk) {
                return Some(refusal);
            }
        }
        // A CA file decides which server fbl sends the password, token or key to.
        let ca_risk = "fbl runs as root here, so whoever can change it could make fbl trust \
                       their own server and send it the password or token";
        let ca_files = [("[store] ca_file".to_string(), self.store.ca_file.as_ref())]
            .into_iter()
            .chain(self.mailboxes.iter().map(|mailbox| {
                (
                    format!("mailbox {} ca_file", mailbox.name),
                    mailbox.ca_file.as_ref(),
                )
            }))
            .chain(
                self.snds
                    .as_ref()
                    .map(|snds| ("[snds] ca_file".to_string(), snds.ca_file.as_ref())),
            );
        for (named, path) in ca_files {
            let Some(path) = path else { continue };
            let named = format!("the file {} ({named})", path.display());
            if let Some(refusal) = foreign_path_refusal(path, &named, ca_risk) {
                return Some(refusal);
            }
        }
        for mailbox in &self.mailboxes {
            let commands = [
                ("password_command", &mailbox.password_command),
                ("token_command", &mailbox.token_command),
            ];
            for (option, command) in commands {
                let Some(command) = command else { continue };
                for program in command_files(command, mailbox.command_dir.as_deref()) {
                    let named = format!(
                        "the file {} (run or read by mailbox {}'s {option})",
                        program.display(),
                        mailbox.name
                    );
                    if let Some(refusal) = foreign_path_refusal(&program, &named, command_risk) {
                        return Some(refusal);
                    }
                }
            }
        }
        None
    }

    /// Every secret file the configuration names, with the option that names it.
    fn secret_files(&self) -> Vec<(String, PathBuf)> {
        let mut files = Vec::new();
        let mut add = |named: String, path: Option<&PathBuf>| {
            if let Some(path) = path {
                files.push((named, path.clone()));
            }
        };
        add(
            "[store] password_file".to_string(),
            self.store.password_file.as_ref(),
        );
        add(
            "[attribution] token secret_file".to_string(),
            self.attribution
                .token
                .as_ref()
                .and_then(|t| t.secret_file.as_ref()),
        );
        for mailbox in &self.mailboxes {
            let name = &mailbox.name;
            add(
                format!("mailbox {name} password_file"),
                mailbox.password_file.as_ref(),
            );
            if let Some(oauth) = &mailbox.oauth {
                add(
                    format!("mailbox {name} refresh_token_file"),
                    Some(&oauth.refresh_token_file),
                );
                add(
                    format!("mailbox {name} client_secret secret_file"),
                    oauth
                        .client_secret
                        .as_ref()
                        .and_then(|s| s.secret_file.as_ref()),
                );
            }
        }
        if let Some(snds) = &self.snds {
            for account in &snds.legacy {
                let name = &account.name;
                add(
                    format!("snds legacy account {name} key_file"),
                    account.key_file.as_ref(),
                );
                add(
                    format!("snds legacy account {name} access_url_file"),
                    account.access_url_file.as_ref(),
                );
            }
            if let Some(api) = &snds.api {
                add("snds api token_file".to_string(), api.token_file.as_ref());
                add(
                    "snds api client_secret secret_file".to_string(),
                    api.client_secret
                        .as_ref()
                        .and_then(|s| s.secret_file.as_ref()),
                );
            }
        }
        files
    }

    /// A warning when a configuration file that holds a secret inline (or a command that may
    /// print one) can be read by every user of the machine.
    pub fn permission_warning(&self, path: &Path) -> Option<String> {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode();
        if mode & 0o004 == 0 {
            return None;
        }
        // A command that reads the secret from elsewhere (`cat /etc/fbl/imap.pass`, `pass show
        // fbl`) holds none: warning of it at every cron run would only teach people to ignore
        // the warning. One that prints a literal (`echo ...`) holds it.
        let mut judged = self.clone();
        for mailbox in &mut judged.mailboxes {
            for command in [&mut mailbox.password_command, &mut mailbox.token_command] {
                if command.as_deref().is_some_and(|c| !prints_a_literal(c)) {
                    *command = None;
                }
            }
        }
        // JSON, not TOML: the same comparison at a tenth of the cost, paid by every command.
        let holds_secret =
            serde_json::to_vec(&judged).ok()? != serde_json::to_vec(&judged.masked()).ok()?;
        holds_secret.then(|| {
            format!(
                "warning: {} holds a secret and is readable by every user; chmod 600 (or 640) it",
                path.display()
            )
        })
    }

    /// Parses a configuration document and checks what serde cannot.
    pub fn from_toml(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text).map_err(|error| toml_error(&error, text))?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        // An empty path names nothing: said here, by its key, not as "cannot create store :".
        let mut paths: Vec<(String, &Path)> = Vec::new();
        if let Some(path) = &self.store.path {
            paths.push(("[store] path".to_string(), path));
        }
        for (i, source) in self.sources.iter().enumerate() {
            paths.push((format!("[[source]] {} path", i + 1), &source.path));
        }
        for (i, import) in self.send_log.imports.iter().enumerate() {
            paths.push((format!("[send_log] import {} path", i + 1), &import.path));
        }
        for (label, path) in self.export_outputs() {
            if path.as_os_str().is_empty() {
                bail!("{label} is empty: name a file");
            }
        }
        for (label, path) in paths {
            if path.as_os_str().is_empty() {
                bail!("{label} is empty: name a file");
            }
        }
        // Reasons are free text (`suppress add --reason`), so any key may be meant; but one
        // a letter or a case away from fbl's own reasons is a typo that would leave the list
        // never expiring, silently.
        const REASONS: [&str; 5] = crate::suppression::KNOWN_REASONS;
        if let Some((reason, _)) = self
            .suppression
            .expire_after_days
            .iter()
            .find(|(_, days)| **days == 0)
        {
            bail!(
                "[suppression] expire_after_days gives {reason:?} 0 days: every such entry would \
                 expire as it is made, and nobody would be suppressed; give a number of days, or \
                 leave {reason:?} out to keep its entries for good"
            );
        }
        for key in self.suppression.expire_after_days.keys() {
            // Reasons are compared without letter case: a key is written in lower case, so
            // that two keys never name one reason.
            if *key != key.to_lowercase() {
                bail!(
                    "[suppression] expire_after_days names {key:?}: write it in lower case, \
                     {:?} (reasons are compared without letter case)",
                    key.to_lowercase()
                );
            }
            let near = REASONS.iter().find(|reason| {
                // (A key in capitals was refused above.)
                key != *reason
                    && (key.to_ascii_lowercase().trim_end_matches('s') == **reason
                        || [format!("{reason}d"), format!("{reason}ed")]
                            .contains(&key.to_ascii_lowercase())
                        // A typo (`unsubscibe`, `complaitn`): one or two letters off.
                        || edit_distance(&key.to_ascii_lowercase(), reason) <= 2)
            });
            if let Some(reason) = near {
                bail!(
                    "[suppression] expire_after_days names {key:?}, which no suppression has: \
                     write {reason:?} (fbl's reasons are complaint, unsubscribe, bounce, manual \
                     and import, or the one given to suppress add --reason)"
                );
            }
        }
        if self.send_log.retention_days == 0 {
            bail!(
                "[send_log] retention_days is 0: every entry would be pruned as it is imported, \
                 and no complaint carrying only an id or a Message-ID would be attributed; give \
                 a number of days (the default is {})",
                default_retention()
            );
        }
        if self.limits.max_message_bytes == 0 {
            bail!(
                "[limits] max_message_bytes is 0: every message would be quarantined unread; \
                 give a size in bytes (the default is {})",
                default_max_message_bytes()
            );
        }
        if self.attribution.order.is_empty() {
            bail!(
                "[attribution] order is empty: no complainant would ever be found; leave it out \
                 for the default order, or name the ways to try"
            );
        }
        if let Some(trust) = &self.trust
            && trust.authserv_id.trim().is_empty()
        {
            bail!(
                "[trust] authserv_id is empty: give the authserv-id your receiving server writes \
                 first in Authentication-Results (e.g. mx.example.com)"
            );
        }
        if self.store.password_env.is_some() && self.store.password_file.is_some() {
            bail!("[store] has both password_env and password_file: give one");
        }
        if let Some(url) = &self.store.url {
            if self.store.path.is_some() {
                bail!(
                    "[store] has both path and url: a store is a SQLite file or a PostgreSQL database, not both"
                );
            }
            if !crate::store::is_postgres_url(url) {
                bail!("[store] url must start with postgres:// (a SQLite store is given by path)");
            }
        } else if self.store.password_env.is_some()
            || self.store.password_file.is_some()
            || self.store.ca_file.is_some()
        {
            bail!(
                "[store] password_env, password_file and ca_file are for a PostgreSQL store: set url"
            );
        }
        for template in &self.attribution.verp {
            crate::verp::VerpTemplate::parse(template).map_err(anyhow::Error::msg)?;
        }
        for address in &self.attribution.unsubscribe_addresses {
            if address.contains('{') {
                crate::verp::VerpTemplate::parse(address).map_err(anyhow::Error::msg)?;
            } else if crate::address::parse_typed(address).is_err() {
                bail!(
                    "[attribution] unsubscribe_addresses: {address:?} is neither an address nor a \
                     template"
                );
            }
        }
        for template in &self.attribution.unsubscribe_urls {
            crate::attribution::UnsubscribeUrl::parse(template).map_err(anyhow::Error::msg)?;
        }
        for domain in self.attribution.own_domains.iter().flatten() {
            let domain = domain.trim().trim_end_matches('.');
            let valid = !domain.contains('@')
                && crate::address::canonical_domain(domain)
                    .is_ok_and(|d| crate::address::check_canonical_domain(&d).is_ok());
            if !valid {
                bail!(
                    "[attribution] own_domains: {domain:?} is not a domain; give domains like \
                     \"example.com\" (their subdomains are included)"
                );
            }
        }
        for header in &self.attribution.header {
            if header.value == HeaderValueKind::Base64Json && header.json_field.is_none() {
                bail!(
                    "attribution header {} has value = \"base64_json\" but no json_field",
                    header.name
                );
            }
        }
        let uses_token = self
            .attribution
            .header
            .iter()
            .any(|h| h.value == HeaderValueKind::Token)
            || self
                .attribution
                .verp
                .iter()
                .chain(&self.attribution.unsubscribe_addresses)
                .chain(&self.attribution.unsubscribe_urls)
                .any(|t| t.contains("{token}"));
        if uses_token && self.attribution.token.is_none() {
            bail!("attribution uses signed tokens but [attribution.token] gives no secret");
        }
        if let Some(token) = &self.attribution.token {
            token.check("[attribution.token]")?;
        }
        let mut mailbox_names = std::collections::BTreeSet::new();
        for mailbox in &self.mailboxes {
            let name = &mailbox.name;
            if !mailbox_names.insert(name) {
                bail!("two [[mailbox]] entries are named {name:?}");
            }
            // A mailbox's messages are kept as `imap:NAME/FOLDER;...`: a `/` in the name would
            // make one mailbox's rows look like another's.
            if name.is_empty() || name.contains(['/', ';']) || name.chars().any(char::is_control) {
                bail!(
                    "mailbox {name:?}: a mailbox name must not be empty nor hold a `/`, a `;` or \
                     a control character"
                );
            }
            let after = AfterAction::parse(&mailbox.after)
                .map_err(|e| anyhow::anyhow!("mailbox {name}: {e}"))?;
            if mailbox.batch_size == 0 {
                bail!("mailbox {name}: batch_size must be at least 1");
            }
            if mailbox.folders.is_empty() {
                bail!("mailbox {name}: folders is empty");
            }
            // A message moved into a folder that is polled gets a new UID there, and would be
            // fetched and moved again on every run.
            let after_label = format!("after = {:?}", mailbox.after);
            let moved_to = [
                (
                    after_label.as_str(),
                    if let AfterAction::Move(f) = &after {
                        Some(f)
                    } else {
                        None
                    },
                ),
                ("quarantine_folder", mailbox.quarantine_folder.as_ref()),
            ];
            // IMAP names folders in modified UTF-7 (RFC 3501, 5.1.3); fbl sends names as
            // written, and a server refuses UTF-8 ("not valid mUTF-7") only once a run has
            // stored the reports and tries to move them. The name to write is given.
            let named = mailbox
                .folders
                .iter()
                .map(|f| ("folders", f))
                .chain(moved_to.iter().filter_map(|(s, f)| f.map(|f| (*s, f))));
            for (setting, folder) in named {
                if !folder.is_ascii() {
                    bail!(
                        "mailbox {name}: {setting} names the folder {folder:?}; IMAP names it \
                         in modified UTF-7: write {:?}",
                        crate::imap_client::modified_utf7(folder)
                    );
                }
            }
            for (setting, target) in moved_to {
                if let Some(target) = target
                    && mailbox.folders.iter().any(|f| same_folder(f, target))
                {
                    bail!(
                        "mailbox {name}: {setting} moves messages into {target:?}, which is also in \
                         folders: they would be fetched and moved again on every run"
                    );
                }
            }
            // Refused when connecting too; said here so that `fbl config` and every command
            // find it at once, as a configuration error (exit 2), not a run's failure.
            if mailbox.security == MailboxSecurity::Plain
                && !crate::imap_client::is_loopback_host(&mailbox.host)
            {
                bail!(
                    "mailbox {name}: security = \"plain\" would send the password unencrypted \
                     to {}; it is for loopback only: use \"tls\" or \"starttls\"",
                    mailbox.host
                );
            }
            if let Some(oauth) = &mailbox.oauth {
                check_oauth_endpoints(
                    &format!("mailbox {name}: [mailbox.oauth]"),
                    [
                        ("token_url", Some(&oauth.token_url)),
                        ("authorize_url", oauth.authorize_url.as_ref()),
                        ("device_code_url", oauth.device_code_url.as_ref()),
                    ],
                )?;
            }
            if mailbox.port == Some(0) {
                bail!("mailbox {name}: port 0 is no port (leave it out for the default)");
            }
            if mailbox.limit == Some(0) {
                bail!("mailbox {name}: limit must be at least 1 (leave it out for no limit)");
            }
            for (setting, seconds) in [
                ("connect_timeout_secs", mailbox.connect_timeout_secs),
                ("read_timeout_secs", mailbox.read_timeout_secs),
            ] {
                if seconds == 0 {
                    bail!("mailbox {name}: {setting} must be at least 1");
                }
            }
            let password_sources = [
                mailbox.password_env.is_some(),
                mailbox.password_file.is_some(),
                mailbox.password_command.is_some(),
            ]
            .iter()
            .filter(|s| **s)
            .count();
            if let Some(secret) = mailbox
                .oauth
                .as_ref()
                .and_then(|o| o.client_secret.as_ref())
            {
                secret.check(&format!("mailbox {name}: [mailbox.oauth] client_secret"))?;
            }
            match mailbox.auth {
                MailboxAuth::Password if password_sources != 1 => bail!(
                    "mailbox {name}: give exactly one of password_env, password_file, password_command"
                ),
                MailboxAuth::Xoauth2
                    if mailbox.token_command.is_some() == mailbox.oauth.is_some() =>
                {
                    bail!(
                        "mailbox {name}: auth = \"xoauth2\" needs exactly one of token_command or [mailbox.oauth]"
                    )
                }
                _ => {}
            }
        }
        if let Some(report) = &self.report {
            report.check()?;
        }
        for (index, export) in self.exports.iter().enumerate() {
            let options = crate::export::ExportOptions { hash: export.hash };
            options
                .check(export.format)
                .with_context(|| format!("[[export]] {} ({})", index + 1, export.path.display()))?;
        }
        let mut names = std::collections::BTreeSet::new();
        for source in &self.sources {
            if !names.insert(&source.name) {
                bail!("two [[source]] entries are named {:?}", source.name);
            }
            SourceAfter::parse(&source.after)
                .map_err(|why| anyhow::anyhow!("[[source]] {:?}: {why}", source.name))?;
        }
        if let Some(snds) = &self.snds {
            snds.check()?;
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for path in [
            self.store.path.as_mut(),
            self.store.password_file.as_mut(),
            self.store.ca_file.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            join(path);
        }
        for source in &mut self.sources {
            join(&mut source.path);
            if let Some(folder) = source.after.strip_prefix("move:") {
                let folder = Path::new(folder.trim());
                if folder.is_relative() {
                    source.after = format!("move:{}", base.join(folder).display());
                }
            }
        }
        for import in &mut self.send_log.imports {
            join(&mut import.path);
        }
        for mailbox in &mut self.mailboxes {
            mailbox.command_dir = Some(base.to_path_buf());
            if let Some(path) = mailbox.ca_file.as_mut() {
                join(path);
            }
            if let Some(path) = mailbox.password_file.as_mut() {
                join(path);
            }
            if let Some(oauth) = mailbox.oauth.as_mut() {
                join(&mut oauth.refresh_token_file);
                if let Some(path) = oauth
                    .client_secret
                    .as_mut()
                    .and_then(|s| s.secret_file.as_mut())
                {
                    join(path);
                }
            }
        }
        for export in &mut self.exports {
            join(&mut export.path);
            if let Some(path) = export.removed_path.as_mut() {
                join(path);
            }
        }
        if let Some(token) = self.attribution.token.as_mut()
            && let Some(path) = token.secret_file.as_mut()
        {
            join(path);
        }
        for output in self.report.iter_mut().flat_map(|r| &mut r.outputs) {
            join(&mut output.path);
        }
        if let Some(snds) = self.snds.as_mut() {
            snds.resolve_paths(base);
        }
    }

    /// The same configuration with every inline secret replaced by asterisks.
    pub fn masked(&self) -> Config {
        let mut config = self.clone();
        if let Some(token) = config.attribution.token.as_mut() {
            *token = token.masked();
        }
        for mailbox in &mut config.mailboxes {
            if let Some(secret) = mailbox
                .oauth
                .as_mut()
                .and_then(|o| o.client_secret.as_mut())
            {
                *secret = secret.masked();
            }
            // Commands can hold a secret inline (`echo ...`): never printed.
            for command in [&mut mailbox.password_command, &mut mailbox.token_command] {
                if command.is_some() {
                    *command = Some("********".to_string());
                }
            }
        }
        if let Some(snds) = config.snds.as_mut() {
            *snds = snds.masked();
        }
        if let Some(store) = config.store.postgres() {
            config.store.url = Some(store.redacted());
        }
        config
    }
}

/// Refuses an OAuth endpoint that is not a URL, or plain http beyond loopback (tokens and
/// secrets would cross the network unencrypted); the client refuses it too when it is used.
pub(crate) fn check_oauth_endpoints<'a>(
    label: &str,
    endpoints: impl IntoIterator<Item = (&'a str, Option<&'a String>)>,
) -> Result<()> {
    for (key, endpoint) in endpoints {
        let Some(endpoint) = endpoint else { continue };
        let Ok(url) = url::Url::parse(endpoint) else {
            bail!("{label} {key} {endpoint:?} is not a URL");
        };
        if !crate::snds_client::encrypted_or_loopback(&url) {
            bail!(
                "{label} {key} {endpoint:?}: plain http would send tokens and secrets \
                 unencrypted; use https (http is for loopback only)"
            );
        }
    }
    Ok(())
}

/// Whether a shell command may print text written in it, a secret: every command but a
/// known secret reader (`cat FILE`, `pass show NAME`, `gpg --decrypt FILE`, `secret-tool
/// lookup ...`, `systemd-creds cat NAME`, a vault's client) called plainly, with no shell
/// syntax (`;`, `|`, `$`, quotes, redirections), no `NAME=VALUE` argument and no option that
/// takes a secret (`--passphrase x`, `--session=x`, ...). What is not
/// known to read elsewhere is taken to hold the secret: a warning too many is better than a
/// secret left readable.
fn prints_a_literal(command: &str) -> bool {
    const READERS: &[&str] = &[
        "cat",
        "head",
        "pass",
        "gopass",
        "gpg",
        "gpg2",
        "secret-tool",
        "systemd-creds",
        "op",
        "bw",
        "vault",
        "keyring",
        "doppler",
        "aws",
        "gcloud",
        "az",
    ];
    if command.contains(|c: char| ";|&$`<>(){}'\"\\*?!#".contains(c)) {
        return true;
    }
    let mut words = command.split_whitespace();
    let Some(program) = words.next() else {
        return true;
    };
    // Options that take a secret as their value (`--passphrase x`, `--session x`).
    const SECRET_OPTIONS: &[&str] = &[
        "passphrase",
        "password",
        "pass",
        "session",
        "token",
        "secret",
        "client-secret",
        "key",
        "p",
    ];
    let name = program.rsplit('/').next().unwrap_or(program);
    // `NAME=VALUE` is a literal; `-option=value` only for an option that takes a secret
    // (vault's `-field=password` names a field).
    let literal = |word: &str| match word.split_once('=') {
        Some((option, _)) if option.starts_with('-') => {
            SECRET_OPTIONS.contains(&option.trim_start_matches('-'))
        }
        Some(_) => true,
        None => SECRET_OPTIONS.contains(&word.trim_start_matches('-')) && word.starts_with('-'),
    };
    !READERS.contains(&name) || words.any(literal)
}

/// Refuses output files (each named for messages) of one invocation that would overwrite the
/// store (with its `-wal`, `-shm`, `-journal` and `.lock` files), the configuration file, or
/// one another. Paths are compared once their symbolic links are followed (and by file
/// identity where they exist), so `./a.csv`, `a.csv` and a link to it are one file, as are
/// `-o /dev/stdout` and `-o /dev/fd/1`.
pub fn check_output_paths(
    outputs: &[(String, PathBuf)],
    store: Option<&Path>,
    config: Option<&Path>,
) -> Result<()> {
    use crate::atomic_file::{OutputTarget, resolve_output};
    let resolve = |path: &Path| {
        resolve_output(path).with_context(|| format!("cannot resolve {}", path.display()))
    };
    let same = |a: &OutputTarget, b: &OutputTarget| -> bool {
        if a == b {
            return true;
        }
        match (a, b) {
            (OutputTarget::Path(a), OutputTarget::Path(b)) => same_file(a, b),
            _ => false,
        }
    };
    let mut protected: Vec<(String, OutputTarget)> = Vec::new();
    if let Some(store) = store {
        let resolved = resolve(store)?;
        if let OutputTarget::Path(base) = &resolved {
            for suffix in ["-wal", "-shm", "-journal", ".lock"] {
                let mut name = base.clone().into_os_string();
                name.push(suffix);
                protected.push((
                    format!("the store's {suffix} file of {}", store.display()),
                    OutputTarget::Path(PathBuf::from(name)),
                ));
            }
        }
        protected.insert(0, (format!("the store {}", store.display()), resolved));
    }
    if let Some(config) = config {
        protected.push((
            format!("the configuration file {}", config.display()),
            resolve(config)?,
        ));
    }
    let mut seen: Vec<(&str, &Path, OutputTarget)> = Vec::new();
    for (label, path) in outputs {
        let target = resolve(path)?;
        if let Some((what, _)) = protected.iter().find(|(_, p)| same(p, &target)) {
            bail!(
                "{label} {} is {what}: an output never overwrites it; give another path",
                path.display()
            );
        }
        // Writing twice to nothing loses nothing.
        let null = target == OutputTarget::Path(PathBuf::from("/dev/null"));
        if let Some((other, other_path, _)) =
            seen.iter().find(|(_, _, t)| !null && same(t, &target))
        {
            bail!(
                "{label} {} is the same file as {other} {}: each output needs a file of its own",
                path.display(),
                other_path.display()
            );
        }
        seen.push((label, path, target));
    }
    Ok(())
}

/// Whether two existing paths are one file (hard links, bind mounts).
#[cfg(unix)]
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_a: &Path, _b: &Path) -> bool {
    false
}

/// A secret's environment variable that is not set, saying what to do: cron starts fbl with
/// almost no variables, which is where this is met first.
pub fn unset_variable(name: &str, key: &str, file_key: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "environment variable {name} ({key}) is not set; cron sets almost none: give the \
         secret by file instead ({file_key}: readable by the user fbl runs as and nobody else; \
         for a service user, `chown root:GROUP` and `chmod 640`), or set the variable in the \
         crontab"
    )
}

/// The number of letters to insert, delete or replace to turn `a` into `b` (Levenshtein).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let replaced = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = replaced.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

/// Why root must not trust the file at `path` (`named` in the message, which says `risk`):
/// another user than root owns it, or a folder on its way (symbolic links followed or not),
/// or may write to either (group or every user; a folder with the sticky bit, as `/tmp`,
/// only lets them replace their own files). A name that does not exist is skipped, its
/// folders are not.
fn foreign_path_refusal(path: &Path, named: &str, risk: &str) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let absolute = std::path::absolute(path).ok()?;
    let real = std::fs::canonicalize(path).ok();
    // The file, then every folder above it, as named and as it really is.
    let mut paths: Vec<&Path> = vec![&absolute];
    paths.extend(absolute.ancestors().skip(1));
    if let Some(real) = &real {
        paths.push(real);
        paths.extend(real.ancestors().skip(1));
    }
    for (i, at) in paths.iter().enumerate() {
        // The file (as named or as it really is), or a folder.
        let is_file = i == 0 || real.as_deref() == Some(*at);
        let Ok(metadata) = std::fs::metadata(at) else {
            continue;
        };
        let what = if is_file {
            named.to_string()
        } else {
            format!("{}, a folder holding {named},", at.display())
        };
        if metadata.uid() != 0 {
            // A folder of another user's (a service user's store folder, say) is theirs to
            // keep: the file moves, not the folder's owner.
            // A file in a folder of another user's would only be refused again for its
            // folder once chowned: it must move.
            let folder_is_roots = at
                .parent()
                .and_then(|folder| std::fs::metadata(folder).ok())
                .is_some_and(|folder| folder.uid() == 0);
            let fix = if is_file && folder_is_roots {
                format!(
                    "Run `chown root {at}` and `chmod go-w {at}`",
                    at = at.display()
                )
            } else if is_file {
                format!(
                    "Move {at} to a folder of root's (such as /etc/fbl), then `chown root` and \
                     `chmod go-w` it",
                    at = path.display()
                )
            } else {
                format!(
                    "Move {} to a folder of root's (such as /etc/fbl), or `chown root {at}` \
                     and `chmod go-w {at}` if nothing of that user's needs it",
                    path.display(),
                    at = at.display()
                )
            };
            return Some(format!(
                "{what} is owned by {owner}, not root: {risk}. {fix}, or run fbl as {owner}",
                owner = crate::atomic_file::user_name(metadata.uid()),
            ));
        }
        let mode = metadata.mode();
        let sticky = !is_file && mode & 0o1000 != 0;
        if mode & 0o022 != 0 && !sticky {
            let who = if mode & 0o002 != 0 {
                "every user".to_string()
            } else {
                format!(
                    "the group {}",
                    crate::atomic_file::group_name(metadata.gid())
                )
            };
            return Some(format!(
                "{what} can be written by {who} (mode {:04o}): {risk}. Run `chmod go-w {}`",
                mode & 0o7777,
                at.display()
            ));
        }
    }
    None
}

/// The existing regular files a shell command names, as far as its words show them: its
/// program when it is a bare name found on `PATH`, and every word with a `/` (the program,
/// a script given to an interpreter, a file given to `cat`), relative ones from `dir`, where
/// the command runs. Words the shell would expand (`$HOME/x`, `~/x`) are not followed.
fn command_files(command: &str, dir: Option<&Path>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut first = true;
    for word in command.split(|c: char| c.is_whitespace() || ";|&<>()`".contains(c)) {
        let word = word.trim_matches(|c| c == '\'' || c == '"');
        if word.is_empty() {
            continue;
        }
        // `NAME=value` before the program sets a variable.
        let assignment = word.split_once('=').is_some_and(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        let path = if word.contains('/') {
            let path = Path::new(word);
            match dir {
                Some(dir) if path.is_relative() => dir.join(path),
                _ => path.to_path_buf(),
            }
        } else if first && !assignment {
            first = false;
            let found = std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|folder| folder.join(word))
                    .find(|candidate| candidate.is_file())
            });
            match found {
                Some(found) => found,
                None => continue,
            }
        } else {
            continue;
        };
        if !assignment {
            first = false;
        }
        if path.is_file() && !files.contains(&path) {
            files.push(path);
        }
    }
    files
}
