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
    /// An envelope with default options.
    pub fn new<R: Into<Recipient>>(
        from: impl Into<ReversePath>,
        recipients: impl IntoIterator<Item = R>,
    ) -> Result<Self, NoRecipients> {
        let recipients: Vec<Recipient> = recipients.into_iter().map(Into::into).collect();
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
