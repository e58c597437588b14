//! `rampart new`: a hardened service from templates embedded in this binary (no network, no git).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// One generated file: its path in the project and its template.
struct Template {
    path: &'static str,
    text: &'static str,
}

macro_rules! templates {
    ($($path:literal => $file:literal),* $(,)?) => {
        &[$(Template { path: $path, text: include_str!(concat!("../templates/service/", $file)) }),*]
    };
}

const TEMPLATES: &[Template] = templates! {
    "Cargo.toml" => "Cargo.toml.tmpl",
    "README.md" => "README.md.tmpl",
    "rampart.toml" => "rampart.toml",
    "src/lib.rs" => "src/lib.rs.tmpl",
    "src/main.rs" => "src/main.rs.tmpl",
    "tests/api.rs" => "tests/api.rs.tmpl",
    "tests/lock.rs" => "tests/lock.rs.tmpl",
    "rampart.lock" => "rampart.lock.tmpl",
    "examples/openapi.rs" => "examples/openapi.rs.tmpl",
    "migrations/0001_init.sql" => "migrations/0001_init.sql.tmpl",
    ".env.example" => "env.example.tmpl",
    ".gitignore" => "gitignore.tmpl",
    "deny.toml" => "deny.toml",
    "clippy.toml" => "clippy.toml",
    "rustfmt.toml" => "rustfmt.toml",
    "Dockerfile" => "Dockerfile.tmpl",
    ".github/workflows/ci.yml" => ".github/workflows/ci.yml.tmpl",
    ".github/dependabot.yml" => ".github/dependabot.yml",
};

/// What `rampart new` was asked for.
#[derive(Debug)]
pub(crate) struct NewProject {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) force: bool,
    pub(crate) dry_run: bool,
    pub(crate) rampart_path: Option<PathBuf>,
}

/// Rust keywords and names cargo refuses for a package.
const RESERVED: &[&str] = &[
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "crate",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "self",
    "Self",
    "static",
    "struct",
    "super",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "typeof",
    "unsized",
    "virtual",
    "yield",
    "try",
    "gen",
    "test",
    "core",
    "std",
    "alloc",
    "proc_macro",
    "proc-macro",
    "rampart",
];

/// Checks `name` as a crate name: lowercase ASCII letters, digits, `-` and `_`, starting with a
/// letter, at most 64 characters, not a keyword.
pub(crate) fn check_name(name: &str) -> anyhow::Result<()> {
    let valid = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid {
        bail!("`{name}` is not a valid crate name: use lowercase letters, digits, `-` and `_`, starting with a letter");
    }
    if RESERVED.contains(&name) {
        bail!("`{name}` is reserved (a Rust keyword or a standard crate); pick another name");
    }
    Ok(())
}

/// The rampart this binary was built from.
fn default_rampart_path() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../runtime"))
}

/// What the service serves, from its name: `orders` for `orders`, `orders-api` or
/// `orders_service` (its routes, scopes and table are named after it).
fn resource_name(name: &str) -> &str {
    ["-api", "_api", "-service", "_service", "-svc", "_svc"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix).filter(|rest| !rest.is_empty()))
        .unwrap_or(name)
}

fn render(text: &str, name: &str, dependency: &str) -> String {
    let resource = resource_name(name);
    text.replace("{{name}}", name)
        .replace("{{resource}}", resource)
        .replace("{{table}}", &resource.replace('-', "_"))
        .replace("{{crate}}", &name.replace('-', "_"))
        .replace("{{rampart_dependency}}", dependency)
        .replace("{{repository}}", env!("CARGO_PKG_REPOSITORY"))
}

/// The files of the project, rendered: `(relative path, contents)`.
pub(crate) fn render_all(project: &NewProject) -> anyhow::Result<Vec<(&'static str, String)>> {
    check_name(&project.name)?;
    let rampart = project.rampart_path.clone().unwrap_or_else(default_rampart_path);
    let rampart = rampart.canonicalize().with_context(|| format!("--rampart-path {}", rampart.display()))?;
    if !rampart.join("Cargo.toml").is_file() {
        bail!(
            "{} has no Cargo.toml: --rampart-path must be the `runtime` directory of a Rampart checkout",
            rampart.display()
        );
    }
    let path = rampart.display().to_string().replace('\\', "/").replace('"', "\\\"");
    // Pinned to this CLI's own version, from the checkout it was built from (not on a registry).
    let dependency = format!("version = \"={}\", path = \"{path}\"", env!("CARGO_PKG_VERSION"));
    Ok(TEMPLATES
        .iter()
        .map(|t| {
            let text = render(t.text, &project.name, &dependency);
            let text = if t.path == "rampart.lock" { sort_lockfile(&text) } else { text };
            (t.path, text)
        })
        .collect())
}

/// The lockfile's endpoints in the order `rampart::lock` writes them (path, method, handler):
/// the service's own paths are named after it, so their place among the others depends on it.
fn sort_lockfile(text: &str) -> String {
    const SEPARATOR: &str = "\n[[endpoint]]\n";
    let mut blocks = text.split(SEPARATOR);
    let head = blocks.next().unwrap_or_default();
    let mut endpoints: Vec<&str> = blocks.collect();
    let field = |block: &str, name: &str| -> String {
        block.lines().find_map(|line| line.strip_prefix(&format!("{name} = "))).unwrap_or_default().to_owned()
    };
    endpoints.sort_by_key(|block| (field(block, "path"), field(block, "method"), field(block, "handler")));
    let mut out = head.to_owned();
    for block in endpoints {
        out.push_str(SEPARATOR);
        out.push_str(block);
    }
    out
}

/// Writes the project; returns the files written (or that would be, with `dry_run`).
pub(crate) fn generate(project: &NewProject) -> anyhow::Result<Vec<PathBuf>> {
    let files = render_all(project)?;
    let dir = &project.dir;
    if dir.exists() {
        let non_empty = std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?.next().is_some();
        if non_empty && !project.force {
            bail!("{} is not empty; pass --force to write into it anyway", dir.display());
        }
    }
    let mut written = Vec::new();
    for (relative, contents) in files {
        let target = dir.join(relative);
        if !project.dry_run {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
            }
            std::fs::write(&target, contents).with_context(|| format!("writing {}", target.display()))?;
        }
        written.push(target);
    }
    Ok(written)
}

/// What to do next, printed after generating.
pub(crate) fn next_steps(name: &str, dir: &Path) -> String {
    format!(
        "Next steps:\n  cd {}\n  cargo test          # the contract: 401, 403, 200, 422, 429, secure headers; rampart.lock is fresh\n  cargo run           # serves on 127.0.0.1:3000 and prints a dev token\n  rampart audit       # what the compiler cannot see\n  open http://127.0.0.1:3000/docs\nBefore production: set RAMPART_ENV=production, RAMPART_JWT_SECRET (`rampart keygen hs256`) and RAMPART_SEAL_KEY; see {name}/.env.example.",
        dir.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_is_named_after_the_service() {
        assert_eq!(resource_name("orders"), "orders");
        assert_eq!(resource_name("orders-api"), "orders");
        assert_eq!(resource_name("stock_service"), "stock");
        assert_eq!(resource_name("-api"), "-api");
        assert_eq!(resource_name("pay-svc"), "pay");
    }

    #[test]
    fn the_lockfile_lists_endpoints_in_the_order_the_runtime_writes_them() {
        let project = |name: &str| NewProject {
            name: name.into(),
            dir: PathBuf::from("unused"),
            force: false,
            dry_run: true,
            rampart_path: None,
        };
        for name in ["orders-api", "items", "zebra"] {
            let files = render_all(&project(name)).unwrap();
            let lock = &files.iter().find(|(path, _)| *path == "rampart.lock").unwrap().1;
            let paths: Vec<&str> = lock.lines().filter_map(|l| l.strip_prefix("path = ")).collect();
            let mut sorted = paths.clone();
            sorted.sort_unstable();
            assert_eq!(paths, sorted, "{name}");
            assert_eq!(paths.len(), 6, "{name}");
        }
    }

    #[test]
    fn crate_names_are_checked() {
        for good in ["orders", "orders-api", "a1_b2"] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "Orders", "1orders", "orders api", "orders/x", "fn", "std", "../x"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn every_placeholder_is_filled() {
        let project = NewProject {
            name: "orders-api".into(),
            dir: PathBuf::from("unused"),
            force: false,
            dry_run: true,
            rampart_path: None,
        };
        for (path, text) in render_all(&project).unwrap() {
            assert!(!text.contains("{{"), "{path} keeps a placeholder");
        }
    }
}
