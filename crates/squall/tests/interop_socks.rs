//! SOCKS5 (RFC 1928, RFC 1929) through Dante, started by `scripts/test.sh` with
//! `scripts/peers/dante.sh`: `SQUALL_PEER_DANTE` without authentication and
//! `SQUALL_PEER_DANTE_PASSWORD` with user `squall-socks`, password `squall-socks-pw`. Both refuse
//! destinations on 127.0.0.3 by rule. The mail server behind the proxy is an in-process sink.

use std::time::Duration;

use squall::{Client, ErrorKind, Stage, Tls};
use squall_sink::{Sink, SinkHandle};

mod common;
use common::peers::not_run;

/// The proxy's address from `var`; `None` (recorded as not run) when `SQUALL_PEER_DANTE_SKIP`
/// says why Dante was left out.
fn proxy(var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(addr) => Some(addr),
        Err(_) => match std::env::var("SQUALL_PEER_DANTE_SKIP") {
            Ok(why) => {
                not_run(var, &why);
                None
            }
            Err(_) => panic!("{var} is not set: scripts/test.sh starts Dante and runs this test"),
        },
    }
}

async fn sink() -> SinkHandle {
    Sink::builder().start().await.expect("sink starts")
}

fn client(host: &str, port: u16, proxy: &str) -> squall::ClientBuilder {
    Client::builder(host)
        .port(port)
        .tls(Tls::None)
        .proxy(proxy)
        .no_retry()
        .idle_timeout(Duration::from_millis(200))
        .timeout(Duration::from_secs(20))
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn delivers_through_the_proxy_with_and_without_password() {
    let (Some(open), Some(locked)) = (proxy("SQUALL_PEER_DANTE"), proxy("SQUALL_PEER_DANTE_PASSWORD")) else {
        return;
    };
    let s = sink().await;
    let port = s.addr().port();
    for url in [
        format!("socks5://{open}"),
        // The proxy resolves the name.
        format!("socks5h://{open}"),
        format!("socks5://squall-socks:squall-socks-pw@{locked}"),
    ] {
        let host = if url.starts_with("socks5h") {
            "localhost"
        } else {
            "127.0.0.1"
        };
        let c = client(host, port, &url).build().unwrap();
        let r = c
            .send(
                "a@example.org",
                ["b@example.net"],
                "Subject: via socks\r\n\r\nx\r\n",
            )
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(r.accepted.len(), 1, "{url}");
        let stored = s.take_messages().pop().expect("stored");
        assert!(stored.data.starts_with(b"Subject: via socks"), "{url}");
    }
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn the_proxy_refusing_the_destination() {
    let Some(open) = proxy("SQUALL_PEER_DANTE") else {
        return;
    };
    let c = client("127.0.0.3", 2525, &format!("socks5://{open}"))
        .build()
        .unwrap();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    assert_eq!(
        (e.stage(), e.kind()),
        (Stage::Connect, ErrorKind::Permanent),
        "{e}"
    );
    let text = e.to_string();
    assert!(
        text.contains("connection not allowed by ruleset (SOCKS5 reply 2)"),
        "{text}"
    );
    assert!(
        text.contains(&format!("through the proxy socks5://{open}")),
        "{text}"
    );
    assert!(e.hint().contains("rules"), "{}", e.hint());

    // Nothing listens on port 1 of the loopback: the proxy says so (reply 5), transient.
    let c = client("127.0.0.1", 1, &format!("socks5://{open}"))
        .build()
        .unwrap();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    assert!(
        e.to_string().contains("connection refused (SOCKS5 reply 5)"),
        "{e}"
    );
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_wrong_proxy_password() {
    let Some(locked) = proxy("SQUALL_PEER_DANTE_PASSWORD") else {
        return;
    };
    let s = sink().await;
    let url = format!("socks5://squall-socks:WRONGpw@{locked}");
    let c = client("127.0.0.1", s.addr().port(), &url).build().unwrap();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    let text = format!("{e} {e:?} {}", e.hint());
    assert!(
        text.contains("the proxy refused the user name or password"),
        "{text}"
    );
    assert!(text.contains("squall-socks:***@"), "{text}");
    assert!(!text.contains("WRONGpw"), "the password never shows: {text}");
    assert_eq!(
        (e.stage(), e.kind()),
        (Stage::Connect, ErrorKind::Permanent),
        "{e}"
    );

    // No credentials at all for a proxy that wants them.
    let c = client("127.0.0.1", s.addr().port(), &format!("socks5://{locked}"))
        .build()
        .unwrap();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    assert!(e.to_string().contains("may need a user name and password"), "{e}");
}
