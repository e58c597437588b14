//! `rampart review`: what a change did to who can call what. The project's sources are read at
//! two git revisions (no build: the same syn reading as `audit`), and every security-relevant
//! difference becomes a finding with a stable rule id. A finding that loosens the contract fails
//! the review (exit 1) unless it is accepted where it happens, at the head revision, with
//! `// rampart-review: accept(RULE) reason` on the attribute's line or the line above.

mod policy;
pub mod report;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context as _, bail};

use crate::audit::{self, Route};

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
    ENDPOINT_ADDED = "REVIEW001", "endpoint-added", "An endpoint was added (a public one loosens the contract).";
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

/// What one revision declares.
struct Side {
    routes: BTreeMap<String, Route>,
    findings: Vec<audit::Finding>,
    registry: Registry,
    sources: BTreeMap<String, String>,
}

/// `rampart.toml`, as sets of declared names.
#[derive(Debug, Default, PartialEq, Eq)]
struct Registry {
    scopes: BTreeSet<String>,
    roles: BTreeSet<String>,
    relations: BTreeSet<String>,
    /// `type#relation` → the relations of the type that imply it directly.
    implied_by: BTreeMap<String, Vec<String>>,
}

impl Registry {
    /// `type#relation` and every relation that grants it, directly or not (`None` when the
    /// relation is not declared).
    fn granted_by(&self, qualified: &str) -> Option<BTreeSet<String>> {
        let (kind, _) = qualified.split_once('#')?;
        self.implied_by.get(qualified)?;
        let mut found = BTreeSet::from([qualified.to_owned()]);
        let mut queue = vec![qualified.to_owned()];
        while let Some(next) = queue.pop() {
            for implying in self.implied_by.get(&next).into_iter().flatten() {
                let implying = format!("{kind}#{implying}");
                if found.insert(implying.clone()) {
                    queue.push(implying);
                }
            }
        }
        Some(found)
    }
}

fn read_registry(project: &Path) -> Registry {
    let Ok(text) = std::fs::read_to_string(project.join("rampart.toml")) else { return Registry::default() };
    let Ok(table) = text.parse::<toml::Table>() else { return Registry::default() };
    let mut registry = Registry::default();
    if let Some(scopes) = table.get("scopes").and_then(toml::Value::as_table) {
        registry.scopes = scopes.keys().cloned().collect();
    }
    if let Some(roles) = table.get("roles").and_then(toml::Value::as_array) {
        registry.roles = roles.iter().filter_map(|r| r.as_str().map(str::to_owned)).collect();
    }
    if let Some(types) = table.get("relations").and_then(toml::Value::as_table) {
        for (kind, relations) in types {
            for (relation, implied_by) in relations.as_table().into_iter().flatten() {
                let implied_by: Vec<&str> =
                    implied_by.as_array().into_iter().flatten().filter_map(toml::Value::as_str).collect();
                registry.relations.insert(format!("{kind}#{relation} (implied by [{}])", implied_by.join(", ")));
                registry
                    .implied_by
                    .insert(format!("{kind}#{relation}"), implied_by.iter().map(|r| (*r).to_owned()).collect());
            }
        }
    }
    registry
}

fn read_side(project: &Path) -> anyhow::Result<Side> {
    let result = audit::run(project)?;
    let mut routes = BTreeMap::new();
    let mut sources = BTreeMap::new();
    for route in result.routes {
        let file = project.join(&route.file);
        if let Ok(text) = std::fs::read_to_string(&file) {
            sources.insert(route.file.clone(), text);
        }
        routes.insert(format!("{} {}", route.method, route.path), route);
    }
    for finding in &result.findings {
        if !sources.contains_key(&finding.file)
            && let Ok(text) = std::fs::read_to_string(project.join(&finding.file))
        {
            sources.insert(finding.file.clone(), text);
        }
    }
    if let Ok(text) = std::fs::read_to_string(project.join("rampart.toml")) {
        sources.insert("rampart.toml".to_owned(), text);
    }
    Ok(Side { routes, findings: result.findings, registry: read_registry(project), sources })
}

/// Reviews the project at `path` (inside a git repository) between `base` and `head` (the
/// working tree when `None`).
///
/// # Errors
///
/// When git fails, a revision does not exist, or the sources cannot be read.
pub fn run(path: &Path, base: &str, head: Option<&str>) -> anyhow::Result<Review> {
    let path = path.canonicalize().with_context(|| format!("{} does not exist", path.display()))?;
    let top = PathBuf::from(String::from_utf8(git(&path, &["rev-parse", "--show-toplevel"])?)?.trim());
    let prefix = path.strip_prefix(&top).unwrap_or(Path::new("")).to_path_buf();
    let base_tree = checkout(&top, &prefix, base)?;
    let before = read_side(&base_tree.project)?;
    let head_tree = head.map(|rev| checkout(&top, &prefix, rev)).transpose()?;
    let after = read_side(head_tree.as_ref().map_or(path.as_path(), |tree| tree.project.as_path()))?;
    let mut review =
        Review { base: base.to_owned(), head: head.unwrap_or("working tree").to_owned(), ..Review::default() };
    compare(&before, &after, &mut review);
    drop((base_tree.dir, head_tree));
    Ok(review)
}

/// `N/unit` or `N per unit` as requests per hour (for comparison only).
fn per_hour(rate: &str) -> Option<f64> {
    let rate = rate.replace(" per ", "/");
    let (count, unit) = rate.split_once('/')?;
    let count: f64 = count.trim().parse().ok()?;
    let seconds = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "min" | "minute" | "m" => 60.0,
        "h" | "hour" => 3600.0,
        "day" | "d" => 86_400.0,
        _ => return None,
    };
    Some(count * 3600.0 / seconds)
}

fn bytes(limit: &str) -> Option<f64> {
    let limit = limit.trim().trim_matches('"');
    let split = limit.find(|c: char| !c.is_ascii_digit()).unwrap_or(limit.len());
    let (number, unit) = limit.split_at(split);
    let number: f64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" | "KB" | "kB" => 1024.0,
        "MiB" | "MB" => 1024.0 * 1024.0,
        "GiB" | "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    Some(number * factor)
}

/// `type#relation` for a bare `relation` that one type of `registry` declares.
fn qualify(relation: &str, registry: &Registry) -> String {
    if relation.contains('#') {
        return relation.to_owned();
    }
    let mut owners = registry.implied_by.keys().filter(|key| key.split_once('#').is_some_and(|(_, r)| r == relation));
    match (owners.next(), owners.next()) {
        (Some(one), None) => one.clone(),
        _ => relation.to_owned(),
    }
}

/// The contract of an endpoint in one line, for the markdown table.
fn contract_line(route: &Route) -> String {
    let mut parts = vec![route.access.clone()];
    for key in ["rate", "burst", "rate_key", "body_limit", "validate", "load", "owner", "relation", "dpop", "auth"] {
        if let Some(value) = route.arguments.get(key) {
            parts.push(format!("{key} = {value}"));
        }
    }
    parts.join(", ")
}

/// The credentials a route accepts, as its attribute says: `auth = [...]`, else DPoP-bound
/// tokens only with `dpop = "required"`, else all of them (whatever the service accepts).
fn accepted_credentials(route: &Route) -> BTreeSet<&'static str> {
    const ALL: [&str; 3] = ["api_key", "bearer", "dpop"];
    if let Some(list) = route.arguments.get("auth") {
        return ALL.into_iter().filter(|name| list.contains(&format!("\"{name}\""))).collect();
    }
    match route.arguments.get("dpop") {
        Some(value) if value.trim_matches('"') == "required" => BTreeSet::from(["dpop"]),
        _ => ALL.into_iter().collect(),
    }
}

/// Reads a limit's value as a number to compare (`None`: unreadable).
type Measure = fn(&str) -> Option<f64>;

struct Differ<'a> {
    after: &'a Side,
    review: &'a mut Review,
}

impl Differ<'_> {
    fn push(
        &mut self,
        rule: ReviewRule,
        effect: Effect,
        route: &Route,
        message: String,
        before: Option<String>,
        after: Option<String>,
    ) {
        let endpoint = Some(format!("{} {}", route.method, route.path));
        self.review.changes.push(Change {
            rule,
            effect,
            endpoint,
            message,
            before,
            after,
            file: route.file.clone(),
            line: route.line,
            accepted: None,
        });
    }

    fn endpoint(&mut self, old: &Route, new: &Route) {
        let name = format!("{} {}", new.method, new.path);
        match (old.kind == "public", new.kind == "public") {
            (false, true) => self.push(
                BECAME_PUBLIC,
                Effect::Loosens,
                new,
                format!("`{name}` became #[public]: {}", new.access),
                Some(old.access.clone()),
                Some(new.access.clone()),
            ),
            (true, false) => self.push(
                POLICY_TIGHTENED,
                Effect::Info,
                new,
                format!("`{name}` is no longer public"),
                Some(old.access.clone()),
                Some(new.access.clone()),
            ),
            (true, true) if old.arguments.get("reason") != new.arguments.get("reason") => self.push(
                PUBLIC_REASON_CHANGED,
                Effect::Info,
                new,
                format!("the reason `{name}` is public changed"),
                old.arguments.get("reason").cloned(),
                new.arguments.get("reason").cloned(),
            ),
            _ => {}
        }
        if old.kind == "secure" && new.kind == "secure" && old.policy != new.policy {
            let change = policy::compare(&old.policy, &new.policy).unwrap_or_else(|| {
                // Unreadable items: judged by the text (a removed item or a new `any` loosens).
                let before: BTreeSet<&String> = old.policy.iter().collect();
                let now: BTreeSet<&String> = new.policy.iter().collect();
                let widened = now.difference(&before).any(|item| item.starts_with("any("));
                if before.difference(&now).next().is_some() || widened || new.policy.is_empty() {
                    policy::Change::Loosened
                } else {
                    policy::Change::Tightened
                }
            });
            let verdict = match change {
                policy::Change::Loosened => Some((POLICY_LOOSENED, Effect::Loosens, "loosened")),
                policy::Change::Tightened => Some((POLICY_TIGHTENED, Effect::Info, "tightened")),
                policy::Change::Same => None,
            };
            if let Some((rule, effect, what)) = verdict {
                self.push(
                    rule,
                    effect,
                    new,
                    format!("the policy of `{name}` {what}"),
                    Some(old.access.clone()),
                    Some(new.access.clone()),
                );
            }
        }
        self.limits(&name, old, new);
        for key in ["load", "owner", "relation"] {
            let (was, is) = (old.arguments.get(key), new.arguments.get(key));
            if was.is_none() || was == is {
                continue;
            }
            let Some(is) = is else {
                let message = format!("`{name}` no longer checks its resource's `{key}`");
                self.push(RESOURCE_CHECK_CHANGED, Effect::Loosens, new, message, was.cloned(), None);
                continue;
            };
            // A relation fewer relations grant (`viewer` -> `editor`) tightens; anything else may loosen.
            let narrower = key == "relation"
                && was.and_then(|was| self.after.registry.granted_by(&qualify(was, &self.after.registry))).is_some_and(
                    |before| {
                        self.after
                            .registry
                            .granted_by(&qualify(is, &self.after.registry))
                            .is_some_and(|after| after.is_subset(&before))
                    },
                );
            let (effect, verb) = if narrower { (Effect::Info, "narrowed") } else { (Effect::Loosens, "changed") };
            let message = format!("the `{key}` check of `{name}` {verb}");
            self.push(RESOURCE_CHECK_CHANGED, effect, new, message, was.cloned(), Some(is.clone()));
        }
    }

    fn limits(&mut self, name: &str, old: &Route, new: &Route) {
        let compare =
            |key: &str, measure: fn(&str) -> Option<f64>| -> Option<(Effect, Option<String>, Option<String>)> {
                let (was, is) = (old.arguments.get(key), new.arguments.get(key));
                if was == is {
                    return None;
                }
                let effect = match (was.and_then(|v| measure(v)), is.and_then(|v| measure(v))) {
                    (Some(_), None) if is.is_none() => Effect::Loosens,
                    (None, Some(_)) if was.is_none() => Effect::Info,
                    (Some(a), Some(b)) if b > a => Effect::Loosens,
                    (Some(_), Some(_)) => Effect::Info,
                    _ => Effect::Loosens,
                };
                Some((effect, was.cloned(), is.cloned()))
            };
        let checks: [(&str, Measure); 3] =
            [("rate", per_hour), ("burst", |v| v.trim().parse().ok()), ("body_limit", bytes)];
        for (key, measure) in checks {
            if let Some((effect, was, is)) = compare(key, measure) {
                let verb = match (&was, &is, effect) {
                    (Some(_), None, _) => "removed",
                    (None, Some(_), _) => "added",
                    (_, _, Effect::Loosens) => "raised",
                    _ => "lowered",
                };
                let rule = if effect == Effect::Loosens { LIMIT_LOOSENED } else { LIMIT_TIGHTENED };
                self.push(rule, effect, new, format!("the `{key}` of `{name}` was {verb}"), was, is);
            }
        }
        let (was, is) = (old.arguments.get("validate"), new.arguments.get("validate"));
        if was != is {
            let off = |v: Option<&String>| v.is_some_and(|v| v == "false");
            let (rule, effect, message) = if off(is) {
                (LIMIT_LOOSENED, Effect::Loosens, format!("`{name}` no longer validates its body (`validate = false`)"))
            } else {
                (LIMIT_TIGHTENED, Effect::Info, format!("`{name}` validates its body again"))
            };
            self.push(rule, effect, new, message, was.cloned(), is.cloned());
        }
        // The credentials it accepts (`auth = [...]`, `dpop = "required"`), compared as sets: a
        // rewrite that accepts the same ones (`dpop = "required"` -> `auth = ["dpop"]`) is none.
        let (before, after) = (accepted_credentials(old), accepted_credentials(new));
        if before != after {
            let added: Vec<&str> = after.difference(&before).copied().collect();
            let removed: Vec<&str> = before.difference(&after).copied().collect();
            let uses_auth = old.arguments.contains_key("auth") || new.arguments.contains_key("auth");
            let (rule, effect, message) = match (added.is_empty(), uses_auth) {
                (false, true) => (
                    POLICY_LOOSENED,
                    Effect::Loosens,
                    format!("`{name}` now also accepts {} (`auth`)", added.join(", ")),
                ),
                (true, true) => (
                    POLICY_TIGHTENED,
                    Effect::Info,
                    format!("`{name}` no longer accepts {} (`auth`)", removed.join(", ")),
                ),
                (false, false) => (
                    POLICY_LOOSENED,
                    Effect::Loosens,
                    format!("`{name}` no longer requires DPoP-bound tokens (`dpop = \"required\"` removed)"),
                ),
                (true, false) => (POLICY_TIGHTENED, Effect::Info, format!("`{name}` requires DPoP-bound tokens")),
            };
            let (was, is) = if uses_auth {
                let shown = |set: &BTreeSet<&str>| Some(set.iter().copied().collect::<Vec<_>>().join(", "));
                (shown(&before), shown(&after))
            } else {
                (old.arguments.get("dpop").cloned(), new.arguments.get("dpop").cloned())
            };
            self.push(rule, effect, new, message, was, is);
        }
    }
}

fn compare(before: &Side, after: &Side, review: &mut Review) {
    let mut differ = Differ { after, review };
    for (name, new) in &after.routes {
        match before.routes.get(name) {
            None => {
                let effect = if new.kind == "public" { Effect::Loosens } else { Effect::Info };
                differ.push(
                    ENDPOINT_ADDED,
                    effect,
                    new,
                    format!("`{name}` was added: {}", contract_line(new)),
                    None,
                    Some(contract_line(new)),
                );
            }
            Some(old) => differ.endpoint(old, new),
        }
    }
    for (name, old) in &before.routes {
        if !after.routes.contains_key(name) {
            differ.push(
                ENDPOINT_REMOVED,
                Effect::Info,
                old,
                format!("`{name}` was removed"),
                Some(contract_line(old)),
                None,
            );
        }
    }
    let known: BTreeSet<&str> = before.findings.iter().map(|f| f.fingerprint.as_str()).collect();
    for finding in after.findings.iter().filter(|f| !known.contains(f.fingerprint.as_str())) {
        differ.review.changes.push(Change {
            rule: AUDIT_FINDING_ADDED,
            effect: Effect::Loosens,
            endpoint: None,
            message: format!("new {}: {}", finding.rule.id, finding.message),
            before: None,
            after: None,
            file: finding.file.clone(),
            line: finding.line,
            accepted: None,
        });
    }
    // An addition is located where the head's rampart.toml declares it; a removal at its top.
    let toml = differ.after.sources.get("rampart.toml").cloned().unwrap_or_default();
    let registry = |label: &str, was: &BTreeSet<String>, is: &BTreeSet<String>, changes: &mut Vec<Change>| {
        for removed in was.difference(is) {
            changes.push(registry_change(format!("{label} `{removed}` removed from rampart.toml"), 1));
        }
        for added in is.difference(was) {
            let line = declared_at(&toml, added);
            changes.push(registry_change(format!("{label} `{added}` added to rampart.toml"), line));
        }
    };
    let changes = &mut differ.review.changes;
    registry("scope", &before.registry.scopes, &after.registry.scopes, changes);
    registry("role", &before.registry.roles, &after.registry.roles, changes);
    registry("relation", &before.registry.relations, &after.registry.relations, changes);

    for change in &mut differ.review.changes {
        if let Some(text) = differ.after.sources.get(&change.file) {
            match acceptance(text, change.line, change.rule.id) {
                Acceptance::Accepted(reason) => change.accepted = Some(reason),
                Acceptance::WithoutReason if change.effect == Effect::Loosens => change.message.push_str(&format!(
                    " (`accept({})` here has no reason and is ignored: write why after it)",
                    change.rule.id
                )),
                Acceptance::WithoutReason | Acceptance::None => {}
            }
        }
    }
    let mut contracts: BTreeMap<String, (Option<String>, Option<String>)> = BTreeMap::new();
    for change in &differ.review.changes {
        if let Some(endpoint) = &change.endpoint {
            let before = before.routes.get(endpoint).map(contract_line);
            let after = after.routes.get(endpoint).map(contract_line);
            contracts.insert(endpoint.clone(), (before, after));
        }
    }
    differ.review.contracts = contracts.into_iter().map(|(k, (b, a))| (k, b, a)).collect();
    differ.review.changes.sort_by(|a, b| (&a.file, a.line, a.rule.id).cmp(&(&b.file, b.line, b.rule.id)));
}

/// The line of `rampart.toml` that declares `name` (a scope or role in quotes, or a relation's
/// key: `viewer` of `note#viewer`), else 1.
fn declared_at(toml: &str, name: &str) -> usize {
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

fn registry_change(message: String, line: usize) -> Change {
    Change {
        rule: REGISTRY_CHANGED,
        effect: Effect::Info,
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
enum Acceptance {
    /// `// rampart-review: accept(RULE) reason`: the reason.
    Accepted(String),
    /// `// rampart-review: accept(RULE)` with no reason, which does not count.
    WithoutReason,
    /// Nothing.
    None,
}

/// `// rampart-review: accept(RULE) reason` on `line` or the lines just above it (comments and
/// attributes).
fn acceptance(text: &str, line: usize, rule: &str) -> Acceptance {
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

    #[test]
    fn rates_and_sizes_compare_across_units() {
        assert!(per_hour("10/min") > per_hour("100/h"));
        assert_eq!(per_hour("1 per s"), Some(3600.0));
        assert_eq!(bytes("\"1MiB\""), Some(1_048_576.0));
        assert_eq!(bytes("4096"), Some(4096.0));
    }
}
