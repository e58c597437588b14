//! Scaling across cores, which an HTTP run cannot show on a 2-core machine (the load generator
//! needs a core of its own). Several threads run one operation in a loop for a fixed time; the
//! total operations per second of N threads are compared with one thread's, in interleaved
//! rounds (1, 2, 8 threads, then again), as paired per-round ratios:
//!
//! - the guard's whole check of a secured request, through the public API of
//!   [`rampart::Security`] built from the default configuration (lockout on, memory stores):
//!   authenticate (a token from the verification cache), authorize (a scope), the rate check
//!   (per subject), the subject's lockout lookup;
//! - the verification cache alone (a verified token looked up again);
//! - for contrast, the same lookup in one `Mutex<HashMap>`: what a global lock looks like;
//! - for the machine's own scaling, `jsonwebtoken::decode` of an HS256 token: nothing shared is
//!   written (what two threads can give here, with the allocator and the memory bus shared).
//!
//! Each thread uses its own 64 subjects. The virtual machines this runs on lend their cores to
//! neighbours now and then, so wall-clock ratios swing (two threads measured 1.3x to 3.3x one
//! on `jsonwebtoken::decode`, which shares nothing). Each thread's CPU time is read too
//! (`/proc/thread-self/schedstat`): the operations a thread completes per second of its own CPU
//! time fall only with contention (a lock word or counter written by every thread), so "2
//! threads, each on its own core" is the sum of the two threads' rates per CPU-second, and "8
//! threads" is each thread's rate per CPU-second against one thread's. Targets: the guard at 2
//! threads >= 1.8x one; the cache at 8 threads keeping >= 0.9x one thread's work per CPU-second
//! (no global lock: with one, 8 threads would spend their CPU waiting on each other).
//!
//! `cargo run -p bench --release --bin threads`

use std::collections::HashMap;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use axum::http::request::Parts;
use bench::median_f64;
use bench::variants::{SECRET, rampart_config, token};
use rampart::auth::{Algorithm, Issuer, JwtVerifier, Principal, VerificationKey};
use rampart::authz::Policy;
use rampart::lockout::LockoutKey;
use rampart::{RateKey, RateSpec, Security};

const ROUNDS: usize = 7;
const RUN: Duration = Duration::from_millis(1500);
const THREADS: [usize; 3] = [1, 2, 8];
const SUBJECTS_PER_THREAD: usize = 64;

/// One operation on the `n`th request of thread `thread`.
type Operation = Arc<dyn Fn(usize, usize) + Send + Sync>;

fn main() {
    let subjects = SUBJECTS_PER_THREAD * THREADS.iter().max().copied().unwrap_or(1);
    let tokens: Vec<String> =
        (0..subjects).map(|i| token(&format!("user-{i}"), &["bench:read", "bench:write"], SECRET)).collect();
    let operations: Vec<(&str, Operation)> = vec![
        ("guard check", guard(&tokens)),
        ("verification cache", cache(&tokens)),
        ("one Mutex<HashMap>", mutex(&tokens)),
        ("jsonwebtoken::decode", decode(&tokens)),
    ];

    // Per operation and thread count, each round's (wall-clock ops/s, per-thread ops per CPU-second).
    let mut measures: Vec<Vec<Vec<Measure>>> = vec![vec![Vec::new(); THREADS.len()]; operations.len()];
    for round in 1..=ROUNDS {
        for (o, (name, operation)) in operations.iter().enumerate() {
            for (t, &threads) in THREADS.iter().enumerate() {
                let measure = run(operation, threads);
                println!(
                    "round {round} {name:<20} {threads} threads: {:>12.0} ops/s, {:>12.0} ops per thread-CPU-second",
                    measure.wall,
                    measure.per_cpu.iter().sum::<f64>() / threads as f64
                );
                measures[o][t].push(measure);
            }
        }
    }
    let mut table = String::from(
        "| operation | 1 thread: ops per CPU-s (median) | 2 threads, each on its core: throughput vs 1 (paired median, range) | 8 threads: ops per thread-CPU-s vs 1 thread (paired median, range) | wall-clock 2 vs 1 | wall-clock 8 vs 1 |\n|---|---|---|---|---|---|\n",
    );
    let mut targets = String::new();
    for (o, (name, _)) in operations.iter().enumerate() {
        let rounds = &measures[o];
        let paired = |t: usize, of: &dyn Fn(&Measure) -> f64| {
            let mut ratios: Vec<f64> = rounds[t].iter().zip(&rounds[0]).map(|(n, one)| of(n) / of(one)).collect();
            let (low, high) = ratios.iter().fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
            (median_f64(&mut ratios), low, high)
        };
        // What the threads give when each has a core: the sum of their rates per CPU-second.
        let summed = |m: &Measure| m.per_cpu.iter().sum::<f64>();
        // What each thread gets done per CPU-second: contention makes it fall.
        let per_thread = |m: &Measure| m.per_cpu.iter().sum::<f64>() / m.per_cpu.len() as f64;
        let one = median_f64(&mut rounds[0].iter().map(per_thread).collect::<Vec<_>>());
        let (two, two_low, two_high) = paired(1, &summed);
        let (eight, eight_low, eight_high) = paired(2, &per_thread);
        let (wall_two, _, _) = paired(1, &|m| m.wall);
        let (wall_eight, _, _) = paired(2, &|m| m.wall);
        table.push_str(&format!(
            "| {name} | {one:.0} | **{two:.2}x** ({two_low:.2}–{two_high:.2}) | **{eight:.2}x** ({eight_low:.2}–{eight_high:.2}) | {wall_two:.2}x | {wall_eight:.2}x |\n",
        ));
        let mut target = |what: &str, value: f64, met: bool| {
            targets.push_str(&format!("- {what}: {value:.2}x, {}\n", if met { "met" } else { "**not met**" }));
        };
        match *name {
            "guard check" => target("guard check, 2 threads >= 1.8x one", two, two >= 1.8),
            "verification cache" => {
                target(
                    "verification cache, 8 threads: each thread's work per CPU-second >= 0.9x one thread's (no global lock)",
                    eight,
                    eight >= 0.9,
                );
            }
            _ => {}
        }
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let report = format!("{table}\nTargets ({cores} cores):\n{targets}");
    println!("\n{report}");
    bench::write_section(
        "threads",
        &format!(
            "Command: `cargo run -p bench --release --bin threads` (run on {}; {ROUNDS} interleaved rounds of \
             {} ms per operation and thread count; {cores} cores).\n\n{report}",
            bench::today(),
            RUN.as_millis()
        ),
    );
}

/// One run: operations per second of wall-clock time, all threads together, and each thread's
/// operations per second of its own CPU time (which a neighbour on the virtual machine taking
/// the core does not lower, but contention on a shared cache line does).
#[derive(Debug, Clone)]
struct Measure {
    wall: f64,
    per_cpu: Vec<f64>,
}

/// This thread's CPU time so far (`/proc/thread-self/schedstat`, nanoseconds on the CPU).
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    Duration::from_nanos(text.split_whitespace().next().and_then(|ns| ns.parse().ok()).unwrap_or(0))
}

/// Runs `operation` on `threads` threads for [`RUN`].
fn run(operation: &Operation, threads: usize) -> Measure {
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let (operation, start) = (Arc::clone(operation), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let (began, cpu) = (Instant::now(), thread_cpu());
                let mut done = 0;
                while began.elapsed() < RUN {
                    for _ in 0..64 {
                        operation(thread, done);
                        done += 1;
                    }
                }
                let (wall, cpu) = (began.elapsed(), thread_cpu().saturating_sub(cpu));
                (done as f64 / wall.as_secs_f64(), done as f64 / cpu.as_secs_f64().max(1e-9))
            })
        })
        .collect();
    start.wait();
    let rates: Vec<(f64, f64)> = handles.into_iter().map(|h| h.join().expect("a thread")).collect();
    Measure { wall: rates.iter().map(|r| r.0).sum(), per_cpu: rates.iter().map(|r| r.1).collect() }
}

/// A request's parts carrying `token`.
fn parts(token: &str) -> Parts {
    let request = axum::http::Request::get("/secure").header("authorization", format!("Bearer {token}")).body(());
    request.expect("a request").into_parts().0
}

/// The guard's check: authenticate (from the cache), authorize, rate check, lockout lookup.
fn guard(tokens: &[String]) -> Operation {
    let security =
        Security::from_config(&rampart_config(&[("RAMPART_JWT_SECRET", SECRET.to_owned())])).expect("security");
    let lockout = Arc::clone(security.lockout().expect("lockout is on by default"));
    let requests: Vec<Mutex<Parts>> = tokens.iter().map(|t| Mutex::new(parts(t))).collect();
    let spec = RateSpec { count: u32::MAX, period_secs: 1, burst: u32::MAX, key: RateKey::Subject };
    const POLICY: Policy = Policy::Scope("bench:read");
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    for request in &requests {
        let mut parts = request.lock().expect("parts");
        runtime.block_on(security.authenticate(&mut parts)).expect("a valid token");
    }
    let requests = Arc::new(requests);
    Arc::new(move |thread, n| {
        // Each thread's own subjects: its parts are never locked by another thread.
        let request = &requests[thread * SUBJECTS_PER_THREAD + n % SUBJECTS_PER_THREAD];
        let mut parts = request.lock().expect("parts");
        let checked = complete_now(async {
            let principal = security.authenticate(&mut parts).await.expect("authenticated");
            security.authorize(&parts, &principal, &POLICY).expect("authorized");
            let (checked, _) =
                security.rate_limiter().check(("GET", "/secure"), &spec, principal.qualified_subject()).await;
            let locked = lockout.locked(&LockoutKey::Subject(principal.qualified_subject())).await;
            (checked, locked)
        });
        std::hint::black_box(checked);
    })
}

/// A verifier trusting the benchmark's issuer, with every token verified once.
fn verifier(tokens: &[String]) -> JwtVerifier {
    let key = VerificationKey::from_secret(Algorithm::HS256, SECRET.as_bytes()).expect("a key");
    let issuer =
        Issuer::builder(bench::variants::ISSUER, [bench::variants::AUDIENCE]).key(key).build().expect("issuer");
    let verifier = JwtVerifier::new(vec![issuer]);
    for token in tokens {
        complete_now(verifier.verify(token)).expect("a valid token");
    }
    verifier
}

/// The verification cache: a verified token looked up again.
fn cache(tokens: &[String]) -> Operation {
    let verifier = verifier(tokens);
    let tokens = tokens.to_vec();
    Arc::new(move |thread, n| {
        let token = &tokens[thread * SUBJECTS_PER_THREAD + n % SUBJECTS_PER_THREAD];
        std::hint::black_box(complete_now(verifier.verify(token)).expect("cached"));
    })
}

/// An HS256 token decoded from scratch by jsonwebtoken: only read-only state is shared.
fn decode(tokens: &[String]) -> Operation {
    let key = jsonwebtoken::DecodingKey::from_secret(SECRET.as_bytes()).expect("a key");
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&[bench::variants::AUDIENCE]);
    let tokens = tokens.to_vec();
    Arc::new(move |thread, n| {
        let token = &tokens[thread * SUBJECTS_PER_THREAD + n % SUBJECTS_PER_THREAD];
        let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).expect("a valid token");
        std::hint::black_box(claims);
    })
}

/// The same lookup in one map behind one lock.
fn mutex(tokens: &[String]) -> Operation {
    let verifier = verifier(tokens);
    let map: HashMap<Box<[u8]>, Principal> =
        tokens.iter().map(|t| (Box::from(t.as_bytes()), complete_now(verifier.verify(t)).expect("cached"))).collect();
    let map = Mutex::new(map);
    let tokens = tokens.to_vec();
    Arc::new(move |thread, n| {
        let token = &tokens[thread * SUBJECTS_PER_THREAD + n % SUBJECTS_PER_THREAD];
        let principal = map.lock().expect("the map").get(token.as_bytes()).cloned();
        std::hint::black_box(principal.expect("present"));
    })
}

/// The output of a future that completes at its first poll, as every check here does (the
/// stores are in memory): no runtime, so that no scheduler is measured with the check.
///
/// # Panics
///
/// When the future would wait.
fn complete_now<F: std::future::Future>(future: F) -> F::Output {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("an in-memory check waited"),
    }
}
