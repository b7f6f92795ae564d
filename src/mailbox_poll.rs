//! Polling IMAP feedback mailboxes: read what is new in each folder in batches, ingest it,
//! commit the progress with the reports, and only then tidy the mailbox. A crash at any
//! point loses nothing: what was committed is deduplicated when seen again, and mailbox
//! actions still due are kept in the store and done first on the next run.

use crate::config::{AfterAction, MailboxConfig, MailboxSecurity};
use crate::imap_client::{ConnectOptions, ImapError, Security, Session};
use crate::ingest::{Ingester, Kept, Outcome, Progress, Summary, disk_full};
use crate::mail_source::{Incoming, head_bytes};
use crate::store::Store;
use anyhow::{Context, Result};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A UID and the message's size in bytes.
type UidSize = (u32, u32);

/// A fetched message: its UID, its bytes (its head only when oversized) and, when oversized,
/// its size.
type Fetched = (u32, Vec<u8>, Option<u64>);

/// A UID the server did not deliver, with what it said.
type Undelivered = (u32, String);

/// What polling one mailbox did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MailboxSummary {
    pub mailbox: String,
    pub folders: Vec<FolderSummary>,
    /// What the committed batches ingested: a batch rolled back is not counted.
    pub ingest: Summary,
    /// Set when the mailbox (or one of its folders) failed; the others went on.
    pub errors: Vec<String>,
    /// True when another host was polling the mailbox (a shared PostgreSQL store), so this
    /// run left it alone.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub busy: bool,
    /// Messages taken out of the quarantine folder (or flagged there) because fbl released
    /// them since they were moved there, by action (`move:Processed`, `delete`, `move:INBOX`
    /// back where `after` keeps processed mail, `seen`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub released_from_quarantine: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct FolderSummary {
    pub folder: String,
    pub uid_validity: u32,
    /// New messages found above the last committed UID and read by this run (at most
    /// `limit`).
    pub new_messages: u64,
    /// New messages beyond `limit`, left for the next runs (from the same UID SEARCH).
    pub left_for_next_runs: u64,
    pub fetched: u64,
    /// Messages this run committed to the store from this folder (stored, duplicates,
    /// quarantined, or recorded as not delivered by the server).
    pub committed: u64,
    /// Mailbox actions this run did on the server, by action (`seen`, `move:Archive`, ...),
    /// those it finished for an earlier run included.
    pub actions: BTreeMap<String, u64>,
    /// Of `actions`, those an earlier run left pending (a crash, a timeout, a refusal) that
    /// this run did, by action.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub pending_finished: BTreeMap<String, u64>,
    /// Actions an earlier run left pending that the server had done already (the message
    /// was no longer in the folder, or already flagged `\Seen`): forgotten, not done again
    /// nor counted in `actions`.
    #[serde(skip_serializing_if = "is_zero")]
    pub pending_found_done: u64,
    /// True when UIDVALIDITY changed and the folder was read again from the start.
    pub rescanned: bool,
    /// Actions the server refused (a folder it will not create, say), with the number of
    /// messages each left where they are: they are tried again on the next run, and the
    /// folder's new messages were read all the same.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub refused_actions: BTreeMap<String, RefusedAction>,
    /// Messages the server did not deliver (FETCH failed, or it closed the connection on
    /// them), by UID, with what it said: left on the server untouched, asked for again at
    /// every run until delivered or gone.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unreadable: BTreeMap<u32, String>,
    /// Set when the folder failed part-way: what is above is what was done before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// An action the server refused, and how many messages it left in the folder.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RefusedAction {
    pub messages: u64,
    pub error: String,
}

/// Options that apply to a whole poll.
#[derive(Debug, Clone, Copy, Default)]
pub struct PollOptions {
    /// Read and parse, change nothing in the store or the mailbox.
    pub dry_run: bool,
}

/// The connection settings of a mailbox.
pub fn connect_options(mailbox: &MailboxConfig) -> ConnectOptions {
    let security = match mailbox.security {
        MailboxSecurity::Tls => Security::Tls,
        MailboxSecurity::Starttls => Security::Starttls,
        MailboxSecurity::Plain => Security::Plain,
    };
    let mut options = ConnectOptions::new(mailbox.host.clone(), mailbox.port(), security);
    options.ca_file = mailbox.ca_file.clone();
    options.connect_timeout = Duration::from_secs(mailbox.connect_timeout_secs);
    options.read_timeout = Duration::from_secs(mailbox.read_timeout_secs);
    options
}

/// Connects and logs in to a mailbox.
pub fn open_session(mailbox: &MailboxConfig) -> Result<Session> {
    let auth = crate::mailbox_credentials::credentials(mailbox)?;
    Session::connect(&connect_options(mailbox), &auth)
        .with_context(|| format!("mailbox {}", mailbox.name))
}

/// Polls one mailbox: every folder, in order. An error ends the mailbox, not the run; it is
/// recorded in the summary. The one error returned is a store whose disk is full: it can
/// take nothing more this run, so the run ends (exit 2), and the messages whose reports were
/// not committed stay in the mailbox untouched. Each folder is a stretch of `progress`, with
/// the number of new messages as its total.
pub fn poll_mailbox(
    mailbox: &MailboxConfig,
    store: &mut Store,
    ingester: &Ingester,
    max_message_bytes: u64,
    options: PollOptions,
    progress: &mut dyn Progress,
) -> Result<MailboxSummary> {
    let mut summary = MailboxSummary {
        mailbox: mailbox.name.clone(),
        ..MailboxSummary::default()
    };
    let mut session = match open_session(mailbox) {
        Ok(session) => session,
        Err(error) => {
            summary.errors.push(format!("{error:#}"));
            return Ok(summary);
        }
    };
    // A message the server deletes or moves away is gone from the folder: the commit that
    // stored it must be on disk first, not only in SQLite's write-ahead log until a
    // checkpoint (`synchronous = NORMAL`), which a power cut would lose. So what is committed
    // is synced now, and every commit from here on.
    let destructive = matches!(
        mailbox.after_action(),
        AfterAction::Delete | AfterAction::Move(_)
    ) || mailbox.quarantine_folder.is_some();
    if destructive && !options.dry_run {
        store.sync_each_commit()?;
        // Best effort: a checkpoint that cannot complete (a full disk, which the first
        // commit then says as everywhere; a reader holding it back) leaves it to this run's
        // commits, each of which syncs the whole log now.
        let _ = store.make_durable();
    }
    let mut fatal = None;
    // Whether the session is still in step with the server after the folders.
    let mut in_step = true;
    for (index, folder) in mailbox.folders.iter().enumerate() {
        let mut folder_summary = FolderSummary {
            folder: folder.to_string(),
            ..FolderSummary::default()
        };
        let polled = poll_folder(
            mailbox,
            folder,
            &mut session,
            store,
            ingester,
            max_message_bytes,
            options,
            &mut summary.ingest,
            &mut folder_summary,
            progress,
        );
        progress.finish();
        let committed = folder_summary.committed;
        match polled {
            Ok(()) => {
                for (action, refused) in &folder_summary.refused_actions {
                    summary.errors.push(format!(
                        "mailbox {} folder {folder}: {} {} left in the folder, to be tried \
                         again next run: {action} was refused: {}",
                        mailbox.name,
                        refused.messages,
                        if refused.messages == 1 {
                            "message"
                        } else {
                            "messages"
                        },
                        refused.error
                    ));
                }
                for (uid, error) in &folder_summary.unreadable {
                    summary.errors.push(format!(
                        "mailbox {} folder {folder}: UID {uid} was not delivered by the server \
                         ({error}); it is left there untouched and asked for again at every \
                         run until the server delivers it or it is gone (look at its file on \
                         the server: unreadable or damaged)",
                        mailbox.name
                    ));
                }
                summary.folders.push(folder_summary)
            }
            Err(error) if crate::store::is_disk_full(&error) => {
                let place = store.location().to_string();
                fatal = Some(
                    disk_full(error, &place, Kept::Messages(committed))
                        .context(format!("mailbox {} folder {folder}", mailbox.name)),
                );
                break;
            }
            Err(error) => {
                summary.errors.push(format!(
                    "mailbox {} folder {folder}: {error:#}",
                    mailbox.name
                ));
                // A folder that was opened keeps its line: what it did before it failed
                // (batches committed, actions done) stands, beside the error.
                if folder_summary.uid_validity != 0 {
                    folder_summary.error = Some(format!("{error:#}"));
                    summary.folders.push(folder_summary);
                }
                // A folder the server answered about (no such folder, a command refused)
                // leaves the session in step: the next folders are polled. After a broken
                // connection, or anything else, they are polled on a new one.
                if !answered_by_the_server(&error) {
                    if index + 1 == mailbox.folders.len() {
                        in_step = false;
                        continue;
                    }
                    left_flagged_deleted(mailbox, &mut session, &mut summary);
                    match open_session(mailbox) {
                        Ok(fresh) => session = fresh,
                        Err(error) => {
                            summary.errors.push(format!("{error:#}"));
                            in_step = false;
                            break;
                        }
                    }
                }
            }
        }
    }
    if fatal.is_none() && in_step && !options.dry_run {
        // After the folders: a quarantine move a crashed run left due is done by now, so a
        // message released since is in the quarantine folder, where it is looked for.
        match tidy_quarantine_folder(
            mailbox,
            &mut session,
            store,
            max_message_bytes,
            ingester.now,
            &mut summary,
        ) {
            Ok(()) => {}
            Err(error) if crate::store::is_disk_full(&error) => {
                let place = store.location().to_string();
                fatal = Some(
                    disk_full(error, &place, Kept::Messages(summary.ingest.messages))
                        .context(format!("mailbox {} quarantine folder", mailbox.name)),
                );
            }
            Err(error) => summary.errors.push(format!(
                "mailbox {} quarantine folder {}: {error:#}",
                mailbox.name,
                mailbox.quarantine_folder.as_deref().unwrap_or_default()
            )),
        }
    }
    left_flagged_deleted(mailbox, &mut session, &mut summary);
    let _ = session.logout();
    match fatal {
        Some(error) => Err(error),
        None => Ok(summary),
    }
}

/// Says, once per folder, the messages fbl flagged `\Deleted` but did not expunge: the server
/// lacks UIDPLUS, so an expunge would also have removed another client's `\Deleted` messages.
fn left_flagged_deleted(
    mailbox: &MailboxConfig,
    session: &mut Session,
    summary: &mut MailboxSummary,
) {
    for (folder, left) in session.take_left_flagged_deleted() {
        summary.errors.push(format!(
            "mailbox {} folder {folder}: {left} {} that fbl stored and moved or deleted {} \
             left there flagged \\Deleted, not expunged: the server does not offer UIDPLUS, \
             so an EXPUNGE would also remove the other messages flagged \\Deleted there, \
             which fbl has not read (another client flagged them). fbl does not read them \
             again; they go when a client expunges the folder. Have the server offer UIDPLUS \
             (Dovecot: keep it in imap_capability), or expunge or undelete the other \
             messages, or use after = \"seen\"",
            mailbox.name,
            if left == 1 { "message" } else { "messages" },
            if left == 1 { "is" } else { "are" },
        ));
    }
}

/// Whether an error is the server's answer about one folder (it does not exist, a command
/// was refused with NO or BAD), after which the session can go on to the next folder.
fn answered_by_the_server(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<ImapError>().is_some_and(|e| {
            matches!(
                e,
                ImapError::NoSuchFolder(_) | ImapError::Refused { .. } | ImapError::ReadOnly(_)
            )
        })
    })
}

/// Polls one folder. `ingest` is added each batch's counts once the batch is committed (on
/// a dry run, every batch's), and `committed` counts the folder's messages in committed
/// transactions: what a failure leaves stored, and counted.
#[allow(clippy::too_many_arguments)]
fn poll_folder(
    mailbox: &MailboxConfig,
    folder: &str,
    session: &mut Session,
    store: &mut Store,
    ingester: &Ingester,
    max_message_bytes: u64,
    options: PollOptions,
    ingest: &mut Summary,
    summary: &mut FolderSummary,
    progress: &mut dyn Progress,
) -> Result<()> {
    let name = mailbox.name.as_str();
    let status = if options.dry_run {
        session.examine(folder)?
    } else {
        session.select(folder)?
    };
    summary.uid_validity = status.uid_validity;
    let state = store.mailbox_state(name, folder)?;
    let mut last_uid = match &state {
        Some(state) if state.uid_validity == status.uid_validity => state.last_uid,
        Some(_) => {
            summary.rescanned = true;
            if !options.dry_run {
                let mut batch = store.begin()?;
                batch.reset_mailbox(name, folder, status.uid_validity)?;
                batch.commit()?;
            }
            0
        }
        None => 0,
    };

    if !options.dry_run {
        // Actions a crashed run committed to, or the server refused, but not done.
        let pending = store.pending_actions(name, folder, status.uid_validity)?;
        apply_actions(
            mailbox,
            folder,
            status.uid_validity,
            session,
            store,
            &pending_groups(mailbox, folder, status.uid_validity, store, &pending)?,
            true,
            summary,
        )?;
    }

    let mut uids = session.uids_after(last_uid, mailbox.since)?;
    if let Some(limit) = mailbox.limit
        && uids.len() > limit
    {
        summary.left_for_next_runs = (uids.len() - limit) as u64;
        uids.truncate(limit);
    }
    summary.new_messages = uids.len() as u64;
    // Messages the server could not deliver on an earlier run (below the progress, which
    // moved past them) are asked for again first: read now if the server delivers them,
    // forgotten if they are gone, said again if not.
    let retried = store.unreadable_messages(name, folder, status.uid_validity)?;
    let mut work: Vec<u32> = retried
        .iter()
        .copied()
        .filter(|&uid| uid <= last_uid)
        .collect();
    work.extend(uids);
    progress.start(&format!("mailbox {name} {folder}"), Some(work.len() as u64));
    let mut done: u64 = 0;
    let after = mailbox.after_action();
    let mut prepared_folders = false;
    for chunk in work.chunks(mailbox.batch_size) {
        let (mut messages, unreadable) = match fetch_chunk(session, chunk, max_message_bytes) {
            Ok(messages) => (messages, Vec::new()),
            // The server could not deliver the batch (FETCH failed, or it closed the
            // connection: a message file it cannot read, say): each message is asked for
            // alone, so that one it cannot deliver stops none of the others.
            Err(error) => fetch_one_by_one(
                mailbox,
                folder,
                status.uid_validity,
                options,
                session,
                chunk,
                max_message_bytes,
                error,
            )?,
        };
        messages.sort_by_key(|(uid, _, _)| *uid);
        summary.fetched += messages.len() as u64;
        let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        // The batch's counts join `ingest` once it is committed: a batch rolled back (a
        // failed statement or commit) is not counted.
        let mut counted = Summary::default();
        let mut batch = store.begin()?;
        // A message the server could not deliver is left on the server untouched, recorded
        // with the progress that moves past it, and asked for again at every run.
        for (uid, error) in &unreadable {
            if !options.dry_run {
                batch.add_unreadable(
                    name,
                    folder,
                    status.uid_validity,
                    *uid,
                    ingester.now,
                    error,
                )?;
            }
            // Said once, as the folder's error (standard error, with what to do), and kept in
            // the folder's summary: not a second time among the ingest's unread files.
            summary.unreadable.insert(*uid, error.clone());
            done += 1;
            progress.advance(done);
        }
        // A message asked for again is forgotten once delivered (and stored below), or gone
        // from the folder: one the server answered for with nothing, yet still lists, stays.
        let retried_here: Vec<u32> = chunk
            .iter()
            .copied()
            .filter(|uid| {
                retried.binary_search(uid).is_ok() && !unreadable.iter().any(|(u, _)| u == uid)
            })
            .collect();
        if !retried_here.is_empty() && !options.dry_run {
            let not_delivered: Vec<u32> = retried_here
                .iter()
                .copied()
                .filter(|uid| !messages.iter().any(|(u, _, _)| u == uid))
                .collect();
            let still_listed: Vec<u32> = if not_delivered.is_empty() {
                Vec::new()
            } else {
                session
                    .fetch_sizes(&not_delivered)?
                    .into_iter()
                    .map(|(uid, _)| uid)
                    .collect()
            };
            for uid in retried_here {
                if !still_listed.contains(&uid) {
                    batch.clear_unreadable(name, folder, status.uid_validity, uid)?;
                }
            }
        }
        for (uid, raw, oversized) in messages {
            let incoming = Incoming {
                origin: format!(
                    "imap:{name}/{folder};UIDVALIDITY={};UID={uid}",
                    status.uid_validity
                ),
                raw,
                oversized,
            };
            let outcome = ingester.ingest_one(&mut batch, &incoming, &mut counted)?;
            done += 1;
            progress.advance(done);
            let action = match outcome {
                Outcome::Quarantined(_) => mailbox
                    .quarantine_folder
                    .as_ref()
                    .map(|f| format!("move:{f}")),
                Outcome::Stored(_) | Outcome::Duplicate(_) => match &after {
                    AfterAction::Keep => None,
                    other => Some(other.as_string()),
                },
            };
            if let Some(action) = action {
                if !options.dry_run {
                    batch.add_pending_action(name, folder, status.uid_validity, uid, &action)?;
                }
                groups.entry(action).or_default().push(uid);
            }
        }
        let highest = *chunk.last().expect("chunks are never empty");
        last_uid = last_uid.max(highest);
        if options.dry_run {
            // Dropping the transaction rolls it back: a dry run changes nothing, and counts
            // what it would have done.
            drop(batch);
            ingest.add(&counted);
            continue;
        }
        batch.set_mailbox_progress(name, folder, status.uid_validity, last_uid)?;
        batch.commit()?;
        ingest.add(&counted);
        summary.committed = done;
        if !prepared_folders {
            // A folder the server will not create is said by the moves into it.
            if let Err(error) = prepare_folders(mailbox, session)
                && !answered_by_the_server(&error)
            {
                return Err(error);
            }
            prepared_folders = true;
        }
        apply_actions(
            mailbox,
            folder,
            status.uid_validity,
            session,
            store,
            &groups,
            false,
            summary,
        )?;
    }
    if !options.dry_run {
        let mut batch = store.begin()?;
        batch.set_mailbox_progress(name, folder, status.uid_validity, last_uid)?;
        batch.mark_mailbox_success(name, folder, ingester.now)?;
        batch.commit()?;
    }
    Ok(())
}

/// The messages of `uids` with, for one over `max_message_bytes`, its head and its size:
/// sizes are asked first, so that an oversized message is never loaded whole (only its head
/// is fetched, to keep in quarantine). UIDs no longer in the folder are missing.
fn fetch_chunk(
    session: &mut Session,
    uids: &[u32],
    max_message_bytes: u64,
) -> Result<Vec<Fetched>, ImapError> {
    let sizes = session.fetch_sizes(uids)?;
    let (big, small): (Vec<UidSize>, Vec<UidSize>) = sizes
        .into_iter()
        .partition(|(_, size)| u64::from(*size) > max_message_bytes);
    let small_uids: Vec<u32> = small.iter().map(|(uid, _)| *uid).collect();
    let mut messages: Vec<Fetched> = session
        .fetch_batch(&small_uids)?
        .into_iter()
        .map(|(uid, raw)| (uid, raw, None))
        .collect();
    for (uid, size) in big {
        if let Some(head) = session.fetch_head(uid, head_bytes(max_message_bytes) as u32)? {
            messages.push((uid, head, Some(u64::from(size))));
        }
    }
    Ok(messages)
}

/// After a batch fetch failed with `error`: each message of `uids` asked for alone, on a new
/// connection whenever the server closed the one before. Returns the messages delivered,
/// and the UIDs the server did not deliver with what it said. An error is returned when the
/// server stops answering (a read timeout) or cannot be reached again.
#[allow(clippy::too_many_arguments)]
fn fetch_one_by_one(
    mailbox: &MailboxConfig,
    folder: &str,
    uid_validity: u32,
    options: PollOptions,
    session: &mut Session,
    uids: &[u32],
    max_message_bytes: u64,
    error: ImapError,
) -> Result<(Vec<Fetched>, Vec<Undelivered>)> {
    // A server that stops answering is not one that cannot deliver a message: the folder
    // stops here, as before, and the next run goes on from its progress (asking each message
    // alone, a read timeout each, could hold a run for hours).
    if let ImapError::Timeout { .. } = error {
        return Err(error.into());
    }
    if error.is_transient() {
        reopen(mailbox, folder, uid_validity, options, session)?;
    }
    let mut messages = Vec::new();
    let mut unreadable = Vec::new();
    for &uid in uids {
        let mut asked = 0;
        loop {
            asked += 1;
            match fetch_chunk(session, &[uid], max_message_bytes) {
                Ok(mut delivered) => messages.append(&mut delivered),
                Err(error @ ImapError::Timeout { .. }) => return Err(error.into()),
                // A connection that broke may have broken for another reason than this
                // message (a flaky network): it is asked for once more on a new connection,
                // and said to be undeliverable only if that breaks too.
                Err(error) if error.is_transient() && asked == 1 => {
                    reopen(mailbox, folder, uid_validity, options, session)?;
                    continue;
                }
                Err(error) => {
                    unreadable.push((uid, error.to_string()));
                    if error.is_transient() {
                        reopen(mailbox, folder, uid_validity, options, session)?;
                    }
                }
            }
            break;
        }
    }
    Ok((messages, unreadable))
}

/// Replaces a session the server closed with a new one, in `folder` again; refuses a folder
/// whose UIDVALIDITY changed meanwhile (its UIDs mean other messages now).
fn reopen(
    mailbox: &MailboxConfig,
    folder: &str,
    uid_validity: u32,
    options: PollOptions,
    session: &mut Session,
) -> Result<()> {
    let mut fresh = open_session(mailbox)?;
    let status = if options.dry_run {
        fresh.examine(folder)?
    } else {
        fresh.select(folder)?
    };
    if status.uid_validity != uid_validity {
        anyhow::bail!(
            "the UIDVALIDITY of folder {folder:?} changed while it was read; the next run \
             reads it again from the start"
        );
    }
    session.hand_over_own_deleted(&mut fresh);
    *session = fresh;
    Ok(())
}

/// Creates the folders that actions move messages into, when missing.
fn prepare_folders(mailbox: &MailboxConfig, session: &mut Session) -> Result<()> {
    if let AfterAction::Move(target) = mailbox.after_action() {
        session.create_folder_if_missing(&target)?;
    }
    if let Some(quarantine) = &mailbox.quarantine_folder {
        session.create_folder_if_missing(quarantine)?;
    }
    Ok(())
}

/// The pending actions by action, as the configuration says now. A pending action is the
/// move into the quarantine folder or the `after` action it was given; one that is neither
/// any more was given under a configuration since changed (a mistyped folder the server
/// refused, say) and is done as the configuration says now: for a message in quarantine,
/// the move into the quarantine folder (or nothing, when none is configured now); for a
/// stored report's message, `after`. A mistake once made does not stay pending for good,
/// and a quarantined message never takes `after` (deleted, or moved where nobody looks).
fn pending_groups(
    mailbox: &MailboxConfig,
    folder: &str,
    uid_validity: u32,
    store: &Store,
    pending: &[crate::store::PendingAction],
) -> Result<BTreeMap<String, Vec<u32>>> {
    let quarantine = mailbox
        .quarantine_folder
        .as_ref()
        .map(|f| format!("move:{f}"));
    let after = mailbox.after_action().as_string();
    let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for action in pending {
        let origin = || {
            format!(
                "imap:{}/{folder};UIDVALIDITY={uid_validity};UID={}",
                mailbox.name, action.uid
            )
        };
        let current = if Some(&action.action) == quarantine.as_ref() {
            // A message released since its move was made due (a retry stored it, another
            // delivery of its report was stored) needs no person: it takes `after`, as if it
            // had been stored when read, rather than go where nobody would take it out.
            if store.is_released_origin(&origin())? {
                after.clone()
            } else {
                action.action.clone()
            }
        } else if action.action == after {
            action.action.clone()
        } else {
            let origin = origin();
            if store.is_quarantined_origin(&origin)? {
                quarantine.clone().unwrap_or_else(|| "keep".to_string())
            } else {
                after.clone()
            }
        };
        groups.entry(current).or_default().push(action.uid);
    }
    Ok(groups)
}

/// Does the actions on the server, then forgets them in the store. An action the server
/// refuses stays pending, and is noted in `summary.refused_actions`; any other failure (a
/// broken connection) ends the folder. `earlier` actions were left pending by an earlier
/// run, which may have done them on the server without learning it (a timeout after the
/// command was sent): those the server did already are only forgotten, and not counted
/// as done by this run.
#[allow(clippy::too_many_arguments)]
fn apply_actions(
    mailbox: &MailboxConfig,
    folder: &str,
    uid_validity: u32,
    session: &mut Session,
    store: &mut Store,
    groups: &BTreeMap<String, Vec<u32>>,
    earlier: bool,
    summary: &mut FolderSummary,
) -> Result<()> {
    for (action, all) in groups {
        if all.is_empty() {
            continue;
        }
        let parsed = AfterAction::parse(action).map_err(anyhow::Error::msg)?;
        let uids: Vec<u32> = if earlier {
            let due = still_due(session, &parsed, all)?;
            let found_done: Vec<u32> = all
                .iter()
                .copied()
                .filter(|uid| due.binary_search(uid).is_err())
                .collect();
            if !found_done.is_empty() {
                let mut batch = store.begin()?;
                batch.clear_pending_actions(&mailbox.name, folder, uid_validity, &found_done)?;
                batch.commit()?;
                summary.pending_found_done += found_done.len() as u64;
            }
            due
        } else {
            all.clone()
        };
        if uids.is_empty() {
            continue;
        }
        let uids = &uids;
        let done: Result<(), ImapError> =
            match AfterAction::parse(action).map_err(anyhow::Error::msg)? {
                AfterAction::Keep => Ok(()),
                AfterAction::Seen => session.mark_seen(uids),
                AfterAction::Delete => session.delete(uids),
                AfterAction::Move(target) => session
                    .create_folder_if_missing(&target)
                    .and_then(|_| session.move_to(uids, &target)),
            };
        if let Err(error) = done {
            let error = anyhow::Error::from(error);
            if !answered_by_the_server(&error) {
                return Err(error);
            }
            let refused = summary.refused_actions.entry(action.clone()).or_default();
            refused.messages += uids.len() as u64;
            refused.error = format!("{error:#}");
            continue;
        }
        let mut batch = store.begin()?;
        batch.clear_pending_actions(&mailbox.name, folder, uid_validity, uids)?;
        batch.commit()?;
        if matches!(parsed, AfterAction::Keep) {
            continue;
        }
        *summary.actions.entry(action.clone()).or_default() += uids.len() as u64;
        if earlier {
            *summary.pending_finished.entry(action.clone()).or_default() += uids.len() as u64;
        }
    }
    Ok(())
}

/// Of `uids` (an earlier run's pending `action`), those the server has not done yet,
/// ascending: a message still in the selected folder (for `seen`, still without `\Seen`).
/// A message no longer there was moved or deleted already (by the earlier run, whose answer
/// was lost, or by someone else); nothing is left to do for it.
fn still_due(session: &mut Session, action: &AfterAction, uids: &[u32]) -> Result<Vec<u32>> {
    let present: Vec<u32> = match action {
        AfterAction::Keep => uids.to_vec(),
        AfterAction::Seen => session.unseen_uids()?,
        AfterAction::Delete | AfterAction::Move(_) => session
            .fetch_sizes(uids)?
            .into_iter()
            .map(|(uid, _)| uid)
            .collect(),
    };
    let mut present = present;
    present.sort_unstable();
    let mut due: Vec<u32> = uids
        .iter()
        .copied()
        .filter(|uid| present.binary_search(uid).is_ok())
        .collect();
    due.sort_unstable();
    due.dedup();
    Ok(due)
}

/// Takes out of the mailbox's quarantine folder the messages fbl released since it moved
/// them there (a retry stored them, or another delivery of their report was stored): they
/// need no person any more. Each is found by its bytes: a message of the folder is taken
/// out only when its SHA-256 (of its first bytes, for an oversized message of which only
/// the head is kept) is that of a released quarantine row of this mailbox. It then takes
/// `after`, as if it had been stored when read: moved to `after`'s folder, or deleted (its
/// bytes are in the store), or, with `keep` or `seen`, moved back to the folder it was read
/// from, where the next poll reads it as a duplicate (and marks it seen). The head of an
/// oversized message would be quarantined again there, so with `keep` or `seen` it is only
/// flagged `\Seen` where it is.
///
/// Crash-safe: the server is told first, and the rows are marked only after; a crash in
/// between leaves them to the next poll, which finds the messages gone and marks them. An
/// action the server refuses leaves its messages in the folder and their rows unmarked, to
/// be tried again; it is said in the summary's errors.
fn tidy_quarantine_folder(
    mailbox: &MailboxConfig,
    session: &mut Session,
    store: &mut Store,
    max_message_bytes: u64,
    now: &str,
    summary: &mut MailboxSummary,
) -> Result<()> {
    let Some(quarantine) = &mailbox.quarantine_folder else {
        return Ok(());
    };
    let released = store.released_in_quarantine_folder(&mailbox.name)?;
    if released.is_empty() {
        return Ok(());
    }
    let found = match session.select(quarantine) {
        // No quarantine folder: nothing of these is in it.
        Err(ImapError::NoSuchFolder(_)) => Vec::new(),
        Err(error) => return Err(error.into()),
        Ok(_) => find_released(mailbox, session, &released, max_message_bytes)?,
    };
    // What each message found takes, by action.
    let prefix = format!("imap:{}/", mailbox.name);
    let mut groups: BTreeMap<String, (Vec<u32>, Vec<i64>)> = BTreeMap::new();
    for (uid, row) in &found {
        let head = row.kept < row.size;
        let action = match mailbox.after_action() {
            AfterAction::Move(target) => format!("move:{target}"),
            AfterAction::Delete => "delete".to_string(),
            AfterAction::Keep | AfterAction::Seen if head => "seen".to_string(),
            AfterAction::Keep | AfterAction::Seen => {
                match source_folder(&row.origin, &prefix) {
                    Some(folder) if folder != quarantine.as_str() => format!("move:{folder}"),
                    // An origin fbl cannot read back: flagged where it is.
                    _ => "seen".to_string(),
                }
            }
        };
        let group = groups.entry(action).or_default();
        group.0.push(*uid);
        group.1.push(row.id);
    }
    let mut refused_rows = Vec::new();
    for (action, (uids, ids)) in &groups {
        let done: Result<(), ImapError> =
            match AfterAction::parse(action).map_err(anyhow::Error::msg)? {
                AfterAction::Keep => Ok(()),
                AfterAction::Seen => session.mark_seen(uids),
                AfterAction::Delete => session.delete(uids),
                AfterAction::Move(target) => session
                    .create_folder_if_missing(&target)
                    .and_then(|_| session.move_to(uids, &target)),
            };
        match done {
            Ok(()) => {
                *summary
                    .released_from_quarantine
                    .entry(action.clone())
                    .or_default() += uids.len() as u64;
            }
            Err(error) => {
                let error = anyhow::Error::from(error);
                if !answered_by_the_server(&error) {
                    return Err(error);
                }
                summary.errors.push(format!(
                    "mailbox {} quarantine folder {quarantine}: {} released {} left in the \
                     folder, to be tried again next run: {action} was refused: {error:#}",
                    mailbox.name,
                    uids.len(),
                    if uids.len() == 1 {
                        "message"
                    } else {
                        "messages"
                    },
                ));
                refused_rows.extend(ids.iter().copied());
            }
        }
    }
    // Every row is out of the folder now, but those whose action was refused: taken out, or
    // not found there (a person took it out, or it never went there).
    let left: Vec<i64> = released
        .iter()
        .map(|row| row.id)
        .filter(|id| !refused_rows.contains(id))
        .collect();
    let mut batch = store.begin()?;
    batch.set_left_quarantine_folder(&left, now)?;
    batch.commit()?;
    Ok(())
}

/// The messages of the selected quarantine folder that are released rows' messages, by their
/// bytes, each with its row. Read in batches: sizes first, so that a message bigger than
/// `max_message_bytes` is never loaded whole (only its head, when a released row is the head
/// of a message of its size).
fn find_released<'r>(
    mailbox: &MailboxConfig,
    session: &mut Session,
    released: &'r [crate::store::ReleasedMessage],
    max_message_bytes: u64,
) -> Result<Vec<(u32, &'r crate::store::ReleasedMessage)>> {
    use sha2::{Digest, Sha256};
    let matching = |bytes: &[u8], kept_whole: bool| {
        let digest = Sha256::digest(bytes);
        released.iter().find(|row| {
            row.kept == bytes.len() as u64
                && (row.kept == row.size) == kept_whole
                && row.sha256 == digest.as_slice()
        })
    };
    // Every match is of a message of a released row's size: only those are downloaded.
    let sizes_released: std::collections::HashSet<u64> =
        released.iter().map(|row| row.size).collect();
    let mut found = Vec::new();
    let uids = session.uids_after(0, None)?;
    for chunk in uids.chunks(mailbox.batch_size) {
        let sizes = session.fetch_sizes(chunk)?;
        let (big, small): (Vec<UidSize>, Vec<UidSize>) = sizes
            .into_iter()
            .filter(|(_, size)| sizes_released.contains(&u64::from(*size)))
            .partition(|(_, size)| u64::from(*size) > max_message_bytes);
        let small: Vec<u32> = small.iter().map(|(uid, _)| *uid).collect();
        for (uid, raw) in session.fetch_batch(&small)? {
            if let Some(row) = matching(&raw, true) {
                found.push((uid, row));
            } else if let Some(row) = released.iter().find(|row| {
                row.kept < row.size
                    && row.size == raw.len() as u64
                    && row.sha256 == Sha256::digest(&raw[..row.kept as usize]).as_slice()
            }) {
                // The head kept of a message under a larger limit then.
                found.push((uid, row));
            }
        }
        for (uid, size) in big {
            let mut heads: Vec<u64> = released
                .iter()
                .filter(|row| row.kept < row.size && row.size == u64::from(size))
                .map(|row| row.kept)
                .collect();
            heads.sort_unstable();
            heads.dedup();
            for kept in heads {
                if let Some(head) = session.fetch_head(uid, kept as u32)?
                    && let Some(row) = matching(&head, false)
                {
                    found.push((uid, row));
                    break;
                }
            }
        }
    }
    Ok(found)
}

/// The folder an origin of this mailbox (`imap:NAME/FOLDER;UIDVALIDITY=V;UID=U`) names.
fn source_folder<'o>(origin: &'o str, prefix: &str) -> Option<&'o str> {
    let rest = origin.strip_prefix(prefix)?;
    let (folder, _) = rest.rsplit_once(";UIDVALIDITY=")?;
    (!folder.is_empty()).then_some(folder)
}
