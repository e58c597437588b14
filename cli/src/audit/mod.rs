//! `rampart audit`: what the compiler cannot see, as findings for code review.
//!
//! The project's Rust sources are parsed with syn (no build needed) and checked against
//! [`rules::RULES`]; the project's files (`.gitignore`, `Dockerfile`, `deny.toml`) are checked
//! too. Each finding has a stable rule id, a repository-relative `file:line:column` and a
//! fingerprint that survives unrelated edits (it hashes the rule, the file and the offending line's
//! text, not its number). `// rampart-audit: allow(RAMPART003) why` on the line or the line above
//! silences one rule there; without a reason it silences nothing (and says so).
//!
//! What a reader cannot see is named, not passed: items made by a macro are findings
//! (`RAMPART014`), `include!` and `#[path]` files are followed, `cfg` predicates are judged by
//! their meaning, and only the crate root's `tests/` and `benches/` are skipped (with modules
//! declared under `#[cfg(test)]`).

pub mod report;
pub mod rules;
pub mod visit;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};

use rules::Rule;
pub use rules::Severity;
pub use visit::{FileFacts, Route};

/// A rule's match inside one file, before it is placed in the project.
#[derive(Debug)]
pub struct Hit {
    /// The rule that matched.
    pub rule: &'static Rule,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, for this occurrence.
    pub message: String,
}

/// One finding.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The rule that matched.
    pub rule: &'static Rule,
    /// Repository-relative, with `/`.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong, for this occurrence.
    pub message: String,
    /// A hash of the rule, the file and the line's text: stable across unrelated edits.
    pub fingerprint: String,
}

/// The audit of one project.
#[derive(Debug, Default)]
pub struct Audit {
    /// Every finding, sorted by file, line, column and rule.
    pub findings: Vec<Finding>,
    /// Every route declared with `#[secure]` or `#[public]`.
    pub routes: Vec<Route>,
    /// How many Rust files were read.
    pub files_scanned: usize,
    /// Every `rampart-audit: allow(...)` marker, honoured or not.
    pub suppressions: Vec<Suppression>,
}

/// A `// rampart-audit: allow(RULES) reason` marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// Repository-relative file.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The marker's text, from `rampart-audit:` on.
    pub text: String,
    /// The reason after `allow(...)`, when one is given.
    pub reason: Option<String>,
}

/// Directories never audited: build output and installed packages.
const SKIPPED_DIRS: [&str; 2] = ["target", "node_modules"];
/// Directories of test code (which legitimately holds fixed secrets and mock routes), skipped
/// only where cargo compiles them as tests: at a crate's root, beside its `Cargo.toml`.
const TEST_DIRS: [&str; 2] = ["tests", "benches"];

fn rust_files(root: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?;
        for entry in entries {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type()?;
            if kind.is_dir() {
                let test_dir = TEST_DIRS.contains(&name.as_str()) && dir.join("Cargo.toml").is_file();
                if !name.starts_with('.') && !SKIPPED_DIRS.contains(&name.as_str()) && !test_dir {
                    stack.push(path);
                }
            } else if kind.is_file() && name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).to_string_lossy().replace('\\', "/")
}

/// Audits the project at `root`.
///
/// # Errors
///
/// When `root` or one of its files cannot be read.
pub fn run(root: &Path) -> anyhow::Result<Audit> {
    let root = root.canonicalize().with_context(|| format!("{} does not exist", root.display()))?;
    if !root.is_dir() {
        anyhow::bail!("{} is not a directory", root.display());
    }
    let mut audit = Audit::default();
    let mut sources: BTreeMap<String, String> = BTreeMap::new();
    let mut raw: Vec<(String, Hit)> = Vec::new();
    let mut plain_fns = BTreeSet::new();
    let mut mounts = Vec::new();
    let mut defined_macros = BTreeSet::new();
    let mut statement_macros = Vec::new();

    // Every file, then the files they bring in by path; modules declared for tests only are
    // test code wherever they are.
    let mut scanned: Vec<(PathBuf, String, String, FileFacts)> = Vec::new();
    let mut queue: Vec<PathBuf> = rust_files(&root)?;
    queue.reverse();
    let mut seen: BTreeSet<PathBuf> = queue.iter().cloned().collect();
    let mut test_code: BTreeSet<PathBuf> = BTreeSet::new();
    while let Some(path) = queue.pop() {
        let file = relative(&root, &path);
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        let facts = scan_source_at(&file, &text, Some(path.clone()));
        for module in &facts.test_modules {
            test_code.extend(module_files(&path, module));
        }
        for (included, line, column) in &facts.included {
            let target = path.parent().unwrap_or(&root).join(included);
            match target.canonicalize() {
                Ok(target) if target.is_file() => {
                    if seen.insert(target.clone()) {
                        queue.push(target);
                    }
                }
                _ => raw.push((
                    file.clone(),
                    Hit {
                        rule: rules::NOT_REVIEWABLE,
                        line: *line,
                        column: *column,
                        message: format!("`{included}` cannot be read: the code it brings in is not reviewed"),
                    },
                )),
            }
        }
        scanned.push((path, file, text, facts));
    }
    for (path, file, text, facts) in scanned {
        let is_test = test_code.iter().any(|test| path == *test || path.starts_with(test.with_extension("")));
        if is_test {
            continue;
        }
        audit.files_scanned += 1;
        raw.extend(facts.hits.into_iter().map(|h| (file.clone(), h)));
        audit.routes.extend(facts.routes);
        plain_fns.extend(facts.plain_async_fns);
        mounts.extend(facts.mounts.into_iter().map(|(name, line, column)| (file.clone(), name, line, column)));
        defined_macros.extend(facts.defined_macros);
        statement_macros
            .extend(facts.statement_macros.into_iter().map(|(name, line, column)| (file.clone(), name, line, column)));
        audit.suppressions.extend(suppressions(&file, &text));
        sources.insert(file, text);
    }
    for (file, name, line, column) in statement_macros {
        if defined_macros.contains(&name) {
            raw.push((
                file,
                Hit {
                    rule: rules::NOT_REVIEWABLE,
                    line,
                    column,
                    message: format!(
                        "the items `{name}!` expands to cannot be read: a handler or route it makes is not reviewed"
                    ),
                },
            ));
        }
    }
    for (file, name, line, column) in mounts {
        if plain_fns.contains(&name) {
            raw.push((
                file,
                Hit {
                    rule: rules::UNANNOTATED_HANDLER,
                    line,
                    column,
                    message: format!("`{name}` is mounted but declares no security contract"),
                },
            ));
        }
    }
    project_checks(&root, &mut raw, &mut sources)?;

    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (file, hit) in raw {
        let text = sources.get(&file).map(String::as_str).unwrap_or("");
        let mut hit = hit;
        match suppressed(text, hit.line, hit.rule.id) {
            Allowed::WithReason => continue,
            Allowed::WithoutReason => hit.message.push_str(&format!(
                " (`rampart-audit: allow({})` here has no reason and is ignored: write why after it)",
                hit.rule.id
            )),
            Allowed::No => {}
        }
        let line_text = text.lines().nth(hit.line.saturating_sub(1)).unwrap_or("").trim();
        let base = format!("{}\0{file}\0{line_text}", hit.rule.id);
        let occurrence = seen.entry(base.clone()).or_default();
        *occurrence += 1;
        let digest = Sha256::digest(format!("{base}\0{occurrence}").as_bytes());
        let fingerprint = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
        audit.findings.push(Finding {
            rule: hit.rule,
            file,
            line: hit.line,
            column: hit.column,
            message: hit.message,
            fingerprint,
        });
    }
    audit.findings.sort_by(|a, b| (&a.file, a.line, a.column, a.rule.id).cmp(&(&b.file, b.line, b.column, b.rule.id)));
    Ok(audit)
}

/// Scans one Rust source file: the rule hits, routes, unannotated handlers and router mounts in
/// it. A file that does not parse gives one `RAMPART000`-style "not audited" hit at the syntax
/// error, never a panic (this is the audit's fuzz target).
///
/// ```
/// let facts = rampart_cli::audit::scan_source("src/lib.rs", "fn f() { let x = ; }");
/// assert_eq!(facts.hits.len(), 1);
/// assert!(facts.hits[0].message.starts_with("not audited"));
/// ```
pub fn scan_source(file: &str, text: &str) -> FileFacts {
    scan_source_at(file, text, None)
}

/// [`scan_source`] of the file at the absolute path `source`, from which the attributes find
/// their `rampart.toml`.
pub fn scan_source_at(file: &str, text: &str, source: Option<PathBuf>) -> FileFacts {
    match syn::parse_file(text) {
        Ok(ast) => {
            let mut visitor = match source {
                Some(source) => visit::Visitor::at(file, source),
                None => visit::Visitor::new(file),
            };
            syn::visit::Visit::visit_file(&mut visitor, &ast);
            visitor.finish()
        }
        Err(err) => {
            let start = err.span().start();
            let hit = Hit {
                rule: rules::UNPARSABLE,
                line: start.line.max(1),
                column: start.column + 1,
                message: format!("not audited: {err}"),
            };
            FileFacts { hits: vec![hit], ..FileFacts::default() }
        }
    }
}

/// The files of `mod module;` declared in `file` (or `#[path = "module"]`): `module.rs` and the
/// directory `module/`, beside `file` (or in its own directory, for a non-`mod.rs` file).
fn module_files(file: &Path, module: &str) -> Vec<PathBuf> {
    let dir = file.parent().unwrap_or(Path::new("."));
    if module.ends_with(".rs") {
        return vec![dir.join(module)];
    }
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let base = if matches!(stem, "mod" | "lib" | "main") { dir.to_path_buf() } else { dir.join(stem) };
    vec![base.join(format!("{module}.rs")), base.join(module)]
}

/// Whether a finding is silenced by `// rampart-audit: allow(RULE) reason`.
#[derive(Debug, PartialEq, Eq)]
enum Allowed {
    /// Silenced: the marker names the rule and says why.
    WithReason,
    /// A marker without a reason, which silences nothing.
    WithoutReason,
    /// No marker.
    No,
}

/// `// rampart-audit: allow(RAMPART003) reason` on the finding's line or the line above.
fn suppressed(text: &str, line: usize, rule: &str) -> Allowed {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Allowed::No;
    for marker in [line.checked_sub(1), line.checked_sub(2)].into_iter().flatten().filter_map(|i| lines.get(i)) {
        if let Some((rules, reason)) = allow_marker(marker)
            && rules.split(',').any(|r| r.trim() == rule)
        {
            if reason.is_some() {
                return Allowed::WithReason;
            }
            found = Allowed::WithoutReason;
        }
    }
    found
}

/// The rules and the reason of a `rampart-audit: allow(RULES) reason` marker on `line`.
fn allow_marker(line: &str) -> Option<(&str, Option<&str>)> {
    let (_, rest) = line.split_once("rampart-audit:")?;
    let rest = rest.trim_start().strip_prefix("allow(")?;
    let (rules, reason) = rest.split_once(')')?;
    let reason = reason.trim();
    Some((rules, (!reason.is_empty()).then_some(reason)))
}

/// Every allow marker of a file.
fn suppressions(file: &str, text: &str) -> Vec<Suppression> {
    text.lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let (_, reason) = allow_marker(line)?;
            let start = line.find("rampart-audit:").unwrap_or(0);
            Some(Suppression {
                file: file.to_owned(),
                line: index + 1,
                text: line[start..].trim().to_owned(),
                reason: reason.map(str::to_owned),
            })
        })
        .collect()
}

/// The project-level rules: `.env` ignored, the container user, `deny.toml`.
fn project_checks(
    root: &Path,
    raw: &mut Vec<(String, Hit)>,
    sources: &mut BTreeMap<String, String>,
) -> anyhow::Result<()> {
    let at = |rule, line, message: &str| Hit { rule, line, column: 1, message: message.to_owned() };
    let read = |name: &str| std::fs::read_to_string(root.join(name)).ok();

    let gitignore = read(".gitignore");
    let ignores_env = gitignore.as_deref().is_some_and(|text| {
        text.lines().map(str::trim).any(|l| matches!(l, ".env" | "/.env" | ".env*" | "*.env" | "/.env*"))
    });
    if !ignores_env {
        let (file, message) = match &gitignore {
            Some(text) => {
                sources.insert(".gitignore".into(), text.clone());
                (".gitignore", ".gitignore does not list `.env`")
            }
            None => ("Cargo.toml", "there is no .gitignore: `.env` (and `target/`, keys) could be committed"),
        };
        raw.push((file.into(), at(rules::ENV_NOT_IGNORED, 1, message)));
    }

    if let Some(dockerfile) = read("Dockerfile") {
        let lines: Vec<&str> = dockerfile.lines().collect();
        let upper = |l: &str| l.trim_start().to_ascii_uppercase();
        let final_from = lines.iter().rposition(|l| upper(l).starts_with("FROM "));
        if let Some(start) = final_from {
            let user =
                lines[start..].iter().rev().find(|l| upper(l).starts_with("USER ")).map(|l| l.trim()[5..].trim());
            let root_user = match user {
                None => Some("the final stage has no USER instruction: it runs as root"),
                Some(u) if u == "root" || u == "0" || u.starts_with("root:") || u.starts_with("0:") => {
                    Some("the final stage switches to root")
                }
                Some(_) => None,
            };
            if let Some(message) = root_user {
                raw.push(("Dockerfile".into(), at(rules::ROOT_CONTAINER, start + 1, message)));
            }
        }
        sources.insert("Dockerfile".into(), dockerfile);
    }

    if !root.join("deny.toml").is_file() && root.join("Cargo.toml").is_file() {
        raw.push(("Cargo.toml".into(), at(rules::NO_DENY, 1, "no deny.toml next to Cargo.toml")));
    }
    if let Some(manifest) = read("Cargo.toml") {
        sources.insert("Cargo.toml".into(), manifest);
    }
    Ok(())
}
