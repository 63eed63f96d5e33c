//! `/api/v1/segments`: the road network, by place, class and ward; and importing it
//! from GeoJSON (planners and admins).

use super::api::{ApiError, ErrorKind, read_body, require_role};
use super::open311::Params;
use super::query::{Described, Listing, invalid, item_id, not_found, one};
use super::{State, blocking};
use crate::db::segments::{self, SegmentFilter, SegmentRow};
use crate::db::{Database, DbResult};
use crate::domain::{FieldError, Role, format_datetime, now};
use crate::roads::{self, Mapping};
use crate::search::{Area, Page, Source, Window, page_of};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde_json::{Value, json};
use std::borrow::Cow;

const FILTERS: [&str; 2] = ["road_class", "ward_id"];

/// Largest road network file accepted over HTTP, bytes (the CLI takes any size).
const MAX_IMPORT_BYTES: usize = 64 * 1024 * 1024;

/// `GET /api/v1/segments/{id}`
pub async fn show(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let missing = || not_found("segment", &id);
    let numeric = item_id(&id, "segment")?;
    let worker = state.clone();
    let row = blocking(move || worker.db.read(|conn| segments::by_ids(conn, &[numeric])))
        .await?
        .pop()
        .ok_or_else(missing)?;
    one(&req, describe(&row, None, true))
}

/// `POST /api/v1/segments?class_field=…`: imports a GeoJSON FeatureCollection of
/// LineStrings and MultiLineStrings, mapped as the query says ([`Mapping`]); with
/// `dry_run=true` only reports what it would do. Answers 201 with what was imported and
/// each rejected feature's index and reason; 422 when no feature could be imported.
pub async fn import(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_role(
        &state,
        &req,
        &[Role::Planner, Role::Admin],
        "import road segments",
    )
    .await?;
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    if let Some((name, _)) = params
        .pairs()
        .iter()
        .find(|(name, _)| !Mapping::OPTIONS.contains(&name.as_str()))
    {
        return Err(invalid(vec![FieldError::new(
            name,
            format!(
                "is not an import option; known: {}",
                Mapping::OPTIONS.join(", ")
            ),
        )]));
    }
    let mapping = Mapping::from_options(|name| params.get(name))
        .map_err(|e| invalid(vec![FieldError::new(e.field, e.message)]))?;
    let dry_run = params
        .boolean("dry_run", false)
        .map_err(|e| invalid(vec![e]))?;
    let body = read_body(payload, MAX_IMPORT_BYTES).await?;
    let text = String::from_utf8(body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidBody,
            "the body is not UTF-8 text",
        )
    })?;
    let worker = state.clone();
    let outcome = blocking(move || {
        let wards = worker.db.read(crate::db::wards::lookup)?;
        let imported = match roads::read(&text, &mapping, &wards, now()) {
            Ok(imported) => imported,
            Err(e) => return Ok(Err(e)),
        };
        let ids = if dry_run || imported.segments.is_empty() {
            Vec::new()
        } else {
            let ids = worker
                .db
                .write(|conn| segments::insert(conn, &imported.segments))?;
            // Reports to this server snap to the new segments at once; other servers
            // see them at their next periodic check.
            crate::roads::refresh_index(&worker.db, &worker.segments)?;
            ids
        };
        Ok::<_, crate::db::DbError>(Ok((imported, ids)))
    })
    .await?;
    let (imported, ids) = outcome.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidGeojson,
            e.to_string(),
        )
    })?;
    let status = if imported.features_imported == 0 {
        StatusCode::UNPROCESSABLE_ENTITY
    } else if dry_run {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    let mut body = serde_json::to_value(&imported).unwrap_or(Value::Null);
    body["dry_run"] = json!(dry_run);
    body["segment_ids"] = json!(ids);
    if imported.features_imported == 0 {
        body["error"] = json!("nothing_imported");
        body["message"] = json!("no feature could be imported; see rejected for each one's reason");
    }
    Ok(HttpResponse::build(status).json(body))
}

/// `GET /api/v1/segments`, and `POST /api/v1/segments/search` with the parameters in a JSON
/// body.
pub async fn list(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let listing = Listing::read(&state, &req, payload, &FILTERS).await?;
    let ward_ids = match listing.list("ward_id") {
        None => None,
        Some(raw) => Some(
            raw.iter()
                .map(|w| {
                    w.parse::<i64>().map_err(|_| {
                        invalid(vec![FieldError::new(
                            "ward_id",
                            format!("'{w}' is not a ward id"),
                        )])
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
    };
    let filter = SegmentFilter {
        road_classes: listing.list("road_class"),
        ward_ids,
    };
    let (limit, offset) = listing.window();
    let area = listing.area.clone();
    let worker = state.clone();
    let page = blocking(move || page(&worker.db, area.as_ref(), &filter, limit, offset)).await?;
    Ok(listing.respond(&req, page, |row, d, format, out| {
        describe(row, d, false).write(format, out)
    }))
}

/// A page of segments in `area` (or of all of them), for the segment listing and the
/// risk map. The candidates are read whole and kept, so the page needs no second read.
pub(super) fn page(
    db: &Database,
    area: Option<&Area>,
    filter: &SegmentFilter,
    limit: usize,
    offset: usize,
) -> DbResult<Page<SegmentRow>> {
    let seen = std::cell::RefCell::new(std::collections::HashMap::new());
    page_of(
        area,
        limit,
        offset,
        Source {
            window_for: Window::for_segments,
            located: &|window| {
                let rows = db.read(|conn| segments::located(conn, filter, window))?;
                let candidates = rows
                    .iter()
                    .map(|r| Ok((r.id, r.located()?)))
                    .collect::<crate::db::DbResult<_>>()?;
                seen.borrow_mut()
                    .extend(rows.into_iter().map(|r| (r.id, r)));
                Ok(candidates)
            },
            by_ids: &|ids| {
                let mut seen = seen.borrow_mut();
                Ok(ids.iter().filter_map(|id| seen.remove(id)).collect())
            },
            page: &|limit, offset| {
                db.read(|conn| {
                    conn.snapshot(|conn| {
                        let rows = segments::list(conn, filter, limit, offset)?;
                        Ok((rows, segments::count(conn, filter)?))
                    })
                })
            },
            id_of: |row: &SegmentRow| row.id,
        },
    )
}

/// A segment as the native API shows it. Listings leave out the imported file's own
/// properties (a map layer does not need them); one segment shows them.
#[derive(Serialize)]
struct SegmentView<'a> {
    id: i64,
    external_id: Option<&'a str>,
    name: Option<&'a str>,
    road_class: &'a str,
    surface: Option<&'a str>,
    length_m: f64,
    aadt: Option<i32>,
    bus_route: bool,
    last_resurfaced: Option<String>,
    ward_id: Option<i64>,
    neighbourhood: Option<&'a str>,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_properties: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<f64>,
}

fn describe(
    row: &SegmentRow,
    distance_m: Option<f64>,
    with_source: bool,
) -> Described<'_, SegmentView<'_>> {
    let source_properties = with_source.then(|| {
        row.properties
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or(Value::Null)
    });
    Described {
        id: row.id,
        properties: SegmentView {
            id: row.id,
            external_id: row.external_id.as_deref(),
            name: row.name.as_deref(),
            road_class: row.road_class.as_str(),
            surface: row.surface.as_deref(),
            length_m: row.length_m,
            aadt: row.aadt,
            bus_route: row.bus_route,
            last_resurfaced: row.last_resurfaced.map(|d| d.to_string()),
            ward_id: row.ward_id,
            neighbourhood: row.neighbourhood.as_deref(),
            updated_at: format_datetime(row.updated_at),
            source_properties,
            distance_m,
        },
        // Stored geometry is written by Upkeep's own import and loader: valid GeoJSON.
        geometry: Cow::Borrowed(&row.geometry),
    }
}
