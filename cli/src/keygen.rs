//! `rampart keygen`: secrets, key pairs and a development TLS certificate, written with mode 0600.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KeyKind {
    /// An HS256 secret for RAMPART_JWT_SECRET (64 characters from 48 random bytes).
    Hs256,
    /// An ECDSA P-256 key pair (PKCS#8 private key and SPKI public key, PEM).
    Es256,
    /// An Ed25519 key pair (PEM).
    Ed25519,
    /// A self-signed development certificate for localhost and 127.0.0.1 with its key (PEM).
    Tls,
    /// A key for RAMPART_SEAL_KEY (`kid:base64 of 32 random bytes`).
    Seal,
    /// An API key (43 characters from 32 random bytes) and its `RAMPART_API_KEYS` entry: the key
    /// is shown once (or written to `--out`), the service keeps only its SHA-256. Needs `--id`.
    ApiKey,
}

#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// What to generate.
    #[arg(value_enum)]
    kind: KeyKind,
    /// Write the files into this directory (created if needed); secrets are printed to stdout
    /// when it is not given, key pairs and certificates need it.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// `api-key`: the key's id (what audit events and metrics name): letters, digits, `-`, `_`, `.`.
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// `api-key`: the scopes it grants, space-separated.
    #[arg(long, value_name = "SCOPES", default_value = "")]
    scopes: String,
    /// `api-key`: the roles it has, space-separated (`--roles admin`).
    #[arg(long, value_name = "ROLES", default_value = "")]
    roles: String,
}

/// A new API key and the `RAMPART_API_KEYS` entry that accepts it (`id:sha256hex:scopes`, with
/// `|roles` when it has roles).
fn api_key(id: Option<&str>, scopes: &str, roles: &str) -> anyhow::Result<(String, String)> {
    let Some(id) = id else { bail!("an API key needs its id: add --id NAME") };
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')) {
        bail!("`{id}` cannot be an API key id: use letters, digits, `-`, `_` and `.`");
    }
    for (what, list) in [("scopes", scopes), ("roles", roles)] {
        if let Some(bad) = list.chars().find(|c| matches!(c, ';' | '|')) {
            bail!("{what} cannot contain `{bad}` (RAMPART_API_KEYS separates keys with `;` and roles with `|`)");
        }
    }
    let key = random_text(32);
    let digest = <sha2::Sha256 as sha2::Digest>::digest(key.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let words = |list: &str| list.split_whitespace().collect::<Vec<_>>().join(" ");
    let entry = match words(roles) {
        roles if roles.is_empty() => format!("{id}:{hex}:{}", words(scopes)),
        roles => format!("{id}:{hex}:{}|{roles}", words(scopes)),
    };
    Ok((key, entry))
}

/// Writes `contents` to a new file readable by its owner only; never overwrites.
fn write_private(path: &Path, contents: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file =
        options.open(path).with_context(|| format!("creating {} (it must not exist yet)", path.display()))?;
    file.write_all(contents.as_bytes()).with_context(|| format!("writing {}", path.display()))
}

fn random_text(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::fill(&mut buf[..]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf)
}

/// Generates the files; returns what to print on stdout (a secret, or the paths written).
/// `keygen api-key`: the key (printed once, or written to `--out`) and its configuration entry.
fn run_api_key(args: &KeygenArgs) -> anyhow::Result<String> {
    let (key, entry) = api_key(args.id.as_deref(), &args.scopes, &args.roles)?;
    let shown = match &args.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            let path = dir.join("api-key.secret");
            write_private(&path, &format!("{key}\n"))?;
            format!("key written to {} (give it to the client; it is not kept)", path.display())
        }
        None => format!("key (shown once; give it to the client, it is not kept): {key}"),
    };
    Ok(format!("{shown}\nRAMPART_API_KEYS entry (the service keeps only the hash): {entry}\n"))
}

pub(crate) fn run(args: &KeygenArgs) -> anyhow::Result<String> {
    let files: Vec<(&str, String)> = match args.kind {
        KeyKind::ApiKey => return run_api_key(args),
        KeyKind::Hs256 => vec![("hs256.secret", random_text(48))],
        KeyKind::Seal => {
            let mut key = [0u8; 32];
            rand::fill(&mut key);
            vec![("seal.key", format!("k1:{}", base64::engine::general_purpose::STANDARD.encode(key)))]
        }
        KeyKind::Es256 | KeyKind::Ed25519 => {
            let (algorithm, name) = if args.kind == KeyKind::Es256 {
                (&rcgen::PKCS_ECDSA_P256_SHA256, "es256")
            } else {
                (&rcgen::PKCS_ED25519, "ed25519")
            };
            let pair = rcgen::KeyPair::generate_for(algorithm).context("generating the key pair")?;
            let private = if name == "es256" { "es256-private.pem" } else { "ed25519-private.pem" };
            let public = if name == "es256" { "es256-public.pem" } else { "ed25519-public.pem" };
            vec![(private, pair.serialize_pem()), (public, pair.public_key_pem())]
        }
        KeyKind::Tls => {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            let generated = rcgen::generate_simple_self_signed(names).context("generating the certificate")?;
            vec![("tls-cert.pem", generated.cert.pem()), ("tls-key.pem", generated.signing_key.serialize_pem())]
        }
    };
    let Some(dir) = &args.out else {
        if let [(_, secret)] = files.as_slice()
            && matches!(args.kind, KeyKind::Hs256 | KeyKind::Seal)
        {
            return Ok(format!("{secret}\n"));
        }
        bail!("key pairs and certificates are written to files: add --out DIR");
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut written = String::new();
    for (name, contents) in &files {
        let path = dir.join(name);
        let mut contents = contents.clone();
        if !contents.ends_with('\n') {
            contents.push('\n');
        }
        write_private(&path, &contents)?;
        written.push_str(&format!("{}\n", path.display()));
    }
    Ok(written)
}
