//! Telling the other processes that mail was queued: one NOTIFY after the commit, for a burst of
//! enqueues.
//!
//! Why not `pg_notify` inside each enqueue's transaction (delivered exactly on commit): a
//! notifying transaction takes a database-wide lock when it commits, so concurrent enqueues
//! committed one after another, which cost about 40 % of the rate of 8 producers. Here at most
//! one NOTIFY is sent and one waits, so a burst of enqueues costs two. A NOTIFY lost (a crash
//! right after the commit, a lost connection) only delays the other processes until their next
//! poll; this process's workers are woken directly.

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::CHANNEL;
use super::pool::Pool;

/// Sends NOTIFY on request, coalescing requests that arrive while one is under way.
pub(crate) struct Notifier {
    requests: mpsc::Sender<()>,
    task: JoinHandle<()>,
}

impl Notifier {
    pub(crate) fn spawn(pool: Pool) -> Self {
        let (requests, mut rx) = mpsc::channel::<()>(1);
        let task = tokio::spawn(async move {
            while rx.recv().await.is_some() {
                if let Ok(conn) = pool.get().await {
                    let _ = conn.batch_execute(&format!("NOTIFY {CHANNEL}")).await;
                }
            }
        });
        Self { requests, task }
    }

    /// Mail was committed: other processes hear of it soon. Never waits.
    pub(crate) fn ping(&self) {
        // A full channel already holds a request that will cover this one.
        let _ = self.requests.try_send(());
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.task.abort();
    }
}
