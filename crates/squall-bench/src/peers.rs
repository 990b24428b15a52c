//! The outside servers the benchmarks start with the project's peer scripts, and how to read
//! what they stored.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (the peer scripts are under `scripts/peers`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Runs `scripts/peers/NAME ARGS…`; whether it succeeded.
pub fn script(root: &Path, name: &str, args: &[String]) -> bool {
    Command::new(root.join("scripts/peers").join(name))
        .args(args)
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether this process runs as root (the Postfix daemon needs it).
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// The messages smtp-sink has accepted so far: the last `mesg=` of its `-c` counters in `log`.
pub fn smtp_sink_count(log: &Path) -> u64 {
    let log = std::fs::read(log).unwrap_or_default();
    let text = String::from_utf8_lossy(&log);
    text.rsplit("mesg=")
        .next()
        .and_then(|t| t.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}
