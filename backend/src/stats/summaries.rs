//! The planner's default statistics, computed in the background every five minutes
//! (once per cluster) and stored in `summaries`: the last year's issues by ward, category,
//! and ward and category, and the last 26 weeks' reports per service. The planner page
//! then reads one stored row per view instead of every issue of the year, which on a
//! city of two million reports took seconds.
//!
//! A request that names its own window is computed as it asks; so is any request when
//! the stored summary is older than [`FRESH_FOR`] (the background job is not running).

use super::{GroupBy, Key, Tally, tally, weekly};
use crate::db::{Database, DbError, DbResult};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The window of the default statistics, days.
pub const YEAR_DAYS: i64 = 365;
/// Weeks of the stored weekly series; a request for fewer reads its last weeks.
pub const WEEKS: usize = 26;
/// A stored summary older than this is not served: three periods of the background job
/// (`SUMMARY_EVERY` in `app`), so one missed run is no harm.
pub fn fresh_for() -> Duration {
    Duration::minutes(15)
}

const TALLIES: &str = "stats_tallies";
const WEEKLY: &str = "stats_weekly";

/// The year's tallies as stored, one list per grouping.
#[derive(Debug, Serialize, Deserialize)]
pub struct Tallies {
    pub from: NaiveDateTime,
    pub to: NaiveDateTime,
    by_ward: Vec<(Key, Tally)>,
    by_service: Vec<(Key, Tally)>,
    by_ward_and_service: Vec<(Key, Tally)>,
}

impl Tallies {
    /// The tallies grouped as asked.
    pub fn grouped(&self, group: GroupBy) -> BTreeMap<Key, Tally> {
        let list = match group {
            GroupBy::Ward => &self.by_ward,
            GroupBy::Category => &self.by_service,
            GroupBy::WardAndCategory => &self.by_ward_and_service,
        };
        list.iter().cloned().collect()
    }
}

/// The weekly series as stored.
#[derive(Debug, Serialize, Deserialize)]
pub struct Weekly {
    /// The Monday of the first week.
    pub first: NaiveDate,
    pub series: BTreeMap<String, Vec<u64>>,
}

impl Weekly {
    /// The last `weeks` weeks (at most [`WEEKS`]) if the series ends this week.
    pub fn last(&self, weeks: usize, this_monday: NaiveDate) -> Option<BTreeMap<String, Vec<u64>>> {
        let ends = self.first + Duration::weeks(WEEKS as i64 - 1);
        if ends != this_monday || weeks > WEEKS {
            return None;
        }
        Some(
            self.series
                .iter()
                .map(|(code, counts)| (code.clone(), counts[WEEKS - weeks..].to_vec()))
                .filter(|(_, counts)| counts.iter().any(|&n| n > 0))
                .collect(),
        )
    }
}

/// Computes both summaries as of `now` and stores them.
pub fn refresh(db: &Database, now: NaiveDateTime) -> DbResult<()> {
    let from = now - Duration::days(YEAR_DAYS);
    let first = crate::work_orders::week_start(now.date()) - Duration::weeks(WEEKS as i64 - 1);
    let week_from = first.and_hms_opt(0, 0, 0).unwrap_or_default();
    let (lives, overdue, reports) = db.read(|conn| {
        Ok::<_, DbError>((
            crate::db::issues::lives(conn, from, now)?,
            crate::db::work_orders::overdue(conn, now)?,
            crate::db::requests::made_since(conn, week_from)?,
        ))
    })?;
    let list = |group| tally(&lives, &overdue, group).into_iter().collect();
    let tallies = Tallies {
        from,
        to: now,
        by_ward: list(GroupBy::Ward),
        by_service: list(GroupBy::Category),
        by_ward_and_service: list(GroupBy::WardAndCategory),
    };
    let weekly = Weekly {
        first,
        series: weekly(&reports, first, WEEKS),
    };
    let (tallies, weekly) = (
        serde_json::to_string(&tallies).unwrap_or_default(),
        serde_json::to_string(&weekly).unwrap_or_default(),
    );
    db.write(|conn| {
        crate::db::summaries::put(conn, TALLIES, &tallies, now)?;
        crate::db::summaries::put(conn, WEEKLY, &weekly, now)
    })
}

/// The stored tallies and when they were computed, if fresh at `now`.
pub fn stored_tallies(
    db: &Database,
    now: NaiveDateTime,
) -> DbResult<Option<(Tallies, NaiveDateTime)>> {
    stored(db, TALLIES, now)
}

/// The stored weekly series and when it was computed, if fresh at `now`.
pub fn stored_weekly(
    db: &Database,
    now: NaiveDateTime,
) -> DbResult<Option<(Weekly, NaiveDateTime)>> {
    stored(db, WEEKLY, now)
}

fn stored<T: for<'de> Deserialize<'de>>(
    db: &Database,
    name: &str,
    now: NaiveDateTime,
) -> DbResult<Option<(T, NaiveDateTime)>> {
    let Some((body, at)) = db.read(|conn| crate::db::summaries::get(conn, name))? else {
        return Ok(None);
    };
    if now - at > fresh_for() {
        return Ok(None);
    }
    // A summary written by another version of Upkeep is recomputed, not an error.
    Ok(serde_json::from_str(&body).ok().map(|value| (value, at)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_weeks_are_read_from_a_series_that_ends_this_week() {
        let first = NaiveDate::from_ymd_opt(2026, 6, 8).unwrap();
        let mut counts = vec![0; WEEKS];
        counts[WEEKS - 1] = 3;
        counts[WEEKS - 3] = 1;
        counts[0] = 9;
        let weekly = Weekly {
            first,
            series: [
                ("pothole".to_owned(), counts),
                ("graffiti".to_owned(), {
                    let mut early = vec![0; WEEKS];
                    early[0] = 2;
                    early
                }),
            ]
            .into_iter()
            .collect(),
        };
        let this_monday = first + Duration::weeks(WEEKS as i64 - 1);
        let last = weekly.last(4, this_monday).unwrap();
        assert_eq!(last["pothole"], vec![0, 1, 0, 3]);
        assert!(!last.contains_key("graffiti"), "no reports in those weeks");
        assert!(
            weekly.last(4, this_monday + Duration::weeks(1)).is_none(),
            "stale"
        );
        assert!(
            weekly.last(WEEKS + 1, this_monday).is_none(),
            "longer than stored"
        );
    }
}
