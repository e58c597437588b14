//! `rampart audit` over fixture projects with known findings: every rule fires where it should
//! and nowhere on the clean fixture; every output format; SARIF checked against the SARIF 2.1.0
//! JSON schema; fingerprints survive unrelated edits.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn rampart(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rampart")).args(args).env_remove("NO_COLOR").output().unwrap()
}

fn audit_json(dir: &Path) -> (i32, Value) {
    let output = rampart(&["audit", dir.to_str().unwrap(), "--format", "json"]);
    (output.status.code().unwrap(), serde_json::from_slice(&output.stdout).unwrap())
}

fn located(report: &Value) -> Vec<(String, u64, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["file"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap(),
                f["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_clean_fixture_has_no_finding() {
    let output = rampart(&["audit", fixture("clean").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "0 finding(s) in 1 Rust file(s) (0 error, 0 warning, 0 note)\n"
    );
    assert!(output.stderr.is_empty());
}

#[test]
fn every_rule_fires_where_it_should() {
    let (code, report) = audit_json(&fixture("violations"));
    assert_eq!(code, 1);
    assert_eq!(report["version"], 1);
    let expected: Vec<(String, u64, String)> = [
        (".gitignore", 1, "RAMPART008"),
        ("Cargo.toml", 1, "RAMPART011"),
        ("Dockerfile", 5, "RAMPART010"),
        ("src/broken.rs", 3, "RAMPART012"),
        ("src/generated.rs", 7, "RAMPART014"),
        ("src/lib.rs", 13, "RAMPART003"),
        ("src/lib.rs", 19, "RAMPART004"),
        ("src/lib.rs", 26, "RAMPART005"),
        ("src/lib.rs", 32, "RAMPART007"),
        ("src/lib.rs", 35, "RAMPART007"),
        ("src/lib.rs", 35, "RAMPART009"),
        ("src/lib.rs", 37, "RAMPART009"),
        ("src/lib.rs", 39, "RAMPART009"),
        ("src/lib.rs", 41, "RAMPART001"),
        ("src/lib.rs", 41, "RAMPART013"),
        ("src/lib.rs", 44, "RAMPART002"),
        ("src/lib.rs", 45, "RAMPART002"),
        ("src/lib.rs", 46, "RAMPART006"),
        ("src/lib.rs", 47, "RAMPART006"),
        ("src/lib.rs", 50, "RAMPART007"),
    ]
    .into_iter()
    .map(|(f, l, r)| (f.to_owned(), l, r.to_owned()))
    .collect();
    assert_eq!(located(&report), expected);
    let rules: std::collections::BTreeSet<&str> =
        report["findings"].as_array().unwrap().iter().map(|f| f["rule"].as_str().unwrap()).collect();
    assert_eq!(rules.len(), 14, "every rule is exercised");
    let first = &report["findings"][0];
    assert!(first["fingerprint"].as_str().unwrap().len() == 16);
    assert!(first["help"].as_str().unwrap().contains(".env"));
}

#[test]
fn text_output_names_file_line_and_column() {
    let output = rampart(&["audit", fixture("violations").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.contains(
            "src/lib.rs:44:10: error[RAMPART002] `.route(\"/raw\", ...)` serves `/raw` outside the secure router\n"
        ),
        "{text}"
    );
    assert!(!text.contains('\x1b'), "no color when stdout is not a terminal");
    assert!(text.ends_with("20 finding(s) in 3 Rust file(s) (13 error, 6 warning, 1 note)\n"), "{text}");
}

#[test]
fn thresholds_and_exit_zero() {
    let dir = fixture("violations");
    let dir = dir.to_str().unwrap();
    assert_eq!(rampart(&["audit", dir, "--fail-on", "error"]).status.code(), Some(1));
    assert_eq!(rampart(&["audit", dir, "--exit-zero"]).status.code(), Some(0));
    assert_eq!(rampart(&["audit", dir, "--format", "sarif", "--exit-zero"]).status.code(), Some(0));
    // Only warnings: below an `error` threshold.
    let warnings_only = tempfile::tempdir().unwrap();
    std::fs::write(warnings_only.path().join("Cargo.toml"), "[package]\nname = \"w\"\n").unwrap();
    std::fs::write(warnings_only.path().join(".gitignore"), ".env\n").unwrap();
    let path = warnings_only.path().to_str().unwrap();
    assert_eq!(rampart(&["audit", path, "--fail-on", "error"]).status.code(), Some(0));
    assert_eq!(rampart(&["audit", path]).status.code(), Some(1), "the default threshold is warning");
    // A missing directory is an I/O error: 2, in every format.
    for format in ["text", "json", "sarif", "github"] {
        let output = rampart(&["audit", "/nonexistent/project", "--format", format]);
        assert_eq!(output.status.code(), Some(2));
        assert!(output.stdout.is_empty());
        assert!(String::from_utf8_lossy(&output.stderr).starts_with("error: /nonexistent/project does not exist"));
    }
}

#[test]
fn sarif_validates_against_the_sarif_2_1_0_schema() {
    let output = rampart(&["audit", fixture("violations").to_str().unwrap(), "--format", "sarif"]);
    assert_eq!(output.status.code(), Some(1));
    let sarif: Value = serde_json::from_slice(&output.stdout).unwrap();
    let run = &sarif["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 14);
    for result in run["results"].as_array().unwrap() {
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], result["ruleId"]);
        let location = &result["locations"][0]["physicalLocation"];
        assert!(location["artifactLocation"]["uri"].is_string());
        assert!(location["region"]["startLine"].as_u64().unwrap() >= 1);
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.sarif");
    std::fs::write(&file, &output.stdout).unwrap();
    let schema = fixture("sarif-schema-2.1.0.json");
    let check = Command::new("python3")
        .args(["-c", "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))"])
        .arg(&file)
        .arg(&schema)
        .output()
        .expect("python3 with jsonschema (installed with openapi-spec-validator by .ci/run)");
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
}

#[test]
fn github_annotations() {
    let output = rampart(&["audit", fixture("violations").to_str().unwrap(), "--format", "github"]);
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(
        text.lines().any(|l| l.starts_with("::error file=src/lib.rs,line=44,col=10,title=RAMPART002 raw-axum-route::")),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("::warning file=src/lib.rs,line=19,")));
}

#[test]
fn fingerprints_survive_unrelated_edits() {
    let copy = tempfile::tempdir().unwrap();
    for entry in ["Cargo.toml", ".gitignore", "Dockerfile", "src/lib.rs", "src/broken.rs"] {
        let target = copy.path().join(entry);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(fixture("violations").join(entry), target).unwrap();
    }
    let (_, before) = audit_json(copy.path());
    let lib = copy.path().join("src/lib.rs");
    let text = std::fs::read_to_string(&lib).unwrap();
    std::fs::write(&lib, format!("// a new first line\n\n{text}")).unwrap();
    let (_, after) = audit_json(copy.path());
    let prints = |r: &Value| -> Vec<String> {
        let mut v: Vec<String> =
            r["findings"].as_array().unwrap().iter().map(|f| f["fingerprint"].as_str().unwrap().to_owned()).collect();
        v.sort();
        v
    };
    assert_eq!(prints(&before), prints(&after));
    assert_ne!(located(&before), located(&after), "the lines did move");
}

#[test]
fn suppression_is_per_rule_and_per_place() {
    let copy = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(copy.path().join("src")).unwrap();
    std::fs::write(copy.path().join("Cargo.toml"), "[package]\nname = \"s\"\n").unwrap();
    std::fs::write(copy.path().join("deny.toml"), "").unwrap();
    std::fs::write(copy.path().join(".gitignore"), ".env\n").unwrap();
    let source = "fn app(r: axum::Router) -> axum::Router {\n    // rampart-audit: allow(RAMPART003) not this rule\n    let r = r.route(\"/a\", todo());\n    // rampart-audit: allow(RAMPART002) the health probe of the sidecar\n    let r = r.route(\"/b\", todo());\n    // rampart-audit: allow(RAMPART002)\n    r.route(\"/c\", todo())\n}\n";
    std::fs::write(copy.path().join("src/lib.rs"), source).unwrap();
    let (_, report) = audit_json(copy.path());
    // A marker without a reason silences nothing, and the finding says so.
    assert_eq!(
        located(&report),
        [("src/lib.rs".to_owned(), 3, "RAMPART002".to_owned()), ("src/lib.rs".to_owned(), 7, "RAMPART002".to_owned())]
    );
    let bare = report["findings"][1]["message"].as_str().unwrap();
    assert!(
        bare.ends_with("(`rampart-audit: allow(RAMPART002)` here has no reason and is ignored: write why after it)"),
        "{bare}"
    );
}

#[test]
fn inventory_lists_every_declared_route() {
    let output = rampart(&["audit", fixture("clean").to_str().unwrap(), "--inventory", "--format", "json"]);
    assert_eq!(output.status.code(), Some(0));
    let inventory: Value = serde_json::from_slice(&output.stdout).unwrap();
    let routes: Vec<(String, String, String, Value)> = inventory["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["method"].as_str().unwrap().to_owned(),
                r["path"].as_str().unwrap().to_owned(),
                r["access"].as_str().unwrap().to_owned(),
                r["rate"].clone(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("GET".into(), "/health".into(), "public (probes)".into(), Value::Null),
            ("GET".into(), "/items".into(), "scope = \"items:read\"".into(), Value::from("100/min")),
            ("POST".into(), "/hooks".into(), "public (signed by the sender)".into(), Value::from("60/min")),
        ]
    );
    let text = rampart(&["audit", fixture("clean").to_str().unwrap(), "--inventory"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("/items"));

    // A service mounted with `mount_service` is a public route of the inventory, with its reason.
    let output = rampart(&["audit", fixture("violations").to_str().unwrap(), "--inventory", "--format", "json"]);
    let inventory: Value = serde_json::from_slice(&output.stdout).unwrap();
    let robots = inventory["routes"].as_array().unwrap().iter().find(|r| r["path"] == "/robots.txt").unwrap();
    assert_eq!(
        (&robots["method"], &robots["access"]),
        (&Value::from("GET"), &Value::from("public (crawlers read it)"))
    );
}

#[test]
fn list_rules_names_every_rule() {
    let output = rampart(&["audit", "--list-rules"]);
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    for n in 1..=13 {
        assert!(text.contains(&format!("RAMPART{n:03}")), "{text}");
    }
}

#[test]
fn the_reference_service_passes_its_own_audit() {
    let notes = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/notes");
    let (code, report) = audit_json(&notes);
    assert_eq!(report["findings"], serde_json::json!([]), "{report:#}");
    assert_eq!(code, 0);
}
