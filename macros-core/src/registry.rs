//! The project's scope and role registry: `rampart.toml` next to the crate's `Cargo.toml` (or in
//! any directory between it and the annotated file).
//!
//! ```toml
//! roles = ["admin"]
//!
//! [scopes]
//! "notes:read" = "Read your own notes"
//! "notes:write" = "Create and delete your own notes"
//! ```
//!
//! Relations, for `relation = "..."`, are declared per resource type; each lists the relations
//! that imply it, and `[grants.<type>]` gives roles a relation on every object of the type:
//!
//! ```toml
//! [relations.note]
//! owner = []
//! editor = ["owner"]     # owner => editor
//! viewer = ["editor"]    # editor => viewer
//!
//! [grants.note]
//! admin = "owner"
//! ```
//!
//! Without the file, scopes and roles are accepted as written (and relations cannot be used).

use std::path::{Path, PathBuf};

/// The declared scopes (with descriptions) and roles, and the file they came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// The file, made absolute.
    pub file: PathBuf,
    /// Each scope with its description, in the file's order.
    pub scopes: Vec<(String, String)>,
    /// The roles.
    pub roles: Vec<String>,
    /// Resource type -> its relations, each with the relations that directly imply it.
    pub relations: Relations,
    /// (resource type, role, the relation the role holds on every object of the type).
    pub grants: Vec<(String, String, String)>,
}

/// Resource type -> its relations, each with the relations that directly imply it.
pub type Relations = Vec<(String, Vec<(String, Vec<String>)>)>;

/// A `relation = "..."` resolved against the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResolvedRelation {
    pub(crate) kind: String,
    pub(crate) relation: String,
    /// The relation and every relation that implies it, directly or not (sorted).
    pub(crate) granted_by: Vec<String>,
    /// Every relation of the type (sorted).
    pub(crate) relations: Vec<String>,
    /// The roles that hold a granting relation on every object of the type (sorted).
    pub(crate) roles: Vec<String>,
}

impl Registry {
    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|(s, _)| s == scope)
    }

    pub(crate) fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    /// Resolves `type#relation`, or a bare `relation` that exactly one type declares.
    pub(crate) fn relation(&self, text: &str) -> Result<ResolvedRelation, String> {
        if self.relations.is_empty() {
            return Err(format!(
                "`relation` needs the relations declared in {}: add `[relations.<type>]` with each relation \
                 and the relations that imply it, e.g. `viewer = [\"editor\"]`",
                self.file.display()
            ));
        }
        let (kind, relation) = match text.split_once('#') {
            Some((kind, relation)) => (kind.to_owned(), relation.to_owned()),
            None => {
                let declaring: Vec<&String> = self
                    .relations
                    .iter()
                    .filter(|(_, relations)| relations.iter().any(|(r, _)| r == text))
                    .map(|(kind, _)| kind)
                    .collect();
                match declaring.as_slice() {
                    [one] => ((*one).clone(), text.to_owned()),
                    [] => return Err(self.unknown_relation(text, None)),
                    several => {
                        let names: Vec<String> = several.iter().map(|kind| format!("`{kind}#{text}`")).collect();
                        return Err(format!("`{text}` is a relation of several types: write {}", names.join(" or ")));
                    }
                }
            }
        };
        let Some((_, relations)) = self.relations.iter().find(|(k, _)| *k == kind) else {
            let kinds: Vec<&str> = self.relations.iter().map(|(k, _)| k.as_str()).collect();
            let hint = crate::errors::closest(&kind, kinds.iter().copied())
                .map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
            return Err(format!(
                "unknown resource type `{kind}`: {} declares {}{hint}",
                self.file.display(),
                kinds.join(", ")
            ));
        };
        if !relations.iter().any(|(r, _)| *r == relation) {
            return Err(self.unknown_relation(&relation, Some(&kind)));
        }
        let mut granted_by = vec![relation.clone()];
        let mut next = 0;
        while next < granted_by.len() {
            let current = granted_by[next].clone();
            if let Some((_, implied_by)) = relations.iter().find(|(r, _)| *r == current) {
                for implying in implied_by {
                    if !granted_by.contains(implying) {
                        granted_by.push(implying.clone());
                    }
                }
            }
            next += 1;
        }
        granted_by.sort();
        let mut all: Vec<String> = relations.iter().map(|(r, _)| r.clone()).collect();
        all.sort();
        let mut roles: Vec<String> = self
            .grants
            .iter()
            .filter(|(k, _, granted)| *k == kind && granted_by.contains(granted))
            .map(|(_, role, _)| role.clone())
            .collect();
        roles.sort();
        Ok(ResolvedRelation { kind, relation, granted_by, relations: all, roles })
    }

    fn unknown_relation(&self, relation: &str, kind: Option<&str>) -> String {
        let candidates: Vec<String> = self
            .relations
            .iter()
            .filter(|(k, _)| kind.is_none_or(|kind| kind == k))
            .flat_map(|(k, relations)| relations.iter().map(move |(r, _)| format!("{k}#{r}")))
            .collect();
        let bare: Vec<&str> = candidates.iter().map(|c| c.split_once('#').map_or(c.as_str(), |(_, r)| r)).collect();
        let hint = crate::errors::closest(relation, bare.iter().copied())
            .map_or_else(String::new, |c| format!("; did you mean `{c}`?"));
        let of = kind.map_or_else(String::new, |kind| format!(" of `{kind}`"));
        format!("unknown relation `{relation}`{of}: {} declares {}{hint}", self.file.display(), candidates.join(", "))
    }
}

/// Finds and reads the registry for a source file (`None` when the project declares none).
pub(crate) fn find(source_file: Option<PathBuf>) -> Result<Option<Registry>, String> {
    let start = match source_file {
        Some(file) => file.parent().map(Path::to_path_buf),
        None => std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from),
    };
    let Some(mut dir) = start else { return Ok(None) };
    loop {
        let candidate = dir.join("rampart.toml");
        if candidate.is_file() {
            return read(&candidate).map(Some);
        }
        if dir.join("Cargo.toml").is_file() || !dir.pop() {
            return Ok(None);
        }
    }
}

/// Reads a `rampart.toml` as `#[secure]` does.
///
/// # Errors
///
/// The message the attribute would give: unreadable, not TOML, or a declaration that does not
/// hold (a relation implied by an undeclared one, a grant of an unknown relation, ...).
pub fn read_registry(file: &Path) -> Result<Registry, String> {
    read(file)
}

fn read(file: &Path) -> Result<Registry, String> {
    let text = std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let table: toml::Table = text.parse().map_err(|e| format!("{} is not valid TOML: {e}", file.display()))?;
    let mut scopes = Vec::new();
    if let Some(value) = table.get("scopes") {
        let entries = value
            .as_table()
            .ok_or_else(|| format!("{}: `scopes` must be a table of \"scope\" = \"description\"", file.display()))?;
        for (scope, description) in entries {
            let description = description
                .as_str()
                .ok_or_else(|| format!("{}: the description of scope `{scope}` must be a string", file.display()))?;
            scopes.push((scope.clone(), description.to_owned()));
        }
    }
    let mut roles = Vec::new();
    if let Some(value) = table.get("roles") {
        let list =
            value.as_array().ok_or_else(|| format!("{}: `roles` must be an array of strings", file.display()))?;
        for role in list {
            roles.push(
                role.as_str().ok_or_else(|| format!("{}: every role must be a string", file.display()))?.to_owned(),
            );
        }
    }
    let relations = read_relations(file, &table)?;
    let grants = read_grants(file, &table, &relations)?;
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    Ok(Registry { file: absolute, scopes, roles, relations, grants })
}

fn read_relations(file: &Path, table: &toml::Table) -> Result<Relations, String> {
    let mut out = Vec::new();
    let Some(value) = table.get("relations") else { return Ok(out) };
    let types = value
        .as_table()
        .ok_or_else(|| format!("{}: `relations` must hold one table per resource type", file.display()))?;
    for (kind, relations) in types {
        let relations = relations.as_table().ok_or_else(|| {
            format!("{}: `[relations.{kind}]` must map each relation to the relations that imply it", file.display())
        })?;
        let mut entries = Vec::new();
        for (relation, implied_by) in relations {
            let list = implied_by.as_array().ok_or_else(|| {
                format!("{}: `{kind}.{relation}` must list the relations that imply it (`[]` for none)", file.display())
            })?;
            let mut names = Vec::new();
            for name in list {
                let name = name
                    .as_str()
                    .ok_or_else(|| format!("{}: `{kind}.{relation}` must list relation names", file.display()))?;
                if !relations.contains_key(name) {
                    return Err(format!(
                        "{}: `{kind}.{relation}` is implied by `{name}`, which `[relations.{kind}]` does not declare",
                        file.display()
                    ));
                }
                names.push(name.to_owned());
            }
            entries.push((relation.clone(), names));
        }
        out.push((kind.clone(), entries));
    }
    Ok(out)
}

fn read_grants(
    file: &Path,
    table: &toml::Table,
    relations: &Relations,
) -> Result<Vec<(String, String, String)>, String> {
    let mut out = Vec::new();
    let Some(value) = table.get("grants") else { return Ok(out) };
    let types = value
        .as_table()
        .ok_or_else(|| format!("{}: `grants` must hold one table per resource type", file.display()))?;
    for (kind, roles) in types {
        let Some((_, declared)) = relations.iter().find(|(k, _)| k == kind) else {
            return Err(format!("{}: `[grants.{kind}]` names a type `[relations]` does not declare", file.display()));
        };
        let roles = roles
            .as_table()
            .ok_or_else(|| format!("{}: `[grants.{kind}]` must map roles to a relation", file.display()))?;
        for (role, relation) in roles {
            let relation = relation
                .as_str()
                .ok_or_else(|| format!("{}: `grants.{kind}.{role}` must be a relation name", file.display()))?;
            if !declared.iter().any(|(r, _)| r == relation) {
                return Err(format!(
                    "{}: `grants.{kind}.{role}` names `{relation}`, not a relation of `{kind}`",
                    file.display()
                ));
            }
            out.push((kind.clone(), role.clone(), relation.to_owned()));
        }
    }
    Ok(out)
}
