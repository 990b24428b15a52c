//! A raw SMTP client for the sink's tests: it sends exactly the bytes a test gives, hostile ones
//! included, and reads replies with a bound on every wait.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

/// No test waits longer than this for one reply: a bound that only a hang reaches, also on a
/// loaded machine (where a sink in debug build takes seconds over megabytes of content).
pub const WAIT: Duration = Duration::from_secs(30);

pub struct Smtp {
    r: BufReader<OwnedReadHalf>,
    w: OwnedWriteHalf,
}

impl Smtp {
    /// Connects without reading anything.
    pub async fn raw(addr: SocketAddr) -> Self {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        Self {
            r: BufReader::new(r),
            w,
        }
    }

    /// Connects and reads the 220 greeting.
    pub async fn connect(addr: SocketAddr) -> Self {
        let mut c = Self::raw(addr).await;
        let greeting = c.reply().await;
        assert!(greeting.starts_with("220 "), "{greeting}");
        c
    }

    /// Connects, reads the greeting and says EHLO.
    pub async fn ehlo(addr: SocketAddr) -> Self {
        let mut c = Self::connect(addr).await;
        let r = c.cmd("EHLO client.example").await;
        assert!(r.starts_with("250"), "{r}");
        c
    }

    pub async fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.w.write_all(bytes.as_ref()).await.unwrap();
    }

    /// Sends, reporting failure (the sink may have closed) instead of panicking.
    pub async fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
        self.w.write_all(bytes.as_ref()).await
    }

    /// One whole reply, its lines joined by `\n`; `None` at end of stream.
    pub async fn try_reply(&mut self) -> Option<String> {
        read_reply(&mut self.r).await
    }

    /// Sends `bytes` every `every` until the sink answers (or `max` has passed, or a send
    /// fails): the reply, and how long after the first send it came. The time is taken as the
    /// reply arrives, not after the sends stop.
    pub async fn drip_until_reply(
        &mut self,
        bytes: &[u8],
        every: Duration,
        max: Duration,
    ) -> (String, Duration) {
        let started = tokio::time::Instant::now();
        let w = &mut self.w;
        let drip = async {
            while started.elapsed() < max {
                if w.write_all(bytes).await.is_err() {
                    break;
                }
                tokio::time::sleep(every).await;
            }
            std::future::pending::<()>().await
        };
        let r = &mut self.r;
        let reply = async {
            let reply = read_reply(r).await.expect("a reply, not the end of the stream");
            (reply, started.elapsed())
        };
        tokio::select! {
            got = reply => got,
            () = drip => unreachable!("the drip never ends"),
        }
    }

    pub async fn reply(&mut self) -> String {
        self.try_reply()
            .await
            .expect("a reply, not the end of the stream")
    }

    /// Sends `line` and CRLF, returns the reply.
    pub async fn cmd(&mut self, line: &str) -> String {
        self.send(format!("{line}\r\n")).await;
        self.reply().await
    }

    /// Sends `line` and CRLF, and checks the reply starts with `code`.
    pub async fn ok(&mut self, line: &str, code: &str) {
        let r = self.cmd(line).await;
        assert!(r.starts_with(code), "{line:?} -> {r}");
    }

    /// True if the sink closes the connection within `within` (whatever it sends first is
    /// read and dropped).
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let mut buf = [0u8; 4096];
        tokio::time::timeout(within, async {
            loop {
                match self.r.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .is_ok()
    }
}

/// One whole reply from `r`, its lines joined by `\n`; `None` at end of stream.
async fn read_reply(r: &mut BufReader<OwnedReadHalf>) -> Option<String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(WAIT, r.read_line(&mut line))
            .await
            .expect("a reply in time")
            .ok()?;
        if n == 0 {
            return None;
        }
        assert!(line.ends_with("\r\n"), "reply line without CRLF: {line:?}");
        let line = line.trim_end().to_string();
        let last = line.as_bytes().get(3) != Some(&b'-');
        lines.push(line);
        if last {
            return Some(lines.join("\n"));
        }
    }
}

/// A message through MAIL, RCPT and DATA, checking each reply.
pub async fn send_data(c: &mut Smtp, from: &str, to: &str, content: &[u8]) -> String {
    c.ok(&format!("MAIL FROM:<{from}>"), "250").await;
    c.ok(&format!("RCPT TO:<{to}>"), "250").await;
    c.ok("DATA", "354").await;
    c.send(content).await;
    c.send(b".\r\n").await;
    c.reply().await
}

/// Writes a note straight to the terminal: the test harness captures `eprintln!`, and a
/// skipped check must be seen.
pub fn note(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "{text}");
}
