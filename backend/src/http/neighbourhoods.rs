//! `/api/v1/neighbourhoods` (anyone, no key): the public neighbourhood dashboard's
//! figures per ward, as JSON, as CSV (the page's download), or as GeoJSON wards with the
//! figures in their properties (the page's map). They come from the summary computed in
//! the background (`crate::neighbourhoods`), never from a scan per request.

use super::api::ApiError;
use super::query::{feature, feature_collection, invalid, only_parameters};
use super::wards::right_hand;
use super::{State, blocking};
use crate::domain::{FieldError, now};
use crate::http::ServerError;
use crate::neighbourhoods::{self, Dashboard};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

/// `GET /api/v1/neighbourhoods[?format=json|csv|geojson]`
pub async fn show(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let params = only_parameters(&req, &["format"])?;
    let format = params.get("format").unwrap_or("json").to_owned();
    if !["json", "csv", "geojson"].contains(&format.as_str()) {
        return Err(invalid(vec![FieldError::new(
            "format",
            format!("'{format}' is not json, csv or geojson"),
        )]));
    }
    let geojson = format == "geojson";
    let worker = state.clone();
    let (dashboard, wards) = blocking(move || {
        // Only before the first background run (a server just started) is it computed here.
        let dashboard = match neighbourhoods::stored(&worker.db)? {
            Some(dashboard) => dashboard,
            None => {
                let catalogue = worker.catalogue.get()?;
                neighbourhoods::refresh(&worker.db, &catalogue, now())?
            }
        };
        let wards = if geojson {
            worker.db.read(crate::db::wards::all)?
        } else {
            Vec::new()
        };
        Ok::<_, ServerError>((dashboard, wards))
    })
    .await?;
    Ok(match format.as_str() {
        "csv" => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"neighbourhoods.csv\"",
            ))
            .body(neighbourhoods::csv(&dashboard)),
        "geojson" => HttpResponse::Ok()
            .content_type("application/geo+json")
            .body(as_features(&dashboard, &wards).to_string()),
        _ => HttpResponse::Ok().json(&dashboard),
    })
}

/// One feature per ward, its figures in its properties.
fn as_features(dashboard: &Dashboard, wards: &[crate::db::wards::Ward]) -> Value {
    let features = dashboard
        .wards
        .iter()
        .filter_map(|figures| {
            let id = figures.ward_id?;
            let ward = wards.iter().find(|w| w.id == id)?;
            let Value::Object(mut properties) = serde_json::to_value(figures).ok()? else {
                return None;
            };
            properties.insert("computed_at".into(), json!(dashboard.computed_at));
            let geometry = ward.geometry.as_deref().map_or(Value::Null, right_hand);
            Some(feature(id, Map::from_iter(properties), geometry))
        })
        .collect();
    feature_collection(features)
}
