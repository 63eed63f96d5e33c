//! `GET servicerequestupdates.{format}`: mySociety's feed of status changes.

use super::requests::public_author;
use super::{Document, Format, Node, Open311Error, Params, check_jurisdiction, paging};
use crate::domain::{FieldError, format_datetime, now, parse_datetime};
use crate::http::{State, blocking};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;

/// The widest window one call may ask for, in days.
const MAX_WINDOW_DAYS: i64 = 90;

pub async fn list(
    state: State,
    req: HttpRequest,
    format: web::Path<String>,
) -> Result<HttpResponse, Open311Error> {
    let format = Format::from_suffix(&format)?;
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    check_jurisdiction(&params, &state.settings.jurisdiction_id, format)?;
    let parse = |name: &str| {
        params
            .get(name)
            .map(|raw| parse_datetime(raw, name))
            .transpose()
    };
    let (start, end) = match (parse("start_date"), parse("end_date")) {
        (Ok(start), Ok(end)) => (start, end),
        (start, end) => {
            let errors = [start.err(), end.err()].into_iter().flatten().collect();
            return Err(Open311Error::fields(format, errors));
        }
    };
    let window = Duration::days(MAX_WINDOW_DAYS);
    let end = end.unwrap_or_else(|| start.map_or_else(now, |s| s + window));
    let start = start.unwrap_or(end - window);
    if start > end {
        return Err(Open311Error::field(
            format,
            FieldError::new("start_date", "must not be after end_date"),
        ));
    }
    if end - start > window {
        return Err(Open311Error::field(
            format,
            FieldError::new(
                "end_date",
                format!("start_date to end_date may span at most {MAX_WINDOW_DAYS} days"),
            ),
        ));
    }
    let (limit, offset) = paging(&params, state.settings.max_page_size)
        .map_err(|e| Open311Error::field(format, e))?;
    let worker = state.clone();
    let updates = blocking(move || {
        worker
            .db
            .read(|conn| crate::db::requests::updates_between(conn, start, end, limit, offset))
    })
    .await
    .map_err(|e| Open311Error::internal(format, &e))?;
    let base = crate::http::base_url(&req, &state.settings);
    let entries = updates
        .into_iter()
        .map(|update| {
            let status = update.status;
            Node::object([
                ("update_id", Node::text(update.id.to_string())),
                (
                    "service_request_id",
                    Node::text(update.request_id.to_string()),
                ),
                ("status", Node::text(status.open311().as_str())),
                (
                    "updated_datetime",
                    Node::text(format_datetime(update.created_at)),
                ),
                ("description", Node::opt_text(update.description)),
                (
                    "media_url",
                    Node::opt_text(crate::http::absolute(&base, update.media_url.as_deref())),
                ),
                ("author", Node::text(public_author(&update.author))),
            ])
        })
        .collect();
    Ok(Document {
        root: "service_request_updates",
        body: Node::list("request_update", entries),
    }
    .respond(format, StatusCode::OK))
}
