//! A toy server and a harness that drive a [`ClientSession`] through arbitrary dialogs and check
//! its promises. Shared by the property tests and the `session` fuzz target; not public API.
//!
//! The promises checked: no panic, every message gets exactly one outcome, `Closed` comes
//! exactly once, no bare CR or LF ever leaves the client, no MAIL or RCPT parameter is sent
//! that the server did not offer, and every message reported delivered arrived intact: the toy
//! server undoes the dot-stuffing with its own reading of RFC 5321 §4.5.2 (not the client's
//! `DataDecoder`), and the harness compares with a reference normalisation written here.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::address::{EhloName, Mailbox, ReversePath};
use crate::auth::Credentials;
use crate::envelope::Envelope;
use crate::params::{EnvelopeId, MailOptions, Notify, Recipient, Ret};
use crate::session::{Certificate, ClientSession, Event, MessageId, SessionConfig, Tls};

/// Something the server or the application does.
#[derive(Clone, Debug)]
pub enum Op {
    /// The toy server answers the oldest command it owes a reply to, picking reply `k`.
    Answer(usize),
    /// Any reply, whether owed or not.
    Reply(&'static str),
    /// Raw bytes from the server.
    Bytes(Vec<u8>),
    /// The application queues a message with this many recipients, of this kind.
    Send(usize, Kind),
    /// Content for the message whose body is wanted.
    Body(Vec<u8>),
    /// End that body.
    Finish,
    /// Abandon that body.
    Abort,
    /// The driver finished a TLS handshake, with this standing of the certificate.
    Tls(Certificate),
    /// The application asks to quit.
    Quit,
    /// The transport ends.
    Eof,
    /// This many seconds pass.
    Timeout(u64),
}

/// What a queued message asks of the server beyond plain SMTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// ASCII addresses, no options.
    Plain,
    /// A non-ASCII recipient: needs SMTPUTF8.
    Utf8,
    /// Binary content preferred: BDAT with `BODY=BINARYMIME` where offered, bytes untouched.
    Binary,
    /// DSN options: `RET`, `ENVID`, `NOTIFY` (sent only where DSN is offered).
    Dsn,
}

impl Kind {
    /// Every kind, for picking one by a number.
    pub const ALL: [Self; 4] = [Self::Plain, Self::Utf8, Self::Binary, Self::Dsn];
}

/// Replies to throw in at random.
pub const REPLIES: &[&str] = &[
    "220 mx ESMTP\r\n",
    "250 ok\r\n",
    "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250 SIZE 300\r\n",
    "235 2.7.0 ok\r\n",
    "334 \r\n",
    "334 !!\r\n",
    "354 go\r\n",
    "221 bye\r\n",
    "421 closing\r\n",
    "451 4.3.0 later\r\n",
    "454 4.7.0 no tls\r\n",
    "500 what\r\n",
    "535 5.7.8 no\r\n",
    "550 5.1.1 unknown\r\n",
    "554 5.5.1 no valid recipients\r\n",
];

impl Op {
    /// Whether the op breaks the dialog (an unplanned reply, EOF, time passing).
    pub fn is_chaos(&self) -> bool {
        matches!(
            self,
            Self::Reply(_) | Self::Bytes(_) | Self::Eof | Self::Timeout(_)
        )
    }

    /// Decodes ops from fuzzer bytes, weighted like the property tests.
    pub fn decode_all(mut data: &[u8]) -> Vec<Self> {
        let mut ops = Vec::new();
        while let Some((&tag, rest)) = data.split_first() {
            data = rest;
            let arg = data.first().copied().unwrap_or(0);
            let op = match tag % 32 {
                0..=15 => Self::Answer(usize::from(tag / 32)),
                16 | 17 => Self::Send(usize::from(tag % 3) + 1, Kind::ALL[usize::from(arg % 4)]),
                18 | 19 => {
                    let n = usize::from(arg).min(data.len().saturating_sub(1));
                    let body = data.get(1..1 + n).unwrap_or_default().to_vec();
                    data = data.get(1 + n..).unwrap_or_default();
                    Self::Body(body)
                }
                20 | 21 => Self::Finish,
                22 => Self::Abort,
                23 => Self::Tls(Certificate::Verified),
                24 => Self::Tls(Certificate::Unverified),
                25 => Self::Reply(REPLIES[usize::from(arg) % REPLIES.len()]),
                26 => {
                    let n = usize::from(arg % 32).min(data.len().saturating_sub(1));
                    let bytes = data.get(1..1 + n).unwrap_or_default().to_vec();
                    data = data.get(1 + n..).unwrap_or_default();
                    Self::Bytes(bytes)
                }
                27 => Self::Eof,
                28 => Self::Timeout(u64::from(arg) * 4),
                29 => Self::Quit,
                _ => Self::Answer(usize::from(arg)),
            };
            ops.push(op);
        }
        ops
    }
}

/// A server that knows which commands it owes replies to, so that runs reach every stage.
#[derive(Debug, Default)]
pub struct FakeServer {
    buf: Vec<u8>,
    owed: VecDeque<String>,
    /// Inside DATA content (after a 354).
    in_data: bool,
    bdat_left: usize,
    bdat_last: bool,
    sasl: bool,
    /// The extensions of the last EHLO reply given (none after HELO or a refused EHLO).
    offered: &'static str,
    /// The current transaction declared `BODY=BINARYMIME`.
    binary: bool,
    /// The content of the message being received.
    content: Vec<u8>,
    /// Every message content received in full (DATA decoded, BDAT chunks joined).
    messages: Vec<Vec<u8>>,
    /// Whether each of `messages` came with `BODY=BINARYMIME`.
    binary_messages: Vec<bool>,
    /// Parameters sent that the server did not offer.
    violations: Vec<String>,
    /// What the client sent but BDAT chunk payloads (which may be binary), as read so far.
    text: Vec<u8>,
}

/// The EHLO reply that offers everything the fake server can check: BINARYMIME, SMTPUTF8, DSN.
const EHLO_ALL: &str = "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-BINARYMIME\r\n250-8BITMIME\r\n\
                        250-SMTPUTF8\r\n250-DSN\r\n250-SIZE 100000\r\n250 AUTH PLAIN\r\n";

impl FakeServer {
    /// A server about to greet.
    pub fn new() -> Self {
        let mut s = Self::default();
        s.owed.push_back("GREETING".into());
        s
    }

    /// Reads what the client sent, up to a DATA that has not been answered yet.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        loop {
            if self.bdat_left > 0 {
                let n = self.bdat_left.min(self.buf.len());
                self.content.extend(self.buf.drain(..n));
                self.bdat_left -= n;
                if self.bdat_left > 0 {
                    return;
                }
                self.chunk_done();
            }
            if self.in_data && !self.read_data() {
                return;
            }
            if self.owed.back().is_some_and(|v| v == "DATA") {
                return;
            }
            let Some(end) = find_crlf(&self.buf) else {
                return;
            };
            let line = String::from_utf8_lossy(&self.buf[..end]).into_owned();
            self.text.extend(self.buf.drain(..end + 2));
            let verb = if std::mem::take(&mut self.sasl) {
                "SASL".to_string()
            } else {
                line.split_whitespace().next().unwrap_or("").to_ascii_uppercase()
            };
            self.check_params(&verb, &line);
            if verb == "BDAT" {
                let mut words = line.split_whitespace().skip(1);
                self.bdat_left = words.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                self.bdat_last = words.next().is_some_and(|w| w.eq_ignore_ascii_case("LAST"));
                // A real server answers a chunk once it has read it.
                if self.bdat_left == 0 {
                    self.chunk_done();
                }
                continue;
            }
            self.owed.push_back(verb);
        }
    }

    /// A BDAT chunk was read in full: its reply is owed, and after LAST the message is complete.
    fn chunk_done(&mut self) {
        self.owed.push_back("BDAT".into());
        if std::mem::take(&mut self.bdat_last) {
            self.complete();
        }
    }

    fn complete(&mut self) {
        self.messages.push(std::mem::take(&mut self.content));
        self.binary_messages.push(self.binary);
    }

    /// DATA content, undone as RFC 5321 §4.5.2 says: lines end in CRLF, a line that is a single
    /// `.` ends the content, and a line starting with `.` loses that first `.`. Whether the end
    /// was reached.
    fn read_data(&mut self) -> bool {
        while let Some(end) = find_crlf(&self.buf) {
            let line: Vec<u8> = self.buf.drain(..end + 2).collect();
            self.text.extend_from_slice(&line);
            let text = &line[..end];
            if text == b"." {
                self.in_data = false;
                self.owed.push_back(".".into());
                self.complete();
                return true;
            }
            self.content
                .extend_from_slice(text.strip_prefix(b".").unwrap_or(text));
            self.content.extend_from_slice(b"\r\n");
        }
        false
    }

    /// Notes a MAIL or RCPT parameter whose extension the last EHLO reply did not offer.
    fn check_params(&mut self, verb: &str, line: &str) {
        if verb == "MAIL" {
            self.binary = line.to_ascii_uppercase().contains(" BODY=BINARYMIME");
        }
        if verb != "MAIL" && verb != "RCPT" {
            return;
        }
        for word in line.split(' ').skip(2) {
            let key = word.split('=').next().unwrap_or("").to_ascii_uppercase();
            let needs = match key.as_str() {
                "SMTPUTF8" => "SMTPUTF8",
                "RET" | "ENVID" | "NOTIFY" | "ORCPT" => "DSN",
                "BODY" if word.eq_ignore_ascii_case("BODY=BINARYMIME") => "BINARYMIME",
                "BODY" => "8BITMIME",
                "SIZE" => "SIZE",
                _ => continue,
            };
            if !self.offered.contains(&format!("250-{needs}"))
                && !self.offered.contains(&format!("250 {needs}"))
            {
                self.violations.push(format!("{line:?}: {needs} was not offered"));
            }
        }
    }

    /// What the client sent but BDAT chunk payloads, in order: SMTP text, in which every CR
    /// and LF must be part of a CRLF.
    pub fn wire_text(&self) -> Vec<u8> {
        [&self.text[..], &self.buf[..]].concat()
    }

    /// Parameters the client sent without the server offering their extension.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    /// The command the oldest owed reply answers (`GREETING`, `EHLO`, `.` for the end of data…).
    pub fn owed(&self) -> Option<&str> {
        self.owed.front().map(String::as_str)
    }

    /// Every message content received in full.
    pub fn messages(&self) -> &[Vec<u8>] {
        &self.messages
    }

    /// Every message content received in full, with whether it was declared BINARYMIME.
    pub fn received(&self) -> impl Iterator<Item = (&[u8], bool)> {
        self.messages
            .iter()
            .map(Vec::as_slice)
            .zip(self.binary_messages.iter().copied())
    }

    /// A plausible reply to the oldest owed command, picked by `k` (mostly positive).
    pub fn answer(&mut self, k: usize) -> Option<&'static str> {
        let verb = self.owed.pop_front()?;
        let choices: &[&str] = match verb.as_str() {
            "GREETING" => &[
                "220 mx ESMTP\r\n",
                "220 mx\r\n",
                "220 mx\r\n",
                "220 mx\r\n",
                "554 no\r\n",
                "421 busy\r\n",
            ],
            "EHLO" => &[
                "250-mx\r\n250-PIPELINING\r\n250-CHUNKING\r\n250-SIZE 300\r\n250-STARTTLS\r\n250-8BITMIME\r\n250 AUTH PLAIN LOGIN CRAM-MD5\r\n",
                "250-mx\r\n250-PIPELINING\r\n250 STARTTLS\r\n",
                "250-mx\r\n250 CHUNKING\r\n",
                "250-mx\r\n250-PIPELINING\r\n250 AUTH LOGIN\r\n",
                "502 unknown\r\n",
                EHLO_ALL,
                "250-mx\r\n250-SMTPUTF8\r\n250-8BITMIME\r\n250-STARTTLS\r\n250 DSN\r\n",
            ],
            "HELO" => &["250 mx\r\n", "250 mx\r\n", "550 no\r\n"],
            "STARTTLS" => &["220 go\r\n", "220 go\r\n", "220 go\r\n", "454 no\r\n"],
            "AUTH" | "SASL" => &[
                "235 ok\r\n",
                "235 ok\r\n",
                "334 VXNlcm5hbWU6\r\n",
                "334 \r\n",
                "535 no\r\n",
            ],
            "MAIL" => &["250 ok\r\n", "250 ok\r\n", "451 later\r\n", "550 no\r\n"],
            "RCPT" => &["250 ok\r\n", "250 ok\r\n", "550 unknown\r\n", "452 too many\r\n"],
            "DATA" => &[
                "354 go\r\n",
                "354 go\r\n",
                "554 no valid recipients\r\n",
                "451 later\r\n",
            ],
            "." => &[
                "250 queued as A\r\n",
                "250 ok\r\n",
                "550 rejected\r\n",
                "451 later\r\n",
            ],
            "BDAT" => &["250 ok\r\n", "250 ok\r\n", "552 too big\r\n", "503 no\r\n"],
            "RSET" => &["250 ok\r\n"],
            "QUIT" => &["221 bye\r\n"],
            _ => &["500 what\r\n"],
        };
        let reply = choices[k % choices.len()];
        if verb == "DATA" && reply.starts_with("354") {
            self.in_data = true;
        }
        match verb.as_str() {
            "EHLO" if reply.starts_with("250") => self.offered = reply,
            "STARTTLS" if !reply.starts_with("220") => {}
            "EHLO" | "HELO" | "STARTTLS" => self.offered = "",
            _ => {}
        }
        self.sasl = reply.starts_with("334");
        Some(reply)
    }
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    b.windows(2).position(|w| w == b"\r\n")
}

/// The content a receiver must store for `body`, written here from RFC 5321 (§2.3.8: lines end
/// in CRLF; §4.1.1.4: the content ends with one) and the client's documented policy that a
/// bare CR or LF is a line end: independent of `crate::data`.
pub fn reference_normalize(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 2);
    let mut i = 0;
    while i < body.len() {
        match body[i] {
            b'\r' if body.get(i + 1) == Some(&b'\n') => {
                out.extend_from_slice(b"\r\n");
                i += 1;
            }
            b'\r' | b'\n' => out.extend_from_slice(b"\r\n"),
            b => out.push(b),
        }
        i += 1;
    }
    if !out.is_empty() && !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A session configuration from a number: half of them plain, which any server lets through.
pub fn config(n: u8) -> SessionConfig {
    let tls = [
        Tls::None,
        Tls::None,
        Tls::None,
        Tls::Opportunistic,
        Tls::StartTls,
        Tls::Implicit,
    ][usize::from(n % 6)];
    let mut c = SessionConfig::new()
        .ehlo_name(EhloName::parse("client.example").expect("valid name"))
        .tls(tls)
        .pipelining(n & 8 != 0)
        .chunking(n & 16 != 0)
        .bdat_chunk_size(1024)
        .max_in_flight(usize::from(n >> 6) + 1)
        .transcript(true);
    if n & 32 != 0 && tls != Tls::None {
        c = c.allow_insecure_auth(n & 4 != 0);
        c = c.credentials(Credentials::password("u", "p").expect("valid credentials"));
    }
    c
}

fn envelope(n: usize, kind: Kind) -> Envelope {
    let to: Vec<Recipient> = (0..n)
        .map(|i| {
            let addr = match kind {
                Kind::Utf8 => format!("r{i}@exämple.net"),
                _ => format!("r{i}@example.net"),
            };
            let r = Recipient::from(Mailbox::parse(&addr).expect("valid address"));
            if kind == Kind::Dsn {
                r.notify(Some(Notify::FAILURE))
            } else {
                r
            }
        })
        .collect();
    let from = ReversePath::parse("a@example.org").expect("valid sender");
    let mut options = MailOptions::default();
    match kind {
        Kind::Binary => options.prefer_binarymime = true,
        Kind::Dsn => {
            options.ret = Some(Ret::Headers);
            options.envid = Some(EnvelopeId::new("fuzz+1").expect("valid ENVID"));
        }
        Kind::Plain | Kind::Utf8 => {}
    }
    Envelope::new(from, to)
        .expect("has recipients")
        .with_options(options)
}

/// A session, the toy server, and everything observed.
#[derive(Debug)]
pub struct Harness {
    session: ClientSession,
    server: FakeServer,
    now: Instant,
    /// Every byte the client sent.
    pub sent: Vec<u8>,
    ids: Vec<MessageId>,
    late_ids: Vec<MessageId>,
    outcomes: HashMap<MessageId, usize>,
    closed: usize,
    events_after_close: usize,
    /// Where the client's output stood when an unverified TLS session began.
    unverified_from: Option<usize>,
    insecure_auth: bool,
    /// The content the application wrote for each message.
    bodies: HashMap<MessageId, Vec<u8>>,
    /// The messages reported delivered, in order.
    delivered: Vec<MessageId>,
    /// Bytes or replies not from the toy server were fed in: a delivery may then be forged, and
    /// what arrived is not checked.
    forged: bool,
}

impl Harness {
    /// A fresh session that has just connected.
    pub fn new(config: SessionConfig) -> Self {
        let now = Instant::now();
        let insecure_auth = config.allows_insecure_auth();
        Self {
            session: ClientSession::new(config, now),
            server: FakeServer::new(),
            now,
            sent: Vec::new(),
            ids: Vec::new(),
            late_ids: Vec::new(),
            outcomes: HashMap::new(),
            closed: 0,
            events_after_close: 0,
            unverified_from: None,
            insecure_auth,
            bodies: HashMap::new(),
            delivered: Vec::new(),
            forged: false,
        }
    }

    fn drain(&mut self) {
        let mut buf = Vec::new();
        self.session.poll_transmit(self.now, &mut buf);
        self.sent.extend_from_slice(&buf);
        self.server.feed(&buf);
        while let Some(e) = self.session.poll_event() {
            if self.closed > 0 {
                self.events_after_close += 1;
            }
            match e {
                Event::Delivered(d) => {
                    *self.outcomes.entry(d.id).or_default() += 1;
                    self.delivered.push(d.id);
                }
                Event::Failed(f) => *self.outcomes.entry(f.id).or_default() += 1,
                Event::Closed(_) => self.closed += 1,
                _ => {}
            }
        }
        while self.session.poll_transcript().is_some() {}
    }

    /// Does one thing, then collects output.
    pub fn apply(&mut self, op: Op) {
        let s = &mut self.session;
        match op {
            Op::Answer(k) => {
                if let Some(r) = self.server.answer(k) {
                    s.handle_input(r.as_bytes(), self.now);
                }
            }
            Op::Reply(r) => {
                self.forged = true;
                s.handle_input(r.as_bytes(), self.now);
            }
            Op::Bytes(b) => {
                self.forged = true;
                s.handle_input(&b, self.now);
            }
            Op::Send(n, kind) => {
                let late = s.is_closed();
                let id = s.send_mail(envelope(n, kind));
                self.ids.push(id);
                if late {
                    self.late_ids.push(id);
                }
            }
            Op::Body(b) => {
                if let Some(id) = s.poll_body() {
                    s.write_body(id, &b).expect("poll_body said it is wanted");
                    self.bodies.entry(id).or_default().extend_from_slice(&b);
                }
            }
            Op::Finish => {
                if let Some(id) = s.poll_body() {
                    s.finish_body(id).expect("poll_body said it is wanted");
                }
            }
            Op::Abort => {
                if let Some(id) = s.poll_body() {
                    s.abort_body(id, "test").expect("poll_body said it is wanted");
                }
            }
            Op::Tls(certificate) => {
                let upgraded = s.handle_tls_established(certificate).is_ok();
                if upgraded && certificate == Certificate::Unverified {
                    self.unverified_from = Some(self.sent.len());
                }
            }
            Op::Quit => s.quit(),
            Op::Eof => s.handle_eof(),
            Op::Timeout(secs) => {
                self.now += Duration::from_secs(secs);
                s.handle_timeout(self.now);
            }
        }
        self.drain();
    }

    /// Winds down (quit, finish bodies, answer what is owed, then EOF) and checks the promises.
    pub fn finish(mut self) -> Result<Self, String> {
        self.apply(Op::Quit);
        for _ in 0..100 {
            self.apply(Op::Finish);
            self.apply(Op::Tls(Certificate::Verified));
            self.apply(Op::Answer(0));
        }
        self.apply(Op::Eof);
        if !self.session.is_closed() || self.closed != 1 {
            return Err(format!("closed {} times", self.closed));
        }
        // Only messages handed over after the end get events after it (their failure).
        if self.events_after_close != self.late_ids.len() {
            return Err(format!("{} events after Closed", self.events_after_close));
        }
        for id in &self.ids {
            if self.outcomes.get(id) != Some(&1) {
                return Err(format!("message {id} settled {:?} times", self.outcomes.get(id)));
            }
        }
        if self.outcomes.len() != self.ids.len() {
            return Err("outcomes for unknown messages".into());
        }
        // BDAT payloads aside (BINARYMIME content is binary), no bare CR or LF.
        let text = self.server.wire_text();
        for (i, &b) in text.iter().enumerate() {
            let bare = (b == b'\r' && text.get(i + 1) != Some(&b'\n'))
                || (b == b'\n' && (i == 0 || text[i - 1] != b'\r'));
            if bare {
                return Err(format!(
                    "bare CR or LF at byte {i} of the client's output (chunk payloads left out)"
                ));
            }
        }
        if !self.forged {
            self.check_content()?;
            if let Some(v) = self.server.violations().first() {
                return Err(format!("a parameter the server did not offer: {v}"));
            }
        }
        // Credentials never cross TLS whose certificate did not verify, unless allowed.
        if let Some(from) = self.unverified_from
            && !self.insecure_auth
            && self.sent[from..].windows(5).any(|w| w == b"AUTH ")
        {
            return Err("AUTH was sent over TLS whose certificate did not verify".into());
        }
        Ok(self)
    }

    /// Every message reported delivered arrived as the application wrote it: normalised, or
    /// byte for byte when declared BINARYMIME.
    fn check_content(&self) -> Result<(), String> {
        let mut received: Vec<(&[u8], bool)> = self.server.received().collect();
        for id in &self.delivered {
            let body = self.bodies.get(id).map_or(&[][..], Vec::as_slice);
            let normalized = reference_normalize(body);
            let found = received.iter().position(|&(content, binary)| {
                if binary {
                    content == body
                } else {
                    content == normalized
                }
            });
            match found {
                Some(i) => {
                    received.remove(i);
                }
                None => {
                    return Err(format!(
                        "message {id} was reported delivered, but no content the server received is {:?}",
                        String::from_utf8_lossy(body)
                    ));
                }
            }
        }
        Ok(())
    }
}
