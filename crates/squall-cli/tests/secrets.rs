//! A password given in a URL never shows in any output: not in errors, not in `--json`, not in
//! reports, whether the URL is valid or not; and a password on the command line draws a warning.

use std::process::Output;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use squall_sink::{Sink, SinkHandle};

mod common;
use common::{Run, code, text};

/// In every generated password; no output may hold it.
const MARKER: &str = "Pw0rdMARK";

/// The commands that read a URL, each run with `url`: every output they give.
fn every_output(url: &str) -> Vec<(&'static str, Output)> {
    let send = |json: bool| {
        let mut args = vec![
            "send",
            "--url",
            url,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
        ];
        args.extend([
            "--subject",
            "s",
            "--body",
            "b",
            "--no-retry",
            "--timeout",
            "5",
            "--transcript",
        ]);
        if json {
            args.push("--json");
        }
        Run::new(args).output()
    };
    vec![
        ("send", send(false)),
        ("send --json", send(true)),
        (
            "config check",
            Run::new(["config", "check", "--url", url, "--timeout", "5", "--transcript"]).output(),
        ),
        (
            "config check --json",
            Run::new(["config", "check", "--url", url, "--timeout", "5", "--json"]).output(),
        ),
        (
            "bulk",
            Run::new([
                "bulk",
                "--url",
                url,
                "--from",
                "a@example.org",
                "--to",
                "b@example.org",
                "--generate",
                "1",
                "--no-retry",
                "--timeout",
                "5",
            ])
            .output(),
        ),
        (
            "sendmail",
            Run::new(["sendmail", "-t", "-v"])
                .env("SQUALL_URL", url)
                .stdin("To: b@example.org\nSubject: s\n\nbody\n")
                .output(),
        ),
    ]
}

/// URLs with a password: valid ones that reach a sink (which refuses the login, or is not
/// offered it in clear text), and broken ones of every sort.
fn urls(sink: String) -> impl Strategy<Value = (String, String)> {
    let scheme = prop::sample::select(vec![
        "smtp://", "smtp://", "smtp://", "smtps://", "SMTP://", "smtp:/", "smtp//", "", "http://", "x y://",
    ]);
    let user = "[a-z][a-z0-9.%-]{0,6}";
    // Pieces a password is made of: the ones a URL parser might stop at, percent-encodings
    // (valid and not), spaces and non-ASCII.
    let piece = prop::sample::select(vec![
        "?", "/", "@", ":", "#", "&", "=", "%41", "%zz", "%", " ", "é", "tls=none", "//", "[", "]", "x",
    ]);
    let password = (
        prop::collection::vec(piece.clone(), 0..4),
        prop::collection::vec(piece, 0..4),
    )
        .prop_map(|(a, b)| format!("{}{MARKER}{}", a.concat(), b.concat()));
    let host = prop::sample::select(vec![
        sink.clone(),
        sink.clone(),
        sink,
        "127.0.0.1:99999".into(),
        "[::1".into(),
        String::new(),
        "127.0.0.1:x".into(),
    ]);
    let tail = prop::sample::select(vec![
        "?tls=none",
        "?tls=none&insecure-auth=true",
        "?tls=none&insecure-auth=true&auth=PLAIN",
        "?tls=none&insecure-auth=true&auth=LOGIN",
        "/?tls=none",
        "",
        "?tls=maybe",
        "?color=1",
    ]);
    (scheme, user, password, host, tail).prop_map(|(scheme, user, password, host, tail)| {
        (format!("{scheme}{user}:{password}@{host}{tail}"), password)
    })
}

fn assert_never_shown(url: &str, password: &str, outputs: &[(&str, Output)]) -> Result<(), TestCaseError> {
    for (command, o) in outputs {
        for (stream, bytes) in [("stdout", &o.stdout), ("stderr", &o.stderr)] {
            let shown = text(bytes);
            prop_assert!(
                !shown.contains(MARKER) && !shown.contains(password),
                "{command} with {url:?} shows the password on {stream}:\n{shown}"
            );
        }
    }
    Ok(())
}

async fn refusing_sink() -> SinkHandle {
    // AUTH offered in clear text, for the URLs that allow it; no password is ever right.
    Sink::builder()
        .user("someone", "else")
        .auth_before_tls(true)
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn url_passwords_never_show_in_any_output() {
    let sink = refusing_sink().await;
    let addr = sink.addr().to_string();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    tokio::task::spawn_blocking(move || {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        runner
            .run(&urls(addr), |(url, password)| {
                assert_never_shown(&url, &password, &every_output(&url))
            })
            .unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn url_password_after_question_mark_is_redacted() {
    // The URL, with the port of a sink: the password is `abc?defSECRET`.
    let sink = refusing_sink().await;
    let url = format!(
        "smtp://joe:abc?defSECRET@{}?tls=none&insecure-auth=true",
        sink.addr()
    );
    let outputs = tokio::task::spawn_blocking({
        let url = url.clone();
        move || every_output(&url)
    })
    .await
    .unwrap();
    for (command, o) in &outputs {
        let all = format!("{}{}", text(&o.stdout), text(&o.stderr));
        assert!(
            !all.contains("SECRET") && !all.contains("abc?def"),
            "{command}: {all}"
        );
        assert_ne!(code(o), 0, "{command}: the sink refuses the login");
    }
    let (_, send) = &outputs[0];
    assert!(
        text(&send.stderr).contains("535"),
        "the login was tried: {}",
        text(&send.stderr)
    );
    // And the one that failed before: a URL that does not parse, shown in its error redacted.
    let o = Run::new([
        "send",
        "--json",
        "--url",
        "smtp://joe:abc?defSECRET@host:99999",
        "--to",
        "b@example.org",
    ])
    .output();
    assert!(
        text(&o.stdout).contains("smtp://joe:***@host:99999"),
        "{}",
        text(&o.stdout)
    );
}

/// stderr of `squall ARGS`.
fn stderr_of(args: &[&str]) -> String {
    text(&Run::new(args).output().stderr)
}

#[test]
fn password_in_url_warns_once_about_the_process_list() {
    let url = "smtp://joe:hunter2@127.0.0.1:99999";
    for args in [
        &[
            "send",
            "--url",
            url,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--body",
            "x",
        ][..],
        &[
            "send",
            "--json",
            "--url",
            url,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--body",
            "x",
        ],
        &["config", "check", "--url", url],
        &[
            "bulk",
            "--url",
            url,
            "--from",
            "a@example.org",
            "--to",
            "b@example.org",
            "--generate",
            "1",
        ],
    ] {
        let err = stderr_of(args);
        assert_eq!(err.matches("warning:").count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("can be read by other users")
                && err.contains("--password-env")
                && err.contains("--password-file")
                && err.contains("account"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
    // No password, no warning; SQUALL_URL is not on the command line, so no warning either.
    assert!(!stderr_of(&["config", "check", "--url", "smtp://127.0.0.1:99999"]).contains("warning"));
    let o = Run::new(["config", "check"]).env("SQUALL_URL", url).output();
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
}

#[test]
fn a_password_in_server_is_not_echoed() {
    let err = stderr_of(&["config", "check", "--server", "joe:hunter2@mx.example.org"]);
    assert!(!err.contains("hunter2"), "{err}");
    assert!(err.contains("--server takes HOST[:PORT]"), "{err}");
}
