//! `rampart review` on a git repository the test builds: one commit per kind of change, each
//! reviewed against its parent through the real binary; the verdicts, the exit codes (0 nothing
//! loosened or all accepted, 1 a loosening not accepted, 2 a usage error), an acceptance with and
//! without a reason, the markdown a pull request gets, and SARIF validated against the 2.1.0
//! schema.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn rampart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).output().unwrap()
}

fn git(dir: &Path, args: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=review-test", "-c", "user.email=review@test.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(status.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&status.stderr));
}

const BASE: &str = r#"use rampart::prelude::*;

/// List notes.
#[secure(get, path = "/notes", scope = "notes:read", rate = "100/min")]
pub async fn list_notes() -> &'static str {
    "[]"
}

/// Create a note.
#[secure(post, path = "/notes", scope = ["notes:write", "notes:read"], rate = "10/min", burst = 10, body_limit = "64KiB")]
pub async fn create_note(Json(body): Json<NewNote>) -> String {
    body.title
}

/// Read a note.
#[secure(get, path = "/notes/{id}", scope = "notes:read", load = load_note, relation = "note#viewer", rate = "100/min")]
pub async fn get_note(note: Checked<Note>, Path(_id): Path<i64>) -> String {
    note.title.clone()
}

/// Health.
#[public(get, path = "/health", reason = "probed by the load balancer", rate = "60/min")]
pub async fn health() -> &'static str {
    "ok"
}
"#;

const REGISTRY: &str = r#"roles = ["admin"]

[scopes]
"notes:read" = "Read notes"
"notes:write" = "Write notes"

[relations.note]
owner = []
editor = ["owner"]
viewer = ["editor"]
"#;

struct Repo {
    dir: tempfile::TempDir,
    source: String,
}

impl Repo {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("Cargo.toml"), "[package]\nname = \"svc\"\nversion = \"0.1.0\"\n").unwrap();
        std::fs::write(dir.path().join("rampart.toml"), REGISTRY).unwrap();
        std::fs::write(dir.path().join(".gitignore"), ".env\ntarget/\n").unwrap();
        std::fs::write(dir.path().join("deny.toml"), "").unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), BASE).unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        git(dir.path(), &["add", "-A"]);
        git(dir.path(), &["commit", "-q", "-m", "base"]);
        Self { dir, source: BASE.to_owned() }
    }

    fn path(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// Commits `source` with `from` replaced by `to` (which must be there).
    fn change(&mut self, from: &str, to: &str) {
        assert!(self.source.contains(from), "{from}");
        self.source = self.source.replacen(from, to, 1);
        std::fs::write(self.dir.path().join("src/lib.rs"), &self.source).unwrap();
        git(self.dir.path(), &["commit", "-q", "-am", "change"]);
    }

    /// The review of the last commit: exit code and the JSON envelope.
    fn review(&self) -> (i32, Value) {
        let output = rampart(&["review", self.path(), "--base", "HEAD~1", "--head", "HEAD", "--format", "json"]);
        assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
        (output.status.code().unwrap(), serde_json::from_slice(&output.stdout).unwrap())
    }

    fn output(&self, base: &str, format: &str) -> (i32, String) {
        let output = rampart(&["review", self.path(), "--base", base, "--head", "HEAD", "--format", format]);
        (output.status.code().unwrap(), String::from_utf8(output.stdout).unwrap())
    }
}

/// Compares the review of the last commit, in every format, with `tests/review/NAME.*`
/// (`RAMPART_SNAPSHOTS=overwrite` writes them instead).
fn snapshot(repo: &Repo, name: &str) {
    snapshot_between(repo, name, "HEAD~1");
}

/// [`snapshot`] of the change from `base` to the last commit.
fn snapshot_between(repo: &Repo, name: &str, base: &str) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/review");
    for (format, extension) in
        [("text", "txt"), ("markdown", "md"), ("json", "json"), ("sarif", "sarif"), ("github", "github")]
    {
        let (_, output) = repo.output(base, format);
        let file = dir.join(format!("{name}.{extension}"));
        if std::env::var_os("RAMPART_SNAPSHOTS").is_some_and(|v| v == "overwrite") {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&file, &output).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("{}: {e} (RAMPART_SNAPSHOTS=overwrite writes it)", file.display()));
        assert_eq!(output, expected, "{} differs (RAMPART_SNAPSHOTS=overwrite rewrites it)", file.display());
    }
}

/// The (rule, effect, accepted) of each change.
fn verdicts(review: &Value) -> Vec<(String, String, bool)> {
    review["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (c["rule"].as_str().unwrap().to_owned(), c["effect"].as_str().unwrap().to_owned(), !c["accepted"].is_null())
        })
        .collect()
}

fn one(rule: &str, effect: &str) -> Vec<(String, String, bool)> {
    vec![(rule.to_owned(), effect.to_owned(), false)]
}

#[test]
fn each_kind_of_change_has_its_rule_and_verdict() {
    let mut repo = Repo::new();
    let cases: &[(&str, &str, &str, &str, &str, i32)] = &[
        // (snapshot, from, to, rule, effect, exit code)
        (
            "scope-removed",
            "scope = [\"notes:write\", \"notes:read\"]",
            "scope = \"notes:write\"",
            "REVIEW005",
            "loosens",
            1,
        ),
        (
            "role-added",
            "scope = \"notes:write\", rate",
            "scope = \"notes:write\", role = \"admin\", rate",
            "REVIEW006",
            "info",
            0,
        ),
        (
            "alternative-added",
            "role = \"admin\", rate",
            "any(role = \"admin\", scope = \"notes:read\"), rate",
            "REVIEW005",
            "loosens",
            1,
        ),
        ("rate-raised", "rate = \"10/min\"", "rate = \"100/min\"", "REVIEW007", "loosens", 1),
        ("rate-lowered", "rate = \"100/min\", burst", "rate = \"5/min\", burst", "REVIEW008", "info", 0),
        ("burst-raised", "burst = 10", "burst = 50", "REVIEW007", "loosens", 1),
        ("body-limit-raised", "body_limit = \"64KiB\"", "body_limit = \"1MiB\"", "REVIEW007", "loosens", 1),
        (
            "validation-off",
            "body_limit = \"1MiB\")]",
            "body_limit = \"1MiB\", validate = false)]",
            "REVIEW007",
            "loosens",
            1,
        ),
        ("relation-narrowed", "relation = \"note#viewer\"", "relation = \"note#editor\"", "REVIEW009", "info", 0),
        ("relation-widened", "relation = \"note#editor\"", "relation = \"note#viewer\"", "REVIEW009", "loosens", 1),
        (
            "relation-removed",
            "load = load_note, relation = \"note#viewer\", rate = \"100/min\")]\npub async fn get_note(note: Checked<Note>",
            "rate = \"100/min\")]\npub async fn get_note(note: State<Note>",
            "REVIEW009",
            "loosens",
            1,
        ),
        (
            "rate-removed",
            ", rate = \"60/min\")]\npub async fn health",
            ")]\npub async fn health",
            "REVIEW007",
            "loosens",
            1,
        ),
        (
            "public-reason-changed",
            "reason = \"probed by the load balancer\"",
            "reason = \"probed by the orchestrator\"",
            "REVIEW004",
            "info",
            0,
        ),
        (
            "dpop-required",
            "scope = \"notes:read\", rate = \"100/min\")]\npub async fn list_notes",
            "scope = \"notes:read\", rate = \"100/min\", dpop = \"required\")]\npub async fn list_notes",
            "REVIEW006",
            "info",
            0,
        ),
        (
            "dpop-removed",
            "scope = \"notes:read\", rate = \"100/min\", dpop = \"required\")]\npub async fn list_notes",
            "scope = \"notes:read\", rate = \"100/min\")]\npub async fn list_notes",
            "REVIEW005",
            "loosens",
            1,
        ),
        (
            "auth-narrowed",
            "scope = \"notes:read\", rate = \"100/min\")]\npub async fn list_notes",
            "scope = \"notes:read\", rate = \"100/min\", auth = [\"bearer\", \"dpop\"])]\npub async fn list_notes",
            "REVIEW006",
            "info",
            0,
        ),
        (
            "auth-removed",
            ", auth = [\"bearer\", \"dpop\"])]\npub async fn list_notes",
            ")]\npub async fn list_notes",
            "REVIEW005",
            "loosens",
            1,
        ),
        (
            "made-public",
            "#[secure(get, path = \"/notes\", scope = \"notes:read\", rate = \"100/min\")]",
            "#[public(get, path = \"/notes\", reason = \"a public board\", rate = \"100/min\")]",
            "REVIEW003",
            "loosens",
            1,
        ),
    ];
    run_cases(&mut repo, cases);

    // An endpoint added (secured or public: someone may call what did not exist) and removed (info).
    repo.change(
        "/// Health.",
        "/// Export.\n#[secure(get, path = \"/export\", role = \"admin\", rate = \"1/min\")]\npub async fn export() {}\n\n/// Health.",
    );
    assert_eq!(verdicts(&repo.review().1), one("REVIEW001", "loosens"));
    snapshot(&repo, "secure-endpoint-added");
    repo.change(
        "/// Health.",
        "/// Status.\n#[public(get, path = \"/status\", reason = \"status page\", rate = \"60/min\")]\npub async fn status() {}\n\n/// Health.",
    );
    let (exit, review) = repo.review();
    assert_eq!((exit, verdicts(&review)), (1, one("REVIEW001", "loosens")));
    snapshot(&repo, "public-endpoint-added");
    repo.change(
        "#[secure(get, path = \"/export\", role = \"admin\", rate = \"1/min\")]\npub async fn export() {}\n",
        "",
    );
    assert_eq!(verdicts(&repo.review().1), one("REVIEW002", "info"));
    snapshot(&repo, "endpoint-removed");

    // A raw axum route, permissive CORS, a weakened setting: the audit's rules, as a diff.
    for (name, code, rule) in [
        (
            "raw-route-added",
            "pub fn extra() -> axum::Router {\n    axum::Router::new().route(\"/raw\", axum::routing::get(|| async { \"raw\" }))\n}\n",
            "RAMPART002",
        ),
        (
            "permissive-cors-added",
            "pub fn cors() -> tower_http::cors::CorsLayer {\n    tower_http::cors::CorsLayer::permissive()\n}\n",
            "RAMPART006",
        ),
        (
            "setting-weakened",
            "pub fn issuer() {\n    let _ = rampart::auth::Issuer::builder(\"i\", [\"a\"]).leeway(std::time::Duration::from_secs(3600));\n}\n",
            "RAMPART",
        ),
    ] {
        repo.change("/// Health.", &format!("{code}\n/// Health."));
        let (exit, review) = repo.review();
        assert_eq!(exit, 1, "{name}");
        let found = verdicts(&review);
        assert!(found.iter().all(|(r, e, _)| r == "REVIEW010" && e == "loosens"), "{name}: {found:?}");
        let message = review["changes"][0]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("new {rule}")), "{name}: {message}");
        snapshot(&repo, name);
    }

    // rampart.toml: scopes, roles and relations changed are reported; a scope an endpoint still
    // names, removed, loosens (the attribute no longer reads as it compiled).
    let mut registry = REGISTRY.to_owned();
    for (name, from, to, message, rule, exit_code) in [
        (
            "registry-role-added",
            "roles = [\"admin\"]",
            "roles = [\"admin\", \"auditor\"]",
            "role `auditor` added",
            "REVIEW011",
            0,
        ),
        (
            "registry-relation-changed",
            "viewer = [\"editor\"]",
            "viewer = [\"editor\", \"owner\"]",
            "`note#viewer` is implied directly by",
            "REVIEW011",
            0,
        ),
        (
            "registry-scope-removed",
            "\"notes:write\" = \"Write notes\"\n",
            "",
            "scope `notes:write` removed from rampart.toml, but an endpoint still names it",
            "REVIEW014",
            1,
        ),
    ] {
        registry = registry.replacen(from, to, 1);
        std::fs::write(repo.dir.path().join("rampart.toml"), &registry).unwrap();
        git(repo.dir.path(), &["commit", "-q", "-am", name]);
        let (exit, review) = repo.review();
        assert_eq!(exit, exit_code, "{name}");
        let found = verdicts(&review);
        assert!(found.iter().any(|(r, _, _)| r == rule), "{name}: {found:?}");
        let messages = review["changes"].to_string();
        assert!(messages.contains(message), "{name}: {messages}");
        snapshot(&repo, name);
    }
}

#[test]
fn every_snapshot_sarif_validates_against_the_2_1_0_schema() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/review");
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "sarif"))
        .collect();
    assert!(files.len() >= 20, "{files:?}");
    let schema = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-schema-2.1.0.json");
    let status = Command::new("python3")
        .args([
            "-c",
            "import json,sys,jsonschema; s=json.load(open(sys.argv[1])); [jsonschema.validate(json.load(open(f)), s) for f in sys.argv[2:]]",
        ])
        .arg(&schema)
        .args(&files)
        .status()
        .expect("python3 with jsonschema (./scripts/test installs it)");
    assert!(status.success());
}

/// Commits each case's change on `repo`, snapshots its review and checks its verdict: (snapshot,
/// from, to, rule, effect, exit code).
fn run_cases(repo: &mut Repo, cases: &[(&str, &str, &str, &str, &str, i32)]) {
    for (name, from, to, rule, effect, code) in cases {
        repo.change(from, to);
        snapshot(repo, name);
        let (exit, review) = repo.review();
        let found = verdicts(&review);
        assert!(
            found.iter().any(|(r, e, _)| r == rule && e == effect),
            "{from} -> {to}: expected {rule} {effect} in {found:?}"
        );
        assert_eq!(exit, *code, "{from} -> {to}: {found:?}");
        assert_eq!(review["fails"], *code == 1);
    }
}

#[test]
fn a_policy_is_judged_by_who_it_lets_in_and_resource_checks_by_what_they_check() {
    let mut repo = Repo::new();
    let cases: &[(&str, &str, &str, &str, &str, i32)] = &[
        (
            "scope-added",
            "scope = \"notes:read\", rate = \"100/min\")]\npub async fn list_notes",
            "scope = [\"notes:read\", \"notes:write\"], rate = \"100/min\")]\npub async fn list_notes",
            "REVIEW006",
            "info",
            0,
        ),
        (
            "all-to-any",
            "scope = [\"notes:read\", \"notes:write\"], rate = \"100/min\")]\npub async fn list_notes",
            "any(scope = \"notes:read\", scope = \"notes:write\"), rate = \"100/min\")]\npub async fn list_notes",
            "REVIEW005",
            "loosens",
            1,
        ),
        (
            "alternative-removed",
            "any(scope = \"notes:read\", scope = \"notes:write\"), rate",
            "any(scope = \"notes:write\"), rate",
            "REVIEW006",
            "info",
            0,
        ),
        (
            "owner-instead-of-relation",
            "load = load_note, relation = \"note#viewer\"",
            "load = load_note, owner = is_author",
            "REVIEW009",
            "loosens",
            1,
        ),
        ("owner-changed", "owner = is_author", "owner = is_author_or_admin", "REVIEW009", "loosens", 1),
        (
            "owner-removed",
            "load = load_note, owner = is_author_or_admin, rate = \"100/min\")]\npub async fn get_note(note: Checked<Note>",
            "rate = \"100/min\")]\npub async fn get_note(note: State<Note>",
            "REVIEW009",
            "loosens",
            1,
        ),
    ];
    run_cases(&mut repo, cases);

    // The same policy written otherwise is no change at all; nor are the same credentials.
    repo.change("any(scope = \"notes:write\"), rate", "scope = \"notes:write\", rate");
    let (exit, review) = repo.review();
    assert_eq!((exit, verdicts(&review)), (0, vec![]), "{review}");
    repo.change(
        "rate = \"100/min\")]\npub async fn list_notes",
        "rate = \"100/min\", dpop = \"required\")]\npub async fn list_notes",
    );
    assert_eq!(verdicts(&repo.review().1), one("REVIEW006", "info"));
    repo.change("dpop = \"required\")]\npub async fn list_notes", "auth = [\"dpop\"])]\npub async fn list_notes");
    let (exit, review) = repo.review();
    assert_eq!((exit, verdicts(&review)), (0, vec![]), "{review}");
}

#[test]
fn a_loosening_is_accepted_only_with_a_reason_where_it_happens() {
    let mut repo = Repo::new();
    repo.change(
        "#[secure(get, path = \"/notes\", scope = \"notes:read\", rate = \"100/min\")]",
        "// rampart-review: accept(REVIEW003)\n#[public(get, path = \"/notes\", reason = \"a public board\", rate = \"100/min\")]",
    );
    let (exit, review) = repo.review();
    assert_eq!((exit, verdicts(&review)), (1, one("REVIEW003", "loosens")), "no reason: not accepted");
    let message = review["changes"][0]["message"].as_str().unwrap();
    assert!(
        message.ends_with("(`accept(REVIEW003)` here has no reason and is ignored: write why after it)"),
        "{message}"
    );
    snapshot(&repo, "accepted-without-reason");

    repo.change(
        "// rampart-review: accept(REVIEW003)\n",
        "// rampart-review: accept(REVIEW003) the board is read by the lobby screens, without accounts\n",
    );
    // The head has the reason, the base had the endpoint public already: review the whole change.
    let output = rampart(&["review", repo.path(), "--base", "HEAD~2", "--head", "HEAD", "--format", "json"]);
    let review: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(verdicts(&review), vec![("REVIEW003".to_owned(), "loosens".to_owned(), true)]);
    assert_eq!(review["changes"][0]["accepted"], "the board is read by the lobby screens, without accounts");
    let text =
        String::from_utf8(rampart(&["review", repo.path(), "--base", "HEAD~2", "--head", "HEAD"]).stdout).unwrap();
    assert!(text.contains("= accepted: the board is read by the lobby screens, without accounts"), "{text}");
    snapshot_between(&repo, "accepted-with-reason", "HEAD~2");
}

#[test]
fn the_pull_request_gets_a_table_of_contracts_and_code_scanning_gets_valid_sarif() {
    let mut repo = Repo::new();
    repo.change("rate = \"10/min\", burst = 10", "rate = \"60/min\", burst = 10");
    let (code, markdown) = repo.output("HEAD~1", "markdown");
    assert_eq!(code, 1);
    let golden = "## Rampart security review\n\n\
        1 change(s) between HEAD~1 and HEAD: 1 loosening not accepted, 0 accepted; contracts read from the sources, not the compiled router (no rampart.lock at either revision): code a reader cannot see is not compared.\n\n\
        | endpoint | before | after |\n|---|---|---|\n\
        | `POST /notes` | `all(scope = \"notes:write\", scope = \"notes:read\"), auth = [api_key, bearer, dpop], rate = 10/60s burst 10 per sub, body_limit = 65536` | `all(scope = \"notes:write\", scope = \"notes:read\"), auth = [api_key, bearer, dpop], rate = 60/60s burst 10 per sub, body_limit = 65536` |\n\n\
        | | rule | change | where |\n|---|---|---|---|\n\
        | ❌ | REVIEW007 | the rate limit of `POST /notes` was raised | `src/lib.rs:10` |\n";
    assert_eq!(markdown, golden);

    let (_, text) = repo.output("HEAD~1", "text");
    assert_eq!(
        text,
        "src/lib.rs:10: loosens[REVIEW007] the rate limit of `POST /notes` was raised\n  = before: 10/60s burst 10 per sub\n  = after:  60/60s burst 10 per sub\n\
         1 change(s) between HEAD~1 and HEAD: 1 loosening not accepted, 0 accepted; contracts read from the sources, not the compiled router (no rampart.lock at either revision): code a reader cannot see is not compared\n"
    );
    let (_, github) = repo.output("HEAD~1", "github");
    assert_eq!(
        github,
        "::warning title=rampart review::contracts read from the sources, not the compiled router (no rampart.lock at either revision): code a reader cannot see is not compared\n::error file=src/lib.rs,line=10,title=REVIEW007 limit-loosened::the rate limit of `POST /notes` was raised\n"
    );

    let (_, sarif) = repo.output("HEAD~1", "sarif");
    let file = repo.dir.path().join("review.sarif");
    std::fs::write(&file, &sarif).unwrap();
    let schema: PathBuf = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sarif-schema-2.1.0.json");
    let status = Command::new("python3")
        .args(["-c", "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))"])
        .arg(&file)
        .arg(&schema)
        .status()
        .expect("python3 with jsonschema (./scripts/test installs it)");
    assert!(status.success(), "the review's SARIF does not validate:\n{sarif}");
    let sarif: Value = serde_json::from_str(&sarif).unwrap();
    assert_eq!(sarif["runs"][0]["results"][0]["ruleId"], "REVIEW007");
    assert_eq!(sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"], 10);
}

#[test]
fn nothing_changed_is_exit_0_and_a_bad_revision_is_exit_2() {
    let repo = Repo::new();
    // The rules are listed without a revision to compare.
    let rules = rampart(&["review", "--list-rules"]);
    assert_eq!(rules.status.code(), Some(0));
    let listed = String::from_utf8(rules.stdout).unwrap();
    assert_eq!(listed.lines().count(), 19, "{listed}");
    assert!(listed.starts_with("REVIEW001 endpoint-added: "), "{listed}");
    let output = rampart(&["review", repo.path(), "--base", "HEAD", "--head", "HEAD"]);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "0 change(s) between HEAD and HEAD: 0 loosening not accepted, 0 accepted; contracts read from the sources, not the compiled router (no rampart.lock at either revision): code a reader cannot see is not compared\n"
    );
    let output = rampart(&["review", repo.path(), "--base", "no-such-branch"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("`no-such-branch` is not a revision"));
    let output = rampart(&["review", repo.path()]);
    assert_eq!(output.status.code(), Some(2), "--base is required");
}

/// The notes service reviewed as a pull request would be: its committed `rampart.lock` (which
/// must be what its compiled router mounts) at the base, and at the head the lockfile of the
/// same router with `POST /notes` raised from 10 to 600 requests a minute, as
/// `rate = "600/min"` compiles. The markdown is the one README.md shows.
#[test]
fn the_notes_service_is_reviewed_from_its_lockfile() {
    let notes = workspace().join("examples/notes");
    let committed = std::fs::read_to_string(notes.join("rampart.lock")).unwrap();
    assert_eq!(
        committed,
        rampart::lock::render(&notes::inventory()),
        "examples/notes/rampart.lock is stale: RAMPART_LOCK=write cargo test -p notes --test lock"
    );
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    std::fs::create_dir(repo.join("src")).unwrap();
    for file in ["Cargo.toml", "rampart.toml", "rampart.lock", "deny.toml"] {
        std::fs::copy(notes.join(file), repo.join(file)).unwrap();
    }
    for entry in std::fs::read_dir(notes.join("src")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), repo.join("src").join(entry.file_name())).unwrap();
    }
    std::fs::write(repo.join(".gitignore"), ".env\ntarget/\n").unwrap();
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "base"]);

    let handlers = std::fs::read_to_string(repo.join("src/handlers.rs")).unwrap();
    let attribute = "#[secure(post, path = \"/notes\", scope = \"notes:write\", rate = \"10/min\"";
    assert!(handlers.contains(attribute));
    let raised_attribute = attribute.replace("10/min", "600/min");
    std::fs::write(repo.join("src/handlers.rs"), handlers.replacen(attribute, &raised_attribute, 1)).unwrap();
    let raised: Vec<&'static rampart::EndpointInfo> = notes::inventory()
        .into_iter()
        .map(|info| {
            if info.path != "/notes" || info.method != rampart::Method::POST {
                return info;
            }
            let mut copy = *info;
            copy.rate = copy.rate.map(|rate| rampart::RateSpec { count: 600, ..rate });
            &*Box::leak(Box::new(copy))
        })
        .collect();
    std::fs::write(repo.join("rampart.lock"), rampart::lock::render(&raised)).unwrap();
    git(repo, &["commit", "-q", "-am", "raise the create rate"]);

    let output =
        rampart(&["review", repo.to_str().unwrap(), "--base", "HEAD~1", "--head", "HEAD", "--format", "markdown"]);
    assert_eq!(output.status.code(), Some(1));
    let markdown = String::from_utf8(output.stdout).unwrap();
    assert!(markdown.contains("contracts read from rampart.lock"), "{markdown}");
    let line = handlers.lines().position(|l| l.starts_with(attribute)).unwrap() + 1;
    assert!(markdown.contains(&format!("`src/handlers.rs:{line}`")), "located at the attribute: {markdown}");
    // README.md shows this review (the line number aside: handlers.rs changes more often).
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let shown = without_line_numbers(&readme);
    assert!(
        shown.contains(&without_line_numbers(&format!("```markdown\n{markdown}```"))),
        "README.md shows another review:\n{markdown}"
    );
}

/// `text` with the numbers after `src/handlers.rs:` removed.
fn without_line_numbers(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("src/handlers.rs:") {
        let (before, after) = rest.split_at(at + "src/handlers.rs:".len());
        out.push_str(before);
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}
