// What every Upkeep page shares: calling the API with clear errors, building DOM without
// ever parsing user text as HTML, the offline base map (the city's own streets, from
// Upkeep's vector tiles), and
// the "rendered" mark the browser tests and the first-render benchmark wait for.

/* global L, protomapsL */

export const $ = (selector, root = document) => root.querySelector(selector);

/** An element; string children become text nodes, so user text is never markup. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces a node's children; arrays are flattened and empty slots left out. */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** Calls Upkeep; resolves to the parsed JSON, or throws an ApiError with the server's words. */
export async function api(path, { method = "GET", json, form, key } = {}) {
  const headers = {};
  let body;
  if (json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  if (key) headers.authorization = `Bearer ${key}`;
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch {
    throw new ApiError(0, "The server could not be reached. Check the connection and try again.");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const open311 = Array.isArray(data) && data[0] ? data[0].description : null;
    const message = (data && data.message) || open311 || `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

/** Shows a message in a live region (read out by screen readers). */
export function say(region, message, kind = "error") {
  region.replaceChildren(el("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, message));
}

/** Unexpected failures reach the page, not only the console. */
export function reportFailures(region) {
  window.addEventListener("unhandledrejection", (event) => {
    const reason = event.reason;
    say(region, reason instanceof Error ? reason.message : String(reason));
  });
}

/** Marks the page's first useful render (for tests and the first-render benchmark). */
export function rendered() {
  if (document.body.dataset.rendered === "true") return;
  performance.mark("upkeep-rendered");
  document.body.dataset.rendered = "true";
}

let language = "en";
let words = {};

/** The page's language: `en` or `fr`, once the messages are loaded. */
export const locale = () => language;

/** Message `key` in the page's language, with `{name}` filled from `values`. */
export function t(key, values = {}) {
  const text = words[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
}

/** "1 report", "3 reports": `key.one` or `key.other` with `{count}`. */
export function plural(key, count) {
  return t(`${key}.${count === 1 ? "one" : "other"}`, { count: formatNumber(count) });
}

/** Loads the page's messages in the language the server chose (the switch's choice,
 * else the browser's Accept-Language), writes them into every `data-i18n` element and
 * `data-i18n-label` aria-label, and adds the language switch to the header. */
export async function loadMessages() {
  const answer = await api("/i18n/messages.json");
  language = answer.lang;
  words = answer.messages;
  document.documentElement.lang = language;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-label]")) node.setAttribute("aria-label", t(node.dataset.i18nLabel));
  if (document.body.dataset.i18nTitle) document.title = t(document.body.dataset.i18nTitle);
  const nav = document.querySelector("header.top nav");
  if (nav && !document.querySelector("#lang-switch")) {
    const other = language === "fr" ? "en" : "fr";
    nav.append(
      el(
        "a",
        {
          href: location.pathname + location.search,
          id: "lang-switch",
          lang: other,
          hreflang: other,
          title: t("lang.switch_label"),
          onclick: (event) => {
            event.preventDefault();
            // Remembered for a year; the server reads it before Accept-Language.
            document.cookie = `upkeep_lang=${other}; path=/; max-age=31536000; samesite=lax`;
            location.reload();
          },
        },
        t("lang.switch"),
      ),
    );
  }
}

export function formatNumber(value, options = {}) {
  return Number(value).toLocaleString(language, options);
}

/** A share (0–1) as a percentage in the page's language: "12.5%", « 12,5 % ». */
export function percent(share, digits = 0) {
  return formatNumber(share, { style: "percent", minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString(language, { dateStyle: "medium", timeStyle: "short" });
}

const PALETTE = ["#c0392b", "#2471a3", "#d68910", "#7d3c98", "#1e8449", "#a04000", "#117a65", "#b03a2e", "#5d6d7e", "#ca6f1e", "#2e4053", "#884ea0"];
const CATEGORY_COLOURS = {
  pothole: "#c0392b",
  street_light_out: "#d4ac0d",
  graffiti: "#7d3c98",
  illegal_dumping: "#6e2c00",
  blocked_drain: "#2471a3",
  sidewalk_damage: "#ca6f1e",
  damaged_sign: "#1e8449",
  tree_hazard: "#117a65",
  traffic_signal_fault: "#e67e22",
  missed_collection: "#5d6d7e",
  other: "#34495e",
};

/** A stable colour per category. */
export function colourOf(code) {
  if (CATEGORY_COLOURS[code]) return CATEGORY_COLOURS[code];
  let hash = 0;
  for (const c of code) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

/** The visible box as Upkeep's bbox parameter (west,south,east,north). */
export function bboxOf(map) {
  const b = map.getBounds();
  const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));
  return [
    clamp(b.getWest(), -180, 180),
    clamp(b.getSouth(), -90, 90),
    clamp(b.getEast(), -180, 180),
    clamp(b.getNorth(), -90, 90),
  ]
    .map((v) => v.toFixed(5))
    .join(",");
}

/** The URL template of one of Upkeep's vector-tile layers (GET /api/v1/tiles); a new
 * `edition` (a scoring run, say) makes the browser fetch afresh. */
export function tileUrl(layer, edition = "") {
  const query = edition ? `?v=${encodeURIComponent(edition)}` : "";
  return `/api/v1/tiles/${layer}/{z}/{x}/{y}.mvt${query}`;
}

/** A canvas layer of Upkeep's vector tiles drawn by `paintRules` (protomaps-leaflet):
 * the whole city at any zoom, fetched for the view only, without WebGL. */
export function vectorTiles(map, url, paintRules, { waitFor = [] } = {}) {
  // Tiles are built to 512 px and drawn over four 256 px tiles, one zoom up; past
  // zoom 16 the data of 16 is scaled. Tiles are fetched at once and painted once the
  // promises in `waitFor` are settled (a legend's colours, say).
  return protomapsL
    .leafletLayer({ url, paintRules, labelRules: [], attribution: "", maxDataZoom: 16, tasks: waitFor })
    .addTo(map);
}

const STREET_WIDTH = { arterial: 3, collector: 2, local: 1 };

/** The city's streets in grey from the streets tiles (local streets from zoom 13). */
export function streetTiles(map) {
  return vectorTiles(map, tileUrl("streets"), [
    {
      dataLayer: "streets",
      symbolizer: new protomapsL.LineSymbolizer({
        color: "#8d99a6",
        width: (z, f) => (STREET_WIDTH[f?.props.road_class] ?? 1) * (z >= 16 ? 1.5 : 1),
        opacity: 0.8,
      }),
    },
  ]);
}

/** Resolves once every tile of `layer` in the view is drawn. */
export function tilesDrawn(layer) {
  return new Promise((resolve) => {
    if (!layer.isLoading()) resolve();
    else layer.once("load", () => resolve());
  });
}

/** A map whose base layer is the city's own street network, from the street tiles.
 * `drawStreets()` resolves when the streets in view are drawn. */
export function cityMap(id) {
  const map = L.map(id, { preferCanvas: true, attributionControl: false, zoomSnap: 0.5 });
  const streets = streetTiles(map);
  return { map, streets, drawStreets: () => tilesDrawn(streets) };
}

/** Streets stay readable from this zoom; a larger city opens on its centre. */
const CITY_ZOOM = 13;

/** Frames the city: its wards when there are any, else its first streets. */
export async function frameCity(map) {
  const wards = await api("/api/v1/wards?format=geojson&counts=false");
  let bounds = null;
  if (wards.features.some((f) => f.geometry)) {
    bounds = L.geoJSON(wards).getBounds();
  } else {
    const some = await api("/api/v1/segments?format=geojson&page_size=200");
    if (some.features.length) bounds = L.geoJSON(some).getBounds();
  }
  if (bounds && bounds.isValid()) {
    map.fitBounds(bounds, { padding: [10, 10] });
    if (map.getZoom() < CITY_ZOOM) map.setView(bounds.getCenter(), CITY_ZOOM);
  } else {
    map.setView([0, 0], 2);
  }
  return wards;
}

/** The key kept for this browser tab (staff pages). */
export const keys = {
  get: () => sessionStorage.getItem("upkeep-key") || "",
  set: (key) => sessionStorage.setItem("upkeep-key", key),
  clear: () => sessionStorage.removeItem("upkeep-key"),
};
