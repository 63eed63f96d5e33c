//! The `maintenance_history` table: work done on segments, which the risk features read.

use super::schema::maintenance_history;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

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
