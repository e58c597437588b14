//! `rampart review`: what a change did to who can call what. At two git revisions (no build) it
//! reads the security lockfile, `rampart.lock`, which the project's own test writes from the
//! compiled router (so code a reader of the sources would miss is in it); when either revision
//! has none, it reads the sources with the attribute's own grammar instead, and says so.
//! Endpoints are matched by their handler, not their path text. Every security-relevant
//! difference becomes a finding with a stable rule id; one that loosens the contract fails the
//! review (exit 1) unless it is accepted where it happens, at the head revision, with
//! `// rampart-review: accept(RULE) reason` on the attribute's line or the line above. The source
//! audit's findings (raw routes, code a reader cannot see into, new `rampart-audit: allow`
//! markers) are compared too.

mod compare;
mod policy;
pub mod report;
pub mod snapshot;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

pub use snapshot::{LOCKFILE, Origin};

/// Whether a finding loosens the contract (it fails the review unless accepted) or only informs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Effect {
    /// Tightening or neutral: reported for the reviewer.
    Info,
    /// Someone may now do what they could not before.
    Loosens,
}

/// A review rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewRule {
    /// The stable id (`REVIEW001`).
    pub id: &'static str,
    /// A short name.
    pub name: &'static str,
    /// What it reports.
    pub summary: &'static str,
}

macro_rules! review_rules {
    ($($constant:ident = $id:literal, $name:literal, $summary:literal;)*) => {
        $(#[doc = $summary] pub const $constant: ReviewRule = ReviewRule { id: $id, name: $name, summary: $summary };)*
        /// Every review rule, in id order.
        pub const RULES: &[ReviewRule] = &[$($constant),*];
    };
}

review_rules! {
    ENDPOINT_ADDED = "REVIEW001", "endpoint-added", "An endpoint was added: someone may call what did not exist (it loosens the contract).";
    ENDPOINT_REMOVED = "REVIEW002", "endpoint-removed", "An endpoint was removed.";
    BECAME_PUBLIC = "REVIEW003", "became-public", "An endpoint became #[public].";
    PUBLIC_REASON_CHANGED = "REVIEW004", "public-reason-changed", "The reason of a #[public] endpoint changed.";
    POLICY_LOOSENED = "REVIEW005", "policy-loosened", "A scope or role was removed, or an alternative added (`any`).";
    POLICY_TIGHTENED = "REVIEW006", "policy-tightened", "A scope or role was added, or the endpoint became #[secure].";
    LIMIT_LOOSENED = "REVIEW007", "limit-loosened", "A rate limit removed or raised, a burst or body limit raised, or `validate = false` added.";
    LIMIT_TIGHTENED = "REVIEW008", "limit-tightened", "A rate limit added or lowered, a burst or body limit lowered, or validation turned back on.";
    RESOURCE_CHECK_CHANGED = "REVIEW009", "resource-check-changed", "An owner or relation check was removed or changed.";
    AUDIT_FINDING_ADDED = "REVIEW010", "audit-finding-added", "A new `rampart audit` finding: a raw route, permissive CORS, a weakened setting, ...";
    REGISTRY_CHANGED = "REVIEW011", "registry-changed", "`rampart.toml` scopes, roles or relations changed.";
    RELATION_WIDENED = "REVIEW012", "relation-widened", "A relation is implied by more relations than before (`viewer = [\"owner\", \"anyone\"]`).";
    GRANT_WIDENED = "REVIEW013", "grant-widened", "A role was given a relation on every object of a type, or a wider one (`[grants]`).";
    DECLARATION_REMOVED = "REVIEW014", "declaration-removed", "A scope or role an endpoint still names was removed from `rampart.toml`.";
    SUPPRESSION_ADDED = "REVIEW015", "suppression-added", "A `rampart-audit: allow(...)` marker was added: an audit finding is silenced.";
    NOT_READABLE = "REVIEW016", "not-readable", "An endpoint attribute could not be read as the compiler reads it.";
    ROUTE_CHANGED = "REVIEW017", "route-changed", "An endpoint answers another method or path, or another success status.";
    RATE_KEY_CHANGED = "REVIEW018", "rate-key-changed", "A rate limit is counted per something finer or other (`client` -> `sub`, `sub` -> `ip`).";
    LOCKFILE_REMOVED = "REVIEW019", "lockfile-removed", "rampart.lock was removed: the review falls back to reading the sources, which code can hide from.";
}

/// One difference.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Change {
    /// The rule.
    #[serde(serialize_with = "rule_id")]
    pub rule: ReviewRule,
    /// Whether it loosens the contract.
    pub effect: Effect,
    /// `METHOD /path`, when it is about an endpoint.
    pub endpoint: Option<String>,
    /// What changed, in words.
    pub message: String,
    /// Before → after, when there is a before and an after.
    pub before: Option<String>,
    /// After.
    pub after: Option<String>,
    /// Where, at the head revision (or the base, for a removal): repository-relative file, line.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// The reason given with `// rampart-review: accept(RULE) reason`, when accepted.
    pub accepted: Option<String>,
}

fn rule_id<S: serde::Serializer>(rule: &ReviewRule, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(rule.id)
}

impl Change {
    /// Whether this change fails the review.
    pub fn fails(&self) -> bool {
        self.effect == Effect::Loosens && self.accepted.is_none()
    }
}

/// The review of one change.
#[derive(Debug, Default)]
pub struct Review {
    /// The base revision, as given.
    pub base: String,
    /// The head revision, as given (`working tree` when none).
    pub head: String,
    /// Every difference, in file and line order.
    pub changes: Vec<Change>,
    /// Endpoints whose contract changed: `METHOD /path` → (before, after).
    pub contracts: Vec<(String, Option<String>, Option<String>)>,
    /// Where the contracts were read.
    pub origin: Origin,
    /// Why the sources were read instead of the lockfile.
    pub origin_note: Option<String>,
}

impl Review {
    /// Whether the review fails (exit 1).
    pub fn fails(&self) -> bool {
        self.changes.iter().any(Change::fails)
    }
}

/// The sources of `rev` in a fresh directory (`git archive`), and the project's path inside it.
struct Checkout {
    dir: tempfile::TempDir,
    project: PathBuf,
}

fn git(repo: &Path, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let output = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("running git (is it installed?)")?;
    if !output.status.success() {
        bail!("git {}: {}", args.join(" "), String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(output.stdout)
}

fn checkout(top: &Path, prefix: &Path, rev: &str) -> anyhow::Result<Checkout> {
    git(top, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
        .with_context(|| format!("`{rev}` is not a revision of {}", top.display()))?;
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let archive = git(top, &["archive", "--format=tar", rev])?;
    tar_extract(&archive, dir.path())?;
    let project = dir.path().join(prefix);
    Ok(Checkout { dir, project })
}

fn tar_extract(archive: &[u8], into: &Path) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut child = Command::new("tar")
        .arg("-x")
        .arg("-C")
        .arg(into)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("running tar")?;
    child.stdin.take().context("tar's stdin")?.write_all(archive)?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("tar: {}", String::from_utf8_lossy(&output.stderr).trim());
    }
    Ok(())
}

/// Reviews the project at `path` (inside a git repository) between `base` and `head` (the
/// working tree when `None`).
///
/// # Errors
///
/// When git fails, a revision does not exist, or the sources or a lockfile cannot be read.
pub fn run(path: &Path, base: &str, head: Option<&str>) -> anyhow::Result<Review> {
    let path = path.canonicalize().with_context(|| format!("{} does not exist", path.display()))?;
    let top = PathBuf::from(String::from_utf8(git(&path, &["rev-parse", "--show-toplevel"])?)?.trim());
    let prefix = path.strip_prefix(&top).unwrap_or(Path::new("")).to_path_buf();
    let base_tree = checkout(&top, &prefix, base)?;
    let head_tree = head.map(|rev| checkout(&top, &prefix, rev)).transpose()?;
    let head_project = head_tree.as_ref().map_or(path.as_path(), |tree| tree.project.as_path());
    let (at_base, at_head) = (snapshot::has_lockfile(&base_tree.project), snapshot::has_lockfile(head_project));
    let origin = if at_base && at_head { Origin::Lockfile } else { Origin::Sources };
    let before = snapshot::read(&base_tree.project, origin)?;
    let after = snapshot::read(head_project, origin)?;
    let mut review = Review {
        base: base.to_owned(),
        head: head.unwrap_or("working tree").to_owned(),
        origin,
        origin_note: match (at_base, at_head) {
            (true, true) => None,
            (false, false) => Some(format!("no {LOCKFILE} at either revision")),
            (false, true) => Some(format!("no {LOCKFILE} at the base")),
            (true, false) => Some(format!("no {LOCKFILE} at the head")),
        },
        ..Review::default()
    };
    compare::compare(&before, &after, &mut review);
    // Removing the lockfile turns the review back to reading the sources: itself a loosening,
    // which no comment accepts (keep the file, refreshed by the lock test).
    if at_base && !at_head {
        review.changes.insert(
            0,
            Change {
                rule: LOCKFILE_REMOVED,
                effect: Effect::Loosens,
                endpoint: None,
                message: format!(
                    "{LOCKFILE} was removed: what the compiled router mounts is no longer compared (restore it: \
                 RAMPART_LOCK=write cargo test --test lock)"
                ),
                before: None,
                after: None,
                file: LOCKFILE.to_owned(),
                line: 1,
                accepted: None,
            },
        );
    }
    drop((base_tree.dir, head_tree));
    Ok(review)
}

/// The line of `rampart.toml` that declares `name` (a scope or role in quotes, or a relation's
/// key: `viewer` of `note#viewer`), else 1.
pub(crate) fn declared_at(toml: &str, name: &str) -> usize {
    // A relation is listed as `note#viewer (implied by [...])`.
    let name = name.split(" (").next().unwrap_or(name);
    let key = name.rsplit('#').next().unwrap_or(name);
    let quoted = format!("\"{name}\"");
    toml.lines()
        .position(|line| {
            let line = line.trim_start();
            line.contains(&quoted) || line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map_or(1, |index| index + 1)
}

fn registry_change(rule: ReviewRule, effect: Effect, message: String, line: usize) -> Change {
    Change {
        rule,
        effect,
        endpoint: None,
        message,
        before: None,
        after: None,
        file: "rampart.toml".to_owned(),
        line,
        accepted: None,
    }
}

/// What the author wrote where a change happens.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Acceptance {
    /// `// rampart-review: accept(RULE) reason`: the reason.
    Accepted(String),
    /// `// rampart-review: accept(RULE)` with no reason, which does not count.
    WithoutReason,
    /// Nothing.
    None,
}

/// `// rampart-review: accept(RULE) reason` on `line` or the lines just above it (comments and
/// attributes).
pub(crate) fn acceptance(text: &str, line: usize, rule: &str) -> Acceptance {
    let lines: Vec<&str> = text.lines().collect();
    let Some(mut index) = line.checked_sub(1) else { return Acceptance::None };
    loop {
        let Some(current) = lines.get(index).map(|line| line.trim()) else { return Acceptance::None };
        if let Some(rest) = current.split_once("rampart-review:").map(|(_, rest)| rest.trim())
            && let Some(rest) = rest.strip_prefix("accept(")
            && let Some((rules, reason)) = rest.split_once(')')
            && rules.split(',').any(|r| r.trim() == rule)
        {
            let reason = reason.trim();
            return if reason.is_empty() { Acceptance::WithoutReason } else { Acceptance::Accepted(reason.to_owned()) };
        }
        let continues = index + 1 == line || current.starts_with("//") || current.starts_with("#[");
        if !continues || index == 0 {
            return Acceptance::None;
        }
        index -= 1;
    }
}

/// The reason of an acceptance, when one was given.
#[cfg(test)]
fn accepted(text: &str, line: usize, rule: &str) -> Option<String> {
    match acceptance(text, line, rule) {
        Acceptance::Accepted(reason) => Some(reason),
        Acceptance::WithoutReason | Acceptance::None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_acceptance_needs_the_rule_and_a_reason() {
        let text = "// rampart-review: accept(REVIEW003) the status page is public by design\n#[public(get, path = \"/s\", reason = \"x\")]\nasync fn s() {}\n";
        assert_eq!(accepted(text, 2, "REVIEW003").as_deref(), Some("the status page is public by design"));
        assert_eq!(accepted(text, 2, "REVIEW005"), None);
        let bare = "// rampart-review: accept(REVIEW003)\n#[public(get, path = \"/s\", reason = \"x\")]\n";
        assert_eq!(accepted(bare, 2, "REVIEW003"), None);
        assert_eq!(acceptance(bare, 2, "REVIEW003"), Acceptance::WithoutReason);
        let far = "// rampart-review: accept(REVIEW003) reason\nfn other() {}\n#[public(get, path = \"/s\", reason = \"x\")]\n";
        assert_eq!(accepted(far, 3, "REVIEW003"), None);
    }
}
