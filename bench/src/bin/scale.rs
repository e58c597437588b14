//! Issue 18's table: what security costs with every user, not sixteen. A secured GET in five
//! servers, each its own process on CPU 0 (`wrk -t1 -c32` on CPU 1):
//!
//! - plain axum (the physical limit);
//! - the hand-written axum + jsonwebtoken + governor stack, HS256 and ES256 (it verifies every
//!   request);
//! - Rampart `#[secure]`, HS256 and ES256, bare: no metrics recorder, lockout off, no audit sink;
//! - Rampart HS256 with the defaults the notes service runs with: the Prometheus recorder
//!   installed (`rampart::metrics::start`), lockout on (20 failures), the audit sink installed
//!   (a file).
//!
//! Each secured server is driven with 16 tokens (hot: after the first requests every verification
//! is a cache hit) and with 60,000 distinct tokens (cold: more than the verification cache
//! holds, each token coming back only after 59,999 others, so every verification is a miss).
//! The cold scripts load the tokens from a file and each run continues where the last one of the
//! case stopped. Every case runs in five interleaved rounds (each round runs every case once),
//! saturated (throughput, p99 queueing behind 32 connections) and paced (each connection
//! pauses 1 ms after each answer: the time to serve a request). Ratios are the medians of each
//! round's pairs: against plain axum, against the hand-written stack with the same tokens, and
//! deployed against bare. Before measuring, each secured server must refuse a forged token (401)
//! and a missing scope (403). The table goes to stdout and to BENCHMARKS.md (section `scale`).
//!
//! `cargo run -p bench --release --bin scale` (installs Debian's `wrk` when it is missing)

use bench::variants::{Signing, handwritten_with, plain, rampart_app_with, rampart_config};
use bench::{WrkRun, median_f64, wrk};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const ROUNDS: usize = 5;
const SECONDS: u32 = 4;
const CONNECTIONS: u32 = 32;
const PAUSE_MS: u32 = 1;
const HOT_TOKENS: usize = 16;
const COLD_TOKENS: usize = 60_000;

/// The servers, by the name `scale serve NAME` takes.
const SERVERS: [&str; 6] =
    ["plain", "hand-hs256", "hand-es256", "rampart-hs256", "rampart-es256", "rampart-hs256-deployed"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let (Some("serve"), Some(name), Some(dir)) = (args.get(1).map(String::as_str), args.get(2), args.get(3)) {
        serve(name, Path::new(dir));
        return;
    }
    bench::ensure_wrk();
    // This process and the servers it starts (they inherit it) on CPU 0, wrk on CPU 1.
    bench::pin(0, 1);
    let dir = tempfile::tempdir().expect("a temp dir");
    let token_files = TokenFiles::write(dir.path());
    let servers: Vec<Server> = SERVERS.iter().map(|name| Server::start(name, dir.path())).collect();
    let url = |name: &str| {
        let server = servers.iter().find(|s| s.name == name).expect("a server");
        let path = if name.starts_with("rampart") { "/secure" } else { "/item" };
        format!("http://{}{path}", server.addr)
    };
    for server in &servers {
        check_enforcement(server.name, &url(server.name));
    }

    let mut cases = vec![Case {
        label: "plain axum GET".to_owned(),
        kind: "plain",
        url: url("plain"),
        tokens: token_files.file(Signing::Hs256, false),
        signing: Signing::Hs256,
        cold: false,
        cursor: 0,
    }];
    for (signing, name) in [(Signing::Hs256, "HS256"), (Signing::Es256, "ES256")] {
        for cold in [false, true] {
            let count = if cold { COLD_TOKENS } else { HOT_TOKENS };
            let lower = name.to_lowercase();
            let mut kinds = vec![
                ("hand", format!("hand-written {name}, {count} tokens"), format!("hand-{lower}")),
                ("bare", format!("rampart {name}, {count} tokens"), format!("rampart-{lower}")),
            ];
            if signing == Signing::Hs256 {
                let label = format!("rampart deployed defaults {name}, {count} tokens");
                kinds.push(("deployed", label, "rampart-hs256-deployed".to_owned()));
            }
            for (kind, label, server) in kinds {
                let tokens = token_files.file(signing, cold);
                cases.push(Case { label, kind, url: url(&server), tokens, signing, cold, cursor: 0 });
            }
        }
    }
    for case in &mut cases {
        case.run(dir.path(), None, 1);
    }
    println!("throughput: every connection sends its next request as soon as it has an answer");
    let saturated = measure(&mut cases, dir.path(), None);
    println!("latency: every connection pauses {PAUSE_MS} ms between requests");
    let paced = measure(&mut cases, dir.path(), Some(PAUSE_MS));
    let report = report(&cases, &saturated, &paced);
    println!("\n{report}");
    bench::write_section(
        "scale",
        &format!(
            "Command: `cargo run -p bench --release --bin scale` (run on {}; {ROUNDS} rounds of {SECONDS} s per case \
             and phase, interleaved; each server its own process on CPU 0, wrk -t1 -c{CONNECTIONS} on CPU 1; the \
             paced phase pauses {PAUSE_MS} ms per connection between requests).\n\n{report}",
            bench::today()
        ),
    );
}

/// A load to measure: a server and the tokens sent to it.
struct Case {
    label: String,
    /// `plain`, `hand`, `bare` or `deployed`.
    kind: &'static str,
    url: String,
    tokens: PathBuf,
    signing: Signing,
    /// 60,000 tokens rather than 16.
    cold: bool,
    /// Where the next run starts in the token file, so that a cold token comes back only after
    /// every other.
    cursor: u64,
}

impl Case {
    fn run(&mut self, dir: &Path, pause_ms: Option<u32>, seconds: u32) -> WrkRun {
        let script = dir.join("script.lua");
        let mut lua = format!(
            "local tokens = {{}}\nfor line in io.lines(\"{}\") do tokens[#tokens + 1] = line end\nlocal i = {}\n\
             request = function()\n  i = i + 1\n  return wrk.format(nil, nil, {{[\"Authorization\"] = \"Bearer \" .. tokens[(i % #tokens) + 1]}})\nend\n",
            self.tokens.display(),
            self.cursor
        );
        if let Some(ms) = pause_ms {
            lua.push_str(&format!("delay = function()\n  return {ms}\nend\n"));
        }
        std::fs::write(&script, lua).expect("the script is written");
        let run = wrk(&self.url, &script, CONNECTIONS, seconds);
        assert_eq!(run.non_2xx, 0, "{}: every request must succeed", self.label);
        self.cursor += run.requests;
        run
    }

    /// The case this one is compared with: the hand-written stack with the same tokens (for
    /// Rampart), or the bare Rampart with the same tokens (for the deployed defaults).
    fn baseline(&self, cases: &[Case], kind: &str) -> Option<usize> {
        cases.iter().position(|c| c.kind == kind && c.signing == self.signing && c.cold == self.cold)
    }
}

/// Interleaved rounds: each round runs every case once.
fn measure(cases: &mut [Case], dir: &Path, pause_ms: Option<u32>) -> Vec<Vec<WrkRun>> {
    let mut runs = vec![Vec::new(); cases.len()];
    for round in 1..=ROUNDS {
        for (i, case) in cases.iter_mut().enumerate() {
            let run = case.run(dir, pause_ms, SECONDS);
            println!(
                "round {round} {:<46} {:>8.0} req/s  p50 {:>8.1?}  p99 {:>8.1?}",
                case.label, run.requests_per_sec, run.p50, run.p99
            );
            runs[i].push(run);
        }
    }
    runs
}

/// The median of each round's ratio of case `i` to case `base`, with the range.
fn paired(runs: &[Vec<WrkRun>], i: usize, base: usize, of: fn(&WrkRun) -> f64) -> (f64, f64, f64) {
    let mut ratios: Vec<f64> = runs[i].iter().zip(&runs[base]).map(|(v, b)| of(v) / of(b)).collect();
    let (low, high) = ratios.iter().fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
    (median_f64(&mut ratios), low, high)
}

fn rate(run: &WrkRun) -> f64 {
    run.requests_per_sec
}

fn p99(run: &WrkRun) -> f64 {
    run.p99.as_secs_f64()
}

fn report(cases: &[Case], saturated: &[Vec<WrkRun>], paced: &[Vec<WrkRun>]) -> String {
    let mut table = String::from(
        "| case | req/s (median) | vs plain (paired) | vs its baseline (paired, range) | p50 / p99 | p99 vs baseline (paired) | paced p50 / p99 | paced p99 vs baseline |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    let mut targets = String::new();
    let mut target = |what: String, value: f64, met: bool| {
        targets.push_str(&format!("- {what}: {value:.2}x, {}\n", if met { "met" } else { "**not met**" }));
    };
    for (i, case) in cases.iter().enumerate() {
        let (rps, p50, p99_time) = bench::medians(&saturated[i]);
        let (_, paced_p50, paced_p99) = bench::medians(&paced[i]);
        let (vs_plain, _, _) = paired(saturated, i, 0, rate);
        let baseline = match case.kind {
            "bare" => case.baseline(cases, "hand"),
            "deployed" => case.baseline(cases, "bare"),
            _ => None,
        };
        let versus = baseline.map(|base| {
            (paired(saturated, i, base, rate), paired(saturated, i, base, p99).0, paired(paced, i, base, p99).0)
        });
        let cell = |value: Option<String>| value.unwrap_or_else(|| "—".to_owned());
        table.push_str(&format!(
            "| {} | {rps:.0} | {vs_plain:.2}x | {} | {p50:.1?} / {p99_time:.1?} | {} | {paced_p50:.1?} / {paced_p99:.1?} | {} |\n",
            case.label,
            cell(versus.map(|((r, low, high), _, _)| format!("**{r:.2}x** ({low:.2}–{high:.2})"))),
            cell(versus.map(|(_, p, _)| format!("{p:.2}x"))),
            cell(versus.map(|(_, _, p)| format!("{p:.2}x"))),
        ));
        let cold = case.cold;
        match (case.kind, versus) {
            ("bare", Some(((r, _, _), saturated_p99, _))) => {
                if case.signing == Signing::Hs256 && !cold {
                    target(format!("{}: >= 0.93x plain axum", case.label), vs_plain, vs_plain >= 0.93);
                }
                target(format!("{}: >= 1.0x the hand-written stack", case.label), r, r >= 1.0);
                if cold {
                    target(
                        format!("{}: p99 <= 1.5x the hand-written stack's", case.label),
                        saturated_p99,
                        saturated_p99 <= 1.5,
                    );
                }
            }
            ("deployed", Some(((r, _, _), _, _))) => {
                target(format!("{}: within 5% of bare (>= 0.95x)", case.label), r, r >= 0.95);
            }
            _ => {}
        }
    }
    table.push_str(&format!("\nTargets (paired medians of the saturated rounds):\n{targets}"));
    table
}

/// Each secured server refuses a forged token and a missing scope, and serves a good token.
fn check_enforcement(name: &str, url: &str) {
    if name == "plain" {
        return;
    }
    let signing = if name.contains("es256") { Signing::Es256 } else { Signing::Hs256 };
    let key = signing.encoding_key();
    let client = reqwest::blocking::Client::new();
    let status = |token: &str| {
        let response = client.get(url).bearer_auth(token).send().expect("the server answers");
        response.status().as_u16()
    };
    let forged = bench::variants::token("user-0", &["bench:read"], "another-secret-0123456789abcdef-012345");
    assert_eq!(status(&signing.token("user-0", &["bench:read"], &key)), 200, "{name}: a good token");
    assert_eq!(status(&forged), 401, "{name}: a forged token");
    assert_eq!(status(&signing.token("user-0", &[], &key)), 403, "{name}: a missing scope");
}

/// The token files: for each signing, 16 tokens and 60,000, one per line.
struct TokenFiles {
    dir: PathBuf,
}

impl TokenFiles {
    fn write(dir: &Path) -> Self {
        for signing in [Signing::Hs256, Signing::Es256] {
            let key = signing.encoding_key();
            for cold in [false, true] {
                let count = if cold { COLD_TOKENS } else { HOT_TOKENS };
                let tokens: Vec<String> = (0..count)
                    .map(|i| signing.token(&format!("user-{i}"), &["bench:read", "bench:write"], &key))
                    .collect();
                std::fs::write(Self::path(dir, signing, cold), tokens.join("\n") + "\n").expect("tokens written");
            }
        }
        println!("tokens signed: {HOT_TOKENS} and {COLD_TOKENS} each, HS256 and ES256");
        Self { dir: dir.to_owned() }
    }

    fn path(dir: &Path, signing: Signing, cold: bool) -> PathBuf {
        dir.join(format!("{signing:?}-{}.txt", if cold { COLD_TOKENS } else { HOT_TOKENS }))
    }

    fn file(&self, signing: Signing, cold: bool) -> PathBuf {
        Self::path(&self.dir, signing, cold)
    }
}

/// A server process (`scale serve NAME DIR`), killed when dropped.
struct Server {
    name: &'static str,
    addr: String,
    child: Child,
    /// Its stdout, kept open so that the server never writes into a closed pipe.
    _stdout: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl Server {
    fn start(name: &'static str, dir: &Path) -> Self {
        let mut child = Command::new(std::env::current_exe().expect("this binary"))
            .args(["serve", name])
            .arg(dir)
            .stdout(Stdio::piped())
            .spawn()
            .expect("a server process");
        let stdout = child.stdout.take().expect("its stdout");
        let mut lines = std::io::BufReader::new(stdout).lines();
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("listening on ").map(str::to_owned))
            .unwrap_or_else(|| panic!("{name}: the server did not start"));
        Self { name, addr, child, _stdout: lines }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child: serves `name` on a loopback port (printed) until killed.
fn serve(name: &str, dir: &Path) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let bare = |signing: Signing| {
        let mut settings = signing.settings();
        settings.push(("RAMPART_LOCKOUT_AUTHN_FAILURES", "0".to_owned()));
        settings.push(("RAMPART_LOCKOUT_AUTHZ_FAILURES", "0".to_owned()));
        settings.push(("RAMPART_METRICS_ADDR", "off".to_owned()));
        rampart_app_with(&settings)
    };
    let mut audit_sink = None;
    let app = match name {
        "plain" => plain(),
        "hand-hs256" => handwritten_with(Signing::Hs256),
        "hand-es256" => handwritten_with(Signing::Es256),
        "rampart-hs256" => bare(Signing::Hs256),
        "rampart-es256" => bare(Signing::Es256),
        "rampart-hs256-deployed" => {
            // What the notes service's main does: the audit sink, the recorder, lockout on.
            let mut settings = Signing::Hs256.settings();
            settings.push(("RAMPART_AUDIT_LOG", dir.join("audit.log").display().to_string()));
            let config = rampart_config(&settings);
            let sink = rampart::audit::install(&config.audit).expect("the audit sink");
            rampart::metrics::watch_audit_sink(&sink);
            audit_sink = Some(sink);
            let metrics = config.metrics_addr.expect("metrics on by default");
            runtime.block_on(rampart::metrics::start(metrics)).expect("the metrics listener");
            rampart_app_with(&settings)
        }
        other => panic!("unknown server {other}"),
    };
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
        println!("listening on {}", listener.local_addr().expect("an address"));
        axum::serve(listener, app).await.expect("serving");
    });
    drop(audit_sink);
}
