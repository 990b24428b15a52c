//! `squall sink` as a service under load: a program that prints figures, not a timed test.
//!
//! ```text
//! cargo build --release -p squall-cli -p squall-bench
//! target/release/sink_load [--squall target/release/squall] [--connections 2000]
//!     [--streams 8] [--stream-mib 100] [--command-timeout 6]
//! ```
//!
//! Phase 1 starts `squall sink` as a child process (so its RSS and CPU can be read from
//! /proc/PID) and opens `--connections` concurrent connections on loopback, of which
//! `--streams` send a body of `--stream-mib` MiB each (half by DATA, half by BDAT). The idle
//! ones send a NOOP every few seconds, as a patient client would, to stay under the command time
//! limit. Meanwhile a normal client sends plain messages and a slowloris client sends one byte
//! every 2 s of a command that never ends. Reported: the sink's peak RSS (target: under
//! 256 MiB), whether and how fast the normal client was served, when the slowloris client was
//! cut off (target: within the command time limit).
//!
//! Phase 2 starts another sink with RLIMIT_NOFILE 64 (through `prlimit`) and opens 300
//! connections, so that every accept fails with EMFILE, and reports the sink's CPU use over 5 s
//! (target: under 10% of one core), then whether it serves again once the connections close.
//!
//! Every loop is bounded in count and time; only the processes this program started are
//! killed, by their PID. Exit status 0 only if every target is met.

mod child;
mod clients;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::task::JoinSet;

use child::{SinkChild, raise_nofile};
use clients::{idle_client, normal_client, slowloris, stream_client};

struct Args {
    squall: PathBuf,
    connections: usize,
    streams: usize,
    stream_mib: u64,
    command_timeout: u64,
}

fn parse_args() -> Result<Args, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut a = Args {
        squall: exe.with_file_name("squall"),
        connections: 2000,
        streams: 8,
        stream_mib: 100,
        command_timeout: 6,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let bad = |e: &dyn std::fmt::Display| format!("{flag} {value}: {e}");
        match flag.as_str() {
            "--squall" => a.squall = PathBuf::from(&value),
            "--connections" => a.connections = value.parse().map_err(|e| bad(&e))?,
            "--streams" => a.streams = value.parse().map_err(|e| bad(&e))?,
            "--stream-mib" => a.stream_mib = value.parse().map_err(|e| bad(&e))?,
            "--command-timeout" => a.command_timeout = value.parse().map_err(|e| bad(&e))?,
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if !a.squall.exists() {
        return Err(format!(
            "{} not found: build it first (cargo build --release -p squall-cli) or pass --squall PATH",
            a.squall.display()
        ));
    }
    a.streams = a.streams.min(a.connections);
    Ok(a)
}

struct Verdict(Vec<(String, bool)>);

impl Verdict {
    fn check(&mut self, what: &str, ok: bool) -> &'static str {
        self.0.push((what.to_string(), ok));
        if ok { "ok" } else { "MISSED" }
    }
}

async fn load_phase(a: &Args, v: &mut Verdict) -> Result<(), String> {
    let spool = std::env::temp_dir().join(format!("squall-sink-load.{}", std::process::id()));
    std::fs::create_dir_all(&spool).map_err(|e| e.to_string())?;
    let limit = Duration::from_secs(a.command_timeout);
    let sink = SinkChild::start(
        &a.squall,
        a.connections as u64 + 1000,
        &[
            "--max-connections".into(),
            (a.connections + 100).to_string(),
            "--command-timeout".into(),
            format!("{}s", a.command_timeout),
            "--transaction-timeout".into(),
            "600s".into(),
            "--size-limit".into(),
            "0".into(),
            "--memory-limit".into(),
            "64M".into(),
            "--spool-threshold".into(),
            "1M".into(),
            "--spool-dir".into(),
            spool.display().to_string(),
        ],
    )?;
    println!(
        "phase 1: squall sink (pid {}) on {}, {} connections, {} x {} MiB bodies, command limit {}s",
        sink.pid(),
        sink.addr,
        a.connections,
        a.streams,
        a.stream_mib,
        a.command_timeout
    );
    let open = Arc::new(AtomicUsize::new(0));
    let ready = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (go, went) = tokio::sync::watch::channel(false);
    let mut idle = JoinSet::new();
    let idle_count = a.connections - a.streams;
    let ping = limit / 2;
    let mut streams = JoinSet::new();
    for i in 0..a.streams {
        streams.spawn(stream_client(
            sink.addr.clone(),
            a.stream_mib,
            i % 2 == 1,
            ready.clone(),
            went.clone(),
        ));
    }
    let connecting = Instant::now();
    for i in 0..idle_count {
        idle.spawn(idle_client(sink.addr.clone(), ping, open.clone(), stop.clone()));
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Everyone connected and greeted before the bodies start.
    let all = |open: &AtomicUsize, ready: &AtomicUsize| {
        open.load(Ordering::Relaxed) + ready.load(Ordering::Relaxed)
    };
    while all(&open, &ready) < a.connections && connecting.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let max_open = all(&open, &ready);
    let connected_in = connecting.elapsed();
    let cpu_before = sink.cpu();
    let streaming = Instant::now();
    let _ = go.send(true);
    let slow = tokio::spawn(slowloris(sink.addr.clone(), Duration::from_secs(2), limit * 3));
    // The normal client, over and over while the bodies stream (at least once).
    let normal_stop = Arc::new(AtomicBool::new(false));
    let normal = tokio::spawn({
        let (addr, normal_stop) = (sink.addr.clone(), normal_stop.clone());
        async move {
            let mut results = Vec::new();
            for _ in 0..1000 {
                results.push(normal_client(addr.clone()).await);
                if normal_stop.load(Ordering::Relaxed) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            results
        }
    });
    let mut stream_times = Vec::new();
    let mut stream_failures = Vec::new();
    let give_up = Instant::now() + Duration::from_secs(900);
    while !streams.is_empty() && Instant::now() < give_up {
        if let Ok(Some(done)) = tokio::time::timeout(Duration::from_secs(1), streams.join_next()).await {
            match done {
                Ok(Ok(took)) => stream_times.push(took),
                Ok(Err(e)) => stream_failures.push(e),
                Err(e) => stream_failures.push(e.to_string()),
            }
        }
    }
    let streamed = streaming.elapsed();
    let cpu = sink.cpu() - cpu_before;
    normal_stop.store(true, Ordering::Relaxed);
    let (mut latencies, mut normal_failures) = (Vec::new(), Vec::new());
    for r in normal.await.map_err(|e| e.to_string())? {
        match r {
            Ok(l) => latencies.push(l),
            Err(e) => normal_failures.push(e),
        }
    }
    let slow = slow.await.map_err(|e| e.to_string())?;
    let (peak_kib, now_kib) = sink.rss_kib();
    let idle_alive = open.load(Ordering::Relaxed);
    stop.store(true, Ordering::Relaxed);
    idle.abort_all();
    drop(sink);
    let _ = std::fs::remove_dir_all(&spool);

    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let all_open = max_open >= a.connections;
    println!(
        "  connections open at once        {max_open} of {} (all greeted in {:.1} s) ({})",
        a.connections,
        connected_in.as_secs_f64(),
        v.check("all connections open", all_open)
    );
    println!("  idle connections still open     {idle_alive} of {idle_count} at the end");
    let mib = (stream_times.len() as u64 * a.stream_mib) as f64;
    println!(
        "  bodies stored (250)             {} of {} in {:.1} s ({:.0} MiB/s together) ({})",
        stream_times.len(),
        a.streams,
        streamed.as_secs_f64(),
        mib / streamed.as_secs_f64(),
        v.check("every body stored", stream_times.len() == a.streams)
    );
    for e in stream_failures.iter().take(3) {
        println!("    stream failed: {e}");
    }
    println!(
        "  sink peak RSS                   {:.1} MiB (now {:.1} MiB; target < 256 MiB) ({})",
        peak_kib as f64 / 1024.0,
        now_kib as f64 / 1024.0,
        v.check("peak RSS under 256 MiB", peak_kib > 0 && peak_kib < 256 * 1024)
    );
    println!(
        "  sink CPU while streaming        {:.1} s in {:.1} s",
        cpu.as_secs_f64(),
        streamed.as_secs_f64()
    );
    let served = !latencies.is_empty() && normal_failures.is_empty();
    if latencies.is_empty() {
        println!(
            "  normal client meanwhile         never served ({})",
            v.check("normal client served", false)
        );
    } else {
        println!(
            "  normal client meanwhile         {} of {} transactions served; latency median {:.1} ms, max {:.1} ms ({})",
            latencies.len(),
            latencies.len() + normal_failures.len(),
            ms(latencies[latencies.len() / 2]),
            ms(latencies[latencies.len() - 1]),
            v.check("normal client served", served)
        );
    }
    for e in normal_failures.iter().take(3) {
        println!("    normal client failed: {e}");
    }
    match slow {
        Ok((after, reply)) => {
            let in_time = after <= limit + Duration::from_secs(1);
            println!(
                "  slowloris (1 byte / 2 s)        cut off after {:.1} s, limit {}s: {reply:?} ({})",
                after.as_secs_f64(),
                a.command_timeout,
                v.check("slowloris cut off in time", in_time)
            );
        }
        Err(e) => println!(
            "  slowloris                       {e} ({})",
            v.check("slowloris cut off in time", false)
        ),
    }
    Ok(())
}

async fn fd_phase(a: &Args, v: &mut Verdict) -> Result<(), String> {
    let nofile = 64;
    let flood = 300;
    let sink = SinkChild::start(&a.squall, nofile, &["--max-connections".into(), "1000".into()])?;
    println!(
        "phase 2: squall sink (pid {}) with RLIMIT_NOFILE {nofile}, {flood} connections held open",
        sink.pid()
    );
    let mut held = Vec::new();
    for _ in 0..flood {
        match tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&sink.addr)).await {
            Ok(Ok(s)) => held.push(s),
            _ => break,
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let window = Duration::from_secs(5);
    let before = sink.cpu();
    tokio::time::sleep(window).await;
    let share = (sink.cpu() - before).as_secs_f64() / window.as_secs_f64();
    println!(
        "  connections made                {} (the sink can hold about {})",
        held.len(),
        nofile - 10
    );
    println!(
        "  sink CPU while out of fds       {:.1}% of one core over {}s (target < 10%) ({})",
        share * 100.0,
        window.as_secs(),
        v.check("CPU under 10% while out of fds", share < 0.10)
    );
    drop(held);
    let started = Instant::now();
    let mut again = None;
    while started.elapsed() < Duration::from_secs(10) {
        if let Ok(Ok(l)) =
            tokio::time::timeout(Duration::from_secs(3), normal_client(sink.addr.clone())).await
        {
            again = Some(l);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "  served again once they closed   {} ({})",
        again.map_or("no".to_string(), |_| format!(
            "after {:.2} s",
            started.elapsed().as_secs_f64()
        )),
        v.check("served again after fd exhaustion", again.is_some())
    );
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("sink_load: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = raise_nofile(args.connections as u64 * 2 + 1000) {
        eprintln!("sink_load: {e}");
        std::process::exit(2);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut v = Verdict(Vec::new());
    let result = rt.block_on(async {
        load_phase(&args, &mut v).await?;
        fd_phase(&args, &mut v).await
    });
    if let Err(e) = result {
        eprintln!("sink_load: {e}");
        std::process::exit(1);
    }
    println!(
        "reproduce: cargo build --release -p squall-cli -p squall-bench && target/release/sink_load \
         --connections {} --streams {} --stream-mib {} --command-timeout {}",
        args.connections, args.streams, args.stream_mib, args.command_timeout
    );
    let missed: Vec<&str> =
        v.0.iter()
            .filter(|(_, ok)| !ok)
            .map(|(w, _)| w.as_str())
            .collect();
    if missed.is_empty() {
        println!("all targets met");
    } else {
        println!("missed: {}", missed.join(", "));
        std::process::exit(1);
    }
}
