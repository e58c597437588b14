//! The runtime's folders are its layers (README, "Layout"): each module imports only from its own
//! layer or below, and no two files import each other, directly or around a loop.
//!
//! Every path a file names that starts with `crate::`, `super::`, `self::` or one of the
//! module's own children (in `use` items and in code, outside `#[cfg(test)]`) is resolved to the
//! file that defines what it names, following re-exports (`pub use`), so that a name reached
//! through a facade (`crate::auth::Principal`, defined in `vocabulary/principal.rs`) counts as a
//! dependency on where it is defined. Doc links and macro bodies are not dependencies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

/// The layers, lowest first: a folder of `src/` and what it holds.
const LAYERS: &[&str] = &["vocabulary", "mechanisms", "edge", "hub", "guard", "assembly"];

/// One module: the file it is written in, its children, and the names its `use` items bring in.
#[derive(Default, Debug)]
struct Module {
    file: String,
    children: BTreeMap<String, Vec<String>>,
    /// `name` → the absolute path it stands for.
    imports: BTreeMap<String, Vec<String>>,
    /// `use path::*` targets.
    globs: Vec<Vec<String>>,
    /// The absolute paths this module's code names (first segment resolved).
    references: Vec<Vec<String>>,
}

struct Crate {
    root: PathBuf,
    modules: BTreeMap<Vec<String>, Module>,
}

impl Crate {
    fn load(root: &Path) -> Self {
        let mut krate = Crate { root: root.to_path_buf(), modules: BTreeMap::new() };
        krate.load_file(Vec::new(), "lib.rs".into());
        krate
    }

    fn load_file(&mut self, path: Vec<String>, file: String) {
        let text = std::fs::read_to_string(self.root.join(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let syntax = syn::parse_file(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        self.load_items(path, file, &syntax.items);
    }

    fn load_items(&mut self, path: Vec<String>, file: String, items: &[syn::Item]) {
        let mut module = Module { file: file.clone(), ..Module::default() };
        let mut files_to_load = Vec::new();
        for item in items {
            if is_test_only(item_attrs(item)) {
                continue;
            }
            match item {
                syn::Item::Mod(child) => {
                    let name = child.ident.to_string();
                    let mut child_path = path.clone();
                    child_path.push(name.clone());
                    module.children.insert(name.clone(), child_path.clone());
                    match &child.content {
                        Some((_, inline)) => files_to_load.push((child_path, file.clone(), Some(inline.clone()))),
                        None => files_to_load.push((child_path, self.child_file(&file, &name), None)),
                    }
                }
                syn::Item::Use(use_item) => {
                    flatten_use(&use_item.tree, Vec::new(), &mut |prefix, leaf| match leaf {
                        UseLeaf::Name(name, alias) => {
                            let mut full = prefix.clone();
                            full.push(name);
                            module.imports.insert(alias, full);
                        }
                        UseLeaf::Glob => module.globs.push(prefix.clone()),
                    });
                }
                _ => {}
            }
            let mut collector = PathCollector::default();
            if !matches!(item, syn::Item::Mod(_)) {
                collector.visit_item(item);
            }
            module.references.extend(collector.paths);
        }
        // `use` items and code are both read relative to this module.
        let children: BTreeSet<String> = module.children.keys().cloned().collect();
        module.imports = resolve_imports(&path, &children, module.imports);
        module.globs = module.globs.iter().filter_map(|target| absolute(&path, &children, target)).collect();
        let imported: BTreeSet<String> = module.imports.keys().cloned().collect();
        module.references = module
            .references
            .iter()
            .filter(|segments| !imported.contains(&segments[0]) || children.contains(&segments[0]))
            .filter_map(|segments| absolute(&path, &children, segments))
            .collect();
        let imports: Vec<Vec<String>> = module.imports.values().cloned().collect();
        module.references.extend(imports);
        self.modules.insert(path, module);
        for (child_path, child_file, inline) in files_to_load {
            match inline {
                Some(items) => self.load_items(child_path, child_file, &items),
                None => self.load_file(child_path, child_file),
            }
        }
    }

    /// `a/b.rs` or `a/b/mod.rs` for module `b` declared in `a/mod.rs` (or `a.rs`, or `lib.rs`).
    fn child_file(&self, parent_file: &str, name: &str) -> String {
        let parent_dir = match parent_file {
            "lib.rs" => String::new(),
            file if file.ends_with("/mod.rs") => file.trim_end_matches("mod.rs").to_string(),
            file => format!("{}/", file.trim_end_matches(".rs")),
        };
        let flat = format!("{parent_dir}{name}.rs");
        if self.root.join(&flat).exists() { flat } else { format!("{parent_dir}{name}/mod.rs") }
    }

    /// The file that defines what `path` names, following modules and re-exports.
    fn defining_file(&self, path: &[String]) -> Option<String> {
        let mut path = path.to_vec();
        for _ in 0..32 {
            let mut module_path: Vec<String> = Vec::new();
            let mut rerouted = None;
            for (index, segment) in path.iter().enumerate() {
                let module = &self.modules[&module_path];
                if let Some(child) = module.children.get(segment) {
                    module_path = child.clone();
                    continue;
                }
                if let Some(target) = module.imports.get(segment) {
                    let mut next = target.clone();
                    next.extend(path[index + 1..].iter().cloned());
                    rerouted = Some(next);
                } else {
                    let through_glob = module.globs.iter().find_map(|glob| {
                        let mut next = glob.clone();
                        next.extend(path[index..].iter().cloned());
                        self.defining_file(&next).map(|_| next)
                    });
                    match through_glob {
                        Some(next) => rerouted = Some(next),
                        None => return Some(module.file.clone()),
                    }
                }
                break;
            }
            match rerouted {
                Some(next) => path = next,
                None => return Some(self.modules[&module_path].file.clone()),
            }
        }
        None
    }

    /// File → the files it depends on.
    fn dependencies(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for module in self.modules.values() {
            let entry = edges.entry(module.file.clone()).or_default();
            for reference in &module.references {
                if let Some(target) = self.defining_file(reference)
                    && target != module.file
                {
                    entry.insert(target);
                }
            }
        }
        edges
    }
}

/// The imports that name something in this crate, as absolute paths; an import may start with a
/// name another import of the same module brought in (`pub use endpoint::Router` after
/// `pub use assembly::endpoint`).
fn resolve_imports(
    module: &[String],
    children: &BTreeSet<String>,
    imports: BTreeMap<String, Vec<String>>,
) -> BTreeMap<String, Vec<String>> {
    let mut resolved: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut pending = imports;
    loop {
        let before = pending.len();
        pending.retain(|name, target| {
            let through_import = resolved.get(&target[0]).map(|base| {
                let mut full = base.clone();
                full.extend(target[1..].iter().cloned());
                full
            });
            match through_import.or_else(|| absolute(module, children, target)) {
                Some(full) => {
                    resolved.insert(name.clone(), full);
                    false
                }
                None => true,
            }
        });
        if pending.len() == before {
            return resolved;
        }
    }
}

enum UseLeaf {
    Name(String, String),
    Glob,
}

fn flatten_use(tree: &syn::UseTree, prefix: Vec<String>, out: &mut dyn FnMut(&Vec<String>, UseLeaf)) {
    match tree {
        syn::UseTree::Path(path) => {
            let mut prefix = prefix;
            prefix.push(path.ident.to_string());
            flatten_use(&path.tree, prefix, out);
        }
        syn::UseTree::Name(name) if name.ident == "self" => {
            let (last, parent) = prefix.split_last().expect("`self` inside a group");
            out(&parent.to_vec(), UseLeaf::Name(last.clone(), last.clone()));
        }
        syn::UseTree::Name(name) => out(&prefix, UseLeaf::Name(name.ident.to_string(), name.ident.to_string())),
        syn::UseTree::Rename(rename) => {
            out(&prefix, UseLeaf::Name(rename.ident.to_string(), rename.rename.to_string()));
        }
        syn::UseTree::Glob(_) => out(&prefix, UseLeaf::Glob),
        syn::UseTree::Group(group) => {
            for tree in &group.items {
                flatten_use(tree, prefix.clone(), out);
            }
        }
    }
}

/// `segments` as a path from the crate root, when it names something in this crate.
fn absolute(module: &[String], children: &BTreeSet<String>, segments: &[String]) -> Option<Vec<String>> {
    let (first, rest) = segments.split_first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" | "rampart" => Vec::new(),
        "self" => module.to_vec(),
        "super" => {
            let mut base = module.to_vec();
            let mut rest = rest;
            base.pop()?;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop()?;
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            return Some(base);
        }
        name if children.contains(name) => {
            let mut base = module.to_vec();
            base.push(name.to_string());
            base
        }
        _ => return None,
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    match item {
        syn::Item::Mod(item) => &item.attrs,
        syn::Item::Use(item) => &item.attrs,
        syn::Item::Fn(item) => &item.attrs,
        syn::Item::Impl(item) => &item.attrs,
        syn::Item::Struct(item) => &item.attrs,
        syn::Item::Enum(item) => &item.attrs,
        syn::Item::Const(item) => &item.attrs,
        syn::Item::Static(item) => &item.attrs,
        syn::Item::Trait(item) => &item.attrs,
        _ => &[],
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|attr| {
        attr.path().is_ident("cfg") && attr.parse_args::<syn::Path>().is_ok_and(|path| path.is_ident("test"))
    })
}

/// The paths of more than one segment that code names (types, expressions, patterns, traits).
#[derive(Default)]
struct PathCollector {
    paths: Vec<Vec<String>>,
}

impl<'ast> Visit<'ast> for PathCollector {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.segments.len() > 1 {
            self.paths.push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_item_use(&mut self, _: &'ast syn::ItemUse) {}

    fn visit_item_mod(&mut self, _: &'ast syn::ItemMod) {}
}

fn layer_of(file: &str) -> Option<usize> {
    let folder = file.split('/').next()?;
    LAYERS.iter().position(|layer| *layer == folder)
}

/// The strongly connected components of more than one file (Tarjan).
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a str) {
        let next = state.index.len();
        state.index.insert(node, next);
        state.low.insert(node, next);
        state.stack.push(node);
        state.on_stack.insert(node);
        for target in state.edges.get(node).into_iter().flatten() {
            if !state.index.contains_key(target.as_str()) {
                visit(state, target);
                let low = state.low[node].min(state.low[target.as_str()]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(target.as_str()) {
                let low = state.low[node].min(state.index[target.as_str()]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.push(member.to_string());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.found
}

fn runtime_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    Crate::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")).dependencies()
}

#[test]
fn every_file_lives_in_a_layer() {
    let edges = runtime_dependencies();
    let homeless: Vec<&String> = edges.keys().filter(|file| *file != "lib.rs" && layer_of(file).is_none()).collect();
    assert!(homeless.is_empty(), "files outside the layer folders {LAYERS:?}: {homeless:?}");
}

#[test]
fn no_module_imports_from_a_higher_layer() {
    let edges = runtime_dependencies();
    let mut upward = Vec::new();
    for (file, targets) in &edges {
        let Some(layer) = layer_of(file) else { continue };
        for target in targets {
            if target == "lib.rs" || layer_of(target).is_some_and(|target_layer| target_layer > layer) {
                upward.push(format!("{file} -> {target}"));
            }
        }
    }
    assert!(upward.is_empty(), "imports that cross the layers {LAYERS:?} upward:\n{}", upward.join("\n"));
}

#[test]
fn no_files_import_each_other() {
    let edges = runtime_dependencies();
    let found = cycles(&edges);
    let mut report = String::new();
    for component in &found {
        report.push_str("cycle:\n");
        for file in component {
            let inside: Vec<&String> = edges[file].iter().filter(|target| component.contains(target)).collect();
            report.push_str(&format!("  {file} -> {inside:?}\n"));
        }
    }
    assert!(found.is_empty(), "import cycles among runtime/src files:\n{report}");
}

#[test]
fn the_reading_sees_the_dependencies_it_must() {
    // The resolution itself: a name used through a facade counts where it is defined.
    let edges = runtime_dependencies();
    let guard = &edges["guard/checks.rs"];
    assert!(guard.contains("vocabulary/principal.rs"), "{guard:?}");
    assert!(guard.contains("hub/security.rs"), "{guard:?}");
    let jwt = &edges["mechanisms/auth/jwt.rs"];
    assert!(jwt.contains("vocabulary/auth_error.rs"), "{jwt:?}");
    // And a detected cycle is reported.
    let mut looped = BTreeMap::new();
    looped.insert("a.rs".to_string(), BTreeSet::from(["b.rs".to_string()]));
    looped.insert("b.rs".to_string(), BTreeSet::from(["a.rs".to_string()]));
    assert_eq!(cycles(&looped), vec![vec!["a.rs".to_string(), "b.rs".to_string()]]);
}
