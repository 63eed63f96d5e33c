//! The `import_runs` table: every import that stored something, for the data-quality
//! report.

use super::schema::import_runs;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = import_runs)]
pub struct NewRun {
    pub source: String,
    pub kind: String,
    pub started_at: NaiveDateTime,
    pub finished_at: NaiveDateTime,
    /// The files' names, a JSON array.
    pub files: String,
    /// The import's summary, as `--json` prints it.
    pub summary: String,
}

pub fn insert(conn: &mut Conn<'_>, run: &NewRun) -> DbResult<()> {
    on!(conn, |conn| diesel::insert_into(import_runs::table)
        .values(run)
        .execute(conn)?);
    Ok(())
}

/// A stored run: kind, when it finished, files and summary (JSON texts).
pub type Run = (String, NaiveDateTime, String, String);

/// The runs of `source`, oldest first.
pub fn of_source(conn: &mut Conn<'_>, source: &str) -> DbResult<Vec<Run>> {
    on!(conn, |conn| Ok(import_runs::table
        .filter(import_runs::source.eq(source))
        .order(import_runs::started_at)
        .select((
            import_runs::kind,
            import_runs::finished_at,
            import_runs::files,
            import_runs::summary,
        ))
        .load(conn)?))
}

/// Every source imported, with its kind, in name order.
pub fn sources(conn: &mut Conn<'_>) -> DbResult<Vec<(String, String)>> {
    on!(conn, |conn| Ok(import_runs::table
        .select((import_runs::source, import_runs::kind))
        .distinct()
        .order(import_runs::source)
        .load(conn)?))
}

/// One stored record of a source, as the data-quality report reads it.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct SourceFact {
    pub at: NaiveDateTime,
    pub lon: Option<f64>,
    pub lat: Option<f64>,
    pub segment_id: Option<i64>,
    pub ward_id: Option<i64>,
    /// A report's issue.
    pub issue_id: Option<i64>,
}

/// Facts of records that sit on segments and have no position of their own.
pub fn on_segments(rows: Vec<(NaiveDateTime, i64, Option<i64>)>) -> Vec<SourceFact> {
    rows.into_iter()
        .map(|(at, segment, ward)| SourceFact {
            at,
            lon: None,
            lat: None,
            segment_id: Some(segment),
            ward_id: ward,
            issue_id: None,
        })
        .collect()
}
