//! Tracing (the `tracing` feature): one span per connection (server, then TLS and the AUTH
//! mechanism once known), one per message (recipients, size), events for outcomes, and the
//! dialog at debug level, taken from the session's transcript, which never holds a secret.
//!
//! Without the feature these are no-ops the compiler removes, so the driver and the pool call
//! them unconditionally.

#[cfg(feature = "tracing")]
mod imp {
    use std::future::Future;

    use squall_proto::session::{Direction, TranscriptLine};
    use tracing::Instrument as _;
    use tracing::field::Empty;

    use crate::error::Error;
    use crate::tls::TlsInfo;

    pub(crate) type Span = tracing::Span;

    pub(crate) fn connection(server: &str) -> Span {
        tracing::info_span!(target: "squall", "connection", server, tls = Empty, auth = Empty)
    }

    pub(crate) fn instrument<F: Future>(future: F, span: Span) -> impl Future<Output = F::Output> {
        future.instrument(span)
    }

    /// Whether the dialog should be recorded for debug events.
    pub(crate) fn wants_dialog() -> bool {
        tracing::enabled!(target: "squall", tracing::Level::DEBUG)
    }

    pub(crate) fn tls(span: &Span, info: &TlsInfo) {
        span.record("tls", tracing::field::display(info));
    }

    pub(crate) fn authenticated(span: &Span, mechanism: &str) {
        span.record("auth", mechanism);
    }

    pub(crate) fn dialog(line: &TranscriptLine) {
        let who = match line.direction {
            Direction::Client => "client",
            Direction::Server => "server",
            Direction::Info => "info",
        };
        tracing::debug!(target: "squall", who, "{}", line.text);
    }

    pub(crate) fn message(parent: &Span, recipients: usize, size: Option<u64>) -> Span {
        tracing::info_span!(target: "squall", parent: parent, "message", recipients, size)
    }

    pub(crate) fn delivered(span: &Span, accepted: usize, refused: usize, reply: &str) {
        span.in_scope(|| tracing::info!(target: "squall", accepted, refused, "delivered: {reply}"));
    }

    pub(crate) fn failed(span: &Span, e: &Error) {
        span.in_scope(|| {
            tracing::warn!(target: "squall", stage = %e.stage(), kind = %e.kind(), "failed: {}", e.summary())
        });
    }
}

#[cfg(not(feature = "tracing"))]
mod imp {
    use std::future::Future;

    use squall_proto::session::TranscriptLine;

    use crate::error::Error;
    use crate::tls::TlsInfo;

    #[derive(Clone, Debug, Default)]
    pub(crate) struct Span;

    pub(crate) fn connection(_server: &str) -> Span {
        Span
    }

    pub(crate) fn instrument<F: Future>(future: F, _span: Span) -> F {
        future
    }

    pub(crate) fn wants_dialog() -> bool {
        false
    }

    pub(crate) fn tls(_span: &Span, _info: &TlsInfo) {}

    pub(crate) fn authenticated(_span: &Span, _mechanism: &str) {}

    pub(crate) fn dialog(_line: &TranscriptLine) {}

    pub(crate) fn message(_parent: &Span, _recipients: usize, _size: Option<u64>) -> Span {
        Span
    }

    pub(crate) fn delivered(_span: &Span, _accepted: usize, _refused: usize, _reply: &str) {}

    pub(crate) fn failed(_span: &Span, _e: &Error) {}
}

pub(crate) use imp::*;
