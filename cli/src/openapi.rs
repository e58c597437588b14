//! `rampart openapi`: the project's OpenAPI document, and drift against a committed copy.
//!
//! `--check` exits 0 when the committed copy is the document, 1 when it drifted without changing
//! security (descriptions, schemas, a new secured operation), and 3 when the drift is a security
//! change: an operation made public, a security requirement or one of its scopes removed, an
//! alternative requirement added (any one of them now suffices), or a resource check
//! (`x-rampart-authorization`) removed or changed. Errors exit 2, as everywhere.
//!
//! The document comes from the project itself: `cargo run --example openapi` in it (what
//! `rampart new` generates, and the notes service has), which prints
//! `rampart::openapi::to_json(&openapi())`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

#[derive(Debug, clap::Args)]
pub(crate) struct OpenapiArgs {
    /// The project (the directory with its Cargo.toml).
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Write the document to FILE instead of stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    output: Option<PathBuf>,
    /// Compare with a committed FILE: print the difference; exit 1 when they differ, 3 when the
    /// difference changes security (an operation made public, a requirement or scope removed).
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
}

/// The outcome: the document (or the difference) for stdout, and the exit code (0, 1 or 3).
pub(crate) struct Outcome {
    pub(crate) stdout: String,
    pub(crate) code: u8,
}

/// The exit code of a drift that changes security.
pub(crate) const SECURITY_DRIFT: u8 = 3;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// The security alternatives of an operation, each as `scheme: scope scope` (sorted).
fn alternatives(operation: &serde_json::Value) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for requirement in operation["security"].as_array().into_iter().flatten() {
        let mut parts: Vec<String> = requirement
            .as_object()
            .into_iter()
            .flatten()
            .map(|(scheme, scopes)| {
                let mut scopes: Vec<&str> =
                    scopes.as_array().into_iter().flatten().filter_map(|s| s.as_str()).collect();
                scopes.sort_unstable();
                format!("{scheme}: {}", scopes.join(" "))
            })
            .collect();
        parts.sort();
        out.insert(parts.join(" + "));
    }
    out
}

/// The security changes from `committed` to `generated`, one line each.
pub(crate) fn security_changes(committed: &serde_json::Value, generated: &serde_json::Value) -> Vec<String> {
    let mut changes = Vec::new();
    let paths = |doc: &serde_json::Value| doc["paths"].as_object().cloned().unwrap_or_default();
    let (old_paths, new_paths) = (paths(committed), paths(generated));
    for (path, item) in &new_paths {
        for method in METHODS {
            let Some(new) = item.get(method) else { continue };
            let name = format!("{} {path}", method.to_uppercase());
            let old = old_paths.get(path).and_then(|item| item.get(method));
            let new_alternatives = alternatives(new);
            let is_public = new_alternatives.is_empty() || new_alternatives.contains("");
            match old {
                None if is_public => changes.push(format!("{name}: a new public operation")),
                None => {}
                Some(old) => {
                    let old_alternatives = alternatives(old);
                    let was_public = old_alternatives.is_empty() || old_alternatives.contains("");
                    if is_public && !was_public {
                        changes.push(format!("{name}: made public"));
                    } else if !is_public && !was_public {
                        for removed in old_alternatives.difference(&new_alternatives) {
                            changes.push(format!("{name}: security requirement `{removed}` removed or narrowed"));
                        }
                        for added in new_alternatives.difference(&old_alternatives) {
                            changes.push(format!("{name}: security alternative `{added}` added"));
                        }
                    }
                    let rule = |op: &serde_json::Value| op.get("x-rampart-authorization").cloned();
                    if rule(old).is_some() && rule(old) != rule(new) {
                        changes.push(format!("{name}: resource check (`x-rampart-authorization`) removed or changed"));
                    }
                }
            }
        }
    }
    changes
}

fn generate(project: &Path) -> anyhow::Result<String> {
    let manifest = project.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{} has no Cargo.toml", project.display());
    }
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["run", "--quiet", "--example", "openapi", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("running cargo")?;
    if !output.status.success() {
        bail!(
            "`cargo run --example openapi` failed in {} (the project needs an examples/openapi.rs that prints its document):\n{}",
            project.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).context("the document is not UTF-8")
}

pub(crate) fn run(args: &OpenapiArgs) -> anyhow::Result<Outcome> {
    let document = generate(&args.path)?;
    if let Some(file) = &args.check {
        let committed = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        if committed == document {
            return Ok(Outcome { stdout: String::new(), code: 0 });
        }
        let mut stdout = similar::TextDiff::from_lines(&committed, &document)
            .unified_diff()
            .header(&file.display().to_string(), "generated")
            .to_string();
        let parsed = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_or_default();
        let security = security_changes(&parsed(&committed), &parsed(&document));
        if security.is_empty() {
            stdout.push_str("drift without a security change (exit 1)\n");
            return Ok(Outcome { stdout, code: 1 });
        }
        stdout.push_str("security change (exit 3):\n");
        for change in security {
            stdout.push_str(&format!("  {change}\n"));
        }
        return Ok(Outcome { stdout, code: SECURITY_DRIFT });
    }
    if let Some(file) = &args.output {
        std::fs::write(file, &document).with_context(|| format!("writing {}", file.display()))?;
        return Ok(Outcome { stdout: String::new(), code: 0 });
    }
    Ok(Outcome { stdout: document, code: 0 })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::security_changes;

    fn doc(operation: serde_json::Value) -> serde_json::Value {
        json!({"paths": {"/notes/{id}": {"get": operation}}})
    }

    #[test]
    fn security_drift_is_told_from_other_drift() {
        let secured = doc(json!({"security": [{"bearer": ["notes:read", "notes:admin"]}], "summary": "a"}));
        // A description: no security change.
        let described = doc(json!({"security": [{"bearer": ["notes:admin", "notes:read"]}], "summary": "b"}));
        assert!(security_changes(&secured, &described).is_empty());
        // A scope removed.
        let narrowed = doc(json!({"security": [{"bearer": ["notes:read"]}]}));
        assert_eq!(
            security_changes(&secured, &narrowed),
            [
                "GET /notes/{id}: security requirement `bearer: notes:admin notes:read` removed or narrowed",
                "GET /notes/{id}: security alternative `bearer: notes:read` added"
            ]
        );
        // Made public, either way of writing it.
        for public in [json!({"security": []}), json!({})] {
            assert_eq!(security_changes(&secured, &doc(public)), ["GET /notes/{id}: made public"]);
        }
        // A new public operation; a new secured one is not a security change.
        let empty = json!({"paths": {}});
        assert_eq!(
            security_changes(&empty, &doc(json!({"security": []}))),
            ["GET /notes/{id}: a new public operation"]
        );
        assert!(security_changes(&empty, &secured).is_empty());
        // A resource check removed.
        let checked = doc(
            json!({"security": [{"bearer": []}], "x-rampart-authorization": {"load": "f", "relation": "note#viewer"}}),
        );
        let unchecked = doc(json!({"security": [{"bearer": []}]}));
        assert_eq!(
            security_changes(&checked, &unchecked),
            ["GET /notes/{id}: resource check (`x-rampart-authorization`) removed or changed"]
        );
    }
}
