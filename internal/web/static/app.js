// mqbroker web view. Every value from the broker is put in the page with
// textContent (never as HTML). The page pulls what it shows: one small
// "tick" event a second from /api/live, then the open branches of the
// topic tree, so a busy broker cannot flood or freeze it; a branch lists
// at most 200 children at a time ("more" loads the next ones).
"use strict";

const $ = (id) => document.getElementById(id);
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}
async function getJSON(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (!r.ok) throw new Error(url + ": " + r.status);
  return r.json();
}
function fmtTime(ms) { return ms ? new Date(ms).toLocaleTimeString() : ""; }
function fmtRate(r) { return r >= 100 ? Math.round(r) + "/s" : r >= 0.05 ? r.toFixed(1) + "/s" : ""; }

let info = { allowPublish: false };
let activeTab = "topics";

// ---- tabs
document.querySelectorAll("nav button").forEach((b) => {
  b.addEventListener("click", () => showTab(b.dataset.tab));
});
function showTab(name) {
  activeTab = name;
  document.querySelectorAll("nav button").forEach((b) => b.classList.toggle("active", b.dataset.tab === name));
  document.querySelectorAll(".tab").forEach((s) => s.classList.toggle("active", s.id === "tab-" + name));
  if (name === "clients") loadClients();
  if (name === "charts") drawCharts();
}

// ---- topic tree
const expanded = new Map(); // key (JSON of levels) -> {levels, limit}
const prevCounts = new Map(); // key -> {messages, t}
let selected = null; // full topic
const rootState = { levels: [], limit: 200 };

function keyOf(levels) { return JSON.stringify(levels); }

function rateOf(key, messages, now) {
  const p = prevCounts.get(key);
  prevCounts.set(key, { messages, t: now, rate: p ? p.rate : 0 });
  if (!p || now - p.t < 500) return p ? p.rate : 0;
  const r = ((messages - p.messages) * 1000) / (now - p.t);
  prevCounts.get(key).rate = r;
  return r;
}

async function loadBranch(levels, limit) {
  const q = new URLSearchParams();
  levels.forEach((l) => q.append("l", l));
  q.set("limit", String(Math.min(limit, 500)));
  return getJSON("/api/topics?" + q.toString());
}

async function renderBranch(ul, state) {
  let data;
  try {
    data = await loadBranch(state.levels, state.limit);
  } catch (e) {
    ul.replaceChildren(el("li", "hint", "branch gone"));
    return;
  }
  const now = Date.now();
  if (state === rootState) $("topic-count").textContent = data.topics + " topics";
  const items = [];
  const subs = []; // open branches, rendered before they replace the old ones
  for (const c of data.children) {
    const levels = state.levels.concat([c.name]);
    const key = keyOf(levels);
    const li = el("li");
    const row = el("div", "row");
    const full = levels.join("/");
    row.dataset.topic = full;
    const open = expanded.has(key);
    row.appendChild(el("span", "tog", c.children > 0 ? (open ? "▾" : "▸") : ""));
    row.appendChild(el("span", "name", c.name === "" ? "(empty)" : c.name));
    if (c.own && c.own.retained) row.appendChild(el("span", "badge retained", "R"));
    if (c.children > 0) row.appendChild(el("span", "badge", c.topics + " topics"));
    row.appendChild(el("span", "badge count", c.messages + " msgs"));
    const rate = rateOf(key, c.messages, now);
    row.appendChild(el("span", "rate", fmtRate(rate)));
    if (c.own) row.appendChild(el("span", "preview", c.own.preview || ""));
    if (selected === full) row.classList.add("sel");
    row.addEventListener("click", () => {
      if (c.children > 0) {
        if (expanded.has(key)) expanded.delete(key);
        else expanded.set(key, { levels, limit: 200 });
      }
      if (c.own) selectTopic(full);
      refreshTree();
    });
    li.appendChild(row);
    if (open && c.children > 0) {
      const sub = el("ul");
      li.appendChild(sub);
      subs.push(renderBranch(sub, expanded.get(key)));
    }
    items.push(li);
  }
  if (data.total > data.children.length) {
    const more = el("li", "more", "… " + (data.total - data.children.length) + " more (show 200 more)");
    more.addEventListener("click", () => { state.limit += 200; refreshTree(); });
    items.push(more);
  }
  // The new subtree replaces the old one complete: an open branch never
  // shows empty while its children load (TestBrowserBusy).
  await Promise.all(subs);
  ul.replaceChildren(...items);
}

let treeBusy = false, treeAgain = false;
async function refreshTree() {
  if (treeBusy) { treeAgain = true; return; } // once more when this one ends
  treeBusy = true;
  try {
    await renderBranch($("tree"), rootState);
    if (selected) await showDetail(selected, false);
  } finally {
    treeBusy = false;
    if (treeAgain) { treeAgain = false; refreshTree(); }
  }
}

// ---- topic detail: text / JSON / hex
let payloadView = "text";
let lastDetail = null;

function selectTopic(t) {
  selected = t;
  showDetail(t, true);
}

function b64bytes(s) {
  const bin = atob(s || "");
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function renderPayload(bytes) {
  if (payloadView === "hex") {
    const lines = [];
    for (let i = 0; i < bytes.length; i += 16) {
      const chunk = bytes.slice(i, i + 16);
      const hex = Array.from(chunk, (b) => b.toString(16).padStart(2, "0")).join(" ");
      const asc = Array.from(chunk, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
      lines.push(i.toString(16).padStart(8, "0") + "  " + hex.padEnd(48) + "  " + asc);
    }
    return lines.join("\n");
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  if (payloadView === "json") {
    try {
      return JSON.stringify(JSON.parse(text), null, 2);
    } catch (e) {
      return "(not JSON: " + e.message + ")\n" + text;
    }
  }
  return text;
}

async function showDetail(t, force) {
  let d;
  try {
    d = await getJSON("/api/topic?t=" + encodeURIComponent(t));
  } catch (e) {
    return;
  }
  if (!force && lastDetail && lastDetail.count === d.count && lastDetail.topic === d.topic && lastDetail.retained === d.retained) return;
  lastDetail = d;
  const box = $("detail");
  const parts = [];
  parts.push(el("h3", "", d.topic));
  const facts = el("p");
  facts.appendChild(el("span", "badge", d.count + " messages"));
  facts.appendChild(document.createTextNode(" "));
  if (d.retained) facts.appendChild(el("span", "badge retained", "retained"));
  facts.appendChild(document.createTextNode(" last: QoS " + d.qos + (d.retain ? ", retain flag" : "") + ", " + d.size + " bytes" + (d.at ? ", at " + fmtTime(d.at) : "")));
  parts.push(facts);
  const views = el("div", "views");
  for (const v of ["text", "json", "hex"]) {
    const b = el("button", v === payloadView ? "active" : "", v === "json" ? "JSON" : v);
    b.dataset.view = v;
    b.addEventListener("click", () => { payloadView = v; showDetail(t, true); });
    views.appendChild(b);
  }
  parts.push(views);
  const pre = el("pre", "payload", renderPayload(b64bytes(d.payload)));
  pre.id = "payload";
  parts.push(pre);
  if (d.cut) parts.push(el("p", "hint", "(only the first 16 KiB are kept)"));
  box.replaceChildren(...parts);
}

// ---- clients
async function loadClients() {
  const q = new URLSearchParams({ q: $("client-filter").value, limit: "500" });
  let data;
  try {
    data = await getJSON("/api/clients?" + q.toString());
  } catch (e) {
    return;
  }
  $("client-count").textContent = data.total + " of " + data.sessions + " sessions" + (data.total > data.clients.length ? " (first " + data.clients.length + " shown)" : "");
  const rows = data.clients.map((c) => {
    const tr = el("tr");
    tr.dataset.client = c.id;
    const td = (v, cls) => { const x = el("td", cls, v); tr.appendChild(x); return x; };
    td(c.id);
    td(c.user);
    td(c.connected ? c.address : "offline", c.connected ? "" : "off");
    td(c.protocol);
    td(c.keepalive + " s");
    td(c.cleanStart ? "yes" : "no");
    td(c.sessionExpiry < 0 ? "never" : c.sessionExpiry + " s");
    td(c.will ? c.will.topic + " (QoS " + c.will.qos + (c.will.retain ? ", retained" : "") + (c.will.delay ? ", delay " + c.will.delay + " s" : "") + (c.will.pending ? ", pending" : "") + ")" : "");
    td(c.subscriptions.map((s) => s.Filter + " (" + s.QoS + ")").join("\n"), "subs");
    td(c.inflight);
    td(c.queued);
    td(c.connected ? fmtTime(c.connectedSince) : "offline since " + fmtTime(c.disconnectedAt), c.connected ? "" : "off");
    const act = el("td");
    const b = el("button", "", "flow");
    b.addEventListener("click", () => { $("flow-client").value = c.id; showTab("flow"); watchFlow(); });
    act.appendChild(b);
    tr.appendChild(act);
    return tr;
  });
  document.querySelector("#clients tbody").replaceChildren(...rows);
}
$("client-filter").addEventListener("input", () => loadClients());

// ---- flow view (sequence diagram of one client's packets)
let flowSource = null;
const maxFlowRows = 1000;

function flowLabel(ev) {
  let s = ev.packet;
  const extra = [];
  if (ev.id) extra.push("id " + ev.id);
  if (ev.packet === "PUBLISH" || ev.packet === "WILL") extra.push("QoS " + ev.qos);
  if (ev.retain) extra.push("retain");
  if (ev.dup) extra.push("dup");
  if ((ev.code || ev.packet === "DISCONNECT") && ev.packet !== "PUBLISH") extra.push("rc 0x" + ev.code.toString(16).padStart(2, "0"));
  if (extra.length) s += " (" + extra.join(", ") + ")";
  if (ev.topic) s += " " + ev.topic;
  return s;
}

function addFlow(ev) {
  const li = el("li", ev.out ? "out" : "in");
  li.dataset.packet = ev.packet;
  li.appendChild(el("span", "t", new Date(ev.t).toLocaleTimeString()));
  const a = el("span", ev.packet === "WILL" || ev.packet === "CLOSED" ? "arrow note" : "arrow");
  a.appendChild(el("span", "label", ev.packet === "WILL" ? "will published: " + flowLabel(ev) : ev.packet === "CLOSED" ? "connection closed: " + ev.detail : flowLabel(ev)));
  if (ev.detail && ev.packet !== "CLOSED") a.appendChild(el("span", "detail", ev.detail));
  li.appendChild(a);
  const list = $("flow");
  list.appendChild(li);
  while (list.childElementCount > maxFlowRows) list.firstElementChild.remove();
  list.scrollTop = list.scrollHeight;
}

function watchFlow() {
  const id = $("flow-client").value;
  if (!id) return;
  if (flowSource) flowSource.close();
  $("flow").replaceChildren();
  flowSource = new EventSource("/api/flow?client=" + encodeURIComponent(id));
  flowSource.addEventListener("packet", (e) => addFlow(JSON.parse(e.data)));
  flowSource.addEventListener("ready", () => { $("flow-state").textContent = "watching " + id; $("flow-state").dataset.watching = id; });
  flowSource.addEventListener("dropped", (e) => { $("flow-state").textContent = "watching " + id + " (" + JSON.parse(e.data).dropped + " events skipped: too fast)"; });
  flowSource.onerror = () => { $("flow-state").textContent = "reconnecting…"; };
}
$("flow-watch").addEventListener("click", watchFlow);
$("flow-client").addEventListener("keydown", (e) => { if (e.key === "Enter") watchFlow(); });
$("flow-clear").addEventListener("click", () => $("flow").replaceChildren());

// ---- charts
let history = [];
function drawChart(canvas, series, colors) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, pad = 30;
  ctx.clearRect(0, 0, w, h);
  let maxV = 1;
  for (const s of series) for (const v of s) maxV = Math.max(maxV, v);
  ctx.fillStyle = "#778";
  ctx.font = "11px sans-serif";
  ctx.fillText(String(Math.round(maxV)), 2, 12);
  ctx.fillText("0", 2, h - 4);
  ctx.strokeStyle = "#e3e6ec";
  ctx.strokeRect(pad, 4, w - pad - 4, h - 8);
  series.forEach((s, i) => {
    ctx.strokeStyle = colors[i];
    ctx.beginPath();
    s.forEach((v, j) => {
      const x = pad + ((w - pad - 4) * j) / Math.max(1, 599);
      const y = h - 4 - ((h - 8) * v) / maxV;
      if (j === 0) ctx.moveTo(x, y); else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
}
function drawCharts() {
  if (activeTab !== "charts") return;
  drawChart($("chart-msgs"), [history.map((s) => s.in), history.map((s) => s.out)], ["#2b6fd6", "#2a9a4a"]);
  drawChart($("chart-conns"), [history.map((s) => s.conns)], ["#b05a00"]);
}

// ---- publish form
$("publish-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const body = { topic: $("pub-topic").value, payload: $("pub-payload").value, qos: Number($("pub-qos").value), retain: $("pub-retain").checked };
  const r = await fetch("/api/publish", {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-Mqkit-Request": "publish" },
    body: JSON.stringify(body),
  });
  const text = await r.text();
  $("pub-result").textContent = r.ok ? "published (" + JSON.parse(text).subscribers + " subscribers)" : "refused: " + text;
});

// ---- live stream
function connectLive() {
  const src = new EventSource("/api/live");
  src.addEventListener("tick", (e) => {
    const d = JSON.parse(e.data);
    $("live-dot").classList.add("on");
    const s = d.sample;
    $("live-rates").textContent = Math.round(s.in || 0) + "/s in, " + Math.round(s.out || 0) + "/s out, " + (s.conns || 0) + " clients";
    $("topic-count").textContent = d.topics + " topics";
    if (s.t) {
      history.push(s);
      if (history.length > 600) history.shift();
    }
    drawCharts();
    if (activeTab === "topics" && d.gen !== treeGen) { treeGen = d.gen; refreshTree(); }
    if (activeTab === "clients") loadClients();
  });
  src.onerror = () => { $("live-dot").classList.remove("on"); $("live-rates").textContent = "reconnecting…"; };
}
let treeGen = -1;

async function start() {
  try {
    info = await getJSON("/api/info");
    $("version").textContent = info.version;
    $("publish-tab").hidden = !info.allowPublish;
    history = (await getJSON("/api/history")) || [];
  } catch (e) { /* retried by the live stream */ }
  refreshTree();
  connectLive();
}
start();
