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

#[test]
fn a_host_may_carry_its_port() {
    let r = |b: ClientBuilder| b.resolve().map(|c| (c.host.clone(), c.port));
    assert_eq!(
        r(ClientBuilder::new("127.0.0.1:2525")).unwrap(),
        ("127.0.0.1".into(), 2525)
    );
    assert_eq!(
        r(ClientBuilder::new("mx.example.org:587")).unwrap(),
        ("mx.example.org".into(), 587)
    );
    assert_eq!(r(ClientBuilder::new("[::1]:2525")).unwrap(), ("::1".into(), 2525));
    assert_eq!(r(ClientBuilder::new("[::1]")).unwrap(), ("::1".into(), 25));
    assert_eq!(r(ClientBuilder::new("::1")).unwrap(), ("::1".into(), 25));
    assert_eq!(
        r(ClientBuilder::new("mx:2525").port(2525)).unwrap(),
        ("mx".into(), 2525)
    );
    let e = r(ClientBuilder::new("mx:2525").port(25)).unwrap_err();
    assert!(e.to_string().contains("keep one"), "{e}");
    for bad in ["mx:", "mx:smtp", ":25", "mx:99999", "[::1]x"] {
        let e = r(ClientBuilder::new(bad)).unwrap_err();
        assert!(e.to_string().contains("HOST:PORT"), "{bad}: {e}");
    }
}
