//! What a built client runs with: the server, its TLS, the session template, and the policies of
//! the pool and of retries. Read by the driver, the pool and the probe; written once, by
//! [`ClientBuilder::build`](crate::ClientBuilder::build).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use squall_proto::address::EhloName;
use squall_proto::session::{SessionConfig, TranscriptLine};

use crate::tls::TlsSetup;

/// Called with each line of the redacted dialog.
pub type TranscriptFn = Arc<dyn Fn(&TranscriptLine) + Send + Sync>;

/// Produces a fresh OAuth 2.0 access token (or says why it cannot).
pub(crate) type TokenSource =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// When and how often a temporary failure is tried again (see [`crate::ClientBuilder::retries`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct RetryPolicy {
    /// Attempts in all, at least 1.
    pub(crate) attempts: u32,
    /// The first delay; each later one doubles, up to `max_backoff`.
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
    /// Retry when the connection was lost after the end of the content (may duplicate).
    pub(crate) retry_ambiguous: bool,
    /// No attempt starts later than this after the message was handed over.
    pub(crate) deadline: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(30),
            retry_ambiguous: false,
            deadline: None,
        }
    }
}

/// How the pool spreads messages over connections.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolPolicy {
    pub(crate) max_connections: usize,
    pub(crate) max_messages_per_connection: Option<u64>,
    /// How long a connection stays open with nothing to send before QUIT.
    pub(crate) idle_timeout: Duration,
    /// With a rate limit: the time between two messages.
    pub(crate) rate_interval: Option<Duration>,
}

impl Default for PoolPolicy {
    fn default() -> Self {
        Self {
            max_connections: 1,
            max_messages_per_connection: None,
            idle_timeout: Duration::from_secs(5),
            rate_interval: None,
        }
    }
}

/// A builder resolved into what connections need.
pub(crate) struct Config {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// A Unix-domain socket to connect to instead of `host:port` (LMTP to a local mailbox
    /// server); TLS is off there.
    pub(crate) socket: Option<std::path::PathBuf>,
    /// A SOCKS5 proxy to reach `host:port` through.
    pub(crate) proxy: Option<crate::proxy::Proxy>,
    /// `None` with TLS off.
    pub(crate) tls: Option<TlsSetup>,
    /// Every session option, with the TLS mode resolved; each connection sets its EHLO name and,
    /// with a token source, fresh credentials.
    pub(crate) session: SessionConfig,
    /// `None`: the address literal of the connection's local address.
    pub(crate) ehlo: Option<EhloName>,
    pub(crate) token_source: Option<(String, TokenSource)>,
    /// Finds the server's addresses.
    pub(crate) resolver: Arc<dyn crate::resolve::Resolve>,
    /// Each connection attempt's limit (one per address, see `resolve`).
    pub(crate) connect_timeout: Duration,
    pub(crate) pool: PoolPolicy,
    pub(crate) retry: RetryPolicy,
    pub(crate) transcript: Option<TranscriptFn>,
    /// Signers whose DKIM-Signature every message gets.
    #[cfg(feature = "dkim")]
    pub(crate) dkim: Vec<crate::dkim::DkimSigner>,
}

impl Config {
    /// The `host:port` (or the socket's path) for messages.
    pub(crate) fn server(&self) -> String {
        if let Some(path) = &self.socket {
            path.display().to_string()
        } else if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}
