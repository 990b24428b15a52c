//! [`Shared`]: what an outbox's handles and its workers hold in common: the engine, the settings
//! the workers need, and the channels that wake them and carry events.

use std::sync::Arc;

use tokio::sync::{broadcast, watch};

use crate::backend::Backend;
use crate::model::Event;
use crate::schedule::Schedule;

pub(crate) struct Shared {
    pub(crate) backend: Backend,
    pub(crate) schedule: Schedule,
    pub(crate) hold_possible_duplicates: bool,
    /// SQLite: content up to this size stays in the database.
    pub(crate) inline_limit: usize,
    /// Bumped after each commit that queued something (on PostgreSQL also when another process
    /// did): workers wake on it.
    pub(crate) wake: Arc<watch::Sender<u64>>,
    pub(crate) events: broadcast::Sender<Event>,
}
