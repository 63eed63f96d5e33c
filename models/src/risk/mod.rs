//! Segment risk: the probability of at least one new surface defect on a road segment in
//! the 28 days after an as-of date, from what was known on that date (design §4).
//!
//! [`features`] turns a [`History`] into rows, [`model`] trains and calibrates the two
//! learners and explains a score, [`metrics`] and [`evaluate`] measure them in time
//! order. Loading a history from a database is the server's job; [`from_city`] builds
//! one straight from a generated city, with its truth, for tests and experiments.

pub mod annual;
pub mod evaluate;
pub mod features;
pub mod horizon;
pub mod metrics;
pub mod model;
pub mod seeds;

pub use evaluate::{Defects, Evaluation, Hazard, LabelKind, Truth};
pub use features::{FEATURES, History, SegmentFacts};
pub use horizon::Horizon;
pub use model::{Contribution, ForestParams, LogisticParams, Model};

use crate::city::{City, MaintenanceKind};
use serde::Serialize;
use std::collections::HashMap;

/// What one row of the task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A road segment as Upkeep stores it (long streets are split on import).
    Segment,
    /// A street of the city's own register: the segments sharing an external id.
    Street,
    /// A square of a grid, for a city whose reports have positions but no street
    /// network.
    Cell,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Segment => "segment",
            Unit::Street => "street",
            Unit::Cell => "cell",
        }
    }
}

impl std::str::FromStr for Unit {
    type Err = String;
    fn from_str(s: &str) -> Result<Unit, String> {
        match s {
            "segment" => Ok(Unit::Segment),
            "street" => Ok(Unit::Street),
            "cell" => Ok(Unit::Cell),
            other => Err(format!("'{other}' is not a unit (segment, street or cell)")),
        }
    }
}

/// A generated city as Upkeep would see it (a pothole report counts on the segment of
/// the work order it led to), with its true defects and the oracle's hazard.
pub fn from_city(city: &City) -> (History, Defects, Truth) {
    let index: HashMap<u32, usize> = city
        .segments
        .iter()
        .enumerate()
        .map(|(i, s)| (s.id, i))
        .collect();
    let ends: Vec<features::Ends> = city
        .segments
        .iter()
        .map(|s| (s.geometry[0], s.geometry[s.geometry.len() - 1]))
        .collect();
    let neighbours = features::neighbours(&ends);
    let facts = city
        .segments
        .iter()
        .zip(neighbours)
        .map(|(s, neighbours)| SegmentFacts {
            length_m: s.length_m,
            class: Some(s.class),
            aadt: Some(f64::from(s.aadt)),
            bus_route: s.bus_route,
            surfaced_on: Some(s.last_resurfaced),
            // The generator paves everything alike.
            pavement: None,
            neighbours,
        })
        .collect();
    let mut history = History::new(facts);
    let order_segment: HashMap<u32, u32> = city
        .work_orders
        .iter()
        .filter_map(|o| Some((o.id, o.segment?)))
        .collect();
    for report in city.reports.iter().filter(|r| r.service_code == "pothole") {
        if let Some(s) = order_segment
            .get(&report.work_order)
            .and_then(|s| index.get(s))
        {
            history.reports[*s].push(report.reported_at.date());
        }
    }
    for m in &city.maintenance {
        if let Some(&s) = index.get(&m.segment) {
            match m.kind {
                MaintenanceKind::Resurfacing => history.resurfacings[s].push(m.performed_on),
                _ => history.repairs[s].push(m.performed_on),
            }
        }
    }
    for survey in &city.surveys {
        if let Some(&s) = index.get(&survey.segment) {
            history.ratings[s].push(features::Rating {
                on: survey.surveyed_on,
                overall: Some(survey.pci),
                cracking: None,
                patching: None,
                pavement: None,
            });
        }
    }
    for r in &city.probe_readings {
        if let Some(&s) = index.get(&r.segment) {
            history.roughness[s].push((r.observed_on, r.roughness_m_per_km() as f32));
        }
    }
    history.freeze_thaw_days = city
        .weather
        .iter()
        .filter(|d| features::is_freeze_thaw(d.tmin_c, d.tmax_c))
        .map(|d| d.date)
        .collect();
    history.sort();
    let mut found = vec![Vec::new(); city.segments.len()];
    for p in &city.truth.potholes {
        if let Some(&s) = index.get(&p.segment) {
            found[s].push(p.formed_on);
        }
    }
    for list in &mut found {
        list.sort_unstable();
    }
    let defects = Defects::found(LabelKind::TruePotholes, found);
    let truth = Truth {
        hazard: Hazard::from_weeks(
            city.segments.len(),
            city.truth
                .segment_weeks
                .iter()
                .filter_map(|w| Some((*index.get(&w.segment)?, w.week_start, w.hazard_28d))),
        ),
        tercile: terciles(
            &city
                .segments
                .iter()
                .map(|s| {
                    city.neighbourhoods
                        .iter()
                        .find(|n| n.id == s.neighbourhood)
                        .map(|n| n.reporting_propensity)
                })
                .collect::<Vec<_>>(),
        ),
    };
    (history, defects, truth)
}

/// Each segment's third (0, 1, 2) by its neighbourhood's reporting propensity, thirds
/// holding equal numbers of segments.
pub fn terciles(propensity: &[Option<f64>]) -> Vec<Option<usize>> {
    let mut known: Vec<f64> = propensity.iter().flatten().copied().collect();
    known.sort_by(f64::total_cmp);
    if known.is_empty() {
        return vec![None; propensity.len()];
    }
    let cut = |q: f64| known[((known.len() - 1) as f64 * q).round() as usize];
    let (low, high) = (cut(1.0 / 3.0), cut(2.0 / 3.0));
    propensity
        .iter()
        .map(|p| {
            p.map(|p| {
                if p < low {
                    0
                } else if p < high {
                    1
                } else {
                    2
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
