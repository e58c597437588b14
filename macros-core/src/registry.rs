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
//! Without the file, scopes and roles are accepted as written.

use std::path::{Path, PathBuf};

/// The declared scopes (with descriptions) and roles, and the file they came from.
#[derive(Debug, Clone)]
pub(crate) struct Registry {
    pub(crate) file: PathBuf,
    pub(crate) scopes: Vec<(String, String)>,
    pub(crate) roles: Vec<String>,
}

impl Registry {
    pub(crate) fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|(s, _)| s == scope)
    }

    pub(crate) fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
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
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    Ok(Registry { file: absolute, scopes, roles })
}
