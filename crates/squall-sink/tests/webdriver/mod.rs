//! Just enough of the W3C WebDriver protocol (HTTP + JSON) to drive Debian's chromium through
//! chromedriver, with the raw HTTP client the API tests use: no browser crate to build.
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::http::{get, request_with_body};

/// The key W3C WebDriver gives element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver child (killed by PID when dropped) and one browser session.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
}

/// Where chromedriver and chromium are, when both are installed.
pub fn installed() -> Option<(String, String)> {
    let find = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("/usr/bin/{n}"))
            .find(|p| Path::new(p).exists())
    };
    Some((find(&["chromedriver"])?, find(&["chromium", "chromium-browser"])?))
}

impl Browser {
    /// Starts chromedriver on a free loopback port and a headless chromium that saves
    /// downloads into `downloads`.
    pub async fn start(driver: &str, chromium: &str, downloads: &Path) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        // Owned by the guard from here on, so a failed wait below still kills it.
        let mut b = Self {
            driver: child,
            addr,
            session: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_ok() && get(addr, "/status").await.status == 200
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer on {addr}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1400,900", "--no-first-run", "--no-default-browser-check"],
                "prefs": {
                    "download.default_directory": downloads.to_str().unwrap(),
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false
                }
            }
        }}});
        let v = b.call("POST", "/session", caps).await;
        b.session = v["sessionId"].as_str().expect("a session id").to_string();
        b
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> Value {
        let body = if method == "GET" || method == "DELETE" {
            Vec::new()
        } else {
            serde_json::to_vec(&body).unwrap()
        };
        let r = request_with_body(
            self.addr,
            method,
            path,
            &[("Content-Type", "application/json"), ("Host", "localhost")],
            &body,
        )
        .await;
        let v = r.json();
        assert!(r.status == 200, "webdriver {method} {path}: {} {v}", r.status);
        v["value"].clone()
    }

    fn path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", &self.path("/url"), json!({ "url": url })).await;
    }

    /// Runs `script` (a function body; `arguments` available) in the page and returns its value.
    pub async fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            &self.path("/execute/sync"),
            json!({ "script": script, "args": [] }),
        )
        .await
    }

    /// Polls `script` until it returns true (the page updates on its own; this only looks).
    pub async fn until(&self, what: &str, script: &str, limit: Duration) -> Duration {
        let started = Instant::now();
        loop {
            if self.eval(script).await == Value::Bool(true) {
                return started.elapsed();
            }
            assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                "POST",
                &self.path("/element"),
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }

    pub async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.call("POST", &self.path(&format!("/element/{e}/click")), json!({}))
            .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.call("POST", &self.path(&format!("/element/{e}/clear")), json!({}))
            .await;
        self.call(
            "POST",
            &self.path(&format!("/element/{e}/value")),
            json!({ "text": text }),
        )
        .await;
    }

    /// Switches into the iframe `css` (None: back to the top page).
    pub async fn frame(&self, css: Option<&str>) {
        let id = match css {
            Some(c) => json!({ ELEMENT: self.find(c).await }),
            None => Value::Null,
        };
        self.call("POST", &self.path("/frame"), json!({ "id": id })).await;
    }

    /// The element's text as rendered.
    pub async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.call("GET", &self.path(&format!("/element/{e}/text")), Value::Null)
            .await
            .as_str()
            .unwrap_or("")
            .to_string()
    }

    /// A PNG of the window, saved to `path`.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let v = self.call("GET", &self.path("/screenshot"), Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }

    pub async fn quit(mut self) {
        let _ = request_with_body(self.addr, "DELETE", &self.path(""), &[("Host", "localhost")], b"").await;
        self.session.clear();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A session still open (a failed test) is closed first, so chromium exits; then our own
        // chromedriver child, by PID.
        if !self.session.is_empty()
            && let Ok(mut s) = std::net::TcpStream::connect(self.addr)
        {
            use std::io::{Read, Write};
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = write!(
                s,
                "DELETE /session/{} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                self.session
            );
            let _ = s.read_to_end(&mut Vec::new());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
