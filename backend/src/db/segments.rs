//! The `segments` table: the road network, cut into pieces of at most 250 m.

use super::schema::segments;
use super::{Conn, DbError, DbResult, NarrowedBy};
use crate::domain::{BoundingBox, SegmentClass};
use crate::search::{Located, Window};
use crate::spatial::{Fingerprint, SegmentShape, lines_of_geojson};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::dsl::EqAny;
use diesel::prelude::*;

/// A stored segment, every column; also how segments are inserted (with their ids when
/// bulk-loading a generated city, or `id` 0 and [`insert`]).
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = segments, treat_none_as_default_value = false)]
pub struct SegmentRow {
    pub id: i64,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub road_class: SegmentClass,
    pub surface: Option<String>,
    pub length_m: f64,
    pub aadt: Option<i32>,
    pub bus_route: bool,
    pub last_resurfaced: Option<NaiveDate>,
    pub ward_id: Option<i64>,
    pub neighbourhood: Option<String>,
    /// A GeoJSON LineString or MultiLineString, longitude first.
    pub geometry: String,
    pub min_lon: f64,
    pub min_lat: f64,
    pub max_lon: f64,
    pub max_lat: f64,
    /// The source file's properties (JSON object), kept whole on import.
    pub properties: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// The grid cell of the centre of the bounding box ([`crate::grid`]).
    pub cell: i64,
}

impl SegmentRow {
    pub fn bounding_box(&self) -> BoundingBox {
        BoundingBox {
            south_west: crate::domain::Coordinates {
                lon: self.min_lon,
                lat: self.min_lat,
            },
            north_east: crate::domain::Coordinates {
                lon: self.max_lon,
                lat: self.max_lat,
            },
        }
    }
}

/// What a list of segments is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct SegmentFilter {
    pub road_classes: Option<Vec<String>>,
    pub ward_ids: Option<Vec<i64>>,
}

/// The segments passing `filter`, as a boxed query for either backend.
fn filtered<'a, DB>(filter: &SegmentFilter) -> segments::BoxedQuery<'a, DB>
where
    DB: diesel::backend::Backend + 'a,
    segments::table:
        diesel::query_dsl::methods::BoxedDsl<'a, DB, Output = segments::BoxedQuery<'a, DB>>,
    segments::BoxedQuery<'a, DB>: NarrowedBy<EqAny<segments::road_class, Vec<String>>>
        + NarrowedBy<EqAny<segments::ward_id, Vec<i64>>>,
{
    let mut query = segments::table.into_boxed();
    if let Some(classes) = &filter.road_classes {
        query = query.filter(segments::road_class.eq_any(classes.clone()));
    }
    if let Some(wards) = &filter.ward_ids {
        query = query.filter(segments::ward_id.eq_any(wards.clone()));
    }
    query
}

/// One page of segments matching `filter`, by id.
pub fn list(
    conn: &mut Conn<'_>,
    filter: &SegmentFilter,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<SegmentRow>> {
    on!(conn, |conn| Ok(filtered(filter)
        .select(SegmentRow::as_select())
        .order(segments::id)
        .limit(limit)
        .offset(offset)
        .load(conn)?))
}

pub fn count(conn: &mut Conn<'_>, filter: &SegmentFilter) -> DbResult<i64> {
    on!(conn, |conn| Ok(filtered(filter)
        .count()
        .get_result(conn)?))
}

/// The segments matching `filter` whose bounding box meets the window's, by id, whole
/// (a segment row is small, and the caller then needs no second read to show them).
pub fn located(
    conn: &mut Conn<'_>,
    filter: &SegmentFilter,
    window: &Window,
) -> DbResult<Vec<SegmentRow>> {
    let bbox = window.bbox;
    on!(conn, |conn| {
        let mut query = filtered(filter)
            .filter(segments::min_lon.le(bbox.north_east.lon))
            .filter(segments::max_lon.ge(bbox.south_west.lon))
            .filter(segments::min_lat.le(bbox.north_east.lat))
            .filter(segments::max_lat.ge(bbox.south_west.lat));
        if let Some(cells) = &window.cells {
            query = query.filter(segments::cell.eq_any(cells.clone()));
        }
        Ok(query
            .select(SegmentRow::as_select())
            .order(segments::id)
            .load(conn)?)
    })
}

impl SegmentRow {
    /// Where the segment is, for the exact test of a search.
    pub fn located(&self) -> DbResult<Located> {
        Ok(Located::Lines(lines_of(self.id, &self.geometry)?))
    }
}

/// The lines of segment `id`'s stored geometry. Imports check geometry before storing
/// it, so one that does not read is corruption, and is said to be.
pub fn lines_of(id: i64, geometry: &str) -> DbResult<Vec<Vec<(f64, f64)>>> {
    lines_of_geojson(geometry).ok_or_else(|| {
        tracing::error!(
            table = "segments",
            id,
            "stored geometry is not a GeoJSON line"
        );
        DbError::Corrupt(format!(
            "segment {id}: the stored geometry is not a GeoJSON LineString or MultiLineString"
        ))
    })
}

/// Segments by id, in the order of `ids`.
pub fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> DbResult<Vec<SegmentRow>> {
    let rows: Vec<SegmentRow> = on!(conn, |conn| segments::table
        .filter(segments::id.eq_any(ids))
        .select(SegmentRow::as_select())
        .load(conn)?);
    Ok(super::in_order_of(ids, rows, |row| row.id))
}

/// Stores new segments (their `id` is ignored) in one transaction; returns their ids.
pub fn insert(conn: &mut Conn<'_>, rows: &[SegmentRow]) -> DbResult<Vec<i64>> {
    on!(conn, |conn| {
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = diesel::insert_into(segments::table)
                .values((
                    segments::external_id.eq(&row.external_id),
                    segments::name.eq(&row.name),
                    segments::road_class.eq(&row.road_class),
                    segments::surface.eq(&row.surface),
                    segments::length_m.eq(row.length_m),
                    segments::aadt.eq(row.aadt),
                    segments::bus_route.eq(row.bus_route),
                    segments::last_resurfaced.eq(row.last_resurfaced),
                    segments::ward_id.eq(row.ward_id),
                    segments::neighbourhood.eq(&row.neighbourhood),
                    segments::geometry.eq(&row.geometry),
                    segments::min_lon.eq(row.min_lon),
                    segments::min_lat.eq(row.min_lat),
                    segments::max_lon.eq(row.max_lon),
                    segments::max_lat.eq(row.max_lat),
                    segments::properties.eq(&row.properties),
                    segments::created_at.eq(row.created_at),
                    segments::updated_at.eq(row.updated_at),
                    segments::cell.eq(row.cell),
                ))
                .returning(segments::id)
                .get_result(conn)?;
            ids.push(id);
        }
        Ok(ids)
    })
}

pub fn fingerprint(conn: &mut Conn<'_>) -> DbResult<Fingerprint> {
    on!(conn, |conn| Ok(segments::table
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::max(segments::updated_at)
        ))
        .first(conn)?))
}

/// Every segment's id, class and line.
pub fn shapes(conn: &mut Conn<'_>) -> DbResult<Vec<SegmentShape>> {
    let rows: Vec<(i64, SegmentClass, String)> = on!(conn, |conn| segments::table
        .select((segments::id, segments::road_class, segments::geometry))
        .load(conn)?);
    rows.into_iter()
        .map(|(id, class, geometry)| {
            Ok(SegmentShape {
                id,
                class: class.road_class(),
                lines: lines_of(id, &geometry)?,
            })
        })
        .collect()
}

/// One segment as the model reads it.
pub type SegmentFacts = (
    i64,
    f64,
    SegmentClass,
    Option<i32>,
    bool,
    Option<NaiveDate>,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Every segment as the risk model reads it, by id.
pub fn risk_facts(conn: &mut Conn<'_>) -> DbResult<Vec<SegmentFacts>> {
    on!(conn, |conn| Ok(segments::table
        .order(segments::id)
        .select((
            segments::id,
            segments::length_m,
            segments::road_class,
            segments::aadt,
            segments::bus_route,
            segments::last_resurfaced,
            segments::geometry,
            segments::neighbourhood,
            segments::surface,
            segments::external_id,
        ))
        .load(conn)?))
}

/// (id, external id) of every segment that has one.
pub fn external_ids(conn: &mut Conn<'_>) -> DbResult<Vec<(i64, String)>> {
    let rows: Vec<(i64, Option<String>)> = on!(conn, |conn| segments::table
        .filter(segments::external_id.is_not_null())
        .select((segments::id, segments::external_id))
        .load(conn)?);
    Ok(rows
        .into_iter()
        .filter_map(|(id, external)| Some((id, external?)))
        .collect())
}

/// Attributes to change on a segment; `None` leaves one as it is.
#[derive(Debug, Clone, Default, PartialEq, AsChangeset)]
#[diesel(table_name = segments)]
pub struct SegmentChanges {
    pub name: Option<String>,
    pub road_class: Option<SegmentClass>,
    pub surface: Option<String>,
    pub aadt: Option<i32>,
    pub bus_route: Option<bool>,
    pub last_resurfaced: Option<NaiveDate>,
    pub properties: Option<String>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn change(conn: &mut Conn<'_>, id: i64, changes: &SegmentChanges) -> DbResult<()> {
    on!(conn, |conn| diesel::update(segments::table.find(id))
        .set(changes)
        .execute(conn)?);
    Ok(())
}

/// The extent of the road network: (west, south, east, north), degrees.
pub fn extent(conn: &mut Conn<'_>) -> DbResult<Option<(f64, f64, f64, f64)>> {
    use diesel::dsl::{max, min};
    let row: (Option<f64>, Option<f64>, Option<f64>, Option<f64>) =
        on!(conn, |conn| segments::table
            .select((
                min(segments::min_lon),
                min(segments::min_lat),
                max(segments::max_lon),
                max(segments::max_lat),
            ))
            .first(conn)?);
    Ok(match row {
        (Some(w), Some(s), Some(e), Some(n)) => Some((w, s, e, n)),
        _ => None,
    })
}
