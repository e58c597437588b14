//! A log file rotated by size: `audit.log` is renamed `audit.log.1` (and `.1` to `.2`, ...) when
//! the next line would take it past the limit; the oldest beyond `keep` is removed. Lines are
//! never split between files. Files are created with mode 0600: audit lines name subjects and
//! client addresses.
//!
//! tracing-appender's rolling files rotate by time only; size-based rotation is this small
//! writer, behind tracing-appender's non-blocking worker (so it only ever runs on that thread).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// An append-only file that rotates before a write would make it exceed `max_bytes`.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: usize,
    file: File,
    written: u64,
}

fn open_append(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

fn numbered(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

impl RotatingFile {
    /// Opens (or creates) `path` for appending; at most `keep` rotated files are kept beside it.
    ///
    /// # Errors
    ///
    /// When the file cannot be opened or its size read.
    pub fn open(path: impl Into<PathBuf>, max_bytes: u64, keep: usize) -> io::Result<Self> {
        let path = path.into();
        let file = open_append(&path)?;
        let written = file.metadata()?.len();
        Ok(Self { path, max_bytes, keep: keep.max(1), file, written })
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        let oldest = numbered(&self.path, self.keep);
        if oldest.exists() {
            std::fs::remove_file(&oldest)?;
        }
        for n in (1..self.keep).rev() {
            let from = numbered(&self.path, n);
            if from.exists() {
                std::fs::rename(&from, numbered(&self.path, n + 1))?;
            }
        }
        std::fs::rename(&self.path, numbered(&self.path, 1))?;
        self.file = open_append(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written > 0 && self.written + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        self.file.write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn rotates_by_size_keeps_whole_lines_and_at_most_keep_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        let mut file = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..20 {
            file.write_all(format!("{{\"line\":{i:02},\"pad\":\"xxxxxxxxxxxxxxx\"}}\n").as_bytes()).unwrap();
        }
        file.flush().unwrap();
        let read = |p: &Path| std::fs::read_to_string(p).unwrap();
        for p in [path.clone(), numbered(&path, 1), numbered(&path, 2)] {
            let text = read(&p);
            assert!(text.len() <= 100, "{} has {} bytes", p.display(), text.len());
            assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()), "split line");
        }
        assert!(!numbered(&path, 3).exists(), "only `keep` rotated files");
        // The newest lines are in the live file, the ones before in .1.
        assert!(read(&path).contains("\"line\":19"));
        assert!(read(&numbered(&path, 1)).contains("\"line\":17"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[test]
    fn reopening_counts_what_is_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.log");
        std::fs::write(&path, "x".repeat(90)).unwrap();
        let mut file = RotatingFile::open(&path, 100, 3).unwrap();
        file.write_all(&[b'y'; 20]).unwrap();
        assert_eq!(std::fs::read_to_string(numbered(&path, 1)).unwrap(), "x".repeat(90));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "y".repeat(20));
    }
}
