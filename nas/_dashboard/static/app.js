// The dashboard's pages: studies (with compare), a study, a trial. Hash routes, no framework.
// Data from the database is user data: it only ever reaches the page through textContent or
// attribute values set with setAttribute, never as markup.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");
const app = document.getElementById("app");
const tip = document.getElementById("tooltip");
const PAGE_SIZE = 50;
let stopPage = () => {};

async function api(path) {
  const response = await fetch(path, {headers: TOKEN ? {"X-NAS-Token": TOKEN} : {}});
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function withToken(path) {
  if (!TOKEN) return path;
  return path + (path.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN);
}

// el("td", {class: "num"}, "text", childNode, ...): children that are strings become text.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

const studyHref = (name) => "#/study/" + encodeURIComponent(name);
const trialHref = (id) => "#/trial/" + Number(id);
const fmt = (v) => (typeof v === "number" ? Plot.fmt(v) : v === null || v === undefined ? "" : String(v));
const when = (iso) => (iso ? iso.replace("T", " ").replace(/\.\d+Z$/, "Z") : "");
const whenMs = (ms) => (ms === null || ms === undefined ? "" : when(new Date(ms).toISOString()));

// replaceChildren that skips the sections a page leaves out (null).
function show(...nodes) { app.replaceChildren(...nodes.filter((n) => n)); }

function showError(err) {
  app.replaceChildren(el("p", {class: "error"}, String(err.message || err)));
}

// -- studies ---------------------------------------------------------------------------------

async function studiesPage() {
  const data = await api("/api/studies");
  document.getElementById("storage").textContent = data.storage;
  const chosen = new Set();
  const compare = el("button", {disabled: true, id: "compare", onclick: () => {
    location.hash = "#/compare/" + [...chosen].map(encodeURIComponent).join(",");
  }}, "Compare selected");
  const rows = data.studies.map((s) => el("tr", {"data-study": s.name},
    el("td", {}, el("input", {type: "checkbox", onchange: (ev) => {
      ev.target.checked ? chosen.add(s.name) : chosen.delete(s.name);
      compare.disabled = chosen.size < 1;
    }})),
    el("td", {}, el("a", {href: studyHref(s.name), class: "study-link"}, s.name)),
    el("td", {}, Object.entries(s.objectives).map(([k, d]) => `${k} (${d})`).join(", ")),
    el("td", {}, s.constraints.map((c) => `${c.metric} ${c.op} ${c.bound}`).join(", ")),
    el("td", {class: "num"}, s.trials),
    ...["COMPLETE", "RUNNING", "QUEUED", "PRUNED", "FAILED"].map((k) =>
      el("td", {class: "num"}, s.counts[k] || "")),
    el("td", {}, ...Object.entries(s.best).map(([k, b]) =>
      el("div", {}, `${k} ${fmt(b.value)} `, el("a", {href: trialHref(b.id)}, `#${b.trial}`)))),
    el("td", {}, s.searcher || ""),
    el("td", {class: "muted"}, when(s.created))));
  app.replaceChildren(
    el("h2", {}, "Studies"),
    el("section", {},
      el("div", {class: "controls"}, compare,
         el("span", {class: "muted"}, "select several to overlay their histories and fronts")),
      el("table", {id: "studies"},
        el("thead", {}, el("tr", {}, ...["", "name", "objectives", "constraints", "trials",
          "complete", "running", "queued", "pruned", "failed", "best (feasible)", "searcher",
          "created"].map((h) => el("th", {}, h)))),
        el("tbody", {}, ...rows)),
      data.studies.length ? null : el("p", {class: "muted"}, "No studies yet.")));
}

// -- study data kept live --------------------------------------------------------------------

// The API sends trials as columns (cheap for 20,000 of them): states and workers as codes into
// their own lists, finish times as epoch milliseconds. The pages use one object per trial.
function rows(columns) {
  const out = [];
  const names = Object.keys(columns.metrics);
  const {states, workers, state, worker, finished, ok} = columns;
  for (let i = 0; i < columns.id.length; i++) {
    const m = {};
    for (const k of names) { const v = columns.metrics[k][i]; if (v !== null) m[k] = v; }
    out.push({id: columns.id[i], n: columns.number[i], s: states[state[i]],
              w: worker[i] === null ? null : workers[worker[i]], t1: finished[i], m, ok: ok[i] === 1});
  }
  return out;
}

class LiveStudy {
  constructor(name, onChange) {
    this.name = name;
    this.onChange = onChange;
    this.trials = new Map();
    this.metricNames = new Set();
    this.timer = null;
    this.stopped = false;
  }
  async load() {
    const data = await api(`/api/studies/${encodeURIComponent(this.name)}`);
    this.info = data.study;
    this.cursor = data.cursor;
    for (const k of Object.keys(data.trials.metrics)) this.metricNames.add(k);
    for (const t of rows(data.trials)) this.trials.set(t.id, t);
    return this;
  }
  // Poll less often as the study grows: a 20,000-trial study is refreshed every 5 s.
  interval() { return Math.min(10000, 1000 + this.trials.size / 5); }
  start() {
    const tick = async () => {
      if (this.stopped) return;
      try {
        const q = `/api/studies/${encodeURIComponent(this.name)}/changes?since=` +
          encodeURIComponent(this.cursor);
        const data = await api(q);
        if (this.stopped) return;  // the page was left while the poll was on its way
        this.cursor = data.cursor;
        for (const k of Object.keys(data.trials.metrics)) this.metricNames.add(k);
        let changed = false;
        for (const t of rows(data.trials)) {
          const old = this.trials.get(t.id);
          if (!old || old.s !== t.s || Object.keys(old.m).length !== Object.keys(t.m).length) {
            changed = true;
          }
          this.trials.set(t.id, t);
        }
        document.getElementById("live").textContent =
          `live · ${this.trials.size} trials · every ${(this.interval() / 1000).toFixed(1)} s`;
        if (changed) this.onChange();
      } catch (err) {
        document.getElementById("live").textContent = "refresh failed: " + err.message;
      }
      if (!this.stopped) this.timer = setTimeout(tick, this.interval());
    };
    this.timer = setTimeout(tick, this.interval());
  }
  stop() { this.stopped = true; clearTimeout(this.timer); }
  sorted() { return [...this.trials.values()].sort((a, b) => a.n - b.n); }
}

function isBetter(dir, a, b) { return dir === "max" ? a > b : a < b; }

function bestSoFar(trials, name, dir, byTime) {
  const done = trials.filter((t) => t.s === "COMPLETE" && t.ok && name in t.m);
  if (byTime) done.sort((a, b) => a.t1 - b.t1);
  // Only the trials that improved, and the last one: the step line is the same, and a
  // 20,000-trial history stays a path of a few dozen steps.
  const points = [];
  let best = null;
  for (const t of done) {
    const v = t.m[name];
    if (best === null || isBetter(dir, v, best)) {
      best = v;
      points.push([byTime ? t.t1 : t.n, best]);
    }
  }
  const last = done[done.length - 1];
  if (last && points[points.length - 1][0] !== (byTime ? last.t1 : last.n)) {
    points.push([byTime ? last.t1 : last.n, best]);
  }
  return points;
}

// Non-dominated among the given points in two directions (a sweep after sorting on x).
function front2(points, dx, dy) {
  const sx = dx === "max" ? -1 : 1, sy = dy === "max" ? -1 : 1;
  const order = [...points].sort((a, b) => sx * (a.x - b.x) || sy * (a.y - b.y));
  const out = [];
  let bestY = Infinity;
  for (const p of order) {
    if (sy * p.y < bestY) { out.push(p); bestY = sy * p.y; }
  }
  return out;
}

function describeArch(arch) {
  if (!arch || typeof arch !== "object") return "";
  if (arch.family === "transformer" && Array.isArray(arch.layers)) {
    return arch.layers.map((l, i) => {
      const mix = l.mixer && l.mixer.type === "heads"
        ? l.mixer.heads.map((h) => h.type).join("+") : (l.mixer && l.mixer.type);
      return `layer ${i}: width ${l.width}, ${mix}, ffn ${JSON.stringify(l.ffn)}`;
    }).join("\n");
  }
  return Object.entries(arch).slice(0, 8).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join("\n");
}

const archCache = new Map();
function hoverTrial(live, objectives) {
  let current = null;
  const place = (ev) => {
    tip.style.left = Math.min(ev.clientX + 14, window.innerWidth - 430) + "px";
    tip.style.top = (ev.clientY + 14) + "px";
  };
  return {
    onHover(p, ev) {
      const t = live.trials.get(p.id);
      current = p.id;
      const lines = [`trial ${t.n} (id ${t.id}) · ${t.s}${t.ok ? "" : " · infeasible"}`,
        ...Object.entries(t.m).map(([k, v]) => `${k}: ${fmt(v)}`)];
      tip.textContent = lines.join("\n");
      tip.hidden = false;
      place(ev);
      const show = (arch) => { if (current === p.id) tip.textContent = lines.join("\n") + "\n" + describeArch(arch); };
      if (archCache.has(p.id)) show(archCache.get(p.id));
      else api(`/api/trials/${p.id}`).then((d) => { archCache.set(p.id, d.trial.arch); show(d.trial.arch); }).catch(() => {});
    },
    onMove(p, ev) { place(ev); },
    onLeave() { current = null; tip.hidden = true; },
    onClick(p) { tip.hidden = true; location.hash = trialHref(p.id); },
  };
}

function paretoPoints(trials, x, y, constraints) {
  const points = [];
  for (const t of trials) {
    if (t.s !== "COMPLETE" || !(x in t.m) || !(y in t.m)) continue;
    points.push({x: t.m[x], y: t.m[y], id: t.id, ok: t.ok, cls: t.ok ? "feasible" : "infeasible"});
  }
  return points;
}

// -- study page ------------------------------------------------------------------------------

async function studyPage(name) {
  const parts = {};
  const live = new LiveStudy(name, () => redraw());
  await live.load();
  const info = live.info;
  const objectives = Object.entries(info.objectives);
  const state = {byTime: false, px: objectives[0] && objectives[0][0],
                 py: objectives[1] ? objectives[1][0] : null,
                 sort: "n", desc: false, page: 0, filter: "", stateFilter: "", matched: null};

  const countsLine = el("span", {id: "counts"});
  const head = el("section", {},
    el("h2", {id: "study-name"}, info.name),
    el("div", {}, `objectives: ${objectives.map(([k, d]) => `${k} (${d})`).join(", ")}`),
    el("div", {}, "constraints: " + (info.constraints.map((c) => `${c.metric} ${c.op} ${c.bound}`).join(", ") || "none")),
    el("div", {}, `searcher: ${info.searcher || "?"} · created ${when(info.created)} · `, countsLine));

  // History
  parts.history = el("div", {class: "charts", id: "history"});
  const axisSelect = el("select", {id: "history-x", onchange: (ev) => { state.byTime = ev.target.value === "time"; drawHistory(); }},
    el("option", {value: "number"}, "x: trial number"), el("option", {value: "time"}, "x: finish time"));
  const history = el("section", {}, el("h3", {}, "Best so far (feasible trials)"),
    el("div", {class: "controls"}, axisSelect), parts.history);

  // Pareto
  parts.pareto = el("div", {id: "pareto"});
  parts.parallel = el("div", {id: "parallel"});
  const names = objectives.map(([k]) => k);
  const pick = (key) => el("select", {id: `pareto-${key}`, onchange: (ev) => { state[key] = ev.target.value; drawPareto(); }},
    ...names.map((k) => el("option", {value: k, selected: state[key] === k}, k)));
  const pareto = objectives.length >= 2 ? el("section", {}, el("h3", {}, "Pareto front"),
    el("div", {class: "controls"}, names.length > 2 ? el("span", {}, "pair:") : null,
       names.length > 2 ? pick("px") : null, names.length > 2 ? pick("py") : null,
       el("span", {class: "legend"},
         el("span", {}, el("i", {class: "swatch", "data-legend": "front"}), "front of this pair"),
         el("span", {}, el("i", {class: "swatch", "data-legend": "feasible"}), "feasible"),
         el("span", {}, el("i", {class: "swatch", "data-legend": "infeasible"}), "infeasible"),
         el("span", {class: "muted"}, "hover: trial; click: open it"))),
    parts.pareto, names.length > 2 ? el("h3", {}, "Parallel coordinates") : null, parts.parallel) : null;

  // Curves
  parts.curves = el("div", {class: "charts", id: "curves"});
  const curves = el("section", {}, el("h3", {}, "Intermediate values (complete and pruned trials)"), parts.curves);

  // Table
  parts.table = el("div", {id: "trial-table"});
  const whereInput = el("input", {type: "text", id: "where", placeholder: "where, e.g. latency_ms < 5 and params <= 1e6"});
  const whereError = el("span", {class: "error", id: "where-error"});
  const csv = el("a", {id: "csv"}, "CSV");
  const stateSelect = el("select", {id: "state-filter", onchange: (ev) => { state.stateFilter = ev.target.value; state.page = 0; drawTable(); }},
    el("option", {value: ""}, "all states"),
    ...["COMPLETE", "RUNNING", "QUEUED", "PRUNED", "FAILED"].map((s) => el("option", {value: s}, s)));
  const applyWhere = async () => {
    state.filter = whereInput.value.trim();
    whereError.textContent = "";
    state.matched = null;
    if (state.filter) {
      try {
        const q = `/api/studies/${encodeURIComponent(name)}/match?where=${encodeURIComponent(state.filter)}`;
        state.matched = new Set((await api(q)).ids);
      } catch (err) { whereError.textContent = err.message; }
    }
    state.page = 0;
    drawTable();
  };
  const table = el("section", {}, el("h3", {}, "Trials"),
    el("div", {class: "controls"}, stateSelect, whereInput,
       el("button", {id: "apply-where", onclick: applyWhere}, "Filter"), csv, whereError),
    parts.table);
  whereInput.addEventListener("keydown", (ev) => { if (ev.key === "Enter") applyWhere(); });

  show(head, history, pareto, curves, table);

  function drawCounts() {
    const counts = {};
    for (const t of live.trials.values()) counts[t.s] = (counts[t.s] || 0) + 1;
    countsLine.textContent = ["COMPLETE", "RUNNING", "QUEUED", "PRUNED", "FAILED"]
      .filter((k) => counts[k]).map((k) => [k, counts[k]])
      .map(([k, n]) => `${n} ${k.toLowerCase()}`).join(", ") || "no trials";
  }

  function drawHistory() {
    parts.history.replaceChildren();
    const trials = live.sorted();
    for (const [k, d] of objectives) {
      const box = el("div", {class: "chart", "data-objective": k});
      Plot.lines(box, {series: [{name: k, points: bestSoFar(trials, k, d, state.byTime)}],
        xLabel: state.byTime ? "finish time (UTC)" : "trial", yLabel: `best ${k} (${d})`,
        xTime: state.byTime, width: 420, height: 240});
      parts.history.append(box);
    }
  }

  function drawPareto() {
    if (!pareto) return;
    const dirs = info.objectives;
    const points = paretoPoints(live.trials.values(), state.px, state.py, info.constraints);
    const front = front2(points.filter((p) => p.ok), dirs[state.px], dirs[state.py]);
    for (const p of front) p.cls = "feasible front";
    parts.pareto.replaceChildren();
    Plot.scatter(parts.pareto, {points, frontLine: front, xLabel: `${state.px} (${dirs[state.px]})`,
      yLabel: `${state.py} (${dirs[state.py]})`, width: 640, height: 400, ...hoverTrial(live)});
    if (names.length > 2) {
      const frontIds = new Set(front.map((p) => p.id));
      const rows = [];
      for (const t of live.trials.values()) {
        if (t.s !== "COMPLETE" || !names.every((k) => k in t.m)) continue;
        rows.push({values: names.map((k) => t.m[k]), id: t.id,
                   cls: frontIds.has(t.id) ? "front" : t.ok ? "feasible" : "infeasible"});
      }
      parts.parallel.replaceChildren();
      Plot.parallel(parts.parallel, {axes: objectives.map(([k, d]) => ({name: k, dir: d})), rows,
        onClick: (id) => { location.hash = trialHref(id); }});
    }
  }

  async function drawCurves() {
    const data = await api(`/api/studies/${encodeURIComponent(name)}/curves`);
    const byMetric = {};
    for (const [id, metrics] of Object.entries(data.curves)) {
      const t = live.trials.get(Number(id));
      if (!t || (t.s !== "COMPLETE" && t.s !== "PRUNED")) continue;
      for (const [m, pts] of Object.entries(metrics)) {
        (byMetric[m] = byMetric[m] || []).push({name: `trial ${t.n}`, cls: "curve " + t.s, color: t.s === "PRUNED" ? "#e69f00" : "#1f77b4", points: pts});
      }
    }
    parts.curves.replaceChildren();
    const found = Object.entries(byMetric);
    if (!found.length) parts.curves.append(el("p", {class: "muted"}, "No trial reported intermediate values."));
    for (const [m, series] of found) {
      const box = el("div", {class: "chart"});
      Plot.lines(box, {series, step: false, xLabel: "step", yLabel: m, width: 420, height: 240});
      parts.curves.append(box);
    }
  }

  function drawTable() {
    const metricNames = [...new Set([...names, ...[...live.metricNames].sort()])];
    let rows = live.sorted();
    if (state.stateFilter) rows = rows.filter((t) => t.s === state.stateFilter);
    if (state.matched) rows = rows.filter((t) => state.matched.has(t.id));
    const key = state.sort;
    const value = (t) => (key === "n" ? t.n : key === "s" ? t.s : key === "t1" ? t.t1 :
      key === "w" ? (t.w || "") : (key in t.m ? t.m[key] : null));
    rows.sort((a, b) => {
      const va = value(a), vb = value(b);
      if (va === null && vb === null) return a.n - b.n;
      if (va === null) return 1;
      if (vb === null) return -1;
      const c = va < vb ? -1 : va > vb ? 1 : a.n - b.n;
      return state.desc ? -c : c;
    });
    const pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    const shown = rows.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE);
    const header = (k, label) => el("th", {class: "sortable", "data-sort": k, onclick: () => {
      state.desc = state.sort === k ? !state.desc : false; state.sort = k; drawTable();
    }}, label + (state.sort === k ? (state.desc ? " ▼" : " ▲") : ""));
    const params = new URLSearchParams();
    if (state.stateFilter) params.set("state", state.stateFilter);
    if (state.filter) params.set("where", state.filter);
    csv.setAttribute("href", withToken(`/api/studies/${encodeURIComponent(name)}/trials.csv` +
      (params.toString() ? "?" + params : "")));
    parts.table.replaceChildren(
      el("table", {id: "trials"},
        el("thead", {}, el("tr", {}, header("n", "trial"), header("s", "state"),
          ...metricNames.map((m) => header(m, m)), header("t1", "finished"), header("w", "worker"),
          el("th", {}, "feasible"))),
        el("tbody", {}, ...shown.map((t) => el("tr", {"data-trial": t.id},
          el("td", {}, el("a", {href: trialHref(t.id)}, t.n)),
          el("td", {}, el("span", {class: "state " + t.s}, t.s)),
          ...metricNames.map((m) => el("td", {class: "num"}, fmt(t.m[m]))),
          el("td", {class: "muted"}, whenMs(t.t1)), el("td", {}, t.w || ""),
          el("td", {}, t.s === "COMPLETE" ? (t.ok ? "yes" : "no") : ""))))),
      el("div", {class: "controls"},
        el("button", {id: "prev", disabled: state.page === 0, onclick: () => { state.page--; drawTable(); }}, "‹ prev"),
        el("span", {id: "page"}, `page ${state.page + 1} of ${pages} · ${rows.length} trials`),
        el("button", {id: "next", disabled: state.page >= pages - 1, onclick: () => { state.page++; drawTable(); }}, "next ›")));
  }

  let pending = null, curveTicks = 0;
  function redraw() {
    // Changes arrive in bursts: draw once per animation frame at most.
    if (pending) return;
    pending = requestAnimationFrame(() => {
      pending = null;
      drawCounts(); drawHistory(); drawPareto(); drawTable();
      if (++curveTicks % 5 === 0) drawCurves().catch(() => {});
    });
  }
  drawCounts(); drawHistory(); drawPareto(); drawTable();
  drawCurves().catch(showError);
  live.start();
  document.body.setAttribute("data-ready", "study");
  return () => live.stop();
}

// -- trial page ------------------------------------------------------------------------------

function kvTable(pairs, id) {
  return el("table", {class: "kv", id}, el("tbody", {}, ...pairs.map(([k, v]) =>
    el("tr", {}, el("td", {}, k), el("td", {class: typeof v === "number" ? "num" : ""}, fmt(v))))));
}

async function trialPage(id) {
  const data = await api(`/api/trials/${id}`);
  const t = data.trial, info = data.study;
  const secs = t.started && t.finished ? (Date.parse(t.finished) - Date.parse(t.started)) / 1000 : null;
  const archBox = el("div", {id: "arch-graph"});
  const legend = el("div", {class: "legend", id: "arch-legend"});
  const costs = el("div", {id: "costs"}, el("p", {class: "muted"}, "Predicting…"));
  const layers = t.arch && t.arch.family === "transformer" ? el("table", {id: "layers"},
    el("thead", {}, el("tr", {}, ...["layer", "width", "mixer", "heads", "ffn", "activation", "norm"].map((h) => el("th", {}, h)))),
    el("tbody", {}, ...t.arch.layers.map((l, i) => el("tr", {},
      el("td", {}, i), el("td", {class: "num"}, l.width), el("td", {}, l.mixer.type),
      el("td", {}, l.mixer.type === "heads" ? l.mixer.heads.map((h) => `${h.type}/${h.head_dim}`).join(", ") : ""),
      el("td", {}, JSON.stringify(l.ffn)), el("td", {}, l.activation), el("td", {}, l.norm))))) : null;
  show(
    el("section", {},
      el("h2", {id: "trial-title"}, `Trial ${t.trial} of `, el("a", {href: studyHref(t.study)}, t.study)),
      el("div", {}, el("span", {class: "state " + t.state, id: "trial-state"}, t.state),
         t.state === "COMPLETE" ? ` · ${data.feasible ? "feasible" : "infeasible"}` : "",
         " · ", el("a", {id: "download", href: withToken(`/api/trials/${t.id}/download`)}, "download JSON"))),
    el("section", {}, el("h3", {}, "Metrics"), kvTable(Object.entries(t.metrics), "metrics")),
    t.error ? el("section", {}, el("h3", {}, "Error"), el("pre", {class: "error", id: "trial-error"}, t.error)) : null,
    el("section", {}, el("h3", {}, "Run"), kvTable([["id", t.id], ["architecture id", t.arch_id],
      ["searcher", t.searcher], ["worker", t.worker], ["node", t.node], ["started", when(t.started)],
      ["finished", when(t.finished)], ["seconds", secs], ["retries", t.retries]], "run")),
    el("section", {}, el("h3", {}, "Architecture"), legend, archBox, layers,
       el("details", {}, el("summary", {}, "to_dict()"), el("pre", {}, JSON.stringify(t.arch, null, 2)))),
    el("section", {}, el("h3", {}, "Predicted costs per device"), costs));
  if (data.graph.error) archBox.append(el("p", {class: "error"}, data.graph.error));
  else {
    const {kinds} = Plot.graph(archBox, data.graph);
    legend.replaceChildren(...kinds.map((k) => {
      const sw = el("i", {class: "swatch"});
      sw.style.background = Plot.kindColor(k, kinds);
      return el("span", {}, sw, k);
    }));
  }
  document.body.setAttribute("data-ready", "trial");
  api(`/api/trials/${t.id}/costs`).then((c) => {
    const metricNames = [...new Set(c.costs.flatMap((d) => Object.keys(d.costs || {})))];
    costs.replaceChildren(el("table", {id: "cost-table"},
      el("thead", {}, el("tr", {}, el("th", {}, "device"), ...metricNames.map((m) => el("th", {}, m)))),
      el("tbody", {}, ...c.costs.map((d) => el("tr", {},
        el("td", {}, d.device),
        ...(d.error ? [el("td", {class: "muted", colspan: Math.max(1, metricNames.length)}, d.error)]
          : metricNames.map((m) => el("td", {class: "num"}, fmt(d.costs[m])))))))));
  }).catch((err) => { costs.replaceChildren(el("p", {class: "error"}, err.message)); });
  void info;
  return () => {};
}

// -- compare ---------------------------------------------------------------------------------

async function comparePage(names) {
  const studies = await Promise.all(names.map((n) => new LiveStudy(n, () => {}).load()));
  const first = Object.entries(studies[0].info.objectives);
  const hist = el("div", {class: "charts", id: "compare-history"});
  const fronts = el("div", {id: "compare-front"});
  const legend = el("div", {class: "legend"}, ...studies.map((s, i) => {
    const sw = el("i", {class: "swatch"});
    sw.style.background = Plot.PALETTE[i % Plot.PALETTE.length];
    return el("span", {}, sw, s.name);
  }));
  app.replaceChildren(el("h2", {}, "Compare studies"), legend,
    el("section", {}, el("h3", {}, "Best so far"), hist),
    el("section", {}, el("h3", {}, "Fronts"), fronts));
  for (const [k, d] of first) {
    const box = el("div", {class: "chart"});
    Plot.lines(box, {series: studies.map((s, i) => ({name: s.name, color: Plot.PALETTE[i % 10],
      points: bestSoFar(s.sorted(), k, d, false)})), xLabel: "trial", yLabel: `best ${k} (${d})`,
      width: 460, height: 260});
    hist.append(box);
  }
  if (first.length >= 2) {
    const [[x, dx], [y, dy]] = first;
    const points = [];
    studies.forEach((s, i) => {
      const own = paretoPoints(s.trials.values(), x, y).filter((p) => p.ok);
      for (const p of front2(own, dx, dy)) points.push({...p, cls: "feasible front study-" + i, color: Plot.PALETTE[i % 10]});
    });
    const hover = {
      onHover(p, ev) { tip.textContent = `trial id ${p.id}\n${x}: ${fmt(p.x)}\n${y}: ${fmt(p.y)}`; tip.hidden = false; tip.style.left = ev.clientX + 14 + "px"; tip.style.top = ev.clientY + 14 + "px"; },
      onLeave() { tip.hidden = true; },
      onClick(p) { tip.hidden = true; location.hash = trialHref(p.id); },
    };
    Plot.scatter(fronts, {points, xLabel: `${x} (${dx})`, yLabel: `${y} (${dy})`, width: 640, height: 400, ...hover});
  }
  document.body.setAttribute("data-ready", "compare");
  return () => {};
}

// -- router ----------------------------------------------------------------------------------

async function route() {
  stopPage();
  stopPage = () => {};
  tip.hidden = true;
  document.body.removeAttribute("data-ready");
  document.getElementById("live").textContent = "";
  const hash = location.hash.slice(1) || "/";
  const parts = hash.split("/");
  try {
    if (parts[1] === "study" && parts[2]) stopPage = await studyPage(decodeURIComponent(parts.slice(2).join("/")));
    else if (parts[1] === "trial" && parts[2]) stopPage = await trialPage(Number(parts[2]));
    else if (parts[1] === "compare" && parts[2]) stopPage = await comparePage(parts[2].split(",").map(decodeURIComponent));
    else { await studiesPage(); document.body.setAttribute("data-ready", "studies"); }
  } catch (err) { showError(err); }
}

window.addEventListener("hashchange", route);
route();
