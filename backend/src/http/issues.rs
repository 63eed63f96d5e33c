//! `/api/v1/issues`: problems as the city tracks them (each gathering its reports), by
//! place, status, category and time; and what is already reported near a point, so a
//! resident can add to it.

use super::api::{ApiError, ErrorKind};
use super::open311::Params;
use super::query::{Described, Listing, item_id, not_found, one, point};
use super::{State, blocking, current_catalogue};
use crate::catalogue::Catalogue;
use crate::db::issues::{self, IssueFilter, IssueRow};
use crate::domain::{Circle, Coordinates, FieldError, IssueStatus, format_datetime, parse_number};
use crate::search::{Source, Window, page_of};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::json;
use std::borrow::Cow;

const FILTERS: [&str; 4] = [
    "status",
    "service_code",
    "reported_after",
    "reported_before",
];

/// How far "nearby" reaches by default, metres (FixMyStreet shows 250 m).
const DEFAULT_RADIUS_M: f64 = 250.0;
/// Most issues one answer lists.
const MAX_ISSUES: usize = 100;

fn invalid(error: FieldError) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorKind::InvalidParameter,
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
        worker.db.read(|conn| {
            crate::db::issues::open_near(conn, circle, service_code.as_deref(), MAX_ISSUES)
        })
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

/// `GET /api/v1/issues/{id}`
pub async fn show(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let missing = || not_found("issue", &id);
    let numeric = item_id(&id, "issue")?;
    let worker = state.clone();
    let row = blocking(move || worker.db.read(|conn| issues::by_ids(conn, &[numeric])))
        .await?
        .pop()
        .ok_or_else(missing)?;
    let catalogue = current_catalogue(&state).await?;
    one(&req, describe(&row, &catalogue, None))
}

/// `GET /api/v1/issues`, and `POST /api/v1/issues/search` with the parameters in a JSON
/// body.
pub async fn list(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let listing = Listing::read(&state, &req, payload, &FILTERS).await?;
    let statuses = listing.words::<IssueStatus>("status")?;
    let filter = IssueFilter {
        statuses,
        service_codes: listing.list("service_code"),
        reported_from: listing.time("reported_after")?,
        reported_to: listing.time("reported_before")?,
    };
    let (limit, offset) = listing.window();
    let area = listing.area.clone();
    let worker = state.clone();
    let page = blocking(move || {
        let db = &worker.db;
        page_of(
            area.as_ref(),
            limit,
            offset,
            Source {
                window_for: Window::for_points,
                located: &|window| db.read(|conn| issues::located(conn, &filter, window)),
                by_ids: &|ids| db.read(|conn| issues::by_ids(conn, ids)),
                page: &|limit, offset| {
                    db.read(|conn| {
                        conn.snapshot(|conn| {
                            let rows = issues::list(conn, &filter, limit, offset)?;
                            Ok((rows, issues::count(conn, &filter)?))
                        })
                    })
                },
                id_of: |row: &IssueRow| row.id,
            },
        )
    })
    .await?;
    let catalogue = current_catalogue(&state).await?;
    Ok(listing.respond(&req, page, |row, d, format, out| {
        describe(row, &catalogue, d).write(format, out)
    }))
}

/// An issue as the native API shows it.
#[derive(Serialize)]
struct IssueView<'a> {
    id: i64,
    service_code: &'a str,
    service_name: Option<&'a str>,
    status: &'a str,
    lat: f64,
    lon: f64,
    segment_id: Option<i64>,
    reporter_count: i32,
    first_service_request_id: Option<i64>,
    first_reported_at: String,
    updated_at: String,
    closed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<f64>,
}

fn describe<'a>(
    row: &'a IssueRow,
    catalogue: &'a Catalogue,
    distance_m: Option<f64>,
) -> Described<'a, IssueView<'a>> {
    Described {
        id: row.id,
        properties: IssueView {
            id: row.id,
            service_code: &row.service_code,
            service_name: catalogue.get(&row.service_code).map(|s| s.name.as_str()),
            status: row.status.as_str(),
            lat: row.lat,
            lon: row.lon,
            segment_id: row.segment_id,
            reporter_count: row.reporter_count,
            first_service_request_id: row.first_request_id,
            first_reported_at: format_datetime(row.first_reported_at),
            updated_at: format_datetime(row.updated_at),
            closed_at: row.closed_at.map(format_datetime),
            distance_m,
        },
        geometry: Cow::Owned(point(Coordinates {
            lon: row.lon,
            lat: row.lat,
        })),
    }
}
