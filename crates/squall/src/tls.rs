//! TLS with rustls: certificates checked against the webpki roots and the system store (plus a
//! private CA when given), the host name verified, SNI sent.
//!
//! Opportunistic TLS (RFC 7435) must stay encrypted when the certificate does not verify, and say
//! so. Its handshake therefore accepts any certificate (signatures are still checked), and the
//! certificate is verified right after it with the same verifier the strict modes use, so the
//! answer ([`TlsInfo::certificate`]) is exactly what a strict handshake would have decided.
//!
//! The root store costs about 15 M instructions to load (parsing the bundled and the system
//! roots): it is loaded on the first handshake, once per process, never for cleartext.

use std::fmt;
use std::io;
use std::sync::{Arc, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::{ClientConfig, DigitallySignedStruct, ProtocolVersion, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use squall_proto::auth::{ChannelBinding, ChannelBindingType};
use squall_proto::session::Certificate;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A TLS session's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: String,
    /// The negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
    /// Whether the server's certificate was verified. Only opportunistic TLS (or the explicit
    /// `dangerously_skip_certificate_verification`) goes on with an unverified one.
    pub certificate: Certificate,
    /// Why the certificate did not verify, when it did not.
    pub problem: Option<String>,
}

impl TlsInfo {
    /// Whether the server's certificate was verified.
    pub fn is_verified(&self) -> bool {
        self.certificate == Certificate::Verified
    }
}

impl fmt::Display for TlsInfo {
    /// `TLS 1.3 TLS13_AES_256_GCM_SHA384, certificate verified`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher)?;
        match &self.problem {
            None => f.write_str(", certificate verified"),
            Some(why) => write!(f, ", certificate NOT verified ({why})"),
        }
    }
}

/// The oldest TLS version squall may agree on (see
/// [`ClientBuilder::min_tls_version`](crate::ClientBuilder::min_tls_version)).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3 (the default).
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// A client certificate and its private key, for servers that ask for one (mutual TLS).
pub(crate) struct ClientCert {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl ClientCert {
    /// From PEM: the certificate chain (leaf first) and the private key.
    pub(crate) fn from_pem(chain: &[u8], key: &[u8]) -> Result<Self, String> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the client certificate is not PEM: {e}"))?;
        if chain.is_empty() {
            return Err("the client certificate file holds no PEM certificate".into());
        }
        let key = PrivateKeyDer::from_pem_slice(key)
            .map_err(|e| format!("the client key is not a PEM private key: {e}"))?;
        Ok(Self { chain, key })
    }
}

/// What the builder says about TLS, used for every handshake with one server.
#[derive(Clone, Default)]
pub(crate) struct TlsOptions {
    pub(crate) ca_file: Option<std::path::PathBuf>,
    pub(crate) skip_verify: bool,
    pub(crate) client_cert: Option<Arc<ClientCert>>,
    pub(crate) min_version: Option<TlsVersion>,
    /// The caller's own rustls configuration, used as it is.
    pub(crate) config: Option<Arc<ClientConfig>>,
}

/// Everything needed to start TLS with one server.
pub(crate) struct TlsSetup {
    name: ServerName<'static>,
    extra_roots: Vec<CertificateDer<'static>>,
    options: TlsOptions,
    connectors: OnceLock<Result<Connectors, String>>,
}

struct Connectors {
    /// Refuses a certificate that does not verify.
    strict: TlsConnector,
    /// Accepts any certificate (signatures still checked); `verifier` judges it afterwards.
    lenient: TlsConnector,
    /// `None` with the caller's own configuration: it decides, and what it accepts is trusted.
    verifier: Option<Arc<WebPkiServerVerifier>>,
}

impl TlsSetup {
    /// Checks the host name and reads the private CA file now, so that mistakes show when the
    /// client is built (the error says what is wrong); the root store waits for the first
    /// handshake.
    pub(crate) fn new(host: &str, options: TlsOptions) -> Result<Self, String> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| format!("{host:?} is not a valid TLS server name"))?;
        let mut extra_roots = Vec::new();
        if let Some(path) = &options.ca_file {
            extra_roots = tls_ca_certificates(path).map_err(|e| format!("the CA file {path:?}: {e}"))?;
        }
        Ok(Self {
            name,
            extra_roots,
            options,
            connectors: OnceLock::new(),
        })
    }

    fn connectors(&self) -> io::Result<&Connectors> {
        self.connectors
            .get_or_init(|| Connectors::new(&self.extra_roots, &self.options))
            .as_ref()
            .map_err(|e| io::Error::other(e.clone()))
    }

    /// Runs the client handshake over `stream`. `lenient` (opportunistic TLS) goes on when the
    /// certificate does not verify; either way the result says whether it did. With verification
    /// switched off, every mode is lenient.
    pub(crate) async fn handshake<S>(&self, stream: S, lenient: bool) -> io::Result<(TlsStream<S>, TlsInfo)>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let c = self.connectors()?;
        let lenient = lenient || self.options.skip_verify;
        let connector = if lenient { &c.lenient } else { &c.strict };
        let tls = connector.connect(self.name.clone(), stream).await?;
        let problem = match &c.verifier {
            Some(verifier) if lenient => self.judge(&tls, verifier),
            _ => None,
        };
        let info = describe(&tls, problem);
        Ok((tls, info))
    }

    /// What the session may assume of a handshake's certificate: verified, or trusted because
    /// the caller switched verification off.
    pub(crate) fn trust(&self, info: &TlsInfo) -> Certificate {
        if self.options.skip_verify {
            Certificate::Verified
        } else {
            info.certificate
        }
    }

    /// Verifies the certificate of a finished handshake, as a strict handshake would have.
    fn judge<S>(&self, tls: &TlsStream<S>, verifier: &WebPkiServerVerifier) -> Option<String> {
        let (_, conn) = tls.get_ref();
        let Some((end_entity, intermediates)) = conn.peer_certificates().and_then(|c| c.split_first()) else {
            return Some("the server sent no certificate".into());
        };
        verifier
            .verify_server_cert(end_entity, intermediates, &self.name, &[], UnixTime::now())
            .err()
            .map(|e| e.to_string())
    }
}

#[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
compile_error!("squall needs a crypto provider for TLS: enable the `ring` (default) or `aws-lc-rs` feature");

/// The crypto provider the features chose: aws-lc-rs when enabled, else ring.
fn provider() -> Arc<CryptoProvider> {
    #[cfg(feature = "aws-lc-rs")]
    let p = rustls::crypto::aws_lc_rs::default_provider();
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    let p = rustls::crypto::ring::default_provider();
    Arc::new(p)
}

impl Connectors {
    fn new(extra_roots: &[CertificateDer<'static>], options: &TlsOptions) -> Result<Self, String> {
        if let Some(config) = &options.config {
            let connector = TlsConnector::from(config.clone());
            return Ok(Self {
                strict: connector.clone(),
                lenient: connector,
                verifier: None,
            });
        }
        let provider = provider();
        let mut roots = (*system_roots()).clone();
        for c in extra_roots {
            roots.add(c.clone()).map_err(|e| e.to_string())?;
        }
        if roots.is_empty() {
            return Err(
                "no trusted root certificate: give a CA file (ca_file), or build squall with \
                 the webpki-roots or native-roots feature"
                    .into(),
            );
        }
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
            .build()
            .map_err(|e| format!("TLS setup failed: {e}"))?;
        let versions: &[&rustls::SupportedProtocolVersion] = match options.min_version {
            Some(TlsVersion::Tls13) => &[&rustls::version::TLS13],
            _ => rustls::DEFAULT_VERSIONS,
        };
        let config = |v: Arc<dyn ServerCertVerifier>| -> Result<TlsConnector, String> {
            let c = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(versions)
                .map_err(|e| format!("TLS setup failed: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(v);
            let c = match &options.client_cert {
                Some(cert) => c
                    .with_client_auth_cert(cert.chain.clone(), cert.key.clone_key())
                    .map_err(|e| format!("the client certificate cannot be used: {e}"))?,
                None => c.with_no_client_auth(),
            };
            Ok(TlsConnector::from(Arc::new(c)))
        };
        Ok(Self {
            strict: config(verifier.clone())?,
            lenient: config(Arc::new(AcceptAnyCertificate(provider.clone())))?,
            verifier: Some(verifier),
        })
    }
}

/// The most a CA file may hold: system bundles are about 200 KiB.
const MAX_CA_FILE: u64 = 4 << 20;

/// The certificates of the PEM CA file `path`, each usable as a root: for `ca_file` and for
/// other TLS clients in the same program. At most 4 MiB is read, so that a device named by
/// mistake (`/dev/zero`) fails at once instead of being read without end; a pipe (`<(…)` in a
/// shell) is fine. The error says what is wrong with the file (the caller names it).
pub fn tls_ca_certificates(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use std::io::Read;
    let too_large = || format!("it is larger than {} MiB", MAX_CA_FILE >> 20);
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    if file
        .metadata()
        .is_ok_and(|m| m.is_file() && m.len() > MAX_CA_FILE)
    {
        return Err(too_large());
    }
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE + 1)
        .read_to_end(&mut pem)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if pem.len() as u64 > MAX_CA_FILE {
        return Err(too_large());
    }
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("it is not valid PEM: {e}"))?;
    if certs.is_empty() {
        return Err("it holds no PEM certificate".into());
    }
    let mut check = RootCertStore::empty();
    for c in &certs {
        check
            .add(c.clone())
            .map_err(|e| format!("a certificate in it is unusable: {e}"))?;
    }
    Ok(certs)
}

/// The crypto provider squall's TLS uses (aws-lc-rs or ring, as the features chose), for other
/// TLS clients in the same program (squall-outbox's PostgreSQL connections), so that one program
/// has one provider and one set of features deciding it.
pub fn tls_crypto_provider() -> Arc<CryptoProvider> {
    provider()
}

/// The roots squall trusts when no CA file is given: Mozilla's (`webpki-roots`) and the
/// system's store (`native-roots`), as the features chose; loaded once per process, on the first
/// call. Empty with neither feature.
pub fn tls_default_roots() -> Arc<RootCertStore> {
    system_roots()
}

/// The Mozilla roots and the system store (as the features say), loaded once per process.
fn system_roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            #[allow(unused_mut)]
            let mut roots = RootCertStore::empty();
            #[cfg(feature = "webpki-roots")]
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            #[cfg(feature = "native-roots")]
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
            Arc::new(roots)
        })
        .clone()
}

fn describe<S>(tls: &TlsStream<S>, problem: Option<String>) -> TlsInfo {
    let (_, conn) = tls.get_ref();
    let version = match conn.protocol_version() {
        Some(ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
        Some(ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
        Some(v) => format!("{v:?}"),
        None => "unknown".to_string(),
    };
    let cipher = conn
        .negotiated_cipher_suite()
        .and_then(|c| c.suite().as_str())
        .unwrap_or("unknown");
    TlsInfo {
        version,
        cipher: cipher.to_string(),
        certificate: if problem.is_none() {
            Certificate::Verified
        } else {
            Certificate::Unverified
        },
        problem,
    }
}

/// Trusts any certificate (signatures are still checked, so the handshake itself is sound).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The `tls-exporter` channel binding (RFC 9266) of a TLS 1.3 session, for SCRAM-SHA-256-PLUS:
/// 32 bytes exported with the label `EXPORTER-Channel-Binding` and no context. `None` for TLS
/// 1.2, where the exporter is only safe with the extended master secret, which rustls does not
/// insist on (the session then offers plain SCRAM-SHA-256, flagged `y` against downgrades).
pub(crate) fn channel_binding<S>(tls: &TlsStream<S>) -> Option<ChannelBinding> {
    let (_, conn) = tls.get_ref();
    if conn.protocol_version() != Some(ProtocolVersion::TLSv1_3) {
        return None;
    }
    let data = conn
        .export_keying_material(vec![0; 32], b"EXPORTER-Channel-Binding", None)
        .ok()?;
    Some(ChannelBinding::new(ChannelBindingType::TlsExporter, data))
}

/// A fresh SCRAM client nonce: 24 random bytes from the TLS crypto provider, in hex (printable,
/// never a `,`). The core reads no randomness, so every connection is given one.
pub(crate) fn scram_nonce() -> Option<String> {
    let mut bytes = [0u8; 24];
    provider().secure_random.fill(&mut bytes).ok()?;
    Some(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A random index below `n` (at least 1), from the crypto provider: MX hosts of equal preference
/// are tried in random order (RFC 5321 §5.1). Falls back to 0 if no randomness is to be had.
pub(crate) fn random_below(n: usize) -> usize {
    let mut bytes = [0u8; 8];
    if provider().secure_random.fill(&mut bytes).is_err() {
        return 0;
    }
    (u64::from_le_bytes(bytes) % n.max(1) as u64) as usize
}
