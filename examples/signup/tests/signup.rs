//! The signup service against an in-process squall-sink: what it sends, what it answers when the
//! server refuses the address, and 500 signups at once over one client.

use std::collections::HashSet;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use squall::Client;
use squall_example_signup::{GUIDE, Welcomed, app};
use squall_sink::{Expect, Sink, SinkHandle};
use tower::ServiceExt;

const WAIT: Duration = Duration::from_secs(30);

async fn service(sink: &SinkHandle) -> (Router, Client) {
    let client = Client::builder_from_url(&sink.url())
        .unwrap()
        .no_retry()
        .build()
        .unwrap();
    (app(client.clone(), "Example <hello@example.org>"), client)
}

async fn post(app: &Router, email: &str, name: &str) -> (StatusCode, Value) {
    let req = Request::post("/signup")
        .header("content-type", "application/json")
        .body(Body::from(json!({"email": email, "name": name}).to_string()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn the_welcome_mail_has_its_subject_html_attachment_and_signup_id() {
    let sink = Sink::start().await.unwrap();
    let (app, _client) = service(&sink).await;
    let (status, body) = post(&app, "ann@example.net", "Ann <Admin>").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let welcomed: Welcomed = serde_json::from_value(body).unwrap();

    let mail = sink
        .expect(Expect::new().to("ann@example.net"), WAIT)
        .await
        .unwrap();
    assert_eq!(mail.subject(), Some("Welcome, Ann <Admin>"));
    assert_eq!(mail.envelope_to(), ["ann@example.net"]);
    assert_eq!(mail.envelope_from(), "hello@example.org");
    let html = mail.html().expect("an HTML part");
    assert!(
        html.contains("Hello <b>Ann &lt;Admin&gt;</b>"),
        "the name is escaped in the HTML: {html}"
    );
    assert!(mail.text().unwrap().contains("Hello Ann <Admin>,"));
    let attachments = mail.attachments();
    assert_eq!(attachments.len(), 1, "{mail:?}");
    assert_eq!(attachments[0].name.as_deref(), Some("getting-started.pdf"));
    assert_eq!(attachments[0].content_type, "application/pdf");
    assert_eq!(attachments[0].data, GUIDE);
    assert_eq!(
        mail.header("X-Signup-Id").as_deref(),
        Some(welcomed.signup_id.as_str())
    );
    // The id the API returned is the one the mail carries.
    assert_eq!(
        mail.header("Message-ID")
            .map(|id| id.trim_matches(['<', '>']).to_string()),
        Some(welcomed.message_id.trim_matches(['<', '>']).to_string())
    );
}

#[tokio::test]
async fn an_address_the_server_refuses_is_a_422_with_the_reason() {
    let sink = Sink::builder()
        .fault("rcpt:nobody@example.net=550 5.1.1 no such user".parse().unwrap())
        .start()
        .await
        .unwrap();
    let (app, _client) = service(&sink).await;
    let (status, body) = post(&app, "nobody@example.net", "Nobody").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // squall's JSON shape, passed on as it is.
    assert_eq!(body["kind"], "permanent");
    assert_eq!(body["stage"], "rcpt");
    assert_eq!(body["code"], 550);
    assert_eq!(body["enhanced"], "5.1.1");
    assert_eq!(body["rejected"][0]["address"], "nobody@example.net");
    assert!(
        body["hint"].as_str().unwrap().contains("does not exist"),
        "{body}"
    );
    // Nothing was stored for the refused address, and another signup still goes through.
    assert_eq!(sink.delivered(), 0);
    let (status, body) = post(&app, "bob@example.net", "Bob").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
}

#[tokio::test]
async fn a_malformed_address_is_refused_before_any_mail() {
    let sink = Sink::start().await.unwrap();
    let (app, _client) = service(&sink).await;
    for email in ["not an address", "a@example.net\r\nBcc: x@example.org"] {
        let (status, body) = post(&app, email, "Eve").await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{email:?}: {body}");
        assert_eq!(body["kind"], "local", "{body}");
    }
    assert_eq!(sink.connections(), 0, "nothing reached the server");
}

#[tokio::test]
async fn a_server_that_is_down_is_a_503_at_once() {
    let sink = Sink::start().await.unwrap();
    let url = sink.url();
    sink.stop();
    drop(sink);
    let client = Client::builder_from_url(&url)
        .unwrap()
        .no_retry()
        .build()
        .unwrap();
    let app = app(client, "hello@example.org");
    let started = std::time::Instant::now();
    let (status, body) = post(&app, "ann@example.net", "Ann").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["kind"], "transient", "{body}");
    assert_eq!(body["stage"], "connect", "{body}");
    // No retries inside a request: well under the first backoff.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn five_hundred_signups_at_once_share_one_client() {
    const N: usize = 500;
    let sink = Sink::start().await.unwrap();
    let (app, client) = service(&sink).await;
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(
                async move { post(&app, &format!("user{i}@example.net"), &format!("User {i}")).await },
            )
        })
        .collect();
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    }
    sink.wait_for_count(N as u64, WAIT).await.unwrap();
    let mails = sink.mails();
    assert_eq!(mails.len(), N);
    // Each mail is personalised: its subject names the one recipient it went to.
    let mut seen = HashSet::new();
    for m in &mails {
        let [to] = m.envelope_to() else {
            panic!("one recipient per mail: {m:?}")
        };
        let i = to
            .strip_prefix("user")
            .and_then(|r| r.strip_suffix("@example.net"))
            .unwrap();
        assert_eq!(m.subject(), Some(format!("Welcome, User {i}").as_str()));
        assert!(seen.insert(to.clone()), "{to} got two mails");
    }
    // One pool: a handful of connections, not one per request.
    let opened = sink.connections();
    assert!(opened <= 8, "{opened} connections for {N} requests");
    assert_eq!(client.stats().delivered, N as u64);
}
