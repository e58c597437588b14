//! What security costs per request. One process serves the same small JSON endpoint in four
//! variants, GET and POST (validated body):
//!
//! 1. plain axum: the physical limit;
//! 2. the hand-written stack a careful axum user writes today: tower-http headers, a
//!    `jsonwebtoken` HS256 check with iss/aud/exp, a scope check, a keyed governor limiter whose
//!    quota never triggers, garde on the body;
//! 3. Rampart `#[public]`;
//! 4. Rampart `#[secure(scope = ..., rate = ...)]`.
//!
//! The server runs on one worker thread pinned to CPU 0; `wrk -t1 -c32`, pinned to CPU 1, drives each variant over loopback with
//! 16 distinct subjects, after a warm-up, in five interleaved rounds. Before measuring, the
//! harness checks that each secured variant refuses a bad token, a missing scope and an invalid
//! body. Medians, p50/p99 and the ratios to plain axum go to stdout and to BENCHMARKS.md.
//!
//! `cargo run -p bench --release` (needs `wrk`: `apt-get install wrk`)

use std::time::Duration;

use bench::variants::{SECRET, SUBJECTS, body, handwritten, plain, rampart_app, token};
use bench::{WrkRun, median_f64, wrk};

const ROUNDS: usize = 5;
const SECONDS: u32 = 4;
const CONNECTIONS: u32 = 32;

/// A wrk script rotating through the subjects' tokens.
fn script(dir: &std::path::Path, name: &str, method: &str, tokens: &[String]) -> std::path::PathBuf {
    let list: Vec<String> = tokens.iter().map(|t| format!("\"{t}\"")).collect();
    let lua = format!(
        "wrk.method = \"{method}\"\nwrk.body = [==[{}]==]\nlocal tokens = {{{}}}\nlocal i = 0\n\
         request = function()\n  i = i + 1\n  return wrk.format(nil, nil, {{[\"Authorization\"] = \"Bearer \" .. tokens[(i % #tokens) + 1], [\"Content-Type\"] = \"application/json\"}})\nend\n",
        if method == "POST" { body() } else { String::new() },
        list.join(", ")
    );
    let path = dir.join(name);
    std::fs::write(&path, lua).expect("the script is written");
    path
}

struct Variant {
    name: &'static str,
    method: &'static str,
    url: String,
}

/// Each secured variant must refuse what it should before it is measured.
fn check_enforcement(variants: &[Variant], good_read: &str, good_write: &str) {
    let client = reqwest::blocking::Client::new();
    let forged = token("mallory", &["bench:read", "bench:write"], "another-secret-0123456789abcdef-012345");
    let wrong_scope = token("user-0", &[], SECRET);
    let send = |v: &Variant, token: &str, body: String| {
        let request = if v.method == "POST" { client.post(&v.url) } else { client.get(&v.url) };
        request
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .expect("the server answers")
            .status()
            .as_u16()
    };
    let invalid = serde_json::json!({"name": "", "quantity": 0, "tags": ["NOT A TAG"]}).to_string();
    for v in variants {
        let good = if v.method == "POST" { good_write } else { good_read };
        let ok = if v.method == "POST" { 201 } else { 200 };
        assert_eq!(send(v, good, body()), ok, "{}: a good request", v.name);
        let secured = v.name.starts_with("hand-written") || v.name.starts_with("rampart secure");
        if secured {
            assert_eq!(send(v, &forged, body()), 401, "{}: a forged token", v.name);
            assert_eq!(send(v, &wrong_scope, body()), 403, "{}: a missing scope", v.name);
        }
        if v.method == "POST" && !v.name.starts_with("plain") {
            assert_eq!(send(v, good, invalid.clone()), 422, "{}: an invalid body", v.name);
        }
    }
}

fn main() {
    bench::pin(0, 1);
    let server = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let serve = |app: axum::Router| {
        let listener = server.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("a loopback port");
        let addr = listener.local_addr().expect("an address");
        server.spawn(async move { axum::serve(listener, app).await });
        addr
    };
    let plain_addr = serve(plain());
    let hand_addr = serve(handwritten());
    let rampart_addr = serve(rampart_app());

    let variants = [
        Variant { name: "plain axum GET", method: "GET", url: format!("http://{plain_addr}/item") },
        Variant { name: "hand-written GET", method: "GET", url: format!("http://{hand_addr}/item") },
        Variant { name: "rampart public GET", method: "GET", url: format!("http://{rampart_addr}/public") },
        Variant { name: "rampart secure GET", method: "GET", url: format!("http://{rampart_addr}/secure") },
        Variant { name: "plain axum POST", method: "POST", url: format!("http://{plain_addr}/item") },
        Variant { name: "hand-written POST", method: "POST", url: format!("http://{hand_addr}/item") },
        Variant { name: "rampart public POST", method: "POST", url: format!("http://{rampart_addr}/public") },
        Variant { name: "rampart secure POST", method: "POST", url: format!("http://{rampart_addr}/secure") },
    ];
    // `OVERHEAD_ONLY=secure` measures only the variants whose name contains the text (for
    // profiling one variant); BENCHMARKS.md is then left alone.
    let only = std::env::var("OVERHEAD_ONLY").ok();
    let variants: Vec<Variant> =
        variants.into_iter().filter(|v| only.as_deref().is_none_or(|text| v.name.contains(text))).collect();
    let tokens: Vec<String> =
        (0..SUBJECTS).map(|i| token(&format!("user-{i}"), &["bench:read", "bench:write"], SECRET)).collect();
    check_enforcement(&variants, &tokens[0], &tokens[0]);

    let dir = tempfile::tempdir().expect("a temp dir");
    let get_script = script(dir.path(), "get.lua", "GET", &tokens);
    let post_script = script(dir.path(), "post.lua", "POST", &tokens);
    let script_for = |v: &Variant| if v.method == "POST" { &post_script } else { &get_script };
    for v in &variants {
        wrk(&v.url, script_for(v), CONNECTIONS, 1);
    }
    let mut runs: Vec<Vec<WrkRun>> = vec![Vec::new(); variants.len()];
    let mut per_cpu: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 1..=ROUNDS {
        for (i, v) in variants.iter().enumerate() {
            let cpu_before = bench::process_cpu();
            let run = wrk(&v.url, script_for(v), CONNECTIONS, SECONDS);
            let server_cpu = (bench::process_cpu() - cpu_before).as_secs_f64() / f64::from(SECONDS);
            assert_eq!(run.non_2xx, 0, "{}: every request must succeed", v.name);
            println!(
                "round {round} {:<22} {:>9.0} req/s  p50 {:>8.1?}  p99 {:>8.1?}  server CPU {:>4.0}%",
                v.name,
                run.requests_per_sec,
                run.p50,
                run.p99,
                server_cpu * 100.0
            );
            per_cpu[i].push(run.requests_per_sec / server_cpu.max(0.01));
            runs[i].push(run);
        }
    }

    let medians: Vec<(f64, Duration, Duration)> = runs.iter().map(|r| bench::medians(r)).collect();
    let cpu_medians: Vec<f64> = per_cpu.iter_mut().map(|v| median_f64(v)).collect();
    let mut table = String::from(
        "| variant | req/s (median) | vs plain | req per server CPU-s | vs plain | p50 | p99 | p99 vs plain |\n|---|---|---|---|---|---|---|---|\n",
    );
    for (i, v) in variants.iter().enumerate() {
        // The plain variant of the same method (the first one listed), or the first measured.
        let base = variants.iter().position(|b| b.method == v.method && b.name.starts_with("plain")).unwrap_or(0);
        let (rps, p50, p99) = medians[i];
        let (base_rps, _, base_p99) = medians[base];
        table.push_str(&format!(
            "| {} | {rps:.0} | **{:.2}x** | {:.0} | {:.2}x | {p50:.0?} | {p99:.0?} | {:.2}x |\n",
            v.name,
            rps / base_rps,
            cpu_medians[i],
            cpu_medians[i] / cpu_medians[base],
            p99.as_secs_f64() / base_p99.as_secs_f64()
        ));
    }
    println!("\n{table}");
    if only.is_some() {
        return;
    }
    bench::write_section(
        "overhead",
        &format!(
            "Command: `cargo run -p bench --release` (run on {}; {} rounds of {SECONDS} s per variant, interleaved, \
         wrk -t1 -c{CONNECTIONS}, {SUBJECTS} subjects, server on one worker thread).\n\n{table}",
            bench::today(),
            ROUNDS
        ),
    );
}
