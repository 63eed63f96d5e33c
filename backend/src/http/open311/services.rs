//! `GET services.{format}` and `GET services/{code}.{format}`: the catalogue.

use super::{Document, Format, Node, Open311Error, Params, check_jurisdiction};
use crate::catalogue::{Catalogue, Service};
use crate::domain::Coordinates;
use crate::http::{State, current_catalogue};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use std::sync::Arc;

async fn catalogue(state: &State, format: Format) -> Result<Arc<Catalogue>, Open311Error> {
    current_catalogue(state)
        .await
        .map_err(|e| Open311Error::internal(format, &e))
}

/// The language `locale` (`fr`, `fr-CA`, …) asks for; English for any other.
fn language(params: &Params) -> &'static str {
    params
        .get("locale")
        .and_then(crate::i18n::language_of)
        .unwrap_or(crate::i18n::LANGUAGES[0])
}

/// Every active service; with `lat` and `long`, only those offered at that point;
/// with `locale`, in that language where the catalogue has one.
pub async fn list(
    state: State,
    req: HttpRequest,
    format: web::Path<String>,
) -> Result<HttpResponse, Open311Error> {
    let format = Format::from_suffix(&format)?;
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    check_jurisdiction(&params, &state.settings.jurisdiction_id, format)?;
    let point = Coordinates::parse_pair(params.get("lat"), params.get("long"), "lat", "long")
        .map_err(|e| Open311Error::field(format, e))?;
    let catalogue = catalogue(&state, format).await?;
    let in_city = |p: Coordinates| match state.settings.city_bounds {
        Some([west, south, east, north]) => {
            (west..=east).contains(&p.lon) && (south..=north).contains(&p.lat)
        }
        None => true,
    };
    let lang = language(&params);
    let entries = catalogue
        .services
        .iter()
        .filter(|s| point.is_none_or(|p| in_city(p) && s.is_offered_at(p)))
        .map(|s| service_node(&s.in_language(lang)))
        .collect();
    Ok(Document {
        root: "services",
        body: Node::list("service", entries),
    }
    .respond(format, StatusCode::OK))
}

fn service_node(service: &Service) -> Node {
    Node::object([
        ("service_code", Node::text(&service.code)),
        ("service_name", Node::text(&service.name)),
        ("description", Node::text(&service.description)),
        ("metadata", Node::Bool(!service.attributes.is_empty())),
        ("type", Node::text(service.service_type.as_str())),
        ("keywords", Node::text(service.keywords.join(", "))),
        ("group", Node::text(&service.group)),
    ])
}

/// The attributes a service asks for, in the language of `locale`.
pub async fn definition(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Open311Error> {
    let (code, format) = path.into_inner();
    let format = Format::from_suffix(&format)?;
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    check_jurisdiction(&params, &state.settings.jurisdiction_id, format)?;
    let catalogue = catalogue(&state, format).await?;
    let service = catalogue
        .get(&code)
        .ok_or_else(|| {
            Open311Error::not_found(
                format,
                format!("service_code '{code}' is not a service here"),
            )
        })?
        .in_language(language(&params));
    let mut attributes: Vec<_> = service.attributes.iter().collect();
    attributes.sort_by_key(|a| a.order);
    let attributes = attributes
        .into_iter()
        .map(|a| {
            Node::object([
                ("variable", Node::Bool(a.variable)),
                ("code", Node::text(&a.code)),
                ("datatype", Node::text(a.datatype.as_str())),
                ("required", Node::Bool(a.required)),
                (
                    "datatype_description",
                    Node::opt_text(a.datatype_description.as_deref()),
                ),
                ("order", Node::Int(i64::from(a.order))),
                ("description", Node::text(&a.description)),
                (
                    "values",
                    Node::list(
                        "value",
                        a.values
                            .iter()
                            .map(|v| {
                                Node::object([
                                    ("key", Node::text(&v.key)),
                                    ("name", Node::text(&v.name)),
                                ])
                            })
                            .collect(),
                    ),
                ),
            ])
        })
        .collect();
    Ok(Document {
        root: "service_definition",
        body: Node::object([
            ("service_code", Node::text(&service.code)),
            ("attributes", Node::list("attribute", attributes)),
        ]),
    }
    .respond(format, StatusCode::OK))
}
