//! HTTPS: `RAMPART_TLS_CERT`/`RAMPART_TLS_KEY` with a certificate generated here (rcgen); the
//! whole OAuth flow over TLS, HSTS on every answer, nothing on plain HTTP.

use std::net::SocketAddr;
use std::time::Duration;

use super::deployment::{Backend, Deployment};
use super::service::Service;

#[test]
fn serves_the_api_over_https_with_hsts() {
    let rt = super::runtime();
    let mut deployment = rt.block_on(Deployment::new(Backend::Sqlite));
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = deployment.dir.path().join("cert.pem");
    let key = deployment.dir.path().join("key.pem");
    std::fs::write(&cert, generated.cert.pem()).unwrap();
    std::fs::write(&key, generated.signing_key.serialize_pem()).unwrap();
    deployment.env.push(("RAMPART_TLS_CERT".into(), cert.display().to_string()));
    deployment.env.push(("RAMPART_TLS_KEY".into(), key.display().to_string()));

    let service = Service::start(&deployment.env);
    assert_eq!(service.scheme, "https");
    let addr: SocketAddr = service.addr.parse().unwrap();
    rt.block_on(async {
        let client = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_pem(generated.cert.pem().as_bytes()).unwrap()])
            .resolve("localhost", addr)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let base = format!("https://localhost:{}", addr.port());
        let (id, secret) = &deployment.clients.writer;
        let reply = client
            .post(format!("{base}/oauth/token"))
            .basic_auth(id, Some(secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
        let token: serde_json::Value = reply.json().await.unwrap();
        let token = token["access_token"].as_str().unwrap();

        let reply = client
            .post(format!("{base}/notes"))
            .bearer_auth(token)
            .json(&serde_json::json!({"title": "over tls"}))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 201);
        assert_eq!(reply.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
        let denied = client.get(format!("{base}/notes")).send().await.unwrap();
        assert_eq!(denied.status(), 401);
        assert!(denied.headers().contains_key("strict-transport-security"));

        // The same port does not speak plain HTTP.
        let plain = reqwest::Client::new().get(format!("http://{addr}/health")).send().await;
        assert!(plain.is_err() || plain.unwrap().status() != 200);
    });
}
