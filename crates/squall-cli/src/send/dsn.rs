//! Delivery status notifications (RFC 3461: `--notify`, `--ret`, `--envid`, and ORCPT for each
//! recipient when any of them is given) and REQUIRETLS (RFC 8689: `--require-tls`), put on the
//! envelope.
//!
//! The values are read here rather than by clap so that a bad one is shown escaped (`"\u{1b}"`),
//! never echoed raw to a terminal or a log.

use squall::{
    Envelope, EnvelopeId, Error, MailOptions, Mailbox, Notify, OriginalRecipient, Recipient, Ret, ReversePath,
};

use crate::exit;

/// The DSN and REQUIRETLS flags, checked.
#[derive(Debug, Default)]
pub(crate) struct Dsn {
    notify: Option<Notify>,
    ret: Option<Ret>,
    envid: Option<EnvelopeId>,
    require_tls: bool,
}

impl Dsn {
    /// Reads the flags; a bad value is a usage error (64) that shows the expected form.
    pub(crate) fn from_flags(
        notify: Option<&str>,
        ret: Option<&str>,
        envid: Option<&str>,
        require_tls: bool,
    ) -> Result<Self, (u8, Error)> {
        let usage = |m: String| (exit::USAGE, Error::from_input(m));
        Ok(Self {
            notify: notify.map(parse_notify).transpose().map_err(usage)?,
            ret: ret.map(parse_ret).transpose().map_err(usage)?,
            envid: envid
                .map(|id| EnvelopeId::new(id).map_err(|e| format!("--envid {id:?}: {e}")))
                .transpose()
                .map_err(usage)?,
            require_tls,
        })
    }

    /// Whether a DSN option was given: then each recipient also carries its ORCPT.
    fn requested(&self) -> bool {
        self.notify.is_some() || self.ret.is_some() || self.envid.is_some()
    }

    /// The envelope from `from` to `recipients` (each once), with `options` (what the content
    /// needs: SIZE, BODY) plus these flags.
    ///
    /// ORCPT names each recipient as given, so a notice about a forwarded or aliased address
    /// still says which one was written; it is left out for a non-ASCII address, which the
    /// `rfc822` type cannot carry (RFC 6533's `utf-8` type is not offered by the library).
    pub(crate) fn envelope(
        &self,
        from: ReversePath,
        recipients: impl IntoIterator<Item = Mailbox>,
        mut options: MailOptions,
    ) -> Result<Envelope, (u8, Error)> {
        options.ret = self.ret;
        options.envid = self.envid.clone();
        options.require_tls = self.require_tls;
        let recipients = recipients.into_iter().map(|mailbox| {
            let orcpt = (self.requested() && mailbox.as_str().is_ascii())
                .then(|| OriginalRecipient::from_mailbox(&mailbox));
            Recipient::from(mailbox).notify(self.notify).orcpt(orcpt)
        });
        Envelope::new(from, recipients)
            .map(|e| e.with_options(options))
            .map_err(|_| {
                (
                    exit::USAGE,
                    Error::from_input("no recipient: give at least one with --to, --cc or --bcc"),
                )
            })
    }
}

/// `never`, or a list of `success`, `failure`, `delay` (any case).
fn parse_notify(s: &str) -> Result<Notify, String> {
    s.parse()
        .map_err(|e| format!("--notify {e} (such as --notify failure,delay)"))
}

/// `full` or `hdrs` (also `headers`).
fn parse_ret(s: &str) -> Result<Ret, String> {
    s.parse().map_err(|_| {
        format!("--ret {s:?}: expected full (a failure notice returns the whole message) or hdrs (only its headers)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_values() {
        assert_eq!(parse_notify("never").unwrap(), Notify::NEVER);
        assert_eq!(
            parse_notify("Failure, DELAY").unwrap(),
            Notify::on(false, true, true)
        );
        for bad in [
            "",
            "sucess",
            "never,success",
            "failure\r\nRCPT TO:<x@evil.example>",
            "\u{1b}[31m",
        ] {
            let e = parse_notify(bad).unwrap_err();
            assert!(e.contains("expected never"), "{e}");
            assert!(!e.contains('\r') && !e.contains('\u{1b}'), "escaped: {e}");
        }
    }

    #[test]
    fn ret_values() {
        assert_eq!(parse_ret("HDRS").unwrap(), Ret::Headers);
        assert_eq!(parse_ret("headers").unwrap(), Ret::Headers);
        assert_eq!(parse_ret("full").unwrap(), Ret::Full);
        assert!(parse_ret("all").unwrap_err().contains("expected full"));
    }

    #[test]
    fn orcpt_only_with_dsn_and_ascii() {
        let from = ReversePath::parse("a@example.org").unwrap();
        let rcpts = || {
            ["b@example.org", "bü@example.org"]
                .map(|a| Mailbox::parse(a).unwrap())
                .to_vec()
        };
        let plain = Dsn::default()
            .envelope(from.clone(), rcpts(), MailOptions::default())
            .unwrap();
        assert!(
            plain
                .recipients()
                .iter()
                .all(|r| r.orcpt.is_none() && r.notify.is_none())
        );
        let dsn = Dsn::from_flags(Some("failure"), Some("hdrs"), Some("batch 7"), true).unwrap();
        let e = dsn.envelope(from, rcpts(), MailOptions::default()).unwrap();
        assert_eq!(
            e.recipients()[0].orcpt.as_ref().unwrap().as_str(),
            "b@example.org"
        );
        assert!(e.recipients()[1].orcpt.is_none());
        assert_eq!(e.recipients()[1].notify, Some(Notify::on(false, true, false)));
        let o = e.options();
        assert_eq!((o.ret, o.require_tls), (Some(Ret::Headers), true));
        assert_eq!(o.envid.as_ref().unwrap().as_str(), "batch 7");
        let (code, e) = Dsn::from_flags(None, None, Some("a\rb"), false).unwrap_err();
        assert_eq!(code, 64);
        assert!(e.to_string().contains(r#"--envid "a\rb""#), "{e}");
    }
}
