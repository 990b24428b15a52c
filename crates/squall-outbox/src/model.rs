//! The vocabulary of the queue: ids, states, and what status queries and events return.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A queued message's id, unique in its outbox and never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(transparent))]
pub struct QueueId(pub i64);

impl fmt::Display for QueueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a message is in its life. Only `Queued` and `Held` are waiting; the others are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "snake_case"))]
pub enum MessageState {
    /// Waiting for its next attempt (or being attempted under a lease).
    Queued,
    /// Set aside for a person: a possible duplicate, held by configuration. `retry` releases it.
    Held,
    /// Every recipient accepted.
    Sent,
    /// Finished with at least one recipient refused (the others accepted).
    Failed,
    /// Given up on: recipients still pending when the queue lifetime ran out.
    Expired,
    /// Cancelled by a person or program; recipients not yet accepted never get it.
    Cancelled,
}

impl MessageState {
    /// Every state, in the order reports list them.
    pub const ALL: [Self; 6] = [
        Self::Queued,
        Self::Held,
        Self::Sent,
        Self::Failed,
        Self::Expired,
        Self::Cancelled,
    ];

    /// The name stored in the database and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Held => "held",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether nothing more will happen to it.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Held)
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one recipient is. A retry carries only `Pending` and `Deferred` recipients.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "snake_case"))]
pub enum RecipientState {
    /// Not tried yet.
    Pending,
    /// Tried; a temporary failure; will be tried again.
    Deferred,
    /// The server took the message for it.
    Accepted,
    /// Refused for good.
    Refused,
    /// Still deferred when the queue lifetime ran out.
    Expired,
    /// Its message was cancelled before it was accepted.
    Cancelled,
}

impl RecipientState {
    const ALL: [Self; 6] = [
        Self::Pending,
        Self::Deferred,
        Self::Accepted,
        Self::Refused,
        Self::Expired,
        Self::Cancelled,
    ];

    /// The name stored in the database and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Deferred => "deferred",
            Self::Accepted => "accepted",
            Self::Refused => "refused",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    /// The state named `s`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether the next attempt includes it.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Pending | Self::Deferred)
    }
}

impl fmt::Display for RecipientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recipient of a queued message.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RecipientStatus {
    /// The address.
    pub address: String,
    /// Where it is.
    pub state: RecipientState,
    /// The last reply or error about it, as text.
    pub reply: Option<String>,
}

/// A queued message as the outbox knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Status {
    /// Its id.
    pub id: QueueId,
    /// Where it is.
    pub state: MessageState,
    /// The envelope sender (empty for `<>`).
    pub sender: String,
    /// Its recipients.
    pub recipients: Vec<RecipientStatus>,
    /// The Message-ID, when it was queued as a [`squall::Message`].
    pub message_id: Option<String>,
    /// Content size in bytes as stored.
    pub size: u64,
    /// When it was queued (Unix milliseconds).
    pub created_ms: i64,
    /// Not tried before this time (Unix milliseconds).
    pub not_before_ms: i64,
    /// Given up on after this time (Unix milliseconds).
    pub expires_ms: i64,
    /// Attempts so far.
    pub attempts: u32,
    /// Its content may have reached a server in an attempt whose outcome was lost (a worker
    /// died): a receiver may get it twice (with the same Message-ID).
    pub possible_duplicate: bool,
    /// The last error about the whole message, as text.
    pub last_error: Option<String>,
    /// The idempotency key it was queued with.
    pub idempotency_key: Option<String>,
    /// The route it was queued with ([`EnqueueOptions::route`](crate::EnqueueOptions::route)):
    /// which client the runner sends it through.
    pub route: Option<String>,
}

/// What happened to a message: one row of the durable event log, numbered in order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Event {
    /// Its place in the log: read on from the last one seen with [`Outbox::events_since`](crate::Outbox::events_since).
    pub seq: i64,
    /// The message.
    pub id: QueueId,
    /// When (Unix milliseconds).
    pub at_ms: i64,
    /// What.
    pub kind: EventKind,
    /// Details in words (replies, errors).
    pub detail: String,
}

/// The kinds of [`Event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize), serde(rename_all = "snake_case"))]
pub enum EventKind {
    /// Queued.
    Queued,
    /// An attempt ended with some recipients still to do: it will be retried.
    Deferred,
    /// Finished: every recipient accepted.
    Sent,
    /// Finished with refused recipients.
    Failed,
    /// Given up on.
    Expired,
    /// Cancelled.
    Cancelled,
    /// Held for a person (a possible duplicate).
    Held,
    /// Its worker's lease ran out: another worker takes it over.
    LeaseExpired,
}

impl EventKind {
    const ALL: [Self; 8] = [
        Self::Queued,
        Self::Deferred,
        Self::Sent,
        Self::Failed,
        Self::Expired,
        Self::Cancelled,
        Self::Held,
        Self::LeaseExpired,
    ];

    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Deferred => "deferred",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
            Self::Held => "held",
            Self::LeaseExpired => "lease_expired",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// Counts by state and the age of the oldest waiting message.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Stats {
    /// Messages waiting for an attempt (including those being attempted).
    pub queued: u64,
    /// Of those, under a worker's lease now.
    pub leased: u64,
    /// Held for a person.
    pub held: u64,
    /// Sent to every recipient.
    pub sent: u64,
    /// Finished with refusals.
    pub failed: u64,
    /// Given up on.
    pub expired: u64,
    /// Cancelled.
    pub cancelled: u64,
    /// Flagged as possible duplicates (any state).
    pub possible_duplicates: u64,
    /// Age of the oldest queued or held message, in milliseconds.
    pub oldest_waiting_ms: Option<u64>,
}

impl Stats {
    /// Files `n` messages under the stored `state` (a row of `state, count(*)`).
    pub(crate) fn set_count(&mut self, state: &str, n: i64) {
        let n = u64::try_from(n).unwrap_or(0);
        match MessageState::parse(state) {
            Some(MessageState::Queued) => self.queued = n,
            Some(MessageState::Held) => self.held = n,
            Some(MessageState::Sent) => self.sent = n,
            Some(MessageState::Failed) => self.failed = n,
            Some(MessageState::Expired) => self.expired = n,
            Some(MessageState::Cancelled) => self.cancelled = n,
            None => {}
        }
    }
}

/// Now, in Unix milliseconds.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `d` in milliseconds, saturating.
pub(crate) fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in MessageState::ALL {
            assert_eq!(MessageState::parse(s.as_str()), Some(s));
        }
        for s in RecipientState::ALL {
            assert_eq!(RecipientState::parse(s.as_str()), Some(s));
        }
        for s in EventKind::ALL {
            assert_eq!(EventKind::parse(s.as_str()), Some(s));
        }
        assert!(!MessageState::Held.is_final() && MessageState::Sent.is_final());
    }
}
