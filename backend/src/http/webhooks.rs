//! `/api/v1/webhooks`: admins register the city systems that follow report changes.
//! A webhook's secret is shown once, when it is made.

use super::api::{ApiError, require_role};
use super::query::{invalid, not_found};
use super::{State, blocking};
use crate::alerts::webhooks::check_url;
use crate::db::webhooks::{self as store, WebhookRow};
use crate::domain::{FieldError, Role, format_datetime, now};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};

const ADMINS: [Role; 1] = [Role::Admin];

fn view(row: &WebhookRow) -> Value {
    json!({
        "id": row.id,
        "url": row.url,
        "created_at": format_datetime(row.created_at),
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookBody {
    url: String,
}

/// `POST /api/v1/webhooks` `{"url": "https://…"}`: 201 with the secret deliveries are
/// signed with (HMAC-SHA256), shown this once.
pub async fn create(
    state: State,
    req: HttpRequest,
    body: web::Json<NewWebhookBody>,
) -> Result<HttpResponse, ApiError> {
    require_role(&state, &req, &ADMINS, "register webhooks").await?;
    let url = check_url(&body.url, state.settings.webhooks_allow_private)
        .map_err(|why| invalid(vec![FieldError::new("url", why)]))?;
    let (secret, _) = crate::alerts::new_token();
    let worker = state.clone();
    let stored_secret = secret.clone();
    let row = blocking(move || {
        worker
            .db
            .write(|conn| store::insert(conn, url.as_str(), &stored_secret, now()))
    })
    .await?;
    let mut answer = view(&row);
    answer["secret"] = json!(secret);
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/webhooks/{}", row.id)))
        .json(answer))
}

/// `GET /api/v1/webhooks`: the active ones, without secrets.
pub async fn list(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    require_role(&state, &req, &ADMINS, "list webhooks").await?;
    let worker = state.clone();
    let rows = blocking(move || worker.db.read(store::active)).await?;
    Ok(HttpResponse::Ok().json(json!({ "webhooks": rows.iter().map(view).collect::<Vec<_>>() })))
}

/// `DELETE /api/v1/webhooks/{id}`: nothing more is sent to it.
pub async fn delete(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_role(&state, &req, &ADMINS, "remove webhooks").await?;
    let raw = id.into_inner();
    let id: i64 = raw.parse().map_err(|_| not_found("webhook", &raw))?;
    let worker = state.clone();
    let retired = blocking(move || worker.db.write(|conn| store::retire(conn, id, now()))).await?;
    if retired {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(not_found("webhook", &raw))
    }
}
