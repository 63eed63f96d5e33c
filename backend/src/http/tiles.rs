//! `GET /api/v1/tiles/{layer}/{z}/{x}/{y}.mvt`: the maps' vector tiles (streets, risk,
//! open issues, wards), cached per server by what they were built from and revalidated
//! by ETag.

use super::api::{ApiError, ErrorKind};
use super::query::{invalid, only_parameters};
use super::{State, blocking};
use crate::db::DbError;
use crate::domain::{FieldError, now};
use crate::tiles::{self, Layer, RiskScores, TileError, TileId};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

/// How long an issues tile is served before it is built again, seconds: new reports
/// show within this.
const ISSUES_FOR_S: i64 = 10;
/// The same for wards, which change rarely.
const WARDS_FOR_S: i64 = 60;

/// The only parameter: an edition the page may add so that a browser fetches afresh
/// (ignored here: the server keys tiles by what they were built from).
const PARAMETERS: [&str; 1] = ["v"];

pub async fn show(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String, String, String)>,
) -> Result<HttpResponse, ApiError> {
    only_parameters(&req, &PARAMETERS)?;
    let (layer, z, x, y) = path.into_inner();
    let refused = |e: TileError| invalid(vec![FieldError::new(e.field(), e.to_string())]);
    let layer = Layer::parse(&layer).map_err(refused)?;
    let tile = TileId::parse(&z, &x, &y).map_err(refused)?;
    let (fingerprint, streets) = state.segments.streets();
    let seconds = now().and_utc().timestamp();
    // What the tile is built from, known before building it: a browser holding the
    // same version gets a 304 without the tile being built.
    let latest = match layer {
        Layer::Risk => {
            let worker = state.clone();
            Some(blocking(move || worker.latest_run.latest(&worker.db)).await?)
        }
        _ => None,
    };
    let version = match layer {
        Layer::Streets => tiles::version_of(fingerprint),
        Layer::Risk => tiles::version_of((fingerprint, latest.as_ref().and_then(|l| l.run))),
        Layer::Issues => tiles::version_of(seconds / ISSUES_FOR_S),
        Layer::Wards => tiles::version_of(seconds / WARDS_FOR_S),
    };
    let key = (layer, tile, version);
    let tag = format!("\"{:016x}\"", tiles::version_of(key));
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    if fresh {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, tag))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .finish());
    }
    let worker = state.clone();
    let build = move || -> Result<Vec<u8>, DbError> {
        Ok(match layer {
            Layer::Streets => tiles::streets(&streets, tile),
            Layer::Risk => {
                let scores = match &latest {
                    Some(l) if !l.by_segment.is_empty() => RiskScores::Segments(&l.by_segment),
                    Some(l) if !l.cells.is_empty() => RiskScores::Cells(&l.cells),
                    _ => RiskScores::None,
                };
                tiles::risk(&streets, &scores, tile)
            }
            Layer::Issues => {
                let points = worker.db.read(|conn| {
                    crate::db::issues::open_points(conn, tile.bounding_box(), tiles::MAX_FEATURES)
                })?;
                tiles::issues(&points, tile)
            }
            Layer::Wards => {
                let shapes: Vec<tiles::WardShape> = worker
                    .db
                    .read(crate::db::wards::all)?
                    .into_iter()
                    .filter_map(|w| {
                        let shape = tiles::boundary(w.geometry.as_deref()?)?;
                        Some((w.id, w.name, shape))
                    })
                    .collect();
                tiles::wards(&shapes, tile)
            }
        })
    };
    let bytes = state
        .tiles
        .get_or_build(key, async move { blocking(build).await })
        .await
        .map_err(|e| {
            let (status, message) = e.public_view();
            ApiError::new(status, ErrorKind::ServerError, message)
        })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/vnd.mapbox-vector-tile"))
        .insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(bytes.to_vec()))
}
