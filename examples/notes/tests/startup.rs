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

/// Starts the binary with its defaults in `workdir`: its address and the printed dev token.
fn start_with_defaults(workdir: &std::path::Path) -> (std::process::Child, String, String) {
    let mut child = notes()
        .env("RAMPART_ADDR", "127.0.0.1:0")
        .current_dir(workdir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut token = None;
    let mut addr = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with("eyJ") {
            token = Some(line);
        } else if let Some(rest) = line.strip_prefix("notes listening on http://") {
            addr = Some(rest.to_owned());
            break;
        }
    }
    let (token, addr) = (token.expect("a dev token"), addr.expect("a listening line"));
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr, token)
}

#[test]
fn starts_with_defaults_and_prints_a_working_dev_token() {
    let workdir = tempfile::tempdir().unwrap();
    let (mut child, addr, token) = start_with_defaults(workdir.path());
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
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(with_token, 200);
    assert_eq!(without, 401);
    assert!(workdir.path().join("notes.db").is_file(), "the default SQLite database is created on start");
    assert!(workdir.path().join("notes.db.seal-key").is_file(), "the dev seal key is kept next to it");

    // A second run (new dev token, same dev user) still reads what the first one sealed.
    let (mut child, addr, token) = start_with_defaults(workdir.path());
    let id = created["id"].as_i64().unwrap();
    let note: serde_json::Value = runtime.block_on(async {
        let reply = client.get(format!("http://{addr}/notes/{id}")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(reply.status(), 200);
        reply.json().await.unwrap()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(note["body"], "across restarts");
}
