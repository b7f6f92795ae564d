//! A PostgreSQL store: where it is and how to reach it (URL, password from the URL, an
//! environment variable, a file or a pgpass file, TLS verified against the system's roots
//! or a CA file), its migrations, and the per-mailbox advisory locks that let several hosts
//! poll at once.

use super::db::{PgConn, pg_error};
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Numbered migrations for PostgreSQL, the same numbers as SQLite's. The schema version is
/// the highest row of `fbl_schema`.
pub(super) const MIGRATIONS: [(&str, &str); 30] = [
    (
        "0001_init.sql",
        include_str!("../../schemas/postgres/0001_init.sql"),
    ),
    (
        "0002_snds.sql",
        include_str!("../../schemas/postgres/0002_snds.sql"),
    ),
    (
        "0003_mailboxes.sql",
        include_str!("../../schemas/postgres/0003_mailboxes.sql"),
    ),
    (
        "0004_report.sql",
        include_str!("../../schemas/postgres/0004_report.sql"),
    ),
    (
        "0005_suppression_view.sql",
        include_str!("../../schemas/postgres/0005_suppression_view.sql"),
    ),
    (
        "0006_raw_packed.sql",
        include_str!("../../schemas/postgres/0006_raw_packed.sql"),
    ),
    (
        "0007_unused_indexes.sql",
        include_str!("../../schemas/postgres/0007_unused_indexes.sql"),
    ),
    (
        "0008_evidence_in_history.sql",
        include_str!("../../schemas/postgres/0008_evidence_in_history.sql"),
    ),
    (
        "0009_unread_update_index.sql",
        include_str!("../../schemas/postgres/0009_unread_update_index.sql"),
    ),
    (
        "0010_history_chain.sql",
        include_str!("../../schemas/postgres/0010_history_chain.sql"),
    ),
    (
        "0011_quarantine_size.sql",
        include_str!("../../schemas/postgres/0011_quarantine_size.sql"),
    ),
    (
        "0012_quarantine_heads.sql",
        include_str!("../../schemas/postgres/0012_quarantine_heads.sql"),
    ),
    (
        "0013_campaign_volume_by_day.sql",
        include_str!("../../schemas/postgres/0013_campaign_volume_by_day.sql"),
    ),
    (
        "0014_report_content_key.sql",
        include_str!("../../schemas/postgres/0014_report_content_key.sql"),
    ),
    (
        "0015_postfix_open_queue_ids.sql",
        include_str!("../../schemas/postgres/0015_postfix_open_queue_ids.sql"),
    ),
    (
        "0016_send_log_positions.sql",
        include_str!("../../schemas/postgres/0016_send_log_positions.sql"),
    ),
    (
        "0017_idn_canonical.sql",
        include_str!("../../schemas/postgres/0017_idn_canonical.sql"),
    ),
    (
        "0018_quarantine_content_key.sql",
        include_str!("../../schemas/postgres/0018_quarantine_content_key.sql"),
    ),
    (
        "0019_export_left_out.sql",
        include_str!("../../schemas/postgres/0019_export_left_out.sql"),
    ),
    (
        "0020_expiry_index.sql",
        include_str!("../../schemas/postgres/0020_expiry_index.sql"),
    ),
    (
        "0021_fact_send.sql",
        include_str!("../../schemas/postgres/0021_fact_send.sql"),
    ),
    (
        "0022_local_part_case.sql",
        include_str!("../../schemas/postgres/0022_local_part_case.sql"),
    ),
    (
        "0023_mailbox_unreadable.sql",
        include_str!("../../schemas/postgres/0023_mailbox_unreadable.sql"),
    ),
    (
        "0024_quarantine_folder_left.sql",
        include_str!("../../schemas/postgres/0024_quarantine_folder_left.sql"),
    ),
    (
        "0025_snds_come_back.sql",
        include_str!("../../schemas/postgres/0025_snds_come_back.sql"),
    ),
    (
        "0026_reason_case.sql",
        include_str!("../../schemas/postgres/0026_reason_case.sql"),
    ),
    (
        "0027_fact_sent_day.sql",
        include_str!("../../schemas/postgres/0027_fact_sent_day.sql"),
    ),
    (
        "0028_quarantine_dismissed.sql",
        include_str!("../../schemas/postgres/0028_quarantine_dismissed.sql"),
    ),
    (
        "0029_list_domain_sent_day.sql",
        include_str!("../../schemas/postgres/0029_list_domain_sent_day.sql"),
    ),
    (
        "0030_read_compatibility.sql",
        include_str!("../../schemas/postgres/0030_read_compatibility.sql"),
    ),
];

/// The first key of fbl's two-key advisory locks on mailboxes.
const MAILBOX_LOCK_SPACE: i32 = 0x6662_6c00;

/// How to reach a PostgreSQL store.
#[derive(Clone, Default)]
pub struct PostgresConfig {
    /// `postgres://user[:password]@host[:port]/database[?sslmode=...&sslrootcert=...]`.
    pub url: String,
    /// An environment variable holding the password.
    pub password_env: Option<String>,
    /// A file holding the password (its first line).
    pub password_file: Option<PathBuf>,
    /// Extra trust root for the server's certificate (PEM); `sslrootcert` in the URL too.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for PostgresConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresConfig")
            .field("url", &self.redacted())
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

/// Whether `text` names a PostgreSQL store rather than a file.
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

impl PostgresConfig {
    pub fn from_url(url: &str) -> PostgresConfig {
        PostgresConfig {
            url: url.to_string(),
            ..PostgresConfig::default()
        }
    }

    /// The URL without its password or query, fit for logs and errors.
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.url) {
            Ok(mut url) => {
                let mut masked = false;
                if url.password().is_some() {
                    let _ = url.set_password(Some("***"));
                    masked = true;
                }
                // The query's settings stay readable (`sslmode` says how the store is
                // reached); only a password given there (`password`, `sslpassword`) is masked.
                let pairs: Vec<(String, String)> = url
                    .query_pairs()
                    .map(|(key, value)| {
                        if key.to_ascii_lowercase().contains("password") {
                            masked = true;
                            (key.into_owned(), "***".to_string())
                        } else {
                            (key.into_owned(), value.into_owned())
                        }
                    })
                    .collect();
                if !masked {
                    // As written: a configuration that holds no secret reads the same masked.
                    return self.url.clone();
                }
                if pairs.is_empty() {
                    url.set_query(None);
                } else {
                    url.query_pairs_mut().clear().extend_pairs(pairs);
                }
                url.to_string()
            }
            Err(_) => "postgres://(unreadable URL)".to_string(),
        }
    }

    /// The client configuration and TLS settings the URL and the options give.
    fn client_config(&self) -> Result<(postgres::Config, Tls)> {
        let mut url = url::Url::parse(&self.url)
            .map_err(|e| anyhow::anyhow!("the store URL {} is not a URL: {e}", self.redacted()))?;
        let mut tls = Tls {
            mode: SslMode::Prefer,
            ca_file: self.ca_file.clone(),
        };
        let mut kept: Vec<(String, String)> = Vec::new();
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "sslmode" => {
                    tls.mode = match value.as_ref() {
                        "disable" => SslMode::Disable,
                        "allow" | "prefer" => SslMode::Prefer,
                        "require" => SslMode::Require,
                        "verify-ca" => SslMode::VerifyCa,
                        "verify-full" => SslMode::VerifyFull,
                        other => bail!(
                            "sslmode={other} in the store URL: use disable, prefer, require, verify-ca or verify-full"
                        ),
                    }
                }
                "sslrootcert" => tls.ca_file = Some(PathBuf::from(value.as_ref())),
                _ => kept.push((key.into_owned(), value.into_owned())),
            }
        }
        let (user, password) = (
            url.username().to_string(),
            url.password().map(str::to_owned),
        );
        let _ = url.set_password(None);
        url.set_query(None);
        if !kept.is_empty() {
            url.query_pairs_mut().extend_pairs(kept);
        }
        let mut config: postgres::Config = url
            .as_str()
            .parse()
            .map_err(|e| anyhow::anyhow!("the store URL {} is not usable: {e}", self.redacted()))?;
        config.ssl_mode(match tls.mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
        if config.get_connect_timeout().is_none() {
            // A dead server must not hang cron.
            config.connect_timeout(Duration::from_secs(10));
        }
        config.keepalives_idle(Duration::from_secs(60));
        if config.get_application_name().is_none() {
            config.application_name("fbl");
        }
        if user.is_empty()
            && config.get_user().is_none()
            && let Ok(user) = std::env::var("PGUSER").or_else(|_| std::env::var("USER"))
        {
            config.user(&user);
        }
        match password {
            Some(password) => {
                let decoded = percent_decode(&password);
                config.password(decoded.as_bytes());
            }
            None => {
                if let Some(password) = self.password(&config)? {
                    config.password(password.as_bytes());
                }
            }
        }
        Ok((config, tls))
    }

    /// The password when the URL has none: from the environment variable, the file, or a
    /// pgpass file (`PGPASSFILE`, else `~/.pgpass`).
    fn password(&self, config: &postgres::Config) -> Result<Option<String>> {
        if let Some(name) = &self.password_env {
            return match std::env::var(name) {
                Ok(value) => Ok(Some(value)),
                Err(_) => bail!("the store's password variable {name} is not set"),
            };
        }
        if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).with_context(|| {
                format!("cannot read the store's password file {}", path.display())
            })?;
            return Ok(Some(text.lines().next().unwrap_or("").to_string()));
        }
        if let Ok(value) = std::env::var("PGPASSWORD") {
            return Ok(Some(value));
        }
        let file = match std::env::var_os("PGPASSFILE") {
            Some(path) => PathBuf::from(path),
            None => match std::env::var_os("HOME") {
                Some(home) => Path::new(&home).join(".pgpass"),
                None => return Ok(None),
            },
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            return Ok(None);
        };
        let host = match config.get_hosts().first() {
            Some(postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "localhost".to_string(),
        };
        let port = config
            .get_ports()
            .first()
            .copied()
            .unwrap_or(5432)
            .to_string();
        let database = config.get_dbname().unwrap_or("").to_string();
        let user = config.get_user().unwrap_or("").to_string();
        Ok(pgpass_lookup(&text, &[&host, &port, &database, &user]))
    }
}

/// The password of the first line of a pgpass file matching host, port, database and user
/// (`*` matches anything; `\:` and `\\` are escapes).
fn pgpass_lookup(text: &str, wanted: &[&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.trim_start().starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut chars = line.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => field.extend(chars.next()),
                ':' if fields.len() < 4 => fields.push(std::mem::take(&mut field)),
                c => field.push(c),
            }
        }
        fields.push(field);
        if fields.len() == 5
            && fields[..4]
                .iter()
                .zip(wanted)
                .all(|(have, want)| have == "*" || have == want)
        {
            return Some(fields.pop().unwrap_or_default());
        }
    }
    None
}

fn percent_decode(text: &str) -> String {
    url::form_urlencoded::parse(format!("p={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

struct Tls {
    mode: SslMode,
    ca_file: Option<PathBuf>,
}

fn client(config: &PostgresConfig) -> Result<postgres::Client> {
    let (client_config, tls) = config.client_config()?;
    let place = config.redacted();
    let result = if tls.mode == SslMode::Disable {
        client_config.connect(postgres::NoTls)
    } else {
        // Certificates are always verified, against the system's roots and the CA file;
        // `require` and `verify-full` both check the host name too, `verify-ca` does not.
        let mut builder = native_tls::TlsConnector::builder();
        if let Some(path) = &tls.ca_file {
            let pem = std::fs::read(path)
                .with_context(|| format!("cannot read the store's CA file {}", path.display()))?;
            let certificate = native_tls::Certificate::from_pem(&pem).with_context(|| {
                format!(
                    "the store's CA file {} is not a PEM certificate",
                    path.display()
                )
            })?;
            builder.add_root_certificate(certificate);
        }
        if tls.mode == SslMode::VerifyCa {
            builder.danger_accept_invalid_hostnames(true);
        }
        let connector = builder.build().context("cannot set up TLS")?;
        client_config.connect(postgres_native_tls::MakeTlsConnector::new(connector))
    };
    result.map_err(|error| {
        let detail = match error.as_db_error() {
            Some(db) => db.message().to_string(),
            None => {
                let mut text = error.to_string();
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    text = format!("{text}: {cause}");
                    source = cause.source();
                }
                text
            }
        };
        anyhow::anyhow!("cannot connect to store {place}: {detail}")
    })
}

pub(super) fn connect(config: &PostgresConfig) -> Result<PgConn> {
    let mut client = client(config)?;
    // Times are kept as text; nothing fbl stores depends on the session's time zone, but
    // the view's "now" does.
    client
        .batch_execute("SET TIME ZONE 'UTC'")
        .map_err(pg_error)?;
    Ok(PgConn::new(client, config.redacted()))
}

/// The right to poll one mailbox, held for the life of the value (a PostgreSQL advisory lock
/// on a connection of its own, which ends when it is dropped).
pub struct MailboxLock {
    _client: Option<postgres::Client>,
}

impl MailboxLock {
    pub(super) fn none() -> MailboxLock {
        MailboxLock { _client: None }
    }
}

pub(super) fn lock_mailbox(config: &PostgresConfig, mailbox: &str) -> Result<Option<MailboxLock>> {
    let mut client = client(config)?;
    let row = client
        .query_one(
            "SELECT pg_try_advisory_lock($1, hashtext($2))",
            &[&MAILBOX_LOCK_SPACE, &mailbox],
        )
        .map_err(pg_error)?;
    let taken: bool = row.get(0);
    Ok(taken.then_some(MailboxLock {
        _client: Some(client),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_urls_hide_the_passwords_and_keep_the_settings() {
        let config = PostgresConfig::from_url(
            "postgres://fbl:s3cret@db.example:5433/fbl?sslmode=verify-full&password=x&sslpassword=y",
        );
        assert_eq!(
            config.redacted(),
            "postgres://fbl:***@db.example:5433/fbl?sslmode=verify-full&password=***&sslpassword=***"
        );
        assert!(!format!("{config:?}").contains("s3cret"));
        // A URL with no password reads as written: its TLS mode can be checked in `fbl
        // config`, and a configuration holding it holds no secret.
        for url in [
            "postgres://fbl@db.example/fbl?sslmode=verify-full",
            "postgres://fbl@db.example/fbl",
        ] {
            assert_eq!(PostgresConfig::from_url(url).redacted(), url);
        }
        let config = PostgresConfig::from_url("postgres://fbl@db.example/fbl?PassWord=z");
        assert_eq!(
            config.redacted(),
            "postgres://fbl@db.example/fbl?PassWord=***"
        );
    }

    #[test]
    fn pgpass_lines_match_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    other:5432:fbl:fbl:wrong\n\
                    db.example:*:fbl:fbl:pa\\:ss\\\\word\n";
        assert_eq!(
            pgpass_lookup(text, &["db.example", "5433", "fbl", "fbl"]).as_deref(),
            Some("pa:ss\\word")
        );
        assert_eq!(
            pgpass_lookup(text, &["db.example", "5433", "x", "fbl"]),
            None
        );
    }

    #[test]
    fn url_options_are_read_and_libpq_ones_translated() {
        let config = PostgresConfig::from_url(
            "postgres://fbl:p%40ss@127.0.0.1:5999/fbl?sslmode=verify-full&sslrootcert=/tmp/ca.pem&connect_timeout=3",
        );
        let (client, tls) = config.client_config().unwrap();
        assert_eq!(tls.mode, SslMode::VerifyFull);
        assert_eq!(tls.ca_file.as_deref(), Some(Path::new("/tmp/ca.pem")));
        assert_eq!(client.get_password(), Some(&b"p@ss"[..]));
        assert_eq!(client.get_connect_timeout(), Some(&Duration::from_secs(3)));
        assert_eq!(client.get_dbname(), Some("fbl"));
        let bad = PostgresConfig::from_url("postgres://h/db?sslmode=sometimes");
        assert!(
            bad.client_config()
                .err()
                .unwrap()
                .to_string()
                .contains("sslmode=sometimes")
        );
    }
}
