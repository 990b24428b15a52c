//! The SQL behind each request, as functions of a connection inside the store's transaction,
//! one file per concern.

mod admin;
mod enqueue;
mod lease;
mod outcome;
mod read;
#[cfg(test)]
mod tests;

pub(crate) use admin::{cancel, purge, retry, spool_files};
pub(crate) use enqueue::{NewMessage, event, insert};
pub(crate) use lease::{Claimed, claim, has_due_or_leased, next_due, renew};
pub(crate) use outcome::{Outcome, record};
pub(crate) use read::{STATUS_COLUMNS, events_since, list, stats, status, status_from_row};
