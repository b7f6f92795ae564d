//! `fbl mailbox`: check a mailbox's settings, log in once for XOAUTH2, see progress.

use super::{Context, Outcome, print_json};
use crate::config::MailboxConfig;
use crate::mailbox_credentials::{oauth_config, write_private_file};
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
    /// Show the progress kept per mailbox and folder (UIDVALIDITY, last UID, last success)
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
            let store = context.open_existing_store()?;
            let states = store.mailbox_states()?;
            if json {
                print_json(&states)?;
            } else {
                for state in &states {
                    println!(
                        "{}\t{}\tUIDVALIDITY {}\tlast UID {}\tlast success {}",
                        state.mailbox,
                        state.folder,
                        state.uid_validity,
                        state.last_uid,
                        state.last_success_at.as_deref().unwrap_or("never")
                    );
                }
            }
            Ok(Outcome::Clean)
        }
    }
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
        "mailbox {}: {}:{} ({:?}), user {}",
        mailbox.name,
        mailbox.host,
        mailbox.port(),
        mailbox.security,
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
    let client = OAuthClient::new(oauth_config(oauth)?)?;
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
