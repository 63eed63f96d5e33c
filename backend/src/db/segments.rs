//! The `segments` table, as the spatial index needs it.

use super::schema::segments;
use super::{Database, DbResult};
use crate::spatial::{SegmentShape, lines_of_geojson};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// What changes when segments are added, edited or removed: their count and the latest
/// edit. Servers compare it to know when to rebuild their index.
pub type Fingerprint = (i64, Option<NaiveDateTime>);

pub fn fingerprint(db: &Database) -> DbResult<Fingerprint> {
    read!(db, |conn| Ok(segments::table
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::max(segments::updated_at)
        ))
        .first(conn)?))
}

/// Every segment's id, class and line. Rows whose geometry does not parse are skipped
/// (imports check geometry before storing, so there should be none).
pub fn shapes(db: &Database) -> DbResult<Vec<SegmentShape>> {
    let rows: Vec<(i64, String, String)> = read!(db, |conn| segments::table
        .select((segments::id, segments::road_class, segments::geometry))
        .load(conn)?);
    Ok(rows
        .into_iter()
        .filter_map(|(id, class, geometry)| {
            Some(SegmentShape {
                id,
                class: class.parse().ok(),
                lines: lines_of_geojson(&geometry)?,
            })
        })
        .collect())
}
