//! [`ClientBuilder`]: where to send, how securely, and how patiently.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use squall_proto::address::EhloName;
use squall_proto::auth::{Credentials, Mechanism};
use squall_proto::session::{SessionConfig, Timeouts, TlsMode, TranscriptLine};

use crate::client::Client;
use crate::error::{Error, ErrorKind, Stage, What};
use crate::tls::TlsSetup;

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

/// Called with each line of the redacted dialog.
pub type TranscriptFn = Arc<dyn Fn(&TranscriptLine) + Send + Sync>;

/// Produces a fresh OAuth 2.0 access token (or says why it cannot).
pub(crate) type TokenSource =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// Configures a [`Client`].
///
/// Ports and TLS go together: port 465 means implicit TLS, 587 STARTTLS (required), anything else
/// opportunistic STARTTLS, unless [`tls`](Self::tls) says otherwise; with credentials and no port,
/// the submission port 587 is used.
#[derive(Clone)]
pub struct ClientBuilder {
    host: String,
    port: Option<u16>,
    tls: Option<TlsMode>,
    credentials: Option<Result<Credentials, String>>,
    token_source: Option<(String, TokenSource)>,
    mechanism: Option<Mechanism>,
    allow_insecure_auth: bool,
    ehlo: Option<String>,
    timeouts: Timeouts,
    connect_timeout: Duration,
    idle_timeout: Duration,
    max_connections: usize,
    max_messages_per_connection: Option<u64>,
    rate: Option<f64>,
    pipelining: bool,
    chunking: bool,
    max_in_flight: usize,
    ca_file: Option<PathBuf>,
    skip_verify: bool,
    transcript: Option<TranscriptFn>,
    retry: RetryPolicy,
}

/// A builder resolved into what a connection needs.
pub(crate) struct Config {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) tls: TlsMode,
    pub(crate) tls_setup: Option<TlsSetup>,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) token_source: Option<(String, TokenSource)>,
    pub(crate) mechanism: Option<Mechanism>,
    pub(crate) allow_insecure_auth: bool,
    pub(crate) ehlo: Option<EhloName>,
    pub(crate) timeouts: Timeouts,
    pub(crate) connect_timeout: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) max_connections: usize,
    pub(crate) max_messages_per_connection: Option<u64>,
    /// With a rate limit: the time between two messages.
    pub(crate) rate_interval: Option<Duration>,
    pub(crate) pipelining: bool,
    pub(crate) chunking: bool,
    pub(crate) max_in_flight: usize,
    pub(crate) transcript: Option<TranscriptFn>,
    pub(crate) retry: RetryPolicy,
}

impl ClientBuilder {
    /// Sends through `host` (a name or an IP address).
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port: None,
            tls: None,
            credentials: None,
            token_source: None,
            mechanism: None,
            allow_insecure_auth: false,
            ehlo: None,
            timeouts: Timeouts::default(),
            connect_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(5),
            max_connections: 1,
            max_messages_per_connection: None,
            rate: None,
            pipelining: true,
            chunking: true,
            max_in_flight: 32,
            ca_file: None,
            skip_verify: false,
            transcript: None,
            retry: RetryPolicy::default(),
        }
    }

    /// A builder for `HOST`, `HOST:PORT` or `[IPV6]:PORT`.
    pub fn server(server: &str) -> Result<Self, Error> {
        let (host, port) = crate::url::split_host_port(server)
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| Error::input(format!("invalid server {server:?}: use HOST or HOST:PORT")))?;
        let b = Self::new(host);
        Ok(match port {
            Some(p) => b.port(p),
            None => b,
        })
    }

    /// The port (default: from the TLS mode, see the type's docs).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// How to use TLS.
    pub fn tls(mut self, tls: TlsMode) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Log in with a user name and password (PLAIN, LOGIN or CRAM-MD5, the strongest offered).
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some(Credentials::password(user, password).map_err(|e| e.to_string()));
        self
    }

    /// Log in with an OAuth 2.0 access token (XOAUTH2).
    pub fn oauth2(mut self, user: &str, token: &str) -> Self {
        self.credentials = Some(Credentials::oauth2(user, token).map_err(|e| e.to_string()));
        self
    }

    /// Log in with XOAUTH2, asking `source` for a fresh access token for each new connection
    /// (tokens expire; a long-lived client keeps working).
    pub fn oauth2_token_source<F, Fut>(mut self, user: &str, source: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        let source: TokenSource = Arc::new(move || Box::pin(source()));
        self.token_source = Some((user.to_string(), source));
        self.credentials = None;
        self
    }

    /// Use this SASL mechanism instead of the strongest one offered.
    pub fn mechanism(mut self, mechanism: Mechanism) -> Self {
        self.mechanism = Some(mechanism);
        self
    }

    /// Allow credentials over an unencrypted connection. Only for test servers.
    pub fn allow_insecure_auth(mut self, allow: bool) -> Self {
        self.allow_insecure_auth = allow;
        self
    }

    /// The name to give in EHLO (default: the address literal of the local address, such as
    /// `[192.0.2.1]`, as RFC 5321 asks of a client without a meaningful host name).
    pub fn ehlo(mut self, name: &str) -> Self {
        self.ehlo = Some(name.to_string());
        self
    }

    /// Reply timeouts (RFC 5321 §4.5.3.2 by default).
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Caps every wait, connecting included, at `max`.
    pub fn timeout(mut self, max: Duration) -> Self {
        self.timeouts = self.timeouts.capped(max);
        self.connect_timeout = self.connect_timeout.min(max);
        self
    }

    /// How long to wait for the TCP connection (default 30 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a connection stays open with nothing to send before QUIT (default 5 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = timeout;
        self
    }

    /// Connections opened at most at once (default 1: one connection, messages in order).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Close a connection (with QUIT) after this many messages and open a fresh one for the rest
    /// (some providers limit messages per session).
    pub fn max_messages_per_connection(mut self, n: u64) -> Self {
        self.max_messages_per_connection = Some(n.max(1));
        self
    }

    /// Start at most this many messages per second, over all connections.
    pub fn rate_limit(mut self, messages_per_second: f64) -> Self {
        self.rate = Some(messages_per_second);
        self
    }

    /// Try a message again this many times after a temporary failure (default 2, so 3 attempts
    /// in all), waiting 0.5 s, then 1 s, 2 s … (jittered, at most 30 s) in between. Recipients
    /// refused with 4yz are retried alone; accepted ones are never sent twice; 5yz is final.
    ///
    /// These are quick retries for blips (a busy server, a dropped connection). Queueing for
    /// hours, as an MTA does (RFC 5321 §4.5.4.1), is the caller's job: keep what failed and
    /// submit it again later.
    pub fn retries(mut self, n: u32) -> Self {
        self.retry.attempts = n.saturating_add(1);
        self
    }

    /// Never retry: every failure is reported at once.
    pub fn no_retry(self) -> Self {
        self.retries(0)
    }

    /// The first retry delay and the largest one (both at most a day).
    pub fn retry_backoff(mut self, first: Duration, max: Duration) -> Self {
        const DAY: Duration = Duration::from_secs(86_400);
        self.retry.backoff = first.min(DAY);
        self.retry.max_backoff = max.max(first).min(DAY);
        self
    }

    /// Also retry a message whose connection was lost after its content was sent and before the
    /// server's verdict. Off by default: the server may have taken it, and a retry may deliver it
    /// twice (recipients can tell by its Message-ID).
    pub fn retry_ambiguous(mut self, on: bool) -> Self {
        self.retry.retry_ambiguous = on;
        self
    }

    /// Give each message this long from `send` to its last attempt's start; a message still
    /// queued then fails with a timeout.
    pub fn message_deadline(mut self, deadline: Duration) -> Self {
        self.retry.deadline = Some(deadline);
        self
    }

    /// Use PIPELINING when offered (default on).
    pub fn pipelining(mut self, on: bool) -> Self {
        self.pipelining = on;
        self
    }

    /// Use CHUNKING (BDAT) when offered (default on).
    pub fn chunking(mut self, on: bool) -> Self {
        self.chunking = on;
        self
    }

    /// Messages awaiting their final reply at once on one connection with CHUNKING and
    /// PIPELINING (default 32): enough that a connection 10 ms away is limited by the server and
    /// the bandwidth, not by the round trips. Each is at risk of an ambiguous outcome if the
    /// connection drops before its reply.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n.max(1);
        self
    }

    /// Trust the CA certificates in this PEM file too (for a private CA).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_file = Some(path.into());
        self
    }

    /// Accept any server certificate. The connection is then open to interception: use only
    /// against a test server you control.
    pub fn dangerously_skip_certificate_verification(mut self, skip: bool) -> Self {
        self.skip_verify = skip;
        self
    }

    /// Receive each line of the dialog (secrets redacted), for `--transcript` style output.
    pub fn transcript(mut self, f: impl Fn(&TranscriptLine) + Send + Sync + 'static) -> Self {
        self.transcript = Some(Arc::new(f));
        self
    }

    /// Checks the settings and makes the client. Nothing is connected until the first send.
    pub fn build(self) -> Result<Client, Error> {
        Ok(Client::new(self.resolve()?))
    }

    pub(crate) fn resolve(self) -> Result<Config, Error> {
        let config_err = |msg: String| Error::new(ErrorKind::Local, Stage::Prepare, What::Input(msg));
        if self.host.is_empty() || self.host.contains(['\r', '\n', '\0', ' ', '/']) {
            return Err(config_err(format!("invalid server host {:?}", self.host)));
        }
        let credentials = match self.credentials {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => return Err(config_err(format!("invalid credentials: {e}"))),
            None => None,
        };
        let logs_in = credentials.is_some() || self.token_source.is_some();
        let (port, tls) = match (self.port, self.tls) {
            (Some(p), Some(t)) => (p, t),
            (None, Some(t)) => (default_port(t), t),
            (Some(p), None) => (p, default_tls(p)),
            (None, None) if logs_in => (587, TlsMode::StartTls),
            (None, None) => (25, TlsMode::Opportunistic),
        };
        if logs_in && tls == TlsMode::None && !self.allow_insecure_auth {
            return Err(config_err(
                "credentials are configured with TLS off: they would cross the network in clear text; \
                 enable TLS or allow insecure AUTH explicitly"
                    .into(),
            ));
        }
        let rate_interval = match self.rate {
            None => None,
            // At least one a day: slower than that is no rate limit anyone means.
            Some(r) if r.is_finite() && r >= 1.0 / 86_400.0 => Some(Duration::from_secs_f64(1.0 / r)),
            Some(r) => {
                return Err(config_err(format!(
                    "the rate limit must be a number of messages per second of at least 1/86400 (one a day), not {r}"
                )));
            }
        };
        let ehlo = match self.ehlo {
            Some(n) => {
                Some(EhloName::parse(&n).map_err(|e| config_err(format!("invalid EHLO name {n:?}: {e}")))?)
            }
            None => None,
        };
        let tls_setup = match tls {
            TlsMode::None => None,
            _ => Some(TlsSetup::new(
                &self.host,
                self.ca_file.as_deref(),
                self.skip_verify,
            )?),
        };
        Ok(Config {
            host: self.host,
            port,
            tls,
            tls_setup,
            credentials,
            token_source: self.token_source,
            mechanism: self.mechanism,
            allow_insecure_auth: self.allow_insecure_auth,
            ehlo,
            timeouts: self.timeouts,
            connect_timeout: self.connect_timeout,
            idle_timeout: self.idle_timeout,
            max_connections: self.max_connections,
            max_messages_per_connection: self.max_messages_per_connection,
            rate_interval,
            pipelining: self.pipelining,
            chunking: self.chunking,
            max_in_flight: self.max_in_flight,
            transcript: self.transcript,
            retry: self.retry,
        })
    }
}

/// The port that goes with a TLS mode.
fn default_port(tls: TlsMode) -> u16 {
    match tls {
        TlsMode::Implicit => 465,
        TlsMode::StartTls => 587,
        _ => 25,
    }
}

/// The TLS mode that goes with a port.
fn default_tls(port: u16) -> TlsMode {
    match port {
        465 => TlsMode::Implicit,
        587 => TlsMode::StartTls,
        _ => TlsMode::Opportunistic,
    }
}

impl Config {
    /// The `host:port` for messages.
    pub(crate) fn server(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The session settings; `credentials` replace the configured ones (a fresh OAuth 2.0 token).
    pub(crate) fn session(&self, ehlo: EhloName, credentials: Option<Credentials>) -> SessionConfig {
        let mut c = SessionConfig::new(ehlo)
            .tls(self.tls)
            .timeouts(self.timeouts)
            .pipelining(self.pipelining)
            .chunking(self.chunking)
            .max_in_flight(self.max_in_flight)
            .allow_insecure_auth(self.allow_insecure_auth)
            .transcript(self.transcript.is_some());
        if let Some(cr) = credentials.or_else(|| self.credentials.clone()) {
            c = c.credentials(cr);
        }
        if let Some(m) = &self.mechanism {
            c = c.mechanism(m.clone());
        }
        c
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("credentials", &self.credentials)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_and_tls_go_together() {
        let r = |b: ClientBuilder| {
            let c = b.resolve().unwrap();
            (c.port, c.tls)
        };
        assert_eq!(r(ClientBuilder::new("mx")), (25, TlsMode::Opportunistic));
        assert_eq!(r(ClientBuilder::new("mx").port(465)), (465, TlsMode::Implicit));
        assert_eq!(r(ClientBuilder::new("mx").port(587)), (587, TlsMode::StartTls));
        assert_eq!(
            r(ClientBuilder::new("mx").port(2525)),
            (2525, TlsMode::Opportunistic)
        );
        assert_eq!(
            r(ClientBuilder::new("mx").tls(TlsMode::Implicit)),
            (465, TlsMode::Implicit)
        );
        assert_eq!(
            r(ClientBuilder::new("mx").credentials("u", "p")),
            (587, TlsMode::StartTls)
        );
        assert_eq!(
            r(ClientBuilder::new("mx").port(25).tls(TlsMode::None)),
            (25, TlsMode::None)
        );
    }

    #[test]
    fn contradictions_are_refused() {
        let e = ClientBuilder::new("mx")
            .tls(TlsMode::None)
            .credentials("u", "p")
            .resolve()
            .err()
            .unwrap();
        assert!(e.to_string().contains("clear text"), "{e}");
        assert!(
            ClientBuilder::new("mx")
                .tls(TlsMode::None)
                .credentials("u", "p")
                .allow_insecure_auth(true)
                .resolve()
                .is_ok()
        );
        assert!(
            ClientBuilder::new("mx")
                .credentials("u\r\n", "p")
                .resolve()
                .is_err()
        );
        assert!(ClientBuilder::new("mx").ehlo("bad name").resolve().is_err());
        assert!(ClientBuilder::new("mx x").resolve().is_err());
    }

    #[test]
    fn debug_hides_the_password() {
        let b = ClientBuilder::new("mx").credentials("joe", "hunter2");
        assert!(!format!("{b:?}").contains("hunter2"));
    }
}
