//! Rate-limit benchmarks: memory of the in-memory backend under 1,000,000 keys and after they
//! expire, the cost of one check in memory, and the Redis round trip on loopback.
//!
//! `cargo run -p bench --release --bin rate [-- --redis redis://127.0.0.1:6379]`

use std::time::{Duration, Instant};

use bench::{mb, median, resident_bytes};
use rampart::config::FailureMode;
use rampart::rate::{Checked, MemoryStore, RateLimiter, RedisStore};
use rampart::{RateKey, RateSpec};

const KEYS: usize = 1_000_000;

fn memory_under_many_keys() {
    let store = MemoryStore::with_max_keys(2 * KEYS);
    // One request per second: every key has its whole quota back a second later.
    let spec = RateSpec { count: 1, period_secs: 1, burst: 1, key: RateKey::Subject };
    let route = ("GET", "/notes");
    let start = resident_bytes();
    let mut key = String::with_capacity(32);
    let started = Instant::now();
    for i in 0..KEYS {
        key.clear();
        key.push_str("sub:user-");
        key.push_str(&i.to_string());
        assert!(matches!(store.check(route, &spec, &key), Checked::Allowed(_)));
    }
    let filled = started.elapsed();
    let peak = resident_bytes();
    let tracked = store.len();
    // governor drops a key once its state equals a fresh one: one emission interval after its
    // quota is whole again, so two seconds after the last insert.
    std::thread::sleep(Duration::from_millis(2100));
    let cleaned = Instant::now();
    store.cleanup();
    let cleanup_time = cleaned.elapsed();
    let after = resident_bytes();
    println!("memory: start {:.1} MB", mb(start));
    println!(
        "memory: {tracked} keys tracked after {KEYS} distinct keys ({:.0} ns/insert): peak {:.1} MB (+{:.1} MB)",
        filled.as_nanos() as f64 / KEYS as f64,
        mb(peak),
        mb(peak.saturating_sub(start))
    );
    println!(
        "memory: after expiry + cleanup ({cleanup_time:?}): {} keys, {:.1} MB (+{:.1} MB over start)",
        store.len(),
        mb(after),
        mb(after.saturating_sub(start))
    );
}

fn memory_check_cost() {
    let store = MemoryStore::default();
    let spec = RateSpec { count: u32::MAX, period_secs: 1, burst: u32::MAX, key: RateKey::Subject };
    let route = ("GET", "/notes");
    let keys: Vec<String> = (0..10_000).map(|i| format!("sub:user-{i}")).collect();
    for key in &keys {
        store.check(route, &spec, key);
    }
    let mut samples = Vec::new();
    for round in 0..300 {
        let started = Instant::now();
        for i in 0..1000 {
            std::hint::black_box(store.check(route, &spec, &keys[(round * 1000 + i) % keys.len()]));
        }
        samples.push(started.elapsed() / 1000);
    }
    let baseline = {
        let mut samples = Vec::new();
        let set: std::collections::HashSet<&String> = keys.iter().collect();
        for round in 0..300 {
            let started = Instant::now();
            for i in 0..1000 {
                std::hint::black_box(set.contains(&keys[(round * 1000 + i) % keys.len()]));
            }
            samples.push(started.elapsed() / 1000);
        }
        median(&mut samples)
    };
    println!(
        "memory check: median {:?} per check over 10,000 keys (baseline HashSet lookup {:?})",
        median(&mut samples),
        baseline
    );
}

async fn redis_round_trip(url: &str) {
    let store = match RedisStore::connect(url, Duration::from_millis(500)) {
        Ok(store) => store.with_prefix(format!("rampart-bench:{}", std::process::id())),
        Err(err) => {
            println!("redis: skipped ({err})");
            return;
        }
    };
    if let Err(err) = store.ping().await {
        println!("redis: skipped ({err})");
        return;
    }
    let spec = RateSpec { count: 1_000_000, period_secs: 60, burst: 1_000_000, key: RateKey::Subject };
    let route = ("GET", "/notes");
    let mut pings = Vec::new();
    for _ in 0..1000 {
        let started = Instant::now();
        store.ping().await.ok();
        pings.push(started.elapsed());
    }
    let mut checks = Vec::new();
    for i in 0..2000 {
        let started = Instant::now();
        store.check(route, &spec, &format!("sub:user-{}", i % 100)).await.ok();
        checks.push(started.elapsed());
    }
    println!(
        "redis: median PING {:?}, median GCRA check {:?} (one EVALSHA round trip)",
        median(&mut pings),
        median(&mut checks)
    );

    // Concurrency: 32 tasks share one multiplexed connection, which pipelines their commands.
    let limiter = std::sync::Arc::new(RateLimiter::redis(store, FailureMode::Closed, MemoryStore::default()));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..32 {
        let limiter = limiter.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..500 {
                let (checked, _) = limiter.check(route, &spec, &format!("sub:user-{t}-{}", i % 10)).await;
                assert!(matches!(checked, Checked::Allowed(_)));
            }
        }));
    }
    for task in tasks {
        task.await.ok();
    }
    let elapsed = started.elapsed();
    println!(
        "redis: 32 concurrent clients, 16,000 checks in {elapsed:?} = {:.0} checks/s",
        16_000.0 / elapsed.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let url = std::env::args().skip_while(|a| a != "--redis").nth(1).unwrap_or_else(|| "redis://127.0.0.1:6379".into());
    memory_under_many_keys();
    memory_check_cost();
    redis_round_trip(&url).await;
}
