//! [`Store`]: the one thread that owns the database connection, with group commit.
//!
//! Requests queue on a channel; the thread takes every request waiting (up to a batch limit),
//! runs them in one transaction, each in its own savepoint so one failing request does not undo
//! the others, commits once (one fsync), and only then answers each caller. Concurrent
//! producers so share an fsync instead of paying one each, and no caller hears "done" before its
//! change is durable.

use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::error::OutboxError;

/// Requests per transaction, at most: bounds the time a commit keeps the others waiting.
const MAX_BATCH: usize = 2048;

/// What a request does once the transaction it ran in is over.
type Answer = Box<dyn FnOnce(Result<(), OutboxError>) + Send>;

trait Request: Send {
    /// Runs inside the batch's transaction; the answer to give once it is over, and the error
    /// the request met, if any.
    fn run(self: Box<Self>, conn: &Connection) -> (Answer, Option<OutboxError>);
    /// Answers without running: the transaction could not start.
    fn fail(self: Box<Self>, e: OutboxError);
}

struct Call<F, R> {
    f: F,
    reply: oneshot::Sender<Result<R, OutboxError>>,
}

impl<F, R> Request for Call<F, R>
where
    F: FnOnce(&Connection) -> Result<R, OutboxError> + Send,
    R: Send + 'static,
{
    fn run(self: Box<Self>, conn: &Connection) -> (Answer, Option<OutboxError>) {
        let Self { f, reply } = *self;
        let result = match conn.execute_batch("SAVEPOINT request") {
            Err(e) => Err(OutboxError::db(e)),
            Ok(()) => {
                let r = f(conn);
                let end = if r.is_ok() {
                    "RELEASE request"
                } else {
                    "ROLLBACK TO request; RELEASE request"
                };
                match (conn.execute_batch(end), r) {
                    (Ok(()), r) => r,
                    // The request's own error says more than the failed rollback after it.
                    (Err(_), Err(e)) => Err(e),
                    (Err(e), Ok(_)) => Err(OutboxError::db(e)),
                }
            }
        };
        let error = result.as_ref().err().cloned();
        let answer: Answer = Box::new(move |commit| {
            let _ = reply.send(commit.and(result));
        });
        (answer, error)
    }

    fn fail(self: Box<Self>, e: OutboxError) {
        let _ = self.reply.send(Err(e));
    }
}

/// A handle on the database thread. Cloning shares the thread; it ends when the last handle
/// is dropped.
#[derive(Clone)]
pub(crate) struct Store {
    requests: mpsc::Sender<Box<dyn Request>>,
}

impl Store {
    /// Starts the thread owning `conn`.
    pub(crate) fn start(conn: Connection) -> Self {
        let (requests, inbox) = mpsc::channel::<Box<dyn Request>>();
        std::thread::Builder::new()
            .name("squall-outbox-db".into())
            .spawn(move || serve(&conn, &inbox))
            .expect("spawning the outbox database thread");
        Self { requests }
    }

    /// Runs `f` in the next group transaction; resolves once it committed (or failed).
    pub(crate) async fn call<R, F>(&self, f: F) -> Result<R, OutboxError>
    where
        F: FnOnce(&Connection) -> Result<R, OutboxError> + Send + 'static,
        R: Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Box::new(Call { f, reply }))
            .map_err(|_| OutboxError::Closed)?;
        answer.await.map_err(|_| OutboxError::Closed)?
    }
}

fn serve(conn: &Connection, inbox: &mpsc::Receiver<Box<dyn Request>>) {
    while let Ok(first) = inbox.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match inbox.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        // IMMEDIATE takes the write lock now (waiting up to the busy timeout for another
        // process), so no request fails halfway on a lock upgrade.
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let e = OutboxError::db(e);
            for r in batch {
                r.fail(e.clone());
            }
            continue;
        }
        let mut answers: Vec<Answer> = Vec::with_capacity(batch.len());
        let mut rest = batch.into_iter();
        let mut aborted = None;
        for r in rest.by_ref() {
            let (answer, error) = r.run(conn);
            answers.push(answer);
            // Some errors (a full disk, I/O) make SQLite roll the whole transaction back: the
            // requests before this one are undone too, and those after it never run.
            if conn.is_autocommit() {
                aborted = Some(error.unwrap_or(OutboxError::Closed));
                break;
            }
        }
        if let Some(e) = aborted {
            for a in answers {
                a(Err(e.clone()));
            }
            for r in rest {
                r.fail(e.clone());
            }
            continue;
        }
        let commit = conn.execute_batch("COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            OutboxError::db(e)
        });
        for a in answers {
            a(commit.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_request_does_not_undo_its_neighbours() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER UNIQUE)").unwrap();
        let store = Store::start(conn);
        let calls = (0..20).map(|i| {
            let s = store.clone();
            async move {
                s.call(move |c| {
                    // Every even insert fails on the unique constraint after one succeeds.
                    c.execute("INSERT INTO t VALUES (?1)", [i % 2 * i])?;
                    Ok(i)
                })
                .await
            }
        });
        let results = futures_join(calls).await;
        assert_eq!(results.iter().filter(|r| r.is_err()).count(), 9);
        let n: i64 = store
            .call(|c| Ok(c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 11);
    }

    async fn futures_join<F: std::future::Future + Send + 'static>(
        fs: impl Iterator<Item = F>,
    ) -> Vec<F::Output>
    where
        F::Output: Send,
    {
        let handles: Vec<_> = fs.map(tokio::spawn).collect();
        let mut out = Vec::new();
        for h in handles {
            out.push(h.await.unwrap());
        }
        out
    }
}
