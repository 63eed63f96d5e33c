//! The `issues` table: problems as the city tracks them, each gathering its reports.

use super::requests::ISSUE_OPEN;
use super::schema::issues;
use super::{Database, DbResult};
use crate::domain::{Circle, Coordinates};
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
}

/// Open issues within `circle`, nearest first, with their distance in metres; at most
/// `limit`.
pub fn open_near(
    db: &Database,
    circle: Circle,
    service_code: Option<&str>,
    limit: usize,
) -> DbResult<Vec<(IssueRow, f64)>> {
    let bbox = circle.bounding_box();
    let rows: Vec<IssueRow> = read!(db, |conn| {
        let mut query = issues::table
            .filter(issues::status.eq(ISSUE_OPEN))
            .filter(issues::lat.between(bbox.south_west.lat, bbox.north_east.lat))
            .filter(issues::lon.between(bbox.south_west.lon, bbox.north_east.lon))
            .select(IssueRow::as_select())
            .into_boxed();
        if let Some(code) = service_code {
            query = query.filter(issues::service_code.eq(code.to_owned()));
        }
        query.load(conn)?
    });
    let mut near: Vec<(IssueRow, f64)> = rows
        .into_iter()
        .map(|row| {
            let distance = circle.centre.distance_m(Coordinates {
                lon: row.lon,
                lat: row.lat,
            });
            (row, distance)
        })
        .filter(|(_, distance)| *distance <= circle.radius_m)
        .collect();
    near.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.id.cmp(&b.0.id)));
    near.truncate(limit);
    Ok(near)
}
