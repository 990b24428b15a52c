//! The LISTEN connection: wakes this process's idle workers as soon as any process commits new
//! or retried mail (retry notifies in its transaction; enqueue right after its commit, see
//! `notify`).
//!
//! The connection is re-established with backoff (100 ms doubling to 5 s) when it is lost, for
//! as long as the outbox is open; after each (re)connection the workers are woken once, since
//! notifications sent while no one listened are lost.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Config};

use super::CHANNEL;
use super::tls::MakeTls;

/// Starts listening; the task runs until aborted (the outbox aborts it when dropped).
pub(crate) fn spawn(config: Config, tls: MakeTls, wake: Arc<watch::Sender<u64>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(100);
        loop {
            listen(&config, &tls, &wake, &mut backoff).await;
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    })
}

/// One connection's life: returns when it is lost (or could not be made).
async fn listen(config: &Config, tls: &MakeTls, wake: &watch::Sender<u64>, backoff: &mut Duration) {
    let Ok((client, mut connection)) = config.connect(tls.clone()).await else {
        return;
    };
    let (tx, mut rx) = mpsc::channel::<()>(1);
    let driver = tokio::spawn(async move {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => {
                    // A full channel already holds a wake-up: one is as good as many.
                    if let Err(mpsc::error::TrySendError::Closed(())) = tx.try_send(()) {
                        return;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return,
            }
        }
    });
    if client.batch_execute(&format!("LISTEN {CHANNEL}")).await.is_ok() {
        *backoff = Duration::from_millis(100);
        wake.send_modify(|n| *n = n.wrapping_add(1));
        while rx.recv().await.is_some() {
            wake.send_modify(|n| *n = n.wrapping_add(1));
        }
    }
    driver.abort();
}
