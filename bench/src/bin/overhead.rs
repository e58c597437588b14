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
//! The server runs on one worker thread pinned to CPU 0; `wrk -t1 -c32`, pinned to CPU 1, drives
//! each variant over loopback with 16 distinct subjects, after a warm-up, in seven interleaved
//! rounds (A B C D A B C D ...), twice: saturated (each connection sends its next request as soon
//! as it has an answer: throughput) and paced (each connection pauses 1 ms between requests, so
//! that latency is the time to serve a request, not the time spent queueing behind 31 others).
//! Ratios to plain axum are the medians of each round's pair. Before measuring, the harness
//! checks that each secured variant refuses a bad token, a missing scope and an invalid body.
//! The table and the targets go to stdout and to BENCHMARKS.md.
//!
//! `cargo run -p bench --release` (installs Debian's `wrk` with `apt-get` when it is missing)

use std::time::Duration;

use bench::variants::{SECRET, SUBJECTS, body, handwritten, plain, rampart_app, token};
use bench::{WrkRun, median_f64, wrk};

const ROUNDS: usize = 7;
const SECONDS: u32 = 4;
const CONNECTIONS: u32 = 32;
/// The pause of the latency rounds: about 32 requests per millisecond at most, a fraction of
/// what any variant serves.
const PAUSE_MS: u32 = 1;

/// A wrk script rotating through the subjects' tokens.
/// With `pause_ms`, each connection waits that long after each response before its next request
/// (wrk's `delay` hook): a paced load well below saturation, for latency.
fn script(
    dir: &std::path::Path,
    name: &str,
    method: &str,
    tokens: &[String],
    pause_ms: Option<u32>,
) -> std::path::PathBuf {
    let list: Vec<String> = tokens.iter().map(|t| format!("\"{t}\"")).collect();
    let mut lua = format!(
        "wrk.method = \"{method}\"\nwrk.body = [==[{}]==]\nlocal tokens = {{{}}}\nlocal i = 0\n\
         request = function()\n  i = i + 1\n  return wrk.format(nil, nil, {{[\"Authorization\"] = \"Bearer \" .. tokens[(i % #tokens) + 1], [\"Content-Type\"] = \"application/json\"}})\nend\n",
        if method == "POST" { body() } else { String::new() },
        list.join(", ")
    );
    if let Some(ms) = pause_ms {
        lua.push_str(&format!("delay = function()\n  return {ms}\nend\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, lua).expect("the script is written");
    path
}

struct Variant {
    name: &'static str,
    method: &'static str,
    url: String,
}

/// Interleaved rounds of every variant (A B C D A B C D ...): each round's runs and the server's
/// requests per CPU-second.
fn measure(
    variants: &[Variant],
    script_for: &dyn Fn(&Variant) -> std::path::PathBuf,
) -> (Vec<Vec<WrkRun>>, Vec<Vec<f64>>) {
    let mut runs: Vec<Vec<WrkRun>> = vec![Vec::new(); variants.len()];
    let mut per_cpu: Vec<Vec<f64>> = vec![Vec::new(); variants.len()];
    for round in 1..=ROUNDS {
        for (i, v) in variants.iter().enumerate() {
            let cpu_before = bench::process_cpu();
            let run = wrk(&v.url, &script_for(v), CONNECTIONS, SECONDS);
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
    (runs, per_cpu)
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
    bench::ensure_wrk();
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
    let script_pair = |suffix: &str, pause: Option<u32>| {
        let get = script(dir.path(), &format!("get{suffix}.lua"), "GET", &tokens, pause);
        let post = script(dir.path(), &format!("post{suffix}.lua"), "POST", &tokens, pause);
        move |v: &Variant| if v.method == "POST" { post.clone() } else { get.clone() }
    };
    let saturating = script_pair("", None);
    let paced = script_pair("-paced", Some(PAUSE_MS));
    for v in &variants {
        wrk(&v.url, &saturating(v), CONNECTIONS, 1);
    }
    println!("throughput: every connection sends its next request as soon as it has an answer");
    let (runs, mut per_cpu) = measure(&variants, &saturating);
    println!("latency: every connection pauses {PAUSE_MS} ms between requests");
    let (paced_runs, _) = measure(&variants, &paced);

    let medians: Vec<(f64, Duration, Duration)> = runs.iter().map(|r| bench::medians(r)).collect();
    let paced_medians: Vec<(f64, Duration, Duration)> = paced_runs.iter().map(|r| bench::medians(r)).collect();
    let cpu_medians: Vec<f64> = per_cpu.iter_mut().map(|v| median_f64(v)).collect();
    // Each round measures every variant within seconds of plain axum, so the ratio of a round's
    // pair is steadier than the ratio of medians when the machine's speed drifts between rounds.
    let paired = |runs: &[Vec<WrkRun>], i: usize, base: usize, of: fn(&WrkRun) -> f64| -> (f64, f64, f64) {
        let mut ratios: Vec<f64> = runs[i].iter().zip(&runs[base]).map(|(v, b)| of(v) / of(b)).collect();
        let (low, high) = ratios.iter().fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
        (median_f64(&mut ratios), low, high)
    };
    // The plain variant of the same method (the first one listed), or the first measured.
    let base_of =
        |v: &Variant| variants.iter().position(|b| b.method == v.method && b.name.starts_with("plain")).unwrap_or(0);
    let mut table = String::from(
        "| variant | req/s (median) | vs plain (paired median, range) | req per server CPU-s | vs plain | saturated p50 / p99 | paced req/s | paced p50 | paced p99 | paced p99 vs plain (paired median) |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let mut targets = String::new();
    for (i, v) in variants.iter().enumerate() {
        let base = base_of(v);
        let (rps, p50, p99) = medians[i];
        let (paced_rps, paced_p50, paced_p99) = paced_medians[i];
        let (ratio, low, high) = paired(&runs, i, base, |r| r.requests_per_sec);
        let (saturated_p99_ratio, _, _) = paired(&runs, i, base, |r| r.p99.as_secs_f64());
        let (p99_ratio, _, _) = paired(&paced_runs, i, base, |r| r.p99.as_secs_f64());
        table.push_str(&format!(
            "| {} | {rps:.0} | **{ratio:.2}x** ({low:.2}–{high:.2}) | {:.0} | {:.2}x | {p50:.0?} / {p99:.0?} | {paced_rps:.0} | {paced_p50:.0?} | {paced_p99:.0?} | **{p99_ratio:.2}x** |\n",
            v.name,
            cpu_medians[i],
            cpu_medians[i] / cpu_medians[base],
        ));
        let mut target = |what: &str, value: f64, met: bool| {
            targets.push_str(&format!("- {what}: {value:.2}x, {}\n", if met { "met" } else { "**not met**" }));
        };
        match v.name {
            "rampart secure GET" => {
                target("secured GET throughput >= 0.90x plain", ratio, ratio >= 0.90);
                target("secured GET p99 <= 1.3x plain (paced load)", p99_ratio, p99_ratio <= 1.3);
                targets.push_str(&format!(
                    "- (secured GET p99 at saturation, where it is queueing behind 32 connections: {saturated_p99_ratio:.2}x plain)\n"
                ));
            }
            "rampart secure POST" => {
                target("secured, validated POST throughput >= 0.85x plain POST", ratio, ratio >= 0.85);
            }
            _ => {}
        }
    }
    table.push_str(&format!("\nTargets (paired medians):\n{targets}"));
    println!("\n{table}");
    if only.is_some() {
        return;
    }
    bench::write_section(
        "overhead",
        &format!(
            "Command: `cargo run -p bench --release` (run on {}; {} rounds of {SECONDS} s per variant and phase, \
         interleaved, wrk -t1 -c{CONNECTIONS}, {SUBJECTS} subjects, server on one worker thread; the paced phase \
         pauses {PAUSE_MS} ms per connection between requests).\n\n{table}",
            bench::today(),
            ROUNDS
        ),
    );
}
