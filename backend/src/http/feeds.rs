//! Atom feeds of an area's reports, for anyone with a feed reader and no wish to give
//! an address: `/feeds/area.atom?lat=&lon=&radius_m=`, `/feeds/wards/{id}.atom` and
//! `/feeds/reports/{id}.atom`; `service_code=a,b` narrows any of them.

use super::api::ApiError;
use super::query::{invalid, not_found};
use super::{State, base_url, blocking, current_catalogue};
use crate::alerts::subscribe;
use crate::db::subscriptions::{self as store, Area, Event};
use crate::db::{requests, wards};
use crate::domain::{FieldError, now};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use atom_syndication::{Content, Entry, Feed, Link, Person, Text};
use chrono::Duration;
use std::collections::HashMap;

/// How far back a feed looks, in days, and how many entries of each kind it holds.
const DAYS: i64 = 30;
const ENTRIES: i64 = 50;

fn services_of(query: &HashMap<String, String>) -> Vec<String> {
    query
        .get("service_code")
        .map(|codes| {
            codes
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn number(query: &HashMap<String, String>, name: &str) -> Result<Option<f64>, FieldError> {
    query
        .get(name)
        .map(|raw| crate::domain::parse_number(raw, name))
        .transpose()
}

/// `GET /feeds/area.atom?lat=&lon=&radius_m=` (radius 500 m unless given).
pub async fn area(
    state: State,
    req: HttpRequest,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let lat = number(&query, "lat").map_err(|e| invalid(vec![e]))?;
    let lon = number(&query, "lon").map_err(|e| invalid(vec![e]))?;
    let radius_m = number(&query, "radius_m")
        .map_err(|e| invalid(vec![e]))?
        .unwrap_or(500.0);
    let (Some(lat), Some(lon)) = (lat, lon) else {
        return Err(invalid(vec![FieldError::new(
            "lat",
            "lat and lon are required",
        )]));
    };
    if !(subscribe::RADIUS_M.0..=subscribe::RADIUS_M.1).contains(&radius_m) {
        return Err(invalid(vec![FieldError::new(
            "radius_m",
            format!(
                "must be between {} and {} metres",
                subscribe::RADIUS_M.0,
                subscribe::RADIUS_M.1
            ),
        )]));
    }
    let area = subscribe::radius(lat, lon, radius_m).map_err(|e| invalid(vec![e]))?;
    feed(state, req, area, services_of(&query)).await
}

/// `GET /feeds/wards/{id}.atom`.
pub async fn ward(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let raw = id.into_inner();
    let id: i64 = raw.parse().map_err(|_| not_found("ward", &raw))?;
    let worker = state.clone();
    let known = blocking(move || worker.db.read(|conn| wards::name(conn, id))).await?;
    if known.is_none() {
        return Err(not_found("ward", &raw));
    }
    feed(state, req, Area::Ward(id), services_of(&query)).await
}

/// `GET /feeds/reports/{id}.atom`: every change to one report.
pub async fn report(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let raw = id.into_inner();
    let id: i64 = raw
        .parse()
        .map_err(|_| not_found("service request", &raw))?;
    let worker = state.clone();
    if blocking(move || worker.db.read(|conn| requests::find(conn, id)))
        .await?
        .is_none()
    {
        return Err(not_found("service request", &raw));
    }
    feed(state, req, Area::Report(id), Vec::new()).await
}

async fn feed(
    state: State,
    req: HttpRequest,
    area: Area,
    services: Vec<String>,
) -> Result<HttpResponse, ApiError> {
    let catalogue = current_catalogue(&state).await?;
    for code in &services {
        if catalogue.get(code).is_none() {
            return Err(invalid(vec![FieldError::new(
                "service_code",
                format!("'{code}' is not a service"),
            )]));
        }
    }
    let base = base_url(&req, &state.settings);
    let self_url = format!("{base}{}", req.uri());
    let worker = state.clone();
    let at = now();
    let wanted = area.clone();
    let (events, words) = blocking(move || {
        worker.db.read(|conn| {
            let events = store::events(
                conn,
                &wanted,
                &services,
                at - Duration::days(DAYS),
                at,
                ENTRIES,
            )?;
            Ok::<_, crate::db::DbError>((
                events,
                subscribe::area_words(conn, &wanted, crate::i18n::LANGUAGES[0])?,
            ))
        })
    })
    .await?;
    let city = &state.settings.city_name;
    let name = |code: &str| {
        catalogue
            .get(code)
            .map_or_else(|| code.to_owned(), |s| s.name.clone())
    };
    let entries: Vec<Entry> = events
        .iter()
        .map(|e| entry(e, &base, &name(&e.service_code)))
        .collect();
    let updated = events.first().map_or(at, |e| e.at).and_utc().fixed_offset();
    let mut feed = Feed::default();
    feed.set_title(Text::plain(format!("{city}: problems reported {words}")));
    feed.set_id(self_url.clone());
    feed.set_updated(updated);
    feed.set_authors(vec![Person {
        name: city.clone(),
        ..Person::default()
    }]);
    feed.set_links(vec![
        link(&self_url, "self", Some("application/atom+xml")),
        link(&format!("{base}/"), "alternate", Some("text/html")),
    ]);
    feed.set_entries(entries);
    Ok(HttpResponse::build(StatusCode::OK)
        .content_type("application/atom+xml; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=60"))
        .body(feed.to_string()))
}

fn link(href: &str, rel: &str, mime: Option<&str>) -> Link {
    let mut link = Link::default();
    link.set_href(href);
    link.set_rel(rel);
    link.set_mime_type(mime.map(str::to_owned));
    link
}

fn entry(event: &Event, base: &str, service: &str) -> Entry {
    let verb = match event.kind.as_str() {
        "new" => "Reported",
        "closed" => "Closed",
        _ => "Updated",
    };
    let place = event
        .address
        .as_deref()
        .map(|a| format!(" at {a}"))
        .unwrap_or_default();
    let page = format!("{base}/report/{}", event.request_id);
    let mut entry = Entry::default();
    entry.set_title(Text::plain(format!("{verb}: {service}{place}")));
    // Stable per event, so a reader shows each once.
    entry.set_id(format!(
        "{page}#{}-{}",
        event.kind,
        event.at.and_utc().timestamp_micros()
    ));
    entry.set_updated(event.at.and_utc().fixed_offset());
    entry.set_links(vec![link(&page, "alternate", Some("text/html"))]);
    let mut summary = format!(
        "{verb}: {service}{place}. Status: {}.",
        event.status.as_str().replace('_', " ")
    );
    if let Some(note) = event.note.as_deref().filter(|n| !n.is_empty()) {
        summary.push(' ');
        summary.push_str(note);
    }
    entry.set_summary(Some(Text::plain(summary.clone())));
    let mut content = Content::default();
    content.set_content_type(Some("text".to_owned()));
    content.set_value(Some(summary));
    entry.set_content(Some(content));
    entry
}
