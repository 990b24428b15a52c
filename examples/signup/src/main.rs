//! Runs the signup service.
//!
//! ```sh
//! squall sink &                                   # listens on 127.0.0.1:2525; or use your relay
//! SQUALL_URL='smtp://127.0.0.1:2525?tls=none' cargo run -p squall-example-signup
//! curl -d '{"email":"ann@example.org","name":"Ann"}' -H 'content-type: application/json' \
//!     http://127.0.0.1:3000/signup
//! ```

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let url = std::env::var("SQUALL_URL").unwrap_or_else(|_| "smtp://127.0.0.1:2525?tls=none".into());
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:3000".into());
    let from = std::env::var("MAIL_FROM").unwrap_or_else(|_| "Example <hello@example.org>".into());
    // No retries inside a request: a server that is down gets a 503 now, not after a minute.
    let client = match squall::Client::builder_from_url(&url).and_then(|b| b.no_retry().build()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("SQUALL_URL: {e}");
            return ExitCode::from(78);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on {listen}: {e}");
            return ExitCode::from(71);
        }
    };
    eprintln!("signup service on http://{listen}, mail through $SQUALL_URL");
    let app = squall_example_signup::app(client.clone(), &from);
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    // Mail already accepted by the pool is delivered before the process ends.
    client.shutdown().await;
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
