//! The `work_orders` and `work_order_events` tables: orders and their history.

use super::schema::{issues, segments, wards, work_order_events, work_orders};
use super::words::Json;
use super::{Conn, DbResult, NarrowedBy};
use crate::domain::{
    AnswerPairs, Breakdown, Coordinates, Material, SegmentClass, WorkOrderKind, WorkOrderStatus,
};
use crate::search::{Located, Window};
use chrono::NaiveDateTime;
use diesel::dsl::{Eq, EqAny, IsNull, Lt};
use diesel::prelude::*;

/// A work order, every column. Also how the demo city bulk-loads its orders.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = work_orders, treat_none_as_default_value = false)]
pub struct WorkOrderRow {
    pub id: i64,
    pub issue_id: Option<i64>,
    pub segment_id: Option<i64>,
    pub kind: WorkOrderKind,
    pub status: WorkOrderStatus,
    pub crew_id: Option<i64>,
    pub priority: f64,
    pub priority_breakdown: Json<Breakdown>,
    pub due_at: Option<NaiveDateTime>,
    pub notes: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    pub service_code: String,
    pub lat: f64,
    pub lon: f64,
    pub cell: i64,
    pub photo_urls: Json<Vec<String>>,
    pub materials: Json<Vec<Material>>,
    pub labour_minutes: i32,
    pub outcome: Option<String>,
    /// How often residents said the finished order had not fixed the problem.
    pub reopens: i32,
}

/// Statuses of orders still to be done.
pub const OPEN_STATUSES: [WorkOrderStatus; 3] = [
    WorkOrderStatus::New,
    WorkOrderStatus::Assigned,
    WorkOrderStatus::InProgress,
];

/// A new order: a row without its id.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = work_orders, treat_none_as_default_value = false)]
pub struct NewWorkOrder {
    pub issue_id: Option<i64>,
    pub segment_id: Option<i64>,
    pub kind: WorkOrderKind,
    pub status: WorkOrderStatus,
    pub crew_id: Option<i64>,
    pub priority: f64,
    pub priority_breakdown: Json<Breakdown>,
    pub due_at: Option<NaiveDateTime>,
    pub notes: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub service_code: String,
    pub lat: f64,
    pub lon: f64,
    pub cell: i64,
    pub photo_urls: Json<Vec<String>>,
    pub materials: Json<Vec<Material>>,
    pub labour_minutes: i32,
}

/// One line of an order's history: who changed which field from what to what.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = work_order_events)]
pub struct EventRow {
    pub id: i64,
    pub work_order_id: i64,
    pub actor: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = work_order_events)]
pub struct NewEvent {
    pub work_order_id: i64,
    pub actor: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub created_at: NaiveDateTime,
}

/// What a list of orders is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct WorkOrderFilter {
    pub statuses: Option<Vec<WorkOrderStatus>>,
    pub service_codes: Option<Vec<String>>,
    pub kinds: Option<Vec<WorkOrderKind>>,
    /// Some(None): unassigned orders only.
    pub crew_id: Option<Option<i64>>,
    pub segment_id: Option<i64>,
    pub issue_id: Option<i64>,
    /// Orders past their due date (and still open) at this time.
    pub overdue_at: Option<NaiveDateTime>,
}

/// The orders passing `filter`, as a boxed query for either backend.
fn filtered<'a, DB>(filter: &WorkOrderFilter) -> work_orders::BoxedQuery<'a, DB>
where
    DB: diesel::backend::Backend + 'a,
    work_orders::table:
        diesel::query_dsl::methods::BoxedDsl<'a, DB, Output = work_orders::BoxedQuery<'a, DB>>,
    work_orders::BoxedQuery<'a, DB>: NarrowedBy<EqAny<work_orders::status, Vec<WorkOrderStatus>>>
        + NarrowedBy<EqAny<work_orders::service_code, Vec<String>>>
        + NarrowedBy<EqAny<work_orders::kind, Vec<WorkOrderKind>>>
        + NarrowedBy<Eq<work_orders::crew_id, i64>>
        + NarrowedBy<IsNull<work_orders::crew_id>>
        + NarrowedBy<Eq<work_orders::segment_id, i64>>
        + NarrowedBy<Eq<work_orders::issue_id, i64>>
        + NarrowedBy<Lt<work_orders::due_at, NaiveDateTime>>,
{
    let mut query = work_orders::table.into_boxed();
    if let Some(statuses) = &filter.statuses {
        query = query.filter(work_orders::status.eq_any(statuses.clone()));
    }
    if let Some(codes) = &filter.service_codes {
        query = query.filter(work_orders::service_code.eq_any(codes.clone()));
    }
    if let Some(kinds) = &filter.kinds {
        query = query.filter(work_orders::kind.eq_any(kinds.clone()));
    }
    match filter.crew_id {
        Some(Some(crew)) => query = query.filter(work_orders::crew_id.eq(crew)),
        Some(None) => query = query.filter(work_orders::crew_id.is_null()),
        None => {}
    }
    if let Some(segment) = filter.segment_id {
        query = query.filter(work_orders::segment_id.eq(segment));
    }
    if let Some(issue) = filter.issue_id {
        query = query.filter(work_orders::issue_id.eq(issue));
    }
    if let Some(at) = filter.overdue_at {
        query = query
            .filter(work_orders::status.eq_any(OPEN_STATUSES.to_vec()))
            .filter(work_orders::due_at.lt(at));
    }
    query
}

/// One page of orders, highest priority first.
pub fn list(
    conn: &mut Conn<'_>,
    filter: &WorkOrderFilter,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<WorkOrderRow>> {
    on!(conn, |conn| Ok(filtered(filter)
        .select(WorkOrderRow::as_select())
        .order((work_orders::priority.desc(), work_orders::id))
        .limit(limit)
        .offset(offset)
        .load(conn)?))
}

pub fn count(conn: &mut Conn<'_>, filter: &WorkOrderFilter) -> DbResult<i64> {
    on!(conn, |conn| Ok(filtered(filter)
        .count()
        .get_result(conn)?))
}

/// The orders matching `filter` in `window`, highest priority first.
pub fn located(
    conn: &mut Conn<'_>,
    filter: &WorkOrderFilter,
    window: &Window,
) -> DbResult<Vec<(i64, Located)>> {
    let bbox = window.bbox;
    let rows: Vec<(i64, f64, f64)> = on!(conn, |conn| {
        let mut query = filtered(filter)
            .filter(work_orders::lat.between(bbox.south_west.lat, bbox.north_east.lat))
            .filter(work_orders::lon.between(bbox.south_west.lon, bbox.north_east.lon));
        if let Some(cells) = &window.cells {
            query = query.filter(work_orders::cell.eq_any(cells.clone()));
        }
        query
            .select((work_orders::id, work_orders::lon, work_orders::lat))
            .order((work_orders::priority.desc(), work_orders::id))
            .load(conn)?
    });
    Ok(rows
        .into_iter()
        .map(|(id, lon, lat)| (id, Located::Point(Coordinates { lon, lat })))
        .collect())
}

/// Orders by id, in the order of `ids`.
pub fn by_ids(conn: &mut Conn<'_>, ids: &[i64]) -> DbResult<Vec<WorkOrderRow>> {
    let rows: Vec<WorkOrderRow> = on!(conn, |conn| work_orders::table
        .filter(work_orders::id.eq_any(ids))
        .select(WorkOrderRow::as_select())
        .load(conn)?);
    Ok(super::in_order_of(ids, rows, |row| row.id))
}

pub fn find(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<WorkOrderRow>> {
    Ok(by_ids(conn, &[id])?.pop())
}

/// An order's history, oldest first.
pub fn events(conn: &mut Conn<'_>, id: i64) -> DbResult<Vec<EventRow>> {
    on!(conn, |conn| Ok(work_order_events::table
        .filter(work_order_events::work_order_id.eq(id))
        .order(work_order_events::id)
        .select(EventRow::as_select())
        .load(conn)?))
}

/// Stores new orders with their first history line ("created"). An order for an issue
/// that already has one is skipped (several servers may try at once). Returns the rows
/// stored.
pub fn insert_all(
    conn: &mut Conn<'_>,
    orders: &[NewWorkOrder],
    actor: &str,
) -> DbResult<Vec<WorkOrderRow>> {
    on!(conn, |conn| {
        let mut stored = Vec::with_capacity(orders.len());
        for order in orders {
            let row: Option<WorkOrderRow> = diesel::insert_into(work_orders::table)
                .values(order)
                .on_conflict_do_nothing()
                .returning(WorkOrderRow::as_returning())
                .get_result(conn)
                .optional()?;
            if let Some(row) = row {
                diesel::insert_into(work_order_events::table)
                    .values(NewEvent {
                        work_order_id: row.id,
                        actor: actor.to_owned(),
                        field: "status".to_owned(),
                        old_value: None,
                        new_value: Some(row.status.as_str().to_owned()),
                        created_at: row.created_at,
                    })
                    .execute(conn)?;
                stored.push(row);
            }
        }
        Ok(stored)
    })
}

/// How a change to an order ended.
#[derive(Debug)]
pub enum Saved {
    Done,
    /// The order changed since it was read; nothing was written.
    Stale,
    /// There is no such order.
    Missing,
}

/// Stores the changeable fields of `row` if the stored order was last updated at
/// `based_on`: if it moved on meanwhile (another crew member, another server), nothing is
/// written.
pub fn update_if_unchanged(
    conn: &mut Conn<'_>,
    row: &WorkOrderRow,
    based_on: NaiveDateTime,
) -> DbResult<Saved> {
    on!(conn, |conn| {
        let updated = diesel::update(
            work_orders::table
                .filter(work_orders::id.eq(row.id))
                .filter(work_orders::updated_at.eq(based_on)),
        )
        .set((
            work_orders::status.eq(row.status),
            work_orders::crew_id.eq(row.crew_id),
            work_orders::due_at.eq(row.due_at),
            work_orders::notes.eq(&row.notes),
            work_orders::updated_at.eq(row.updated_at),
            work_orders::completed_at.eq(row.completed_at),
            work_orders::photo_urls.eq(&row.photo_urls),
            work_orders::materials.eq(&row.materials),
            work_orders::labour_minutes.eq(row.labour_minutes),
            work_orders::outcome.eq(&row.outcome),
            work_orders::reopens.eq(row.reopens),
        ))
        .execute(conn)?;
        if updated == 1 {
            return Ok(Saved::Done);
        }
        let exists: i64 = work_orders::table
            .filter(work_orders::id.eq(row.id))
            .count()
            .get_result(conn)?;
        Ok(if exists == 0 {
            Saved::Missing
        } else {
            Saved::Stale
        })
    })
}

/// The newest order of issue `issue_id`.
pub fn last_of_issue(conn: &mut Conn<'_>, issue_id: i64) -> DbResult<Option<WorkOrderRow>> {
    on!(conn, |conn| Ok(work_orders::table
        .filter(work_orders::issue_id.eq(issue_id))
        .order(work_orders::id.desc())
        .select(WorkOrderRow::as_select())
        .first(conn)
        .optional()?))
}

/// Adds lines to orders' history.
pub fn add_events(conn: &mut Conn<'_>, events: &[NewEvent]) -> DbResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    on!(conn, |conn| diesel::insert_into(work_order_events::table)
        .values(events)
        .execute(conn)?);
    Ok(())
}

/// Cancels the open order of an issue, if it has one, recording who and why. Returns the
/// order cancelled.
pub fn cancel_open_of_issue(
    conn: &mut Conn<'_>,
    issue_id: i64,
    actor: &str,
    reason: &str,
    at: NaiveDateTime,
) -> DbResult<Option<i64>> {
    let open: Option<(i64, WorkOrderStatus)> = on!(conn, |conn| work_orders::table
        .filter(work_orders::issue_id.eq(issue_id))
        .filter(work_orders::status.eq_any(OPEN_STATUSES))
        .select((work_orders::id, work_orders::status))
        .first(conn)
        .optional()?);
    let Some((order, was)) = open else {
        return Ok(None);
    };
    on!(conn, |conn| diesel::update(work_orders::table.find(order))
        .set((
            work_orders::status.eq(WorkOrderStatus::Cancelled),
            work_orders::updated_at.eq(at),
        ))
        .execute(conn)?);
    let event = |field: &str, old: Option<&str>, new: &str| NewEvent {
        work_order_id: order,
        actor: actor.to_owned(),
        field: field.to_owned(),
        old_value: old.map(str::to_owned),
        new_value: Some(new.to_owned()),
        created_at: at,
    };
    add_events(
        conn,
        &[
            event(
                "status",
                Some(was.as_str()),
                WorkOrderStatus::Cancelled.as_str(),
            ),
            event("reason", None, reason),
        ],
    )?;
    Ok(Some(order))
}

/// What an open order's priority is computed from, read in one pass.
#[derive(Debug, Clone)]
pub struct PriorityFacts {
    pub order: WorkOrderRow,
    pub road_class: Option<SegmentClass>,
    pub aadt: Option<i32>,
    pub ward_vulnerability: Option<f64>,
    pub reporter_count: Option<i32>,
    pub first_reported_at: Option<NaiveDateTime>,
    /// The answers kept on its issue; None without an issue or when the issue keeps
    /// none (stored before they were kept), whose answers are read from its reports.
    pub answers: Option<AnswerPairs>,
}

/// Every open order with its segment, ward and issue facts; only the orders of the
/// issues `of_issues` if given.
pub fn open_with_facts(
    conn: &mut Conn<'_>,
    of_issues: Option<&[i64]>,
) -> DbResult<Vec<PriorityFacts>> {
    type Facts = (
        WorkOrderRow,
        Option<(SegmentClass, Option<i32>)>,
        Option<f64>,
        Option<(i32, NaiveDateTime)>,
        Option<Json<AnswerPairs>>,
    );
    let read = |conn: &mut Conn<'_>, issue_ids: Option<&[i64]>| -> DbResult<Vec<Facts>> {
        Ok(on!(conn, |conn| {
            let mut query = work_orders::table
                .left_join(segments::table.on(work_orders::segment_id.eq(segments::id.nullable())))
                .left_join(wards::table.on(segments::ward_id.eq(wards::id.nullable())))
                .left_join(issues::table.on(work_orders::issue_id.eq(issues::id.nullable())))
                .select((
                    WorkOrderRow::as_select(),
                    (segments::road_class, segments::aadt).nullable(),
                    wards::vulnerability.nullable(),
                    (issues::reporter_count, issues::first_reported_at).nullable(),
                    issues::answers.nullable(),
                ))
                .into_boxed();
            match issue_ids {
                // By issue alone, each through the one order it may have; the status is
                // checked below. Given the status too, SQLite read every open order of the
                // city through the status index once the list was long (thousands of
                // issues reported between two passes), a pass that grew with the city.
                Some(ids) => query = query.filter(work_orders::issue_id.eq_any(ids)),
                None => query = query.filter(work_orders::status.eq_any(OPEN_STATUSES)),
            }
            query.load(conn)?
        }))
    };
    let rows = match of_issues {
        None => read(conn, None)?,
        // Bounded IN lists keep both backends well inside their parameter limits.
        Some(ids) => {
            let mut rows = Vec::new();
            for chunk in ids.chunks(10_000) {
                rows.extend(read(conn, Some(chunk))?);
            }
            rows
        }
    };
    Ok(rows
        .into_iter()
        .filter(|(order, ..)| OPEN_STATUSES.contains(&order.status))
        .map(
            |(order, segment, vulnerability, issue, answers)| PriorityFacts {
                order,
                road_class: segment.as_ref().map(|(class, _)| class.clone()),
                aadt: segment.and_then(|(_, aadt)| aadt),
                ward_vulnerability: vulnerability,
                reporter_count: issue.map(|(count, _)| count),
                first_reported_at: issue.map(|(_, at)| at),
                answers: answers.map(|Json(kept)| kept),
            },
        )
        .collect())
}

/// Stores new priorities: (order id, priority, its parts).
pub fn set_priorities(
    conn: &mut Conn<'_>,
    priorities: &[(i64, f64, Breakdown)],
) -> DbResult<usize> {
    if priorities.is_empty() {
        return Ok(0);
    }
    on!(conn, |conn| {
        let mut changed = 0;
        for (id, priority, breakdown) in priorities {
            changed += super::kept::SetPriority {
                work_order_id: *id,
                priority: *priority,
                breakdown: Json(*breakdown),
            }
            .execute(conn)?;
        }
        Ok(changed)
    })
}

/// Segments that have an open order of any kind.
pub fn segments_with_open_orders(conn: &mut Conn<'_>) -> DbResult<Vec<i64>> {
    let rows: Vec<Option<i64>> = on!(conn, |conn| work_orders::table
        .filter(work_orders::status.eq_any(OPEN_STATUSES))
        .filter(work_orders::segment_id.is_not_null())
        .select(work_orders::segment_id)
        .distinct()
        .load(conn)?);
    Ok(rows.into_iter().flatten().collect())
}

/// Open orders near a point for a crew's day: (row) within the window, any crew.
pub fn open_in(conn: &mut Conn<'_>, window: &Window) -> DbResult<Vec<WorkOrderRow>> {
    let filter = WorkOrderFilter {
        statuses: Some(OPEN_STATUSES.to_vec()),
        ..WorkOrderFilter::default()
    };
    let ids: Vec<i64> = located(conn, &filter, window)?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    by_ids(conn, &ids)
}

/// (ward, category) of every open order past its due date at `at`.
pub fn overdue(conn: &mut Conn<'_>, at: NaiveDateTime) -> DbResult<Vec<(Option<i64>, String)>> {
    on!(conn, |conn| Ok(work_orders::table
        .left_join(segments::table.on(work_orders::segment_id.eq(segments::id.nullable())))
        .filter(work_orders::status.eq_any(OPEN_STATUSES))
        .filter(work_orders::due_at.lt(at))
        .select((segments::ward_id.nullable(), work_orders::service_code,))
        .load(conn)?))
}

/// Whether crew `crew_id` holds a work order of issue `issue_id`.
pub fn issue_has_crew(conn: &mut Conn<'_>, issue_id: i64, crew_id: i64) -> DbResult<bool> {
    let n: i64 = on!(conn, |conn| work_orders::table
        .filter(work_orders::issue_id.eq(issue_id))
        .filter(work_orders::crew_id.eq(crew_id))
        .count()
        .get_result(conn)?);
    Ok(n > 0)
}
