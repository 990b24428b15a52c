//! sendmail's header splitter, checked against a plain reading of the lines as the wire will
//! hold them (every CR, LF and CRLF one line end), written here independently:
//! - it refuses exactly what that reading says must be refused (a header line ended by a bare
//!   CR, a NUL in a header line), at the same line;
//! - otherwise the recipients (`-t`) are those of the fields that reading finds, and the message
//!   sent, normalised, is exactly: the fields added, the input's fields but Bcc, a blank line,
//!   the body: no header line reaches the body and no body line the header;
//! - read by a mail parser as a recipient's program would, the sent message has no Bcc, and
//!   everyone it shows in To and Cc is a recipient;
//! - an address field is refused only when it shows an address that was not read from it;
//! - any split of the input into pieces gives the same result.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mail_parser::{HeaderName, HeaderValue, MessageParser};
use squall_cli::fuzzing::{Outcome, Refusal, read};

fuzz_target!(|data: &[u8]| {
    let Some((&flags, input)) = data.split_first() else {
        return;
    };
    let ignore_dots = flags & 1 == 1;
    let whole = read(input, ignore_dots, &[]);
    // Pieces cut where the flags say, and byte by byte for short inputs.
    let step = usize::from(flags >> 1) + 1;
    let cuts: Vec<usize> = (step..input.len()).step_by(step).collect();
    assert_eq!(comparable(&read(input, ignore_dots, &cuts)), comparable(&whole));
    let expected = reference(input, ignore_dots);
    match (&whole, &expected) {
        (Err(Refusal::Split(got)), Err(want)) => assert_eq!(got, want),
        (Ok(outcome), Ok(header)) => check_sent(outcome, header),
        (Err(Refusal::Unread { field, address }), Ok(header)) => check_unread(field, address, header),
        _ => panic!("sendmail gave {whole:?}, the reference {expected:?}"),
    }
});

/// The outcome without its Date and Message-ID lines, which differ from call to call.
fn comparable(r: &Result<Outcome, Refusal>) -> Result<(Vec<String>, Vec<Vec<u8>>), String> {
    r.as_ref()
        .map(|o| {
            let lines = o.sent.split(|&b| b == b'\n');
            let kept = lines.filter(|l| !l.starts_with(b"Date: ") && !l.starts_with(b"Message-ID: <"));
            (o.recipients.clone(), kept.map(<[u8]>::to_vec).collect())
        })
        .map_err(|e| format!("{e:?}"))
}

/// `sent` without the From, Date and Message-ID lines that sendmail adds, each when `added`.
fn strip(sent: &[u8], added: [bool; 3]) -> &[u8] {
    let mut rest = sent;
    let names = [
        &b"From: <sender@example.org>\r\n"[..],
        b"Date: ",
        b"Message-ID: <",
    ];
    for (name, added) in names.into_iter().zip(added) {
        if added {
            assert!(rest.starts_with(name), "{name:?} was added");
            let end = rest.windows(2).position(|w| w == b"\r\n").unwrap() + 2;
            rest = &rest[end..];
        }
    }
    rest
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Lf,
    CrLf,
    BareCr,
    Eof,
}

/// The reference reading: the header's fields (each as its lines' texts) and the lines from
/// where the header ends.
#[derive(Debug)]
struct Reading {
    fields: Vec<(String, Vec<Vec<u8>>)>,
    body: Vec<Vec<u8>>,
    blank: bool,
}

fn reference(input: &[u8], ignore_dots: bool) -> Result<Reading, String> {
    // Lines as the wire holds them.
    let mut lines: Vec<(Vec<u8>, End)> = Vec::new();
    let mut text = Vec::new();
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'\n' => lines.push((std::mem::take(&mut text), End::Lf)),
            b'\r' if input.get(i + 1) == Some(&b'\n') => {
                lines.push((std::mem::take(&mut text), End::CrLf));
                i += 1;
            }
            b'\r' => lines.push((std::mem::take(&mut text), End::BareCr)),
            b => text.push(b),
        }
        i += 1;
    }
    if !text.is_empty() {
        lines.push((text, End::Eof));
    }
    if let Some(dot) = lines.iter().position(|(t, _)| t == b".")
        && !ignore_dots
    {
        lines.truncate(dot);
    }
    let mut fields: Vec<(String, Vec<Vec<u8>>)> = Vec::new();
    let mut n = 0;
    let mut blank = false;
    for (index, (text, end)) in lines.iter().enumerate() {
        let line = index + 1;
        let kind = if index == 0 && text.starts_with(b"From ") && field_name(text).is_none() {
            "mbox"
        } else if text.is_empty() {
            blank = true;
            "end"
        } else if matches!(text[0], b' ' | b'\t') && !fields.is_empty() {
            "continuation"
        } else if field_name(text).is_some() {
            "field"
        } else {
            "end"
        };
        if kind == "end" {
            if blank && *end == End::BareCr {
                return Err(format!("BareCr {{ line: {line} }}"));
            }
            break;
        }
        if *end == End::BareCr {
            return Err(format!("BareCr {{ line: {line} }}"));
        }
        if kind != "mbox" && text.contains(&0) {
            return Err(format!("Nul {{ line: {line} }}"));
        }
        match kind {
            "field" => fields.push((field_name(text).unwrap(), vec![text.clone()])),
            "continuation" => fields.last_mut().unwrap().1.push(text.clone()),
            _ => {}
        }
        n = index + 1;
    }
    Ok(Reading {
        fields,
        body: lines[n..].iter().map(|(t, _)| t.clone()).collect(),
        blank,
    })
}

/// The lowercase name of a field line: printable ASCII but `:`, spaces or tabs, a colon within
/// the first 998 octets.
fn field_name(text: &[u8]) -> Option<String> {
    let colon = text.iter().position(|&b| b == b':')?;
    let name = String::from_utf8_lossy(&text[..colon]);
    let name = name.trim_end_matches([' ', '\t']);
    let ok = colon < 998 && !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b));
    ok.then(|| name.to_ascii_lowercase())
}

fn check_sent(outcome: &Outcome, reading: &Reading) {
    let has = |n: &str| reading.fields.iter().any(|(name, _)| name == n);
    let resent = has("resent-to") || has("resent-cc") || has("resent-bcc");
    let (to, cc, bcc) = if resent {
        ("resent-to", "resent-cc", "resent-bcc")
    } else {
        ("to", "cc", "bcc")
    };
    // Recipients: the addresses of exactly the fields the reference found.
    let mut want = Vec::new();
    for name in [to, cc, bcc] {
        for (_, lines) in reading.fields.iter().filter(|(n, _)| n == name) {
            want.extend(addresses(lines));
        }
    }
    assert_eq!(outcome.recipients, want);

    // The message sent, normalised: what was added, the fields but Bcc, a blank line, the body.
    let sent = squall_proto::data::normalize(&outcome.sent);
    let mut expected: Vec<&[u8]> = Vec::new();
    for (name, lines) in &reading.fields {
        if name != "bcc" && name != "resent-bcc" {
            expected.extend(lines.iter().map(Vec::as_slice));
        }
    }
    if !reading.blank {
        expected.push(b"");
    }
    expected.extend(reading.body.iter().map(Vec::as_slice));
    let mut expected = expected.join(&b"\r\n"[..]);
    expected.extend_from_slice(b"\r\n");
    let rest = strip(&sent, [!has("from"), !has("date"), !has("message-id")]);
    assert_eq!(rest, &expected[..], "sent {:?}", String::from_utf8_lossy(&sent));

    // Read as a recipient's program would: no Bcc, and everyone shown is a recipient. Only the
    // fields before the blank line count: after a Date that starts with a byte that is not
    // UTF-8, mail-parser 0.11 reads body lines as fields too (its quirk, not what was sent).
    let Some(m) = MessageParser::default().parse(&sent[..]) else {
        return;
    };
    let header_end = sent
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(sent.len(), |i| i + 2);
    for h in m
        .headers()
        .iter()
        .filter(|h| (h.offset_field as usize) < header_end)
    {
        assert!(
            !matches!(h.name, HeaderName::Bcc) && !h.name.as_str().eq_ignore_ascii_case("resent-bcc"),
            "a Bcc is shown: {:?}",
            String::from_utf8_lossy(&sent)
        );
        let shown = matches!(
            (&h.name, resent),
            (HeaderName::To | HeaderName::Cc, false) | (HeaderName::ResentTo | HeaderName::ResentCc, true)
        );
        if shown {
            for a in shown_addresses(h.value()) {
                assert!(
                    outcome.recipients.contains(&a),
                    "{a} is shown but not a recipient: {:?}",
                    String::from_utf8_lossy(&sent)
                );
            }
        }
    }
}

/// sendmail refused `-t` because a field shows an address it could not read: it must be in the
/// field's text, and not among what the field's value reads as.
fn check_unread(field: &str, address: &str, reading: &Reading) {
    let name = field.to_ascii_lowercase();
    let fields: Vec<_> = reading.fields.iter().filter(|(n, _)| *n == name).collect();
    assert!(!fields.is_empty(), "{field}: no such field in {reading:?}");
    assert!(
        fields.iter().any(|(_, lines)| {
            let shown = String::from_utf8_lossy(&lines.concat()).contains(address);
            shown && !addresses(lines).iter().any(|a| a == address)
        }),
        "{field}: {address} is read, or not shown, in {reading:?}"
    );
}

/// The addresses of an address field given as its lines (the first one holds `Name:`).
fn addresses(lines: &[Vec<u8>]) -> Vec<String> {
    let mut field = b"To:".to_vec();
    let joined = lines.join(&b"\r\n"[..]);
    let colon = joined.iter().position(|&b| b == b':').unwrap();
    field.extend_from_slice(&joined[colon + 1..]);
    field.extend_from_slice(b"\r\n\r\n");
    let Some(m) = MessageParser::default().parse_headers(&field[..]) else {
        return Vec::new();
    };
    m.header_values("To").flat_map(shown_addresses).collect()
}

fn shown_addresses(v: &HeaderValue<'_>) -> Vec<String> {
    match v {
        HeaderValue::Address(a) => a.iter().filter_map(|x| x.address()).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}
