//! Features per segment and as-of date, from what was known on that date only.
//!
//! Every event list is sorted by day and every window is read with a binary search up to
//! the as-of day, so nothing dated later can reach a feature: the leakage test changes
//! every later row and checks that no feature moves.

use crate::network::RoadClass;
use chrono::{Datelike, NaiveDate};

/// What a segment is, as the asset register says (nothing here changes over time except
/// through the dated events in [`History`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentFacts {
    pub length_m: f64,
    pub class: Option<RoadClass>,
    /// Vehicles per day; None when unknown.
    pub aadt: Option<f64>,
    pub bus_route: bool,
    /// Resurfaced (or built) before the history starts, if known.
    pub surfaced_on: Option<NaiveDate>,
    /// Indexes of the segments sharing an end with this one.
    pub neighbours: Vec<usize>,
}

/// Everything Upkeep observed, per segment (index into `segments`), each list sorted by
/// day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub segments: Vec<SegmentFacts>,
    /// Days of reports of surface defects (potholes) on the segment.
    pub reports: Vec<Vec<NaiveDate>>,
    /// Days of pothole repairs.
    pub repairs: Vec<Vec<NaiveDate>>,
    /// Days the segment was resurfaced.
    pub resurfacings: Vec<Vec<NaiveDate>>,
    /// Probe roughness readings (IRI, m/km).
    pub roughness: Vec<Vec<(NaiveDate, f64)>>,
    /// Days with a freeze–thaw cycle (minimum below 0 °C, maximum above), sorted.
    pub freeze_thaw_days: Vec<NaiveDate>,
}

impl History {
    /// An empty history for `segments`.
    pub fn new(segments: Vec<SegmentFacts>) -> History {
        let n = segments.len();
        History {
            segments,
            reports: vec![Vec::new(); n],
            repairs: vec![Vec::new(); n],
            resurfacings: vec![Vec::new(); n],
            roughness: vec![Vec::new(); n],
            freeze_thaw_days: Vec::new(),
        }
    }

    /// Sorts every list, so events may be pushed in any order.
    pub fn sort(&mut self) {
        for list in self
            .reports
            .iter_mut()
            .chain(&mut self.repairs)
            .chain(&mut self.resurfacings)
        {
            list.sort_unstable();
        }
        for list in &mut self.roughness {
            list.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        }
        self.freeze_thaw_days.sort_unstable();
    }
}

/// One feature: a short name and what it means to a planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    /// Completes "risk is higher because of …" / "lower because of …".
    pub meaning: &'static str,
}

/// The features, in column order.
pub const FEATURES: [Feature; 22] = [
    Feature {
        name: "arterial",
        meaning: "being an arterial road",
    },
    Feature {
        name: "collector",
        meaning: "being a collector road",
    },
    Feature {
        name: "log_length",
        meaning: "the segment's length",
    },
    Feature {
        name: "log_traffic",
        meaning: "traffic (vehicles per day)",
    },
    Feature {
        name: "bus_route",
        meaning: "being on a bus route",
    },
    Feature {
        name: "surface_age_years",
        meaning: "years since the last resurfacing",
    },
    Feature {
        name: "repairs_365d",
        meaning: "pothole repairs in the last year",
    },
    Feature {
        name: "repairs_3y",
        meaning: "pothole repairs in the last three years",
    },
    Feature {
        name: "log_days_since_repair",
        meaning: "time since the last pothole repair",
    },
    Feature {
        name: "reports_30d",
        meaning: "pothole reports in the last 30 days",
    },
    Feature {
        name: "reports_90d",
        meaning: "pothole reports in the last 90 days",
    },
    Feature {
        name: "reports_365d",
        meaning: "pothole reports in the last year",
    },
    Feature {
        name: "neighbour_reports_90d",
        meaning: "pothole reports on neighbouring segments in the last 90 days",
    },
    Feature {
        name: "roughness_mean_28d",
        meaning: "recent probe roughness (IRI)",
    },
    Feature {
        name: "roughness_max_28d",
        meaning: "the roughest recent probe reading",
    },
    Feature {
        name: "roughness_trend_90d",
        meaning: "roughness rising over the last three months",
    },
    Feature {
        name: "probe_passes_28d",
        meaning: "probe-vehicle passes in the last four weeks",
    },
    Feature {
        name: "freeze_thaw_0_28d",
        meaning: "freeze–thaw days in the last four weeks",
    },
    Feature {
        name: "freeze_thaw_28_84d",
        meaning: "freeze–thaw days one to three months ago (potholes follow them by about two months)",
    },
    Feature {
        name: "roughness_x_freeze_thaw",
        meaning: "rough pavement after a freeze–thaw spell",
    },
    Feature {
        name: "season_sin",
        meaning: "the time of year",
    },
    Feature {
        name: "season_cos",
        meaning: "the time of year",
    },
];

pub const FEATURE_COUNT: usize = FEATURES.len();

/// How many events in `days` fall in `(as_of - window_days, as_of]`.
fn count_in(days: &[NaiveDate], as_of: NaiveDate, window_days: i64) -> usize {
    let end = days.partition_point(|d| *d <= as_of);
    let start = days.partition_point(|d| *d <= as_of - chrono::Duration::days(window_days));
    end - start
}

/// Readings in `(as_of - from_days, as_of - to_days]`.
fn readings_in(
    readings: &[(NaiveDate, f64)],
    as_of: NaiveDate,
    from_days: i64,
    to_days: i64,
) -> &[(NaiveDate, f64)] {
    let end = readings.partition_point(|r| r.0 <= as_of - chrono::Duration::days(to_days));
    let start = readings.partition_point(|r| r.0 <= as_of - chrono::Duration::days(from_days));
    &readings[start..end]
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, sum) = values.fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    (n > 0).then(|| sum / n as f64)
}

/// The feature row of segment `s` as of the end of `as_of`. Missing values (no probe
/// readings, unknown traffic or age) are NaN; models fill them with training means.
pub fn row(history: &History, s: usize, as_of: NaiveDate) -> [f64; FEATURE_COUNT] {
    let facts = &history.segments[s];
    let class = |c: RoadClass| f64::from(u8::from(facts.class == Some(c)));
    let last_surfaced = history.resurfacings[s]
        [..history.resurfacings[s].partition_point(|d| *d <= as_of)]
        .last()
        .copied()
        .or(facts.surfaced_on.filter(|d| *d <= as_of));
    let age_years = last_surfaced.map_or(f64::NAN, |d| (as_of - d).num_days() as f64 / 365.25);
    let repairs = &history.repairs[s];
    let last_repair = repairs[..repairs.partition_point(|d| *d <= as_of)].last();
    let days_since_repair = last_repair.map_or(3.0 * 365.0, |d| {
        ((as_of - *d).num_days() as f64).min(3.0 * 365.0)
    });
    let reports = &history.reports[s];
    let neighbour_reports: usize = facts
        .neighbours
        .iter()
        .map(|&n| count_in(&history.reports[n], as_of, 90))
        .sum();
    let recent = readings_in(&history.roughness[s], as_of, 28, 0);
    let earlier = readings_in(&history.roughness[s], as_of, 90, 56);
    let last_quarter = readings_in(&history.roughness[s], as_of, 90, 0);
    // A local street may go a few weeks without a refuse truck: fall back to the quarter.
    let rough_mean =
        mean(recent.iter().map(|r| r.1)).or_else(|| mean(last_quarter.iter().map(|r| r.1)));
    let rough_max = recent
        .iter()
        .chain(if recent.is_empty() { last_quarter } else { &[] })
        .map(|r| r.1)
        .fold(f64::NAN, f64::max);
    let trend = match (
        mean(recent.iter().map(|r| r.1)),
        mean(earlier.iter().map(|r| r.1)),
    ) {
        (Some(now), Some(before)) => now - before,
        _ => f64::NAN,
    };
    let ft_recent = count_in(&history.freeze_thaw_days, as_of, 28) as f64;
    let ft_lagged = (count_in(
        &history.freeze_thaw_days,
        as_of - chrono::Duration::days(28),
        56,
    )) as f64;
    let angle = f64::from(as_of.ordinal0()) / 365.25 * std::f64::consts::TAU;
    [
        class(RoadClass::Arterial),
        class(RoadClass::Collector),
        facts.length_m.max(1.0).ln(),
        facts.aadt.map_or(f64::NAN, |a| a.max(1.0).ln()),
        f64::from(u8::from(facts.bus_route)),
        age_years,
        count_in(repairs, as_of, 365) as f64,
        count_in(repairs, as_of, 3 * 365) as f64,
        days_since_repair.max(1.0).ln(),
        count_in(reports, as_of, 30) as f64,
        count_in(reports, as_of, 90) as f64,
        count_in(reports, as_of, 365) as f64,
        neighbour_reports as f64,
        rough_mean.unwrap_or(f64::NAN),
        rough_max,
        trend,
        recent.len() as f64,
        ft_recent,
        ft_lagged,
        rough_mean.map_or(f64::NAN, |r| r * ft_lagged),
        angle.sin(),
        angle.cos(),
    ]
}

/// A segment's two ends, (longitude, latitude) each.
pub type Ends = ((f64, f64), (f64, f64));

/// Segments that share an end (within about 1 m), from each segment's two ends.
pub fn neighbours(ends: &[Ends]) -> Vec<Vec<usize>> {
    let key = |(lon, lat): (f64, f64)| ((lon * 1e5).round() as i64, (lat * 1e5).round() as i64);
    let mut at: std::collections::HashMap<(i64, i64), Vec<usize>> =
        std::collections::HashMap::new();
    for (i, (a, b)) in ends.iter().enumerate() {
        at.entry(key(*a)).or_default().push(i);
        at.entry(key(*b)).or_default().push(i);
    }
    ends.iter()
        .enumerate()
        .map(|(i, (a, b))| {
            let mut near: Vec<usize> = at[&key(*a)]
                .iter()
                .chain(&at[&key(*b)])
                .copied()
                .filter(|&j| j != i)
                .collect();
            near.sort_unstable();
            near.dedup();
            near
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    fn sample() -> History {
        let facts = |neighbours| SegmentFacts {
            length_m: 150.0,
            class: Some(RoadClass::Local),
            aadt: Some(800.0),
            bus_route: false,
            surfaced_on: Some(day("2010-07-01")),
            neighbours,
        };
        let mut history = History::new(vec![facts(vec![1]), facts(vec![0])]);
        history.reports[0] = vec![day("2025-01-10"), day("2025-02-20"), day("2025-03-05")];
        history.reports[1] = vec![day("2025-02-01")];
        history.repairs[0] = vec![day("2025-01-15")];
        history.resurfacings[1] = vec![day("2024-07-15")];
        history.roughness[0] = vec![
            (day("2024-12-20"), 3.0),
            (day("2025-02-25"), 4.0),
            (day("2025-03-01"), 5.0),
        ];
        history.freeze_thaw_days = vec![day("2025-01-05"), day("2025-02-01"), day("2025-02-27")];
        history.sort();
        history
    }

    fn index(name: &str) -> usize {
        FEATURES
            .iter()
            .position(|f| f.name == name)
            .expect("a feature")
    }

    #[test]
    fn windows_count_what_happened_up_to_and_including_the_as_of_day() {
        let history = sample();
        let row = row(&history, 0, day("2025-03-01"));
        assert_eq!(row[index("reports_30d")], 1.0);
        assert_eq!(row[index("reports_90d")], 2.0);
        assert_eq!(row[index("neighbour_reports_90d")], 1.0);
        assert_eq!(row[index("repairs_365d")], 1.0);
        assert_eq!(row[index("roughness_mean_28d")], 4.5);
        assert_eq!(row[index("roughness_max_28d")], 5.0);
        assert_eq!(row[index("probe_passes_28d")], 2.0);
        assert!((row[index("roughness_trend_90d")] - 1.5).abs() < 1e-12);
        assert_eq!(row[index("freeze_thaw_0_28d")], 1.0);
        assert_eq!(row[index("freeze_thaw_28_84d")], 2.0);
        let neighbour = super::row(&history, 1, day("2025-03-01"));
        assert!(
            (neighbour[index("surface_age_years")] - 0.63).abs() < 0.01,
            "resurfaced in 2024"
        );
    }

    #[test]
    fn nothing_dated_after_the_as_of_day_changes_any_feature() {
        let as_of = day("2025-03-01");
        let before = sample();
        let mut after = sample();
        // Change every kind of row dated later: add, and move existing ones.
        for s in 0..2 {
            after.reports[s].push(day("2025-03-02"));
            after.repairs[s].push(day("2025-03-10"));
            after.resurfacings[s].push(day("2025-07-15"));
            after.roughness[s].push((day("2025-03-02"), 99.0));
        }
        after.reports[0][2] = day("2025-04-01");
        after.freeze_thaw_days.push(day("2025-03-02"));
        after.sort();
        for s in 0..2 {
            let (a, b) = (row(&before, s, as_of), row(&after, s, as_of));
            for (i, (x, y)) in a.iter().zip(&b).enumerate() {
                let same = x == y || (x.is_nan() && y.is_nan());
                assert!(same, "{} of segment {s} moved", FEATURES[i].name);
            }
        }
    }

    #[test]
    fn segments_sharing_an_end_are_neighbours() {
        let ends = [
            ((0.0, 0.0), (0.001, 0.0)),
            ((0.001, 0.0), (0.002, 0.0)),
            ((5.0, 5.0), (5.001, 5.0)),
        ];
        assert_eq!(neighbours(&ends), vec![vec![1], vec![0], vec![]]);
    }
}
