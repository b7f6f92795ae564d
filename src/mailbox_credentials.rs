//! Reading a mailbox's credentials: a password from the environment, a file or a command;
//! an XOAUTH2 bearer token from a command or from fbl's own refresh-token flow (the refresh
//! token lives in a 0600 file and is rotated when the server sends a new one). Errors name
//! where fbl looked, never the secret.

use crate::config::{MailboxAuth, MailboxConfig, MailboxOAuthConfig};
use crate::imap_client::Auth;
use crate::oauth::{OAuthClient, OAuthConfig, OAuthError, TokenSet};
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The credentials to log in to a mailbox with, fetched or refreshed now.
pub fn credentials(mailbox: &MailboxConfig) -> Result<Auth> {
    let name = &mailbox.name;
    let user = mailbox.user.clone();
    match mailbox.auth {
        MailboxAuth::Password => {
            let password = if let Some(var) = &mailbox.password_env {
                std::env::var(var).map_err(|_| {
                    crate::config::unset_variable(var, "password_env", "password_file")
                        .context(format!("mailbox {name}"))
                })?
            } else if let Some(path) = &mailbox.password_file {
                read_secret_file(path).with_context(|| format!("mailbox {name}: password_file"))?
            } else if let Some(command) = &mailbox.password_command {
                run_secret_command(command, mailbox.command_dir.as_deref())
                    .with_context(|| format!("mailbox {name}: password_command"))?
            } else {
                bail!("mailbox {name}: no password source configured")
            };
            Ok(Auth::Password { user, password })
        }
        MailboxAuth::Xoauth2 => {
            let access_token = if let Some(command) = &mailbox.token_command {
                run_secret_command(command, mailbox.command_dir.as_deref())
                    .with_context(|| format!("mailbox {name}: token_command"))?
            } else if let Some(oauth) = &mailbox.oauth {
                refresh_access_token(mailbox, oauth)
                    .with_context(|| format!("mailbox {name}: OAuth token refresh"))?
            } else {
                bail!("mailbox {name}: auth = \"xoauth2\" needs token_command or [mailbox.oauth]")
            };
            Ok(Auth::XOAuth2 { user, access_token })
        }
    }
}

/// The OAuth client settings of a mailbox.
pub fn oauth_config(oauth: &MailboxOAuthConfig) -> Result<OAuthConfig> {
    let scopes: Vec<&str> = oauth.scopes.iter().map(String::as_str).collect();
    let mut config = OAuthConfig::public_client(
        oauth.authorize_url.as_deref().unwrap_or(&oauth.token_url),
        &oauth.token_url,
        oauth.device_code_url.as_deref(),
        &oauth.client_id,
        &scopes,
    );
    if let Some(secret) = &oauth.client_secret {
        let bytes = secret.resolve().context("client_secret")?;
        config.client_secret =
            Some(String::from_utf8(bytes).context("client_secret is not UTF-8")?);
    }
    Ok(config)
}

/// The OAuth client settings of a mailbox, with its timeouts: a token request waits up to
/// `connect_timeout_secs` to connect and `read_timeout_secs` more for its answer, as the
/// mailbox's IMAP connection does (not the client's default 30 s in all).
pub fn mailbox_oauth_config(
    mailbox: &MailboxConfig,
    oauth: &MailboxOAuthConfig,
) -> Result<OAuthConfig> {
    let mut config = oauth_config(oauth)?;
    config.connect_timeout = Duration::from_secs(mailbox.connect_timeout_secs);
    config.timeout = Duration::from_secs(
        mailbox
            .connect_timeout_secs
            .saturating_add(mailbox.read_timeout_secs),
    );
    Ok(config)
}

/// Trades the stored refresh token for an access token, keeping a rotated refresh token.
/// A rotated token that cannot be kept is said, and the run goes on with the access token it
/// got: failing would waste it, and the token file still holds the old one either way.
pub fn refresh_access_token(mailbox: &MailboxConfig, oauth: &MailboxOAuthConfig) -> Result<String> {
    let name = &mailbox.name;
    let path = &oauth.refresh_token_file;
    let refresh_token = read_secret_file(path).with_context(|| {
        format!(
            "no refresh token in {}: run `fbl mailbox login {name}` once",
            path.display()
        )
    })?;
    let client = OAuthClient::new(mailbox_oauth_config(mailbox, oauth)?)?;
    let tokens = client
        .refresh(&refresh_token)
        .map_err(|error| match error {
            // Only a refused grant needs a person; a server error or a timeout passes.
            OAuthError::InvalidGrant { .. } => {
                anyhow::anyhow!("{error}; run `fbl mailbox login {name}` to sign in again")
            }
            error => anyhow::anyhow!(error),
        })?;
    if let Err(error) = save_refresh_token(path, &tokens, &refresh_token) {
        eprintln!(
            "fbl: warning: mailbox {name}: the token endpoint sent a new refresh token, and it \
             could not be kept ({error:#}); this run reads the mailbox with the access token it \
             got, but a server that revokes the old token will refuse the next run: make {} \
             writable, then run `fbl mailbox login {name}` if it is refused",
            path.display()
        );
    }
    Ok(tokens.access_token)
}

/// Writes a new refresh token (mode 0600, atomically) when the server rotated it.
pub fn save_refresh_token(path: &Path, tokens: &TokenSet, previous: &str) -> Result<()> {
    let Some(new) = tokens.refresh_token.as_deref() else {
        return Ok(());
    };
    if new == previous {
        return Ok(());
    }
    write_private_file(path, new.as_bytes())
}

/// Writes a secret to a file readable by its owner only, replacing it atomically.
pub fn write_private_file(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let folder = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let temporary = folder.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("secret"),
        std::process::id()
    ));
    let result = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}

fn read_secret_file(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let secret = text.trim_end_matches(['\r', '\n']).to_string();
    if secret.is_empty() {
        bail!("{} is empty", path.display());
    }
    Ok(secret)
}

/// How long a `password_command` or `token_command` may take. A password manager answers in
/// well under a second; one that hangs (waiting for an unlock that never comes under cron)
/// would otherwise hold the store's lock and every later cron run would find it taken.
const SECRET_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// Runs `sh -c COMMAND` and takes the first line of its output as the secret. The command's
/// own error output passes through to ours, so a password manager can explain itself; the
/// command itself is never printed, since it may hold a secret inline.
/// It runs in `dir` (the configuration's folder) when given.
fn run_secret_command(command: &str, dir: Option<&Path>) -> Result<String> {
    run_secret_command_within(command, dir, SECRET_COMMAND_TIMEOUT)
}

/// `run_secret_command` with a time limit: past it, the command and everything it started
/// (its own process group) are killed.
fn run_secret_command_within(command: &str, dir: Option<&Path>, limit: Duration) -> Result<String> {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let mut shell = Command::new("sh");
    if let Some(dir) = dir.filter(|d| !d.as_os_str().is_empty()) {
        shell.current_dir(dir);
    }
    let mut child = shell
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .context("cannot run the command")?;
    let mut stdout = child.stdout.take().context("cannot run the command")?;
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        stdout.read_to_end(&mut out).map(|_| out)
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().context("cannot run the command")? {
            break status;
        }
        if started.elapsed() >= limit {
            // SAFETY: kill(2) on the process group the child leads; nothing else is in it.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
            let _ = reader.join();
            bail!(
                "the command gave no answer within {} s and was stopped",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stdout = reader
        .join()
        .map_err(|_| anyhow::anyhow!("cannot read the command's output"))?
        .context("cannot read the command's output")?;
    if !status.success() {
        bail!("the command failed ({status})");
    }
    let text =
        String::from_utf8(stdout).context("the command printed something that is not UTF-8")?;
    let secret = text.lines().next().unwrap_or("").trim().to_string();
    if secret.is_empty() {
        bail!("the command printed nothing");
    }
    Ok(secret)
}

#[cfg(test)]
mod command_tests {
    use super::*;

    #[test]
    fn a_secret_command_is_stopped_at_its_time_limit_with_what_it_started() {
        let started = Instant::now();
        let error =
            run_secret_command_within("sleep 30; echo late", None, Duration::from_millis(300))
                .unwrap_err();
        assert!(error.to_string().contains("no answer within"), "{error:#}");
        // The `sleep` was killed with `sh`: the pipe closed, nothing waited 30 s.
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            run_secret_command_within("echo s3cret; echo second", None, Duration::from_secs(10))
                .unwrap(),
            "s3cret"
        );
        let error = run_secret_command_within("exit 3", None, Duration::from_secs(10)).unwrap_err();
        assert!(error.to_string().contains("failed"), "{error:#}");
        // In the configuration's folder: `./pw.sh` is the one beside the file.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("pw.sh"), "echo from-beside\n").unwrap();
        assert_eq!(
            run_secret_command_within("sh ./pw.sh", Some(dir.path()), Duration::from_secs(10))
                .unwrap(),
            "from-beside"
        );
    }
}
