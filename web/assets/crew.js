// The crew page: sign in with a key, today's orders in route order as a list and on the
// map, and one order at a time to start, annotate and complete.

/* global L */
import { $, api, fill, el, formatNumber, formatTime, keys, loadMessages, rendered, reportFailures, say, streetTiles, t } from "./upkeep.js";

const messages = $("#messages");
reportFailures(messages);

const map = L.map("map", { preferCanvas: true, attributionControl: false });
// The streets follow the view, so a distant stop never floats on an empty map.
streetTiles(map);
const stops = L.layerGroup().addTo(map);
let me = null;
let day = null;

const statusWord = (status) => t(`crew.status.${status}`);

async function signIn(key) {
  me = await api("/api/v1/me", { key });
  if (me.role !== "crew" || !me.crew_id) {
    keys.clear();
    throw new Error(t("crew.wrong_role", { role: me.role }));
  }
  keys.set(key);
  $("#sign-in").hidden = true;
  $("#sign-out").hidden = false;
  await loadDay();
}

async function loadDay() {
  const key = keys.get();
  day = await api(`/api/v1/crews/${me.crew_id}/day`, { key });
  $("#day").hidden = false;
  $("#crew-name").textContent = t("crew.count", { name: day.crew.name, count: formatNumber(day.orders.length) });
  $("#route").textContent = t("crew.route", { km: formatNumber(day.route_length_m / 1000, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) });
  fill($("#orders"), 
    ...day.orders.map((order) =>
      el(
        "li",
        { dataset: { order: String(order.id) } },
        el(
          "button",
          { type: "button", class: "link", onclick: () => openOrder(order.id) },
          `${order.service_name || order.service_code} (${order.kind})`,
        ),
        el(
          "div",
          { class: "muted" },
          t("crew.summary", { status: statusWord(order.status), priority: formatNumber(order.priority, { maximumFractionDigits: 0 }) }),
          order.due_at ? t("crew.due", { when: formatTime(order.due_at) }) : "",
          order.assigned_to_crew ? "" : t("crew.unassigned"),
          order.reopens > 0 ? t("crew.reopened") + (order.reopens > 1 ? t("crew.reopened_times", { count: order.reopens }) : "") : "",
        ),
      ),
    ),
  );
  drawDay();
  rendered();
}

function drawDay() {
  stops.clearLayers();
  const start = [day.start.lat, day.start.lon];
  const line = [start, ...day.orders.map((o) => [o.lat, o.lon])];
  L.polyline(line, { color: "#1f5f8b", weight: 3, dashArray: "6 6" }).addTo(stops);
  L.circleMarker(start, { radius: 7, color: "#1b2631", fillColor: "#fff", fillOpacity: 1 }).bindTooltip(t("crew.start_point")).addTo(stops);
  day.orders.forEach((order, i) => {
    L.marker([order.lat, order.lon], {
      icon: L.divIcon({ className: "", html: `<div class="stop-number">${i + 1}</div>`, iconSize: [26, 26] }),
      keyboard: false,
    })
      .on("click", () => openOrder(order.id))
      .addTo(stops);
  });
  // A day with no stops left is its starting point alone: a box of no size has no zoom.
  if (line.length > 1) map.fitBounds(L.latLngBounds(line).pad(0.15), { maxZoom: 17 });
  else map.setView(start, 16);
}

async function openOrder(id) {
  const order = await api(`/api/v1/work-orders/${id}`);
  const panel = $("#order");
  panel.hidden = false;
  const mine = order.crew_id === me.crew_id;
  const field = (label, input) => [el("label", { for: input.id }, label), input];
  const notes = el("textarea", { id: "notes", maxlength: "4000" }, order.notes || "");
  const photos = el("textarea", { id: "photos", placeholder: t("crew.photo_placeholder") }, (order.photo_urls || []).join("\n"));
  const minutes = el("input", { id: "minutes", type: "number", min: "0", value: String(order.labour_minutes) });
  const camera = el("input", { id: "photo-file", type: "file", accept: "image/jpeg,image/png,image/webp" });
  camera.addEventListener("change", async () => {
    const file = camera.files[0];
    if (!file) return;
    try {
      const stored = await api("/api/v1/media", { method: "POST", form: file, key: keys.get() });
      photos.value = [photos.value.trim(), stored.url].filter(Boolean).join("\n");
      say(messages, t("crew.photo_added"), "ok");
    } catch (error) {
      say(messages, t("crew.photo_failed", { why: error.message }));
    } finally {
      camera.value = "";
    }
  });
  const material = el("input", { id: "material", type: "text", placeholder: t("crew.material_placeholder") });
  const quantity = el("input", { id: "quantity", type: "number", min: "0", step: "any" });
  const unit = el("input", { id: "unit", type: "text", placeholder: t("crew.unit_placeholder") });
  const outcome = el(
    "select",
    { id: "outcome" },
    el("option", { value: "repaired" }, t("crew.repaired")),
    el("option", { value: "nothing_found" }, t("crew.nothing")),
  );
  const note = el("textarea", { id: "resident-note", placeholder: t("crew.note_placeholder") });
  function changes(extra) {
    const body = {
      notes: notes.value,
      photo_urls: photos.value.split("\n").map((s) => s.trim()).filter(Boolean),
      labour_minutes: Number(minutes.value || 0),
      ...extra,
    };
    if (material.value.trim()) {
      body.materials = [
        ...(order.materials || []),
        { item: material.value.trim(), quantity: Number(quantity.value || 0), unit: unit.value.trim() },
      ];
    }
    return body;
  }
  async function save(extra, done) {
    try {
      await api(`/api/v1/work-orders/${order.id}`, { method: "PATCH", key: keys.get(), json: changes(extra) });
      say(messages, done, "ok");
      await loadDay();
      await openOrder(order.id);
    } catch (error) {
      say(messages, error.message);
    }
  }
  const open = ["new", "assigned", "in_progress"].includes(order.status);
  fill(panel, 
    el("h2", {}, t("crew.order_title", { id: order.id, service: order.service_name || order.service_code })),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, t("crew.status")),
      el("dd", { id: "order-status" }, statusWord(order.status)),
      el("dt", {}, t("crew.priority")),
      el("dd", {}, formatNumber(order.priority, { minimumFractionDigits: 1, maximumFractionDigits: 1 })),
      el("dt", {}, t("crew.due_head")),
      el("dd", {}, formatTime(order.due_at)),
      el("dt", {}, t("crew.why")),
      el(
        "dd",
        {},
        Object.entries(order.priority_breakdown)
          .filter(([, v]) => v > 0)
          .map(([k, v]) => `${k.replace("_", " ")} ${v.toFixed(1)}`)
          .join(", "),
      ),
    ),
    open && !order.crew_id
      ? el("button", { type: "button", id: "take", onclick: () => save({ crew_id: me.crew_id }, t("crew.yours")) }, t("crew.take"))
      : null,
    open && mine
      ? [
          ...field(t("crew.notes"), notes),
          ...field(t("crew.photo"), camera),
          ...field(t("crew.photo_links"), photos),
          ...field(t("crew.minutes"), minutes),
          el("h2", {}, t("crew.material")),
          ...field(t("crew.item"), material),
          ...field(t("crew.quantity"), quantity),
          ...field(t("crew.unit"), unit),
          order.status !== "in_progress"
            ? el("button", { type: "button", id: "start", onclick: () => save({ status: "in_progress" }, t("crew.started")) }, t("crew.start"))
            : null,
          el("button", { type: "button", class: "secondary", id: "save", onclick: () => save({}, t("crew.saved")) }, t("crew.save")),
          el("h2", {}, t("crew.finish")),
          ...field(t("crew.found"), outcome),
          ...field(t("crew.resident_note"), note),
          el(
            "button",
            {
              type: "button",
              id: "complete",
              onclick: () =>
                save(
                  { status: "completed", outcome: outcome.value, ...(note.value.trim() ? { resident_note: note.value.trim() } : {}) },
                  t("crew.completed"),
                ),
            },
            t("crew.complete"),
          ),
        ]
      : null,
    !open ? el("p", { class: "muted" }, t("crew.closed", { status: statusWord(order.status) })) : null,
  );
  panel.querySelector("button, textarea, input")?.focus();
}

$("#sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("#key").value.trim();
  if (!key) {
    say(messages, t("crew.enter_key"));
    return;
  }
  signIn(key).catch((error) => say(messages, error.status === 401 ? t("key.unknown") : error.message));
});
$("#sign-out").addEventListener("click", () => {
  keys.clear();
  location.reload();
});

map.setView([0, 0], 2);
loadMessages()
  .then(() => {
    if (keys.get()) {
      signIn(keys.get()).catch((error) => {
        keys.clear();
        say(messages, error.message);
      });
    } else {
      rendered();
    }
  })
  .catch((error) => say(messages, error.message));
