//! Where the JSON lines go, without ever making a request wait.
//!
//! Every line (audit events and the service's other logs) is handed to a bounded queue; one
//! thread writes the queue to stderr or to a size-rotated file. When the destination stalls (a
//! full disk, a blocked pipe) and the queue is full, new lines are dropped and counted
//! ([`AuditSink::dropped_lines`]): a request never blocks on logging and the process never
//! crashes for it. The queue and worker are tracing-appender's non-blocking writer in lossy mode.
//!
//! # Examples
//!
//! ```
//! use rampart::audit::{AuditEvent, AuditSink, Decision, RequestContext};
//!
//! // A destination that accepts nothing: the writer thread is stuck in its first write.
//! struct Stalled;
//! impl std::io::Write for Stalled {
//!     fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
//!         std::thread::park();
//!         Ok(0)
//!     }
//!     fn flush(&mut self) -> std::io::Result<()> {
//!         Ok(())
//!     }
//! }
//!
//! let (sink, writer) = AuditSink::spawn(Stalled, 8);
//! let subscriber = rampart::audit::json_subscriber_with_writer(writer);
//! tracing::subscriber::with_default(subscriber, || {
//!     for _ in 0..100 {
//!         AuditEvent::new(&RequestContext::default(), Decision::Deny, "missing_token", 401).emit();
//!     }
//! });
//! // Returned at once: at most 8 lines queued and 1 being written; the rest were dropped.
//! assert!(sink.dropped_lines() >= 91);
//! # std::mem::forget(sink); // the stalled writer thread never finishes its write
//! ```

use std::io::{self, Write};
use std::path::PathBuf;

use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};

use super::rotate::RotatingFile;

/// The default queue length, in lines.
pub const DEFAULT_BUFFER_LINES: usize = 10_000;
/// The default size at which the audit file is rotated: 10 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 10 * 1024 * 1024;
/// The default number of rotated files kept.
pub const DEFAULT_KEEP: usize = 5;

/// Where the lines are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditOutput {
    /// Standard error (the default: the platform collects it).
    Stderr,
    /// A file rotated by size.
    File {
        /// The live file; rotated ones get `.1`, `.2`, ...
        path: PathBuf,
        /// Rotate before the file would exceed this many bytes.
        max_bytes: u64,
        /// Rotated files kept.
        keep: usize,
    },
}

/// The sink's settings (`RAMPART_AUDIT_LOG`, `RAMPART_AUDIT_LOG_MAX_BYTES`,
/// `RAMPART_AUDIT_LOG_KEEP`, `RAMPART_AUDIT_BUFFER_LINES`; see [`crate::config`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditSettings {
    /// The destination.
    pub output: AuditOutput,
    /// The queue length, in lines.
    pub buffer_lines: usize,
}

impl Default for AuditSettings {
    fn default() -> Self {
        Self { output: AuditOutput::Stderr, buffer_lines: DEFAULT_BUFFER_LINES }
    }
}

/// A running sink. Keep it for the life of the process: dropping it writes out what is queued.
#[derive(Debug)]
pub struct AuditSink {
    _worker: WorkerGuard,
    dropped: ErrorCounter,
    /// The OTLP span exporter [`install`] added, flushed when the sink is dropped.
    #[cfg(feature = "otel")]
    traces: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

#[cfg(feature = "otel")]
impl Drop for AuditSink {
    fn drop(&mut self) {
        if let Some(provider) = self.traces.take() {
            // The last spans are exported (or the exporter's timeout passes) before exit.
            let _ = provider.shutdown();
        }
    }
}

/// The sink could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the audit log {path}: {source} (set RAMPART_AUDIT_LOG to a writable file, or to `stderr`)")]
pub struct SinkError {
    path: String,
    source: io::Error,
}

impl AuditSink {
    /// A sink writing to `writer` on its own thread, through a queue of `buffer_lines` lines.
    /// The returned writer is what the subscriber writes to
    /// ([`json_subscriber_with_writer`](super::subscriber::json_subscriber_with_writer)).
    pub fn spawn<W: Write + Send + 'static>(writer: W, buffer_lines: usize) -> (Self, NonBlocking) {
        let (writer, worker) = NonBlockingBuilder::default()
            .lossy(true)
            .buffered_lines_limit(buffer_lines.max(1))
            .thread_name("rampart-audit")
            .finish(writer);
        let dropped = writer.error_counter();
        let sink = Self {
            _worker: worker,
            dropped,
            #[cfg(feature = "otel")]
            traces: None,
        };
        (sink, writer)
    }

    /// The sink `settings` describe.
    ///
    /// # Errors
    ///
    /// When the audit file cannot be opened.
    pub fn open(settings: &AuditSettings) -> Result<(Self, NonBlocking), SinkError> {
        Ok(match &settings.output {
            AuditOutput::Stderr => Self::spawn(io::stderr(), settings.buffer_lines),
            AuditOutput::File { path, max_bytes, keep } => {
                let file = RotatingFile::open(path, *max_bytes, *keep)
                    .map_err(|source| SinkError { path: path.display().to_string(), source })?;
                Self::spawn(file, settings.buffer_lines)
            }
        })
    }

    /// A reader of [`dropped_lines`](Self::dropped_lines) that outlives the sink's borrow (for
    /// the `rampart_audit_dropped_lines` metric).
    pub fn drop_counter(&self) -> impl Fn() -> u64 + Send + Sync + 'static {
        let counter = self.dropped.clone();
        move || counter.dropped_lines() as u64
    }

    /// Lines dropped so far because the destination could not keep up.
    pub fn dropped_lines(&self) -> u64 {
        self.dropped.dropped_lines() as u64
    }
}

/// Opens the sink `settings` describe and makes the JSON subscriber over it the process's
/// global default. Keep the returned sink alive until the process ends.
///
/// # Errors
///
/// When the audit file cannot be opened, or a global subscriber is already set.
///
/// With the `otel` feature and `OTEL_EXPORTER_OTLP_ENDPOINT` (or
/// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, the subscriber also exports the request spans
/// ([`crate::trace`]) and the application's `INFO` spans over OTLP/HTTP; the sink flushes them
/// when dropped.
pub fn install(settings: &AuditSettings) -> Result<AuditSink, InstallError> {
    #[allow(unused_mut, reason = "the otel feature keeps the span exporter in the sink")]
    let (mut sink, writer) = AuditSink::open(settings)?;
    #[cfg(feature = "otel")]
    if let Some(provider) = crate::trace::otel::provider_from_env(&service_name())? {
        use tracing_subscriber::Layer as _;
        use tracing_subscriber::layer::SubscriberExt as _;
        let spans = tracing_subscriber::filter::Targets::new()
            .with_default(tracing::Level::INFO)
            .with_target(crate::trace::TARGET, tracing::Level::DEBUG);
        let subscriber = tracing_subscriber::registry()
            .with(super::subscriber::json_layer(writer))
            .with(crate::trace::otel::layer(&provider).with_filter(spans));
        tracing::subscriber::set_global_default(subscriber).map_err(|_| InstallError::AlreadySet)?;
        sink.traces = Some(provider);
        return Ok(sink);
    }
    tracing::subscriber::set_global_default(super::subscriber::json_subscriber_with_writer(writer))
        .map_err(|_| InstallError::AlreadySet)?;
    Ok(sink)
}

/// The service's name for its spans when `OTEL_SERVICE_NAME` is unset: the executable's.
#[cfg(feature = "otel")]
fn service_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|stem| stem.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "rampart".to_owned())
}

/// Why [`install`] failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The destination cannot be opened.
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Another global subscriber was set first.
    #[error("a global tracing subscriber is already set")]
    AlreadySet,
    /// The OTLP span exporter cannot be built from the `OTEL_*` variables.
    #[cfg(feature = "otel")]
    #[error("OpenTelemetry export (OTEL_EXPORTER_OTLP_*): {0}")]
    Traces(#[from] opentelemetry_otlp::ExporterBuildError),
}

impl crate::telemetry::DroppedLines for AuditSink {
    fn dropped_lines_counter(&self) -> Box<dyn Fn() -> u64 + Send + Sync> {
        Box::new(self.drop_counter())
    }
}
