//! What `squall send` prints: a line for people, or one JSON object for programs.

use serde::Serialize;
use std::time::UNIX_EPOCH;

use squall::{Attempt, AttemptOutcome, Direction, Error, Receipt, RecipientReply, Reply, TranscriptLine};

#[derive(Serialize)]
struct ReplyJson {
    code: u16,
    enhanced: Option<String>,
    text: String,
}

impl From<&Reply> for ReplyJson {
    fn from(r: &Reply) -> Self {
        Self {
            code: r.code().value(),
            enhanced: r.enhanced().map(|e| e.to_string()),
            text: r.message(),
        }
    }
}

#[derive(Serialize)]
struct RecipientJson {
    address: String,
    #[serde(flatten)]
    reply: ReplyJson,
}

fn recipients(list: &[RecipientReply]) -> Vec<RecipientJson> {
    list.iter()
        .map(|r| RecipientJson {
            address: r.recipient.to_string(),
            reply: (&r.reply).into(),
        })
        .collect()
}

/// One try: when, how long, and how it ended.
#[derive(Serialize)]
struct AttemptJson {
    /// Seconds since the Unix epoch.
    started: f64,
    elapsed_ms: u128,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reply: Option<ReplyJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    why: Option<String>,
}

fn attempts(list: &[Attempt]) -> Vec<AttemptJson> {
    list.iter()
        .map(|a| {
            let mut j = AttemptJson {
                started: a
                    .started
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs_f64(),
                elapsed_ms: a.elapsed.as_millis(),
                outcome: "delivered",
                stage: None,
                reply: None,
                why: None,
            };
            if let AttemptOutcome::Failed {
                stage,
                reply,
                kind,
                ambiguous,
                why,
            } = &a.outcome
            {
                j.outcome = if *ambiguous { "ambiguous" } else { kind.name() };
                j.stage = Some(stage.name());
                j.reply = reply.as_ref().map(ReplyJson::from);
                j.why = Some(why.clone());
            }
            j
        })
        .collect()
}

#[derive(Serialize)]
struct ReceiptJson {
    accepted: Vec<RecipientJson>,
    rejected: Vec<RecipientJson>,
    /// Lost after the content on a retry: they may or may not have it.
    ambiguous: Vec<String>,
    queue_id: Option<String>,
    message_id: Option<String>,
    reply: ReplyJson,
    size: u64,
    /// The TLS session it went over; `null` in cleartext.
    tls: Option<TlsJson>,
    elapsed_ms: u128,
    attempts: Vec<AttemptJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    captured_to: Option<String>,
}

#[derive(Serialize)]
struct TlsJson {
    version: String,
    cipher: String,
    /// Whether the server's certificate was verified (opportunistic TLS goes on without).
    verified: bool,
    /// Why it was not, when it was not.
    problem: Option<String>,
}

#[derive(Serialize)]
struct ErrorJson {
    kind: &'static str,
    stage: &'static str,
    code: Option<u16>,
    enhanced: Option<String>,
    text: Option<String>,
    hint: String,
    message: String,
    ambiguous: bool,
    accepted: Vec<RecipientJson>,
    rejected: Vec<RecipientJson>,
    attempts: Vec<AttemptJson>,
}

/// The receipt as one JSON object.
pub(crate) fn receipt_json(r: &Receipt, captured_to: Option<String>) -> String {
    serde_json::to_string(&ReceiptJson {
        accepted: recipients(&r.accepted),
        rejected: recipients(&r.rejected),
        ambiguous: r.ambiguous.iter().map(ToString::to_string).collect(),
        queue_id: r.queue_id.clone(),
        message_id: r.message_id.clone(),
        reply: (&r.reply).into(),
        size: r.size,
        tls: r.tls.as_ref().map(|t| TlsJson {
            version: t.version.clone(),
            cipher: t.cipher.clone(),
            verified: t.is_verified(),
            problem: t.problem.clone(),
        }),
        elapsed_ms: r.elapsed.as_millis(),
        attempts: attempts(&r.attempts),
        captured_to,
    })
    .expect("serializable")
}

/// The error as `{"error": {…}}`.
pub(crate) fn error_json(e: &Error) -> String {
    let reply = e.reply();
    serde_json::json!({
        "error": ErrorJson {
            kind: e.kind().name(),
            stage: e.stage().name(),
            code: reply.map(|r| r.code().value()),
            enhanced: reply.and_then(|r| r.enhanced()).map(|c| c.to_string()),
            text: reply.map(Reply::message),
            hint: e.hint(),
            message: e.to_string(),
            ambiguous: e.is_ambiguous(),
            accepted: recipients(e.accepted()),
            rejected: recipients(e.rejected()),
            attempts: attempts(e.attempts()),
        }
    })
    .to_string()
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
        let line = |direction, text: &str| TranscriptLine {
            direction,
            text: text.into(),
        };
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
