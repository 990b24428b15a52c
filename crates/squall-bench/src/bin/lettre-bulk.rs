//! lettre as a benchmark peer: N messages of S bytes over C concurrent senders.
//!
//! `lettre-bulk HOST PORT COUNT SIZE CONNECTIONS [--nodelay]`. Without `--nodelay` it uses
//! lettre as shipped (`AsyncSmtpTransport` and its pool). With `--nodelay` it drives lettre's own
//! `AsyncSmtpConnection` over a socket with TCP_NODELAY set, the fairest lettre can be made.

use std::time::Instant;

use lettre::address::Envelope;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use squall_bench::generate_message;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 6 {
        eprintln!("usage: lettre-bulk HOST PORT COUNT SIZE CONNECTIONS [--nodelay]");
        std::process::exit(64);
    }
    let host = args[1].clone();
    let port: u16 = args[2].parse().expect("port");
    let count: u64 = args[3].parse().expect("count");
    let size: usize = args[4].parse().expect("size");
    let conns: u64 = args[5].parse().expect("connections");
    let nodelay = args.get(6).is_some_and(|a| a == "--nodelay");
    let envelope = Envelope::new(
        Some("a@example.org".parse().expect("address")),
        vec!["b@example.org".parse().expect("address")],
    )
    .expect("envelope");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&host)
        .port(port)
        .build();
    for c in 0..conns {
        let share = count / conns + u64::from(c < count % conns);
        let (host, envelope, transport) = (host.clone(), envelope.clone(), transport.clone());
        tasks.spawn(async move {
            if nodelay {
                let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
                    .await
                    .expect("connect");
                tcp.set_nodelay(true).expect("nodelay");
                let mut conn =
                    AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &ClientId::default())
                        .await
                        .expect("EHLO");
                for i in 0..share {
                    conn.send(&envelope, &generate_message(i, count, size))
                        .await
                        .expect("send");
                }
                let _ = conn.quit().await;
            } else {
                for i in 0..share {
                    transport
                        .send_raw(&envelope, &generate_message(i, count, size))
                        .await
                        .expect("send");
                }
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("sender task");
    }
    let secs = started.elapsed().as_secs_f64();
    println!("{{\"messages\":{count},\"seconds\":{secs}}}");
}
