//! Resident intake: turning a submitted report into a stored one.
//!
//! Everything a client sends is checked here before anything is written; every problem
//! is reported at once, each naming its field; and the report, its photo and its first
//! history entry are stored in one transaction, so a failed submission leaves no row.

use crate::auth::{self, Caller};
use crate::catalogue::{AttributeAnswer, Catalogue, Service};
use crate::config::Settings;
use crate::db::requests::NewRequest;
use crate::db::{Database, DbError};
use crate::domain::{Coordinates, FieldError, RequestStatus, ServiceType, now};
use chrono::{Duration, NaiveDateTime};
pub use photo::photo_row;
use std::collections::BTreeMap;
pub use store::{Stored, Submission};
pub use writer::ReportWriter;

mod photo;
mod store;
mod writer;

/// Longest description, in characters (the Open311 limit).
pub const MAX_DESCRIPTION_CHARS: usize = 4000;

/// Why a submission was refused.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    UnknownService(String),
    #[error("invalid report")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("the API key check did not finish")]
    Interrupted,
}

/// A photo as uploaded, before it is checked.
pub struct Upload {
    pub bytes: Vec<u8>,
    /// The resident agreed to keep where the photo was taken (its EXIF): the file is
    /// then stored as sent, once it is known to be a whole image.
    pub keep_location: bool,
}

/// What the client is told after a successful submission.
#[derive(Debug, Clone)]
pub struct Receipt {
    /// Set for realtime services; batch services get it once the request is accepted.
    pub service_request_id: Option<i64>,
    /// Set for batch services.
    pub token: Option<String>,
    pub service_notice: String,
    pub account_id: Option<String>,
    /// Where the report is, once accepted with a position: for the server's index.
    pub located: Option<crate::report_index::Entry>,
    /// The issue the report started or joined.
    pub issue_id: Option<i64>,
}

/// Everything intake needs besides the submission.
pub struct IntakeContext<'a> {
    pub db: &'a Database,
    pub catalogue: &'a Catalogue,
    pub settings: &'a Settings,
    pub writer: &'a ReportWriter,
    pub segments: &'a crate::spatial::SegmentIndex,
    /// A pseudonym of the client's address (see [`Submission::source`]).
    pub source: Option<String>,
}

/// A report as a client sent it, field by field (named as in Open311), before anything
/// is checked. A field sent empty is absent.
#[derive(Debug, Clone, Default)]
pub struct Submitted {
    pub service_code: Option<String>,
    pub api_key: Option<String>,
    pub lat: Option<String>,
    pub long: Option<String>,
    pub address_string: Option<String>,
    pub address_id: Option<String>,
    pub zipcode: Option<String>,
    pub description: Option<String>,
    pub media_url: Option<String>,
    pub email: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
    /// `true` to keep a photo's location (EXIF) as sent; anything else but `false` is
    /// refused.
    pub keep_photo_location: Option<String>,
    /// How an agent took the report: `phone` or `counter` (agent keys only).
    pub channel: Option<String>,
    /// Answers to the service's attributes as (attribute code, value), in the order
    /// sent; a multi-valued attribute appears once per value.
    pub attributes: Vec<(String, String)>,
}

/// Checks and stores one report; returns once it is committed.
pub async fn submit(
    ctx: &IntakeContext<'_>,
    submitted: &Submitted,
    upload: Option<Upload>,
) -> Result<Receipt, IntakeError> {
    let caller = check_api_key(ctx, submitted).await?;
    let code = submitted.service_code.as_deref().ok_or_else(|| {
        IntakeError::Invalid(vec![FieldError::new(
            "service_code",
            "is required: GET services.json lists the codes",
        )])
    })?;
    let service = ctx.catalogue.get(code.trim()).ok_or_else(|| {
        IntakeError::UnknownService(format!(
            "service_code '{code}' is not a service here: GET services.json lists the codes"
        ))
    })?;

    let mut errors = Vec::new();
    let channel = channel_of(caller.as_ref(), submitted.channel.as_deref(), &mut errors);
    let (report, answers) = check_report(submitted, service, ctx.settings, &mut errors);
    let photo = match upload {
        None => None,
        Some(upload) => {
            let keep_location = report.keep_photo_location;
            let checked = tokio::task::spawn_blocking(move || {
                photo::check(Upload {
                    keep_location,
                    ..upload
                })
            })
            .await
            .map_err(|_| IntakeError::Interrupted)?;
            match checked {
                Ok(photo) => Some(photo),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        }
    };
    if !errors.is_empty() {
        return Err(IntakeError::Invalid(errors));
    }

    let at = now();
    let media = photo.map(|photo| photo.into_row(at));
    let media_url = match &media {
        // Stored relative: answers add the configured origin (never a request's headers).
        Some(row) => Some(format!("/media/{}", row.id)),
        None => report.media_url,
    };
    // The nearest road segment sets the service level; off the network the longest applies.
    let snap = report
        .position
        .and_then(|p| ctx.segments.snap(p, ctx.settings.snap_limit_m));
    let sla_days = service.sla_days_for(snap.and_then(|s| s.class));
    let expected_at = at + Duration::days(i64::from(sla_days));
    let batch = service.service_type == ServiceType::Batch;
    let notice = service_notice(service, expected_at, batch);
    let new = NewRequest {
        token: batch.then(|| uuid::Uuid::new_v4().simple().to_string()),
        accepted_at: (!batch).then_some(at),
        service_code: service.code.clone(),
        status: RequestStatus::Open,
        description: report.description,
        agency_responsible: Some(service.agency.clone()),
        service_notice: Some(notice.clone()),
        lat: report.position.map(|p| p.lat),
        lon: report.position.map(|p| p.lon),
        address: report.address,
        address_id: report.address_id,
        zipcode: report.zipcode,
        media_url,
        attributes: crate::db::words::Json(answers),
        email: report.email,
        device_id: report.device_id,
        account_id: report.account_id.clone(),
        first_name: report.first_name,
        last_name: report.last_name,
        phone: report.phone,
        api_key_id: caller.map(|c| c.key_id),
        segment_id: snap.map(|s| s.segment_id),
        issue_id: None,
        snap_distance_m: snap.map(|s| (s.distance_m * 10.0).round() / 10.0),
        requested_at: at,
        updated_at: at,
        expected_at: Some(expected_at),
        cell: report.position.map(crate::grid::cell_of),
        closed_at: None,
        channel: Some(channel.to_owned()),
    };
    let stored = ctx
        .writer
        .store(Submission {
            request: new,
            photo: media,
            first_note: "Report received.",
            // Queued batch requests are not public yet, so they join nothing.
            duplicate_radius_m: (!batch).then_some(service.duplicate_radius_m),
            duplicate_notice,
            source: ctx.source.clone(),
        })
        .await?;
    let (id, stored) = (stored.id, stored.request);
    let located = match (stored.accepted_at, stored.lon, stored.lat) {
        (Some(_), Some(lon), Some(lat)) => Some(crate::report_index::Entry {
            id,
            lon,
            lat,
            requested_at: stored.requested_at,
        }),
        _ => None,
    };
    Ok(Receipt {
        located,
        issue_id: stored.issue_id,
        service_request_id: (!batch).then_some(id),
        token: stored.token,
        service_notice: stored.service_notice.unwrap_or(notice),
        account_id: report.account_id,
    })
}

/// How a report reached the city: an agent says `phone` or `counter` (and must); a
/// client's key means an app, no key the web. Only agents may name a channel.
fn channel_of(
    caller: Option<&Caller>,
    given: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> &'static str {
    let agent = caller.is_some_and(|c| c.role == crate::domain::Role::Agent);
    match (agent, given.map(str::trim)) {
        (true, Some("phone")) => "phone",
        (true, Some("counter")) => "counter",
        (true, other) => {
            errors.push(FieldError::new(
                "channel",
                match other {
                    None => "is required with an agent key: phone or counter".to_owned(),
                    Some(word) => format!("'{word}' is not phone or counter"),
                },
            ));
            "phone"
        }
        (false, Some(_)) => {
            errors.push(FieldError::new(
                "channel",
                "is set only by agent keys, for reports taken by phone or at a counter",
            ));
            "web"
        }
        (false, None) if caller.is_some() => "app",
        (false, None) => "web",
    }
}

/// A submission's fields and answers checked for `service`, every problem added to
/// `errors` (the fuzz tests drive it with generated forms).
pub(crate) fn check_report(
    submitted: &Submitted,
    service: &Service,
    settings: &Settings,
    errors: &mut Vec<FieldError>,
) -> (Fields, BTreeMap<String, AttributeAnswer>) {
    let report = Fields::check(submitted, service, settings, errors);
    let answers = match service.check_answers(&submitted.attributes) {
        Ok(answers) => answers,
        Err(mut problems) => {
            errors.append(&mut problems);
            Default::default()
        }
    };
    (report, answers)
}

async fn check_api_key(
    ctx: &IntakeContext<'_>,
    submitted: &Submitted,
) -> Result<Option<Caller>, IntakeError> {
    match submitted.api_key.as_deref() {
        None if ctx.settings.require_api_key => Err(IntakeError::Forbidden(
            "api_key is required to submit reports here; ask the city for one".into(),
        )),
        None => Ok(None),
        // A key that is sent must be good even where none is needed: a client with a
        // revoked key is told so, and nobody passes off a report under a guessed key.
        Some(secret) => match lookup_key(ctx.db.clone(), secret.to_owned()).await? {
            Some(caller) => Ok(Some(caller)),
            None => Err(IntakeError::Forbidden(if ctx.settings.require_api_key {
                "api_key is not valid (unknown or revoked)".into()
            } else {
                "api_key is not valid (unknown or revoked); send none to report without one".into()
            })),
        },
    }
}

/// Looks a key up off the async workers (it is a database read).
async fn lookup_key(db: Database, secret: String) -> Result<Option<Caller>, IntakeError> {
    tokio::task::spawn_blocking(move || auth::authenticate(&db, &secret))
        .await
        .map_err(|_| IntakeError::Interrupted)?
        .map_err(IntakeError::Db)
}

fn service_notice(service: &Service, expected_at: NaiveDateTime, batch: bool) -> String {
    let by = expected_at.format("%-d %B %Y");
    if batch {
        format!(
            "Thank you. Your report has been passed to the {}; you will get a reference number once they accept it. We aim to deal with it by {by}.",
            service.agency
        )
    } else {
        format!("Thank you for your report. We aim to deal with it by {by}.")
    }
}

/// What a resident reads when the problem was already reported.
fn duplicate_notice(first_report: i64) -> String {
    format!(
        "Thank you. This problem has already been reported (request {first_report}) and is being dealt with; your report has been added to it, and you can follow either."
    )
}

/// The plain fields of a submission, checked.
pub(crate) struct Fields {
    position: Option<Coordinates>,
    address: Option<String>,
    address_id: Option<String>,
    zipcode: Option<String>,
    description: Option<String>,
    media_url: Option<String>,
    email: Option<String>,
    device_id: Option<String>,
    account_id: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
    /// The resident agreed to keep a photo's location.
    keep_photo_location: bool,
}

impl Fields {
    fn check(
        submitted: &Submitted,
        service: &Service,
        settings: &Settings,
        errors: &mut Vec<FieldError>,
    ) -> Fields {
        let mut text = |name: &str, value: &Option<String>, max_chars: usize| -> Option<String> {
            let value = value.as_deref()?;
            if value.chars().count() > max_chars {
                errors.push(FieldError::new(
                    name,
                    format!("is longer than {max_chars} characters"),
                ));
                return None;
            }
            Some(value.to_owned())
        };
        let description = text("description", &submitted.description, MAX_DESCRIPTION_CHARS);
        let address = text("address_string", &submitted.address_string, 500);
        let address_id = text("address_id", &submitted.address_id, 100);
        let zipcode = text("zipcode", &submitted.zipcode, 20);
        let email = text("email", &submitted.email, 254);
        let device_id = text("device_id", &submitted.device_id, 200);
        let account_id = text("account_id", &submitted.account_id, 200);
        let first_name = text("first_name", &submitted.first_name, 100);
        let last_name = text("last_name", &submitted.last_name, 100);
        let phone = text("phone", &submitted.phone, 40);
        let media_url = text("media_url", &submitted.media_url, 2000);

        let (lat, long) = (submitted.lat.as_deref(), submitted.long.as_deref());
        let position = match Coordinates::parse_pair(lat, long, "lat", "long") {
            Ok(position) => position,
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let located = position.is_some() || address.is_some() || address_id.is_some();
        let coordinates_were_sent = lat.is_some() || long.is_some();
        if !located && !coordinates_were_sent {
            errors.push(FieldError::new(
                "lat",
                "a location is required: lat and long, address_string or address_id",
            ));
        }
        if let Some(point) = position {
            if let Some([west, south, east, north]) = settings.city_bounds {
                let inside =
                    (west..=east).contains(&point.lon) && (south..=north).contains(&point.lat);
                if !inside {
                    errors.push(FieldError::new(
                        "lat",
                        format!(
                            "{}, {} is outside the area {} serves",
                            point.lat, point.lon, settings.city_name
                        ),
                    ));
                }
            }
            if !service.is_offered_at(point) {
                errors.push(FieldError::new(
                    "service_code",
                    format!("'{}' is not offered at this location", service.code),
                ));
            }
        }
        if let Some(email) = &email
            && !looks_like_email(email)
        {
            errors.push(FieldError::new(
                "email",
                format!("'{email}' is not an e-mail address"),
            ));
        }
        if let Some(phone) = &phone {
            let ok = phone.chars().any(|c| c.is_ascii_digit())
                && phone
                    .chars()
                    .all(|c| c.is_ascii_digit() || " +-().".contains(c));
            if !ok {
                errors.push(FieldError::new(
                    "phone",
                    "may hold only digits, spaces and + - ( ) .",
                ));
            }
        }
        if let Some(url) = &media_url {
            let ok = url::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            if !ok {
                errors.push(FieldError::new(
                    "media_url",
                    format!("'{url}' is not an http:// or https:// URL"),
                ));
            }
        }
        let keep_photo_location = match submitted.keep_photo_location.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                errors.push(FieldError::new(
                    "keep_photo_location",
                    format!("'{other}' is not true or false"),
                ));
                false
            }
        };
        Fields {
            position,
            address,
            address_id,
            zipcode,
            description,
            media_url,
            email,
            device_id,
            account_id,
            first_name,
            last_name,
            phone,
            keep_photo_location,
        }
    }
}

fn looks_like_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>')
        && !domain.contains('@')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e_mail_addresses_are_checked_for_shape_only() {
        assert!(looks_like_email("jo@example.org"));
        assert!(!looks_like_email("jo@example"));
        assert!(!looks_like_email("jo example@x.org"));
        assert!(!looks_like_email("@x.org"));
    }
}
