//! The `request_sources` table: where an imported report came from, and its id there.

use super::schema::request_sources;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::HashMap;

/// An imported report's origin.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = request_sources)]
pub struct NewRequestSource<'a> {
    pub request_id: i64,
    pub source: &'a str,
    pub external_id: &'a str,
    pub channel: Option<&'a str>,
    pub imported_at: NaiveDateTime,
}

/// Records where many imported reports came from.
pub fn insert_many(conn: &mut Conn<'_>, rows: &[NewRequestSource<'_>]) -> DbResult<()> {
    for chunk in rows.chunks(1_000) {
        on!(conn, |conn| diesel::insert_into(request_sources::table)
            .values(chunk)
            .execute(conn)?);
    }
    Ok(())
}

/// The reports already imported from `source` under these ids: external id → report.
pub fn known(
    conn: &mut Conn<'_>,
    source: &str,
    external_ids: &[&str],
) -> DbResult<HashMap<String, i64>> {
    let mut found = HashMap::new();
    // Bounded IN lists keep both backends well inside their parameter limits.
    for chunk in external_ids.chunks(5_000) {
        let rows: Vec<(String, i64)> = on!(conn, |conn| request_sources::table
            .filter(request_sources::source.eq(source))
            .filter(request_sources::external_id.eq_any(chunk))
            .select((request_sources::external_id, request_sources::request_id))
            .load(conn)?);
        found.extend(rows);
    }
    Ok(found)
}

/// The reports imported from `source`, as the data-quality report reads them.
pub fn facts(conn: &mut Conn<'_>, source: &str) -> DbResult<Vec<super::import_runs::SourceFact>> {
    use super::schema::{requests, segments};
    on!(conn, |conn| Ok(request_sources::table
        .inner_join(requests::table)
        .left_join(segments::table.on(requests::segment_id.eq(segments::id.nullable())))
        .filter(request_sources::source.eq(source))
        .select((
            requests::requested_at,
            requests::lon,
            requests::lat,
            requests::segment_id,
            segments::ward_id.nullable(),
            requests::issue_id,
        ))
        .load(conn)?))
}
