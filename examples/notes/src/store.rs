//! Notes in SQL: SQLite (the default, a file created on start) or PostgreSQL, through sqlx's `Any`
//! driver with the same embedded migrations.

use std::time::Duration;

use rampart::authz::Relations as _;
use rampart::crypto::{Keyring, Sealed};
use rampart::relations::SqlRelations;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Row as _};

use crate::model::StoredNote;

/// The database used when `DATABASE_URL` is not set: `notes.db` in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://notes.db?mode=rwc";

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Ids are random below 2^53: they reveal no count, and JavaScript clients read them exactly.
const ID_SPACE: i64 = 1 << 53;

/// The notes table, and the relation tuples (shares) beside it in the same database.
#[derive(Debug, Clone)]
pub struct NoteStore {
    pool: AnyPool,
    relations: SqlRelations,
}

/// The resource type of notes in `rampart.toml` and in the relation tuples.
pub const NOTE: &str = "note";

/// A store failure (the detail goes to the log, never to the client).
pub type StoreError = sqlx::Error;

impl NoteStore {
    /// Connects to `url` (`sqlite://...` or `postgres://...`) and applies the migrations.
    ///
    /// # Errors
    ///
    /// When the database cannot be reached or migrated.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let in_memory = url.starts_with("sqlite:") && url.contains(":memory:");
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(5));
        if in_memory {
            // Every SQLite connection to `:memory:` is its own database: keep exactly one alive.
            options = options.max_connections(1).min_connections(1).idle_timeout(None).max_lifetime(None);
        } else {
            options = options.max_connections(8);
        }
        let pool = options.connect(url).await?;
        MIGRATIONS.run(&pool).await?;
        let relations = SqlRelations::new(pool.clone()).await.map_err(|e| sqlx::Error::Configuration(e.0))?;
        Ok(Self { pool, relations })
    }

    /// The relation tuples: who shares which note.
    pub fn relations(&self) -> &SqlRelations {
        &self.relations
    }

    /// Which database this is, without credentials (for the start-up line).
    pub fn describe(url: &str) -> String {
        match url.split_once("://") {
            Some(("sqlite", rest)) => format!("sqlite {}", rest.split('?').next().unwrap_or(rest)),
            Some((scheme, rest)) => {
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                format!("{scheme} {}", host.split('?').next().unwrap_or(host))
            }
            None => url.split('?').next().unwrap_or(url).to_owned(),
        }
    }

    /// Stores a new note under a fresh random id and returns it.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn insert(&self, mut note: StoredNote) -> Result<StoredNote, StoreError> {
        let sealed = serde_json::to_string(&note.body).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let tags = serde_json::to_string(&note.tags).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        loop {
            note.id = rand::random_range(1..ID_SPACE);
            let inserted = sqlx::query(
                "INSERT INTO notes (id, owner_key, owner_name, title, body, tags, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(note.id)
            .bind(&note.owner_key)
            .bind(&note.owner_name)
            .bind(&note.title)
            .bind(&sealed)
            .bind(&tags)
            .bind(note.created_at)
            .execute(&self.pool)
            .await;
            match inserted {
                Ok(_) => return Ok(note),
                // An id collision (about one in 2^53 per note): draw another.
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => continue,
                Err(other) => return Err(other),
            }
        }
    }

    /// The owner's notes after `after` (by id), at most `limit`.
    ///
    /// # Errors
    ///
    /// When the database fails or a row does not decode.
    pub async fn list(&self, owner_key: &str, after: i64, limit: u32) -> Result<Vec<StoredNote>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, owner_key, owner_name, title, body, tags, created_at FROM notes \
             WHERE owner_key = $1 AND id > $2 ORDER BY id LIMIT $3",
        )
        .bind(owner_key)
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(decode).collect()
    }

    /// The notes after `after` (by id), at most `limit`, on which `subject` holds one of
    /// `relations` (the notes shared with it): one query, the tuples' subject index joined with the
    /// notes' primary key.
    ///
    /// # Errors
    ///
    /// When the database fails or a row does not decode.
    pub async fn list_shared(
        &self,
        subject: &str,
        relations: &[&str],
        after: i64,
        limit: u32,
    ) -> Result<Vec<StoredNote>, StoreError> {
        if relations.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (0..relations.len()).map(|i| format!("${}", i + 5)).collect();
        let sql = format!(
            "SELECT id, owner_key, owner_name, title, body, tags, created_at FROM notes \
             WHERE id > $2 AND id IN (SELECT CAST(object_id AS BIGINT) FROM rampart_relations \
             WHERE subject = $1 AND object_type = $4 AND relation IN ({})) ORDER BY id LIMIT $3",
            placeholders.join(", ")
        );
        let mut query =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(subject).bind(after).bind(i64::from(limit)).bind(NOTE);
        for relation in relations {
            query = query.bind(*relation);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter().map(decode).collect()
    }

    /// Writes a changed note's title, body and tags.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn update(&self, note: &StoredNote) -> Result<(), StoreError> {
        let sealed = serde_json::to_string(&note.body).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        let tags = serde_json::to_string(&note.tags).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
        sqlx::query("UPDATE notes SET title = $1, body = $2, tags = $3 WHERE id = $4")
            .bind(&note.title)
            .bind(&sealed)
            .bind(&tags)
            .bind(note.id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The note `id`, whoever owns it.
    ///
    /// # Errors
    ///
    /// When the database fails or the row does not decode.
    pub async fn get(&self, id: i64) -> Result<Option<StoredNote>, StoreError> {
        let row =
            sqlx::query("SELECT id, owner_key, owner_name, title, body, tags, created_at FROM notes WHERE id = $1")
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.as_ref().map(decode).transpose()
    }

    /// Deletes the note `id`; whether it existed.
    ///
    /// # Errors
    ///
    /// When the database fails.
    pub async fn delete(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM notes WHERE id = $1").bind(id).execute(&self.pool).await?;
        // Its shares go with it: a later note with the same id is nobody's share.
        self.relations.forget(NOTE, &id.to_string()).await.map_err(|e| sqlx::Error::Configuration(e.0))?;
        Ok(done.rows_affected() > 0)
    }

    /// Binds every body sealed before bodies were bound to their row (`v1.` values) to its row's
    /// owner, re-sealed with the current key; returns how many. Runs once per database (it
    /// records `bodies_bound` in `notes_meta`), at start-up before serving: afterwards an
    /// unbound body is refused as an injection, never bound to the row it was copied into.
    ///
    /// # Errors
    ///
    /// When the database fails or an old body does not open with the keyring.
    pub async fn bind_unbound_bodies(&self, keyring: &Keyring) -> Result<u64, StoreError> {
        let done: Option<String> = sqlx::query_scalar("SELECT value FROM notes_meta WHERE name = 'bodies_bound'")
            .fetch_optional(&self.pool)
            .await?;
        if done.is_some() {
            return Ok(0);
        }
        let rows =
            sqlx::query("SELECT id, owner_key, body FROM notes WHERE body LIKE '\"v1.%'").fetch_all(&self.pool).await?;
        let mut bound = 0;
        for row in &rows {
            let (id, owner_key, text): (i64, String, String) =
                (row.try_get("id")?, row.try_get("owner_key")?, row.try_get("body")?);
            // Stored as a JSON string: `"v1.<kid>.<blob>"`.
            let old: Sealed<String> = serde_json::from_str(&text).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            let new = old
                .bind(keyring, &crate::handlers::body_context(&owner_key))
                .map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
            let sealed = serde_json::to_string(&new).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
            // Only if the row still holds what was read (a concurrent writer wins).
            let done = sqlx::query("UPDATE notes SET body = $1 WHERE id = $2 AND body = $3")
                .bind(&sealed)
                .bind(id)
                .bind(&text)
                .execute(&self.pool)
                .await?;
            bound += done.rows_affected();
        }
        sqlx::query("INSERT INTO notes_meta (name, value) VALUES ('bodies_bound', '1')").execute(&self.pool).await?;
        Ok(bound)
    }

    /// Waits for the connections to finish their work and closes them.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn decode(row: &AnyRow) -> Result<StoredNote, StoreError> {
    let sealed: String = row.try_get("body")?;
    let tags: String = row.try_get("tags")?;
    let body: Sealed<String> = serde_json::from_str(&sealed).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let tags: Vec<String> = serde_json::from_str(&tags).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    Ok(StoredNote {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        body,
        tags,
        owner_name: row.try_get("owner_name")?,
        owner_key: row.try_get("owner_key")?,
        created_at: row.try_get("created_at")?,
    })
}
