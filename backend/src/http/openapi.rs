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

/// The document, parsed once.
pub fn parsed() -> &'static serde_json::Value {
    static PARSED: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| serde_json::from_str(DOCUMENT).unwrap_or_default())
}

/// The methods served at a route pattern, for `Allow`: the document's for the native
/// API; Open311's own (GET, and POST for new requests); GET for pages and the rest.
pub fn methods_at(pattern: &str) -> Vec<String> {
    if let Some(operations) = parsed()["paths"][pattern].as_object() {
        let mut methods: Vec<String> = operations.keys().map(|m| m.to_uppercase()).collect();
        methods.sort();
        return methods;
    }
    if pattern == "/open311/v2/requests.{format}" {
        return vec!["GET".into(), "POST".into()];
    }
    vec!["GET".into()]
}
