//! The HTML report in a real browser: headless Chromium (from the system's packages) loads the
//! file, and the DOM it dumps shows every check's chart laid out with a size, and the data
//! escaped. Under `CI=true` a missing Chromium fails the test; elsewhere the test says plainly
//! that it did not run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::{cli, code, run, stderr};

/// The first Chromium found on the `PATH`.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| {
            Command::new(name)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

fn dump_dom(browser: &str, page: &Path, profile: &Path) -> String {
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_report_renders_its_charts_in_headless_chromium() {
    let Some(browser) = chromium() else {
        let in_ci = std::env::var("CI").is_ok_and(|v| v == "true");
        assert!(
            !in_ci,
            "CI=true but no Chromium on the PATH: install it (apt-get install chromium)"
        );
        eprintln!("NOT RUN: no Chromium on the PATH (the test runs in CI, where it is required)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data.jsonl");
    let mut text = std::fs::read_to_string(common::example_data("grade.jsonl")).unwrap();
    // A row whose text would break the page if it were not escaped.
    text.push_str(
        r#"{"question": "<img src=x onerror=alert(1)> & </td>?", "context": "nothing", "response": "<b>bold</b>"}"#,
    );
    text.push('\n');
    std::fs::write(&data, text).unwrap();
    let page = dir.path().join("report.html");
    let output = run(cli()
        .arg("grade")
        .arg(&data)
        .arg("--out")
        .arg(dir.path().join("scores.jsonl"))
        .arg("--report")
        .arg(&page));
    assert_eq!(code(&output), 0, "{}", stderr(&output));

    let dom = dump_dom(browser, &page, &dir.path().join("profile"));
    assert!(
        dom.contains("data-charts-rendered=\"3\""),
        "the three charts were not laid out: {}",
        &dom[..dom.len().min(2000)]
    );
    assert_eq!(dom.matches("<svg class=\"histogram\"").count(), 3);
    assert_eq!(dom.matches("<rect class=\"bar\"").count(), 30);
    // The escaped row is text, not markup.
    assert!(!dom.contains("<img"), "unescaped data became an element");
    assert!(dom.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &lt;/td&gt;?"));
}
