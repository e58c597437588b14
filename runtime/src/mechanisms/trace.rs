//! Traces: one `tracing` span per request, with the security decision as its attributes.
//!
//! The security layer opens a span named `request` (target [`TARGET`], level `DEBUG`) for every
//! request it sees, and records on it:
//!
//! | field | value |
//! |---|---|
//! | `otel.name` | `GET /notes/{id}` (the route template; the method alone when no route matched) |
//! | `otel.kind` | `server` |
//! | `http.request.method`, `http.route`, `http.response.status_code` | OpenTelemetry's HTTP semantic conventions |
//! | `client.address`, `request_id` | as in the audit events |
//! | `rampart.decision`, `rampart.reason` | `allow`, or the audit event's decision and reason (`deny`, `insufficient_scope`) |
//! | `enduser.id` | the caller's qualified subject (`jwt:<iss>#<sub>`, `client:<iss>#<sub>`, `apikey:<id>`) |
//! | `otel.status_code` | `error` for a 5xx answer |
//!
//! Never a token, a key or a body: the span carries what the audit event carries. Without a
//! subscriber that wants `DEBUG` spans of [`TARGET`], the span is disabled and costs a branch.
//!
//! A W3C `traceparent` header ([`TraceParent`]) is read only from a trusted proxy
//! (`RAMPART_TRUSTED_PROXIES`), like `X-Forwarded-For`: a client elsewhere cannot choose the
//! trace its requests join. With the `otel` feature the span becomes a child of that remote
//! span, the JWKS fetches a request causes carry the request span's own `traceparent` onward, and
//! [`otel`] exports spans over OTLP, configured by the standard `OTEL_*` variables.
//!
//! # Examples
//!
//! ```
//! use rampart::trace::TraceParent;
//!
//! let parent = TraceParent::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();
//! assert_eq!(parent.trace_id_hex(), "0af7651916cd43dd8448eb211c80319c");
//! assert!(parent.sampled());
//! // All-zero ids, upper-case hex and version ff are refused (W3C Trace Context §3.2).
//! assert!(TraceParent::parse("00-00000000000000000000000000000000-b7ad6b7169203331-01").is_none());
//! assert!(TraceParent::parse("00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01").is_none());
//! ```

use std::fmt;
use std::net::IpAddr;

use tracing::Span;
use tracing::field::Empty;

/// The target of the request spans (for a subscriber's filter: `rampart::request=debug`).
pub const TARGET: &str = "rampart::request";

/// A W3C Trace Context `traceparent` (§3.2): the remote caller's trace and span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    trace_id: [u8; 16],
    parent_id: [u8; 8],
    flags: u8,
}

impl TraceParent {
    /// Parses a `traceparent` value: `version-trace_id-parent_id-flags` in lower-case hex, ids
    /// not all zero. A future version (not `ff`) is read by its first four fields, as §4.3 says.
    pub fn parse(value: &str) -> Option<Self> {
        let bytes = value.as_bytes();
        if bytes.len() < 55 {
            return None;
        }
        let version = hex_byte(&bytes[0..2])?;
        if version == 0xff
            || (version == 0 && bytes.len() != 55)
            || (version != 0 && bytes.get(55).is_some_and(|b| *b != b'-'))
        {
            return None;
        }
        if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
            return None;
        }
        let mut trace_id = [0u8; 16];
        for (i, byte) in trace_id.iter_mut().enumerate() {
            *byte = hex_byte(&bytes[3 + 2 * i..5 + 2 * i])?;
        }
        let mut parent_id = [0u8; 8];
        for (i, byte) in parent_id.iter_mut().enumerate() {
            *byte = hex_byte(&bytes[36 + 2 * i..38 + 2 * i])?;
        }
        let flags = hex_byte(&bytes[53..55])?;
        if trace_id == [0; 16] || parent_id == [0; 8] {
            return None;
        }
        Some(Self { trace_id, parent_id, flags })
    }

    /// The trace id.
    pub fn trace_id(&self) -> [u8; 16] {
        self.trace_id
    }

    /// The caller's span id.
    pub fn parent_id(&self) -> [u8; 8] {
        self.parent_id
    }

    /// The trace id as 32 lower-case hex digits.
    pub fn trace_id_hex(&self) -> String {
        hex(&self.trace_id)
    }

    /// Whether the caller recorded its span (the `sampled` flag).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "00-{}-{}-{:02x}", hex(&self.trace_id), hex(&self.parent_id), self.flags)
    }
}

/// One byte from two lower-case hex digits.
fn hex_byte(pair: &[u8]) -> Option<u8> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    Some(digit(pair[0])? << 4 | digit(pair[1])?)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a subscriber wants the request spans: when none does, the request makes no span and
/// records nothing (a few instructions; `bench/instructions.sh` counts them).
#[inline]
pub(crate) fn wanted() -> bool {
    tracing::enabled!(target: TARGET, tracing::Level::DEBUG)
}

/// The span of one request, a child of `parent` (with the `otel` feature). Call it when
/// [`wanted`].
pub(crate) fn request_span(method: &str, request_id: &str, client_ip: IpAddr, parent: Option<&TraceParent>) -> Span {
    let span = tracing::debug_span!(
        target: TARGET,
        "request",
        otel.name = method,
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = Empty,
        http.response.status_code = Empty,
        client.address = %client_ip,
        request_id,
        rampart.decision = Empty,
        rampart.reason = Empty,
        enduser.id = Empty,
        trace.parent_id = Empty,
    );
    if let Some(parent) = parent
        && !span.is_disabled()
    {
        span.record("trace.parent_id", tracing::field::display(hex(&parent.parent_id)));
        #[cfg(feature = "otel")]
        otel::set_parent(&span, parent);
    }
    span
}

/// Names the span after the route that answers (before the span starts: see [`request_span`]).
pub(crate) fn record_route(span: &Span, method: &str, route: &'static str) {
    if !span.is_disabled() {
        span.record("otel.name", format!("{method} {route}").as_str());
        span.record("http.route", route);
    }
}

/// The request was admitted, by `subject` when it authenticated.
pub(crate) fn record_allowed(span: &Span, subject: Option<&str>) {
    if !span.is_disabled() {
        span.record("rampart.decision", "allow");
        if let Some(subject) = subject {
            span.record("enduser.id", subject);
        }
    }
}

/// An audit event's decision, on the current span (the request's, while its guard runs).
pub(crate) fn record_decision(decision: &str, reason: &str, subject: Option<&str>) {
    let span = Span::current();
    if !span.is_disabled() {
        span.record("rampart.decision", decision);
        span.record("rampart.reason", reason);
        if let Some(subject) = subject {
            span.record("enduser.id", subject);
        }
    }
}

/// The `traceparent` to send with an outgoing request made for the current request (a JWKS
/// fetch), so that the callee's spans join its trace: with the `otel` feature and a current
/// OpenTelemetry span; `None` otherwise.
pub(crate) fn outgoing_traceparent() -> Option<String> {
    #[cfg(feature = "otel")]
    if wanted() {
        return otel::current_traceparent();
    }
    None
}

/// The answer's status.
pub(crate) fn record_status(span: &Span, status: u16) {
    if !span.is_disabled() {
        span.record("http.response.status_code", status);
        if status >= 500 {
            span.record("otel.status_code", "error");
        }
    }
}

/// OpenTelemetry export (feature `otel`): a `tracing` layer over an OpenTelemetry tracer, an
/// OTLP/HTTP exporter configured from the standard variables, and the remote parent of a request
/// span.
///
/// [`crate::audit::install`] adds the OTLP layer when `OTEL_EXPORTER_OTLP_ENDPOINT` or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set (`OTEL_EXPORTER_OTLP_HEADERS`,
/// `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES` are read as
/// the specification says); a service that assembles its own subscriber adds [`otel::layer`].
#[cfg(feature = "otel")]
pub mod otel {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt as _, TraceFlags, TraceId, TraceState};
    use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
    use tracing_opentelemetry::{OpenTelemetryLayer, OpenTelemetrySpanExt as _};
    use tracing_subscriber::registry::LookupSpan;

    use super::TraceParent;

    /// The name under which Rampart's spans are recorded (the instrumentation scope).
    pub const SCOPE: &str = "rampart";

    /// A `tracing` layer that turns spans into OpenTelemetry spans of `provider`.
    pub fn layer<S>(provider: &SdkTracerProvider) -> OpenTelemetryLayer<S, SdkTracer>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(provider.tracer(SCOPE))
    }

    /// A provider exporting over OTLP/HTTP (protobuf) in batches, from its own thread, when
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set; `None`
    /// otherwise. The service name is `OTEL_SERVICE_NAME`, else `default_service_name`.
    ///
    /// # Errors
    ///
    /// When the exporter cannot be built from the variables (a malformed endpoint or header).
    pub fn provider_from_env(
        default_service_name: &str,
    ) -> Result<Option<SdkTracerProvider>, opentelemetry_otlp::ExporterBuildError> {
        let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.trim().is_empty());
        if !set("OTEL_EXPORTER_OTLP_ENDPOINT") && !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            return Ok(None);
        }
        use opentelemetry_otlp::WithExportConfig as _;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build()?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if !set("OTEL_SERVICE_NAME") {
            resource = resource.with_service_name(default_service_name.to_owned());
        }
        Ok(Some(SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource.build()).build()))
    }

    /// The W3C `traceparent` of the current span, when it is an OpenTelemetry span.
    pub(crate) fn current_traceparent() -> Option<String> {
        let span = tracing::Span::current();
        if span.is_disabled() {
            return None;
        }
        let context = span.context();
        let current = context.span();
        let ids = current.span_context();
        ids.is_valid().then(|| format!("00-{}-{}-{:02x}", ids.trace_id(), ids.span_id(), ids.trace_flags().to_u8()))
    }

    /// Makes `span` a child of the remote span `parent` (before it starts).
    pub(crate) fn set_parent(span: &tracing::Span, parent: &TraceParent) {
        let flags = if parent.sampled() { TraceFlags::SAMPLED } else { TraceFlags::default() };
        let remote = SpanContext::new(
            TraceId::from_bytes(parent.trace_id()),
            SpanId::from_bytes(parent.parent_id()),
            flags,
            true,
            TraceState::default(),
        );
        let context = opentelemetry::Context::new().with_remote_span_context(remote);
        // Fails only when no OpenTelemetry layer listens, or the span already started: then
        // there is nothing to link.
        let _ = span.set_parent(context);
    }
}
