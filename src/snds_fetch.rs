//! Fetching SNDS into the store: which days each account needs, asking for them (through
//! the client, which also reads `file:` folders), storing the rows and the ipStatus
//! snapshot, and raising each alert once. Used by `fbl snds fetch` and by `fbl run`.
//!
//! **A failing account never stops the others, and nothing here fails on a fetch**: fetch
//! errors are collected, naming the account and never the key. Only the store can fail.
//!
//! Rows are filed under the day their activity window starts on, as SNDS writes it; a row
//! whose start cannot be read is set aside (an error, never a day guessed). The days
//! asked for by date are kept apart, so that a day is skipped once it has data, or once it
//! is old enough that SNDS will not add any.

use crate::config::{SNDS_HISTORY_DAYS, SndsConfig};
use crate::snds::{self, SndsDataRow};
use crate::snds_account;
use crate::snds_alerts::{self, SndsAlert};
use crate::snds_client::{DataReport, IpStatusReport, SndsClient, SndsClientError};
use crate::store::{SndsDayFetched, SndsRowChange, Store};
use crate::zone::Zone;
use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use std::time::Instant;

/// A day asked for that had no data is asked again until it is this many days old.
const DAYS_UNTIL_FINAL: i64 = 3;

/// Which days to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Days {
    /// The newest day SNDS has: the legacy page without a date; on the API, yesterday, or
    /// the day before when yesterday has no data yet.
    Latest,
    /// One day.
    One(NaiveDate),
    /// Every day from this one to yesterday (at most 90 days back).
    Since(NaiveDate),
    /// What `fbl run` does: the latest day, and every day after the last one stored up to
    /// it (on an account's first fetch, `backfill_days` back), at most 90 days back.
    Missing,
}

#[derive(Debug, Clone, Copy)]
pub struct FetchOptions {
    pub days: Days,
    /// Ask again for days already stored.
    pub refresh: bool,
}

/// What a fetch did, for summaries and `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SndsSummary {
    pub accounts: Vec<AccountFetched>,
    /// Every failure, naming the account (and day); never a key or token.
    pub errors: Vec<String>,
}

impl SndsSummary {
    pub fn needs_attention(&self) -> bool {
        !self.errors.is_empty()
    }
}

/// What a fetch did for one account.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AccountFetched {
    pub account: String,
    /// The days whose rows were stored, `YYYY-MM-DD`.
    pub days: Vec<String>,
    /// Days asked for by date that SNDS had no data for.
    pub empty_days: Vec<String>,
    /// Days not asked for because they are stored already.
    pub skipped_days: u64,
    pub rows: u64,
    pub rows_added: u64,
    /// Rows stored before that came back with other values (a refetch of the same values
    /// counts in `rows` only).
    pub rows_updated: u64,
    /// Rows that could not be read; each is in the errors.
    pub rows_rejected: u64,
    /// Ranges in the ipStatus snapshot, when it was fetched.
    pub ip_status_ranges: Option<u64>,
    pub blocked_ranges: Option<u64>,
    /// When SNDS asked this account to come back (a `Retry-After` longer than a run waits):
    /// no run asks before then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub come_back_at: Option<String>,
    /// Not asked in this run: SNDS asked an earlier one to come back at `come_back_at`.
    pub waiting: bool,
}

/// A fetch's summary and the alerts it raised (each raised once, ever).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Fetched {
    pub summary: SndsSummary,
    pub alerts: Vec<SndsAlert>,
}

/// Fetches every configured account. Fails only when the store does. `now` is taken as read
/// when this is called: [`fetch_since`] for a run that read it earlier.
pub fn fetch(
    snds: &SndsConfig,
    store: &mut Store,
    options: FetchOptions,
    now: &str,
) -> Result<Fetched> {
    fetch_since(snds, store, options, now, Instant::now())
}

/// [`fetch`] in a run whose time `now` was read at `now_read`: the time SNDS asks to be
/// come back at is counted from its answer, `now` plus the time since `now_read`, not from
/// the run's start (a run that spent an hour on its mailboxes would ask an hour early).
/// Every other time kept is the run's.
pub fn fetch_since(
    snds: &SndsConfig,
    store: &mut Store,
    options: FetchOptions,
    now: &str,
    now_read: Instant,
) -> Result<Fetched> {
    let now_time = DateTime::parse_from_rfc3339(now)
        .context("the run's time is not RFC 3339")?
        .with_timezone(&Utc);
    let clock = Clock {
        run: now_time,
        read: now_read,
    };
    let mut out = Fetched::default();
    let client = match SndsClient::new(snds_account::client_options(snds)) {
        Ok(client) => client,
        Err(error) => {
            out.summary.errors.push(error.to_string());
            return Ok(out);
        }
    };
    let fetcher = Fetcher {
        client: &client,
        zone: snds.zone(),
        today: now_time.date_naive(),
        now,
        clock,
        options,
        backfill_days: snds.backfill_days,
    };
    let today = now_time.date_naive();
    for account in &snds.legacy {
        let name = &account.name;
        let check = legacy_access_check(account);
        if let Some(waiting) = waiting(store, name, now_time)? {
            out.summary.accounts.push(waiting);
            no_new_data(snds, store, name, today, now, &check, &mut out)?;
            continue;
        }
        let fetched = match snds_account::legacy_access(account) {
            Ok(access) => {
                let source = Source::Legacy {
                    base_url: access.base_url,
                    key: access.key,
                    key_source: account.key_source(),
                };
                fetcher.fetch_account(name, &source, store, &mut out)?
            }
            Err(error) => {
                out.summary
                    .errors
                    .push(format!("snds account {name}: {error:#}"));
                AccountFetched::named(name)
            }
        };
        out.summary.accounts.push(fetched);
        no_new_data(snds, store, name, today, now, &check, &mut out)?;
    }
    if let Some(api) = &snds.api
        && let Some(waiting) = waiting(store, &api.name, now_time)?
    {
        out.summary.accounts.push(waiting);
    } else if let Some(api) = &snds.api {
        let name = &api.name;
        let fetched = match snds_account::access_token(snds, api, store, now) {
            Ok(access_token) => {
                let source = Source::Api {
                    base_url: api.base_url.clone(),
                    access_token,
                };
                fetcher.fetch_account(name, &source, store, &mut out)?
            }
            // The store could not keep the rotated refresh token: its disk is full, which
            // stops the run as any store failure does.
            Err(error)
                if matches!(
                    snds_account::TokenPlace::of(api),
                    snds_account::TokenPlace::Store
                ) && crate::store::is_disk_full(&error) =>
            {
                return Err(error.context(format!("snds account {name}")));
            }
            Err(error) => {
                out.summary
                    .errors
                    .push(format!("snds account {name}: {error:#}"));
                AccountFetched::named(name)
            }
        };
        out.summary.accounts.push(fetched);
    }
    if let Some(api) = &snds.api {
        no_new_data(
            snds,
            store,
            &api.name,
            today,
            now,
            API_ACCESS_CHECK,
            &mut out,
        )?;
    }
    Ok(out)
}

/// What to check of a legacy account's access when its data stops: its files' folder, or its
/// key.
pub fn legacy_access_check(account: &crate::config::SndsLegacyConfig) -> String {
    match account.local_folder() {
        Some(folder) => format!("that {} still gets SNDS's files", folder.display()),
        None => format!(
            "that the key from {} still works (a new automated access link gives a new key)",
            account.key_source()
        ),
    }
}

/// What to check of the SNDS API account's access when its data stops.
pub const API_ACCESS_CHECK: &str =
    "that the account's sign-in still works (`fbl snds login` signs in again)";

/// Raises, once per episode, the alert of an account whose newest stored data day is more
/// than `stale_after_days` behind `today` (see [`snds_alerts::no_new_data_alert`]), after
/// the account was asked (or not: it waits, or its key cannot be read): a fetch that brings
/// a new day ends the episode.
fn no_new_data(
    snds: &SndsConfig,
    store: &mut Store,
    name: &str,
    today: NaiveDate,
    now: &str,
    check: &str,
    out: &mut Fetched,
) -> Result<()> {
    let newest = store
        .snds_newest_day(&crate::store::SndsRowFilter {
            account: Some(name.to_owned()),
            ..Default::default()
        })?
        .and_then(|day| day.parse::<NaiveDate>().ok());
    let Some(alert) =
        snds_alerts::no_new_data_alert(name, newest, today, snds.stale_after_days, check)
    else {
        return Ok(());
    };
    let mut batch = store.begin()?;
    let raised = batch.record_snds_alert(
        name,
        alert.kind.as_str(),
        &alert.ip,
        &alert.event,
        &alert.detail,
        now,
    )?;
    batch.commit()?;
    if raised {
        out.alerts.push(alert);
    }
    Ok(())
}

/// The run's time and the moment it was read, for the time now in the run.
#[derive(Clone, Copy)]
struct Clock {
    run: DateTime<Utc>,
    read: Instant,
}

impl Clock {
    /// The run's time plus the time since it was read: with `--now`/`FBL_NOW`, the time
    /// given moves on as the run does.
    fn current(&self) -> DateTime<Utc> {
        TimeDelta::from_std(self.read.elapsed())
            .ok()
            .and_then(|elapsed| self.run.checked_add_signed(elapsed))
            .unwrap_or(self.run)
    }
}

/// An account SNDS asked to come back at a time not yet reached at `now` (the run's start:
/// an account whose time comes while the run does other work is asked by the next run,
/// never before its time), said as not asked; None when it may be asked. Its token is not even refreshed: the wait is the service's.
fn waiting(store: &Store, name: &str, now: DateTime<Utc>) -> Result<Option<AccountFetched>> {
    let Some(at) = store.snds_come_back_at(name)? else {
        return Ok(None);
    };
    let later = DateTime::parse_from_rfc3339(&at).is_ok_and(|at| at.with_timezone(&Utc) > now);
    Ok(later.then(|| AccountFetched {
        come_back_at: Some(at),
        waiting: true,
        ..AccountFetched::named(name)
    }))
}

impl AccountFetched {
    fn named(name: &str) -> AccountFetched {
        AccountFetched {
            account: name.to_owned(),
            ..AccountFetched::default()
        }
    }
}

/// Where an account's reports come from, with what it needs to ask.
enum Source {
    Legacy {
        base_url: String,
        key: String,
        /// Where the key came from, for errors.
        key_source: String,
    },
    Api {
        base_url: String,
        access_token: String,
    },
}

impl Source {
    /// The day's report. Without a day, the latest: the legacy page without a date, or
    /// yesterday on the API, which has no "latest".
    fn data(
        &self,
        client: &SndsClient,
        day: Option<NaiveDate>,
        yesterday: NaiveDate,
    ) -> Result<DataReport, SndsClientError> {
        match self {
            Source::Legacy { base_url, key, .. } => client.fetch_legacy_data(base_url, key, day),
            Source::Api {
                base_url,
                access_token,
            } => client.fetch_api_data(base_url, access_token, day.unwrap_or(yesterday)),
        }
    }

    fn ip_status(&self, client: &SndsClient) -> Result<IpStatusReport, SndsClientError> {
        match self {
            Source::Legacy { base_url, key, .. } => client.fetch_legacy_ip_status(base_url, key),
            Source::Api {
                base_url,
                access_token,
            } => client.fetch_api_ip_status(base_url, access_token),
        }
    }

    /// A hint on what to do about an error, after the error itself.
    fn hint(&self, error: &SndsClientError) -> String {
        match (error, self) {
            (SndsClientError::SignInPage { .. }, Source::Legacy { key_source, .. }) => {
                format!("; check the key from {key_source}")
            }
            (SndsClientError::Http { status: 401 | 403, .. }, Source::Legacy { key_source, .. }) => {
                format!("; SNDS refused the key: check the key from {key_source}")
            }
            (SndsClientError::NotFound { .. }, Source::Legacy { .. }) => {
                "; the automated access link may have expired: copy the new one from the SNDS portal"
                    .to_owned()
            }
            (SndsClientError::LoginNeeded { .. }, Source::Api { .. }) => {
                "; run `fbl snds login` to sign in again".to_owned()
            }
            _ => String::new(),
        }
    }
}

/// After a failed request: give up on the account, or still fetch its ipStatus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterError {
    StopAccount,
    FetchIpStatus,
}

fn after(error: &SndsClientError) -> AfterError {
    match error {
        // Every later request would fail the same way.
        SndsClientError::SignInPage { .. }
        | SndsClientError::NotFound { .. }
        | SndsClientError::LoginNeeded { .. }
        | SndsClientError::BadAccessUrl { .. }
        | SndsClientError::BadBaseUrl { .. }
        | SndsClientError::ClientSetup { .. }
        | SndsClientError::Local { .. }
        | SndsClientError::UnsafeRedirect { .. }
        | SndsClientError::RateLimited { .. }
        | SndsClientError::ComeBackLater { .. } => AfterError::StopAccount,
        SndsClientError::Unparseable { .. }
        | SndsClientError::Http { .. }
        | SndsClientError::Network { .. }
        | SndsClientError::Timeout { .. } => AfterError::FetchIpStatus,
    }
}

struct Fetcher<'a> {
    client: &'a SndsClient,
    zone: Zone,
    today: NaiveDate,
    now: &'a str,
    clock: Clock,
    options: FetchOptions,
    backfill_days: u32,
}

impl Fetcher<'_> {
    fn yesterday(&self) -> NaiveDate {
        self.today - TimeDelta::days(1)
    }

    fn fetch_account(
        &self,
        name: &str,
        source: &Source,
        store: &mut Store,
        out: &mut Fetched,
    ) -> Result<AccountFetched> {
        let mut account = AccountFetched::named(name);
        let asked_before = store.snds_come_back_at(name)?;
        let after_data = self.fetch_data(name, source, store, &mut account, out)?;
        if after_data != Some(AfterError::StopAccount) {
            match source.ip_status(self.client) {
                Ok(report) => self.store_ip_status(name, &report, store, &mut account, out)?,
                Err(error) => {
                    self.failed(name, None, &error, source, &mut account, out);
                }
            }
        }
        // Kept for the next runs, or forgotten once the account was asked again.
        if account.come_back_at != asked_before {
            let mut batch = store.begin()?;
            batch.set_snds_come_back_at(name, account.come_back_at.as_deref())?;
            batch.commit()?;
        }
        account.days.sort();
        account.days.dedup();
        Ok(account)
    }

    /// Fetches and stores the data days; `Some` when a request failed. The legacy page
    /// without a date says which day is the newest; it is stored after the days asked for
    /// by date, so that days are stored oldest first and a change is told against the day
    /// before it.
    fn fetch_data(
        &self,
        name: &str,
        source: &Source,
        store: &mut Store,
        account: &mut AccountFetched,
        out: &mut Fetched,
    ) -> Result<Option<AfterError>> {
        let legacy = matches!(source, Source::Legacy { .. });
        let mut newest = self.yesterday();
        let mut latest = None;
        if legacy && matches!(self.options.days, Days::Latest | Days::Missing) {
            match source.data(self.client, None, self.yesterday()) {
                Ok(report) => {
                    if let Some(day) = report.rows.iter().filter_map(|row| self.day_of(row)).max() {
                        newest = day;
                    }
                    latest = Some(report);
                }
                Err(error) => {
                    return Ok(Some(self.failed(name, None, &error, source, account, out)));
                }
            }
        }
        let days = match self.options.days {
            Days::Latest if legacy => Vec::new(),
            // The API has no "latest": yesterday, else the day before.
            Days::Latest => vec![self.yesterday(), self.yesterday() - TimeDelta::days(1)],
            days => {
                let fetched = store.snds_days_fetched(name)?;
                let (planned, skipped) = plan_days(
                    days,
                    self.options.refresh,
                    &fetched,
                    newest,
                    self.today,
                    self.backfill_days,
                );
                account.skipped_days = skipped;
                planned
            }
        };
        let mut failure = None;
        let mut fetched_newest = false;
        for day in days {
            match source.data(self.client, Some(day), self.yesterday()) {
                Ok(report) => {
                    fetched_newest |= latest.is_some() && day == newest;
                    let stored = self.store_data(name, Some(day), &report, store, account, out)?;
                    if self.options.days == Days::Latest && stored.is_some() {
                        break;
                    }
                }
                Err(error) => {
                    failure = Some(self.failed(name, Some(day), &error, source, account, out));
                    break;
                }
            }
        }
        // The latest page is the newest day's: when that day was just fetched by its date, the
        // same rows (and any row set aside) are not stored and reported a second time.
        if let Some(report) = latest
            && !fetched_newest
        {
            self.store_data(name, None, &report, store, account, out)?;
        }
        Ok(failure)
    }

    /// The SNDS day of a row: the date its window starts on, as SNDS wrote it.
    fn day_of(&self, row: &SndsDataRow) -> Option<NaiveDate> {
        row.activity_start
            .and_then(|start| self.zone.to_local(start))
            .map(|local| local.date())
    }

    /// Stores a data report's rows and the alerts they call for; returns the newest day
    /// among its rows.
    fn store_data(
        &self,
        name: &str,
        requested: Option<NaiveDate>,
        report: &DataReport,
        store: &mut Store,
        account: &mut AccountFetched,
        out: &mut Fetched,
    ) -> Result<Option<NaiveDate>> {
        let mut batch = store.begin()?;
        let mut touched = BTreeSet::new();
        // A row is filed under the day its window starts on: without a readable start, that
        // day is unknown, and the row is set aside rather than filed under a guess.
        let mut unfiled = Vec::new();
        let mut stored = 0;
        for row in &report.rows {
            let Some(day) = self.day_of(row) else {
                unfiled.push(row);
                continue;
            };
            stored += 1;
            match batch.upsert_snds_row(name, &day.to_string(), row, self.now)? {
                SndsRowChange::Added => account.rows_added += 1,
                SndsRowChange::Updated => account.rows_updated += 1,
                SndsRowChange::Unchanged => {}
            }
            account.rows += 1;
            touched.insert((day, row.ip.to_string()));
        }
        if let Some(day) = requested {
            batch.record_snds_day(name, &day.to_string(), stored, self.now)?;
            if report.rows.is_empty() {
                account.empty_days.push(day.to_string());
            }
        }
        batch.record_snds_data_fetch(name, self.now)?;
        for (day, ip) in &touched {
            let day = day.to_string();
            let days = batch.snds_ip_days(name, ip, &day)?;
            let Some(stored) = days.first() else { continue };
            let worst = |results: &[String]| {
                snds_alerts::worst_filter_result(results.iter().map(String::as_str))
            };
            let colour = worst(&stored.filter_results);
            let alerts = snds_alerts::data_alerts(
                name,
                ip,
                &day,
                colour,
                stored.trap_hits,
                days.get(1).map(|before| worst(&before.filter_results)),
                batch.snds_trap_hits_alerted(name, ip, &day)?,
            );
            // A backfilled day that begins an episode already alerted on a later day (the
            // newest day was fetched first) is not news: one alert an episode.
            let mut kept = Vec::with_capacity(alerts.len());
            for alert in alerts {
                let turned = matches!(
                    alert.kind,
                    snds_alerts::AlertKind::TurnedYellow | snds_alerts::AlertKind::TurnedRed
                );
                if !(turned
                    && batch.snds_episode_alerted_later(
                        name,
                        ip,
                        &day,
                        alert.kind.as_str(),
                        colour,
                    )?)
                {
                    kept.push(alert);
                }
            }
            self.record_alerts(&mut batch, name, kept, out)?;
        }
        batch.commit()?;
        let at = requested
            .map(|day| format!(" day {day}"))
            .unwrap_or_default();
        for rejected in &report.rejected {
            account.rows_rejected += 1;
            out.summary.errors.push(format!(
                "snds account {name}{at}: row set aside: {rejected}"
            ));
        }
        for row in unfiled {
            account.rows_rejected += 1;
            let start = if row.activity_start_raw.is_empty() {
                "no activity start".to_owned()
            } else {
                format!(
                    "activity start {:?}, which is not a time in a shape SNDS writes \
                     (M/D/YYYY h:mm AM)",
                    snds::excerpt(&row.activity_start_raw)
                )
            };
            out.summary.errors.push(format!(
                "snds account {name}{at}: row set aside: ip {} has {start}, so the day to file \
                 it under is unknown",
                row.ip
            ));
        }
        account
            .days
            .extend(touched.iter().map(|(day, _)| day.to_string()));
        Ok(touched.iter().map(|(day, _)| *day).max())
    }

    /// Keeps the alerts not raised before, and hands those on: each is raised once.
    fn record_alerts(
        &self,
        batch: &mut crate::store::Batch,
        name: &str,
        alerts: impl IntoIterator<Item = snds_alerts::SndsAlert>,
        out: &mut Fetched,
    ) -> Result<()> {
        for alert in alerts {
            if batch.record_snds_alert(
                name,
                alert.kind.as_str(),
                &alert.ip,
                &alert.event,
                &alert.detail,
                self.now,
            )? {
                out.alerts.push(alert);
            }
        }
        Ok(())
    }

    fn store_ip_status(
        &self,
        name: &str,
        report: &IpStatusReport,
        store: &mut Store,
        account: &mut AccountFetched,
        out: &mut Fetched,
    ) -> Result<()> {
        let mut batch = store.begin()?;
        let changes = batch.apply_snds_ip_status(name, &report.ranges, self.now)?;
        let alerts = snds_alerts::ip_status_alerts(name, &changes.opened, &changes.closed);
        self.record_alerts(&mut batch, name, alerts, out)?;
        batch.commit()?;
        // Distinct ranges: a line the answer repeats counts once.
        account.ip_status_ranges = Some(changes.ranges);
        account.blocked_ranges = Some(changes.blocked_ranges);
        Ok(())
    }

    fn failed(
        &self,
        name: &str,
        day: Option<NaiveDate>,
        error: &SndsClientError,
        source: &Source,
        account: &mut AccountFetched,
        out: &mut Fetched,
    ) -> AfterError {
        if let SndsClientError::ComeBackLater {
            retry_after_secs, ..
        } = error
        {
            // Counted from the answer, which came just now: the run's time is its start,
            // earlier by all the run did before.
            let wait = TimeDelta::try_seconds(i64::try_from(*retry_after_secs).unwrap_or(i64::MAX))
                .unwrap_or(TimeDelta::MAX);
            let at = self
                .clock
                .current()
                .checked_add_signed(wait)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            // A wait past year 9999 would not read back as RFC 3339: the end of 9999 is as
            // good as never.
            let last = DateTime::parse_from_rfc3339("9999-12-31T23:59:59Z")
                .map(|last| last.with_timezone(&Utc))
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
            account.come_back_at = Some(at.min(last).format("%Y-%m-%dT%H:%M:%SZ").to_string());
        }
        let at = day.map(|day| format!(" day {day}")).unwrap_or_default();
        out.summary.errors.push(format!(
            "snds account {name}{at}: {error}{}",
            source.hint(error)
        ));
        after(error)
    }
}

/// The days to ask for by date, and how many were skipped because they are stored.
/// `newest` is the newest day SNDS has (from the legacy page without a date) or yesterday.
fn plan_days(
    days: Days,
    refresh: bool,
    fetched: &[SndsDayFetched],
    newest: NaiveDate,
    today: NaiveDate,
    backfill_days: u32,
) -> (Vec<NaiveDate>, u64) {
    let history = TimeDelta::days(i64::from(SNDS_HISTORY_DAYS) - 1);
    let (first, last) = match days {
        Days::Latest => return (Vec::new(), 0),
        Days::One(day) => (day, day),
        Days::Since(day) => {
            let last = today - TimeDelta::days(1);
            (day.max(last - history), last)
        }
        Days::Missing => {
            let after_last_stored = fetched
                .iter()
                .filter(|day| is_final(day))
                .filter_map(|day| day.day.parse::<NaiveDate>().ok())
                .max()
                .map(|day| day + TimeDelta::days(1));
            let backfill = newest - TimeDelta::days(i64::from(backfill_days.max(1)) - 1);
            let first = after_last_stored.unwrap_or(backfill);
            (first.max(newest - history), newest)
        }
    };
    let mut planned = Vec::new();
    let mut skipped = 0;
    // A day asked for by name is asked again when it had no data, however old: the person
    // asking has a reason to think SNDS has some now.
    let needs_no_asking = |done: &SndsDayFetched| match days {
        Days::One(_) => done.rows > 0,
        _ => is_final(done),
    };
    for day in first.iter_days().take_while(|day| *day <= last) {
        let stored = fetched
            .iter()
            .any(|done| done.day == day.to_string() && needs_no_asking(done));
        if stored && !refresh {
            skipped += 1;
        } else {
            planned.push(day);
        }
    }
    (planned, skipped)
}

/// Whether a day asked for needs no asking again: it had data, or it was asked for when it
/// was old enough that SNDS will not add any.
fn is_final(day: &SndsDayFetched) -> bool {
    if day.rows > 0 {
        return true;
    }
    let (Ok(date), Ok(fetched_at)) = (
        day.day.parse::<NaiveDate>(),
        DateTime::parse_from_rfc3339(&day.fetched_at),
    ) else {
        return false;
    };
    fetched_at.date_naive() - date >= TimeDelta::days(DAYS_UNTIL_FINAL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> NaiveDate {
        text.parse().unwrap()
    }

    fn done(day: &str, rows: u64, fetched_at: &str) -> SndsDayFetched {
        SndsDayFetched {
            day: day.to_owned(),
            rows,
            fetched_at: fetched_at.to_owned(),
        }
    }

    fn check(
        days: Days,
        refresh: bool,
        fetched: &[SndsDayFetched],
        newest: &str,
        expected: &[&str],
        expected_skipped: u64,
    ) {
        let (planned, skipped) =
            plan_days(days, refresh, fetched, date(newest), date("2026-11-20"), 7);
        let planned: Vec<String> = planned.iter().map(NaiveDate::to_string).collect();
        assert_eq!(
            (planned, skipped),
            (
                expected.iter().map(|d| (*d).to_owned()).collect(),
                expected_skipped
            ),
            "{days:?}"
        );
    }

    #[test]
    fn a_first_fetch_goes_back_backfill_days_from_the_newest_day() {
        check(
            Days::Missing,
            false,
            &[],
            "2026-11-18",
            &[
                "2026-11-12",
                "2026-11-13",
                "2026-11-14",
                "2026-11-15",
                "2026-11-16",
                "2026-11-17",
                "2026-11-18",
            ],
            0,
        );
    }

    #[test]
    fn later_fetches_start_after_the_last_day_stored() {
        let fetched = [
            done("2026-11-15", 4, "2026-11-17T08:00:00Z"),
            done("2026-11-16", 4, "2026-11-18T08:00:00Z"),
        ];
        check(
            Days::Missing,
            false,
            &fetched,
            "2026-11-18",
            &["2026-11-17", "2026-11-18"],
            0,
        );
        check(Days::Missing, false, &fetched, "2026-11-16", &[], 0);
    }

    #[test]
    fn an_empty_day_is_asked_again_until_it_is_old() {
        let fetched = [
            done("2026-11-10", 0, "2026-11-18T08:00:00Z"),
            done("2026-11-17", 0, "2026-11-18T08:00:00Z"),
        ];
        check(
            Days::Since(date("2026-11-10")),
            false,
            &fetched,
            "2026-11-19",
            &[
                "2026-11-11",
                "2026-11-12",
                "2026-11-13",
                "2026-11-14",
                "2026-11-15",
                "2026-11-16",
                "2026-11-17",
                "2026-11-18",
                "2026-11-19",
            ],
            1,
        );
    }

    #[test]
    fn stored_days_are_skipped_unless_refreshing() {
        let fetched = [done("2026-11-15", 4, "2026-11-17T08:00:00Z")];
        check(
            Days::One(date("2026-11-15")),
            false,
            &fetched,
            "2026-11-19",
            &[],
            1,
        );
        check(
            Days::One(date("2026-11-15")),
            true,
            &fetched,
            "2026-11-19",
            &["2026-11-15"],
            0,
        );
    }

    #[test]
    fn a_day_named_that_had_no_data_is_asked_again() {
        let fetched = [done("2026-11-15", 0, "2026-11-19T08:00:00Z")];
        check(
            Days::One(date("2026-11-15")),
            false,
            &fetched,
            "2026-11-19",
            &["2026-11-15"],
            0,
        );
        // Backfilling leaves it, final since it was old when asked.
        check(
            Days::Since(date("2026-11-15")),
            false,
            &fetched,
            "2026-11-19",
            &["2026-11-16", "2026-11-17", "2026-11-18", "2026-11-19"],
            1,
        );
    }

    #[test]
    fn never_more_than_ninety_days_back() {
        let (planned, _) = plan_days(
            Days::Since(date("2025-01-01")),
            false,
            &[],
            date("2026-11-19"),
            date("2026-11-20"),
            7,
        );
        assert_eq!(planned.len(), 90);
        assert_eq!(planned[0], date("2026-08-22"));
        assert_eq!(planned[89], date("2026-11-19"));
        let fetched = [done("2026-01-01", 4, "2026-01-03T08:00:00Z")];
        let (planned, _) = plan_days(
            Days::Missing,
            false,
            &fetched,
            date("2026-11-19"),
            date("2026-11-20"),
            7,
        );
        assert_eq!(planned.len(), 90);
    }
}
