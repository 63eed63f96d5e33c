//! A crew's day: its own orders and nearby unassigned ones, in route order.

use super::handles;
use crate::catalogue::Catalogue;
use crate::db::crews::CrewRow;
use crate::db::work_orders::{self as store, OPEN_STATUSES, WorkOrderRow};
use crate::db::{Database, DbError};
use crate::domain::{Coordinates, WorkOrderKind, WorkOrderStatus};
use crate::route::{self, Pace, Stop};
use std::collections::HashSet;

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
    let filter = store::WorkOrderFilter {
        statuses: Some(OPEN_STATUSES.to_vec()),
        crew_id: Some(Some(crew.id)),
        ..Default::default()
    };
    let own_orders = db.read(|conn| store::list(conn, &filter, 10_000, 0))?;
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
        let mut offered: Vec<WorkOrderRow> = db
            .read(|conn| store::open_in(conn, &window))?
            .into_iter()
            .filter(|o| {
                o.crew_id.is_none()
                    && o.status == WorkOrderStatus::New
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
            (a.kind == WorkOrderKind::Inspection)
                .cmp(&(b.kind == WorkOrderKind::Inspection))
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
