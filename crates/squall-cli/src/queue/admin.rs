//! `queue retry`, `queue cancel`, `queue purge`: changing what is queued.

use std::future::Future;
use std::time::Duration;

use squall_outbox::{Outbox, OutboxError, QueueId};

use super::{IdArgs, PurgeArgs, on_queue};
use crate::exit;

/// Applies `f` to message `a.id`, then says it is `done` ("due now", "cancelled").
pub(super) async fn change<Fut>(a: IdArgs, done: &str, f: impl FnOnce(Outbox, QueueId) -> Fut) -> u8
where
    Fut: Future<Output = Result<(), OutboxError>>,
{
    let id = QueueId(a.id);
    if let Err(code) = on_queue(&a.db, a.json, |o| f(o, id)).await {
        return code;
    }
    if a.json {
        println!("{}", serde_json::json!({ "id": a.id, "done": done }));
    } else {
        println!("message {}: {done}", a.id);
    }
    exit::OK
}

pub(super) async fn purge(a: PurgeArgs) -> u8 {
    let age = match a.older_than.as_deref().map(parse_age) {
        None => Duration::ZERO,
        Some(Ok(d)) => d,
        Some(Err(e)) => {
            eprintln!("squall: --older-than: {e}");
            return exit::USAGE;
        }
    };
    match on_queue(&a.db, a.json, |o| async move { o.purge(age).await }).await {
        Ok(n) if a.json => println!("{}", serde_json::json!({ "purged": n })),
        Ok(n) => println!("{n} finished message(s) deleted"),
        Err(code) => return code,
    }
    exit::OK
}

/// `30s`, `10m`, `12h`, `7d` (a bare number is seconds).
fn parse_age(s: &str) -> Result<Duration, String> {
    let bad = || format!("bad age {s:?} (use e.g. 30s, 10m, 12h, 7d)");
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(n.saturating_mul(secs)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(parse_age("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_age("90"), Ok(Duration::from_secs(90)));
        assert!(parse_age("1w").is_err() && parse_age("").is_err());
    }
}
