// The public model card: what the risk model uses and does not use, what it predicts,
// how it compared with simple rules on the city's own hold-out, the equity check, and
// when it was trained. Every sentence comes from /api/v1/model-card.

import { $, api, el, fill, formatTime, loadMessages, percent, rendered, reportFailures, say, t } from "./upkeep.js";

const messages = $("#messages");
reportFailures(messages);

function section(title, ...children) {
  return el("section", {}, el("h2", {}, title), ...children);
}

async function start() {
  let card;
  try {
    await loadMessages();
    card = await api("/api/v1/model-card");
  } catch (error) {
    say(messages, error.message);
    return;
  }
  const uses = el("ul", { id: "uses" }, ...card.uses.map((f) => el("li", {}, f.meaning)));
  const never = el("ul", { id: "never-uses" }, ...card.never_uses.map((words) => el("li", {}, words)));
  if (card.status !== "active") {
    fill($("#card"),
      el("p", { id: "summary" }, card.summary),
      section(t("model.would_read"), uses),
      section(t("model.never_reads"), never));
    rendered();
    return;
  }
  const evaluation = card.evaluation;
  const baselines = (evaluation.baselines || [])
    .slice()
    .sort((a, b) => b.precision_at_10pct - a.precision_at_10pct);
  const table = baselines.length
    ? el("table", { id: "baselines" },
        el("caption", {}, t("model.caption")),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("model.ranking")), el("th", { scope: "col" }, t("model.found")))),
        el("tbody", {},
          el("tr", {}, el("th", { scope: "row" }, t("model.the_model")), el("td", {}, percent(evaluation.precision_at_10pct))),
          ...baselines.map((b) => el("tr", {}, el("th", { scope: "row" }, t("model.rule", { rule: b.rule })), el("td", {}, percent(b.precision_at_10pct))))))
    : el("span");
  fill($("#card"),
    el("p", { id: "summary" }, card.summary),
    section(t("model.predicts"), el("p", { id: "predicts" }, t("model.for_every", { what: card.predicts }))),
    section(t("model.reads"), uses),
    section(t("model.never_reads"), never),
    section(t("model.how_well"), el("p", { id: "evaluation" }, evaluation.summary), table),
    section(t("model.equity"), el("p", { id: "equity" }, card.equity.summary)),
    section(t("model.in_use"),
      el("dl", { class: "facts" },
        el("dt", {}, t("model.kind")), el("dd", {}, card.model.kind),
        el("dt", {}, t("model.trained")), el("dd", { id: "trained" }, formatTime(card.model.trained_at)),
        el("dt", {}, t("model.learned")), el("dd", {}, t("model.span", { from: card.model.trained_from, to: card.model.trained_to })),
        el("dt", {}, t("model.refreshed")), el("dd", {}, card.rescored_every_hours ? t("model.every", { hours: card.rescored_every_hours }) : t("model.on_ask")),
        el("dt", {}, t("model.version")), el("dd", {}, card.model.version))));
  rendered();
}

start();
