//! The SNDS client and the OAuth flows against a real HTTP server on 127.0.0.1: scripted
//! answers per path, retries, timeouts, broken connections, token refresh with rotation,
//! device-code polling, the loopback redirect listener, TLS with a private CA, and no secret
//! in any error.

use crate::http_server::{Reply, TestServer, csv, json, redirect, respond, write_test_ca};
use chrono::NaiveDate;
use fbl::oauth::{
    AuthorizationCode, LoopbackListener, OAuthClient, OAuthConfig, OAuthError, Pkce, TokenSet,
};
use fbl::snds::FilterColor;
use fbl::snds_client::{
    SndsClient, SndsClientError, SndsClientOptions, parse_automated_access_url,
};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "4f1c9e2a-SECRETKEY-77b3-0d5e6a8c9b10";
const TOKEN: &str = "eyJ0eXAi.SECRET-ACCESS-TOKEN.sig";
const REFRESH: &str = "M.C5_SECRET-REFRESH-TOKEN_1";

const DATA_CSV: &str = include_str!("../../fixtures/snds/data-14-fields.csv");
const IP_STATUS_CSV: &str = include_str!("../../fixtures/snds/ipstatus-ranges.csv");
const SIGN_IN_PAGE: &str = include_str!("../../fixtures/snds/data-sign-in-page.html");
const API_JSON: &str = include_str!("../../fixtures/snds/data-api.json");

// ---------------------------------------------------------------------------------------
// Helpers.

/// A client with short timeouts whose sleeps are recorded instead of slept.
fn client_with(options: SndsClientOptions) -> (SndsClient, Arc<Mutex<Vec<Duration>>>) {
    let sleeps = Arc::new(Mutex::new(Vec::new()));
    let recorded = sleeps.clone();
    let client = SndsClient::new(options)
        .unwrap()
        .with_sleep(move |pause| recorded.lock().unwrap().push(pause));
    (client, sleeps)
}

fn options() -> SndsClientOptions {
    SndsClientOptions {
        connect_timeout: Duration::from_secs(2),
        timeout: Duration::from_secs(3),
        max_attempts: 3,
        first_backoff: Duration::from_millis(100),
        max_backoff: Duration::from_secs(1),
        zone: fbl::zone::Zone::default_snds(),
        ca_file: None,
    }
}

fn default_client() -> (SndsClient, Arc<Mutex<Vec<Duration>>>) {
    client_with(options())
}

fn oauth_config(server: &TestServer) -> OAuthConfig {
    let mut config = OAuthConfig::public_client(
        &format!("{}/authorize", server.url()),
        &format!("{}/token", server.url()),
        Some(&format!("{}/devicecode", server.url())),
        "client-123",
        &["api://snds/.default", "offline_access"],
    );
    config.connect_timeout = Duration::from_secs(2);
    config.timeout = Duration::from_secs(3);
    config
}

/// A port on 127.0.0.1 that nothing listens on.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// Panics if `text` holds any secret or its URL-encoded form.
fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        KEY,
        TOKEN,
        REFRESH,
        "SECRETKEY",
        "SECRET-",
        "the-code-123",
        "dev-code-9",
    ] {
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        assert!(
            !text.contains(secret) && !text.contains(&encoded),
            "{what} leaks {secret:?}: {text}"
        );
    }
}

fn assert_error_has_no_secret(err: &dyn std::fmt::Debug, display: &str) {
    assert_no_secret("Display", display);
    assert_no_secret("Debug", &format!("{err:?}"));
    assert_no_secret("pretty Debug", &format!("{err:#?}"));
}

// ---------------------------------------------------------------------------------------
// Legacy automated access.

#[test]
fn legacy_data_sends_the_key_and_parses_the_csv() {
    let server = TestServer::start(|request, _| match request.path() {
        "/snds/data.aspx" => csv(DATA_CSV),
        _ => respond(404, "text/plain", "no"),
    });
    let (client, sleeps) = default_client();
    let report = client
        .fetch_legacy_data(&format!("{}/snds/", server.url()), KEY, None)
        .unwrap();
    assert_eq!(report.rows.len(), 4);
    assert_eq!(report.rows[2].filter_result, FilterColor::Red);
    assert_eq!(report.body, DATA_CSV);
    assert_eq!(report.content_type.as_deref(), Some("text/csv"));
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "GET");
    let query = requests[0].query();
    assert_eq!(query.get("key").map(String::as_str), Some(KEY));
    assert!(
        !query.contains_key("date"),
        "no date asks for the latest day"
    );
    assert!(sleeps.lock().unwrap().is_empty());
}

#[test]
fn legacy_data_date_is_mmddyy() {
    let server = TestServer::start(|_, _| csv(""));
    let (client, _) = default_client();
    for (date, expected) in [
        (NaiveDate::from_ymd_opt(2026, 2, 9).unwrap(), "020926"),
        (NaiveDate::from_ymd_opt(2020, 9, 29).unwrap(), "092920"),
        (NaiveDate::from_ymd_opt(2031, 12, 31).unwrap(), "123131"),
    ] {
        let report = client
            .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, Some(date))
            .unwrap();
        assert!(
            report.rows.is_empty(),
            "an empty body is a day without data"
        );
        let last = server.requests().pop().unwrap();
        assert_eq!(last.query().get("date").map(String::as_str), Some(expected));
    }
}

#[test]
fn legacy_ip_status() {
    let server = TestServer::start(|request, _| match request.path() {
        "/snds/ipStatus.aspx" => csv(IP_STATUS_CSV),
        _ => respond(404, "text/plain", "no"),
    });
    let (client, _) = default_client();
    let report = client
        .fetch_legacy_ip_status(&format!("{}/snds", server.url()), KEY)
        .unwrap();
    assert_eq!(report.ranges.len(), 4);
    assert!(report.ranges[0].contains("192.0.3.0".parse().unwrap()));
    assert_eq!(
        server.requests()[0].query().get("key").map(String::as_str),
        Some(KEY)
    );
}

#[test]
fn pasted_access_url_drives_a_fetch() {
    let server = TestServer::start(|request, _| match request.path() {
        "/snds/data.aspx" => csv(DATA_CSV),
        _ => respond(404, "text/plain", "no"),
    });
    let pasted = format!("{}/snds/data.aspx?key={KEY}", server.url());
    let access = parse_automated_access_url(&pasted).unwrap();
    assert_no_secret("LegacyAccess Debug", &format!("{access:?}"));
    let (client, _) = default_client();
    let report = client
        .fetch_legacy_data(&access.base_url, &access.key, None)
        .unwrap();
    assert_eq!(report.rows.len(), 4);
}

#[test]
fn legacy_sign_in_page_means_a_bad_key() {
    let server = TestServer::start(|request, _| match request.path() {
        "/snds/data.aspx" => respond(200, "text/html; charset=utf-8", SIGN_IN_PAGE),
        // A bad key redirected to a login page that carries the key along.
        "/snds/ipStatus.aspx" => redirect(&format!("/login?wreply=ipStatus.aspx%3Fkey%3D{KEY}")),
        "/login" => respond(200, "text/html", SIGN_IN_PAGE),
        _ => respond(404, "text/plain", "no"),
    });
    let (client, sleeps) = default_client();
    let base = format!("{}/snds", server.url());
    let err = client.fetch_legacy_data(&base, KEY, None).unwrap_err();
    assert!(matches!(err, SndsClientError::SignInPage { .. }), "{err:?}");
    assert_error_has_no_secret(&err, &err.to_string());
    let err = client.fetch_legacy_ip_status(&base, KEY).unwrap_err();
    assert!(matches!(err, SndsClientError::SignInPage { .. }), "{err:?}");
    assert_error_has_no_secret(&err, &err.to_string());
    assert!(
        sleeps.lock().unwrap().is_empty(),
        "a sign-in page is not retried"
    );
}

#[test]
fn legacy_404_is_an_expired_link_and_not_retried() {
    let server = TestServer::start(|_, _| respond(404, "text/html", "<h1>gone</h1>"));
    let (client, sleeps) = default_client();
    let err = client
        .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, None)
        .unwrap_err();
    assert!(
        matches!(err, SndsClientError::NotFound { status: 404, .. }),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1);
    assert!(sleeps.lock().unwrap().is_empty());
}

#[test]
fn other_4xx_answers_are_not_retried() {
    // 429 is retried: a_429_is_rate_limiting_retried_after_the_wait_it_asks_for.
    for status in [400, 418] {
        let server = TestServer::start(move |_, _| respond(status, "text/plain", "no"));
        let (client, _) = default_client();
        let err = client
            .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, None)
            .unwrap_err();
        assert_eq!(
            err,
            SndsClientError::Http {
                url: format!("{}/snds/data.aspx?key=***", server.url()),
                status,
                attempts: 1
            }
        );
        assert_eq!(server.requests().len(), 1);
    }
}

#[test]
fn a_500_is_retried_and_the_next_answer_used() {
    let server = TestServer::start(|_, nth| match nth {
        0 => respond(500, "text/plain", "busy"),
        _ => csv(DATA_CSV),
    });
    let (client, sleeps) = default_client();
    let report = client
        .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, None)
        .unwrap();
    assert_eq!(report.rows.len(), 4);
    assert_eq!(server.requests().len(), 2);
    assert_eq!(*sleeps.lock().unwrap(), [Duration::from_millis(100)]);
}

#[test]
fn retries_are_bounded_and_back_off_exponentially() {
    let server = TestServer::start(|_, _| respond(503, "text/plain", "down"));
    let (client, sleeps) = client_with(SndsClientOptions {
        max_attempts: 4,
        max_backoff: Duration::from_millis(300),
        ..options()
    });
    let err = client
        .fetch_legacy_ip_status(&format!("{}/snds", server.url()), KEY)
        .unwrap_err();
    assert!(
        matches!(
            err,
            SndsClientError::Http {
                status: 503,
                attempts: 4,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 4);
    let waits: Vec<u128> = sleeps
        .lock()
        .unwrap()
        .iter()
        .map(Duration::as_millis)
        .collect();
    assert_eq!(waits, [100, 200, 300]);
    assert_error_has_no_secret(&err, &err.to_string());
}

#[test]
fn a_server_that_never_answers_times_out() {
    let server = TestServer::start(|_, _| Reply::Hang(Duration::from_secs(3)));
    let (client, sleeps) = client_with(SndsClientOptions {
        timeout: Duration::from_millis(300),
        max_attempts: 2,
        ..options()
    });
    let started = Instant::now();
    let err = client
        .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, None)
        .unwrap_err();
    assert!(
        matches!(err, SndsClientError::Timeout { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sleeps.lock().unwrap().len(), 1, "a timeout is retried");
    assert_error_has_no_secret(&err, &err.to_string());
}

#[test]
fn a_connection_closed_mid_response_is_a_network_error_and_retried() {
    let broken = || Reply::CloseMidBody {
        declared: 5000,
        sent: DATA_CSV[..40].to_owned(),
    };
    let server = TestServer::start(move |_, _| broken());
    let (client, sleeps) = default_client();
    let err = client
        .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, None)
        .unwrap_err();
    assert!(
        matches!(err, SndsClientError::Network { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(sleeps.lock().unwrap().len(), 2);
    assert_error_has_no_secret(&err, &err.to_string());

    let server = TestServer::start(move |_, nth| if nth == 0 { broken() } else { csv(DATA_CSV) });
    let (client, _) = default_client();
    let report = client
        .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, None)
        .unwrap();
    assert_eq!(report.rows.len(), 4);
}

/// `body` split before its last row.
fn split_last_row(body: &str) -> (&str, &str) {
    let cut = body.trim_end().rfind('\n').unwrap() + 1;
    (&body[..cut], &body[cut..])
}

#[test]
fn an_answer_without_a_length_cut_anywhere_in_its_last_row_never_passes_for_whole() {
    // The server closes the connection to end each answer: a cut in transfer looks the
    // same to the client, whether it falls in the first field or the comments (field 14).
    let answer = Arc::new(Mutex::new(String::new()));
    let served = answer.clone();
    let server = TestServer::start(move |_, _| Reply::CloseWithoutLength {
        body: served.lock().unwrap().clone(),
    });
    let base = format!("{}/snds", server.url());
    let (client, _) = default_client();
    let (rows_before, last_row) = split_last_row(DATA_CSV);
    let last_ip = last_row.split(',').next().unwrap();
    assert!(last_row.contains("JMR Block\r\n"), "{last_row:?}");
    // Every cut from the row's first byte to its CR; cut after the CR, it is whole.
    for at in 1..last_row.len() - 1 {
        *answer.lock().unwrap() = format!("{rows_before}{}", &last_row[..at]);
        let report = client.fetch_legacy_data(&base, KEY, None).unwrap();
        let ips: Vec<String> = report.rows.iter().map(|row| row.ip.to_string()).collect();
        assert_eq!(ips.len(), 3, "cut at {at}: {ips:?}");
        assert!(!ips.iter().any(|ip| ip == last_ip), "cut at {at}: {ips:?}");
        let rejected: Vec<String> = report.rejected.iter().map(|e| e.to_string()).collect();
        assert!(
            rejected.len() == 1
                && rejected[0].contains("line 4")
                && rejected[0].contains("cut off"),
            "cut at {at}: {rejected:?}"
        );
    }
    for whole in [DATA_CSV.to_owned(), DATA_CSV.replace("\r\n", "\n")] {
        *answer.lock().unwrap() = whole;
        let report = client.fetch_legacy_data(&base, KEY, None).unwrap();
        assert_eq!((report.rows.len(), report.rejected.len()), (4, 0));
    }

    // ipStatus is the whole block list, a range missing from it unblocked: a cut one is
    // refused whole, wherever in the last row the cut falls (the details included).
    let (ranges_before, last_range) = split_last_row(IP_STATUS_CSV);
    assert!(
        last_range.contains("Symantec Brightmail\"\r\n"),
        "{last_range:?}"
    );
    for at in 1..last_range.len() - 1 {
        *answer.lock().unwrap() = format!("{ranges_before}{}", &last_range[..at]);
        let err = client.fetch_legacy_ip_status(&base, KEY).unwrap_err();
        assert!(
            matches!(err, SndsClientError::Unparseable { .. })
                && err.to_string().contains("line 4")
                && err.to_string().contains("cut off")
                && err.to_string().contains("not applied"),
            "cut at {at}: {err}"
        );
        assert_error_has_no_secret(&err, &err.to_string());
    }
    *answer.lock().unwrap() = IP_STATUS_CSV.to_owned();
    assert_eq!(
        client
            .fetch_legacy_ip_status(&base, KEY)
            .unwrap()
            .ranges
            .len(),
        4
    );
}

#[test]
fn an_answer_whose_length_is_told_is_whole_without_a_final_line_end() {
    // With a `Content-Length`, or in chunks, a cut in transfer is the HTTP client's error:
    // what arrives is the whole answer, even when its last row has no line end.
    let body = DATA_CSV.trim_end().to_owned();
    let (first, second) = body.split_at(body.len() / 2);
    let (first, second) = (first.to_owned(), second.to_owned());
    let server = TestServer::start(move |request, _| match request.path() {
        "/length/data.aspx" => csv(&body),
        "/chunked/data.aspx" => Reply::Chunked {
            chunks: vec![first.clone(), second.clone()],
            finished: true,
        },
        _ => Reply::Chunked {
            chunks: vec![first.clone()],
            finished: false,
        },
    });
    let (client, sleeps) = default_client();
    for base in ["length", "chunked"] {
        let report = client
            .fetch_legacy_data(&format!("{}/{base}", server.url()), KEY, None)
            .unwrap();
        assert_eq!((report.rows.len(), report.rejected.len()), (4, 0), "{base}");
        assert_eq!(report.rows[3].comments.as_deref(), Some("JMR Block"));
    }
    assert!(sleeps.lock().unwrap().is_empty());
    let err = client
        .fetch_legacy_data(&format!("{}/cut", server.url()), KEY, None)
        .unwrap_err();
    assert!(
        matches!(err, SndsClientError::Network { attempts: 3, .. }),
        "{err:?}"
    );
    assert_error_has_no_secret(&err, &err.to_string());
}

#[test]
fn a_refused_connection_is_a_network_error() {
    let (client, sleeps) = default_client();
    let base = format!("http://127.0.0.1:{}/snds", closed_port());
    let err = client.fetch_legacy_data(&base, KEY, None).unwrap_err();
    assert!(
        matches!(err, SndsClientError::Network { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("key=***"), "{err}");
    assert_eq!(sleeps.lock().unwrap().len(), 2);
    assert_error_has_no_secret(&err, &err.to_string());
}

#[test]
fn a_body_that_is_not_csv_is_unparseable() {
    let server = TestServer::start(|_, _| csv("Service temporarily unavailable, try later\r\n"));
    let (client, _) = default_client();
    let err = client
        .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, None)
        .unwrap_err();
    assert!(
        matches!(err, SndsClientError::Unparseable { .. }),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------
// The new API.

#[test]
fn api_data_sends_the_bearer_token_and_reads_json_or_csv() {
    let server = TestServer::start(|request, _| match request.path() {
        "/snds-api/api/report/data/2026-06-10" => json(200, API_JSON),
        "/snds-api/api/report/data/2026-06-11" => csv(DATA_CSV),
        _ => respond(404, "text/plain", "no"),
    });
    let (client, _) = default_client();
    let base = format!("{}/snds-api/", server.url());
    let day = NaiveDate::from_ymd_opt(2026, 6, 10).unwrap();
    let report = client.fetch_api_data(&base, TOKEN, day).unwrap();
    assert_eq!(report.rows.len(), 2);
    assert_eq!(report.rows[1].trap_hits, 7);
    let report = client
        .fetch_api_data(&base, TOKEN, day.succ_opt().unwrap())
        .unwrap();
    assert_eq!(report.rows.len(), 4);
    for request in server.requests() {
        let expected = format!("Bearer {TOKEN}");
        assert_eq!(request.header("authorization"), Some(expected.as_str()));
        assert!(!request.target.contains(TOKEN));
    }
}

#[test]
fn api_ip_status() {
    let server = TestServer::start(|request, _| match request.path() {
        "/api/report/status/ip" => json(
            200,
            r#"[{"firstIp":"192.0.2.254","lastIp":"192.0.3.1","blocked":true,"details":"x"}]"#,
        ),
        _ => respond(404, "text/plain", "no"),
    });
    let (client, _) = default_client();
    let report = client.fetch_api_ip_status(&server.url(), TOKEN).unwrap();
    assert_eq!(report.ranges.len(), 1);
    assert!(report.ranges[0].blocked);
}

#[test]
fn api_401_403_redirect_and_html_mean_login_again() {
    let server = TestServer::start(|request, _| match request.path() {
        "/a/api/report/status/ip" => respond(401, "application/json", r#"{"error":"x"}"#),
        "/b/api/report/status/ip" => respond(403, "text/plain", "forbidden"),
        "/c/api/report/status/ip" => redirect("/login"),
        "/d/api/report/status/ip" => respond(200, "text/html", SIGN_IN_PAGE),
        _ => respond(200, "text/html", SIGN_IN_PAGE),
    });
    let (client, sleeps) = default_client();
    for (prefix, status) in [("a", 401), ("b", 403), ("c", 302), ("d", 200)] {
        let err = client
            .fetch_api_ip_status(&format!("{}/{prefix}", server.url()), TOKEN)
            .unwrap_err();
        assert!(
            matches!(err, SndsClientError::LoginNeeded { status: s, .. } if s == status),
            "{prefix}: {err:?}"
        );
        assert_error_has_no_secret(&err, &err.to_string());
    }
    assert!(
        !server.requests().iter().any(|r| r.path() == "/login"),
        "the API's redirects are not followed"
    );
    assert!(sleeps.lock().unwrap().is_empty());
}

// ---------------------------------------------------------------------------------------
// OAuth.

#[test]
fn refresh_returns_the_rotated_refresh_token() {
    let server = TestServer::start(|request, nth| {
        let form = request.form();
        assert_eq!(request.method, "POST");
        assert_eq!(form["grant_type"], "refresh_token");
        assert_eq!(form["client_id"], "client-123");
        assert_eq!(form["scope"], "api://snds/.default offline_access");
        assert_eq!(form["refresh_token"], REFRESH);
        match nth {
            0 => json(
                200,
                r#"{"token_type":"Bearer","access_token":"AT-2","refresh_token":"RT-2","expires_in":3599,"scope":"api://snds/.default"}"#,
            ),
            _ => json(
                200,
                r#"{"token_type":"Bearer","access_token":"AT-3","expires_in":"3600"}"#,
            ),
        }
    });
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    let before = chrono::Utc::now();
    let rotated = client.refresh(REFRESH).unwrap();
    assert_eq!(rotated.access_token, "AT-2");
    assert_eq!(rotated.refresh_token.as_deref(), Some("RT-2"));
    let lifetime = rotated.expires_at - before;
    assert!(
        (3590..=3600).contains(&lifetime.num_seconds()),
        "{lifetime}"
    );
    let kept = client.refresh(REFRESH).unwrap();
    assert_eq!(
        kept.refresh_token.as_deref(),
        Some(REFRESH),
        "no rotation keeps the old one"
    );
    assert_no_secret("TokenSet Debug", &format!("{kept:?}"));
    assert_eq!(
        server.requests()[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
}

#[test]
fn an_expired_refresh_token_is_invalid_grant_without_the_token() {
    let server = TestServer::start(|_, _| {
        json(
            400,
            &format!(
                r#"{{"error":"invalid_grant","error_description":"AADSTS70008: The refresh token {REFRESH} has expired.\r\nTrace ID: 1"}}"#
            ),
        )
    });
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    let err = client.refresh(REFRESH).unwrap_err();
    assert!(
        matches!(&err, OAuthError::InvalidGrant { error, .. } if error == "invalid_grant"),
        "{err:?}"
    );
    assert!(err.to_string().contains("AADSTS70008"), "{err}");
    assert_error_has_no_secret(&err, &err.to_string());
}

#[test]
fn a_token_echoed_where_an_oauth_error_is_cut_short_shows_none_of_it() {
    // The description is quoted up to 300 characters: the padding puts the refresh token
    // across that point, as sent and upper-cased, leaving 8 to 20 of its characters.
    let echoes: Vec<String> = [REFRESH.to_owned(), REFRESH.to_ascii_uppercase()]
        .into_iter()
        .flat_map(|echoed| {
            [8, 13, 20].map(|left| {
                format!(
                    "{:<width$}{echoed} is not valid",
                    "AADSTS9002313: Invalid request. Token:",
                    width = 300 - left
                )
            })
        })
        .collect();
    let answers = echoes.clone();
    let server = TestServer::start(move |_, nth| {
        let description = serde_json::to_string(&answers[nth]).unwrap();
        json(
            400,
            &format!(r#"{{"error":"invalid_grant","error_description":{description}}}"#),
        )
    });
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    for _ in &echoes {
        let err = client.refresh(REFRESH).unwrap_err();
        let shown = format!("{err} {err:?}").to_ascii_lowercase();
        assert!(shown.contains("aadsts9002313"), "{shown}");
        let chars: Vec<char> = REFRESH.to_ascii_lowercase().chars().collect();
        for window in chars.windows(8) {
            let part: String = window.iter().collect();
            assert!(!shown.contains(&part), "shows {part:?}: {shown}");
        }
    }
}

/// A token endpoint briefly down (a 5xx) is asked once more, so that one blip does not fail a
/// cron run; a refusal of the grant, or a second failure, is not retried.
#[test]
fn a_token_endpoint_briefly_down_is_asked_once_more() {
    let server = TestServer::start(|_, nth| match nth {
        0 => respond(503, "text/plain", "busy"),
        1 => json(
            200,
            r#"{"token_type":"Bearer","access_token":"AT-9","expires_in":3600}"#,
        ),
        2 | 3 => respond(500, "text/plain", "down"),
        _ => json(400, r#"{"error":"invalid_grant"}"#),
    });
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    assert_eq!(client.refresh(REFRESH).unwrap().access_token, "AT-9");
    assert!(matches!(
        client.refresh(REFRESH).unwrap_err(),
        OAuthError::Http { status: 500, .. }
    ));
    assert!(matches!(
        client.refresh(REFRESH).unwrap_err(),
        OAuthError::InvalidGrant { .. }
    ));
    assert_eq!(server.requests().len(), 5, "a refused grant is asked once");
}

#[test]
fn token_endpoint_failures_are_typed() {
    // A 5xx is asked once more (see `a_token_endpoint_briefly_down_is_asked_once_more`):
    // requests 1 and 2 are one refresh.
    let server = TestServer::start(|_, nth| match nth {
        0 => json(401, r#"{"error":"invalid_client"}"#),
        1 | 2 => respond(502, "text/html", "<html>bad gateway</html>"),
        3 => json(200, r#"{"token_type":"Bearer"}"#),
        _ => Reply::Hang(Duration::from_secs(2)),
    });
    let mut config = oauth_config(&server);
    config.timeout = Duration::from_millis(300);
    let client = OAuthClient::new(config).unwrap();
    let errors = [
        client.refresh(REFRESH).unwrap_err(),
        client.refresh(REFRESH).unwrap_err(),
        client.refresh(REFRESH).unwrap_err(),
        client.refresh(REFRESH).unwrap_err(),
    ];
    assert!(
        matches!(&errors[0], OAuthError::Http { status: 401, error: Some(e), .. } if e == "invalid_client")
    );
    assert!(matches!(
        &errors[1],
        OAuthError::Http {
            status: 502,
            error: None,
            ..
        }
    ));
    assert!(
        matches!(&errors[2], OAuthError::BadResponse { .. }),
        "{:?}",
        errors[2]
    );
    assert!(
        matches!(&errors[3], OAuthError::Timeout { .. }),
        "{:?}",
        errors[3]
    );
    for err in &errors {
        assert_error_has_no_secret(err, &err.to_string());
    }
    let refused = OAuthClient::new(OAuthConfig::public_client(
        "http://127.0.0.1:1/authorize",
        &format!("http://127.0.0.1:{}/token", closed_port()),
        None,
        "client-123",
        &[],
    ))
    .unwrap()
    .refresh(REFRESH)
    .unwrap_err();
    assert!(matches!(refused, OAuthError::Network { .. }), "{refused:?}");
    assert_error_has_no_secret(&refused, &refused.to_string());
}

#[test]
fn code_exchange_sends_the_verifier_and_redirect_uri() {
    let server = TestServer::start(|request, _| {
        let form = request.form();
        assert_eq!(form["grant_type"], "authorization_code");
        assert_eq!(form["code"], "the-code-123");
        assert_eq!(form["redirect_uri"], "http://127.0.0.1:9/");
        assert_eq!(form["code_verifier"], "v".repeat(43));
        assert_eq!(form["client_id"], "client-123");
        assert!(!form.contains_key("client_secret"));
        json(
            200,
            r#"{"access_token":"AT-1","refresh_token":"RT-1","expires_in":3600}"#,
        )
    });
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    let tokens: TokenSet = client
        .exchange_code(
            &AuthorizationCode::new("the-code-123".to_owned()),
            &Pkce::from_verifier("v".repeat(43)),
            "http://127.0.0.1:9/",
        )
        .unwrap();
    assert_eq!(tokens.access_token, "AT-1");
    assert_eq!(tokens.refresh_token.as_deref(), Some("RT-1"));
}

#[test]
fn a_rejected_code_names_no_code() {
    let server = TestServer::start(|_, _| {
        json(
            400,
            r#"{"error":"invalid_grant","error_description":"AADSTS54005: the-code-123 was already redeemed."}"#,
        )
    });
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    let err = client
        .exchange_code(
            &AuthorizationCode::new("the-code-123".to_owned()),
            &Pkce::generate(),
            "http://127.0.0.1:9/",
        )
        .unwrap_err();
    assert!(matches!(err, OAuthError::InvalidGrant { .. }), "{err:?}");
    assert_error_has_no_secret(&err, &err.to_string());
}

fn device_server(poll_answers: Vec<&'static str>) -> TestServer {
    TestServer::start(move |request, nth| match request.path() {
        "/devicecode" => {
            assert_eq!(
                request.form()["scope"],
                "api://snds/.default offline_access"
            );
            json(
                200,
                r#"{"device_code":"dev-code-9","user_code":"ABCD-EFGH","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":5,"message":"To sign in, use a web browser."}"#,
            )
        }
        "/token" => {
            let form = request.form();
            assert_eq!(
                form["grant_type"],
                "urn:ietf:params:oauth:grant-type:device_code"
            );
            assert_eq!(form["device_code"], "dev-code-9");
            let answer = poll_answers[nth.min(poll_answers.len() - 1)];
            if answer.starts_with('{') {
                json(200, answer)
            } else {
                json(400, &format!(r#"{{"error":"{answer}"}}"#))
            }
        }
        _ => respond(404, "text/plain", "no"),
    })
}

#[test]
fn device_code_polling_waits_backs_off_and_succeeds() {
    let server = device_server(vec![
        "authorization_pending",
        "slow_down",
        "authorization_pending",
        r#"{"access_token":"AT-D","refresh_token":"RT-D","expires_in":3600}"#,
    ]);
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    let device = client.start_device_authorization().unwrap();
    assert_eq!(device.user_code, "ABCD-EFGH");
    assert_eq!(device.verification_uri, "https://microsoft.com/devicelogin");
    assert_eq!(device.interval, Duration::from_secs(5));
    assert_eq!(device.expires_in, Duration::from_secs(900));
    assert_no_secret("DeviceAuthorization Debug", &format!("{device:?}"));
    let mut sleeps = Vec::new();
    let tokens = client
        .poll_device_authorization(&device, &mut |pause| sleeps.push(pause.as_secs()))
        .unwrap();
    assert_eq!(tokens.access_token, "AT-D");
    assert_eq!(sleeps, [5, 5, 10, 10], "slow_down adds 5 s to the interval");
}

#[test]
fn device_code_expiry_is_reported() {
    let server = device_server(vec!["authorization_pending", "expired_token"]);
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    let device = client.start_device_authorization().unwrap();
    let err = client
        .poll_device_authorization(&device, &mut |_| {})
        .unwrap_err();
    assert_eq!(err, OAuthError::DeviceCodeExpired);

    // The server never says expired: polling stops once `expires_in` has been slept through.
    let server = device_server(vec!["authorization_pending"]);
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    let mut device = client.start_device_authorization().unwrap();
    device.expires_in = Duration::from_secs(12);
    let mut polls = 0;
    let err = client
        .poll_device_authorization(&device, &mut |_| polls += 1)
        .unwrap_err();
    assert_eq!(err, OAuthError::DeviceCodeExpired);
    assert_eq!(polls, 3);

    let server = device_server(vec!["authorization_declined"]);
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    let device = client.start_device_authorization().unwrap();
    let err = client
        .poll_device_authorization(&device, &mut |_| {})
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::AuthorizationDenied { .. }),
        "{err:?}"
    );
    assert_error_has_no_secret(&err, &err.to_string());
}

// ---------------------------------------------------------------------------------------
// The loopback redirect listener, driven by a real HTTP client.

fn browser() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

#[test]
fn loopback_listener_receives_the_code() {
    let listener = LoopbackListener::bind().unwrap();
    let redirect_uri = listener.redirect_uri();
    assert!(
        redirect_uri.starts_with("http://127.0.0.1:"),
        "{redirect_uri}"
    );
    let waiting =
        std::thread::spawn(move || listener.wait_for_code("st-1", Duration::from_secs(10)));
    // Browsers open connections ahead of need and may leave them idle.
    let _idle_preconnection = TcpStream::connect(
        redirect_uri
            .trim_start_matches("http://")
            .trim_end_matches('/'),
    )
    .unwrap();
    let browser = browser();
    let started = Instant::now();
    let favicon = browser
        .get(format!("{redirect_uri}favicon.ico"))
        .send()
        .unwrap();
    assert_eq!(
        favicon.status().as_u16(),
        404,
        "other requests do not end the wait"
    );
    let page = browser
        .get(format!("{redirect_uri}?code=the-code-123&state=st-1"))
        .send()
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let html = page.text().unwrap();
    assert!(html.contains("Signed in"), "{html}");
    assert!(!html.contains("the-code-123"));
    let code = waiting.join().unwrap().unwrap();
    assert_eq!(code.secret(), "the-code-123");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

/// A redirect of another login (a stale tab, or a request forged by anything that can reach
/// loopback) is refused and neither ends the login nor gives it a code: the real one, which
/// comes next, still signs in.
#[test]
fn loopback_listener_rejects_a_wrong_state_and_reports_errors() {
    let listener = LoopbackListener::bind().unwrap();
    let redirect_uri = listener.redirect_uri();
    let waiting =
        std::thread::spawn(move || listener.wait_for_code("st-1", Duration::from_secs(10)));
    for forged in [
        "?code=the-forged-code&state=forged",
        "?code=the-forged-code",
        "?error=access_denied&state=forged",
    ] {
        let page = browser()
            .get(format!("{redirect_uri}{forged}"))
            .send()
            .unwrap();
        assert_eq!(page.status().as_u16(), 400, "{forged}");
        assert!(page.text().unwrap().contains("goes on waiting"), "{forged}");
    }
    let page = browser()
        .get(format!("{redirect_uri}?code=the-code-123&state=st-1"))
        .send()
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert_eq!(waiting.join().unwrap().unwrap().secret(), "the-code-123");

    let listener = LoopbackListener::bind().unwrap();
    let redirect_uri = listener.redirect_uri();
    let waiting =
        std::thread::spawn(move || listener.wait_for_code("st-1", Duration::from_secs(10)));
    let page = browser()
        .get(format!(
            "{redirect_uri}?error=access_denied&error_description=<script>no</script>&state=st-1"
        ))
        .send()
        .unwrap();
    assert_eq!(page.status().as_u16(), 400);
    assert!(
        !page.text().unwrap().contains("<script>"),
        "the page escapes what it echoes"
    );
    let err = waiting.join().unwrap().unwrap_err();
    assert!(
        matches!(err, OAuthError::AuthorizationDenied { .. }),
        "{err:?}"
    );
}

#[test]
fn loopback_listener_times_out() {
    let listener = LoopbackListener::bind().unwrap();
    let started = Instant::now();
    let err = listener
        .wait_for_code("st-1", Duration::from_millis(200))
        .unwrap_err();
    assert!(matches!(err, OAuthError::LoopbackTimeout { .. }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn full_login_with_loopback_redirect_and_code_exchange() {
    let server = TestServer::start(|request, _| {
        let form = request.form();
        assert_eq!(form["code"], "the-code-123");
        json(
            200,
            r#"{"access_token":"AT-L","refresh_token":"RT-L","expires_in":60}"#,
        )
    });
    let client = OAuthClient::new(oauth_config(&server)).unwrap();
    let listener = LoopbackListener::bind().unwrap();
    let redirect_uri = listener.redirect_uri();
    let pkce = Pkce::generate();
    let state = fbl::oauth::new_state();
    let authorize = client
        .authorization_url(&redirect_uri, &state, &pkce, &[])
        .unwrap();
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/authorize?", server.url()))
    );
    let expected_state = state.clone();
    let waiting = std::thread::spawn(move || {
        listener.wait_for_code(&expected_state, Duration::from_secs(10))
    });
    // The authorization server would redirect the browser here.
    let mut redirect = url::Url::parse(&redirect_uri).unwrap();
    redirect
        .query_pairs_mut()
        .append_pair("code", "the-code-123")
        .append_pair("state", &state);
    browser().get(redirect).send().unwrap();
    let code = waiting.join().unwrap().unwrap();
    let tokens = client.exchange_code(&code, &pkce, &redirect_uri).unwrap();
    assert_eq!(tokens.access_token, "AT-L");
    assert_eq!(
        server.requests()[0].form()["code_verifier"],
        pkce.verifier()
    );
}

// ---------------------------------------------------------------------------------------
// No secret in any error shape.

#[test]
fn no_error_shape_shows_the_key_or_token() {
    let server = TestServer::start(|request, nth| match request.path() {
        "/sign-in/data.aspx" => respond(200, "text/html", SIGN_IN_PAGE),
        "/gone/data.aspx" => respond(404, "text/plain", "gone"),
        "/teapot/data.aspx" => respond(418, "text/plain", "no"),
        "/down/data.aspx" => respond(500, "text/plain", "down"),
        // A body that echoes the key where the IP belongs.
        "/echo/data.aspx" => csv(&format!("{KEY},2/10/2026 4:00 PM,,1,1,1,GREEN,< 0.1%\r\n")),
        "/echo/ipStatus.aspx" => csv(&format!("{KEY},{KEY},Yes,x\r\n")),
        "/hang/data.aspx" => Reply::Hang(Duration::from_secs(2)),
        "/broken/data.aspx" => Reply::CloseMidBody {
            declared: 999,
            sent: "192.0.2.1,".to_owned(),
        },
        "/off-site/data.aspx" => redirect(&format!(
            "http://127.0.0.1:{}/login?key={KEY}",
            closed_port()
        )),
        "/limited/data.aspx" => Reply::Respond {
            status: 429,
            headers: vec![("Retry-After", "0".to_owned())],
            body: format!("too many requests for key {KEY}"),
        },
        "/plain/data.aspx" => redirect(&format!("http://192.0.2.1/snds/data.aspx?key={KEY}")),
        "/api/api/report/data/2026-06-10" if nth == 0 => respond(401, "text/plain", "no"),
        "/api/api/report/data/2026-06-10" => json(200, &format!(r#"[{{"ipAddress":"{TOKEN}"}}]"#)),
        _ => respond(404, "text/plain", "no"),
    });
    let (client, _) = client_with(SndsClientOptions {
        timeout: Duration::from_millis(300),
        max_attempts: 2,
        ..options()
    });
    let mut errors: Vec<SndsClientError> = [
        "sign-in", "gone", "teapot", "down", "echo", "hang", "broken", "off-site", "plain",
        "limited",
    ]
    .iter()
    .map(|prefix| {
        client
            .fetch_legacy_data(&format!("{}/{prefix}", server.url()), KEY, None)
            .unwrap_err()
    })
    .collect();
    errors.push(
        client
            .fetch_legacy_ip_status(&format!("{}/echo", server.url()), KEY)
            .unwrap_err(),
    );
    errors.push(
        client
            .fetch_legacy_data(&format!("http://127.0.0.1:{}", closed_port()), KEY, None)
            .unwrap_err(),
    );
    // The whole pasted link given as a base URL.
    errors.push(
        client
            .fetch_legacy_data(
                &format!("{}/snds/data.aspx?key={KEY}", server.url()),
                KEY,
                None,
            )
            .unwrap_err(),
    );
    errors.push(parse_automated_access_url(&format!("{KEY} is my key")).unwrap_err());
    let day = NaiveDate::from_ymd_opt(2026, 6, 10).unwrap();
    let api_base = format!("{}/api", server.url());
    errors.push(client.fetch_api_data(&api_base, TOKEN, day).unwrap_err());
    errors.push(client.fetch_api_data(&api_base, TOKEN, day).unwrap_err());

    let kinds: Vec<&str> = errors
        .iter()
        .map(|err| match err {
            SndsClientError::SignInPage { .. } => "sign-in",
            SndsClientError::NotFound { .. } => "not-found",
            SndsClientError::LoginNeeded { .. } => "login",
            SndsClientError::Unparseable { .. } => "unparseable",
            SndsClientError::Http { .. } => "http",
            SndsClientError::Network { .. } => "network",
            SndsClientError::Timeout { .. } => "timeout",
            SndsClientError::BadAccessUrl { .. } => "bad-access-url",
            SndsClientError::BadBaseUrl { .. } => "bad-base-url",
            SndsClientError::ClientSetup { .. } => "setup",
            SndsClientError::Local { .. } => "local",
            SndsClientError::UnsafeRedirect { .. } => "unsafe-redirect",
            SndsClientError::RateLimited { .. } => "rate-limited",
            SndsClientError::ComeBackLater { .. } => "come-back-later",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "sign-in",
            "not-found",
            "http",
            "http",
            "unparseable",
            "timeout",
            "network",
            "network",
            "unsafe-redirect",
            "rate-limited",
            "unparseable",
            "network",
            "bad-base-url",
            "bad-access-url",
            "login",
            "unparseable",
        ]
    );
    for err in &errors {
        assert_error_has_no_secret(err, &err.to_string());
        if let Some(source) = std::error::Error::source(err) {
            assert_error_has_no_secret(&source, &source.to_string());
        }
    }
}

// ---------------------------------------------------------------------------------------
// TLS with a private CA.

#[test]
fn https_with_the_test_ca_in_ca_file() {
    let server = TestServer::start_tls(|request, _| match request.path() {
        "/snds/data.aspx" => csv(DATA_CSV),
        "/token" => json(
            200,
            r#"{"access_token":"AT-9","refresh_token":"RT-9","expires_in":3600}"#,
        ),
        _ => respond(404, "text/plain", "no"),
    });
    assert!(server.url().starts_with("https://"));
    let base = format!("{}/snds", server.url());
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write_test_ca(dir.path());
    let (trusting, _) = client_with(SndsClientOptions {
        ca_file: Some(ca_file.clone()),
        ..options()
    });
    let report = trusting.fetch_legacy_data(&base, KEY, None).unwrap();
    assert_eq!(report.rows.len(), 4);

    let (untrusting, _) = client_with(SndsClientOptions {
        max_attempts: 1,
        ..options()
    });
    let err = untrusting.fetch_legacy_data(&base, KEY, None).unwrap_err();
    assert!(
        matches!(err, SndsClientError::Network { .. }),
        "a certificate from an unknown CA is refused: {err:?}"
    );
    assert_error_has_no_secret(&err, &err.to_string());

    let mut config = oauth_config(&server);
    config.ca_file = Some(ca_file);
    let tokens = OAuthClient::new(config).unwrap().refresh(REFRESH).unwrap();
    assert_eq!(tokens.access_token, "AT-9");
}

#[test]
fn a_ca_file_that_is_not_pem_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, "not a certificate").unwrap();
    let err = SndsClient::new(SndsClientOptions {
        ca_file: Some(path.clone()),
        ..options()
    })
    .unwrap_err();
    assert!(
        matches!(&err, SndsClientError::ClientSetup { reason } if reason.contains("ca.pem")),
        "{err:?}"
    );
    let mut config = OAuthConfig::public_client("https://a/", "https://t/", None, "c", &["s"]);
    config.ca_file = Some(dir.path().join("missing.pem"));
    assert!(matches!(
        OAuthClient::new(config),
        Err(OAuthError::BadConfig { .. })
    ));
}

/// Panics if `text` holds any 8 characters in a row of `secret`.
fn assert_no_part_of(secret: &str, text: &str) {
    let chars: Vec<char> = secret.chars().collect();
    for window in chars.windows(8) {
        let part: String = window.iter().collect();
        assert!(!text.contains(&part), "shows {part:?} of a secret: {text}");
    }
}

/// A broken first column that quotes `secret`, padded so that the point where an error
/// stops quoting (60 characters) leaves `left` characters of it.
fn echo_row(secret: &str, left: usize) -> String {
    let text = format!(
        "{:<width$}{secret} please renew",
        "Unknown key in request:",
        width = 60 - left
    );
    format!("{text},,,,,,,,,,,,,\r\n")
}

#[test]
fn a_key_echoed_into_a_broken_row_is_not_quoted_even_in_part() {
    // A key with characters a URL encodes, echoed both as sent and as written in the query.
    const ODD_KEY: &str = "k3y/with+slash=9f8e7d6c5b4a-3210";
    let server = TestServer::start(|request, _| {
        let encoded = request.target.split_once("key=").unwrap().1.to_owned();
        let mut body = DATA_CSV.to_owned();
        for left in [8, 9, 20, 31] {
            body.push_str(&echo_row(ODD_KEY, left));
            body.push_str(&echo_row(&encoded, left));
        }
        csv(&body)
    });
    let (client, _) = default_client();
    let base = format!("{}/snds", server.url());
    let report = client.fetch_legacy_data(&base, ODD_KEY, None).unwrap();
    assert_eq!(report.rows.len(), 4);
    assert_eq!(report.rejected.len(), 8);
    let encoded: String = url::form_urlencoded::byte_serialize(ODD_KEY.as_bytes()).collect();
    for err in &report.rejected {
        for text in [err.to_string(), format!("{err:?}")] {
            assert_no_part_of(ODD_KEY, &text);
            assert_no_part_of(&encoded, &text);
        }
    }
}

#[test]
fn a_token_echoed_by_the_api_is_not_quoted_even_in_part() {
    let server = TestServer::start(|request, nth| {
        let echoed = request.header("authorization").unwrap_or("").to_owned();
        let mut body = String::new();
        if nth == 0 {
            body.push_str(DATA_CSV);
        }
        for left in [8, 15, 30] {
            body.push_str(&echo_row(&echoed, left + "Bearer ".len()));
        }
        csv(&body)
    });
    let (client, _) = default_client();
    let day = NaiveDate::from_ymd_opt(2026, 11, 17).unwrap();
    let report = client.fetch_api_data(&server.url(), TOKEN, day).unwrap();
    assert_eq!(report.rejected.len(), 3);
    for err in &report.rejected {
        assert_no_part_of(TOKEN, &format!("{err} {err:?}"));
    }
    // Only broken rows: the whole answer is refused, quoting the first.
    let err = client
        .fetch_api_data(&server.url(), TOKEN, day)
        .unwrap_err();
    assert!(
        matches!(err, SndsClientError::Unparseable { .. }),
        "{err:?}"
    );
    assert_no_part_of(TOKEN, &format!("{err} {err:?}"));
}

#[test]
fn a_redirect_sends_no_referer_and_no_key_to_its_target() {
    let target = TestServer::start(|_, _| csv(DATA_CSV));
    let next = format!("{}/elsewhere/data.aspx", target.url());
    let first = TestServer::start(move |_, _| redirect(&next));
    let (client, _) = default_client();
    let report = client
        .fetch_legacy_data(&format!("{}/snds", first.url()), KEY, None)
        .unwrap();
    assert_eq!(report.rows.len(), 4);
    let requests = target.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].header("referer"), None, "{:?}", requests[0]);
    assert_no_secret("the redirect's request", &format!("{:?}", requests[0]));
}

#[test]
fn a_redirect_to_plain_http_beyond_loopback_is_refused_before_connecting() {
    // 192.0.2.1 is TEST-NET-1: a connection attempt would hang until the connect timeout.
    let server = TestServer::start(|request, _| {
        let query = request.target.split_once('?').unwrap().1.to_owned();
        redirect(&format!("http://192.0.2.1/snds/data.aspx?{query}"))
    });
    let (client, sleeps) = default_client();
    let started = Instant::now();
    let err = client
        .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, None)
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(err, SndsClientError::UnsafeRedirect { .. }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("redirected to plain http on 192.0.2.1") && message.contains("key=***"),
        "{message}"
    );
    assert_error_has_no_secret(&err, &message);
    assert_eq!(server.requests().len(), 1, "not retried");
    assert!(sleeps.lock().unwrap().is_empty());
}

#[test]
fn an_https_answer_redirecting_to_http_is_refused_beyond_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let plain = TestServer::start(|_, _| csv(DATA_CSV));
    let loopback_next = format!(
        "{}/snds/data.aspx",
        plain.url().replace("127.0.0.1", "localhost")
    );
    let server = TestServer::start_tls(move |request, _| match request.path() {
        "/a/data.aspx" => redirect(&loopback_next),
        _ => redirect("http://snds.example.net/snds/data.aspx"),
    });
    let (client, _) = client_with(SndsClientOptions {
        ca_file: Some(write_test_ca(dir.path())),
        ..options()
    });
    let report = client
        .fetch_legacy_data(&format!("{}/a", server.url()), KEY, None)
        .unwrap();
    assert_eq!(report.rows.len(), 4);
    let err = client
        .fetch_legacy_data(&format!("{}/b", server.url()), KEY, None)
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("redirected to plain http on snds.example.net"),
        "{err}"
    );
}

#[test]
fn a_wait_asked_for_longer_than_a_run_waits_is_not_cut_short_but_left_to_the_next_run() {
    let in_two_hours = (chrono::Utc::now() + chrono::TimeDelta::hours(2)).to_rfc2822();
    let server = TestServer::start(move |request, nth| {
        let asking = |status: u16, wait: &str| Reply::Respond {
            status,
            headers: vec![("Retry-After", wait.to_owned())],
            body: "come back later".to_owned(),
        };
        match (request.path(), nth) {
            ("/limited/data.aspx", _) => asking(429, "3600"),
            ("/down/data.aspx", 0) => respond(503, "text/plain", "down"),
            ("/down/data.aspx", _) => asking(503, "120"),
            ("/forever/data.aspx", _) => asking(429, &u64::MAX.to_string()),
            _ => asking(429, &in_two_hours),
        }
    });
    let (client, sleeps) = default_client();
    let fetch = |base: &str| {
        client
            .fetch_legacy_data(&format!("{}/{base}", server.url()), KEY, None)
            .unwrap_err()
    };
    let err = fetch("limited");
    assert!(
        matches!(
            err,
            SndsClientError::ComeBackLater {
                status: 429,
                attempts: 1,
                retry_after_secs: 3600,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("answered http 429 and asked to come back after 3600 s (at 20")
            && text.contains("not asked again in this run")
            && text.contains("key=***"),
        "{text}"
    );
    assert_error_has_no_secret(&err, &text);
    assert!(sleeps.lock().unwrap().is_empty(), "no wait, no retry");
    // A 503 that asks for two minutes on the second try: the first try's backoff only.
    let err = fetch("down");
    assert!(
        matches!(
            err,
            SndsClientError::ComeBackLater {
                status: 503,
                attempts: 2,
                retry_after_secs: 120,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("after 2 attempts"), "{err}");
    // An HTTP date two hours ahead.
    let err = fetch("dated");
    assert!(
        matches!(
            err,
            SndsClientError::ComeBackLater {
                status: 429,
                attempts: 1,
                retry_after_secs: 7000..=7200,
                ..
            }
        ),
        "{err:?}"
    );
    // A wait past any calendar is no reason to fail otherwise.
    let err = fetch("forever");
    assert!(
        err.to_string().contains("(at a time past any calendar)"),
        "{err}"
    );
    assert_eq!(*sleeps.lock().unwrap(), [Duration::from_millis(100)]);
    let paths: Vec<String> = server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        [
            "/limited/data.aspx",
            "/down/data.aspx",
            "/down/data.aspx",
            "/dated/data.aspx",
            "/forever/data.aspx"
        ]
    );
}

#[test]
fn a_429_is_rate_limiting_retried_after_the_wait_it_asks_for() {
    let limited = |seconds: &str| Reply::Respond {
        status: 429,
        headers: vec![("Retry-After", seconds.to_owned())],
        body: "slow down".to_owned(),
    };
    let server = TestServer::start(move |_, nth| match nth {
        0 => limited("1"),
        _ => csv(DATA_CSV),
    });
    let (client, sleeps) = default_client();
    let report = client
        .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, None)
        .unwrap();
    assert_eq!(report.rows.len(), 4);
    assert_eq!(*sleeps.lock().unwrap(), [Duration::from_secs(1)]);

    // `Retry-After: 0` (or a date past) is no reason to retry at once: the backoff stands.
    let server = TestServer::start(move |_, nth| match nth {
        0 => limited("0"),
        _ => csv(DATA_CSV),
    });
    let (client, sleeps) = default_client();
    client
        .fetch_legacy_data(&format!("{}/snds", server.url()), KEY, None)
        .unwrap();
    let waited = sleeps.lock().unwrap().clone();
    assert!(
        waited.len() == 1 && waited[0] > Duration::ZERO,
        "{waited:?}"
    );

    // Within a run, a wait up to the longest backoff is honoured as asked.
    let server = TestServer::start(move |_, nth| match nth {
        0 => limited("1"),
        1 => limited("0"),
        _ => limited("1"),
    });
    let (client, sleeps) = default_client();
    let err = client
        .fetch_api_ip_status(&server.url(), TOKEN)
        .unwrap_err();
    assert!(
        matches!(err, SndsClientError::RateLimited { attempts: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("rate limited"), "{err}");
    assert_eq!(server.requests().len(), 3);
    assert_eq!(
        *sleeps.lock().unwrap(),
        [Duration::from_secs(1), Duration::from_millis(200)]
    );
    assert_error_has_no_secret(&err, &err.to_string());
    assert_error_has_no_secret(&err, &err.to_string());
}

#[test]
fn a_report_keeps_no_key_or_token_its_server_echoed() {
    // Each answer is whole and readable, with the key or token echoed where text may go.
    let server = TestServer::start(|request, _| {
        let bearer = request.header("authorization").unwrap_or("").to_owned();
        let token = bearer.strip_prefix("Bearer ").unwrap_or("").to_owned();
        let key = request
            .target
            .split_once("key=")
            .map(|(_, key)| key.to_owned())
            .unwrap_or_default();
        match request.path() {
            "/snds/data.aspx" => csv(&format!(
                "{DATA_CSV}# served for key {key} ({KEY})\r\n{}",
                echo_row(KEY, 20)
            )),
            "/snds/ipStatus.aspx" => csv(&format!(
                "192.0.2.254,192.0.3.1,Yes,Blocked for key {KEY} and {key}\r\n"
            )),
            "/api/report/data/2026-11-17" => csv(&format!("{DATA_CSV}{}", echo_row(&token, 20))),
            "/api/report/status/ip" => json(
                200,
                &format!(
                    r#"[{{"firstIp":"192.0.2.254","lastIp":"192.0.3.1","blocked":true,"details":"for {token}"}}]"#
                ),
            ),
            _ => respond(404, "text/plain", "no"),
        }
    });
    let (client, _) = default_client();
    let base = format!("{}/snds", server.url());
    let day = NaiveDate::from_ymd_opt(2026, 11, 17).unwrap();

    let data = client.fetch_legacy_data(&base, KEY, None).unwrap();
    assert_eq!(data.rows.len(), 4);
    assert!(data.body.contains("***"), "{}", data.body);
    let status = client.fetch_legacy_ip_status(&base, KEY).unwrap();
    assert_eq!(status.ranges.len(), 1);
    assert_eq!(status.ranges[0].details, "Blocked for key *** and ***");
    let api_data = client.fetch_api_data(&server.url(), TOKEN, day).unwrap();
    assert_eq!(api_data.rows.len(), 4);
    let api_status = client.fetch_api_ip_status(&server.url(), TOKEN).unwrap();
    assert_eq!(api_status.ranges[0].details, "for ***");

    for (what, body, debug) in [
        ("legacy data", &data.body, format!("{data:?}")),
        ("legacy ipStatus", &status.body, format!("{status:?}")),
        ("api data", &api_data.body, format!("{api_data:?}")),
        ("api status", &api_status.body, format!("{api_status:?}")),
    ] {
        assert_no_secret(what, body);
        assert_no_secret(what, &debug);
    }
}
