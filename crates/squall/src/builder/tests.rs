//! The builder's resolution of ports, TLS and contradictions.

use super::*;

#[test]
fn ports_and_tls_go_together() {
    let r = |b: ClientBuilder| {
        let c = b.resolve().unwrap();
        (c.port, c.session.get_tls())
    };
    assert_eq!(r(ClientBuilder::new("mx")), (25, Tls::Opportunistic));
    assert_eq!(r(ClientBuilder::new("mx").port(465)), (465, Tls::Implicit));
    assert_eq!(r(ClientBuilder::new("mx").port(587)), (587, Tls::StartTls));
    assert_eq!(r(ClientBuilder::new("mx").port(2525)), (2525, Tls::Opportunistic));
    assert_eq!(
        r(ClientBuilder::new("mx").tls(Tls::Implicit)),
        (465, Tls::Implicit)
    );
    assert_eq!(
        r(ClientBuilder::new("mx").credentials("u", "p")),
        (587, Tls::StartTls)
    );
    assert_eq!(
        r(ClientBuilder::new("mx").port(25).tls(Tls::None)),
        (25, Tls::None)
    );
}

#[test]
fn contradictions_are_refused() {
    let e = ClientBuilder::new("mx")
        .tls(Tls::None)
        .credentials("u", "p")
        .resolve()
        .err()
        .unwrap();
    assert!(e.to_string().contains("clear text"), "{e}");
    assert!(
        ClientBuilder::new("mx")
            .tls(Tls::None)
            .credentials("u", "p")
            .allow_insecure_auth(true)
            .resolve()
            .is_ok()
    );
    assert!(
        ClientBuilder::new("mx")
            .credentials("u\r\n", "p")
            .resolve()
            .is_err()
    );
    assert!(ClientBuilder::new("mx").ehlo("bad name").resolve().is_err());
    assert!(
        ClientBuilder::new("mx")
            .ehlo("mail.bücher.example")
            .resolve()
            .is_err()
    );
    assert!(ClientBuilder::new("mx x").resolve().is_err());
    assert!(ClientBuilder::new("mx").rate_limit(f64::NAN).resolve().is_err());
}

#[test]
fn debug_hides_the_password() {
    let b = ClientBuilder::new("mx").credentials("joe", "hunter2");
    assert!(!format!("{b:?}").contains("hunter2"));
}

#[test]
fn one_default_for_each_session_option() {
    // The builder's protocol options are the core's: same defaults, nothing restated.
    let c = ClientBuilder::new("mx").resolve().unwrap();
    assert_eq!(
        c.session.get_max_in_flight(),
        SessionConfig::new().get_max_in_flight()
    );
    assert_eq!(c.session.get_timeouts(), SessionConfig::new().get_timeouts());
}
