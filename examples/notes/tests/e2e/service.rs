//! The notes binary, started for real on a free loopback port, stopped with SIGTERM.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The JWT secret every e2e service verifies with (and signs `/oauth/token` tokens with).
pub(crate) const JWT_SECRET: &str = "e2e-jwt-secret-0123456789abcdef-0123456789";
/// A fixed seal key, so that notes stay readable across restarts.
pub(crate) const SEAL_KEY: &str = "e2e:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A running notes process; killed on drop if still running.
pub(crate) struct Service {
    child: Option<Child>,
    /// `host:port`.
    pub(crate) addr: String,
    /// `http` or `https`.
    pub(crate) scheme: &'static str,
    /// What the process wrote to stderr so far.
    pub(crate) stderr: Arc<Mutex<Vec<String>>>,
    env: Vec<(String, String)>,
}

impl Service {
    /// Starts the binary with `env` (on top of a clean environment) and waits until it listens.
    pub(crate) fn start(env: &[(String, String)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_notes"));
        for (name, _) in std::env::vars() {
            if name.starts_with("RAMPART_") || name == "DATABASE_URL" {
                command.env_remove(name);
            }
        }
        command.env("RAMPART_ADDR", "127.0.0.1:0");
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut listening = None;
        for line in lines.by_ref() {
            let line = line.unwrap();
            stderr.lock().unwrap().push(line.clone());
            if let Some(rest) = line.strip_prefix("notes listening on ") {
                listening = Some(rest.to_owned());
                break;
            }
        }
        let Some(url) = listening else {
            let status = child.wait().unwrap();
            panic!("notes did not start ({status}): {:#?}", stderr.lock().unwrap());
        };
        let (scheme, addr) = url.split_once("://").unwrap();
        let scheme = if scheme == "https" { "https" } else { "http" };
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self { child: Some(child), addr: addr.to_owned(), scheme, stderr, env: env.to_vec() }
    }

    /// The URL of `path`.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}://{}{path}", self.scheme, self.addr)
    }

    /// Sends SIGTERM and waits for the process to exit.
    pub(crate) fn stop(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("running");
        self.terminate_only(&child);
        let status = child.wait().unwrap();
        // Let the reader thread drain the last lines.
        std::thread::sleep(Duration::from_millis(50));
        status
    }

    /// Sends SIGTERM without waiting.
    pub(crate) fn signal_terminate(&self) {
        self.terminate_only(self.child.as_ref().expect("running"));
    }

    fn terminate_only(&self, child: &Child) {
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (after [`Service::signal_terminate`]).
    pub(crate) fn wait(&mut self) -> ExitStatus {
        self.child.take().expect("running").wait().unwrap()
    }

    /// Stops this process and starts another with the same environment.
    pub(crate) fn restart(mut self) -> Self {
        let status = self.stop();
        assert!(status.success(), "notes exited with {status} on SIGTERM");
        Service::start(&self.env)
    }

    /// Everything written to stderr so far.
    pub(crate) fn log(&self) -> String {
        self.stderr.lock().unwrap().join("\n")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
