//! The `subscriptions` table, and the events an area's subscribers and feeds are told
//! of: new reports, and reports closed (or, for one report, any change to it).

use super::schema::{request_updates, requests, segments, subscriptions};
use super::words::Json;
use super::{Conn, DbResult};
use crate::domain::{Coordinates, RequestStatus};
use chrono::NaiveDateTime;
use diesel::prelude::*;

/// Where a subscription or feed looks.
#[derive(Debug, Clone, PartialEq)]
pub enum Area {
    /// Within `radius_m` metres of a point.
    Radius {
        centre: Coordinates,
        radius_m: f64,
    },
    Ward(i64),
    /// One report, every change to it.
    Report(i64),
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = subscriptions)]
pub struct NewSubscription {
    pub email: String,
    pub area: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub radius_m: Option<f64>,
    pub ward_id: Option<i64>,
    pub request_id: Option<i64>,
    pub service_codes: Json<Vec<String>>,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    /// The language its messages are written in.
    pub lang: String,
}

impl NewSubscription {
    pub fn new(
        email: String,
        area: &Area,
        service_codes: Vec<String>,
        token_hash: String,
        at: NaiveDateTime,
        expires_at: NaiveDateTime,
    ) -> NewSubscription {
        let mut row = NewSubscription {
            email,
            area: String::new(),
            lat: None,
            lon: None,
            radius_m: None,
            ward_id: None,
            request_id: None,
            service_codes: Json(service_codes),
            token_hash,
            created_at: at,
            expires_at: Some(expires_at),
            lang: crate::i18n::LANGUAGES[0].to_owned(),
        };
        match area {
            Area::Radius { centre, radius_m } => {
                row.area = "radius".into();
                row.lat = Some(centre.lat);
                row.lon = Some(centre.lon);
                row.radius_m = Some(*radius_m);
            }
            Area::Ward(id) => {
                row.area = "ward".into();
                row.ward_id = Some(*id);
            }
            Area::Report(id) => {
                row.area = "report".into();
                row.request_id = Some(*id);
            }
        }
        row
    }
}

/// A stored subscription (its address included: never serialise this).
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = subscriptions)]
pub struct SubscriptionRow {
    pub id: i64,
    pub email: String,
    pub area: String,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub radius_m: Option<f64>,
    pub ward_id: Option<i64>,
    pub request_id: Option<i64>,
    pub service_codes: Json<Vec<String>>,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: Option<NaiveDateTime>,
    pub confirmed_at: Option<NaiveDateTime>,
    pub unsubscribed_at: Option<NaiveDateTime>,
    pub told_until: Option<NaiveDateTime>,
    pub last_sent_at: Option<NaiveDateTime>,
    pub lang: String,
}

impl SubscriptionRow {
    /// The area, as stored; None for a row no version of Upkeep writes.
    pub fn area(&self) -> Option<Area> {
        match self.area.as_str() {
            "radius" => Some(Area::Radius {
                centre: Coordinates {
                    lon: self.lon?,
                    lat: self.lat?,
                },
                radius_m: self.radius_m?,
            }),
            "ward" => Some(Area::Ward(self.ward_id?)),
            "report" => Some(Area::Report(self.request_id?)),
            _ => None,
        }
    }
}

pub fn insert(conn: &mut Conn<'_>, row: &NewSubscription) -> DbResult<i64> {
    on!(conn, |conn| Ok(diesel::insert_into(subscriptions::table)
        .values(row)
        .returning(subscriptions::id)
        .get_result(conn)?))
}

pub fn find_by_token(conn: &mut Conn<'_>, token_hash: &str) -> DbResult<Option<SubscriptionRow>> {
    on!(conn, |conn| Ok(subscriptions::table
        .filter(subscriptions::token_hash.eq(token_hash))
        .select(SubscriptionRow::as_select())
        .first(conn)
        .optional()?))
}

/// Subscriptions of `email` still pending or confirmed at `now`.
pub fn live_count_for(conn: &mut Conn<'_>, email: &str, now: NaiveDateTime) -> DbResult<i64> {
    on!(conn, |conn| Ok(subscriptions::table
        .filter(subscriptions::email.eq(email))
        .filter(subscriptions::unsubscribed_at.is_null())
        .filter(
            subscriptions::confirmed_at
                .is_not_null()
                .or(subscriptions::expires_at.gt(now)),
        )
        .count()
        .get_result(conn)?))
}

/// Confirms the pending subscription with this token unless it has expired. Told of
/// what happens from `at` on. Returns whether it is (now or already) confirmed.
pub fn confirm(conn: &mut Conn<'_>, token_hash: &str, at: NaiveDateTime) -> DbResult<bool> {
    on!(conn, |conn| {
        diesel::update(
            subscriptions::table
                .filter(subscriptions::token_hash.eq(token_hash))
                .filter(subscriptions::confirmed_at.is_null())
                .filter(subscriptions::unsubscribed_at.is_null())
                .filter(subscriptions::expires_at.gt(at)),
        )
        .set((
            subscriptions::confirmed_at.eq(at),
            subscriptions::expires_at.eq(None::<NaiveDateTime>),
            subscriptions::told_until.eq(at),
        ))
        .execute(conn)?;
        Ok(subscriptions::table
            .filter(subscriptions::token_hash.eq(token_hash))
            .filter(subscriptions::confirmed_at.is_not_null())
            .filter(subscriptions::unsubscribed_at.is_null())
            .count()
            .get_result::<i64>(conn)?
            == 1)
    })
}

/// Ends subscription `id`. Returns whether there is one.
pub fn unsubscribe_by_id(conn: &mut Conn<'_>, id: i64, at: NaiveDateTime) -> DbResult<bool> {
    on!(conn, |conn| {
        diesel::update(
            subscriptions::table
                .find(id)
                .filter(subscriptions::unsubscribed_at.is_null()),
        )
        .set(subscriptions::unsubscribed_at.eq(at))
        .execute(conn)?;
        Ok(subscriptions::table
            .find(id)
            .count()
            .get_result::<i64>(conn)?
            == 1)
    })
}

/// Deletes subscriptions never confirmed before they expired. Returns how many.
pub fn delete_expired(conn: &mut Conn<'_>, now: NaiveDateTime) -> DbResult<usize> {
    on!(conn, |conn| Ok(diesel::delete(
        subscriptions::table
            .filter(subscriptions::confirmed_at.is_null())
            .filter(subscriptions::expires_at.le(now)),
    )
    .execute(conn)?))
}

/// Confirmed subscriptions that may be sent a digest: none sent since `quiet_since`.
pub fn due_for_digest(
    conn: &mut Conn<'_>,
    quiet_since: NaiveDateTime,
) -> DbResult<Vec<SubscriptionRow>> {
    on!(conn, |conn| Ok(subscriptions::table
        .filter(subscriptions::confirmed_at.is_not_null())
        .filter(subscriptions::unsubscribed_at.is_null())
        .filter(
            subscriptions::last_sent_at
                .is_null()
                .or(subscriptions::last_sent_at.le(quiet_since)),
        )
        .order(subscriptions::id)
        .select(SubscriptionRow::as_select())
        .load(conn)?))
}

/// Records that subscription `id` has been told of everything up to `until`, and
/// when a digest was last sent.
pub fn mark_told(
    conn: &mut Conn<'_>,
    id: i64,
    until: NaiveDateTime,
    sent_at: Option<NaiveDateTime>,
) -> DbResult<()> {
    on!(conn, |conn| {
        match sent_at {
            Some(sent) => diesel::update(subscriptions::table.find(id))
                .set((
                    subscriptions::told_until.eq(until),
                    subscriptions::last_sent_at.eq(sent),
                ))
                .execute(conn)?,
            None => diesel::update(subscriptions::table.find(id))
                .set(subscriptions::told_until.eq(until))
                .execute(conn)?,
        };
        Ok(())
    })
}

/// Something that happened to a report, as subscribers and feeds are told.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// `new` (a report was made), `closed`, or `changed` (for one report's followers).
    pub kind: String,
    pub request_id: i64,
    pub service_code: String,
    pub status: RequestStatus,
    /// The note written to residents with a change.
    pub note: Option<String>,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    pub at: NaiveDateTime,
}

type Located = (
    i64,
    String,
    RequestStatus,
    Option<String>,
    Option<f64>,
    Option<f64>,
);

/// What happened in `area` after `from` up to `to` (inclusive), newest first, at most
/// `limit` of each kind; only the given services when `services` is not empty.
pub fn events(
    conn: &mut Conn<'_>,
    area: &Area,
    services: &[String],
    from: NaiveDateTime,
    to: NaiveDateTime,
    limit: i64,
) -> DbResult<Vec<Event>> {
    // A bounding box narrows a circle in SQL; the exact distance is checked below.
    let bbox = match area {
        Area::Radius { centre, radius_m } => Some(
            crate::domain::Circle {
                centre: *centre,
                radius_m: *radius_m,
            }
            .bounding_box(),
        ),
        _ => None,
    };
    let ward = match area {
        Area::Ward(id) => Some(*id),
        _ => None,
    };
    let report = match area {
        Area::Report(id) => Some(*id),
        _ => None,
    };
    let closed = [
        RequestStatus::Fixed,
        RequestStatus::NothingFound,
        RequestStatus::Closed,
    ];
    let (made, changed) = on!(conn, |conn| {
        let located = (
            requests::id,
            requests::service_code,
            requests::status,
            requests::address,
            requests::lat,
            requests::lon,
        );
        let mut made = requests::table
            .left_join(segments::table)
            .filter(requests::accepted_at.gt(from))
            .filter(requests::accepted_at.le(to))
            .into_boxed();
        let mut changed = request_updates::table
            .inner_join(requests::table.left_join(segments::table))
            .filter(request_updates::created_at.gt(from))
            .filter(request_updates::created_at.le(to))
            .into_boxed();
        if let Some(b) = bbox {
            let (s, n) = (b.south_west.lat, b.north_east.lat);
            let (w, e) = (b.south_west.lon, b.north_east.lon);
            made = made
                .filter(requests::lat.between(s, n))
                .filter(requests::lon.between(w, e));
            changed = changed
                .filter(requests::lat.between(s, n))
                .filter(requests::lon.between(w, e));
        }
        if let Some(w) = ward {
            made = made.filter(segments::ward_id.eq(w));
            changed = changed.filter(segments::ward_id.eq(w));
        }
        if let Some(r) = report {
            made = made.filter(requests::id.eq(r));
            changed = changed.filter(requests::id.eq(r));
        } else {
            changed = changed.filter(request_updates::status.eq_any(closed));
        }
        if !services.is_empty() {
            made = made.filter(requests::service_code.eq_any(services));
            changed = changed.filter(requests::service_code.eq_any(services));
        }
        let made: Vec<(Located, Option<NaiveDateTime>)> = made
            .order((requests::accepted_at.desc(), requests::id.desc()))
            .limit(limit)
            .select((located, requests::accepted_at))
            .load(conn)?;
        type Changed = (
            Located,
            RequestStatus,
            Option<String>,
            NaiveDateTime,
            NaiveDateTime,
            Option<NaiveDateTime>,
        );
        let changed: Vec<Changed> = changed
            .order((
                request_updates::created_at.desc(),
                request_updates::id.desc(),
            ))
            .limit(limit)
            .select((
                located,
                request_updates::status,
                request_updates::description,
                request_updates::created_at,
                requests::requested_at,
                requests::accepted_at,
            ))
            .load(conn)?;
        (made, changed)
    });
    let event = |kind: &str, located: Located, status, note, at| {
        let (request_id, service_code, _, address, lat, lon) = located;
        Event {
            kind: kind.to_owned(),
            request_id,
            service_code,
            status,
            note,
            address,
            lat,
            lon,
            at,
        }
    };
    let mut out: Vec<Event> = made
        .into_iter()
        .map(|(located, at)| {
            let status = located.2;
            event("new", located, status, None, at.unwrap_or(from))
        })
        // A report's first line of history, written as it is made or accepted, is told
        // as "new" already.
        .chain(
            changed
                .into_iter()
                .filter(|(.., at, requested, accepted)| at != requested && Some(*at) != *accepted)
                .map(|(located, status, note, at, ..)| {
                    let kind = if report.is_some() && status.is_open() {
                        "changed"
                    } else {
                        "closed"
                    };
                    event(kind, located, status, note, at)
                }),
        )
        .filter(|e| match area {
            Area::Radius { centre, radius_m } => match (e.lon, e.lat) {
                (Some(lon), Some(lat)) => centre.distance_m(Coordinates { lon, lat }) <= *radius_m,
                _ => false,
            },
            _ => true,
        })
        .collect();
    out.sort_by(|a, b| b.at.cmp(&a.at).then(b.request_id.cmp(&a.request_id)));
    Ok(out)
}
