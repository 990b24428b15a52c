//! Shared by the benchmark and its peer clients.

pub mod peers;

/// The median of `v` (the upper one of an even count; NaN when empty).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The peak and current resident set of process `pid`, in KiB (`VmHWM`, `VmRSS`); zeros once
/// it is gone.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

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
