//! The catcher's HTTP API, every endpoint, over real sockets: squall sends over SMTP, a raw
//! HTTP client asks.

mod http;
mod pki;

use pki::pki;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use squall::{Client, Message};
use squall_sink::{Sink, SinkHandle, WebError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use http::{Reply, call, get, request, request_with_body};

fn loopback() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

async fn catcher() -> (SinkHandle, SocketAddr, Client) {
    let sink = Sink::builder().web(loopback()).start().await.unwrap();
    let web = sink.web_addr().unwrap();
    let client = Client::from_url(&sink.url()).unwrap();
    (sink, web, client)
}

async fn send(client: &Client, to: &str, subject: &str, text: &str) {
    let m = Message::builder()
        .from("App <app@example.org>")
        .to(to)
        .bcc("hidden@example.org")
        .subject(subject)
        .text(text)
        .html(&format!(
            "<p>{text}</p><img src=\"cid:logo\"><img src=\"https://remote.example/x.png\">"
        ))
        .attachment("report.bin", "application/octet-stream", &[0u8, 1, 2, 255][..])
        .build()
        .unwrap();
    client.send_message(&m).await.unwrap().require_all().unwrap();
}

fn ids(r: &Reply) -> Vec<String> {
    r.json()["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn list_pages_newest_first_and_searches() {
    let (sink, web, client) = catcher().await;
    send(&client, "ann@example.net", "one", "alpha body").await;
    send(&client, "bob@example.net", "two", "beta body").await;
    send(&client, "cat@example.net", "three", "gamma body").await;
    sink.wait_for_count(3, Duration::from_secs(5)).await.unwrap();

    let all = get(web, "/api/v1/messages").await;
    assert_eq!(all.status, 200);
    assert_eq!(all.json()["total"], 3);
    assert_eq!(ids(&all), ["three", "two", "one"]);
    let first = &all.json()["messages"][0];
    assert_eq!(first["mail_from"], "app@example.org");
    assert_eq!(first["attachments"], 1);
    assert_eq!(first["seen"], false);
    assert!(
        first["rcpt_to"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "hidden@example.org")
    );

    assert_eq!(ids(&get(web, "/api/v1/messages?start=1&limit=1").await), ["two"]);
    assert_eq!(ids(&get(web, "/api/v1/messages?subject=TWO").await), ["two"]);
    assert_eq!(ids(&get(web, "/api/v1/messages?to=cat@").await), ["three"]);
    assert_eq!(ids(&get(web, "/api/v1/messages?text=alpha").await), ["one"]);
    assert_eq!(
        ids(&get(web, "/api/v1/messages?q=body+subject:one").await),
        ["one"]
    );
    assert_eq!(
        ids(&get(web, "/api/v1/messages?from=app@example.org&limit=2").await),
        ["three", "two"]
    );
    let none = get(web, "/api/v1/messages?q=nowhere").await;
    assert_eq!(none.json()["total"], 0);
}

#[tokio::test]
async fn one_message_raw_parts_html_and_eml() {
    let (sink, web, client) = catcher().await;
    send(&client, "ann@example.net", "hello", "the text").await;
    let mail = sink.wait_for(|_| true, Duration::from_secs(5)).await.unwrap();
    let id = mail.id();

    let m = get(web, &format!("/api/v1/messages/{id}")).await;
    assert_eq!(m.status, 200);
    let j = m.json();
    assert_eq!(j["subject"], "hello");
    assert_eq!(j["envelope"]["mail_from"], "app@example.org");
    assert!(
        j["envelope"]["rcpt_to"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "hidden@example.org")
    );
    assert_eq!(j["session"]["tls"], false);
    assert!(j["session"]["auth"].is_null());
    assert_eq!(
        j["session"]["transfer"]
            .as_str()
            .map(|t| t == "DATA" || t == "BDAT"),
        Some(true)
    );
    assert!(
        j["headers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == "Subject" && h["value"] == "hello")
    );
    assert!(j["text"].as_str().unwrap().contains("the text"));
    let parts = j["parts"].as_array().unwrap();
    let att = parts
        .iter()
        .find(|p| p["attachment"] == true)
        .expect("an attachment part");
    assert_eq!(att["name"], "report.bin");
    assert_eq!(att["size"], 4);

    let raw = get(web, &format!("/api/v1/messages/{id}/raw")).await;
    assert_eq!(raw.status, 200);
    assert_eq!(raw.body, mail.raw(), "raw is byte-identical");
    let eml = get(web, &format!("/api/v1/messages/{id}/eml")).await;
    assert_eq!(eml.body, mail.raw());
    assert_eq!(eml.header("content-type"), Some("message/rfc822"));
    assert!(
        eml.header("content-disposition")
            .unwrap()
            .contains(&format!("{id}.eml"))
    );

    let part = get(web, &format!("/api/v1/messages/{id}/parts/{}", att["index"])).await;
    assert_eq!(part.body, [0u8, 1, 2, 255], "the download is byte-identical");
    assert!(
        part.header("content-disposition")
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(
        get(web, &format!("/api/v1/messages/{id}/parts/999")).await.status,
        404
    );

    let html = get(web, &format!("/api/v1/messages/{id}/html")).await;
    assert_eq!(html.status, 200);
    let csp = html.header("content-security-policy").unwrap();
    assert!(csp.starts_with("sandbox "), "{csp}");
    assert!(!csp.contains("allow-scripts"), "{csp}");
    assert!(
        csp.contains("img-src 'self' data:;"),
        "remote images blocked: {csp}"
    );
    let with_images = get(web, &format!("/api/v1/messages/{id}/html?images=1")).await;
    assert!(
        with_images
            .header("content-security-policy")
            .unwrap()
            .contains("https:")
    );
    assert_eq!(get(web, "/api/v1/messages/nope").await.status, 404);
}

#[tokio::test]
async fn session_shows_the_tls_version_and_cipher() {
    let (ca, cert, key) = pki();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, ca).unwrap();
    let sink = Sink::builder()
        .tls_pem(cert.as_bytes(), key.as_bytes())
        .unwrap()
        .web(loopback())
        .start()
        .await
        .unwrap();
    let web = sink.web_addr().unwrap();
    let client = Client::builder("localhost")
        .port(sink.addr().port())
        .tls(squall::Tls::StartTls)
        .ca_file(&ca_file)
        .build()
        .unwrap();
    client
        .send("a@example.org", ["b@example.net"], "Subject: tls\r\n\r\nhi\r\n")
        .await
        .unwrap();
    let plain = Client::from_url(&format!("smtp://127.0.0.1:{}?tls=none", sink.addr().port())).unwrap();
    plain
        .send("a@example.org", ["b@example.net"], "Subject: plain\r\n\r\nhi\r\n")
        .await
        .unwrap();
    let kept = sink.messages();
    assert_eq!(kept.len(), 2);
    let (tls, plain) = (&kept[0], &kept[1]);
    // rustls's default versions: TLS 1.3 between two rustls peers.
    assert!(tls.tls, "{tls:?}");
    assert_eq!(tls.tls_version.as_deref(), Some("TLSv1.3"));
    let cipher = tls.tls_cipher.as_deref().unwrap();
    assert!(cipher.starts_with("TLS13_"), "{cipher}");
    assert!(!plain.tls && plain.tls_version.is_none() && plain.tls_cipher.is_none());

    let j = get(web, &format!("/api/v1/messages/{}", tls.id)).await.json();
    assert_eq!(j["session"]["tls"], true);
    assert_eq!(j["session"]["tls_version"], "TLSv1.3");
    assert_eq!(j["session"]["tls_cipher"], cipher);
    let j = get(web, &format!("/api/v1/messages/{}", plain.id)).await.json();
    assert_eq!(j["session"]["tls"], false);
    assert!(j["session"]["tls_version"].is_null() && j["session"]["tls_cipher"].is_null());
}

#[tokio::test]
async fn a_reloaded_message_without_a_record_says_its_envelope_is_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    std::fs::create_dir_all(md.join("new")).unwrap();
    std::fs::write(
        md.join("new/1.M1P1.elsewhere"),
        "From: x@example.org\r\nSubject: foreign\r\n\r\nhello\r\n",
    )
    .unwrap();
    let sink = Sink::builder()
        .maildir(&md)
        .web(loopback())
        .start()
        .await
        .unwrap();
    let web = sink.web_addr().unwrap();
    let client = Client::from_url(&sink.url()).unwrap();
    client
        .send("a@example.org", ["b@example.net"], "Subject: new\r\n\r\nhi\r\n")
        .await
        .unwrap();
    let list = get(web, "/api/v1/messages").await.json();
    let items = list["messages"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    // Newest first: the new one, then the reloaded one.
    assert_eq!(items[0]["subject"], "new");
    assert_eq!(items[0]["envelope_known"], true);
    assert_eq!(items[0]["reloaded"], false);
    assert_eq!(items[0]["mail_from"], "a@example.org");
    assert_eq!(items[1]["subject"], "foreign");
    assert_eq!(items[1]["reloaded"], true);
    assert_eq!(items[1]["envelope_known"], false);
    assert!(
        items[1]["mail_from"].is_null() && items[1]["rcpt_to"].is_null(),
        "{list}"
    );
    assert_eq!(items[1]["from"][0], "x@example.org");
    let id = items[1]["id"].as_str().unwrap();
    let j = get(web, &format!("/api/v1/messages/{id}")).await.json();
    assert!(j["envelope"].is_null() && j["session"].is_null(), "{j}");
    assert_eq!(j["text"], "hello\r\n");

    // Deleting through the API forgets the message; the file stays in the Maildir.
    let r = call(web, "DELETE", &format!("/api/v1/messages/{id}")).await;
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(md.join("new/1.M1P1.elsewhere").exists());
}

/// The release hook `squall sink --web-release` uses, in short: send through squall, answer
/// squall's receipt or error as JSON.
async fn forward(r: squall_sink::Release) -> squall_sink::ReleaseOutcome {
    let client = Client::from_url(&r.url).map_err(|e| serde_json::to_value(&e).unwrap())?;
    match client.send(&r.from, &r.to, r.message.data.clone()).await {
        Ok(receipt) => Ok(serde_json::to_value(&receipt).unwrap()),
        Err(e) => Err(serde_json::to_value(&e).unwrap()),
    }
}

async fn post_json(web: SocketAddr, path: &str, body: &str) -> Reply {
    request_with_body(
        web,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn release_forwards_the_raw_message_to_another_server() {
    let sink = Sink::builder()
        .web(loopback())
        .on_release(forward)
        .start()
        .await
        .unwrap();
    let web = sink.web_addr().unwrap();
    let client = Client::from_url(&sink.url()).unwrap();
    send(&client, "ann@example.net", "to release", "the text").await;
    let captured = sink.messages().pop().unwrap();
    let id = captured.id.clone();
    let real = Sink::start().await.unwrap();
    let path = format!("/api/v1/messages/{id}/release");

    // As captured: the same envelope (Bcc included) and the same bytes.
    let r = post_json(web, &path, &format!("{{\"url\": \"{}\"}}", real.url())).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let receipt = r.json();
    assert_eq!(receipt["accepted"].as_array().unwrap().len(), 2, "{receipt}");
    let got = real.messages().pop().unwrap();
    assert_eq!(got.mail_from, captured.mail_from);
    assert_eq!(got.rcpt_to, captured.rcpt_to);
    assert!(got.rcpt_to.iter().any(|r| r == "hidden@example.org"));
    assert_eq!(got.data, captured.data);
    assert!(
        receipt["queue_id"].as_str().is_some_and(|q| q == got.id),
        "{receipt}"
    );

    // To other recipients.
    let body = format!("{{\"url\": \"{}\", \"to\": [\"qa@example.com\"]}}", real.url());
    let r = post_json(web, &path, &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = real.messages().pop().unwrap();
    assert_eq!(got.rcpt_to, ["qa@example.com"]);
    assert_eq!(got.data, captured.data);
    assert_eq!(real.delivered(), 2);

    // The server refuses: squall's error comes back as JSON, with 502.
    let refusing = Sink::builder()
        .fault("rcpt=550 5.1.1 no such user".parse().unwrap())
        .start()
        .await
        .unwrap();
    let r = post_json(web, &path, &format!("{{\"url\": \"{}\"}}", refusing.url())).await;
    assert_eq!(r.status, 502, "{}", r.text());
    let e = r.json();
    assert!(e["kind"].is_string() && e["message"].is_string(), "{e}");
    assert_eq!(refusing.delivered(), 0);

    // A bad URL is squall's error too.
    let r = post_json(web, &path, r#"{"url": "http://example.org"}"#).await;
    assert_eq!(r.status, 502, "{}", r.text());

    // Bad requests, unknown ids, and the CSRF rule of every state-changing call.
    for (body, status) in [
        ("not json", 400),
        (r#"{"to": ["a@example.org"]}"#, 400),
        (r#"{"url": ""}"#, 400),
        (r#"{"url": "smtp://127.0.0.1:1", "to": []}"#, 400),
        (r#"{"url": "smtp://127.0.0.1:1", "bcc": []}"#, 400),
    ] {
        let r = post_json(web, &path, body).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        assert!(r.json()["error"].is_string());
    }
    let r = post_json(
        web,
        "/api/v1/messages/nope/release",
        r#"{"url": "smtp://127.0.0.1:1"}"#,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.text());
    let form = request_with_body(
        web,
        "POST",
        &path,
        &[("Content-Type", "text/plain")],
        format!("{{\"url\": \"{}\"}}", real.url()).as_bytes(),
    )
    .await;
    assert_eq!(form.status, 403, "{}", form.text());
    assert_eq!(real.delivered(), 2, "nothing more was sent");
}

#[tokio::test]
async fn release_is_off_unless_enabled_and_needs_an_envelope() {
    let (sink, web, client) = catcher().await;
    send(&client, "ann@example.net", "kept", "x").await;
    let id = sink.messages().pop().unwrap().id;
    let real = Sink::start().await.unwrap();
    let r = post_json(
        web,
        &format!("/api/v1/messages/{id}/release"),
        &format!("{{\"url\": \"{}\"}}", real.url()),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("--web-release"), "{}", r.text());
    assert_eq!(real.delivered(), 0);

    // A reloaded message without its envelope record: "to" and "from" must be given.
    let dir = tempfile::tempdir().unwrap();
    let md = dir.path().join("Maildir");
    std::fs::create_dir_all(md.join("new")).unwrap();
    std::fs::write(md.join("new/1.M1P1.elsewhere"), "Subject: foreign\r\n\r\nhi\r\n").unwrap();
    let sink = Sink::builder()
        .maildir(&md)
        .on_release(forward)
        .start()
        .await
        .unwrap();
    let web = sink.web_addr().unwrap();
    let id = sink.messages()[0].id.clone();
    let path = format!("/api/v1/messages/{id}/release");
    let r = post_json(web, &path, &format!("{{\"url\": \"{}\"}}", real.url())).await;
    assert_eq!(r.status, 422, "{}", r.text());
    let body = format!(
        "{{\"url\": \"{}\", \"to\": [\"qa@example.com\"], \"from\": \"\"}}",
        real.url()
    );
    let r = post_json(web, &path, &body).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = real.messages().pop().unwrap();
    assert_eq!(
        (got.mail_from.as_str(), got.rcpt_to.as_slice()),
        ("", &["qa@example.com".to_string()][..])
    );
}

#[tokio::test]
async fn seen_delete_one_and_all() {
    let (sink, web, client) = catcher().await;
    send(&client, "ann@example.net", "a", "x").await;
    send(&client, "ann@example.net", "b", "x").await;
    sink.wait_for_count(2, Duration::from_secs(5)).await.unwrap();
    let id = sink.mails()[0].id().to_string();

    assert_eq!(
        call(web, "PUT", &format!("/api/v1/messages/{id}/seen"))
            .await
            .status,
        204
    );
    let list = get(web, "/api/v1/messages").await.json();
    assert_eq!(list["messages"][1]["seen"], true);

    assert_eq!(
        call(web, "DELETE", &format!("/api/v1/messages/{id}"))
            .await
            .status,
        204
    );
    assert_eq!(
        call(web, "DELETE", &format!("/api/v1/messages/{id}"))
            .await
            .status,
        404
    );
    assert_eq!(get(web, &format!("/api/v1/messages/{id}")).await.status, 404);
    assert_eq!(get(web, "/api/v1/messages").await.json()["total"], 1);
    assert_eq!(call(web, "DELETE", "/api/v1/messages").await.status, 204);
    assert_eq!(get(web, "/api/v1/messages").await.json()["total"], 0);
    assert_eq!(sink.kept(), 0);
}

#[tokio::test]
async fn long_poll_answers_on_arrival_and_times_out() {
    let (sink, web, client) = catcher().await;
    let started = Instant::now();
    let (reply, ()) = tokio::join!(
        get(web, "/api/v1/wait?subject=reset&to=bob@example.net&timeout=20s"),
        async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            send(&client, "ann@example.net", "Welcome", "x").await;
            send(&client, "bob@example.net", "Reset your password", "token=1").await;
        }
    );
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.json()["subject"], "Reset your password");
    assert!(started.elapsed() < Duration::from_secs(10));

    // Already there: at once. After it: only newer ones count.
    let id = reply.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        get(web, "/api/v1/wait?subject=reset&timeout=1s").await.status,
        200
    );
    let t = Instant::now();
    let late = get(
        web,
        &format!("/api/v1/wait?subject=reset&after={id}&timeout=300ms"),
    )
    .await;
    assert_eq!(late.status, 408, "{}", late.text());
    assert!(
        late.json()["error"]
            .as_str()
            .unwrap()
            .contains("no message matched")
    );
    assert!(t.elapsed() >= Duration::from_millis(300));
    assert_eq!(get(web, "/api/v1/wait?timeout=forever").await.status, 400);
    drop(sink);
}

#[tokio::test]
async fn events_stream_announces_arrivals() {
    let (sink, web, client) = catcher().await;
    let mut s = tokio::net::TcpStream::connect(web).await.unwrap();
    let req = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: localhost:{}\r\n\r\n",
        web.port()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // The head first, so the subscription exists before the message is sent.
    let n = tokio::time::timeout(http::WAIT, s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    seen.extend_from_slice(&buf[..n]);
    assert!(String::from_utf8_lossy(&seen).contains("text/event-stream"));
    send(&client, "ann@example.net", "live one", "x").await;
    let deadline = Instant::now() + http::WAIT;
    while !String::from_utf8_lossy(&seen).contains("live one") {
        assert!(
            Instant::now() < deadline,
            "no added event: {}",
            String::from_utf8_lossy(&seen)
        );
        let n = tokio::time::timeout(http::WAIT, s.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0, "stream closed");
        seen.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&seen).contains("event: added"));
    drop(sink);
}

#[tokio::test]
async fn the_cap_holds_through_the_api() {
    let sink = Sink::builder()
        .web(loopback())
        .max_messages(2)
        .start()
        .await
        .unwrap();
    let web = sink.web_addr().unwrap();
    let client = Client::from_url(&sink.url()).unwrap();
    for s in ["a", "b", "c"] {
        send(&client, "ann@example.net", s, "x").await;
    }
    sink.wait_for_count(3, Duration::from_secs(5)).await.unwrap();
    assert_eq!(ids(&get(web, "/api/v1/messages").await), ["c", "b"]);
}

#[tokio::test]
async fn host_header_and_csrf_rules() {
    let (_sink, web, _client) = catcher().await;
    let rebound = request(web, "GET", "/api/v1/messages", &[("Host", "attacker.example")]).await;
    assert_eq!(rebound.status, 421, "DNS rebinding refused");
    for host in ["127.0.0.1", "[::1]:8025", "localhost"] {
        let ok = request(web, "GET", "/api/v1/messages", &[("Host", host)]).await;
        assert_eq!(ok.status, 200, "{host}");
    }
    // A plain form post or a link cannot delete.
    let simple = request(web, "DELETE", "/api/v1/messages", &[("Content-Length", "0")]).await;
    assert_eq!(simple.status, 403);
    let form = request(
        web,
        "DELETE",
        "/api/v1/messages",
        &[
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Content-Length", "0"),
        ],
    )
    .await;
    assert_eq!(form.status, 403);
    let json = request(
        web,
        "DELETE",
        "/api/v1/messages",
        &[("Content-Type", "application/json"), ("Content-Length", "0")],
    )
    .await;
    assert_eq!(json.status, 204);
    let foreign = request(
        web,
        "DELETE",
        "/api/v1/messages",
        &[
            ("X-Squall-Sink", "1"),
            ("Origin", "https://evil.example"),
            ("Content-Length", "0"),
        ],
    )
    .await;
    assert_eq!(foreign.status, 403);
    let page = get(web, "/").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
}

#[tokio::test]
async fn a_reachable_address_needs_a_password_or_an_explicit_opt_out() {
    let any = SocketAddr::from(([0, 0, 0, 0], 0));
    let e = Sink::builder().web(any).start().await.unwrap_err();
    let inner = e.get_ref().and_then(|e| e.downcast_ref::<WebError>());
    assert!(matches!(inner, Some(WebError::NeedsPassword(_))), "{e}");
    assert!(e.to_string().contains("--web-auth"), "{e}");

    let open = Sink::builder().web(any).web_insecure(true).start().await.unwrap();
    let port = open.web_addr().unwrap().port();
    let lan = SocketAddr::from(([127, 0, 0, 1], port));
    let r = request(lan, "GET", "/api/v1/messages", &[("Host", "mail.lan")]).await;
    assert_eq!(r.status, 200, "no Host check when bound for other machines");

    let locked = Sink::builder()
        .web(any)
        .web_password("s3cret")
        .start()
        .await
        .unwrap();
    let port = locked.web_addr().unwrap().port();
    let lan = SocketAddr::from(([127, 0, 0, 1], port));
    let no = request(lan, "GET", "/api/v1/messages", &[("Host", "mail.lan")]).await;
    assert_eq!(no.status, 401);
    assert!(no.header("www-authenticate").unwrap().starts_with("Basic"));
    // "user:s3cret" in base64.
    let yes = request(
        lan,
        "GET",
        "/api/v1/messages",
        &[("Host", "mail.lan"), ("Authorization", "Basic dXNlcjpzM2NyZXQ=")],
    )
    .await;
    assert_eq!(yes.status, 200);
    let bearer = request(
        lan,
        "GET",
        "/",
        &[("Host", "mail.lan"), ("Authorization", "Bearer s3cret")],
    )
    .await;
    assert_eq!(bearer.status, 200);
}

#[tokio::test]
async fn the_page_is_served_from_the_binary_and_puts_text_as_text() {
    let (_sink, web, _client) = catcher().await;
    let page = get(web, "/").await;
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    let html = page.text();
    assert!(html.contains("<script src=\"/app.js\""));
    assert!(!html.contains("http://") && !html.contains("https://"), "no CDN");
    let js = get(web, "/app.js").await;
    assert!(js.header("content-type").unwrap().starts_with("text/javascript"));
    let js = js.text();
    // What a sender chose reaches the page only through textContent.
    for sink in [
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.contains(sink), "app.js uses {sink}");
    }
    assert!(
        js.contains("X-Squall-Sink"),
        "state changes carry the CSRF header"
    );
    assert_eq!(get(web, "/app.css").await.status, 200);
}

#[test]
fn the_openapi_file_names_every_route() {
    let spec = include_str!("../openapi.yaml");
    for path in [
        "/api/v1/messages:",
        "/api/v1/messages/{id}:",
        "/api/v1/messages/{id}/seen:",
        "/api/v1/messages/{id}/release:",
        "/api/v1/messages/{id}/raw:",
        "/api/v1/messages/{id}/eml:",
        "/api/v1/messages/{id}/html:",
        "/api/v1/messages/{id}/parts/{index}:",
        "/api/v1/wait:",
        "/api/v1/events:",
    ] {
        assert!(
            spec.contains(&format!("  {path}\n")),
            "{path} missing from openapi.yaml"
        );
    }
}
