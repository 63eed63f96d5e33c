//! The data-quality report of one source: how complete each mapped column was, how
//! many records have no position or lie outside the city, duplicates, how many snapped
//! to a segment, and coverage by month and by ward with gaps flagged. Poor data fed to
//! a model magnifies its problems; this is where a city sees them first.

use super::Summary;
use super::mapping::Kind;
use crate::db::import_runs::SourceFact;
use crate::db::{Database, DbError, import_runs};
use chrono::NaiveDateTime;
use models::coverage::Coverage;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// How far outside the road network a point may lie and still be in the city, degrees
/// (about a kilometre).
const CITY_MARGIN_DEG: f64 = 0.01;

/// How often a mapped column held a value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completeness {
    pub column: String,
    pub filled: u64,
    pub rows: u64,
    /// `filled / rows`.
    pub share: f64,
}

/// Records per ward.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WardCoverage {
    pub ward_id: i64,
    pub ward: String,
    pub count: u64,
    /// No records here while other wards have many.
    pub gap: bool,
}

/// The data-quality report of one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quality {
    pub source: String,
    pub kind: String,
    pub imports: u64,
    pub last_import: NaiveDateTime,
    /// Rows read over every import, and rows refused.
    pub rows_read: u64,
    pub rows_rejected: u64,
    pub columns: Vec<Completeness>,
    /// Records stored now.
    pub records: u64,
    /// Records without a position (reports kept with their address only).
    pub without_position: Option<u64>,
    /// Records placed more than about a kilometre outside the road network (`None` when
    /// there is no road network to judge by).
    pub outside_city: Option<u64>,
    /// Reports that joined an issue reported before them.
    pub duplicates: Option<u64>,
    /// Of the records with a position, the share on a segment (snapped within the limit).
    pub snapped_share: Option<f64>,
    pub by_month: Option<Coverage>,
    pub by_ward: Vec<WardCoverage>,
    /// Everything above worth a planner's attention, in words.
    pub problems: Vec<String>,
}

/// Why there is no report.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error("nothing has been imported from a source named '{0}'")]
    UnknownSource(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// Every source imported, with the kind of its records.
pub fn sources(db: &Database) -> Result<Vec<(String, String)>, DbError> {
    db.read(import_runs::sources)
}

/// The report of `source`.
pub fn report(db: &Database, source: &str) -> Result<Quality, QualityError> {
    let runs = db.read(|conn| import_runs::of_source(conn, source))?;
    let Some((kind, last_import, ..)) = runs.last().cloned() else {
        return Err(QualityError::UnknownSource(source.to_owned()));
    };
    let mut rows_read = 0;
    let mut rows_rejected = 0;
    let mut filled: BTreeMap<String, u64> = BTreeMap::new();
    for (_, _, _, summary) in &runs {
        // A summary that no longer reads (written by another version) counts nothing.
        let Ok(summary) = serde_json::from_str::<Summary>(summary) else {
            continue;
        };
        rows_read += summary.read;
        rows_rejected += summary.rejected;
        for (column, n) in summary.filled {
            *filled.entry(column).or_insert(0) += n;
        }
    }
    let columns = filled
        .into_iter()
        .map(|(column, filled)| Completeness {
            column,
            filled,
            rows: rows_read,
            share: if rows_read == 0 {
                0.0
            } else {
                filled as f64 / rows_read as f64
            },
        })
        .collect();
    let kind_of = Kind::parse(&kind).ok();
    let (facts, extent, wards) = db.read(|conn| {
        use crate::db::{maintenance, request_sources, segment_ratings, sensor_readings, weather};
        let facts = match kind_of {
            Some(Kind::Reports) => request_sources::facts(conn, source)?,
            Some(Kind::Repairs) => maintenance::facts(conn, source)?,
            Some(Kind::Ratings) => segment_ratings::facts(conn, source)?,
            Some(Kind::Sensors) => sensor_readings::facts(conn, source)?,
            Some(Kind::Weather) => weather::days_of(conn, source)?
                .into_iter()
                .map(|day| SourceFact {
                    at: day.and_time(chrono::NaiveTime::MIN),
                    lon: None,
                    lat: None,
                    segment_id: None,
                    ward_id: None,
                    issue_id: None,
                })
                .collect(),
            Some(Kind::SegmentAttributes) | None => Vec::new(),
        };
        let extent = crate::db::segments::extent(conn)?;
        let wards = crate::db::wards::all(conn)?;
        Ok::<_, DbError>((facts, extent, wards))
    })?;
    let located = matches!(kind_of, Some(Kind::Reports));
    let mut quality = Quality {
        source: source.to_owned(),
        kind,
        imports: runs.len() as u64,
        last_import,
        rows_read,
        rows_rejected,
        columns,
        records: facts.len() as u64,
        without_position: None,
        outside_city: None,
        duplicates: None,
        snapped_share: None,
        by_month: models::coverage::monthly(facts.iter().map(|f| f.at.date())),
        by_ward: Vec::new(),
        problems: Vec::new(),
    };
    if located {
        let positioned: Vec<&SourceFact> = facts.iter().filter(|f| f.lat.is_some()).collect();
        quality.without_position = Some((facts.len() - positioned.len()) as u64);
        quality.outside_city = extent.map(|(w, s, e, n)| {
            positioned
                .iter()
                .filter(|f| {
                    let (lon, lat) = (f.lon.unwrap_or(0.0), f.lat.unwrap_or(0.0));
                    lon < w - CITY_MARGIN_DEG
                        || lon > e + CITY_MARGIN_DEG
                        || lat < s - CITY_MARGIN_DEG
                        || lat > n + CITY_MARGIN_DEG
                })
                .count() as u64
        });
        let issues: HashSet<i64> = positioned.iter().filter_map(|f| f.issue_id).collect();
        let in_issues = positioned.iter().filter(|f| f.issue_id.is_some()).count();
        quality.duplicates = Some((in_issues - issues.len()) as u64);
        quality.snapped_share = (!positioned.is_empty()).then(|| {
            positioned.iter().filter(|f| f.segment_id.is_some()).count() as f64
                / positioned.len() as f64
        });
    }
    if !wards.is_empty() && !facts.is_empty() {
        let mut counts: BTreeMap<i64, u64> = BTreeMap::new();
        for ward in facts.iter().filter_map(|f| f.ward_id) {
            *counts.entry(ward).or_insert(0) += 1;
        }
        let placed: u64 = counts.values().sum();
        // A ward without records is a gap only where the others have many.
        let judged = placed >= 10 * wards.len() as u64;
        quality.by_ward = wards
            .iter()
            .map(|w| {
                let count = counts.get(&w.id).copied().unwrap_or(0);
                WardCoverage {
                    ward_id: w.id,
                    ward: w.name.clone(),
                    count,
                    gap: judged && count == 0,
                }
            })
            .collect();
    }
    quality.problems = problems(&quality);
    Ok(quality)
}

/// What a planner should look at, in words.
fn problems(q: &Quality) -> Vec<String> {
    let mut found = Vec::new();
    if q.rows_read > 0 && q.rows_rejected > 0 {
        found.push(format!(
            "{} of {} rows read were refused ({:.1} %); run the import again to see each by line",
            q.rows_rejected,
            q.rows_read,
            100.0 * q.rows_rejected as f64 / q.rows_read as f64
        ));
    }
    for c in q.columns.iter().filter(|c| c.share < 0.5) {
        found.push(format!(
            "column {} is empty in {:.0} % of rows",
            c.column,
            100.0 * (1.0 - c.share)
        ));
    }
    if let Some(n) = q.without_position.filter(|n| *n > 0) {
        found.push(format!("{n} records have no position (address only)"));
    }
    if let Some(n) = q.outside_city.filter(|n| *n > 0) {
        found.push(format!("{n} records lie outside the city"));
    }
    if let Some(share) = q.snapped_share.filter(|s| *s < 0.9) {
        found.push(format!(
            "only {:.0} % of the located records are within the snap limit of a segment",
            100.0 * share
        ));
    }
    if let Some(gaps) = q.by_month.as_ref().and_then(Coverage::describe_gaps) {
        found.push(format!("months with gaps: {gaps}"));
    }
    let empty: Vec<&str> = q
        .by_ward
        .iter()
        .filter(|w| w.gap)
        .map(|w| w.ward.as_str())
        .collect();
    if !empty.is_empty() {
        found.push(format!("wards without records: {}", empty.join(", ")));
    }
    found
}
