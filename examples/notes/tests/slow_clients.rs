//! Slow and idle clients against the real notes binary: 300 connections dribbling a request
//! head, 300 dribbling a body (one byte every 500 ms), 300 idle keep-alive connections, each
//! group from its own loopback address, while a well-behaved client on a fourth address keeps
//! being served. Each group must be closed within its own deadline, not another's.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rampart::token::TokenRequest;
use support::Service;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

const SECRET: &str = "slow-client-test-secret-0123456789abcdef";
const PER_GROUP: usize = 300;
const HEADER_SECS: u64 = 2;
const BODY_SECS: u64 = 2;
const IDLE_SECS: u64 = 4;
/// What a deadline may be late by: the watch's 250 ms tick, scheduling on a loaded 2-core box.
const SLACK: Duration = Duration::from_millis(1_200);

async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(server).await.unwrap()
}

/// What happened to one connection: when it was closed (from the test's start) and what it read.
struct Outcome {
    closed_after: Option<Duration>,
    received: Vec<u8>,
}

/// Writes `first`, then one byte of `drip` every 500 ms, reading whatever comes back, until the
/// server closes the connection or `give_up` passes.
async fn dribble(mut stream: TcpStream, first: Vec<u8>, drip: u8, started: Instant, give_up: Duration) -> Outcome {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    if stream.write_all(&first).await.is_err() {
        return Outcome { closed_after: Some(started.elapsed()), received };
    }
    let mut ticker = tokio::time::interval(Duration::from_millis(500));
    ticker.tick().await;
    while started.elapsed() < give_up {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return Outcome { closed_after: Some(started.elapsed()), received },
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            },
            _ = ticker.tick(), if drip != 0 => {
                if stream.write_all(&[drip]).await.is_err() {
                    return Outcome { closed_after: Some(started.elapsed()), received };
                }
            }
            () = tokio::time::sleep(Duration::from_millis(100)), if drip == 0 => {}
        }
    }
    Outcome { closed_after: None, received }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_slow_bodies_and_idle_connections_are_closed_within_their_deadlines() {
    let header = HEADER_SECS.to_string();
    let body = BODY_SECS.to_string();
    let idle = IDLE_SECS.to_string();
    let service = Service::start(&[
        ("RAMPART_JWT_SECRET", SECRET),
        ("RAMPART_HEADER_TIMEOUT_SECS", header.as_str()),
        ("RAMPART_BODY_TIMEOUT_SECS", body.as_str()),
        ("RAMPART_IDLE_TIMEOUT_SECS", idle.as_str()),
        // 300 per address here; the default per-address limit (256) is tested below.
        ("RAMPART_MAX_CONNECTIONS_PER_IP", "1000"),
    ]);
    let server: SocketAddr = service.addr.parse().unwrap();
    let give_up = Duration::from_secs(IDLE_SECS * 3);

    // Each connection's times count from its own connect: the server's deadlines start there.
    let tokens: Vec<String> = (0..PER_GROUP)
        .map(|i| {
            TokenRequest::new(&format!("slow-{i}"), "rampart-dev", "notes")
                .scopes(["notes:write"])
                .sign_hs256(SECRET.as_bytes())
                .unwrap()
        })
        .collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for token in &tokens {
        let stream = connect_from("127.0.0.2", server).await;
        let first = b"GET /health HTTP/1.1\r\nHost: notes\r\nX-Dribble: ".to_vec();
        tasks.push(("head", tokio::spawn(dribble(stream, first, b'a', Instant::now(), give_up))));
        let stream = connect_from("127.0.0.3", server).await;
        let first = format!(
            "POST /notes HTTP/1.1\r\nHost: notes\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: application/json\r\nContent-Length: 64\r\n\r\n{{\"title\": \""
        );
        tasks.push(("body", tokio::spawn(dribble(stream, first.into_bytes(), b'x', Instant::now(), give_up))));
        let stream = connect_from("127.0.0.4", server).await;
        let first = b"GET /health HTTP/1.1\r\nHost: notes\r\n\r\n".to_vec();
        tasks.push(("idle", tokio::spawn(dribble(stream, first, 0, Instant::now(), give_up))));
    }
    println!("900 connections opened in {:?}", started.elapsed());

    // Meanwhile a well-behaved client is served, with low latency.
    let well_behaved = reqwest::Client::builder().local_address("127.0.0.5".parse().ok()).build().unwrap();
    let mut latencies = Vec::new();
    while started.elapsed() < Duration::from_secs(IDLE_SECS + 2) {
        let sent = Instant::now();
        let reply = well_behaved.get(format!("http://{server}/health")).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        latencies.push(sent.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut closed: std::collections::HashMap<&str, Vec<Duration>> = Default::default();
    for (group, task) in tasks {
        let outcome = task.await.unwrap();
        let text = String::from_utf8_lossy(&outcome.received).into_owned();
        let Some(after) = outcome.closed_after else { panic!("a {group} connection was never closed: {text:?}") };
        match group {
            "head" => assert!(text.is_empty() || text.starts_with("HTTP/1.1 408"), "head: {text:?}"),
            "body" => {
                assert!(text.starts_with("HTTP/1.1 408 Request Timeout\r\n"), "body: {text:?}");
                assert!(text.contains("content-type: application/problem+json"), "{text}");
                assert!(text.contains("\"status\":408"), "{text}");
            }
            _ => assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "idle: its one request was answered: {text:?}"),
        }
        closed.entry(group).or_default().push(after);
    }
    for (group, deadline) in [("head", HEADER_SECS), ("body", BODY_SECS), ("idle", IDLE_SECS)] {
        let times = closed.get_mut(group).unwrap();
        times.sort();
        assert_eq!(times.len(), PER_GROUP);
        let deadline = Duration::from_secs(deadline);
        let (first, last) = (times[0], times[times.len() - 1]);
        assert!(first + Duration::from_millis(300) >= deadline, "a {group} connection was closed early: {first:?}");
        assert!(last <= deadline + SLACK, "a {group} connection outlived its deadline: {last:?}");
        println!("{group}: {PER_GROUP} closed between {first:?} and {last:?} (deadline {deadline:?})");
    }
    latencies.sort();
    let (p50, p99, max) = (percentile(&latencies, 0.5), percentile(&latencies, 0.99), latencies[latencies.len() - 1]);
    println!("well-behaved client: {} requests, p50 {p50:?}, p99 {p99:?}, max {max:?}", latencies.len());
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?} while 900 slow connections were open");
}

/// Beyond `RAMPART_MAX_CONNECTIONS`, a new connection waits in the listen backlog, unserved,
/// while the open ones are served; as soon as the server is full, keep-alive connections idle
/// for a second are closed to make room, busy ones are not.
#[tokio::test]
async fn connections_beyond_the_limit_wait_until_idle_ones_are_shed() {
    let service = Service::start(&[("RAMPART_JWT_SECRET", SECRET), ("RAMPART_MAX_CONNECTIONS", "20")]);
    let server: SocketAddr = service.addr.parse().unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: notes\r\n\r\n";
    let mut open = Vec::new();
    for _ in 0..20 {
        let mut stream = connect_from("127.0.0.6", server).await;
        stream.write_all(request).await.unwrap();
        let mut buffer = [0u8; 1024];
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(buffer[..n].starts_with(b"HTTP/1.1 200 OK"));
        open.push(stream);
    }
    // The 21st: the kernel completes the handshake (backlog), the server does not serve it yet.
    let mut waiting = connect_from("127.0.0.7", server).await;
    waiting.write_all(request).await.unwrap();
    let mut buffer = [0u8; 1024];
    let early = tokio::time::timeout(Duration::from_millis(400), waiting.read(&mut buffer)).await;
    assert!(early.is_err(), "served beyond the limit");
    // Within about a second of idleness, idle connections give way: the waiting one is served
    // long before the 60 s idle timeout.
    let started = Instant::now();
    let n = tokio::time::timeout(Duration::from_secs(3), waiting.read(&mut buffer)).await.unwrap().unwrap();
    assert!(buffer[..n].starts_with(b"HTTP/1.1 200 OK"), "{:?}", String::from_utf8_lossy(&buffer[..n]));
    println!("served after {:?} more", started.elapsed());
    // The shed ones were closed (read 0), not reset mid-response.
    let mut closed = 0;
    for stream in &mut open {
        if let Ok(Ok(0)) = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer)).await {
            closed += 1;
        }
    }
    assert!(closed > 0, "no idle connection was shed");
}

/// One address may hold at most `RAMPART_MAX_CONNECTIONS_PER_IP` connections: beyond, new
/// ones are closed at once, while other addresses are served.
#[tokio::test]
async fn one_address_cannot_take_every_connection() {
    let service = Service::start(&[("RAMPART_JWT_SECRET", SECRET), ("RAMPART_MAX_CONNECTIONS_PER_IP", "5")]);
    let server: SocketAddr = service.addr.parse().unwrap();
    let request = b"GET /health HTTP/1.1\r\nHost: notes\r\n\r\n";
    let mut buffer = [0u8; 1024];
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut stream = connect_from("127.0.0.8", server).await;
        stream.write_all(request).await.unwrap();
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(buffer[..n].starts_with(b"HTTP/1.1 200 OK"));
        held.push(stream);
    }
    let mut sixth = connect_from("127.0.0.8", server).await;
    let _ = sixth.write_all(request).await;
    let read = tokio::time::timeout(Duration::from_secs(2), sixth.read(&mut buffer)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "the sixth connection from one address was served");
    let mut other = connect_from("127.0.0.9", server).await;
    other.write_all(request).await.unwrap();
    let n = other.read(&mut buffer).await.unwrap();
    assert!(buffer[..n].starts_with(b"HTTP/1.1 200 OK"));
    // A place freed is a place again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = connect_from("127.0.0.8", server).await;
    again.write_all(request).await.unwrap();
    let n = again.read(&mut buffer).await.unwrap();
    assert!(buffer[..n].starts_with(b"HTTP/1.1 200 OK"));
}

/// On a dual-stack `[::]` listener, IPv4 peers arrive as `::ffff:a.b.c.d`: the per-address cap
/// still counts each IPv4 address on its own (not the /64 every mapped address shares).
#[tokio::test]
async fn a_dual_stack_listener_counts_ipv4_clients_by_their_own_address() {
    let service = Service::start(&[
        ("RAMPART_JWT_SECRET", SECRET),
        ("RAMPART_ADDR", "[::]:0"),
        ("RAMPART_MAX_CONNECTIONS_PER_IP", "5"),
    ]);
    let port = service.addr.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    assert!(service.addr.starts_with("[::]:"), "{}", service.addr);
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    let request = b"GET /health HTTP/1.1\r\nHost: notes\r\n\r\n";
    let mut buffer = [0u8; 1024];
    let mut held = Vec::new();
    for _ in 0..5 {
        let mut stream = connect_from("127.0.0.2", server).await;
        stream.write_all(request).await.unwrap();
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(buffer[..n].starts_with(b"HTTP/1.1 200 OK"));
        held.push(stream);
    }
    // The sixth from 127.0.0.2 is over its cap...
    let mut sixth = connect_from("127.0.0.2", server).await;
    let _ = sixth.write_all(request).await;
    let read = tokio::time::timeout(Duration::from_secs(2), sixth.read(&mut buffer)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "the sixth connection from one address was served");
    // ...and 127.0.0.3, another IPv4 client, is served.
    for _ in 0..5 {
        let mut other = connect_from("127.0.0.3", server).await;
        other.write_all(request).await.unwrap();
        let n = tokio::time::timeout(Duration::from_secs(5), other.read(&mut buffer)).await.unwrap().unwrap();
        assert!(buffer[..n].starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&buffer[..n]));
        held.push(other);
    }
}
