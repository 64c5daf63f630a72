// mmib serve: the web page. Plain JavaScript, no build step, nothing loaded from elsewhere.
"use strict";

const $ = (id) => document.getElementById(id);
let model = null;   // GET /v1/model
let clip = null;    // the File to send
let recorder = null;

function tokenHeaders() {
  const t = $("token").value.trim() || localStorage.getItem("mmib-token") || "";
  return t ? { Authorization: "Bearer " + t } : {};
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
}

function clearError() { $("error").hidden = true; $("error").textContent = ""; }

// an error answer {"error", "field", "status"} (or anything else) -> one readable line
async function readError(response) {
  let text = "";
  try { text = await response.text(); } catch (e) { /* the body could not be read */ }
  try {
    const body = JSON.parse(text);
    if (body && body.error) {
      return `${body.error}` + (body.field && !String(body.error).startsWith(body.field) ? ` (field: ${body.field})` : "")
        + ` [HTTP ${response.status}]`;
    }
  } catch (e) { /* not JSON */ }
  return `the server answered HTTP ${response.status} ${response.statusText}` + (text ? `: ${text.slice(0, 300)}` : "");
}

function fmt(x, digits = 3) {
  return (x === null || x === undefined || Number.isNaN(x)) ? "–" : Number(x).toFixed(digits);
}

async function loadModel() {
  let r;
  try {
    r = await fetch("/v1/model", { headers: tokenHeaders() });
  } catch (e) {
    $("model-line").textContent = "the server cannot be reached: " + e.message;
    return;
  }
  if (r.status === 401) {
    $("token-row").hidden = false;
    $("model-line").textContent = "this server needs a token: type it below";
    return;
  }
  if (!r.ok) { showError(await readError(r)); return; }
  model = await r.json();
  const what = model.task === "regression"
    ? `sentiment${model.range ? ` in [${model.range[0]}, ${model.range[1]}]` : ""}`
    : `emotions (${model.labels.join(", ")})`;
  $("model-line").textContent = `${model.name}: ${model.variant || "?"} + ${model.fusion || "?"}, ${what}, `
    + `modalities ${model.modalities.join(" + ")} · backend ${model.backend}`;
  $("model-json").textContent = JSON.stringify(model, null, 1);
  if (!model.clips) {
    showError("This model was trained on features mmib did not extract, so it cannot extract a clip the same way. "
      + "Send features as JSON to POST /v1/predict instead (see /docs).");
  }
  updateButton();
}

function updateButton() { $("predict").disabled = !clip || (model && !model.clips); }

function setClip(file, label) {
  clip = file;
  $("file-name").textContent = label || `${file.name} (${(file.size / 1024).toFixed(0)} kB)`;
  const v = $("preview");
  if (v.src) URL.revokeObjectURL(v.src);
  v.src = URL.createObjectURL(file);
  v.hidden = false;
  clearError();
  updateButton();
}

function renderPrediction(a) {
  const box = $("prediction");
  box.innerHTML = "";
  if (model && model.task === "regression" || typeof a.prediction === "number") {
    const v = a.prediction;
    const r = (model && model.range) ? model.range[1] : Math.max(1, Math.abs(v));
    const word = v > 0.05 * r ? "positive" : v < -0.05 * r ? "negative" : "neutral";
    const score = document.createElement("div");
    score.className = "score " + (v > 0 ? "pos" : v < 0 ? "neg" : "");
    score.id = "score";
    score.dataset.value = String(v);
    score.textContent = `${v >= 0 ? "+" : ""}${fmt(v, 2)}  `;
    const span = document.createElement("span");
    span.className = "muted";
    span.id = "score-word";
    span.textContent = word;
    score.appendChild(span);
    const scale = document.createElement("div");
    scale.className = "scale";
    const mark = document.createElement("div");
    mark.className = "mark";
    mark.style.left = `${Math.min(100, Math.max(0, (v + r) / (2 * r) * 100))}%`;
    scale.appendChild(mark);
    const labels = document.createElement("div");
    labels.className = "scale-labels";
    labels.innerHTML = `<span>${-r} negative</span><span>0</span><span>positive ${r}</span>`;
    box.append(score, scale, labels);
  } else {
    for (const [name, p] of Object.entries(a.prediction)) {
      const row = document.createElement("div");
      const chosen = a.present || (a["class"] ? [a["class"]] : []);
      row.className = "emotion" + (chosen.includes(name) ? " present" : "");
      row.dataset.emotion = name;
      row.dataset.value = String(p);
      row.innerHTML = `<span></span><div class="track"><div class="fill"></div></div><span>${(100 * p).toFixed(0)}%</span>`;
      row.firstChild.textContent = name;
      row.querySelector(".fill").style.width = `${(100 * p).toFixed(1)}%`;
      box.appendChild(row);
    }
  }
}

function headCell(value) {
  const td = document.createElement("td");
  td.className = "head";
  if (typeof value === "number") {
    const r = (model && model.range) ? model.range[1] : 1;
    const bar = document.createElement("span");
    bar.className = "bar " + (value >= 0 ? "pos" : "neg");
    bar.style.width = `${Math.min(100, Math.abs(value) / r * 100)}px`;
    td.dataset.value = String(value);
    td.append(bar, document.createTextNode(fmt(value, 3)));
  } else if (value) {
    td.textContent = Object.entries(value).map(([k, p]) => `${k} ${(100 * p).toFixed(0)}%`).join(" · ");
    td.dataset.value = JSON.stringify(value);
  } else {
    td.textContent = "–";
  }
  return td;
}

function renderResult(answer, seconds) {
  $("result-id").textContent = answer.id;
  renderPrediction(answer);
  const body = $("modalities").querySelector("tbody");
  body.innerHTML = "";
  const names = [...new Set([...Object.keys(answer.heads || {}), ...Object.keys(answer.kl || {})])];
  for (const m of names) {
    const tr = document.createElement("tr");
    tr.dataset.modality = m;
    const th = document.createElement("td");
    th.textContent = m === "fused" ? "fused (all)" : m;
    const kl = document.createElement("td");
    kl.className = "kl";
    kl.dataset.value = String(answer.kl[m]);
    kl.textContent = fmt(answer.kl[m], 3);
    tr.append(th, m === "fused" ? headCell(answer.prediction) : headCell(answer.heads[m]), kl);
    body.appendChild(tr);
  }
  $("transcript-used").textContent = answer.transcript ? `“${answer.transcript}”` : "(none)";
  $("transcript-source").textContent = answer.transcript_source ? `(${answer.transcript_source})` : "";
  $("timing").textContent = `extraction ${fmt(answer.extract_seconds, 2)} s · model ${fmt(seconds * 1000, 1)} ms`;
  $("result").hidden = false;
}

async function predict() {
  if (!clip) return;
  clearError();
  $("result").hidden = true;
  $("predict").disabled = true;
  $("busy").hidden = false;
  const form = new FormData();
  form.append("file", clip, clip.name || "recording.webm");
  const text = $("transcript").value.trim();
  if (text) form.append("text", text);
  try {
    const r = await fetch("/v1/predict/clip", { method: "POST", body: form, headers: tokenHeaders() });
    if (!r.ok) {
      if (r.status === 401) $("token-row").hidden = false;
      showError(await readError(r));
      return;
    }
    const body = await r.json();
    renderResult(body.predictions[0], body.model_seconds);
  } catch (e) {
    showError("the request failed: " + e.message);
  } finally {
    $("busy").hidden = true;
    updateButton();
  }
}

async function record() {
  if (recorder) return;
  if (!navigator.mediaDevices || !window.MediaRecorder) {
    showError("this browser cannot record here (recording needs https or localhost and MediaRecorder)");
    return;
  }
  const video = $("rec-video").checked;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true, video });
  } catch (e) {
    showError("no access to the " + (video ? "camera and microphone" : "microphone") + ": " + e.message);
    return;
  }
  const types = video ? ["video/webm;codecs=vp8,opus", "video/webm", "video/mp4"] : ["audio/webm;codecs=opus", "audio/webm", "audio/mp4"];
  const mimeType = types.find((t) => MediaRecorder.isTypeSupported(t)) || "";
  const chunks = [];
  recorder = new MediaRecorder(stream, mimeType ? { mimeType } : {});
  recorder.ondataavailable = (e) => { if (e.data.size) chunks.push(e.data); };
  recorder.onstop = () => {
    stream.getTracks().forEach((t) => t.stop());
    const type = (recorder.mimeType || mimeType || "video/webm").split(";")[0];
    const ext = type.endsWith("mp4") ? (video ? "mp4" : "m4a") : "webm";
    setClip(new File(chunks, `recording.${ext}`, { type }), `recording (${(chunks.reduce((n, c) => n + c.size, 0) / 1024).toFixed(0)} kB)`);
    recorder = null;
    $("rec-status").textContent = "";
    $("record").disabled = false;
  };
  const seconds = Number($("rec-seconds").value);
  $("record").disabled = true;
  recorder.start();
  let left = seconds;
  $("rec-status").textContent = `recording… ${left} s`;
  const tick = setInterval(() => {
    left -= 1;
    $("rec-status").textContent = left > 0 ? `recording… ${left} s` : "";
    if (left <= 0) { clearInterval(tick); if (recorder && recorder.state === "recording") recorder.stop(); }
  }, 1000);
}

function wire() {
  $("file").addEventListener("change", (e) => { if (e.target.files.length) setClip(e.target.files[0]); });
  const drop = $("drop");
  ["dragenter", "dragover"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((ev) => drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (e) => { if (e.dataTransfer.files.length) setClip(e.dataTransfer.files[0]); });
  $("predict").addEventListener("click", predict);
  $("record").addEventListener("click", record);
  $("token").addEventListener("change", () => { localStorage.setItem("mmib-token", $("token").value.trim()); loadModel(); });
  loadModel();
}

wire();
