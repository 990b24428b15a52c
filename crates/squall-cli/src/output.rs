//! What `squall send` prints: a line for people, or one JSON object for programs.

use squall::{Direction, Error, Receipt, TranscriptLine};

/// The receipt as one JSON object (the library's shape, see `squall`'s `serde` feature), plus
/// where the capture server saved it.
pub(crate) fn receipt_json(r: &Receipt, captured_to: Option<String>) -> String {
    let mut v = serde_json::to_value(r).expect("serializable");
    if let (Some(path), Some(map)) = (captured_to, v.as_object_mut()) {
        map.insert("captured_to".into(), path.into());
    }
    v.to_string()
}

/// The error as `{"error": {…}}`.
pub(crate) fn error_json(e: &Error) -> String {
    serde_json::json!({ "error": e }).to_string()
}

/// Reports a failed command: `{"error": …}` on stdout with `--json`, else `who: error` on
/// stderr. Returns the exit code.
pub(crate) fn fail(json: bool, who: &str, (code, e): (u8, Error)) -> u8 {
    if json {
        println!("{}", error_json(&e));
    } else {
        eprintln!("{who}: {e}");
    }
    code
}

/// The receipt for people: who got it, the server's words, refusals with advice.
pub(crate) fn receipt_text(r: &Receipt) -> (String, Vec<String>) {
    let to: Vec<&str> = r.accepted.iter().map(|a| a.recipient.as_str()).collect();
    let mut line = format!(
        "delivered to {} ({}) in {} ms",
        to.join(", "),
        r.reply,
        r.elapsed.as_millis()
    );
    if r.attempts.len() > 1 {
        line.push_str(&format!(" after {} attempts", r.attempts.len()));
    }
    if let Some(t) = r.tls.as_ref().filter(|t| !t.is_verified()) {
        let why = t.problem.as_deref().unwrap_or("unknown");
        line.push_str(&format!(
            "; encrypted, but the server's certificate was not verified ({why})"
        ));
    }
    let mut refusals: Vec<String> = r
        .rejected
        .iter()
        .map(|x| format!("{x} (other recipients were delivered)"))
        .collect();
    refusals.extend(r.ambiguous.iter().map(|a| {
        format!(
            "<{a}> may or may not have the message: the connection was lost after it was sent (resending may deliver it twice)"
        )
    }));
    (line, refusals)
}

/// Prints each transcript line to stderr, coloured on a terminal only (and not with `NO_COLOR`).
/// Secrets are already redacted.
pub(crate) fn transcript_printer() -> impl Fn(&TranscriptLine) + Send + Sync + 'static {
    use std::io::IsTerminal;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    move |line: &TranscriptLine| eprintln!("{}", paint(line, colour))
}

/// `C:` lines cyan, `S:` lines green, yellow or red by reply class, `*` lines dim.
fn paint(line: &TranscriptLine, colour: bool) -> String {
    if !colour {
        return line.to_string();
    }
    let code = match line.direction {
        Direction::Client => "36",
        Direction::Server => match line.text.as_bytes().first() {
            Some(b'2' | b'3') => "32",
            Some(b'4') => "33",
            _ => "31",
        },
        Direction::Info => "2",
    };
    format!("\x1b[{code}m{line}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transcript_colours_by_direction_and_reply_class() {
        let line = TranscriptLine::new;
        assert_eq!(paint(&line(Direction::Client, "QUIT"), false), "C: QUIT");
        assert_eq!(
            paint(&line(Direction::Client, "QUIT"), true),
            "\x1b[36mC: QUIT\x1b[0m"
        );
        assert_eq!(
            paint(&line(Direction::Server, "250 ok"), true),
            "\x1b[32mS: 250 ok\x1b[0m"
        );
        assert_eq!(
            paint(&line(Direction::Server, "451 later"), true),
            "\x1b[33mS: 451 later\x1b[0m"
        );
        assert_eq!(
            paint(&line(Direction::Server, "550 no"), true),
            "\x1b[31mS: 550 no\x1b[0m"
        );
    }
}
