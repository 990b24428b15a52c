//! The handlers of `/api/v1`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
use serde::Deserialize;
use thiserror::Error;
use tokio::sync::broadcast;

use super::search::Search;
use super::view::{Full, Item, Page, parts};
use crate::mail::Mail;
use crate::mailbox::{Change, Entry};
use crate::shared::Shared;

type St = State<Arc<Shared>>;

/// Why an API call failed; the text goes to the client as `{"error": …}`.
#[derive(Debug, Error)]
pub(crate) enum ApiError {
    /// No kept message has this id (never received, deleted, or dropped by the cap).
    #[error("no message {0:?} (deleted, dropped by --max-messages, or never received)")]
    NoMessage(String),
    /// The message has no such part.
    #[error("message {0:?} has no part {1}")]
    NoPart(String, usize),
    /// The message has no HTML part.
    #[error("message {0:?} has no HTML part")]
    NoHtml(String),
    /// The long-poll ended without a match.
    #[error("no message matched within {0:?}")]
    NoMatch(Duration),
    /// A parameter did not parse.
    #[error("bad timeout {0:?}: use a duration such as 500ms, 30s or 2m (at most 5m)")]
    BadTimeout(String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match self {
            Self::NoMessage(_) | Self::NoPart(..) | Self::NoHtml(_) => StatusCode::NOT_FOUND,
            Self::NoMatch(_) => StatusCode::REQUEST_TIMEOUT,
            Self::BadTimeout(_) => StatusCode::BAD_REQUEST,
        };
        (status, Json(serde_json::json!({ "error": self.to_string() }))).into_response()
    }
}

/// Paging and search of the list.
#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    #[serde(default)]
    start: usize,
    #[serde(default)]
    limit: Option<usize>,
    // Not `flatten`: serde_urlencoded then hands numbers over as strings and `start` fails.
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    to: Option<String>,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    text: Option<String>,
}

impl ListParams {
    fn search(&self) -> Search {
        Search {
            q: self.q.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            subject: self.subject.clone(),
            text: self.text.clone(),
        }
    }
}

/// Pages hold at most this many.
const MAX_LIMIT: usize = 1000;

/// Snapshot of the entries, newest first, taken under the lock and filtered outside it.
fn newest_first(shared: &Shared) -> Vec<Entry> {
    shared.mailbox().entries().rev().cloned().collect()
}

pub(crate) async fn list(State(shared): St, Query(p): Query<ListParams>) -> Response {
    let all = newest_first(&shared);
    let limit = p.limit.unwrap_or(50).min(MAX_LIMIT);
    let search = p.search();
    let page = if search.is_empty() {
        Page {
            total: all.len(),
            start: p.start,
            messages: all.iter().skip(p.start).take(limit).map(Item::of).collect(),
        }
    } else {
        let hit = search.matcher();
        let found: Vec<&Entry> = all.iter().filter(|e| hit(e.summary())).collect();
        Page {
            total: found.len(),
            start: p.start,
            messages: found
                .into_iter()
                .skip(p.start)
                .take(limit)
                .map(Item::of)
                .collect(),
        }
    };
    Json(page).into_response()
}

fn entry(shared: &Shared, id: &str) -> Result<Entry, ApiError> {
    shared
        .mailbox()
        .get(id)
        .cloned()
        .ok_or_else(|| ApiError::NoMessage(id.to_string()))
}

pub(crate) async fn message(State(shared): St, Path(id): Path<String>) -> Result<Response, ApiError> {
    let e = entry(&shared, &id)?;
    let mail = Mail::new(e.msg.clone());
    Ok(Json(Full::of(&e, &mail)).into_response())
}

pub(crate) async fn seen(State(shared): St, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if shared.mailbox().mark_seen(&id) {
        let _ = shared.changes.send(Change::Seen(id));
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NoMessage(id))
    }
}

pub(crate) async fn raw(State(shared): St, Path(id): Path<String>) -> Result<Response, ApiError> {
    let e = entry(&shared, &id)?;
    Ok(bytes(e.msg.data.clone(), "text/plain; charset=utf-8", None))
}

pub(crate) async fn eml(State(shared): St, Path(id): Path<String>) -> Result<Response, ApiError> {
    let e = entry(&shared, &id)?;
    let name = format!("{id}.eml");
    Ok(bytes(e.msg.data.clone(), "message/rfc822", Some(&name)))
}

/// `?inline=1` shows an image part in place (the HTML's `cid:` images) instead of a download.
#[derive(Debug, Deserialize)]
pub(crate) struct PartParams {
    #[serde(default)]
    inline: Option<String>,
}

pub(crate) async fn part(
    State(shared): St,
    Path((id, index)): Path<(String, usize)>,
    Query(p): Query<PartParams>,
) -> Result<Response, ApiError> {
    let e = entry(&shared, &id)?;
    let mail = Mail::new(e.msg.clone());
    let info = parts(&mail)
        .into_iter()
        .find(|p| p.index == index)
        .ok_or_else(|| ApiError::NoPart(id.clone(), index))?;
    let data = mail
        .parsed()
        .and_then(|p| p.parts.get(index))
        .map(|p| p.contents().to_vec())
        .unwrap_or_default();
    let name = info.name.clone().unwrap_or_else(|| format!("{id}-part{index}"));
    // A download unless an image is asked for inline: HTML or SVG shown on this origin could
    // run script (the policy every response carries forbids it too).
    let inline = p.inline.is_some() && info.content_type.starts_with("image/");
    Ok(bytes(
        data,
        &info.content_type,
        (!inline).then_some(name.as_str()),
    ))
}

/// `?images=1` lets the HTML load remote images; otherwise its policy blocks them.
#[derive(Debug, Deserialize)]
pub(crate) struct HtmlParams {
    #[serde(default)]
    images: Option<String>,
}

pub(crate) async fn html(
    State(shared): St,
    Path(id): Path<String>,
    Query(p): Query<HtmlParams>,
) -> Result<Response, ApiError> {
    let e = entry(&shared, &id)?;
    let mail = Mail::new(e.msg.clone());
    let html = mail.html().ok_or_else(|| ApiError::NoHtml(id.clone()))?;
    let html = super::cid::rewrite(&html, &id, &parts(&mail));
    let remote = matches!(p.images.as_deref(), Some("1" | "true" | "yes"));
    let img = if remote {
        "'self' data: http: https:"
    } else {
        "'self' data:"
    };
    // No script runs (sandbox without allow-scripts, and no script-src); only this origin may
    // frame it; remote fetches other than images stay blocked even when images are allowed.
    let csp = format!(
        "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; \
         style-src 'unsafe-inline'; img-src {img}; font-src data:; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'self'"
    );
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    if let Ok(v) = HeaderValue::from_str(&csp) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(r)
}

pub(crate) async fn delete(State(shared): St, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    if shared.delete(&id) {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NoMessage(id))
    }
}

pub(crate) async fn delete_all(State(shared): St) -> StatusCode {
    shared.clear();
    StatusCode::NO_CONTENT
}

/// The long-poll: the search terms, how long to wait, and an id after which to look.
#[derive(Debug, Deserialize)]
pub(crate) struct WaitParams {
    #[serde(default)]
    timeout: Option<String>,
    /// Only messages received after this one count.
    #[serde(default)]
    after: Option<String>,
    #[serde(flatten)]
    search: Search,
}

/// A long-poll never holds a request longer than this.
const MAX_WAIT: Duration = Duration::from_secs(300);

pub(crate) async fn wait(State(shared): St, Query(p): Query<WaitParams>) -> Result<Response, ApiError> {
    let timeout = match p.timeout.as_deref() {
        None => Duration::from_secs(30),
        Some(t) => match crate::fault::parse_duration(t) {
            Ok(d) if d <= MAX_WAIT => d,
            _ => return Err(ApiError::BadTimeout(t.to_string())),
        },
    };
    let hit = p.search.matcher();
    let deadline = tokio::time::Instant::now() + timeout;
    // Sequence numbers: messages kept after `after` (or all) are candidates.
    let mut looked = match &p.after {
        Some(id) => entry(&shared, id)?.seq,
        None => 0,
    };
    loop {
        let notified = shared.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let fresh: Vec<Entry> = shared.mailbox().since(looked).cloned().collect();
        for e in fresh {
            looked = e.seq;
            if hit(e.summary()) {
                return Ok(Json(Item::of(&e)).into_response());
            }
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            return Err(ApiError::NoMatch(timeout));
        }
    }
}

/// Server-sent events: `added` (the list item), `removed` (the id), `seen` (the id),
/// `cleared`, and `reset` when this listener fell behind and should reload the list.
pub(crate) async fn events(State(shared): St) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = shared.changes.subscribe();
    let stream = futures_util::stream::unfold((rx, shared), |(mut rx, shared)| async move {
        let event = match rx.recv().await {
            Ok(Change::Added(id)) => {
                let item = shared
                    .mailbox()
                    .get(&id)
                    .cloned()
                    .map(|e| serde_json::to_string(&Item::of(&e)).unwrap_or_default());
                match item {
                    Some(json) => Event::default().event("added").data(json),
                    // Already gone again: say so, so the list stays true.
                    None => Event::default().event("removed").data(id),
                }
            }
            Ok(Change::Removed(id)) => Event::default().event("removed").data(id),
            Ok(Change::Seen(id)) => Event::default().event("seen").data(id),
            Ok(Change::Cleared) => Event::default().event("cleared").data(""),
            Err(broadcast::error::RecvError::Lagged(_)) => Event::default().event("reset").data(""),
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event), (rx, shared)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A body with its type, and a download name when it should be saved rather than shown.
fn bytes(data: Vec<u8>, content_type: &str, download: Option<&str>) -> Response {
    let mut r = data.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    if let Some(name) = download {
        h.insert(header::CONTENT_DISPOSITION, disposition(name));
    }
    r
}

/// `attachment; filename="…"; filename*=UTF-8''…` with anything unsafe replaced.
fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '/' | ';') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or(HeaderValue::from_static("attachment"))
}
