//! Development only: without `RAMPART_SEAL_KEY`, the generated seal key of a SQLite database is
//! kept next to it (`notes.db.seal-key`, mode 0600), so that notes written by an earlier run stay
//! readable. Production refuses to start without `RAMPART_SEAL_KEY` (see `rampart::config`).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use rampart::crypto::Keyring;

/// The key file of a SQLite `database_url`; `None` for other databases and for `:memory:`.
pub(crate) fn key_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url.strip_prefix("sqlite://").or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    if path.is_empty() || path.contains(":memory:") {
        return None;
    }
    Some(PathBuf::from(format!("{path}.seal-key")))
}

/// The keyring kept in `file`, created with a fresh random key on first use.
pub(crate) fn load_or_create(file: &PathBuf) -> anyhow::Result<Keyring> {
    if file.exists() {
        let spec = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        return Keyring::from_spec(spec.trim()).with_context(|| format!("{} holds no usable seal key", file.display()));
    }
    let key: [u8; 32] = rand::random();
    let spec = format!("dev:{}", base64::engine::general_purpose::STANDARD.encode(key));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options.open(file).with_context(|| format!("creating {}", file.display()))?;
    out.write_all(spec.as_bytes())?;
    Keyring::from_spec(&spec).context("the generated seal key")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sqlite_files_keep_a_key() {
        assert_eq!(key_file("sqlite://notes.db?mode=rwc"), Some(PathBuf::from("notes.db.seal-key")));
        assert_eq!(key_file("sqlite:///tmp/x/notes.db"), Some(PathBuf::from("/tmp/x/notes.db.seal-key")));
        assert_eq!(key_file("sqlite::memory:"), None);
        assert_eq!(key_file("postgres://u@h/db"), None);
    }

    #[test]
    fn the_key_survives_a_reload_and_its_file_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("notes.db.seal-key");
        let first = load_or_create(&file).unwrap();
        let sealed = rampart::crypto::Sealed::seal(&first, &"hello".to_owned()).unwrap();
        let second = load_or_create(&file).unwrap();
        assert_eq!(sealed.open(&second).unwrap(), "hello");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }
}
