//! Signing what a client sends: bytes at once, files in a first pass before the one that sends
//! them, streams not at all (they can be read only once).

use std::io::{self, Read};
use std::path::Path;

use crate::body::{Body, Source};
use crate::error::Error;

use super::DkimSigner;

/// Pieces read from a file at once.
const PIECE: usize = 256 * 1024;

/// The signature fields of every signer over the message read from `pieces`, in one pass.
pub(super) fn sign_pieces<'a>(
    signers: &[DkimSigner],
    pieces: impl IntoIterator<Item = io::Result<&'a [u8]>>,
) -> Result<Vec<String>, Error> {
    sign_with(signers, |each| {
        for piece in pieces {
            if each(piece?).is_err() {
                break; // reported by `sign_with`
            }
        }
        Ok(())
    })
    .map(|(fields, _)| fields)
}

/// Runs every signer over the pieces `read` hands to it; also says whether line ends had to be
/// rewritten.
fn sign_with(
    signers: &[DkimSigner],
    read: impl FnOnce(&mut dyn FnMut(&[u8]) -> Result<(), Error>) -> io::Result<()>,
) -> Result<(Vec<String>, bool), Error> {
    let mut states: Vec<_> = signers.iter().map(DkimSigner::start).collect();
    let mut failed = None;
    let mut each = |piece: &[u8]| -> Result<(), Error> {
        for (c, hash) in &mut states {
            c.push(piece, &mut |x| hash.update(x))?;
        }
        Ok(())
    };
    let read_result = read(&mut |piece| each(piece).inspect_err(|e| failed = Some(e.clone())));
    if let Some(e) = failed {
        return Err(e);
    }
    read_result.map_err(|e| Error::input(format!("reading the message to sign it: {e}")))?;
    let rewrote = states.iter().any(|(c, _)| c.rewrote_line_ends());
    let mut fields = Vec::with_capacity(signers.len());
    for (signer, (c, mut hash)) in signers.iter().zip(states) {
        let section = c.finish(&mut |x| hash.update(x))?;
        fields.push(signer.field(&section, hash.finish().as_ref())?);
    }
    Ok((fields, rewrote))
}

/// The fields, then `message` normalised to CRLF.
pub(super) fn signed_bytes(signers: &[DkimSigner], message: &[u8]) -> Result<Vec<u8>, Error> {
    let fields = sign_pieces(signers, [Ok(message)])?;
    let mut out = Vec::with_capacity(message.len() + message.len() / 32 + 1024);
    for f in &fields {
        out.extend_from_slice(f.as_bytes());
    }
    let mut n = squall_proto::data::CrlfNormalizer::new();
    n.push(message, &mut out);
    n.finish(&mut out);
    Ok(out)
}

/// The fields for the file at `path`, read once; `binary` says it may be sent byte for byte.
fn sign_file(signers: &[DkimSigner], path: &Path, binary: bool) -> Result<Vec<String>, Error> {
    let (fields, rewrote) = sign_with(signers, |each| {
        let mut file = std::fs::File::open(path)?;
        let mut buf = vec![0; PIECE];
        loop {
            match file.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => {
                    if each(&buf[..n]).is_err() {
                        return Ok(()); // reported by `sign_with`
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    })
    .map_err(|e| Error::input(format!("{}: {}", path.display(), e.summary())))?;
    if binary && rewrote {
        return Err(Error::input(format!(
            "{} is binary (a NUL, or a line over 998 octets) and has bare CR or LF line ends: sent \
             byte for byte it would not match its DKIM signature; convert its line ends to CRLF",
            path.display()
        )));
    }
    Ok(fields)
}

/// `body` with every signer's field before it. Files are read here, on the calling thread.
pub(crate) fn sign_body(signers: &[DkimSigner], body: Body) -> Result<Body, Error> {
    if signers.is_empty() {
        return Ok(body);
    }
    match body.0 {
        Source::Bytes(b) => Ok(Body::from(signed_bytes(signers, &b)?)),
        Source::File(f) => {
            let fields = sign_file(signers, &f.path, f.profile.binary)?;
            Ok(Body(Source::File(f.with_prefix(fields.concat().into()))))
        }
        Source::Reader(_) => Err(Error::input(
            "a DKIM signature needs the whole message before it is sent, and a stream can be read \
             only once: give the message as bytes or as a file (Body::file)",
        )),
    }
}

/// [`sign_body`] on a thread where blocking is allowed, for async callers.
pub(crate) async fn sign_body_off_thread(
    signers: &[DkimSigner],
    body: Body,
    runtime: &tokio::runtime::Handle,
) -> Result<Body, Error> {
    if signers.is_empty() || !matches!(body.0, Source::File(_)) {
        return sign_body(signers, body);
    }
    let signers = signers.to_vec();
    runtime
        .spawn_blocking(move || sign_body(&signers, body))
        .await
        .unwrap_or_else(|_| Err(Error::input("signing the message failed: its thread ended")))
}
