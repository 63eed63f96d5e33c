//! Segment risk in the server: reads what Upkeep observed into a [`History`], trains and
//! registers models, scores every segment, and evaluates on the demo city's truth.
//! The learning itself lives in `models::risk`.

pub mod card;
mod ranking;
mod task;
mod units;

pub use ranking::{LatestRun, Percentiles, RunCache, cell_id, cell_polygon};

pub use task::Task;
pub use units::{CellGrid, KnownCells, observe_cells};

use crate::db::risk as store;
use crate::db::words::Json;
use crate::db::{Conn, Database, DbError};
use chrono::{Duration, NaiveDate};
use models::risk::annual;
use models::risk::evaluate::{self, WeeklyRows};
use models::risk::features::{Pavement, Rating};
use models::risk::model::RowSource;
use models::risk::model::TrainError;
use models::risk::{
    Defects, Evaluation, FEATURES, ForestParams, Hazard, History, Horizon, LabelKind,
    LogisticParams, Model, SegmentFacts, Truth, Unit, features,
};
use std::collections::HashMap;

/// Why risk work failed.
#[derive(Debug, thiserror::Error)]
pub enum RiskError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error(transparent)]
    Train(#[from] TrainError),
    #[error("there are no road segments to score")]
    NoSegments,
    #[error("the history is too short: {0}")]
    TooShort(String),
    #[error(
        "the reports have gaps between {0}: {1}. A model would learn that nothing happened then; import the missing months (see `upkeep import quality`) first"
    )]
    BrokenCoverage(String, String),
    #[error("no model is active: run `upkeep train` first")]
    NoModel,
    #[error("the stored model {0} cannot be read: {1}")]
    BadArtifact(String, String),
    #[error(
        "the active model {0} was trained on other features than this version of Upkeep computes: run `upkeep train`"
    )]
    Outdated(String),
    #[error("the active model {model} predicts {predicts}, not {asked}")]
    OtherTask {
        model: String,
        predicts: String,
        asked: String,
    },
}

/// A probability as Upkeep shows it: to 0.01 % (four decimals), everywhere (the API,
/// the map tiles), so a segment reads the same on every view.
pub fn rounded(p: f64) -> f64 {
    (p * 10_000.0).round() / 10_000.0
}

/// Whether a stored model reads the features this version of Upkeep computes.
pub fn is_current(model: &store::ModelVersion) -> bool {
    model.features.0.len() == FEATURES.len()
        && model
            .features
            .0
            .iter()
            .zip(FEATURES)
            .all(|(a, b)| a == b.name)
}

/// What the database holds, ready for the model.
pub struct Observed {
    pub history: History,
    /// Segment ids, in the order of `history.segments`.
    pub segment_ids: Vec<i64>,
    /// Each segment's id in the city's own register (a street id), if it has one.
    pub external_ids: Vec<Option<String>>,
    /// Each segment's middle (longitude, latitude): the average of its two ends.
    pub points: Vec<(f64, f64)>,
    /// What the models learn: the demo city's true potholes, or else new road-surface
    /// defect evidence.
    pub defects: Defects,
    /// New road-surface defect evidence (reports of new issues and repairs while none
    /// was open): the label a real city has, read beside the truth on the demo city.
    pub evidence: Defects,
    /// The demo city's truth, if there is one.
    pub truth: Option<Truth>,
    /// What a row is.
    pub unit: Unit,
    /// With cells for units, their squares.
    pub grid: Option<CellGrid>,
    /// How far a label looks, and how often as-of dates fall.
    pub horizon: Horizon,
    pub start: NaiveDate,
    /// The as-of day of scoring: the demo city's last day, or today.
    pub end: NaiveDate,
    /// The last day anything was observed (a report, an issue, a repair): an imported
    /// history that ended years ago is evaluated up to it, not up to today.
    pub last_event: NaiveDate,
}

/// How much of the history a reading takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// Everything, with the demo city's weekly true hazard: the oracle an evaluation
    /// compares the models with.
    Evaluation,
    /// Everything a model learns from (on the demo city, its true potholes as labels),
    /// without the oracle: fifteen million segment-weeks on the large demo city.
    Training,
    /// What scoring as of the last record reads: the reports and probe readings of the
    /// features' look-back windows only (a year and a quarter), and no labels. The
    /// history's `start` is then the first day read.
    Scoring,
}

/// Reads everything the model uses, on one connection. `progress` hears what is being
/// read.
pub fn observe(db: &Database, progress: &mut dyn FnMut(&str)) -> Result<Observed, RiskError> {
    db.read(|conn| observe_on(conn, Reading::Evaluation, progress))
}

/// Reads what `task` predicts for: every segment, or the grid cells of `task.cell_m`
/// that ever had a report; with the task's horizon. Scoring reads windows for weekly
/// segment tasks only (cells and annual horizons are read whole).
pub fn observe_for(
    db: &Database,
    task: Task,
    reading: Reading,
    progress: &mut dyn FnMut(&str),
) -> Result<Observed, RiskError> {
    let reading = match (reading, task.horizon) {
        (Reading::Scoring, Horizon::Annual { .. }) => Reading::Training,
        (reading, _) => reading,
    };
    let mut observed = match task.unit {
        Unit::Cell => observe_cells(db, task.cell_m, KnownCells::All, progress)?,
        _ => db.read(|conn| observe_on(conn, reading, progress))?,
    };
    observed.horizon = task.horizon;
    Ok(observed)
}

impl Observed {
    /// What a model trained on this history predicts.
    pub fn task(&self) -> Task {
        Task {
            unit: self.unit,
            cell_m: self
                .grid
                .as_ref()
                .map_or(Task::default().cell_m, |g| g.side_m),
            horizon: self.horizon,
        }
    }
}

fn observe_on(
    conn: &mut Conn<'_>,
    reading: Reading,
    progress: &mut dyn FnMut(&str),
) -> Result<Observed, RiskError> {
    use crate::db::{
        issues, maintenance, requests, segment_ratings, segments, sensor_readings, services, truth,
    };
    progress("segments");
    let rows = segments::risk_facts(conn)?;
    if rows.is_empty() {
        return Err(RiskError::NoSegments);
    }
    let index: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.0, i)).collect();
    let ends = ends_of(&rows)?;
    let points = ends.iter().map(middle).collect();
    let neighbours = features::neighbours(&ends);
    let facts = rows
        .iter()
        .zip(neighbours)
        .map(|(r, neighbours)| SegmentFacts {
            length_m: r.1,
            class: r.2.road_class(),
            aadt: r.3.map(f64::from),
            bus_route: r.4,
            surfaced_on: r.5,
            pavement: r.8.as_deref().and_then(Pavement::from_word),
            neighbours,
        })
        .collect();
    let mut history = History::new(facts);
    // What counts as a road-surface defect is the catalogue's to say, never a word.
    let codes = services::road_surface_codes(conn)?;
    let window = truth::demo_window(conn)?;
    let today = crate::domain::now().date();
    let n = rows.len();
    let mut evidence = Defects {
        kind: LabelKind::NewDefectEvidence,
        found: vec![Vec::new(); n],
        repairs: vec![Vec::new(); n],
        open: vec![Vec::new(); n],
    };
    let mut first_day: Option<NaiveDate> = None;
    let mut last_day: Option<NaiveDate> = None;
    progress("maintenance");
    for (segment, kind, at) in maintenance::all(conn)? {
        let Some(&s) = index.get(&segment) else {
            continue;
        };
        if file_maintenance(&kind, at.date(), s, &codes, &mut history, &mut evidence) {
            last_day = last_day.max(Some(at.date()));
        }
    }
    // Scoring looks back from the last record: the demo city's last day, or the last
    // road-surface report or repair.
    let last_record = match (reading, window) {
        (Reading::Scoring, Some((_, end))) => Some(end.min(today)),
        (Reading::Scoring, None) => {
            let report = requests::last_report_of(conn, &codes)?.map(|at| at.date());
            Some(last_day.max(report).unwrap_or(today).min(today))
        }
        _ => None,
    };
    let since =
        |days: i64| last_record.and_then(|last| (last - Duration::days(days)).and_hms_opt(0, 0, 0));
    progress("reports");
    for (segment, at) in requests::reports_of(conn, &codes, since(features::REPORT_LOOKBACK_DAYS))?
    {
        if let Some(&s) = index.get(&segment) {
            history.reports[s].push(at.date());
            first_day = Some(first_day.map_or(at.date(), |d: NaiveDate| d.min(at.date())));
            last_day = last_day.max(Some(at.date()));
        }
    }
    // A resident saying a repair did not hold reports the defect again.
    for (segment, _, _, at) in crate::db::feedback::not_fixed(conn, &codes)? {
        if let Some(&s) = segment.and_then(|id| index.get(&id)) {
            history.reports[s].push(at.date());
        }
    }
    let spans = if reading == Reading::Scoring {
        Vec::new()
    } else {
        issues::spans_of(conn, &codes)?
    };
    for (segment, from, to) in spans {
        if let Some(&s) = index.get(&segment) {
            evidence.found[s].push(from.date());
            evidence.open[s].push((from.date(), to.map_or(NaiveDate::MAX, |t| t.date())));
        }
    }
    for list in evidence.found.iter_mut().chain(&mut evidence.repairs) {
        list.sort_unstable();
    }
    progress("ratings");
    for (segment, on, grades) in segment_ratings::all(conn)? {
        if let Some(&s) = index.get(&segment) {
            history.ratings[s].push(Rating {
                on,
                overall: grades.overall,
                cracking: grades.cracking,
                patching: grades.patching,
                pavement: grades
                    .pavement_type
                    .as_deref()
                    .and_then(Pavement::from_word),
            });
        }
    }
    progress("probe readings");
    sensor_readings::each_roughness(
        conn,
        since(features::ROUGHNESS_LOOKBACK_DAYS),
        &mut |segment, at, value| {
            if let Some(&s) = index.get(&segment) {
                history.roughness[s].push((at.date(), value as f32));
            }
        },
    )?;
    progress("weather");
    history.freeze_thaw_days = freeze_thaw_days(conn)?;
    history.sort();
    // A city that logs only repairs (no reports) has them as its first evidence.
    let first_repair = history.repairs.iter().flatten().min().copied();
    let (start, end) = match window {
        Some((start, end)) => (start, end.min(today)),
        None => (first_day.or(first_repair).unwrap_or(today), today),
    };
    progress("truth");
    // Scoring needs no labels.
    let potholes = if reading == Reading::Scoring {
        Vec::new()
    } else {
        truth::true_potholes(conn)?
    };
    let (defects, truth) = if potholes.is_empty() {
        (evidence.clone(), None)
    } else {
        let mut days = vec![Vec::new(); n];
        for (segment, formed) in potholes {
            if let Some(&s) = index.get(&segment) {
                days[s].push(formed);
            }
        }
        for list in &mut days {
            list.sort_unstable();
        }
        let hazard = if reading == Reading::Evaluation {
            Hazard::from_weeks(
                n,
                truth::true_hazard(conn)?
                    .into_iter()
                    .filter_map(|(segment, week, h)| Some((*index.get(&segment)?, week, h))),
            )
        } else {
            Hazard::default()
        };
        let propensity: HashMap<String, f64> = truth::true_propensity(conn)?.into_iter().collect();
        let tercile = models::risk::terciles(
            &rows
                .iter()
                .map(|r| r.7.as_ref().and_then(|n| propensity.get(n)).copied())
                .collect::<Vec<_>>(),
        );
        (
            Defects::found(LabelKind::TruePotholes, days),
            Some(Truth { hazard, tercile }),
        )
    };
    Ok(Observed {
        history,
        unit: Unit::Segment,
        grid: None,
        horizon: Horizon::Weekly,
        segment_ids: rows.iter().map(|r| r.0).collect(),
        external_ids: rows.iter().map(|r| r.9.clone()).collect(),
        points,
        defects,
        evidence,
        truth,
        start,
        end,
        // The demo city's window is its own truth; elsewhere, the history ends with its
        // last record.
        last_event: if window.is_some() {
            end
        } else {
            last_day.unwrap_or(end).min(end)
        },
    })
}

/// Files one maintenance record of unit `u`: resurfacings and water-main breaks as
/// facts of their own, road-surface repairs as repairs and as evidence; returns whether
/// it was a road-surface repair. Street lights, graffiti and inspections that found
/// nothing are not the road, and are left out.
fn file_maintenance(
    kind: &str,
    day: NaiveDate,
    u: usize,
    codes: &[String],
    history: &mut History,
    evidence: &mut Defects,
) -> bool {
    match kind {
        "resurfacing" => history.resurfacings[u].push(day),
        "water_main_break" => history.water_main_breaks[u].push(day),
        kind if crate::db::services::is_road_surface_repair(kind, codes) => {
            history.repairs[u].push(day);
            evidence.repairs[u].push(day);
            return true;
        }
        _ => {}
    }
    false
}

/// Each segment's two ends, (longitude, latitude) each.
fn ends_of(rows: &[crate::db::segments::SegmentFacts]) -> Result<Vec<features::Ends>, DbError> {
    rows.iter()
        .map(|r| {
            let lines = crate::db::segments::lines_of(r.0, &r.6)?;
            let first = lines
                .first()
                .and_then(|l| l.first())
                .copied()
                .unwrap_or((0.0, 0.0));
            let last = lines
                .last()
                .and_then(|l| l.last())
                .copied()
                .unwrap_or(first);
            Ok((first, last))
        })
        .collect()
}

/// The point halfway between a segment's ends.
fn middle((a, b): &features::Ends) -> (f64, f64) {
    ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0)
}

/// The days whose minimum and maximum air temperatures cross 0 °C.
fn freeze_thaw_days(conn: &mut Conn<'_>) -> Result<Vec<NaiveDate>, DbError> {
    Ok(crate::db::weather::daily(conn)?
        .into_iter()
        .filter(|(_, tmin, tmax)| features::is_freeze_thaw(*tmin, *tmax))
        .map(|(day, ..)| day)
        .collect())
}

pub use crate::domain::ModelKind as Kind;

/// Refuses to learn from a window whose reports have months missing.
fn check_coverage(observed: &Observed) -> Result<(), RiskError> {
    let days = observed
        .history
        .reports
        .iter()
        .flatten()
        .copied()
        .filter(|day| (observed.start..=observed.end).contains(day));
    match models::coverage::monthly(days).and_then(|c| c.describe_gaps()) {
        Some(gaps) => Err(RiskError::BrokenCoverage(
            format!("{} and {}", observed.start, observed.end),
            gaps,
        )),
        None => Ok(()),
    }
}

/// Runs the temporal evaluation of both learners on the label the models learn.
pub fn evaluate(
    observed: &Observed,
    progress: &mut dyn FnMut(&str),
) -> Result<Evaluation, RiskError> {
    evaluate_on(observed, &observed.defects, progress)
}

/// Runs the temporal evaluation of both learners on `defects`' label (the demo city is
/// evaluated on its true potholes and on the evidence a real city would have).
pub fn evaluate_on(
    observed: &Observed,
    defects: &Defects,
    progress: &mut dyn FnMut(&str),
) -> Result<Evaluation, RiskError> {
    let dates = evaluate::as_of_dates(observed.start, observed.last_event);
    if dates.len() < 52 + 40 {
        return Err(RiskError::TooShort(format!(
            "{} weekly as-of dates between {} and {}; the evaluation needs about two years",
            dates.len(),
            observed.start,
            observed.last_event
        )));
    }
    // Without the demo city's reporting habits, the equity check groups places by how
    // much their neighbourhood reported before the hold-out year.
    let by_past_reports = match (&observed.truth, dates.last()) {
        (None, Some(&last)) => {
            let thirds = units::reporting_thirds(observed, evaluate::holdout_from(last));
            thirds.iter().any(Option::is_some).then(|| Truth {
                hazard: Hazard::default(),
                tercile: thirds,
            })
        }
        _ => None,
    };
    let truth = observed.truth.as_ref().or(by_past_reports.as_ref());
    let mut evaluation = evaluate::evaluate(
        &observed.history,
        defects,
        &dates,
        truth,
        LogisticParams::default(),
        ForestParams::default(),
        progress,
    )?;
    evaluation.unit = observed.unit;
    evaluation.reporting_thirds_by = match (&observed.truth, &by_past_reports) {
        (Some(_), _) => Some("reporting_propensity"),
        (None, Some(_)) => Some("past_reports_per_km"),
        (None, None) => None,
    };
    Ok(evaluation)
}

/// The annual task (one as-of date, a season's or a year's horizon), holding out
/// blocks of streets: for a city with ratings and a season of repairs.
pub fn evaluate_annual(
    observed: &Observed,
    task: annual::Task,
    progress: &mut dyn FnMut(&str),
) -> Result<annual::Evaluation, RiskError> {
    if !(1..=3 * 365).contains(&task.horizon_days) {
        return Err(RiskError::TooShort(format!(
            "a horizon of {} days; give 1 to 1095",
            task.horizon_days
        )));
    }
    let labelled = (0..observed.segment_ids.len())
        .filter(|&s| observed.defects.label(s, task.as_of, task.horizon_days))
        .count();
    if labelled < 20 {
        return Err(RiskError::TooShort(format!(
            "{labelled} segments have new road-surface defect evidence in the {} days after {}; the evaluation needs at least 20",
            task.horizon_days, task.as_of
        )));
    }
    Ok(annual::evaluate(
        &observed.history,
        &observed.defects,
        &observed.points,
        task,
        progress,
    )?)
}

/// What a training run made.
pub struct Trained {
    pub model_id: i64,
    pub version: String,
    pub kind: Kind,
    pub fit_seconds: f64,
    pub rows: usize,
}

/// A fitted and calibrated model, and what it was fitted on.
struct Fit {
    model: Model,
    hyperparameters: serde_json::Value,
    from: NaiveDate,
    to: NaiveDate,
    rows: usize,
}

/// Trains `kind` for the observed task and registers it as the active model with
/// `metrics` (for example an evaluation's summary): with weekly as-of dates, on
/// everything labelled but the last weeks and calibrated on those; with annual ones,
/// as [`annual::fit_final`] says.
pub fn train(
    db: &Database,
    observed: &Observed,
    kind: Kind,
    metrics: serde_json::Value,
    progress: &mut dyn FnMut(&str),
) -> Result<Trained, RiskError> {
    check_coverage(observed)?;
    let started = std::time::Instant::now();
    let fit = match observed.horizon {
        Horizon::Weekly => fit_weekly(observed, kind, progress)?,
        Horizon::Annual { .. } => fit_annual(observed, kind, &metrics, progress)?,
    };
    let fit_seconds = started.elapsed().as_secs_f64();
    // What the model predicts travels with it, whatever else the metrics hold.
    let task = observed.task();
    let mut metrics = metrics;
    if let Some(object) = metrics.as_object_mut() {
        object
            .entry("label")
            .or_insert_with(|| observed.defects.kind.as_str().into());
        object.insert("unit".into(), observed.unit.as_str().into());
        object.insert("horizon_days".into(), observed.horizon.days().into());
        object.insert(
            "task".into(),
            serde_json::to_value(task).unwrap_or_default(),
        );
    }
    let now = crate::domain::now();
    // To the millisecond: two runs a second apart (a planner's and another's) are two
    // versions.
    let version = format!("{}-{}", now.format("%Y%m%dT%H%M%S%.3f"), kind.as_str());
    let artifact = serde_json::to_vec(&fit.model)
        .map_err(|e| RiskError::BadArtifact(version.clone(), e.to_string()))?;
    progress("registering");
    let model_id = db.write(|conn| {
        store::register(
            conn,
            &store::NewModelVersion {
                version: version.clone(),
                kind,
                trained_from: fit.from,
                trained_to: fit.to,
                features: Json(FEATURES.iter().map(|f| f.name.to_owned()).collect()),
                hyperparameters: Json(fit.hyperparameters),
                metrics: Json(metrics),
                artifact,
                active: true,
                created_at: now,
            },
        )
    })?;
    Ok(Trained {
        model_id,
        version,
        kind,
        fit_seconds,
        rows: fit.rows,
    })
}

/// Weekly as-of dates: fitted up to a horizon before the calibration weeks, which end
/// with the last complete label.
fn fit_weekly(
    observed: &Observed,
    kind: Kind,
    progress: &mut dyn FnMut(&str),
) -> Result<Fit, RiskError> {
    let dates = evaluate::as_of_dates(observed.start, observed.last_event);
    let last = *dates
        .last()
        .ok_or_else(|| RiskError::TooShort("no as-of date has a complete label window".into()))?;
    let origin = last + Duration::days(evaluate::HORIZON_DAYS) + Duration::days(1);
    let (train_end, calibration_start, calibration_end) = evaluate::windows_before(origin);
    let train_dates: Vec<NaiveDate> = dates.iter().copied().filter(|d| *d <= train_end).collect();
    let calibration_dates: Vec<NaiveDate> = dates
        .iter()
        .copied()
        .filter(|d| *d >= calibration_start && *d <= calibration_end)
        .collect();
    if train_dates.len() < 8 || calibration_dates.is_empty() {
        return Err(RiskError::TooShort(format!(
            "{} training weeks before {train_end}",
            train_dates.len()
        )));
    }
    // Rows are built when the learner reads them, never all at once: on the large demo
    // city the training weeks hold ten million segment-weeks.
    progress("labelling");
    let train_rows = WeeklyRows::new(&observed.history, &train_dates);
    let train_labels = train_rows.labels(&observed.defects, evaluate::HORIZON_DAYS);
    let calibration_rows = WeeklyRows::new(&observed.history, &calibration_dates);
    let calibration_labels = calibration_rows.labels(&observed.defects, evaluate::HORIZON_DAYS);
    progress("fitting");
    let (standardiser, learner, hyperparameters) = match kind {
        Kind::Logistic => {
            let params = LogisticParams::default();
            let (s, l) = models::risk::model::fit_logistic(&train_rows, &train_labels, params)?;
            (s, l, serde_json::to_value(params).unwrap_or_default())
        }
        Kind::Forest => {
            let params = ForestParams::default();
            let (s, l) = models::risk::model::fit_forest(&train_rows, &train_labels, params)?;
            (s, l, serde_json::to_value(params).unwrap_or_default())
        }
    };
    progress("calibrating");
    let model = Model::calibrated(
        kind.as_str(),
        standardiser,
        learner,
        &calibration_rows,
        &calibration_labels,
    );
    Ok(Fit {
        model,
        hyperparameters,
        from: train_dates[0],
        to: train_end,
        rows: train_rows.len(),
    })
}

/// The as-of dates of an annual horizon, or why there are none.
fn annual_dates(observed: &Observed) -> Result<Vec<NaiveDate>, RiskError> {
    let dates = observed
        .horizon
        .as_of_dates(observed.start, observed.last_event);
    if dates.is_empty() {
        return Err(RiskError::TooShort(format!(
            "no as-of day between {} and {} has {} days of history after it; train with a shorter horizon (risk_horizon) or import more",
            observed.start,
            observed.last_event,
            observed.horizon.days()
        )));
    }
    Ok(dates)
}

/// Annual as-of dates: the learner the evaluation chose (its name in `metrics`), else
/// `kind`'s default, fitted by [`annual::fit_final`].
fn fit_annual(
    observed: &Observed,
    kind: Kind,
    metrics: &serde_json::Value,
    progress: &mut dyn FnMut(&str),
) -> Result<Fit, RiskError> {
    let dates = annual_dates(observed)?;
    let learner = metrics
        .get("model")
        .and_then(serde_json::Value::as_str)
        .and_then(annual::Learner::named)
        .filter(|l| l.kind() == kind.as_str())
        .or_else(|| annual::Learner::named(kind.as_str()))
        .ok_or_else(|| RiskError::TooShort(format!("no learner is named {}", kind.as_str())))?;
    progress("fitting");
    let fitted = annual::fit_final(
        &observed.history,
        &observed.defects,
        &observed.points,
        &dates,
        observed.horizon.days(),
        learner,
    )?;
    Ok(Fit {
        model: fitted.model,
        hyperparameters: learner.params(),
        from: fitted.fitted_on[0],
        to: *fitted.fitted_on.last().unwrap_or(&fitted.fitted_on[0]),
        rows: fitted.rows,
    })
}

/// What a scoring run did.
pub struct ScoredRun {
    /// Segments or cells scored.
    pub units: usize,
    pub unit: Unit,
    pub as_of: NaiveDate,
    pub seconds: f64,
    pub version: String,
}

/// Scores every unit with the active model as of the history's last record (for an
/// annual horizon, the last of the year's days before it), with the three
/// features that moved each score most, and stores the run. `observed` must be read for
/// the active model's task (see [`score_active`]).
pub fn score(db: &Database, observed: &Observed) -> Result<ScoredRun, RiskError> {
    let active = db.read(store::active_model)?.ok_or(RiskError::NoModel)?;
    if !is_current(&active) {
        return Err(RiskError::Outdated(active.version));
    }
    let task = Task::of_model(&active);
    if !task.predicts_like(&observed.task()) {
        return Err(RiskError::OtherTask {
            model: active.version,
            predicts: task.describe(),
            asked: observed.task().describe(),
        });
    }
    let model: Model = serde_json::from_slice(&active.artifact)
        .map_err(|e| RiskError::BadArtifact(active.version.clone(), e.to_string()))?;
    let started = std::time::Instant::now();
    // As of the history's last record, not today: an imported history that ended years
    // ago says nothing about this week, and would score every unit alike.
    let as_of = observed.horizon.scoring_day(observed.last_event);
    let scored_at = crate::domain::now();
    let scored = score_all(&model, &observed.history, as_of);
    let seconds = started.elapsed().as_secs_f64();
    let units = scored.len();
    match &observed.grid {
        None => {
            let scores = scored
                .into_iter()
                .zip(&observed.segment_ids)
                .map(
                    |((probability, explanation), &segment_id)| store::RiskScore {
                        segment_id,
                        model_version_id: active.id,
                        scored_at,
                        probability,
                        explanation: Json(explanation),
                    },
                )
                .collect::<Vec<_>>();
            db.write(|conn| store::store_scores(conn, &scores))?;
        }
        Some(grid) => {
            let scores = scored
                .into_iter()
                .enumerate()
                .map(|(u, (probability, explanation))| {
                    let [west, south, east, north] = grid.bounds(u);
                    store::CellScore {
                        model_version_id: active.id,
                        scored_at,
                        cell_x: grid.cells[u].0,
                        cell_y: grid.cells[u].1,
                        west,
                        south,
                        east,
                        north,
                        probability,
                        explanation: Json(explanation),
                    }
                })
                .collect::<Vec<_>>();
            db.write(|conn| store::store_cell_scores(conn, &scores))?;
        }
    }
    Ok(ScoredRun {
        units,
        unit: observed.unit,
        as_of,
        seconds,
        version: active.version,
    })
}

/// Reads what the active model predicts for and scores it: what a re-scoring does.
pub fn score_active(db: &Database, progress: &mut dyn FnMut(&str)) -> Result<ScoredRun, RiskError> {
    let active = db.read(store::active_model)?.ok_or(RiskError::NoModel)?;
    let observed = observe_for(db, Task::of_model(&active), Reading::Scoring, progress)?;
    score(db, &observed)
}

/// Every segment's probability and explanation as of `as_of` (pure computation).
///
/// One thread: splitting the segments over both cores measured slower (2.3 s against
/// 1.4 s for 100,000 segments, before tree walks stopped allocating), the work being
/// allocation and memory reads.
pub fn score_all(
    model: &Model,
    history: &History,
    as_of: NaiveDate,
) -> Vec<(f64, Vec<models::risk::Contribution>)> {
    (0..history.segments.len())
        .map(|s| {
            let row = features::row(history, s, as_of);
            (model.probability(&row), model.explain(&row, 3))
        })
        .collect()
}
/// Which learner to train: the better of both on the rolling folds, or one named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Auto,
    Only(Kind),
}

/// Chooses the learner (evaluating both on the rolling folds for [`Choice::Auto`]),
/// trains it on `observed` and makes it the active model: what `upkeep train`, a
/// planner's retrain and a first model on start all do.
pub fn retrain(
    db: &Database,
    observed: &Observed,
    choice: Choice,
    progress: &mut dyn FnMut(&str),
) -> Result<Trained, RiskError> {
    let (kind, metrics) = match (choice, observed.horizon) {
        (Choice::Auto, Horizon::Annual { days, .. }) => {
            let dates = annual_dates(observed)?;
            let as_of = *dates.last().unwrap_or(&observed.end);
            let task = annual::Task {
                as_of,
                horizon_days: days,
                unit: observed.unit,
            };
            let evaluation = evaluate_annual(observed, task, progress)?;
            let kind = if evaluation.selected.starts_with("forest") {
                Kind::Forest
            } else {
                Kind::Logistic
            };
            (kind, evaluation.summary())
        }
        (Choice::Auto, Horizon::Weekly) => {
            let evaluation = evaluate(observed, progress)?;
            // The evaluation names one of the two learners it compared.
            let kind = if evaluation.selected == Kind::Forest.as_str() {
                Kind::Forest
            } else {
                Kind::Logistic
            };
            (kind, evaluation.summary())
        }
        (Choice::Only(kind), _) => (kind, serde_json::json!({})),
    };
    train(db, observed, kind, metrics, progress)
}

/// The one training or scoring run a cluster does at a time, in the background. The
/// HTTP handlers and the scheduler share it, so a planner's retrain and the periodic
/// re-scoring never run together; and a run holds the cluster's lease, so two servers
/// never run one at once.
#[derive(Debug)]
pub struct Runner {
    busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// This server's name among the lease holders.
    holder: String,
}

impl Default for Runner {
    fn default() -> Runner {
        Runner {
            busy: Default::default(),
            holder: format!("{}-{}", std::process::id(), uuid::Uuid::new_v4()),
        }
    }
}

/// Whether a run started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Started,
    /// This server is running one.
    BusyHere,
    /// Another server holds the lease.
    BusyElsewhere,
}

impl Runner {
    /// This server's name among lease holders (for its other once-per-cluster jobs too).
    pub fn server_id(&self) -> &str {
        &self.holder
    }

    /// True while this server runs one.
    pub fn is_busy(&self) -> bool {
        self.busy.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Runs `job` on a thread of its own unless a run is going here or on another
    /// server. The runner is free again, and the lease given up, when `job` returns,
    /// whatever it did.
    pub fn spawn(
        &self,
        db: &Database,
        job: impl FnOnce() + Send + 'static,
    ) -> Result<Start, DbError> {
        use std::sync::atomic::Ordering;
        if self.busy.swap(true, Ordering::SeqCst) {
            return Ok(Start::BusyHere);
        }
        // Freed on the way out even if the job panics.
        struct Free(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Free {
            fn drop(&mut self) {
                self.0.store(false, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let free = Free(self.busy.clone());
        let Some(lease) = crate::leases::hold(db, crate::leases::RISK, &self.holder)? else {
            return Ok(Start::BusyElsewhere);
        };
        std::thread::spawn(move || {
            // Dropped in reverse: the lease is given up before the runner is free.
            let _free = free;
            let _lease = lease;
            job();
        });
        Ok(Start::Started)
    }
}
