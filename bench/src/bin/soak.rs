//! Soak test: mixed load for a minute against the real notes binary with the Redis rate-limit
//! backend, on loopback, then the verdict.
//!
//! ```text
//! scripts/soak                                  # build, run 15 s warm-up + 60 s, write RELIABILITY.md
//! target/release/soak --seconds 600 --no-write  # a longer run, figures on stdout only
//! ```
//!
//! The mix, over 10,000 distinct subjects: valid reads and creates, invalid tokens (garbage, a
//! wrong key, expired), a read-only token creating (wrong scope), one hot subject over its quota,
//! and invalid bodies (malformed JSON, failing validation). It passes when there is no 5xx, no
//! dropped connection, no status outside what each kind may get, the resident memory after the
//! run is within 10% of the memory after warm-up, and every audit line the service wrote is a
//! well-formed JSON event with all its fields. Needs Redis at 127.0.0.1:6379.

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};

const SECRET: &str = "soak-test-secret-0123456789abcdef-0123456789";
const ISSUER: &str = "rampart-dev";
const AUDIENCE: &str = "notes";
/// Fields every audit line carries (`subject` only when known).
const AUDIT_FIELDS: [&str; 8] = ["ts", "request_id", "method", "route", "client_ip", "decision", "reason", "status"];

struct Options {
    notes: PathBuf,
    warmup: Duration,
    run: Duration,
    connections: usize,
    subjects: usize,
    write: bool,
    postgres: bool,
}

impl Options {
    fn parse() -> Result<Self, String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut options = Options {
            notes: root.join("target/release/notes"),
            warmup: Duration::from_secs(15),
            run: Duration::from_secs(60),
            connections: 32,
            subjects: 10_000,
            write: true,
            postgres: true,
        };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            let seconds = |v: String| v.parse().map(Duration::from_secs).map_err(|e| format!("{v}: {e}"));
            match arg.as_str() {
                "--notes" => options.notes = PathBuf::from(value()?),
                "--warmup" => options.warmup = seconds(value()?)?,
                "--seconds" => options.run = seconds(value()?)?,
                "--connections" => options.connections = value()?.parse().map_err(|e| format!("--connections: {e}"))?,
                "--subjects" => options.subjects = value()?.parse().map_err(|e| format!("--subjects: {e}"))?,
                "--no-write" => options.write = false,
                "--sqlite" => options.postgres = false,
                other => return Err(format!("unknown argument {other}; see the module docs of bench/src/bin/soak.rs")),
            }
        }
        Ok(options)
    }
}

/// What one kind of request sends and may get back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    ValidRead,
    ValidCreate,
    InvalidToken,
    WrongScope,
    OverQuota,
    InvalidBody,
}

impl Kind {
    /// The mix: out of 20 requests, 8 reads, 3 creates, 3 invalid tokens, 2 wrong scopes,
    /// 2 over quota, 2 invalid bodies.
    const MIX: [Kind; 20] = {
        use Kind::*;
        [
            ValidRead,
            InvalidToken,
            ValidCreate,
            ValidRead,
            WrongScope,
            ValidRead,
            OverQuota,
            InvalidBody,
            ValidRead,
            InvalidToken,
            ValidCreate,
            ValidRead,
            WrongScope,
            ValidRead,
            OverQuota,
            InvalidBody,
            ValidRead,
            InvalidToken,
            ValidCreate,
            ValidRead,
        ]
    };

    /// Every status this kind may legitimately get. Per-subject quotas (GET 100/min, POST
    /// 10/min) may refuse any authenticated kind with 429.
    fn allowed(self) -> &'static [u16] {
        match self {
            Kind::ValidRead => &[200, 429],
            Kind::ValidCreate => &[201, 429],
            Kind::InvalidToken => &[401],
            Kind::WrongScope => &[403],
            Kind::OverQuota => &[201, 429],
            Kind::InvalidBody => &[400, 422, 429],
        }
    }
}

/// The tokens the load uses, minted before it starts.
struct Tokens {
    subjects: Vec<String>,
    read_only: Vec<String>,
    invalid: Vec<String>,
    hot: String,
}

fn mint(subject: &str, scope: &str, exp: u64, secret: &str) -> String {
    let claims = json!({"sub": subject, "iss": ISSUER, "aud": AUDIENCE, "exp": exp, "scope": scope});
    let key = EncodingKey::from_secret(secret.as_bytes()).expect("an HMAC key");
    jsonwebtoken::encode(&Header::default(), &claims, &key).expect("HS256 signs")
}

impl Tokens {
    fn new(subjects: usize) -> Self {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let exp = now + 3600;
        Tokens {
            subjects: (0..subjects)
                .map(|i| mint(&format!("soak-{i}"), "notes:read notes:write", exp, SECRET))
                .collect(),
            read_only: (0..100).map(|i| mint(&format!("reader-{i}"), "notes:read", exp, SECRET)).collect(),
            invalid: vec![
                "not-a-token".to_owned(),
                mint("soak-0", "notes:read notes:write", exp, "a-different-secret-0123456789abcdef-012"),
                mint("soak-0", "notes:read notes:write", now.saturating_sub(3600), SECRET),
                format!("{}x", mint("soak-0", "notes:read", exp, SECRET)),
            ],
            hot: mint("soak-hot", "notes:read notes:write", exp, SECRET),
        }
    }
}

/// Counts of one phase.
#[derive(Default)]
struct Tally {
    by_kind: BTreeMap<Kind, BTreeMap<u16, u64>>,
    unexpected: Vec<String>,
    dropped: u64,
    server_errors: u64,
    latencies: Vec<Duration>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (kind, statuses) in other.by_kind {
            let mine = self.by_kind.entry(kind).or_default();
            for (status, n) in statuses {
                *mine.entry(status).or_default() += n;
            }
        }
        self.unexpected.extend(other.unexpected.into_iter().take(10));
        self.dropped += other.dropped;
        self.server_errors += other.server_errors;
        self.latencies.extend(other.latencies);
    }

    fn total(&self) -> u64 {
        self.by_kind.values().flat_map(BTreeMap::values).sum()
    }
}

/// One connection's loop until `stop`.
async fn client_loop(id: usize, base: String, tokens: Arc<Tokens>, stop: Arc<AtomicBool>) -> Tally {
    let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().expect("an HTTP client");
    let mut tally = Tally::default();
    let mut i = id;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let kind = Kind::MIX[i % Kind::MIX.len()];
        let subject = (id * 7919 + i * 104_729) % tokens.subjects.len();
        let request = match kind {
            Kind::ValidRead => client.get(format!("{base}/notes")).bearer_auth(&tokens.subjects[subject]),
            Kind::ValidCreate => client
                .post(format!("{base}/notes"))
                .bearer_auth(&tokens.subjects[subject])
                .json(&json!({"title": format!("soak {i}"), "body": "a body", "tags": ["soak"]})),
            Kind::InvalidToken => {
                client.get(format!("{base}/notes")).bearer_auth(&tokens.invalid[i % tokens.invalid.len()])
            }
            Kind::WrongScope => client
                .post(format!("{base}/notes"))
                .bearer_auth(&tokens.read_only[i % tokens.read_only.len()])
                .json(&json!({"title": "no"})),
            Kind::OverQuota => {
                client.post(format!("{base}/notes")).bearer_auth(&tokens.hot).json(&json!({"title": "hot"}))
            }
            Kind::InvalidBody => {
                let request = client.post(format!("{base}/notes")).bearer_auth(&tokens.subjects[subject]);
                if (i / Kind::MIX.len()).is_multiple_of(2) {
                    request.header("content-type", "application/json").body("{\"title\": ")
                } else {
                    request.json(&json!({"title": "", "tags": ["Not A Tag!"]}))
                }
            }
        };
        let started = Instant::now();
        match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read the whole body: a connection cut mid-body is a dropped connection too.
                if let Err(err) = response.bytes().await {
                    tally.dropped += 1;
                    tally.unexpected.push(format!("{kind:?}: body cut: {err}"));
                    continue;
                }
                tally.latencies.push(started.elapsed());
                *tally.by_kind.entry(kind).or_default().entry(status).or_default() += 1;
                if status >= 500 {
                    tally.server_errors += 1;
                }
                if !kind.allowed().contains(&status) && tally.unexpected.len() < 10 {
                    tally.unexpected.push(format!("{kind:?} got {status}"));
                }
            }
            Err(err) => {
                tally.dropped += 1;
                if tally.unexpected.len() < 10 {
                    tally.unexpected.push(format!("{kind:?}: {err}"));
                }
            }
        }
    }
    tally
}

/// Drives `connections` loops for `length`.
async fn phase(base: &str, tokens: &Arc<Tokens>, connections: usize, length: Duration) -> Tally {
    let stop = Arc::new(AtomicBool::new(false));
    let loops: Vec<_> = (0..connections)
        .map(|id| tokio::spawn(client_loop(id, base.to_owned(), Arc::clone(tokens), Arc::clone(&stop))))
        .collect();
    tokio::time::sleep(length).await;
    stop.store(true, Ordering::Relaxed);
    let mut tally = Tally::default();
    for handle in loops {
        tally.merge(handle.await.expect("a client loop never panics"));
    }
    tally
}

/// The audit lines the service wrote, checked as they arrive.
#[derive(Default)]
struct AuditLog {
    events: u64,
    other_json: u64,
    malformed: Vec<String>,
}

impl AuditLog {
    fn read(&mut self, line: &str) {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            self.malformed.push(line.chars().take(200).collect());
            return;
        };
        if value["target"] != "rampart::audit" {
            self.other_json += 1;
            return;
        }
        let missing: Vec<&str> = AUDIT_FIELDS.iter().copied().filter(|f| value.get(*f).is_none()).collect();
        let status_ok = value["status"].as_u64().is_some_and(|s| (100..600).contains(&s));
        if missing.is_empty() && status_ok {
            self.events += 1;
        } else {
            self.malformed.push(format!("missing {missing:?}: {}", line.chars().take(200).collect::<String>()));
        }
    }
}

/// The notes binary, with its stderr checked line by line on a thread.
struct Service {
    child: Child,
    base: String,
    audit: Arc<Mutex<AuditLog>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    fn start(notes: &PathBuf, database_url: &str) -> Result<Self, String> {
        let mut command = Command::new(notes);
        for (name, _) in std::env::vars() {
            if name.starts_with("RAMPART_") || name == "DATABASE_URL" || name == "RUST_LOG" {
                command.env_remove(name);
            }
        }
        let mut child = command
            .env("RAMPART_ADDR", "127.0.0.1:0")
            .env("RAMPART_JWT_SECRET", SECRET)
            .env("RAMPART_RATE_LIMIT", "redis://127.0.0.1:6379")
            .env("RAMPART_RATE_LIMIT_PREFIX", format!("soak-{}", std::process::id()))
            // Every request comes from 127.0.0.1 and 15% carry a bad token: with the lockout on,
            // the address would be locked within a second and the mix would measure 429s. The
            // lockout has its own tests (examples/notes/tests/lockout.rs).
            .env("RAMPART_LOCKOUT_AUTHN_FAILURES", "0")
            .env("RAMPART_LOCKOUT_AUTHZ_FAILURES", "0")
            .env("DATABASE_URL", database_url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{}: {e} (build it: cargo build --release -p notes)", notes.display()))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let mut lines = BufReader::new(stderr).lines();
        let base = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("notes listening on ").map(str::to_owned))
            .ok_or("the service did not start; run it by hand to see why")?;
        let audit = Arc::new(Mutex::new(AuditLog::default()));
        let sink = Arc::clone(&audit);
        let reader = std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if line == "notes stopped" {
                    continue;
                }
                sink.lock().expect("the audit log lock").read(&line);
            }
        });
        Ok(Service { child, base, audit, reader: Some(reader) })
    }

    fn resident_bytes(&self) -> u64 {
        resident_bytes_of(self.child.id())
    }

    /// SIGTERM, then the exit status and the audit log (complete once stderr is closed).
    fn stop(mut self) -> (bool, AuditLog) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let clean = self.child.wait().is_ok_and(|s| s.success());
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let log = std::mem::take(&mut *self.audit.lock().expect("the audit log lock"));
        (clean, log)
    }
}

/// PostgreSQL at 127.0.0.1:5432 (database `test`, user `postgres`): a schema of its own, dropped
/// at the end.
const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

/// A schema made for one soak run.
struct Schema(String);

impl Schema {
    fn create() -> Result<Self, String> {
        let name = format!("soak_{}", std::process::id());
        psql(&format!("CREATE SCHEMA {name}"))?;
        Ok(Schema(name))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = psql(&format!("DROP SCHEMA {} CASCADE", self.0));
    }
}

fn psql(sql: &str) -> Result<(), String> {
    let status = Command::new("psql")
        .args(["-q", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-c", sql])
        .stdout(Stdio::null())
        .status()
        .map_err(|e| format!("psql: {e} (the soak test needs PostgreSQL's client and server, or --sqlite)"))?;
    if status.success() { Ok(()) } else { Err(format!("psql failed on `{sql}`: is PostgreSQL at 127.0.0.1:5432?")) }
}

/// Where the service keeps its notes.
enum Database {
    Postgres(Schema),
    Sqlite(String),
}

impl Database {
    fn url(&self) -> String {
        match self {
            Database::Postgres(schema) => format!("{POSTGRES}?options=-c%20search_path%3D{}", schema.0),
            Database::Sqlite(url) => url.clone(),
        }
    }

    fn describe(&self) -> &'static str {
        match self {
            Database::Postgres(_) => "PostgreSQL",
            Database::Sqlite(_) => "SQLite file",
        }
    }
}

/// `VmRSS` of process `pid`, in bytes.
fn resident_bytes_of(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    kb * 1024
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() -> ExitCode {
    let options = match Options::parse() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    if std::net::TcpStream::connect_timeout(&"127.0.0.1:6379".parse().expect("an address"), Duration::from_secs(1))
        .is_err()
    {
        eprintln!("error: the soak test needs Redis at 127.0.0.1:6379");
        return ExitCode::from(2);
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = if options.postgres {
        match Schema::create() {
            Ok(schema) => Database::Postgres(schema),
            Err(message) => {
                eprintln!("error: {message}");
                return ExitCode::from(2);
            }
        }
    } else {
        Database::Sqlite(format!("sqlite://{}/soak.db?mode=rwc", dir.path().display()))
    };
    let service = match Service::start(&options.notes, &database.url()) {
        Ok(service) => service,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    assert!(service.base.starts_with("http://127.0.0.1:"), "load goes to loopback only");
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    let tokens = Arc::new(Tokens::new(options.subjects));

    println!(
        "warm-up: {} s, {} connections, {} subjects",
        options.warmup.as_secs(),
        options.connections,
        options.subjects
    );
    let warm = runtime.block_on(phase(&service.base, &tokens, options.connections, options.warmup));
    let rss_warm = service.resident_bytes();
    println!("run: {} s", options.run.as_secs());
    let started = Instant::now();
    // Resident memory every 5 s of the run: a bounded cache levels off, a leak keeps climbing.
    let samples = Arc::new(Mutex::new(Vec::new()));
    let sampler = {
        let (samples, pid, run) = (Arc::clone(&samples), service.child.id(), options.run);
        std::thread::spawn(move || {
            let deadline = Instant::now() + run;
            while Instant::now() + Duration::from_secs(5) <= deadline {
                std::thread::sleep(Duration::from_secs(5));
                samples.lock().expect("the samples lock").push(resident_bytes_of(pid));
            }
        })
    };
    let mut main = runtime.block_on(phase(&service.base, &tokens, options.connections, options.run));
    let elapsed = started.elapsed();
    let _ = sampler.join();
    let series: Vec<String> =
        samples.lock().expect("the samples lock").iter().map(|b| format!("{:.1}", bench::mb(*b))).collect();
    std::thread::sleep(Duration::from_secs(1));
    let rss_after = service.resident_bytes();
    let (clean_exit, audit) = service.stop();

    let mut all = Tally::default();
    all.merge(warm);
    let main_total = main.total();
    main.latencies.sort_unstable();
    let (p50, p99) = (percentile(&main.latencies, 0.50), percentile(&main.latencies, 0.99));
    let main_dropped = main.dropped;
    all.merge(main);
    let growth = rss_after as f64 / rss_warm.max(1) as f64;

    let mut failures = Vec::new();
    if all.server_errors > 0 {
        failures.push(format!("{} responses were 5xx", all.server_errors));
    }
    if all.dropped > 0 {
        failures.push(format!("{} connections were dropped", all.dropped));
    }
    if !all.unexpected.is_empty() {
        failures.push(format!("unexpected answers: {:?}", all.unexpected));
    }
    if growth > 1.10 {
        failures.push(format!("resident memory grew {:.1}% after warm-up", (growth - 1.0) * 100.0));
    }
    if !audit.malformed.is_empty() {
        failures.push(format!("{} malformed audit lines, first: {:?}", audit.malformed.len(), audit.malformed[0]));
    }
    if audit.events == 0 {
        failures.push("no audit event was written".to_owned());
    }
    if !clean_exit {
        failures.push("the service did not exit cleanly on SIGTERM".to_owned());
    }

    let mut statuses = String::new();
    for (kind, counts) in &all.by_kind {
        let counts: Vec<String> = counts.iter().map(|(s, n)| format!("{s}: {n}")).collect();
        statuses.push_str(&format!("| {kind:?} | {} |\n", counts.join(", ")));
    }
    let verdict =
        if failures.is_empty() { "**passed**".to_owned() } else { format!("**failed**: {}", failures.join("; ")) };
    let report = format!(
        "Run on {date} with `scripts/soak` ({warmup} s warm-up, then {run} s; {connections} connections; \
         {subjects} subjects; notes binary in release mode, Redis rate-limit backend, {database} database; \
         client and server share the machine's 2 cores).\n\n\
         | figure | value |\n|---|---|\n\
         | requests in the measured run | {main_total} ({rps:.0} req/s) |\n\
         | latency p50 / p99 (measured run) | {p50:.2} ms / {p99:.2} ms |\n\
         | 5xx responses | {server_errors} |\n\
         | dropped connections | {dropped} (measured run: {main_dropped}) |\n\
         | resident memory after warm-up / after the run | {warm_mb:.1} MiB / {after_mb:.1} MiB ({growth:+.1}%) |\n\
         | resident memory every 5 s of the run (MiB) | {series} |\n\
         | audit events (all well-formed JSON with every field) | {events} (malformed: {malformed}) |\n\
         | exit on SIGTERM | {exit} |\n\n\
         Statuses by kind of request (warm-up and run):\n\n| kind | statuses |\n|---|---|\n{statuses}\n\
         Verdict: {verdict}.\n",
        date = bench::today(),
        database = database.describe(),
        warmup = options.warmup.as_secs(),
        run = options.run.as_secs(),
        connections = options.connections,
        subjects = options.subjects,
        rps = main_total as f64 / elapsed.as_secs_f64(),
        p50 = p50.as_secs_f64() * 1000.0,
        p99 = p99.as_secs_f64() * 1000.0,
        server_errors = all.server_errors,
        dropped = all.dropped,
        warm_mb = bench::mb(rss_warm),
        after_mb = bench::mb(rss_after),
        growth = (growth - 1.0) * 100.0,
        series = series.join(", "),
        events = audit.events,
        malformed = audit.malformed.len(),
        exit = if clean_exit { "clean (status 0)" } else { "not clean" },
    );
    println!("\n{report}");
    if options.write {
        bench::write_section_in("RELIABILITY.md", "soak", &report);
    }
    if failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
