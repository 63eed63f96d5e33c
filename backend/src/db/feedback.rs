//! The `feedback` table: "is it fixed?" questions sent when a report closes, and the
//! residents' answers.

use super::schema::{feedback, requests, segments};
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = feedback)]
pub struct NewFeedback {
    pub request_id: i64,
    pub issue_id: Option<i64>,
    pub work_order_id: Option<i64>,
    pub crew_id: Option<i64>,
    pub ward_id: Option<i64>,
    pub service_code: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = feedback)]
pub struct FeedbackRow {
    pub id: i64,
    pub request_id: i64,
    pub issue_id: Option<i64>,
    pub work_order_id: Option<i64>,
    pub crew_id: Option<i64>,
    pub ward_id: Option<i64>,
    pub service_code: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub answered_at: Option<NaiveDateTime>,
    pub fixed: Option<bool>,
    pub reason: Option<String>,
    pub satisfaction: Option<i32>,
}

/// A closed report that can be asked: who to ask and where it was.
#[derive(Debug, Clone)]
pub struct Closed {
    pub request_id: i64,
    pub email: String,
    pub service_code: String,
    pub issue_id: Option<i64>,
    pub ward_id: Option<i64>,
    pub status_notes: Option<String>,
    pub address: Option<String>,
}

/// The reports among `ids` that left an address: the ones a question can reach.
pub fn closed_with_address(conn: &mut Conn<'_>, ids: &[i64]) -> DbResult<Vec<Closed>> {
    type Row = (
        i64,
        Option<String>,
        String,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = on!(conn, |conn| requests::table
        .left_join(segments::table)
        .filter(requests::id.eq_any(ids))
        .filter(requests::email.is_not_null())
        .select((
            requests::id,
            requests::email,
            requests::service_code,
            requests::issue_id,
            segments::ward_id.nullable(),
            requests::status_notes,
            requests::address,
        ))
        .load(conn)?);
    Ok(rows
        .into_iter()
        .filter_map(
            |(request_id, email, service_code, issue_id, ward, status_notes, address)| {
                Some(Closed {
                    request_id,
                    email: email.filter(|e| !e.trim().is_empty())?,
                    service_code,
                    issue_id,
                    ward_id: ward,
                    status_notes,
                    address,
                })
            },
        )
        .collect())
}

pub fn insert(conn: &mut Conn<'_>, row: &NewFeedback) -> DbResult<i64> {
    on!(conn, |conn| Ok(diesel::insert_into(feedback::table)
        .values(row)
        .returning(feedback::id)
        .get_result(conn)?))
}

pub fn find_by_token(conn: &mut Conn<'_>, token_hash: &str) -> DbResult<Option<FeedbackRow>> {
    on!(conn, |conn| Ok(feedback::table
        .filter(feedback::token_hash.eq(token_hash))
        .select(FeedbackRow::as_select())
        .first(conn)
        .optional()?))
}

/// Records the answer to question `id` if it is still unanswered and unexpired at
/// `at`: the single use of its token. Returns whether this call recorded it.
pub fn answer(
    conn: &mut Conn<'_>,
    id: i64,
    fixed: bool,
    reason: Option<&str>,
    satisfaction: Option<i32>,
    at: NaiveDateTime,
) -> DbResult<bool> {
    on!(conn, |conn| Ok(diesel::update(
        feedback::table
            .filter(feedback::id.eq(id))
            .filter(feedback::answered_at.is_null())
            .filter(feedback::expires_at.gt(at)),
    )
    .set((
        feedback::answered_at.eq(at),
        feedback::fixed.eq(fixed),
        feedback::reason.eq(reason),
        feedback::satisfaction.eq(satisfaction),
    ))
    .execute(conn)?
        == 1))
}

/// Whether report `request_id` has a question out, unanswered and unexpired at `at`.
pub fn pending_for(conn: &mut Conn<'_>, request_id: i64, at: NaiveDateTime) -> DbResult<bool> {
    on!(conn, |conn| Ok(feedback::table
        .filter(feedback::request_id.eq(request_id))
        .filter(feedback::answered_at.is_null())
        .filter(feedback::expires_at.gt(at))
        .count()
        .get_result::<i64>(conn)?
        > 0))
}

/// Takes back an answer whose consequences could not be made, so the link works again.
pub fn forget_answer(conn: &mut Conn<'_>, id: i64) -> DbResult<()> {
    on!(conn, |conn| {
        diesel::update(feedback::table.find(id))
            .set((
                feedback::answered_at.eq(None::<NaiveDateTime>),
                feedback::fixed.eq(None::<bool>),
                feedback::reason.eq(None::<String>),
                feedback::satisfaction.eq(None::<i32>),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Answers given since `since`: (ward, service, crew, fixed, satisfaction).
pub type Answer = (Option<i64>, String, Option<i64>, Option<bool>, Option<i32>);

pub fn answers_since(conn: &mut Conn<'_>, since: NaiveDateTime) -> DbResult<Vec<Answer>> {
    on!(conn, |conn| Ok(feedback::table
        .filter(feedback::answered_at.gt(since))
        .select((
            feedback::ward_id,
            feedback::service_code,
            feedback::crew_id,
            feedback::fixed,
            feedback::satisfaction,
        ))
        .load(conn)?))
}

/// Residents' "not fixed" answers about road-surface defects (services `codes`): where
/// (segment, longitude, latitude) and when. The risk model reads each as one more report
/// that the defect is there.
pub type NotFixed = (Option<i64>, Option<f64>, Option<f64>, NaiveDateTime);

pub fn not_fixed(conn: &mut Conn<'_>, codes: &[String]) -> DbResult<Vec<NotFixed>> {
    type Row = (Option<i64>, Option<f64>, Option<f64>, Option<NaiveDateTime>);
    let rows: Vec<Row> = on!(conn, |conn| feedback::table
        .inner_join(requests::table)
        .filter(feedback::fixed.eq(false))
        .filter(feedback::service_code.eq_any(codes))
        .select((
            requests::segment_id,
            requests::lon,
            requests::lat,
            feedback::answered_at,
        ))
        .load(conn)?);
    Ok(rows
        .into_iter()
        .filter_map(|(segment, lon, lat, at)| Some((segment, lon, lat, at?)))
        .collect())
}
