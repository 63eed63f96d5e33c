// The planners' page: segments (or, for a model of grid cells, squares) coloured by
// risk with a legend, one segment's or cell's score, explanation and history, the ward table, charts, and the model with retrain and
// re-score for planner keys.

/* global L, Chart */
import { $, api, fill, bboxOf, colourOf, el, formatTime, frameCity, keys, rendered, reportFailures, say } from "./upkeep.js";

const messages = $("#messages");
reportFailures(messages);

const map = L.map("map", { preferCanvas: true, attributionControl: false, zoomSnap: 0.5 });
// SVG, not canvas: each segment is an element a keyboard, a screen reader or a test can reach.
const isCell = (feature) => feature.properties.unit === "cell";
const risk = L.geoJSON(null, {
  renderer: L.svg(),
  style: (feature) =>
    isCell(feature)
      ? { color: "#566573", weight: 1, fillColor: colourFor(feature.properties.probability), fillOpacity: 0.55 }
      : { color: colourFor(feature.properties.probability), weight: 5, opacity: 0.9 },
  onEachFeature: (feature, layer) => {
    const id = feature.id ?? feature.properties.id;
    layer.options.className = isCell(feature) ? `cell cell-${id}` : `segment segment-${id}`;
    layer.on("click", () => showFeature(feature).catch((e) => say(messages, e.message)));
  },
}).addTo(map);
// Days ahead the active model looks, from its scores (28 until they say otherwise).
let horizonDays = 28;
let cuts = [];
// Most segments drawn at once; zoomed out over a large city, the first ones only.
const PAGE = 1000;
const COLOURS = ["#1a9850", "#91cf60", "#fee08b", "#fc8d59", "#d73027"];

function colourFor(p) {
  if (p === null || p === undefined) return "#aab7b8";
  let i = 0;
  while (i < cuts.length && p > cuts[i]) i += 1;
  return COLOURS[i];
}

function drawLegend() {
  const bounds = [0, ...cuts, 1];
  fill($("#legend"), 
    el("span", { class: "muted" }, `Chance of new road damage in ${horizonDays} days:`),
    ...COLOURS.map((c, i) =>
      el("span", { style: `--swatch: ${c}` }, `${(bounds[i] * 100).toFixed(0)}–${(bounds[i + 1] * 100).toFixed(0)} %`),
    ),
  );
}

async function drawRisk() {
  const data = await api(`/api/v1/risk?format=geojson&page_size=${PAGE}&bbox=${bboxOf(map)}`);
  const cells = data.features.length > 0 && isCell(data.features[0]);
  if (data.features.length) horizonDays = data.features[0].properties.horizon_days ?? horizonDays;
  // A square has no length: cells rank by probability only.
  $("#rank-by").hidden = cells;
  $("label[for=rank-by]").hidden = cells;
  if (cells) $("#rank-by").value = "probability";
  if (!cuts.length && data.features.some((f) => f.properties.probability !== null)) {
    const p = data.features.map((f) => f.properties.probability).filter((v) => v !== null).sort((a, b) => a - b);
    cuts = [0.2, 0.4, 0.6, 0.8].map((q) => p[Math.floor(q * (p.length - 1))]);
    drawLegend();
  }
  risk.clearLayers();
  risk.addData(data);
  document.body.dataset.segments = String(data.features.length);
  $("#more").hidden = data.features.length < PAGE;
  lastRisk = data;
  drawRiskiest();
}

// The last risk layer drawn, so the list can be ranked again without a request.
let lastRisk = null;

// The same streets for the keyboard: the ten riskiest in view, per street or per km.
function drawRiskiest() {
  if (!lastRisk) return;
  const by = $("#rank-by").value;
  const top = lastRisk.features
    .filter((f) => f.properties[by] !== null && f.properties[by] !== undefined)
    .sort((a, b) => b.properties[by] - a.properties[by])
    .slice(0, 10);
  const label = (p) =>
    by === "probability" ? `${(p.probability * 100).toFixed(0)} %` : `${(p.probability_per_km * 100).toFixed(0)} % per km`;
  fill(
    $("#riskiest"),
    top.map((f) => {
      const id = f.id ?? f.properties.id;
      return el(
        "li",
        {},
        el(
          "button",
          { type: "button", class: "secondary", onclick: () => showFeature(f).catch((e) => say(messages, e.message)) },
          `${isCell(f) ? `Square ${f.properties.cell}` : f.properties.name || `Segment ${id}`}: ${label(f.properties)}`,
        ),
      );
    }),
  );
}

/** Explains a feature of the risk layer: a cell from its own properties, a segment from the API. */
async function showFeature(feature) {
  if (!isCell(feature)) return showSegment(feature.id ?? feature.properties.id);
  const p = feature.properties;
  fill($("#segment"),
    el("h2", {}, `Square ${p.cell} (${p.cell_m} m a side)`),
    el("p", {}, el("strong", { id: "segment-probability" }, `${(p.probability * 100).toFixed(1)} %`), ` chance of new road damage in the next ${p.horizon_days} days.`),
    p.reason ? el("p", { id: "segment-reason" }, p.reason) : null,
    el("h2", {}, "Why"),
    explanationList(p.explanation || []),
  );
}

function explanationList(explanation) {
  return el(
    "ul",
    { class: "plain", id: "explanation" },
    explanation.map((c) => el("li", {}, `${c.effect > 0 ? "▲" : "▼"} ${c.meaning || c.feature}`, el("span", { class: "muted" }, ` (${c.effect > 0 ? "+" : ""}${c.effect.toFixed(3)})`))),
  );
}

async function showSegment(id) {
  const [score, orders] = await Promise.all([
    api(`/api/v1/segments/${id}/risk`),
    api(`/api/v1/work-orders?segment_id=${id}&page_size=20`),
  ]);
  const explanation = score.explanation || [];
  fill($("#segment"), 
    el("h2", {}, `Segment ${id}${score.name ? `: ${score.name}` : ""}`),
    el("p", {}, el("strong", { id: "segment-probability" }, `${(score.probability * 100).toFixed(1)} %`), ` chance of new road damage in the next ${horizonDays} days.`),
    score.reason ? el("p", { id: "segment-reason" }, score.reason) : null,
    el("h2", {}, "Why"),
    explanationList(explanation),
    el("h2", {}, "History"),
    el(
      "ul",
      { class: "plain" },
      (score.history || []).slice(0, 8).map((h) => el("li", {}, `${formatTime(h.scored_at)}: ${(h.probability * 100).toFixed(1)} %`)),
      orders.items.map((o) => el("li", {}, `Order ${o.id} (${o.kind}, ${o.service_code}): ${o.status}, ${formatTime(o.created_at)}`)),
    ),
  );
}

async function drawWards() {
  const [wards, stats] = await Promise.all([api("/api/v1/wards?counts=false"), api("/api/v1/stats?group_by=ward")]);
  const byWard = new Map(stats.items.map((t) => [t.ward_id, t]));
  const number = (v) => (v === null || v === undefined ? "–" : String(v));
  $("#wards").append(
    el(
      "thead",
      {},
      el("tr", {}, ["Ward", "Population", "Vulnerability", "Open", "Closed", "Median days to close", "90th percentile", "Overdue orders"].map((h, i) =>
        el("th", { scope: "col", class: i ? "num" : null }, h),
      )),
    ),
    el(
      "tbody",
      {},
      wards.items.map((w) => {
        const t = byWard.get(w.id) || {};
        return el(
          "tr",
          {},
          el("th", { scope: "row" }, w.name),
          [w.population, w.vulnerability?.toFixed(2), t.open, t.closed, t.median_days_to_close, t.p90_days_to_close, t.overdue_orders].map((v) =>
            el("td", { class: "num" }, number(v)),
          ),
        );
      }),
    ),
  );
}

async function drawCharts() {
  const [weekly, byCategory] = await Promise.all([api("/api/v1/stats/weekly?weeks=26"), api("/api/v1/stats?group_by=service_code")]);
  new Chart($("#weekly"), {
    type: "bar",
    data: {
      labels: weekly.weeks,
      datasets: Object.entries(weekly.series).map(([code, counts]) => ({ label: code, data: counts, backgroundColor: colourOf(code) })),
    },
    options: { animation: false, responsive: true, scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: "reports" } } } },
  });
  const closed = byCategory.items.filter((t) => t.median_days_to_close !== null);
  new Chart($("#close"), {
    type: "bar",
    data: {
      labels: closed.map((t) => t.service_code),
      datasets: [
        { label: "median", data: closed.map((t) => t.median_days_to_close), backgroundColor: "#2471a3" },
        { label: "90th percentile", data: closed.map((t) => t.p90_days_to_close), backgroundColor: "#d68910" },
      ],
    },
    options: { animation: false, indexAxis: "y", scales: { x: { title: { display: true, text: "days" } } } },
  });
}

async function drawModel() {
  const models = await api("/api/v1/models");
  const active = models.items.find((m) => m.active);
  if (!active) {
    fill($("#model"), 
      el("p", { class: "muted" }, models.training ? "The first model is being trained; the map fills in when it is done." : "No model yet."),
    );
    return false;
  }
  const m = active.metrics || {};
  const figure = (v, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : "–");
  fill($("#model"), 
    el(
      "dl",
      { class: "facts", id: "metrics" },
      el("dt", {}, "Model"),
      el("dd", {}, `${active.kind}, trained ${formatTime(active.created_at)}`),
      el("dt", {}, "ROC-AUC"),
      el("dd", {}, figure(m.roc_auc)),
      el("dt", {}, "Precision, top 10 %"),
      el("dd", {}, figure(m.precision_at_10pct)),
      el("dt", {}, "Lift, top 1 %"),
      el("dd", {}, figure(m.lift_at_1pct, 2)),
      el("dt", {}, "Calibration error"),
      el("dd", {}, figure(m.ece)),
      models.training ? [el("dt", {}, "Now"), el("dd", {}, "retraining…")] : null,
    ),
  );
  const curve = Array.isArray(m.calibration) ? m.calibration.filter((b) => b.count > 0) : [];
  new Chart($("#calibration"), {
    type: "scatter",
    data: {
      datasets: [
        { label: "model", data: curve.map((b) => ({ x: b.predicted, y: b.observed })), backgroundColor: "#c0392b", showLine: true, borderColor: "#c0392b" },
        { label: "perfect", data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, borderColor: "#aab7b8", pointRadius: 0 },
      ],
    },
    options: { animation: false, scales: { x: { min: 0, max: 1, title: { display: true, text: "predicted" } }, y: { min: 0, max: 1, title: { display: true, text: "observed" } } } },
  });
  return true;
}

/** The data-quality report of every imported source (planners and admins). */
async function drawQuality() {
  const { items } = await api("/api/v1/imports/quality", { key: keys.get() });
  if (items.length === 0) {
    fill($("#quality"), el("p", { class: "muted" }, "Nothing has been imported yet (see `upkeep import`)."));
    return;
  }
  const percent = (v) => (typeof v === "number" ? `${(100 * v).toFixed(0)} %` : "–");
  const count = (v) => (typeof v === "number" ? v.toLocaleString() : "–");
  fill(
    $("#quality"),
    el(
      "table",
      { id: "quality-table" },
      el("caption", { class: "visually-hidden" }, "Quality of each imported source"),
      el("thead", {}, el("tr", {}, ...["Source", "Kind", "Rows read", "Refused", "Stored", "No position", "Outside city", "Snapped", "Problems"].map((h) => el("th", { scope: "col" }, h)))),
      el(
        "tbody",
        {},
        ...items.map((q) =>
          el(
            "tr",
            {},
            el("th", { scope: "row" }, q.source),
            el("td", {}, q.kind),
            el("td", {}, count(q.rows_read)),
            el("td", {}, count(q.rows_rejected)),
            el("td", {}, count(q.records)),
            el("td", {}, count(q.without_position)),
            el("td", {}, count(q.outside_city)),
            el("td", {}, percent(q.snapped_share)),
            el("td", {}, q.problems.length ? el("ul", {}, ...q.problems.map((p) => el("li", {}, p))) : "none found"),
          ),
        ),
      ),
    ),
  );
}

async function useKey(key) {
  const who = await api("/api/v1/me", { key });
  const allowed = who.role === "planner" || who.role === "admin";
  $("#retrain").disabled = !allowed;
  $("#rescore").disabled = !allowed;
  if (allowed) {
    keys.set(key);
    await drawQuality().catch((error) => say(messages, error.message));
  }
  say(messages, allowed ? `Signed in as ${who.name} (${who.role}).` : `A ${who.role} key cannot retrain or re-score; planner and admin keys can.`, allowed ? "ok" : "error");
}

async function run(path, started) {
  try {
    await api(path, { method: "POST", key: keys.get() });
    say(messages, started, "info");
  } catch (error) {
    say(messages, error.message);
  }
}

async function start() {
  $("#staff").addEventListener("submit", (event) => {
    event.preventDefault();
    useKey($("#key").value.trim()).catch((error) => say(messages, error.status === 401 ? "That key is unknown or revoked." : error.message));
  });
  $("#retrain").addEventListener("click", () => run("/api/v1/models/train", "Retraining started; the map updates when it is done."));
  $("#rescore").addEventListener("click", () => run("/api/v1/models/score", "Re-scoring started."));
  $("#rank-by").addEventListener("change", drawRiskiest);
  if (keys.get()) await useKey(keys.get()).catch(() => keys.clear());
  await frameCity(map);
  const scored = await drawModel();
  if (scored) {
    map.on("moveend", () => drawRisk().catch((e) => say(messages, e.message)));
    await drawRisk();
  }
  await Promise.all([drawWards(), drawCharts()]);
  rendered();
}

start().catch((error) => say(messages, error.message));
