// mqbroker web view. Every value from the broker is put in the page with
// textContent (never as HTML). The page pulls what it shows: one small
// "tick" event a second from /api/live (with the tree's root listing when
// it changed), then the open branches of the topic tree, so a busy broker
// cannot flood or freeze it; a branch lists at most 200 children at a
// time ("more" loads the next ones).
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

// The tree's rows by key, kept from one refresh to the next: a refresh
// writes only the text that changed, and moves nodes only when a branch's
// list changed, so following a busy broker costs the browser (which may
// share the broker's machine) little more than an idle page (issue 15).
const rows = new Map(); // key -> row record (treeRow)
const moreOf = new WeakMap(); // ul -> {li, state}: its "more" entry
let rowsPass = 0; // refreshTree's count: rows not shown in a pass are dropped

function setText(e, t) { if (e.textContent !== t) e.textContent = t; }
// setChildren makes kids parent's children, in order, moving only the
// nodes out of place: a row that appears between others leaves them be.
function setChildren(parent, kids) {
  const now = parent.childNodes;
  kids.forEach((k, i) => { if (now[i] !== k) parent.insertBefore(k, now[i] || null); });
  while (now.length > kids.length) parent.lastChild.remove();
}

function treeRow(key, levels) {
  let r = rows.get(key);
  if (!r) {
    r = {
      li: el("li"), row: el("div", "row"), tog: el("span", "tog"), name: el("span", "name"),
      retained: el("span", "badge retained", "R"), topics: el("span", "badge"),
      count: el("span", "badge count"), rate: el("span", "rate"), preview: el("span", "preview"),
      sub: null, c: null, pass: 0,
    };
    const full = levels.join("/");
    r.row.dataset.topic = full;
    r.row.addEventListener("click", () => {
      if (r.c.children > 0) {
        if (expanded.has(key)) expanded.delete(key);
        else expanded.set(key, { levels, limit: 200 });
      }
      if (r.c.own) selectTopic(full);
      refreshTree();
    });
    r.li.appendChild(r.row);
    rows.set(key, r);
  }
  r.pass = rowsPass;
  return r;
}

function moreEntry(ul, state) {
  let m = moreOf.get(ul);
  if (!m) {
    m = { li: el("li", "more"), state };
    m.li.addEventListener("click", () => {
      m.state.limit += 200;
      if (m.state === rootState) connectLive(); // the stream's root listing grows too
      refreshTree();
    });
    moreOf.set(ul, m);
  }
  m.state = state;
  return m.li;
}

// renderBranch shows the branch of state in ul: data when given (the
// live stream's root listing), else fetched.
async function renderBranch(ul, state, data) {
  if (!data) {
    try {
      data = await loadBranch(state.levels, state.limit);
    } catch (e) {
      ul.replaceChildren(el("li", "hint", "branch gone"));
      return;
    }
  }
  const now = Date.now();
  if (state === rootState) setText($("topic-count"), data.topics + " topics");
  const items = [];
  const subs = []; // open branches, rendered before this list changes
  const lis = []; // [row record, its li's children], set once subs are done
  for (const c of data.children) {
    const levels = state.levels.concat([c.name]);
    const key = keyOf(levels);
    const r = treeRow(key, levels);
    r.c = c;
    const open = expanded.has(key) && c.children > 0;
    setText(r.tog, c.children > 0 ? (open ? "▾" : "▸") : "");
    setText(r.name, c.name === "" ? "(empty)" : c.name);
    const parts = [r.tog, r.name];
    if (c.own && c.own.retained) parts.push(r.retained);
    if (c.children > 0) {
      setText(r.topics, c.topics + " topics");
      parts.push(r.topics);
    }
    setText(r.count, c.messages + " msgs");
    setText(r.rate, fmtRate(rateOf(key, c.messages, now)));
    parts.push(r.count, r.rate);
    if (c.own) {
      setText(r.preview, c.own.preview || "");
      parts.push(r.preview);
    }
    setChildren(r.row, parts);
    r.row.classList.toggle("sel", selected === r.row.dataset.topic);
    if (open) {
      if (!r.sub) r.sub = el("ul");
      subs.push(renderBranch(r.sub, expanded.get(key)));
      lis.push([r, [r.row, r.sub]]);
    } else {
      r.sub = null; // closed: its rows go (refreshTree drops them)
      lis.push([r, [r.row]]);
    }
    items.push(r.li);
  }
  if (data.total > data.children.length) {
    const more = moreEntry(ul, state);
    setText(more, "… " + (data.total - data.children.length) + " more (show 200 more)");
    items.push(more);
  }
  // An open branch shows its new list complete: it never shows empty
  // while its children load (TestBrowserBusy).
  await Promise.all(subs);
  for (const [r, kids] of lis) setChildren(r.li, kids);
  setChildren(ul, items);
}

let treeBusy = false, treeAgain = false;
// refreshTree redraws the tree: its root from root (a live tick's listing)
// when that is given and as long as the page shows, else fetched, and each
// open branch fetched.
async function refreshTree(root) {
  if (treeBusy) { treeAgain = true; return; } // once more when this one ends
  treeBusy = true;
  rowsPass++;
  try {
    await renderBranch($("tree"), rootState, root && root.limit === rootState.limit ? root : null);
    for (const [key, r] of rows) {
      if (r.pass !== rowsPass) { rows.delete(key); prevCounts.delete(key); }
    }
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
// The live stream: one tick a second, with the tree's root listing when
// it changed (no request of the page's own for a tree shown closed).
let live = null;
function connectLive() {
  if (live) live.close();
  const src = new EventSource("/api/live?limit=" + rootState.limit);
  live = src;
  src.addEventListener("tick", async (e) => {
    const d = JSON.parse(e.data);
    const s = d.sample;
    if (s.t) {
      history.push(s);
      if (history.length > 600) history.shift();
    }
    drawCharts();
    // The header changes with the tree, after it: one redraw a tick.
    if (activeTab === "topics" && d.gen !== treeGen) { treeGen = d.gen; await refreshTree(d.root); }
    if (!$("live-dot").classList.contains("on")) $("live-dot").classList.add("on");
    setText($("live-rates"), Math.round(s.in || 0) + "/s in, " + Math.round(s.out || 0) + "/s out, " + (s.conns || 0) + " clients");
    setText($("topic-count"), d.topics + " topics");
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
