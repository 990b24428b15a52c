//! `squall send` as people coming from mail(1), swaks and msmtp type it (issue 18), and as an
//! attacker would: each form runs the binary against an in-process sink and checks what the sink
//! stored, envelope and headers.

mod common;
use common::{Run, code, text};

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
