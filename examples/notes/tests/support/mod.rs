//! Helpers shared by the notes binary's integration tests.
#![allow(clippy::unwrap_used, reason = "test code: a panic is a failed test")]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

/// The running notes binary, killed on drop.
pub(crate) struct Service {
    child: Child,
    /// `host:port` it listens on.
    pub(crate) addr: String,
    /// `host:port` of its metrics listener, when it printed one.
    #[allow(dead_code, reason = "not every test binary reads metrics")]
    pub(crate) metrics_addr: Option<String>,
}

impl Service {
    /// Starts the binary on a free loopback port with an in-memory database, and `vars` (every
    /// other `RAMPART_*` variable of the test's environment is removed).
    pub(crate) fn start(vars: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_notes"));
        for (name, _) in std::env::vars() {
            if name.starts_with("RAMPART_") || name == "DATABASE_URL" {
                command.env_remove(name);
            }
        }
        let mut child = command
            .env("RAMPART_ADDR", "127.0.0.1:0")
            .env("DATABASE_URL", "sqlite::memory:")
            .envs(vars.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut metrics_addr = None;
        let addr = lines
            .by_ref()
            .map_while(Result::ok)
            .find_map(|line| {
                if let Some(found) = line.strip_prefix("metrics on http://") {
                    metrics_addr = found.strip_suffix("/metrics").map(str::to_owned);
                }
                line.strip_prefix("notes listening on http://").map(str::to_owned)
            })
            .expect("the service says where it listens");
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, addr, metrics_addr }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
