//! `rampart openapi`: the project's OpenAPI document, and drift against a committed copy.
//!
//! The document comes from the project itself: `cargo run --example openapi` in it (what
//! `rampart new` generates, and the notes service has), which prints
//! `rampart::openapi::to_json(&openapi())`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

#[derive(Debug, clap::Args)]
pub(crate) struct OpenapiArgs {
    /// The project (the directory with its Cargo.toml).
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Write the document to FILE instead of stdout.
    #[arg(long, value_name = "FILE", conflicts_with = "check")]
    output: Option<PathBuf>,
    /// Compare with a committed FILE: print the difference and exit 1 when they differ.
    #[arg(long, value_name = "FILE")]
    check: Option<PathBuf>,
}

/// The outcome: the document (or the difference) for stdout, and whether it drifted.
pub(crate) struct Outcome {
    pub(crate) stdout: String,
    pub(crate) drift: bool,
}

fn generate(project: &Path) -> anyhow::Result<String> {
    let manifest = project.join("Cargo.toml");
    if !manifest.is_file() {
        bail!("{} has no Cargo.toml", project.display());
    }
    let output = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["run", "--quiet", "--example", "openapi", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("running cargo")?;
    if !output.status.success() {
        bail!(
            "`cargo run --example openapi` failed in {} (the project needs an examples/openapi.rs that prints its document):\n{}",
            project.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    String::from_utf8(output.stdout).context("the document is not UTF-8")
}

pub(crate) fn run(args: &OpenapiArgs) -> anyhow::Result<Outcome> {
    let document = generate(&args.path)?;
    if let Some(file) = &args.check {
        let committed = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        if committed == document {
            return Ok(Outcome { stdout: String::new(), drift: false });
        }
        let diff = similar::TextDiff::from_lines(&committed, &document)
            .unified_diff()
            .header(&file.display().to_string(), "generated")
            .to_string();
        return Ok(Outcome { stdout: diff, drift: true });
    }
    if let Some(file) = &args.output {
        std::fs::write(file, &document).with_context(|| format!("writing {}", file.display()))?;
        return Ok(Outcome { stdout: String::new(), drift: false });
    }
    Ok(Outcome { stdout: document, drift: false })
}
