//! Direct delivery to MX hosts, with dnsmasq as the DNS server (`scripts/peers/dnsmasq.sh`,
//! address in `SQUALL_PEER_DNSMASQ`) and in-process sinks on 127.0.0.2–4 as the MX hosts, all on
//! one port (MX means port 25, which needs root; the client is told the port instead).
//! 127.0.0.2 greets with 421, so it is a host to move on from; nothing listens on 127.0.0.9,
//! except in the black-hole test, where a sink there accepts and never answers.

use std::net::SocketAddr;
use std::time::Duration;

use squall::{Client, ErrorKind};
use squall_sink::{Sink, SinkHandle};

/// The dnsmasq serving the test zones. The tests that call this are `#[ignore]`d (a plain
/// `cargo test` reports them ignored); under `scripts/test.sh` a missing dnsmasq fails them.
fn dns() -> SocketAddr {
    let a = std::env::var("SQUALL_PEER_DNSMASQ")
        .expect("SQUALL_PEER_DNSMASQ is not set: scripts/test.sh starts dnsmasq and runs this test");
    a.parse().expect("HOST:PORT")
}

/// (421 host on .2, sink on .3, sink on .4), all on the same port.
async fn hosts() -> (SinkHandle, SinkHandle, SinkHandle, u16) {
    for _ in 0..20 {
        let mid = Sink::builder()
            .listen("127.0.0.3:0".parse().unwrap())
            .start()
            .await
            .unwrap();
        let port = mid.addr().port();
        let busy = Sink::builder()
            .listen(SocketAddr::from(([127, 0, 0, 2], port)))
            .fault("greeting=421".parse().unwrap())
            .start()
            .await;
        let last = Sink::builder()
            .listen(SocketAddr::from(([127, 0, 0, 4], port)))
            .start()
            .await;
        if let (Ok(busy), Ok(last)) = (busy, last) {
            return (busy, mid, last, port);
        }
    }
    panic!("no port free on 127.0.0.2, .3 and .4 at once");
}

fn direct(dns: SocketAddr, port: u16) -> squall::Direct {
    Client::direct()
        .dns(dns)
        .port(port)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn preference_fallback_implicit_and_null_mx_in_one_send() {
    let dns = dns();
    let (_busy, mid, last, port) = hosts().await;
    let d = direct(dns, port);
    let report = d
        .send(
            "a@example.org",
            [
                "x@pref.test",
                "y@implicit.test",
                "z@null.test",
                "w@nope.test",
                "v@PREF.test",
            ],
            "Subject: direct\r\n\r\nx\r\n",
        )
        .await
        .unwrap();
    let by = |name: &str| report.domains.iter().find(|o| o.domain == name).unwrap();
    assert_eq!(report.domains.len(), 4, "grouped by domain, case-insensitively");

    // mx1 (preference 10) answers 421: the next MX (20) takes the message for both recipients.
    let pref = by("pref.test");
    let r = pref.result.as_ref().unwrap();
    assert_eq!(pref.mx.as_deref(), Some("mx2.pref.test"));
    assert_eq!(pref.tried.len(), 1);
    assert_eq!(pref.tried[0].0, "mx1.pref.test");
    assert!(pref.tried[0].1.to_string().contains("421"), "{}", pref.tried[0].1);
    assert_eq!(r.accepted.len(), 2);
    assert_eq!(mid.take_messages().len(), 1);

    // No MX record: the domain's own address.
    let implicit = by("implicit.test");
    assert!(implicit.result.is_ok(), "{:?}", implicit.result);
    assert_eq!(implicit.mx.as_deref(), Some("implicit.test"));
    assert_eq!(last.take_messages().len(), 1);

    // A null MX fails at once, for good, without a connection.
    let null = by("null.test");
    let e = null.result.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
    assert!(e.to_string().contains("null MX"), "{e}");
    assert!(null.tried.is_empty());

    // A domain that does not exist.
    let e = by("nope.test").result.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Permanent, "{e}");
    assert!(!report.all_delivered());
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn every_mx_failing_is_a_temporary_failure_naming_each() {
    let dns = dns();
    let (_busy, _mid, _last, port) = hosts().await;
    let report = direct(dns, port)
        .send("a@example.org", ["x@dead.test"], "Subject: d\r\n\r\nx\r\n")
        .await
        .unwrap();
    let dead = &report.domains[0];
    let e = dead.result.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    let tried: Vec<&str> = dead.tried.iter().map(|(h, _)| h.as_str()).collect();
    assert_eq!(tried, ["mx1.pref.test", "mx9.dead.test"]);
    assert!(dead.mx.is_none());
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn equal_preferences_are_tried_in_random_order() {
    let dns = dns();
    let (_busy, mid, last, port) = hosts().await;
    let d = direct(dns, port);
    let mut used = std::collections::HashSet::new();
    for _ in 0..16 {
        let report = d.send("a@example.org", ["x@equal.test"], "x\r\n").await.unwrap();
        used.insert(report.domains[0].mx.clone().unwrap());
        if used.len() == 2 {
            break;
        }
    }
    assert_eq!(used.len(), 2, "both MX hosts of preference 10 get mail: {used:?}");
    assert!(!mid.take_messages().is_empty() && !last.take_messages().is_empty());
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_black_hole_mx_times_out_and_the_next_takes_the_message() {
    let dns = dns();
    let (_busy, mid, _last, port) = hosts().await;
    // Accepts the connection and never greets.
    let Ok(_hole) = Sink::builder()
        .listen(SocketAddr::from(([127, 0, 0, 9], port)))
        .fault("greeting=stall".parse().unwrap())
        .start()
        .await
    else {
        panic!("127.0.0.9:{port} is taken");
    };
    let d = Client::direct()
        .dns(dns)
        .port(port)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let report = d.send("a@example.org", ["x@hole.test"], "x\r\n").await.unwrap();
    let hole = &report.domains[0];
    assert!(hole.result.is_ok(), "{:?}", hole.result);
    assert_eq!(hole.mx.as_deref(), Some("mx2.pref.test"));
    assert_eq!(hole.tried[0].0, "mx9.dead.test");
    assert!(hole.tried[0].1.is_timeout(), "{}", hole.tried[0].1);
    assert_eq!(mid.take_messages().len(), 1);
}
