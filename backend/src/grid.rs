//! Grid cells: how the database finds rows near a place, the same way on every backend.
//!
//! The globe is cut into cells of [`CELL_DEG`] degrees (about 280 m north–south, 200 m
//! east–west at 43°N). Every located row stores the number of its cell in an indexed
//! column, so a query near a point reads the handful of cells that cover it: a few index
//! seeks on SQLite and PostgreSQL alike, with no spatial extension. The cells only narrow
//! the search; the exact test (great-circle distance, polygon) runs on the few candidates.
//!
//! The migration `000004_grid_cells` computes the same numbers in SQL for rows stored
//! before it; change both together.

use crate::domain::{BoundingBox, Coordinates};
use std::ops::RangeInclusive;

/// Side of a cell, degrees of latitude and of longitude.
pub const CELL_DEG: f64 = 0.0025;
const ROWS: i64 = 72_000; // 180 / CELL_DEG
const COLUMNS: i64 = 144_000; // 360 / CELL_DEG

/// A query covering more cells than this reads by latitude and longitude instead: past
/// a few kilometres across, listing cells costs more than it saves.
pub const MAX_CELLS: usize = 600;

/// The farthest a segment's line reaches from the centre of its bounding box, degrees.
/// Segments are stored at most [`MAX_SEGMENT_LENGTH_M`] long, and are found through the
/// cell of that centre, so a search reaches this much further to find every segment that
/// crosses it.
pub const SEGMENT_REACH_DEG: f64 = CELL_DEG;

/// Longest stored segment, metres: longer lines are split on import. Together with
/// [`max_segment_span_deg`] it keeps every segment within [`SEGMENT_REACH_DEG`] of the
/// centre of its bounding box.
pub const MAX_SEGMENT_LENGTH_M: f64 = 250.0;

/// Widest (or tallest) bounding box a stored segment may have, degrees.
pub fn max_segment_span_deg() -> f64 {
    2.0 * SEGMENT_REACH_DEG
}

fn row_of(lat: f64) -> i64 {
    (((lat + 90.0) / CELL_DEG).floor() as i64).clamp(0, ROWS - 1)
}

fn column_of(lon: f64) -> i64 {
    (((lon + 180.0) / CELL_DEG).floor() as i64).clamp(0, COLUMNS - 1)
}

/// The cell a point lies in.
pub fn cell_of(point: Coordinates) -> i64 {
    row_of(point.lat) * COLUMNS + column_of(point.lon)
}

/// The cell a segment is filed under: that of the centre of its bounding box.
pub fn segment_cell(bbox: &BoundingBox) -> i64 {
    cell_of(bbox.centre())
}

/// The rows and columns of the cells that touch `bbox`, and whether they are few enough
/// to list ([`MAX_CELLS`]).
fn span(bbox: &BoundingBox) -> (RangeInclusive<i64>, RangeInclusive<i64>, bool) {
    let rows = row_of(bbox.south_west.lat)..=row_of(bbox.north_east.lat);
    let columns = column_of(bbox.south_west.lon)..=column_of(bbox.north_east.lon);
    let count = (rows.end() - rows.start() + 1) * (columns.end() - columns.start() + 1);
    let listable = count > 0 && count as usize <= MAX_CELLS;
    (rows, columns, listable)
}

/// Every cell that touches `bbox`, or None if there are more than [`MAX_CELLS`].
pub fn cells_covering(bbox: &BoundingBox) -> Option<Vec<i64>> {
    let (rows, columns, listable) = span(bbox);
    if !listable {
        return None;
    }
    Some(
        rows.flat_map(|row| columns.clone().map(move |column| row * COLUMNS + column))
            .collect(),
    )
}

/// The cells that touch `bbox` as runs of consecutive cell numbers, one per row (a
/// row's cells are numbered west to east). Past [`MAX_CELLS`], one run from the south-west
/// cell to the north-east one: every cell of the box lies in it, with the rest of the
/// rows between. A query reads each run as one range of an index, the same statement
/// whatever the box (a list of cells is a new statement for each length).
pub fn cell_runs(bbox: &BoundingBox) -> Vec<RangeInclusive<i64>> {
    let (rows, columns, listable) = span(bbox);
    if !listable {
        return vec![cell_span(bbox)];
    }
    rows.map(|row| row * COLUMNS + columns.start()..=row * COLUMNS + columns.end())
        .collect()
}

/// One run of cell numbers from the south-west cell of `bbox` to its north-east one:
/// every cell of the box lies in it, with the rest of the rows between.
pub fn cell_span(bbox: &BoundingBox) -> RangeInclusive<i64> {
    let (rows, columns, _) = span(bbox);
    let first = rows.start() * COLUMNS + columns.start();
    let last = rows.end() * COLUMNS + columns.end();
    first.min(last)..=first.max(last)
}

/// `bbox` grown by `margin_deg` on every side, kept on the globe.
pub fn widen(bbox: &BoundingBox, margin_deg: f64) -> BoundingBox {
    BoundingBox {
        south_west: Coordinates {
            lon: (bbox.south_west.lon - margin_deg).max(-180.0),
            lat: (bbox.south_west.lat - margin_deg).max(-90.0),
        },
        north_east: Coordinates {
            lon: (bbox.north_east.lon + margin_deg).min(180.0),
            lat: (bbox.north_east.lat + margin_deg).min(90.0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(lon: f64, lat: f64) -> Coordinates {
        Coordinates { lon, lat }
    }

    /// The box reaching `margin` degrees from `centre` every way.
    fn around(centre: Coordinates, margin: f64) -> BoundingBox {
        widen(
            &BoundingBox {
                south_west: centre,
                north_east: centre,
            },
            margin,
        )
    }

    #[test]
    fn the_runs_of_cells_hold_exactly_the_cells_covering_a_box() {
        let centre = point(-76.1474, 43.0481);
        for margin in [0.0001, 0.001, 0.01, 0.02] {
            let bbox = around(centre, margin);
            let listed = cells_covering(&bbox).expect("a small box has few cells");
            let runs = cell_runs(&bbox);
            let from_runs: Vec<i64> = runs.iter().flat_map(|run| run.clone()).collect();
            assert_eq!(from_runs, listed, "margin {margin}");
        }
        // Too many cells to list: one run still holds every cell of the box.
        let wide = around(centre, 0.2);
        assert!(cells_covering(&wide).is_none());
        let runs = cell_runs(&wide);
        assert_eq!(runs.len(), 1);
        for corner in [wide.south_west, wide.north_east, centre] {
            assert!(runs[0].contains(&cell_of(corner)));
        }
    }

    #[test]
    fn a_point_lies_in_one_of_the_cells_covering_any_box_around_it() {
        let centre = point(-76.1474, 43.0481);
        for margin in [0.0001, 0.001, 0.01] {
            let bbox = around(centre, margin);
            let cells = cells_covering(&bbox).expect("a small box has few cells");
            assert!(cells.contains(&cell_of(centre)));
            assert!(cells.contains(&cell_of(bbox.south_west)));
            assert!(cells.contains(&cell_of(bbox.north_east)));
        }
    }

    #[test]
    fn neighbouring_cells_differ_and_the_edges_of_the_globe_stay_in_range() {
        assert_ne!(cell_of(point(0.0, 0.0)), cell_of(point(0.003, 0.0)));
        assert_ne!(cell_of(point(0.0, 0.0)), cell_of(point(0.0, 0.003)));
        assert_eq!(cell_of(point(180.0, 90.0)), ROWS * COLUMNS - 1);
        assert_eq!(cell_of(point(-180.0, -90.0)), 0);
    }

    #[test]
    fn a_box_too_large_to_list_has_no_cells() {
        let city = BoundingBox {
            south_west: point(-76.4, 42.9),
            north_east: point(-75.9, 43.2),
        };
        assert_eq!(cells_covering(&city), None);
    }
}
