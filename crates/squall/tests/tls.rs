//! STARTTLS, implicit TLS and AUTH against the sink with a private CA: every mode works, and
//! every unsafe situation is refused before anything private is sent.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use squall::{Client, ClientBuilder, ErrorKind, Mechanism, Stage, Tls};
use squall_sink::{Sink, SinkBuilder, SinkHandle};

mod common;
use common::{TestPki, pki, recorder};

const PASSWORD: &str = "hunter2-s3cret";

struct Setup {
    sink: SinkHandle,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

/// A sink serving a certificate for localhost and 127.0.0.1, and a CA file trusting it.
async fn setup(configure: impl FnOnce(SinkBuilder) -> SinkBuilder) -> Setup {
    setup_with(&pki(&["localhost", "127.0.0.1"]), configure).await
}

async fn setup_with(p: &TestPki, configure: impl FnOnce(SinkBuilder) -> SinkBuilder) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &p.ca_pem).unwrap();
    let b = Sink::builder()
        .tls_pem(p.cert_pem.as_bytes(), p.key_pem.as_bytes())
        .unwrap();
    Setup {
        sink: configure(b).start().await.unwrap(),
        ca,
        _dir: dir,
    }
}

impl Setup {
    fn client(&self, host: &str, tls: Tls) -> ClientBuilder {
        Client::builder(host)
            .port(self.sink.addr().port())
            .tls(tls)
            .ca_file(&self.ca)
            .timeout(Duration::from_secs(10))
    }
}

fn submission(b: SinkBuilder) -> SinkBuilder {
    b.require_tls(true)
        .user("joe", PASSWORD)
        .user("joe@example.org", "ya29.token")
}

#[tokio::test]
async fn starttls_then_auth_with_each_mechanism() {
    let s = setup(submission).await;
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let c = s
            .client("localhost", Tls::StartTls)
            .credentials("joe", PASSWORD)
            .mechanism(Mechanism::from_name(mech))
            .build()
            .unwrap();
        c.send(
            "joe@example.org",
            ["you@example.net"],
            format!("Subject: {mech}\r\n\r\nx\r\n"),
        )
        .await
        .unwrap();
        let m = s.sink.take_messages().pop().unwrap();
        assert!(m.tls, "{mech}: sent inside TLS");
        assert_eq!(m.auth.as_deref(), Some("joe"), "{mech}");
    }
    let c = s
        .client("localhost", Tls::StartTls)
        .oauth2("joe@example.org", "ya29.token")
        .build()
        .unwrap();
    c.send(
        "joe@example.org",
        ["you@example.net"],
        "Subject: oauth\r\n\r\nx\r\n",
    )
    .await
    .unwrap();
    assert_eq!(s.sink.take_messages()[0].auth.as_deref(), Some("joe@example.org"));
}

#[tokio::test]
async fn the_strongest_offered_mechanism_is_chosen_and_secrets_never_show() {
    let s = setup(submission).await;
    let (lines, rec) = recorder();
    let b = s
        .client("localhost", Tls::StartTls)
        .credentials("joe", PASSWORD)
        .transcript(rec);
    assert!(!format!("{b:?}").contains(PASSWORD));
    let c = b.build().unwrap();
    c.send("joe@example.org", ["you@example.net"], "x").await.unwrap();
    c.shutdown().await;
    let l = lines.lock().unwrap().join("\n");
    assert!(
        l.contains("C: STARTTLS") && l.contains("*  TLS established"),
        "{l}"
    );
    assert!(
        l.contains("C: AUTH CRAM-MD5"),
        "CRAM-MD5 is the strongest offered: {l}"
    );
    assert!(l.contains("C: ***"), "{l}");
    assert!(
        !l.contains(PASSWORD) && !l.contains("am9l"),
        "no secret or base64 of it in: {l}"
    );
    // EHLO is sent again inside TLS, and AUTH is offered only there.
    assert_eq!(l.matches("C: EHLO").count(), 2, "{l}");
}

#[tokio::test]
async fn implicit_tls() {
    let s = setup(|b| b.implicit_tls(true).user("joe", PASSWORD)).await;
    let c = s
        .client("localhost", Tls::Implicit)
        .credentials("joe", PASSWORD)
        .build()
        .unwrap();
    c.send("joe@example.org", ["you@example.net"], "x").await.unwrap();
    let m = s.sink.messages().pop().unwrap();
    assert!(m.tls);
    assert_eq!(m.auth.as_deref(), Some("joe"));
}

#[tokio::test]
async fn opportunistic_upgrades_when_offered() {
    let s = setup(|b| b).await;
    let c = s.client("localhost", Tls::Opportunistic).build().unwrap();
    c.send("a@example.org", ["b@example.net"], "x").await.unwrap();
    assert!(s.sink.messages()[0].tls);
}

#[tokio::test]
async fn required_starttls_not_offered_is_refused_before_mail() {
    let sink = Sink::start().await.unwrap();
    let (lines, rec) = recorder();
    let c = Client::builder("127.0.0.1")
        .port(sink.addr().port())
        .tls(Tls::StartTls)
        .credentials("joe", PASSWORD)
        .transcript(rec)
        .build()
        .unwrap();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    assert_eq!(e.stage(), Stage::StartTls);
    assert!(e.is_config(), "{e:?}");
    assert!(
        e.to_string()
            .contains("TLS is required but the server does not offer STARTTLS"),
        "{e}"
    );
    let l = lines.lock().unwrap().join("\n");
    assert!(
        !l.contains("MAIL FROM") && !l.contains("AUTH"),
        "nothing private was sent: {l}"
    );
    assert_eq!(sink.delivered(), 0);
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    let s = setup(|b| b).await;
    let other = pki(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let wrong_ca = dir.path().join("other-ca.pem");
    std::fs::write(&wrong_ca, other.ca_pem).unwrap();
    let c = Client::builder("localhost")
        .port(s.sink.addr().port())
        .tls(Tls::StartTls)
        .ca_file(&wrong_ca)
        .build()
        .unwrap();
    let e = c.send("a@example.org", ["b@example.net"], "x").await.unwrap_err();
    assert_eq!((e.stage(), e.kind()), (Stage::StartTls, ErrorKind::Permanent));
    assert!(e.is_config());
    assert!(e.to_string().contains("not signed by a trusted CA"), "{e}");
    assert_eq!(s.sink.delivered(), 0);
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    let s = setup_with(&pki(&["mail.example.org"]), |b| b.implicit_tls(true)).await;
    let e = s
        .client("127.0.0.1", Tls::Implicit)
        .build()
        .unwrap()
        .send("a@example.org", ["b@example.net"], "x")
        .await
        .unwrap_err();
    assert_eq!((e.stage(), e.kind()), (Stage::Tls, ErrorKind::Permanent));
    assert!(e.to_string().contains("not for this host name"), "{e}");
    // Only an explicit, loudly named switch accepts it.
    let c = s
        .client("127.0.0.1", Tls::Implicit)
        .dangerously_skip_certificate_verification(true)
        .build()
        .unwrap();
    c.send("a@example.org", ["b@example.net"], "x").await.unwrap();
}

#[tokio::test]
async fn credentials_over_cleartext_need_explicit_permission() {
    let sink = Sink::builder()
        .user("joe", PASSWORD)
        .auth_before_tls(true)
        .start()
        .await
        .unwrap();
    let builder = || {
        Client::builder("127.0.0.1")
            .port(sink.addr().port())
            .credentials("joe", PASSWORD)
    };
    // Opportunistic TLS, and the server offers no STARTTLS: refused at AUTH, nothing sent.
    let e = builder()
        .tls(Tls::Opportunistic)
        .build()
        .unwrap()
        .send("a@example.org", ["b@example.net"], "x")
        .await
        .unwrap_err();
    assert_eq!(e.stage(), Stage::Auth);
    assert!(
        e.to_string()
            .contains("refusing to send credentials over an unencrypted connection"),
        "{e}"
    );
    // TLS off: refused when building.
    let e = builder().tls(Tls::None).build().err().unwrap();
    assert!(e.to_string().contains("clear text"), "{e}");
    // Allowed explicitly: it works.
    let c = builder()
        .tls(Tls::None)
        .allow_insecure_auth(true)
        .build()
        .unwrap();
    c.send("a@example.org", ["b@example.net"], "x").await.unwrap();
    assert_eq!(sink.messages()[0].auth.as_deref(), Some("joe"));
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_advice() {
    let s = setup(submission).await;
    let c = s
        .client("localhost", Tls::StartTls)
        .credentials("joe", "wrong")
        .build()
        .unwrap();
    let e = c
        .send("joe@example.org", ["you@example.net"], "x")
        .await
        .unwrap_err();
    assert!(e.is_auth_refused());
    assert_eq!((e.stage(), e.kind()), (Stage::Auth, ErrorKind::Permanent));
    let text = e.to_string();
    assert!(
        text.starts_with("the server refused the login: 535 5.7.8"),
        "{text}"
    );
    assert!(text.contains("the user name or password is wrong"), "{text}");
    assert!(!text.contains("wrong\u{0}") && !format!("{e:?}").contains(PASSWORD));
}

#[tokio::test]
async fn oauth2_tokens_are_fetched_per_connection() {
    let s = setup(submission).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let n = calls.clone();
    let c = s
        .client("localhost", Tls::StartTls)
        .idle_timeout(Duration::from_millis(50))
        .oauth2_token_source("joe@example.org", move || {
            n.fetch_add(1, Ordering::SeqCst);
            async { Ok("ya29.token".to_string()) }
        })
        .build()
        .unwrap();
    c.send("joe@example.org", ["you@example.net"], "x").await.unwrap();
    common::wait_until("the idle connection to close", || c.stats().connections == 0).await;
    c.send("joe@example.org", ["you@example.net"], "y").await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one fresh token per connection");
    let failing = s
        .client("localhost", Tls::StartTls)
        .oauth2_token_source("joe@example.org", || async {
            Err("refresh token revoked".to_string())
        })
        .build()
        .unwrap();
    let e = failing
        .send("joe@example.org", ["you@example.net"], "x")
        .await
        .unwrap_err();
    assert_eq!(e.stage(), Stage::Auth);
    assert!(e.to_string().contains("refresh token revoked"), "{e}");
}

#[tokio::test]
async fn probe_reports_tls_auth_and_extensions_and_sends_nothing() {
    let s = setup(submission).await;
    let c = s
        .client("localhost", Tls::StartTls)
        .credentials("joe", PASSWORD)
        .build()
        .unwrap();
    let r = c.probe().await.unwrap();
    assert_eq!(r.greeting.code().value(), 220);
    let tls = r.tls.expect("STARTTLS was used");
    assert_eq!(tls.version, "TLS 1.3", "{tls}");
    assert!(r.authenticated.is_some());
    assert!(
        r.capabilities.pipelining() && !r.capabilities.starttls(),
        "{}",
        r.capabilities
    );
    assert!(!r.capabilities.auth_mechanisms().is_empty());
    assert_eq!(s.sink.delivered(), 0);

    // A wrong password: the same error a send would meet.
    let c = s
        .client("localhost", Tls::StartTls)
        .credentials("joe", "wrong")
        .build()
        .unwrap();
    let e = c.probe().await.unwrap_err();
    assert_eq!((e.kind(), e.stage()), (ErrorKind::Permanent, Stage::Auth), "{e}");
    assert!(e.is_auth_refused(), "{e}");

    // Implicit TLS to a STARTTLS port: the handshake fails, and says so.
    let e = s
        .client("localhost", Tls::Implicit)
        .build()
        .unwrap()
        .probe()
        .await
        .unwrap_err();
    assert_eq!(e.stage(), Stage::Tls, "{e}");
}

/// Issue 11, item 7: a self-signed server certificate marked CA:TRUE, given with --ca-file, is
/// refused by webpki as "CaUsedAsEndEntity"; the advice must say what is wrong with that file
/// (not to pass --ca-file, which the user already did) and what to do instead.
#[tokio::test]
async fn ca_file_holding_the_servers_own_ca_certificate_is_explained() {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    let sink = Sink::builder()
        .tls_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())
        .unwrap()
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("server.pem");
    std::fs::write(&ca, cert.pem()).unwrap();
    let e = Client::builder("localhost")
        .port(sink.addr().port())
        .tls(Tls::StartTls)
        .ca_file(&ca)
        .build()
        .unwrap()
        .send("a@example.org", ["b@example.net"], "x")
        .await
        .unwrap_err();
    let text = e.to_string();
    assert!(e.is_config(), "{e:?}");
    assert!(text.contains("CaUsedAsEndEntity"), "{text}");
    assert!(
        text.contains("presents a CA certificate (CA:TRUE) as its own"),
        "{text}"
    );
    assert!(!text.contains("pass its certificate (--ca-file)"), "{text}");
}

/// A CA file that is too large (or a device without end) or not PEM is refused when the client
/// is built, with the file named.
#[test]
fn an_unusable_ca_file_is_refused_when_the_client_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let huge = dir.path().join("huge.pem");
    std::fs::File::create(&huge).unwrap().set_len(5 << 20).unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    for (path, says) in [
        (PathBuf::from("/dev/zero"), "larger than 4 MiB"),
        (huge, "larger than 4 MiB"),
        (empty, "no PEM certificate"),
        (dir.path().join("missing.pem"), "cannot read it"),
    ] {
        let e = Client::builder("localhost")
            .tls(Tls::StartTls)
            .ca_file(&path)
            .build()
            .err()
            .unwrap_or_else(|| panic!("{} accepted", path.display()));
        let text = e.to_string();
        assert!(
            text.contains(says) && text.contains(&path.display().to_string()),
            "{text}"
        );
    }
    // The certificates of a good file, as the library's helper gives them.
    let p = pki(&["localhost"]);
    let good = dir.path().join("ca.pem");
    std::fs::write(&good, &p.ca_pem).unwrap();
    assert_eq!(squall::tls_ca_certificates(&good).unwrap().len(), 1);
    // A pipe (what `--ca-file <(…)` gives) is read like a file.
    let fifo = dir.path().join("ca.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let writer = {
        let (fifo, pem) = (fifo.clone(), p.ca_pem.clone());
        std::thread::spawn(move || std::fs::write(fifo, pem).unwrap())
    };
    assert_eq!(squall::tls_ca_certificates(&fifo).unwrap().len(), 1);
    writer.join().unwrap();
}
