//! The server side of SMTP AUTH (RFC 4954): PLAIN, LOGIN, CRAM-MD5 and XOAUTH2 against a fixed
//! list of users (for XOAUTH2 the "password" is the expected token).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use md5::Md5;

/// Mechanisms offered, in the EHLO order.
pub(crate) const MECHANISMS: &str = "PLAIN LOGIN CRAM-MD5 XOAUTH2";

/// An exchange in progress: what the next client line answers.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Sasl {
    /// PLAIN without an initial response: waiting for it.
    Plain,
    /// LOGIN: waiting for the user name.
    LoginUser,
    /// LOGIN: waiting for the password of this user.
    LoginPassword(String),
    /// CRAM-MD5: waiting for the answer to this challenge.
    CramMd5(String),
    /// XOAUTH2 failed: waiting for the client's empty line before the final 535.
    XOAuth2Failed,
}

/// What to do after a step.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Authenticated as this user.
    Success(String),
    /// Refused: answer 535.
    Failure,
    /// Send this 334 line and wait for the next client line.
    Continue(String, Sasl),
    /// Answer this error reply (bad base64, cancelled, unknown mechanism).
    Error(&'static str),
}

/// Checks credentials against the configured users.
pub(crate) struct Users<'a>(pub(crate) &'a [(String, String)]);

impl Users<'_> {
    fn check(&self, user: &str, password: &str) -> Step {
        if self.0.iter().any(|(u, p)| u == user && p == password) {
            Step::Success(user.to_string())
        } else {
            Step::Failure
        }
    }

    /// `AUTH mechanism [initial-response]`; `challenge_id` makes CRAM-MD5 challenges unique.
    pub(crate) fn start(&self, mechanism: &str, initial: Option<&str>, challenge_id: String) -> Step {
        match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => match initial {
                Some(ir) => self.plain(ir),
                None => Step::Continue(String::new(), Sasl::Plain),
            },
            "LOGIN" => match initial {
                Some(ir) => match decode(ir) {
                    Some(user) => Step::Continue(BASE64.encode("Password:"), Sasl::LoginPassword(user)),
                    None => Step::Error("501 5.5.2 Cannot decode response"),
                },
                None => Step::Continue(BASE64.encode("Username:"), Sasl::LoginUser),
            },
            "CRAM-MD5" if initial.is_none() => {
                Step::Continue(BASE64.encode(&challenge_id), Sasl::CramMd5(challenge_id))
            }
            "XOAUTH2" => match initial {
                Some(ir) => self.xoauth2(ir),
                None => Step::Error("501 5.5.2 XOAUTH2 needs an initial response"),
            },
            _ => Step::Error("504 5.5.4 Unrecognized authentication type"),
        }
    }

    /// The client's answer to a 334.
    pub(crate) fn next(&self, state: Sasl, line: &str) -> Step {
        if line == "*" {
            return Step::Error("501 5.7.0 Authentication cancelled");
        }
        match state {
            Sasl::Plain => self.plain(line),
            Sasl::LoginUser => match decode(line) {
                Some(user) => Step::Continue(BASE64.encode("Password:"), Sasl::LoginPassword(user)),
                None => Step::Error("501 5.5.2 Cannot decode response"),
            },
            Sasl::LoginPassword(user) => match decode(line) {
                Some(pass) => self.check(&user, &pass),
                None => Step::Error("501 5.5.2 Cannot decode response"),
            },
            Sasl::CramMd5(challenge) => match decode(line) {
                Some(answer) => self.cram_md5(&challenge, &answer),
                None => Step::Error("501 5.5.2 Cannot decode response"),
            },
            Sasl::XOAuth2Failed => Step::Failure,
        }
    }

    fn plain(&self, b64: &str) -> Step {
        let Some(raw) = BASE64.decode(b64.trim()).ok() else {
            return Step::Error("501 5.5.2 Cannot decode response");
        };
        let mut parts = raw.split(|&b| b == 0);
        let (_authz, user, pass) = (parts.next(), parts.next(), parts.next());
        match (
            user.map(String::from_utf8_lossy),
            pass.map(String::from_utf8_lossy),
        ) {
            (Some(u), Some(p)) => self.check(&u, &p),
            _ => Step::Error("501 5.5.2 Malformed PLAIN response"),
        }
    }

    fn cram_md5(&self, challenge: &str, answer: &str) -> Step {
        let Some((user, digest)) = answer.rsplit_once(' ') else {
            return Step::Failure;
        };
        let ok = self.0.iter().any(|(u, p)| {
            u == user && {
                let mut mac = Hmac::<Md5>::new_from_slice(p.as_bytes()).expect("any key length");
                mac.update(challenge.as_bytes());
                let hex: String = mac
                    .finalize()
                    .into_bytes()
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect();
                hex == digest
            }
        });
        if ok {
            Step::Success(user.to_string())
        } else {
            Step::Failure
        }
    }

    fn xoauth2(&self, b64: &str) -> Step {
        let raw = decode(b64).unwrap_or_default();
        let mut user = None;
        let mut token = None;
        for field in raw.split('\x01') {
            if let Some(u) = field.strip_prefix("user=") {
                user = Some(u);
            } else if let Some(t) = field.strip_prefix("auth=Bearer ") {
                token = Some(t);
            }
        }
        match (user, token) {
            (Some(u), Some(t)) if matches!(self.check(u, t), Step::Success(_)) => {
                Step::Success(u.to_string())
            }
            _ => Step::Continue(
                BASE64.encode(r#"{"status":"401","schemes":"bearer","scope":"https://mail.example/"}"#),
                Sasl::XOAuth2Failed,
            ),
        }
    }
}

fn decode(b64: &str) -> Option<String> {
    BASE64
        .decode(b64.trim())
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> Vec<(String, String)> {
        vec![("joe".into(), "secret".into())]
    }

    #[test]
    fn plain_and_login() {
        let u = users();
        let u = Users(&u);
        assert_eq!(
            u.start("PLAIN", Some(&BASE64.encode("\0joe\0secret")), String::new()),
            Step::Success("joe".into())
        );
        assert_eq!(
            u.start("plain", Some(&BASE64.encode("\0joe\0wrong")), String::new()),
            Step::Failure
        );
        let Step::Continue(_, next) = u.start("LOGIN", None, String::new()) else {
            panic!()
        };
        let Step::Continue(_, next) = u.next(next, &BASE64.encode("joe")) else {
            panic!()
        };
        assert_eq!(
            u.next(next, &BASE64.encode("secret")),
            Step::Success("joe".into())
        );
        assert_eq!(
            u.next(Sasl::Plain, "*"),
            Step::Error("501 5.7.0 Authentication cancelled")
        );
        assert_eq!(
            u.next(Sasl::Plain, "!!"),
            Step::Error("501 5.5.2 Cannot decode response")
        );
    }

    #[test]
    fn cram_md5_rfc2195() {
        let list = vec![("tim".to_string(), "tanstaaftanstaaf".to_string())];
        let u = Users(&list);
        let challenge = "<1896.697170952@postoffice.reston.mci.net>".to_string();
        let answer = BASE64.encode("tim b913a602c7eda7a495b4e6e7334d3890");
        assert_eq!(
            u.next(Sasl::CramMd5(challenge), &answer),
            Step::Success("tim".into())
        );
    }

    #[test]
    fn xoauth2() {
        let list = vec![("a@b.c".to_string(), "tok".to_string())];
        let u = Users(&list);
        let good = BASE64.encode("user=a@b.c\x01auth=Bearer tok\x01\x01");
        assert_eq!(
            u.start("XOAUTH2", Some(&good), String::new()),
            Step::Success("a@b.c".into())
        );
        let bad = BASE64.encode("user=a@b.c\x01auth=Bearer nope\x01\x01");
        let Step::Continue(_, next) = u.start("XOAUTH2", Some(&bad), String::new()) else {
            panic!()
        };
        assert_eq!(u.next(next, ""), Step::Failure);
    }
}
