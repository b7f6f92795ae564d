//! An SNDS account made ready to fetch: the legacy key read from the environment or a file
//! (or taken from the pasted automated-access URL); the new API's refresh token read from
//! its 0600 file or the store and traded for an access token, a rotated one kept. Errors
//! name where fbl looked, never the secret.

use crate::config::{SndsApiConfig, SndsConfig, SndsLegacyConfig};
use crate::mailbox_credentials::write_private_file;
use crate::oauth::{OAuthClient, OAuthConfig, OAuthError};
use crate::snds_client::{self, LegacyAccess, SndsClientOptions};
use crate::store::Store;
use anyhow::{Context, Result, anyhow, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The longest wait between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The client settings `[snds]` gives.
pub fn client_options(snds: &SndsConfig) -> SndsClientOptions {
    SndsClientOptions {
        connect_timeout: Duration::from_secs(snds.connect_timeout_secs),
        timeout: Duration::from_secs(snds.timeout_secs),
        max_attempts: snds.retries.saturating_add(1),
        first_backoff: Duration::from_secs(snds.retry_backoff_secs),
        max_backoff: MAX_BACKOFF,
        zone: snds.zone(),
        ca_file: snds.ca_file.clone(),
    }
}

/// The base URL and key of a legacy account, read now.
pub fn legacy_access(account: &SndsLegacyConfig) -> Result<LegacyAccess> {
    let base_or_default = || {
        account
            .base_url
            .clone()
            .unwrap_or_else(|| snds_client::DEFAULT_LEGACY_BASE_URL.to_owned())
    };
    let from_access_url = |pasted: &str| -> Result<LegacyAccess> {
        let access = snds_client::parse_automated_access_url(pasted)?;
        Ok(LegacyAccess {
            base_url: account.base_url.clone().unwrap_or(access.base_url),
            key: access.key,
        })
    };
    // The whole "Automated Access" link where the key alone belongs: said plainly, without
    // quoting it (it holds the key), instead of SNDS's sign-in page for a bad key later.
    let not_a_link = |key: String, setting: &str, other: &str| -> Result<String> {
        if key.contains("://") || key.to_ascii_lowercase().contains("key=") {
            bail!(
                "{setting} holds a whole link, not the key alone: give the link with {other} \
                 instead (or only the value after key=)"
            );
        }
        Ok(key)
    };
    if let Some(name) = &account.key_env {
        let key = not_a_link(read_env(name, "key_env")?, "key_env", "access_url_env")?;
        Ok(LegacyAccess {
            base_url: base_or_default(),
            key,
        })
    } else if let Some(path) = &account.key_file {
        let key = not_a_link(
            read_secret_file(path, "key_file")?,
            "key_file",
            "access_url_file",
        )?;
        Ok(LegacyAccess {
            base_url: base_or_default(),
            key,
        })
    } else if let Some(name) = &account.access_url_env {
        from_access_url(&read_env(name, "access_url_env")?)
            .with_context(|| format!("environment variable {name} (access_url_env)"))
    } else if let Some(path) = &account.access_url_file {
        from_access_url(&read_secret_file(path, "access_url_file")?)
            .with_context(|| format!("file {} (access_url_file)", path.display()))
    } else if account.local_folder().is_some() {
        Ok(LegacyAccess {
            base_url: base_or_default(),
            key: String::new(),
        })
    } else {
        bail!("no key configured")
    }
}

/// The OAuth client settings of the API account.
pub fn oauth_config(snds: &SndsConfig, api: &SndsApiConfig) -> Result<OAuthConfig> {
    let scopes: Vec<&str> = api.scopes.iter().map(String::as_str).collect();
    let mut config = OAuthConfig::public_client(
        &api.authorize_url,
        &api.token_url,
        Some(&api.device_code_url),
        &api.client_id,
        &scopes,
    );
    if let Some(secret) = &api.client_secret {
        let bytes = secret.resolve().context("client_secret")?;
        config.client_secret =
            Some(String::from_utf8(bytes).context("client_secret is not UTF-8")?);
    }
    config.origin = api.origin.clone();
    config.connect_timeout = Duration::from_secs(snds.connect_timeout_secs);
    config.timeout = Duration::from_secs(snds.timeout_secs);
    config.ca_file = snds.ca_file.clone();
    Ok(config)
}

/// Where the API's refresh token lives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "in")]
pub enum TokenPlace {
    File { path: PathBuf },
    Store,
}

impl TokenPlace {
    pub fn of(api: &SndsApiConfig) -> TokenPlace {
        match &api.token_file {
            Some(path) => TokenPlace::File { path: path.clone() },
            None => TokenPlace::Store,
        }
    }
}

impl std::fmt::Display for TokenPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenPlace::File { path } => write!(f, "{}", path.display()),
            TokenPlace::Store => f.write_str("the store"),
        }
    }
}

/// The stored refresh token, if there is one.
pub fn load_refresh_token(api: &SndsApiConfig, store: &Store) -> Result<Option<String>> {
    match TokenPlace::of(api) {
        TokenPlace::File { path } => match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text.trim().to_owned()).filter(|token| !token.is_empty())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => {
                Err(error).with_context(|| format!("cannot read token_file {}", path.display()))
            }
        },
        TokenPlace::Store => store.snds_refresh_token(&api.name),
    }
}

/// Keeps a refresh token: in `token_file` (mode 0600, replaced atomically) or in the store.
pub fn save_refresh_token(
    api: &SndsApiConfig,
    store: &mut Store,
    token: &str,
    now: &str,
) -> Result<()> {
    match TokenPlace::of(api) {
        TokenPlace::File { path } => write_private_file(&path, format!("{token}\n").as_bytes()),
        TokenPlace::Store => {
            let mut batch = store.begin()?;
            batch.set_snds_refresh_token(&api.name, token, now)?;
            batch.commit()
        }
    }
}

/// An access token for the API: the stored refresh token traded at the token endpoint, and
/// a rotated refresh token stored in its place. A grant that is no longer good says to log
/// in again.
pub fn access_token(
    snds: &SndsConfig,
    api: &SndsApiConfig,
    store: &mut Store,
    now: &str,
) -> Result<String> {
    let place = TokenPlace::of(api);
    let Some(refresh_token) = load_refresh_token(api, store)? else {
        bail!("no refresh token in {place}: run `fbl snds login` once");
    };
    let client = OAuthClient::new(oauth_config(snds, api)?)?;
    let tokens = client
        .refresh(&refresh_token)
        .map_err(|error| match error {
            OAuthError::InvalidGrant { .. } => {
                anyhow!("{error}; run `fbl snds login` to sign in again")
            }
            error => anyhow!(error),
        })?;
    if let Some(rotated) = tokens.refresh_token.as_deref()
        && rotated != refresh_token
    {
        // The token endpoint has rotated the grant: the token kept may be refused next time
        // (Microsoft's stay good until they expire; stricter servers refuse them at once).
        save_refresh_token(api, store, rotated, now).with_context(|| {
            format!(
                "cannot keep the rotated refresh token in {place} (if the next fetch is \
                 refused, run `fbl snds login`)"
            )
        })?;
    }
    Ok(tokens.access_token)
}

/// What `fbl snds status` says about the API's token; never the token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenState {
    pub place: TokenPlace,
    pub present: bool,
    /// For a file: its mode lets only its owner read it.
    pub private: Option<bool>,
    /// When it was last written.
    pub saved_at: Option<String>,
}

pub fn token_state(api: &SndsApiConfig, store: &Store) -> Result<TokenState> {
    let place = TokenPlace::of(api);
    Ok(match &place {
        TokenPlace::File { path } => {
            let metadata = std::fs::metadata(path).ok();
            TokenState {
                present: metadata.as_ref().is_some_and(|m| m.len() > 0),
                private: metadata.as_ref().map(is_private),
                saved_at: metadata.and_then(|m| m.modified().ok()).map(|time| {
                    chrono::DateTime::<chrono::Utc>::from(time)
                        .format("%Y-%m-%dT%H:%M:%SZ")
                        .to_string()
                }),
                place,
            }
        }
        TokenPlace::Store => {
            let state = store.snds_account_state(&api.name)?;
            TokenState {
                present: state.refresh_token_in_store,
                private: None,
                saved_at: state.refresh_token_saved_at,
                place,
            }
        }
    })
}

fn is_private(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o077 == 0
}

fn read_env(name: &str, key: &str) -> Result<String> {
    let value = std::env::var(name).map_err(|_| {
        let file_key = key.replace("_env", "_file");
        crate::config::unset_variable(name, key, &file_key)
    })?;
    let value = value.trim().to_owned();
    if value.is_empty() {
        bail!("environment variable {name} ({key}) is empty");
    }
    Ok(value)
}

fn read_secret_file(path: &Path, key: &str) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {key} {}", path.display()))?;
    let value = text.trim().to_owned();
    if value.is_empty() {
        bail!("{key} {} is empty", path.display());
    }
    Ok(value)
}
