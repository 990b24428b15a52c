//! No CR, LF or NUL from the caller reaches the wire: every entry point that takes a value which
//! could end up on a command line or in a header refuses them, before anything is sent.

use proptest::prelude::*;
use squall::{Client, Message, Tls};
use squall_proto::address::{EhloName, Mailbox, ReversePath};
use squall_proto::auth::Credentials;
use squall_proto::params::{EnvelopeId, OriginalRecipient};

/// `s` with `c` inserted at a position picked by `at`.
fn with(s: &str, c: char, at: prop::sample::Index) -> String {
    let bytes: Vec<usize> = s.char_indices().map(|(i, _)| i).chain([s.len()]).collect();
    let i = bytes[at.index(bytes.len())];
    format!("{}{c}{}", &s[..i], &s[i..])
}

fn forbidden() -> impl Strategy<Value = char> {
    prop::sample::select(vec!['\r', '\n', '\0'])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_entry_point_refuses_control_characters(
        local in "[a-z0-9.+_-]{1,12}",
        text in "[ -~]{0,20}",
        c in forbidden(),
        at in any::<prop::sample::Index>(),
    ) {
        let addr = with(&format!("{local}@example.org"), c, at);
        let word = with(&text, c, at);
        // squall-proto's validated values.
        prop_assert!(Mailbox::parse(&addr).is_err());
        prop_assert!(ReversePath::parse(&addr).is_err());
        prop_assert!(EhloName::parse(&with("client.example.org", c, at)).is_err());
        prop_assert!(Credentials::password(word.as_str(), "p").is_err());
        prop_assert!(Credentials::password("u", word.as_str()).is_err());
        prop_assert!(Credentials::oauth2("u", word.as_str()).is_err());
        prop_assert!(EnvelopeId::new(word.as_str()).is_err());
        prop_assert!(OriginalRecipient::new(&addr).is_err());
        // The message builder: header values and addresses.
        prop_assert!(Message::builder().subject(&word).build().is_err());
        prop_assert!(Message::builder().header("X-Test", &word).build().is_err());
        prop_assert!(Message::builder().to(&addr).build().is_err());
        let named = format!("{word} <a@example.org>");
        prop_assert!(Message::builder().from(&named).build().is_err());
        prop_assert!(Message::builder().attachment(&word, "text/plain", b"x".to_vec()).build().is_err());
        let mut m = Message::builder().from("a@example.org").build().unwrap();
        prop_assert!(m.set_subject(&word).is_err());
        prop_assert!(m.add_header("X-Test", &word).is_err());
        prop_assert!(m.add_bcc(&addr).is_err());
        // The client's settings.
        prop_assert!(Client::builder("mx.example.org").ehlo(&with("client.example.org", c, at)).build().is_err());
        prop_assert!(Client::builder("mx.example.org").credentials(&word, "p").build().is_err());
        prop_assert!(Client::builder("mx.example.org").credentials("u", &word).build().is_err());
        prop_assert!(Client::builder(with("mx.example.org", c, at)).build().is_err());
        let user = with("user", c, at).replace('\0', "%00").replace('\r', "%0D").replace('\n', "%0A");
        let url = format!("smtp://{user}:p@mx.example.org");
        prop_assert!(Client::from_url(&url).is_err());
    }
}

/// Through the client, against a real server: the send fails locally and the server sees nothing.
#[tokio::test]
async fn the_server_sees_nothing_of_a_bad_send() {
    let sink = squall_sink::Sink::start().await.unwrap();
    let c = Client::builder("127.0.0.1")
        .port(sink.addr().port())
        .tls(Tls::None)
        .build()
        .unwrap();
    for c_ in ['\r', '\n', '\0'] {
        let bad = format!("a{c_}b@example.org");
        let e = c.send(&bad, ["x@example.org"], "x").await.unwrap_err();
        assert!(e.is_input(), "{e}");
        let e = c
            .send("a@example.org", ["x@example.org", bad.as_str()], "x")
            .await
            .unwrap_err();
        assert!(e.is_input(), "{e}");
        let e = c
            .send(
                "a@example.org\r\nRCPT TO:<evil@example.org>",
                ["x@example.org"],
                "x",
            )
            .await
            .unwrap_err();
        assert!(e.to_string().contains("CR"), "{e}");
    }
    assert_eq!(sink.connections(), 0, "nothing reached the server");
}
