//! What the README says each kind of example does, checked on its output and on what the
//! servers stored, beyond its exit status.

use std::path::Path;
use std::process::Output;

use squall_sink::SinkHandle;

/// What the servers and the built-in capture server held before an example ran.
pub(crate) struct Before {
    delivered: u64,
    captured: usize,
}

/// How many messages the examples' sinks accepted so far, and the capture server's files;
/// the messages they keep are dropped, so that afterwards they hold the next example's only.
pub(crate) fn snapshot(sinks: &[&SinkHandle], capture_dir: &Path) -> Before {
    for s in sinks {
        s.take_messages();
    }
    Before {
        delivered: sinks.iter().map(|s| s.delivered()).sum(),
        captured: std::fs::read_dir(capture_dir).map_or(0, |d| d.count()),
    }
}

/// The promises `example` makes, checked on its `output`; each broken one is described.
pub(crate) fn check(
    example: &str,
    output: &Output,
    sinks: &[&SinkHandle],
    capture_dir: &Path,
    before: &Before,
) -> Vec<String> {
    let mut broken = Vec::new();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let after = Before {
        delivered: sinks.iter().map(|s| s.delivered()).sum(),
        captured: std::fs::read_dir(capture_dir).map_or(0, |d| d.count()),
    };
    if example.contains("--dry-run") {
        // "print, send nothing": the envelope and the message, and no server got anything.
        if after.delivered != before.delivered || after.captured != before.captured {
            broken.push("--dry-run sent a message".to_string());
        }
        if !stdout.contains("MAIL FROM:<") || !stdout.contains("RCPT TO:<") || !stdout.contains("Subject: ") {
            broken.push(format!(
                "--dry-run did not print the envelope and the message: {stdout}"
            ));
        }
    }
    if example.contains("--json") {
        broken.extend(json_fields(example, &stdout));
    }
    if example.contains("sendmail -t") {
        broken.extend(bcc_removed(sinks));
    }
    broken
}

/// `--json` prints the fields the README lists: for `send` the receipt, for `bulk` the summary
/// with its `not_delivered` list.
fn json_fields(example: &str, stdout: &str) -> Vec<String> {
    let v: serde_json::Value = match serde_json::from_str(stdout.trim()) {
        Ok(v) => v,
        Err(e) => {
            return vec![format!(
                "--json printed something that is not JSON ({e}): {stdout}"
            )];
        }
    };
    let fields: &[&str] = if example.starts_with("squall bulk") {
        &["not_delivered"]
    } else {
        &[
            "accepted",
            "rejected",
            "queue_id",
            "message_id",
            "tls",
            "elapsed_ms",
            "attempts",
        ]
    };
    let mut broken: Vec<String> = fields
        .iter()
        .filter(|f| v.get(**f).is_none())
        .map(|f| format!("--json has no `{f}`: {stdout}"))
        .collect();
    if let Some(tls) = v.get("tls").filter(|t| !t.is_null())
        && tls.get("verified").is_none()
    {
        broken.push(format!("--json: `tls` has no `verified`: {stdout}"));
    }
    broken
}

/// `sendmail -t` sends to the Bcc recipients of the README's message.eml, whose stored copy
/// shows no Bcc.
fn bcc_removed(sinks: &[&SinkHandle]) -> Vec<String> {
    let stored: Vec<_> = sinks.iter().flat_map(|s| s.messages()).collect();
    let [m] = &stored[..] else {
        return vec![format!("sendmail -t: {} messages stored, not one", stored.len())];
    };
    let text = String::from_utf8_lossy(&m.data).to_ascii_lowercase();
    let mut broken = Vec::new();
    if !m.rcpt_to.iter().any(|r| r == "hidden@example.org") {
        broken.push(format!(
            "sendmail -t: the Bcc recipient got nothing: {:?}",
            m.rcpt_to
        ));
    }
    if text.contains("bcc:") || text.contains("hidden@") {
        broken.push(format!("sendmail -t: the stored message shows the Bcc: {text}"));
    }
    broken
}
