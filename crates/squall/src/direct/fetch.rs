//! Fetching an MTA-STS policy file (RFC 8461 §3.3): one HTTP/1.1 GET over TLS with the
//! certificate verified for `mta-sts.DOMAIN`, no redirects, at most [`MAX_BODY`] bytes, within a
//! time limit. Only what a policy needs of HTTP: a 200, `Content-Type: text/plain`, and a body
//! framed by `Content-Length`, chunked transfer coding, or the end of the connection.

use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::dns::Dns;
use crate::resolve::Resolve;
use crate::tls::{TlsOptions, TlsSetup};

/// The largest policy body accepted (the RFC suggests 64 KiB, §3.3).
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// Room for the status line and headers on top of the body.
const MAX_HEAD: usize = 16 * 1024;

/// Where and how policies are fetched.
#[derive(Clone, Debug)]
pub(crate) struct Fetcher {
    /// 443, or another port for tests.
    pub(crate) port: u16,
    /// An extra CA to trust (tests, private PKI); the usual roots are trusted as well.
    pub(crate) ca_file: Option<std::path::PathBuf>,
    pub(crate) timeout: Duration,
}

impl Fetcher {
    /// The policy text of `domain`, or why it could not be had.
    pub(crate) async fn fetch(&self, dns: &Dns, domain: &str) -> Result<String, String> {
        let host = format!("mta-sts.{domain}");
        match tokio::time::timeout(self.timeout, self.get(dns, &host)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "https://{host}/ did not answer within {:?}",
                self.timeout
            )),
        }
    }

    async fn get(&self, dns: &Dns, host: &str) -> Result<String, String> {
        let options = TlsOptions {
            ca_file: self.ca_file.clone(),
            ..TlsOptions::default()
        };
        let tls = TlsSetup::new(host, options)?;
        let addrs = dns
            .resolve(host, self.port)
            .await
            .map_err(|e| format!("cannot look up {host}: {e}"))?;
        let mut last = format!("{host} has no address");
        for addr in addrs {
            let tcp = match TcpStream::connect(addr).await {
                Ok(tcp) => tcp,
                Err(e) => {
                    last = format!("cannot connect to {host} ({addr}): {e}");
                    continue;
                }
            };
            let (mut stream, _) = tls
                .handshake(tcp, false)
                .await
                .map_err(|e| format!("TLS with {host} failed: {e}"))?;
            let request = format!(
                "GET /.well-known/mta-sts.txt HTTP/1.1\r\nHost: {host}\r\nAccept: text/plain\r\n\
                 User-Agent: squall\r\nConnection: close\r\n\r\n"
            );
            let io_err = |e: io::Error| format!("the connection to {host} failed: {e}");
            stream.write_all(request.as_bytes()).await.map_err(io_err)?;
            let mut response = Vec::new();
            let limit = (MAX_HEAD + MAX_BODY + 1) as u64;
            (&mut stream)
                .take(limit)
                .read_to_end(&mut response)
                .await
                .map_err(io_err)?;
            return parse_response(&response)
                .map_err(|e| format!("https://{host}/.well-known/mta-sts.txt: {e}"));
        }
        Err(last)
    }
}

/// The body of a complete HTTP/1.1 response to the policy GET, read to the end of the
/// connection, or why it is not a policy.
pub(crate) fn parse_response(raw: &[u8]) -> Result<String, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .filter(|&p| p <= MAX_HEAD)
        .ok_or("no complete response header")?;
    let head = std::str::from_utf8(&raw[..end]).map_err(|_| "the response header is not text")?;
    let rest = &raw[end + 4..];
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    let mut parts = status.splitn(3, ' ');
    let (version, code) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if !version.starts_with("HTTP/1.") {
        return Err(format!("not an HTTP/1.x response: {status:?}"));
    }
    match code {
        "200" => {}
        c if c.starts_with('3') => {
            return Err(format!("redirected ({status:?}); redirects are not followed"));
        }
        _ => return Err(format!("the server answered {status:?}")),
    }
    let (mut length, mut chunked, mut text_plain) = (None, false, false);
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let n: usize = value
                .parse()
                .map_err(|_| format!("bad Content-Length {value:?}"))?;
            if length.is_some_and(|l| l != n) {
                return Err("conflicting Content-Length headers".into());
            }
            length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            if !value.eq_ignore_ascii_case("chunked") {
                return Err(format!("unsupported Transfer-Encoding {value:?}"));
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("content-type") {
            let media = value.split(';').next().unwrap_or("").trim();
            text_plain = media.eq_ignore_ascii_case("text/plain");
        }
    }
    if !text_plain {
        return Err("the policy is not served as text/plain".into());
    }
    let body = if chunked {
        dechunk(rest)?
    } else if let Some(n) = length {
        if n > MAX_BODY {
            return Err(format!("the policy is larger than {MAX_BODY} bytes"));
        }
        rest.get(..n)
            .ok_or("the connection closed before the whole policy arrived")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    if body.len() > MAX_BODY {
        return Err(format!("the policy is larger than {MAX_BODY} bytes"));
    }
    String::from_utf8(body).map_err(|_| "the policy is not UTF-8".into())
}

/// Decodes a chunked body (RFC 9112 §7.1); extensions and trailers are skipped.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let eol = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk size line is cut off")?;
        let line = std::str::from_utf8(&rest[..eol]).map_err(|_| "bad chunk size line")?;
        let hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(hex, 16).map_err(|_| format!("bad chunk size {hex:?}"))?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok(body);
        }
        if size > MAX_BODY || body.len() + size > MAX_BODY {
            return Err(format!("the policy is larger than {MAX_BODY} bytes"));
        }
        let chunk = rest.get(..size).ok_or("a chunk is cut off")?;
        body.extend_from_slice(chunk);
        rest = rest
            .get(size..)
            .and_then(|r| r.strip_prefix(b"\r\n"))
            .ok_or("a chunk does not end in CRLF")?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = "version: STSv1\r\nmode: enforce\r\nmx: a.test\r\nmax_age: 60\r\n";

    fn ok(head: &str, body: &str) -> Result<String, String> {
        parse_response(format!("{head}\r\n\r\n{body}").as_bytes())
    }

    #[test]
    fn framings() {
        let len = POLICY.len();
        let by_length = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {len}");
        assert_eq!(ok(&by_length, POLICY).unwrap(), POLICY);
        // Bytes after Content-Length are not the policy's.
        assert_eq!(ok(&by_length, &format!("{POLICY}junk")).unwrap(), POLICY);
        let by_close = "HTTP/1.1 200 OK\r\ncontent-type: Text/Plain; charset=utf-8";
        assert_eq!(ok(by_close, POLICY).unwrap(), POLICY);
        let chunked = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked";
        let body = format!(
            "5;x=y\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            &POLICY[..5],
            len - 5,
            &POLICY[5..]
        );
        assert_eq!(ok(chunked, &body).unwrap(), POLICY);
    }

    #[test]
    fn refusals() {
        let cases = [
            (
                "HTTP/1.1 301 Moved\r\nLocation: https://x/\r\nContent-Type: text/plain",
                "redirect",
            ),
            ("HTTP/1.1 404 Not Found\r\nContent-Type: text/plain", "404"),
            ("HTTP/1.1 200 OK\r\nContent-Type: text/html", "text/plain"),
            ("HTTP/1.1 200 OK", "text/plain"),
            ("SMTP/1.0 200 OK\r\nContent-Type: text/plain", "HTTP"),
            (
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9999",
                "cut off|before the whole",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: x",
                "Content-Length",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 99999999",
                "larger",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip",
                "Transfer-Encoding",
            ),
            (
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked",
                "chunk",
            ),
            ("HTTP/1.1 200 OK\r\nno colon", "header"),
        ];
        for (head, why) in cases {
            let e = ok(head, "short").unwrap_err();
            assert!(why.split('|').any(|w| e.contains(w)), "{head:?}: {e}");
        }
        assert!(parse_response(b"HTTP/1.1 200 OK\r\n").is_err());
        assert!(parse_response(b"").is_err());
        let big = "x".repeat(MAX_BODY + 1);
        assert!(
            ok("HTTP/1.1 200 OK\r\nContent-Type: text/plain", &big)
                .unwrap_err()
                .contains("larger")
        );
        let huge_chunk = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked";
        assert!(ok(huge_chunk, "ffffffffffffffffff\r\n").is_err());
        assert!(ok(huge_chunk, "10000\r\n").unwrap_err().contains("cut off"));
        assert!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n\xff\xfe")
                .unwrap_err()
                .contains("UTF-8")
        );
    }
}
