//! Digests: what happened in each confirmed subscription's area since it was last told,
//! at most one message an hour, within the address's daily limit.

use super::messages::{Payload, Told};
use crate::catalogue::Catalogue;
use crate::config::Settings;
use crate::db::subscriptions::{self as store, SubscriptionRow};
use crate::db::{Database, DbError, outbox};
use crate::domain::format_datetime;
use chrono::{Duration, NaiveDateTime};

/// The quiet time between two digests to one subscription.
pub const EVERY_MINUTES: i64 = 60;
/// How long an event waits before it is told, in seconds: long enough for any write
/// that started before it to have committed, so none falls behind the watermark.
const SETTLE_SECONDS: i64 = 5;
/// The most events one digest lists of each kind.
const MAX_EVENTS: i64 = 50;

/// What a round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Round {
    pub expired: usize,
    pub digests: usize,
    /// Subscriptions with news held back by their address's daily limit.
    pub held: usize,
}

/// Deletes expired unconfirmed subscriptions and queues the digests due at `now`.
pub fn run(
    db: &Database,
    settings: &Settings,
    salt: &str,
    catalogue: &Catalogue,
    now: NaiveDateTime,
) -> Result<Round, DbError> {
    let mut round = Round {
        expired: db.write(|conn| store::delete_expired(conn, now))?,
        ..Round::default()
    };
    let due =
        db.read(|conn| store::due_for_digest(conn, now - Duration::minutes(EVERY_MINUTES)))?;
    let until = now - Duration::seconds(SETTLE_SECONDS);
    for subscription in due {
        match digest(db, settings, salt, catalogue, &subscription, until, now)? {
            Some(true) => round.digests += 1,
            Some(false) => round.held += 1,
            None => {}
        }
    }
    Ok(round)
}

/// Queues one subscription's digest: Some(true) if queued, Some(false) if held back by
/// the daily limit, None if there was nothing to tell.
fn digest(
    db: &Database,
    settings: &Settings,
    salt: &str,
    catalogue: &Catalogue,
    subscription: &SubscriptionRow,
    until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Option<bool>, DbError> {
    let Some(area) = subscription.area() else {
        return Ok(None);
    };
    let from = subscription
        .told_until
        .or(subscription.confirmed_at)
        .unwrap_or(subscription.created_at);
    if until <= from {
        return Ok(None);
    }
    db.write(|conn| -> crate::db::DbResult<Option<bool>> {
        let events = store::events(
            conn,
            &area,
            &subscription.service_codes.0,
            from,
            until,
            MAX_EVENTS,
        )?;
        if events.is_empty() {
            store::mark_told(conn, subscription.id, until, None)?;
            return Ok(None);
        }
        let sent_today = outbox::count_for(conn, &subscription.email, now - Duration::hours(24))?;
        if sent_today >= i64::from(settings.alerts_daily_limit) {
            // Not told yet: the news waits for the next digest the limit allows.
            return Ok(Some(false));
        }
        let told = events
            .into_iter()
            .map(|e| Told {
                kind: e.kind,
                request_id: e.request_id,
                service: catalogue
                    .get(&e.service_code)
                    .map_or(e.service_code.clone(), |s| s.name.clone()),
                status: e.status.as_str().to_owned(),
                note: e.note,
                address: e.address,
                at: format_datetime(e.at),
            })
            .collect();
        let payload = Payload::Digest {
            subscription_id: subscription.id,
            unsubscribe_token: Some(super::unsubscribe_token(salt, subscription.id)),
            area: super::subscribe::area_words(conn, &area, &subscription.lang)?,
            events: told,
            lang: subscription.lang.clone(),
        };
        super::enqueue_email(
            conn,
            &subscription.email,
            Some(subscription.id),
            &payload,
            now,
        )?;
        store::mark_told(conn, subscription.id, until, Some(now))?;
        Ok(Some(true))
    })
}
