//! The sink under test: a `squall sink` child process, measured through /proc/PID.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `squall sink` child: killed (by its PID, which `prlimit` keeps when it executes the sink)
/// when dropped.
pub(crate) struct SinkChild {
    child: Child,
    pub(crate) addr: String,
}

impl SinkChild {
    pub(crate) fn start(squall: &PathBuf, nofile: u64, args: &[String]) -> Result<Self, String> {
        let mut child = Command::new("prlimit")
            .arg(format!("--nofile={nofile}:{nofile}"))
            .arg(squall)
            .args(["sink", "--listen", "127.0.0.1:0", "--quiet"])
            .args(args)
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start prlimit … squall sink: {e}"))?;
        let mut first = String::new();
        BufReader::new(child.stdout.take().ok_or("no stdout")?)
            .read_line(&mut first)
            .map_err(|e| e.to_string())?;
        let Some(addr) = first.trim().strip_prefix("listening on ") else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("the sink did not start: {first:?}"));
        };
        Ok(Self {
            addr: addr.to_string(),
            child,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak and current RSS in KiB (VmHWM, VmRSS).
    pub(crate) fn rss_kib(&self) -> (u64, u64) {
        squall_bench::rss_kib(self.pid())
    }

    /// CPU time used so far (user + system).
    pub(crate) fn cpu(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap_or_default();
        let Some(close) = stat.rfind(')') else {
            return Duration::ZERO;
        };
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let ticks: u64 = fields
            .get(11..13)
            .map_or(0, |f| f.iter().filter_map(|x| x.parse::<u64>().ok()).sum());
        Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64)
    }
}

impl Drop for SinkChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// Raises this process's open-file limit to `want` (with `prlimit --pid`, no unsafe code).
pub(crate) fn raise_nofile(want: u64) -> Result<u64, String> {
    let limits = std::fs::read_to_string("/proc/self/limits").map_err(|e| e.to_string())?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or("no open-file limit in /proc/self/limits")?;
    let nums: Vec<u64> = line.split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let [soft, hard] = nums[..] else {
        return Err(format!("cannot read {line:?}"));
    };
    if soft >= want {
        return Ok(soft);
    }
    let hard = hard.max(want);
    let status = Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string()])
        .arg(format!("--nofile={want}:{hard}"))
        .status()
        .map_err(|e| format!("prlimit: {e}"))?;
    if status.success() {
        Ok(want)
    } else {
        Err(format!(
            "cannot raise the open-file limit from {soft} to {want} (hard limit {hard})"
        ))
    }
}
