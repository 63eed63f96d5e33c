//! `/api/v1/risk`, `/api/v1/segments/{id}/risk` and `/api/v1/models`: the risk map,
//! one segment's risk with its explanation and history, the model registry, the public
//! model card, and a planners' retrain.

use super::api::{ApiError, ErrorKind, require_role};
use super::query::{Described, Listing, item_id, not_found, one};
use super::{AppState, State, blocking};
use crate::db::risk::{self as store, CellScore, RiskScore};
use crate::db::segments::{self, SegmentFilter};
use crate::domain::{Circle, Coordinates, Role, format_datetime};
use crate::risk::Choice;
use crate::risk::{Start, Task};
use crate::search::{Area, Page};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use models::risk::Unit;
use models::risk::model::Contribution;
use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

const FILTERS: [&str; 2] = ["road_class", "order"];

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
    unit: &'static str,
    name: Option<&'a str>,
    road_class: &'a str,
    length_m: f64,
    probability: Option<f64>,
    /// The probability per kilometre of road: the ranking for a budget of length
    /// (resurfacing, inspection routes) rather than of streets.
    probability_per_km: Option<f64>,
    /// Days ahead the probability looks.
    horizon_days: i64,
    /// The strongest reason, in words.
    reason: Option<String>,
    scored_at: Option<String>,
    model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<f64>,
}

/// `GET /api/v1/risk?bbox=…[&format=geojson]`: every segment in the area with its
/// latest risk from the active model (a map layer, bounding-box filtered); or, when
/// the active model scores grid cells, the scored cells in the area, riskiest first.
pub async fn list(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let listing = Listing::parse(&req, None, &FILTERS, state.settings.max_page_size)?;
    let worker = state.clone();
    let model = blocking(move || worker.db.read(store::active_model))
        .await?
        .ok_or_else(no_model)?;
    let task = Task::of_model(&model);
    if task.unit == Unit::Cell {
        return list_cells(&state, &req, &listing, model, task).await;
    }
    let filter = SegmentFilter {
        road_classes: listing.list("road_class"),
        ward_ids: None,
    };
    let riskiest = riskiest_first(&listing)?;
    let (limit, offset) = listing.window();
    let area = listing.area.clone();
    let worker = state.clone();
    let model_id = model.id;
    let (page, scores) = blocking(move || {
        let db = &worker.db;
        let page = if riskiest {
            riskiest_page(&worker, area.as_ref(), &filter, limit, offset)?
        } else {
            super::segments::page(db, area.as_ref(), &filter, limit, offset)?
        };
        let ids: Vec<i64> = page.items.iter().map(|(row, _)| row.id).collect();
        let scores: HashMap<i64, RiskScore> =
            match db.read(|conn| store::latest_run(conn, model_id))? {
                Some(at) => db
                    .read(|conn| store::scores_of_run(conn, model_id, at, &ids))?
                    .into_iter()
                    .map(|s| (s.segment_id, s))
                    .collect(),
                None => HashMap::new(),
            };
        Ok::<_, crate::db::DbError>((page, scores))
    })
    .await?;
    let version = model.version;
    let horizon_days = task.horizon.days();
    Ok(listing.respond(&req, page, |row, distance_m, format, out| {
        let score = scores.get(&row.id);
        Described {
            id: row.id,
            properties: RiskView {
                id: row.id,
                unit: Unit::Segment.as_str(),
                name: row.name.as_deref(),
                road_class: row.road_class.as_str(),
                length_m: row.length_m,
                probability: score.map(|s| crate::risk::rounded(s.probability)),
                probability_per_km: score.map(|s| {
                    crate::risk::rounded(s.probability / (row.length_m.max(1.0) / 1000.0))
                }),
                horizon_days,
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

#[derive(Serialize)]
struct CellView<'a> {
    id: i64,
    unit: &'static str,
    /// The cell's column and row in the model's grid.
    cell: String,
    cell_m: f64,
    probability: f64,
    horizon_days: i64,
    reason: Option<String>,
    /// The features that pushed this cell's risk up or down, strongest first.
    explanation: &'a [Contribution],
    scored_at: String,
    model_version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<f64>,
}

/// The risk layer of a model that scores grid cells: the cells of its latest run that
/// meet a bounding box or a circle (or all), riskiest first, as squares.
/// Whether the listing asks for the riskiest first (`order=riskiest`), by box or over
/// the whole city; otherwise nearest first, or as stored.
fn riskiest_first(listing: &Listing) -> Result<bool, ApiError> {
    let refuse = |message: String| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidParameter,
            format!("order: {message}"),
        )
    };
    match listing.params.get("order") {
        None => Ok(false),
        Some("riskiest") => match listing.area {
            None | Some(Area::Bbox(_)) => Ok(true),
            Some(_) => Err(refuse(
                "riskiest ranks a bbox or the whole city, not a circle, polygon or nearest".into(),
            )),
        },
        Some(other) => Err(refuse(format!(
            "'{}' is not riskiest",
            other.chars().take(40).collect::<String>()
        ))),
    }
}

/// A page of the segments in the box (or city), the riskiest in the latest run first
/// (ties by id): ranked in memory from the streets the tiles draw and the run's scores,
/// then only the page read from the database.
fn riskiest_page(
    state: &AppState,
    area: Option<&Area>,
    filter: &SegmentFilter,
    limit: usize,
    offset: usize,
) -> Result<Page<segments::SegmentRow>, crate::db::DbError> {
    let bbox = match area {
        Some(Area::Bbox(b)) => Some(*b),
        _ => None,
    };
    let (_, streets) = state.segments.streets();
    let latest = state.latest_run.latest(&state.db)?;
    let mut ranked: Vec<(f64, i64)> = streets
        .ids_in(bbox, filter.road_classes.as_deref())
        .into_iter()
        .filter_map(|id| Some((*latest.by_segment.get(&id)?, id)))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let ids: Vec<i64> = ranked
        .iter()
        .skip(offset)
        .take(limit)
        .map(|r| r.1)
        .collect();
    let rows = state.db.read(|conn| segments::by_ids(conn, &ids))?;
    Ok(Page {
        items: rows.into_iter().map(|row| (row, None)).collect(),
        total: ranked.len(),
    })
}

async fn list_cells(
    state: &State,
    req: &HttpRequest,
    listing: &Listing,
    model: store::ModelVersion,
    task: Task,
) -> Result<HttpResponse, ApiError> {
    let refuse = |message: &str| {
        Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidParameter,
            format!(
                "{message}: the active model {} scores grid cells of {} m, which are found by bbox or by lat, lon and radius_m",
                model.version, task.cell_m
            ),
        ))
    };
    if listing.list("road_class").is_some() {
        return refuse("road_class filters segments");
    }
    let circle = match &listing.area {
        Some(Area::Nearest { .. }) => return refuse("nearest lists segments"),
        Some(Area::Polygon(_)) => return refuse("polygon lists segments"),
        Some(Area::Circle(circle)) => Some(*circle),
        _ => None,
    };
    let bbox = listing.area.as_ref().and_then(Area::bounding_box).map(|b| {
        [
            b.south_west.lon,
            b.south_west.lat,
            b.north_east.lon,
            b.north_east.lat,
        ]
    });
    let (limit, offset) = listing.window();
    let worker = state.clone();
    let model_id = model.id;
    let page = blocking(move || {
        let db = &worker.db;
        let Some(at) = db.read(|conn| store::latest_run(conn, model_id))? else {
            return Ok(Page {
                items: Vec::new(),
                total: 0,
            });
        };
        Ok::<_, crate::db::DbError>(match circle {
            // A circle is read whole and cut to the cells it reaches; a city's cells
            // within 50 km are a few thousand at most.
            Some(circle) => {
                let (_, cells) =
                    db.read(|conn| store::cells_of_run(conn, model_id, at, bbox, i64::MAX, 0))?;
                let reached: Vec<(CellScore, Option<f64>)> = cells
                    .into_iter()
                    .filter_map(|c| {
                        let d = distance_to_cell(&circle, &c);
                        (d <= circle.radius_m).then_some((c, Some(d)))
                    })
                    .collect();
                let total = reached.len();
                Page {
                    items: reached.into_iter().skip(offset).take(limit).collect(),
                    total,
                }
            }
            None => {
                let (total, cells) = db.read(|conn| {
                    store::cells_of_run(
                        conn,
                        model_id,
                        at,
                        bbox,
                        i64::try_from(limit).unwrap_or(i64::MAX),
                        i64::try_from(offset).unwrap_or(i64::MAX),
                    )
                })?;
                Page {
                    items: cells.into_iter().map(|c| (c, None)).collect(),
                    total: usize::try_from(total).unwrap_or(0),
                }
            }
        })
    })
    .await?;
    let horizon_days = task.horizon.days();
    Ok(listing.respond(req, page, |cell, distance_m, format, out| {
        Described {
            id: crate::risk::cell_id(cell.cell_x, cell.cell_y),
            properties: CellView {
                id: crate::risk::cell_id(cell.cell_x, cell.cell_y),
                unit: Unit::Cell.as_str(),
                cell: format!("{}:{}", cell.cell_x, cell.cell_y),
                cell_m: task.cell_m,
                probability: crate::risk::rounded(cell.probability),
                horizon_days,
                reason: first_sentence(&cell.explanation.0),
                explanation: &cell.explanation.0,
                scored_at: format_datetime(cell.scored_at),
                model_version: &model.version,
                distance_m,
            },
            geometry: Cow::Owned(crate::risk::cell_polygon(cell)),
        }
        .write(format, out)
    }))
}

/// Metres from a circle's centre to the nearest point of a cell (0 inside it).
fn distance_to_cell(circle: &Circle, cell: &CellScore) -> f64 {
    let nearest = Coordinates {
        lon: circle.centre.lon.clamp(cell.west, cell.east),
        lat: circle.centre.lat.clamp(cell.south, cell.north),
    };
    circle.centre.distance_m(nearest)
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
    /// With a model of grid cells, the cell (column:row) whose risk this is.
    #[serde(skip_serializing_if = "Option::is_none")]
    cell: Option<String>,
    probability: Option<f64>,
    scored_at: Option<String>,
    /// The features that pushed this segment's risk up or down, strongest first.
    explanation: &'a [Contribution],
    /// Earlier scores, newest first.
    history: Vec<Value>,
}

/// `GET /api/v1/segments/{id}/risk`: the latest risk with its explanation, and its
/// history. When the active model scores grid cells, the risk is that of the cell the
/// segment's middle lies in (named in `cell`), without a history.
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
        let Some(model) = db.read(store::active_model)? else {
            return Ok(Some((row, None, Vec::new(), None)));
        };
        if Task::of_model(&model).unit == Unit::Cell {
            let middle = row.bounding_box().centre();
            let point = [middle.lon, middle.lat, middle.lon, middle.lat];
            let cell = match db.read(|conn| store::latest_run(conn, model.id))? {
                Some(at) => db
                    .read(|conn| store::cells_of_run(conn, model.id, at, Some(point), 1, 0))?
                    .1
                    .pop(),
                None => None,
            };
            return Ok(Some((row, Some(model), Vec::new(), cell)));
        }
        let history = db.read(|conn| store::segment_scores(conn, numeric, 104))?;
        Ok::<_, crate::db::DbError>(Some((row, Some(model), history, None)))
    })
    .await?
    .ok_or_else(|| not_found("segment", &id))?;
    let (row, model, history, cell) = found;
    let model = model.ok_or_else(no_model)?;
    let latest = history.iter().find(|s| s.model_version_id == model.id);
    let view = SegmentRisk {
        id: row.id,
        name: row.name.as_deref(),
        road_class: row.road_class.as_str(),
        model_version: &model.version,
        cell: cell.as_ref().map(|c| format!("{}:{}", c.cell_x, c.cell_y)),
        probability: latest
            .map(|s| s.probability)
            .or(cell.as_ref().map(|c| c.probability)),
        scored_at: latest
            .map(|s| s.scored_at)
            .or(cell.as_ref().map(|c| c.scored_at))
            .map(format_datetime),
        explanation: latest
            .map(|s| &s.explanation.0[..])
            .or(cell.as_ref().map(|c| &c.explanation.0[..]))
            .unwrap_or(&[]),
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
    let (models, leased) = blocking(move || {
        Ok::<_, crate::db::DbError>((
            worker.db.read(store::models)?,
            crate::leases::is_held(&worker.db, crate::leases::RISK)?,
        ))
    })
    .await?;
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
        // Here or on any server of the cluster.
        "training": state.risk.is_busy() || leased,
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
    let worker: Arc<AppState> = Arc::clone(&state);
    let by = caller.name.clone();
    started(blocking(move || spawn_training(worker, by)).await?)?;
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
    let worker: Arc<AppState> = Arc::clone(&state);
    started(blocking(move || spawn_scoring(worker)).await?)?;
    Ok(HttpResponse::Accepted().json(json!({
        "status": "scoring",
        "message": "re-scoring started; GET /api/v1/risk shows the new scores when it is done",
    })))
}

/// 409 unless a run started.
fn started(start: Start) -> Result<(), ApiError> {
    let where_ = match start {
        Start::Started => return Ok(()),
        Start::BusyHere => "on this server",
        Start::BusyElsewhere => "on another server of this city",
    };
    Err(ApiError::new(
        StatusCode::CONFLICT,
        ErrorKind::Busy,
        format!(
            "a training or scoring run is already going {where_}; try again when GET /api/v1/models shows training: false"
        ),
    ))
}

/// Starts a background evaluation, training and scoring run unless one is going here
/// or on another server (it reads the database: call it off the async workers).
pub fn spawn_training(state: Arc<AppState>, by: String) -> Result<Start, crate::db::DbError> {
    let runner = &state.risk;
    let db = state.db.clone();
    let state = state.clone();
    runner.spawn(&db, move || {
        let result = (|| -> Result<String, crate::risk::RiskError> {
            // A new model predicts what the settings now ask for.
            let observed = crate::risk::observe_for(
                &state.db,
                state.settings.risk_task,
                crate::risk::Reading::Evaluation,
                &mut |_| {},
            )?;
            let trained = crate::risk::retrain(&state.db, &observed, Choice::Auto, &mut |_| {})?;
            crate::risk::score(&state.db, &observed)?;
            Ok(trained.version)
        })();
        match result {
            Ok(version) => tracing::info!(version, by, "risk model trained and scored"),
            Err(e) => tracing::warn!(error = %e, by, "risk model training failed"),
        }
        // New scores move priorities and may allow this week's inspections.
        state.work_orders_due.notify_one();
    })
}

/// Starts a background scoring run with the active model unless a run is going here
/// or on another server (it reads the database: call it off the async workers).
pub fn spawn_scoring(state: Arc<AppState>) -> Result<Start, crate::db::DbError> {
    let runner = &state.risk;
    let db = state.db.clone();
    let state = state.clone();
    runner.spawn(&db, move || {
        let result = crate::risk::score_active(&state.db, &mut |_| {});
        match result {
            Ok(run) => tracing::info!(
                units = run.units,
                unit = run.unit.as_str(),
                version = run.version,
                "risk re-scored"
            ),
            Err(e) => tracing::warn!(error = %e, "re-scoring failed"),
        }
        // New scores move priorities and may allow this week's inspections.
        state.work_orders_due.notify_one();
    })
}
