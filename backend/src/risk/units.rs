//! Units other than the stored segment: a street of the city's register (its pieces
//! merged) and a grid cell (for a city with report positions and no street network).

use super::{Observed, RiskError};
use crate::db::{Conn, Database};
use chrono::NaiveDate;
use models::risk::evaluate;
use models::risk::{Defects, History, LabelKind, SegmentFacts};
use std::collections::HashMap;

impl Observed {
    /// The same history with the pieces of each street (segments sharing an external
    /// id, as a long street is split on import) merged into one unit: lengths add up,
    /// events and ratings are pooled, neighbours are the pieces' neighbours. A city's
    /// own street register is the unit its ratings and repair logs speak of. The demo
    /// city's truth does not survive the merge.
    pub fn by_street(&self) -> Observed {
        let mut unit_of = Vec::with_capacity(self.segment_ids.len());
        let mut first_piece: HashMap<&str, usize> = HashMap::new();
        let mut pieces: Vec<Vec<usize>> = Vec::new();
        for (s, external) in self.external_ids.iter().enumerate() {
            let unit = match external.as_deref() {
                Some(id) => *first_piece.entry(id).or_insert_with(|| {
                    pieces.push(Vec::new());
                    pieces.len() - 1
                }),
                None => {
                    pieces.push(Vec::new());
                    pieces.len() - 1
                }
            };
            pieces[unit].push(s);
            unit_of.push(unit);
        }
        let h = &self.history;
        let pool = |lists: &[Vec<NaiveDate>], unit: &[usize]| {
            let mut all: Vec<NaiveDate> = unit.iter().flat_map(|&s| lists[s].clone()).collect();
            all.sort_unstable();
            all
        };
        let facts = pieces
            .iter()
            .enumerate()
            .map(|(u, unit)| {
                let first = &h.segments[unit[0]];
                let mut neighbours: Vec<usize> = unit
                    .iter()
                    .flat_map(|&s| h.segments[s].neighbours.iter().map(|&n| unit_of[n]))
                    .filter(|&n| n != u)
                    .collect();
                neighbours.sort_unstable();
                neighbours.dedup();
                SegmentFacts {
                    length_m: unit.iter().map(|&s| h.segments[s].length_m).sum(),
                    class: unit.iter().filter_map(|&s| h.segments[s].class).min(),
                    aadt: unit
                        .iter()
                        .filter_map(|&s| h.segments[s].aadt)
                        .max_by(f64::total_cmp),
                    bus_route: unit.iter().any(|&s| h.segments[s].bus_route),
                    surfaced_on: unit.iter().filter_map(|&s| h.segments[s].surfaced_on).max(),
                    pavement: first.pavement,
                    neighbours,
                }
            })
            .collect();
        let mut history = History::new(facts);
        let mut evidence = Defects::found(LabelKind::NewDefectEvidence, Vec::new());
        let mut defects = Defects::found(self.defects.kind, Vec::new());
        for (u, unit) in pieces.iter().enumerate() {
            history.reports[u] = pool(&h.reports, unit);
            history.repairs[u] = pool(&h.repairs, unit);
            history.resurfacings[u] = pool(&h.resurfacings, unit);
            history.water_main_breaks[u] = pool(&h.water_main_breaks, unit);
            // Every piece carries its street's ratings: keep one of each.
            let ratings = &mut history.ratings[u];
            ratings.extend(unit.iter().flat_map(|&s| h.ratings[s].iter().cloned()));
            ratings.sort_by_key(|r| r.on);
            ratings.dedup();
            history.roughness[u] = unit.iter().flat_map(|&s| h.roughness[s].clone()).collect();
            for (merged, from) in [
                (&mut evidence, &self.evidence),
                (&mut defects, &self.defects),
            ] {
                merged.found.push(pool(&from.found, unit));
                merged.repairs.push(pool(&from.repairs, unit));
                merged
                    .open
                    .push(unit.iter().flat_map(|&s| from.open[s].clone()).collect());
            }
        }
        history.freeze_thaw_days = h.freeze_thaw_days.clone();
        history.sort();
        let mean_point = |unit: &[usize]| {
            let n = unit.len() as f64;
            let (x, y) = unit.iter().fold((0.0, 0.0), |(x, y), &s| {
                (x + self.points[s].0, y + self.points[s].1)
            });
            (x / n, y / n)
        };
        Observed {
            unit: models::risk::Unit::Street,
            segment_ids: pieces.iter().map(|u| self.segment_ids[u[0]]).collect(),
            external_ids: pieces
                .iter()
                .map(|u| self.external_ids[u[0]].clone())
                .collect(),
            points: pieces.iter().map(|u| mean_point(u)).collect(),
            history,
            defects,
            evidence,
            truth: None,
            grid: None,
            horizon: self.horizon,
            start: self.start,
            end: self.end,
            last_event: self.last_event,
        }
    }
}

/// Grid cells of about `cell_m` metres a side, each cell one unit: its road-surface
/// reports and issues by position, and (where the city has segments) the repairs,
/// resurfacings and water-main breaks of the segments whose middle lies in it.
///
/// The cells are those with at least one report of any service (before the hold-out
/// year, for an evaluation): a city without a street network has no other list of where
/// its roads are, and a cell that never saw a report (a lake, a park) would be an easy
/// negative that flatters every ranking.
pub fn observe_cells(
    db: &Database,
    cell_m: f64,
    known: KnownCells,
    progress: &mut dyn FnMut(&str),
) -> Result<Observed, RiskError> {
    db.read(|conn| cells_on(conn, cell_m, known, progress))
}

/// Which cells are units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnownCells {
    /// Those with a report before the evaluation's hold-out year: an evaluation may not
    /// learn where the hold-out's reports fall.
    BeforeHoldOut,
    /// Those with any report: the cells a city's model scores.
    All,
}

/// The squares of a grid whose cells are units.
#[derive(Debug, Clone)]
pub struct CellGrid {
    grid: Grid,
    /// The side of a cell, metres.
    pub side_m: f64,
    /// Each unit's column and row, in the order of the units.
    pub cells: Vec<(i64, i64)>,
}

impl CellGrid {
    /// Unit `u`'s square, `[west, south, east, north]` in degrees.
    pub fn bounds(&self, u: usize) -> [f64; 4] {
        let (x, y) = self.cells[u];
        let (lon, lat) = (self.grid.lon_deg, self.grid.lat_deg);
        [
            x as f64 * lon,
            y as f64 * lat,
            (x + 1) as f64 * lon,
            (y + 1) as f64 * lat,
        ]
    }
}

fn cells_on(
    conn: &mut Conn<'_>,
    cell_m: f64,
    known: KnownCells,
    progress: &mut dyn FnMut(&str),
) -> Result<Observed, RiskError> {
    use crate::db::{issues, maintenance, requests, segments, services};
    let codes = services::road_surface_codes(conn)?;
    progress("report positions");
    let reports = requests::positions(conn, &codes)?;
    let surface: Vec<&(f64, f64, chrono::NaiveDateTime, bool)> =
        reports.iter().filter(|r| r.3).collect();
    let (Some(first), Some(last)) = (
        surface.iter().map(|r| r.2.date()).min(),
        surface.iter().map(|r| r.2.date()).max(),
    ) else {
        return Err(RiskError::TooShort(
            "no road-surface report has a position".into(),
        ));
    };
    let mean_lat = surface.iter().map(|r| r.1).sum::<f64>() / surface.len() as f64;
    let grid = Grid::new(cell_m, mean_lat);
    let dates = evaluate::as_of_dates(first, last);
    let holdout_from = evaluate::holdout_from(dates.last().copied().unwrap_or(last));
    let known: std::collections::BTreeSet<(i64, i64)> = reports
        .iter()
        .filter(|r| known == KnownCells::All || r.2.date() < holdout_from)
        .map(|r| grid.cell(r.0, r.1))
        .collect();
    if known.is_empty() {
        return Err(RiskError::TooShort(format!(
            "no report with a position before {holdout_from}"
        )));
    }
    let cells: Vec<(i64, i64)> = known.into_iter().collect();
    let index: HashMap<(i64, i64), usize> =
        cells.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let n = cells.len();
    let facts = cells
        .iter()
        .map(|&(x, y)| SegmentFacts {
            neighbours: (-1..=1)
                .flat_map(|dx| (-1..=1).map(move |dy| (x + dx, y + dy)))
                .filter(|&c| c != (x, y))
                .filter_map(|c| index.get(&c).copied())
                .collect(),
            ..SegmentFacts::of_length(cell_m)
        })
        .collect();
    let mut history = History::new(facts);
    for r in &surface {
        if let Some(&c) = index.get(&grid.cell(r.0, r.1)) {
            history.reports[c].push(r.2.date());
        }
    }
    // A resident saying a repair did not hold reports the defect again.
    for (_, lon, lat, at) in crate::db::feedback::not_fixed(conn, &codes)? {
        if let (Some(lon), Some(lat)) = (lon, lat)
            && let Some(&c) = index.get(&grid.cell(lon, lat))
        {
            history.reports[c].push(at.date());
        }
    }
    progress("issues");
    let mut evidence = Defects::found(LabelKind::NewDefectEvidence, vec![Vec::new(); n]);
    for (lon, lat, from, to) in issues::located_spans_of(conn, &codes)? {
        if let Some(&c) = index.get(&grid.cell(lon, lat)) {
            evidence.found[c].push(from.date());
            evidence.open[c].push((from.date(), to.map_or(NaiveDate::MAX, |t| t.date())));
        }
    }
    progress("maintenance");
    let rows = segments::risk_facts(conn)?;
    let middles: HashMap<i64, usize> = rows
        .iter()
        .zip(super::ends_of(&rows)?)
        .filter_map(|(r, ends)| {
            let (lon, lat) = super::middle(&ends);
            Some((r.0, *index.get(&grid.cell(lon, lat))?))
        })
        .collect();
    for (segment, kind, at) in maintenance::all(conn)? {
        let Some(&c) = middles.get(&segment) else {
            continue;
        };
        super::file_maintenance(&kind, at.date(), c, &codes, &mut history, &mut evidence);
    }
    for list in evidence.found.iter_mut().chain(&mut evidence.repairs) {
        list.sort_unstable();
    }
    progress("weather");
    history.freeze_thaw_days = super::freeze_thaw_days(conn)?;
    history.sort();
    let today = crate::domain::now().date();
    Ok(Observed {
        unit: models::risk::Unit::Cell,
        segment_ids: (0..n as i64).collect(),
        external_ids: cells
            .iter()
            .map(|(x, y)| Some(format!("{x}:{y}")))
            .collect(),
        points: cells.iter().map(|&c| grid.centre(c)).collect(),
        grid: Some(CellGrid {
            grid,
            side_m: cell_m,
            cells,
        }),
        horizon: models::risk::Horizon::Weekly,
        history,
        defects: evidence.clone(),
        evidence,
        truth: None,
        start: first,
        end: today,
        last_event: last.min(today),
    })
}

/// Squares of about `side_m` metres near latitude `lat`, numbered by column and row.
/// Side of the squares taken as neighbourhoods by the equity check, metres.
const NEIGHBOURHOOD_M: f64 = 2_000.0;

/// Each unit's reporting third (0 the neighbourhoods that reported least … 2 the most),
/// for the equity check on a city whose data says nothing else about reporting habits:
/// the road-surface reports made in its 2 km square before `before`, per km of road
/// there. `None` for a unit without a position, and for every unit when there were no
/// reports before `before`.
pub fn reporting_thirds(observed: &Observed, before: NaiveDate) -> Vec<Option<usize>> {
    let history = &observed.history;
    let placed: Vec<(f64, f64)> = observed
        .points
        .iter()
        .copied()
        .filter(|(lon, lat)| lon.is_finite() && lat.is_finite())
        .collect();
    if placed.is_empty() {
        return vec![None; observed.points.len()];
    }
    let mean_lat = placed.iter().map(|p| p.1).sum::<f64>() / placed.len() as f64;
    let grid = Grid::new(NEIGHBOURHOOD_M, mean_lat);
    let square: Vec<Option<(i64, i64)>> = observed
        .points
        .iter()
        .map(|&(lon, lat)| (lon.is_finite() && lat.is_finite()).then(|| grid.cell(lon, lat)))
        .collect();
    let mut totals: HashMap<(i64, i64), (usize, f64)> = HashMap::new();
    let mut any = false;
    for (u, sq) in square.iter().enumerate() {
        if let Some(sq) = sq {
            let reports = history.reports[u].iter().filter(|d| **d < before).count();
            any |= reports > 0;
            let total = totals.entry(*sq).or_default();
            total.0 += reports;
            total.1 += history.segments[u].length_m;
        }
    }
    if !any {
        return vec![None; observed.points.len()];
    }
    let rate: Vec<Option<f64>> = square
        .iter()
        .map(|sq| {
            let (reports, length_m) = totals.get(sq.as_ref()?)?;
            (*length_m > 0.0).then(|| *reports as f64 / (length_m / 1000.0))
        })
        .collect();
    models::risk::terciles(&rate)
}

#[derive(Debug, Clone)]
struct Grid {
    lon_deg: f64,
    lat_deg: f64,
}

impl Grid {
    fn new(side_m: f64, lat: f64) -> Grid {
        const METRES_PER_DEGREE: f64 = 111_320.0;
        Grid {
            lon_deg: side_m / (METRES_PER_DEGREE * lat.to_radians().cos().max(0.1)),
            lat_deg: side_m / METRES_PER_DEGREE,
        }
    }

    fn cell(&self, lon: f64, lat: f64) -> (i64, i64) {
        (
            (lon / self.lon_deg).floor() as i64,
            (lat / self.lat_deg).floor() as i64,
        )
    }

    /// The middle of a cell, (longitude, latitude).
    fn centre(&self, (x, y): (i64, i64)) -> (f64, f64) {
        (
            (x as f64 + 0.5) * self.lon_deg,
            (y as f64 + 0.5) * self.lat_deg,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date")
    }

    /// Units of 1 km at the given points, with report days.
    fn city(units: &[((f64, f64), Vec<NaiveDate>)]) -> Observed {
        let facts = units
            .iter()
            .map(|_| SegmentFacts::of_length(1000.0))
            .collect();
        let mut history = History::new(facts);
        history.reports = units.iter().map(|(_, days)| days.clone()).collect();
        let none = Defects::found(LabelKind::NewDefectEvidence, vec![Vec::new(); units.len()]);
        Observed {
            history,
            segment_ids: (1..=units.len() as i64).collect(),
            external_ids: vec![None; units.len()],
            points: units.iter().map(|(p, _)| *p).collect(),
            defects: none.clone(),
            evidence: none,
            truth: None,
            unit: models::risk::Unit::Segment,
            grid: None,
            horizon: models::risk::Horizon::Weekly,
            start: day(2015, 1, 1),
            end: day(2019, 12, 31),
            last_event: day(2019, 12, 31),
        }
    }

    #[test]
    fn neighbourhoods_are_ranked_by_their_reports_per_km_before_the_hold_out() {
        let before = day(2019, 1, 1);
        let early = |n: usize| vec![day(2017, 5, 1); n];
        // Three neighbourhoods 10 km apart; the quiet one's many reports come too late.
        let observed = city(&[
            ((-95.30, 29.70), early(9)),
            ((-95.30, 29.70), early(3)),
            ((-95.20, 29.70), early(2)),
            (
                (-95.10, 29.70),
                [early(1), vec![day(2019, 3, 1); 50]].concat(),
            ),
            ((f64::NAN, f64::NAN), early(4)),
        ]);
        let thirds = reporting_thirds(&observed, before);
        // 12 reports over 2 km, then 2 over 1 km, then 1 over 1 km.
        assert_eq!(thirds, vec![Some(2), Some(2), Some(1), Some(0), None]);
    }

    #[test]
    fn with_no_report_before_the_hold_out_there_are_no_thirds() {
        let observed = city(&[
            ((-95.30, 29.70), vec![day(2019, 2, 1)]),
            ((-95.10, 29.70), Vec::new()),
        ]);
        assert_eq!(
            reporting_thirds(&observed, day(2019, 1, 1)),
            vec![None, None]
        );
    }
}
