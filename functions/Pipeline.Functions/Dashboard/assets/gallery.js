// Gallery: reads the Gallery function (manifests and result documents only) and shows collections per model and
// batch, translation and projection results per job, a panorama strip, style-mixing grids and a full-size viewer with each image's settings and "more like this". Thumbnails load lazily
// (native loading=lazy) and a batch's items come in pages as the visitor scrolls, so hundreds of images stay cheap.
"use strict";
(function () {
  const PAGE = 60;
  const root = location.pathname.replace(/\/dashboard(\/.*)?$/, "");
  const code = new URLSearchParams(location.search).get("code");
  const withCode = (url) => code ? url + (url.includes("?") ? "&" : "?") + "code=" + encodeURIComponent(code) : url;
  const $ = (id) => document.getElementById(id);
  const state = { index: null, batch: null, loading: false, observer: null };

  function el(tag, attrs, parent, text) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    if (parent) parent.appendChild(e);
    return e;
  }

  async function api(path, init) {
    const res = await fetch(withCode(root + "/gallery" + path), Object.assign({ credentials: "same-origin", headers: { Accept: "application/json", "Content-Type": "application/json" } }, init || {}));
    const body = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(body.detail || body.title || `the gallery answered ${res.status}`);
    return body;
  }

  function thumb(parent, url, alt, size) {
    if (!url) return el("div", { class: "missing", title: "stored without a link (local storage)" }, parent);
    return el("img", { src: url, alt, loading: "lazy", decoding: "async", width: size, height: size }, parent);
  }

  const day = (t) => new Date(t * 1000).toISOString().slice(0, 16).replace("T", " ");

  // ---- full-size viewer -------------------------------------------------------------------------------------
  function openViewer(title, url, settings, actions) {
    $("viewer-h").textContent = title;
    const img = $("viewer-img");
    if (url) { img.src = url; img.alt = title; img.hidden = false; } else { img.removeAttribute("src"); img.hidden = true; }
    const dl = $("viewer-settings");
    dl.replaceChildren();
    for (const [k, v] of Object.entries(settings)) {
      if (v === undefined || v === null || v === "") continue;
      el("dt", {}, dl, k);
      el("dd", { "data-key": k }, dl, String(v));
    }
    const box = $("viewer-actions");
    box.replaceChildren();
    $("viewer-message").textContent = actions.note || "";
    for (const a of actions.buttons || []) {
      const b = el("button", { type: "button", "data-mode": a.mode }, box, a.label);
      b.addEventListener("click", async () => {
        for (const x of box.querySelectorAll("button")) x.disabled = true;
        $("viewer-message").textContent = "Asking the worker…";
        try {
          const r = await api("/more", { method: "POST", body: JSON.stringify(a.body) });
          const known = r.outcome === "alreadyknown";
          $("viewer-message").textContent = (known ? "Already asked for: " : "Queued ") + `job ${r.jobId} → batch ${r.batchId}` +
            (known ? " (see Collections)." : ". It appears under Collections when the worker has written it.");
          $("viewer-message").dataset.jobId = r.jobId;
          $("viewer-message").dataset.batchId = r.batchId;
        } catch (e) {
          $("viewer-message").textContent = "Could not queue it: " + e.message;
        } finally {
          for (const x of box.querySelectorAll("button")) x.disabled = false;
        }
      });
    }
    const d = $("viewer");
    if (!d.open) d.showModal();
  }

  function itemSettings(batch, item) {
    const s = Object.assign({ batch: batch.batchId, model: batch.model, family: batch.family, seed: item.seed }, batch.settings, item.settings);
    delete s.seeds; // the batch's seed range; the image's own seed is above
    return s;
  }

  function moreButtons(batch, item) {
    const labels = { nearby: "More like this: nearby variations", coarse: "More like this: same coarse styles" };
    return (batch.moreLikeThis || []).map(mode => ({ mode, label: labels[mode] || mode, body: { batchId: batch.batchId, index: item.index, mode } }));
  }

  // ---- collections ----------------------------------------------------------------------------------------
  function renderIndex(index) {
    const models = new Map();
    for (const c of index.collections) {
      if (!models.has(c.model)) models.set(c.model, { family: c.family, batches: [] });
      models.get(c.model).batches.push(c);
    }
    const filter = $("model-filter");
    const allModels = new Set([...models.keys(), ...index.grids.map(g => g.model), ...index.results.map(r => r.model)]);
    for (const m of [...allModels].sort()) el("option", { value: m }, filter, m);

    const box = $("collections");
    box.replaceChildren();
    if (index.collections.length === 0) el("p", { class: "hint" }, box, "No batches yet: augmentation jobs write them to datasets/.");
    for (const [model, g] of [...models].sort((a, b) => a[0].localeCompare(b[0]))) {
      const sec = el("section", { class: "model-group", "data-model": model }, box);
      const h = el("h3", {}, sec, model);
      el("span", { class: "family" }, h, g.family);
      const cards = el("div", { class: "cards" }, sec);
      for (const c of g.batches) {
        const card = el("button", { type: "button", class: "card", "data-batch": c.batchId, "aria-pressed": "false" }, cards);
        thumb(card, c.cover && c.cover.url, `cover of ${c.batchId}`, 160);
        el("div", { class: "name" }, card, c.batchId);
        el("div", { class: "meta" }, card, `${c.operation} · ${c.count} images · ψ ${c.settings.truncation} · ${day(c.createdAt)}`);
        card.addEventListener("click", () => openBatch(c.batchId));
      }
    }

    const pano = index.collections.filter(c => c.panoramas && c.panoramas.length);
    $("panoramas-section").hidden = pano.length === 0;
    const strip = $("panoramas");
    strip.replaceChildren();
    for (const c of pano) for (const p of c.panoramas) {
      const fig = el("figure", { "data-model": c.model, "data-batch": c.batchId }, strip);
      const img = el("img", { src: p.url, alt: `panorama ${c.batchId} seed ${p.seed}`, loading: "lazy", decoding: "async" }, fig);
      img.addEventListener("click", () => openViewer(`Panorama · ${c.batchId} · seed ${p.seed}`, p.url,
        Object.assign({ batch: c.batchId, model: c.model, family: c.family, seed: p.seed }, c.settings), { note: "Panoramas are stitched from several latents; ask for more with a new SOAT panorama batch." }));
      el("figcaption", {}, fig, `${c.batchId} · seed ${p.seed}`);
    }

    renderGrids(index.grids);
    renderResults(index.results);
  }

  // ---- translation and projection results -----------------------------------------------------------------
  const KIND_TITLES = { translation: "Translations", projection: "Projections" };

  function renderResults(results) {
    const box = $("results");
    box.replaceChildren();
    if (results.length === 0) el("p", { class: "hint" }, box, "No translation or projection results yet: the worker writes them to results/ when a job succeeds.");
    for (const kind of ["translation", "projection"]) {
      const jobs = results.filter(r => r.kind === kind);
      if (jobs.length === 0) continue;
      const sec = el("section", { class: "result-group", "data-kind": kind }, box);
      el("h3", {}, sec, `${KIND_TITLES[kind]} (${jobs.length})`);
      const cards = el("div", { class: "cards" }, sec);
      for (const r of jobs) {
        // data-model on the card, not the group: one kind holds jobs of several models, and the filter hides by model.
        const card = el("button", { type: "button", class: "card result", "data-job": r.jobId, "data-model": r.model, "aria-pressed": "false" }, cards);
        const cover = r.images.find(i => i.url); // an image that was not signed (outside the job's folder) is no cover
        thumb(card, cover ? cover.url : null, `first output of ${r.jobId}`, 160);
        el("div", { class: "name" }, card, r.title);
        el("div", { class: "meta" }, card, `${r.model} · ${r.count} images · ${day(r.finishedAt)}`);
        card.addEventListener("click", () => openResult(r));
      }
    }
  }

  function resultSettings(r, image) {
    const s = Object.assign({ job: r.jobId, kind: r.kind, model: r.model, image: image.name, role: image.role, finished: day(r.finishedAt) + " UTC", seconds: r.seconds.toFixed(1) }, r.settings);
    for (const [k, v] of Object.entries(r.metrics || {})) s["metric " + k] = Number.isInteger(v) ? v : v.toPrecision(4);
    return s;
  }

  // A job's images all come with the index (a handful per job): the collection view shows them without paging.
  function openResult(r) {
    for (const c of document.querySelectorAll(".card")) c.setAttribute("aria-pressed", String(c.dataset.job === r.jobId));
    if (state.observer) state.observer.disconnect();
    state.batch = null;
    $("collection").hidden = false;
    $("collection-h").textContent = `${r.title} · ${r.jobId}`;
    $("collection-settings").textContent = `${r.model} · ` + Object.entries(r.settings).map(([k, v]) => `${k} ${v}`).join(" · ");
    const box = $("items");
    box.replaceChildren();
    r.images.forEach((image, i) => {
      const fig = el("figure", { class: "work", "data-index": i, "data-role": image.role || "" }, box);
      const open = el("button", { type: "button", class: "open", "aria-label": `open ${image.name}` }, fig);
      thumb(open, image.url, `${image.name} (${image.role || "output"})`, 160);
      el("figcaption", {}, fig, `${image.name} · ${image.role || "output"}`);
      open.addEventListener("click", () => openViewer(`${r.title} · ${image.name}`, image.url, resultSettings(r, image),
        { note: "Ask for another result by submitting a new job (api/jobs) with other settings." }));
    });
    $("sentinel").textContent = `all ${r.images.length} shown`;
    document.body.dataset.items = String(r.images.length);
    history.replaceState(null, "", "#job=" + encodeURIComponent(r.jobId));
    $("collection-h").scrollIntoView({ block: "start" });
  }

  function renderGrids(grids) {
    $("grids-section").hidden = grids.length === 0;
    const box = $("grids");
    box.replaceChildren();
    for (const g of grids) {
      const fig = el("figure", { class: "mixgrid", "data-model": g.model, "data-batch": g.batchId, "data-range": g.range.name }, box);
      el("figcaption", {}, fig, `${g.range.name} styles (${g.range.resolutions.map(r => r + " px").join(", ")}) from B · ${g.batchId} · ${g.model} · ${g.family} · ψ ${g.truncation}`);
      const table = el("table", {}, fig);
      const headRow = el("tr", {}, el("thead", {}, table));
      el("th", { scope: "col" }, headRow, "A \\ B");
      const settings = (extra) => Object.assign({ batch: g.batchId, model: g.model, family: g.family, range: `${g.range.name} (levels ${g.range.lo}-${g.range.hi})`, truncation: g.truncation, noise: g.noise, noiseSeed: g.noiseSeed, resolution: g.resolution }, extra);
      const note = { note: "Grids are made by `pipeline mix`; re-run it with these seeds (e.g. --col-seeds) for more like this." };
      for (const s of g.columnSources) {
        const th = el("th", { scope: "col" }, headRow);
        const img = thumb(th, s.url, `B seed ${s.seed}`, 96);
        img.addEventListener("click", () => openViewer(`Source B · seed ${s.seed}`, s.url, settings({ seed: s.seed }), note));
        el("div", {}, th, `B ${s.seed}`);
      }
      const tbody = el("tbody", {}, table);
      for (const r of g.rowSources) {
        const tr = el("tr", { "data-row": r.index }, tbody);
        const th = el("th", { scope: "row" }, tr);
        const img = thumb(th, r.url, `A seed ${r.seed}`, 96);
        img.addEventListener("click", () => openViewer(`Source A · seed ${r.seed}`, r.url, settings({ seed: r.seed }), note));
        el("div", {}, th, `A ${r.seed}`);
        for (const c of g.cells.filter(c => c.row === r.index).sort((a, b) => a.column - b.column)) {
          const td = el("td", { class: "cell", "data-column": c.column }, tr);
          const cimg = thumb(td, c.url, `A ${c.rowSeed} × B ${c.columnSeed}`, 96);
          cimg.addEventListener("click", () => openViewer(`A seed ${c.rowSeed} × B seed ${c.columnSeed}`, c.url, settings({ rowSeed: c.rowSeed, columnSeed: c.columnSeed }), note));
        }
      }
    }
  }

  async function openBatch(batchId) {
    for (const c of document.querySelectorAll(".card")) c.setAttribute("aria-pressed", String(c.dataset.batch === batchId));
    if (state.observer) state.observer.disconnect();
    state.batch = { batchId, loaded: 0, total: null };
    const sec = $("collection");
    sec.hidden = false;
    $("collection-h").textContent = batchId;
    $("collection-settings").textContent = "Loading…";
    $("items").replaceChildren();
    history.replaceState(null, "", "#batch=" + encodeURIComponent(batchId));
    await loadPage();
    $("collection-h").scrollIntoView({ block: "start" });
    state.observer = new IntersectionObserver(entries => { if (entries.some(e => e.isIntersecting)) loadPage(); }, { rootMargin: "400px" });
    state.observer.observe($("sentinel"));
  }

  async function loadPage() {
    const b = state.batch;
    if (!b || state.loading || (b.total !== null && b.loaded >= b.total)) return;
    state.loading = true;
    try {
      const page = await api(`/batches/${encodeURIComponent(b.batchId)}?offset=${b.loaded}&limit=${PAGE}`);
      if (state.batch !== b) return; // another batch was opened meanwhile
      b.total = page.total;
      b.info = page;
      $("collection-settings").textContent = `${page.family} · ${page.model} · ` + Object.entries(page.settings).map(([k, v]) => `${k} ${v}`).join(" · ");
      const box = $("items");
      for (const item of page.items) {
        const fig = el("figure", { class: "work", "data-index": item.index, "data-seed": item.seed }, box);
        const open = el("button", { type: "button", class: "open", "aria-label": `open image ${item.index}, seed ${item.seed}` }, fig);
        thumb(open, item.thumb || item.url, `seed ${item.seed}`, 160);
        el("figcaption", {}, fig, `#${item.index} · seed ${item.seed}`);
        open.addEventListener("click", () => openViewer(`${page.batchId} · #${item.index} · seed ${item.seed}`, item.url, itemSettings(page, item),
          { buttons: moreButtons(page, item), note: page.moreLikeThis.length ? "" : `${page.operation} images combine several latents; "more like this" is not offered.` }));
      }
      b.loaded += page.items.length;
      $("sentinel").textContent = b.loaded < b.total ? `${b.loaded} of ${b.total} shown; scroll for more` : `all ${b.total} shown`;
      document.body.dataset.items = String(b.loaded);
    } catch (e) {
      $("collection-settings").textContent = "Could not load the batch: " + e.message;
    } finally {
      state.loading = false;
    }
    // A short page may leave the sentinel on screen: keep filling until it is pushed out or the batch ends.
    const r = $("sentinel").getBoundingClientRect();
    if (b.total !== null && b.loaded < b.total && r.top < innerHeight + 400) loadPage();
  }

  function applyFilter() {
    const m = $("model-filter").value;
    for (const e of document.querySelectorAll("[data-model]")) e.hidden = m !== "" && e.dataset.model !== m;
  }

  async function load() {
    $("to-dashboard").href = withCode(root + "/dashboard");
    $("model-filter").addEventListener("change", applyFilter);
    try {
      state.index = await api("");
      renderIndex(state.index);
      const n = state.index.collections.reduce((a, c) => a + c.count, 0);
      const jobs = (kind, one, many) => { const k = state.index.results.filter(r => r.kind === kind).length; return `${k} ${k === 1 ? one : many}`; };
      $("status").textContent = `${state.index.collections.length} batches · ${n} images · ${state.index.grids.length} mixing grids · ${jobs("translation", "translation", "translations")} · ${jobs("projection", "projection", "projections")}`;
      const hash = /^#(batch|job)=(.+)$/.exec(location.hash);
      const job = hash && hash[1] === "job" ? state.index.results.find(r => r.jobId === decodeURIComponent(hash[2])) : null;
      if (hash && hash[1] === "batch") await openBatch(decodeURIComponent(hash[2]));
      else if (job) openResult(job);
      document.body.dataset.loaded = "true";
    } catch (e) {
      $("status").textContent = "Could not load the gallery: " + e.message;
      document.body.dataset.loaded = "error";
    }
  }
  load();
})();
