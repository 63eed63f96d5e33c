//! What a model predicts: for which unit (a road segment, or a square of a grid for a
//! city with report positions and no street network) and how far ahead. The settings
//! choose it for the next training run; a trained model carries its own, and scoring,
//! the map and the priorities follow the active model's, whatever the settings say now.

use crate::db::risk::ModelVersion;
use models::risk::{Horizon, Unit};
use serde::{Deserialize, Serialize};

/// The smallest and largest grid cell a model may use, metres.
pub const CELL_M: std::ops::RangeInclusive<f64> = 50.0..=20_000.0;

/// A unit and a horizon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Task {
    pub unit: Unit,
    /// The side of a grid cell, metres (with `unit` cell).
    pub cell_m: f64,
    pub horizon: Horizon,
}

impl Default for Task {
    fn default() -> Task {
        Task {
            unit: Unit::Segment,
            cell_m: 500.0,
            horizon: Horizon::Weekly,
        }
    }
}

impl Task {
    /// Checks a unit and cell size read from settings or a command line.
    pub fn new(unit: Unit, cell_m: f64, horizon: Horizon) -> Result<Task, String> {
        if unit == Unit::Street {
            return Err(
                "a model is trained per segment or per cell; streets (segments sharing the city's id) are for `upkeep evaluate`".into(),
            );
        }
        if !CELL_M.contains(&cell_m) {
            return Err(format!(
                "{cell_m} m is not a cell size: give {} to {} metres",
                CELL_M.start(),
                CELL_M.end()
            ));
        }
        Ok(Task {
            unit,
            cell_m,
            horizon,
        })
    }

    /// The task a stored model was trained for: the one in its metrics, or (for a
    /// model from before tasks were recorded) segments and 28 days.
    pub fn of_model(model: &ModelVersion) -> Task {
        model
            .metrics
            .0
            .get("task")
            .and_then(|task| serde_json::from_value(task.clone()).ok())
            .unwrap_or_default()
    }

    /// Whether a model for `self` can score what was read for `other`: the same unit
    /// (and cell size) and horizon.
    pub fn predicts_like(&self, other: &Task) -> bool {
        self.unit == other.unit
            && self.horizon == other.horizon
            && (self.unit != Unit::Cell || (self.cell_m - other.cell_m).abs() < 1e-9)
    }

    /// In words, for messages and the model card.
    pub fn describe(&self) -> String {
        let unit = match self.unit {
            Unit::Cell => format!("cells of {} m", self.cell_m),
            other => format!("{}s", other.as_str()),
        };
        match self.horizon {
            Horizon::Weekly => format!("{unit}, 28 days ahead of every week"),
            Horizon::Annual { days, month, day } => {
                format!("{unit}, {days} days ahead of {day:02}/{month:02} each year")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_street_unit_or_an_odd_cell_size_is_refused_with_its_reason() {
        assert!(
            Task::new(Unit::Street, 500.0, Horizon::Weekly)
                .unwrap_err()
                .contains("segment or per cell")
        );
        assert!(
            Task::new(Unit::Cell, 10.0, Horizon::Weekly)
                .unwrap_err()
                .contains("10 m")
        );
        let season = Horizon::parse("season", "04-01").unwrap();
        let task = Task::new(Unit::Cell, 1000.0, season).unwrap();
        assert_eq!(
            task.describe(),
            "cells of 1000 m, 182 days ahead of 01/04 each year"
        );
        let stored = serde_json::to_value(task).unwrap();
        assert_eq!(stored["horizon"]["cadence"], "annual");
        assert_eq!(serde_json::from_value::<Task>(stored).unwrap(), task);
    }
}
