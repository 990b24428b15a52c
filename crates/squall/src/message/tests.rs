use super::*;

fn sample() -> Message {
    Message::builder()
        .from("Alice <alice@example.org>")
        .to("bob@example.net")
        .subject("hello")
        .text("hi Bob")
        .build()
        .unwrap()
}

#[test]
fn renders_only_when_read_and_only_after_a_visible_change() {
    let mut m = sample();
    assert_eq!(m.render_count(), 0, "building renders nothing");
    m.set_subject("changed").unwrap();
    assert_eq!(m.render_count(), 0, "a change without a read renders nothing");
    let first = m.bytes();
    assert_eq!(m.render_count(), 1, "a read renders once");
    let again = m.bytes();
    let size = m.size();
    assert_eq!(m.render_count(), 1, "reads after that reuse the bytes");
    assert_eq!(first, again);
    assert_eq!(size, first.len());
    m.add_bcc("secret@example.net").unwrap();
    m.set_envelope_from("bounces@example.org").unwrap();
    m.bytes();
    assert_eq!(m.render_count(), 1, "envelope-only changes render nothing");
    m.add_header("X-Tag", "one").unwrap();
    m.set_text("new text");
    assert_eq!(m.render_count(), 1);
    let changed = m.bytes();
    assert_eq!(m.render_count(), 2, "one render for several visible changes");
    let text = String::from_utf8_lossy(&changed);
    assert!(text.contains("X-Tag: one") && text.contains("new text"), "{text}");
}

#[test]
fn headers_date_message_id_and_no_bcc() {
    let mut m = sample();
    m.add_bcc("hidden@example.net").unwrap();
    let text = String::from_utf8(m.bytes().to_vec()).unwrap();
    assert!(
        text.contains("From: \"Alice\" <alice@example.org>\r\n")
            || text.contains("From: Alice <alice@example.org>\r\n"),
        "{text}"
    );
    assert!(
        text.contains("To: <bob@example.net>\r\n") || text.contains("To: bob@example.net\r\n"),
        "{text}"
    );
    assert!(text.contains("Subject: hello\r\n"), "{text}");
    assert!(text.contains("Date: "), "{text}");
    assert!(
        text.contains(&format!("Message-ID: <{}>", m.message_id())),
        "{text}"
    );
    assert!(m.message_id().ends_with("@example.org"));
    assert!(!text.to_ascii_lowercase().contains("bcc"), "{text}");
    assert!(!text.contains("hidden@"), "{text}");
    // Re-rendering keeps Date and Message-ID.
    m.set_subject("again").unwrap();
    let again = String::from_utf8(m.bytes().to_vec()).unwrap();
    let date = |t: &str| t.lines().find(|l| l.starts_with("Date: ")).map(str::to_string);
    assert_eq!(date(&text), date(&again));
}

#[test]
fn envelope_collects_every_recipient_once() {
    let m = Message::builder()
        .from("a@example.org")
        .to("b@example.net")
        .cc("C <c@example.net>")
        .cc("B@example.net")
        .bcc("d@example.net")
        .envelope_from("<>")
        .build()
        .unwrap();
    let e = m.envelope().unwrap();
    assert_eq!(e.from().to_string(), "<>");
    let r: Vec<String> = e.recipients().iter().map(|r| r.mailbox.to_string()).collect();
    assert_eq!(r, ["b@example.net", "c@example.net", "d@example.net"]);
    assert_eq!(
        e.options().size,
        Some(squall_proto::data::normalized_len(&m.bytes()))
    );
    let none = Message::builder().from("a@example.org").build().unwrap();
    assert!(none.envelope().unwrap_err().to_string().contains("no recipient"));
    let nofrom = Message::builder().to("a@example.org").build().unwrap();
    assert!(nofrom.envelope().unwrap_err().to_string().contains("no From"));
}

#[test]
fn header_injection_is_refused() {
    for bad in [
        Message::builder().subject("x\r\nBcc: evil@example.com").build(),
        Message::builder().header("X-A", "v\nX-B: w").build(),
        Message::builder().header("Bad Name", "v").build(),
        Message::builder().header("Bcc", "v").build(),
        Message::builder().from("Evil\r\n <a@example.org>").build(),
        Message::builder()
            .to("a@example.org\r\nRCPT TO:<b@example.org>")
            .build(),
        Message::builder()
            .attachment("a\r\n.txt", "text/plain", b"x".to_vec())
            .build(),
    ] {
        let e = bad.unwrap_err();
        assert_eq!(e.kind(), crate::ErrorKind::Local, "{e}");
    }
    let e = Message::builder().subject("x\ny").build().unwrap_err();
    assert!(
        e.to_string().contains("the subject contains a LF character"),
        "{e}"
    );
}

#[test]
fn html_and_attachments_make_multipart() {
    let m = Message::builder()
        .from("a@example.org")
        .to("b@example.net")
        .text("plain")
        .html("<p>html</p>")
        .attachment("data.csv", "text/csv", b"a,b\n1,2\n".to_vec())
        .build()
        .unwrap();
    let text = String::from_utf8_lossy(&m.bytes()).to_string();
    assert!(
        text.contains("multipart/mixed") && text.contains("multipart/alternative"),
        "{text}"
    );
    assert!(text.contains("data.csv"), "{text}");
}

#[test]
fn named_addresses() {
    let a = NamedAddress::parse("\"Doe, John\" <john@example.org>").unwrap();
    assert_eq!(a.name.as_deref(), Some("Doe, John"));
    assert_eq!(a.mailbox.as_str(), "john@example.org");
    assert_eq!(NamedAddress::parse("x@example.org").unwrap().name, None);
    assert!(NamedAddress::parse("no-at-sign").is_err());
}
