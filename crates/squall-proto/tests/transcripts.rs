//! Transcript tests: scripted server bytes in, expected client bytes and events out.
//!
//! Each `transcripts/*.txt` file is run three ways (the h11 way): server bytes fed whole, one
//! byte at a time, and with the start of the next server chunk fed early (those trailing bytes
//! must wait unconsumed). Every way must give the same client bytes and the same events.
//!
//! Script lines:
//!
//! ```text
//! # comment
//! modes: whole trailing   (optional) run only these ways
//! config: ehlo=client.example tls=none pipelining=on chunking=on chunk=1024 window=8
//!         user=U password=P | token=T  mechanism=PLAIN  insecure-auth=on  transcript=on  lmtp=on
//!         nonce=SCRAM-NONCE  binding=HEX (tls-exporter channel binding, set right after new)
//! S: 250 text        server line (CRLF added); consecutive S lines are sent together
//! C: MAIL FROM:<a>   client line (CRLF added); all client bytes so far are compared before
//!                    each server chunk and at the end
//! S~: / C~:          the same without CRLF, with escapes (\r \n \t \\ \0 \xHH)
//! S*N: / C*N: / C~*N:  the text repeated N times
//! E: delivered #0 …  the next event, formatted as in `fmt_event`
//! send: FROM -> TO, TO ; size=N body=8bit|binary prefer-8bit smtputf8 ret=full|hdrs envid=X
//!                       notify=success,failure|never orcpt require-tls
//! body #N: text      content with escapes;  body #N *K: text  repeats it K times
//! finish #N | abort #N reason | quit | tls | tls unverified | eof
//! advance: SECS      move the clock and call handle_timeout
//! T: SECS            poll_timeout() is SECS from now (or `T: none`)
//! L: C: …            the next transcript line (with config transcript=on)
//! ```

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use squall_proto::ClientSession;
use squall_proto::address::{EhloName, Mailbox, ReversePath};
use squall_proto::auth::{ChannelBinding, ChannelBindingType, Credentials, Mechanism};
use squall_proto::envelope::Envelope;
use squall_proto::params::{BodyType, EnvelopeId, MailOptions, Notify, OriginalRecipient, Recipient, Ret};
use squall_proto::session::{
    Cause, Certificate, CloseReason, Event, MessageId, Protocol, SessionConfig, Tls,
};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Whole,
    ByteByByte,
    Trailing,
}

#[derive(Debug)]
enum Step {
    Server(Vec<u8>),
    Client(Vec<u8>),
    Event(String),
    Send(String),
    Body(u64, Vec<u8>),
    Finish(u64),
    Abort(u64, String),
    Quit,
    Tls(Certificate),
    Eof,
    Advance(u64),
    Timeout(Option<u64>),
    Line(String),
}

fn unescape(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            i += 1;
            match b[i] {
                b'r' => out.push(b'\r'),
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'0' => out.push(0),
                b'\\' => out.push(b'\\'),
                b'x' => {
                    let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 2;
                }
                c => panic!("unknown escape \\{}", c as char),
            }
        } else {
            out.push(b[i]);
        }
        i += 1;
    }
    out
}

/// `S`, `S~`, `S*3`, `C~*2` … → (raw, repeat).
fn line_kind(tag: &str) -> (bool, usize) {
    let raw = tag.contains('~');
    let repeat = tag.split_once('*').map_or(1, |(_, n)| n.parse().unwrap());
    (raw, repeat)
}

fn wire_text(tag: &str, text: &str) -> Vec<u8> {
    let (raw, repeat) = line_kind(tag);
    let mut one = if raw {
        unescape(text)
    } else {
        text.as_bytes().to_vec()
    };
    one = one.repeat(repeat);
    if !raw {
        one.extend_from_slice(b"\r\n");
    }
    one
}

/// `S`, `S~`, `S*2`, `S~*2` (and the same for `C`).
fn is_line_tag(tag: &str, side: char) -> bool {
    let mut chars = tag.chars();
    chars.next() == Some(side) && chars.all(|c| c == '~' || c == '*' || c.is_ascii_digit())
}

fn id_of(s: &str) -> u64 {
    s.trim().trim_start_matches('#').parse().unwrap()
}

/// The `modes:` line of a script, or all three.
fn modes(script: &str) -> Vec<Mode> {
    let Some(line) = script.lines().find_map(|l| l.strip_prefix("modes:")) else {
        return vec![Mode::Whole, Mode::ByteByByte, Mode::Trailing];
    };
    line.split_whitespace()
        .map(|m| match m {
            "whole" => Mode::Whole,
            "bytes" => Mode::ByteByByte,
            "trailing" => Mode::Trailing,
            _ => panic!("unknown mode {m}"),
        })
        .collect()
}

fn parse(script: &str) -> (String, Vec<Step>) {
    let mut config = String::new();
    let mut steps = Vec::new();
    for line in script.lines() {
        let line = line.trim_end();
        if line.trim().is_empty() || line.trim_start().starts_with('#') {
            continue;
        }
        let (tag, rest) = line.split_once(':').unwrap_or((line, ""));
        let rest = rest.strip_prefix(' ').unwrap_or(rest);
        let tag = tag.trim();
        match tag {
            "config" => config = rest.to_string(),
            "modes" => {}
            t if is_line_tag(t, 'S') => {
                let bytes = wire_text(t, rest);
                match steps.last_mut() {
                    Some(Step::Server(prev)) => prev.extend_from_slice(&bytes),
                    _ => steps.push(Step::Server(bytes)),
                }
            }
            t if is_line_tag(t, 'C') => {
                let bytes = wire_text(t, rest);
                match steps.last_mut() {
                    Some(Step::Client(prev)) => prev.extend_from_slice(&bytes),
                    _ => steps.push(Step::Client(bytes)),
                }
            }
            "E" => steps.push(Step::Event(rest.to_string())),
            "L" => steps.push(Step::Line(rest.to_string())),
            "send" => steps.push(Step::Send(rest.to_string())),
            "T" => steps.push(Step::Timeout(rest.trim().parse().ok())),
            "advance" => steps.push(Step::Advance(rest.trim().trim_end_matches('s').parse().unwrap())),
            t if t.starts_with("body") => {
                let spec = t.trim_start_matches("body").trim();
                let (id, repeat) = match spec.split_once(" *") {
                    Some((id, n)) => (id_of(id), n.parse().unwrap()),
                    None => (id_of(spec), 1),
                };
                steps.push(Step::Body(id, unescape(rest).repeat(repeat)));
            }
            _ => {
                let mut words = line.split_whitespace();
                match words.next().unwrap() {
                    "finish" => steps.push(Step::Finish(id_of(words.next().unwrap()))),
                    "abort" => {
                        let id = id_of(words.next().unwrap());
                        steps.push(Step::Abort(id, words.collect::<Vec<_>>().join(" ")));
                    }
                    "quit" => steps.push(Step::Quit),
                    "tls" => steps.push(Step::Tls(match words.next() {
                        None => Certificate::Verified,
                        Some("unverified") => Certificate::Unverified,
                        Some(other) => panic!("tls {other:?}: expected nothing or unverified"),
                    })),
                    "eof" => steps.push(Step::Eof),
                    other => panic!("unknown script line {other:?}"),
                }
            }
        }
    }
    (config, steps)
}

fn make_config(spec: &str) -> SessionConfig {
    let mut ehlo = "client.example".to_string();
    let mut user = None;
    let mut pass = None;
    let mut token = None;
    let kv: Vec<(String, String)> = spec
        .split_whitespace()
        .map(|w| {
            let (k, v) = w.split_once('=').unwrap();
            (k.to_string(), v.to_string())
        })
        .collect();
    for (k, v) in &kv {
        if k == "ehlo" {
            ehlo = v.clone();
        }
    }
    let mut c = SessionConfig::new()
        .ehlo_name(EhloName::parse(&ehlo).unwrap())
        .tls(Tls::None);
    for (k, v) in kv {
        let on = v == "on";
        c = match k.as_str() {
            "ehlo" => c,
            "tls" => c.tls(match v.as_str() {
                "none" => Tls::None,
                "opportunistic" => Tls::Opportunistic,
                "starttls" => Tls::StartTls,
                "implicit" => Tls::Implicit,
                _ => panic!("tls={v}"),
            }),
            "pipelining" => c.pipelining(on),
            "chunking" => c.chunking(on),
            "chunk" => c.bdat_chunk_size(v.parse().unwrap()),
            "window" => c.max_in_flight(v.parse().unwrap()),
            "user" => {
                user = Some(v);
                c
            }
            "password" => {
                pass = Some(v);
                c
            }
            "token" => {
                token = Some(v);
                c
            }
            "mechanism" => c.mechanism(Mechanism::from_name(&v)),
            "insecure-auth" => c.allow_insecure_auth(on),
            "transcript" => c.transcript(on),
            "lmtp" => c.protocol(if on { Protocol::Lmtp } else { Protocol::Smtp }),
            "nonce" => c.scram_nonce(v),
            // Applied to the session after it is made (see `binding_of`).
            "binding" => c,
            _ => panic!("unknown config key {k}"),
        };
    }
    match (user, pass, token) {
        (Some(u), Some(p), None) => c.credentials(Credentials::password(u, p).unwrap()),
        (Some(u), None, Some(t)) => c.credentials(Credentials::oauth2(u, t).unwrap()),
        (None, None, None) => c,
        _ => panic!("credentials need user and password or token"),
    }
}

/// The `binding=HEX` of a config line: tls-exporter channel-binding data.
fn binding_of(spec: &str) -> Option<ChannelBinding> {
    let hex = spec.split_whitespace().find_map(|w| w.strip_prefix("binding="))?;
    let data = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    Some(ChannelBinding::new(ChannelBindingType::TlsExporter, data))
}

fn make_envelope(spec: &str) -> Envelope {
    let (addrs, opts) = spec.split_once(';').unwrap_or((spec, ""));
    let (from, to) = addrs.split_once("->").unwrap();
    let mut options = MailOptions::default();
    let mut notify = None;
    let mut orcpt = false;
    for o in opts.split_whitespace() {
        let (k, v) = o.split_once('=').unwrap_or((o, ""));
        match k {
            "size" => options.size = Some(v.parse().unwrap()),
            "body" => {
                options.body = match v {
                    "8bit" => BodyType::EightBitMime,
                    "binary" => BodyType::BinaryMime,
                    _ => BodyType::SevenBit,
                }
            }
            "smtputf8" => options.smtputf8 = true,
            "prefer-8bit" => options.prefer_8bitmime = true,
            "ret" => options.ret = Some(if v == "full" { Ret::Full } else { Ret::Headers }),
            "envid" => options.envid = Some(EnvelopeId::new(v).unwrap()),
            "require-tls" => options.require_tls = true,
            "notify" => {
                notify = Some(if v == "never" {
                    Notify::NEVER
                } else {
                    Notify::on(v.contains("success"), v.contains("failure"), v.contains("delay"))
                })
            }
            "orcpt" => orcpt = true,
            _ => panic!("unknown option {k}"),
        }
    }
    let recipients: Vec<Recipient> = to
        .split(',')
        .map(|a| {
            let mailbox = Mailbox::parse(a.trim()).unwrap();
            let original = orcpt.then(|| OriginalRecipient::from_mailbox(&mailbox));
            Recipient::from(mailbox).notify(notify).orcpt(original)
        })
        .collect();
    Envelope::new(ReversePath::parse(from.trim()).unwrap(), recipients)
        .unwrap()
        .with_options(options)
}

fn fmt_rcpts(list: &[squall_proto::session::RecipientReply]) -> String {
    list.iter()
        .map(|r| format!("{}:{}", r.recipient, r.reply.code()))
        .collect::<Vec<_>>()
        .join(",")
}

fn fmt_cause(c: &Cause) -> String {
    match c {
        Cause::Rejected(r) => format!("rejected {}", r.code()),
        Cause::NoValidRecipients => "no-valid-recipients".into(),
        Cause::Local(e) => format!("local ({e})"),
        Cause::Policy(e) => format!("policy ({e})"),
        Cause::Protocol(e) => format!("protocol ({e})"),
        Cause::ServerClosing(r) => format!("server-closing {}", r.code()),
        Cause::ConnectionLost => "connection-lost".into(),
        Cause::Timeout => "timeout".into(),
        Cause::NotAttempted => "not-attempted".into(),
        other => format!("{other:?}"),
    }
}

fn fmt_event(e: &Event) -> String {
    match e {
        Event::Greeting(r) => format!("greeting {}", r.code()),
        Event::Capabilities(c) => format!("capabilities {c}"),
        Event::StartTls => "starttls".into(),
        Event::Authenticated(m) => format!("authenticated {m}"),
        Event::Ready => "ready".into(),
        Event::Delivered(d) => {
            let mut s = format!("delivered {} {} size={}", d.id, d.reply.code(), d.size);
            if let Some(q) = d.reply.queue_id() {
                write!(s, " queue={q}").unwrap();
            }
            write!(s, " accepted={}", fmt_rcpts(&d.accepted)).unwrap();
            if !d.rejected.is_empty() {
                write!(s, " rejected={}", fmt_rcpts(&d.rejected)).unwrap();
            }
            s
        }
        Event::Failed(f) => {
            let mut s = format!("failed {} {} {} {}", f.id, f.stage, f.kind(), fmt_cause(&f.cause));
            if !f.accepted.is_empty() {
                write!(s, " accepted={}", fmt_rcpts(&f.accepted)).unwrap();
            }
            if !f.rejected.is_empty() {
                write!(s, " rejected={}", fmt_rcpts(&f.rejected)).unwrap();
            }
            if f.ambiguous {
                s.push_str(" ambiguous");
            }
            s
        }
        Event::Closed(r) => match r {
            CloseReason::Quit => "closed quit".into(),
            CloseReason::Rejected { stage, reply } => format!("closed rejected {stage} {}", reply.code()),
            CloseReason::Policy(p) => format!("closed policy ({p})"),
            CloseReason::ServerClosing(r) => format!("closed server-closing {}", r.code()),
            CloseReason::ConnectionLost { stage: Some(s) } => format!("closed connection-lost {s}"),
            CloseReason::ConnectionLost { stage: None } => "closed connection-lost idle".into(),
            CloseReason::Timeout { stage } => format!("closed timeout {stage}"),
            CloseReason::Protocol(e) => format!("closed protocol ({e})"),
            CloseReason::BodyAborted => "closed body-aborted".into(),
            other => format!("closed {other:?}"),
        },
        other => format!("{other:?}"),
    }
}

struct Run {
    session: ClientSession,
    now: Instant,
    sent: Vec<u8>,
    expected_sent: Vec<u8>,
    events: Vec<String>,
    next_event: usize,
    ids: Vec<MessageId>,
}

impl Run {
    fn drain(&mut self) {
        let mut buf = Vec::new();
        if self.session.poll_transmit(self.now, &mut buf) {
            self.sent.extend_from_slice(&buf);
        }
        while let Some(e) = self.session.poll_event() {
            self.events.push(fmt_event(&e));
        }
    }

    fn check_sent(&self, at: usize) -> Result<(), String> {
        if self.sent != self.expected_sent {
            return Err(format!(
                "step {at}: client bytes differ\n--- expected\n{}\n--- got\n{}",
                String::from_utf8_lossy(&self.expected_sent),
                String::from_utf8_lossy(&self.sent)
            ));
        }
        Ok(())
    }
}

fn run(script: &str, mode: Mode) -> Result<(), String> {
    let (config, steps) = parse(script);
    let start = Instant::now();
    let mut session = ClientSession::new(make_config(&config), start);
    if let Some(binding) = binding_of(&config) {
        session.set_channel_binding(binding);
    }
    let mut r = Run {
        session,
        now: start,
        sent: Vec::new(),
        expected_sent: Vec::new(),
        events: Vec::new(),
        next_event: 0,
        ids: Vec::new(),
    };
    // Server bytes already fed early (trailing mode) for each step index.
    let mut fed_early = vec![0usize; steps.len()];
    for (at, step) in steps.iter().enumerate() {
        // What the client sent is compared whenever the server is about to speak.
        if matches!(step, Step::Server(_)) {
            r.check_sent(at)?;
        }
        match step {
            Step::Server(bytes) => {
                let rest = &bytes[fed_early[at]..];
                match mode {
                    Mode::Whole => r.session.handle_input(rest, r.now),
                    Mode::ByteByByte => {
                        for b in rest {
                            r.session.handle_input(std::slice::from_ref(b), r.now);
                        }
                    }
                    Mode::Trailing => {
                        // Find the next server chunk, unless a TLS switch or EOF comes first.
                        let next = steps[at + 1..]
                            .iter()
                            .enumerate()
                            .take_while(|(_, s)| !matches!(s, Step::Tls(_) | Step::Eof))
                            .find(|(_, s)| matches!(s, Step::Server(_)));
                        let mut input = rest.to_vec();
                        if let Some((off, Step::Server(next))) = next {
                            // Up to the first line end: never a complete reply.
                            let early = next.iter().position(|&b| b == b'\n').unwrap_or(next.len());
                            input.extend_from_slice(&next[..early]);
                            fed_early[at + 1 + off] = early;
                        }
                        r.session.handle_input(&input, r.now);
                    }
                }
            }
            Step::Client(bytes) => r.expected_sent.extend_from_slice(bytes),
            Step::Event(want) => {
                let got = r.events.get(r.next_event);
                if got != Some(want) {
                    return Err(format!(
                        "step {at}: expected event {want:?}, got {got:?}\nall events: {:#?}",
                        r.events
                    ));
                }
                r.next_event += 1;
            }
            Step::Send(spec) => {
                let id = r.session.send_mail(make_envelope(spec));
                r.ids.push(id);
            }
            Step::Body(id, data) => {
                let want = Some(r.ids[*id as usize]);
                if r.session.poll_body() != want {
                    return Err(format!(
                        "step {at}: poll_body() is {:?}, not {want:?}",
                        r.session.poll_body()
                    ));
                }
                r.session
                    .write_body(r.ids[*id as usize], data)
                    .map_err(|e| format!("step {at}: {e}"))?;
            }
            Step::Finish(id) => r
                .session
                .finish_body(r.ids[*id as usize])
                .map_err(|e| format!("step {at}: {e}"))?,
            Step::Abort(id, why) => r
                .session
                .abort_body(r.ids[*id as usize], why.clone())
                .map_err(|e| format!("step {at}: {e}"))?,
            Step::Quit => r.session.quit(),
            Step::Tls(certificate) => {
                r.session
                    .handle_tls_established(*certificate)
                    .map_err(|e| format!("step {at}: {e}"))?;
            }
            Step::Eof => r.session.handle_eof(),
            Step::Advance(secs) => {
                r.now += Duration::from_secs(*secs);
                r.session.handle_timeout(r.now);
            }
            Step::Timeout(want) => {
                let got = r
                    .session
                    .poll_timeout()
                    .map(|t| t.duration_since(r.now).as_secs());
                if got != *want {
                    return Err(format!(
                        "step {at}: poll_timeout is {got:?}s away, expected {want:?}"
                    ));
                }
            }
            Step::Line(want) => {
                let got = r.session.poll_transcript().map(|l| l.to_string());
                if got.as_deref() != Some(want.as_str()) {
                    return Err(format!("step {at}: transcript line {got:?}, expected {want:?}"));
                }
            }
        }
        r.drain();
    }
    r.check_sent(steps.len())?;
    if r.next_event != r.events.len() {
        return Err(format!("unchecked events: {:#?}", &r.events[r.next_event..]));
    }
    Ok(())
}

#[test]
fn transcripts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(files.len() >= 50, "transcripts missing from {}", dir.display());
    let mut failures = Vec::new();
    for file in &files {
        let script = std::fs::read_to_string(file).unwrap();
        for mode in modes(&script) {
            if let Err(e) = run(&script, mode) {
                failures.push(format!(
                    "{} ({mode:?}): {e}",
                    file.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
