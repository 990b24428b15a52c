//! What a successful send returns.

use std::time::Duration;

use squall_proto::address::Mailbox;
use squall_proto::reply::Reply;
use squall_proto::session::{ErrorKind, RecipientReply, Stage};

use crate::tls::TlsInfo;

/// The server took responsibility for a message.
///
/// `rejected` may be non-empty: the message went to the accepted recipients only.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Receipt {
    /// Recipients the server accepted.
    pub accepted: Vec<RecipientReply>,
    /// Recipients the server refused; they did not get the message.
    pub rejected: Vec<RecipientReply>,
    /// Recipients whose last attempt (a retry) was lost after its content was sent and before
    /// the server's verdict: they may or may not have the message.
    pub ambiguous: Vec<Mailbox>,
    /// The final reply after the content.
    pub reply: Reply,
    /// The server's queue id, when its final reply names one.
    pub queue_id: Option<String>,
    /// The Message-ID header of a [`Message`](crate::Message) sent with `send_message`.
    pub message_id: Option<String>,
    /// Content bytes sent, as the server stores them.
    pub size: u64,
    /// The TLS session the message went over (`None` in cleartext), and whether the server's
    /// certificate was verified.
    pub tls: Option<TlsInfo>,
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

    /// The receipt if every recipient got the message, else an error that says who did not and
    /// why: for callers to whom "some got it" is a failure (a welcome mail, say).
    ///
    /// ```no_run
    /// # async fn f(client: squall::Client, message: squall::Message) -> Result<(), squall::Error> {
    /// let receipt = client.send_message(&message).await?.require_all()?;
    /// # Ok(()) }
    /// ```
    pub fn require_all(self) -> Result<Self, crate::Error> {
        if self.is_complete() {
            Ok(self)
        } else {
            Err(crate::Error::partial(self))
        }
    }
}

/// One try at delivering a message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
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
        stage: Stage,
        /// The server's reply, when one decided it.
        reply: Option<Reply>,
        /// Whether trying again could help.
        kind: ErrorKind,
        /// Lost after the end of the content: it may have been delivered.
        ambiguous: bool,
        /// What happened, in words.
        why: String,
    },
}
