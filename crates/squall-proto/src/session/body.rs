//! Message content: DATA with dot-stuffing, or BDAT chunks, fed by the driver piece by piece.
//!
//! The session never holds a whole body. The driver asks [`ClientSession::poll_body`] which
//! message wants content, reads a piece from wherever the body lives, and hands it to
//! [`ClientSession::write_body`]; the session encodes it into the transmit buffer. `poll_body`
//! says no while that buffer is full, which bounds memory to about one chunk.

use super::ClientSession;
use super::event::MessageId;
use super::state::{Expect, Transfer};
use crate::command::Command;
use crate::data::{CrlfNormalizer, DotStuffer};
use crate::error::{LocalError, UsageError};
use crate::params::BodyType;

/// `poll_body` holds back while this much is waiting to be sent.
const HIGH_WATER: usize = 64 * 1024;

#[derive(Debug)]
enum Encoder {
    Data(DotStuffer),
    /// Content is gathered into `chunk` and sent as `BDAT n` once it reaches the chunk size.
    /// `normalizer` is `None` for BINARYMIME, whose bytes go through untouched.
    Bdat {
        normalizer: Option<CrlfNormalizer>,
        chunk: Vec<u8>,
        raw_len: u64,
    },
}

/// The content of the one message being written.
#[derive(Debug)]
pub(crate) struct BodyWriter {
    pub(crate) id: MessageId,
    encoder: Encoder,
    /// Without pipelining, each BDAT chunk waits for its reply before the next.
    pub(crate) paused: bool,
    /// The content was declared 7-bit to a server without 8BITMIME: 8-bit bytes stop it.
    seven_bit_only: bool,
}

impl BodyWriter {
    pub(crate) fn new(id: MessageId, transfer: Transfer, body: BodyType, seven_bit_only: bool) -> Self {
        let encoder = match transfer {
            Transfer::Data => Encoder::Data(DotStuffer::new()),
            Transfer::Bdat => Encoder::Bdat {
                normalizer: (body != BodyType::BinaryMime).then(CrlfNormalizer::new),
                chunk: Vec::new(),
                raw_len: 0,
            },
        };
        Self {
            id,
            encoder,
            paused: false,
            seven_bit_only,
        }
    }

    pub(crate) fn transfer(&self) -> Transfer {
        match self.encoder {
            Encoder::Data(_) => Transfer::Data,
            Encoder::Bdat { .. } => Transfer::Bdat,
        }
    }

    /// Content bytes so far, as the server will store them.
    fn content_len(&self) -> u64 {
        match &self.encoder {
            Encoder::Data(s) => s.content_len(),
            Encoder::Bdat {
                normalizer: Some(n), ..
            } => n.content_len(),
            Encoder::Bdat { raw_len, .. } => *raw_len,
        }
    }

    /// Content bytes once finished (an open last line gains a CRLF).
    fn final_len(&self) -> u64 {
        match &self.encoder {
            Encoder::Data(s) => s.final_len(),
            Encoder::Bdat {
                normalizer: Some(n), ..
            } => n.final_len(),
            Encoder::Bdat { raw_len, .. } => *raw_len,
        }
    }
}

impl ClientSession {
    /// The message whose content is wanted now, if any. `None` also while the transmit buffer is
    /// full: call [`poll_transmit`](Self::poll_transmit) and ask again.
    pub fn poll_body(&self) -> Option<MessageId> {
        let b = self.body.as_ref()?;
        (!b.paused && self.outbox.buf.len() < HIGH_WATER).then_some(b.id)
    }

    /// Appends a piece of message `id`'s content, in any size. Line ends are normalised to CRLF
    /// (except for BINARYMIME) and lines starting with `.` are stuffed for DATA.
    ///
    /// A message that grows past the server's SIZE limit is abandoned here with
    /// [`LocalError::MessageTooLarge`].
    pub fn write_body(&mut self, id: MessageId, data: &[u8]) -> Result<(), UsageError> {
        let chunk_size = self.config.bdat_chunk_size;
        let b = wanted(&mut self.body, id)?;
        if b.seven_bit_only && !data.is_ascii() {
            self.content_abandoned(id, LocalError::EightBitUnsupported);
            return Ok(());
        }
        let full_chunk = match &mut b.encoder {
            Encoder::Data(s) => {
                s.push(data, &mut self.outbox.buf);
                None
            }
            Encoder::Bdat {
                normalizer,
                chunk,
                raw_len,
            } => {
                match normalizer {
                    Some(n) => n.push(data, chunk),
                    None => chunk.extend_from_slice(data),
                }
                *raw_len += data.len() as u64;
                (chunk.len() >= chunk_size).then(|| std::mem::take(chunk))
            }
        };
        let size = b.content_len();
        if !self.over_limit(id, size)
            && let Some(chunk) = full_chunk
        {
            self.send_chunk(id, chunk, false);
        }
        Ok(())
    }

    /// Ends message `id`'s content: the final `.` for DATA, `BDAT n LAST` for BDAT. With
    /// pipelining the next message's commands follow in the same transmit.
    pub fn finish_body(&mut self, id: MessageId) -> Result<(), UsageError> {
        let size = wanted(&mut self.body, id)?.final_len();
        if self.over_limit(id, size) {
            return Ok(());
        }
        let Some(b) = self.body.take() else {
            return Ok(());
        };
        match b.encoder {
            Encoder::Data(stuffer) => {
                stuffer.finish(&mut self.outbox.buf);
                self.outbox
                    .transcript
                    .info(|| format!("[{size} bytes of message content]"));
                self.outbox.send_raw(b"", Expect::DataEnd(id), ".");
            }
            Encoder::Bdat {
                normalizer,
                mut chunk,
                ..
            } => {
                if let Some(mut n) = normalizer {
                    n.finish(&mut chunk);
                }
                self.send_chunk(id, chunk, true);
            }
        }
        self.content_sent(id, size);
        self.pump();
        Ok(())
    }

    /// Gives up on message `id`'s content (reading it failed, say). The message fails with
    /// [`LocalError::BodyAborted`] and nothing of it is delivered: a BDAT transaction is reset,
    /// and a DATA transaction, which has no way back, ends the connection.
    pub fn abort_body(&mut self, id: MessageId, reason: impl Into<String>) -> Result<(), UsageError> {
        if self.body.as_ref().is_none_or(|b| b.id != id) {
            return Err(UsageError::BodyNotWanted(id));
        }
        self.content_abandoned(id, LocalError::BodyAborted(reason.into()));
        Ok(())
    }

    /// Abandons the body when it has outgrown the server's SIZE limit. (A message whose size was
    /// declared and too large never starts: this is content that grew past what was known.)
    fn over_limit(&mut self, id: MessageId, size: u64) -> bool {
        match self.caps.as_ref().and_then(|c| c.size_limit()) {
            Some(limit) if size > limit => {
                self.content_abandoned(id, LocalError::MessageGrewTooLarge { size, limit });
                true
            }
            _ => false,
        }
    }

    /// Sends `chunk` as one BDAT command and its content. Without pipelining, the next chunk
    /// waits for this one's reply.
    fn send_chunk(&mut self, id: MessageId, mut chunk: Vec<u8>, last: bool) {
        let size = chunk.len();
        self.outbox
            .send(&Command::Bdat { size, last }, Expect::Bdat(id, last));
        self.outbox.buf.append(&mut chunk);
        self.outbox
            .transcript
            .info(|| format!("[{size} bytes of message content]"));
        let pipelined = self.active.iter().any(|t| t.id == id && t.pipelined);
        if !last
            && !pipelined
            && let Some(b) = self.body.as_mut()
        {
            b.paused = true;
        }
    }
}

/// The body writer, if it is `id`'s and wants content now.
fn wanted(body: &mut Option<BodyWriter>, id: MessageId) -> Result<&mut BodyWriter, UsageError> {
    body.as_mut()
        .filter(|b| b.id == id && !b.paused)
        .ok_or(UsageError::BodyNotWanted(id))
}
