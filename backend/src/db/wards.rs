//! The `wards` table, and counts of reports and issues per ward.

use super::schema::{requests, segments, wards};
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = wards)]
pub struct Ward {
    pub id: i64,
    pub name: String,
    pub population: Option<i32>,
    pub income_index: Option<f64>,
    /// A GeoJSON Polygon or MultiPolygon.
    pub geometry: Option<String>,
    /// 0 to 1: how much its residents depend on safe streets (a priority weight).
    pub vulnerability: f64,
}

/// Sets a ward's vulnerability; false when there is no such ward.
pub fn set_vulnerability(conn: &mut Conn<'_>, id: i64, vulnerability: f64) -> DbResult<bool> {
    on!(conn, |conn| Ok(diesel::update(wards::table.find(id))
        .set(wards::vulnerability.eq(vulnerability))
        .execute(conn)?
        == 1))
}

pub fn all(conn: &mut Conn<'_>) -> DbResult<Vec<Ward>> {
    on!(conn, |conn| Ok(wards::table
        .select(Ward::as_select())
        .order(wards::id)
        .load(conn)?))
}

/// Every ward's name by id, without reading the boundaries.
pub fn names(conn: &mut Conn<'_>) -> DbResult<HashMap<i64, String>> {
    on!(conn, |conn| Ok(wards::table
        .select((wards::id, wards::name))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .collect()))
}

/// One ward's name; None when there is no such ward.
pub fn name(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<String>> {
    on!(conn, |conn| Ok(wards::table
        .find(id)
        .select(wards::name)
        .first(conn)
        .optional()?))
}

/// Ward ids by lower-case name and by id (as text), for matching a file's values.
pub fn lookup(conn: &mut Conn<'_>) -> DbResult<HashMap<String, i64>> {
    Ok(all(conn)?
        .into_iter()
        .flat_map(|w| [(w.name.to_lowercase(), w.id), (w.id.to_string(), w.id)])
        .collect())
}

/// Reports per (ward, status, service), counted through the segment each snapped to;
/// reports made in `[from, to]` when given.
pub fn report_counts(
    conn: &mut Conn<'_>,
    from: Option<NaiveDateTime>,
    to: Option<NaiveDateTime>,
) -> DbResult<Vec<(i64, String, String, i64)>> {
    let rows: Vec<(Option<i64>, String, String, i64)> = on!(conn, |conn| {
        // Open ends as far-off dates: a grouped query cannot be boxed.
        let from = from.unwrap_or(far_past());
        let to = to.unwrap_or(far_future());
        requests::table
            .inner_join(segments::table.on(requests::segment_id.eq(segments::id.nullable())))
            .filter(requests::accepted_at.is_not_null())
            .filter(segments::ward_id.is_not_null())
            .filter(requests::requested_at.between(from, to))
            .group_by((segments::ward_id, requests::status, requests::service_code))
            .select((
                segments::ward_id,
                requests::status,
                requests::service_code,
                diesel::dsl::count_star(),
            ))
            .load(conn)?
    });
    Ok(rows
        .into_iter()
        .filter_map(|(ward, status, code, n)| Some((ward?, status, code, n)))
        .collect())
}

fn far_past() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(1900, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

fn far_future() -> NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(9999, 12, 31)
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .unwrap_or_default()
}
