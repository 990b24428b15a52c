//! The soak: many messages through one `Client` to a sink that injects a random fault into about
//! 1% of transactions; then every message is reconciled with what the sink stored.
//!
//! ```text
//! cargo run --release -p squall-bench --bin soak -- [--messages 100000] [--connections 8]
//!     [--chaos 0.01] [--seed 42] [--size 1024] [--no-chunking]
//! ```
//!
//! The sink runs in a child process (this program with `--serve`), so the memory figures are the
//! client's alone. Exit status 0 only if everything reconciles: each message reported delivered
//! is stored exactly once, each reported failed is not stored, an ambiguous one at most once.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use squall::{Client, Error, ErrorKind, Receipt, Tls};
use squall_sink::Sink;
use tokio::task::JoinSet;

struct Args {
    messages: u64,
    connections: usize,
    chaos: f64,
    seed: u64,
    size: usize,
    chunking: bool,
}

fn parse_args() -> Result<(bool, Args), String> {
    let mut a = Args {
        messages: 100_000,
        connections: 8,
        chaos: 0.01,
        seed: 42,
        size: 1024,
        chunking: true,
    };
    let mut serve = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--serve" {
            serve = true;
            continue;
        }
        if flag == "--no-chunking" {
            a.chunking = false;
            continue;
        }
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--messages" => a.messages = value.parse().map_err(|e| bad(&e))?,
            "--connections" => a.connections = value.parse().map_err(|e| bad(&e))?,
            "--chaos" => a.chaos = value.parse().map_err(|e| bad(&e))?,
            "--seed" => a.seed = value.parse().map_err(|e| bad(&e))?,
            "--size" => a.size = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok((serve, a))
}

fn main() {
    let (serve, args) = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("soak: {e}");
            std::process::exit(64);
        }
    };
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let code = if serve {
        rt.block_on(serve_sink(&args));
        0
    } else {
        rt.block_on(soak(&args))
    };
    std::process::exit(code);
}

/// The child: a chaotic sink that prints `listening ADDR`, then on end of stdin the soak id of
/// every message it stored, one per line, and `end`.
async fn serve_sink(args: &Args) {
    let stored: Arc<Mutex<Vec<u32>>> = Arc::default();
    let record = stored.clone();
    let sink = Sink::builder()
        .keep_messages(false)
        .chaos(args.chaos, args.seed)
        .on_message(move |m| {
            if let Some(id) = soak_id(&m.data) {
                record.lock().unwrap().push(id);
            }
        })
        .start()
        .await
        .expect("the sink starts");
    println!("listening {}", sink.addr());
    let _ = std::io::stdout().flush();
    // Wait for the parent to close stdin (or to die).
    let _ = tokio::task::spawn_blocking(|| std::io::copy(&mut std::io::stdin(), &mut std::io::sink())).await;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for id in stored.lock().unwrap().iter() {
        let _ = writeln!(out, "{id}");
    }
    let _ = writeln!(out, "end");
}

fn soak_id(data: &[u8]) -> Option<u32> {
    const KEY: &[u8] = b"X-Soak-Id: ";
    let at = data.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let end = data[at..].iter().position(|&b| b == b'\r')? + at;
    std::str::from_utf8(&data[at..end]).ok()?.parse().ok()
}

fn message(i: u64, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: <soak@example.org>\r\nTo: <sink@example.net>\r\nSubject: soak {i}\r\nX-Soak-Id: {i}\r\n\
         Message-ID: <{i}@soak.squall>\r\n\r\n"
    )
    .into_bytes();
    while m.len() < size {
        m.extend_from_slice(b"soak soak soak soak soak soak soak soak soak soak soak soak soak soak\r\n");
    }
    m
}

/// What the client said about a message.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Told {
    Pending,
    Delivered,
    Failed,
    Ambiguous,
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    field("VmRSS:")
}

async fn soak(args: &Args) -> i32 {
    let exe = std::env::current_exe().expect("own path");
    let mut child = Command::new(exe)
        .args([
            "--serve",
            "--chaos",
            &args.chaos.to_string(),
            "--seed",
            &args.seed.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the sink process starts");
    let mut from_sink = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    from_sink
        .read_line(&mut line)
        .expect("the sink says where it listens");
    let addr: std::net::SocketAddr = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|a| a.parse().ok())
        .expect("listening ADDR");

    let client = Client::builder(addr.ip().to_string())
        .port(addr.port())
        .tls(Tls::None)
        .max_connections(args.connections)
        .chunking(args.chunking)
        .build()
        .expect("client");
    println!(
        "soak: {} messages of {} B with {}, {} connections, faults in {:.1}% of transactions (seed {}), retries on",
        args.messages,
        args.size,
        if args.chunking { "BDAT" } else { "DATA" },
        args.connections,
        args.chaos * 100.0,
        args.seed
    );
    let n = args.messages as usize;
    let mut told = vec![Told::Pending; n];
    let mut attempts_hist: BTreeMap<usize, u64> = BTreeMap::new();
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    let mut rss = vec![(0u64, rss_kib())];
    let window = args.connections * 64;
    let mut tasks: JoinSet<(usize, Result<Receipt, Error>)> = JoinSet::new();
    let started = Instant::now();
    let mut next = 0usize;
    let mut done = 0u64;
    while next < n || !tasks.is_empty() {
        while next < n && tasks.len() < window {
            let i = next;
            let sub = client.submit(
                "soak@example.org",
                ["sink@example.net"],
                message(i as u64, args.size),
            );
            tasks.spawn(async move {
                match sub {
                    Ok(s) => (i, s.await),
                    Err(e) => (i, Err(e)),
                }
            });
            next += 1;
        }
        let Some(Ok((i, result))) = tasks.join_next().await else {
            eprintln!("soak: a send task failed");
            let _ = child.kill();
            let _ = child.wait();
            return 70;
        };
        let (outcome, attempts) = match &result {
            Ok(r) => (Told::Delivered, r.attempts.len()),
            Err(e) if e.is_ambiguous() => (Told::Ambiguous, e.attempts().len()),
            Err(e) => (Told::Failed, e.attempts().len()),
        };
        told[i] = outcome;
        *attempts_hist.entry(attempts).or_default() += 1;
        if let Err(e) = &result {
            let kind = match (e.is_ambiguous(), e.kind()) {
                (true, _) => "ambiguous",
                (_, ErrorKind::Permanent) => "permanent",
                (_, ErrorKind::Transient) => "transient",
                _ => "local",
            };
            let reply = e
                .reply()
                .map(|r| r.code().value().to_string())
                .unwrap_or_else(|| "-".into());
            *reasons
                .entry(format!("{kind} at {} ({reply})", e.stage().name()))
                .or_default() += 1;
        }
        done += 1;
        if done.is_multiple_of(10_000) {
            rss.push((done, rss_kib()));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    client.shutdown().await;
    drop(child.stdin.take());

    let mut stored = vec![0u32; n];
    let mut unknown = 0u64;
    loop {
        line.clear();
        if from_sink.read_line(&mut line).unwrap_or(0) == 0 || line.trim() == "end" {
            break;
        }
        match line.trim().parse::<usize>() {
            Ok(id) if id < n => stored[id] += 1,
            _ => unknown += 1,
        }
    }
    let _ = child.wait();

    let count = |t: Told| told.iter().filter(|&&x| x == t).count() as u64;
    let (delivered, failed, ambiguous, pending) = (
        count(Told::Delivered),
        count(Told::Failed),
        count(Told::Ambiguous),
        count(Told::Pending),
    );
    let mut wrong = Vec::new();
    let mut ambiguous_stored = 0u64;
    for (i, (&t, &c)) in told.iter().zip(&stored).enumerate() {
        let ok = match t {
            Told::Delivered => c == 1,
            Told::Failed | Told::Pending => c == 0,
            Told::Ambiguous => c <= 1,
        };
        if t == Told::Ambiguous && c == 1 {
            ambiguous_stored += 1;
        }
        if !ok && wrong.len() < 20 {
            wrong.push(format!("message {i}: told {t:?}, stored {c} times"));
        }
    }
    let stored_total: u64 = stored.iter().map(|&c| u64::from(c)).sum();
    println!(
        "{n} messages in {seconds:.1} s ({:.0} msgs/s): delivered {delivered}, failed {failed}, ambiguous {ambiguous} \
         ({ambiguous_stored} of them stored), unaccounted {pending}",
        n as f64 / seconds
    );
    println!(
        "sink stored {stored_total}; reconciled: delivered + stored ambiguous = {} (difference {})",
        delivered + ambiguous_stored,
        stored_total as i64 - (delivered + ambiguous_stored) as i64
    );
    let hist: Vec<String> = attempts_hist.iter().map(|(a, c)| format!("{a}: {c}")).collect();
    println!("attempts per message: {}", hist.join(", "));
    println!("connections opened: {}", client.connections_opened());
    for (why, c) in &reasons {
        println!("  {c:>6}  {why}");
    }
    let samples: Vec<String> = rss
        .iter()
        .map(|(m, kib)| format!("{}k: {:.1}", m / 1000, *kib as f64 / 1024.0))
        .collect();
    println!("client RSS MiB after N messages: {}", samples.join(", "));
    let after_10k = rss.iter().find(|(m, _)| *m == 10_000).map_or(0, |r| r.1);
    let last = rss.last().map_or(0, |r| r.1);
    let peak = rss.iter().map(|r| r.1).max().unwrap_or(0);
    println!(
        "client RSS peak {:.1} MiB, growth from 10k to the end {:.2} MiB",
        peak as f64 / 1024.0,
        (last as f64 - after_10k as f64) / 1024.0
    );
    let reconciled =
        wrong.is_empty() && pending == 0 && unknown == 0 && delivered + failed + ambiguous == n as u64;
    if reconciled {
        println!("RECONCILED: every message is stored exactly once or reported failed/ambiguous");
        0
    } else {
        for w in &wrong {
            println!("MISMATCH {w}");
        }
        println!("NOT RECONCILED ({unknown} unknown ids at the sink)");
        1
    }
}
