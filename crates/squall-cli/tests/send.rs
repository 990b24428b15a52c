//! `squall send` as people coming from mail(1), swaks and msmtp type it (issue 18), and as an
//! attacker would: each form runs the binary against an in-process sink and checks what the sink
//! stored, envelope and headers.

use std::path::Path;
use std::process::Output;

use mail_parser::MimeHeaders;
use squall_sink::{ReceivedMessage, Sink, SinkHandle};

mod common;
use common::{Run, code, text};

async fn sink() -> SinkHandle {
    Sink::builder().start().await.unwrap()
}

/// `squall send --server SINK ARGS…`, with `stdin` piped in (else /dev/null).
async fn send(s: &SinkHandle, args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut argv = vec!["send", "--server"];
    let addr = s.addr().to_string();
    argv.push(&addr);
    argv.extend_from_slice(args);
    let mut run = Run::new(&argv);
    if let Some(bytes) = stdin {
        run = run.stdin(bytes.to_vec());
    }
    run.run().await
}

fn parse(m: &ReceivedMessage) -> mail_parser::Message<'_> {
    mail_parser::MessageParser::default()
        .parse(&m.data)
        .expect("a message")
}

/// The raw header section, as a string.
fn head(m: &ReceivedMessage) -> String {
    let data = text(&m.data);
    data[..data.find("\r\n\r\n").expect("a blank line")].to_string()
}

fn ok(o: &Output) {
    assert_eq!(
        code(o),
        0,
        "stdout: {}\nstderr: {}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// Issue 18, item 1: display names, quoted with commas and escaped quotes, in every address
/// flag: the envelope gets the address, the header the name (RFC 2047 when not ASCII).
#[tokio::test]
async fn display_names_go_in_the_header_and_addresses_in_the_envelope() {
    let s = sink().await;
    let o = send(
        &s,
        &[
            "--from",
            "Ålice Ünïcode <alice@example.com>",
            "--to",
            r#""Doe, J. \"JD\"" <j@example.com>"#,
            "--cc",
            "Carol <carol@example.com>",
            "--bcc",
            "Secret Sam <sam@example.com>",
            "--reply-to",
            "Help Desk <help@example.com>",
            "--subject",
            "Grüße",
            "--body",
            "hi",
        ],
        None,
    )
    .await;
    ok(&o);
    let m = &s.messages()[0];
    assert_eq!(m.mail_from, "alice@example.com");
    assert_eq!(
        m.rcpt_to,
        ["j@example.com", "carol@example.com", "sam@example.com"]
    );
    let head = head(m);
    assert!(head.is_ascii(), "names are RFC 2047-encoded: {head}");
    assert!(head.contains("=?utf-8?"), "{head}");
    assert!(
        !head.contains("sam@example.com") && !head.contains("Bcc"),
        "{head}"
    );
    let p = parse(m);
    let first = |a: Option<&mail_parser::Address<'_>>| {
        let a = a.unwrap().first().unwrap();
        (a.name().map(str::to_string), a.address().map(str::to_string))
    };
    assert_eq!(
        first(p.from()),
        (Some("Ålice Ünïcode".into()), Some("alice@example.com".into()))
    );
    assert_eq!(
        first(p.to()),
        (Some(r#"Doe, J. "JD""#.into()), Some("j@example.com".into()))
    );
    assert_eq!(first(p.cc()).0.as_deref(), Some("Carol"));
    assert_eq!(
        first(p.reply_to()),
        (Some("Help Desk".into()), Some("help@example.com".into()))
    );
    assert_eq!(p.subject(), Some("Grüße"));
}

/// Issue 18, item 2: RFC 5322 lists and groups in each address flag, each address one RCPT.
#[tokio::test]
async fn lists_and_groups_are_split_into_recipients() {
    let s = sink().await;
    let o = send(
        &s,
        &[
            "--from",
            "a@example.com",
            "--to",
            "b@example.com, c@example.com",
            "--to",
            r#"Team: d@example.com, "E, F" <e@example.com>;"#,
            "--cc",
            "g@example.com,h@example.com",
            "--bcc",
            "x@example.com, Y <y@example.com>, B@example.com",
            "--body",
            "x",
        ],
        None,
    )
    .await;
    ok(&o);
    let m = &s.messages()[0];
    assert_eq!(
        m.rcpt_to,
        [
            "b@example.com",
            "c@example.com",
            "d@example.com",
            "e@example.com",
            "g@example.com",
            "h@example.com",
            "x@example.com",
            "y@example.com"
        ],
        "an address given twice gets one RCPT"
    );
    let p = parse(m);
    let to: Vec<&str> = p.to().unwrap().iter().filter_map(|a| a.address()).collect();
    assert_eq!(
        to,
        ["b@example.com", "c@example.com", "d@example.com", "e@example.com"]
    );
    assert_eq!(p.cc().unwrap().iter().count(), 2);
    let head = head(m);
    assert!(
        !head.contains("x@example.com") && !head.contains("y@example.com"),
        "{head}"
    );
}

/// Issue 18, item 1: an account's `from` with a display name is the sender when --from is not
/// given.
#[tokio::test]
async fn an_accounts_from_may_have_a_display_name() {
    let s = sink().await;
    let o = Run::new(["send", "--to", "b@example.com", "--body", "x"])
        .accounts(&format!(
            "[accounts.local]\nserver = \"{}\"\ntls = \"none\"\nfrom = \"Mé Myself <me@example.org>\"\n",
            s.addr()
        ))
        .run()
        .await;
    ok(&o);
    let m = &s.messages()[0];
    assert_eq!(m.mail_from, "me@example.org");
    let p = parse(m);
    assert_eq!(p.from().unwrap().first().unwrap().name(), Some("Mé Myself"));
}

/// Issue 18, item 2: malformed input names the flag and the wrong part, shows the expected
/// form, exits 65, and sends nothing.
#[tokio::test]
async fn malformed_addresses_name_the_flag_the_part_and_the_form() {
    let s = sink().await;
    let form = "Name <name@example.org>";
    for (flag, value, says) in [
        (
            "--to",
            "b@example.com c@example.com",
            r#"--to "b@example.com, c@example.com""#,
        ),
        (
            "--to",
            "b@example.com;c@example.com",
            r#"--to "b@example.com, c@example.com""#,
        ),
        ("--cc", "Bob <bob@example.com", "'<' is not closed with '>'"),
        ("--bcc", "Ann <a@example.com> extra", r#"at "extra""#),
        (
            "--reply-to",
            "@example.com",
            "the local part (before the @) is empty",
        ),
        ("--to", "Team: a@example.com", "a group is not closed with ';'"),
        (
            "--from",
            "a@example.com, b@example.com",
            "2 addresses where one is expected",
        ),
        ("--to", "", "no address"),
    ] {
        let mut args = vec!["--body", "x", flag, value];
        if flag != "--from" {
            args.extend(["--from", "a@example.com"]);
        }
        if flag != "--to" {
            args.extend(["--to", "b@example.com"]);
        }
        let o = send(&s, &args, None).await;
        let err = text(&o.stderr);
        assert_eq!(code(&o), 65, "{flag} {value:?}: {err}");
        assert!(err.starts_with(&format!("squall: {flag}: ")), "{err}");
        assert!(err.contains(says), "{flag} {value:?} should say {says:?}: {err}");
        assert!(
            [
                form,
                "such as Alice <alice@example.org>",
                "separate them with commas"
            ]
            .iter()
            .any(|f| err.contains(f)),
            "the expected form: {err}"
        );
    }
    assert!(s.messages().is_empty());
}

/// Issue 18, item 3: with no --body or --body-file and stdin not a terminal, stdin is the body;
/// `--body -` and `--body-file -` mean stdin too.
#[tokio::test]
async fn the_body_comes_from_stdin() {
    let s = sink().await;
    let base = ["--from", "a@example.com", "--to", "b@example.com"];
    for extra in [&[][..], &["--body", "-"], &["--body-file", "-"]] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let o = send(&s, &args, Some(b"hello from a pipe\nsecond line\n")).await;
        ok(&o);
    }
    for m in s.messages() {
        let p = parse(&m);
        assert_eq!(p.body_text(0).unwrap(), "hello from a pipe\r\nsecond line\r\n");
    }
    // `--body -` is not a literal dash any more; empty stdin (cron's /dev/null) is no text.
    assert!(!text(&s.messages()[1].data).contains("\r\n\r\n-"));
    let o = send(&s, &base, None).await;
    ok(&o);
}

/// Issue 18, item 3: a body from stdin combines with the subject, headers, HTML and attachments
/// as --body does, whether it is small (in memory) or large (spooled).
#[tokio::test]
async fn a_body_from_stdin_goes_with_every_other_flag() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("page.html");
    std::fs::write(&html, "<p>hi <img src=\"cid:logo\"></p>").unwrap();
    let logo = dir.path().join("logo.png");
    std::fs::write(&logo, b"\x89PNG\r\n\x1a\nfake").unwrap();
    let report = dir.path().join("report.txt");
    std::fs::write(&report, "the report\n").unwrap();
    let s = sink().await;
    let small = "Grüße aus der Pipe\n".repeat(10);
    // Past 1 MiB, non-ASCII and with an ESC and a NUL: spooled, and sent base64.
    let large = format!("{}\u{1b}[31m red \0 nul\n", "Grüße aus der Pipe\n".repeat(70_000));
    for body in [&small, &large] {
        let o = send(
            &s,
            &[
                "--from",
                "a@example.com",
                "--to",
                "b@example.com",
                "--subject",
                "piped",
                "--header",
                "X-Tag: 7",
                "--html-file",
                html.to_str().unwrap(),
                "--inline",
                &format!("logo={}", logo.display()),
                "--attach",
                report.to_str().unwrap(),
            ],
            Some(body.as_bytes()),
        )
        .await;
        ok(&o);
    }
    for (m, body) in s.messages().iter().zip([&small, &large]) {
        let p = parse(m);
        assert_eq!(p.subject(), Some("piped"));
        assert_eq!(p.header_raw("X-Tag").map(str::trim), Some("7"));
        let text_part = p.body_text(0).unwrap().replace("\r\n", "\n");
        assert_eq!(text_part, *body, "the text intact");
        assert_eq!(p.body_html(0).unwrap(), "<p>hi <img src=\"cid:logo\"></p>");
        let names: Vec<Option<&str>> = p.attachments().map(|a| a.attachment_name()).collect();
        assert_eq!(
            names,
            [None, Some("report.txt")],
            "the inline part, then the download"
        );
        let head = head(m);
        assert!(head.contains("Content-Type: multipart/mixed"), "{head}");
        assert!(text(&m.data).contains("multipart/alternative"));
        assert!(text(&m.data).contains("multipart/related"));
    }
}

/// Issue 18, item 3: a terminal on stdin with no body is a usage error that says how to give
/// one; `--body -` on a terminal is read, after saying how to end it. Run under `script`, which
/// gives the command a pseudo-terminal.
#[tokio::test]
async fn a_terminal_on_stdin_is_a_usage_error_not_a_wait() {
    let s = sink().await;
    let bin = env!("CARGO_BIN_EXE_squall");
    let server = s.addr().to_string();
    let under_script = |extra: &str| {
        Run::program(
            "timeout",
            [
                "20".to_string(),
                "script".into(),
                "-qec".into(),
                format!("{bin} send --server {server} --from a@example.com --to b@example.com {extra}"),
                "/dev/null".into(),
            ],
        )
    };
    let o = under_script("--subject nobody").run().await;
    assert_eq!(code(&o), 64, "{}", text(&o.stdout));
    let out = text(&o.stdout);
    assert!(out.contains("standard input is a terminal"), "{out}");
    assert!(out.contains("--body-file PATH, pipe it in"), "{out}");

    let o = under_script("--body -")
        .stdin(&b"typed on a terminal\n\x04"[..])
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
    assert!(
        text(&o.stdout).contains("end it with Ctrl-D"),
        "{}",
        text(&o.stdout)
    );
    let m = &s.messages()[0];
    assert_eq!(parse(m).body_text(0).unwrap(), "typed on a terminal\r\n");
}

/// Issue 18, item 3: 50 MB on stdin arrive intact, with bounded memory (measured with GNU time
/// when it is installed).
#[tokio::test]
async fn fifty_megabytes_from_stdin_arrive_intact_in_bounded_memory() {
    let s = sink().await;
    let line = format!("{}\n", "0123456789".repeat(7));
    let body = line.repeat(50_000_000 / line.len());
    let dir = tempfile::tempdir().unwrap();
    let rss = dir.path().join("rss");
    let time = Path::new("/usr/bin/time");
    let squall = env!("CARGO_BIN_EXE_squall");
    let server = s.addr().to_string();
    let mut argv = vec![
        squall,
        "send",
        "--server",
        &server,
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
        "--subject",
        "fifty",
    ];
    let measured = time.exists();
    let rss_path = rss.to_str().unwrap().to_string();
    let run = if measured {
        let mut with_time = vec!["-f", "%M", "-o", &rss_path];
        with_time.append(&mut argv);
        Run::program(time, with_time)
    } else {
        eprintln!("/usr/bin/time is not installed (apt-get install time): memory not measured");
        Run::program(squall, &argv[1..])
    };
    let o = run.stdin(body.clone()).run().await;
    ok(&o);
    let m = &s.messages()[0];
    let expected = body.replace('\n', "\r\n");
    assert!(m.data.ends_with(expected.as_bytes()), "the body intact");
    assert_eq!(m.data.len() - head(m).len() - 4, expected.len());
    if measured {
        let kib: u64 = std::fs::read_to_string(&rss).unwrap().trim().parse().unwrap();
        eprintln!("peak RSS sending 50 MB from stdin: {kib} KiB");
        assert!(kib < 48 * 1024, "peak RSS {kib} KiB for a 50 MB body");
    }
}

/// Issue 18, item 3 (attacked): the spool has no name in $TMPDIR, so a link planted there is
/// never followed and nothing is left behind.
#[tokio::test]
async fn the_spool_has_no_name_to_plant_a_link_at() {
    let s = sink().await;
    let tmp = tempfile::tempdir().unwrap();
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    let spool_dir = tmp.path().join("tmp");
    std::fs::create_dir(&spool_dir).unwrap();
    for name in ["squall-spool", ".tmp000000", "squall-body"] {
        std::os::unix::fs::symlink(&victim, spool_dir.join(name)).unwrap();
    }
    let listing = || -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(&spool_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let planted = listing();
    let body = format!("{}\n", "x".repeat(70)).repeat(50_000);
    let addr = s.addr().to_string();
    let run = Run::new([
        "send",
        "--server",
        &addr,
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
    ])
    .env("TMPDIR", &spool_dir)
    .stdin(body.clone());
    let watcher = {
        let spool_dir = spool_dir.clone();
        std::thread::spawn(move || {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..300 {
                for e in std::fs::read_dir(&spool_dir).unwrap() {
                    seen.insert(e.unwrap().file_name().to_string_lossy().into_owned());
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            seen
        })
    };
    let o = run.run().await;
    ok(&o);
    let seen: Vec<String> = watcher.join().unwrap().into_iter().collect();
    assert_eq!(seen, planted, "no spool name ever appeared in $TMPDIR");
    assert_eq!(listing(), planted);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    assert!(
        s.messages()[0]
            .data
            .ends_with(body.replace('\n', "\r\n").as_bytes())
    );
}

/// Issue 18, item 5: `--attach FILE;type=…;name=…`, and `--inline CID=FILE` for the HTML.
#[tokio::test]
async fn attachments_take_a_type_and_a_name_and_inline_parts_go_with_the_html() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("report.bin");
    std::fs::write(&bin, b"%PDF-1.4 not really").unwrap();
    let odd = dir.path().join("a;b.txt");
    std::fs::write(&odd, "semicolon in the name").unwrap();
    let html = dir.path().join("page.html");
    std::fs::write(&html, "<img src=\"cid:logo@example.org\">").unwrap();
    let logo = dir.path().join("logo.png");
    std::fs::write(&logo, b"\x89PNG\r\n\x1a\n").unwrap();
    let s = sink().await;
    let o = send(
        &s,
        &[
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
            "--body",
            "see attached",
            "--attach",
            &format!("{};type=application/pdf;name=Bericht Ü.pdf", bin.display()),
            "--attach",
            odd.to_str().unwrap(),
            "--html-file",
            html.to_str().unwrap(),
            "--inline",
            &format!("logo@example.org={}", logo.display()),
        ],
        None,
    )
    .await;
    ok(&o);
    let m = &s.messages()[0];
    let p = parse(m);
    let parts: Vec<(String, Option<&str>, Option<&str>)> = p
        .attachments()
        .map(|a| {
            let ct = a.content_type().unwrap();
            (
                format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")),
                a.attachment_name(),
                a.content_id(),
            )
        })
        .collect();
    assert_eq!(
        parts,
        [
            ("image/png".to_string(), None, Some("logo@example.org")),
            ("application/pdf".to_string(), Some("Bericht Ü.pdf"), None),
            ("text/plain".to_string(), Some("a;b.txt"), None),
        ]
    );
    assert!(text(&m.data).contains("multipart/related"));

    for (args, expected, says) in [
        (vec!["--attach", "/no/such/file.pdf"], 66, "cannot read it"),
        (
            vec!["--attach", "/no/such/file.pdf;nmae=x"],
            66,
            "the options are ;type=TYPE and ;name=NAME",
        ),
        (
            vec!["--attach", &format!("{};type=pdf", bin.display())],
            65,
            "is not TYPE/SUBTYPE",
        ),
        (
            vec!["--attach", &format!("{};type=", bin.display())],
            64,
            "PATH[;type=TYPE][;name=NAME]",
        ),
        (
            vec!["--html-file", html.to_str().unwrap(), "--inline", "logo.png"],
            64,
            "CID=PATH",
        ),
        (
            vec!["--inline", &format!("logo={}", logo.display())],
            64,
            "--html-file",
        ),
    ] {
        let mut argv = vec!["--from", "a@example.com", "--to", "b@example.com", "--body", "x"];
        argv.extend(args.iter().copied());
        let o = send(&s, &argv, None).await;
        assert_eq!(code(&o), expected, "{args:?}: {}", text(&o.stderr));
        assert!(text(&o.stderr).contains(says), "{args:?}: {}", text(&o.stderr));
    }
    assert_eq!(s.messages().len(), 1);
}

/// Issue 14 (the CLI half): DSN and REQUIRETLS options reach the envelope; ORCPT names each
/// recipient when DSN is asked for.
#[tokio::test]
async fn dsn_options_reach_the_envelope() {
    let s = sink().await;
    let base = [
        "--from",
        "a@example.com",
        "--to",
        "b@example.com, Ann <ann@example.com>",
        "--bcc",
        "c@example.com",
        "--body",
        "x",
    ];
    let with = |extra: &'static [&'static str]| base.iter().chain(extra).copied().collect::<Vec<_>>();
    ok(&send(
        &s,
        &with(&[
            "--notify",
            "success,failure",
            "--ret",
            "hdrs",
            "--envid",
            "batch 7+x",
        ]),
        None,
    )
    .await);
    ok(&send(&s, &with(&[]), None).await);
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("m.eml");
    std::fs::write(&raw, "Subject: raw\n\nraw\n").unwrap();
    ok(&send(
        &s,
        &[
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
            "--raw-file",
            raw.to_str().unwrap(),
            "--notify",
            "never",
        ],
        None,
    )
    .await);
    let m = s.messages();
    let mail: Vec<&str> = m[0]
        .mail_params
        .iter()
        .map(String::as_str)
        .filter(|p| !p.starts_with("SIZE="))
        .collect();
    assert_eq!(mail, ["RET=HDRS", "ENVID=batch+207+2Bx"]);
    assert_eq!(
        m[0].rcpt_to,
        ["b@example.com", "ann@example.com", "c@example.com"]
    );
    for (r, params) in m[0].rcpt_to.iter().zip(&m[0].rcpt_params) {
        assert_eq!(
            params,
            &["NOTIFY=SUCCESS,FAILURE".to_string(), format!("ORCPT=rfc822;{r}")]
        );
    }
    assert!(
        m[1].rcpt_params.iter().all(Vec::is_empty),
        "nothing asked, nothing sent"
    );
    assert!(
        m[1].mail_params.iter().all(|p| p.starts_with("SIZE=")),
        "{:?}",
        m[1].mail_params
    );
    assert_eq!(m[2].rcpt_params, [["NOTIFY=NEVER", "ORCPT=rfc822;b@example.com"]]);

    // A server without DSN gets the message without the options, as other clients send it.
    let no_dsn = Sink::builder().disable("DSN").start().await.unwrap();
    ok(&send(&no_dsn, &with(&["--notify", "failure"]), None).await);
    assert!(no_dsn.messages()[0].rcpt_params.iter().all(Vec::is_empty));

    // The dry run shows them as a DSN server gets them.
    let o = send(
        &s,
        &with(&["--notify", "delay", "--envid", "q", "--require-tls", "--dry-run"]),
        None,
    )
    .await;
    ok(&o);
    assert!(
        text(&o.stdout).starts_with(
            "MAIL FROM:<a@example.com> ENVID=q REQUIRETLS\n\
             RCPT TO:<b@example.com> NOTIFY=DELAY ORCPT=rfc822;b@example.com\n"
        ),
        "{}",
        text(&o.stdout)
    );
    let o = send(&s, &with(&["--ret", "full", "--dry-run", "--json"]), None).await;
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["mail_params"], serde_json::json!(["RET=FULL"]));
    assert_eq!(
        v["rcpt_params"][0],
        serde_json::json!(["ORCPT=rfc822;b@example.com"])
    );
}

/// Issue 14: `--require-tls` refuses to send over a session that cannot honour it (here: no
/// TLS, and no REQUIRETLS offered) before any content goes, with the exit code of other
/// content the server cannot take (8-bit without 8BITMIME): 65.
#[tokio::test]
async fn require_tls_refuses_a_session_without_it() {
    let s = sink().await;
    let o = send(
        &s,
        &[
            "--from",
            "a@example.com",
            "--to",
            "b@example.com",
            "--body",
            "x",
            "--require-tls",
        ],
        None,
    )
    .await;
    assert_eq!(code(&o), 65, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("REQUIRETLS"), "{}", text(&o.stderr));
    assert!(s.messages().is_empty());
}

/// Issue 18, item 4: a name that does not exist exits 68 and names the lookup; a lookup that
/// fails for now (no network: a new network namespace) exits 75 and says to try later.
#[tokio::test]
async fn an_unknown_host_exits_68_and_a_failed_lookup_75() {
    let args = [
        "send",
        "--server",
        "no-such-host.invalid",
        "--from",
        "a@example.com",
        "--to",
        "b@example.com",
        "--body",
        "x",
        "--no-retry",
    ];
    let o = Run::new(args).run().await;
    let err = text(&o.stderr);
    if err.contains("Temporary failure") {
        eprintln!("no DNS server answers here: 68 for a name that does not exist is not checked");
    } else {
        assert_eq!(code(&o), 68, "{err}");
        assert!(
            err.contains("could not look up the name of no-such-host.invalid"),
            "{err}"
        );
        assert!(err.contains("check the spelling of the host"), "{err}");
    }
    // -r (a user namespace) lets an unprivileged user make the network namespace.
    let mut unshared = vec!["-r", "-n", env!("CARGO_BIN_EXE_squall")];
    unshared.extend(args);
    unshared[5] = "mail.example.org";
    let o = Run::program("unshare", &unshared).run().await;
    let err = text(&o.stderr);
    if code(&o) == 1 && err.starts_with("unshare:") {
        eprintln!("cannot make a network namespace here ({err}): 75 is not checked");
        return;
    }
    assert_eq!(code(&o), 75, "{err}");
    assert!(
        err.contains("could not look up the name of mail.example.org"),
        "{err}"
    );
    assert!(err.contains("try again later"), "{err}");
}

/// As an attacker would: a CR, LF or ESC in any flag is refused before anything is sent, and
/// the error shows it escaped, never raw (NUL cannot pass through argv; in the body it is sent
/// base64, see `a_body_from_stdin_goes_with_every_other_flag`).
#[tokio::test]
async fn every_flag_refuses_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.txt");
    std::fs::write(&file, "x").unwrap();
    let html = dir.path().join("p.html");
    std::fs::write(&html, "<p>").unwrap();
    let f = file.to_str().unwrap().to_string();
    let s = sink().await;
    for bad in [
        "\r\nBcc: evil@example.net",
        "\nRCPT TO:<evil@example.net>",
        "\u{1b}[2J\u{1b}]0;pwned\u{7}",
    ] {
        let cases: Vec<(&str, String)> = vec![
            ("--from", format!("a{bad}@example.com")),
            ("--from", format!("Name{bad} <a@example.com>")),
            ("--to", format!("b@example.com{bad}")),
            ("--cc", format!("Cc{bad} <c@example.com>")),
            ("--bcc", format!("d{bad}@example.com")),
            ("--reply-to", format!("R{bad} <r@example.com>")),
            ("--subject", format!("hi{bad}")),
            ("--header", format!("X-A: v{bad}")),
            ("--header", format!("X{bad}: v")),
            ("--attach", format!("{f};name=n{bad}.txt")),
            ("--attach", format!("{f};type=text/plain{bad}")),
            ("--inline", format!("c{bad}={f}")),
            ("--notify", format!("failure{bad}")),
            ("--ret", format!("hdrs{bad}")),
            ("--envid", format!("id{bad}")),
        ];
        for (flag, value) in cases {
            let mut argv = vec!["--body", "x"];
            if flag != "--from" {
                argv.extend(["--from", "a@example.com"]);
            }
            if flag != "--to" {
                argv.extend(["--to", "b@example.com"]);
            }
            if flag == "--inline" {
                argv.extend(["--html-file", html.to_str().unwrap()]);
            }
            argv.extend([flag, &value]);
            let o = send(&s, &argv, None).await;
            let err = text(&o.stderr);
            assert!(
                [64, 65].contains(&code(&o)),
                "{flag} {value:?}: exit {}: {err}",
                code(&o)
            );
            let shown = err.strip_suffix('\n').unwrap_or(&err);
            assert!(
                !shown.contains(['\r', '\n', '\u{1b}', '\u{7}']),
                "{flag} {value:?} shown raw: {err:?}"
            );
        }
    }
    assert!(s.messages().is_empty(), "nothing was sent");
}
