//! `requests.{format}` (GET: search, POST: submit) and `requests/{id}.{format}`.

use super::{Document, Format, Node, Open311Error, Params, check_jurisdiction, paging};
use crate::catalogue::{AttributeAnswer, Catalogue};
use crate::db::requests::{RequestFilter, RequestRow, UpdateRow};
use crate::domain::{
    BoundingBox, Circle, Coordinates, FieldError, Open311Status, RequestStatus, format_datetime,
    now, parse_datetime, parse_number,
};
use crate::http::{ServerError, State, absolute, base_url, blocking, current_catalogue};
use crate::intake::{self, IntakeContext, IntakeError, Submitted, Upload};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{Duration, NaiveDateTime};
use futures_util::StreamExt;
use std::collections::HashMap;

/// The widest `start_date`..`end_date` window a client may ask for, and the default.
const MAX_WINDOW_DAYS: i64 = 90;

/// `GET requests.{format}`: reports matching the filters, newest first.
pub async fn list(
    state: State,
    req: HttpRequest,
    format: web::Path<String>,
) -> Result<HttpResponse, Open311Error> {
    let format = Format::from_suffix(&format)?;
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    check_jurisdiction(&params, &state.settings.jurisdiction_id, format)?;
    let extensions = params
        .boolean("extensions", false)
        .map_err(|e| Open311Error::field(format, e))?;
    let filter = parse_filter(&params).map_err(|e| Open311Error::fields(format, e))?;
    let (limit, offset) = paging(&params, state.settings.max_page_size)
        .map_err(|e| Open311Error::field(format, e))?;
    let answer = state.clone();
    let (rows, notes, catalogue) = blocking(move || {
        // A listing may lag a moment behind the primary: from the replica, if any.
        let rows = answer
            .db
            .read_replica(|conn| crate::db::requests::list(conn, &filter, limit, offset))?;
        let notes = load_notes(&answer, &rows, extensions, true)?;
        Ok::<_, ServerError>((rows, notes, answer.catalogue.get()?))
    })
    .await
    .map_err(|e| Open311Error::internal(format, &e))?;
    let base = base_url(&req, &state.settings);
    Ok(requests_document(&rows, &catalogue, notes.as_ref(), &base).respond(format, StatusCode::OK))
}

/// `GET requests/{id}.{format}`: one report, as a list of one.
pub async fn show(
    state: State,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, Open311Error> {
    let (id, format) = path.into_inner();
    let format = Format::from_suffix(&format)?;
    let params = Params::parse_urlencoded(req.query_string().as_bytes());
    check_jurisdiction(&params, &state.settings.jurisdiction_id, format)?;
    let extensions = params
        .boolean("extensions", false)
        .map_err(|e| Open311Error::field(format, e))?;
    let missing =
        || Open311Error::not_found(format, format!("service request '{id}' does not exist"));
    let numeric_id: i64 = id.trim().parse().map_err(|_| missing())?;
    let answer = state.clone();
    let (row, notes, catalogue) = blocking(move || {
        // A reporter reads their own report at once, even before the replica has it.
        let (row, may_lag) = answer
            .db
            .find_fresh(|conn| crate::db::requests::find(conn, numeric_id))?;
        let notes = load_notes(&answer, row.as_slice(), extensions, may_lag)?;
        Ok::<_, ServerError>((row, notes, answer.catalogue.get()?))
    })
    .await
    .map_err(|e| Open311Error::internal(format, &e))?;
    let row = row.ok_or_else(missing)?;
    Ok(requests_document(
        std::slice::from_ref(&row),
        &catalogue,
        notes.as_ref(),
        &base_url(&req, &state.settings),
    )
    .respond(format, StatusCode::OK))
}

/// What `extensions=true` adds: each report's history, and each issue's first report
/// (a report that is not its issue's first is a duplicate of it).
#[derive(Default)]
struct Notes {
    history: HashMap<i64, Vec<UpdateRow>>,
    first_of_issue: HashMap<i64, i64>,
}

fn load_notes(
    state: &crate::http::AppState,
    rows: &[RequestRow],
    extensions: bool,
    may_lag: bool,
) -> Result<Option<Notes>, ServerError> {
    if !extensions || rows.is_empty() {
        return Ok(extensions.then(Notes::default));
    }
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut notes = Notes::default();
    for update in state
        .db
        .read_lagging(may_lag, |conn| crate::db::requests::updates_for(conn, &ids))?
    {
        notes
            .history
            .entry(update.request_id)
            .or_default()
            .push(update);
    }
    let mut issues: Vec<i64> = rows.iter().filter_map(|r| r.issue_id).collect();
    issues.sort_unstable();
    issues.dedup();
    notes.first_of_issue = state.db.read_lagging(may_lag, |conn| {
        crate::db::issues::first_reports(conn, &issues)
    })?;
    Ok(Some(notes))
}

/// Reads the search filters; every problem is reported, each naming its parameter.
fn parse_filter(params: &Params) -> Result<RequestFilter, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut filter = RequestFilter::default();
    if let Some(ids) = params.list("service_request_id") {
        // Ids are strings to clients; one that is not ours simply matches nothing.
        filter.ids = Some(ids.iter().filter_map(|id| id.parse().ok()).collect());
        return Ok(filter);
    }
    if let Some(codes) = params.list("service_code") {
        filter.service_codes = Some(codes.into_iter().map(str::to_owned).collect());
    }
    if let Some(words) = params.list("status") {
        let mut statuses = Vec::new();
        for word in words {
            match Open311Status::parse(word, "status") {
                Ok(status) => statuses.extend(RequestStatus::all_with(status)),
                Err(e) => errors.push(e),
            }
        }
        filter.statuses = Some(statuses);
    }
    let mut time = |name: &str| {
        params
            .get(name)
            .and_then(|raw| parse_datetime(raw, name).map_err(|e| errors.push(e)).ok())
    };
    let start = time("start_date");
    let end = time("end_date");
    filter.updated_from = time("updated_after");
    filter.updated_to = time("updated_before");
    let window = Duration::days(MAX_WINDOW_DAYS);
    match (start, end) {
        (Some(start), Some(end)) if start > end => {
            errors.push(FieldError::new("start_date", "must not be after end_date"))
        }
        (Some(start), Some(end)) if end - start > window => errors.push(FieldError::new(
            "end_date",
            format!("start_date to end_date may span at most {MAX_WINDOW_DAYS} days"),
        )),
        (Some(start), Some(end)) => {
            filter.requested_from = Some(start);
            filter.requested_to = Some(end);
        }
        (Some(start), None) => {
            filter.requested_from = Some(start);
            filter.requested_to = Some(start + window);
        }
        (None, Some(end)) => {
            filter.requested_from = Some(end - window);
            filter.requested_to = Some(end);
        }
        // A change feed (updated_after/before) reaches back as far as it likes; a plain
        // list shows the last 90 days.
        (None, None) if filter.updated_from.is_none() && filter.updated_to.is_none() => {
            filter.requested_from = Some(now() - window);
        }
        (None, None) => {}
    }
    match parse_bbox(params) {
        Ok(bbox) => filter.bbox = bbox,
        Err(e) => errors.push(e),
    }
    match parse_circle(params) {
        Ok(circle) => filter.circle = circle,
        Err(e) => errors.push(e),
    }
    if errors.is_empty() {
        Ok(filter)
    } else {
        Err(errors)
    }
}

fn parse_bbox(params: &Params) -> Result<Option<BoundingBox>, FieldError> {
    let names = ["lat_ne", "long_ne", "lat_sw", "long_sw"];
    let given: Vec<_> = names.iter().map(|n| params.get(n)).collect();
    if given.iter().all(Option::is_none) {
        return Ok(None);
    }
    if let Some(missing) = names.iter().zip(&given).find(|(_, v)| v.is_none()) {
        return Err(FieldError::new(
            *missing.0,
            "is required with the other bounding-box corners (lat_ne, long_ne, lat_sw, long_sw)",
        ));
    }
    let ne = Coordinates::parse_pair(given[0], given[1], "lat_ne", "long_ne")?;
    let sw = Coordinates::parse_pair(given[2], given[3], "lat_sw", "long_sw")?;
    let (Some(north_east), Some(south_west)) = (ne, sw) else {
        unreachable!("all four corners were given");
    };
    if south_west.lat > north_east.lat || south_west.lon > north_east.lon {
        return Err(FieldError::new(
            "lat_sw",
            "the south-west corner must lie south and west of the north-east corner",
        ));
    }
    Ok(Some(BoundingBox {
        south_west,
        north_east,
    }))
}

fn parse_circle(params: &Params) -> Result<Option<Circle>, FieldError> {
    let radius = params.get("radius");
    let centre = Coordinates::parse_pair(params.get("lat"), params.get("long"), "lat", "long")?;
    match (centre, radius) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(FieldError::new(
            "radius",
            "is required with lat and long (metres)",
        )),
        (None, Some(_)) => Err(FieldError::new(
            "lat",
            "lat and long are required with radius",
        )),
        (Some(centre), Some(raw)) => {
            let radius_m = parse_number(raw, "radius")?;
            if !(radius_m > 0.0 && radius_m <= Circle::MAX_RADIUS_M) {
                return Err(FieldError::new(
                    "radius",
                    format!(
                        "must be more than 0 and at most {} metres",
                        Circle::MAX_RADIUS_M
                    ),
                ));
            }
            Ok(Some(Circle { centre, radius_m }))
        }
    }
}

/// The Open311 list of requests, with `extended_attributes` and `notes` when `notes`
/// is given (`extensions=true`).
/// `base` is where this server is reached, for the URLs it stores relative to itself.
fn requests_document(
    rows: &[RequestRow],
    catalogue: &Catalogue,
    notes: Option<&Notes>,
    base: &str,
) -> Document {
    let entries = rows
        .iter()
        .map(|row| request_node(row, catalogue, notes, base))
        .collect();
    Document {
        root: "service_requests",
        body: Node::list("request", entries),
    }
}

fn time(value: Option<NaiveDateTime>) -> Node {
    value.map_or(Node::Null, |t| Node::text(format_datetime(t)))
}

fn request_node(
    row: &RequestRow,
    catalogue: &Catalogue,
    notes: Option<&Notes>,
    base: &str,
) -> Node {
    let service_name = catalogue
        .get(&row.service_code)
        .map_or_else(|| row.service_code.clone(), |s| s.name.clone());
    let status = row.status;
    let mut fields = vec![
        ("service_request_id", Node::text(row.id.to_string())),
        ("status", Node::text(status.open311().as_str())),
        ("status_notes", Node::opt_text(row.status_notes.clone())),
        ("service_name", Node::text(service_name)),
        ("service_code", Node::text(&row.service_code)),
        ("description", Node::opt_text(row.description.clone())),
        (
            "agency_responsible",
            Node::opt_text(row.agency_responsible.clone()),
        ),
        ("service_notice", Node::opt_text(row.service_notice.clone())),
        ("requested_datetime", time(Some(row.requested_at))),
        ("updated_datetime", time(Some(row.updated_at))),
        ("expected_datetime", time(row.expected_at)),
        (
            "address",
            Node::text(row.address.clone().unwrap_or_default()),
        ),
        ("address_id", Node::opt_text(row.address_id.clone())),
        ("zipcode", Node::opt_text(row.zipcode.clone())),
        ("lat", row.lat.map_or(Node::Null, Node::Float)),
        ("long", row.lon.map_or(Node::Null, Node::Float)),
        (
            "media_url",
            Node::opt_text(absolute(base, row.media_url.as_deref())),
        ),
    ];
    if let Some(notes) = notes {
        let parent = row
            .issue_id
            .and_then(|issue| notes.first_of_issue.get(&issue).copied())
            .filter(|first| *first != row.id);
        fields.push((
            "extended_attributes",
            extended_attributes(row, status, parent),
        ));
        let history = notes
            .history
            .get(&row.id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        fields.push(("notes", notes_node(history, base)));
    }
    Node::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn extended_attributes(row: &RequestRow, status: RequestStatus, parent: Option<i64>) -> Node {
    let answers = row
        .attributes
        .0
        .iter()
        .map(|(code, answer)| {
            let value = match answer {
                AttributeAnswer::One(v) => Node::Text(v.clone()),
                AttributeAnswer::Many(vs) => {
                    Node::list("value", vs.iter().cloned().map(Node::Text).collect())
                }
            };
            let code = code.clone();
            (code, value)
        })
        .collect();
    Node::object([
        ("duplicate", Node::Bool(parent.is_some())),
        (
            "parent_service_request_id",
            parent.map_or(Node::Null, |id| Node::text(id.to_string())),
        ),
        ("internal_status", Node::text(status.as_str())),
        (
            "channel",
            row.channel.as_deref().map_or(Node::Null, Node::text),
        ),
        ("attributes", Node::Object(answers)),
        (
            "segment_id",
            row.segment_id
                .map_or(Node::Null, |id| Node::text(id.to_string())),
        ),
        (
            "snap_distance_m",
            row.snap_distance_m.map_or(Node::Null, Node::Float),
        ),
    ])
}

fn notes_node(history: &[UpdateRow], base: &str) -> Node {
    let entries = history
        .iter()
        .enumerate()
        .map(|(i, update)| {
            let status = update.status;
            Node::object([
                (
                    "type",
                    Node::text(if i == 0 { "opened" } else { "status_change" }),
                ),
                ("status", Node::text(status.open311().as_str())),
                ("internal_status", Node::text(status.as_str())),
                ("datetime", time(Some(update.created_at))),
                ("summary", Node::opt_text(update.description.clone())),
                ("author", Node::text(public_author(&update.author))),
                (
                    "media_url",
                    Node::opt_text(absolute(base, update.media_url.as_deref())),
                ),
            ])
        })
        .collect();
    Node::list("note", entries)
}

/// Staff entries are stored as `staff:NAME` for the audit trail; residents see "staff".
pub fn public_author(author: &str) -> &str {
    author.split(':').next().unwrap_or(author)
}

/// `POST requests.{format}`: a resident submits a report, as a form or multipart form
/// with `media` photo parts.
pub async fn create(
    state: State,
    req: HttpRequest,
    format: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, Open311Error> {
    let format = Format::from_suffix(&format)?;
    let (body, upload) = read_submission(&req, payload, &state.settings, format).await?;
    // api_key may come in the query string; the body's fields come first.
    let mut params = body;
    params.extend(Params::parse_urlencoded(req.query_string().as_bytes()));
    // Every text field, named: a NUL or ESC stored would break XML answers for all.
    let controls: Vec<FieldError> = params
        .pairs()
        .iter()
        .filter_map(|(name, value)| {
            let c = crate::domain::forbidden_control(name)
                .or_else(|| crate::domain::forbidden_control(value))?;
            Some(FieldError::new(
                name,
                format!("holds the control character U+{:04X}", u32::from(c)),
            ))
        })
        .collect();
    if !controls.is_empty() {
        return Err(Open311Error::fields(format, controls));
    }
    check_jurisdiction(&params, &state.settings.jurisdiction_id, format)?;
    let catalogue = current_catalogue(&state)
        .await
        .map_err(|e| Open311Error::internal(format, &e))?;
    let segments = state.segments.current();
    let ctx = IntakeContext {
        segments: &segments,
        db: &state.db,
        catalogue: &catalogue,
        settings: &state.settings,
        writer: &state.writer,
        source: crate::http::source_pseudonym(&req, &state),
    };
    let outcome = intake::submit(&ctx, &submitted(&params), upload).await;
    let receipt = match outcome {
        Ok(receipt) => receipt,
        Err(IntakeError::Forbidden(why)) => {
            return Err(Open311Error::new(format, StatusCode::FORBIDDEN, why));
        }
        Err(IntakeError::UnknownService(why)) => return Err(Open311Error::not_found(format, why)),
        Err(IntakeError::Invalid(errors)) => return Err(Open311Error::fields(format, errors)),
        Err(IntakeError::Db(e)) => return Err(Open311Error::from_db(format, e)),
        Err(IntakeError::Interrupted) => {
            return Err(Open311Error::internal(format, &ServerError::Blocking));
        }
    };
    // The resident's next search here finds it at once (other servers catch up by id).
    if let Some(entry) = receipt.located {
        state.report_index.add(entry);
    }
    // A new issue needs its work order, a joined one a new priority.
    if let Some(issue_id) = receipt.issue_id {
        state.reported_issues.add(issue_id);
    }
    let mut entry = Vec::new();
    match (receipt.service_request_id, &receipt.token) {
        (Some(id), _) => entry.push(("service_request_id", Node::text(id.to_string()))),
        (None, Some(token)) => entry.push(("token", Node::text(token))),
        (None, None) => {}
    }
    entry.push(("service_notice", Node::text(receipt.service_notice)));
    entry.push(("account_id", Node::opt_text(receipt.account_id)));
    let body = Node::list(
        "request",
        vec![Node::Object(
            entry.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        )],
    );
    Ok(Document {
        root: "service_requests",
        body,
    }
    .respond(format, StatusCode::OK))
}

fn too_large(format: Format, limit: usize) -> Open311Error {
    Open311Error::new(
        format,
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("the request body is larger than the {limit} bytes this server accepts"),
    )
}

/// Reads a form or multipart body within the configured limits.
async fn read_submission(
    req: &HttpRequest,
    mut payload: web::Payload,
    settings: &crate::config::Settings,
    format: Format,
) -> Result<(Params, Option<Upload>), Open311Error> {
    let content_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let multipart = content_type.starts_with("multipart/form-data");
    let limit = if multipart {
        settings.media_limit_bytes
    } else {
        settings.body_limit_bytes
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large(format, limit));
    }
    if multipart {
        return read_multipart(req, payload, limit, format).await;
    }
    if !(content_type.is_empty() || content_type.starts_with("application/x-www-form-urlencoded")) {
        return Err(Open311Error::new(
            format,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "Content-Type '{content_type}' is not accepted: send application/x-www-form-urlencoded or multipart/form-data"
            ),
        ));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            Open311Error::bad_request(format, format!("the request body could not be read: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(format, limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((Params::parse_urlencoded(&body), None))
}

async fn read_multipart(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
    format: Format,
) -> Result<(Params, Option<Upload>), Open311Error> {
    let malformed = |e: &dyn std::fmt::Display| {
        Open311Error::bad_request(format, format!("the multipart body is malformed: {e}"))
    };
    let mut form = crate::http::multipart(req, payload).map_err(|e| malformed(&e))?;
    let mut pairs = Vec::new();
    let mut upload: Option<Upload> = None;
    let mut total = 0usize;
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|e| malformed(&e))?;
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| malformed(&e))?;
            total += chunk.len();
            if total > limit {
                return Err(too_large(format, limit));
            }
            bytes.extend_from_slice(&chunk);
        }
        if name == "media" {
            if upload.is_some() {
                return Err(Open311Error::field(
                    format,
                    FieldError::new("media", "send one photo per report"),
                ));
            }
            if !bytes.is_empty() {
                upload = Some(Upload {
                    bytes,
                    keep_location: false,
                });
            }
        } else {
            let value = String::from_utf8(bytes).map_err(|_| {
                Open311Error::field(format, FieldError::new(name.clone(), "is not UTF-8 text"))
            })?;
            pairs.push((name, value));
        }
    }
    Ok((Params::from_pairs(pairs), upload))
}

/// The report a GeoReport v2 form carries: its named fields, and `attribute[code]=v` and
/// `attribute[code][]=v` pairs as (code, value).
fn submitted(params: &Params) -> Submitted {
    let field = |name: &str| params.get(name).map(str::to_owned);
    Submitted {
        service_code: field("service_code"),
        api_key: field("api_key"),
        lat: field("lat"),
        long: field("long"),
        address_string: field("address_string"),
        address_id: field("address_id"),
        zipcode: field("zipcode"),
        description: field("description"),
        media_url: field("media_url"),
        email: field("email"),
        device_id: field("device_id"),
        account_id: field("account_id"),
        first_name: field("first_name"),
        last_name: field("last_name"),
        phone: field("phone"),
        keep_photo_location: field("keep_photo_location"),
        channel: field("channel"),
        attributes: params
            .pairs()
            .iter()
            .filter_map(|(key, value)| {
                let inner = key.strip_prefix("attribute[")?;
                let code = inner
                    .strip_suffix("][]")
                    .or_else(|| inner.strip_suffix(']'))?;
                Some((code.to_owned(), value.clone()))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_a_submission_with_its_attribute_answers() {
        let params = Params::parse_urlencoded(
            b"service_code=pothole&lat=43.05&long=&attribute[size]=large&attribute[items][]=bags&attribute[items][]=tyres&other=1",
        );
        let report = submitted(&params);
        assert_eq!(report.service_code.as_deref(), Some("pothole"));
        assert_eq!(report.lat.as_deref(), Some("43.05"));
        assert_eq!(report.long, None, "a field sent empty is absent");
        assert_eq!(
            report.attributes,
            vec![
                ("size".to_owned(), "large".to_owned()),
                ("items".to_owned(), "bags".to_owned()),
                ("items".to_owned(), "tyres".to_owned()),
            ]
        );
    }
}

/// Generated input for the Open311 form and multipart readers (`fuzz_` tests; set
/// PROPTEST_CASES for a long run): whatever arrives, an answer and never a panic.
#[cfg(test)]
mod fuzz {
    use super::*;
    use proptest::prelude::*;

    /// Form text: field names Upkeep reads and others, with any values, joined and
    /// percent-encoded or not, sometimes broken.
    fn form_text() -> impl Strategy<Value = Vec<u8>> {
        let name = prop_oneof![
            Just("service_code".to_owned()),
            Just("lat".to_owned()),
            Just("long".to_owned()),
            Just("description".to_owned()),
            Just("email".to_owned()),
            Just("attribute[size]".to_owned()),
            Just("attribute[items][]".to_owned()),
            Just("keep_photo_location".to_owned()),
            Just("jurisdiction_id".to_owned()),
            ".{0,12}",
        ];
        let value = prop_oneof![
            Just("pothole".to_owned()),
            Just("43.05".to_owned()),
            "-?[0-9]{0,4}(\\.[0-9]{0,8})?(e[0-9]{1,3})?",
            ".{0,40}",
        ];
        let pair = (name, value, any::<bool>()).prop_map(|(n, v, encode)| {
            if encode {
                url::form_urlencoded::Serializer::new(String::new())
                    .append_pair(&n, &v)
                    .finish()
                    .into_bytes()
            } else {
                format!("{n}={v}").into_bytes()
            }
        });
        prop_oneof![
            proptest::collection::vec(pair, 0..12).prop_map(|pairs| pairs.join(&b'&')),
            proptest::collection::vec(any::<u8>(), 0..200),
        ]
    }

    thread_local! {
        /// Made once per thread: millions of cases share them.
        static SERVICES: Vec<crate::catalogue::Service> =
            crate::catalogue::load(None).expect("the built-in catalogue");
        static SETTINGS: crate::config::Settings = {
            let mut settings = crate::config::Settings::for_database(
                crate::db::DatabaseUrl::Sqlite("unused.db".into()),
            );
            settings.media_limit_bytes = 64 * 1024;
            settings
        };
        static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
    }

    proptest! {
        #[test]
        fn fuzz_open311_form_is_read_and_checked_without_panicking(text in form_text()) {
            let services = SERVICES.with(Clone::clone);
            let settings = SETTINGS.with(Clone::clone);
            let params = Params::parse_urlencoded(&text);
            let _ = check_jurisdiction(&params, &settings.jurisdiction_id, Format::Json);
            let submitted = submitted(&params);
            for service in &services {
                let _ = crate::intake::check_report(&submitted, service, &settings, &mut Vec::new());
            }
        }

        #[test]
        fn fuzz_multipart_bodies_are_read_without_panicking(
            boundary in "[A-Za-z0-9'()+_,./:=? -]{1,20}",
            parts in proptest::collection::vec(
                (".{0,10}", proptest::collection::vec(any::<u8>(), 0..60), any::<bool>()),
                0..5,
            ),
            tail in proptest::collection::vec(any::<u8>(), 0..40),
            // What a client may claim (printable ASCII: anything else is not a header).
            declared in prop_oneof![
                Just(None),
                Just(Some(String::new())),
                "multipart/form-data;[ -~]{0,30}".prop_map(Some),
                "[ -~]{0,30}".prop_map(Some),
            ],
        ) {
            let mut body = Vec::new();
            for (name, bytes, as_file) in &parts {
                body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                let filename = if *as_file { "; filename=\"photo.jpg\"" } else { "" };
                body.extend_from_slice(
                    format!("Content-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n")
                        .as_bytes(),
                );
                body.extend_from_slice(bytes);
                body.extend_from_slice(b"\r\n");
            }
            body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            body.extend_from_slice(&tail);
            let content_type = declared
                .clone()
                .unwrap_or_else(|| format!("multipart/form-data; boundary={boundary}"));
            let settings = SETTINGS.with(Clone::clone);
            RUNTIME.with(|runtime| runtime.block_on(async {
                let (req, mut payload) = actix_web::test::TestRequest::post()
                    .insert_header((actix_web::http::header::CONTENT_TYPE, content_type))
                    .set_payload(body)
                    .to_http_parts();
                let payload = <web::Payload as actix_web::FromRequest>::from_request(&req, &mut payload)
                    .await
                    .expect("a payload");
                let _ = read_submission(&req, payload, &settings, Format::Json).await;
            }));
        }
    }
}
