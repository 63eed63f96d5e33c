//! What the risk model reads (segments, pothole reports, repairs, resurfacings, probe
//! readings, weather; the truth on a demo city) and what it writes (the model registry
//! and risk scores).

use super::schema::{
    demo_cities, maintenance_history, model_versions, neighbourhoods, requests, risk_scores,
    segments, sensor_readings, truth_neighbourhoods, truth_potholes, truth_segment_weeks,
    weather_daily,
};
use super::{Database, DbResult, WriteTransaction};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

/// One segment as the model reads it.
pub type SegmentFacts = (
    i64,
    f64,
    String,
    Option<i32>,
    bool,
    Option<NaiveDate>,
    String,
    Option<String>,
);

pub fn segments(db: &Database) -> DbResult<Vec<SegmentFacts>> {
    read!(db, |conn| Ok(segments::table
        .order(segments::id)
        .select((
            segments::id,
            segments::length_m,
            segments::road_class,
            segments::aadt,
            segments::bus_route,
            segments::last_resurfaced,
            segments::geometry,
            segments::neighbourhood,
        ))
        .load(conn)?))
}

/// (segment, day) of every accepted pothole report that snapped to a segment.
pub fn pothole_reports(db: &Database) -> DbResult<Vec<(i64, NaiveDateTime)>> {
    let rows: Vec<(Option<i64>, NaiveDateTime)> = read!(db, |conn| requests::table
        .filter(requests::service_code.eq("pothole"))
        .filter(requests::accepted_at.is_not_null())
        .filter(requests::segment_id.is_not_null())
        .select((requests::segment_id, requests::requested_at))
        .load(conn)?);
    Ok(rows
        .into_iter()
        .filter_map(|(s, t)| Some((s?, t)))
        .collect())
}

/// (segment, kind, when) of every maintenance record.
pub fn maintenance(db: &Database) -> DbResult<Vec<(i64, String, NaiveDateTime)>> {
    read!(db, |conn| Ok(maintenance_history::table
        .select((
            maintenance_history::segment_id,
            maintenance_history::kind,
            maintenance_history::performed_at,
        ))
        .load(conn)?))
}

/// (segment, when, IRI) of every roughness reading.
pub fn roughness(db: &Database) -> DbResult<Vec<(i64, NaiveDateTime, f64)>> {
    read!(db, |conn| Ok(sensor_readings::table
        .filter(sensor_readings::kind.eq("roughness_iri_m_per_km"))
        .select((
            sensor_readings::segment_id,
            sensor_readings::observed_at,
            sensor_readings::value,
        ))
        .load(conn)?))
}

/// (day, minimum, maximum) °C, every station.
pub fn weather(db: &Database) -> DbResult<Vec<(NaiveDate, f64, f64)>> {
    read!(db, |conn| Ok(weather_daily::table
        .order(weather_daily::day)
        .select((
            weather_daily::day,
            weather_daily::tmin_c,
            weather_daily::tmax_c
        ))
        .load(conn)?))
}

/// The demo city's history window, if one is loaded.
pub fn demo_window(db: &Database) -> DbResult<Option<(NaiveDate, NaiveDate)>> {
    read!(db, |conn| Ok(demo_cities::table
        .order(demo_cities::id.desc())
        .select((demo_cities::start_date, demo_cities::end_date))
        .first(conn)
        .optional()?))
}

/// The truth of a demo city: (segment, formed on) of every pothole.
pub fn true_potholes(db: &Database) -> DbResult<Vec<(i64, NaiveDate)>> {
    read!(db, |conn| Ok(truth_potholes::table
        .select((truth_potholes::segment_id, truth_potholes::formed_on))
        .load(conn)?))
}

/// The true 28-day hazard: (segment, week start, hazard).
pub fn true_hazard(db: &Database) -> DbResult<Vec<(i64, NaiveDate, f64)>> {
    read!(db, |conn| Ok(truth_segment_weeks::table
        .select((
            truth_segment_weeks::segment_id,
            truth_segment_weeks::week_start,
            truth_segment_weeks::hazard_28d,
        ))
        .load(conn)?))
}

/// Each neighbourhood's name and true reporting propensity.
pub fn true_propensity(db: &Database) -> DbResult<Vec<(String, f64)>> {
    read!(db, |conn| Ok(neighbourhoods::table
        .inner_join(
            truth_neighbourhoods::table
                .on(truth_neighbourhoods::neighbourhood_id.eq(neighbourhoods::id)),
        )
        .select((
            neighbourhoods::name,
            truth_neighbourhoods::reporting_propensity
        ))
        .load(conn)?))
}

/// A model in the registry.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = model_versions)]
pub struct ModelVersion {
    pub id: i64,
    pub version: String,
    pub kind: String,
    pub trained_from: NaiveDate,
    pub trained_to: NaiveDate,
    /// JSON array of feature names.
    pub features: String,
    /// JSON object.
    pub hyperparameters: String,
    /// JSON object.
    pub metrics: String,
    /// The model itself, JSON.
    pub artifact: Vec<u8>,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = model_versions)]
pub struct NewModelVersion {
    pub version: String,
    pub kind: String,
    pub trained_from: NaiveDate,
    pub trained_to: NaiveDate,
    pub features: String,
    pub hyperparameters: String,
    pub metrics: String,
    pub artifact: Vec<u8>,
    pub active: bool,
    pub created_at: NaiveDateTime,
}

/// Stores a model and makes it the active one; older ones stay listed.
pub fn register(db: &Database, model: &NewModelVersion) -> DbResult<i64> {
    write!(db, |conn| conn.write_transaction(|conn| {
        diesel::update(model_versions::table)
            .set(model_versions::active.eq(false))
            .execute(conn)?;
        Ok(diesel::insert_into(model_versions::table)
            .values(model)
            .returning(model_versions::id)
            .get_result(conn)?)
    }))
}

/// Every model, newest first.
pub fn models(db: &Database) -> DbResult<Vec<ModelVersion>> {
    read!(db, |conn| Ok(model_versions::table
        .order(model_versions::id.desc())
        .select(ModelVersion::as_select())
        .load(conn)?))
}

pub fn active_model(db: &Database) -> DbResult<Option<ModelVersion>> {
    read!(db, |conn| Ok(model_versions::table
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
    /// JSON array of contributions.
    pub explanation: String,
}

/// Stores one scoring run in one transaction.
pub fn store_scores(db: &Database, scores: &[RiskScore]) -> DbResult<()> {
    write!(db, |conn| conn.write_transaction(|conn| {
        // Below SQLite's bound-parameter limit: five columns a row.
        for chunk in scores.chunks(5_000) {
            diesel::insert_into(risk_scores::table)
                .values(chunk)
                .execute(conn)?;
        }
        Ok(())
    }))
}

/// When the active model last scored, if it has.
pub fn latest_run(db: &Database, model_id: i64) -> DbResult<Option<NaiveDateTime>> {
    read!(db, |conn| Ok(risk_scores::table
        .filter(risk_scores::model_version_id.eq(model_id))
        .select(diesel::dsl::max(risk_scores::scored_at))
        .first(conn)?))
}

/// The scores of one run for these segments.
pub fn scores_of_run(
    db: &Database,
    model_id: i64,
    at: NaiveDateTime,
    segment_ids: &[i64],
) -> DbResult<Vec<RiskScore>> {
    read!(db, |conn| Ok(risk_scores::table
        .filter(risk_scores::model_version_id.eq(model_id))
        .filter(risk_scores::scored_at.eq(at))
        .filter(risk_scores::segment_id.eq_any(segment_ids))
        .select(RiskScore::as_select())
        .load(conn)?))
}

/// A segment's scores over time, newest first.
pub fn segment_scores(db: &Database, segment_id: i64, limit: i64) -> DbResult<Vec<RiskScore>> {
    read!(db, |conn| Ok(risk_scores::table
        .filter(risk_scores::segment_id.eq(segment_id))
        .order(risk_scores::scored_at.desc())
        .limit(limit)
        .select(RiskScore::as_select())
        .load(conn)?))
}

/// Every segment's probability in the active model's latest run, or nothing before the
/// first run.
pub fn latest_probabilities(db: &Database) -> DbResult<Vec<(i64, f64)>> {
    let Some(model) = active_model(db)? else {
        return Ok(Vec::new());
    };
    let Some(at) = latest_run(db, model.id)? else {
        return Ok(Vec::new());
    };
    read!(db, |conn| Ok(risk_scores::table
        .filter(risk_scores::model_version_id.eq(model.id))
        .filter(risk_scores::scored_at.eq(at))
        .select((risk_scores::segment_id, risk_scores::probability))
        .load(conn)?))
}
