//! The security lockfile: a committed, diff-friendly listing of every endpoint the compiled
//! router mounts, with everything that decides who may call it, and the `rampart.toml` the
//! attributes were checked against. It is written from [`Router::inventory`](crate::Router::inventory), so code that a
//! text reader misses (an item behind a `cfg`, made by a macro, in an unusual file) is in it
//! exactly when it is mounted. `rampart review` compares it between two revisions.
//!
//! A test keeps it fresh: [`check`] fails when the committed file differs from what the router
//! mounts, and `RAMPART_LOCK=write` writes it instead.
//!
//! # Examples
//!
//! ```
//! use rampart::prelude::*;
//!
//! #[secure(get, path = "/me", scope = "profile:read", rate = "10/min")]
//! async fn me(user: Principal) -> String {
//!     user.subject().to_owned()
//! }
//!
//! let router: Router = Router::new().mount(me);
//! let lock = rampart::lock::render(router.inventory());
//! assert!(lock.contains("path = \"/me\"\naccess = \"secure\"\npolicy = \"scope = \\\"profile:read\\\"\""));
//! assert!(lock.contains("rate = { count = 10, period_secs = 60, burst = 10, key = \"sub\" }"));
//! ```
//!
//! In a project, one test (the scaffold generates it):
//!
//! ```no_run
//! # let router: rampart::Router = rampart::Router::new();
//! if let Err(stale) = rampart::lock::check(router.inventory(), concat!(env!("CARGO_MANIFEST_DIR"), "/rampart.lock")) {
//!     panic!("{stale}");
//! }
//! ```
//!
//! # Security
//!
//! The file lists contracts, never secrets: policies, rates, limits, the names of loaders and
//! relations, the registry's names.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Write as _};
use std::path::{Path, PathBuf};

use crate::contract::{Access, EndpointInfo};

/// The lockfile's format version.
pub const VERSION: u32 = 1;

/// The environment variable that makes [`check`] write the file instead of comparing.
pub const WRITE_VARIABLE: &str = "RAMPART_LOCK";

/// A TOML basic string (JSON's escapes are TOML's).
fn quoted(text: &str) -> String {
    serde_json::Value::String(text.to_owned()).to_string()
}

fn list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    let items: Vec<String> = items.into_iter().map(quoted).collect();
    format!("[{}]", items.join(", "))
}

/// The registries the endpoints were checked against, merged (one project has one).
#[derive(Default)]
struct MergedRegistry {
    scopes: BTreeSet<&'static str>,
    roles: BTreeSet<&'static str>,
    relations: BTreeMap<&'static str, BTreeMap<&'static str, BTreeSet<&'static str>>>,
    grants: BTreeMap<&'static str, BTreeMap<&'static str, &'static str>>,
}

impl MergedRegistry {
    fn of(inventory: &[&EndpointInfo]) -> Self {
        let mut merged = Self::default();
        let mut seen: Vec<*const crate::contract::Registry> = Vec::new();
        for registry in inventory.iter().filter_map(|info| info.registry) {
            let pointer = std::ptr::from_ref(registry);
            if seen.contains(&pointer) {
                continue;
            }
            seen.push(pointer);
            merged.scopes.extend(registry.scopes);
            merged.roles.extend(registry.roles);
            for (kind, relations) in registry.relations {
                let of_kind = merged.relations.entry(kind).or_default();
                for (relation, implied_by) in *relations {
                    of_kind.entry(relation).or_default().extend(implied_by.iter());
                }
            }
            for (kind, role, relation) in registry.grants {
                merged.grants.entry(kind).or_default().insert(role, relation);
            }
        }
        merged
    }

    fn write(&self, out: &mut String) {
        out.push_str("[registry]\n");
        let _ = writeln!(out, "scopes = {}", list(self.scopes.iter().copied()));
        let _ = writeln!(out, "roles = {}", list(self.roles.iter().copied()));
        for (kind, relations) in &self.relations {
            let _ = writeln!(out, "\n[registry.relations.{}]", quoted(kind));
            for (relation, implied_by) in relations {
                let _ = writeln!(out, "{} = {}", quoted(relation), list(implied_by.iter().copied()));
            }
        }
        for (kind, grants) in &self.grants {
            let _ = writeln!(out, "\n[registry.grants.{}]", quoted(kind));
            for (role, relation) in grants {
                let _ = writeln!(out, "{} = {}", quoted(role), quoted(relation));
            }
        }
    }
}

/// The endpoint's identity: the module path and the handler's name.
fn identity(info: &EndpointInfo) -> String {
    if info.module.ends_with("mount_service") {
        info.module.to_owned()
    } else {
        format!("{}::{}", info.module, info.handler)
    }
}

/// The attribute's file as the lockfile names it, the same on every machine: Rampart's own
/// endpoints are `(rampart)`; an absolute path (a dependency outside the workspace) is made
/// relative to the working directory when it is inside it.
fn file_name(info: &EndpointInfo) -> String {
    if info.module.starts_with("rampart::") {
        return "(rampart)".to_owned();
    }
    let file = Path::new(info.file);
    let relative = std::env::current_dir()
        .ok()
        .filter(|_| file.is_absolute())
        .and_then(|dir| file.strip_prefix(dir).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| file.to_path_buf());
    relative.to_string_lossy().replace('\\', "/")
}

fn write_endpoint(info: &EndpointInfo, out: &mut String) {
    out.push_str("\n[[endpoint]]\n");
    let _ = writeln!(out, "handler = {}", quoted(&identity(info)));
    let _ = writeln!(out, "file = {}", quoted(&file_name(info)));
    let _ = writeln!(out, "method = {}", quoted(info.method.as_str()));
    let _ = writeln!(out, "path = {}", quoted(info.path));
    match &info.access {
        Access::Public { reason } => {
            let _ = writeln!(out, "access = \"public\"\nreason = {}", quoted(reason));
        }
        Access::Secured(policy) => {
            let _ = writeln!(out, "access = \"secure\"\npolicy = {}", quoted(&policy.to_string()));
            let _ = writeln!(out, "auth = {}", list(sorted_names(info.accepts.names())));
        }
    }
    if let Some(rate) = &info.rate {
        let _ = writeln!(
            out,
            "rate = {{ count = {}, period_secs = {}, burst = {}, key = {} }}",
            rate.count,
            rate.period_secs,
            rate.burst,
            quoted(rate.key.as_str())
        );
    }
    let _ = writeln!(out, "body_limit = {}\nvalidate = {}", info.body_limit, info.validate);
    if let Some(timeout) = info.timeout {
        let _ = writeln!(out, "timeout_ms = {}", timeout.as_millis());
    }
    for (key, value) in [("load", info.load), ("owner", info.owner), ("relation", info.relation)] {
        if let Some(value) = value {
            let _ = writeln!(out, "{key} = {}", quoted(value));
        }
    }
    let _ = writeln!(out, "status = {}", info.status);
}

fn sorted_names(names: Vec<&'static str>) -> Vec<&'static str> {
    let mut names = names;
    names.sort_unstable();
    names
}

/// The lockfile of `inventory`, in a stable order (path, method, handler).
pub fn render(inventory: &[&EndpointInfo]) -> String {
    let mut out = String::from(
        "# rampart.lock: the security contract of every endpoint the compiled router mounts, and the\n\
         # rampart.toml the attributes were checked against. Written from Router::inventory() by\n\
         # rampart::lock; `rampart review` compares it between revisions. Do not edit it by hand:\n\
         # run the test that checks it with RAMPART_LOCK=write, then review the diff.\n",
    );
    let _ = writeln!(out, "version = {VERSION}\n");
    MergedRegistry::of(inventory).write(&mut out);
    let mut endpoints: Vec<&&EndpointInfo> = inventory.iter().collect();
    endpoints.sort_by_key(|info| (info.path, info.method.as_str(), identity(info)));
    for info in endpoints {
        write_endpoint(info, &mut out);
    }
    out
}

/// The committed lockfile differs from what the router mounts.
#[derive(Debug)]
pub struct Stale {
    file: PathBuf,
    reason: String,
    differences: Vec<String>,
}

impl fmt::Display for Stale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", self.file.display(), self.reason)?;
        for line in &self.differences {
            writeln!(f, "  {line}")?;
        }
        write!(
            f,
            "if the change is intended, refresh it: run this test again with {WRITE_VARIABLE}=write, \
             then commit the file with the change (`rampart review` shows reviewers what it loosens)"
        )
    }
}

impl std::error::Error for Stale {}

/// Compares `file` with the lockfile of `inventory`; with `RAMPART_LOCK=write` in the
/// environment, writes it instead.
///
/// # Errors
///
/// [`Stale`] when the file is missing, unreadable or differs (its message lists the lines that
/// differ and says how to refresh it), or cannot be written.
pub fn check(inventory: &[&EndpointInfo], file: impl AsRef<Path>) -> Result<(), Stale> {
    let file = file.as_ref();
    let expected = render(inventory);
    let stale = |reason: String, differences| Stale { file: file.to_path_buf(), reason, differences };
    if std::env::var_os(WRITE_VARIABLE).is_some_and(|value| value == "write") {
        return std::fs::write(file, &expected).map_err(|err| stale(format!("cannot be written: {err}"), Vec::new()));
    }
    let committed = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(err) => return Err(stale(format!("cannot be read ({err}): the lockfile is missing"), Vec::new())),
    };
    if committed.replace("\r\n", "\n") == expected {
        return Ok(());
    }
    Err(stale(
        "is out of date: the compiled router mounts other contracts".to_owned(),
        differences(&committed, &expected),
    ))
}

/// The lines only one side has (`-` committed, `+` compiled), at most 40.
fn differences(committed: &str, expected: &str) -> Vec<String> {
    let old: BTreeSet<&str> = committed.lines().collect();
    let new: BTreeSet<&str> = expected.lines().collect();
    let mut out: Vec<String> = committed
        .lines()
        .filter(|line| !new.contains(line))
        .map(|line| format!("- {line}"))
        .chain(expected.lines().filter(|line| !old.contains(line)).map(|line| format!("+ {line}")))
        .collect();
    if out.is_empty() {
        out.push("(the same lines in another order)".to_owned());
    }
    out.truncate(40);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authz::Policy;
    use crate::contract::{Accepts, Method, RateKey, RateSpec, Registry};

    const REGISTRY: Registry = Registry {
        scopes: &["b:write", "a:read"],
        roles: &["admin"],
        relations: &[("note", &[("owner", &[]), ("viewer", &["owner"])])],
        grants: &[("note", "admin", "owner")],
    };

    const INFO: EndpointInfo = EndpointInfo {
        handler: "get_note",
        method: Method::GET,
        path: "/notes/{id}",
        access: Access::Secured(Policy::Any(&[Policy::Role("admin"), Policy::Scope("a:read")])),
        rate: Some(RateSpec { count: 5, period_secs: 1, burst: 7, key: RateKey::Ip }),
        owner: None,
        load: Some("load_note"),
        relation: Some("note#viewer"),
        tags: &[],
        scope_descriptions: &[],
        operation_id: "get_note",
        summary: None,
        description: None,
        deprecated: false,
        body_limit: 1024,
        module: "svc::notes",
        file: "src/notes.rs",
        validate: true,
        registry: Some(&REGISTRY),
        status: 200,
        timeout: Some(std::time::Duration::from_secs(2)),
        accepts: Accepts { bearer: true, dpop: false, api_key: true },
        openapi: |_| {},
    };

    #[test]
    fn the_lockfile_is_toml_with_every_part_of_the_contract() {
        let text = render(&[&INFO]);
        let expected = r#"version = 1

[registry]
scopes = ["a:read", "b:write"]
roles = ["admin"]

[registry.relations."note"]
"owner" = []
"viewer" = ["owner"]

[registry.grants."note"]
"admin" = "owner"

[[endpoint]]
handler = "svc::notes::get_note"
file = "src/notes.rs"
method = "GET"
path = "/notes/{id}"
access = "secure"
policy = "any(role = \"admin\", scope = \"a:read\")"
auth = ["api_key", "bearer"]
rate = { count = 5, period_secs = 1, burst = 7, key = "ip" }
body_limit = 1024
validate = true
timeout_ms = 2000
load = "load_note"
relation = "note#viewer"
status = 200
"#;
        assert!(text.ends_with(expected), "{text}");
    }

    #[test]
    fn a_stale_file_names_the_lines_and_the_way_to_refresh_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rampart.lock");
        let missing = check(&[&INFO], &file).unwrap_err().to_string();
        assert!(missing.contains("missing") && missing.contains("RAMPART_LOCK=write"), "{missing}");
        std::fs::write(&file, render(&[&INFO]).replace("count = 5", "count = 50")).unwrap();
        let stale = check(&[&INFO], &file).unwrap_err().to_string();
        assert!(stale.contains("- rate = { count = 50") && stale.contains("+ rate = { count = 5,"), "{stale}");
        std::fs::write(&file, render(&[&INFO])).unwrap();
        check(&[&INFO], &file).unwrap();
    }
}
