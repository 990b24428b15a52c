//! The JSON shape of replies and recipient outcomes (the `serde` feature): what `squall --json`
//! prints and what tools built on squall get, one shape everywhere.
//!
//! A reply is `{"code": 550, "enhanced": "5.1.1", "text": "user unknown"}`; a recipient's outcome
//! adds `"address"`. Kinds and stages are their lower-case names.

use serde::ser::{Serialize, SerializeMap, Serializer};

use crate::reply::Reply;
use crate::session::{ErrorKind, RecipientReply, Stage};

fn reply_fields<M: SerializeMap>(map: &mut M, r: &Reply) -> Result<(), M::Error> {
    map.serialize_entry("code", &r.code().value())?;
    map.serialize_entry("enhanced", &r.enhanced().map(|e| e.to_string()))?;
    map.serialize_entry("text", &r.message())
}

impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(3))?;
        reply_fields(&mut map, self)?;
        map.end()
    }
}

impl Serialize for RecipientReply {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(4))?;
        map.serialize_entry("address", self.recipient.as_str())?;
        reply_fields(&mut map, &self.reply)?;
        map.end()
    }
}

impl Serialize for ErrorKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl Serialize for Stage {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}
