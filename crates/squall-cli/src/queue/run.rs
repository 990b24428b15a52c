//! `queue run`: the outbox's workers, sending through the server or the accounts chosen.

use std::path::Path;
use std::time::Duration;

use squall_outbox::RunOptions;

use super::{RunArgs, fail, open, route, show};
use crate::exit;

/// `queue run`: workers that send what is due until interrupted (or, with `--until-empty`, until
/// nothing is left to do now).
pub(super) async fn run(args: RunArgs) -> u8 {
    let workers = args.workers.max(1);
    let db = args
        .db
        .clone()
        .with_config(args.conn.config().map(Path::to_path_buf));
    let sender = match route::Sender::choose(args.conn, workers) {
        Ok(Some(s)) => s,
        Ok(None) => {
            eprintln!(
                "squall: queue run needs a server to send through: an accounts file, or --server, \
                 --url, --account, or SQUALL_URL"
            );
            return exit::USAGE;
        }
        Err(x) => return crate::output::fail(args.json, "squall", x),
    };
    let url = match db.url(args.json) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let outbox = match open(&url, args.hold_duplicates).await {
        Ok(o) => o,
        Err(e) => return fail(args.json, &e),
    };
    let options = RunOptions {
        workers,
        window: args.window.max(1),
        until_empty: args.until_empty,
        lease: Duration::try_from_secs_f64(args.lease)
            .unwrap_or(Duration::from_secs(60))
            .max(Duration::from_millis(300)),
        ..RunOptions::default()
    };
    let stop = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    let result = match &sender {
        route::Sender::One(client) => outbox.run(client.clone(), options, stop).await,
        route::Sender::ByAccount(router) => {
            let router = router.clone();
            outbox.run_routed(move |r| router.client(r), options, stop).await
        }
    };
    sender.shutdown().await;
    match result {
        Ok(report) => {
            let stats = outbox.stats().await.unwrap_or_default();
            if args.json {
                println!(
                    "{}",
                    serde_json::json!({ "attempts": report.attempts, "stats": stats })
                );
            } else {
                println!("{} attempt(s); now {}", report.attempts, show::stats_line(&stats));
            }
            exit::OK
        }
        Err(e) => fail(args.json, &e),
    }
}
