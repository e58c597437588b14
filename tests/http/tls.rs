//! HTTPS with rustls from PEM files, over a real socket with a real client; HSTS only there.

use std::time::Duration;

use rampart::Security;
use rampart_tests::*;

#[tokio::test]
async fn serves_https_with_hsts_from_pem_files() {
    let dir = tempfile::tempdir().unwrap();
    let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, generated.cert.pem()).unwrap();
    std::fs::write(&key_path, generated.signing_key.serialize_pem()).unwrap();

    let tls = rampart::tls::load_pem_files(&cert_path, &key_path).await.unwrap();
    let security = Security::builder(authenticator(&[Scheme::Hs256])).tls(true).build();
    let app = test_app(&security, &Calls::default());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(rampart::serve::Server::new(listener, app).tls(Some(tls)).run(async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(generated.cert.pem().as_bytes()).unwrap()])
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let token = Scheme::Hs256.token(&claims("alice", "notes:read"));
    let response = client.get(format!("https://localhost:{port}/me")).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["strict-transport-security"], "max-age=63072000; includeSubDomains");
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["sub"], "alice");

    // Errors over TLS carry HSTS too.
    let response = client.get(format!("https://localhost:{port}/me")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("strict-transport-security"));

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new().get(format!("http://127.0.0.1:{port}/me")).send().await;
    assert!(plain.is_err() || plain.unwrap().status() != 200);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test]
async fn unreadable_pem_files_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    std::fs::write(&cert, "not a certificate").unwrap();
    let err = rampart::tls::load_pem_files(&cert, &dir.path().join("missing.pem")).await.unwrap_err();
    assert!(err.to_string().contains("cert.pem"), "{err}");
}
