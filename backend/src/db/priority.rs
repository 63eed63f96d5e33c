//! The `priority_weights` row planners set and the `inspection_plans` that make the
//! weekly inspections happen once a week, whichever server gets there first.

use super::schema::{inspection_plans, priority_weights};
use super::words::Json;
use super::{Conn, DbResult};
use crate::priority::Weights;
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;

/// The single row's id.
const WEIGHTS_ROW: i64 = 1;

/// The stored weights, who set them and when; None until a planner sets them.
pub fn weights(conn: &mut Conn<'_>) -> DbResult<Option<(Json<Weights>, String, NaiveDateTime)>> {
    on!(conn, |conn| Ok(priority_weights::table
        .find(WEIGHTS_ROW)
        .select((
            priority_weights::weights,
            priority_weights::updated_by,
            priority_weights::updated_at,
        ))
        .first(conn)
        .optional()?))
}

pub fn set_weights(
    conn: &mut Conn<'_>,
    weights: &Weights,
    by: &str,
    at: NaiveDateTime,
) -> DbResult<()> {
    let json = Json(weights.clone());
    on!(conn, |conn| {
        diesel::insert_into(priority_weights::table)
            .values((
                priority_weights::id.eq(WEIGHTS_ROW),
                priority_weights::weights.eq(&json),
                priority_weights::updated_by.eq(by),
                priority_weights::updated_at.eq(at),
            ))
            .on_conflict(priority_weights::id)
            .do_update()
            .set((
                priority_weights::weights.eq(&json),
                priority_weights::updated_by.eq(by),
                priority_weights::updated_at.eq(at),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Whether `week` has been planned already (by any server).
pub fn week_planned(conn: &mut Conn<'_>, week: NaiveDate) -> DbResult<bool> {
    let found: Option<NaiveDate> = on!(conn, |conn| inspection_plans::table
        .find(week)
        .select(inspection_plans::week_start)
        .first(conn)
        .optional()?);
    Ok(found.is_some())
}

/// Claims the planning of `week`; false when another server (or an earlier run) has.
pub fn claim_week(conn: &mut Conn<'_>, week: NaiveDate, at: NaiveDateTime) -> DbResult<bool> {
    on!(conn, |conn| Ok(diesel::insert_into(
        inspection_plans::table
    )
    .values((
        inspection_plans::week_start.eq(week),
        inspection_plans::planned_at.eq(at),
        inspection_plans::orders.eq(0),
    ))
    .on_conflict_do_nothing()
    .execute(conn)?
        == 1))
}

/// Records how many inspections `week` got (adding to a week planned by hand again).
pub fn record_week(
    conn: &mut Conn<'_>,
    week: NaiveDate,
    at: NaiveDateTime,
    orders: usize,
) -> DbResult<()> {
    let orders = i32::try_from(orders).unwrap_or(i32::MAX);
    on!(conn, |conn| {
        diesel::insert_into(inspection_plans::table)
            .values((
                inspection_plans::week_start.eq(week),
                inspection_plans::planned_at.eq(at),
                inspection_plans::orders.eq(orders),
            ))
            .on_conflict(inspection_plans::week_start)
            .do_update()
            .set((
                inspection_plans::planned_at.eq(at),
                inspection_plans::orders.eq(inspection_plans::orders + orders),
            ))
            .execute(conn)?;
        Ok(())
    })
}
