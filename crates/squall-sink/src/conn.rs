//! One client connection: the server side of SMTP, with pipelining, DATA, BDAT and faults.

use std::io;
use std::sync::Arc;
use std::time::SystemTime;

use memchr::memchr;
use squall_proto::data::{DataDecoder, DecodeStatus};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::auth::{MECHANISMS, Sasl, Step, Users};
use crate::fault::{Chaos, FaultAction, FaultStage};
use crate::server::Shared;
use crate::store::{ReceivedMessage, rfc3339};

/// Longest command line accepted (RFC 5321 asks for 512; extensions make lines longer).
const MAX_LINE: usize = 4096;

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
        left: usize,
        last: bool,
    },
    /// An AUTH exchange: the next line answers a 334.
    Sasl(Sasl),
}

#[derive(Default)]
struct Transaction {
    from: String,
    mail_params: Vec<String>,
    rcpts: Vec<String>,
    rcpt_params: Vec<Vec<String>>,
    body: Vec<u8>,
    smtputf8: bool,
    binary: bool,
    /// BDAT was used (DATA may not follow).
    chunked: bool,
    too_big: bool,
    /// A BDAT chunk failed; only RSET helps.
    failed: bool,
}

pub(crate) struct Conn {
    io: Box<dyn Io>,
    shared: Arc<Shared>,
    inbuf: Vec<u8>,
    start: usize,
    out: Vec<u8>,
    helo: Option<String>,
    esmtp: bool,
    tls: bool,
    auth: Option<String>,
    tx: Option<Transaction>,
    mode: Mode,
    /// The greeting refused service: only QUIT and NOOP are answered normally.
    refused: bool,
    /// The random fault chosen for the current transaction, until it strikes.
    chaos: Option<Chaos>,
}

impl Conn {
    pub(crate) fn new(io: Box<dyn Io>, shared: Arc<Shared>) -> Self {
        Self {
            io,
            shared,
            inbuf: Vec::with_capacity(16 * 1024),
            start: 0,
            out: Vec::with_capacity(4096),
            helo: None,
            esmtp: false,
            tls: false,
            auth: None,
            tx: None,
            mode: Mode::Command,
            refused: false,
            chaos: None,
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
            // Read and ignore until the client gives up.
            let mut sink = [0u8; 4096];
            while self.io.read(&mut sink).await? > 0 {}
        }
        let _ = self.io.shutdown().await;
        Ok(())
    }

    async fn greet(&mut self) -> io::Result<Flow> {
        for stage in [FaultStage::Connect, FaultStage::Greeting] {
            let Some(action) = self.shared.fault(stage, &[]) else {
                continue;
            };
            if let Some(flow) = self.apply(action).await? {
                // A 5yz greeting refuses service: from then on only QUIT gets a real answer.
                self.refused = self.last_reply_code().is_some_and(|c| c >= 500);
                return Ok(flow);
            }
        }
        let greeting = format!("220 {} ESMTP squall-sink", self.shared.config.hostname);
        self.reply(&greeting);
        Ok(Flow::Continue)
    }

    async fn serve(&mut self) -> io::Result<Flow> {
        loop {
            let flow = self.process().await?;
            if flow == Flow::StartTls {
                self.flush().await?;
                // Anything sent after STARTTLS in cleartext is dropped, never obeyed (RFC 3207 §4.2).
                self.inbuf.clear();
                self.start = 0;
                self.start_tls().await?;
                continue;
            }
            if flow != Flow::Continue {
                return Ok(flow);
            }
            self.flush().await?;
            if self.start == self.inbuf.len() {
                self.inbuf.clear();
                self.start = 0;
            } else if self.start > 0 {
                self.inbuf.drain(..self.start);
                self.start = 0;
            }
            let idle = self.shared.config.idle_timeout;
            let mut chunk = [0u8; 64 * 1024];
            let n = match tokio::time::timeout(idle, self.io.read(&mut chunk)).await {
                Ok(r) => r?,
                Err(_) => {
                    self.reply("421 4.4.2 Error: timeout exceeded");
                    return Ok(Flow::Close);
                }
            };
            if n == 0 {
                return Ok(Flow::Close);
            }
            self.inbuf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Handles every complete piece of buffered input; replies gather in `out` (pipelining).
    async fn process(&mut self) -> io::Result<Flow> {
        loop {
            let input = &self.inbuf[self.start..];
            match &mut self.mode {
                Mode::Command => {
                    let Some(lf) = memchr(b'\n', input) else {
                        if input.len() > MAX_LINE {
                            self.start = self.inbuf.len();
                            self.reply("500 5.5.6 Error: line too long");
                        }
                        return Ok(Flow::Continue);
                    };
                    let raw = &input[..lf];
                    let line = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw)).into_owned();
                    self.start += lf + 1;
                    if line.len() > MAX_LINE {
                        self.reply("500 5.5.6 Error: line too long");
                        continue;
                    }
                    let flow = self.command(&line).await?;
                    if flow != Flow::Continue {
                        return Ok(flow);
                    }
                }
                Mode::Data(decoder) => {
                    let tx = self.tx.get_or_insert_with(Transaction::default);
                    let limit = self.shared.config.size_limit as usize;
                    let status = decoder.decode(input, &mut tx.body);
                    // Keep at most one byte past the limit: enough to know it was exceeded.
                    if tx.body.len() > limit {
                        tx.too_big = true;
                        tx.body.truncate(limit + 1);
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
                            if flow != Flow::Continue {
                                return Ok(flow);
                            }
                        }
                    }
                }
                Mode::Sasl(_) => {
                    let Some(lf) = memchr(b'\n', input) else {
                        if input.len() > 12_288 {
                            self.start = self.inbuf.len();
                            self.mode = Mode::Command;
                            self.reply("500 5.5.6 Error: authentication line too long");
                        }
                        return Ok(Flow::Continue);
                    };
                    let raw = &input[..lf];
                    let line = String::from_utf8_lossy(raw.strip_suffix(b"\r").unwrap_or(raw)).into_owned();
                    self.start += lf + 1;
                    let Mode::Sasl(state) = std::mem::replace(&mut self.mode, Mode::Command) else {
                        continue;
                    };
                    let step = Users(&self.shared.config.users).next(state, &line);
                    self.sasl_step(step);
                }
                Mode::Bdat { left, last } => {
                    let n = (*left).min(input.len());
                    let last = *last;
                    *left -= n;
                    let done = *left == 0;
                    if let Some(tx) = self.tx.as_mut().filter(|t| !t.failed && !t.rcpts.is_empty()) {
                        let limit = self.shared.config.size_limit as usize;
                        let room = (limit + 1).saturating_sub(tx.body.len());
                        tx.body.extend_from_slice(&input[..n.min(room)]);
                        tx.too_big |= tx.body.len() > limit;
                    }
                    self.start += n;
                    if !done {
                        return Ok(Flow::Continue);
                    }
                    self.mode = Mode::Command;
                    let flow = self.end_of_chunk(last).await?;
                    if flow != Flow::Continue {
                        return Ok(flow);
                    }
                }
            }
        }
    }

    async fn command(&mut self, line: &str) -> io::Result<Flow> {
        let (verb, args) = line.split_once(' ').unwrap_or((line, ""));
        let verb = verb.to_ascii_uppercase();
        if self.refused && !matches!(verb.as_str(), "QUIT" | "NOOP") {
            self.reply("503 5.5.1 Error: service refused; send QUIT");
            return Ok(Flow::Continue);
        }
        match verb.as_str() {
            "EHLO" | "HELO" => self.hello(&verb, args.trim()).await,
            "MAIL" => self.mail(args).await,
            "RCPT" => self.rcpt(args).await,
            "DATA" => self.data().await,
            "BDAT" => self.bdat(args),
            "STARTTLS" => self.starttls(args).await,
            "AUTH" => self.auth(args).await,
            "RSET" => {
                self.tx = None;
                self.reply("250 2.0.0 Ok");
                Ok(Flow::Continue)
            }
            "NOOP" => {
                self.reply("250 2.0.0 Ok");
                Ok(Flow::Continue)
            }
            "QUIT" => {
                if let Some(flow) = self.fault::<&str>(FaultStage::Quit, &[]).await? {
                    return Ok(flow);
                }
                self.reply("221 2.0.0 Bye");
                Ok(Flow::Close)
            }
            "VRFY" => {
                self.reply("252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
                Ok(Flow::Continue)
            }
            "HELP" => {
                self.reply("214 2.0.0 squall-sink: see RFC 5321");
                Ok(Flow::Continue)
            }
            _ => {
                self.reply("500 5.5.2 Error: command not recognized");
                Ok(Flow::Continue)
            }
        }
    }

    async fn hello(&mut self, verb: &str, name: &str) -> io::Result<Flow> {
        if name.is_empty() || name.contains(char::is_whitespace) {
            self.reply(&format!("501 5.5.4 Syntax: {verb} hostname"));
            return Ok(Flow::Continue);
        }
        if verb == "EHLO"
            && let Some(flow) = self.fault::<&str>(FaultStage::Ehlo, &[]).await?
        {
            return Ok(flow);
        }
        self.helo = Some(name.to_string());
        self.esmtp = verb == "EHLO";
        self.tx = None;
        let host = self.shared.config.hostname.clone();
        if !self.esmtp {
            self.reply(&format!("250 {host}"));
            return Ok(Flow::Continue);
        }
        let c = &self.shared.config;
        let mut lines = vec![host];
        for (kw, line) in [
            ("PIPELINING", "PIPELINING".to_string()),
            ("SIZE", format!("SIZE {}", c.size_limit)),
            ("8BITMIME", "8BITMIME".into()),
            ("SMTPUTF8", "SMTPUTF8".into()),
            ("CHUNKING", "CHUNKING".into()),
            ("BINARYMIME", "BINARYMIME".into()),
            ("DSN", "DSN".into()),
            ("ENHANCEDSTATUSCODES", "ENHANCEDSTATUSCODES".into()),
        ] {
            if c.offers(kw) {
                lines.push(line);
            }
        }
        if self.offers_starttls() {
            lines.push("STARTTLS".into());
        }
        if self.offers_auth() {
            lines.push(format!("AUTH {MECHANISMS}"));
        }
        let n = lines.len();
        for (i, l) in lines.iter().enumerate() {
            let sep = if i + 1 == n { ' ' } else { '-' };
            self.out.extend_from_slice(format!("250{sep}{l}\r\n").as_bytes());
        }
        Ok(Flow::Continue)
    }

    async fn mail(&mut self, args: &str) -> io::Result<Flow> {
        if self.helo.is_none() {
            self.reply("503 5.5.1 Error: send HELO/EHLO first");
            return Ok(Flow::Continue);
        }
        if self.tx.is_some() {
            self.reply("503 5.5.1 Error: nested MAIL command");
            return Ok(Flow::Continue);
        }
        if self.shared.config.require_tls && !self.tls {
            self.reply("530 5.7.0 Must issue a STARTTLS command first");
            return Ok(Flow::Continue);
        }
        if !self.shared.config.users.is_empty() && self.auth.is_none() {
            self.reply("530 5.7.0 Authentication required");
            return Ok(Flow::Continue);
        }
        let Some((from, params)) = parse_path(args, "FROM:") else {
            self.reply("501 5.5.4 Syntax: MAIL FROM:<address>");
            return Ok(Flow::Continue);
        };
        let mut tx = Transaction {
            from: from.clone(),
            ..Transaction::default()
        };
        for p in &params {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let ok = match k.to_ascii_uppercase().as_str() {
                "SIZE" => match v.parse::<u64>() {
                    Ok(n) if n > self.shared.config.size_limit => {
                        self.reply("552 5.3.4 Message size exceeds fixed limit");
                        return Ok(Flow::Continue);
                    }
                    Ok(_) => true,
                    Err(_) => false,
                },
                "BODY" => match v.to_ascii_uppercase().as_str() {
                    "7BIT" | "8BITMIME" => true,
                    "BINARYMIME" => {
                        tx.binary = true;
                        true
                    }
                    _ => false,
                },
                "SMTPUTF8" => {
                    tx.smtputf8 = true;
                    v.is_empty()
                }
                "RET" => ["FULL", "HDRS"].contains(&v.to_ascii_uppercase().as_str()),
                "ENVID" | "AUTH" => !v.is_empty(),
                _ => false,
            };
            if !ok {
                self.reply(&format!("555 5.5.4 Unsupported option: {p}"));
                return Ok(Flow::Continue);
            }
        }
        if !from.is_ascii() && !tx.smtputf8 {
            self.reply("553 5.6.7 Non-ASCII sender address needs SMTPUTF8");
            return Ok(Flow::Continue);
        }
        self.chaos = self.shared.chaos();
        if let Some(flow) = self.fault(FaultStage::Mail, &[from.as_str()]).await? {
            return Ok(flow);
        }
        tx.mail_params = params;
        self.tx = Some(tx);
        self.reply("250 2.1.0 Ok");
        Ok(Flow::Continue)
    }

    async fn rcpt(&mut self, args: &str) -> io::Result<Flow> {
        let Some(tx) = &self.tx else {
            self.reply("503 5.5.1 Error: need MAIL command");
            return Ok(Flow::Continue);
        };
        let Some((to, params)) = parse_path(args, "TO:").filter(|(to, _)| !to.is_empty()) else {
            self.reply("501 5.5.4 Syntax: RCPT TO:<address>");
            return Ok(Flow::Continue);
        };
        for p in &params {
            let k = p
                .split_once('=')
                .map_or(p.as_str(), |(k, _)| k)
                .to_ascii_uppercase();
            if k != "NOTIFY" && k != "ORCPT" {
                self.reply(&format!("555 5.5.4 Unsupported option: {p}"));
                return Ok(Flow::Continue);
            }
        }
        if !to.is_ascii() && !tx.smtputf8 {
            self.reply("553 5.6.7 Non-ASCII recipient address needs SMTPUTF8");
            return Ok(Flow::Continue);
        }
        if tx.rcpts.len() >= self.shared.config.max_recipients {
            self.reply("452 4.5.3 Error: too many recipients");
            return Ok(Flow::Continue);
        }
        if let Some(flow) = self.fault(FaultStage::Rcpt, &[to.as_str()]).await? {
            return Ok(flow);
        }
        if let Some(tx) = self.tx.as_mut() {
            tx.rcpts.push(to);
            tx.rcpt_params.push(params);
        }
        self.reply("250 2.1.5 Ok");
        Ok(Flow::Continue)
    }

    async fn data(&mut self) -> io::Result<Flow> {
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

    fn bdat(&mut self, args: &str) -> io::Result<Flow> {
        if !self.shared.config.offers("CHUNKING") {
            self.reply("500 5.5.2 Error: command not recognized");
            return Ok(Flow::Continue);
        }
        let mut words = args.split_whitespace();
        let size = words
            .next()
            .filter(|w| w.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|w| w.parse().ok());
        let last = match words.next() {
            None => Some(false),
            Some(w) if w.eq_ignore_ascii_case("LAST") => Some(true),
            Some(_) => None,
        };
        match (size, last, words.next()) {
            (Some(left), Some(last), None) => {
                if let Some(tx) = self.tx.as_mut() {
                    tx.chunked = true;
                }
                self.mode = Mode::Bdat { left, last };
            }
            // Without a valid size the chunk cannot be skipped: the stream is lost.
            _ => {
                self.reply("501 5.5.4 Syntax: BDAT size [LAST]");
                return Ok(Flow::Close);
            }
        }
        Ok(Flow::Continue)
    }

    async fn end_of_chunk(&mut self, last: bool) -> io::Result<Flow> {
        let refusal = match &self.tx {
            None => Some("503 5.5.1 Error: need MAIL command"),
            Some(t) if t.rcpts.is_empty() => Some("554 5.5.1 Error: no valid recipients"),
            Some(t) if t.failed => Some("503 5.5.1 Error: an earlier BDAT failed; send RSET"),
            Some(t) if t.too_big => Some("552 5.3.4 Message size exceeds fixed limit"),
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
    async fn end_of_data(&mut self, transfer: &'static str) -> io::Result<Flow> {
        let rcpts = self.rcpts();
        let Some(tx) = self.tx.take() else {
            self.reply("503 5.5.1 Error: need MAIL command");
            return Ok(Flow::Continue);
        };
        if let Some(flow) = self.fault(FaultStage::DataEnd, &rcpts).await? {
            return Ok(flow);
        }
        if tx.too_big {
            self.reply("552 5.3.4 Message size exceeds fixed limit");
            return Ok(Flow::Continue);
        }
        let mut msg = ReceivedMessage {
            id: self.shared.next_id(),
            mail_from: tx.from,
            mail_params: tx.mail_params,
            rcpt_to: tx.rcpts,
            rcpt_params: tx.rcpt_params,
            helo: self.helo.clone(),
            tls: self.tls,
            auth: self.auth.clone(),
            size: tx.body.len(),
            received_at: rfc3339(SystemTime::now()),
            transfer,
            data: tx.body,
            eml: None,
        };
        if let Some(dir) = &self.shared.config.maildir
            && let Err(e) = msg.save(dir)
        {
            self.reply(&format!("451 4.3.0 Error: cannot save the message: {e}"));
            return Ok(Flow::Continue);
        }
        let id = msg.id.clone();
        self.shared.deliver(msg);
        if self.chaos.take() == Some(Chaos::StoreThenDisconnect) {
            // Stored, and no word of it: the client cannot know.
            return Ok(Flow::Close);
        }
        self.reply(&format!("250 2.0.0 Ok: queued as {id}"));
        Ok(Flow::Continue)
    }

    fn offers_starttls(&self) -> bool {
        self.shared.config.tls.is_some() && !self.tls && self.shared.config.offers("STARTTLS")
    }

    fn offers_auth(&self) -> bool {
        let c = &self.shared.config;
        !c.users.is_empty() && self.auth.is_none() && (self.tls || c.auth_before_tls)
    }

    async fn starttls(&mut self, args: &str) -> io::Result<Flow> {
        if !args.trim().is_empty() {
            self.reply("501 5.5.4 Syntax: STARTTLS");
            return Ok(Flow::Continue);
        }
        if self.tls {
            self.reply("503 5.5.1 Error: TLS already active");
            return Ok(Flow::Continue);
        }
        if !self.offers_starttls() {
            self.reply("502 5.5.1 Error: command not implemented");
            return Ok(Flow::Continue);
        }
        if let Some(flow) = self.fault::<&str>(FaultStage::StartTls, &[]).await? {
            return Ok(flow);
        }
        self.reply("220 2.0.0 Ready to start TLS");
        Ok(Flow::StartTls)
    }

    /// The TLS handshake; afterwards the session starts over, as after the greeting.
    async fn start_tls(&mut self) -> io::Result<()> {
        let Some(config) = self.shared.config.tls.clone() else {
            return Err(io::Error::other("no certificate configured"));
        };
        let plain = std::mem::replace(&mut self.io, Box::new(tokio::io::duplex(1).0));
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let tls = tokio::time::timeout(std::time::Duration::from_secs(30), acceptor.accept(plain))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        self.io = Box::new(tls);
        self.tls = true;
        self.helo = None;
        self.esmtp = false;
        self.tx = None;
        self.auth = None;
        Ok(())
    }

    async fn auth(&mut self, args: &str) -> io::Result<Flow> {
        let mut words = args.split_whitespace();
        let (Some(mechanism), initial, None) = (words.next(), words.next(), words.next()) else {
            self.reply("501 5.5.4 Syntax: AUTH mechanism [initial-response]");
            return Ok(Flow::Continue);
        };
        let refusal = if self.auth.is_some() {
            Some("503 5.5.1 Error: already authenticated")
        } else if self.tx.is_some() {
            Some("503 5.5.1 Error: MAIL transaction in progress")
        } else if self.shared.config.require_tls && !self.tls {
            Some("530 5.7.0 Must issue a STARTTLS command first")
        } else if !self.offers_auth() {
            Some("503 5.5.1 Error: authentication not enabled")
        } else {
            None
        };
        if let Some(r) = refusal {
            self.reply(r);
            return Ok(Flow::Continue);
        }
        if let Some(flow) = self.fault::<&str>(FaultStage::Auth, &[]).await? {
            return Ok(flow);
        }
        let initial = initial.map(|i| if i == "=" { "" } else { i });
        let challenge = format!(
            "<{}.{}@{}>",
            self.shared.next_id(),
            std::process::id(),
            self.shared.config.hostname
        );
        let step = Users(&self.shared.config.users).start(mechanism, initial, challenge);
        self.sasl_step(step);
        Ok(Flow::Continue)
    }

    fn sasl_step(&mut self, step: Step) {
        match step {
            Step::Success(user) => {
                self.auth = Some(user);
                self.reply("235 2.7.0 Authentication successful");
            }
            Step::Failure => self.reply("535 5.7.8 Error: authentication failed: bad user name or password"),
            Step::Continue(challenge, next) => {
                self.reply(&format!("334 {challenge}"));
                self.mode = Mode::Sasl(next);
            }
            Step::Error(reply) => self.reply(reply),
        }
    }

    fn rcpts(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tx.iter().flat_map(|t| t.rcpts.iter().cloned()).collect();
        if let Some(t) = &self.tx {
            v.push(t.from.clone());
        }
        v
    }

    /// Applies a matching fault for `stage`; `Some(flow)` when it replaced the normal answer.
    async fn fault<S: AsRef<str>>(&mut self, stage: FaultStage, addrs: &[S]) -> io::Result<Option<Flow>> {
        if let Some(Chaos::At(at, _)) = &self.chaos
            && *at == stage
            && let Some(Chaos::At(_, action)) = self.chaos.take()
        {
            return self.apply(action).await;
        }
        let addrs: Vec<&str> = addrs.iter().map(AsRef::as_ref).collect();
        match self.shared.fault(stage, &addrs) {
            Some(action) => self.apply(action).await,
            None => Ok(None),
        }
    }

    async fn apply(&mut self, action: FaultAction) -> io::Result<Option<Flow>> {
        Ok(Some(match action {
            FaultAction::Reply(code, text) => {
                let text = if text.is_empty() {
                    "injected fault".into()
                } else {
                    text
                };
                self.reply(&format!("{code} {text}"));
                // 421 means the server is closing the channel.
                if code == 421 { Flow::Close } else { Flow::Continue }
            }
            // Answers to earlier (pipelined) commands still go out: the server closes here.
            FaultAction::Disconnect => Flow::Close,
            FaultAction::Stall => Flow::Stall,
            FaultAction::Delay(d) => {
                self.flush().await?;
                tokio::time::sleep(d).await;
                return Ok(None);
            }
            FaultAction::Garbage => {
                self.out
                    .extend_from_slice(b"\x16\x03\x01 this is not SMTP \xff\xfe\r\n");
                Flow::Continue
            }
            FaultAction::Overlong => {
                self.out.extend_from_slice(b"250 ");
                self.out.resize(self.out.len() + 100_000, b'x');
                self.out.extend_from_slice(b"\r\n");
                Flow::Continue
            }
        }))
    }

    fn last_reply_code(&self) -> Option<u16> {
        let text = std::str::from_utf8(self.out.get(..3)?).ok()?;
        text.parse().ok()
    }

    fn reply(&mut self, line: &str) {
        self.out.extend_from_slice(line.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            self.io.write_all(&self.out).await?;
            self.io.flush().await?;
            self.out.clear();
        }
        Ok(())
    }
}

/// `FROM:<a@b> P1 P2` → (`a@b`, [P1, P2]); lenient about a space after the colon.
fn parse_path(args: &str, prefix: &str) -> Option<(String, Vec<String>)> {
    let head = args.get(..prefix.len())?;
    if !head.eq_ignore_ascii_case(prefix) {
        return None;
    }
    let rest = args[prefix.len()..].trim_start();
    let rest = rest.strip_prefix('<')?;
    let end = rest.find('>')?;
    let path = rest[..end].to_string();
    let params = rest[end + 1..].split_whitespace().map(str::to_string).collect();
    Some((path, params))
}

#[cfg(test)]
mod tests {
    use super::parse_path;

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("FROM:<a@b> SIZE=1", "FROM:"),
            Some(("a@b".into(), vec!["SIZE=1".into()]))
        );
        assert_eq!(parse_path("from: <>", "FROM:"), Some((String::new(), vec![])));
        assert_eq!(parse_path("TO:a@b", "TO:"), None);
        assert_eq!(parse_path("", "TO:"), None);
    }
}
