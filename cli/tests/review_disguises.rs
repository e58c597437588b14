//! `rampart review` against disguised loosenings: each case is a head revision of a small orders
//! service (`tests/disguises/<case>/`) compared with its base (`tests/disguises/base/`), in a
//! temporary git repository, twice: with the security lockfile the compiled router writes (the
//! case's files are compiled into this test, and `rampart::lock::render` writes the lockfile
//! from their routers' inventories, so code a text reader misses is in it), and without one
//! (the review reads the sources, with the attribute's own grammar). Every disguise fails the
//! review with its rule; the same contract respelled passes.

#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]
#![allow(missing_docs, unreachable_pub, dead_code, reason = "the cases are service code compiled for their routers")]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

#[path = "disguises/alias_import/lib.rs"]
mod alias_import;
#[path = "disguises/auth_widened/lib.rs"]
mod auth_widened;
#[path = "disguises/base/lib.rs"]
mod base;
#[path = "disguises/cfg_always/lib.rs"]
mod cfg_always;
#[path = "disguises/cfg_attr/lib.rs"]
mod cfg_attr;
#[path = "disguises/grant_added/lib.rs"]
mod grant_added;
#[path = "disguises/include_file/lib.rs"]
mod include_file;
#[path = "disguises/macro_made/lib.rs"]
mod macro_made;
#[path = "disguises/path_attr/lib.rs"]
mod path_attr;
#[path = "disguises/rate_key/lib.rs"]
mod rate_key;
#[path = "disguises/raw_route_bare_allow/lib.rs"]
mod raw_route_bare_allow;
#[path = "disguises/relation_widened/lib.rs"]
mod relation_widened;
#[path = "disguises/renamed_handler/lib.rs"]
mod renamed_handler;
#[path = "disguises/renamed_placeholder/lib.rs"]
mod renamed_placeholder;
#[path = "disguises/respelled/lib.rs"]
mod respelled;
#[path = "disguises/tests_dir/lib.rs"]
mod tests_dir;
#[path = "disguises/timeout_longer/lib.rs"]
mod timeout_longer;

fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/disguises")
}

fn git(dir: &Path, args: &[&str]) {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=review-test", "-c", "user.email=review@test.invalid", "-c", "commit.gpgsign=false"])
        .args(args)
        .output()
        .unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// The lockfile of a case's router, as the service's own test writes it: the case's module is
/// the crate's root module (`orders`) and its files are where the repository has them.
fn lockfile(case: &str, router: rampart::Router) -> String {
    rampart::lock::render(router.inventory())
        .replace(&format!("review_disguises::{case}::"), "orders::")
        .replace(&format!("cli/tests/disguises/{case}/"), "src/")
        .replace("cli/tests/disguises/", "")
}

/// Writes a revision of the service into `repo`: the case's `lib.rs` as `src/lib.rs`, its
/// `tests/` as `src/tests/`, the shared files it brings in (added with it), its `rampart.toml` (or the base's),
/// and its lockfile when `lock` is given.
fn write_revision(repo: &Path, case: &str, lock: Option<String>) {
    let dir = cases_dir().join(case);
    for old in ["src", "generated", ".hidden"] {
        let _ = std::fs::remove_dir_all(repo.join(old));
    }
    std::fs::create_dir_all(repo.join("src/tests")).unwrap();
    std::fs::copy(dir.join("lib.rs"), repo.join("src/lib.rs")).unwrap();
    if dir.join("tests/mod.rs").is_file() {
        std::fs::copy(dir.join("tests/mod.rs"), repo.join("src/tests/mod.rs")).unwrap();
    }
    let registry =
        if dir.join("rampart.toml").is_file() { dir.join("rampart.toml") } else { cases_dir().join("rampart.toml") };
    std::fs::copy(registry, repo.join("rampart.toml")).unwrap();
    let source = std::fs::read_to_string(dir.join("lib.rs")).unwrap();
    for shared in ["generated/wipe.rs", ".hidden/admin.rs"].into_iter().filter(|shared| source.contains(*shared)) {
        std::fs::create_dir_all(repo.join(shared).parent().unwrap()).unwrap();
        std::fs::copy(cases_dir().join(shared), repo.join(shared)).unwrap();
    }
    match lock {
        Some(text) => std::fs::write(repo.join("rampart.lock"), text).unwrap(),
        None => {
            let _ = std::fs::remove_file(repo.join("rampart.lock"));
        }
    }
}

/// Reviews `case` against the base, with or without lockfiles: exit code and the JSON envelope.
fn review(case: &str, router: rampart::Router, with_lockfile: bool) -> (i32, Value) {
    review_with(case, with_lockfile.then_some(router), with_lockfile)
}

/// [`review`], the base with a lockfile when `base_lockfile`, the head with the lockfile of
/// `head_router` when given.
fn review_with(case: &str, head_router: Option<rampart::Router>, base_lockfile: bool) -> (i32, Value) {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path();
    std::fs::write(repo.join("Cargo.toml"), "[package]\nname = \"orders\"\nversion = \"0.1.0\"\nedition = \"2024\"\n")
        .unwrap();
    std::fs::write(repo.join(".gitignore"), ".env\ntarget/\n").unwrap();
    std::fs::write(repo.join("deny.toml"), "").unwrap();
    write_revision(repo, "base", base_lockfile.then(|| lockfile("base", base::router())));
    git(repo, &["init", "-q", "-b", "main"]);
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "base"]);
    write_revision(repo, case, head_router.map(|router| lockfile(case, router)));
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", case]);
    let output = Command::new(env!("CARGO_BIN_EXE_rampart"))
        .args(["review", repo.to_str().unwrap(), "--base", "HEAD~1", "--head", "HEAD", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.stderr.is_empty(), "{case}: {}", String::from_utf8_lossy(&output.stderr));
    (output.status.code().unwrap(), serde_json::from_slice(&output.stdout).unwrap())
}

/// The rules of the changes that fail the review.
fn failing(review: &Value) -> Vec<String> {
    review["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["effect"] == "loosens" && c["accepted"].is_null())
        .map(|c| c["rule"].as_str().unwrap().to_owned())
        .collect()
}

/// Checks that `case` fails with every rule of `rules` (lockfile) and of `from_sources`
/// (without lockfiles).
fn fails_with(case: &str, router: fn() -> rampart::Router, rules: &[&str], from_sources: &[&str]) {
    for (with_lockfile, expected) in [(true, rules), (false, from_sources)] {
        let (exit, review) = review(case, router(), with_lockfile);
        let found = failing(&review);
        let mode = if with_lockfile { "lockfile" } else { "sources" };
        assert_eq!(exit, 1, "{case} ({mode}): {review:#}");
        for rule in expected {
            assert!(found.iter().any(|f| f == rule), "{case} ({mode}): expected {rule} in {found:?}\n{review:#}");
        }
        assert_eq!(review["source"], if with_lockfile { "lockfile" } else { "sources" }, "{case}");
    }
}

#[test]
fn a_renamed_placeholder_does_not_hide_a_dropped_policy_and_a_raised_rate() {
    fails_with(
        "renamed_placeholder",
        renamed_placeholder::router,
        &["REVIEW005", "REVIEW007"],
        &["REVIEW005", "REVIEW007"],
    );
    let (_, review) = review("renamed_placeholder", renamed_placeholder::router(), true);
    let moved = review["changes"].as_array().unwrap().iter().find(|c| c["rule"] == "REVIEW017").unwrap();
    assert_eq!(moved["message"], "`PUT /orders/{id}` is now `PUT /orders/{order}` (the same handler, `update_order`)");
    assert_eq!(moved["file"], "src/lib.rs", "located at the attribute in the head: {moved}");
    assert_eq!(moved["line"], 12);
}

#[test]
fn a_cfg_that_is_always_true_is_compiled_and_reviewed() {
    fails_with("cfg_always", cfg_always::router, &["REVIEW001"], &["REVIEW001"]);
}

#[test]
fn a_handler_made_by_a_macro_is_in_the_lockfile_and_named_by_the_source_reader() {
    fails_with("macro_made", macro_made::router, &["REVIEW001"], &["REVIEW010"]);
    let (_, review) = review("macro_made", macro_made::router(), false);
    assert!(review["changes"].to_string().contains("RAMPART014"), "{review:#}");
}

#[test]
fn a_module_called_tests_is_not_test_code() {
    fails_with("tests_dir", tests_dir::router, &["REVIEW001"], &["REVIEW001"]);
}

#[test]
fn a_bare_audit_marker_silences_nothing_and_is_itself_a_finding() {
    fails_with(
        "raw_route_bare_allow",
        raw_route_bare_allow::router,
        &["REVIEW010", "REVIEW015"],
        &["REVIEW010", "REVIEW015"],
    );
    let (_, review) = review("raw_route_bare_allow", raw_route_bare_allow::router(), true);
    assert!(review["changes"].to_string().contains("serves `/admin/wipe` outside the secure router"), "{review:#}");
}

#[test]
fn a_grant_added_to_the_registry_loosens() {
    fails_with("grant_added", grant_added::router, &["REVIEW013"], &["REVIEW013"]);
}

#[test]
fn a_relation_implied_by_more_relations_loosens() {
    fails_with("relation_widened", relation_widened::router, &["REVIEW012"], &["REVIEW012"]);
}

#[test]
fn an_include_or_a_path_attribute_is_followed() {
    fails_with("include_file", include_file::router, &["REVIEW001"], &["REVIEW001"]);
    fails_with("path_attr", path_attr::router, &["REVIEW001"], &["REVIEW001"]);
}

#[test]
fn a_rate_key_a_deadline_and_the_credentials_are_judged() {
    fails_with("rate_key", rate_key::router, &["REVIEW018"], &["REVIEW018"]);
    fails_with("timeout_longer", timeout_longer::router, &["REVIEW007"], &["REVIEW007"]);
    fails_with("auth_widened", auth_widened::router, &["REVIEW005"], &["REVIEW005"]);
}

#[test]
fn a_renamed_handler_on_a_new_path_is_a_new_endpoint() {
    fails_with("renamed_handler", renamed_handler::router, &["REVIEW001"], &["REVIEW001"]);
}

#[test]
fn an_attribute_under_another_name_or_behind_cfg_attr_is_not_missed() {
    fails_with("alias_import", alias_import::router, &["REVIEW001"], &["REVIEW010"]);
    fails_with("cfg_attr", cfg_attr::router, &["REVIEW001"], &["REVIEW010"]);
}

#[test]
fn the_same_contract_respelled_is_no_change() {
    for with_lockfile in [true, false] {
        let (exit, review) = review("respelled", respelled::router(), with_lockfile);
        assert_eq!((exit, failing(&review)), (0, Vec::<String>::new()), "{review:#}");
    }
}

#[test]
fn removing_the_lockfile_is_itself_a_loosening() {
    // The macro-made handler added in the same change as the lockfile's removal: the sources are
    // read (and name the macro), and the removal fails the review on its own.
    let (exit, review) = review_with("macro_made", None, true);
    assert_eq!(exit, 1, "{review:#}");
    assert_eq!(review["source"], "sources");
    assert_eq!(review["source_note"], "no rampart.lock at the head");
    let found = failing(&review);
    assert!(found.iter().any(|r| r == "REVIEW019"), "{found:?}");
    // Removing it from a change that loosens nothing else fails too.
    let (exit, review) = review_with("respelled", None, true);
    assert_eq!((exit, failing(&review)), (1, vec!["REVIEW019".to_owned()]), "{review:#}");
}
