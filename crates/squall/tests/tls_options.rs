//! TLS options a caller brings (issue 14): a client certificate for mutual TLS, a minimum TLS
//! version, and the caller's own rustls configuration, each against a real rustls server.

use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use squall::{Client, Tls, TlsVersion};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio_rustls::TlsAcceptor;

/// A CA, a server certificate for localhost, and a client certificate, all from it.
struct Pki {
    ca_pem: String,
    server: (String, String),
    client: (String, String),
}

fn pki() -> Pki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "squall mTLS test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let leaf = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(names)
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (cert.pem(), key.serialize_pem())
    };
    Pki {
        server: leaf(vec!["localhost".into()]),
        client: leaf(vec!["client.example".into()]),
        ca_pem: ca.pem(),
    }
}

fn certs(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap()
}

/// A server on implicit TLS that greets, answers EHLO and QUIT; what `probe` needs.
async fn server(config: rustls::ServerConfig) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        for _ in 0..4 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let (rd, mut wr) = tokio::io::split(tls);
                let _ = wr.write_all(b"220 localhost ESMTP\r\n").await;
                let mut lines = BufReader::new(rd).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply: &[u8] = match line.get(..4).unwrap_or("").to_ascii_uppercase().as_str() {
                        "EHLO" => b"250 localhost\r\n",
                        "QUIT" => b"221 bye\r\n",
                        _ => b"500 what\r\n",
                    };
                    let _ = wr.write_all(reply).await;
                    let _ = wr.flush().await;
                }
            });
        }
    });
    addr
}

fn server_config(
    p: &Pki,
    versions: &[&'static rustls::SupportedProtocolVersion],
    client_auth: bool,
) -> rustls::ServerConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap();
    let builder = if client_auth {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(certs(&p.ca_pem));
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    builder
        .with_single_cert(
            certs(&p.server.0),
            PrivateKeyDer::from_pem_slice(p.server.1.as_bytes()).unwrap(),
        )
        .unwrap()
}

fn client(p: &Pki, addr: std::net::SocketAddr, dir: &tempfile::TempDir) -> squall::ClientBuilder {
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &p.ca_pem).unwrap();
    Client::builder("localhost")
        .port(addr.port())
        .tls(Tls::Implicit)
        .ca_file(ca)
        .timeout(Duration::from_secs(10))
}

#[tokio::test]
async fn a_client_certificate_for_mutual_tls() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let addr = server(server_config(&p, rustls::DEFAULT_VERSIONS, true)).await;
    let without = client(&p, addr, &dir).build().unwrap().probe().await;
    assert!(without.is_err(), "the server requires a client certificate");
    let report = client(&p, addr, &dir)
        .client_certificate(p.client.0.as_bytes(), p.client.1.as_bytes())
        .build()
        .unwrap()
        .probe()
        .await
        .unwrap();
    assert!(report.tls.unwrap().is_verified());
    let e = Client::builder("localhost")
        .client_certificate(b"not pem", b"nor this")
        .build()
        .err()
        .unwrap();
    assert!(e.to_string().contains("client certificate"), "{e}");
}

#[tokio::test]
async fn a_minimum_tls_version_is_kept() {
    let p = pki();
    let dir = tempfile::tempdir().unwrap();
    let tls12_only = server(server_config(&p, &[&rustls::version::TLS12], false)).await;
    let r = client(&p, tls12_only, &dir)
        .build()
        .unwrap()
        .probe()
        .await
        .unwrap();
    assert_eq!(r.tls.unwrap().version, "TLS 1.2");
    let e = client(&p, tls12_only, &dir)
        .min_tls_version(TlsVersion::Tls13)
        .build()
        .unwrap()
        .probe()
        .await
        .unwrap_err();
    assert!(e.to_string().contains("TLS handshake"), "{e}");
    let both = server(server_config(&p, rustls::DEFAULT_VERSIONS, false)).await;
    let r = client(&p, both, &dir)
        .min_tls_version(TlsVersion::Tls13)
        .build()
        .unwrap()
        .probe()
        .await
        .unwrap();
    assert_eq!(r.tls.unwrap().version, "TLS 1.3");
}

#[tokio::test]
async fn the_callers_own_rustls_config_is_used_as_it_is() {
    let p = pki();
    let addr = server(server_config(&p, rustls::DEFAULT_VERSIONS, false)).await;
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(certs(&p.ca_pem));
    let config =
        rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    // No CA file: the caller's roots are what make the certificate verify.
    let r = Client::builder("localhost")
        .port(addr.port())
        .tls(Tls::Implicit)
        .tls_config(Arc::new(config))
        .build()
        .unwrap()
        .probe()
        .await
        .unwrap();
    assert!(r.tls.is_some());
}
