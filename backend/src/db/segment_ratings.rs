//! The `segment_ratings` table: dated condition ratings per segment, one per segment,
//! source, day and section.

use super::schema::segment_ratings;
use super::{Conn, DbResult};
use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use std::collections::HashMap;

/// What a rating says.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct Grades {
    pub overall: Option<f64>,
    pub cracking: Option<f64>,
    pub patching: Option<f64>,
    pub last_overlay_year: Option<i32>,
    pub pavement_type: Option<String>,
    pub rater: Option<String>,
}

/// A rating to store.
#[derive(Debug, Clone, PartialEq, Insertable)]
#[diesel(table_name = segment_ratings)]
pub struct NewRating {
    pub segment_id: i64,
    pub source: String,
    pub rated_on: NaiveDate,
    pub section: String,
    pub overall: Option<f64>,
    pub cracking: Option<f64>,
    pub patching: Option<f64>,
    pub last_overlay_year: Option<i32>,
    pub pavement_type: Option<String>,
    pub rater: Option<String>,
    pub imported_at: NaiveDateTime,
}

impl NewRating {
    pub fn grades(&self) -> Grades {
        Grades {
            overall: self.overall,
            cracking: self.cracking,
            patching: self.patching,
            last_overlay_year: self.last_overlay_year,
            pavement_type: self.pavement_type.clone(),
            rater: self.rater.clone(),
        }
    }
}

/// A rating's segment, day and section.
pub type RatingKey = (i64, NaiveDate, String);

/// The stored ratings of `source` on these segments: (segment, day, section) → (row id, grades).
pub fn known(
    conn: &mut Conn<'_>,
    source: &str,
    segment_ids: &[i64],
) -> DbResult<HashMap<RatingKey, (i64, Grades)>> {
    let mut found = HashMap::new();
    for chunk in segment_ids.chunks(500) {
        let rows: Vec<(i64, NaiveDate, String, i64, Grades)> =
            on!(conn, |conn| segment_ratings::table
                .filter(segment_ratings::source.eq(source))
                .filter(segment_ratings::segment_id.eq_any(chunk))
                .select((
                    segment_ratings::segment_id,
                    segment_ratings::rated_on,
                    segment_ratings::section,
                    segment_ratings::id,
                    (
                        segment_ratings::overall,
                        segment_ratings::cracking,
                        segment_ratings::patching,
                        segment_ratings::last_overlay_year,
                        segment_ratings::pavement_type,
                        segment_ratings::rater,
                    ),
                ))
                .load(conn)?);
        for (segment, day, section, id, grades) in rows {
            found.insert((segment, day, section), (id, grades));
        }
    }
    Ok(found)
}

pub fn insert(conn: &mut Conn<'_>, ratings: &[NewRating]) -> DbResult<()> {
    for chunk in ratings.chunks(500) {
        on!(conn, |conn| diesel::insert_into(segment_ratings::table)
            .values(chunk)
            .execute(conn)?);
    }
    Ok(())
}

/// Replaces a stored rating's grades with the source's.
pub fn update(conn: &mut Conn<'_>, id: i64, rating: &NewRating) -> DbResult<()> {
    on!(conn, |conn| diesel::update(segment_ratings::table.find(id))
        .set((
            segment_ratings::overall.eq(rating.overall),
            segment_ratings::cracking.eq(rating.cracking),
            segment_ratings::patching.eq(rating.patching),
            segment_ratings::last_overlay_year.eq(rating.last_overlay_year),
            segment_ratings::pavement_type.eq(&rating.pavement_type),
            segment_ratings::rater.eq(&rating.rater),
            segment_ratings::imported_at.eq(rating.imported_at),
        ))
        .execute(conn)?);
    Ok(())
}

/// Every rating, oldest first: (segment, day, grades).
pub fn all(conn: &mut Conn<'_>) -> DbResult<Vec<(i64, NaiveDate, Grades)>> {
    on!(conn, |conn| Ok(segment_ratings::table
        .order((segment_ratings::rated_on, segment_ratings::segment_id))
        .select((
            segment_ratings::segment_id,
            segment_ratings::rated_on,
            (
                segment_ratings::overall,
                segment_ratings::cracking,
                segment_ratings::patching,
                segment_ratings::last_overlay_year,
                segment_ratings::pavement_type,
                segment_ratings::rater,
            ),
        ))
        .load(conn)?))
}

/// The ratings of `source`, as the data-quality report reads them.
pub fn facts(conn: &mut Conn<'_>, source: &str) -> DbResult<Vec<super::import_runs::SourceFact>> {
    use super::schema::segments;
    let rows: Vec<(NaiveDate, i64, Option<i64>)> = on!(conn, |conn| segment_ratings::table
        .inner_join(segments::table)
        .filter(segment_ratings::source.eq(source))
        .select((
            segment_ratings::rated_on,
            segment_ratings::segment_id,
            segments::ward_id,
        ))
        .load(conn)?);
    Ok(super::import_runs::on_segments(
        rows.into_iter()
            .map(|(day, segment, ward)| (day.and_time(chrono::NaiveTime::MIN), segment, ward))
            .collect(),
    ))
}
