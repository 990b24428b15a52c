//! The CLI's flags for issue 15's paths, against the real peers `scripts/test.sh` starts:
//! `--lmtp` to Dovecot (`SQUALL_PEER_DOVECOT_LMTP`), `--proxy` through Dante
//! (`SQUALL_PEER_DANTE_PASSWORD`) and `--direct` with dnsmasq's test zones
//! (`SQUALL_PEER_DNSMASQ`). A plain `cargo test` reports them ignored; `scripts/test.sh` runs
//! them with `--include-ignored`.

use std::process::{Command, Output};

mod common;
use common::peer;

fn squall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(args)
        .env_remove("SQUALL_URL")
        .env_remove("SQUALL_PROXY")
        .output()
        .unwrap()
}

#[test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
fn lmtp_flag_reports_the_mailbox_that_refused_after_the_data() {
    let Some(server) = peer("SQUALL_PEER_DOVECOT_LMTP", "SQUALL_PEER_DOVECOT_LMTP_SKIP") else {
        return;
    };
    let o = squall(&[
        "send",
        "--lmtp",
        "--server",
        &server,
        "--tls",
        "none",
        "--no-retry",
        "--from",
        "a@example.org",
        "--to",
        "alice@dovecot.test",
        "--to",
        "full@dovecot.test",
        "--subject",
        "cli lmtp",
        "--body",
        "x",
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(text.contains("full@dovecot.test"), "{text}");
    assert!(text.contains("552"), "{text}");
    // Delivered to alice, so not a failure of the whole message.
    assert_ne!(o.status.code(), Some(69), "{text}");
}

#[test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
fn proxy_flag_with_a_wrong_password_says_so_without_showing_it() {
    let Some(proxy) = peer("SQUALL_PEER_DANTE_PASSWORD", "SQUALL_PEER_DANTE_SKIP") else {
        return;
    };
    let url = format!("socks5://squall-socks:WRONGpw@{proxy}");
    let o = squall(&[
        "send",
        "--proxy",
        &url,
        "--server",
        "127.0.0.1:2",
        "--tls",
        "none",
        "--no-retry",
        "--from",
        "a@example.org",
        "--to",
        "b@example.org",
        "--body",
        "x",
    ]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!o.status.success(), "{text}");
    assert!(
        text.contains("the proxy refused the user name or password"),
        "{text}"
    );
    assert!(!text.contains("WRONGpw"), "{text}");
}

#[tokio::test]
#[ignore = "needs the real peer servers: scripts/test.sh starts them and runs this"]
async fn direct_flag_delivers_by_mx_and_reports_a_null_mx() {
    let Some(dns) = peer("SQUALL_PEER_DNSMASQ", "SQUALL_PEER_DNSMASQ_SKIP") else {
        return;
    };
    // implicit.test has no MX and the address 127.0.0.4.
    let sink = squall_sink::Sink::builder()
        .listen("127.0.0.4:0".parse().unwrap())
        .start()
        .await
        .unwrap();
    let port = sink.addr().port().to_string();
    let args = |to: &str| -> Vec<String> {
        [
            "send",
            "--direct",
            "--dns",
            &dns,
            "--mx-port",
            &port,
            "--from",
            "a@example.org",
            "--to",
            to,
            "--body",
            "x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let run = |a: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            squall(&a)
        })
    };
    let o = run(args("x@implicit.test")).await.unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        out.contains("delivered to x@implicit.test via implicit.test"),
        "{out}"
    );
    assert_eq!(sink.take_messages().len(), 1);

    let o = run(args("x@null.test")).await.unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("null MX"), "{err}");

    // --json: one object, a domain each, delivered or not, with the same exit code.
    let mut a = args("x@implicit.test");
    a.extend(["--to", "y@null.test", "--json"].map(String::from));
    let o = run(a).await.unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect(&out);
    let domains = v["domains"].as_array().expect(&out);
    assert_eq!(domains.len(), 2, "{out}");
    assert_eq!(domains[0]["domain"], "implicit.test", "{out}");
    assert_eq!(domains[0]["delivered"], true, "{out}");
    assert_eq!(domains[0]["mx"], "implicit.test", "{out}");
    assert_eq!(domains[0]["tls_policy"], "opportunistic", "{out}");
    assert!(domains[0]["receipt"]["accepted"].is_array(), "{out}");
    assert_eq!(domains[1]["domain"], "null.test", "{out}");
    assert_eq!(domains[1]["delivered"], false, "{out}");
    assert!(
        domains[1]["error"]["text"]
            .as_str()
            .unwrap_or_default()
            .contains("null MX")
            || domains[1]["error"].to_string().contains("null MX"),
        "{out}"
    );
    assert_ne!(o.status.code(), Some(0), "{out}");
    assert_eq!(sink.take_messages().len(), 1);
}
