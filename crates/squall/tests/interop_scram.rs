//! SCRAM-SHA-256 (RFC 7677) against Postfix with Cyrus SASL (`libsasl2-modules` ships the SCRAM
//! plugin), on the submission port `scripts/test.sh` starts (`SQUALL_PEER_POSTFIX_SUBMISSION`):
//! chosen over PLAIN, LOGIN and CRAM-MD5 when offered, with the server's signature checked.
//! A server with a wrong signature is in the core's transcript tests
//! (`auth_scram_signature_mismatch.txt`): no real server can be made to send one.

use squall::{Mechanism, Tls};

mod common;
use common::peers::{peer, postfix_message, unique};
use common::recorder;

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn postfix_scram_sha256_is_preferred_and_verified() {
    let Some(p) = peer("POSTFIX_SUBMISSION") else {
        return;
    };
    let to = unique("sub-scram");
    let (lines, rec) = recorder();
    let c = p
        .secure(Tls::StartTls)
        .credentials("test", "test")
        .transcript(rec)
        .build()
        .unwrap();
    c.send("sender@example.org", [to.as_str()], "Subject: scram\r\n\r\nx\r\n")
        .await
        .unwrap();
    let l = lines.lock().unwrap().join("\n");
    assert!(l.contains("AUTH PLAIN LOGIN CRAM-MD5 SCRAM-SHA-256"), "{l}");
    assert!(l.contains("C: AUTH SCRAM-SHA-256 ***"), "SCRAM is preferred: {l}");
    assert!(!l.contains("SCRAM-SHA-256-PLUS"), "{l}");
    // Neither the client's first message nor its proof is shown.
    assert!(!l.contains("n,,n=test"), "{l}");
    assert!(l.contains("S: 235 "), "{l}");
    let stored = postfix_message(&p, &to);
    assert!(stored.contains("Subject: scram\n"), "{stored}");
    assert!(
        stored.contains("with ESMTPSA"),
        "authenticated inside TLS: {stored}"
    );
}

/// A password outside ASCII goes through SCRAM too, prepared with SASLprep (RFC 4013), which
/// leaves this composed form as it is: Cyrus derives the same key from what it stored.
#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn postfix_scram_sha256_with_a_non_ascii_password() {
    let Some(p) = peer("POSTFIX_SUBMISSION") else {
        return;
    };
    let to = unique("sub-scram-intl");
    let (lines, rec) = recorder();
    let c = p
        .secure(Tls::StartTls)
        .credentials("intl", "p\u{e4}ssw\u{f6}rd")
        .transcript(rec)
        .build()
        .unwrap();
    c.send("sender@example.org", [to.as_str()], "Subject: intl\r\n\r\nx\r\n")
        .await
        .unwrap();
    let l = lines.lock().unwrap().join("\n");
    assert!(l.contains("C: AUTH SCRAM-SHA-256 ***"), "SCRAM, not PLAIN: {l}");
    assert!(l.contains("S: 235 "), "{l}");
    assert!(postfix_message(&p, &to).contains("Subject: intl\n"));
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn postfix_scram_sha256_wrong_password() {
    let Some(p) = peer("POSTFIX_SUBMISSION") else {
        return;
    };
    let e = p
        .secure(Tls::StartTls)
        .credentials("test", "wrong")
        .mechanism(Mechanism::from_name("SCRAM-SHA-256"))
        .build()
        .unwrap()
        .send("sender@example.org", [unique("x").as_str()], "x")
        .await
        .unwrap_err();
    assert!(e.is_auth_refused(), "{e}");
    assert!(e.to_string().contains("535 5.7.8"), "{e}");
}
