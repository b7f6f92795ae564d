//! The store's part of IMAP polling: progress per mailbox and folder (UIDVALIDITY and the
//! highest committed UID), the mailbox actions due after a commit, and the released
//! messages still to be taken out of a mailbox's quarantine folder.

use super::db::{Row, params};
use super::{Batch, Store};
use anyhow::Result;

/// How far a folder has been read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MailboxState {
    pub mailbox: String,
    pub folder: String,
    pub uid_validity: u32,
    pub last_uid: u32,
    pub last_success_at: Option<String>,
}

/// A mailbox action that is due: the report is stored, the server has not yet been told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingAction {
    pub uid: u32,
    /// `seen`, `delete` or `move:FOLDER`.
    pub action: String,
}

/// A message a mailbox's poll quarantined, released since (stored by a retry, or another
/// delivery of its report stored), that its quarantine folder may still hold: found there by
/// its bytes, never by anything less.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleasedMessage {
    /// The quarantine row.
    pub id: i64,
    /// SHA-256 of the bytes kept: the whole message, or only its head (`kept < size`).
    pub sha256: Vec<u8>,
    /// The message's size.
    pub size: u64,
    /// How many of its bytes the quarantine keeps (the head of an oversized message).
    pub kept: u64,
    /// Where it was read: `imap:NAME/FOLDER;UIDVALIDITY=V;UID=U`.
    pub origin: String,
}

impl Store {
    /// The messages of mailbox `mailbox` released from quarantine whose copy in the mailbox's
    /// quarantine folder was not yet taken out, in quarantine order. Nearly always none: the
    /// rows are found in a partial index of those released and not yet taken out.
    pub fn released_in_quarantine_folder(&self, mailbox: &str) -> Result<Vec<ReleasedMessage>> {
        // Origins are compared in byte order (PostgreSQL's column is COLLATE "C"): every
        // origin of this mailbox lies between `imap:NAME/` and `imap:NAME0`.
        let prefix = format!("imap:{mailbox}/");
        let end = format!("imap:{mailbox}0");
        let rows = self.db.query(
            "SELECT id, sha256, raw_size, raw_packed, origin FROM quarantine
             WHERE released_at IS NOT NULL AND left_folder_at IS NULL
               AND origin >= ?1 AND origin < ?2
             ORDER BY id",
            params![prefix.as_str(), end.as_str()],
            |r| {
                let packed: Vec<u8> = r.get(3)?;
                Ok(ReleasedMessage {
                    id: r.get(0)?,
                    sha256: r.get(1)?,
                    size: r.get::<i64>(2)? as u64,
                    kept: super::packed::unpack(&packed)?.len() as u64,
                    origin: r.get(4)?,
                })
            },
        )?;
        Ok(rows
            .into_iter()
            .filter(|row| row.origin.starts_with(&prefix))
            .collect())
    }

    /// Whether the message read from this origin was quarantined and released since (and no
    /// row of that origin is still open): a move into the quarantine folder still due for it
    /// is not wanted any more.
    pub fn is_released_origin(&self, origin: &str) -> Result<bool> {
        self.db.exists(
            "SELECT 1 FROM quarantine WHERE origin = ?1 AND released_at IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM quarantine WHERE origin = ?1 AND released_at IS NULL)",
            params![origin],
        )
    }

    pub fn mailbox_state(&self, mailbox: &str, folder: &str) -> Result<Option<MailboxState>> {
        self.db.query_opt(
            "SELECT mailbox, folder, uid_validity, last_uid, last_success_at
             FROM mailbox_state WHERE mailbox = ?1 AND folder = ?2",
            params![mailbox, folder],
            state_from_row,
        )
    }

    pub fn mailbox_states(&self) -> Result<Vec<MailboxState>> {
        self.db.query(
            "SELECT mailbox, folder, uid_validity, last_uid, last_success_at
             FROM mailbox_state ORDER BY mailbox, folder",
            params![],
            state_from_row,
        )
    }

    /// How many actions are due, per mailbox and folder (any UIDVALIDITY), by mailbox and
    /// folder: for `fbl mailbox status`.
    pub fn pending_action_counts(&self) -> Result<Vec<(String, String, u64)>> {
        self.db.query(
            "SELECT mailbox, folder, count(*) FROM mailbox_pending
             GROUP BY mailbox, folder ORDER BY mailbox, folder",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<i64>(2)? as u64)),
        )
    }

    /// How many messages the server could not deliver, per mailbox and folder, by mailbox
    /// and folder: for `fbl mailbox status`.
    pub fn unreadable_counts(&self) -> Result<Vec<(String, String, u64)>> {
        self.db.query(
            "SELECT mailbox, folder, count(*) FROM mailbox_unreadable
             GROUP BY mailbox, folder ORDER BY mailbox, folder",
            params![],
            |r| Ok((r.get(0)?, r.get(1)?, r.get::<i64>(2)? as u64)),
        )
    }

    /// Actions still due in a folder, by UID.
    pub fn pending_actions(
        &self,
        mailbox: &str,
        folder: &str,
        uid_validity: u32,
    ) -> Result<Vec<PendingAction>> {
        self.db.query(
            "SELECT uid, action FROM mailbox_pending
             WHERE mailbox = ?1 AND folder = ?2 AND uid_validity = ?3 ORDER BY uid",
            params![mailbox, folder, uid_validity],
            |r| {
                Ok(PendingAction {
                    uid: r.get(0)?,
                    action: r.get(1)?,
                })
            },
        )
    }

    /// The UIDs of a folder's messages the server could not deliver, ascending: asked for
    /// again at every run until delivered or gone.
    pub fn unreadable_messages(
        &self,
        mailbox: &str,
        folder: &str,
        uid_validity: u32,
    ) -> Result<Vec<u32>> {
        self.db.query(
            "SELECT uid FROM mailbox_unreadable
             WHERE mailbox = ?1 AND folder = ?2 AND uid_validity = ?3 ORDER BY uid",
            params![mailbox, folder, uid_validity],
            |r| r.get(0),
        )
    }
}

impl Batch<'_> {
    /// Records a message the server could not deliver (kept with when it first failed).
    pub fn add_unreadable(
        &mut self,
        mailbox: &str,
        folder: &str,
        uid_validity: u32,
        uid: u32,
        at: &str,
        error: &str,
    ) -> Result<()> {
        self.tx.execute(
            "INSERT INTO mailbox_unreadable (mailbox, folder, uid_validity, uid, first_failed_at, error)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (mailbox, folder, uid_validity, uid) DO UPDATE SET error = excluded.error",
            params![mailbox, folder, uid_validity, uid, at, error],
        )?;
        Ok(())
    }

    /// Forgets a message recorded as undeliverable: read at last, or gone from the folder.
    pub fn clear_unreadable(
        &mut self,
        mailbox: &str,
        folder: &str,
        uid_validity: u32,
        uid: u32,
    ) -> Result<()> {
        self.tx.execute(
            "DELETE FROM mailbox_unreadable
             WHERE mailbox = ?1 AND folder = ?2 AND uid_validity = ?3 AND uid = ?4",
            params![mailbox, folder, uid_validity, uid],
        )?;
        Ok(())
    }

    /// Records progress; `last_uid` never goes backwards within one UIDVALIDITY.
    pub fn set_mailbox_progress(
        &mut self,
        mailbox: &str,
        folder: &str,
        uid_validity: u32,
        last_uid: u32,
    ) -> Result<()> {
        self.tx.execute(
                "INSERT INTO mailbox_state (mailbox, folder, uid_validity, last_uid) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (mailbox, folder) DO UPDATE SET
                    last_uid = CASE WHEN mailbox_state.uid_validity = excluded.uid_validity
                                    THEN CASE WHEN excluded.last_uid > mailbox_state.last_uid
                                              THEN excluded.last_uid ELSE mailbox_state.last_uid END
                                    ELSE excluded.last_uid END,
                    uid_validity = excluded.uid_validity",
                params![mailbox, folder, uid_validity, last_uid],
            )?;
        Ok(())
    }

    /// Starts a folder afresh after its UIDVALIDITY changed: progress back to zero, and the
    /// actions due under the old UIDVALIDITY dropped (their UIDs mean nothing now).
    pub fn reset_mailbox(&mut self, mailbox: &str, folder: &str, uid_validity: u32) -> Result<()> {
        self.tx.execute(
            "DELETE FROM mailbox_pending WHERE mailbox = ?1 AND folder = ?2 AND uid_validity <> ?3",
            params![mailbox, folder, uid_validity],
        )?;
        self.tx.execute(
            "DELETE FROM mailbox_unreadable WHERE mailbox = ?1 AND folder = ?2 AND uid_validity <> ?3",
            params![mailbox, folder, uid_validity],
        )?;
        self.tx.execute(
                "INSERT INTO mailbox_state (mailbox, folder, uid_validity, last_uid) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (mailbox, folder) DO UPDATE SET uid_validity = excluded.uid_validity, last_uid = 0",
                params![mailbox, folder, uid_validity],
            )?;
        Ok(())
    }

    pub fn mark_mailbox_success(&mut self, mailbox: &str, folder: &str, at: &str) -> Result<()> {
        self.tx.execute(
            "UPDATE mailbox_state SET last_success_at = ?3 WHERE mailbox = ?1 AND folder = ?2",
            params![mailbox, folder, at],
        )?;
        Ok(())
    }

    pub fn add_pending_action(
        &mut self,
        mailbox: &str,
        folder: &str,
        uid_validity: u32,
        uid: u32,
        action: &str,
    ) -> Result<()> {
        self.tx.execute(
                "INSERT INTO mailbox_pending (mailbox, folder, uid_validity, uid, action)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (mailbox, folder, uid_validity, uid) DO UPDATE SET action = excluded.action",
                params![mailbox, folder, uid_validity, uid, action],
            )?;
        Ok(())
    }

    /// Records that released quarantine rows' messages are out of their mailbox's quarantine
    /// folder (taken out, or found gone).
    pub fn set_left_quarantine_folder(&mut self, ids: &[i64], now: &str) -> Result<()> {
        for id in ids {
            self.tx.execute(
                "UPDATE quarantine SET left_folder_at = ?2 WHERE id = ?1",
                params![id, now],
            )?;
        }
        Ok(())
    }

    pub fn clear_pending_actions(
        &mut self,
        mailbox: &str,
        folder: &str,
        uid_validity: u32,
        uids: &[u32],
    ) -> Result<()> {
        for uid in uids {
            self.tx.execute(
                "DELETE FROM mailbox_pending WHERE mailbox = ?1 AND folder = ?2 AND uid_validity = ?3 AND uid = ?4",
                params![mailbox, folder, uid_validity, uid],
            )?;
        }
        Ok(())
    }
}

fn state_from_row(row: &Row) -> Result<MailboxState> {
    Ok(MailboxState {
        mailbox: row.get(0)?,
        folder: row.get(1)?,
        uid_validity: row.get(2)?,
        last_uid: row.get(3)?,
        last_success_at: row.get(4)?,
    })
}
