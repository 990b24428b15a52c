//! The outbox benchmark: durable enqueue rate (one producer, so one fsync per message; eight
//! producers sharing group commits), drain rate against direct sending on the same in-process
//! sink, and bytes on disk per queued 1 KiB message. Prints the median of `--runs` runs.
//!
//! `cargo run --release -p squall-bench --bin outbox -- [--runs 3] [--dir DIR] [--quick] [--drain-only]`
//!
//! `--drain-only` measures only the drain and direct rates (for profiling the runner).
//!
//! DIR must be on a real disk (not tmpfs, where fsync costs nothing); the default is a
//! temporary directory under the current one.

use std::path::{Path, PathBuf};
use std::time::Instant;

use squall_bench::{CpuClock, generate_message, median};
use squall_outbox::{Outbox, RunOptions};
use squall_sink::{Sink, SinkHandle};

const SIZE: usize = 1024;
const CONNECTIONS: usize = 4;

struct Args {
    runs: usize,
    dir: PathBuf,
    quick: bool,
    drain_only: bool,
}

fn args() -> Args {
    let mut a = Args {
        runs: 3,
        dir: PathBuf::from("."),
        quick: false,
        drain_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--runs" => a.runs = it.next().and_then(|v| v.parse().ok()).unwrap_or(3).max(1),
            "--dir" => a.dir = it.next().map(PathBuf::from).unwrap_or(a.dir),
            "--quick" => a.quick = true,
            "--drain-only" => a.drain_only = true,
            other => {
                eprintln!(
                    "outbox bench: unknown argument {other:?} (--runs N, --dir DIR, --quick, --drain-only)"
                );
                std::process::exit(64);
            }
        }
    }
    a
}

fn envelope() -> squall::Envelope {
    squall::Envelope::new(
        squall::ReversePath::parse("a@example.org").unwrap(),
        [squall::Mailbox::parse("b@example.org").unwrap()],
    )
    .unwrap()
}

async fn fresh(dir: &Path, name: &str) -> Outbox {
    let path = dir.join(name);
    for p in [
        path.clone(),
        path.with_extension("db-wal"),
        path.with_extension("db-shm"),
    ] {
        let _ = std::fs::remove_file(p);
    }
    Outbox::open(&format!("sqlite:{}", path.display())).await.unwrap()
}

/// Messages per second for `producers` tasks each enqueueing `per` messages one after another.
async fn enqueue_rate(outbox: &Outbox, producers: usize, per: usize) -> f64 {
    concurrent_rate(outbox, producers, 1, per).await
}

/// Messages per second for `producers` producers each with `outstanding` enqueues waiting at
/// once (a server handling many requests), `per` messages each.
async fn concurrent_rate(outbox: &Outbox, producers: usize, outstanding: usize, per: usize) -> f64 {
    let producers = producers * outstanding;
    let per = per / outstanding;
    let t = Instant::now();
    let mut tasks = Vec::new();
    for p in 0..producers {
        let o = outbox.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per {
                let m = generate_message((p * per + i) as u64, (producers * per) as u64, SIZE);
                o.enqueue_raw(envelope(), &m[..]).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    (producers * per) as f64 / t.elapsed().as_secs_f64()
}

fn client(sink: &SinkHandle) -> squall::Client {
    squall::Client::builder_from_url(&sink.url())
        .unwrap()
        .max_connections(CONNECTIONS)
        .no_retry()
        .build()
        .unwrap()
}

/// Messages per second draining `n` queued messages with `squall queue run`'s machinery.
async fn drain_rate(dir: &Path, n: usize) -> f64 {
    let outbox = fresh(dir, "drain.db").await;
    enqueue_rate(&outbox, 8, n / 8).await;
    let sink = Sink::builder().keep_messages(false).start().await.unwrap();
    let c = client(&sink);
    let options = RunOptions {
        workers: CONNECTIONS,
        window: 256,
        until_empty: true,
        ..RunOptions::default()
    };
    let cpu = CpuClock::start();
    let t = Instant::now();
    outbox
        .run(c.clone(), options, std::future::pending())
        .await
        .unwrap();
    let sent = n / 8 * 8;
    let rate = sent as f64 / t.elapsed().as_secs_f64();
    let (all, db) = cpu.elapsed("squall-outbox-d");
    let per = |ns: u64| ns as f64 / 1000.0 / sent as f64;
    eprintln!(
        "  drain CPU per message: {:.1} us in all threads, {:.1} us in the database thread",
        per(all),
        per(db)
    );
    assert_eq!(sink.delivered() as usize, sent, "every message stored");
    c.shutdown().await;
    rate
}

/// Messages per second sending `n` messages directly (what `squall bulk` does), same sink setup.
async fn direct_rate(n: usize) -> f64 {
    let sink = Sink::builder().keep_messages(false).start().await.unwrap();
    let c = client(&sink);
    let cpu = CpuClock::start();
    let t = Instant::now();
    let mut pending = Vec::with_capacity(n);
    for i in 0..n {
        let m = generate_message(i as u64, n as u64, SIZE);
        pending.push(c.submit("a@example.org", ["b@example.org"], m).unwrap());
    }
    for p in pending {
        p.await.unwrap();
    }
    let rate = n as f64 / t.elapsed().as_secs_f64();
    let cpu = cpu.elapsed("").0 as f64 / 1000.0 / n as f64;
    eprintln!("  direct CPU per message: {cpu:.1} us in all threads");
    assert_eq!(sink.delivered() as usize, n);
    c.shutdown().await;
    rate
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

#[tokio::main]
async fn main() {
    let a = args();
    let work = tempfile::Builder::new()
        .prefix("outbox-bench-")
        .tempdir_in(&a.dir)
        .expect("a temporary directory in --dir");
    let dir = work.path();
    let (one_n, eight_per, drain_n) = if a.quick {
        (500, 500, 4000)
    } else {
        (3000, 5000, 20_000)
    };
    let (mut one, mut eight, mut drain, mut direct, mut bytes) = (vec![], vec![], vec![], vec![], vec![]);
    let mut wide = vec![];
    for run in 0..a.runs {
        if a.drain_only {
            let (d, s) = (drain_rate(dir, drain_n).await, direct_rate(drain_n).await);
            println!(
                "run {}: drain {d:.0}/s, direct {s:.0}/s, ratio {:.2}",
                run + 1,
                d / s
            );
            continue;
        }
        let o = fresh(dir, "one.db").await;
        one.push(enqueue_rate(&o, 1, one_n).await);
        drop(o);
        let o = fresh(dir, "eight.db").await;
        eight.push(enqueue_rate(&o, 8, eight_per).await);
        let db = dir.join("eight.db");
        let total = file_size(&db) + file_size(&db.with_extension("db-wal"));
        bytes.push(total as f64 / (8 * eight_per) as f64);
        drop(o);
        let o = fresh(dir, "wide.db").await;
        wide.push(concurrent_rate(&o, 8, 64, eight_per).await);
        drop(o);
        drain.push(drain_rate(dir, drain_n).await);
        direct.push(direct_rate(drain_n).await);
        eprintln!(
            "run {}: 1 producer {:.0}/s, 8 producers {:.0}/s, 8x64 {:.0}/s, drain {:.0}/s, direct {:.0}/s, {:.0} B/msg",
            run + 1,
            one[run],
            eight[run],
            wide[run],
            drain[run],
            direct[run],
            bytes[run]
        );
    }
    if a.drain_only {
        return;
    }
    let (one, eight, drain, direct, bytes) = (
        median(one),
        median(eight),
        median(drain),
        median(direct),
        median(bytes),
    );
    let wide = median(wide);
    let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "outbox benchmark: SQLite (WAL, synchronous=FULL), {SIZE}-byte messages, median of {} run(s)",
        a.runs
    );
    println!(
        "  durable enqueue, 1 producer (1 fsync each):  {one:>9.0} msg/s   target >= 3,000: {}",
        verdict(one >= 3000.0)
    );
    println!(
        "  durable enqueue, 8 producers (group commit): {eight:>9.0} msg/s   target >= 20,000: {}",
        verdict(eight >= 20_000.0)
    );
    println!(
        "  durable enqueue, 8 producers x 64 waiting:  {wide:>9.0} msg/s   (group commit with more to share)"
    );
    println!(
        "  drain ({CONNECTIONS} workers/connections):             {drain:>9.0} msg/s   direct send {direct:.0} msg/s, ratio {:.2} (target >= 0.7: {})",
        drain / direct,
        verdict(drain / direct >= 0.7)
    );
    println!("  on disk per queued 1 KiB message (db + wal): {bytes:>8.0} bytes");
}
