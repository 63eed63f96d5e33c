// The planners' page: segments (or, for a model of grid cells, squares) coloured by
// risk with a legend, one segment's or cell's score, explanation and history, the ward table, charts, and the model with retrain and
// re-score for planner keys.

/* global L, Chart, protomapsL */
import { $, api, fill, bboxOf, colourOf, el, formatNumber, formatTime, frameCity, keys, loadMessages, percent, rendered, reportFailures, say, streetTiles, t, tileUrl, tilesDrawn, vectorTiles } from "./upkeep.js";

const messages = $("#messages");
reportFailures(messages);

const map = L.map("map", { preferCanvas: true, attributionControl: false, zoomSnap: 0.5 });
// The streets in grey beneath, so the map shows the city before any model exists.
streetTiles(map);
// Every segment (or square) of the city coloured from the risk tiles, at any zoom; the
// riskiest are drawn last, on top.
let riskTiles = null;
// Over them, when the view holds few enough to list, the same segments in SVG: each an
// element a keyboard, a screen reader or a test can reach.
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
// The risk tiles are fetched as the page starts and painted once the legend's cuts
// are known.
let cutsKnown;
const cutsReady = new Promise((resolve) => {
  cutsKnown = resolve;
});
// Most segments listed (the riskiest in view) and drawn in SVG; zoomed out over a large
// city the tiles alone draw them.
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
    el("span", { class: "muted" }, t("planner.chance_legend", { days: horizonDays })),
    ...COLOURS.map((c, i) =>
      el("span", { style: `--swatch: ${c}` }, `${(bounds[i] * 100).toFixed(0)}–${(bounds[i + 1] * 100).toFixed(0)} %`),
    ),
  );
}

async function drawRisk() {
  let data;
  try {
    data = await api(`/api/v1/risk?format=geojson&order=riskiest&page_size=${PAGE}&bbox=${bboxOf(map)}`);
  } catch (error) {
    cutsKnown();
    throw error;
  }
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
  cutsKnown();
  const complete = data.features.length < PAGE;
  risk.clearLayers();
  if (complete) risk.addData(data);
  document.body.dataset.segments = String(data.features.length);
  $("#more").hidden = complete;
  lastRisk = data;
  drawRiskiest();
  // A new scoring run is a new edition of the tiles.
  const run = data.features.find((f) => f.properties.scored_at)?.properties.scored_at ?? "";
  if (riskTiles && riskTiles.edition === undefined) riskTiles.edition = run;
  if (riskTiles && riskTiles.edition !== run) {
    map.removeLayer(riskTiles);
    riskTiles = drawRiskTiles(run);
  }
}

const LINE = 2;
const POLYGON = 3;

function drawRiskTiles(run) {
  const layer = vectorTiles(map, tileUrl("risk", run ?? ""), [
    {
      dataLayer: "risk",
      filter: (z, f) => f.geomType === POLYGON,
      symbolizer: new protomapsL.PolygonSymbolizer({
        fill: (z, f) => colourFor(f?.props.probability),
        opacity: 0.55,
        stroke: "#566573",
        width: 0.5,
      }),
    },
    {
      dataLayer: "risk",
      filter: (z, f) => f.geomType === LINE,
      symbolizer: new protomapsL.LineSymbolizer({
        color: (z, f) => colourFor(f?.props.probability),
        width: (z) => (z < 13 ? 1.5 : z < 15 ? 3 : 5),
        opacity: 0.9,
      }),
    },
  ], { waitFor: [cutsReady] });
  layer.edition = run;
  layer.on("load", () => {
    document.body.dataset.riskTiles = layer.edition ?? "";
  });
  return layer;
}

/** Explains the segment (or square) at a point of the map, when the tiles alone draw it. */
async function showAt(latlng) {
  const at = `lat=${latlng.lat.toFixed(6)}&lon=${latlng.lng.toFixed(6)}`;
  const query = lastRisk?.features.some(isCell) ? `${at}&radius_m=1` : `${at}&nearest=1`;
  const found = await api(`/api/v1/risk?format=geojson&${query}`);
  if (found.features.length) await showFeature(found.features[0]);
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
    by === "probability" ? percent(p.probability, 0) : t("planner.per_km_value", { percent: percent(p.probability_per_km, 0) });
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
          `${isCell(f) ? t("planner.square_short", { cell: f.properties.cell }) : f.properties.name || t("planner.segment", { id })}: ${label(f.properties)}`,
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
    el("h2", {}, t("planner.square", { cell: p.cell, metres: formatNumber(p.cell_m) })),
    el("p", {}, el("strong", { id: "segment-probability" }, percent(p.probability, 1)), t("planner.chance", { days: p.horizon_days })),
    p.reason ? el("p", { id: "segment-reason" }, p.reason) : null,
    el("h2", {}, t("planner.why")),
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
    el("h2", {}, `${t("planner.segment", { id })}${score.name ? `: ${score.name}` : ""}`),
    el("p", {}, el("strong", { id: "segment-probability" }, percent(score.probability, 1)), t("planner.chance", { days: horizonDays })),
    score.reason ? el("p", { id: "segment-reason" }, score.reason) : null,
    el("h2", {}, t("planner.why")),
    explanationList(explanation),
    el("h2", {}, t("planner.history")),
    el(
      "ul",
      { class: "plain" },
      (score.history || []).slice(0, 8).map((h) => el("li", {}, `${formatTime(h.scored_at)}: ${percent(h.probability, 1)}`)),
      orders.items.map((o) => el("li", {}, t("planner.order_line", { id: o.id, kind: o.kind, service: o.service_code, status: o.status, when: formatTime(o.created_at) }))),
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
      el("tr", {}, ["ward", "population", "vulnerability", "open", "closed", "median", "p90", "overdue"].map((h, i) =>
        el("th", { scope: "col", class: i ? "num" : null }, t(`planner.th.${h}`)),
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
    options: { animation: false, responsive: true, scales: { x: { stacked: true }, y: { stacked: true, title: { display: true, text: t("planner.axis_reports") } } } },
  });
  const closed = byCategory.items.filter((t) => t.median_days_to_close !== null);
  new Chart($("#close"), {
    type: "bar",
    data: {
      labels: closed.map((t) => t.service_code),
      datasets: [
        { label: t("planner.median"), data: closed.map((t) => t.median_days_to_close), backgroundColor: "#2471a3" },
        { label: t("planner.p90"), data: closed.map((t) => t.p90_days_to_close), backgroundColor: "#d68910" },
      ],
    },
    options: { animation: false, indexAxis: "y", scales: { x: { title: { display: true, text: t("planner.axis_days") } } } },
  });
}

async function drawModel() {
  const models = await api("/api/v1/models");
  const active = models.items.find((m) => m.active);
  if (!active) {
    fill($("#model"), 
      el("p", { class: "muted" }, t(models.training ? "planner.training" : "planner.no_model")),
    );
    return false;
  }
  const m = active.metrics || {};
  const figure = (v, digits = 3) => (typeof v === "number" ? v.toFixed(digits) : "–");
  fill($("#model"), 
    el(
      "dl",
      { class: "facts", id: "metrics" },
      el("dt", {}, t("planner.model")),
      el("dd", {}, t("planner.trained", { kind: active.kind, when: formatTime(active.created_at) })),
      el("dt", {}, "ROC-AUC"),
      el("dd", {}, figure(m.roc_auc)),
      el("dt", {}, t("planner.precision")),
      el("dd", {}, figure(m.precision_at_10pct)),
      el("dt", {}, t("planner.lift")),
      el("dd", {}, figure(m.lift_at_1pct, 2)),
      el("dt", {}, t("planner.ece")),
      el("dd", {}, figure(m.ece)),
      models.training ? [el("dt", {}, t("planner.now")), el("dd", {}, t("planner.retraining"))] : null,
    ),
  );
  const curve = Array.isArray(m.calibration) ? m.calibration.filter((b) => b.count > 0) : [];
  new Chart($("#calibration"), {
    type: "scatter",
    data: {
      datasets: [
        { label: t("planner.series_model"), data: curve.map((b) => ({ x: b.predicted, y: b.observed })), backgroundColor: "#c0392b", showLine: true, borderColor: "#c0392b" },
        { label: t("planner.series_perfect"), data: [{ x: 0, y: 0 }, { x: 1, y: 1 }], showLine: true, borderColor: "#aab7b8", pointRadius: 0 },
      ],
    },
    options: { animation: false, scales: { x: { min: 0, max: 1, title: { display: true, text: t("planner.axis_predicted") } }, y: { min: 0, max: 1, title: { display: true, text: t("planner.axis_observed") } } } },
  });
  return true;
}

/** The data-quality report of every imported source (planners and admins). */
async function drawQuality() {
  const { items } = await api("/api/v1/imports/quality", { key: keys.get() });
  if (items.length === 0) {
    fill($("#quality"), el("p", { class: "muted" }, t("planner.nothing_imported")));
    return;
  }
  const share = (v) => (typeof v === "number" ? percent(v, 0) : "–");
  const count = (v) => (typeof v === "number" ? formatNumber(v) : "–");
  fill(
    $("#quality"),
    el(
      "table",
      { id: "quality-table" },
      el("caption", { class: "visually-hidden" }, t("planner.quality_label")),
      el("thead", {}, el("tr", {}, ...["source", "kind", "read", "refused", "stored", "no_position", "outside", "snapped", "problems"].map((h) => el("th", { scope: "col" }, t(`planner.q.${h}`))))),
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
            el("td", {}, share(q.snapped_share)),
            el("td", {}, q.problems.length ? el("ul", {}, ...q.problems.map((p) => el("li", {}, p))) : t("planner.none_found")),
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
  say(messages, allowed ? t("planner.signed_in", { name: who.name, role: who.role }) : t("planner.cannot", { role: who.role }), allowed ? "ok" : "error");
}

async function run(path, started) {
  try {
    await api(path, { method: "POST", key: keys.get() });
    say(messages, started, "info");
    followRun().catch((error) => say(messages, error.message));
  } catch (error) {
    say(messages, error.message);
  }
}

/** The time of the latest scoring run, from the one riskiest segment ("" before any). */
async function latestRun() {
  const top = await api("/api/v1/risk?format=geojson&order=riskiest&page_size=1");
  return top.features[0]?.properties.scored_at ?? "";
}

/** After a retrain or re-score, redraws the map once a new run is stored (checking every
 * two seconds, for up to ten minutes). */
async function followRun() {
  const before = riskTiles?.edition ?? "";
  for (let i = 0; i < 300; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    if ((await latestRun()) !== before) {
      await drawRisk();
      say(messages, t("planner.rescored"), "ok");
      return;
    }
  }
}

async function start() {
  await loadMessages();
  $("#staff").addEventListener("submit", (event) => {
    event.preventDefault();
    useKey($("#key").value.trim()).catch((error) => say(messages, error.status === 401 ? t("key.unknown") : error.message));
  });
  $("#retrain").addEventListener("click", () => run("/api/v1/models/train", t("planner.retrain_started")));
  $("#rescore").addEventListener("click", () => run("/api/v1/models/score", t("planner.rescore_started")));
  $("#rank-by").addEventListener("change", drawRiskiest);
  if (keys.get()) await useKey(keys.get()).catch(() => keys.clear());
  await frameCity(map);
  const scored = await drawModel();
  if (scored) {
    map.on("moveend", () => drawRisk().catch((e) => say(messages, e.message)));
    map.on("click", (event) => {
      if (risk.getLayers().length === 0) showAt(event.latlng).catch((e) => say(messages, e.message));
    });
    // Fetched alongside the listing below, which says which run they are of.
    riskTiles = drawRiskTiles(undefined);
    await drawRisk();
  }
  await Promise.all([drawWards(), drawCharts(), riskTiles ? tilesDrawn(riskTiles) : null]);
  rendered();
}

start().catch((error) => say(messages, error.message));
