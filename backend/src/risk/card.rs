//! The public model card: what the city's risk model uses and does not use, what it
//! predicts, how it scored against simple rules on the city's own hold-out, whether it
//! serves every neighbourhood alike, and when it was trained. In plain words, for
//! residents and councillors (`/model`); no key is needed.

use crate::db::risk::ModelVersion;
use crate::domain::format_datetime;
use models::risk::FEATURES;
use serde_json::{Value, json};

/// What the model never reads, whatever a city imports.
const NEVER_USED: [&str; 5] = [
    "who reported a problem: names, e-mail addresses, phone numbers and accounts",
    "what residents wrote or photographed: descriptions, photos and answers to questions",
    "anything about the people who live on a street: income, ethnicity, age or tenure",
    "where a reporter was when they reported, beyond the position of the problem itself",
    "crews' names and notes",
];

/// The baselines' names in words.
fn baseline_words(name: &str) -> &str {
    match name {
        "prior_reports" => "the streets with the most reports in the last year",
        "report_density_90d" => {
            "the streets with the most reports per kilometre in the last 90 days"
        }
        "surface_age" => "the streets resurfaced longest ago",
        "same_weeks_last_year" => "the streets with the most reports in the same weeks last year",
        "worst_rating" => "the worst-rated streets",
        "oldest_overlay" => "the streets paved longest ago",
        "most_cracking" => "the most cracked streets",
        "random" => "streets picked at random",
        other => other,
    }
}

fn label_words(label: &str, horizon_days: i64, task: &crate::risk::Task) -> String {
    let on = match task.unit {
        models::risk::Unit::Cell => format!("in a square of the map {} m a side", task.cell_m),
        _ => "on a street".to_owned(),
    };
    let within = if horizon_days == 28 {
        "in the next four weeks".to_owned()
    } else {
        format!("in the next {horizon_days} days")
    };
    match label {
        "true_potholes" => format!(
            "the chance that a new pothole forms {on} {within} (this is the demo city: its potholes are simulated, so the truth is known)"
        ),
        _ => format!(
            "the chance of new evidence of road-surface damage {on} {within}: a first report of a new road-surface problem, or a road-surface repair where nothing had been reported"
        ),
    }
}

fn number(metrics: &Value, key: &str) -> Option<f64> {
    metrics.get(key).and_then(Value::as_f64)
}

/// The card of `model` (None: no model is active yet), with the scoring interval.
pub fn card(model: Option<&ModelVersion>, rescore_hours: u64) -> Value {
    let uses: Vec<Value> = FEATURES
        .iter()
        .map(|f| json!({"name": f.name, "meaning": f.meaning}))
        .collect();
    let Some(model) = model else {
        return json!({
            "status": "none",
            "summary": "No risk model is active yet: the city has not trained one. Until it does, no street is ranked by risk.",
            "uses": uses,
            "never_uses": NEVER_USED,
        });
    };
    let metrics = &model.metrics.0;
    let label = metrics
        .get("label")
        .and_then(Value::as_str)
        .unwrap_or("new_defect_evidence");
    let horizon_days = metrics
        .get("horizon_days")
        .and_then(Value::as_i64)
        .unwrap_or(models::risk::evaluate::HORIZON_DAYS);
    let evaluation = match (
        number(metrics, "precision_at_10pct"),
        number(metrics, "roc_auc"),
    ) {
        (Some(precision), Some(auc)) => {
            let best = metrics.get("best_baseline").and_then(Value::as_str);
            let best_precision = number(metrics, "best_baseline_precision_at_10pct");
            let comparison = match (best, best_precision) {
                (Some(name), Some(b)) if b > 0.0 => format!(
                    " The best simple rule, {}, found {:.0} in 100: the model found {:.2} times as many.",
                    baseline_words(name),
                    b * 100.0,
                    precision / b
                ),
                _ => String::new(),
            };
            let baselines: Vec<Value> = metrics
                .as_object()
                .into_iter()
                .flatten()
                .filter_map(|(key, value)| {
                    let name = key
                        .strip_prefix("baseline_")?
                        .strip_suffix("_precision_at_10pct")?;
                    Some(json!({
                        "name": name,
                        "rule": baseline_words(name),
                        "precision_at_10pct": value.as_f64()?,
                    }))
                })
                .collect();
            json!({
                "held_out": {
                    "from": metrics.get("holdout_from"),
                    "to": metrics.get("holdout_to"),
                },
                "roc_auc": auc,
                "precision_at_10pct": precision,
                "baselines": baselines,
                "summary": format!(
                    "Tested on a year it had not seen ({} to {}): of every 100 streets it ranked riskiest, {:.0} had new damage.{comparison} Ranking quality (ROC-AUC, 0.5 is chance, 1 is perfect): {auc:.2}.",
                    metrics.get("holdout_from").and_then(Value::as_str).unwrap_or("?"),
                    metrics.get("holdout_to").and_then(Value::as_str).unwrap_or("?"),
                    precision * 100.0,
                ),
            })
        }
        _ => json!({
            "summary": "This model was trained without an evaluation (a single learner was asked for), so how it compares with simple rules on this city is not known. Training with the automatic choice measures it."
        }),
    };
    let terciles: Vec<f64> = metrics
        .get("tercile_recall_at_10pct")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_f64).collect())
        .unwrap_or_default();
    let thirds_by = metrics.get("reporting_thirds_by").and_then(Value::as_str);
    let equity = match number(metrics, "tercile_recall_ratio") {
        Some(ratio) if terciles.len() == 3 => json!({
            "recall_by_reporting_third": terciles,
            "ratio": ratio,
            "thirds_by": thirds_by,
            "summary": format!(
                "Neighbourhoods where people report least still had {:.0} % of their new damage among the places ranked riskiest, against {:.0} % where people report most (a ratio of {ratio:.2}; 1 would be equal). {}",
                terciles[0] * 100.0,
                terciles[2] * 100.0,
                match thirds_by {
                    Some("past_reports_per_km") => "How much a neighbourhood reports is measured by its reports per km of road in the years before the test year, in squares of 2 km: the only measure this city's data has, and one that damage raises too.",
                    _ => "How much a neighbourhood reports is the demo city's own reporting habit, which the model never sees.",
                }
            ),
        }),
        _ => json!({
            "summary": "Not measured for this city: the check compares how much damage the model finds in neighbourhoods that reported little before the test period and in those that reported a lot, and this city's data has no reports before it."
        }),
    };
    json!({
        "status": "active",
        "model": {
            "version": model.version,
            "kind": match model.kind.as_str() {
                "forest" => "a forest of decision trees",
                _ => "a logistic regression",
            },
            "trained_at": format_datetime(model.created_at),
            "trained_from": model.trained_from.to_string(),
            "trained_to": model.trained_to.to_string(),
        },
        "predicts": label_words(label, horizon_days, &crate::risk::Task::of_model(model)),
        "label": label,
        "horizon_days": horizon_days,
        "unit": metrics.get("unit").and_then(Value::as_str).unwrap_or("segment"),
        "uses": uses,
        "never_uses": NEVER_USED,
        "evaluation": evaluation,
        "equity": equity,
        "rescored_every_hours": rescore_hours,
        "summary": "The city ranks streets by the risk of new road damage so that inspections and repairs go first where they are most likely needed. The ranking is advice for staff: every work order is still decided by people.",
    })
}
