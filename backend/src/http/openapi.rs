//! `GET /api/v1/openapi.json`: the native API described for clients and tools.
//!
//! The document is written by hand in `data/openapi.json` (it is prose as much as
//! schema) and built into the binary; a test checks that it lists every route.

use actix_web::HttpResponse;

pub const DOCUMENT: &str = include_str!("../../../data/openapi.json");

pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT)
}
