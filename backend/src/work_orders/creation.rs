//! How orders are made: one per open issue, by a planner for an issue, and inspections.

use super::{INSPECTION_DAYS, MAX_TEXT_CHARS, WorkOrderError, invalid};
use crate::catalogue::Catalogue;
use crate::db::issues::IssueRow;
use crate::db::words::Json;
use crate::db::work_orders::{self as store, NewWorkOrder, WorkOrderRow};
use crate::db::{Database, DbError, issues, segments};
use crate::domain::{Coordinates, IssueStatus, SegmentClass, WorkOrderKind, WorkOrderStatus};
use chrono::{Duration, NaiveDateTime};
use models::network::RoadClass;

/// The due date of a problem of `service_code` first seen at `from` on a road of `class`.
fn due_at(
    catalogue: &Catalogue,
    service_code: &str,
    class: Option<RoadClass>,
    from: NaiveDateTime,
) -> Option<NaiveDateTime> {
    let days = catalogue.get(service_code)?.sla_days_for(class);
    Some(from + Duration::days(i64::from(days)))
}

/// A new, unassigned order of `kind` for `service_code` at `at`, due at `due_at`.
fn fresh_order(
    kind: WorkOrderKind,
    service_code: &str,
    at: Coordinates,
    due_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> NewWorkOrder {
    NewWorkOrder {
        issue_id: None,
        segment_id: None,
        kind,
        status: WorkOrderStatus::New,
        crew_id: None,
        priority: 0.0,
        priority_breakdown: Json::default(),
        due_at,
        notes: None,
        created_at: now,
        updated_at: now,
        service_code: service_code.to_owned(),
        lat: at.lat,
        lon: at.lon,
        cell: crate::grid::cell_of(at),
        photo_urls: Json::default(),
        materials: Json::default(),
        labour_minutes: 0,
    }
}

fn order_for_issue(
    catalogue: &Catalogue,
    issue: &issues::IssueRow,
    class: Option<RoadClass>,
    now: NaiveDateTime,
) -> NewWorkOrder {
    let due = due_at(
        catalogue,
        &issue.service_code,
        class,
        issue.first_reported_at,
    );
    let at = Coordinates {
        lon: issue.lon,
        lat: issue.lat,
    };
    NewWorkOrder {
        issue_id: Some(issue.id),
        segment_id: issue.segment_id,
        ..fresh_order(WorkOrderKind::Repair, &issue.service_code, at, due, now)
    }
}

pub(super) fn inspection_of(
    catalogue: &Catalogue,
    segment: &segments::SegmentRow,
    notes: String,
    now: NaiveDateTime,
) -> Option<NewWorkOrder> {
    let service = catalogue.services.iter().find(|s| s.road_surface)?;
    let due = Some(now + Duration::days(INSPECTION_DAYS));
    let centre = segment.bounding_box().centre();
    Some(NewWorkOrder {
        segment_id: Some(segment.id),
        notes: Some(notes),
        ..fresh_order(WorkOrderKind::Inspection, &service.code, centre, due, now)
    })
}

/// A planner's order for issue `issue_id`, which must be open and have none.
pub fn open_for_issue(
    db: &Database,
    catalogue: &Catalogue,
    issue_id: i64,
    actor: &str,
    now: NaiveDateTime,
) -> Result<WorkOrderRow, WorkOrderError> {
    let issue = db
        .read(|conn| issues::by_ids(conn, &[issue_id]))?
        .pop()
        .ok_or_else(|| invalid("issue_id", format!("there is no issue {issue_id}")))?;
    if issue.status != IssueStatus::Open {
        return Err(WorkOrderError::Conflict(format!(
            "issue {issue_id} is closed"
        )));
    }
    let class = match issue.segment_id {
        Some(s) => db
            .read(|conn| segments::by_ids(conn, &[s]))?
            .pop()
            .and_then(|segment| segment.road_class.road_class()),
        None => None,
    };
    let order = order_for_issue(catalogue, &issue, class, now);
    db.write(|conn| store::insert_all(conn, &[order], actor))?
        .pop()
        .ok_or_else(|| {
            WorkOrderError::Conflict(format!("issue {issue_id} already has a work order"))
        })
}

/// A planner's inspection of segment `segment_id`.
pub fn open_inspection(
    db: &Database,
    catalogue: &Catalogue,
    segment_id: i64,
    notes: Option<String>,
    actor: &str,
    now: NaiveDateTime,
) -> Result<WorkOrderRow, WorkOrderError> {
    if notes
        .as_ref()
        .is_some_and(|n| n.chars().count() > MAX_TEXT_CHARS)
    {
        return Err(invalid(
            "notes",
            format!("is longer than {MAX_TEXT_CHARS} characters"),
        ));
    }
    let segment = db
        .read(|conn| segments::by_ids(conn, &[segment_id]))?
        .pop()
        .ok_or_else(|| invalid("segment_id", format!("there is no segment {segment_id}")))?;
    let notes = notes.unwrap_or_else(|| "Inspection asked for by a planner.".to_owned());
    let order = inspection_of(catalogue, &segment, notes, now).ok_or_else(|| {
        WorkOrderError::Conflict("the catalogue has no road-surface service to inspect for".into())
    })?;
    db.write(|conn| store::insert_all(conn, &[order], actor))?
        .pop()
        .ok_or_else(|| WorkOrderError::Conflict("the inspection was not stored".into()))
}

/// Gives every open issue without a work order one. Returns how many were made.
pub fn open_for_issues(
    db: &Database,
    catalogue: &Catalogue,
    now: NaiveDateTime,
) -> Result<Vec<i64>, DbError> {
    let mut made = Vec::new();
    loop {
        let waiting = db.read(|conn| issues::without_orders(conn, 1000, None))?;
        let stored = store_orders(db, catalogue, &waiting, now)?;
        let none = stored.is_empty();
        made.extend(stored);
        if waiting.len() < 1000 || none {
            return Ok(made);
        }
    }
}

/// Gives those of `issue_ids` that are open and have no work order one: what reports
/// just stored need, without looking through every open issue. Returns the issues whose
/// orders were made.
pub fn open_for_reported(
    db: &Database,
    catalogue: &Catalogue,
    issue_ids: &[i64],
    now: NaiveDateTime,
) -> Result<Vec<i64>, DbError> {
    let mut made = Vec::new();
    for chunk in issue_ids.chunks(1000) {
        let waiting = db.read(|conn| issues::without_orders(conn, 1000, Some(chunk)))?;
        made.extend(store_orders(db, catalogue, &waiting, now)?);
    }
    Ok(made)
}

/// Most orders stored in one transaction.
const ORDERS_PER_WRITE: usize = 200;

/// Stores a work order for each issue; returns the issues whose orders were stored (an
/// issue that got one meanwhile is left as it is).
fn store_orders(
    db: &Database,
    catalogue: &Catalogue,
    issues: &[(IssueRow, Option<SegmentClass>)],
    now: NaiveDateTime,
) -> Result<Vec<i64>, DbError> {
    if issues.is_empty() {
        return Ok(Vec::new());
    }
    let orders: Vec<NewWorkOrder> = issues
        .iter()
        .map(|(issue, class)| {
            let class = class.as_ref().and_then(SegmentClass::road_class);
            order_for_issue(catalogue, issue, class, now)
        })
        .collect();
    // Short transactions: on SQLite the reports wait for the one writer.
    let mut stored = Vec::with_capacity(orders.len());
    for part in orders.chunks(ORDERS_PER_WRITE) {
        let rows = db.write(|conn| store::insert_all(conn, part, "system:intake"))?;
        stored.extend(rows.into_iter().filter_map(|order| order.issue_id));
    }
    Ok(stored)
}
