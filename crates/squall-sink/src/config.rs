//! How a sink is set up.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::fault::Fault;
use crate::limits::Limits;
use crate::store::ReceivedMessage;

/// Called for each message the sink accepts.
pub(crate) type OnMessage = Arc<dyn Fn(&ReceivedMessage) + Send + Sync>;

/// Everything a running sink needs to know.
#[derive(Clone)]
pub(crate) struct SinkConfig {
    pub(crate) hostname: String,
    /// 0 means no limit (RFC 1870's `SIZE 0`).
    pub(crate) size_limit: u64,
    pub(crate) max_recipients: usize,
    /// Where `<id>.eml` and `<id>.json` go.
    pub(crate) eml_dir: Option<PathBuf>,
    /// A Maildir to deliver into.
    pub(crate) maildir: Option<PathBuf>,
    /// Where content past the spool threshold goes when neither directory is set.
    pub(crate) spool_dir: Option<PathBuf>,
    pub(crate) limits: Limits,
    pub(crate) faults: Vec<Fault>,
    /// EHLO keywords not to offer, upper-cased.
    pub(crate) disabled: Vec<String>,
    pub(crate) keep_messages: bool,
    /// Kept messages past this many drop the oldest.
    pub(crate) max_messages: Option<usize>,
    pub(crate) on_message: Option<OnMessage>,
    /// The certificate to serve TLS with.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// TLS from the first byte instead of STARTTLS.
    pub(crate) implicit_tls: bool,
    /// Refuse MAIL (and AUTH) before TLS.
    pub(crate) require_tls: bool,
    /// AUTH is required and checked against these (user, password) pairs.
    pub(crate) users: Vec<(String, String)>,
    /// Offer AUTH before TLS too.
    pub(crate) auth_before_tls: bool,
    /// Random faults: (probability per transaction, seed).
    pub(crate) chaos: Option<(f64, u64)>,
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkConfig")
            .field("hostname", &self.hostname)
            .field("size_limit", &self.size_limit)
            .field("eml_dir", &self.eml_dir)
            .field("maildir", &self.maildir)
            .field("limits", &self.limits)
            .field("faults", &self.faults)
            .field("disabled", &self.disabled)
            .field("tls", &self.tls.is_some())
            .field("implicit_tls", &self.implicit_tls)
            .field("require_tls", &self.require_tls)
            .field(
                "users",
                &self.users.iter().map(|(u, _)| u.as_str()).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl SinkConfig {
    pub(crate) fn offers(&self, keyword: &str) -> bool {
        !self.disabled.iter().any(|d| d == keyword)
    }

    /// The size limit, `None` when there is none (configured as 0).
    pub(crate) fn size_limit(&self) -> Option<u64> {
        (self.size_limit > 0).then_some(self.size_limit)
    }
}

/// How the page and API are served.
#[cfg(feature = "web")]
#[derive(Clone)]
pub(crate) struct WebConfig {
    pub(crate) addr: SocketAddr,
    pub(crate) password: Option<String>,
    /// Serve a non-loopback address without a password.
    pub(crate) insecure: bool,
    /// Forwards a message for `POST …/release`; `None`: release is refused.
    pub(crate) release: Option<crate::web::OnRelease>,
}

#[cfg(feature = "web")]
impl fmt::Debug for WebConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebConfig")
            .field("addr", &self.addr)
            .field("password", &self.password.as_ref().map(|_| "…"))
            .field("insecure", &self.insecure)
            .field("release", &self.release.is_some())
            .finish()
    }
}

/// Sets up a [`Sink`](crate::Sink) before it starts.
#[derive(Clone, Debug)]
pub struct SinkBuilder {
    pub(crate) listen: SocketAddr,
    pub(crate) config: SinkConfig,
    #[cfg(feature = "web")]
    pub(crate) web: Option<WebConfig>,
}

impl Default for SinkBuilder {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            config: SinkConfig {
                hostname: "squall-sink.localhost".into(),
                size_limit: 64 * 1024 * 1024,
                max_recipients: 1000,
                eml_dir: None,
                maildir: None,
                spool_dir: None,
                limits: Limits::default(),
                faults: Vec::new(),
                disabled: Vec::new(),
                keep_messages: true,
                max_messages: None,
                on_message: None,
                tls: None,
                implicit_tls: false,
                require_tls: false,
                users: Vec::new(),
                auth_before_tls: false,
                chaos: None,
            },
            #[cfg(feature = "web")]
            web: None,
        }
    }
}

impl SinkBuilder {
    /// The address to listen on (default `127.0.0.1:0`: a free loopback port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// The name in the greeting and EHLO reply.
    pub fn hostname(mut self, name: impl Into<String>) -> Self {
        self.config.hostname = name.into();
        self
    }

    /// The SIZE limit to advertise and enforce, in bytes (default 64 MiB). `0` means no limit, as
    /// in RFC 1870: `SIZE` is offered without a number and any size is accepted.
    pub fn size_limit(mut self, bytes: u64) -> Self {
        self.config.size_limit = bytes;
        self
    }

    /// Recipients accepted per message before `452 too many recipients` (default 1000).
    pub fn max_recipients(mut self, n: usize) -> Self {
        self.config.max_recipients = n;
        self
    }

    /// Save each message as `<id>.eml` plus a `<id>.json` envelope in this directory (created if
    /// missing). The `.json` is written last, so a watcher that sees it finds the `.eml` too.
    pub fn eml_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.eml_dir = Some(dir.into());
        self
    }

    /// Deliver each message into this Maildir (created with `tmp/`, `new/` and `cur/` if
    /// missing): written to `tmp/`, flushed to disk, then renamed into `new/` under a unique
    /// name, so mutt, Dovecot or any Maildir reader can read it while the sink runs. Can be
    /// combined with [`eml_dir`](Self::eml_dir).
    pub fn maildir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.maildir = Some(dir.into());
        self
    }

    /// Add a fault to inject (see [`Fault`]).
    pub fn fault(mut self, fault: Fault) -> Self {
        self.config.faults.push(fault);
        self
    }

    /// Do not offer this EHLO extension (`PIPELINING`, `CHUNKING`, `SIZE`, `8BITMIME`,
    /// `SMTPUTF8`, `DSN`, `ENHANCEDSTATUSCODES`, `BINARYMIME`). Without CHUNKING, BDAT is refused
    /// as an unknown command.
    pub fn disable(mut self, keyword: &str) -> Self {
        self.config.disabled.push(keyword.to_ascii_uppercase());
        self
    }

    /// Keep received messages in memory for [`SinkHandle::messages`](crate::SinkHandle::messages)
    /// (default on; turn off for long benchmark runs, where only counts matter).
    pub fn keep_messages(mut self, keep: bool) -> Self {
        self.config.keep_messages = keep;
        self
    }

    /// Keep at most `n` messages in memory (at least 1); a new one past the cap drops the
    /// oldest first, so a catcher that runs for days stays within bounds. Default: no cap.
    pub fn max_messages(mut self, n: usize) -> Self {
        self.config.max_messages = Some(n);
        self
    }

    /// Serve the mail page and the HTTP API on `addr` (feature `web`; `127.0.0.1:0` picks a
    /// free port, see [`SinkHandle::web_addr`](crate::SinkHandle::web_addr)). Messages must
    /// be kept (the default); cap them with [`max_messages`](Self::max_messages). A
    /// non-loopback address needs [`web_password`](Self::web_password) or
    /// [`web_insecure`](Self::web_insecure), or starting fails.
    #[cfg(feature = "web")]
    pub fn web(mut self, addr: SocketAddr) -> Self {
        match &mut self.web {
            Some(w) => w.addr = addr,
            None => {
                self.web = Some(WebConfig {
                    addr,
                    password: None,
                    insecure: false,
                    release: None,
                })
            }
        }
        self
    }

    /// Require this password for every page and API request (HTTP Basic with any user name,
    /// or `Authorization: Bearer <password>`). Without an earlier [`web`](Self::web), the web
    /// side starts on a free loopback port.
    #[cfg(feature = "web")]
    pub fn web_password(mut self, password: impl Into<String>) -> Self {
        if let Some(w) = &mut self.web {
            w.password = Some(password.into());
        } else {
            self = self.web(SocketAddr::from(([127, 0, 0, 1], 0)));
            return self.web_password(password);
        }
        self
    }

    /// Allow a non-loopback web address without a password (anyone who reaches it reads the
    /// mail). Without an earlier [`web`](Self::web), the web side starts on a free loopback
    /// port.
    #[cfg(feature = "web")]
    pub fn web_insecure(mut self, on: bool) -> Self {
        if self.web.is_none() {
            self = self.web(SocketAddr::from(([127, 0, 0, 1], 0)));
        }
        if let Some(w) = &mut self.web {
            w.insecure = on;
        }
        self
    }

    /// Enable `POST /api/v1/messages/{id}/release` (feature `web`; off by default, since it
    /// sends real mail): each call hands `f` a [`Release`](crate::Release) (the URL, the
    /// envelope to use and the captured message) and returns what `f` resolves to, the
    /// forwarding server's receipt as JSON (200) or the error as JSON (502). squall-sink does
    /// not send mail itself; `squall sink --web-release` passes a hook that sends through
    /// the squall client. Without an earlier [`web`](Self::web), the web side starts on a
    /// free loopback port.
    #[cfg(feature = "web")]
    pub fn on_release<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(crate::Release) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = crate::ReleaseOutcome> + Send + 'static,
    {
        if self.web.is_none() {
            self = self.web(SocketAddr::from(([127, 0, 0, 1], 0)));
        }
        if let Some(w) = &mut self.web {
            w.release = Some(Arc::new(move |r| Box::pin(f(r))));
        }
        self
    }

    /// Calls `f` with each accepted message (after it is saved, before the final reply is sent).
    pub fn on_message(mut self, f: impl Fn(&ReceivedMessage) + Send + Sync + 'static) -> Self {
        self.config.on_message = Some(Arc::new(f));
        self
    }

    /// Serve TLS with this certificate chain and key (PEM): STARTTLS is offered, or with
    /// [`implicit_tls`](Self::implicit_tls) TLS starts with the connection.
    pub fn tls_pem(mut self, cert_chain: &[u8], key: &[u8]) -> std::io::Result<Self> {
        self.config.tls = Some(crate::tls::server_config(cert_chain, key)?);
        Ok(self)
    }

    /// [`tls_pem`](Self::tls_pem) from files.
    pub fn tls_files(
        self,
        cert_chain: impl AsRef<std::path::Path>,
        key: impl AsRef<std::path::Path>,
    ) -> std::io::Result<Self> {
        let cert = std::fs::read(cert_chain)?;
        let key = std::fs::read(key)?;
        self.tls_pem(&cert, &key)
    }

    /// TLS from the first byte (port 465 style) instead of STARTTLS; needs a certificate.
    pub fn implicit_tls(mut self, on: bool) -> Self {
        self.config.implicit_tls = on;
        self
    }

    /// Refuse MAIL and AUTH until the session is encrypted (`530 5.7.0 Must issue a STARTTLS
    /// command first`), as a submission server does.
    pub fn require_tls(mut self, on: bool) -> Self {
        self.config.require_tls = on;
        self
    }

    /// Require AUTH and accept this user (PLAIN, LOGIN, CRAM-MD5; for XOAUTH2 the password is the
    /// token). Repeatable. AUTH is offered only after TLS unless [`auth_before_tls`](Self::auth_before_tls).
    pub fn user(mut self, name: impl Into<String>, password: impl Into<String>) -> Self {
        self.config.users.push((name.into(), password.into()));
        self
    }

    /// Offer AUTH on unencrypted sessions too (test setups only).
    pub fn auth_before_tls(mut self, on: bool) -> Self {
        self.config.auth_before_tls = on;
        self
    }

    /// Inject a random fault into about `probability` of transactions (0.01 is 1%): a 4yz or 5yz
    /// refusal at RCPT or after the content, a 421 or a dropped connection at MAIL, a dropped
    /// connection after the content before or after storing it (the ambiguous case), or a delay.
    /// The same `seed` gives the same sequence of choices.
    pub fn chaos(mut self, probability: f64, seed: u64) -> Self {
        self.config.chaos = Some((probability.clamp(0.0, 1.0), seed));
        self
    }

    /// The same as [`command_timeout`](Self::command_timeout), under the name it had before
    /// the limit became absolute; kept so existing callers keep working.
    pub fn idle_timeout(self, timeout: Duration) -> Self {
        self.command_timeout(timeout)
    }

    /// How long the sink waits for a complete command line after its previous reply (default 5
    /// minutes), then answers `421 4.4.2` and closes. The limit is absolute: bytes that trickle
    /// in do not extend it, so a client sending a byte every few seconds is cut off in time.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.config.limits.command_timeout = timeout;
        self
    }

    /// How long a transaction may take, from `MAIL` to the end of its content (default 10
    /// minutes), then `421 4.4.2` and the connection is closed.
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.config.limits.transaction_timeout = timeout;
        self
    }

    /// Connections served at once (default 500); one more is answered `421 4.7.0 … too many
    /// connections` and closed.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.config.limits.max_connections = n;
        self
    }

    /// Bytes of message content held in memory by all connections together (default 64 MiB);
    /// content that does not fit goes to a spool file on disk. Messages kept for
    /// [`SinkHandle::messages`](crate::SinkHandle::messages) are not counted: turn
    /// [`keep_messages`](Self::keep_messages) off for a long-running sink.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.config.limits.memory = bytes;
        self
    }

    /// One message's content past this size goes to a spool file on disk (default 1 MiB).
    pub fn spool_threshold(mut self, bytes: usize) -> Self {
        self.config.limits.spool_threshold = bytes;
        self
    }

    /// Where spool files go when the sink writes no files (default: the system's temporary
    /// directory). With a Maildir they go to its `tmp/`, else to the `.eml` directory, so that
    /// storing a spooled message is a rename.
    pub fn spool_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.config.spool_dir = Some(dir.into());
        self
    }
}
