//! SCRAM-SHA-256 and SCRAM-SHA-256-PLUS (RFC 5802, RFC 7677) as a pure exchange.
//!
//! Unlike PLAIN, the password never crosses the wire, and the server proves that it knows it
//! too: its last message carries a signature over the whole exchange, which is checked before
//! the login counts. A server (or an interceptor) that cannot produce it has not authenticated
//! itself, and the exchange fails with a [`ScramError`] instead of succeeding.
//!
//! The client nonce comes from the caller (the core reads no randomness); the `-PLUS` variant
//! binds the exchange to the TLS connection with data the driver takes from its TLS stack
//! ([`ChannelBinding`]), so a man in the middle with its own TLS session cannot relay it.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use thiserror::Error;

type HmacSha256 = Hmac<Sha256>;

/// RFC 7677 §4: servers SHOULD use at least 4096 iterations; fewer makes a stolen exchange
/// cheap to crack, so the client refuses them.
pub const MIN_ITERATIONS: u32 = 4096;

/// More than this is not protection but a way for a hostile server to tie up the client's CPU
/// (the key derivation runs in the caller's task).
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// What a channel binding is made of (RFC 5929, RFC 9266).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChannelBindingType {
    /// `tls-exporter` (RFC 9266): keying material exported from the TLS 1.3 session.
    TlsExporter,
    /// `tls-server-end-point` (RFC 5929 §4): a hash of the server's certificate.
    TlsServerEndPoint,
}

impl ChannelBindingType {
    /// The name in the GS2 header.
    pub fn name(self) -> &'static str {
        match self {
            Self::TlsExporter => "tls-exporter",
            Self::TlsServerEndPoint => "tls-server-end-point",
        }
    }
}

/// Channel-binding data for the TLS connection the session runs over, from the driver.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelBinding {
    kind: ChannelBindingType,
    data: Vec<u8>,
}

impl ChannelBinding {
    /// Binding data of `kind`, as the TLS stack produced it.
    pub fn new(kind: ChannelBindingType, data: Vec<u8>) -> Self {
        Self { kind, data }
    }

    /// Its type.
    pub fn kind(&self) -> ChannelBindingType {
        self.kind
    }
}

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ChannelBinding({}, <{} bytes>)",
            self.kind.name(),
            self.data.len()
        )
    }
}

/// Why a SCRAM exchange failed on the client's side.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ScramError {
    /// The server's first message is not `r=…,s=…,i=…`.
    #[error("the server's first SCRAM message is malformed: {0}")]
    MalformedServerFirst(&'static str),
    /// The server's nonce does not extend the client's: a replayed or forged exchange.
    #[error("the server's SCRAM nonce does not start with the client's (a replayed or forged exchange)")]
    NonceMismatch,
    /// The iteration count is outside what the client accepts.
    #[error("the server asks for {0} SCRAM iterations (accepted: {MIN_ITERATIONS} to {MAX_ITERATIONS})")]
    Iterations(u32),
    /// The server reported an error in its final message (`e=…`).
    #[error("the server ended the SCRAM exchange with the error {0:?}")]
    ServerError(String),
    /// The server's final message is not `v=…`.
    #[error("the server's final SCRAM message is malformed")]
    MalformedServerFinal,
    /// The server's signature is wrong: it does not know the password, or someone in between
    /// is answering for it.
    #[error(
        "security: the server's SCRAM signature does not match, so it did not prove it knows the password \
         (a wrong server, or the connection is intercepted); the login was not accepted"
    )]
    ServerSignatureMismatch,
    /// The server said the login succeeded before proving it knows the password.
    #[error(
        "security: the server accepted the SCRAM login without sending its signature, so it did not prove \
         it knows the password; the login was not accepted"
    )]
    MissingServerSignature,
}

/// Where the exchange is.
enum State {
    /// The client's first message is out; `bare` is it without the GS2 header.
    ClientFirst { bare: String },
    /// The proof is out; the server must answer with this signature.
    ClientFinal { server_signature: Vec<u8> },
    /// The server's signature checked out.
    Verified,
    /// Something went wrong; nothing more is sent.
    Failed,
}

/// The client side of one SCRAM-SHA-256(-PLUS) exchange.
pub(crate) struct Scram {
    gs2_header: String,
    binding: Option<ChannelBinding>,
    password: String,
    nonce: String,
    state: State,
    error: Option<ScramError>,
}

impl fmt::Debug for Scram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state {
            State::ClientFirst { .. } => "client-first sent",
            State::ClientFinal { .. } => "proof sent",
            State::Verified => "server verified",
            State::Failed => "failed",
        };
        f.debug_struct("Scram")
            .field("gs2_header", &self.gs2_header)
            .field("state", &state)
            .finish_non_exhaustive()
    }
}

impl Scram {
    /// Starts an exchange. `plus` uses `binding` (SCRAM-SHA-256-PLUS); without `plus`, a
    /// client that has binding data says so (`y`), so that a server which did offer -PLUS and
    /// had it stripped from its EHLO reply notices the downgrade (RFC 5802 §6).
    pub(crate) fn new(
        username: &str,
        password: &str,
        nonce: &str,
        binding: Option<ChannelBinding>,
        plus: bool,
    ) -> Self {
        let (gs2_header, binding) = match binding {
            Some(b) if plus => (format!("p={},,", b.kind.name()), Some(b)),
            Some(_) => ("y,,".to_string(), None),
            None => ("n,,".to_string(), None),
        };
        // `can_carry` has checked that both prepare; the raw forms are a fallback for tests.
        let username = prepare(username).unwrap_or_else(|| username.to_string());
        let bare = format!("n={},r={nonce}", escape_name(&username));
        Self {
            gs2_header,
            binding,
            password: prepare(password).unwrap_or_else(|| password.to_string()),
            nonce: nonce.to_string(),
            state: State::ClientFirst { bare },
            error: None,
        }
    }

    /// The client-first message.
    pub(crate) fn client_first(&self) -> Vec<u8> {
        match &self.state {
            State::ClientFirst { bare } => format!("{}{bare}", self.gs2_header).into_bytes(),
            _ => Vec::new(),
        }
    }

    /// The answer to the server's next message: the proof after server-first, an empty line
    /// after a verified server-final, `None` (cancel) on any failure, kept in [`error`](Self::error).
    pub(crate) fn respond(&mut self, challenge: &[u8]) -> Option<Vec<u8>> {
        let result = match std::mem::replace(&mut self.state, State::Failed) {
            State::ClientFirst { bare } => self.client_final(&bare, challenge),
            State::ClientFinal { server_signature } => {
                check_server_final(challenge, &server_signature).map(|()| {
                    self.state = State::Verified;
                    Vec::new()
                })
            }
            State::Verified | State::Failed => return None,
        };
        match result {
            Ok(reply) => Some(reply),
            Err(e) => {
                self.state = State::Failed;
                self.error = Some(e);
                None
            }
        }
    }

    /// Whether the server proved it knows the password.
    pub(crate) fn is_verified(&self) -> bool {
        matches!(self.state, State::Verified)
    }

    /// Why the exchange failed, once.
    pub(crate) fn take_error(&mut self) -> Option<ScramError> {
        self.error.take()
    }

    fn client_final(&mut self, bare: &str, server_first: &[u8]) -> Result<Vec<u8>, ScramError> {
        let text =
            std::str::from_utf8(server_first).map_err(|_| ScramError::MalformedServerFirst("not UTF-8"))?;
        let first = ServerFirst::parse(text)?;
        if first.nonce.len() <= self.nonce.len() || !first.nonce.starts_with(&self.nonce) {
            return Err(ScramError::NonceMismatch);
        }
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&first.iterations) {
            return Err(ScramError::Iterations(first.iterations));
        }
        let mut cbind_input = self.gs2_header.clone().into_bytes();
        if let Some(b) = &self.binding {
            cbind_input.extend_from_slice(&b.data);
        }
        let without_proof = format!("c={},r={}", BASE64.encode(&cbind_input), first.nonce);
        let auth_message = format!("{bare},{text},{without_proof}");
        let salted = pbkdf2_sha256(self.password.as_bytes(), &first.salt, first.iterations);
        let client_key = hmac(&salted, b"Client Key");
        let stored_key = Sha256::digest(&client_key);
        let client_signature = hmac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&client_signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let server_key = hmac(&salted, b"Server Key");
        self.state = State::ClientFinal {
            server_signature: hmac(&server_key, auth_message.as_bytes()),
        };
        Ok(format!("{without_proof},p={}", BASE64.encode(proof)).into_bytes())
    }
}

/// `r=…,s=…,i=…` (extensions after them are allowed and ignored; a mandatory `m=` is refused).
struct ServerFirst {
    nonce: String,
    salt: Vec<u8>,
    iterations: u32,
}

impl ServerFirst {
    fn parse(text: &str) -> Result<Self, ScramError> {
        let mut parts = text.split(',');
        let mut field = |name: &'static str, why: &'static str| {
            parts
                .next()
                .and_then(|p| p.strip_prefix(name))
                .ok_or(ScramError::MalformedServerFirst(why))
        };
        let nonce = field("r=", "it does not start with the nonce (r=)")?.to_string();
        let salt = field("s=", "the salt (s=) is missing")?;
        let salt = BASE64
            .decode(salt)
            .map_err(|_| ScramError::MalformedServerFirst("the salt is not base64"))?;
        let iterations = field("i=", "the iteration count (i=) is missing")?
            .parse()
            .map_err(|_| ScramError::MalformedServerFirst("the iteration count is not a number"))?;
        if nonce.is_empty() || !nonce.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b',') {
            return Err(ScramError::MalformedServerFirst(
                "the nonce holds characters outside printable ASCII",
            ));
        }
        if salt.is_empty() {
            return Err(ScramError::MalformedServerFirst("the salt is empty"));
        }
        Ok(Self {
            nonce,
            salt,
            iterations,
        })
    }
}

/// `v=<base64 signature>` checked in constant time, or the server's `e=` error.
fn check_server_final(challenge: &[u8], expected: &[u8]) -> Result<(), ScramError> {
    let text = std::str::from_utf8(challenge).map_err(|_| ScramError::MalformedServerFinal)?;
    let first = text.split(',').next().unwrap_or_default();
    if let Some(e) = first.strip_prefix("e=") {
        return Err(ScramError::ServerError(e.chars().take(100).collect()));
    }
    let sent = first
        .strip_prefix("v=")
        .and_then(|v| BASE64.decode(v).ok())
        .ok_or(ScramError::MalformedServerFinal)?;
    // Compare as a MAC: a keyed check of both values, so the time taken says nothing about how
    // many bytes matched.
    let mut mac = HmacSha256::new_from_slice(b"squall scram compare").expect("any key length");
    mac.update(expected);
    let tag = mac.finalize().into_bytes();
    let mut check = HmacSha256::new_from_slice(b"squall scram compare").expect("any key length");
    check.update(&sent);
    check
        .verify_slice(&tag)
        .map_err(|_| ScramError::ServerSignatureMismatch)
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// PBKDF2-HMAC-SHA-256 (RFC 8018 §5.2) for one output block, the 32 bytes SCRAM needs.
fn pbkdf2_sha256(password: &[u8], salt: &[u8], iterations: u32) -> Vec<u8> {
    let prf = HmacSha256::new_from_slice(password).expect("HMAC takes any key length");
    let mut first = prf.clone();
    first.update(salt);
    first.update(&1u32.to_be_bytes());
    let mut u = first.finalize().into_bytes();
    let mut out = u;
    for _ in 1..iterations {
        let mut next = prf.clone();
        next.update(&u);
        u = next.finalize().into_bytes();
        for (o, x) in out.iter_mut().zip(&u) {
            *o ^= x;
        }
    }
    out.to_vec()
}

/// RFC 5802 §5.1: `,` and `=` in the user name are written `=2C` and `=3D`.
fn escape_name(name: &str) -> String {
    name.replace('=', "=3D").replace(',', "=2C")
}

/// SASLprep (RFC 4013), which SCRAM applies to the user name and password (RFC 5802 §2.2,
/// §5.1): compatibility forms folded (NFKC), soft hyphens and other "nothing" characters
/// dropped, other spaces made plain. `None` for a string it forbids (control characters,
/// unassigned code points, mixed directions).
fn prepare(s: &str) -> Option<String> {
    stringprep::saslprep(s).ok().map(std::borrow::Cow::into_owned)
}

/// Whether SCRAM can carry these credentials: both survive SASLprep. Credentials it forbids
/// are left to the other mechanisms rather than sent unprepared (a server that prepares them
/// would compute another key, and the login would fail for no visible reason).
pub(crate) fn can_carry(username: &str, password: &str) -> bool {
    prepare(username).is_some_and(|u| !u.is_empty()) && prepare(password).is_some_and(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7677 §3: the SCRAM-SHA-256 example exchange, byte for byte.
    #[test]
    fn rfc7677_example() {
        let mut s = Scram::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO", None, false);
        assert_eq!(s.client_first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let proof = s
            .respond(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(proof).unwrap(),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        assert!(!s.is_verified());
        assert_eq!(
            s.respond(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
            Some(Vec::new())
        );
        assert!(s.is_verified());
        assert_eq!(s.respond(b""), None, "nothing after the end");
    }

    fn after_proof() -> Scram {
        let mut s = Scram::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO", None, false);
        s.respond(b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
            .unwrap();
        s
    }

    #[test]
    fn wrong_server_signature_is_a_security_error() {
        let mut s = after_proof();
        assert_eq!(s.respond(b"v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="), None);
        assert!(!s.is_verified());
        let e = s.take_error().unwrap();
        assert_eq!(e, ScramError::ServerSignatureMismatch);
        assert!(e.to_string().starts_with("security:"), "{e}");
        let mut s = after_proof();
        assert_eq!(s.respond(b"e=invalid-proof"), None);
        assert_eq!(
            s.take_error(),
            Some(ScramError::ServerError("invalid-proof".into()))
        );
        let mut s = after_proof();
        assert_eq!(s.respond(b"garbage"), None);
        assert_eq!(s.take_error(), Some(ScramError::MalformedServerFinal));
    }

    #[test]
    fn hostile_server_first() {
        let cases: [(&[u8], ScramError); 5] = [
            (
                b"r=someoneelse123,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                ScramError::NonceMismatch,
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                ScramError::NonceMismatch,
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
                ScramError::Iterations(1),
            ),
            (
                b"r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000",
                ScramError::Iterations(4_000_000_000),
            ),
            (
                b"m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                ScramError::MalformedServerFirst("it does not start with the nonce (r=)"),
            ),
        ];
        for (input, want) in cases {
            let mut s = Scram::new("user", "pencil", "rOprNGfwEbeRWgbNEkqO", None, false);
            assert_eq!(s.respond(input), None, "{}", String::from_utf8_lossy(input));
            assert_eq!(s.take_error(), Some(want));
        }
    }

    #[test]
    fn channel_binding_headers() {
        let b = ChannelBinding::new(ChannelBindingType::TlsExporter, vec![1, 2, 3]);
        let s = Scram::new("a,b=c", "p", "N", Some(b.clone()), true);
        assert_eq!(s.client_first(), b"p=tls-exporter,,n=a=2Cb=3Dc,r=N");
        let s = Scram::new("u", "p", "N", Some(b.clone()), false);
        assert_eq!(s.client_first(), b"y,,n=u,r=N");
        let mut s = Scram::new("u", "p", "N", Some(b), true);
        let reply = s.respond(b"r=NX,s=c2FsdA==,i=4096").unwrap();
        let reply = String::from_utf8(reply).unwrap();
        // c= carries the GS2 header followed by the binding data.
        let mut want = b"p=tls-exporter,,".to_vec();
        want.extend_from_slice(&[1, 2, 3]);
        assert!(
            reply.starts_with(&format!("c={},r=NX,p=", BASE64.encode(want))),
            "{reply}"
        );
    }

    #[test]
    fn pbkdf2_rfc7914_vector() {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256, P="passwd", S="salt", c=1, the first 32 bytes.
        let out = pbkdf2_sha256(b"passwd", b"salt", 1);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
        );
    }

    #[test]
    fn credentials_are_carried_when_saslprep_allows_them() {
        assert!(can_carry("joe", "pass word!"));
        assert!(can_carry("jöe", "pässword"));
        // RFC 4013 §3: a control character is prohibited; so is an empty result.
        assert!(!can_carry("joe", "pass\u{7}word"));
        assert!(!can_carry("joe", "\u{AD}"));
        assert!(!can_carry("", "x"));
    }

    /// RFC 4013 §3's examples of the preparation itself.
    #[test]
    fn saslprep_examples_of_rfc4013() {
        assert_eq!(prepare("I\u{AD}X").as_deref(), Some("IX"));
        assert_eq!(prepare("user").as_deref(), Some("user"));
        assert_eq!(prepare("USER").as_deref(), Some("USER"));
        assert_eq!(prepare("\u{AA}").as_deref(), Some("a"));
        assert_eq!(prepare("\u{2168}").as_deref(), Some("IX"));
        assert_eq!(prepare("\u{7}"), None);
        assert_eq!(prepare("\u{627}\u{31}"), None);
    }

    /// "pen\u{AD}cil", which SASLprep maps to RFC 7677's "pencil" (it drops the soft hyphen),
    /// gives RFC 7677's proof.
    #[test]
    fn the_proof_is_computed_from_the_prepared_password() {
        let mut s = Scram::new("user", "pen\u{AD}cil", "rOprNGfwEbeRWgbNEkqO", None, false);
        let proof = s
            .respond(
                b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            )
            .unwrap();
        assert!(
            String::from_utf8(proof)
                .unwrap()
                .ends_with(",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
        );
    }
}
