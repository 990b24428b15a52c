//! Stuffing then un-stuffing gives the normalised body, for any bytes and any split, and the
//! wire never holds an early end of data or a bare CR or LF.
#![no_main]

use libfuzzer_sys::fuzz_target;
use squall_proto::data::{normalize, DataDecoder, DecodeStatus, DotStuffer};

fuzz_target!(|data: &[u8]| {
    let Some((&split, body)) = data.split_first() else { return };
    let at = usize::from(split) % (body.len() + 1);
    let mut s = DotStuffer::new();
    let mut wire = Vec::new();
    s.push(&body[..at], &mut wire);
    s.push(&body[at..], &mut wire);
    s.finish(&mut wire);
    let mut d = DataDecoder::new();
    let mut content = Vec::new();
    assert_eq!(d.decode(&wire, &mut content), DecodeStatus::Done { consumed: wire.len() });
    assert_eq!(content, normalize(body));
    for (i, &b) in wire.iter().enumerate() {
        assert!(b != b'\r' || wire.get(i + 1) == Some(&b'\n'));
        assert!(b != b'\n' || (i > 0 && wire[i - 1] == b'\r'));
    }
});
