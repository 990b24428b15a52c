// The catcher's page. Everything a sender chose (subjects, addresses, file names, headers)
// goes into the page as text (textContent), never as markup.
"use strict";

const api = "/api/v1";
const PAGE = 100;
const $ = (id) => document.getElementById(id);
let shown = 0;
let current = null;
let imagesFor = null;

// State-changing calls carry the header the server requires (CSRF).
function change(method, path) {
  return fetch(api + path, { method, headers: { "X-Squall-Sink": "1" } });
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

function size(n) {
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(1) + " MiB";
}

function when(iso) {
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function row(m) {
  const tr = document.createElement("tr");
  tr.dataset.id = m.id;
  if (!m.seen) tr.classList.add("unread");
  if (current === m.id) tr.classList.add("selected");
  // mail_from and rcpt_to are null for a reloaded message whose envelope is not known.
  const envFrom = m.mail_from ?? "";
  const envTo = (m.rcpt_to ?? []).join(", ");
  const from = m.from.length ? m.from.join(", ") : envFrom;
  const to = m.to.length ? m.to.join(", ") : envTo;
  for (const [text, title] of [[from, envFrom], [to, envTo],
    [m.subject ?? "(no subject)"], [when(m.received_at)], [size(m.size)],
    [m.attachments ? String(m.attachments) : ""]]) {
    const td = el("td", text);
    if (title) td.title = "envelope: " + title;
    tr.append(td);
  }
  tr.addEventListener("click", () => open(m.id));
  return tr;
}

function query() {
  const q = $("q").value.trim();
  return q ? "&q=" + encodeURIComponent(q) : "";
}

async function load(more) {
  const start = more ? shown : 0;
  const r = await fetch(`${api}/messages?start=${start}&limit=${PAGE}${query()}`);
  if (!r.ok) return;
  const page = await r.json();
  const rows = $("rows");
  if (!more) rows.replaceChildren();
  for (const m of page.messages) rows.append(row(m));
  shown = rows.children.length;
  $("count").textContent = page.total + (page.total === 1 ? " message" : " messages");
  $("empty").hidden = page.total !== 0;
  $("more").hidden = shown >= page.total;
}

function fact(dl, name, value) {
  dl.append(el("dt", name), el("dd", value));
}

async function open(id) {
  const r = await fetch(`${api}/messages/${encodeURIComponent(id)}`);
  if (!r.ok) { $("view").hidden = true; return; }
  const m = await r.json();
  current = id;
  imagesFor = null;
  for (const tr of $("rows").children) {
    tr.classList.toggle("selected", tr.dataset.id === id);
    if (tr.dataset.id === id) tr.classList.remove("unread");
  }
  if (!m.seen) change("PUT", `/messages/${encodeURIComponent(id)}/seen`);
  $("view").hidden = false;
  $("v-subject").textContent = m.subject ?? "(no subject)";
  const dl = $("v-facts");
  dl.replaceChildren();
  fact(dl, "From", m.from.join(", "));
  fact(dl, "To", m.to.join(", "));
  if (m.envelope && m.session) {
    fact(dl, "Envelope from", "<" + m.envelope.mail_from + ">" + (m.envelope.mail_params.length ? " " + m.envelope.mail_params.join(" ") : ""));
    fact(dl, "Envelope to", m.envelope.rcpt_to.map((r) => "<" + r + ">").join(", "));
    fact(dl, "Received", when(m.received_at) + " · " + size(m.size) + " · " + m.session.transfer
      + (m.reloaded ? " · reloaded from the Maildir" : ""));
    fact(dl, "HELO", m.session.helo ?? "");
    fact(dl, "TLS", m.session.tls
      ? "yes · " + (m.session.tls_version ?? "?") + " · " + (m.session.tls_cipher ?? "?")
      : "no");
    fact(dl, "AUTH", m.session.auth ?? "none");
  } else {
    fact(dl, "Envelope", "not known (reloaded from the Maildir without the sink's record)");
    fact(dl, "File time", when(m.received_at) + " · " + size(m.size));
  }
  const att = $("v-attachments");
  att.replaceChildren();
  for (const p of m.parts.filter((p) => p.attachment)) {
    const a = el("a", (p.name ?? "part " + p.index) + " (" + p.content_type + ", " + size(p.size) + ")");
    a.href = `${api}/messages/${encodeURIComponent(id)}/parts/${p.index}`;
    a.setAttribute("download", p.name ?? "");
    att.append(a);
  }
  $("eml").href = `${api}/messages/${encodeURIComponent(id)}/eml`;
  $("v-html-box").hidden = m.html === null;
  showHtml(false);
  $("v-text").hidden = m.text === null;
  $("v-text").textContent = m.text ?? "";
  const hs = $("v-headers");
  hs.replaceChildren();
  for (const h of m.headers) {
    const tr = document.createElement("tr");
    tr.append(el("td", h.name), el("td", h.value));
    hs.append(tr);
  }
  $("v-raw").hidden = true;
  $("v-raw").textContent = "";
}

function showHtml(images) {
  if (!current) return;
  imagesFor = images ? current : null;
  $("images-note").hidden = images;
  $("v-html").src = `${api}/messages/${encodeURIComponent(current)}/html` + (images ? "?images=1" : "");
}

async function showRaw() {
  if (!current) return;
  const r = await fetch(`${api}/messages/${encodeURIComponent(current)}/raw`);
  $("v-raw").textContent = await r.text();
  $("v-raw").hidden = false;
}

async function remove() {
  if (!current) return;
  await change("DELETE", `/messages/${encodeURIComponent(current)}`);
}

function drop(id) {
  const tr = [...$("rows").children].find((t) => t.dataset.id === id);
  if (tr) tr.remove();
  if (current === id) { current = null; $("view").hidden = true; }
}

function live() {
  const es = new EventSource(api + "/events");
  es.onopen = () => $("live").classList.add("on");
  es.onerror = () => $("live").classList.remove("on");
  es.addEventListener("added", (e) => {
    if (query()) { load(false); return; }
    const m = JSON.parse(e.data);
    const rows = $("rows");
    rows.prepend(row(m));
    // A live list shows at most a few pages; older ones are a "Show more" away.
    while (rows.children.length > 5 * PAGE) rows.lastElementChild.remove();
    shown = rows.children.length;
    $("empty").hidden = true;
    const n = (parseInt($("count").textContent, 10) || 0) + 1;
    $("count").textContent = n + (n === 1 ? " message" : " messages");
    $("more").hidden = shown >= n;
  });
  es.addEventListener("removed", (e) => {
    drop(e.data);
    const n = parseInt($("count").textContent, 10) || 1;
    $("count").textContent = (n - 1) + (n - 1 === 1 ? " message" : " messages");
    $("empty").hidden = n - 1 !== 0;
  });
  es.addEventListener("cleared", () => { current = null; $("view").hidden = true; load(false); });
  es.addEventListener("reset", () => load(false));
}

document.addEventListener("DOMContentLoaded", () => {
  $("search").addEventListener("submit", (e) => { e.preventDefault(); load(false); });
  let t = null;
  $("q").addEventListener("input", () => { clearTimeout(t); t = setTimeout(() => load(false), 200); });
  $("more").addEventListener("click", () => load(true));
  $("delete-all").addEventListener("click", () => {
    if (confirm("Delete every message?")) change("DELETE", "/messages");
  });
  $("delete").addEventListener("click", remove);
  $("show-raw").addEventListener("click", showRaw);
  $("images").addEventListener("click", () => showHtml(true));
  load(false);
  live();
});
