//! Reading large content back chunk by chunk while it is sent: at most two chunks of a message
//! are in memory (the one being sent and the next one fetched).

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

use super::pool::Pool;

/// The content of message `id`, `count` chunks, as a stream. A chunk that cannot be read (the
/// connection lost, a row missing) is a read error, never an early end: a truncated message
/// must fail its attempt, not be delivered short.
pub(crate) fn reader(pool: Pool, id: i64, count: i64) -> ChunkReader {
    let (tx, rx) = mpsc::channel::<io::Result<Vec<u8>>>(1);
    tokio::spawn(async move {
        for seq in 0..count {
            let r = fetch(&pool, id, seq).await;
            let failed = r.is_err();
            if tx.send(r).await.is_err() || failed {
                return;
            }
        }
    });
    ChunkReader {
        rx,
        buf: Vec::new(),
        pos: 0,
    }
}

async fn fetch(pool: &Pool, id: i64, seq: i64) -> io::Result<Vec<u8>> {
    let seq32 = i32::try_from(seq).map_err(io::Error::other)?;
    let conn = pool.get().await.map_err(io::Error::other)?;
    let row = conn
        .query_opt(
            "SELECT data FROM chunks WHERE message = $1 AND seq = $2",
            &[&id, &seq32],
        )
        .await
        .map_err(|e| io::Error::other(pool.error(e)))?;
    let row = row.ok_or_else(|| {
        io::Error::other(format!(
            "chunk {seq} of queued message {id} is missing from the database"
        ))
    })?;
    row.try_get(0).map_err(|e| io::Error::other(pool.error(e)))
}

/// See [`reader`].
pub(crate) struct ChunkReader {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    buf: Vec<u8>,
    pos: usize,
}

impl AsyncRead for ChunkReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if self.pos < self.buf.len() {
                let n = out.remaining().min(self.buf.len() - self.pos);
                let pos = self.pos;
                out.put_slice(&self.buf[pos..pos + n]);
                self.pos += n;
                return Poll::Ready(Ok(()));
            }
            match ready!(self.rx.poll_recv(cx)) {
                Some(Ok(b)) => {
                    self.buf = b;
                    self.pos = 0;
                }
                Some(Err(e)) => return Poll::Ready(Err(e)),
                None => return Poll::Ready(Ok(())),
            }
        }
    }
}
