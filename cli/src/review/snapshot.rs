//! What one revision declares: every endpoint's contract and the registry. Read from the
//! security lockfile (`rampart.lock`, written from the compiled router's inventory by
//! `rampart::lock`) when the revision has one; otherwise from the sources, each attribute read by
//! `rampart-macros-core` as the compiler reads it (the same grammar of rates, sizes, durations
//! and policies), which a reader can miss code in and is marked as such.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::Context as _;

use crate::audit;

/// The lockfile's name, beside the project's `Cargo.toml`.
pub const LOCKFILE: &str = "rampart.lock";

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Access {
    Secure,
    Public,
}

/// A rate limit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Rate {
    pub(super) count: u32,
    pub(super) period_secs: u64,
    pub(super) burst: u32,
    pub(super) key: String,
}

/// One endpoint's contract, as the lockfile lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Endpoint {
    /// `module::handler` (lockfile) or `file::handler` (sources).
    pub(super) handler: String,
    pub(super) file: String,
    pub(super) method: String,
    pub(super) path: String,
    pub(super) access: Access,
    #[serde(default)]
    pub(super) reason: Option<String>,
    #[serde(default)]
    pub(super) policy: Option<String>,
    #[serde(default)]
    pub(super) auth: Option<BTreeSet<String>>,
    #[serde(default)]
    pub(super) rate: Option<Rate>,
    pub(super) body_limit: u64,
    pub(super) validate: bool,
    #[serde(default)]
    pub(super) timeout_ms: Option<u64>,
    #[serde(default)]
    pub(super) load: Option<String>,
    #[serde(default)]
    pub(super) owner: Option<String>,
    #[serde(default)]
    pub(super) relation: Option<String>,
    pub(super) status: u16,
    /// Where the attribute is, in this revision's sources (repository-relative file, line).
    #[serde(skip)]
    pub(super) location: (String, usize),
}

impl Endpoint {
    /// `METHOD /path`.
    pub(super) fn name(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// The handler's own name, without its module or file.
    pub(super) fn bare_handler(&self) -> &str {
        self.handler.rsplit("::").next().unwrap_or(&self.handler)
    }

    /// The contract in one line, for the markdown table and additions.
    pub(super) fn contract_line(&self) -> String {
        let mut parts = vec![match self.access {
            Access::Public => format!("public ({})", self.reason.as_deref().unwrap_or_default()),
            Access::Secure => self.policy.clone().unwrap_or_else(|| "authenticated".to_owned()),
        }];
        if let Some(auth) = &self.auth {
            parts.push(format!("auth = [{}]", auth.iter().cloned().collect::<Vec<_>>().join(", ")));
        }
        if let Some(rate) = &self.rate {
            parts.push(format!("rate = {}/{}s burst {} per {}", rate.count, rate.period_secs, rate.burst, rate.key));
        }
        parts.push(format!("body_limit = {}", self.body_limit));
        if !self.validate {
            parts.push("validate = false".to_owned());
        }
        if let Some(ms) = self.timeout_ms {
            parts.push(format!("timeout = {ms}ms"));
        }
        for (key, value) in [("load", &self.load), ("owner", &self.owner), ("relation", &self.relation)] {
            if let Some(value) = value {
                parts.push(format!("{key} = {value}"));
            }
        }
        parts.join(", ")
    }

    fn of_contract(file: &str, line: usize, contract: &rampart_macros_core::Contract) -> Self {
        let secure = contract.policy.is_some();
        Endpoint {
            handler: format!("{file}::{}", contract.handler),
            file: file.to_owned(),
            method: contract.method.to_owned(),
            path: contract.path.clone(),
            access: if secure { Access::Secure } else { Access::Public },
            reason: contract.public_reason.clone(),
            policy: contract.policy.clone(),
            auth: secure.then(|| contract.accepts.iter().map(|name| (*name).to_owned()).collect()),
            rate: contract.rate.map(|rate| Rate {
                count: rate.count,
                period_secs: rate.period_secs,
                burst: rate.burst,
                key: rate.key.to_owned(),
            }),
            body_limit: contract.body_limit as u64,
            validate: contract.validate,
            timeout_ms: contract.timeout_ms,
            load: contract.load.clone(),
            owner: contract.owner.clone(),
            relation: contract.relation.clone(),
            status: contract.status,
            location: (file.to_owned(), line),
        }
    }
}

/// `rampart.toml`'s declarations.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Registry {
    #[serde(default)]
    pub(super) scopes: BTreeSet<String>,
    #[serde(default)]
    pub(super) roles: BTreeSet<String>,
    /// Type -> relation -> the relations that imply it directly.
    #[serde(default)]
    pub(super) relations: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Type -> role -> the relation it holds on every object of the type.
    #[serde(default)]
    pub(super) grants: BTreeMap<String, BTreeMap<String, String>>,
}

impl Registry {
    fn of(registry: &rampart_macros_core::Registry) -> Self {
        let mut out = Registry {
            scopes: registry.scopes.iter().map(|(scope, _)| scope.clone()).collect(),
            roles: registry.roles.iter().cloned().collect(),
            ..Registry::default()
        };
        for (kind, relations) in &registry.relations {
            let of_kind = out.relations.entry(kind.clone()).or_default();
            for (relation, implied_by) in relations {
                of_kind.entry(relation.clone()).or_default().extend(implied_by.iter().cloned());
            }
        }
        for (kind, role, relation) in &registry.grants {
            out.grants.entry(kind.clone()).or_default().insert(role.clone(), relation.clone());
        }
        out
    }

    /// `relation` of `kind` and every relation that grants it, directly or not (`None` when
    /// not declared).
    pub(super) fn granted_by(&self, kind: &str, relation: &str) -> Option<BTreeSet<String>> {
        let relations = self.relations.get(kind)?;
        relations.get(relation)?;
        let mut found = BTreeSet::from([relation.to_owned()]);
        let mut queue = vec![relation.to_owned()];
        while let Some(next) = queue.pop() {
            for implying in relations.get(&next).into_iter().flatten() {
                if found.insert(implying.clone()) {
                    queue.push(implying.clone());
                }
            }
        }
        Some(found)
    }

    /// The relations of `kind` that holding `relation` gives.
    pub(super) fn grants_of(&self, kind: &str, relation: &str) -> BTreeSet<String> {
        let Some(relations) = self.relations.get(kind) else { return BTreeSet::new() };
        relations
            .keys()
            .filter(|candidate| self.granted_by(kind, candidate).is_some_and(|by| by.contains(relation)))
            .cloned()
            .collect()
    }

    /// `type#relation` for `text`, a bare relation only one type declares.
    pub(super) fn qualify(&self, text: &str) -> Option<(String, String)> {
        if let Some((kind, relation)) = text.split_once('#') {
            return Some((kind.to_owned(), relation.to_owned()));
        }
        let mut kinds = self.relations.iter().filter(|(_, relations)| relations.contains_key(text));
        match (kinds.next(), kinds.next()) {
            (Some((kind, _)), None) => Some((kind.clone(), text.to_owned())),
            _ => None,
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Lockfile {
    version: u32,
    #[serde(default)]
    registry: Registry,
    #[serde(default)]
    endpoint: Vec<Endpoint>,
}

/// Where the contracts came from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Origin {
    /// The lockfile at both revisions: what the compiled routers mount.
    #[default]
    Lockfile,
    /// The sources (the lockfile is missing at the base, the head, or both).
    Sources,
}

/// What one revision declares.
pub(super) struct Snapshot {
    pub(super) endpoints: Vec<Endpoint>,
    pub(super) registry: Registry,
    /// The audit of the sources: raw routes and the other rules, suppressions, locations.
    pub(super) audit: audit::Audit,
    /// Repository-relative file -> text, for locations and acceptances.
    pub(super) sources: BTreeMap<String, String>,
    /// Why an attribute could not be read (file, line, handler, message), in the sources mode.
    pub(super) unreadable: Vec<(String, usize, String, String)>,
}

/// The lockfile of the project at `project`, when it has one.
pub(super) fn has_lockfile(project: &Path) -> bool {
    project.join(LOCKFILE).is_file()
}

/// Reads a revision: the lockfile when `origin` says so, else the sources.
pub(super) fn read(project: &Path, origin: Origin) -> anyhow::Result<Snapshot> {
    let audit = audit::run(project)?;
    let mut sources = BTreeMap::new();
    let files = audit.routes.iter().map(|r| r.file.clone()).chain(audit.findings.iter().map(|f| f.file.clone()));
    let files: BTreeSet<String> =
        files.chain(audit.suppressions.iter().map(|s| s.file.clone())).chain(["rampart.toml".to_owned()]).collect();
    for file in files {
        if let Ok(text) = std::fs::read_to_string(project.join(&file)) {
            sources.insert(file, text);
        }
    }
    let mut unreadable = Vec::new();
    let (endpoints, registry) = match origin {
        Origin::Lockfile => {
            let text = std::fs::read_to_string(project.join(LOCKFILE)).context("reading rampart.lock")?;
            let lock: Lockfile = toml::from_str(&text).context("rampart.lock is not a lockfile rampart::lock wrote")?;
            anyhow::ensure!(
                lock.version == 1,
                "rampart.lock has version {}; this rampart reads version 1",
                lock.version
            );
            let mut endpoints = lock.endpoint;
            for endpoint in &mut endpoints {
                endpoint.location = locate(endpoint, &audit, project);
            }
            (endpoints, lock.registry)
        }
        Origin::Sources => {
            let mut endpoints = Vec::new();
            for route in &audit.routes {
                match &route.contract {
                    Ok(contract) => endpoints.push(Endpoint::of_contract(&route.file, route.line, contract)),
                    Err(message) => {
                        // The checkout is a temporary directory: name its files from the project.
                        let mut message = message.clone();
                        for root in [project.to_path_buf(), project.canonicalize().unwrap_or_default()] {
                            message = message.replace(&format!("{}/", root.display()), "");
                        }
                        unreadable.push((route.file.clone(), route.line, route.handler.clone(), message));
                    }
                }
            }
            let registry = match project.join("rampart.toml") {
                file if file.is_file() => {
                    Registry::of(&rampart_macros_core::read_registry(&file).map_err(anyhow::Error::msg)?)
                }
                _ => Registry::default(),
            };
            (endpoints, registry)
        }
    };
    Ok(Snapshot { endpoints, registry, audit, sources, unreadable })
}

/// Where a lockfile endpoint's attribute is in the sources: the route the source reader found
/// with the same handler in the same file, else the file's first line.
fn locate(endpoint: &Endpoint, audit: &audit::Audit, project: &Path) -> (String, usize) {
    let same_file = |file: &str| endpoint.file == file || endpoint.file.ends_with(&format!("/{file}"));
    let found = audit
        .routes
        .iter()
        .find(|route| route.handler == endpoint.bare_handler() && same_file(&route.file) && route.path != "?");
    if let Some(route) = found {
        return (route.file.clone(), route.line);
    }
    // The compiler names the file from the workspace's root: the longest tail that exists here.
    let parts: Vec<&str> = endpoint.file.split('/').collect();
    for start in 0..parts.len() {
        let tail = parts[start..].join("/");
        if project.join(&tail).is_file() {
            return (tail, 1);
        }
    }
    (endpoint.file.clone(), 1)
}
