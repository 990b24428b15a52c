//! The servers the clients are measured against, and how to count what each one stored.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use squall_bench::peers::{free_port, is_root, repo_root, script, smtp_sink_count};
use squall_sink::{Sink, SinkHandle};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServerKind {
    /// Postfix smtp-sink: PIPELINING, no CHUNKING.
    SmtpSink,
    /// A Postfix daemon: PIPELINING and CHUNKING, queueing to a Maildir.
    Postfix,
    /// squall's own sink, in this process: PIPELINING and CHUNKING.
    SquallSink,
}

impl ServerKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SmtpSink => "smtp-sink",
            Self::Postfix => "postfix",
            Self::SquallSink => "squall-sink",
        }
    }
}

enum Counter {
    /// smtp-sink's `-c` counters in its log.
    SinkLog(PathBuf),
    /// Files in a Maildir's `new`.
    Maildir(PathBuf),
    InProcess(SinkHandle),
}

pub(crate) struct Server {
    pub(crate) kind: ServerKind,
    pub(crate) addr: SocketAddr,
    counter: Counter,
    port: u16,
}

/// Starts smtp-sink, the Postfix daemon (as root only) and squall-sink.
pub(crate) async fn start_all(root: &Path) -> Vec<Server> {
    let mut servers = Vec::new();
    let port = free_port();
    // No dump: smtp-sink only counts (its -c counters go to its log).
    assert!(
        script(
            root,
            "smtp-sink.sh",
            &["start".into(), port.to_string(), "-".into()]
        ),
        "smtp-sink did not start"
    );
    servers.push(Server {
        kind: ServerKind::SmtpSink,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        counter: Counter::SinkLog(root.join(format!("run/smtp-sink-{port}.log"))),
        port,
    });
    if is_root() {
        let (mx, sub, smtps) = (free_port(), free_port(), free_port());
        if script(
            root,
            "postfix.sh",
            &["start".into(), mx.to_string(), sub.to_string(), smtps.to_string()],
        ) {
            let base = std::fs::read_to_string(root.join("run/postfix.base")).unwrap_or_default();
            servers.push(Server {
                kind: ServerKind::Postfix,
                addr: SocketAddr::from(([127, 0, 0, 1], mx)),
                counter: Counter::Maildir(PathBuf::from(base.trim()).join("mail/maildir/new")),
                port: mx,
            });
        } else {
            eprintln!("squall-bench: the Postfix daemon did not start; its column is left out");
        }
    } else {
        eprintln!("squall-bench: not root, so no Postfix daemon; its column is left out");
    }
    let sink = Sink::builder()
        .keep_messages(false)
        .start()
        .await
        .expect("squall-sink starts");
    servers.push(Server {
        kind: ServerKind::SquallSink,
        addr: sink.addr(),
        port: sink.addr().port(),
        counter: Counter::InProcess(sink),
    });
    servers
}

pub(crate) async fn stop_all(servers: Vec<Server>) {
    let root = repo_root();
    for s in servers {
        match s.kind {
            ServerKind::SmtpSink => {
                script(&root, "smtp-sink.sh", &["stop".into(), s.port.to_string()]);
            }
            ServerKind::Postfix => {
                script(&root, "postfix.sh", &["stop".into()]);
            }
            ServerKind::SquallSink => drop(s),
        }
    }
}

impl Server {
    /// Messages the server has stored (accepted, for smtp-sink) so far.
    pub(crate) fn stored(&self) -> u64 {
        match &self.counter {
            Counter::SinkLog(path) => smtp_sink_count(path),
            Counter::Maildir(dir) => std::fs::read_dir(dir).map(|d| d.count() as u64).unwrap_or(0),
            Counter::InProcess(sink) => sink.delivered(),
        }
    }

    /// Waits until the server has stored `n` in all; more than `n` is an error too.
    pub(crate) fn wait_stored(&self, n: u64, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        loop {
            let got = self.stored();
            if got == n {
                return Ok(());
            }
            if got > n {
                return Err(format!(
                    "{} stored {got} messages, {} more than were sent",
                    self.kind.name(),
                    got - n
                ));
            }
            if Instant::now() > deadline {
                return Err(format!("{} stored {got} of {n} messages", self.kind.name()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
