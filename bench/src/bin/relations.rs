//! Relation checks and filtered lists over 100,000 tuples in SQLite (the notes service's store):
//! what one `GET /notes/{id}` by a viewer and one `GET /notes?shared=true` cost in the database,
//! each one query, against the plain owner list as the baseline measured in the same run.
//!
//!   cargo run -p bench --release --bin relations [TUPLES] [ROUNDS]
//!
//! 20,000 notes by 1,000 owners; each note shared with 5 of 1,000 other users (100,000 tuples,
//! about 100 per user). Every round times, in turn, 200 random checks (half of them hits), 200
//! shared lists and 200 own lists of 21 rows; the figures are per operation, p50 and p99 over all
//! rounds, and the paired per-round ratio of the shared list to the own list. The query plans are
//! printed first: each query is one indexed search (no scan of either table).

use std::time::{Duration, Instant};

use notes::{NOTE, NoteStore, StoredNote};
use rampart::authz::Relations as _;
use rampart::crypto::{Keyring, SealContext, Sealed};
use sqlx::Row as _;

const NOTES: i64 = 20_000;
const OWNERS: i64 = 1_000;
const USERS: i64 = 1_000;
const SHARES_PER_NOTE: i64 = 5;
const PER_ROUND: usize = 200;

/// A deterministic generator (xorshift), so that every run builds the same data.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: i64) -> i64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as i64
    }
}

fn owner(n: i64) -> String {
    format!("jwt:https://issuer.test#owner-{n}")
}

fn reader(n: i64) -> String {
    format!("jwt:https://issuer.test#user-{n}")
}

async fn fill(store: &NoteStore, tuples: i64) -> anyhow::Result<()> {
    let keyring = Keyring::generate("bench");
    let body = Sealed::seal_bound(&keyring, &"plans".to_owned(), &SealContext::new("notes", "body", "x"))?;
    let body = serde_json::to_string(&body)?;
    let pool = store.relations().pool();
    let mut tx = pool.begin().await?;
    for id in 1..=NOTES {
        sqlx::query(
            "INSERT INTO notes (id, owner_key, owner_name, title, body, tags, created_at) VALUES ($1, $2, $3, $4, $5, '[]', 0)",
        )
        .bind(id)
        .bind(owner(id % OWNERS))
        .bind(format!("owner-{}", id % OWNERS))
        .bind(format!("note {id}"))
        .bind(&body)
        .execute(&mut *tx)
        .await?;
    }
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut written = 0;
    while written < tuples {
        let id = 1 + rng.below(NOTES);
        for _ in 0..SHARES_PER_NOTE.min(tuples - written) {
            let relation = if rng.below(4) == 0 { "editor" } else { "viewer" };
            let done = sqlx::query(
                "INSERT INTO rampart_relations (object_type, object_id, relation, subject) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(NOTE)
            .bind(id.to_string())
            .bind(relation)
            .bind(reader(rng.below(USERS)))
            .execute(&mut *tx)
            .await?;
            written += i64::try_from(done.rows_affected())?;
        }
    }
    tx.commit().await?;
    sqlx::query("ANALYZE").execute(pool).await?;
    Ok(())
}

async fn plan(store: &NoteStore, sql: &str) -> anyhow::Result<Vec<String>> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
        .fetch_all(store.relations().pool())
        .await?;
    rows.iter().map(|row| Ok(row.try_get::<String, _>("detail")?)).collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let tuples: i64 = args.get(1).map_or(Ok(100_000), |a| a.parse())?;
    let rounds: usize = args.get(2).map_or(Ok(20), |a| a.parse())?;
    let store = NoteStore::connect("sqlite::memory:").await?;
    let started = Instant::now();
    fill(&store, tuples).await?;
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM rampart_relations").fetch_one(store.relations().pool()).await?;
    println!("{count} tuples over {NOTES} notes, filled in {:.1} s", started.elapsed().as_secs_f64());

    for (name, sql) in [
        (
            "check",
            "SELECT relation FROM rampart_relations WHERE object_type = 'note' AND object_id = '42' AND subject = 'u'",
        ),
        (
            "shared list",
            "SELECT id, owner_key, owner_name, title, body, tags, created_at FROM notes WHERE id > 0 AND id IN \
             (SELECT CAST(object_id AS BIGINT) FROM rampart_relations WHERE subject = 'u' AND object_type = 'note' \
             AND relation IN ('editor', 'viewer')) ORDER BY id LIMIT 21",
        ),
        (
            "own list",
            "SELECT id, owner_key, owner_name, title, body, tags, created_at FROM notes WHERE owner_key = 'o' AND id > 0 \
             ORDER BY id LIMIT 21",
        ),
    ] {
        println!("plan of the {name}: {}", plan(&store, sql).await?.join(" / "));
    }

    let mut rng = Rng(7);
    let (mut checks, mut shared, mut own, mut ratios) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut hits, mut rows) = (0usize, 0usize);
    for _ in 0..rounds {
        for _ in 0..PER_ROUND {
            let (id, user) = (1 + rng.below(NOTES), rng.below(USERS));
            let subject = reader(user);
            // Half the checks ask about a note the user was shared: the first it holds.
            let id = if rng.below(2) == 0 {
                store
                    .relations()
                    .objects(NOTE, &subject, &["editor", "viewer"])
                    .await?
                    .first()
                    .map_or(id, |o| o.parse().unwrap_or(id))
            } else {
                id
            };
            let at = Instant::now();
            let held = store.relations().held(NOTE, &id.to_string(), &subject).await?;
            checks.push(at.elapsed());
            hits += usize::from(!held.is_empty());
        }
        let at = Instant::now();
        for _ in 0..PER_ROUND {
            let page = store.list_shared(&reader(rng.below(USERS)), &["editor", "viewer"], 0, 21).await?;
            rows += page.len();
        }
        let shared_round = at.elapsed();
        shared.push(shared_round / PER_ROUND as u32);
        let at = Instant::now();
        for _ in 0..PER_ROUND {
            let page: Vec<StoredNote> = store.list(&owner(rng.below(OWNERS)), 0, 21).await?;
            rows += page.len();
        }
        let own_round = at.elapsed();
        own.push(own_round / PER_ROUND as u32);
        ratios.push(shared_round.as_secs_f64() / own_round.as_secs_f64());
    }
    checks.sort();
    shared.sort();
    own.sort();
    ratios.sort_by(f64::total_cmp);
    println!("| operation | p50 | p99 |");
    println!("|---|---|---|");
    println!(
        "| relation check (`held`, {:.0}% hits) | {:.1} µs | {:.1} µs |",
        100.0 * hits as f64 / checks.len() as f64,
        micros(percentile(&checks, 0.5)),
        micros(percentile(&checks, 0.99))
    );
    println!(
        "| shared list, 21 rows (`list_shared`, per round mean) | {:.1} µs | {:.1} µs |",
        micros(percentile(&shared, 0.5)),
        micros(percentile(&shared, 0.99))
    );
    println!(
        "| own list, 21 rows (`list`, baseline, per round mean) | {:.1} µs | {:.1} µs |",
        micros(percentile(&own, 0.5)),
        micros(percentile(&own, 0.99))
    );
    println!(
        "shared / own list, paired per round: median {:.2}x (min {:.2}x, max {:.2}x); {rows} rows read",
        ratios[ratios.len() / 2],
        ratios[0],
        ratios[ratios.len() - 1]
    );
    Ok(())
}
