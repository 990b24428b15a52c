//! [`Profile`]: what a message's content needs declared on MAIL, found in one pass.
//!
//! A driver that knows its content before sending (bytes in memory, a file) declares `SIZE=`
//! and `BODY=` from it, so that a server's limits refuse the message before any of it is sent,
//! instead of after. The scan is cheap: vectorised checks for 8-bit bytes and NUL, and a line-end
//! walk that is the same one the encoder does.

use memchr::{memchr, memchr2, memrchr2};

use super::CrlfNormalizer;

/// RFC 5322 §2.1.1: lines of at most 998 characters, CRLF excluded.
const MAX_LINE: u64 = 998;

/// What a message's content is like.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
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
        let mut rest = input;
        if std::mem::take(&mut self.after_cr) && rest.first() == Some(&b'\n') {
            rest = &rest[1..];
        }
        if self.in_headers {
            rest = self.header_lines(rest);
        }
        if !self.profile.binary {
            self.body_lines(rest);
        }
    }

    /// Walks the header section line by line (it is short), for non-ASCII and for its end;
    /// returns what follows it in `input`.
    fn header_lines<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let mut i = 0;
        while i < input.len() && self.in_headers {
            let Some(k) = memchr2(b'\r', b'\n', &input[i..]) else {
                self.add_to_line(&input[i..]);
                return &[];
            };
            let j = i + k;
            self.add_to_line(&input[i..j]);
            i = match (input[j], input.get(j + 1)) {
                (b'\r', Some(b'\n')) => j + 2,
                (b'\r', None) => {
                    self.after_cr = true;
                    j + 1
                }
                _ => j + 1,
            };
            self.end_line();
        }
        &input[i..]
    }

    fn add_to_line(&mut self, text: &[u8]) {
        self.line += text.len() as u64;
        if !text.is_ascii() {
            self.profile.utf8_headers = true;
        }
    }

    /// Looks for a line longer than 998 octets in the body, a window at a time: the last line
    /// end in the next 999 octets starts the next window, so a body of normal lines costs one
    /// search per kilobyte, not one per line.
    fn body_lines(&mut self, input: &[u8]) {
        let mut i = 0;
        while i < input.len() {
            let room = (MAX_LINE - self.line.min(MAX_LINE)) as usize;
            let end = (i + room + 1).min(input.len());
            match memrchr2(b'\r', b'\n', &input[i..end]) {
                Some(k) => {
                    self.line = (end - (i + k + 1)) as u64;
                    i = end;
                }
                None if end == input.len() => {
                    self.line += (end - i) as u64;
                    i = end;
                }
                None => {
                    self.profile.binary = true;
                    return;
                }
            }
        }
        if let Some(&last) = input.last() {
            self.after_cr = last == b'\r';
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

    /// The profile as RFC 5322 defines it, from the normalised content line by line.
    fn reference(body: &[u8]) -> Profile {
        let normal = super::super::normalize(body);
        let text = normal.strip_suffix(b"\r\n").unwrap_or(&normal);
        let lines: Vec<&[u8]> = if normal.is_empty() {
            Vec::new()
        } else {
            text.split(|&b| b == b'\n')
                .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
                .collect()
        };
        let headers = lines.iter().take_while(|l| !l.is_empty());
        Profile {
            size: normal.len() as u64,
            eight_bit: !body.is_ascii(),
            binary: body.contains(&0) || lines.iter().any(|l| l.len() > MAX_LINE as usize),
            utf8_headers: headers.clone().any(|l| !l.is_ascii()),
        }
    }

    /// Content made of runs (some longer than a line may be) and every kind of line end.
    fn content() -> impl Strategy<Value = Vec<u8>> {
        let run = prop_oneof![
            (0usize..80).prop_map(|n| vec![b'x'; n]),
            (990usize..1010).prop_map(|n| vec![b'y'; n]),
            Just("ü".as_bytes().to_vec()),
            Just(vec![0u8]),
        ];
        let end = prop_oneof![
            Just(b"\r\n".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(Vec::new())
        ];
        prop::collection::vec((run, end), 0..40).prop_map(|parts| {
            parts
                .into_iter()
                .flat_map(|(r, e)| r.into_iter().chain(e))
                .collect()
        })
    }

    proptest! {
        /// Any split gives the profile the definition gives.
        #[test]
        fn splits_agree_with_the_definition(
            body in content(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
        ) {
            let mut at: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
            at.sort_unstable();
            let mut s = Scanner::new();
            let mut from = 0;
            for to in at.into_iter().chain([body.len()]) {
                s.push(&body[from..to]);
                from = to;
            }
            prop_assert_eq!(s.finish(), reference(&body));
            prop_assert_eq!(profile(&body), reference(&body));
        }
    }
}
