//! STARTTLS, AUTH, and the faults that replace normal answers.

use std::io;
use std::time::Duration;

use super::{Conn, Flow, Mode};
use crate::auth::{Step, Users};
use crate::command;
use crate::fault::{Chaos, FaultAction, FaultStage};

/// A TLS handshake gets this long at most (less if the command time limit is shorter).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

impl Conn {
    pub(super) fn offers_starttls(&self) -> bool {
        self.shared.config.tls.is_some() && !self.tls && self.shared.config.offers("STARTTLS")
    }

    pub(super) fn offers_auth(&self) -> bool {
        let c = &self.shared.config;
        !c.users.is_empty() && self.auth.is_none() && (self.tls || c.auth_before_tls)
    }

    pub(super) async fn starttls(&mut self, args: &str) -> io::Result<Flow> {
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
    pub(super) async fn start_tls(&mut self) -> io::Result<()> {
        let Some(config) = self.shared.config.tls.clone() else {
            return Err(io::Error::other("no certificate configured"));
        };
        let plain = std::mem::replace(&mut self.io, Box::new(tokio::io::duplex(1).0));
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let limit = HANDSHAKE_TIMEOUT.min(self.shared.config.limits.command_timeout);
        let tls = tokio::time::timeout(limit, acceptor.accept(plain))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))??;
        self.tls_facts = Some(tls_facts(tls.get_ref().1));
        self.io = Box::new(tls);
        self.tls = true;
        self.helo = None;
        self.esmtp = false;
        self.tx = None;
        self.auth = None;
        self.restart_command_clock();
        Ok(())
    }

    pub(super) async fn auth(&mut self, args: &str) -> io::Result<Flow> {
        let Some((mechanism, initial)) = command::parse_auth(args) else {
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

    pub(super) fn sasl_step(&mut self, step: Step) {
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

    /// Applies a matching fault for `stage`; `Some(flow)` when it replaced the normal answer.
    pub(super) async fn fault<S: AsRef<str>>(
        &mut self,
        stage: FaultStage,
        addrs: &[S],
    ) -> io::Result<Option<Flow>> {
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

    pub(super) async fn apply(&mut self, action: FaultAction) -> io::Result<Option<Flow>> {
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
}

/// The protocol version (`TLSv1.3`) and cipher suite (rustls's name) of a finished handshake.
fn tls_facts(conn: &rustls::ServerConnection) -> (String, String) {
    let version = match conn.protocol_version() {
        Some(v) => v
            .as_str()
            .map_or_else(|| format!("{v:?}"), |s| s.replace('_', ".")),
        None => "unknown".into(),
    };
    let cipher = match conn.negotiated_cipher_suite() {
        Some(c) => {
            let suite = c.suite();
            suite
                .as_str()
                .map_or_else(|| format!("{suite:?}"), str::to_string)
        }
        None => "unknown".into(),
    };
    (version, cipher)
}
