//! The `outbox` table: messages waiting to be sent, written in the same transaction as
//! what they tell of, so a message is never lost to a crash between the two.

use super::schema::outbox;
use super::{Conn, DbResult};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// A message to store: e-mail to a resident or a batch for a webhook.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = outbox)]
pub struct NewMessage {
    /// `email` or `webhook`.
    pub channel: String,
    /// What the message says (`confirm`, `digest`, `feedback`, `events`): how the
    /// payload is rendered.
    pub kind: String,
    /// An e-mail address or a webhook's id; never shown to anyone.
    pub recipient: String,
    pub subscription_id: Option<i64>,
    /// What is rendered into words (or sent as JSON) at delivery.
    pub payload: String,
    pub created_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
}

/// A stored message.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct MessageRow {
    pub id: i64,
    pub channel: String,
    pub kind: String,
    pub recipient: String,
    pub subscription_id: Option<i64>,
    pub payload: String,
    pub created_at: NaiveDateTime,
    pub next_attempt_at: NaiveDateTime,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub failed_at: Option<NaiveDateTime>,
}

pub fn enqueue(conn: &mut Conn<'_>, message: &NewMessage) -> DbResult<i64> {
    on!(conn, |conn| Ok(diesel::insert_into(outbox::table)
        .values(message)
        .returning(outbox::id)
        .get_result(conn)?))
}

/// Messages stored for `recipient` since `since`, sent or not: the daily limit's count.
pub fn count_for(conn: &mut Conn<'_>, recipient: &str, since: NaiveDateTime) -> DbResult<i64> {
    on!(conn, |conn| Ok(outbox::table
        .filter(outbox::recipient.eq(recipient))
        .filter(outbox::created_at.gt(since))
        .count()
        .get_result(conn)?))
}

/// Claims up to `limit` messages due at `now` for `holder` until `until`, and returns
/// them. A message claimed by someone else whose claim has not run out is left alone,
/// so two servers never send one message.
pub fn claim_due(
    conn: &mut Conn<'_>,
    holder: &str,
    now: NaiveDateTime,
    until: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<MessageRow>> {
    on!(conn, |conn| {
        let free = outbox::claimed_until
            .is_null()
            .or(outbox::claimed_until.lt(now));
        let ids: Vec<i64> = outbox::table
            .filter(outbox::sent_at.is_null())
            .filter(outbox::failed_at.is_null())
            .filter(outbox::next_attempt_at.le(now))
            .filter(free)
            .order(outbox::id)
            .limit(limit)
            .select(outbox::id)
            .load(conn)?;
        // The same condition again: between the read and this write another server may
        // have claimed some of them.
        diesel::update(
            outbox::table
                .filter(outbox::id.eq_any(&ids))
                .filter(outbox::sent_at.is_null())
                .filter(free),
        )
        .set((
            outbox::claimed_by.eq(holder),
            outbox::claimed_until.eq(until),
            outbox::attempts.eq(outbox::attempts + 1),
        ))
        .execute(conn)?;
        Ok(outbox::table
            .filter(outbox::id.eq_any(&ids))
            .filter(outbox::claimed_by.eq(holder))
            .filter(outbox::claimed_until.eq(until))
            .order(outbox::id)
            .select(MessageRow::as_select())
            .load(conn)?)
    })
}

/// Records that message `id` was sent, keeping only `kept_payload` (no tokens).
pub fn mark_sent(
    conn: &mut Conn<'_>,
    id: i64,
    kept_payload: &str,
    at: NaiveDateTime,
) -> DbResult<()> {
    on!(conn, |conn| {
        diesel::update(outbox::table.filter(outbox::id.eq(id)))
            .set((
                outbox::sent_at.eq(at),
                outbox::payload.eq(kept_payload),
                outbox::last_error.eq(None::<String>),
                outbox::claimed_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// Records a failed attempt: tried again at `retry_at`, or given up when None.
pub fn mark_failed(
    conn: &mut Conn<'_>,
    id: i64,
    error: &str,
    retry_at: Option<NaiveDateTime>,
    at: NaiveDateTime,
) -> DbResult<()> {
    on!(conn, |conn| {
        let target = outbox::table.filter(outbox::id.eq(id));
        match retry_at {
            Some(next) => diesel::update(target)
                .set((
                    outbox::last_error.eq(error),
                    outbox::next_attempt_at.eq(next),
                    outbox::claimed_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?,
            None => diesel::update(target)
                .set((
                    outbox::last_error.eq(error),
                    outbox::failed_at.eq(at),
                    outbox::claimed_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?,
        };
        Ok(())
    })
}

/// How many messages are waiting, sent and given up: for `/health`-like views and tests.
pub fn tally(conn: &mut Conn<'_>) -> DbResult<(i64, i64, i64)> {
    on!(conn, |conn| {
        let waiting = outbox::table
            .filter(outbox::sent_at.is_null())
            .filter(outbox::failed_at.is_null())
            .count()
            .get_result(conn)?;
        let sent = outbox::table
            .filter(outbox::sent_at.is_not_null())
            .count()
            .get_result(conn)?;
        let failed = outbox::table
            .filter(outbox::failed_at.is_not_null())
            .count()
            .get_result(conn)?;
        Ok((waiting, sent, failed))
    })
}
