//! A whole `fbl run`: every configured source, expiry, send-log pruning, then every
//! configured export. The one module that sequences the IO steps of a run.

use crate::atomic_file;
use crate::attribution::Attribution;
use crate::config::{Config, ExportConfig};
use crate::export::{ExportFormat, ExportOptions};
use crate::ingest::{Ingester, Summary};
use crate::mail_source::Inputs;
use crate::store::{Store, SuppressionFilter};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What a run did, for the summary and `--json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunSummary {
    pub ingest: Summary,
    pub expired: u64,
    pub send_log_pruned: u64,
    pub exports: Vec<ExportWritten>,
    /// Sources that could not be read, with the reason; the run went on without them.
    pub source_errors: Vec<String>,
}

impl RunSummary {
    pub fn needs_attention(&self) -> bool {
        self.ingest.needs_attention() || !self.source_errors.is_empty()
    }
}

/// One export file written.
#[derive(Debug, Clone, Serialize)]
pub struct ExportWritten {
    pub format: String,
    pub path: PathBuf,
    pub entries: u64,
    pub removed_path: Option<PathBuf>,
    pub removed_entries: u64,
}

/// Which entries an export covers.
#[derive(Debug, Clone, Default)]
pub struct ExportScope {
    /// Only entries changed after this time.
    pub since: Option<String>,
    /// Only entries changed since this output was last written by fbl.
    pub changed_since_last: bool,
}

/// Runs everything the configuration names, with the store locked.
pub fn run(
    config: &Config,
    store: &mut Store,
    attribution: &Attribution,
    now: &str,
    progress: &mut dyn FnMut(u64),
) -> Result<RunSummary> {
    let mut summary = RunSummary::default();
    let ingester = Ingester {
        attribution,
        policy: &config.suppression,
        now,
    };
    for source in &config.sources {
        let inputs = match Inputs::open(
            std::slice::from_ref(&source.path),
            config.limits.max_message_bytes,
        ) {
            Ok(inputs) => inputs,
            Err(error) => {
                summary
                    .source_errors
                    .push(format!("source {}: {error:#}", source.name));
                continue;
            }
        };
        match ingester.ingest_all(store, inputs, &mut *progress) {
            Ok(part) => summary.ingest.add(&part),
            Err(error) => summary
                .source_errors
                .push(format!("source {}: {error:#}", source.name)),
        }
    }
    let mut batch = store.begin()?;
    summary.expired = batch.expire_suppressions(now)?;
    let cutoff = chrono::DateTime::parse_from_rfc3339(now)
        .map(|t| t - chrono::Duration::days(config.send_log.retention_days as i64))
        .context("the run's time is not RFC 3339")?;
    summary.send_log_pruned =
        batch.prune_send_log(&cutoff.format("%Y-%m-%dT%H:%M:%SZ").to_string())?;
    batch.commit()?;
    for export in &config.exports {
        summary.exports.push(write_configured_export(
            store,
            export,
            &ExportScope::default(),
            now,
        )?);
    }
    Ok(summary)
}

/// Writes one configured export (and its removals file, when configured).
pub fn write_configured_export(
    store: &mut Store,
    export: &ExportConfig,
    scope: &ExportScope,
    now: &str,
) -> Result<ExportWritten> {
    let options = ExportOptions { hash: export.hash };
    write_export_files(
        store,
        export.format,
        &options,
        &export.path,
        export.removed_path.as_deref(),
        scope,
        now,
    )
}

/// Writes the suppression list (and optionally the removals) atomically in one format.
pub fn write_export_files(
    store: &mut Store,
    format: ExportFormat,
    options: &ExportOptions,
    path: &Path,
    removed_path: Option<&Path>,
    scope: &ExportScope,
    now: &str,
) -> Result<ExportWritten> {
    let state_name = path.display().to_string();
    let since = if scope.changed_since_last {
        store.export_state(&state_name)?
    } else {
        scope.since.clone()
    };
    let entries = write_one(store, format, options, path, &since, false, now)?;
    let removed_entries = match removed_path {
        Some(removed) => write_one(store, format, options, removed, &since, true, now)?,
        None => 0,
    };
    let mut batch = store.begin()?;
    batch.set_export_state(&state_name, now)?;
    batch.commit()?;
    Ok(ExportWritten {
        format: format.as_str().to_string(),
        path: path.to_path_buf(),
        entries,
        removed_path: removed_path.map(Path::to_path_buf),
        removed_entries,
    })
}

fn write_one(
    store: &Store,
    format: ExportFormat,
    options: &ExportOptions,
    path: &Path,
    since: &Option<String>,
    removed: bool,
    now: &str,
) -> Result<u64> {
    let filter = SuppressionFilter {
        changed_since: since.clone(),
        removed,
        now: now.to_string(),
    };
    let written = atomic_file::write_atomically(path, |out| {
        let mut writer = crate::export::StreamingExport::new(format, options, out)?;
        store
            .for_each_suppression(&filter, |entry| Ok(writer.write(entry)?))
            .map_err(|error| std::io::Error::other(format!("{error:#}")))?;
        writer.finish()
    })
    .with_context(|| format!("cannot write export {}", path.display()))?;
    Ok(written)
}
