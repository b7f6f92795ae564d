//! The README's first command: `fbl run` on the bundled demo, with no server and no network.

use crate::support::{fbl, run, stdout};

#[test]
fn the_demo_runs_the_main_job_and_a_second_run_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    crate::support::copy_tree(&crate::support::fixtures().join("demo"), &demo);
    crate::support::empty_demo_exports(&demo);
    let _ = std::fs::remove_file(demo.join("fbl.sqlite"));

    let output = run(fbl(dir.path()).args(["run", "--config", "demo/fbl.toml", "--json"]));
    // The demo holds a broken report and redacted complaints: a person should look.
    assert_eq!(output.status.code(), Some(1));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["ingest"]["quarantined"], 1);
    assert!(summary["ingest"]["suppressions_added"].as_u64().unwrap() >= 10);
    let kinds = summary["ingest"]["by_kind"].as_object().unwrap();
    for kind in [
        "complaint",
        "not_spam",
        "unsubscribe",
        "auth_failure",
        "bounce",
        "not_a_report",
    ] {
        assert!(kinds.contains_key(kind), "the demo has no {kind}");
    }
    // The send log holds the mail the complaints are about (two sends of july-deals), so
    // that the demo's rates are real ones.
    assert_eq!(summary["send_log"][0]["added"], 3905);
    let exports = summary["exports"].as_array().unwrap();
    assert!(exports.len() >= 3);
    let mut first_bytes = Vec::new();
    for export in exports {
        let path = dir.path().join(export["path"].as_str().unwrap());
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.is_empty(), "{}", path.display());
        first_bytes.push(bytes);
    }
    // Complainants found only through the send log are suppressed.
    for address in [
        "amelia.hart@example.org",
        "bruno.costa@example.net",
        "dana.weiss@example.net",
        "emil.nyberg@aol.example",
    ] {
        let output =
            run(fbl(dir.path()).args(["--config", "demo/fbl.toml", "suppress", "check", address]));
        assert_eq!(output.status.code(), Some(0), "{address}");
    }
    // SNDS, served from files: four days of four IPs, one turning YELLOW then RED with
    // trap hits, in a blocked range.
    let snds = &summary["snds"]["accounts"][0];
    assert_eq!(snds["days"].as_array().unwrap().len(), 4);
    assert_eq!(snds["blocked_ranges"], 1);
    let alerts: Vec<&str> = summary["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alert| alert["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        alerts,
        [
            "turned_yellow",
            "turned_red",
            "trap_hits",
            "trap_hits",
            "blocked"
        ]
    );
    // The report a new user reads next agrees with itself: the IP SNDS lists as blocked and
    // the one Outlook.com refused with S3140 are critical, and counted so beside the worst
    // level; no rate is over 100% (more complaints than messages).
    let output =
        run(fbl(dir.path()).args(["--config", "demo/fbl.toml", "report", "--format", "json"]));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    for ip in ["198.51.100.7", "192.0.2.25"] {
        let summary = report["ips"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["ip"] == ip)
            .unwrap();
        assert_eq!(summary["level"], "critical", "{summary}");
    }
    assert_eq!(report["overview"]["ips_critical"], 2);
    assert_eq!(report["overview"]["ips_blocked"], 2);
    assert_eq!(report["overview"]["worst_level"], "critical");
    for section in [
        "ip_days",
        "ips",
        "reporters",
        "campaigns",
        "lists",
        "recipient_domains",
    ] {
        for row in report[section].as_array().unwrap() {
            assert!(
                row["rate_percent"].as_f64().unwrap_or(0.0) <= 100.0,
                "{section}: {row}"
            );
        }
    }
    let output = run(fbl(dir.path()).args(["--config", "demo/fbl.toml", "report"]));
    let table = stdout(&output);
    assert!(table.contains("worst: critical"), "{table}");
    assert!(table.contains("IPs: 7 (2 critical, 1 warn)"), "{table}");

    let store = demo.join("fbl.sqlite");
    let snds_rows = fbl::store::Store::open(&store)
        .unwrap()
        .snds_rows(&Default::default())
        .unwrap();
    assert_eq!(snds_rows.len(), 16);
    let before = fbl::store::Store::open(&store).unwrap().counts().unwrap();

    let output = run(fbl(dir.path()).args(["run", "--config", "demo/fbl.toml", "--json"]));
    let summary: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(summary["ingest"]["stored"], 0);
    assert_eq!(summary["send_log"][0]["added"], 0);
    assert_eq!(
        summary["alerts"],
        serde_json::json!([]),
        "alerts are raised once"
    );
    assert_eq!(summary["snds"]["accounts"][0]["rows_added"], 0);
    assert_eq!(
        fbl::store::Store::open(&store).unwrap().counts().unwrap(),
        before
    );
    for (export, before) in summary["exports"]
        .as_array()
        .unwrap()
        .iter()
        .zip(first_bytes)
    {
        let path = dir.path().join(export["path"].as_str().unwrap());
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "{} changed",
            path.display()
        );
    }
}
