//! How an order changes: who may change what, the lifecycle's state machine, and what a
//! change does to the issue's reports and the maintenance history, in one transaction.

use super::{Edit, WorkOrderError, handles, invalid};
use crate::auth::Caller;
use crate::catalogue::Catalogue;
use crate::db::maintenance::{self, NewMaintenance};
use crate::db::words::Json;
use crate::db::work_orders::{self as store, NewEvent, Saved, WorkOrderRow};
use crate::db::{Conn, Database, DbResult, issues, requests};
use crate::domain::{
    Outcome, RequestStatus, Role, WorkOrderKind, WorkOrderStatus, format_datetime,
};
use chrono::NaiveDateTime;

/// What a change does to the reports of the order's issue.
#[derive(Debug, Clone)]
struct ReportChange {
    /// Only reports now in one of these statuses change.
    from: Vec<RequestStatus>,
    to: RequestStatus,
    /// What residents read in Open311 `status_notes`.
    note: String,
    author: String,
}

/// A change to one order, with everything it implies.
#[derive(Debug, Clone)]
struct Change {
    /// The order as it should be stored.
    row: WorkOrderRow,
    /// The `updated_at` the change was based on: if the stored order moved on meanwhile
    /// (another crew member, another server), nothing is written.
    based_on: NaiveDateTime,
    events: Vec<NewEvent>,
    reports: Option<ReportChange>,
    maintenance: Option<NewMaintenance>,
}

/// Who is acting, as the history records them.
fn actor_name(caller: &Caller) -> String {
    format!("{}:{}", caller.role.as_str(), caller.name)
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
    let old = db
        .read(|conn| store::find(conn, id))?
        .ok_or(WorkOrderError::NotFound(id))?;
    check_permission(caller, &old, edit)?;
    let mut row = old.clone();
    let from = old.status;

    // Assigning or unassigning moves a fresh order along unless a status is given.
    if let Some(crew) = edit.crew_id {
        if let Some(crew_id) = crew {
            let crew = db
                .read(|conn| crate::db::crews::find(conn, crew_id))?
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
    let to = transition(from, row.crew_id, edit)?;
    let reopening = !from.is_open() && to.is_open();
    if reopening && edit.by_resident {
        row.reopens += 1;
    }
    if to == WorkOrderStatus::New && row.crew_id.is_some() && edit.crew_id.is_none() {
        row.crew_id = None;
    }
    row.status = to;
    if let Some(due) = edit.due_at {
        row.due_at = Some(due);
    }
    if let Some(notes) = &edit.notes {
        row.notes = Some(notes.clone()).filter(|n| !n.trim().is_empty());
    }
    if let Some(urls) = &edit.photo_urls {
        row.photo_urls = Json(urls.clone());
    }
    if let Some(minutes) = edit.labour_minutes {
        row.labour_minutes = minutes;
    }
    if let Some(materials) = &edit.materials {
        row.materials = Json(materials.clone());
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
        .then(|| maintenance_record(&row, outcome, now))
        .flatten();
    let change = Change {
        row,
        based_on: old.updated_at,
        events,
        reports,
        maintenance,
    };
    match db.write(|conn| save(conn, catalogue, &change))? {
        Saved::Done => Ok(change.row),
        Saved::Missing => Err(WorkOrderError::NotFound(id)),
        Saved::Stale => Err(WorkOrderError::Conflict(format!(
            "work order {id} was changed by someone else meanwhile; read it again and retry"
        ))),
    }
}

/// Whether an edit touches the work itself (not only its status or reason).
/// Where an order in status `from` goes under `edit`, with `crew` its crew once the
/// edit is applied: the status asked for, or the one that assigning or unassigning
/// implies, if the lifecycle allows it and the edit brings what the move needs.
pub fn transition(
    from: WorkOrderStatus,
    crew: Option<i64>,
    edit: &Edit,
) -> Result<WorkOrderStatus, WorkOrderError> {
    let to = edit.status.unwrap_or(match (from, crew) {
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
    if matches!(to, WorkOrderStatus::Assigned | WorkOrderStatus::InProgress) && crew.is_none() {
        return Err(invalid(
            "crew_id",
            format!("an order must have a crew to be {to}"),
        ));
    }
    if edit.outcome.is_some() && to != WorkOrderStatus::Completed {
        return Err(invalid("outcome", "is only given when completing an order"));
    }
    Ok(to)
}

/// Writes `change` and everything it implies: the order, its history, its issue's
/// reports and the issue, the maintenance record, and the "is it fixed?" questions to
/// the reporters of reports it closes. The caller's transaction makes it all or
/// nothing.
fn save(conn: &mut Conn<'_>, catalogue: &Catalogue, change: &Change) -> DbResult<Saved> {
    let row = &change.row;
    let saved = store::update_if_unchanged(conn, row, change.based_on)?;
    if !matches!(saved, Saved::Done) {
        return Ok(saved);
    }
    store::add_events(conn, &change.events)?;
    if let (Some(reports), Some(issue_id)) = (&change.reports, row.issue_id) {
        let at = row.updated_at;
        let changed = requests::set_status_of_issue(
            conn,
            issue_id,
            &reports.from,
            reports.to,
            &reports.note,
            &reports.author,
            at,
        )?;
        issues::set_open(conn, issue_id, reports.to.is_open(), at)?;
        if !reports.to.is_open() {
            crate::alerts::feedback::ask(
                conn,
                Some(catalogue),
                &changed,
                Some((row.id, row.crew_id)),
                at,
            )?;
        }
    }
    if let Some(record) = &change.maintenance {
        maintenance::insert(conn, record)?;
    }
    Ok(Saved::Done)
}

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
        Role::Client | Role::Agent => Err(WorkOrderError::Forbidden(format!(
            "a{} {} key cannot change work orders; crew, planner and admin keys can",
            if caller.role == Role::Agent { "n" } else { "" },
            caller.role.as_str()
        ))),
    }
}

/// One history line per field that changed.
fn field_events(
    old: &WorkOrderRow,
    new: &WorkOrderRow,
    actor: &str,
    at: NaiveDateTime,
) -> Vec<NewEvent> {
    let text = |v: Option<String>| v;
    let fields: [(&str, Option<String>, Option<String>); 10] = [
        (
            "status",
            Some(old.status.as_str().to_owned()),
            Some(new.status.as_str().to_owned()),
        ),
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
            Some(as_json(&old.photo_urls.0)),
            Some(as_json(&new.photo_urls.0)),
        ),
        (
            "labour_minutes",
            Some(old.labour_minutes.to_string()),
            Some(new.labour_minutes.to_string()),
        ),
        (
            "materials",
            Some(as_json(&old.materials.0)),
            Some(as_json(&new.materials.0)),
        ),
        ("outcome", old.outcome.clone(), new.outcome.clone()),
        (
            "reopens",
            Some(old.reopens.to_string()),
            Some(new.reopens.to_string()),
        ),
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

/// A list as the history shows it: its JSON text.
fn as_json<T: serde::Serialize>(list: &[T]) -> String {
    serde_json::to_string(list).expect("a list of plain values serialises")
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
        author: if edit.by_resident {
            "resident".to_owned()
        } else {
            format!("crew:{who}")
        },
    })
}

/// The maintenance history a completed order leaves on its segment.
fn maintenance_record(
    row: &WorkOrderRow,
    outcome: Outcome,
    at: NaiveDateTime,
) -> Option<NewMaintenance> {
    let segment_id = row.segment_id?;
    // `<service>_repair`: the catalogue says which services, and so which repairs, are
    // of the road surface (an inspection's service is a road-surface one).
    let kind = match outcome {
        Outcome::NothingFound if row.kind == WorkOrderKind::Inspection => "inspection".to_owned(),
        // A report of a defect that was not there repaired nothing either.
        Outcome::NothingFound => return None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use WorkOrderStatus::*;

    fn edit(status: Option<WorkOrderStatus>) -> Edit {
        Edit {
            status,
            ..Edit::default()
        }
    }

    fn with_reason(status: WorkOrderStatus) -> Edit {
        Edit {
            reason: Some("the crew found it already filled".into()),
            ..edit(Some(status))
        }
    }

    #[test]
    fn assigning_a_crew_to_a_new_order_makes_it_assigned() {
        let assign = Edit {
            crew_id: Some(Some(3)),
            ..Edit::default()
        };
        assert_eq!(transition(New, Some(3), &assign).unwrap(), Assigned);
    }

    #[test]
    fn unassigning_an_assigned_order_makes_it_new_again() {
        let unassign = Edit {
            crew_id: Some(None),
            ..Edit::default()
        };
        assert_eq!(transition(Assigned, None, &unassign).unwrap(), New);
    }

    #[test]
    fn an_edit_without_a_status_keeps_the_status() {
        let notes = Edit {
            notes: Some("cones placed".into()),
            ..Edit::default()
        };
        assert_eq!(transition(InProgress, Some(1), &notes).unwrap(), InProgress);
    }

    #[test]
    fn a_new_order_cannot_be_completed_without_being_assigned() {
        let err = transition(New, None, &edit(Some(Completed))).unwrap_err();
        assert!(
            matches!(err, WorkOrderError::Conflict(m) if m == "a new order cannot become completed")
        );
    }

    #[test]
    fn work_needs_a_crew() {
        let err = transition(Assigned, None, &edit(Some(InProgress))).unwrap_err();
        assert!(matches!(err, WorkOrderError::Invalid(e) if e.field == "crew_id"));
    }

    #[test]
    fn cancelling_and_reopening_need_a_reason() {
        for (from, to) in [(New, Cancelled), (Completed, New), (Cancelled, Assigned)] {
            let err = transition(from, Some(1), &edit(Some(to))).unwrap_err();
            assert!(
                matches!(&err, WorkOrderError::Invalid(e) if e.field == "reason"),
                "{from} -> {to}: {err}"
            );
            assert_eq!(transition(from, Some(1), &with_reason(to)).unwrap(), to);
        }
    }

    #[test]
    fn a_closed_order_refuses_changes_to_its_work_until_reopened() {
        let notes = Edit {
            notes: Some("one more thing".into()),
            ..Edit::default()
        };
        assert!(matches!(
            transition(Completed, Some(1), &notes),
            Err(WorkOrderError::Conflict(_))
        ));
        let reopen_with_notes = Edit {
            notes: Some("the patch failed".into()),
            ..with_reason(Assigned)
        };
        assert_eq!(
            transition(Completed, Some(1), &reopen_with_notes).unwrap(),
            Assigned
        );
    }

    #[test]
    fn an_outcome_is_only_given_when_completing() {
        let early = Edit {
            outcome: Some(Outcome::NothingFound),
            ..edit(Some(InProgress))
        };
        assert!(matches!(
            transition(Assigned, Some(1), &early),
            Err(WorkOrderError::Invalid(e)) if e.field == "outcome"
        ));
        let done = Edit {
            outcome: Some(Outcome::NothingFound),
            ..edit(Some(Completed))
        };
        assert_eq!(transition(InProgress, Some(1), &done).unwrap(), Completed);
    }
}
