//! Client commands and their exact wire encoding.
//!
//! [`Command::encode`] writes the bytes, CRLF included. `Display` is for people (transcripts,
//! logs): the same text without the line end and with SASL data replaced by `***`. Every value
//! here comes from a validated type, so no command can carry a CR or LF from user input.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::address::{EhloName, ReversePath};
use crate::auth::Mechanism;
use crate::params::{BodyType, EnvelopeId, Recipient, Ret, push_xtext};

/// The parameters actually sent on `MAIL FROM`, after checking them against the server.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MailParams<'a> {
    /// `SIZE=`.
    pub size: Option<u64>,
    /// `BODY=` (nothing is sent for 7BIT).
    pub body: BodyType,
    /// `SMTPUTF8`.
    pub smtputf8: bool,
    /// `RET=`.
    pub ret: Option<Ret>,
    /// `ENVID=`.
    pub envid: Option<&'a EnvelopeId>,
    /// `REQUIRETLS`.
    pub require_tls: bool,
}

/// One command line. `Debug` and `Display` show SASL data as `***`.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Command<'a> {
    /// `EHLO name`.
    Ehlo(&'a EhloName),
    /// `HELO name`.
    Helo(&'a EhloName),
    /// `LHLO name`: LMTP's EHLO (RFC 2033 §4.1).
    Lhlo(&'a EhloName),
    /// `STARTTLS`.
    StartTls,
    /// `AUTH mechanism [initial-response]`; the response is raw and base64-encoded on the wire.
    Auth {
        /// The mechanism.
        mechanism: &'a Mechanism,
        /// The initial response, if sent on the command line.
        initial: Option<&'a [u8]>,
    },
    /// One SASL response line (raw bytes, base64-encoded on the wire; empty gives an empty line).
    AuthResponse(&'a [u8]),
    /// `*`: cancel the SASL exchange.
    AuthCancel,
    /// `MAIL FROM:<path> params`.
    Mail {
        /// The reverse path.
        from: &'a ReversePath,
        /// The parameters.
        params: MailParams<'a>,
    },
    /// `RCPT TO:<path> params`; DSN parameters only when `dsn` is set.
    Rcpt {
        /// The recipient and its DSN options.
        to: &'a Recipient,
        /// Whether the server offers DSN.
        dsn: bool,
    },
    /// `DATA`.
    Data,
    /// `BDAT size [LAST]`; exactly `size` octets of content follow.
    Bdat {
        /// Octets that follow.
        size: usize,
        /// Whether this is the last chunk.
        last: bool,
    },
    /// `RSET`.
    Rset,
    /// `NOOP`.
    Noop,
    /// `QUIT`.
    Quit,
}

impl Command<'_> {
    /// Appends the command line, CRLF included.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Ehlo(name) => push_all(out, &[b"EHLO ", name.as_str().as_bytes()]),
            Self::Helo(name) => push_all(out, &[b"HELO ", name.as_str().as_bytes()]),
            Self::Lhlo(name) => push_all(out, &[b"LHLO ", name.as_str().as_bytes()]),
            Self::StartTls => out.extend_from_slice(b"STARTTLS"),
            Self::Auth { mechanism, initial } => {
                push_all(out, &[b"AUTH ", mechanism.name().as_bytes()]);
                if let Some(data) = initial {
                    out.push(b' ');
                    if data.is_empty() {
                        // RFC 4954 §4: `=` is an empty initial response.
                        out.push(b'=');
                    } else {
                        push_base64(out, data);
                    }
                }
            }
            Self::AuthResponse(data) => push_base64(out, data),
            Self::AuthCancel => out.push(b'*'),
            Self::Mail { from, params } => {
                out.extend_from_slice(b"MAIL FROM:<");
                if let ReversePath::Mailbox(m) = from {
                    out.extend_from_slice(m.as_str().as_bytes());
                }
                out.push(b'>');
                if let Some(size) = params.size {
                    push_all(out, &[b" SIZE=", size.to_string().as_bytes()]);
                }
                match params.body {
                    BodyType::SevenBit => {}
                    BodyType::EightBitMime => out.extend_from_slice(b" BODY=8BITMIME"),
                    BodyType::BinaryMime => out.extend_from_slice(b" BODY=BINARYMIME"),
                }
                if params.smtputf8 {
                    out.extend_from_slice(b" SMTPUTF8");
                }
                match params.ret {
                    Some(Ret::Full) => out.extend_from_slice(b" RET=FULL"),
                    Some(Ret::Headers) => out.extend_from_slice(b" RET=HDRS"),
                    None => {}
                }
                if let Some(id) = params.envid {
                    out.extend_from_slice(b" ENVID=");
                    push_xtext(out, id.as_str().as_bytes());
                }
                if params.require_tls {
                    out.extend_from_slice(b" REQUIRETLS");
                }
            }
            Self::Rcpt { to, dsn } => {
                push_all(out, &[b"RCPT TO:<", to.mailbox.as_str().as_bytes(), b">"]);
                if *dsn {
                    if let Some(notify) = to.notify {
                        push_all(out, &[b" NOTIFY=", notify.to_string().as_bytes()]);
                    }
                    if let Some(orcpt) = &to.orcpt {
                        out.extend_from_slice(b" ORCPT=rfc822;");
                        push_xtext(out, orcpt.as_str().as_bytes());
                    }
                }
            }
            Self::Data => out.extend_from_slice(b"DATA"),
            Self::Bdat { size, last } => {
                push_all(out, &[b"BDAT ", size.to_string().as_bytes()]);
                if *last {
                    out.extend_from_slice(b" LAST");
                }
            }
            Self::Rset => out.extend_from_slice(b"RSET"),
            Self::Noop => out.extend_from_slice(b"NOOP"),
            Self::Quit => out.extend_from_slice(b"QUIT"),
        }
        out.extend_from_slice(b"\r\n");
    }

    /// The encoded length, CRLF included.
    pub fn encoded_len(&self) -> usize {
        let mut v = Vec::new();
        self.encode(&mut v);
        v.len()
    }
}

impl fmt::Display for Command<'_> {
    /// The command as a person should see it: SASL data is `***`, no line end.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auth {
                mechanism,
                initial: Some(_),
            } => write!(f, "AUTH {mechanism} ***"),
            Self::AuthResponse(_) => f.write_str("***"),
            _ => {
                let mut v = Vec::new();
                self.encode(&mut v);
                v.truncate(v.len() - 2);
                f.write_str(&String::from_utf8_lossy(&v))
            }
        }
    }
}

impl fmt::Debug for Command<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Command").field(&self.to_string()).finish()
    }
}

fn push_all(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for p in parts {
        out.extend_from_slice(p);
    }
}

fn push_base64(out: &mut Vec<u8>, data: &[u8]) {
    let start = out.len();
    out.resize(start + base64::encoded_len(data.len(), true).unwrap_or(0), 0);
    let n = BASE64
        .encode_slice(data, &mut out[start..])
        .expect("buffer sized by encoded_len");
    out.truncate(start + n);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Mailbox;
    use crate::params::{Notify, OriginalRecipient};

    fn wire(c: Command<'_>) -> String {
        let mut v = Vec::new();
        c.encode(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn simple_commands() {
        let name = EhloName::parse("client.example").unwrap();
        assert_eq!(wire(Command::Ehlo(&name)), "EHLO client.example\r\n");
        assert_eq!(wire(Command::Helo(&name)), "HELO client.example\r\n");
        assert_eq!(wire(Command::Lhlo(&name)), "LHLO client.example\r\n");
        assert_eq!(wire(Command::Bdat { size: 0, last: true }), "BDAT 0 LAST\r\n");
        assert_eq!(
            wire(Command::Bdat {
                size: 31,
                last: false
            }),
            "BDAT 31\r\n"
        );
        assert_eq!(wire(Command::Quit), "QUIT\r\n");
    }

    #[test]
    fn mail_with_every_parameter() {
        let from = ReversePath::Mailbox(Mailbox::parse("bü@example.com").unwrap());
        let envid = EnvelopeId::new("id+1=2").unwrap();
        let params = MailParams {
            size: Some(1234),
            body: BodyType::EightBitMime,
            smtputf8: true,
            ret: Some(Ret::Headers),
            envid: Some(&envid),
            require_tls: true,
        };
        assert_eq!(
            wire(Command::Mail { from: &from, params }),
            "MAIL FROM:<bü@example.com> SIZE=1234 BODY=8BITMIME SMTPUTF8 RET=HDRS ENVID=id+2B1+3D2 REQUIRETLS\r\n"
        );
        assert_eq!(
            wire(Command::Mail {
                from: &ReversePath::Null,
                params: MailParams::default()
            }),
            "MAIL FROM:<>\r\n"
        );
    }

    #[test]
    fn rcpt_dsn_only_when_offered() {
        let to = Recipient {
            mailbox: Mailbox::parse("a@b.c").unwrap(),
            notify: Some(Notify::on(true, true, false)),
            orcpt: Some(OriginalRecipient::new("a+x@b.c").unwrap()),
        };
        assert_eq!(
            wire(Command::Rcpt { to: &to, dsn: true }),
            "RCPT TO:<a@b.c> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;a+2Bx@b.c\r\n"
        );
        assert_eq!(wire(Command::Rcpt { to: &to, dsn: false }), "RCPT TO:<a@b.c>\r\n");
    }

    #[test]
    fn auth_lines_and_redaction() {
        let m = Mechanism::Plain;
        let c = Command::Auth {
            mechanism: &m,
            initial: Some(b"\0test\0test"),
        };
        assert_eq!(wire(c.clone()), "AUTH PLAIN AHRlc3QAdGVzdA==\r\n");
        assert_eq!(c.to_string(), "AUTH PLAIN ***");
        let empty = Command::Auth {
            mechanism: &m,
            initial: Some(b""),
        };
        assert_eq!(wire(empty), "AUTH PLAIN =\r\n");
        assert_eq!(wire(Command::AuthResponse(b"joe")), "am9l\r\n");
        assert_eq!(Command::AuthResponse(b"joe").to_string(), "***");
        assert_eq!(
            format!("{:?}", Command::AuthResponse(b"hunter2")),
            "Command(\"***\")"
        );
        assert_eq!(wire(Command::AuthResponse(b"")), "\r\n");
        assert_eq!(wire(Command::AuthCancel), "*\r\n");
        assert_eq!(
            Command::Auth {
                mechanism: &Mechanism::Login,
                initial: None
            }
            .to_string(),
            "AUTH LOGIN"
        );
    }
}
