// The crew page: sign in with a key, today's orders in route order as a list and on the
// map, and one order at a time to start, annotate and complete.

/* global L */
import { $, api, fill, el, formatTime, keys, rendered, reportFailures, say } from "./upkeep.js";

const messages = $("#messages");
reportFailures(messages);

const map = L.map("map", { preferCanvas: true, attributionControl: false });
const streets = L.geoJSON(null, { interactive: false, style: { color: "#8d99a6", weight: 2 } }).addTo(map);
const stops = L.layerGroup().addTo(map);
let me = null;
let day = null;

const STATUS_WORDS = { new: "new", assigned: "assigned", in_progress: "in progress", completed: "completed", cancelled: "cancelled" };

async function signIn(key) {
  me = await api("/api/v1/me", { key });
  if (me.role !== "crew" || !me.crew_id) {
    keys.clear();
    throw new Error(`This is a ${me.role} key; sign in with your crew's key.`);
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
  $("#crew-name").textContent = `${day.crew.name}: ${day.orders.length} orders`;
  $("#route").textContent = `Route from the depot: ${(day.route_length_m / 1000).toFixed(1)} km.`;
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
          `${STATUS_WORDS[order.status] || order.status}, priority ${order.priority.toFixed(0)}`,
          order.due_at ? `, due ${formatTime(order.due_at)}` : "",
          order.assigned_to_crew ? "" : " (unassigned: take it if you do it)",
          order.reopens > 0 ? `. Reopened: a resident said it was not fixed${order.reopens > 1 ? ` (${order.reopens} times)` : ""}` : "",
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
  L.circleMarker(start, { radius: 7, color: "#1b2631", fillColor: "#fff", fillOpacity: 1 }).bindTooltip("Start").addTo(stops);
  day.orders.forEach((order, i) => {
    L.marker([order.lat, order.lon], {
      icon: L.divIcon({ className: "", html: `<div class="stop-number">${i + 1}</div>`, iconSize: [26, 26] }),
      keyboard: false,
    })
      .on("click", () => openOrder(order.id))
      .addTo(stops);
  });
  const bounds = L.latLngBounds(line);
  map.fitBounds(bounds.pad(0.15));
  api(
    `/api/v1/segments?format=geojson&page_size=1000&bbox=${[bounds.getWest(), bounds.getSouth(), bounds.getEast(), bounds.getNorth()].map((v) => v.toFixed(5)).join(",")}`,
  )
    .then((data) => {
      streets.clearLayers();
      streets.addData(data);
    })
    .catch((e) => say(messages, e.message));
}

async function openOrder(id) {
  const order = await api(`/api/v1/work-orders/${id}`);
  const panel = $("#order");
  panel.hidden = false;
  const mine = order.crew_id === me.crew_id;
  const field = (label, input) => [el("label", { for: input.id }, label), input];
  const notes = el("textarea", { id: "notes", maxlength: "4000" }, order.notes || "");
  const photos = el("textarea", { id: "photos", placeholder: "One photo link per line" }, (order.photo_urls || []).join("\n"));
  const minutes = el("input", { id: "minutes", type: "number", min: "0", value: String(order.labour_minutes) });
  const camera = el("input", { id: "photo-file", type: "file", accept: "image/jpeg,image/png,image/webp" });
  camera.addEventListener("change", async () => {
    const file = camera.files[0];
    if (!file) return;
    try {
      const stored = await api("/api/v1/media", { method: "POST", form: file, key: keys.get() });
      photos.value = [photos.value.trim(), stored.url].filter(Boolean).join("\n");
      say(messages, "Photo added; save or complete to keep it with the order.", "ok");
    } catch (error) {
      say(messages, `The photo was not added: ${error.message}`);
    } finally {
      camera.value = "";
    }
  });
  const material = el("input", { id: "material", type: "text", placeholder: "e.g. cold asphalt" });
  const quantity = el("input", { id: "quantity", type: "number", min: "0", step: "any" });
  const unit = el("input", { id: "unit", type: "text", placeholder: "e.g. bag" });
  const outcome = el(
    "select",
    { id: "outcome" },
    el("option", { value: "repaired" }, "Repaired"),
    el("option", { value: "nothing_found" }, "Nothing to repair"),
  );
  const note = el("textarea", { id: "resident-note", placeholder: "Optional: what residents will read" });
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
    el("h2", {}, `Order ${order.id}: ${order.service_name || order.service_code}`),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, "Status"),
      el("dd", { id: "order-status" }, STATUS_WORDS[order.status] || order.status),
      el("dt", {}, "Priority"),
      el("dd", {}, order.priority.toFixed(1)),
      el("dt", {}, "Due"),
      el("dd", {}, formatTime(order.due_at)),
      el("dt", {}, "Why this priority"),
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
      ? el("button", { type: "button", id: "take", onclick: () => save({ crew_id: me.crew_id }, "The order is yours.") }, "Take this order")
      : null,
    open && mine
      ? [
          ...field("Notes", notes),
          ...field("Take or choose a photo", camera),
          ...field("Photo links", photos),
          ...field("Minutes worked", minutes),
          el("h2", {}, "Material used"),
          ...field("Item", material),
          ...field("Quantity", quantity),
          ...field("Unit", unit),
          order.status !== "in_progress"
            ? el("button", { type: "button", id: "start", onclick: () => save({ status: "in_progress" }, "Work started.") }, "Start work")
            : null,
          el("button", { type: "button", class: "secondary", id: "save", onclick: () => save({}, "Saved.") }, "Save"),
          el("h2", {}, "Finish"),
          ...field("What you found", outcome),
          ...field("Note for residents", note),
          el(
            "button",
            {
              type: "button",
              id: "complete",
              onclick: () =>
                save(
                  { status: "completed", outcome: outcome.value, ...(note.value.trim() ? { resident_note: note.value.trim() } : {}) },
                  "Completed: the residents who reported it are told.",
                ),
            },
            "Complete",
          ),
        ]
      : null,
    !open ? el("p", { class: "muted" }, `This order is ${order.status}.`) : null,
  );
  panel.querySelector("button, textarea, input")?.focus();
}

$("#sign-in").addEventListener("submit", (event) => {
  event.preventDefault();
  const key = $("#key").value.trim();
  if (!key) {
    say(messages, "Enter your crew's key.");
    return;
  }
  signIn(key).catch((error) => say(messages, error.status === 401 ? "That key is unknown or revoked." : error.message));
});
$("#sign-out").addEventListener("click", () => {
  keys.clear();
  location.reload();
});

map.setView([0, 0], 2);
if (keys.get()) {
  signIn(keys.get()).catch((error) => {
    keys.clear();
    say(messages, error.message);
  });
} else {
  rendered();
}
