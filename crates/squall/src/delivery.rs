//! [`Delivery`]: what a message asks of the servers that carry it: delivery status notifications
//! (RFC 3461) and REQUIRETLS (RFC 8689).

use squall_proto::envelope::Envelope;
use squall_proto::params::{EnvelopeId, Notify, OriginalRecipient, Ret};

use crate::error::Error;

/// Requests that travel with a message's envelope.
///
/// ```
/// use squall::{Delivery, Notify, Ret};
///
/// let d = Delivery::new()
///     .notify(Notify::FAILURE | Notify::DELAY) // a DSN if it fails or is delayed
///     .ret(Ret::Headers)                       // returning only the headers
///     .envelope_id("order-1234")?              // quoted in the DSN, to match it up
///     .require_tls(true);                      // TLS on every hop, or bounce
/// # Ok::<(), squall::Error>(())
/// ```
///
/// Give it to [`Client::send_with`](crate::Client::send_with) or
/// [`MessageBuilder::delivery`](crate::MessageBuilder::delivery). DSN parameters are sent only to
/// servers that offer DSN (and dropped for others, as RFC 3461 §4.5 lets a client do); with
/// REQUIRETLS the message is not sent unless the session is encrypted and the server offers the
/// extension, which then holds every later hop to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Delivery {
    notify: Option<Notify>,
    ret: Option<Ret>,
    envid: Option<EnvelopeId>,
    orcpt: bool,
    require_tls: bool,
}

impl Delivery {
    /// No requests: what a message gets without one.
    pub fn new() -> Self {
        Self::default()
    }

    /// When each recipient's server should report back (`NOTIFY=`).
    pub fn notify(mut self, events: Notify) -> Self {
        self.notify = Some(events);
        self
    }

    /// How much of the message a failure report returns (`RET=`).
    pub fn ret(mut self, ret: Ret) -> Self {
        self.ret = Some(ret);
        self
    }

    /// An identifier the reports quote (`ENVID=`), to match them to what was sent: at most 100
    /// printable ASCII characters.
    pub fn envelope_id(mut self, id: &str) -> Result<Self, Error> {
        let id = EnvelopeId::new(id).map_err(|e| Error::input(format!("invalid envelope id {id:?}: {e}")))?;
        self.envid = Some(id);
        Ok(self)
    }

    /// Sends each recipient's address as its original recipient (`ORCPT=rfc822;…`), so that a
    /// report names the address as it was given even after forwarding (ASCII addresses only:
    /// the `rfc822` type cannot carry others).
    pub fn original_recipients(mut self, on: bool) -> Self {
        self.orcpt = on;
        self
    }

    /// Refuses to send unless TLS protects the session and the server supports REQUIRETLS.
    pub fn require_tls(mut self, on: bool) -> Self {
        self.require_tls = on;
        self
    }

    /// `envelope` with these requests (its other options kept).
    pub(crate) fn apply(&self, envelope: Envelope) -> Envelope {
        if *self == Self::default() {
            return envelope;
        }
        let mut options = envelope.options().clone();
        options.ret = self.ret.or(options.ret);
        options.envid = self.envid.clone().or(options.envid);
        options.require_tls |= self.require_tls;
        let recipients = envelope.recipients().iter().cloned().map(|mut r| {
            r.notify = self.notify.or(r.notify);
            // The rfc822 address type cannot carry a UTF-8 address (that needs RFC 6533).
            if self.orcpt && r.orcpt.is_none() && r.mailbox.as_str().is_ascii() {
                r.orcpt = Some(OriginalRecipient::from_mailbox(&r.mailbox));
            }
            r
        });
        Envelope::new(envelope.from().clone(), recipients)
            .expect("the same recipients, so not none")
            .with_options(options)
    }
}

#[cfg(test)]
mod tests {
    use squall_proto::address::{Mailbox, ReversePath};

    use super::*;

    #[test]
    fn requests_reach_the_envelope_and_keep_its_other_options() {
        let to = Mailbox::parse("b@example.net").unwrap();
        let e = Envelope::new(ReversePath::parse("a@example.org").unwrap(), [to]).unwrap();
        let mut o = e.options().clone();
        o.size = Some(42);
        let e = e.with_options(o);
        let d = Delivery::new()
            .notify(Notify::FAILURE)
            .ret(Ret::Full)
            .envelope_id("id 1")
            .unwrap()
            .original_recipients(true)
            .require_tls(true);
        let e = d.apply(e);
        assert_eq!(e.options().size, Some(42));
        assert_eq!(e.options().ret, Some(Ret::Full));
        assert!(e.options().require_tls);
        assert_eq!(e.options().envid.as_ref().unwrap().as_str(), "id 1");
        let r = &e.recipients()[0];
        assert_eq!(r.notify, Some(Notify::FAILURE));
        assert_eq!(r.orcpt.as_ref().unwrap().as_str(), "b@example.net");
        assert!(Delivery::new().envelope_id("a\r\nRCPT TO:<x>").is_err());
    }
}
