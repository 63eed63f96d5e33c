//! `/api/v1/issues`: what is already reported, so a resident can add to it.

use super::api::ApiError;
use super::open311::Params;
use super::{State, blocking};
use crate::domain::{Circle, Coordinates, FieldError, format_datetime, parse_number};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

/// How far "nearby" reaches by default, metres (FixMyStreet shows 250 m).
const DEFAULT_RADIUS_M: f64 = 250.0;
/// Most issues one answer lists.
const MAX_ISSUES: usize = 100;

fn invalid(error: FieldError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_parameter",
        error.to_string(),
    )
}

/// `GET /api/v1/issues/nearby?lat=&lon=[&radius_m=250][&service_code=]`: open issues
/// nearest first, each with its distance and its first report's id.
pub async fn nearby(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    let centre = match (params.get("lat"), params.get("lon")) {
        (Some(lat), Some(lon)) => Coordinates::new(
            parse_number(lon, "lon").map_err(invalid)?,
            parse_number(lat, "lat").map_err(invalid)?,
            "lon",
            "lat",
        )
        .map_err(invalid)?,
        _ => {
            return Err(invalid(FieldError::new(
                "lat",
                "lat and lon are required (degrees, WGS84)",
            )));
        }
    };
    let radius_m = match params.get("radius_m") {
        None => DEFAULT_RADIUS_M,
        Some(raw) => parse_number(raw, "radius_m").map_err(invalid)?,
    };
    if !(radius_m > 0.0 && radius_m <= 5_000.0) {
        return Err(invalid(FieldError::new(
            "radius_m",
            "must be more than 0 and at most 5000 metres",
        )));
    }
    let service_code = params.get("service_code").map(str::to_owned);
    let worker = state.clone();
    let circle = Circle { centre, radius_m };
    let near = blocking(move || {
        crate::db::issues::open_near(&worker.db, circle, service_code.as_deref(), MAX_ISSUES)
    })
    .await?;
    let catalogue = super::current_catalogue(&state).await?;
    let body: Vec<_> = near
        .into_iter()
        .map(|(issue, distance_m)| {
            json!({
                "issue_id": issue.id.to_string(),
                "service_code": issue.service_code,
                "service_name": catalogue.get(&issue.service_code).map(|s| s.name.clone()),
                "lat": issue.lat,
                "lon": issue.lon,
                "distance_m": (distance_m * 10.0).round() / 10.0,
                "reporter_count": issue.reporter_count,
                "first_reported_datetime": format_datetime(issue.first_reported_at),
                "first_service_request_id": issue.first_request_id.map(|id| id.to_string()),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}
