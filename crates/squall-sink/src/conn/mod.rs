//! One client connection: reading, framing and the time limits. The commands are handled in
//! `commands`, the content (DATA, BDAT, storing) in `content`, STARTTLS, AUTH and faults in
//! `session`.
//!
//! Every wait has an absolute end. Waiting for a command line ends at the command deadline
//! (the previous reply plus the command time limit); waiting for content ends at the
//! transaction deadline (MAIL plus the transaction time limit). Bytes that trickle in do not
//! move either deadline, so a client sending one byte every few seconds is cut off in time.
//! Writing replies to a client that does not read is bounded the same way.

mod commands;
mod content;
mod session;

use std::io;
use std::sync::Arc;

use squall_proto::data::{DataDecoder, DecodeStatus};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::auth::{Sasl, Users};
use crate::fault::Chaos;
use crate::limits::Reservation;
use crate::line::{Frame, LineReader};
use crate::shared::Shared;
use crate::spool::Body;

/// Longest command line accepted (RFC 5321 asks for 512; extensions make lines longer).
const MAX_LINE: usize = 4096;
/// Longest AUTH exchange line (RFC 4954 §4: 12288 octets).
const MAX_SASL_LINE: usize = 12_288;
/// Bytes read from the client at a time.
const READ_SIZE: usize = 16 * 1024;
/// Replies gathered for pipelined commands are written out past this size, so a client that
/// pipelines without reading cannot make the sink buffer without bound.
const OUT_HIGH_WATER: usize = 16 * 1024;

/// A byte stream the sink can talk over.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// What to do after a piece of input.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
    Stall,
    /// Answered 220 to STARTTLS: the TLS handshake comes next.
    StartTls,
}

enum Mode {
    Command,
    Data(DataDecoder),
    Bdat {
        left: u64,
        last: bool,
    },
    /// An AUTH exchange: the next line answers a 334.
    Sasl(Sasl),
}

struct Transaction {
    from: String,
    mail_params: Vec<String>,
    rcpts: Vec<String>,
    rcpt_params: Vec<Vec<String>>,
    body: Body,
    /// The envelope's share of the memory budget: a thousand recipients with 4 KiB of
    /// parameters each are megabytes.
    envelope: Reservation,
    /// Bytes of sender, recipients and parameters.
    envelope_bytes: usize,
    smtputf8: bool,
    binary: bool,
    /// BDAT was used (DATA may not follow).
    chunked: bool,
    /// A BDAT chunk failed; only RSET helps.
    failed: bool,
    /// When the transaction time limit runs out.
    deadline: Instant,
}

pub(crate) struct Conn {
    io: Box<dyn Io>,
    shared: Arc<Shared>,
    inbuf: Vec<u8>,
    start: usize,
    lines: LineReader,
    /// Decoded DATA content on its way into the body.
    scratch: Vec<u8>,
    out: Vec<u8>,
    helo: Option<String>,
    esmtp: bool,
    tls: bool,
    /// The negotiated TLS protocol version and cipher suite, once encrypted.
    tls_facts: Option<(String, String)>,
    auth: Option<String>,
    tx: Option<Transaction>,
    mode: Mode,
    /// The greeting refused service: only QUIT and NOOP are answered normally.
    refused: bool,
    /// The random fault chosen for the current transaction, until it strikes.
    chaos: Option<Chaos>,
    /// When the wait for the next command line ends.
    command_deadline: Instant,
}

impl Conn {
    pub(crate) fn new(io: Box<dyn Io>, shared: Arc<Shared>) -> Self {
        let command_deadline = Instant::now() + shared.config.limits.command_timeout;
        Self {
            io,
            shared,
            inbuf: Vec::new(),
            start: 0,
            lines: LineReader::default(),
            scratch: Vec::new(),
            out: Vec::with_capacity(1024),
            helo: None,
            esmtp: false,
            tls: false,
            tls_facts: None,
            auth: None,
            tx: None,
            mode: Mode::Command,
            refused: false,
            chaos: None,
            command_deadline,
        }
    }

    pub(crate) async fn run(mut self) -> io::Result<()> {
        if self.shared.config.implicit_tls {
            self.start_tls().await?;
        }
        let flow = self.greet().await?;
        let flow = if flow == Flow::Continue {
            self.serve().await?
        } else {
            flow
        };
        self.flush().await?;
        if flow == Flow::Stall {
            self.stall().await;
        }
        let limit = self.shared.config.limits.command_timeout;
        let _ = tokio::time::timeout(limit, self.io.shutdown()).await;
        Ok(())
    }

    async fn serve(&mut self) -> io::Result<Flow> {
        loop {
            match self.process().await? {
                Flow::Continue => {}
                Flow::StartTls => {
                    self.flush().await?;
                    // Anything sent after STARTTLS in cleartext is dropped, never obeyed (RFC 3207 §4.2).
                    self.inbuf.clear();
                    self.start = 0;
                    self.lines.reset();
                    self.start_tls().await?;
                    continue;
                }
                flow => return Ok(flow),
            }
            self.flush().await?;
            self.inbuf.drain(..self.start);
            self.start = 0;
            let (deadline, what) = self.deadline();
            self.inbuf.reserve(READ_SIZE);
            match tokio::time::timeout_at(deadline, self.io.read_buf(&mut self.inbuf)).await {
                Ok(Ok(0)) => return Ok(Flow::Close),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => {
                    let host = &self.shared.config.hostname;
                    let line = format!("421 4.4.2 {host} Error: {what} time limit exceeded");
                    self.reply(&line);
                    return Ok(Flow::Close);
                }
            }
        }
    }

    /// The deadline of the current wait, and which limit it is.
    fn deadline(&self) -> (Instant, &'static str) {
        match &self.tx {
            Some(tx) if matches!(self.mode, Mode::Data(_) | Mode::Bdat { .. }) => {
                (tx.deadline, "transaction")
            }
            Some(tx) if tx.deadline < self.command_deadline => (tx.deadline, "transaction"),
            _ => (self.command_deadline, "command"),
        }
    }

    /// A command was answered: the wait for the next one starts now.
    fn restart_command_clock(&mut self) {
        self.command_deadline = Instant::now() + self.shared.config.limits.command_timeout;
    }

    /// Handles every complete piece of buffered input; replies gather in `out` (pipelining).
    async fn process(&mut self) -> io::Result<Flow> {
        loop {
            if self.out.len() >= OUT_HIGH_WATER {
                self.flush().await?;
            }
            let flow = match &mut self.mode {
                Mode::Command | Mode::Sasl(_) => {
                    let sasl = matches!(self.mode, Mode::Sasl(_));
                    let max = if sasl { MAX_SASL_LINE } else { MAX_LINE };
                    let (frame, used) = self.lines.next(&self.inbuf[self.start..], max);
                    let line = match frame {
                        Frame::Line(line) => Some(line.to_vec()),
                        Frame::TooLong => None,
                        Frame::Skipped => {
                            self.start += used;
                            continue;
                        }
                        Frame::NeedMore => {
                            self.start += used;
                            return Ok(Flow::Continue);
                        }
                    };
                    self.start += used;
                    match (line, sasl) {
                        (Some(line), false) => {
                            let flow = self.command(&line).await?;
                            self.restart_command_clock();
                            flow
                        }
                        (Some(line), true) => {
                            self.sasl_line(&line);
                            self.restart_command_clock();
                            Flow::Continue
                        }
                        // Answered once; the rest of the line is discarded, never run.
                        (None, false) => {
                            self.reply("500 5.5.2 Error: line too long");
                            Flow::Continue
                        }
                        (None, true) => {
                            self.mode = Mode::Command;
                            self.reply("500 5.5.6 Error: authentication line too long");
                            Flow::Continue
                        }
                    }
                }
                Mode::Data(decoder) => {
                    let input = &self.inbuf[self.start..];
                    self.scratch.clear();
                    let status = decoder.decode(input, &mut self.scratch);
                    if let Some(tx) = self.tx.as_mut() {
                        tx.body.push(&self.scratch, &self.shared.spool);
                    }
                    match status {
                        DecodeStatus::NeedMore => {
                            self.start = self.inbuf.len();
                            return Ok(Flow::Continue);
                        }
                        DecodeStatus::Done { consumed } => {
                            self.start += consumed;
                            self.mode = Mode::Command;
                            let flow = self.end_of_data("DATA").await?;
                            self.restart_command_clock();
                            flow
                        }
                    }
                }
                Mode::Bdat { left, last } => {
                    let input = &self.inbuf[self.start..];
                    let n = usize::try_from(*left).unwrap_or(usize::MAX).min(input.len());
                    *left -= n as u64;
                    let (done, last) = (*left == 0, *last);
                    if let Some(tx) = self.tx.as_mut().filter(|t| !t.failed && !t.rcpts.is_empty()) {
                        tx.body.push(&input[..n], &self.shared.spool);
                    }
                    self.start += n;
                    if !done {
                        return Ok(Flow::Continue);
                    }
                    self.mode = Mode::Command;
                    let flow = self.end_of_chunk(last).await?;
                    self.restart_command_clock();
                    flow
                }
            };
            if flow != Flow::Continue {
                return Ok(flow);
            }
        }
    }

    /// The client's answer to a 334.
    fn sasl_line(&mut self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let Mode::Sasl(state) = std::mem::replace(&mut self.mode, Mode::Command) else {
            return;
        };
        let step = Users(&self.shared.config.users).next(state, &line);
        self.sasl_step(step);
    }

    /// The `stall` fault: read and ignore until the client gives up, or the command time
    /// limit ends it.
    async fn stall(&mut self) {
        let limit = self.shared.config.limits.command_timeout;
        let (io, buf) = (&mut self.io, &mut self.inbuf);
        let ignore = async move {
            loop {
                buf.clear();
                buf.reserve(READ_SIZE);
                if !matches!(io.read_buf(buf).await, Ok(n) if n > 0) {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(limit, ignore).await;
    }

    fn last_reply_code(&self) -> Option<u16> {
        let text = std::str::from_utf8(self.out.get(..3)?).ok()?;
        text.parse().ok()
    }

    fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Writes the gathered replies; a client that does not read them within the command time
    /// limit is dropped.
    async fn flush(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        let limit = self.shared.config.limits.command_timeout;
        let (io, out) = (&mut self.io, &self.out);
        let write = async move {
            io.write_all(out).await?;
            io.flush().await
        };
        match tokio::time::timeout(limit, write).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client does not read its replies",
                ));
            }
        }
        self.out.clear();
        if self.out.capacity() > 4 * OUT_HIGH_WATER {
            self.out = Vec::with_capacity(1024);
        }
        Ok(())
    }
}
