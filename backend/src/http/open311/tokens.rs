//! `GET tokens/{token}.{format}`: the id a batch request got, once it is accepted.

use super::{Document, Format, Node, Open311Error, Params, check_jurisdiction};
use crate::http::{State, blocking};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};

pub async fn show(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Open311Error> {
    let (token, format) = path.into_inner();
    let format = Format::from_suffix(&format)?;
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    check_jurisdiction(&params, &state.settings.jurisdiction_id, format)?;
    let worker = state.clone();
    let wanted = token.clone();
    let row = blocking(move || {
        worker
            .db
            .read(|conn| crate::db::requests::find_by_token(conn, &wanted))
    })
    .await
    .map_err(|e| Open311Error::internal(format, &e))?
    .ok_or_else(|| Open311Error::not_found(format, format!("token '{token}' does not exist")))?;
    let id = row
        .accepted_at
        .map_or(Node::Null, |_| Node::text(row.id.to_string()));
    Ok(Document {
        root: "service_requests",
        body: Node::list(
            "request",
            vec![Node::object([
                ("service_request_id", id),
                ("token", Node::text(token)),
            ])],
        ),
    }
    .respond(format, StatusCode::OK))
}
