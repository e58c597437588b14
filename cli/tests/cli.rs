//! The `rampart` binary as users run it: exit codes, stdout/stderr separation, help for every
//! subcommand, tokens the notes service accepts, keys that work.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::process::{Command, Output};

const SECRET: &str = "cli-test-secret-0123456789abcdef-0123456789";

fn rampart(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rampart"));
    for (name, _) in std::env::vars() {
        if name.starts_with("RAMPART_") {
            command.env_remove(name);
        }
    }
    command.args(args).envs(env.iter().copied()).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn every_subcommand_has_help() {
    for sub in ["new", "audit", "token", "keygen", "openapi"] {
        let output = rampart(&[sub, "--help"], &[]);
        assert_eq!(output.status.code(), Some(0), "{sub}");
        let help = stdout(&output);
        assert!(help.contains("Usage: rampart "), "{sub}: {help}");
        assert!(output.stderr.is_empty());
    }
    let help = stdout(&rampart(&["audit", "--help"], &[]));
    for flag in ["--format", "--output", "--fail-on", "--exit-zero", "--list-rules", "--inventory"] {
        assert!(help.contains(flag), "{flag}");
    }
    let help = stdout(&rampart(&["token", "--help"], &[]));
    for flag in ["--sub", "--scope", "--role", "--ttl", "--iss", "--aud", "--claim", "--secret-env", "--secret-file"] {
        assert!(help.contains(flag), "{flag}");
    }
}

#[test]
fn usage_errors_exit_2_on_stderr() {
    for args in [&["frobnicate"][..], &["audit", "--format", "xml"], &["token"], &["keygen", "rsa"]] {
        let output = rampart(args, &[]);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?}");
        assert!(!output.stderr.is_empty(), "{args:?}");
    }
}

#[test]
fn token_goes_alone_to_stdout_and_needs_a_real_secret() {
    let output = rampart(&["token", "--sub", "alice", "--scope", "notes:read"], &[("RAMPART_JWT_SECRET", SECRET)]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let token = stdout(&output);
    assert_eq!(token.lines().count(), 1);
    assert_eq!(token.trim().split('.').count(), 3);
    assert!(output.stderr.is_empty());

    let missing = rampart(&["token", "--sub", "alice"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(missing.stdout.is_empty());
    assert!(stderr(&missing).contains("set RAMPART_JWT_SECRET"));

    let short = rampart(&["token", "--sub", "alice"], &[("RAMPART_JWT_SECRET", "short")]);
    assert_eq!(short.status.code(), Some(2));
    assert!(!stderr(&short).contains("short\n") && stderr(&short).contains("at least 32"));

    let long = rampart(&["token", "--sub", "a", "--ttl", "25h"], &[("RAMPART_JWT_SECRET", SECRET)]);
    assert_eq!(long.status.code(), Some(2));
    assert!(stderr(&long).contains("24h"));

    let reserved = rampart(&["token", "--sub", "a", "--claim", "exp=1"], &[("RAMPART_JWT_SECRET", SECRET)]);
    assert_eq!(reserved.status.code(), Some(2));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let from_file = rampart(&["token", "--sub", "a", "--secret-file", file.to_str().unwrap()], &[]);
    assert_eq!(from_file.status.code(), Some(0), "{}", stderr(&from_file));
}

#[tokio::test]
async fn a_token_from_the_cli_is_accepted_by_the_notes_service() {
    use tower::ServiceExt as _;
    let output = rampart(
        &["token", "--sub", "cli-user", "--scope", "notes:read notes:write", "--claim", "tenant=\"acme\""],
        &[("RAMPART_JWT_SECRET", SECRET)],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let token = stdout(&output).trim().to_owned();
    let config =
        rampart::config::Config::from_lookup(|name| (name == "RAMPART_JWT_SECRET").then(|| SECRET.to_owned())).unwrap();
    let store = notes::NoteStore::connect("sqlite::memory:").await.unwrap();
    let app = notes::app(&config, store).unwrap();
    let request = axum::http::Request::post("/notes")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(r#"{"title":"from the cli"}"#))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), 201);
    // The same token signed with another secret is refused.
    let other = rampart(
        &["token", "--sub", "cli-user"],
        &[("RAMPART_JWT_SECRET", "another-secret-0123456789abcdef-0123456789")],
    );
    let request = axum::http::Request::get("/notes")
        .header("authorization", format!("Bearer {}", stdout(&other).trim()))
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(request).await.unwrap().status(), 401);
}

#[test]
fn keygen_writes_private_files_that_work() {
    use std::os::unix::fs::PermissionsExt as _;
    let secret = rampart(&["keygen", "hs256"], &[]);
    assert_eq!(secret.status.code(), Some(0));
    assert_eq!(stdout(&secret).trim().len(), 64);
    let seal = stdout(&rampart(&["keygen", "seal"], &[]));
    assert!(rampart::crypto::Keyring::from_spec(seal.trim()).is_ok(), "{seal}");

    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    for kind in ["es256", "ed25519", "tls"] {
        let output = rampart(&["keygen", kind, "--out", out], &[]);
        assert_eq!(output.status.code(), Some(0), "{kind}: {}", stderr(&output));
    }
    for file in [
        "es256-private.pem",
        "es256-public.pem",
        "ed25519-private.pem",
        "ed25519-public.pem",
        "tls-cert.pem",
        "tls-key.pem",
    ] {
        let mode = std::fs::metadata(dir.path().join(file)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file}");
    }
    // Never overwrites.
    let again = rampart(&["keygen", "es256", "--out", out], &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(stderr(&again).contains("must not exist"));
    // Key pairs need a directory.
    assert_eq!(rampart(&["keygen", "es256"], &[]).status.code(), Some(2));

    // The ES256 pair signs a token that Rampart's verifier accepts with the public half.
    let private = std::fs::read(dir.path().join("es256-private.pem")).unwrap();
    let public = std::fs::read(dir.path().join("es256-public.pem")).unwrap();
    let key = rampart::auth::VerificationKey::from_pem(rampart::auth::Algorithm::ES256, &public).unwrap();
    let _ = key;
    let encoding = jsonwebtoken::EncodingKey::from_ec_pem(&private).unwrap();
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        &serde_json::json!({"sub": "k", "exp": 4_000_000_000u64}),
        &encoding,
    )
    .unwrap();
    let decoding = jsonwebtoken::DecodingKey::from_ec_pem(&public).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.required_spec_claims.clear();
    assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).is_ok());

    // The TLS pair is what the service loads.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime
        .block_on(rampart::tls::load_pem_files(&dir.path().join("tls-cert.pem"), &dir.path().join("tls-key.pem")))
        .unwrap();
}

#[test]
fn new_refuses_bad_names_and_non_empty_directories() {
    let dir = tempfile::tempdir().unwrap();
    let bad = rampart(&["new", "Bad Name", "--path", dir.path().join("x").to_str().unwrap()], &[]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("not a valid crate name"));

    std::fs::write(dir.path().join("existing.txt"), "keep me").unwrap();
    let target = dir.path().to_str().unwrap();
    let refused = rampart(&["new", "svc", "--path", target], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--force"));

    let dry = rampart(&["new", "svc", "--path", dir.path().join("dry").to_str().unwrap(), "--dry-run"], &[]);
    assert_eq!(dry.status.code(), Some(0));
    assert!(stdout(&dry).contains("Cargo.toml"));
    assert!(!dir.path().join("dry").exists(), "a dry run writes nothing");
}

#[test]
fn colors_only_on_a_terminal_and_never_with_no_color() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/violations");
    let command = format!("{} audit {fixture}", env!("CARGO_BIN_EXE_rampart"));
    // `script` runs the command on a pseudo-terminal.
    let on_tty = |no_color: Option<&str>| {
        let mut script = Command::new("script");
        script.args(["-qec", &command, "/dev/null"]).env_remove("NO_COLOR");
        if let Some(value) = no_color {
            script.env("NO_COLOR", value);
        }
        let output = script.output().expect("util-linux `script`");
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert!(on_tty(None).contains("\x1b[1;31merror\x1b[0m"), "colored on a terminal");
    assert!(!on_tty(Some("1")).contains('\x1b'), "NO_COLOR turns color off");
}

/// `rampart ... | head`: the reader closes the pipe before the command writes.
#[test]
fn a_closed_pipe_on_stdout_is_not_an_error() {
    // The command's own code: 0 for a listing, 1 for findings.
    for (args, code) in [(["audit", "--list-rules"], 0), (["audit", "tests/fixtures/violations"], 1)] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let output = Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).stdout(writer).output().unwrap();
        assert_eq!(output.status.code(), Some(code), "{args:?}: {}", stderr(&output));
        assert!(!stderr(&output).contains("error"), "{args:?}: {}", stderr(&output));
    }
}

#[tokio::test]
async fn an_api_key_from_keygen_is_accepted_by_the_notes_service_through_its_entry() {
    use tower::ServiceExt as _;
    let output = rampart(&["keygen", "api-key", "--id", "reporting", "--scopes", "notes:read"], &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let printed = stdout(&output);
    let key = printed.lines().next().unwrap().rsplit(": ").next().unwrap().to_owned();
    let entry = printed.lines().nth(1).unwrap().rsplit(": ").next().unwrap().to_owned();
    assert_eq!(key.len(), 43);
    assert!(entry.starts_with("reporting:") && entry.ends_with(":notes:read"), "{entry}");
    assert!(!entry.contains(&key), "the entry holds the hash, not the key");
    let vars = [("RAMPART_JWT_SECRET", SECRET.to_owned()), ("RAMPART_API_KEYS", entry)];
    let config =
        rampart::config::Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone()))
            .unwrap();
    let app = notes::app(&config, notes::NoteStore::connect("sqlite::memory:").await.unwrap()).unwrap();
    let call = |key: &str| {
        axum::http::Request::get("/notes").header("x-api-key", key).body(axum::body::Body::empty()).unwrap()
    };
    assert_eq!(app.clone().oneshot(call(&key)).await.unwrap().status(), 200);
    assert_eq!(app.oneshot(call("not-the-key-0123456789abcdef0123456789abc")).await.unwrap().status(), 401);
    // Roles follow a `|`; a role list that would break the entry is refused.
    let operator =
        rampart(&["keygen", "api-key", "--id", "ops", "--scopes", "notes:read", "--roles", "admin ops"], &[]);
    assert_eq!(operator.status.code(), Some(0), "{}", stderr(&operator));
    let entry = stdout(&operator).lines().nth(1).unwrap().rsplit(": ").next().unwrap().to_owned();
    assert!(entry.starts_with("ops:") && entry.ends_with(":notes:read|admin ops"), "{entry}");
    let broken = rampart(&["keygen", "api-key", "--id", "ops", "--roles", "admin|root"], &[]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(stderr(&broken).contains("roles cannot contain `|`"), "{}", stderr(&broken));
    // Without an id, the command says what to add.
    let missing = rampart(&["keygen", "api-key"], &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("add --id NAME"), "{}", stderr(&missing));
}
