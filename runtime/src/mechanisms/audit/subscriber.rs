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

/// [`json_subscriber`] writing to `writer` (tests capture the log this way).
pub fn json_subscriber_with_writer<W>(writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
        .add_directive(AUDIT_DIRECTIVE.parse().unwrap_or_default());
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer)
        .with_env_filter(filter)
        .finish()
}
