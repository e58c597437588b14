//! The notes binary refuses a bad configuration with a message naming the variable, and starts
//! with embedded defaults, printing a dev token that its own API accepts.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn notes() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_notes"));
    for (name, _) in std::env::vars() {
        if name.starts_with("RAMPART_") || name == "DATABASE_URL" {
            command.env_remove(name);
        }
    }
    command
}

#[test]
fn weak_settings_refuse_to_start_naming_the_variable() {
    let cases = [
        ("RAMPART_JWT_SECRET", "too-short-secret", "RAMPART_JWT_SECRET: the secret has 16 bytes"),
        ("RAMPART_JWT_LEEWAY", "600", "RAMPART_JWT_LEEWAY: 600 s is over the 300 s cap"),
        ("RAMPART_CORS_ORIGINS", "*", "RAMPART_CORS_ORIGINS: CORS origin `*` cannot be combined with credentials"),
        ("RAMPART_TRUSTED_PROXIES", "10.0.0.0/40", "RAMPART_TRUSTED_PROXIES: `10.0.0.0/40` is not an IP address"),
        ("RAMPART_JWKS_URL", "not a url", "RAMPART_JWKS_URL: not a URL"),
        ("RAMPART_AUDIT_LOG_KEEP", "0", "RAMPART_AUDIT_LOG_KEEP: expected a number from 1 to 1000"),
        (
            "RAMPART_AUDIT_LOG",
            "/nonexistent-dir/audit.log",
            "cannot open the audit log /nonexistent-dir/audit.log: No such file or directory (os error 2) (set RAMPART_AUDIT_LOG",
        ),
    ];
    for (name, value, expected) in cases {
        let output = notes()
            .env(name, value)
            .env("RAMPART_CORS_CREDENTIALS", "true")
            .env("RAMPART_ADDR", "127.0.0.1:0")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}={value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{name}={value}: {stderr}");
        assert!(!stderr.contains("too-short-secret"), "the secret was echoed: {stderr}");
    }
}

/// A running binary, killed on drop, and what it wrote to stderr until it listened (and for
/// `linger` after).
struct Started {
    child: std::process::Child,
    lines: Vec<String>,
}

impl Started {
    fn new(command: &mut Command, linger: Duration) -> Self {
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let (sender, receiver) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        // Keeps reading after the receiver is gone, so that the child never blocks on stderr.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let mut lines = Vec::new();
        let mut deadline = std::time::Instant::now() + Duration::from_secs(20);
        while let Ok(line) = receiver.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
            let listening = line.starts_with("notes listening on");
            lines.push(line);
            if listening {
                if linger.is_zero() {
                    break;
                }
                deadline = std::time::Instant::now() + linger;
            }
        }
        Self { child, lines }
    }

    /// Stops the binary; what it wrote.
    fn stop(mut self) -> Vec<String> {
        std::mem::take(&mut self.lines)
    }

    /// `host:port` from the listening line.
    fn addr(&self) -> String {
        let lines = &self.lines;
        lines
            .iter()
            .find_map(|l| l.strip_prefix("notes listening on http://"))
            .unwrap_or_else(|| panic!("not started: {lines:#?}"))
            .to_owned()
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the binary with its defaults in `workdir`: the process, its address and the printed
/// dev token.
fn start_with_defaults(workdir: &std::path::Path) -> (Started, String, String) {
    let started = Started::new(notes().env("RAMPART_ADDR", "127.0.0.1:0").current_dir(workdir), Duration::ZERO);
    let token = started.lines.iter().find(|l| l.starts_with("eyJ")).expect("a dev token").clone();
    let addr = started.addr();
    (started, addr, token)
}

#[test]
fn starts_with_defaults_and_prints_a_working_dev_token() {
    let workdir = tempfile::tempdir().unwrap();
    let (child, addr, token) = start_with_defaults(workdir.path());
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let (with_token, without, created) = runtime.block_on(async {
        let url = format!("http://{addr}/notes");
        let with_token = client.get(&url).bearer_auth(&token).send().await.unwrap().status();
        let without = client.get(&url).send().await.unwrap().status();
        let created: serde_json::Value = client
            .post(&url)
            .bearer_auth(&token)
            .json(&serde_json::json!({"title": "kept", "body": "across restarts"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        (with_token, without, created)
    });
    drop(child);
    assert_eq!(with_token, 200);
    assert_eq!(without, 401);
    assert!(workdir.path().join("notes.db").is_file(), "the default SQLite database is created on start");
    assert!(workdir.path().join("notes.db.seal-key").is_file(), "the dev seal key is kept next to it");

    // A second run (new dev token, same dev user) still reads what the first one sealed.
    let (child, addr, token) = start_with_defaults(workdir.path());
    let id = created["id"].as_i64().unwrap();
    let note: serde_json::Value = runtime.block_on(async {
        let reply = client.get(format!("http://{addr}/notes/{id}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        reply.json().await.unwrap()
    });
    drop(child);
    assert_eq!(note["body"], "across restarts");
}

/// Production refuses what development forgives: without DATABASE_URL the binary exits 2 and
/// names it (instead of writing a SQLite file into its working directory).
#[test]
fn production_without_a_database_url_refuses_to_start_naming_it() {
    let workdir = tempfile::tempdir().unwrap();
    let output = notes()
        .env("RAMPART_ENV", "production")
        .env("RAMPART_JWT_SECRET", "production-secret-0123456789abcdefghijkl")
        .env("RAMPART_SEAL_KEY", "prod:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")
        .env("RAMPART_ADDR", "127.0.0.1:0")
        .current_dir(workdir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("DATABASE_URL: required in production"), "{stderr}");
    assert!(!stderr.contains("production-secret"), "the secret was echoed: {stderr}");
    assert_eq!(std::fs::read_dir(workdir.path()).unwrap().count(), 0, "nothing was written");
}

/// Container secrets: every secret setting read from the file its `_FILE` twin names; the OAuth
/// client configured by the digest of its secret.
#[test]
fn secrets_are_read_from_files_and_client_secrets_may_be_digests() {
    use sha2::Digest as _;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let jwt_secret = "file-jwt-secret-0123456789abcdefghijklmno";
    let client_secret = "file-client-secret-0123456789";
    let digest: String = sha2::Sha256::digest(client_secret).iter().map(|b| format!("{b:02x}")).collect();
    let jwt_file = write("jwt", &format!("{jwt_secret}\n"));
    let clients_file = write("clients", &format!("reports:sha256-{digest}:notes:read\n"));
    let seal_file = write("seal", "file:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\n");
    let database_file = write("database", "sqlite::memory:");
    let started = Started::new(
        notes()
            .env("RAMPART_ENV", "production")
            .env("RAMPART_JWT_SECRET_FILE", &jwt_file)
            .env("RAMPART_OAUTH_CLIENTS_FILE", &clients_file)
            .env("RAMPART_SEAL_KEY_FILE", &seal_file)
            .env("DATABASE_URL_FILE", &database_file)
            .env("RAMPART_ADDR", "127.0.0.1:0")
            .env("RAMPART_METRICS_ADDR", "off"),
        Duration::ZERO,
    );
    let addr = started.addr();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let (granted, wrong, listed) = runtime.block_on(async {
        let client = reqwest::Client::new();
        let token_url = format!("http://{addr}/oauth/token");
        let granted: serde_json::Value = client
            .post(&token_url)
            .basic_auth("reports", Some(client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let wrong = client
            .post(&token_url)
            .basic_auth("reports", Some(&digest))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .await
            .unwrap()
            .status();
        let access = granted["access_token"].as_str().unwrap_or_default().to_owned();
        let listed = client.get(format!("http://{addr}/notes")).bearer_auth(&access).send().await.unwrap().status();
        (granted, wrong, listed)
    });
    let seen = started.stop();
    assert_eq!(granted["token_type"], "Bearer", "{granted}");
    assert_eq!(wrong, 401, "the digest itself is not the secret");
    assert_eq!(listed, 200, "the token signed with the file's secret verifies");
    assert!(seen.iter().all(|line| !line.contains(jwt_secret) && !line.contains(client_secret)));
}

/// Listening beyond loopback with the lockout on and no trusted proxy: a warning at start-up
/// names RAMPART_TRUSTED_PROXIES (behind a proxy every client would share its address).
#[test]
fn listening_beyond_loopback_without_trusted_proxies_warns() {
    let started = |extra: &[(&str, &str)]| {
        let mut command = notes();
        command
            .env("RAMPART_ADDR", "0.0.0.0:0")
            .env("DATABASE_URL", "sqlite::memory:")
            .env("RAMPART_METRICS_ADDR", "off")
            .envs(extra.iter().copied());
        // Everything printed until a second after the service listens.
        let started = Started::new(&mut command, Duration::from_secs(1));
        started.addr();
        started.stop()
    };
    let lines = started(&[]);
    assert!(lines.iter().any(|l| l.starts_with("warning: ") && l.contains("RAMPART_TRUSTED_PROXIES")), "{lines:#?}");
    let lines = started(&[("RAMPART_TRUSTED_PROXIES", "10.0.0.0/8")]);
    assert!(!lines.iter().any(|l| l.contains("RAMPART_TRUSTED_PROXIES")), "{lines:#?}");
}

/// A one-shot OTLP/HTTP receiver on loopback: the path and body of each request it is sent.
fn otlp_receiver() -> (std::net::SocketAddr, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                if header.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = header.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n")
                .unwrap();
            let path = request_line.split_whitespace().nth(1).unwrap_or_default().to_owned();
            if sender.send((path, body)).is_err() {
                return;
            }
        }
    });
    (address, receiver)
}

#[test]
fn request_spans_go_to_the_otlp_endpoint_the_standard_variables_name() {
    let (receiver_addr, received) = otlp_receiver();
    let workdir = tempfile::tempdir().unwrap();
    let mut command = notes();
    command
        .env("RAMPART_ADDR", "127.0.0.1:0")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", format!("http://{receiver_addr}"))
        .env("OTEL_SERVICE_NAME", "notes-under-test")
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .current_dir(workdir.path());
    let started = Started::new(&mut command, Duration::ZERO);
    let token = started.lines.iter().find(|l| l.starts_with("eyJ")).expect("a dev token").clone();
    let response = reqwest::blocking::Client::new()
        .get(format!("http://{}/notes", started.addr()))
        .bearer_auth(&token)
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);

    // Batches leave every 100 ms: the request's span arrives, named after its route, with the
    // service's name, and without the token.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let body = loop {
        let (path, body) = received
            .recv_timeout(deadline.saturating_duration_since(std::time::Instant::now()))
            .expect("an OTLP export within 15 s");
        assert_eq!(path, "/v1/traces");
        if body.windows(10).any(|w| w == b"GET /notes") {
            break body;
        }
    };
    let contains = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    assert!(contains(b"notes-under-test"));
    assert!(contains(b"rampart.decision") && contains(b"allow"));
    let signature = token.rsplit('.').next().unwrap();
    assert!(!contains(signature.as_bytes()), "the export carries the token");
    drop(started);
}

#[test]
fn a_dotenv_file_in_the_working_directory_configures_development() {
    let workdir = tempfile::tempdir().unwrap();
    std::fs::write(workdir.path().join(".env"), "# local settings\nRAMPART_JWT_ISSUER=from-dotenv\n").unwrap();
    let (_started, _addr, token) = start_with_defaults(workdir.path());
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["iss"], "from-dotenv");

    // A line that does not parse: refused, naming the file and line, not echoing it.
    std::fs::write(workdir.path().join(".env"), "RAMPART_JWT_SECRET='a-secret-never-echoed\n").unwrap();
    let output =
        notes().env("RAMPART_ADDR", "127.0.0.1:0").current_dir(workdir.path()).stdin(Stdio::null()).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(".env line 1 does not parse: write NAME=value"), "{stderr}");
    assert!(!stderr.contains("a-secret-never-echoed"), "{stderr}");
}
