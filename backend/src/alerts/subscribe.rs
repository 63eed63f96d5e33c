//! Area alerts: anyone subscribes an address to new reports and closures around a
//! point, in a ward or for one report. Nothing is sent but the confirmation until the
//! link in it is used (double opt-in); every message carries a one-click unsubscribe
//! link; unconfirmed subscriptions expire after two days.

use super::messages::Payload;
use crate::catalogue::Catalogue;
use crate::config::Settings;
use crate::db::subscriptions::{self as store, Area, NewSubscription};
use crate::db::{Conn, Database, DbError, DbResult, outbox, requests, wards};
use crate::domain::{Coordinates, FieldError};
use chrono::{Duration, NaiveDateTime};

/// How long a subscription waits for its confirmation, in hours.
pub const CONFIRM_HOURS: i64 = 48;
/// The smallest and largest radius of an area, in metres.
pub const RADIUS_M: (f64, f64) = (50.0, 5_000.0);
/// The longest address accepted (RFC 5321's path limit).
const MAX_EMAIL_CHARS: usize = 254;

const DISPOSABLE: &str = include_str!("../../../data/disposable_domains.txt");

/// What someone asked to be told of.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub email: String,
    /// The language its messages are written in.
    pub lang: &'static str,
    pub area: Area,
    /// Only these services; all when empty.
    pub service_codes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SubscribeError {
    #[error("{0}")]
    Invalid(FieldError),
    /// The address has reached a limit; the sentence says which.
    #[error("{0}")]
    TooMany(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn invalid(field: &str, message: impl Into<String>) -> SubscribeError {
    SubscribeError::Invalid(FieldError::new(field, message))
}

/// An address as it is stored: checked, and its domain lower-cased.
pub fn parse_email(raw: &str) -> Result<String, FieldError> {
    let text = raw.trim();
    let refuse = |why: &str| FieldError::new("email", why.to_owned());
    if text.is_empty() {
        return Err(refuse("is required"));
    }
    if text.chars().any(char::is_control) {
        return Err(refuse("contains control characters"));
    }
    if text.chars().count() > MAX_EMAIL_CHARS {
        return Err(refuse("is longer than 254 characters"));
    }
    let parsed = email_address::EmailAddress::parse_with_options(
        text,
        email_address::Options::default()
            .without_display_text()
            .without_domain_literal(),
    )
    .map_err(|e| FieldError::new("email", format!("'{text}' is not an e-mail address: {e}")))?;
    let domain = parsed.domain().trim_end_matches('.').to_ascii_lowercase();
    if !domain.contains('.') {
        return Err(FieldError::new(
            "email",
            format!("'{text}' has no domain that mail can reach"),
        ));
    }
    if is_disposable(&domain) {
        return Err(FieldError::new(
            "email",
            format!("'{domain}' is a throwaway e-mail service; use an address you keep"),
        ));
    }
    Ok(format!("{}@{domain}", parsed.local_part()))
}

fn is_disposable(domain: &str) -> bool {
    DISPOSABLE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .any(|d| domain == d || domain.ends_with(&format!(".{d}")))
}

/// Stores the subscription and its confirmation message, in one transaction.
pub fn subscribe(
    db: &Database,
    settings: &Settings,
    salt: &str,
    catalogue: &Catalogue,
    wanted: &Wanted,
    now: NaiveDateTime,
) -> Result<(), SubscribeError> {
    for code in &wanted.service_codes {
        if catalogue.get(code).is_none() {
            return Err(invalid(
                "service_code",
                format!("'{code}' is not a service; GET /open311/v2/services.json lists them"),
            ));
        }
    }
    match &wanted.area {
        Area::Radius { centre, radius_m } => {
            if !(RADIUS_M.0..=RADIUS_M.1).contains(radius_m) {
                return Err(invalid(
                    "radius_m",
                    format!("must be between {} and {} metres", RADIUS_M.0, RADIUS_M.1),
                ));
            }
            if let Some([west, south, east, north]) = settings.city_bounds
                && !((west..=east).contains(&centre.lon) && (south..=north).contains(&centre.lat))
            {
                return Err(invalid("lat", "the point is outside the city"));
            }
        }
        Area::Ward(id) => {
            if db.read(|conn| wards::name(conn, *id))?.is_none() {
                return Err(invalid("ward_id", format!("there is no ward {id}")));
            }
        }
        Area::Report(id) => {
            if db.read(|conn| requests::find(conn, *id))?.is_none() {
                return Err(invalid(
                    "service_request_id",
                    format!("there is no report {id}"),
                ));
            }
        }
    }
    let email = &wanted.email;
    let (token, token_hash) = super::new_token();
    let outcome = db.write(|conn| -> DbResult<Result<(), String>> {
        if store::live_count_for(conn, email, now)? >= i64::from(settings.alerts_per_address) {
            return Ok(Err(format!(
                "this address already has {} subscriptions; unsubscribe from one first",
                settings.alerts_per_address
            )));
        }
        if outbox::count_for(conn, email, now - Duration::hours(24))?
            >= i64::from(settings.alerts_daily_limit)
        {
            return Ok(Err(format!(
                "this address was sent {} messages in the last 24 hours, the most it is sent; try again tomorrow",
                settings.alerts_daily_limit
            )));
        }
        let area = area_words(conn, &wanted.area, wanted.lang)?;
        let id = store::insert(
            conn,
            &NewSubscription {
                lang: wanted.lang.to_owned(),
                ..NewSubscription::new(
                    email.clone(),
                    &wanted.area,
                    wanted.service_codes.clone(),
                    token_hash.clone(),
                    now,
                    now + Duration::hours(CONFIRM_HOURS),
                )
            },
        )?;
        super::enqueue_email(
            conn,
            email,
            Some(id),
            &Payload::Confirm {
                subscription_id: id,
                token: Some(token.clone()),
                unsubscribe_token: Some(super::unsubscribe_token(salt, id)),
                area,
                lang: wanted.lang.to_owned(),
            },
            now,
        )?;
        Ok(Ok(()))
    })?;
    outcome.map_err(SubscribeError::TooMany)
}

/// An area in words in `lang`, for messages: "within 300 m of 43.04812, -76.14742".
pub fn area_words(conn: &mut Conn<'_>, area: &Area, lang: &str) -> DbResult<String> {
    use super::messages::mail;
    Ok(match area {
        Area::Radius { centre, radius_m } => mail(
            lang,
            "mail.area.radius",
            &[
                ("metres", &format!("{radius_m:.0}")),
                ("lat", &format!("{:.5}", centre.lat)),
                ("lon", &format!("{:.5}", centre.lon)),
            ],
        ),
        Area::Ward(id) => {
            let name = wards::name(conn, *id)?.unwrap_or_else(|| id.to_string());
            mail(lang, "mail.area.ward", &[("ward", &name)])
        }
        Area::Report(id) => mail(lang, "mail.area.report", &[("id", &id.to_string())]),
    })
}

/// What became of a confirmation link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    Confirmed,
    /// Expired, unsubscribed since, or never sent by Upkeep.
    Unusable,
}

pub fn confirm(db: &Database, token: &str, now: NaiveDateTime) -> DbResult<Confirmation> {
    let hash = super::hash_token(token);
    Ok(if db.write(|conn| store::confirm(conn, &hash, now))? {
        Confirmation::Confirmed
    } else {
        Confirmation::Unusable
    })
}

/// Ends subscription `id` if `token` is its unsubscribe secret. Returns whether the
/// link was good (unsubscribing twice is still good).
pub fn unsubscribe(
    db: &Database,
    salt: &str,
    id: i64,
    token: &str,
    now: NaiveDateTime,
) -> DbResult<bool> {
    if !super::verify(
        salt.as_bytes(),
        format!("unsubscribe:{id}").as_bytes(),
        token,
    ) {
        return Ok(false);
    }
    db.write(|conn| store::unsubscribe_by_id(conn, id, now))
}

/// A radius area from the request's words.
pub fn radius(lat: f64, lon: f64, radius_m: f64) -> Result<Area, FieldError> {
    let centre = Coordinates::new(lon, lat, "lon", "lat")?;
    Ok(Area::Radius { centre, radius_m })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_and_their_domain_lower_cased() {
        assert_eq!(
            parse_email(" Ana.Lopez@City.Example ").unwrap(),
            "Ana.Lopez@city.example"
        );
        for bad in [
            "",
            "not-an-address",
            "a@b",
            "two@@at.example",
            "Ana <ana@city.example>",
            "ana@[127.0.0.1]",
            "line\nbreak@city.example",
        ] {
            assert_eq!(parse_email(bad).unwrap_err().field, "email", "{bad:?}");
        }
    }

    #[test]
    fn throwaway_services_and_their_subdomains_are_refused() {
        let error = parse_email("x@mailinator.com").unwrap_err();
        assert!(error.message.contains("throwaway"), "{}", error.message);
        assert!(parse_email("x@eu.yopmail.com").is_err());
        assert!(parse_email("x@notmailinator.com").is_ok());
    }
}
