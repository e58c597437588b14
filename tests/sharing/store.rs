//! The SQL relations store, in SQLite and in PostgreSQL (127.0.0.1:5432, database `test`, a
//! schema of its own per run): tuples granted, read, listed, revoked and forgotten, and an
//! implication that only the rule (not the store) knows.

use rampart::authz::{RelationRule, Relations, Tuple};
use rampart::relations::SqlRelations;
use sqlx::any::AnyPoolOptions;

const EDIT: RelationRule = RelationRule {
    kind: "note",
    relation: "editor",
    granted_by: &["editor", "owner"],
    relations: &["editor", "owner", "viewer"],
    roles: &["admin"],
};

async fn exercise(store: &SqlRelations) {
    let tuple = |id, relation, subject| Tuple { kind: "note", id, relation, subject };
    store.grant(tuple("1", "viewer", "jwt:i#bob")).await.unwrap();
    store.grant(tuple("1", "viewer", "jwt:i#bob")).await.unwrap(); // twice is once
    store.grant(tuple("1", "editor", "jwt:i#carol")).await.unwrap();
    store.grant(tuple("2", "editor", "jwt:i#bob")).await.unwrap();
    store.grant(tuple("3", "viewer", "jwt:i#bob")).await.unwrap();
    store.grant(Tuple { kind: "folder", id: "1", relation: "viewer", subject: "jwt:i#bob" }).await.unwrap();

    assert_eq!(store.held("note", "1", "jwt:i#bob").await.unwrap(), ["viewer"]);
    assert_eq!(store.held("note", "1", "jwt:i#carol").await.unwrap(), ["editor"]);
    assert!(store.held("note", "1", "jwt:i#mallory").await.unwrap().is_empty());
    // Another namespace with the same name is another subject.
    assert!(store.held("note", "1", "client:i#bob").await.unwrap().is_empty());
    // The rule decides what a held relation grants.
    assert!(!store.held("note", "1", "jwt:i#bob").await.unwrap().iter().any(|r| EDIT.is_granted_by(r)));
    assert!(store.held("note", "1", "jwt:i#carol").await.unwrap().iter().any(|r| EDIT.is_granted_by(r)));

    assert_eq!(store.objects("note", "jwt:i#bob", &["editor", "viewer"]).await.unwrap(), ["1", "2", "3"]);
    assert_eq!(store.objects("note", "jwt:i#bob", &["editor"]).await.unwrap(), ["2"]);
    assert!(store.objects("note", "jwt:i#bob", &[]).await.unwrap().is_empty());

    assert!(store.revoke(tuple("3", "viewer", "jwt:i#bob")).await.unwrap());
    assert!(!store.revoke(tuple("3", "viewer", "jwt:i#bob")).await.unwrap());
    assert_eq!(store.revoke_all("note", "2", "jwt:i#bob").await.unwrap(), 1);
    assert_eq!(store.forget("note", "1").await.unwrap(), 2);
    assert!(store.objects("note", "jwt:i#bob", &["editor", "viewer"]).await.unwrap().is_empty());
    // Another type's tuples are untouched.
    assert_eq!(store.objects("folder", "jwt:i#bob", &["viewer"]).await.unwrap(), ["1"]);
}

#[tokio::test]
async fn the_store_keeps_tuples_in_sqlite() {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new().max_connections(1).connect("sqlite::memory:").await.unwrap();
    exercise(&SqlRelations::new(pool).await.unwrap()).await;
}

#[tokio::test]
async fn the_store_keeps_tuples_in_postgres() {
    sqlx::any::install_default_drivers();
    let base = "postgres://postgres@127.0.0.1:5432/test";
    let admin = AnyPoolOptions::new().max_connections(1).connect(base).await.expect("PostgreSQL at 127.0.0.1:5432");
    let schema = format!("relations_{}_{}", std::process::id(), rampart_tests::now());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await.unwrap();
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let pool = AnyPoolOptions::new().max_connections(2).connect(&url).await.unwrap();
    let store = SqlRelations::new(pool.clone()).await.unwrap();
    // Created twice (a restart) is fine.
    let store_again = SqlRelations::new(pool.clone()).await.unwrap();
    drop(store_again);
    exercise(&store).await;
    pool.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&admin).await.unwrap();
}
