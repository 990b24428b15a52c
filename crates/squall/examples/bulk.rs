//! Many personalised messages over one client: submit them all, then wait for each. They go out
//! in order, pipelined, over as few connections as keep up.
//!
//!     squall sink --quiet &
//!     cargo run --release -p squall --example bulk

use std::time::Instant;

use squall::{Client, Message};

#[tokio::main]
async fn main() -> Result<(), squall::Error> {
    let url = std::env::var("SQUALL_URL").unwrap_or_else(|_| "smtp://localhost:2525".into());
    let client = Client::builder_from_url(&url)?.max_connections(4).build()?;
    let started = Instant::now();
    let mut pending = Vec::new();
    for n in 0..1000 {
        let message = Message::builder()
            .from("news@example.org")
            .to(format!("reader{n}@example.net").as_str())
            .subject(&format!("Issue 42 for reader {n}"))
            .text(&format!("Hello reader {n},\n\nthis week's news.\n"))
            .build()?;
        // submit queues at once; awaiting later keeps the pipeline full.
        pending.push(client.submit_message(&message)?);
    }
    let (mut sent, mut failed) = (0, 0);
    for p in pending {
        match p.await {
            Ok(_) => sent += 1,
            Err(e) => {
                failed += 1;
                eprintln!("{e}");
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{sent} sent, {failed} failed in {secs:.2} s ({:.0}/s)",
        f64::from(sent) / secs
    );
    println!("{:?}", client.stats());
    client.shutdown().await;
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
