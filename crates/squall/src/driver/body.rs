//! Message content: in-memory bodies are handed to the session in pieces; files and streams are
//! opened when their turn comes and read as the transport takes the bytes.

use squall_proto::session::MessageId;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

use super::{Driver, WRITE_HIGH_WATER};
use crate::body::Source;
use crate::job::{Job, Started};
use crate::trace;

/// A message handed to the session.
pub(super) struct Flight {
    pub(super) job: Job,
    pub(super) started: Started,
    /// How far in-memory content has been handed over.
    pos: usize,
    /// A file opened (or a stream taken) for this attempt's content.
    pub(super) stream: Option<Box<dyn AsyncRead + Send + Unpin>>,
    /// The message's tracing span.
    pub(super) span: trace::Span,
}

impl Flight {
    pub(super) fn new(job: Job, started: Started, span: trace::Span) -> Self {
        Self {
            job,
            started,
            pos: 0,
            stream: None,
            span,
        }
    }
}

/// Content handed to the session at once, at most.
const PIECE: usize = 64 * 1024;

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<'_, S> {
    /// Whether content may be produced now: the transport keeps up, and writing has not failed.
    fn room_for_content(&self) -> bool {
        self.out.pending() < WRITE_HIGH_WATER && self.out.failed_at.is_none()
    }

    /// Hands the session a piece of in-memory content if it wants one; true if it did.
    pub(super) fn feed_memory_body(&mut self) -> bool {
        if !self.room_for_content() {
            return false;
        }
        let Some(id) = self.session.poll_body() else {
            return false;
        };
        let Some(f) = self.flights.get_mut(&id) else {
            let _ = self
                .session
                .abort_body(id, "the message is no longer known to the driver");
            return true;
        };
        let Source::Bytes(data) = &f.job.body.0 else {
            return false;
        };
        let start = f.pos;
        let end = (start + PIECE).min(data.len());
        f.pos = end;
        let result = if start == end {
            self.session.finish_body(id)
        } else {
            self.session.write_body(id, &data[start..end])
        };
        debug_assert!(result.is_ok(), "poll_body said the body was wanted");
        true
    }

    /// Opens the file (or takes the stream) of the body the session wants next, on first use;
    /// one that cannot be read aborts that message (before the events are handled, so that the
    /// outcome is seen in this same pass).
    pub(super) async fn open_stream(&mut self) {
        let Some(id) = self.session.poll_body() else {
            return;
        };
        let Some(f) = self.flights.get_mut(&id) else {
            return;
        };
        if f.stream.is_some() {
            return;
        }
        let opened: Result<Box<dyn AsyncRead + Send + Unpin>, String> = match &mut f.job.body.0 {
            Source::Bytes(_) => return,
            Source::File(file) => match tokio::fs::File::open(&file.path).await {
                Ok(opened) if file.prefix.is_empty() => Ok(Box::new(opened)),
                Ok(opened) => Ok(Box::new(std::io::Cursor::new(file.prefix.clone()).chain(opened))),
                Err(e) => Err(format!("cannot open {}: {e}", file.path.display())),
            },
            Source::Reader(r) => r.take().ok_or_else(|| "the stream was already read".to_string()),
        };
        match opened {
            Ok(stream) => f.stream = Some(stream),
            Err(why) => {
                let _ = self.session.abort_body(id, why);
            }
        }
    }

    /// The stream body the session wants now, if it is open and the transport keeps up.
    pub(super) fn wanted_stream(&self) -> Option<MessageId> {
        if !self.room_for_content() {
            return None;
        }
        let id = self.session.poll_body()?;
        self.flights.get(&id)?.stream.is_some().then_some(id)
    }
}
