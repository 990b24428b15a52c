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

/// The CPU time this process's threads used since [`CpuClock::start`] (from
/// `/proc/self/task/*/schedstat`; zeros off Linux). Unlike wall time, it hardly moves with the
/// machine's load. Threads that end in between are not counted.
pub struct CpuClock(Vec<(String, String, u64)>);

impl CpuClock {
    /// Notes every thread's CPU time so far.
    pub fn start() -> Self {
        Self(threads())
    }

    /// Nanoseconds used since the start: by all threads, and by those whose name starts with
    /// `prefix`.
    pub fn elapsed(&self, prefix: &str) -> (u64, u64) {
        let (mut all, mut named) = (0, 0);
        for (tid, comm, ns) in threads() {
            let before = self.0.iter().find(|(t, _, _)| *t == tid).map_or(0, |b| b.2);
            let used = ns.saturating_sub(before);
            all += used;
            if comm.starts_with(prefix) {
                named += used;
            }
        }
        (all, named)
    }
}

/// Each live thread: its id, name and CPU nanoseconds.
fn threads() -> Vec<(String, String, u64)> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .map(|t| {
            let p = t.path();
            let ns = std::fs::read_to_string(p.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
                .unwrap_or(0);
            let comm = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
            (t.file_name().to_string_lossy().into_owned(), comm, ns)
        })
        .collect()
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
