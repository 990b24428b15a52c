//! Shared by the integration tests.
#![allow(dead_code)]

pub(crate) mod oracle;
pub(crate) mod peers;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

/// A private CA and a server certificate it signed.
pub(crate) struct TestPki {
    pub(crate) ca_pem: String,
    pub(crate) cert_pem: String,
    pub(crate) key_pem: String,
}

/// A fresh CA, and a certificate for `names` (host names or IP addresses) signed by it.
pub(crate) fn pki(names: &[&str]) -> TestPki {
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "squall test CA");
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
    let cert = params.signed_by(&key, &ca).unwrap();
    TestPki {
        ca_pem: ca.pem(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    }
}

/// Messages that break naive clients: dots at line starts, a lone dot, no final line end, an
/// empty body, 8-bit UTF-8, the longest legal line, bare LF and CR line ends.
pub(crate) fn corpus() -> Vec<(&'static str, Vec<u8>)> {
    let long = format!("Subject: long\r\n\r\n{}\r\n", "x".repeat(998));
    vec![
        (
            "leading dots",
            b"Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\n".to_vec(),
        ),
        (
            "lone dot",
            b"Subject: lone\r\n\r\nbefore\r\n.\r\nafter\r\n".to_vec(),
        ),
        (
            "no final newline",
            b"Subject: open\r\n\r\nno newline at the end".to_vec(),
        ),
        ("empty", Vec::new()),
        (
            "utf-8",
            "Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=\r\n\r\nGrüße, 你好, ✓\r\n"
                .as_bytes()
                .to_vec(),
        ),
        ("998-octet line", long.into_bytes()),
        ("bare line ends", b"Subject: lf\n\nline\n.dot\rcr\n".to_vec()),
    ]
}

/// A transcript callback, and the lines it collects (each as `C: …`, `S: …`).
pub(crate) fn recorder() -> (
    Arc<Mutex<Vec<String>>>,
    impl Fn(&squall::TranscriptLine) + Send + Sync + 'static,
) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = lines.clone();
    (lines, move |x: &squall::TranscriptLine| {
        l.lock().unwrap().push(x.to_string())
    })
}

/// Waits until `done()` holds, looking every 5 ms: for a state another task reaches (a pooled
/// connection closed, a file written), instead of sleeping for a guessed time that a loaded
/// machine can exceed. Panics naming `what` after 30 s, which only a hang reaches.
pub(crate) async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "still waiting after 30 s for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
