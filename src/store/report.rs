//! The store's part of complaint-rate reports: aggregates counted by SQLite (GROUP BY over
//! indexes, never every report loaded), SNDS figures when SNDS storage exists, Outlook.com
//! block events, the bounce scan's progress, alerts raised once, and the figures of the
//! delisting packet.

use super::db::{Db, Row, params};
use super::{Batch, Store};
use crate::outlook_codes::BlockClass;
use crate::rates::{
    BlockEvent, CampaignCount, ComplaintCount, DomainCount, MailboxSuccess, SndsDay, SndsStatus,
    Volume,
};
use anyhow::Result;

impl super::ReportLookup {
    /// As `report_id`, and whether the report found is of these very bytes (a file read
    /// again) rather than another delivery of it (its content key): one with these bytes is
    /// the one found when there are both.
    pub fn report_match(
        &mut self,
        sha256: &[u8; 32],
        content_key: &[u8; 32],
    ) -> Result<Option<(i64, bool)>> {
        if self.in_read == 0 {
            self.store.db.batch("BEGIN")?;
        }
        // At most two rows (both columns are unique), picked here: an ORDER BY made SQLite
        // build a temporary B-tree on every look-up, a tenth of the reading thread's time.
        let found = self
            .store
            .db
            .query(
                "SELECT id, CASE WHEN sha256 = ?1 THEN 1 ELSE 0 END FROM reports
                 WHERE sha256 = ?1 OR content_key = ?2",
                params![&sha256[..], &content_key[..]],
                |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)? == 1)),
            )
            .map(|rows| rows.into_iter().max_by_key(|&(_, same_bytes)| same_bytes));
        self.in_read += 1;
        if self.in_read == Self::LOOKUPS_PER_READ || found.is_err() {
            self.in_read = 0;
            self.store.db.batch("COMMIT")?;
        }
        found
    }
}

/// A stored bounce not yet searched for Outlook.com codes.
pub struct BounceToScan {
    pub id: i64,
    pub raw: Vec<u8>,
    /// The bounced message's Message-ID, as the parser found it.
    pub message_id: Option<String>,
    pub reported_at: String,
}

/// A sighting to record.
pub struct NewBlockEvent<'a> {
    pub ip: &'a str,
    pub code: &'a str,
    pub class: BlockClass,
    pub reply: Option<u16>,
    pub status: Option<&'a str>,
    pub text: &'a str,
    pub recipient: &'a str,
    pub seen_at: &'a str,
    pub source: &'a str,
    pub report_id: Option<i64>,
    pub found_at: &'a str,
}

/// How long after its report a complainant was suppressed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressionDelay {
    pub reported_at: String,
    pub ingested_at: String,
    /// When the suppression list was first changed for this report; `None` if never.
    pub suppressed_at: Option<String>,
}

/// What the delisting packet needs from the store about one IP.
#[derive(Debug, Clone, Default)]
pub struct DelistFigures {
    pub send_log_by_day: Vec<(String, u64)>,
    pub delays: Vec<SuppressionDelay>,
    pub suppressions_active: u64,
    /// Reporter, reports, the latest report time, over every report kept.
    pub reporters: Vec<(String, u64, String)>,
    /// The raw bytes of the latest complaint about the IP (one naming its complainant if
    /// any does), else of the latest bounce that named it: for example headers.
    pub example_raw: Option<Vec<u8>>,
}

/// The `report_progress` entry of the highest report id whose complaints an alert step of
/// `fbl run` has covered.
const ALERTED_THROUGH: &str = "alerted_id";

/// The day a complaint fact is rated against: the day its message was sent when the send
/// log says, else the day it was reported (`complaint_day_counts` kinds `list` and `domain`
/// are kept per this day; migration 0029 counted them again so).
const RATED_DAY: &str = "coalesce(sent_day, reported_day)";

/// The name under which the bounce scan keeps its progress.
const BOUNCE_SCAN: &str = "bounces";

/// The `report_progress` entry of the complaints per day, source IP and reporter: the
/// highest report id folded into `complaint_day_counts` kind `source`.
const SOURCE_COUNTS: &str = "source_id";

impl Store {
    /// Complaints per reported day, sent day (when the send log places them on another
    /// day), source IP and reporter: those reported in the days `from_day` to `to_day`
    /// (inclusive), and those reported since `from_day` about mail sent in those days; and
    /// how many of those reported in the days were attributed and unattributed.
    ///
    /// Read from what the report step keeps (`complaint_day_counts` kind `source`, and the
    /// facts of unattributed complaints) when that holds every complaint as it is now;
    /// otherwise (a report newer than the last report step, or one attributed again since)
    /// counted from an index of the reports, which gives the same figures but reads every
    /// complaint of the window: over 1,000,000 of them, most of a 90-day report's time
    /// (BENCHMARKS.md, "`fbl report` over 1,000,000 complaints").
    pub fn complaint_counts(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<(Vec<ComplaintCount>, u64, u64)> {
        if self.complaint_counts_kept()? {
            return self.kept_complaint_counts(from_day, to_day);
        }
        self.counted_complaint_counts(from_day, to_day)
    }

    /// Whether the report step's counts hold every complaint as it is now: it has counted
    /// every report stored, and redone the facts of every report attributed again since.
    fn complaint_counts_kept(&self) -> Result<bool> {
        let progress = |name: &str| -> Result<i64> {
            Ok(self
                .db
                .query_opt(
                    "SELECT value FROM report_progress WHERE name = ?1",
                    params![name],
                    |r| r.get(0),
                )?
                .unwrap_or(0))
        };
        let last_id: i64 = self
            .db
            .value("SELECT coalesce(max(id), 0) FROM reports", params![])?;
        if last_id > progress(SOURCE_COUNTS)? || last_id > progress("complaint_id")? {
            return Ok(false);
        }
        // Send-log rows added or pruned since: the next report step places (or unplaces)
        // complaints by them, which the kept counts do not know yet.
        let last_send: i64 = self
            .db
            .value("SELECT coalesce(max(rowid), 0) FROM send_log", params![])?;
        if last_send != progress("send_log_rowid")? || progress("send_log_pruned")? != 0 {
            return Ok(false);
        }
        let redo = self.db.exists(
            "SELECT 1 FROM complaint_facts WHERE placed <= 0 AND placed < 0 LIMIT 1",
            params![],
        )?;
        Ok(!redo)
    }

    /// `complaint_counts` from the counts kept by the report step: those per reported day,
    /// source IP and reporter (kind `source`), less the complaints the send log says are
    /// about mail of another day (kind `sent`), which come with that day.
    fn kept_complaint_counts(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<(Vec<ComplaintCount>, u64, u64)> {
        let mut total = 0;
        let rows = self.db.value::<i64>(
            "SELECT count(*) FROM complaint_day_counts
             WHERE kind = 'source' AND day BETWEEN ?1 AND ?2",
            params![from_day, to_day],
        )?;
        let mut counts = self.db.query_sized(
            "SELECT day, key, complaints FROM complaint_day_counts
             WHERE kind = 'source' AND day BETWEEN ?1 AND ?2 ORDER BY day, key",
            params![from_day, to_day],
            rows as usize,
            |r| {
                let key: String = r.get(1)?;
                let (source_ip, reporter) = key.split_once(KEY_SEPARATOR).unwrap_or((&key, ""));
                let complaints = r.get::<i64>(2)? as u64;
                total += complaints;
                Ok(ComplaintCount {
                    day: r.get(0)?,
                    sent_day: None,
                    source_ip: (!source_ip.is_empty()).then(|| source_ip.to_string()),
                    reporter: reporter.to_string(),
                    complaints,
                })
            },
        )?;
        let moved: Vec<(String, String, i64)> = self.db.query(
            "SELECT day, key, complaints FROM complaint_day_counts
             WHERE kind = 'sent' AND (day BETWEEN ?1 AND ?2 OR substr(key, 1, 10) BETWEEN ?1 AND ?2)",
            params![from_day, to_day],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut at: std::collections::HashMap<(String, Option<String>, String), usize> = counts
            .iter()
            .enumerate()
            .map(|(i, c)| ((c.day.clone(), c.source_ip.clone(), c.reporter.clone()), i))
            .collect();
        for (sent_day, key, complaints) in moved {
            let mut parts = key.splitn(3, KEY_SEPARATOR);
            let (Some(day), Some(source_ip), Some(reporter)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if !read_with_window(day, Some(&sent_day), from_day, to_day) {
                continue;
            }
            let source_ip = (!source_ip.is_empty()).then(|| source_ip.to_string());
            let complaints = complaints as u64;
            if day >= from_day && day <= to_day {
                let index = at.entry((day.to_string(), source_ip.clone(), reporter.to_string()));
                if let std::collections::hash_map::Entry::Occupied(found) = index {
                    let count = &mut counts[*found.get()];
                    count.complaints = count.complaints.saturating_sub(complaints);
                }
            }
            counts.push(ComplaintCount {
                day: day.to_string(),
                sent_day: Some(sent_day),
                source_ip,
                reporter: reporter.to_string(),
                complaints,
            });
        }
        counts.retain(|c| c.complaints > 0);
        // A fact has notes exactly when its complaint has no complainant (`Spelling::facts`);
        // the partial index complaint_facts_unattributed holds those facts alone.
        let unattributed = self.db.value::<i64>(
            "SELECT count(*) FROM complaint_facts
             WHERE reported_day BETWEEN ?1 AND ?2 AND notes IS NOT NULL",
            params![from_day, to_day],
        )? as u64;
        Ok((counts, total.saturating_sub(unattributed), unattributed))
    }

    /// `complaint_counts` counted from the reports, each complaint placed in the send log
    /// as the report step places it (`Spelling::facts`).
    fn counted_complaint_counts(
        &self,
        from_day: &str,
        to_day: &str,
    ) -> Result<(Vec<ComplaintCount>, u64, u64)> {
        let send = Spelling::of(self.db.dialect()).send_of_report();
        let rows = self.db.query(
            &format!(
                "SELECT reported_day, sent_day, source_ip, reporter, attributed, count(*) FROM
                    (SELECT r.reported_day, r.source_ip, r.reporter, r.attributed,
                            (SELECT substr(x.sent_at, 1, 10) FROM send_log x
                             WHERE x.rowid = {send}) AS sent_day
                     FROM reports r
                     WHERE r.kind = 'complaint' AND r.reported_day >= ?1) AS c
                 GROUP BY reported_day, sent_day, source_ip, reporter, attributed
                 ORDER BY reported_day, sent_day, source_ip, reporter, attributed"
            ),
            params![from_day],
            |row| {
                Ok((
                    row.get::<String>(0)?,
                    row.get::<Option<String>>(1)?,
                    row.get::<Option<String>>(2)?,
                    row.get::<String>(3)?,
                    row.get::<bool>(4)?,
                    row.get::<i64>(5)? as u64,
                ))
            },
        )?;
        let mut counts: Vec<ComplaintCount> = Vec::new();
        let (mut attributed, mut unattributed) = (0, 0);
        for (day, sent_day, source_ip, reporter, is_attributed, n) in rows {
            // The day it is rated against, when not the day it was reported.
            let sent_day = sent_day.filter(|sent| *sent != day);
            if !read_with_window(&day, sent_day.as_deref(), from_day, to_day) {
                continue;
            }
            if day.as_str() <= to_day {
                if is_attributed {
                    attributed += n;
                } else {
                    unattributed += n;
                }
            }
            match counts.last_mut() {
                Some(last)
                    if last.day == day
                        && last.sent_day == sent_day
                        && last.source_ip == source_ip
                        && last.reporter == reporter =>
                {
                    last.complaints += n
                }
                _ => counts.push(ComplaintCount {
                    day,
                    sent_day,
                    source_ip,
                    reporter,
                    complaints: n,
                }),
            }
        }
        Ok((counts, attributed, unattributed))
    }

    /// Runs `read` with the connection's page cache at 2 MiB (SQLite), then sets it back. A
    /// report's queries read each page of their tables once, in order, so a larger cache
    /// only holds memory: at 90 days over 1,000,000 complaints, the report step's 16 MiB
    /// added 11 MB to the peak and took no time off (BENCHMARKS.md, "`fbl report` over
    /// 1,000,000 complaints").
    pub fn with_small_cache<T>(&self, read: impl FnOnce() -> Result<T>) -> Result<T> {
        let Some(conn) = self.db.sqlite() else {
            return read();
        };
        let cache: i64 = conn.pragma_query_value(None, "cache_size", |r| r.get(0))?;
        conn.pragma_update(None, "cache_size", -2048)?;
        let result = read();
        conn.pragma_update(None, "cache_size", cache)?;
        result
    }

    /// The reasons (`attribution_notes`) given for complaints left without a complainant in
    /// the days given, with how many complaints gave each (from `complaint_facts`). Equal
    /// notes are counted per day first, from the index, so that each distinct list of notes
    /// is parsed as JSON once a day rather than once per complaint.
    pub fn unattributed_reasons(&self, from_day: &str, to_day: &str) -> Result<Vec<(String, u64)>> {
        // Each complaint once, by its first note (the one `fbl ingest`'s summary gives): a
        // complaint with two notes is not two reasons.
        let sql = self.db.pick(
            "SELECT reason, sum(n) FROM
                (SELECT json_extract(notes, '$[0]') AS reason, count(*) AS n FROM complaint_facts
                 WHERE reported_day BETWEEN ?1 AND ?2 AND notes IS NOT NULL
                 GROUP BY reported_day, notes)
             WHERE reason IS NOT NULL GROUP BY reason ORDER BY reason",
            "SELECT reason, sum(n) FROM
                (SELECT (notes::jsonb)->>0 AS reason, count(*) AS n FROM complaint_facts
                 WHERE reported_day BETWEEN ?1 AND ?2 AND notes IS NOT NULL
                 GROUP BY reported_day, notes) AS g
             WHERE reason IS NOT NULL GROUP BY reason ORDER BY reason",
        );
        self.db.query(sql, params![from_day, to_day], |r| {
            Ok((r.get::<String>(0)?, r.get::<i64>(1)? as u64))
        })
    }

    /// Messages per source IP and day sent, from the send log (`send_log_volume`), in day
    /// order, then IP: the table's own order, which needs no sort.
    pub fn send_log_ip_days(&self, from_day: &str, to_day: &str) -> Result<Vec<Volume>> {
        let rows = self.db.value::<i64>(
            "SELECT count(*) FROM send_log_volume WHERE kind = 'ip' AND day BETWEEN ?1 AND ?2",
            params![from_day, to_day],
        )?;
        self.db.query_sized(
            "SELECT key, day, messages FROM send_log_volume
             WHERE kind = 'ip' AND day BETWEEN ?1 AND ?2 ORDER BY day, key",
            params![from_day, to_day],
            rows as usize,
            volume_from_row,
        )
    }

    /// Messages per recipient domain and day, for the domains given, from the send log.
    pub fn send_log_domain_days(
        &self,
        from_day: &str,
        to_day: &str,
        domains: &[&str],
    ) -> Result<Vec<Volume>> {
        let sql = self.db.pick(
            "SELECT key, day, messages FROM send_log_volume
             WHERE kind = 'domain' AND day BETWEEN ?1 AND ?2
               AND key IN (SELECT value FROM json_each(?3)) ORDER BY key, day",
            "SELECT key, day, messages FROM send_log_volume
             WHERE kind = 'domain' AND day BETWEEN ?1 AND ?2
               AND key IN (SELECT jsonb_array_elements_text(CAST(?3 AS TEXT)::jsonb))
             ORDER BY key, day",
        );
        let list = serde_json::to_string(domains)?;
        self.db
            .query(sql, params![from_day, to_day, list], volume_from_row)
    }

    /// Complaints reported in the days given per campaign and list of the message they are
    /// about, and of those with a list, the complaints rated against the days given (about
    /// mail sent in them when the send log says when, else reported in them), with the
    /// messages the send log holds for each campaign and list. Complaints the send log
    /// cannot place are counted under no campaign and no list.
    pub fn campaign_counts(&self, from_day: &str, to_day: &str) -> Result<Vec<CampaignCount>> {
        let in_window = |day: &str| !day.is_empty() && day >= from_day && day <= to_day;
        // Per key: complaints in the window and in all; messages sent in the window and in
        // all (a send the log gives no time for counts in every window, as it may be in any);
        // complaints rated against the window.
        let mut by_key: std::collections::BTreeMap<String, [u64; 5]> =
            std::collections::BTreeMap::new();
        let rated: Vec<(String, i64)> = self.db.query(
            "SELECT key, sum(complaints) FROM complaint_day_counts
             WHERE kind = 'list' AND day BETWEEN ?1 AND ?2 GROUP BY key",
            params![from_day, to_day],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (key, n) in rated {
            by_key.entry(key).or_default()[4] += n as u64;
        }
        let complaints: Vec<(String, String, i64)> = self.db.query(
            "SELECT key, day, sum(complaints) FROM complaint_day_counts
             WHERE kind = 'campaign' GROUP BY key, day",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let windowed_keys: std::collections::BTreeSet<String> = complaints
            .iter()
            .filter(|(_, day, _)| in_window(day))
            .map(|(key, _, _)| key.clone())
            .collect();
        for (key, day, n) in complaints {
            let entry = by_key.entry(key).or_default();
            if in_window(&day) {
                entry[0] += n as u64;
            }
            entry[1] += n as u64;
        }
        let messages: Vec<(String, String, i64)> = self.db.query(
            "SELECT key, day, messages FROM send_log_volume WHERE kind = 'campaign'",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        for (key, day, n) in messages {
            let entry = by_key.entry(key).or_default();
            if day.is_empty() || in_window(&day) {
                entry[2] += n as u64;
            }
            entry[3] += n as u64;
        }
        Ok(by_key
            .into_iter()
            .filter(|(key, counts)| windowed_keys.contains(key) || counts[2] > 0 || counts[4] > 0)
            .map(
                |(key, [complaints, complaints_all, messages, messages_all, rated])| {
                    let (campaign, list) = split_campaign_key(&key);
                    CampaignCount {
                        campaign,
                        list,
                        complaints,
                        messages,
                        complaints_all,
                        messages_all,
                        rated,
                    }
                },
            )
            .collect())
    }

    /// Complaints per complainant domain (rated against the days given: about mail sent in
    /// them when the send log says when, else reported in them) and messages per recipient
    /// domain (sent in those days), for the domains that had complaints.
    pub fn domain_counts(&self, from_day: &str, to_day: &str) -> Result<Vec<DomainCount>> {
        let mut counts: Vec<DomainCount> = self.db.query(
            "SELECT key, sum(complaints) FROM complaint_day_counts
             WHERE kind = 'domain' AND day BETWEEN ?1 AND ?2 GROUP BY key ORDER BY key",
            params![from_day, to_day],
            |r| {
                Ok(DomainCount {
                    domain: r.get(0)?,
                    complaints: r.get::<i64>(1)? as u64,
                    messages: 0,
                })
            },
        )?;
        if counts.is_empty() {
            return Ok(counts);
        }
        let domains: Vec<&str> = counts.iter().map(|c| c.domain.as_str()).collect();
        let sent = self.send_log_domain_days(from_day, to_day, &domains)?;
        for volume in sent {
            if let Some(count) = counts.iter_mut().find(|c| c.domain == volume.key) {
                count.messages += volume.messages;
            }
        }
        Ok(counts)
    }

    /// Brings the report summaries up to date: the send-log volumes (new rows added in, or
    /// everything counted again when rows were pruned), the complaint facts (new
    /// complaints; unplaced ones again when the send log grew; reattributed ones again) and
    /// the complaints per day, source IP and reporter (new complaints added in; all of them
    /// the first time, once after an upgrade).
    ///
    /// The report step keeps a 16 MiB page cache and reads without a memory map: over
    /// 1,000,000 complaints it is as fast as with 64 MiB and a 1 GiB map, and its peak
    /// memory is 70 MB instead of 275 MB (1.2 GB for the first summary after an upgrade):
    /// BENCHMARKS.md, "`fbl report` over 1,000,000 complaints".
    pub fn refresh_report_summaries(&mut self) -> Result<()> {
        if let Some(conn) = self.db.sqlite() {
            conn.pragma_update(None, "cache_size", -16384)?;
        }
        let batch = self.begin()?;
        let tx: &Db = batch.tx;
        let spelling = Spelling::of(tx.dialect());
        let campaign_key = format!(
            "coalesce(campaign, '') || {} || coalesce(list, '')",
            spelling.key_separator
        );
        let progress = |name: &str| -> Result<i64> {
            Ok(tx
                .query_opt(
                    "SELECT value FROM report_progress WHERE name = ?1",
                    params![name],
                    |r| r.get(0),
                )?
                .unwrap_or(0))
        };
        let mut last_rowid = progress("send_log_rowid")?;
        let max_rowid: i64 = tx.value("SELECT coalesce(max(rowid), 0) FROM send_log", params![])?;
        let added: i64 = tx.value(
            "SELECT count(*) FROM send_log WHERE rowid > ?1",
            params![last_rowid],
        )?;
        if progress("send_log_pruned")? != 0 || max_rowid < last_rowid {
            // Rows were pruned: count everything again.
            tx.execute("DELETE FROM send_log_volume", params![])?;
            last_rowid = 0;
        }
        let grew = added > 0;
        if last_rowid < max_rowid {
            for (kind, day, key, filter) in volume_groups(&spelling) {
                tx.execute(
                    &format!(
                        "INSERT INTO send_log_volume (kind, day, key, messages)
                         SELECT '{kind}', {day} AS d, {key} AS k, count(*) FROM send_log
                         WHERE rowid > ?1 AND {filter} GROUP BY d, k
                         ON CONFLICT (kind, day, key)
                         DO UPDATE SET messages = send_log_volume.messages + excluded.messages"
                    ),
                    params![last_rowid],
                )?;
            }
        }
        let set = |name: &str, value: i64| -> Result<()> {
            tx.execute(
                "INSERT INTO report_progress (name, value) VALUES (?1, ?2)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![name, value],
            )?;
            Ok(())
        };
        set("send_log_rowid", max_rowid)?;
        set("send_log_pruned", 0)?;

        // Complaints again: reattributed ones, and when the send log grew, unplaced ones.
        tx.execute(
            "CREATE TEMP TABLE IF NOT EXISTS redo (report_id BIGINT PRIMARY KEY)",
            params![],
        )?;
        tx.execute("DELETE FROM redo", params![])?;
        // `placed <= 0` lets the planner read the partial index complaint_facts_to_redo
        // (which holds only those rows): from `placed <= ?1` alone, a bound parameter, it
        // cannot tell that the index's condition holds, and SQLite read every fact.
        tx.execute(
            "INSERT INTO redo SELECT report_id FROM complaint_facts
             WHERE placed <= 0 AND placed <= ?1",
            params![if grew { 0 } else { -1 }],
        )?;
        let last_id = progress("complaint_id")?;
        // Facts leaving take their counts with them; facts coming add theirs.
        let count_facts = |sign: &str, selection: &str| -> Result<()> {
            // Per campaign and list by the day reported (a campaign is shown when it drew a
            // complaint in the window); per list and per domain by the day rated against
            // (`RATED_DAY`), as the IP figures are.
            for (kind, day, key, filter) in [
                ("campaign", "reported_day", campaign_key.as_str(), "1 = 1"),
                ("list", RATED_DAY, campaign_key.as_str(), "list IS NOT NULL"),
                ("domain", RATED_DAY, "domain", "domain IS NOT NULL"),
            ] {
                tx.execute(
                    &format!(
                        "INSERT INTO complaint_day_counts (kind, day, key, complaints)
                         SELECT '{kind}', {day} AS d, {key} AS k, {sign}count(*) FROM complaint_facts
                         WHERE ({selection}) AND {filter} GROUP BY d, k
                         ON CONFLICT (kind, day, key)
                         DO UPDATE SET complaints = complaint_day_counts.complaints + excluded.complaints"
                    ),
                    params![last_id],
                )?;
            }
            // Complaints whose message was sent on another day than they were reported, per
            // sent day (the day they are rated against), reported day, source IP and
            // reporter: `kept_complaint_counts` moves them from the reported day's counts.
            tx.execute(
                &format!(
                    "INSERT INTO complaint_day_counts (kind, day, key, complaints)
                     SELECT 'sent', f.sent_day,
                            f.reported_day || {sep} || coalesce(r.source_ip, '') || {sep}
                                || r.reporter AS k,
                            {sign}count(*)
                     FROM complaint_facts f JOIN reports r ON r.id = f.report_id
                     WHERE ({selection}) AND f.sent_day IS NOT NULL
                       AND f.sent_day <> f.reported_day
                     GROUP BY f.sent_day, k
                     ON CONFLICT (kind, day, key)
                     DO UPDATE SET complaints = complaint_day_counts.complaints + excluded.complaints",
                    sep = spelling.key_separator,
                ),
                params![last_id],
            )?;
            Ok(())
        };
        let redo = "report_id IN (SELECT report_id FROM redo) AND CAST(?1 AS BIGINT) IS NOT NULL";
        count_facts("-", redo)?;
        tx.execute(
            "DELETE FROM complaint_facts WHERE report_id IN (SELECT report_id FROM redo)",
            params![],
        )?;
        for selection in [
            "r.id > ?1",
            "r.id IN (SELECT report_id FROM redo) AND CAST(?1 AS BIGINT) IS NOT NULL",
        ] {
            tx.execute(&spelling.facts(selection), params![last_id])?;
        }
        count_facts("", "report_id > ?1")?;
        count_facts("", redo)?;
        // Complaints per day, source IP and reporter: none of the three ever changes, so
        // new complaints are only added in. Their progress is kept apart from the facts' so
        // that the report step of an fbl that does not keep them (an older one sharing the
        // store) leaves them behind, not wrong. The first fold reads the index, later ones
        // the reports added since.
        let source_from = progress(SOURCE_COUNTS)?;
        let source_key = format!(
            "coalesce(source_ip, '') || {} || reporter",
            spelling.key_separator
        );
        let complaints_after = if source_from == 0 {
            "kind = 'complaint' AND id > ?1"
        } else {
            spelling.complaint_after
        };
        tx.execute(
            &format!(
                "INSERT INTO complaint_day_counts (kind, day, key, complaints)
                 SELECT 'source', reported_day, {source_key} AS k, count(*) FROM reports
                 WHERE {complaints_after} GROUP BY reported_day, k
                 ON CONFLICT (kind, day, key)
                 DO UPDATE SET complaints = complaint_day_counts.complaints + excluded.complaints"
            ),
            params![source_from],
        )?;
        tx.execute(
            "DELETE FROM complaint_day_counts WHERE complaints = 0",
            params![],
        )?;
        let max_id: i64 = tx.value("SELECT coalesce(max(id), 0) FROM reports", params![])?;
        set("complaint_id", max_id.max(last_id))?;
        set(SOURCE_COUNTS, max_id.max(source_from))?;
        tx.execute("DELETE FROM redo", params![])?;
        batch.commit()?;
        Ok(())
    }

    /// The complaints the alert step has not seen yet: the highest report id stored, and
    /// the earliest day a complaint stored after `alerted_through` (the id the last alert
    /// step covered, `Batch::set_alerted_through`) was reported, when there is one.
    pub fn complaints_to_alert(&self) -> Result<(i64, Option<String>)> {
        let last_id: i64 = self
            .db
            .value("SELECT coalesce(max(id), 0) FROM reports", params![])?;
        let alerted: i64 = self
            .db
            .query_opt(
                "SELECT value FROM report_progress WHERE name = ?1",
                params![ALERTED_THROUGH],
                |r| r.get(0),
            )?
            .unwrap_or(0);
        // Read by id (SQLite's `+`, as in `Spelling::complaint`): the reports stored since
        // the last run, not every complaint through the kind index.
        let sql = self.db.pick(
            "SELECT min(reported_day) FROM reports
             WHERE +kind = 'complaint' AND id > ?1 AND id <= ?2",
            "SELECT min(reported_day) FROM reports
             WHERE kind = 'complaint' AND id > ?1 AND id <= ?2",
        );
        let earliest: Option<String> = self.db.value(sql, params![alerted, last_id])?;
        Ok((last_id, earliest))
    }

    /// The IPs SNDS gave figures for on the days `from_day` to `to_day`, in order.
    pub fn snds_ips(&self, from_day: &str, to_day: &str) -> Result<Vec<String>> {
        self.db.query(
            "SELECT DISTINCT ip FROM snds_data WHERE day BETWEEN ?1 AND ?2 ORDER BY ip",
            params![from_day, to_day],
            |r| r.get(0),
        )
    }

    /// Whether any SNDS data is stored.
    pub fn has_snds(&self) -> Result<bool> {
        self.db.exists("SELECT 1 FROM snds_data LIMIT 1", params![])
    }

    /// SNDS's figures per IP and day (every activity window of the day added up; the worst
    /// filter result and complaint band), optionally for one IP; in IP order, then day.
    ///
    /// Accounts that cover the same IPs (a legacy key beside the new API, two keys of one
    /// sender) each store the same windows: SNDS counts the IP's mail once, whichever account
    /// asks. A window counts once, as the account that fetched it last holds it (the newest
    /// figure SNDS gave; on a tie, the first account by name), so that two accounts do not
    /// double the volume and the trap hits, nor halve a complaint rate.
    ///
    /// The rows are added up here rather than by a GROUP BY: for every IP, SQLite would
    /// read the rows through `snds_data_by_day` and look each one up in the table (a
    /// B-tree search on the text key), then sort the groups; reading the table in its own
    /// order skips both (BENCHMARKS.md, "`fbl report` over 1,000,000 complaints", has the
    /// figures). For one IP, the index is still the way in.
    pub fn snds_days(
        &self,
        from_day: &str,
        to_day: &str,
        ip: Option<&str>,
    ) -> Result<Vec<SndsDay>> {
        const COLUMNS: &str = "SELECT ip, day, message_recipients,
                CASE filter_result WHEN 'red' THEN 3 WHEN 'yellow' THEN 2
                                   WHEN 'green' THEN 1 ELSE 0 END,
                complaint_percent,
                CASE WHEN complaint_rate = 'below_point_one' THEN 1 ELSE 0 END,
                trap_hits, activity_start, activity_end,
                coalesce(activity_start, activity_start_raw), fetched_at, account
             FROM snds_data";
        // A row is filed under the day its window starts on, as SNDS names it; a report puts
        // it beside the UTC day the window mostly covers (a window from 4 PM to 4 PM is the
        // next day's mail), so rows filed a day before the window count too.
        let filed_from = chrono::NaiveDate::parse_from_str(from_day, "%Y-%m-%d")
            .map(|day| (day - chrono::Duration::days(1)).to_string())
            .unwrap_or_else(|_| from_day.to_owned());
        let sql = match ip {
            Some(_) => format!("{COLUMNS} WHERE day BETWEEN ?1 AND ?2 AND ip = ?3"),
            None => format!(
                "{COLUMNS} WHERE {} BETWEEN ?1 AND ?2 AND CAST(?3 AS TEXT) IS NULL",
                self.db.pick("+day", "day")
            ),
        };
        let rows = self.db.value::<i64>(
            &sql.replacen(COLUMNS, "SELECT count(*) FROM snds_data", 1),
            params![filed_from, to_day, ip],
        )?;
        // A window's start, fetch time and account repeat across rows: each is kept as a
        // number, ranked below in the order of its text. A String of each per row took 15 MB
        // of a 90-day report's peak over 1,000 IPs (BENCHMARKS.md, "`fbl report` over
        // 1,000,000 complaints").
        let mut texts: [std::collections::HashMap<String, u32>; 3] = Default::default();
        let mut days =
            self.db
                .query_sized(&sql, params![filed_from, to_day, ip], rows as usize, |r| {
                    let mut id = |n: usize, column: usize| -> Result<u32> {
                        let text: String = r.get(column)?;
                        let ids = &mut texts[n];
                        let next = ids.len() as u32;
                        Ok(*ids.entry(text).or_insert(next))
                    };
                    let window = SndsWindow {
                        start: id(0, 9)?,
                        fetched_at: id(1, 10)?,
                        account: id(2, 11)?,
                    };
                    Ok((snds_day_from_row(r)?, window))
                })?;
        let ranks = texts.map(|ids| {
            let mut sorted: Vec<(String, u32)> = ids.into_iter().collect();
            sorted.sort_unstable();
            let mut rank = vec![0; sorted.len()];
            for (at, (_, id)) in sorted.into_iter().enumerate() {
                rank[id as usize] = at as u32;
            }
            rank
        });
        for (_, window) in &mut days {
            window.start = ranks[0][window.start as usize];
            window.fetched_at = ranks[1][window.fetched_at as usize];
            window.account = ranks[2][window.account as usize];
        }
        days.retain(|(d, _)| d.day.as_str() >= from_day && d.day.as_str() <= to_day);
        // One row per IP and window across accounts: the one fetched last comes first and
        // the others of its window are left out.
        days.sort_unstable_by(|(a, wa), (b, wb)| {
            (&a.ip, &a.day, &wa.start, &wb.fetched_at, &wa.account).cmp(&(
                &b.ip,
                &b.day,
                &wb.start,
                &wa.fetched_at,
                &wb.account,
            ))
        });
        days.dedup_by(|(a, wa), (b, wb)| (&a.ip, &a.day, &wa.start) == (&b.ip, &b.day, &wb.start));
        let mut days: Vec<SndsDay> = days.into_iter().map(|(day, _)| day).collect();
        // Collected in place, the list keeps the room the windows took beside each row.
        days.shrink_to_fit();
        // The windows of a day added up as SQL's sum() and max() would, max() leaving NULLs
        // aside. A window's band "< 0.1%" is the only one that shows no percentage, and it
        // shows only when there is none: below_point_one counts only then.
        days.dedup_by(|window, kept| {
            if (&window.ip, &window.day) != (&kept.ip, &kept.day) {
                return false;
            }
            let rank = |result: &str| (0..4).find(|&n| filter_result(n) == result);
            kept.message_recipients += window.message_recipients;
            if rank(&window.filter_result) > rank(&kept.filter_result) {
                kept.filter_result = std::mem::take(&mut window.filter_result);
            }
            let below = [&kept.complaint_rate, &window.complaint_rate]
                .iter()
                .any(|rate| rate.as_str() == BELOW_POINT_ONE);
            kept.complaint_percent = match (kept.complaint_percent, window.complaint_percent) {
                (Some(a), Some(b)) => Some(if b > a { b } else { a }),
                (a, b) => a.or(b),
            };
            kept.complaint_rate = complaint_rate(kept.complaint_percent, below);
            kept.trap_hits += window.trap_hits;
            true
        });
        Ok(days)
    }

    /// Every ipStatus period kept, ended or not, across accounts, oldest first: the periods
    /// cut into parts by when their addresses began to be listed so (a blocked range that grew
    /// keeps its older addresses' start), by `since`, then range. Accounts that cover the same
    /// IPs each keep a period of a range they both list; it is one range, listed once, and its
    /// addresses were listed since the earliest start any account saw.
    pub fn snds_ip_status_all_periods(&self) -> Result<Vec<SndsStatus>> {
        let periods = self.snds_ip_status_all_accounts()?;
        Ok(super::snds::status_parts(super::snds::ip_status_since(
            &periods, false,
        )))
    }

    /// Block events seen on or after `from_day`, or every one for an IP.
    pub fn block_events(&self, from_day: &str, ip: Option<&str>) -> Result<Vec<BlockEvent>> {
        self.db.query(
            "SELECT ip, code, class, text, recipient, seen_at, source FROM block_events
             WHERE day >= ?1 AND (CAST(?2 AS TEXT) IS NULL OR ip = ?2) ORDER BY ip, seen_at, id",
            params![from_day, ip],
            block_event_from_row,
        )
    }

    /// The sightings of one IP and code whose recipient is `recipient` (ASCII case aside),
    /// seen from `from` to `to` (`seen_at` compared as text): those `rates::one_per_rejection`
    /// may pair with a new sighting of that recipient. The times bound the read of the IP's
    /// sightings in its index (`block_events_by_ip`), which a blocked IP fills by the
    /// thousand.
    pub fn block_events_of_recipient(
        &self,
        ip: &str,
        code: &str,
        recipient: &str,
        from: &str,
        to: &str,
    ) -> Result<Vec<BlockEvent>> {
        let mut found = self.db.query(
            "SELECT ip, code, class, text, recipient, seen_at, source FROM block_events
             WHERE ip = ?1 AND seen_at BETWEEN ?4 AND ?5
               AND code = ?2 AND lower(recipient) = lower(?3) ORDER BY seen_at, id",
            params![ip, code, recipient, from, to],
            block_event_from_row,
        )?;
        // PostgreSQL's lower() folds letters beyond ASCII too.
        found.retain(|e| {
            e.recipient
                .as_deref()
                .is_some_and(|r| r.eq_ignore_ascii_case(recipient))
        });
        Ok(found)
    }

    /// An IP's sightings before `before` (an RFC 3339 time), newest first.
    pub fn block_events_before(&self, ip: &str, before: &str) -> Result<Vec<BlockEvent>> {
        self.db.query(
            "SELECT ip, code, class, text, recipient, seen_at, source FROM block_events
             WHERE ip = ?1 AND seen_at < ?2 ORDER BY seen_at DESC, id DESC",
            params![ip, before],
            block_event_from_row,
        )
    }

    /// When each mailbox folder was last read completely.
    pub fn mailbox_successes(&self) -> Result<Vec<MailboxSuccess>> {
        self.db.query(
            "SELECT mailbox, folder, last_success_at FROM mailbox_state ORDER BY mailbox, folder",
            params![],
            |r| {
                Ok(MailboxSuccess {
                    mailbox: r.get(0)?,
                    folder: r.get(1)?,
                    last_success_at: r.get(2)?,
                })
            },
        )
    }

    /// Stored bounces after the scan's last position, at most `limit` of them, in id order.
    pub fn bounces_to_scan(&self, limit: usize) -> Result<Vec<BounceToScan>> {
        let after: i64 = self
            .db
            .query_opt(
                "SELECT last_report_id FROM block_scan_state WHERE name = ?1",
                params![BOUNCE_SCAN],
                |r| r.get(0),
            )?
            .unwrap_or(0);
        self.db.query(
            "SELECT id, raw_packed, message_id, reported_at FROM reports
             WHERE kind = 'bounce' AND id > ?1 ORDER BY id LIMIT ?2",
            params![after, limit as i64],
            |row| {
                Ok(BounceToScan {
                    id: row.get(0)?,
                    raw: super::packed::unpack(&row.get::<Vec<u8>>(1)?)?,
                    message_id: row.get(2)?,
                    reported_at: row.get(3)?,
                })
            },
        )
    }

    /// The source IP the send log gives for a Message-ID, when it gives exactly one.
    pub fn send_log_source_ip(&self, message_id: &str) -> Result<Option<String>> {
        let found: Vec<String> = self.db.query(
            "SELECT DISTINCT source_ip FROM send_log
             WHERE message_id = ?1 AND source_ip IS NOT NULL AND source_ip <> '' LIMIT 2",
            params![message_id],
            |r| r.get(0),
        )?;
        Ok((found.len() == 1).then(|| found[0].clone()))
    }

    /// What the delisting packet shows about one IP, for days from `from_day` on.
    pub fn delist_figures(&self, ip: &str, from_day: &str) -> Result<DelistFigures> {
        let send_log_by_day = self.db.query(
            "SELECT substr(sent_at, 1, 10) AS day, count(*) FROM send_log
             WHERE sent_at >= ?2 AND source_ip = ?1 GROUP BY day ORDER BY day",
            params![ip, from_day],
            |r| Ok((r.get(0)?, r.get::<i64>(1)? as u64)),
        )?;
        let delays = self.db.query(
            "SELECT r.reported_at, r.ingested_at,
                    (SELECT min(h.at) FROM suppression_history h
                     WHERE h.report_id = r.id AND h.action IN ('add', 'update'))
             FROM reports r
             WHERE r.kind = 'complaint' AND r.reported_day >= ?2 AND r.source_ip = ?1
             ORDER BY r.id",
            params![ip, from_day],
            |r| {
                Ok(SuppressionDelay {
                    reported_at: r.get(0)?,
                    ingested_at: r.get(1)?,
                    suppressed_at: r.get(2)?,
                })
            },
        )?;
        let suppressions_active = self.db.value::<i64>(
            "SELECT count(*) FROM suppressions WHERE removed_at IS NULL",
            params![],
        )? as u64;
        // Reports per reporter, counted per day from the index reports_complaints_by_day
        // (kind, reported_day, source_ip, reporter) in its own order; then each reporter's
        // latest report time, read from its latest day's reports alone (`reported_day` is
        // the start of `reported_at`). A GROUP BY reporter read every row of the table,
        // past the raw messages: 9 to 22 s over 1,000,000 complaints.
        let kinds = "kind IN ('complaint', 'not_spam', 'unsubscribe')";
        let per_day: Vec<(String, String, i64)> = self.db.query(
            &format!(
                "SELECT reporter, reported_day, count(*) FROM reports WHERE {kinds}
                 GROUP BY kind, reported_day, source_ip, reporter"
            ),
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut by_reporter: std::collections::BTreeMap<String, (u64, String)> = Default::default();
        for (reporter, day, n) in per_day {
            let entry = by_reporter.entry(reporter).or_default();
            entry.0 += n as u64;
            if day > entry.1 {
                entry.1 = day;
            }
        }
        let mut reporters = Vec::with_capacity(by_reporter.len());
        for (reporter, (n, day)) in by_reporter {
            let latest: Option<String> = self.db.value(
                &format!(
                    "SELECT max(reported_at) FROM reports
                     WHERE {kinds} AND reported_day = ?1 AND reporter = ?2"
                ),
                params![day, reporter],
            )?;
            reporters.push((reporter, n, latest.unwrap_or_default()));
        }
        reporters.sort_by(|a: &(String, u64, String), b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let example: Option<Vec<u8>> = self.db.query_opt(
            "SELECT raw_packed FROM reports WHERE kind = 'complaint' AND source_ip = ?1
             ORDER BY attributed DESC, reported_at DESC, id DESC LIMIT 1",
            params![ip],
            |r| r.get(0),
        )?;
        let example = match example {
            Some(packed) => Some(packed),
            None => self.db.query_opt(
                "SELECT r.raw_packed FROM block_events b JOIN reports r ON r.id = b.report_id
                 WHERE b.ip = ?1 ORDER BY b.seen_at DESC, b.id DESC LIMIT 1",
                params![ip],
                |r| r.get(0),
            )?,
        };
        Ok(DelistFigures {
            send_log_by_day,
            delays,
            suppressions_active,
            reporters,
            example_raw: example
                .map(|packed| super::packed::unpack(&packed))
                .transpose()?,
        })
    }
}

impl Batch<'_> {
    /// Records a sighting; false when it was recorded already.
    pub fn add_block_event(&mut self, event: &NewBlockEvent) -> Result<bool> {
        let changed = self.tx.execute(
            "INSERT INTO block_events (ip, code, class, reply, status, text,
                recipient, seen_at, day, source, report_id, found_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, substr(?8, 1, 10), ?9, ?10, ?11)
             ON CONFLICT DO NOTHING",
            params![
                event.ip,
                event.code,
                event.class.as_str(),
                event.reply,
                event.status,
                event.text,
                event.recipient,
                event.seen_at,
                event.source,
                event.report_id,
                event.found_at,
            ],
        )?;
        Ok(changed > 0)
    }

    /// Moves the bounce scan past this report id.
    pub fn set_bounce_scan_position(&mut self, last_report_id: i64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO block_scan_state (name, last_report_id) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET last_report_id =
                CASE WHEN excluded.last_report_id > block_scan_state.last_report_id
                     THEN excluded.last_report_id ELSE block_scan_state.last_report_id END",
            params![BOUNCE_SCAN, last_report_id],
        )?;
        Ok(())
    }

    /// Notes that the alert step has seen the complaints up to report id `id`.
    pub fn set_alerted_through(&mut self, id: i64) -> Result<()> {
        self.tx.execute(
            "INSERT INTO report_progress (name, value) VALUES (?1, ?2)
             ON CONFLICT (name) DO UPDATE SET value =
                CASE WHEN excluded.value > report_progress.value
                     THEN excluded.value ELSE report_progress.value END",
            params![ALERTED_THROUGH, id],
        )?;
        Ok(())
    }

    /// Records an alert; true when it is new (never raised before).
    pub fn raise_alert(
        &mut self,
        key: &(String, String, String),
        message: &str,
        now: &str,
    ) -> Result<bool> {
        let changed = self.tx.execute(
            "INSERT INTO report_alerts (kind, subject, event, message, raised_at)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
            params![key.0, key.1, key.2, message, now],
        )?;
        Ok(changed > 0)
    }
}

/// Whether a window's report reads complaints reported on `day` about mail sent on
/// `sent_day` (when the send log places them on another day): those reported in the window,
/// and those reported since its start about mail sent in it, which are rated against it.
fn read_with_window(day: &str, sent_day: Option<&str>, from_day: &str, to_day: &str) -> bool {
    let within = |d: &str| d >= from_day && d <= to_day;
    within(day) || (day >= from_day && sent_day.is_some_and(within))
}

/// How `send_log_volume` counts the send log, per kind: the day and key of a row, and which
/// rows count. One definition for the report step, which adds rows in, and for
/// `adjust_send_log_volume`, which takes rows out (a prune) or moves them (a merge).
fn volume_groups(spelling: &Spelling) -> [(&'static str, &'static str, String, &'static str); 3] {
    [
        (
            "ip",
            "substr(sent_at, 1, 10)",
            "source_ip".to_string(),
            "sent_at IS NOT NULL AND source_ip IS NOT NULL AND source_ip <> ''",
        ),
        (
            "domain",
            "substr(sent_at, 1, 10)",
            spelling.domain_of("recipient"),
            "sent_at IS NOT NULL",
        ),
        (
            "campaign",
            "coalesce(substr(sent_at, 1, 10), '')",
            format!(
                "coalesce(campaign, '') || {} || coalesce(list, '')",
                spelling.key_separator
            ),
            "(campaign IS NOT NULL OR list IS NOT NULL)",
        ),
    ]
}

/// Adds to (`sign` 1) or takes from (`sign` -1) `send_log_volume` the send-log rows
/// `selection` picks (a condition on `send_log`, with `values` as its parameters), grouped as
/// the report step counts them; a count brought to 0 leaves the table, as a full count would
/// not have it. Only for rows the report step has counted (`rowid` at most its
/// `send_log_rowid`), or is to count: the prune takes out the rows it deletes, in the same
/// transaction, so that no prune makes the report count the whole send log again.
pub(super) fn adjust_send_log_volume(
    tx: &Db,
    sign: i64,
    selection: &str,
    values: &[super::db::Value],
) -> Result<()> {
    let spelling = Spelling::of(tx.dialect());
    // The keys compare as send_log_volume's do (PostgreSQL: COLLATE "C").
    let text = match tx.dialect() {
        super::Dialect::Sqlite => "TEXT",
        super::Dialect::Postgres => "TEXT COLLATE \"C\"",
    };
    tx.execute(
        &format!(
            "CREATE TEMP TABLE IF NOT EXISTS volume_change
                (kind {text} NOT NULL, day {text} NOT NULL, key {text} NOT NULL,
                 messages BIGINT NOT NULL)"
        ),
        params![],
    )?;
    tx.execute("DELETE FROM volume_change", params![])?;
    for (kind, day, key, filter) in volume_groups(&spelling) {
        tx.execute(
            &format!(
                "INSERT INTO volume_change (kind, day, key, messages)
                 SELECT '{kind}', {day} AS d, {key} AS k, {sign} * count(*) FROM send_log
                 WHERE ({selection}) AND {filter} GROUP BY d, k"
            ),
            values,
        )?;
    }
    tx.execute(
        "INSERT INTO send_log_volume (kind, day, key, messages)
         SELECT kind, day, key, messages FROM volume_change WHERE true
         ON CONFLICT (kind, day, key)
         DO UPDATE SET messages = send_log_volume.messages + excluded.messages",
        params![],
    )?;
    if sign < 0 {
        tx.execute(
            "DELETE FROM send_log_volume WHERE messages <= 0
             AND (kind, day, key) IN (SELECT kind, day, key FROM volume_change)",
            params![],
        )?;
    }
    tx.execute("DELETE FROM volume_change", params![])?;
    Ok(())
}

/// Between campaign and list in a `send_log_volume` key.
const KEY_SEPARATOR: char = '\u{1f}';

/// What SQLite and PostgreSQL spell differently in the report summaries' SQL. (`rowid`, which
/// only `send_log` is read by, is translated to its `seq` column by `db::to_postgres`.)
struct Spelling {
    /// The position of a substring: `instr(text, part)` or `strpos(text, part)`.
    position: &'static str,
    /// The character between campaign and list (`KEY_SEPARATOR`).
    key_separator: &'static str,
    /// The attribution notes of a report, as JSON text.
    notes: &'static str,
    /// The complaint filter; SQLite's `+` keeps it from scanning every complaint in the kind
    /// index when the condition is an id range.
    complaint: &'static str,
    /// How the first matching send-log row is chosen (SQLite's index order is rowid order).
    first_send: &'static str,
    /// Complaints after report id ?1, of the reports table unaliased, read by id (`+`, as
    /// in `complaint`).
    complaint_after: &'static str,
}

impl Spelling {
    fn of(dialect: super::Dialect) -> Spelling {
        match dialect {
            super::Dialect::Sqlite => Spelling {
                position: "instr",
                key_separator: "char(31)",
                notes: "json_extract(r.report_json, '$.attribution_notes')",
                complaint: "+r.kind = 'complaint'",
                first_send: "",
                complaint_after: "+kind = 'complaint' AND id > ?1",
            },
            super::Dialect::Postgres => Spelling {
                position: "strpos",
                key_separator: "chr(31)",
                notes: "(r.report_json::jsonb -> 'attribution_notes')::text",
                complaint: "r.kind = 'complaint'",
                first_send: "ORDER BY s.rowid",
                complaint_after: "kind = 'complaint' AND id > ?1",
            },
        }
    }

    /// The send-log row (its rowid) that places the complaint of report `r`: the first
    /// with its Message-ID, else the first with its complainant's id.
    fn send_of_report(&self) -> String {
        let first_send = self.first_send;
        format!(
            "coalesce(
                (SELECT s.rowid FROM send_log s
                 WHERE r.message_id IS NOT NULL AND r.message_id <> ''
                   AND s.message_id = r.message_id {first_send} LIMIT 1),
                (SELECT s.rowid FROM complainants k JOIN send_log s ON s.id = k.id
                 WHERE k.report_id = r.id AND k.id <> '' {first_send} LIMIT 1))"
        )
    }

    /// The lower-cased domain of an address column.
    fn domain_of(&self, column: &str) -> String {
        format!(
            "lower(substr({column}, {}({column}, '@') + 1))",
            self.position
        )
    }

    /// Inserts the facts of the complaint reports `selection` picks: campaign and list
    /// through the send log (by Message-ID, else by the complainant's id), the
    /// complainant's domain, and the notes of an unattributed complaint (never NULL for
    /// one: `kept_complaint_counts` counts the unattributed complaints by their notes); and
    /// the send-log row that placed it, for `Batch::add_send_log` to have it counted again
    /// when that row gains a campaign or list.
    fn facts(&self, selection: &str) -> String {
        let Spelling {
            notes, complaint, ..
        } = self;
        let domain = self.domain_of("k.address");
        let send = self.send_of_report();
        format!(
            "INSERT INTO complaint_facts
                (report_id, reported_day, campaign, list, domain, notes, placed, send_rowid,
                 sent_day)
            SELECT p.id, p.reported_day, s.campaign, s.list, p.domain, p.notes,
                   CASE WHEN s.rowid IS NOT NULL THEN 1 ELSE 0 END, s.rowid,
                   substr(s.sent_at, 1, 10)
            FROM (SELECT r.id, r.reported_day,
                    {send} AS send,
                    (SELECT {domain} FROM complainants k
                     WHERE k.report_id = r.id AND k.address <> '' LIMIT 1) AS domain,
                    CASE WHEN r.attributed = 0 THEN coalesce({notes}, '[]') END AS notes
                  FROM reports r
                  WHERE {complaint} AND {selection}) AS p
            LEFT JOIN send_log s ON s.rowid = p.send"
        )
    }
}

/// `campaign U+001F list` back into its parts; empty is none.
fn split_campaign_key(key: &str) -> (Option<String>, Option<String>) {
    let (campaign, list) = key.split_once(KEY_SEPARATOR).unwrap_or((key, ""));
    let some = |text: &str| (!text.is_empty()).then(|| text.to_string());
    (some(campaign), some(list))
}

/// SNDS's complaint band when it states no percentage but "below 0.1%".
const BELOW_POINT_ONE: &str = "< 0.1%";

/// A filter result from its rank (`snds_days`), worst highest.
fn filter_result(rank: i64) -> &'static str {
    match rank {
        3 => "red",
        2 => "yellow",
        1 => "green",
        _ => "unknown",
    }
}

/// SNDS's complaint band as shown: its percentage, else "< 0.1%" when it says so.
fn complaint_rate(percent: Option<f64>, below_point_one: bool) -> String {
    match (percent, below_point_one) {
        (Some(p), _) => format!("{p}%"),
        (None, true) => BELOW_POINT_ONE.to_string(),
        (None, false) => String::new(),
    }
}

/// An IP's SNDS day from a row of (ip, day, recipients, filter rank, complaint percent,
/// below 0.1 %, trap hits).
/// The UTC day an activity window mostly covers: the day of its middle.
fn covered_day(start: Option<&str>, end: Option<&str>) -> Option<String> {
    let start = chrono::DateTime::parse_from_rfc3339(start?).ok()?;
    let end = chrono::DateTime::parse_from_rfc3339(end?).ok()?;
    if end < start {
        return None;
    }
    let middle = start + (end - start) / 2;
    Some(middle.with_timezone(&chrono::Utc).date_naive().to_string())
}

/// What tells an SNDS row's activity window apart, and which account's copy of it to keep:
/// each text as its rank among those read, which orders as the text does.
struct SndsWindow {
    /// The window's start in UTC, or as SNDS wrote it when it could not be read.
    start: u32,
    fetched_at: u32,
    account: u32,
}

fn snds_day_from_row(r: &Row) -> Result<SndsDay> {
    let percent: Option<f64> = r.get(4)?;
    let filed: String = r.get(1)?;
    let start: Option<String> = r.get(7)?;
    let end: Option<String> = r.get(8)?;
    Ok(SndsDay {
        ip: r.get(0)?,
        day: covered_day(start.as_deref(), end.as_deref()).unwrap_or(filed),
        message_recipients: r.get::<i64>(2)? as u64,
        filter_result: filter_result(r.get(3)?).to_string(),
        complaint_rate: complaint_rate(percent, r.get(5)?),
        complaint_percent: percent,
        trap_hits: r.get::<i64>(6)? as u64,
    })
}

fn block_event_from_row(r: &Row) -> Result<BlockEvent> {
    let class: String = r.get(2)?;
    let recipient: String = r.get(4)?;
    Ok(BlockEvent {
        ip: r.get(0)?,
        code: r.get(1)?,
        class: BlockClass::parse(&class).unwrap_or(BlockClass::Block),
        text: r.get(3)?,
        recipient: (!recipient.is_empty()).then_some(recipient),
        seen_at: r.get(5)?,
        source: r.get(6)?,
    })
}

fn volume_from_row(r: &Row) -> Result<Volume> {
    Ok(Volume {
        key: r.get(0)?,
        day: r.get(1)?,
        messages: r.get::<i64>(2)? as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Format, Kind, Recipient, Report, Reporter, Via};
    use crate::snds::{ComplaintBand, FilterColor, SndsDataRow};
    use crate::store::{NewReport, Stored, sha256};
    use std::collections::BTreeMap;

    #[test]
    fn an_snds_window_belongs_to_the_utc_day_it_mostly_covers() {
        // 4 PM to 4 PM Pacific is the next UTC day exactly; read in UTC, mostly the next day.
        assert_eq!(
            covered_day(Some("2026-11-21T00:00:00Z"), Some("2026-11-22T00:00:00Z")).as_deref(),
            Some("2026-11-21")
        );
        assert_eq!(
            covered_day(Some("2026-11-20T16:00:00Z"), Some("2026-11-21T16:00:00Z")).as_deref(),
            Some("2026-11-21")
        );
        assert_eq!(
            covered_day(Some("2026-11-20T01:00:00Z"), Some("2026-11-20T05:00:00Z")).as_deref(),
            Some("2026-11-20")
        );
        assert_eq!(covered_day(None, Some("2026-11-20T05:00:00Z")), None);
    }

    const NOW: &str = "2026-11-20T08:00:00Z";

    /// Complaint `n`: on one of five days, about one of two IPs or none (absent or empty),
    /// from one of three reporters, two in three attributed.
    fn complaint(n: usize) -> Report {
        let reporter = [Reporter::Yahoo, Reporter::Aol, Reporter::Microsoft][n % 3];
        let mut report = Report::empty(Kind::Complaint, Format::Arf, reporter);
        report.report_date = Some(format!("2026-11-0{}T10:00:00Z", 1 + n % 5));
        report.source_ip = match n % 4 {
            0 | 1 => Some(format!("192.0.2.{}", 1 + n % 2)),
            2 => None,
            _ => Some(String::new()),
        };
        report.message_id = Some(format!("m{n}@sender.example"));
        attribute(&mut report, n, !n.is_multiple_of(3));
        report
    }

    /// The send of complaint `n`'s message, but for every third one: sent the day it was
    /// reported (even `n`) or the day before (odd `n`); with no time when `timed` is false.
    fn send(store: &mut Store, range: std::ops::Range<usize>, timed: bool) {
        let mut batch = store.begin().unwrap();
        for n in range.filter(|n| n % 3 != 2) {
            let reported = 1 + n % 5;
            let sent_at = match reported - n % 2 {
                0 => "2026-10-31T09:00:00Z".to_string(),
                day => format!("2026-11-0{day}T09:00:00Z"),
            };
            let entry = crate::sendlog::SendLogEntry {
                message_id: Some(format!("m{n}@sender.example")),
                recipient: format!("user{n}@example.org"),
                id: None,
                campaign: None,
                list: None,
                source_ip: None,
                sent_at: timed.then_some(sent_at),
            };
            batch.add_send_log(&entry, NOW).unwrap();
        }
        batch.commit().unwrap();
    }

    fn attribute(report: &mut Report, n: usize, attributed: bool) {
        report.recipients.clear();
        report.attribution_notes.clear();
        if attributed {
            report.recipients.push(Recipient {
                address: Some(format!("user{n}@example.org")),
                id: None,
                via: Via::OriginalRcptTo,
            });
        } else if n.is_multiple_of(2) {
            report.attribution_notes.push("no complainant found".into());
        }
    }

    /// Stores complaints `range` (and a not-spam report beside them); returns their ids.
    fn store(store: &mut Store, range: std::ops::Range<usize>) -> Vec<i64> {
        let mut batch = store.begin().unwrap();
        let mut ids = Vec::new();
        for n in range {
            for report in [
                complaint(n),
                Report::empty(Kind::NotSpam, Format::Arf, Reporter::Yahoo),
            ] {
                let raw = format!("report {n} {:?}", report.kind);
                let stored = batch
                    .store_report(&NewReport {
                        raw: raw.as_bytes(),
                        packed: None,
                        sha256: sha256(raw.as_bytes()),
                        content_key: None,
                        origin: "test",
                        report: &report,
                        ingested_at: NOW,
                    })
                    .unwrap();
                if let (Kind::Complaint, Stored::New(id)) = (report.kind, stored) {
                    ids.push(id);
                }
            }
        }
        batch.commit().unwrap();
        ids
    }

    /// Complaints per day, sent day, source IP and reporter, an empty IP read as none (as
    /// the report reads it: the index counts a NULL and an empty IP apart), and the two
    /// totals.
    type Normalised = (
        BTreeMap<(String, Option<String>, Option<String>, String), u64>,
        u64,
        u64,
    );

    fn normalised(counts: (Vec<ComplaintCount>, u64, u64)) -> Normalised {
        let (rows, attributed, unattributed) = counts;
        let mut out = BTreeMap::new();
        for row in rows {
            let ip = row.source_ip.filter(|ip| !ip.is_empty());
            *out.entry((row.day, row.sent_day, ip, row.reporter))
                .or_default() += row.complaints;
        }
        (out, attributed, unattributed)
    }

    /// `complaint_counts` gives what counting the index gives, from the kept counts or not.
    fn check(store: &Store, kept: bool) {
        assert_eq!(store.complaint_counts_kept().unwrap(), kept);
        for (from, to) in [
            ("2026-11-01", "2026-11-30"),
            ("2026-11-02", "2026-11-04"),
            ("2026-12-01", "2026-12-31"),
        ] {
            let counted = normalised(store.counted_complaint_counts(from, to).unwrap());
            assert_eq!(
                normalised(store.complaint_counts(from, to).unwrap()),
                counted
            );
            if kept {
                let from_kept = store.kept_complaint_counts(from, to).unwrap();
                assert_eq!(normalised(from_kept), counted, "{from} to {to}");
            }
        }
    }

    #[test]
    fn kept_complaint_counts_are_the_counted_ones_and_used_only_when_whole() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let first = store(&mut db, 0..40);
        // Sends of most of them, some a day before the complaint; some with no time at
        // first, given one by another log later.
        send(&mut db, 0..30, true);
        send(&mut db, 30..50, false);
        check(&db, false);
        db.refresh_report_summaries().unwrap();
        check(&db, true);
        let (_, attributed, unattributed) =
            db.complaint_counts("2026-11-01", "2026-11-30").unwrap();
        assert_eq!((attributed, unattributed), (26, 14));

        // New complaints: counted from the index until the next report step.
        store(&mut db, 40..50);
        check(&db, false);
        db.refresh_report_summaries().unwrap();
        check(&db, true);
        // A send's time from another log: its complaints move to the day it gives.
        send(&mut db, 30..50, true);
        check(&db, false);
        db.refresh_report_summaries().unwrap();
        check(&db, true);
        // Complaints the send log did not place yet, then a log that places them: the kept
        // counts wait for the next report step, which places them; meanwhile they are
        // counted.
        store(&mut db, 70..76);
        db.refresh_report_summaries().unwrap();
        check(&db, true);
        send(&mut db, 70..76, true);
        check(&db, false);
        db.refresh_report_summaries().unwrap();
        check(&db, true);

        // Attributed again, one way and the other.
        let mut batch = db.begin().unwrap();
        for (n, attributed) in [(0, true), (1, false)] {
            let mut report = complaint(n);
            attribute(&mut report, n, attributed);
            batch.update_attribution(first[n], &report).unwrap();
        }
        batch.commit().unwrap();
        check(&db, false);
        db.refresh_report_summaries().unwrap();
        check(&db, true);
        let (_, attributed, unattributed) =
            db.complaint_counts("2026-11-01", "2026-11-30").unwrap();
        assert_eq!((attributed, unattributed), (37, 19));

        // The report step of an fbl that keeps no counts per source IP (an older one on the
        // same store): the facts move on, those counts stay behind and are not used until
        // this fbl's next report step.
        let kept = |db: &Store| -> Vec<(String, String, i64)> {
            db.db
                .query(
                    "SELECT day, key, complaints FROM complaint_day_counts
                     WHERE kind = 'source' ORDER BY day, key",
                    params![],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap()
        };
        let before = kept(&db);
        let source_id: i64 = db
            .db
            .value(
                "SELECT value FROM report_progress WHERE name = ?1",
                params![SOURCE_COUNTS],
            )
            .unwrap();
        store(&mut db, 50..60);
        db.refresh_report_summaries().unwrap();
        assert_ne!(kept(&db), before);
        let batch = db.begin().unwrap();
        batch
            .tx
            .execute(
                "DELETE FROM complaint_day_counts WHERE kind = 'source'",
                params![],
            )
            .unwrap();
        for (day, key, complaints) in &before {
            batch
                .tx
                .execute(
                    "INSERT INTO complaint_day_counts (kind, day, key, complaints)
                     VALUES ('source', ?1, ?2, ?3)",
                    params![day, key, complaints],
                )
                .unwrap();
        }
        batch
            .tx
            .execute(
                "UPDATE report_progress SET value = ?2 WHERE name = ?1",
                params![SOURCE_COUNTS, source_id],
            )
            .unwrap();
        batch.commit().unwrap();
        check(&db, false);
        db.refresh_report_summaries().unwrap();
        check(&db, true);
    }

    /// Two accounts, and two activity windows of one day: added up as the SQL aggregates
    /// (sum, max, max of the percentage leaving NULLs aside) did, a window that both
    /// accounts hold counted once.
    #[test]
    fn snds_windows_of_a_day_add_up_as_sql_did() {
        let dir = tempfile::tempdir().unwrap();
        let mut db = Store::open(&dir.path().join("store.sqlite")).unwrap();
        let mut batch = db.begin().unwrap();
        let rows = [
            (
                "a",
                "192.0.2.1",
                "11/1/2026 12:00 AM",
                FilterColor::Green,
                ComplaintBand::BelowPointOne,
                100,
                0,
            ),
            (
                "a",
                "192.0.2.1",
                "11/1/2026 12:00 PM",
                FilterColor::Yellow,
                ComplaintBand::Unknown,
                50,
                2,
            ),
            (
                "b",
                "192.0.2.1",
                "11/1/2026 6:00 PM",
                FilterColor::Unknown,
                ComplaintBand::Percent(0.4),
                7,
                1,
            ),
            (
                "a",
                "192.0.2.2",
                "11/1/2026 12:00 AM",
                FilterColor::Red,
                ComplaintBand::Unknown,
                9,
                0,
            ),
            (
                "b",
                "192.0.2.2",
                "11/1/2026 12:00 AM",
                FilterColor::Green,
                ComplaintBand::Unknown,
                1,
                0,
            ),
            (
                "a",
                "192.0.2.10",
                "11/2/2026 12:00 AM",
                FilterColor::Green,
                ComplaintBand::Percent(0.2),
                1,
                0,
            ),
            (
                "b",
                "192.0.2.10",
                "11/2/2026 12:00 PM",
                FilterColor::Green,
                ComplaintBand::Percent(1.5),
                1,
                0,
            ),
            (
                "b",
                "192.0.2.10",
                "11/2/2026 6:00 AM",
                FilterColor::Green,
                ComplaintBand::BelowPointOne,
                1,
                0,
            ),
            (
                "a",
                "192.0.2.3",
                "11/3/2026 12:00 AM",
                FilterColor::Green,
                ComplaintBand::Unknown,
                4,
                0,
            ),
        ];
        for (account, ip, start, colour, band, recipients, traps) in rows {
            let day = format!(
                "2026-11-0{}",
                start.split('/').nth(1).unwrap().parse::<u32>().unwrap()
            );
            let row = SndsDataRow {
                ip: ip.parse().unwrap(),
                activity_start_raw: start.into(),
                activity_end_raw: String::new(),
                activity_start: None,
                activity_end: None,
                rcpt_commands: 0,
                data_commands: 0,
                message_recipients: recipients,
                filter_result: colour,
                filter_result_raw: String::new(),
                complaint_rate_raw: String::new(),
                complaint_rate: band,
                trap_period_start_raw: String::new(),
                trap_period_end_raw: String::new(),
                trap_period_start: None,
                trap_period_end: None,
                trap_hits: traps,
                sample_helo: None,
                jmr_p1_sender: None,
                comments: None,
            };
            batch.upsert_snds_row(account, &day, &row, NOW).unwrap();
        }
        batch.commit().unwrap();
        // What the GROUP BY this replaced gave, over one row per IP and window: the one of
        // the account that fetched it last, or the first account by name.
        let grouped = |from: &str, to: &str, ip: Option<&str>| -> Vec<SndsDay> {
            db.db
                .query(
                    "SELECT ip, day, sum(message_recipients),
                        max(CASE filter_result WHEN 'red' THEN 3 WHEN 'yellow' THEN 2
                                               WHEN 'green' THEN 1 ELSE 0 END),
                        max(complaint_percent),
                        max(CASE WHEN complaint_rate = 'below_point_one' THEN 1 ELSE 0 END),
                        sum(trap_hits), NULL, NULL
                     FROM snds_data d
                     WHERE day BETWEEN ?1 AND ?2 AND (CAST(?3 AS TEXT) IS NULL OR ip = ?3)
                       AND NOT EXISTS (
                           SELECT 1 FROM snds_data o
                           WHERE o.ip = d.ip
                             AND coalesce(o.activity_start, o.activity_start_raw)
                                 = coalesce(d.activity_start, d.activity_start_raw)
                             AND (o.fetched_at > d.fetched_at
                                  OR (o.fetched_at = d.fetched_at AND o.account < d.account)))
                     GROUP BY ip, day ORDER BY ip, day",
                    params![from, to, ip],
                    snds_day_from_row,
                )
                .unwrap()
        };
        for (from, to, ip) in [
            ("2026-11-01", "2026-11-30", None),
            ("2026-11-02", "2026-11-03", None),
            ("2026-11-01", "2026-11-30", Some("192.0.2.1")),
            ("2026-11-01", "2026-11-30", Some("192.0.2.10")),
        ] {
            let given = db.snds_days(from, to, ip).unwrap();
            assert_eq!(given, grouped(from, to, ip), "{from} to {to}, {ip:?}");
        }
        let all = db.snds_days("2026-11-01", "2026-11-30", None).unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(
            (
                all[0].message_recipients,
                all[0].filter_result.as_str(),
                all[0].complaint_rate.as_str(),
                all[0].trap_hits
            ),
            (157, "yellow", "0.4%", 3)
        );
        assert_eq!(all[1].complaint_rate, "1.5%");
        // Both accounts hold 192.0.2.2's window, fetched at once: the first account's counts.
        assert_eq!(
            (
                all[2].message_recipients,
                all[2].filter_result.as_str(),
                all[2].complaint_rate.as_str()
            ),
            (9, "red", "")
        );
    }
}
