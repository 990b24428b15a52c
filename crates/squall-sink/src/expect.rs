//! What a test expects to receive, and the failure that says what came instead.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::escape::escape;
use crate::mail::Mail;

type Check = Arc<dyn Fn(&Mail) -> bool + Send + Sync>;

/// A description of a message a test waits for, built from parts that must all hold; its
/// description is what a failure prints ("a message to bob@… with subject ~ \"Reset\"").
///
/// ```
/// use squall_sink::Expect;
/// let e = Expect::new().to("bob@example.net").subject("Reset");
/// assert_eq!(e.to_string(), "a message to bob@example.net with subject ~ \"Reset\"");
/// ```
#[derive(Clone, Default)]
pub struct Expect {
    parts: Vec<(String, Check)>,
}

impl Expect {
    /// Any message; narrow it with the other methods.
    pub fn new() -> Self {
        Self::default()
    }

    /// Addressed to `addr` (any case): in the envelope (so Bcc counts), To or Cc.
    pub fn to(self, addr: &str) -> Self {
        let want = addr.to_string();
        self.and(format!("to {addr}"), move |m| {
            m.envelope_to()
                .iter()
                .cloned()
                .chain(m.to())
                .chain(m.cc())
                .any(|a| a.eq_ignore_ascii_case(&want))
        })
    }

    /// From `addr` (any case): the envelope sender or the From header.
    pub fn from(self, addr: &str) -> Self {
        let want = addr.to_string();
        self.and(format!("from {addr}"), move |m| {
            m.envelope_from().eq_ignore_ascii_case(&want)
                || m.from().iter().any(|a| a.eq_ignore_ascii_case(&want))
        })
    }

    /// With a decoded Subject that contains `text` (case as given).
    pub fn subject(self, text: &str) -> Self {
        let want = text.to_string();
        self.and(format!("with subject ~ {text:?}"), move |m| {
            m.subject().is_some_and(|s| s.contains(&want))
        })
    }

    /// With a text or HTML body that contains `text`.
    pub fn body(self, text: &str) -> Self {
        let want = text.to_string();
        self.and(format!("with body ~ {text:?}"), move |m| {
            m.text().is_some_and(|t| t.contains(&want)) || m.html().is_some_and(|h| h.contains(&want))
        })
    }

    /// With a header `name` whose value contains `value`.
    pub fn header(self, name: &str, value: &str) -> Self {
        let (n, v) = (name.to_string(), value.to_string());
        self.and(format!("with {name} ~ {value:?}"), move |m| {
            m.headers(&n).iter().any(|h| h.contains(&v))
        })
    }

    /// With an attachment named `name`.
    pub fn attachment(self, name: &str) -> Self {
        let want = name.to_string();
        self.and(format!("with attachment {name:?}"), move |m| {
            m.attachments().iter().any(|a| a.name.as_deref() == Some(&want))
        })
    }

    /// Any other condition; `what` says it in failure messages ("with a reset link").
    pub fn and(
        mut self,
        what: impl Into<String>,
        check: impl Fn(&Mail) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.parts.push((what.into(), Arc::new(check)));
        self
    }

    /// Whether `mail` is such a message.
    pub fn matches(&self, mail: &Mail) -> bool {
        self.parts.iter().all(|(_, check)| check(mail))
    }
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a message")?;
        for (what, _) in &self.parts {
            write!(f, " {}", escape(what))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expect({self})")
    }
}

/// No message matched in time. Its message lists what did arrive, so a failing test shows
/// why without a debugger. `Debug` prints the same text, for `unwrap()`.
#[derive(Clone, PartialEq, Eq)]
pub struct NoMatch {
    /// What was expected, in words.
    pub expected: String,
    /// One [summary](Mail::summary) per message kept when the wait ended.
    pub got: Vec<String>,
    /// How long it waited.
    pub waited: Duration,
    /// False when the sink keeps no messages (`keep_messages(false)`): nothing could match.
    pub kept: bool,
}

/// At most this many arrivals are listed; then "… and N more".
const LISTED: usize = 20;

impl fmt::Display for NoMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "expected {} within {:?}; got {}",
            self.expected,
            self.waited,
            self.got.len()
        )?;
        if !self.kept {
            return f.write_str(" (the sink keeps no messages: keep_messages(false))");
        }
        if !self.got.is_empty() {
            f.write_str(":")?;
        }
        for line in self.got.iter().take(LISTED) {
            write!(f, "\n  {line}")?;
        }
        if self.got.len() > LISTED {
            write!(f, "\n  … and {} more", self.got.len() - LISTED)?;
        }
        Ok(())
    }
}

impl fmt::Debug for NoMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for NoMatch {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mail::tests::received;

    #[test]
    fn every_part_must_hold() {
        let m = Mail::new(received(
            "From: app@example.org\r\nTo: bob@example.net\r\nSubject: Reset your password\r\n\r\n\
             Go to https://app.example/reset?t=1\r\n",
        ));
        let e = Expect::new().to("BOB@example.net").subject("Reset");
        assert!(e.matches(&m));
        assert!(
            Expect::new().to("hidden@example.net").matches(&m),
            "Bcc via envelope"
        );
        assert!(Expect::new().from("app@example.org").body("reset?t=").matches(&m));
        assert!(!e.clone().subject("Welcome").matches(&m));
        assert!(!Expect::new().attachment("a.pdf").matches(&m));
        assert!(
            Expect::new()
                .and("with a link", |m| m.text().unwrap().contains("https://"))
                .matches(&m)
        );
    }

    #[test]
    fn failure_lists_what_arrived() {
        let e = NoMatch {
            expected: Expect::new().to("bob@example.net").subject("Reset").to_string(),
            got: (0..22).map(|i| format!("m{i}")).collect(),
            waited: Duration::from_secs(1),
            kept: true,
        };
        let text = format!("{e:?}");
        assert!(
            text.starts_with(
                "expected a message to bob@example.net with subject ~ \"Reset\" within 1s; got 22:\n  m0\n"
            ),
            "{text}"
        );
        assert!(text.ends_with("m19\n  … and 2 more"), "{text}");
    }
}
