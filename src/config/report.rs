//! `[report]`: complaint-rate thresholds, the sender's own IPs, and the report files every
//! `fbl run` writes.

use crate::ip_range::IpRanges;
use crate::rates::Thresholds;
use crate::report_render::ReportFormat;
use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// A rate at or above this percentage is `warn` (Gmail's 0.1%).
    #[serde(default = "default_warn")]
    pub warn_percent: f64,
    /// A rate at or above this percentage is `critical` (Gmail's and Yahoo's 0.3%).
    #[serde(default = "default_critical")]
    pub critical_percent: f64,
    /// Below this many messages no rate is judged, whatever it covers: an IP's or a
    /// reporter's day, an IP's or a reporter's window total, a campaign, a list, a domain.
    #[serde(default = "default_min_volume")]
    pub min_volume: u64,
    /// Days a report covers, ending today (UTC), unless `--days` or an output says otherwise.
    #[serde(default = "default_days")]
    pub days: u32,
    /// The sender's own sending IPs as CIDR ranges; complaints about other IPs are listed.
    #[serde(default)]
    pub sending_ips: Vec<String>,
    /// Report files written by every `fbl run`, atomically.
    #[serde(default, rename = "output")]
    pub outputs: Vec<ReportOutputConfig>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportOutputConfig {
    pub format: ReportFormat,
    pub path: PathBuf,
    /// Days this output covers; default `[report] days`.
    pub days: Option<u32>,
}

fn default_warn() -> f64 {
    0.1
}
fn default_critical() -> f64 {
    0.3
}
fn default_min_volume() -> u64 {
    1000
}
fn default_days() -> u32 {
    30
}

/// The longest window a report may cover.
pub const MAX_REPORT_DAYS: u32 = 400;

impl Default for ReportConfig {
    fn default() -> Self {
        ReportConfig {
            warn_percent: default_warn(),
            critical_percent: default_critical(),
            min_volume: default_min_volume(),
            days: default_days(),
            sending_ips: Vec::new(),
            outputs: Vec::new(),
        }
    }
}

impl ReportConfig {
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            warn_percent: self.warn_percent,
            critical_percent: self.critical_percent,
            min_volume: self.min_volume,
        }
    }

    pub fn sending_ips(&self) -> IpRanges {
        IpRanges::parse(&self.sending_ips).expect("checked when the configuration was loaded")
    }

    pub(super) fn check(&self) -> Result<()> {
        let valid = |p: f64| p.is_finite() && p > 0.0 && p <= 100.0;
        if !valid(self.warn_percent) || !valid(self.critical_percent) {
            bail!("[report] warn_percent and critical_percent must be above 0 and at most 100");
        }
        if self.critical_percent < self.warn_percent {
            bail!(
                "[report] critical_percent ({}) is below warn_percent ({})",
                self.critical_percent,
                self.warn_percent
            );
        }
        for days in std::iter::once(self.days).chain(self.outputs.iter().filter_map(|o| o.days)) {
            if days == 0 || days > MAX_REPORT_DAYS {
                bail!("[report] days must be 1 to {MAX_REPORT_DAYS}, not {days}");
            }
        }
        IpRanges::parse(&self.sending_ips)
            .map_err(|e| anyhow::anyhow!("[report] sending_ips: {e}"))?;
        Ok(())
    }
}
