//! Work orders: their lifecycle, who may change what, what completing one does, their
//! priorities, the weekly proactive inspections and a crew's day (design §3).
//!
//! Everything here is plain functions over the database; the HTTP layer parses input
//! into [`Edit`] and [`NewOrder`] and maps [`WorkOrderError`] to statuses.

use crate::auth::Caller;
use crate::catalogue::{AttributeAnswer, Catalogue};
use crate::db::crews::CrewRow;
use crate::db::work_orders::{
    self as store, Change, INSPECTION, NewEvent, NewMaintenance, NewWorkOrder, OPEN_STATUSES,
    REPAIR, ReportChange, Saved, WorkOrderRow,
};
use crate::db::{Database, DbError};
use crate::domain::{
    Coordinates, FieldError, Outcome, RequestStatus, Role, WorkOrderStatus, format_datetime,
};
use crate::priority::{self, Breakdown, Inputs, Weights};
use crate::route::{self, Pace, Stop};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use models::network::RoadClass;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// Why a work-order action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WorkOrderError {
    #[error("work order {0} does not exist")]
    NotFound(i64),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn invalid(field: &str, message: impl Into<String>) -> WorkOrderError {
    WorkOrderError::Invalid(FieldError::new(field, message))
}

/// A material used on a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Material {
    pub item: String,
    pub quantity: f64,
    pub unit: String,
}

/// The longest free text accepted in notes and reasons, characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most photos one order keeps.
pub const MAX_PHOTOS: usize = 20;
/// Most labour one order records, minutes (a month of round-the-clock work).
pub const MAX_LABOUR_MINUTES: i32 = 60 * 24 * 31;

/// A change asked for. Absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub status: Option<WorkOrderStatus>,
    /// Some(None) unassigns.
    pub crew_id: Option<Option<i64>>,
    pub due_at: Option<NaiveDateTime>,
    pub notes: Option<String>,
    pub photo_urls: Option<Vec<String>>,
    pub labour_minutes: Option<i32>,
    pub materials: Option<Vec<Material>>,
    /// What completing found; repaired unless said.
    pub outcome: Option<Outcome>,
    /// Why an order is cancelled or reopened (required for both).
    pub reason: Option<String>,
    /// What residents read when the order completes; a sentence is written if absent.
    pub resident_note: Option<String>,
}

impl Edit {
    /// Checks what can be checked without the stored order.
    pub fn check(&self) -> Result<(), FieldError> {
        for (field, text) in [
            ("notes", &self.notes),
            ("reason", &self.reason),
            ("resident_note", &self.resident_note),
        ] {
            if text
                .as_ref()
                .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
            {
                return Err(FieldError::new(
                    field,
                    format!("is longer than {MAX_TEXT_CHARS} characters"),
                ));
            }
        }
        if let Some(urls) = &self.photo_urls {
            if urls.len() > MAX_PHOTOS {
                return Err(FieldError::new(
                    "photo_urls",
                    format!("holds more than {MAX_PHOTOS} photos"),
                ));
            }
            for (i, raw) in urls.iter().enumerate() {
                let ok = url::Url::parse(raw).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
                    || (raw.starts_with("/media/") && !raw.contains(".."));
                if !ok {
                    return Err(FieldError::new(
                        format!("photo_urls[{i}]"),
                        format!("'{raw}' is not an http(s) URL or a /media/ path"),
                    ));
                }
            }
        }
        if let Some(minutes) = self.labour_minutes
            && !(0..=MAX_LABOUR_MINUTES).contains(&minutes)
        {
            return Err(FieldError::new(
                "labour_minutes",
                format!("must be between 0 and {MAX_LABOUR_MINUTES} minutes"),
            ));
        }
        for (i, material) in self.materials.iter().flatten().enumerate() {
            if material.item.trim().is_empty() || material.item.chars().count() > 200 {
                return Err(FieldError::new(
                    format!("materials[{i}].item"),
                    "must name the item in 1 to 200 characters",
                ));
            }
            if !(material.quantity.is_finite() && material.quantity >= 0.0) {
                return Err(FieldError::new(
                    format!("materials[{i}].quantity"),
                    "must be a number of 0 or more",
                ));
            }
            if material.unit.chars().count() > 40 {
                return Err(FieldError::new(
                    format!("materials[{i}].unit"),
                    "must be at most 40 characters",
                ));
            }
        }
        Ok(())
    }
}

/// Who is acting, as the history records them.
fn actor_name(caller: &Caller) -> String {
    format!("{}:{}", caller.role.as_str(), caller.name)
}

fn status_of(row: &WorkOrderRow) -> WorkOrderStatus {
    row.status.parse().unwrap_or(WorkOrderStatus::New)
}

/// Applies `edit` to order `id` on behalf of `caller`, with everything it implies.
pub fn apply(
    db: &Database,
    catalogue: &Catalogue,
    caller: &Caller,
    id: i64,
    edit: &Edit,
    now: NaiveDateTime,
) -> Result<WorkOrderRow, WorkOrderError> {
    edit.check().map_err(WorkOrderError::Invalid)?;
    let old = store::find(db, id)?.ok_or(WorkOrderError::NotFound(id))?;
    check_permission(caller, &old, edit)?;
    let mut row = old.clone();
    let from = status_of(&old);

    // Assigning or unassigning moves a fresh order along unless a status is given.
    if let Some(crew) = edit.crew_id {
        if let Some(crew_id) = crew {
            let crew = crate::db::crews::find(db, crew_id)?
                .filter(|c| c.retired_at.is_none())
                .ok_or_else(|| invalid("crew_id", format!("there is no active crew {crew_id}")))?;
            if !handles(&crew, &old, catalogue) {
                return Err(invalid(
                    "crew_id",
                    format!(
                        "crew '{}' does not handle '{}' orders",
                        crew.name, old.service_code
                    ),
                ));
            }
        }
        row.crew_id = crew;
    }
    let to = edit.status.unwrap_or(match (from, row.crew_id) {
        (WorkOrderStatus::New, Some(_)) if edit.crew_id.is_some() => WorkOrderStatus::Assigned,
        (WorkOrderStatus::Assigned, None) => WorkOrderStatus::New,
        _ => from,
    });
    if to != from && !from.can_become(to) {
        return Err(WorkOrderError::Conflict(format!(
            "a {from} order cannot become {to}"
        )));
    }
    let reopening = !from.is_open() && to.is_open();
    if (reopening || (to == WorkOrderStatus::Cancelled && from != to))
        && edit.reason.as_deref().is_none_or(|r| r.trim().is_empty())
    {
        return Err(invalid(
            "reason",
            format!("is required to make a {from} order {to}"),
        ));
    }
    if !from.is_open() && !reopening && edit_changes_work(edit) {
        return Err(WorkOrderError::Conflict(format!(
            "a {from} order cannot be changed; reopen it with a reason first"
        )));
    }
    match to {
        WorkOrderStatus::New if row.crew_id.is_some() && edit.crew_id.is_none() => {
            row.crew_id = None;
        }
        WorkOrderStatus::Assigned | WorkOrderStatus::InProgress if row.crew_id.is_none() => {
            return Err(invalid(
                "crew_id",
                format!("an order must have a crew to be {to}"),
            ));
        }
        _ => {}
    }
    if edit.outcome.is_some() && to != WorkOrderStatus::Completed {
        return Err(invalid("outcome", "is only given when completing an order"));
    }
    row.status = to.as_str().to_owned();
    if let Some(due) = edit.due_at {
        row.due_at = Some(due);
    }
    if let Some(notes) = &edit.notes {
        row.notes = Some(notes.clone()).filter(|n| !n.trim().is_empty());
    }
    if let Some(urls) = &edit.photo_urls {
        row.photo_urls = serde_json::to_string(urls).unwrap_or_else(|_| "[]".into());
    }
    if let Some(minutes) = edit.labour_minutes {
        row.labour_minutes = minutes;
    }
    if let Some(materials) = &edit.materials {
        row.materials = serde_json::to_string(materials).unwrap_or_else(|_| "[]".into());
    }
    let completing = to == WorkOrderStatus::Completed && from != to;
    let outcome = edit.outcome.unwrap_or(Outcome::Repaired);
    if completing {
        row.completed_at = Some(now);
        row.outcome = Some(outcome.as_str().to_owned());
    } else if reopening {
        row.completed_at = None;
        row.outcome = None;
    }
    row.updated_at = now;

    let actor = actor_name(caller);
    let mut events = field_events(&old, &row, &actor, now);
    if let Some(reason) = edit.reason.as_ref().filter(|r| !r.trim().is_empty()) {
        events.push(NewEvent {
            work_order_id: id,
            actor: actor.clone(),
            field: "reason".into(),
            old_value: None,
            new_value: Some(reason.clone()),
            created_at: now,
        });
    }
    if events.is_empty() {
        return Ok(old);
    }
    let reports = report_change(from, to, outcome, edit, &caller.name, now);
    let maintenance = (completing)
        .then(|| maintenance_record(&row, outcome, catalogue, now))
        .flatten();
    let change = Change {
        row,
        based_on: old.updated_at,
        events,
        reports,
        maintenance,
    };
    match store::save(db, &change)? {
        Saved::Done(row) => Ok(*row),
        Saved::Missing => Err(WorkOrderError::NotFound(id)),
        Saved::Stale => Err(WorkOrderError::Conflict(format!(
            "work order {id} was changed by someone else meanwhile; read it again and retry"
        ))),
    }
}

/// Whether an edit touches the work itself (not only its status or reason).
fn edit_changes_work(edit: &Edit) -> bool {
    edit.crew_id.is_some()
        || edit.due_at.is_some()
        || edit.notes.is_some()
        || edit.photo_urls.is_some()
        || edit.labour_minutes.is_some()
        || edit.materials.is_some()
}

/// Crews change only their own orders, and may take an unassigned one for themselves;
/// only planners and admins set due dates or hand orders to other crews.
fn check_permission(
    caller: &Caller,
    order: &WorkOrderRow,
    edit: &Edit,
) -> Result<(), WorkOrderError> {
    match caller.role {
        Role::Planner | Role::Admin => Ok(()),
        Role::Crew => {
            let Some(own) = caller.crew_id else {
                return Err(WorkOrderError::Forbidden(
                    "this crew key belongs to no crew; ask an admin to issue one for your crew"
                        .into(),
                ));
            };
            let taking = order.crew_id.is_none() && edit.crew_id == Some(Some(own));
            if order.crew_id != Some(own) && !taking {
                return Err(WorkOrderError::Forbidden(format!(
                    "work order {} is not assigned to your crew; a crew changes only its own orders",
                    order.id
                )));
            }
            if edit.crew_id.is_some_and(|c| c.is_some_and(|c| c != own)) {
                return Err(WorkOrderError::Forbidden(
                    "a crew key cannot hand an order to another crew; planners can".into(),
                ));
            }
            if edit.due_at.is_some() {
                return Err(WorkOrderError::Forbidden(
                    "a crew key cannot change a due date; planners can".into(),
                ));
            }
            Ok(())
        }
        Role::Client => Err(WorkOrderError::Forbidden(
            "a client key cannot change work orders; crew, planner and admin keys can".into(),
        )),
    }
}

/// Whether `crew` does this kind of order (inspections go to road crews).
fn handles(crew: &CrewRow, order: &WorkOrderRow, catalogue: &Catalogue) -> bool {
    if order.kind == INSPECTION {
        return handles_road_surface(crew, catalogue);
    }
    crew.handles().contains(&order.service_code)
}

/// Whether `crew` handles any road-surface defect (and so does inspections).
fn handles_road_surface(crew: &CrewRow, catalogue: &Catalogue) -> bool {
    crew.handles()
        .iter()
        .any(|code| catalogue.get(code).is_some_and(|s| s.road_surface))
}

/// One history line per field that changed.
fn field_events(
    old: &WorkOrderRow,
    new: &WorkOrderRow,
    actor: &str,
    at: NaiveDateTime,
) -> Vec<NewEvent> {
    let text = |v: Option<String>| v;
    let fields: [(&str, Option<String>, Option<String>); 9] = [
        ("status", Some(old.status.clone()), Some(new.status.clone())),
        (
            "crew_id",
            old.crew_id.map(|c| c.to_string()),
            new.crew_id.map(|c| c.to_string()),
        ),
        (
            "due_at",
            old.due_at.map(format_datetime),
            new.due_at.map(format_datetime),
        ),
        ("notes", text(old.notes.clone()), text(new.notes.clone())),
        (
            "photo_urls",
            Some(old.photo_urls.clone()),
            Some(new.photo_urls.clone()),
        ),
        (
            "labour_minutes",
            Some(old.labour_minutes.to_string()),
            Some(new.labour_minutes.to_string()),
        ),
        (
            "materials",
            Some(old.materials.clone()),
            Some(new.materials.clone()),
        ),
        ("outcome", old.outcome.clone(), new.outcome.clone()),
        (
            "completed_at",
            old.completed_at.map(format_datetime),
            new.completed_at.map(format_datetime),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .map(|(field, before, after)| NewEvent {
            work_order_id: new.id,
            actor: actor.to_owned(),
            field: field.to_owned(),
            old_value: before,
            new_value: after,
            created_at: at,
        })
        .collect()
}

/// What residents see of a status change, on every report of the order's issue.
fn report_change(
    from: WorkOrderStatus,
    to: WorkOrderStatus,
    outcome: Outcome,
    edit: &Edit,
    who: &str,
    at: NaiveDateTime,
) -> Option<ReportChange> {
    use RequestStatus as R;
    if from == to {
        return None;
    }
    let custom = edit.resident_note.clone().filter(|n| !n.trim().is_empty());
    let day = at.format("%-d %B %Y");
    let (from_statuses, status, note) = match to {
        WorkOrderStatus::Assigned if from.is_open() => (
            vec![R::Open],
            R::Acknowledged,
            "A crew has been assigned to this problem.".to_owned(),
        ),
        WorkOrderStatus::InProgress => (
            vec![R::Open, R::Acknowledged],
            R::InProgress,
            "A crew is working on this now.".to_owned(),
        ),
        WorkOrderStatus::Completed => (
            vec![R::Open, R::Acknowledged, R::InProgress],
            outcome.report_status(),
            match outcome {
                Outcome::Repaired => format!("Repaired by a city crew on {day}."),
                Outcome::NothingFound => {
                    format!("A city crew inspected the spot on {day} and found nothing to repair.")
                }
            },
        ),
        WorkOrderStatus::Cancelled => (
            vec![R::Open, R::Acknowledged, R::InProgress],
            R::Closed,
            format!(
                "Closed without a repair: {}",
                edit.reason.as_deref().unwrap_or("no reason given").trim()
            ),
        ),
        WorkOrderStatus::New | WorkOrderStatus::Assigned if !from.is_open() => (
            vec![R::Fixed, R::NothingFound, R::Closed],
            R::Acknowledged,
            format!(
                "Reopened: {}",
                edit.reason.as_deref().unwrap_or("no reason given").trim()
            ),
        ),
        _ => return None,
    };
    Some(ReportChange {
        from: from_statuses,
        to: status,
        note: custom.unwrap_or(note),
        author: format!("crew:{who}"),
    })
}

/// The maintenance history a completed order leaves on its segment.
fn maintenance_record(
    row: &WorkOrderRow,
    outcome: Outcome,
    catalogue: &Catalogue,
    at: NaiveDateTime,
) -> Option<NewMaintenance> {
    let segment_id = row.segment_id?;
    let road_surface = catalogue
        .get(&row.service_code)
        .is_some_and(|s| s.road_surface);
    let kind = match (row.kind.as_str(), outcome) {
        (_, Outcome::NothingFound) if row.kind == INSPECTION => "inspection".to_owned(),
        // A report of a defect that was not there repaired nothing either.
        (_, Outcome::NothingFound) => return None,
        _ if road_surface || row.kind == INSPECTION => "pothole_repair".to_owned(),
        _ => format!("{}_repair", row.service_code),
    };
    Some(NewMaintenance {
        segment_id,
        work_order_id: Some(row.id),
        kind,
        performed_at: at,
        notes: row.notes.clone(),
    })
}

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

fn parse_class(raw: Option<&str>) -> Option<RoadClass> {
    raw.and_then(|c| c.parse().ok())
}

/// A new, unassigned order of `kind` for `service_code` at `at`, due at `due_at`.
fn fresh_order(
    kind: &str,
    service_code: &str,
    at: Coordinates,
    due_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> NewWorkOrder {
    NewWorkOrder {
        issue_id: None,
        segment_id: None,
        kind: kind.to_owned(),
        status: WorkOrderStatus::New.as_str().to_owned(),
        crew_id: None,
        priority: 0.0,
        priority_breakdown: "{}".to_owned(),
        due_at,
        notes: None,
        created_at: now,
        updated_at: now,
        service_code: service_code.to_owned(),
        lat: at.lat,
        lon: at.lon,
        cell: crate::grid::cell_of(at),
        photo_urls: "[]".to_owned(),
        materials: "[]".to_owned(),
        labour_minutes: 0,
    }
}

fn order_for_issue(
    catalogue: &Catalogue,
    issue: &crate::db::issues::IssueRow,
    class: Option<&str>,
    now: NaiveDateTime,
) -> NewWorkOrder {
    let due = due_at(
        catalogue,
        &issue.service_code,
        parse_class(class),
        issue.first_reported_at,
    );
    let at = Coordinates {
        lon: issue.lon,
        lat: issue.lat,
    };
    NewWorkOrder {
        issue_id: Some(issue.id),
        segment_id: issue.segment_id,
        ..fresh_order(REPAIR, &issue.service_code, at, due, now)
    }
}

fn inspection_of(
    catalogue: &Catalogue,
    segment: &crate::db::segments::SegmentRow,
    notes: String,
    now: NaiveDateTime,
) -> Option<NewWorkOrder> {
    let service = catalogue.services.iter().find(|s| s.road_surface)?;
    let due = Some(now + Duration::days(INSPECTION_DAYS));
    let centre = segment.bounding_box().centre();
    Some(NewWorkOrder {
        segment_id: Some(segment.id),
        notes: Some(notes),
        ..fresh_order(INSPECTION, &service.code, centre, due, now)
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
    let issue = crate::db::issues::by_ids(db, &[issue_id])?
        .pop()
        .ok_or_else(|| invalid("issue_id", format!("there is no issue {issue_id}")))?;
    if issue.status != crate::db::requests::ISSUE_OPEN {
        return Err(WorkOrderError::Conflict(format!(
            "issue {issue_id} is closed"
        )));
    }
    let class = match issue.segment_id {
        Some(s) => crate::db::segments::by_ids(db, &[s])?
            .pop()
            .map(|segment| segment.road_class),
        None => None,
    };
    let order = order_for_issue(catalogue, &issue, class.as_deref(), now);
    store::insert_all(db, &[order], actor)?
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
    let segment = crate::db::segments::by_ids(db, &[segment_id])?
        .pop()
        .ok_or_else(|| invalid("segment_id", format!("there is no segment {segment_id}")))?;
    let notes = notes.unwrap_or_else(|| "Inspection asked for by a planner.".to_owned());
    let order = inspection_of(catalogue, &segment, notes, now).ok_or_else(|| {
        WorkOrderError::Conflict("the catalogue has no road-surface service to inspect for".into())
    })?;
    store::insert_all(db, &[order], actor)?
        .pop()
        .ok_or_else(|| WorkOrderError::Conflict("the inspection was not stored".into()))
}

/// Gives every open issue without a work order one. Returns how many were made.
pub fn open_for_issues(
    db: &Database,
    catalogue: &Catalogue,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let mut made = 0;
    loop {
        let issues = store::issues_without_orders(db, 1000)?;
        if issues.is_empty() {
            return Ok(made);
        }
        let orders: Vec<NewWorkOrder> = issues
            .iter()
            .map(|(issue, class)| order_for_issue(catalogue, issue, class.as_deref(), now))
            .collect();
        let stored = store::insert_all(db, &orders, "system:intake")?;
        made += stored.len();
        if issues.len() < 1000 || stored.is_empty() {
            return Ok(made);
        }
    }
}

/// The weights in force: a planner's, else the configured ones; and who set them
/// ("configuration" for the latter) and when.
pub fn current_weights(
    db: &Database,
    configured: &Weights,
) -> Result<(Weights, String, Option<NaiveDateTime>), DbError> {
    match crate::db::priority::weights(db)? {
        Some((json, by, at)) => match serde_json::from_str::<Weights>(&json) {
            Ok(weights) => Ok((weights, by, Some(at))),
            Err(e) => {
                tracing::warn!(error = %e, "stored priority weights unreadable; using the configured ones");
                Ok((configured.clone(), "configuration".into(), None))
            }
        },
        None => Ok((configured.clone(), "configuration".into(), None)),
    }
}

/// Days an inspection is given: the week it is planned for.
pub const INSPECTION_DAYS: i64 = 7;

/// Each segment's place in the latest risk ranking, 0 (lowest) to 1 (highest).
fn risk_percentiles(db: &Database) -> Result<HashMap<i64, f64>, DbError> {
    let mut scores = crate::db::risk::latest_probabilities(db)?;
    scores.sort_by(|a, b| a.1.total_cmp(&b.1));
    let top = (scores.len().max(2) - 1) as f64;
    Ok(scores
        .iter()
        .enumerate()
        .map(|(rank, (segment, _))| (*segment, rank as f64 / top))
        .collect())
}

/// The inputs of one order's priority.
fn inputs_of(
    facts: &store::PriorityFacts,
    severity: f64,
    percentiles: &HashMap<i64, f64>,
    catalogue: &Catalogue,
    now: NaiveDateTime,
) -> Inputs {
    let order = &facts.order;
    let class = parse_class(facts.road_class.as_deref());
    let since = facts.first_reported_at.unwrap_or(order.created_at);
    // An inspection promises nothing to a resident: it has its week.
    let sla_days = if order.kind == INSPECTION {
        INSPECTION_DAYS as f64
    } else {
        catalogue
            .get(&order.service_code)
            .map_or(7.0, |s| f64::from(s.sla_days_for(class)))
    };
    Inputs {
        severity,
        risk_percentile: order.segment_id.and_then(|s| percentiles.get(&s).copied()),
        road_class: class,
        aadt: facts.aadt.map(f64::from),
        distinct_reporters: facts
            .reporter_count
            .map_or(0, |c| u32::try_from(c).unwrap_or(0)),
        age_days: (now - since).num_seconds() as f64 / 86_400.0,
        sla_days,
        ward_vulnerability: facts.ward_vulnerability.unwrap_or(0.0),
    }
}

/// Recomputes the priority of every open order; returns how many changed.
pub fn reprioritise(
    db: &Database,
    catalogue: &Catalogue,
    weights: &Weights,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let open = store::open_with_facts(db)?;
    let percentiles = risk_percentiles(db)?;
    let issue_ids: Vec<i64> = open.iter().filter_map(|f| f.order.issue_id).collect();
    let mut answers: HashMap<i64, Vec<(String, String)>> = HashMap::new();
    for (issue, raw) in store::report_answers(db, &issue_ids)? {
        let stored: std::collections::BTreeMap<String, AttributeAnswer> =
            serde_json::from_str(&raw).unwrap_or_default();
        let pairs = stored.into_iter().flat_map(|(code, answer)| {
            let values = match answer {
                AttributeAnswer::One(v) => vec![v],
                AttributeAnswer::Many(vs) => vs,
            };
            values.into_iter().map(move |v| (code.clone(), v))
        });
        answers.entry(issue).or_default().extend(pairs);
    }
    let mut changed = Vec::new();
    for facts in &open {
        let order = &facts.order;
        let severity = if order.kind == INSPECTION {
            weights.inspection_severity
        } else {
            catalogue.get(&order.service_code).map_or(3.0, |service| {
                let given = order
                    .issue_id
                    .and_then(|i| answers.get(&i))
                    .map_or(&[][..], Vec::as_slice);
                weights.severity(service, given)
            })
        };
        let parts = priority::breakdown(
            weights,
            &inputs_of(facts, severity, &percentiles, catalogue, now),
        );
        let total = parts.total();
        let stored: Option<Breakdown> = serde_json::from_str(&order.priority_breakdown).ok();
        if (total - order.priority).abs() > 1e-6 || stored != Some(parts) {
            let json = serde_json::to_string(&parts).unwrap_or_else(|_| "{}".into());
            changed.push((order.id, total, json));
        }
    }
    store::set_priorities(db, &changed)
}

/// The Monday of the week holding `day`.
pub fn week_start(day: NaiveDate) -> NaiveDate {
    use chrono::Datelike;
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// The weekly inspection budget: `per_crew` for each active crew that handles
/// road-surface defects.
pub fn weekly_budget(
    db: &Database,
    catalogue: &Catalogue,
    per_crew: u32,
) -> Result<usize, DbError> {
    let road_crews = crate::db::crews::active(db)?
        .iter()
        .filter(|crew| handles_road_surface(crew, catalogue))
        .count();
    Ok(road_crews * per_crew as usize)
}

/// This week's proactive inspections: the riskiest segments with no open order get
/// one each, at most `budget`, once a week however many servers ask. With `again`,
/// plans even if the week was planned (a planner asking by hand). Returns the orders.
pub fn plan_inspections(
    db: &Database,
    catalogue: &Catalogue,
    budget: usize,
    now: NaiveDateTime,
    again: bool,
    actor: &str,
) -> Result<Vec<WorkOrderRow>, DbError> {
    let week = week_start(now.date());
    // The upkeep task asks every few seconds; a planned week costs one small read.
    if budget == 0 || (!again && crate::db::priority::week_planned(db, week)?) {
        return Ok(Vec::new());
    }
    let mut scores = crate::db::risk::latest_probabilities(db)?;
    // Without scores there is nothing to plan from; the week stays unclaimed until there are.
    if scores.is_empty() {
        return Ok(Vec::new());
    }
    if !again && !crate::db::priority::claim_week(db, week, now)? {
        return Ok(Vec::new());
    }
    scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let busy: HashSet<i64> = store::segments_with_open_orders(db)?.into_iter().collect();
    let chosen: Vec<(i64, f64)> = scores
        .into_iter()
        .filter(|(segment, _)| !busy.contains(segment))
        .take(budget)
        .collect();
    let ids: Vec<i64> = chosen.iter().map(|(s, _)| *s).collect();
    let segments = crate::db::segments::by_ids(db, &ids)?;
    let note = format!(
        "Proactive inspection: among the {budget} riskiest segments without an open order in the week of {week}. Look for surface defects and fix them."
    );
    let orders: Vec<NewWorkOrder> = segments
        .iter()
        .filter_map(|segment| inspection_of(catalogue, segment, note.clone(), now))
        .collect();
    let stored = store::insert_all(db, &orders, actor)?;
    crate::db::priority::record_week(db, week, now, stored.len())?;
    Ok(stored)
}

/// A crew's day: its open orders plus nearby unassigned ones, in route order.
#[derive(Debug, Clone)]
pub struct Day {
    pub orders: Vec<WorkOrderRow>,
    /// Which of `orders` are the crew's own (the rest are offered).
    pub own: HashSet<i64>,
    pub route_length_m: f64,
    /// The same orders visited highest priority first, for comparison.
    pub priority_order_length_m: f64,
}

/// How far a crew looks for unassigned orders to add to its day, metres.
pub const DAY_RADIUS_M: f64 = 5_000.0;
/// A job's duration and the speed between jobs, for routing (see [`route`]).
pub const JOB_MINUTES: f64 = 30.0;
pub const SPEED_KMH: f64 = 30.0;

/// Plans `crew`'s day from `start`.
pub fn day(
    db: &Database,
    catalogue: &Catalogue,
    crew: &CrewRow,
    start: Coordinates,
) -> Result<Day, DbError> {
    let statuses: Vec<String> = OPEN_STATUSES.iter().map(|s| (*s).to_owned()).collect();
    let own_orders = store::list(
        db,
        &store::WorkOrderFilter {
            statuses: Some(statuses),
            crew_id: Some(Some(crew.id)),
            ..Default::default()
        },
        10_000,
        0,
    )?;
    let own: HashSet<i64> = own_orders.iter().map(|o| o.id).collect();
    let capacity = usize::try_from(crew.daily_capacity).unwrap_or(0);
    let room = capacity.saturating_sub(own_orders.len());
    let mut orders = own_orders;
    if room > 0 {
        let circle = crate::domain::Circle {
            centre: start,
            radius_m: DAY_RADIUS_M,
        };
        let window = crate::search::Window::for_points(circle.bounding_box());
        let mut offered: Vec<WorkOrderRow> = store::open_in(db, &window)?
            .into_iter()
            .filter(|o| {
                o.crew_id.is_none()
                    && o.status == WorkOrderStatus::New.as_str()
                    && handles(crew, o, catalogue)
                    && start.distance_m(Coordinates {
                        lon: o.lon,
                        lat: o.lat,
                    }) <= DAY_RADIUS_M
            })
            .collect();
        // Reported problems first; inspections fill what room is left, so proactive
        // work never delays a resident's report (BENCHMARKS.md, operational replay).
        offered.sort_by(|a, b| {
            (a.kind == INSPECTION)
                .cmp(&(b.kind == INSPECTION))
                .then(b.priority.total_cmp(&a.priority))
                .then(a.id.cmp(&b.id))
        });
        orders.extend(offered.into_iter().take(room));
    }
    let stops: Vec<Stop> = orders
        .iter()
        .map(|o| Stop {
            id: o.id,
            at: Coordinates {
                lon: o.lon,
                lat: o.lat,
            },
            priority: o.priority,
        })
        .collect();
    let planned = route::plan(start, &stops, Pace::new(JOB_MINUTES, SPEED_KMH));
    let mut by_priority: Vec<usize> = (0..stops.len()).collect();
    by_priority.sort_by(|a, b| stops[*b].priority.total_cmp(&stops[*a].priority));
    let priority_order_length_m = route::length_m(start, &stops, &by_priority);
    let mut slots: Vec<Option<WorkOrderRow>> = orders.into_iter().map(Some).collect();
    let ordered = planned
        .order
        .iter()
        .filter_map(|&i| slots[i].take())
        .collect();
    Ok(Day {
        orders: ordered,
        own,
        route_length_m: planned.length_m,
        priority_order_length_m,
    })
}
