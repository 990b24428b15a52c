//! [`SendOptions`]: the SMTP options a queued message is stored and sent with.

use squall::MailOptions;
use squall_proto::params::{BodyType, EnvelopeId, Ret};

/// What MAIL FROM will say for a queued message: what its envelope declared, plus what its
/// content turned out to need. Both engines store it in the same columns.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SendOptions {
    /// The content's size in bytes (SIZE=).
    pub(crate) size: u64,
    /// 0: 7BIT, 1: 8BITMIME, 2: BINARYMIME.
    pub(crate) body_type: i64,
    pub(crate) smtputf8: bool,
    pub(crate) prefer_8bitmime: bool,
    pub(crate) prefer_binarymime: bool,
    /// DSN RET (`FULL` or `HDRS`).
    pub(crate) ret: Option<String>,
    /// DSN ENVID.
    pub(crate) envid: Option<String>,
    pub(crate) require_tls: bool,
}

/// A [`SendOptions`] from a row holding its eight columns in order (size, body_type, smtputf8,
/// prefer_8bitmime, prefer_binarymime, ret, envid, require_tls) from position `$at`, on either
/// engine: `$get` is the row's getter (`get` for rusqlite, `try_get` for tokio-postgres), `$err`
/// what its error becomes before `?`.
macro_rules! send_options_from_row {
    ($r:ident . $get:ident, $at:expr, $err:expr) => {
        $crate::options::SendOptions {
            size: $r.$get::<_, i64>($at).map_err($err)?.try_into().unwrap_or(0),
            body_type: $r.$get($at + 1).map_err($err)?,
            smtputf8: $r.$get($at + 2).map_err($err)?,
            prefer_8bitmime: $r.$get($at + 3).map_err($err)?,
            prefer_binarymime: $r.$get($at + 4).map_err($err)?,
            ret: $r.$get($at + 5).map_err($err)?,
            envid: $r.$get($at + 6).map_err($err)?,
            require_tls: $r.$get($at + 7).map_err($err)?,
        }
    };
}
pub(crate) use send_options_from_row;

impl SendOptions {
    /// What the envelope declares (the size is measured from the content later).
    pub(crate) fn declared(o: &MailOptions) -> Self {
        Self {
            size: 0,
            body_type: i64::from(o.body != BodyType::SevenBit),
            smtputf8: o.smtputf8,
            prefer_8bitmime: o.prefer_8bitmime,
            prefer_binarymime: o.prefer_binarymime,
            ret: o.ret.map(|r| match r {
                Ret::Full => "FULL".to_string(),
                Ret::Headers => "HDRS".to_string(),
            }),
            envid: o.envid.as_ref().map(|e| e.as_str().to_string()),
            require_tls: o.require_tls,
        }
    }

    /// Adds what the content says: its size, whether it is 8-bit or binary, whether its header
    /// fields need SMTPUTF8.
    pub(crate) fn apply_profile(&mut self, p: &squall_proto::data::Profile) {
        self.size = p.size;
        if p.eight_bit && self.body_type == 0 {
            self.body_type = 1;
        }
        self.smtputf8 |= p.utf8_headers;
        self.prefer_binarymime |= p.binary;
    }

    /// The options to send with. A stored value that no longer parses is left out.
    pub(crate) fn mail_options(&self) -> MailOptions {
        let mut o = MailOptions::default();
        o.body = match self.body_type {
            1 => BodyType::EightBitMime,
            2 => BodyType::BinaryMime,
            _ => BodyType::SevenBit,
        };
        o.size = Some(self.size);
        o.smtputf8 = self.smtputf8;
        o.prefer_8bitmime = self.prefer_8bitmime;
        o.prefer_binarymime = self.prefer_binarymime;
        o.ret = self.ret.as_deref().and_then(|r| r.parse::<Ret>().ok());
        o.envid = self.envid.as_deref().and_then(|e| EnvelopeId::new(e).ok());
        o.require_tls = self.require_tls;
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Declared, stored as both engines store it, and read back: the same MAIL FROM options.
    #[test]
    fn options_survive_the_round_trip() {
        let mut o = MailOptions::default();
        o.body = BodyType::EightBitMime;
        o.smtputf8 = true;
        o.ret = Some(Ret::Headers);
        o.envid = EnvelopeId::new("q42").ok();
        o.require_tls = true;
        let mut s = SendOptions::declared(&o);
        s.size = 1234;
        let back = s.mail_options();
        assert_eq!(back.body, BodyType::EightBitMime);
        assert_eq!(back.size, Some(1234));
        assert!(back.smtputf8 && back.require_tls);
        assert_eq!(back.ret, Some(Ret::Headers));
        assert_eq!(back.envid.as_ref().map(|e| e.as_str()), Some("q42"));
    }
}
