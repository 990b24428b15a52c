//! The catcher's HTTP side (feature `web`): a JSON API under `/api/v1` (see `openapi.yaml`),
//! live changes as server-sent events, and a page served from the binary.

mod api;
mod cid;
mod guard;
mod page;
mod release;
mod search;
mod view;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post, put};
use thiserror::Error;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::WebConfig;
use crate::shared::Shared;

pub(crate) use release::OnRelease;
pub use release::{Release, ReleaseOutcome};

/// Why the web side did not start.
#[derive(Debug, Error)]
pub enum WebError {
    /// A non-loopback address needs a password or an explicit opt-out.
    #[error(
        "will not serve the mail page on {0}, which other machines can reach, without a password: \
         give one (--web-auth, SinkBuilder::web_password) or accept the risk (--web-insecure, \
         SinkBuilder::web_insecure)"
    )]
    NeedsPassword(SocketAddr),
    /// The password is empty.
    #[error("the web password is empty")]
    EmptyPassword,
}

impl From<WebError> for io::Error {
    fn from(e: WebError) -> Self {
        Self::new(io::ErrorKind::InvalidInput, e)
    }
}

/// Binds and serves until `stopped` changes; returns the bound address.
pub(crate) async fn serve(
    cfg: WebConfig,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) -> io::Result<SocketAddr> {
    let loopback = cfg.addr.ip().is_loopback();
    if cfg.password.as_deref() == Some("") {
        return Err(WebError::EmptyPassword.into());
    }
    if !loopback && cfg.password.is_none() && !cfg.insecure {
        return Err(WebError::NeedsPassword(cfg.addr).into());
    }
    let guard = Arc::new(guard::Guard {
        loopback,
        password: cfg.password,
    });
    let listener = TcpListener::bind(cfg.addr).await?;
    let addr = listener.local_addr()?;
    let app = router(shared, cfg.release).layer(axum::middleware::from_fn_with_state(guard, guard::guard));
    tokio::spawn(async move {
        let stop = async move {
            let _ = stopped.wait_for(|s| *s).await;
        };
        let _ = axum::serve(listener, app).with_graceful_shutdown(stop).await;
    });
    Ok(addr)
}

fn router(shared: Arc<Shared>, hook: Option<OnRelease>) -> Router {
    Router::new()
        .route("/", get(page::index))
        .route("/app.js", get(page::script))
        .route("/app.css", get(page::style))
        .route("/api/v1/messages", get(api::list).delete(api::delete_all))
        .route("/api/v1/messages/{id}", get(api::message).delete(api::delete))
        .route("/api/v1/messages/{id}/seen", put(api::seen))
        .route(
            "/api/v1/messages/{id}/release",
            post(move |state, path, body| release::release(state, path, hook.clone(), body)),
        )
        .route("/api/v1/messages/{id}/raw", get(api::raw))
        .route("/api/v1/messages/{id}/eml", get(api::eml))
        .route("/api/v1/messages/{id}/html", get(api::html))
        .route("/api/v1/messages/{id}/parts/{index}", get(api::part))
        .route("/api/v1/wait", get(api::wait))
        .route("/api/v1/events", get(api::events))
        .with_state(shared)
}
