// The residents' page: open problems on a map, a report form with each category's own
// questions, what is already reported nearby, and a reference number at the end.
// The agents' page (/agent) is the same page with a key, the channel and the caller's
// name and number: staff file reports for residents who phone or come to a counter.

/* global L */
import { $, api, fill, bboxOf, cityMap, colourOf, el, formatNumber, formatTime, frameCity, keys, loadMessages, locale, plural, rendered, reportFailures, say, t } from "./upkeep.js";

const messages = $("#messages");
reportFailures(messages);

const { map, drawStreets } = cityMap("map");
const issues = L.layerGroup().addTo(map);
// Open issues are few enough for SVG, where each is an element to reach.
const issueRenderer = L.svg();
let services = [];
let chosen = null;
let pin = null;
/** On the agents' page: the agent's key once signed in. */
const agentPage = Boolean(document.querySelector("#agent"));

function serviceName(code) {
  const service = services.find((s) => s.service_code === code);
  return service ? service.service_name : code;
}

async function drawIssues() {
  const data = await api(`/api/v1/issues?status=open&format=geojson&page_size=1000&bbox=${bboxOf(map)}`);
  issues.clearLayers();
  for (const feature of data.features) {
    const p = feature.properties;
    const [lon, lat] = feature.geometry.coordinates;
    L.circleMarker([lat, lon], {
      radius: 6,
      color: "#fff",
      weight: 1,
      fillColor: colourOf(p.service_code),
      fillOpacity: 0.9,
      renderer: issueRenderer,
      className: `issue issue-${p.id}`,
    })
      .bindPopup(
        el(
          "div",
          {},
          el("strong", {}, p.service_name || p.service_code),
          el("br"),
          t("resident.reported", { when: formatTime(p.first_reported_at) }),
          el("br"),
          plural("count.report", p.reporter_count),
        ),
      )
      .addTo(issues);
  }
  document.body.dataset.issues = String(data.features.length);
  $("#more").hidden = data.features.length < 1000;
}

function drawLegend() {
  fill($("#legend"), 
    ...services.map((s) => el("span", { style: `--swatch: ${colourOf(s.service_code)}` }, s.service_name)),
  );
}

function attributeField(attribute) {
  const id = `attr-${attribute.code}`;
  const label = el("label", { for: id }, attribute.description, t(attribute.required ? "form.required" : "form.optional"));
  const name = `attribute[${attribute.code}]`;
  const values = (attribute.values || []).map((v) => ({ key: v.key, name: v.name }));
  switch (attribute.datatype) {
    case "singlevaluelist":
      return [
        label,
        el(
          "select",
          { id, name, required: attribute.required },
          el("option", { value: "" }, t("form.choose")),
          values.map((v) => el("option", { value: v.key }, v.name)),
        ),
      ];
    case "multivaluelist":
      return [
        el(
          "fieldset",
          { id },
          el("legend", {}, attribute.description),
          values.map((v) =>
            el("label", {}, el("input", { type: "checkbox", name: `${name}[]`, value: v.key }), " ", v.name),
          ),
        ),
      ];
    case "text":
      return [label, el("textarea", { id, name, required: attribute.required })];
    case "number":
      return [label, el("input", { id, name, type: "number", step: "any", required: attribute.required })];
    case "datetime":
      return [label, el("input", { id, name, type: "datetime-local", required: attribute.required })];
    default:
      return [label, el("input", { id, name, type: "text", required: attribute.required })];
  }
}

async function chooseService(code) {
  chosen = code;
  fill($("#attributes"));
  const service = services.find((s) => s.service_code === code);
  if (service && service.metadata) {
    const definition = await api(`/open311/v2/services/${encodeURIComponent(code)}.json?locale=${locale()}`);
    const attributes = (definition.attributes || []).filter((a) => a.variable !== false);
    attributes.sort((a, b) => (a.order || 0) - (b.order || 0));
    fill($("#attributes"), ...attributes.flatMap(attributeField));
  }
  await showNearby();
}

async function showNearby() {
  const box = $("#nearby");
  if (!pin || !chosen) {
    fill(box);
    return;
  }
  const { lat, lng } = pin.getLatLng();
  const near = await api(
    `/api/v1/issues/nearby?lat=${lat.toFixed(6)}&lon=${lng.toFixed(6)}&radius_m=250&service_code=${encodeURIComponent(chosen)}`,
  );
  if (!near.length) {
    fill(box, el("p", { class: "muted" }, t("nearby.none")));
    return;
  }
  fill(box, 
    el("h2", {}, t("nearby.heading")),
    el(
      "ul",
      { class: "plain", id: "nearby-list" },
      near.slice(0, 5).map((issue) =>
        el(
          "li",
          {},
          t("nearby.item", {
            service: serviceName(issue.service_code),
            metres: formatNumber(Math.round(issue.distance_m)),
            reports: plural("count.report", issue.reporter_count),
            when: formatTime(issue.first_reported_datetime),
          }),
          el(
            "button",
            {
              type: "button",
              class: "secondary join",
              dataset: { issue: String(issue.issue_id) },
              onclick: () => send({ lat: issue.lat, lon: issue.lon }),
            },
            t("nearby.join"),
          ),
        ),
      ),
    ),
  );
}

function place(latlng) {
  if (pin) pin.setLatLng(latlng);
  else pin = L.circleMarker(latlng, { radius: 9, color: "#1b2631", weight: 3, fillColor: "#f5b041", fillOpacity: 1 }).addTo(map);
  $("#report").hidden = false;
  $("#done").hidden = true;
  $("#hint").hidden = true;
  $("#where").textContent = t("resident.where", { lat: latlng.lat.toFixed(5), lon: latlng.lng.toFixed(5) });
  showNearby().catch((e) => say(messages, e.message));
}

function formData(position) {
  const form = $("#report");
  const data = new FormData();
  data.set("service_code", chosen);
  data.set("lat", String(position.lat));
  data.set("long", String(position.lon));
  for (const field of form.querySelectorAll("#attributes [name]")) {
    if (field.type === "checkbox") {
      if (field.checked) data.append(field.name, field.value);
    } else if (field.value !== "") {
      data.set(field.name, field.value);
    }
  }
  const description = $("#description").value.trim();
  if (description) data.set("description", description);
  const email = $("#email").value.trim();
  if (email) data.set("email", email);
  if (agentPage) {
    data.set("api_key", keys.get() || "");
    data.set("channel", form.querySelector("input[name=channel]:checked").value);
    for (const [id, name] of [["first-name", "first_name"], ["last-name", "last_name"], ["phone", "phone"]]) {
      const value = $(`#${id}`).value.trim();
      if (value) data.set(name, value);
    }
  }
  const photo = $("#photo").files[0];
  if (photo) data.set("media", photo);
  return data;
}

async function send(position) {
  const form = $("#report");
  if (agentPage && !keys.get()) {
    say(messages, t("agent.sign_in_first"));
    $("#agent-key").focus();
    return;
  }
  if (!chosen) {
    say(messages, t("resident.choose_first"));
    $("#service").focus();
    return;
  }
  const missing = [...form.querySelectorAll("#attributes [required]")].find((f) => !f.value);
  if (missing) {
    say(messages, t("resident.please_answer", { what: missing.labels[0] ? missing.labels[0].textContent : missing.name }));
    missing.focus();
    return;
  }
  const where = position || { lat: pin.getLatLng().lat, lon: pin.getLatLng().lng };
  $("#send").disabled = true;
  try {
    const answer = await api("/open311/v2/requests.json", { method: "POST", form: formData(where) });
    const receipt = answer[0];
    messages.replaceChildren();
    form.hidden = true;
    const done = $("#done");
    done.hidden = false;
    const id = receipt.service_request_id;
    fill(done, 
      el("h2", {}, t("done.thanks")),
      id
        ? el("p", {}, t("done.reference"), el("span", { class: "reference", id: "reference" }, id), ".")
        : el("p", {}, t("done.queued"), el("span", { class: "reference" }, receipt.token)),
      el("p", {}, receipt.service_notice || ""),
      id ? el("p", {}, el("a", { href: `/report/${encodeURIComponent(id)}`, id: "follow" }, t(agentPage ? "agent.receipt" : "done.follow"))) : null,
      el("button", { type: "button", class: "secondary", onclick: () => location.reload() }, t(agentPage ? "agent.another" : "done.another")),
    );
    // The answer takes the focus, so a keyboard or screen reader user is told at once.
    done.tabIndex = -1;
    done.focus();
    await drawIssues();
  } catch (error) {
    say(messages, t("resident.not_sent", { why: error.message }));
  } finally {
    $("#send").disabled = false;
  }
}

async function start() {
  await loadMessages();
  if (agentPage && keys.get()) agentSignIn(keys.get()).catch(() => keys.clear());
  services = await api(`/open311/v2/services.json?locale=${locale()}`);
  const select = $("#service");
  select.replaceChildren(
    el("option", { value: "" }, "Choose…"),
    ...[...new Set(services.map((s) => s.group))].map((group) =>
      el(
        "optgroup",
        { label: group },
        services.filter((s) => s.group === group).map((s) => el("option", { value: s.service_code }, s.service_name)),
      ),
    ),
  );
  select.addEventListener("change", () => chooseService(select.value).catch((e) => say(messages, e.message)));
  $("#report").addEventListener("submit", (event) => {
    event.preventDefault();
    send(null);
  });
  $("#cancel").addEventListener("click", () => {
    $("#report").hidden = true;
    $("#hint").hidden = false;
    if (pin) {
      pin.remove();
      pin = null;
    }
  });
  drawLegend();
  map.on("click", (event) => place(event.latlng));
  $("#here").addEventListener("click", () => {
    place(map.getCenter());
    $("#service").focus();
  });
  map.on("moveend", () => drawIssues().catch((e) => say(messages, e.message)));
  await frameCity(map);
  await Promise.all([drawStreets(), drawIssues()]);
  rendered();
}

/** The agents' page: a key with the agent role (kept for the browser session). */
async function agentSignIn(key) {
  const me = await api("/api/v1/me", { key });
  if (me.role !== "agent") {
    keys.clear();
    throw new Error(t("agent.wrong_role", { role: me.role }));
  }
  keys.set(key);
  $("#agent-sign-in").hidden = true;
  const who = $("#agent-who");
  who.hidden = false;
  who.textContent = t("agent.signed_in", { name: me.name });
}

if (agentPage) {
  $("#agent-sign-in").addEventListener("submit", (event) => {
    event.preventDefault();
    agentSignIn($("#agent-key").value.trim()).catch((error) =>
      say(messages, error.status === 401 ? t("key.unknown") : error.message),
    );
  });
}

start().catch((error) => say(messages, error.message));
