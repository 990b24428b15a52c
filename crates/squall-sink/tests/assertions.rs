//! Parsed messages and waits, end to end: squall sends, the test asserts on what arrived.

use std::time::{Duration, Instant};

use squall::{Client, Message};
use squall_sink::{Expect, Sink};

const SECS: Duration = Duration::from_secs(5);

async fn send_reset(client: &Client, to: &str) {
    let m = Message::builder()
        .from("App <app@example.org>")
        .to(to)
        .cc("audit@example.org")
        .bcc("hidden@example.org")
        .subject("Reset your password")
        .text("Open https://app.example/reset?token=abc")
        .html("<p><a href=\"https://app.example/reset?token=abc\">Reset</a></p>")
        .attachment("terms.pdf", "application/pdf", &b"%PDF-1.4"[..])
        .build()
        .unwrap();
    client.send_message(&m).await.unwrap().require_all().unwrap();
}

#[tokio::test]
async fn a_sent_message_reads_back_parsed() {
    let sink = Sink::start().await.unwrap();
    let client = Client::from_url(&sink.url()).unwrap();
    send_reset(&client, "Bob <bob@example.net>").await;
    let m = sink
        .expect(Expect::new().to("bob@example.net").subject("Reset"), SECS)
        .await
        .unwrap();
    assert_eq!(m.subject(), Some("Reset your password"));
    assert_eq!(m.from(), ["app@example.org"]);
    assert_eq!(m.to(), ["bob@example.net"]);
    assert_eq!(m.cc(), ["audit@example.org"]);
    assert_eq!(m.envelope_from(), "app@example.org");
    assert!(
        m.envelope_to().iter().any(|r| r == "hidden@example.org"),
        "Bcc in the envelope"
    );
    assert!(m.header("bcc").is_none(), "Bcc not in the headers");
    assert!(m.text().unwrap().contains("token=abc"));
    assert!(m.html().unwrap().contains("<a href="));
    let a = m.attachments();
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].name.as_deref(), Some("terms.pdf"));
    assert_eq!(a[0].content_type, "application/pdf");
    assert_eq!(a[0].data, b"%PDF-1.4");
    assert!(m.header("Message-ID").is_some());
    assert_eq!(sink.mails().len(), 1);
}

#[tokio::test]
async fn wait_for_wakes_on_arrival_not_on_a_timer() {
    let sink = Sink::start().await.unwrap();
    let client = Client::from_url(&sink.url()).unwrap();
    let send = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        send_reset(&client, "bob@example.net").await;
    };
    let started = Instant::now();
    let (got, ()) = tokio::join!(
        sink.wait_for(|m| m.to() == ["bob@example.net"], Duration::from_secs(30)),
        send
    );
    assert_eq!(got.unwrap().subject(), Some("Reset your password"));
    assert!(started.elapsed() < Duration::from_secs(5));
    // A message that is already there matches at once.
    let again = sink.wait_for(|m| m.subject().is_some(), Duration::ZERO).await;
    assert!(again.is_ok());
}

#[tokio::test]
async fn a_failed_expectation_lists_what_arrived() {
    let sink = Sink::start().await.unwrap();
    let client = Client::from_url(&sink.url()).unwrap();
    send_reset(&client, "carol@example.net").await;
    client
        .send(
            "x@example.org",
            ["dan@example.net"],
            "Subject: Welcome\r\n\r\nhi\r\n",
        )
        .await
        .unwrap();
    sink.wait_for_count(2, SECS).await.unwrap();
    let e = sink
        .expect(
            Expect::new().to("bob@example.net").subject("Reset"),
            Duration::from_millis(100),
        )
        .await
        .unwrap_err();
    let text = format!("{e:?}");
    assert!(
        text.starts_with(
            "expected a message to bob@example.net with subject ~ \"Reset\" within 100ms; got 2:"
        ),
        "{text}"
    );
    assert!(
        text.contains("to <carol@example.net>, <audit@example.org>"),
        "{text}"
    );
    assert!(text.contains("\"Welcome\""), "{text}");
    assert!(sink.find(&Expect::new().subject("Welcome")).is_ok());
}

#[tokio::test]
async fn the_cap_drops_the_oldest_and_delete_removes() {
    let sink = Sink::builder().max_messages(2).start().await.unwrap();
    let client = Client::from_url(&sink.url()).unwrap();
    for i in 0..3 {
        let body = format!("Subject: n{i}\r\n\r\nx\r\n");
        client
            .send("a@example.org", ["b@example.net"], body)
            .await
            .unwrap();
    }
    sink.wait_for_count(3, SECS).await.unwrap();
    let subjects: Vec<_> = sink
        .mails()
        .iter()
        .map(|m| m.subject().unwrap().to_string())
        .collect();
    assert_eq!(subjects, ["n1", "n2"]);
    let first = sink.mails()[0].id().to_string();
    assert!(sink.delete(&first));
    assert!(!sink.delete(&first));
    assert_eq!(sink.kept(), 1);
}

#[tokio::test]
async fn a_sink_that_keeps_nothing_says_so() {
    let sink = Sink::builder().keep_messages(false).start().await.unwrap();
    let e = sink
        .expect(Expect::new(), Duration::from_millis(10))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("keeps no messages"), "{e}");
}
