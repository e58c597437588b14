//! The JSON-lines `tracing` subscriber audit events are written with.

const AUDIT_DIRECTIVE: &str = "rampart::audit=info";

/// A JSON-lines subscriber writing to stderr, with event fields at the top level of each line,
/// filtered by `RUST_LOG` (default `info`); audit denials (`rampart::audit` at `INFO`) are always
/// kept, whatever `RUST_LOG` says.
///
/// # Examples
///
/// ```no_run
/// tracing::subscriber::set_global_default(rampart::audit::json_subscriber()).unwrap();
/// ```
pub fn json_subscriber() -> impl tracing::Subscriber + Send + Sync {
    json_subscriber_with_writer(std::io::stderr)
}

/// `RUST_LOG` (default `info`), with audit denials always kept.
fn env_filter() -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        .add_directive(AUDIT_DIRECTIVE.parse().unwrap_or_default())
}

/// The lines of [`json_subscriber_with_writer`] as a layer with its own filter, for a
/// subscriber that has other layers (the OTLP span exporter).
#[cfg(feature = "otel")]
pub(crate) fn json_layer<S, W>(writer: W) -> impl tracing_subscriber::Layer<S> + Send + Sync
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::Layer as _;
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer)
        .with_filter(env_filter())
}

/// [`json_subscriber`] writing to `writer` (tests capture the log this way).
pub fn json_subscriber_with_writer<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = env_filter();
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer)
        .with_env_filter(filter)
        .finish()
}
