//! How a sink is set up.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::fault::Fault;
use crate::store::ReceivedMessage;

/// Called for each message the sink accepts.
pub(crate) type OnMessage = Arc<dyn Fn(&ReceivedMessage) + Send + Sync>;

/// Everything a running sink needs to know.
#[derive(Clone)]
pub(crate) struct SinkConfig {
    pub(crate) hostname: String,
    pub(crate) size_limit: u64,
    pub(crate) max_recipients: usize,
    pub(crate) maildir: Option<PathBuf>,
    pub(crate) faults: Vec<Fault>,
    /// EHLO keywords not to offer, upper-cased.
    pub(crate) disabled: Vec<String>,
    pub(crate) keep_messages: bool,
    pub(crate) idle_timeout: Duration,
    pub(crate) on_message: Option<OnMessage>,
}

impl fmt::Debug for SinkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SinkConfig")
            .field("hostname", &self.hostname)
            .field("size_limit", &self.size_limit)
            .field("maildir", &self.maildir)
            .field("faults", &self.faults)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

impl SinkConfig {
    pub(crate) fn offers(&self, keyword: &str) -> bool {
        !self.disabled.iter().any(|d| d == keyword)
    }
}

/// Sets up a [`Sink`](crate::Sink) before it starts.
#[derive(Clone, Debug)]
pub struct SinkBuilder {
    pub(crate) listen: SocketAddr,
    pub(crate) config: SinkConfig,
}

impl Default for SinkBuilder {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            config: SinkConfig {
                hostname: "squall-sink.localhost".into(),
                size_limit: 64 * 1024 * 1024,
                max_recipients: 1000,
                maildir: None,
                faults: Vec::new(),
                disabled: Vec::new(),
                keep_messages: true,
                idle_timeout: Duration::from_secs(300),
                on_message: None,
            },
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

    /// The SIZE limit to advertise and enforce, in bytes (default 64 MiB).
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
    /// missing).
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

    /// Calls `f` with each accepted message (after it is saved, before the final reply is sent).
    pub fn on_message(mut self, f: impl Fn(&ReceivedMessage) + Send + Sync + 'static) -> Self {
        self.config.on_message = Some(Arc::new(f));
        self
    }

    /// How long a silent client may stay connected (default 5 minutes).
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = timeout;
        self
    }
}
