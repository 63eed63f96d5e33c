//! The `crews` table: who does the work, from where, of what kinds, how much a day.

use super::schema::crews;
use super::words::Json;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A crew as stored. `service_codes` lists the categories it handles.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = crews, treat_none_as_default_value = false)]
pub struct CrewRow {
    pub id: i64,
    pub name: String,
    pub depot_lat: f64,
    pub depot_lon: f64,
    pub service_codes: Json<Vec<String>>,
    pub daily_capacity: i32,
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
}

impl CrewRow {
    /// The categories this crew handles.
    pub fn handles(&self) -> &[String] {
        &self.service_codes.0
    }
}

/// A crew to create.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = crews)]
pub struct NewCrew {
    pub name: String,
    pub depot_lat: f64,
    pub depot_lon: f64,
    pub service_codes: Json<Vec<String>>,
    pub daily_capacity: i32,
    pub created_at: NaiveDateTime,
}

/// Stores a crew; None when the name is taken.
pub fn insert(conn: &mut Conn<'_>, crew: &NewCrew) -> DbResult<Option<CrewRow>> {
    if named(conn, &crew.name)?.is_some() {
        return Ok(None);
    }
    on!(conn, |conn| {
        Ok(Some(
            diesel::insert_into(crews::table)
                .values(crew)
                .returning(CrewRow::as_returning())
                .get_result(conn)?,
        ))
    })
}

/// Every crew still working, by id.
pub fn active(conn: &mut Conn<'_>) -> DbResult<Vec<CrewRow>> {
    on!(conn, |conn| Ok(crews::table
        .filter(crews::retired_at.is_null())
        .order(crews::id)
        .select(CrewRow::as_select())
        .load(conn)?))
}

/// The crew with this name, if any (retired ones too).
pub fn named(conn: &mut Conn<'_>, name: &str) -> DbResult<Option<CrewRow>> {
    on!(conn, |conn| Ok(crews::table
        .filter(crews::name.eq(name))
        .select(CrewRow::as_select())
        .first(conn)
        .optional()?))
}

pub fn find(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<CrewRow>> {
    on!(conn, |conn| Ok(crews::table
        .find(id)
        .select(CrewRow::as_select())
        .first(conn)
        .optional()?))
}

/// A change to a crew: absent fields stay.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = crews)]
pub struct CrewChange {
    pub name: Option<String>,
    pub depot_lat: Option<f64>,
    pub depot_lon: Option<f64>,
    pub service_codes: Option<Json<Vec<String>>>,
    pub daily_capacity: Option<i32>,
    pub retired_at: Option<Option<NaiveDateTime>>,
}

/// Applies `change`; None when there is no such crew.
pub fn update(conn: &mut Conn<'_>, id: i64, change: &CrewChange) -> DbResult<Option<CrewRow>> {
    on!(conn, |conn| Ok(diesel::update(crews::table.find(id))
        .set(change)
        .returning(CrewRow::as_returning())
        .get_result(conn)
        .optional()?))
}
