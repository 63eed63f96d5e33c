//! `/api/v1/services`: the service catalogue as staff manage it. Residents' apps read it
//! through Open311 (`/open311/v2/services.json`); planners and admins add, replace and
//! retire services here.

use super::api::{ApiError, require_role};
use super::query::{invalid, not_found};
use super::{State, blocking, current_catalogue};
use crate::catalogue::Service;
use crate::domain::{FieldError, Role};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

const STAFF: [Role; 2] = [Role::Planner, Role::Admin];

/// `GET /api/v1/services`: every service offered, in catalogue order, with its SLA,
/// severity and attributes.
pub async fn list(state: State) -> Result<HttpResponse, ApiError> {
    let catalogue = current_catalogue(&state).await?;
    Ok(HttpResponse::Ok().json(json!({
        "total": catalogue.services.len(),
        "items": catalogue.services,
    })))
}

/// `PUT /api/v1/services/{code}` with the whole service (the fields of
/// `data/services.toml`): 201 when new, 200 when it replaced one (a retired one is
/// offered again).
pub async fn put(
    state: State,
    req: HttpRequest,
    code: web::Path<String>,
    body: web::Json<Service>,
) -> Result<HttpResponse, ApiError> {
    require_role(&state, &req, &STAFF, "change the service catalogue").await?;
    let code = code.into_inner();
    let service = body.into_inner();
    if service.code != code {
        return Err(invalid(vec![FieldError::new(
            "code",
            format!("'{}' differs from '{code}' in the path", service.code),
        )]));
    }
    service
        .check()
        .map_err(|why| invalid(vec![FieldError::new("service", why)]))?;
    let worker = state.clone();
    let stored = service.clone();
    let created = blocking(move || {
        worker
            .db
            .write(|conn| crate::db::services::upsert(conn, &stored))
    })
    .await?;
    state.catalogue.invalidate();
    let response = if created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    }
    .json(&service);
    Ok(response)
}

/// `DELETE /api/v1/services/{code}`: residents can no longer report it; its reports
/// and orders stay.
pub async fn retire(
    state: State,
    req: HttpRequest,
    code: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_role(&state, &req, &STAFF, "change the service catalogue").await?;
    let code = code.into_inner();
    let worker = state.clone();
    let wanted = code.clone();
    let retired = blocking(move || {
        worker
            .db
            .write(|conn| crate::db::services::retire(conn, &wanted))
    })
    .await?;
    if !retired {
        return Err(not_found("service", &code));
    }
    state.catalogue.invalidate();
    Ok(HttpResponse::Ok().json(json!({"code": code, "retired": true})))
}
