//! `squall queue …` and `squall send --queue` as a user runs them, against the in-process sink.

use squall_sink::Sink;

mod common;
use common::{Run, code, queue_url, text};

fn run_args(url: &str, sink: &str, extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = ["queue", "run", "--queue-url", url, "--url", sink, "--until-empty"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// `squall queue add` into `url`, from a@ to b@, with `extra` flags.
fn add_args(url: &str, extra: &[&str]) -> Vec<String> {
    let mut v = args(&[
        "queue",
        "add",
        "--queue-url",
        url,
        "--from",
        "a@example.org",
        "--to",
        "b@example.org",
    ]);
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_with_add_send_queue_and_raw_then_run_delivers_each_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = queue_url(&dir);
    let sink = Sink::start().await.unwrap();
    let o = Run::new(add_args(&url, &["--subject", "one", "--body", "first"]))
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).starts_with("queued as 1"), "{}", text(&o.stdout));
    let o = Run::new(args(&[
        "send",
        "--queue",
        "--queue-url",
        &url,
        "--from",
        "a@example.org",
        "--to",
        "c@example.org",
        "--body",
        "second",
        "--json",
    ]))
    .run()
    .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["queued"], 2);
    let raw = dir.path().join("m.eml");
    std::fs::write(&raw, "From: a@example.org\r\nSubject: raw\r\n\r\nthird\r\n").unwrap();
    let o = Run::new(add_args(&url, &["--raw-file", raw.to_str().unwrap()]))
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(sink.delivered(), 0, "queueing sends nothing");

    let o = Run::new(run_args(&url, &sink.url(), &["--json", "--workers", "2"]))
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["attempts"].as_u64(), v["stats"]["sent"].as_u64()),
        (Some(3), Some(3)),
        "{v}"
    );
    assert_eq!(sink.delivered(), 3);
    let bodies: Vec<String> = sink.messages().iter().map(|m| text(&m.data)).collect();
    for want in ["first", "second", "third"] {
        assert_eq!(
            bodies.iter().filter(|b| b.contains(want)).count(),
            1,
            "{bodies:?}"
        );
    }
    // A second run finds nothing to do.
    let o = Run::new(run_args(&url, &sink.url(), &[])).run().await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(sink.delivered(), 3);

    let o = Run::new(args(&["queue", "list", "--queue-url", &url, "--json"]))
        .run()
        .await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 3);
    assert!(v.as_array().unwrap().iter().all(|m| m["state"] == "sent"), "{v}");
    let o = Run::new(args(&["queue", "show", "--queue-url", &url, "2"]))
        .run()
        .await;
    assert!(
        text(&o.stdout).contains("c@example.org accepted: 250"),
        "{}",
        text(&o.stdout)
    );
    let o = Run::new(args(&["queue", "purge", "--queue-url", &url]))
        .run()
        .await;
    assert_eq!(text(&o.stdout).trim(), "3 finished message(s) deleted");
    let o = Run::new(args(&["queue", "stats", "--queue-url", &url, "--json"]))
        .run()
        .await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["sent"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_retry_and_show_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let url = queue_url(&dir);
    let o = Run::new(add_args(&url, &["--body", "x"])).run().await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let o = Run::new(args(&["queue", "cancel", "--queue-url", &url, "1"]))
        .run()
        .await;
    assert_eq!((code(&o), text(&o.stdout).trim()), (0, "message 1: cancelled"));
    let o = Run::new(args(&["queue", "retry", "--queue-url", &url, "1"]))
        .run()
        .await;
    assert_eq!(code(&o), 64);
    assert!(
        text(&o.stderr).contains("message 1 is cancelled"),
        "{}",
        text(&o.stderr)
    );
    let o = Run::new(args(&["queue", "show", "--queue-url", &url, "7"]))
        .run()
        .await;
    assert_eq!(code(&o), 64);
    assert!(
        text(&o.stderr).contains("no queued message has id 7"),
        "{}",
        text(&o.stderr)
    );
    let o = Run::new(args(&[
        "queue",
        "list",
        "--queue-url",
        &url,
        "--state",
        "cancelled",
    ]))
    .run()
    .await;
    assert!(text(&o.stdout).contains("cancelled"), "{}", text(&o.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_exits_75_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/q.db");
    let url = format!("sqlite:{}", missing.display());
    let o = Run::new(add_args(&url, &["--body", "x"])).run().await;
    assert_eq!(code(&o), 75, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("cannot open the outbox database"),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.path().join("no").exists());
    // A file that is not a queue is named, refused (78) and left as it was.
    let junk = dir.path().join("junk.db");
    std::fs::write(&junk, b"hello, not a database").unwrap();
    let o = Run::new(args(&[
        "queue",
        "stats",
        "--queue-url",
        &format!("sqlite:{}", junk.display()),
    ]))
    .run()
    .await;
    assert_eq!(code(&o), 78, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("junk.db is not a squall outbox"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(&junk).unwrap(), b"hello, not a database");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_comes_from_the_environment_or_the_xdg_state_directory() {
    let dir = tempfile::tempdir().unwrap();
    let add = args(&[
        "queue",
        "add",
        "--from",
        "a@example.org",
        "--to",
        "b@example.org",
        "--body",
        "x",
    ]);
    let o = Run::new(add.clone())
        .env("SQUALL_QUEUE_URL", queue_url(&dir))
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(dir.path().join("q.db").exists());
    let state = dir.path().join("state");
    let o = Run::new(add)
        .env("SQUALL_QUEUE_URL", "")
        .env("XDG_STATE_HOME", &state)
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(state.join("squall/queue.db").exists());
}

/// With no --queue-url, the queue is SQUALL_QUEUE_URL, else the accounts file's `queue_url`
/// (the default file, or a command's --config), else the file under XDG_STATE_HOME.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_url_comes_from_the_environment_then_the_accounts_file() {
    let dir = tempfile::tempdir().unwrap();
    let from_file = dir.path().join("from-file.db");
    let toml = format!("queue_url = \"sqlite:{}\"\n", from_file.display());
    let add = |extra: &[&str]| {
        let mut v = args(&["queue", "add", "--from", "a@example.org", "--to", "b@example.org"]);
        v.extend(args(extra));
        v
    };

    let o = Run::new(add(&["--body", "one"])).accounts(&toml).run().await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("from-file.db"), "{}", text(&o.stdout));
    let o = Run::new(args(&["queue", "stats", "--json"]))
        .accounts(&toml)
        .run()
        .await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["queued"], 1, "{v}");

    // The environment wins over the file.
    let env_url = queue_url(&dir);
    let o = Run::new(add(&["--body", "two"]))
        .accounts(&toml)
        .env("SQUALL_QUEUE_URL", &env_url)
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(!text(&o.stdout).contains("from-file.db"), "{}", text(&o.stdout));

    // A file given with --config is read instead of the default one.
    let other = dir.path().join("other.toml");
    let other_db = dir.path().join("other.db");
    std::fs::write(&other, format!("queue_url = \"sqlite:{}\"\n", other_db.display())).unwrap();
    let o = Run::new(add(&["--body", "three", "--config", other.to_str().unwrap()]))
        .accounts(&toml)
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("other.db"), "{}", text(&o.stdout));

    // A broken file is an error naming it (exit 78), not a queue silently elsewhere.
    let o = Run::new(args(&["queue", "stats"]))
        .accounts("queue_url = \"\"\n")
        .run()
        .await;
    assert_eq!(code(&o), 78, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("queue_url"), "{}", text(&o.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_run_without_a_server_says_how_to_name_one() {
    let dir = tempfile::tempdir().unwrap();
    let url = queue_url(&dir);
    let o = Run::new(args(&["queue", "run", "--queue-url", &url, "--until-empty"]))
        .run()
        .await;
    assert_eq!(code(&o), 64, "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stderr).trim(),
        "squall: queue run needs a server to send through: an accounts file, or --server, --url, \
         --account, or SQUALL_URL"
    );
}
