//! The messages a sink keeps in memory: in arrival order, each with a sequence number, a
//! read flag, and a cap past which the oldest are dropped. A long-running catcher must not
//! grow without bound, and a page must tell new from seen.

use std::collections::VecDeque;
use std::sync::Arc;
#[cfg(feature = "web")]
use std::sync::OnceLock;

use crate::store::ReceivedMessage;
#[cfg(feature = "web")]
use crate::summary::Summary;

/// One kept message and what the sink knows about it beyond its content.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    /// Increases by one per message kept, never reused: a waiter remembers how far it looked.
    pub(crate) seq: u64,
    pub(crate) msg: Arc<ReceivedMessage>,
    /// Shown on the page or fetched through the API.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) seen: bool,
    /// Made on first use (a list, a search), then shared by the clones of this entry.
    #[cfg(feature = "web")]
    summary: Arc<OnceLock<Summary>>,
}

#[cfg(feature = "web")]
impl Entry {
    /// The list view of the message, parsed the first time it is asked for.
    pub(crate) fn summary(&self) -> &Summary {
        self.summary.get_or_init(|| Summary::of(&self.msg))
    }
}

/// What changed, for live views (SSE) and waiters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// A message was kept.
    Added(String),
    /// A message was deleted, or dropped to respect the cap.
    Removed(String),
    /// Every message was deleted.
    Cleared,
    /// A message was marked seen.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    Seen(String),
}

/// The kept messages, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Mailbox {
    entries: VecDeque<Entry>,
    /// `None`: no cap.
    cap: Option<usize>,
    next_seq: u64,
}

impl Mailbox {
    pub(crate) fn new(cap: Option<usize>) -> Self {
        Self {
            entries: VecDeque::new(),
            cap: cap.map(|c| c.max(1)),
            next_seq: 0,
        }
    }

    /// Keeps `msg`; returns the changes: the addition, and any oldest message dropped.
    pub(crate) fn push(&mut self, msg: ReceivedMessage) -> Vec<Change> {
        let mut changes = Vec::new();
        if let Some(cap) = self.cap {
            while self.entries.len() >= cap {
                if let Some(old) = self.entries.pop_front() {
                    changes.push(Change::Removed(old.msg.id.clone()));
                }
            }
        }
        self.next_seq += 1;
        changes.push(Change::Added(msg.id.clone()));
        self.entries.push_back(Entry {
            seq: self.next_seq,
            msg: Arc::new(msg),
            seen: false,
            #[cfg(feature = "web")]
            summary: Arc::default(),
        });
        changes
    }

    /// Every entry, oldest first.
    pub(crate) fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> + ExactSizeIterator {
        self.entries.iter()
    }

    /// Entries kept after sequence number `seq`.
    pub(crate) fn since(&self, seq: u64) -> impl Iterator<Item = &Entry> {
        // Sequence numbers increase along the queue, so the tail is found by binary search.
        let start = self.entries.partition_point(|e| e.seq <= seq);
        self.entries.range(start..)
    }

    /// The entry with this id.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn get(&self, id: &str) -> Option<&Entry> {
        // From the newest: the live feed asks for the message that just arrived.
        self.entries.iter().rev().find(|e| e.msg.id == id)
    }

    /// Marks a message seen; returns whether it exists.
    #[cfg_attr(not(feature = "web"), allow(dead_code))]
    pub(crate) fn mark_seen(&mut self, id: &str) -> bool {
        match self.entries.iter_mut().find(|e| e.msg.id == id) {
            Some(e) => {
                e.seen = true;
                true
            }
            None => false,
        }
    }

    /// Deletes one message; returns whether it existed.
    pub(crate) fn remove(&mut self, id: &str) -> bool {
        let before = self.entries.len();
        self.entries.retain(|e| e.msg.id != id);
        self.entries.len() != before
    }

    /// Deletes and returns every message.
    pub(crate) fn take(&mut self) -> Vec<Arc<ReceivedMessage>> {
        self.entries.drain(..).map(|e| e.msg).collect()
    }

    /// How many messages are kept.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str) -> ReceivedMessage {
        ReceivedMessage {
            id: id.into(),
            mail_from: String::new(),
            mail_params: vec![],
            rcpt_to: vec![],
            rcpt_params: vec![],
            helo: None,
            tls: false,
            tls_version: None,
            tls_cipher: None,
            auth: None,
            size: 0,
            received_at: String::new(),
            transfer: "DATA",
            data: vec![],
            eml: None,
            maildir: None,
            reloaded: false,
            envelope_known: true,
        }
    }

    #[test]
    fn cap_drops_oldest_first() {
        let mut b = Mailbox::new(Some(2));
        b.push(msg("a"));
        b.push(msg("b"));
        let changes = b.push(msg("c"));
        assert_eq!(changes, [Change::Removed("a".into()), Change::Added("c".into())]);
        let ids: Vec<_> = b.entries().map(|e| e.msg.id.as_str()).collect();
        assert_eq!(ids, ["b", "c"]);
    }

    #[test]
    fn since_seen_and_remove() {
        let mut b = Mailbox::new(None);
        for id in ["a", "b", "c"] {
            b.push(msg(id));
        }
        let after_a: Vec<_> = b.since(1).map(|e| e.msg.id.as_str()).collect();
        assert_eq!(after_a, ["b", "c"]);
        assert!(b.mark_seen("b"));
        assert!(b.get("b").unwrap().seen);
        assert!(!b.get("a").unwrap().seen);
        assert!(b.remove("b"));
        assert!(!b.remove("b"));
        assert_eq!(b.since(0).count(), 2);
        assert_eq!(b.take().len(), 2);
        assert_eq!(b.len(), 0);
    }
}
