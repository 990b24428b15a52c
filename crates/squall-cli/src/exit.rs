//! Exit codes from sysexits.h, as sendmail and msmtp use them, so scripts can tell failures apart.

use squall::{Error, ErrorKind, Receipt, Stage};

/// Every recipient accepted.
pub(crate) const OK: u8 = 0;
/// The command line was wrong.
pub(crate) const USAGE: u8 = 64;
/// The message or an address was refused as input.
pub(crate) const DATAERR: u8 = 65;
/// An input file could not be read.
pub(crate) const NOINPUT: u8 = 66;
/// One or more recipients were refused for good.
pub(crate) const NOUSER: u8 = 67;
/// The server could not be reached, or refused service.
pub(crate) const UNAVAILABLE: u8 = 69;
/// The server's host name does not exist (sendmail's EX_NOHOST).
pub(crate) const NOHOST: u8 = 68;
/// Something that should not happen happened here.
pub(crate) const SOFTWARE: u8 = 70;
/// Reading the input failed.
pub(crate) const IOERR: u8 = 74;
/// A temporary failure: trying again later may work.
pub(crate) const TEMPFAIL: u8 = 75;
/// The server broke the protocol.
pub(crate) const PROTOCOL: u8 = 76;
/// The server refused the credentials.
pub(crate) const NOPERM: u8 = 77;
/// The configuration contradicts itself or the server.
pub(crate) const CONFIG: u8 = 78;

/// The exit code for a failed send.
pub(crate) fn for_error(e: &Error) -> u8 {
    if e.is_unknown_host() {
        NOHOST
    } else if e.is_input() {
        DATAERR
    } else if e.is_auth_refused() {
        NOPERM
    } else if e.is_config() {
        CONFIG
    } else if e.is_protocol() {
        PROTOCOL
    } else if is_lookup(e) {
        // A lookup that may work later (the resolver down): try again later, as the README says.
        TEMPFAIL
    } else if e.is_unavailable() {
        UNAVAILABLE
    } else if e.kind() == ErrorKind::Transient {
        TEMPFAIL
    } else if e.is_recipients() {
        NOUSER
    } else if matches!(e.stage(), Stage::Data | Stage::DataEnd) {
        DATAERR
    } else if e.kind() == ErrorKind::Local {
        CONFIG
    } else {
        UNAVAILABLE
    }
}

/// A failed name lookup of the server. The library has no predicate for it (only
/// `is_unknown_host` for a name that does not exist, and `is_unavailable`, which also covers a
/// refused connection), so this reads its own wording for that failure: "could not look up the
/// name of HOST: …", which its tests pin (`an_unknown_host_is_named_as_a_name_lookup`).
fn is_lookup(e: &Error) -> bool {
    e.stage() == Stage::Connect && e.summary().starts_with("could not look up the name of ")
}

/// The exit code for a delivered message: 67 if a recipient was refused for good, 75 if one
/// was refused only for now or may not have it.
pub(crate) fn for_receipt(r: &Receipt) -> u8 {
    if r.rejected.iter().any(|x| x.reply.is_permanent()) {
        NOUSER
    } else if !r.rejected.is_empty() || !r.ambiguous.is_empty() {
        TEMPFAIL
    } else {
        OK
    }
}
