//! The databases the outbox tests run against: a SQLite file in a temp dir, and a fresh
//! PostgreSQL database in the cluster `scripts/test.sh` starts (`SQUALL_TEST_POSTGRES_URL`, an
//! admin URL), created for one test and dropped after it.
//!
//! PostgreSQL tests are `#[ignore]`d (a plain `cargo test` reports them ignored, not passed);
//! `scripts/test.sh` runs them with `--include-ignored`. Run without the variable they do not
//! pass silently: they write a line to the NOT RUN log (`SQUALL_NOT_RUN_LOG`), and fail when
//! `SQUALL_PEERS_REQUIRED` says the peers should be there.

#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// The variable naming the PostgreSQL admin URL.
pub(crate) const PG_VAR: &str = "SQUALL_TEST_POSTGRES_URL";

/// One test's database.
pub(crate) struct Db {
    url: String,
    dir: Option<tempfile::TempDir>,
    /// Admin URL and database name, to drop it at the end.
    pg: Option<(String, String)>,
}

impl Db {
    /// A new SQLite file.
    pub(crate) fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self {
            url: format!("sqlite:{}", dir.path().join("queue.db").display()),
            dir: Some(dir),
            pg: None,
        }
    }

    /// A new PostgreSQL database, or `None` (recorded as NOT RUN) without the cluster.
    pub(crate) fn postgres() -> Option<Self> {
        let admin = pg_admin_url()?;
        static N: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "outbox_test_{:x}_{:x}_{}",
            std::process::id(),
            nanos,
            N.fetch_add(1, Ordering::Relaxed)
        );
        admin_sql(&admin, &format!("CREATE DATABASE {name}"));
        Some(Self {
            url: with_database(&admin, &name),
            dir: None,
            pg: Some((admin, name)),
        })
    }

    /// The outbox URL.
    pub(crate) fn url(&self) -> String {
        self.url.clone()
    }

    /// The SQLite spool directory (`None` on PostgreSQL, which keeps content in the database).
    pub(crate) fn spool(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().join("queue.db.spool"))
    }

    /// Whether this is PostgreSQL.
    pub(crate) fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            // FORCE: connections of outboxes the test leaked (or a panicking test) go too.
            admin_sql(&admin, &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// The admin URL, or `None` after recording why the test did not run.
pub(crate) fn pg_admin_url() -> Option<String> {
    if let Ok(u) = std::env::var(PG_VAR) {
        return Some(u);
    }
    let why = format!(
        "{PG_VAR} is not set: this test needs the PostgreSQL cluster that scripts/test.sh starts \
         (scripts/peers/postgres.sh)"
    );
    if std::env::var_os("SQUALL_PEERS_REQUIRED").is_some() {
        panic!("{why}");
    }
    not_run(&why);
    None
}

/// Records that the running test did not do its checks, for `scripts/test.sh`'s NOT RUN
/// summary (the file `SQUALL_NOT_RUN_LOG` names), and on stderr.
pub(crate) fn not_run(why: &str) {
    let test = std::thread::current().name().unwrap_or("?").to_string();
    let line = format!("squall-outbox::{test}: {why}\n");
    eprint!("NOT RUN: {line}");
    if let Some(log) = std::env::var_os("SQUALL_NOT_RUN_LOG") {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("SQUALL_NOT_RUN_LOG can be written");
        f.write_all(line.as_bytes())
            .expect("SQUALL_NOT_RUN_LOG can be written");
    }
}

/// `admin` with its database replaced by `name`.
pub(crate) fn with_database(admin: &str, name: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (admin, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let root = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{root}/{name}{query}")
}

/// Runs `sql` on `url`, from a thread of its own (callers may be inside a runtime).
pub(crate) fn admin_sql(url: &str, sql: &str) {
    let (url, sql) = (url.to_string(), sql.to_string());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap_or_else(|e| panic!("connecting to {url}: {e}"));
            let driver = tokio::spawn(conn);
            client
                .batch_execute(&sql)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e:?}"));
            drop(client);
            let _ = driver.await;
        });
    })
    .join()
    .unwrap();
}

/// Each named test function (`async fn NAME(db: Db)`) runs on SQLite, and on PostgreSQL as an
/// ignored test: `NAME::sqlite` and `NAME::postgres`.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(super::engines::Db::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            #[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
            async fn postgres() {
                if let Some(db) = super::engines::Db::postgres() {
                    super::$name(db).await;
                }
            }
        }
    )*};
}

/// Message `n` of a test, from app@example.org to `to`.
pub(crate) fn message_to(n: usize, to: &[&str]) -> squall::Message {
    let mut b = squall::Message::builder()
        .from("app@example.org")
        .subject(&format!("message {n}"))
        .text(&format!("body {n}"));
    for t in to {
        b = b.to(*t);
    }
    b.build().unwrap()
}

/// Message `n` of a test, to a@example.net.
pub(crate) fn message(n: usize) -> squall::Message {
    message_to(n, &["a@example.net"])
}

/// A client for the in-process `sink`, without retries (the outbox schedules them).
pub(crate) fn client(sink: &squall_sink::SinkHandle) -> squall::Client {
    squall::Client::builder_from_url(&sink.url())
        .unwrap()
        .no_retry()
        .build()
        .unwrap()
}
