//! [`DkimKey`]: a private key read from PEM, signing with the crypto provider the features chose
//! (the one rustls uses).

use std::fmt;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

#[cfg(feature = "aws-lc-rs")]
use aws_lc_rs as crypto;
#[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
use ring as crypto;

use crypto::rand::SystemRandom;
use crypto::signature::{Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};

use crate::error::Error;

/// A DKIM private key: RSA (2048 to 8192 bits, `rsa-sha256`) or Ed25519 (`ed25519-sha256`,
/// RFC 8463).
///
/// ```no_run
/// let key = squall::DkimKey::from_pem_file("dkim.key")?;
/// // Publish this as TXT at SELECTOR._domainkey.DOMAIN:
/// println!("{}", key.dns_record());
/// # Ok::<(), squall::Error>(())
/// ```
///
/// Make one with OpenSSL: `openssl genpkey -algorithm ed25519 -out dkim.key`, or
/// `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out dkim.key`. Many receivers
/// do not check Ed25519 signatures yet: sign with both kinds (two signers) to be safe.
pub struct DkimKey(Kind);

enum Kind {
    Rsa(RsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl DkimKey {
    /// A key from PEM: `PRIVATE KEY` (PKCS #8, RSA or Ed25519) or `RSA PRIVATE KEY` (PKCS #1).
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        Self::parse(pem).map_err(Error::input)
    }

    /// A key from a PEM file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        std::fs::read(path)
            .map_err(|e| format!("cannot read the DKIM key {}: {e}", path.display()))
            .and_then(|pem| Self::parse(&pem).map_err(|e| format!("{}: {e}", path.display())))
            .map_err(Error::input)
    }

    fn parse(pem: &[u8]) -> Result<Self, String> {
        let der = PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
            format!("no private key found in the DKIM key PEM ({e}): expected a PRIVATE KEY or RSA PRIVATE KEY block")
        })?;
        match der {
            PrivateKeyDer::Pkcs8(k) => {
                let k = k.secret_pkcs8_der();
                match Ed25519KeyPair::from_pkcs8_maybe_unchecked(k) {
                    Ok(ed) => Ok(Self(Kind::Ed25519(ed))),
                    Err(_) => RsaKeyPair::from_pkcs8(k).map(rsa).map_err(rsa_rejected),
                }
            }
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der())
                .map(rsa)
                .map_err(rsa_rejected),
            _ => Err("the DKIM key is not RSA or Ed25519 (DKIM signs with no other kind of key)".into()),
        }
    }

    /// The `a=` algorithm: `rsa-sha256` or `ed25519-sha256`.
    pub fn algorithm(&self) -> &'static str {
        match self.0 {
            Kind::Rsa(_) => "rsa-sha256",
            Kind::Ed25519(_) => "ed25519-sha256",
        }
    }

    /// The DNS TXT record that publishes the public key (`v=DKIM1; k=…; p=…`), for
    /// `SELECTOR._domainkey.DOMAIN`.
    pub fn dns_record(&self) -> String {
        match &self.0 {
            Kind::Rsa(k) => {
                let spki = rsa_spki(k.public_key().as_ref());
                format!("v=DKIM1; k=rsa; p={}", STANDARD.encode(spki))
            }
            Kind::Ed25519(k) => {
                format!(
                    "v=DKIM1; k=ed25519; p={}",
                    STANDARD.encode(k.public_key().as_ref())
                )
            }
        }
    }

    /// Signs the canonical header data (RFC 6376 §3.7; for Ed25519, its SHA-256, RFC 8463 §3).
    pub(super) fn sign(&self, data: &[u8]) -> Result<Vec<u8>, Error> {
        match &self.0 {
            Kind::Rsa(k) => {
                // The one spelling both providers have (ring deprecates it for `public()`).
                #[allow(deprecated)]
                let mut sig = vec![0; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), data, &mut sig)
                    .map_err(|_| Error::input("the RSA signature could not be made"))?;
                Ok(sig)
            }
            Kind::Ed25519(k) => Ok(k.sign(sha256(data).as_ref()).as_ref().to_vec()),
        }
    }
}

impl fmt::Debug for DkimKey {
    /// The kind of key, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DkimKey({})", self.algorithm())
    }
}

fn rsa(k: RsaKeyPair) -> DkimKey {
    DkimKey(Kind::Rsa(k))
}

fn rsa_rejected(e: crypto::error::KeyRejected) -> String {
    let why = e.to_string();
    let advice = if why.contains("TooSmall") {
        ": RSA keys under 2048 bits are refused (RFC 8301); make a new one with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048`"
    } else {
        ""
    };
    format!("the DKIM key is not a usable RSA or Ed25519 key ({why}){advice}")
}

/// SHA-256 of `data`.
pub(super) fn sha256(data: &[u8]) -> crypto::digest::Digest {
    crypto::digest::digest(&crypto::digest::SHA256, data)
}

/// A running SHA-256, for the body.
pub(super) struct Sha256(crypto::digest::Context);

impl Sha256 {
    pub(super) fn new() -> Self {
        Self(crypto::digest::Context::new(&crypto::digest::SHA256))
    }

    pub(super) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub(super) fn finish(self) -> crypto::digest::Digest {
        self.0.finish()
    }
}

/// The SubjectPublicKeyInfo of an RSA public key (PKCS #1 DER): what DNS records publish.
fn rsa_spki(pkcs1: &[u8]) -> Vec<u8> {
    const RSA_ALGORITHM: &[u8] = &[
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8];
    bits.extend_from_slice(pkcs1);
    let bit_string = der(0x03, &bits);
    let mut inner = RSA_ALGORITHM.to_vec();
    inner.extend_from_slice(&bit_string);
    der(0x30, &inner)
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let len = n.to_be_bytes();
        let skip = len.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (len.len() - skip) as u8);
        out.extend_from_slice(&len[skip..]);
    }
    out.extend_from_slice(content);
    out
}
