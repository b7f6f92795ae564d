//! The one-time interactive OAuth 2.0 sign-in shared by `fbl mailbox login` and
//! `fbl snds login`: authorization code with PKCE (a loopback redirect, or the pasted address
//! the browser lands on, whichever comes first), or the device-code flow.

use crate::oauth::{LoopbackListener, OAuthClient, Pkce, TokenSet, new_state, parse_redirect};
use anyhow::{Context as _, Result};
use std::io::BufRead;
use std::time::Duration;

/// How long a sign-in may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(300);

/// Signs in interactively and returns the tokens. `fixed_redirect_uri` makes pasting the
/// only way back (for clients whose registration allows no loopback redirect).
pub fn sign_in(
    client: &OAuthClient,
    fixed_redirect_uri: Option<&str>,
    device_code: bool,
    browser: bool,
) -> Result<TokenSet> {
    if device_code {
        let device = client.start_device_authorization()?;
        match &device.message {
            Some(message) => eprintln!("{message}"),
            None => eprintln!(
                "Open {} and enter the code {}",
                device.verification_uri, device.user_code
            ),
        }
        return Ok(
            client.poll_device_authorization(&device, &mut |pause| std::thread::sleep(pause))?
        );
    }
    code_login(client, fixed_redirect_uri, browser)
}

/// The authorization-code flow: a loopback listener receives the redirect, or the user
/// pastes the address the browser landed on, whichever comes first. With a configured
/// `redirect_uri` only pasting works.
fn code_login(
    client: &OAuthClient,
    fixed_redirect_uri: Option<&str>,
    browser: bool,
) -> Result<TokenSet> {
    let pkce = Pkce::generate();
    let state = new_state();
    let (listener, redirect_uri) = match fixed_redirect_uri {
        Some(uri) => (None, uri.to_string()),
        None => {
            let listener = LoopbackListener::bind()?;
            let uri = listener.redirect_uri();
            (Some(listener), uri)
        }
    };
    let url = client.authorization_url(&redirect_uri, &state, &pkce, &[])?;
    match listener {
        Some(_) => eprintln!(
            "Open this address in a browser and sign in (waiting up to 5 minutes); if the browser runs on another machine, paste here the address it lands on:\n\n{url}\n"
        ),
        None => eprintln!(
            "Open this address in a browser, sign in, then paste here the address the browser lands on:\n\n{url}\n"
        ),
    }
    if browser {
        open_browser(url.as_str());
    }
    let (sender, receiver) = std::sync::mpsc::channel();
    if let Some(listener) = listener {
        let sender = sender.clone();
        let state = state.clone();
        std::thread::spawn(move || {
            let port = listener.port();
            let code = listener
                .wait_for_code(&state, LOGIN_TIMEOUT)
                .with_context(|| format!("the browser's redirect to 127.0.0.1:{port}"));
            let _ = sender.send(code);
        });
    }
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { return };
            if !line.trim().is_empty() {
                let code =
                    parse_redirect(&line, &state).context("the address pasted on standard input");
                let _ = sender.send(code);
                return;
            }
        }
    });
    let code = receiver
        .recv()
        .context("the sign-in ended without an answer")??;
    Ok(client.exchange_code(&code, &pkce, &redirect_uri)?)
}

/// Best effort: a browser that does not start changes nothing, the address is printed.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let _ = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}
