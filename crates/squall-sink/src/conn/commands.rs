//! The commands of the dialog itself: greeting, EHLO, MAIL, RCPT and the small ones.

use std::io;

use tokio::time::Instant;

use super::{Conn, Flow, Transaction};
use crate::auth::MECHANISMS;
use crate::command::{self, Verb};
use crate::escape::escape;
use crate::fault::FaultStage;
use crate::limits::Reservation;
use crate::path::{self, PathError};
use crate::spool::Body;

impl Conn {
    pub(super) async fn greet(&mut self) -> io::Result<Flow> {
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

    pub(super) async fn command(&mut self, line: &[u8]) -> io::Result<Flow> {
        let (verb, args) = match command::split(line) {
            Ok(split) => split,
            Err(e) => {
                self.reply(&e.reply());
                return Ok(Flow::Continue);
            }
        };
        if self.refused && !matches!(verb, Verb::Quit | Verb::Noop) {
            self.reply("503 5.5.1 Error: service refused; send QUIT");
            return Ok(Flow::Continue);
        }
        match verb {
            Verb::Ehlo | Verb::Helo => self.hello(verb, args).await,
            Verb::Mail => self.mail(args).await,
            Verb::Rcpt => self.rcpt(args).await,
            Verb::Data => self.data().await,
            Verb::Bdat => self.bdat(args),
            Verb::StartTls => self.starttls(args).await,
            Verb::Auth => self.auth(args).await,
            Verb::Rset => {
                self.tx = None;
                self.reply("250 2.0.0 Ok");
                Ok(Flow::Continue)
            }
            Verb::Noop => {
                self.reply("250 2.0.0 Ok");
                Ok(Flow::Continue)
            }
            Verb::Quit => {
                if let Some(flow) = self.fault::<&str>(FaultStage::Quit, &[]).await? {
                    return Ok(flow);
                }
                self.reply("221 2.0.0 Bye");
                Ok(Flow::Close)
            }
            Verb::Vrfy => {
                self.reply("252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
                Ok(Flow::Continue)
            }
            Verb::Help => {
                self.reply("214 2.0.0 squall-sink: see RFC 5321");
                Ok(Flow::Continue)
            }
            Verb::Unknown => {
                self.reply("500 5.5.2 Error: command not recognized");
                Ok(Flow::Continue)
            }
        }
    }

    async fn hello(&mut self, verb: Verb, args: &str) -> io::Result<Flow> {
        let verb_name = if verb == Verb::Ehlo { "EHLO" } else { "HELO" };
        let Some(name) = command::parse_hello(args) else {
            self.reply(&format!("501 5.5.4 Syntax: {verb_name} hostname"));
            return Ok(Flow::Continue);
        };
        if verb == Verb::Ehlo
            && let Some(flow) = self.fault::<&str>(FaultStage::Ehlo, &[]).await?
        {
            return Ok(flow);
        }
        self.helo = Some(name.to_string());
        self.esmtp = verb == Verb::Ehlo;
        self.tx = None;
        let host = self.shared.config.hostname.clone();
        if !self.esmtp {
            self.reply(&format!("250 {host}"));
            return Ok(Flow::Continue);
        }
        let c = &self.shared.config;
        // RFC 1870: SIZE without a number (or 0) means no fixed limit; Postfix sends it bare.
        let size = c.size_limit().map_or("SIZE".to_string(), |n| format!("SIZE {n}"));
        let mut lines = vec![host];
        for (kw, line) in [
            ("PIPELINING", "PIPELINING".to_string()),
            ("SIZE", size),
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
        let refusal = if self.helo.is_none() {
            Some("503 5.5.1 Error: send HELO/EHLO first")
        } else if self.tx.is_some() {
            Some("503 5.5.1 Error: nested MAIL command")
        } else if self.shared.config.require_tls && !self.tls {
            Some("530 5.7.0 Must issue a STARTTLS command first")
        } else if !self.shared.config.users.is_empty() && self.auth.is_none() {
            Some("530 5.7.0 Authentication required")
        } else {
            None
        };
        if let Some(r) = refusal {
            self.reply(r);
            return Ok(Flow::Continue);
        }
        let parsed = match path::parse_mail(args) {
            Ok(p) => p,
            Err(e) => {
                self.reply(&path_refusal(e, "501 5.1.7 Bad sender address syntax"));
                return Ok(Flow::Continue);
            }
        };
        let (mut smtputf8, mut binary) = (false, false);
        for p in &parsed.params {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let ok = match k.to_ascii_uppercase().as_str() {
                "SIZE" => match command::parse_size_param(v) {
                    Some(n) if self.shared.config.size_limit().is_some_and(|limit| n > limit) => {
                        self.reply("552 5.3.4 Message size exceeds fixed limit");
                        return Ok(Flow::Continue);
                    }
                    Some(_) => true,
                    None => false,
                },
                "BODY" => match v.to_ascii_uppercase().as_str() {
                    "7BIT" | "8BITMIME" => true,
                    "BINARYMIME" => {
                        binary = true;
                        true
                    }
                    _ => false,
                },
                "SMTPUTF8" => {
                    smtputf8 = true;
                    v.is_empty()
                }
                "RET" => ["FULL", "HDRS"].contains(&v.to_ascii_uppercase().as_str()),
                "ENVID" | "AUTH" => !v.is_empty(),
                _ => false,
            };
            if !ok {
                self.reply(&format!("555 5.5.4 Unsupported option: {}", escape(p)));
                return Ok(Flow::Continue);
            }
        }
        let from = parsed.mailbox.to_string();
        if !from.is_ascii() && !smtputf8 {
            self.reply("553 5.6.7 Non-ASCII sender address needs SMTPUTF8");
            return Ok(Flow::Continue);
        }
        let mail_params: Vec<String> = parsed.params.iter().map(|p| p.to_string()).collect();
        let envelope_bytes = envelope_size(&from, &mail_params);
        let mut envelope = Reservation::exact(&self.shared.spool.budget);
        if !envelope.cover(envelope_bytes) {
            self.reply("452 4.3.1 Error: insufficient system storage");
            return Ok(Flow::Continue);
        }
        self.chaos = self.shared.chaos();
        if let Some(flow) = self.fault(FaultStage::Mail, &[from.as_str()]).await? {
            return Ok(flow);
        }
        self.tx = Some(Transaction {
            from,
            mail_params,
            rcpts: Vec::new(),
            rcpt_params: Vec::new(),
            body: Body::new(&self.shared.spool),
            envelope,
            envelope_bytes,
            smtputf8,
            binary,
            chunked: false,
            failed: false,
            deadline: Instant::now() + self.shared.config.limits.transaction_timeout,
        });
        self.reply("250 2.1.0 Ok");
        Ok(Flow::Continue)
    }

    async fn rcpt(&mut self, args: &str) -> io::Result<Flow> {
        let Some(tx) = &self.tx else {
            self.reply("503 5.5.1 Error: need MAIL command");
            return Ok(Flow::Continue);
        };
        let smtputf8 = tx.smtputf8;
        let full = tx.rcpts.len() >= self.shared.config.max_recipients;
        let parsed = match path::parse_rcpt(args) {
            Ok(p) => p,
            Err(e) => {
                self.reply(&path_refusal(e, "501 5.1.3 Bad recipient address syntax"));
                return Ok(Flow::Continue);
            }
        };
        for p in &parsed.params {
            let k = p.split_once('=').map_or(*p, |(k, _)| k).to_ascii_uppercase();
            if k != "NOTIFY" && k != "ORCPT" {
                self.reply(&format!("555 5.5.4 Unsupported option: {}", escape(p)));
                return Ok(Flow::Continue);
            }
        }
        let to = parsed.mailbox.to_string();
        if !to.is_ascii() && !smtputf8 {
            self.reply("553 5.6.7 Non-ASCII recipient address needs SMTPUTF8");
            return Ok(Flow::Continue);
        }
        if full {
            self.reply("452 4.5.3 Error: too many recipients");
            return Ok(Flow::Continue);
        }
        let params: Vec<String> = parsed.params.iter().map(|p| p.to_string()).collect();
        if let Some(flow) = self.fault(FaultStage::Rcpt, &[to.as_str()]).await? {
            return Ok(flow);
        }
        if let Some(tx) = self.tx.as_mut() {
            let total = tx.envelope_bytes.saturating_add(envelope_size(&to, &params));
            if !tx.envelope.cover(total) {
                self.reply("452 4.3.1 Error: insufficient system storage");
                return Ok(Flow::Continue);
            }
            tx.envelope_bytes = total;
            tx.rcpts.push(to);
            tx.rcpt_params.push(params);
        }
        self.reply("250 2.1.5 Ok");
        Ok(Flow::Continue)
    }

    /// The addresses a fault may be aimed at: every recipient, then the sender.
    pub(super) fn rcpts(&self) -> Vec<String> {
        let mut v: Vec<String> = self.tx.iter().flat_map(|t| t.rcpts.iter().cloned()).collect();
        if let Some(t) = &self.tx {
            v.push(t.from.clone());
        }
        v
    }
}

/// What an address and its parameters take in memory, roughly (a `String` each).
fn envelope_size(address: &str, params: &[String]) -> usize {
    let strings = 1 + params.len();
    address.len() + params.iter().map(String::len).sum::<usize>() + strings * size_of::<String>()
}

/// The reply to a MAIL or RCPT argument that does not parse: bad parameters are a syntax error
/// (5.5.4), a bad path is a bad address (`address`, 5.1.7 or 5.1.3), each with the reason.
fn path_refusal(e: PathError, address: &str) -> String {
    if e.is_param() {
        format!("501 5.5.4 Syntax error in parameters: {e}")
    } else {
        format!("{address}: {e}")
    }
}
