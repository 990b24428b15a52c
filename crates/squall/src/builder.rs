//! [`ClientBuilder`]: where to send, how securely, and how patiently.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use squall_proto::address::EhloName;
use squall_proto::auth::{Credentials, Mechanism};
use squall_proto::reply::ReplyLimits;
use squall_proto::session::{Protocol, SessionConfig, Timeouts, Tls, TranscriptLine};

use crate::config::{Config, PoolPolicy, RetryPolicy, TokenSource};
use crate::error::Error;
use crate::resolve::{Fixed, Resolve, System};
use crate::tls::{ClientCert, TlsOptions, TlsSetup, TlsVersion};

mod lmtp;
mod proxy;

/// Configures a [`Client`](crate::Client).
///
/// Ports and TLS go together: port 465 means implicit TLS, 587 STARTTLS (required), anything else
/// opportunistic STARTTLS, unless [`tls`](Self::tls) says otherwise; with credentials and no port,
/// the submission port 587 is used.
///
/// The protocol options ([`pipelining`](Self::pipelining), [`max_in_flight`](Self::max_in_flight),
/// timeouts, …) are those of the core's [`SessionConfig`], with its defaults: the builder keeps
/// one as the template for every connection.
#[derive(Clone)]
pub struct ClientBuilder {
    host: String,
    port: Option<u16>,
    /// See [`unix_socket`](Self::unix_socket).
    socket: Option<PathBuf>,
    /// See [`proxy`](Self::proxy).
    proxy: Option<crate::proxy::Proxy>,
    tls: Option<Tls>,
    session: SessionConfig,
    token_source: Option<(String, TokenSource)>,
    ehlo: Option<EhloName>,
    resolver: Arc<dyn Resolve>,
    connect_timeout: Duration,
    pool: PoolPolicy,
    retry: RetryPolicy,
    tls_options: TlsOptions,
    transcript: Option<crate::TranscriptFn>,
    #[cfg(feature = "dkim")]
    dkim: Vec<crate::dkim::DkimSigner>,
    /// The first invalid setting, reported by `build`.
    error: Option<Error>,
}

impl ClientBuilder {
    /// Sends through `host`: a name or an IP address, optionally with its port
    /// (`mail.example.org:2525`, `[::1]:2525`; else [`port`](Self::port) or the default).
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port: None,
            socket: None,
            proxy: None,
            tls: None,
            session: SessionConfig::new(),
            token_source: None,
            ehlo: None,
            resolver: Arc::new(System),
            connect_timeout: Duration::from_secs(30),
            pool: PoolPolicy::default(),
            retry: RetryPolicy::default(),
            tls_options: TlsOptions::default(),
            transcript: None,
            #[cfg(feature = "dkim")]
            dkim: Vec::new(),
            error: None,
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

    /// `host:port` or `[v6]:port` given as the host (what people type): the port is taken from
    /// it, unless `.port()` gave another, which is an error rather than a guess.
    fn split_port(&mut self) -> Result<(), Error> {
        if !self.host.contains(':') || self.host.parse::<std::net::Ipv6Addr>().is_ok() {
            return Ok(());
        }
        let invalid = || {
            Error::input(format!(
                "invalid server {:?}: use HOST, HOST:PORT or [IPv6]:PORT",
                self.host
            ))
        };
        let (host, port) = crate::url::split_host_port(&self.host)
            .filter(|(h, _)| !h.is_empty() && !h.contains(':') || h.parse::<std::net::Ipv6Addr>().is_ok())
            .ok_or_else(invalid)?;
        match (port, self.port) {
            (Some(p), Some(q)) if p != q => {
                return Err(Error::input(format!(
                    "the server {:?} names port {p} and .port() gives {q}; keep one",
                    self.host
                )));
            }
            (Some(p), _) => self.port = Some(p),
            (None, _) => {}
        }
        self.host = host;
        Ok(())
    }

    fn fail(mut self, e: Error) -> Self {
        self.error.get_or_insert(e);
        self
    }

    fn session(mut self, f: impl FnOnce(SessionConfig) -> SessionConfig) -> Self {
        self.session = f(self.session);
        self
    }

    /// The port (default: from the TLS mode, see the type's docs).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// How to use TLS.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = Some(tls);
        self
    }

    /// Log in with a user name and password (PLAIN, LOGIN or CRAM-MD5, the strongest offered).
    pub fn credentials(self, user: &str, password: &str) -> Self {
        match Credentials::password(user, password) {
            Ok(c) => self.session(|s| s.credentials(c)),
            Err(e) => self.fail(Error::input(format!("invalid credentials: {e}"))),
        }
    }

    /// Log in with an OAuth 2.0 access token (XOAUTH2).
    pub fn oauth2(self, user: &str, token: &str) -> Self {
        match Credentials::oauth2(user, token) {
            Ok(c) => self.session(|s| s.credentials(c)),
            Err(e) => self.fail(Error::input(format!("invalid credentials: {e}"))),
        }
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
        self
    }

    /// Use this SASL mechanism instead of the strongest one offered.
    pub fn mechanism(self, mechanism: Mechanism) -> Self {
        self.session(|s| s.mechanism(mechanism))
    }

    /// Allow credentials over an unencrypted connection, or over opportunistic TLS whose
    /// certificate did not verify. Only for test servers.
    pub fn allow_insecure_auth(self, allow: bool) -> Self {
        self.session(|s| s.allow_insecure_auth(allow))
    }

    /// The name to give in EHLO: a host name (non-ASCII names as their `xn--` A-label) or an
    /// address literal. Default: the address literal of the local address, such as
    /// `[192.0.2.1]`, as RFC 5321 asks of a client without a meaningful host name.
    pub fn ehlo(self, name: &str) -> Self {
        match EhloName::parse(name) {
            Ok(n) => Self {
                ehlo: Some(n),
                ..self
            },
            Err(e) => self.fail(Error::input(format!("invalid EHLO name {name:?}: {e}"))),
        }
    }

    /// Reply timeouts (RFC 5321 §4.5.3.2 by default).
    pub fn timeouts(self, timeouts: Timeouts) -> Self {
        self.session(|s| s.timeouts(timeouts))
    }

    /// Caps every wait, connecting included, at `max`.
    pub fn timeout(mut self, max: Duration) -> Self {
        let capped = self.session.get_timeouts().capped(max);
        self.connect_timeout = self.connect_timeout.min(max);
        self.session(|s| s.timeouts(capped))
    }

    /// How names are looked up (default: the system's resolver).
    pub fn resolver(mut self, resolver: impl Resolve) -> Self {
        self.resolver = Arc::new(resolver);
        self
    }

    /// Connect to these addresses instead of looking the host up (TLS still checks the
    /// certificate against the host name): for tests, and for networks where the name does not
    /// resolve the way it should.
    pub fn resolve_to(self, addresses: impl IntoIterator<Item = std::net::SocketAddr>) -> Self {
        self.resolver(Fixed(addresses.into_iter().collect()))
    }

    /// How long to wait for each TCP connection attempt (default 30 s). Every address of the
    /// server is tried (IPv6 first, a new attempt every 250 ms while others are pending, RFC
    /// 8305), each with this limit.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a connection stays open with nothing to send before QUIT (default 5 s).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.pool.idle_timeout = timeout;
        self
    }

    /// Connections opened at most at once (default 1: one connection, messages in order).
    pub fn max_connections(mut self, n: usize) -> Self {
        self.pool.max_connections = n.max(1);
        self
    }

    /// Close a connection (with QUIT) after this many messages and open a fresh one for the rest
    /// (some providers limit messages per session).
    pub fn max_messages_per_connection(mut self, n: u64) -> Self {
        self.pool.max_messages_per_connection = Some(n.max(1));
        self
    }

    /// Start at most this many messages per second, over all connections (at least one a day).
    pub fn rate_limit(mut self, messages_per_second: f64) -> Self {
        let r = messages_per_second;
        if r.is_finite() && r >= 1.0 / 86_400.0 {
            self.pool.rate_interval = Some(Duration::from_secs_f64(1.0 / r));
            self
        } else {
            self.fail(Error::input(format!(
                "the rate limit must be a number of messages per second of at least 1/86400 (one a day), not {r}"
            )))
        }
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
    pub fn pipelining(self, on: bool) -> Self {
        self.session(|s| s.pipelining(on))
    }

    /// Use CHUNKING (BDAT) when offered (default on).
    pub fn chunking(self, on: bool) -> Self {
        self.session(|s| s.chunking(on))
    }

    /// Content bytes per BDAT chunk (default 256 KiB, at least 1 KiB).
    pub fn bdat_chunk_size(self, bytes: usize) -> Self {
        self.session(|s| s.bdat_chunk_size(bytes))
    }

    /// Messages awaiting their final reply at once on one connection with CHUNKING and
    /// PIPELINING (default 32): enough that a connection 10 ms away is limited by the server and
    /// the bandwidth, not by the round trips. Each is at risk of an ambiguous outcome if the
    /// connection drops before its reply.
    pub fn max_in_flight(self, n: usize) -> Self {
        self.session(|s| s.max_in_flight(n))
    }

    /// Bounds on the size of a server's reply (a hostile server cannot make squall buffer more).
    pub fn reply_limits(self, limits: ReplyLimits) -> Self {
        self.session(|s| s.reply_limits(limits))
    }

    /// Trust the CA certificates in this PEM file too (for a private CA).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls_options.ca_file = Some(path.into());
        self
    }

    /// Accept any server certificate. The connection is then open to interception: use only
    /// against a test server you control.
    pub fn dangerously_skip_certificate_verification(mut self, skip: bool) -> Self {
        self.tls_options.skip_verify = skip;
        self
    }

    /// Present this client certificate (PEM chain, leaf first) and key (PEM) to servers that
    /// ask for one: mutual TLS.
    pub fn client_certificate(mut self, chain_pem: &[u8], key_pem: &[u8]) -> Self {
        match ClientCert::from_pem(chain_pem, key_pem) {
            Ok(c) => {
                self.tls_options.client_cert = Some(Arc::new(c));
                self
            }
            Err(e) => self.fail(Error::input(e)),
        }
    }

    /// The oldest TLS version to agree on (default: TLS 1.2).
    pub fn min_tls_version(mut self, version: TlsVersion) -> Self {
        self.tls_options.min_version = Some(version);
        self
    }

    /// Use this rustls configuration for every handshake, as it is: its roots, its verifier,
    /// its client certificate. It then decides what to trust (opportunistic TLS included), and
    /// `ca_file`, `client_certificate` and `min_tls_version` do not apply.
    pub fn tls_config(mut self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls_options.config = Some(config);
        self
    }

    /// Receive each line of the dialog (secrets redacted), for `--transcript` style output.
    pub fn transcript(mut self, f: impl Fn(&TranscriptLine) + Send + Sync + 'static) -> Self {
        self.transcript = Some(Arc::new(f));
        self.session(|s| s.transcript(true))
    }

    /// Signs every message with DKIM (feature `dkim`). Called again, adds a signature: an RSA
    /// and an Ed25519 signer together reach receivers that check only one kind.
    ///
    /// In-memory messages are signed when they are queued. A file ([`Body::file`](crate::Body::file))
    /// is read once to be signed: `send` does that off the runtime's threads, `submit` on the
    /// calling thread. A stream ([`Body::from_reader`](crate::Body::from_reader)) cannot be
    /// signed, and is refused.
    #[cfg(feature = "dkim")]
    pub fn dkim(mut self, signer: crate::dkim::DkimSigner) -> Self {
        self.dkim.push(signer);
        self
    }

    pub(crate) fn resolve(mut self) -> Result<Config, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        self.split_port()?;
        if self.host.is_empty() || self.host.contains(['\r', '\n', '\0', ' ', '/']) {
            return Err(Error::input(format!("invalid server host {:?}", self.host)));
        }
        let logs_in = self.session.has_credentials() || self.token_source.is_some();
        let lmtp = self.session.get_protocol() == Protocol::Lmtp;
        let (port, tls) = match (self.port, self.tls) {
            (Some(p), Some(t)) => (p, t),
            (None, Some(t)) if lmtp => (lmtp::PORT, t),
            (None, Some(t)) => (default_port(t), t),
            (None, None) if lmtp => (lmtp::PORT, default_tls(lmtp::PORT)),
            (Some(p), None) => (p, default_tls(p)),
            (None, None) if logs_in => (587, Tls::StartTls),
            (None, None) => (25, Tls::Opportunistic),
        };
        let tls = lmtp::check_socket(self.socket.as_deref(), self.tls, tls)?;
        if self.socket.is_some() && self.proxy.is_some() {
            return Err(Error::input("a Unix socket cannot be reached through a proxy"));
        }
        if logs_in && tls == Tls::None && !self.session.allows_insecure_auth() {
            return Err(Error::input(
                "credentials are configured with TLS off: they would cross the network in clear text; \
                 enable TLS or allow insecure AUTH explicitly",
            ));
        }
        let tls_setup = match tls {
            Tls::None => None,
            _ => Some(TlsSetup::new(&self.host, self.tls_options).map_err(Error::input)?),
        };
        Ok(Config {
            host: self.host,
            port,
            socket: self.socket,
            proxy: self.proxy,
            tls: tls_setup,
            session: self.session.tls(tls),
            ehlo: self.ehlo,
            resolver: self.resolver,
            token_source: self.token_source,
            connect_timeout: self.connect_timeout,
            pool: self.pool,
            retry: self.retry,
            transcript: self.transcript,
            #[cfg(feature = "dkim")]
            dkim: self.dkim,
        })
    }
}

/// The port that goes with a TLS mode.
fn default_port(tls: Tls) -> u16 {
    match tls {
        Tls::Implicit => 465,
        Tls::StartTls => 587,
        _ => 25,
    }
}

/// The TLS mode that goes with a port.
fn default_tls(port: u16) -> Tls {
    match port {
        465 => Tls::Implicit,
        587 => Tls::StartTls,
        _ => Tls::Opportunistic,
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("session", &self.session)
            .field("pool", &self.pool)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
