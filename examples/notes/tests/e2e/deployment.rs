//! Where a test's service keeps its notes and its rate limits: SQLite in a temporary directory
//! or a fresh schema of the local PostgreSQL, limits in memory or in the local Redis. Names are
//! unique per run, so that runs never share a note or a rate-limit key.

use std::path::PathBuf;

use super::service::{JWT_SECRET, SEAL_KEY};

/// The local PostgreSQL's test database (trust authentication on this machine kind).
pub(crate) const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The local Redis.
pub(crate) const REDIS: &str = "redis://127.0.0.1:6379";

/// A database and a rate-limit store for one test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    /// SQLite file, limits in memory.
    Sqlite,
    /// PostgreSQL schema, limits in memory.
    Postgres,
    /// SQLite file, limits in Redis.
    SqliteRedis,
}

/// Two OAuth clients with unique ids: a writer (read + write) and a reader (read only).
#[derive(Debug, Clone)]
pub(crate) struct Clients {
    pub(crate) writer: (String, String),
    pub(crate) reader: (String, String),
}

/// One test's environment.
pub(crate) struct Deployment {
    pub(crate) env: Vec<(String, String)>,
    pub(crate) clients: Clients,
    pub(crate) dir: tempfile::TempDir,
    pub(crate) backend: Backend,
    /// The PostgreSQL schema, if any: dropped with the deployment, even when a test panics.
    schema: Option<String>,
}

fn unique(prefix: &str) -> String {
    format!("{prefix}{}x{:08x}", std::process::id(), rand::random::<u32>())
}

impl Deployment {
    /// A fresh deployment on `backend`.
    pub(crate) async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clients = Clients {
            writer: (unique("writer-"), unique("writer-secret-0123456789abcdef-")),
            reader: (unique("reader-"), unique("reader-secret-0123456789abcdef-")),
        };
        let mut env = vec![
            ("RAMPART_JWT_SECRET".to_owned(), JWT_SECRET.to_owned()),
            ("RAMPART_SEAL_KEY".to_owned(), SEAL_KEY.to_owned()),
            (
                "RAMPART_OAUTH_CLIENTS".to_owned(),
                format!(
                    "{}:{}:notes:read notes:write,{}:{}:notes:read",
                    clients.writer.0, clients.writer.1, clients.reader.0, clients.reader.1
                ),
            ),
        ];
        let mut schema = None;
        match backend {
            Backend::Sqlite | Backend::SqliteRedis => {
                let file = dir.path().join("notes.db");
                env.push(("DATABASE_URL".into(), format!("sqlite://{}?mode=rwc", file.display())));
            }
            Backend::Postgres => {
                let name = unique("e2e_");
                let pool =
                    sqlx::PgPool::connect(POSTGRES).await.expect("PostgreSQL at 127.0.0.1:5432, database `test`");
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {name}"))).execute(&pool).await.unwrap();
                pool.close().await;
                env.push(("DATABASE_URL".into(), format!("{POSTGRES}?options=-c%20search_path%3D{name}")));
                schema = Some(name);
            }
        }
        if backend == Backend::SqliteRedis {
            env.push(("RAMPART_RATE_LIMIT".into(), REDIS.into()));
            // Limits per client IP (the token endpoint's) must not carry over between runs.
            env.push(("RAMPART_RATE_LIMIT_PREFIX".into(), unique("e2e-")));
        }
        Self { env, clients, dir, backend, schema }
    }

    /// The SQLite file, for tests that read raw rows.
    pub(crate) fn sqlite_file(&self) -> PathBuf {
        self.dir.path().join("notes.db")
    }

    /// The `DATABASE_URL` given to the service.
    pub(crate) fn database_url(&self) -> String {
        self.env.iter().find(|(k, _)| k == "DATABASE_URL").map(|(_, v)| v.clone()).unwrap()
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let Some(schema) = self.schema.take() else { return };
        // A thread of its own: this may run inside or outside a runtime, or while unwinding.
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let pool = sqlx::PgPool::connect(POSTGRES).await.unwrap();
                sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&pool).await.unwrap();
                pool.close().await;
            });
        })
        .join();
        if dropped.is_err() && !std::thread::panicking() {
            panic!("could not drop the test schema");
        }
    }
}
