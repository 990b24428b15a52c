//! The `tls-server-end-point` channel binding (RFC 5929 §4.1) for SCRAM-SHA-256-PLUS: a hash of
//! the server's certificate, so that a password exchange cannot be relayed through a second TLS
//! session by someone holding another certificate.
//!
//! The hash is the one of the certificate's signature algorithm, with MD5 and SHA-1 raised to
//! SHA-256. Algorithms whose hash is not named by the algorithm alone (RSASSA-PSS, Ed25519) get
//! no binding: PostgreSQL cannot bind those either, and the login goes on as plain
//! SCRAM-SHA-256 (or fails, if the URL says `channel_binding=require`).

use sha2::{Digest, Sha256, Sha384, Sha512};

/// The binding data of the DER certificate `cert`, or `None` when its signature algorithm names
/// no single hash (or it is not a certificate).
pub(crate) fn tls_server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    let hash = match signature_algorithm(cert)? {
        // md5WithRSA, sha1WithRSA, sha256WithRSA; ecdsa-with-SHA1, -SHA256.
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04 | 0x05 | 0x0b]
        | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01]
        | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02] => Sha256::digest(cert).to_vec(),
        // sha384WithRSA, ecdsa-with-SHA384.
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c]
        | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03] => Sha384::digest(cert).to_vec(),
        // sha512WithRSA, ecdsa-with-SHA512.
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d]
        | [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04] => Sha512::digest(cert).to_vec(),
        _ => return None,
    };
    Some(hash)
}

/// The OID (its content bytes) of `Certificate.signatureAlgorithm`: the second element of the
/// outer SEQUENCE, after `tbsCertificate`.
fn signature_algorithm(cert: &[u8]) -> Option<&[u8]> {
    let (0x30, outer, _) = element(cert)? else {
        return None;
    };
    let (0x30, _tbs, rest) = element(outer)? else {
        return None;
    };
    let (0x30, algorithm, _) = element(rest)? else {
        return None;
    };
    let (0x06, oid, _) = element(algorithm)? else {
        return None;
    };
    Some(oid)
}

/// One DER element of `der`: its tag, its content, and what follows it.
fn element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, b| acc << 8 | usize::from(*b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SEQUENCE { SEQUENCE {tbs}, SEQUENCE { OID oid }, BIT STRING }, with long-form lengths
    /// when the content is long.
    fn cert(oid: &[u8], tbs_len: usize) -> Vec<u8> {
        fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
            let mut out = vec![tag];
            match content.len() {
                n if n < 0x80 => out.push(n as u8),
                n if n < 0x100 => out.extend([0x81, n as u8]),
                n => out.extend([0x82, (n >> 8) as u8, n as u8]),
            }
            out.extend_from_slice(content);
            out
        }
        let tbs = wrap(0x30, &vec![0x05; tbs_len]);
        let alg = wrap(0x30, &wrap(0x06, oid));
        let sig = wrap(0x03, &[0, 1, 2]);
        wrap(0x30, &[tbs, alg, sig].concat())
    }

    #[test]
    fn the_hash_follows_the_signature_algorithm() {
        let ecdsa256 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
        let rsa384 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
        let rsa512 = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
        let sha1_rsa = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05];
        type Hash = fn(&[u8]) -> Vec<u8>;
        let cases: [(&[u8], Hash); 4] = [
            (&ecdsa256, |c| Sha256::digest(c).to_vec()),
            (&rsa384, |c| Sha384::digest(c).to_vec()),
            (&rsa512, |c| Sha512::digest(c).to_vec()),
            (&sha1_rsa, |c| Sha256::digest(c).to_vec()),
        ];
        for (oid, hash) in cases {
            for tbs_len in [10, 200, 1000] {
                let c = cert(oid, tbs_len);
                assert_eq!(tls_server_end_point(&c), Some(hash(&c)), "{oid:x?} {tbs_len}");
            }
        }
        // Ed25519 (1.3.101.112) and RSASSA-PSS name no single hash; garbage is no certificate.
        assert_eq!(tls_server_end_point(&cert(&[0x2b, 0x65, 0x70], 10)), None);
        assert_eq!(
            tls_server_end_point(&cert(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a], 10)),
            None
        );
        for junk in [
            &[][..],
            &[0x30],
            &[0x30, 0x85, 1, 1, 1, 1, 1],
            &[0x30, 0x05, 0x30, 0x10],
        ] {
            assert_eq!(tls_server_end_point(junk), None);
        }
    }
}
