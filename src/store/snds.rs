//! The store's part of SNDS: data rows per account, IP and activity window; the days asked
//! for by date; ipStatus as periods over time; the alerts raised, each once; per-account
//! state and the new API's refresh token when no token file is configured.

use super::db::{Row, params};
use super::{Batch, Store};
use crate::snds::{ComplaintBand, IpStatusRange, SndsDataRow};
use anyhow::Result;
use chrono::{DateTime, Utc};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What storing one data row did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SndsRowChange {
    Added,
    /// The window was stored already, with other values; they are now the fetched ones.
    Updated,
    /// The window was stored already with the same values.
    Unchanged,
}

/// A data row as stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredSndsRow {
    pub account: String,
    /// The SNDS day, `YYYY-MM-DD`.
    pub day: String,
    pub ip: String,
    pub activity_start_raw: String,
    pub activity_end_raw: String,
    pub activity_start: Option<String>,
    pub activity_end: Option<String>,
    pub rcpt_commands: u64,
    pub data_commands: u64,
    pub message_recipients: u64,
    /// `green`, `yellow`, `red` or `unknown`.
    pub filter_result: String,
    pub filter_result_raw: String,
    /// `below_point_one`, `percent` or `unknown`.
    pub complaint_rate: String,
    pub complaint_percent: Option<f64>,
    pub complaint_rate_raw: String,
    pub trap_period_start_raw: String,
    pub trap_period_end_raw: String,
    pub trap_period_start: Option<String>,
    pub trap_period_end: Option<String>,
    pub trap_hits: u64,
    pub sample_helo: Option<String>,
    pub jmr_p1_sender: Option<String>,
    pub comments: Option<String>,
    pub first_fetched_at: String,
    pub fetched_at: String,
}

/// Which stored rows to read; every part is optional.
#[derive(Debug, Clone, Default)]
pub struct SndsRowFilter {
    pub account: Option<String>,
    pub ip: Option<String>,
    /// Only days on or after this one, `YYYY-MM-DD`.
    pub from_day: Option<String>,
}

/// A day asked for by date.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SndsDayFetched {
    pub day: String,
    pub rows: u64,
    pub fetched_at: String,
}

/// One IP on one day: the filter results of its windows and their trap hits added up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SndsIpDay {
    pub day: String,
    pub filter_results: Vec<String>,
    pub trap_hits: u64,
}

/// A range with one blocked value, from the first ipStatus that listed it to the first that
/// did not.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IpStatusPeriod {
    pub id: i64,
    pub account: String,
    pub first_ip: String,
    pub last_ip: String,
    pub blocked: bool,
    pub blocked_raw: String,
    pub details: String,
    pub first_seen_at: String,
    pub last_seen_at: String,
    pub ended_at: Option<String>,
}

/// What an ipStatus snapshot changed, address by address: a range that changes shape (grows,
/// shrinks, is split in two) is a new period, but only the addresses that entered or left
/// every blocked range are news.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpStatusChanges {
    /// The addresses newly inside a blocked range: each part of a blocked period that began
    /// that no blocked period of the account listed before, as that period cut to the part.
    pub opened: Vec<IpStatusPeriod>,
    /// The addresses no longer inside any blocked range: each part of a blocked period that
    /// ended that no blocked period of the account lists now, as that period (with its end)
    /// cut to the part.
    pub closed: Vec<IpStatusPeriod>,
    /// The distinct ranges the snapshot listed (a line listed twice counts once), and how
    /// many of them are blocked.
    pub ranges: u64,
    pub blocked_ranges: u64,
}

/// A part of an ipStatus period whose addresses have been listed with the period's blocked
/// value since one time: a blocked range that grew is one period, but its older addresses
/// have been blocked since before it began.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IpStatusSince {
    pub account: String,
    pub first_ip: String,
    pub last_ip: String,
    pub blocked: bool,
    pub details: String,
    /// When the part's addresses began to be listed so without a break: the period's
    /// `first_seen_at`, or the start of a period before it that listed them so and that
    /// ended no earlier than this one began (the snapshot that replaced one by the other).
    pub since: String,
    /// The period the part is of.
    pub period_id: i64,
}

/// What the store knows about one SNDS account. Never the token itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SndsAccountState {
    pub account: String,
    pub last_data_fetch_at: Option<String>,
    pub last_ip_status_at: Option<String>,
    /// The newest day with stored rows.
    pub newest_day: Option<String>,
    pub days_stored: u64,
    pub rows_stored: u64,
    pub refresh_token_in_store: bool,
    pub refresh_token_saved_at: Option<String>,
    /// When SNDS asked this account to come back (a `Retry-After` longer than a run waits),
    /// until its next fetch goes through.
    pub come_back_at: Option<String>,
}

const ROW_COLUMNS: &str = "account, day, ip, activity_start_raw, activity_end_raw, activity_start,
    activity_end, rcpt_commands, data_commands, message_recipients, filter_result,
    filter_result_raw, complaint_rate, complaint_percent, complaint_rate_raw,
    trap_period_start_raw, trap_period_end_raw, trap_period_start, trap_period_end, trap_hits,
    sample_helo, jmr_p1_sender, comments, first_fetched_at, fetched_at";

const PERIOD_COLUMNS: &str = "id, account, first_ip, last_ip, blocked, blocked_raw, details,
    first_seen_at, last_seen_at, ended_at";

impl Store {
    /// Stored rows, newest day first, then by account, IP and window.
    pub fn snds_rows(&self, filter: &SndsRowFilter) -> Result<Vec<StoredSndsRow>> {
        self.db.query(
            &format!(
                "SELECT {ROW_COLUMNS} FROM snds_data
                 WHERE (CAST(?1 AS TEXT) IS NULL OR account = ?1)
                   AND (CAST(?2 AS TEXT) IS NULL OR ip = ?2)
                   AND (CAST(?3 AS TEXT) IS NULL OR day >= ?3)
                 ORDER BY day DESC, account, ip, activity_start, activity_start_raw"
            ),
            params![filter.account, filter.ip, filter.from_day],
            row_from_sql,
        )
    }

    /// The newest day with stored rows among those the filter's account and IP select.
    pub fn snds_newest_day(&self, filter: &SndsRowFilter) -> Result<Option<String>> {
        self.db.value(
            "SELECT max(day) FROM snds_data
             WHERE (CAST(?1 AS TEXT) IS NULL OR account = ?1)
               AND (CAST(?2 AS TEXT) IS NULL OR ip = ?2)",
            params![filter.account, filter.ip],
        )
    }

    /// The days of an account asked for by date, oldest first.
    pub fn snds_days_fetched(&self, account: &str) -> Result<Vec<SndsDayFetched>> {
        self.db.query(
            "SELECT day, rows, fetched_at FROM snds_days WHERE account = ?1 ORDER BY day",
            params![account],
            |r| {
                Ok(SndsDayFetched {
                    day: r.get(0)?,
                    rows: r.get::<i64>(1)? as u64,
                    fetched_at: r.get(2)?,
                })
            },
        )
    }

    /// The ipStatus periods the latest snapshot listed; all accounts when `account` is None.
    pub fn snds_current_ip_status(&self, account: Option<&str>) -> Result<Vec<IpStatusPeriod>> {
        self.db.query(
            &format!(
                "SELECT {PERIOD_COLUMNS} FROM snds_ip_status
                 WHERE ended_at IS NULL AND (CAST(?1 AS TEXT) IS NULL OR account = ?1)
                 ORDER BY account, first_ip, last_ip, id"
            ),
            params![account],
            period_from_sql,
        )
    }

    /// Every ipStatus period of an account, current and ended, oldest first: the answer to
    /// "when was this range blocked".
    pub fn snds_ip_status_history(&self, account: &str) -> Result<Vec<IpStatusPeriod>> {
        self.db.query(
            &format!("SELECT {PERIOD_COLUMNS} FROM snds_ip_status WHERE account = ?1 ORDER BY id"),
            params![account],
            period_from_sql,
        )
    }

    /// The ranges SNDS ipStatus listed just before `before` (RFC 3339), across accounts, in
    /// the shape and order of `snds_ip_status` (which gives them for now): the periods that
    /// had begun by then and not yet ended, with the `since` they had then. A report of a
    /// past window marks IPs blocked by the list of its time, not by today's.
    pub fn snds_ip_status_before(&self, before: &str) -> Result<Vec<crate::rates::SndsStatus>> {
        let before = DateTime::parse_from_rfc3339(before)?.with_timezone(&Utc);
        let time = |text: &str| {
            DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|time| time.with_timezone(&Utc))
        };
        let periods: Vec<IpStatusPeriod> = self
            .snds_ip_status_all_accounts()?
            .into_iter()
            .filter(|period| time(&period.first_seen_at).is_some_and(|began| began < before))
            .map(|mut period| {
                // Ended since: still listed then.
                if period
                    .ended_at
                    .as_deref()
                    .is_some_and(|ended| time(ended).is_none_or(|ended| ended >= before))
                {
                    period.ended_at = None;
                }
                period
            })
            .collect();
        Ok(status_parts(ip_status_since(&periods, true)))
    }

    /// Every ipStatus period of every account, oldest first.
    pub fn snds_ip_status_all_accounts(&self) -> Result<Vec<IpStatusPeriod>> {
        self.db.query(
            &format!("SELECT {PERIOD_COLUMNS} FROM snds_ip_status ORDER BY id"),
            params![],
            period_from_sql,
        )
    }

    /// The ranges the latest ipStatus of each account lists (all accounts when `account` is
    /// None), each cut into parts by when its addresses began to be listed so: "blocked
    /// since" per address, each account's history on its own. In account order, then by
    /// period and address.
    pub fn snds_current_ip_status_since(
        &self,
        account: Option<&str>,
    ) -> Result<Vec<IpStatusSince>> {
        let periods = self.snds_ip_status_all_accounts()?;
        let mut accounts: Vec<&str> = periods
            .iter()
            .map(|period| period.account.as_str())
            .filter(|name| account.is_none_or(|wanted| wanted == *name))
            .collect();
        accounts.sort_unstable();
        accounts.dedup();
        let mut out = Vec::new();
        for name in accounts {
            let own: Vec<IpStatusPeriod> = periods
                .iter()
                .filter(|period| period.account == name)
                .cloned()
                .collect();
            let mut parts = ip_status_since(&own, true);
            parts.sort_by_cached_key(|part| (address_order(part), part.period_id));
            out.extend(parts);
        }
        Ok(out)
    }

    pub fn snds_account_state(&self, account: &str) -> Result<SndsAccountState> {
        let (last_data_fetch_at, last_ip_status_at, refresh_token_in_store, saved_at, come_back_at) =
            self.db
                .query_opt(
                    "SELECT last_data_fetch_at, last_ip_status_at, refresh_token IS NOT NULL,
                        refresh_token_saved_at, come_back_at
                 FROM snds_accounts WHERE account = ?1",
                    params![account],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )?
                .unwrap_or((None, None, false, None, None));
        let (newest_day, days_stored, rows_stored) = self.db.query_one(
            "SELECT max(day), count(DISTINCT day), count(*) FROM snds_data WHERE account = ?1",
            params![account],
            |r| Ok((r.get(0)?, r.get::<i64>(1)? as u64, r.get::<i64>(2)? as u64)),
        )?;
        Ok(SndsAccountState {
            account: account.to_owned(),
            last_data_fetch_at,
            last_ip_status_at,
            newest_day,
            days_stored,
            rows_stored,
            refresh_token_in_store,
            refresh_token_saved_at: saved_at,
            come_back_at,
        })
    }

    /// When SNDS asked an account to come back, if it did and no fetch went through since.
    pub fn snds_come_back_at(&self, account: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .query_opt(
                "SELECT come_back_at FROM snds_accounts WHERE account = ?1",
                params![account],
                |r| r.get::<Option<String>>(0),
            )?
            .flatten())
    }

    /// The new API's refresh token, when it is kept in the store.
    pub fn snds_refresh_token(&self, account: &str) -> Result<Option<String>> {
        Ok(self
            .db
            .query_opt(
                "SELECT refresh_token FROM snds_accounts WHERE account = ?1",
                params![account],
                |r| r.get::<Option<String>>(0),
            )?
            .flatten())
    }
}

impl Batch<'_> {
    /// Stores a data row under its account and SNDS day, or updates the stored window.
    pub fn upsert_snds_row(
        &mut self,
        account: &str,
        day: &str,
        row: &SndsDataRow,
        now: &str,
    ) -> Result<SndsRowChange> {
        let ip = row.ip.to_string();
        // What SNDS said of the window before, as it wrote it: told apart from the fetched row.
        type Said = (
            String,
            String,
            i64,
            i64,
            i64,
            String,
            String,
            i64,
            String,
            String,
        );
        let before: Option<Said> = self.tx.query_opt(
            "SELECT day, activity_end_raw, rcpt_commands, data_commands, message_recipients,
                    filter_result_raw, complaint_rate_raw, trap_hits, trap_period_start_raw,
                    trap_period_end_raw
             FROM snds_data WHERE account = ?1 AND ip = ?2 AND activity_start_raw = ?3",
            params![account, ip, row.activity_start_raw],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                    r.get(7)?,
                    r.get(8)?,
                    r.get(9)?,
                ))
            },
        )?;
        let now_said: Said = (
            day.to_owned(),
            row.activity_end_raw.clone(),
            row.rcpt_commands as i64,
            row.data_commands as i64,
            row.message_recipients as i64,
            row.filter_result_raw.clone(),
            row.complaint_rate_raw.clone(),
            row.trap_hits as i64,
            row.trap_period_start_raw.clone(),
            row.trap_period_end_raw.clone(),
        );
        let (complaint_rate, complaint_percent) = match row.complaint_rate {
            ComplaintBand::BelowPointOne => ("below_point_one", None),
            ComplaintBand::Percent(value) => ("percent", Some(value)),
            ComplaintBand::Unknown => ("unknown", None),
        };
        self.tx.execute(
            &format!(
                "INSERT INTO snds_data ({ROW_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?24)
                 ON CONFLICT (account, ip, activity_start_raw) DO UPDATE SET
                    day = excluded.day, activity_end_raw = excluded.activity_end_raw,
                    activity_start = excluded.activity_start, activity_end = excluded.activity_end,
                    rcpt_commands = excluded.rcpt_commands, data_commands = excluded.data_commands,
                    message_recipients = excluded.message_recipients,
                    filter_result = excluded.filter_result,
                    filter_result_raw = excluded.filter_result_raw,
                    complaint_rate = excluded.complaint_rate,
                    complaint_percent = excluded.complaint_percent,
                    complaint_rate_raw = excluded.complaint_rate_raw,
                    trap_period_start_raw = excluded.trap_period_start_raw,
                    trap_period_end_raw = excluded.trap_period_end_raw,
                    trap_period_start = excluded.trap_period_start,
                    trap_period_end = excluded.trap_period_end,
                    trap_hits = excluded.trap_hits, sample_helo = excluded.sample_helo,
                    jmr_p1_sender = excluded.jmr_p1_sender, comments = excluded.comments,
                    fetched_at = excluded.fetched_at"
            ),
            params![
                account,
                day,
                ip,
                row.activity_start_raw,
                row.activity_end_raw,
                row.activity_start.map(utc_text),
                row.activity_end.map(utc_text),
                row.rcpt_commands as i64,
                row.data_commands as i64,
                row.message_recipients as i64,
                row.filter_result.as_str(),
                row.filter_result_raw,
                complaint_rate,
                complaint_percent,
                row.complaint_rate_raw,
                row.trap_period_start_raw,
                row.trap_period_end_raw,
                row.trap_period_start.map(utc_text),
                row.trap_period_end.map(utc_text),
                row.trap_hits as i64,
                row.sample_helo,
                row.jmr_p1_sender,
                row.comments,
                now,
            ],
        )?;
        Ok(match before {
            None => SndsRowChange::Added,
            Some(before) if before == now_said => SndsRowChange::Unchanged,
            Some(_) => SndsRowChange::Updated,
        })
    }

    /// Notes that `day` was asked for by date and how many rows came back.
    pub fn record_snds_day(
        &mut self,
        account: &str,
        day: &str,
        rows: u64,
        now: &str,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO snds_days (account, day, rows, fetched_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (account, day) DO UPDATE SET
                    rows = excluded.rows, fetched_at = excluded.fetched_at",
            params![account, day, rows as i64, now],
        )?;
        Ok(())
    }

    /// The two newest days of an IP on or before `day`, newest first: the day itself (when
    /// stored) and the one before, to tell a change.
    pub fn snds_ip_days(&self, account: &str, ip: &str, day: &str) -> Result<Vec<SndsIpDay>> {
        let sql = self.tx.pick(
            "SELECT day, group_concat(filter_result, ','), sum(trap_hits) FROM snds_data
             WHERE account = ?1 AND ip = ?2 AND day <= ?3
             GROUP BY day ORDER BY day DESC LIMIT 2",
            "SELECT day, string_agg(filter_result, ','), sum(trap_hits) FROM snds_data
             WHERE account = ?1 AND ip = ?2 AND day <= ?3
             GROUP BY day ORDER BY day DESC LIMIT 2",
        );
        self.tx.query(sql, params![account, ip, day], |r| {
            let results: String = r.get(1)?;
            Ok(SndsIpDay {
                day: r.get(0)?,
                filter_results: results.split(',').map(str::to_owned).collect(),
                trap_hits: r.get::<i64>(2)? as u64,
            })
        })
    }

    /// Whether the first day stored after `day` for an IP had the same worst filter result
    /// `colour` and was alerted as `kind`: a day fetched late (backfill after the newest day)
    /// that starts an episode someone was already told of, dated the later day.
    pub fn snds_episode_alerted_later(
        &self,
        account: &str,
        ip: &str,
        day: &str,
        kind: &str,
        colour: crate::snds::FilterColor,
    ) -> Result<bool> {
        let sql = self.tx.pick(
            "SELECT day, group_concat(filter_result, ',') FROM snds_data
             WHERE account = ?1 AND ip = ?2 AND day > ?3
             GROUP BY day ORDER BY day LIMIT 1",
            "SELECT day, string_agg(filter_result, ',') FROM snds_data
             WHERE account = ?1 AND ip = ?2 AND day > ?3
             GROUP BY day ORDER BY day LIMIT 1",
        );
        let next: Vec<(String, String)> = self.tx.query(sql, params![account, ip, day], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        let Some((next_day, results)) = next.into_iter().next() else {
            return Ok(false);
        };
        if crate::snds_alerts::worst_filter_result(results.split(',')) != colour {
            return Ok(false);
        }
        let raised: Vec<i64> = self.tx.query(
            "SELECT count(*) FROM snds_alerts
             WHERE account = ?1 AND kind = ?2 AND ip = ?3 AND event = ?4",
            params![account, kind, ip, next_day],
            |r| r.get(0),
        )?;
        Ok(raised.first().is_some_and(|&n| n > 0))
    }

    /// The highest trap-hit figure already alerted for an IP's day (its first alert, keyed by
    /// the day, and each rise, keyed `DAY FIGURE`), or `None` when none was.
    pub fn snds_trap_hits_alerted(
        &self,
        account: &str,
        ip: &str,
        day: &str,
    ) -> Result<Option<u64>> {
        let alerted: Vec<(String, String)> = self.tx.query(
            "SELECT event, detail FROM snds_alerts
             WHERE account = ?1 AND kind = 'trap_hits' AND ip = ?2 AND substr(event, 1, 10) = ?3",
            params![account, ip, day],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(alerted
            .iter()
            .filter(|(event, _)| {
                event == day
                    || event
                        .strip_prefix(day)
                        .is_some_and(|rest| rest.starts_with(' '))
            })
            .filter_map(|(_, detail)| detail.parse::<u64>().ok())
            .max())
    }

    /// Applies an ipStatus snapshot: periods still listed are extended, new ones begin, and
    /// those no longer listed end. A range is the same period while its first IP, last IP
    /// and blocked value stay; its details follow the latest snapshot. What changed is told
    /// address by address (`IpStatusChanges`).
    pub fn apply_snds_ip_status(
        &mut self,
        account: &str,
        ranges: &[IpStatusRange],
        now: &str,
    ) -> Result<IpStatusChanges> {
        let open: Vec<IpStatusPeriod> = self.tx.query(
            &format!(
                "SELECT {PERIOD_COLUMNS} FROM snds_ip_status
                 WHERE account = ?1 AND ended_at IS NULL ORDER BY id"
            ),
            params![account],
            period_from_sql,
        )?;
        let same = |period: &IpStatusPeriod, range: &IpStatusRange| {
            period.first_ip == range.first_ip.to_string()
                && period.last_ip == range.last_ip.to_string()
                && period.blocked == range.blocked
        };
        let mut ended = Vec::new();
        for period in &open {
            if !ranges.iter().any(|range| same(period, range)) {
                self.tx.execute(
                    "UPDATE snds_ip_status SET ended_at = ?2 WHERE id = ?1",
                    params![period.id, now],
                )?;
                ended.push(IpStatusPeriod {
                    ended_at: Some(now.to_owned()),
                    ..period.clone()
                });
            }
        }
        let mut listed = Vec::new();
        let mut began = Vec::new();
        for (index, range) in ranges.iter().enumerate() {
            // A range listed twice in one snapshot is one period.
            if ranges[..index].iter().any(|earlier| {
                earlier.first_ip == range.first_ip
                    && earlier.last_ip == range.last_ip
                    && earlier.blocked == range.blocked
            }) {
                continue;
            }
            listed.push(range);
            match open.iter().find(|period| same(period, range)) {
                Some(period) => {
                    self.tx.execute(
                        "UPDATE snds_ip_status SET last_seen_at = ?2, details = ?3,
                                blocked_raw = ?4 WHERE id = ?1",
                        params![period.id, now, range.details, range.blocked_raw],
                    )?;
                }
                None => {
                    let id: i64 = self.tx.value(
                        "INSERT INTO snds_ip_status (account, first_ip, last_ip, blocked,
                            blocked_raw, details, first_seen_at, last_seen_at)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) RETURNING id",
                        params![
                            account,
                            range.first_ip.to_string(),
                            range.last_ip.to_string(),
                            range.blocked,
                            range.blocked_raw,
                            range.details,
                            now
                        ],
                    )?;
                    began.push(IpStatusPeriod {
                        id,
                        account: account.to_owned(),
                        first_ip: range.first_ip.to_string(),
                        last_ip: range.last_ip.to_string(),
                        blocked: range.blocked,
                        blocked_raw: range.blocked_raw.clone(),
                        details: range.details.clone(),
                        first_seen_at: now.to_owned(),
                        last_seen_at: now.to_owned(),
                        ended_at: None,
                    });
                }
            }
        }
        self.set_account_time(account, "last_ip_status_at", now)?;
        // Blocked before this snapshot: every period open until now; blocked after it:
        // every range it lists.
        let blocked_before: Vec<Span> = open
            .iter()
            .filter(|period| period.blocked)
            .filter_map(|period| Span::of(&period.first_ip, &period.last_ip))
            .collect();
        let blocked_after: Vec<Span> = listed
            .iter()
            .filter(|range| range.blocked)
            .filter_map(|range| Span::of(&range.first_ip.to_string(), &range.last_ip.to_string()))
            .collect();
        Ok(IpStatusChanges {
            opened: parts_not_in(&began, blocked_before),
            closed: parts_not_in(&ended, blocked_after),
            ranges: listed.len() as u64,
            blocked_ranges: listed.iter().filter(|range| range.blocked).count() as u64,
        })
    }

    /// Records an alert; false when this event was raised before.
    pub fn record_snds_alert(
        &mut self,
        account: &str,
        kind: &str,
        ip: &str,
        event: &str,
        detail: &str,
        now: &str,
    ) -> Result<bool> {
        let inserted = self.tx.execute(
            "INSERT INTO snds_alerts (account, kind, ip, event, detail, raised_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
            params![account, kind, ip, event, detail, now],
        )?;
        Ok(inserted > 0)
    }

    /// Notes that data was fetched for an account.
    pub fn record_snds_data_fetch(&mut self, account: &str, now: &str) -> Result<()> {
        self.set_account_time(account, "last_data_fetch_at", now)
    }

    /// Keeps the new API's refresh token in the store (replacing the one there).
    pub fn set_snds_refresh_token(&mut self, account: &str, token: &str, now: &str) -> Result<()> {
        self.tx.execute(
            "INSERT INTO snds_accounts (account, refresh_token, refresh_token_saved_at)
                 VALUES (?1, ?2, ?3)
                 ON CONFLICT (account) DO UPDATE SET refresh_token = excluded.refresh_token,
                    refresh_token_saved_at = excluded.refresh_token_saved_at",
            params![account, token, now],
        )?;
        Ok(())
    }

    /// Keeps when SNDS asked an account to come back (None: it asks for no wait any more).
    pub fn set_snds_come_back_at(&mut self, account: &str, at: Option<&str>) -> Result<()> {
        self.tx.execute(
            "INSERT INTO snds_accounts (account, come_back_at) VALUES (?1, ?2)
                 ON CONFLICT (account) DO UPDATE SET come_back_at = excluded.come_back_at",
            params![account, at],
        )?;
        Ok(())
    }

    fn set_account_time(&mut self, account: &str, column: &str, now: &str) -> Result<()> {
        debug_assert!(matches!(column, "last_data_fetch_at" | "last_ip_status_at"));
        self.tx.execute(
            &format!(
                "INSERT INTO snds_accounts (account, {column}) VALUES (?1, ?2)
                 ON CONFLICT (account) DO UPDATE SET {column} = excluded.{column}"
            ),
            params![account, now],
        )?;
        Ok(())
    }
}

fn utc_text(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn row_from_sql(r: &Row) -> Result<StoredSndsRow> {
    let count = |index: usize| -> Result<u64> { Ok(r.get::<i64>(index)? as u64) };
    Ok(StoredSndsRow {
        account: r.get(0)?,
        day: r.get(1)?,
        ip: r.get(2)?,
        activity_start_raw: r.get(3)?,
        activity_end_raw: r.get(4)?,
        activity_start: r.get(5)?,
        activity_end: r.get(6)?,
        rcpt_commands: count(7)?,
        data_commands: count(8)?,
        message_recipients: count(9)?,
        filter_result: r.get(10)?,
        filter_result_raw: r.get(11)?,
        complaint_rate: r.get(12)?,
        complaint_percent: r.get(13)?,
        complaint_rate_raw: r.get(14)?,
        trap_period_start_raw: r.get(15)?,
        trap_period_end_raw: r.get(16)?,
        trap_period_start: r.get(17)?,
        trap_period_end: r.get(18)?,
        trap_hits: count(19)?,
        sample_helo: r.get(20)?,
        jmr_p1_sender: r.get(21)?,
        comments: r.get(22)?,
        first_fetched_at: r.get(23)?,
        fetched_at: r.get(24)?,
    })
}

fn period_from_sql(r: &Row) -> Result<IpStatusPeriod> {
    Ok(IpStatusPeriod {
        id: r.get(0)?,
        account: r.get(1)?,
        first_ip: r.get(2)?,
        last_ip: r.get(3)?,
        blocked: r.get(4)?,
        blocked_raw: r.get(5)?,
        details: r.get(6)?,
        first_seen_at: r.get(7)?,
        last_seen_at: r.get(8)?,
        ended_at: r.get(9)?,
    })
}

/// Where a part sorts among others: by its first and last address (IPv4 before IPv6), and
/// as written when those are no IPs.
/// Parts of ipStatus periods as a report shows them: by `since`, then range; a range that
/// several accounts list (the same IPs) is listed once, with the earliest start any saw.
pub(crate) fn status_parts(mut parts: Vec<IpStatusSince>) -> Vec<crate::rates::SndsStatus> {
    parts.sort_by_cached_key(|part| {
        (
            part.since.clone(),
            address_order(part),
            part.blocked,
            part.period_id,
        )
    });
    parts.dedup_by(|a, b| {
        (&a.since, &a.first_ip, &a.last_ip, a.blocked)
            == (&b.since, &b.first_ip, &b.last_ip, b.blocked)
    });
    // Two accounts over the same IPs (a legacy key beside the API) may list one range, one
    // as blocked and the other not, as each fetched it at its own time. It is one range, and
    // shown once: blocked when any account lists it blocked, since Outlook.com refuses mail
    // from an IP any view of SNDS says is blocked, and what a reader must act on is the block
    // (its start and details are the blocked listing's). Written twice, Prometheus had two
    // samples of one series, 0 and 1, and node_exporter rejects such a file.
    let blocked: std::collections::HashSet<(String, String)> = parts
        .iter()
        .filter(|part| part.blocked)
        .map(|part| (part.first_ip.clone(), part.last_ip.clone()))
        .collect();
    parts.retain(|part| {
        part.blocked || !blocked.contains(&(part.first_ip.clone(), part.last_ip.clone()))
    });
    parts
        .into_iter()
        .map(|part| crate::rates::SndsStatus {
            first_ip: part.first_ip,
            last_ip: part.last_ip,
            blocked: part.blocked,
            details: part.details,
            since: part.since,
        })
        .collect()
}

pub(crate) fn address_order(
    part: &IpStatusSince,
) -> (Option<IpAddr>, Option<IpAddr>, String, String) {
    (
        part.first_ip.parse().ok(),
        part.last_ip.parse().ok(),
        part.first_ip.clone(),
        part.last_ip.clone(),
    )
}

/// An address range of one family as numbers, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Span {
    v6: bool,
    first: u128,
    last: u128,
}

impl Span {
    /// The range from `first_ip` to `last_ip` (or back, as `IpStatusRange::contains` reads
    /// it); None when either is no IP or the two are of different families.
    fn of(first_ip: &str, last_ip: &str) -> Option<Span> {
        let number = |ip: IpAddr| match ip {
            IpAddr::V4(ip) => (false, u128::from(u32::from(ip))),
            IpAddr::V6(ip) => (true, u128::from(ip)),
        };
        let (v6, first) = number(first_ip.parse().ok()?);
        let (last_v6, last) = number(last_ip.parse().ok()?);
        (v6 == last_v6).then_some(Span {
            v6,
            first: first.min(last),
            last: first.max(last),
        })
    }

    fn ip(&self, value: u128) -> String {
        if self.v6 {
            Ipv6Addr::from(value).to_string()
        } else {
            Ipv4Addr::from(value as u32).to_string()
        }
    }

    fn overlaps(&self, other: &Span) -> bool {
        self.v6 == other.v6 && self.first <= other.last && other.first <= self.last
    }

    /// The parts of this range that none of `covers` contains, in address order.
    fn uncovered(&self, covers: &[Span]) -> Vec<Span> {
        let mut covers: Vec<&Span> = covers.iter().filter(|c| c.overlaps(self)).collect();
        covers.sort_unstable();
        let mut parts = Vec::new();
        let mut next = Some(self.first);
        for cover in covers {
            let Some(from) = next else { break };
            if cover.first > from {
                parts.push(Span {
                    last: cover.first - 1,
                    first: from,
                    ..*self
                });
            }
            if cover.last >= from {
                next = cover.last.checked_add(1);
            }
        }
        if let Some(from) = next
            && from <= self.last
        {
            parts.push(Span {
                first: from,
                ..*self
            });
        }
        parts
    }
}

/// The parts of the blocked periods of `periods` that none of `covered` contains, each as
/// its period cut to the part; a part two periods share is told once, with the first.
fn parts_not_in(periods: &[IpStatusPeriod], mut covered: Vec<Span>) -> Vec<IpStatusPeriod> {
    let mut out = Vec::new();
    for period in periods.iter().filter(|period| period.blocked) {
        let Some(span) = Span::of(&period.first_ip, &period.last_ip) else {
            out.push(period.clone());
            continue;
        };
        for part in span.uncovered(&covered) {
            out.push(IpStatusPeriod {
                first_ip: part.ip(part.first),
                last_ip: part.ip(part.last),
                ..period.clone()
            });
            covered.push(part);
        }
    }
    out
}

/// The periods of `periods` (only those not ended when `open_only`), each cut into parts by
/// when its addresses began to be listed with its blocked value without a break: going
/// back from the period's start through the periods of `periods` that listed the same
/// addresses so and had not ended when the later one began. Periods are told in their
/// order, a period's parts in address order.
pub(crate) fn ip_status_since(periods: &[IpStatusPeriod], open_only: bool) -> Vec<IpStatusSince> {
    let spans: Vec<Option<Span>> = periods
        .iter()
        .map(|period| Span::of(&period.first_ip, &period.last_ip))
        .collect();
    let mut out = Vec::new();
    for (period, span) in periods.iter().zip(&spans) {
        if open_only && period.ended_at.is_some() {
            continue;
        }
        let part = |first: String, last: String, since: &str| IpStatusSince {
            account: period.account.clone(),
            first_ip: first,
            last_ip: last,
            blocked: period.blocked,
            details: period.details.clone(),
            since: since.to_owned(),
            period_id: period.id,
        };
        let Some(span) = span else {
            out.push(part(
                period.first_ip.clone(),
                period.last_ip.clone(),
                &period.first_seen_at,
            ));
            continue;
        };
        // The periods that may share its addresses, and where each begins or ends within
        // it: between two such bounds every address is listed by the same periods.
        let others: Vec<(&IpStatusPeriod, Span)> = periods
            .iter()
            .zip(&spans)
            .filter_map(|(other, s)| Some((other, (*s)?)))
            .filter(|(other, s)| other.blocked == period.blocked && s.overlaps(span))
            .collect();
        let mut bounds = vec![span.first];
        for (_, s) in &others {
            if s.first > span.first {
                bounds.push(s.first);
            }
            if let Some(after) = s.last.checked_add(1)
                && after <= span.last
            {
                bounds.push(after);
            }
        }
        bounds.sort_unstable();
        bounds.dedup();
        let mut pieces: Vec<(u128, u128, &str)> = Vec::new();
        for (index, &first) in bounds.iter().enumerate() {
            let last = bounds.get(index + 1).map_or(span.last, |next| next - 1);
            let mut since = period.first_seen_at.as_str();
            loop {
                let earlier = others
                    .iter()
                    .filter(|(other, s)| {
                        s.first <= first
                            && last <= s.last
                            && other.first_seen_at.as_str() < since
                            && other.ended_at.as_deref().is_none_or(|end| end >= since)
                    })
                    .map(|(other, _)| other.first_seen_at.as_str())
                    .min();
                match earlier {
                    Some(earlier) => since = earlier,
                    None => break,
                }
            }
            match pieces.last_mut() {
                Some(piece) if piece.2 == since => piece.1 = last,
                _ => pieces.push((first, last, since)),
            }
        }
        for (first, last, since) in pieces {
            out.push(part(span.ip(first), span.ip(last), since));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn period(id: i64, first: &str, last: &str, seen: (&str, Option<&str>)) -> IpStatusPeriod {
        IpStatusPeriod {
            id,
            account: "main".to_owned(),
            first_ip: first.to_owned(),
            last_ip: last.to_owned(),
            blocked: true,
            blocked_raw: "Yes".to_owned(),
            details: String::new(),
            first_seen_at: seen.0.to_owned(),
            last_seen_at: seen.0.to_owned(),
            ended_at: seen.1.map(str::to_owned),
        }
    }

    fn text(span: &Span) -> String {
        format!("{}-{}", span.ip(span.first), span.ip(span.last))
    }

    #[test]
    fn the_uncovered_parts_of_a_range_are_its_holes_and_ends() {
        let span = |first: &str, last: &str| Span::of(first, last).unwrap();
        let whole = span("192.0.2.0", "192.0.2.255");
        let holes = whole.uncovered(&[
            span("192.0.2.10", "192.0.2.19"),
            span("192.0.2.15", "192.0.2.29"),
            span("2001:db8::", "2001:db8::ffff"),
            span("192.0.2.200", "192.0.3.10"),
        ]);
        let holes: Vec<String> = holes.iter().map(text).collect();
        assert_eq!(holes, ["192.0.2.0-192.0.2.9", "192.0.2.30-192.0.2.199"]);
        // The last IPv6 address has no address after it.
        let top = span("ffff::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        assert!(top.uncovered(&[top]).is_empty());
        let below = span("fffe::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
        let parts: Vec<String> = below.uncovered(&[top]).iter().map(text).collect();
        assert_eq!(parts, ["fffe::-fffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff"]);
        // A range written backwards reads as SNDS's contains() reads it.
        assert_eq!(
            span("192.0.2.9", "192.0.2.1"),
            span("192.0.2.1", "192.0.2.9")
        );
    }

    #[test]
    fn blocked_since_goes_back_through_periods_that_replaced_each_other() {
        let (t1, t2, t3, t4) = (
            "2026-11-20T08:00:00Z",
            "2026-11-21T08:00:00Z",
            "2026-11-22T08:00:00Z",
            "2026-11-23T08:00:00Z",
        );
        let periods = [
            period(1, "198.51.100.0", "198.51.100.15", (t1, Some(t2))),
            period(2, "198.51.100.0", "198.51.100.31", (t2, None)),
            // Ended a snapshot before the one that listed 64-79 again: a break.
            period(3, "198.51.100.64", "198.51.100.79", (t1, Some(t2))),
            period(4, "198.51.100.64", "198.51.100.79", (t3, None)),
            // Still listed beside a wider range that began later.
            period(5, "198.51.100.128", "198.51.100.135", (t1, None)),
            period(6, "198.51.100.128", "198.51.100.143", (t4, None)),
        ];
        let parts: Vec<(String, String, String, i64)> = ip_status_since(&periods, true)
            .into_iter()
            .map(|p| (p.first_ip, p.last_ip, p.since, p.period_id))
            .collect();
        let part = |first: &str, last: &str, since: &str, id: i64| {
            (first.to_owned(), last.to_owned(), since.to_owned(), id)
        };
        assert_eq!(
            parts,
            [
                part("198.51.100.0", "198.51.100.15", t1, 2),
                part("198.51.100.16", "198.51.100.31", t2, 2),
                part("198.51.100.64", "198.51.100.79", t3, 4),
                part("198.51.100.128", "198.51.100.135", t1, 5),
                part("198.51.100.128", "198.51.100.135", t1, 6),
                part("198.51.100.136", "198.51.100.143", t4, 6),
            ]
        );
        // A junked range does not carry a block's start, nor a block a junked one's.
        let mut junked = periods[0].clone();
        junked.blocked = false;
        let parts = ip_status_since(&[junked, periods[1].clone()], true);
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].since, t2);
    }
}
