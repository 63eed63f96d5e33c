//! `/api/v1/stats`: planner statistics by ward and category (counts open and closed,
//! median and 90th-percentile days to close, overdue orders), as JSON, or as GeoJSON
//! ward features with the figures in their properties.

use super::api::{ApiError, require_role};
use super::query::{feature, feature_collection, invalid, only_parameters, wants_geojson};
use super::wards::right_hand;
use super::{State, blocking};
use crate::domain::{FieldError, Role, format_datetime, now, parse_datetime};
use crate::stats::{GroupBy, summaries, tally};
use actix_web::{HttpRequest, HttpResponse};
use chrono::Duration;
use serde_json::{Map, Value, json};

const PARAMETERS: [&str; 4] = ["group_by", "reported_after", "reported_before", "format"];
/// The window when none is given: the last year, days.
const DEFAULT_DAYS: i64 = 365;

/// `GET /api/v1/stats[?group_by=ward|service_code|ward,service_code][&reported_after=]
/// [&reported_before=][&format=geojson]`: issues first reported in the window (the last
/// year by default); overdue orders as of now.
pub async fn show(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let params = only_parameters(&req, &PARAMETERS)?;
    let geojson = wants_geojson(&req)?;
    let group = match params.get("group_by").unwrap_or("ward,service_code") {
        "ward" => GroupBy::Ward,
        "service_code" => GroupBy::Category,
        "ward,service_code" | "service_code,ward" => GroupBy::WardAndCategory,
        other => {
            return Err(invalid(vec![FieldError::new(
                "group_by",
                format!("'{other}' is not ward, service_code or ward,service_code"),
            )]));
        }
    };
    if geojson && group == GroupBy::Category {
        return Err(invalid(vec![FieldError::new(
            "group_by",
            "GeoJSON maps wards: group by ward or ward,service_code",
        )]));
    }
    let time = |name: &str| {
        params
            .get(name)
            .map(|raw| parse_datetime(raw, name))
            .transpose()
            .map_err(|e| invalid(vec![e]))
    };
    let at = now();
    let (after, before) = (time("reported_after")?, time("reported_before")?);
    let to = before.unwrap_or(at);
    let from = after.unwrap_or(to - Duration::days(DEFAULT_DAYS));
    if from > to {
        return Err(invalid(vec![FieldError::new(
            "reported_after",
            "is after reported_before",
        )]));
    }
    // The default window is read from the summary computed in the background.
    let default_window = after.is_none() && before.is_none();
    let worker = state.clone();
    let (tallies, wards, (from, to, computed_at)) = blocking(move || {
        let wards = worker.db.read(crate::db::wards::all)?;
        if default_window
            && let Some((stored, computed_at)) = summaries::stored_tallies(&worker.db, at)?
        {
            let window = (stored.from, stored.to, computed_at);
            return Ok::<_, crate::db::DbError>((stored.grouped(group), wards, window));
        }
        let (lives, overdue) = worker.db.read(|conn| {
            Ok::<_, crate::db::DbError>((
                crate::db::issues::lives(conn, from, to)?,
                crate::db::work_orders::overdue(conn, at)?,
            ))
        })?;
        Ok((tally(&lives, &overdue, group), wards, (from, to, at)))
    })
    .await?;
    let ward_name = |id: Option<i64>| {
        id.and_then(|id| wards.iter().find(|w| w.id == id))
            .map(|w| w.name.clone())
    };
    let window = json!({
        "reported_after": format_datetime(from),
        "reported_before": format_datetime(to),
    });
    if !geojson {
        let items: Vec<Value> = tallies
            .iter()
            .map(|((ward, code), t)| {
                let mut item = serde_json::to_value(t).unwrap_or_default();
                if group != GroupBy::Category {
                    item["ward_id"] = json!(ward);
                    item["ward_name"] = json!(ward_name(*ward));
                }
                if let Some(code) = code {
                    item["service_code"] = json!(code);
                }
                item
            })
            .collect();
        return Ok(HttpResponse::Ok().json(json!({
            "window": window,
            "computed_at": format_datetime(computed_at),
            "items": items,
        })));
    }
    // One feature per ward, its figures (and per category, when asked) inside.
    let features: Vec<Value> = wards
        .iter()
        .map(|ward| {
            let mut properties = Map::new();
            properties.insert("id".into(), json!(ward.id));
            properties.insert("name".into(), json!(ward.name));
            let mine = tallies.iter().filter(|((w, _), _)| *w == Some(ward.id));
            if group == GroupBy::Ward {
                let t = mine.map(|(_, t)| t.clone()).next().unwrap_or_default();
                if let Value::Object(figures) = serde_json::to_value(t).unwrap_or_default() {
                    properties.extend(figures);
                }
            } else {
                let by_service: Map<String, Value> = mine
                    .map(|((_, code), t)| {
                        (
                            code.clone().unwrap_or_default(),
                            serde_json::to_value(t).unwrap_or_default(),
                        )
                    })
                    .collect();
                properties.insert("by_service".into(), Value::Object(by_service));
            }
            let geometry = ward.geometry.as_deref().map_or(Value::Null, right_hand);
            feature(ward.id, properties, geometry)
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("application/geo+json")
        .body(feature_collection(features).to_string()))
}

/// Most weeks a weekly series covers (three years).
const MAX_WEEKS: usize = 156;

/// `GET /api/v1/stats/weekly[?weeks=26]`: reports per week and service for the last
/// `weeks` weeks, this one included; weeks start on Monday.
pub async fn weekly(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let params = only_parameters(&req, &["weeks"])?;
    let weeks: usize = match params.get("weeks") {
        None => 26,
        Some(raw) => raw
            .trim()
            .parse()
            .ok()
            .filter(|w| (1..=MAX_WEEKS).contains(w))
            .ok_or_else(|| {
                invalid(vec![FieldError::new(
                    "weeks",
                    format!("'{raw}' is not a whole number of weeks from 1 to {MAX_WEEKS}"),
                )])
            })?,
    };
    let at = now();
    let this_monday = crate::work_orders::week_start(at.date());
    let first = this_monday - Duration::weeks(weeks as i64 - 1);
    let from = first.and_hms_opt(0, 0, 0).unwrap_or_default();
    let worker = state.clone();
    let (series, computed_at) = blocking(move || {
        if let Some((stored, computed_at)) = summaries::stored_weekly(&worker.db, at)?
            && let Some(series) = stored.last(weeks, this_monday)
        {
            return Ok::<_, crate::db::DbError>((series, computed_at));
        }
        let reports = worker
            .db
            .read(|conn| crate::db::requests::made_since(conn, from))?;
        Ok((crate::stats::weekly(&reports, first, weeks), at))
    })
    .await?;
    let week_starts: Vec<String> = (0..weeks)
        .map(|w| (first + Duration::weeks(w as i64)).to_string())
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "weeks": week_starts,
        "series": series,
        "computed_at": format_datetime(computed_at),
    })))
}

/// `GET /api/v1/stats/feedback?days=365`: residents' answers to "is it fixed?" by
/// ward, category and crew: how many, the share that reopened, mean satisfaction.
pub async fn feedback(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    use crate::stats::Answers;
    use std::collections::BTreeMap;
    require_role(
        &state,
        &req,
        &[Role::Planner, Role::Admin],
        "see residents' answers",
    )
    .await?;
    let days = days_parameter(&req)?;
    let since = now() - Duration::days(days);
    let worker = state.clone();
    let (rows, wards) = blocking(move || {
        worker.db.read(|conn| {
            Ok::<_, crate::db::DbError>((
                crate::db::feedback::answers_since(conn, since)?,
                crate::db::wards::names(conn)?,
            ))
        })
    })
    .await?;
    let mut by_ward: BTreeMap<Option<i64>, Answers> = BTreeMap::new();
    let mut by_service: BTreeMap<String, Answers> = BTreeMap::new();
    let mut by_crew: BTreeMap<Option<i64>, Answers> = BTreeMap::new();
    for (ward, service, crew, fixed, satisfaction) in &rows {
        by_ward.entry(*ward).or_default().add(*fixed, *satisfaction);
        by_service
            .entry(service.clone())
            .or_default()
            .add(*fixed, *satisfaction);
        by_crew.entry(*crew).or_default().add(*fixed, *satisfaction);
    }
    let figures = |a: &Answers| {
        json!({
            "answers": a.answers,
            "reopen_rate": a.reopen_rate(),
            "satisfaction": a.satisfaction(),
        })
    };
    let with = |mut base: Value, a: &Answers| {
        if let (Some(map), Value::Object(extra)) = (base.as_object_mut(), figures(a)) {
            map.extend(extra);
        }
        base
    };
    let ward_name = |id: Option<i64>| id.and_then(|id| wards.get(&id).cloned());
    Ok(HttpResponse::Ok().json(json!({
        "since": format_datetime(since),
        "by_ward": by_ward.iter().map(|(id, a)| with(json!({"ward_id": id, "ward": ward_name(*id)}), a)).collect::<Vec<_>>(),
        "by_service": by_service.iter().map(|(code, a)| with(json!({"service_code": code}), a)).collect::<Vec<_>>(),
        "by_crew": by_crew.iter().map(|(id, a)| with(json!({"crew_id": id}), a)).collect::<Vec<_>>(),
    })))
}

/// `GET /api/v1/stats/channels?days=365`: how reports reached the city (web, app,
/// phone, counter, or what an import recorded), for the city and by ward.
pub async fn channels(state: State, req: HttpRequest) -> Result<HttpResponse, ApiError> {
    use std::collections::BTreeMap;
    require_role(
        &state,
        &req,
        &[Role::Planner, Role::Admin],
        "see reports by channel",
    )
    .await?;
    let days = days_parameter(&req)?;
    let since = now() - Duration::days(days);
    let worker = state.clone();
    let (rows, wards) = blocking(move || {
        worker.db.read(|conn| {
            Ok::<_, crate::db::DbError>((
                crate::db::requests::channel_counts(conn, since)?,
                crate::db::wards::names(conn)?,
            ))
        })
    })
    .await?;
    let word = |c: &Option<String>| c.clone().unwrap_or_else(|| "unknown".to_owned());
    let mut city: BTreeMap<String, i64> = BTreeMap::new();
    let mut by_ward: BTreeMap<Option<i64>, BTreeMap<String, i64>> = BTreeMap::new();
    for (ward, channel, n) in &rows {
        *city.entry(word(channel)).or_default() += n;
        *by_ward
            .entry(*ward)
            .or_default()
            .entry(word(channel))
            .or_default() += n;
    }
    let ward_name = |id: Option<i64>| id.and_then(|id| wards.get(&id).cloned());
    Ok(HttpResponse::Ok().json(json!({
        "since": format_datetime(since),
        "city": city,
        "by_ward": by_ward
            .iter()
            .map(|(id, counts)| json!({"ward_id": id, "ward": ward_name(*id), "reports": counts}))
            .collect::<Vec<_>>(),
    })))
}

/// The `days` parameter (1–3650, 365 unless given), the only one these views take.
fn days_parameter(req: &HttpRequest) -> Result<i64, ApiError> {
    let params = only_parameters(req, &["days"])?;
    match params.get("days") {
        None => Ok(DEFAULT_DAYS),
        Some(raw) => raw
            .trim()
            .parse()
            .ok()
            .filter(|d| (1..=3650).contains(d))
            .ok_or_else(|| {
                invalid(vec![FieldError::new(
                    "days",
                    format!("'{raw}' is not a whole number of days from 1 to 3650"),
                )])
            }),
    }
}
