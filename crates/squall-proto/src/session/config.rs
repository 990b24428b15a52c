//! How a session behaves: TLS and AUTH policy, extension use, timeouts.

use std::time::Duration;

use crate::address::EhloName;
use crate::auth::{Credentials, Mechanism};
use crate::reply::ReplyLimits;

/// When to use TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Tls {
    /// Never upgrade; the session stays in cleartext.
    None,
    /// Opportunistic TLS (RFC 7435): upgrade with STARTTLS when the server offers it, and stay
    /// encrypted even when its certificate does not verify (the driver reports which with
    /// [`Certificate`](super::Certificate)); go on in cleartext when the server does not offer
    /// STARTTLS or refuses it. Credentials are sent only over a verified connection.
    Opportunistic,
    /// Upgrade with STARTTLS, and fail before any MAIL when that is impossible (RFC 3207 §4 lets an
    /// attacker strip STARTTLS from the EHLO reply; this mode does not let that downgrade pass).
    #[default]
    StartTls,
    /// The transport is already TLS (port 465, RFC 8314): no STARTTLS.
    Implicit,
}

/// Which dialect the server speaks.
///
/// LMTP (RFC 2033) is SMTP for the last hop into a mailbox server: the client greets with LHLO
/// (there is no HELO to fall back to), and after the content the server answers once per
/// accepted recipient, in RCPT order, because each mailbox may take or refuse the message on its
/// own. Those answers become per-recipient outcomes, exactly like RCPT refusals in SMTP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// SMTP (RFC 5321): EHLO, with HELO as the fallback; one reply after the content.
    #[default]
    Smtp,
    /// LMTP (RFC 2033): LHLO; one reply per accepted recipient after the content.
    Lmtp,
}

/// How long to wait for each reply. Defaults follow RFC 5321 §4.5.3.2 where it gives a value.
///
/// The session measures each wait from the later of "the command was handed to the transport"
/// and "the previous reply arrived", so a pipelined group does not share one timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Timeouts {
    /// The 220 greeting (RFC: 5 min).
    pub greeting: Duration,
    /// EHLO, HELO, STARTTLS, AUTH, RSET and other commands without an RFC value (5 min).
    pub command: Duration,
    /// The TLS handshake after the STARTTLS go-ahead, run by the driver (2 min).
    pub tls_handshake: Duration,
    /// The reply to MAIL (RFC: 5 min).
    pub mail: Duration,
    /// The reply to each RCPT (RFC: 5 min).
    pub rcpt: Duration,
    /// The 354 after DATA (RFC: 2 min).
    pub data: Duration,
    /// Each write of message data to complete, and each non-final BDAT reply (RFC: 3 min). The
    /// driver applies this one to its writes.
    pub data_block: Duration,
    /// The reply after the final `.` or `BDAT … LAST` (RFC: 10 min, kept long because a client
    /// that gives up here may cause a duplicate).
    pub data_end: Duration,
    /// The 221 after QUIT (1 min; nothing depends on it).
    pub quit: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        const MIN: u64 = 60;
        Self {
            greeting: Duration::from_secs(5 * MIN),
            command: Duration::from_secs(5 * MIN),
            tls_handshake: Duration::from_secs(2 * MIN),
            mail: Duration::from_secs(5 * MIN),
            rcpt: Duration::from_secs(5 * MIN),
            data: Duration::from_secs(2 * MIN),
            data_block: Duration::from_secs(3 * MIN),
            data_end: Duration::from_secs(10 * MIN),
            quit: Duration::from_secs(MIN),
        }
    }
}

impl Timeouts {
    /// Every wait capped at `max` (for command-line `--timeout` style settings).
    pub fn capped(self, max: Duration) -> Self {
        let c = |d: Duration| d.min(max);
        Self {
            greeting: c(self.greeting),
            command: c(self.command),
            tls_handshake: c(self.tls_handshake),
            mail: c(self.mail),
            rcpt: c(self.rcpt),
            data: c(self.data),
            data_block: c(self.data_block),
            data_end: c(self.data_end),
            quit: c(self.quit),
        }
    }
}

/// Everything a [`ClientSession`](super::ClientSession) needs to know before it starts.
///
/// Each option has its one default here; a driver keeps a `SessionConfig` as the template for its
/// connections and sets only what differs per connection (the EHLO name, fresh credentials).
#[derive(Clone, Debug)]
pub struct SessionConfig {
    pub(crate) protocol: Protocol,
    pub(crate) ehlo_name: EhloName,
    pub(crate) tls: Tls,
    pub(crate) credentials: Option<Credentials>,
    pub(crate) mechanism: Option<Mechanism>,
    pub(crate) scram_nonce: Option<String>,
    pub(crate) allow_insecure_auth: bool,
    pub(crate) timeouts: Timeouts,
    pub(crate) pipelining: bool,
    pub(crate) chunking: bool,
    pub(crate) bdat_chunk_size: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) reply_limits: ReplyLimits,
    pub(crate) transcript: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl SessionConfig {
    /// Defaults: EHLO `[127.0.0.1]` (set the real name or address literal with
    /// [`ehlo_name`](Self::ehlo_name)), required STARTTLS, no AUTH, PIPELINING and CHUNKING used
    /// when offered, RFC timeouts, 256 KiB BDAT chunks, up to 32 BDAT messages in flight, no
    /// transcript.
    pub fn new() -> Self {
        Self {
            protocol: Protocol::Smtp,
            ehlo_name: EhloName::from_ip([127, 0, 0, 1].into()),
            tls: Tls::default(),
            credentials: None,
            mechanism: None,
            scram_nonce: None,
            allow_insecure_auth: false,
            timeouts: Timeouts::default(),
            pipelining: true,
            chunking: true,
            bdat_chunk_size: 256 * 1024,
            max_in_flight: 32,
            reply_limits: ReplyLimits::default(),
            transcript: false,
        }
    }

    /// SMTP (the default) or LMTP.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// The name given in EHLO: the client's host name, or the address literal of its address
    /// (RFC 5321 §4.1.4).
    pub fn ehlo_name(mut self, name: EhloName) -> Self {
        self.ehlo_name = name;
        self
    }

    /// When to use TLS.
    pub fn tls(mut self, mode: Tls) -> Self {
        self.tls = mode;
        self
    }

    /// Log in with these credentials after the (optional) TLS upgrade.
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// Use this SASL mechanism instead of the strongest one offered.
    pub fn mechanism(mut self, mechanism: Mechanism) -> Self {
        self.mechanism = Some(mechanism);
        self
    }

    /// The client nonce for a SCRAM exchange (RFC 5802 §5.1): fresh random printable ASCII
    /// without `,` for every connection, at least 18 bytes of randomness. The core reads no
    /// randomness, so without it SCRAM is never chosen.
    pub fn scram_nonce(mut self, nonce: impl Into<String>) -> Self {
        self.scram_nonce = Some(nonce.into());
        self
    }

    /// Allow credentials over an unencrypted session. Off by default; only for test servers.
    pub fn allow_insecure_auth(mut self, allow: bool) -> Self {
        self.allow_insecure_auth = allow;
        self
    }

    /// Reply timeouts.
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Use PIPELINING when the server offers it (default on).
    pub fn pipelining(mut self, use_it: bool) -> Self {
        self.pipelining = use_it;
        self
    }

    /// Use CHUNKING (BDAT) when the server offers it (default on). Binary bodies use it regardless.
    pub fn chunking(mut self, use_it: bool) -> Self {
        self.chunking = use_it;
        self
    }

    /// Content bytes per BDAT chunk (at least 1 KiB).
    pub fn bdat_chunk_size(mut self, bytes: usize) -> Self {
        self.bdat_chunk_size = bytes.max(1024);
        self
    }

    /// How many BDAT messages may await their final reply at once on a pipelining server (at
    /// least 1): enough that a connection 10 ms away is limited by the server and the bandwidth,
    /// not by round trips. Each is at risk of an ambiguous outcome if the connection drops before
    /// its reply. With DATA at most two are ever open: one awaiting its final reply, one starting.
    pub fn max_in_flight(mut self, messages: usize) -> Self {
        self.max_in_flight = messages.max(1);
        self
    }

    /// Bounds on reply size.
    pub fn reply_limits(mut self, limits: ReplyLimits) -> Self {
        self.reply_limits = limits;
        self
    }

    /// Record a redacted transcript, read with
    /// [`ClientSession::poll_transcript`](super::ClientSession::poll_transcript).
    pub fn transcript(mut self, on: bool) -> Self {
        self.transcript = on;
        self
    }

    /// The timeouts (the driver applies [`Timeouts::data_block`] to its writes and
    /// [`Timeouts::tls_handshake`] to its handshakes).
    pub fn get_timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// SMTP or LMTP.
    pub fn get_protocol(&self) -> Protocol {
        self.protocol
    }

    /// The TLS mode.
    pub fn get_tls(&self) -> Tls {
        self.tls
    }

    /// Whether credentials may cross an unencrypted or unverified connection.
    pub fn allows_insecure_auth(&self) -> bool {
        self.allow_insecure_auth
    }

    /// Whether credentials are configured.
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// How many BDAT messages may await their verdict at once.
    pub fn get_max_in_flight(&self) -> usize {
        self.max_in_flight
    }
}
