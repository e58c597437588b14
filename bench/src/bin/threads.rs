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
//! - for contrast, the same lookup in one `Mutex<HashMap>`: what a global lock looks like.
//!
//! Each thread uses its own 64 subjects. Targets: the guard at 2 threads >= 1.8x one; the cache
//! at 8 threads (four per core) keeping the throughput of 2 (no global lock serializing them).
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

const ROUNDS: usize = 5;
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
    ];

    let mut rates: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); THREADS.len()]; operations.len()];
    for round in 1..=ROUNDS {
        for (o, (name, operation)) in operations.iter().enumerate() {
            for (t, &threads) in THREADS.iter().enumerate() {
                let rate = run(operation, threads);
                println!("round {round} {name:<20} {threads} threads: {:>12.0} ops/s", rate);
                rates[o][t].push(rate);
            }
        }
    }
    let mut table = String::from(
        "| operation | 1 thread (ops/s, median) | 2 threads | 8 threads | 2 vs 1 (paired median, range) | 8 vs 1 (paired median, range) |\n|---|---|---|---|---|---|\n",
    );
    let mut targets = String::new();
    for (o, (name, _)) in operations.iter().enumerate() {
        let median = |t: usize| median_f64(&mut rates[o][t].clone());
        let paired = |t: usize| {
            let mut ratios: Vec<f64> = rates[o][t].iter().zip(&rates[o][0]).map(|(n, one)| n / one).collect();
            let (low, high) = ratios.iter().fold((f64::MAX, f64::MIN), |(l, h), &r| (l.min(r), h.max(r)));
            (median_f64(&mut ratios), low, high)
        };
        let ((two, two_low, two_high), (eight, eight_low, eight_high)) = (paired(1), paired(2));
        table.push_str(&format!(
            "| {name} | {:.0} | {:.0} | {:.0} | **{two:.2}x** ({two_low:.2}–{two_high:.2}) | **{eight:.2}x** ({eight_low:.2}–{eight_high:.2}) |\n",
            median(0),
            median(1),
            median(2)
        ));
        let mut target = |what: &str, value: f64, met: bool| {
            targets.push_str(&format!("- {what}: {value:.2}x, {}\n", if met { "met" } else { "**not met**" }));
        };
        match *name {
            "guard check" => target("guard check, 2 threads >= 1.8x one", two, two >= 1.8),
            "verification cache" => {
                target("verification cache, 8 threads >= 1.8x one (no global lock)", eight, eight >= 1.8)
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

/// Runs `operation` on `threads` threads for [`RUN`]: operations per second, all threads together.
fn run(operation: &Operation, threads: usize) -> f64 {
    let start = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|thread| {
            let (operation, start) = (Arc::clone(operation), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                let began = Instant::now();
                let mut done = 0;
                while began.elapsed() < RUN {
                    for _ in 0..64 {
                        operation(thread, done);
                        done += 1;
                    }
                }
                done as f64 / began.elapsed().as_secs_f64()
            })
        })
        .collect();
    start.wait();
    handles.into_iter().map(|h| h.join().expect("a thread")).sum()
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
