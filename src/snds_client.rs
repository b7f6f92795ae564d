//! The SNDS client: fetches the legacy `data.aspx` and `ipStatus.aspx` reports with the key
//! from the automated-access URL, and the new API's reports with a bearer token. The only
//! SNDS module that does network IO; parsing is `snds`'s. A legacy base URL `file:DIR`
//! reads the same reports from files instead (`DIR/data.csv` for the latest day,
//! `DIR/data-MMDDYY.csv`, `DIR/ipStatus.csv`), for the demo and for work without network.
//!
//! **The key and tokens never appear in an error, `Display` or `Debug` output.** URLs in
//! errors carry `key=***`; reqwest's errors are stripped of their URL and scrubbed.

use crate::oauth::{self, OAuthConfig};
use crate::snds::{self, AnswerEnd, IpStatusRange, SndsDataRow, SndsParseError};
use crate::zone::Zone;
use chrono::NaiveDate;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use url::Url;

/// Where the legacy automated-access pages live (`/data.aspx`, `/ipStatus.aspx`).
pub const DEFAULT_LEGACY_BASE_URL: &str = "https://sendersupport.olc.protection.outlook.com/snds";
/// The new SNDS REST API (from June 2026).
pub const DEFAULT_API_BASE_URL: &str = "https://substrate.office.com/ip-domain-management-snds";
pub const DEFAULT_AUTHORIZE_URL: &str =
    "https://login.microsoftonline.com/consumers/oauth2/v2.0/authorize";
pub const DEFAULT_TOKEN_URL: &str = "https://login.microsoftonline.com/consumers/oauth2/v2.0/token";
pub const DEFAULT_DEVICE_CODE_URL: &str =
    "https://login.microsoftonline.com/consumers/oauth2/v2.0/devicecode";
/// The SNDS portal's own public client id.
pub const DEFAULT_CLIENT_ID: &str = "a53a6cc1-a1cd-46f7-a4aa-281cdabec33c";
/// [`DEFAULT_SCOPES`] as one space-separated string.
pub const DEFAULT_SCOPE: &str = "a53a6cc1-a1cd-46f7-a4aa-281cdabec33c/.default offline_access";
pub const DEFAULT_SCOPES: [&str; 2] = [
    "a53a6cc1-a1cd-46f7-a4aa-281cdabec33c/.default",
    "offline_access",
];

/// The OAuth configuration for the new SNDS API built from the defaults above.
pub fn default_oauth_config() -> OAuthConfig {
    OAuthConfig::public_client(
        DEFAULT_AUTHORIZE_URL,
        DEFAULT_TOKEN_URL,
        Some(DEFAULT_DEVICE_CODE_URL),
        DEFAULT_CLIENT_ID,
        &DEFAULT_SCOPES,
    )
}

/// Why a fetch failed; a caller branches on the variant. Every `url` is redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SndsClientError {
    /// The legacy pages answered HTML (a sign-in page): the key is bad or expired.
    #[error("snds {url} answered with a sign-in page: the key is bad or expired")]
    SignInPage { url: String },
    /// 404 or 410: an expired or mistyped link.
    #[error("snds {url} answered http {status}: the link has expired or is wrong")]
    NotFound { url: String, status: u16 },
    /// The API answered 401, 403, a redirect or an HTML page: log in again.
    #[error("snds api {url} wants a new login (http {status})")]
    LoginNeeded { url: String, status: u16 },
    /// The body is neither CSV nor JSON in a shape SNDS uses.
    #[error("snds {url} answered a body that is not a report: {cause}")]
    Unparseable { url: String, cause: SndsParseError },
    /// Any other status: a 4xx at once, a 5xx after the retries ran out.
    #[error("snds {url} answered http {status}{}", after_attempts(*.attempts))]
    Http {
        url: String,
        status: u16,
        attempts: u32,
    },
    /// A redirect to plain http beyond this machine, refused before connecting: following it
    /// would send the key (in the URL) unencrypted. `host` is the redirect's host only.
    #[error(
        "snds {url} redirected to plain http on {host}, which would send the key unencrypted: \
         not followed (only https, or http to this machine, is)"
    )]
    UnsafeRedirect { url: String, host: String },
    /// 429: SNDS asks to be asked less often. Retried like a 5xx, after the wait it asks
    /// for (at most the longest backoff: a longer one is [`SndsClientError::ComeBackLater`]).
    #[error(
        "snds {url} answered http 429: rate limited{}{}",
        after_attempts(*.attempts),
        wait_asked(*.retry_after_secs)
    )]
    RateLimited {
        url: String,
        attempts: u32,
        /// The wait its `Retry-After` asked for, in seconds, when it said.
        retry_after_secs: Option<u64>,
    },
    /// A 429 or 5xx whose `Retry-After` asks for a longer wait than fbl waits within a run
    /// (the longest backoff): not asked again in this run, rather than sooner than asked.
    #[error(
        "snds {url} answered http {status}{} and asked to come back after {retry_after_secs} s \
         (at {come_back_at}), longer than fbl waits in a run: not asked again in this run; \
         what was not fetched is asked for by the next run",
        after_attempts(*.attempts)
    )]
    ComeBackLater {
        url: String,
        status: u16,
        attempts: u32,
        retry_after_secs: u64,
        /// When that is, RFC 3339 in UTC.
        come_back_at: String,
    },
    #[error("snds {url} failed{}: {message}", after_attempts(*.attempts))]
    Network {
        url: String,
        message: String,
        attempts: u32,
    },
    #[error("snds {url} timed out{}", after_attempts(*.attempts))]
    Timeout { url: String, attempts: u32 },
    /// What was pasted as the automated-access URL has no usable key or address.
    #[error("snds automated access url unusable: {reason}")]
    BadAccessUrl { reason: String },
    #[error("snds base url {url} unusable: {reason}")]
    BadBaseUrl { url: String, reason: String },
    #[error("snds http client setup failed: {reason}")]
    ClientSetup { reason: String },
    /// A `file:` base that cannot be read.
    #[error("snds folder {}: {message}", .path.display())]
    Local { path: PathBuf, message: String },
}

fn wait_asked(retry_after_secs: Option<u64>) -> String {
    match retry_after_secs {
        Some(secs) => format!("; it asked to wait {secs} s before asking again"),
        None => String::new(),
    }
}

fn after_attempts(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

/// The legacy base URL and key taken from a pasted automated-access URL. `Debug` masks the
/// key.
#[derive(Clone, PartialEq, Eq)]
pub struct LegacyAccess {
    pub base_url: String,
    pub key: String,
}

impl fmt::Debug for LegacyAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LegacyAccess")
            .field("base_url", &self.base_url)
            .field("key", &"***")
            .finish()
    }
}

/// Reads the link SNDS shows under "Automated Access", such as
/// `https://sendersupport.olc.protection.outlook.com/snds/data.aspx?key=...`: the base is
/// the URL up to the page (`data.aspx`, `ipStatus.aspx`, `data/`), the key its `key`
/// parameter. Errors never quote the pasted text, which holds the key.
pub fn parse_automated_access_url(pasted: &str) -> Result<LegacyAccess, SndsClientError> {
    let bad = |reason: &str| SndsClientError::BadAccessUrl {
        reason: reason.to_owned(),
    };
    let url = Url::parse(pasted.trim()).map_err(|_| bad("not a url"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(bad("not an http or https url"));
    }
    if url.host_str().is_none() {
        return Err(bad("no host"));
    }
    if !encrypted_or_loopback(&url) {
        return Err(bad(
            "plain http would send the key unencrypted; use the https link SNDS shows",
        ));
    }
    let key = url
        .query_pairs()
        .find(|(name, _)| name.eq_ignore_ascii_case("key"))
        .map(|(_, value)| value.trim().to_owned())
        .filter(|key| !key.is_empty())
        .ok_or_else(|| bad("no key parameter"))?;
    let mut base = url.clone();
    base.set_query(None);
    base.set_fragment(None);
    let path = base.path().trim_end_matches('/').to_owned();
    let page = path.rsplit('/').next().unwrap_or("").to_ascii_lowercase();
    let known_page = matches!(
        page.as_str(),
        "data.aspx" | "ipstatus.aspx" | "data" | "ipstatus"
    );
    let base_path = if known_page {
        path.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("")
    } else {
        path.as_str()
    };
    base.set_path(base_path);
    let base_url = base.as_str().trim_end_matches('/').to_owned();
    Ok(LegacyAccess { base_url, key })
}

/// Timeouts, retries and the zone report times are read in.
#[derive(Debug, Clone)]
pub struct SndsClientOptions {
    pub connect_timeout: Duration,
    /// For a whole request, connection to last byte.
    pub timeout: Duration,
    /// Tries per fetch, the first included; 5xx and 429 answers and network errors are
    /// retried, other 4xx never.
    pub max_attempts: u32,
    /// The wait before the second try; it doubles for each further try up to `max_backoff`.
    /// A wait the server asks for (`Retry-After`) replaces it when longer; one longer than
    /// `max_backoff` is not waited for: the fetch fails with
    /// [`SndsClientError::ComeBackLater`].
    pub first_backoff: Duration,
    pub max_backoff: Duration,
    pub zone: Zone,
    /// Extra trust roots (PEM), added to the system's, for a server with a private CA.
    pub ca_file: Option<PathBuf>,
}

impl Default for SndsClientOptions {
    fn default() -> SndsClientOptions {
        SndsClientOptions {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(60),
            max_attempts: 3,
            first_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(30),
            zone: Zone::default_snds(),
            ca_file: None,
        }
    }
}

/// A data report: the body as received, with the key or token replaced by `***` wherever
/// the server echoed it, and its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct DataReport {
    pub body: String,
    pub content_type: Option<String>,
    pub rows: Vec<SndsDataRow>,
    /// Rows that could not be read, each naming its line or item; the others are in `rows`.
    /// Scrubbed of the key or token.
    pub rejected: Vec<SndsParseError>,
}

/// An IP status report: the body as received, scrubbed of the key or token as a
/// [`DataReport`]'s, and its ranges.
#[derive(Debug, Clone, PartialEq)]
pub struct IpStatusReport {
    pub body: String,
    pub content_type: Option<String>,
    pub ranges: Vec<IpStatusRange>,
}

type Sleep = Arc<dyn Fn(Duration) + Send + Sync>;

/// Fetches SNDS reports. Holds no key or token: they are passed per call.
pub struct SndsClient {
    /// Follows redirects: a bad legacy key may be redirected to a sign-in page.
    legacy_http: reqwest::blocking::Client,
    /// Follows none: on the API a redirect means the login must be renewed.
    api_http: reqwest::blocking::Client,
    options: SndsClientOptions,
    sleep: Sleep,
}

impl fmt::Debug for SndsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SndsClient")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Which of the two SNDS surfaces a request goes to; they read failures differently.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Surface {
    Legacy,
    Api,
}

/// A request target: the real URL and the one shown in errors.
struct Target {
    url: Url,
    shown: String,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target").field("url", &self.shown).finish()
    }
}

/// A 2xx answer.
struct Answer {
    content_type: Option<String>,
    body: String,
    /// Whether a cut in transfer would have failed the request.
    end: AnswerEnd,
}

/// A failed try, and the wait the server asked for before the next (`Retry-After`).
struct Failed {
    error: SndsClientError,
    retry_after: Option<Duration>,
    /// The status of an answer that failed; none for a transport error.
    status: Option<u16>,
}

impl From<SndsClientError> for Failed {
    fn from(error: SndsClientError) -> Failed {
        Failed {
            error,
            retry_after: None,
            status: None,
        }
    }
}

impl SndsClient {
    pub fn new(options: SndsClientOptions) -> Result<SndsClient, SndsClientError> {
        let roots = match &options.ca_file {
            Some(path) => oauth::read_ca_file(path)
                .map_err(|reason| SndsClientError::ClientSetup { reason })?,
            None => Vec::new(),
        };
        let build = |redirect: reqwest::redirect::Policy| {
            reqwest::blocking::Client::builder()
                .connect_timeout(options.connect_timeout)
                .timeout(options.timeout)
                .redirect(redirect)
                // The legacy URL holds the key: a redirect's target is not told where it
                // came from.
                .referer(false)
                .user_agent(concat!("fbl/", env!("CARGO_PKG_VERSION")))
                .tls_certs_merge(roots.clone())
                .build()
                .map_err(|err| SndsClientError::ClientSetup {
                    reason: oauth::describe_transport_error(err, &[]),
                })
        };
        Ok(SndsClient {
            legacy_http: build(legacy_redirects())?,
            api_http: build(reqwest::redirect::Policy::none())?,
            options,
            sleep: Arc::new(std::thread::sleep),
        })
    }

    /// Replaces the wait between retries, so tests need not wait.
    pub fn with_sleep(mut self, sleep: impl Fn(Duration) + Send + Sync + 'static) -> SndsClient {
        self.sleep = Arc::new(sleep);
        self
    }

    pub fn options(&self) -> &SndsClientOptions {
        &self.options
    }

    /// `GET {base}/data.aspx?key=KEY[&date=MMDDYY]`; without a date SNDS sends its latest
    /// day. An empty body is a report with no rows. With a `file:DIR` base, reads
    /// `DIR/data-MMDDYY.csv` (or `DIR/data.csv` without a date) and needs no key; a missing
    /// day file is a day without data.
    pub fn fetch_legacy_data(
        &self,
        base_url: &str,
        key: &str,
        date: Option<NaiveDate>,
    ) -> Result<DataReport, SndsClientError> {
        let date = date.map(|date| date.format("%m%d%y").to_string());
        let (shown, answer) = match local_folder(base_url) {
            Some(folder) => {
                let name = match &date {
                    Some(date) => format!("data-{date}.csv"),
                    None => "data.csv".to_owned(),
                };
                read_local(folder, &name)?
            }
            None => {
                let target = legacy_target(base_url, "data.aspx", key, date.as_deref())?;
                let answer = self.get(&target, Surface::Legacy, key, None)?;
                (target.shown, answer)
            }
        };
        data_report(answer, &shown, Surface::Legacy, key, &self.options.zone)
    }

    /// `GET {base}/ipStatus.aspx?key=KEY`.
    pub fn fetch_legacy_ip_status(
        &self,
        base_url: &str,
        key: &str,
    ) -> Result<IpStatusReport, SndsClientError> {
        let (shown, answer) = match local_folder(base_url) {
            Some(folder) => read_local(folder, "ipStatus.csv")?,
            None => {
                let target = legacy_target(base_url, "ipStatus.aspx", key, None)?;
                let answer = self.get(&target, Surface::Legacy, key, None)?;
                (target.shown, answer)
            }
        };
        let body = scrubbed(&answer.body, key);
        let ranges = snds::parse_ip_status_csv_answer(&body, answer.end)
            .map_err(|err| parse_failure(err, &shown, Surface::Legacy, &[key]))?;
        Ok(IpStatusReport {
            body,
            content_type: answer.content_type,
            ranges,
        })
    }

    /// `GET {api_base}/api/report/data/{yyyy-MM-dd}` with `Authorization: Bearer`. The answer
    /// may be CSV or JSON.
    pub fn fetch_api_data(
        &self,
        api_base_url: &str,
        access_token: &str,
        date: NaiveDate,
    ) -> Result<DataReport, SndsClientError> {
        let path = format!("api/report/data/{}", date.format("%Y-%m-%d"));
        let target = api_target(api_base_url, &path)?;
        let answer = self.get(&target, Surface::Api, "", Some(access_token))?;
        data_report(
            answer,
            &target.shown,
            Surface::Api,
            access_token,
            &self.options.zone,
        )
    }

    /// `GET {api_base}/api/report/status/ip` with `Authorization: Bearer`.
    pub fn fetch_api_ip_status(
        &self,
        api_base_url: &str,
        access_token: &str,
    ) -> Result<IpStatusReport, SndsClientError> {
        let target = api_target(api_base_url, "api/report/status/ip")?;
        let answer = self.get(&target, Surface::Api, "", Some(access_token))?;
        let body = scrubbed(&answer.body, access_token);
        let ranges =
            snds::parse_ip_status_answer(&body, answer.content_type.as_deref(), answer.end)
                .map_err(|err| parse_failure(err, &target.shown, Surface::Api, &[access_token]))?;
        Ok(IpStatusReport {
            body,
            content_type: answer.content_type,
            ranges,
        })
    }

    /// GETs `target`, retrying 5xx and 429 answers and network errors with exponential
    /// backoff, or after the wait the server asks for.
    fn get(
        &self,
        target: &Target,
        surface: Surface,
        key: &str,
        bearer: Option<&str>,
    ) -> Result<Answer, SndsClientError> {
        let secrets = [key, bearer.unwrap_or("")];
        let attempts = self.options.max_attempts.max(1);
        let mut attempt = 1;
        loop {
            let failed = match self.get_once(target, surface, bearer, &secrets, attempt) {
                Ok(answer) => return Ok(answer),
                Err(failed) => failed,
            };
            let retryable = match &failed.error {
                SndsClientError::Http { status, .. } => *status >= 500,
                SndsClientError::RateLimited { .. }
                | SndsClientError::Network { .. }
                | SndsClientError::Timeout { .. } => true,
                _ => false,
            };
            if !retryable {
                return Err(failed.error);
            }
            // A wait longer than a run waits (a cron job must not sleep for an hour) is not
            // cut short either: asking again sooner than asked hammers a service that said it
            // is overloaded or that this client asks too often. The next run asks.
            if let (Some(asked), Some(status)) = (failed.retry_after, failed.status)
                && asked > self.options.max_backoff
            {
                let come_back_at = chrono::TimeDelta::from_std(asked)
                    .ok()
                    .and_then(|wait| chrono::Utc::now().checked_add_signed(wait))
                    .map(|at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
                    .unwrap_or_else(|| "a time past any calendar".to_owned());
                return Err(SndsClientError::ComeBackLater {
                    url: target.shown.clone(),
                    status,
                    attempts: attempt,
                    retry_after_secs: asked.as_secs(),
                    come_back_at,
                });
            }
            if attempt >= attempts {
                return Err(failed.error);
            }
            // What the server asks for, never less than the backoff (a `Retry-After: 0` or a
            // date past would retry at once, every time).
            let wait = match failed.retry_after {
                Some(asked) => asked.max(self.backoff(attempt)),
                None => self.backoff(attempt),
            };
            (self.sleep)(wait);
            attempt += 1;
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.options
            .first_backoff
            .saturating_mul(factor)
            .min(self.options.max_backoff)
    }

    fn get_once(
        &self,
        target: &Target,
        surface: Surface,
        bearer: Option<&str>,
        secrets: &[&str],
        attempt: u32,
    ) -> Result<Answer, Failed> {
        let transport = |err: reqwest::Error| {
            if let Some(refused) = refused_redirect(&err) {
                return SndsClientError::UnsafeRedirect {
                    url: target.shown.clone(),
                    host: refused.host.clone(),
                };
            }
            if err.is_timeout() {
                SndsClientError::Timeout {
                    url: target.shown.clone(),
                    attempts: attempt,
                }
            } else {
                SndsClientError::Network {
                    url: target.shown.clone(),
                    message: oauth::describe_transport_error(err, secrets),
                    attempts: attempt,
                }
            }
        };
        let http = match surface {
            Surface::Legacy => &self.legacy_http,
            Surface::Api => &self.api_http,
        };
        let mut request = http.get(target.url.clone()).header(
            reqwest::header::ACCEPT,
            "text/csv, application/json;q=0.9, */*;q=0.5",
        );
        if let Some(token) = bearer {
            request = request.bearer_auth(token);
        }
        let response = request.send().map_err(transport)?;
        let status = response.status().as_u16();
        let url = target.shown.clone();
        let retry_after = retry_after(&response);
        let error = match (surface, status) {
            (_, 200..=299) => None,
            (_, 404 | 410) => Some(SndsClientError::NotFound { url, status }),
            (_, 429) => Some(SndsClientError::RateLimited {
                url,
                attempts: attempt,
                retry_after_secs: retry_after.map(|wait| wait.as_secs()),
            }),
            (Surface::Api, 300..=399 | 401 | 403) => {
                Some(SndsClientError::LoginNeeded { url, status })
            }
            _ => Some(SndsClientError::Http {
                url,
                status,
                attempts: attempt,
            }),
        };
        if let Some(error) = error {
            return Err(Failed {
                error,
                retry_after,
                status: Some(status),
            });
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let end = answer_end(&response);
        let body = response.text().map_err(transport)?;
        Ok(Answer {
            content_type,
            body,
            end,
        })
    }
}

/// Whether the HTTP client checks that the whole body came: it does for a body of a told
/// `Content-Length` or sent in chunks (a connection closed before the end is an error),
/// not for one ended by closing the connection, which a connection dropped mid-answer
/// looks exactly like.
fn answer_end(response: &reqwest::blocking::Response) -> AnswerEnd {
    let headers = response.headers();
    let chunked = headers
        .get_all(reqwest::header::TRANSFER_ENCODING)
        .iter()
        .any(|value| {
            value
                .to_str()
                .is_ok_and(|value| value.to_ascii_lowercase().contains("chunked"))
        });
    if chunked || headers.contains_key(reqwest::header::CONTENT_LENGTH) {
        AnswerEnd::Checked
    } else {
        AnswerEnd::Unchecked
    }
}

/// The wait a `Retry-After` header asks for: seconds, or an HTTP date (a date past is no
/// wait).
fn retry_after(response: &reqwest::blocking::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    Some(
        (at.with_timezone(&chrono::Utc) - chrono::Utc::now())
            .to_std()
            .unwrap_or(Duration::ZERO),
    )
}

/// How many redirects the legacy client follows in a row.
const MAX_REDIRECTS: usize = 5;

/// The legacy client's redirects: up to [`MAX_REDIRECTS`], each to https or to http on this
/// machine only. The URL carries the key, and a redirect (from https too) to plain http
/// elsewhere would send it unencrypted: refused before connecting.
fn legacy_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() > MAX_REDIRECTS {
            let error = format!("more than {MAX_REDIRECTS} redirects");
            attempt.error(error)
        } else if !encrypted_or_loopback(attempt.url()) {
            let host = attempt.url().host_str().unwrap_or("").to_owned();
            attempt.error(RefusedRedirect { host })
        } else {
            attempt.follow()
        }
    })
}

/// Why [`legacy_redirects`] stopped: a redirect to plain http beyond loopback.
#[derive(Debug)]
struct RefusedRedirect {
    host: String,
}

impl fmt::Display for RefusedRedirect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "refused a redirect to plain http on {}", self.host)
    }
}

impl std::error::Error for RefusedRedirect {}

/// The refusal of [`legacy_redirects`] in a transport error, if that is what it is.
fn refused_redirect(err: &reqwest::Error) -> Option<&RefusedRedirect> {
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<RefusedRedirect>() {
            return Some(refused);
        }
        source = cause.source();
    }
    None
}

/// Parses a data answer, keeping the rows that can be read.
fn data_report(
    answer: Answer,
    shown: &str,
    surface: Surface,
    secret: &str,
    zone: &Zone,
) -> Result<DataReport, SndsClientError> {
    let body = scrubbed(&answer.body, secret);
    let parse =
        snds::parse_data_keeping_good_rows(&body, answer.content_type.as_deref(), zone, answer.end)
            .map_err(|err| parse_failure(err, shown, surface, &[secret]))?;
    let mut rejected = parse.rejected;
    for err in &mut rejected {
        err.redact(secret);
    }
    Ok(DataReport {
        body,
        content_type: answer.content_type,
        rows: parse.rows,
        rejected,
    })
}

/// The body to parse and keep: `secret` (the key or token), as sent and URL-encoded, replaced by
/// `***` wherever a server echoed it. An error quotes at most 60 characters of a value, so
/// the secret must go before quoting: cut first, its first characters would be left.
fn scrubbed(body: &str, secret: &str) -> String {
    oauth::redact(body, &[secret])
}

/// The folder of a `file:DIR` base URL.
pub fn local_folder(base_url: &str) -> Option<&Path> {
    let rest = base_url.trim().strip_prefix("file:")?;
    // `file:///srv/snds` and `file:/srv/snds` name the same folder.
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    Some(Path::new(rest))
}

/// Reads `folder/name` as if SNDS had sent it; a missing file is an empty answer, a missing
/// folder an error.
fn read_local(folder: &Path, name: &str) -> Result<(String, Answer), SndsClientError> {
    let path = folder.join(name);
    let shown = format!("file:{}", path.display());
    if !folder.is_dir() {
        return Err(SndsClientError::Local {
            path: folder.to_path_buf(),
            message: "not a folder".to_owned(),
        });
    }
    let body = match std::fs::read_to_string(&path) {
        Ok(body) => body,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(err) => {
            return Err(SndsClientError::Local {
                path,
                message: err.to_string(),
            });
        }
    };
    Ok((
        shown,
        Answer {
            content_type: Some("text/csv".to_owned()),
            body,
            // A file may be one a download cut short left behind.
            end: AnswerEnd::Unchecked,
        },
    ))
}

/// A parser's refusal as a client error: an HTML page is a sign-in page on the legacy
/// surface and a lapsed login on the API; anything else is unparseable.
fn parse_failure(
    mut err: SndsParseError,
    shown: &str,
    surface: Surface,
    secrets: &[&str],
) -> SndsClientError {
    let url = shown.to_owned();
    match (err.clone(), surface) {
        (SndsParseError::SignInPage, Surface::Legacy) => SndsClientError::SignInPage { url },
        (SndsParseError::SignInPage, Surface::Api) => {
            SndsClientError::LoginNeeded { url, status: 200 }
        }
        _ => {
            for secret in secrets {
                err.redact(secret);
            }
            SndsClientError::Unparseable { url, cause: err }
        }
    }
}

fn legacy_target(
    base_url: &str,
    page: &str,
    key: &str,
    date: Option<&str>,
) -> Result<Target, SndsClientError> {
    if key.trim().is_empty() {
        return Err(SndsClientError::BadAccessUrl {
            reason: "the key is empty".to_owned(),
        });
    }
    let build = |key: &str| -> Result<Url, SndsClientError> {
        let mut url = page_url(base_url, page, &[key])?;
        url.query_pairs_mut().append_pair("key", key);
        if let Some(date) = date {
            url.query_pairs_mut().append_pair("date", date);
        }
        Ok(url)
    };
    Ok(Target {
        url: build(key)?,
        shown: build("***")?.to_string(),
    })
}

fn api_target(base_url: &str, path: &str) -> Result<Target, SndsClientError> {
    let url = page_url(base_url, path, &[])?;
    Ok(Target {
        shown: url.to_string(),
        url,
    })
}

/// `{base}/{page}`; the base must be an http(s) URL without a query.
fn page_url(base_url: &str, page: &str, secrets: &[&str]) -> Result<Url, SndsClientError> {
    let base = base_url.trim().trim_end_matches('/');
    let bad = |reason: &str| SndsClientError::BadBaseUrl {
        url: oauth::redact(base, secrets),
        reason: reason.to_owned(),
    };
    if base.contains('?') || base.contains('#') {
        // Likely the whole automated-access link: do not echo it, it holds the key.
        return Err(SndsClientError::BadBaseUrl {
            url: "(hidden: it has a query)".to_owned(),
            reason: "a base url has no query; pass the part before the page name".to_owned(),
        });
    }
    let url = Url::parse(&format!("{base}/{page}")).map_err(|err| bad(&err.to_string()))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(bad("not an http or https url"));
    }
    if !encrypted_or_loopback(&url) {
        return Err(bad(
            "plain http would send the key or token unencrypted; use https (http is for loopback only)",
        ));
    }
    Ok(url)
}

/// An https URL, or an http one to this machine: the SNDS key and OAuth tokens never cross
/// a network in the clear (as plain-text IMAP is refused beyond loopback).
pub(crate) fn encrypted_or_loopback(url: &Url) -> bool {
    url.scheme() == "https"
        || url
            .host_str()
            .is_some_and(crate::imap_client::is_loopback_host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_tokens_go_over_http_only_to_loopback() {
        for url in [
            "https://sendersupport.olc.protection.outlook.com/snds",
            "http://127.0.0.1:8080/snds",
            "http://[::1]:8080/snds",
            "http://localhost/snds",
        ] {
            assert!(legacy_target(url, "data.aspx", "k1", None).is_ok(), "{url}");
            assert!(api_target(url, "v1/data").is_ok(), "{url}");
        }
        for url in [
            "http://sendersupport.olc.protection.outlook.com/snds",
            "http://192.0.2.1:9/snds",
            "http://127.0.0.1.example.net/snds",
        ] {
            let err = legacy_target(url, "data.aspx", "K-SECRET", None).unwrap_err();
            assert!(err.to_string().contains("plain http"), "{url}: {err}");
            assert!(!err.to_string().contains("K-SECRET"), "{err}");
            assert!(api_target(url, "v1/data").is_err(), "{url}");
        }
        let err = parse_automated_access_url(
            "http://sendersupport.olc.protection.outlook.com/snds/data.aspx?key=K-SECRET",
        )
        .unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        assert!(!err.to_string().contains("K-SECRET"), "{err}");
    }

    #[test]
    fn pasted_automated_access_urls() {
        let check = |pasted: &str, base: &str, key: &str| {
            let access = parse_automated_access_url(pasted).unwrap();
            assert_eq!(
                (access.base_url.as_str(), access.key.as_str()),
                (base, key),
                "{pasted}"
            );
            assert!(!format!("{access:?}").contains(key));
        };
        let base = DEFAULT_LEGACY_BASE_URL;
        check(
            &format!("{base}/data.aspx?key=ab12-cd34"),
            base,
            "ab12-cd34",
        );
        check(
            &format!(" {base}/ipStatus.aspx?key=ab12-cd34\n"),
            base,
            "ab12-cd34",
        );
        check(&format!("{base}/data/?key=ab12-cd34"), base, "ab12-cd34");
        check(
            &format!("{base}/data.aspx?date=021026&key=ab12"),
            base,
            "ab12",
        );
        check(
            "https://postmaster.live.com/snds/data.aspx?key=k1",
            "https://postmaster.live.com/snds",
            "k1",
        );
        check(
            "http://127.0.0.1:8080/snds/?key=k1",
            "http://127.0.0.1:8080/snds",
            "k1",
        );
        for bad in [
            "not a url key=secret-k",
            "ftp://h/snds/data.aspx?key=secret-k",
            "https://h/snds/data.aspx",
            "https://h/snds/data.aspx?key=",
        ] {
            let err = parse_automated_access_url(bad).unwrap_err();
            assert!(matches!(err, SndsClientError::BadAccessUrl { .. }), "{bad}");
            assert!(
                !err.to_string().contains("secret-k") && !format!("{err:?}").contains("secret-k")
            );
        }
    }

    #[test]
    fn legacy_urls_carry_key_and_date_but_show_neither_key() {
        let target =
            legacy_target("https://h/snds/", "data.aspx", "k/ey+1", Some("021026")).unwrap();
        assert_eq!(
            target.url.as_str(),
            "https://h/snds/data.aspx?key=k%2Fey%2B1&date=021026"
        );
        assert_eq!(target.shown, "https://h/snds/data.aspx?key=***&date=021026");
        let err = legacy_target(
            "https://h/snds/data.aspx?key=sekrit",
            "data.aspx",
            "sekrit",
            None,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("sekrit") && !format!("{err:?}").contains("sekrit"));
        let err = legacy_target("h:not a url sekrit", "data.aspx", "sekrit", None).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("sekrit"), "{err:?}");
        assert!(matches!(
            legacy_target("https://h/snds", "data.aspx", " ", None),
            Err(SndsClientError::BadAccessUrl { .. })
        ));
    }

    #[test]
    fn api_urls() {
        let target = api_target(DEFAULT_API_BASE_URL, "api/report/status/ip").unwrap();
        assert_eq!(
            target.url.as_str(),
            "https://substrate.office.com/ip-domain-management-snds/api/report/status/ip"
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let client = SndsClient::new(SndsClientOptions {
            first_backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(5),
            ..SndsClientOptions::default()
        })
        .unwrap();
        let waits: Vec<u64> = (1..=4).map(|n| client.backoff(n).as_secs()).collect();
        assert_eq!(waits, [2, 4, 5, 5]);
    }

    #[test]
    fn default_oauth_config_uses_the_snds_portal_client() {
        let config = default_oauth_config();
        assert_eq!(config.client_id, DEFAULT_CLIENT_ID);
        assert_eq!(config.scopes.join(" "), DEFAULT_SCOPE);
        assert_eq!(
            config.device_code_url.as_deref(),
            Some(DEFAULT_DEVICE_CODE_URL)
        );
    }
}
