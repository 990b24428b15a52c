//! The promises of the sink's input handling, checked on arbitrary bytes. Shared by the unit
//! tests and the `sink_command` fuzz target; not public API.
//!
//! Checked: no panic; lines come out of the framer exactly as a plain model says, whatever the
//! split of the input, and an over-long line never yields a command; an accepted command line
//! holds no control character; an accepted MAIL or RCPT path, written back onto a command line,
//! parses to the same thing (nothing in it can move where the path ends or inject a parameter),
//! and holds no control character or space outside quotes; escaped text holds no control
//! character.

use crate::command::{self, Verb};
use crate::line::{Frame, LineReader};
use crate::path::{self, PathArgs};

/// Runs every check on `data`: its first byte picks the split point and the line limit, the
/// rest is the client's input.
pub fn check_command_input(data: &[u8]) {
    let Some((&knob, input)) = data.split_first() else {
        return;
    };
    let max = 8 + usize::from(knob % 64);
    let at = usize::from(knob).wrapping_mul(7) % (input.len() + 1);
    let want = model_frames(input, max);
    assert_eq!(frames(&[input], max), want, "whole");
    let (a, b) = input.split_at(at);
    assert_eq!(frames(&[a, b], max), want, "split at {at}");
    for line in input.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        check_line(line);
    }
    let escaped = crate::escape_bytes(input);
    assert!(!escaped.chars().any(char::is_control), "{escaped:?}");
}

/// One line as a connection handles it.
fn check_line(line: &[u8]) {
    let Ok((verb, args)) = command::split(line) else {
        return;
    };
    assert!(!args.chars().any(char::is_control));
    match verb {
        Verb::Mail => check_path(args, "FROM:", path::parse_mail(args)),
        Verb::Rcpt => check_path(args, "TO:", path::parse_rcpt(args)),
        Verb::Bdat => {
            let _ = command::parse_bdat(args);
        }
        Verb::Auth => {
            let _ = command::parse_auth(args);
        }
        Verb::Ehlo | Verb::Helo => {
            if let Some(name) = command::parse_hello(args) {
                assert!(!name.contains(char::is_whitespace));
            }
        }
        _ => {}
    }
    for word in args.split(' ') {
        if let Some((_, v)) = word.split_once('=') {
            let _ = command::parse_size_param(v);
        }
    }
}

fn check_path(args: &str, prefix: &str, parsed: Result<PathArgs<'_>, path::PathError>) {
    let Ok(p) = parsed else { return };
    assert!(!p.mailbox.chars().any(char::is_control), "{args:?}");
    let mut quoted = false;
    let mut escaped = false;
    for c in p.mailbox.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c => assert!(quoted || !c.is_whitespace() && c != '<' && c != '>', "{args:?}"),
        }
    }
    for param in &p.params {
        assert!(!param.is_empty() && !param.contains(' ') && !param.chars().any(char::is_control));
    }
    let again = format!(
        "{prefix}<{}>{}",
        p.mailbox,
        p.params.iter().map(|p| format!(" {p}")).collect::<String>()
    );
    let reparsed = if prefix == "FROM:" {
        path::parse_mail(&again)
    } else {
        path::parse_rcpt(&again)
    };
    assert_eq!(reparsed.as_ref(), Ok(&p), "{args:?} -> {again:?}");
}

/// What the framer yields for `pieces` fed one after the other: `Some(line)` or `None` for a
/// line too long.
fn frames(pieces: &[&[u8]], max: usize) -> Vec<Option<Vec<u8>>> {
    let mut reader = LineReader::default();
    let mut buf = Vec::new();
    let mut out = Vec::new();
    for piece in pieces {
        buf.extend_from_slice(piece);
        loop {
            let (frame, used) = reader.next(&buf, max);
            let more = match frame {
                Frame::Line(l) => {
                    out.push(Some(l.to_vec()));
                    true
                }
                Frame::TooLong => {
                    out.push(None);
                    true
                }
                Frame::Skipped => true,
                Frame::NeedMore => false,
            };
            buf.drain(..used);
            if !more {
                break;
            }
        }
    }
    out
}

/// The plain model: split on LF, strip one CR, a line over `max` becomes `None`; an unfinished
/// last line is `None` once it is longer than `max` + 1 (it can no longer fit), else nothing.
fn model_frames(input: &[u8], max: usize) -> Vec<Option<Vec<u8>>> {
    let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    let unfinished = parts.pop().unwrap_or_default();
    let mut out: Vec<Option<Vec<u8>>> = parts
        .into_iter()
        .map(|l| {
            let l = l.strip_suffix(b"\r").unwrap_or(l);
            (l.len() <= max).then(|| l.to_vec())
        })
        .collect();
    if unfinished.len() > max + 1 {
        out.push(None);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_checks_pass_on_hostile_samples() {
        for sample in [
            &b"\x05MAIL FROM:<a@b> SIZE=1\r\nRCPT TO:<\"x> NOTIFY=SUCCESS\"@example.org>\r\n"[..],
            b"\x00RCPT TO:<@a,@b:u@[IPv6:::1]> ORCPT=rfc822;u@x\r\nBDAT 18446744073709551616 LAST\r\n",
            b"\xffEHLO \x1b[2J\r\nAUTH PLAIN =\r\nMAIL FROM:<\xff@x>\n",
            b"\x3fxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\nNOOP\r\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
            b"",
            b"\x01\r\r\n\n\r",
        ] {
            check_command_input(sample);
        }
    }
}
