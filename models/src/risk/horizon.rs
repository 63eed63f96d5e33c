//! How far a label looks ahead, and so how often as-of dates fall: 28 days from every
//! week (a crew's planning horizon), or a season or a year from one day each year (a
//! city's annual programme of repairs and resurfacing).

use super::evaluate;
use chrono::{Datelike, Duration, NaiveDate};
use serde::{Deserialize, Serialize};

/// Days of the season horizon: from 1 April, the label runs from the next day to the end
/// of September, the months a northern city repairs.
pub const SEASON_DAYS: i64 = 182;
/// Days of the year horizon.
pub const YEAR_DAYS: i64 = 365;

/// A label's horizon and the cadence of its as-of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "cadence")]
pub enum Horizon {
    /// 28 days ahead, from every week.
    Weekly,
    /// `days` ahead, from the same day (`month`, `day`) of every year.
    Annual { days: i64, month: u32, day: u32 },
}

impl Horizon {
    /// Reads a setting: `28d`, `season` or `year`, the annual ones starting on `from`
    /// (`MM-DD`, for example `04-01`).
    pub fn parse(horizon: &str, from: &str) -> Result<Horizon, String> {
        let annual = |days: i64| -> Result<Horizon, String> {
            let (month, day) = from
                .split_once('-')
                .and_then(|(m, d)| Some((m.parse::<u32>().ok()?, d.parse::<u32>().ok()?)))
                .filter(|&(m, d)| NaiveDate::from_ymd_opt(2001, m, d).is_some())
                .ok_or_else(|| {
                    format!("'{from}' is not a day of the year: give MM-DD, such as 04-01 (29 February is refused: not every year has it)")
                })?;
            Ok(Horizon::Annual { days, month, day })
        };
        match horizon {
            "28d" => Ok(Horizon::Weekly),
            "season" => annual(SEASON_DAYS),
            "year" => annual(YEAR_DAYS),
            other => Err(format!(
                "'{other}' is not a horizon: give 28d (weekly as-of dates), season ({SEASON_DAYS} days) or year ({YEAR_DAYS} days), the last two from one day each year"
            )),
        }
    }

    /// Days a label looks ahead.
    pub fn days(self) -> i64 {
        match self {
            Horizon::Weekly => evaluate::HORIZON_DAYS,
            Horizon::Annual { days, .. } => days,
        }
    }

    pub fn cadence(self) -> &'static str {
        match self {
            Horizon::Weekly => "weekly",
            Horizon::Annual { .. } => "annual",
        }
    }

    /// The day a model of this horizon scores as of, for a history whose last record
    /// is on `last`: that day with weekly as-of dates; with annual ones, the last of
    /// the year's days on or before it, the day such a model learnt to look from.
    pub fn scoring_day(self, last: NaiveDate) -> NaiveDate {
        match self {
            Horizon::Weekly => last,
            Horizon::Annual { month, day, .. } => (last.year() - 1..=last.year())
                .rev()
                .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
                .find(|d| *d <= last)
                .unwrap_or(last),
        }
    }

    /// The as-of dates from `start` (the history's first day) whose labels end by `end`:
    /// weekly after a warm-up; or each year's day whose label window lies at least half
    /// after `start` and ends by `end` but for its last twelfth. A city's log of a
    /// season's repairs can begin a few weeks into the season and its last record fall a
    /// few days before the season ends; the window's features (ratings, overlays,
    /// breaks) reach back years, so no warm-up is wanted.
    pub fn as_of_dates(self, start: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
        match self {
            Horizon::Weekly => evaluate::as_of_dates(start, end),
            Horizon::Annual { days, month, day } => (start.year() - 1..=end.year())
                .filter_map(|year| NaiveDate::from_ymd_opt(year, month, day))
                .filter(|d| {
                    *d + Duration::days(days / 2) >= start
                        && *d + Duration::days(days - days / 12) <= end
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    #[test]
    fn a_season_falls_on_the_same_day_each_year_once_its_label_is_complete() {
        let season = Horizon::parse("season", "04-01").unwrap();
        assert_eq!(season.days(), 182);
        // 2014's season is mostly over when the history begins; 2017's ends long after
        // the data.
        let dates = season.as_of_dates(day("2014-08-01"), day("2017-08-31"));
        assert_eq!(dates, vec![day("2015-04-01"), day("2016-04-01")]);
        // A log of repairs from late April to late September has that season.
        let dates = season.as_of_dates(day("2016-04-25"), day("2016-09-26"));
        assert_eq!(dates, vec![day("2016-04-01")]);
        let year = Horizon::parse("year", "01-15").unwrap();
        assert_eq!(
            year.as_of_dates(day("2014-01-01"), day("2016-01-15")),
            vec![day("2014-01-15"), day("2015-01-15")]
        );
    }

    #[test]
    fn a_season_model_scores_as_of_the_last_season_start_the_history_reaches() {
        let season = Horizon::parse("season", "04-01").unwrap();
        assert_eq!(season.scoring_day(day("2016-09-26")), day("2016-04-01"));
        assert_eq!(season.scoring_day(day("2016-04-01")), day("2016-04-01"));
        assert_eq!(season.scoring_day(day("2016-03-31")), day("2015-04-01"));
        assert_eq!(
            Horizon::Weekly.scoring_day(day("2019-12-30")),
            day("2019-12-30")
        );
    }

    #[test]
    fn twenty_eight_days_fall_every_week() {
        let weekly = Horizon::parse("28d", "ignored").unwrap();
        let dates = weekly.as_of_dates(day("2020-01-01"), day("2021-01-01"));
        assert!(dates.windows(2).all(|w| w[1] - w[0] == Duration::days(7)));
        assert_eq!(weekly.days(), 28);
    }

    #[test]
    fn a_horizon_or_a_day_that_cannot_be_read_is_named() {
        assert!(
            Horizon::parse("fortnight", "04-01")
                .unwrap_err()
                .contains("'fortnight'")
        );
        assert!(
            Horizon::parse("season", "02-30")
                .unwrap_err()
                .contains("'02-30'")
        );
        assert!(Horizon::parse("year", "02-29").is_err());
        assert!(Horizon::parse("season", "april").is_err());
    }
}
