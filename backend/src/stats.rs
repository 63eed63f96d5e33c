//! Planner statistics: by ward and category, how many problems are open and closed,
//! how long closing takes (median and 90th percentile), and how many orders are overdue.

pub mod summaries;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one ward, category, or ward and category, adds up to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tally {
    pub open: u64,
    pub closed: u64,
    /// Days from first report to closing, over the closed ones; None with none closed.
    pub median_days_to_close: Option<f64>,
    pub p90_days_to_close: Option<f64>,
    pub overdue_orders: u64,
}

/// How to group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Ward,
    Category,
    WardAndCategory,
}

/// A group's key: ward (None: off any ward) and category (None when not grouped by it).
pub type Key = (Option<i64>, Option<String>);

/// The `q`-quantile (0–1) of sorted `values`, linearly interpolated.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (low, high) = (position.floor() as usize, position.ceil() as usize);
    let share = position - low as f64;
    Some(sorted[low] + (sorted[high] - sorted[low]) * share)
}

/// Adds up issue lives (ward, category, status, first reported, closed) and overdue
/// orders (ward, category).
pub fn tally(
    lives: &[crate::db::issues::IssueLife],
    overdue: &[(Option<i64>, String)],
    group: GroupBy,
) -> BTreeMap<Key, Tally> {
    let key = |ward: Option<i64>, code: &str| -> Key {
        match group {
            GroupBy::Ward => (ward, None),
            GroupBy::Category => (None, Some(code.to_owned())),
            GroupBy::WardAndCategory => (ward, Some(code.to_owned())),
        }
    };
    let mut tallies: BTreeMap<Key, Tally> = BTreeMap::new();
    let mut durations: BTreeMap<Key, Vec<f64>> = BTreeMap::new();
    for (ward, code, status, first, closed) in lives {
        let k = key(*ward, code);
        let entry = tallies.entry(k.clone()).or_default();
        match (status.as_str(), closed) {
            ("open", _) | (_, None) => entry.open += 1,
            (_, Some(closed)) => {
                entry.closed += 1;
                durations
                    .entry(k)
                    .or_default()
                    .push(days_between(*first, *closed));
            }
        }
    }
    for (ward, code) in overdue {
        tallies.entry(key(*ward, code)).or_default().overdue_orders += 1;
    }
    for (k, mut days) in durations {
        days.sort_by(f64::total_cmp);
        if let Some(t) = tallies.get_mut(&k) {
            t.median_days_to_close = quantile(&days, 0.5).map(round1);
            t.p90_days_to_close = quantile(&days, 0.9).map(round1);
        }
    }
    tallies
}

fn days_between(from: NaiveDateTime, to: NaiveDateTime) -> f64 {
    (to - from).num_seconds().max(0) as f64 / 86_400.0
}

/// Rounded to a tenth (days are shown to one decimal).
pub fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::IssueStatus;
    use chrono::NaiveDate;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 3, day)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    #[test]
    fn quantiles_interpolate_between_neighbours() {
        let days = [1.0, 2.0, 3.0, 4.0, 11.0];
        assert_eq!(quantile(&days, 0.5), Some(3.0));
        assert!((quantile(&days, 0.9).unwrap() - 8.2).abs() < 1e-9);
        assert_eq!(quantile(&[], 0.5), None);
    }

    #[test]
    fn wards_and_categories_add_up_open_closed_times_and_overdue_orders() {
        let lives = vec![
            (
                Some(1),
                "pothole".into(),
                IssueStatus::Closed,
                at(1),
                Some(at(3)),
            ),
            (
                Some(1),
                "pothole".into(),
                IssueStatus::Closed,
                at(1),
                Some(at(5)),
            ),
            (Some(1), "graffiti".into(), IssueStatus::Open, at(2), None),
            (None, "pothole".into(), IssueStatus::Open, at(2), None),
        ];
        let overdue = vec![(Some(1), "graffiti".to_owned())];
        let by_ward = tally(&lives, &overdue, GroupBy::Ward);
        let ward1 = &by_ward[&(Some(1), None)];
        assert_eq!((ward1.open, ward1.closed, ward1.overdue_orders), (1, 2, 1));
        assert_eq!(ward1.median_days_to_close, Some(3.0));
        let both = tally(&lives, &overdue, GroupBy::WardAndCategory);
        assert_eq!(both[&(Some(1), Some("graffiti".into()))].overdue_orders, 1);
        assert_eq!(both[&(None, Some("pothole".into()))].open, 1);
        let by_category = tally(&lives, &overdue, GroupBy::Category);
        assert_eq!(by_category[&(None, Some("pothole".into()))].closed, 2);
    }
}

/// Reports per week (weeks start on Monday, the first being `first_monday`) per service:
/// `weeks` counts for each service that has any.
pub fn weekly(
    reports: &[(String, NaiveDateTime)],
    first_monday: chrono::NaiveDate,
    weeks: usize,
) -> BTreeMap<String, Vec<u64>> {
    let mut series: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for (code, at) in reports {
        let days = (at.date() - first_monday).num_days();
        if days < 0 {
            continue;
        }
        let week = (days / 7) as usize;
        if week < weeks {
            series.entry(code.clone()).or_insert_with(|| vec![0; weeks])[week] += 1;
        }
    }
    series
}

#[cfg(test)]
mod weekly_tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn reports_fall_in_the_week_that_holds_them() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
        let at = |d: u32| {
            NaiveDate::from_ymd_opt(2026, 11, d)
                .unwrap()
                .and_hms_opt(9, 0, 0)
                .unwrap()
        };
        let reports = vec![
            ("pothole".to_owned(), at(2)),
            ("pothole".to_owned(), at(8)),
            ("pothole".to_owned(), at(9)),
            ("graffiti".to_owned(), at(16)),
            ("graffiti".to_owned(), at(1)),
        ];
        let series = weekly(&reports, monday, 3);
        assert_eq!(series["pothole"], vec![2, 1, 0]);
        assert_eq!(series["graffiti"], vec![0, 0, 1]);
    }
}

/// Residents' answers to "is it fixed?" for one ward, category or crew.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Answers {
    pub answers: u64,
    pub not_fixed: u64,
    scored: u64,
    score_sum: u64,
}

impl Answers {
    pub fn add(&mut self, fixed: Option<bool>, satisfaction: Option<i32>) {
        self.answers += 1;
        if fixed == Some(false) {
            self.not_fixed += 1;
        }
        if let Some(score) = satisfaction.and_then(|s| u64::try_from(s).ok()) {
            self.scored += 1;
            self.score_sum += score;
        }
    }

    /// The share of answers that said it was not fixed (and so reopened it).
    pub fn reopen_rate(&self) -> Option<f64> {
        (self.answers > 0)
            .then(|| (self.not_fixed as f64 / self.answers as f64 * 1000.0).round() / 1000.0)
    }

    /// Mean satisfaction, 1–5, over the answers that gave one.
    pub fn satisfaction(&self) -> Option<f64> {
        (self.scored > 0).then(|| round1(self.score_sum as f64 / self.scored as f64))
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;

    #[test]
    fn answers_give_a_reopen_rate_and_a_mean_of_the_scores_given() {
        let mut a = Answers::default();
        assert_eq!((a.reopen_rate(), a.satisfaction()), (None, None));
        a.add(Some(true), Some(5));
        a.add(Some(false), Some(2));
        a.add(Some(true), None);
        assert_eq!(a.reopen_rate(), Some(0.333));
        assert_eq!(a.satisfaction(), Some(3.5));
    }
}
