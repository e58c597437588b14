//! Graceful shutdown: SIGTERM while a request is in flight; the request completes, the process
//! exits 0, and what it wrote is there after a restart.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::deployment::{Backend, Deployment};
use super::service::Service;

#[test]
fn sigterm_lets_an_in_flight_create_finish_and_loses_nothing() {
    let rt = super::runtime();
    let deployment = rt.block_on(Deployment::new(Backend::Sqlite));
    let mut service = Service::start(&deployment.env);
    let token = rt.block_on(super::contract::token(&service, &deployment.clients.writer, None));

    // Headers and half the body are sent; then the service is told to stop.
    let body = serde_json::json!({"title": "in flight", "body": "written during shutdown"}).to_string();
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = TcpStream::connect(&service.addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        stream,
        "POST /notes HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{first}",
        service.addr,
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    service.signal_terminate();
    std::thread::sleep(Duration::from_millis(300));

    // The rest of the body arrives after SIGTERM: the request still completes.
    stream.write_all(rest.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    let created: Value = serde_json::from_str(response.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let id = created["id"].as_i64().unwrap();

    let status = service.wait();
    assert!(status.success(), "exit status after SIGTERM: {status}");
    assert!(service.log().contains("notes stopped"), "{}", service.log());

    let service = Service::start(&deployment.env);
    rt.block_on(async {
        let token = super::contract::token(&service, &deployment.clients.writer, None).await;
        let reply = super::contract::client()
            .get(service.url(&format!("/notes/{id}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(reply.json::<Value>().await.unwrap()["body"], "written during shutdown");
    });
}
