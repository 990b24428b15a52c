//! The listening socket, the shared store, and the handle tests hold.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use thiserror::Error;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use crate::config::{SinkBuilder, SinkConfig};
use crate::conn::Conn;
use crate::fault::{Chaos, Fault, FaultAction, FaultBook, FaultStage, FiredTimeout};
use crate::limits::{Backoff, MemoryBudget, Slots};
use crate::spool::Spool;
use crate::store::{ReceivedMessage, Store};

/// State shared by every connection of one sink.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: SinkConfig,
    /// Where accepted messages are written.
    pub(crate) store: Store,
    /// Where content goes while it arrives.
    pub(crate) spool: Spool,
    /// The connection cap.
    slots: Arc<Slots>,
    messages: Mutex<Vec<ReceivedMessage>>,
    delivered: AtomicU64,
    connections: AtomicU64,
    changed: Notify,
    next_id: AtomicU64,
    /// The configured faults and their counts.
    faults: FaultBook,
    /// Makes ids unique between sinks writing to the same directory.
    epoch: u64,
    /// The random state for chaos (xorshift64*).
    rng: AtomicU64,
}

impl Shared {
    pub(crate) fn next_id(&self) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        format!("{}-{}-{n:06}", self.epoch, std::process::id())
    }

    pub(crate) fn deliver(&self, msg: ReceivedMessage) {
        if let Some(f) = &self.config.on_message {
            f(&msg);
        }
        if self.config.keep_messages {
            self.messages
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(msg);
        }
        self.delivered.fetch_add(1, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// A random chaos fault for a new transaction, or none.
    pub(crate) fn chaos(&self) -> Option<Chaos> {
        let (p, _) = self.config.chaos?;
        let x = self.next_random();
        let roll = (x >> 11) as f64 / (1u64 << 53) as f64;
        (roll < p).then(|| Chaos::ALL[(x % Chaos::ALL.len() as u64) as usize].clone())
    }

    /// xorshift64*: deterministic for a seed, shared by every connection.
    fn next_random(&self) -> u64 {
        let mut x = self.rng.load(Ordering::Relaxed);
        loop {
            let mut y = x;
            y ^= y >> 12;
            y ^= y << 25;
            y ^= y >> 27;
            match self
                .rng
                .compare_exchange_weak(x, y, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return y.wrapping_mul(0x2545_F491_4F6C_DD1D),
                Err(now) => x = now,
            }
        }
    }

    /// The action of the first fault that applies to this occurrence of `stage`, if any.
    pub(crate) fn fault(&self, stage: FaultStage, addrs: &[&str]) -> Option<FaultAction> {
        let hit = self.faults.pick(stage, addrs);
        if hit.is_some() {
            self.changed.notify_waiters();
        }
        hit
    }
}

/// A running sink. Dropping it stops the server and closes its connections.
#[derive(Debug)]
pub struct SinkHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

/// [`SinkHandle::wait_for`] ran out of time.
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
        let shared = Arc::new(Shared {
            rng: AtomicU64::new(seed),
            faults: FaultBook::new(&self.config.faults),
            slots: Slots::new(limits.max_connections),
            store,
            spool,
            config: self.config,
            messages: Mutex::new(Vec::new()),
            delivered: AtomicU64::new(0),
            connections: AtomicU64::new(0),
            changed: Notify::new(),
            next_id: AtomicU64::new(0),
            epoch: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs(),
        });
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(accept_loop(listener, shared.clone(), stopped));
        Ok(SinkHandle { addr, shared, stop })
    }
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
            .messages
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Removes and returns the messages received so far.
    pub fn take_messages(&self) -> Vec<ReceivedMessage> {
        std::mem::take(
            &mut *self
                .shared
                .messages
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
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
    pub async fn wait_for(&self, n: u64, timeout: Duration) -> Result<(), WaitTimeout> {
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
