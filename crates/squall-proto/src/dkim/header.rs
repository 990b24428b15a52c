//! Header fields: finding them in a header section, and their canonical forms (RFC 6376
//! §3.4.1, §3.4.2).

use super::Canonicalization;

/// One header field as it appears in the message: its name and every byte of it, folded
/// continuation lines and final CRLF included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name, without the colon or whitespace before it.
    pub name: &'a [u8],
    /// The whole field, `Name: value\r\n`.
    pub raw: &'a [u8],
}

impl Field<'_> {
    /// Whether this field is called `name` (case does not matter).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name.as_bytes())
    }
}

/// The fields of a CRLF-normalised header section (without the empty line that ends it), in
/// order. A line that is not a continuation and has no colon is a field with that whole line as
/// its name, which no signer asks for.
pub fn fields(section: &[u8]) -> Vec<Field<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < section.len() {
        let end = memchr::memmem::find(&section[i..], b"\r\n").map_or(section.len(), |k| i + k + 2);
        // A line starting with whitespace continues the field before it.
        let continues = matches!(section.get(end), Some(b' ' | b'\t'));
        i = end;
        if !continues {
            out.push(field(&section[start..end]));
            start = end;
        }
    }
    out
}

fn field(raw: &[u8]) -> Field<'_> {
    let colon = memchr::memchr(b':', raw);
    let name = match colon {
        Some(c) => trim_end(&raw[..c]),
        None => trim_end(raw),
    };
    Field { name, raw }
}

fn trim_end(mut b: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t' | b'\r' | b'\n'] = b {
        b = rest;
    }
    b
}

fn trim_start(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n', rest @ ..] = b {
        b = rest;
    }
    b
}

/// Appends the canonical form of `raw` (a whole field, `Name: value\r\n`) to `out`.
pub(crate) fn canonical(canon: Canonicalization, raw: &[u8], out: &mut Vec<u8>) {
    match canon {
        Canonicalization::Simple => out.extend_from_slice(raw),
        Canonicalization::Relaxed => {
            let (name, value) = match memchr::memchr(b':', raw) {
                Some(c) => (&raw[..c], &raw[c + 1..]),
                None => (raw, &b""[..]),
            };
            out.extend(trim_end(name).iter().map(u8::to_ascii_lowercase));
            out.push(b':');
            // Unfolded, whitespace runs as one space, none at either end.
            let mut space = false;
            for &b in trim_start(trim_end(value)) {
                match b {
                    b'\r' | b'\n' => {}
                    b' ' | b'\t' => space = true,
                    _ => {
                        if std::mem::take(&mut space) {
                            out.push(b' ');
                        }
                        out.push(b);
                    }
                }
            }
            out.extend_from_slice(b"\r\n");
        }
    }
}
