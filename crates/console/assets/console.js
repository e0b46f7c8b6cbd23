// Cairn console: the little the pages need beyond HTML forms. Uploads (files and
// folders, drag and drop, multipart for large files, progress), confirmations, JSON
// checks, live charts and heal progress. No framework; loaded as a module.

const body = document.body;
const base = body.dataset.base || "";
const csrf = body.dataset.csrf || "";
const enc = encodeURIComponent;

// Files up to this size go in one PUT; larger ones in parts of this size.
const PART_BYTES = 16 * 1024 * 1024;
// Files uploaded at once.
const UPLOADS_PARALLEL = 3;

for (const form of document.querySelectorAll("form[data-confirm]")) {
  form.addEventListener("submit", (event) => {
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

for (const input of document.querySelectorAll("input[data-select]")) {
  input.addEventListener("focus", () => input.select());
}

// JSON editors: say at once whether the text parses, and keep a form with broken JSON
// from being sent (the server checks again).
for (const area of document.querySelectorAll("textarea[data-json]")) {
  const check = document.getElementById(`${area.id}-check`);
  const verdict = () => {
    if (area.value.trim() === "") return null;
    try { JSON.parse(area.value); return null; } catch (error) { return `Not valid JSON: ${error.message}`; }
  };
  const show = () => { if (check) check.textContent = verdict() || (area.value.trim() ? "Valid JSON." : ""); };
  area.addEventListener("input", show);
  area.form.addEventListener("submit", (event) => {
    const mode = area.form.querySelector("input[name=mode]:checked");
    if (mode && mode.value !== "custom") return;
    const problem = verdict();
    if (problem) { event.preventDefault(); if (check) check.textContent = problem; area.focus(); }
  });
}

function send(method, url, payload, { type, onProgress } = {}) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open(method, url);
    request.setRequestHeader("x-csrf-token", csrf);
    if (type) request.setRequestHeader("content-type", type);
    if (onProgress) request.upload.onprogress = (event) => onProgress(event.loaded);
    request.onload = () => {
      let answer = {};
      try { answer = JSON.parse(request.responseText || "{}"); } catch { answer = {}; }
      if (request.status >= 200 && request.status < 300) resolve(answer);
      else reject(new Error(answer.error || `HTTP ${request.status}`));
    };
    request.onerror = () => reject(new Error("the connection failed"));
    request.send(payload);
  });
}

async function uploadFile(bucket, key, file, onProgress) {
  const where = `${base}/api`;
  if (file.size <= PART_BYTES) {
    await send("PUT", `${where}/upload/${enc(bucket)}?key=${enc(key)}`, file, { type: file.type || "application/octet-stream", onProgress });
    return;
  }
  const target = `${where}/multipart/${enc(bucket)}?key=${enc(key)}`;
  const { uploadId } = await send("POST", `${target}&type=${enc(file.type || "")}`, null);
  const withId = `${where}/multipart/${enc(bucket)}/PART?key=${enc(key)}&uploadId=${enc(uploadId)}`;
  try {
    const parts = [];
    for (let number = 1, offset = 0; offset < file.size; number += 1, offset += PART_BYTES) {
      const slice = file.slice(offset, offset + PART_BYTES);
      const url = `${withId.replace("PART", "part")}&partNumber=${number}`;
      const { etag } = await send("PUT", url, slice, { onProgress: (loaded) => onProgress(offset + loaded) });
      parts.push({ partNumber: number, etag });
    }
    await send("POST", withId.replace("PART", "complete"), JSON.stringify(parts), { type: "application/json" });
  } catch (error) {
    await send("DELETE", target + `&uploadId=${enc(uploadId)}`, null).catch(() => {});
    throw error;
  }
}

function setUpUploads() {
  const form = document.getElementById("upload");
  if (!form) return;
  const bucket = form.dataset.bucket;
  const prefix = form.dataset.prefix || "";
  const list = document.getElementById("transfers");
  const total = document.getElementById("total");
  const drop = document.getElementById("drop");

  async function run(items) {
    if (!items.length) return;
    const size = items.reduce((sum, item) => sum + item.file.size, 0) || 1;
    const loaded = new Array(items.length).fill(0);
    let failed = 0;
    const showTotal = () => {
      const sum = loaded.reduce((a, b) => a + b, 0);
      total.textContent = `${Math.floor((100 * sum) / size)} % of ${items.length} file(s)`;
    };
    const rows = items.map((item) => {
      const row = document.createElement("li");
      const name = document.createElement("span");
      name.textContent = item.path;
      const bar = document.createElement("progress");
      bar.max = item.file.size || 1;
      bar.value = 0;
      bar.setAttribute("aria-label", `Upload of ${item.path}`);
      const state = document.createElement("span");
      state.textContent = "waiting";
      row.append(name, bar, state);
      list.append(row);
      return { bar, state, row };
    });
    let next = 0;
    async function worker() {
      while (next < items.length) {
        const index = next++;
        const { bar, state, row } = rows[index];
        state.textContent = "uploading";
        try {
          await uploadFile(bucket, prefix + items[index].path, items[index].file, (bytes) => {
            bar.value = bytes; loaded[index] = bytes; showTotal();
          });
          bar.value = bar.max; loaded[index] = items[index].file.size; state.textContent = "done";
        } catch (error) {
          failed += 1; row.classList.add("failed"); state.textContent = `failed: ${error.message}`;
        }
        showTotal();
      }
    }
    await Promise.all(Array.from({ length: Math.min(UPLOADS_PARALLEL, items.length) }, worker));
    total.textContent = failed ? `${failed} of ${items.length} upload(s) failed` : `Uploaded ${items.length} file(s)`;
    body.dataset.uploads = failed ? "failed" : "done";
    if (!failed) window.setTimeout(() => window.location.reload(), 400);
  }

  const fromInput = (input, relative) => {
    input.addEventListener("change", () => {
      const items = [...input.files].map((file) => ({ file, path: relative ? file.webkitRelativePath || file.name : file.name }));
      input.value = "";
      run(items);
    });
  };
  fromInput(document.getElementById("files"), false);
  fromInput(document.getElementById("folder"), true);

  const readEntries = (reader) => new Promise((resolve, reject) => reader.readEntries(resolve, reject));
  async function walk(entry, path, out) {
    if (entry.isFile) {
      out.push({ file: await new Promise((resolve, reject) => entry.file(resolve, reject)), path: path + entry.name });
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (let batch = await readEntries(reader); batch.length; batch = await readEntries(reader)) {
        for (const child of batch) await walk(child, `${path}${entry.name}/`, out);
      }
    }
  }
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    const entries = [...event.dataTransfer.items].map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
    const items = [];
    if (entries.length) {
      for (const entry of entries) await walk(entry, "", items);
    } else {
      for (const file of event.dataTransfer.files) items.push({ file, path: file.name });
    }
    run(items);
  });
}

function human(value, unit) {
  if (unit === "B") {
    const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
    let i = 0;
    while (value >= 1024 && i < units.length - 1) { value /= 1024; i += 1; }
    return `${value.toFixed(1)} ${units[i]}`;
  }
  if (unit === "ms") return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)}/s`;
}

function setUpCharts() {
  const charts = document.getElementById("charts");
  if (!charts) return;
  const points = { requests: [], errors: [], received: [], sent: [], ttfb: [] };
  const units = { requests: "", errors: "", received: "B", sent: "B", ttfb: "ms" };
  let last = null;
  const draw = () => {
    for (const [name, values] of Object.entries(points)) {
      const svg = charts.querySelector(`svg[data-series=${name}]`);
      const label = charts.querySelector(`[data-value=${name}]`);
      svg.setAttribute("viewBox", "0 0 60 20");
      svg.setAttribute("preserveAspectRatio", "none");
      const top = Math.max(...values, 1e-9);
      let line = svg.querySelector("polyline");
      if (!line) { line = document.createElementNS("http://www.w3.org/2000/svg", "polyline"); svg.append(line); }
      line.setAttribute("vector-effect", "non-scaling-stroke");
      line.setAttribute("points", values.map((v, i) => `${i + 60 - values.length},${20 - (19 * v) / top}`).join(" "));
      if (values.length) label.textContent = human(values[values.length - 1], units[name]);
    }
  };
  const poll = async () => {
    try {
      const response = await fetch(charts.dataset.source, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const now = await response.json();
      if (last) {
        const seconds = Math.max(now.time - last.time, 0.001);
        const rate = (key) => Math.max(now[key] - last[key], 0) / seconds;
        const requests = Math.max(now.ttfbCount - last.ttfbCount, 0);
        const sample = {
          requests: rate("requests"), errors: rate("errors"), received: rate("received"), sent: rate("sent"),
          ttfb: requests ? (1000 * Math.max(now.ttfbSum - last.ttfbSum, 0)) / requests : 0,
        };
        for (const [name, value] of Object.entries(sample)) {
          points[name].push(value);
          if (points[name].length > 60) points[name].shift();
        }
        draw();
      }
      last = now;
    } catch (error) {
      for (const label of charts.querySelectorAll("[data-value]")) label.textContent = `unavailable: ${error.message}`;
    }
  };
  poll();
  window.setInterval(poll, 5000);
}

function setUpHeal() {
  const heal = document.getElementById("heal");
  if (!heal) return;
  const state = document.getElementById("heal-state");
  const counts = document.getElementById("heal-counts");
  const failures = document.getElementById("heal-failures");
  const poll = async () => {
    let job;
    try {
      const response = await fetch(heal.dataset.source, { credentials: "same-origin" });
      job = await response.json();
      if (!response.ok) throw new Error(job.error || `HTTP ${response.status}`);
    } catch (error) {
      state.textContent = `Cannot read the heal's progress: ${error.message}`;
      return;
    }
    const shown = job.summary || job.progress || {};
    counts.replaceChildren();
    for (const name of ["scanned", "healed", "failed", "bytes", "buckets"]) {
      if (shown[name] === undefined) continue;
      const term = document.createElement("dt"); term.textContent = name;
      const value = document.createElement("dd"); value.textContent = shown[name];
      counts.append(term, value);
    }
    failures.replaceChildren(...job.failures.map((f) => {
      const item = document.createElement("li"); item.textContent = `${f.bucket}/${f.key}: ${f.error}`; return item;
    }));
    state.textContent = job.done
      ? (job.error ? `Heal of ${job.target} stopped: ${job.error}` : `Heal of ${job.target} finished.`)
      : `Healing ${job.target}… ${shown.current || ""}`;
    heal.dataset.done = job.done ? "true" : "false";
    if (!job.done) window.setTimeout(poll, 1000);
  };
  poll();
}

setUpUploads();
setUpCharts();
setUpHeal();
