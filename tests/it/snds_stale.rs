//! SNDS that goes quiet: an account whose newest data day falls more than
//! `stale_after_days` behind the run's day raises one alert per episode, under cron too;
//! an account that never had data raises none.

use crate::support::{fbl, run, stdout};
use std::path::Path;

/// One data.aspx row for `ip` whose window starts at 4 PM on `day` (YYYY-MM-DD).
fn row(ip: &str, day: &str) -> String {
    let start: chrono::NaiveDate = day.parse().unwrap();
    let end = start.succ_opt().unwrap();
    let us = |d: chrono::NaiveDate| d.format("%-m/%-d/%Y 4:00 PM").to_string();
    format!(
        "{ip},{},{},100,100,100,GREEN,< 0.1%,,,0,mail.example.com,,\r\n",
        us(start),
        us(end)
    )
}

/// SNDS's files for account `main`: `newest` as the latest day (none: SNDS answers empty).
fn serve(dir: &Path, newest: Option<&str>) {
    let folder = dir.join("snds");
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(
        folder.join("data.csv"),
        newest.map(|day| row("192.0.2.10", day)).unwrap_or_default(),
    )
    .unwrap();
    if let Some(day) = newest {
        let day: chrono::NaiveDate = day.parse().unwrap();
        std::fs::write(
            folder.join(format!("data-{}.csv", day.format("%m%d%y"))),
            row("192.0.2.10", &day.to_string()),
        )
        .unwrap();
    }
    std::fs::write(folder.join("ipStatus.csv"), "").unwrap();
    // A new account: SNDS lists nothing for it yet.
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    std::fs::write(dir.join("empty/data.csv"), "").unwrap();
    std::fs::write(dir.join("empty/ipStatus.csv"), "").unwrap();
}

fn setup(extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        format!(
            "[store]\npath = \"fbl.sqlite\"\n\n[snds]\ntimezone = \"UTC\"\nbackfill_days = 3\n\
             {extra}\n[[snds.legacy]]\nname = \"main\"\nbase_url = \"file:snds\"\n\n\
             [[snds.legacy]]\nname = \"new\"\nbase_url = \"file:empty\"\n"
        ),
    )
    .unwrap();
    dir
}

/// `fbl run` as cron runs it (standard output a pipe, no `--json`) at `day` 06:00 UTC.
fn cron_run(dir: &Path, day: &str) -> (Option<i32>, String) {
    let output = run(fbl(dir)
        .args(["--config", "fbl.toml", "run"])
        .env("FBL_NOW", format!("{day}T06:00:00Z")));
    (output.status.code(), stdout(&output))
}

#[test]
fn snds_data_that_stops_raises_one_alert_per_episode_and_none_for_a_new_account() {
    let dir = setup("");
    let dir = dir.path();
    serve(dir, Some("2026-11-18"));
    let (code, _) = cron_run(dir, "2026-11-20");
    assert_eq!(code, Some(0), "a first fetch with data is a quiet night");
    // SNDS answers empty from now on (an IP authorisation lapsed, a key revoked): within
    // three days of the newest day, that is SNDS's usual lag, and cron hears nothing.
    serve(dir, None);
    let (code, out) = cron_run(dir, "2026-11-21");
    assert_eq!((code, out.as_str()), (Some(0), ""));
    // Four days behind: said once, first in the mail, with what to check.
    let (code, out) = cron_run(dir, "2026-11-22");
    assert_eq!(code, Some(1), "{out}");
    let first = out.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(
            "alert: snds main: no SNDS data newer than 2026-11-18, 4 days before 2026-11-22"
        ),
        "{out}"
    );
    assert!(first.contains("IP authorisation"), "{out}");
    assert!(
        !out.contains("snds new:"),
        "a new account never had data: {out}"
    );
    // The same episode: not again.
    let (code, out) = cron_run(dir, "2026-11-23");
    assert_eq!((code, out.as_str()), (Some(0), ""));
    let status = run(fbl(dir)
        .args(["--config", "fbl.toml", "snds", "status"])
        .env("FBL_NOW", "2026-11-23T06:00:00Z"));
    let status = stdout(&status);
    assert!(
        status.contains(
            "  no data newer than 2026-11-18: 5 days behind (SNDS lags a day or two); check the \
             IP authorisation at the SNDS portal, and that snds still gets SNDS's files\n"
        ),
        "{status}"
    );
    assert_eq!(status.matches("no data newer than").count(), 1, "{status}");
    // The data comes back: no alert; it stops again later: a new episode, a new alert.
    serve(dir, Some("2026-11-23"));
    let (code, out) = cron_run(dir, "2026-11-24");
    assert_eq!((code, out.as_str()), (Some(0), ""));
    serve(dir, None);
    let (code, out) = cron_run(dir, "2026-11-28");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with("alert: snds main: no SNDS data newer than 2026-11-23, 5 days before"),
        "{out}"
    );
    // Raised once, also with --json.
    let output = run(fbl(dir)
        .args(["--config", "fbl.toml", "run", "--json"])
        .env("FBL_NOW", "2026-11-29T06:00:00Z"));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["alerts"], serde_json::json!([]), "raised once");
}

#[test]
fn stale_after_days_sets_the_lag_and_zero_never_alerts() {
    for (extra, alerts) in [("stale_after_days = 1", 1), ("stale_after_days = 0", 0)] {
        let dir = setup(extra);
        let dir = dir.path();
        serve(dir, Some("2026-11-18"));
        cron_run(dir, "2026-11-19");
        serve(dir, None);
        let output = run(fbl(dir)
            .args(["--config", "fbl.toml", "run", "--json"])
            .env("FBL_NOW", "2026-11-20T06:00:00Z"));
        let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        let kinds: Vec<&str> = summary["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|alert| alert["kind"].as_str().unwrap())
            .collect();
        assert_eq!(kinds, vec!["no_new_data"; alerts], "{extra}");
    }
}
