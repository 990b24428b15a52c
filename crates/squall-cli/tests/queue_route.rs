//! Each queued message goes out through the account that queued it (its route): two accounts
//! with two relays (two in-process sinks), queued with `sendmail --queue` and `send --queue`,
//! then one `squall queue run` without server flags.

use std::path::Path;

use squall_sink::{Sink, SinkHandle};

mod common;
use common::{Run, code, queue_url, text};

/// An account of the accounts file that sends to `sink` in plain text.
fn account(name: &str, sink: &SinkHandle) -> String {
    format!(
        "[accounts.{name}]\nserver = \"{}\"\ntls = \"none\"\nfrom = \"{name}@example.org\"\n",
        sink.addr()
    )
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// `squall sendmail --account NAME --queue` to `rcpt`.
async fn sendmail_queue(config: &Path, url: &str, name: &str, rcpt: &str) {
    let o = Run::new([
        "sendmail",
        "--config",
        config.to_str().unwrap(),
        "--account",
        name,
        "--queue",
        "-i",
        rcpt,
    ])
    .env("SQUALL_QUEUE_URL", url)
    .stdin(format!("Subject: from {name}\n\nbody\n"))
    .run()
    .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
}

/// `squall send --queue` to `rcpt` with `server` flags (`--account b`, `--server H:P`, …).
async fn send_queue(config: &Path, url: &str, server: &[&str], rcpt: &str) {
    let mut a = s(&[
        "send",
        "--queue",
        "--config",
        config.to_str().unwrap(),
        "--queue-url",
        url,
    ]);
    a.extend(s(server));
    a.extend(s(&["--from", "x@example.org", "--to", rcpt, "--body", "hi"]));
    let o = Run::new(a).run().await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
}

async fn queue_run(config: &Path, url: &str, extra: &[&str]) {
    let mut a = s(&[
        "queue",
        "run",
        "--config",
        config.to_str().unwrap(),
        "--queue-url",
        url,
        "--until-empty",
    ]);
    a.extend(s(extra));
    let o = Run::new(a).run().await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
}

async fn rows(url: &str) -> Vec<serde_json::Value> {
    let o = Run::new(["queue", "list", "--queue-url", url, "--json"])
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    serde_json::from_slice::<serde_json::Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn rcpts(sink: &SinkHandle) -> Vec<String> {
    let mut v: Vec<String> = sink.messages().iter().map(|m| m.rcpt_to.join(",")).collect();
    v.sort();
    v
}

/// Queues one message through account a (sendmail), two through b (sendmail, send), one with
/// `--server` (no route).
async fn queue_four(config: &Path, url: &str, other: &SinkHandle) {
    sendmail_queue(config, url, "a", "ra@example.net").await;
    sendmail_queue(config, url, "b", "rb@example.net").await;
    send_queue(config, url, &["--account", "b"], "rb2@example.net").await;
    send_queue(
        config,
        url,
        &["--server", &other.addr().to_string(), "--tls", "none"],
        "rn@example.net",
    )
    .await;
}

/// A queue holding [`queue_four`]'s messages, an accounts file with accounts `a` and `b` (no
/// default) on sinks of their own, and a third sink for `--server`.
struct Queued {
    _dir: tempfile::TempDir,
    url: String,
    config: std::path::PathBuf,
    a: SinkHandle,
    b: SinkHandle,
    other: SinkHandle,
}

impl Queued {
    async fn four() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = queue_url(&dir);
        let (a, b, other) = (
            Sink::start().await.unwrap(),
            Sink::start().await.unwrap(),
            Sink::start().await.unwrap(),
        );
        let config = dir.path().join("config.toml");
        std::fs::write(&config, account("a", &a) + &account("b", &b)).unwrap();
        queue_four(&config, &url, &other).await;
        Self {
            _dir: dir,
            url,
            config,
            a,
            b,
            other,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_message_goes_through_the_account_that_queued_it() {
    // Two accounts and no default: a message queued without an account has nowhere to go.
    let Queued {
        _dir,
        url,
        config,
        a,
        b,
        other,
    } = Queued::four().await;
    let routes: Vec<_> = rows(&url).await.iter().map(|r| r["route"].clone()).collect();
    assert_eq!(
        routes,
        [
            serde_json::json!("a"),
            "b".into(),
            "b".into(),
            serde_json::Value::Null
        ]
    );

    queue_run(&config, &url, &[]).await;
    assert_eq!(rcpts(&a), ["ra@example.net"]);
    assert_eq!(rcpts(&b), ["rb2@example.net", "rb@example.net"]);
    assert_eq!(other.delivered(), 0);
    let left = rows(&url).await;
    let unrouted = &left[3];
    assert_eq!(unrouted["state"], "queued", "{unrouted}");
    let why = unrouted["last_error"].as_str().unwrap();
    assert!(
        why.starts_with(
            "queued without an account: run `squall queue run --server …` or set a default account"
        ),
        "{why}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_named_on_the_command_line_takes_everything() {
    let Queued {
        _dir,
        url,
        config,
        a,
        b,
        other,
    } = Queued::four().await;
    queue_run(
        &config,
        &url,
        &["--server", &other.addr().to_string(), "--tls", "none"],
    )
    .await;
    assert_eq!(other.delivered(), 4);
    assert_eq!((a.delivered(), b.delivered()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_whose_account_was_removed_is_deferred_and_named() {
    let Queued {
        _dir,
        url,
        config,
        a,
        b,
        other,
    } = Queued::four().await;
    // b is gone; a is now the default, which takes the message queued without an account.
    std::fs::write(&config, format!("default = \"a\"\n{}", account("a", &a))).unwrap();
    queue_run(&config, &url, &[]).await;
    assert_eq!(rcpts(&a), ["ra@example.net", "rn@example.net"]);
    assert_eq!((b.delivered(), other.delivered()), (0, 0));
    let o = Run::new(["queue", "show", "--queue-url", &url, "2"]).run().await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let why = format!("account b is not in the accounts file ({})", config.display());
    assert!(
        out.contains("queued") && out.contains("account: b") && out.contains(&why),
        "{out}"
    );
}
