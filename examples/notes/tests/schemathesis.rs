//! Schemathesis (from PyPI; `.ci/run` installs it) against the running notes binary's
//! `/openapi.json`: every phase (examples, coverage, fuzzing, stateful) and every check, with a
//! valid token minted per request by `schemathesis/hooks.py`. The run must find nothing — no 5xx,
//! no undocumented status, no body, header or content type that contradicts the document, no
//! request accepted without valid credentials — over at least 1,000 generated requests.
//! Settings: `schemathesis/schemathesis.toml`. The output is kept in
//! `target/tmp/schemathesis/output.txt` (with a JUnit report next to it).
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

mod support;

use std::path::Path;
use std::process::Command;

use support::Service;

const SECRET: &str = "schemathesis-secret-0123456789abcdef0123";
/// Examples per operation and phase: enough for well over 1,000 requests in under a minute.
const MAX_EXAMPLES: &str = "200";

/// `N` from schemathesis's summary line `N generated, ...`.
fn generated(output: &str) -> Option<u64> {
    output.lines().find_map(|line| line.trim().split_once(" generated")?.0.trim().parse().ok())
}

#[test]
fn schemathesis_finds_no_contract_violation() {
    let clients = "st-client:st-client-secret-0123456789:notes:read notes:write";
    // Schemathesis sends deliberate credential failures (ignored_auth, negative cases), all from
    // 127.0.0.1: with the lockout on, the address is soon locked and most operations answer only
    // 429 (documented, and tested so in a first run). The lockout has its own tests
    // (tests/lockout.rs); here it is off so that the API behind it is what gets tested.
    let service = Service::start(&[
        ("RAMPART_JWT_SECRET", SECRET),
        ("RAMPART_OAUTH_CLIENTS", clients),
        ("RAMPART_LOCKOUT_AUTHN_FAILURES", "0"),
        ("RAMPART_LOCKOUT_AUTHZ_FAILURES", "0"),
    ]);
    let here = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis");
    let out_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("schemathesis");
    std::fs::create_dir_all(&out_dir).unwrap();

    // `timeout` bounds the whole run (schemathesis's own --max-time would instead repeat fuzzing
    // until the budget is spent).
    let run = Command::new("timeout")
        .args(["600", "st", "--config-file"])
        .arg(here.join("schemathesis.toml"))
        .args(["--no-color", "run", &format!("http://{}/openapi.json", service.addr)])
        .args(["--checks", "all", "--max-examples", MAX_EXAMPLES, "--workers", "1"])
        .args(["--report", "junit", "--report-dir"])
        .arg(&out_dir)
        .current_dir(&out_dir) // schemathesis keeps its cache in the working directory
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", &here)
        .env("NOTES_JWT_SECRET", SECRET)
        .output()
        .unwrap_or_else(|e| panic!("`st` does not run ({e}): `pip install schemathesis` (.ci/run does)"));
    let output = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    std::fs::write(out_dir.join("output.txt"), &output).unwrap();

    assert!(run.status.success(), "schemathesis found problems:\n{output}");
    let count = generated(&output).unwrap_or_else(|| panic!("no summary in:\n{output}"));
    assert!(count >= 1_000, "only {count} requests were generated:\n{output}");
    eprintln!("schemathesis: {count} generated requests, no failure");
}

#[test]
fn the_summary_parser_reads_schemathesis_output() {
    assert_eq!(generated("Test cases:\n  1065 generated, 1065 passed, 9 skipped\n"), Some(1065));
    assert_eq!(generated("no summary"), None);
}
