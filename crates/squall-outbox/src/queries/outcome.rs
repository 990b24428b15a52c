//! Recording how attempts ended: per recipient, then the message's next step (done,
//! retried later, or given up on).

use rusqlite::{Connection, OptionalExtension, params};

use super::event;
use crate::error::OutboxError;
use crate::model::{Event, EventKind, MessageState, RecipientState};
use crate::schedule::Schedule;

/// How one attempt ended, per recipient (by index).
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    pub(crate) id: i64,
    /// Index, new state, reply text.
    pub(crate) recipients: Vec<(i64, RecipientState, String)>,
    /// The error about the whole attempt, if it failed.
    pub(crate) error: Option<String>,
    /// The content may have reached the server although the outcome says otherwise.
    pub(crate) ambiguous: bool,
}

/// Records attempts that `owner` made. An outcome for a message whose lease `owner` no longer
/// holds (it ran out and another worker took over) is dropped: the other worker's attempt counts.
pub(crate) fn record(
    c: &Connection,
    owner: &str,
    outcomes: &[Outcome],
    now: i64,
    schedule: &Schedule,
) -> Result<Vec<Event>, OutboxError> {
    let mut events = Vec::new();
    for o in outcomes {
        let row: Option<(String, i64, i64)> = c
            .prepare_cached(
                "SELECT state, attempts, expires FROM messages WHERE id = ?1 AND lease_owner = ?2",
            )?
            .query_row(params![o.id, owner], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?;
        let Some((state, attempts, expires)) = row else {
            continue;
        };
        // A recipient cancelled while the attempt was under way may have accepted it all the same.
        let mut set = c.prepare_cached(
            "UPDATE recipients SET state = ?3, reply = ?4 WHERE message = ?1 AND idx = ?2
             AND (state IN ('pending', 'deferred') OR (state = 'cancelled' AND ?3 = 'accepted'))",
        )?;
        for (idx, st, reply) in &o.recipients {
            set.execute(params![o.id, idx, st.as_str(), reply])?;
        }
        // Every case below ends with one UPDATE of the message: the lease released, the error
        // kept, and the next state (unchanged for a message cancelled in flight).
        let release = |state: &str, finished: Option<i64>, not_before: Option<i64>| {
            c.prepare_cached(
                "UPDATE messages SET lease_owner = NULL, lease_until = NULL, last_error = ?2,
                    possible_duplicate = possible_duplicate OR ?3, state = ?4,
                    finished = coalesce(?5, finished), not_before = coalesce(?6, not_before)
                 WHERE id = ?1",
            )?
            .execute(params![o.id, o.error, o.ambiguous, state, finished, not_before])
        };
        if state != "queued" {
            // Cancelled while in flight: accepted recipients are recorded, nothing else changes.
            release(&state, None, None)?;
            continue;
        }
        let counts = recipient_counts(c, o.id)?;
        let summary = counts.summary();
        if counts.open == 0 {
            let (st, kind) = if counts.refused > 0 {
                (MessageState::Failed, EventKind::Failed)
            } else {
                (MessageState::Sent, EventKind::Sent)
            };
            release(st.as_str(), Some(now), None)?;
            events.push(event(c, o.id, now, kind, &summary)?);
            continue;
        }
        let attempts = u32::try_from(attempts).unwrap_or(u32::MAX);
        let next = now.saturating_add(crate::model::ms(schedule.backoff(attempts)));
        if next > expires {
            c.prepare_cached(
                "UPDATE recipients SET state = 'expired' WHERE message = ?1 AND state IN ('pending', 'deferred')",
            )?
            .execute([o.id])?;
            release(MessageState::Expired.as_str(), Some(now), None)?;
            let why = o.error.as_deref().unwrap_or("recipients deferred");
            let report = format!("given up after {attempts} attempt(s): {summary}; last: {why}");
            events.push(event(c, o.id, now, EventKind::Expired, &report)?);
            continue;
        }
        release(MessageState::Queued.as_str(), None, Some(next))?;
        let why = o.error.as_deref().unwrap_or("some recipients deferred");
        events.push(event(
            c,
            o.id,
            now,
            EventKind::Deferred,
            &format!("{summary}; {why}; next attempt in {} s", (next - now) / 1000),
        )?)
    }
    Ok(events)
}

struct Counts {
    open: u64,
    accepted: u64,
    refused: u64,
}

impl Counts {
    fn summary(&self) -> String {
        format!(
            "{} accepted, {} refused, {} to do",
            self.accepted, self.refused, self.open
        )
    }
}

fn recipient_counts(c: &Connection, id: i64) -> Result<Counts, OutboxError> {
    let mut k = Counts {
        open: 0,
        accepted: 0,
        refused: 0,
    };
    let mut q =
        c.prepare_cached("SELECT state, count(*) FROM recipients WHERE message = ?1 GROUP BY state")?;
    let rows = q.query_map([id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (s, n) = row?;
        let n = n.try_into().unwrap_or(0);
        match RecipientState::parse(&s) {
            Some(s) if s.is_open() => k.open += n,
            Some(RecipientState::Accepted) => k.accepted += n,
            Some(RecipientState::Refused | RecipientState::Expired) => k.refused += n,
            _ => {}
        }
    }
    Ok(k)
}
