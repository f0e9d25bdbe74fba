"use strict";
// rnnlens explore: the page. It asks /api/* (rnnlens/explorer/app.py) for windows of the text, the states
// and the predictions, and keeps only the few pages on screen: the trace stays on the server.

const PAGE = 1500;     // positions per page (the API serves at most 2000 predictions a request)
const COLS = 100;      // characters per row before a row wraps
const SHOWN = 8;       // units drawn as strips under the text
const KEEP = 4;        // pages kept on screen while scrolling
const STRIP = 5;       // pixels per unit strip

const $ = (id) => document.getElementById(id);
const state = {
  info: null, model: 0, versus: null, colourBy: "units", chosen: [], brush: null, cursor: null,
  selected: [], matches: [], focus: null, cells: null,
};
let pages = [];        // pages on screen, in text order: {start, end, text, states, preds, el, spans}
let loading = false;
let charWidth = 8;

// ---- the API

async function api(name, params) {
  const response = await fetch(`/api/${name}?${new URLSearchParams(params)}`);
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

let busy = 0;  // actions under way; body[data-busy] says how many (0: the page shows everything asked of it)

function run(promise) {
  // every action the page starts goes through here: its error is shown, and it counts as busy until done
  document.body.dataset.busy = ++busy;
  return promise.catch(report).finally(() => { document.body.dataset.busy = --busy; });
}

function report(error) {
  $("status").textContent = error ? String(error.message || error) : "";
  $("status").classList.toggle("error", Boolean(error));
}

const model = () => state.info.models[state.model];

// ---- colours (units as in rnnlens cells pictures: red at -1, white at 0, blue at +1)

const WHITE = [255, 255, 255], RED = [214, 38, 41], BLUE = [33, 102, 217];

function mix(a, b, t) {
  return `rgb(${a.map((x, i) => Math.round(x + t * (b[i] - x))).join(",")})`;
}

function diverging(v) {
  if (v === undefined || v === null || Number.isNaN(v)) return "";
  const c = Math.max(-1, Math.min(1, v));
  return c < 0 ? mix(WHITE, RED, -c) : mix(WHITE, BLUE, c);
}

const sequential = (p) => (p === undefined ? "" : mix(WHITE, RED, 1 - p));   // p(true): red where it was low

function shownChar(c) {
  return c === "\n" ? "\u21b5" : c === "\t" ? "\u21e5" : c === " " ? "\u2423" : c;
}

// ---- pages of text

function groups() {
  // the chosen units by (layer, quantity): one states request each
  const byKey = new Map();
  for (const u of state.chosen.slice(0, SHOWN)) {
    const key = `${u.layer}.${u.quantity}`;
    if (!byKey.has(key)) byKey.set(key, { layer: u.layer, quantity: u.quantity, units: [] });
    byKey.get(key).units.push(u.unit);
  }
  return byKey;
}

function predictionModels() {
  return state.versus === null ? [state.model] : [state.model, state.versus];
}

async function loadPage(start) {
  const length = Math.min(PAGE, state.info.chars - start);
  const rows = Math.min(length, state.info.positions - start);
  const page = { start, end: start + length, text: "", states: new Map(), preds: new Map() };
  const jobs = [api("text", { start, length }).then((r) => { page.text = r.text; })];
  if (rows > 0) {
    if (model().has_trace) {
      for (const [key, g] of groups()) {
        jobs.push(api("states", { model: state.model, layer: g.layer, quantity: g.quantity,
          units: g.units.join(","), start, length: rows }).then((r) => page.states.set(key, r)));
      }
    }
    for (const i of predictionModels()) {
      jobs.push(api("predictions", { model: i, start, length: rows, k: 5 }).then((r) => page.preds.set(i, r)));
    }
    if (state.colourBy === "onion" && model().onion) {
      // character pos is predicted at row pos - 1: the rows from just before the page
      jobs.push(api("onion", { model: state.model, start: Math.max(0, start - 1), length })
        .then((r) => { page.onion = r; }));
    }
  }
  await Promise.all(jobs);
  return page;
}

function valueOf(page, unit, pos) {
  const s = page.states.get(`${unit.layer}.${unit.quantity}`);
  if (!s || pos >= s.end) return undefined;
  return s.values[s.units.indexOf(unit.unit)][pos - page.start];
}

function onionCategory(page, pos) {
  // the onion category of the character at pos (-1: no error, or no onion loaded)
  const r = page.onion, row = pos - 1;
  return r && row >= r.start && row < r.end ? r.category[row - r.start] : -1;
}

function background(page, pos) {
  if (state.colourBy === "onion") {
    const k = onionCategory(page, pos);
    return k >= 0 ? model().onion.legend[k].colour : "";
  }
  const a = page.preds.get(state.model);
  if (state.colourBy === "ptrue") return a ? sequential(a.p_true[pos - page.start]) : "";
  if (state.colourBy === "diff") {
    const b = page.preds.get(state.versus);
    if (!a || !b || pos >= a.end) return "";
    return diverging(a.p_true[pos - page.start] - b.p_true[pos - page.start]);
  }
  return state.chosen.length ? diverging(valueOf(page, state.chosen[0], pos)) : "";
}

function renderPage(page) {
  const el = document.createElement("div");
  el.className = "page";
  el.dataset.start = page.start;
  page.spans = [];
  let row = null, line = null, count = 0;
  const rows = [];
  const newRow = (first) => {
    row = document.createElement("div");
    row.className = "row";
    line = document.createElement("div");
    line.className = "line";
    row.appendChild(line);
    rows.push({ row, first, count: 0 });
    el.appendChild(row);
    count = 0;
  };
  newRow(page.start);
  for (let i = 0; i < page.text.length; i++) {
    const pos = page.start + i, c = page.text[i];
    if (count === COLS) newRow(pos);
    const span = document.createElement("span");
    span.dataset.p = pos;
    span.textContent = c === "\n" ? "\u21b5" : c === "\t" ? "\u21e5" : c;
    if (c === "\n" || c === "\t") span.className = "mark";
    span.style.background = background(page, pos);
    const k = state.colourBy === "onion" ? onionCategory(page, pos) : -1;
    if (k >= 0) {
      const category = model().onion.legend[k];
      span.style.color = category.ink;
      span.dataset.category = k;
      span.title = category.label;
    }
    line.appendChild(span);
    page.spans.push(span);
    count++;
    rows[rows.length - 1].count = count;
    if (c === "\n" && i + 1 < page.text.length) newRow(pos + 1);
  }
  const shown = state.chosen.slice(0, SHOWN);
  if (state.colourBy === "units" && shown.length && model().has_trace) {
    for (const r of rows) drawStrips(r, page, shown);
  }
  page.el = el;
  markPage(page);
  return el;
}

function drawStrips(r, page, shown) {
  const canvas = document.createElement("canvas");
  canvas.className = "strips";
  canvas.width = Math.max(1, Math.ceil(r.count * charWidth));
  canvas.height = shown.length * STRIP;
  const g = canvas.getContext("2d");
  shown.forEach((unit, j) => {
    for (let i = 0; i < r.count; i++) {
      const colour = diverging(valueOf(page, unit, r.first + i));
      if (!colour) continue;
      g.fillStyle = colour;
      g.fillRect(Math.floor(i * charWidth), j * STRIP, Math.ceil(charWidth), STRIP - 1);
    }
  });
  r.row.appendChild(canvas);
}

function inRange(pos, range) {
  return range !== null && pos >= range.start && pos < range.end;
}

function markPage(page) {
  // brush, matches, the match jumped to and the cursor, as classes on the characters
  page.spans.forEach((span, i) => {
    const pos = page.start + i;
    span.classList.toggle("brush", inRange(pos, state.brush));
    span.classList.toggle("match", state.matches.some((m) => pos >= m.start && pos < m.end));
    span.classList.toggle("focus", inRange(pos, state.focus));
    span.classList.toggle("cursor", pos === state.cursor);
  });
}

const markAll = () => pages.forEach(markPage);

async function showAt(pos, { center = true } = {}) {
  // replace the pages on screen by the one holding pos (and the next), and scroll pos into view
  const start = Math.max(0, Math.min(pos, state.info.chars - 1));
  const first = Math.floor(start / PAGE) * PAGE;
  loading = true;
  try {
    const loaded = [await loadPage(first)];
    if (first + PAGE < state.info.chars && start - first > PAGE / 2) loaded.push(await loadPage(first + PAGE));
    const box = $("text");
    box.replaceChildren();
    pages = loaded;
    pages.forEach((p) => box.appendChild(renderPage(p)));
    await fill();
    const target = spanAt(start);
    if (target && center) target.scrollIntoView({ block: "center" });
    else if (target) box.scrollTop = 0;
    updateWhere();
    report(null);
  } finally {
    loading = false;
  }
}

async function fill() {
  // pages short enough to fit leave nothing to scroll: add the next ones until the box overflows
  const box = $("text");
  while (pages.length < KEEP && box.scrollHeight <= box.clientHeight + 300
         && pages[pages.length - 1].end < state.info.chars) {
    const page = await loadPage(pages[pages.length - 1].end);
    box.appendChild(renderPage(page));
    pages.push(page);
  }
}

function spanAt(pos) {
  const page = pages.find((p) => pos >= p.start && pos < p.end);
  return page ? page.spans[pos - page.start] : null;
}

async function reloadPages() {
  // the same pages again (after the chosen units or the colouring changed), keeping the scroll position
  if (!pages.length) return;
  const box = $("text"), top = box.scrollTop;
  const fresh = await Promise.all(pages.map((p) => loadPage(p.start)));
  box.replaceChildren();
  pages = fresh;
  pages.forEach((p) => box.appendChild(renderPage(p)));
  box.scrollTop = top;
}

async function onScroll() {
  if (loading || !pages.length) return;
  const box = $("text");
  loading = true;
  try {
    const last = pages[pages.length - 1], first = pages[0];
    if (box.scrollTop + box.clientHeight > box.scrollHeight - 300 && last.end < state.info.chars) {
      const page = await loadPage(last.end);
      box.appendChild(renderPage(page));
      pages.push(page);
      if (pages.length > KEEP) {
        const gone = pages.shift(), height = gone.el.offsetHeight;
        gone.el.remove();
        box.scrollTop -= height;
      }
    } else if (box.scrollTop < 300 && first.start > 0) {
      const page = await loadPage(Math.max(0, first.start - PAGE));
      const before = box.scrollHeight;
      box.insertBefore(renderPage(page), first.el);
      pages.unshift(page);
      box.scrollTop += box.scrollHeight - before;
      if (pages.length > KEEP) pages.pop().el.remove();
    }
  } catch (error) {
    report(error);
  } finally {
    loading = false;
  }
  updateWhere();
}

function updateWhere() {
  if (!pages.length) return;
  const box = $("text").getBoundingClientRect();
  const visible = pages.find((p) => p.el.getBoundingClientRect().bottom > box.top) || pages[0];
  $("where").textContent = `${visible.start.toLocaleString()}\u2013${visible.end.toLocaleString()} of ` +
    `${state.info.chars.toLocaleString()} characters`;
  $("scrub").value = visible.start;
}

// ---- the units shown

function renderChosen() {
  const box = $("chosen");
  box.replaceChildren();
  state.chosen.forEach((u, i) => {
    const chip = document.createElement("span");
    chip.className = "chip" + (i >= SHOWN ? " hidden-unit" : "");
    chip.textContent = `L${u.layer} ${u.quantity} #${u.unit}`;
    chip.title = i === 0 ? "colours the text" : i < SHOWN ? "a strip under the text" : `only the first ${SHOWN} are drawn`;
    const x = document.createElement("button");
    x.textContent = "\u00d7";
    x.title = "remove";
    x.onclick = () => { state.chosen.splice(i, 1); renderChosen(); run(reloadPages()); };
    chip.appendChild(x);
    box.appendChild(chip);
  });
  if (!state.chosen.length) box.textContent = model().has_trace ? "none (add one, brush the text, or pick a cell)" : "none: this model has no trace";
  renderLegend();
}

function renderLegend() {
  const names = predictionModels().map((i) => state.info.models[i].name);
  const legend = {
    units: `Background: the first unit shown (red \u22121, white 0, blue +1); strips under each row: every unit shown, in order.`,
    ptrue: `Background: p(true) of ${names[0]}: white where it gave the next character probability 1, red where 0.`,
    diff: names.length > 1
      ? `Background: p(true) of ${names[0]} minus that of ${names[1]}: blue where ${names[0]} did better, red where ${names[1]} did.`
      : "Choose a model to compare with.",
    onion: `Background: each character ${names[0]} got wrong (p(true) below 0.5 at the step before), by the first ` +
      `oracle of its onion (${model().onion ? model().onion.source : ""}) that explains it; plain: no error.`,
  }[state.colourBy];
  $("legend").textContent = `${legend} Outlined: the brush; yellow: matches; green: the match jumped to.`;
  if (state.colourBy === "onion" && model().onion) $("legend").appendChild(onionSwatches(model().onion));
}

function onionSwatches(onion) {
  // the onion's categories in its pie's colours, in peeling order
  const box = document.createElement("div");
  box.className = "swatches";
  onion.legend.forEach((c, k) => {
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.dataset.category = k;
    swatch.style.background = c.colour;
    swatch.style.color = c.ink;
    swatch.textContent = c.label;
    box.appendChild(swatch);
  });
  return box;
}

function addUnit() {
  const layer = Number($("add-layer").value), quantity = $("add-quantity").value, unit = Number($("add-unit").value);
  const units = model().units[String(layer)];
  if (!(unit >= 0 && unit < units)) { report(`layer ${layer} has units 0-${units - 1}`); return; }
  if (!state.chosen.some((u) => u.layer === layer && u.quantity === quantity && u.unit === unit)) {
    state.chosen.unshift({ layer, quantity, unit });
  }
  state.colourBy = "units";
  $("colour-by").value = "units";
  renderChosen();
  run(reloadPages());
}

// ---- select and match

function selectionParams() {
  const layers = [...document.querySelectorAll("#sel-layers input:checked")].map((c) => c.value);
  return {
    model: state.model, quantity: $("sel-quantity").value, layers: layers.join(","),
    threshold: $("threshold").value, sign: $("sign").value,
    left: $("pad-left").value || 0, right: $("pad-right").value || 0,
  };
}

async function selectAndMatch() {
  if (!state.brush || !model().has_trace) return;
  const params = selectionParams();
  if (!params.layers) { report("tick at least one layer"); return; }
  const sel = await api("select", { ...params, start: state.brush.start, end: state.brush.end });
  state.selected = sel.units;
  state.matches = [];
  state.focus = null;
  renderSelected(params.quantity);
  renderMatches(null);
  if (sel.units.length && sel.units.length <= state.info.limits.selected) {
    const pairs = sel.units.map((u) => `${u.layer}:${u.unit}`).join(",");
    const { layers, ...rest } = params;
    const found = await api("match", { ...rest, units: pairs, exclude_start: state.brush.start,
      exclude_end: state.brush.end, limit: 30 });
    state.matches = found.matches;
    renderMatches(found);
    state.chosen = sel.units.slice(0, SHOWN).map((u) => ({ layer: u.layer, quantity: params.quantity, unit: u.unit }));
    state.colourBy = "units";
    $("colour-by").value = "units";
    renderChosen();
    await reloadPages();
  } else {
    markAll();
  }
}

function renderSelected(quantity) {
  const box = $("selected");
  box.replaceChildren();
  const n = state.selected.length;
  const head = document.createElement("div");
  head.textContent = n === 0 ? "no unit is on over the whole brush and off before it: lower the threshold, flip " +
    "the sign or change the padding" : n > state.info.limits.selected
    ? `${n} units selected, more than ${state.info.limits.selected} can be matched: raise the threshold`
    : `${n} unit${n === 1 ? "" : "s"} selected (${quantity}):`;
  box.appendChild(head);
  for (const u of state.selected) {
    const chip = document.createElement("button");
    chip.className = "chip selected-unit";
    chip.dataset.layer = u.layer;
    chip.dataset.unit = u.unit;
    chip.textContent = `L${u.layer} #${u.unit}`;
    chip.title = "show this unit first";
    chip.onclick = () => {
      state.chosen = [{ layer: u.layer, quantity, unit: u.unit },
        ...state.chosen.filter((c) => !(c.layer === u.layer && c.unit === u.unit && c.quantity === quantity))];
      renderChosen();
      run(reloadPages());
    };
    box.appendChild(chip);
  }
}

function snippet(m) {
  const frag = document.createElement("span");
  frag.className = "snippet";
  const show = (s) => [...s].map(shownChar).join("");
  frag.append(show(m.before));
  const b = document.createElement("b");
  b.textContent = show(m.text);
  frag.append(b, show(m.after));
  return frag;
}

function renderMatches(found) {
  const list = $("matches");
  list.replaceChildren();
  $("match-info").textContent = found === null ? "" : `${found.matches.length} best of ${found.candidates} ` +
    `candidate${found.candidates === 1 ? "" : "s"}${found.truncated ? ` (${found.scored} scored)` : ""}; ` +
    "ranked by overlap with the selection, then smallest union, then length";
  for (const m of state.matches) {
    const li = document.createElement("li");
    li.className = "match-item";
    li.dataset.start = m.start;
    li.dataset.end = m.end;
    const facts = document.createElement("div");
    facts.className = "facts";
    facts.textContent = `${m.start.toLocaleString()}\u2013${m.end.toLocaleString()} \u00b7 ${m.overlap} of ` +
      `${state.selected.length} selected on \u00b7 union ${m.union} \u00b7 ${m.length} chars`;
    li.append(facts, snippet(m));
    li.onclick = () => {
      state.focus = { start: m.start, end: m.end };
      document.querySelectorAll(".match-item.current").forEach((x) => x.classList.remove("current"));
      li.classList.add("current");
      run(showAt(m.start));
    };
    list.appendChild(li);
  }
}

async function drawHistogram() {
  const canvas = $("histogram"), g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const params = selectionParams();
  if (!model().has_trace || !params.layers) return;
  const h = await api("histogram", { model: state.model, quantity: params.quantity, layers: params.layers });
  canvas.dataset.low = h.edges[0];
  canvas.dataset.high = h.edges[h.edges.length - 1];
  const top = Math.max(...h.counts.map(Math.sqrt)), width = canvas.width / h.counts.length, base = canvas.height - 14;
  g.fillStyle = "#8a9bb5";
  h.counts.forEach((c, i) => {
    const height = (Math.sqrt(c) / top) * (base - 4);
    g.fillRect(i * width, base - height, Math.max(1, width - 1), height);
  });
  const x = (v) => ((v - h.edges[0]) / (h.edges[h.edges.length - 1] - h.edges[0])) * canvas.width;
  const threshold = Number($("threshold").value) * Number($("sign").value);
  g.strokeStyle = "#d62628";
  g.beginPath();
  g.moveTo(x(threshold), 0);
  g.lineTo(x(threshold), base);
  g.stroke();
  g.fillStyle = "#333";
  g.font = "10px sans-serif";
  g.fillText(h.edges[0].toFixed(2), 2, canvas.height - 2);
  g.fillText(h.edges[h.edges.length - 1].toFixed(2), canvas.width - 30, canvas.height - 2);
  g.fillText(`sqrt(count), ${h.rows.toLocaleString()} rows`, canvas.width / 2 - 50, canvas.height - 2);
}

function histogramClick(event) {
  const canvas = $("histogram"), rect = canvas.getBoundingClientRect();
  const low = Number(canvas.dataset.low), high = Number(canvas.dataset.high);
  if (Number.isNaN(low)) return;
  const value = low + ((event.clientX - rect.left) / rect.width) * (high - low);
  $("threshold").value = (value * Number($("sign").value)).toFixed(3);
  settingsChanged();
}

function settingsChanged() {
  run(drawHistogram());
  run(selectAndMatch());
}

// ---- brushing and clicking on the text

let dragFrom = null, dragTo = null;

function positionOf(event) {
  const span = event.target.closest("span[data-p]");
  return span ? Number(span.dataset.p) : null;
}

function onMouseDown(event) {
  const pos = positionOf(event);
  if (pos === null) return;
  event.preventDefault();
  dragFrom = dragTo = pos;
}

function onMouseOver(event) {
  if (dragFrom === null) return;
  const pos = positionOf(event);
  if (pos === null || pos === dragTo) return;
  dragTo = pos;
  const lo = Math.min(dragFrom, dragTo), hi = Math.max(dragFrom, dragTo);
  pages.forEach((p) => p.spans.forEach((s, i) => s.classList.toggle("dragging", p.start + i >= lo && p.start + i <= hi)));
}

function onMouseUp() {
  if (dragFrom === null) return;
  const lo = Math.min(dragFrom, dragTo), hi = Math.max(dragFrom, dragTo);
  dragFrom = dragTo = null;
  document.querySelectorAll("span.dragging").forEach((s) => s.classList.remove("dragging"));
  if (hi === lo) {
    state.cursor = lo;
    markAll();
    showPredictions(lo);
    return;
  }
  const end = Math.min(hi + 1, state.info.positions, lo + state.info.limits.brush);
  state.brush = { start: lo, end };
  const text = pages.map((p) => p.text.slice(Math.max(0, lo - p.start), Math.max(0, end - p.start))).join("");
  $("brush-info").textContent = `brush ${lo.toLocaleString()}\u2013${end.toLocaleString()} (${end - lo} chars): ` +
    `\u201c${[...text].map(shownChar).join("")}\u201d`;
  markAll();
  run(selectAndMatch());
}

// ---- predictions at the cursor

function showPredictions(pos) {
  const box = $("predictions");
  box.replaceChildren();
  const page = pages.find((p) => pos >= p.start && pos < p.end);
  if (!page || pos >= state.info.positions) {
    box.textContent = "the last character has nothing after it to predict";
    return;
  }
  const text = page.text, i = pos - page.start;
  const next = i + 1 < text.length ? text[i + 1] : null;
  const head = document.createElement("p");
  const context = [...text.slice(Math.max(0, i - 20), i + 1)].map(shownChar).join("");
  head.textContent = `position ${pos.toLocaleString()}: after \u201c${context}\u201d the next character is ` +
    (next === null ? "on the next page" : `\u201c${shownChar(next)}\u201d`);
  box.appendChild(head);
  const row = document.createElement("div");
  row.className = "side-by-side";
  for (const m of predictionModels()) {
    const preds = page.preds.get(m);
    const col = document.createElement("div");
    col.className = "model-predictions";
    const title = document.createElement("h3");
    title.textContent = state.info.models[m].name;
    col.appendChild(title);
    const p = document.createElement("div");
    p.className = "p-true";
    p.textContent = preds ? `p(true) = ${preds.p_true[i].toFixed(4)}` : "";
    col.appendChild(p);
    const table = document.createElement("table");
    for (const [c, q] of (preds && preds.top ? preds.top[i] : [])) {
      const tr = table.insertRow();
      tr.className = c === next ? "true-char" : "";
      tr.insertCell().textContent = shownChar(c);
      const bar = tr.insertCell();
      const fill = document.createElement("span");
      fill.className = "bar";
      fill.style.width = `${Math.round(q * 100)}%`;
      bar.appendChild(fill);
      tr.insertCell().textContent = q.toFixed(3);
    }
    if (preds && !preds.top) col.append("top-k unavailable: " + state.info.models[m].notes.join("; "));
    col.appendChild(table);
    row.appendChild(col);
  }
  box.appendChild(row);
}

// ---- discovered cells

async function loadCells() {
  $("cells-load").disabled = true;
  $("cells-source").textContent = "computing\u2026";
  try {
    const cells = await api("cells", { model: state.model });
    state.cells = cells;
    $("cells-source").textContent = `${cells.quantity}, ${cells.source}`;
    const table = $("cells");
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    for (const name of ["feature", "unit", "score", "chance", "direction", "chars"]) {
      head.appendChild(document.createElement("th")).textContent = name;
    }
    const body = table.createTBody();
    for (const r of cells.rows) {
      const tr = body.insertRow();
      tr.className = "cell-row" + (r.beyond_chance ? "" : " within-chance");
      tr.dataset.feature = r.feature;
      tr.title = r.beyond_chance ? "show this unit over the text" : "no unit beyond chance: shown anyway";
      for (const v of [r.feature, `L${r.layer} #${r.unit}`, `${r.metric} ${r.score.toFixed(3)}`,
        r.null_score.toFixed(3), r.direction, r.support.toLocaleString()]) tr.insertCell().textContent = v;
      tr.onclick = () => showCell(r, cells.quantity);
    }
  } catch (error) {
    report(error);
    $("cells-source").textContent = "";
  } finally {
    $("cells-load").disabled = false;
  }
}

function showCell(row, quantity) {
  state.chosen = [{ layer: row.layer, quantity, unit: row.unit }, ...state.chosen.filter(
    (u) => !(u.layer === row.layer && u.unit === row.unit && u.quantity === quantity))];
  state.colourBy = "units";
  $("colour-by").value = "units";
  // a unit lower inside its feature is "on" there when its value is below -threshold
  $("sign").value = /lower|falls/.test(row.direction) ? "-1" : "1";
  if ([...$("sel-quantity").options].some((o) => o.value === quantity)) $("sel-quantity").value = quantity;
  renderChosen();
  run(drawHistogram());
  run(showAt(row.window[0], { center: false }));
}

// ---- set-up

function fillSelect(select, options, value) {
  select.replaceChildren(...options.map(([v, label]) => new Option(label, v)));
  if (value !== undefined) select.value = value;
}

function setModel(index) {
  state.model = index;
  const m = model();
  const others = state.info.models.map((o, i) => [String(i), o.name]).filter(([i]) => Number(i) !== index);
  fillSelect($("versus"), [["", "(none)"], ...others], others.length ? others[0][0] : "");
  state.versus = others.length ? Number(others[0][0]) : null;
  $("versus-label").hidden = !others.length;
  $("model-info").textContent = `${m.description}` + (m.notes.length ? ` \u2014 ${m.notes.join("; ")}` : "");
  const quantities = [...new Set(Object.values(m.quantities).flat())];
  fillSelect($("sel-quantity"), quantities.map((q) => [q, q]), m.default_quantity);
  fillSelect($("add-quantity"), quantities.map((q) => [q, q]), m.default_quantity);
  fillSelect($("add-layer"), m.layers.map((l) => [String(l), `layer ${l}`]));
  $("sel-layers").replaceChildren(...m.layers.map((l) => {
    const label = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.value = l;
    box.checked = true;
    box.onchange = settingsChanged;
    label.append(box, ` layer ${l}`);
    return label;
  }));
  state.chosen = m.has_trace ? [0, 1, 2].filter((u) => u < m.units[String(m.layers[0])])
    .map((unit) => ({ layer: m.layers[0], quantity: m.default_quantity, unit })) : [];
  $("colour-by").querySelector('option[value="onion"]').hidden = !m.onion;
  $("colour-by").querySelector('option[value="onion"]').disabled = !m.onion;
  state.colourBy = m.has_trace ? "units" : "ptrue";
  $("colour-by").value = state.colourBy;
  state.brush = state.focus = state.cursor = state.cells = null;
  state.selected = state.matches = [];
  for (const id of ["select-panel", "cells-panel", "chosen-bar"]) $(id).classList.toggle("disabled", !m.has_trace);
  $("cells").replaceChildren();
  $("cells-source").textContent = m.cells_source || "";
  $("brush-info").textContent = m.has_trace ? "no brush yet" : "this model has no trace to select units from";
  $("selected").replaceChildren();
  renderMatches(null);
  renderChosen();
}

function measureCharWidth() {
  const probe = document.createElement("div");
  probe.className = "line";
  probe.style.visibility = "hidden";
  probe.style.position = "absolute";
  probe.textContent = "M".repeat(100);
  $("text").appendChild(probe);
  charWidth = probe.getBoundingClientRect().width / 100 || 8;
  probe.remove();
}

async function start() {
  state.info = await api("info", {});
  fillSelect($("model"), state.info.models.map((m, i) => [String(i), m.name]));
  $("scrub").max = Math.max(0, state.info.chars - 1);
  measureCharWidth();
  setModel(0);
  $("model").onchange = () => {
    setModel(Number($("model").value));
    run(showAt(0, { center: false }).then(drawHistogram));
  };
  $("versus").onchange = () => {
    state.versus = $("versus").value === "" ? null : Number($("versus").value);
    renderLegend();
    run(reloadPages());
  };
  $("colour-by").onchange = () => { state.colourBy = $("colour-by").value; renderLegend(); run(reloadPages()); };
  $("prev").onclick = () => run(showAt(Math.max(0, pages.length ? pages[0].start - PAGE : 0), { center: false }));
  $("next").onclick = () => run(showAt(pages.length ? pages[pages.length - 1].end : 0, { center: false }));
  $("scrub").onchange = () => run(showAt(Number($("scrub").value), { center: false }));
  $("goto").onkeydown = (e) => { if (e.key === "Enter") run(showAt(Number($("goto").value))); };
  $("add-btn").onclick = addUnit;
  $("text").addEventListener("scroll", () => run(onScroll()));
  $("text").addEventListener("mousedown", onMouseDown);
  $("text").addEventListener("mouseover", onMouseOver);
  document.addEventListener("mouseup", onMouseUp);
  for (const id of ["threshold", "sign", "pad-left", "pad-right", "sel-quantity"]) $(id).onchange = settingsChanged;
  $("histogram").onclick = histogramClick;
  $("cells-load").onclick = () => run(loadCells());
  await showAt(0, { center: false });
  document.body.dataset.ready = "true";  // the first view is on screen; the histogram comes after it
  await drawHistogram();
}

run(start());
