//! [`Job`]: one queued message and what its attempts so far achieved. The pool keeps jobs; the
//! driver sends them and hands each back with how its attempt ended.

use std::time::{Instant, SystemTime};

use squall_proto::envelope::Envelope;
use squall_proto::reply::Reply;
use squall_proto::session::RecipientReply;
use tokio::sync::oneshot;

use crate::body::Body;
use crate::error::Error;
use crate::receipt::{Attempt, Receipt};
use crate::tls::TlsInfo;

pub(crate) struct Job {
    /// For the next attempt: retries carry only the recipients still to do.
    pub(crate) envelope: Envelope,
    pub(crate) body: Body,
    pub(crate) done: oneshot::Sender<Result<Receipt, Error>>,
    pub(crate) submitted: Instant,
    /// When it last joined the queue (a retry joins it again).
    pub(crate) queued: Instant,
    pub(crate) deadline: Option<Instant>,
    pub(crate) message_id: Option<String>,
    pub(crate) attempts: Vec<Attempt>,
    /// Why the last attempt failed, while a retry is pending: the error to report if the
    /// deadline passes before the retry gets a connection.
    pub(crate) last_error: Option<Error>,
    /// Recipients that got the message in an earlier attempt.
    pub(crate) delivered: Vec<RecipientReply>,
    /// The latest refusal of each recipient that did not get it.
    pub(crate) refused: Vec<RecipientReply>,
    pub(crate) final_reply: Option<Reply>,
    pub(crate) queue_id: Option<String>,
    pub(crate) size: u64,
    /// The TLS session of the attempt that delivered it.
    pub(crate) tls: Option<TlsInfo>,
}

impl Job {
    pub(crate) fn new(
        envelope: Envelope,
        body: Body,
        message_id: Option<String>,
        deadline: Option<std::time::Duration>,
    ) -> (Self, oneshot::Receiver<Result<Receipt, Error>>) {
        let (done, outcome) = oneshot::channel();
        let now = Instant::now();
        let job = Self {
            envelope,
            body,
            done,
            submitted: now,
            queued: now,
            deadline: deadline.and_then(|d| now.checked_add(d)),
            message_id,
            attempts: Vec::new(),
            last_error: None,
            delivered: Vec::new(),
            refused: Vec::new(),
            final_reply: None,
            queue_id: None,
            size: 0,
            tls: None,
        };
        (job, outcome)
    }
}

/// When an attempt started: the wall clock for people, the monotonic clock for durations.
pub(crate) type Started = (SystemTime, Instant);
