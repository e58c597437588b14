//! Relation tuples in one SQL table, in SQLite or PostgreSQL through sqlx's `Any` driver.
//!
//! ```sql
//! CREATE TABLE rampart_relations (
//!     object_type TEXT NOT NULL, object_id TEXT NOT NULL, relation TEXT NOT NULL, subject TEXT NOT NULL,
//!     PRIMARY KEY (object_type, object_id, subject, relation)
//! );
//! CREATE INDEX rampart_relations_by_subject ON rampart_relations (subject, object_type, relation, object_id);
//! ```
//!
//! The primary key serves a check (one object, one subject: a prefix of the key) and the
//! deletion of an object's tuples; the index serves a list (one subject, one type, a few
//! relations), alone or joined with the application's table.

use sqlx::AnyPool;

use super::store::{Relations, RelationsError, Tuple};
use crate::auth::BoxFuture;

/// The table's name, for applications that join it in their own list queries.
pub const TABLE: &str = "rampart_relations";

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS rampart_relations (\
     object_type TEXT NOT NULL, object_id TEXT NOT NULL, relation TEXT NOT NULL, subject TEXT NOT NULL, \
     PRIMARY KEY (object_type, object_id, subject, relation))";
const CREATE_INDEX: &str = "CREATE INDEX IF NOT EXISTS rampart_relations_by_subject \
     ON rampart_relations (subject, object_type, relation, object_id)";

/// A [`Relations`] store over an sqlx `Any` pool (SQLite or PostgreSQL).
#[derive(Debug, Clone)]
pub struct SqlRelations {
    pool: AnyPool,
}

fn failed(error: sqlx::Error) -> RelationsError {
    RelationsError(Box::new(error))
}

/// `$first, $first+1, ...` for `count` values.
fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

impl SqlRelations {
    /// The store over `pool`, its table and index created when missing.
    ///
    /// # Errors
    ///
    /// When the database refuses the table.
    pub async fn new(pool: AnyPool) -> Result<Self, RelationsError> {
        sqlx::query(CREATE_TABLE).execute(&pool).await.map_err(failed)?;
        sqlx::query(CREATE_INDEX).execute(&pool).await.map_err(failed)?;
        Ok(Self { pool })
    }

    /// The pool, for the application's own queries that join [`TABLE`].
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

impl Relations for SqlRelations {
    fn held<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<Vec<String>, RelationsError>> {
        Box::pin(async move {
            sqlx::query_scalar(
                "SELECT relation FROM rampart_relations WHERE object_type = $1 AND object_id = $2 AND subject = $3",
            )
            .bind(kind)
            .bind(id)
            .bind(subject)
            .fetch_all(&self.pool)
            .await
            .map_err(failed)
        })
    }

    fn grant<'a>(&'a self, tuple: Tuple<'a>) -> BoxFuture<'a, Result<(), RelationsError>> {
        Box::pin(async move {
            sqlx::query(
                "INSERT INTO rampart_relations (object_type, object_id, relation, subject) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(tuple.kind)
            .bind(tuple.id)
            .bind(tuple.relation)
            .bind(tuple.subject)
            .execute(&self.pool)
            .await
            .map_err(failed)?;
            Ok(())
        })
    }

    fn revoke<'a>(&'a self, tuple: Tuple<'a>) -> BoxFuture<'a, Result<bool, RelationsError>> {
        Box::pin(async move {
            let done = sqlx::query(
                "DELETE FROM rampart_relations WHERE object_type = $1 AND object_id = $2 AND subject = $3 AND relation = $4",
            )
            .bind(tuple.kind)
            .bind(tuple.id)
            .bind(tuple.subject)
            .bind(tuple.relation)
            .execute(&self.pool)
            .await
            .map_err(failed)?;
            Ok(done.rows_affected() > 0)
        })
    }

    fn revoke_all<'a>(
        &'a self,
        kind: &'a str,
        id: &'a str,
        subject: &'a str,
    ) -> BoxFuture<'a, Result<u64, RelationsError>> {
        Box::pin(async move {
            let done =
                sqlx::query("DELETE FROM rampart_relations WHERE object_type = $1 AND object_id = $2 AND subject = $3")
                    .bind(kind)
                    .bind(id)
                    .bind(subject)
                    .execute(&self.pool)
                    .await
                    .map_err(failed)?;
            Ok(done.rows_affected())
        })
    }

    fn forget<'a>(&'a self, kind: &'a str, id: &'a str) -> BoxFuture<'a, Result<u64, RelationsError>> {
        Box::pin(async move {
            let done = sqlx::query("DELETE FROM rampart_relations WHERE object_type = $1 AND object_id = $2")
                .bind(kind)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(failed)?;
            Ok(done.rows_affected())
        })
    }

    fn objects<'a>(
        &'a self,
        kind: &'a str,
        subject: &'a str,
        relations: &'a [&'a str],
    ) -> BoxFuture<'a, Result<Vec<String>, RelationsError>> {
        Box::pin(async move {
            if relations.is_empty() {
                return Ok(Vec::new());
            }
            let sql = format!(
                "SELECT DISTINCT object_id FROM rampart_relations WHERE subject = $1 AND object_type = $2 \
                 AND relation IN ({}) ORDER BY object_id",
                placeholders(3, relations.len())
            );
            let mut query = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(subject).bind(kind);
            for relation in relations {
                query = query.bind(*relation);
            }
            query.fetch_all(&self.pool).await.map_err(failed)
        })
    }
}
