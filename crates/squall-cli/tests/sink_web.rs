//! `squall sink --web` on the real binary: the page and API come up, show what arrives over
//! SMTP, and refuse a reachable address without a password.
#![cfg(feature = "web")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Killed when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn http_post_json(addr: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Starts `squall sink` with `args` on free ports; returns it and its stdout, after the
/// "listening on" line, with the SMTP address.
fn start_sink(args: &[&str]) -> (Running, BufReader<std::process::ChildStdout>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(["sink", "--listen", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let guard = Running(child);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    (guard, out, addr)
}

/// One message over plain SMTP: each command, then its whole reply.
/// The page's address from `squall sink --web`'s "mail page on http://ADDR/" line.
fn page_addr(line: &str) -> String {
    line.strip_prefix("mail page on http://")
        .and_then(|l| l.split_once('/'))
        .map(|(a, _)| a.to_string())
        .unwrap_or_else(|| panic!("not the page line: {line:?}"))
}

fn smtp(addr: &str, content: &str) {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut reply = || loop {
        let mut l = String::new();
        r.read_line(&mut l).unwrap();
        if l.as_bytes().get(3) != Some(&b'-') {
            break;
        }
    };
    reply();
    for cmd in [
        "EHLO t",
        "MAIL FROM:<a@example.org>",
        "RCPT TO:<b@example.net>",
        "DATA",
    ] {
        write!(w, "{cmd}\r\n").unwrap();
        reply();
    }
    write!(w, "{content}\r\n.\r\nQUIT\r\n").unwrap();
    reply();
    reply();
}

#[test]
fn the_page_and_api_show_what_arrives() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args([
            "sink",
            "--quiet",
            "--listen",
            "127.0.0.1:0",
            "--web",
            "127.0.0.1:0",
            "--max-messages",
            "5",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let _guard = Running(child);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let smtp_addr = line.trim().strip_prefix("listening on ").unwrap().to_string();
    line.clear();
    out.read_line(&mut line).unwrap();
    let web = page_addr(&line);

    smtp(&smtp_addr, "Subject: <b>hi</b>\r\n\r\nbody");
    let wait = http_get(&web, "/api/v1/wait?subject=hi&timeout=10s");
    assert!(wait.starts_with("HTTP/1.1 200"), "{wait}");
    assert!(wait.contains("\"subject\":\"<b>hi</b>\""), "{wait}");
    let page = http_get(&web, "/");
    assert!(
        page.starts_with("HTTP/1.1 200") && page.contains("squall sink"),
        "{page}"
    );
}

#[test]
fn messages_in_the_maildir_are_shown_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    std::fs::create_dir_all(md.join("new")).unwrap();
    std::fs::create_dir_all(md.join("cur")).unwrap();
    std::fs::write(
        md.join("cur/1.M1P1.host:2,S"),
        "Subject: from before\r\n\r\nold body\r\n",
    )
    .unwrap();
    std::fs::write(md.join("new/2.M2P2.host"), "").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args([
            "sink",
            "--listen",
            "127.0.0.1:0",
            "--web",
            "127.0.0.1:0",
            "--maildir",
        ])
        .arg(&md)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut err = child.stderr.take().unwrap();
    let guard = Running(child);
    let mut lines = Vec::new();
    for _ in 0..3 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        lines.push(line);
    }
    assert_eq!(
        lines[2].trim(),
        "reloaded 1 messages from the Maildir, 1 skipped (see stderr)",
        "{lines:?}"
    );
    let web = page_addr(&lines[1]);
    let list = http_get(&web, "/api/v1/messages?subject=before");
    assert!(list.contains("\"total\":1"), "{list}");
    assert!(list.contains("\"envelope_known\":false"), "{list}");
    drop(guard);
    let mut stderr = String::new();
    err.read_to_string(&mut stderr).unwrap();
    assert!(stderr.contains("2.M2P2.host: empty file"), "stderr: {stderr:?}");
}

#[test]
fn web_release_forwards_a_captured_message_through_squall() {
    // The real server: another sink, which prints a line per message.
    let (_real, mut real_out, real_addr) = start_sink(&[]);
    let (_catcher, mut out, smtp_addr) = start_sink(&["--quiet", "--web", "127.0.0.1:0", "--web-release"]);
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let web = page_addr(&line);
    smtp(&smtp_addr, "Subject: release me\r\n\r\nbody");
    let wait = http_get(&web, "/api/v1/wait?subject=release&timeout=10s");
    assert!(wait.starts_with("HTTP/1.1 200"), "{wait}");
    let id = wait
        .split("\"id\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_string();
    let body = format!("{{\"url\": \"smtp://{real_addr}?tls=none\", \"to\": [\"qa@example.com\"]}}");
    let r = http_post_json(&web, &format!("/api/v1/messages/{id}/release"), &body);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    assert!(r.contains("\"accepted\":[{\"address\":\"qa@example.com\""), "{r}");
    let mut got = String::new();
    real_out.read_line(&mut got).unwrap();
    assert!(got.contains("from <a@example.org> to <qa@example.com>"), "{got}");
    // A server that is not there: squall's error as JSON, 502.
    let r = http_post_json(
        &web,
        &format!("/api/v1/messages/{id}/release"),
        "{\"url\": \"smtp://127.0.0.1:1?tls=none\"}",
    );
    assert!(r.starts_with("HTTP/1.1 502"), "{r}");
    assert!(r.contains("\"kind\":"), "{r}");
}

#[test]
fn a_reachable_address_without_a_password_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(["sink", "--listen", "127.0.0.1:0", "--web", "0.0.0.0:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--web-auth") && err.contains("--web-insecure"),
        "{err}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args([
            "sink",
            "--listen",
            "127.0.0.1:0",
            "--web",
            "0.0.0.0:0",
            "--web-auth",
            "env:SQUALL_TEST_UNSET_VARIABLE",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
}
