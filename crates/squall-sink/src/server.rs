//! The listening socket, the shared store, and the handle tests hold.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, broadcast, watch};
use tokio::task::JoinSet;

use crate::config::SinkBuilder;
use crate::conn::Conn;
use crate::expect::{Expect, NoMatch};
use crate::fault::{Fault, FaultBook, FiredTimeout};
use crate::limits::{Backoff, MemoryBudget, Slots};
use crate::mail::Mail;
use crate::mailbox::Mailbox;
use crate::shared::Shared;
use crate::spool::Spool;
use crate::store::{ReceivedMessage, Store};

/// A running sink. Dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct SinkHandle {
    addr: SocketAddr,
    /// Where the page and API listen (feature `web`).
    web_addr: Option<SocketAddr>,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    reload: Reload,
}

/// What a sink read back from its Maildir when it started ([`SinkHandle::reload`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reload {
    /// Messages kept from the Maildir's `new/` and `cur/`.
    pub loaded: usize,
    /// Files skipped (symlinks, other non-files, unreadable, empty or over the size limit)
    /// and envelope records that could not be used (the message is then kept without its
    /// envelope).
    pub skipped: usize,
    /// Older messages left on disk, unread, to respect [`SinkBuilder::max_messages`].
    pub left: usize,
    /// One line per skip (escaped, at most 100), for a log.
    pub warnings: Vec<String>,
}

/// [`SinkHandle::wait_for_count`] ran out of time.
#[derive(Debug, Error)]
#[error("the sink received {got} of {want} messages within {timeout:?}")]
pub struct WaitTimeout {
    /// How many arrived.
    pub got: u64,
    /// How many were expected.
    pub want: u64,
    /// How long it waited.
    pub timeout: Duration,
}

impl SinkBuilder {
    /// Binds the listening socket and starts serving in the background (needs a tokio runtime).
    /// Creates the directories to write into first.
    pub async fn start(self) -> io::Result<SinkHandle> {
        #[cfg(feature = "web")]
        let web = self.web;
        let store = Store::open(self.config.eml_dir.as_deref(), self.config.maildir.as_deref())?;
        if let Some(dir) = &self.config.spool_dir {
            std::fs::create_dir_all(dir)?;
        }
        let fallback = self.config.spool_dir.clone().unwrap_or_else(std::env::temp_dir);
        let (dir, suffix) = store.spool_place(&fallback);
        let limits = &self.config.limits;
        let spool = Spool {
            dir,
            suffix,
            threshold: limits.spool_threshold,
            budget: MemoryBudget::new(limits.memory),
            size_limit: self.config.size_limit(),
        };
        let listener = TcpListener::bind(self.listen).await?;
        let addr = listener.local_addr()?;
        // xorshift needs a non-zero state.
        let seed = self.config.chaos.map_or(1, |(_, seed)| seed.max(1));
        let max_messages = self.config.max_messages;
        let shared = Arc::new(Shared {
            rng: AtomicU64::new(seed),
            faults: FaultBook::new(&self.config.faults),
            slots: Slots::new(limits.max_connections),
            store,
            spool,
            config: self.config,
            messages: Mutex::new(Mailbox::new(max_messages)),
            changes: broadcast::channel(1024).0,
            delivered: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            changed: Notify::new(),
            next_id: AtomicU64::new(0),
            epoch: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        });
        let reload = reload(&shared).await?;
        let (stop, stopped) = watch::channel(false);
        #[cfg(feature = "web")]
        let web_addr = match web {
            Some(cfg) => Some(crate::web::serve(cfg, shared.clone(), stopped.clone()).await?),
            None => None,
        };
        #[cfg(not(feature = "web"))]
        let web_addr = None;
        tokio::spawn(accept_loop(listener, shared.clone(), stopped));
        Ok(SinkHandle {
            addr,
            web_addr,
            shared,
            stop,
            reload,
        })
    }
}

/// Keeps the messages already in the Maildir, oldest first, when the sink keeps messages.
/// They get new ids, and do not count as delivered.
async fn reload(shared: &Arc<Shared>) -> io::Result<Reload> {
    let Some(md) = shared.store.maildir().cloned() else {
        return Ok(Reload::default());
    };
    if !shared.config.keep_messages {
        return Ok(Reload::default());
    }
    let cap = shared.config.max_messages;
    let size_limit = shared.config.size_limit();
    let found = tokio::task::spawn_blocking(move || md.reload(cap, size_limit))
        .await
        .map_err(io::Error::other)?;
    let loaded = found.messages.len();
    {
        let mut mailbox = shared.mailbox();
        for mut msg in found.messages {
            msg.id = shared.next_id();
            mailbox.push(msg);
        }
    }
    Ok(Reload {
        loaded,
        skipped: found.skipped,
        left: found.left,
        warnings: found.warnings,
    })
}

/// Accepts connections until stopped; dropping the set at the end aborts those still open.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let mut conns = JoinSet::new();
    let mut backoff = Backoff::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    backoff.succeeded();
                    shared.admit(stream, &mut conns);
                }
                Err(_) => {
                    // Out of file descriptors (EMFILE, ENFILE) or memory: the listener stays
                    // readable, so without a pause this loop would spin on a core.
                    let pause = backoff.failed();
                    tokio::select! {
                        _ = stopped.changed() => break,
                        _ = tokio::time::sleep(pause) => {}
                    }
                }
            },
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
        }
    }
}

impl Shared {
    /// Serves a new connection, or refuses it when the cap is reached.
    fn admit(self: &Arc<Self>, stream: TcpStream, conns: &mut JoinSet<()>) {
        let Some(slot) = self.slots.try_acquire() else {
            // A new connection's send buffer has room for one line: say why without waiting
            // on this client, then close.
            let line = format!(
                "421 4.7.0 {} Error: too many connections\r\n",
                self.config.hostname
            );
            let _ = stream.try_write(line.as_bytes());
            return;
        };
        let _ = stream.set_nodelay(true);
        self.connections.fetch_add(1, Ordering::Relaxed);
        let shared = self.clone();
        conns.spawn(async move {
            let _slot = slot;
            let _ = Conn::new(Box::new(stream), shared).run().await;
        });
    }
}

impl SinkHandle {
    /// Where the sink listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What was read back from the Maildir at start: how many messages, and what was skipped
    /// and why. Empty without a Maildir or when messages are not kept.
    pub fn reload(&self) -> &Reload {
        &self.reload
    }

    /// Where the page and the HTTP API listen, when `SinkBuilder::web` was given (feature
    /// `web`).
    pub fn web_addr(&self) -> Option<SocketAddr> {
        self.web_addr
    }

    /// An `smtp://` URL for a client to reach this sink, with the TLS mode it speaks:
    /// `smtp://127.0.0.1:PORT?tls=none` for a plain sink, `?tls=starttls` when it has a
    /// certificate, `smtps://…` with implicit TLS. (With TLS, the client must also trust the
    /// sink's certificate, and connect with a name it holds.)
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sink = squall_sink::Sink::start().await?;
    /// let client = squall::Client::from_url(&sink.url())?;
    /// client.send("me@example.org", ["you@example.net"], "Subject: hi\r\n\r\nhello\r\n").await?;
    /// assert_eq!(sink.messages()[0].rcpt_to, ["you@example.net"]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn url(&self) -> String {
        let host = match self.addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let port = self.addr.port();
        match (&self.shared.config.tls, self.shared.config.implicit_tls) {
            (None, _) => format!("smtp://{host}:{port}?tls=none"),
            (Some(_), false) => format!("smtp://{host}:{port}?tls=starttls"),
            (Some(_), true) => format!("smtps://{host}:{port}"),
        }
    }

    /// Every message received so far (when keeping messages, the default).
    pub fn messages(&self) -> Vec<ReceivedMessage> {
        self.shared
            .mailbox()
            .entries()
            .map(|e| (*e.msg).clone())
            .collect()
    }

    /// Every message received so far, parsed, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        let kept: Vec<_> = self.shared.mailbox().entries().map(|e| e.msg.clone()).collect();
        kept.into_iter().map(Mail::new).collect()
    }

    /// Removes and returns the messages received so far.
    pub fn take_messages(&self) -> Vec<ReceivedMessage> {
        self.shared
            .clear()
            .into_iter()
            .map(|m| Arc::try_unwrap(m).unwrap_or_else(|m| (*m).clone()))
            .collect()
    }

    /// Deletes one kept message by id; returns whether it was there.
    pub fn delete(&self, id: &str) -> bool {
        self.shared.delete(id)
    }

    /// How many messages are kept now (see [`SinkBuilder::max_messages`]).
    pub fn kept(&self) -> usize {
        self.shared.mailbox().len()
    }

    /// How many messages were accepted in all.
    pub fn delivered(&self) -> u64 {
        self.shared.delivered.load(Ordering::Acquire)
    }

    /// How many connections were accepted in all (those refused over the cap not counted).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// How many connections are open now.
    pub fn active_connections(&self) -> usize {
        self.shared.slots.active()
    }

    /// Bytes of message content held in memory now, by transactions in progress (see
    /// [`SinkBuilder::memory_limit`]).
    pub fn memory_in_use(&self) -> usize {
        self.shared.spool.budget.in_use()
    }

    /// Waits until at least `n` messages were accepted in all, or fails after `timeout`.
    pub async fn wait_for_count(&self, n: u64, timeout: Duration) -> Result<(), WaitTimeout> {
        let wait = async {
            loop {
                let notified = self.shared.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if self.delivered() >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .map_err(|_| WaitTimeout {
                got: self.delivered(),
                want: n,
                timeout,
            })
    }

    /// Waits until a kept message satisfies `predicate` (one that arrived before the call
    /// counts too) and returns it; or fails after `timeout` with the list of what did arrive.
    /// Woken by each arrival: no polling.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # use std::time::Duration;
    /// let sink = squall_sink::Sink::start().await?;
    /// let client = squall::Client::from_url(&sink.url())?;
    /// client.send("me@example.org", ["you@example.net"], "Subject: hi\r\n\r\nhello\r\n").await?;
    /// let mail = sink.wait_for(|m| m.subject() == Some("hi"), Duration::from_secs(5)).await?;
    /// assert_eq!(mail.text().as_deref(), Some("hello\r\n"));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn wait_for<F>(&self, predicate: F, timeout: Duration) -> Result<Mail, NoMatch>
    where
        F: Fn(&Mail) -> bool,
    {
        self.wait_matching(|| "a message matching the predicate".into(), predicate, timeout)
            .await
    }

    /// Waits until a message as `expected` arrives (or is already there) and returns it; or
    /// fails after `timeout` with a message that says what was expected and lists what came.
    pub async fn expect(&self, expected: Expect, timeout: Duration) -> Result<Mail, NoMatch> {
        self.wait_matching(|| expected.to_string(), |m| expected.matches(m), timeout)
            .await
    }

    /// The first kept message as `expected`, without waiting.
    pub fn find(&self, expected: &Expect) -> Result<Mail, NoMatch> {
        match self.mails().into_iter().find(|m| expected.matches(m)) {
            Some(m) => Ok(m),
            None => Err(self.no_match(expected.to_string(), Duration::ZERO)),
        }
    }

    async fn wait_matching(
        &self,
        expected: impl FnOnce() -> String,
        predicate: impl Fn(&Mail) -> bool,
        timeout: Duration,
    ) -> Result<Mail, NoMatch> {
        let deadline = tokio::time::Instant::from_std(Instant::now() + timeout);
        let mut looked = 0;
        loop {
            let notified = self.shared.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // Parse outside the lock: the connections deliver under it.
            let fresh: Vec<_> = self
                .shared
                .mailbox()
                .since(looked)
                .map(|e| (e.seq, e.msg.clone()))
                .collect();
            for (seq, msg) in fresh {
                looked = seq;
                let mail = Mail::new(msg);
                if predicate(&mail) {
                    return Ok(mail);
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(self.no_match(expected(), timeout));
            }
        }
    }

    fn no_match(&self, expected: String, waited: Duration) -> NoMatch {
        NoMatch {
            expected,
            got: self.mails().iter().map(Mail::summary).collect(),
            waited,
            kept: self.shared.config.keep_messages,
        }
    }

    /// Each fault given to the builder, in the order added, with how many times it fired: its
    /// action replaced the normal answer. A fault whose stage was never reached, or whose `#N`
    /// or address never matched, shows 0. A test that injects a fault should check that it
    /// fired; else it may pass against a well-behaved server.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let sink = squall_sink::Sink::builder()
    ///     .fault("rcpt:bad@example.net=550 5.1.1 no such user".parse()?)
    ///     .start()
    ///     .await?;
    /// let client = squall::Client::from_url(&sink.url())?;
    /// client.send("me@example.org", ["bad@example.net", "ok@example.net"], "hi").await?;
    /// assert_eq!(sink.faults_fired()[0].1, 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn faults_fired(&self) -> Vec<(Fault, u64)> {
        self.shared.faults.fired()
    }

    /// Waits until the fault added `index`-th (from 0) fired at least `n` times, or fails after
    /// `timeout`. For faults at stages a client reaches after its caller is told the outcome,
    /// such as `quit`.
    pub async fn wait_fired(&self, index: usize, n: u64, timeout: Duration) -> Result<(), FiredTimeout> {
        let faults = &self.shared.faults;
        let fail = || FiredTimeout {
            fault: faults.get(index).map_or_else(|| "?".into(), ToString::to_string),
            got: faults.fired_at(index),
            want: n,
            timeout,
        };
        if faults.get(index).is_none() {
            return Err(fail());
        }
        let wait = async {
            loop {
                let notified = self.shared.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if faults.fired_at(index) >= n {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| fail())
    }

    /// Stops accepting and closes every connection.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

impl Drop for SinkHandle {
    fn drop(&mut self) {
        self.stop();
    }
}
