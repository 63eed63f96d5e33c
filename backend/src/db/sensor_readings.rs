//! The `sensor_readings` table: probe vehicles' and phones' readings on segments.

use super::schema::sensor_readings;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// Hands `each` the (segment, when, IRI) of every roughness reading observed at or after
/// `since` (all of them without it), one row at a time: a large city's readings are
/// tens of millions, too many to hold twice.
pub fn each_roughness(
    conn: &mut Conn<'_>,
    since: Option<NaiveDateTime>,
    each: &mut dyn FnMut(i64, NaiveDateTime, f64),
) -> DbResult<()> {
    use super::schema::segments;
    use diesel::connection::DefaultLoadingMode;
    let columns = (
        sensor_readings::segment_id,
        sensor_readings::observed_at,
        sensor_readings::value,
    );
    on!(conn, |conn| {
        let mut query = sensor_readings::table
            .filter(sensor_readings::kind.eq("roughness_iri_m_per_km"))
            .select(columns)
            .into_boxed();
        if let Some(since) = since {
            // "Of a segment" lets SQLite read the window segment by segment through
            // the (segment, time) index rather than scan every reading.
            query = query
                .filter(sensor_readings::observed_at.ge(since))
                .filter(sensor_readings::segment_id.eq_any(segments::table.select(segments::id)));
        }
        for row in query.load_iter::<(i64, NaiveDateTime, f64), DefaultLoadingMode>(conn)? {
            let (segment, at, value) = row?;
            each(segment, at, value);
        }
    });
    Ok(())
}

/// A reading to store.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = sensor_readings)]
pub struct NewReading {
    pub segment_id: i64,
    pub kind: String,
    pub source: String,
    pub value: f64,
    pub observed_at: NaiveDateTime,
}

/// The stored readings of `source` and `kind` on these segments between two times:
/// (segment, when) → (row id, value).
pub fn known(
    conn: &mut Conn<'_>,
    source: &str,
    kind: &str,
    segment_ids: &[i64],
    between: (NaiveDateTime, NaiveDateTime),
) -> DbResult<HashMap<(i64, NaiveDateTime), (i64, f64)>> {
    let mut found = HashMap::new();
    for chunk in segment_ids.chunks(500) {
        let rows: Vec<(i64, NaiveDateTime, i64, f64)> = on!(conn, |conn| sensor_readings::table
            .filter(sensor_readings::source.eq(source))
            .filter(sensor_readings::kind.eq(kind))
            .filter(sensor_readings::segment_id.eq_any(chunk))
            .filter(sensor_readings::observed_at.between(between.0, between.1))
            .select((
                sensor_readings::segment_id,
                sensor_readings::observed_at,
                sensor_readings::id,
                sensor_readings::value,
            ))
            .load(conn)?);
        for (segment, at, id, value) in rows {
            found.insert((segment, at), (id, value));
        }
    }
    Ok(found)
}

pub fn insert(conn: &mut Conn<'_>, readings: &[NewReading]) -> DbResult<()> {
    for chunk in readings.chunks(500) {
        on!(conn, |conn| diesel::insert_into(sensor_readings::table)
            .values(chunk)
            .execute(conn)?);
    }
    Ok(())
}

pub fn set_value(conn: &mut Conn<'_>, id: i64, value: f64) -> DbResult<()> {
    on!(conn, |conn| diesel::update(sensor_readings::table.find(id))
        .set(sensor_readings::value.eq(value))
        .execute(conn)?);
    Ok(())
}

/// The readings of `source`, as the data-quality report reads them.
pub fn facts(conn: &mut Conn<'_>, source: &str) -> DbResult<Vec<super::import_runs::SourceFact>> {
    use super::schema::segments;
    let rows: Vec<(NaiveDateTime, i64, Option<i64>)> = on!(conn, |conn| sensor_readings::table
        .inner_join(segments::table.on(sensor_readings::segment_id.eq(segments::id)))
        .filter(sensor_readings::source.eq(source))
        .select((
            sensor_readings::observed_at,
            sensor_readings::segment_id,
            segments::ward_id,
        ))
        .load(conn)?);
    Ok(super::import_runs::on_segments(rows))
}
