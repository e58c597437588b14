//! CORS from the browser's side: a page served from another origin calls the notes binary with
//! `fetch()` in headless Chromium and reads the headers a client needs — `RateLimit`,
//! `RateLimit-Policy` and `X-Request-Id` on a success, `WWW-Authenticate` on a 401 — which the
//! browser hides from scripts unless `Access-Control-Expose-Headers` names them.
//!
//! Needs Debian's `chromium` (`./scripts/test` installs it); `CHROMIUM` overrides the path.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod support;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use rampart::token::TokenRequest;
use support::Service;

const SECRET: &str = "cors-browser-secret-0123456789abcdef-0123456789";

#[test]
fn a_page_of_an_allowed_origin_reads_the_rate_limit_and_challenge_headers() {
    // The page's origin must be known before the service starts: reserve it first.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let page_origin = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let service = Service::start(&[
        ("RAMPART_CORS_ORIGINS", page_origin.as_str()),
        ("RAMPART_JWT_SECRET", SECRET),
        ("RAMPART_JWT_ISSUER", "https://issuer.test"),
        ("RAMPART_JWT_AUDIENCE", "notes"),
    ]);
    let token = TokenRequest::new("alice", "https://issuer.test", "notes")
        .scopes(["notes:read"])
        .ttl(Duration::from_secs(600))
        .sign_hs256(SECRET.as_bytes())
        .unwrap();
    let api = format!("http://{}", service.addr);
    let page = format!(
        r#"<!doctype html><html><body><pre id="out">pending</pre><script>
const read = (r) => ({{status: r.status, ratelimit: r.headers.get("RateLimit"), policy: r.headers.get("RateLimit-Policy"),
  request_id: r.headers.get("X-Request-Id"), challenge: r.headers.get("WWW-Authenticate")}});
Promise.all([
  fetch("{api}/notes", {{headers: {{"Authorization": "Bearer {token}"}}}}).then(read),
  fetch("{api}/notes").then(read),
]).then(([ok, refused]) => {{ document.getElementById("out").textContent = "RESULT" + JSON.stringify({{ok, refused}}) + "END"; }})
  .catch((e) => {{ document.getElementById("out").textContent = "RESULT" + JSON.stringify({{error: String(e)}}) + "END"; }});
</script></body></html>"#
    );
    // Serve the page on the reserved port (rebinding it) so that its origin is the allowed one.
    let port: u16 = page_origin.rsplit(':').next().unwrap().parse().unwrap();
    let served = serve_page_on(port, page);
    assert_eq!(served, page_origin);

    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("cors-browser");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).unwrap();
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    let output = Command::new(&binary)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        .args(["--disable-component-update", "--disable-sync", "--virtual-time-budget=10000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", work.join("profile").display()))
        .arg(format!("{page_origin}/"))
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{binary} does not run ({e}): install Debian's chromium (./scripts/test does)"));
    assert!(output.status.success(), "chromium failed: {}", String::from_utf8_lossy(&output.stderr));
    let dom = String::from_utf8_lossy(&output.stdout);
    let result = dom
        .split("RESULT")
        .nth(1)
        .and_then(|rest| rest.split("END").next())
        .unwrap_or_else(|| panic!("the page did not finish: {dom}"));
    let result: serde_json::Value =
        serde_json::from_str(&result.replace("&quot;", "\"").replace("&amp;", "&")).unwrap();
    let ok = &result["ok"];
    assert_eq!(ok["status"], 200, "{result}");
    assert!(ok["ratelimit"].as_str().is_some_and(|v| v.starts_with("\"default\";r=")), "{result}");
    assert!(ok["policy"].as_str().is_some_and(|v| v.starts_with("\"default\";q=100;w=60")), "{result}");
    assert!(ok["request_id"].as_str().is_some_and(|v| !v.is_empty()), "{result}");
    let refused = &result["refused"];
    assert_eq!(refused["status"], 401, "{result}");
    assert!(refused["challenge"].as_str().is_some_and(|v| v.starts_with("Bearer realm=")), "{result}");
}

/// Serves `page` to every request on `port` of 127.0.0.1, in the background; returns the origin.
fn serve_page_on(port: u16, page: String) -> String {
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                page.len()
            );
        }
    });
    origin
}
