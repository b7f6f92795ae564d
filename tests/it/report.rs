//! `fbl report` and the report step of `fbl run` on fixture stores: rates and levels per IP,
//! reporter, campaign, list and domain; every format; the JSON schema; `--fail-on`;
//! Outlook.com blocks from bounces and send logs, alerted once; the delisting packet.

use crate::support::{fbl, fixtures, run, schema, schema_errors, stdout};
use std::path::{Path, PathBuf};

/// An RFC 5965 report from Yahoo about one message sent from `ip`, dated `day`.
fn complaint(ip: &str, day: &str, message_id: &str, rcpt_to: &str) -> String {
    complaint_from("feedback@arf.mail.yahoo.com", ip, day, message_id, rcpt_to)
}

/// The same from another feedback loop.
fn complaint_from(from: &str, ip: &str, day: &str, message_id: &str, rcpt_to: &str) -> String {
    let rcpt = if rcpt_to.is_empty() {
        String::new()
    } else {
        format!("Original-Rcpt-To: {rcpt_to}\n")
    };
    let agent = if from.contains("aol") {
        "AOL SComp"
    } else {
        "Yahoo!-Mail-Feedback/2.0"
    };
    let date = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .unwrap()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc()
        .to_rfc2822();
    format!(
        "From: {from}\n\
         To: fbl@sender.example\n\
         Date: {date}\n\
         Subject: FW: report\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\
         \n\
         --b\n\
         Content-Type: text/plain\n\
         \n\
         A complaint.\n\
         --b\n\
         Content-Type: message/feedback-report\n\
         \n\
         Feedback-Type: abuse\n\
         User-Agent: {agent}\n\
         Version: 1\n\
         Source-IP: {ip}\n\
         {rcpt}\
         \n\
         --b\n\
         Content-Type: text/rfc822-headers\n\
         \n\
         Received: from mta1.sender.example ({ip}) by mx.yahoo.example for <{rcpt_to}>; {date}\n\
         From: news@sender.example\n\
         To: {rcpt_to}\n\
         Message-ID: <{message_id}>\n\
         Subject: News\n\
         \n\
         --b--\n"
    )
}

/// A fixture store: a send log of 2,000 messages a day from 192.0.2.10 (campaign spring)
/// and 1,500 from 192.0.2.11 (campaign summer) on 17 to 19 November, complaints that put
/// 192.0.2.10 at ok, warn and critical on those days, two about a foreign IP and one that
/// names nobody.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn fbl(&self) -> std::process::Command {
        let mut command = fbl(self.path());
        command.args(["--config", "fbl.toml"]);
        command
    }
}

pub fn fixture_store(extra_config: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(
        path.join("fbl.toml"),
        format!(
            "[store]\npath = \"fbl.sqlite\"\n\n[send_log]\nretention_days = 5000\n\n\
             [report]\nsending_ips = [\"192.0.2.0/24\"]\n\n\
             [[report.output]]\nformat = \"html\"\npath = \"out/report.html\"\n\n\
             [[report.output]]\nformat = \"prometheus\"\npath = \"out/fbl.prom\"\ndays = 7\n{extra_config}"
        ),
    )
    .unwrap();
    let mut sends = String::from("message_id,recipient,campaign,list,source_ip,sent_at\n");
    for (day, n) in [("2026-11-17", 17), ("2026-11-18", 18), ("2026-11-19", 19)] {
        for i in 0..2000 {
            let domain = if i % 2 == 0 {
                "yahoo.com"
            } else {
                "example.org"
            };
            sends.push_str(&format!(
                "m-10-{n}-{i}@sender.example,r{i}@{domain},spring,weekly,192.0.2.10,{day}T09:00:00Z\n"
            ));
        }
        for i in 0..1500 {
            sends.push_str(&format!(
                "m-11-{n}-{i}@sender.example,s{i}@example.net,summer,weekly,192.0.2.11,{day}T10:00:00Z\n"
            ));
        }
    }
    std::fs::write(path.join("sends.csv"), sends).unwrap();
    std::fs::create_dir(path.join("out")).unwrap();
    let reports = path.join("reports");
    std::fs::create_dir(&reports).unwrap();
    let mut files = 0;
    let mut add = |text: String| {
        files += 1;
        std::fs::write(reports.join(format!("{files:03}.eml")), text).unwrap();
    };
    for (day, n, count) in [
        ("2026-11-17", 17, 1),
        ("2026-11-18", 18, 3),
        ("2026-11-19", 19, 8),
    ] {
        for i in 0..count {
            let i = i * 2; // recipients at yahoo.com
            add(complaint(
                "192.0.2.10",
                day,
                &format!("m-10-{n}-{i}@sender.example"),
                &format!("r{i}@yahoo.com"),
            ));
        }
    }
    add(complaint(
        "192.0.2.11",
        "2026-11-19",
        "m-11-19-7@sender.example",
        "s7@example.net",
    ));
    for n in 1..=2 {
        add(complaint_from(
            "scomp@aol.net",
            "198.51.100.99",
            "2026-11-19",
            &format!("elsewhere-{n}@other.example"),
            &format!("x{n}@example.com"),
        ));
    }
    add(complaint(
        "192.0.2.10",
        "2026-11-19",
        "unknown@other.example",
        "",
    ));

    let output = run(fbl(path).args([
        "--config",
        "fbl.toml",
        "sendlog",
        "import",
        "sends.csv",
        "--format",
        "csv",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(path).args(["--config", "fbl.toml", "ingest", "reports"]));
    // The complaint that names nobody leaves the exit status at 1.
    assert_eq!(output.status.code(), Some(1));
    Fixture { dir }
}

fn report_json(fixture: &Fixture, args: &[&str]) -> serde_json::Value {
    let output = run(fixture
        .fbl()
        .args(["report", "--format", "json"])
        .args(args));
    assert_eq!(output.status.code(), Some(0));
    serde_json::from_str(&stdout(&output)).unwrap()
}

fn find<'a>(rows: &'a serde_json::Value, key: &str, value: &str) -> &'a serde_json::Value {
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row[key] == value)
        .unwrap_or_else(|| panic!("no {key} = {value} in {rows:#}"))
}

#[test]
fn rates_per_ip_day_campaign_list_domain_and_reporter_are_judged_against_the_thresholds() {
    let fixture = fixture_store("");
    let report = report_json(&fixture, &["--days", "7"]);
    assert_eq!(report["window"]["from_day"], "2026-11-14");
    assert_eq!(report["window"]["to_day"], "2026-11-20");

    let days: Vec<(String, u64, u64, String)> = report["ip_days"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["ip"] == "192.0.2.10")
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_string(),
                d["complaints"].as_u64().unwrap(),
                d["messages"].as_u64().unwrap(),
                d["level"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        days,
        [
            ("2026-11-17".to_string(), 1, 2000, "ok".to_string()),
            ("2026-11-18".to_string(), 3, 2000, "warn".to_string()),
            ("2026-11-19".to_string(), 9, 2000, "critical".to_string()),
        ]
    );
    let ip = find(&report["ips"], "ip", "192.0.2.10");
    assert_eq!(ip["complaints"], 13);
    assert_eq!(ip["worst_day"], "2026-11-19");
    assert_eq!(ip["worst_day_level"], "critical");
    assert_eq!(ip["sending_ip"], true);
    assert_eq!(report["ips"][0]["ip"], "192.0.2.10", "worst first");

    // 12 complaints placed in spring (6,000 messages), 1 in summer (4,500).
    let spring = find(&report["campaigns"], "subject", "spring");
    assert_eq!(
        (spring["complaints"].as_u64(), spring["messages"].as_u64()),
        (Some(12), Some(6000))
    );
    assert_eq!(spring["level"], "warn");
    let weekly = find(&report["lists"], "subject", "weekly");
    assert_eq!(weekly["complaints"], 13);
    assert_eq!(report["complaints_without_campaign"], 3);

    // Complainants at yahoo.com: 12 complaints in 9,000 messages sent there... no: 3,000.
    let yahoo_domain = find(&report["recipient_domains"], "subject", "yahoo.com");
    assert_eq!(yahoo_domain["complaints"], 12);
    assert_eq!(yahoo_domain["messages"], 3000);
    assert_eq!(yahoo_domain["level"], "critical");
    // Yahoo's daily volume is what the send log sent to Yahoo's domains.
    let yahoo_day = report["reporter_days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subject"] == "yahoo" && r["day"] == "2026-11-19")
        .unwrap();
    assert_eq!(yahoo_day["messages"], 1000);
    assert_eq!(yahoo_day["volume_source"], "send_log");

    assert_eq!(report["overview"]["complaints"], 16);
    assert_eq!(report["overview"]["unattributed"], 1);
    assert_eq!(report["unattributed"]["complaints"], 1);
    assert_eq!(
        report["unattributed"]["top_reasons"][0]["reason"],
        "the provider redacted the complainant and no sender identifier was found"
    );
    assert_eq!(report["foreign_ips"]["complaints"], 2);
    assert_eq!(report["foreign_ips"]["ips"][0]["ip"], "198.51.100.99");
    assert_eq!(report["overview"]["worst_level"], "critical");
    let alerts: Vec<&str> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["subject"].as_str().unwrap())
        .collect();
    assert!(alerts.contains(&"ip 192.0.2.10"), "{alerts:?}");
    assert!(alerts.contains(&"campaign spring"), "{alerts:?}");
    // A machine reads a rate alert's figures without parsing its message: the campaign's
    // own, and a rate at or above the threshold it names.
    for alert in report["alerts"].as_array().unwrap() {
        assert_eq!(alert["kind"], "complaint_rate", "{alert}");
        let (rate, threshold) = (
            alert["rate_percent"].as_f64().unwrap(),
            alert["threshold_percent"].as_f64().unwrap(),
        );
        assert!(rate >= threshold, "{alert}");
        let (complaints, messages) = (
            alert["complaints"].as_f64().unwrap(),
            alert["messages"].as_f64().unwrap(),
        );
        assert!(
            (complaints * 100.0 / messages - rate).abs() < 1e-9,
            "{alert}"
        );
    }
    let spring = find(&report["campaigns"], "subject", "spring");
    let alert = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["subject"] == "campaign spring")
        .unwrap();
    assert_eq!(alert["complaints"], spring["complaints"]);
    assert_eq!(alert["messages"], spring["messages"]);
    assert_eq!(alert["rate_percent"], spring["rate_percent"]);
    assert_eq!(
        alert["threshold_percent"],
        report["thresholds"][format!("{}_percent", alert["level"].as_str().unwrap())]
    );

    // Thresholds come from [report].
    let strict = fixture_store("");
    std::fs::write(
        strict.path().join("fbl.toml"),
        std::fs::read_to_string(strict.path().join("fbl.toml"))
            .unwrap()
            .replace(
                "[report]\n",
                "[report]\nwarn_percent = 0.01\ncritical_percent = 0.03\n",
            ),
    )
    .unwrap();
    let report = report_json(&strict, &["--days", "7"]);
    let ip = find(&report["ips"], "ip", "192.0.2.11");
    assert_eq!(ip["rate_level"], "warn", "1 in 4,500 is 0.022%");
}

#[test]
fn the_json_output_follows_its_schema() {
    let validator = schema("report-output.schema.json");
    let fixture = fixture_store("");
    for days in ["1", "7", "30"] {
        let report = report_json(&fixture, &["--days", days]);
        let errors = schema_errors(&validator, &report);
        assert!(errors.is_empty(), "--days {days}: {errors:#?}");
    }
    // An empty store too.
    let empty = tempfile::tempdir().unwrap();
    fbl::store::Store::open(&empty.path().join("fbl.sqlite")).unwrap();
    let output = run(fbl(empty.path()).args(["report", "--format", "json"]));
    assert_eq!(output.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let errors = schema_errors(&validator, &report);
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(report["overview"]["worst_level"], "not_judged");
}

#[test]
fn fail_on_sets_the_exit_status_for_cron() {
    let fixture = fixture_store("");
    let status = |args: &[&str]| run(fixture.fbl().arg("report").args(args)).status.code();
    assert_eq!(status(&["--days", "7", "--fail-on", "critical"]), Some(1));
    assert_eq!(status(&["--days", "7", "--fail-on", "warn"]), Some(1));
    // The 17th alone was fine: 1 in 2,000.
    let dir = tempfile::tempdir().unwrap();
    fbl::store::Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    let output = run(fbl(dir.path()).args(["report", "--fail-on", "warn"]));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(status(&["--days", "7"]), Some(0));
    let output = run(fixture.fbl().args(["report", "--fail-on", "sometimes"]));
    assert_eq!(output.status.code(), Some(2));
    let output = run(fixture.fbl().args(["report", "--days", "0"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--days must be 1 to"));
}

#[test]
fn every_format_renders_the_same_figures() {
    let fixture = fixture_store("");
    let render = |format: &str| {
        let output = run(fixture
            .fbl()
            .args(["report", "--days", "7", "--format", format]));
        assert_eq!(output.status.code(), Some(0), "{format}");
        stdout(&output)
    };
    let table = render("table");
    for expected in [
        "fbl complaint report 2026-11-14 to 2026-11-20 (7 days)",
        "192.0.2.10",
        "critical",
        "198.51.100.99 (not ours)",
        "unattributed complaints: 1",
        "complaints about IPs outside [report] sending_ips: 2",
        "spring",
    ] {
        assert!(
            table.contains(expected),
            "table lacks {expected:?}:\n{table}"
        );
    }

    // 192.0.2.11's worst day, 1 in 1,500, is 0.0666…%: shown cut, 0.066%, never rounded up.
    let line = table
        .lines()
        .find(|l| l.trim_start().starts_with("192.0.2.11"))
        .unwrap();
    assert!(line.contains("0.066%"), "{line}");

    let csv = render("csv");
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "section");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let critical = rows
        .iter()
        .find(|r| &r[0] == "ip_day" && &r[1] == "192.0.2.10" && &r[2] == "2026-11-19")
        .unwrap();
    assert_eq!(
        (&critical[3], &critical[4], &critical[6], &critical[7]),
        ("9", "2000", "0.45", "critical")
    );
    assert_eq!((&headers[13], &critical[13]), ("rated_complaints", "9"));
    let ok = rows
        .iter()
        .find(|r| &r[0] == "ip_day" && &r[1] == "192.0.2.11" && &r[2] == "2026-11-19")
        .unwrap();
    // CSV keeps the exact figure, as JSON does: never rounded up.
    assert_eq!(&ok[6], (1.0f64 * 100.0 / 1500.0).to_string());
    assert!(ok[6].starts_with("0.06666"), "{}", &ok[6]);
    // An IP's window row has no day beside its window rate; its worst day is in the detail.
    let window = rows
        .iter()
        .find(|r| &r[0] == "ip" && &r[1] == "192.0.2.10")
        .unwrap();
    assert_eq!(&window[2], "");
    assert!(
        window[12].contains("worst day 2026-11-19 0.45 critical"),
        "{window:?}"
    );
    for section in [
        "ip",
        "reporter_day",
        "reporter",
        "campaign",
        "list",
        "recipient_domain",
        "foreign_ip",
        "unattributed_reason",
    ] {
        assert!(
            rows.iter().any(|r| &r[0] == section),
            "csv has no {section} row"
        );
    }

    let prometheus = render("prometheus");
    check_prometheus(&prometheus);
    assert!(
        prometheus.contains("fbl_ip_complaints{ip=\"192.0.2.10\"} 13\n"),
        "{prometheus}"
    );
    assert!(
        prometheus.contains("fbl_ip_latest_day_complaint_ratio{ip=\"192.0.2.10\"} 0.0045\n"),
        "{prometheus}"
    );
    // The day is a value (2026-11-19T00:00:00Z), not a label that starts a series a day.
    assert!(
        prometheus.contains("fbl_ip_latest_day_timestamp_seconds{ip=\"192.0.2.10\"} 1795046400\n"),
        "{prometheus}"
    );
    assert!(!prometheus.contains("day=\""), "{prometheus}");
    assert!(prometheus.contains("fbl_unattributed_complaints 1\n"));

    let html = render("html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<svg"));

    // --output writes the file atomically and prints nothing.
    let output = run(fixture.fbl().args([
        "report",
        "--days",
        "7",
        "--format",
        "json",
        "--output",
        "out/r.json",
    ]));
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).is_empty());
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture.path().join("out/r.json")).unwrap()).unwrap();
    assert_eq!(written["overview"]["complaints"], 16);
}

/// Every line is a comment or `name{labels} value`, every family has HELP and TYPE before
/// its samples, and no label set repeats.
fn check_prometheus(text: &str) {
    let mut typed = std::collections::BTreeSet::new();
    let mut seen = std::collections::BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert_eq!(kind, "gauge");
            assert!(typed.insert(name.to_string()), "family {name} typed twice");
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("bad line {line:?}"));
        value
            .parse::<f64>()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad metric name in {line:?}"
        );
        assert!(typed.contains(name), "{name} has no TYPE line before it");
        assert!(seen.insert(series.to_string()), "series {series} repeats");
    }
    assert!(!seen.is_empty());
}

fn copy_bounces(to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(fixtures().join("bounces")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "eml") {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn outlook_blocks_in_bounces_are_recorded_and_alerted_once_by_fbl_run() {
    let fixture = fixture_store("\n[[source]]\nname = \"bounces\"\npath = \"bounces\"\n");
    copy_bounces(&fixture.path().join("bounces"));
    // The SC-001 bounce names no IP: the send log knows the refused message's.
    let mut sends = std::fs::read_to_string(fixture.path().join("sends.csv")).unwrap();
    sends.push_str("20261119140208.a41f@mta2.sender.example,liam.chen@hotmail.example,spring,weekly,192.0.2.12,2026-11-19T14:02:08Z\n");
    std::fs::write(fixture.path().join("sends.csv"), sends).unwrap();
    let output = run(fixture
        .fbl()
        .args(["sendlog", "import", "sends.csv", "--format", "csv"]));
    assert_eq!(output.status.code(), Some(0));

    let output = run(fixture.fbl().args(["run", "--json"]));
    assert_eq!(output.status.code(), Some(1), "new alerts need a person");
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let step = &summary["report"];
    assert_eq!(step["block_events_found"], 3);
    let mut alerts: Vec<(String, String, String)> = step["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["kind"] != "complaint_rate")
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_string(),
                a["subject"].as_str().unwrap().to_string(),
                a["event"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    alerts.sort();
    assert_eq!(
        alerts,
        [
            (
                "outlook_block".into(),
                "ip 192.0.2.12".into(),
                "2026-11-19T14:02:10Z".into()
            ),
            (
                "outlook_block".into(),
                "ip 203.0.113.5".into(),
                "2026-11-18T09:15:00Z".into()
            ),
            (
                "outlook_throttle".into(),
                "ip 203.0.113.6".into(),
                "2026-11-19T14:38:51Z".into()
            ),
        ]
    );
    assert!(
        step["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == "ip 192.0.2.10")
    );
    let written: Vec<&str> = step["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["path"].as_str().unwrap())
        .collect();
    assert_eq!(written.len(), 2, "{written:?}");
    let prom = std::fs::read_to_string(fixture.path().join("out/fbl.prom")).unwrap();
    check_prometheus(&prom);
    assert!(
        prom.contains("fbl_outlook_blocked{ip=\"203.0.113.5\",class=\"block\",code=\"S3140\"} 1\n"),
        "{prom}"
    );
    assert!(
        prom.contains("class=\"throttle\",code=\"RP-001\""),
        "{prom}"
    );

    // The second run finds nothing new and raises nothing: exit 0, silent.
    let output = run(fixture.fbl().arg("run"));
    assert_eq!(output.status.code(), Some(0));
    assert!(stdout(&output).is_empty(), "{}", stdout(&output));

    // The report shows the blocks beside the IPs; throttling is not a block.
    let report = report_json(&fixture, &["--days", "7"]);
    assert_eq!(report["overview"]["ips_blocked"], 2);
    assert_eq!(report["overview"]["ips_throttled"], 1);
    assert_eq!(
        find(&report["ips"], "ip", "203.0.113.5")["outlook_block"],
        "S3140"
    );
    let episode = find(&report["blocks"], "ip", "203.0.113.6");
    assert_eq!(episode["class"], "throttle");
}

#[test]
fn a_postfix_send_log_with_outlook_deferrals_is_scanned_on_every_run() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[send_log]\nretention_days = 5000\nimport = [{ path = \"mail.log\", format = \"postfix\" }]\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("mail.log"),
        "Nov 19 09:15:00 mta1 postfix/smtp[9]: 4ABC: to=<zoe@outlook.example>, relay=outlook.example[192.0.2.77]:25, delay=1, dsn=4.7.0, status=deferred (host outlook.example[192.0.2.77] said: 451 4.7.650 The mail server [203.0.113.7] has been temporarily rate limited due to IP reputation. (in reply to MAIL FROM command))\n\
         Nov 19 09:16:00 mta1 postfix/smtp[9]: 4ABD: to=<amy@outlook.example>, relay=outlook.example[192.0.2.77]:25, delay=1, dsn=5.7.1, status=bounced (host outlook.example[192.0.2.77] said: 550 SC-004 (BAY004-MC5F3) Unfortunately, some messages from 203.0.113.7 weren't sent. (in reply to MAIL FROM command))\n",
    )
    .unwrap();
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["report"]["block_events_found"], 2);
    let kinds: Vec<&str> = summary["report"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["outlook_block", "outlook_throttle"]);
    let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["report"]["block_events_found"], 0);
    assert_eq!(summary["report"]["alerts"], serde_json::json!([]));
}

/// A one-off `fbl sendlog import` records the blocks its delivery statuses show, from a
/// file or from standard input, once; the next `fbl run` alerts on them.
#[test]
fn a_one_off_send_log_import_records_outlook_blocks_from_a_file_or_stdin() {
    let log = "Nov 19 09:16:00 mta1 postfix/smtp[9]: 4ABD: to=<amy@outlook.example>, relay=outlook.example[192.0.2.77]:25, delay=1, dsn=5.7.1, status=bounced (host outlook.example[192.0.2.77] said: 550 SC-004 (BAY004-MC5F3) Unfortunately, some messages from 203.0.113.7 weren't sent. (in reply to MAIL FROM command))\n";
    for from_stdin in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("fbl.toml"),
            "[send_log]\nretention_days = 5000\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("mail.log"), log).unwrap();
        let import = || {
            let mut command = fbl(dir.path());
            command.args([
                "--config", "fbl.toml", "sendlog", "import", "--format", "postfix", "--json",
            ]);
            if from_stdin {
                command
                    .arg("-")
                    .stdin(std::fs::File::open(dir.path().join("mail.log")).unwrap());
            } else {
                command.arg("mail.log");
            }
            let output = run(&mut command);
            let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
            (output.status.code(), summary["block_events_found"].as_u64())
        };
        assert_eq!(import(), (Some(1), Some(1)), "stdin: {from_stdin}");
        assert_eq!(
            import(),
            (Some(0), Some(0)),
            "found once, stdin: {from_stdin}"
        );
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "run", "--json"]));
        let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(
            summary["report"]["alerts"][0]["kind"], "outlook_block",
            "{summary}"
        );
        // The spooled copy of standard input is gone.
        let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with("fbl-sendlog-"))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

#[test]
fn the_delisting_packet_gathers_the_evidence_in_text_and_markdown() {
    let fixture = fixture_store("");
    copy_bounces(&fixture.path().join("bounces"));
    let output = run(fixture.fbl().args(["ingest", "bounces"]));
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&run(fixture.fbl().args([
        "report",
        "delist",
        "--ip",
        "192.0.2.10",
    ])));
    for expected in [
        "Delisting evidence for 192.0.2.10\n=================================",
        "one of our configured sending IPs",
        "No Outlook.com block (5xx) seen",
        // 0.2166…%: cut, not rounded up.
        "Complaints about mail from this IP: 13 in the period, against 6000 messages (0.216%).",
        "Complainants suppressed: 12 of 13 complaints; time from the provider's report to suppression:",
        "Suppression list: 11 addresses",
        "yahoo (14 reports, latest 2026-11-19T12:00:00Z)",
        "2026-11-19  9           2000      send log     0.450%  critical",
        "Example headers of a recent message from this IP",
        "To: [recipient]",
        "From: news@sender.example",
    ] {
        assert!(
            text.contains(expected),
            "packet lacks {expected:?}:\n{text}"
        );
    }
    assert!(
        !text.contains("r0@yahoo.com"),
        "a recipient leaked:\n{text}"
    );

    let markdown = stdout(&run(fixture.fbl().args([
        "report",
        "delist",
        "--ip",
        "203.0.113.5",
        "--markdown",
    ])));
    for expected in [
        "# Delisting evidence for 203.0.113.5",
        "## Summary",
        "Outlook.com has rejected mail from this IP since 2026-11-18T09:15:00Z (S3140: the IP or its network is on Microsoft's block list)",
        "| code | first seen | last seen | times |",
        "| S3140 | 2026-11-18T09:15:00Z | 2026-11-18T09:15:00Z | 1 |",
        "not in our configured sending IPs",
        "```\n550 5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent.",
    ] {
        assert!(
            markdown.contains(expected),
            "packet lacks {expected:?}:\n{markdown}"
        );
    }
    let output = run(fixture
        .fbl()
        .args(["report", "delist", "--ip", "mail.example"]));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not an IP address"));
}

/// The audit's case: the complainant's address in a sender's own header (`X-Fbl-Rcpt`), a
/// display name in To, the VERP form in Return-Path and List-Unsubscribe, the URL-encoded
/// form in a link, the address in a Message-ID and the first name in the Subject.
#[test]
fn the_delisting_packet_shows_nothing_of_the_complainant() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n\
         [attribution]\n\
         header = [{ name = \"X-Fbl-Rcpt\", value = \"address\" }]\n\
         verp = [\"bounces+{local}={domain}@bounce.sender.example\"]\n",
    )
    .unwrap();
    let report = delist_complaint(
        "",
        "Return-Path: <bounces+victim.person=example.net@bounce.sender.example>\n\
         Received: from mta1.sender.example (192.0.2.25) by mx.yahoo.example for <victim.person@example.net>; Thu, 19 Nov 2026 11:00:00 +0000\n\
         Authentication-Results: mx.yahoo.example; dkim=pass header.d=sender.example\n\
         From: News <news@sender.example>\n\
         To: \"Victim Person\" <victim.person@example.net>\n\
         Subject: Victim, your November news\n\
         Date: Thu, 19 Nov 2026 10:59:00 +0000\n\
         Message-ID: <nov.victim.person=example.net@sender.example>\n\
         X-Fbl-Rcpt: victim.person@example.net\n\
         List-Unsubscribe: <mailto:unsub+victim.person=example.net@example.com>, <https://sender.example/u?e=victim.person%40example.net>\n\
         List-Unsubscribe-Post: List-Unsubscribe=One-Click\n\
",
    );
    std::fs::write(dir.path().join("r.eml"), report).unwrap();
    let config = ["--config", "fbl.toml"];
    let output = run(fbl(dir.path()).args(config).args(["ingest", "r.eml"]));
    assert_eq!(output.status.code(), Some(0));
    let output =
        run(fbl(dir.path())
            .args(config)
            .args(["suppress", "show", "victim.person@example.net"]));
    let shown: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(
        !shown["suppressed"].is_null(),
        "the complaint was attributed: {shown}"
    );
    for format in [&[][..], &["--markdown"][..]] {
        let output = run(fbl(dir.path())
            .args(config)
            .args(["report", "delist", "--ip", "192.0.2.25"])
            .args(format));
        assert_eq!(output.status.code(), Some(0));
        let packet = stdout(&output);
        assert!(packet.contains("Example headers"), "{packet}");
        for secret in ["victim", "person"] {
            assert!(
                !packet.to_ascii_lowercase().contains(secret),
                "{secret:?} is in the packet ({format:?}):\n{packet}"
            );
        }
        for kept in [
            "From: News <news@sender.example>",
            "Subject: [recipient], your November news",
            "Message-ID: <[redacted]@sender.example>",
            "Return-Path: <bounces+[redacted]=[redacted]@bounce.sender.example>",
            "Received: from mta1.sender.example (192.0.2.25) by mx.yahoo.example for <[recipient]>",
            "Authentication-Results: mx.yahoo.example; dkim=pass header.d=sender.example",
            "To: [recipient]\n",
            "X-Fbl-Rcpt: [redacted]",
            "List-Unsubscribe: <mailto:[redacted]@example.com>, <https://sender.example/[redacted]>",
        ] {
            assert!(
                packet.contains(kept),
                "packet lacks {kept:?} ({format:?}):\n{packet}"
            );
        }
    }
}

#[test]
fn a_bad_report_section_is_a_configuration_error() {
    for (section, message) in [
        (
            "[report]\nwarn_percent = 0.5\ncritical_percent = 0.3\n",
            "critical_percent (0.3) is below warn_percent (0.5)",
        ),
        (
            "[report]\nsending_ips = [\"192.0.2.0/33\"]\n",
            "sending_ips",
        ),
        ("[report]\ndays = 0\n", "days must be 1 to"),
        ("[report]\nwarn = 0.1\n", "unknown field"),
        (
            "[[report.output]]\nformat = \"pdf\"\npath = \"r.pdf\"\n",
            "unknown variant",
        ),
    ] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fbl.toml"), section).unwrap();
        let output = run(fbl(dir.path()).args(["--config", "fbl.toml", "report"]));
        assert_eq!(output.status.code(), Some(2), "{section}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(message), "{section}: {stderr}");
    }
}

/// The names in a folder, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// `fbl report -o` is checked as an export's output is: the store (its `-wal`, a link to
/// it), the configuration file are refused before the store is touched, and the store still
/// answers the same report after.
#[test]
fn a_report_output_never_overwrites_the_store_or_the_configuration() {
    let fixture = fixture_store("");
    let path = fixture.path();
    let report = || {
        let output = run(fixture.fbl().args(["report", "--format", "json"]));
        assert_eq!(output.status.code(), Some(0));
        stdout(&output)
    };
    let before_report = report();
    std::os::unix::fs::symlink("fbl.sqlite", path.join("store-link")).unwrap();
    let store = std::fs::read(path.join("fbl.sqlite")).unwrap();
    let config = std::fs::read(path.join("fbl.toml")).unwrap();
    let files = names_in(path);
    for (args, message) in [
        (
            vec!["report", "-o", "fbl.sqlite"],
            "--output fbl.sqlite is the store",
        ),
        (vec!["report", "-o", "./store-link"], "is the store"),
        (
            vec!["report", "--format", "html", "--output", "fbl.sqlite-wal"],
            "the store's -wal file",
        ),
        (
            vec!["report", "-o", "fbl.toml"],
            "--output fbl.toml is the configuration file",
        ),
        (
            vec!["report", "delist", "--ip", "192.0.2.10", "-o", "fbl.sqlite"],
            "is the store",
        ),
    ] {
        let output = run(fixture.fbl().args(&args));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            stderr.contains("an output never overwrites it; give another path"),
            "{args:?}: {stderr}"
        );
        assert_eq!(names_in(path), files, "{args:?} wrote something");
        assert_eq!(
            std::fs::read(path.join("fbl.sqlite")).unwrap(),
            store,
            "{args:?}"
        );
        assert_eq!(
            std::fs::read(path.join("fbl.toml")).unwrap(),
            config,
            "{args:?}"
        );
    }
    assert_eq!(report(), before_report, "the store answers as before");
}

/// `min_volume` is for every figure, not only an IP's day: with 5,000, 192.0.2.10's days
/// (2,000 messages each) are not judged, but its window (6,000), campaign spring (6,000) and
/// list weekly (10,500) are; the table and the HTML say so.
#[test]
fn min_volume_applies_to_window_campaign_and_list_totals_and_the_report_says_so() {
    let fixture = fixture_store("");
    let config = std::fs::read_to_string(fixture.path().join("fbl.toml")).unwrap();
    std::fs::write(
        fixture.path().join("fbl.toml"),
        config.replace("[report]\n", "[report]\nmin_volume = 5000\n"),
    )
    .unwrap();
    let report = report_json(&fixture, &[]);
    let days: Vec<&serde_json::Value> = report["ip_days"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["ip"] == "192.0.2.10")
        .collect();
    assert_eq!(days.len(), 3);
    assert!(days.iter().all(|d| d["level"] == "not_judged"), "{days:?}");
    let ip = find(&report["ips"], "ip", "192.0.2.10");
    assert_eq!(
        (ip["messages"].as_u64(), &ip["level"]),
        (Some(6000), &"warn".into())
    );
    let spring = find(&report["campaigns"], "subject", "spring");
    assert_eq!(spring["level"], "warn", "{spring}");
    let weekly = find(&report["lists"], "subject", "weekly");
    assert_eq!(weekly["level"], "warn", "{weekly}");

    let output = run(fixture.fbl().args(["report"]));
    assert!(
        stdout(&output).contains(
            "thresholds: warn 0.1%, critical 0.3%, judged over 5000 messages or more (a day, a \
             window's total, a campaign, a list, a domain); worst: warn"
        ),
        "{}",
        stdout(&output)
    );
    let output = run(fixture.fbl().args(["report", "--format", "html"]));
    let html = stdout(&output);
    assert!(
        html.contains("a rate is judged only over 5000 messages or more, whatever it covers"),
        "{html}"
    );
    assert!(!html.contains("messages a day"), "{html}");
}

/// `fbl report -o LINK`: the file the link leads to is replaced, in its own folder; the link
/// stays a link and no temporary file is left in either folder.
#[test]
fn a_report_output_that_is_a_link_replaces_the_file_it_leads_to() {
    let fixture = fixture_store("");
    let path = fixture.path();
    let expected = run(fixture.fbl().args(["report", "--format", "csv"]));
    assert_eq!(expected.status.code(), Some(0));
    let targets = path.join("targets");
    std::fs::create_dir(&targets).unwrap();
    std::fs::write(targets.join("report.csv"), "stale\n").unwrap();
    std::os::unix::fs::symlink("targets/report.csv", path.join("link.csv")).unwrap();
    std::os::unix::fs::symlink("link.csv", path.join("chain.csv")).unwrap();
    let before = names_in(path);

    for link in ["link.csv", "chain.csv"] {
        std::fs::write(targets.join("report.csv"), "stale\n").unwrap();
        let output = run(fixture
            .fbl()
            .args(["report", "--format", "csv", "-o", link]));
        assert_eq!(output.status.code(), Some(0), "{link}");
        assert_eq!(
            stdout(&output),
            "",
            "{link}: written to the file, not to stdout"
        );
        assert_eq!(
            std::fs::read(targets.join("report.csv")).unwrap(),
            expected.stdout,
            "{link}"
        );
        for name in ["link.csv", "chain.csv"] {
            assert!(
                std::fs::symlink_metadata(path.join(name))
                    .unwrap()
                    .file_type()
                    .is_symlink(),
                "{link}: {name} was replaced by a file"
            );
        }
        assert_eq!(names_in(path), before, "{link}");
        assert_eq!(names_in(&targets), ["report.csv"], "{link}");
    }
}

/// `fbl report -o /dev/stdout` (and `-o -`) with standard output redirected to a file with
/// `>>`: the report is appended to that file through the open descriptor; nothing is renamed
/// over it, and no file named `-` is made.
#[test]
fn a_report_to_dev_stdout_is_written_where_stdout_is_redirected() {
    let fixture = fixture_store("");
    let path = fixture.path();
    let expected = run(fixture.fbl().args(["report"]));
    assert_eq!(expected.status.code(), Some(0));
    let expected = stdout(&expected);
    let redirected = path.join("redirected.txt");
    std::fs::write(&redirected, "before\n").unwrap();
    let dev_stdout = Path::new("/dev/stdout");
    let link_before = std::fs::read_link(dev_stdout).ok();
    for target in ["/dev/stdout", "-"] {
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&redirected)
            .unwrap();
        let output = fixture
            .fbl()
            .args(["report", "-o", target])
            .stdout(std::process::Stdio::from(file))
            .output()
            .unwrap();
        // Tests run as root: had fbl renamed a file over /dev/stdout, put the link back
        // before failing, so that the machine keeps its /dev/stdout.
        if std::fs::read_link(dev_stdout).ok() != link_before {
            let _ = std::fs::remove_file(dev_stdout);
            if let Some(link) = &link_before {
                std::os::unix::fs::symlink(link, dev_stdout).unwrap();
            }
            panic!("-o {target} replaced /dev/stdout");
        }
        assert_eq!(
            output.status.code(),
            Some(0),
            "-o {target}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert_eq!(
        std::fs::read_to_string(&redirected).unwrap(),
        format!("before\n{expected}{expected}")
    );
    assert!(!path.join("-").exists(), "a file named - was made");
    assert!(
        !names_in(path).iter().any(|name| name.contains(".tmp")),
        "a temporary file was left"
    );
}

/// The files `fbl run` writes, `[[export]]` and `[[report.output]]` alike, are one set of
/// outputs: a report file that is an export's file, the store or the configuration is
/// refused before either is written.
#[test]
fn fbl_run_refuses_a_report_output_that_is_an_export_the_store_or_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(
        path.join("in.eml"),
        complaint(
            "192.0.2.10",
            "2026-11-19",
            "m1@sender.example",
            "r1@yahoo.com",
        ),
    )
    .unwrap();
    let export = "[[source]]\nname = \"reports\"\npath = \"in.eml\"\n\n\
                  [[export]]\nformat = \"plain\"\npath = \"out/list.txt\"\n\n";
    for (report_output, message) in [
        (
            "out/../out/list.txt",
            "[[report.output]] 1 path out/../out/list.txt is the same file as [[export]] 1 path \
             out/list.txt",
        ),
        (
            "fbl.toml",
            "[[report.output]] 1 path fbl.toml is the configuration file",
        ),
        (
            "fbl.sqlite",
            "[[report.output]] 1 path fbl.sqlite is the store",
        ),
    ] {
        std::fs::write(
            path.join("fbl.toml"),
            format!("{export}[[report.output]]\nformat = \"html\"\npath = \"{report_output}\"\n"),
        )
        .unwrap();
        let config = std::fs::read(path.join("fbl.toml")).unwrap();
        let output = run(fbl(path).args(["--config", "fbl.toml", "run"]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{report_output}: {stderr}");
        assert!(stderr.contains(message), "{report_output}: {stderr}");
        assert_eq!(
            names_in(path),
            ["fbl.toml", "in.eml"],
            "{report_output}: nothing written"
        );
        assert_eq!(std::fs::read(path.join("fbl.toml")).unwrap(), config);
    }

    // The store given by --db, which the configuration cannot know: refused by `fbl run`.
    std::fs::write(
        path.join("fbl.toml"),
        format!("{export}[[report.output]]\nformat = \"html\"\npath = \"other.sqlite\"\n"),
    )
    .unwrap();
    let output = run(fbl(path).args(["--config", "fbl.toml", "--db", "other.sqlite", "run"]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("[[report.output]] 1 path") && stderr.contains("is the store other.sqlite"),
        "{stderr}"
    );
    assert_eq!(names_in(path), ["fbl.toml", "in.eml"], "nothing written");
}

/// Golden files: each bounce fixture beside the sightings it holds, read with LF and CRLF.
#[test]
fn bounce_fixtures_give_their_expected_sightings() {
    let folder = fixtures().join("bounces");
    let mut cases = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    entries.sort();
    for path in entries {
        let raw = std::fs::read(&path).unwrap();
        let expected_path = path.with_extension("expected.json");
        let got = serde_json::to_string_pretty(&fbl::outlook_blocks::sightings_in_bounce(&raw))
            .unwrap()
            + "\n";
        if crate::support::updating_golden() {
            std::fs::write(&expected_path, &got).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{} is missing; run with FBL_UPDATE_GOLDEN=1",
                expected_path.display()
            )
        });
        if got != expected {
            std::fs::write(path.with_extension("actual.json"), &got).unwrap();
            panic!(
                "{}:\n{}",
                path.display(),
                crate::support::diff(&expected, &got)
            );
        }
        let crlf = serde_json::to_string_pretty(&fbl::outlook_blocks::sightings_in_bounce(
            &crate::support::to_crlf(&raw),
        ))
        .unwrap()
            + "\n";
        assert_eq!(crlf, expected, "{} with CRLF line ends", path.display());
        cases += 1;
    }
    assert!(cases >= 3, "only {cases} bounce fixtures ran");
}

/// A fixture store with SNDS data from `file:snds`: 3,000 recipients of 192.0.2.10 on the
/// 19th (the send log says 2,000), RED, 0.4 %, 5 trap hits; 1,000 of 192.0.2.12 on the
/// 19th, which the send log never names, and a Yahoo complaint about it; ipStatus as given.
fn snds_fixture(ip_status: &str) -> Fixture {
    let fixture = fixture_store(
        "\n[snds]\ntimezone = \"UTC\"\n\n[[snds.legacy]]\nname = \"t\"\nbase_url = \"file:snds\"\n",
    );
    let snds = fixture.path().join("snds");
    std::fs::create_dir(&snds).unwrap();
    std::fs::write(
        snds.join("data-111926.csv"),
        "192.0.2.10,11/19/2026 12:00 AM,11/19/2026 11:59 PM,3010,3005,3000,RED,0.4%,11/19/2026 6:12 PM,11/19/2026 8:40 PM,5,mta1.sender.example,,\r\n\
         192.0.2.12,11/19/2026 12:00 AM,11/19/2026 11:59 PM,1000,1000,1000,GREEN,< 0.1%,11/19/2026 6:12 PM,11/19/2026 8:40 PM,0,mta3.sender.example,,\r\n",
    )
    .unwrap();
    std::fs::write(snds.join("ipStatus.csv"), ip_status).unwrap();
    let output = run(fixture
        .fbl()
        .args(["snds", "fetch", "--date", "2026-11-19"]));
    assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
    let reports = fixture.path().join("more-reports");
    std::fs::create_dir(&reports).unwrap();
    std::fs::write(
        reports.join("12.eml"),
        complaint(
            "192.0.2.12",
            "2026-11-19",
            "m-12@sender.example",
            "t1@yahoo.com",
        ),
    )
    .unwrap();
    let output = run(fixture.fbl().args(["ingest", "more-reports"]));
    assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
    fixture
}

/// The HTML report said "Alerts: None in the last days of the window" right after `fbl run`
/// raised SNDS alerts (turned RED, trap hits, blocked): the section says what its list
/// covers, and shows what SNDS says in the same days.
#[test]
fn the_html_alerts_say_what_they_cover_and_show_snds_in_the_same_days() {
    let fixture = snds_fixture(
        "192.0.2.8,192.0.2.15,Yes,Blocked due to user complaints or other evidence of spamming\r\n",
    );
    let output = run(fixture
        .fbl()
        .args(["report", "--days", "7", "--format", "html"]));
    let html = stdout(&output);
    let start = html.find("<section id=\"alerts\">").unwrap();
    let alerts = &html[start..start + html[start..].find("</section>").unwrap()];
    assert!(!alerts.contains("None in the last days"), "{alerts}");
    for expected in [
        "Outlook.com blocks and throttling, from 2026-11-14 to 2026-11-20: 7 alerts",
        "SNDS's alerts (an IP turned YELLOW or RED, trap hits, a range blocked or unblocked) are told by <code>fbl run</code>",
        "<li>192.0.2.10: RED on 2026-11-19</li>",
        "<li>192.0.2.10: trap hits 5 on 2026-11-19</li>",
        "<li>192.0.2.8 – 192.0.2.15: blocked by Outlook.com since ",
    ] {
        assert!(alerts.contains(expected), "{expected} is missing: {alerts}");
    }
    let table = stdout(&run(fixture.fbl().args(["report", "--days", "7"])));
    assert!(
        table.contains("alerts, worst first (complaint rates and Outlook.com blocks, 2026-11-14 to 2026-11-20; SNDS's are told by fbl run)"),
        "{table}"
    );
}

#[test]
fn snds_volume_colour_band_trap_hits_and_ip_status_sit_beside_fbls_own_figures() {
    let fixture = snds_fixture(
        "192.0.2.8,192.0.2.15,Yes,Blocked due to user complaints or other evidence of spamming\r\n",
    );
    let report = report_json(&fixture, &["--days", "7"]);
    let day = report["ip_days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ip"] == "192.0.2.10" && d["day"] == "2026-11-19")
        .unwrap();
    // The send log's 2,000 messages (every recipient) rate all 9 complaints; SNDS's 3,000
    // Outlook.com recipients stand beside them.
    assert_eq!(day["messages"], 2000);
    assert_eq!(day["volume_source"], "send_log");
    assert_eq!(day["complaints"], 9);
    assert_eq!(day["rated_complaints"], 9);
    assert_eq!(day["level"], "critical");
    assert_eq!(day["snds"]["message_recipients"], 3000);
    assert_eq!(day["snds"]["filter_result"], "red");
    assert_eq!(day["snds"]["complaint_rate"], "0.4%");
    assert_eq!(day["snds"]["trap_hits"], 5);
    // The other days keep the send log's volume.
    let other = report["ip_days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ip"] == "192.0.2.10" && d["day"] == "2026-11-18")
        .unwrap();
    assert_eq!(other["volume_source"], "send_log");
    // Where the send log has nothing, SNDS's volume rates Microsoft's complaints alone: the
    // Yahoo complaint about 192.0.2.12 is counted, not rated (it was 1 in 1,000, warn); with
    // none rated, there is no rate to call ok.
    let snds_only = report["ip_days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["ip"] == "192.0.2.12" && d["day"] == "2026-11-19")
        .unwrap();
    assert_eq!(
        (
            &snds_only["complaints"],
            &snds_only["rated_complaints"],
            &snds_only["messages"],
            &snds_only["volume_source"],
            &snds_only["level"]
        ),
        (
            &serde_json::json!(1),
            &serde_json::json!(0),
            &serde_json::json!(1000),
            &serde_json::json!("snds"),
            &serde_json::json!("not_judged")
        )
    );
    let ip12 = find(&report["ips"], "ip", "192.0.2.12");
    assert_eq!(
        (&ip12["complaints"], &ip12["rated_complaints"]),
        (&serde_json::json!(1), &serde_json::json!(0))
    );
    let csv = stdout(&run(fixture
        .fbl()
        .args(["report", "--days", "7", "--format", "csv"])));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(&reader.headers().unwrap()[13], "rated_complaints");
    let row = reader
        .records()
        .map(Result::unwrap)
        .find(|r| &r[0] == "ip_day" && &r[1] == "192.0.2.12")
        .unwrap();
    assert_eq!(
        (&row[3], &row[4], &row[5], &row[13]),
        ("1", "1000", "snds", "0")
    );
    let table = stdout(&run(fixture.fbl().args(["report", "--days", "7"])));
    let line = table
        .lines()
        .find(|l| l.trim_start().starts_with("192.0.2.12"))
        .unwrap();
    assert!(line.contains("1 (0 rated)"), "{table}");
    assert!(table.contains("Microsoft's complaints alone"), "{table}");
    let ip = find(&report["ips"], "ip", "192.0.2.10");
    assert_eq!(ip["snds_filter_result"], "red");
    assert_eq!(ip["trap_hits"], 5);
    assert_eq!(ip["snds_blocked"], true);
    assert_eq!(report["snds"]["available"], true);
    assert_eq!(report["snds"]["trap_hits"], 5);
    assert_eq!(report["snds"]["ip_status"][0]["first_ip"], "192.0.2.8");
    // IPs of the report in SNDS's blocked range count as blocked.
    assert_eq!(report["overview"]["ips_blocked"], 3);
    // Microsoft's daily volume would be SNDS's; Yahoo's stays the send log's.
    let validator = schema("report-output.schema.json");
    assert_eq!(schema_errors(&validator, &report), Vec::<String>::new());

    let prometheus = stdout(&run(fixture.fbl().args([
        "report",
        "--days",
        "7",
        "--format",
        "prometheus",
    ])));
    check_prometheus(&prometheus);
    assert!(
        prometheus.contains("fbl_snds_filter_result{ip=\"192.0.2.10\"} 2\n"),
        "{prometheus}"
    );
    assert!(
        prometheus.contains("fbl_snds_trap_hits{ip=\"192.0.2.10\"} 5\n"),
        "{prometheus}"
    );
    assert!(
        prometheus.contains("fbl_snds_ip_status_blocked{first_ip=\"192.0.2.8\""),
        "{prometheus}"
    );
    assert!(
        prometheus.contains("fbl_ip_rated_complaints{ip=\"192.0.2.12\"} 0\n"),
        "{prometheus}"
    );
    assert!(
        prometheus.contains("fbl_ip_latest_day_rated_complaints{ip=\"192.0.2.12\"} 0\n"),
        "{prometheus}"
    );

    let packet = stdout(&run(fixture.fbl().args([
        "report",
        "delist",
        "--ip",
        "192.0.2.10",
    ])));
    assert!(packet.contains("SNDS ipStatus: blocked since"), "{packet}");
    assert!(
        packet.contains("2026-11-19  3000        red            0.4%            5"),
        "{packet}"
    );
}

/// An IP SNDS ipStatus lists as blocked is an Outlook.com block: counted as blocked, and
/// critical (its level, the overview's count of critical IPs, `worst_level`, `--fail-on`),
/// whatever the rates say. A RED day is shown
/// beside fbl's figure and judges nothing.
#[test]
fn an_snds_block_counts_as_critical_and_a_red_day_does_not() {
    let lenient = |fixture: &Fixture| {
        let config = fixture.path().join("fbl.toml");
        let text = std::fs::read_to_string(&config).unwrap().replace(
            "[report]\n",
            "[report]\nwarn_percent = 50\ncritical_percent = 90\n",
        );
        std::fs::write(config, text).unwrap();
    };
    let status = |fixture: &Fixture, level: &str| {
        run(fixture
            .fbl()
            .args(["report", "--days", "7", "--fail-on", level]))
        .status
        .code()
    };

    // Blocked: only 192.0.2.10's range.
    let blocked = snds_fixture(
        "192.0.2.10,192.0.2.10,Yes,Blocked due to user complaints or other evidence of spamming\r\n",
    );
    lenient(&blocked);
    let report = report_json(&blocked, &["--days", "7"]);
    // No rate is critical, but the blocked IP is, and counted so beside the worst level.
    let ip = find(&report["ips"], "ip", "192.0.2.10");
    assert_eq!(ip["level"], "critical");
    assert_ne!(ip["rate_level"], "critical");
    // The CSV says both too: the IP's level, and its rate's own in `rate_level`.
    let csv = stdout(&run(blocked
        .fbl()
        .args(["report", "--days", "7", "--format", "csv"])));
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(&reader.headers().unwrap()[14], "rate_level");
    let row = reader
        .records()
        .map(Result::unwrap)
        .find(|r| &r[0] == "ip" && &r[1] == "192.0.2.10")
        .unwrap();
    assert_eq!(&row[7], "critical");
    assert_eq!(&row[14], ip["rate_level"].as_str().unwrap(), "{row:?}");
    assert_eq!(report["overview"]["ips_critical"], 1);
    assert_eq!(report["overview"]["ips_blocked"], 1);
    assert_eq!(report["overview"]["worst_level"], "critical");
    assert_eq!(status(&blocked, "critical"), Some(1));
    let table = stdout(&run(blocked.fbl().args(["report", "--days", "7"])));
    assert!(table.contains("Outlook.com: 1 blocked"), "{table}");
    assert!(table.contains("worst: critical"), "{table}");
    assert!(table.contains("(1 critical, "), "{table}");

    // Listed but not blocked, and RED on the 19th: information only.
    let red = snds_fixture("192.0.2.10,192.0.2.10,No,Junked due to user complaints\r\n");
    lenient(&red);
    let report = report_json(&red, &["--days", "7"]);
    assert_eq!(report["snds"]["ips_red"], 1);
    assert_eq!(report["overview"]["ips_blocked"], 0);
    assert_eq!(report["overview"]["worst_level"], "ok");
    assert_eq!(status(&red, "warn"), Some(0));
}

/// A reporter's window: the messages of every day with a known volume, those without a
/// complaint from it too.
#[test]
fn a_reporters_window_counts_its_days_without_complaints() {
    let fixture = fixture_store("");
    let report = report_json(&fixture, &["--days", "7"]);
    let yahoo = find(&report["reporters"], "subject", "yahoo").clone();
    assert_eq!(yahoo["messages"], 3000);
    // 500 more messages to yahoo.com on the 16th, a day with no complaint.
    let mut sends = String::from("message_id,recipient,campaign,list,source_ip,sent_at\n");
    for i in 0..500 {
        sends.push_str(&format!(
            "q-{i}@sender.example,q{i}@yahoo.com,autumn,weekly,192.0.2.10,2026-11-16T09:00:00Z\n"
        ));
    }
    std::fs::write(fixture.path().join("quiet.csv"), sends).unwrap();
    let output = run(fixture
        .fbl()
        .args(["sendlog", "import", "quiet.csv", "--format", "csv"]));
    assert_eq!(output.status.code(), Some(0));
    let report = report_json(&fixture, &["--days", "7"]);
    let after = find(&report["reporters"], "subject", "yahoo");
    assert_eq!(after["messages"], 3500, "{after}");
    assert_eq!(after["complaints"], yahoo["complaints"]);
    assert_eq!(after["rated_complaints"], yahoo["complaints"]);
    let expected = yahoo["complaints"].as_f64().unwrap() * 100.0 / 3500.0;
    assert!((after["rate_percent"].as_f64().unwrap() - expected).abs() < 1e-9);
}

#[test]
fn the_demo_writes_a_report_with_its_outlook_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    crate::support::copy_tree(&fixtures().join("demo"), &demo);
    crate::support::empty_demo_exports(&demo);
    let _ = std::fs::remove_file(demo.join("fbl.sqlite"));
    let output = run(fbl(dir.path()).args(["run", "--config", "demo/fbl.toml", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["report"]["block_events_found"], 2);
    assert_eq!(summary["report"]["written"].as_array().unwrap().len(), 2);
    let html = std::fs::read_to_string(demo.join("exports/report.html")).unwrap();
    assert!(html.contains("S3140") && html.contains("RP-001"));
    let prom = std::fs::read_to_string(demo.join("exports/fbl.prom")).unwrap();
    check_prometheus(&prom);
    assert!(
        prom.contains("fbl_outlook_blocked{ip=\"192.0.2.25\",class=\"block\",code=\"S3140\"} 1"),
        "{prom}"
    );
}

/// The summaries behind a report follow the store: a complaint placed in a campaign once the
/// send log names its message, reattribution, and volumes counted again after a prune.
#[test]
fn report_summaries_follow_later_send_logs_and_prunes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let config = |retention: u32| {
        std::fs::write(
            path.join("fbl.toml"),
            format!("[send_log]\nretention_days = {retention}\n"),
        )
        .unwrap()
    };
    config(5000);
    std::fs::create_dir(path.join("reports")).unwrap();
    std::fs::write(
        path.join("reports/late.eml"),
        complaint("192.0.2.10", "2026-11-19", "late-1@sender.example", ""),
    )
    .unwrap();
    run(fbl(path).args(["--config", "fbl.toml", "ingest", "reports"]));
    let json = |path: &Path| -> serde_json::Value {
        let output = run(fbl(path).args([
            "--config", "fbl.toml", "report", "--format", "json", "--days", "30",
        ]));
        serde_json::from_str(&stdout(&output)).unwrap()
    };
    let report = json(path);
    assert_eq!(report["complaints_without_campaign"], 1);
    assert_eq!(report["unattributed"]["complaints"], 1);

    let mut sends = String::from("message_id,recipient,campaign,list,source_ip,sent_at\n");
    sends.push_str(
        "late-1@sender.example,late@example.org,autumn,monthly,192.0.2.10,2026-11-18T09:00:00Z\n",
    );
    for i in 0..5 {
        sends.push_str(&format!("old-{i}@sender.example,o{i}@example.org,autumn,monthly,192.0.2.10,2026-11-01T09:00:00Z\n"));
    }
    std::fs::write(path.join("sends.csv"), sends).unwrap();
    run(fbl(path).args([
        "--config",
        "fbl.toml",
        "sendlog",
        "import",
        "sends.csv",
        "--format",
        "csv",
    ]));
    let report = json(path);
    assert_eq!(report["complaints_without_campaign"], 0);
    let autumn = find(&report["campaigns"], "subject", "autumn");
    assert_eq!(
        (autumn["complaints"].as_u64(), autumn["messages"].as_u64()),
        (Some(1), Some(6))
    );
    // The import attributed the complaint through the send log: its domain is known now.
    assert_eq!(report["unattributed"]["complaints"], 0);
    assert_eq!(
        find(&report["recipient_domains"], "subject", "example.org")["complaints"],
        1
    );
    let old_day = |report: &serde_json::Value| {
        report["ip_days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["day"] == "2026-11-01")
            .map(|d| d["messages"].clone())
    };
    assert_eq!(old_day(&report), Some(serde_json::json!(5)));

    // A run with a ten-day retention prunes the 1 November sends: their volume goes too.
    config(10);
    run(fbl(path).args(["--config", "fbl.toml", "run"]));
    let report = json(path);
    assert_eq!(old_day(&report), None);
    assert_eq!(
        find(&report["campaigns"], "subject", "autumn")["messages"],
        1
    );
}

/// The complainant the report itself names (`Original-Rcpt-To`) is removed from the example
/// headers even where nothing in them marks it: an unconfigured VERP form in Return-Path,
/// the local part in the Subject, with no To at all.
#[test]
fn the_delisting_packet_removes_the_complainant_its_report_names() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n",
    )
    .unwrap();
    let report = delist_complaint(
        "Original-Rcpt-To: quiet.reader@example.net\n",
        "Return-Path: <b-quiet.reader=example.net@bounce.sender.example>\n\
         From: News <news@sender.example>\n\
         Subject: News for quiet.reader\n\
         Date: Thu, 19 Nov 2026 10:59:00 +0000\n\
         Message-ID: <n1@sender.example>\n\
",
    );
    std::fs::write(dir.path().join("r.eml"), report).unwrap();
    let config = ["--config", "fbl.toml"];
    let output = run(fbl(dir.path()).args(config).args(["ingest", "r.eml"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(dir.path())
        .args(config)
        .args(["report", "delist", "--ip", "192.0.2.25"]));
    assert_eq!(output.status.code(), Some(0));
    let packet = stdout(&output);
    assert!(packet.contains("Example headers"), "{packet}");
    assert!(
        !packet.contains("quiet.reader"),
        "the complainant is in the packet:\n{packet}"
    );
    assert!(
        packet.contains("From: News <news@sender.example>"),
        "{packet}"
    );
}

/// A Yahoo complaint about 192.0.2.25 with `feedback` added to its feedback-report fields and
/// `attached` as the reported message's headers.
fn delist_complaint(feedback: &str, attached: &str) -> String {
    format!(
        "From: feedback@arf.mail.yahoo.com\n\
         To: fbl@sender.example\n\
         Date: Thu, 19 Nov 2026 12:00:00 +0000\n\
         Subject: FW: report\n\
         MIME-Version: 1.0\n\
         Content-Type: multipart/report; report-type=feedback-report; boundary=\"b\"\n\
         \n\
         --b\n\
         Content-Type: text/plain\n\
         \n\
         A complaint.\n\
         --b\n\
         Content-Type: message/feedback-report\n\
         \n\
         Feedback-Type: abuse\n\
         User-Agent: Yahoo!-Mail-Feedback/2.0\n\
         Version: 1\n\
         Source-IP: 192.0.2.25\n\
         {feedback}\
         \n\
         --b\n\
         Content-Type: text/rfc822-headers\n\
         \n\
         {attached}\
         \n\
         --b--\n"
    )
}

/// An Outlook.com block that goes on for months is one episode: alerted once, with the day
/// it began, however far the report's window has moved on since.
#[test]
fn a_long_block_episode_is_alerted_once_with_its_true_start() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fbl.toml"),
        "[send_log]\nretention_days = 5000\n",
    )
    .unwrap();
    let mut log = String::new();
    let mut day = chrono::NaiveDate::from_ymd_opt(2026, 7, 1).unwrap();
    let last = chrono::NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let mut queue = 0;
    while day <= last {
        queue += 1;
        log.push_str(&format!(
            "{} 09:16:00 mta1 postfix/smtp[9]: 4A{queue:04X}: to=<amy@outlook.example>, relay=outlook.example[192.0.2.77]:25, delay=1, dsn=5.7.1, status=bounced (host outlook.example[192.0.2.77] said: 550 5.7.1 Unfortunately, messages from [203.0.113.7] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). (in reply to RCPT TO command))\n",
            day.format("%b %e")
        ));
        day += chrono::Duration::days(2);
    }
    std::fs::write(dir.path().join("mail.log"), log).unwrap();
    let output = run(fbl(dir.path())
        .args([
            "--config", "fbl.toml", "sendlog", "import", "--format", "postfix", "mail.log",
        ])
        .env("FBL_NOW", "2026-11-21T08:00:00Z"));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let alerts = |now: &str| -> Vec<String> {
        let output = run(fbl(dir.path())
            .args(["--config", "fbl.toml", "run", "--json"])
            .env("FBL_NOW", now));
        let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        summary["report"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["message"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = alerts("2026-11-21T09:00:00Z");
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].contains("since 2026-07-01"), "{first:?}");
    for now in [
        "2026-11-21T10:00:00Z",
        "2026-11-23T09:00:00Z",
        "2026-11-26T09:00:00Z",
    ] {
        assert_eq!(alerts(now), Vec::<String>::new(), "{now}");
    }
}

/// A campaign, sent once, is rated over all its complaints and messages, shown when it drew
/// a complaint in the window; a list, mailed on and on, over the complaints reported and the
/// messages sent in the window (its messages were all-time against windowed complaints).
#[test]
fn a_campaign_is_rated_over_all_of_it_and_a_list_over_the_window() {
    let fixture = fixture_store("");
    let report = report_json(&fixture, &["--days", "2"]);
    assert_eq!(report["window"]["from_day"], "2026-11-19");
    let spring = find(&report["campaigns"], "subject", "spring");
    assert_eq!(
        (&spring["complaints"], &spring["messages"]),
        (&12.into(), &6000.into())
    );
    let weekly = find(&report["lists"], "subject", "weekly");
    assert_eq!(
        (&weekly["complaints"], &weekly["messages"]),
        (&9.into(), &3500.into()),
        "{weekly}"
    );
}

/// SNDS names a window by the day it starts on, but a window from 4 PM to 4 PM Pacific is
/// the next UTC day's mail: the report puts its figures beside that day, where the send log's
/// messages and the complaints about them are.
#[test]
fn snds_figures_sit_beside_the_utc_day_their_window_covers() {
    let fixture = fixture_store(
        "\n[snds]\ntimezone = \"America/Los_Angeles\"\n\n[[snds.legacy]]\nname = \"t\"\nbase_url = \"file:snds\"\n",
    );
    let snds = fixture.path().join("snds");
    std::fs::create_dir(&snds).unwrap();
    std::fs::write(
        snds.join("data-111826.csv"),
        "192.0.2.10,11/18/2026 4:00 PM,11/19/2026 4:00 PM,3010,3005,3000,RED,0.4%,,,5,mta1.sender.example,,\r\n",
    )
    .unwrap();
    std::fs::write(snds.join("ipStatus.csv"), "").unwrap();
    let output = run(fixture
        .fbl()
        .args(["snds", "fetch", "--date", "2026-11-18"]));
    assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
    let report = report_json(&fixture, &["--days", "7"]);
    let day = |d: &str| {
        report["ip_days"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["ip"] == "192.0.2.10" && row["day"] == d)
            .unwrap()
            .clone()
    };
    assert_eq!(day("2026-11-19")["snds"]["message_recipients"], 3000);
    assert!(day("2026-11-18")["snds"].is_null());
}

/// One Outlook.com rejection that the sender's Postfix logs and whose DSN reaches the
/// feedback mailbox is one block sighting, whichever fbl reads first; a second rejection of
/// the same recipient hours later is one of its own.
#[test]
fn a_rejection_both_logged_and_bounced_back_counts_once() {
    let refused = "550 5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.example/mail/troubleshooting.aspx#errors.";
    let log = format!(
        "2026-11-18T09:15:01.772+00:00 mta1 postfix/smtp[9]: 4Nx7Qm2bTkz9sLd: to=<zoe.miller@outlook.example>, relay=outlook-example.olc.protection.outlook.example[192.0.2.77]:25, delay=1, dsn=5.7.1, status=bounced (host outlook-example.olc.protection.outlook.example[192.0.2.77] said: {refused} (in reply to MAIL FROM command))\n\
         2026-11-18T12:40:00+00:00 mta1 postfix/smtp[9]: 4Nx8AAAAAAz9sLd: to=<zoe.miller@outlook.example>, relay=outlook-example.olc.protection.outlook.example[192.0.2.77]:25, delay=1, dsn=5.7.1, status=bounced (host outlook-example.olc.protection.outlook.example[192.0.2.77] said: {refused} (in reply to MAIL FROM command))\n"
    );
    let mut reports = Vec::new();
    for log_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        std::fs::write(
            path.join("fbl.toml"),
            "[store]\npath = \"fbl.sqlite\"\n\n[send_log]\nretention_days = 5000\n",
        )
        .unwrap();
        std::fs::write(path.join("mail.log"), &log).unwrap();
        std::fs::create_dir(path.join("bounces")).unwrap();
        std::fs::copy(
            fixtures().join("bounces/outlook-s3140-postfix-dsn.eml"),
            path.join("bounces/dsn.eml"),
        )
        .unwrap();
        let now = "2026-11-18T18:00:00Z";
        let import = || {
            let output = run(fbl(path)
                .args([
                    "--config", "fbl.toml", "sendlog", "import", "--format", "postfix", "mail.log",
                ])
                .env("FBL_NOW", now));
            assert_ne!(output.status.code(), Some(2), "{}", stdout(&output));
        };
        let ingest = || {
            let output = run(fbl(path)
                .args(["--config", "fbl.toml", "ingest", "bounces"])
                .env("FBL_NOW", now));
            assert_ne!(output.status.code(), Some(2), "{}", stdout(&output));
            // The report scans the new bounce for blocks.
            let output = run(fbl(path)
                .args(["--config", "fbl.toml", "report", "--format", "json"])
                .env("FBL_NOW", now));
            assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
        };
        if log_first {
            import();
            ingest();
        } else {
            ingest();
            import();
        }
        let output = run(fbl(path)
            .args(["--config", "fbl.toml", "report", "--format", "json"])
            .env("FBL_NOW", now));
        assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
        let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        let blocks = report["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), 1, "log first: {log_first}: {blocks:?}");
        assert_eq!(blocks[0]["ip"], "203.0.113.5");
        assert_eq!(
            blocks[0]["sightings"], 2,
            "log first: {log_first}: {blocks:?}"
        );
        assert_eq!(blocks[0]["first_seen"], "2026-11-18T09:15:00Z");
        // Both sightings stay in the store, the bounce's as evidence.
        let stored: i64 = rusqlite::Connection::open(path.join("fbl.sqlite"))
            .unwrap()
            .query_row("SELECT count(*) FROM block_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 3);
        reports.push(blocks.clone());
    }
    assert_eq!(reports[0], reports[1], "the same report in either order");
}

/// `block_events_found` counted a rejection whose DSN was stored already as new when the
/// send log then showed it (and `fbl run` the DSN of a logged one), while the report counts
/// the pair once. It now counts the rejections that are new: of the log's two, one is the
/// bounced one.
#[test]
fn block_events_found_counts_a_rejection_seen_in_a_bounce_and_the_log_once() {
    let refused = "550 5.7.1 Unfortunately, messages from [203.0.113.5] weren't sent. Please contact your Internet service provider since part of their network is on our block list (S3140). You can also refer your provider to http://mail.live.example/mail/troubleshooting.aspx#errors.";
    let log = format!(
        "2026-11-18T09:15:01.772+00:00 mta1 postfix/smtp[9]: 4Nx7Qm2bTkz9sLd: to=<zoe.miller@outlook.example>, relay=outlook-example.olc.protection.outlook.example[192.0.2.77]:25, delay=1, dsn=5.7.1, status=bounced (host outlook-example.olc.protection.outlook.example[192.0.2.77] said: {refused} (in reply to MAIL FROM command))\n\
         2026-11-18T12:40:00+00:00 mta1 postfix/smtp[9]: 4Nx8AAAAAAz9sLd: to=<zoe.miller@outlook.example>, relay=outlook-example.olc.protection.outlook.example[192.0.2.77]:25, delay=1, dsn=5.7.1, status=bounced (host outlook-example.olc.protection.outlook.example[192.0.2.77] said: {refused} (in reply to MAIL FROM command))\n"
    );
    let now = "2026-11-18T18:00:00Z";
    for log_first in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        std::fs::write(
            path.join("fbl.toml"),
            "[store]\npath = \"fbl.sqlite\"\n\n[send_log]\nretention_days = 5000\n",
        )
        .unwrap();
        std::fs::write(path.join("mail.log"), &log).unwrap();
        std::fs::create_dir(path.join("bounces")).unwrap();
        std::fs::copy(
            fixtures().join("bounces/outlook-s3140-postfix-dsn.eml"),
            path.join("bounces/dsn.eml"),
        )
        .unwrap();
        let fbl_at = |args: &[&str]| {
            let output = run(fbl(path)
                .args(["--config", "fbl.toml"])
                .args(args)
                .env("FBL_NOW", now));
            assert_ne!(output.status.code(), Some(2), "{}", stdout(&output));
            output
        };
        let import = || {
            let output = fbl_at(&[
                "sendlog", "import", "--format", "postfix", "--json", "mail.log",
            ]);
            let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
            summary["block_events_found"].as_u64().unwrap()
        };
        if log_first {
            assert_eq!(import(), 2, "both logged rejections are new");
            fbl_at(&["ingest", "bounces"]);
            // The run scans the new bounce: the DSN of a rejection the log showed.
            let output = fbl_at(&["run", "--json"]);
            let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
            assert_eq!(summary["report"]["block_events_found"], 0, "{summary:#}");
        } else {
            fbl_at(&["ingest", "bounces"]);
            let output = fbl_at(&["run", "--json"]);
            let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
            assert_eq!(summary["report"]["block_events_found"], 1, "{summary:#}");
            // The 09:15 rejection is the bounced one; said in the singular.
            let output = fbl_at(&["sendlog", "import", "--format", "postfix", "mail.log"]);
            assert!(
                stdout(&output).contains(
                    "\n1 new Outlook.com block or throttling event in delivery statuses (see"
                ),
                "{}",
                stdout(&output)
            );
        }
        // Both sightings of the bounced rejection stay in the store, as before.
        let stored: i64 = rusqlite::Connection::open(path.join("fbl.sqlite"))
            .unwrap()
            .query_row("SELECT count(*) FROM block_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(stored, 3, "log first: {log_first}");
    }
}

/// 5,000 messages from 192.0.2.50 on 10 November and nothing after; 20 Yahoo complaints
/// about them, reported on the 11th (12) and the 12th (8), each placed by the send log.
/// `fbl report` showed `20 (0 rated) 5000 0.000% ok`: the complaints were rated against the
/// days they were reported, which have no messages. Placed, they are rated against the day
/// their message was sent.
fn late_complaints_store() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(
        path.join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n[send_log]\nretention_days = 5000\n\n\
         [report]\nsending_ips = [\"192.0.2.0/24\"]\n",
    )
    .unwrap();
    let mut sends = String::from("message_id,recipient,campaign,list,source_ip,sent_at\n");
    for i in 0..5000 {
        sends.push_str(&format!(
            "late-{i}@sender.example,y{i}@yahoo.com,late,news,192.0.2.50,2026-11-10T09:00:00Z\n"
        ));
    }
    std::fs::write(path.join("sends.csv"), sends).unwrap();
    let reports = path.join("reports");
    std::fs::create_dir(&reports).unwrap();
    for i in 0..20 {
        let day = if i < 12 { "2026-11-11" } else { "2026-11-12" };
        std::fs::write(
            reports.join(format!("{i:03}.eml")),
            complaint(
                "192.0.2.50",
                day,
                &format!("late-{i}@sender.example"),
                &format!("y{i}@yahoo.com"),
            ),
        )
        .unwrap();
    }
    let output = run(fbl(path).args([
        "--config",
        "fbl.toml",
        "sendlog",
        "import",
        "sends.csv",
        "--format",
        "csv",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(path).args(["--config", "fbl.toml", "ingest", "reports"]));
    assert_eq!(output.status.code(), Some(0));
    Fixture { dir }
}

#[test]
fn complaints_reported_after_their_send_day_are_rated_against_it() {
    let fixture = late_complaints_store();
    let check = |report: &serde_json::Value| {
        let ip = find(&report["ips"], "ip", "192.0.2.50");
        assert_eq!(
            (&ip["complaints"], &ip["rated_complaints"], &ip["messages"]),
            (&20.into(), &20.into(), &5000.into()),
            "{ip:#}"
        );
        assert_eq!(ip["level"], "critical", "{ip:#}");
        assert_eq!(ip["worst_day"], "2026-11-10", "{ip:#}");
        let days: Vec<&serde_json::Value> = report["ip_days"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["ip"] == "192.0.2.50")
            .collect();
        assert_eq!(days.len(), 1, "{days:#?}");
        assert_eq!(days[0]["day"], "2026-11-10");
        assert_eq!(days[0]["rated_complaints"], 20);
        assert_eq!(days[0]["level"], "critical");
        let yahoo = find(&report["reporters"], "subject", "yahoo");
        assert_eq!(
            (
                &yahoo["rated_complaints"],
                &yahoo["messages"],
                &yahoo["level"]
            ),
            (&20.into(), &5000.into(), &"critical".into()),
            "{yahoo:#}"
        );
        // Campaign, list, IP and reporter agree.
        let campaign = find(&report["campaigns"], "subject", "late");
        assert_eq!(campaign["rate_percent"], ip["rate_percent"]);
    };
    let mut report = fixture.fbl();
    report
        .env("FBL_NOW", "2026-11-13T08:00:00Z")
        .args(["report", "--format", "json", "--days", "7"]);
    let output = run(&mut report);
    assert_eq!(output.status.code(), Some(0));
    check(&serde_json::from_str(&stdout(&output)).unwrap());

    // `fbl run` alerts the IP's day.
    let output = run(fixture
        .fbl()
        .env("FBL_NOW", "2026-11-13T08:00:00Z")
        .args(["run", "--json"]));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let alerts = &summary["report"]["alerts"];
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == "ip 192.0.2.50"
                && a["event"] == "2026-11-10"
                && a["level"] == "critical"),
        "{alerts:#}"
    );
}

/// The fixture's complaints were reported on 17 to 19 November; a first `fbl run` on the
/// 30th, more than seven days later, raised no alert for campaign spring (critical over all
/// it drew) and list weekly, while `fbl report` listed both under its alerts: the run's
/// window went by the day a complaint was reported. A backlog is alerted once, by the run
/// that first sees it.
#[test]
fn a_backlog_reported_more_than_a_week_ago_is_alerted_once_as_the_report_lists_it() {
    let fixture = fixture_store("");
    let at = "2026-11-30T08:00:00Z";
    let output = run(fixture
        .fbl()
        .env("FBL_NOW", at)
        .args(["report", "--format", "json", "--days", "14"]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let key = |a: &serde_json::Value| {
        format!(
            "{}_{} {} {}",
            a["kind"].as_str().unwrap(),
            a["level"].as_str().unwrap(),
            a["subject"].as_str().unwrap(),
            a["event"].as_str().unwrap()
        )
    };
    let listed: Vec<String> = report["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    assert!(
        listed.iter().any(|k| k.contains("campaign spring"))
            && listed.iter().any(|k| k.contains("list weekly")),
        "{listed:#?}"
    );

    let output = run(fixture.fbl().env("FBL_NOW", at).args(["run", "--json"]));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let raised: Vec<String> = summary["report"]["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(key)
        .collect();
    for alert in &listed {
        assert!(raised.contains(alert), "{alert} not raised: {raised:#?}");
    }

    // Raised once: the next run, and one a day later, raise nothing.
    for at in [at, "2026-12-01T08:00:00Z"] {
        let output = run(fixture.fbl().env("FBL_NOW", at).args(["run", "--json"]));
        let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        assert_eq!(summary["report"]["alerts"], serde_json::json!([]), "{at}");
        assert_eq!(output.status.code(), Some(0));
    }
}

/// The demo's SNDS ipStatus lists 198.51.100.0-198.51.100.15 as blocked; its SNDS figures
/// come a day or two late, so a one-day window holds no row of those IPs. `--days 1` printed
/// the range as blocked yet said `worst: not_judged`, 0 blocked, exited 0 with `--fail-on
/// warn`, and Prometheus wrote a worst level of -1.
#[test]
fn a_short_window_counts_an_ip_snds_lists_as_blocked_at_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    crate::support::copy_tree(&fixtures().join("demo"), &demo);
    let _ = std::fs::remove_dir_all(demo.join("exports"));
    let _ = std::fs::remove_file(demo.join("fbl.sqlite"));
    run(fbl(dir.path()).args(["run", "--config", "demo/fbl.toml"]));
    let report = |format: &str| {
        run(fbl(dir.path())
            .env("FBL_NOW", "2026-11-20T12:00:00Z")
            .args(["report", "--config", "demo/fbl.toml", "--days", "1"])
            .args(["--fail-on", "warn", "--format", format]))
    };
    let output = report("json");
    assert_eq!(output.status.code(), Some(1), "--fail-on warn");
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(json["overview"]["worst_level"], "critical", "{json:#}");
    assert!(json["overview"]["ips_blocked"].as_u64().unwrap() >= 1);
    let blocked = find(&json["ips"], "ip", "198.51.100.7");
    assert_eq!(
        (&blocked["snds_blocked"], &blocked["level"]),
        (&true.into(), &"critical".into())
    );
    let validator = schema("report-output.schema.json");
    assert_eq!(schema_errors(&validator, &json), Vec::<String>::new());
    let prom = stdout(&report("prometheus"));
    assert!(prom.contains("fbl_report_worst_level 2"), "{prom}");
    check_prometheus(&prom);
    let table = stdout(&report("table"));
    assert!(table.contains("worst: critical"), "{table}");
    assert_eq!(report("csv").status.code(), Some(1));
}

/// Two SNDS accounts over the same IPs (a legacy key beside another) list one ipStatus
/// range, one as blocked and one not: Prometheus wrote the series
/// `fbl_snds_ip_status_blocked{first_ip,last_ip,details}` twice, 1 and 0, which
/// node_exporter rejects, and the table listed the range both ways.
#[test]
fn a_range_two_snds_accounts_list_differently_is_one_series_blocked() {
    let fixture = fixture_store(
        "\n[snds]\ntimezone = \"UTC\"\n\n\
         [[snds.legacy]]\nname = \"old\"\nbase_url = \"file:snds-old\"\n\n\
         [[snds.legacy]]\nname = \"new\"\nbase_url = \"file:snds-new\"\n",
    );
    for (folder, blocked) in [("snds-old", "No"), ("snds-new", "Yes")] {
        let snds = fixture.path().join(folder);
        std::fs::create_dir(&snds).unwrap();
        std::fs::write(
            snds.join("data-111926.csv"),
            "192.0.2.10,11/19/2026 12:00 AM,11/19/2026 11:59 PM,3010,3005,3000,GREEN,< 0.1%,11/19/2026 6:12 PM,11/19/2026 8:40 PM,0,mta1.sender.example,,\r\n",
        )
        .unwrap();
        std::fs::write(
            snds.join("ipStatus.csv"),
            format!("192.0.2.8,192.0.2.15,{blocked},Blocked due to user complaints or other evidence of spamming\r\n"),
        )
        .unwrap();
    }
    let output = run(fixture
        .fbl()
        .args(["snds", "fetch", "--date", "2026-11-19"]));
    assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
    let prom = stdout(&run(fixture.fbl().args([
        "report",
        "--days",
        "7",
        "--format",
        "prometheus",
    ])));
    check_prometheus(&prom);
    let series: Vec<&str> = prom
        .lines()
        .filter(|l| l.starts_with("fbl_snds_ip_status_blocked{"))
        .collect();
    assert_eq!(series.len(), 1, "{prom}");
    assert!(series[0].ends_with(" 1"), "{prom}");
    let json = report_json(&fixture, &["--days", "7"]);
    let listed = json["snds"]["ip_status"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["blocked"], true);
}

/// The delisting packet rated complaints by the day they were reported: the twenty late
/// complaints of 11 and 12 November showed against days with no messages, while `fbl report`
/// rates them against the 5,000 messages of the 10th. The packet now agrees with the report.
#[test]
fn the_delisting_packet_rates_late_complaints_against_their_send_day_as_the_report_does() {
    let fixture = late_complaints_store();
    let output = run(fixture.fbl().env("FBL_NOW", "2026-11-13T08:00:00Z").args([
        "report",
        "delist",
        "--ip",
        "192.0.2.50",
        "--days",
        "7",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(
        text.contains(
            "Complaints about mail from this IP: 20 in the period, against 5000 messages (0.400%)."
        ),
        "{text}"
    );
    let rows: Vec<&str> = text
        .lines()
        .filter(|line| line.trim_start().starts_with("2026-11-1"))
        .collect();
    assert_eq!(rows.len(), 1, "{text}");
    let cells: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "2026-11-10",
            "20",
            "5000",
            "send",
            "log",
            "0.400%",
            "critical"
        ],
        "{text}"
    );
}

/// A list mailed 20,000 times on Friday 6 November and 200 times a day after (a quiet
/// spell), all to yahoo.com from 192.0.2.60; twelve complaints about Friday's mail reported
/// on Monday 16 November. The list and the recipient domain counted them on the day they were
/// reported, against the quiet days' 1,600 messages of an eight-day window: 0.75%, a critical
/// list alert on Monday about mail that drew 12 complaints in 20,000. The IP and reporter
/// figures rated them against Friday already; now the list and domain figures do too.
#[test]
fn list_and_domain_figures_rate_late_complaints_against_their_send_day() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    std::fs::write(
        path.join("fbl.toml"),
        "[store]\npath = \"fbl.sqlite\"\n\n[send_log]\nretention_days = 5000\n\n\
         [report]\nsending_ips = [\"192.0.2.0/24\"]\n",
    )
    .unwrap();
    let mut sends = String::from("message_id,recipient,campaign,list,source_ip,sent_at\n");
    for i in 0..20_000 {
        sends.push_str(&format!(
            "fri-{i}@sender.example,f{i}@yahoo.com,friday,weekly,192.0.2.60,2026-11-06T09:00:00Z\n"
        ));
    }
    for day in 7..=16 {
        for i in 0..200 {
            sends.push_str(&format!(
                "q-{day}-{i}@sender.example,q{day}x{i}@yahoo.com,quiet,weekly,192.0.2.60,\
                 2026-11-{day:02}T09:00:00Z\n"
            ));
        }
    }
    std::fs::write(path.join("sends.csv"), sends).unwrap();
    let reports = path.join("reports");
    std::fs::create_dir(&reports).unwrap();
    for i in 0..12 {
        std::fs::write(
            reports.join(format!("{i:03}.eml")),
            complaint(
                "192.0.2.60",
                "2026-11-16",
                &format!("fri-{i}@sender.example"),
                &format!("f{i}@yahoo.com"),
            ),
        )
        .unwrap();
    }
    let output = run(fbl(path)
        .args(["--config", "fbl.toml", "sendlog", "import", "sends.csv"])
        .args(["--format", "csv"]));
    assert_eq!(output.status.code(), Some(0));
    let output = run(fbl(path).args(["--config", "fbl.toml", "ingest", "reports"]));
    assert_eq!(output.status.code(), Some(0));
    let fixture = Fixture { dir };
    let now = "2026-11-16T18:00:00Z";
    let report = |days: &str| -> serde_json::Value {
        let output = run(fixture
            .fbl()
            .env("FBL_NOW", now)
            .args(["report", "--format", "json", "--days", days]));
        assert_eq!(output.status.code(), Some(0));
        serde_json::from_str(&stdout(&output)).unwrap()
    };
    let rows =
        |report: &serde_json::Value, section: &str, subject: &str| -> Vec<serde_json::Value> {
            report[section]
                .as_array()
                .unwrap()
                .iter()
                .filter(|row| row["subject"] == subject)
                .cloned()
                .collect()
        };

    // Eight days, 9 to 16 November: Friday is outside, and so are its complaints, as they
    // are for the IP.
    let week = report("8");
    let ip = find(&week["ips"], "ip", "192.0.2.60");
    assert_eq!(ip["rated_complaints"], 0, "{ip:#}");
    assert_eq!(
        rows(&week, "lists", "weekly"),
        Vec::<serde_json::Value>::new()
    );
    assert_eq!(
        rows(&week, "recipient_domains", "yahoo.com"),
        Vec::<serde_json::Value>::new()
    );
    // The campaign drew them in the window, and is rated over all of it.
    let friday = find(&week["campaigns"], "subject", "friday");
    assert_eq!(
        (&friday["complaints"], &friday["messages"]),
        (&12.into(), &20_000.into())
    );

    // Fourteen days: Friday's messages and its complaints, for the list, the domain and the
    // IP alike.
    let fortnight = report("14");
    let ip = find(&fortnight["ips"], "ip", "192.0.2.60");
    let weekly = find(&fortnight["lists"], "subject", "weekly");
    let yahoo = find(&fortnight["recipient_domains"], "subject", "yahoo.com");
    for row in [weekly, yahoo] {
        assert_eq!(
            (&row["complaints"], &row["messages"], &row["level"]),
            (&12.into(), &22_000.into(), &"ok".into()),
            "{row:#}"
        );
        assert_eq!(row["rate_percent"], ip["rate_percent"], "{row:#} {ip:#}");
    }

    // Monday's `fbl run` raises no list alert.
    let output = run(fixture.fbl().env("FBL_NOW", now).args(["run", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let alerts = &summary["report"]["alerts"];
    assert_eq!(alerts, &serde_json::json!([]), "{alerts:#}");
    assert_eq!(output.status.code(), Some(0), "{}", stdout(&output));
}
