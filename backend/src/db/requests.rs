//! The `requests` and `request_updates` tables: residents' reports and their history.

use super::schema::{request_updates, requests};
use super::words::Json;
use super::{Conn, DbResult, NarrowedBy};
use crate::domain::{Answers, BoundingBox, Circle, Coordinates, RequestStatus};
use crate::search::{Area, Located, Order, Window};
use chrono::NaiveDateTime;
use diesel::dsl::{Between, EqAny, GtEq, IsNotNull, LtEq};
use diesel::prelude::*;

/// A stored report, every column (contact details included: never serialise this).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = requests)]
pub struct RequestRow {
    pub id: i64,
    pub token: Option<String>,
    pub accepted_at: Option<NaiveDateTime>,
    pub service_code: String,
    pub status: RequestStatus,
    pub status_notes: Option<String>,
    pub description: Option<String>,
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    pub media_url: Option<String>,
    pub attributes: Json<Answers>,
    pub email: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub api_key_id: Option<i64>,
    pub segment_id: Option<i64>,
    pub snap_distance_m: Option<f64>,
    pub issue_id: Option<i64>,
    pub requested_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expected_at: Option<NaiveDateTime>,
    pub closed_at: Option<NaiveDateTime>,
    /// The grid cell of the position ([`crate::grid`]).
    pub cell: Option<i64>,
    /// How it reached the city: web, app, phone, counter, or an import's word.
    pub channel: Option<String>,
}

impl RequestRow {
    pub fn position(&self) -> Option<Coordinates> {
        Some(Coordinates {
            lon: self.lon?,
            lat: self.lat?,
        })
    }
}

/// A report ready to be stored.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = requests)]
// A `None` is stored as NULL (no column has another default), so the statement
// has one text and diesel keeps it prepared: leaving the column out would change it.
#[diesel(treat_none_as_default_value = false)]
pub struct NewRequest {
    pub token: Option<String>,
    pub accepted_at: Option<NaiveDateTime>,
    pub service_code: String,
    pub status: RequestStatus,
    pub description: Option<String>,
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    pub media_url: Option<String>,
    pub attributes: Json<Answers>,
    pub email: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    pub api_key_id: Option<i64>,
    pub segment_id: Option<i64>,
    pub snap_distance_m: Option<f64>,
    pub issue_id: Option<i64>,
    pub requested_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub expected_at: Option<NaiveDateTime>,
    pub cell: Option<i64>,
    pub closed_at: Option<NaiveDateTime>,
    pub channel: Option<String>,
}

impl NewRequest {
    /// An accepted report of `service_code` made at `at` with nothing else known yet:
    /// the base the other fields are added to.
    pub fn accepted(service_code: &str, status: RequestStatus, at: NaiveDateTime) -> NewRequest {
        NewRequest {
            token: None,
            accepted_at: Some(at),
            service_code: service_code.to_owned(),
            status,
            description: None,
            agency_responsible: None,
            service_notice: None,
            lat: None,
            lon: None,
            address: None,
            address_id: None,
            zipcode: None,
            media_url: None,
            attributes: Json::default(),
            email: None,
            device_id: None,
            account_id: None,
            first_name: None,
            last_name: None,
            phone: None,
            api_key_id: None,
            segment_id: None,
            snap_distance_m: None,
            issue_id: None,
            requested_at: at,
            updated_at: at,
            expected_at: None,
            cell: None,
            channel: None,
            closed_at: None,
        }
    }
}

/// One entry of a report's history.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = request_updates)]
pub struct UpdateRow {
    pub id: i64,
    pub request_id: i64,
    pub status: RequestStatus,
    pub description: Option<String>,
    pub media_url: Option<String>,
    pub author: String,
    pub created_at: NaiveDateTime,
}

/// A new entry of a report's history.
#[derive(Debug, Insertable)]
#[diesel(table_name = request_updates)]
// As `NewRequest`: a `None` is stored as NULL, so the statement is kept prepared.
#[diesel(treat_none_as_default_value = false)]
pub struct NewUpdate<'a> {
    pub request_id: i64,
    pub status: RequestStatus,
    pub description: Option<&'a str>,
    pub media_url: Option<&'a str>,
    pub author: &'a str,
    pub created_at: NaiveDateTime,
}

/// Stores a report; returns its id. Nothing else is read back: every other column is
/// as given (none has a default or a trigger), and decoding the whole row again cost the
/// report writer more than the insert's own B-tree work on the table.
pub fn insert(conn: &mut Conn<'_>, request: &NewRequest) -> DbResult<i64> {
    let insert = || diesel::insert_into(requests::table).values(request);
    Ok(super::kept::inserted_id(
        conn,
        |conn| insert().execute(conn),
        |conn| insert().returning(requests::id).get_result(conn),
    )?)
}

/// Adds one entry to a report's history. (One row at a time keeps the statement in
/// diesel's cache; a batch of any length is prepared anew each time.)
pub fn add_update(conn: &mut Conn<'_>, update: &NewUpdate<'_>) -> DbResult<()> {
    on!(conn, |conn| diesel::insert_into(request_updates::table)
        .values(update)
        .execute(conn)?);
    Ok(())
}

/// Adds entries to reports' history.
pub fn add_updates(conn: &mut Conn<'_>, updates: &[NewUpdate<'_>]) -> DbResult<()> {
    // Bounded statements keep both backends well inside their parameter limits.
    for chunk in updates.chunks(1_000) {
        on!(conn, |conn| diesel::insert_into(request_updates::table)
            .values(chunk)
            .execute(conn)?);
    }
    Ok(())
}

/// What a list of reports is narrowed to. Only accepted reports are ever listed.
#[derive(Debug, Clone, Default)]
pub struct RequestFilter {
    pub ids: Option<Vec<i64>>,
    pub service_codes: Option<Vec<String>>,
    pub statuses: Option<Vec<RequestStatus>>,
    /// Inclusive bounds on `requested_at`.
    pub requested_from: Option<NaiveDateTime>,
    pub requested_to: Option<NaiveDateTime>,
    /// Inclusive bounds on `updated_at`.
    pub updated_from: Option<NaiveDateTime>,
    pub updated_to: Option<NaiveDateTime>,
    pub bbox: Option<BoundingBox>,
    pub circle: Option<Circle>,
}

impl RequestFilter {
    /// Whether every accepted report passes: nothing but a place narrows the list.
    pub fn is_everything(&self) -> bool {
        let RequestFilter {
            ids,
            service_codes,
            statuses,
            requested_from,
            requested_to,
            updated_from,
            updated_to,
            bbox,
            circle,
        } = self;
        ids.is_none()
            && service_codes.is_none()
            && statuses.is_none()
            && requested_from.is_none()
            && requested_to.is_none()
            && updated_from.is_none()
            && updated_to.is_none()
            && bbox.is_none()
            && circle.is_none()
    }
}

/// The accepted reports passing `filter` (its circle aside, which needs the exact
/// distance), as a boxed query for either backend.
fn filtered<'a, DB>(filter: &RequestFilter) -> requests::BoxedQuery<'a, DB>
where
    DB: diesel::backend::Backend + 'a,
    requests::table:
        diesel::query_dsl::methods::BoxedDsl<'a, DB, Output = requests::BoxedQuery<'a, DB>>,
    requests::BoxedQuery<'a, DB>: NarrowedBy<IsNotNull<requests::accepted_at>>
        + NarrowedBy<EqAny<requests::id, Vec<i64>>>
        + NarrowedBy<EqAny<requests::service_code, Vec<String>>>
        + NarrowedBy<EqAny<requests::status, Vec<RequestStatus>>>
        + NarrowedBy<GtEq<requests::requested_at, NaiveDateTime>>
        + NarrowedBy<LtEq<requests::requested_at, NaiveDateTime>>
        + NarrowedBy<GtEq<requests::updated_at, NaiveDateTime>>
        + NarrowedBy<LtEq<requests::updated_at, NaiveDateTime>>
        + NarrowedBy<Between<requests::lat, f64, f64>>
        + NarrowedBy<Between<requests::lon, f64, f64>>
        + NarrowedBy<EqAny<requests::cell, Vec<i64>>>
        + NarrowedBy<Between<requests::cell, i64, i64>>,
{
    let mut query = requests::table
        .into_boxed()
        .filter(requests::accepted_at.is_not_null());
    if let Some(ids) = &filter.ids {
        query = query.filter(requests::id.eq_any(ids.clone()));
    }
    if let Some(codes) = &filter.service_codes {
        query = query.filter(requests::service_code.eq_any(codes.clone()));
    }
    if let Some(statuses) = &filter.statuses {
        query = query.filter(requests::status.eq_any(statuses.clone()));
    }
    if let Some(from) = filter.requested_from {
        query = query.filter(requests::requested_at.ge(from));
    }
    if let Some(to) = filter.requested_to {
        query = query.filter(requests::requested_at.le(to));
    }
    if let Some(from) = filter.updated_from {
        query = query.filter(requests::updated_at.ge(from));
    }
    if let Some(to) = filter.updated_to {
        query = query.filter(requests::updated_at.le(to));
    }
    if let Some(bbox) = filter.bbox {
        query = query
            .filter(requests::lat.between(bbox.south_west.lat, bbox.north_east.lat))
            .filter(requests::lon.between(bbox.south_west.lon, bbox.north_east.lon));
        // Through the grid cells the box touches, read from the `requests_cell` index: a
        // (lat, lon) index would be one more place every report is written to.
        query = match crate::grid::cells_covering(&bbox) {
            Some(cells) => query.filter(requests::cell.eq_any(cells)),
            None => {
                let span = crate::grid::cell_span(&bbox);
                query.filter(requests::cell.between(*span.start(), *span.end()))
            }
        };
    }
    query
}

/// One page of reports matching `filter`, newest first.
pub fn list(
    conn: &mut Conn<'_>,
    filter: &RequestFilter,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<RequestRow>> {
    match filter.circle {
        None => on!(conn, |conn| Ok(filtered(filter)
            .select(RequestRow::as_select())
            .order((requests::requested_at.desc(), requests::id.desc()))
            .limit(limit)
            .offset(offset)
            .load(conn)?)),
        Some(circle) => {
            // The circle is cut to the true great-circle distance before paging.
            let hits = Area::Circle(circle).search(Window::for_points, Order::AsFetched, |w| {
                located(conn, filter, w)
            })?;
            let ids: Vec<i64> = hits
                .iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|h| h.id)
                .collect();
            by_ids(conn, &ids)
        }
    }
}

/// How many reports match `filter` (without its circle).
pub fn count(conn: &mut Conn<'_>, filter: &RequestFilter) -> DbResult<i64> {
    on!(conn, |conn| Ok(filtered(filter)
        .count()
        .get_result(conn)?))
}

/// The reports matching `filter` (without its circle) whose position lies in `window`,
/// newest first: the candidates of a search by place.
///
/// Without other filters this reads only the covering index `requests_cell`, so it is
/// ordered here rather than in SQL.
pub fn located(
    conn: &mut Conn<'_>,
    filter: &RequestFilter,
    window: &Window,
) -> DbResult<Vec<(i64, Located)>> {
    let bbox = window.bbox;
    let mut rows: Vec<(i64, Option<f64>, Option<f64>, NaiveDateTime)> = on!(conn, |conn| {
        let mut query = filtered(filter)
            .filter(requests::lat.between(bbox.south_west.lat, bbox.north_east.lat))
            .filter(requests::lon.between(bbox.south_west.lon, bbox.north_east.lon));
        if let Some(cells) = &window.cells {
            query = query.filter(requests::cell.eq_any(cells.clone()));
        }
        query
            .select((
                requests::id,
                requests::lon,
                requests::lat,
                requests::requested_at,
            ))
            .load(conn)?
    });
    rows.sort_unstable_by(|a, b| b.3.cmp(&a.3).then(b.0.cmp(&a.0)));
    Ok(rows
        .into_iter()
        .filter_map(|(id, lon, lat, _)| {
            Some((
                id,
                Located::Point(Coordinates {
                    lon: lon?,
                    lat: lat?,
                }),
            ))
        })
        .collect())
}

/// Which accepted reports with a position to read.
#[derive(Debug, Clone, Copy)]
pub enum LocatedSince {
    All,
    /// Accepted at or after this time.
    AcceptedFrom(NaiveDateTime),
    /// With a greater id.
    IdAbove(i64),
}

/// id, longitude, latitude, requested_at, accepted_at.
type PositionRow = (
    i64,
    Option<f64>,
    Option<f64>,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// Accepted reports with a position, with when each was accepted.
pub fn located_since(
    conn: &mut Conn<'_>,
    since: LocatedSince,
) -> DbResult<Vec<(crate::report_index::Entry, NaiveDateTime)>> {
    let rows: Vec<PositionRow> = on!(conn, |conn| {
        let mut query = requests::table
            .filter(requests::accepted_at.is_not_null())
            .filter(requests::lat.is_not_null())
            .filter(requests::lon.is_not_null())
            .into_boxed();
        match since {
            LocatedSince::All => {}
            LocatedSince::AcceptedFrom(at) => query = query.filter(requests::accepted_at.ge(at)),
            LocatedSince::IdAbove(id) => query = query.filter(requests::id.gt(id)),
        }
        query
            .select((
                requests::id,
                requests::lon,
                requests::lat,
                requests::requested_at,
                requests::accepted_at,
            ))
            .load(conn)?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(id, lon, lat, requested_at, accepted_at)| {
            let entry = crate::report_index::Entry {
                id,
                lon: lon?,
                lat: lat?,
                requested_at,
            };
            Some((entry, accepted_at?))
        })
        .collect())
}

/// How many accepted reports with ids up to `max_id` have a position.
pub fn located_count(conn: &mut Conn<'_>, max_id: i64) -> DbResult<i64> {
    on!(conn, |conn| Ok(requests::table
        .filter(requests::id.le(max_id))
        .filter(requests::accepted_at.is_not_null())
        .filter(requests::lat.is_not_null())
        .filter(requests::lon.is_not_null())
        .count()
        .get_result(conn)?))
}

/// Accepted reports by id, in the order of `ids`.
pub fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> DbResult<Vec<RequestRow>> {
    let rows: Vec<RequestRow> = on!(conn, |conn| requests::table
        .filter(requests::id.eq_any(ids))
        .filter(requests::accepted_at.is_not_null())
        .select(RequestRow::as_select())
        .load(conn)?);
    Ok(super::in_order_of(ids, rows, |row| row.id))
}

/// An accepted report by id.
pub fn find(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<RequestRow>> {
    on!(conn, |conn| Ok(requests::table
        .filter(requests::id.eq(id))
        .filter(requests::accepted_at.is_not_null())
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?))
}

/// A report by the token its client was given, accepted or not.
pub fn find_by_token(conn: &mut Conn<'_>, token: &str) -> DbResult<Option<RequestRow>> {
    on!(conn, |conn| Ok(requests::table
        .filter(requests::token.eq(token))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?))
}

/// The history of these reports, oldest entry first.
pub fn updates_for(conn: &mut Conn<'_>, request_ids: &[i64]) -> DbResult<Vec<UpdateRow>> {
    on!(conn, |conn| Ok(request_updates::table
        .filter(request_updates::request_id.eq_any(request_ids))
        .order((request_updates::created_at, request_updates::id))
        .select(UpdateRow::as_select())
        .load(conn)?))
}

/// History entries of accepted reports made in `[from, to]`, oldest first.
pub fn updates_between(
    conn: &mut Conn<'_>,
    from: NaiveDateTime,
    to: NaiveDateTime,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<UpdateRow>> {
    on!(conn, |conn| Ok(request_updates::table
        .inner_join(requests::table)
        .filter(requests::accepted_at.is_not_null())
        .filter(request_updates::created_at.between(from, to))
        .order((request_updates::created_at, request_updates::id))
        .limit(limit)
        .offset(offset)
        .select(UpdateRow::as_select())
        .load(conn)?))
}

/// Sets an accepted report's status with a note for the resident. Returns the updated
/// report, or None if there is no accepted report with that id.
pub fn set_status(
    conn: &mut Conn<'_>,
    id: i64,
    status: RequestStatus,
    notes: Option<&str>,
    at: NaiveDateTime,
) -> DbResult<Option<RequestRow>> {
    let closed_at = (!status.is_open()).then_some(at);
    Ok(on!(conn, |conn| diesel::update(
        requests::table
            .filter(requests::id.eq(id))
            .filter(requests::accepted_at.is_not_null()),
    )
    .set((
        requests::status.eq(status),
        requests::status_notes.eq(notes),
        requests::updated_at.eq(at),
        requests::closed_at.eq(closed_at),
    ))
    .returning(RequestRow::as_returning())
    .get_result(conn)
    .optional()?))
}

/// Sets every report of an issue now in one of the `from` statuses to `to`, with a note
/// for residents, and records it in their history as written by `author`. Returns the
/// ids of the reports changed.
pub fn set_status_of_issue(
    conn: &mut Conn<'_>,
    issue_id: i64,
    from: &[RequestStatus],
    to: RequestStatus,
    note: &str,
    author: &str,
    at: NaiveDateTime,
) -> DbResult<Vec<i64>> {
    let closed_at = (!to.is_open()).then_some(at);
    let ids: Vec<i64> = on!(conn, |conn| {
        let ids: Vec<i64> = requests::table
            .filter(requests::issue_id.eq(issue_id))
            .filter(requests::status.eq_any(from))
            .select(requests::id)
            .load(conn)?;
        diesel::update(requests::table.filter(requests::id.eq_any(&ids)))
            .set((
                requests::status.eq(to),
                requests::status_notes.eq(note),
                requests::updated_at.eq(at),
                requests::closed_at.eq(closed_at),
            ))
            .execute(conn)?;
        ids
    });
    let updates: Vec<NewUpdate<'_>> = ids
        .iter()
        .map(|&request_id| NewUpdate {
            request_id,
            status: to,
            description: Some(note),
            media_url: None,
            author,
            created_at: at,
        })
        .collect();
    add_updates(conn, &updates)?;
    Ok(ids)
}

/// The distinct attribute answers given by the reports of the given issues.
pub fn answers_of_issues(conn: &mut Conn<'_>, issue_ids: &[i64]) -> DbResult<Vec<(i64, Answers)>> {
    let mut out = Vec::new();
    // Bounded IN lists keep both backends well inside their parameter limits.
    for chunk in issue_ids.chunks(10_000) {
        // Distinct: severity reads which answers were given, not how often, and an issue
        // joined by thousands of reports with the same answers is one row, not thousands
        // held in memory at every re-prioritisation (found by the soak).
        let rows: Vec<(Option<i64>, Json<Answers>)> = on!(conn, |conn| requests::table
            .filter(requests::issue_id.eq_any(chunk))
            .select((requests::issue_id, requests::attributes))
            .distinct()
            .load(conn)?);
        out.extend(
            rows.into_iter()
                .filter_map(|(issue, answers)| Some((issue?, answers.0))),
        );
    }
    Ok(out)
}

/// Accepts queued requests to batch services that were made at or before `cutoff`.
/// Returns how many were accepted.
pub fn accept_queued(
    conn: &mut Conn<'_>,
    cutoff: NaiveDateTime,
    at: NaiveDateTime,
) -> DbResult<usize> {
    on!(conn, |conn| Ok(diesel::update(
        requests::table
            .filter(requests::accepted_at.is_null())
            .filter(requests::requested_at.le(cutoff))
    )
    .set((requests::accepted_at.eq(at), requests::updated_at.eq(at)))
    .execute(conn)?))
}

/// (service, time) of every accepted report made at or after `from`, for weekly charts.
pub fn made_since(
    conn: &mut Conn<'_>,
    from: NaiveDateTime,
) -> DbResult<Vec<(String, NaiveDateTime)>> {
    on!(conn, |conn| Ok(requests::table
        .filter(requests::requested_at.ge(from))
        .filter(requests::accepted_at.is_not_null())
        .select((requests::service_code, requests::requested_at))
        .load(conn)?))
}

/// (segment, time) of every accepted report of the services `codes` that snapped to a
/// segment, made at or after `since` (all of them without it).
pub fn reports_of(
    conn: &mut Conn<'_>,
    codes: &[String],
    since: Option<NaiveDateTime>,
) -> DbResult<Vec<(i64, NaiveDateTime)>> {
    let rows: Vec<(Option<i64>, NaiveDateTime)> = on!(conn, |conn| {
        let mut query = requests::table
            .filter(requests::service_code.eq_any(codes))
            .filter(requests::accepted_at.is_not_null())
            .filter(requests::segment_id.is_not_null())
            .select((requests::segment_id, requests::requested_at))
            .into_boxed();
        if let Some(since) = since {
            query = query.filter(requests::requested_at.ge(since));
        }
        query.load(conn)?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(s, t)| Some((s?, t)))
        .collect())
}

/// When the last accepted report of the services `codes` that snapped to a segment was
/// made, if any.
pub fn last_report_of(conn: &mut Conn<'_>, codes: &[String]) -> DbResult<Option<NaiveDateTime>> {
    on!(conn, |conn| Ok(requests::table
        .filter(requests::service_code.eq_any(codes))
        .filter(requests::accepted_at.is_not_null())
        .filter(requests::segment_id.is_not_null())
        .select(diesel::dsl::max(requests::requested_at))
        .first(conn)?))
}

/// (longitude, latitude, time, whether of the services `codes`) of every accepted
/// report that has a position.
pub fn positions(
    conn: &mut Conn<'_>,
    codes: &[String],
) -> DbResult<Vec<(f64, f64, NaiveDateTime, bool)>> {
    let rows: Vec<(Option<f64>, Option<f64>, NaiveDateTime, String)> =
        on!(conn, |conn| requests::table
            .filter(requests::accepted_at.is_not_null())
            .filter(requests::lat.is_not_null())
            .select((
                requests::lon,
                requests::lat,
                requests::requested_at,
                requests::service_code
            ))
            .load(conn)?);
    Ok(rows
        .into_iter()
        .filter_map(|(lon, lat, at, code)| Some((lon?, lat?, at, codes.contains(&code))))
        .collect())
}

/// Brings an imported report up to date with its source: status, last change and
/// closure. Returns its issue when anything changed, and whether it did.
pub fn update_past(
    conn: &mut Conn<'_>,
    id: i64,
    status: RequestStatus,
    updated_at: NaiveDateTime,
    closed_at: Option<NaiveDateTime>,
) -> DbResult<(bool, Option<i64>)> {
    let (was_status, was_updated, was_closed, issue): (
        RequestStatus,
        NaiveDateTime,
        Option<NaiveDateTime>,
        Option<i64>,
    ) = on!(conn, |conn| requests::table
        .find(id)
        .select((
            requests::status,
            requests::updated_at,
            requests::closed_at,
            requests::issue_id,
        ))
        .first(conn)?);
    if (was_status, was_updated, was_closed) == (status, updated_at, closed_at) {
        return Ok((false, issue));
    }
    on!(conn, |conn| diesel::update(requests::table.find(id))
        .set((
            requests::status.eq(status),
            requests::updated_at.eq(updated_at),
            requests::closed_at.eq(closed_at),
        ))
        .execute(conn)?);
    Ok((true, issue))
}

/// When an issue's reports say it was closed (the latest closure, if every report is
/// closed) and when any of them last changed.
pub fn closure_of_issue(
    conn: &mut Conn<'_>,
    issue_id: i64,
) -> DbResult<(Option<NaiveDateTime>, NaiveDateTime)> {
    let rows: Vec<(Option<NaiveDateTime>, NaiveDateTime)> = on!(conn, |conn| requests::table
        .filter(requests::issue_id.eq(issue_id))
        .select((requests::closed_at, requests::updated_at))
        .load(conn)?);
    let closed = rows
        .iter()
        .map(|(closed, _)| *closed)
        .collect::<Option<Vec<_>>>()
        .and_then(|all| all.into_iter().max());
    let updated = rows
        .iter()
        .map(|(_, updated)| *updated)
        .max()
        .unwrap_or(NaiveDateTime::MIN);
    Ok((closed, updated))
}

/// (ward, channel, reports): reports by ward and the way they came.
pub type ChannelCount = (Option<i64>, Option<String>, i64);

/// Reports made since `since` by ward (of their segment) and channel. Reports made
/// before channels were recorded have none.
pub fn channel_counts(conn: &mut Conn<'_>, since: NaiveDateTime) -> DbResult<Vec<ChannelCount>> {
    use super::schema::segments;
    use diesel::dsl::count_star;
    on!(conn, |conn| Ok(requests::table
        .left_join(segments::table)
        .filter(requests::accepted_at.is_not_null())
        .filter(requests::requested_at.gt(since))
        .group_by((segments::ward_id, requests::channel))
        .select((
            segments::ward_id.nullable(),
            requests::channel,
            count_star()
        ))
        .load::<ChannelCount>(conn)?))
}
