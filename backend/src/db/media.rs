//! The `media` table: photos residents attach to reports.
//!
//! Files live in the database, not on a server's disk, so any number of stateless
//! servers in front of one PostgreSQL can serve every photo.

use super::schema::media;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = media)]
pub struct MediaRow {
    /// Random, unguessable name; also the last part of its URL.
    pub id: String,
    pub content_type: String,
    pub size_bytes: i32,
    pub sha256: String,
    pub bytes: Vec<u8>,
    pub created_at: NaiveDateTime,
}

pub fn find(conn: &mut Conn<'_>, id: &str) -> DbResult<Option<MediaRow>> {
    on!(conn, |conn| Ok(media::table
        .find(id)
        .select(MediaRow::as_select())
        .first(conn)
        .optional()?))
}

/// Stores one photo (a staff upload; residents' photos are stored with their report).
pub fn insert(conn: &mut Conn<'_>, row: &MediaRow) -> DbResult<()> {
    on!(conn, |conn| {
        diesel::insert_into(media::table)
            .values(row)
            .execute(conn)?;
        Ok(())
    })
}
