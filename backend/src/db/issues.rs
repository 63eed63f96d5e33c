//! The `issues` table: problems as the city tracks them, each gathering its reports.

use super::requests::ISSUE_OPEN;
use super::schema::issues;
use super::{Database, DbResult};
use crate::domain::{Circle, Coordinates};
use crate::search::{Area, Located, Order, Window};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// An issue, as stored and as bulk-loaded (the demo city brings its own ids).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = issues, treat_none_as_default_value = false)]
pub struct IssueRow {
    pub id: i64,
    pub service_code: String,
    pub status: String,
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

/// What a list of issues is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    /// `open` or `closed`.
    pub statuses: Option<Vec<String>>,
    pub service_codes: Option<Vec<String>>,
    /// Inclusive bounds on `first_reported_at`.
    pub reported_from: Option<NaiveDateTime>,
    pub reported_to: Option<NaiveDateTime>,
}

macro_rules! filtered {
    ($filter:expr) => {{
        let filter: &IssueFilter = $filter;
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
    }};
}

/// One page of issues matching `filter`, most recently reported first.
pub fn list(
    db: &Database,
    filter: &IssueFilter,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<IssueRow>> {
    read!(db, |conn| Ok(filtered!(filter)
        .select(IssueRow::as_select())
        .order((issues::first_reported_at.desc(), issues::id.desc()))
        .limit(limit)
        .offset(offset)
        .load(conn)?))
}

pub fn count(db: &Database, filter: &IssueFilter) -> DbResult<i64> {
    read!(db, |conn| Ok(filtered!(filter).count().get_result(conn)?))
}

/// The issues matching `filter` in `window`, most recently reported first.
pub fn located(
    db: &Database,
    filter: &IssueFilter,
    window: &Window,
) -> DbResult<Vec<(i64, Located)>> {
    let bbox = window.bbox;
    let rows: Vec<(i64, f64, f64)> = read!(db, |conn| {
        let mut query = filtered!(filter)
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

/// Issues by id, in the order of `ids`.
pub fn by_ids(db: &Database, ids: &[i64]) -> DbResult<Vec<IssueRow>> {
    let rows: Vec<IssueRow> = read!(db, |conn| issues::table
        .filter(issues::id.eq_any(ids))
        .select(IssueRow::as_select())
        .load(conn)?);
    Ok(super::in_order_of(ids, rows, |row| row.id))
}

/// Open issues within `circle`, nearest first, with their distance in metres; at most
/// `limit`.
pub fn open_near(
    db: &Database,
    circle: Circle,
    service_code: Option<&str>,
    limit: usize,
) -> DbResult<Vec<(IssueRow, f64)>> {
    let filter = IssueFilter {
        statuses: Some(vec![ISSUE_OPEN.to_owned()]),
        service_codes: service_code.map(|code| vec![code.to_owned()]),
        ..IssueFilter::default()
    };
    let mut hits = Area::Circle(circle).search(Window::for_points, Order::Nearest, |window| {
        located(db, &filter, window)
    })?;
    hits.truncate(limit);
    let ids: Vec<i64> = hits.iter().map(|h| h.id).collect();
    let distances: std::collections::HashMap<i64, f64> = hits
        .iter()
        .map(|h| (h.id, h.distance_m.unwrap_or(0.0)))
        .collect();
    Ok(by_ids(db, &ids)?
        .into_iter()
        .map(|row| {
            let distance_m = distances.get(&row.id).copied().unwrap_or(0.0);
            (row, distance_m)
        })
        .collect())
}
