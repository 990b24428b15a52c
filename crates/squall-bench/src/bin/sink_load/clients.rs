//! The load generator's clients: idle ones, streaming ones, a normal one and a slowloris.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader as AsyncBufReader};
use tokio::net::TcpStream;

const MIB: u64 = 1024 * 1024;
/// The bench's own bound on any single wait.
const WAIT: Duration = Duration::from_secs(30);

/// A line-at-a-time SMTP client with a bound on every wait.
struct Smtp {
    r: AsyncBufReader<tokio::net::tcp::OwnedReadHalf>,
    w: tokio::net::tcp::OwnedWriteHalf,
}

impl Smtp {
    async fn connect(addr: &str) -> Result<Self, String> {
        let s = tokio::time::timeout(WAIT, TcpStream::connect(addr))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| format!("connect: {e}"))?;
        let (r, w) = s.into_split();
        let mut c = Self {
            r: AsyncBufReader::new(r),
            w,
        };
        c.expect("220").await?;
        Ok(c)
    }

    /// Reads a whole reply; `Err` unless it starts with `code`.
    async fn expect(&mut self, code: &str) -> Result<String, String> {
        let reply = self.reply().await?;
        if reply.starts_with(code) {
            Ok(reply)
        } else {
            Err(format!("expected {code}, got {reply:?}"))
        }
    }

    async fn reply(&mut self) -> Result<String, String> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = tokio::time::timeout(WAIT, self.r.read_line(&mut line))
                .await
                .map_err(|_| "no reply in time".to_string())?
                .map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return Ok(line.trim_end().to_string());
            }
        }
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        tokio::time::timeout(WAIT, self.w.write_all(bytes))
            .await
            .map_err(|_| "write timed out".to_string())?
            .map_err(|e| e.to_string())
    }

    async fn cmd(&mut self, line: &str, code: &str) -> Result<String, String> {
        self.send(format!("{line}\r\n").as_bytes()).await?;
        self.expect(code).await
    }
}

/// Holds a connection open until `stop`, with a NOOP every `every` to stay under the command
/// time limit.
pub(crate) async fn idle_client(
    addr: String,
    every: Duration,
    open: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    let mut c = Smtp::connect(&addr).await?;
    c.cmd("EHLO idle.example", "250").await?;
    open.fetch_add(1, Ordering::Relaxed);
    let ends = Instant::now() + Duration::from_secs(900);
    let result = async {
        while !stop.load(Ordering::Relaxed) && Instant::now() < ends {
            tokio::time::sleep(every).await;
            c.cmd("NOOP", "250").await?;
        }
        Ok(())
    }
    .await;
    open.fetch_sub(1, Ordering::Relaxed);
    result
}

/// One message of `mib` MiB, by DATA or BDAT: connects and opens the transaction, counts
/// itself in `ready`, waits for `go`, then sends. Returns how long the transfer took.
pub(crate) async fn stream_client(
    addr: String,
    mib: u64,
    bdat: bool,
    ready: Arc<AtomicUsize>,
    mut go: tokio::sync::watch::Receiver<bool>,
) -> Result<Duration, String> {
    let mut c = Smtp::connect(&addr).await?;
    c.cmd("EHLO stream.example", "250").await?;
    c.cmd("MAIL FROM:<stream@example.org>", "250").await?;
    c.cmd("RCPT TO:<sink@example.org>", "250").await?;
    ready.fetch_add(1, Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(120), go.wait_for(|go| *go))
        .await
        .map_err(|_| "never told to go".to_string())?
        .map_err(|e| e.to_string())?;
    let line = [vec![b'x'; 1022], b"\r\n".to_vec()].concat();
    let block: Vec<u8> = line.repeat(64);
    let blocks = mib * MIB / block.len() as u64;
    let started = Instant::now();
    if bdat {
        c.send(format!("BDAT {} LAST\r\n", blocks * block.len() as u64).as_bytes())
            .await?;
    } else {
        c.cmd("DATA", "354").await?;
    }
    for _ in 0..blocks {
        c.send(&block).await?;
    }
    if !bdat {
        c.send(b".\r\n").await?;
    }
    c.expect("250").await?;
    let took = started.elapsed();
    let _ = c.cmd("QUIT", "221").await;
    Ok(took)
}

/// A plain transaction from connect to QUIT; returns its latency.
pub(crate) async fn normal_client(addr: String) -> Result<Duration, String> {
    let started = Instant::now();
    let mut c = Smtp::connect(&addr).await?;
    c.cmd("EHLO normal.example", "250").await?;
    c.cmd("MAIL FROM:<a@example.org>", "250").await?;
    c.cmd("RCPT TO:<b@example.org>", "250").await?;
    c.cmd("DATA", "354").await?;
    c.send(b"Subject: meanwhile\r\n\r\nstill served\r\n.\r\n").await?;
    c.expect("250").await?;
    c.cmd("QUIT", "221").await?;
    Ok(started.elapsed())
}

/// One byte every `every` of a command that never ends; returns when and how it was cut off.
pub(crate) async fn slowloris(
    addr: String,
    every: Duration,
    give_up: Duration,
) -> Result<(Duration, String), String> {
    let mut c = Smtp::connect(&addr).await?;
    c.cmd("EHLO slow.example", "250").await?;
    let started = Instant::now();
    let Smtp { mut r, mut w } = c;
    let reader = async {
        let mut line = String::new();
        let _ = r.read_line(&mut line).await;
        line.trim_end().to_string()
    };
    let writer = async {
        while started.elapsed() < give_up {
            if w.write_all(b"N").await.is_err() {
                break;
            }
            tokio::time::sleep(every).await;
        }
    };
    tokio::pin!(reader, writer);
    let reply = tokio::select! {
        reply = &mut reader => reply,
        _ = &mut writer => return Err(format!("still connected after {give_up:?}")),
    };
    Ok((started.elapsed(), reply))
}
