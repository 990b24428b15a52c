//! The connection pool: a real cap, messages per connection, a rate limit, fair dispatch, and
//! what dropping a send does.

use std::time::{Duration, Instant};

use squall::{Client, Tls};
use squall_sink::{Sink, SinkHandle};

fn client(s: &SinkHandle) -> squall::ClientBuilder {
    Client::builder("127.0.0.1")
        .port(s.addr().port())
        .tls(Tls::None)
        .idle_timeout(Duration::from_millis(100))
}

async fn send_many(c: &Client, n: usize) {
    let mut tasks = Vec::new();
    for i in 0..n {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            c.send(
                "a@example.org",
                [format!("r{i}@example.net")],
                format!("Subject: {i}\r\n\r\nx\r\n"),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn connections_are_capped() {
    let s = Sink::builder()
        .fault("mail=delay:20ms".parse().unwrap())
        .start()
        .await
        .unwrap();
    let c = client(&s).max_connections(3).build().unwrap();
    send_many(&c, 60).await;
    assert_eq!(s.delivered(), 60);
    assert_eq!(s.connections(), 3, "all three used, never more");
    assert_eq!(c.connections_opened(), 3);
}

#[tokio::test]
async fn a_short_queue_is_shared_between_connections() {
    let s = Sink::builder()
        .fault("mail=delay:50ms".parse().unwrap())
        .start()
        .await
        .unwrap();
    let c = client(&s).max_connections(4).build().unwrap();
    send_many(&c, 8).await;
    assert_eq!(
        s.connections(),
        4,
        "8 messages spread over 4 connections, not one taking all"
    );
}

#[tokio::test]
async fn one_send_after_another_reuses_one_connection() {
    let s = Sink::start().await.unwrap();
    let c = client(&s)
        .max_connections(8)
        .idle_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    for _ in 0..5 {
        c.send("a@example.org", ["b@example.net"], "x").await.unwrap();
    }
    assert_eq!(s.connections(), 1);
}

#[tokio::test]
async fn connections_carry_at_most_their_share_of_messages() {
    let s = Sink::start().await.unwrap();
    let c = client(&s).max_messages_per_connection(5).build().unwrap();
    send_many(&c, 20).await;
    assert_eq!(s.delivered(), 20);
    assert_eq!(s.connections(), 4, "20 messages, 5 per connection");
}

#[tokio::test]
async fn the_rate_limit_spaces_messages() {
    let s = Sink::start().await.unwrap();
    let c = client(&s).rate_limit(50.0).build().unwrap();
    let started = Instant::now();
    send_many(&c, 11).await;
    // 11 messages at 50 per second need at least 10 intervals of 20 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(195),
        "{:?}",
        started.elapsed()
    );
    assert!(Client::builder("x").rate_limit(0.0).build().is_err());
}

#[tokio::test]
async fn binary_content_goes_as_binarymime_byte_for_byte() {
    let s = Sink::start().await.unwrap();
    let c = client(&s).build().unwrap();
    let mut body = b"Content-Type: application/octet-stream\r\n\r\n".to_vec();
    body.extend((0..=255u8).cycle().take(5000));
    c.send("a@example.org", ["b@example.net"], body.clone())
        .await
        .unwrap();
    let m = s.messages().pop().unwrap();
    assert!(
        m.mail_params.iter().any(|p| p == "BODY=BINARYMIME"),
        "{:?}",
        m.mail_params
    );
    assert_eq!(m.data, body, "not a byte changed");
    // Without BINARYMIME on offer it goes as ordinary content (line ends normalised).
    let plain = Sink::builder().disable("BINARYMIME").start().await.unwrap();
    client(&plain)
        .build()
        .unwrap()
        .send("a@example.org", ["b@example.net"], body.clone())
        .await
        .unwrap();
    assert!(
        !plain.messages()[0]
            .mail_params
            .iter()
            .any(|p| p.starts_with("BODY=BINARY"))
    );
}

#[tokio::test]
async fn a_dropped_send_is_still_delivered_and_the_client_goes_on() {
    let s = Sink::builder()
        .fault("data-end#1=delay:200ms".parse().unwrap())
        .start()
        .await
        .unwrap();
    let c = client(&s).build().unwrap();
    let send = c.send(
        "a@example.org",
        ["dropped@example.net"],
        "Subject: dropped\r\n\r\nx\r\n",
    );
    // Give up on it while the server is still thinking about it.
    assert!(
        tokio::time::timeout(Duration::from_millis(50), send)
            .await
            .is_err()
    );
    c.send("a@example.org", ["next@example.net"], "x").await.unwrap();
    s.wait_for_count(2, Duration::from_secs(5)).await.unwrap();
    let to: Vec<String> = s.messages().iter().map(|m| m.rcpt_to[0].clone()).collect();
    assert_eq!(
        to,
        ["dropped@example.net", "next@example.net"],
        "the dropped one went first, in order"
    );
    assert_eq!(s.connections(), 1, "the connection stayed in a known state");
}
