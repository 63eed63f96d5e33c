//! The `installation` table: the one row of facts about this database that every server
//! on it shares.

use super::schema::installation;
use super::{Conn, DbError, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// The secret under which reporters' network addresses are hashed, the same for every
/// server on this database so that one source is one reporter whichever server it hit.
pub fn source_salt(conn: &mut Conn<'_>) -> DbResult<String> {
    on!(conn, |conn| installation::table
        .find(1_i64)
        .select(installation::source_salt)
        .first::<String>(conn)
        .optional()?)
    .ok_or_else(|| DbError::Corrupt("the installation row is missing".into()))
}

/// Writes one small row: it succeeds only when the database takes writes.
pub fn prove_writable(conn: &mut Conn<'_>, at: NaiveDateTime) -> DbResult<()> {
    on!(conn, |conn| diesel::update(installation::table.find(1_i64))
        .set(installation::written_at.eq(at))
        .execute(conn)?);
    Ok(())
}
