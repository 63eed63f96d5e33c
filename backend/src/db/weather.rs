//! The `weather_daily` table: a daily series per station.

use super::schema::weather_daily;
use super::{Conn, DbResult};
use chrono::NaiveDate;
use diesel::prelude::*;
use std::collections::HashMap;

/// (day, minimum, maximum) °C, every station.
pub fn daily(conn: &mut Conn<'_>) -> DbResult<Vec<(NaiveDate, f64, f64)>> {
    on!(conn, |conn| Ok(weather_daily::table
        .order(weather_daily::day)
        .select((
            weather_daily::day,
            weather_daily::tmin_c,
            weather_daily::tmax_c
        ))
        .load(conn)?))
}

/// A station's day.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = weather_daily)]
pub struct Day {
    pub station: String,
    pub day: NaiveDate,
    pub tmin_c: f64,
    pub tmax_c: f64,
    pub precipitation_mm: f64,
}

/// The stored days of `station` among `days`: day → (minimum, maximum, precipitation).
pub fn known(
    conn: &mut Conn<'_>,
    station: &str,
    days: &[NaiveDate],
) -> DbResult<HashMap<NaiveDate, (f64, f64, f64)>> {
    let mut found = HashMap::new();
    for chunk in days.chunks(500) {
        let rows: Vec<(NaiveDate, f64, f64, f64)> = on!(conn, |conn| weather_daily::table
            .filter(weather_daily::station.eq(station))
            .filter(weather_daily::day.eq_any(chunk))
            .select((
                weather_daily::day,
                weather_daily::tmin_c,
                weather_daily::tmax_c,
                weather_daily::precipitation_mm,
            ))
            .load(conn)?);
        found.extend(rows.into_iter().map(|(d, a, b, c)| (d, (a, b, c))));
    }
    Ok(found)
}

pub fn insert(conn: &mut Conn<'_>, days: &[Day]) -> DbResult<()> {
    for chunk in days.chunks(500) {
        on!(conn, |conn| diesel::insert_into(weather_daily::table)
            .values(chunk)
            .execute(conn)?);
    }
    Ok(())
}

/// Replaces a stored day's figures.
pub fn update(conn: &mut Conn<'_>, day: &Day) -> DbResult<()> {
    on!(conn, |conn| diesel::update(
        weather_daily::table
            .filter(weather_daily::station.eq(&day.station))
            .filter(weather_daily::day.eq(day.day))
    )
    .set((
        weather_daily::tmin_c.eq(day.tmin_c),
        weather_daily::tmax_c.eq(day.tmax_c),
        weather_daily::precipitation_mm.eq(day.precipitation_mm),
    ))
    .execute(conn)?);
    Ok(())
}

/// The days of `station`.
pub fn days_of(conn: &mut Conn<'_>, station: &str) -> DbResult<Vec<NaiveDate>> {
    on!(conn, |conn| Ok(weather_daily::table
        .filter(weather_daily::station.eq(station))
        .select(weather_daily::day)
        .load(conn)?))
}
