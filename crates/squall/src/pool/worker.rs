//! A worker: the task behind one connection slot. It connects, drives the connection while
//! messages are queued, and when setup fails, tries again after a backoff or fails the messages
//! that would meet the same failure.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use squall_proto::session::ErrorKind;

use super::Pool;
use super::retry;
use super::seat::Seat;
use crate::connect;
use crate::driver::{Driver, SetupFailed};

/// Runs connections while messages are queued; the task ends when none are left.
///
/// A connection that cannot be set up (refused, greeting or EHLO refused, TLS or AUTH failing)
/// is tried again after a backoff while the failure is temporary, as often as the retry policy
/// allows; then the messages it would fail for fail with it (see [`Pool::setup_failed`]).
pub(super) async fn run(pool: Arc<Pool>) {
    let mut guard = Guard(Some(pool.clone()));
    let mut failures = 0u32;
    loop {
        let began = Instant::now();
        match connection(&pool).await {
            Ok(()) => failures = 0,
            Err(SetupFailed { error: e, at }) => {
                failures += 1;
                let policy = pool.config.retry;
                if e.kind() == ErrorKind::Transient && failures < policy.attempts {
                    // Waiting, but not past a queued message's deadline.
                    let mut wake = Instant::now() + retry::backoff(&policy, failures);
                    if let Some(d) = pool.earliest_deadline() {
                        wake = wake.min(d);
                    }
                    tokio::time::sleep_until(wake.into()).await;
                    pool.expire(Some(&e));
                } else {
                    pool.setup_failed(began, at, &e);
                    failures = 0;
                }
            }
        }
        if pool.worker_may_stop() {
            guard.0 = None;
            return;
        }
    }
}

/// One connection from connect to close.
async fn connection(pool: &Arc<Pool>) -> Result<(), SetupFailed> {
    let opened = connect::open(&pool.config, || {
        pool.opened.fetch_add(1, Ordering::Relaxed);
    })
    .await;
    let (io, session, link) = opened.map_err(|error| SetupFailed {
        error,
        at: Instant::now(),
    })?;
    Driver::new(&pool.config, io, session, link)
        .run(&mut Seat::new(pool.clone()))
        .await
        .map(drop)
}

/// Gives the connection slot back if a worker ends abnormally (a panic is a bug in squall, but
/// it must not leave the client unable to open connections, or waiters hanging).
struct Guard(Option<Arc<Pool>>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take() {
            pool.worker_failed();
        }
    }
}
