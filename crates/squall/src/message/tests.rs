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

/// Issue 10, header hygiene: RFC 5322 §3.6 allows From, Subject, Date and Message-ID once; a
/// second one through a header field is refused, whichever route set the first.
#[test]
fn a_second_once_only_field_is_refused() {
    for (name, first) in [
        ("From", Message::builder().from("a@example.org")),
        ("Subject", Message::builder().subject("one")),
        (
            "Date",
            Message::builder().header("Date", "Tue, 1 Jul 2025 10:52:37 +0200"),
        ),
        ("Message-ID", Message::builder().message_id("x@example.org")),
        (
            "In-Reply-To",
            Message::builder().header("In-Reply-To", "<p@example.org>"),
        ),
    ] {
        let value = match name {
            "From" => "b@example.org",
            "Date" => "Wed, 2 Jul 2025 10:52:37 +0200",
            "Message-ID" => "<y@example.org>",
            _ => "<q@example.org>",
        };
        let e = first.header(name, value).build().unwrap_err();
        assert!(e.to_string().contains("RFC 5322 allows one"), "{name}: {e}");
        assert_eq!(e.kind(), crate::ErrorKind::Local);
    }
    // Fields that may repeat, and setters that replace, are fine.
    let mut m = Message::builder()
        .subject("one")
        .header("X-Tag", "a")
        .header("X-Tag", "b")
        .build()
        .unwrap();
    m.set_subject("two").unwrap();
    let text = String::from_utf8(m.bytes().to_vec()).unwrap();
    assert_eq!(text.matches("Subject:").count(), 1, "{text}");
    assert_eq!(text.matches("X-Tag:").count(), 2, "{text}");
}

/// Address fields given as header fields are those fields: the envelope sees them, and the
/// message carries one To field.
#[test]
fn address_headers_are_the_address_fields() {
    let m = Message::builder()
        .from("a@example.org")
        .to("b@example.net")
        .header("To", "\"Doe, C\" <c@example.net>, d@example.net")
        .header("Bcc", "hidden@example.net")
        .header("From", "x@example.org")
        .build();
    assert!(m.unwrap_err().to_string().contains("RFC 5322 allows one"));
    let m = Message::builder()
        .from("a@example.org")
        .to("b@example.net")
        .header("To", "\"Doe, C\" <c@example.net>, d@example.net")
        .header("Bcc", "hidden@example.net")
        .build()
        .unwrap();
    let to: Vec<String> = m
        .envelope()
        .unwrap()
        .recipients()
        .iter()
        .map(|r| r.mailbox.to_string())
        .collect();
    assert_eq!(
        to,
        [
            "b@example.net",
            "c@example.net",
            "d@example.net",
            "hidden@example.net"
        ]
    );
    let text = String::from_utf8(m.bytes().to_vec()).unwrap();
    assert_eq!(text.matches("\r\nTo:").count(), 1, "{text}");
    assert!(!text.contains("hidden@"), "{text}");
    assert!(
        Message::builder()
            .header("Content-Type", "text/html")
            .build()
            .is_err(),
        "MIME fields come from the parts"
    );
}

#[test]
fn date_and_message_id_can_be_set() {
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_751_360_000);
    let m = Message::builder()
        .from("a@example.org")
        .date(when)
        .message_id("<chosen.1@example.org>")
        .build()
        .unwrap();
    assert_eq!(m.message_id(), "chosen.1@example.org");
    let text = String::from_utf8(m.bytes().to_vec()).unwrap();
    assert!(text.contains("Message-ID: <chosen.1@example.org>"), "{text}");
    assert!(text.contains("Date: Tue, 1 Jul 2025 08:53:20 +0000"), "{text}");
    let m = Message::builder()
        .header("Date", "Tue, 1 Jul 2025 10:52:37 +0200")
        .header("Message-ID", "<h@example.org>")
        .build()
        .unwrap();
    assert_eq!(m.message_id(), "h@example.org");
    assert!(String::from_utf8_lossy(&m.bytes()).contains("Date: Tue, 1 Jul 2025 08:52:37 +0000"));
    for bad in ["no-at", "a b@example.org", "<x@example.org", "x@"] {
        assert!(Message::builder().message_id(bad).build().is_err(), "{bad}");
    }
    assert!(Message::builder().header("Date", "yesterday").build().is_err());
}

#[test]
fn control_characters_in_header_values_are_refused() {
    for bad in [
        Message::builder().subject("red \x1b[31m alert").build(),
        Message::builder().header("X-A", "bell\x07").build(),
        Message::builder().from("Eve\x1b <e@example.org>").build(),
        Message::builder()
            .attachment("a\x7f.txt", "text/plain", b"x".to_vec())
            .build(),
    ] {
        let e = bad.unwrap_err();
        assert!(e.to_string().contains("control character"), "{e}");
    }
    assert!(Message::builder().subject("tab\tis fine").build().is_ok());
}

/// Inline images travel in a multipart/related with the HTML that shows them, by Content-ID;
/// downloads stay attachments; content types come from mime_guess's table.
#[test]
fn inline_parts_go_with_the_html() {
    use mail_parser::MimeHeaders;
    let logo = Attachment::new("logo.png", "image/png", vec![0x89, b'P', b'N', b'G', 0, 1, 2]).unwrap();
    let m = Message::builder()
        .from("a@example.org")
        .to("b@example.net")
        .text("plain")
        .html(r#"<p>hi <img src="cid:logo@example.org"></p>"#)
        .inline("logo@example.org", logo)
        .attachment("report.pdf", "application/pdf", b"%PDF-1.4".to_vec())
        .build()
        .unwrap();
    let bytes = m.bytes();
    let parsed = mail_parser::MessageParser::default().parse(&bytes[..]).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("multipart/related"), "{text}");
    assert!(text.contains("Content-ID: <logo@example.org>"), "{text}");
    let pdf = parsed
        .attachments()
        .find(|a| a.attachment_name() == Some("report.pdf"))
        .expect("the download");
    assert_eq!(pdf.contents(), b"%PDF-1.4");
    let png = parsed
        .parts
        .iter()
        .find(|p| p.content_id() == Some("logo@example.org"))
        .expect("the inline part");
    assert_eq!(png.contents(), [0x89, b'P', b'N', b'G', 0, 1, 2]);
    assert!(
        Message::builder()
            .inline("a b", Attachment::new("x", "image/png", vec![]).unwrap())
            .build()
            .is_err()
    );
}

#[test]
fn content_types_are_guessed_from_a_maintained_table() {
    use std::path::Path;
    assert_eq!(fields::guess_type(Path::new("a.pdf")), "application/pdf");
    assert_eq!(fields::guess_type(Path::new("a.webp")), "image/webp");
    assert_eq!(
        fields::guess_type(Path::new("a.docx")),
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    );
    assert_eq!(fields::guess_type(Path::new("noext")), "application/octet-stream");
}

#[tokio::test]
async fn reading_an_attachment_does_not_block_and_names_a_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    std::fs::write(&path, "hello").unwrap();
    let a = Attachment::read(&path).await.unwrap();
    assert_eq!(
        (a.filename.as_str(), a.content_type.as_str()),
        ("notes.txt", "text/plain")
    );
    let e = Attachment::read(dir.path().join("missing.txt"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("missing.txt"), "{e}");
    let e = Message::builder()
        .attach_file(dir.path().join("gone.pdf"))
        .build()
        .unwrap_err();
    assert!(e.to_string().contains("cannot read attachment"), "{e}");
}
