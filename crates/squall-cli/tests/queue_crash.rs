//! `squall queue run` killed with SIGKILL at random points, five times, then run to the end:
//! every message ends delivered, the sink's copies reconcile with the queue, and duplicates
//! appear only among messages flagged `possible_duplicate`, no more than the in-flight window
//! per kill.

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use squall_outbox::{MessageState, Outbox};
use squall_sink::{Fault, Sink};

const MESSAGES: usize = 400;
const WINDOW: usize = 16;
const ROUNDS: usize = 5;

/// xorshift64*: enough randomness for kill times, reproducible from the printed seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn message_id(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))?;
    Some(line[11..].trim().trim_matches(['<', '>']).to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkilled_runners_lose_nothing_and_duplicate_only_flagged_messages() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("crash test seed {seed} (CRASH_SEED={seed} repeats it)");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("q.db").display());
    // A slow end of data keeps messages in flight when the kill comes.
    let sink = Sink::builder()
        .fault("data-end=delay:2ms".parse::<Fault>().unwrap())
        .start()
        .await
        .unwrap();
    let outbox = Outbox::open(&url).await.unwrap();
    for n in 0..MESSAGES {
        let m = squall::Message::builder()
            .from("app@example.org")
            .to("rcpt@example.net")
            .subject(&format!("crash {n}"))
            .text("x")
            .build()
            .unwrap();
        outbox.enqueue(&m).await.unwrap();
    }
    let runner = |until_empty: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_squall"));
        c.args([
            "queue",
            "run",
            "--queue-url",
            &url,
            "--url",
            &sink.url(),
            // Short, so a killed runner's messages come back soon; not so short that a loaded
            // machine lets a live runner's own lease run out between renewals (that would flag
            // messages no kill left behind).
            "--lease",
            "2",
        ])
        .args(["--window", &WINDOW.to_string()])
        .env("HOME", dir.path())
        .env("SQUALL_QUEUE_URL", "")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        if until_empty {
            c.arg("--until-empty");
        }
        c
    };
    let mut kills = 0;
    for round in 0..ROUNDS {
        let before = sink.delivered();
        let mut child = runner(false).spawn().unwrap();
        // Kill once it delivered something (or after 3 s), at a random point after that.
        let t = Instant::now();
        while sink.delivered() == before && t.elapsed() < Duration::from_secs(3) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.below(150))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        kills += 1;
        eprintln!(
            "round {round}: killed after {} deliveries in total",
            sink.delivered()
        );
    }
    let mut last = runner(true);
    let out = tokio::task::spawn_blocking(move || last.output().unwrap())
        .await
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let statuses = outbox.list(None, MESSAGES * 2).await.unwrap();
    assert_eq!(statuses.len(), MESSAGES);
    let mut copies: HashMap<String, usize> = HashMap::new();
    for m in sink.messages() {
        *copies
            .entry(message_id(&m.data).expect("a Message-ID"))
            .or_default() += 1;
    }
    let mut flagged = 0;
    let mut duplicated = 0;
    for s in &statuses {
        assert_eq!(s.state, MessageState::Sent, "{s:?}");
        let mid = s.message_id.as_deref().unwrap();
        let n = copies.get(mid).copied().unwrap_or(0);
        assert!(n >= 1, "message {} never reached the sink", s.id);
        if n > 1 {
            duplicated += 1;
            assert!(
                s.possible_duplicate,
                "message {} arrived {n} times unflagged",
                s.id
            );
        }
        flagged += usize::from(s.possible_duplicate);
    }
    assert_eq!(copies.len(), MESSAGES, "the sink has only queued messages");
    assert!(
        flagged <= kills * WINDOW,
        "{flagged} flagged for {kills} kills of window {WINDOW}"
    );
    eprintln!("{kills} kills: {flagged} flagged possible duplicates, {duplicated} delivered twice");
}
