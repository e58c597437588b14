//! What validation costs: POST of the notes body to the same secured route with garde validation
//! and without it (`validate = false`, plain `axum::Json`), driven by `wrk` over loopback in
//! interleaved rounds. Target: validated throughput >= 0.9x unvalidated.
//!
//! `cargo run -p bench --release --bin validation` (installs Debian's `wrk` with `apt-get` when it is missing)

use std::time::Duration;

use axum::http::StatusCode;
use bench::{WrkRun, wrk};
use rampart::config::Config;
use rampart::extract::Json;
use rampart::prelude::*;
use rampart::token::TokenRequest;

const SECRET: &str = "bench-secret-0123456789abcdef-0123456789";
const ROUNDS: usize = 3;
const SECONDS: u32 = 5;
const CONNECTIONS: u32 = 32;

/// The notes contract's body.
#[derive(serde::Deserialize, garde::Validate)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CreateNote {
    #[garde(length(chars, min = 1, max = 120), custom(rampart::validate::no_control_chars))]
    title: String,
    #[serde(default)]
    #[garde(length(chars, max = 10_000))]
    body: String,
    #[serde(default)]
    #[garde(length(max = 10), inner(length(chars, min = 1, max = 32), pattern(r"^[a-z0-9-]+$")))]
    tags: Vec<String>,
}

/// Validated before the handler runs.
#[secure(post, path = "/validated", scope = "notes:write", body_limit = "1MiB")]
async fn validated(_user: Principal, Json(note): Json<CreateNote>) -> StatusCode {
    std::hint::black_box(note);
    StatusCode::CREATED
}

/// The same route, deserialized only.
#[secure(post, path = "/unvalidated", scope = "notes:write", body_limit = "1MiB", validate = false)]
async fn unvalidated(_user: Principal, axum::Json(note): axum::Json<CreateNote>) -> StatusCode {
    std::hint::black_box(note);
    StatusCode::CREATED
}

fn config() -> Config {
    Config::from_lookup(|name| match name {
        "RAMPART_JWT_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .expect("a valid configuration")
}

fn body() -> String {
    serde_json::json!({
        "title": "Quarterly planning notes",
        "body": "Agenda: review the roadmap, staffing, and the security audit findings. ".repeat(8),
        "tags": ["planning", "q3", "security-review", "team-a"],
    })
    .to_string()
}

fn script(dir: &std::path::Path, token: &str, body: &str) -> std::path::PathBuf {
    let path = dir.join("post.lua");
    let lua = format!(
        "wrk.method = \"POST\"\nwrk.body = [==[{body}]==]\nwrk.headers[\"Content-Type\"] = \"application/json\"\nwrk.headers[\"Authorization\"] = \"Bearer {token}\"\n"
    );
    std::fs::write(&path, lua).expect("the script is written");
    path
}

fn main() {
    bench::ensure_wrk();
    let config = config();
    let security = Security::from_config(&config).expect("security from config");
    let app = Router::new().mount(validated).mount(unvalidated).secured(&security);
    let token = TokenRequest::new("bench-user", &config.jwt.issuer, &config.jwt.audiences[0])
        .scopes(["notes:write"])
        .ttl(Duration::from_secs(3600))
        .sign_hs256(SECRET.as_bytes())
        .expect("a token");

    // The server gets one worker thread; wrk gets the other core.
    let server = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let listener = server.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    server.spawn(async move { axum::serve(listener, app).await });

    // Before measuring: both variants enforce authentication, and only one validates.
    let client = reqwest::blocking::Client::new();
    let post = |path: &str, auth: &str, body: String| {
        client
            .post(format!("http://{addr}{path}"))
            .header("authorization", format!("Bearer {auth}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("the server answers")
            .status()
    };
    let invalid = serde_json::json!({"title": "", "tags": ["NOT A TAG"]}).to_string();
    for path in ["/validated", "/unvalidated"] {
        assert_eq!(post(path, "not-a-token", body()), 401, "{path} must reject a bad token");
        assert_eq!(post(path, &token, body()), 201, "{path} must accept the body");
    }
    assert_eq!(post("/validated", &token, invalid.clone()), 422);
    assert_eq!(post("/unvalidated", &token, invalid), 201);

    let dir = tempfile::tempdir().expect("a temp dir");
    let script = script(dir.path(), &token, &body());
    let variants = ["/unvalidated", "/validated"];
    for path in variants {
        wrk(&format!("http://{addr}{path}"), &script, CONNECTIONS, 1); // warm-up
    }
    let mut runs: Vec<Vec<WrkRun>> = vec![Vec::new(); variants.len()];
    for round in 1..=ROUNDS {
        for (i, path) in variants.iter().enumerate() {
            let run = wrk(&format!("http://{addr}{path}"), &script, CONNECTIONS, SECONDS);
            assert_eq!(run.non_2xx, 0, "{path}: every request must succeed");
            println!(
                "round {round} {path:<13} {:>9.0} req/s  p50 {:>8.1?}  p99 {:>8.1?}",
                run.requests_per_sec, run.p50, run.p99
            );
            runs[i].push(run);
        }
    }
    let medians: Vec<(f64, Duration, Duration)> = runs.iter().map(|r| bench::medians(r)).collect();
    println!("\n| variant | req/s (median of {ROUNDS}) | p50 | p99 | ratio |");
    println!("|---|---|---|---|---|");
    for (path, (rps, p50, p99)) in variants.iter().zip(&medians) {
        println!("| `{path}` | {rps:.0} | {p50:.1?} | {p99:.1?} | {:.3}x |", rps / medians[0].0);
    }
}
