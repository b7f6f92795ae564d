//! `fbl snds`: fetch Microsoft SNDS data, show its history, log in to the new SNDS API once,
//! and say what is configured.

use super::{Context, Outcome, print_json};
use crate::config::SndsConfig;
use crate::ingest::{Kept, store_failure};
use crate::oauth::OAuthClient;
use crate::snds::IpStatusRange;
use crate::snds_account::{self, TokenPlace, TokenState};
use crate::snds_fetch::{Days, FetchOptions, SndsSummary};
use crate::store::{IpStatusPeriod, SndsAccountState, SndsRowFilter, StoredSndsRow};
use anyhow::{Context as _, Result, bail};
use chrono::{NaiveDate, TimeDelta};
use serde::Serialize;
use std::net::IpAddr;
use std::path::Path;

/// Microsoft SNDS: per IP and day, how Outlook.com sees the mail, and whether it blocks the
/// IP. Configured in [snds]: legacy accounts with their automated-access key, and the new
/// API with a one-time login.
#[derive(Debug, clap::Subcommand)]
pub enum SndsCommand {
    /// Fetch data and ipStatus of every account into the store
    ///
    /// Fetches the latest day by default, one day with --date, or every day from --since to
    /// yesterday; days already stored are skipped unless --refresh (a --date day that had no
    /// data is asked again). The ipStatus is fetched every time. Raises the alerts the data calls for, each once: an IP turned YELLOW or
    /// RED, hit spam traps, was blocked or unblocked. Exit 1 when an account failed or an
    /// alert was raised.
    Fetch {
        /// One day, YYYY-MM-DD
        #[arg(long, conflicts_with = "since", value_name = "DAY")]
        date: Option<NaiveDate>,
        /// Every day from this one to yesterday, YYYY-MM-DD (at most 90 days back)
        #[arg(long, value_name = "DAY")]
        since: Option<NaiveDate>,
        /// Fetch days again even when they are stored
        #[arg(long)]
        refresh: bool,
        /// Print the summary and the alerts as JSON
        #[arg(long)]
        json: bool,
    },
    /// Show the stored history as a table, newest day first
    ///
    /// Columns: day, IP, activity window (as SNDS wrote it), message recipients, filter
    /// result, complaint rate, trap hits, and whether the latest ipStatus lists the IP as
    /// blocked. Then the ranges the latest ipStatus lists, with since when their addresses
    /// have been listed so (a blocked range that grew keeps its older addresses' start).
    Show {
        /// Only this IP
        #[arg(long)]
        ip: Option<IpAddr>,
        /// How many days, counted back from the newest day stored
        #[arg(long, default_value_t = 14)]
        days: u32,
        /// Print the rows and the ipStatus ranges as JSON
        #[arg(long)]
        json: bool,
    },
    /// Sign in to the new SNDS API once, for unattended fetches
    ///
    /// Authorization code with PKCE: open the printed address, sign in, and a loopback
    /// listener receives the redirect (or paste the address the browser lands on, when it
    /// runs on another machine or [snds.api] redirect_uri is set); or --device-code. Stores
    /// the refresh token (mode 0600, in token_file or the store) so that cron runs need
    /// nobody.
    Login {
        /// Use the device-code flow (a code to type on another device)
        #[arg(long)]
        device_code: bool,
        /// Do not try to open a browser; only print the address to open
        #[arg(long)]
        no_browser: bool,
    },
    /// Say what is configured and fetched, and the state of the API's token
    ///
    /// Per account: where it fetches from, where its key comes from, when it last fetched,
    /// what is stored, the blocked ranges, and for the API where the refresh token is and
    /// when it was saved; never a key or token. Exit 1 when an account cannot fetch (no key,
    /// no login).
    Status {
        /// Print the status as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(context: &Context, command: SndsCommand) -> Result<Outcome> {
    let configured = || {
        context
            .config
            .snds
            .as_ref()
            .context("no [snds] section in the configuration")
    };
    match command {
        SndsCommand::Fetch {
            date,
            since,
            refresh,
            json,
        } => {
            let days = match (date, since) {
                (Some(day), _) => Days::One(day),
                (None, Some(day)) => Days::Since(day),
                (None, None) => Days::Latest,
            };
            fetch(context, configured()?, FetchOptions { days, refresh }, json)
        }
        SndsCommand::Show { ip, days, json } => show(context, ip, days, json),
        SndsCommand::Login {
            device_code,
            no_browser,
        } => login(context, configured()?, device_code, no_browser),
        SndsCommand::Status { json } => status(context, configured()?, json),
    }
}

fn fetch(
    context: &Context,
    snds: &SndsConfig,
    options: FetchOptions,
    json: bool,
) -> Result<Outcome> {
    let mut store = context.open_store()?;
    let _lock = store.lock()?;
    let place = store.location().to_string();
    let fetched = crate::snds_fetch::fetch(snds, &mut store, options, &context.now)
        .map_err(|error| store_failure(error, &place, Kept::SndsFetched))?;
    if json {
        print_json(&fetched)?;
    } else {
        print!("{}", describe(&fetched.summary));
        for alert in &fetched.alerts {
            println!("  alert: {}", alert.message);
        }
        for error in &fetched.summary.errors {
            eprintln!("fbl: {error}");
        }
    }
    Ok(
        if fetched.summary.needs_attention() || !fetched.alerts.is_empty() {
            Outcome::Attention
        } else {
            Outcome::Clean
        },
    )
}

/// One line per account, indented, for `fbl snds fetch` and `fbl run`.
pub(super) fn describe(summary: &SndsSummary) -> String {
    let mut text = String::new();
    for account in &summary.accounts {
        if account.waiting {
            text.push_str(&format!(
                "  snds {}: not asked: SNDS asked to come back at {}\n",
                account.account,
                account.come_back_at.as_deref().unwrap_or("a later time")
            ));
            continue;
        }
        let days = match (account.days.first(), account.days.last()) {
            (Some(first), Some(last)) if first != last => {
                format!("{} days ({first} to {last})", account.days.len())
            }
            (Some(day), _) => format!("1 day ({day})"),
            _ => "no days".to_owned(),
        };
        let mut line = format!(
            "  snds {}: {days}, {} rows received, {} new",
            account.account, account.rows, account.rows_added
        );
        if account.rows_updated > 0 {
            line.push_str(&format!(", {} changed", account.rows_updated));
        }
        if !account.empty_days.is_empty() {
            line.push_str(&format!(
                ", {} without data",
                days_text(account.empty_days.len())
            ));
        }
        if account.skipped_days > 0 {
            line.push_str(&format!(
                ", {} stored already",
                days_text(account.skipped_days as usize)
            ));
        }
        if let (Some(ranges), Some(blocked)) = (account.ip_status_ranges, account.blocked_ranges) {
            line.push_str(&format!(
                "; ip status {}, {blocked} blocked",
                super::counted(ranges, "range", "ranges")
            ));
        }
        text.push_str(&line);
        text.push('\n');
    }
    text
}

/// A URL to show: a user name and password written into it (`https://user:pw@host/`) left
/// out, as they are secrets.
fn without_userinfo(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) if !parsed.username().is_empty() || parsed.password().is_some() => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

/// "1 day", "2 days".
fn days_text(n: usize) -> String {
    super::counted(n as u64, "day", "days")
}

/// A stored row as `show --json` prints it.
#[derive(Serialize)]
struct ShownRow<'a> {
    #[serde(flatten)]
    row: &'a StoredSndsRow,
    /// Whether the latest ipStatus of the account lists the IP in a blocked range.
    blocked: bool,
}

#[derive(Serialize)]
struct Shown<'a> {
    rows: Vec<ShownRow<'a>>,
    ip_status: &'a [IpStatusPeriod],
}

fn show(context: &Context, ip: Option<IpAddr>, days: u32, json: bool) -> Result<Outcome> {
    let store = context.open_store_for_reading()?;
    let mut filter = SndsRowFilter {
        ip: ip.map(|ip| ip.to_string()),
        ..SndsRowFilter::default()
    };
    let rows = match store.snds_newest_day(&filter)? {
        Some(newest) => {
            let newest: NaiveDate = newest
                .parse()
                .with_context(|| format!("the store holds a bad snds day {newest:?}"))?;
            let first = newest - TimeDelta::days(i64::from(days.max(1)) - 1);
            filter.from_day = Some(first.to_string());
            store.snds_rows(&filter)?
        }
        None => Vec::new(),
    };
    let ip_status: Vec<IpStatusPeriod> = store
        .snds_current_ip_status(None)?
        .into_iter()
        .filter(|period| ip.is_none_or(|ip| period_contains(period, ip)))
        .collect();
    let blocked = |row: &StoredSndsRow| {
        let Ok(address) = row.ip.parse::<IpAddr>() else {
            return false;
        };
        ip_status.iter().any(|period| {
            period.blocked && period.account == row.account && period_contains(period, address)
        })
    };
    let shown = Shown {
        rows: rows
            .iter()
            .map(|row| ShownRow {
                row,
                blocked: blocked(row),
            })
            .collect(),
        ip_status: &ip_status,
    };
    if json {
        print_json(&shown)?;
        return Ok(Outcome::Clean);
    }
    if shown.rows.is_empty() {
        println!(
            "no SNDS data stored{}",
            if ip.is_some() { " for this IP" } else { "" }
        );
    } else {
        print_table(&shown.rows);
    }
    // Each range in parts by when its addresses began to be listed so: a blocked range that
    // grew keeps its older addresses' start.
    let listed_since = store
        .snds_current_ip_status_since(None)?
        .into_iter()
        .filter(|part| ip.is_none_or(|ip| ip_in(&part.first_ip, &part.last_ip, ip)));
    for period in listed_since {
        let range = crate::snds_alerts::range_text(&period.first_ip, &period.last_ip);
        let state = if period.blocked {
            "blocked"
        } else {
            "listed (not blocked)"
        };
        let details = if period.details.is_empty() {
            String::new()
        } else {
            format!(": {}", period.details)
        };
        println!(
            "{} {range} {state} since {}{details}",
            period.account, period.since
        );
    }
    Ok(Outcome::Clean)
}

fn period_contains(period: &IpStatusPeriod, ip: IpAddr) -> bool {
    ip_in(&period.first_ip, &period.last_ip, ip)
}

fn ip_in(first_ip: &str, last_ip: &str, ip: IpAddr) -> bool {
    match (first_ip.parse(), last_ip.parse()) {
        (Ok(first_ip), Ok(last_ip)) => IpStatusRange {
            first_ip,
            last_ip,
            blocked: false,
            blocked_raw: String::new(),
            details: String::new(),
        }
        .contains(ip),
        _ => false,
    }
}

fn print_table(rows: &[ShownRow]) {
    let several_accounts = rows.iter().any(|r| r.row.account != rows[0].row.account);
    let mut lines: Vec<Vec<String>> = Vec::with_capacity(rows.len() + 1);
    let mut header = vec![
        "day",
        "ip",
        "window",
        "recipients",
        "filter",
        "complaints",
        "traps",
        // By the latest ipStatus, not on the row's day: fbl knows a block from when it
        // first fetched the list that holds it (the lines under the table say since when).
        "blocked now",
    ];
    if several_accounts {
        header.insert(0, "account");
    }
    lines.push(header.into_iter().map(str::to_owned).collect());
    for shown in rows {
        let row = shown.row;
        let filter = if row.filter_result == "unknown" {
            row.filter_result_raw.clone()
        } else {
            row.filter_result.to_ascii_uppercase()
        };
        let mut line = vec![
            row.day.clone(),
            row.ip.clone(),
            format!("{} - {}", row.activity_start_raw, row.activity_end_raw),
            row.message_recipients.to_string(),
            filter,
            row.complaint_rate_raw.clone(),
            row.trap_hits.to_string(),
            if shown.blocked { "yes" } else { "no" }.to_owned(),
        ];
        if several_accounts {
            line.insert(0, row.account.clone());
        }
        lines.push(line);
    }
    let columns = lines[0].len();
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    // Counts read best right-aligned.
    let numeric = |name: &str| matches!(name, "recipients" | "traps");
    let names = lines[0].clone();
    for line in &lines {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .zip(&names)
            .map(|((cell, width), name)| {
                if numeric(name) {
                    format!("{cell:>width$}")
                } else {
                    format!("{cell:<width$}")
                }
            })
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

fn login(
    context: &Context,
    snds: &SndsConfig,
    device_code: bool,
    no_browser: bool,
) -> Result<Outcome> {
    let Some(api) = &snds.api else {
        bail!("login is for the new SNDS API, and the configuration has no [snds.api] section");
    };
    let client = OAuthClient::new(snds_account::oauth_config(snds, api)?)?;
    let tokens = super::oauth_login::sign_in(
        &client,
        api.redirect_uri.as_deref(),
        device_code,
        !no_browser,
    )?;
    let Some(refresh_token) = tokens.refresh_token.as_deref() else {
        bail!(
            "snds account {}: the token endpoint gave no refresh token; ask for the offline_access scope",
            api.name
        );
    };
    let mut store = context.open_store()?;
    snds_account::save_refresh_token(api, &mut store, refresh_token, &context.now)?;
    let place = TokenPlace::of(api);
    if place == TokenPlace::Store
        && let Some(path) = store.path()
    {
        restrict_to_owner(path)?;
    }
    eprintln!(
        "snds account {}: signed in; refresh token stored in {place} (mode 0600)",
        api.name
    );
    Ok(Outcome::Clean)
}

/// Makes the store (and its WAL files) readable by its owner only, since it now holds a
/// refresh token.
fn restrict_to_owner(store: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for suffix in ["", "-wal", "-shm"] {
        let mut path = store.as_os_str().to_owned();
        path.push(suffix);
        let path = Path::new(&path);
        if path.exists() {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
                .with_context(|| format!("cannot make {} private", path.display()))?;
        }
    }
    Ok(())
}

/// One account as `fbl snds status` describes it.
#[derive(Serialize)]
struct AccountStatus {
    account: String,
    kind: &'static str,
    base_url: String,
    /// Where the key comes from (legacy) or the token endpoint (API).
    credentials: String,
    /// Why the account cannot fetch now, when it cannot.
    problem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<TokenState>,
    stored: SndsAccountState,
    blocked_ranges: u64,
}

#[derive(Serialize)]
struct Status {
    timezone: String,
    backfill_days: u32,
    accounts: Vec<AccountStatus>,
}

fn status(context: &Context, snds: &SndsConfig, json: bool) -> Result<Outcome> {
    let store = context.open_store_for_reading()?;
    let blocked = |account: &str| -> Result<u64> {
        Ok(store
            .snds_current_ip_status(Some(account))?
            .iter()
            .filter(|period| period.blocked)
            .count() as u64)
    };
    let mut accounts = Vec::new();
    for account in &snds.legacy {
        let (base_url, problem) = match snds_account::legacy_access(account) {
            Ok(access) => (access.base_url, None),
            Err(error) => (
                account
                    .base_url
                    .clone()
                    .unwrap_or_else(|| crate::snds_client::DEFAULT_LEGACY_BASE_URL.to_owned()),
                Some(format!("{error:#}")),
            ),
        };
        accounts.push(AccountStatus {
            account: account.name.clone(),
            kind: "legacy",
            base_url: without_userinfo(&base_url),
            credentials: match account.local_folder() {
                Some(_) => "read from files, no key".to_owned(),
                None => format!("key from {}", account.key_source()),
            },
            problem,
            token: None,
            stored: store.snds_account_state(&account.name)?,
            blocked_ranges: blocked(&account.name)?,
        });
    }
    if let Some(api) = &snds.api {
        let token = snds_account::token_state(api, &store)?;
        let problem = if !token.present {
            Some("no refresh token: run `fbl snds login`".to_owned())
        } else if token.private == Some(false) {
            Some(format!(
                "{} can be read by others: chmod 600 it",
                token.place
            ))
        } else {
            None
        };
        accounts.push(AccountStatus {
            account: api.name.clone(),
            kind: "api",
            base_url: without_userinfo(&api.base_url),
            credentials: format!(
                "client {} at {}",
                api.client_id,
                without_userinfo(&api.token_url)
            ),
            problem,
            token: Some(token),
            stored: store.snds_account_state(&api.name)?,
            blocked_ranges: blocked(&api.name)?,
        });
    }
    let usable = accounts.iter().all(|account| account.problem.is_none());
    let today = chrono::DateTime::parse_from_rfc3339(&context.now)
        .context("the time is not RFC 3339")?
        .with_timezone(&chrono::Utc)
        .date_naive();
    let status = Status {
        timezone: snds.timezone.clone(),
        backfill_days: snds.backfill_days,
        accounts,
    };
    if json {
        print_json(&status)?;
    } else {
        println!(
            "snds: times read in {}, first fetch {} days back",
            status.timezone, status.backfill_days
        );
        for account in &status.accounts {
            println!(
                "account {} ({}): {}; {}",
                account.account, account.kind, account.base_url, account.credentials
            );
            if let Some(token) = &account.token {
                let saved = token
                    .saved_at
                    .as_deref()
                    .map(|at| format!(", saved {at}"))
                    .unwrap_or_default();
                if token.present {
                    println!("  refresh token in {}{saved}", token.place);
                }
            }
            if let Some(problem) = &account.problem {
                println!("  problem: {problem}");
            }
            let stored = &account.stored;
            match &stored.newest_day {
                Some(newest) => println!(
                    "  data: {} rows over {} days, newest {newest}; last fetched {}",
                    stored.rows_stored,
                    stored.days_stored,
                    stored.last_data_fetch_at.as_deref().unwrap_or("never")
                ),
                None => println!(
                    "  data: none stored; last fetched {}",
                    stored.last_data_fetch_at.as_deref().unwrap_or("never")
                ),
            }
            // What the run's alert says to check, for this account.
            let check = match snds.legacy.iter().find(|a| a.name == account.account) {
                Some(legacy) => crate::snds_fetch::legacy_access_check(legacy),
                None => crate::snds_fetch::API_ACCESS_CHECK.to_owned(),
            };
            if let Some(alert) = crate::snds_alerts::no_new_data_alert(
                &account.account,
                stored
                    .newest_day
                    .as_deref()
                    .and_then(|day| day.parse().ok()),
                today,
                snds.stale_after_days,
                &check,
            ) {
                println!(
                    "  no data newer than {}: {} days behind (SNDS lags a day or two); check \
                     the IP authorisation at the SNDS portal, and {check}",
                    alert.day.as_deref().unwrap_or_default(),
                    alert.detail,
                );
            }
            println!(
                "  ip status: blocked ranges {}; last checked {}",
                account.blocked_ranges,
                stored.last_ip_status_at.as_deref().unwrap_or("never")
            );
            if let Some(at) = &stored.come_back_at
                && at.as_str() > context.now.as_str()
            {
                println!("  SNDS asked to come back at {at}: no fetch asks before then");
            }
        }
    }
    Ok(if usable {
        Outcome::Clean
    } else {
        Outcome::Attention
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_url_is_shown_without_its_user_and_password() {
        assert_eq!(
            super::without_userinfo("http://user:SECRET@127.0.0.1:8765/snds"),
            "http://127.0.0.1:8765/snds"
        );
        assert_eq!(
            super::without_userinfo("https://sendersupport.olc.protection.outlook.com/snds"),
            "https://sendersupport.olc.protection.outlook.com/snds"
        );
    }
}
