//! The `weather_daily` table: a daily series per station.

use super::schema::weather_daily;
use super::{Conn, DbResult};
use chrono::NaiveDate;
use diesel::prelude::*;

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
