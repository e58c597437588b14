//! The connection watch: what each open connection is doing, and a reaper that closes those
//! past their deadline.
//!
//! A connection is in one of three phases. **Head**: it has sent bytes of a request that is not
//! yet dispatched (or it was just accepted); it must finish the head within the header
//! deadline. **Idle**: no request in flight and nothing received since the last response; it
//! is closed after the idle timeout (a write while idle, a slow client still reading the last
//! response, counts as activity). **Busy**: a request is in flight; the body and handler
//! deadlines of [`crate::timeout`] apply, not these.
//!
//! Across phases, the **send deadline**: a request whose response is ready (or whose body has
//! just handed hyper a frame) waits on the client to take it. While any request waits so, the
//! connection must make progress (a body frame handed over, which hyper asks for only when the
//! previous one is on its way to the client) within the send deadline, or it is closed: a
//! reader that stopped reading, an HTTP/2 stream whose window the client leaves at zero. And a
//! connection whose every request in flight waits on the client counts as idle since its last
//! progress, for the idle deadline and for shedding.
//!
//! Hyper's own `header_read_timeout` counts the idle time before a request as header time, so
//! that an idle keep-alive connection and a dribbled head could not have different deadlines;
//! this watch keeps them apart. The hot path is two relaxed atomic stores per request and a
//! load per read: times come from a coarse clock that the reaper advances on each tick, and
//! no timer is armed per request or per read.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::task::AbortHandle;

/// How often the reaper looks at every connection (and advances the coarse clock).
const TICK: Duration = Duration::from_millis(250);

const HEAD: u8 = 0;
const IDLE: u8 = 1;
const BUSY: u8 = 2;

/// What one connection is doing (see the module docs).
#[derive(Debug)]
pub(crate) struct ConnectionState {
    phase: AtomicU8,
    /// Coarse milliseconds at which the current phase began (or, idle, the last write).
    since_ms: AtomicU64,
    in_flight: AtomicU32,
    /// Requests whose response waits on the client to take it.
    client_wait: AtomicU32,
    /// Coarse milliseconds of the last progress of a response (or the start of the wait).
    progress_ms: AtomicU64,
    /// Coarse milliseconds since which the socket has taken no byte of what it was given to
    /// write ([`NOT_BLOCKED`]: it took the last write).
    blocked_since_ms: AtomicU64,
    clock: Arc<Clock>,
}

/// `blocked_since_ms` of a socket that took the last write.
const NOT_BLOCKED: u64 = u64::MAX;

impl ConnectionState {
    /// A request's response now waits on the client.
    pub(crate) fn client_wait_started(&self) {
        if self.client_wait.fetch_add(1, Ordering::Relaxed) == 0 {
            self.progressed();
        }
    }

    /// A request's response no longer waits on the client (done, dropped, or waiting on the
    /// application for its next frame).
    pub(crate) fn client_wait_ended(&self) {
        self.client_wait.fetch_sub(1, Ordering::Relaxed);
    }

    /// A response made progress: the client took what came before.
    pub(crate) fn progressed(&self) {
        self.progress_ms.store(self.clock.now_ms(), Ordering::Relaxed);
    }

    /// The socket could not take a write (its send buffer is full: the client is not reading).
    fn write_blocked(&self) {
        if self.blocked_since_ms.load(Ordering::Relaxed) == NOT_BLOCKED {
            self.blocked_since_ms.store(self.clock.now_ms(), Ordering::Relaxed);
        }
    }

    /// A request was dispatched to the service.
    pub(crate) fn request_started(&self) {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.phase.store(BUSY, Ordering::Relaxed);
    }

    /// A request is done: its response was sent whole (or dropped).
    pub(crate) fn request_finished(&self) {
        if self.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.since_ms.store(self.clock.now_ms(), Ordering::Relaxed);
            self.phase.store(IDLE, Ordering::Relaxed);
        }
    }

    /// What a write to the socket did: bytes taken, or none (blocked).
    fn wrote(&self, polled: &Poll<io::Result<usize>>) {
        match polled {
            Poll::Ready(Ok(n)) if *n > 0 => self.bytes_written(),
            Poll::Pending => self.write_blocked(),
            Poll::Ready(_) => {}
        }
    }

    fn bytes_read(&self) {
        if self.phase.load(Ordering::Relaxed) == IDLE {
            self.since_ms.store(self.clock.now_ms(), Ordering::Relaxed);
            self.phase.store(HEAD, Ordering::Relaxed);
        }
    }

    fn bytes_written(&self) {
        if self.blocked_since_ms.load(Ordering::Relaxed) != NOT_BLOCKED {
            self.blocked_since_ms.store(NOT_BLOCKED, Ordering::Relaxed);
        }
        if self.phase.load(Ordering::Relaxed) == IDLE {
            self.since_ms.store(self.clock.now_ms(), Ordering::Relaxed);
        }
    }

    /// Whether the connection is past its deadline at `now_ms`. The in-flight count decides
    /// over the phase: two HTTP/2 streams starting and ending on two threads may leave the
    /// phase stale for a moment, never a request in flight unseen.
    fn overdue(&self, now_ms: u64, limits: &Deadlines) -> bool {
        // A socket that has taken none of what it was given for the send deadline, in any
        // phase (a response whole in hyper's and the kernel's buffers is no request in flight).
        let blocked_since = self.blocked_since_ms.load(Ordering::Relaxed);
        if blocked_since != NOT_BLOCKED && Duration::from_millis(now_ms.saturating_sub(blocked_since)) > limits.send {
            return true;
        }
        let in_flight = self.in_flight.load(Ordering::Relaxed);
        if in_flight > 0 {
            let waiting = self.client_wait.load(Ordering::Relaxed);
            if waiting == 0 {
                return false;
            }
            let stalled = Duration::from_millis(now_ms.saturating_sub(self.progress_ms.load(Ordering::Relaxed)));
            // Past the send deadline; or every request waits on the client: idle since the
            // last progress.
            return stalled > limits.send || (waiting >= in_flight && stalled > limits.idle);
        }
        let elapsed = Duration::from_millis(now_ms.saturating_sub(self.since_ms.load(Ordering::Relaxed)));
        match self.phase.load(Ordering::Relaxed) {
            HEAD => elapsed > limits.header,
            IDLE => elapsed > limits.idle,
            _ => false,
        }
    }
}

/// The coarse clock: milliseconds since the server started, advanced by the reaper each tick.
#[derive(Debug)]
struct Clock {
    start: Instant,
    now_ms: AtomicU64,
}

impl Clock {
    fn now_ms(&self) -> u64 {
        self.now_ms.load(Ordering::Relaxed)
    }

    fn tick(&self) -> u64 {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.now_ms.store(now, Ordering::Relaxed);
        now
    }
}

/// The deadlines the reaper enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadlines {
    pub(crate) header: Duration,
    pub(crate) idle: Duration,
    /// How long a response waiting on the client may make no progress.
    pub(crate) send: Duration,
}

/// Every open connection, by id, with the handle that closes it.
#[derive(Debug)]
pub(crate) struct Connections {
    open: Mutex<HashMap<u64, (Arc<ConnectionState>, AbortHandle)>>,
    next_id: AtomicU64,
    clock: Arc<Clock>,
    deadlines: Deadlines,
    /// Connections closed for a missed deadline (for tests and logs).
    reaped: AtomicU64,
    /// The connection permits: when none is left, idle connections are shed to make room.
    permits: Arc<tokio::sync::Semaphore>,
}

/// How long a connection must have been idle to be shed when the server is full.
const SHED_IDLE_AFTER: Duration = Duration::from_secs(1);

/// Removes a connection from the watch when its task ends, however it ends.
#[derive(Debug)]
pub(crate) struct Registration {
    id: u64,
    connections: Weak<Connections>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(connections) = self.connections.upgrade() {
            connections.lock().remove(&self.id);
        }
    }
}

impl Connections {
    /// A watch enforcing `deadlines`, and its reaper (which stops when the watch is dropped);
    /// when none of `permits` is left, it also sheds connections idle for a second.
    pub(crate) fn start(deadlines: Deadlines, permits: Arc<tokio::sync::Semaphore>) -> Arc<Self> {
        let clock = Arc::new(Clock { start: Instant::now(), now_ms: AtomicU64::new(0) });
        let connections = Arc::new(Self {
            open: Mutex::default(),
            next_id: AtomicU64::new(0),
            clock,
            deadlines,
            reaped: AtomicU64::new(0),
            permits,
        });
        tokio::spawn(reap(Arc::downgrade(&connections)));
        connections
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, (Arc<ConnectionState>, AbortHandle)>> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A new connection's state, in the head phase from now.
    pub(crate) fn state(&self) -> Arc<ConnectionState> {
        Arc::new(ConnectionState {
            phase: AtomicU8::new(HEAD),
            since_ms: AtomicU64::new(self.clock.tick()),
            in_flight: AtomicU32::new(0),
            client_wait: AtomicU32::new(0),
            progress_ms: AtomicU64::new(0),
            blocked_since_ms: AtomicU64::new(NOT_BLOCKED),
            clock: Arc::clone(&self.clock),
        })
    }

    /// Watches the connection task `task` with `state`, until the returned registration drops.
    pub(crate) fn register(self: &Arc<Self>, state: Arc<ConnectionState>, task: AbortHandle) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, (state, task));
        Registration { id, connections: Arc::downgrade(self) }
    }

    /// How many connections are open.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// How many connections were closed for a missed deadline.
    pub(crate) fn reaped(&self) -> u64 {
        self.reaped.load(Ordering::Relaxed)
    }

    /// Closes every connection now (the end of a bounded shutdown).
    pub(crate) fn abort_all(&self) {
        for (_, task) in self.lock().values() {
            task.abort();
        }
    }

    fn reap_overdue(&self) {
        let now = self.clock.tick();
        let mut reaped = 0;
        // Full: a keep-alive connection idle for a second gives its place to one that waits.
        let full = self.permits.available_permits() == 0;
        let shed = Deadlines { idle: SHED_IDLE_AFTER, ..self.deadlines };
        for (state, task) in self.lock().values() {
            if state.overdue(now, &self.deadlines) || (full && state.overdue(now, &shed)) {
                task.abort();
                reaped += 1;
            }
        }
        if reaped > 0 {
            self.reaped.fetch_add(reaped, Ordering::Relaxed);
            tracing::debug!(target: "rampart::serve", reaped, "closed connections past their header, idle or send deadline");
        }
    }
}

async fn reap(connections: Weak<Connections>) {
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(connections) = connections.upgrade() else { return };
        connections.reap_overdue();
    }
}

pin_project_lite::pin_project! {
    /// A connection's I/O, telling its [`ConnectionState`] when bytes come and go.
    pub(crate) struct WatchedIo<T> {
        #[pin]
        inner: T,
        state: Arc<ConnectionState>,
    }
}

impl<T> WatchedIo<T> {
    pub(crate) fn new(inner: T, state: Arc<ConnectionState>) -> Self {
        Self { inner, state }
    }
}

impl<T: AsyncRead> AsyncRead for WatchedIo<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let before = buf.filled().len();
        let polled = this.inner.poll_read(cx, buf);
        if buf.filled().len() > before {
            this.state.bytes_read();
        }
        polled
    }
}

impl<T: AsyncWrite> AsyncWrite for WatchedIo<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.inner.poll_write(cx, buf);
        this.state.wrote(&polled);
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let polled = this.inner.poll_write_vectored(cx, bufs);
        this.state.wrote(&polled);
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let polled = this.inner.poll_flush(cx);
        if polled.is_pending() {
            this.state.write_blocked();
        }
        polled
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().inner.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_at(clock_ms: u64) -> (Arc<Clock>, ConnectionState) {
        let clock = Arc::new(Clock { start: Instant::now(), now_ms: AtomicU64::new(clock_ms) });
        let state = ConnectionState {
            phase: AtomicU8::new(HEAD),
            since_ms: AtomicU64::new(clock_ms),
            in_flight: AtomicU32::new(0),
            client_wait: AtomicU32::new(0),
            progress_ms: AtomicU64::new(0),
            blocked_since_ms: AtomicU64::new(NOT_BLOCKED),
            clock: Arc::clone(&clock),
        };
        (clock, state)
    }

    #[test]
    fn head_idle_and_busy_have_their_own_deadlines() {
        let limits =
            Deadlines { header: Duration::from_secs(2), idle: Duration::from_secs(10), send: Duration::from_secs(5) };
        let (clock, state) = state_at(1_000);
        assert!(!state.overdue(3_000, &limits), "a fresh connection has the header deadline");
        assert!(state.overdue(3_001, &limits));
        state.request_started();
        assert!(!state.overdue(1_000_000, &limits), "busy: the body and handler deadlines apply instead");
        clock.now_ms.store(5_000, Ordering::Relaxed);
        state.request_finished();
        assert!(!state.overdue(14_000, &limits), "idle: the idle timeout, not the header deadline");
        assert!(state.overdue(15_001, &limits));
        clock.now_ms.store(15_000, Ordering::Relaxed);
        state.bytes_read();
        assert!(!state.overdue(17_000, &limits), "the first byte of a request starts its header deadline");
        assert!(state.overdue(17_001, &limits));
    }

    #[test]
    fn two_requests_in_flight_stay_busy_until_both_end() {
        let limits =
            Deadlines { header: Duration::from_secs(1), idle: Duration::from_secs(1), send: Duration::from_secs(1) };
        let (_clock, state) = state_at(0);
        state.request_started();
        state.request_started();
        state.request_finished();
        assert!(!state.overdue(60_000, &limits));
        state.request_finished();
        assert!(state.overdue(60_000, &limits));
        // Two streams ending and starting on two threads may leave the phase stale: a request
        // in flight is never reaped whatever the phase says.
        state.in_flight.store(1, Ordering::Relaxed);
        for phase in [HEAD, IDLE] {
            state.phase.store(phase, Ordering::Relaxed);
            assert!(!state.overdue(60_000, &limits));
        }
    }

    #[test]
    fn a_response_the_client_takes_none_of_is_overdue_at_the_send_deadline() {
        let limits =
            Deadlines { header: Duration::from_secs(2), idle: Duration::from_secs(10), send: Duration::from_secs(5) };
        let (clock, state) = state_at(1_000);
        state.request_started();
        assert!(!state.overdue(100_000, &limits), "a handler at work is under the handler deadline");
        // The response is ready at 2 s; the client takes nothing.
        clock.now_ms.store(2_000, Ordering::Relaxed);
        state.client_wait_started();
        assert!(!state.overdue(7_000, &limits));
        assert!(state.overdue(7_001, &limits), "no progress for the send deadline");
        // A frame handed over is progress; waiting on the application is not the client's fault.
        clock.now_ms.store(6_000, Ordering::Relaxed);
        state.progressed();
        assert!(!state.overdue(11_000, &limits));
        state.client_wait_ended();
        assert!(!state.overdue(1_000_000, &limits), "a stream waiting for events is busy, not stalled");
    }

    #[test]
    fn a_socket_that_takes_nothing_is_overdue_at_the_send_deadline_in_any_phase() {
        let limits =
            Deadlines { header: Duration::from_secs(2), idle: Duration::from_secs(60), send: Duration::from_secs(5) };
        let (clock, state) = state_at(0);
        state.request_started();
        clock.now_ms.store(1_000, Ordering::Relaxed);
        state.wrote(&Poll::Pending);
        // The response went whole into the buffers: no request in flight, the socket still full.
        state.request_finished();
        assert!(!state.overdue(6_000, &limits));
        assert!(state.overdue(6_001, &limits), "blocked for the send deadline while idle");
        clock.now_ms.store(3_000, Ordering::Relaxed);
        state.wrote(&Poll::Pending);
        assert!(state.overdue(6_001, &limits), "a second blocked write does not restart the wait");
        state.wrote(&Poll::Ready(Ok(10)));
        assert!(!state.overdue(6_001, &limits), "bytes taken: no longer blocked");
    }

    #[test]
    fn a_connection_whose_requests_all_wait_on_the_client_is_idle_for_shedding() {
        let limits =
            Deadlines { header: Duration::from_secs(2), idle: Duration::from_secs(10), send: Duration::from_secs(30) };
        let shed = Deadlines { idle: Duration::from_secs(1), ..limits };
        let (_clock, state) = state_at(0);
        state.request_started();
        state.request_started();
        state.client_wait_started();
        assert!(!state.overdue(2_000, &shed), "one request still at work");
        state.client_wait_started();
        assert!(state.overdue(2_000, &shed), "both wait on the client: shed when the server is full");
        assert!(!state.overdue(2_000, &limits) && state.overdue(10_001, &limits), "and idle at the idle deadline");
    }
}
