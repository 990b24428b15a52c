//! The content of a message: DATA, BDAT chunks, and storing what arrived.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use squall_proto::data::DataDecoder;

use super::{Conn, Flow, Mode};
use crate::command;
use crate::fault::{Chaos, FaultStage};
use crate::shared::Shared;
use crate::spool::{BodyError, Content};
use crate::store::{ReceivedMessage, rfc3339};

impl Conn {
    pub(super) async fn data(&mut self) -> io::Result<Flow> {
        let refusal = match &self.tx {
            None => Some("503 5.5.1 Error: need MAIL command"),
            Some(t) if t.rcpts.is_empty() => Some("554 5.5.1 Error: no valid recipients"),
            Some(t) if t.chunked => Some("503 5.5.1 Error: DATA cannot follow BDAT"),
            Some(t) if t.binary => Some("503 5.5.1 Error: BODY=BINARYMIME needs BDAT"),
            Some(_) => None,
        };
        if let Some(r) = refusal {
            self.reply(r);
            return Ok(Flow::Continue);
        }
        let rcpts = self.rcpts();
        if let Some(flow) = self.fault(FaultStage::Data, &rcpts).await? {
            return Ok(flow);
        }
        self.mode = Mode::Data(DataDecoder::new());
        self.reply("354 End data with <CR><LF>.<CR><LF>");
        Ok(Flow::Continue)
    }

    pub(super) fn bdat(&mut self, args: &str) -> io::Result<Flow> {
        if !self.shared.config.offers("CHUNKING") {
            self.reply("500 5.5.2 Error: command not recognized");
            return Ok(Flow::Continue);
        }
        let Some((left, last)) = command::parse_bdat(args) else {
            // Without a valid size the chunk cannot be skipped: the stream is lost.
            self.reply("501 5.5.4 Syntax: BDAT size [LAST]");
            return Ok(Flow::Close);
        };
        if let Some(tx) = self.tx.as_mut() {
            tx.chunked = true;
        }
        self.mode = Mode::Bdat { left, last };
        Ok(Flow::Continue)
    }

    pub(super) async fn end_of_chunk(&mut self, last: bool) -> io::Result<Flow> {
        let refusal = match &self.tx {
            None => Some("503 5.5.1 Error: need MAIL command"),
            Some(t) if t.rcpts.is_empty() => Some("554 5.5.1 Error: no valid recipients"),
            Some(t) if t.failed => Some("503 5.5.1 Error: an earlier BDAT failed; send RSET"),
            Some(t) if t.body.too_big() => Some("552 5.3.4 Message size exceeds fixed limit"),
            Some(_) => None,
        };
        if let Some(r) = refusal {
            if let Some(tx) = self.tx.as_mut() {
                tx.failed = true;
            }
            self.reply(r);
            return Ok(Flow::Continue);
        }
        if last {
            return self.end_of_data("BDAT").await;
        }
        let rcpts = self.rcpts();
        if let Some(flow) = self.fault(FaultStage::Bdat, &rcpts).await? {
            if let Some(tx) = self.tx.as_mut() {
                tx.failed = true;
            }
            return Ok(flow);
        }
        let n = self.tx.as_ref().map_or(0, |t| t.body.len());
        self.reply(&format!("250 2.0.0 Ok: {n} bytes"));
        Ok(Flow::Continue)
    }

    /// The whole content is in: store it, or refuse it.
    pub(super) async fn end_of_data(&mut self, transfer: &'static str) -> io::Result<Flow> {
        let rcpts = self.rcpts();
        let Some(tx) = self.tx.take() else {
            self.reply("503 5.5.1 Error: need MAIL command");
            return Ok(Flow::Continue);
        };
        // The decoding buffer grew with the content; an idle connection should not keep it.
        self.scratch = Vec::new();
        if let Some(flow) = self.fault(FaultStage::DataEnd, &rcpts).await? {
            return Ok(flow);
        }
        let size = tx.body.len();
        let content = match tx.body.finish() {
            Ok(c) => c,
            Err(BodyError::TooBig) => {
                self.reply("552 5.3.4 Message size exceeds fixed limit");
                return Ok(Flow::Continue);
            }
            Err(BodyError::Spool(e)) => {
                self.reply(&format!("452 4.3.1 Error: insufficient system storage: {e}"));
                return Ok(Flow::Continue);
            }
        };
        let msg = ReceivedMessage {
            id: self.shared.next_id(),
            mail_from: tx.from,
            mail_params: tx.mail_params,
            rcpt_to: tx.rcpts,
            rcpt_params: tx.rcpt_params,
            helo: self.helo.clone(),
            tls: self.tls,
            tls_version: self.tls_facts.as_ref().map(|f| f.0.clone()),
            tls_cipher: self.tls_facts.as_ref().map(|f| f.1.clone()),
            auth: self.auth.clone(),
            size: usize::try_from(size).unwrap_or(usize::MAX),
            received_at: rfc3339(SystemTime::now()),
            transfer,
            data: Vec::new(),
            eml: None,
            maildir: None,
            reloaded: false,
            envelope_known: true,
        };
        let msg = match save(self.shared.clone(), msg, content).await {
            Ok(m) => m,
            Err(e) => {
                self.reply(&format!("451 4.3.0 Error: cannot save the message: {e}"));
                return Ok(Flow::Continue);
            }
        };
        let id = msg.id.clone();
        self.shared.deliver(msg);
        if self.chaos.take() == Some(Chaos::StoreThenDisconnect) {
            // Stored, and no word of it: the client cannot know.
            return Ok(Flow::Close);
        }
        self.reply(&format!("250 2.0.0 Ok: queued as {id}"));
        Ok(Flow::Continue)
    }
}

/// Writes the message where the sink keeps files. File work (a Maildir's fsync, copying a
/// spooled message) runs on tokio's blocking threads, not on the ones serving connections.
async fn save(
    shared: Arc<Shared>,
    mut msg: ReceivedMessage,
    content: Content,
) -> io::Result<ReceivedMessage> {
    let content = match content {
        Content::Memory(v) if !shared.store.writes_files() => {
            msg.data = v;
            return Ok(msg);
        }
        spooled_or_saved => spooled_or_saved,
    };
    tokio::task::spawn_blocking(move || {
        let keep = shared.config.keep_messages;
        shared.store.save(&mut msg, content, keep).map(|()| msg)
    })
    .await
    .map_err(io::Error::other)?
}
