//! `squall sendmail` and the binary run as `sendmail`: what cron, mutt, PHP and git send-email
//! rely on — recipients from the header, Bcc removed, the lone-dot rule, sysexits codes.

use std::process::Output;

use squall_sink::{Sink, SinkHandle};

mod common;
use common::{Run, code, text};

async fn sink(faults: &[&str]) -> SinkHandle {
    let mut b = Sink::builder();
    for f in faults {
        b = b.fault(f.parse().unwrap());
    }
    b.start().await.unwrap()
}

fn url(s: &SinkHandle) -> String {
    format!("smtp://{}?tls=none", s.addr())
}

async fn sendmail(s: &SinkHandle, args: &[&str], message: &str) -> Output {
    let mut argv = vec!["sendmail"];
    argv.extend(args);
    Run::new(argv)
        .env("SQUALL_URL", url(s))
        .stdin(message)
        .run()
        .await
}

const MESSAGE: &str = "From: Alice <alice@example.org>\nTo: Bob <bob@example.org>, carol@example.org\nCc: dave@example.org\nBcc: eve@example.org,\n  frank@example.org\nSubject: hello\n\nHi all.\n";

#[tokio::test]
async fn dash_t_sends_to_to_cc_and_bcc_and_removes_bcc() {
    let s = sink(&[]).await;
    let o = sendmail(&s, &["-t", "-i"], MESSAGE).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "sendmail is silent on success"
    );
    let m = s.messages().pop().unwrap();
    assert_eq!(
        m.rcpt_to,
        [
            "bob@example.org",
            "carol@example.org",
            "dave@example.org",
            "eve@example.org",
            "frank@example.org"
        ]
    );
    assert_eq!(
        m.mail_from, "alice@example.org",
        "the From address is the sender by default"
    );
    let data = text(&m.data);
    assert!(
        !data.contains("Bcc") && !data.contains("eve@") && !data.contains("frank@"),
        "{data}"
    );
    assert!(
        data.contains("Cc: dave@example.org\r\nSubject: hello\r\n"),
        "{data}"
    );
    assert!(
        data.contains("\r\nDate: ") || data.starts_with("Date: "),
        "a Date is added: {data}"
    );
    assert!(data.contains("Message-ID: <"), "a Message-ID is added: {data}");
    // Without -t the header names nobody: only the arguments get it.
    let o = sendmail(&s, &["-i", "zed@example.org"], MESSAGE).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(s.messages().pop().unwrap().rcpt_to, ["zed@example.org"]);
}

#[tokio::test]
async fn the_same_binary_run_as_sendmail() {
    let s = sink(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("sendmail");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_squall"), &link).unwrap();
    let o = Run::program(
        &link,
        [
            "-oi",
            "-f",
            "cron@example.org",
            "-F",
            "Cron Daemon",
            "--",
            "root@example.org",
        ],
    )
    .env("SQUALL_URL", url(&s))
    .stdin("Subject: cron output\n\n/bin/true ran\n")
    .run()
    .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let m = s.messages().pop().unwrap();
    assert_eq!(
        (m.mail_from.as_str(), m.rcpt_to.as_slice()),
        ("cron@example.org", &["root@example.org".to_string()][..])
    );
    assert!(
        text(&m.data).starts_with("From: Cron Daemon <cron@example.org>\r\n"),
        "{}",
        text(&m.data)
    );
    // Its errors are signed with the name it was run as.
    let o = Run::program(&link, ["-bp"]).run().await;
    assert_eq!(code(&o), 64);
    assert!(
        text(&o.stderr).starts_with("sendmail: -bp is not supported"),
        "{}",
        text(&o.stderr)
    );
}

#[tokio::test]
async fn a_lone_dot_ends_the_message_unless_dash_i() {
    let input = "Subject: dots\n\nfirst\n.\nafter the dot\n";
    let s = sink(&[]).await;
    assert_eq!(code(&sendmail(&s, &["x@example.org"], input).await), 0);
    let cut = text(&s.take_messages()[0].data);
    assert!(cut.ends_with("\r\nfirst\r\n"), "{cut:?}");
    assert_eq!(code(&sendmail(&s, &["-i", "x@example.org"], input).await), 0);
    let whole = text(&s.take_messages()[0].data);
    assert!(
        whole.ends_with("\r\nfirst\r\n.\r\nafter the dot\r\n"),
        "the dot travels stuffed and arrives intact: {whole:?}"
    );
}

#[tokio::test]
async fn exit_codes_follow_sysexits() {
    for (faults, args, expected, says) in [
        (
            &["rcpt=550 5.1.1 no such user"][..],
            &["x@example.org"][..],
            67,
            "550 5.1.1 no such user",
        ),
        (
            &["greeting=554 5.7.1 go away"][..],
            &["x@example.org"][..],
            69,
            "554 5.7.1 go away",
        ),
        (
            &["data-end=554 5.7.1 spam"][..],
            &["x@example.org"][..],
            65,
            "554 5.7.1 spam",
        ),
        (
            &["mail=451 4.3.0 busy"][..],
            &["x@example.org"][..],
            75,
            "451 4.3.0 busy",
        ),
        (&[][..], &[][..], 64, "no recipients"),
        (&[][..], &["-x", "x@example.org"][..], 64, "unknown option -x"),
    ] {
        let s = sink(faults).await;
        let o = sendmail(&s, args, "Subject: x\n\ny\n").await;
        let err = text(&o.stderr);
        assert_eq!(code(&o), expected, "{faults:?} {args:?}: {err}");
        assert!(err.contains(says), "{faults:?} {args:?}: {err}");
    }
    // Some recipients refused, others delivered: 67, and it says who.
    let s = sink(&["rcpt:bad@example.org=550 5.1.1 no such user"]).await;
    let o = sendmail(&s, &["good@example.org", "bad@example.org"], "Subject: x\n\ny\n").await;
    assert_eq!(code(&o), 67);
    assert!(text(&o.stderr).contains("bad@example.org"), "{}", text(&o.stderr));
    assert_eq!(s.messages()[0].rcpt_to, ["good@example.org"]);
    // Nothing configured: EX_CONFIG, and where to configure.
    let o = Run::new(["sendmail", "x@example.org"])
        .stdin("Subject: x\n\ny\n")
        .run()
        .await;
    assert_eq!(code(&o), 78);
    assert!(
        text(&o.stderr).contains("squall config path"),
        "{}",
        text(&o.stderr)
    );
}

#[tokio::test]
async fn the_default_account_and_its_from() {
    let s = sink(&[]).await;
    let accounts = format!(
        "default = \"local\"\n[accounts.local]\nserver = \"{}\"\ntls = \"none\"\nfrom = \"Robot <robot@example.org>\"\n",
        s.addr()
    );
    let o = Run::new(["sendmail", "x@example.org"])
        .accounts(&accounts)
        .stdin("Subject: from the account\n\nhi\n")
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let m = s.messages().pop().unwrap();
    assert_eq!(m.mail_from, "robot@example.org");
    assert!(
        text(&m.data).starts_with("From: Robot <robot@example.org>\r\n"),
        "{}",
        text(&m.data)
    );
}

/// git send-email hands each patch to `squall sendmail` (needs git's send-email, which
/// scripts/test.sh installs with the git-email package).
#[tokio::test]
async fn git_send_email_delivers_a_patch() {
    if !git_send_email_available() {
        assert!(
            std::env::var_os("SQUALL_PEERS_REQUIRED").is_none(),
            "git send-email is missing although scripts/test.sh should have installed git-email"
        );
        eprintln!("skipped: git send-email is not installed");
        return;
    }
    let s = sink(&[]).await;
    let repo = tempfile::tempdir().unwrap();
    let (dir, sink_url) = (repo.path().to_path_buf(), url(&s));
    let git = move |args: &[&str]| {
        let o = std::process::Command::new("git")
            .args(args)
            .current_dir(&dir)
            .env("HOME", &dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Ada")
            .env("GIT_AUTHOR_EMAIL", "ada@example.org")
            .env("GIT_COMMITTER_NAME", "Ada")
            .env("GIT_COMMITTER_EMAIL", "ada@example.org")
            .env("SQUALL_URL", &sink_url)
            .env("XDG_CONFIG_HOME", dir.join(".config"))
            .output()
            .unwrap();
        assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
        o
    };
    git(&["init", "-q"]);
    std::fs::write(repo.path().join("README"), "one\n").unwrap();
    git(&["add", "README"]);
    git(&["commit", "-q", "-m", "first"]);
    std::fs::write(repo.path().join("README"), "one\ntwo\n.\nthree\n").unwrap();
    git(&["commit", "-q", "-a", "-m", "Add a line with a lone dot"]);
    git(&["format-patch", "-q", "-1", "-o", "out"]);
    let cmd = format!("{} sendmail", env!("CARGO_BIN_EXE_squall"));
    let patch = std::fs::read_dir(repo.path().join("out"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let patch = patch.to_str().unwrap().to_string();
    tokio::task::spawn_blocking(move || {
        git(&[
            "send-email",
            "--sendmail-cmd",
            &cmd,
            "--from",
            "Ada <ada@example.org>",
            "--to",
            "list@example.org",
            "--cc",
            "reviewer@example.org",
            "--confirm=never",
            "--suppress-cc=all",
            "--quiet",
            &patch,
        ]);
    })
    .await
    .unwrap();
    let m = s.messages().pop().expect("the patch arrived");
    assert_eq!(m.mail_from, "ada@example.org");
    let mut rcpts = m.rcpt_to.clone();
    rcpts.sort();
    assert_eq!(rcpts, ["list@example.org", "reviewer@example.org"]);
    let data = text(&m.data);
    assert!(
        data.contains("Subject: [PATCH] Add a line with a lone dot"),
        "{data}"
    );
    assert!(
        data.contains("\r\n+two\r\n+.\r\n+three\r\n"),
        "the diff arrives intact: {data}"
    );
}

fn git_send_email_available() -> bool {
    std::process::Command::new("git")
        .args(["send-email", "-h"])
        .output()
        .is_ok_and(|o| {
            text(&o.stdout).contains("send-email") || text(&o.stderr).contains("usage: git send-email")
        })
}

/// Runs `sendmail ARGS` on `message` against a fresh sink: (output, messages the sink got).
async fn try_send(args: &[&str], message: impl Into<Vec<u8>>) -> (Output, Vec<squall_sink::ReceivedMessage>) {
    let s = sink(&[]).await;
    let mut argv = vec!["sendmail"];
    argv.extend(args);
    let o = Run::new(argv)
        .env("SQUALL_URL", url(&s))
        .stdin(message)
        .run()
        .await;
    (o, s.take_messages())
}

#[tokio::test]
async fn bare_cr_in_header_cannot_add_a_bcc() {
    // Each bare CR would be a line break on the wire: a Bcc line recipients see but the envelope
    // misses, a visible To whose recipient is dropped, a header ended early.
    for message in [
        "From: a@example.org\nTo: b@example.org\nSubject: x\rBcc: hidden@example.org\n\nbody\n",
        "From: a@example.org\nTo: b@example.org\rBcc: h@example.org\n\nbody\n",
        "From: a@example.org\nTo: b@example.org\nSubject: x\r\rBcc: h@example.org\n\nbody\n",
        "To: b@example.org\n\rBcc: h@example.org\n",
        "To: b@example.org\r",
    ] {
        for args in [&["-t"][..], &["-t", "-i"], &["c@example.org"]] {
            let (o, sent) = try_send(args, message).await;
            let err = text(&o.stderr);
            assert_eq!(code(&o), 65, "{message:?} {args:?}: {err}");
            assert!(err.contains("bare CR") && err.contains("LF or CRLF"), "{err}");
            assert!(sent.is_empty(), "nothing is sent: {message:?}");
        }
    }
}

#[tokio::test]
async fn bare_cr_in_the_body_is_a_line_break_as_sent() {
    let (o, sent) = try_send(&["-t"], "To: b@example.org\n\none\rtwo\r").await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(
        text(&sent[0].data).ends_with("\r\n\r\none\r\ntwo\r\n"),
        "{}",
        text(&sent[0].data)
    );
}

#[tokio::test]
async fn nul_in_a_header_is_refused() {
    let (o, sent) = try_send(&["-t"], "To: b@example.org\0, c@example.org\n\nx\n").await;
    assert_eq!(code(&o), 65, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("NUL"), "{}", text(&o.stderr));
    assert!(sent.is_empty());
}

#[tokio::test]
async fn obsolete_space_before_colon_is_a_header() {
    let message = "From: a@example.org\nTo: b@example.org\nBcc : x@example.org\nCc\t: c@example.org\nSubject: obs\n\nbody\n";
    let (o, sent) = try_send(&["-t"], message).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(
        sent[0].rcpt_to,
        ["b@example.org", "c@example.org", "x@example.org"]
    );
    let data = text(&sent[0].data);
    assert!(!data.contains("x@example.org") && !data.contains("Bcc"), "{data}");
    assert!(
        data.contains("Cc\t: c@example.org\r\nSubject: obs\r\n\r\nbody\r\n"),
        "{data}"
    );
}

#[tokio::test]
async fn mbox_from_line_is_dropped() {
    let message = "From alice@example.org Mon Jan  1 00:00:00 2024\nFrom: Alice <alice@example.org>\nTo: b@example.org\nBcc: c@example.org\nSubject: from an mbox\n\nhi\n";
    let (o, sent) = try_send(&["-t"], message).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(sent[0].mail_from, "alice@example.org");
    assert_eq!(sent[0].rcpt_to, ["b@example.org", "c@example.org"]);
    let data = text(&sent[0].data);
    assert!(
        !data.contains("From alice") && !data.contains("c@example.org"),
        "{data}"
    );
    assert!(
        data.contains(
            "From: Alice <alice@example.org>\r\nTo: b@example.org\r\nSubject: from an mbox\r\n\r\nhi\r\n"
        ),
        "{data}"
    );
}

#[tokio::test]
async fn null_sender_is_not_a_from_header() {
    // Without an account, the From field names the local user.
    let (o, sent) = try_send(&["-f", "<>", "x@example.org"], "Subject: bounce\n\nx\n").await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(sent[0].mail_from, "", "the null sender");
    let data = text(&sent[0].data);
    assert!(!data.contains("<<>>") && !data.contains("From: <>"), "{data}");
    let from = data.lines().find(|l| l.starts_with("From: ")).unwrap();
    assert!(from.starts_with("From: <") && from.contains('@'), "{from}");
    // With an account, its from; with -F, that name; the message's own From stays.
    let s = sink(&[]).await;
    let accounts = format!(
        "[accounts.local]\nserver = \"{}\"\ntls = \"none\"\nfrom = \"Robot <robot@example.org>\"\n",
        s.addr()
    );
    for (args, message, from) in [
        (
            &["-f", "<>", "x@example.org"][..],
            "Subject: x\n\nx\n",
            "From: Robot <robot@example.org>\r\n",
        ),
        (
            &["-f", "", "-F", "Notifier", "x@example.org"],
            "Subject: x\n\nx\n",
            "From: Notifier <robot@example.org>\r\n",
        ),
        (
            &["-f<>", "x@example.org"],
            "From: Me <me@example.org>\n\nx\n",
            "From: Me <me@example.org>\r\n",
        ),
    ] {
        let mut argv = vec!["sendmail"];
        argv.extend(args);
        let o = Run::new(argv).accounts(&accounts).stdin(message).run().await;
        assert_eq!(code(&o), 0, "{args:?}: {}", text(&o.stderr));
        let m = s.take_messages().pop().unwrap();
        assert_eq!(m.mail_from, "", "{args:?}");
        assert!(text(&m.data).contains(from), "{args:?}: {}", text(&m.data));
    }
    // A sender in angle brackets is the address inside them.
    let (o, sent) = try_send(&["-f", "<me@example.org>", "x@example.org"], "Subject: x\n\nx\n").await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(sent[0].mail_from, "me@example.org");
    assert!(text(&sent[0].data).starts_with("From: <me@example.org>\r\n"));
}

#[tokio::test]
async fn ten_megabyte_header_line_is_refused() {
    let mut message = b"To: b@example.org\nSubject: ".to_vec();
    message.resize(10 << 20, b'x');
    message.extend_from_slice(b"\n\nbody\n");
    let (o, sent) = try_send(&["-t"], message).await;
    assert_eq!(code(&o), 65, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("longer than 1024 KiB"),
        "{}",
        text(&o.stderr)
    );
    assert!(sent.is_empty());
    // A 10 MB line in the body is the body's business.
    let mut message = b"To: b@example.org\n\n".to_vec();
    message.resize(10 << 20, b'y');
    let (o, sent) = try_send(&["-t"], message).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(sent[0].data.len() > 10 << 20);
}

/// A message larger than what is kept in memory: sent whole from a private temporary file,
/// which is gone afterwards.
#[tokio::test]
async fn a_large_message_is_spooled_and_arrives_whole() {
    let s = sink(&[]).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut body = Vec::new();
    for i in 0..400_000 {
        body.extend_from_slice(format!("line {i} of a long body\n").as_bytes());
    }
    body.extend_from_slice(b".\nafter the dot\n");
    let mut message = b"From: a@example.org\nTo: b@example.org\nBcc: c@example.org\n\n".to_vec();
    message.extend_from_slice(&body);
    let o = Run::new(["sendmail", "-t"])
        .env("SQUALL_URL", url(&s))
        .env("TMPDIR", tmp.path())
        .stdin(message)
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let m = s.take_messages().pop().unwrap();
    assert_eq!(m.rcpt_to, ["b@example.org", "c@example.org"]);
    let data = m.data;
    let start = data.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let until_dot = body.len() - b".\nafter the dot\n".len();
    assert_eq!(data[start..], squall_proto::data::normalize(&body[..until_dot]));
    assert!(!text(&data[..start]).contains("c@example.org"));
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the spool is deleted"
    );
}

/// Stopped while it reads: the spool file is deleted, and the caller is told to try again.
#[tokio::test]
async fn a_stopped_sendmail_leaves_no_spool_behind() {
    use std::io::Write;
    let s = sink(&[]).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(["sendmail", "-t"])
        .env("SQUALL_URL", url(&s))
        .env("TMPDIR", tmp.path())
        .env("HOME", tmp.path())
        .env("XDG_CONFIG_HOME", tmp.path())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"To: b@example.org\n\n").unwrap();
    stdin.write_all(&vec![b'z'; 8 << 20]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::fs::read_dir(tmp.path()).unwrap().count() == 0 {
        assert!(std::time::Instant::now() < deadline, "no spool file appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    // It exits although its stdin stays open.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            panic!("still running 20 s after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let o = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(code(&o), 75, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("stopped by SIGTERM"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "the spool is deleted"
    );
    assert!(s.messages().is_empty());
}

#[tokio::test]
async fn a_lost_comma_cannot_drop_a_visible_recipient() {
    // mail-parser reads `a@example.org Bcc: h@example.org` as a group holding only h: a would be
    // shown in To and not get the message.
    let message = "To: a@example.org\n\tBcc: h@example.org\nSubject: x\n\nbody\n";
    let (o, sent) = try_send(&["-t"], message).await;
    assert_eq!(code(&o), 65, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("the To field shows \"a@example.org\""),
        "{}",
        text(&o.stderr)
    );
    assert!(sent.is_empty());
    // Without -t the header chooses nobody, so it is sent as it is.
    let (o, sent) = try_send(&["x@example.org"], message).await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(sent[0].rcpt_to, ["x@example.org"]);
}

/// The spool file is read again for a retry: a temporary failure after the content costs nothing.
#[tokio::test]
async fn a_spooled_message_is_sent_again_after_a_temporary_failure() {
    let s = sink(&["data-end#1=451 4.3.0 try again"]).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut message = b"To: b@example.org\nSubject: big\n\n".to_vec();
    message.extend(std::iter::repeat_n(b"0123456789abcdef\n".as_slice(), 400_000).flatten());
    let o = Run::new(["sendmail", "-t", "-v"])
        .env("SQUALL_URL", url(&s))
        .env("TMPDIR", tmp.path())
        .stdin(message.clone())
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("451 4.3.0 try again"),
        "the first attempt failed"
    );
    let m = s.take_messages().pop().expect("the second attempt arrived");
    let body = &message[b"To: b@example.org\nSubject: big\n\n".len()..];
    assert!(
        m.data.ends_with(&squall_proto::data::normalize(body)),
        "the whole body, again"
    );
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

/// A signal sendmail was started with ignored (as `nohup` does with SIGHUP) stays ignored.
#[tokio::test]
async fn an_ignored_signal_stays_ignored() {
    use std::io::Write;
    let s = sink(&[]).await;
    let home = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("sh")
        .args([
            "-c",
            "trap '' TERM; exec \"$0\" sendmail -t",
            env!("CARGO_BIN_EXE_squall"),
        ])
        .env("SQUALL_URL", url(&s))
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"To: b@example.org\n\nstill here\n").unwrap();
    signals_settled(child.id());
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "still running");
    drop(stdin);
    let o = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(s.messages().len(), 1);
}

/// Waits until the process `pid` is `squall` and has chosen what to do with SIGINT, SIGTERM and
/// SIGHUP (each caught or ignored, as Linux's /proc tells), instead of sleeping for a guess: on
/// a loaded machine a signal sent after a fixed sleep could reach the shell before its `trap`,
/// or squall before it looked. Without /proc, sleeps 300 ms.
fn signals_settled(pid: u32) {
    use std::time::{Duration, Instant};
    if !std::path::Path::new("/proc/self/status").exists() {
        std::thread::sleep(Duration::from_millis(300));
        return;
    }
    let squall = std::fs::canonicalize(env!("CARGO_BIN_EXE_squall")).unwrap();
    let mask = |status: &str, field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
            .unwrap_or(0)
    };
    // SIGHUP, SIGINT and SIGTERM (signal n is bit n-1).
    let watched: u64 = (1 << 0) | (1 << 1) | (1 << 14);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        let settled = mask(&status, "SigCgt:") | mask(&status, "SigIgn:");
        if exe.as_ref() == Some(&squall) && settled & watched == watched {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "process {pid} ({exe:?}) has not set up its signals after 30 s: {status}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
