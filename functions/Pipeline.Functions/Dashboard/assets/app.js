// Dashboard: fetches the Metrics function and draws plain SVG (no third-party code, so nothing to vendor or audit).
"use strict";
(function () {
  const SVGNS = "http://www.w3.org/2000/svg";
  const COLORS = ["#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#be185d", "#4d7c0f"];
  const W = 460, H = 230, PAD = { l: 62, r: 16, t: 10, b: 42 };
  const MIN = 60, HOUR = 3600, DAY = 86400;
  // Time tick steps a reader counts in; the first that gives at most five ticks is used.
  const TIME_STEPS = [1, 5, 15, 30, MIN, 5 * MIN, 15 * MIN, 30 * MIN, HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY, 28 * DAY, 91 * DAY, 364 * DAY];
  // What each metric family measures; the record's metric name stays visible next to it.
  const METRIC_NAMES = [["fid", "FID"], ["kid", "KID"], ["ppl", "PPL"]];

  function el(tag, attrs, parent, ns) {
    const e = ns ? document.createElementNS(SVGNS, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
  }

  const iso = (t) => new Date(t * 1000).toISOString();
  const dateTime = (t) => iso(t).slice(0, 16).replace("T", " ");
  function fmt(v) { return Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toPrecision(2); }
  function metricLabel(metric) { const m = METRIC_NAMES.find(([p]) => metric.startsWith(p)); return m ? m[1] : metric; }

  // Value ticks at round numbers (1, 2 or 5 times a power of ten); the axis runs from one tick to another.
  function valueTicks(lo, hi) {
    if (lo === hi) { const d = Math.abs(lo) * 0.1 || 1; lo -= d; hi += d; }
    const raw = (hi - lo) / 4, mag = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / mag;
    const step = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
    const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
    const first = Math.floor(lo / step + 1e-9), last = Math.ceil(hi / step - 1e-9);
    const ticks = [];
    // Multiples of the step computed from integers, so 0.1 + 0.2 never shows up as 0.30000000000000004.
    for (let i = first; i <= last; i++) ticks.push({ v: Number((i * step).toFixed(decimals)) + 0, label: (i * step).toFixed(decimals).replace(/^-(0\.?0*)$/, "$1") });
    return { lo: first * step, hi: last * step, ticks };
  }

  // Time ticks on whole minutes, hours or days (UTC), never two with the same label: day steps show dates; shorter
  // steps show times, and the date too where the ticks cross midnight (else the axis title names the day).
  function timeTicks(lo, hi) {
    if (lo === hi) return { lo: lo - HOUR, hi: hi + HOUR, title: "time (UTC)", ticks: [{ v: lo, label: dateTime(lo) }] };
    const crossesDay = Math.floor(lo / DAY) !== Math.floor(hi / DAY);
    const maxTicks = crossesDay ? 4 : 5; // date-and-time labels are wider
    const step = TIME_STEPS.find(s => Math.floor(hi / s) - Math.ceil(lo / s) + 1 <= maxTicks) || TIME_STEPS[TIME_STEPS.length - 1];
    const ticks = [];
    for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) {
      const s = iso(t);
      ticks.push({ v: t, label: step >= DAY ? s.slice(0, 10) : crossesDay ? s.slice(5, 16).replace("T", " ") : s.slice(11, step < MIN ? 19 : 16) });
    }
    const title = step >= DAY ? "date (UTC)" : crossesDay ? "time (UTC)" : `time (UTC, ${iso(lo).slice(0, 10)})`;
    const pad = (hi - lo) * 0.04; // keeps the first and last points off the axes
    return { lo: lo - pad, hi: hi + pad, title, ticks };
  }

  // Evaluations that share a timestamp become one vertex (their mean) and keep a dot each: a line through them would
  // be a vertical stroke that reads as a jump.
  function vertices(points) {
    const byX = new Map();
    for (const p of points) { if (!byX.has(p.x)) byX.set(p.x, []); byX.get(p.x).push(p.y); }
    return [...byX].sort((a, b) => a[0] - b[0]).map(([x, ys]) => ({ x, y: ys.reduce((a, b) => a + b, 0) / ys.length }));
  }

  // A line chart over time: series = [{ name, points: [{x, y}] }]; unit names the y axis. Every point gets a dot
  // with a tooltip.
  function lineChart(parent, series, label, unit) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": label, "data-chart": label, "data-unit": unit }, parent, true);
    const all = series.flatMap(s => s.points);
    if (all.length === 0) { el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, svg, true).textContent = "no values yet"; return svg; }
    const xs = timeTicks(Math.min(...all.map(p => p.x)), Math.max(...all.map(p => p.x)));
    const ys = valueTicks(Math.min(...all.map(p => p.y)), Math.max(...all.map(p => p.y)));
    const sx = x => PAD.l + (x - xs.lo) / (xs.hi - xs.lo) * (W - PAD.l - PAD.r);
    const sy = y => H - PAD.b - (y - ys.lo) / (ys.hi - ys.lo) * (H - PAD.t - PAD.b);
    for (const t of ys.ticks) {
      el("line", { class: "grid", x1: PAD.l, y1: sy(t.v), x2: W - PAD.r, y2: sy(t.v) }, svg, true);
      el("text", { class: "ytick", x: PAD.l - 6, y: sy(t.v) + 4, "text-anchor": "end", "data-value": t.v }, svg, true).textContent = t.label;
    }
    for (const t of xs.ticks) {
      el("line", { class: "axis", x1: sx(t.v), y1: H - PAD.b, x2: sx(t.v), y2: H - PAD.b + 4 }, svg, true);
      // A label that would run past the chart's edge is anchored at its end (or start) instead of being cut off.
      const half = t.label.length * 3.3, x = sx(t.v);
      const anchor = x + half > W ? "end" : x - half < 0 ? "start" : "middle";
      el("text", { class: "xtick", x: anchor === "end" ? W - 1 : anchor === "start" ? 1 : x, y: H - PAD.b + 16, "text-anchor": anchor, "data-t": t.v }, svg, true).textContent = t.label;
    }
    el("line", { class: "axis", x1: PAD.l, y1: H - PAD.b, x2: W - PAD.r, y2: H - PAD.b }, svg, true);
    el("line", { class: "axis", x1: PAD.l, y1: PAD.t, x2: PAD.l, y2: H - PAD.b }, svg, true);
    el("text", { class: "xlabel", x: (PAD.l + W - PAD.r) / 2, y: H - 6, "text-anchor": "middle" }, svg, true).textContent = xs.title;
    const ly = (PAD.t + H - PAD.b) / 2;
    el("text", { class: "ylabel", x: 12, y: ly, "text-anchor": "middle", transform: `rotate(-90 12 ${ly})` }, svg, true).textContent = unit;
    series.forEach((s, i) => {
      const color = COLORS[i % COLORS.length];
      const v = vertices(s.points);
      const d = v.map((p, j) => `${j ? "L" : "M"}${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(" ");
      el("path", { class: "series", d, stroke: color, "data-series": s.name, "data-points": s.points.length, "data-vertices": v.length }, svg, true);
      for (const p of s.points) {
        const c = el("circle", { cx: sx(p.x), cy: sy(p.y), r: 3, fill: color, class: "point" }, svg, true);
        el("title", {}, c, true).textContent = `${s.name}: ${fmt(p.y)}${unit === "seconds" ? " s" : ""} (${dateTime(p.x)} UTC)`;
      }
    });
    const legend = el("div", { class: "legend" }, parent);
    // Swatches are SVG fills, not inline styles: the page's CSP allows no inline style.
    series.forEach((s, i) => {
      const sp = el("span", { "data-series": s.name }, legend);
      const sw = el("svg", { width: 12, height: 6, class: "swatch" }, sp, true);
      el("rect", { width: 12, height: 6, fill: COLORS[i % COLORS.length] }, sw, true);
      sp.appendChild(document.createTextNode(" " + s.name));
    });
    return svg;
  }

  function barChart(parent, entries, label) {
    const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, width: "100%", role: "img", "aria-label": label, "data-chart": label, "data-unit": "jobs" }, parent, true);
    const max = Math.max(1, ...entries.map(e => e[1])) * 1.12; // headroom for the value labels
    const bw = (W - PAD.l - PAD.r) / Math.max(1, entries.length);
    entries.forEach(([name, v], i) => {
      const h = v / max * (H - PAD.t - PAD.b);
      const x = PAD.l + i * bw + bw * 0.15;
      const r = el("rect", { x, y: H - PAD.b - h, width: bw * 0.7, height: h, fill: COLORS[i % COLORS.length], class: "bar", "data-name": name, "data-value": v }, svg, true);
      el("title", {}, r, true).textContent = `${name}: ${v} jobs`;
      el("text", { x: x + bw * 0.35, y: H - PAD.b + 16, "text-anchor": "middle" }, svg, true).textContent = name;
      el("text", { x: x + bw * 0.35, y: H - PAD.b - h - 4, "text-anchor": "middle" }, svg, true).textContent = String(v);
    });
    return svg;
  }

  // One figure per quality metric: a line per model, and below it every model whose evaluations gave no value, with
  // the recorded reason (skipped: e.g. feature-network weights missing; failed: the error).
  function renderQuality(data) {
    const charts = document.getElementById("metric-charts");
    const byMetric = new Map();
    const figure = (metric) => {
      if (!byMetric.has(metric)) byMetric.set(metric, { series: [], missing: [] });
      return byMetric.get(metric);
    };
    for (const s of data.metrics) figure(s.metric).series.push({ name: s.model, points: s.points.map(p => ({ x: p.t, y: p.value })) });
    for (const n of data.notEvaluated) figure(n.metric).missing.push(n);
    for (const metric of [...byMetric.keys()].sort()) {
      const m = byMetric.get(metric);
      const name = metricLabel(metric);
      const fig = el("figure", { class: "chart", "data-metric": metric }, charts);
      el("figcaption", {}, fig).textContent = `${name} · ${metric} (lower is better)`;
      if (m.series.length) lineChart(fig, m.series, `${name} ${metric}`, name);
      else el("p", { class: "hint no-values" }, fig).textContent = "No values: every evaluation of this metric was skipped or failed.";
      if (m.missing.length) {
        const ul = el("ul", { class: "not-evaluated" }, fig);
        for (const n of m.missing) {
          const li = el("li", { "data-model": n.model, "data-status": n.status }, ul);
          el("strong", {}, li).textContent = `${n.model}: ${n.status}`;
          li.appendChild(document.createTextNode(` ${n.count}× (latest ${dateTime(n.latest)} UTC): ${n.reason}`));
        }
      }
    }
    if (byMetric.size === 0) el("p", { class: "hint" }, charts).textContent = "No FID, KID or PPL evaluations yet.";
  }

  function renderJobs(data) {
    barChart(document.getElementById("job-counts"), Object.entries(data.jobs.counts), "jobs by state");
    const durations = new Map(), waits = new Map();
    const add = (map, kind, p) => { if (!map.has(kind)) map.set(kind, []); map.get(kind).push(p); };
    for (const d of data.jobs.durations) {
      add(durations, d.kind, { x: d.t, y: d.seconds });
      if (d.queueSeconds !== null && d.queueSeconds !== undefined) add(waits, d.kind, { x: d.t, y: d.queueSeconds });
    }
    const sorted = (map) => [...map].sort((a, b) => a[0].localeCompare(b[0])).map(([name, points]) => ({ name, points }));
    lineChart(document.getElementById("job-durations"), sorted(durations), "job duration", "seconds");
    lineChart(document.getElementById("job-waits"), sorted(waits), "queue wait", "seconds");
  }

  function renderGallery(data) {
    const gallery = document.getElementById("gallery");
    for (const w of data.gallery) {
      const fig = el("figure", { class: "work", "data-family": w.family }, gallery);
      if (w.url) el("img", { src: w.url, alt: w.title, loading: "lazy" }, fig);
      else el("div", { class: "missing", title: "stored locally; no link" }, fig);
      const cap = el("figcaption", {}, fig);
      el("span", { class: "family" }, cap).textContent = w.family;
      cap.appendChild(document.createTextNode(w.title));
    }
  }

  function render(data) {
    renderQuality(data);
    renderJobs(data);
    renderGallery(data);
    const skipped = data.notEvaluated.reduce((a, n) => a + n.count, 0);
    document.getElementById("status").textContent =
      `${data.metrics.length} quality series · ${skipped} evaluations without a value · ${data.jobs.durations.length} job durations · ${data.gallery.length} works · updated ${new Date().toISOString().slice(0, 19).replace("T", " ")} UTC`;
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
