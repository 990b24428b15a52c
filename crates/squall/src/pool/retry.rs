//! What happens after an attempt: the message is finished, or tried again later.
//!
//! Policy (see [`ClientBuilder::retries`](crate::ClientBuilder::retries)): temporary failures —
//! a 4yz reply, a lost connection, a timeout — are tried again after an exponential, jittered
//! backoff, up to a number of attempts and an optional deadline, on whatever connection the pool
//! has then. Recipients refused with 4yz are retried alone; recipients already accepted are never
//! sent again; 5yz refusals are final. A connection lost after the end of the content makes the
//! outcome ambiguous (the server may have the message): it is not retried unless asked for,
//! since that may deliver it twice.

use std::time::{Duration, Instant, SystemTime};

use squall_proto::envelope::Envelope;
use squall_proto::params::Recipient;
use squall_proto::session::{Delivery, ErrorKind, RecipientReply};

use crate::body::Source;
use crate::config::RetryPolicy;
use crate::error::Error;
use crate::job::{Job, Started};
use crate::receipt::{Attempt, AttemptOutcome, Receipt};
use crate::tls::TlsInfo;

/// The decision after an attempt.
// Made once per attempt and moved straight on: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Next {
    /// Tell the caller.
    Finish(Job, Result<Receipt, Error>),
    /// Queue it again after this delay.
    Retry(Job, Duration),
}

/// The server took the message (maybe not for every recipient).
pub(crate) fn after_delivery(
    mut job: Job,
    d: Delivery,
    started: Started,
    tls: Option<&TlsInfo>,
    policy: &RetryPolicy,
) -> Next {
    record(
        &mut job,
        started,
        AttemptOutcome::Delivered {
            accepted: d.accepted.len(),
            refused: d.rejected.len(),
        },
    );
    for a in d.accepted {
        job.refused.retain(|r| r.recipient != a.recipient);
        job.delivered.push(a);
    }
    let mut again = Vec::new();
    for r in d.rejected {
        if r.reply.is_transient() {
            again.push(r.recipient.as_str().to_string());
        }
        remember_refusal(&mut job, r);
    }
    job.last_error = None;
    job.tls = tls.cloned();
    job.size = d.size;
    job.queue_id = d.reply.queue_id().map(str::to_string);
    job.final_reply = Some(d.reply);
    if !again.is_empty()
        && let Some(delay) = may_retry(&job, policy)
        && let Some(envelope) = only(&job.envelope, &again)
    {
        job.envelope = envelope;
        return Next::Retry(job, delay);
    }
    finish(job, None)
}

/// The attempt failed.
pub(crate) fn after_failure(mut job: Job, error: Error, started: Started, policy: &RetryPolicy) -> Next {
    record(&mut job, started, failed(&error));
    let mut refused_for_good = Vec::new();
    for r in error.rejected() {
        if r.reply.is_permanent() {
            refused_for_good.push(r.recipient.as_str().to_string());
        }
        remember_refusal(&mut job, r.clone());
    }
    let worth_it = error.kind() == ErrorKind::Transient && (!error.is_ambiguous() || policy.retry_ambiguous);
    if worth_it && let Some(delay) = may_retry(&job, policy) {
        let keep: Vec<String> = job
            .envelope
            .recipients()
            .iter()
            .map(|r| r.mailbox.as_str().to_string())
            .filter(|a| !refused_for_good.contains(a))
            .collect();
        if let Some(envelope) = only(&job.envelope, &keep) {
            job.envelope = envelope;
            job.last_error = Some(error);
            return Next::Retry(job, delay);
        }
    }
    finish(job, Some(error))
}

/// Gives up on `job` with `error` (its connection could not be set up, its deadline passed):
/// the outcome for the caller, which still learns what earlier attempts delivered.
pub(crate) fn give_up(job: Job, error: Error) -> (Job, Result<Receipt, Error>) {
    outcome(job, Some(error))
}

/// The attempts are over: the caller is told.
fn finish(job: Job, error: Option<Error>) -> Next {
    let (job, result) = outcome(job, error);
    Next::Finish(job, result)
}

/// The outcome: a receipt if any recipient got the message in any attempt, else the error.
fn outcome(mut job: Job, error: Option<Error>) -> (Job, Result<Receipt, Error>) {
    let delivered = std::mem::take(&mut job.delivered);
    let result = match (job.final_reply.take(), error) {
        (Some(reply), error) if !delivered.is_empty() => {
            // The last attempt was lost after its content: its recipients may have it.
            let ambiguous: Vec<_> = match &error {
                Some(e) if e.is_ambiguous() => job
                    .envelope
                    .recipients()
                    .iter()
                    .map(|r| r.mailbox.clone())
                    .filter(|a| !delivered.iter().any(|d| &d.recipient == a))
                    .collect(),
                _ => Vec::new(),
            };
            job.refused.retain(|r| !ambiguous.contains(&r.recipient));
            Ok(Receipt {
                rejected: job.refused.clone(),
                ambiguous,
                accepted: delivered,
                queue_id: job.queue_id.take(),
                reply,
                message_id: job.message_id.clone(),
                size: job.size,
                tls: job.tls.take(),
                elapsed: job.submitted.elapsed(),
                attempts: std::mem::take(&mut job.attempts),
            })
        }
        (_, Some(e)) => Err(e.with_attempts(std::mem::take(&mut job.attempts))),
        // Delivered to nobody without an error: every recipient was refused at RCPT but the
        // message itself was accepted (cannot happen with a conforming server); say so.
        (_, None) => Err(Error::no_recipient_accepted(
            job.refused.clone(),
            std::mem::take(&mut job.attempts),
        )),
    };
    (job, result)
}

/// An attempt's outcome from the error that ended it.
fn failed(error: &Error) -> AttemptOutcome {
    AttemptOutcome::Failed {
        stage: error.stage(),
        reply: error.reply().cloned(),
        kind: error.kind(),
        ambiguous: error.is_ambiguous(),
        why: error.summary(),
    }
}

/// Adds an attempt that began at `started` and ended now.
fn record(job: &mut Job, started: Started, outcome: AttemptOutcome) {
    job.attempts.push(Attempt {
        started: started.0,
        elapsed: started.1.elapsed(),
        outcome,
    });
}

/// Keeps the latest refusal of each recipient.
fn remember_refusal(job: &mut Job, r: RecipientReply) {
    job.refused.retain(|x| x.recipient != r.recipient);
    job.refused.push(r);
}

/// The delay before the next attempt, if one is allowed: attempts left, a body that can still
/// be read (a stream only until sending it began), and time left before the deadline.
fn may_retry(job: &Job, policy: &RetryPolicy) -> Option<Duration> {
    if job.attempts.len() >= policy.attempts as usize || matches!(job.body.0, Source::Reader(None)) {
        return None;
    }
    let delay = backoff(policy, job.attempts.len() as u32);
    match job.deadline {
        Some(d) if Instant::now() + delay >= d => None,
        _ => Some(delay),
    }
}

/// Exponential backoff with jitter: a random point in the upper half of `initial × 2^(n-1)`,
/// capped at `max`, so that many clients hit by the same outage do not return in step.
pub(crate) fn backoff(policy: &RetryPolicy, attempts_so_far: u32) -> Duration {
    let exp = policy
        .backoff
        .saturating_mul(1u32 << attempts_so_far.saturating_sub(1).min(16));
    let ceiling = exp.min(policy.max_backoff);
    let half = ceiling / 2;
    half + half.mul_f64(jitter())
}

/// A number in [0, 1) that differs between calls (not for cryptography).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// The envelope with only the recipients in `addresses` (their DSN options kept).
fn only(envelope: &Envelope, addresses: &[String]) -> Option<Envelope> {
    let rcpts: Vec<Recipient> = envelope
        .recipients()
        .iter()
        .filter(|r| addresses.iter().any(|a| a == r.mailbox.as_str()))
        .cloned()
        .collect();
    Envelope::new(envelope.from().clone(), rcpts)
        .ok()
        .map(|e| e.with_options(envelope.options().clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            attempts: 10,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            retry_ambiguous: false,
            deadline: None,
        };
        for (n, lo, hi) in [
            (1, 50, 100),
            (2, 100, 200),
            (3, 200, 400),
            (8, 500, 1000),
            (60, 500, 1000),
        ] {
            for _ in 0..20 {
                let d = backoff(&p, n).as_millis();
                assert!((lo..=hi).contains(&d), "attempt {n}: {d} ms");
            }
        }
    }
}
