//! A delay proxy on loopback: every chunk, in either direction, is passed on `one_way` later,
//! in order. netem is not available on these machines; this gives a controlled round-trip time.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Listens on a free loopback port and forwards to `target` with `one_way` delay each way.
pub(crate) async fn start(
    target: SocketAddr,
    one_way: Duration,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(one_way).await;
                let Ok(server) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::join!(pipe(cr, sw, one_way), pipe(sr, cw, one_way));
            });
        }
    });
    Ok((addr, task))
}

/// Copies `from` to `to`, each chunk delayed by `delay`; EOF is passed on after the same delay.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    let _ = tx.send((Instant::now() + delay, Vec::new()));
                    return;
                }
                Ok(n) => {
                    if tx.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    };
    let writer = async move {
        while let Some((at, chunk)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if chunk.is_empty() {
                let _ = to.shutdown().await;
                return;
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(reader, writer);
}

/// The round-trip time to an SMTP server at `addr`: the median of a few NOOP exchanges.
pub(crate) async fn measure_rtt(addr: SocketAddr) -> std::io::Result<Duration> {
    let mut s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    let mut buf = vec![0u8; 4096];
    let _ = s.read(&mut buf).await?;
    let mut samples = Vec::new();
    for _ in 0..15 {
        let t0 = std::time::Instant::now();
        s.write_all(b"NOOP\r\n").await?;
        let _ = s.read(&mut buf).await?;
        samples.push(t0.elapsed());
    }
    let _ = s.write_all(b"QUIT\r\n").await;
    samples.sort();
    Ok(samples[samples.len() / 2])
}

/// A proxy whose measured round trip is close to `rtt`: the timer rounds each hop up, so the
/// one-way delay is adjusted from what is measured (a few tries). Returns its address and the
/// round trip finally measured.
pub(crate) async fn calibrated(target: SocketAddr, rtt: Duration) -> std::io::Result<(SocketAddr, Duration)> {
    let mut one_way = rtt / 2;
    let mut best = None;
    for _ in 0..4 {
        let (addr, task) = start(target, one_way).await?;
        let measured = measure_rtt(addr).await?;
        let error = measured.abs_diff(rtt);
        match &best {
            Some((_, _, e, _)) if *e <= error => task.abort(),
            _ => {
                if let Some((_, _, _, old)) = best.replace((addr, measured, error, task)) {
                    old.abort();
                }
            }
        }
        if error < Duration::from_micros(300) {
            break;
        }
        // Move the one-way delay by half the error (the error is spread over two hops).
        one_way = if measured > rtt {
            one_way.saturating_sub((measured - rtt) / 2)
        } else {
            one_way + (rtt - measured) / 2
        };
    }
    let (addr, measured, _, _task) = best.expect("at least one try");
    Ok((addr, measured))
}
