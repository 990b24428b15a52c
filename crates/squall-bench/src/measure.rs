//! Runs a client process under GNU time and measures it: wall time, CPU seconds, peak RSS.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What one run of a client cost.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cost {
    pub(crate) wall: Duration,
    pub(crate) cpu: Duration,
    pub(crate) max_rss_kib: u64,
}

/// Runs `program args…` to completion under `/usr/bin/time`, killing it (by the PID this run
/// started) after `limit`. Returns the cost and everything the client printed.
pub(crate) fn run(program: &str, args: &[String], limit: Duration) -> Result<(Cost, String), String> {
    let report = tempfile_path();
    let started = Instant::now();
    let mut child = Command::new("/usr/bin/time")
        .args(["-f", "%e %U %S %M", "-o"])
        .arg(&report)
        .arg(program)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a run that overstays can be stopped whole.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {program}: {e}"))?;
    let pid = child.id();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let output = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(o) = stdout.as_mut() {
            let _ = std::io::Read::read_to_string(o, &mut s);
        }
        if let Some(e) = stderr.as_mut() {
            let _ = std::io::Read::read_to_string(e, &mut s);
        }
        s
    });
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let status = child.wait();
        let _ = tx.send((status, Instant::now()));
    });
    let (status, ended) = match rx.recv_timeout(limit) {
        Ok((status, ended)) => (status.map_err(|e| e.to_string())?, ended),
        Err(_) => {
            // The process group this run started, and nothing else.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .status();
            let _ = std::fs::remove_file(&report);
            return Err(format!("{program} gave up after {limit:?}"));
        }
    };
    let text = output.join().unwrap_or_default();
    let times = std::fs::read_to_string(&report).unwrap_or_default();
    let _ = std::fs::remove_file(&report);
    if !status.success() {
        return Err(format!("{program} failed ({status}): {}", tail(&text)));
    }
    // The last line: the client may have written to the same file descriptor before.
    let fields: Vec<f64> = times
        .lines()
        .last()
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    let [_, user, sys, rss] = fields[..] else {
        return Err(format!("cannot read /usr/bin/time's report {times:?}"));
    };
    Ok((
        Cost {
            wall: ended - started,
            cpu: Duration::from_secs_f64(user + sys),
            max_rss_kib: rss as u64,
        },
        text,
    ))
}

fn tempfile_path() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    std::env::temp_dir().join(format!("squall-bench-time.{}.{n}", std::process::id()))
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}
