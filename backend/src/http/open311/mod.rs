//! Open311 GeoReport v2 at `/open311/v2/`, in JSON and XML.
//!
//! Every answer is built once as a [`Node`] tree and rendered in the format the URL's
//! suffix asks for, so the two formats cannot drift apart: XML keeps the containers
//! (`service_requests/request`), JSON turns every container into a bare array.

pub mod discovery;
pub mod requests;
pub mod services;
pub mod tokens;
pub mod updates;

use crate::db::DbError;
use crate::domain::FieldError;
use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use serde::ser::{SerializeMap, SerializeSeq};
use std::fmt;

/// The response format, from the URL suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// Parses `json` or `xml`; anything else is a resource that does not exist.
    pub fn from_suffix(suffix: &str) -> Result<Format, Open311Error> {
        match suffix {
            "json" => Ok(Format::Json),
            "xml" => Ok(Format::Xml),
            other => Err(Open311Error::new(
                Format::Json,
                StatusCode::NOT_FOUND,
                format!("unknown format '.{other}': use .json or .xml"),
            )),
        }
    }
}

/// A value in an Open311 answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// JSON `null`, an empty XML element.
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    /// Named children, in order.
    Object(Vec<(String, Node)>),
    /// A container: a JSON array; in XML, one element named `item` per entry.
    List {
        item: &'static str,
        entries: Vec<Node>,
    },
}

impl Node {
    pub fn text(value: impl Into<String>) -> Node {
        Node::Text(value.into())
    }

    pub fn opt_text(value: Option<impl Into<String>>) -> Node {
        value.map_or(Node::Null, |v| Node::Text(v.into()))
    }

    pub fn object<const N: usize>(fields: [(&str, Node); N]) -> Node {
        Node::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
    }

    pub fn list(item: &'static str, entries: Vec<Node>) -> Node {
        Node::List { item, entries }
    }
}

impl serde::Serialize for Node {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_none(),
            Node::Bool(b) => serializer.serialize_bool(*b),
            Node::Int(i) => serializer.serialize_i64(*i),
            Node::Float(f) => serializer.serialize_f64(*f),
            Node::Text(t) => serializer.serialize_str(t),
            Node::Object(fields) => {
                let mut map = serializer.serialize_map(Some(fields.len()))?;
                for (key, value) in fields {
                    map.serialize_entry(key, value)?;
                }
                map.end()
            }
            Node::List { entries, .. } => {
                let mut seq = serializer.serialize_seq(Some(entries.len()))?;
                for entry in entries {
                    seq.serialize_element(entry)?;
                }
                seq.end()
            }
        }
    }
}

/// A whole answer: the XML root element's name and the content.
#[derive(Debug, Clone)]
pub struct Document {
    pub root: &'static str,
    pub body: Node,
}

impl Document {
    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => serde_json::to_string(&self.body).expect("a Node always serialises"),
            Format::Xml => {
                let mut out = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
                write_xml(&mut out, self.root, &self.body);
                out
            }
        }
    }

    pub fn respond(&self, format: Format, status: StatusCode) -> HttpResponse {
        let content_type = match format {
            Format::Json => ContentType(mime_json()),
            Format::Xml => ContentType(mime_xml()),
        };
        HttpResponse::build(status)
            .insert_header(content_type)
            .body(self.render(format))
    }
}

fn mime_json() -> actix_web::mime::Mime {
    "application/json; charset=utf-8"
        .parse()
        .expect("valid mime")
}

fn mime_xml() -> actix_web::mime::Mime {
    "text/xml; charset=utf-8".parse().expect("valid mime")
}

/// Whether XML 1.0 allows a character in text: no C0 control but tab, line feed and
/// carriage return, and neither U+FFFE nor U+FFFF.
fn xml_allows(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// Text as XML may carry it: a character XML forbids, whatever is already stored,
/// becomes U+FFFD, so every client can still parse the answer.
fn xml_chars(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(xml_allows) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(
            text.chars()
                .map(|c| if xml_allows(c) { c } else { '\u{fffd}' })
                .collect(),
        )
    }
}

fn write_xml(out: &mut String, name: &str, node: &Node) {
    match node {
        Node::Null => {
            out.push('<');
            out.push_str(name);
            out.push_str("/>");
            return;
        }
        _ => {
            out.push('<');
            out.push_str(name);
            out.push('>');
        }
    }
    match node {
        Node::Null => {}
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Int(i) => out.push_str(&i.to_string()),
        Node::Float(f) => out.push_str(&f.to_string()),
        Node::Text(t) => out.push_str(&quick_xml::escape::escape(xml_chars(t))),
        Node::Object(fields) => {
            for (key, value) in fields {
                write_xml(out, key, value);
            }
        }
        Node::List { item, entries } => {
            for entry in entries {
                write_xml(out, item, entry);
            }
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// An Open311 error answer: `[{"code": 400, "description": "…"}]`, one entry per problem.
#[derive(Debug)]
pub struct Open311Error {
    pub format: Format,
    pub status: StatusCode,
    pub descriptions: Vec<String>,
}

impl Open311Error {
    pub fn new(format: Format, status: StatusCode, description: impl Into<String>) -> Self {
        Open311Error {
            format,
            status,
            descriptions: vec![description.into()],
        }
    }

    pub fn bad_request(format: Format, description: impl Into<String>) -> Self {
        Open311Error::new(format, StatusCode::BAD_REQUEST, description)
    }

    pub fn not_found(format: Format, description: impl Into<String>) -> Self {
        Open311Error::new(format, StatusCode::NOT_FOUND, description)
    }

    /// 400 listing every field problem, each naming its field.
    pub fn fields(format: Format, errors: Vec<FieldError>) -> Self {
        Open311Error {
            format,
            status: StatusCode::BAD_REQUEST,
            descriptions: errors.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    pub fn field(format: Format, error: FieldError) -> Self {
        Open311Error::fields(format, vec![error])
    }

    /// A failure of ours, not the client's: logged in full, told briefly.
    pub fn internal(format: Format, error: &crate::http::ServerError) -> Self {
        let (status, description) = error.public_view();
        Open311Error::new(format, status, description)
    }

    pub fn from_db(format: Format, error: DbError) -> Self {
        Open311Error::internal(format, &crate::http::ServerError::Db(error))
    }

    fn document(&self) -> Document {
        let code = i64::from(self.status.as_u16());
        Document {
            root: "errors",
            body: Node::list(
                "error",
                self.descriptions
                    .iter()
                    .map(|d| {
                        Node::object([("code", Node::Int(code)), ("description", Node::text(d))])
                    })
                    .collect(),
            ),
        }
    }
}

impl fmt::Display for Open311Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.descriptions.join("; "))
    }
}

impl ResponseError for Open311Error {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        self.document().respond(self.format, self.status)
    }
}

/// Request parameters (query string or form body), where an empty value counts as absent:
/// clients in the field send `jurisdiction_id=` and mean "none".
#[derive(Debug, Clone, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse_urlencoded(text: &[u8]) -> Params {
        Params {
            pairs: url::form_urlencoded::parse(text).into_owned().collect(),
        }
    }

    pub fn from_pairs(pairs: Vec<(String, String)>) -> Params {
        Params { pairs }
    }

    /// Adds the pairs of `other` after these; the first value of a name wins in `get`.
    pub fn extend(&mut self, other: Params) {
        self.pairs.extend(other.pairs);
    }

    /// The first non-empty value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.as_str())
            .next()
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// A comma-separated list, trimmed, empty items dropped; None when absent.
    pub fn list(&self, name: &str) -> Option<Vec<&str>> {
        self.get(name).map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect()
        })
    }

    /// A whole number between `min` and `max`, or `default` when absent.
    pub fn integer(&self, name: &str, min: i64, max: i64, default: i64) -> Result<i64, FieldError> {
        match self.get(name) {
            None => Ok(default),
            Some(raw) => match raw.trim().parse::<i64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ => Err(FieldError::new(
                    name,
                    format!("'{raw}' is not a whole number from {min} to {max}"),
                )),
            },
        }
    }

    /// `true` or `false` (also 1/0, yes/no), or `default` when absent.
    pub fn boolean(&self, name: &str, default: bool) -> Result<bool, FieldError> {
        match self.get(name).map(|v| v.trim().to_ascii_lowercase()) {
            None => Ok(default),
            Some(v) if matches!(v.as_str(), "true" | "1" | "yes") => Ok(true),
            Some(v) if matches!(v.as_str(), "false" | "0" | "no") => Ok(false),
            Some(v) => Err(FieldError::new(name, format!("'{v}' is not true or false"))),
        }
    }
}

/// Checks the optional `jurisdiction_id` against the one this server serves.
pub fn check_jurisdiction(
    params: &Params,
    served: &str,
    format: Format,
) -> Result<(), Open311Error> {
    match params.get("jurisdiction_id") {
        Some(id) if id.trim() != served => Err(Open311Error::not_found(
            format,
            format!("jurisdiction_id '{id}' is not served here; this server serves '{served}'"),
        )),
        _ => Ok(()),
    }
}

/// `page` and `page_size` as an SQL limit and offset; a page past the end is empty.
pub fn paging(params: &Params, max_page_size: u32) -> Result<(i64, i64), FieldError> {
    let max = i64::from(max_page_size);
    let page_size = params.integer("page_size", 1, max, max)?;
    let page = params.integer("page", 1, 1_000_000, 1)?;
    Ok((page_size, (page - 1) * page_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        Document {
            root: "service_requests",
            body: Node::list(
                "request",
                vec![Node::object([
                    ("service_request_id", Node::text("7")),
                    ("description", Node::text("<b>deep</b> & wide")),
                    ("media_url", Node::Null),
                    ("lat", Node::Float(43.05)),
                ])],
            ),
        }
    }

    #[test]
    fn json_lists_are_bare_arrays_with_keys_in_order() {
        assert_eq!(
            sample().render(Format::Json),
            r#"[{"service_request_id":"7","description":"<b>deep</b> & wide","media_url":null,"lat":43.05}]"#
        );
    }

    #[test]
    fn xml_keeps_the_containers_and_escapes_text() {
        assert_eq!(
            sample().render(Format::Xml),
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<service_requests><request>\
             <service_request_id>7</service_request_id>\
             <description>&lt;b&gt;deep&lt;/b&gt; &amp; wide</description>\
             <media_url/><lat>43.05</lat></request></service_requests>"
        );
    }

    #[test]
    fn xml_never_carries_a_character_xml_forbids_whatever_is_stored() {
        let stored = Document {
            root: "service_requests",
            body: Node::list(
                "request",
                vec![Node::object([(
                    "description",
                    Node::text("NUL\u{0} ESC\u{1b} tab\t \u{fffe} ok"),
                )])],
            ),
        };
        let xml = stored.render(Format::Xml);
        assert!(
            xml.contains("<description>NUL\u{fffd} ESC\u{fffd} tab\t \u{fffd} ok</description>"),
            "{xml}"
        );
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("not well-formed: {e}"),
            }
        }
    }

    #[test]
    fn empty_parameters_count_as_absent() {
        let params = Params::parse_urlencoded(b"jurisdiction_id=&status=open,%20closed,");
        assert_eq!(params.get("jurisdiction_id"), None);
        assert_eq!(params.list("status"), Some(vec!["open", "closed"]));
    }

    #[test]
    fn paging_turns_pages_into_offsets_and_rejects_nonsense() {
        let params = Params::parse_urlencoded(b"page=3&page_size=20");
        assert_eq!(paging(&params, 1000), Ok((20, 40)));
        let params = Params::parse_urlencoded(b"page=0");
        assert_eq!(paging(&params, 1000).unwrap_err().field, "page");
        let params = Params::parse_urlencoded(b"page_size=5000");
        assert_eq!(paging(&params, 1000).unwrap_err().field, "page_size");
    }
}
