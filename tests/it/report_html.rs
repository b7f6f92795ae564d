//! The HTML report in a real headless browser (Debian's chromium, installed by
//! scripts/test): it renders without console errors, loads nothing from outside, its
//! charts have a size and its table headers are aligned as their columns. The screenshot
//! goes to a temporary folder, never the repository.

use crate::report::fixture_store;
use crate::support::run;
use std::path::Path;
use std::process::Command;

const CHROMIUM: &str = "/usr/bin/chromium";

/// Runs headless chromium on a file with the given extra arguments; returns stdout and
/// stderr. Fails (never skips) when chromium is missing.
fn chromium(page: &Path, profile: &Path, extra: &[&str]) -> (String, String) {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/test, which installs chromium for this test"
    );
    let output = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("cannot start chromium");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "chromium failed: {stderr}");
    (stdout, stderr)
}

/// Lines where the page's console said something, or a load failed.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("net::ERR_"))
        .collect()
}

/// Measures every chart once laid out, and writes the result into the DOM for --dump-dom.
const PROBE: &str = r#"<script>
const charts = [...document.querySelectorAll('svg')].map(s => {
  const r = s.getBoundingClientRect();
  return [s.closest('section').id, Math.round(r.width), Math.round(r.height), s.querySelectorAll('rect,circle,polyline,line').length];
});
const misaligned = [];
for (const table of document.querySelectorAll('table')) {
  const heads = [...table.querySelectorAll('thead th')];
  for (const row of table.querySelectorAll('tbody tr')) {
    if (row.cells.length !== heads.length) misaligned.push(`${table.closest('section').id}: ${row.cells.length} cells under ${heads.length} headers`);
    heads.forEach((th, i) => {
      const td = row.cells[i];
      if (!td) return;
      const [a, b] = [getComputedStyle(th).textAlign, getComputedStyle(td).textAlign];
      if (a !== b) misaligned.push(`${table.closest('section').id} ${th.textContent}: header ${a}, cells ${b}`);
    });
  }
}
document.body.setAttribute('data-probe', JSON.stringify({charts, misaligned: [...new Set(misaligned)], images: document.images.length, links: document.querySelectorAll('link,iframe,object,embed').length}));
</script>"#;

#[test]
fn the_html_report_renders_in_chromium_without_console_errors() {
    let fixture = fixture_store("");
    let output = run(fixture.fbl().args([
        "report",
        "--days",
        "14",
        "--format",
        "html",
        "--output",
        "report.html",
    ]));
    assert_eq!(output.status.code(), Some(0));
    let html = std::fs::read_to_string(fixture.path().join("report.html")).unwrap();
    // Self-contained: no script, no external stylesheet, image, font or frame.
    for forbidden in [
        "<script", "<link", "<img", "<iframe", "src=", "url(", "@import",
    ] {
        assert!(
            !html.contains(forbidden),
            "the report contains {forbidden:?}"
        );
    }

    let work = tempfile::tempdir().unwrap();
    let page = work.path().join("report.html");
    std::fs::write(&page, &html).unwrap();
    let shot = work.path().join("report.png");
    let (_, stderr) = chromium(
        &page,
        &work.path().join("profile-shot"),
        &[
            "--window-size=1200,2000",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    assert_eq!(console_lines(&stderr), Vec::<&str>::new(), "{stderr}");
    let png = std::fs::read(&shot).expect("chromium wrote no screenshot");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(
        png.len() > 20_000,
        "the screenshot is nearly empty ({} bytes)",
        png.len()
    );

    // The same page with a probe that measures the laid-out charts.
    let probed = work.path().join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let (dom, stderr) = chromium(&probed, &work.path().join("profile-dom"), &["--dump-dom"]);
    assert_eq!(console_lines(&stderr), Vec::<&str>::new(), "{stderr}");
    let start = dom.find("data-probe=\"").expect("the probe did not run") + "data-probe=\"".len();
    let end = start + dom[start..].find('"').unwrap();
    let probe: serde_json::Value =
        serde_json::from_str(&dom[start..end].replace("&quot;", "\"")).unwrap();
    // Each header is aligned as its column's cells: numbers and their headers to the right
    // (headers were left-aligned over right-aligned numbers, each number seeming to sit
    // under the next header).
    assert_eq!(probe["misaligned"], serde_json::json!([]), "{probe}");
    assert_eq!(probe["images"], 0);
    assert_eq!(probe["links"], 0);
    let charts = probe["charts"].as_array().unwrap();
    let sections: Vec<&str> = charts.iter().map(|c| c[0].as_str().unwrap()).collect();
    assert_eq!(
        sections,
        ["rate-chart", "level-strip", "reporters"],
        "{probe}"
    );
    for chart in charts {
        assert!(chart[1].as_i64().unwrap() > 300, "{chart} is too narrow");
        assert!(chart[2].as_i64().unwrap() > 40, "{chart} is too low");
        assert!(chart[3].as_i64().unwrap() >= 2, "{chart} draws nothing");
    }
    // The rate chart has both threshold lines and a line for 192.0.2.10.
    for expected in [
        "class=\"threshold warn\"",
        "class=\"threshold critical\"",
        "<title>192.0.2.10</title>",
    ] {
        assert!(dom.contains(expected), "the rendered page lacks {expected}");
    }
}

/// The console check above must be able to fail: a page that logs an error is caught.
#[test]
fn the_console_check_sees_a_console_error() {
    let work = tempfile::tempdir().unwrap();
    let page = work.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><script>console.error('boom')</script></body></html>",
    )
    .unwrap();
    let (_, stderr) = chromium(&page, &work.path().join("profile"), &["--dump-dom"]);
    assert!(
        console_lines(&stderr).iter().any(|l| l.contains("boom")),
        "{stderr}"
    );
}
