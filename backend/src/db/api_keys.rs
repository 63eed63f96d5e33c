//! The `api_keys` table. Only hashes are stored; see [`crate::auth`].

use super::schema::api_keys;
use super::{Conn, DbResult};
use crate::domain::{Role, now};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A stored key, without the secret.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub key_hash: String,
    pub crew_id: Option<i64>,
    pub created_at: NaiveDateTime,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Insertable)]
#[diesel(table_name = api_keys)]
struct NewApiKey<'a> {
    name: &'a str,
    role: Role,
    key_hash: &'a str,
    crew_id: Option<i64>,
    created_at: NaiveDateTime,
}

pub fn insert(
    conn: &mut Conn<'_>,
    name: &str,
    role: Role,
    key_hash: &str,
    crew_id: Option<i64>,
) -> DbResult<ApiKeyRow> {
    let row = NewApiKey {
        name,
        role,
        key_hash,
        crew_id,
        created_at: now(),
    };
    on!(conn, |conn| Ok(diesel::insert_into(api_keys::table)
        .values(&row)
        .returning(ApiKeyRow::as_returning())
        .get_result(conn)?))
}

/// The live (not revoked) key with this hash, if any.
pub fn find_live_by_hash(conn: &mut Conn<'_>, key_hash: &str) -> DbResult<Option<ApiKeyRow>> {
    on!(conn, |conn| Ok(api_keys::table
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select(ApiKeyRow::as_select())
        .first(conn)
        .optional()?))
}

pub fn list(conn: &mut Conn<'_>) -> DbResult<Vec<ApiKeyRow>> {
    on!(conn, |conn| Ok(api_keys::table
        .order(api_keys::id)
        .select(ApiKeyRow::as_select())
        .load(conn)?))
}

/// Revokes a key; returns false when there is no live key with that id.
pub fn revoke(conn: &mut Conn<'_>, id: i64) -> DbResult<bool> {
    let at = now();
    on!(conn, |conn| Ok(diesel::update(
        api_keys::table
            .filter(api_keys::id.eq(id))
            .filter(api_keys::revoked_at.is_null())
    )
    .set(api_keys::revoked_at.eq(at))
    .execute(conn)?
        == 1))
}
