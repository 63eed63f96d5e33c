//! The `sensor_readings` table: probe vehicles' and phones' readings on segments.

use super::schema::sensor_readings;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// (segment, when, IRI) of every roughness reading.
pub fn roughness(conn: &mut Conn<'_>) -> DbResult<Vec<(i64, NaiveDateTime, f64)>> {
    on!(conn, |conn| Ok(sensor_readings::table
        .filter(sensor_readings::kind.eq("roughness_iri_m_per_km"))
        .select((
            sensor_readings::segment_id,
            sensor_readings::observed_at,
            sensor_readings::value,
        ))
        .load(conn)?))
}
