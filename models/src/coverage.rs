//! Whether a record series covers its time span: months counted from the first record
//! to the last, and the months that fall far below the usual count flagged as gaps. A
//! model trained over a gap learns that nothing happened there; a data-quality report
//! shows the gap to whoever fixes the export.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;
use std::collections::BTreeMap;

/// A month below this share of the median month is a gap. Seasons move real series a
/// long way (the demo city's December has a tenth of a usual month's potholes); an
/// export that lost a month drops to nothing.
pub const GAP_SHARE: f64 = 0.05;
/// Below this median a month's count says too little to call it a gap.
pub const MIN_MEDIAN: f64 = 5.0;

/// Records in one calendar month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    pub count: u64,
    /// Far below the usual month (first and last months, often partial, never are).
    pub gap: bool,
}

/// Monthly coverage of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    pub months: Vec<Month>,
    /// The median monthly count over the months between the first and the last.
    pub median: f64,
    /// Whether the series is too sparse to judge (median below [`MIN_MEDIAN`]).
    pub sparse: bool,
}

impl Coverage {
    pub fn gaps(&self) -> impl Iterator<Item = &Month> {
        self.months.iter().filter(|m| m.gap)
    }

    /// The gaps in words, e.g. `2015-03 (0 records; a usual month has 412)`.
    pub fn describe_gaps(&self) -> Option<String> {
        let gaps: Vec<String> = self
            .gaps()
            .map(|m| format!("{} ({} records)", m.month, m.count))
            .collect();
        (!gaps.is_empty())
            .then(|| format!("{}; a usual month has {:.0}", gaps.join(", "), self.median))
    }
}

fn month_index(day: NaiveDate) -> i32 {
    day.year() * 12 + day.month0() as i32
}

/// The monthly coverage of records on `days` (in any order), from the first month to
/// the last; `None` without records.
pub fn monthly(days: impl IntoIterator<Item = NaiveDate>) -> Option<Coverage> {
    let mut counts: BTreeMap<i32, u64> = BTreeMap::new();
    for day in days {
        *counts.entry(month_index(day)).or_insert(0) += 1;
    }
    let (&first, _) = counts.first_key_value()?;
    let (&last, _) = counts.last_key_value()?;
    let all: Vec<(i32, u64)> = (first..=last)
        .map(|m| (m, counts.get(&m).copied().unwrap_or(0)))
        .collect();
    let inner: Vec<u64> = if all.len() > 2 {
        all[1..all.len() - 1].iter().map(|(_, n)| *n).collect()
    } else {
        Vec::new()
    };
    let median = median(&inner);
    let sparse = median < MIN_MEDIAN;
    let months = all
        .iter()
        .map(|&(m, count)| Month {
            month: format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1),
            count,
            gap: !sparse && m != first && m != last && (count as f64) < GAP_SHARE * median,
        })
        .collect();
    Some(Coverage {
        months,
        median,
        sparse,
    })
}

fn median(values: &[u64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let mid = sorted.len() / 2;
    if sorted.len().is_multiple_of(2) {
        (sorted[mid - 1] + sorted[mid]) as f64 / 2.0
    } else {
        sorted[mid] as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_month_without_records_between_busy_ones_is_a_gap_and_the_partial_ends_are_not() {
        let mut days = vec![day(2015, 1, 31)];
        for month in [2, 3, 5, 6] {
            days.extend((1..=28).map(|d| day(2015, month, d)));
        }
        days.push(day(2015, 4, 2));
        days.push(day(2015, 7, 1));
        let coverage = monthly(days).unwrap();
        let flagged: Vec<&str> = coverage.gaps().map(|m| m.month.as_str()).collect();
        assert_eq!(flagged, ["2015-04"], "{coverage:?}");
        assert_eq!(coverage.months.len(), 7);
        assert!(
            coverage
                .describe_gaps()
                .unwrap()
                .starts_with("2015-04 (1 records)")
        );
    }

    #[test]
    fn a_sparse_series_is_not_judged_and_no_records_is_no_coverage() {
        let coverage = monthly([day(2015, 1, 1), day(2015, 3, 1), day(2015, 6, 1)]).unwrap();
        assert!(coverage.sparse);
        assert_eq!(coverage.gaps().count(), 0);
        assert!(monthly(std::iter::empty()).is_none());
    }
}
