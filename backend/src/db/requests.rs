//! The `requests` and `request_updates` tables: residents' reports and their history.

use super::media::MediaRow;
use super::schema::{issue_reporters, issues, media, request_updates, requests};
use super::{Database, DbResult, WriteTransaction};
use crate::domain::{BoundingBox, Circle, Coordinates, RequestStatus};
use crate::search::{Area, Located, Order, Window};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A stored report, every column (contact details included: never serialise this).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = requests)]
pub struct RequestRow {
    pub id: i64,
    pub token: Option<String>,
    pub accepted_at: Option<NaiveDateTime>,
    pub service_code: String,
    pub status: String,
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
    pub attributes: String,
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
}

impl RequestRow {
    pub fn position(&self) -> Option<Coordinates> {
        Some(Coordinates {
            lon: self.lon?,
            lat: self.lat?,
        })
    }

    /// The stored status; an unknown word (from a newer release) reads as open.
    pub fn status(&self) -> RequestStatus {
        self.status.parse().unwrap_or(RequestStatus::Open)
    }
}

/// A report ready to be stored.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = requests)]
pub struct NewRequest {
    pub token: Option<String>,
    pub accepted_at: Option<NaiveDateTime>,
    pub service_code: String,
    pub status: String,
    pub description: Option<String>,
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub address: Option<String>,
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    pub media_url: Option<String>,
    pub attributes: String,
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
}

/// One entry of a report's history.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = request_updates)]
pub struct UpdateRow {
    pub id: i64,
    pub request_id: i64,
    pub status: String,
    pub description: Option<String>,
    pub media_url: Option<String>,
    pub author: String,
    pub created_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = request_updates)]
pub(super) struct NewUpdate<'a> {
    pub(super) request_id: i64,
    pub(super) status: &'a str,
    pub(super) description: Option<&'a str>,
    pub(super) media_url: Option<&'a str>,
    pub(super) author: &'a str,
    pub(super) created_at: NaiveDateTime,
}

/// A report to store with its photo (if any) and the first line of its history.
pub struct Submission {
    pub request: NewRequest,
    pub photo: Option<MediaRow>,
    pub first_note: &'static str,
    /// Join the nearest open issue of the same service within this many metres, or
    /// start a new issue; None: no issue (reports without a position, queued requests).
    pub duplicate_radius_m: Option<f64>,
    /// The notice for a report that joined an issue, given the issue's first report.
    pub duplicate_notice: fn(i64) -> String,
}

/// A stored report, and the first report of the issue it joined if it was a duplicate.
#[derive(Debug, Clone)]
pub struct Stored {
    pub row: RequestRow,
    pub duplicate_of: Option<i64>,
}

#[derive(Insertable)]
#[diesel(table_name = issues)]
struct NewIssue<'a> {
    service_code: &'a str,
    status: &'a str,
    lat: f64,
    lon: f64,
    segment_id: Option<i64>,
    reporter_count: i32,
    first_reported_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    cell: i64,
}

/// Stores each submission with its photo and first history entry, all in one
/// transaction: either every one is stored or none is. Returns them in order.
///
/// De-duplication happens here, inside the transaction, so two reports of one pothole
/// arriving at once cannot both start an issue.
pub fn insert_all(db: &Database, submissions: &[&Submission]) -> DbResult<Vec<Stored>> {
    // Services whose reports may join an issue, in one order so that two servers locking
    // several never wait on each other in a cycle.
    let mut services: Vec<&str> = submissions
        .iter()
        .filter(|s| s.duplicate_radius_m.is_some())
        .map(|s| s.request.service_code.as_str())
        .collect();
    services.sort_unstable();
    services.dedup();
    write!(db, |conn| conn.write_transaction(|conn| {
        DedupLock::lock(conn, &services)?;
        let mut stored = Vec::with_capacity(submissions.len());
        for submission in submissions {
            if let Some(photo) = &submission.photo {
                diesel::insert_into(media::table)
                    .values(photo)
                    .execute(conn)?;
            }
            let mut request = std::borrow::Cow::Borrowed(&submission.request);
            let mut duplicate_of = None;
            let mut starts_issue = None;
            if let (Some(radius_m), Some(lat), Some(lon)) =
                (submission.duplicate_radius_m, request.lat, request.lon)
            {
                let circle = Circle {
                    centre: Coordinates { lon, lat },
                    radius_m,
                };
                let window = Window::for_points(circle.bounding_box());
                let bbox = window.bbox;
                let mut query = issues::table
                    .filter(issues::service_code.eq(&request.service_code))
                    .filter(issues::status.eq(ISSUE_OPEN))
                    .filter(issues::lat.between(bbox.south_west.lat, bbox.north_east.lat))
                    .filter(issues::lon.between(bbox.south_west.lon, bbox.north_east.lon))
                    .into_boxed();
                if let Some(cells) = &window.cells {
                    query = query.filter(issues::cell.eq_any(cells.clone()));
                }
                let candidates: Vec<(i64, f64, f64)> = query
                    .select((issues::id, issues::lat, issues::lon))
                    .load(conn)?;
                let nearest = candidates
                    .into_iter()
                    .map(|(id, lat, lon)| (id, circle.centre.distance_m(Coordinates { lon, lat })))
                    .filter(|(_, distance)| *distance <= radius_m)
                    .min_by(|a, b| a.1.total_cmp(&b.1));
                let reporters = reporter_keys(&request);
                let (issue_id, new_issue) = match nearest {
                    Some((issue_id, _)) => {
                        // The same resident reporting twice is not a second reporter;
                        // anonymous reports each count.
                        let seen_before: i64 = if reporters.is_empty() {
                            0
                        } else {
                            issue_reporters::table
                                .filter(issue_reporters::issue_id.eq(issue_id))
                                .filter(issue_reporters::reporter.eq_any(&reporters))
                                .count()
                                .get_result(conn)?
                        };
                        diesel::update(issues::table.find(issue_id))
                            .set((
                                issues::reporter_count
                                    .eq(issues::reporter_count + i32::from(seen_before == 0)),
                                issues::updated_at.eq(request.requested_at),
                            ))
                            .execute(conn)?;
                        duplicate_of = issues::table
                            .find(issue_id)
                            .select(issues::first_request_id)
                            .first(conn)?;
                        (issue_id, false)
                    }
                    None => {
                        let issue_id = diesel::insert_into(issues::table)
                            .values(NewIssue {
                                service_code: &request.service_code,
                                status: ISSUE_OPEN,
                                lat,
                                lon,
                                segment_id: request.segment_id,
                                reporter_count: 1,
                                first_reported_at: request.requested_at,
                                updated_at: request.requested_at,
                                cell: crate::grid::cell_of(Coordinates { lon, lat }),
                            })
                            .returning(issues::id)
                            .get_result(conn)?;
                        (issue_id, true)
                    }
                };
                for reporter in &reporters {
                    diesel::insert_into(issue_reporters::table)
                        .values((
                            issue_reporters::issue_id.eq(issue_id),
                            issue_reporters::reporter.eq(reporter),
                        ))
                        .on_conflict_do_nothing()
                        .execute(conn)?;
                }
                starts_issue = new_issue.then_some(issue_id);
                let owned = request.to_mut();
                owned.issue_id = Some(issue_id);
                if let Some(parent) = duplicate_of {
                    owned.service_notice = Some((submission.duplicate_notice)(parent));
                }
            }
            let row: RequestRow = diesel::insert_into(requests::table)
                .values(request.as_ref())
                .returning(RequestRow::as_returning())
                .get_result(conn)?;
            if let Some(issue_id) = starts_issue {
                diesel::update(issues::table.find(issue_id))
                    .set(issues::first_request_id.eq(row.id))
                    .execute(conn)?;
            }
            diesel::insert_into(request_updates::table)
                .values(NewUpdate {
                    request_id: row.id,
                    status: &row.status,
                    description: Some(submission.first_note),
                    media_url: row.media_url.as_deref(),
                    author: "resident",
                    created_at: row.requested_at,
                })
                .execute(conn)?;
            stored.push(Stored { row, duplicate_of });
        }
        Ok(stored)
    }))
}

/// Serialises de-duplication of one service's reports across servers until the end of
/// the transaction, so two servers receiving reports of one pothole at the same instant
/// cannot both start an issue. SQLite has one writer, which already does this.
trait DedupLock {
    fn lock(&mut self, services: &[&str]) -> diesel::QueryResult<()>;
}

impl DedupLock for diesel::sqlite::SqliteConnection {
    fn lock(&mut self, _services: &[&str]) -> diesel::QueryResult<()> {
        Ok(())
    }
}

impl DedupLock for diesel::pg::PgConnection {
    fn lock(&mut self, services: &[&str]) -> diesel::QueryResult<()> {
        for service in services {
            // hashtext is stable across servers and sessions; the prefix keeps these
            // keys apart from any other advisory lock on the database.
            diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext('upkeep-dedup:' || $1))")
                .bind::<diesel::sql_types::Text, _>(*service)
                .execute(self)?;
        }
        Ok(())
    }
}

/// How the reporter of `request` may be recognised again: by e-mail, device or
/// account, whichever it gave (none for an anonymous report).
fn reporter_keys(request: &NewRequest) -> Vec<String> {
    [
        ("email", &request.email),
        ("device", &request.device_id),
        ("account", &request.account_id),
    ]
    .into_iter()
    .filter_map(|(kind, value)| {
        value
            .as_deref()
            .map(|v| format!("{kind}:{}", v.trim().to_lowercase()))
    })
    .collect()
}

/// An issue's status while it takes new reports.
pub const ISSUE_OPEN: &str = "open";

/// For each issue, its first report's id (kept on the issue when it is started).
pub fn first_reports(
    db: &Database,
    issue_ids: &[i64],
) -> DbResult<std::collections::HashMap<i64, i64>> {
    let pairs: Vec<(i64, Option<i64>)> = read!(db, |conn| issues::table
        .filter(issues::id.eq_any(issue_ids))
        .select((issues::id, issues::first_request_id))
        .load(conn)?);
    Ok(pairs
        .into_iter()
        .filter_map(|(issue, first)| Some((issue, first?)))
        .collect())
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

/// The accepted reports passing `filter` (its circle aside, which needs the exact
/// distance), as a boxed query for the connection at hand.
macro_rules! filtered {
    ($filter:expr) => {{
        let filter: &RequestFilter = $filter;
        let mut query = requests::table
            .filter(requests::accepted_at.is_not_null())
            .into_boxed();
        if let Some(ids) = &filter.ids {
            query = query.filter(requests::id.eq_any(ids.clone()));
        }
        if let Some(codes) = &filter.service_codes {
            query = query.filter(requests::service_code.eq_any(codes.clone()));
        }
        if let Some(statuses) = &filter.statuses {
            let words: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
            query = query.filter(requests::status.eq_any(words));
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
        }
        query
    }};
}

/// One page of reports matching `filter`, newest first.
pub fn list(
    db: &Database,
    filter: &RequestFilter,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<RequestRow>> {
    match filter.circle {
        None => read!(db, |conn| Ok(filtered!(filter)
            .select(RequestRow::as_select())
            .order((requests::requested_at.desc(), requests::id.desc()))
            .limit(limit)
            .offset(offset)
            .load(conn)?)),
        Some(circle) => {
            // The circle is cut to the true great-circle distance before paging.
            let hits = Area::Circle(circle).search(Window::for_points, Order::AsFetched, |w| {
                located(db, filter, w)
            })?;
            let ids: Vec<i64> = hits
                .iter()
                .skip(usize::try_from(offset).unwrap_or(usize::MAX))
                .take(usize::try_from(limit).unwrap_or(usize::MAX))
                .map(|h| h.id)
                .collect();
            by_ids(db, &ids)
        }
    }
}

/// How many reports match `filter` (without its circle).
pub fn count(db: &Database, filter: &RequestFilter) -> DbResult<i64> {
    read!(db, |conn| Ok(filtered!(filter).count().get_result(conn)?))
}

/// The reports matching `filter` (without its circle) whose position lies in `window`,
/// newest first: the candidates of a search by place.
///
/// Without other filters this reads only the covering index `requests_cell`, so it is
/// ordered here rather than in SQL.
pub fn located(
    db: &Database,
    filter: &RequestFilter,
    window: &Window,
) -> DbResult<Vec<(i64, Located)>> {
    let bbox = window.bbox;
    let mut rows: Vec<(i64, Option<f64>, Option<f64>, NaiveDateTime)> = read!(db, |conn| {
        let mut query = filtered!(filter)
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

/// Accepted reports by id, in the order of `ids`.
pub fn by_ids(db: &Database, ids: &[i64]) -> DbResult<Vec<RequestRow>> {
    let rows: Vec<RequestRow> = read!(db, |conn| requests::table
        .filter(requests::id.eq_any(ids))
        .filter(requests::accepted_at.is_not_null())
        .select(RequestRow::as_select())
        .load(conn)?);
    Ok(super::in_order_of(ids, rows, |row| row.id))
}

/// An accepted report by id.
pub fn find(db: &Database, id: i64) -> DbResult<Option<RequestRow>> {
    read!(db, |conn| Ok(requests::table
        .filter(requests::id.eq(id))
        .filter(requests::accepted_at.is_not_null())
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?))
}

/// A report by the token its client was given, accepted or not.
pub fn find_by_token(db: &Database, token: &str) -> DbResult<Option<RequestRow>> {
    read!(db, |conn| Ok(requests::table
        .filter(requests::token.eq(token))
        .select(RequestRow::as_select())
        .first(conn)
        .optional()?))
}

/// The history of these reports, oldest entry first.
pub fn updates_for(db: &Database, request_ids: &[i64]) -> DbResult<Vec<UpdateRow>> {
    read!(db, |conn| Ok(request_updates::table
        .filter(request_updates::request_id.eq_any(request_ids))
        .order((request_updates::created_at, request_updates::id))
        .select(UpdateRow::as_select())
        .load(conn)?))
}

/// History entries of accepted reports made in `[from, to]`, oldest first.
pub fn updates_between(
    db: &Database,
    from: NaiveDateTime,
    to: NaiveDateTime,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<UpdateRow>> {
    read!(db, |conn| Ok(request_updates::table
        .inner_join(requests::table)
        .filter(requests::accepted_at.is_not_null())
        .filter(request_updates::created_at.between(from, to))
        .order((request_updates::created_at, request_updates::id))
        .limit(limit)
        .offset(offset)
        .select(UpdateRow::as_select())
        .load(conn)?))
}

/// Sets a report's status with a note for the resident, and records it in the history.
/// Returns the updated report, or None if there is no accepted report with that id.
pub fn change_status(
    db: &Database,
    id: i64,
    status: RequestStatus,
    notes: Option<&str>,
    author: &str,
    at: NaiveDateTime,
) -> DbResult<Option<RequestRow>> {
    let closed_at = (!status.is_open()).then_some(at);
    write!(db, |conn| conn.write_transaction(|conn| {
        let updated: Option<RequestRow> = diesel::update(
            requests::table
                .filter(requests::id.eq(id))
                .filter(requests::accepted_at.is_not_null()),
        )
        .set((
            requests::status.eq(status.as_str()),
            requests::status_notes.eq(notes),
            requests::updated_at.eq(at),
            requests::closed_at.eq(closed_at),
        ))
        .returning(RequestRow::as_returning())
        .get_result(conn)
        .optional()?;
        if let Some(row) = &updated {
            // A closed report closes its issue, so later reports there start a new one.
            if let Some(issue_id) = row.issue_id {
                diesel::update(issues::table.find(issue_id))
                    .set((
                        issues::status.eq(if status.is_open() {
                            ISSUE_OPEN
                        } else {
                            "closed"
                        }),
                        issues::updated_at.eq(at),
                        issues::closed_at.eq(closed_at),
                    ))
                    .execute(conn)?;
                if !status.is_open() {
                    super::work_orders::cancel_open_order!(conn, issue_id, author, at);
                }
            }
            diesel::insert_into(request_updates::table)
                .values(NewUpdate {
                    request_id: row.id,
                    status: status.as_str(),
                    description: notes,
                    media_url: None,
                    author,
                    created_at: at,
                })
                .execute(conn)?;
        }
        Ok(updated)
    }))
}

/// Accepts queued requests to batch services that were made at or before `cutoff`.
/// Returns how many were accepted.
pub fn accept_queued(db: &Database, cutoff: NaiveDateTime, at: NaiveDateTime) -> DbResult<usize> {
    write!(db, |conn| Ok(diesel::update(
        requests::table
            .filter(requests::accepted_at.is_null())
            .filter(requests::requested_at.le(cutoff))
    )
    .set((requests::accepted_at.eq(at), requests::updated_at.eq(at)))
    .execute(conn)?))
}

/// (service, time) of every accepted report made at or after `from`, for weekly charts.
pub fn made_since(db: &Database, from: NaiveDateTime) -> DbResult<Vec<(String, NaiveDateTime)>> {
    read!(db, |conn| Ok(requests::table
        .filter(requests::requested_at.ge(from))
        .filter(requests::accepted_at.is_not_null())
        .select((requests::service_code, requests::requested_at))
        .load(conn)?))
}
