//! With the `tracing` feature: a span per connection and per message, events for outcomes, the
//! dialog at debug level — and no secret anywhere in them (issue 14). Run by scripts/test.sh as
//! `cargo test -p squall --features tracing --test tracing`.
#![cfg(feature = "tracing")]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use squall::{Client, Tls};
use squall_sink::Sink;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

/// Everything the subscriber saw, as text: `span NAME k=v …`, `record k=v`, `event k=v …`.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Seen {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: Context<'_, S>) {
        let mut f = Fields(format!("span {}", attrs.metadata().name()));
        attrs.record(&mut f);
        self.0.lock().unwrap().push(f.0);
    }

    fn on_record(&self, _id: &Id, values: &Record<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields("record".into());
        values.record(&mut f);
        self.0.lock().unwrap().push(f.0);
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let mut f = Fields(format!("event {}", event.metadata().level()));
        event.record(&mut f);
        self.0.lock().unwrap().push(f.0);
    }
}

const PASSWORD: &str = "s3cret-hunter2-in-no-log";

#[tokio::test]
async fn spans_and_events_exist_and_hold_no_secret() {
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry().with(seen.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let sink = Sink::builder()
        .user("joe", PASSWORD)
        .auth_before_tls(true)
        .start()
        .await
        .unwrap();
    let c = Client::builder("127.0.0.1")
        .port(sink.addr().port())
        .tls(Tls::None)
        .credentials("joe", PASSWORD)
        .mechanism(squall::Mechanism::from_name("PLAIN"))
        .allow_insecure_auth(true)
        .build()
        .unwrap();
    c.send(
        "a@example.org",
        ["b@example.net", "c@example.net"],
        "Subject: hi\r\n\r\nbody\r\n",
    )
    .await
    .unwrap();
    c.shutdown().await;
    let lines = seen.0.lock().unwrap().clone();
    let all = lines.join("\n");
    let server = sink.addr().to_string();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("span connection") && l.contains(&server)),
        "{all}"
    );
    assert!(lines.iter().any(|l| l == "record auth=\"PLAIN\""), "{all}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("span message") && l.contains("recipients=2")),
        "{all}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("event INFO") && l.contains("delivered")),
        "{all}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("event DEBUG") && l.contains("MAIL FROM")),
        "{all}"
    );
    assert!(
        all.contains("AUTH PLAIN"),
        "the AUTH command shows, redacted: {all}"
    );
    // The password, and its base64 forms in the SASL exchange, appear nowhere.
    let b64 = "AGpvZQBzM2NyZXQtaHVudGVyMi1pbi1uby1sb2c";
    assert!(!all.contains(PASSWORD) && !all.contains(b64), "{all}");
}
