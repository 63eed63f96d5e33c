//! Upkeep's native JSON API (`/api/v1/`), `/health` and `/media`.
//!
//! Errors here have one stable shape: `{"error": "snake_case_kind", "message": "…"}`.

use super::{ServerError, State, blocking, current_catalogue};
use crate::auth::{self, Caller};
use crate::domain::{RequestStatus, Role, format_datetime, now};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde::Deserialize;
use serde_json::json;
use std::fmt;

/// What went wrong, as a client reads it in the `error` field: a stable word a program
/// can branch on (the message is for people and may change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    BodyTooLarge,
    Busy,
    Conflict,
    Forbidden,
    InvalidBody,
    InvalidGeojson,
    InvalidParameter,
    InvalidStatus,
    InvalidStatusNotes,
    MethodNotAllowed,
    NoModel,
    NotFound,
    RateLimited,
    Unauthenticated,
    ServerError,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BodyTooLarge => "body_too_large",
            ErrorKind::Busy => "busy",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::InvalidBody => "invalid_body",
            ErrorKind::InvalidGeojson => "invalid_geojson",
            ErrorKind::InvalidParameter => "invalid_parameter",
            ErrorKind::InvalidStatus => "invalid_status",
            ErrorKind::InvalidStatusNotes => "invalid_status_notes",
            ErrorKind::MethodNotAllowed => "method_not_allowed",
            ErrorKind::NoModel => "no_model",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Unauthenticated => "unauthenticated",
            ErrorKind::ServerError => "server_error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of the native API.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, kind: ErrorKind, message: impl Into<String>) -> Self {
        ApiError {
            status,
            kind,
            message: message.into(),
        }
    }
}

impl From<ServerError> for ApiError {
    fn from(error: ServerError) -> Self {
        let (status, message) = error.public_view();
        ApiError::new(status, ErrorKind::ServerError, message)
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.kind, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status)
            .json(json!({"error": self.kind.as_str(), "message": self.message}))
    }
}

/// `GET /health`: 200 `ok`; 200 `degraded` with the reason while writes fail (reads
/// still work, so a load balancer keeps the server); 503 `unavailable` when reads fail.
pub async fn health(state: State) -> HttpResponse {
    // What the background check last found: never a wait on the database, so a load
    // balancer gets its answer however busy the pool is.
    let health = state.health.read().map(|h| h.clone()).unwrap_or_default();
    let backend = state.db.backend_name();
    let checked_at = health.checked_at.map(|at| at.and_utc().to_rfc3339());
    // Reports in the index of positions; null while it is first loaded.
    let indexed = state
        .report_index
        .is_ready()
        .then(|| state.report_index.len());
    match (health.reads, health.writes) {
        (None, None) => HttpResponse::Ok().json(json!({
            "status": "ok", "database": backend, "checked_at": checked_at,
            "indexed_reports": indexed,
        })),
        // Reads still work: the server stays in rotation, and says why writes fail.
        (None, Some(reason)) => HttpResponse::Ok().json(json!({
            "status": "degraded", "database": backend, "checked_at": checked_at,
            "reason": format!("writes fail: {reason}"),
        })),
        (Some(reason), _) => HttpResponse::ServiceUnavailable()
            .insert_header(("Retry-After", "5"))
            .json(json!({
                "status": "unavailable", "database": backend, "checked_at": checked_at,
                "reason": format!("reads fail: {reason}"),
            })),
    }
}

/// Serves an uploaded photo. Only images ever get here (see `intake`), and `nosniff`
/// stops a browser from reading one as anything else.
pub async fn media(state: State, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let worker = state.clone();
    let wanted = id.clone();
    let row = blocking(move || worker.db.read(|conn| crate::db::media::find(conn, &wanted)))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                ErrorKind::NotFound,
                format!("no media '{id}'"),
            )
        })?;
    Ok(HttpResponse::Ok()
        .content_type(row.content_type)
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .insert_header(("ETag", format!("\"{}\"", row.sha256)))
        .body(row.bytes))
}

/// `POST /api/v1/media` (crews, planners, admins): the body is one photo (JPEG, PNG, GIF
/// or WebP, told by its bytes), at most `media_limit_bytes`. 201 with its URL, for a work
/// order's `photo_urls`.
pub async fn upload_media(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    require_role(
        &state,
        &req,
        &[Role::Crew, Role::Planner, Role::Admin],
        "upload photos",
    )
    .await?;
    let bytes = read_body(payload, state.settings.media_limit_bytes).await?;
    if bytes.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidParameter,
            "media: the body is empty; send the photo's bytes",
        ));
    }
    // Decoding and re-encoding is CPU work: off the async workers.
    let upload = crate::intake::Upload {
        bytes,
        keep_location: false,
    };
    let row = web::block(move || crate::intake::photo_row(upload, now()))
        .await
        .map_err(|_| ServerError::Blocking)?
        .map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorKind::InvalidParameter,
                e.to_string(),
            )
        })?;
    let url = format!("/media/{}", row.id);
    let worker = state.clone();
    blocking(move || worker.db.write(|conn| crate::db::media::insert(conn, &row))).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", url.clone()))
        .json(json!({"url": url})))
}

/// A request body of at most `limit` bytes, or 413 saying so.
pub async fn read_body(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt;
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorKind::InvalidBody,
                format!("the body could not be read: {e}"),
            )
        })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorKind::BodyTooLarge,
                format!("the body is larger than {limit} bytes"),
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Anything that is not a route.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        format!("{} {} is not a resource here", req.method(), req.path()),
    )
    .error_response()
}

/// A known resource asked with a method it does not serve.
/// `Allow` names what is (RFC 9110).
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    let allowed = super::openapi::methods_at(&req.match_pattern().unwrap_or_default());
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorKind::MethodNotAllowed,
        format!(
            "{} is not served at {}; {} is",
            req.method(),
            req.path(),
            allowed.join(", ")
        ),
    )
    .error_response();
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&allowed.join(", ")) {
        response
            .headers_mut()
            .insert(actix_web::http::header::ALLOW, value);
    }
    response
}

/// The caller, if its key has one of `roles`: 401 without a valid key, 403 with
/// another role. `action` completes "a crew key cannot …".
pub async fn require_role(
    state: &State,
    req: &HttpRequest,
    roles: &[Role],
    action: &str,
) -> Result<Caller, ApiError> {
    let caller = authenticate(state, req).await?;
    if roles.contains(&caller.role) {
        return Ok(caller);
    }
    let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        ErrorKind::Forbidden,
        format!(
            "a {} key cannot {action}; {} keys can",
            caller.role.as_str(),
            allowed.join(" and ")
        ),
    ))
}

/// `GET /api/v1/me`: who the presented key belongs to (name, role, crew), so a page
/// can offer what the key may do. 401 without a valid key.
pub async fn me(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&state, &req).await?;
    Ok(HttpResponse::Ok().json(json!({
        "name": caller.name,
        "role": caller.role.as_str(),
        "crew_id": caller.crew_id,
    })))
}

/// The caller behind the request's API key (`Authorization: Bearer KEY` or `X-Api-Key`).
/// Who is calling, if anyone: None without a key; a key that is sent but unknown or
/// revoked is refused (401), never read as anonymous.
pub async fn optional_caller(state: &State, req: &HttpRequest) -> Result<Option<Caller>, ApiError> {
    let headers = req.headers();
    if headers.get("authorization").is_none() && headers.get("x-api-key").is_none() {
        return Ok(None);
    }
    authenticate(state, req).await.map(Some)
}

async fn authenticate(state: &State, req: &HttpRequest) -> Result<Caller, ApiError> {
    // `roles_first` has already checked this request's key.
    if let Some(caller) = actix_web::HttpMessage::extensions(req).get::<Caller>() {
        return Ok(caller.clone());
    }
    let headers = req.headers();
    let secret = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::to_owned)
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorKind::Unauthenticated,
                "this needs an API key: send Authorization: Bearer KEY",
            )
        })?;
    let worker = state.clone();
    blocking(move || auth::authenticate(&worker.db, &secret))
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                ErrorKind::Unauthenticated,
                "the API key is unknown or revoked",
            )
        })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    status: String,
    status_notes: Option<String>,
}

/// Longest status note, in characters.
const MAX_STATUS_NOTES_CHARS: usize = 4000;

/// Staff set a report's status, with a note the resident reads in Open311 `status_notes`.
pub async fn change_request_status(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
    change: web::Json<StatusChange>,
) -> Result<HttpResponse, ApiError> {
    let caller = authenticate(&state, &req).await?;
    if !caller.role.is_staff() {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Forbidden,
            format!(
                "a {} key cannot change a report's status; staff keys can",
                caller.role.as_str()
            ),
        ));
    }
    let id = id.into_inner();
    let missing = || {
        ApiError::new(
            StatusCode::NOT_FOUND,
            ErrorKind::NotFound,
            format!("service request '{id}' does not exist"),
        )
    };
    let numeric_id: i64 = id.parse().map_err(|_| missing())?;
    let change = change.into_inner();
    let status: RequestStatus = change.status.parse().map_err(|why: String| {
        ApiError::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidStatus, why)
    })?;
    let notes = change.status_notes.filter(|n| !n.trim().is_empty());
    if notes
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_STATUS_NOTES_CHARS)
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidStatusNotes,
            format!("status_notes is longer than {MAX_STATUS_NOTES_CHARS} characters"),
        ));
    }
    let author = format!("staff:{}", caller.name);
    // A crew changes only the reports of its own orders; a crew key without a crew
    // changes none.
    let crew = match caller.role {
        Role::Crew => Some(caller.crew_id.unwrap_or(-1)),
        _ => None,
    };
    let catalogue = current_catalogue(&state).await?;
    let worker = state.clone();
    let row = blocking(move || {
        crate::report_status::change(
            &worker.db,
            &catalogue,
            numeric_id,
            status,
            notes.as_deref(),
            &author,
            crew,
            now(),
        )
    })
    .await?
    .map_err(|refused| match refused {
        crate::report_status::Refused::NotFound => missing(),
        crate::report_status::Refused::NotTheirs => ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorKind::Forbidden,
            format!(
                "a crew key can change only the reports of its own crew's work orders; report {id} has none of them"
            ),
        ),
    })?;
    let status = row.status;
    Ok(HttpResponse::Ok().json(json!({
        "service_request_id": row.id.to_string(),
        "status": status.open311().as_str(),
        "internal_status": status.as_str(),
        "status_notes": row.status_notes,
        "updated_datetime": format_datetime(row.updated_at),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body_of(error: ApiError) -> serde_json::Value {
        let response = error.error_response();
        let bytes = actix_web::body::to_bytes(response.into_body())
            .await
            .expect("body");
        serde_json::from_slice(&bytes).expect("JSON body")
    }

    /// Clients branch on these words; changing one breaks them.
    #[actix_web::test]
    async fn every_error_kind_keeps_its_word_and_shape_in_json() {
        let pinned = [
            (ErrorKind::BodyTooLarge, "body_too_large"),
            (ErrorKind::Busy, "busy"),
            (ErrorKind::Conflict, "conflict"),
            (ErrorKind::Forbidden, "forbidden"),
            (ErrorKind::InvalidBody, "invalid_body"),
            (ErrorKind::InvalidGeojson, "invalid_geojson"),
            (ErrorKind::InvalidParameter, "invalid_parameter"),
            (ErrorKind::InvalidStatus, "invalid_status"),
            (ErrorKind::InvalidStatusNotes, "invalid_status_notes"),
            (ErrorKind::MethodNotAllowed, "method_not_allowed"),
            (ErrorKind::NoModel, "no_model"),
            (ErrorKind::NotFound, "not_found"),
            (ErrorKind::Unauthenticated, "unauthenticated"),
            (ErrorKind::ServerError, "server_error"),
        ];
        for (kind, word) in pinned {
            let error = ApiError::new(StatusCode::BAD_REQUEST, kind, "what went wrong");
            let status = error.status_code();
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(
                body_of(error).await,
                json!({"error": word, "message": "what went wrong"}),
                "{kind:?}"
            );
        }
    }
}
