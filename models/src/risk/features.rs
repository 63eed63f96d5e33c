//! Features per segment and as-of date, from what was known on that date only.
//!
//! Every event list is sorted by day and every window is read with a binary search up to
//! the as-of day, so nothing dated later can reach a feature: the leakage test changes
//! every later row and checks that no feature moves.

use crate::network::RoadClass;
use chrono::{Datelike, NaiveDate};

/// The structure under a road's surface, in the few families that fail differently. A
/// city's own codes are translated by its import mapping or recognised by
/// [`Pavement::from_word`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pavement {
    /// Asphalt of full depth: the usual case, and the reference the others are read against.
    Asphalt,
    /// Portland-cement concrete.
    Concrete,
    /// Asphalt over a concrete base.
    Composite,
    /// A thin or unbound surface: surface treatment, chip seal, thin asphalt without a
    /// base, gravel, brick or setts.
    Thin,
}

impl Pavement {
    pub const ALL: [Pavement; 4] = [
        Pavement::Asphalt,
        Pavement::Concrete,
        Pavement::Composite,
        Pavement::Thin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Pavement::Asphalt => "asphalt",
            Pavement::Concrete => "concrete",
            Pavement::Composite => "composite",
            Pavement::Thin => "thin",
        }
    }

    /// Recognises the usual words and abbreviations (asphalt, AC, bituminous, concrete,
    /// PCC, composite, chip seal, gravel, brick…); None for anything else, such as a
    /// bare "paved".
    pub fn from_word(word: &str) -> Option<Pavement> {
        let w = word.trim().to_ascii_lowercase();
        let has = |needles: &[&str]| needles.iter().any(|n| w.contains(n));
        if w.is_empty() {
            None
        } else if has(&[
            "composite",
            "ac/pcc",
            "ac over pcc",
            "asphalt over concrete",
        ]) {
            Some(Pavement::Composite)
        } else if has(&[
            "thin",
            "surface treatment",
            "chip",
            "seal coat",
            "gravel",
            "unpaved",
            "brick",
            "sett",
            "cobble",
            "paver",
            "earth",
            "dirt",
        ]) || w == "st"
        {
            Some(Pavement::Thin)
        } else if has(&["concrete", "pcc", "cement"]) {
            Some(Pavement::Concrete)
        } else if has(&["asphalt", "bitumin", "blacktop", "hma", "flexible"]) || w == "ac" {
            Some(Pavement::Asphalt)
        } else {
            None
        }
    }
}

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
    /// The surface the register records, when no rating says otherwise.
    pub pavement: Option<Pavement>,
    /// Indexes of the segments sharing an end with this one.
    pub neighbours: Vec<usize>,
}

impl SegmentFacts {
    /// A segment the register gives only a length for.
    pub fn of_length(length_m: f64) -> SegmentFacts {
        SegmentFacts {
            length_m,
            class: None,
            aadt: None,
            bus_route: false,
            surfaced_on: None,
            pavement: None,
            neighbours: Vec::new(),
        }
    }
}

/// A dated condition rating. Scales are the city's own (Syracuse rates 1–10, others use a
/// PCI of 0–100); a model is trained per city, so only their order matters.
#[derive(Debug, Clone, PartialEq)]
pub struct Rating {
    pub on: NaiveDate,
    /// Overall condition: higher is better.
    pub overall: Option<f64>,
    /// Cracking and patching sub-scores: higher is better (fewer cracks, fewer patches).
    pub cracking: Option<f64>,
    pub patching: Option<f64>,
    pub pavement: Option<Pavement>,
}

/// A probe reading: its day and the International Roughness Index, m/km. Single
/// precision holds an IRI to far better than its 0.01 m/km, in half the memory of a
/// large city's 39 million readings.
pub type Roughness = (NaiveDate, f32);

/// Everything Upkeep observed, per segment (index into `segments`), each list sorted by
/// day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub segments: Vec<SegmentFacts>,
    /// Days of reports of road-surface defects on the segment, of every service the
    /// catalogue marks as road surface (a report joining an issue counts too: many
    /// reports say the defect matters).
    pub reports: Vec<Vec<NaiveDate>>,
    /// Days of road-surface repairs (never street lights, graffiti or other kinds).
    pub repairs: Vec<Vec<NaiveDate>>,
    /// Days the segment was resurfaced.
    pub resurfacings: Vec<Vec<NaiveDate>>,
    /// Condition ratings, by day.
    pub ratings: Vec<Vec<Rating>>,
    /// Days of water-main breaks placed on the segment (utility cuts damage the road).
    pub water_main_breaks: Vec<Vec<NaiveDate>>,
    /// Probe roughness readings.
    pub roughness: Vec<Vec<Roughness>>,
    /// Days with a freeze–thaw cycle: the minimum below 0 °C and the maximum above it.
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
            ratings: vec![Vec::new(); n],
            water_main_breaks: vec![Vec::new(); n],
            roughness: vec![Vec::new(); n],
            freeze_thaw_days: Vec::new(),
        }
    }

    /// Sorts every list, so events may be pushed in any order, and gives back the lists'
    /// spare room (a large city's readings grew a quarter more than they hold).
    pub fn sort(&mut self) {
        for list in self
            .reports
            .iter_mut()
            .chain(&mut self.repairs)
            .chain(&mut self.resurfacings)
            .chain(&mut self.water_main_breaks)
        {
            list.sort_unstable();
        }
        for list in &mut self.ratings {
            list.sort_by_key(|r| r.on);
        }
        for list in &mut self.roughness {
            list.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
            list.shrink_to_fit();
        }
        self.freeze_thaw_days.sort_unstable();
    }
}

/// Whether a day's minimum and maximum air temperatures (°C) cross 0 °C: the standard
/// freeze–thaw cycle.
pub fn is_freeze_thaw(tmin_c: f64, tmax_c: f64) -> bool {
    tmin_c < 0.0 && tmax_c > 0.0
}

/// One feature: a short name and what it means to a planner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub name: &'static str,
    /// Completes "risk is higher because of …" / "lower because of …".
    pub meaning: &'static str,
}

const fn feature(name: &'static str, meaning: &'static str) -> Feature {
    Feature { name, meaning }
}

/// The features, in column order. A value that is not known is NaN (the models put it at
/// the training mean) and its `…_missing` indicator says so, so a model can learn what an
/// unrated street or an unknown traffic count means instead of taking it for average.
pub const FEATURES: [Feature; 36] = [
    feature("arterial", "being an arterial road"),
    feature("collector", "being a collector road"),
    feature("log_length", "the segment's length"),
    feature("log_traffic", "traffic (vehicles per day)"),
    feature("traffic_missing", "having no traffic count"),
    feature("bus_route", "being on a bus route"),
    feature("surface_age_years", "years since the last resurfacing"),
    feature("surface_age_missing", "having no known resurfacing date"),
    feature(
        "rating_overall",
        "the latest condition rating (higher is better)",
    ),
    feature(
        "rating_age_years",
        "years since the latest condition rating",
    ),
    feature("rating_missing", "having no condition rating"),
    feature(
        "rating_cracking",
        "the latest cracking score (higher is fewer cracks)",
    ),
    feature(
        "rating_patching",
        "the latest patching score (higher is fewer patches)",
    ),
    feature(
        "rating_detail_missing",
        "having no cracking or patching score",
    ),
    feature("pavement_concrete", "a concrete pavement"),
    feature("pavement_composite", "asphalt over a concrete base"),
    feature("pavement_thin", "a thin or unbound surface"),
    feature("pavement_missing", "an unknown pavement type"),
    feature(
        "water_main_breaks_5y",
        "water-main breaks under the road in the last five years",
    ),
    feature("repairs_365d", "road-surface repairs in the last year"),
    feature("repairs_3y", "road-surface repairs in the last three years"),
    feature(
        "log_days_since_repair",
        "time since the last road-surface repair",
    ),
    feature("reports_30d", "road-surface reports in the last 30 days"),
    feature("reports_90d", "road-surface reports in the last 90 days"),
    feature("reports_365d", "road-surface reports in the last year"),
    feature(
        "reports_same_weeks_last_year",
        "road-surface reports in the same four weeks a year ago",
    ),
    feature(
        "neighbour_reports_90d",
        "road-surface reports on neighbouring segments in the last 90 days",
    ),
    feature("roughness_mean_28d", "recent probe roughness (IRI)"),
    feature("roughness_max_28d", "the roughest recent probe reading"),
    feature(
        "roughness_trend_90d",
        "roughness rising over the last three months",
    ),
    feature(
        "probe_passes_28d",
        "probe-vehicle passes in the last four weeks",
    ),
    feature(
        "probe_missing",
        "having no probe reading in the last three months",
    ),
    feature(
        "freeze_thaw_28d",
        "freeze–thaw days (0 °C crossings) in the last four weeks",
    ),
    feature(
        "freeze_thaw_winter",
        "freeze–thaw days since the first of July",
    ),
    feature("season_sin", "the time of year"),
    feature("season_cos", "the time of year"),
];

pub const FEATURE_COUNT: usize = FEATURES.len();

/// How far back [`row`] looks at reports (its own and its neighbours'), days: a
/// history holding only the reports dated after `as_of - REPORT_LOOKBACK_DAYS` gives the
/// same row, so scoring reads a year of reports, not all of them.
pub const REPORT_LOOKBACK_DAYS: i64 = 365;
/// How far back [`row`] looks at probe readings, days (as [`REPORT_LOOKBACK_DAYS`]).
pub const ROUGHNESS_LOOKBACK_DAYS: i64 = 90;

/// How many events in `days` fall in `(as_of - window_days, as_of]`.
fn count_in(days: &[NaiveDate], as_of: NaiveDate, window_days: i64) -> usize {
    // The window's start is worked out once, not at every step of the search: date
    // arithmetic was a third of the time spent building a row.
    let after = as_of - chrono::Duration::days(window_days);
    let end = days.partition_point(|d| *d <= as_of);
    end - days[..end].partition_point(|d| *d <= after)
}

/// The last quarter's readings before `as_of` (included), split at 28 and 56 days back:
/// (the last 28 days, the 90 to 56 days before, the whole 90 days). The quarter is found
/// once in the whole list and the splits inside it, since a street's list holds years.
fn last_quarter(readings: &[Roughness], as_of: NaiveDate) -> [&[Roughness]; 3] {
    let days = |n| as_of - chrono::Duration::days(n);
    let end = readings.partition_point(|r| r.0 <= as_of);
    let (d28, d56, d90) = (days(28), days(56), days(ROUGHNESS_LOOKBACK_DAYS));
    let quarter = &readings[readings[..end].partition_point(|r| r.0 <= d90)..end];
    let recent = &quarter[quarter.partition_point(|r| r.0 <= d28)..];
    let earlier = &quarter[..quarter.partition_point(|r| r.0 <= d56)];
    [recent, earlier, quarter]
}

fn iri(reading: &Roughness) -> f64 {
    f64::from(reading.1)
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (n, sum) = values.fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    (n > 0).then(|| sum / n as f64)
}

/// 1.0 for true, 0.0 for false.
fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

/// The feature row of segment `s` as of the end of `as_of`. Missing values (no probe
/// readings, unknown traffic, age or rating) are NaN beside an indicator.
pub fn row(history: &History, s: usize, as_of: NaiveDate) -> [f64; FEATURE_COUNT] {
    let facts = &history.segments[s];
    let class = |c: RoadClass| flag(facts.class == Some(c));
    let last_surfaced = history.resurfacings[s]
        [..history.resurfacings[s].partition_point(|d| *d <= as_of)]
        .last()
        .copied()
        .or(facts.surfaced_on.filter(|d| *d <= as_of));
    let years_since = |d: NaiveDate| (as_of - d).num_days() as f64 / 365.25;
    let age_years = last_surfaced.map_or(f64::NAN, years_since);
    let ratings = &history.ratings[s][..history.ratings[s].partition_point(|r| r.on <= as_of)];
    let latest = |grade: fn(&Rating) -> Option<f64>| {
        ratings.iter().rev().find_map(|r| Some((grade(r)?, r.on)))
    };
    let overall = latest(|r| r.overall);
    let cracking = latest(|r| r.cracking).map(|(v, _)| v);
    let patching = latest(|r| r.patching).map(|(v, _)| v);
    let pavement = ratings
        .iter()
        .rev()
        .find_map(|r| r.pavement)
        .or(facts.pavement);
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
    let [recent, earlier, last_quarter] = last_quarter(&history.roughness[s], as_of);
    // A local street may go a few weeks without a refuse truck: fall back to the quarter.
    let rough_mean = mean(recent.iter().map(iri)).or_else(|| mean(last_quarter.iter().map(iri)));
    let rough_max = recent
        .iter()
        .chain(if recent.is_empty() { last_quarter } else { &[] })
        .map(iri)
        .fold(f64::NAN, f64::max);
    let trend = match (mean(recent.iter().map(iri)), mean(earlier.iter().map(iri))) {
        (Some(now), Some(before)) => now - before,
        _ => f64::NAN,
    };
    // Winter to date: freeze–thaw cycles since the last first of July.
    let july = NaiveDate::from_ymd_opt(
        if as_of.month() >= 7 {
            as_of.year()
        } else {
            as_of.year() - 1
        },
        7,
        1,
    )
    .unwrap_or(as_of);
    let winter_days = (as_of - july).num_days() + 1;
    let angle = f64::from(as_of.ordinal0()) / 365.25 * std::f64::consts::TAU;
    [
        class(RoadClass::Arterial),
        class(RoadClass::Collector),
        facts.length_m.max(1.0).ln(),
        facts.aadt.map_or(f64::NAN, |a| a.max(1.0).ln()),
        flag(facts.aadt.is_none()),
        flag(facts.bus_route),
        age_years,
        flag(last_surfaced.is_none()),
        overall.map_or(f64::NAN, |(v, _)| v),
        overall.map_or(f64::NAN, |(_, on)| years_since(on)),
        flag(overall.is_none()),
        cracking.unwrap_or(f64::NAN),
        patching.unwrap_or(f64::NAN),
        flag(cracking.is_none() && patching.is_none()),
        flag(pavement == Some(Pavement::Concrete)),
        flag(pavement == Some(Pavement::Composite)),
        flag(pavement == Some(Pavement::Thin)),
        flag(pavement.is_none()),
        count_in(&history.water_main_breaks[s], as_of, 5 * 365) as f64,
        count_in(repairs, as_of, 365) as f64,
        count_in(repairs, as_of, 3 * 365) as f64,
        days_since_repair.max(1.0).ln(),
        count_in(reports, as_of, 30) as f64,
        count_in(reports, as_of, 90) as f64,
        count_in(reports, as_of, 365) as f64,
        // The four weeks ahead, a year earlier: (as_of - 365, as_of - 337].
        count_in(reports, as_of - chrono::Duration::days(337), 28) as f64,
        neighbour_reports as f64,
        rough_mean.unwrap_or(f64::NAN),
        rough_max,
        trend,
        recent.len() as f64,
        flag(rough_mean.is_none()),
        count_in(&history.freeze_thaw_days, as_of, 28) as f64,
        count_in(&history.freeze_thaw_days, as_of, winter_days) as f64,
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
            pavement: None,
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
        history.ratings[0] = vec![
            rating(
                "2022-05-01",
                Some(7.0),
                Some(4.0),
                Some(Pavement::Composite),
            ),
            rating("2024-05-01", Some(5.0), None, None),
        ];
        history.water_main_breaks[0] = vec![day("2019-06-01"), day("2023-06-01")];
        history.sort();
        history
    }

    fn rating(
        on: &str,
        overall: Option<f64>,
        cracking: Option<f64>,
        pavement: Option<Pavement>,
    ) -> Rating {
        Rating {
            on: day(on),
            overall,
            cracking,
            patching: None,
            pavement,
        }
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
        let a_year_on = super::row(&history, 0, day("2026-01-05"));
        assert_eq!(
            a_year_on[index("reports_same_weeks_last_year")],
            1.0,
            "10 Jan 2025 falls in the four weeks after 5 Jan 2025; 20 Feb does not"
        );
        assert_eq!(row[index("repairs_365d")], 1.0);
        assert_eq!(row[index("roughness_mean_28d")], 4.5);
        assert_eq!(row[index("roughness_max_28d")], 5.0);
        assert_eq!(row[index("probe_passes_28d")], 2.0);
        assert!((row[index("roughness_trend_90d")] - 1.5).abs() < 1e-12);
        assert_eq!(row[index("freeze_thaw_28d")], 1.0);
        assert_eq!(row[index("freeze_thaw_winter")], 3.0);
        assert_eq!(row[index("rating_overall")], 5.0, "the latest rating");
        assert!((row[index("rating_age_years")] - 0.83).abs() < 0.01);
        assert_eq!(
            row[index("rating_cracking")],
            4.0,
            "the latest rating that scored cracking"
        );
        assert_eq!(row[index("rating_detail_missing")], 0.0);
        assert_eq!(row[index("pavement_composite")], 1.0);
        assert_eq!(
            row[index("water_main_breaks_5y")],
            1.0,
            "2019 is too long ago"
        );
        assert_eq!(row[index("probe_missing")], 0.0);
        let neighbour = super::row(&history, 1, day("2025-03-01"));
        for missing in [
            "rating_missing",
            "rating_detail_missing",
            "pavement_missing",
            "probe_missing",
        ] {
            assert_eq!(neighbour[index(missing)], 1.0, "{missing}");
        }
        assert!(neighbour[index("rating_overall")].is_nan());
        assert_eq!(neighbour[index("surface_age_missing")], 0.0);
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
            after.ratings[s].push(rating(
                "2025-03-02",
                Some(1.0),
                Some(1.0),
                Some(Pavement::Thin),
            ));
            after.water_main_breaks[s].push(day("2025-03-02"));
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
    fn freeze_thaw_is_a_crossing_of_zero_degrees() {
        assert!(is_freeze_thaw(-0.5, 0.5));
        assert!(!is_freeze_thaw(0.0, 5.0), "no frost");
        assert!(!is_freeze_thaw(-5.0, 0.0), "no thaw");
    }

    #[test]
    fn pavement_words_fall_into_families_and_vague_ones_into_none() {
        for (word, family) in [
            ("Asphalt", Some(Pavement::Asphalt)),
            ("AC", Some(Pavement::Asphalt)),
            ("PCC", Some(Pavement::Concrete)),
            ("Portland cement concrete", Some(Pavement::Concrete)),
            ("asphalt over concrete", Some(Pavement::Composite)),
            ("Chip seal", Some(Pavement::Thin)),
            ("Brick", Some(Pavement::Thin)),
            ("PAVED", None),
            ("", None),
        ] {
            assert_eq!(Pavement::from_word(word), family, "{word}");
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
