//! Deadlines inside a request: reading its body, and running its handler.
//!
//! Both are applied by the guard of every `#[secure]`/`#[public]` endpoint, so they hold under
//! `axum::serve` as well as under [`crate::serve()`] (which adds the connection-level deadlines:
//! request head, idle keep-alive, connection limit, bounded shutdown).
//!
//! - **Body**: the whole body must arrive within [`Timeouts::body`] (default 30 s) of the first
//!   time reading it waits (right after the security checks, so in effect of the request's
//!   start), however it trickles in. Past it, reading fails and the extractor answers
//!   `408` problem+json with `Connection: close`, audited with reason `body_timeout`. A body
//!   that is ready at once costs no timer.
//! - **Handler**: the handler must answer within [`Timeouts::handler`] (default 30 s; a route
//!   may say `timeout = "5s"`) of the first time it waits. Past it, its future is dropped (its
//!   work is cancelled at the await it was blocked on) and the client gets `503` problem+json
//!   with `Retry-After: 1`, audited with reason `handler_timeout`. A handler that answers
//!   without waiting costs no timer.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use rampart::timeout::Timeouts;
//!
//! let timeouts = Timeouts { handler: Duration::from_secs(5), ..Timeouts::default() };
//! assert_eq!(timeouts.body, Duration::from_secs(30));
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

/// The default deadline for a whole request body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// The default deadline for a handler.
pub const DEFAULT_HANDLER_TIMEOUT: Duration = Duration::from_secs(30);

/// The deadlines the guard applies to each request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long the whole body may take to arrive, from the request's start.
    pub body: Duration,
    /// How long a handler may take, unless its route says otherwise.
    pub handler: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self { body: DEFAULT_BODY_TIMEOUT, handler: DEFAULT_HANDLER_TIMEOUT }
    }
}

pub use crate::vocabulary::error::BodyTimedOut;

pin_project_lite::pin_project! {
    /// A request body that fails with [`BodyTimedOut`] once its deadline passed.
    pub(crate) struct DeadlineBody<B> {
        #[pin]
        inner: B,
        limit: Duration,
        // Made the first time the body is not ready: a body that is, costs no timer.
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<B> DeadlineBody<B> {
    /// `inner`, to be read whole within `limit` of the first time it is not ready.
    pub(crate) fn new(inner: B, limit: Duration) -> Self {
        Self { inner, limit, sleep: None }
    }
}

impl<B> Body for DeadlineBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.project();
        match this.inner.poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|frame| frame.map_err(Into::into))),
            Poll::Pending => {
                let limit = *this.limit;
                let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimedOut(*this.limit))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A handler's deadline, armed the first time the handler waits.
#[derive(Debug)]
pub(crate) struct HandlerDeadline {
    limit: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl HandlerDeadline {
    pub(crate) fn new(limit: Duration) -> Self {
        Self { limit, sleep: None }
    }

    /// Called when the handler returned `Pending`: whether the deadline has passed.
    pub(crate) fn passed(&mut self, cx: &mut Context<'_>) -> bool {
        let limit = self.limit;
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        sleep.as_mut().poll(cx).is_ready()
    }
}

// The connection-level limits of `crate::serve` live here, below the configuration that reads
// them from the environment (`rampart::serve` re-exports them).

/// The default deadline for a request head.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// The default idle keep-alive timeout.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default send deadline: how long a ready response may wait for the client to take any of
/// it (nginx's `send_timeout` is 60 s).
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(30);
/// The default bound on open connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// The default bound on connections from one client address.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 256;
/// The default time in-flight requests get after shutdown starts.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The connection-level limits of a [`crate::serve::Server`] (see [`crate::serve`](mod@crate::serve)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a request head (and, over TLS, the handshake) may take.
    pub header_timeout: Duration,
    /// How long a keep-alive connection may stay idle.
    pub idle_timeout: Duration,
    /// How long a response ready to go may make no progress because the client takes none of
    /// it (a reader that stopped reading, an HTTP/2 flow-control window left at zero): then the
    /// connection is closed, whether or not a request is in flight.
    pub send_timeout: Duration,
    /// The most connections served at once; more wait in the listen backlog. When none is
    /// left, connections idle for a second are closed to make room.
    pub max_connections: usize,
    /// The most connections from one client address (IPv6: one /64) at once; more are closed
    /// at once. Trusted proxies ([`crate::serve::Server::trusted_proxies`]) are not limited.
    pub max_connections_per_ip: usize,
    /// How long in-flight requests get after shutdown starts.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocabulary::error::is_body_timeout;
    use http_body_util::BodyExt as _;

    #[tokio::test]
    async fn a_body_that_stalls_fails_at_its_deadline_and_one_that_is_ready_does_not() {
        let ready = DeadlineBody::new(http_body_util::Full::new(Bytes::from_static(b"{}")), Duration::from_millis(10));
        assert_eq!(ready.collect().await.unwrap().to_bytes(), "{}");

        let started = std::time::Instant::now();
        let error = DeadlineBody::new(Stalled, Duration::from_millis(50)).collect().await.unwrap_err();
        assert!(is_body_timeout(error.as_ref()), "{error}");
        assert!(started.elapsed() >= Duration::from_millis(50));
    }

    /// A body whose client stopped sending.
    struct Stalled;

    impl Body for Stalled {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            Poll::Pending
        }
    }
}
