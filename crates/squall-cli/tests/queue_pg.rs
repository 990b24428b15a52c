//! `squall queue` on a PostgreSQL outbox: an unreachable server (exit 75, the password never
//! shown), and three `squall queue run` processes draining one shared queue of 10,000 messages
//! into one sink, each Message-ID stored exactly once.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use squall_outbox::{MessageState, Outbox};
use squall_sink::Sink;

mod common;
use common::{Run, code, not_run, text};

const MESSAGES: usize = 10_000;
const PRODUCERS: usize = 16;
const RUNNERS: usize = 3;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_postgres_exits_75_naming_the_server_not_the_password() {
    // Nothing listens on port 1 of loopback: refused at once.
    let url = "postgres://app:s3cret@127.0.0.1:1/queue";
    for cmd in [
        &["queue", "stats"][..],
        &["queue", "list"],
        &[
            "queue",
            "add",
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--body",
            "x",
        ],
    ] {
        let mut a = args(cmd);
        a.extend(args(&["--queue-url", url]));
        let o = Run::new(a.clone()).run().await;
        let err = text(&o.stderr);
        assert_eq!(code(&o), 75, "{a:?}: {err}");
        assert!(err.contains("127.0.0.1:1/queue"), "{err}");
        assert!(
            !err.contains("s3cret") && !text(&o.stdout).contains("s3cret"),
            "{err}"
        );
    }
    // A TLS setting the outbox will not honour is a mistake in the URL, found before connecting.
    let o = Run::new(args(&[
        "queue",
        "stats",
        "--queue-url",
        "postgres://app:s3cret@127.0.0.1:1/q?sslmode=verify-ca",
    ]))
    .run()
    .await;
    let err = text(&o.stderr);
    assert_eq!(code(&o), 64, "{err}");
    assert!(err.contains("sslrootcert") && !err.contains("s3cret"), "{err}");
}

/// The cluster's certificate is signed by a CA made for the test run: without it the queue
/// refuses the server (78, naming sslrootcert); with it, the same command works over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn a_certificate_from_an_unknown_ca_exits_78_naming_sslrootcert() {
    let Some(admin) = admin_url() else { return };
    let Ok(ca) = std::env::var("SQUALL_TEST_POSTGRES_CA") else {
        let why = "SQUALL_TEST_POSTGRES_CA is not set: this test needs the TLS CA of the cluster that scripts/test.sh starts";
        if std::env::var_os("SQUALL_PEERS_REQUIRED").is_some() {
            panic!("{why}");
        }
        not_run(std::thread::current().name().unwrap_or("?"), why);
        return;
    };
    let db = Database::create(&admin).await;
    let sep = if db.url.contains('?') { '&' } else { '?' };
    let untrusted = format!("{}{sep}sslmode=verify-full", db.url);
    let o = Run::new(args(&["queue", "stats", "--queue-url", &untrusted]))
        .run()
        .await;
    let err = text(&o.stderr);
    assert_eq!(code(&o), 78, "{err}");
    assert!(err.contains("sslrootcert=PATH") && err.contains("TLS"), "{err}");
    let trusted = format!("{untrusted}&sslrootcert={ca}");
    let o = Run::new(args(&["queue", "stats", "--queue-url", &trusted]))
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
}

/// The admin URL of the cluster `scripts/test.sh` starts, or `None` (recorded as NOT RUN).
fn admin_url() -> Option<String> {
    if let Ok(u) = std::env::var("SQUALL_TEST_POSTGRES_URL") {
        return Some(u);
    }
    let why = "SQUALL_TEST_POSTGRES_URL is not set: this test needs the PostgreSQL cluster that scripts/test.sh starts";
    if std::env::var_os("SQUALL_PEERS_REQUIRED").is_some() {
        panic!("{why}");
    }
    let test = std::thread::current().name().unwrap_or("?").to_string();
    not_run(&test, why);
    None
}

/// A fresh database in the cluster, dropped at the end of the test.
struct Database {
    admin: String,
    name: String,
    url: String,
}

impl Database {
    async fn create(admin: &str) -> Self {
        let name = format!(
            "queue_pg_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .subsec_nanos()
        );
        sql(admin, &format!("CREATE DATABASE {name}")).await;
        let (base, query) = admin.split_once('?').map_or((admin, ""), |(b, q)| (b, q));
        let root = &base[..base
            .rfind('/')
            .filter(|i| *i > base.find("://").unwrap() + 2)
            .unwrap_or(base.len())];
        let query = if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        };
        Self {
            admin: admin.to_string(),
            url: format!("{root}/{name}{query}"),
            name,
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(sql(
                    &admin,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ));
        })
        .join()
        .unwrap();
    }
}

async fn sql(url: &str, statement: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("connecting to the test cluster: {e}"));
    let driver = tokio::spawn(conn);
    client.batch_execute(statement).await.unwrap();
    drop(client);
    let _ = driver.await;
}

fn message_id(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))?;
    Some(line[11..].trim().trim_matches(['<', '>']).to_string())
}

/// Waits for `child` until `deadline`, killing it past that.
fn wait(mut child: Child, deadline: Instant) -> std::process::Output {
    loop {
        match child.try_wait().unwrap() {
            Some(_) => return child.wait_with_output().unwrap(),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let o = child.wait_with_output().unwrap();
                panic!("squall queue run did not finish in time: {}", text(&o.stderr));
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn an_unknown_database_exits_78_saying_so() {
    let Some(admin) = admin_url() else { return };
    let (base, _) = admin.split_once('?').unwrap_or((&admin, ""));
    let root = &base[..base.rfind('/').unwrap()];
    let url = format!("{root}/no_such_database_here");
    let o = Run::new(args(&["queue", "stats", "--queue-url", &url]))
        .run()
        .await;
    let err = text(&o.stderr);
    assert_eq!(code(&o), 78, "{err}");
    assert!(
        err.contains("no_such_database_here") && err.contains("does not exist"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn three_runner_processes_drain_one_shared_queue_each_message_once() {
    let Some(admin) = admin_url() else { return };
    let db = Database::create(&admin).await;
    let outbox = Outbox::open(&db.url).await.unwrap();
    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let o = outbox.clone();
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for n in (p..MESSAGES).step_by(PRODUCERS) {
                    let m = squall::Message::builder()
                        .from("app@example.org")
                        .to("a@example.net")
                        .subject(&format!("message {n}"))
                        .text(&format!("body {n}"))
                        .build()
                        .unwrap();
                    let id = o.enqueue(&m).await.unwrap();
                    ids.push((m.message_id().trim_matches(['<', '>']).to_string(), id));
                }
                ids
            })
        })
        .collect();
    let mut ids = HashMap::new();
    for p in producers {
        ids.extend(
            tokio::time::timeout(Duration::from_secs(300), p)
                .await
                .unwrap()
                .unwrap(),
        );
    }
    assert_eq!(ids.len(), MESSAGES);
    eprintln!("queued {MESSAGES} in {:?}", started.elapsed());

    let sink = Sink::start().await.unwrap();
    let started = Instant::now();
    let children: Vec<Child> = (0..RUNNERS)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_squall"))
                .args(["queue", "run", "--until-empty", "--json", "--workers", "2"])
                .args(["--queue-url", &db.url, "--url", &sink.url()])
                .env_remove("SQUALL_URL")
                .env_remove("SQUALL_QUEUE_URL")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| wait(c, deadline))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap();
    let mut attempts = Vec::new();
    for o in &outputs {
        assert_eq!(code(o), 0, "{}", text(&o.stderr));
        let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        attempts.push(report["attempts"].as_u64().unwrap());
    }
    eprintln!(
        "{RUNNERS} processes drained {MESSAGES} in {:?}, attempts {attempts:?}",
        started.elapsed()
    );
    assert!(
        attempts.iter().all(|a| *a > 0),
        "each process delivered some: {attempts:?}"
    );
    assert_eq!(attempts.iter().sum::<u64>(), MESSAGES as u64, "{attempts:?}");

    let mut stored: HashMap<String, usize> = HashMap::new();
    for m in sink.messages() {
        *stored.entry(message_id(&m.data).unwrap()).or_default() += 1;
    }
    assert_eq!(stored.len(), MESSAGES);
    assert!(stored.values().all(|n| *n == 1), "a Message-ID stored twice");
    assert!(ids.keys().all(|mid| stored.contains_key(mid)));
    let stats = outbox.stats().await.unwrap();
    assert_eq!(
        (stats.sent, stats.queued, stats.leased),
        (MESSAGES as u64, 0, 0),
        "{stats:?}"
    );
    let sent = outbox.list(Some(MessageState::Sent), MESSAGES + 1).await.unwrap();
    assert_eq!(sent.len(), MESSAGES);
}
