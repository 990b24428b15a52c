//! squall's durable queue against Postfix used as a local relay queue (a Postfix daemon on
//! loopback relaying to smtp-sink: what people install today for a durable outgoing queue), in
//! one run, to the same smtp-sink:
//!
//! - end to end: `--messages` × 1 KiB from the application to stored at smtp-sink, timed from the
//!   first enqueue to the last message counted by smtp-sink. Postfix is fed over SMTP by a squall
//!   client (8 connections); squall's queue by 8 producers with 32 enqueues waiting each, a
//!   runner (4 workers, window 256) draining at the same time.
//! - the runner's memory: `squall queue run` (the CLI, a process of its own) draining a queue of
//!   `--rss-messages` (default 1,000,000) for 20 s: its peak RSS, and bytes on disk per message.
//!
//! `cargo build --release -p squall-bench --bin queue_relay -p squall-cli &&
//!  ./target/release/queue_relay [--runs 3] [--messages 20000] [--rss-messages 1000000] [--dir DIR] [--quick]`
//!
//! As root (the Postfix daemon needs it; without root its column is left out). DIR must be on a
//! real disk (Postfix's queue and the SQLite file both fsync); the default is the current one.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use squall_bench::peers::{free_port, is_root, repo_root, script, smtp_sink_count};
use squall_bench::{generate_message, median, rss_kib};
use squall_outbox::{Outbox, RunOptions};

const SIZE: usize = 1024;
/// How long the runner's memory is watched while it drains the big queue.
const RSS_WINDOW: Duration = Duration::from_secs(20);

struct Args {
    runs: usize,
    messages: usize,
    rss_messages: usize,
    dir: PathBuf,
    squall: PathBuf,
}

fn args() -> Args {
    let root = repo_root();
    let mut a = Args {
        runs: 3,
        messages: 20_000,
        rss_messages: 1_000_000,
        dir: PathBuf::from("."),
        squall: root.join("target/release/squall"),
    };
    let mut it = std::env::args().skip(1);
    let number = |v: Option<String>, name: &str| {
        v.and_then(|v| v.parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or_else(|| {
                eprintln!("queue_relay: {name} takes a positive number");
                std::process::exit(64);
            })
    };
    while let Some(x) = it.next() {
        match x.as_str() {
            "--runs" => a.runs = number(it.next(), "--runs"),
            "--messages" => a.messages = number(it.next(), "--messages"),
            "--rss-messages" => a.rss_messages = number(it.next(), "--rss-messages"),
            "--dir" => a.dir = it.next().map(PathBuf::from).unwrap_or(a.dir),
            "--squall" => a.squall = it.next().map(PathBuf::from).unwrap_or(a.squall),
            "--quick" => {
                a.runs = 1;
                a.messages = 2_000;
                a.rss_messages = 50_000;
            }
            other => {
                eprintln!(
                    "queue_relay: unknown argument {other:?} (--runs N, --messages N, --rss-messages N, --dir DIR, --squall PATH, --quick)"
                );
                std::process::exit(64);
            }
        }
    }
    a
}

/// smtp-sink, count-only, started with the project's script and stopped when dropped.
struct SmtpSink {
    port: u16,
    log: PathBuf,
}

impl SmtpSink {
    fn start() -> Self {
        let port = free_port();
        assert!(
            script(
                &repo_root(),
                "smtp-sink.sh",
                &["start".into(), port.to_string(), "-".into()]
            ),
            "smtp-sink did not start (scripts/peers/install.sh installs it)"
        );
        let log = repo_root().join(format!("run/smtp-sink-{port}.log"));
        Self { port, log }
    }

    fn count(&self) -> u64 {
        smtp_sink_count(&self.log)
    }

    /// Waits until smtp-sink has counted `n` (bounded by `limit`); the time it did.
    async fn wait_for(&self, n: u64, limit: Duration) -> Result<Instant, String> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.count();
            if got >= n {
                return Ok(Instant::now());
            }
            if Instant::now() > deadline {
                return Err(format!("smtp-sink counted {got} of {n} messages in {limit:?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        script(
            &repo_root(),
            "smtp-sink.sh",
            &["stop".into(), self.port.to_string()],
        );
    }
}

/// The Postfix daemon, relaying everything to smtp-sink; stopped when dropped.
struct PostfixRelay {
    port: u16,
}

impl PostfixRelay {
    fn start(relay_to: u16) -> Option<Self> {
        if !is_root() {
            eprintln!("queue_relay: not root, so no Postfix daemon; its column is left out");
            return None;
        }
        let (mx, sub, smtps) = (free_port(), free_port(), free_port());
        let ok = Command::new(repo_root().join("scripts/peers/postfix.sh"))
            .args(["start", &mx.to_string(), &sub.to_string(), &smtps.to_string()])
            .env("SQUALL_POSTFIX_RELAY_PORT", relay_to.to_string())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("queue_relay: the Postfix daemon did not start; its column is left out");
            return None;
        }
        Some(Self { port: mx })
    }
}

impl Drop for PostfixRelay {
    fn drop(&mut self) {
        script(&repo_root(), "postfix.sh", &["stop".into()]);
    }
}

fn client(port: u16, connections: usize) -> squall::Client {
    squall::Client::builder(format!("127.0.0.1:{port}"))
        .tls(squall::Tls::None)
        .max_connections(connections)
        .build()
        .expect("a client")
}

fn envelope() -> squall::Envelope {
    squall::Envelope::new(
        squall::ReversePath::parse("a@example.org").unwrap(),
        [squall::Mailbox::parse("b@example.org").unwrap()],
    )
    .unwrap()
}

/// Postfix as the queue: (messages/s accepted by Postfix, messages/s end to end).
async fn postfix_run(postfix: &PostfixRelay, sink: &SmtpSink, n: usize) -> Result<(f64, f64), String> {
    let before = sink.count();
    let c = client(postfix.port, 8);
    let t = Instant::now();
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let m = generate_message(i as u64, n as u64, SIZE);
        pending.push(
            c.submit("a@example.org", ["b@example.org"], m)
                .map_err(|e| e.to_string())?,
        );
    }
    for p in pending {
        p.await.map_err(|e| format!("Postfix refused a message: {e}"))?;
    }
    let accepted = t.elapsed();
    c.shutdown().await;
    let done = sink.wait_for(before + n as u64, Duration::from_secs(600)).await?;
    Ok((
        n as f64 / accepted.as_secs_f64(),
        n as f64 / (done - t).as_secs_f64(),
    ))
}

/// A fresh SQLite outbox in `dir`.
async fn fresh(dir: &Path, name: &str) -> (Outbox, String) {
    let path = dir.join(format!("{name}.db"));
    for ext in ["db", "db-wal", "db-shm"] {
        let _ = std::fs::remove_file(path.with_extension(ext));
    }
    let url = format!("sqlite:{}", path.display());
    (Outbox::open(&url).await.expect("the outbox opens"), url)
}

/// Enqueues `n` messages from 8 producers with `waiting` enqueues each at once.
async fn enqueue_all(outbox: &Outbox, n: usize, waiting: usize) {
    let tasks = 8 * waiting;
    let mut handles = Vec::with_capacity(tasks);
    for p in 0..tasks {
        let o = outbox.clone();
        handles.push(tokio::spawn(async move {
            let mut i = p;
            while i < n {
                let m = generate_message(i as u64, n as u64, SIZE);
                o.enqueue_raw(envelope(), &m[..]).await.expect("enqueued");
                i += tasks;
            }
        }));
    }
    for h in handles {
        h.await.expect("a producer");
    }
}

/// squall's queue: (messages/s enqueued, messages/s end to end), the runner draining meanwhile.
async fn squall_run(dir: &Path, sink: &SmtpSink, n: usize) -> Result<(f64, f64), String> {
    let (outbox, _) = fresh(dir, "e2e").await;
    let before = sink.count();
    let c = client(sink.port, 4);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = RunOptions {
        workers: 4,
        window: 256,
        ..RunOptions::default()
    };
    let runner = tokio::spawn({
        let (outbox, c) = (outbox.clone(), c.clone());
        async move { outbox.run(c, options, async move { drop(stopped.await) }).await }
    });
    let t = Instant::now();
    enqueue_all(&outbox, n, 32).await;
    let enqueued = t.elapsed();
    let done = sink.wait_for(before + n as u64, Duration::from_secs(600)).await?;
    let _ = stop.send(());
    runner
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    c.shutdown().await;
    Ok((
        n as f64 / enqueued.as_secs_f64(),
        n as f64 / (done - t).as_secs_f64(),
    ))
}

struct RssReport {
    queued: usize,
    enqueue_rate: f64,
    disk_per_message: f64,
    wal_bytes: u64,
    peak_kib: u64,
    drained: u64,
}

/// `squall queue run` on a queue of `n`: its peak RSS over [`RSS_WINDOW`] of draining.
async fn runner_rss(a: &Args, dir: &Path, sink: &SmtpSink) -> Result<RssReport, String> {
    if !a.squall.exists() {
        return Err(format!(
            "{} is missing: cargo build --release -p squall-cli",
            a.squall.display()
        ));
    }
    let (outbox, url) = fresh(dir, "rss").await;
    let t = Instant::now();
    enqueue_all(&outbox, a.rss_messages, 64).await;
    let enqueue_rate = a.rss_messages as f64 / t.elapsed().as_secs_f64();
    drop(outbox);
    let db = dir.join("rss.db");
    let size = |e: &str| std::fs::metadata(db.with_extension(e)).map_or(0, |m| m.len());
    let (disk, wal) = (size("db") + size("db-wal"), size("db-wal"));
    let before = sink.count();
    let mut child: Child = Command::new(&a.squall)
        .args([
            "queue",
            "run",
            "--queue-url",
            &url,
            "--workers",
            "4",
            "--window",
            "256",
        ])
        .args(["--server", &format!("127.0.0.1:{}", sink.port), "--tls", "none"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", a.squall.display()))?;
    let pid = child.id();
    let mut peak = 0;
    let end = Instant::now() + RSS_WINDOW;
    while Instant::now() < end {
        peak = peak.max(rss_kib(pid).0);
        if child.try_wait().ok().flatten().is_some() {
            return Err("squall queue run ended early".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let drained = sink.count() - before;
    // SIGTERM, as a service manager stops it: it finishes what is in flight.
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let wait_until = Instant::now() + Duration::from_secs(30);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > wait_until {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(RssReport {
        queued: a.rss_messages,
        enqueue_rate,
        disk_per_message: disk as f64 / a.rss_messages as f64,
        wal_bytes: wal,
        peak_kib: peak,
        drained,
    })
}

/// Ctrl-C or SIGTERM (a `timeout` around the run) ends the process without running `Drop`:
/// stop the servers it started first, so no Postfix daemon or smtp-sink is left behind.
fn stop_servers_on_signal(sink_port: u16, postfix: bool) {
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            Some(()) = async { match term.as_mut() { Some(t) => t.recv().await, None => None } } => {}
        }
        let root = repo_root();
        if postfix {
            script(&root, "postfix.sh", &["stop".into()]);
        }
        script(&root, "smtp-sink.sh", &["stop".into(), sink_port.to_string()]);
        std::process::exit(130);
    });
}

#[tokio::main]
async fn main() {
    let a = args();
    let work = tempfile::Builder::new()
        .prefix("queue-relay-bench-")
        .tempdir_in(&a.dir)
        .expect("a temporary directory in --dir");
    let sink = SmtpSink::start();
    let postfix = PostfixRelay::start(sink.port);
    stop_servers_on_signal(sink.port, postfix.is_some());
    let (mut pf_accept, mut pf_e2e, mut sq_enqueue, mut sq_e2e) = (vec![], vec![], vec![], vec![]);
    for run in 1..=a.runs {
        if let Some(p) = &postfix {
            match postfix_run(p, &sink, a.messages).await {
                Ok((acc, e2e)) => {
                    pf_accept.push(acc);
                    pf_e2e.push(e2e);
                }
                Err(e) => eprintln!("queue_relay: Postfix run {run}: {e}"),
            }
        }
        match squall_run(work.path(), &sink, a.messages).await {
            Ok((enq, e2e)) => {
                sq_enqueue.push(enq);
                sq_e2e.push(e2e);
            }
            Err(e) => eprintln!("queue_relay: squall run {run}: {e}"),
        }
        eprintln!(
            "run {run}: Postfix accepted {:.0}/s, end to end {:.0}/s; squall enqueued {:.0}/s, end to end {:.0}/s",
            pf_accept.last().copied().unwrap_or(f64::NAN),
            pf_e2e.last().copied().unwrap_or(f64::NAN),
            sq_enqueue.last().copied().unwrap_or(f64::NAN),
            sq_e2e.last().copied().unwrap_or(f64::NAN),
        );
    }
    drop(postfix);
    let rss = runner_rss(&a, work.path(), &sink).await;
    drop(sink);

    let n = a.messages;
    println!(
        "queue vs Postfix relay: {n} x {SIZE} B to smtp-sink, median of {} run(s)",
        a.runs
    );
    let (pf, sq) = (median(pf_e2e), median(sq_e2e));
    println!(
        "  Postfix (daemon relaying to smtp-sink): accepted {:>8.0} msg/s, end to end {pf:>8.0} msg/s",
        median(pf_accept)
    );
    println!(
        "  squall queue (SQLite, runner draining):  enqueued {:>8.0} msg/s, end to end {sq:>8.0} msg/s",
        median(sq_enqueue)
    );
    let ratio = sq / pf;
    println!(
        "  end to end squall / Postfix: {ratio:.2} (target >= 3: {})",
        if ratio >= 3.0 { "met" } else { "NOT met" }
    );
    match rss {
        Ok(r) => {
            let mib = r.peak_kib as f64 / 1024.0;
            println!(
                "  `squall queue run` on {} queued: peak RSS {mib:.1} MiB over {} s ({} sent meanwhile; target < 64 MiB: {}); {:.0} B on disk per queued message ({:.1} MiB of it WAL); filled at {:.0} msg/s",
                r.queued,
                RSS_WINDOW.as_secs(),
                r.drained,
                if mib < 64.0 { "met" } else { "NOT met" },
                r.disk_per_message,
                r.wal_bytes as f64 / (1 << 20) as f64,
                r.enqueue_rate
            );
        }
        Err(e) => println!("  runner RSS: not measured: {e}"),
    }
}
