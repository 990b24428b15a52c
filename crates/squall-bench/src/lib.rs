//! Shared by the benchmark and its peer clients.

pub mod peers;

/// Message `i` of `count`, `size` bytes: a few headers and lines of text, like `squall bulk`
/// generates, so every client sends the same shape of mail.
pub fn generate_message(i: u64, count: u64, size: usize) -> Vec<u8> {
    let mut m = format!(
        "From: <a@example.org>\r\nTo: <b@example.org>\r\nSubject: bench {}/{count}\r\n\r\n",
        i + 1
    )
    .into_bytes();
    const LINE: &[u8] = b"The quick brown fox jumps over the lazy dog; squall sends mail in bulk.\r\n";
    while m.len() < size {
        let take = LINE.len().min(size - m.len());
        m.extend_from_slice(&LINE[..take]);
    }
    m
}
