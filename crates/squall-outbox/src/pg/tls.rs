//! TLS to PostgreSQL with rustls, through tokio-postgres's `MakeTlsConnect`.
//!
//! The crypto provider and the default roots are squall's (`squall::tls_crypto_provider`,
//! `squall::tls_default_roots`), so one set of features decides TLS for the whole program.
//! Every mode that uses TLS verifies the certificate's chain; all but `verify-ca` also check the
//! host name (see [`SslMode`]). Failures are turned into [`TlsProblem`]s that say what to do.
//!
//! The session offers the `tls-server-end-point` channel binding ([`super::binding`]), so a
//! server asking for SCRAM-SHA-256-PLUS gets it, and `channel_binding=require` works.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::Socket;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use super::url::{RootCert, SslMode};
use crate::error::TlsProblem;

/// Makes the TLS connector for each connection; cheap to clone. Without TLS (`disable`) it holds
/// no configuration and tokio-postgres never asks it to connect.
#[derive(Clone)]
pub(crate) struct MakeTls {
    config: Option<Arc<ClientConfig>>,
    mode: SslMode,
    /// The sslrootcert file, as advice names it.
    rootcert: Option<String>,
}

impl MakeTls {
    /// The connector for `mode`: reads the sslrootcert file (or takes squall's roots) now, so
    /// that an unusable file is reported when the outbox opens.
    pub(crate) fn new(mode: SslMode, rootcert: Option<&RootCert>) -> Result<Self, TlsProblem> {
        let shown = match rootcert {
            Some(RootCert::File(p)) => Some(p.display().to_string()),
            _ => None,
        };
        if mode == SslMode::Disable {
            return Ok(Self {
                config: None,
                mode,
                rootcert: shown,
            });
        }
        let roots = match rootcert {
            Some(RootCert::File(path)) => file_roots(path)?,
            Some(RootCert::System) | None => squall::tls_default_roots(),
        };
        if roots.is_empty() {
            return Err(TlsProblem::NoRoots);
        }
        let provider = squall::tls_crypto_provider();
        let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| TlsProblem::Handshake {
                detail: format!("TLS setup failed: {e}"),
            })?;
        let verifier: Arc<dyn ServerCertVerifier> = if mode == SslMode::VerifyCa {
            Arc::new(CaOnly(webpki))
        } else {
            webpki
        };
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsProblem::Handshake {
                detail: format!("TLS setup failed: {e}"),
            })?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        // PostgreSQL's ALPN name, as libpq 17 sends it: PostgreSQL 17 insists on it for
        // `sslnegotiation=direct`; older servers ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Self {
            config: Some(Arc::new(config)),
            mode,
            rootcert: shown,
        })
    }

    /// What went wrong with TLS in a failed connection attempt, if TLS is what failed: a
    /// certificate refused, or a server that does not offer TLS when the mode requires it.
    pub(crate) fn problem(&self, e: &tokio_postgres::Error) -> Option<TlsProblem> {
        let mut source = std::error::Error::source(e);
        let mut depth = 0;
        while let Some(s) = source {
            if let Some(r) = s.downcast_ref::<rustls::Error>() {
                return Some(self.classify(r));
            }
            if let Some(r) = s
                .downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return Some(self.classify(r));
            }
            // tokio-postgres's own words when the server answers "no TLS" to the SSLRequest.
            if e.to_string().contains("TLS") && s.to_string() == "server does not support TLS" {
                return Some(TlsProblem::NotOffered {
                    mode: self.mode.to_string(),
                });
            }
            depth += 1;
            if depth > 8 {
                break;
            }
            source = s.source();
        }
        None
    }

    fn classify(&self, e: &rustls::Error) -> TlsProblem {
        match e {
            rustls::Error::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => TlsProblem::Untrusted {
                    detail: format!("{c:?}"),
                    rootcert: self.rootcert.clone(),
                },
                CertificateError::NotValidForNameContext { expected, presented } => TlsProblem::WrongName {
                    name: expected.to_str().into_owned(),
                    presented: presented.iter().map(|p| plain_name(p)).collect(),
                },
                CertificateError::NotValidForName => TlsProblem::WrongName {
                    name: String::new(),
                    presented: Vec::new(),
                },
                // Expired, not yet valid, revoked, a bad signature: rustls's words say which.
                _ => TlsProblem::Handshake {
                    detail: format!("the server's certificate was refused ({e})"),
                },
            },
            other => TlsProblem::Handshake {
                detail: other.to_string(),
            },
        }
    }
}

/// A name as rustls presents it (`DnsName("db.example")`, `IpAddress(10.0.0.7)`), as people
/// write it.
fn plain_name(presented: &str) -> String {
    for kind in ["DnsName(", "IpAddress(", "Uri("] {
        if let Some(inner) = presented.strip_prefix(kind).and_then(|r| r.strip_suffix(')')) {
            return inner.trim_matches('"').to_string();
        }
    }
    presented.to_string()
}

/// The CA certificates of a PEM file, as the only roots trusted.
fn file_roots(path: &std::path::Path) -> Result<Arc<RootCertStore>, TlsProblem> {
    let problem = |why: String| TlsProblem::RootCert {
        path: path.display().to_string(),
        why,
    };
    let mut roots = RootCertStore::empty();
    for c in squall::tls_ca_certificates(path).map_err(problem)? {
        roots
            .add(c)
            .map_err(|e| problem(format!("a certificate in it is unusable: {e}")))?;
    }
    Ok(Arc::new(roots))
}

/// `verify-ca`: the chain must lead to a trusted CA, the host name is not checked. The name is
/// the last check rustls's verifier makes, after the chain, the validity period and the
/// signatures, so a name error alone means everything else passed.
#[derive(Debug)]
struct CaOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

impl MakeTlsConnect<Socket> for MakeTls {
    type Stream = PgTlsStream;
    type TlsConnect = Connect;
    type Error = io::Error;

    /// `domain` is the URL's host (empty for a Unix socket, where PostgreSQL offers no TLS):
    /// a bad name is reported when the handshake is asked for, not before, so that plaintext
    /// connections never fail here.
    fn make_tls_connect(&mut self, domain: &str) -> io::Result<Connect> {
        Ok(Connect {
            config: self.config.clone(),
            name: ServerName::try_from(domain.to_string())
                .map_err(|_| format!("{domain:?} is not a host name TLS can verify")),
        })
    }
}

/// One connection's handshake.
pub(crate) struct Connect {
    config: Option<Arc<ClientConfig>>,
    name: Result<ServerName<'static>, String>,
}

impl TlsConnect<Socket> for Connect {
    type Stream = PgTlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<PgTlsStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let config = self
                .config
                .ok_or_else(|| io::Error::other("TLS was not configured (sslmode=disable)"))?;
            let name = self.name.map_err(io::Error::other)?;
            let tls = tokio_rustls::TlsConnector::from(config)
                .connect(name, stream)
                .await?;
            Ok(PgTlsStream(tls))
        })
    }
}

/// A TLS session with the server.
pub(crate) struct PgTlsStream(tokio_rustls::client::TlsStream<Socket>);

impl TlsStream for PgTlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        session
            .peer_certificates()
            .and_then(|chain| chain.first())
            .and_then(|leaf| super::binding::tls_server_end_point(leaf))
            .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point)
    }
}

impl AsyncRead for PgTlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for PgTlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_read_as_written() {
        assert_eq!(plain_name("DnsName(\"db.example\")"), "db.example");
        assert_eq!(plain_name("IpAddress(10.0.0.7)"), "10.0.0.7");
        assert_eq!(plain_name("something else"), "something else");
    }

    #[test]
    fn verify_ca_needs_no_name_but_everything_else() {
        // Without TLS nothing is read; with it, an unreadable CA file is named.
        assert!(MakeTls::new(SslMode::Disable, Some(&RootCert::File("/nonexistent".into()))).is_ok());
        let e = MakeTls::new(SslMode::VerifyFull, Some(&RootCert::File("/nonexistent".into())))
            .err()
            .unwrap();
        assert!(matches!(e, TlsProblem::RootCert { .. }), "{e}");
        assert!(MakeTls::new(SslMode::Require, Some(&RootCert::System)).is_ok());
    }
}
