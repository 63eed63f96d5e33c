// One report's status page: where it stands, what the city said, and when.

/* global L */
import { $, api, fill, el, formatTime, loadMessages, rendered, reportFailures, say, streetTiles, t, tilesDrawn } from "./upkeep.js";

const messages = $("#messages");
reportFailures(messages);

async function start() {
  await loadMessages();
  const id = decodeURIComponent(location.pathname.split("/").pop() || "");
  if (!/^\d+$/.test(id)) {
    say(messages, t("status.bad_id", { id }));
    return;
  }
  let report;
  try {
    [report] = await api(`/open311/v2/requests/${id}.json?extensions=true`);
  } catch (error) {
    say(messages, error.status === 404 ? t("status.no_report", { id }) : error.message);
    return;
  }
  const internal = report.extended_attributes ? report.extended_attributes.internal_status : null;
  const notes = report.notes || [];
  fill($("#report"), 
    el("h2", {}, t("status.report_title", { id: report.service_request_id, service: report.service_name })),
    el(
      "dl",
      { class: "facts" },
      el("dt", {}, t("status.status")),
      el("dd", { id: "status", dataset: { status: report.status } }, t(`status.word.${report.status}`), internal && internal !== report.status ? ` (${t(`status.word.${internal}`)})` : ""),
      el("dt", {}, t("status.city_says")),
      el("dd", { id: "status-notes" }, report.status_notes || t("status.nothing_yet")),
      el("dt", {}, t("status.reported")),
      el("dd", {}, formatTime(report.requested_datetime)),
      el("dt", {}, t("status.last_change")),
      el("dd", {}, formatTime(report.updated_datetime)),
      report.expected_datetime ? [el("dt", {}, t("status.expected")), el("dd", {}, formatTime(report.expected_datetime))] : null,
      report.description ? [el("dt", {}, t("status.your_words")), el("dd", {}, report.description)] : null,
    ),
    el("h2", {}, t("status.history")),
    el(
      "ol",
      { id: "history" },
      notes.map((note) =>
        el("li", {}, `${formatTime(note.datetime)}: ${t(`status.word.${note.status}`)}`, note.summary ? ` — ${note.summary}` : ""),
      ),
    ),
  );
  follow(id);
  if (report.lat !== null && report.long !== null) {
    const map = L.map("map", { attributionControl: false, preferCanvas: true }).setView([report.lat, report.long], 17);
    const streets = streetTiles(map);
    L.circleMarker([report.lat, report.long], { radius: 8, color: "#1b2631", fillColor: "#f5b041", fillOpacity: 1 }).addTo(map);
    await tilesDrawn(streets);
  } else {
    $("#map").hidden = true;
  }
  rendered();
}

start().catch((error) => say(messages, error.message));

/** E-mail alerts for this report (double opt-in), and its Atom feed. */
function follow(id) {
  const section = $("#follow");
  const region = $("#follow-messages");
  $("#follow-feed").href = `/feeds/reports/${id}.atom`;
  section.hidden = false;
  $("#follow-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const email = $("#follow-email").value.trim();
    try {
      await api("/api/v1/subscriptions", { method: "POST", json: { email, service_request_id: id } });
      say(region, t("follow.sent"), "ok");
    } catch (error) {
      say(region, error.message);
    }
    region.querySelector("p").tabIndex = -1;
    region.querySelector("p").focus();
  });
}
