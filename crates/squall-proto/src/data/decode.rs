//! The receiving side of DATA: find the end of data and undo dot-stuffing.
//!
//! squall is a client, but its capture server and its tests need the exact inverse of
//! [`DotStuffer`](super::DotStuffer). Only CRLF ends a line here, as RFC 5321 §4.1.1.4 requires of
//! a receiver: `<LF>.<LF>` is content, not an end of data.

/// What [`DataDecoder::decode`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeStatus {
    /// All input was content; more is needed.
    NeedMore,
    /// The end-of-data line was found after `consumed` bytes of this input; the rest belongs to
    /// whatever follows (pipelined commands).
    Done {
        /// Bytes of this input that belonged to the data, the `.` CRLF included.
        consumed: usize,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    LineStart,
    Mid,
    MidCr,
    /// A `.` at the start of a line: stuffing, or the terminator.
    Dot,
    /// `.` CR at the start of a line.
    DotCr,
    Done,
}

/// Decodes the content sent after `354`: strips one leading `.` from each line and stops at the
/// `.` CRLF line. The content keeps its CRLFs; the CRLF before the final `.` is part of it.
#[derive(Clone, Debug)]
pub struct DataDecoder {
    state: State,
}

impl Default for DataDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl DataDecoder {
    /// A decoder at the start of the data.
    pub const fn new() -> Self {
        Self {
            state: State::LineStart,
        }
    }

    /// Appends the content in `input` to `out` and reports whether the end was reached.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> DecodeStatus {
        for (i, &b) in input.iter().enumerate() {
            self.state = match (self.state, b) {
                (State::Done, _) => return DecodeStatus::Done { consumed: i },
                (State::LineStart, b'.') => State::Dot,
                (State::Dot, b'\r') => State::DotCr,
                (State::DotCr, b'\n') => {
                    self.state = State::Done;
                    return DecodeStatus::Done { consumed: i + 1 };
                }
                (State::DotCr, _) => {
                    out.push(b'\r');
                    out.push(b);
                    next_after(b)
                }
                (State::LineStart | State::Mid | State::Dot, _) => {
                    out.push(b);
                    next_after(b)
                }
                (State::MidCr, b'\n') => {
                    out.push(b);
                    State::LineStart
                }
                (State::MidCr, _) => {
                    out.push(b);
                    next_after(b)
                }
            };
        }
        if self.state == State::Done {
            DecodeStatus::Done { consumed: 0 }
        } else {
            DecodeStatus::NeedMore
        }
    }

    /// True once the end-of-data line has been seen.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }
}

fn next_after(b: u8) -> State {
    if b == b'\r' { State::MidCr } else { State::Mid }
}
