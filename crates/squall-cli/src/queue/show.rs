//! `queue list`, `queue show`, `queue stats`: what is in the queue, as lines or JSON.

use squall_outbox::{MessageState, OutboxError, QueueId, Stats, Status};

use super::{IdArgs, ListArgs, StatsArgs, fail, on_queue};
use crate::exit;

/// The counts by state, on one line.
pub(super) fn stats_line(s: &Stats) -> String {
    let oldest = s
        .oldest_waiting_ms
        .map_or(String::new(), |ms| format!(", oldest waiting {} s", ms / 1000));
    format!(
        "{} queued ({} leased), {} held, {} sent, {} failed, {} expired, {} cancelled, {} possible duplicate(s){oldest}",
        s.queued, s.leased, s.held, s.sent, s.failed, s.expired, s.cancelled, s.possible_duplicates
    )
}

/// One message on one line: id, state, attempts, envelope, flags, route.
fn line(s: &Status) -> String {
    let to: Vec<String> = s
        .recipients
        .iter()
        .map(|r| format!("{} ({})", r.address, r.state))
        .collect();
    let dup = if s.possible_duplicate {
        " possible-duplicate"
    } else {
        ""
    };
    let via = s.route.as_deref().map_or(String::new(), |r| format!("  via {r}"));
    format!(
        "{:>6}  {:<9}  {} attempt(s)  {} -> {}{dup}{via}",
        s.id,
        s.state,
        s.attempts,
        if s.sender.is_empty() { "<>" } else { &s.sender },
        to.join(", ")
    )
}

pub(super) async fn list(a: ListArgs) -> u8 {
    let state = match a.state.as_deref().map(|s| (s, MessageState::parse(s))) {
        None => None,
        Some((_, Some(s))) => Some(s),
        Some((s, None)) => {
            eprintln!("squall: --state {s:?}: use one of queued, held, sent, failed, expired, cancelled");
            return exit::USAGE;
        }
    };
    let limit = a.limit;
    match on_queue(&a.db, a.json, |o| async move { o.list(state, limit).await }).await {
        Ok(rows) if a.json => println!("{}", serde_json::to_string(&rows).unwrap_or_default()),
        Ok(rows) => rows.iter().for_each(|s| println!("{}", line(s))),
        Err(code) => return code,
    }
    exit::OK
}

pub(super) async fn show(a: IdArgs) -> u8 {
    let id = QueueId(a.id);
    let s = match on_queue(&a.db, a.json, |o| async move { o.status(id).await }).await {
        Ok(Some(s)) => s,
        Ok(None) => return fail(a.json, &OutboxError::NotFound(a.id)),
        Err(code) => return code,
    };
    if a.json {
        println!("{}", serde_json::to_string(&s).unwrap_or_default());
        return exit::OK;
    }
    println!("{}", line(&s));
    if let Some(m) = &s.message_id {
        println!("  message-id: <{m}>");
    }
    println!("  size: {} bytes", s.size);
    println!(
        "  account: {}",
        s.route.as_deref().unwrap_or("- (queued without one)")
    );
    for r in &s.recipients {
        println!(
            "  {} {}: {}",
            r.address,
            r.state,
            r.reply.as_deref().unwrap_or("-")
        );
    }
    if let Some(e) = &s.last_error {
        println!("  last error: {e}");
    }
    exit::OK
}

pub(super) async fn stats(a: StatsArgs) -> u8 {
    match on_queue(&a.db, a.json, |o| async move { o.stats().await }).await {
        Ok(s) if a.json => println!("{}", serde_json::to_string(&s).unwrap_or_default()),
        Ok(s) => println!("{}", stats_line(&s)),
        Err(code) => return code,
    }
    exit::OK
}
