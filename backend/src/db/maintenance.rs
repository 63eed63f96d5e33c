//! The `maintenance_history` table: work done on segments, which the risk features read.

use super::schema::maintenance_history;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// A maintenance record to write.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = maintenance_history)]
pub struct NewMaintenance {
    pub segment_id: i64,
    pub work_order_id: Option<i64>,
    pub kind: String,
    pub performed_at: NaiveDateTime,
    pub notes: Option<String>,
}

/// Records work done on a segment.
pub fn insert(conn: &mut Conn<'_>, record: &NewMaintenance) -> DbResult<()> {
    on!(conn, |conn| diesel::insert_into(maintenance_history::table)
        .values(record)
        .execute(conn)?);
    Ok(())
}

/// (segment, kind, when) of every maintenance record.
pub fn all(conn: &mut Conn<'_>) -> DbResult<Vec<(i64, String, NaiveDateTime)>> {
    on!(conn, |conn| Ok(maintenance_history::table
        .select((
            maintenance_history::segment_id,
            maintenance_history::kind,
            maintenance_history::performed_at,
        ))
        .load(conn)?))
}

/// A repair or event from a city's records: unique by source, the source's id and
/// segment.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = maintenance_history)]
pub struct ImportedMaintenance {
    pub segment_id: i64,
    pub kind: String,
    pub performed_at: NaiveDateTime,
    pub notes: Option<String>,
    pub source: String,
    pub external_id: String,
}

/// An imported record as stored.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct StoredEvent {
    pub id: i64,
    pub kind: String,
    pub performed_at: NaiveDateTime,
    pub notes: Option<String>,
}

/// The source's id of an imported record and its segment.
pub type EventKey = (String, i64);

/// The stored records of `source` with these ids.
pub fn imported(
    conn: &mut Conn<'_>,
    source: &str,
    external_ids: &[&str],
) -> DbResult<HashMap<EventKey, StoredEvent>> {
    let mut found = HashMap::new();
    for chunk in external_ids.chunks(500) {
        let rows: Vec<(Option<String>, i64, StoredEvent)> =
            on!(conn, |conn| maintenance_history::table
                .filter(maintenance_history::source.eq(source))
                .filter(maintenance_history::external_id.eq_any(chunk))
                .select((
                    maintenance_history::external_id,
                    maintenance_history::segment_id,
                    (
                        maintenance_history::id,
                        maintenance_history::kind,
                        maintenance_history::performed_at,
                        maintenance_history::notes,
                    ),
                ))
                .load(conn)?);
        for (external, segment, event) in rows {
            if let Some(external) = external {
                found.insert((external, segment), event);
            }
        }
    }
    Ok(found)
}

/// Stores imported records.
pub fn insert_imported(conn: &mut Conn<'_>, records: &[ImportedMaintenance]) -> DbResult<()> {
    for chunk in records.chunks(500) {
        on!(conn, |conn| diesel::insert_into(maintenance_history::table)
            .values(chunk)
            .execute(conn)?);
    }
    Ok(())
}

/// Brings an imported record up to date with its source.
pub fn update_imported(conn: &mut Conn<'_>, id: i64, record: &ImportedMaintenance) -> DbResult<()> {
    on!(conn, |conn| diesel::update(
        maintenance_history::table.find(id)
    )
    .set((
        maintenance_history::kind.eq(&record.kind),
        maintenance_history::performed_at.eq(record.performed_at),
        maintenance_history::notes.eq(&record.notes),
    ))
    .execute(conn)?);
    Ok(())
}

/// The records imported from `source`, as the data-quality report reads them.
pub fn facts(conn: &mut Conn<'_>, source: &str) -> DbResult<Vec<super::import_runs::SourceFact>> {
    use super::schema::segments;
    let rows: Vec<(NaiveDateTime, i64, Option<i64>)> = on!(conn, |conn| maintenance_history::table
        .inner_join(segments::table.on(maintenance_history::segment_id.eq(segments::id)))
        .filter(maintenance_history::source.eq(source))
        .select((
            maintenance_history::performed_at,
            maintenance_history::segment_id,
            segments::ward_id,
        ))
        .load(conn)?);
    Ok(super::import_runs::on_segments(rows))
}
