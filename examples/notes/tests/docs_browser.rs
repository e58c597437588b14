//! Swagger UI in a real browser: headless Chromium opens `/docs` of the running notes binary,
//! Swagger UI renders from the vendored assets under the page's CSP, and every mounted operation
//! appears, with the lock icon on the secured ones and none on the public ones. A screenshot is
//! kept at `target/tmp/docs-browser/docs.png`.
//!
//! Needs Debian's `chromium` (`.ci/run` installs it); `CHROMIUM` overrides the path.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use support::Service;

fn chromium(profile: &Path, args: &[String]) -> std::process::Output {
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    Command::new(&binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=20000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{binary} does not run ({e}): install Debian's chromium (./scripts/test does)"))
}

/// `(method, path, has a lock icon)` of every operation block Swagger UI rendered.
fn rendered_operations(dom: &str) -> BTreeSet<(String, String, bool)> {
    dom.split(r#"class="opblock opblock-"#)
        .skip(1)
        .map(|block| {
            let method = block.split('"').next().unwrap().split_whitespace().next().unwrap().to_owned();
            let path = block.split(r#"data-path=""#).nth(1).and_then(|rest| rest.split('"').next()).unwrap_or("");
            let locked = block.contains("authorization__btn");
            (method, path.to_owned(), locked)
        })
        .collect()
}

#[test]
fn swagger_ui_renders_every_operation_with_a_lock_on_the_secured_ones() {
    let service = Service::start(&[]);
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("docs-browser");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let url = format!("http://{}/docs", service.addr);

    let output = chromium(&work.join("profile-dom"), &["--dump-dom".to_owned(), url.clone()]);
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    let dom = String::from_utf8_lossy(&output.stdout);
    std::fs::write(work.join("docs.html"), dom.as_bytes()).unwrap();

    let expected: BTreeSet<(String, String, bool)> = notes::inventory()
        .iter()
        .map(|e| (e.method.as_str().to_ascii_lowercase(), e.path.to_owned(), !e.is_public()))
        .collect();
    assert!(expected.iter().any(|op| op.2) && expected.iter().any(|op| !op.2));
    assert_eq!(rendered_operations(&dom), expected, "rendered DOM kept at {}", work.join("docs.html").display());

    // The page's own CSP let everything it needs run: the browser reported no violation.
    let log = String::from_utf8_lossy(&output.stderr);
    let violations: Vec<&str> =
        log.lines().filter(|l| l.contains(":CONSOLE") && l.contains("Content Security Policy")).collect();
    assert!(violations.is_empty(), "CSP violations: {violations:#?}");

    let screenshot = work.join("docs.png");
    let output = chromium(
        &work.join("profile-shot"),
        &[format!("--screenshot={}", screenshot.display()), "--window-size=1280,1600".to_owned(), url],
    );
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "a real screenshot at {}", screenshot.display());
}
