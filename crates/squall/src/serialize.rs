//! The JSON shape of receipts and errors (the `serde` feature), the one `squall --json` prints:
//!
//! - a receipt: `{"accepted": [..], "rejected": [..], "ambiguous": [..], "queue_id", "message_id",
//!   "reply", "size", "tls": {"version", "cipher", "verified", "problem"} | null, "elapsed_ms",
//!   "attempts": [..]}`;
//! - an error: `{"kind", "stage", "code", "enhanced", "text", "hint", "message", "ambiguous",
//!   "accepted", "rejected", "attempts"}`, where `code`, `enhanced` and `text` are the deciding
//!   reply's (or null) and `message` is the whole `Display` line;
//! - a recipient: `{"address", "code", "enhanced", "text"}`; an attempt: `{"started"` (seconds
//!   since the epoch)`, "elapsed_ms", "outcome"` (`delivered`, `transient`, `permanent`, `local` or
//!   `ambiguous`)`, "stage", "reply", "why"}` (the last three for a failed attempt).

use std::time::UNIX_EPOCH;

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::error::Error;
use crate::receipt::{Attempt, AttemptOutcome, Receipt};
use crate::tls::TlsInfo;

impl Serialize for Receipt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(10))?;
        m.serialize_entry("accepted", &self.accepted)?;
        m.serialize_entry("rejected", &self.rejected)?;
        let ambiguous: Vec<&str> = self.ambiguous.iter().map(|a| a.as_str()).collect();
        m.serialize_entry("ambiguous", &ambiguous)?;
        m.serialize_entry("queue_id", &self.queue_id)?;
        m.serialize_entry("message_id", &self.message_id)?;
        m.serialize_entry("reply", &self.reply)?;
        m.serialize_entry("size", &self.size)?;
        m.serialize_entry("tls", &self.tls)?;
        m.serialize_entry("elapsed_ms", &self.elapsed.as_millis())?;
        m.serialize_entry("attempts", &self.attempts)?;
        m.end()
    }
}

impl Serialize for Error {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let reply = self.reply();
        let mut m = s.serialize_map(Some(11))?;
        m.serialize_entry("kind", &self.kind())?;
        m.serialize_entry("stage", &self.stage())?;
        m.serialize_entry("code", &reply.map(|r| r.code().value()))?;
        m.serialize_entry(
            "enhanced",
            &reply.and_then(|r| r.enhanced()).map(|e| e.to_string()),
        )?;
        m.serialize_entry("text", &reply.map(|r| r.message()))?;
        m.serialize_entry("hint", &self.hint())?;
        m.serialize_entry("message", &self.to_string())?;
        m.serialize_entry("ambiguous", &self.is_ambiguous())?;
        m.serialize_entry("accepted", self.accepted())?;
        m.serialize_entry("rejected", self.rejected())?;
        m.serialize_entry("attempts", self.attempts())?;
        m.end()
    }
}

impl Serialize for Attempt {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        let started = self.started.duration_since(UNIX_EPOCH).unwrap_or_default();
        m.serialize_entry("started", &started.as_secs_f64())?;
        m.serialize_entry("elapsed_ms", &self.elapsed.as_millis())?;
        match &self.outcome {
            AttemptOutcome::Delivered { .. } => m.serialize_entry("outcome", "delivered")?,
            AttemptOutcome::Failed {
                stage,
                reply,
                kind,
                ambiguous,
                why,
            } => {
                m.serialize_entry("outcome", if *ambiguous { "ambiguous" } else { kind.name() })?;
                m.serialize_entry("stage", stage)?;
                if let Some(r) = reply {
                    m.serialize_entry("reply", r)?;
                }
                m.serialize_entry("why", why)?;
            }
        }
        m.end()
    }
}

impl Serialize for TlsInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("version", &self.version)?;
        m.serialize_entry("cipher", &self.cipher)?;
        m.serialize_entry("verified", &self.is_verified())?;
        m.serialize_entry("problem", &self.problem)?;
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use squall_proto::reply::{Reply, ReplyCode};

    use super::*;

    #[test]
    fn an_error_has_the_documented_fields() {
        let e = Error::input("bad address");
        let v = serde_json::to_value(&e).unwrap();
        for field in [
            "kind",
            "stage",
            "code",
            "enhanced",
            "text",
            "hint",
            "message",
            "ambiguous",
            "accepted",
            "rejected",
            "attempts",
        ] {
            assert!(v.get(field).is_some(), "{field} in {v}");
        }
        assert_eq!(v["kind"], "local");
        assert_eq!(v["stage"], "prepare");
        let reply = Reply::new(ReplyCode::new(550).unwrap(), vec!["5.1.1 unknown".into()]);
        assert_eq!(
            serde_json::to_value(&reply).unwrap(),
            serde_json::json!({"code": 550, "enhanced": "5.1.1", "text": "unknown"})
        );
    }
}
