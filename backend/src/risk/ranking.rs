//! Where a place stands in the active model's latest run, for the priorities of work
//! orders: by its segment when the model scores segments, by the grid cell it lies in
//! when the model scores cells.

use crate::db::risk::{CellScore, LatestScores};
use crate::db::{Database, DbError};
use chrono::NaiveDateTime;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The active model's latest run, read and ranked once per run: a run's scores never
/// change, so priorities recomputed every minute and every map tile reuse them until a
/// new run (or another model) replaces it.
#[derive(Debug, Default)]
pub struct RunCache {
    last: Mutex<Option<Arc<LatestRun>>>,
}

/// A scoring run: the model and the time it scored.
pub type Run = (i64, NaiveDateTime);

/// What the latest run said.
#[derive(Debug, Default)]
pub struct LatestRun {
    /// None before the first run.
    pub run: Option<Run>,
    pub percentiles: Arc<Percentiles>,
    /// Probability by segment (a model of segments).
    pub by_segment: HashMap<i64, f64>,
    /// Cell id, (west, south, east, north) in degrees, probability (a model of cells).
    pub cells: Vec<crate::tiles::CellScore>,
}

impl RunCache {
    /// The latest run, read and ranked now only if it is new.
    pub fn latest(&self, db: &Database) -> Result<Arc<LatestRun>, DbError> {
        let run = db.read(crate::db::risk::latest_run_of_active)?;
        if let Some(cached) = &*self.last.lock().unwrap_or_else(|e| e.into_inner())
            && cached.run == run
        {
            return Ok(cached.clone());
        }
        let latest = Arc::new(match run {
            None => LatestRun::default(),
            Some(run) => {
                let scores = db.read(|conn| crate::db::risk::run_scores(conn, run.0, run.1))?;
                let (by_segment, cells) = match &scores {
                    LatestScores::None => Default::default(),
                    LatestScores::Segments(scores) => {
                        (scores.iter().copied().collect(), Vec::new())
                    }
                    LatestScores::Cells(cells) => (
                        HashMap::new(),
                        cells
                            .iter()
                            .map(|c| {
                                (
                                    cell_id(c.cell_x, c.cell_y),
                                    [c.west, c.south, c.east, c.north],
                                    c.probability,
                                )
                            })
                            .collect(),
                    ),
                };
                LatestRun {
                    run: Some(run),
                    percentiles: Arc::new(Percentiles::of(scores)),
                    by_segment,
                    cells,
                }
            }
        });
        *self.last.lock().unwrap_or_else(|e| e.into_inner()) = Some(latest.clone());
        Ok(latest)
    }

    /// The latest run's percentiles.
    pub fn percentiles(&self, db: &Database) -> Result<Arc<Percentiles>, DbError> {
        Ok(self.latest(db)?.percentiles.clone())
    }
}

/// Places' percentiles in the latest ranking, 0 (lowest risk) to 1 (highest).
#[derive(Debug, Default)]
pub enum Percentiles {
    /// No model, or no run yet.
    #[default]
    None,
    Segments(HashMap<i64, f64>),
    Cells {
        /// A cell's width and height, degrees: all cells of a run share a grid.
        lon_deg: f64,
        lat_deg: f64,
        by_cell: HashMap<(i64, i64), f64>,
    },
}

impl Percentiles {
    /// Ranks a run's scores.
    pub fn of(latest: LatestScores) -> Percentiles {
        match latest {
            LatestScores::None => Percentiles::None,
            LatestScores::Segments(scores) => Percentiles::Segments(
                ranked(scores.iter().map(|&(id, p)| (id, p)))
                    .into_iter()
                    .collect(),
            ),
            LatestScores::Cells(cells) => {
                let Some(first) = cells.first() else {
                    return Percentiles::None;
                };
                Percentiles::Cells {
                    lon_deg: first.east - first.west,
                    lat_deg: first.north - first.south,
                    by_cell: ranked(cells.iter().map(|c| ((c.cell_x, c.cell_y), c.probability)))
                        .into_iter()
                        .collect(),
                }
            }
        }
    }

    /// The percentile of an order on `segment` at (`lon`, `lat`).
    pub fn at(&self, segment: Option<i64>, (lon, lat): (f64, f64)) -> Option<f64> {
        match self {
            Percentiles::None => None,
            Percentiles::Segments(by_segment) => by_segment.get(&segment?).copied(),
            Percentiles::Cells {
                lon_deg,
                lat_deg,
                by_cell,
            } => {
                let cell = (
                    (lon / lon_deg).floor() as i64,
                    (lat / lat_deg).floor() as i64,
                );
                by_cell.get(&cell).copied()
            }
        }
    }
}

/// Each key's rank among `scores`, lowest 0 and highest 1.
fn ranked<K: Copy>(scores: impl Iterator<Item = (K, f64)>) -> Vec<(K, f64)> {
    let mut scores: Vec<(K, f64)> = scores.collect();
    scores.sort_by(|a, b| a.1.total_cmp(&b.1));
    let top = (scores.len().max(2) - 1) as f64;
    scores
        .iter()
        .enumerate()
        .map(|(rank, (key, _))| (*key, rank as f64 / top))
        .collect()
}

/// A cell's number in the API: its column and row packed into one integer (each within
/// ±2^20, which every grid of cells of 50 m or more keeps to).
pub fn cell_id(x: i64, y: i64) -> i64 {
    const HALF: i64 = 1 << 20;
    ((x + HALF) << 21) | (y + HALF).clamp(0, 2 * HALF - 1)
}

/// A cell's square as a GeoJSON Polygon, longitude first.
pub fn cell_polygon(cell: &CellScore) -> String {
    let (w, s, e, n) = (cell.west, cell.south, cell.east, cell.north);
    format!(
        "{{\"type\":\"Polygon\",\"coordinates\":[[[{w},{s}],[{e},{s}],[{e},{n}],[{w},{n}],[{w},{s}]]]}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::words::Json;

    fn cell(x: i64, y: i64, probability: f64) -> CellScore {
        let side = 0.01;
        CellScore {
            model_version_id: 1,
            scored_at: chrono::NaiveDateTime::default(),
            cell_x: x,
            cell_y: y,
            west: x as f64 * side,
            south: y as f64 * side,
            east: (x + 1) as f64 * side,
            north: (y + 1) as f64 * side,
            probability,
            explanation: Json(Vec::new()),
        }
    }

    #[test]
    fn an_order_takes_the_percentile_of_the_cell_it_lies_in() {
        let percentiles = Percentiles::of(LatestScores::Cells(vec![
            cell(-9_531, 2_970, 0.9),
            cell(-9_530, 2_970, 0.1),
            cell(-9_531, 2_971, 0.5),
        ]));
        // -95.305 lies in column -9531, 29.705 in row 2970.
        assert_eq!(percentiles.at(None, (-95.305, 29.705)), Some(1.0));
        assert_eq!(percentiles.at(Some(4), (-95.295, 29.705)), Some(0.0));
        assert_eq!(percentiles.at(None, (-95.305, 29.715)), Some(0.5));
        assert_eq!(percentiles.at(None, (-90.0, 29.705)), None, "no cell there");
    }

    #[test]
    fn an_order_takes_its_segments_percentile_when_segments_are_scored() {
        let percentiles =
            Percentiles::of(LatestScores::Segments(vec![(1, 0.2), (2, 0.7), (3, 0.4)]));
        assert_eq!(percentiles.at(Some(2), (0.0, 0.0)), Some(1.0));
        assert_eq!(percentiles.at(Some(3), (0.0, 0.0)), Some(0.5));
        assert_eq!(percentiles.at(None, (0.0, 0.0)), None);
    }

    #[test]
    fn neighbouring_cells_have_different_numbers() {
        let ids: std::collections::HashSet<i64> = (-2..=2)
            .flat_map(|x| (-2..=2).map(move |y| cell_id(-190_000 + x, 60_000 + y)))
            .collect();
        assert_eq!(ids.len(), 25);
        assert!(ids.iter().all(|&id| id > 0));
    }

    #[test]
    fn a_cell_is_drawn_as_its_closed_square() {
        let polygon: serde_json::Value =
            serde_json::from_str(&cell_polygon(&cell(1, 2, 0.5))).unwrap();
        let ring = polygon["coordinates"][0].as_array().unwrap();
        assert_eq!(ring.len(), 5);
        assert_eq!(ring[0], ring[4]);
        assert_eq!(ring[0][0], 0.01);
        assert_eq!(ring[2][1], 0.03);
    }
}
