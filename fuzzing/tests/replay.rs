//! Every seed and every past finding, through its target, on stable: a fix that regresses fails
//! the test command. Findings live in `fuzz/regressions/TARGET/` (copied from cargo-fuzz's
//! `fuzz/artifacts/TARGET/crash-*`), seeds in `fuzz/seeds/TARGET/`.

use std::path::{Path, PathBuf};

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    files
}

#[test]
fn every_seed_and_past_finding_passes_its_target() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    for (name, target) in rampart_fuzzing::TARGETS {
        let seeds = inputs(&fuzz.join("seeds").join(name));
        assert!(seeds.len() >= 3, "{name} has too few seeds ({})", seeds.len());
        for file in seeds.iter().chain(&inputs(&fuzz.join("regressions").join(name))) {
            let data = std::fs::read(file).unwrap();
            eprintln!("{name}: {}", file.display());
            target(&data);
        }
    }
}
