//! Temporal evaluation: rolling-origin folds and a final untouched hold-out year, each
//! with a gap of one horizon between training, calibration and test windows so that no
//! label window overlaps the next block; the models beside simple baselines and (on the
//! synthetic city) the oracle.

use super::features::{FEATURES, History, row};
use super::metrics::{brier, calibration_curve, ece, pr_auc, ranked, roc_auc, top_of};
use super::model::{
    ForestParams, LogisticParams, Model, Row, RowSource, Spread, TrainError, fit_forest_from,
    fit_logistic_from, map_rows,
};
use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use std::collections::HashMap;

/// Days ahead a label looks.
pub const HORIZON_DAYS: i64 = 28;
/// Weeks of history before the first as-of date (the longest short window is 90 days).
const WARM_UP_WEEKS: i64 = 13;
/// Weeks a model is calibrated on, after its training window.
const CALIBRATION_WEEKS: i64 = 26;
const FOLD_WEEKS: i64 = 13;
const FOLDS: i64 = 3;

/// What a label counts as a defect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelKind {
    /// The generator's true potholes, on the demo city only.
    TruePotholes,
    /// New road-surface defect evidence, which a real city has: the first report of a new
    /// road-surface issue, or a road-surface repair while no such issue was open.
    NewDefectEvidence,
}

impl LabelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LabelKind::TruePotholes => "true_potholes",
            LabelKind::NewDefectEvidence => "new_defect_evidence",
        }
    }
}

/// Evidence of new road-surface defects per segment: what labels are made of.
#[derive(Debug, Clone)]
pub struct Defects {
    pub kind: LabelKind,
    /// Days a new defect became known (a true pothole formed, or a new road-surface issue
    /// was first reported), sorted.
    pub found: Vec<Vec<NaiveDate>>,
    /// Days of road-surface repairs, sorted. One counts only when no road-surface issue
    /// was open on the segment at the as-of date: mending what was already reported
    /// is the repair queue, not news.
    pub repairs: Vec<Vec<NaiveDate>>,
    /// When road-surface issues were open, (first report, closure) with closure
    /// excluded; an issue still open ends at `NaiveDate::MAX`.
    pub open: Vec<Vec<(NaiveDate, NaiveDate)>>,
}

impl Defects {
    /// Known defect days only (the demo city's truth), each list sorted.
    pub fn found(kind: LabelKind, found: Vec<Vec<NaiveDate>>) -> Defects {
        let n = found.len();
        Defects {
            kind,
            found,
            repairs: vec![Vec::new(); n],
            open: vec![Vec::new(); n],
        }
    }

    /// At least one new defect on segment `s` in `(as_of, as_of + horizon_days]`.
    pub fn label(&self, s: usize, as_of: NaiveDate, horizon_days: i64) -> bool {
        let end = as_of + Duration::days(horizon_days);
        let within = |days: &[NaiveDate]| {
            let after = days.partition_point(|d| *d <= as_of);
            after < days.len() && days[after] <= end
        };
        within(&self.found[s])
            || (within(&self.repairs[s])
                && !self.open[s]
                    .iter()
                    .any(|(from, to)| *from <= as_of && as_of < *to))
    }
}

/// Rows and their labels.
#[derive(Debug, Clone, Default)]
pub struct Labelled<R> {
    pub rows: R,
    pub labels: Vec<bool>,
}

impl<R> Labelled<R> {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn base_rate(&self) -> f64 {
        self.labels.iter().filter(|&&l| l).count() as f64 / self.len().max(1) as f64
    }
}

/// Rows for every segment at each as-of date, held at once: for small cities.
pub type Rows = Labelled<Vec<Row>>;

/// A block of weeks: its rows, built when read, and their labels.
type Weeks<'a> = Labelled<WeeklyRows<'a>>;

impl Rows {
    pub fn build(history: &History, defects: &Defects, dates: &[NaiveDate]) -> Rows {
        let weekly = WeeklyRows::new(history, dates);
        Rows {
            rows: (0..weekly.len()).map(|i| weekly.row(i)).collect(),
            labels: weekly.labels(defects, HORIZON_DAYS),
        }
    }
}

/// Every segment's row at each of some as-of dates, built when read, by date and then
/// segment: what training and evaluation read on a large city instead of holding every
/// segment-week.
pub struct WeeklyRows<'a> {
    history: &'a History,
    dates: &'a [NaiveDate],
}

impl<'a> WeeklyRows<'a> {
    pub fn new(history: &'a History, dates: &'a [NaiveDate]) -> WeeklyRows<'a> {
        WeeklyRows { history, dates }
    }

    /// Each row's label, `horizon_days` ahead: one byte a row.
    pub fn labels(&self, defects: &Defects, horizon_days: i64) -> Vec<bool> {
        let n = self.segments();
        self.dates
            .iter()
            .flat_map(|&date| (0..n).map(move |s| defects.label(s, date, horizon_days)))
            .collect()
    }

    /// How many segments each date has rows for.
    pub fn segments(&self) -> usize {
        self.history.segments.len()
    }

    /// Row `i`'s segment.
    pub fn segment(&self, i: usize) -> usize {
        i % self.segments()
    }

    /// Row `i`'s as-of date.
    pub fn as_of(&self, i: usize) -> NaiveDate {
        self.dates[i / self.segments()]
    }
}

impl RowSource for WeeklyRows<'_> {
    fn len(&self) -> usize {
        self.dates.len() * self.segments()
    }

    fn row(&self, i: usize) -> Row {
        row(self.history, self.segment(i), self.as_of(i))
    }
}

impl<'a> Weeks<'a> {
    /// The weeks of `dates` (sorted) from `from` to `to`, both included.
    fn between(
        history: &'a History,
        defects: &Defects,
        dates: &'a [NaiveDate],
        from: NaiveDate,
        to: NaiveDate,
    ) -> Weeks<'a> {
        let start = dates.partition_point(|d| *d < from);
        let end = dates.partition_point(|d| *d <= to);
        let rows = WeeklyRows::new(history, &dates[start..end.max(start)]);
        let labels = rows.labels(defects, HORIZON_DAYS);
        Weeks { rows, labels }
    }

    /// Each week's rows, as a range of row indexes.
    fn each_week(&self) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
        let n = self.rows.segments();
        (0..self.rows.dates.len()).map(move |w| w * n..(w + 1) * n)
    }
}

/// Weekly as-of dates from `start` (the history's first day) whose labels end by `end`.
pub fn as_of_dates(start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    (WARM_UP_WEEKS..)
        .map(|w| start + Duration::weeks(w))
        .take_while(|d| *d + Duration::days(HORIZON_DAYS) <= end)
        .collect()
}

/// The first as-of date of the hold-out year whose last as-of date is `last`.
pub fn holdout_from(last: NaiveDate) -> NaiveDate {
    last - Duration::weeks(51)
}

/// The true 28-day hazard of each segment at each as-of date it is known for: the
/// oracle's score. Kept per segment by date, 16 bytes a segment-week: a map keyed by
/// (segment, date) took three times that for the large demo city's 15 million.
#[derive(Debug, Clone, Default)]
pub struct Hazard {
    weeks: Vec<Vec<(NaiveDate, f64)>>,
}

impl Hazard {
    /// From (segment index, as-of date, hazard) in any order.
    pub fn from_weeks(
        segments: usize,
        weeks: impl IntoIterator<Item = (usize, NaiveDate, f64)>,
    ) -> Hazard {
        let mut by_segment = vec![Vec::new(); segments];
        for (s, day, hazard) in weeks {
            if let Some(list) = by_segment.get_mut(s) {
                list.push((day, hazard));
            }
        }
        for list in &mut by_segment {
            list.sort_by_key(|(day, _)| *day);
            list.shrink_to_fit();
        }
        Hazard { weeks: by_segment }
    }

    /// Segment `s`'s hazard as of `day`, when known.
    pub fn get(&self, s: usize, day: NaiveDate) -> Option<f64> {
        let list = self.weeks.get(s)?;
        let at = list.binary_search_by_key(&day, |(d, _)| *d).ok()?;
        Some(list[at].1)
    }

    pub fn is_empty(&self) -> bool {
        self.weeks.iter().all(Vec::is_empty)
    }
}

/// What the truth offers besides labels (synthetic city only).
#[derive(Debug, Clone, Default)]
pub struct Truth {
    /// The true 28-day hazard per segment and as-of date: the oracle's score.
    pub hazard: Hazard,
    /// Each segment's neighbourhood reporting-propensity third (0 least eager … 2).
    pub tercile: Vec<Option<usize>>,
}

/// Ranking metrics of one score on one block of weeks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Ranking {
    /// Pooled over every row of the block: rewards telling winter from summer too.
    pub roc_auc: f64,
    /// The mean of each week's own ROC-AUC (weeks with both classes): ranking segments
    /// against each other on the same day, which is what a planner does.
    pub mean_weekly_roc_auc: f64,
    pub pr_auc: f64,
    pub precision_at_1pct: f64,
    pub precision_at_5pct: f64,
    pub precision_at_10pct: f64,
    pub recall_at_1pct: f64,
    pub recall_at_5pct: f64,
    pub recall_at_10pct: f64,
    pub lift_at_1pct: f64,
    pub lift_at_5pct: f64,
    pub lift_at_10pct: f64,
    /// The same shares of road length: the highest-scored segments until their length
    /// reaches 1, 5 or 10 % of the network.
    pub precision_at_1pct_of_length: f64,
    pub precision_at_5pct_of_length: f64,
    pub precision_at_10pct_of_length: f64,
    pub recall_at_1pct_of_length: f64,
    pub recall_at_5pct_of_length: f64,
    pub recall_at_10pct_of_length: f64,
    pub lift_at_1pct_of_length: f64,
    pub lift_at_10pct_of_length: f64,
    /// Recall in the top 10 % for defects in each reporting-propensity third.
    pub tercile_recall_at_10pct: Vec<f64>,
}

/// A calibrated model's metrics on one block.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Scored {
    #[serde(flatten)]
    pub ranking: Ranking,
    pub brier: f64,
    pub ece: f64,
    /// (mean probability, observed rate, rows) in 10 equal-mass bins.
    pub calibration: Vec<(f64, f64, usize)>,
    /// Calibration per calendar month of the as-of dates.
    pub monthly: Vec<Monthly>,
}

/// One month's calibration.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Monthly {
    /// `YYYY-MM`.
    pub month: String,
    pub rows: usize,
    pub mean_probability: f64,
    pub observed_rate: f64,
    pub ece: f64,
}

/// Everything measured on one block of test weeks.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Block {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: usize,
    pub base_rate: f64,
    pub logistic: Scored,
    pub forest: Scored,
    pub baselines: HashMap<String, Ranking>,
    pub oracle: Option<Ranking>,
}

/// The full evaluation.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub label: LabelKind,
    /// What a row is.
    pub unit: super::Unit,
    /// What the equity check's reporting thirds were measured by, when they were.
    pub reporting_thirds_by: Option<&'static str>,
    pub horizon_days: i64,
    pub folds: Vec<Block>,
    pub holdout: Block,
    /// The learner picked on the folds (mean PR-AUC): "logistic" or "forest".
    pub selected: String,
    pub features: Vec<&'static str>,
    pub logistic_params: LogisticParams,
    pub forest_params: ForestParams,
}

/// Scores a block by ranking each week's segments.
fn ranking(block: &Weeks<'_>, scores: &[f64], lengths: &[f64], truth: Option<&Truth>) -> Ranking {
    let labels = &block.labels;
    let base_rate = block.base_rate();
    let mut precision = [0.0; 3];
    let mut hits = [0usize; 3];
    let (mut length_precision, mut length_hits) = ([0.0; 3], [0usize; 3]);
    let mut tercile = [(0usize, 0usize); 3];
    let positives = labels.iter().filter(|&&l| l).count();
    let shares = [0.01, 0.05, 0.10];
    // Weeks in date order, so sums over them come out the same on every run.
    for rows in block.each_week() {
        // One sort a week; every share reads its top.
        let order = ranked(&scores[rows.clone()]);
        for (k, share) in shares.iter().enumerate() {
            let chosen = top_of(&order, *share, None);
            let found = chosen.iter().filter(|&&c| labels[rows.start + c]).count();
            precision[k] += found as f64 / chosen.len().max(1) as f64;
            hits[k] += found;
            if k == 2
                && let Some(truth) = truth
            {
                let in_top: std::collections::HashSet<usize> =
                    chosen.iter().map(|&c| rows.start + c).collect();
                for i in rows.clone() {
                    if let (true, Some(Some(t))) =
                        (labels[i], truth.tercile.get(block.rows.segment(i)))
                    {
                        tercile[*t].1 += 1;
                        tercile[*t].0 += usize::from(in_top.contains(&i));
                    }
                }
            }
        }
        let week_lengths: Vec<f64> = rows
            .clone()
            .map(|i| lengths[block.rows.segment(i)])
            .collect();
        for (k, share) in shares.iter().enumerate() {
            let chosen = top_of(&order, *share, Some(&week_lengths));
            let found = chosen.iter().filter(|&&c| labels[rows.start + c]).count();
            length_precision[k] += found as f64 / chosen.len().max(1) as f64;
            length_hits[k] += found;
        }
    }
    let weeks_n = block.rows.dates.len().max(1) as f64;
    let recall = |h: usize| h as f64 / positives.max(1) as f64;
    let lift = |p: f64| if base_rate > 0.0 { p / base_rate } else { 0.0 };
    Ranking {
        roc_auc: roc_auc(scores, labels).unwrap_or(f64::NAN),
        mean_weekly_roc_auc: {
            let weekly: Vec<f64> = block
                .each_week()
                .filter_map(|rows| roc_auc(&scores[rows.clone()], &labels[rows]))
                .collect();
            weekly.iter().sum::<f64>() / weekly.len().max(1) as f64
        },
        pr_auc: pr_auc(scores, labels).unwrap_or(f64::NAN),
        precision_at_1pct: precision[0] / weeks_n,
        precision_at_5pct: precision[1] / weeks_n,
        precision_at_10pct: precision[2] / weeks_n,
        recall_at_1pct: recall(hits[0]),
        recall_at_5pct: recall(hits[1]),
        recall_at_10pct: recall(hits[2]),
        lift_at_1pct: lift(precision[0] / weeks_n),
        lift_at_5pct: lift(precision[1] / weeks_n),
        lift_at_10pct: lift(precision[2] / weeks_n),
        precision_at_1pct_of_length: length_precision[0] / weeks_n,
        precision_at_5pct_of_length: length_precision[1] / weeks_n,
        precision_at_10pct_of_length: length_precision[2] / weeks_n,
        recall_at_1pct_of_length: recall(length_hits[0]),
        recall_at_5pct_of_length: recall(length_hits[1]),
        recall_at_10pct_of_length: recall(length_hits[2]),
        lift_at_1pct_of_length: lift(length_precision[0] / weeks_n),
        lift_at_10pct_of_length: lift(length_precision[2] / weeks_n),
        tercile_recall_at_10pct: if truth.is_some() {
            tercile
                .iter()
                .map(|(found, all)| *found as f64 / (*all).max(1) as f64)
                .collect()
        } else {
            Vec::new()
        },
    }
}

/// A calibrated model's metrics on a block, from its probability for each row.
fn scored(
    block: &Weeks<'_>,
    probabilities: &[f64],
    lengths: &[f64],
    truth: Option<&Truth>,
) -> Scored {
    let labels = &block.labels;
    // Month by month: a pooled ECE can hide a winter read too low and a summer too high.
    let mut months: std::collections::BTreeMap<String, (Vec<f64>, Vec<bool>)> =
        std::collections::BTreeMap::new();
    for (date, rows) in block.rows.dates.iter().zip(block.each_week()) {
        let month = months.entry(date.format("%Y-%m").to_string()).or_default();
        month.0.extend_from_slice(&probabilities[rows.clone()]);
        month.1.extend_from_slice(&labels[rows]);
    }
    let monthly = months
        .into_iter()
        .map(|(month, (p, labels))| Monthly {
            rows: p.len(),
            mean_probability: p.iter().sum::<f64>() / p.len().max(1) as f64,
            observed_rate: labels.iter().filter(|&&l| l).count() as f64
                / labels.len().max(1) as f64,
            ece: ece(&p, &labels, 10),
            month,
        })
        .collect();
    Scored {
        ranking: ranking(block, probabilities, lengths, truth),
        brier: brier(probabilities, labels),
        ece: ece(probabilities, labels, 10),
        calibration: calibration_curve(probabilities, labels, 10),
        monthly,
    }
}

/// Trains both learners on `train` from one fit of its spread, and calibrates them on
/// `calibrate`.
pub fn train_both<R: RowSource>(
    train: &Labelled<R>,
    calibrate: &Labelled<R>,
    logistic: LogisticParams,
    forest: ForestParams,
) -> Result<(Model, Model), TrainError> {
    let spread = Spread::fit(&train.rows);
    let standardiser = spread.standardiser.clone();
    // Side by side: the regression's solver keeps one core busy, and the forest's trees
    // take whatever the other core has left.
    let (logistic_learner, forest_learner) = std::thread::scope(|scope| {
        let logistic =
            scope.spawn(|| fit_logistic_from(spread.clone(), &train.rows, &train.labels, logistic));
        let forest = fit_forest_from(spread.clone(), &train.rows, &train.labels, forest);
        let logistic = logistic
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (logistic, forest)
    });
    let (_, logistic_learner) = logistic_learner?;
    let (_, forest_learner) = forest_learner?;
    // Both learners score each calibration row from one reading of it.
    let scores = map_rows(&calibrate.rows, |r| {
        let z = standardiser.apply(r);
        [logistic_learner.score(&z), forest_learner.score(&z)]
    });
    let calibrated = |kind: &str, learner, k: usize| {
        let scores: Vec<f64> = scores.iter().map(|s| s[k]).collect();
        Model::calibrated_on_scores(
            kind,
            standardiser.clone(),
            learner,
            &scores,
            &calibrate.labels,
        )
    };
    let logistic_model = calibrated("logistic", logistic_learner, 0);
    let forest_model = calibrated("forest", forest_learner, 1);
    Ok((logistic_model, forest_model))
}

/// The windows around a test block starting at `origin`: (train end, calibration start,
/// calibration end), each separated by one horizon.
pub fn windows_before(origin: NaiveDate) -> (NaiveDate, NaiveDate, NaiveDate) {
    let gap = Duration::days(HORIZON_DAYS);
    let calibration_end = origin - gap - Duration::days(1);
    let calibration_start = origin - gap - Duration::weeks(CALIBRATION_WEEKS);
    let train_end = calibration_start - gap - Duration::days(1);
    (train_end, calibration_start, calibration_end)
}

/// What every block of an evaluation shares.
struct Setting<'a> {
    history: &'a History,
    defects: &'a Defects,
    dates: &'a [NaiveDate],
    lengths: &'a [f64],
    truth: Option<&'a Truth>,
    logistic: LogisticParams,
    forest: ForestParams,
}

/// The scores read off each test row: the baselines', then both models'.
const BASELINES: [&str; 4] = [
    "prior_reports",
    "surface_age",
    "report_density_90d",
    "same_weeks_last_year",
];

fn block(
    setting: &Setting<'_>,
    from: NaiveDate,
    to: NaiveDate,
    progress: &mut dyn FnMut(&str),
) -> Result<Block, TrainError> {
    let Setting {
        history,
        defects,
        dates,
        lengths,
        truth,
        logistic,
        forest,
    } = *setting;
    let first = dates.first().copied().unwrap_or(from);
    let (train_end, calibration_start, calibration_end) = windows_before(from);
    let weeks = |from, to| Weeks::between(history, defects, dates, from, to);
    let train = weeks(first, train_end);
    let calibrate = weeks(calibration_start, calibration_end);
    let test = weeks(from, to);
    progress(&format!(
        "training on {first} – {train_end} ({} rows), calibrating on {calibration_start} – {calibration_end}, testing {from} – {to}",
        train.len()
    ));
    let (logistic_model, forest_model) = train_both(&train, &calibrate, logistic, forest)?;
    drop(train);
    let column = |name: &str| FEATURES.iter().position(|f| f.name == name).unwrap_or(0);
    let (reports_365, reports_90, age, length, last_year) = (
        column("reports_365d"),
        column("reports_90d"),
        column("surface_age_years"),
        column("log_length"),
        column("reports_same_weeks_last_year"),
    );
    // One reading of each test row gives every score.
    let read: Vec<[f64; BASELINES.len() + 2]> = map_rows(&test.rows, |r| {
        [
            r[reports_365],
            if r[age].is_finite() { r[age] } else { 0.0 },
            r[reports_90] / (r[length].exp() / 1000.0),
            r[last_year],
            logistic_model.probability(r),
            forest_model.probability(r),
        ]
    });
    let score = |k: usize| -> Vec<f64> { read.iter().map(|r| r[k]).collect() };
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let random: Vec<f64> = (0..test.len()).map(|_| rng.r#gen::<f64>()).collect();
    // Each ranking sorts every week's rows: they are independent, so each core takes
    // whichever is next.
    let baselines = || -> HashMap<String, Ranking> {
        (0..=BASELINES.len())
            .into_par_iter()
            .map(|k| match BASELINES.get(k) {
                Some(name) => (
                    (*name).to_owned(),
                    ranking(&test, &score(k), lengths, truth),
                ),
                None => ("random".to_owned(), ranking(&test, &random, lengths, truth)),
            })
            .collect()
    };
    let oracle = || {
        truth.filter(|t| !t.hazard.is_empty()).map(|t| {
            let scores: Vec<f64> = (0..test.len())
                .map(|i| {
                    t.hazard
                        .get(test.rows.segment(i), test.rows.as_of(i))
                        .unwrap_or(0.0)
                })
                .collect();
            ranking(&test, &scores, lengths, truth)
        })
    };
    let model = |k: usize| scored(&test, &score(k), lengths, truth);
    let ((baselines, oracle), (logistic, forest)) = rayon::join(
        || rayon::join(baselines, oracle),
        || rayon::join(|| model(BASELINES.len()), || model(BASELINES.len() + 1)),
    );
    Ok(Block {
        from,
        to,
        rows: test.len(),
        base_rate: test.base_rate(),
        logistic,
        forest,
        baselines,
        oracle,
    })
}

/// The whole evaluation over weekly as-of dates `dates` (see [`as_of_dates`]). Each
/// block's rows are built as they are read, never every segment-week at once.
pub fn evaluate(
    history: &History,
    defects: &Defects,
    dates: &[NaiveDate],
    truth: Option<&Truth>,
    logistic: LogisticParams,
    forest: ForestParams,
    progress: &mut dyn FnMut(&str),
) -> Result<Evaluation, TrainError> {
    let lengths: Vec<f64> = history.segments.iter().map(|s| s.length_m).collect();
    let last = *dates.last().ok_or(TrainError::NoRows("as-of"))?;
    let holdout_from = holdout_from(last);
    let setting = Setting {
        history,
        defects,
        dates,
        lengths: &lengths,
        truth,
        logistic,
        forest,
    };
    let mut folds = Vec::new();
    for k in 0..FOLDS {
        // Fold test blocks end a horizon before the hold-out year begins.
        let to = holdout_from
            - Duration::days(HORIZON_DAYS)
            - Duration::days(1)
            - Duration::weeks(FOLD_WEEKS * (FOLDS - 1 - k));
        let from = to - Duration::weeks(FOLD_WEEKS) + Duration::days(1);
        folds.push(block(&setting, from, to, progress)?);
    }
    let holdout = block(&setting, holdout_from, last, progress)?;
    let mean_pr =
        |pick: fn(&Block) -> f64| folds.iter().map(pick).sum::<f64>() / folds.len().max(1) as f64;
    let selected = if mean_pr(|b| b.forest.ranking.pr_auc) > mean_pr(|b| b.logistic.ranking.pr_auc)
    {
        "forest"
    } else {
        "logistic"
    };
    Ok(Evaluation {
        label: defects.kind,
        unit: super::Unit::Segment,
        reporting_thirds_by: None,
        horizon_days: HORIZON_DAYS,
        folds,
        holdout,
        selected: selected.to_owned(),
        features: FEATURES.iter().map(|f| f.name).collect(),
        logistic_params: logistic,
        forest_params: forest,
    })
}

impl Evaluation {
    /// The selected model's hold-out metrics.
    pub fn selected_scores(&self) -> &Scored {
        if self.selected == "forest" {
            &self.holdout.forest
        } else {
            &self.holdout.logistic
        }
    }

    /// The headline figures as one flat JSON object.
    pub fn summary(&self) -> serde_json::Value {
        let s = self.selected_scores();
        let h = &self.holdout;
        let tercile_ratio = ratio_of_terciles(&s.ranking.tercile_recall_at_10pct);
        let (best_baseline, best) = best_baseline(&h.baselines);
        let mut first = serde_json::json!({
            "label": self.label.as_str(),
            "unit": self.unit.as_str(),
            "horizon_days": self.horizon_days,
            "precision_at_10pct_over_best_baseline": best.filter(|b| *b > 0.0).map(|b| s.ranking.precision_at_10pct / b),
            "best_baseline": best_baseline,
            "best_baseline_precision_at_10pct": best,
            "oracle_lift_at_1pct": h.oracle.as_ref().map(|o| o.lift_at_1pct),
            "model": self.selected,
            "holdout_from": h.from,
            "holdout_to": h.to,
            "holdout_rows": h.rows,
            "base_rate": h.base_rate,
            "roc_auc": s.ranking.roc_auc,
            "mean_weekly_roc_auc": s.ranking.mean_weekly_roc_auc,
            "pr_auc": s.ranking.pr_auc,
            "precision_at_1pct": s.ranking.precision_at_1pct,
            "precision_at_5pct": s.ranking.precision_at_5pct,
            "precision_at_10pct": s.ranking.precision_at_10pct,
            "recall_at_10pct": s.ranking.recall_at_10pct,
            "lift_at_1pct": s.ranking.lift_at_1pct,
            "lift_at_10pct": s.ranking.lift_at_10pct,
            "precision_at_1pct_of_length": s.ranking.precision_at_1pct_of_length,
            "precision_at_10pct_of_length": s.ranking.precision_at_10pct_of_length,
            "recall_at_10pct_of_length": s.ranking.recall_at_10pct_of_length,
            "lift_at_1pct_of_length": s.ranking.lift_at_1pct_of_length,
            "brier": s.brier,
        });
        // Two objects: one `json!` of every key is too deep for the macro.
        let more = serde_json::json!({
            "ece": s.ece,
            "oracle_precision_at_10pct": h.oracle.as_ref().map(|o| o.precision_at_10pct),
            "oracle_roc_auc": h.oracle.as_ref().map(|o| o.roc_auc),
            "oracle_mean_weekly_roc_auc": h.oracle.as_ref().map(|o| o.mean_weekly_roc_auc),
            "oracle_tercile_recall_ratio": h.oracle.as_ref().map(|o| ratio_of_terciles(&o.tercile_recall_at_10pct)),
            "baseline_random_precision_at_10pct": h.baselines.get("random").map(|b| b.precision_at_10pct),
            "baseline_prior_reports_precision_at_10pct": h.baselines.get("prior_reports").map(|b| b.precision_at_10pct),
            "baseline_surface_age_precision_at_10pct": h.baselines.get("surface_age").map(|b| b.precision_at_10pct),
            "baseline_report_density_precision_at_10pct": h.baselines.get("report_density_90d").map(|b| b.precision_at_10pct),
            "baseline_same_weeks_last_year_precision_at_10pct": h.baselines.get("same_weeks_last_year").map(|b| b.precision_at_10pct),
            "monthly_calibration": s.monthly,
            "tercile_recall_at_10pct": s.ranking.tercile_recall_at_10pct,
            "calibration": s.calibration.iter().map(|(predicted, observed, count)| serde_json::json!({"predicted": predicted, "observed": observed, "count": count})).collect::<Vec<_>>(),
            "tercile_recall_ratio": tercile_ratio,
            "reporting_thirds_by": self.reporting_thirds_by,
            "best_baseline_tercile_recall_ratio": best_baseline.and_then(|b| h.baselines.get(b)).map(|b| ratio_of_terciles(&b.tercile_recall_at_10pct)),
            "logistic_roc_auc": h.logistic.ranking.roc_auc,
            "forest_roc_auc": h.forest.ranking.roc_auc,
            "folds_roc_auc": self.folds.iter().map(|f| if self.selected == "forest" { f.forest.ranking.roc_auc } else { f.logistic.ranking.roc_auc }).collect::<Vec<_>>(),
        });
        if let (Some(out), serde_json::Value::Object(more)) = (first.as_object_mut(), more) {
            out.extend(more);
        }
        first
    }
}

/// The baseline (other than random) with the highest precision in the top 10 %, and that
/// precision.
pub fn best_baseline(baselines: &HashMap<String, Ranking>) -> (Option<&str>, Option<f64>) {
    baselines
        .iter()
        .filter(|(name, _)| name.as_str() != "random")
        .max_by(|a, b| {
            a.1.precision_at_10pct
                .total_cmp(&b.1.precision_at_10pct)
                .then(b.0.cmp(a.0))
        })
        .map_or((None, None), |(name, r)| {
            (Some(name.as_str()), Some(r.precision_at_10pct))
        })
}

/// The worst third's recall over the best third's (NaN when not measured).
pub fn ratio_of_terciles(recall: &[f64]) -> f64 {
    let best = recall.iter().copied().fold(f64::NAN, f64::max);
    let worst = recall.iter().copied().fold(f64::NAN, f64::min);
    if best > 0.0 { worst / best } else { f64::NAN }
}
