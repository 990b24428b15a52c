use super::*;
use crate::body::{Body, Source};

fn key(name: &str) -> Result<DkimKey, Error> {
    DkimKey::from_pem_file(format!("{}/tests/data/dkim/{name}", env!("CARGO_MANIFEST_DIR")))
}

const MESSAGE: &[u8] = b"From: A <a@example.org>\nTo: b@example.net\nSubject: hi\n\nHello.\n";

#[test]
fn rsa_and_ed25519_keys_load_and_publish_their_record() {
    for (file, alg, k) in [
        ("rsa2048.pem", "rsa-sha256", "rsa"),
        ("rsa2048-pkcs1.pem", "rsa-sha256", "rsa"),
        ("ed25519.pem", "ed25519-sha256", "ed25519"),
    ] {
        let key = key(file).unwrap();
        assert_eq!(key.algorithm(), alg, "{file}");
        let record = key.dns_record();
        assert!(record.starts_with(&format!("v=DKIM1; k={k}; p=")), "{record}");
        assert!(!format!("{key:?}").contains("PRIVATE"), "Debug shows no key");
    }
    // The RSA record is a SubjectPublicKeyInfo (what `openssl pkey -pubout` prints).
    let record = key("rsa2048.pem").unwrap().dns_record();
    assert!(
        record.contains("p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"),
        "{record}"
    );
}

#[test]
fn unusable_keys_say_why() {
    let e = key("rsa1024.pem").unwrap_err().to_string();
    assert!(
        e.contains("under 2048 bits") && e.contains("openssl genpkey"),
        "{e}"
    );
    let e = key("p256.pem").unwrap_err().to_string();
    assert!(e.contains("not a usable RSA or Ed25519 key"), "{e}");
    let e = key("missing.pem").unwrap_err().to_string();
    assert!(
        e.contains("cannot read the DKIM key") && e.contains("missing.pem"),
        "{e}"
    );
    let e = DkimKey::from_pem(b"not pem").unwrap_err().to_string();
    assert!(e.contains("expected a PRIVATE KEY"), "{e}");
}

#[test]
fn signing_prepends_the_field_and_normalises_the_message() {
    let s = DkimSigner::new(key("ed25519.pem").unwrap(), "example.org", "s1").unwrap();
    let signed = s.sign(MESSAGE).unwrap();
    let text = String::from_utf8(signed).unwrap();
    let (field, rest) = text.split_at(text.find("\r\nFrom:").unwrap() + 2);
    assert!(field.starts_with("DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;"));
    assert_eq!(rest.as_bytes(), squall_proto::data::normalize(MESSAGE));
    // bh is the SHA-256 of the relaxed body "Hello.\r\n".
    let bh = STANDARD_B64.encode(key::sha256(b"Hello.\r\n"));
    assert!(
        field.replace("\r\n\t", " ").contains(&format!("bh={bh};")),
        "{field}"
    );
}

use base64::Engine;
use base64::engine::general_purpose::STANDARD as STANDARD_B64;

#[test]
fn bodies_are_signed_as_they_will_be_sent() {
    let s = DkimSigner::new(key("rsa2048.pem").unwrap(), "example.org", "s1").unwrap();
    let signers = [s];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.eml");
    std::fs::write(&path, MESSAGE).unwrap();
    let file = Body::open(&path).unwrap();
    let before = file.size().unwrap();
    let signed = sign_body(&signers, file).unwrap();
    let field_len = signed.size().unwrap() - before;
    assert!(field_len > 400, "an RSA-2048 signature field is counted in SIZE");
    let Source::File(f) = &signed.0 else {
        panic!("still a file")
    };
    assert!(f.prefix.starts_with(b"DKIM-Signature:") && f.prefix.len() as u64 == field_len);

    let e = sign_body(&signers, Body::from_reader(&b"x"[..]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("stream can be read only once"), "{e}");

    // A file sent byte for byte (binary) must not need its line ends rewritten.
    let long = format!("From: a@example.org\n\n{}\n", "x".repeat(1200));
    std::fs::write(&path, long).unwrap();
    let e = sign_body(&signers, Body::open(&path).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("convert its line ends to CRLF"), "{e}");
    std::fs::write(
        &path,
        format!("From: a@example.org\r\n\r\n{}\r\n", "x".repeat(1200)),
    )
    .unwrap();
    sign_body(&signers, Body::open(&path).unwrap()).unwrap();

    let e = signers[0]
        .sign(b"To: b@example.net\r\n\r\nx")
        .unwrap_err()
        .to_string();
    assert!(e.contains("no From header field"), "{e}");
}

#[test]
fn two_signers_sign_the_same_message_independently() {
    let rsa = DkimSigner::new(key("rsa2048.pem").unwrap(), "example.org", "r").unwrap();
    let ed = DkimSigner::new(key("ed25519.pem").unwrap(), "example.org", "e").unwrap();
    let out = sign_body(&[rsa, ed], Body::from(MESSAGE)).unwrap();
    let text = String::from_utf8(out.as_bytes().unwrap().to_vec()).unwrap();
    assert_eq!(text.matches("DKIM-Signature:").count(), 2);
    assert!(text.starts_with("DKIM-Signature: v=1; a=rsa-sha256;"));
}
