//! `/api/v1/priority/weights`: what each consideration is worth in a work order's
//! priority. Anyone may read them; planners and admins change them, and every open
//! order is re-prioritised at once.

use super::api::{ApiError, require_role};
use super::query::invalid;
use super::{State, blocking};
use crate::domain::{Role, format_datetime, now};
use crate::priority::Weights;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

/// `GET /api/v1/priority/weights`
pub async fn show(state: State) -> Result<HttpResponse, ApiError> {
    let worker = state.clone();
    let (weights, by, at) = blocking(move || {
        crate::work_orders::current_weights(&worker.db, &worker.settings.priority_weights)
    })
    .await?;
    Ok(HttpResponse::Ok().json(json!({
        "weights": weights,
        "set_by": by,
        "set_at": at.map(format_datetime),
    })))
}

/// `PUT /api/v1/priority/weights` with the whole set (absent fields take their
/// defaults). 200 with the weights now in force.
pub async fn update(
    state: State,
    req: HttpRequest,
    body: web::Json<Weights>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_role(
        &state,
        &req,
        &[Role::Planner, Role::Admin],
        "change priority weights",
    )
    .await?;
    let weights = body.into_inner();
    weights.check().map_err(|e| invalid(vec![e]))?;
    let by = format!("{}:{}", caller.role.as_str(), caller.name);
    let worker = state.clone();
    let at = now();
    let stored_by = by.clone();
    let stored = weights.clone();
    blocking(move || {
        worker
            .db
            .write(|conn| crate::db::priority::set_weights(conn, &stored, &stored_by, at))
    })
    .await?;
    state.work_orders_due.notify_one();
    Ok(HttpResponse::Ok().json(json!({
        "weights": weights,
        "set_by": by,
        "set_at": format_datetime(at),
    })))
}
