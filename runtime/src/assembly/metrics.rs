//! Prometheus metrics for every request and every security decision, through the `metrics`
//! facade and `metrics-exporter-prometheus`.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `rampart_requests_total` | counter | `route` (template), `method`, `status` |
//! | `rampart_request_duration_seconds` | histogram | `route`, `method` |
//! | `rampart_security_decisions_total` | counter | `route`, `decision` (`allow`, `deny`, `degraded`), `reason` (`missing_token`, `invalid_token`, `expired`, `insufficient_scope`, `rate_limited`, `invalid_input`, ...) |
//! | `rampart_token_cache_total` | counter | `result` (`hit`, `miss`) |
//! | `rampart_token_cache_evictions_total` | counter | — (verified tokens evicted to stay within the cache's byte budget) |
//! | `rampart_token_verifications_total` | counter | — (tokens parsed and verified: the cache misses of plausible syntax) |
//! | `rampart_rate_limit_redis_seconds` | histogram | `outcome` (`ok`, `error`, `timeout`) |
//! | `rampart_rate_limit_fallbacks_total` | counter | `reason` (`rate_store_fallback_local`, `rate_store_fail_open`, `rate_store_fail_closed`) |
//! | `rampart_jwks_fetches_total` | counter | `outcome` (`ok`, `error`) |
//! | `rampart_audit_dropped_lines` | gauge | — (lines the audit sink dropped, read at scrape time) |
//!
//! Every label value comes from a closed set: route templates (`/notes/{id}`; `unmatched` for a
//! path no route matched), the seven methods (`other` for any other), status codes, and reasons
//! that are `&'static str` in the code. A raw path, a subject, a token or an IP address is never a
//! label, so the number of series stays bounded whatever clients send.
//!
//! Nothing is recorded until [`install`] is called. `/metrics` is off the public surface: serve
//! [`router`] on a separate listen address (`RAMPART_METRICS_ADDR`, loopback by default), or mount
//! [`scrape`] on the main router, where it requires the `metrics:read` scope.
//!
//! # Examples
//!
//! ```
//! rampart::metrics::install().unwrap();
//! rampart::metrics::record_token_cache(false);
//! assert!(rampart::metrics::render().unwrap().contains("rampart_token_cache_total{result=\"miss\"} 1"));
//! ```

use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub use crate::mechanisms::telemetry::*;
use crate::vocabulary::error::Error;
use rampart_macros::secure;

fn exposition() -> Response {
    match render() {
        Some(text) => {
            let mut response = (StatusCode::OK, text).into_response();
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
            response
        }
        None => Error::NotFound.into_response(),
    }
}

/// An axum router serving `GET /metrics` only, for a separate (loopback or internal) listener:
/// it has no authentication, so never merge it into the public router.
pub fn router() -> axum::Router {
    axum::Router::new().route("/metrics", axum::routing::get(|| async { exposition() }))
}

/// Installs the recorder and serves [`router`] on `addr` in the background; returns the bound
/// address (useful with port 0).
///
/// # Errors
///
/// When the recorder cannot be installed or `addr` cannot be bound.
pub async fn start(addr: std::net::SocketAddr) -> Result<std::net::SocketAddr, MetricsError> {
    install()?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| MetricsError(format!("binding {addr}: {e} (set RAMPART_METRICS_ADDR, or `off`)")))?;
    let bound = listener.local_addr().map_err(|e| MetricsError(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router()).await {
            tracing::error!(target: "rampart::metrics", error = %err, "the metrics listener stopped");
        }
    });
    Ok(bound)
}

/// `GET /metrics` on the main router, for deployments that cannot open a second port: only a
/// caller with the `metrics:read` scope gets the exposition.
#[secure(get, path = "/metrics", scope = "metrics:read", tags = ["operations"])]
pub async fn scrape() -> Response {
    exposition()
}
