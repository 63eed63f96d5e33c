//! The honest synthetic test: the same evaluation on several generated cities (seeds),
//! in generator variants the features were not built to mirror, and with whole groups
//! of data taken away (ablations), each figure as a mean with a 95 % interval.
//!
//! Nothing here chooses anything: the learner, windows and settings are those the
//! rolling folds choose inside each evaluation, and every hold-out is read once per run.

use super::evaluate::{self, Evaluation};
use super::{ForestParams, History, LogisticParams, from_city};
use crate::city::{CityParams, generate};
use serde::Serialize;
use std::collections::BTreeMap;

/// Data taken away before features are built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ablation {
    None,
    /// No probe-vehicle roughness.
    NoProbe,
    /// No weather (no freeze–thaw days).
    NoWeather,
    /// Reports and condition ratings only: no probes, weather, repairs, resurfacing,
    /// traffic or bus routes (length and class stay: they say what the unit is).
    ReportsAndRatingsOnly,
}

impl Ablation {
    pub const ALL: [Ablation; 4] = [
        Ablation::None,
        Ablation::NoProbe,
        Ablation::NoWeather,
        Ablation::ReportsAndRatingsOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Ablation::None => "none",
            Ablation::NoProbe => "no_probe",
            Ablation::NoWeather => "no_weather",
            Ablation::ReportsAndRatingsOnly => "reports_and_ratings_only",
        }
    }

    /// Takes the ablated data out of `history`.
    pub fn apply(self, history: &mut History) {
        let no_probe = |h: &mut History| h.roughness.iter_mut().for_each(Vec::clear);
        match self {
            Ablation::None => {}
            Ablation::NoProbe => no_probe(history),
            Ablation::NoWeather => history.freeze_thaw_days.clear(),
            Ablation::ReportsAndRatingsOnly => {
                no_probe(history);
                history.freeze_thaw_days.clear();
                for list in history
                    .repairs
                    .iter_mut()
                    .chain(&mut history.resurfacings)
                    .chain(&mut history.water_main_breaks)
                {
                    list.clear();
                }
                for facts in &mut history.segments {
                    facts.aadt = None;
                    facts.bus_route = false;
                    facts.surfaced_on = None;
                }
            }
        }
    }
}

impl std::str::FromStr for Ablation {
    type Err = String;
    fn from_str(s: &str) -> Result<Ablation, String> {
        Ablation::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| {
                format!("'{s}' is not an ablation (none, no_probe, no_weather, reports_and_ratings_only)")
            })
    }
}

/// The headline figures of one evaluation (the model the folds selected, hold-out year).
pub fn headline(evaluation: &Evaluation) -> BTreeMap<&'static str, f64> {
    let s = evaluation.selected_scores();
    let h = &evaluation.holdout;
    let mut out = BTreeMap::from([
        ("roc_auc", s.ranking.roc_auc),
        ("mean_weekly_roc_auc", s.ranking.mean_weekly_roc_auc),
        ("precision_at_10pct", s.ranking.precision_at_10pct),
        ("lift_at_1pct", s.ranking.lift_at_1pct),
        ("ece", s.ece),
        ("base_rate", h.base_rate),
    ]);
    let (_, best) = evaluate::best_baseline(&h.baselines);
    if let Some(best) = best.filter(|b| *b > 0.0) {
        out.insert("best_baseline_precision_at_10pct", best);
        out.insert(
            "precision_at_10pct_over_best_baseline",
            s.ranking.precision_at_10pct / best,
        );
    }
    let ratio =
        |recall: &[f64]| Some(evaluate::ratio_of_terciles(recall)).filter(|r| r.is_finite());
    if let Some(oracle) = &h.oracle {
        out.insert("oracle_roc_auc", oracle.roc_auc);
        out.insert("oracle_precision_at_10pct", oracle.precision_at_10pct);
        if oracle.precision_at_10pct > 0.0 {
            out.insert(
                "precision_at_10pct_over_oracle",
                s.ranking.precision_at_10pct / oracle.precision_at_10pct,
            );
        }
        if let (Some(model), Some(oracle)) = (
            ratio(&s.ranking.tercile_recall_at_10pct),
            ratio(&oracle.tercile_recall_at_10pct),
        ) {
            out.insert("tercile_recall_ratio", model);
            out.insert("oracle_tercile_recall_ratio", oracle);
            out.insert("tercile_recall_ratio_over_oracle", model / oracle);
        }
    }
    out
}

/// A figure's mean over seeds with a 95 % interval (Student's t on the seeds' spread).
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Interval {
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    pub seeds: usize,
}

/// Student's t for a two-sided 95 % interval with `df` degrees of freedom.
fn t_95(df: usize) -> f64 {
    const TABLE: [f64; 10] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    ];
    match df {
        0 => f64::NAN,
        1..=10 => TABLE[df - 1],
        11..=20 => 2.1,
        21..=30 => 2.05,
        _ => 1.96,
    }
}

/// Every figure's mean and interval over the runs that have it.
pub fn summarise(runs: &[BTreeMap<&'static str, f64>]) -> BTreeMap<&'static str, Interval> {
    let mut names: Vec<&'static str> = runs.iter().flat_map(|r| r.keys().copied()).collect();
    names.sort_unstable();
    names.dedup();
    names
        .into_iter()
        .map(|name| {
            let values: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.get(name).copied())
                .filter(|v| v.is_finite())
                .collect();
            let n = values.len();
            let mean = values.iter().sum::<f64>() / n.max(1) as f64;
            let spread = if n > 1 {
                let variance =
                    values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
                t_95(n - 1) * (variance / n as f64).sqrt()
            } else {
                f64::NAN
            };
            (
                name,
                Interval {
                    mean,
                    low: mean - spread,
                    high: mean + spread,
                    seeds: n,
                },
            )
        })
        .collect()
}

/// Generates the city of each seed in `params_of`, takes `ablation` away, evaluates it
/// (true potholes, weekly, 28 days) and returns each seed's headline figures.
pub fn run(
    seeds: &[u64],
    params_of: &dyn Fn(u64) -> CityParams,
    ablation: Ablation,
    progress: &mut dyn FnMut(&str),
) -> Result<Vec<BTreeMap<&'static str, f64>>, super::model::TrainError> {
    let mut out = Vec::new();
    for &seed in seeds {
        progress(&format!("seed {seed}: generating"));
        let params = params_of(seed);
        let city = generate(&params, &mut |_| {});
        let (mut history, defects, truth) = from_city(&city);
        ablation.apply(&mut history);
        let dates = evaluate::as_of_dates(params.start(), params.end);
        let evaluation = evaluate::evaluate(
            &history,
            &defects,
            &dates,
            Some(&truth),
            LogisticParams::default(),
            ForestParams::default(),
            &mut |what| progress(&format!("seed {seed}: {what}")),
        )?;
        out.push(headline(&evaluation));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_interval_is_the_mean_plus_and_minus_t_times_the_standard_error() {
        let runs: Vec<BTreeMap<&'static str, f64>> = [0.8, 0.9, 1.0]
            .iter()
            .map(|&v| BTreeMap::from([("roc_auc", v)]))
            .collect();
        let s = summarise(&runs)["roc_auc"];
        assert!((s.mean - 0.9).abs() < 1e-12);
        // sd 0.1, n 3: 4.303 × 0.1 / √3.
        assert!((s.high - s.mean - 4.303 * 0.1 / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(s.seeds, 3);
    }

    #[test]
    fn ablations_take_away_exactly_their_data() {
        let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("a date");
        let city = generate(
            &CityParams::demo(42, crate::city::CitySize::Tiny, end),
            &mut |_| {},
        );
        let (history, ..) = from_city(&city);
        let mut no_probe = history.clone();
        Ablation::NoProbe.apply(&mut no_probe);
        assert!(no_probe.roughness.iter().all(Vec::is_empty));
        assert_eq!(no_probe.freeze_thaw_days, history.freeze_thaw_days);
        let mut only = history.clone();
        Ablation::ReportsAndRatingsOnly.apply(&mut only);
        assert_eq!(only.reports, history.reports);
        assert!(only.repairs.iter().all(Vec::is_empty));
        assert!(only.freeze_thaw_days.is_empty());
        assert!(only.segments.iter().all(|s| s.aadt.is_none()));
    }
}
