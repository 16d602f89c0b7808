// iclab explore: the page's logic. The server computes every number (GET /api/curves); this file only keeps the
// state, mirrors it in the URL, and draws with Plotly.js (served locally from the plotly package).
"use strict";

const PARAMS = {
  tau: {label: "τ", min: 0.01, max: 100},
  alpha: {label: "α", min: 0.1, max: 1000},
  kappa: {label: "κ", min: 0.01, max: 100, special: {value: Infinity, text: "κ = ∞ (a fresh task per context)"}},
  rho: {label: "ρ", min: 1e-4, max: 10},
  lam: {label: "λ", min: 1e-6, max: 10, special: {value: 0, text: "λ = 0 (ridgeless)"}},
};
const AXIS = {  // default x ranges; α and κ on log axes as in the papers
  tau: {range: [0.02, 3], log: false, title: "τ = n/d²"},
  alpha: {range: [0.1, 1000], log: true, title: "α = ℓ/d"},
  kappa: {range: [0.01, 100], log: true, title: "κ = k/d"},
};
const STEPS = 1000;  // slider positions; every slider is logarithmic between its min and max
const COLORS = {icl: "#0173b2", idg: "#de8f05", gtask: "#029e73", ref: "#555555", pin: "#cc78bc", sim: "#d55e00"};
const KEYS = ["x", "x_min", "x_max", "n", "tau", "alpha", "kappa", "rho", "lam", "train", "test", "dim"];
const TEXT_KEYS = new Set(["x", "train", "test"]);
const PIN_KEYS = [...Object.keys(PARAMS), "train", "test", "dim"];  // what a pinned curve keeps

let state = {x: "tau", x_min: 0.02, x_max: 3, n: 400, tau: 0.5, alpha: 10, kappa: 0.5, rho: 0.01, lam: 0,
  train: "iso", test: "iso", dim: 100};
let pins = [];        // saved parameter sets (objects with the keys of PARAMS)
let sims = [];        // simulation overlays: {label, x, mean, std}
let last = null;      // the last /api/curves answer
let logy = true;
const pinCache = new Map();
window.iclab = {latencies: [], parts: [], draws: 0, busy: false};  // parts: [fetch, draw] ms  // read by the browser test

const $ = (id) => document.getElementById(id);
const fmt = (v) => (v === Infinity ? "inf" : String(Number(v.toPrecision(6))));
const toPos = (p, v) => Math.round(STEPS * Math.log(v / p.min) / Math.log(p.max / p.min));
const fromPos = (p, pos) => Number((p.min * Math.pow(p.max / p.min, pos / STEPS)).toPrecision(4));

function query(view) {
  return KEYS.map((k) => `${k}=${encodeURIComponent(TEXT_KEYS.has(k) ? view[k] : fmt(view[k]))}`).join("&");
}

function readUrl() {
  const q = new URLSearchParams(location.search);
  for (const k of KEYS) {
    if (!q.has(k)) continue;
    state[k] = TEXT_KEYS.has(k) ? q.get(k) : (q.get(k) === "inf" ? Infinity : Number(q.get(k)));
  }
  pins = q.getAll("pin").map((s) => Object.fromEntries(s.split(";").map((kv) => {
    const i = kv.indexOf("=");
    const [k, v] = [kv.slice(0, i), kv.slice(i + 1)];
    return [k, TEXT_KEYS.has(k) ? v : (v === "inf" ? Infinity : Number(v))];
  })));
  if (q.has("logy")) logy = q.get("logy") === "1";
}

function writeUrl() {
  const pinText = pins.map((p) => "&pin=" + encodeURIComponent(PIN_KEYS.map((k) =>
    `${k}=${TEXT_KEYS.has(k) ? p[k] : fmt(p[k])}`).join(";")));
  history.replaceState(null, "", "?" + query(state) + pinText.join("") + `&logy=${logy ? 1 : 0}`);
}

function buildControls() {
  const box = $("params");
  for (const [name, p] of Object.entries(PARAMS)) {
    const row = document.createElement("div");
    row.className = "row";
    row.innerHTML = `<span>${p.label}</span><input id="s_${name}" type="range" min="0" max="${STEPS}">` +
      `<input id="v_${name}" type="number" step="any">`;
    box.appendChild(row);
    if (p.special) {
      const lab = document.createElement("label");
      lab.className = "check";
      lab.innerHTML = `<input id="c_${name}" type="checkbox"> ${p.special.text}`;
      box.appendChild(lab);
      $(`c_${name}`).addEventListener("change", (ev) => {
        state[name] = ev.target.checked ? p.special.value : fromPos(p, Number($(`s_${name}`).value));
        syncControls();
        schedule(ev.timeStamp);
      });
    }
    $(`s_${name}`).addEventListener("input", (ev) => {
      state[name] = fromPos(p, Number(ev.target.value));
      syncControls();
      schedule(ev.timeStamp);
    });
    $(`v_${name}`).addEventListener("change", (ev) => {
      const v = Number(ev.target.value);
      if (!(v >= 0)) return showError(`${name} must be a number >= 0 (got ${ev.target.value})`);
      state[name] = v;
      syncControls();
      schedule(ev.timeStamp);
    });
  }
  document.querySelectorAll("input[name=x]").forEach((el) => el.addEventListener("change", (ev) => {
    state.x = ev.target.value;
    if (!isFinite(state[state.x]) || state[state.x] <= 0) state[state.x] = 1;  // an axis variable is never ∞ or 0
    [state.x_min, state.x_max] = AXIS[state.x].range;
    sims = [];  // a simulation belongs to its axis
    syncControls();
    schedule(ev.timeStamp);
  }));
  for (const k of ["x_min", "x_max"]) {
    $(k).addEventListener("change", (ev) => {
      state[k] = Number(ev.target.value);
      schedule(ev.timeStamp);
    });
  }
  $("logy").addEventListener("change", (ev) => { logy = ev.target.checked; schedule(ev.timeStamp); });
  for (const k of ["train", "test", "dim"]) {
    $(k).addEventListener("change", (ev) => {
      state[k] = k === "dim" ? Number(ev.target.value) : ev.target.value.trim();
      schedule(ev.timeStamp);
    });
  }
  $("pin").addEventListener("click", (ev) => {
    pins.push(Object.fromEntries(PIN_KEYS.map((k) => [k, state[k]])));
    schedule(ev.timeStamp);
  });
  $("unpin").addEventListener("click", (ev) => { pins = []; schedule(ev.timeStamp); });
  $("png").addEventListener("click", () => Plotly.downloadImage($("plot"),
    {format: "png", width: 1500, height: 620, filename: "iclab-explore"}));
  $("csv").addEventListener("click", downloadCsv);
  $("copy").addEventListener("click", () => navigator.clipboard.writeText(last ? last.command : ""));
  $("simulate").addEventListener("click", simulate);
}

function syncControls() {
  document.querySelector(`input[name=x][value=${state.x}]`).checked = true;
  $("x_min").value = fmt(state.x_min);
  $("x_max").value = fmt(state.x_max);
  $("logy").checked = logy;
  for (const k of ["train", "test", "dim"]) $(k).value = state[k];
  for (const [name, p] of Object.entries(PARAMS)) {
    const onAxis = name === state.x;
    const special = p.special && state[name] === p.special.value && !onAxis;
    if (p.special) {
      $(`c_${name}`).checked = special && !onAxis;
      $(`c_${name}`).disabled = onAxis;
    }
    if (!special) $(`s_${name}`).value = toPos(p, state[name]);
    $(`s_${name}`).disabled = special || onAxis;
    $(`v_${name}`).disabled = special || onAxis;
    $(`v_${name}`).value = onAxis ? "" : (special ? "" : fmt(state[name]));
    $(`v_${name}`).placeholder = onAxis ? "x axis" : (special ? fmt(p.special.value) : "");
  }
}

async function getJson(url, options) {
  const r = await fetch(url, options);
  const doc = await r.json();
  if (!r.ok) throw new Error(doc.error || r.statusText);
  return doc;
}

// One request in flight at a time; slider moves during it coalesce into one more (the latest state).
let inflight = false;
let pending = null;
function schedule(t0) {
  pending = {t0: t0 || performance.now()};
  if (!inflight) pump();
}
async function pump() {
  inflight = true;
  window.iclab.busy = true;
  while (pending) {
    const job = pending;
    pending = null;
    try {
      const view = {...state};
      const t1 = performance.now();
      last = await getJson("/api/curves?" + query(view));
      const pinned = await Promise.all(pins.map((p) => pinCurves(p, view)));
      const t2 = performance.now();
      await draw(pinned);
      window.iclab.parts.push([t2 - t1, performance.now() - t2]);
      writeUrl();
      window.iclab.latencies.push(performance.now() - job.t0);
      window.iclab.draws += 1;
      showError("");
    } catch (e) {
      showError(e.message);
    }
  }
  inflight = false;
  window.iclab.busy = false;
}

function pinCurves(pin, view) {
  const q = query({...view, ...pin});
  if (!pinCache.has(q)) pinCache.set(q, getJson("/api/curves?" + q));
  return pinCache.get(q);
}

function showError(msg) {
  $("error").textContent = msg;
}

function describe(p, skip = []) {
  return Object.entries(PARAMS).filter(([k]) => k !== state.x && !skip.includes(k)).map(([k, d]) => `${d.label} = ${fmt(p[k])}`)
    .join(", ");
}

function yExtent(arrays, log) {
  const vals = arrays.flat().filter((v) => v !== null && isFinite(v) && (!log || v > 0));
  return vals.length ? [Math.min(...vals), Math.max(...vals)] : [0, 1];
}

function draw(pinned) {
  const panels = [["e_icl", "y", "x", COLORS.icl, "e_ICL"], ["e_idg", "y2", "x2", COLORS.idg, "e_IDG"],
    ["g_task", "y3", "x3", COLORS.gtask, "g_task = e_ICL − e_IDG"]];
  const traces = [];
  const hover = (name) => `${name}<br>${state.x} = %{x:.6g}<br>value = %{y:.8g}<extra></extra>`;
  const tasks = last.structured ? `, train ${state.train}, test ${state.test} (d = ${state.dim} spectra)` : "";
  for (const [key, yaxis, xaxis, color, name] of panels) {
    traces.push({x: last.x, y: last[key], xaxis, yaxis, mode: "lines", line: {color, width: 2.5},
      name: `${name}, theory (d → ∞)${tasks}`, hovertemplate: hover(name)});
  }
  if (!last.structured) traces.push({x: last.x, y: last.bayes, xaxis: "x", yaxis: "y", mode: "lines",
    line: {color: COLORS.ref, dash: "dash"}, name: "Bayes-optimal ridge, e_ICL (§6.2)",
    hovertemplate: hover("Bayes ridge")});
  if (!last.structured) traces.push({x: last.x, y: last.gd, xaxis: "x", yaxis: "y", mode: "lines",
    line: {color: COLORS.ref, dash: "dot"}, name: "one-step GD at optimal η, e_ICL (§5.6)",
    hovertemplate: hover("one-step GD")});
  pinned.forEach((c, i) => panels.forEach(([key, yaxis, xaxis], j) => traces.push({x: c.x, y: c[key], xaxis,
    yaxis, mode: "lines", line: {color: COLORS.pin, dash: ["dash", "dashdot", "longdash", "dot"][i % 4]},
    legendgroup: `pin${i}`, showlegend: j === 0, name: `pin ${i + 1}: ${describe(pins[i])}`,
    hovertemplate: hover(`pin ${i + 1}`)})));
  sims.forEach((s, i) => panels.forEach(([key, yaxis, xaxis], j) => traces.push({x: s.x, y: s.mean[key], xaxis,
    yaxis, mode: "markers", marker: {color: COLORS.sim, size: 8, symbol: ["circle", "square", "diamond"][i % 3]},
    error_y: {type: "data", array: s.std[key], visible: true}, legendgroup: `sim${i}`, showlegend: j === 0,
    name: s.label, hovertemplate: hover(s.label)})));
  const threshold = {tau: "τ = 1 (interpolation threshold n = d²)", kappa: "κ = 1 (task-diversity transition)"};
  if (threshold[state.x] && state.x_min < 1 && state.x_max > 1) {
    panels.forEach(([key, yaxis, xaxis], j) => {
      const ext = yExtent(traces.filter((t) => t.yaxis === yaxis).map((t) => t.y), logy && j < 2);
      traces.push({x: [1, 1], y: ext, xaxis, yaxis, mode: "lines", line: {color: "#999", width: 1, dash: "dot"},
        legendgroup: "threshold", showlegend: j === 0, name: threshold[state.x], hoverinfo: "skip"});
    });
  }
  const astar = last.structured ? "shown for isotropic tasks only" : last.alpha_star === null ? "e_ICL is monotone in α here (no finite α*)" :
    `α* = ${last.alpha_star.toPrecision(6)} (e_ICL there: ${last.e_star.toPrecision(6)})`;
  $("astar").textContent = `Optimal context length at ${describe(state, ["alpha"])}: ${astar}.`;
  if (state.x === "alpha" && last.alpha_star !== null) {
    traces.push({x: [last.alpha_star], y: [last.e_star], xaxis: "x", yaxis: "y", mode: "markers",
      marker: {symbol: "star", size: 14, color: "#000"}, name: `α* = ${last.alpha_star.toPrecision(4)}`,
      hovertemplate: `α* = %{x:.8g}<br>e* = %{y:.8g}<extra></extra>`});
  }
  $("command").textContent = last.command;
  const xaxis = (domain, anchor) => ({domain, anchor, type: AXIS[state.x].log ? "log" : "linear",
    title: {text: AXIS[state.x].title}});
  const yaxis = (anchor, log, title) => ({anchor, type: log ? "log" : "linear", title: {text: title}});
  const layout = {
    margin: {t: 60, l: 60, r: 20, b: 40}, hovermode: "closest",
    title: {text: `asymptotic theory (d → ∞) at ${describe(state)}`, font: {size: 14}},
    xaxis: xaxis([0, 0.29], "y"), xaxis2: xaxis([0.355, 0.645], "y2"), xaxis3: xaxis([0.71, 1], "y3"),
    yaxis: yaxis("x", logy, "ICL error e_ICL"), yaxis2: yaxis("x2", logy, "IDG error e_IDG"),
    yaxis3: yaxis("x3", false, "task-generalisation gap g_task"),
    legend: {orientation: "h", y: -0.18, font: {size: 12}},
  };
  return Plotly.react($("plot"), traces, layout, {displaylogo: false, responsive: true});
}

function downloadCsv() {
  if (!last) return;
  const cols = ["x", "e_icl", "e_idg", "g_task", "bayes", "gd"];
  const lines = [`# ${last.command}`, `# x = ${state.x}`, cols.join(",")];
  last.x.forEach((_, i) => lines.push(cols.map((c) => (last[c][i] === null ? "" : last[c][i])).join(",")));
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], {type: "text/csv"}));
  a.download = "iclab-explore.csv";
  a.click();
}

async function simulate() {
  const d = Number($("sim_d").value), runs = Number($("sim_runs").value);
  const bar = $("sim_progress");
  try {
    const job = await getJson("/api/simulate", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({view: Object.fromEntries(KEYS.map((k) => [k, TEXT_KEYS.has(k) ? state[k] :
        fmt(state[k])])), d, runs})});
    bar.hidden = false;
    const overlay = {label: "", x: [], mean: {}, std: {}};
    sims.push(overlay);
    const at = describe(state);
    for (;;) {
      const s = await getJson(`/api/jobs/${job.job}`);
      bar.value = s.done / s.total;
      $("sim_status").textContent = `${s.done} of ${s.total} runs done`;
      Object.assign(overlay, {label: `${s.label} at ${at}`, x: s.x, mean: s.mean, std: s.std});
      schedule();
      if (s.error) throw new Error(s.error);
      if (s.finished) break;
      await new Promise((r) => setTimeout(r, 400));
    }
    bar.hidden = true;
  } catch (e) {
    bar.hidden = true;
    showError(e.message);
  }
}

readUrl();
buildControls();
syncControls();
schedule();
