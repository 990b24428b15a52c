//! The CLI's flags for issue 15's paths, against the real peers `scripts/test.sh` starts:
//! `--lmtp` to Dovecot (`SQUALL_PEER_DOVECOT_LMTP`) and `--proxy` through Dante
//! (`SQUALL_PEER_DANTE_PASSWORD`). Without the variables (a plain `cargo test`) they say they
//! are skipped; under `SQUALL_PEERS_REQUIRED` that is a failure.

use std::process::{Command, Output};

fn peer(var: &str, skip: &str) -> Option<String> {
    if let Ok(v) = std::env::var(var) {
        return Some(v);
    }
    if let Ok(why) = std::env::var(skip) {
        eprintln!("skipped: {var} is not set: {why}");
        return None;
    }
    assert!(
        std::env::var_os("SQUALL_PEERS_REQUIRED").is_none(),
        "{var} is not set although peers are required"
    );
    eprintln!("skipped: {var} is not set (scripts/test.sh starts the peers)");
    None
}

fn squall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(args)
        .env_remove("SQUALL_URL")
        .env_remove("SQUALL_PROXY")
        .output()
        .unwrap()
}

#[test]
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
