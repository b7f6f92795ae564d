//! OAuth 2.0 for public clients: PKCE (RFC 7636), the authorization-code and refresh-token
//! grants (RFC 6749), the device grant (RFC 8628) and a loopback redirect listener
//! (RFC 8252). Generic: endpoints, client id, optional secret and scopes are parameters, so
//! SNDS and IMAP XOAUTH2 share it.
//!
//! **Tokens, secrets, codes and verifiers never appear in an error message or in `Debug`
//! output.** Types that hold one mask it in `Debug`; error texts that come from a server are
//! scrubbed of every secret the request carried.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use url::Url;

/// What `Debug` prints in place of a secret.
const MASK: &str = "***";

/// How long an access token lives when the token endpoint does not say.
const DEFAULT_EXPIRES_IN: Duration = Duration::from_secs(3600);

/// RFC 8628: the polling interval when the device endpoint gives none, and what `slow_down`
/// adds to it.
const DEFAULT_DEVICE_INTERVAL: Duration = Duration::from_secs(5);
const SLOW_DOWN_STEP: Duration = Duration::from_secs(5);

/// Polling a device code gives up after this many network failures in a row.
const MAX_CONSECUTIVE_POLL_FAILURES: u32 = 3;

/// How much of a server's `error_description` an error message keeps.
const DESCRIPTION_CHARS: usize = 300;

/// The largest request head the loopback listener reads.
const MAX_REQUEST_HEAD: usize = 16 * 1024;

/// Where and as whom to ask for tokens.
#[derive(Clone)]
pub struct OAuthConfig {
    pub authorize_url: String,
    pub token_url: String,
    /// RFC 8628 device authorization endpoint (`.../devicecode` at Microsoft), if the
    /// provider has one.
    pub device_code_url: Option<String>,
    pub client_id: String,
    /// Public clients have none; confidential ones send it as `client_secret`.
    pub client_secret: Option<String>,
    pub scopes: Vec<String>,
    /// Sent as the `Origin` header on token requests when set. Microsoft redeems codes and
    /// refresh tokens of clients registered as single-page applications only with one.
    pub origin: Option<String>,
    pub connect_timeout: Duration,
    /// For a whole request, connection to last byte.
    pub timeout: Duration,
    /// Extra trust roots (PEM), added to the system's, for endpoints behind a private CA.
    pub ca_file: Option<PathBuf>,
}

impl OAuthConfig {
    /// A public client with 10 s connect and 30 s total timeouts.
    pub fn public_client(
        authorize_url: &str,
        token_url: &str,
        device_code_url: Option<&str>,
        client_id: &str,
        scopes: &[&str],
    ) -> OAuthConfig {
        OAuthConfig {
            authorize_url: authorize_url.to_owned(),
            token_url: token_url.to_owned(),
            device_code_url: device_code_url.map(str::to_owned),
            client_id: client_id.to_owned(),
            client_secret: None,
            scopes: scopes.iter().map(|scope| (*scope).to_owned()).collect(),
            origin: None,
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            ca_file: None,
        }
    }

    fn scope(&self) -> String {
        self.scopes.join(" ")
    }
}

impl fmt::Debug for OAuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthConfig")
            .field("authorize_url", &self.authorize_url)
            .field("token_url", &self.token_url)
            .field("device_code_url", &self.device_code_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| MASK))
            .field("scopes", &self.scopes)
            .field("origin", &self.origin)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// How long a refresh waits before asking a token endpoint that was briefly down once more.
const REFRESH_RETRY_WAIT: Duration = Duration::from_secs(1);

/// Why an OAuth step failed. None of the texts carries a token, secret, code or verifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    /// The grant is no longer good (`invalid_grant`, `interaction_required`, ...): the user
    /// must log in again.
    #[error("oauth login needed again: {endpoint} answered {error}{}", describe(.description))]
    InvalidGrant {
        endpoint: String,
        error: String,
        description: Option<String>,
    },
    /// Any other refusal; `error` is the OAuth error code when the body had one.
    #[error("oauth endpoint {endpoint} answered http {status}{}{}", error.as_deref().map(|e| format!(" {e}")).unwrap_or_default(), describe(.description))]
    Http {
        endpoint: String,
        status: u16,
        error: Option<String>,
        description: Option<String>,
    },
    #[error("oauth endpoint {endpoint} unreachable: {message}")]
    Network { endpoint: String, message: String },
    #[error("oauth endpoint {endpoint} timed out")]
    Timeout { endpoint: String },
    /// A 2xx answer that is not a usable token or device-code response.
    #[error("oauth endpoint {endpoint} answered something unusable: {reason}")]
    BadResponse { endpoint: String, reason: String },
    /// The authorization server redirected back with `error=` (the user declined, ...).
    #[error("oauth authorization refused: {error}{}", describe(.description))]
    AuthorizationDenied {
        error: String,
        description: Option<String>,
    },
    /// The redirect's `state` is missing or differs from the one sent: a stale tab or a
    /// forged redirect.
    #[error("oauth redirect state does not match the login that was started")]
    StateMismatch,
    #[error("oauth redirect carries no authorization code")]
    MissingCode,
    #[error("oauth redirect unreadable: {reason}")]
    BadRedirect { reason: String },
    #[error("oauth device code expired before the user finished signing in")]
    DeviceCodeExpired,
    #[error("oauth configuration has no device code endpoint")]
    NoDeviceCodeEndpoint,
    #[error("oauth configuration invalid: {reason}")]
    BadConfig { reason: String },
    #[error("oauth loopback listener got no redirect within {seconds} s")]
    LoopbackTimeout { seconds: u64 },
    #[error("oauth loopback listener failed: {reason}")]
    Loopback { reason: String },
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|text| format!(" ({text})"))
        .unwrap_or_default()
}

/// A PKCE pair (RFC 7636, S256). The verifier stays here; the challenge goes in the URL.
#[derive(Clone)]
pub struct Pkce {
    verifier: String,
    challenge: String,
}

impl Pkce {
    /// A fresh verifier of 32 random bytes (43 characters) and its S256 challenge.
    pub fn generate() -> Pkce {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Pkce::from_verifier(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// The pair for a known verifier, for tests and for resuming a login.
    pub fn from_verifier(verifier: String) -> Pkce {
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }

    pub fn verifier(&self) -> &str {
        &self.verifier
    }

    pub fn challenge(&self) -> &str {
        &self.challenge
    }
}

impl fmt::Debug for Pkce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pkce")
            .field("verifier", &MASK)
            .field("challenge", &self.challenge)
            .finish()
    }
}

/// A random `state` value for one login (16 bytes, base64url).
pub fn new_state() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The one-time code from the redirect. `Debug` masks it.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthorizationCode(String);

impl AuthorizationCode {
    pub fn new(code: String) -> AuthorizationCode {
        AuthorizationCode(code)
    }

    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationCode(***)")
    }
}

/// What a token endpoint granted. `Debug` masks both tokens.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenSet {
    pub access_token: String,
    /// After a refresh this is the new refresh token when the server rotated it, else the one
    /// that was used: store it either way.
    pub refresh_token: Option<String>,
    /// From `expires_in` (one hour when absent), counted from when the answer arrived.
    pub expires_at: DateTime<Utc>,
    /// The scopes granted, when the server says.
    pub scope: Option<String>,
}

impl TokenSet {
    /// Whether the access token is expired at `now` or will be within `margin`.
    pub fn expires_within(&self, now: DateTime<Utc>, margin: Duration) -> bool {
        let margin = TimeDelta::from_std(margin).unwrap_or(TimeDelta::MAX);
        now.checked_add_signed(margin)
            .is_none_or(|limit| limit >= self.expires_at)
    }
}

impl fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &MASK)
            .field("refresh_token", &self.refresh_token.as_ref().map(|_| MASK))
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .finish()
    }
}

/// The device endpoint's answer: show `user_code` and `verification_uri` (or `message`) to
/// the user, then poll. `Debug` masks the device code.
#[derive(Clone)]
pub struct DeviceAuthorization {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub verification_uri_complete: Option<String>,
    pub expires_in: Duration,
    pub interval: Duration,
    /// Microsoft's ready-made instruction ("To sign in, use a web browser to open ...").
    pub message: Option<String>,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &MASK)
            .field("user_code", &self.user_code)
            .field("verification_uri", &self.verification_uri)
            .field("verification_uri_complete", &self.verification_uri_complete)
            .field("expires_in", &self.expires_in)
            .field("interval", &self.interval)
            .field("message", &self.message)
            .finish()
    }
}

/// The URL to open in a browser to start an authorization-code login with PKCE. `extra`
/// adds provider-specific parameters (`prompt`, `login_hint`, `access_type`).
pub fn authorization_url(
    config: &OAuthConfig,
    redirect_uri: &str,
    state: &str,
    pkce: &Pkce,
    extra: &[(&str, &str)],
) -> Result<Url, OAuthError> {
    let mut url = Url::parse(&config.authorize_url).map_err(|err| OAuthError::BadConfig {
        reason: format!("authorize url {:?}: {err}", config.authorize_url),
    })?;
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("client_id", &config.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", &config.scope())
            .append_pair("state", state)
            .append_pair("code_challenge", pkce.challenge())
            .append_pair("code_challenge_method", "S256");
        for (name, value) in extra {
            query.append_pair(name, value);
        }
    }
    Ok(url)
}

/// Reads the code from what the user pasted after the browser landed on the redirect URI:
/// the whole URL, or just its query (`?code=...&state=...`) or fragment. Checks `state` and
/// turns `error=` into [`OAuthError::AuthorizationDenied`].
pub fn parse_redirect(pasted: &str, expected_state: &str) -> Result<AuthorizationCode, OAuthError> {
    let text = pasted.trim();
    let params_text = match Url::parse(text) {
        Ok(url) => {
            let has_params = |part: Option<&str>| {
                part.is_some_and(|p| p.contains("code=") || p.contains("error="))
            };
            if has_params(url.query()) {
                url.query().unwrap_or("").to_owned()
            } else if has_params(url.fragment()) {
                url.fragment().unwrap_or("").to_owned()
            } else {
                return Err(OAuthError::MissingCode);
            }
        }
        Err(_) if text.contains('=') => text
            .trim_start_matches(['?', '#'])
            .split_once(['?', '#'])
            .map(|(_, after)| after)
            .unwrap_or(text.trim_start_matches(['?', '#']))
            .to_owned(),
        Err(_) => {
            return Err(OAuthError::BadRedirect {
                reason: "pasted text is neither a url nor a query string".to_owned(),
            });
        }
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(params_text.as_bytes())
        .into_owned()
        .collect();
    code_from_params(&pairs, expected_state)
}

fn code_from_params(
    pairs: &[(String, String)],
    expected_state: &str,
) -> Result<AuthorizationCode, OAuthError> {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    if let Some(error) = get("error") {
        return Err(OAuthError::AuthorizationDenied {
            error: short(error, 100),
            description: get("error_description").map(|text| short(text, DESCRIPTION_CHARS)),
        });
    }
    if get("state") != Some(expected_state) {
        return Err(OAuthError::StateMismatch);
    }
    match get("code") {
        Some(code) if !code.is_empty() => Ok(AuthorizationCode(code.to_owned())),
        _ => Err(OAuthError::MissingCode),
    }
}

impl OAuthError {
    /// A server error (5xx but 501, which will not change) or a refused or reset connection:
    /// the endpoint may answer a moment later.
    fn is_brief_outage(&self) -> bool {
        match self {
            OAuthError::Http { status, .. } => (500..600).contains(status) && *status != 501,
            OAuthError::Network { .. } => true,
            _ => false,
        }
    }
}

/// Talks to one provider's token and device endpoints.
pub struct OAuthClient {
    config: OAuthConfig,
    http: reqwest::blocking::Client,
}

impl fmt::Debug for OAuthClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl OAuthClient {
    /// Redirects are not followed: a token endpoint that redirects is misconfigured.
    pub fn new(config: OAuthConfig) -> Result<OAuthClient, OAuthError> {
        let roots = match &config.ca_file {
            Some(path) => read_ca_file(path).map_err(|reason| OAuthError::BadConfig { reason })?,
            None => Vec::new(),
        };
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .referer(false)
            .user_agent(concat!("fbl/", env!("CARGO_PKG_VERSION")))
            .tls_certs_merge(roots)
            .build()
            .map_err(|err| OAuthError::BadConfig {
                reason: format!("http client: {}", describe_transport_error(err, &[])),
            })?;
        Ok(OAuthClient { config, http })
    }

    pub fn config(&self) -> &OAuthConfig {
        &self.config
    }

    /// [`authorization_url`] for this client's configuration.
    pub fn authorization_url(
        &self,
        redirect_uri: &str,
        state: &str,
        pkce: &Pkce,
        extra: &[(&str, &str)],
    ) -> Result<Url, OAuthError> {
        authorization_url(&self.config, redirect_uri, state, pkce, extra)
    }

    /// Trades the redirect's code for tokens (`grant_type=authorization_code`).
    pub fn exchange_code(
        &self,
        code: &AuthorizationCode,
        pkce: &Pkce,
        redirect_uri: &str,
    ) -> Result<TokenSet, OAuthError> {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.secret()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", pkce.verifier()),
        ];
        self.token_request(&form, &[code.secret(), pkce.verifier()], None)
    }

    /// A new access token from a refresh token (`grant_type=refresh_token`). When the server
    /// rotates the refresh token the new one is returned; otherwise the one given.
    /// [`OAuthError::InvalidGrant`] means the user must log in again.
    pub fn refresh(&self, refresh_token: &str) -> Result<TokenSet, OAuthError> {
        let scope = self.config.scope();
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        match self.token_request(&form, &[refresh_token], Some(refresh_token)) {
            // A token endpoint that is briefly down (a 5xx, a refused connection) is asked
            // once more, so that one blip does not fail a cron run. Not after a timeout: the
            // first request may have been served, and its rotated token with it.
            Err(error) if error.is_brief_outage() => {
                std::thread::sleep(REFRESH_RETRY_WAIT);
                self.token_request(&form, &[refresh_token], Some(refresh_token))
            }
            result => result,
        }
    }

    /// Starts the device grant: show the answer's `user_code` and `verification_uri` to the
    /// user, then call [`OAuthClient::poll_device_authorization`].
    pub fn start_device_authorization(&self) -> Result<DeviceAuthorization, OAuthError> {
        let endpoint = self
            .config
            .device_code_url
            .clone()
            .ok_or(OAuthError::NoDeviceCodeEndpoint)?;
        let scope = self.config.scope();
        let mut form = vec![("client_id", self.config.client_id.as_str())];
        if !scope.is_empty() {
            form.push(("scope", &scope));
        }
        let (status, body) = self.post_form(&endpoint, &form, &[])?;
        if !(200..300).contains(&status) {
            return Err(error_from_body(
                &endpoint,
                status,
                &body,
                &self.secrets(&[]),
            ));
        }
        let bad = |reason: &str| OAuthError::BadResponse {
            endpoint: endpoint.clone(),
            reason: reason.to_owned(),
        };
        let json: serde_json::Value =
            serde_json::from_str(&body).map_err(|_| bad("body is not json"))?;
        let text = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let device_code = text("device_code").ok_or_else(|| bad("no device_code"))?;
        let user_code = text("user_code").ok_or_else(|| bad("no user_code"))?;
        // Google says `verification_url`; RFC 8628 and Microsoft say `verification_uri`.
        let verification_uri = text("verification_uri")
            .or_else(|| text("verification_url"))
            .ok_or_else(|| bad("no verification_uri"))?;
        let expires_in =
            json_seconds(json.get("expires_in")).ok_or_else(|| bad("no expires_in"))?;
        let interval = json_seconds(json.get("interval"))
            .filter(|interval| !interval.is_zero())
            .unwrap_or(DEFAULT_DEVICE_INTERVAL);
        Ok(DeviceAuthorization {
            device_code,
            user_code,
            verification_uri,
            verification_uri_complete: text("verification_uri_complete"),
            expires_in,
            interval,
            message: text("message"),
        })
    }

    /// Polls the token endpoint every `interval` until the user has signed in, backing off on
    /// `slow_down` and giving up with [`OAuthError::DeviceCodeExpired`] once `expires_in`
    /// has been slept through. `sleep` does the waiting, so tests need not.
    pub fn poll_device_authorization(
        &self,
        device: &DeviceAuthorization,
        sleep: &mut dyn FnMut(Duration),
    ) -> Result<TokenSet, OAuthError> {
        let form = [
            ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
            ("device_code", device.device_code.as_str()),
        ];
        let mut interval = device.interval;
        let mut waited = Duration::ZERO;
        let mut failures = 0;
        loop {
            if waited >= device.expires_in {
                return Err(OAuthError::DeviceCodeExpired);
            }
            sleep(interval);
            waited += interval;
            match self.token_request(&form, &[&device.device_code], None) {
                Ok(tokens) => return Ok(tokens),
                Err(OAuthError::Http {
                    error: Some(error), ..
                }) if error == "authorization_pending" => failures = 0,
                Err(OAuthError::Http {
                    error: Some(error), ..
                }) if error == "slow_down" => {
                    failures = 0;
                    interval += SLOW_DOWN_STEP;
                }
                Err(OAuthError::Http {
                    error: Some(error), ..
                }) if error == "expired_token" || error == "code_expired" => {
                    return Err(OAuthError::DeviceCodeExpired);
                }
                Err(OAuthError::Http {
                    error: Some(error),
                    description,
                    ..
                }) if error == "access_denied" || error == "authorization_declined" => {
                    return Err(OAuthError::AuthorizationDenied { error, description });
                }
                Err(err @ (OAuthError::Network { .. } | OAuthError::Timeout { .. })) => {
                    failures += 1;
                    if failures >= MAX_CONSECUTIVE_POLL_FAILURES {
                        return Err(err);
                    }
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Every secret a request to the token endpoint may carry, for scrubbing.
    fn secrets<'a>(&'a self, more: &[&'a str]) -> Vec<&'a str> {
        let mut secrets: Vec<&str> = more.to_vec();
        if let Some(secret) = &self.config.client_secret {
            secrets.push(secret);
        }
        secrets
    }

    fn token_request(
        &self,
        grant: &[(&str, &str)],
        grant_secrets: &[&str],
        previous_refresh_token: Option<&str>,
    ) -> Result<TokenSet, OAuthError> {
        let endpoint = self.config.token_url.clone();
        let mut form: Vec<(&str, &str)> = vec![("client_id", &self.config.client_id)];
        form.extend_from_slice(grant);
        if let Some(secret) = &self.config.client_secret {
            form.push(("client_secret", secret));
        }
        let secrets = self.secrets(grant_secrets);
        let (status, body) = self.post_form(&endpoint, &form, &secrets)?;
        let received_at = Utc::now();
        if !(200..300).contains(&status) {
            return Err(error_from_body(&endpoint, status, &body, &secrets));
        }
        let bad = |reason: &str| OAuthError::BadResponse {
            endpoint: endpoint.clone(),
            reason: reason.to_owned(),
        };
        let json: serde_json::Value =
            serde_json::from_str(&body).map_err(|_| bad("body is not json"))?;
        let text = |name: &str| {
            json.get(name)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let access_token = text("access_token").ok_or_else(|| bad("no access_token"))?;
        let expires_in = json_seconds(json.get("expires_in")).unwrap_or(DEFAULT_EXPIRES_IN);
        let expires_at =
            received_at + TimeDelta::from_std(expires_in).unwrap_or(TimeDelta::seconds(3600));
        Ok(TokenSet {
            access_token,
            refresh_token: text("refresh_token")
                .or_else(|| previous_refresh_token.map(str::to_owned)),
            expires_at,
            scope: text("scope"),
        })
    }

    /// POSTs a form; returns the status and body, or a transport error without secrets.
    fn post_form(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
        secrets: &[&str],
    ) -> Result<(u16, String), OAuthError> {
        if !Url::parse(endpoint).is_ok_and(|url| crate::snds_client::encrypted_or_loopback(&url)) {
            return Err(OAuthError::BadConfig {
                reason: format!(
                    "endpoint {endpoint}: plain http would send tokens and secrets unencrypted; use https (http is for loopback only)"
                ),
            });
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let transport = |err: reqwest::Error| {
            if err.is_timeout() {
                OAuthError::Timeout {
                    endpoint: endpoint.to_owned(),
                }
            } else {
                OAuthError::Network {
                    endpoint: endpoint.to_owned(),
                    message: describe_transport_error(err, secrets),
                }
            }
        };
        let mut request = self.http.post(endpoint);
        if let Some(origin) = &self.config.origin {
            request = request.header(reqwest::header::ORIGIN, origin);
        }
        let response = request
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .map_err(transport)?;
        let status = response.status().as_u16();
        let text = response.text().map_err(transport)?;
        Ok((status, text))
    }
}

/// Maps a refusal from a token or device endpoint to an error, scrubbed of `secrets`.
fn error_from_body(endpoint: &str, status: u16, body: &str, secrets: &[&str]) -> OAuthError {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let field = |name: &str| {
        json.as_ref()
            .and_then(|json| json.get(name))
            .and_then(|value| value.as_str())
            .map(|text| short(&redact(text, secrets), DESCRIPTION_CHARS))
    };
    let error = field("error").map(|error| short(&error, 100));
    let description = field("error_description")
        .map(|text| text.lines().next().unwrap_or("").trim().to_owned())
        .filter(|text| !text.is_empty());
    match error {
        Some(error)
            if matches!(
                error.as_str(),
                "invalid_grant" | "interaction_required" | "login_required" | "consent_required"
            ) =>
        {
            OAuthError::InvalidGrant {
                endpoint: endpoint.to_owned(),
                error,
                description,
            }
        }
        error => OAuthError::Http {
            endpoint: endpoint.to_owned(),
            status,
            error,
            description,
        },
    }
}

/// Seconds as a JSON number or a numeric string (older Azure endpoints send strings).
fn json_seconds(value: Option<&serde_json::Value>) -> Option<Duration> {
    let value = value?;
    let seconds = value
        .as_u64()
        .or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()))?;
    Some(Duration::from_secs(seconds))
}

fn short(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max_chars).collect();
        cut.push('…');
        cut
    }
}

/// `text` with every non-empty secret in it, and its URL-encoded form, replaced by `***`, in
/// any case of their letters (a server may echo a key or token upper-cased), and the first 8
/// or more characters of one just before a cut (`…`). Redact before cutting a text short:
/// a cut may leave fewer than 8.
pub(crate) fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for secret in secrets.iter().filter(|secret| !secret.is_empty()) {
        out = crate::snds::redact_secret(&out, secret);
    }
    out
}

/// The certificates of a PEM file of trust roots (a private CA), to add to the system's.
pub(crate) fn read_ca_file(path: &Path) -> Result<Vec<reqwest::Certificate>, String> {
    let pem = std::fs::read(path)
        .map_err(|err| format!("cannot read ca_file {}: {err}", path.display()))?;
    let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|err| {
        format!(
            "ca_file {} is not a PEM certificate: {}",
            path.display(),
            describe_transport_error(err, &[])
        )
    })?;
    if certificates.is_empty() {
        return Err(format!(
            "ca_file {} holds no PEM certificate",
            path.display()
        ));
    }
    Ok(certificates)
}

/// A reqwest error as text without its URL (which may carry a key) and scrubbed of
/// `secrets`: the error's own text followed by its causes.
pub(crate) fn describe_transport_error(err: reqwest::Error, secrets: &[&str]) -> String {
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    redact(&message, secrets)
}

/// A one-shot HTTP listener on 127.0.0.1 that receives the browser's redirect (RFC 8252
/// section 7.3).
pub struct LoopbackListener {
    listener: TcpListener,
    port: u16,
}

impl fmt::Debug for LoopbackListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopbackListener")
            .field("port", &self.port)
            .finish()
    }
}

impl LoopbackListener {
    /// Binds 127.0.0.1 on a port the system picks.
    pub fn bind() -> Result<LoopbackListener, OAuthError> {
        let loopback_error = |err: std::io::Error| OAuthError::Loopback {
            reason: format!("binding 127.0.0.1: {err}"),
        };
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .map_err(loopback_error)?;
        let port = listener.local_addr().map_err(loopback_error)?.port();
        Ok(LoopbackListener { listener, port })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `redirect_uri` to send in the authorization URL and the code exchange.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Waits up to `timeout` for the browser's GET carrying `code` (or `error`), answers it
    /// with a small HTML page, and returns the code once `state` matches. Requests without
    /// either parameter (a favicon) get a 404, and ones of another `state` a 400, and the wait
    /// goes on. Each connection is read
    /// on its own thread, so a browser's idle pre-connection holds nothing up.
    pub fn wait_for_code(
        self,
        expected_state: &str,
        timeout: Duration,
    ) -> Result<AuthorizationCode, OAuthError> {
        let deadline = Instant::now() + timeout;
        let io_error = |what: &str, err: std::io::Error| OAuthError::Loopback {
            reason: format!("{what} on 127.0.0.1:{}: {err}", self.port),
        };
        self.listener
            .set_nonblocking(true)
            .map_err(|err| io_error("setting non-blocking", err))?;
        let (outcomes, outcome) = std::sync::mpsc::channel();
        loop {
            if let Ok(result) = outcome.try_recv() {
                return result;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(OAuthError::LoopbackTimeout {
                    seconds: timeout.as_secs(),
                });
            }
            match self.listener.accept() {
                Ok((stream, _)) => {
                    let outcomes = outcomes.clone();
                    let expected_state = expected_state.to_owned();
                    let remaining = deadline - now;
                    std::thread::spawn(move || {
                        if let Some(result) = answer_redirect(stream, &expected_state, remaining) {
                            // The waiter may have given up already; nothing to do then.
                            let _ = outcomes.send(result);
                        }
                    });
                }
                Err(err)
                    if matches!(
                        err.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                    ) =>
                {
                    std::thread::sleep(Duration::from_millis(20).min(deadline - now));
                }
                Err(err) => return Err(io_error("accepting", err)),
            }
        }
    }
}

/// Handles one connection: `None` when it was not the redirect (keep waiting).
fn answer_redirect(
    mut stream: TcpStream,
    expected_state: &str,
    remaining: Duration,
) -> Option<Result<AuthorizationCode, OAuthError>> {
    let read_limit = remaining.clamp(Duration::from_millis(100), Duration::from_secs(10));
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(read_limit)).ok()?;
    stream.set_write_timeout(Some(read_limit)).ok()?;
    let head = read_request_head(&mut stream)?;
    let request_line = head.lines().next().unwrap_or("");
    let mut parts = request_line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("");
    if method != "GET" {
        respond(
            &mut stream,
            "405 Method Not Allowed",
            "Only GET is expected here.",
        );
        return None;
    }
    let url = Url::parse(&format!("http://127.0.0.1{target}")).ok();
    let pairs: Vec<(String, String)> = url
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default();
    if !pairs.iter().any(|(key, _)| key == "code" || key == "error") {
        respond(
            &mut stream,
            "404 Not Found",
            "This is not the sign-in redirect.",
        );
        return None;
    }
    // A redirect of another login (a stale tab, a forged request from anything that can reach
    // loopback) is refused and the wait goes on: it must neither end this login nor give it
    // someone else's code. The provider's own answer, code or error, carries this `state`.
    if !pairs
        .iter()
        .any(|(key, value)| key == "state" && value == expected_state)
    {
        respond(
            &mut stream,
            "400 Bad Request",
            "This is not the sign-in fbl is waiting for (its state differs, as from an older tab). \
             fbl goes on waiting: sign in from the address fbl printed.",
        );
        return None;
    }
    let outcome = code_from_params(&pairs, expected_state);
    match &outcome {
        Ok(_) => respond(
            &mut stream,
            "200 OK",
            "Signed in. You can close this tab and return to fbl.",
        ),
        Err(err) => respond(
            &mut stream,
            "400 Bad Request",
            &format!("Sign-in failed: {err}."),
        ),
    }
    Some(outcome)
}

fn read_request_head(stream: &mut TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() > MAX_REQUEST_HEAD {
            return None;
        }
        let read = stream.read(&mut buffer).ok()?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    (!head.is_empty()).then(|| String::from_utf8_lossy(&head).into_owned())
}

fn respond(stream: &mut TcpStream, status: &str, message: &str) {
    let page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>fbl</title></head>\
         <body><p>{}</p></body></html>\n",
        html_escape(message)
    );
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n{page}",
        page.len()
    );
    // The browser going away early changes nothing for the login.
    let _ = stream.write_all(response.as_bytes());
    let _ = stream.flush();
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_never_sent_over_plain_http_beyond_loopback() {
        let client = |token_url: &str| {
            OAuthClient::new(OAuthConfig::public_client(
                "https://login.example.com/authorize",
                token_url,
                None,
                "client",
                &["scope"],
            ))
            .unwrap()
        };
        // Refused before any connection: 192.0.2.1 (TEST-NET-1) would only time out.
        let err = client("http://192.0.2.1:9/token")
            .refresh("RT-SECRET")
            .unwrap_err();
        assert!(
            matches!(&err, OAuthError::BadConfig { reason } if reason.contains("plain http")),
            "{err}"
        );
        assert!(!err.to_string().contains("RT-SECRET"), "{err}");
        // Loopback is allowed (nothing listens on port 9: a network error, not a refusal).
        let err = client("http://127.0.0.1:9/token")
            .refresh("RT-SECRET")
            .unwrap_err();
        assert!(matches!(err, OAuthError::Network { .. }), "{err}");
    }

    fn config() -> OAuthConfig {
        OAuthConfig::public_client(
            "https://login.example.com/authorize",
            "https://login.example.com/token",
            None,
            "client-1",
            &["api/.default", "offline_access"],
        )
    }

    #[test]
    fn pkce_matches_the_rfc_7636_example() {
        let pkce = Pkce::from_verifier("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".to_owned());
        assert_eq!(
            pkce.challenge(),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(!format!("{pkce:?}").contains("dBjft"));
    }

    #[test]
    fn generated_pkce_and_state_are_fresh_and_url_safe() {
        let (a, b) = (Pkce::generate(), Pkce::generate());
        assert_ne!(a.verifier(), b.verifier());
        assert_eq!(a.verifier().len(), 43);
        let unreserved = |text: &str| {
            text.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
        };
        assert!(unreserved(a.verifier()) && unreserved(a.challenge()));
        assert_ne!(new_state(), new_state());
    }

    #[test]
    fn authorization_url_carries_every_parameter() {
        let pkce = Pkce::from_verifier("v".repeat(43));
        let url = authorization_url(
            &config(),
            "http://127.0.0.1:5000/",
            "st4te",
            &pkce,
            &[("prompt", "select_account")],
        )
        .unwrap();
        let pairs: std::collections::HashMap<String, String> =
            url.query_pairs().into_owned().collect();
        assert_eq!(pairs["client_id"], "client-1");
        assert_eq!(pairs["response_type"], "code");
        assert_eq!(pairs["redirect_uri"], "http://127.0.0.1:5000/");
        assert_eq!(pairs["scope"], "api/.default offline_access");
        assert_eq!(pairs["state"], "st4te");
        assert_eq!(pairs["code_challenge"], pkce.challenge());
        assert_eq!(pairs["code_challenge_method"], "S256");
        assert_eq!(pairs["prompt"], "select_account");
        assert!(!url.as_str().contains(pkce.verifier()));
    }

    #[test]
    fn pasted_redirects() {
        let code = |pasted: &str| parse_redirect(pasted, "s1");
        let ok = code("https://portal.example/cb?code=C0DE&state=s1").unwrap();
        assert_eq!(ok.secret(), "C0DE");
        assert_eq!(format!("{ok:?}"), "AuthorizationCode(***)");
        assert_eq!(code("  ?code=C0DE&state=s1\n").unwrap().secret(), "C0DE");
        assert_eq!(code("code=C0DE&state=s1").unwrap().secret(), "C0DE");
        assert_eq!(
            code("https://portal.example/cb#code=C0DE&state=s1")
                .unwrap()
                .secret(),
            "C0DE"
        );
        assert_eq!(
            code("https://x/cb?code=C0DE&state=other"),
            Err(OAuthError::StateMismatch)
        );
        assert_eq!(
            code("https://x/cb?code=C0DE"),
            Err(OAuthError::StateMismatch)
        );
        assert_eq!(code("https://x/cb?state=s1"), Err(OAuthError::MissingCode));
        assert_eq!(
            code("https://x/cb?code=&state=s1"),
            Err(OAuthError::MissingCode)
        );
        assert!(matches!(
            code("just words"),
            Err(OAuthError::BadRedirect { .. })
        ));
        let denied =
            code("https://x/cb?error=access_denied&error_description=The+user+said+no&state=s1");
        assert_eq!(
            denied,
            Err(OAuthError::AuthorizationDenied {
                error: "access_denied".to_owned(),
                description: Some("The user said no".to_owned())
            })
        );
        let message = denied.unwrap_err().to_string();
        assert_eq!(
            message,
            "oauth authorization refused: access_denied (The user said no)"
        );
    }

    #[test]
    fn token_set_debug_masks_tokens_and_expiry_check() {
        let now = Utc::now();
        let tokens = TokenSet {
            access_token: "AT-secret".to_owned(),
            refresh_token: Some("RT-secret".to_owned()),
            expires_at: now + TimeDelta::seconds(600),
            scope: None,
        };
        let debug = format!("{tokens:?}");
        assert!(
            !debug.contains("AT-secret") && !debug.contains("RT-secret"),
            "{debug}"
        );
        assert!(!tokens.expires_within(now, Duration::from_secs(300)));
        assert!(tokens.expires_within(now, Duration::from_secs(600)));
        assert!(tokens.expires_within(now + TimeDelta::seconds(700), Duration::ZERO));
    }

    #[test]
    fn config_debug_masks_the_secret() {
        let mut config = config();
        config.client_secret = Some("sh-secret".to_owned());
        assert!(!format!("{config:?}").contains("sh-secret"));
    }

    #[test]
    fn refusals_map_to_typed_errors_without_secrets() {
        let body = r#"{"error":"invalid_grant","error_description":"AADSTS70008: token RT-secret expired.\r\nTrace ID: 1"}"#;
        let err = error_from_body("https://t/token", 400, body, &["RT-secret"]);
        assert_eq!(
            err,
            OAuthError::InvalidGrant {
                endpoint: "https://t/token".to_owned(),
                error: "invalid_grant".to_owned(),
                description: Some("AADSTS70008: token *** expired.".to_owned()),
            }
        );
        let err = error_from_body("https://t/token", 401, r#"{"error":"invalid_client"}"#, &[]);
        assert_eq!(
            err.to_string(),
            "oauth endpoint https://t/token answered http 401 invalid_client"
        );
        let err = error_from_body("https://t/token", 502, "<html>bad gateway</html>", &[]);
        assert_eq!(
            err.to_string(),
            "oauth endpoint https://t/token answered http 502"
        );
    }

    #[test]
    fn redact_covers_the_url_encoded_form() {
        assert_eq!(redact("a k/y+z b k%2Fy%2Bz", &["k/y+z", ""]), "a *** b ***");
    }
}
