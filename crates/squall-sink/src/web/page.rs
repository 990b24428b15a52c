//! The page: one HTML file, one script and one style sheet, compiled into the binary so the
//! catcher works offline and needs no build step.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

fn asset(body: &'static str, content_type: &'static str) -> Response {
    let mut r = ([(header::CONTENT_TYPE, content_type)], body).into_response();
    // Only this origin's script and style; frames only from this origin (the mail's HTML).
    r.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
        ),
    );
    r
}

pub(crate) async fn index() -> Response {
    asset(include_str!("assets/index.html"), "text/html; charset=utf-8")
}

pub(crate) async fn script() -> Response {
    asset(include_str!("assets/app.js"), "text/javascript; charset=utf-8")
}

pub(crate) async fn style() -> Response {
    asset(include_str!("assets/app.css"), "text/css; charset=utf-8")
}
