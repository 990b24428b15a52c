//! The `squall` binary as users and scripts see it: output, files and exit codes.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use squall_sink::{Sink, SinkHandle};

mod common;
use common::{code, squall, squall_async, squall_async_env, text};

#[test]
fn with_no_server_the_message_is_captured_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let o = squall(
        &[
            "send",
            "--from",
            "me@example.org",
            "--to",
            "you@example.org",
            "--subject",
            "Hello",
            "--body",
            "First message",
        ],
        dir.path(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("built-in capture server"), "{out}");
    let saved = out
        .lines()
        .find_map(|l| l.strip_prefix("Saved: "))
        .expect("a Saved: line");
    let eml = std::fs::read_to_string(saved).unwrap();
    assert!(
        eml.contains("Subject: Hello\r\n") && eml.contains("First message"),
        "{eml}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(Path::new(saved).with_extension("json")).unwrap()).unwrap();
    assert_eq!(json["mail_from"], "me@example.org");
    assert_eq!(json["rcpt_to"], serde_json::json!(["you@example.org"]));
    for key in ["helo", "tls", "auth", "size", "received_at"] {
        assert!(json.get(key).is_some(), "{key} missing in {json}");
    }
}

#[test]
fn json_receipt_names_the_capture_file() {
    let dir = tempfile::tempdir().unwrap();
    let o = squall(
        &[
            "send",
            "--from",
            "me@example.org",
            "--to",
            "you@example.org",
            "--bcc",
            "hidden@example.org",
            "--body",
            "x",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let accepted: Vec<&str> = v["accepted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["address"].as_str().unwrap())
        .collect();
    assert_eq!(accepted, ["you@example.org", "hidden@example.org"]);
    assert_eq!(v["accepted"][0]["code"], 250);
    assert_eq!(v["accepted"][0]["enhanced"], "2.1.5");
    assert!(v["rejected"].as_array().unwrap().is_empty());
    assert!(v["message_id"].as_str().unwrap().ends_with("@example.org"));
    assert!(v["elapsed_ms"].is_u64() && v["queue_id"].is_string());
    let eml = std::fs::read_to_string(v["captured_to"].as_str().unwrap()).unwrap();
    assert!(!eml.contains("hidden@"), "Bcc must not be in the message: {eml}");
}

#[test]
fn usage_and_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["send", "--from", "a@example.org", "--to", "b@example.org"];
    let with = |extra: &[&str]| -> Vec<String> { base.iter().chain(extra).map(|s| s.to_string()).collect() };
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec!["send".into(), "--to".into(), "you@example.org".into()],
            64,
            "give the sender with --from",
        ),
        (
            vec![
                "send".into(),
                "--from".into(),
                "not an address".into(),
                "--to".into(),
                "b@example.org".into(),
            ],
            65,
            "invalid address",
        ),
        (
            with(&["--to", "c@example.org\r\nRCPT TO:<x@evil.example>"]),
            65,
            "CR",
        ),
        (
            with(&["--attach", "/nonexistent/file.pdf"]),
            66,
            "--attach \"/nonexistent/file.pdf\": cannot read it",
        ),
        (with(&["--header", "no colon"]), 64, "Name: value"),
        (with(&["--timeout=0"]), 64, "positive number"),
        (
            with(&["--url", "smtp://u:secret@127.0.0.1:1?tls=none"]),
            78,
            "clear text",
        ),
    ];
    for (args, expected, says) in cases {
        let args: Vec<&str> = args.iter().map(|s| s.as_str()).collect();
        let o = squall(&args, dir.path());
        let err = text(&o.stderr);
        assert_eq!(code(&o), expected, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?} should say {says:?}: {err}");
        assert!(!err.contains("secret"), "{err}");
    }
    assert_eq!(code(&squall(&["--help"], dir.path())), 0);
}

#[test]
fn unreachable_server_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = format!("127.0.0.1:{port}");
    let o = squall(
        &[
            "send",
            "--server",
            &server,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(code(&o), 69);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "transient");
    assert_eq!(v["error"]["stage"], "connect");
    assert!(
        v["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("check the host and port"),
        "{v}"
    );
}

async fn sink_with(faults: &[&str]) -> SinkHandle {
    let mut b = Sink::builder();
    for f in faults {
        b = b.fault(f.parse().unwrap());
    }
    b.start().await.unwrap()
}

fn send_args(s: &SinkHandle, to: &[&str], extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "send",
        "--server",
        &s.addr().to_string(),
        "--from",
        "a@example.org",
        "--body",
        "x",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    for t in to {
        v.push("--to".into());
        v.push(t.to_string());
    }
    v.extend(extra.iter().map(|x| x.to_string()));
    v
}

#[tokio::test]
async fn partial_delivery_exits_67_and_says_who_got_it() {
    let s = sink_with(&["rcpt:bad@example.org=550 5.1.1 no such user"]).await;
    let o = squall_async(send_args(&s, &["good@example.org", "bad@example.org"], &[])).await;
    assert_eq!(code(&o), 67);
    assert!(
        text(&o.stdout).starts_with("delivered to good@example.org"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(
        text(&o.stderr).trim(),
        "squall: the server refused recipient <bad@example.org>: 550 5.1.1 no such user — the address does not \
         exist there; check the spelling (other recipients were delivered)"
    );
    let o = squall_async(send_args(
        &s,
        &["good@example.org", "bad@example.org"],
        &["--json"],
    ))
    .await;
    assert_eq!(code(&o), 67);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rejected"][0]["address"], "bad@example.org");
    assert_eq!(v["rejected"][0]["enhanced"], "5.1.1");
    assert_eq!(v["rejected"][0]["text"], "no such user");
}

#[tokio::test]
async fn failure_classes_have_their_exit_codes() {
    for (fault, expected, kind) in [
        ("mail=451 4.3.0 try later", 75, "transient"),
        ("rcpt=550 5.1.1 nobody here", 67, "permanent"),
        ("greeting=554 5.7.1 go away", 69, "permanent"),
        ("greeting=garbage", 76, "transient"),
        ("data-end=554 5.7.1 spam", 65, "permanent"),
    ] {
        let s = sink_with(&[fault]).await;
        let o = squall_async(send_args(&s, &["b@example.org"], &["--json"])).await;
        assert_eq!(code(&o), expected, "{fault}: {}", text(&o.stdout));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["error"]["kind"], kind, "{fault}");
        assert!(!v["error"]["hint"].as_str().unwrap().is_empty());
    }
}

#[tokio::test]
async fn temporary_failures_are_retried_unless_told_not_to() {
    let s = sink_with(&["mail#1=451 4.3.0 try later"]).await;
    let o = squall_async(send_args(&s, &["b@example.org"], &[])).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("after 2 attempts"),
        "{}",
        text(&o.stdout)
    );

    let s = sink_with(&["mail#1=451 4.3.0 try later"]).await;
    let o = squall_async(send_args(&s, &["b@example.org"], &["--no-retry", "--json"])).await;
    assert_eq!(code(&o), 75);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["attempts"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["error"]["attempts"][0]["reply"]["code"], 451, "{v}");

    let s = sink_with(&["mail=451 4.3.0 try later"]).await;
    let o = squall_async(send_args(&s, &["b@example.org"], &["--retries", "1", "--json"])).await;
    assert_eq!(code(&o), 75);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["attempts"].as_array().unwrap().len(), 2, "{v}");
    assert!(
        v["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("2 attempts were made"),
        "{v}"
    );
}

#[tokio::test]
async fn transcript_goes_to_stderr() {
    let s = sink_with(&[]).await;
    let o = squall_async(send_args(&s, &["b@example.org"], &["--transcript"])).await;
    assert_eq!(code(&o), 0);
    let err = text(&o.stderr);
    assert!(err.contains("C: MAIL FROM:<a@example.org>"), "{err}");
    assert!(err.contains("S: 221 2.0.0 Bye"), "{err}");
}

#[tokio::test]
async fn raw_file_from_stdin_is_sent_as_is() {
    let s = sink_with(&[]).await;
    let addr = s.addr().to_string();
    let o = tokio::task::spawn_blocking(move || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_squall"))
            .args([
                "send",
                "--server",
                &addr,
                "--from",
                "a@example.org",
                "--to",
                "b@example.org",
                "--raw-file",
                "-",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"Subject: raw\n\n.line\nend")
            .unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(s.messages()[0].data, b"Subject: raw\r\n\r\n.line\r\nend\r\n");
}

#[test]
fn squall_sink_captures_until_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let emls = dir.path().join("mail");
    let maildir = dir.path().join("Maildir");
    let mut sink = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(["sink", "--listen", "127.0.0.1:0", "--eml-dir"])
        .arg(&emls)
        .arg("--maildir")
        .arg(&maildir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(sink.stdout.take().unwrap());
    let mut first = String::new();
    out.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .expect("first line names the address")
        .to_string();
    let o = squall(
        &[
            "send",
            "--server",
            &addr,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--subject",
            "via sink",
        ],
        dir.path(),
    );
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.contains("from <a@example.org> to <b@example.org>"), "{line}");
    let emls: Vec<_> = std::fs::read_dir(&emls)
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .collect();
    assert_eq!(emls.len(), 1);
    // The Maildir got the same message, in new/ (nothing left behind in tmp/).
    let delivered: Vec<_> = std::fs::read_dir(maildir.join("new"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(delivered.len(), 1);
    assert_eq!(
        std::fs::read(delivered[0].path()).unwrap(),
        std::fs::read(emls[0].path()).unwrap()
    );
    assert_eq!(std::fs::read_dir(maildir.join("tmp")).unwrap().count(), 0);
    assert!(line.contains(" -> "), "{line}");
    sink.kill().unwrap();
    sink.wait().unwrap();
    // A bad fault spec is a usage error.
    let o = Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(["sink", "--fault", "nonsense"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(64));
}

/// A private CA and a certificate for localhost signed by it: (ca, cert, key) PEM.
#[tokio::test]
async fn submission_with_starttls_and_auth() {
    let (s, dir, ca_file) = common::submission_sink("joe", "s3cret").await;
    let server = format!("localhost:{}", s.addr().port());
    let args = |extra: &[&str]| -> Vec<String> {
        [
            "send",
            "--server",
            &server,
            "--tls",
            "starttls",
            "--from",
            "joe@example.org",
            "--to",
            "b@example.org",
            "--body",
            "x",
        ]
        .iter()
        .chain(extra)
        .map(|x| x.to_string())
        .collect()
    };
    let ca = ca_file.to_str().unwrap();
    let ok = squall_async_env(
        args(&[
            "--user",
            "joe",
            "--password-env",
            "SQUALL_TEST_PASSWORD",
            "--ca-file",
            ca,
            "--transcript",
        ]),
        vec![("SQUALL_TEST_PASSWORD", "s3cret")],
    )
    .await;
    assert_eq!(code(&ok), 0, "{}", text(&ok.stderr));
    assert!(!text(&ok.stderr).contains("s3cret"), "{}", text(&ok.stderr));
    assert_eq!(s.messages()[0].auth.as_deref(), Some("joe"));

    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, "wrong\n").unwrap();
    let bad = squall_async(args(&[
        "--user",
        "joe",
        "--password-file",
        pw_file.to_str().unwrap(),
        "--ca-file",
        ca,
    ]))
    .await;
    assert_eq!(code(&bad), 77, "refused credentials: {}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("the user name or password is wrong"),
        "{}",
        text(&bad.stderr)
    );

    let untrusted = squall_async_env(
        args(&["--user", "joe", "--password-env", "P"]),
        vec![("P", "s3cret")],
    )
    .await;
    assert_eq!(code(&untrusted), 78, "unknown CA: {}", text(&untrusted.stderr));
    let skipped = squall_async_env(
        args(&[
            "--user",
            "joe",
            "--password-env",
            "P",
            "--dangerously-skip-certificate-verification",
        ]),
        vec![("P", "s3cret")],
    )
    .await;
    assert_eq!(code(&skipped), 0, "{}", text(&skipped.stderr));

    let no_source = squall_async(args(&["--user", "joe", "--ca-file", ca])).await;
    assert_eq!(code(&no_source), 78);
    assert!(
        text(&no_source.stderr).contains("never go on the command line"),
        "{}",
        text(&no_source.stderr)
    );
    let argv_password = squall_async(args(&["--user", "joe", "--password", "s3cret"])).await;
    assert_eq!(code(&argv_password), 64, "there is no --password flag");
}

#[tokio::test]
async fn bulk_sends_and_summarises() {
    let s = sink_with(&[]).await;
    let server = s.addr().to_string();
    let args = |extra: &[&str]| -> Vec<String> {
        [
            "bulk",
            "--server",
            &server,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--json",
        ]
        .iter()
        .chain(extra)
        .map(|x| x.to_string())
        .collect()
    };
    let o = squall_async(args(&[
        "--generate",
        "200",
        "--size",
        "3000",
        "--connections",
        "2",
    ]))
    .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["messages"], 200);
    assert_eq!(v["delivered"], 200);
    assert_eq!(v["failed"], 0);
    assert!(v["msgs_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["latency_ms"]["p99"].as_f64().unwrap() >= v["latency_ms"]["p50"].as_f64().unwrap());
    assert!(v["connections"].as_u64().unwrap() <= 2);
    assert_eq!(s.delivered(), 200);
    assert!(s.messages().iter().all(|m| m.size >= 3000 && m.size < 3100));

    let dir = tempfile::tempdir().unwrap();
    for i in 0..3 {
        std::fs::write(
            dir.path().join(format!("{i}.eml")),
            format!("Subject: file {i}\n\nbody {i}\n"),
        )
        .unwrap();
    }
    let o = squall_async(args(&["--messages", dir.path().to_str().unwrap()])).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let subjects: Vec<String> = s.messages()[200..]
        .iter()
        .map(|m| String::from_utf8_lossy(&m.data[..14]).into_owned())
        .collect();
    assert_eq!(subjects, ["Subject: file ", "Subject: file ", "Subject: file "]);
}

/// Four messages: the 2nd meets a 550 at MAIL, the connection drops after the 3rd's content
/// (so the server may have it), and the 4th meets a 451 at MAIL.
///
/// The sink counts each stage in order, so the one message that is retried comes last: a
/// retry from earlier in the run could, on a slow machine, overtake the later messages and
/// meet their faults. Without CHUNKING, the 4th message pipelined behind the 3rd sent no
/// content when the connection drops: it is tried again, not lost.
async fn bulk_with_faults(extra: &[&str]) -> (std::process::Output, u64) {
    let mut b = Sink::builder().disable("CHUNKING");
    for f in [
        "mail#2=550 5.7.1 not you",
        "data-end#2=disconnect",
        "mail#4=451 4.3.0 try later",
    ] {
        b = b.fault(f.parse().unwrap());
    }
    let s = b.start().await.unwrap();
    let mut argv: Vec<String> = [
        "bulk",
        "--server",
        &s.addr().to_string(),
        "--from",
        "a@example.org",
        "--to",
        "b@example.org",
        "--generate",
        "4",
    ]
    .iter()
    .map(|x| x.to_string())
    .collect();
    argv.extend(extra.iter().map(|x| x.to_string()));
    let o = squall_async(argv).await;
    (o, s.delivered())
}

#[tokio::test]
async fn bulk_retries_and_reports_what_was_not_delivered() {
    let (o, stored) = bulk_with_faults(&[]).await;
    assert_eq!(
        code(&o),
        69,
        "a permanent failure among them: {}",
        text(&o.stdout)
    );
    assert!(
        text(&o.stdout).contains(
            "delivered 2, partially rejected 0, failed 1, failed temporarily 0, ambiguous 1; 1 retried"
        ),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(stored, 2, "what the sink stored is what was reported delivered");
    let err = text(&o.stderr);
    assert!(!err.contains("message 4: "), "retried and delivered: {err}");
    assert!(
        err.contains("message 2: permanent: ") && err.contains("550 5.7.1 not you"),
        "{err}"
    );
    assert!(
        err.contains("message 3: ambiguous: ") && err.contains("resending may deliver it twice"),
        "{err}"
    );
}

#[tokio::test]
async fn bulk_without_retries_reports_each_failure_once() {
    let (o, stored) = bulk_with_faults(&["--no-retry", "--json"]).await;
    assert_eq!(code(&o), 69, "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (
            &v["delivered"],
            &v["failed"],
            &v["failed_transient"],
            &v["ambiguous"],
            &v["retried"]
        ),
        (&1.into(), &1.into(), &1.into(), &1.into(), &0.into()),
        "{v}"
    );
    assert_eq!(stored, 1);
    let outcomes: Vec<(u64, &str)> = v["not_delivered"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| (u["message"].as_u64().unwrap(), u["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(outcomes, [(2, "permanent"), (3, "ambiguous"), (4, "transient")]);
}

/// Issue 10, item 2: a setup failure that every message would meet (refused credentials) stops
/// the run: the rest are counted, not tried, instead of a connection for every few messages.
#[tokio::test]
async fn bulk_stops_after_a_permanent_setup_failure() {
    let s = squall_sink::Sink::builder()
        .user("joe", "right")
        .auth_before_tls(true)
        .start()
        .await
        .unwrap();
    let server = s.addr().to_string();
    let argv = [
        "bulk",
        "--server",
        &server,
        "--tls",
        "none",
        "--user",
        "joe",
        "--password-env",
        "BULK_PW",
        "--allow-insecure-auth",
        "--from",
        "a@example.org",
        "--to",
        "b@example.org",
        "--generate",
        "2000",
        "--json",
    ];
    let o = squall_async_env(argv.map(String::from).to_vec(), vec![("BULK_PW", "wrong")]).await;
    assert_eq!(code(&o), 77, "credentials refused: {}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    // One connection fails every message queued before the failure was known; a message queued
    // in the moment before bulk learnt it may need another. (Before: a connection for every 64.)
    assert!(v["connections"].as_u64().unwrap() < 5, "{v}");
    let failed = v["failed"].as_u64().unwrap();
    assert_eq!(failed + v["not_sent"].as_u64().unwrap(), 2000, "{v}");
    let stopped = v["stopped"].as_str().unwrap();
    assert!(stopped.contains("535") && stopped.contains("not tried"), "{v}");
    assert_eq!(s.delivered(), 0);
}

/// Issue 10, items 5 and 6: an address given twice gets one RCPT; a second Subject through
/// --header is refused; control characters never reach a header.
#[test]
fn repeated_recipients_and_duplicate_headers() {
    let dir = tempfile::tempdir().unwrap();
    let base = [
        "send",
        "--from",
        "a@example.org",
        "--to",
        "b@example.org",
        "--body",
        "x",
        "--dry-run",
    ];
    let with = |extra: &[&str]| squall(&base.iter().chain(extra).copied().collect::<Vec<_>>(), dir.path());
    let o = with(&["--bcc", "B@example.org", "--cc", "b@example.org"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).starts_with("MAIL FROM:<a@example.org>\nRCPT TO:<b@example.org>\n\n"),
        "{}",
        text(&o.stdout)
    );
    let o = with(&["--subject", "one", "--header", "Subject: two"]);
    assert_eq!(code(&o), 65, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("RFC 5322 allows one"),
        "{}",
        text(&o.stderr)
    );
    let o = with(&["--header", "Message-ID: <chosen@example.org>"]);
    assert!(
        text(&o.stdout).contains("Message-ID: <chosen@example.org>\r\n"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(text(&o.stdout).matches("Message-ID:").count(), 1);
    let o = with(&["--subject", "red \x1b[31m"]);
    assert_eq!(code(&o), 65, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("control character U+001B"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn dry_run_prints_envelope_and_message_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "send",
        "--server",
        "127.0.0.1:1",
        "--from",
        "a@example.org",
        "--to",
        "b@example.org",
        "--bcc",
        "hidden@example.org",
        "--subject",
        "preview",
        "--body",
        "hello",
        "--dry-run",
    ];
    let o = squall(&args, dir.path());
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.starts_with(
            "MAIL FROM:<a@example.org>\nRCPT TO:<b@example.org>\nRCPT TO:<hidden@example.org>\n\n"
        ),
        "{out}"
    );
    assert!(
        out.contains("Subject: preview\r\n") && out.contains("hello"),
        "{out}"
    );
    assert!(!out.contains("Bcc"), "{out}");
}

#[test]
fn completions_and_help_for_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let o = squall(&["completions", shell], dir.path());
        assert_eq!(code(&o), 0, "{shell}");
        assert!(
            text(&o.stdout).contains("sendmail"),
            "{shell}: the script knows the subcommands"
        );
    }
    for sub in ["send", "bulk", "sink", "sendmail", "config", "completions"] {
        let o = squall(&["help", sub], dir.path());
        assert_eq!(code(&o), 0, "{sub}");
        assert!(
            text(&o.stdout).contains("Examples:"),
            "squall help {sub}: {}",
            text(&o.stdout)
        );
    }
    let o = squall(&["sendmail", "--help"], dir.path());
    assert!(
        text(&o.stdout).contains("-t            also send to"),
        "{}",
        text(&o.stdout)
    );
}

/// `?insecure-auth=true` in a URL is the user's explicit choice: the absent flag must not undo it.
#[tokio::test]
async fn insecure_auth_in_the_url_is_not_undone_by_the_flags_default() {
    let s = Sink::builder()
        .user("joe", "pw")
        .auth_before_tls(true)
        .start()
        .await
        .unwrap();
    let url = format!("smtp://joe:pw@{}?tls=none&insecure-auth=true", s.addr());
    let o = squall_async(
        [
            "send",
            "--url",
            &url,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--body",
            "x",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(s.messages().len(), 1);
    // Without it, the credentials stay home.
    let url = format!("smtp://joe:pw@{}?tls=none", s.addr());
    let o = squall_async(
        [
            "send",
            "--url",
            &url,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--body",
            "x",
        ]
        .map(String::from)
        .to_vec(),
    )
    .await;
    assert_eq!(code(&o), 78, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("allow insecure AUTH"),
        "{}",
        text(&o.stderr)
    );
}

/// `squall … | head -1`: a reader that goes away ends squall as SIGPIPE would (141), with no
/// panic trace on stderr.
#[test]
fn a_closed_stdout_ends_quietly() {
    for args in [
        &["sendmail", "--help"][..],
        &["completions", "bash"],
        &["help", "send"],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_squall"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader is gone before anything is written
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(
            matches!(out.status.code(), Some(0 | 141)),
            "{args:?}: {:?}",
            out.status
        );
    }
}
