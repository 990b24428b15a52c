//! `squall sendmail --queue` and an account's `queue = true`: the msmtpq use case. Mail handed
//! over while the relay is unreachable waits in the durable queue; `squall queue run` sends it.

use squall_sink::Sink;

mod common;
use common::{Run, code, queue_url, text};

const MESSAGE: &str = "From: Cron Daemon <cron@example.org>\nTo: admin@example.org\nBcc: audit@example.org\nSubject: backup\n\nbackup done\n";

async fn run_queue(url: &str, sink: &str) -> std::process::Output {
    Run::new([
        "queue",
        "run",
        "--queue-url",
        url,
        "--url",
        sink,
        "--until-empty",
        "--json",
    ])
    .run()
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sendmail_queue_needs_no_server_and_queue_run_delivers_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = queue_url(&dir);
    // No SQUALL_URL, no accounts file: queueing works anyway, silently.
    let o = Run::new(["sendmail", "--queue", "--queue-url", &url, "-t", "-i"])
        .stdin(MESSAGE)
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "sendmail is silent on success: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
    // Without --queue the same command has nowhere to send, and says that --queue would do.
    let o = Run::new(["sendmail", "-t", "-i"]).stdin(MESSAGE).run().await;
    assert_eq!(code(&o), 78, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("--queue"), "{}", text(&o.stderr));

    let sink = Sink::start().await.unwrap();
    let o = run_queue(&url, &sink.url()).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["stats"]["sent"], 1, "{v}");
    let m = sink.messages().pop().unwrap();
    assert_eq!(m.mail_from, "cron@example.org");
    assert_eq!(m.rcpt_to, ["admin@example.org", "audit@example.org"]);
    let data = text(&m.data);
    assert!(
        data.contains("Subject: backup\r\n") && !data.contains("Bcc"),
        "{data}"
    );
    assert!(data.contains("Message-ID: <"), "{data}");
    let o = run_queue(&url, &sink.url()).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(sink.delivered(), 1, "sent once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_with_queue_true_queues_without_reaching_its_relay_or_reading_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = queue_url(&dir);
    // Port 9 on loopback: nothing listens there. The password command fails: queueing must not
    // need it (a cron job may run where the keyring is locked).
    let accounts = r#"
[accounts.relay]
server = "127.0.0.1:9"
tls = "none"
user = "me@example.org"
password_command = "exit 3"
from = "Me <me@example.org>"
queue = true
"#;
    let o = Run::new(["sendmail", "-i", "ops@example.org"])
        .accounts(accounts)
        .env("SQUALL_QUEUE_URL", &url)
        .stdin("Subject: disk\n\nfull\n")
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{}", text(&o.stderr));
    let o = Run::new(["queue", "list", "--queue-url", &url, "--json"])
        .run()
        .await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{v}");
    assert_eq!(rows[0]["state"], "queued");
    assert_eq!(rows[0]["sender"], "me@example.org", "the account's from: {v}");

    let sink = Sink::start().await.unwrap();
    let o = run_queue(&url, &sink.url()).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let m = sink.messages().pop().unwrap();
    assert_eq!(m.rcpt_to, ["ops@example.org"]);
    assert!(
        text(&m.data).contains("From: Me <me@example.org>\r\n"),
        "{}",
        text(&m.data)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_that_cannot_be_written_exits_75_and_keeps_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no/such/dir/q.db");
    let o = Run::new(["sendmail", "--queue", "-i", "ops@example.org"])
        .env("SQUALL_QUEUE_URL", format!("sqlite:{}", missing.display()))
        .stdin("Subject: x\n\ny\n")
        .run()
        .await;
    assert_eq!(code(&o), 75, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("cannot open the outbox database"),
        "{}",
        text(&o.stderr)
    );
    assert!(!dir.path().join("no").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_too_large_for_memory_streams_from_its_temporary_file_into_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let url = queue_url(&dir);
    // Past sendmail's 4 MiB in memory: it waits in a temporary file, then in the queue's spool.
    let line = "0123456789abcdef".repeat(4) + "\n";
    let body = line.repeat((5 << 20) / line.len());
    let message = format!("From: a@example.org\nSubject: big\n\n{body}");
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let o = Run::new(["sendmail", "--queue", "--queue-url", &url, "-i", "b@example.org"])
        .env("TMPDIR", &tmp)
        .stdin(message)
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "the temporary file is gone"
    );
    let sink = Sink::start().await.unwrap();
    let o = run_queue(&url, &sink.url()).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let m = sink.messages().pop().unwrap();
    assert!(m.data.len() > 5 << 20, "{}", m.data.len());
    assert!(text(&m.data).ends_with("0123456789abcdef\r\n"));
}

/// Stopped while it reads: nothing is queued, the temporary file is gone, and the caller hears
/// "try again" (75).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopped_while_reading_queues_nothing() {
    use std::io::Write;
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let db = dir.path().join("q.db");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(["sendmail", "--queue", "-t"])
        .env_remove("SQUALL_URL")
        .env("SQUALL_QUEUE_URL", format!("sqlite:{}", db.display()))
        .env("TMPDIR", &tmp)
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"To: b@example.org\n\n").unwrap();
    stdin.write_all(&vec![b'z'; 8 << 20]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_dir(&tmp).unwrap().count() == 0 {
        assert!(Instant::now() < deadline, "no temporary file appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("still running 20 s after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(code(&o), 75, "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_dir(&tmp).unwrap().count(),
        0,
        "the temporary file is deleted"
    );
    let o = Run::new(["queue", "stats", "--json"])
        .env("SQUALL_QUEUE_URL", format!("sqlite:{}", db.display()))
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["queued"], 0, "{v}");
}
