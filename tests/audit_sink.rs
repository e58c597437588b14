//! The audit sink never makes a request wait: with its destination stalled, denied requests (each
//! of which writes an audit line) take what they take with a healthy destination, and the lines
//! that do not fit the queue are counted as dropped. With a file destination, the lines land in a
//! size-rotated file.
//!
//! Its own test binary, with scoped (thread-local) subscribers: `#[tokio::test]` runs each test on
//! one thread, so every event of a test goes to that test's sink.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use rampart::Security;
use rampart::audit::{AuditSink, RotatingFile, json_subscriber_with_writer};
use rampart_tests::*;

/// A destination whose writes block until the test releases them: a full disk, a blocked pipe.
#[derive(Clone, Default)]
struct Stalled(Arc<(Mutex<bool>, Condvar)>);

impl Stalled {
    fn release(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }
}

impl Write for Stalled {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let (released, wake) = &*self.0;
        let _released = wake.wait_while(released.lock().unwrap(), |r| !*r).unwrap();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The median time of `n` requests with an invalid token (401, one audit line each).
async fn median_denial(n: usize) -> Duration {
    let app = test_app(&Security::new(authenticator(&[Scheme::Hs256])), &Calls::default());
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let reply = send(&app, get_with_token("/me", "not-a-valid-token")).await;
        times.push(started.elapsed());
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
    times.sort_unstable();
    times[n / 2]
}

const REQUESTS: usize = 2_000;
const QUEUE: usize = 64;

#[tokio::test]
async fn a_stalled_sink_drops_and_counts_lines_and_requests_keep_their_latency() {
    // Baseline: a destination that keeps up.
    let (healthy_sink, writer) = AuditSink::spawn(std::io::sink(), QUEUE);
    let healthy = {
        let _scope = tracing::subscriber::set_default(json_subscriber_with_writer(writer));
        median_denial(REQUESTS).await
    };
    drop(healthy_sink);

    let stalled = Stalled::default();
    let (sink, writer) = AuditSink::spawn(stalled.clone(), QUEUE);
    let with_stall = {
        let _scope = tracing::subscriber::set_default(json_subscriber_with_writer(writer));
        // Were the request path to wait for the sink, this would never finish.
        tokio::time::timeout(Duration::from_secs(60), median_denial(REQUESTS)).await.expect("requests never wait")
    };
    // Every line beyond the queue (and the one stuck in the writer) was dropped and counted.
    let dropped = sink.dropped_lines();
    assert!(dropped >= (REQUESTS - QUEUE - 1) as u64, "dropped {dropped} of {REQUESTS}");
    assert!(dropped <= REQUESTS as u64, "dropped {dropped} of {REQUESTS}");
    // Same latency within noise: a blocked request would take forever, not 3x.
    assert!(
        with_stall <= healthy * 3 + Duration::from_micros(500),
        "median {with_stall:?} with a stalled sink vs {healthy:?} with a healthy one"
    );
    eprintln!("median denial: {healthy:?} healthy sink, {with_stall:?} stalled sink; {dropped} lines dropped");
    // The drops are a metric too.
    rampart::metrics::install().unwrap();
    rampart::metrics::watch_audit_sink(&sink);
    let exposition = rampart::metrics::render().unwrap();
    assert!(exposition.contains(&format!("rampart_audit_dropped_lines {dropped}\n")), "{exposition}");
    stalled.release();
    drop(sink);
}

#[tokio::test]
async fn a_file_sink_writes_json_lines_and_rotates_by_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.log");
    let (sink, writer) = AuditSink::spawn(RotatingFile::open(&path, 4096, 3).unwrap(), 10_000);
    {
        let _scope = tracing::subscriber::set_default(json_subscriber_with_writer(writer));
        median_denial(100).await;
    }
    drop(sink); // writes out the queue
    let rotated = dir.path().join("audit.log.1");
    assert!(rotated.exists(), "100 audit lines exceed 4 KiB: the file rotated");
    let mut events = 0;
    for file in [&path, &rotated] {
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.len() <= 4096, "{} has {} bytes", file.display(), text.len());
        for line in text.lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(event["target"], "rampart::audit");
            assert_eq!(event["status"], 401);
            assert!(!line.contains("not-a-valid-token"), "the token never reaches the log");
            events += 1;
        }
    }
    assert!(events >= 20, "{events} events in the live and first rotated files");
}
