//! Migrations 0017's and 0022's Rust part: every stored address in the form fbl keeps now, an
//! internationalised domain in its Unicode form (`crate::address::canonical_domain`, 0017)
//! and a local part beyond ASCII lower-cased (`crate::address::canonical_local_part`, 0022).
//! Two suppressions that become one address are merged. An address UTS #46 refuses is left as
//! it is and said once, by the first of the two to run.

use super::db::params;
use super::{HISTORY_CHAIN, Store, reason_rank};
use crate::address::{Invalid, canonical_domain, canonical_local_part};
use anyhow::Result;
use std::collections::BTreeSet;

/// What the migration says about a stored address.
enum Form {
    /// Already as fbl keeps it (or not an `local@domain` address at all).
    Kept,
    /// To be rewritten to this.
    Canonical(String),
    /// UTS #46 refuses its domain: left as it is.
    Invalid,
}

/// The form fbl keeps now of a stored address: its domain canonical (0017), and a local part
/// with characters beyond ASCII lower-cased (0022, `crate::address::canonical_local_part`).
fn form(address: &str) -> Form {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Form::Kept;
    };
    let canonical_local = canonical_local_part(local);
    match canonical_domain(domain) {
        Ok(canonical) if canonical == domain && canonical_local == local => Form::Kept,
        // The form `address::check` keeps, or none: an address no command could find again
        // once rewritten is left as it is.
        Ok(canonical) => match crate::address::check_canonical_domain(&canonical) {
            Ok(()) => Form::Canonical(format!("{canonical_local}@{canonical}")),
            Err(_) => Form::Invalid,
        },
        Err(Invalid::InvalidIdn) => Form::Invalid,
        Err(_) => Form::Kept,
    }
}

/// What made `address` the same address as `canonical` (the form it was rewritten to), and
/// the store migration whose job that is: its domain in another form (0017), its local part
/// in other capitals (0022), or both. Either migration may do both: a store older than 0017
/// has both done by 0017.
fn merge_cause(address: &str, canonical: &str) -> &'static str {
    let (local, domain) = address.rsplit_once('@').unwrap_or((address, ""));
    let (canonical_local, canonical_domain) = canonical.rsplit_once('@').unwrap_or((canonical, ""));
    match (
        !domain.eq_ignore_ascii_case(canonical_domain),
        !local.eq_ignore_ascii_case(canonical_local),
    ) {
        (true, true) => {
            "its domain in another form and its local part in other capitals) by store \
             migrations 0017 and 0022"
        }
        (false, true) => "its local part in other capitals) by store migration 0022",
        _ => "its domain in another form) by store migration 0017",
    }
}

/// One suppression row as the merge reads it.
struct Row {
    reason: String,
    source: String,
    first_seen: String,
    last_seen: String,
    count: i64,
    expires_at: Option<String>,
    removed_at: Option<String>,
    last_history_id: Option<i64>,
}

impl Store {
    /// SQL that is true for an address column that may not be in the form fbl keeps: one
    /// with a character beyond ASCII or an `xn--` label. Every other stored address is kept
    /// as it is without being read into fbl.
    fn maybe_not_canonical(&self, column: &str) -> String {
        let beyond_ascii = self.db.pick(
            "length(CAST({c} AS BLOB)) <> length({c})",
            "octet_length({c}::text) <> length({c}::text)",
        );
        format!(
            "({} OR lower({column}) LIKE '%xn--%')",
            beyond_ascii.replace("{c}", column)
        )
    }

    /// Rewrites every stored address to the form fbl keeps now (see the module). `say_invalid`
    /// names the addresses left as they were (0017 does; 0022 finds the same ones again).
    pub(super) fn canonical_stored_addresses(&self, say_invalid: bool) -> Result<()> {
        let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut invalid = BTreeSet::new();
        let mut note = |address: &str| {
            invalid.insert(address.to_string());
        };

        // Suppressions first: a merge reads both history chains from their rows.
        let addresses: Vec<String> = self.db.query(
            &format!(
                "SELECT address FROM suppressions WHERE {} ORDER BY address",
                self.maybe_not_canonical("address")
            ),
            params![],
            |r| r.get(0),
        )?;
        for address in &addresses {
            match form(address) {
                Form::Kept => {}
                Form::Invalid => note(address),
                Form::Canonical(canonical) => self.merge_suppression(address, &canonical, &now)?,
            }
        }

        // History lines, found in one pass (there is no index by address).
        let lines: Vec<(i64, String)> = self.db.query(
            &format!(
                "SELECT id, address FROM suppression_history WHERE {}",
                self.maybe_not_canonical("address")
            ),
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (id, address) in &lines {
            match form(address) {
                Form::Kept => {}
                Form::Invalid => note(address),
                Form::Canonical(canonical) => {
                    self.db.execute(
                        "UPDATE suppression_history SET address = ?2 WHERE id = ?1",
                        params![*id, canonical],
                    )?;
                }
            }
        }

        // Evidence written before version 8: one row per address and report.
        let evidence: Vec<(String, i64)> = self.db.query(
            &format!(
                "SELECT address, report_id FROM suppression_evidence WHERE {}",
                self.maybe_not_canonical("address")
            ),
            params![],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        for (address, report_id) in &evidence {
            match form(address) {
                Form::Kept => {}
                Form::Invalid => note(address),
                Form::Canonical(canonical) => {
                    self.db.execute(
                        "INSERT INTO suppression_evidence (address, report_id) VALUES (?1, ?2)
                         ON CONFLICT DO NOTHING",
                        params![canonical, *report_id],
                    )?;
                    self.db.execute(
                        "DELETE FROM suppression_evidence WHERE address = ?1 AND report_id = ?2",
                        params![address, *report_id],
                    )?;
                }
            }
        }

        // Complainants: a report naming both forms keeps one row.
        let complainants: Vec<(i64, String, String, String)> = self.db.query(
            &format!(
                "SELECT report_id, address, id, via FROM complainants WHERE {}",
                self.maybe_not_canonical("address")
            ),
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let mut complainants_changed = false;
        for (report_id, address, id, via) in &complainants {
            match form(address) {
                Form::Kept => {}
                Form::Invalid => note(address),
                Form::Canonical(canonical) => {
                    let duplicate = self.db.exists(
                        "SELECT 1 FROM complainants
                         WHERE report_id = ?1 AND address = ?2 AND id = ?3 AND via = ?4",
                        params![*report_id, canonical, id, via],
                    )?;
                    if duplicate {
                        self.db.execute(
                            "DELETE FROM complainants
                             WHERE report_id = ?1 AND address = ?2 AND id = ?3 AND via = ?4",
                            params![*report_id, address, id, via],
                        )?;
                    } else {
                        self.db.execute(
                            "UPDATE complainants SET address = ?5
                             WHERE report_id = ?1 AND address = ?2 AND id = ?3 AND via = ?4",
                            params![*report_id, address, id, via, canonical],
                        )?;
                    }
                    complainants_changed = true;
                }
            }
        }
        if complainants_changed {
            // The report's complaints per complainant domain are counted again from the
            // complainants (store/report.rs: facts `placed` -1 are redone).
            self.db.execute(
                &format!(
                    "UPDATE complaint_facts SET placed = -1 WHERE domain IS NOT NULL AND {}",
                    self.maybe_not_canonical("domain")
                ),
                params![],
            )?;
        }

        // The send log, one pass (there is no index by recipient); a row whose canonical
        // twin is there already goes, as importing it again would have changed nothing.
        let sent: Vec<(i64, String, String, String)> = self.db.query(
            &format!(
                "SELECT rowid, message_id, recipient, id FROM send_log WHERE {}",
                self.maybe_not_canonical("recipient")
            ),
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let mut send_log_changed = false;
        for (rowid, message_id, recipient, id) in &sent {
            match form(recipient) {
                Form::Kept => {}
                // A send log keeps what the MTA sent: said, but such a recipient
                // attributes nothing anyway.
                Form::Invalid => note(recipient),
                Form::Canonical(canonical) => {
                    let duplicate = self.db.exists(
                        "SELECT 1 FROM send_log
                         WHERE message_id = ?1 AND recipient = ?2 AND id = ?3",
                        params![message_id, canonical, id],
                    )?;
                    if duplicate {
                        self.db
                            .execute("DELETE FROM send_log WHERE rowid = ?1", params![*rowid])?;
                    } else {
                        self.db.execute(
                            "UPDATE send_log SET recipient = ?2 WHERE rowid = ?1",
                            params![*rowid, canonical],
                        )?;
                    }
                    send_log_changed = true;
                }
            }
        }
        if send_log_changed {
            // The report's send-log volumes (by recipient domain too) are counted again.
            self.db.execute(
                "INSERT INTO report_progress (name, value) VALUES ('send_log_pruned', 1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                params![],
            )?;
        }

        // Outlook.com block events name the recipient of the bounce or send-log line.
        let events: Vec<(i64, String, String, String, String, String)> = self.db.query(
            &format!(
                "SELECT id, source, ip, code, recipient, seen_at FROM block_events WHERE {}",
                self.maybe_not_canonical("recipient")
            ),
            params![],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            },
        )?;
        for (id, source, ip, code, recipient, seen_at) in &events {
            match form(recipient) {
                Form::Kept => {}
                Form::Invalid => note(recipient),
                Form::Canonical(canonical) => {
                    let duplicate = self.db.exists(
                        "SELECT 1 FROM block_events WHERE source = ?1 AND ip = ?2 AND code = ?3
                         AND recipient = ?4 AND seen_at = ?5",
                        params![source, ip, code, canonical, seen_at],
                    )?;
                    if duplicate {
                        self.db
                            .execute("DELETE FROM block_events WHERE id = ?1", params![*id])?;
                    } else {
                        self.db.execute(
                            "UPDATE block_events SET recipient = ?2 WHERE id = ?1",
                            params![*id, canonical],
                        )?;
                    }
                }
            }
        }

        if say_invalid && !invalid.is_empty() {
            // Said once, here: the migration runs once. Nothing is deleted.
            let shown: Vec<&str> = invalid.iter().take(10).map(String::as_str).collect();
            eprintln!(
                "fbl: store migration 0017: {} stored address{} whose domain is not a valid \
                 internationalised domain name (UTS #46) left as {}: {}{} (`fbl suppress list \
                 --invalid` lists such suppressions, `fbl suppress remove` takes one off)",
                invalid.len(),
                if invalid.len() == 1 { "" } else { "es" },
                if invalid.len() == 1 {
                    "it is"
                } else {
                    "they are"
                },
                shown.join(", "),
                if invalid.len() > shown.len() {
                    ", ..."
                } else {
                    ""
                }
            );
        }
        Ok(())
    }

    /// Moves the suppression of `address` to `canonical`; when `canonical` has one already,
    /// merges the two: first seen the earliest, last seen the latest, counts added, the
    /// stronger reason, the later expiry (none when either has none), on the list when
    /// either is. Both history chains become one, ordered by id, and a `merge` line ends it.
    fn merge_suppression(&self, address: &str, canonical: &str, now: &str) -> Result<()> {
        let read = |address: &str| {
            self.db.query_opt(
                "SELECT reason, source, first_seen, last_seen, count, expires_at, removed_at,
                    last_history_id
                 FROM suppressions WHERE address = ?1",
                params![address],
                |r| {
                    Ok(Row {
                        reason: r.get(0)?,
                        source: r.get(1)?,
                        first_seen: r.get(2)?,
                        last_seen: r.get(3)?,
                        count: r.get(4)?,
                        expires_at: r.get(5)?,
                        removed_at: r.get(6)?,
                        last_history_id: r.get(7)?,
                    })
                },
            )
        };
        let Some(other) = read(address)? else {
            return Ok(());
        };
        let same_row = canonical.eq_ignore_ascii_case(address);
        let kept = if same_row { None } else { read(canonical)? };
        let Some(kept) = kept else {
            // Changed for the exports too: one written with `--changed-since-last` or
            // `--since` gives the list manager the new form (which a subscriber's record
            // holds) at its next run.
            self.db.execute(
                "UPDATE suppressions SET address = ?2, updated_at = ?3,
                    change_seq = (SELECT coalesce(max(change_seq), 0) + 1 FROM suppressions)
                 WHERE address = ?1",
                params![address, canonical, now],
            )?;
            return Ok(());
        };
        let chain = |address: &str| -> Result<Vec<i64>> {
            self.db.query(
                &format!("{HISTORY_CHAIN} SELECT id FROM chain WHERE id IS NOT NULL"),
                params![address],
                |r| r.get(0),
            )
        };
        let mut lines = chain(canonical)?;
        lines.extend(chain(address)?);
        lines.sort_unstable();
        lines.dedup();

        // An entry on the list outweighs one taken off it, but for a removal by a person
        // (`suppress remove`, not an expiry) made after the last report or action of the
        // entry on the list: that person let this address back in, not knowing it had a twin.
        // Between two alike, the stronger reason wins (the canonical entry's on a tie), and
        // the later expiry.
        let removal_stands = |off: &Row, on: &Row| -> Result<bool> {
            let Some(removed_at) = &off.removed_at else {
                return Ok(false);
            };
            if *removed_at <= on.last_seen {
                return Ok(false);
            }
            let Some(line) = off.last_history_id else {
                return Ok(false);
            };
            let action: Option<String> = self.db.query_opt(
                "SELECT action FROM suppression_history WHERE id = ?1",
                params![line],
                |r| r.get(0),
            )?;
            Ok(action.as_deref() == Some("remove"))
        };
        let (mut kept_on, mut other_on) = (kept.removed_at.is_none(), other.removed_at.is_none());
        let mut removal_kept = false;
        if kept_on != other_on {
            let (on, off) = if kept_on {
                (&kept, &other)
            } else {
                (&other, &kept)
            };
            if removal_stands(off, on)? {
                removal_kept = true;
                (kept_on, other_on) = (false, false);
            }
        }
        let stronger = if removal_kept {
            if kept.removed_at.is_some() {
                &kept
            } else {
                &other
            }
        } else if kept_on != other_on {
            if kept_on { &kept } else { &other }
        } else if reason_rank(&other.reason) > reason_rank(&kept.reason) {
            &other
        } else {
            &kept
        };
        let expires_at = if kept_on != other_on || removal_kept {
            stronger.expires_at.clone()
        } else {
            match (&kept.expires_at, &other.expires_at) {
                (Some(a), Some(b)) => Some(a.max(b).clone()),
                _ => None,
            }
        };
        let removed_at = if kept_on || other_on {
            None
        } else {
            kept.removed_at.clone().max(other.removed_at.clone())
        };
        let first_seen = kept.first_seen.clone().min(other.first_seen.clone());
        let last_seen = kept.last_seen.clone().max(other.last_seen.clone());
        let count = kept.count + other.count;

        // One chain: each line after the one before it by id.
        for pair in lines.windows(2) {
            self.db.execute(
                "UPDATE suppression_history SET previous_id = ?2 WHERE id = ?1",
                params![pair[1], pair[0]],
            )?;
        }
        let mut note = format!(
            "merged with {address} (the same address, {}: {} and {} reports or actions",
            merge_cause(address, canonical),
            kept.count,
            other.count
        );
        if removal_kept {
            note.push_str(&format!(
                "; off the list, as the removal of {} on {} came after the other's last report",
                if kept.removed_at.is_some() {
                    canonical
                } else {
                    address
                },
                stronger.removed_at.as_deref().unwrap_or("")
            ));
        } else if kept.removed_at.is_some() != other.removed_at.is_some() {
            note.push_str(&format!(
                "; on the list, as {} is (the removal of the other came before its last report, \
                 or was an expiry)",
                if kept.removed_at.is_none() {
                    canonical
                } else {
                    address
                }
            ));
        }
        let line = self.db.insert_for_id(
            "INSERT INTO suppression_history
                (address, at, action, reason, actor, report_id, note, previous_id)
             VALUES (?1, ?2, 'merge', ?3, 'migration', NULL, ?4, ?5)",
            params![canonical, now, stronger.reason, note, lines.last().copied()],
        )?;
        // The merged entry's change comes after every change made before, the twin's too:
        // updated before the twin is deleted, so that its sequence is past the twin's
        // (deleted first, a twin with the highest sequence would lower the store's, and an
        // export that recorded it would miss this entry and the next changes).
        self.db.execute(
            "UPDATE suppressions SET reason = ?2, source = ?3, first_seen = ?4, last_seen = ?5,
                count = ?6, expires_at = ?7, removed_at = ?8, updated_at = ?9,
                change_seq = (SELECT coalesce(max(change_seq), 0) + 1 FROM suppressions),
                last_history_id = ?10
             WHERE address = ?1",
            params![
                canonical,
                stronger.reason,
                stronger.source,
                first_seen,
                last_seen,
                count,
                expires_at,
                removed_at,
                now,
                line
            ],
        )?;
        self.db.execute(
            "DELETE FROM suppressions WHERE address = ?1",
            params![address],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod merge_note_tests {
    use super::merge_cause;

    #[test]
    fn the_merge_note_names_what_differed() {
        assert!(merge_cause("user@xn--bcher-kva.de", "user@bücher.de").ends_with("migration 0017"));
        assert!(merge_cause("ÉLISE@example.net", "élise@example.net").ends_with("migration 0022"));
        // A domain's ASCII case is no difference: the store folds it.
        assert!(merge_cause("ÉLISE@Example.NET", "élise@example.net").ends_with("migration 0022"));
        assert!(
            merge_cause("ÉLISE@xn--bcher-kva.de", "élise@bücher.de")
                .ends_with("migrations 0017 and 0022")
        );
    }
}
