//! SNDS accounts that cover the same IPs (a legacy key beside the new API, two keys of one
//! sender), and ipStatus ranges that change shape, on both engines: a window counts once
//! whichever accounts hold it, a range two accounts list is listed once, and a blocked range
//! that grows or shrinks alerts only the addresses that entered or left every blocked range
//! and keeps "blocked since" per address.

use crate::store::{Backend, TestStore};
use crate::support::{run, stdout};
use fbl::snds::{ComplaintBand, FilterColor, IpStatusRange, SndsDataRow};
use std::path::Path;

/// A legacy JMRP complaint from Outlook.com about a message sent from `ip` on `day` (it
/// arrived at noon UTC), to `recipient`.
fn jmrp_complaint(ip: &str, day: &str, recipient: &str, message_id: &str) -> String {
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .to_rfc2822();
    format!(
        "From: staff@hotmail.com\n\
         To: jmrp@sender.example\n\
         Subject: complaint about message from {ip}\n\
         Date: {date}\n\
         Message-ID: <jmrp-{message_id}@phx.hotmail.example>\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"jmrp\"\n\
         \n\
         --jmrp\n\
         Content-Type: message/rfc822\n\
         Content-Disposition: inline\n\
         \n\
         X-HmXmrOriginalRecipient: <{recipient}>\n\
         X-Sender-IP: {ip}\n\
         Received: from mta1.sender.example ([{ip}]) by mx.hotmail.example; {date}\n\
         From: News <news@sender.example>\n\
         To: {recipient}\n\
         Subject: News\n\
         Date: {date}\n\
         Message-ID: <{message_id}@sender.example>\n\
         \n\
         Hello.\n\
         --jmrp--\n"
    )
}

/// `fbl.toml` in `dir`: two legacy accounts reading the same SNDS files (`file:snds`), as
/// two keys of one sender would, and the report's sending IPs.
fn two_accounts(dir: &Path) {
    std::fs::write(
        dir.join("fbl.toml"),
        "[report]\nsending_ips = [\"198.51.100.0/24\"]\n\n\
         [snds]\ntimezone = \"UTC\"\n\n\
         [[snds.legacy]]\nname = \"legacy\"\nbase_url = \"file:snds\"\n\n\
         [[snds.legacy]]\nname = \"second\"\nbase_url = \"file:snds\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("snds")).unwrap();
}

fn fbl_at(test: &TestStore, now: &str) -> std::process::Command {
    let mut command = test.fbl();
    command.args(["--config", "fbl.toml"]).env("FBL_NOW", now);
    command
}

/// Two accounts that fetch the same SNDS rows: 198.51.100.7 sent 9,301 messages to
/// Outlook.com on 2026-11-19 and hit 20 traps, and drew 30 complaints (0.322 %, critical).
/// The report counted each window once per account: 18,602 messages, 0.161 % (warn), 40
/// trap hits, and every ipStatus range twice.
fn two_accounts_covering_the_same_ips_count_each_window_once(backend: Backend) {
    let test = TestStore::new(backend);
    let dir = test.dir.path();
    two_accounts(dir);
    std::fs::write(
        dir.join("snds/data-111926.csv"),
        "198.51.100.7,11/19/2026 12:00 AM,11/19/2026 11:59 PM,9400,9350,9301,GREEN,0.3%,\
         11/19/2026 6:12 PM,11/19/2026 8:40 PM,20,mta1.sender.example,,\r\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("snds/ipStatus.csv"),
        "198.51.100.32,198.51.100.47,Yes,Blocked due to user complaints or other evidence of spamming\r\n\
         198.51.100.32,198.51.100.47,Yes,Blocked due to user complaints or other evidence of spamming\r\n",
    )
    .unwrap();
    let output =
        run(fbl_at(&test, "2026-11-20T08:00:00Z").args(["snds", "fetch", "--date", "2026-11-19"]));
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let reports = dir.join("reports");
    std::fs::create_dir(&reports).unwrap();
    for n in 0..30 {
        std::fs::write(
            reports.join(format!("{n:02}.eml")),
            jmrp_complaint(
                "198.51.100.7",
                "2026-11-19",
                &format!("r{n}@hotmail.com"),
                &format!("m{n}"),
            ),
        )
        .unwrap();
    }
    let output = run(fbl_at(&test, "2026-11-20T08:00:00Z").args(["ingest", "reports"]));
    assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");

    let output =
        run(fbl_at(&test, "2026-11-20T09:00:00Z")
            .args(["report", "--days", "7", "--format", "json"]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let day = report["ip_days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ip"] == "198.51.100.7" && d["day"] == "2026-11-19")
        .unwrap_or_else(|| panic!("no day: {report:#}"));
    assert_eq!(day["volume_source"], "snds", "{day:#}");
    assert_eq!(
        (&day["messages"], &day["complaints"], &day["level"]),
        (
            &serde_json::json!(9301),
            &serde_json::json!(30),
            &serde_json::json!("critical")
        ),
        "{day:#}"
    );
    assert_eq!(day["snds"]["message_recipients"], 9301);
    assert_eq!(day["snds"]["trap_hits"], 20);
    assert_eq!(report["snds"]["trap_hits"], 20, "{:#}", report["snds"]);
    let ip_status = report["snds"]["ip_status"].as_array().unwrap();
    assert_eq!(ip_status.len(), 1, "{ip_status:#?}");
    assert_eq!(
        (&ip_status[0]["first_ip"], &ip_status[0]["since"]),
        (
            &serde_json::json!("198.51.100.32"),
            &serde_json::json!("2026-11-20T08:00:00Z")
        )
    );
    // The Prometheus textfile and the table list the range once too.
    let prometheus = stdout(&run(fbl_at(&test, "2026-11-20T09:00:00Z").args([
        "report",
        "--days",
        "7",
        "--format",
        "prometheus",
    ])));
    assert_eq!(
        prometheus
            .lines()
            .filter(|line| line.starts_with("fbl_snds_ip_status_blocked{"))
            .count(),
        1,
        "{prometheus}"
    );
    let table = stdout(&run(
        fbl_at(&test, "2026-11-20T09:00:00Z").args(["report", "--days", "7"])
    ));
    assert_eq!(
        table.matches("198.51.100.32").count(),
        1,
        "the range is listed more than once: {table}"
    );
}

fn data_row(recipients: u64, traps: u64) -> SndsDataRow {
    SndsDataRow {
        ip: "198.51.100.7".parse().unwrap(),
        activity_start_raw: "11/19/2026 12:00 AM".into(),
        activity_end_raw: "11/19/2026 11:59 PM".into(),
        activity_start: Some("2026-11-19T00:00:00Z".parse().unwrap()),
        activity_end: Some("2026-11-19T23:59:00Z".parse().unwrap()),
        rcpt_commands: recipients,
        data_commands: recipients,
        message_recipients: recipients,
        filter_result: FilterColor::Green,
        filter_result_raw: "GREEN".into(),
        complaint_rate_raw: "< 0.1%".into(),
        complaint_rate: ComplaintBand::BelowPointOne,
        trap_period_start_raw: String::new(),
        trap_period_end_raw: String::new(),
        trap_period_start: None,
        trap_period_end: None,
        trap_hits: traps,
        sample_helo: None,
        jmr_p1_sender: None,
        comments: None,
    }
}

/// Where two accounts hold one window with different figures (SNDS corrected it between
/// their fetches), the one fetched last counts; another window of the day adds up.
fn the_account_that_fetched_a_window_last_gives_its_figures(backend: Backend) {
    let test = TestStore::new(backend);
    let mut store = test.open();
    let mut batch = store.begin().unwrap();
    batch
        .upsert_snds_row("b", "2026-11-19", &data_row(900, 1), "2026-11-20T07:00:00Z")
        .unwrap();
    batch
        .upsert_snds_row(
            "a",
            "2026-11-19",
            &data_row(1000, 3),
            "2026-11-20T08:00:00Z",
        )
        .unwrap();
    let mut later = data_row(50, 0);
    later.activity_start_raw = "11/19/2026 12:00 PM".into();
    later.activity_start = Some("2026-11-19T12:00:00Z".parse().unwrap());
    batch
        .upsert_snds_row("b", "2026-11-19", &later, "2026-11-20T07:00:00Z")
        .unwrap();
    batch.commit().unwrap();
    let days = store.snds_days("2026-11-19", "2026-11-19", None).unwrap();
    assert_eq!(days.len(), 1, "{days:?}");
    assert_eq!(
        (days[0].message_recipients, days[0].trap_hits),
        (1050, 3),
        "{days:?}"
    );
    let one = store
        .snds_days("2026-11-19", "2026-11-19", Some("198.51.100.7"))
        .unwrap();
    assert_eq!(one, days);
    // b fetches the window again, later: its figure counts now.
    let mut batch = store.begin().unwrap();
    batch
        .upsert_snds_row("b", "2026-11-19", &data_row(990, 2), "2026-11-20T09:00:00Z")
        .unwrap();
    batch.commit().unwrap();
    let days = store.snds_days("2026-11-19", "2026-11-19", None).unwrap();
    assert_eq!(
        (days[0].message_recipients, days[0].trap_hits),
        (1040, 2),
        "{days:?}"
    );
}

/// `fbl.toml` in `dir`: one legacy account reading `file:snds`, with no data rows.
fn one_account(dir: &Path) {
    std::fs::write(
        dir.join("fbl.toml"),
        "[snds]\ntimezone = \"UTC\"\n\n\
         [[snds.legacy]]\nname = \"legacy\"\nbase_url = \"file:snds\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.join("snds")).unwrap();
    std::fs::write(dir.join("snds/data-111926.csv"), "").unwrap();
}

/// `fbl snds fetch` of ipStatus `lines` at `now`: its exit status and the alerts' messages.
fn fetch_ip_status(test: &TestStore, lines: &str, now: &str) -> (Option<i32>, Vec<String>) {
    std::fs::write(test.dir.path().join("snds/ipStatus.csv"), lines).unwrap();
    let output = run(fbl_at(test, now).args([
        "snds",
        "fetch",
        "--date",
        "2026-11-19",
        "--refresh",
        "--json",
    ]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {output:?}"));
    let alerts = summary["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alert| alert["message"].as_str().unwrap().to_owned())
        .collect();
    (output.status.code(), alerts)
}

/// The ipStatus lines `fbl snds show` prints.
fn shown_ranges(test: &TestStore) -> Vec<String> {
    let output = run(fbl_at(test, "2026-11-22T09:00:00Z").args(["snds", "show"]));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    stdout(&output)
        .lines()
        .filter(|line| line.starts_with("legacy "))
        .map(str::to_owned)
        .collect()
}

const BLOCKED: &str = "Blocked due to user complaints or other evidence of spamming";

/// A blocked range that grows: SNDS listed 198.51.100.0-15 as blocked, then 198.51.100.0-31.
/// fbl alerted "198.51.100.0-198.51.100.15 is no longer blocked" and "198.51.100.0-
/// 198.51.100.31 is blocked", and said the whole range was blocked since the second fetch.
/// Only 16 to 31 are news, and 0 to 15 have been blocked since the first. When the range
/// then shrinks to 8-31, 0 to 7 are no longer blocked, and the rest keep their start.
fn a_blocked_range_that_changes_shape_alerts_only_the_addresses_that_changed(backend: Backend) {
    let test = TestStore::new(backend);
    one_account(test.dir.path());
    let first = "2026-11-20T08:00:00Z";
    let second = "2026-11-21T08:00:00Z";
    let third = "2026-11-22T08:00:00Z";
    let (code, alerts) = fetch_ip_status(
        &test,
        &format!("198.51.100.0,198.51.100.15,Yes,{BLOCKED}\r\n"),
        first,
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        alerts,
        [format!(
            "snds legacy: 198.51.100.0-198.51.100.15 is blocked by Outlook.com: {BLOCKED}; \
             `fbl report delist --ip IP`, for each of your sending IPs in the range, gathers what \
             Microsoft's delisting form asks for"
        )]
    );

    let (code, alerts) = fetch_ip_status(
        &test,
        &format!("198.51.100.0,198.51.100.31,Yes,{BLOCKED}\r\n"),
        second,
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        alerts,
        [format!(
            "snds legacy: 198.51.100.16-198.51.100.31 is blocked by Outlook.com: {BLOCKED}; \
             `fbl report delist --ip IP`, for each of your sending IPs in the range, gathers what \
             Microsoft's delisting form asks for"
        )]
    );
    assert_eq!(
        shown_ranges(&test),
        [
            format!("legacy 198.51.100.0-198.51.100.15 blocked since {first}: {BLOCKED}"),
            format!("legacy 198.51.100.16-198.51.100.31 blocked since {second}: {BLOCKED}"),
        ]
    );
    let output =
        run(fbl_at(&test, "2026-11-21T09:00:00Z")
            .args(["report", "--days", "7", "--format", "json"]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let listed: Vec<(String, String, String)> = report["snds"]["ip_status"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["first_ip"].as_str().unwrap().to_owned(),
                s["last_ip"].as_str().unwrap().to_owned(),
                s["since"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("198.51.100.0".into(), "198.51.100.15".into(), first.into()),
            (
                "198.51.100.16".into(),
                "198.51.100.31".into(),
                second.into()
            ),
        ]
    );

    // The same ipStatus again, its line listed twice: nothing is news.
    let (code, alerts) = fetch_ip_status(
        &test,
        &format!(
            "198.51.100.0,198.51.100.31,Yes,{BLOCKED}\r\n198.51.100.0,198.51.100.31,Yes,{BLOCKED}\r\n"
        ),
        "2026-11-21T12:00:00Z",
    );
    assert_eq!((code, alerts), (Some(0), Vec::<String>::new()));
    // And the fetch counts that range once.
    let output = run(fbl_at(&test, "2026-11-21T12:00:00Z").args([
        "snds",
        "fetch",
        "--date",
        "2026-11-19",
        "--refresh",
        "--json",
    ]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let account = &summary["summary"]["accounts"][0];
    assert_eq!(
        (&account["ip_status_ranges"], &account["blocked_ranges"]),
        (&serde_json::json!(1), &serde_json::json!(1)),
        "{summary}"
    );

    let (code, alerts) = fetch_ip_status(
        &test,
        &format!("198.51.100.8,198.51.100.31,Yes,{BLOCKED}\r\n"),
        third,
    );
    assert_eq!(code, Some(1));
    assert_eq!(
        alerts,
        ["snds legacy: 198.51.100.0-198.51.100.7 is no longer blocked by Outlook.com"]
    );
    assert_eq!(
        shown_ranges(&test),
        [
            format!("legacy 198.51.100.8-198.51.100.15 blocked since {first}: {BLOCKED}"),
            format!("legacy 198.51.100.16-198.51.100.31 blocked since {second}: {BLOCKED}"),
        ]
    );

    // Unblocked altogether, then blocked again: a new block, since the new fetch.
    let (_, alerts) = fetch_ip_status(&test, "", "2026-11-22T10:00:00Z");
    assert_eq!(
        alerts,
        ["snds legacy: 198.51.100.8-198.51.100.31 is no longer blocked by Outlook.com"]
    );
    let (_, alerts) = fetch_ip_status(
        &test,
        &format!("198.51.100.8,198.51.100.31,Yes,{BLOCKED}\r\n"),
        "2026-11-22T12:00:00Z",
    );
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(
        shown_ranges(&test),
        [format!(
            "legacy 198.51.100.8-198.51.100.31 blocked since 2026-11-22T12:00:00Z: {BLOCKED}"
        )]
    );
}

fn range(first: &str, last: &str, blocked: bool) -> IpStatusRange {
    IpStatusRange {
        first_ip: first.parse().unwrap(),
        last_ip: last.parse().unwrap(),
        blocked,
        blocked_raw: if blocked { "Yes" } else { "No" }.into(),
        details: String::new(),
    }
}

fn ends(periods: &[fbl::store::IpStatusPeriod]) -> Vec<(String, String, i64)> {
    periods
        .iter()
        .map(|p| (p.first_ip.clone(), p.last_ip.clone(), p.id))
        .collect()
}

/// What the store tells of an ipStatus snapshot, address by address, IPv6 too: a range
/// that is split, grows on both sides, or is listed twice; a range that turns from junked
/// to blocked; and the distinct ranges and blocked ranges a snapshot lists.
fn ip_status_changes_are_told_address_by_address(backend: Backend) {
    let test = TestStore::new(backend);
    let mut store = test.open();
    let mut apply = |ranges: &[IpStatusRange], now: &str| {
        let mut batch = store.begin().unwrap();
        let changes = batch.apply_snds_ip_status("main", ranges, now).unwrap();
        batch.commit().unwrap();
        changes
    };
    let changes = apply(
        &[
            range("2001:db8::100", "2001:db8::1ff", true),
            range("2001:db8::100", "2001:db8::1ff", true),
            range("192.0.2.0", "192.0.2.7", false),
        ],
        "2026-11-20T08:00:00Z",
    );
    assert_eq!((changes.ranges, changes.blocked_ranges), (2, 1));
    assert_eq!(
        ends(&changes.opened),
        [("2001:db8::100".into(), "2001:db8::1ff".into(), 1)]
    );
    assert!(changes.closed.is_empty());
    // Grown on both sides, and the junked range blocked now.
    let changes = apply(
        &[
            range("2001:db8::", "2001:db8::2ff", true),
            range("192.0.2.0", "192.0.2.7", true),
        ],
        "2026-11-21T08:00:00Z",
    );
    assert_eq!((changes.ranges, changes.blocked_ranges), (2, 2));
    assert_eq!(
        ends(&changes.opened),
        [
            ("2001:db8::".into(), "2001:db8::ff".into(), 3),
            ("2001:db8::200".into(), "2001:db8::2ff".into(), 3),
            ("192.0.2.0".into(), "192.0.2.7".into(), 4),
        ]
    );
    assert!(changes.closed.is_empty(), "{:?}", changes.closed);
    // Split in two with a hole: the hole alone is unblocked.
    let changes = apply(
        &[
            range("2001:db8::", "2001:db8::17f", true),
            range("2001:db8::200", "2001:db8::2ff", true),
            range("192.0.2.0", "192.0.2.7", true),
        ],
        "2026-11-22T08:00:00Z",
    );
    assert!(changes.opened.is_empty(), "{:?}", changes.opened);
    assert_eq!(
        ends(&changes.closed),
        [("2001:db8::180".into(), "2001:db8::1ff".into(), 3)]
    );
    assert_eq!(
        changes.closed[0].ended_at.as_deref(),
        Some("2026-11-22T08:00:00Z")
    );
    let since: Vec<(String, String, String)> = store
        .snds_current_ip_status_since(Some("main"))
        .unwrap()
        .into_iter()
        .map(|part| (part.first_ip, part.last_ip, part.since))
        .collect();
    assert_eq!(
        since,
        [
            (
                "192.0.2.0".into(),
                "192.0.2.7".into(),
                "2026-11-21T08:00:00Z".into()
            ),
            (
                "2001:db8::".into(),
                "2001:db8::ff".into(),
                "2026-11-21T08:00:00Z".into()
            ),
            (
                "2001:db8::100".into(),
                "2001:db8::17f".into(),
                "2026-11-20T08:00:00Z".into()
            ),
            (
                "2001:db8::200".into(),
                "2001:db8::2ff".into(),
                "2026-11-21T08:00:00Z".into()
            ),
        ]
    );
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(super::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(super::Backend::Postgres) } )*
        }
    };
}

on_both_backends!(
    two_accounts_covering_the_same_ips_count_each_window_once,
    the_account_that_fetched_a_window_last_gives_its_figures,
    a_blocked_range_that_changes_shape_alerts_only_the_addresses_that_changed,
    ip_status_changes_are_told_address_by_address,
);
