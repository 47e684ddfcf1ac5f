// Small SVG plots for the dashboard: lines, scatter, parallel coordinates, a layered graph.
// Every label is set with textContent, never parsed as markup: names come from the database.
"use strict";

const Plot = (() => {
  const NS = "http://www.w3.org/2000/svg";
  const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2",
                   "#17becf", "#bcbd22", "#7f7f7f", "#d62728"];

  function svg(tag, attrs, text) {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  function extent(values) {
    let lo = Infinity, hi = -Infinity;
    for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!isFinite(lo)) return [0, 1];
    if (lo === hi) { const pad = Math.abs(lo) * 0.05 || 1; return [lo - pad, hi + pad]; }
    const pad = (hi - lo) * 0.04;
    return [lo - pad, hi + pad];
  }

  function linear(d, r) {
    const f = (v) => r[0] + (v - d[0]) / (d[1] - d[0]) * (r[1] - r[0]);
    f.domain = d;
    return f;
  }

  function ticks(d, n) {
    const span = d[1] - d[0], step0 = Math.pow(10, Math.floor(Math.log10(span / n)));
    const err = span / n / step0;
    const step = step0 * (err >= 5 ? 5 : err >= 2 ? 2 : 1);
    const out = [];
    for (let v = Math.ceil(d[0] / step) * step; v <= d[1] + 1e-12; v += step) out.push(v);
    return out;
  }

  function fmt(v) {
    if (v === null || v === undefined || Number.isNaN(v)) return "";
    const a = Math.abs(v);
    if (a >= 1e4 && a < 1e6 && Number.isInteger(v / 100)) return `${v / 1000}k`;
    if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
    return String(Math.round(v * 1000) / 1000);
  }

  function fmtTime(ms) {
    const d = new Date(ms);
    return d.toISOString().slice(11, 19);
  }

  // A frame: an <svg> with axes, grid and labels; returns it and the two scales.
  function frame(container, opt, xd, yd) {
    const W = opt.width || 460, H = opt.height || 300, m = {l: 62, r: 12, t: 10, b: 40};
    const root = svg("svg", {class: "plot", width: W, height: H, viewBox: `0 0 ${W} ${H}`});
    const x = linear(xd, [m.l, W - m.r]), y = linear(yd, [H - m.b, m.t]);
    const axis = svg("g", {class: "axis"});
    for (const t of ticks(xd, 6)) {
      axis.append(svg("line", {class: "grid", x1: x(t), x2: x(t), y1: m.t, y2: H - m.b}));
      axis.append(svg("text", {x: x(t), y: H - m.b + 14, "text-anchor": "middle"},
                      opt.xTime ? fmtTime(t) : fmt(t)));
    }
    for (const t of ticks(yd, 5)) {
      axis.append(svg("line", {class: "grid", x1: m.l, x2: W - m.r, y1: y(t), y2: y(t)}));
      axis.append(svg("text", {x: m.l - 4, y: y(t) + 4, "text-anchor": "end"}, fmt(t)));
    }
    axis.append(svg("path", {d: `M${m.l},${m.t}V${H - m.b}H${W - m.r}`, fill: "none"}));
    axis.append(svg("text", {x: (m.l + W - m.r) / 2, y: H - 6, "text-anchor": "middle"},
                    opt.xLabel || ""));
    axis.append(svg("text", {x: 12, y: (m.t + H - m.b) / 2, "text-anchor": "middle",
                             transform: `rotate(-90 12 ${(m.t + H - m.b) / 2})`},
                    opt.yLabel || ""));
    root.append(axis);
    container.append(root);
    return {root, x, y};
  }

  // Step lines: series = [{name, color, points: [[x, y], ...]}] (x ascending).
  function lines(container, opt) {
    const all = opt.series.flatMap((s) => s.points);
    const f = frame(container, opt, extent(all.map((p) => p[0])), extent(all.map((p) => p[1])));
    opt.series.forEach((s, i) => {
      if (!s.points.length) return;
      let d = `M${f.x(s.points[0][0])},${f.y(s.points[0][1])}`;
      for (let k = 1; k < s.points.length; k++) {
        const [px, py] = s.points[k];
        d += opt.step === false ? `L${f.x(px)},${f.y(py)}`
          : `H${f.x(px)}V${f.y(py)}`;
      }
      const color = s.color || PALETTE[i % PALETTE.length];
      if (s.points.length === 1) {
        f.root.append(svg("circle", {cx: f.x(s.points[0][0]), cy: f.y(s.points[0][1]), r: 3, fill: color}));
      }
      const path = svg("path", {class: "series " + (s.cls || ""), d, stroke: color});
      path.append(svg("title", {}, s.name || ""));
      f.root.append(path);
    });
    return f.root;
  }

  // Beyond this many points the ones off the front go on a canvas: 20,000 SVG circles take
  // seconds to lay out, a canvas draws them in milliseconds. Front points stay SVG elements.
  const SVG_POINTS = 3000;

  // points: [{x, y, cls, id, color?}]; hover and click report the point.
  function scatter(container, opt) {
    const f = frame(container, opt, extent(opt.points.map((p) => p.x)),
                    extent(opt.points.map((p) => p.y)));
    f.root.setAttribute("data-points", opt.points.length);
    if (opt.frontLine && opt.frontLine.length > 1) {
      const d = opt.frontLine.map((p, k) => `${k ? "L" : "M"}${f.x(p.x)},${f.y(p.y)}`).join("");
      f.root.append(svg("path", {class: "frontline", d}));
    }
    const onCanvas = opt.points.length > SVG_POINTS;
    const isFront = opt.points.map((p) => p.cls.includes("front"));
    const g = svg("g", {class: "points"});
    const painted = [];
    if (onCanvas) {
      const W = Number(f.root.getAttribute("width")), H = Number(f.root.getAttribute("height"));
      const canvas = document.createElement("canvas");
      canvas.width = W; canvas.height = H;
      canvas.className = "under";
      const ctx = canvas.getContext("2d");
      const style = getComputedStyle(document.documentElement);
      const ok = style.getPropertyValue("--ok").trim() || "#1f77b4";
      const bad = style.getPropertyValue("--bad").trim() || "#999";
      // One path per colour and kind, not one per point: a fill per point is most of the
      // cost of drawing 20,000 of them.
      const paths = new Map();
      opt.points.forEach((p, i) => {
        if (isFront[i]) return;
        const cx = f.x(p.x), cy = f.y(p.y);
        painted.push([cx, cy, i]);
        const hollow = p.cls.includes("infeasible");
        const key = (hollow ? "s" : "f") + (p.color || (hollow ? bad : ok));
        if (!paths.has(key)) paths.set(key, new Path2D());
        const path = paths.get(key);
        path.moveTo(cx + 2.6, cy);
        path.arc(cx, cy, 2.6, 0, 2 * Math.PI);
      });
      for (const [key, path] of paths) {
        if (key[0] === "s") { ctx.strokeStyle = key.slice(1); ctx.stroke(path); }
        else { ctx.globalAlpha = 0.55; ctx.fillStyle = key.slice(1); ctx.fill(path); ctx.globalAlpha = 1; }
      }
      const box = document.createElement("div");
      box.className = "layered";
      f.root.replaceWith(box);
      box.append(canvas, f.root);
    }
    // Front points last, so they are drawn on top and win the hover.
    const order = opt.points.map((p, i) => i).filter((i) => !onCanvas || isFront[i])
      .sort((a, b) => (isFront[a] ? 1 : 0) - (isFront[b] ? 1 : 0));
    for (const i of order) {
      const p = opt.points[i];
      const c = svg("circle", {class: "point " + p.cls, cx: f.x(p.x).toFixed(1),
                               cy: f.y(p.y).toFixed(1), r: isFront[i] ? 4.5 : 3.2,
                               "data-i": i, "data-trial": p.id});
      // CSS classes outrank presentation attributes: a study's colour goes on the style.
      if (p.color) { c.style.fill = p.color; c.style.stroke = "#333"; }
      g.append(c);
    }
    // The nearest canvas point within 5 px of the mouse, when no SVG circle is under it.
    const nearest = (ev) => {
      const r = f.root.getBoundingClientRect(), mx = ev.clientX - r.left, my = ev.clientY - r.top;
      let best = null, dist = 25;
      for (const [cx, cy, i] of painted) {
        const d = (cx - mx) * (cx - mx) + (cy - my) * (cy - my);
        if (d < dist) { dist = d; best = i; }
      }
      return best === null ? null : opt.points[best];
    };
    const pick = (ev) => {
      const i = ev.target.getAttribute && ev.target.getAttribute("data-i");
      if (i !== null && i !== undefined) return opt.points[Number(i)];
      return painted.length ? nearest(ev) : null;
    };
    let hovered = null;
    f.root.addEventListener("mousemove", (ev) => {
      const p = pick(ev);
      if (p !== hovered) {
        if (hovered && opt.onLeave) opt.onLeave(ev);
        if (p && opt.onHover) opt.onHover(p, ev);
        hovered = p;
      } else if (p && opt.onMove) opt.onMove(p, ev);
      f.root.style.cursor = p ? "pointer" : "";
    });
    f.root.addEventListener("mouseleave", (ev) => { hovered = null; if (opt.onLeave) opt.onLeave(ev); });
    f.root.addEventListener("click", (ev) => { const p = pick(ev); if (p && opt.onClick) opt.onClick(p, ev); });
    f.root.append(g);
    return f.root;
  }

  // axes: [{name, dir}]; rows: [{values: [...], cls, id}]. Each axis runs worse -> better upward.
  function parallel(container, opt) {
    const W = opt.width || 700, H = opt.height || 280, m = {l: 40, r: 40, t: 24, b: 26};
    const root = svg("svg", {class: "plot", width: W, height: H});
    const n = opt.axes.length;
    const xs = opt.axes.map((_, k) => m.l + k * (W - m.l - m.r) / Math.max(1, n - 1));
    const ys = opt.axes.map((a, k) => {
      const d = extent(opt.rows.map((r) => r.values[k]));
      return linear(a.dir === "max" ? d : [d[1], d[0]], [H - m.b, m.t]);
    });
    const g = svg("g");
    for (const r of opt.rows) {
      const d = r.values.map((v, k) => `${k ? "L" : "M"}${xs[k].toFixed(1)},${ys[k](v).toFixed(1)}`).join("");
      const path = svg("path", {class: "pc " + r.cls, d, "data-trial": r.id});
      g.append(path);
    }
    g.addEventListener("click", (ev) => {
      const id = ev.target.getAttribute && ev.target.getAttribute("data-trial");
      if (id && opt.onClick) opt.onClick(Number(id));
    });
    root.append(g);
    opt.axes.forEach((a, k) => {
      root.append(svg("line", {x1: xs[k], x2: xs[k], y1: m.t, y2: H - m.b, stroke: "#555"}));
      root.append(svg("text", {x: xs[k], y: 14, "text-anchor": "middle"}, `${a.name} (${a.dir})`));
      const d = ys[k].domain;
      root.append(svg("text", {x: xs[k] + 3, y: H - m.b + 14}, fmt(d[0])));
      root.append(svg("text", {x: xs[k] + 3, y: m.t + 10}, fmt(d[1])));
    });
    container.append(root);
    return root;
  }

  // nodes: [{id, op, kind, row, col}], edges: [[src, dst]]; one row per step from the input.
  function graph(container, opt) {
    const rows = Math.max(0, ...opt.nodes.map((n) => n.row)) + 1;
    const perRow = {};
    for (const n of opt.nodes) perRow[n.row] = Math.max(perRow[n.row] || 0, n.col + 1);
    const widest = Math.max(1, ...Object.values(perRow));
    const BW = 150, BH = 24, GX = 16, GY = 18;
    const W = Math.max(360, widest * (BW + GX) + GX), H = rows * (BH + GY) + GY;
    const root = svg("svg", {class: "plot graph", width: W, height: H});
    const pos = {};
    for (const n of opt.nodes) {
      const count = perRow[n.row];
      const left = (W - count * (BW + GX) + GX) / 2;
      pos[n.id] = {x: left + n.col * (BW + GX), y: GY + n.row * (BH + GY)};
    }
    for (const [a, b] of opt.edges) {
      const p = pos[a], q = pos[b];
      if (!p || !q) continue;
      root.append(svg("path", {class: "edge",
        d: `M${p.x + BW / 2},${p.y + BH} C${p.x + BW / 2},${p.y + BH + GY / 2} ` +
           `${q.x + BW / 2},${q.y - GY / 2} ${q.x + BW / 2},${q.y}`}));
    }
    const kinds = [...new Set(opt.nodes.map((n) => n.kind))];
    for (const n of opt.nodes) {
      const p = pos[n.id];
      const g = svg("g", {class: "node", "data-kind": n.kind});
      g.append(svg("rect", {x: p.x, y: p.y, width: BW, height: BH,
                            fill: kindColor(n.kind, kinds)}));
      const label = n.op.length > 22 ? n.op.slice(0, 21) + "…" : n.op;
      g.append(svg("text", {x: p.x + BW / 2, y: p.y + 16, "text-anchor": "middle"}, label));
      g.append(svg("title", {}, n.op));
      root.append(g);
    }
    container.append(root);
    return {root, kinds};
  }

  const FIXED = {input: "#e8e8e8", output: "#e8e8e8", add: "#f3f3f3", ffn: "#c7e9c0"};
  function kindColor(kind, kinds) {
    if (FIXED[kind]) return FIXED[kind];
    const light = ["#aec7e8", "#ffbb78", "#98df8a", "#c5b0d5", "#c49c94", "#f7b6d2",
                   "#9edae5", "#dbdb8d", "#ff9896"];
    return light[kinds.filter((k) => !FIXED[k]).indexOf(kind) % light.length];
  }

  return {lines, scatter, parallel, graph, kindColor, fmt, PALETTE};
})();
