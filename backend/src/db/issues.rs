//! The `issues` table: problems as the city tracks them, each gathering its reports.

use super::schema::{issue_reporters, issues};
use super::words::Json;
use super::{Conn, DbResult, NarrowedBy};
use crate::domain::{AnswerPairs, Answers, Circle, Coordinates, IssueStatus, SegmentClass};
use crate::search::{Area, Located, Order, Window};
use chrono::NaiveDateTime;
use diesel::dsl::{EqAny, GtEq, LtEq};
use diesel::prelude::*;

/// An issue, as stored and as bulk-loaded (the demo city brings its own ids).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = issues, treat_none_as_default_value = false)]
pub struct IssueRow {
    pub id: i64,
    pub service_code: String,
    pub status: IssueStatus,
    pub lat: f64,
    pub lon: f64,
    pub segment_id: Option<i64>,
    pub reporter_count: i32,
    pub first_reported_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub first_request_id: Option<i64>,
    /// The grid cell of the position ([`crate::grid`]).
    pub cell: i64,
}

/// A new issue, started by its first report.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = issues)]
// As `NewRequest`: a `None` is stored as NULL, so the statement is kept prepared.
#[diesel(treat_none_as_default_value = false)]
pub struct NewIssue<'a> {
    pub service_code: &'a str,
    pub status: IssueStatus,
    pub lat: f64,
    pub lon: f64,
    pub segment_id: Option<i64>,
    pub reporter_count: i32,
    pub first_reported_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Set for an issue whose only report is closed already (a past report imported).
    pub closed_at: Option<NaiveDateTime>,
    pub cell: i64,
    /// The answers of its first report.
    pub answers: Json<AnswerPairs>,
}

/// What a list of issues is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    pub statuses: Option<Vec<IssueStatus>>,
    pub service_codes: Option<Vec<String>>,
    /// Inclusive bounds on `first_reported_at`.
    pub reported_from: Option<NaiveDateTime>,
    pub reported_to: Option<NaiveDateTime>,
}

/// The issues passing `filter`, as a boxed query for either backend.
fn filtered<'a, DB>(filter: &IssueFilter) -> issues::BoxedQuery<'a, DB>
where
    DB: diesel::backend::Backend + 'a,
    issues::table:
        diesel::query_dsl::methods::BoxedDsl<'a, DB, Output = issues::BoxedQuery<'a, DB>>,
    issues::BoxedQuery<'a, DB>: NarrowedBy<EqAny<issues::status, Vec<IssueStatus>>>
        + NarrowedBy<EqAny<issues::service_code, Vec<String>>>
        + NarrowedBy<GtEq<issues::first_reported_at, NaiveDateTime>>
        + NarrowedBy<LtEq<issues::first_reported_at, NaiveDateTime>>,
{
    let mut query = issues::table.into_boxed();
    if let Some(statuses) = &filter.statuses {
        query = query.filter(issues::status.eq_any(statuses.clone()));
    }
    if let Some(codes) = &filter.service_codes {
        query = query.filter(issues::service_code.eq_any(codes.clone()));
    }
    if let Some(from) = filter.reported_from {
        query = query.filter(issues::first_reported_at.ge(from));
    }
    if let Some(to) = filter.reported_to {
        query = query.filter(issues::first_reported_at.le(to));
    }
    query
}

/// One page of issues matching `filter`, most recently reported first.
pub fn list(
    conn: &mut Conn<'_>,
    filter: &IssueFilter,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<IssueRow>> {
    on!(conn, |conn| Ok(filtered(filter)
        .select(IssueRow::as_select())
        .order((issues::first_reported_at.desc(), issues::id.desc()))
        .limit(limit)
        .offset(offset)
        .load(conn)?))
}

pub fn count(conn: &mut Conn<'_>, filter: &IssueFilter) -> DbResult<i64> {
    on!(conn, |conn| Ok(filtered(filter)
        .count()
        .get_result(conn)?))
}

/// The issues matching `filter` in `window`, most recently reported first.
pub fn located(
    conn: &mut Conn<'_>,
    filter: &IssueFilter,
    window: &Window,
) -> DbResult<Vec<(i64, Located)>> {
    let bbox = window.bbox;
    let rows: Vec<(i64, f64, f64)> = on!(conn, |conn| {
        let mut query = filtered(filter)
            .filter(issues::lat.between(bbox.south_west.lat, bbox.north_east.lat))
            .filter(issues::lon.between(bbox.south_west.lon, bbox.north_east.lon));
        if let Some(cells) = &window.cells {
            query = query.filter(issues::cell.eq_any(cells.clone()));
        }
        query
            .select((issues::id, issues::lon, issues::lat))
            .order((issues::first_reported_at.desc(), issues::id.desc()))
            .load(conn)?
    });
    Ok(rows
        .into_iter()
        .map(|(id, lon, lat)| (id, Located::Point(Coordinates { lon, lat })))
        .collect())
}

/// Open issues in `bbox`: id, category, longitude, latitude; at most `limit`, the
/// most recently reported first. Read through the grid cells covering the box, so a
/// small box reads few rows however many issues the city has.
pub fn open_points(
    conn: &mut Conn<'_>,
    bbox: crate::domain::BoundingBox,
    limit: usize,
) -> DbResult<Vec<(i64, String, f64, f64)>> {
    let window = Window::for_points(bbox);
    on!(conn, |conn| {
        let mut query = issues::table
            .filter(issues::status.eq(IssueStatus::Open))
            .filter(issues::lat.between(bbox.south_west.lat, bbox.north_east.lat))
            .filter(issues::lon.between(bbox.south_west.lon, bbox.north_east.lon))
            .into_boxed();
        if let Some(cells) = &window.cells {
            query = query.filter(issues::cell.eq_any(cells.clone()));
        }
        Ok(query
            .select((issues::id, issues::service_code, issues::lon, issues::lat))
            .order((issues::first_reported_at.desc(), issues::id.desc()))
            .limit(i64::try_from(limit).unwrap_or(i64::MAX))
            .load(conn)?)
    })
}

/// Issues by id, in the order of `ids`.
pub fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> DbResult<Vec<IssueRow>> {
    let rows: Vec<IssueRow> = on!(conn, |conn| issues::table
        .filter(issues::id.eq_any(ids))
        .select(IssueRow::as_select())
        .load(conn)?);
    Ok(super::in_order_of(ids, rows, |row| row.id))
}

/// Open issues within `circle`, nearest first, with their distance in metres; at most
/// `limit`.
pub fn open_near(
    conn: &mut Conn<'_>,
    circle: Circle,
    service_code: Option<&str>,
    limit: usize,
) -> DbResult<Vec<(IssueRow, f64)>> {
    let filter = IssueFilter {
        statuses: Some(vec![IssueStatus::Open]),
        service_codes: service_code.map(|code| vec![code.to_owned()]),
        ..IssueFilter::default()
    };
    let mut hits = Area::Circle(circle).search(Window::for_points, Order::Nearest, |window| {
        located(conn, &filter, window)
    })?;
    hits.truncate(limit);
    let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
    let distances: std::collections::HashMap<i64, f64> = hits
        .iter()
        .map(|h| (h.id, h.distance_m.unwrap_or(0.0)))
        .collect();
    Ok(by_ids(conn, &ids)?
        .into_iter()
        .map(|row| {
            let distance_m = distances.get(&row.id).copied().unwrap_or(0.0);
            (row, distance_m)
        })
        .collect())
}

/// Serialises de-duplication of these services' reports across servers until the end of
/// the transaction, so two servers receiving reports of one pothole at the same instant
/// cannot both start an issue. SQLite has one writer, which already does this. Lock
/// services in one order (sorted) so that two servers never wait on each other.
pub fn lock_for_dedup(conn: &mut Conn<'_>, services: &[&str]) -> DbResult<()> {
    if let Conn::Postgres(conn) = conn {
        for service in services {
            // hashtext is stable across servers and sessions; the prefix keeps these
            // keys apart from any other advisory lock on the database.
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('upkeep-dedup:' || $1))")
                .bind::<diesel::sql_types::Text, _>(*service)
                .execute(*conn)?;
        }
    }
    Ok(())
}

/// When an issue must have been open to take a report.
#[derive(Debug, Clone, Copy)]
enum OpenAt {
    /// Now: its status is open.
    Now,
    /// At a past time: first reported by then, and not closed before.
    Time(NaiveDateTime),
}

/// The open issue of `service_code` nearest the centre of `circle` and within it, if any.
pub fn nearest_open(
    conn: &mut Conn<'_>,
    service_code: &str,
    circle: Circle,
) -> DbResult<Option<i64>> {
    nearest(conn, service_code, circle, OpenAt::Now)
}

/// The issue of `service_code` nearest the centre of `circle` and within it that was
/// open at `at`: how de-duplication would have grouped a report made then. Imports of
/// past reports use it.
pub fn nearest_open_at(
    conn: &mut Conn<'_>,
    service_code: &str,
    circle: Circle,
    at: NaiveDateTime,
) -> DbResult<Option<i64>> {
    nearest(conn, service_code, circle, OpenAt::Time(at))
}

fn nearest(
    conn: &mut Conn<'_>,
    service_code: &str,
    circle: Circle,
    open: OpenAt,
) -> DbResult<Option<i64>> {
    let bbox = circle.bounding_box();
    let (south, north) = (bbox.south_west.lat, bbox.north_east.lat);
    let (west, east) = (bbox.south_west.lon, bbox.north_east.lon);
    let mut candidates: Vec<(i64, f64, f64)> = Vec::new();
    // One range of cells per row: the same few statements for every report, kept
    // prepared, each read from the (service_code, status, cell, lat, lon) index alone.
    for cells in crate::grid::cell_runs(&bbox) {
        let (first, last) = (*cells.start(), *cells.end());
        let near = issues::service_code
            .eq(service_code)
            .and(issues::cell.between(first, last))
            .and(issues::lat.between(south, north))
            .and(issues::lon.between(west, east));
        let found: Vec<(i64, f64, f64)> = on!(conn, |conn| match open {
            OpenAt::Now => issues::table
                .filter(near)
                .filter(issues::status.eq(IssueStatus::Open))
                .select((issues::id, issues::lat, issues::lon))
                .load(conn)?,
            OpenAt::Time(at) => issues::table
                .filter(near)
                .filter(issues::first_reported_at.le(at))
                .filter(issues::closed_at.is_null().or(issues::closed_at.ge(at)))
                .select((issues::id, issues::lat, issues::lon))
                .load(conn)?,
        });
        candidates.extend(found);
    }
    Ok(candidates
        .into_iter()
        .map(|(id, lat, lon)| (id, circle.centre.distance_m(Coordinates { lon, lat })))
        .filter(|(_, distance)| *distance <= circle.radius_m)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(id, _)| id))
}

/// Sets an issue's state: closed at `closed_at` if given, else open, last changed at
/// `updated_at`.
pub fn settle(
    conn: &mut Conn<'_>,
    issue_id: i64,
    closed_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
) -> DbResult<()> {
    on!(conn, |conn| diesel::update(issues::table.find(issue_id))
        .set((
            issues::status.eq(if closed_at.is_some() {
                IssueStatus::Closed
            } else {
                IssueStatus::Open
            }),
            issues::closed_at.eq(closed_at),
            issues::updated_at.eq(updated_at),
        ))
        .execute(conn)?);
    Ok(())
}

/// Starts an issue; returns its id.
pub fn insert(conn: &mut Conn<'_>, issue: &NewIssue<'_>) -> DbResult<i64> {
    let insert = || diesel::insert_into(issues::table).values(issue);
    Ok(super::kept::inserted_id(
        conn,
        |conn| insert().execute(conn),
        |conn| insert().returning(issues::id).get_result(conn),
    )?)
}

/// Records that the issue's first report is `request_id`.
pub fn set_first_request(conn: &mut Conn<'_>, issue_id: i64, request_id: i64) -> DbResult<()> {
    let first = super::kept::SetFirstRequest {
        issue_id,
        request_id,
    };
    on!(conn, |conn| first.execute(conn)?);
    Ok(())
}

/// True when any of `reporters` has reported this issue before.
pub fn reported_by_any(conn: &mut Conn<'_>, issue_id: i64, reporters: &[String]) -> DbResult<bool> {
    // One statement per key (there are at most three) rather than one `IN` list: on
    // SQLite diesel prepares an `IN` list afresh every time, and this runs per report.
    for reporter in reporters {
        let seen: i64 = on!(conn, |conn| issue_reporters::table
            .filter(issue_reporters::issue_id.eq(issue_id))
            .filter(issue_reporters::reporter.eq(reporter))
            .count()
            .get_result(conn)?);
        if seen > 0 {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Remembers who reported the issue, so they are not counted twice.
pub fn add_reporters(conn: &mut Conn<'_>, issue_id: i64, reporters: &[String]) -> DbResult<()> {
    for reporter in reporters {
        on!(conn, |conn| diesel::insert_into(issue_reporters::table)
            .values((
                issue_reporters::issue_id.eq(issue_id),
                issue_reporters::reporter.eq(reporter),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?);
    }
    Ok(())
}

/// A further report, with these answers, joined the issue at `at`: it counts one more
/// reporter unless `same_reporter`, and its answers are added to those kept on the
/// issue. Returns the issue's first report.
pub fn join(
    conn: &mut Conn<'_>,
    issue_id: i64,
    same_reporter: bool,
    at: NaiveDateTime,
    answers: &Answers,
) -> DbResult<Option<i64>> {
    let joined = super::kept::JoinIssue {
        issue_id,
        added_reporters: i32::from(!same_reporter),
        at,
    };
    let (first, kept): (Option<i64>, Option<Json<AnswerPairs>>) =
        on!(conn, |conn| joined.get_result(conn)?);
    // An issue that keeps none (stored before they were kept) has its answers read from
    // its reports; one report's answers would make a wrong start.
    if let Some(Json(mut kept)) = kept
        && kept.add(answers)
    {
        let set = super::kept::SetIssueAnswers {
            issue_id,
            answers: Json(kept),
        };
        on!(conn, |conn| set.execute(conn)?);
    }
    Ok(first)
}

/// Opens or closes an issue at `at`.
pub fn set_open(conn: &mut Conn<'_>, issue_id: i64, open: bool, at: NaiveDateTime) -> DbResult<()> {
    settle(conn, issue_id, (!open).then_some(at), at)
}

/// (segment, first report, closure) of every issue of the services `codes` on a segment.
pub fn spans_of(
    conn: &mut Conn<'_>,
    codes: &[String],
) -> DbResult<Vec<(i64, NaiveDateTime, Option<NaiveDateTime>)>> {
    let rows: Vec<(Option<i64>, NaiveDateTime, Option<NaiveDateTime>)> =
        on!(conn, |conn| issues::table
            .filter(issues::service_code.eq_any(codes))
            .filter(issues::segment_id.is_not_null())
            .select((
                issues::segment_id,
                issues::first_reported_at,
                issues::closed_at
            ))
            .load(conn)?);
    Ok(rows
        .into_iter()
        .filter_map(|(segment, from, to)| Some((segment?, from, to)))
        .collect())
}

/// An issue's longitude, latitude, first report and closure.
pub type LocatedSpan = (f64, f64, NaiveDateTime, Option<NaiveDateTime>);

/// Every issue of the services `codes`, where and when it was open.
pub fn located_spans_of(conn: &mut Conn<'_>, codes: &[String]) -> DbResult<Vec<LocatedSpan>> {
    on!(conn, |conn| Ok(issues::table
        .filter(issues::service_code.eq_any(codes))
        .select((
            issues::lon,
            issues::lat,
            issues::first_reported_at,
            issues::closed_at
        ))
        .load(conn)?))
}

/// For each issue, its first report's id (kept on the issue when it is started).
pub fn first_reports(
    conn: &mut Conn<'_>,
    issue_ids: &[i64],
) -> DbResult<std::collections::HashMap<i64, i64>> {
    let pairs: Vec<(i64, Option<i64>)> = on!(conn, |conn| issues::table
        .filter(issues::id.eq_any(issue_ids))
        .select((issues::id, issues::first_request_id))
        .load(conn)?);
    Ok(pairs
        .into_iter()
        .filter_map(|(issue, first)| Some((issue, first?)))
        .collect())
}

/// Open issues that have no work order yet, with their segment's road class, lowest id
/// first; only those `among` these ids if given (at most a few thousand: one IN list).
pub fn without_orders(
    conn: &mut Conn<'_>,
    limit: i64,
    among: Option<&[i64]>,
) -> DbResult<Vec<(IssueRow, Option<SegmentClass>)>> {
    use super::schema::{segments, work_orders};
    use diesel::dsl::{exists, not};
    on!(conn, |conn| {
        let mut query = issues::table
            .left_join(segments::table.on(issues::segment_id.eq(segments::id.nullable())))
            .filter(issues::status.eq(IssueStatus::Open))
            .filter(not(exists(
                work_orders::table.filter(work_orders::issue_id.eq(issues::id.nullable())),
            )))
            .select((IssueRow::as_select(), segments::road_class.nullable()))
            .order(issues::id)
            .limit(limit)
            .into_boxed();
        if let Some(ids) = among {
            query = query.filter(issues::id.eq_any(ids));
        }
        Ok(query.load(conn)?)
    })
}

/// (ward, category, open?, first reported, closed) of every issue first reported in
/// `[from, to]`, for planner statistics.
pub type IssueLife = (
    Option<i64>,
    String,
    IssueStatus,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

pub fn lives(
    conn: &mut Conn<'_>,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> DbResult<Vec<IssueLife>> {
    use super::schema::segments;
    on!(conn, |conn| Ok(issues::table
        .left_join(segments::table.on(issues::segment_id.eq(segments::id.nullable())))
        .filter(issues::first_reported_at.between(from, to))
        .select((
            segments::ward_id.nullable(),
            issues::service_code,
            issues::status,
            issues::first_reported_at,
            issues::closed_at,
        ))
        .load(conn)?))
}

/// Open issues per ward.
pub fn open_counts_by_ward(conn: &mut Conn<'_>) -> DbResult<std::collections::HashMap<i64, i64>> {
    use super::schema::segments;
    let rows: Vec<(Option<i64>, i64)> = on!(conn, |conn| issues::table
        .inner_join(segments::table.on(issues::segment_id.eq(segments::id.nullable())))
        .filter(issues::status.eq(IssueStatus::Open))
        .group_by(segments::ward_id)
        .select((segments::ward_id, diesel::dsl::count_star()))
        .load(conn)?);
    Ok(rows
        .into_iter()
        .filter_map(|(ward, n)| Some((ward?, n)))
        .collect())
}

/// What the neighbourhood dashboard reads of one issue: ward, category, road class,
/// status, first report, closing.
pub type WardLife = (
    Option<i64>,
    String,
    Option<SegmentClass>,
    IssueStatus,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

/// Every issue open now, or first reported or closed since `since`, with its ward and
/// road class.
pub fn ward_lives(conn: &mut Conn<'_>, since: NaiveDateTime) -> DbResult<Vec<WardLife>> {
    use super::schema::segments;
    on!(conn, |conn| Ok(issues::table
        .left_join(segments::table.on(issues::segment_id.eq(segments::id.nullable())))
        .filter(
            issues::status
                .eq(IssueStatus::Open)
                .or(issues::first_reported_at.ge(since))
                .or(issues::closed_at.ge(since)),
        )
        .select((
            segments::ward_id.nullable(),
            issues::service_code,
            segments::road_class.nullable(),
            issues::status,
            issues::first_reported_at,
            issues::closed_at,
        ))
        .load(conn)?))
}
