//! `fbl mailbox`: check a mailbox's settings, log in once for XOAUTH2, see progress.

use super::{Context, Outcome, print_json};
use crate::config::MailboxConfig;
use crate::mailbox_credentials::{mailbox_oauth_config, write_private_file};
use crate::mailbox_poll::open_session;
use crate::oauth::OAuthClient;
use anyhow::{Context as _, Result, bail};

/// Work with the configured IMAP mailboxes.
#[derive(Debug, clap::Subcommand)]
pub enum MailboxCommand {
    /// Connect and log in to a mailbox, list its capabilities and folders, and check the
    /// configured folders; says clearly what is wrong when something is. Exit 2 on failure.
    Test { name: String },
    /// One-time interactive authorization for auth = "xoauth2" with [mailbox.oauth]:
    /// authorization code with PKCE on a loopback redirect (or paste the address the
    /// browser lands on), or --device-code. Stores the refresh token (mode 0600) so cron runs are unattended.
    Login {
        name: String,
        /// Use the device-code flow (a code to type on another device)
        #[arg(long)]
        device_code: bool,
        /// Do not try to open a browser; just print the address
        #[arg(long)]
        no_browser: bool,
    },
    /// Show every configured mailbox's folders (never polled yet, or UIDVALIDITY, last UID,
    /// last success), with actions still due and messages the server could not deliver;
    /// then folders the store keeps that are no longer configured
    Status {
        /// Print the mailboxes' states as JSON
        #[arg(long)]
        json: bool,
    },
}

pub fn run(context: &Context, command: MailboxCommand) -> Result<Outcome> {
    match command {
        MailboxCommand::Test { name } => test(find(context, &name)?),
        MailboxCommand::Login {
            name,
            device_code,
            no_browser,
        } => login(find(context, &name)?, device_code, no_browser),
        MailboxCommand::Status { json } => {
            let store = context.open_store_for_reading()?;
            let folders = status(context, &store)?;
            if json {
                print_json(&folders)?;
            } else {
                for folder in &folders {
                    println!("{}", status_line(folder));
                }
            }
            Ok(Outcome::Clean)
        }
    }
}

/// What `fbl mailbox status` says of one folder.
#[derive(Debug, serde::Serialize)]
struct FolderStatus {
    mailbox: String,
    folder: String,
    /// False for a folder the store keeps progress of that the configuration no longer
    /// names (its mailbox, or the folder, removed or renamed).
    configured: bool,
    /// None for a folder never polled yet (no batch committed).
    uid_validity: Option<u32>,
    last_uid: Option<u32>,
    last_success_at: Option<String>,
    /// Mailbox actions committed to but not yet done on the server (refused, or left by a
    /// crash): done first by the next run.
    pending_actions: u64,
    /// Messages the server could not deliver, asked for again at every run.
    undeliverable: u64,
}

/// Every configured mailbox's folders, in the configuration's order, then the folders the
/// store keeps progress of that are configured no more.
fn status(context: &Context, store: &crate::store::Store) -> Result<Vec<FolderStatus>> {
    use std::collections::BTreeMap;
    let mut states: BTreeMap<(String, String), crate::store::MailboxState> = store
        .mailbox_states()?
        .into_iter()
        .map(|state| ((state.mailbox.clone(), state.folder.clone()), state))
        .collect();
    let pending: BTreeMap<(String, String), u64> = store
        .pending_action_counts()?
        .into_iter()
        .map(|(m, f, n)| ((m, f), n))
        .collect();
    let undeliverable: BTreeMap<(String, String), u64> = store
        .unreadable_counts()?
        .into_iter()
        .map(|(m, f, n)| ((m, f), n))
        .collect();
    let row =
        |key: &(String, String), configured: bool, state: Option<crate::store::MailboxState>| {
            FolderStatus {
                mailbox: key.0.clone(),
                folder: key.1.clone(),
                configured,
                uid_validity: state.as_ref().map(|s| s.uid_validity),
                last_uid: state.as_ref().map(|s| s.last_uid),
                last_success_at: state.and_then(|s| s.last_success_at),
                pending_actions: pending.get(key).copied().unwrap_or(0),
                undeliverable: undeliverable.get(key).copied().unwrap_or(0),
            }
        };
    let mut rows = Vec::new();
    let mut configured = std::collections::BTreeSet::new();
    for mailbox in &context.config.mailboxes {
        for folder in &mailbox.folders {
            let key = (mailbox.name.clone(), folder.clone());
            if !configured.insert(key.clone()) {
                continue;
            }
            let state = states.remove(&key);
            rows.push(row(&key, true, state));
        }
    }
    // What the store keeps of folders no longer configured: progress, or only actions
    // due or messages undelivered.
    let mut gone: std::collections::BTreeSet<(String, String)> = states.keys().cloned().collect();
    gone.extend(pending.keys().cloned());
    gone.extend(undeliverable.keys().cloned());
    for key in gone {
        if configured.contains(&key) {
            continue;
        }
        let state = states.remove(&key);
        rows.push(row(&key, false, state));
    }
    Ok(rows)
}

fn status_line(folder: &FolderStatus) -> String {
    let mut line = format!("{}\t{}", folder.mailbox, folder.folder);
    match (folder.uid_validity, folder.last_uid) {
        (Some(uid_validity), Some(last_uid)) => line.push_str(&format!(
            "\tUIDVALIDITY {uid_validity}\tlast UID {last_uid}\tlast success {}",
            folder.last_success_at.as_deref().unwrap_or("never")
        )),
        _ => line.push_str("\tnever polled yet"),
    }
    line.push_str(&format!(
        "\tpending actions {}\tundeliverable {}",
        folder.pending_actions, folder.undeliverable
    ));
    if !folder.configured {
        line.push_str("\tno longer configured");
    }
    line
}

fn find<'c>(context: &'c Context, name: &str) -> Result<&'c MailboxConfig> {
    context
        .config
        .mailboxes
        .iter()
        .find(|m| m.name == name)
        .with_context(|| {
            let names: Vec<&str> = context
                .config
                .mailboxes
                .iter()
                .map(|m| m.name.as_str())
                .collect();
            if names.is_empty() {
                format!("no [[mailbox]] named {name:?}: the configuration has none")
            } else {
                format!(
                    "no [[mailbox]] named {name:?} (configured: {})",
                    names.join(", ")
                )
            }
        })
}

fn test(mailbox: &MailboxConfig) -> Result<Outcome> {
    println!(
        "mailbox {}: {}:{} ({}), user {}",
        mailbox.name,
        mailbox.host,
        mailbox.port(),
        mailbox.security.as_str(),
        mailbox.user
    );
    let mut session = open_session(mailbox)?;
    println!("  logged in");
    println!("  capabilities: {}", session.capabilities().join(" "));
    if !session.has_move() {
        println!("  note: no MOVE; fbl will COPY, flag \\Deleted and expunge instead");
    }
    if !session.has_uidplus() {
        println!(
            "  note: no UIDPLUS; with after = \"delete\" or \"move:...\" (or a quarantine \
             folder) fbl can only expunge a whole folder, so it expunges only when no other \
             message there is flagged \\Deleted, and otherwise leaves its own flagged \
             \\Deleted (said by fbl run); have the server offer UIDPLUS"
        );
    }
    let folders = session.list_folders()?;
    println!("  folders: {}", folders.join(", "));
    let mut missing = Vec::new();
    for folder in &mailbox.folders {
        match session.examine(folder) {
            Ok(status) => println!(
                "  {folder}: {} messages, UIDVALIDITY {}",
                status.exists, status.uid_validity
            ),
            Err(error) => missing.push(format!("{folder}: {error}")),
        }
    }
    let _ = session.logout();
    if !missing.is_empty() {
        bail!(
            "mailbox {}: cannot open {}",
            mailbox.name,
            missing.join("; ")
        );
    }
    println!("  ok");
    Ok(Outcome::Clean)
}

fn login(mailbox: &MailboxConfig, device_code: bool, no_browser: bool) -> Result<Outcome> {
    let Some(oauth) = &mailbox.oauth else {
        bail!(
            "mailbox {}: login is for auth = \"xoauth2\" with a [mailbox.oauth] section",
            mailbox.name
        );
    };
    let client = OAuthClient::new(mailbox_oauth_config(mailbox, oauth)?)?;
    let tokens = super::oauth_login::sign_in(&client, None, device_code, !no_browser)?;
    let Some(refresh_token) = tokens.refresh_token.as_deref() else {
        bail!(
            "the token endpoint gave no refresh token; ask for the offline_access scope (mailbox {})",
            mailbox.name
        );
    };
    write_private_file(&oauth.refresh_token_file, refresh_token.as_bytes())?;
    eprintln!(
        "mailbox {}: refresh token stored in {} (mode 0600)",
        mailbox.name,
        oauth.refresh_token_file.display()
    );
    Ok(Outcome::Clean)
}
