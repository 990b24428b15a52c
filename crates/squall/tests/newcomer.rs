//! What a first real app ran into (issue 17), each as a test of the API a newcomer uses.

use std::time::Duration;

use squall::{Client, ErrorKind, Message, NamedAddress, Stage};
use squall_sink::Sink;

/// A client for the sink is one line.
#[tokio::test]
async fn the_sink_url_makes_a_client() {
    let sink = Sink::start().await.unwrap();
    let c = Client::from_url(&sink.url()).unwrap();
    c.send("a@example.org", ["b@example.net"], "x").await.unwrap();
    assert_eq!(sink.delivered(), 1);
}

/// A partial refusal becomes an error in one call, and says who did not get it.
#[tokio::test]
async fn require_all_turns_a_partial_refusal_into_an_error() {
    let sink = Sink::builder()
        .fault("rcpt:nobody@example.net=550 5.1.1 no such user".parse().unwrap())
        .start()
        .await
        .unwrap();
    let c = Client::from_url(&sink.url()).unwrap();
    let m = Message::builder()
        .from("a@example.org")
        .to("bob@example.net, nobody@example.net")
        .subject("Welcome")
        .build()
        .unwrap();
    let r = c.send_message(&m).await.unwrap();
    assert!(!r.is_complete());
    let e = r.require_all().unwrap_err();
    assert_eq!((e.stage(), e.kind()), (Stage::Rcpt, ErrorKind::Permanent));
    assert!(e.is_recipients());
    let text = e.to_string();
    assert!(text.contains("for 1 of 2 recipients"), "{text}");
    assert!(
        text.contains("<nobody@example.net>: 550 5.1.1 no such user"),
        "{text}"
    );
    assert!(text.contains("does not exist"), "the refusal's advice: {text}");
    assert_eq!(e.accepted()[0].recipient, "bob@example.net");
    // The refused recipient's own words, summary and hint, apart.
    let refused = &e.rejected()[0];
    assert!(
        refused
            .summary()
            .contains("refused recipient <nobody@example.net>")
    );
    assert!(refused.hint().contains("check the spelling"));
    assert_eq!(ErrorKind::Permanent.to_string(), "permanent");
    // A complete receipt passes through.
    let ok = Message::builder()
        .from("a@example.org")
        .to("bob@example.net")
        .build()
        .unwrap();
    c.send_message(&ok).await.unwrap().require_all().unwrap();
}

/// Names and addresses without format!: pairs, typed mailboxes, lists; and submit_message.
#[tokio::test]
async fn typed_addresses_and_submit_message() {
    let sink = Sink::start().await.unwrap();
    let c = Client::from_url(&sink.url()).unwrap();
    let name = "Doe, \"Jo\"";
    let m = Message::builder()
        .from((name, "jo@example.org"))
        .to(squall::Mailbox::parse("b@example.net").unwrap())
        .cc(NamedAddress::new("Ann", "ann@example.net").unwrap())
        .bcc("c@example.net, D <d@example.net>")
        .build()
        .unwrap();
    let outcome = c.submit_message(&m).unwrap();
    outcome.await.unwrap();
    let got = sink.messages().remove(0);
    assert_eq!(
        got.rcpt_to,
        [
            "b@example.net",
            "ann@example.net",
            "c@example.net",
            "d@example.net"
        ]
    );
    let text = String::from_utf8(got.data).unwrap();
    assert!(text.contains(r#"From: "Doe, \"Jo\"" <jo@example.org>"#), "{text}");
    assert!(!text.contains("d@example.net"), "Bcc stays out: {text}");
}

/// A CR in a display name is named as such.
#[test]
fn a_cr_in_a_display_name_is_named() {
    let e = NamedAddress::new("Eve\rX", "e@example.org")
        .unwrap_err()
        .to_string();
    assert!(e.contains("display name contains a CR"), "{e}");
}

/// A refused connection on loopback: the words fit (start the server), and `no_retry` keeps a
/// request handler from waiting out the backoff.
#[tokio::test]
async fn a_refused_connection_says_to_start_the_server() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = Client::builder("127.0.0.1")
        .port(port)
        .tls(squall::Tls::None)
        .no_retry()
        .build()
        .unwrap();
    let started = std::time::Instant::now();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let text = e.to_string();
    assert!(text.contains("nothing accepts connections there"), "{text}");
    assert!(text.contains("once a server listens there"), "{text}");
    assert!(!text.contains("trying again later may work"), "{text}");
}
