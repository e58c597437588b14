//! Clients that stop reading, against the real notes binary: HTTP/2 connections that leave their
//! flow-control window at zero after asking for a response, and HTTP/1 connections that stop
//! reading large ones (more than the kernel's buffers hold). Each is closed within the send deadline (`RAMPART_SEND_TIMEOUT_SECS`),
//! request in flight or not, and a client from another address is served while they try.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use support::Service;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};

const SECRET: &str = "stalled-reader-test-secret-0123456789abcdef";
const SEND_SECS: u64 = 2;
/// What a deadline may be late by: the watch's 250 ms tick, scheduling on a loaded 2-core box.
const SLACK: Duration = Duration::from_millis(1_500);

fn socket_from(source: &str) -> TcpSocket {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket
}

async fn connect_from(source: &str, server: SocketAddr) -> TcpStream {
    socket_from(source).connect(server).await.unwrap()
}

/// An HTTP/2 connection (prior knowledge, h2c) from `source` whose streams' windows are zero:
/// asks for `path`, gets the response head, then takes no data. Resolves to how long after
/// `started` the server closed it (`None`: still open at `give_up`).
async fn zero_window(
    source: String,
    server: SocketAddr,
    path: &'static str,
    started: Instant,
    give_up: Duration,
) -> Option<Duration> {
    let tcp = connect_from(&source, server).await;
    let (mut client, connection) =
        h2::client::Builder::new().initial_window_size(0).handshake::<_, bytes::Bytes>(tcp).await.unwrap();
    let connection = tokio::spawn(connection);
    let request = http::Request::get(format!("http://notes{path}")).body(()).unwrap();
    let (response, _) = client.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
    // The body never comes: the window is zero and the client never opens it.
    match tokio::time::timeout(give_up.saturating_sub(started.elapsed()), connection).await {
        Ok(_) => Some(started.elapsed()),
        Err(_) => None,
    }
}

async fn health_from(source: &str, server: SocketAddr) -> Duration {
    let started = Instant::now();
    let mut stream = connect_from(source, server).await;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: notes\r\nConnection: close\r\n\r\n").await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200 OK"), "{}", String::from_utf8_lossy(&response));
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_left_at_a_zero_window_are_closed_at_the_send_deadline() {
    let send = SEND_SECS.to_string();
    let service = Service::start(&[
        ("RAMPART_JWT_SECRET", SECRET),
        ("RAMPART_SEND_TIMEOUT_SECS", send.as_str()),
        // Not full: nothing is shed, the send deadline alone closes them.
        ("RAMPART_MAX_CONNECTIONS", "256"),
    ]);
    let server: SocketAddr = service.addr.parse().unwrap();
    let started = Instant::now();
    let give_up = Duration::from_secs(20);
    let stalled: Vec<_> = (0..16)
        .map(|i| tokio::spawn(zero_window(format!("127.0.0.{}", 30 + i % 4), server, "/health", started, give_up)))
        .collect();
    // While they hold their responses, another address is served.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(health_from("127.0.0.40", server).await < Duration::from_secs(2));
    let deadline = Duration::from_secs(SEND_SECS);
    let mut times = Vec::new();
    for task in stalled {
        let closed = task.await.unwrap().expect("a zero-window HTTP/2 connection was never closed");
        assert!(closed >= deadline && closed <= deadline + SLACK, "closed after {closed:?}, not at the send deadline");
        times.push(closed);
    }
    times.sort();
    eprintln!("16 zero-window HTTP/2 connections closed after {:?} .. {:?}", times[0], times[times.len() - 1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn zero_window_connections_filling_the_server_do_not_keep_others_out() {
    // 64 connections from 8 addresses fill every slot, each holding a response it never reads.
    let service = Service::start(&[
        ("RAMPART_JWT_SECRET", SECRET),
        ("RAMPART_SEND_TIMEOUT_SECS", "10"),
        ("RAMPART_MAX_CONNECTIONS", "64"),
        ("RAMPART_MAX_CONNECTIONS_PER_IP", "8"),
    ]);
    let server: SocketAddr = service.addr.parse().unwrap();
    let started = Instant::now();
    let give_up = Duration::from_secs(30);
    let stalled: Vec<_> = (0..64)
        .map(|i| tokio::spawn(zero_window(format!("127.0.0.{}", 50 + i % 8), server, "/health", started, give_up)))
        .collect();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    // A fresh client from another address: the full server sheds the connections that made no
    // progress for a second (their every request waits on the client) to make room.
    let waited = tokio::time::timeout(Duration::from_secs(10), health_from("127.0.0.70", server))
        .await
        .expect("a fresh client got no answer within 10 s");
    assert!(waited < Duration::from_secs(5), "served after {waited:?}");
    // And no stalled connection outlives its send deadline.
    let mut times = Vec::new();
    for task in stalled {
        let closed = task.await.unwrap().expect("a zero-window HTTP/2 connection was never closed");
        assert!(closed <= Duration::from_secs(10) + SLACK, "closed after {closed:?}");
        times.push(closed);
    }
    times.sort();
    eprintln!(
        "64 zero-window HTTP/2 connections filling the server: a fresh client served in {waited:?}; closed after {:?} .. {:?}",
        times[0],
        times[times.len() - 1]
    );
}

/// The size of the largest file the service sends (the documentation page's script).
async fn bundle_size(server: SocketAddr) -> usize {
    let mut stream = connect_from("127.0.0.90", server).await;
    stream
        .write_all(b"GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: notes\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200 OK"));
    response.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http1_readers_that_stop_reading_a_large_response_are_closed_at_the_send_deadline() {
    let send = SEND_SECS.to_string();
    let service = Service::start(&[("RAMPART_JWT_SECRET", SECRET), ("RAMPART_SEND_TIMEOUT_SECS", send.as_str())]);
    let server: SocketAddr = service.addr.parse().unwrap();
    let one = bundle_size(server).await;
    assert!(one > 1_000_000, "{one}");
    // Eight pipelined requests for it: more than the kernel's send buffer can take (it grows to
    // 4 MiB here), so that the server's writes block.
    const PIPELINED: usize = 8;
    let whole = one * PIPELINED;
    let requests = b"GET /docs/swagger-ui-bundle.js HTTP/1.1\r\nHost: notes\r\n\r\n".repeat(PIPELINED);
    let mut readers = Vec::new();
    for i in 0..8 {
        let socket = socket_from(&format!("127.0.0.{}", 80 + i % 4));
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(server).await.unwrap();
        stream.write_all(&requests).await.unwrap();
        readers.push(stream);
    }
    // They read nothing for longer than the deadline; meanwhile another address is served.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(health_from("127.0.0.95", server).await < Duration::from_secs(2));
    tokio::time::sleep(Duration::from_secs(SEND_SECS) + SLACK).await;
    // Then what they find is what was in flight, and the end: the server closed them.
    for mut stream in readers {
        let mut received = 0;
        let mut buffer = vec![0u8; 65_536];
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match stream.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => received += n,
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a reader that stopped reading was still served after the send deadline");
        assert!(received < whole, "the whole response came through ({received} bytes): the connection was not closed");
        eprintln!("a stopped HTTP/1 reader got {received} of {whole} bytes, then the end");
    }
}
