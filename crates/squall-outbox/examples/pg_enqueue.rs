//! Durable enqueue rate on PostgreSQL: one producer, and 8 concurrent producers each with one
//! enqueue waiting, 1 KiB messages; then the drain rate (`Outbox::run`, 4 workers, window 256,
//! to the in-process sink, as squall-bench's SQLite figure); 3 runs each, the median printed.
//!
//! ```text
//! cargo run --release -p squall-outbox --example pg_enqueue -- postgres://postgres@127.0.0.1:PORT/postgres [MESSAGES]
//! ```
//!
//! The URL is an admin URL: each run creates a fresh database (`pg_enqueue_…`) and drops it
//! after, so runs do not see each other's rows.

use std::time::Instant;

use squall_outbox::{Outbox, RunOptions};
use squall_sink::Sink;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let Some(admin) = args.next() else {
        eprintln!("usage: pg_enqueue ADMIN_URL [MESSAGES]");
        std::process::exit(64);
    };
    let messages: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(3000);
    let mut drains = Vec::new();
    for producers in [1, 8] {
        let mut rates = Vec::new();
        for run in 0..3 {
            let name = format!("pg_enqueue_{}_{run}_{producers}", std::process::id());
            sql(&admin, &format!("CREATE DATABASE {name}")).await;
            let url = database_url(&admin, &name);
            rates.push(measure(&url, producers, messages).await);
            if producers == 8 {
                drains.push(drain(&url, messages).await);
            }
            sql(&admin, &format!("DROP DATABASE {name} WITH (FORCE)")).await;
        }
        report(
            &format!("{producers} producer(s), {messages} × 1 KiB, enqueue"),
            rates,
        );
    }
    report(&format!("drain of {messages} (4 workers, window 256)"), drains);
}

fn report(what: &str, mut rates: Vec<f64>) {
    let runs: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    rates.sort_by(f64::total_cmp);
    println!("{what}: median {:.0} msg/s (runs: {})", rates[1], runs.join(", "));
}

/// Messages per second draining what `measure` queued in `url`.
async fn drain(url: &str, messages: usize) -> f64 {
    let outbox = Outbox::open(url).await.unwrap();
    let sink = Sink::builder().keep_messages(false).start().await.unwrap();
    let client = squall::Client::builder_from_url(&sink.url())
        .unwrap()
        .max_connections(4)
        .no_retry()
        .build()
        .unwrap();
    let options = RunOptions {
        workers: 4,
        window: 256,
        until_empty: true,
        ..RunOptions::default()
    };
    let start = Instant::now();
    outbox
        .run(client.clone(), options, std::future::pending())
        .await
        .unwrap();
    let rate = messages as f64 / start.elapsed().as_secs_f64();
    assert_eq!(sink.delivered() as usize, messages, "every message stored");
    client.shutdown().await;
    rate
}

async fn measure(url: &str, producers: usize, messages: usize) -> f64 {
    let outbox = Outbox::open(url).await.unwrap();
    let body = "x".repeat(1000);
    let start = Instant::now();
    let tasks: Vec<_> = (0..producers)
        .map(|p| {
            let (o, body) = (outbox.clone(), body.clone());
            tokio::spawn(async move {
                for n in (p..messages).step_by(producers) {
                    let m = squall::Message::builder()
                        .from("app@example.org")
                        .to("a@example.net")
                        .subject(&format!("message {n}"))
                        .text(&body)
                        .build()
                        .unwrap();
                    o.enqueue(&m).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    messages as f64 / start.elapsed().as_secs_f64()
}

fn database_url(admin: &str, name: &str) -> String {
    let (base, query) = admin.split_once('?').unwrap_or((admin, ""));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = base[scheme_end..]
        .find('/')
        .map_or(base, |i| &base[..scheme_end + i]);
    if query.is_empty() {
        format!("{root}/{name}")
    } else {
        format!("{root}/{name}?{query}")
    }
}

async fn sql(url: &str, statement: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting: {e}"));
    let driver = tokio::spawn(conn);
    client.batch_execute(statement).await.unwrap();
    drop(client);
    let _ = driver.await;
}
