//! `/api/v1/wards`: each ward with its reports counted by status and by category, and
//! its open issues; as JSON or as a GeoJSON FeatureCollection of the ward boundaries.

use super::api::ApiError;
use super::query::{feature, feature_collection, invalid, only_parameters, wants_geojson};
use super::{State, blocking};
use crate::domain::{FieldError, parse_datetime};
use actix_web::{HttpRequest, HttpResponse};
use geo::{Orient, orient::Direction};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A ward's reports: in all, by status, by service.
type Counts = (i64, BTreeMap<String, i64>, BTreeMap<String, i64>);

const PARAMETERS: [&str; 4] = ["requested_after", "requested_before", "format", "counts"];

/// `GET /api/v1/wards[?requested_after=&requested_before=][&format=geojson]`
pub async fn list(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let params = only_parameters(&req, &PARAMETERS)?;
    let time = |name: &str| {
        params
            .get(name)
            .map(|raw| parse_datetime(raw, name))
            .transpose()
            .map_err(|e| invalid(vec![e]))
    };
    let (from, to) = (time("requested_after")?, time("requested_before")?);
    // Counting every report takes seconds in a city of millions; a map that only needs
    // the boundaries asks for none.
    let counted = match params.get("counts") {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(invalid(vec![FieldError::new(
                "counts",
                format!("'{other}' is not true or false"),
            )]));
        }
    };
    let worker = state.clone();
    let (wards, reports, open_issues) = blocking(move || {
        worker.db.read(|conn| {
            Ok::<_, crate::db::DbError>(if counted {
                (
                    crate::db::wards::all(conn)?,
                    crate::db::wards::report_counts(conn, from, to)?,
                    crate::db::issues::open_counts_by_ward(conn)?,
                )
            } else {
                (crate::db::wards::all(conn)?, Vec::new(), Default::default())
            })
        })
    })
    .await?;
    let mut counts: BTreeMap<i64, Counts> = BTreeMap::new();
    for (ward, status, code, n) in reports {
        let entry = counts.entry(ward).or_default();
        entry.0 += n;
        *entry.1.entry(status).or_default() += n;
        *entry.2.entry(code).or_default() += n;
    }
    let geojson = wants_geojson(&req)?;
    let items: Vec<Value> = wards
        .iter()
        .map(|ward| {
            let (total, by_status, by_service) = counts.remove(&ward.id).unwrap_or_default();
            let mut properties = Map::new();
            properties.insert("id".into(), json!(ward.id));
            properties.insert("name".into(), json!(ward.name));
            properties.insert("population".into(), json!(ward.population));
            properties.insert("vulnerability".into(), json!(ward.vulnerability));
            if counted {
                properties.insert("reports".into(), json!(total));
                properties.insert("reports_by_status".into(), json!(by_status));
                properties.insert("reports_by_service".into(), json!(by_service));
                properties.insert(
                    "open_issues".into(),
                    json!(open_issues.get(&ward.id).copied().unwrap_or(0)),
                );
            }
            let geometry = ward.geometry.as_deref().map_or(Value::Null, right_hand);
            if geojson {
                feature(ward.id, properties, geometry)
            } else {
                properties.insert("geometry".into(), geometry);
                Value::Object(properties)
            }
        })
        .collect();
    Ok(if geojson {
        HttpResponse::Ok()
            .content_type("application/geo+json")
            .body(feature_collection(items).to_string())
    } else {
        HttpResponse::Ok().json(json!({"total": items.len(), "items": items}))
    })
}

/// A stored boundary in RFC 7946's winding (§3.1.6): outer rings anticlockwise, holes
/// clockwise. Null if it is not a polygon.
pub fn right_hand(stored: &str) -> Value {
    let Ok(geometry) = stored.parse::<geojson::Geometry>() else {
        return Value::Null;
    };
    let Ok(shape) = geo::Geometry::<f64>::try_from(geometry) else {
        return Value::Null;
    };
    let oriented = match shape {
        geo::Geometry::Polygon(p) => geo::Geometry::Polygon(p.orient(Direction::Default)),
        geo::Geometry::MultiPolygon(p) => geo::Geometry::MultiPolygon(p.orient(Direction::Default)),
        _ => return Value::Null,
    };
    serde_json::to_value(geojson::Geometry::from(&oriented)).unwrap_or(Value::Null)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WardChange {
    vulnerability: f64,
}

/// `PATCH /api/v1/wards/{id}` (planners and admins): `{"vulnerability": 0.8}`, 0 to 1,
/// the share of the vulnerability weight the ward's orders get. Open orders there are
/// re-prioritised at once.
pub async fn update(
    state: State,
    req: HttpRequest,
    id: actix_web::web::Path<String>,
    change: actix_web::web::Json<WardChange>,
) -> Result<HttpResponse, ApiError> {
    super::api::require_role(
        &state,
        &req,
        &[crate::domain::Role::Planner, crate::domain::Role::Admin],
        "change a ward's vulnerability",
    )
    .await?;
    let id = id.into_inner();
    let numeric = super::query::item_id(&id, "ward")?;
    let vulnerability = change.into_inner().vulnerability;
    if !(vulnerability.is_finite() && (0.0..=1.0).contains(&vulnerability)) {
        return Err(invalid(vec![FieldError::new(
            "vulnerability",
            format!("{vulnerability} is not between 0 and 1"),
        )]));
    }
    let worker = state.clone();
    let found = blocking(move || {
        worker
            .db
            .write(|conn| crate::db::wards::set_vulnerability(conn, numeric, vulnerability))
    })
    .await?;
    if !found {
        return Err(super::query::not_found("ward", &id));
    }
    state.work_orders_due.notify_one();
    Ok(HttpResponse::Ok().json(json!({"id": numeric, "vulnerability": vulnerability})))
}
