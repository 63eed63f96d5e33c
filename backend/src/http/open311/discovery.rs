//! `GET discovery.{format}`: where the API is and what it speaks.

use super::{Document, Format, Node, Open311Error};
use crate::domain::format_datetime;
use crate::http::{State, base_url, current_catalogue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn show(
    state: State,
    req: HttpRequest,
    format: web::Path<String>,
) -> Result<HttpResponse, Open311Error> {
    let format = Format::from_suffix(&format)?;
    let catalogue = current_catalogue(&state)
        .await
        .map_err(|e| Open311Error::internal(format, &e))?;
    let changeset = Node::text(format_datetime(catalogue.changed_at));
    let endpoint = Node::object([
        (
            "specification",
            Node::text("http://wiki.open311.org/GeoReport_v2"),
        ),
        (
            "url",
            Node::text(format!("{}/open311/v2", base_url(&req, &state.settings))),
        ),
        ("changeset", changeset.clone()),
        ("type", Node::text("production")),
        (
            "formats",
            Node::list(
                "format",
                vec![Node::text("text/xml"), Node::text("application/json")],
            ),
        ),
    ]);
    let body = Node::object([
        ("changeset", changeset),
        ("contact", Node::text(&state.settings.contact)),
        ("key_service", Node::text(&state.settings.key_service)),
        ("endpoints", Node::list("endpoint", vec![endpoint])),
    ]);
    Ok(Document {
        root: "discovery",
        body,
    }
    .respond(format, StatusCode::OK))
}
