//! The mail catcher against maildev (npm), in one run: SMTP ingest rate (smtp-source, 8
//! sessions) with the page off, with the page on (and a live SSE listener, as an open page
//! has), and maildev's; RSS after N captured messages; API list latency with N messages.
//!
//!     cargo build --release -p squall-cli -p squall-bench
//!     (mkdir -p run/maildev && cd run/maildev && npm install maildev@3.0.0)
//!     target/release/catcher_bench [--messages 10000] [--rounds 3] [--maildev DIR]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server under test, killed by its PID when dropped.
struct Server {
    child: Child,
    smtp: String,
    web: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (bounded) until `addr` accepts connections.
fn wait_port(addr: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(addr).is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {addr}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

fn squall_sink(squall: &Path, web: bool) -> Result<Server, String> {
    let (smtp, http) = (free_port(), free_port());
    let mut cmd = Command::new(squall);
    cmd.args(["sink", "--quiet", "--listen", &format!("127.0.0.1:{smtp}")]);
    if web {
        cmd.args(["--web", &format!("127.0.0.1:{http}"), "--max-messages", "1000000"]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", squall.display()))?;
    let s = Server {
        child,
        smtp: format!("127.0.0.1:{smtp}"),
        web: format!("127.0.0.1:{http}"),
    };
    wait_port(&s.smtp)?;
    if web {
        wait_port(&s.web)?;
    }
    Ok(s)
}

fn maildev(dir: &Path) -> Result<Server, String> {
    let (smtp, http) = (free_port(), free_port());
    // maildev 3 (TypeScript on Fastify): the CLI entry point and its loopback flags.
    let bin = dir.join("node_modules/maildev/dist/bin/maildev.js");
    let child = Command::new("node")
        .arg(&bin)
        .args([
            "--ip",
            "127.0.0.1",
            "--smtp",
            &smtp.to_string(),
            "--web",
            &http.to_string(),
            "--silent",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("node {}: {e}", bin.display()))?;
    let s = Server {
        child,
        smtp: format!("127.0.0.1:{smtp}"),
        web: format!("127.0.0.1:{http}"),
    };
    wait_port(&s.smtp)?;
    wait_port(&s.web)?;
    Ok(s)
}

/// smtp-source with 8 sessions, `n` messages of about 1 KiB; returns messages per second.
fn ingest(addr: &str, n: u64) -> Result<f64, String> {
    let started = Instant::now();
    let out = Command::new("smtp-source")
        .args([
            "-s",
            "8",
            "-m",
            &n.to_string(),
            "-l",
            "1024",
            "-f",
            "bench@example.org",
            "-t",
            "catch@example.net",
            addr,
        ])
        .output()
        .map_err(|e| format!("smtp-source: {e} (Debian package postfix)"))?;
    if !out.status.success() {
        return Err(format!(
            "smtp-source failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// One GET; returns the time to the whole body and the body.
fn get(addr: &str, path: &str) -> Result<(Duration, Vec<u8>), String> {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    if !buf.starts_with(b"HTTP/1.1 200") {
        return Err(format!(
            "GET {path}: {}",
            String::from_utf8_lossy(&buf[..buf.len().min(200)])
        ));
    }
    Ok((started.elapsed(), buf))
}

/// p50 and p95 of `runs` GETs of `path`, in milliseconds.
fn latency(addr: &str, path: &str, runs: usize) -> Result<(f64, f64), String> {
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        t.push(get(addr, path)?.0.as_secs_f64() * 1000.0);
    }
    t.sort_by(f64::total_cmp);
    Ok((t[runs / 2], t[runs * 95 / 100]))
}

/// An SSE listener, as an open page has, reading and dropping events on its own thread.
fn listen_events(addr: &str) -> Result<(), String> {
    let mut s = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    write!(s, "GET /api/v1/events HTTP/1.1\r\nHost: localhost\r\n\r\n").map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while r.read_line(&mut line).is_ok_and(|n| n > 0) {
            line.clear();
        }
    });
    Ok(())
}

fn run() -> Result<(), String> {
    let mut n: u64 = 10_000;
    let mut rounds: usize = 3;
    let mut maildev_dir = PathBuf::from("run/maildev");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--messages" => n = args.next().and_then(|v| v.parse().ok()).ok_or("--messages N")?,
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|r| *r > 0)
                    .ok_or("--rounds N")?
            }
            "--maildev" => maildev_dir = args.next().ok_or("--maildev DIR")?.into(),
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let squall = exe.with_file_name("squall");
    println!("catcher benchmark: {n} messages of ~1 KiB, smtp-source -s 8");

    // Page off and page on alternate, so that a neighbour's load hits both alike; medians.
    let (mut offs, mut ons) = (Vec::new(), Vec::new());
    let mut last = None;
    for round in 1..=rounds {
        let off = squall_sink(&squall, false)?;
        let rate_off = ingest(&off.smtp, n)?;
        drop(off);
        let on = squall_sink(&squall, true)?;
        listen_events(&on.web)?;
        let rate_on = ingest(&on.smtp, n)?;
        println!(
            "round {round}: page off {rate_off:.0} msg/s, page on {rate_on:.0} msg/s ({:.2}x)",
            rate_on / rate_off
        );
        offs.push(rate_off);
        ons.push(rate_on);
        if let Some(old) = last.replace(on) {
            drop::<Server>(old);
        }
    }
    let on = last.ok_or("no rounds")?;
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (rate_off, rate_on) = (median(&mut offs), median(&mut ons));
    let rss_on = rss_mib(on.child.id());
    let (first, _) = get(&on.web, "/api/v1/messages?limit=50")?;
    let (p50, p95) = latency(&on.web, "/api/v1/messages?limit=50", 200)?;
    let (s50, s95) = latency(&on.web, "/api/v1/messages?limit=50&q=subject:nothing-matches", 50)?;
    let (i50, _) = latency(&on.web, "/", 50)?;
    println!("squall sink, page off:  {rate_off:>8.0} msg/s (median of {rounds})");
    println!(
        "squall sink, page on:   {rate_on:>8.0} msg/s (median of {rounds})   RSS {rss_on:.1} MiB after {n}   ({:.2}x page off)",
        rate_on / rate_off
    );
    println!(
        "  API list (50 of {n}): first {:.1} ms, then p50 {p50:.2} ms, p95 {p95:.2} ms; search over all: p50 {s50:.2} ms, p95 {s95:.2} ms; page HTML p50 {i50:.2} ms",
        first.as_secs_f64() * 1000.0
    );
    drop(on);

    if !maildev_dir.join("node_modules/maildev").exists() {
        println!(
            "maildev: not installed in {} (npm install maildev@3.0.0 there); skipped",
            maildev_dir.display()
        );
        return Ok(());
    }
    let md = maildev(&maildev_dir)?;
    let rate_md = ingest(&md.smtp, n)?;
    // maildev stores each message after replying; give it a moment to settle before measuring.
    std::thread::sleep(Duration::from_secs(2));
    let rss_md = rss_mib(md.child.id());
    let (m50, m95) = latency(&md.web, "/api/email", 10)?;
    println!("maildev 3.0.0:          {rate_md:>8.0} msg/s   RSS {rss_md:.1} MiB after {n}");
    println!("  API list (GET /api/email, all {n}; it has no paging): p50 {m50:.1} ms, p95 {m95:.1} ms");
    println!(
        "ratios: ingest page on / maildev {:.1}x (target >= 20x); page on / page off {:.2} (target >= 0.8); RSS maildev / page on {:.1}x (target >= 4x); list p50 {p50:.2} ms (target < 20 ms)",
        rate_on / rate_md,
        rate_on / rate_off,
        rss_md / rss_on
    );
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("catcher_bench: {e}");
        std::process::exit(1);
    }
}
