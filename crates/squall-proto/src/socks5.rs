//! The client side of a SOCKS5 handshake (RFC 1928), with user name and password
//! authentication (RFC 1929), as a pure exchange: bytes to send, bytes read, a verdict.
//!
//! Every SOCKS5 message has a length known from its first bytes, so [`Socks5Client::wants`]
//! says exactly how many bytes to read next. A driver that reads exactly that many never reads
//! past the proxy's last reply into the server's greeting, and needs no buffer to hand over.
//!
//! ```
//! use squall_proto::socks5::{Destination, Socks5Client, Step};
//!
//! let mut c = Socks5Client::new(Destination::name("mx.example.net").unwrap(), 25, None).unwrap();
//! let mut out = Vec::new();
//! c.poll_transmit(&mut out);
//! assert_eq!(out, [5, 1, 0]); // version 5, one method: no authentication
//! assert_eq!(c.wants(), 2);
//! assert_eq!(c.handle_input(&[5, 0]).unwrap(), Step::Continue);
//! out.clear();
//! c.poll_transmit(&mut out);
//! assert_eq!(&out[..5], [5, 1, 0, 3, 14]); // CONNECT, a 14-byte name (the proxy resolves it)
//! assert_eq!(c.handle_input(&[5, 0, 0, 1]).unwrap(), Step::Continue);
//! assert_eq!(c.wants(), 6); // the bound IPv4 address and port
//! assert_eq!(c.handle_input(&[127, 0, 0, 1, 0, 25]).unwrap(), Step::Connected);
//! ```

use std::fmt;
use std::net::IpAddr;

use thiserror::Error;

use crate::auth::Secret;

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const USER_PASSWORD: u8 = 2;
const NO_ACCEPTABLE: u8 = 0xff;
const CONNECT: u8 = 1;

/// Where the proxy is to connect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// A host name the proxy resolves (`socks5h://`).
    Name(String),
    /// An address resolved by the client (`socks5://`).
    Ip(IpAddr),
}

impl Destination {
    /// A host name for the proxy to resolve: 1 to 255 bytes, no control characters.
    pub fn name(name: &str) -> Result<Self, Socks5Error> {
        if name.is_empty() || name.len() > 255 || name.bytes().any(|b| b < 0x21 || b == 0x7f) {
            return Err(Socks5Error::BadName);
        }
        Ok(Self::Name(name.to_string()))
    }
}

/// What a SOCKS5 reply code means (RFC 1928 §6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReplyCode {
    /// 1: general SOCKS server failure.
    GeneralFailure,
    /// 2: connection not allowed by ruleset.
    NotAllowed,
    /// 3: network unreachable.
    NetworkUnreachable,
    /// 4: host unreachable.
    HostUnreachable,
    /// 5: connection refused (by the destination).
    ConnectionRefused,
    /// 6: TTL expired.
    TtlExpired,
    /// 7: command not supported.
    CommandNotSupported,
    /// 8: address type not supported.
    AddressTypeNotSupported,
    /// Any other value.
    Other(u8),
}

impl ReplyCode {
    fn from_byte(b: u8) -> Self {
        match b {
            1 => Self::GeneralFailure,
            2 => Self::NotAllowed,
            3 => Self::NetworkUnreachable,
            4 => Self::HostUnreachable,
            5 => Self::ConnectionRefused,
            6 => Self::TtlExpired,
            7 => Self::CommandNotSupported,
            8 => Self::AddressTypeNotSupported,
            other => Self::Other(other),
        }
    }

    /// The value on the wire.
    pub fn value(self) -> u8 {
        match self {
            Self::GeneralFailure => 1,
            Self::NotAllowed => 2,
            Self::NetworkUnreachable => 3,
            Self::HostUnreachable => 4,
            Self::ConnectionRefused => 5,
            Self::TtlExpired => 6,
            Self::CommandNotSupported => 7,
            Self::AddressTypeNotSupported => 8,
            Self::Other(b) => b,
        }
    }

    /// RFC 1928's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Self::GeneralFailure => "general SOCKS server failure",
            Self::NotAllowed => "connection not allowed by ruleset",
            Self::NetworkUnreachable => "network unreachable",
            Self::HostUnreachable => "host unreachable",
            Self::ConnectionRefused => "connection refused",
            Self::TtlExpired => "TTL expired",
            Self::CommandNotSupported => "command not supported",
            Self::AddressTypeNotSupported => "address type not supported",
            Self::Other(_) => "unassigned reply code",
        }
    }

    /// Whether trying again later may work: the proxy's own failure or the way to the server,
    /// not a rule or a missing feature.
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            Self::GeneralFailure
                | Self::NetworkUnreachable
                | Self::HostUnreachable
                | Self::ConnectionRefused
                | Self::TtlExpired
        )
    }
}

impl fmt::Display for ReplyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (SOCKS5 reply {})", self.name(), self.value())
    }
}

/// Why a SOCKS5 handshake failed. Never holds the password.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Socks5Error {
    /// The host name cannot be sent (empty, longer than 255 bytes, control characters).
    #[error("the host name cannot be sent to a SOCKS5 proxy (1 to 255 printable bytes)")]
    BadName,
    /// The user name or password is empty or longer than 255 bytes (RFC 1929).
    #[error("the proxy user name and password must each be 1 to 255 bytes (RFC 1929)")]
    BadCredentials,
    /// The proxy answered with another protocol version.
    #[error("the proxy does not speak SOCKS5 (it answered with version byte {0})")]
    NotSocks5(u8),
    /// The proxy accepts none of the offered methods.
    #[error("the proxy accepts none of the offered authentication methods ({})", if *.offered_password {
        "user name and password"
    } else {
        "no authentication; it may need a user name and password"
    })]
    NoAcceptableMethod {
        /// Whether user name and password were offered.
        offered_password: bool,
    },
    /// The proxy chose a method that was not offered.
    #[error("the proxy chose authentication method {0}, which was not offered")]
    UnexpectedMethod(u8),
    /// The proxy refused the user name or password.
    #[error("the proxy refused the user name or password (RFC 1929 status {0})")]
    AuthFailed(u8),
    /// The proxy could not or would not connect.
    #[error("the proxy could not connect to the server: {0}")]
    Refused(ReplyCode),
    /// Bytes that are not a SOCKS5 reply.
    #[error("the proxy sent a malformed reply: {0}")]
    Malformed(&'static str),
}

impl Socks5Error {
    /// Whether trying again later may work.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Refused(code) if code.is_transient())
    }
}

/// How the handshake goes on after a read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send what [`Socks5Client::poll_transmit`] gives, then read [`Socks5Client::wants`] bytes.
    Continue,
    /// The proxy connected to the server: the stream now carries the server's bytes.
    Connected,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The method selection (2 bytes) is awaited.
    Method,
    /// The RFC 1929 status (2 bytes) is awaited.
    Auth,
    /// The first 4 bytes of the CONNECT reply are awaited.
    ReplyHead,
    /// The rest of the CONNECT reply (bound address and port) is awaited.
    ReplyTail(usize),
    Connected,
    Failed,
}

/// One SOCKS5 CONNECT handshake.
pub struct Socks5Client {
    destination: Destination,
    port: u16,
    credentials: Option<(String, Secret)>,
    out: Vec<u8>,
    state: State,
}

impl fmt::Debug for Socks5Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socks5Client")
            .field("destination", &self.destination)
            .field("port", &self.port)
            .field("user", &self.credentials.as_ref().map(|(u, _)| u))
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl Socks5Client {
    /// A handshake asking the proxy to connect to `destination:port`, logging in with
    /// `credentials` (user name, password) when given. The greeting is ready to send.
    pub fn new(
        destination: Destination,
        port: u16,
        credentials: Option<(String, Secret)>,
    ) -> Result<Self, Socks5Error> {
        if let Some((user, pass)) = &credentials {
            let ok = |s: &str| (1..=255).contains(&s.len());
            if !ok(user) || !ok(pass.expose()) {
                return Err(Socks5Error::BadCredentials);
            }
        }
        let method = if credentials.is_some() {
            USER_PASSWORD
        } else {
            NO_AUTH
        };
        Ok(Self {
            destination,
            port,
            credentials,
            out: vec![VERSION, 1, method],
            state: State::Method,
        })
    }

    /// Moves the bytes to send into `buf` (appending); whether there were any.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> bool {
        let any = !self.out.is_empty();
        buf.append(&mut self.out);
        any
    }

    /// How many bytes to read next (0 once connected or failed).
    pub fn wants(&self) -> usize {
        match self.state {
            State::Method | State::Auth => 2,
            State::ReplyHead => 4,
            State::ReplyTail(n) => n,
            State::Connected | State::Failed => 0,
        }
    }

    /// Exactly [`wants`](Self::wants) bytes read from the proxy.
    pub fn handle_input(&mut self, bytes: &[u8]) -> Result<Step, Socks5Error> {
        if bytes.len() != self.wants() || self.wants() == 0 {
            self.state = State::Failed;
            return Err(Socks5Error::Malformed(
                "more or fewer bytes than the message holds",
            ));
        }
        let result = self.step(bytes);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn step(&mut self, b: &[u8]) -> Result<Step, Socks5Error> {
        match self.state {
            State::Method => {
                if b[0] != VERSION {
                    return Err(Socks5Error::NotSocks5(b[0]));
                }
                let offered = if self.credentials.is_some() {
                    USER_PASSWORD
                } else {
                    NO_AUTH
                };
                match b[1] {
                    NO_ACCEPTABLE => Err(Socks5Error::NoAcceptableMethod {
                        offered_password: self.credentials.is_some(),
                    }),
                    m if m != offered => Err(Socks5Error::UnexpectedMethod(m)),
                    USER_PASSWORD => {
                        self.send_login();
                        self.state = State::Auth;
                        Ok(Step::Continue)
                    }
                    _ => {
                        self.send_connect();
                        Ok(Step::Continue)
                    }
                }
            }
            State::Auth => {
                // RFC 1929 §2: the sub-negotiation has its own version, 1.
                if b[0] != 1 {
                    return Err(Socks5Error::Malformed(
                        "the login status has a version other than 1",
                    ));
                }
                if b[1] != 0 {
                    return Err(Socks5Error::AuthFailed(b[1]));
                }
                self.send_connect();
                Ok(Step::Continue)
            }
            State::ReplyHead => {
                if b[0] != VERSION {
                    return Err(Socks5Error::NotSocks5(b[0]));
                }
                if b[1] != 0 {
                    return Err(Socks5Error::Refused(ReplyCode::from_byte(b[1])));
                }
                let address = match b[3] {
                    1 => 4,
                    4 => 16,
                    3 => {
                        // The name's length byte comes first: read it with the rest unknown.
                        self.state = State::ReplyTail(1);
                        return Ok(Step::Continue);
                    }
                    _ => return Err(Socks5Error::Malformed("an unknown address type in the reply")),
                };
                self.state = State::ReplyTail(address + 2);
                Ok(Step::Continue)
            }
            // A bound name: its length byte, then the name and port.
            State::ReplyTail(1) if b.len() == 1 => {
                self.state = State::ReplyTail(usize::from(b[0]) + 2);
                Ok(Step::Continue)
            }
            State::ReplyTail(_) => {
                self.state = State::Connected;
                Ok(Step::Connected)
            }
            State::Connected | State::Failed => Err(Socks5Error::Malformed("nothing more was expected")),
        }
    }

    fn send_login(&mut self) {
        let Some((user, pass)) = &self.credentials else {
            return;
        };
        self.out.push(1);
        for field in [user.as_bytes(), pass.expose().as_bytes()] {
            // Lengths were checked in `new`.
            self.out.push(field.len() as u8);
            self.out.extend_from_slice(field);
        }
    }

    fn send_connect(&mut self) {
        self.out.extend_from_slice(&[VERSION, CONNECT, 0]);
        match &self.destination {
            Destination::Ip(IpAddr::V4(a)) => {
                self.out.push(1);
                self.out.extend_from_slice(&a.octets());
            }
            Destination::Ip(IpAddr::V6(a)) => {
                self.out.push(4);
                self.out.extend_from_slice(&a.octets());
            }
            Destination::Name(name) => {
                self.out.push(3);
                // At most 255 bytes (checked by `Destination::name`).
                self.out.push(name.len() as u8);
                self.out.extend_from_slice(name.as_bytes());
            }
        }
        self.out.extend_from_slice(&self.port.to_be_bytes());
        self.state = State::ReplyHead;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(c: &mut Socks5Client) -> Vec<u8> {
        let mut out = Vec::new();
        c.poll_transmit(&mut out);
        out
    }

    #[test]
    fn login_and_connect_to_an_address() {
        let creds = Some(("joe".to_string(), Secret::new("hunter2")));
        let mut c = Socks5Client::new(Destination::Ip([127, 0, 0, 2].into()), 2525, creds).unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert_eq!(take(&mut c), [5, 1, 2]);
        assert_eq!(c.handle_input(&[5, 2]), Ok(Step::Continue));
        assert_eq!(take(&mut c), b"\x01\x03joe\x07hunter2");
        assert_eq!(c.handle_input(&[1, 0]), Ok(Step::Continue));
        assert_eq!(take(&mut c), [5, 1, 0, 1, 127, 0, 0, 2, 0x09, 0xdd]);
        assert_eq!(c.handle_input(&[5, 0, 0, 4]), Ok(Step::Continue));
        assert_eq!(c.wants(), 18);
        assert_eq!(c.handle_input(&[0; 18]), Ok(Step::Connected));
        assert_eq!(c.wants(), 0);
    }

    #[test]
    fn bound_name_in_the_reply() {
        let mut c = Socks5Client::new(Destination::name("mx").unwrap(), 25, None).unwrap();
        take(&mut c);
        c.handle_input(&[5, 0]).unwrap();
        assert_eq!(take(&mut c), [5, 1, 0, 3, 2, b'm', b'x', 0, 25]);
        c.handle_input(&[5, 0, 0, 3]).unwrap();
        assert_eq!(c.wants(), 1);
        c.handle_input(&[4]).unwrap();
        assert_eq!(c.wants(), 6);
        assert_eq!(c.handle_input(b"abcd\x00\x19"), Ok(Step::Connected));
    }

    #[test]
    fn refusals_have_names() {
        let mut c = Socks5Client::new(Destination::name("mx").unwrap(), 25, None).unwrap();
        take(&mut c);
        c.handle_input(&[5, 0]).unwrap();
        let e = c.handle_input(&[5, 2, 0, 1]).unwrap_err();
        assert_eq!(e, Socks5Error::Refused(ReplyCode::NotAllowed));
        assert_eq!(
            e.to_string(),
            "the proxy could not connect to the server: connection not allowed by ruleset (SOCKS5 reply 2)"
        );
        assert!(!e.is_transient());
        assert!(Socks5Error::Refused(ReplyCode::ConnectionRefused).is_transient());
        assert_eq!(c.wants(), 0);
    }

    #[test]
    fn method_and_login_failures() {
        let mut c = Socks5Client::new(Destination::name("mx").unwrap(), 25, None).unwrap();
        let e = c.handle_input(&[5, 0xff]).unwrap_err();
        assert!(e.to_string().contains("may need a user name and password"), "{e}");
        let mut c = Socks5Client::new(Destination::name("mx").unwrap(), 25, None).unwrap();
        assert_eq!(c.handle_input(&[4, 0]), Err(Socks5Error::NotSocks5(4)));
        let mut c = Socks5Client::new(Destination::name("mx").unwrap(), 25, None).unwrap();
        assert_eq!(c.handle_input(&[5, 2]), Err(Socks5Error::UnexpectedMethod(2)));
        let creds = Some(("joe".to_string(), Secret::new("bad")));
        let mut c = Socks5Client::new(Destination::name("mx").unwrap(), 25, creds).unwrap();
        c.handle_input(&[5, 2]).unwrap();
        let e = c.handle_input(&[1, 1]).unwrap_err();
        assert_eq!(e, Socks5Error::AuthFailed(1));
        assert!(!e.to_string().contains("bad"));
    }

    #[test]
    fn local_refusals() {
        assert_eq!(Destination::name(""), Err(Socks5Error::BadName));
        assert_eq!(Destination::name(&"a".repeat(256)), Err(Socks5Error::BadName));
        assert_eq!(Destination::name("a\r\nb"), Err(Socks5Error::BadName));
        let long = Some(("u".to_string(), Secret::new("p".repeat(256))));
        assert_eq!(
            Socks5Client::new(Destination::name("mx").unwrap(), 25, long).unwrap_err(),
            Socks5Error::BadCredentials
        );
        let mut c = Socks5Client::new(Destination::name("mx").unwrap(), 25, None).unwrap();
        assert!(
            c.handle_input(&[5]).is_err(),
            "a short read is refused, not guessed around"
        );
    }
}
