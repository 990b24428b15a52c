//! `queue add`, `send --queue`, `sendmail --queue`: a prepared message into the queue.

use squall::Envelope;
use squall_outbox::{EnqueueOptions, OutboxError};

use super::{Content, QueueUrl, Report, fail, open};
use crate::exit;

/// Queues a prepared message (`send --queue`, `queue add`, `sendmail --queue`): exit 0 only
/// once the message and its content are committed.
pub(crate) async fn add(
    db: &QueueUrl,
    report: Report,
    envelope: Envelope,
    content: Content,
    message_id: Option<String>,
    route: Option<String>,
) -> u8 {
    let url = match db.url(report == Report::Json) {
        Ok(u) => u,
        Err(code) => return code,
    };
    let options = EnqueueOptions {
        route,
        ..EnqueueOptions::default()
    };
    let result = async {
        let outbox = open(&url, false).await?;
        let id = match content {
            Content::Body(b) => match b.as_bytes() {
                Some(bytes) => outbox.enqueue_raw_with(envelope.clone(), bytes, &options).await?,
                None => {
                    let bytes = b
                        .read_to_vec()
                        .await
                        .map_err(|e| OutboxError::Input(format!("reading the message: {e}")))?;
                    outbox
                        .enqueue_raw_with(envelope.clone(), &bytes[..], &options)
                        .await?
                }
            },
            Content::File(p) => {
                let f = tokio::fs::File::open(&p)
                    .await
                    .map_err(|e| OutboxError::Input(format!("cannot read {}: {e}", p.display())))?;
                outbox.enqueue_raw_with(envelope.clone(), f, &options).await?
            }
            Content::Stdin => {
                outbox
                    .enqueue_raw_with(envelope.clone(), tokio::io::stdin(), &options)
                    .await?
            }
        };
        Ok::<_, OutboxError>((id, outbox))
    }
    .await;
    let json = report == Report::Json;
    match result {
        Ok(_) if report == Report::Silent => exit::OK,
        Ok((id, outbox)) => {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "queued": id, "message_id": message_id, "queue": outbox.location() })
                );
            } else {
                println!(
                    "queued as {id} in {} (`squall queue run` sends it)",
                    outbox.location()
                );
            }
            exit::OK
        }
        Err(e) => fail(json, &e),
    }
}
