// The sevensteps lab page: plain JavaScript, no build step, no network beyond this lab's own server.
// Frames arrive by server-sent events; only the newest is drawn, once per animation frame.
"use strict";

const STEPS = ["init", "predict", "loss", "gradient", "step", "repeat", "stop"];
const SETTING_KEYS = ["model", "hidden", "loss", "optimizer", "lr", "batch_size", "digits", "seed", "epochs"];
const params = new URLSearchParams(location.search);
const token = params.get("token") || "";
const $ = (id) => document.getElementById(id);

let latest = null;        // newest frame received
let drawn = null;         // frame on screen
let scheduled = false;
let urlApplied = false;
window.labStats = { received: 0, rendered: 0, renderedAt: 0, version: 0 };

// ------------------------------------------------------------ talking to the server

async function post(path, body, contentType = "application/json") {
  const response = await fetch(path, {
    method: "POST",
    headers: { "X-Lab-Token": token, "Content-Type": contentType },
    body: contentType === "application/json" ? JSON.stringify(body || {}) : body,
  });
  const answer = await response.json().catch(() => ({ error: `HTTP ${response.status}` }));
  if (!response.ok) {
    say(answer.error || `HTTP ${response.status}`, true);
    throw new Error(answer.error);
  }
  if (answer.message) say(answer.message, false);
  return answer;
}

function say(text, isError) {
  const box = $("message");
  box.textContent = text;
  box.classList.toggle("error", Boolean(isError));
}

function connect() {
  const source = new EventSource(`/api/stream?token=${encodeURIComponent(token)}`);
  source.onmessage = (event) => {
    // A frame without the slow part (history, views, code) keeps the one the page already has.
    latest = Object.assign({}, latest || {}, JSON.parse(event.data));
    latest.curve = latest.curve_head.concat(latest.curve_tail);  // the slow part's points, then the newest
    window.labStats.received += 1;
    if (!scheduled) {
      scheduled = true;
      requestAnimationFrame(render);
    }
  };
  source.onerror = () => { $("status").textContent = "reconnecting…"; };
}

// ------------------------------------------------------------ drawing a frame

function render() {
  scheduled = false;
  const f = latest;
  if (!f || f === drawn) return;
  setText($("status"), `${f.status} · epoch ${f.epoch}, batch ${f.batch}/${f.n_batches}`);
  for (const name of STEPS) {
    const box = $(`step-${name}`);
    if (box.classList.contains("lit") !== (f.lit === name)) box.classList.toggle("lit", f.lit === name);
    setText(box.querySelector(".num"), f.steps[name] || "");
  }
  const diagnosis = $("diagnosis");
  if (diagnosis.hidden !== !f.diagnosis) diagnosis.hidden = !f.diagnosis;
  setText(diagnosis, f.diagnosis || "");
  setText($("btn-play"), f.mode === "play" ? "Pause" : "Play");
  if (document.activeElement !== $("lr")) {
    const position = Math.log10(f.lr_now).toFixed(1);
    if ($("lr").value !== position) $("lr").value = position;
  }
  setText($("lr-value"), formatNumber(f.lr_now));
  const last = f.history[f.history.length - 1];
  setText($("acc-valid"), last ? percent(last.valid_accuracy) : "–");
  setText($("baseline"), percent(f.baseline_accuracy));
  setText($("first-class"), f.classes.length === 2 ? f.classes[0] : "each class");
  drawWeights($("weights"), f.weights);
  drawCurves($("curves"), f);
  if (!drawn || drawn.confusion !== f.confusion) drawConfusion(f);
  if (!drawn || drawn.mistakes !== f.mistakes) drawMistakes(f);
  if (!drawn || !sameSettings(drawn.settings, f.settings)) showSettings(f.settings);
  if (!drawn || drawn.snapshots.length !== f.snapshots.length) fillRewind(f.snapshots);
  setText($("code"), f.code);
  if (f.message && (!drawn || drawn.message !== f.message)) say(f.message, false);
  drawn = f;
  const stats = window.labStats;
  stats.rendered += 1;
  stats.renderedAt = performance.now();
  stats.version = f.version;
  stats.batch = f.batch;
  stats.epoch = f.epoch;
  stats.status = f.status;
  if (!urlApplied) applyUrlSettings(f.settings);
}

// Only touch the DOM when the text changed: a page that relays itself out 30 times a second costs CPU.
function setText(element, value) {
  if (element.textContent !== value) element.textContent = value;
}

const percent = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);
const formatNumber = (x) => (x >= 0.01 && x < 1000 ? Number(x.toPrecision(3)).toString() : x.toExponential(1));

function decode(base64, Type) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  return new Type(bytes.buffer);
}

// Red for positive, blue for negative, white for zero (the report's RdBu_r).
function diverging(level) {
  const t = Math.max(-1, Math.min(1, level / 127));
  return t >= 0 ? [255, 255 * (1 - t), 255 * (1 - t)] : [255 * (1 + t), 255 * (1 + t), 255];
}

// One tile per unit (28×28, one weight per pixel) or per convolution filter (k×k, with a 1-pixel gap).
function drawWeights(canvas, weights) {
  if (!weights) return;
  const levels = decode(weights.data, Int8Array);
  const side = weights.side || 28, area = side * side, gap = side < 28 ? 1 : 0, step = side + gap;
  const shown = Math.min(weights.units, 36);
  const columns = Math.ceil(Math.sqrt(shown));
  const rows = Math.ceil(shown / columns);
  const tile = new ImageData(step * columns - gap, step * rows - gap);
  tile.data.fill(255);
  for (let u = 0; u < shown; u++) {
    const ox = (u % columns) * step, oy = Math.floor(u / columns) * step;
    for (let p = 0; p < area; p++) {
      const [r, g, b] = diverging(levels[u * area + p]);
      const at = ((oy + Math.floor(p / side)) * tile.width + ox + (p % side)) * 4;
      tile.data[at] = r; tile.data[at + 1] = g; tile.data[at + 2] = b;
    }
  }
  paintScaled(canvas, tile);
}

// The canvas holds the image at its own size; CSS scales it up with square pixels (cheaper than redrawing).
function paintScaled(canvas, imageData) {
  if (canvas.width !== imageData.width || canvas.height !== imageData.height) {
    canvas.width = imageData.width;
    canvas.height = imageData.height;
  }
  canvas.getContext("2d").putImageData(imageData, 0, 0);
}

function drawGray(canvas, base64) {
  const pixels = decode(base64, Uint8Array);
  const image = new ImageData(28, 28);
  for (let p = 0; p < 784; p++) {
    image.data.set([pixels[p], pixels[p], pixels[p], 255], p * 4);
  }
  paintScaled(canvas, image);
}

function drawCurves(canvas, f) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height, half = w / 2, pad = 28;
  ctx.clearRect(0, 0, w, h);
  ctx.font = "11px sans-serif";
  const points = f.curve.filter((p) => p[1] !== null);
  const lastBatch = Math.max(1, ...f.curve.map((p) => p[0]));
  const losses = points.map((p) => p[1]).concat(f.history.map((e) => e.valid_loss).filter((x) => x !== null));
  const top = Math.max(1e-6, ...losses);
  const x = (b, left) => left + pad + (b / lastBatch) * (half - pad - 8);
  const yLoss = (v) => h - pad - (v / top) * (h - 2 * pad);
  const yAcc = (a) => h - pad - a * (h - 2 * pad);
  for (const left of [0, half]) {
    ctx.strokeStyle = "#999";
    ctx.beginPath();
    ctx.moveTo(left + pad, 8); ctx.lineTo(left + pad, h - pad); ctx.lineTo(left + half - 8, h - pad);
    ctx.stroke();
  }
  ctx.fillStyle = "#333";
  ctx.fillText(`loss (0 to ${top.toPrecision(2)})`, pad + 4, 16);
  ctx.fillText("accuracy (0 to 100%)", half + pad + 4, 16);
  ctx.fillText("batches →", half - 70, h - 8);
  ctx.fillText("batches →", w - 70, h - 8);
  line(ctx, points.map((p) => [x(p[0], 0), yLoss(p[1])]), "#1f77b4");
  const batchesPerEpoch = f.n_batches;
  const epochX = (e) => Math.min(e.epoch * batchesPerEpoch, lastBatch);
  const validLoss = f.history.filter((e) => e.valid_loss !== null).map((e) => [x(epochX(e), 0), yLoss(e.valid_loss)]);
  line(ctx, validLoss, "#ff7f0e", true);
  line(ctx, points.filter((p) => p[2] !== null).map((p) => [x(p[0], half), yAcc(p[2])]), "#aac8e4");
  line(ctx, f.history.map((e) => [x(epochX(e), half), yAcc(e.valid_accuracy)]), "#d62728", true);
  ctx.setLineDash([5, 4]);
  line(ctx, [[half + pad, yAcc(f.baseline_accuracy)], [w - 8, yAcc(f.baseline_accuracy)]], "#555");
  ctx.setLineDash([]);
  ctx.fillStyle = "#1f77b4"; ctx.fillText("train (batch)", pad + 6, h - pad - 6);
  ctx.fillStyle = "#ff7f0e"; ctx.fillText("valid", pad + 90, h - pad - 6);
  ctx.fillStyle = "#d62728"; ctx.fillText("valid", half + pad + 6, h - pad - 6);
}

function line(ctx, points, color, dots = false) {
  if (!points.length) return;
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  points.forEach(([px, py], i) => (i ? ctx.lineTo(px, py) : ctx.moveTo(px, py)));
  ctx.stroke();
  if (dots) points.forEach(([px, py]) => ctx.fillRect(px - 2, py - 2, 4, 4));
}

function drawConfusion(f) {
  const table = $("confusion");
  table.replaceChildren();
  if (!f.confusion) return;
  const head = table.insertRow();
  head.insertCell().textContent = "";
  f.classes.forEach((name) => { head.insertCell().textContent = name; });
  f.confusion.forEach((row, i) => {
    const tr = table.insertRow();
    tr.insertCell().textContent = f.classes[i];
    row.forEach((count, j) => {
      const cell = tr.insertCell();
      cell.textContent = count;
      if (i === j) cell.className = "hit";
    });
  });
}

function drawMistakes(f) {
  const box = $("mistakes");
  box.replaceChildren();
  for (const m of f.mistakes) {
    const item = document.createElement("div");
    const canvas = document.createElement("canvas");
    drawGray(canvas, m.image);
    item.append(canvas, document.createElement("br"), `${m.true}→${m.predicted} ${percent(m.probability)}`);
    box.append(item);
  }
  if (!f.mistakes.length) box.textContent = f.confusion ? "none" : "after the first epoch";
}

function fillRewind(snapshots) {
  const select = $("rewind-to");
  select.replaceChildren(...snapshots.slice().reverse().map((s) => new Option(s.label, s.id)));
}

// ------------------------------------------------------------ settings and the URL

function showSettings(settings) {
  for (const key of SETTING_KEYS) {
    const input = $(`set-${key}`);
    if (input && document.activeElement !== input) input.value = settings[key];
  }
  const query = new URLSearchParams({ token });
  for (const key of SETTING_KEYS) query.set(key, settings[key]);
  history.replaceState(null, "", `?${query}`);
  query.delete("token");
  $("share").textContent = `?${query}`;
}

function sameSettings(a, b) {
  return SETTING_KEYS.every((key) => String(a[key]) === String(b[key]));
}

// A link carrying settings (a teacher's handout) sets them up once; a reload of the same URL changes nothing.
function applyUrlSettings(current) {
  urlApplied = true;
  const wanted = {};
  for (const key of SETTING_KEYS) {
    if (!params.has(key)) continue;
    const value = params.get(key);
    const typed = typeof current[key] === "number" ? Number(value) : value;
    if (String(typed) !== String(current[key])) wanted[key] = typed;
  }
  if (Object.keys(wanted).length) post("/api/settings", wanted).catch(() => {});
}

function readSettings() {
  const wanted = {};
  for (const key of SETTING_KEYS) {
    const input = $(`set-${key}`);
    if (!input) continue;
    wanted[key] = input.type === "number" ? Number(input.value) : input.value;
  }
  return wanted;
}

// ------------------------------------------------------------ controls

function wireControls() {
  const control = (action) => post("/api/control", { action, speed: Number($("speed").value) }).catch(() => {});
  $("btn-step").onclick = () => control("step");
  $("btn-batch").onclick = () => control("batch");
  $("btn-epoch").onclick = () => control("epoch");
  $("btn-play").onclick = () => control(latest && latest.mode === "play" ? "pause" : "play");
  $("speed").onchange = () => { if (latest && latest.mode === "play") control("play"); };
  $("btn-reset").onclick = () => post("/api/control", { action: "reset" }).catch(() => {});
  $("lr").oninput = () => { $("lr-value").textContent = formatNumber(10 ** Number($("lr").value)); };
  $("lr").onchange = () => post("/api/lr", { lr: Number((10 ** Number($("lr").value)).toPrecision(3)) }).catch(() => {});
  $("btn-apply").onclick = () => post("/api/settings", readSettings()).catch(() => {});
  $("btn-rewind").onclick = () => post("/api/rewind", { id: Number($("rewind-to").value) }).catch(() => {});
  $("btn-save").onclick = () => post("/api/save", {}).catch(() => {});
  $("btn-open").onclick = () => post("/api/open", { path: $("open-path").value }).catch(() => {});
  $("btn-nudge-chosen").onclick = () => nudge("chosen");
  $("btn-nudge-all").onclick = () => nudge("all");
}

async function nudge(which) {
  $("nudge-times").textContent = "nudging…";
  try {
    const r = await post("/api/gradcheck", { weights: which });
    const ms = (s) => `${(1000 * s).toFixed(1)} ms`;
    $("nudge-times").textContent = `${r.weights} weights on a batch of ${r.batch}: nudging ${ms(r.numeric_seconds)}, ` +
      `backprop ${ms(r.backprop_seconds)} (${(r.numeric_seconds / r.backprop_seconds).toFixed(0)}× faster); ` +
      `largest difference ${r.max_abs_diff.toExponential(1)}`;
    const table = $("nudge-table");
    table.replaceChildren();
    const head = table.insertRow();
    ["weight", "nudging", "backprop"].forEach((t) => { head.insertCell().textContent = t; });
    for (const row of r.rows) {
      const tr = table.insertRow();
      tr.insertCell().textContent = row.weight;
      tr.insertCell().textContent = row.nudging.toExponential(4);
      tr.insertCell().textContent = row.backprop.toExponential(4);
    }
  } catch (error) {
    $("nudge-times").textContent = "";
  }
}

// ------------------------------------------------------------ draw a digit

function wirePad() {
  const pad = $("pad");
  const ctx = pad.getContext("2d");
  const clear = () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, pad.width, pad.height); };
  clear();
  let drawing = false;
  const at = (event) => {
    const box = pad.getBoundingClientRect();
    return [(event.clientX - box.left) * pad.width / box.width, (event.clientY - box.top) * pad.height / box.height];
  };
  pad.addEventListener("pointerdown", (event) => {
    drawing = true;
    pad.setPointerCapture(event.pointerId);
    ctx.strokeStyle = "#fff"; ctx.lineWidth = 22; ctx.lineCap = "round"; ctx.lineJoin = "round";
    ctx.beginPath();
    ctx.moveTo(...at(event));
  });
  pad.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    ctx.lineTo(...at(event));
    ctx.stroke();
  });
  const finish = () => {
    if (!drawing) return;
    drawing = false;
    pad.toBlob((blob) => classify(blob), "image/png");
  };
  pad.addEventListener("pointerup", finish);
  pad.addEventListener("pointercancel", finish);
  $("btn-clear").onclick = () => { clear(); $("draw-prediction").textContent = ""; $("draw-unknown").textContent = ""; };
  $("upload").onchange = () => { if ($("upload").files[0]) classify($("upload").files[0]); };
}

async function classify(blob) {
  let r;
  try {
    r = await post("/api/draw", blob, blob.type || "application/octet-stream");
  } catch (error) {
    $("draw-prediction").textContent = "";
    return;
  }
  drawGray($("draw-input"), r.input);
  const evidence = $("draw-evidence");
  evidence.hidden = !r.evidence;
  if (r.evidence) drawWeights(evidence, r.evidence);
  $("evidence-kind").textContent = r.evidence_kind || "";
  $("evidence-for").textContent = r.prediction;
  $("draw-prediction").textContent = `${r.prediction} (${percent(r.probability)})`;
  $("draw-unknown").textContent = r.unknown || "";
  const distances = Object.entries(r.baseline.distances).map(([name, d]) => `${name}: ${d.toFixed(3)}`).join(", ");
  $("draw-baseline").textContent = `Pixel similarity says ${r.baseline.prediction} (distance to each ideal: ${distances})`;
}

wireControls();
wirePad();
connect();
