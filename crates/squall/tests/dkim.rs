//! DKIM signatures checked by dkimpy, a verifier squall did not write: every algorithm and
//! canonicalization, messages built, raw and from files, delivered by aiosmtpd and by Postfix.
#![cfg(feature = "dkim")]

use squall::dkim::Canonicalization::{self, Relaxed, Simple};
use squall::{Body, DkimKey, DkimSigner, Message, Tls};

mod common;
use common::peers::{aiosmtpd_message, dkim_verifier, dkim_verify, peer, postfix_message, unique};

fn key(name: &str) -> DkimKey {
    DkimKey::from_pem_file(format!("{}/tests/data/dkim/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// What trips canonicalization: folded and repeated fields, odd spacing and case, trailing
/// whitespace, empty lines inside and at the end, leading dots, LF line ends, 8-bit text.
fn tricky(to: &str) -> String {
    format!(
        "From:   Ann  Example <ann@example.org>\nTo: {to}\nSubject: a   folded\n\tsubject  \nX-Extra: x\nsubject: a second one\nDate: Sun, 29 Nov 2026 21:00:00 +0000\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n.leading dot\n  indented   with\tspaces  \n\nGrüße\n\n\n"
    )
}

const SELECTORS: [(&str, &str); 2] = [("rsa2048.pem", "rsa"), ("ed25519.pem", "ed")];

fn records() -> Vec<(&'static str, &'static str, String)> {
    SELECTORS
        .iter()
        .map(|(file, sel)| (*sel, "example.org", key(file).dns_record()))
        .collect()
}

fn signer(file: &str, selector: &str, c: (Canonicalization, Canonicalization)) -> DkimSigner {
    DkimSigner::new(key(file), "example.org", selector)
        .unwrap()
        .canonicalization(c.0, c.1)
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn every_algorithm_and_canonicalization_verifies_after_aiosmtpd() {
    let (Some(p), Some(verifier)) = (peer("AIOSMTPD"), dkim_verifier()) else {
        return;
    };
    let records = records();
    for c in [
        (Relaxed, Relaxed),
        (Simple, Simple),
        (Relaxed, Simple),
        (Simple, Relaxed),
    ] {
        let to = unique("dkim");
        let mut b = p.client();
        for (file, sel) in SELECTORS {
            b = b.dkim(signer(file, sel, c));
        }
        let client = b.build().unwrap();
        client
            .send("ann@example.org", [to.as_str()], tricky(&to))
            .await
            .unwrap();
        let (stored, _) = aiosmtpd_message(&p, &to);
        let verdicts = dkim_verify(&verifier, &stored, &records);
        assert_eq!(
            verdicts,
            ["pass", "pass"],
            "{c:?}:\n{}",
            String::from_utf8_lossy(&stored)
        );

        // The verifier does check: one changed byte of the body fails both signatures.
        let text = String::from_utf8(stored).unwrap().replacen("Grüße", "Grüsse", 1);
        let verdicts = dkim_verify(&verifier, text.as_bytes(), &records);
        assert!(
            verdicts.iter().all(|v| v.starts_with("fail")),
            "{c:?}: {verdicts:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn built_messages_and_files_verify_and_a_second_from_breaks_the_signature() {
    let (Some(p), Some(verifier)) = (peer("AIOSMTPD"), dkim_verifier()) else {
        return;
    };
    let records = records();
    let client = p
        .client()
        .dkim(signer("ed25519.pem", "ed", (Relaxed, Relaxed)))
        .build()
        .unwrap();

    let to = unique("dkim-msg");
    let m = Message::builder()
        .from("Ann <ann@example.org>")
        .to(to.as_str())
        .subject("Built")
        .text("Built with squall.\n")
        .attach(squall::Attachment::new("a.txt", "text/plain", b"attached\n".to_vec()).unwrap())
        .build()
        .unwrap();
    client.send_message(&m).await.unwrap();
    let (stored, _) = aiosmtpd_message(&p, &to);
    assert_eq!(dkim_verify(&verifier, &stored, &records), ["pass"]);

    // From is oversigned: a From added in transit is caught.
    let mut forged = b"From: mallory@example.net\r\n".to_vec();
    forged.extend_from_slice(&stored);
    assert!(dkim_verify(&verifier, &forged, &records)[0].starts_with("fail"));

    let to = unique("dkim-file");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, tricky(&to)).unwrap();
    let body = Body::file(&path).await.unwrap();
    client.send("ann@example.org", [to.as_str()], body).await.unwrap();
    let (stored, _) = aiosmtpd_message(&p, &to);
    assert_eq!(dkim_verify(&verifier, &stored, &records), ["pass"]);
}

/// Postfix adds its own fields (Received, Return-Path, Delivered-To) and stores LF line ends:
/// the signature must still hold on what it delivers.
#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_signature_survives_postfix() {
    let (Some(p), Some(verifier)) = (peer("POSTFIX_MX"), dkim_verifier()) else {
        return;
    };
    let records = records();
    for c in [(Relaxed, Relaxed), (Simple, Simple)] {
        let to = unique("dkim-pf");
        let client = p
            .secure(Tls::StartTls)
            .dkim(signer("rsa2048.pem", "rsa", c))
            .dkim(signer("ed25519.pem", "ed", c))
            .build()
            .unwrap();
        client
            .send("ann@example.org", [to.as_str()], tricky(&to))
            .await
            .unwrap();
        let stored = postfix_message(&p, &to).replace('\n', "\r\n");
        assert!(stored.contains("Received:"), "{stored}");
        let verdicts = dkim_verify(&verifier, stored.as_bytes(), &records);
        assert_eq!(verdicts, ["pass", "pass"], "{c:?}:\n{stored}");
    }
}
