//! The `[snds]` section: the zone SNDS times are read in, the legacy accounts (a key from the
//! environment or a file, or the whole pasted automated-access URL), the new API's account,
//! timeouts and retries. Keys and tokens are read only when used and never printed.

use super::SecretConfig;
use crate::snds_client;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Microsoft SNDS, fetched by `fbl snds fetch` and by every `fbl run`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SndsConfig {
    /// The IANA zone SNDS times are read in (SNDS does not say which it writes).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Accounts of the legacy automated access (`data.aspx?key=...`), any number.
    #[serde(default)]
    pub legacy: Vec<SndsLegacyConfig>,
    /// The new SNDS REST API, with an OAuth login.
    pub api: Option<SndsApiConfig>,
    /// For a whole request, connection to last byte.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_secs: u64,
    /// Tries after the first on a 5xx answer or a network error; a 4xx is never retried.
    #[serde(default = "default_retries")]
    pub retries: u32,
    /// The wait before the first retry; it doubles for each further one (at most 30 s).
    #[serde(default = "default_retry_backoff")]
    pub retry_backoff_secs: u64,
    /// How many days back the first fetch of an account goes (SNDS keeps about 90).
    #[serde(default = "default_backfill_days")]
    pub backfill_days: u32,
    /// An account whose newest SNDS day is more than this many days before the run's day
    /// raises an alert, once per episode (SNDS lags a day or two; its IP authorisation lapsed
    /// or its key stopped working, it sends nothing more). 0 never alerts.
    #[serde(default = "default_stale_after_days")]
    pub stale_after_days: u32,
    /// Extra trust roots (PEM), added to the system's, for a server with a private CA.
    pub ca_file: Option<PathBuf>,
}

/// One legacy SNDS account. The key comes from exactly one of `key_env`, `key_file`,
/// `access_url_env`, `access_url_file`; a `file:` base needs none.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SndsLegacyConfig {
    /// The account's label in the store, in summaries and in errors.
    pub name: String,
    /// An environment variable holding the key.
    pub key_env: Option<String>,
    /// A file holding the key.
    pub key_file: Option<PathBuf>,
    /// An environment variable holding the whole automated-access URL (key and base).
    pub access_url_env: Option<String>,
    /// A file holding the whole automated-access URL.
    pub access_url_file: Option<PathBuf>,
    /// Where `data.aspx` and `ipStatus.aspx` live. Default: the automated-access URL's base,
    /// else Microsoft's. `file:DIR` reads `DIR/data.csv`, `DIR/data-MMDDYY.csv` and
    /// `DIR/ipStatus.csv` instead (relative to the configuration file).
    pub base_url: Option<String>,
}

/// The new SNDS API account. Every URL, the client id and the scopes default to what
/// formats.md section 4.2 names.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SndsApiConfig {
    #[serde(default = "default_api_name")]
    pub name: String,
    #[serde(default = "default_api_base_url")]
    pub base_url: String,
    #[serde(default = "default_authorize_url")]
    pub authorize_url: String,
    #[serde(default = "default_token_url")]
    pub token_url: String,
    #[serde(default = "default_device_code_url")]
    pub device_code_url: String,
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// Confidential clients only; the SNDS portal's own client has none.
    pub client_secret: Option<SecretConfig>,
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The redirect URI registered for the client, when it is not a loopback one: `fbl snds
    /// login` then asks for the address the browser lands on. Default: a loopback listener.
    pub redirect_uri: Option<String>,
    /// Sent as `Origin` on token requests (clients registered as single-page applications).
    pub origin: Option<String>,
    /// Where the refresh token lives (mode 0600). Default: in the store.
    pub token_file: Option<PathBuf>,
}

fn default_timezone() -> String {
    "UTC".to_owned()
}
fn default_timeout() -> u64 {
    60
}
fn default_connect_timeout() -> u64 {
    10
}
fn default_retries() -> u32 {
    2
}
fn default_retry_backoff() -> u64 {
    2
}
fn default_backfill_days() -> u32 {
    30
}
/// SNDS data normally lags a day or two: three days behind is more than a lag.
pub const DEFAULT_STALE_AFTER_DAYS: u32 = 3;
fn default_stale_after_days() -> u32 {
    DEFAULT_STALE_AFTER_DAYS
}
fn default_api_name() -> String {
    "api".to_owned()
}
fn default_api_base_url() -> String {
    snds_client::DEFAULT_API_BASE_URL.to_owned()
}
fn default_authorize_url() -> String {
    snds_client::DEFAULT_AUTHORIZE_URL.to_owned()
}
fn default_token_url() -> String {
    snds_client::DEFAULT_TOKEN_URL.to_owned()
}
fn default_device_code_url() -> String {
    snds_client::DEFAULT_DEVICE_CODE_URL.to_owned()
}
fn default_client_id() -> String {
    snds_client::DEFAULT_CLIENT_ID.to_owned()
}
fn default_scopes() -> Vec<String> {
    snds_client::DEFAULT_SCOPES
        .iter()
        .map(|scope| (*scope).to_owned())
        .collect()
}

/// SNDS keeps about this many days.
pub const SNDS_HISTORY_DAYS: u32 = 90;

impl SndsConfig {
    /// The zone SNDS times are read in.
    pub fn zone(&self) -> crate::zone::Zone {
        crate::zone::Zone::named(&self.timezone).expect("checked when the configuration was loaded")
    }

    /// Every account's name, legacy ones first.
    pub fn account_names(&self) -> Vec<&str> {
        self.legacy
            .iter()
            .map(|account| account.name.as_str())
            .chain(self.api.as_ref().map(|api| api.name.as_str()))
            .collect()
    }

    pub(super) fn check(&self) -> Result<()> {
        if crate::zone::Zone::named(&self.timezone).is_none() {
            bail!(
                "snds timezone {:?} is not an IANA zone name (such as UTC or America/Los_Angeles)",
                self.timezone
            );
        }
        if !(1..=SNDS_HISTORY_DAYS).contains(&self.backfill_days) {
            bail!("snds backfill_days must be between 1 and {SNDS_HISTORY_DAYS}");
        }
        if self.stale_after_days > SNDS_HISTORY_DAYS {
            bail!("snds stale_after_days must be between 0 (never alert) and {SNDS_HISTORY_DAYS}");
        }
        if self.timeout_secs == 0 || self.connect_timeout_secs == 0 {
            bail!("snds timeout_secs and connect_timeout_secs must be at least 1");
        }
        let mut names = std::collections::BTreeSet::new();
        for name in self.account_names() {
            if name.trim().is_empty() {
                bail!("an snds account has an empty name");
            }
            if !names.insert(name) {
                bail!("two snds accounts are named {name:?}");
            }
        }
        for account in &self.legacy {
            account.check()?;
        }
        if let Some(api) = &self.api
            && api.scopes.is_empty()
        {
            bail!("snds api account {}: scopes is empty", api.name);
        }
        if let Some(api) = &self.api {
            super::check_oauth_endpoints(
                &format!("snds api account {}:", api.name),
                [
                    ("token_url", Some(&api.token_url)),
                    ("authorize_url", Some(&api.authorize_url)),
                    ("device_code_url", Some(&api.device_code_url)),
                ],
            )?;
        }
        if let Some(api) = &self.api
            && let Some(secret) = &api.client_secret
        {
            secret.check(&format!("snds api account {}: client_secret", api.name))?;
        }
        Ok(())
    }

    pub(super) fn resolve_paths(&mut self, base: &Path) {
        let join = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(path) = self.ca_file.as_mut() {
            join(path);
        }
        for account in &mut self.legacy {
            for path in [account.key_file.as_mut(), account.access_url_file.as_mut()]
                .into_iter()
                .flatten()
            {
                join(path);
            }
            if let Some(folder) = account.local_folder() {
                let mut folder = folder.to_path_buf();
                join(&mut folder);
                account.base_url = Some(format!("file:{}", folder.display()));
            }
        }
        if let Some(api) = self.api.as_mut() {
            if let Some(path) = api.token_file.as_mut() {
                join(path);
            }
            if let Some(path) = api
                .client_secret
                .as_mut()
                .and_then(|secret| secret.secret_file.as_mut())
            {
                join(path);
            }
        }
    }

    pub(super) fn masked(&self) -> SndsConfig {
        let mut config = self.clone();
        if let Some(secret) = config
            .api
            .as_mut()
            .and_then(|api| api.client_secret.as_mut())
        {
            *secret = secret.masked();
        }
        config
    }
}

impl SndsLegacyConfig {
    /// The folder of a `file:` base URL.
    pub fn local_folder(&self) -> Option<&Path> {
        self.base_url.as_deref().and_then(snds_client::local_folder)
    }

    /// Where the key comes from, for messages: never the key.
    pub fn key_source(&self) -> String {
        if let Some(name) = &self.key_env {
            format!("environment variable {name} (key_env)")
        } else if let Some(path) = &self.key_file {
            format!("file {} (key_file)", path.display())
        } else if let Some(name) = &self.access_url_env {
            format!("environment variable {name} (access_url_env)")
        } else if let Some(path) = &self.access_url_file {
            format!("file {} (access_url_file)", path.display())
        } else {
            "nowhere (a file: base needs no key)".to_owned()
        }
    }

    fn check(&self) -> Result<()> {
        let name = &self.name;
        if let Some(base) = &self.base_url
            && (base.contains('?') || base.contains('#'))
        {
            // Likely the whole link, key included: do not echo it.
            bail!(
                "snds legacy account {name}: base_url has a query; give the key with key_env or key_file, or the whole link with access_url_env or access_url_file"
            );
        }
        let sources = [
            self.key_env.is_some(),
            self.key_file.is_some(),
            self.access_url_env.is_some(),
            self.access_url_file.is_some(),
        ]
        .into_iter()
        .filter(|given| *given)
        .count();
        let local = self.local_folder().is_some();
        if sources > 1 || (sources == 0 && !local) {
            bail!(
                "snds legacy account {name}: give exactly one of key_env, key_file, access_url_env, access_url_file"
            );
        }
        Ok(())
    }
}
