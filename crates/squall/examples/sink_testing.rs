//! Testing code that sends mail: start squall-sink in the test, point the client at it, and
//! assert on what arrived. Nothing leaves the machine. (Written as `main` to run as an example;
//! in a project the body goes in a `#[tokio::test]`.)
//!
//!     cargo run -p squall --example sink_testing

use std::time::Duration;

use squall::{Client, ErrorKind, Message};
use squall_sink::Sink;

/// The code under test: sends a welcome mail through the client it is given.
async fn send_welcome(client: &Client, to: &str) -> Result<(), squall::Error> {
    let m = Message::builder()
        .from("welcome@example.org")
        .to(to)
        .subject("Welcome!")
        .text("Thanks for signing up.")
        .build()?;
    client.send_message(&m).await?.require_all()?;
    Ok(())
}

#[tokio::main]
async fn main() {
    // One refused address, to test the error path too.
    let sink = Sink::builder()
        .fault("rcpt:nobody@example.net=550 5.1.1 no such user".parse().unwrap())
        .start()
        .await
        .unwrap();
    let client = Client::from_url(&sink.url()).unwrap();

    send_welcome(&client, "ann@example.net").await.unwrap();
    sink.wait_for_count(1, Duration::from_secs(5)).await.unwrap();
    let got = &sink.messages()[0];
    assert_eq!(got.rcpt_to, ["ann@example.net"]);
    assert!(String::from_utf8_lossy(&got.data).contains("Subject: Welcome!"));

    let e = send_welcome(&client, "nobody@example.net").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent);
    println!("refused as expected: {}", e.summary());
    println!("both checks passed");
}
