//! The `rampart` command: scaffold hardened services, audit code for review, mint development
//! tokens and keys, print the OpenAPI document.
//!
//! Data goes to stdout, diagnostics to stderr. Exit codes, the same in every output format:
//! 0 ok, 1 findings (or drift), 2 usage, configuration or I/O error. A reader that closes the
//! pipe early (`rampart audit | head`) changes nothing: the code is the command's own, 0 when it
//! succeeded (as ripgrep does). `NO_COLOR` is honoured.

use rampart_cli::{audit, review};
mod keygen;
mod openapi;
mod scaffold;
mod token;

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Rampart: secure-by-default axum services.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scaffold a hardened service (templates embedded in this binary; no network).
    New(NewArgs),
    /// Report what the compiler cannot see: routes bypassing the secure router, permissive CORS,
    /// hard-coded secrets, weak settings, container and dependency hygiene.
    Audit(AuditArgs),
    /// Mint a development JWT (HS256) signed with the secret from the environment or a file.
    Token(token::TokenArgs),
    /// Generate secrets, key pairs or a development TLS certificate (files with mode 0600).
    Keygen(keygen::KeygenArgs),
    /// Print the project's OpenAPI document, or check it against a committed copy.
    Openapi(openapi::OpenapiArgs),
    /// The security diff of a change: what it did to who can call what, between two git
    /// revisions, read from the security lockfile (rampart.lock, what the compiled router mounts)
    /// or, when a revision has none, from the sources (said in the output). Exit 1 when it loosens
    /// the contract without `// rampart-review: accept(RULE) reason`.
    Review(ReviewArgs),
}

#[derive(Debug, clap::Args)]
struct ReviewArgs {
    /// The project (inside a git repository).
    #[arg(default_value = ".")]
    path: PathBuf,
    /// The revision the change starts from (`origin/main`, a commit).
    #[arg(long, value_name = "REV", required_unless_present = "list_rules")]
    base: Option<String>,
    /// The revision the change ends at (default: the working tree).
    #[arg(long, value_name = "REV")]
    head: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: review::report::Format,
    /// List the rules and exit.
    #[arg(long)]
    list_rules: bool,
}

fn run_review(args: &ReviewArgs) -> anyhow::Result<Done> {
    if args.list_rules {
        let stdout = review::RULES.iter().map(|r| format!("{} {}: {}\n", r.id, r.name, r.summary)).collect();
        return Ok(Done { stdout, code: 0 });
    }
    let base = args.base.as_deref().unwrap_or("HEAD");
    let result = review::run(&args.path, base, args.head.as_deref())?;
    let stdout = match args.format {
        review::report::Format::Text => review::report::text(&result),
        review::report::Format::Markdown => review::report::markdown(&result),
        review::report::Format::Json => review::report::json(&result),
        review::report::Format::Sarif => review::report::sarif(&result),
        review::report::Format::Github => review::report::github(&result),
    };
    Ok(Done { stdout, code: u8::from(result.fails()) })
}

#[derive(Debug, clap::Args)]
struct NewArgs {
    /// The crate name: lowercase letters, digits, `-` and `_`.
    name: String,
    /// Where to create it (default: ./NAME).
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// Write into a directory that is not empty.
    #[arg(long)]
    force: bool,
    /// List the files without writing them.
    #[arg(long)]
    dry_run: bool,
    /// Depend on the Rampart runtime at this path (default: the checkout this CLI was built from).
    #[arg(long, value_name = "P")]
    rampart_path: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct AuditArgs {
    /// The project to audit.
    #[arg(default_value = ".")]
    path: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: audit::report::Format,
    /// Write the report to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The lowest severity that makes the exit code 1.
    #[arg(long, value_enum, default_value = "warning")]
    fail_on: audit::Severity,
    /// Exit 0 even with findings (errors still exit 2).
    #[arg(long)]
    exit_zero: bool,
    /// List the rules and exit.
    #[arg(long)]
    list_rules: bool,
    /// List every declared route (method, path, policy, rate) instead of findings; text or json.
    #[arg(long)]
    inventory: bool,
}

/// What a command produced: data for stdout and the exit code.
struct Done {
    stdout: String,
    code: u8,
}

fn color_allowed() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn run_audit(args: &AuditArgs) -> anyhow::Result<Done> {
    if args.list_rules {
        return Ok(Done { stdout: audit::report::list_rules(), code: 0 });
    }
    let result = audit::run(&args.path)?;
    let to_file = args.output.is_some();
    let report = if args.inventory {
        match args.format {
            audit::report::Format::Json => audit::report::inventory_json(&result.routes),
            _ => audit::report::inventory_text(&result.routes),
        }
    } else {
        match args.format {
            audit::report::Format::Text => audit::report::text(&result, !to_file && color_allowed()),
            audit::report::Format::Json => audit::report::json(&result),
            audit::report::Format::Sarif => audit::report::sarif(&result),
            audit::report::Format::Github => audit::report::github(&result),
        }
    };
    let failing = !args.inventory && result.findings.iter().any(|f| f.rule.severity >= args.fail_on);
    let code = u8::from(failing && !args.exit_zero);
    if let Some(file) = &args.output {
        std::fs::write(file, report).map_err(|e| anyhow::anyhow!("writing {}: {e}", file.display()))?;
        eprintln!("{} finding(s) written to {}", result.findings.len(), file.display());
        return Ok(Done { stdout: String::new(), code });
    }
    Ok(Done { stdout: report, code })
}

fn run_new(args: &NewArgs) -> anyhow::Result<Done> {
    let dir = args.path.clone().unwrap_or_else(|| PathBuf::from(&args.name));
    let project = scaffold::NewProject {
        name: args.name.clone(),
        dir: dir.clone(),
        force: args.force,
        dry_run: args.dry_run,
        rampart_path: args.rampart_path.clone(),
    };
    let files = scaffold::generate(&project)?;
    let mut stdout = String::new();
    for file in &files {
        stdout.push_str(&format!("{}\n", file.display()));
    }
    if args.dry_run {
        eprintln!("dry run: nothing written");
    } else {
        // The templates are rustfmt-clean; a name of another length can move a line break.
        let formatted = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["fmt", "--manifest-path"])
            .arg(dir.join("Cargo.toml"))
            .status();
        if !formatted.is_ok_and(|s| s.success()) {
            eprintln!("warning: `cargo fmt` did not run; format the project before its CI checks it");
        }
        eprintln!("created {} ({} files)", dir.display(), files.len());
        eprintln!("{}", scaffold::next_steps(&args.name, &dir));
    }
    Ok(Done { stdout, code: 0 })
}

fn dispatch(command: &Command) -> anyhow::Result<Done> {
    match command {
        Command::New(args) => run_new(args),
        Command::Audit(args) => run_audit(args),
        Command::Token(args) => Ok(Done { stdout: format!("{}\n", token::run(args)?), code: 0 }),
        Command::Keygen(args) => Ok(Done { stdout: keygen::run(args)?, code: 0 }),
        Command::Openapi(args) => {
            let outcome = openapi::run(args)?;
            Ok(Done { stdout: outcome.stdout, code: outcome.code })
        }
        Command::Review(args) => run_review(args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(&cli.command) {
        Ok(done) => {
            let mut out = std::io::stdout().lock();
            match out.write_all(done.stdout.as_bytes()).and_then(|()| out.flush()) {
                // The reader had enough (`rampart ... | head`): not an error of this command.
                Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(done.code),
                Err(err) => {
                    eprintln!("error: writing to stdout: {err}");
                    ExitCode::from(2)
                }
                Ok(()) => ExitCode::from(done.code),
            }
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
