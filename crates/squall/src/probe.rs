//! [`Client::probe`]: set up a session as a send would, report what the server offers, send
//! nothing. What `squall config check` shows.

use std::fmt;
use std::time::Duration;

use rustls::ProtocolVersion;
use squall_proto::auth::Mechanism;
use squall_proto::ehlo::Capabilities;
use squall_proto::reply::Reply;
use tokio_rustls::client::TlsStream;

use crate::client::Client;
use crate::connection;
use crate::error::Error;

/// What a server showed while a session was set up with it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerReport {
    /// `host:port`.
    pub server: String,
    /// The 220 greeting.
    pub greeting: Reply,
    /// The extensions offered in the last EHLO (after STARTTLS, when it was used).
    pub capabilities: Capabilities,
    /// The TLS session, when there was one.
    pub tls: Option<TlsInfo>,
    /// The mechanism that logged in, when credentials were configured.
    pub authenticated: Option<Mechanism>,
    /// From connecting to ready.
    pub elapsed: Duration,
}

/// A TLS session's parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsInfo {
    /// `TLS 1.3` or `TLS 1.2`.
    pub version: String,
    /// The negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher: String,
}

impl TlsInfo {
    pub(crate) fn of<T>(tls: &TlsStream<T>) -> Self {
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
        Self {
            version,
            cipher: cipher.to_string(),
        }
    }
}

impl fmt::Display for TlsInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.version, self.cipher)
    }
}

impl Client {
    /// Connects with this client's settings, goes through the greeting, EHLO, STARTTLS and AUTH
    /// exactly as a send would, then says QUIT without sending anything. The error, if setup
    /// fails, is the one a send would have met.
    pub async fn probe(&self) -> Result<ServerReport, Error> {
        connection::probe(self.shared()).await
    }
}
