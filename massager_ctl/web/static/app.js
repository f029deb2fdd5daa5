// The massager-ctl phone remote. Talks only to the server that sent it.
"use strict";

const token = new URLSearchParams(location.search).get("token");
const Q = token ? "?token=" + encodeURIComponent(token) : "";
const $ = (id) => document.getElementById(id);
const WAITING = new Set(["waiting_for_confirm"]);
const ENDED = new Set(["completed", "stopped", "aborted", "failed"]);

let view = null;        // the server's latest view
let viewAt = 0;         // when it came (performance.now(), ms)
let toastTimer = 0;
let listed = false;

function mmss(seconds) {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const mm = h ? String(m).padStart(2, "0") : String(m);
  return (h ? h + ":" : "") + mm + ":" + String(r).padStart(2, "0");
}

function toast(text, bad) {
  const t = $("toast");
  t.textContent = text;
  t.className = bad ? "toast bad" : "toast";
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, bad ? 5000 : 2500);
}

async function send(command) {
  const headers = { "content-type": "application/json", "x-massager": "1" };
  if (token) headers["x-pairing-token"] = token;
  try {
    const r = await fetch("/api/cmd", {
      method: "POST", headers, body: JSON.stringify(Object.assign({ client: "web" }, command)),
    });
    const body = await r.json();
    if (body.ok) toast(body.message, false); else toast(body.error || ("error " + r.status), true);
    return body;
  } catch (e) {
    toast("no answer from the remote: " + e, true);
    return null;
  }
}

function active(session) {
  return session && !session.status && !ENDED.has(session.state);
}

function deviceText(d) {
  if (!d) return "–";
  if (!d.connected) return "not connected";
  const parts = [d.motor ? "motor on" : "motor off", "level " + d.intensity];
  if (d.head) parts.push(d.head);
  if (d.heat !== null && d.heat !== undefined) parts.push("heat " + d.heat);
  if (d.battery !== null && d.battery !== undefined) parts.push("battery " + d.battery + "%");
  for (const f of d.flags || []) parts.push(f.replace(/_/g, " "));
  return parts.join(" · ");
}

function render() {
  if (!view) return;
  const s = view.session;
  const live = active(s);
  $("model").textContent = view.model || "";
  $("routine").textContent = s ? s.routine_title : "Massager remote";
  $("session").hidden = !live;
  $("controls").hidden = !live;
  $("picker").hidden = live || view.mode !== "serve";
  $("ended").hidden = live || !s || !s.status;
  if (s && s.status) {
    $("ended-title").textContent = s.routine_title + ": " + s.status;
    $("ended-reason").textContent = s.reason || "";
  }
  if (live) {
    $("step-count").textContent = "Step " + (s.index + 1) + " of " + s.steps;
    const st = $("state");
    st.textContent = s.state === "waiting_for_confirm" ? "your turn" : s.state.replace(/_/g, " ");
    st.className = "pill" + (WAITING.has(s.state) ? " warn" : s.state === "running" ? " go" : "");
    $("step-title").textContent = s.step_title || "–";
    const waiting = s.waiting_for === "head_change" ? "Fit the " + s.head_to_fit + " head, then tap I'm ready."
      : s.waiting_for === "confirm" ? "Tap I'm ready when you are." : "";
    const prompt = $("prompt");
    prompt.textContent = s.prompt || "";
    prompt.classList.toggle("long", (s.prompt || "").length > 120);  // the buttons stay in reach
    $("hint").textContent = waiting;
    $("hint").hidden = !waiting;
    $("btn-confirm").hidden = !s.waiting_for;
    const paused = s.state === "paused";
    const pause = $("btn-pause");
    pause.dataset.action = paused ? "resume" : "pause";
    pause.textContent = paused ? "▶ Resume" : "❚❚ Pause";
    tick();
  }
  const d = view.device;
  const box = $("device");
  box.classList.toggle("assumed", !d || d.assumed);
  const mark = $("device-mark");
  mark.textContent = !d ? "not reported" : d.assumed ? (d.connected ? "assumed" : "offline") : "reported";
  mark.className = "pill " + (!d || d.assumed ? "dim" : "go");
  $("device-line").textContent = deviceText(d);
  if (view.mode === "serve" && !live && !listed) loadRoutines();
}

// Between updates the clock counts down on its own; each update from the server corrects it.
function tick() {
  const s = view && view.session;
  if (!active(s)) return;
  const ran = s.state === "running" ? (performance.now() - viewAt) / 1000 : 0;
  const stepLeft = Math.max(0, s.step_remaining_s - ran);
  const left = Math.max(0, s.session_remaining_s - ran);
  const stepTotal = s.step_elapsed_s + s.step_remaining_s;
  const total = s.session_elapsed_s + s.session_remaining_s;
  $("clock").textContent = mmss(stepLeft);
  $("session-left").textContent = mmss(left) + " left";
  $("step-bar").style.width = (stepTotal ? 100 * (1 - stepLeft / stepTotal) : 0) + "%";
  $("session-bar").style.width = (total ? 100 * (1 - left / total) : 0) + "%";
}

async function loadRoutines() {
  listed = true;
  const list = $("routines");
  try {
    const r = await fetch("/api/routines" + Q);
    const routines = await r.json();
    if (!r.ok) throw new Error(routines.error || r.status);
    list.replaceChildren(...routines.map(routineItem));
    if (!routines.length) list.textContent = "No routine passes pre-flight on this device.";
  } catch (e) {
    listed = false;
    list.textContent = "Could not load the routines: " + e.message;
  }
}

function routineItem(r) {
  const li = document.createElement("li");
  li.className = "routine-item";
  li.dataset.id = r.id;
  const name = document.createElement("div");
  name.className = "name";
  name.textContent = r.title;
  const meta = document.createElement("div");
  meta.className = "meta";
  const waits = r.confirms ? " · " + r.confirms + " confirm" + (r.confirms > 1 ? "s" : "") : "";
  meta.textContent = mmss(r.duration_s) + " · " + r.tools.join(", ") + waits;
  const actions = document.createElement("div");
  actions.className = "actions";
  const start = document.createElement("button");
  start.className = "start";
  start.textContent = "Start";
  start.addEventListener("click", () => send({ action: "start", routine: r.id }));
  const show = document.createElement("button");
  show.textContent = "Timeline";
  show.addEventListener("click", () => {
    const old = li.querySelector("img");
    if (old) { old.remove(); return; }
    const img = document.createElement("img");
    img.alt = "timeline of " + r.title;
    img.src = "/api/routines/" + encodeURIComponent(r.id) + "/timeline.svg" + Q;
    img.addEventListener("error", () => { img.remove(); toast("no timeline picture (matplotlib is not installed)", true); });
    li.appendChild(img);
  });
  actions.append(start, show);
  li.append(name, meta, actions);
  return li;
}

function onButton(e) {
  const b = e.target.closest("button[data-action]");
  if (!b) return;
  const a = b.dataset.action;
  if (a === "up" || a === "down") send({ action: "intensity", delta: a === "up" ? 1 : -1 });
  else if (a === "extend") send({ action: "extend", seconds: 30 });
  else send({ action: a });
}

function connect() {
  const link = $("link");
  const source = new EventSource("/api/events" + Q);
  source.onopen = () => { link.className = "link live"; };
  source.onmessage = (m) => {
    const data = JSON.parse(m.data);
    const wasLive = view && active(view.session);
    view = data.view;
    viewAt = performance.now();
    if (wasLive && !active(view.session)) listed = false;  // back to the list: it may have changed
    render();
    if (!wasLive && active(view.session)) window.scrollTo(0, 0);  // a new session: its step on top
  };
  source.onerror = () => { link.className = "link lost"; };
}

document.addEventListener("click", onButton);
setInterval(tick, 250);
connect();
