//! `/api/v1/crews`: who does the work, and a crew's day in route order.

use super::api::{ApiError, ErrorKind, require_role};
use super::query::{invalid, item_id, not_found};
use super::{State, blocking, current_catalogue};
use crate::db::crews::{self, CrewRow, NewCrew};
use crate::db::words::Json;
use crate::domain::{Coordinates, FieldError, Role, format_datetime, now, parse_number};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

fn crew_json(crew: &CrewRow) -> Value {
    json!({
        "id": crew.id,
        "name": crew.name,
        "depot": {"lat": crew.depot_lat, "lon": crew.depot_lon},
        "service_codes": crew.handles(),
        "daily_capacity": crew.daily_capacity,
        "created_at": format_datetime(crew.created_at),
        "retired_at": crew.retired_at.map(format_datetime),
    })
}

/// `GET /api/v1/crews`: every active crew.
pub async fn list(state: State) -> Result<HttpResponse, ApiError> {
    let worker = state.clone();
    let crews = blocking(move || worker.db.read(crews::active)).await?;
    Ok(HttpResponse::Ok().json(crews.iter().map(crew_json).collect::<Vec<_>>()))
}

async fn find(state: &State, raw: &str) -> Result<CrewRow, ApiError> {
    let id = item_id(raw, "crew")?;
    let worker = state.clone();
    blocking(move || worker.db.read(|conn| crews::find(conn, id)))
        .await?
        .ok_or_else(|| not_found("crew", raw))
}

/// `GET /api/v1/crews/{id}`
pub async fn show(state: State, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let crew = find(&state, &id).await?;
    Ok(HttpResponse::Ok().json(crew_json(&crew)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCrewBody {
    name: String,
    depot_lat: f64,
    depot_lon: f64,
    service_codes: Vec<String>,
    daily_capacity: i32,
}

/// `POST /api/v1/crews` (planners and admins): 201 with the crew.
pub async fn create(
    state: State,
    req: HttpRequest,
    body: web::Json<NewCrewBody>,
) -> Result<HttpResponse, ApiError> {
    require_role(&state, &req, &[Role::Planner, Role::Admin], "create crews").await?;
    let body = body.into_inner();
    let name = check_name(&body.name)?;
    let depot = check_depot(body.depot_lat, body.depot_lon)?;
    check_capacity(body.daily_capacity)?;
    let catalogue = current_catalogue(&state).await?;
    check_codes(&body.service_codes, &catalogue)?;
    let crew = NewCrew {
        name: name.clone(),
        depot_lat: depot.lat,
        depot_lon: depot.lon,
        service_codes: Json(body.service_codes.clone()),
        daily_capacity: body.daily_capacity,
        created_at: now(),
    };
    let worker = state.clone();
    let stored = blocking(move || worker.db.write(|conn| crews::insert(conn, &crew)))
        .await?
        .ok_or_else(|| name_taken(&name))?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/crews/{}", stored.id)))
        .json(crew_json(&stored)))
}

fn name_taken(name: &str) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        ErrorKind::Conflict,
        format!("a crew named '{name}' already exists"),
    )
}

fn check_name(raw: &str) -> Result<String, ApiError> {
    let name = raw.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(invalid(vec![FieldError::new(
            "name",
            "must be 1 to 100 characters",
        )]));
    }
    Ok(name)
}

fn check_depot(lat: f64, lon: f64) -> Result<Coordinates, ApiError> {
    Coordinates::new(lon, lat, "depot_lon", "depot_lat").map_err(|e| invalid(vec![e]))
}

fn check_capacity(capacity: i32) -> Result<(), ApiError> {
    if !(1..=1000).contains(&capacity) {
        return Err(invalid(vec![FieldError::new(
            "daily_capacity",
            "must be between 1 and 1000 orders a day",
        )]));
    }
    Ok(())
}

fn check_codes(codes: &[String], catalogue: &crate::catalogue::Catalogue) -> Result<(), ApiError> {
    if codes.is_empty() {
        return Err(invalid(vec![FieldError::new(
            "service_codes",
            "must name at least one service the crew handles",
        )]));
    }
    if let Some((i, code)) = codes
        .iter()
        .enumerate()
        .find(|(_, c)| catalogue.get(c).is_none())
    {
        return Err(invalid(vec![FieldError::new(
            format!("service_codes[{i}]"),
            format!("'{code}' is not a service in the catalogue"),
        )]));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrewChangeBody {
    name: Option<String>,
    depot_lat: Option<f64>,
    depot_lon: Option<f64>,
    service_codes: Option<Vec<String>>,
    daily_capacity: Option<i32>,
    /// true retires the crew (its keys stop seeing a day); false brings it back.
    retired: Option<bool>,
}

/// `PATCH /api/v1/crews/{id}` (planners and admins): change any of name, depot,
/// categories and capacity, or retire the crew.
pub async fn update(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<CrewChangeBody>,
) -> Result<HttpResponse, ApiError> {
    require_role(&state, &req, &[Role::Planner, Role::Admin], "change crews").await?;
    let current = find(&state, &id).await?;
    let body = body.into_inner();
    let mut change = crews::CrewChange::default();
    if let Some(raw) = &body.name {
        let name = check_name(raw)?;
        let worker = state.clone();
        let wanted = name.clone();
        let taken = blocking(move || worker.db.read(|conn| crews::named(conn, &wanted)))
            .await?
            .is_some_and(|other| other.id != current.id);
        if taken {
            return Err(name_taken(&name));
        }
        change.name = Some(name);
    }
    match (body.depot_lat, body.depot_lon) {
        (None, None) => {}
        (Some(lat), Some(lon)) => {
            let depot = check_depot(lat, lon)?;
            change.depot_lat = Some(depot.lat);
            change.depot_lon = Some(depot.lon);
        }
        (Some(_), None) => {
            return Err(invalid(vec![FieldError::new(
                "depot_lon",
                "is required with depot_lat",
            )]));
        }
        (None, Some(_)) => {
            return Err(invalid(vec![FieldError::new(
                "depot_lat",
                "is required with depot_lon",
            )]));
        }
    }
    if let Some(codes) = &body.service_codes {
        let catalogue = current_catalogue(&state).await?;
        check_codes(codes, &catalogue)?;
        change.service_codes = Some(Json(codes.clone()));
    }
    if let Some(capacity) = body.daily_capacity {
        check_capacity(capacity)?;
        change.daily_capacity = Some(capacity);
    }
    if let Some(retired) = body.retired {
        change.retired_at = Some(retired.then(now));
    }
    if body.name.is_none()
        && body.depot_lat.is_none()
        && body.depot_lon.is_none()
        && body.service_codes.is_none()
        && body.daily_capacity.is_none()
        && body.retired.is_none()
    {
        return Err(invalid(vec![FieldError::new(
            "body",
            "names nothing to change (name, depot_lat/depot_lon, service_codes, daily_capacity, retired)",
        )]));
    }
    let worker = state.clone();
    let crew_id = current.id;
    let updated = blocking(move || {
        worker
            .db
            .write(|conn| crews::update(conn, crew_id, &change))
    })
    .await?
    .ok_or_else(|| not_found("crew", &id))?;
    Ok(HttpResponse::Ok().json(crew_json(&updated)))
}

/// `GET /api/v1/crews/{id}/day?lat=&lon=`: the crew's open orders and nearby unassigned
/// ones up to its daily capacity, in the order a route from (lat, lon) visits them
/// (the depot when no position is given), with the route's length. A crew key sees
/// only its own crew's day.
pub async fn day(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_role(
        &state,
        &req,
        &[Role::Crew, Role::Planner, Role::Admin],
        "see a crew's day",
    )
    .await?;
    let crew = find(&state, &id).await?;
    if caller.role == Role::Crew && caller.crew_id != Some(crew.id) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Forbidden,
            format!(
                "a crew key sees only its own crew's day, not crew {}'s",
                crew.id
            ),
        ));
    }
    let params = super::open311::Params::parse_urlencoded(req.query_string().as_bytes());
    let start = match (params.get("lat"), params.get("lon")) {
        (None, None) => Coordinates {
            lon: crew.depot_lon,
            lat: crew.depot_lat,
        },
        (Some(lat), Some(lon)) => Coordinates::new(
            parse_number(lon, "lon").map_err(|e| invalid(vec![e]))?,
            parse_number(lat, "lat").map_err(|e| invalid(vec![e]))?,
            "lon",
            "lat",
        )
        .map_err(|e| invalid(vec![e]))?,
        (Some(_), None) => {
            return Err(invalid(vec![FieldError::new(
                "lon",
                "is required with lat",
            )]));
        }
        (None, Some(_)) => {
            return Err(invalid(vec![FieldError::new(
                "lat",
                "is required with lon",
            )]));
        }
    };
    let catalogue = current_catalogue(&state).await?;
    let worker = state.clone();
    let planning_crew = crew.clone();
    let plan_catalogue = catalogue.clone();
    let day = blocking(move || {
        crate::work_orders::day(&worker.db, &plan_catalogue, &planning_crew, start)
    })
    .await?;
    let at = now();
    let orders: Vec<Value> = day
        .orders
        .iter()
        .enumerate()
        .map(|(stop, order)| {
            // A crew's day is read with a crew's or a planner's key.
            let mut item = serde_json::to_value(super::work_orders::view(
                order,
                &catalogue,
                at,
                Some(
                    (start.distance_m(Coordinates {
                        lon: order.lon,
                        lat: order.lat,
                    }) * 10.0)
                        .round()
                        / 10.0,
                ),
                super::work_orders::Audience::Staff,
            ))
            .unwrap_or_default();
            item["stop"] = json!(stop + 1);
            item["assigned_to_crew"] = json!(day.own.contains(&order.id));
            item
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "crew": crew_json(&crew),
        "start": {"lat": start.lat, "lon": start.lon},
        "route_length_m": day.route_length_m.round(),
        "priority_order_length_m": day.priority_order_length_m.round(),
        "orders": orders,
    })))
}
