//! Request ids and access logs, and clean text on the way in.
//!
//! Written here rather than taken from tracing-actix-web because its spans record the
//! full target, query string included, and Open311 clients send `api_key` there: keys
//! must never reach a log. This logs the path only.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::time::Instant;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Gives each request an id (echoed in `X-Request-Id`), a span carrying it, and one log
/// line when it completes.
pub async fn request_log(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    let span = tracing::info_span!(
        "http",
        request_id = %request_id,
        method = %req.method(),
        path = %req.path(),
    );
    let started = Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    let status = response.status();
    let _entered = span.enter();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status.is_server_error() {
        tracing::error!(status = status.as_u16(), elapsed_ms, "request failed");
    } else {
        tracing::info!(status = status.as_u16(), elapsed_ms, "request");
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    Ok(response)
}

/// Where a request carries a control character, and which.
fn control_in_request(path: &str, query: &str) -> Option<(String, char)> {
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    if let Some(c) = crate::domain::forbidden_control(&decoded) {
        return Some(("path".to_owned(), c));
    }
    url::form_urlencoded::parse(query.as_bytes()).find_map(|(name, value)| {
        let c = crate::domain::forbidden_control(&name)
            .or_else(|| crate::domain::forbidden_control(&value))?;
        Some((name.into_owned(), c))
    })
}

/// The first string (or key) of a JSON value holding a control character, with its
/// place (`status_notes`, `service_codes[2]`).
fn control_in_json(value: &serde_json::Value, at: &str) -> Option<(String, char)> {
    use serde_json::Value;
    let place = |key: &str| crate::domain::dotted(at, key);
    match value {
        Value::String(text) => crate::domain::forbidden_control(text).map(|c| (at.to_owned(), c)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| control_in_json(item, &format!("{at}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            crate::domain::forbidden_control(key)
                .map(|c| (place(key), c))
                .or_else(|| control_in_json(item, &place(key)))
        }),
        _ => None,
    }
}

/// A refusal in the answer's own shape: Open311's for its paths, the API's for the rest.
pub fn refusal(
    path: &str,
    status: actix_web::http::StatusCode,
    kind: super::api::ErrorKind,
    message: String,
) -> actix_web::HttpResponse {
    use actix_web::ResponseError;
    if path.starts_with("/open311/") {
        let format = if path.ends_with(".xml") {
            super::open311::Format::Xml
        } else {
            super::open311::Format::Json
        };
        super::open311::Open311Error::new(format, status, message).error_response()
    } else {
        super::api::ApiError::new(status, kind, message).error_response()
    }
}

/// The refusal of a control character.
fn refuse_control(path: &str, field: &str, c: char) -> actix_web::HttpResponse {
    let message = format!(
        "{field} holds the control character U+{:04X}, which Upkeep does not store",
        u32::from(c)
    );
    refusal(
        path,
        actix_web::http::StatusCode::BAD_REQUEST,
        super::api::ErrorKind::InvalidParameter,
        message,
    )
}

/// Refuses NUL and the other C0 control characters (tab, CR and LF aside) in the path,
/// every query parameter and every string of a JSON body, with a 400 naming where. Form
/// and multipart bodies are checked where they are read. Text that gets in is stored,
/// and a NUL or ESC would break XML answers and terminals for everyone after.
pub async fn clean_text<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    // A refusal is an answer like any other, so the access log still sees it.
    let refuse = |req: ServiceRequest, response: actix_web::HttpResponse| {
        Ok(req.into_response(response).map_into_right_body())
    };
    if let Some((field, c)) = control_in_request(req.path(), req.query_string()) {
        let error = refuse_control(req.path(), &field, c);
        return refuse(req, error);
    }
    let json = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if json {
        // The JSON extractor's own limit still applies after this; reading is bounded
        // by it here too, so a huge body costs no more than it did.
        let limit = req
            .app_data::<super::State>()
            .map_or(64 * 1024, |state| state.settings.body_limit_bytes);
        let mut payload = actix_web::HttpMessage::take_payload(&mut req);
        let mut body = actix_web::web::BytesMut::new();
        use futures_util::StreamExt;
        while let Some(chunk) = payload.next().await {
            let chunk = chunk?;
            if body.len() + chunk.len() > limit {
                let response = refusal(
                    req.path(),
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                    super::api::ErrorKind::BodyTooLarge,
                    format!("the body is larger than {limit} bytes"),
                );
                return refuse(req, response);
            }
            body.extend_from_slice(&chunk);
        }
        let body = body.freeze();
        if let Ok(value) = serde_json::from_slice::<serde_json::Value>(&body)
            && let Some((field, c)) = control_in_json(&value, "")
        {
            let field = if field.is_empty() {
                "the body".to_owned()
            } else {
                field
            };
            let error = refuse_control(req.path(), &field, c);
            return refuse(req, error);
        }
        req.set_payload(actix_web::dev::Payload::from(body));
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// Who may call each documented write, from the OpenAPI document's `x-roles`:
/// (method, route pattern) → role words (`anyone` admits everyone).
fn documented_roles() -> &'static std::collections::HashMap<(String, String), Vec<String>> {
    static ROLES: std::sync::OnceLock<std::collections::HashMap<(String, String), Vec<String>>> =
        std::sync::OnceLock::new();
    ROLES.get_or_init(|| {
        let mut roles = std::collections::HashMap::new();
        for (path, operations) in super::openapi::parsed()["paths"]
            .as_object()
            .into_iter()
            .flatten()
        {
            for (method, operation) in operations.as_object().into_iter().flatten() {
                if let Some(words) = operation["x-roles"].as_array() {
                    roles.insert(
                        (method.to_uppercase(), path.clone()),
                        words
                            .iter()
                            .filter_map(|w| w.as_str().map(str::to_owned))
                            .collect(),
                    );
                }
            }
        }
        roles
    })
}

/// Checks the caller's role on every documented write before anything reads its body:
/// an anonymous or wrongly keyed call is refused (401, 403) the same way whatever it
/// sent, and a handler that forgot its own check is still covered. The handlers check
/// again, with what only they know (a crew's own orders).
pub async fn roles_first<B: MessageBody + 'static>(
    req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error> {
    use super::api::{ApiError, ErrorKind};
    use actix_web::http::StatusCode;
    let pattern = req.match_pattern().unwrap_or_default();
    let needed = documented_roles()
        .get(&(req.method().as_str().to_owned(), pattern.clone()))
        .filter(|roles| !roles.iter().any(|r| r == "anyone"))
        .cloned();
    let (Some(roles), Some(state)) = (needed, req.app_data::<super::State>().cloned()) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let refusal = match super::api::optional_caller(&state, req.request()).await {
        Err(error) => Some(error),
        Ok(None) => Some(ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorKind::Unauthenticated,
            format!(
                "this needs an API key ({} keys may): send Authorization: Bearer KEY",
                roles.join(" and ")
            ),
        )),
        Ok(Some(caller)) if !roles.iter().any(|r| r == caller.role.as_str()) => {
            Some(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorKind::Forbidden,
                format!(
                    "a {} key cannot call {} {pattern}; {} keys can",
                    caller.role.as_str(),
                    req.method(),
                    roles.join(" and ")
                ),
            ))
        }
        Ok(Some(caller)) => {
            // The handler's own check reads it from here rather than the database again.
            actix_web::HttpMessage::extensions_mut(&req).insert(caller);
            None
        }
    };
    match refusal {
        Some(error) => {
            let response = actix_web::ResponseError::error_response(&error);
            Ok(req.into_response(response).map_into_right_body())
        }
        None => Ok(next.call(req).await?.map_into_left_body()),
    }
}
