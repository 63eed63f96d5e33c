//! The `webhooks` table: city systems that follow report changes.

use super::schema::{request_updates, requests, webhooks};
use super::{Conn, DbResult};
use crate::domain::RequestStatus;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = webhooks)]
pub struct WebhookRow {
    pub id: i64,
    pub url: String,
    /// The HMAC key deliveries are signed with; shown once, when the webhook is made.
    pub secret: String,
    pub created_at: NaiveDateTime,
    pub retired_at: Option<NaiveDateTime>,
    /// The newest report and report update it has been sent.
    pub last_request_id: i64,
    pub last_update_id: i64,
}

/// Adds a webhook that is told of what happens from now on.
pub fn insert(
    conn: &mut Conn<'_>,
    url: &str,
    secret: &str,
    at: NaiveDateTime,
) -> DbResult<WebhookRow> {
    on!(conn, |conn| {
        let last_request_id: Option<i64> = requests::table
            .select(diesel::dsl::max(requests::id))
            .first(conn)?;
        let last_update_id: Option<i64> = request_updates::table
            .select(diesel::dsl::max(request_updates::id))
            .first(conn)?;
        Ok(diesel::insert_into(webhooks::table)
            .values((
                webhooks::url.eq(url),
                webhooks::secret.eq(secret),
                webhooks::created_at.eq(at),
                webhooks::last_request_id.eq(last_request_id.unwrap_or(0)),
                webhooks::last_update_id.eq(last_update_id.unwrap_or(0)),
            ))
            .returning(WebhookRow::as_returning())
            .get_result(conn)?)
    })
}

pub fn find(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<WebhookRow>> {
    on!(conn, |conn| Ok(webhooks::table
        .find(id)
        .select(WebhookRow::as_select())
        .first(conn)
        .optional()?))
}

/// Webhooks not retired, oldest first.
pub fn active(conn: &mut Conn<'_>) -> DbResult<Vec<WebhookRow>> {
    on!(conn, |conn| Ok(webhooks::table
        .filter(webhooks::retired_at.is_null())
        .order(webhooks::id)
        .select(WebhookRow::as_select())
        .load(conn)?))
}

/// Retires webhook `id`. Returns whether there was an active one.
pub fn retire(conn: &mut Conn<'_>, id: i64, at: NaiveDateTime) -> DbResult<bool> {
    on!(conn, |conn| Ok(diesel::update(
        webhooks::table
            .find(id)
            .filter(webhooks::retired_at.is_null())
    )
    .set(webhooks::retired_at.eq(at))
    .execute(conn)?
        == 1))
}

pub fn advance(
    conn: &mut Conn<'_>,
    id: i64,
    last_request_id: i64,
    last_update_id: i64,
) -> DbResult<()> {
    on!(conn, |conn| {
        diesel::update(webhooks::table.find(id))
            .set((
                webhooks::last_request_id.eq(last_request_id),
                webhooks::last_update_id.eq(last_update_id),
            ))
            .execute(conn)?;
        Ok(())
    })
}

/// A report change a webhook is told of; nothing personal.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change {
    /// `report.created` or `report.updated`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The update's id for `report.updated`, the report's for `report.created`.
    pub id: i64,
    pub service_request_id: String,
    pub service_code: String,
    pub status: &'static str,
    pub note: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub at: String,
}

/// Reports accepted after `after_request` and updates after `after_update`, each
/// settled (at or before `settled`), oldest first, at most `limit` of each.
pub fn changes_after(
    conn: &mut Conn<'_>,
    after_request: i64,
    after_update: i64,
    settled: NaiveDateTime,
    limit: i64,
) -> DbResult<(Vec<Change>, i64, i64)> {
    type Made = (
        i64,
        String,
        RequestStatus,
        Option<f64>,
        Option<f64>,
        Option<NaiveDateTime>,
    );
    type Updated = (
        i64,
        i64,
        String,
        RequestStatus,
        Option<String>,
        Option<f64>,
        Option<f64>,
        NaiveDateTime,
    );
    let (made, updated): (Vec<Made>, Vec<Updated>) = on!(conn, |conn| {
        let made = requests::table
            .filter(requests::id.gt(after_request))
            .filter(requests::accepted_at.le(settled))
            .order(requests::id)
            .limit(limit)
            .select((
                requests::id,
                requests::service_code,
                requests::status,
                requests::lat,
                requests::lon,
                requests::accepted_at,
            ))
            .load(conn)?;
        let updated = request_updates::table
            .inner_join(requests::table)
            .filter(request_updates::id.gt(after_update))
            .filter(request_updates::created_at.le(settled))
            .order(request_updates::id)
            .limit(limit)
            .select((
                request_updates::id,
                requests::id,
                requests::service_code,
                request_updates::status,
                request_updates::description,
                requests::lat,
                requests::lon,
                request_updates::created_at,
            ))
            .load(conn)?;
        (made, updated)
    });
    let last_request = made.last().map_or(after_request, |m| m.0);
    let last_update = updated.last().map_or(after_update, |u| u.0);
    let mut changes: Vec<Change> = made
        .into_iter()
        .map(|(id, service_code, status, lat, long, at)| Change {
            kind: "report.created",
            id,
            service_request_id: id.to_string(),
            service_code,
            status: status.as_str(),
            note: None,
            lat,
            long,
            at: at.map(crate::domain::format_datetime).unwrap_or_default(),
        })
        .collect();
    changes.extend(updated.into_iter().map(
        |(id, request_id, service_code, status, note, lat, long, at)| Change {
            kind: "report.updated",
            id,
            service_request_id: request_id.to_string(),
            service_code,
            status: status.as_str(),
            note,
            lat,
            long,
            at: crate::domain::format_datetime(at),
        },
    ));
    changes.sort_by(|a, b| a.at.cmp(&b.at));
    Ok((changes, last_request, last_update))
}
