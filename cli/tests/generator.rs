//! `rampart new` end to end: the generated service, outside the workspace, passes its own tests
//! and clippy `-D warnings` and a clean audit; an unannotated handler mounted on its router does
//! not compile (with the security message), and one mounted with raw axum routing is an audit
//! finding naming the file and line.
//!
//! The generated project builds in `target/tests/scaffold` with the workspace's `Cargo.lock`
//! copied in, so that dependency versions match and later runs reuse the build.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

fn cargo(project: &Path, args: &[&str]) -> Output {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(project)
        .env("CARGO_TARGET_DIR", workspace().join("target/tests/scaffold"))
        .env_remove("RUSTFLAGS")
        .env("CARGO_TERM_COLOR", "never")
        // The scaffold's whole dependency tree builds here once more: without debug info and
        // incremental data it takes a third of the disk (a CI machine's disk is shared).
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_INCREMENTAL", "0")
        .output()
        .unwrap()
}

fn rampart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).output().unwrap()
}

/// `rampart` whose own cargo runs build in the scaffold's target directory.
fn rampart_in_scaffold_target(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(args)
        .env("CARGO_TARGET_DIR", workspace().join("target/tests/scaffold"))
        .env_remove("RUSTFLAGS")
        .env("CARGO_PROFILE_DEV_DEBUG", "0")
        .env("CARGO_INCREMENTAL", "0")
        .output()
        .unwrap()
}

fn show(output: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn a_generated_service_builds_tests_lints_and_audits_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("orders-api");
    let runtime = workspace().join("runtime");
    let created = rampart(&[
        "new",
        "orders-api",
        "--path",
        project.to_str().unwrap(),
        "--rampart-path",
        runtime.to_str().unwrap(),
    ]);
    assert_eq!(created.status.code(), Some(0), "{}", show(&created));
    assert!(String::from_utf8_lossy(&created.stderr).contains("Next steps"));
    for file in [
        "Cargo.toml",
        "src/main.rs",
        "src/lib.rs",
        "tests/api.rs",
        ".env.example",
        ".gitignore",
        "deny.toml",
        "clippy.toml",
        "rustfmt.toml",
        "Dockerfile",
        ".github/workflows/ci.yml",
        ".github/dependabot.yml",
        "README.md",
        "rampart.toml",
        "rampart.lock",
        "tests/lock.rs",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }
    // The service is named after itself: routes, scopes, table, the dev token's audience.
    let migration = std::fs::read_to_string(project.join("migrations/0001_init.sql")).unwrap();
    assert!(migration.contains("CREATE TABLE orders ("), "{migration}");
    let registry = std::fs::read_to_string(project.join("rampart.toml")).unwrap();
    assert!(registry.contains("\"orders:read\"") && !registry.contains("items"), "{registry}");
    let main = std::fs::read_to_string(project.join("src/main.rs")).unwrap();
    assert!(main.contains("then(|| \"orders-api\".to_owned())"), "the audience defaults to the service's name");
    // The CI reviews pull requests: valid YAML, a `review` job that writes the markdown summary.
    let workflow = project.join(".github/workflows/ci.yml");
    let parsed = Command::new("python3")
        .args(["-c", "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))['jobs']['review']))"])
        .arg(&workflow)
        .output()
        .expect("python3 with PyYAML (schemathesis brings it; ./scripts/test installs it)");
    assert!(parsed.status.success(), "{}", show(&parsed));
    let review: serde_json::Value = serde_json::from_slice(&parsed.stdout).unwrap();
    assert_eq!(review["if"], "github.event_name == 'pull_request'");
    let steps = review["steps"].to_string();
    assert!(
        steps.contains("rampart review --base \\\"origin/$GITHUB_BASE_REF\\\" --head HEAD --format markdown"),
        "{steps}"
    );
    assert!(steps.contains("GITHUB_STEP_SUMMARY"), "{steps}");
    std::fs::copy(workspace().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();

    let format = cargo(&project, &["fmt", "--check"]);
    assert!(format.status.success(), "the generated code is not rustfmt-clean:\n{}", show(&format));
    let tests = cargo(&project, &["test", "--offline"]);
    assert!(tests.status.success(), "cargo test failed in the generated project:\n{}", show(&tests));
    let lint = cargo(&project, &["clippy", "--offline", "--all-targets", "--", "-D", "warnings"]);
    assert!(lint.status.success(), "clippy failed in the generated project:\n{}", show(&lint));
    let audit = rampart(&["audit", project.to_str().unwrap()]);
    assert_eq!(audit.status.code(), Some(0), "{}", show(&audit));

    // `rampart openapi`: the project's document, then drift against the committed copy.
    let spec = project.join("openapi.json");
    let printed =
        rampart_in_scaffold_target(&["openapi", project.to_str().unwrap(), "--output", spec.to_str().unwrap()]);
    assert_eq!(printed.status.code(), Some(0), "{}", show(&printed));
    let document: serde_json::Value = serde_json::from_slice(&std::fs::read(&spec).unwrap()).unwrap();
    assert_eq!(document["paths"]["/orders"]["post"]["security"][0]["bearer"][0], "orders:write");
    let check = rampart_in_scaffold_target(&["openapi", project.to_str().unwrap(), "--check", spec.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(0), "{}", show(&check));
    assert!(check.stdout.is_empty());
    let lib = project.join("src/lib.rs");
    let original = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, original.replace("scope = \"orders:read\", rate = \"100/min\"", "rate = \"100/min\""))
        .unwrap();
    // A scope removed is a security drift: exit 3, and the change named.
    let drift = rampart_in_scaffold_target(&["openapi", project.to_str().unwrap(), "--check", spec.to_str().unwrap()]);
    assert_eq!(drift.status.code(), Some(3), "{}", show(&drift));
    let diff = String::from_utf8_lossy(&drift.stdout);
    assert!(diff.starts_with("--- ") && diff.contains("+++ generated"), "{diff}");
    // The scope's description comes from rampart.toml; with the scope gone, the document drops it.
    assert!(diff.lines().any(|l| l.starts_with('-') && l.contains("`orders:read`: Read your orders")), "{diff}");
    assert!(diff.contains("-            \"$ref\": \"#/components/responses/Forbidden\""), "{diff}");
    assert!(
        diff.contains(
            "security change (exit 3):\n  GET /orders: security requirement `bearer: orders:read` removed or narrowed"
        ),
        "{diff}"
    );
    // A rate changed is drift, not a security requirement: exit 1.
    std::fs::write(
        &lib,
        original.replace("scope = \"orders:read\", rate = \"100/min\"", "scope = \"orders:read\", rate = \"99/min\""),
    )
    .unwrap();
    let drift = rampart_in_scaffold_target(&["openapi", project.to_str().unwrap(), "--check", spec.to_str().unwrap()]);
    assert_eq!(drift.status.code(), Some(1), "{}", show(&drift));
    assert!(String::from_utf8_lossy(&drift.stdout).ends_with("drift without a security change (exit 1)\n"));
    // The security lockfile the scaffold commits is stale after the change: the lock test (CI's
    // step) fails, names the line and says how to refresh it.
    let stale = cargo(&project, &["test", "--offline", "--test", "lock"]);
    assert!(!stale.status.success(), "{}", show(&stale));
    let message = show(&stale);
    assert!(message.contains("+ rate = { count = 99, period_secs = 60, burst = 99, key = \"sub\" }"), "{message}");
    assert!(message.contains("RAMPART_LOCK=write"), "{message}");
    std::fs::write(&lib, &original).unwrap();
    // So is it after a change to rampart.toml: the registry the attributes read is in it.
    let registry_file = project.join("rampart.toml");
    let registry = std::fs::read_to_string(&registry_file).unwrap();
    std::fs::write(&registry_file, format!("{registry}\n[relations.order]\nowner = []\n")).unwrap();
    let stale = cargo(&project, &["test", "--offline", "--test", "lock"]);
    assert!(!stale.status.success(), "{}", show(&stale));
    assert!(show(&stale).contains("+ [registry.relations.\"order\"]"), "{}", show(&stale));
    std::fs::write(&registry_file, &registry).unwrap();
    let fresh = cargo(&project, &["test", "--offline", "--test", "lock"]);
    assert!(fresh.status.success(), "{}", show(&fresh));

    // A handler without a contract, mounted on the secure router: a compile error that reads as a
    // security message.
    let mounted = original.replacen(".mount(create_item)", ".mount(create_item).mount(export_items)", 1);
    assert_ne!(mounted, original, "the router mounts create_item");
    let unannotated = mounted + "\nasync fn export_items() -> &'static str {\n    \"everything\"\n}\n";
    std::fs::write(&lib, &unannotated).unwrap();
    let build = cargo(&project, &["build", "--offline"]);
    assert!(!build.status.success());
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(
        stderr.contains("{export_items}` has no security policy: annotate it with #[rampart::secure(...)] or #[rampart::public(reason = ...)]"),
        "{stderr}"
    );

    // The same handler added to the secured router with raw axum routing: a compile error that
    // says where routes go.
    let secured = "    let mut app = router().with_state(AppState { db }).secured(&Security::from_config(config)?);\n";
    let export = "\nasync fn export_items() -> &'static str {\n    \"everything\"\n}\n";
    let after = original
        .replace(secured, &format!("{secured}    app = app.route(\"/export\", axum::routing::get(export_items));\n"))
        + export;
    assert_ne!(after, original);
    std::fs::write(&lib, &after).unwrap();
    let build = cargo(&project, &["build", "--offline"]);
    assert!(!build.status.success());
    let stderr = String::from_utf8_lossy(&build.stderr);
    assert!(stderr.contains("routes cannot be added after `secured()`"), "{stderr}");
    assert!(stderr.contains(".mount_service(path, service, reason)"), "{stderr}");

    // On an axum router of its own, it compiles, and the audit names the file and line.
    let raw = original.clone()
        + export
        + "\npub fn export_router() -> axum::Router {\n    axum::Router::new().route(\"/export\", axum::routing::get(export_items))\n}\n";
    std::fs::write(&lib, &raw).unwrap();
    let build = cargo(&project, &["build", "--offline"]);
    assert!(build.status.success(), "{}", show(&build));
    let line = raw.lines().position(|l| l.contains(".route(\"/export\"")).unwrap() + 1;
    let audit = rampart(&["audit", project.to_str().unwrap()]);
    assert_eq!(audit.status.code(), Some(1), "{}", show(&audit));
    let report = String::from_utf8_lossy(&audit.stdout);
    assert!(report.contains(&format!("src/lib.rs:{line}:")) && report.contains("RAMPART002"), "{report}");
}
