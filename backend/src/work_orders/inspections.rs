//! The weekly proactive inspections: the riskiest segments without an open order.

use super::creation::inspection_of;
use super::handles_road_surface;
use crate::catalogue::Catalogue;
use crate::db::risk::LatestScores;
use crate::db::segments::{SegmentFilter, SegmentRow};
use crate::db::work_orders::{self as store, NewWorkOrder, WorkOrderRow};
use crate::db::{Database, DbError};
use crate::domain::{BoundingBox, Coordinates};
use crate::search::Window;
use chrono::{Duration, NaiveDate, NaiveDateTime};
use std::collections::HashSet;

/// Days an inspection is given: the week it is planned for.
pub const INSPECTION_DAYS: i64 = 7;

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
    let road_crews = db
        .read(crate::db::crews::active)?
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
    if budget == 0 || (!again && db.read(|conn| crate::db::priority::week_planned(conn, week))?) {
        return Ok(Vec::new());
    }
    let latest = db.read(crate::db::risk::latest_scores)?;
    // Without scores there is nothing to plan from; the week stays unclaimed until there are.
    if matches!(latest, LatestScores::None) {
        return Ok(Vec::new());
    }
    if !again && !db.write(|conn| crate::db::priority::claim_week(conn, week, now))? {
        return Ok(Vec::new());
    }
    let busy: HashSet<i64> = db
        .read(store::segments_with_open_orders)?
        .into_iter()
        .collect();
    let (segments, unit) = match latest {
        LatestScores::None => (Vec::new(), "segments"),
        LatestScores::Segments(mut scores) => {
            scores.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
            let ids: Vec<i64> = scores
                .into_iter()
                .map(|(segment, _)| segment)
                .filter(|segment| !busy.contains(segment))
                .take(budget)
                .collect();
            (
                db.read(|conn| crate::db::segments::by_ids(conn, &ids))?,
                "segments",
            )
        }
        // Riskiest first already.
        LatestScores::Cells(cells) => (in_riskiest_cells(db, &cells, &busy, budget)?, "grid cells"),
    };
    let note = format!(
        "Proactive inspection: among the {budget} riskiest {unit} without an open order in the week of {week}. Look for surface defects and fix them."
    );
    let orders: Vec<NewWorkOrder> = segments
        .iter()
        .filter_map(|segment| inspection_of(catalogue, segment, note.clone(), now))
        .collect();
    db.write(|conn| {
        let stored = store::insert_all(conn, &orders, actor)?;
        crate::db::priority::record_week(conn, week, now, stored.len())?;
        Ok(stored)
    })
}

/// For a model that scores grid cells: in each of the riskiest cells (riskiest first)
/// where no segment has an open order, the segment nearest the cell's middle; at most
/// `budget`. A cell with no segment (a city without a street network) is passed over:
/// a crew needs a street to go to.
fn in_riskiest_cells(
    db: &Database,
    cells: &[crate::db::risk::CellScore],
    busy: &HashSet<i64>,
    budget: usize,
) -> Result<Vec<SegmentRow>, DbError> {
    let mut chosen = Vec::new();
    for cell in cells {
        if chosen.len() >= budget {
            break;
        }
        let bbox = BoundingBox {
            south_west: Coordinates {
                lon: cell.west,
                lat: cell.south,
            },
            north_east: Coordinates {
                lon: cell.east,
                lat: cell.north,
            },
        };
        let middle = bbox.centre();
        let inside: Vec<SegmentRow> = db
            .read(|conn| {
                crate::db::segments::located(
                    conn,
                    &SegmentFilter::default(),
                    &Window::for_segments(bbox),
                )
            })?
            .into_iter()
            .filter(|s| bbox.contains(s.bounding_box().centre()))
            .collect();
        if inside.iter().any(|s| busy.contains(&s.id)) {
            continue;
        }
        let distance = |s: &SegmentRow| s.bounding_box().centre().distance_m(middle);
        if let Some(nearest) = inside
            .into_iter()
            .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        {
            chosen.push(nearest);
        }
    }
    Ok(chosen)
}
