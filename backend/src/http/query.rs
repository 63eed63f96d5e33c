//! What every listing of the native API shares: where to look (radius, bounding box,
//! polygon, nearest k), paging, filters by time, and answering as JSON or GeoJSON.
//!
//! A listing is asked with `GET` and query parameters, or with `POST …/search` and the
//! same names in a JSON object (where a polygon can be sent as an object rather than
//! URL-encoded text).

use super::State;
use super::api::{ApiError, ErrorKind, read_body};
use super::open311::Params;
use crate::domain::{BoundingBox, Circle, Coordinates, FieldError, parse_datetime, parse_number};
use crate::search::{Area, MAX_NEAREST, Page, Region};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::borrow::Cow;

/// Parameters every listing understands.
const COMMON: [&str; 9] = [
    "lat",
    "lon",
    "radius_m",
    "nearest",
    "bbox",
    "polygon",
    "page",
    "page_size",
    "format",
];
/// Rows on a page unless the caller asks for another size.
const DEFAULT_PAGE_SIZE: i64 = 100;

/// How the caller wants the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    GeoJson,
}

/// A parsed listing request; resource filters are read from `params`.
pub struct Listing {
    pub params: Params,
    pub area: Option<Area>,
    pub page: i64,
    pub page_size: i64,
    pub format: Format,
}

impl Listing {
    /// Reads a GET request's query, or a POST search's JSON body. `filters` names the
    /// parameters the resource adds; any other name is refused, so a mistyped filter
    /// never silently widens a search.
    pub fn parse(
        req: &HttpRequest,
        body: Option<&[u8]>,
        filters: &[&str],
        max_page_size: u32,
    ) -> Result<Listing, ApiError> {
        let params = match body {
            None => Params::parse_urlencoded(req.query_string().as_bytes()),
            Some(bytes) => params_of_json(bytes)?,
        };
        let mut errors = Vec::new();
        for (name, _) in params.pairs() {
            if !COMMON.contains(&name.as_str()) && !filters.contains(&name.as_str()) {
                let mut known: Vec<&str> = COMMON.iter().chain(filters).copied().collect();
                known.sort_unstable();
                errors.push(FieldError::new(
                    name,
                    format!("is not a parameter here; known: {}", known.join(", ")),
                ));
            }
        }
        let area = match parse_area(&params) {
            Ok(area) => area,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let page_size = params
            .integer("page_size", 1, i64::from(max_page_size), DEFAULT_PAGE_SIZE)
            .map_err(|e| errors.push(e))
            .unwrap_or(DEFAULT_PAGE_SIZE);
        let page = params
            .integer("page", 1, 1_000_000, 1)
            .map_err(|e| errors.push(e))
            .unwrap_or(1);
        let format = match params.get("format") {
            None if accepts_geojson(req) => Format::GeoJson,
            None | Some("json") => Format::Json,
            Some("geojson") => Format::GeoJson,
            Some(other) => {
                errors.push(FieldError::new(
                    "format",
                    format!("'{other}' is not json or geojson"),
                ));
                Format::Json
            }
        };
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        Ok(Listing {
            params,
            area,
            page,
            page_size,
            format,
        })
    }

    /// The listing a request asks for: a POST (`…/search`) carries the parameters in its
    /// JSON body, a GET in its query string.
    pub async fn read(
        state: &State,
        req: &HttpRequest,
        payload: web::Payload,
        filters: &[&str],
    ) -> Result<Listing, ApiError> {
        let max_page_size = state.settings.max_page_size;
        if req.method() == actix_web::http::Method::POST {
            let body = read_body(payload, state.settings.body_limit_bytes).await?;
            Listing::parse(req, Some(&body), filters, max_page_size)
        } else {
            Listing::parse(req, None, filters, max_page_size)
        }
    }

    /// (limit, offset) of the requested page; a nearest-k search is one page of k.
    pub fn window(&self) -> (usize, usize) {
        match &self.area {
            Some(Area::Nearest { k, .. }) => (*k, 0),
            _ => {
                let size = usize::try_from(self.page_size).unwrap_or(0);
                (size, size * usize::try_from(self.page - 1).unwrap_or(0))
            }
        }
    }

    /// A comma-separated list filter.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        self.params
            .list(name)
            .map(|items| items.into_iter().map(str::to_owned).collect())
    }

    /// A comma-separated list filter of words each parsed at the edge into `T` (a
    /// status, a kind); a word that does not parse is a 400 naming the parameter.
    pub fn words<T>(&self, name: &str) -> Result<Option<Vec<T>>, ApiError>
    where
        T: std::str::FromStr<Err = String>,
    {
        self.params
            .list(name)
            .map(|words| words.into_iter().map(str::parse).collect())
            .transpose()
            .map_err(|why: String| invalid(vec![FieldError::new(name, why)]))
    }

    /// A time filter (ISO 8601).
    pub fn time(&self, name: &str) -> Result<Option<NaiveDateTime>, ApiError> {
        self.params
            .get(name)
            .map(|raw| parse_datetime(raw, name))
            .transpose()
            .map_err(|e| invalid(vec![e]))
    }

    /// The page as a JSON or GeoJSON response. `write` writes one row, given its
    /// distance from the area's centre (metres, if the area has one), usually as
    /// `describe(row, distance).write(format, out)`.
    pub fn respond<T>(
        &self,
        req: &HttpRequest,
        page: Page<T>,
        write: impl Fn(&T, Option<f64>, Format, &mut Vec<u8>),
    ) -> HttpResponse {
        let (limit, offset) = self.window();
        let shown = page.items.len();
        let mut response = HttpResponse::Ok();
        response.insert_header(("X-Total-Count", page.total.to_string()));
        let more = offset + shown < page.total && !matches!(self.area, Some(Area::Nearest { .. }));
        if more {
            response.insert_header(("Link", next_link(req, self.page + 1)));
        }
        // Written straight out, row by row: a 10,000-segment map layer would otherwise
        // be built twice as a tree of JSON values.
        let mut out = Vec::with_capacity(256 * shown + 128);
        match self.format {
            Format::Json => out.extend_from_slice(
                format!(
                    "{{\"total\":{},\"page\":{},\"page_size\":{limit},\"items\":[",
                    page.total, self.page
                )
                .as_bytes(),
            ),
            Format::GeoJson => {
                out.extend_from_slice(b"{\"type\":\"FeatureCollection\",\"features\":[")
            }
        }
        for (i, (row, distance_m)) in page.items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write(
                row,
                distance_m.map(|d| (d * 10.0).round() / 10.0),
                self.format,
                &mut out,
            );
        }
        out.extend_from_slice(b"]}");
        let content_type = match self.format {
            Format::Json => "application/json",
            Format::GeoJson => "application/geo+json",
        };
        response.content_type(content_type).body(out)
    }
}

/// One row as the API shows it: its id, its properties (a struct that serialises to a
/// JSON object) and its geometry as GeoJSON text.
pub struct Described<'a, V> {
    pub id: i64,
    pub properties: V,
    pub geometry: Cow<'a, str>,
}

impl<V: Serialize> Described<'_, V> {
    pub fn write(&self, format: Format, out: &mut Vec<u8>) {
        match format {
            Format::Json => self.write_json(out),
            Format::GeoJson => self.write_feature(out),
        }
    }

    /// The properties with the geometry added as a member.
    fn write_json(&self, out: &mut Vec<u8>) {
        let start = out.len();
        if serde_json::to_writer(&mut *out, &self.properties).is_err() || out.last() != Some(&b'}')
        {
            out.truncate(start);
            out.extend_from_slice(b"{}");
        }
        out.pop();
        if out.len() > start + 1 {
            out.push(b',');
        }
        out.extend_from_slice(b"\"geometry\":");
        out.extend_from_slice(self.geometry.as_bytes());
        out.push(b'}');
    }

    /// A GeoJSON Feature (RFC 7946 §3.2).
    fn write_feature(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(
            format!("{{\"type\":\"Feature\",\"id\":{},\"geometry\":", self.id).as_bytes(),
        );
        out.extend_from_slice(self.geometry.as_bytes());
        out.extend_from_slice(b",\"properties\":");
        if serde_json::to_writer(&mut *out, &self.properties).is_err() {
            out.extend_from_slice(b"{}");
        }
        out.push(b'}');
    }
}

/// One item as JSON (its properties and geometry) or as a GeoJSON Feature.
pub fn one<V: Serialize>(
    req: &HttpRequest,
    item: Described<'_, V>,
) -> Result<HttpResponse, ApiError> {
    let mut out = Vec::new();
    Ok(if wants_geojson(req)? {
        item.write_feature(&mut out);
        HttpResponse::Ok()
            .content_type("application/geo+json")
            .body(out)
    } else {
        item.write_json(&mut out);
        HttpResponse::Ok()
            .content_type("application/json")
            .body(out)
    })
}

/// A GeoJSON Point, longitude first, as text.
pub fn point(position: Coordinates) -> String {
    format!(
        "{{\"type\":\"Point\",\"coordinates\":[{},{}]}}",
        position.lon, position.lat
    )
}

fn accepts_geojson(req: &HttpRequest) -> bool {
    req.headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/geo+json"))
}

/// Whether a request for one item wants GeoJSON (`?format=geojson` or the Accept
/// header); a `format` that is neither json nor geojson is refused.
pub fn wants_geojson(req: &HttpRequest) -> Result<bool, ApiError> {
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    match params.get("format") {
        Some("geojson") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(invalid(vec![FieldError::new(
            "format",
            format!("'{other}' is not json or geojson"),
        )])),
        None => Ok(accepts_geojson(req)),
    }
}

/// A GeoJSON Feature (RFC 7946 §3.2).
pub fn feature(id: i64, properties: Map<String, Value>, geometry: Value) -> Value {
    json!({"type": "Feature", "id": id, "geometry": geometry, "properties": properties})
}

/// A GeoJSON FeatureCollection (RFC 7946 §3.3).
pub fn feature_collection(features: Vec<Value>) -> Value {
    json!({"type": "FeatureCollection", "features": features})
}

/// The id in an item's path, or 404 naming the kind of item (`what`) and the id.
pub fn item_id(raw: &str, what: &str) -> Result<i64, ApiError> {
    raw.trim().parse().map_err(|_| not_found(what, raw))
}

/// 404: there is no such `what` with this id.
pub fn not_found(what: &str, id: &str) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorKind::NotFound,
        format!("no {what} '{id}'"),
    )
}

/// A request's query, refusing any parameter not in `known` (a mistyped one would
/// otherwise be silently ignored).
pub fn only_parameters(req: &HttpRequest, known: &[&str]) -> Result<Params, ApiError> {
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    if let Some((name, _)) = params
        .pairs()
        .iter()
        .find(|(n, _)| !known.contains(&n.as_str()))
    {
        return Err(invalid(vec![FieldError::new(
            name,
            format!("is not a parameter here; known: {}", known.join(", ")),
        )]));
    }
    Ok(params)
}

/// 400 with every problem found, each saying which parameter and why.
pub fn invalid(errors: Vec<FieldError>) -> ApiError {
    let message = errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorKind::InvalidParameter,
        message,
    )
}

/// The same request's URL on another page.
fn next_link(req: &HttpRequest, page: i64) -> String {
    let mut pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(req.query_string().as_bytes())
            .into_owned()
            .filter(|(k, _)| k != "page")
            .collect();
    pairs.push(("page".into(), page.to_string()));
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    format!("<{}?{query}>; rel=\"next\"", req.path())
}

/// A search body: a JSON object whose values are strings, numbers, or (for `polygon`
/// and `bbox`) a GeoJSON object or an array.
fn params_of_json(bytes: &[u8]) -> Result<Params, ApiError> {
    let bad =
        |message: String| ApiError::new(StatusCode::BAD_REQUEST, ErrorKind::InvalidBody, message);
    // No body is a search with no filters, as a GET with no query string is.
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Params::parse_urlencoded(b""));
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("the body is not JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(bad(
            "the body must be a JSON object of search parameters".into()
        ));
    };
    let mut pairs = Vec::with_capacity(object.len());
    for (name, value) in object {
        let text = match value {
            // The document gives no field a null; leaving one out is how to not filter.
            Value::Null => {
                return Err(bad(format!(
                    "'{name}' is null: leave it out to search without it"
                )));
            }
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Array(items) if name != "polygon" => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        pairs.push((name, text));
    }
    Ok(Params::from_pairs(pairs))
}

/// The one area the parameters describe, if any.
fn parse_area(params: &Params) -> Result<Option<Area>, FieldError> {
    let centre = Coordinates::parse_pair(params.get("lat"), params.get("lon"), "lat", "lon")?;
    let radius = params.get("radius_m");
    let nearest = params.get("nearest");
    let bbox = params.get("bbox");
    let polygon = params.get("polygon");
    let given: Vec<&str> = [
        ("radius_m", radius.is_some()),
        ("nearest", nearest.is_some()),
        ("bbox", bbox.is_some()),
        ("polygon", polygon.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, present)| present.then_some(name))
    .collect();
    if given.len() > 1 {
        return Err(FieldError::new(
            given[1],
            format!("give one area at a time, not {}", given.join(" and ")),
        ));
    }
    if centre.is_some() && radius.is_none() && nearest.is_none() {
        return Err(FieldError::new(
            "radius_m",
            "lat and lon need radius_m (metres) or nearest (a count)",
        ));
    }
    if centre.is_none() && (radius.is_some() || nearest.is_some()) {
        let name = if radius.is_some() {
            "radius_m"
        } else {
            "nearest"
        };
        return Err(FieldError::new(
            "lat",
            format!("lat and lon are required with {name}"),
        ));
    }
    if let (Some(centre), Some(raw)) = (centre, radius) {
        let radius_m = parse_number(raw, "radius_m")?;
        if !(radius_m > 0.0 && radius_m <= Circle::MAX_RADIUS_M) {
            return Err(FieldError::new(
                "radius_m",
                format!(
                    "must be more than 0 and at most {} metres",
                    Circle::MAX_RADIUS_M
                ),
            ));
        }
        return Ok(Some(Area::Circle(Circle { centre, radius_m })));
    }
    if let (Some(centre), Some(_)) = (centre, nearest) {
        let k = params.integer("nearest", 1, MAX_NEAREST as i64, 1)?;
        return Ok(Some(Area::Nearest {
            centre,
            k: usize::try_from(k).unwrap_or(1),
        }));
    }
    if let Some(raw) = bbox {
        return parse_bbox(raw).map(|b| Some(Area::Bbox(b)));
    }
    if let Some(raw) = polygon {
        return Region::parse(raw, "polygon").map(|r| Some(Area::Polygon(r)));
    }
    Ok(None)
}

/// `west,south,east,north` in degrees (the order of a GeoJSON bbox).
pub fn parse_bbox(raw: &str) -> Result<BoundingBox, FieldError> {
    let numbers: Vec<&str> = raw.split(',').map(str::trim).collect();
    if numbers.len() != 4 {
        return Err(FieldError::new(
            "bbox",
            format!("'{raw}' is not four numbers west,south,east,north"),
        ));
    }
    let values = numbers
        .iter()
        .map(|n| parse_number(n, "bbox"))
        .collect::<Result<Vec<f64>, _>>()?;
    let south_west = Coordinates::new(values[0], values[1], "bbox", "bbox")?;
    let north_east = Coordinates::new(values[2], values[3], "bbox", "bbox")?;
    if south_west.lon > north_east.lon || south_west.lat > north_east.lat {
        return Err(FieldError::new(
            "bbox",
            "west must not be east of east, nor south north of north (boxes across the antimeridian are not supported)",
        ));
    }
    Ok(BoundingBox {
        south_west,
        north_east,
    })
}

/// Generated areas for the polygon, box and circle readers (`fuzz_` tests; set
/// PROPTEST_CASES for a long run): an area or a named refusal, never a panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            "-?[0-9]{1,3}(\\.[0-9]{1,8})?",
            Just("NaN".to_owned()),
            Just("inf".to_owned()),
            Just("-1e308".to_owned()),
            ".{0,8}",
        ]
    }

    /// A polygon as WKT-ish text, a GeoJSON object, or a list of numbers, valid or not.
    fn polygon() -> impl Strategy<Value = String> {
        let ring = || proptest::collection::vec((number(), number()), 0..8);
        prop_oneof![
            ring().prop_map(|points| points
                .iter()
                .map(|(x, y)| format!("{x} {y}"))
                .collect::<Vec<_>>()
                .join(",")),
            ring().prop_map(|points| format!(
                "{{\"type\":\"Polygon\",\"coordinates\":[[{}]]}}",
                points
                    .iter()
                    .map(|(x, y)| format!("[{x},{y}]"))
                    .collect::<Vec<_>>()
                    .join(",")
            )),
            ".{0,60}",
        ]
    }

    proptest! {
        #[test]
        fn fuzz_areas_are_read_without_panicking(
            polygon in proptest::option::of(polygon()),
            bbox in proptest::option::of(proptest::collection::vec(number(), 0..6).prop_map(|v| v.join(","))),
            lat in proptest::option::of(number()),
            lon in proptest::option::of(number()),
            radius in proptest::option::of(number()),
            nearest in proptest::option::of(number()),
        ) {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (name, value) in [
                ("polygon", &polygon),
                ("bbox", &bbox),
                ("lat", &lat),
                ("lon", &lon),
                ("radius_m", &radius),
                ("nearest", &nearest),
            ] {
                if let Some(value) = value {
                    query.append_pair(name, value);
                }
            }
            let params = Params::parse_urlencoded(query.finish().as_bytes());
            let _ = parse_area(&params);
            if let Some(raw) = &bbox {
                let _ = parse_bbox(raw);
            }
        }

        #[test]
        fn fuzz_search_bodies_are_read_without_panicking(
            body in prop_oneof![
                polygon().prop_map(|p| format!("{{\"polygon\":{p}}}")),
                ".{0,80}",
            ]
        ) {
            if let Ok(params) = params_of_json(body.as_bytes()) {
                let _ = parse_area(&params);
            }
        }
    }
}
