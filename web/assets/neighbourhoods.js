// The public neighbourhood dashboard: each ward's figures on a shaded map, in a table a
// screen reader can use, and as CSV. The figures are the city's summary, computed once a
// minute; the page says when.

/* global L */
import { $, api, cityMap, el, fill, formatNumber, formatTime, frameCity, loadMessages, rendered, reportFailures, say, t } from "./upkeep.js";

const messages = $("#messages");
reportFailures(messages);

const { map, drawStreets } = cityMap("map");
const SHADES = ["#eaf2f8", "#a9cce3", "#5499c7", "#1f618d", "#0b2f4a"];
// Text and pattern as well as colour: the legend names each range, and each ward's
// figure is written on it.
const wards = L.geoJSON(null, {
  renderer: L.svg(),
  style: (feature) => ({ color: "#1b2631", weight: 1.5, fillOpacity: 0.55, fillColor: shadeOf(feature.properties[figure()]) }),
  onEachFeature: (feature, layer) => {
    layer.options.className = `ward ward-${feature.id}`;
    layer.bindTooltip(() => `${wardName(feature.properties)}: ${words(figure(), feature.properties[figure()])}`, { sticky: true });
  },
}).addTo(map);
let cuts = [];

const figure = () => $("#shade-by").value;

/** The city's own row is named by the server in English; wards by their names. */
const wardName = (figures) => (figures.ward_id === null || figures.ward_id === undefined ? t("hoods.city") : figures.name);

function words(name, value) {
  if (value === null || value === undefined) return t("hoods.none_yet");
  if (name === "fixed_within_sla" || name === "reopen_rate") return formatNumber(value, { style: "percent" });
  if (name === "median_days_to_fix") return t("hoods.days", { days: formatNumber(value) });
  return formatNumber(value);
}

function shadeOf(value) {
  if (value === null || value === undefined) return "#ffffff";
  let i = 0;
  while (i < cuts.length && value > cuts[i]) i += 1;
  return SHADES[i];
}

function shade(data) {
  const values = data.features.map((f) => f.properties[figure()]).filter((v) => v !== null && v !== undefined).sort((a, b) => a - b);
  const [low, high] = [values[0], values[values.length - 1]];
  // Quintiles, each cut once: few wards, or equal figures, make fewer shades.
  cuts = [...new Set([0.2, 0.4, 0.6, 0.8].map((q) => values[Math.floor(q * (values.length - 1))]))].filter((c) => c < high);
  const bounds = [low, ...cuts, high];
  const range = (i) =>
    bounds[i] === bounds[i + 1] ? words(figure(), bounds[i]) : t("hoods.range", { low: words(figure(), bounds[i]), high: words(figure(), bounds[i + 1]) });
  fill(
    $("#legend"),
    values.length
      ? SHADES.slice(0, cuts.length + 1).map((c, i) => el("span", { style: `--swatch: ${c}` }, range(i)))
      : el("span", { class: "muted" }, t("hoods.no_figure")),
  );
  wards.clearLayers();
  wards.addData(data);
}

/** Problems reported each week as small bars, with the numbers for a screen reader. */
function sparkline(counts) {
  const top = Math.max(1, ...counts);
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", `0 0 ${counts.length * 6} 20`);
  svg.setAttribute("width", String(counts.length * 6));
  svg.setAttribute("height", "20");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", t("hoods.weekly", { counts: counts.map((n) => formatNumber(n)).join(", ") }));
  counts.forEach((n, i) => {
    const bar = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    const h = Math.round((n / top) * 18) + 1;
    bar.setAttribute("x", String(i * 6));
    bar.setAttribute("y", String(20 - h));
    bar.setAttribute("width", "4");
    bar.setAttribute("height", String(h));
    bar.setAttribute("fill", "#1f618d");
    svg.append(bar);
  });
  return svg;
}

function table(dashboard) {
  const number = (v, name) => words(name, v);
  const row = (f, header) =>
    el(
      "tr",
      header ? { class: "total" } : {},
      el("th", { scope: "row" }, wardName(f)),
      el("td", { class: "num" }, number(f.open_problems, "open_problems")),
      el("td", { class: "num" }, number(f.fixed, "fixed")),
      el("td", { class: "num" }, number(f.median_days_to_fix, "median_days_to_fix")),
      el("td", { class: "num" }, number(f.fixed_within_sla, "fixed_within_sla")),
      el("td", { class: "num" }, number(f.satisfaction, "satisfaction")),
      el("td", { class: "num" }, number(f.reopen_rate, "reopen_rate")),
      el("td", {}, sparkline(f.reported_by_week)),
    );
  $("#figures").append(
    el(
      "thead",
      {},
      el(
        "tr",
        {},
        ["hoods.ward", "hoods.open_now", "hoods.fixed", "hoods.median_days_head", "hoods.on_time_head", "hoods.satisfaction_head", "hoods.reopened_head", "hoods.per_week"].map((key, i) =>
          el("th", { scope: "col", class: i && i < 7 ? "num" : null }, t(key)),
        ),
      ),
    ),
    el("tbody", {}, dashboard.wards.map((f) => row(f, false))),
    el("tfoot", {}, row(dashboard.city, true)),
  );
}

/** E-mail alerts for a ward (double opt-in) and its Atom feed. */
function wardAlerts(dashboard) {
  const select = $("#alert-ward");
  fill(select, ...dashboard.wards.map((w) => el("option", { value: String(w.ward_id) }, w.name)));
  const feed = () => {
    $("#ward-feed").href = `/feeds/wards/${select.value}.atom`;
  };
  select.addEventListener("change", feed);
  feed();
  const region = $("#alert-messages");
  $("#ward-alert-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("/api/v1/subscriptions", {
        method: "POST",
        json: { email: $("#alert-email").value.trim(), ward_id: Number(select.value) },
      });
      say(region, t("follow.sent"), "ok");
    } catch (error) {
      say(region, error.message);
    }
    const answer = region.querySelector("p");
    answer.tabIndex = -1;
    answer.focus();
  });
}

async function start() {
  await loadMessages();
  const [dashboard, shapes] = await Promise.all([api("/api/v1/neighbourhoods"), api("/api/v1/neighbourhoods?format=geojson")]);
  $("#as-of").textContent = t("hoods.as_of", { when: formatTime(dashboard.computed_at) });
  table(dashboard);
  wardAlerts(dashboard);
  $("#shade-by").addEventListener("change", () => shade(shapes));
  await frameCity(map);
  shade(shapes);
  await drawStreets();
  rendered();
}

start().catch((error) => say(messages, error.message));
