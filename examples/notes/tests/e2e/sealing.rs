//! Sealed bodies are bound to their row's owner: a body copied into another row, straight in the
//! database (an injection elsewhere, a restored backup), does not open there; bodies sealed the
//! old way (`v1.`, unbound) are bound to their row once, at start-up.

use rampart::crypto::{Keyring, Sealed};
use rampart::token::TokenRequest;
use reqwest::StatusCode;
use serde_json::{Value, json};

use super::contract::client;
use super::deployment::{Backend, Deployment};
use super::service::{JWT_SECRET, SEAL_KEY, Service};

fn user_token(subject: &str) -> String {
    TokenRequest::new(subject, "rampart-dev", "notes")
        .scopes(["notes:read", "notes:write"])
        .sign_hs256(JWT_SECRET.as_bytes())
        .unwrap()
}

/// Runs one statement on the deployment's database.
async fn execute(deployment: &Deployment, sql: &'static str, binds: &[&str]) {
    match deployment.backend {
        Backend::Postgres => {
            let pool = sqlx::PgPool::connect(&deployment.database_url()).await.unwrap();
            let mut query = sqlx::query(sql);
            for bind in binds {
                query = query.bind(*bind);
            }
            query.execute(&pool).await.unwrap();
            pool.close().await;
        }
        _ => {
            let url = format!("sqlite://{}", deployment.sqlite_file().display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            let mut query = sqlx::query(sql);
            for bind in binds {
                query = query.bind(*bind);
            }
            query.execute(&pool).await.unwrap();
            pool.close().await;
        }
    }
}

async fn create(service: &Service, token: &str, title: &str, body: &str) -> i64 {
    let reply = client()
        .post(service.url("/notes"))
        .bearer_auth(token)
        .json(&json!({"title": title, "body": body}))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::CREATED);
    reply.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

pub(crate) async fn a_body_moved_into_another_row_does_not_open(deployment: &Deployment, service: &Service) {
    let (alice, mallory) = (user_token("alice"), user_token("mallory"));
    let victim = create(service, &alice, "plans", "alice's secret plans").await;
    let decoy = create(service, &mallory, "decoy", "nothing").await;

    // Mallory, with write access to the database, copies Alice's sealed body into her own row.
    let (victim_id, decoy_id) = (victim.to_string(), decoy.to_string());
    let copy = match deployment.backend {
        Backend::Postgres => {
            "UPDATE notes SET body = (SELECT body FROM notes WHERE id = $1::bigint) WHERE id = $2::bigint"
        }
        _ => {
            "UPDATE notes SET body = (SELECT body FROM notes WHERE id = CAST($1 AS INTEGER)) WHERE id = CAST($2 AS INTEGER)"
        }
    };
    execute(deployment, copy, &[&victim_id, &decoy_id]).await;

    for path in [format!("/notes/{decoy}"), "/notes".to_owned()] {
        let reply = client().get(service.url(&path)).bearer_auth(&mallory).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::INTERNAL_SERVER_ERROR, "{path}");
        assert_eq!(reply.headers()["content-type"], "application/problem+json");
        let text = reply.text().await.unwrap();
        assert!(!text.contains("secret plans"), "the moved body was opened: {text}");
    }
    // Alice's own note still opens, for her.
    let reply = client().get(service.url(&format!("/notes/{victim}"))).bearer_auth(&alice).send().await.unwrap();
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(reply.json::<Value>().await.unwrap()["body"], "alice's secret plans");
    // Audited.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(service.log().contains("sealed_value_rejected"), "no audit event");
}

#[test]
fn a_sealed_body_moved_into_another_row_does_not_open_in_sqlite() {
    moved_on(Backend::Sqlite);
}

#[test]
fn a_sealed_body_moved_into_another_row_does_not_open_in_postgres() {
    moved_on(Backend::Postgres);
}

fn moved_on(backend: Backend) {
    let rt = super::runtime();
    let deployment = rt.block_on(Deployment::new(backend));
    let service = Service::start(&deployment.env);
    rt.block_on(a_body_moved_into_another_row_does_not_open(&deployment, &service));
}

/// A row sealed the old way (no context) is bound to its owner at the next start, and then
/// opens; its raw value is a bound `v2.` one.
#[test]
fn bodies_sealed_the_old_way_are_bound_to_their_row_at_start_up() {
    let rt = super::runtime();
    let deployment = rt.block_on(Deployment::new(Backend::Sqlite));
    let service = Service::start(&deployment.env);
    let alice = user_token("alice");
    let id = rt.block_on(create(&service, &alice, "old", "placeholder"));
    // Rewrite the body as the previous version sealed it: unbound, `v1.`.
    let keyring = Keyring::from_spec(SEAL_KEY).unwrap();
    let old = serde_json::to_string(&Sealed::seal(&keyring, &"sealed the old way".to_string()).unwrap()).unwrap();
    assert!(old.starts_with("\"v1."));
    rt.block_on(execute(
        &deployment,
        "UPDATE notes SET body = $1 WHERE id = CAST($2 AS INTEGER)",
        &[&old, &id.to_string()],
    ));
    // As in a database of the previous version, where the binding never ran.
    rt.block_on(execute(&deployment, "DELETE FROM notes_meta", &[]));

    let service = service.restart();
    assert!(service.log().contains("bound 1 note bodies sealed the old way"), "{}", service.log());
    rt.block_on(async {
        let reply = client().get(service.url(&format!("/notes/{id}"))).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
        assert_eq!(reply.json::<Value>().await.unwrap()["body"], "sealed the old way");
        let url = format!("sqlite://{}?mode=ro", deployment.sqlite_file().display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let raw: String =
            sqlx::query_scalar("SELECT body FROM notes WHERE id = ?").bind(id).fetch_one(&pool).await.unwrap();
        assert!(raw.starts_with("\"v2."), "{raw}");
    });

    // The binding ran once: an old body injected later (from a backup, say) is not bound to
    // the row it was copied into at the next start, and does not open there.
    let old = serde_json::to_string(&Sealed::seal(&keyring, &"from a backup".to_string()).unwrap()).unwrap();
    let update = "UPDATE notes SET body = $1 WHERE id = CAST($2 AS INTEGER)";
    rt.block_on(execute(&deployment, update, &[&old, &id.to_string()]));
    let service = service.restart();
    assert!(!service.log().contains("bound 1 note bodies"), "{}", service.log());
    rt.block_on(async {
        let reply = client().get(service.url(&format!("/notes/{id}"))).bearer_auth(&alice).send().await.unwrap();
        assert_eq!(reply.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!reply.text().await.unwrap().contains("from a backup"));
    });
}
