//! The public neighbourhood dashboard: how each ward is served. Open problems now, and
//! over the last twelve weeks the problems fixed, the median days to fix them, the share
//! fixed within their service level, and a week-by-week trend.
//!
//! The figures are a summary computed in the background (every five minutes, once per
//! cluster) and stored, so the page never scans every report.

use crate::catalogue::Catalogue;
use crate::db::issues::WardLife;
use crate::db::wards::Ward;
use crate::db::{Database, DbError, DbResult};
use crate::domain::IssueStatus;
use crate::stats::{quantile, round1};
use chrono::{Duration, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// Weeks the dashboard looks back.
pub const WEEKS: usize = 12;
/// The name of its summary.
pub const SUMMARY: &str = "neighbourhoods";

/// One ward's figures (or the whole city's, with no ward id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub ward_id: Option<i64>,
    pub name: String,
    /// Problems open now.
    pub open_problems: u64,
    /// Problems fixed in the last twelve weeks.
    pub fixed: u64,
    /// Median days from the first report to the fix, over those; None with none fixed.
    pub median_days_to_fix: Option<f64>,
    /// Share of those fixed within their category's service level for the street.
    pub fixed_within_sla: Option<f64>,
    /// Problems first reported in each of the twelve weeks, oldest first.
    pub reported_by_week: Vec<u64>,
    /// Median days to fix, of the problems fixed in each week (None: none fixed).
    pub median_days_by_week: Vec<Option<f64>>,
    /// Residents' satisfaction with fixes (1–5) and the share of fixes they said did not
    /// hold, over the answers of the twelve weeks: None without answers.
    pub satisfaction: Option<f64>,
    pub reopen_rate: Option<f64>,
}

/// The dashboard as stored and served.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Dashboard {
    /// When, RFC 3339 in UTC.
    pub computed_at: String,
    /// The Monday of each of the twelve weeks, oldest first.
    pub weeks: Vec<NaiveDate>,
    pub city: Figures,
    pub wards: Vec<Figures>,
}

/// Computes the dashboard at `now` from the issues [`crate::db::issues::ward_lives`]
/// reads since the first of the twelve weeks.
pub fn compute(
    lives: &[WardLife],
    answers: &[crate::db::feedback::Answer],
    wards: &[Ward],
    catalogue: &Catalogue,
    now: NaiveDateTime,
) -> Dashboard {
    let first_monday = first_week(now);
    let weeks: Vec<NaiveDate> = (0..WEEKS as i64)
        .map(|w| first_monday + Duration::weeks(w))
        .collect();
    let mut city = Builder::default();
    let mut by_ward: Vec<(Option<i64>, Builder)> = wards
        .iter()
        .map(|w| (Some(w.id), Builder::default()))
        .collect();
    for life in lives {
        let (ward, code, class, status, first, closed) = life;
        let sla_days = catalogue
            .get(code)
            .map(|s| f64::from(s.sla_days_for(class.as_ref().and_then(|c| c.road_class()))));
        let fact = Fact {
            open: *status == IssueStatus::Open || closed.is_none(),
            first_week: week_of(first_monday, first.date()),
            fixed: closed.and_then(|c| {
                let days = (c - *first).num_seconds().max(0) as f64 / 86_400.0;
                Some((week_of(first_monday, c.date())?, days))
            }),
            sla_days,
        };
        city.add(&fact);
        if let Some(entry) = by_ward
            .iter_mut()
            .find(|(id, _)| id.is_some() && id == ward)
        {
            entry.1.add(&fact);
        }
    }
    for (ward, _, _, fixed, satisfaction) in answers {
        city.answers.add(*fixed, *satisfaction);
        if let Some(entry) = by_ward
            .iter_mut()
            .find(|(id, _)| id.is_some() && id == ward)
        {
            entry.1.answers.add(*fixed, *satisfaction);
        }
    }
    Dashboard {
        computed_at: crate::domain::format_datetime(now),
        weeks,
        city: city.figures(None, "The whole city".into()),
        wards: wards
            .iter()
            .zip(by_ward)
            .map(|(w, (_, b))| b.figures(Some(w.id), w.name.clone()))
            .collect(),
    }
}

/// Computes the dashboard from the database at `now` and stores it as the summary.
pub fn refresh(db: &Database, catalogue: &Catalogue, now: NaiveDateTime) -> DbResult<Dashboard> {
    let since = first_week(now).and_time(chrono::NaiveTime::MIN);
    let (lives, answers, wards) = db.read(|conn| {
        Ok::<_, DbError>((
            crate::db::issues::ward_lives(conn, since)?,
            crate::db::feedback::answers_since(conn, since)?,
            crate::db::wards::all(conn)?,
        ))
    })?;
    let dashboard = compute(&lives, &answers, &wards, catalogue, now);
    let body = serde_json::to_string(&dashboard)
        .map_err(|e| DbError::Corrupt(format!("the dashboard does not serialise: {e}")))?;
    db.write(|conn| crate::db::summaries::put(conn, SUMMARY, &body, now))?;
    Ok(dashboard)
}

/// The dashboard as last stored, if it has been computed.
pub fn stored(db: &Database) -> DbResult<Option<Dashboard>> {
    let Some((body, _)) = db.read(|conn| crate::db::summaries::get(conn, SUMMARY))? else {
        return Ok(None);
    };
    serde_json::from_str(&body)
        .map(Some)
        .map_err(|e| DbError::Corrupt(format!("the stored dashboard does not read: {e}")))
}

/// The Monday that starts the first of the twelve weeks ending with this one.
fn first_week(now: NaiveDateTime) -> NaiveDate {
    crate::work_orders::week_start(now.date()) - Duration::weeks(WEEKS as i64 - 1)
}

/// Which of the twelve weeks `day` falls in, if any.
fn week_of(first_monday: NaiveDate, day: NaiveDate) -> Option<usize> {
    let days = (day - first_monday).num_days();
    (days >= 0)
        .then_some((days / 7) as usize)
        .filter(|w| *w < WEEKS)
}

/// What one issue adds.
struct Fact {
    open: bool,
    first_week: Option<usize>,
    /// The week it was fixed in (within the twelve) and the days it took.
    fixed: Option<(usize, f64)>,
    sla_days: Option<f64>,
}

#[derive(Default)]
struct Builder {
    open: u64,
    reported: [u64; WEEKS],
    days: Vec<f64>,
    days_by_week: [Vec<f64>; WEEKS],
    within_sla: u64,
    with_sla: u64,
    answers: crate::stats::Answers,
}

impl Builder {
    fn add(&mut self, fact: &Fact) {
        if fact.open {
            self.open += 1;
        }
        if let Some(w) = fact.first_week {
            self.reported[w] += 1;
        }
        if let Some((w, days)) = fact.fixed {
            self.days.push(days);
            self.days_by_week[w].push(days);
            if let Some(sla) = fact.sla_days {
                self.with_sla += 1;
                if days <= sla {
                    self.within_sla += 1;
                }
            }
        }
    }

    fn figures(mut self, ward_id: Option<i64>, name: String) -> Figures {
        let median = |days: &mut Vec<f64>| {
            days.sort_by(f64::total_cmp);
            quantile(days, 0.5).map(round1)
        };
        Figures {
            ward_id,
            name,
            open_problems: self.open,
            fixed: self.days.len() as u64,
            median_days_to_fix: median(&mut self.days),
            fixed_within_sla: (self.with_sla > 0)
                .then(|| (self.within_sla as f64 / self.with_sla as f64 * 1000.0).round() / 1000.0),
            reported_by_week: self.reported.to_vec(),
            median_days_by_week: self.days_by_week.iter_mut().map(median).collect(),
            satisfaction: self.answers.satisfaction(),
            reopen_rate: self.answers.reopen_rate(),
        }
    }
}

/// The dashboard as CSV: one row per ward and one for the whole city, the same figures
/// as the page's table.
pub fn csv(dashboard: &Dashboard) -> String {
    let mut out = String::from(
        "ward_id,ward,open_problems,fixed_12_weeks,median_days_to_fix,fixed_within_sla,satisfaction,reopen_rate,computed_at\n",
    );
    let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    for f in dashboard.wards.iter().chain([&dashboard.city]) {
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            f.ward_id.map(|id| id.to_string()).unwrap_or_default(),
            quoted(&f.name),
            f.open_problems,
            f.fixed,
            number(f.median_days_to_fix),
            number(f.fixed_within_sla),
            number(f.satisfaction),
            number(f.reopen_rate),
            dashboard.computed_at,
        ));
    }
    out
}

/// A CSV field: quoted, quotes doubled; a leading formula character is defused so a
/// spreadsheet never runs a ward's name.
fn quoted(text: &str) -> String {
    let safe = if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    format!("\"{}\"", safe.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::SegmentClass;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2026, 11, day)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    fn ward(id: i64, name: &str) -> Ward {
        Ward {
            id,
            name: name.into(),
            population: None,
            income_index: None,
            geometry: None,
            vulnerability: 0.0,
        }
    }

    #[test]
    fn a_ward_counts_its_open_problems_fixes_their_days_and_the_share_within_service_level() {
        let catalogue = Catalogue {
            services: crate::catalogue::parse(crate::catalogue::BUILT_IN).unwrap(),
            changed_at: at(1),
        };
        let pothole_sla = catalogue
            .get("pothole")
            .unwrap()
            .sla_days_for(SegmentClass::from_word("arterial").road_class());
        let local = Some(SegmentClass::from_word("arterial"));
        let lives: Vec<WardLife> = vec![
            (
                Some(1),
                "pothole".into(),
                local.clone(),
                IssueStatus::Open,
                at(20),
                None,
            ),
            // Fixed in a day, and in more days than its service level allows.
            (
                Some(1),
                "pothole".into(),
                local.clone(),
                IssueStatus::Closed,
                at(2),
                Some(at(3)),
            ),
            (
                Some(1),
                "pothole".into(),
                local.clone(),
                IssueStatus::Closed,
                at(2),
                Some(at(2) + Duration::days(i64::from(pothole_sla) + 3)),
            ),
            (
                Some(2),
                "graffiti".into(),
                None,
                IssueStatus::Open,
                at(25),
                None,
            ),
            // Off any ward: the city counts it, no ward does.
            (
                None,
                "pothole".into(),
                None,
                IssueStatus::Open,
                at(26),
                None,
            ),
        ];
        // Two answers in the North, one that the fix did not hold.
        let answers = [
            (Some(1), "pothole".to_owned(), None, Some(true), Some(4)),
            (Some(1), "pothole".to_owned(), None, Some(false), Some(1)),
        ];
        let dashboard = compute(
            &lives,
            &answers,
            &[ward(1, "North"), ward(2, "South"), ward(3, "Quiet")],
            &catalogue,
            at(28),
        );
        assert_eq!(dashboard.weeks.len(), WEEKS);
        let north = &dashboard.wards[0];
        assert_eq!((north.open_problems, north.fixed), (1, 2));
        assert_eq!(north.fixed_within_sla, Some(0.5));
        let expected_median = (1.0 + f64::from(pothole_sla) + 3.0) / 2.0;
        assert_eq!(north.median_days_to_fix, Some(expected_median));
        // The twelve weeks start on Monday 7 September: 2 November is week 8, the 20th
        // week 10.
        assert_eq!(
            dashboard.weeks[0],
            NaiveDate::from_ymd_opt(2026, 9, 7).unwrap()
        );
        assert_eq!(north.reported_by_week[8], 2);
        assert_eq!(north.reported_by_week[10], 1);
        assert_eq!(north.reported_by_week.iter().sum::<u64>(), 3);
        // Both fixes fall in the week of the 2nd (its service level is days, not weeks).
        assert!(pothole_sla < 4);
        assert_eq!(north.median_days_by_week[8], Some(expected_median));
        assert_eq!(north.median_days_by_week.iter().flatten().count(), 1);
        assert_eq!(dashboard.wards[1].open_problems, 1);
        assert_eq!(dashboard.wards[2].median_days_to_fix, None, "nothing fixed");
        assert_eq!(dashboard.city.open_problems, 3);
        assert_eq!(north.satisfaction, Some(2.5));
        assert_eq!(north.reopen_rate, Some(0.5));
        assert_eq!(dashboard.wards[1].reopen_rate, None, "no answers");
        assert_eq!(dashboard.city.reopen_rate, Some(0.5));

        let csv = csv(&dashboard);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 3 + 1);
        assert!(lines[1].starts_with("1,\"North\",1,2,"));
    }

    #[test]
    fn a_name_that_looks_like_a_formula_is_defused_in_the_csv() {
        assert_eq!(quoted("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(quoted("Ward 5"), "\"Ward 5\"");
    }
}
