//! State shared by the connections, the handle and the web side of one sink: the config,
//! where messages go, the kept messages and who is told about them.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{Notify, broadcast};

use crate::config::SinkConfig;
use crate::fault::{Chaos, FaultAction, FaultBook, FaultStage};
use crate::limits::Slots;
use crate::mailbox::{Change, Mailbox};
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
    pub(crate) slots: Arc<Slots>,
    pub(crate) messages: Mutex<Mailbox>,
    /// Every change to `messages`, for live views; sending fails only when nobody listens.
    pub(crate) changes: broadcast::Sender<Change>,
    pub(crate) delivered: AtomicU64,
    pub(crate) connections: AtomicU64,
    pub(crate) changed: Notify,
    pub(crate) next_id: AtomicU64,
    /// The configured faults and their counts.
    pub(crate) faults: FaultBook,
    /// Makes ids unique between sinks writing to the same directory.
    pub(crate) epoch: u64,
    /// The random state for chaos (xorshift64*).
    pub(crate) rng: AtomicU64,
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
            let changes = self.mailbox().push(msg);
            for c in changes {
                let _ = self.changes.send(c);
            }
        }
        self.delivered.fetch_add(1, Ordering::Release);
        self.changed.notify_waiters();
    }

    /// The kept messages, locked.
    pub(crate) fn mailbox(&self) -> std::sync::MutexGuard<'_, Mailbox> {
        self.messages.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Deletes one kept message; returns whether it was there.
    pub(crate) fn delete(&self, id: &str) -> bool {
        let gone = self.mailbox().remove(id);
        if gone {
            let _ = self.changes.send(Change::Removed(id.to_string()));
        }
        gone
    }

    /// Deletes and returns every kept message.
    pub(crate) fn clear(&self) -> Vec<Arc<ReceivedMessage>> {
        let all = self.mailbox().take();
        let _ = self.changes.send(Change::Cleared);
        all
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
