//! `POST /api/v1/messages/{id}/release`: forward a captured message to a real server. The
//! sink does not send mail itself (squall-sink cannot depend on the squall client: squall
//! tests with squall-sink, and the two could not be published); the embedder gives a hook
//! ([`SinkBuilder::on_release`](crate::SinkBuilder::on_release)) that sends, and `squall
//! sink --web-release` gives one that sends through squall. Without a hook the call is
//! refused.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::shared::Shared;
use crate::store::ReceivedMessage;

/// What the release hook returns: the receipt of the forwarding server as JSON, or the
/// error as JSON. Either goes back to the API's caller as it is.
pub type ReleaseOutcome = Result<Value, Value>;

/// The release hook, shared by the requests.
pub(crate) type OnRelease =
    Arc<dyn Fn(Release) -> Pin<Box<dyn Future<Output = ReleaseOutcome> + Send>> + Send + Sync>;

/// Recipients one release may name, at most.
const MAX_RECIPIENTS: usize = 1000;

/// A captured message to forward, handed to the hook of
/// [`SinkBuilder::on_release`](crate::SinkBuilder::on_release).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Release {
    /// Where to send it, as the caller gave it (for squall, an `smtp://` or `smtps://` URL).
    pub url: String,
    /// The reverse path: the request's `from`, else the captured MAIL FROM (empty for `<>`).
    pub from: String,
    /// The recipients: the request's `to`, else every captured RCPT TO (Bcc included).
    pub to: Vec<String>,
    /// The captured message; its content, byte for byte, is `message.data`.
    pub message: Arc<ReceivedMessage>,
}

/// The JSON body of a release request.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    url: String,
    #[serde(default)]
    to: Option<Vec<String>>,
    #[serde(default)]
    from: Option<String>,
}

fn error(status: StatusCode, text: impl Into<String>) -> Response {
    (status, Json(json!({ "error": text.into() }))).into_response()
}

/// The handler; `hook` is `None` when release was not enabled.
pub(crate) async fn release(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    hook: Option<OnRelease>,
    body: Bytes,
) -> Response {
    let Some(hook) = hook else {
        return error(
            StatusCode::FORBIDDEN,
            "release is off: it sends real mail; start the sink with --web-release \
             (SinkBuilder::on_release)",
        );
    };
    let req: Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("the body must be JSON {{\"url\": …, \"to\": [optional], \"from\": optional}}: {e}"),
            );
        }
    };
    if req.url.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "\"url\" is empty");
    }
    let Some(entry) = shared.mailbox().get(&id).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            format!("no message {id:?} (deleted, dropped by --max-messages, or never received)"),
        );
    };
    let msg = entry.msg;
    let to = match req.to {
        Some(to) if to.is_empty() => return error(StatusCode::BAD_REQUEST, "\"to\" is empty"),
        Some(to) if to.len() > MAX_RECIPIENTS => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("\"to\" names more than {MAX_RECIPIENTS} recipients"),
            );
        }
        Some(to) => to,
        None if !msg.envelope_known => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the message's envelope is not known (reloaded without the sink's record): give \"to\"",
            );
        }
        None => msg.rcpt_to.clone(),
    };
    let from = match req.from {
        Some(f) => f,
        None if !msg.envelope_known => {
            return error(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the message's envelope is not known (reloaded without the sink's record): give \"from\"",
            );
        }
        None => msg.mail_from.clone(),
    };
    let release = Release {
        url: req.url,
        from,
        to,
        message: msg,
    };
    match hook(release).await {
        Ok(receipt) => (StatusCode::OK, Json(receipt)).into_response(),
        Err(e) => (StatusCode::BAD_GATEWAY, Json(e)).into_response(),
    }
}
