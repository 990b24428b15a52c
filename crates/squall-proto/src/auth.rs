//! SASL authentication (RFC 4954) as pure data: which mechanism to use and what to answer.
//!
//! Nothing here touches the network. [`SaslExchange`] turns decoded server challenges into client
//! responses; the session base64-encodes them and keeps them out of logs and transcripts.

use std::fmt;

use hmac::{Hmac, Mac};
use md5::Md5;
use thiserror::Error;

mod scram;

use scram::Scram;
pub use scram::{ChannelBinding, ChannelBindingType, MAX_ITERATIONS, MIN_ITERATIONS, ScramError};

/// A SASL mechanism name from an `AUTH` capability.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mechanism {
    /// RFC 4616: user name and password in one message. Safe only inside TLS.
    Plain,
    /// The de-facto LOGIN mechanism: user name, then password. Safe only inside TLS.
    Login,
    /// RFC 2195: a keyed hash of a server challenge; the password itself is not sent.
    CramMd5,
    /// RFC 7677: SCRAM with SHA-256. The password is not sent, and the server proves it knows
    /// it (its signature is checked before the login counts).
    ScramSha256,
    /// SCRAM-SHA-256 bound to the TLS channel (RFC 5802 §6), so that a man in the middle with a
    /// TLS session of its own cannot relay the exchange.
    ScramSha256Plus,
    /// Google's and Microsoft's OAuth 2.0 bearer-token mechanism.
    XOAuth2,
    /// Any other mechanism, upper-cased. squall does not speak it.
    Other(String),
}

impl Mechanism {
    /// The mechanism for a capability word, case-insensitively.
    pub fn from_name(name: &str) -> Self {
        match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Self::Plain,
            "LOGIN" => Self::Login,
            "CRAM-MD5" => Self::CramMd5,
            "SCRAM-SHA-256" => Self::ScramSha256,
            "SCRAM-SHA-256-PLUS" => Self::ScramSha256Plus,
            "XOAUTH2" => Self::XOAuth2,
            other => Self::Other(other.to_string()),
        }
    }

    /// The name as written in the `AUTH` command.
    pub fn name(&self) -> &str {
        match self {
            Self::Plain => "PLAIN",
            Self::Login => "LOGIN",
            Self::CramMd5 => "CRAM-MD5",
            Self::ScramSha256 => "SCRAM-SHA-256",
            Self::ScramSha256Plus => "SCRAM-SHA-256-PLUS",
            Self::XOAuth2 => "XOAUTH2",
            Self::Other(name) => name,
        }
    }
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A password or token: shown as `***` by `Debug` and `Display`, readable only on purpose.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself, for the one place that has to send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Who to log in as, and with what.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// A user name and password, for PLAIN, LOGIN and CRAM-MD5.
    Password {
        /// The authentication identity.
        username: String,
        /// The password.
        password: Secret,
    },
    /// A user name and an OAuth 2.0 access token, for XOAUTH2.
    OAuth2 {
        /// The account the token belongs to.
        username: String,
        /// The bearer token.
        token: Secret,
    },
}

/// Credentials that cannot be sent safely.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// The user name is empty.
    #[error("the user name is empty")]
    EmptyUsername,
    /// A CR, LF or NUL would corrupt the SASL message (or inject a command).
    #[error("the {field} contains a {name} character, which is never allowed in credentials")]
    ForbiddenCharacter {
        /// `user name`, `password` or `token`.
        field: &'static str,
        /// `CR`, `LF` or `NUL`.
        name: &'static str,
    },
}

impl Credentials {
    /// User name and password. Refuses CR, LF and NUL in either, and an empty user name.
    pub fn password(
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Result<Self, CredentialsError> {
        let (username, password) = (username.into(), password.into());
        check_field("user name", &username)?;
        check_field("password", &password)?;
        Ok(Self::Password {
            username,
            password: Secret(password),
        })
    }

    /// User name and OAuth 2.0 access token. Refuses CR, LF and NUL, and an empty user name.
    pub fn oauth2(username: impl Into<String>, token: impl Into<String>) -> Result<Self, CredentialsError> {
        let (username, token) = (username.into(), token.into());
        check_field("user name", &username)?;
        check_field("token", &token)?;
        Ok(Self::OAuth2 {
            username,
            token: Secret(token),
        })
    }

    /// The user name, which is not secret.
    pub fn username(&self) -> &str {
        match self {
            Self::Password { username, .. } | Self::OAuth2 { username, .. } => username,
        }
    }

    /// Whether these credentials can drive `mechanism`. SCRAM takes a user name and password
    /// that SASLprep (RFC 4013) accepts: any text but control characters, unassigned code
    /// points and mixed writing directions; it sends their prepared forms.
    pub fn supports(&self, mechanism: &Mechanism) -> bool {
        match (self, mechanism) {
            (Self::Password { username, password }, Mechanism::ScramSha256 | Mechanism::ScramSha256Plus) => {
                scram::can_carry(username, password.expose())
            }
            (Self::Password { .. }, Mechanism::Plain | Mechanism::Login | Mechanism::CramMd5)
            | (Self::OAuth2 { .. }, Mechanism::XOAuth2) => true,
            _ => false,
        }
    }

    /// The strongest mechanism among `offered` that these credentials can drive:
    /// SCRAM-SHA-256-PLUS, then SCRAM-SHA-256 (the password never crosses the wire and the
    /// server proves it knows it), CRAM-MD5 (the password never crosses the wire), then PLAIN,
    /// then LOGIN; XOAUTH2 for a token.
    pub fn preferred(&self, offered: &[Mechanism]) -> Option<Mechanism> {
        const ORDER: [Mechanism; 6] = [
            Mechanism::XOAuth2,
            Mechanism::ScramSha256Plus,
            Mechanism::ScramSha256,
            Mechanism::CramMd5,
            Mechanism::Plain,
            Mechanism::Login,
        ];
        ORDER
            .into_iter()
            .find(|m| self.supports(m) && offered.contains(m))
    }
}

fn check_field(field: &'static str, value: &str) -> Result<(), CredentialsError> {
    if field == "user name" && value.is_empty() {
        return Err(CredentialsError::EmptyUsername);
    }
    for (byte, name) in [(b'\r', "CR"), (b'\n', "LF"), (0, "NUL")] {
        if value.as_bytes().contains(&byte) {
            return Err(CredentialsError::ForbiddenCharacter { field, name });
        }
    }
    Ok(())
}

/// What to answer a `334` challenge with.
#[derive(Clone, PartialEq, Eq)]
pub enum SaslResponse {
    /// These bytes, base64-encoded on one line (an empty vector is an empty line).
    Data(Vec<u8>),
    /// `*`: abandon the exchange (the server answers 501).
    Cancel,
}

impl fmt::Debug for SaslResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Data(d) => write!(f, "Data(<{} bytes>)", d.len()),
            Self::Cancel => f.write_str("Cancel"),
        }
    }
}

/// The client side of one SASL exchange.
#[derive(Debug)]
pub struct SaslExchange {
    mechanism: Mechanism,
    credentials: Credentials,
    /// Challenges answered so far.
    step: u8,
    sent_initial: bool,
    /// The SCRAM state, for the SCRAM mechanisms (boxed: it is large, and rare).
    scram: Option<Box<Scram>>,
}

impl SaslExchange {
    /// Starts an exchange, or `None` when the credentials cannot drive the mechanism (SCRAM
    /// needs [`with_scram`](Self::with_scram)).
    pub fn new(mechanism: Mechanism, credentials: Credentials) -> Option<Self> {
        Self::with_scram(mechanism, credentials, None, None)
    }

    /// Starts an exchange that may be SCRAM: `nonce` is the client nonce (fresh random
    /// printable ASCII without `,`, from the caller: the core reads no randomness), and
    /// `binding` the TLS channel binding, required for SCRAM-SHA-256-PLUS. `None` when the
    /// mechanism cannot run with what is given.
    pub fn with_scram(
        mechanism: Mechanism,
        credentials: Credentials,
        nonce: Option<&str>,
        binding: Option<ChannelBinding>,
    ) -> Option<Self> {
        if !credentials.supports(&mechanism) {
            return None;
        }
        let scram = match (&mechanism, &credentials) {
            (
                Mechanism::ScramSha256 | Mechanism::ScramSha256Plus,
                Credentials::Password { username, password },
            ) => {
                let nonce = nonce.filter(|n| {
                    !n.is_empty() && n.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',')
                })?;
                let plus = mechanism == Mechanism::ScramSha256Plus;
                if plus && binding.is_none() {
                    return None;
                }
                Some(Box::new(Scram::new(
                    username,
                    password.expose(),
                    nonce,
                    binding,
                    plus,
                )))
            }
            _ => None,
        };
        Some(Self {
            mechanism,
            credentials,
            step: 0,
            sent_initial: false,
            scram,
        })
    }

    /// Whether the server has proved who it is, as far as the mechanism can tell: always for
    /// mechanisms where it cannot, and for SCRAM only once its signature checked out. A success
    /// reply before that is not a success.
    pub fn server_verified(&self) -> bool {
        self.scram.as_ref().is_none_or(|s| s.is_verified())
    }

    /// Why the exchange was cancelled on the client's side (a SCRAM check failed), once.
    pub fn take_error(&mut self) -> Option<ScramError> {
        self.scram.as_mut().and_then(|s| s.take_error())
    }

    /// The mechanism in use.
    pub fn mechanism(&self) -> &Mechanism {
        &self.mechanism
    }

    /// The initial response to put on the `AUTH` line, for mechanisms that have one (PLAIN, XOAUTH2).
    /// Call at most once, and only if it will be sent.
    pub fn initial_response(&mut self) -> Option<Vec<u8>> {
        let r = self.first_message()?;
        self.sent_initial = true;
        Some(r)
    }

    /// Whether the mechanism has an initial response (used to decide the `AUTH` line's length).
    pub fn initial_response_len(&self) -> Option<usize> {
        self.first_message().map(|m| m.len())
    }

    fn first_message(&self) -> Option<Vec<u8>> {
        if let Some(scram) = &self.scram {
            return Some(scram.client_first());
        }
        match (&self.mechanism, &self.credentials) {
            (Mechanism::Plain, Credentials::Password { username, password }) => {
                let mut m = Vec::with_capacity(username.len() + password.0.len() + 2);
                m.push(0);
                m.extend_from_slice(username.as_bytes());
                m.push(0);
                m.extend_from_slice(password.0.as_bytes());
                Some(m)
            }
            (Mechanism::XOAuth2, Credentials::OAuth2 { username, token }) => {
                Some(format!("user={username}\x01auth=Bearer {}\x01\x01", token.0).into_bytes())
            }
            _ => None,
        }
    }

    /// The answer to a decoded `334` challenge.
    pub fn respond(&mut self, challenge: &[u8]) -> SaslResponse {
        // Saturating: the server decides how many challenges come; past the last step the answer
        // is always Cancel.
        self.step = self.step.saturating_add(1);
        // Mechanisms with an initial response that was not sent up front (the AUTH line would
        // have been too long) get it as the answer to the first, empty, challenge.
        if self.step == 1
            && !self.sent_initial
            && let Some(first) = self.first_message()
        {
            self.sent_initial = true;
            self.step = 0;
            return SaslResponse::Data(first);
        }
        if let Some(scram) = &mut self.scram {
            return scram
                .respond(challenge)
                .map_or(SaslResponse::Cancel, SaslResponse::Data);
        }
        match (&self.mechanism, &self.credentials, self.step) {
            (Mechanism::Login, Credentials::Password { username, .. }, 1) => {
                SaslResponse::Data(username.as_bytes().to_vec())
            }
            (Mechanism::Login, Credentials::Password { password, .. }, 2) => {
                SaslResponse::Data(password.0.as_bytes().to_vec())
            }
            (Mechanism::CramMd5, Credentials::Password { username, password }, 1) => {
                SaslResponse::Data(cram_md5(username, password.expose(), challenge))
            }
            // A challenge after the XOAUTH2 token carries the error as JSON; the server wants an
            // empty line and then sends the final failure reply.
            (Mechanism::XOAuth2, _, 1) => SaslResponse::Data(Vec::new()),
            _ => SaslResponse::Cancel,
        }
    }
}

/// RFC 2195: `user SP lowercase-hex(HMAC-MD5(password, challenge))`.
fn cram_md5(username: &str, password: &str, challenge: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Md5>::new_from_slice(password.as_bytes()).expect("HMAC takes any key length");
    mac.update(challenge);
    let digest = mac.finalize().into_bytes();
    let mut out = format!("{username} ").into_bytes();
    for b in digest {
        out.extend_from_slice(format!("{b:02x}").as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let c = Credentials::password("joe", "hunter2").unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("***"));
        let x = SaslExchange::new(Mechanism::Plain, c).unwrap();
        assert!(!format!("{x:?}").contains("hunter2"));
        assert_eq!(
            format!("{:?}", SaslResponse::Data(b"hunter2".to_vec())),
            "Data(<7 bytes>)"
        );
    }

    #[test]
    fn credentials_refuse_control_characters() {
        assert_eq!(
            Credentials::password("joe\r\nMAIL", "x"),
            Err(CredentialsError::ForbiddenCharacter {
                field: "user name",
                name: "CR"
            })
        );
        assert_eq!(
            Credentials::password("joe", "a\0b"),
            Err(CredentialsError::ForbiddenCharacter {
                field: "password",
                name: "NUL"
            })
        );
        assert_eq!(Credentials::oauth2("", "t"), Err(CredentialsError::EmptyUsername));
        assert!(Credentials::oauth2("joe", "t\n").is_err());
    }

    #[test]
    fn preference_order() {
        let pw = Credentials::password("u", "p").unwrap();
        let all = [
            Mechanism::Login,
            Mechanism::Plain,
            Mechanism::CramMd5,
            Mechanism::XOAuth2,
        ];
        assert_eq!(pw.preferred(&all), Some(Mechanism::CramMd5));
        assert_eq!(pw.preferred(&all[..2]), Some(Mechanism::Plain));
        assert_eq!(pw.preferred(&[Mechanism::XOAuth2]), None);
        let tok = Credentials::oauth2("u", "t").unwrap();
        assert_eq!(tok.preferred(&all), Some(Mechanism::XOAuth2));
        assert_eq!(tok.preferred(&all[..3]), None);
    }

    #[test]
    fn plain_with_and_without_initial_response() {
        let c = Credentials::password("test", "test").unwrap();
        let mut x = SaslExchange::new(Mechanism::Plain, c.clone()).unwrap();
        assert_eq!(x.initial_response().unwrap(), b"\0test\0test");
        assert_eq!(x.respond(b""), SaslResponse::Cancel);

        let mut x = SaslExchange::new(Mechanism::Plain, c).unwrap();
        assert_eq!(x.respond(b""), SaslResponse::Data(b"\0test\0test".to_vec()));
        assert_eq!(x.respond(b""), SaslResponse::Cancel);
    }

    #[test]
    fn login_answers_by_order_not_prompt_text() {
        let c = Credentials::password("joe", "pw").unwrap();
        let mut x = SaslExchange::new(Mechanism::Login, c).unwrap();
        assert_eq!(x.initial_response(), None);
        assert_eq!(x.respond(b"Password:"), SaslResponse::Data(b"joe".to_vec()));
        assert_eq!(x.respond(b"whatever"), SaslResponse::Data(b"pw".to_vec()));
        assert_eq!(x.respond(b""), SaslResponse::Cancel);
    }

    #[test]
    fn cram_md5_rfc2195_example() {
        let c = Credentials::password("tim", "tanstaaftanstaaf").unwrap();
        let mut x = SaslExchange::new(Mechanism::CramMd5, c).unwrap();
        assert_eq!(x.initial_response(), None);
        assert_eq!(
            x.respond(b"<1896.697170952@postoffice.reston.mci.net>"),
            SaslResponse::Data(b"tim b913a602c7eda7a495b4e6e7334d3890".to_vec())
        );
    }

    #[test]
    fn xoauth2_error_challenge_gets_empty_line() {
        let c = Credentials::oauth2("a@b.c", "ya29.tok").unwrap();
        let mut x = SaslExchange::new(Mechanism::XOAuth2, c).unwrap();
        assert_eq!(
            x.initial_response().unwrap(),
            b"user=a@b.c\x01auth=Bearer ya29.tok\x01\x01"
        );
        assert_eq!(x.respond(br#"{"status":"401"}"#), SaslResponse::Data(vec![]));
        assert_eq!(x.respond(b""), SaslResponse::Cancel);
    }

    #[test]
    fn xoauth2_without_initial_response() {
        let token = "t".repeat(600);
        let c = Credentials::oauth2("a@b.c", token.as_str()).unwrap();
        let mut x = SaslExchange::new(Mechanism::XOAuth2, c).unwrap();
        let SaslResponse::Data(first) = x.respond(b"") else {
            panic!("the token goes in answer to 334")
        };
        assert!(first.starts_with(b"user=a@b.c\x01auth=Bearer ttt"));
        assert_eq!(x.respond(br#"{"status":"401"}"#), SaslResponse::Data(vec![]));
        assert_eq!(x.respond(b""), SaslResponse::Cancel);
    }

    #[test]
    fn endless_challenges_are_cancelled_without_overflow() {
        let c = Credentials::password("joe", "pw").unwrap();
        let mut x = SaslExchange::new(Mechanism::Login, c).unwrap();
        x.respond(b"");
        x.respond(b"");
        for _ in 0..1000 {
            assert_eq!(x.respond(b"Username:"), SaslResponse::Cancel);
        }
    }

    #[test]
    fn mismatched_credentials() {
        let c = Credentials::oauth2("u", "t").unwrap();
        assert!(SaslExchange::new(Mechanism::Plain, c).is_none());
    }
}
