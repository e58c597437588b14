//! Serving an app as it is deployed: slow and idle clients closed, connections bounded,
//! shutdown bounded, HTTP and HTTPS alike.
//!
//! [`serve`] does it all from a [`Config`]; [`Server`] is the same with every part chosen by
//! hand. On top of what the guard applies to every endpoint under any server (the body and
//! handler deadlines of [`crate::timeout`]), a connection served here gets:
//!
//! | limit | default | setting | on expiry |
//! |---|---|---|---|
//! | request head (and TLS handshake) | 10 s from the connection's start or the request's first byte | `RAMPART_HEADER_TIMEOUT_SECS` (1 to 30) | connection closed |
//! | idle keep-alive | 60 s from the last response | `RAMPART_IDLE_TIMEOUT_SECS` (1 to 60) | connection closed |
//! | open connections | 4096 | `RAMPART_MAX_CONNECTIONS` | new ones wait in the listen backlog; connections idle for a second are closed to make room |
//! | open connections from one address (IPv6: /64; IPv4-mapped IPv6 as IPv4) | 256 | `RAMPART_MAX_CONNECTIONS_PER_IP` | closed at once (trusted proxies are not limited) |
//! | a ready response the client takes none of (stopped reading; HTTP/2 window at zero) | 30 s without progress | `RAMPART_SEND_TIMEOUT_SECS` (1 to 60) | connection closed, request in flight or not |
//! | HTTP/2 keep-alive ping unanswered | 20 s | — | connection closed |
//! | graceful shutdown | 30 s | `RAMPART_SHUTDOWN_GRACE_SECS` (0 to 300) | remaining connections closed |
//!
//! HTTP/2 connections carry at most [`MAX_STREAMS_PER_CONNECTION`] requests at once. Upgrades
//! (WebSocket) are not served: an upgraded connection would escape the connection limit and
//! the deadlines.
//!
//! With plain `axum::serve`, a service keeps the body (408) and handler (503) deadlines, which
//! the guard applies, but not these four: axum's server has no head or idle deadline, accepts
//! every connection and waits for in-flight requests without bound on shutdown.
//!
//! # Examples
//!
//! ```no_run
//! # async fn run(app: axum::Router) -> Result<(), Box<dyn std::error::Error>> {
//! let config = rampart::config::Config::from_env()?;
//! let listener = std::net::TcpListener::bind(config.addr)?;
//! rampart::serve(listener, app, &config).await?;
//! # Ok(())
//! # }
//! ```

mod watch;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tower::Service as _;

use crate::client_ip::TrustedProxies;
use crate::config::Config;
use watch::{ConnectionState, Connections, Deadlines, WatchedIo};

pub use crate::timeout::{
    DEFAULT_HEADER_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP,
    DEFAULT_SHUTDOWN_GRACE, ServerLimits,
};

/// The most HTTP/2 streams (requests in flight) on one connection.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 64;
/// Why a service could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listener failed.
    #[error("the listener failed: {0}")]
    Io(#[from] std::io::Error),
    /// The TLS certificate or key could not be used.
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// Serves `app` on `listener` as `config` says (TLS when `RAMPART_TLS_CERT`/`_KEY` are set,
/// the limits of `RAMPART_HEADER_TIMEOUT_SECS` and its neighbours), until Ctrl-C or SIGTERM;
/// then lets in-flight requests finish within the grace period. Prints [`Config::warnings`]
/// first, on stderr.
///
/// # Errors
///
/// [`ServeError`] when the TLS files cannot be used or the listener fails.
pub async fn serve(listener: std::net::TcpListener, app: impl Into<Router>, config: &Config) -> Result<(), ServeError> {
    let app = app.into();
    for warning in config.warnings() {
        eprintln!("warning: {warning}");
    }
    let tls = match &config.tls {
        Some(files) => Some(crate::tls::load_pem_files(&files.cert, &files.key).await?),
        None => None,
    };
    Server::new(listener, app)
        .limits(config.server)
        .tls(tls)
        .trusted_proxies(config.trusted_proxies.clone())
        .run(shutdown_signal())
        .await?;
    Ok(())
}

/// A server with its parts chosen one by one (see [`serve`] for the usual one).
///
/// # Examples
///
/// ```no_run
/// use std::time::Duration;
/// use rampart::serve::{Server, ServerLimits};
///
/// # async fn run(app: axum::Router) -> std::io::Result<()> {
/// let listener = std::net::TcpListener::bind("127.0.0.1:3000")?;
/// let limits = ServerLimits { idle_timeout: Duration::from_secs(20), ..ServerLimits::default() };
/// Server::new(listener, app).limits(limits).run(rampart::serve::shutdown_signal()).await
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    listener: std::net::TcpListener,
    app: Router,
    limits: ServerLimits,
    tls: Option<Arc<rustls::ServerConfig>>,
    trusted_proxies: TrustedProxies,
}

impl Server {
    /// Serves `app` on `listener`, plain HTTP, with the default limits.
    pub fn new(listener: std::net::TcpListener, app: impl Into<Router>) -> Self {
        let app = app.into();
        Self { listener, app, limits: ServerLimits::default(), tls: None, trusted_proxies: TrustedProxies::none() }
    }

    /// Does not limit connections per address from these proxies (all clients behind a load
    /// balancer arrive from its few addresses).
    pub fn trusted_proxies(mut self, proxies: TrustedProxies) -> Self {
        self.trusted_proxies = proxies;
        self
    }

    /// Uses these limits.
    pub fn limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves HTTPS with this rustls configuration ([`crate::tls::load_pem_files`]), or plain
    /// HTTP with `None`.
    pub fn tls(mut self, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        self.tls = tls;
        self
    }

    /// Serves until `shutdown` resolves, then stops accepting, asks every connection to finish
    /// its in-flight requests, and closes what is left after the grace period. Handlers see the
    /// peer address through `ConnectInfo<SocketAddr>`.
    ///
    /// # Errors
    ///
    /// When the listener cannot be used. A failed `accept` (out of file descriptors, say) is
    /// logged and retried, never fatal.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> std::io::Result<()> {
        let Server { listener, app, limits, tls, trusted_proxies } = self;
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
        let deadlines =
            Deadlines { header: limits.header_timeout, idle: limits.idle_timeout, send: limits.send_timeout };
        let connections = Connections::start(deadlines, Arc::clone(&permits));
        let per_ip = Arc::new(PerIp::default());
        let graceful = GracefulShutdown::new();
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // The watch enforces the head deadline apart from the idle one (see `watch`).
        builder.http1().timer(TokioTimer::new()).header_read_timeout(None);
        // Each HTTP/2 stream runs a handler: bound them per connection as connections are bounded.
        builder.http2().timer(TokioTimer::new()).max_concurrent_streams(MAX_STREAMS_PER_CONNECTION);
        // A peer that stops answering pings is gone: its connection is closed.
        builder.http2().keep_alive_interval(Some(H2_PING_INTERVAL)).keep_alive_timeout(H2_PING_INTERVAL);
        let builder = Arc::new(builder);
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        tokio::pin!(shutdown);
        loop {
            // A permit first: beyond the limit, connections wait in the kernel's backlog.
            let permit = tokio::select! {
                permit = Arc::clone(&permits).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (tcp, peer) = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(err) => {
                        tracing::warn!(target: "rampart::serve", error = %err, "accept failed; retrying");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = &mut shutdown => break,
            };
            let _ = tcp.set_nodelay(true);
            // A dual-stack listener sees IPv4 peers as `::ffff:a.b.c.d`: counted as IPv4.
            let address = peer.ip().to_canonical();
            let slot = if trusted_proxies.contains(address) {
                None
            } else {
                match per_ip.take(crate::client_ip::subscriber(address), limits.max_connections_per_ip) {
                    Some(slot) => Some(slot),
                    None => {
                        tracing::debug!(target: "rampart::serve", "closed a connection over the per-address limit");
                        continue;
                    }
                }
            };
            let state = connections.state();
            let connection = Connection {
                builder: Arc::clone(&builder),
                app: app.clone(),
                peer,
                state: Arc::clone(&state),
                watcher: graceful.watcher(),
            };
            let acceptor = acceptor.clone();
            let (registered, registration) = tokio::sync::oneshot::channel();
            let task = tokio::spawn(async move {
                let _registration = registration.await;
                let _permit = permit;
                let _slot = slot;
                let io = WatchedIo::new(tcp, Arc::clone(&connection.state));
                match acceptor {
                    None => connection.serve(io).await,
                    Some(acceptor) => match acceptor.accept(io).await {
                        Ok(tls) => connection.serve(tls).await,
                        Err(err) => tracing::debug!(target: "rampart::serve", error = %err, "TLS handshake failed"),
                    },
                }
            });
            let _ = registered.send(connections.register(state, task.abort_handle()));
        }
        drop(listener);
        let open = connections.len();
        if open > 0 {
            tracing::info!(target: "rampart::serve", open, grace = ?limits.shutdown_grace, "shutting down: finishing in-flight requests");
        }
        if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown()).await.is_err() {
            tracing::warn!(
                target: "rampart::serve",
                open = connections.len(),
                "shutdown grace period over: closing the connections still open"
            );
            connections.abort_all();
        }
        tracing::debug!(target: "rampart::serve", reaped = connections.reaped(), "server stopped");
        Ok(())
    }
}

/// Open connections per client address.
#[derive(Debug, Default)]
struct PerIp(std::sync::Mutex<std::collections::HashMap<IpAddr, usize>>);

/// One connection's place in [`PerIp`], given back on drop.
struct IpSlot {
    address: IpAddr,
    counts: Arc<PerIp>,
}

impl PerIp {
    /// A place for one more connection from `address`, unless it has `limit` already.
    fn take(self: &Arc<Self>, address: IpAddr, limit: usize) -> Option<IpSlot> {
        let mut counts = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let open = counts.entry(address).or_insert(0);
        if *open >= limit {
            return None;
        }
        *open += 1;
        Some(IpSlot { address, counts: Arc::clone(self) })
    }
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(open) = counts.get_mut(&self.address) {
            *open -= 1;
            if *open == 0 {
                counts.remove(&self.address);
            }
        }
    }
}

/// One accepted connection, ready to be served.
struct Connection {
    builder: Arc<auto::Builder<TokioExecutor>>,
    app: Router,
    peer: SocketAddr,
    state: Arc<ConnectionState>,
    watcher: hyper_util::server::graceful::Watcher,
}

/// How often an HTTP/2 peer is pinged, and how long it has to answer.
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);

/// The largest frame a response body hands to hyper at once: a body frame produced is the
/// watch's sign that the client takes the response (hyper asks for the next one only when the
/// previous is on its way), so a large frame is cut for the sign to follow a slow reader.
const PROGRESS_FRAME: usize = 64 * 1024;

/// Marks a request finished when its response body has been sent (or dropped): a download
/// streaming out is a request in flight, not an idle connection. While the body waits for the
/// client (its response is ready, or it produced a frame, and was not asked for more), the
/// request counts as waiting on the client, under the send deadline.
struct InFlight {
    state: Arc<ConnectionState>,
    waits_on_client: bool,
}

impl InFlight {
    fn wait_on_client(&mut self, waits: bool) {
        if waits != self.waits_on_client {
            self.waits_on_client = waits;
            if waits { self.state.client_wait_started() } else { self.state.client_wait_ended() }
        }
    }
}

pin_project_lite::pin_project! {
    /// A response body holding its request's [`InFlight`] mark until it is dropped.
    struct TrackedBody {
        #[pin]
        inner: axum::body::Body,
        in_flight: InFlight,
        // The rest of a frame cut at PROGRESS_FRAME.
        rest: axum::body::Bytes,
    }
}

impl http_body::Body for TrackedBody {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        use std::task::Poll;
        let this = self.project();
        let polled = if this.rest.is_empty() {
            this.inner.poll_frame(cx)
        } else {
            Poll::Ready(Some(Ok(http_body::Frame::data(std::mem::take(this.rest)))))
        };
        match polled {
            Poll::Ready(Some(Ok(frame))) => {
                // A frame handed over: the client took what came before (progress); the next
                // one waits on it again.
                this.in_flight.state.progressed();
                this.in_flight.wait_on_client(true);
                let frame = match frame.into_data() {
                    Ok(mut data) if data.len() > PROGRESS_FRAME => {
                        *this.rest = data.split_off(PROGRESS_FRAME);
                        http_body::Frame::data(data)
                    }
                    Ok(data) => http_body::Frame::data(data),
                    Err(frame) => frame,
                };
                Poll::Ready(Some(Ok(frame)))
            }
            // The application has nothing yet (a stream waiting for events): not the client's fault.
            Poll::Pending => {
                this.in_flight.wait_on_client(false);
                Poll::Pending
            }
            done => {
                this.in_flight.wait_on_client(false);
                done
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.rest.is_empty() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let mut hint = self.inner.size_hint();
        let rest = self.rest.len() as u64;
        hint.set_lower(hint.lower().saturating_add(rest));
        if let Some(upper) = hint.upper() {
            hint.set_upper(upper.saturating_add(rest));
        }
        hint
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.wait_on_client(false);
        self.state.request_finished();
    }
}

impl Connection {
    async fn serve<IO>(self, io: IO)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection { builder, app, peer, state, watcher } = self;
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(axum::body::Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            state.request_started();
            let mut in_flight = InFlight { state: Arc::clone(&state), waits_on_client: false };
            let response = app.clone().call(request);
            async move {
                let response = response.await.map_err(|never: Infallible| match never {})?;
                // The response is ready: from now on it waits for the client to take it.
                in_flight.wait_on_client(true);
                let rest = axum::body::Bytes::new();
                Ok::<_, Infallible>(response.map(|inner| TrackedBody { inner, in_flight, rest }))
            }
        });
        // No upgrades (WebSocket): an upgraded connection would leave this task, its permit and
        // its deadlines behind.
        let connection = builder.serve_connection(TokioIo::new(io), service);
        if let Err(err) = watcher.watch(connection).await {
            tracing::debug!(target: "rampart::serve", error = %err, "connection ended with an error");
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
