//! Shared helpers of the benchmark binaries.

use std::time::Duration;

pub mod variants;

/// Resident memory of this process, in bytes (Linux `/proc/self/statm`).
pub fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    pages * 4096
}

/// The median of `samples` (sorted in place).
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// Megabytes, for printing.
pub fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// CPU time (user + system) this process has used so far, from `/proc/self/stat`.
pub fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses and may hold spaces).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let hz = 100; // USER_HZ on Linux
    Duration::from_millis((ticks(11) + ticks(12)) * 1000 / hz)
}

/// Makes sure `wrk` is installed: on a machine without it, installs Debian's package with
/// `apt-get` (the benchmark machines run as root), so that one command runs a benchmark on a
/// fresh machine.
///
/// # Panics
///
/// When `wrk` is missing and `apt-get` cannot install it: the message says what to run.
pub fn ensure_wrk() {
    let present = || std::process::Command::new("wrk").arg("--version").output().is_ok();
    if present() {
        return;
    }
    println!("wrk is missing: installing Debian's package (apt-get install wrk)");
    let install = |args: &[&str]| {
        std::process::Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    };
    let installed = install(&["update", "-qq"]) && install(&["install", "-y", "-qq", "wrk"]);
    assert!(
        installed && present(),
        "wrk is missing and apt-get could not install it: run `apt-get install wrk` as root"
    );
}

/// The CPU `wrk` runs on, once [`pin`] chose one.
static LOAD_CPU: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Pins this process (its threads so far, and so the threads they start) to CPU `server`, and
/// every later [`wrk`] run to CPU `load`: the server on one core, the load generator on the
/// other, so that neither steals the other's core. Nothing happens on a machine with fewer CPUs
/// or without `taskset`.
pub fn pin(server: usize, load: usize) {
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    if cpus <= server.max(load) {
        return;
    }
    let pinned = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", &server.to_string(), &std::process::id().to_string()])
        .output()
        .is_ok_and(|out| out.status.success());
    if pinned {
        let _ = LOAD_CPU.set(load);
        println!("server pinned to CPU {server}, wrk to CPU {load}");
    }
}

/// Figures of one `wrk` run.
#[derive(Debug, Clone, Copy, Default)]
pub struct WrkRun {
    /// Requests per second.
    pub requests_per_sec: f64,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Responses outside 2xx/3xx.
    pub non_2xx: u64,
    /// Requests completed.
    pub requests: u64,
}

/// Runs `wrk` against `url` (loopback only) with a Lua `script`, and reads its figures.
///
/// # Panics
///
/// When `wrk` is missing (`apt-get install wrk`) or its output cannot be read.
pub fn wrk(url: &str, script: &std::path::Path, connections: u32, seconds: u32) -> WrkRun {
    assert!(url.starts_with("http://127.0.0.1:"), "load goes to loopback only");
    let mut command = match LOAD_CPU.get() {
        Some(cpu) => {
            let mut command = std::process::Command::new("taskset");
            command.args(["-c", &cpu.to_string(), "wrk"]);
            command
        }
        None => std::process::Command::new("wrk"),
    };
    let output = command
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-s"])
        .arg(script)
        .arg(url)
        .output()
        .expect("wrk runs (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    let field = |prefix: &str| {
        text.lines()
            .find_map(|line| line.trim().strip_prefix(prefix).map(|rest| rest.trim().to_owned()))
            .unwrap_or_else(|| panic!("no `{prefix}` in wrk's output:\n{text}"))
    };
    WrkRun {
        requests_per_sec: field("Requests/sec:").parse().expect("a rate"),
        p50: wrk_duration(&field("50%")),
        p99: wrk_duration(&field("99%")),
        requests: text
            .lines()
            .find_map(|line| line.trim().split_once(" requests in ").and_then(|(n, _)| n.trim().parse().ok()))
            .unwrap_or(0),
        non_2xx: text
            .lines()
            .find_map(|line| line.trim().strip_prefix("Non-2xx or 3xx responses:"))
            .map_or(0, |n| n.trim().parse().unwrap_or(u64::MAX)),
    }
}

/// `wrk`'s `123.45us`, `1.20ms`, `2.00s`.
fn wrk_duration(text: &str) -> Duration {
    let split = text.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().unwrap_or(0.0);
    let secs = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        _ => 0.0,
    };
    Duration::from_secs_f64(secs)
}

/// Medians of a variant's rounds: requests per second, p50, p99.
pub fn medians(rounds: &[WrkRun]) -> (f64, Duration, Duration) {
    let mut rps: Vec<f64> = rounds.iter().map(|x| x.requests_per_sec).collect();
    let mut p50: Vec<Duration> = rounds.iter().map(|x| x.p50).collect();
    let mut p99: Vec<Duration> = rounds.iter().map(|x| x.p99).collect();
    (median_f64(&mut rps), median(&mut p50), median(&mut p99))
}

/// The median of `values`.
pub fn median_f64(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or_default()
}

/// Today's date (UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    let out = std::process::Command::new("date").args(["-u", "+%Y-%m-%d"]).output();
    out.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default()
}

/// Replaces the text between `<!-- NAME:start -->` and `<!-- NAME:end -->` in BENCHMARKS.md
/// (at the workspace root) with `body`.
///
/// # Panics
///
/// When BENCHMARKS.md cannot be read or written, or lacks the markers.
pub fn write_section(name: &str, body: &str) {
    write_section_in("BENCHMARKS.md", name, body);
}

/// [`write_section`] for another Markdown file at the workspace root (RELIABILITY.md...).
///
/// # Panics
///
/// When the file cannot be read or written, or lacks the markers.
pub fn write_section_in(file: &str, name: &str, body: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    let (start, end) = (format!("<!-- {name}:start -->"), format!("<!-- {name}:end -->"));
    let (Some(a), Some(b)) = (text.find(&start), text.find(&end)) else {
        panic!("{file} has no {start} ... {end} markers");
    };
    let updated = format!("{}{start}\n{body}{}", &text[..a], &text[b..]);
    std::fs::write(&path, updated).unwrap_or_else(|e| panic!("{file}: {e}"));
    println!("{file}: section `{name}` updated");
}
