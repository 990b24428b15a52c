//! What a successful send returns.

use std::time::Duration;

use squall_proto::reply::Reply;

/// A recipient and what the server answered to its RCPT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecipientStatus {
    /// The address, as sent.
    pub address: String,
    /// The RCPT reply.
    pub reply: Reply,
}

impl RecipientStatus {
    pub(crate) fn from_proto(r: squall_proto::session::RecipientReply) -> Self {
        Self {
            address: r.recipient.to_string(),
            reply: r.reply,
        }
    }
}

/// The server took responsibility for a message.
///
/// `rejected` may be non-empty: the message went to the accepted recipients only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// Recipients the server accepted.
    pub accepted: Vec<RecipientStatus>,
    /// Recipients the server refused; they did not get the message.
    pub rejected: Vec<RecipientStatus>,
    /// Recipients whose last attempt (a retry) was lost after its content was sent and before
    /// the server's verdict: they may or may not have the message.
    pub ambiguous: Vec<String>,
    /// The final reply after the content.
    pub reply: Reply,
    /// The server's queue id, when its final reply names one.
    pub queue_id: Option<String>,
    /// The Message-ID header of a [`Message`](crate::Message) sent with `send_message`.
    pub message_id: Option<String>,
    /// Content bytes sent, as the server stores them.
    pub size: u64,
    /// From the call to the final reply.
    pub elapsed: Duration,
    /// Every try, in order (more than one when a temporary failure was retried).
    pub attempts: Vec<Attempt>,
}

impl Receipt {
    /// True when every recipient was accepted.
    pub fn is_complete(&self) -> bool {
        self.rejected.is_empty() && self.ambiguous.is_empty()
    }
}

impl RecipientStatus {
    /// One line for a refused recipient: `the server refused recipient <x@example.org>: 550 5.1.1
    /// user unknown — the address does not exist there; check the spelling`.
    pub fn explain(&self) -> String {
        format!(
            "the server refused recipient <{}>: {} — {}",
            self.address,
            self.reply,
            crate::error::hint::for_reply(crate::error::Stage::Rcpt, &self.reply)
        )
    }
}

/// One try at delivering a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// When the message was handed to a connection.
    pub started: std::time::SystemTime,
    /// How long the try took.
    pub elapsed: Duration,
    /// How it ended.
    pub outcome: AttemptOutcome,
}

/// How an [`Attempt`] ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AttemptOutcome {
    /// The server took the message for `accepted` recipients and refused `refused`.
    Delivered {
        /// Recipients accepted in this attempt.
        accepted: usize,
        /// Recipients refused in this attempt.
        refused: usize,
    },
    /// It failed.
    Failed {
        /// Where.
        stage: crate::Stage,
        /// The server's reply, when one decided it.
        reply: Option<Reply>,
        /// Whether trying again could help.
        kind: crate::ErrorKind,
        /// Lost after the end of the content: it may have been delivered.
        ambiguous: bool,
        /// What happened, in words.
        why: String,
    },
}
