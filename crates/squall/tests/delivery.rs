//! Delivery requests (DSN, REQUIRETLS) through squall's own API, as the server sees them.

use squall::{Client, Delivery, ErrorKind, Message, Notify, Ret, Tls};
use squall_sink::Sink;

mod common;
use common::peers::{peer, unique};
use common::recorder;

fn dsn() -> Delivery {
    Delivery::new()
        .notify(Notify::FAILURE | Notify::DELAY)
        .ret(Ret::Headers)
        .envelope_id("order-1234")
        .unwrap()
        .original_recipients(true)
}

#[tokio::test]
async fn dsn_requests_reach_the_server_for_raw_and_built_messages() {
    let sink = Sink::start().await.unwrap();
    let c = Client::from_url(&sink.url()).unwrap();
    c.send_with(
        "a@example.org",
        ["b@example.net"],
        "Subject: x\r\n\r\nx\r\n",
        &dsn(),
    )
    .await
    .unwrap();
    let m = Message::builder()
        .from("a@example.org")
        .to("c@example.net")
        .subject("built")
        .delivery(dsn())
        .build()
        .unwrap();
    c.send_message(&m).await.unwrap();
    for (m, rcpt) in sink.messages().iter().zip(["b@example.net", "c@example.net"]) {
        assert!(
            m.mail_params.contains(&"RET=HDRS".to_string()),
            "{:?}",
            m.mail_params
        );
        assert!(
            m.mail_params.contains(&"ENVID=order-1234".to_string()),
            "{:?}",
            m.mail_params
        );
        let p = &m.rcpt_params[0];
        assert!(p.contains(&"NOTIFY=FAILURE,DELAY".to_string()), "{p:?}");
        assert!(p.contains(&format!("ORCPT=rfc822;{rcpt}")), "{p:?}");
    }
    // Without requests, none of it is sent.
    c.send("a@example.org", ["d@example.net"], "x").await.unwrap();
    let plain = &sink.messages()[2];
    assert!(
        plain.mail_params.iter().all(|p| !p.starts_with("RET=")),
        "{plain:?}"
    );
    assert!(plain.rcpt_params[0].is_empty(), "{plain:?}");
}

/// REQUIRETLS over a session without TLS is refused before MAIL: nothing is sent.
#[tokio::test]
async fn require_tls_without_tls_sends_nothing_and_says_why() {
    let sink = Sink::start().await.unwrap();
    let c = Client::from_url(&sink.url()).unwrap();
    let d = Delivery::new().require_tls(true);
    let e = c
        .send_with("a@example.org", ["b@example.net"], "x", &d)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Local, "{e}");
    assert!(e.to_string().contains("REQUIRETLS"), "{e}");
    assert_eq!(sink.delivered(), 0);
}

/// Postfix offers DSN: it takes the parameters as they are encoded.
#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn postfix_accepts_the_dsn_parameters() {
    let Some(p) = peer("POSTFIX_MX") else { return };
    let (lines, rec) = recorder();
    let c = p.secure(Tls::StartTls).transcript(rec).build().unwrap();
    let to = unique("dsn");
    c.send_with(
        "a@example.org",
        [to.as_str()],
        "Subject: dsn\r\n\r\nx\r\n",
        &dsn(),
    )
    .await
    .unwrap();
    let l = lines.lock().unwrap().join("\n");
    assert!(l.contains("RET=HDRS ENVID=order-1234"), "{l}");
    assert!(
        l.contains(&format!("NOTIFY=FAILURE,DELAY ORCPT=rfc822;{to}")),
        "{l}"
    );
}
