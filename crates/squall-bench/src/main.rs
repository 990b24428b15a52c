//! squall-bench: squall and other SMTP clients, in one run, against the same servers, at 0 and
//! 10 ms round-trip time, 1 KiB and 100 KiB, 1 and 8 connections. Prints msgs/s (median of the
//! runs), CPU seconds per 10,000 messages and peak RSS, the ratios squall/other, and whether the
//! targets are met. Every run is checked: the server must have stored every message counted.
//!
//! `cargo run --release -p squall-bench -- [--runs 3] [--seconds 2] [--quick] [--json FILE]`
//!
//! Needs Postfix's smtp-sink and smtp-source, Python 3, GNU time; the Postfix daemon column
//! needs root. `scripts/peers/install.sh` installs the servers; aiosmtplib is used if present.

mod measure;
mod proxy;
mod servers;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use measure::Cost;
use servers::{Server, ServerKind};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
enum Client {
    Squall,
    /// Another squall binary (`--baseline PATH`): the same commands, to compare two builds in one
    /// run.
    SquallBefore,
    Lettre,
    LettreNodelay,
    SmtpSource,
    Smtplib,
    Aiosmtplib,
}

impl Client {
    const ALL: [Self; 7] = [
        Self::Squall,
        Self::SquallBefore,
        Self::Lettre,
        Self::LettreNodelay,
        Self::SmtpSource,
        Self::Smtplib,
        Self::Aiosmtplib,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Squall => "squall",
            Self::SquallBefore => "squall-before",
            Self::Lettre => "lettre",
            Self::LettreNodelay => "lettre+nodelay",
            Self::SmtpSource => "smtp-source",
            Self::Smtplib => "smtplib",
            Self::Aiosmtplib => "aiosmtplib",
        }
    }

    /// The command that sends `n` messages of `size` bytes over `conns` connections to `addr`.
    fn command(
        self,
        env: &Env,
        addr: std::net::SocketAddr,
        n: u64,
        size: usize,
        conns: usize,
    ) -> (String, Vec<String>) {
        let (program, mut args) = self.base_command(env, addr, n, size, conns);
        if self == Self::Squall {
            args.extend(env.squall_args.iter().cloned());
        }
        if self == Self::SquallBefore {
            return (env.baseline.clone().unwrap_or_default(), args);
        }
        (program, args)
    }

    fn base_command(
        self,
        env: &Env,
        addr: std::net::SocketAddr,
        n: u64,
        size: usize,
        conns: usize,
    ) -> (String, Vec<String>) {
        let (host, port) = (addr.ip().to_string(), addr.port().to_string());
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let (n, size_s, c) = (n.to_string(), size.to_string(), conns.to_string());
        match self {
            Self::Squall | Self::SquallBefore => (
                env.bin("squall"),
                s(&[
                    "bulk",
                    "--server",
                    &addr.to_string(),
                    "--tls",
                    "none",
                    "--generate",
                    &n,
                    "--size",
                    &size_s,
                    "--from",
                    "a@example.org",
                    "--to",
                    "b@example.org",
                    "--connections",
                    &c,
                    "--json",
                ]),
            ),
            Self::Lettre => (env.bin("lettre-bulk"), s(&[&host, &port, &n, &size_s, &c])),
            Self::LettreNodelay => (
                env.bin("lettre-bulk"),
                s(&[&host, &port, &n, &size_s, &c, "--nodelay"]),
            ),
            Self::SmtpSource => (
                "smtp-source".into(),
                s(&[
                    "-d",
                    "-s",
                    &c,
                    "-m",
                    &n,
                    "-l",
                    &size_s,
                    "-f",
                    "a@example.org",
                    "-t",
                    "b@example.org",
                    &addr.to_string(),
                ]),
            ),
            Self::Smtplib => (
                "python3".into(),
                s(&[&env.script("smtplib_bulk.py"), &host, &port, &n, &size_s, &c]),
            ),
            Self::Aiosmtplib => (
                env.venv_python.display().to_string(),
                s(&[&env.script("aiosmtplib_bulk.py"), &host, &port, &n, &size_s, &c]),
            ),
        }
    }
}

/// Where things are.
struct Env {
    root: PathBuf,
    venv_python: PathBuf,
    squall_args: Vec<String>,
    /// A second squall binary to measure beside this build.
    baseline: Option<String>,
}

impl Env {
    fn bin(&self, name: &str) -> String {
        self.root.join("target/release").join(name).display().to_string()
    }

    fn script(&self, name: &str) -> String {
        self.root
            .join("crates/squall-bench/clients")
            .join(name)
            .display()
            .to_string()
    }
}

struct Options {
    runs: usize,
    seconds: f64,
    quick: bool,
    json: Option<PathBuf>,
    /// Only cells whose "server rtt size conns" line contains this.
    only: Option<String>,
    /// Only these clients.
    clients: Option<Vec<String>>,
    /// Extra arguments for `squall bulk` (tuning experiments).
    squall_args: Vec<String>,
    /// Another squall binary, measured as `squall-before`.
    baseline: Option<String>,
    /// Send this many messages per run instead of calibrating to `seconds` (so that every
    /// client's figure includes the same start-up share).
    count: Option<u64>,
}

/// The median of the runs of one client in one cell.
#[derive(Clone, Debug, Serialize)]
struct Result_ {
    server: &'static str,
    rtt_ms: u64,
    size: usize,
    conns: usize,
    client: &'static str,
    messages: u64,
    msgs_per_sec: f64,
    cpu_s_per_10k: f64,
    max_rss_mib: f64,
    error: Option<String>,
}

/// The median, 0 when there is none (a client that did not run).
fn median(v: Vec<f64>) -> f64 {
    if v.is_empty() {
        0.0
    } else {
        squall_bench::median(v)
    }
}

fn parse_args() -> Options {
    let mut o = Options {
        runs: 3,
        seconds: 2.0,
        quick: false,
        json: None,
        only: None,
        clients: None,
        squall_args: Vec::new(),
        baseline: None,
        count: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--runs" => o.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(3).max(1),
            "--seconds" => o.seconds = it.next().and_then(|v| v.parse().ok()).unwrap_or(2.0),
            "--quick" => o.quick = true,
            "--json" => o.json = it.next().map(PathBuf::from),
            "--only" => o.only = it.next(),
            "--squall-args" => {
                o.squall_args = it
                    .next()
                    .map(|v| v.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default()
            }
            "--baseline" => o.baseline = it.next(),
            "--count" => o.count = it.next().and_then(|v| v.parse().ok()),
            "--clients" => o.clients = it.next().map(|v| v.split(',').map(str::to_string).collect()),
            "-h" | "--help" => {
                println!(
                    "usage: squall-bench [--runs N] [--seconds S] [--quick] [--json FILE] \\\n\
                     \x20      [--only 'smtp-sink 10ms 1024B 1'] [--clients squall,smtp-source] \\\n\
                     \x20      [--baseline PATH-TO-ANOTHER-squall-BINARY] [--count MESSAGES-PER-RUN]"
                );
                std::process::exit(0);
            }
            other => {
                eprintln!("squall-bench: unknown argument {other:?}");
                std::process::exit(64);
            }
        }
    }
    if o.quick {
        o.runs = 1;
        o.seconds = 0.5;
    }
    o
}

fn main() {
    let opts = parse_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root");
    let env = Env {
        venv_python: root.join("run/venv/bin/python"),
        root,
        squall_args: opts.squall_args.clone(),
        baseline: opts.baseline.clone(),
    };
    prepare(&env);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let servers = rt.block_on(servers::start_all(&env.root));
    let clients: Vec<Client> = Client::ALL
        .into_iter()
        .filter(|c| *c != Client::Aiosmtplib || has_aiosmtplib(&env))
        .filter(|c| *c != Client::SquallBefore || env.baseline.is_some())
        .filter(|c| {
            opts.clients
                .as_ref()
                .is_none_or(|l| l.iter().any(|n| n == c.name()))
        })
        .collect();
    println!(
        "squall-bench: {} run(s) per cell of about {} s; clients: {}; servers: {}",
        opts.runs,
        opts.seconds,
        clients.iter().map(|c| c.name()).collect::<Vec<_>>().join(", "),
        servers
            .iter()
            .map(|s| s.kind.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut results = Vec::new();
    let mut rtts = Vec::new();
    for server in &servers {
        for rtt in [0u64, 10] {
            let (target, measured) = rt.block_on(async {
                if rtt == 0 {
                    return (
                        server.addr,
                        proxy::measure_rtt(server.addr).await.unwrap_or_default(),
                    );
                }
                proxy::calibrated(server.addr, Duration::from_millis(rtt))
                    .await
                    .expect("proxy")
            });
            println!(
                "  {} at {rtt} ms nominal: measured round trip {:.2} ms",
                server.kind.name(),
                measured.as_secs_f64() * 1000.0
            );
            rtts.push((server.kind.name(), rtt, measured));
            for size in [1024usize, 100 * 1024] {
                for conns in [1usize, 8] {
                    let cell = format!("{} {rtt}ms {size}B {conns}", server.kind.name());
                    if opts.only.as_ref().is_some_and(|o| !cell.contains(o.as_str())) {
                        continue;
                    }
                    for &client in &clients {
                        let r = measure_cell(&env, &opts, server, target, rtt, size, conns, client);
                        print_row(&r);
                        results.push(r);
                    }
                }
            }
        }
    }
    let mut report = String::new();
    table(&mut report, &results, &clients);
    let memory = if opts.only.is_none() {
        memory_checks(&env, &servers)
    } else {
        Memory::default()
    };
    targets(&mut report, &results, &memory, &rtts);
    println!("{report}");
    if let Some(path) = &opts.json {
        let rtt: Vec<_> = rtts.iter().map(|(s, r, d)| serde_json::json!({"server": s, "nominal_ms": r, "measured_ms": d.as_secs_f64() * 1000.0})).collect();
        let json = serde_json::json!({ "results": results, "memory": memory, "rtt": rtt });
        std::fs::write(path, serde_json::to_vec_pretty(&json).expect("json")).expect("write results");
        println!("results written to {}", path.display());
    }
    rt.block_on(servers::stop_all(servers));
}

/// Builds the binaries this bench runs and checks for the others.
fn prepare(env: &Env) {
    let status = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "build",
            "--release",
            "--quiet",
            "-p",
            "squall-cli",
            "-p",
            "squall-bench",
            "--bins",
        ])
        .current_dir(&env.root)
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building squall and lettre-bulk failed");
    for (tool, how) in [
        (
            "smtp-source",
            "apt-get install postfix (scripts/peers/install.sh)",
        ),
        ("smtp-sink", "apt-get install postfix (scripts/peers/install.sh)"),
        ("/usr/bin/time", "apt-get install time"),
        ("python3", "apt-get install python3"),
    ] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(found, "squall-bench needs {tool}: {how}");
    }
}

fn has_aiosmtplib(env: &Env) -> bool {
    std::process::Command::new(&env.venv_python)
        .args(["-c", "import aiosmtplib"])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Calibrates the message count to about `seconds`, then measures `runs` times.
#[allow(clippy::too_many_arguments)]
fn measure_cell(
    env: &Env,
    opts: &Options,
    server: &Server,
    target: std::net::SocketAddr,
    rtt: u64,
    size: usize,
    conns: usize,
    client: Client,
) -> Result_ {
    let mut r = Result_ {
        server: server.kind.name(),
        rtt_ms: rtt,
        size,
        conns,
        client: client.name(),
        messages: 0,
        msgs_per_sec: 0.0,
        cpu_s_per_10k: 0.0,
        max_rss_mib: 0.0,
        error: None,
    };
    let limit = Duration::from_secs(120);
    let once = |n: u64| -> Result<Cost, String> {
        let before = server.stored();
        let (program, args) = client.command(env, target, n, size, conns);
        let (cost, _out) = measure::run(&program, &args, limit)?;
        server.wait_stored(before + n, Duration::from_secs(60))?;
        Ok(cost)
    };
    // A short pilot run estimates the rate; the measured runs then last about `seconds`.
    let pilot = (conns as u64 * 4).max(if rtt > 0 { 16 } else { 40 });
    let rate = match once(pilot) {
        Ok(c) => pilot as f64 / c.wall.as_secs_f64(),
        Err(e) => {
            r.error = Some(e);
            return r;
        }
    };
    let n = opts
        .count
        .unwrap_or_else(|| ((rate * opts.seconds) as u64).clamp(pilot, 200_000));
    let (mut rates, mut cpus, mut rss) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..opts.runs {
        match once(n) {
            Ok(c) => {
                rates.push(n as f64 / c.wall.as_secs_f64());
                cpus.push(c.cpu.as_secs_f64() / n as f64 * 10_000.0);
                rss.push(c.max_rss_kib as f64 / 1024.0);
            }
            Err(e) => {
                r.error = Some(e);
                return r;
            }
        }
    }
    r.messages = n;
    r.msgs_per_sec = median(rates);
    r.cpu_s_per_10k = median(cpus);
    r.max_rss_mib = rss.into_iter().fold(0.0, f64::max);
    r
}

fn print_row(r: &Result_) {
    match &r.error {
        None => println!(
            "  {:<11} {:>2} ms {:>6} B {} conn {:<15} {:>9.0} msgs/s  {:>6.2} cpu-s/10k  {:>6.1} MiB  (n={})",
            r.server,
            r.rtt_ms,
            r.size,
            r.conns,
            r.client,
            r.msgs_per_sec,
            r.cpu_s_per_10k,
            r.max_rss_mib,
            r.messages
        ),
        Some(e) => println!(
            "  {:<11} {:>2} ms {:>6} B {} conn {:<15} FAILED: {e}",
            r.server, r.rtt_ms, r.size, r.conns, r.client
        ),
    }
}

fn find<'a>(
    results: &'a [Result_],
    server: &str,
    rtt: u64,
    size: usize,
    conns: usize,
    client: Client,
) -> Option<&'a Result_> {
    results.iter().find(|r| {
        r.server == server
            && r.rtt_ms == rtt
            && r.size == size
            && r.conns == conns
            && r.client == client.name()
            && r.error.is_none()
    })
}

/// The msgs/s table with squall's ratio to each other client.
fn table(out: &mut String, results: &[Result_], clients: &[Client]) {
    let _ = writeln!(out, "\nmsgs/s (median); in brackets squall/other");
    let _ = write!(out, "{:<11} {:>5} {:>7} {:>5}", "server", "rtt", "size", "conns");
    for c in clients {
        let _ = write!(out, " {:>22}", c.name());
    }
    let _ = writeln!(out);
    let mut cells: Vec<(&str, u64, usize, usize)> = results
        .iter()
        .map(|r| (r.server, r.rtt_ms, r.size, r.conns))
        .collect();
    cells.dedup();
    for (server, rtt, size, conns) in cells {
        let _ = write!(out, "{server:<11} {:>3}ms {:>6}B {conns:>5}", rtt, size);
        let squall = find(results, server, rtt, size, conns, Client::Squall).map(|r| r.msgs_per_sec);
        for &c in clients {
            match find(results, server, rtt, size, conns, c) {
                Some(r) if c == Client::Squall => {
                    let _ = write!(out, " {:>22.0}", r.msgs_per_sec);
                }
                Some(r) => {
                    let ratio = squall.map_or(String::from("-"), |s| format!("{:.2}x", s / r.msgs_per_sec));
                    let _ = write!(out, " {:>13.0} ({ratio:>6})", r.msgs_per_sec);
                }
                None => {
                    let _ = write!(out, " {:>22}", "failed");
                }
            }
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "\nCPU seconds per 10,000 messages / peak RSS MiB (0 ms, 1 KiB, 1 connection)"
    );
    for server in ["smtp-sink", "postfix", "squall-sink"] {
        let mut line = format!("{server:<11}");
        for &c in clients {
            if let Some(r) = find(results, server, 0, 1024, 1, c) {
                let _ = write!(line, " {}: {:.2}/{:.1}", c.name(), r.cpu_s_per_10k, r.max_rss_mib);
            }
        }
        let _ = writeln!(out, "{line}");
    }
}

#[derive(Debug, Default, Serialize)]
struct Memory {
    one_gib_send_rss_mib: Option<f64>,
    one_gib_send_seconds: Option<f64>,
    bulk_10k_rss_mib: Option<f64>,
    bulk_100k_rss_mib: Option<f64>,
    error: Option<String>,
}

/// Peak memory for a 1 GiB message streamed from a file, and for `squall bulk` of 10k and 100k.
fn memory_checks(env: &Env, servers: &[Server]) -> Memory {
    let mut m = Memory::default();
    let Some(sink) = servers.iter().find(|s| s.kind == ServerKind::SmtpSink) else {
        m.error = Some("no smtp-sink".into());
        return m;
    };
    let file = std::env::temp_dir().join(format!("squall-bench-1gib.{}.eml", std::process::id()));
    if let Err(e) = write_big_message(&file, 1 << 30) {
        m.error = Some(format!("cannot write {}: {e}", file.display()));
        return m;
    }
    let args: Vec<String> = [
        "send",
        "--server",
        &sink.addr.to_string(),
        "--tls",
        "none",
        "--from",
        "a@example.org",
        "--to",
        "b@example.org",
        "--raw-file",
        &file.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    match measure::run(&env.bin("squall"), &args, Duration::from_secs(300)) {
        Ok((c, _)) => {
            m.one_gib_send_rss_mib = Some(c.max_rss_kib as f64 / 1024.0);
            m.one_gib_send_seconds = Some(c.wall.as_secs_f64());
        }
        Err(e) => m.error = Some(e),
    }
    let _ = std::fs::remove_file(&file);
    for (n, slot) in [
        (10_000u64, &mut m.bulk_10k_rss_mib),
        (100_000, &mut m.bulk_100k_rss_mib),
    ] {
        let (program, args) = Client::Squall.command(env, sink.addr, n, 1024, 8);
        match measure::run(&program, &args, Duration::from_secs(300)) {
            Ok((c, _)) => *slot = Some(c.max_rss_kib as f64 / 1024.0),
            Err(e) => m.error = Some(e),
        }
    }
    m
}

fn write_big_message(path: &Path, size: u64) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    f.write_all(b"From: <a@example.org>\r\nTo: <b@example.org>\r\nSubject: one gibibyte\r\n\r\n")?;
    let line = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n";
    let mut written = 0;
    while written < size {
        f.write_all(line)?;
        written += line.len() as u64;
    }
    f.flush()
}

/// The targets, each with the measured figure.
fn targets(out: &mut String, results: &[Result_], mem: &Memory, rtts: &[(&str, u64, Duration)]) {
    let _ = writeln!(out, "\ntargets");
    let ms = |server, rtt, size, conns, c| find(results, server, rtt, size, conns, c).map(|r| r.msgs_per_sec);
    let mut check = |name: &str, value: Option<f64>, goal: f64, unit: &str, higher_is_better: bool| {
        let verdict = match value {
            Some(v) if (higher_is_better && v >= goal) || (!higher_is_better && v <= goal) => "met",
            Some(_) => "MISSED",
            None => "not measured",
        };
        let shown = value.map_or("-".to_string(), |v| format!("{v:.2}"));
        let cmp = if higher_is_better { ">=" } else { "<=" };
        let _ = writeln!(
            out,
            "  {verdict:<12} {name}: {shown}{unit} (goal {cmp} {goal}{unit})"
        );
    };
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    let sq = ms("smtp-sink", 0, 1024, 1, Client::Squall);
    check(
        "0 ms, 1 KiB, 1 conn: squall / smtp-source -d",
        ratio(sq, ms("smtp-sink", 0, 1024, 1, Client::SmtpSource)),
        1.5,
        "x",
        true,
    );
    check(
        "0 ms, 1 KiB, 1 conn: squall / lettre with TCP_NODELAY",
        ratio(sq, ms("smtp-sink", 0, 1024, 1, Client::LettreNodelay)),
        1.5,
        "x",
        true,
    );
    check(
        "0 ms, 1 KiB, 8 conns: squall / smtp-source -d -s 8",
        ratio(
            ms("smtp-sink", 0, 1024, 8, Client::Squall),
            ms("smtp-sink", 0, 1024, 8, Client::SmtpSource),
        ),
        1.0,
        "x",
        true,
    );
    let sq10 = ms("smtp-sink", 10, 1024, 1, Client::Squall);
    check(
        "10 ms, 1 KiB, 1 conn, smtp-sink: squall / smtp-source -d",
        ratio(sq10, ms("smtp-sink", 10, 1024, 1, Client::SmtpSource)),
        3.5,
        "x",
        true,
    );
    // Against the round trip measured through the proxy (timer granularity adds to the nominal).
    let rtt10 = rtts
        .iter()
        .find(|(s, r, _)| *s == "smtp-sink" && *r == 10)
        .map(|(_, _, d)| d.as_secs_f64());
    check(
        "10 ms, 1 KiB, 1 conn, smtp-sink: round trips per message",
        sq10.zip(rtt10).map(|(rate, rtt)| 1.0 / rate / rtt),
        1.15,
        "",
        false,
    );
    for server in ["postfix", "squall-sink"] {
        let s = ms(server, 10, 1024, 1, Client::Squall);
        check(
            &format!("10 ms, 1 KiB, 1 conn, {server} (CHUNKING): squall msgs/s"),
            s,
            500.0,
            "",
            true,
        );
        check(
            &format!("10 ms, 1 KiB, 1 conn, {server} (CHUNKING): squall / lettre"),
            ratio(s, ms(server, 10, 1024, 1, Client::Lettre)),
            20.0,
            "x",
            true,
        );
    }
    check(
        "memory: one 1 GiB message from a file, peak RSS",
        mem.one_gib_send_rss_mib,
        32.0,
        " MiB",
        false,
    );
    check(
        "memory: squall bulk of 100,000 messages, peak RSS",
        mem.bulk_100k_rss_mib,
        64.0,
        " MiB",
        false,
    );
    check(
        "memory: bulk RSS growth from 10,000 to 100,000 messages",
        mem.bulk_100k_rss_mib
            .zip(mem.bulk_10k_rss_mib)
            .map(|(a, b)| a - b),
        4.0,
        " MiB",
        false,
    );
    let big = |c| ms("smtp-sink", 0, 100 * 1024, 8, c);
    check(
        "0 ms, 100 KiB, 8 conns: squall / smtp-source -d -s 8",
        ratio(big(Client::Squall), big(Client::SmtpSource)),
        1.0,
        "x",
        true,
    );
    check(
        "0 ms, 100 KiB, 8 conns: squall / lettre",
        ratio(big(Client::Squall), big(Client::Lettre)),
        1.0,
        "x",
        true,
    );
    check(
        "0 ms, 100 KiB, 8 conns: squall peak RSS",
        find(results, "smtp-sink", 0, 100 * 1024, 8, Client::Squall).map(|r| r.max_rss_mib),
        24.0,
        " MiB",
        false,
    );
    let cpu = |c| find(results, "smtp-sink", 0, 1024, 1, c).map(|r| r.cpu_s_per_10k);
    check(
        "CPU seconds per 10,000 messages: squall / smtp-source -d",
        ratio(cpu(Client::Squall), cpu(Client::SmtpSource)),
        1.0,
        "x",
        false,
    );
    if let Some(e) = &mem.error {
        let _ = writeln!(out, "  memory checks: {e}");
    }
}
