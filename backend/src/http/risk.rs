//! `/api/v1/risk`, `/api/v1/segments/{id}/risk` and `/api/v1/models`: the risk map,
//! one segment's risk with its explanation and history, the model registry, the public
//! model card, and a planners' retrain.

use super::api::{ApiError, ErrorKind, require_role};
use super::query::{Described, Listing, item_id, not_found, one};
use super::{AppState, State, blocking};
use crate::db::risk::{self as store, RiskScore};
use crate::db::segments::{self, SegmentFilter};
use crate::domain::{Role, format_datetime};
use crate::risk::Choice;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use models::risk::model::Contribution;
use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

const FILTERS: [&str; 1] = ["road_class"];

fn no_model() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NoModel,
        "no risk model is active yet: a planner can train one (POST /api/v1/models/train)",
    )
}

#[derive(Serialize)]
struct RiskView<'a> {
    id: i64,
    name: Option<&'a str>,
    road_class: &'a str,
    length_m: f64,
    probability: Option<f64>,
    /// The probability per kilometre of road: the ranking for a budget of length
    /// (resurfacing, inspection routes) rather than of streets.
    probability_per_km: Option<f64>,
    /// The strongest reason, in words.
    reason: Option<String>,
    scored_at: Option<String>,
    model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<f64>,
}

/// `GET /api/v1/risk?bbox=…[&format=geojson]`: every segment in the area with its
/// latest risk from the active model (a map layer, bounding-box filtered).
pub async fn list(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let listing = Listing::parse(&req, None, &FILTERS, state.settings.max_page_size)?;
    let filter = SegmentFilter {
        road_classes: listing.list("road_class"),
        ward_ids: None,
    };
    let (limit, offset) = listing.window();
    let area = listing.area.clone();
    let worker = state.clone();
    let (page, scores, version) = blocking(move || {
        let db = &worker.db;
        let Some(model) = db.read(store::active_model)? else {
            return Ok(None);
        };
        let page = super::segments::page(db, area.as_ref(), &filter, limit, offset)?;
        let ids: Vec<i64> = page.items.iter().map(|(row, _)| row.id).collect();
        let scores: HashMap<i64, RiskScore> =
            match db.read(|conn| store::latest_run(conn, model.id))? {
                Some(at) => db
                    .read(|conn| store::scores_of_run(conn, model.id, at, &ids))?
                    .into_iter()
                    .map(|s| (s.segment_id, s))
                    .collect(),
                None => HashMap::new(),
            };
        Ok::<_, crate::db::DbError>(Some((page, scores, model.version)))
    })
    .await?
    .ok_or_else(no_model)?;
    Ok(listing.respond(&req, page, |row, distance_m, format, out| {
        let score = scores.get(&row.id);
        Described {
            id: row.id,
            properties: RiskView {
                id: row.id,
                name: row.name.as_deref(),
                road_class: row.road_class.as_str(),
                length_m: row.length_m,
                probability: score.map(|s| (s.probability * 10_000.0).round() / 10_000.0),
                probability_per_km: score.map(|s| {
                    let per_km = s.probability / (row.length_m.max(1.0) / 1000.0);
                    (per_km * 10_000.0).round() / 10_000.0
                }),
                reason: score.and_then(|s| first_sentence(&s.explanation.0)),
                scored_at: score.map(|s| format_datetime(s.scored_at)),
                model_version: &version,
                distance_m,
            },
            geometry: Cow::Borrowed(&row.geometry),
        }
        .write(format, out)
    }))
}

fn first_sentence(explanation: &[Contribution]) -> Option<String> {
    explanation.first().map(|c| c.sentence.clone())
}

#[derive(Serialize)]
struct SegmentRisk<'a> {
    id: i64,
    name: Option<&'a str>,
    road_class: &'a str,
    model_version: &'a str,
    probability: Option<f64>,
    scored_at: Option<String>,
    /// The features that pushed this segment's risk up or down, strongest first.
    explanation: &'a [Contribution],
    /// Earlier scores, newest first.
    history: Vec<Value>,
}

/// `GET /api/v1/segments/{id}/risk`: the latest risk with its explanation, and its
/// history.
pub async fn segment(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let numeric = item_id(&id, "segment")?;
    let worker = state.clone();
    let found = blocking(move || {
        let db = &worker.db;
        let Some(row) = db.read(|conn| segments::by_ids(conn, &[numeric]))?.pop() else {
            return Ok(None);
        };
        let model = db.read(store::active_model)?;
        let history = db.read(|conn| store::segment_scores(conn, numeric, 104))?;
        Ok::<_, crate::db::DbError>(Some((row, model, history)))
    })
    .await?
    .ok_or_else(|| not_found("segment", &id))?;
    let (row, model, history) = found;
    let model = model.ok_or_else(no_model)?;
    let latest = history.iter().find(|s| s.model_version_id == model.id);
    let view = SegmentRisk {
        id: row.id,
        name: row.name.as_deref(),
        road_class: row.road_class.as_str(),
        model_version: &model.version,
        probability: latest.map(|s| s.probability),
        scored_at: latest.map(|s| format_datetime(s.scored_at)),
        explanation: latest.map_or(&[][..], |s| &s.explanation.0),
        history: history
            .iter()
            .map(|s| {
                json!({
                    "scored_at": format_datetime(s.scored_at),
                    "probability": s.probability,
                    "model_version_id": s.model_version_id,
                })
            })
            .collect(),
    };
    one(
        &req,
        Described {
            id: row.id,
            properties: view,
            geometry: Cow::Borrowed(&row.geometry),
        },
    )
}

/// `GET /api/v1/models`: every model, newest first, with its figures; one is active.
pub async fn models(state: State) -> Result<HttpResponse, ApiError> {
    let worker = state.clone();
    let models = blocking(move || worker.db.read(store::models)).await?;
    let items: Vec<Value> = models
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "version": m.version,
                "kind": m.kind.as_str(),
                "active": m.active,
                "trained_from": m.trained_from.to_string(),
                "trained_to": m.trained_to.to_string(),
                "features": m.features.0,
                "hyperparameters": m.hyperparameters.0,
                "metrics": m.metrics.0,
                "created_at": format_datetime(m.created_at),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "total": items.len(),
        "training": state.risk.is_busy(),
        "items": items,
    })))
}

/// `GET /api/v1/model-card` (anyone): the active model in plain words, for the public
/// page `/model`.
pub async fn model_card(state: State) -> Result<HttpResponse, ApiError> {
    let worker = state.clone();
    let active = blocking(move || worker.db.read(store::active_model)).await?;
    Ok(HttpResponse::Ok().json(crate::risk::card::card(
        active.as_ref(),
        state.settings.risk_rescore_hours,
    )))
}

/// `POST /api/v1/models/train` (planners and admins): evaluates both learners in time
/// order, trains the better one on everything, makes it active and re-scores every
/// segment, in the background. 202 when started, 409 while another run is going.
pub async fn train(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let caller = require_role(
        &state,
        &req,
        &[Role::Planner, Role::Admin],
        "retrain the risk model",
    )
    .await?;
    if !spawn_training(Arc::clone(&state), caller.name.clone()) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorKind::Busy,
            "a training or scoring run is already going on this server; try again when GET /api/v1/models shows training: false",
        ));
    }
    Ok(HttpResponse::Accepted().json(json!({
        "status": "training",
        "message": "training started; the new model appears in GET /api/v1/models when it is done",
    })))
}

/// `POST /api/v1/models/score` (planners and admins): re-scores every segment with the
/// active model in the background. 202 when started, 409 while another run is going or
/// when there is no model yet.
pub async fn rescore(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    require_role(
        &state,
        &req,
        &[Role::Planner, Role::Admin],
        "re-score segments",
    )
    .await?;
    let worker = state.clone();
    if blocking(move || worker.db.read(store::active_model))
        .await?
        .is_none()
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorKind::NoModel,
            "there is no active model to score with; train one first (POST /api/v1/models/train)",
        ));
    }
    if !spawn_scoring(Arc::clone(&state)) {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            ErrorKind::Busy,
            "a training or scoring run is already going on this server; try again when GET /api/v1/models shows training: false",
        ));
    }
    Ok(HttpResponse::Accepted().json(json!({
        "status": "scoring",
        "message": "re-scoring started; GET /api/v1/risk shows the new scores when it is done",
    })))
}

/// Starts a background evaluation, training and scoring run unless one is going;
/// returns whether it started.
pub fn spawn_training(state: Arc<AppState>, by: String) -> bool {
    let runner = &state.risk;
    let state = state.clone();
    runner.spawn(move || {
        let result = (|| -> Result<String, crate::risk::RiskError> {
            let observed = crate::risk::observe(&state.db, &mut |_| {})?;
            let trained = crate::risk::retrain(&state.db, &observed, Choice::Auto, &mut |_| {})?;
            crate::risk::score(&state.db, &observed)?;
            Ok(trained.version)
        })();
        match result {
            Ok(version) => tracing::info!(version, by, "risk model trained and segments scored"),
            Err(e) => tracing::warn!(error = %e, by, "risk model training failed"),
        }
        // New scores move priorities and may allow this week's inspections.
        state.work_orders_due.notify_one();
    })
}

/// Starts a background scoring run with the active model unless a run is going;
/// returns whether it started.
pub fn spawn_scoring(state: Arc<AppState>) -> bool {
    let runner = &state.risk;
    let state = state.clone();
    runner.spawn(move || {
        let result = crate::risk::observe(&state.db, &mut |_| {})
            .and_then(|observed| crate::risk::score(&state.db, &observed));
        match result {
            Ok(run) => tracing::info!(
                segments = run.segments,
                version = run.version,
                "segments re-scored"
            ),
            Err(e) => tracing::warn!(error = %e, "re-scoring failed"),
        }
        // New scores move priorities and may allow this week's inspections.
        state.work_orders_due.notify_one();
    })
}
