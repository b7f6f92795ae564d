//! `fbl snds` and SNDS in `fbl run`, against a real HTTP(S) server on loopback: rows stored
//! and updated, days skipped and backfilled, every failure shape named without the key, the
//! API with a token refresh and rotation, login, alerts raised once, `show --json`.

use crate::http_server::{Reply, Request, TestServer, csv, json, respond, write_test_ca};
use crate::support::{fbl, run, stdout};
use fbl::store::{SndsRowFilter, Store};
use std::collections::HashMap;
use std::path::Path;
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &str = "7c41d2e0-SNDSKEY-9a3f-4be1c07d5e22";
const KEY_ENV: &str = "SNDS_TEST_KEY";
const SIGN_IN_PAGE: &str = include_str!("../../fixtures/snds/data-sign-in-page.html");

/// What the scripted legacy SNDS answers: data per `date` parameter (`latest` without one)
/// and the ipStatus body. Tests change it between runs.
#[derive(Default)]
struct Answers {
    data: HashMap<String, String>,
    ip_status: String,
}

type Shared = Arc<Mutex<Answers>>;

/// A legacy SNDS at `{url}/snds`: a wrong key gets the sign-in page.
fn legacy_server(answers: &Shared) -> TestServer {
    let answers = answers.clone();
    TestServer::start(move |request, _| {
        let query = request.query();
        if query.get("key").map(String::as_str) != Some(KEY) {
            return respond(200, "text/html", SIGN_IN_PAGE);
        }
        let answers = answers.lock().unwrap();
        match request.path() {
            "/snds/data.aspx" => {
                let date = query.get("date").map(String::as_str).unwrap_or("latest");
                csv(answers.data.get(date).map(String::as_str).unwrap_or(""))
            }
            "/snds/ipStatus.aspx" => csv(&answers.ip_status),
            _ => respond(404, "text/plain", "no such page"),
        }
    })
}

/// One data.aspx row for `ip` whose window starts at 4 PM on `day` (YYYY-MM-DD).
fn row(ip: &str, day: &str, recipients: u64, filter: &str, traps: u64) -> String {
    let start: chrono::NaiveDate = day.parse().unwrap();
    let end = start.succ_opt().unwrap();
    let us = |d: chrono::NaiveDate| d.format("%-m/%-d/%Y 4:00 PM").to_string();
    let rate = if filter == "GREEN" { "< 0.1%" } else { "0.6%" };
    let (trap_start, trap_end) = if traps > 0 {
        (us(start), us(end))
    } else {
        (String::new(), String::new())
    };
    format!(
        "{ip},{},{},{recipients},{recipients},{recipients},{filter},{rate},{trap_start},{trap_end},{traps},mail.example.com,,\r\n",
        us(start),
        us(end)
    )
}

/// The `date` parameter of a day: MMDDYY.
fn mmddyy(day: &str) -> String {
    let date: chrono::NaiveDate = day.parse().unwrap();
    date.format("%m%d%y").to_string()
}

fn set_day(answers: &Shared, day: &str, body: String) {
    answers.lock().unwrap().data.insert(mmddyy(day), body);
}

fn set_latest(answers: &Shared, body: String) {
    answers
        .lock()
        .unwrap()
        .data
        .insert("latest".to_owned(), body);
}

fn set_ip_status(answers: &Shared, body: &str) {
    answers.lock().unwrap().ip_status = body.to_owned();
}

fn write_config(dir: &Path, snds: &str) {
    std::fs::write(
        dir.join("fbl.toml"),
        format!(
            "[store]\npath = \"fbl.sqlite\"\n\n[snds]\ntimezone = \"UTC\"\nretries = 1\nretry_backoff_secs = 0\ntimeout_secs = 5\nbackfill_days = 3\n{snds}"
        ),
    )
    .unwrap();
}

fn legacy_account(name: &str, base_url: &str) -> String {
    format!(
        "\n[[snds.legacy]]\nname = \"{name}\"\nkey_env = \"{KEY_ENV}\"\nbase_url = \"{base_url}\"\n"
    )
}

/// `fbl --config fbl.toml ARGS` with the key in the environment.
fn fbl_snds(dir: &Path, args: &[&str]) -> Output {
    run(fbl(dir)
        .args(["--config", "fbl.toml"])
        .args(args)
        .env(KEY_ENV, KEY))
}

fn json_of(output: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout(output))
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", stdout(output)))
}

fn assert_no_key(output: &Output) {
    for (name, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(text);
        assert!(!text.contains(KEY), "{name} shows the key: {text}");
        assert!(
            !text.contains("SNDSKEY"),
            "{name} shows part of the key: {text}"
        );
    }
}

fn stored_rows(dir: &Path) -> Vec<fbl::store::StoredSndsRow> {
    Store::open(&dir.join("fbl.sqlite"))
        .unwrap()
        .snds_rows(&SndsRowFilter::default())
        .unwrap()
}

/// The data.aspx requests the server saw, by `date` parameter (`latest` without one).
fn data_requests(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .filter(|r: &&Request| r.path() == "/snds/data.aspx")
        .map(|r| {
            r.query()
                .get("date")
                .cloned()
                .unwrap_or_else(|| "latest".to_owned())
        })
        .collect()
}

fn legacy_setup() -> (tempfile::TempDir, Shared, TestServer) {
    let dir = tempfile::tempdir().unwrap();
    let answers = Shared::default();
    let server = legacy_server(&answers);
    write_config(
        dir.path(),
        &legacy_account("main", &format!("{}/snds", server.url())),
    );
    (dir, answers, server)
}

#[test]
fn fetch_stores_rows_and_a_refetch_updates_them_without_duplicates() {
    let (dir, answers, _server) = legacy_setup();
    let day = |recipients| {
        row("192.0.2.10", "2026-11-17", recipients, "GREEN", 0)
            + &row("192.0.2.11", "2026-11-17", 700, "GREEN", 0)
    };
    set_day(&answers, "2026-11-17", day(1500));
    let output = fbl_snds(
        dir.path(),
        &["snds", "fetch", "--date", "2026-11-17", "--json"],
    );
    assert_eq!(output.status.code(), Some(0));
    let fetched = json_of(&output);
    let account = &fetched["summary"]["accounts"][0];
    assert_eq!(account["account"], "main");
    assert_eq!(account["rows_added"], 2);
    assert_eq!(account["days"], serde_json::json!(["2026-11-17"]));
    let rows = stored_rows(dir.path());
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].message_recipients, 1500);
    assert_eq!(rows[0].activity_start_raw, "11/17/2026 4:00 PM");
    assert_eq!(
        rows[0].activity_start.as_deref(),
        Some("2026-11-17T16:00:00Z")
    );
    assert_eq!(rows[0].account, "main");
    assert_eq!(rows[0].fetched_at, "2026-11-20T08:00:00Z");

    set_day(&answers, "2026-11-17", day(1650));
    let output = fbl_snds(
        dir.path(),
        &[
            "snds",
            "fetch",
            "--date",
            "2026-11-17",
            "--refresh",
            "--json",
        ],
    );
    let account = &json_of(&output)["summary"]["accounts"][0];
    assert_eq!(account["rows_added"], 0);
    assert_eq!(
        account["rows_updated"], 1,
        "192.0.2.11's row came back the same"
    );
    let rows = stored_rows(dir.path());
    assert_eq!(rows.len(), 2, "a refetched day is updated, not duplicated");
    assert_eq!(rows[0].message_recipients, 1650);
    assert_no_key(&output);
}

#[test]
fn days_stored_are_skipped_unless_refresh() {
    let (dir, answers, server) = legacy_setup();
    set_day(
        &answers,
        "2026-11-17",
        row("192.0.2.10", "2026-11-17", 1500, "GREEN", 0),
    );
    fbl_snds(dir.path(), &["snds", "fetch", "--date", "2026-11-17"]);
    let output = fbl_snds(
        dir.path(),
        &["snds", "fetch", "--date", "2026-11-17", "--json"],
    );
    assert_eq!(
        json_of(&output)["summary"]["accounts"][0]["skipped_days"],
        1
    );
    assert_eq!(
        data_requests(&server),
        ["111726"],
        "the stored day is not asked again"
    );
    fbl_snds(
        dir.path(),
        &["snds", "fetch", "--date", "2026-11-17", "--refresh"],
    );
    assert_eq!(data_requests(&server), ["111726", "111726"]);
    // ipStatus is fetched every time.
    let status_requests = server
        .requests()
        .iter()
        .filter(|r| r.path() == "/snds/ipStatus.aspx")
        .count();
    assert_eq!(status_requests, 3);
}

#[test]
fn since_backfills_each_day_up_to_yesterday() {
    let (dir, answers, server) = legacy_setup();
    for day in ["2026-11-15", "2026-11-16", "2026-11-17"] {
        set_day(&answers, day, row("192.0.2.10", day, 1500, "GREEN", 0));
    }
    let output = fbl_snds(
        dir.path(),
        &["snds", "fetch", "--since", "2026-11-15", "--json"],
    );
    assert_eq!(output.status.code(), Some(0));
    let account = &json_of(&output)["summary"]["accounts"][0];
    assert_eq!(
        account["days"],
        serde_json::json!(["2026-11-15", "2026-11-16", "2026-11-17"])
    );
    assert_eq!(
        account["empty_days"],
        serde_json::json!(["2026-11-18", "2026-11-19"])
    );
    assert_eq!(
        data_requests(&server),
        ["111526", "111626", "111726", "111826", "111926"]
    );
    assert_eq!(stored_rows(dir.path()).len(), 3);

    // Again: the days with data are skipped; the recent empty ones may still get data.
    set_day(
        &answers,
        "2026-11-18",
        row("192.0.2.10", "2026-11-18", 1400, "GREEN", 0),
    );
    let output = fbl_snds(
        dir.path(),
        &["snds", "fetch", "--since", "2026-11-15", "--json"],
    );
    let account = &json_of(&output)["summary"]["accounts"][0];
    assert_eq!(account["skipped_days"], 3);
    assert_eq!(account["days"], serde_json::json!(["2026-11-18"]));
    assert_eq!(data_requests(&server)[5..], ["111826", "111926"]);
}

#[test]
fn each_failure_shape_is_a_clear_error_that_names_the_account_and_not_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(|request, _| match request.path() {
        "/signin/data.aspx" => respond(200, "text/html", SIGN_IN_PAGE),
        "/gone/data.aspx" => respond(404, "text/plain", "gone"),
        "/refusing/data.aspx" => respond(401, "text/plain", "unauthorized"),
        "/down/data.aspx" => respond(503, "text/plain", "down"),
        "/garbled/data.aspx" => csv("Service temporarily unavailable, try later\r\n"),
        "/garbled/ipStatus.aspx" => csv(""),
        "/slow/data.aspx" => Reply::Hang(Duration::from_secs(3)),
        "/slow/ipStatus.aspx" => csv(""),
        _ => respond(404, "text/plain", "no"),
    });
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let url = server.url();
    let mut accounts = String::new();
    for name in ["signin", "gone", "refusing", "down", "garbled", "slow"] {
        accounts.push_str(&legacy_account(name, &format!("{url}/{name}")));
    }
    accounts.push_str(&legacy_account("refused", &closed_url));
    accounts.push_str(
        "\n[[snds.legacy]]\nname = \"nokey\"\nkey_env = \"SNDS_TEST_UNSET\"\n\
         \n[[snds.legacy]]\nname = \"badlink\"\naccess_url_env = \"SNDS_TEST_LINK\"\n",
    );
    write_config(dir.path(), &accounts);
    let config = std::fs::read_to_string(dir.path().join("fbl.toml"))
        .unwrap()
        .replace("timeout_secs = 5", "timeout_secs = 1");
    std::fs::write(dir.path().join("fbl.toml"), config).unwrap();

    let output = run(fbl(dir.path())
        .args(["--config", "fbl.toml", "snds", "fetch"])
        .env(KEY_ENV, KEY)
        .env("SNDS_TEST_LINK", format!("my key is {KEY}")));
    assert_eq!(output.status.code(), Some(1), "failures need attention");
    assert_no_key(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = |account: &str| {
        stderr
            .lines()
            .find(|line| line.starts_with(&format!("fbl: snds account {account}:")))
            .unwrap_or_else(|| panic!("no error for {account}:\n{stderr}"))
            .to_owned()
    };
    let expect = |account: &str, parts: &[&str]| {
        let line = line(account);
        for part in parts {
            assert!(line.contains(part), "{account}: {part:?} not in {line}");
        }
    };
    expect(
        "signin",
        &[
            "/signin/data.aspx?key=***",
            "answered with a sign-in page: the key is bad or expired",
            &format!("check the key from environment variable {KEY_ENV}"),
        ],
    );
    expect(
        "refusing",
        &[
            "/refusing/data.aspx?key=***",
            "answered http 401",
            &format!("SNDS refused the key: check the key from environment variable {KEY_ENV}"),
        ],
    );
    expect(
        "gone",
        &[
            "answered http 404",
            "the automated access link may have expired",
        ],
    );
    expect("down", &["answered http 503 after 2 attempts"]);
    expect(
        "garbled",
        &["answered a body that is not a report: snds csv line 1"],
    );
    expect("slow", &["timed out after 2 attempts"]);
    expect("refused", &["failed after 2 attempts"]);
    expect(
        "nokey",
        &["environment variable SNDS_TEST_UNSET (key_env) is not set"],
    );
    expect(
        "badlink",
        &[
            "SNDS_TEST_LINK (access_url_env)",
            "automated access url unusable",
        ],
    );
    // A bad key stops the account: its ipStatus is not asked for.
    assert!(
        !server
            .requests()
            .iter()
            .any(|r| r.path() == "/signin/ipStatus.aspx")
    );

    for args in [&["config"][..], &["snds", "status"][..]] {
        let output = run(fbl(dir.path())
            .args(["--config", "fbl.toml"])
            .args(args)
            .env(KEY_ENV, KEY)
            .env("SNDS_TEST_LINK", format!("my key is {KEY}")));
        assert_no_key(&output);
    }
}

#[test]
fn a_broken_row_is_set_aside_and_the_rest_is_stored() {
    let (dir, answers, _server) = legacy_setup();
    set_day(
        &answers,
        "2026-11-17",
        row("192.0.2.10", "2026-11-17", 1500, "GREEN", 0)
            + "not-an-ip,11/17/2026 4:00 PM,11/18/2026 4:00 PM,1,1,1,GREEN,< 0.1%,,,,,,\r\n"
            + &row("192.0.2.11", "2026-11-17", 700, "GREEN", 0),
    );
    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", "2026-11-17"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "snds account main day 2026-11-17: row set aside: snds csv line 2: ip address column holds \"not-an-ip\""
        ),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(stored_rows(dir.path()).len(), 2);
}

/// An SNDS API and token endpoint over TLS. The token endpoint wants refresh token
/// `RT-n` on its n-th call (from 1) and rotates it to `RT-(n+1)`; the reports want the
/// access token it gave.
fn api_server() -> TestServer {
    TestServer::start_tls(|request, nth| match request.path() {
        "/token" => {
            let form = request.form();
            assert_eq!(form["grant_type"], "refresh_token");
            assert_eq!(form["client_id"], "fbl-test-client");
            assert_eq!(form["scope"], "api://snds/.default offline_access");
            if form["refresh_token"] != format!("RT-{}", nth + 1) {
                return json(
                    400,
                    r#"{"error":"invalid_grant","error_description":"AADSTS70000: The refresh token has expired."}"#,
                );
            }
            json(
                200,
                &format!(
                    r#"{{"access_token":"AT-SECRET-{}","refresh_token":"RT-{}","expires_in":3600}}"#,
                    nth + 1,
                    nth + 2
                ),
            )
        }
        path if path.starts_with("/api/report/") => {
            let bearer = request.header("authorization").unwrap_or("");
            if !bearer.starts_with("Bearer AT-SECRET-") {
                return respond(401, "application/json", r#"{"error":"unauthorized"}"#);
            }
            match path {
                "/api/report/data/2026-11-19" => json(
                    200,
                    r#"[{"ipAddress":"203.0.113.9","activityStart":"2026-11-19T00:00:00","activityEnd":"2026-11-20T00:00:00","rcptCommands":980,"dataCommands":975,"messageRecipients":990,"filterResult":"GREEN","complaintRate":"< 0.1%","trapHits":0}]"#,
                ),
                "/api/report/data/2026-11-18" => {
                    csv(&row("203.0.113.9", "2026-11-18", 910, "GREEN", 0))
                }
                "/api/report/status/ip" => csv("203.0.113.9,203.0.113.9,No,\r\n"),
                _ => respond(404, "text/plain", "no"),
            }
        }
        _ => respond(404, "text/plain", "no"),
    })
}

fn api_config(dir: &Path, server: &TestServer, token_file: bool) {
    let url = server.url();
    let token_file = if token_file {
        "token_file = \"snds-token\"\n"
    } else {
        ""
    };
    write_config(
        dir,
        &format!(
            "ca_file = \"{}\"\n\n[snds.api]\nname = \"newapi\"\nbase_url = \"{url}\"\n\
             authorize_url = \"{url}/authorize\"\ntoken_url = \"{url}/token\"\n\
             device_code_url = \"{url}/devicecode\"\nclient_id = \"fbl-test-client\"\n\
             scopes = [\"api://snds/.default\", \"offline_access\"]\n{token_file}",
            write_test_ca(dir).display()
        ),
    );
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn assert_no_token(output: &Output) {
    for (name, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        let text = String::from_utf8_lossy(text);
        assert!(
            !text.contains("AT-SECRET") && !text.contains("RT-"),
            "{name} shows a token: {text}"
        );
    }
}

#[test]
fn the_api_refreshes_its_token_over_tls_and_keeps_the_rotated_one_in_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = api_server();
    api_config(dir.path(), &server, true);
    let token_file = dir.path().join("snds-token");
    std::fs::write(&token_file, "RT-1\n").unwrap();

    let output = fbl_snds(dir.path(), &["snds", "fetch", "--json"]);
    assert_eq!(output.status.code(), Some(0));
    assert_no_token(&output);
    let fetched = json_of(&output);
    let account = &fetched["summary"]["accounts"][0];
    assert_eq!(account["account"], "newapi");
    assert_eq!(account["days"], serde_json::json!(["2026-11-19"]));
    assert_eq!(account["ip_status_ranges"], 1);
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), "RT-2");
    assert_eq!(mode(&token_file), 0o600);

    let output = fbl_snds(
        dir.path(),
        &["snds", "fetch", "--date", "2026-11-18", "--json"],
    );
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(std::fs::read_to_string(&token_file).unwrap().trim(), "RT-3");
    let rows = stored_rows(dir.path());
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|row| row.account == "newapi"));
    for request in server.requests() {
        assert!(!request.target.contains("AT-SECRET"), "{}", request.target);
    }

    // A token that was not rotated into place is refused: log in again.
    std::fs::write(&token_file, "RT-1\n").unwrap();
    let output = fbl_snds(dir.path(), &["snds", "fetch"]);
    assert_eq!(output.status.code(), Some(1));
    assert_no_token(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("snds account newapi: oauth login needed again")
            && stderr.contains("run `fbl snds login` to sign in again"),
        "{stderr}"
    );
}

#[test]
fn an_api_that_refuses_the_token_says_to_log_in_again() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_tls(|request, _| match request.path() {
        "/token" => json(
            200,
            r#"{"access_token":"not-what-the-api-wants","expires_in":3600}"#,
        ),
        _ => respond(401, "application/json", r#"{"error":"unauthorized"}"#),
    });
    api_config(dir.path(), &server, false);
    // No login yet.
    let output = fbl_snds(dir.path(), &["snds", "fetch"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(
            "snds account newapi: no refresh token in the store: run `fbl snds login` once"
        )
    );
    let output = fbl_snds(dir.path(), &["snds", "status"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stdout(&output).contains("problem: no refresh token: run `fbl snds login`"));

    let mut store = Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    let mut batch = store.begin().unwrap();
    batch
        .set_snds_refresh_token("newapi", "RT-1", "2026-11-19T00:00:00Z")
        .unwrap();
    batch.commit().unwrap();
    drop(store);
    let output = fbl_snds(dir.path(), &["snds", "fetch"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("snds account newapi day 2026-11-19: snds api")
            && stderr
                .contains("wants a new login (http 401); run `fbl snds login` to sign in again"),
        "{stderr}"
    );
    assert!(!stderr.contains("not-what-the-api-wants"));
}

#[test]
fn login_with_the_loopback_redirect_stores_the_refresh_token_privately() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_tls(|request, _| match request.path() {
        "/token" => {
            let form = request.form();
            assert_eq!(form["grant_type"], "authorization_code");
            assert_eq!(form["code"], "code-from-browser");
            assert_eq!(form["code_verifier"].len(), 43);
            json(
                200,
                r#"{"access_token":"AT-SECRET-0","refresh_token":"RT-LOGIN","expires_in":3600}"#,
            )
        }
        _ => respond(404, "text/plain", "no"),
    });
    for token_file in [true, false] {
        api_config(dir.path(), &server, token_file);
        let mut child = fbl(dir.path())
            .args(["--config", "fbl.toml", "snds", "login", "--no-browser"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut address = None;
        let mut line = String::new();
        while address.is_none() && stderr.read_line(&mut line).unwrap() > 0 {
            if line.starts_with("https://") {
                address = Some(url::Url::parse(line.trim()).unwrap());
            }
            line.clear();
        }
        let address = address.expect("login printed no address");
        assert!(
            address
                .as_str()
                .starts_with(&format!("{}/authorize?", server.url()))
        );
        let query: HashMap<String, String> = address.query_pairs().into_owned().collect();
        assert_eq!(query["client_id"], "fbl-test-client");
        assert_eq!(query["code_challenge_method"], "S256");
        // The browser lands on the loopback redirect.
        let landing = format!(
            "{}?code=code-from-browser&state={}",
            query["redirect_uri"], query["state"]
        );
        let page = reqwest::blocking::get(&landing).unwrap_or_else(|error| {
            // Say whether the login had ended already, and why (a flake seen under load).
            let _ = child.kill();
            let status = child.wait();
            let mut rest = String::new();
            let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
            panic!("the redirect to {landing} failed: {error:?}; fbl: {status:?}\n{rest}")
        });
        assert_eq!(page.status().as_u16(), 200);
        let status = child.wait().unwrap();
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
        assert!(status.success(), "{rest}");
        assert!(
            rest.contains("signed in; refresh token stored in"),
            "{rest}"
        );
        assert!(!rest.contains("RT-LOGIN"));
        if token_file {
            let path = dir.path().join("snds-token");
            assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), "RT-LOGIN");
            assert_eq!(mode(&path), 0o600);
        } else {
            let store = dir.path().join("fbl.sqlite");
            assert_eq!(
                Store::open(&store)
                    .unwrap()
                    .snds_refresh_token("newapi")
                    .unwrap()
                    .as_deref(),
                Some("RT-LOGIN")
            );
            assert_eq!(mode(&store), 0o600, "the store holds the token now");
            let output = fbl_snds(dir.path(), &["snds", "status", "--json"]);
            assert_eq!(output.status.code(), Some(0));
            assert_no_token(&output);
            let token = &json_of(&output)["accounts"][0]["token"];
            assert_eq!(token["present"], true);
            assert_eq!(token["place"]["in"], "store");
        }
    }
}

/// `fbl run` with SNDS only; its JSON summary.
fn run_json(dir: &Path, now: &str) -> (Option<i32>, serde_json::Value) {
    let output = run(fbl(dir)
        .args(["--config", "fbl.toml", "run", "--json"])
        .env(KEY_ENV, KEY)
        .env("FBL_NOW", now));
    assert_no_key(&output);
    (output.status.code(), json_of(&output))
}

fn alert_messages(summary: &serde_json::Value) -> Vec<String> {
    summary["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|alert| alert["message"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn run_raises_each_alert_once_and_a_change_raises_one() {
    let (dir, answers, server) = legacy_setup();
    for (day, filter, traps) in [
        ("2026-11-16", "GREEN", 0),
        ("2026-11-17", "YELLOW", 0),
        ("2026-11-18", "RED", 9),
    ] {
        let body = row("198.51.100.7", day, 16000, filter, traps)
            + &row("192.0.2.10", day, 4000, "GREEN", 0);
        set_day(&answers, day, body.clone());
        if day == "2026-11-18" {
            set_latest(&answers, body);
        }
    }
    set_ip_status(
        &answers,
        "198.51.100.0,198.51.100.15,Yes,Blocked due to user complaints or other evidence of spamming\r\n",
    );
    let (code, summary) = run_json(dir.path(), "2026-11-20T08:00:00Z");
    assert_eq!(code, Some(1), "alerts need attention");
    assert_eq!(
        alert_messages(&summary),
        [
            "snds main: 198.51.100.7 turned YELLOW on 2026-11-17 (was GREEN)",
            "snds main: 198.51.100.7 turned RED on 2026-11-18 (was YELLOW)",
            "snds main: 198.51.100.7 hit 9 spam traps on 2026-11-18",
            "snds main: 198.51.100.0-198.51.100.15 is blocked by Outlook.com: Blocked due to user \
             complaints or other evidence of spamming; `fbl report delist --ip IP`, for each of \
             your sending IPs in the range, gathers what Microsoft's delisting form asks for",
        ]
    );
    let account = &summary["snds"]["accounts"][0];
    // First run: the latest day and backfill_days (3) back from it.
    assert_eq!(
        account["days"],
        serde_json::json!(["2026-11-16", "2026-11-17", "2026-11-18"])
    );
    assert_eq!(summary["alerts"][1]["kind"], "turned_red");
    assert_eq!(summary["alerts"][1]["ip"], "198.51.100.7");
    assert_eq!(summary["alerts"][1]["day"], "2026-11-18");

    // The same data again: nothing new, nothing raised.
    let (code, summary) = run_json(dir.path(), "2026-11-20T09:00:00Z");
    assert_eq!(alert_messages(&summary), Vec::<String>::new());
    assert_eq!(code, Some(0));
    assert_eq!(
        data_requests(&server).len(),
        5,
        "only the latest day is asked again"
    );

    // One change: the range is unblocked.
    set_ip_status(&answers, "");
    let (code, summary) = run_json(dir.path(), "2026-11-20T10:00:00Z");
    assert_eq!(
        alert_messages(&summary),
        ["snds main: 198.51.100.0-198.51.100.15 is no longer blocked by Outlook.com"]
    );
    assert_eq!(code, Some(1));

    // A new day with trap hits, told in the human summary under cron: first in the mail.
    let body = row("198.51.100.7", "2026-11-19", 15000, "RED", 3)
        + &row("192.0.2.10", "2026-11-19", 4000, "GREEN", 0);
    set_day(&answers, "2026-11-19", body.clone());
    set_latest(&answers, body);
    let output = run(fbl(dir.path())
        .args(["--config", "fbl.toml", "run"])
        .env(KEY_ENV, KEY)
        .env("FBL_NOW", "2026-11-21T08:00:00Z"));
    assert_eq!(output.status.code(), Some(1));
    let text = stdout(&output);
    let alerts: Vec<&str> = text.lines().filter(|l| l.contains("alert:")).collect();
    assert_eq!(
        alerts,
        ["alert: snds main: 198.51.100.7 hit 3 spam traps on 2026-11-19"],
        "{text}"
    );
    assert!(text.starts_with("alert: "), "{text}");
    assert!(text.contains("snds main: 1 day (2026-11-19)"), "{text}");
    let store = Store::open(&dir.path().join("fbl.sqlite")).unwrap();
    let periods = store.snds_ip_status_history("main").unwrap();
    assert_eq!(periods.len(), 1);
    assert_eq!(periods[0].first_seen_at, "2026-11-20T08:00:00Z");
    assert_eq!(periods[0].ended_at.as_deref(), Some("2026-11-20T10:00:00Z"));
}

/// SNDS's latest day refetched by each run with a corrected trap-hit figure: a rise above the
/// figure already alerted is told once per new figure; the same figure or a fall is not. A
/// day that turns from YELLOW to RED on a refetch is told too (another kind of alert).
#[test]
fn more_trap_hits_on_a_day_already_alerted_raise_a_new_alert_once() {
    let (dir, answers, _server) = legacy_setup();
    let day = "2026-11-20";
    let mut runs = 0;
    let mut run_with = |filter: &str, traps: u64| {
        let body = row("198.51.100.7", day, 16000, filter, traps);
        set_day(&answers, day, body.clone());
        set_latest(&answers, body);
        runs += 1;
        run_json(dir.path(), &format!("2026-11-22T{runs:02}:00:00Z"))
    };
    let (code, summary) = run_with("YELLOW", 2);
    assert_eq!(code, Some(1));
    assert_eq!(
        alert_messages(&summary),
        [
            "snds main: 198.51.100.7 turned YELLOW on 2026-11-20",
            "snds main: 198.51.100.7 hit 2 spam traps on 2026-11-20",
        ]
    );
    let (code, summary) = run_with("YELLOW", 7);
    assert_eq!(
        alert_messages(&summary),
        ["snds main: 198.51.100.7 trap hits on 2026-11-20 rose from 2 to 7"]
    );
    assert_eq!(code, Some(1), "a rise needs attention");
    let alert = &summary["alerts"][0];
    assert_eq!(alert["kind"], "trap_hits");
    assert_eq!(alert["day"], day);
    assert_eq!(alert["detail"], "7");
    for (traps, why) in [
        (7, "the same figure"),
        (5, "a fall"),
        (7, "a figure already told"),
    ] {
        let (code, summary) = run_with("YELLOW", traps);
        assert_eq!(alert_messages(&summary), Vec::<String>::new(), "{why}");
        assert_eq!(code, Some(0), "{why}");
    }
    let (_, summary) = run_with("RED", 9);
    assert_eq!(
        alert_messages(&summary),
        [
            "snds main: 198.51.100.7 turned RED on 2026-11-20",
            "snds main: 198.51.100.7 trap hits on 2026-11-20 rose from 7 to 9",
        ]
    );
    let (code, summary) = run_with("RED", 9);
    assert_eq!(alert_messages(&summary), Vec::<String>::new());
    assert_eq!(code, Some(0));
}

#[test]
fn a_failing_snds_fetch_does_not_stop_the_run_but_needs_attention() {
    let (dir, _answers, _server) = legacy_setup();
    let output = run(fbl(dir.path())
        .args(["--config", "fbl.toml", "run", "--json"])
        .env(KEY_ENV, "a-wrong-key"));
    assert_eq!(output.status.code(), Some(1));
    let summary = json_of(&output);
    let errors = summary["snds"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].as_str().unwrap().contains("sign-in page"),
        "{errors:?}"
    );
    assert!(!stdout(&output).contains("a-wrong-key"));
}

#[test]
fn show_prints_the_history_as_a_table_and_as_json() {
    let (dir, answers, _server) = legacy_setup();
    for (day, filter, traps) in [("2026-11-17", "YELLOW", 0), ("2026-11-18", "RED", 9)] {
        set_day(
            &answers,
            day,
            row("198.51.100.7", day, 16000, filter, traps)
                + &row("192.0.2.10", day, 4000, "GREEN", 0),
        );
    }
    set_ip_status(
        &answers,
        "198.51.100.0,198.51.100.15,Yes,SpamHaus SBL/XBL\r\n",
    );
    fbl_snds(dir.path(), &["snds", "fetch", "--since", "2026-11-17"]);

    let output = fbl_snds(dir.path(), &["snds", "show", "--json"]);
    assert_eq!(output.status.code(), Some(0));
    let shown = json_of(&output);
    let rows = shown["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let red = &rows[1];
    assert_eq!(red["day"], "2026-11-18");
    assert_eq!(red["ip"], "198.51.100.7");
    assert_eq!(red["filter_result"], "red");
    assert_eq!(red["complaint_rate"], "percent");
    assert_eq!(red["complaint_percent"], 0.6);
    assert_eq!(red["trap_hits"], 9);
    assert_eq!(red["blocked"], true);
    assert_eq!(rows[0]["ip"], "192.0.2.10");
    assert_eq!(rows[0]["blocked"], false);
    assert_eq!(shown["ip_status"][0]["details"], "SpamHaus SBL/XBL");

    let output = fbl_snds(
        dir.path(),
        &[
            "snds",
            "show",
            "--ip",
            "198.51.100.7",
            "--days",
            "1",
            "--json",
        ],
    );
    let rows = json_of(&output)["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["day"], "2026-11-18");

    let output = fbl_snds(dir.path(), &["snds", "show", "--ip", "198.51.100.7"]);
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "day         ip            window                                   recipients  filter  complaints  traps  blocked now"
    );
    assert_eq!(
        lines[1],
        "2026-11-18  198.51.100.7  11/18/2026 4:00 PM - 11/19/2026 4:00 PM       16000  RED     0.6%            9  yes"
    );
    assert_eq!(
        lines[3],
        "main 198.51.100.0-198.51.100.15 blocked since 2026-11-20T08:00:00Z: SpamHaus SBL/XBL"
    );
}

#[test]
fn snds_configuration_mistakes_are_errors() {
    let check = |snds: &str, expected: &str| {
        let error = fbl::config::Config::from_toml(snds).unwrap_err();
        let text = format!("{error:#}");
        assert!(text.contains(expected), "{snds}: {text}");
        assert!(!text.contains("SECRETK"), "{text}");
    };
    check(
        "[snds]\ntimezone = \"Mars/Olympus\"\n",
        "not an IANA zone name",
    );
    check("[snds]\ntimezne = \"UTC\"\n", "unknown field");
    check("[snds]\nbackfill_days = 120\n", "between 1 and 90");
    check(
        "[[snds.legacy]]\nname = \"a\"\n",
        "give exactly one of key_env, key_file, access_url_env, access_url_file",
    );
    check(
        "[[snds.legacy]]\nname = \"a\"\nkey_env = \"K\"\nkey_file = \"k\"\n",
        "give exactly one of",
    );
    check(
        "[[snds.legacy]]\nname = \"a\"\nkey_env = \"K\"\nbase_url = \"https://h/snds/data.aspx?key=SECRETKEY\"\n",
        "base_url has a query",
    );
    check(
        "[[snds.legacy]]\nname = \"api\"\nkey_env = \"K\"\n[snds.api]\n",
        "two snds accounts are named \"api\"",
    );
    let config = fbl::config::Config::from_toml(
        "[snds]\n[[snds.legacy]]\nname = \"demo\"\nbase_url = \"file:snds\"\n[snds.api]\n",
    )
    .unwrap();
    let snds = config.snds.unwrap();
    assert_eq!(snds.timezone, "UTC");
    assert_eq!(snds.backfill_days, 30);
    let api = snds.api.unwrap();
    assert_eq!(api.client_id, "a53a6cc1-a1cd-46f7-a4aa-281cdabec33c");
    assert_eq!(
        api.token_url,
        "https://login.microsoftonline.com/consumers/oauth2/v2.0/token"
    );
}

/// `fbl run` fetches the newest day twice over (the latest page, then by its date when it is
/// missing): a row set aside there is reported once, not twice on every run.
#[test]
fn a_row_set_aside_on_the_newest_day_is_reported_once_per_run() {
    let (dir, answers, _server) = legacy_setup();
    let day = row("192.0.2.10", "2026-11-19", 1500, "GREEN", 0)
        + "not-an-ip,11/19/2026 4:00 PM,11/20/2026 4:00 PM,1,1,1,GREEN,< 0.1%,,,,,,\r\n";
    set_day(&answers, "2026-11-19", day.clone());
    set_latest(&answers, day);
    let output = run(fbl(dir.path())
        .args(["--config", "fbl.toml", "run", "--json"])
        .env(KEY_ENV, KEY));
    assert_eq!(output.status.code(), Some(1));
    let summary = json_of(&output);
    let set_aside = summary
        .to_string()
        .matches("row set aside: snds csv line 2")
        .count();
    assert_eq!(set_aside, 1, "{summary}");
    assert_eq!(stored_rows(dir.path()).len(), 1);
}

/// Three days of one IP's colours, the last of them also SNDS's latest page; `fbl snds fetch`
/// of that latest day alone, then the first `fbl run`, which backfills the days before.
/// Returns the alerts of each, and the days the run fetched.
fn latest_fetched_before_the_first_run(
    colours: [&str; 3],
) -> (Vec<String>, Vec<String>, serde_json::Value) {
    let (dir, answers, _server) = legacy_setup();
    let days = ["2026-11-16", "2026-11-17", "2026-11-18"];
    for (day, filter) in days.iter().zip(colours) {
        let body = row("198.51.100.7", day, 16000, filter, 0);
        set_day(&answers, day, body.clone());
        if *day == days[2] {
            set_latest(&answers, body);
        }
    }
    let output = run(fbl(dir.path())
        .args(["--config", "fbl.toml", "snds", "fetch", "--json"])
        .env(KEY_ENV, KEY)
        .env("FBL_NOW", "2026-11-20T07:00:00Z"));
    let fetched = alert_messages(&json_of(&output));
    let (_, summary) = run_json(dir.path(), "2026-11-20T08:00:00Z");
    let ran = alert_messages(&summary);
    (fetched, ran, summary["snds"]["accounts"][0]["days"].clone())
}

/// `fbl snds fetch` of the latest day before the first `fbl run`: the run's backfill finds
/// the day the IP really turned RED, an episode already told of; it is not told again.
#[test]
fn a_backfilled_day_does_not_alert_an_episode_already_alerted_on_a_later_day() {
    let (fetched, ran, days) = latest_fetched_before_the_first_run(["GREEN", "RED", "RED"]);
    assert_eq!(
        fetched,
        ["snds main: 198.51.100.7 turned RED on 2026-11-18"]
    );
    assert_eq!(
        days,
        serde_json::json!(["2026-11-16", "2026-11-17", "2026-11-18"]),
        "the run backfilled the days before the latest"
    );
    assert_eq!(ran, Vec::<String>::new());

    // A backfilled episode that ended before the newest day is news, and is told.
    let (fetched, ran, _) = latest_fetched_before_the_first_run(["GREEN", "RED", "GREEN"]);
    assert_eq!(fetched, Vec::<String>::new());
    assert_eq!(
        ran,
        ["snds main: 198.51.100.7 turned RED on 2026-11-17 (was GREEN)"]
    );
}

/// Panics if `text` holds any 8 characters in a row of `secret`, in any case.
fn assert_no_part_of(secret: &str, what: &str, text: &str) {
    let chars: Vec<char> = secret.to_ascii_lowercase().chars().collect();
    let lower = text.to_ascii_lowercase();
    for window in chars.windows(8) {
        let part: String = window.iter().collect();
        assert!(
            !lower.contains(&part),
            "{what} shows {part:?} of the key: {text}"
        );
    }
}

#[test]
fn a_server_echoing_the_key_in_a_broken_row_shows_none_of_it() {
    let (dir, answers, _server) = legacy_setup();
    // Rows whose first column quotes the key, from a server that echoes what it was sent,
    // as sent, upper-cased or lower-cased; the padding puts the key across the point where
    // an error stops quoting (60 characters), leaving 8, 9, 17 or 33 of its characters
    // before the cut.
    let mut body = row("192.0.2.10", "2026-11-17", 1500, "GREEN", 0);
    for echoed in [
        KEY.to_owned(),
        KEY.to_ascii_uppercase(),
        KEY.to_ascii_lowercase(),
    ] {
        for left in [8, 9, 17, 33] {
            let text = format!(
                "{:<width$}{echoed} please renew",
                "Unknown key in request:",
                width = 60 - left
            );
            body.push_str(&format!("{text},,,,,,,,,,,,,\r\n"));
        }
    }
    set_day(&answers, "2026-11-17", body.clone());
    set_latest(&answers, body);
    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", "2026-11-17"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("row set aside"), "{stderr}");
    for (name, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        assert_no_part_of(KEY, name, &String::from_utf8_lossy(text));
    }
    let output = run(fbl(dir.path())
        .args(["--config", "fbl.toml", "run", "--json"])
        .env(KEY_ENV, KEY)
        .env("FBL_NOW", "2026-11-19T08:00:00Z"));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output).contains("row set aside"),
        "{}",
        stdout(&output)
    );
    for (name, text) in [("stdout", &output.stdout), ("stderr", &output.stderr)] {
        assert_no_part_of(KEY, name, &String::from_utf8_lossy(text));
    }
}

#[test]
fn a_cut_off_answer_is_set_aside_and_keeps_the_stored_figures() {
    let dir = tempfile::tempdir().unwrap();
    let day = "2026-11-17";
    let good = row("192.0.2.10", day, 1500, "GREEN", 0);
    let trapped = row("198.51.100.7", day, 9301, "RED", 12);
    let whole = format!("{good}{trapped}");
    // The second answer ends after the ninth field of the trapped row, with no line end:
    // the connection closed early, and without a length the client cannot tell.
    let cut: String = {
        let fields: Vec<&str> = trapped.split(',').collect();
        format!("{good}{}", fields[..9].join(","))
    };
    let server = TestServer::start(move |request, n| {
        if request.query().get("key").map(String::as_str) != Some(KEY) {
            return respond(200, "text/html", SIGN_IN_PAGE);
        }
        match (request.path(), n) {
            ("/snds/data.aspx", 0) => csv(&whole),
            ("/snds/data.aspx", _) => Reply::CloseWithoutLength { body: cut.clone() },
            _ => csv(""),
        }
    });
    write_config(
        dir.path(),
        &legacy_account("main", &format!("{}/snds", server.url())),
    );
    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", day]);
    // Exit 1 for the alerts (turned RED, trap hits), with no error.
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    let traps = |dir: &Path| -> Vec<(String, u64)> {
        stored_rows(dir)
            .into_iter()
            .map(|row| (row.ip, row.trap_hits))
            .collect()
    };
    let before = traps(dir.path());
    assert!(
        before.contains(&("198.51.100.7".to_owned(), 12)),
        "{before:?}"
    );
    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", day, "--refresh"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("snds account main day 2026-11-17: row set aside: snds csv line 2:")
            && stderr.contains("cut off"),
        "{stderr}"
    );
    assert_eq!(traps(dir.path()), before, "the stored figures are kept");
    assert_no_key(&output);
}

#[test]
fn an_answer_cut_late_in_its_last_row_keeps_the_stored_comments_and_block_list() {
    let dir = tempfile::tempdir().unwrap();
    let day = "2026-11-17";
    let good = row("192.0.2.10", day, 1500, "GREEN", 0);
    let commented = row("198.51.100.7", day, 9301, "GREEN", 0).replace(
        ",\r\n",
        ",\"Abuse reported for: newsletter, promotions\"\r\n",
    );
    let data = format!("{good}{commented}");
    let ranges = [
        "192.0.2.254,192.0.3.1,Yes,Blocked due to user complaints or other evidence of spamming\r\n",
        "198.51.100.0,198.51.100.15,Yes,SpamHaus SBL/XBL\r\n",
        "203.0.113.40,203.0.113.47,Yes,E-mail address harvesting\r\n",
    ];
    let ip_status = ranges.concat();
    // The second answers end (the connection closed, no length told) inside the comments,
    // the fourteenth field, and inside the details of the second range of three: every
    // field of the cut rows is there, only a line end is missing.
    let data_cut = data[..data.find("newsletter").unwrap()].to_owned();
    let ip_status_cut = format!("{}{}", ranges[0], &ranges[1][..ranges[1].len() - 6]);
    let server = TestServer::start(move |request, n| {
        if request.query().get("key").map(String::as_str) != Some(KEY) {
            return respond(200, "text/html", SIGN_IN_PAGE);
        }
        match (request.path(), n) {
            ("/snds/data.aspx", 0) => csv(&data),
            ("/snds/data.aspx", _) => Reply::CloseWithoutLength {
                body: data_cut.clone(),
            },
            ("/snds/ipStatus.aspx", 0) => csv(&ip_status),
            _ => Reply::CloseWithoutLength {
                body: ip_status_cut.clone(),
            },
        }
    });
    write_config(
        dir.path(),
        &legacy_account("main", &format!("{}/snds", server.url())),
    );
    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", day]);
    // Exit 1 for the three blocked ranges, with no error.
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    let comments = |dir: &Path| -> Vec<Option<String>> {
        stored_rows(dir)
            .into_iter()
            .map(|row| row.comments)
            .collect()
    };
    let periods = |dir: &Path| -> Vec<(String, bool, String, Option<String>)> {
        Store::open(&dir.join("fbl.sqlite"))
            .unwrap()
            .snds_ip_status_history("main")
            .unwrap()
            .into_iter()
            .map(|p| (p.first_ip, p.blocked, p.details, p.ended_at))
            .collect()
    };
    let (comments_before, periods_before) = (comments(dir.path()), periods(dir.path()));
    assert_eq!(
        comments_before[1].as_deref(),
        Some("Abuse reported for: newsletter, promotions")
    );
    assert_eq!(periods_before.len(), 3);

    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", day, "--refresh"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("snds account main day 2026-11-17: row set aside: snds csv line 2:")
            && stderr.contains("ip status is not applied")
            && stderr.matches("cut off").count() == 2,
        "{stderr}"
    );
    assert!(
        !format!("{}{stderr}", stdout(&output)).contains("no longer blocked"),
        "{output:?}"
    );
    assert_eq!(comments(dir.path()), comments_before);
    assert_eq!(periods(dir.path()), periods_before, "no range ended");
    assert_no_key(&output);
}

#[test]
fn snds_asking_to_come_back_in_an_hour_is_not_asked_again_in_the_run_and_nothing_stored_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let day = "2026-11-17";
    let body = format!(
        "{}{}",
        row("192.0.2.10", day, 1500, "GREEN", 0),
        row("198.51.100.7", day, 9301, "RED", 12)
    );
    let server = TestServer::start(move |request, n| match (request.path(), n) {
        ("/snds/data.aspx", 0) => csv(&body),
        ("/snds/ipStatus.aspx", 0) => csv("198.51.100.0,198.51.100.15,Yes,SpamHaus SBL/XBL\r\n"),
        _ => Reply::Respond {
            status: 429,
            headers: vec![("Retry-After", "3600".to_owned())],
            body: "Too many requests".to_owned(),
        },
    });
    write_config(
        dir.path(),
        &legacy_account("main", &format!("{}/snds", server.url())),
    );
    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", day]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert!(output.stderr.is_empty(), "{output:?}");
    let rows_before = stored_rows(dir.path());
    assert_eq!(rows_before.len(), 2);
    let requests_before = server.requests().len();

    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", day, "--refresh"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "snds account main day 2026-11-17: snds {}/snds/data.aspx?key=***&date=111726 \
             answered http 429 and asked to come back after 3600 s (at ",
            server.url()
        )) && stderr.contains("not asked again in this run"),
        "{stderr}"
    );
    // One request, not retried, and the account's ipStatus not asked either.
    let asked: Vec<String> = server.requests()[requests_before..]
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(asked, ["/snds/data.aspx"]);
    let rows_after = stored_rows(dir.path());
    assert_eq!(
        rows_after
            .iter()
            .map(|r| (&r.ip, r.trap_hits, &r.fetched_at))
            .collect::<Vec<_>>(),
        rows_before
            .iter()
            .map(|r| (&r.ip, r.trap_hits, &r.fetched_at))
            .collect::<Vec<_>>()
    );
    let blocked = Store::open(&dir.path().join("fbl.sqlite"))
        .unwrap()
        .snds_current_ip_status(Some("main"))
        .unwrap();
    assert_eq!(blocked.len(), 1, "{blocked:?}");
    assert_no_key(&output);

    // An hour from the answer, which came as soon as the run began at 08:00:00 (a busy
    // machine may take a second or two to get there).
    let named = kept_come_back(dir.path())
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert!(
        ("2026-11-20T09:00:00Z"..="2026-11-20T09:00:30Z").contains(&named.as_str()),
        "{named}"
    );

    // The runs before the time SNDS named do not ask: a cron run every ten minutes would
    // otherwise be told to wait, and mail it, six times an hour. It is no failure: exit 0.
    let requests_before = server.requests().len();
    let at = |now: &str, args: &[&str]| {
        run(fbl(dir.path())
            .args(["--config", "fbl.toml"])
            .args(args)
            .env(KEY_ENV, KEY)
            .env("FBL_NOW", now))
    };
    for (now, args) in [
        ("2026-11-20T08:00:00Z", &["snds", "fetch"][..]),
        ("2026-11-20T08:59:59Z", &["run"][..]),
    ] {
        let output = at(now, args);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert!(output.stderr.is_empty(), "{output:?}");
        assert_no_key(&output);
    }
    assert_eq!(
        server.requests().len(),
        requests_before,
        "asked before the time"
    );
    let output = at("2026-11-20T08:00:00Z", &["snds", "fetch"]);
    assert_eq!(
        stdout(&output),
        format!("  snds main: not asked: SNDS asked to come back at {named}\n")
    );
    let output = at("2026-11-20T08:30:00Z", &["snds", "status"]);
    assert!(
        stdout(&output).contains(&format!(
            "  SNDS asked to come back at {named}: no fetch asks before then"
        )),
        "{output:?}"
    );
    // At the time named, it is asked again (and answers 429 again here).
    let output = at(&named, &["snds", "fetch"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    assert_eq!(server.requests().len(), requests_before + 1);
    // An hour from this answer.
    let at = kept_come_back(dir.path());
    let named = chrono::DateTime::parse_from_rfc3339(&named).unwrap();
    assert!(
        at >= named + chrono::TimeDelta::hours(1) && at <= named + chrono::TimeDelta::seconds(3630),
        "{at}"
    );
}

#[test]
fn a_wait_past_the_calendar_is_kept_as_the_end_of_9999() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start(move |_, _| Reply::Respond {
        status: 503,
        headers: vec![("Retry-After", "999999999999".to_owned())],
        body: "busy".to_owned(),
    });
    write_config(
        dir.path(),
        &legacy_account("main", &format!("{}/snds", server.url())),
    );
    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", "2026-11-17"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let state = Store::open(&dir.path().join("fbl.sqlite"))
        .unwrap()
        .snds_account_state("main")
        .unwrap();
    assert_eq!(state.come_back_at.as_deref(), Some("9999-12-31T23:59:59Z"));
    let asked = server.requests().len();
    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", "2026-11-17"]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(server.requests().len(), asked, "not asked again");
}

#[test]
fn an_account_asked_again_after_the_time_snds_named_forgets_it_once_answered() {
    let dir = tempfile::tempdir().unwrap();
    let day = "2026-11-17";
    let body = row("192.0.2.10", day, 1500, "GREEN", 0);
    let server = TestServer::start(move |request, n| match (request.path(), n) {
        ("/snds/data.aspx", 0) => Reply::Respond {
            status: 503,
            headers: vec![("Retry-After", "600".to_owned())],
            body: "busy".to_owned(),
        },
        ("/snds/data.aspx", _) => csv(&body),
        _ => csv(""),
    });
    write_config(
        dir.path(),
        &legacy_account("main", &format!("{}/snds", server.url())),
    );
    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", day]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let come_back = |dir: &Path| {
        Store::open(&dir.join("fbl.sqlite"))
            .unwrap()
            .snds_account_state("main")
            .unwrap()
            .come_back_at
    };
    let at = come_back(dir.path()).unwrap();
    assert!(
        ("2026-11-20T08:10:00Z"..="2026-11-20T08:10:30Z").contains(&at.as_str()),
        "{at}"
    );
    let output = run(fbl(dir.path())
        .args(["--config", "fbl.toml", "snds", "fetch", "--date", day])
        .env(KEY_ENV, KEY)
        .env("FBL_NOW", &at));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stored_rows(dir.path()).len(), 1);
    assert_eq!(come_back(dir.path()), None);
    assert_no_key(&output);
}

#[test]
fn a_report_of_a_past_window_marks_ips_blocked_by_the_block_list_of_its_time() {
    let (dir, answers, _server) = legacy_setup();
    let at = |now: &str, args: &[&str]| {
        run(fbl(dir.path())
            .args(["--config", "fbl.toml"])
            .args(args)
            .env(KEY_ENV, KEY)
            .env("FBL_NOW", now))
    };
    // Blocked when fetched on 12 November, no longer when fetched on the 20th; blocked
    // again, another range, on the 25th.
    set_day(
        &answers,
        "2026-11-11",
        row("198.51.100.7", "2026-11-11", 9301, "RED", 0),
    );
    set_ip_status(
        &answers,
        "198.51.100.0,198.51.100.15,Yes,SpamHaus SBL/XBL\r\n",
    );
    let output = at(
        "2026-11-12T08:00:00Z",
        &["snds", "fetch", "--date", "2026-11-11"],
    );
    assert_ne!(output.status.code(), Some(2), "{output:?}");
    set_ip_status(&answers, "");
    let output = at(
        "2026-11-20T08:00:00Z",
        &["snds", "fetch", "--date", "2026-11-19"],
    );
    assert_ne!(output.status.code(), Some(2), "{output:?}");
    set_ip_status(
        &answers,
        "203.0.113.40,203.0.113.47,Yes,E-mail address harvesting\r\n",
    );
    let output = at(
        "2026-11-25T08:00:00Z",
        &["snds", "fetch", "--date", "2026-11-24"],
    );
    assert_ne!(output.status.code(), Some(2), "{output:?}");

    let report = |now: &str| {
        let output = at(now, &["report", "--days", "7", "--format", "json"]);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let json = json_of(&output);
        let blocked: Vec<(String, bool)> = json["ips"]
            .as_array()
            .unwrap()
            .iter()
            .map(|ip| {
                (
                    ip["ip"].as_str().unwrap().to_owned(),
                    ip["snds_blocked"].as_bool().unwrap(),
                )
            })
            .collect();
        let listed: Vec<(String, String)> = json["snds"]["ip_status"]
            .as_array()
            .unwrap()
            .iter()
            .map(|range| {
                (
                    range["first_ip"].as_str().unwrap().to_owned(),
                    range["since"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        (blocked, listed)
    };
    // The week of 12 November: the range was blocked then.
    assert_eq!(
        report("2026-11-13T12:00:00Z"),
        (
            vec![("198.51.100.7".to_owned(), true)],
            vec![("198.51.100.0".to_owned(), "2026-11-12T08:00:00Z".to_owned())]
        )
    );
    // Today: the list of the last fetch.
    assert_eq!(
        report("2026-11-26T12:00:00Z"),
        (
            vec![],
            vec![("203.0.113.40".to_owned(), "2026-11-25T08:00:00Z".to_owned())]
        )
    );
}

#[test]
fn a_window_start_that_cannot_be_read_is_set_aside_not_filed_under_a_guessed_day() {
    let (dir, answers, _server) = legacy_setup();
    let good = row("192.0.2.10", "2026-11-17", 1500, "GREEN", 0);
    // A two-digit year is this century's.
    let short_year = row("192.0.2.11", "2026-11-17", 700, "RED", 0).replace("/2026 ", "/26 ");
    let european = row("192.0.2.12", "2026-11-17", 900, "RED", 0)
        .replace("11/17/2026 4:00 PM", "17.11.2026 16:00");
    set_day(
        &answers,
        "2026-11-17",
        format!("{good}{short_year}{european}"),
    );
    let output = fbl_snds(dir.path(), &["snds", "fetch", "--date", "2026-11-17"]);
    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("row set aside") && stderr.contains("\"17.11.2026 16:00\""),
        "{stderr}"
    );
    assert!(!stderr.contains("0026"), "{stderr}");
    let stored: Vec<(String, String)> = stored_rows(dir.path())
        .into_iter()
        .map(|row| (row.day, row.ip))
        .collect();
    assert_eq!(
        stored,
        [
            ("2026-11-17".to_owned(), "192.0.2.10".to_owned()),
            ("2026-11-17".to_owned(), "192.0.2.11".to_owned()),
        ]
    );
    assert_no_key(&output);
}

/// The come-back time kept for account `main`, read back as a time.
fn kept_come_back(dir: &Path) -> chrono::DateTime<chrono::Utc> {
    let at = Store::open(&dir.join("fbl.sqlite"))
        .unwrap()
        .snds_account_state("main")
        .unwrap()
        .come_back_at
        .expect("a come-back time kept");
    chrono::DateTime::parse_from_rfc3339(&at)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

#[test]
fn the_come_back_time_is_counted_from_snds_answer_not_from_the_run_start() {
    // The first answer takes three seconds to fail; the retry is told to come back in an
    // hour. The run started at 08:00:00 (FBL_NOW): the hour starts at 08:00:03 at the
    // earliest, when SNDS answered.
    for args in [&["run"][..], &["snds", "fetch", "--date", "2026-11-17"][..]] {
        let dir = tempfile::tempdir().unwrap();
        let server = TestServer::start(|request, n| match (request.path(), n) {
            ("/snds/data.aspx", 0) => Reply::Hang(Duration::from_secs(3)),
            _ => Reply::Respond {
                status: 429,
                headers: vec![("Retry-After", "3600".to_owned())],
                body: "Too many requests".to_owned(),
            },
        });
        write_config(
            dir.path(),
            &legacy_account("main", &format!("{}/snds", server.url())),
        );
        let output = fbl_snds(dir.path(), args);
        assert_eq!(output.status.code(), Some(1), "{args:?} {output:?}");
        assert_eq!(server.requests().len(), 2, "{args:?}");
        let at = kept_come_back(dir.path());
        let earliest = chrono::DateTime::parse_from_rfc3339("2026-11-20T09:00:03Z").unwrap();
        let latest = chrono::DateTime::parse_from_rfc3339("2026-11-20T09:02:00Z").unwrap();
        assert!(at >= earliest && at < latest, "{args:?}: {at}");
        // A run just before that time does not ask; one at it does.
        let before = (at - chrono::TimeDelta::seconds(10)).to_rfc3339();
        let output = run(fbl(dir.path())
            .args(["--config", "fbl.toml", "snds", "fetch"])
            .env(KEY_ENV, KEY)
            .env("FBL_NOW", &before));
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        assert_eq!(server.requests().len(), 2, "asked before the time");
        assert_no_key(&output);
    }
}
