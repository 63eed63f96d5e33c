//! Priorities of open orders, from severity, risk, road class, reporters and age.

use super::INSPECTION_DAYS;
use crate::catalogue::Catalogue;
use crate::db::work_orders::{self as store};
use crate::db::{Database, DbError, requests};
use crate::domain::{AnswerPairs, SegmentClass, WorkOrderKind};
use crate::priority::{self, Breakdown, Inputs, Weights};
use crate::risk::{Percentiles, RunCache};
use chrono::NaiveDateTime;
use std::collections::HashMap;

/// The weights in force: a planner's, else the configured ones; and who set them
/// ("configuration" for the latter) and when.
pub fn current_weights(
    db: &Database,
    configured: &Weights,
) -> Result<(Weights, String, Option<NaiveDateTime>), DbError> {
    Ok(match db.read(crate::db::priority::weights)? {
        Some((stored, by, at)) => (stored.0, by, Some(at)),
        None => (configured.clone(), "configuration".into(), None),
    })
}

/// The inputs of one order's priority.
fn inputs_of(
    facts: &store::PriorityFacts,
    severity: f64,
    percentiles: &Percentiles,
    catalogue: &Catalogue,
    now: NaiveDateTime,
) -> Inputs {
    let order = &facts.order;
    let class = facts.road_class.as_ref().and_then(SegmentClass::road_class);
    let since = facts.first_reported_at.unwrap_or(order.created_at);
    // An inspection promises nothing to a resident: it has its week.
    let sla_days = if order.kind == WorkOrderKind::Inspection {
        INSPECTION_DAYS as f64
    } else {
        catalogue
            .get(&order.service_code)
            .map_or(7.0, |s| f64::from(s.sla_days_for(class)))
    };
    Inputs {
        severity,
        risk_percentile: percentiles.at(order.segment_id, (order.lon, order.lat)),
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

/// Least change of a part, in points, that is written: the age part grows every second,
/// and rewriting every open order each time it had grown by a hair would keep the
/// city's one writer busy for nothing (an order ages 0.01 points in about seven
/// minutes at the default weights).
pub const PRIORITY_STEP: f64 = 0.01;

/// Most priorities written in one transaction.
const PRIORITIES_PER_WRITE: usize = 200;

/// Whether a stored priority or any of its parts is `PRIORITY_STEP` or more from `now`.
fn moved(stored_total: f64, stored: &Breakdown, now: &Breakdown) -> bool {
    (stored_total - now.total()).abs() >= PRIORITY_STEP
        || stored
            .parts()
            .iter()
            .zip(now.parts())
            .any(|(was, is)| (was - is).abs() >= PRIORITY_STEP)
}

/// Recomputes the priority of every open order, or only of the orders of the issues
/// `of_issues` (those that just took reports); returns how many changed. Each place's
/// standing in the latest risk ranking comes from `runs`, ranked once per run.
pub fn reprioritise(
    db: &Database,
    catalogue: &Catalogue,
    weights: &Weights,
    runs: &RunCache,
    now: NaiveDateTime,
    of_issues: Option<&[i64]>,
) -> Result<usize, DbError> {
    let open = db.read(|conn| store::open_with_facts(conn, of_issues))?;
    let percentiles = runs.percentiles(db)?;
    // Issues that keep no answers (stored before they were kept) have them read from
    // their reports.
    let unkept: Vec<i64> = open
        .iter()
        .filter(|f| f.answers.is_none())
        .filter_map(|f| f.order.issue_id)
        .collect();
    let mut read: HashMap<i64, AnswerPairs> = HashMap::new();
    for (issue, answers) in db.read(|conn| requests::answers_of_issues(conn, &unkept))? {
        read.entry(issue).or_default().add(&answers);
    }
    let mut changed = Vec::new();
    for facts in &open {
        let order = &facts.order;
        let severity = if order.kind == WorkOrderKind::Inspection {
            weights.inspection_severity
        } else {
            catalogue.get(&order.service_code).map_or(3.0, |service| {
                let given = facts
                    .answers
                    .as_ref()
                    .or_else(|| order.issue_id.and_then(|i| read.get(&i)))
                    .map_or(&[][..], AnswerPairs::as_slice);
                weights.severity(&service.code, service.default_severity, given)
            })
        };
        let parts = priority::breakdown(
            weights,
            &inputs_of(facts, severity, &percentiles, catalogue, now),
        );
        if moved(order.priority, &order.priority_breakdown.0, &parts) {
            changed.push((order.id, parts.total(), parts));
        }
    }
    // Short transactions: on SQLite the reports wait for the one writer, and priorities
    // are each order's own, so a pass cut short leaves nothing inconsistent.
    let mut written = 0;
    for chunk in changed.chunks(PRIORITIES_PER_WRITE) {
        written += db.write(|conn| store::set_priorities(conn, chunk))?;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(age: f64, severity: f64) -> Breakdown {
        Breakdown {
            severity,
            age,
            ..Breakdown::default()
        }
    }

    #[test]
    fn a_priority_is_rewritten_only_when_it_or_a_part_moved_by_a_step() {
        let stored = parts(6.0, 30.0);
        let total = stored.total();
        assert!(!moved(
            total,
            &stored,
            &parts(6.0 + PRIORITY_STEP / 2.0, 30.0)
        ));
        // (6.0 + STEP itself sits on the boundary, where floating point decides.)
        assert!(moved(
            total,
            &stored,
            &parts(6.0 + 1.5 * PRIORITY_STEP, 30.0)
        ));
        assert!(moved(total, &stored, &parts(6.0, 24.0)));
        // A new order stores no parts: any computed priority is written.
        assert!(moved(0.0, &Breakdown::default(), &parts(0.0, 18.0)));
        // Small moves of two parts in opposite directions are still no move.
        assert!(!moved(total, &stored, &parts(6.004, 29.996)));
        // A stored priority that is not the sum of its parts is written again.
        assert!(moved(total + 1.0, &stored, &stored));
    }
}
