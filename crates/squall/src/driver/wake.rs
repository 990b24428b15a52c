//! Waiting: one poll over everything that can move the connection on, and what each wake-up
//! does. Writes come first (they are what the server waits for), then reads, then a body
//! stream, then the timer, then new messages.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use squall_proto::session::MessageId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::futures::Notified;

use super::{DRAIN, Driver, Feed};
use crate::error::TransportError;

/// What woke the connection up.
pub(super) enum Wake {
    Read(io::Result<usize>),
    Wrote(io::Result<usize>),
    Flushed(io::Result<()>),
    Body(MessageId, io::Result<usize>),
    Timer,
    Jobs,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<'_, S> {
    pub(super) async fn wait(&mut self, feed: &impl Feed) -> Wake {
        let deadline = self.deadline();
        if let Some(at) = deadline
            && self.timer_at != Some(at)
        {
            self.timer.as_mut().reset(at.into());
            self.timer_at = Some(at);
        }
        let changed = feed.changed();
        tokio::pin!(changed);
        poll_fn(|cx| self.poll_wake(cx, deadline.is_some(), changed.as_mut())).await
    }

    fn poll_wake(
        &mut self,
        cx: &mut Context<'_>,
        timed: bool,
        changed: Pin<&mut Notified<'_>>,
    ) -> Poll<Wake> {
        let stream = self.wanted_stream();
        let Some(io) = self.io.as_mut() else {
            return Poll::Ready(Wake::Timer);
        };
        if self.out.failed_at.is_none() {
            if self.out.pending() > 0 {
                if let Poll::Ready(r) = Pin::new(&mut *io).poll_write(cx, &self.out.buf[self.out.pos..]) {
                    return Poll::Ready(Wake::Wrote(r));
                }
            } else if self.out.needs_flush
                && let Poll::Ready(r) = Pin::new(&mut *io).poll_flush(cx)
            {
                return Poll::Ready(Wake::Flushed(r));
            }
        }
        if !self.eof {
            let mut buf = ReadBuf::new(&mut self.rbuf);
            if let Poll::Ready(r) = Pin::new(&mut *io).poll_read(cx, &mut buf) {
                return Poll::Ready(Wake::Read(r.map(|()| buf.filled().len())));
            }
        }
        if let Some(id) = stream
            && let Some(reader) = self.flights.get_mut(&id).and_then(|f| f.stream.as_mut())
        {
            self.body_buf.resize(64 * 1024, 0);
            let mut buf = ReadBuf::new(&mut self.body_buf);
            if let Poll::Ready(r) = Pin::new(reader).poll_read(cx, &mut buf) {
                return Poll::Ready(Wake::Body(id, r.map(|()| buf.filled().len())));
            }
        }
        if timed && self.timer.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Wake::Timer);
        }
        if self.want_jobs && changed.poll(cx).is_ready() {
            return Poll::Ready(Wake::Jobs);
        }
        Poll::Pending
    }

    pub(super) fn on_wake(&mut self, wake: Wake) {
        let now = Instant::now();
        match wake {
            Wake::Read(Ok(0)) => {
                self.eof = true;
                self.session.handle_eof();
            }
            Wake::Read(Ok(n)) => self.session.handle_input(&self.rbuf[..n], now),
            Wake::Read(Err(e)) => {
                self.eof = true;
                self.transport_error
                    .get_or_insert(TransportError::Io(Arc::new(e)));
                self.session.handle_eof();
            }
            Wake::Wrote(Err(e)) | Wake::Flushed(Err(e)) => self.write_failed(e, now),
            Wake::Wrote(Ok(0)) => self.write_failed(io::ErrorKind::WriteZero.into(), now),
            Wake::Wrote(Ok(n)) => {
                self.out.pos += n;
                self.out.since = Some(now);
                if self.out.pos == self.out.buf.len() {
                    self.out.buf.clear();
                    self.out.pos = 0;
                    self.out.since = None;
                    self.out.needs_flush = true;
                }
            }
            Wake::Flushed(Ok(())) => self.out.needs_flush = false,
            Wake::Body(id, Ok(0)) => {
                let _ = self.session.finish_body(id);
            }
            Wake::Body(id, Ok(n)) => {
                let _ = self.session.write_body(id, &self.body_buf[..n]);
            }
            Wake::Body(id, Err(e)) => {
                let _ = self.session.abort_body(id, e.to_string());
                self.transport_error
                    .get_or_insert(TransportError::Body(Arc::new(e)));
            }
            Wake::Timer => {
                let timeouts = self.config.session.get_timeouts();
                let stalled = self.out.since.is_some_and(|t| now >= t + timeouts.data_block);
                let drained = self.out.failed_at.is_some_and(|t| now >= t + DRAIN);
                if stalled {
                    self.transport_error.get_or_insert(TransportError::WriteStalled);
                    self.session.handle_eof();
                } else if drained {
                    self.session.handle_eof();
                } else {
                    self.session.handle_timeout(now);
                }
            }
            Wake::Jobs => {}
        }
    }

    /// The server stopped taking bytes (it closed, or reset the connection). It may have said
    /// why first — a 421 after the command it refused — so its replies are still read, until it
    /// closes or a moment passes; only then is the connection lost.
    fn write_failed(&mut self, e: io::Error, now: Instant) {
        self.transport_error
            .get_or_insert(TransportError::Io(Arc::new(e)));
        self.out.failed_at = Some(now);
        self.out.buf.clear();
        self.out.pos = 0;
        self.out.since = None;
        self.out.needs_flush = false;
        if self.eof {
            self.session.handle_eof();
        }
    }
}
