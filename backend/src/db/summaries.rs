//! The `summaries` table: figures computed in the background, one JSON document a name.

use super::schema::summaries;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Stores (or replaces) the summary `name`.
pub fn put(conn: &mut Conn<'_>, name: &str, body: &str, at: NaiveDateTime) -> DbResult<()> {
    on!(conn, |conn| {
        diesel::insert_into(summaries::table)
            .values((
                summaries::name.eq(name),
                summaries::body.eq(body),
                summaries::computed_at.eq(at),
            ))
            .on_conflict(summaries::name)
            .do_update()
            .set((summaries::body.eq(body), summaries::computed_at.eq(at)))
            .execute(conn)?;
        Ok(())
    })
}

/// The summary `name` and when it was computed, if it has been.
pub fn get(conn: &mut Conn<'_>, name: &str) -> DbResult<Option<(String, NaiveDateTime)>> {
    on!(conn, |conn| Ok(summaries::table
        .filter(summaries::name.eq(name))
        .select((summaries::body, summaries::computed_at))
        .first(conn)
        .optional()?))
}
