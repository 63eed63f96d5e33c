//! The `model_versions` and `risk_scores` tables: the model registry and what each
//! scoring run found.

use super::schema::{model_versions, risk_cell_scores, risk_scores};
use super::words::Json;
use super::{Conn, DbResult};
use crate::domain::ModelKind;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use models::risk::model::Contribution;

/// A model in the registry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = model_versions)]
pub struct ModelVersion {
    pub id: i64,
    pub version: String,
    pub kind: ModelKind,
    pub trained_from: NaiveDate,
    pub trained_to: NaiveDate,
    /// Feature names, in the order the model reads them.
    pub features: Json<Vec<String>>,
    pub hyperparameters: Json<serde_json::Value>,
    /// What the evaluation measured, if the model was chosen by one.
    pub metrics: Json<serde_json::Value>,
    /// The model itself, JSON.
    pub artifact: Vec<u8>,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = model_versions)]
pub struct NewModelVersion {
    pub version: String,
    pub kind: ModelKind,
    pub trained_from: NaiveDate,
    pub trained_to: NaiveDate,
    pub features: Json<Vec<String>>,
    pub hyperparameters: Json<serde_json::Value>,
    pub metrics: Json<serde_json::Value>,
    pub artifact: Vec<u8>,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

/// Stores a model and makes it the active one; older ones stay listed.
pub fn register(conn: &mut Conn<'_>, model: &NewModelVersion) -> DbResult<i64> {
    on!(conn, |conn| {
        diesel::update(model_versions::table)
            .set(model_versions::active.eq(false))
            .execute(conn)?;
        Ok(diesel::insert_into(model_versions::table)
            .values(model)
            .returning(model_versions::id)
            .get_result(conn)?)
    })
}

/// Every model, newest first.
pub fn models(conn: &mut Conn<'_>) -> DbResult<Vec<ModelVersion>> {
    on!(conn, |conn| Ok(model_versions::table
        .order(model_versions::id.desc())
        .select(ModelVersion::as_select())
        .load(conn)?))
}

pub fn active_model(conn: &mut Conn<'_>) -> DbResult<Option<ModelVersion>> {
    on!(conn, |conn| Ok(model_versions::table
        .filter(model_versions::active.eq(true))
        .select(ModelVersion::as_select())
        .first(conn)
        .optional()?))
}

/// A segment's score.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = risk_scores)]
pub struct RiskScore {
    pub segment_id: i64,
    pub model_version_id: i64,
    pub scored_at: NaiveDateTime,
    pub probability: f64,
    /// The features that pushed the score most, strongest first.
    pub explanation: Json<Vec<Contribution>>,
}

/// Stores one scoring run in one transaction.
pub fn store_scores(conn: &mut Conn<'_>, scores: &[RiskScore]) -> DbResult<()> {
    on!(conn, |conn| {
        // Below SQLite's bound-parameter limit: five columns a row.
        for chunk in scores.chunks(5_000) {
            diesel::insert_into(risk_scores::table)
                .values(chunk)
                .execute(conn)?;
        }
        Ok(())
    })
}

/// When a model last scored, if it has (segments or cells, whichever it scores).
pub fn latest_run(conn: &mut Conn<'_>, model_id: i64) -> DbResult<Option<NaiveDateTime>> {
    let segments: Option<NaiveDateTime> = on!(conn, |conn| risk_scores::table
        .filter(risk_scores::model_version_id.eq(model_id))
        .select(diesel::dsl::max(risk_scores::scored_at))
        .first(conn)?);
    let cells: Option<NaiveDateTime> = on!(conn, |conn| risk_cell_scores::table
        .filter(risk_cell_scores::model_version_id.eq(model_id))
        .select(diesel::dsl::max(risk_cell_scores::scored_at))
        .first(conn)?);
    Ok(segments.max(cells))
}

/// The scores of one run for these segments.
pub fn scores_of_run(
    conn: &mut Conn<'_>,
    model_id: i64,
    at: NaiveDateTime,
    segment_ids: &[i64],
) -> DbResult<Vec<RiskScore>> {
    on!(conn, |conn| Ok(risk_scores::table
        .filter(risk_scores::model_version_id.eq(model_id))
        .filter(risk_scores::scored_at.eq(at))
        .filter(risk_scores::segment_id.eq_any(segment_ids))
        .select(RiskScore::as_select())
        .load(conn)?))
}

/// A segment's scores over time, newest first.
pub fn segment_scores(
    conn: &mut Conn<'_>,
    segment_id: i64,
    limit: i64,
) -> DbResult<Vec<RiskScore>> {
    on!(conn, |conn| Ok(risk_scores::table
        .filter(risk_scores::segment_id.eq(segment_id))
        .order(risk_scores::scored_at.desc())
        .limit(limit)
        .select(RiskScore::as_select())
        .load(conn)?))
}

/// A grid cell's score.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = risk_cell_scores)]
pub struct CellScore {
    pub model_version_id: i64,
    pub scored_at: NaiveDateTime,
    /// The cell's column and row in the model's grid.
    pub cell_x: i64,
    pub cell_y: i64,
    /// The square, degrees.
    pub west: f64,
    pub south: f64,
    pub east: f64,
    pub north: f64,
    pub probability: f64,
    /// The features that pushed the score most, strongest first.
    pub explanation: Json<Vec<Contribution>>,
}

/// Stores one scoring run of cells in one transaction.
pub fn store_cell_scores(conn: &mut Conn<'_>, scores: &[CellScore]) -> DbResult<()> {
    on!(conn, |conn| {
        // Below SQLite's bound-parameter limit: ten columns a row.
        for chunk in scores.chunks(2_500) {
            diesel::insert_into(risk_cell_scores::table)
                .values(chunk)
                .execute(conn)?;
        }
        Ok(())
    })
}

/// One run's cells that overlap `bbox` (`[west, south, east, north]`, or every cell),
/// riskiest first, `limit` from `offset`; and how many there are in all.
pub fn cells_of_run(
    conn: &mut Conn<'_>,
    model_id: i64,
    at: NaiveDateTime,
    bbox: Option<[f64; 4]>,
    limit: i64,
    offset: i64,
) -> DbResult<(i64, Vec<CellScore>)> {
    on!(conn, |conn| {
        let query = || {
            let mut query = risk_cell_scores::table
                .filter(risk_cell_scores::model_version_id.eq(model_id))
                .filter(risk_cell_scores::scored_at.eq(at))
                .into_boxed();
            if let Some([west, south, east, north]) = bbox {
                query = query
                    .filter(risk_cell_scores::east.ge(west))
                    .filter(risk_cell_scores::west.le(east))
                    .filter(risk_cell_scores::north.ge(south))
                    .filter(risk_cell_scores::south.le(north));
            }
            query
        };
        let total: i64 = query().count().get_result(conn)?;
        let cells = query()
            .order((
                risk_cell_scores::probability.desc(),
                risk_cell_scores::cell_x,
                risk_cell_scores::cell_y,
            ))
            .limit(limit)
            .offset(offset)
            .select(CellScore::as_select())
            .load(conn)?;
        Ok((total, cells))
    })
}

/// The latest run of the active model, whatever it scores.
pub enum LatestScores {
    /// No model, or no run yet.
    None,
    /// (segment id, probability).
    Segments(Vec<(i64, f64)>),
    Cells(Vec<CellScore>),
}

/// The active model's latest run.
pub fn latest_scores(conn: &mut Conn<'_>) -> DbResult<LatestScores> {
    match latest_run_of_active(conn)? {
        Some((model_id, at)) => run_scores(conn, model_id, at),
        None => Ok(LatestScores::None),
    }
}

/// The active model and its latest run's time, if it has scored anything.
pub fn latest_run_of_active(conn: &mut Conn<'_>) -> DbResult<Option<(i64, NaiveDateTime)>> {
    // The id alone: the model's artifact is megabytes.
    let active: Option<i64> = on!(conn, |conn| model_versions::table
        .filter(model_versions::active.eq(true))
        .select(model_versions::id)
        .first(conn)
        .optional()?);
    let Some(id) = active else {
        return Ok(None);
    };
    Ok(latest_run(conn, id)?.map(|at| (id, at)))
}

/// The scores of model `model_id`'s run at `at`: its segments', else its cells'.
pub fn run_scores(conn: &mut Conn<'_>, model_id: i64, at: NaiveDateTime) -> DbResult<LatestScores> {
    let segments: Vec<(i64, f64)> = on!(conn, |conn| risk_scores::table
        .filter(risk_scores::model_version_id.eq(model_id))
        .filter(risk_scores::scored_at.eq(at))
        .select((risk_scores::segment_id, risk_scores::probability))
        .load(conn)?);
    if !segments.is_empty() {
        return Ok(LatestScores::Segments(segments));
    }
    let (_, cells) = cells_of_run(conn, model_id, at, None, i64::MAX, 0)?;
    Ok(if cells.is_empty() {
        LatestScores::None
    } else {
        LatestScores::Cells(cells)
    })
}
