//! Secure submission against real servers: aiosmtpd with STARTTLS or implicit TLS and required
//! AUTH, and a Postfix daemon (STARTTLS, CHUNKING, SASL AUTH, implicit TLS). Certificates come
//! from a private CA that `scripts/test.sh` makes with openssl.

use squall::{ErrorKind, Mechanism, Stage, Tls};

mod common;
use common::peers::{aiosmtpd_message, peer, postfix_message, unique};
use common::recorder;

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn aiosmtpd_starttls_with_required_auth() {
    let Some(p) = peer("AIOSMTPD_STARTTLS") else {
        return;
    };
    let to = unique("auth");
    let c = p
        .secure(Tls::StartTls)
        .credentials("test", "test")
        .build()
        .unwrap();
    c.send("sender@example.org", [to.as_str()], "Subject: tls\r\n\r\nhi\r\n")
        .await
        .unwrap();
    let (eml, meta) = aiosmtpd_message(&p, &to);
    assert_eq!(eml, b"Subject: tls\r\n\r\nhi\r\n");
    assert_eq!(meta["tls"], true);
    assert_eq!(meta["auth_user"], "test");

    // Without credentials the server refuses the sender, and says so.
    let e = p
        .secure(Tls::StartTls)
        .build()
        .unwrap()
        .send("sender@example.org", [to.as_str()], "x")
        .await
        .unwrap_err();
    assert_eq!((e.stage(), e.kind()), (Stage::Mail, ErrorKind::Permanent));
    assert!(e.to_string().contains("530"), "{e}");
    assert!(e.hint().contains("requires authentication"), "{}", e.hint());

    // A wrong password.
    let e = p
        .secure(Tls::StartTls)
        .credentials("test", "nope")
        .build()
        .unwrap()
        .send("sender@example.org", [to.as_str()], "x")
        .await
        .unwrap_err();
    assert!(e.is_auth_refused(), "{e}");
    assert_eq!(e.reply().unwrap().code().value(), 535);
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn aiosmtpd_implicit_tls() {
    let Some(p) = peer("AIOSMTPD_SMTPS") else { return };
    let to = unique("smtps");
    let c = p
        .secure(Tls::Implicit)
        .credentials("test", "test")
        .build()
        .unwrap();
    c.send(
        "sender@example.org",
        [to.as_str()],
        "Subject: smtps\r\n\r\nhi\r\n",
    )
    .await
    .unwrap();
    let (_, meta) = aiosmtpd_message(&p, &to);
    assert_eq!(meta["auth_user"], "test");
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_server_certificate_from_an_unknown_ca_is_refused() {
    let Some(p) = peer("AIOSMTPD_STARTTLS") else {
        return;
    };
    let other = common::pki(&["localhost"]);
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("other.pem");
    std::fs::write(&ca, other.ca_pem).unwrap();
    let (lines, rec) = recorder();
    let c = p
        .secure(Tls::StartTls)
        .ca_file(&ca)
        .credentials("test", "test")
        .transcript(rec)
        .build()
        .unwrap();
    let e = c
        .send("sender@example.org", [unique("x").as_str()], "x")
        .await
        .unwrap_err();
    assert_eq!((e.stage(), e.kind()), (Stage::StartTls, ErrorKind::Permanent));
    assert!(e.to_string().contains("not signed by a trusted CA"), "{e}");
    let l = lines.lock().unwrap().join("\n");
    assert!(
        !l.contains("AUTH") && !l.contains("MAIL"),
        "nothing private after a failed handshake: {l}"
    );
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn cleartext_auth_is_refused_unless_allowed() {
    let Some(p) = peer("AIOSMTPD_CLEARAUTH") else {
        return;
    };
    let to = unique("clear");
    let (lines, rec) = recorder();
    let c = p
        .client()
        .tls(Tls::Opportunistic)
        .credentials("test", "test")
        .transcript(rec)
        .build()
        .unwrap();
    let e = c
        .send("sender@example.org", [to.as_str()], "x")
        .await
        .unwrap_err();
    assert_eq!(e.stage(), Stage::Auth);
    assert!(e.is_config());
    assert!(
        !lines.lock().unwrap().iter().any(|l| l.starts_with("C: AUTH")),
        "AUTH was never sent"
    );
    let c = p
        .client()
        .tls(Tls::None)
        .credentials("test", "test")
        .allow_insecure_auth(true)
        .build()
        .unwrap();
    c.send("sender@example.org", [to.as_str()], "Subject: clear\r\n\r\nx\r\n")
        .await
        .unwrap();
    let (_, meta) = aiosmtpd_message(&p, &to);
    assert_eq!(meta["auth_user"], "test");
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn required_starttls_against_a_server_without_it_sends_nothing() {
    let Some(p) = peer("SMTP_SINK") else { return };
    let (lines, rec) = recorder();
    let c = p.client().tls(Tls::StartTls).transcript(rec).build().unwrap();
    let e = c
        .send("sender@example.org", [unique("notls").as_str()], "x")
        .await
        .unwrap_err();
    assert_eq!(e.stage(), Stage::StartTls);
    assert!(e.to_string().contains("does not offer STARTTLS"), "{e}");
    c.shutdown().await;
    let l = lines.lock().unwrap();
    assert!(!l.iter().any(|x| x.starts_with("C: MAIL")), "{l:?}");
    assert_eq!(
        l.last().map(String::as_str),
        Some("S: 221 Bye"),
        "it says QUIT politely: {l:?}"
    );
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn postfix_mx_starttls_chunking_and_partial_delivery() {
    let Some(p) = peer("POSTFIX_MX") else { return };
    let ok = unique("pf-ok");
    let bad = unique("reject-pf");
    let (lines, rec) = recorder();
    let c = p.secure(Tls::StartTls).transcript(rec).build().unwrap();
    let body = "Subject: via postfix\r\n\r\n.leading dot\r\nend\r\n";
    let r = c
        .send("sender@example.org", [ok.as_str(), bad.as_str()], body)
        .await
        .unwrap();
    assert_eq!(r.accepted.len(), 1);
    assert_eq!(r.rejected[0].reply.code().value(), 550);
    assert!(r.queue_id.is_some(), "{:?}", r.reply);
    let l = lines.lock().unwrap().join("\n");
    assert!(l.contains("*  TLS established"), "{l}");
    assert!(l.contains("C: BDAT "), "Postfix offers CHUNKING: {l}");
    let stored = postfix_message(&p, &ok);
    let (headers, content) = stored.split_once("\n\n").unwrap();
    assert!(headers.contains("Subject: via postfix\n"), "{stored}");
    assert!(headers.contains("with ESMTPS"), "Postfix recorded TLS: {stored}");
    assert_eq!(content, ".leading dot\nend\n");
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn postfix_submission_with_each_mechanism() {
    let Some(p) = peer("POSTFIX_SUBMISSION") else {
        return;
    };
    for mech in ["PLAIN", "LOGIN", "CRAM-MD5"] {
        let to = unique(&format!("sub-{}", mech.to_lowercase()));
        let c = p
            .secure(Tls::StartTls)
            .credentials("test", "test")
            .mechanism(Mechanism::from_name(mech))
            .build()
            .unwrap();
        c.send(
            "sender@example.org",
            [to.as_str()],
            format!("Subject: {mech}\r\n\r\nx\r\n"),
        )
        .await
        .unwrap_or_else(|e| panic!("{mech}: {e}"));
        let stored = postfix_message(&p, &to);
        assert!(stored.contains(&format!("Subject: {mech}\n")), "{stored}");
        assert!(
            stored.contains("with ESMTPSA"),
            "authenticated inside TLS: {stored}"
        );
    }
    let e = p
        .secure(Tls::StartTls)
        .credentials("test", "wrong")
        .build()
        .unwrap()
        .send("sender@example.org", [unique("x").as_str()], "x")
        .await
        .unwrap_err();
    assert!(e.is_auth_refused(), "{e}");
    assert!(e.to_string().contains("535 5.7.8"), "{e}");
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn postfix_submission_offers_auth_only_inside_tls() {
    let Some(p) = peer("POSTFIX_SUBMISSION") else {
        return;
    };
    let c = p
        .client()
        .tls(Tls::None)
        .credentials("test", "test")
        .allow_insecure_auth(true)
        .build()
        .unwrap();
    let e = c
        .send("sender@example.org", [unique("x").as_str()], "x")
        .await
        .unwrap_err();
    assert_eq!(e.stage(), Stage::Auth);
    assert!(
        e.to_string()
            .contains("many servers offer it only after STARTTLS"),
        "{e}"
    );
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn postfix_implicit_tls() {
    let Some(p) = peer("POSTFIX_SMTPS") else { return };
    let to = unique("pf-smtps");
    let c = p
        .secure(Tls::Implicit)
        .credentials("test", "test")
        .build()
        .unwrap();
    c.send("sender@example.org", [to.as_str()], "Subject: smtps\r\n\r\nx\r\n")
        .await
        .unwrap();
    assert!(postfix_message(&p, &to).contains("Subject: smtps\n"));
}

/// Issue 10, item 1: the Postfix MX port with its private CA and no CA file, as `squall` sends to
/// port 25 by default (opportunistic TLS): delivered, encrypted, and reported unverified.
#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn postfix_mx_opportunistic_tls_with_an_unknown_ca() {
    let Some(p) = peer("POSTFIX_MX") else { return };
    let to = unique("pf-opportunistic");
    let (lines, rec) = recorder();
    let c = squall::Client::builder("localhost")
        .port(p.port)
        .tls(Tls::Opportunistic)
        .transcript(rec)
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    let r = c
        .send(
            "sender@example.org",
            [to.as_str()],
            "Subject: opportunistic\r\n\r\nx\r\n",
        )
        .await
        .unwrap();
    let tls = r.tls.expect("encrypted");
    assert!(!tls.is_verified(), "{tls}");
    assert!(tls.to_string().contains("NOT verified"), "{tls}");
    let l = lines.lock().unwrap().join("\n");
    assert!(l.contains("TLS established (certificate not verified)"), "{l}");
    let stored = postfix_message(&p, &to);
    assert!(stored.contains("with ESMTPS"), "Postfix recorded TLS: {stored}");
}
