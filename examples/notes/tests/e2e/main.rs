//! End-to-end: the real notes binary on a free loopback port, a real HTTP client, real SQLite,
//! PostgreSQL and Redis. Every test starts its own process and its own database.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod contract;
mod deployment;
mod introspection;
mod sealing;
mod service;
mod shutdown;
mod tls;

use deployment::{Backend, Deployment};
use reqwest::StatusCode;
use serde_json::Value;
use service::Service;

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The contract, a restart, and the note still there, readable through the API and sealed in
/// the database.
fn contract_and_restart(backend: Backend) {
    let rt = runtime();
    let deployment = rt.block_on(Deployment::new(backend));
    let service = Service::start(&deployment.env);
    let id = rt.block_on(contract::run(&service, &deployment.clients));

    let service = service.restart();
    rt.block_on(async {
        let token = contract::token(&service, &deployment.clients.writer, Some("notes:read")).await;
        let reply =
            contract::client().get(service.url(&format!("/notes/{id}"))).bearer_auth(&token).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        let note: Value = reply.json().await.unwrap();
        assert_eq!(note["body"], "secret plans", "the note survived the restart");
        assert_sealed_at_rest(&deployment, id).await;
    });
    let log = service.log();
    for (_, secret) in [&deployment.clients.writer, &deployment.clients.reader] {
        assert!(!log.contains(secret.as_str()), "a client secret reached the log");
    }
    assert!(!log.contains(service::JWT_SECRET));
    drop(service);
}

/// Reads the raw row: the body column holds no plaintext.
async fn assert_sealed_at_rest(deployment: &Deployment, id: i64) {
    let raw: String = match deployment.backend {
        Backend::Sqlite | Backend::SqliteRedis => {
            let url = format!("sqlite://{}?mode=ro", deployment.sqlite_file().display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let raw =
                sqlx::query_scalar("SELECT body FROM notes WHERE id = ?").bind(id).fetch_one(&pool).await.unwrap();
            pool.close().await;
            raw
        }
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&deployment.database_url()).await.unwrap();
            let raw =
                sqlx::query_scalar("SELECT body FROM notes WHERE id = $1").bind(id).fetch_one(&pool).await.unwrap();
            pool.close().await;
            raw
        }
    };
    assert!(!raw.contains("secret plans") && !raw.contains("secret"), "plaintext at rest: {raw}");
    assert!(raw.len() > 40, "a sealed value: {raw}");
    if matches!(deployment.backend, Backend::Sqlite | Backend::SqliteRedis) {
        // Nor anywhere in the database files.
        for file in ["notes.db", "notes.db-wal"] {
            if let Ok(bytes) = std::fs::read(deployment.dir.path().join(file)) {
                assert!(!bytes.windows(12).any(|w| w == b"secret plans"), "plaintext in {file}");
            }
        }
    }
}

#[test]
fn contract_on_sqlite() {
    contract_and_restart(Backend::Sqlite);
}

#[test]
fn contract_on_postgres() {
    contract_and_restart(Backend::Postgres);
}

#[test]
fn contract_with_redis_rate_limits() {
    contract_and_restart(Backend::SqliteRedis);
}

/// A client written in another language: Python's requests-oauthlib
/// (`BackendApplicationClient` + `OAuth2Session.fetch_token`), then `GET /notes`.
/// Runs the Python client `script` (in tests/e2e) against `service` as the reader client of
/// `deployment`, with `env` added; what it printed, as JSON. `packages` says what to install.
fn python_client(
    script: &str,
    service: &Service,
    deployment: &Deployment,
    env: &[(&str, &str)],
    packages: &str,
) -> Value {
    let (id, secret) = &deployment.clients.reader;
    let output = std::process::Command::new("python3")
        .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e").join(script))
        .env("NOTES_URL", service.url(""))
        .env("CLIENT_ID", id)
        .env("CLIENT_SECRET", secret)
        .envs(env.iter().copied())
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "{script} failed (./scripts/test installs {packages}):\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_python_oauth2_client_works_unchanged() {
    let rt = runtime();
    let deployment = rt.block_on(Deployment::new(Backend::Sqlite));
    let service = Service::start(&deployment.env);
    // requests-oauthlib refuses plain HTTP unless told; the service is on loopback.
    let insecure = [("OAUTHLIB_INSECURE_TRANSPORT", "1")];
    let printed = python_client("client.py", &service, &deployment, &insecure, "requests-oauthlib");
    assert_eq!(printed["token_type"], "Bearer");
    assert_eq!(printed["scope"], "notes:read");
    assert_eq!(printed["status"], 200);
    assert_eq!(printed["notes"], serde_json::json!({"items": [], "next_cursor": null}));
}

/// A DPoP client written with joserfc (a third-party JOSE library) gets a token bound to its key
/// from /oauth/token and calls the API with it; its replayed proof and the token sent as a plain
/// bearer token are refused with the DPoP challenge.
#[test]
fn a_python_dpop_client_gets_a_bound_token_and_uses_it() {
    python_dpop_client(false);
}

/// The same client, where the service requires server nonces in proofs: asked once, it signs
/// its proof again with the nonce and is served.
#[test]
fn a_python_dpop_client_uses_the_nonce_the_service_requires() {
    python_dpop_client(true);
}

fn python_dpop_client(nonces: bool) {
    let rt = runtime();
    let deployment = rt.block_on(Deployment::new(Backend::Sqlite));
    // The proofs name the URL the client calls: the service is told its public URL, on a port
    // chosen here.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut env = deployment.env.clone();
    env.push(("RAMPART_ADDR".to_owned(), format!("127.0.0.1:{port}")));
    env.push(("RAMPART_PUBLIC_URL".to_owned(), format!("http://127.0.0.1:{port}")));
    if nonces {
        env.push(("RAMPART_DPOP_NONCE".to_owned(), "required".to_owned()));
    }
    let service = Service::start(&env);
    let printed = python_client("dpop_client.py", &service, &deployment, &[], "joserfc");
    assert_eq!(printed["nonce_asked"], nonces);
    // The token endpoint asks for its nonce the same way (RFC 9449 §8): 400 use_dpop_nonce.
    let expected_token_nonce = nonces.then(|| {
        serde_json::json!([400, {"error": "use_dpop_nonce", "error_description": "sign the proof again with the nonce in DPoP-Nonce"}])
    });
    assert_eq!(printed["token_nonce_asked"], expected_token_nonce.unwrap_or(Value::Null));
    assert_eq!(printed["token_type"], "DPoP");
    assert_eq!(printed["cnf_jkt"], printed["thumbprint"], "the token is bound to the client's key");
    assert_eq!(printed["status"], 200);
    assert_eq!(printed["notes"], serde_json::json!({"items": [], "next_cursor": null}));
    let algs = r#"algs="ES256 ES384 EdDSA RS256 PS256""#;
    assert_eq!(printed["replayed"][0], 401);
    let replayed = printed["replayed"][1].as_str().unwrap();
    assert!(
        replayed.starts_with("DPoP realm=")
            && replayed.contains(r#"error="invalid_dpop_proof""#)
            && replayed.ends_with(algs),
        "{replayed}"
    );
    assert_eq!(printed["as_bearer"][0], 401);
    let as_bearer = printed["as_bearer"][1].as_str().unwrap();
    assert!(as_bearer.contains(r#"error="invalid_token""#) && as_bearer.ends_with(algs), "{as_bearer}");
}

/// Two instances behind one Redis share the per-subject limit: 10 creates spread over both, the
/// 11th is refused by whichever instance gets it.
#[test]
fn two_instances_share_the_redis_limit() {
    let rt = runtime();
    let deployment = rt.block_on(Deployment::new(Backend::SqliteRedis));
    let first = Service::start(&deployment.env);
    let mut second_env = deployment.env.clone();
    let second_db = deployment.dir.path().join("second.db");
    second_env.retain(|(k, _)| k != "DATABASE_URL");
    second_env.push(("DATABASE_URL".into(), format!("sqlite://{}?mode=rwc", second_db.display())));
    let second = Service::start(&second_env);
    rt.block_on(async {
        let token = contract::token(&first, &deployment.clients.writer, None).await;
        let http = contract::client();
        for i in 0..10 {
            let service = if i % 2 == 0 { &first } else { &second };
            let reply = http
                .post(service.url("/notes"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"title": format!("note {i}")}))
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), StatusCode::CREATED, "create {i}");
        }
        for service in [&first, &second] {
            let reply = http
                .post(service.url("/notes"))
                .bearer_auth(&token)
                .json(&serde_json::json!({"title": "one too many"}))
                .send()
                .await
                .unwrap();
            assert_eq!(reply.status(), StatusCode::TOO_MANY_REQUESTS);
        }
    });
}
