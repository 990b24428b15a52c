//! [`Profile`]: what a message's content needs declared on MAIL, found in one pass.
//!
//! A driver that knows its content before sending (bytes in memory, a file) declares `SIZE=`
//! and `BODY=` from it, so that a server's limits refuse the message before any of it is sent,
//! instead of after. The scan is cheap: vectorised checks for 8-bit bytes and NUL, and a line-end
//! walk that is the same one the encoder does.

use memchr::{memchr, memchr2};

use super::CrlfNormalizer;

/// RFC 5322 §2.1.1: lines of at most 998 characters, CRLF excluded.
const MAX_LINE: u64 = 998;

/// What a message's content is like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// The bytes a receiver stores (line ends normalised, the last line ended): `SIZE=`.
    pub size: u64,
    /// A byte with the high bit set: `BODY=8BITMIME`.
    pub eight_bit: bool,
    /// A NUL, or a line longer than 998 octets: not SMTP text; `BODY=BINARYMIME` where offered.
    pub binary: bool,
    /// Non-ASCII in the header section: the message needs `SMTPUTF8`.
    pub utf8_headers: bool,
}

/// Builds a [`Profile`] from content fed in pieces of any size.
#[derive(Clone, Debug)]
pub struct Scanner {
    size: CrlfNormalizer,
    profile: Profile,
    /// Length of the line in progress (CR and LF excluded).
    line: u64,
    /// Still in the header section (no empty line yet).
    in_headers: bool,
    /// The previous piece ended with a CR (its LF may open this one).
    after_cr: bool,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    /// A scanner at the start of a message.
    pub fn new() -> Self {
        Self {
            size: CrlfNormalizer::new(),
            profile: Profile::default(),
            line: 0,
            in_headers: true,
            after_cr: false,
        }
    }

    /// Scans the next piece.
    pub fn push(&mut self, input: &[u8]) {
        self.size.measure(input);
        let p = &mut self.profile;
        p.eight_bit |= !input.is_ascii();
        p.binary |= memchr(0, input).is_some();
        if self.in_headers || !self.profile.binary {
            self.lines(input);
        }
    }

    /// Walks the line ends of `input` for line lengths and the end of the header section.
    fn lines(&mut self, input: &[u8]) {
        let mut i = 0;
        if std::mem::take(&mut self.after_cr) && input.first() == Some(&b'\n') {
            i = 1;
        }
        while i < input.len() {
            let (end, next) = match memchr2(b'\r', b'\n', &input[i..]) {
                Some(k) => {
                    let j = i + k;
                    let next = match (input[j], input.get(j + 1)) {
                        (b'\r', Some(b'\n')) => j + 2,
                        (b'\r', None) => {
                            self.after_cr = true;
                            j + 1
                        }
                        _ => j + 1,
                    };
                    (j, Some(next))
                }
                None => (input.len(), None),
            };
            let text = &input[i..end];
            self.line += text.len() as u64;
            if self.in_headers && !text.is_ascii() {
                self.profile.utf8_headers = true;
            }
            match next {
                None => break,
                Some(next) => {
                    self.end_line();
                    i = next;
                }
            }
        }
    }

    fn end_line(&mut self) {
        if self.line > MAX_LINE {
            self.profile.binary = true;
        }
        if self.line == 0 {
            self.in_headers = false;
        }
        self.line = 0;
    }

    /// The profile of everything pushed.
    pub fn finish(mut self) -> Profile {
        if self.line > MAX_LINE {
            self.profile.binary = true;
        }
        self.profile.size = self.size.final_len();
        self.profile
    }
}

/// The profile of content held whole.
pub fn profile(content: &[u8]) -> Profile {
    let mut s = Scanner::new();
    s.push(content);
    s.finish()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn table() {
        let p = profile(b"Subject: hi\r\n\r\nhello\r\n");
        assert_eq!(
            p,
            Profile {
                size: 22,
                ..Profile::default()
            }
        );
        let p = profile("Subject: Grüße\n\nx".as_bytes());
        assert!(p.eight_bit && p.utf8_headers && !p.binary);
        assert_eq!(
            p.size,
            super::super::normalized_len("Subject: Grüße\n\nx".as_bytes())
        );
        let p = profile("Subject: a\r\n\r\nGrüße\r\n".as_bytes());
        assert!(p.eight_bit && !p.utf8_headers);
        assert!(profile(b"a\r\n\r\nb\0c\r\n").binary);
        let long = format!("a: b\r\n\r\n{}\r\n", "x".repeat(998));
        assert!(!profile(long.as_bytes()).binary);
        let long = format!("a: b\r\n\r\n{}\r\n", "x".repeat(999));
        assert!(profile(long.as_bytes()).binary);
        assert_eq!(profile(b""), Profile::default());
    }

    proptest! {
        /// Any split gives the same profile, and the size is what the encoder produces.
        #[test]
        fn splits_agree(
            body in prop::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'x'), Just(0xC3u8), Just(0u8)], 0..3000),
            cut in any::<prop::sample::Index>(),
        ) {
            let whole = profile(&body);
            let at = cut.index(body.len() + 1);
            let mut s = Scanner::new();
            s.push(&body[..at]);
            s.push(&body[at..]);
            prop_assert_eq!(s.finish(), whole);
            prop_assert_eq!(whole.size, super::super::normalized_len(&body));
        }
    }
}
