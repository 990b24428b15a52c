//! The sink's side of TLS: a rustls server configuration from a PEM certificate chain and key.

use std::io;
use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A server configuration for `cert_chain` (PEM, leaf first) and `key` (PEM, any format).
pub(crate) fn server_config(cert_chain: &[u8], key: &[u8]) -> io::Result<Arc<ServerConfig>> {
    let bad = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidData, format!("{what}: {e}"))
    };
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_chain)
        .collect::<Result<_, _>>()
        .map_err(|e| bad("bad certificate PEM", &e))?;
    if certs.is_empty() {
        return Err(bad("no certificate in the PEM", &"empty"));
    }
    let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| bad("bad private key PEM", &e))?;
    let config = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS setup failed", &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| bad("the certificate and key do not fit", &e))?;
    Ok(Arc::new(config))
}
