//! A durable outbox for [`squall`]: messages queued here survive crashes, restarts and power
//! cuts, and are sent by workers that lease them.
//!
//! ```no_run
//! # async fn demo(message: squall::Message) -> Result<(), Box<dyn std::error::Error>> {
//! use squall_outbox::{Outbox, RunOptions};
//!
//! let outbox = Outbox::open("sqlite:/var/lib/app/outbox.db").await?;
//! let id = outbox.enqueue(&message).await?;          // durable when this returns
//! let client = squall::Client::from_url("smtp://relay.example.org")?;
//! let options = RunOptions { until_empty: true, ..RunOptions::default() };
//! outbox.run(client, options, std::future::pending()).await?;
//! println!("{:?}", outbox.status(id).await?.map(|s| s.state));
//! # Ok(()) }
//! ```
//!
//! # Two engines
//!
//! - `sqlite:PATH`: one machine. One thread owns the connection; large content goes to spool
//!   files beside the database.
//! - `postgres://USER@HOST:PORT/DATABASE`: a queue many machines share. Content is stored in
//!   the database in chunks of at most 256 KiB; workers claim with `FOR UPDATE SKIP LOCKED`;
//!   `LISTEN`/`NOTIFY` wakes the workers of every process when mail is queued; times are the
//!   database's clock; a lost connection is re-made with backoff. No TLS yet: a URL asking for
//!   it (`sslmode=require`, `verify-ca`, `verify-full`) is refused.
//!
//! The API and its behaviour are the same on both; the test suite runs on both.
//!
//! # How it keeps its promises
//!
//! - **Durable acknowledgement.** SQLite: one thread owns the connection (WAL,
//!   `synchronous=FULL`) and runs every waiting request in one transaction: concurrent
//!   producers share one fsync (group commit), and each is answered only after the commit.
//!   PostgreSQL: each request commits its own transaction; concurrent commits share a WAL
//!   flush (PostgreSQL's own group commit).
//! - **Per-recipient state.** A partial delivery records who accepted and who was refused;
//!   a retry carries only the recipients still pending or deferred.
//! - **Leases.** A worker leases a batch (its window) and renews the leases while it works. If
//!   it dies, the leases run out and another worker takes the messages over, flagging them
//!   `possible_duplicate` (the content may have reached the server): resent by default with the
//!   same content and Message-ID, or held for a person
//!   ([`OutboxBuilder::hold_possible_duplicates`]).
//! - **Schedule.** Postfix's defaults: retry after 5 minutes, doubling up to 1 hour, given up
//!   on after 5 days with an [`EventKind::Expired`] event that says why ([`Schedule`]).
//! - **Outcomes.** [`Outbox::status`], [`Outbox::stats`], and a durable event log
//!   ([`Outbox::events_since`], live with [`Outbox::subscribe`]).

mod backend;
mod error;
mod model;
mod options;
mod outbox;
mod pg;
mod queries;
mod routes;
mod schedule;
mod schema;
mod shared;
mod spool;
mod store;
mod worker;

pub use error::{OutboxError, TlsProblem};
pub use model::{Event, EventKind, MessageState, QueueId, RecipientState, RecipientStatus, Stats, Status};
pub use outbox::{EnqueueOptions, Outbox, OutboxBuilder};
pub use schedule::Schedule;
pub use worker::{RunOptions, RunReport};
