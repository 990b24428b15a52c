//! The page in a real headless Chromium (Debian's `chromium` + `chromium-driver`, installed by
//! `scripts/peers/chromium.sh`): live list, HTML rendered without its script, remote images
//! only when asked, byte-identical downloads, search, delete, markup shown as text, and the
//! session's TLS version and cipher.
//! Screenshots go to `target/tmp/browser/`. Without chromium the test says so and passes,
//! unless `SQUALL_PEERS_REQUIRED=1` (as in `scripts/test.sh`).

mod http;
mod pki;
mod webdriver;

use pki::pki;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use squall::{Client, Message};
use squall_sink::Sink;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

use webdriver::Browser;

/// A loopback HTTP server that only records the first line of each request it gets.
async fn probe() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let log = log.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 2048];
                let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .unwrap_or(0);
                let text = String::from_utf8_lossy(&buf[..n]);
                log.lock()
                    .unwrap()
                    .push(text.lines().next().unwrap_or("").to_string());
                // No answer: a hung image costs the browser nothing here.
            });
        }
    });
    (addr, seen)
}

const ATTACHMENT: &[u8] = &[0x25, 0x50, 0x44, 0x46, 0x00, 0xff, 0x10, 0x80, b'\r', b'\n', 0x0d];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver: scripts/test.sh installs them and runs this"]
async fn the_page_in_a_real_browser() {
    let Some((driver, chromium)) = webdriver::installed() else {
        panic!("chromium and chromedriver are required (scripts/peers/chromium.sh installs them)");
    };
    let artefacts = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    let downloads = artefacts.join("downloads");
    let _ = std::fs::remove_dir_all(&downloads);
    std::fs::create_dir_all(&downloads).unwrap();
    let (probe_addr, probed) = probe().await;

    let (ca, cert, key) = pki();
    let ca_file = artefacts.join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let sink = Sink::builder()
        .tls_pem(cert.as_bytes(), key.as_bytes())
        .unwrap()
        .web(SocketAddr::from(([127, 0, 0, 1], 0)))
        .start()
        .await
        .unwrap();
    let web = format!("http://localhost:{}", sink.web_addr().unwrap().port());
    let port = sink.addr().port();
    let client = Client::from_url(&format!("smtp://127.0.0.1:{port}?tls=none")).unwrap();
    let browser = Browser::start(&driver, &chromium, &downloads).await;
    browser.goto(&format!("{web}/")).await;
    browser
        .until(
            "the empty list",
            "return document.getElementById('empty').hidden === false",
            Duration::from_secs(10),
        )
        .await;
    browser
        .until(
            "the live feed",
            "return document.getElementById('live').classList.contains('on')",
            Duration::from_secs(10),
        )
        .await;

    // 1. A message sent over SMTP shows in the open list without a reload.
    let html = format!(
        "<h1 id=\"hello\">Hello from HTML</h1>\
         <script>document.title = 'PWNED'; fetch('http://{probe_addr}/script-ran'); \
         new Image().src = 'http://{probe_addr}/script-image';</script>\
         <img id=\"remote\" src=\"http://{probe_addr}/remote.png\">"
    );
    let m = Message::builder()
        .from("\"<b>Eve</b>\" <eve@example.org>")
        .to("bob@example.net")
        .subject("<img src=x onerror=\"window.pwned=1\"> Reset your password")
        .text("plain part with the word kumquat")
        .html(&html)
        .attachment("<i>report</i>.bin", "application/octet-stream", ATTACHMENT)
        .build()
        .unwrap();
    let sent = Instant::now();
    client.send_message(&m).await.unwrap().require_all().unwrap();
    let appeared = browser
        .until(
            "the new row",
            "return document.querySelectorAll('#rows tr').length === 1",
            Duration::from_secs(5),
        )
        .await;
    let latency = sent.elapsed();
    eprintln!("row visible {latency:?} after the send began ({appeared:?} after it was accepted)");
    assert!(
        latency < Duration::from_secs(1),
        "the list updated in {latency:?}"
    );

    // 2. Markup in the subject and sender shows as text; nothing it holds runs.
    let row = browser.text("#rows tr").await;
    assert!(
        row.contains("<img src=x onerror=\"window.pwned=1\"> Reset"),
        "{row}"
    );
    assert!(row.contains("<b>Eve</b>"), "{row}");
    let marks = browser
        .eval("return [document.querySelectorAll('#rows img, #rows b').length, window.pwned === undefined]")
        .await;
    assert_eq!(marks, serde_json::json!([0, true]));
    browser.screenshot(&artefacts.join("list.png")).await;

    // 3. The message: HTML rendered in the sandbox, its script not run, no remote image.
    browser.click("#rows tr").await;
    browser
        .until("the message view", "return !document.getElementById('view').hidden && document.getElementById('v-subject').textContent.includes('Reset')", Duration::from_secs(5))
        .await;
    let att = browser.text("#v-attachments a").await;
    assert!(att.starts_with("<i>report</i>.bin"), "file name as text: {att}");
    browser.frame(Some("#v-html")).await;
    browser
        .until(
            "the HTML in its frame",
            "return document.getElementById('hello') !== null",
            Duration::from_secs(5),
        )
        .await;
    assert_eq!(
        browser.text("#hello").await,
        "Hello from HTML",
        "the HTML renders"
    );
    let title = browser.eval("return document.title").await;
    assert_ne!(title, "PWNED", "the mail's script did not run");
    browser.frame(None).await;
    browser.screenshot(&artefacts.join("message.png")).await;
    assert_eq!(browser.eval("return document.title").await, "squall sink");
    let before: Vec<String> = probed.lock().unwrap().clone();
    assert!(
        before.is_empty(),
        "nothing fetched from the probe before asking: {before:?}"
    );

    // 4. Remote images when asked, and still no script.
    browser.click("#images").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !probed.lock().unwrap().iter().any(|l| l.contains("/remote.png")) {
        assert!(
            Instant::now() < deadline,
            "the remote image was not fetched after asking"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = probed.lock().unwrap().clone();
    assert!(
        all.iter().all(|l| !l.contains("script-")),
        "the script never ran: {all:?}"
    );

    // 5. The attachment download is byte-identical.
    browser.click("#v-attachments a").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let file = loop {
        // Chromium writes to a hidden `.org.chromium.Chromium.*` file, then a `.crdownload`
        // one, and renames it to the real name when it is complete.
        let done: Vec<_> = std::fs::read_dir(&downloads)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                let name = p.file_name().unwrap_or_default().to_string_lossy();
                !name.starts_with('.') && !name.ends_with(".crdownload")
            })
            .collect();
        if let Some(p) = done.first() {
            break p.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no download in {}",
            downloads.display()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(std::fs::read(&file).unwrap(), ATTACHMENT, "{}", file.display());

    // 6. Search by subject and by body.
    client
        .send(
            "ann@example.org",
            ["cat@example.net"],
            "Subject: Welcome aboard\r\n\r\nnothing special\r\n",
        )
        .await
        .unwrap();
    browser
        .until(
            "two rows",
            "return document.querySelectorAll('#rows tr').length === 2",
            Duration::from_secs(5),
        )
        .await;
    browser.type_into("#q", "subject:welcome").await;
    browser
        .until("search by subject", "const r = document.querySelectorAll('#rows tr'); return r.length === 1 && r[0].textContent.includes('Welcome')", Duration::from_secs(5))
        .await;
    browser.type_into("#q", "kumquat").await;
    browser
        .until("search by body", "const r = document.querySelectorAll('#rows tr'); return r.length === 1 && r[0].textContent.includes('Reset')", Duration::from_secs(5))
        .await;
    browser.type_into("#q", "").await;
    browser
        .eval("document.getElementById('q').dispatchEvent(new Event('input')); return true")
        .await;
    browser
        .until(
            "the whole list back",
            "return document.querySelectorAll('#rows tr').length === 2",
            Duration::from_secs(5),
        )
        .await;

    // 7. Delete the open message.
    browser.click("#delete").await;
    browser
        .until("the row gone", "return document.querySelectorAll('#rows tr').length === 1 && document.getElementById('view').hidden", Duration::from_secs(5))
        .await;
    assert_eq!(sink.kept(), 1);

    // 8. A message sent over STARTTLS shows the protocol version and cipher suite.
    let tls_client = Client::builder("localhost")
        .port(port)
        .tls(squall::Tls::StartTls)
        .ca_file(&ca_file)
        .build()
        .unwrap();
    tls_client
        .send(
            "ann@example.org",
            ["cat@example.net"],
            "Subject: Encrypted\r\n\r\nover TLS\r\n",
        )
        .await
        .unwrap();
    browser
        .until(
            "the TLS row",
            "return document.querySelectorAll('#rows tr').length === 2",
            Duration::from_secs(5),
        )
        .await;
    browser.click("#rows tr").await;
    browser
        .until("the TLS facts", "return document.getElementById('v-subject').textContent === 'Encrypted' && document.getElementById('v-facts').textContent.includes('TLSv1.3')", Duration::from_secs(5))
        .await;
    let facts = browser.text("#v-facts").await;
    assert!(facts.contains("yes · TLSv1.3 · TLS13_"), "{facts}");
    browser.quit().await;
}

/// A figure, not a check: the first load of the page with 10,000 messages kept, until its
/// first 100 rows show. Run: `cargo test --release -p squall-sink --features web --test browser
/// -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run by hand"]
async fn first_page_load_with_10000_messages() {
    let Some((driver, chromium)) = webdriver::installed() else {
        eprintln!("skipped: chromium or chromedriver not installed");
        return;
    };
    let artefacts = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&artefacts).unwrap();
    let sink = Sink::builder()
        .web(SocketAddr::from(([127, 0, 0, 1], 0)))
        .start()
        .await
        .unwrap();
    let client = Client::builder_from_url(&sink.url())
        .unwrap()
        .max_connections(8)
        .build()
        .unwrap();
    let mut sends = tokio::task::JoinSet::new();
    for i in 0..10_000 {
        let body = format!(
            "From: app@example.org\r\nTo: u{i}@example.net\r\nSubject: message {i}\r\n\r\nbody {i}\r\n"
        );
        let client = client.clone();
        sends.spawn(async move {
            client
                .send("app@example.org", [format!("u{i}@example.net")], body)
                .await
        });
    }
    while let Some(r) = sends.join_next().await {
        r.unwrap().unwrap();
    }
    sink.wait_for_count(10_000, Duration::from_secs(120))
        .await
        .unwrap();
    let browser = Browser::start(&driver, &chromium, &artefacts).await;
    let started = Instant::now();
    browser
        .goto(&format!("http://localhost:{}/", sink.web_addr().unwrap().port()))
        .await;
    browser
        .until(
            "100 rows",
            "return document.querySelectorAll('#rows tr').length === 100",
            Duration::from_secs(30),
        )
        .await;
    println!(
        "first page load with 10,000 messages: {:?} to 100 rows",
        started.elapsed()
    );
    browser.screenshot(&artefacts.join("list-10000.png")).await;
    browser.quit().await;
}
