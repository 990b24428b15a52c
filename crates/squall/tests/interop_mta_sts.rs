//! MTA-STS (RFC 8461) in direct delivery, with dnsmasq as the DNS server
//! (`scripts/peers/dnsmasq.sh`, address in `SQUALL_PEER_DNSMASQ`: the `_mta-sts` TXT records,
//! the MX records, and `mta-sts.DOMAIN` → 127.0.0.6). The policies are served over HTTPS by an
//! in-process tokio-rustls server on 127.0.0.6 with a certificate from a test CA; the MX hosts
//! are in-process sinks: 127.0.0.3 (`mx2.pref.test`, no TLS), 127.0.0.5 (`mx.enforce.test`,
//! STARTTLS with a certificate from the same CA) and 127.0.0.7 (`mx.badtls.test`, STARTTLS with a
//! certificate that does not name it), on one port.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use squall::{Client, ErrorKind, TlsPolicy};
use squall_sink::{Sink, SinkHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The dnsmasq serving the test zones. The tests that call this are `#[ignore]`d (a plain
/// `cargo test` reports them ignored); under `scripts/test.sh` a missing dnsmasq fails them.
fn dns() -> SocketAddr {
    let a = std::env::var("SQUALL_PEER_DNSMASQ")
        .expect("SQUALL_PEER_DNSMASQ is not set: scripts/test.sh starts dnsmasq and runs this test");
    a.parse().expect("HOST:PORT")
}

const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mx.enforce.test\r\nmax_age: 86400\r\n";
const TESTING: &str = "version: STSv1\nmode: testing\nmx: mx.enforce.test\nmax_age: 86400\n";
const BADTLS: &str = "version: STSv1\nmode: enforce\nmx: mx.badtls.test\nmx: *.enforce.test\nmax_age: 60\n";
const MALFORMED: &str = "version: STSv1\nmode: strict\nmx: mx2.pref.test\nmax_age: 86400\n";

/// Policy requests served, by Host header.
type Served = Arc<Mutex<HashMap<String, usize>>>;

/// The HTTPS policy server on 127.0.0.6: its port and the requests it answered.
async fn policy_server(cert_pem: &str, key_pem: &str) -> (u16, Served) {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap();
    let config =
        rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.6:0").await.expect("bind 127.0.0.6");
    let port = listener.local_addr().unwrap().port();
    let served = Served::default();
    let counts = served.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, counts) = (acceptor.clone(), counts.clone());
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to serve.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192 {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let text = String::from_utf8_lossy(&request).into_owned();
                let host = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Host: "))
                    .unwrap_or("")
                    .trim()
                    .to_string();
                assert!(
                    text.starts_with("GET /.well-known/mta-sts.txt HTTP/1.1\r\n"),
                    "{text}"
                );
                *counts.lock().unwrap().entry(host.clone()).or_default() += 1;
                let response = match host.as_str() {
                    "mta-sts.enforce.test" => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{ENFORCE}",
                        ENFORCE.len()
                    ),
                    // Chunked, as many servers send it.
                    "mta-sts.strict.test" => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n\
                         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{ENFORCE}\r\n0\r\n\r\n",
                        ENFORCE.len()
                    ),
                    // Framed by the end of the connection.
                    "mta-sts.testing.test" => {
                        format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n{TESTING}")
                    }
                    "mta-sts.badtls.test" => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{BADTLS}",
                        BADTLS.len()
                    ),
                    "mta-sts.badpolicy.test" => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{MALFORMED}",
                        MALFORMED.len()
                    ),
                    _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".to_string(),
                };
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, served)
}

/// (plain sink on .3, STARTTLS sinks on .5 and .7), on the same port.
async fn mx_hosts(cert_pem: &str, key_pem: &str) -> (SinkHandle, SinkHandle, SinkHandle, u16) {
    for _ in 0..20 {
        let plain = Sink::builder()
            .listen("127.0.0.3:0".parse().unwrap())
            .start()
            .await
            .unwrap();
        let port = plain.addr().port();
        let tls = Sink::builder()
            .listen(SocketAddr::from(([127, 0, 0, 5], port)))
            .tls_pem(cert_pem.as_bytes(), key_pem.as_bytes())
            .unwrap()
            .start()
            .await;
        let badtls = Sink::builder()
            .listen(SocketAddr::from(([127, 0, 0, 7], port)))
            .tls_pem(cert_pem.as_bytes(), key_pem.as_bytes())
            .unwrap()
            .start()
            .await;
        if let (Ok(tls), Ok(badtls)) = (tls, badtls) {
            return (plain, tls, badtls, port);
        }
    }
    panic!("no port free on 127.0.0.3, .5 and .7 at once");
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn enforce_testing_and_unfetchable_policies() {
    let dns = dns();
    // One certificate for the MX host and the policy hosts, except mta-sts.badcert.test.
    let pki = common::pki(&[
        "mx.enforce.test",
        "mta-sts.enforce.test",
        "mta-sts.strict.test",
        "mta-sts.testing.test",
        "mta-sts.badpolicy.test",
        "mta-sts.badtls.test",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let (https_port, served) = policy_server(&pki.cert_pem, &pki.key_pem).await;
    let (plain, tls, badtls, port) = mx_hosts(&pki.cert_pem, &pki.key_pem).await;
    let direct = |sts: bool| {
        Client::direct()
            .dns(dns)
            .port(port)
            .mta_sts(sts)
            .mta_sts_port(https_port)
            .ca_file(&ca)
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap()
    };
    let d = direct(true);
    let to = [
        "a@enforce.test",
        "b@strict.test",
        "c@testing.test",
        "d@badpolicy.test",
        "e@badcert.test",
        "h@badtls.test",
    ];
    let report = d
        .send("s@example.org", to, "Subject: sts\r\n\r\nx\r\n")
        .await
        .unwrap();
    let by = |name: &str| report.domains.iter().find(|o| o.domain == name).unwrap().clone();

    // enforce: the preferred MX (10) is not in the policy and is skipped; the listed one takes
    // the message over verified TLS.
    let o = by("enforce.test");
    assert_eq!(o.tls_policy, TlsPolicy::MtaStsEnforce);
    let r = o.result.as_ref().unwrap();
    assert_eq!(o.mx.as_deref(), Some("mx.enforce.test"));
    assert!(r.tls.as_ref().is_some_and(|t| t.is_verified()), "{:?}", r.tls);
    assert!(o.tried.is_empty(), "{:?}", o.tried);
    assert_eq!(o.policy_notes.len(), 1, "{:?}", o.policy_notes);
    assert!(
        o.policy_notes[0].contains("mx2.pref.test skipped"),
        "{:?}",
        o.policy_notes
    );
    assert_eq!(tls.take_messages().len(), 2, "enforce.test and badtls.test");

    // enforce: the preferred MX is listed but its certificate does not verify, so it is not used;
    // the next listed MX (matched by *.enforce.test) takes the message.
    let o = by("badtls.test");
    assert_eq!(o.tls_policy, TlsPolicy::MtaStsEnforce);
    assert!(o.result.is_ok(), "{:?}", o.result);
    assert_eq!(o.mx.as_deref(), Some("mx.enforce.test"));
    assert_eq!(o.tried.len(), 1, "{:?}", o.tried);
    assert_eq!(o.tried[0].0, "mx.badtls.test");
    assert!(
        o.tried[0].1.to_string().contains("certificate"),
        "{}",
        o.tried[0].1
    );
    assert!(badtls.take_messages().is_empty());

    // enforce, and no MX host is in the policy: not delivered, a temporary failure that says why.
    let o = by("strict.test");
    assert_eq!(o.tls_policy, TlsPolicy::MtaStsEnforce);
    let e = o.result.as_ref().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Transient, "{e}");
    assert!(
        e.to_string().contains("MTA-STS") && e.to_string().contains("mx2.pref.test"),
        "{e}"
    );
    assert!(o.mx.is_none() && o.tried.is_empty());

    // testing: delivered to the MX as usual, and the mismatch (and the missing TLS) reported.
    let o = by("testing.test");
    assert_eq!(o.tls_policy, TlsPolicy::MtaStsTesting);
    assert!(o.result.is_ok(), "{:?}", o.result);
    assert_eq!(o.mx.as_deref(), Some("mx2.pref.test"));
    let notes = o.policy_notes.join(" | ");
    assert!(
        notes.contains("mx2.pref.test is not in the policy (delivered anyway)"),
        "{notes}"
    );
    assert!(notes.contains("without TLS"), "{notes}");

    // A malformed policy, and a policy host whose certificate does not name it: with no cached
    // policy, delivery goes on as without one (RFC 8461 §5.1), and the outcome says so.
    for (domain, why) in [
        ("badpolicy.test", "malformed MTA-STS policy"),
        ("badcert.test", "certificate"),
    ] {
        let o = by(domain);
        assert_eq!(o.tls_policy, TlsPolicy::Opportunistic, "{domain}");
        assert!(o.result.is_ok(), "{domain}: {:?}", o.result);
        assert_eq!(o.mx.as_deref(), Some("mx2.pref.test"));
        let notes = o.policy_notes.join(" | ");
        assert!(
            notes.contains(why) && notes.contains("no cached policy"),
            "{domain}: {notes}"
        );
    }
    assert_eq!(plain.take_messages().len(), 3, "testing, badpolicy and badcert");

    // The policies are cached under their TXT id: a second send fetches none again.
    let again = d
        .send("s@example.org", ["f@enforce.test"], "x\r\n")
        .await
        .unwrap();
    assert_eq!(again.domains[0].mx.as_deref(), Some("mx.enforce.test"));
    assert_eq!(served.lock().unwrap().get("mta-sts.enforce.test"), Some(&1));
    assert_eq!(tls.take_messages().len(), 1);

    // MTA-STS switched off: the preferred MX, opportunistic TLS.
    let off = direct(false)
        .send("s@example.org", ["g@enforce.test"], "x\r\n")
        .await
        .unwrap();
    assert_eq!(off.domains[0].tls_policy, TlsPolicy::Opportunistic);
    assert_eq!(off.domains[0].mx.as_deref(), Some("mx2.pref.test"));
    assert!(off.domains[0].policy_notes.is_empty());
    assert_eq!(plain.take_messages().len(), 1);
}
