//! A generated demo city's hidden truth (`demo_cities`, `neighbourhoods` and the
//! `truth_*` tables), which only evaluation reads.

use super::schema::{
    demo_cities, neighbourhoods, truth_neighbourhoods, truth_potholes, truth_segment_weeks,
};
use super::{Conn, DbResult};
use chrono::NaiveDate;
use diesel::prelude::*;

/// The demo city's history window, if one is loaded.
pub fn demo_window(conn: &mut Conn<'_>) -> DbResult<Option<(NaiveDate, NaiveDate)>> {
    on!(conn, |conn| Ok(demo_cities::table
        .order(demo_cities::id.desc())
        .select((demo_cities::start_date, demo_cities::end_date))
        .first(conn)
        .optional()?))
}

/// The truth of a demo city: (segment, formed on) of every pothole.
pub fn true_potholes(conn: &mut Conn<'_>) -> DbResult<Vec<(i64, NaiveDate)>> {
    on!(conn, |conn| Ok(truth_potholes::table
        .select((truth_potholes::segment_id, truth_potholes::formed_on))
        .load(conn)?))
}

/// The true 28-day hazard: (segment, week start, hazard).
pub fn true_hazard(conn: &mut Conn<'_>) -> DbResult<Vec<(i64, NaiveDate, f64)>> {
    on!(conn, |conn| Ok(truth_segment_weeks::table
        .select((
            truth_segment_weeks::segment_id,
            truth_segment_weeks::week_start,
            truth_segment_weeks::hazard_28d,
        ))
        .load(conn)?))
}

/// Each neighbourhood's name and true reporting propensity.
pub fn true_propensity(conn: &mut Conn<'_>) -> DbResult<Vec<(String, f64)>> {
    on!(conn, |conn| Ok(neighbourhoods::table
        .inner_join(
            truth_neighbourhoods::table
                .on(truth_neighbourhoods::neighbourhood_id.eq(neighbourhoods::id)),
        )
        .select((
            neighbourhoods::name,
            truth_neighbourhoods::reporting_propensity
        ))
        .load(conn)?))
}
