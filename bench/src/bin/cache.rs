//! The verification cache with more live tokens than it holds: 1,000,000 distinct HS256 tokens
//! (each verified twice, and so remembered) through a verifier with the default byte budget
//! ([`rampart::auth::DEFAULT_CACHE_BYTES`], 32 MiB). Prints the resident memory before and after,
//! the cache's own weight and entry count, and whether the growth stayed within the budget.
//!
//! `cargo run -p bench --release --bin cache [TOKENS]`

use bench::variants::{AUDIENCE, ISSUER, SECRET, token};
use bench::{mb, resident_bytes};
use rampart::auth::{Algorithm, DEFAULT_CACHE_BYTES, Issuer, JwtVerifier, VerificationKey};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

/// The system allocator, counting the bytes asked for and given back, so that the bytes live
/// on the heap (before the allocator's rounding and headers) can be told from resident memory.
#[global_allocator]
static ALLOCATOR: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

fn main() {
    let count: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(1_000_000);
    let key = VerificationKey::from_secret(Algorithm::HS256, SECRET.as_bytes()).expect("a key");
    let issuer = Issuer::builder(ISSUER, [AUDIENCE]).key(key).build().expect("an issuer");
    let verifier = JwtVerifier::new(vec![issuer]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    // One token is signed ahead to size the entries; the rest are signed one at a time and
    // dropped after their verification, so that only the cache keeps them.
    let sample = token("user-0", &["bench:read"], SECRET);
    // A first verification (of a token the cache then holds, as it holds the others) pays the
    // one-time costs outside the measure: the runtime's and the key's first use.
    runtime.block_on(verifier.verify(&sample)).expect("a valid token");
    runtime.block_on(verifier.verify(&sample)).expect("a valid token");
    let before = resident_bytes();
    let heap = Region::new(ALLOCATOR);
    let mut peak = before;
    let started = std::time::Instant::now();
    for i in 0..count {
        let token = token(&format!("user-{i}"), &["bench:read"], SECRET);
        // Twice: a token is remembered from its second verification on.
        runtime.block_on(verifier.verify(&token)).expect("a valid token");
        runtime.block_on(verifier.verify(&token)).expect("a valid token");
        if i % 50_000 == 0 {
            peak = peak.max(resident_bytes());
        }
    }
    let after = resident_bytes();
    let change = heap.change();
    // A reallocation is counted in `bytes_allocated` or `bytes_deallocated` by its difference.
    let live = change.bytes_allocated.saturating_sub(change.bytes_deallocated) as u64;
    peak = peak.max(after);
    let growth = peak.saturating_sub(before);
    println!("{count} distinct tokens of {} bytes verified in {:.1?}", sample.len(), started.elapsed());
    println!("resident before: {:.1} MiB, peak: {:.1} MiB, after: {:.1} MiB", mb(before), mb(peak), mb(after));
    println!(
        "cache: {} tokens remembered, weighing {:.1} MiB by its estimate, budget {:.1} MiB",
        verifier.cached_tokens(),
        mb(verifier.cached_bytes()),
        mb(DEFAULT_CACHE_BYTES)
    );
    println!(
        "live heap growth {:.1} MiB ({} allocations live): {} bytes per remembered token",
        mb(live),
        change.allocations.saturating_sub(change.deallocations),
        live / (verifier.cached_tokens() as u64).max(1)
    );
    let within = growth <= DEFAULT_CACHE_BYTES;
    println!("resident growth {:.1} MiB: {} the budget", mb(growth), if within { "within" } else { "**over**" });
}
