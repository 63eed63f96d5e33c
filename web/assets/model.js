// The public model card: what the risk model uses and does not use, what it predicts,
// how it compared with simple rules on the city's own hold-out, the equity check, and
// when it was trained. Every sentence comes from /api/v1/model-card.

import { $, api, el, fill, formatTime, rendered, reportFailures, say } from "./upkeep.js";

const messages = $("#messages");
reportFailures(messages);

const percent = (x) => `${Math.round(x * 100)} %`;

function section(title, ...children) {
  return el("section", {}, el("h2", {}, title), ...children);
}

async function start() {
  let card;
  try {
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
      section("What it would read", uses),
      section("What it never reads", never));
    rendered();
    return;
  }
  const evaluation = card.evaluation;
  const baselines = (evaluation.baselines || [])
    .slice()
    .sort((a, b) => b.precision_at_10pct - a.precision_at_10pct);
  const table = baselines.length
    ? el("table", { id: "baselines" },
        el("caption", {}, "Share of the 10 % of streets ranked riskiest that had new damage, on the held-out year"),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "Ranking"), el("th", { scope: "col" }, "Found"))),
        el("tbody", {},
          el("tr", {}, el("th", { scope: "row" }, "The model"), el("td", {}, percent(evaluation.precision_at_10pct))),
          ...baselines.map((b) => el("tr", {}, el("th", { scope: "row" }, `Simple rule: ${b.rule}`), el("td", {}, percent(b.precision_at_10pct))))))
    : el("span");
  fill($("#card"),
    el("p", { id: "summary" }, card.summary),
    section("What it predicts", el("p", { id: "predicts" }, `For every street, ${card.predicts}.`)),
    section("What it reads", uses),
    section("What it never reads", never),
    section("How well it did", el("p", { id: "evaluation" }, evaluation.summary), table),
    section("Does it serve every neighbourhood alike?", el("p", { id: "equity" }, card.equity.summary)),
    section("The model in use",
      el("dl", { class: "facts" },
        el("dt", {}, "Kind"), el("dd", {}, card.model.kind),
        el("dt", {}, "Trained"), el("dd", { id: "trained" }, formatTime(card.model.trained_at)),
        el("dt", {}, "Learned from"), el("dd", {}, `${card.model.trained_from} to ${card.model.trained_to}`),
        el("dt", {}, "Scores refreshed"), el("dd", {}, card.rescored_every_hours ? `every ${card.rescored_every_hours} hours` : "when staff ask"),
        el("dt", {}, "Version"), el("dd", {}, card.model.version))));
  rendered();
}

start();
