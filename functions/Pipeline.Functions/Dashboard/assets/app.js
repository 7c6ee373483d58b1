// Dashboard: fetches the Metrics function and draws plain SVG (no third-party code, so nothing to vendor or audit).
"use strict";
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f"];
  const W = 460, H = 220, PAD = { l: 48, r: 12, t: 10, b: 28 };

  function el(tag, attrs, parent, ns) {
    const e = ns ? document.createElementNS(SVGNS, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  function fmt(v) { return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2); }
  function day(t) { return new Date(t * 1000).toISOString().slice(0, 10); }

  // A line chart: series = [{ name, points: [{x, y}] }]. Every point also gets a circle with a tooltip.
  function lineChart(parent, series, label, xFormat) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": label, "data-chart": label }, parent, true);
    const all = series.flatMap(s => s.points);
    if (all.length === 0) { el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg, true).textContent = "no data yet"; return svg; }
    let [x0, x1] = [Math.min(...all.map(p => p.x)), Math.max(...all.map(p => p.x))];
    let [y0, y1] = [Math.min(...all.map(p => p.y)), Math.max(...all.map(p => p.y))];
    if (x0 === x1) { x0 -= 1; x1 += 1; }
    if (y0 === y1) { y0 -= 1; y1 += 1; }
    const pad = (y1 - y0) * 0.08; y0 -= pad; y1 += pad;
    const sx = x => PAD.l + (x - x0) / (x1 - x0) * (W - PAD.l - PAD.r);
    const sy = y => H - PAD.b - (y - y0) / (y1 - y0) * (H - PAD.t - PAD.b);
    el("line", { class: "axis", x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b }, svg, true);
    el("line", { class: "axis", x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b }, svg, true);
    for (let i = 0; i <= 4; i++) {
      const y = y0 + (y1 - y0) * i / 4;
      el("text", { x: PAD.l - 6, y: sy(y) + 4, "text-anchor": "end" }, svg, true).textContent = fmt(y);
    }
    for (const [x, anchor] of [[x0, "start"], [x1, "end"]])
      el("text", { x: sx(x), y: H - 8, "text-anchor": anchor }, svg, true).textContent = xFormat(x);
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const pts = s.points.slice().sort((a, b) => a.x - b.x);
      const d = pts.map((p, j) => `${j ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
      el("path", { class: "series", d, stroke: color, "data-series": s.name, "data-points": pts.length }, svg, true);
      for (const p of pts) {
        const c = el("circle", { cx: sx(p.x), cy: sy(p.y), r: 3, fill: color, class: "point" }, svg, true);
        el("title", {}, c, true).textContent = `${s.name}: ${fmt(p.y)} (${xFormat(p.x)})`;
      }
    });
    const legend = el("div", { class: "legend" }, parent);
    // Swatches are SVG fills, not inline styles: the page's CSP allows no inline style.
    series.forEach((s, i) => {
      const sp = el("span", {}, legend);
      const sw = el("svg", { width: 12, height: 6, class: "swatch" }, sp, true);
      el("rect", { width: 12, height: 6, fill: COLORS[i % COLORS.length] }, sw, true);
      sp.appendChild(document.createTextNode(" " + s.name));
    });
    return svg;
  }

  function barChart(parent, entries, label) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": label, "data-chart": label }, parent, true);
    const max = Math.max(1, ...entries.map(e => e[1])) * 1.12; // headroom for the value labels
    const bw = (W - PAD.l - PAD.r) / Math.max(1, entries.length);
    entries.forEach(([name, v], i) => {
      const h = v / max * (H - PAD.t - PAD.b);
      const x = PAD.l + i * bw + bw * 0.15;
      const r = el("rect", { x, y: H - PAD.b - h, width: bw * 0.7, height: h, fill: COLORS[i % COLORS.length], class: "bar", "data-name": name, "data-value": v }, svg, true);
      el("title", {}, r, true).textContent = `${name}: ${v}`;
      el("text", { x: x + bw * 0.35, y: H - 10, "text-anchor": "middle" }, svg, true).textContent = name;
      el("text", { x: x + bw * 0.35, y: H - PAD.b - h - 4, "text-anchor": "middle" }, svg, true).textContent = String(v);
    });
    return svg;
  }

  function render(data) {
    const charts = document.getElementById("metric-charts");
    const byMetric = new Map();
    for (const s of data.metrics) {
      if (!byMetric.has(s.metric)) byMetric.set(s.metric, []);
      byMetric.get(s.metric).push({ name: s.model, points: s.points.map(p => ({ x: p.t, y: p.value })) });
    }
    for (const [metric, series] of byMetric) {
      const fig = el("figure", { class: "chart", "data-metric": metric }, charts);
      el("figcaption", {}, fig).textContent = metric;
      lineChart(fig, series, metric, day);
    }
    if (byMetric.size === 0) el("p", { class: "hint" }, charts).textContent = "No metric evaluations yet.";

    barChart(document.getElementById("job-counts"), Object.entries(data.jobs.counts), "jobs by state");
    const byKind = new Map();
    for (const l of data.jobs.latencies) {
      if (!byKind.has(l.kind)) byKind.set(l.kind, []);
      byKind.get(l.kind).push({ x: l.finishedAt, y: l.seconds });
    }
    lineChart(document.getElementById("job-latency"), [...byKind].map(([name, points]) => ({ name, points })), "job latency",
      t => new Date(t * 1000).toISOString().slice(5, 16).replace("T", " "));

    const gallery = document.getElementById("gallery");
    for (const w of data.gallery) {
      const fig = el("figure", { class: "work", "data-family": w.family }, gallery);
      if (w.url) el("img", { src: w.url, alt: w.title, loading: "lazy" }, fig);
      else el("div", { class: "missing", title: "stored locally; no link" }, fig);
      const cap = el("figcaption", {}, fig);
      el("span", { class: "family" }, cap).textContent = w.family;
      cap.appendChild(document.createTextNode(w.title));
    }
    document.getElementById("status").textContent =
      `${data.metrics.length} metric series · ${data.jobs.latencies.length} recent jobs · ${data.gallery.length} works · updated ${new Date().toISOString().slice(0, 19).replace("T", " ")} UTC`;
    document.body.dataset.loaded = "true";
  }

  async function load() {
    const root = location.pathname.replace(/\/dashboard(\/.*)?$/, "");
    const code = new URLSearchParams(location.search).get("code");
    const url = root + "/metrics" + (code ? "?code=" + encodeURIComponent(code) : "");
    document.getElementById("to-gallery").href = root + "/dashboard/gallery.html" + (code ? "?code=" + encodeURIComponent(code) : "");
    try {
      const res = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!res.ok) throw new Error(`metrics answered ${res.status}`);
      render(await res.json());
    } catch (e) {
      document.getElementById("status").textContent = "Could not load metrics: " + e.message;
      document.body.dataset.loaded = "error";
    }
  }
  load();
})();
