//! The annual task: one as-of date and a long horizon (a season or a year), for a city
//! that rates its streets and logs a season of repairs, such as Syracuse.
//!
//! With one label period there is no later period to test on, so streets are held out
//! instead, in whole blocks of about 1 km so that a street and its neighbours fall on the
//! same side. A fifth of the blocks is the hold-out, read once at the end; the learner
//! and its settings are chosen on five folds of the other blocks.

use super::Unit;
use super::evaluate::{Defects, LabelKind};
use super::features::{FEATURES, History, row};
use super::metrics::{brier, ece, pr_auc, roc_auc, top};
use super::model::{
    ForestParams, LogisticParams, Model, Row, TrainError, fit_forest, fit_logistic,
};
use chrono::NaiveDate;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// Shares of streets (and of length) the ranking is read at.
pub const SHARES: [f64; 3] = [0.05, 0.10, 0.20];
const FOLDS: usize = 5;
/// Block side, in degrees of latitude (about 1.1 km); longitude is scaled by latitude.
const BLOCK_DEGREES: f64 = 0.01;
/// Fewest blocks a split needs: a small town's blocks are halved until it has them.
const MIN_BLOCKS: usize = 30;

/// One as-of date, how far its label looks, and what a row is.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Task {
    pub as_of: NaiveDate,
    pub horizon_days: i64,
    pub unit: Unit,
}

/// Precision and recall in the top share of streets, and of road length.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AtShare {
    pub share: f64,
    pub precision: f64,
    pub recall: f64,
    pub precision_of_length: f64,
    pub recall_of_length: f64,
}

/// How one score ranks the streets of a set.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ranking {
    pub roc_auc: f64,
    pub pr_auc: f64,
    pub at: Vec<AtShare>,
}

impl Ranking {
    fn new(scores: &[f64], labels: &[bool], lengths: &[f64]) -> Ranking {
        let positives = labels.iter().filter(|&&l| l).count().max(1) as f64;
        let at = SHARES
            .iter()
            .map(|&share| {
                let read = |chosen: Vec<usize>| {
                    let found = chosen.iter().filter(|&&i| labels[i]).count() as f64;
                    (found / chosen.len().max(1) as f64, found / positives)
                };
                let (precision, recall) = read(top(scores, share, None));
                let (precision_of_length, recall_of_length) =
                    read(top(scores, share, Some(lengths)));
                AtShare {
                    share,
                    precision,
                    recall,
                    precision_of_length,
                    recall_of_length,
                }
            })
            .collect();
        Ranking {
            roc_auc: roc_auc(scores, labels).unwrap_or(f64::NAN),
            pr_auc: pr_auc(scores, labels).unwrap_or(f64::NAN),
            at,
        }
    }

    /// Precision in the top `share` of streets (0 when not measured).
    pub fn precision_at(&self, share: f64) -> f64 {
        self.at
            .iter()
            .find(|a| (a.share - share).abs() < 1e-9)
            .map_or(0.0, |a| a.precision)
    }
}

/// A calibrated model's figures on a set of streets.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scored {
    #[serde(flatten)]
    pub ranking: Ranking,
    pub brier: f64,
    pub ece: f64,
}

/// One candidate learner's mean figures over the folds.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub name: String,
    pub mean_roc_auc: f64,
    pub mean_pr_auc: f64,
    pub mean_precision_at_10pct: f64,
}

/// The whole annual evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub label: LabelKind,
    pub task: Task,
    pub streets: usize,
    pub holdout_streets: usize,
    pub holdout_base_rate: f64,
    /// Every candidate's figures on the folds; the first is the one selected.
    pub candidates: Vec<Candidate>,
    pub selected: String,
    pub holdout: Scored,
    pub baselines: BTreeMap<String, Ranking>,
    /// 95 % bootstrap intervals of the headline hold-out figures, by name.
    pub intervals: BTreeMap<String, (f64, f64)>,
    pub features: Vec<&'static str>,
}

/// The learners and settings tried on the folds.
fn candidates() -> Vec<(String, Learner)> {
    let forest = |max_depth: usize, min_rows_per_leaf: usize| ForestParams {
        trees: 48,
        max_depth,
        rows_per_tree: 4_000,
        min_rows_per_leaf,
        seed: 7,
    };
    vec![
        (
            "logistic".to_owned(),
            Learner::Logistic(LogisticParams::default()),
        ),
        (
            "forest (depth 4, leaves of 20)".to_owned(),
            Learner::Forest(forest(4, 20)),
        ),
        (
            "forest (depth 8, leaves of 10)".to_owned(),
            Learner::Forest(forest(8, 10)),
        ),
    ]
}

/// A learner and its settings, as tried on the folds.
#[derive(Debug, Clone, Copy)]
pub enum Learner {
    Logistic(LogisticParams),
    Forest(ForestParams),
}

impl Learner {
    /// One of the candidates by the name an evaluation gave it (its `selected`), or a
    /// bare kind (`logistic`, `forest`) with the default settings.
    pub fn named(name: &str) -> Option<Learner> {
        match name {
            "logistic" => Some(Learner::Logistic(LogisticParams::default())),
            "forest" => Some(Learner::Forest(ForestParams::default())),
            _ => candidates()
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, learner)| learner),
        }
    }

    pub fn kind(self) -> &'static str {
        match self {
            Learner::Logistic(_) => "logistic",
            Learner::Forest(_) => "forest",
        }
    }

    /// The settings, for the model registry.
    pub fn params(self) -> serde_json::Value {
        match self {
            Learner::Logistic(p) => serde_json::to_value(p),
            Learner::Forest(p) => serde_json::to_value(p),
        }
        .unwrap_or_default()
    }

    /// Fits on `fit`, calibrates on `calibrate`.
    fn train(
        self,
        rows: &[Row],
        labels: &[bool],
        fit: &[usize],
        calibrate: &[usize],
    ) -> Result<Model, TrainError> {
        let pick = |set: &[usize]| -> (Vec<Row>, Vec<bool>) {
            set.iter().map(|&i| (rows[i], labels[i])).unzip()
        };
        let (fit_rows, fit_labels) = pick(fit);
        let (calibration_rows, calibration_labels) = pick(calibrate);
        let (kind, (standardiser, learner)) = match self {
            Learner::Logistic(p) => ("logistic", fit_logistic(&fit_rows, &fit_labels, p)?),
            Learner::Forest(p) => ("forest", fit_forest(&fit_rows, &fit_labels, p)?),
        };
        Ok(Model::calibrated(
            kind,
            standardiser,
            learner,
            &calibration_rows,
            &calibration_labels,
        ))
    }
}

/// A model fitted for use on the annual task, and what it was fitted on.
pub struct Fitted {
    pub model: Model,
    /// Rows the learner was fitted on.
    pub rows: usize,
    /// The as-of dates of those rows.
    pub fitted_on: Vec<NaiveDate>,
}

/// Fits `learner` for use on the annual task with as-of dates `dates` (oldest first):
/// on every year but the last, calibrated on the last. A year's label must end before
/// the last as-of date, so that calibration learns nothing the fit already saw. With a
/// single year (or none that ends in time), the year is split by blocks as in the
/// evaluation: fitted on four fifths of them and calibrated on the fifth.
pub fn fit_final(
    history: &History,
    defects: &Defects,
    points: &[(f64, f64)],
    dates: &[NaiveDate],
    horizon_days: i64,
    learner: Learner,
) -> Result<Fitted, TrainError> {
    let &last = dates.last().ok_or(TrainError::NoRows("as-of"))?;
    let n = history.segments.len();
    let earlier: Vec<NaiveDate> = dates
        .iter()
        .copied()
        .filter(|d| *d + chrono::Duration::days(horizon_days) < last)
        .collect();
    let year = |date: NaiveDate| -> (Vec<Row>, Vec<bool>) {
        (0..n)
            .map(|s| (row(history, s, date), defects.label(s, date, horizon_days)))
            .unzip()
    };
    let (rows, labels, fit, calibrate, fitted_on) = if earlier.is_empty() {
        let (rows, labels) = year(last);
        let part = parts(points, 17);
        let calibration_part = |p: Option<usize>| p == Some(FOLDS - 1) || p.is_none();
        let fit = (0..n).filter(|&i| !calibration_part(part[i])).collect();
        let calibrate = (0..n).filter(|&i| calibration_part(part[i])).collect();
        (rows, labels, fit, calibrate, vec![last])
    } else {
        let (mut rows, mut labels) = (Vec::new(), Vec::new());
        for &date in earlier.iter().chain([&last]) {
            let (r, l) = year(date);
            rows.extend(r);
            labels.extend(l);
        }
        let fitted = earlier.len() * n;
        let fit: Vec<usize> = (0..fitted).collect();
        let calibrate: Vec<usize> = (fitted..rows.len()).collect();
        (rows, labels, fit, calibrate, earlier)
    };
    let model = learner.train(&rows, &labels, &fit, &calibrate)?;
    Ok(Fitted {
        model,
        rows: fit.len(),
        fitted_on,
    })
}

/// Which block of `side` degrees of latitude a point (longitude, latitude) is in.
pub fn block_of((lon, lat): (f64, f64), side: f64) -> (i64, i64) {
    let lon_degrees = side / lat.to_radians().cos().abs().max(0.1);
    (
        (lon / lon_degrees).floor() as i64,
        (lat / side).floor() as i64,
    )
}

/// The block side for `points`: about 1 km, halved (at most four times) until there are
/// at least [`MIN_BLOCKS`] blocks.
pub fn block_side(points: &[(f64, f64)]) -> f64 {
    let mut side = BLOCK_DEGREES;
    for _ in 0..4 {
        let blocks: BTreeSet<(i64, i64)> = points.iter().map(|&p| block_of(p, side)).collect();
        if blocks.len() >= MIN_BLOCKS {
            break;
        }
        side /= 2.0;
    }
    side
}

/// Each street's part: `None` for the hold-out, else its fold (0..5). Blocks are
/// shuffled with a fixed seed, so the split is the same on every run.
pub fn parts(points: &[(f64, f64)], seed: u64) -> Vec<Option<usize>> {
    let side = block_side(points);
    let block_of = |p: (f64, f64)| block_of(p, side);
    let blocks: BTreeSet<(i64, i64)> = points.iter().map(|&p| block_of(p)).collect();
    let mut blocks: Vec<(i64, i64)> = blocks.into_iter().collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    blocks.shuffle(&mut rng);
    let holdout = blocks.len().div_ceil(5);
    let part: std::collections::HashMap<(i64, i64), Option<usize>> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| (*b, i.checked_sub(holdout).map(|j| j % FOLDS)))
        .collect();
    points.iter().map(|&p| part[&block_of(p)]).collect()
}

/// Column of a feature by name.
fn column(name: &str) -> usize {
    FEATURES.iter().position(|f| f.name == name).unwrap_or(0)
}

/// The simple rankings an asset engineer would use instead of a model: worst rating,
/// oldest overlay, most cracking, and random. Streets a baseline knows nothing about go
/// last; a rated street with no overlay on record counts as the oldest (Syracuse leaves
/// the overlay blank when a street was not paved since 1985).
fn baseline_scores(rows: &[&Row]) -> Vec<(&'static str, Vec<f64>)> {
    let (overall, age, age_missing, rated, cracking) = (
        column("rating_overall"),
        column("surface_age_years"),
        column("surface_age_missing"),
        column("rating_missing"),
        column("rating_cracking"),
    );
    let or_last = |v: f64| if v.is_finite() { v } else { f64::MIN };
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    vec![
        (
            "worst_rating",
            rows.iter().map(|r| or_last(-r[overall])).collect(),
        ),
        (
            "oldest_overlay",
            rows.iter()
                .map(|r| {
                    if r[age_missing] == 0.0 {
                        r[age]
                    } else if r[rated] == 0.0 {
                        1_000.0
                    } else {
                        f64::MIN
                    }
                })
                .collect(),
        ),
        (
            "most_cracking",
            rows.iter().map(|r| or_last(-r[cracking])).collect(),
        ),
        ("random", rows.iter().map(|_| rng.r#gen::<f64>()).collect()),
    ]
}

/// Bootstrap draws for the hold-out's intervals.
const DRAWS: usize = 1_000;

/// 95 % intervals (2.5th and 97.5th percentiles over streets drawn again with
/// replacement) of the model's ROC-AUC, its precision in the top 10 %, and that
/// precision over the best baseline's.
fn intervals(model: &[f64], baseline: &[f64], labels: &[bool]) -> BTreeMap<String, (f64, f64)> {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let n = labels.len();
    let (mut auc, mut precision, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..DRAWS {
        let draw: Vec<usize> = (0..n).map(|_| rng.gen_range(0..n)).collect();
        let pick = |values: &[f64]| -> Vec<f64> { draw.iter().map(|&i| values[i]).collect() };
        let drawn_labels: Vec<bool> = draw.iter().map(|&i| labels[i]).collect();
        let at_10 = |scores: &[f64]| {
            let chosen = top(scores, 0.10, None);
            chosen.iter().filter(|&&i| drawn_labels[i]).count() as f64 / chosen.len().max(1) as f64
        };
        let (m, b) = (pick(model), pick(baseline));
        if let Some(a) = roc_auc(&m, &drawn_labels) {
            auc.push(a);
        }
        let (pm, pb) = (at_10(&m), at_10(&b));
        precision.push(pm);
        if pb > 0.0 {
            ratio.push(pm / pb);
        }
    }
    let percentiles = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            v.get(((v.len().max(1) - 1) as f64 * q).round() as usize)
                .copied()
        };
        (at(0.025).unwrap_or(f64::NAN), at(0.975).unwrap_or(f64::NAN))
    };
    BTreeMap::from([
        ("roc_auc".to_owned(), percentiles(auc)),
        ("precision_at_10pct".to_owned(), percentiles(precision)),
        (
            "precision_at_10pct_over_best_baseline".to_owned(),
            percentiles(ratio),
        ),
    ])
}

/// Evaluates on every segment as of `task.as_of`, holding out whole blocks of streets.
/// `points` places each segment (its middle, longitude first) for the blocks.
pub fn evaluate(
    history: &History,
    defects: &Defects,
    points: &[(f64, f64)],
    task: Task,
    progress: &mut dyn FnMut(&str),
) -> Result<Evaluation, TrainError> {
    let n = history.segments.len();
    let rows: Vec<Row> = (0..n).map(|s| row(history, s, task.as_of)).collect();
    let labels: Vec<bool> = (0..n)
        .map(|s| defects.label(s, task.as_of, task.horizon_days))
        .collect();
    let lengths: Vec<f64> = history.segments.iter().map(|s| s.length_m).collect();
    let part = parts(points, 17);
    let in_fold = |k: usize| -> Vec<usize> { (0..n).filter(|&i| part[i] == Some(k)).collect() };
    let development: Vec<usize> = (0..n).filter(|&i| part[i].is_some()).collect();
    let holdout: Vec<usize> = (0..n).filter(|&i| part[i].is_none()).collect();
    let subset =
        |set: &[usize], values: &[f64]| -> Vec<f64> { set.iter().map(|&i| values[i]).collect() };
    let labels_of = |set: &[usize]| -> Vec<bool> { set.iter().map(|&i| labels[i]).collect() };

    // Choose on the folds: each fold is scored by a model fitted on three of the others
    // and calibrated on the fourth.
    let mut tried = Vec::new();
    for (name, learner) in candidates() {
        progress(&format!("folds: {name}"));
        let (mut roc, mut pr, mut p10) = (0.0, 0.0, 0.0);
        for k in 0..FOLDS {
            let test = in_fold(k);
            let calibrate = in_fold((k + 1) % FOLDS);
            let fit: Vec<usize> = development
                .iter()
                .copied()
                .filter(|&i| part[i] != Some(k) && part[i] != Some((k + 1) % FOLDS))
                .collect();
            let model = learner.train(&rows, &labels, &fit, &calibrate)?;
            let scores: Vec<f64> = test.iter().map(|&i| model.probability(&rows[i])).collect();
            let ranking = Ranking::new(&scores, &labels_of(&test), &subset(&test, &lengths));
            roc += ranking.roc_auc / FOLDS as f64;
            pr += ranking.pr_auc / FOLDS as f64;
            p10 += ranking.precision_at(0.10) / FOLDS as f64;
        }
        tried.push((
            Candidate {
                name: name.clone(),
                mean_roc_auc: roc,
                mean_pr_auc: pr,
                mean_precision_at_10pct: p10,
            },
            learner,
        ));
    }
    tried.sort_by(|a, b| b.0.mean_pr_auc.total_cmp(&a.0.mean_pr_auc));
    let learner = tried[0].1;
    let selected = tried[0].0.name.clone();

    // The hold-out, read once: fitted on four folds, calibrated on the fifth.
    progress(&format!("hold-out: {selected}"));
    let calibrate = in_fold(FOLDS - 1);
    let fit: Vec<usize> = development
        .iter()
        .copied()
        .filter(|&i| part[i] != Some(FOLDS - 1))
        .collect();
    let model = learner.train(&rows, &labels, &fit, &calibrate)?;
    let holdout_labels = labels_of(&holdout);
    let holdout_lengths = subset(&holdout, &lengths);
    let probabilities: Vec<f64> = holdout
        .iter()
        .map(|&i| model.probability(&rows[i]))
        .collect();
    let holdout_rows: Vec<&Row> = holdout.iter().map(|&i| &rows[i]).collect();
    let baseline_scores = baseline_scores(&holdout_rows);
    let baselines: BTreeMap<String, Ranking> = baseline_scores
        .iter()
        .map(|(name, scores)| {
            (
                (*name).to_owned(),
                Ranking::new(scores, &holdout_labels, &holdout_lengths),
            )
        })
        .collect();
    let best = best_of(&baselines).map(|(name, _)| name.to_owned());
    let intervals = baseline_scores
        .iter()
        .find(|(name, _)| Some(*name) == best.as_deref())
        .map(|(_, scores)| intervals(&probabilities, scores, &holdout_labels))
        .unwrap_or_default();
    Ok(Evaluation {
        label: defects.kind,
        task,
        streets: n,
        holdout_streets: holdout.len(),
        holdout_base_rate: holdout_labels.iter().filter(|&&l| l).count() as f64
            / holdout.len().max(1) as f64,
        candidates: tried.into_iter().map(|(c, _)| c).collect(),
        selected,
        holdout: Scored {
            ranking: Ranking::new(&probabilities, &holdout_labels, &holdout_lengths),
            brier: brier(&probabilities, &holdout_labels),
            ece: ece(&probabilities, &holdout_labels, 10),
        },
        baselines,
        intervals,
        features: FEATURES.iter().map(|f| f.name).collect(),
    })
}

/// The baseline (other than random) with the highest precision in the top 10 %.
fn best_of(baselines: &BTreeMap<String, Ranking>) -> Option<(&str, f64)> {
    baselines
        .iter()
        .filter(|(name, _)| name.as_str() != "random")
        .map(|(name, r)| (name.as_str(), r.precision_at(0.10)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

impl Evaluation {
    /// The baseline (other than random) with the highest precision in the top 10 %.
    pub fn best_baseline(&self) -> Option<(&str, f64)> {
        best_of(&self.baselines)
    }

    /// The headline figures as one flat JSON object, with the keys of the weekly
    /// evaluation where they mean the same.
    pub fn summary(&self) -> serde_json::Value {
        let h = &self.holdout.ranking;
        let (best_name, best) = self.best_baseline().unzip();
        let mut out = serde_json::json!({
            "label": self.label.as_str(),
            "unit": self.task.unit.as_str(),
            "horizon_days": self.task.horizon_days,
            "as_of": self.task.as_of,
            "model": self.selected,
            "streets": self.streets,
            "holdout_rows": self.holdout_streets,
            "base_rate": self.holdout_base_rate,
            "roc_auc": h.roc_auc,
            "pr_auc": h.pr_auc,
            "brier": self.holdout.brier,
            "ece": self.holdout.ece,
            "best_baseline": best_name,
            "best_baseline_precision_at_10pct": best,
            "precision_at_10pct_over_best_baseline": best.filter(|b| *b > 0.0).map(|b| h.precision_at(0.10) / b),
            "candidates": self.candidates,
            "intervals_95": self.intervals,
        });
        let object = out.as_object_mut().expect("an object");
        let mut put = |key: String, value: f64| {
            object.insert(key, serde_json::json!(value));
        };
        for a in &h.at {
            let pct = (a.share * 100.0).round();
            put(format!("precision_at_{pct}pct"), a.precision);
            put(format!("recall_at_{pct}pct"), a.recall);
            put(
                format!("precision_at_{pct}pct_of_length"),
                a.precision_of_length,
            );
            put(format!("recall_at_{pct}pct_of_length"), a.recall_of_length);
        }
        for (name, r) in &self.baselines {
            put(format!("baseline_{name}_roc_auc"), r.roc_auc);
            for a in &r.at {
                let pct = (a.share * 100.0).round();
                put(
                    format!("baseline_{name}_precision_at_{pct}pct"),
                    a.precision,
                );
                put(format!("baseline_{name}_recall_at_{pct}pct"), a.recall);
                put(
                    format!("baseline_{name}_precision_at_{pct}pct_of_length"),
                    a.precision_of_length,
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::risk::features::{Rating, SegmentFacts};

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    /// 2,000 streets on a 4 km square; worse-rated streets get more potholes.
    fn city() -> (History, Defects, Vec<(f64, f64)>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let n = 2_000;
        let facts = (0..n)
            .map(|_| SegmentFacts::of_length(rng.gen_range(50.0..400.0)))
            .collect();
        let mut history = History::new(facts);
        let mut repairs = vec![Vec::new(); n];
        let points = (0..n)
            .map(|_| (rng.gen_range(-76.2..-76.15), rng.gen_range(43.0..43.04)))
            .collect();
        for (ratings, repairs) in history.ratings.iter_mut().zip(&mut repairs) {
            let overall: f64 = rng.gen_range(1.0..10.0);
            ratings.push(Rating {
                on: day("2015-05-01"),
                overall: Some(overall.round()),
                cracking: None,
                patching: None,
                pavement: None,
            });
            if rng.r#gen::<f64>() < 0.6 - overall * 0.055 {
                repairs.push(day("2016-06-01"));
            }
        }
        history.sort();
        let defects = Defects {
            kind: LabelKind::NewDefectEvidence,
            found: vec![Vec::new(); n],
            repairs,
            open: vec![Vec::new(); n],
        };
        (history, defects, points)
    }

    #[test]
    fn a_fifth_of_the_blocks_is_held_out_and_the_rest_fall_in_five_folds() {
        let (_, _, points) = city();
        let part = parts(&points, 17);
        let side = block_side(&points);
        let held = part.iter().filter(|p| p.is_none()).count() as f64 / points.len() as f64;
        assert!((0.1..0.3).contains(&held), "{held}");
        for k in 0..FOLDS {
            assert!(part.contains(&Some(k)));
        }
        for (i, p) in points.iter().enumerate() {
            for (j, q) in points.iter().enumerate() {
                if block_of(*p, side) == block_of(*q, side) {
                    assert_eq!(part[i], part[j], "a block is never split");
                }
            }
        }
    }

    #[test]
    fn with_one_season_the_final_model_is_fitted_on_some_blocks_and_calibrated_on_the_rest() {
        let (history, defects, points) = city();
        let as_of = day("2016-04-01");
        let learner = Learner::named("logistic").expect("a learner");
        let fitted =
            fit_final(&history, &defects, &points, &[as_of], 183, learner).expect("trains");
        assert_eq!(fitted.fitted_on, vec![as_of]);
        assert!(
            fitted.rows > 1_000 && fitted.rows < 2_000,
            "{}",
            fitted.rows
        );
        // Worse-rated streets get the higher probability.
        let n = history.segments.len();
        let scores: Vec<f64> = (0..n)
            .map(|s| fitted.model.probability(&row(&history, s, as_of)))
            .collect();
        let labels: Vec<bool> = (0..n).map(|s| defects.label(s, as_of, 183)).collect();
        assert!(roc_auc(&scores, &labels).expect("both labels") > 0.65);
        assert!(Learner::named("forest (depth 8, leaves of 10)").is_some());
        assert!(Learner::named("boosting").is_none());
    }

    #[test]
    fn the_model_finds_what_the_ratings_say_and_beats_random() {
        let (history, defects, points) = city();
        let task = Task {
            as_of: day("2016-04-01"),
            horizon_days: 183,
            unit: crate::risk::Unit::Street,
        };
        let evaluation = evaluate(&history, &defects, &points, task, &mut |_| {}).expect("trains");
        let random = &evaluation.baselines["random"];
        assert!(
            evaluation.holdout.ranking.roc_auc > 0.65,
            "{:?}",
            evaluation.holdout
        );
        assert!(evaluation.holdout.ranking.roc_auc > random.roc_auc + 0.1);
        let (best, _) = evaluation.best_baseline().expect("baselines");
        assert_eq!(best, "worst_rating", "the only signal there is");
        assert_eq!(evaluation.candidates.len(), 3);
        let (low, high) = evaluation.intervals["roc_auc"];
        let auc = evaluation.holdout.ranking.roc_auc;
        assert!(low < auc && auc < high, "{low} < {auc} < {high}");
        let summary = evaluation.summary();
        for key in [
            "label",
            "unit",
            "horizon_days",
            "roc_auc",
            "precision_at_20pct_of_length",
            "best_baseline",
        ] {
            assert!(summary.get(key).is_some(), "{key}");
        }
    }
}
