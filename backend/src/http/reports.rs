//! `/api/v1/reports`: residents' reports, by place, status, category and time.
//!
//! Contact details never leave the server here: a report is shown as the city sees it.

use super::api::ApiError;
use super::query::{Described, Listing, invalid, item_id, not_found, one, point};
use super::{State, blocking, current_catalogue};
use crate::catalogue::Catalogue;
use crate::db::requests::{self, RequestFilter, RequestRow};
use crate::domain::{FieldError, RequestStatus, format_datetime};
use crate::search::{Source, Window, page_of};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use std::borrow::Cow;

const FILTERS: [&str; 6] = [
    "status",
    "service_code",
    "requested_after",
    "requested_before",
    "updated_after",
    "updated_before",
];

/// `GET /api/v1/reports/{id}`
pub async fn show(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let missing = || not_found("report", &id);
    let numeric = item_id(&id, "report")?;
    let worker = state.clone();
    let (row, _) =
        blocking(move || worker.db.find_fresh(|conn| requests::find(conn, numeric))).await?;
    let row = row.ok_or_else(missing)?;
    let catalogue = current_catalogue(&state).await?;
    let base = crate::http::base_url(&req, &state.settings);
    one(&req, describe(&row, &catalogue, None, &base))
}

/// `GET /api/v1/reports`, and `POST /api/v1/reports/search` with the parameters in a JSON
/// body.
pub async fn list(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let listing = Listing::read(&state, &req, payload, &FILTERS).await?;
    let filter = filter_of(&listing)?;
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
                // From the server's index of positions (caught up first) when nothing
                // but the place narrows the search; else from the replica, if any,
                // which may lag a moment.
                located: &|window| {
                    let index = &worker.report_index;
                    if filter.is_everything() && index.is_ready() {
                        index.catch_up(db)?;
                        if let Some(found) = index.located(window) {
                            return Ok(found);
                        }
                    }
                    db.read_replica(|conn| requests::located(conn, &filter, window))
                },
                by_ids: &|ids| db.read_replica(|conn| requests::by_ids(conn, ids)),
                page: &|limit, offset| {
                    db.read_replica(|conn| {
                        conn.snapshot(|conn| {
                            let rows = requests::list(conn, &filter, limit, offset)?;
                            Ok((rows, requests::count(conn, &filter)?))
                        })
                    })
                },
                id_of: |row: &RequestRow| row.id,
            },
        )
    })
    .await?;
    let catalogue = current_catalogue(&state).await?;
    let base = crate::http::base_url(&req, &state.settings);
    Ok(listing.respond(&req, page, |row, d, format, out| {
        describe(row, &catalogue, d, &base).write(format, out)
    }))
}

fn filter_of(listing: &Listing) -> Result<RequestFilter, ApiError> {
    let statuses = match listing.list("status") {
        None => None,
        Some(words) => Some(
            words
                .iter()
                .map(|w| {
                    w.parse::<RequestStatus>().map_err(|_| {
                        let known: Vec<&str> =
                            RequestStatus::ALL.iter().map(|s| s.as_str()).collect();
                        invalid(vec![FieldError::new(
                            "status",
                            format!("'{w}' is not one of {}", known.join(", ")),
                        )])
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    Ok(RequestFilter {
        service_codes: listing.list("service_code"),
        statuses,
        requested_from: listing.time("requested_after")?,
        requested_to: listing.time("requested_before")?,
        updated_from: listing.time("updated_after")?,
        updated_to: listing.time("updated_before")?,
        ..RequestFilter::default()
    })
}

/// A report as the native API shows it (never its reporter's contact details).
#[derive(Serialize)]
struct ReportView<'a> {
    id: i64,
    service_code: &'a str,
    service_name: Option<&'a str>,
    status: &'a str,
    status_notes: Option<&'a str>,
    description: Option<&'a str>,
    address: Option<&'a str>,
    media_url: Option<String>,
    lat: Option<f64>,
    lon: Option<f64>,
    segment_id: Option<i64>,
    snap_distance_m: Option<f64>,
    issue_id: Option<i64>,
    requested_at: String,
    updated_at: String,
    expected_at: Option<String>,
    closed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<f64>,
}

/// `base` is where this server is reached, for the URLs it stores relative to itself.
fn describe<'a>(
    row: &'a RequestRow,
    catalogue: &'a Catalogue,
    distance_m: Option<f64>,
    base: &str,
) -> Described<'a, ReportView<'a>> {
    Described {
        id: row.id,
        properties: ReportView {
            id: row.id,
            service_code: &row.service_code,
            service_name: catalogue.get(&row.service_code).map(|s| s.name.as_str()),
            status: row.status.as_str(),
            status_notes: row.status_notes.as_deref(),
            description: row.description.as_deref(),
            address: row.address.as_deref(),
            media_url: crate::http::absolute(base, row.media_url.as_deref()),
            lat: row.lat,
            lon: row.lon,
            segment_id: row.segment_id,
            snap_distance_m: row.snap_distance_m,
            issue_id: row.issue_id,
            requested_at: format_datetime(row.requested_at),
            updated_at: format_datetime(row.updated_at),
            expected_at: row.expected_at.map(format_datetime),
            closed_at: row.closed_at.map(format_datetime),
            distance_m,
        },
        geometry: row
            .position()
            .map_or(Cow::Borrowed("null"), |p| Cow::Owned(point(p))),
    }
}
