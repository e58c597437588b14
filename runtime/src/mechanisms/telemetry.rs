//! Request and security-decision metrics through the `metrics` facade, exported by
//! `metrics-exporter-prometheus` once [`install`]ed; what they are and how they are served is in
//! [`crate::telemetry`].

use std::collections::HashMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::http::Method;
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The scope [`crate::metrics::scrape`] requires on the main router.
pub const SCOPE: &str = "metrics:read";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
static ENABLED: AtomicBool = AtomicBool::new(false);
static AUDIT_DROPS: OnceLock<Box<dyn Fn() -> u64 + Send + Sync>> = OnceLock::new();

/// How often histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Latency buckets, in seconds: 100 µs to 10 s.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 10.0];

/// The recorder could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(pub(crate) String);

/// Installs the Prometheus recorder as the process's `metrics` recorder (once: later calls
/// return the same handle).
///
/// # Errors
///
/// When another `metrics` recorder is already installed.
pub fn install() -> Result<&'static PrometheusHandle, MetricsError> {
    // Two threads installing at once: the second waits and finds the first one's recorder.
    static INSTALLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _installing = INSTALLING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .map_err(|e| MetricsError(e.to_string()))?
        .install_recorder()
        .map_err(|e| MetricsError(e.to_string()))?;
    let handle = HANDLE.get_or_init(|| handle);
    // Histogram samples wait in the recorder until an upkeep folds them into the buckets: without
    // a periodic one, a service nobody scrapes grows by every request's sample (the soak test
    // caught this: +46% resident memory in a minute at 10k req/s).
    let spawned = std::thread::Builder::new().name("rampart-metrics-upkeep".into()).spawn(|| {
        loop {
            std::thread::sleep(UPKEEP_EVERY);
            if let Some(handle) = HANDLE.get() {
                handle.run_upkeep();
            }
        }
    });
    spawned.map_err(|e| MetricsError(format!("starting the upkeep thread: {e}")))?;
    ENABLED.store(true, Ordering::Release);
    Ok(handle)
}

/// What counts the lines an audit sink dropped ([`crate::audit::AuditSink`]): metrics read it
/// without knowing the sink (telemetry sits below audit, which reports its decisions to it).
pub trait DroppedLines {
    /// A reader of the count, called at each scrape.
    fn dropped_lines_counter(&self) -> Box<dyn Fn() -> u64 + Send + Sync>;
}

/// Reports the lines `sink` drops as `rampart_audit_dropped_lines` (read at each scrape).
pub fn watch_audit_sink(sink: &impl DroppedLines) {
    let _ = AUDIT_DROPS.set(sink.dropped_lines_counter());
}

/// The Prometheus text exposition of every metric, or `None` before [`install`].
pub fn render() -> Option<String> {
    let handle = HANDLE.get()?;
    if let Some(dropped) = AUDIT_DROPS.get() {
        metrics::gauge!("rampart_audit_dropped_lines").set(dropped() as f64);
    }
    handle.run_upkeep();
    Some(handle.render())
}

fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

/// The `method` label: one of the standard methods, else `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The endpoint a response came from (set by the endpoint's guard), for the request metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteLabel(pub(crate) &'static EndpointMetrics);

/// The request metrics of one endpoint: its route and method, and its handles — the duration
/// histogram and one counter per common status —, registered on the endpoint's first request once
/// metrics are installed, and never looked up again. (Made once per route when a router is
/// built, and kept for the process's life.)
#[derive(Debug)]
pub(crate) struct EndpointMetrics {
    route: &'static str,
    method: &'static str,
    duration: OnceLock<metrics::Histogram>,
    counters: [OnceLock<metrics::Counter>; COMMON_STATUSES.len()],
}

impl EndpointMetrics {
    /// The metrics of the endpoint at `route` answering `method` (`GET`, ...), for the
    /// process's life.
    pub(crate) fn leak(route: &'static str, method: &'static str) -> &'static Self {
        Box::leak(Box::new(Self {
            route,
            method,
            duration: OnceLock::new(),
            counters: std::array::from_fn(|_| OnceLock::new()),
        }))
    }

    /// One finished request of `method` (another than the endpoint's, as HEAD on a GET route,
    /// goes the general way).
    fn record(&self, method: &'static str, status: u16, elapsed: Duration) {
        let common = COMMON_STATUSES.iter().position(|(code, _)| *code == status);
        let (Some(index), true) = (common, method == self.method) else {
            return record_request(Some(self.route), method, status, elapsed);
        };
        let (route, method) = (self.route, self.method);
        self.counters[index]
            .get_or_init(|| {
                let status = COMMON_STATUSES[index].1;
                metrics::counter!("rampart_requests_total", "route" => route, "method" => method, "status" => status)
            })
            .increment(1);
        self.duration
            .get_or_init(
                || metrics::histogram!("rampart_request_duration_seconds", "route" => route, "method" => method),
            )
            .record(elapsed.as_secs_f64());
    }
}

/// A request being timed (only while metrics are installed).
#[derive(Debug)]
pub(crate) struct Timing {
    method: &'static str,
    started: std::time::Instant,
}

/// Starts timing a request, when metrics are installed.
pub(crate) fn timing(method: &Method) -> Option<Timing> {
    enabled().then(|| Timing { method: method_label(method), started: std::time::Instant::now() })
}

impl Timing {
    /// Records the finished request, with the route its endpoint's guard named (`route`, or
    /// the response's [`RouteLabel`]).
    pub(crate) fn finish(self, response: &Response, endpoint: Option<&'static EndpointMetrics>) {
        let endpoint = endpoint.or_else(|| response.extensions().get::<RouteLabel>().map(|label| label.0));
        let (status, elapsed) = (response.status().as_u16(), self.started.elapsed());
        match endpoint {
            Some(endpoint) => endpoint.record(self.method, status, elapsed),
            None => record_request(None, self.method, status, elapsed),
        }
    }
}

/// Whether responses should carry their [`RouteLabel`].
pub(crate) fn labels_routes() -> bool {
    enabled()
}

/// The handles of one route, method and status's request metrics.
type RequestHandles = (metrics::Counter, metrics::Histogram);

thread_local! {
    /// This thread's handles of the request metrics, by route (its label's address: labels are
    /// `&'static str` the macros declare), method and status: a request records into them
    /// without building a key, hashing its labels and looking it up in the registry (~10% of a
    /// cached-token GET's time). Bounded by the routes, methods and statuses that exist.
    static REQUEST_HANDLES: std::cell::RefCell<
        HashMap<(usize, &'static str, u16), RequestHandles, rustc_hash::FxBuildHasher>,
    > = std::cell::RefCell::default();
}

/// One finished request of no endpoint (`unmatched`), or of another method or a rare status.
fn record_request(route: Option<&'static str>, method: &'static str, status: u16, elapsed: Duration) {
    let route = route.unwrap_or("unmatched");
    let register = || -> RequestHandles {
        let status = status_label(status);
        let counter =
            metrics::counter!("rampart_requests_total", "route" => route, "method" => method, "status" => status);
        (counter, metrics::histogram!("rampart_request_duration_seconds", "route" => route, "method" => method))
    };
    REQUEST_HANDLES.with_borrow_mut(|handles| {
        let (counter, histogram) = handles.entry((route.as_ptr() as usize, method, status)).or_insert_with(register);
        counter.increment(1);
        histogram.record(elapsed.as_secs_f64());
    });
}

/// The statuses whose label is a constant (and that an endpoint keeps a counter for).
const COMMON_STATUSES: [(u16, &str); 16] = [
    (200, "200"),
    (201, "201"),
    (204, "204"),
    (304, "304"),
    (400, "400"),
    (401, "401"),
    (403, "403"),
    (404, "404"),
    (405, "405"),
    (413, "413"),
    (415, "415"),
    (422, "422"),
    (429, "429"),
    (500, "500"),
    (503, "503"),
    (504, "504"),
];

/// The status as a label, without allocating for the common ones.
fn status_label(status: u16) -> metrics::SharedString {
    match COMMON_STATUSES.iter().find(|(code, _)| *code == status) {
        Some((_, text)) => metrics::SharedString::const_str(text),
        None => metrics::SharedString::from(status.to_string()),
    }
}

/// One security decision (called for every audit event).
pub(crate) fn record_decision(route: &std::sync::Arc<str>, decision: &'static str, reason: &'static str) {
    if !enabled() {
        return;
    }
    metrics::counter!(
        "rampart_security_decisions_total",
        "route" => metrics::SharedString::from(std::sync::Arc::clone(route)),
        "decision" => decision,
        "reason" => reason
    )
    .increment(1);
}

/// A bearer token found in (or missing from) the verification cache.
pub fn record_token_cache(hit: bool) {
    /// The two counters, registered once (with the recorder: this runs only once it is installed).
    static COUNTERS: OnceLock<[metrics::Counter; 2]> = OnceLock::new();
    if enabled() {
        let [hits, misses] = COUNTERS.get_or_init(|| {
            ["hit", "miss"].map(|result| metrics::counter!("rampart_token_cache_total", "result" => result))
        });
        if hit { hits } else { misses }.increment(1);
    }
}

/// One verified token evicted from the verification cache to make room.
pub(crate) fn record_token_cache_eviction() {
    static COUNTER: OnceLock<metrics::Counter> = OnceLock::new();
    if enabled() {
        COUNTER.get_or_init(|| metrics::counter!("rampart_token_cache_evictions_total")).increment(1);
    }
}

/// A token about to be verified (parsed, its signature and claims checked): a cache miss whose
/// syntax is plausible.
pub(crate) fn record_verification() {
    static COUNTER: OnceLock<metrics::Counter> = OnceLock::new();
    if enabled() {
        COUNTER.get_or_init(|| metrics::counter!("rampart_token_verifications_total")).increment(1);
    }
}

/// One round trip to the Redis rate-limit store.
pub(crate) fn record_redis(outcome: &'static str, elapsed: Duration) {
    if enabled() {
        metrics::histogram!("rampart_rate_limit_redis_seconds", "outcome" => outcome).record(elapsed.as_secs_f64());
    }
}

/// A rate-limit check that the shared store could not answer.
pub(crate) fn record_fallback(reason: &'static str) {
    if enabled() {
        metrics::counter!("rampart_rate_limit_fallbacks_total", "reason" => reason).increment(1);
    }
}

/// One JWKS fetch.
pub(crate) fn record_jwks_fetch(ok: bool) {
    if enabled() {
        metrics::counter!("rampart_jwks_fetches_total", "outcome" => if ok { "ok" } else { "error" }).increment(1);
    }
}

/// One token looked up by introspection: `cached`, `refused_cached` (answered from a cache),
/// `active`, `refused` (asked), `error` (no usable answer), `unavailable` (not asked, after an error).
pub(crate) fn record_introspection(outcome: &'static str) {
    if enabled() {
        metrics::counter!("rampart_introspection_total", "outcome" => outcome).increment(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_come_from_closed_sets() {
        assert_eq!(method_label(&Method::from_bytes(b"PROPFIND").unwrap_or(Method::GET)), "other");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        assert_eq!(&*status_label(429), "429");
        assert_eq!(&*status_label(418), "418");
    }
}
