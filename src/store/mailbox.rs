//! The store's part of IMAP polling: progress per mailbox and folder (UIDVALIDITY and the
//! highest committed UID), and the mailbox actions due after a commit.

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

impl Store {
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
