//! The `work_orders` and `work_order_events` tables, and what a change to an order does
//! to its reports, its issue and the maintenance history, in one transaction.

use super::WriteTransaction;
use super::requests::{ISSUE_OPEN, NewUpdate};
use super::schema::{
    issues, maintenance_history, requests, segments, wards, work_order_events, work_orders,
};
use super::{Database, DbResult};
use crate::domain::{Coordinates, RequestStatus};
use crate::search::{Located, Window};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A work order, every column. Also how the demo city bulk-loads its orders.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = work_orders, treat_none_as_default_value = false)]
pub struct WorkOrderRow {
    pub id: i64,
    pub issue_id: Option<i64>,
    pub segment_id: Option<i64>,
    /// `repair` (from an issue) or `inspection` (proactive, from the risk model).
    pub kind: String,
    pub status: String,
    pub crew_id: Option<i64>,
    pub priority: f64,
    /// JSON of [`crate::priority::Breakdown`].
    pub priority_breakdown: String,
    pub due_at: Option<NaiveDateTime>,
    pub notes: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
    pub service_code: String,
    pub lat: f64,
    pub lon: f64,
    pub cell: i64,
    /// JSON list of URLs.
    pub photo_urls: String,
    /// JSON list of `{"item", "quantity", "unit"}`.
    pub materials: String,
    pub labour_minutes: i32,
    pub outcome: Option<String>,
}

pub const REPAIR: &str = "repair";
pub const INSPECTION: &str = "inspection";
/// Statuses of orders still to be done.
pub const OPEN_STATUSES: [&str; 3] = ["new", "assigned", "in_progress"];

/// A new order: a row without its id.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = work_orders, treat_none_as_default_value = false)]
pub struct NewWorkOrder {
    pub issue_id: Option<i64>,
    pub segment_id: Option<i64>,
    pub kind: String,
    pub status: String,
    pub crew_id: Option<i64>,
    pub priority: f64,
    pub priority_breakdown: String,
    pub due_at: Option<NaiveDateTime>,
    pub notes: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub service_code: String,
    pub lat: f64,
    pub lon: f64,
    pub cell: i64,
    pub photo_urls: String,
    pub materials: String,
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
    pub statuses: Option<Vec<String>>,
    pub service_codes: Option<Vec<String>>,
    pub kinds: Option<Vec<String>>,
    /// Some(None): unassigned orders only.
    pub crew_id: Option<Option<i64>>,
    pub segment_id: Option<i64>,
    pub issue_id: Option<i64>,
    /// Orders past their due date (and still open) at this time.
    pub overdue_at: Option<NaiveDateTime>,
}

macro_rules! filtered {
    ($filter:expr) => {{
        let filter: &WorkOrderFilter = $filter;
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
                .filter(work_orders::status.eq_any(OPEN_STATUSES))
                .filter(work_orders::due_at.lt(at));
        }
        query
    }};
}

/// One page of orders, highest priority first.
pub fn list(
    db: &Database,
    filter: &WorkOrderFilter,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<WorkOrderRow>> {
    read!(db, |conn| Ok(filtered!(filter)
        .select(WorkOrderRow::as_select())
        .order((work_orders::priority.desc(), work_orders::id))
        .limit(limit)
        .offset(offset)
        .load(conn)?))
}

pub fn count(db: &Database, filter: &WorkOrderFilter) -> DbResult<i64> {
    read!(db, |conn| Ok(filtered!(filter).count().get_result(conn)?))
}

/// The orders matching `filter` in `window`, highest priority first.
pub fn located(
    db: &Database,
    filter: &WorkOrderFilter,
    window: &Window,
) -> DbResult<Vec<(i64, Located)>> {
    let bbox = window.bbox;
    let rows: Vec<(i64, f64, f64)> = read!(db, |conn| {
        let mut query = filtered!(filter)
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
pub fn by_ids(db: &Database, ids: &[i64]) -> DbResult<Vec<WorkOrderRow>> {
    let rows: Vec<WorkOrderRow> = read!(db, |conn| work_orders::table
        .filter(work_orders::id.eq_any(ids))
        .select(WorkOrderRow::as_select())
        .load(conn)?);
    Ok(super::in_order_of(ids, rows, |row| row.id))
}

pub fn find(db: &Database, id: i64) -> DbResult<Option<WorkOrderRow>> {
    Ok(by_ids(db, &[id])?.pop())
}

/// An order's history, oldest first.
pub fn events(db: &Database, id: i64) -> DbResult<Vec<EventRow>> {
    read!(db, |conn| Ok(work_order_events::table
        .filter(work_order_events::work_order_id.eq(id))
        .order(work_order_events::id)
        .select(EventRow::as_select())
        .load(conn)?))
}

/// Stores new orders with their first history line ("created"). An order for an issue
/// that already has one is skipped (several servers may try at once). Returns the rows
/// stored.
pub fn insert_all(
    db: &Database,
    orders: &[NewWorkOrder],
    actor: &str,
) -> DbResult<Vec<WorkOrderRow>> {
    write!(db, |conn| conn.write_transaction(|conn| {
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
                        new_value: Some(row.status.clone()),
                        created_at: row.created_at,
                    })
                    .execute(conn)?;
                stored.push(row);
            }
        }
        Ok(stored)
    }))
}

/// What a change does to the reports of the order's issue.
#[derive(Debug, Clone)]
pub struct ReportChange {
    /// Only reports now in one of these statuses change.
    pub from: Vec<RequestStatus>,
    pub to: RequestStatus,
    /// What residents read in Open311 `status_notes`.
    pub note: String,
    pub author: String,
}

/// A maintenance record to write.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = maintenance_history)]
pub struct NewMaintenance {
    pub segment_id: i64,
    pub work_order_id: Option<i64>,
    pub kind: String,
    pub performed_at: NaiveDateTime,
    pub notes: Option<String>,
}

/// A change to one order, prepared by the service layer.
#[derive(Debug, Clone)]
pub struct Change {
    /// The order as it should be stored.
    pub row: WorkOrderRow,
    /// The `updated_at` the change was based on: if the stored order moved on meanwhile
    /// (another crew member, another server), nothing is written.
    pub based_on: NaiveDateTime,
    pub events: Vec<NewEvent>,
    pub reports: Option<ReportChange>,
    pub maintenance: Option<NewMaintenance>,
}

/// How a change ended.
#[derive(Debug)]
pub enum Saved {
    Done(Box<WorkOrderRow>),
    /// The order changed since it was read; nothing was written.
    Stale,
    /// There is no such order.
    Missing,
}

/// Writes `change` and everything it implies, or nothing.
pub fn save(db: &Database, change: &Change) -> DbResult<Saved> {
    let row = &change.row;
    write!(db, |conn| conn.write_transaction(|conn| {
        let updated = diesel::update(
            work_orders::table
                .filter(work_orders::id.eq(row.id))
                .filter(work_orders::updated_at.eq(change.based_on)),
        )
        .set((
            work_orders::status.eq(&row.status),
            work_orders::crew_id.eq(row.crew_id),
            work_orders::due_at.eq(row.due_at),
            work_orders::notes.eq(&row.notes),
            work_orders::updated_at.eq(row.updated_at),
            work_orders::completed_at.eq(row.completed_at),
            work_orders::photo_urls.eq(&row.photo_urls),
            work_orders::materials.eq(&row.materials),
            work_orders::labour_minutes.eq(row.labour_minutes),
            work_orders::outcome.eq(&row.outcome),
        ))
        .execute(conn)?;
        if updated == 0 {
            let exists: i64 = work_orders::table
                .filter(work_orders::id.eq(row.id))
                .count()
                .get_result(conn)?;
            return Ok(if exists == 0 {
                Saved::Missing
            } else {
                Saved::Stale
            });
        }
        diesel::insert_into(work_order_events::table)
            .values(&change.events)
            .execute(conn)?;
        if let (Some(reports), Some(issue_id)) = (&change.reports, row.issue_id) {
            let at = row.updated_at;
            let closed_at = (!reports.to.is_open()).then_some(at);
            let from: Vec<&str> = reports.from.iter().map(|s| s.as_str()).collect();
            let ids: Vec<i64> = requests::table
                .filter(requests::issue_id.eq(issue_id))
                .filter(requests::status.eq_any(from))
                .select(requests::id)
                .load(conn)?;
            diesel::update(requests::table.filter(requests::id.eq_any(&ids)))
                .set((
                    requests::status.eq(reports.to.as_str()),
                    requests::status_notes.eq(&reports.note),
                    requests::updated_at.eq(at),
                    requests::closed_at.eq(closed_at),
                ))
                .execute(conn)?;
            let updates: Vec<NewUpdate<'_>> = ids
                .iter()
                .map(|&request_id| NewUpdate {
                    request_id,
                    status: reports.to.as_str(),
                    description: Some(&reports.note),
                    media_url: None,
                    author: &reports.author,
                    created_at: at,
                })
                .collect();
            diesel::insert_into(super::schema::request_updates::table)
                .values(&updates)
                .execute(conn)?;
            diesel::update(issues::table.find(issue_id))
                .set((
                    issues::status.eq(if reports.to.is_open() {
                        ISSUE_OPEN
                    } else {
                        "closed"
                    }),
                    issues::updated_at.eq(at),
                    issues::closed_at.eq(closed_at),
                ))
                .execute(conn)?;
        }
        if let Some(record) = &change.maintenance {
            diesel::insert_into(maintenance_history::table)
                .values(record)
                .execute(conn)?;
        }
        Ok(Saved::Done(Box::new(row.clone())))
    }))
}

/// Cancels the open order of issue `$issue` when the issue is closed without it (a
/// report's status set directly by staff), recording who and why. Used inside the
/// caller's transaction on either backend.
macro_rules! cancel_open_order {
    ($conn:expr, $issue:expr, $actor:expr, $at:expr) => {{
        use $crate::db::schema::{work_order_events, work_orders};
        let open: Option<(i64, String)> = work_orders::table
            .filter(work_orders::issue_id.eq($issue))
            .filter(work_orders::status.eq_any($crate::db::work_orders::OPEN_STATUSES))
            .select((work_orders::id, work_orders::status))
            .first($conn)
            .optional()?;
        if let Some((order, was)) = open {
            diesel::update(work_orders::table.find(order))
                .set((
                    work_orders::status.eq("cancelled"),
                    work_orders::updated_at.eq($at),
                ))
                .execute($conn)?;
            let event =
                |field: &str, old: Option<String>, new: &str| $crate::db::work_orders::NewEvent {
                    work_order_id: order,
                    actor: $actor.to_owned(),
                    field: field.to_owned(),
                    old_value: old,
                    new_value: Some(new.to_owned()),
                    created_at: $at,
                };
            diesel::insert_into(work_order_events::table)
                .values(vec![
                    event("status", Some(was), "cancelled"),
                    event(
                        "reason",
                        None,
                        "its issue was closed by a change to a report's status",
                    ),
                ])
                .execute($conn)?;
        }
    }};
}
pub(super) use cancel_open_order;

/// What an open order's priority is computed from, read in one pass.
#[derive(Debug, Clone)]
pub struct PriorityFacts {
    pub order: WorkOrderRow,
    pub road_class: Option<String>,
    pub aadt: Option<i32>,
    pub ward_vulnerability: Option<f64>,
    pub reporter_count: Option<i32>,
    pub first_reported_at: Option<NaiveDateTime>,
}

/// Every open order with its segment, ward and issue facts.
pub fn open_with_facts(db: &Database) -> DbResult<Vec<PriorityFacts>> {
    type Facts = (
        WorkOrderRow,
        Option<(String, Option<i32>)>,
        Option<f64>,
        Option<(i32, NaiveDateTime)>,
    );
    let rows: Vec<Facts> = read!(db, |conn| work_orders::table
        .left_join(segments::table.on(work_orders::segment_id.eq(segments::id.nullable())))
        .left_join(wards::table.on(segments::ward_id.eq(wards::id.nullable())))
        .left_join(issues::table.on(work_orders::issue_id.eq(issues::id.nullable())))
        .filter(work_orders::status.eq_any(OPEN_STATUSES))
        .select((
            WorkOrderRow::as_select(),
            (segments::road_class, segments::aadt).nullable(),
            wards::vulnerability.nullable(),
            (issues::reporter_count, issues::first_reported_at).nullable(),
        ))
        .load(conn)?);
    Ok(rows
        .into_iter()
        .map(|(order, segment, vulnerability, issue)| PriorityFacts {
            order,
            road_class: segment.as_ref().map(|(class, _)| class.clone()),
            aadt: segment.and_then(|(_, aadt)| aadt),
            ward_vulnerability: vulnerability,
            reporter_count: issue.map(|(count, _)| count),
            first_reported_at: issue.map(|(_, at)| at),
        })
        .collect())
}

/// The attribute answers (JSON text) of every report of the given issues.
pub fn report_answers(db: &Database, issue_ids: &[i64]) -> DbResult<Vec<(i64, String)>> {
    let mut out = Vec::new();
    // Bounded IN lists keep both backends well inside their parameter limits.
    for chunk in issue_ids.chunks(10_000) {
        let rows: Vec<(Option<i64>, String)> = read!(db, |conn| requests::table
            .filter(requests::issue_id.eq_any(chunk))
            .select((requests::issue_id, requests::attributes))
            .load(conn)?);
        out.extend(
            rows.into_iter()
                .filter_map(|(issue, answers)| Some((issue?, answers))),
        );
    }
    Ok(out)
}

/// Stores new priorities: (order id, priority, breakdown JSON).
pub fn set_priorities(db: &Database, priorities: &[(i64, f64, String)]) -> DbResult<usize> {
    if priorities.is_empty() {
        return Ok(0);
    }
    write!(db, |conn| conn.write_transaction(|conn| {
        let mut changed = 0;
        for (id, priority, breakdown) in priorities {
            changed += diesel::update(work_orders::table.find(id))
                .set((
                    work_orders::priority.eq(priority),
                    work_orders::priority_breakdown.eq(breakdown),
                ))
                .execute(conn)?;
        }
        Ok(changed)
    }))
}

/// Open issues that have no work order yet, with their segment's road class.
pub fn issues_without_orders(
    db: &Database,
    limit: i64,
) -> DbResult<Vec<(super::issues::IssueRow, Option<String>)>> {
    use diesel::dsl::{exists, not};
    read!(db, |conn| Ok(issues::table
        .left_join(segments::table.on(issues::segment_id.eq(segments::id.nullable())))
        .filter(issues::status.eq(ISSUE_OPEN))
        .filter(not(exists(
            work_orders::table.filter(work_orders::issue_id.eq(issues::id.nullable()))
        )))
        .select((
            super::issues::IssueRow::as_select(),
            segments::road_class.nullable(),
        ))
        .order(issues::id)
        .limit(limit)
        .load(conn)?))
}

/// Segments that have an open order of any kind.
pub fn segments_with_open_orders(db: &Database) -> DbResult<Vec<i64>> {
    let rows: Vec<Option<i64>> = read!(db, |conn| work_orders::table
        .filter(work_orders::status.eq_any(OPEN_STATUSES))
        .filter(work_orders::segment_id.is_not_null())
        .select(work_orders::segment_id)
        .distinct()
        .load(conn)?);
    Ok(rows.into_iter().flatten().collect())
}

/// Open orders near a point for a crew's day: (row) within the window, any crew.
pub fn open_in(db: &Database, window: &Window) -> DbResult<Vec<WorkOrderRow>> {
    let filter = WorkOrderFilter {
        statuses: Some(OPEN_STATUSES.iter().map(|s| (*s).to_owned()).collect()),
        ..WorkOrderFilter::default()
    };
    let ids: Vec<i64> = located(db, &filter, window)?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    by_ids(db, &ids)
}

/// (ward, category, open?, first reported, closed) of every issue first reported in
/// `[from, to]`, for planner statistics.
pub type IssueLife = (
    Option<i64>,
    String,
    String,
    NaiveDateTime,
    Option<NaiveDateTime>,
);

pub fn issue_lives(
    db: &Database,
    from: NaiveDateTime,
    to: NaiveDateTime,
) -> DbResult<Vec<IssueLife>> {
    read!(db, |conn| Ok(issues::table
        .left_join(segments::table.on(issues::segment_id.eq(segments::id.nullable())))
        .filter(issues::first_reported_at.between(from, to))
        .select((
            segments::ward_id.nullable(),
            issues::service_code,
            issues::status,
            issues::first_reported_at,
            issues::closed_at,
        ))
        .load(conn)?))
}

/// (ward, category) of every open order past its due date at `at`.
pub fn overdue(db: &Database, at: NaiveDateTime) -> DbResult<Vec<(Option<i64>, String)>> {
    read!(db, |conn| Ok(work_orders::table
        .left_join(segments::table.on(work_orders::segment_id.eq(segments::id.nullable())))
        .filter(work_orders::status.eq_any(OPEN_STATUSES))
        .filter(work_orders::due_at.lt(at))
        .select((segments::ward_id.nullable(), work_orders::service_code,))
        .load(conn)?))
}
