//! The accounts file from the command line: which server wins, errors that point at the line,
//! and `squall config check` against a submission server.

use squall_sink::{Sink, SinkHandle};

mod common;
use common::{Run, code, text};

const PASSWORD: &str = "s3cret-pw";

async fn plain_sink() -> SinkHandle {
    Sink::builder().start().await.unwrap()
}

fn send_args(extra: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = [
        "send",
        "--to",
        "x@example.org",
        "--subject",
        "hi",
        "--body",
        "hello",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}

fn local(name: &str, s: &SinkHandle) -> String {
    format!(
        "[accounts.{name}]\nserver = \"{}\"\ntls = \"none\"\nfrom = \"{name}@example.org\"\n",
        s.addr()
    )
}

#[tokio::test]
async fn flags_then_squall_url_then_the_default_account() {
    let (a, b, c) = (plain_sink().await, plain_sink().await, plain_sink().await);
    let file = format!("default = \"a\"\n{}{}", local("a", &a), local("b", &b));
    // The default account, with its from.
    let o = Run::new(send_args(&[])).accounts(&file).run().await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(a.messages()[0].mail_from, "a@example.org");
    // --account picks another.
    let o = Run::new(send_args(&["--account", "b"]))
        .accounts(&file)
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(b.messages()[0].mail_from, "b@example.org");
    // SQUALL_URL overrides the default account (but not --account).
    let url = format!("smtp://{}?tls=none", c.addr());
    let o = Run::new(send_args(&["--from", "me@example.org"]))
        .accounts(&file)
        .env("SQUALL_URL", &url)
        .run()
        .await;
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert_eq!(c.delivered(), 1);
    let o = Run::new(send_args(&["--account", "b"]))
        .accounts(&file)
        .env("SQUALL_URL", &url)
        .run()
        .await;
    assert_eq!(code(&o), 0);
    assert_eq!((b.delivered(), c.delivered()), (2, 1));
    // --server wins over everything.
    let o = Run::new(send_args(&[
        "--server",
        &a.addr().to_string(),
        "--tls",
        "none",
        "--from",
        "f@example.org",
    ]))
    .accounts(&file)
    .env("SQUALL_URL", &url)
    .run()
    .await;
    assert_eq!(code(&o), 0);
    assert_eq!(a.delivered(), 2);
    // An account that is not there.
    let o = Run::new(send_args(&["--account", "nope"]))
        .accounts(&file)
        .run()
        .await;
    assert_eq!(code(&o), 78);
    assert!(
        text(&o.stderr).contains("there is no account \"nope\" (accounts: a, b)"),
        "{}",
        text(&o.stderr)
    );
}

#[tokio::test]
async fn a_broken_file_is_named_with_its_line_and_key() {
    let file = "default = \"work\"\n\n[accounts.work]\nserver = \"mail.example.org\"\ntls = \"sometimes\"\n";
    for args in [send_args(&[]), vec!["config".into(), "check".into()]] {
        let r = Run::new(args).accounts(file);
        let path = r.config_dir().join("config.toml");
        let o = r.run().await;
        assert_eq!(code(&o), 78);
        let err = text(&o.stderr);
        assert!(
            err.contains(&format!("{}:5: tls: unknown variant `sometimes`", path.display())),
            "{err}"
        );
    }
    let o = Run::new(["config", "path"]).accounts(file).run().await;
    assert_eq!(code(&o), 78, "`config path` also checks the file");
    assert!(
        text(&o.stdout).ends_with("squall/config.toml\n"),
        "{}",
        text(&o.stdout)
    );
}

#[tokio::test]
async fn config_check_reports_tls_and_auth_and_sends_nothing() {
    let (s, _dir, ca_file) = common::submission_sink("me@example.org", PASSWORD).await;
    let account = |password_command: &str| {
        format!(
            "[accounts.sub]\nserver = \"localhost:{}\"\ntls = \"starttls\"\nca_file = \"{}\"\nuser = \"me@example.org\"\npassword_command = \"{password_command}\"\n",
            s.addr().port(),
            ca_file.display()
        )
    };
    let o = Run::new(["config", "check"])
        .accounts(&account(&format!("echo {PASSWORD}")))
        .run()
        .await;
    let out = text(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", text(&o.stderr));
    assert!(out.contains("TLS        TLS 1.3"), "{out}");
    assert!(out.contains("AUTH       logged in with"), "{out}");
    assert!(out.contains("ok: ready to send"), "{out}");
    assert!(!out.contains(PASSWORD));
    assert_eq!(s.delivered(), 0);

    let o = Run::new(["config", "check", "--json", "--transcript"])
        .accounts(&account("echo wrong"))
        .run()
        .await;
    assert_eq!(code(&o), 77, "refused credentials: {}", text(&o.stdout));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["error"]["stage"], "auth");
    assert!(
        !text(&o.stderr).contains("wrong"),
        "the transcript redacts the secret"
    );

    let o = Run::new(["config", "check"])
        .accounts(&account("exit 1"))
        .run()
        .await;
    assert_eq!(code(&o), 78);
    assert!(
        text(&o.stderr).contains("password_command failed"),
        "{}",
        text(&o.stderr)
    );
}
