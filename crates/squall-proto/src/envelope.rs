//! The envelope of one message: who it is from, who it goes to, and its MAIL options.

use thiserror::Error;

use crate::address::ReversePath;
use crate::params::{MailOptions, Recipient};

/// An envelope with no recipient.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("a message needs at least one recipient")]
pub struct NoRecipients;

/// Sender, recipients and options of one message, all validated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    from: ReversePath,
    recipients: Vec<Recipient>,
    options: MailOptions,
}

impl Envelope {
    /// An envelope with default options. Each address gets one RCPT: a repeat (To and Bcc
    /// naming the same person, say) is dropped, keeping the first, whose DSN options count.
    /// Addresses compare without regard to ASCII case, as mail systems treat them in practice.
    pub fn new<R: Into<Recipient>>(
        from: impl Into<ReversePath>,
        recipients: impl IntoIterator<Item = R>,
    ) -> Result<Self, NoRecipients> {
        let mut unique: Vec<Recipient> = Vec::new();
        for r in recipients.into_iter().map(Into::<Recipient>::into) {
            let seen = unique
                .iter()
                .any(|x| x.mailbox.as_str().eq_ignore_ascii_case(r.mailbox.as_str()));
            if !seen {
                unique.push(r);
            }
        }
        let recipients = unique;
        if recipients.is_empty() {
            return Err(NoRecipients);
        }
        Ok(Self {
            from: from.into(),
            recipients,
            options: MailOptions::default(),
        })
    }

    /// Replaces the MAIL options.
    pub fn with_options(mut self, options: MailOptions) -> Self {
        self.options = options;
        self
    }

    /// The reverse path.
    pub fn from(&self) -> &ReversePath {
        &self.from
    }

    /// The recipients, in the order their RCPT commands are sent.
    pub fn recipients(&self) -> &[Recipient] {
        &self.recipients
    }

    /// The MAIL options.
    pub fn options(&self) -> &MailOptions {
        &self.options
    }

    /// Mutable MAIL options (for example, to set the size once it is known).
    pub fn options_mut(&mut self) -> &mut MailOptions {
        &mut self.options
    }

    /// True when the transaction must carry `SMTPUTF8`.
    pub fn needs_smtputf8(&self) -> bool {
        self.options.smtputf8
            || self.from.needs_smtputf8()
            || self.recipients.iter().any(|r| r.mailbox.needs_smtputf8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::Mailbox;

    #[test]
    fn each_address_gets_one_rcpt() {
        let m = |s| Mailbox::parse(s).unwrap();
        let e = Envelope::new(
            ReversePath::parse("a@example.org").unwrap(),
            [
                m("b@example.org"),
                m("c@example.org"),
                m("B@Example.org"),
                m("b@example.org"),
            ],
        )
        .unwrap();
        let to: Vec<&str> = e.recipients().iter().map(|r| r.mailbox.as_str()).collect();
        assert_eq!(to, ["b@example.org", "c@example.org"]);
    }
}
