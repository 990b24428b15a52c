//! Using squall in a web service: an axum app whose `POST /signup` sends a welcome mail through
//! one shared [`Client`], and answers only once the server has taken it for every recipient.
//!
//! The shape to copy:
//! - one `Client` for the whole app, cloned into each request (it is a handle to one pool);
//! - a client built with `.no_retry()` (or a deadline), so a request does not wait out retries
//!   against a server that is down: the handler answers 503 with the reason, and the caller retries;
//! - `receipt.require_all()?`, so "accepted for some recipients" is not mistaken for success;
//! - the error's JSON shape (`squall`'s `serde` feature) passed on to the API's caller as it is.
//!
//! The tests in `tests/signup.rs` run it against an in-process `squall_sink::Sink`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{Json, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use squall::{Attachment, Client, Message};

/// The guide attached to every welcome mail.
pub const GUIDE: &[u8] = b"%PDF-1.4\n% a stand-in for the getting-started guide\n%%EOF\n";

/// What the app needs in every request.
#[derive(Clone)]
pub struct AppState {
    client: Client,
    from: Arc<str>,
    next_id: Arc<AtomicU64>,
}

/// The routes: `POST /signup` with `{"email": …, "name": …}`.
pub fn app(client: Client, from: &str) -> Router {
    let state = AppState {
        client,
        from: from.into(),
        next_id: Arc::new(AtomicU64::new(1)),
    };
    Router::new().route("/signup", post(signup)).with_state(state)
}

/// A signup request.
#[derive(Debug, Deserialize, Serialize)]
pub struct Signup {
    /// Where the welcome mail goes.
    pub email: String,
    /// Used in the greeting and the To field's display name.
    pub name: String,
}

/// The answer to a signup whose mail the server took.
#[derive(Debug, Deserialize, Serialize)]
pub struct Welcomed {
    /// The app's own id for the signup, also in the mail's `X-Signup-Id` header.
    pub signup_id: String,
    /// The mail's Message-ID, for support to find it in the server's logs.
    pub message_id: String,
}

async fn signup(State(s): State<AppState>, Json(req): Json<Signup>) -> Response {
    let signup_id = format!("su-{}", s.next_id.fetch_add(1, Ordering::Relaxed));
    let message = match welcome(&s.from, &req, &signup_id) {
        Ok(m) => m,
        // A bad address (or a CR in the name) is the caller's to fix.
        Err(e) => return (StatusCode::UNPROCESSABLE_ENTITY, Json(e)).into_response(),
    };
    let sent = s.client.send_message(&message).await;
    match sent.and_then(|receipt| receipt.require_all()) {
        Ok(_) => {
            let body = Welcomed {
                signup_id,
                message_id: message.message_id().to_string(),
            };
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        // The server refused this address for good: the user typed it wrong.
        Err(e) if e.is_recipients() && e.is_permanent() => {
            (StatusCode::UNPROCESSABLE_ENTITY, Json(e)).into_response()
        }
        // Anything else is ours or the server's: the caller may try again later.
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, Json(e)).into_response(),
    }
}

/// The welcome mail: a text and an HTML part, the guide attached, and the signup's id in a header.
pub fn welcome(from: &str, req: &Signup, signup_id: &str) -> Result<Message, squall::Error> {
    Message::builder()
        .from(from)
        .to((req.name.as_str(), req.email.as_str()))
        .subject(&format!("Welcome, {}", req.name))
        .text(&format!(
            "Hello {},\n\nyour account is ready. The guide is attached.\n",
            req.name
        ))
        .html(&format!(
            "<p>Hello <b>{}</b>,</p><p>your account is ready. The guide is attached.</p>",
            escape_html(&req.name)
        ))
        .header("X-Signup-Id", signup_id)
        .attach(Attachment::new("getting-started.pdf", "application/pdf", GUIDE)?)
        .build()
}

/// Names come from users: never put them in HTML unescaped.
fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_a_name_is_escaped_in_the_html() {
        assert_eq!(
            escape_html("<b>Bo & \"Al\"</b>"),
            "&lt;b&gt;Bo &amp; &quot;Al&quot;&lt;/b&gt;"
        );
    }
}
