//! The configuration file: one TOML document, unknown keys rejected so that a typo is an
//! error. Loading resolves relative paths against the file's folder. Secrets are read from
//! the environment or files only when used, and never printed (`fbl config` masks them).

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    /// Local inputs processed by `fbl run`: files, folders, Maildirs, mbox files.
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Files written by `fbl export` without arguments and by every `fbl run`.
    #[serde(default, rename = "export")]
    pub exports: Vec<ExportConfig>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// SQLite file; default `fbl.sqlite` beside the configuration file.
    pub path: Option<PathBuf>,
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
    /// Reads the secret. The error names where it looked, never the value.
    pub fn resolve(&self) -> Result<Vec<u8>> {
        if let Some(secret) = &self.secret {
            return Ok(secret.as_bytes().to_vec());
        }
        if let Some(name) = &self.secret_env {
            let value = std::env::var(name)
                .with_context(|| format!("environment variable {name} is not set"))?;
            return Ok(value.trim_end_matches(['\r', '\n']).as_bytes().to_vec());
        }
        if let Some(path) = &self.secret_file {
            let mut value = std::fs::read(path)
                .with_context(|| format!("cannot read secret file {}", path.display()))?;
            while value.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                value.pop();
            }
            return Ok(value);
        }
        bail!("no secret given: set one of secret, secret_env or secret_file")
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

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub name: String,
    /// A file, a folder of `.eml` files, a Maildir or an mbox file.
    pub path: PathBuf,
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

impl Config {
    /// Reads and checks a configuration file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read configuration file {}", path.display()))?;
        let mut config = Config::from_toml(&text)
            .with_context(|| format!("invalid configuration file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        config.resolve_paths(base);
        Ok(config)
    }

    /// Parses a configuration document and checks what serde cannot.
    pub fn from_toml(text: &str) -> Result<Config> {
        let config: Config = toml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<()> {
        for template in &self.attribution.verp {
            crate::verp::VerpTemplate::parse(template).map_err(anyhow::Error::msg)?;
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
            || self.attribution.verp.iter().any(|t| t.contains("{token}"));
        if uses_token && self.attribution.token.is_none() {
            bail!("attribution uses signed tokens but [attribution.token] gives no secret");
        }
        let mut names = std::collections::BTreeSet::new();
        for source in &self.sources {
            if !names.insert(&source.name) {
                bail!("two [[source]] entries are named {:?}", source.name);
            }
        }
        Ok(())
    }

    fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(path) = self.store.path.as_mut() {
            join(path);
        }
        for source in &mut self.sources {
            join(&mut source.path);
        }
        for import in &mut self.send_log.imports {
            join(&mut import.path);
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
    }

    /// The same configuration with every inline secret replaced by asterisks.
    pub fn masked(&self) -> Config {
        let mut config = self.clone();
        if let Some(token) = config.attribution.token.as_mut() {
            *token = token.masked();
        }
        config
    }
}
