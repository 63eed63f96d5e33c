//! The `services` table: the catalogue as stored.

use super::schema::services;
use super::{Conn, DbError, DbResult};
use crate::catalogue::{Service, SlaDays};
use crate::domain::now;
use chrono::NaiveDateTime;
use diesel::prelude::*;

#[derive(Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = services, primary_key(code), treat_none_as_null = true)]
struct ServiceRow {
    code: String,
    name: String,
    group_name: String,
    description: String,
    keywords: String,
    service_type: String,
    agency: String,
    road_surface: bool,
    default_severity: i32,
    sla_days: String,
    duplicate_radius_m: f64,
    attributes: String,
    area: Option<String>,
    position: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    retired_at: Option<NaiveDateTime>,
    translations: String,
}

impl ServiceRow {
    fn from_service(service: &Service, position: i32, at: NaiveDateTime) -> ServiceRow {
        ServiceRow {
            code: service.code.clone(),
            name: service.name.clone(),
            group_name: service.group.clone(),
            description: service.description.clone(),
            keywords: service.keywords.join(","),
            service_type: service.service_type.as_str().to_owned(),
            agency: service.agency.clone(),
            road_surface: service.road_surface,
            default_severity: service.default_severity,
            sla_days: serde_json::to_string(&service.sla_days).expect("plain struct serialises"),
            duplicate_radius_m: service.duplicate_radius_m,
            attributes: serde_json::to_string(&service.attributes)
                .expect("plain struct serialises"),
            area: service
                .area
                .map(|a| serde_json::to_string(&a).expect("array serialises")),
            position,
            created_at: at,
            updated_at: at,
            retired_at: None,
            translations: serde_json::to_string(&service.translations)
                .expect("plain maps serialise"),
        }
    }

    fn into_service(self) -> DbResult<Service> {
        let corrupt = |what: &str, e: &dyn std::fmt::Display| {
            DbError::Corrupt(format!("service '{}' {what}: {e}", self.code))
        };
        let sla_days: SlaDays =
            serde_json::from_str(&self.sla_days).map_err(|e| corrupt("sla_days", &e))?;
        let attributes =
            serde_json::from_str(&self.attributes).map_err(|e| corrupt("attributes", &e))?;
        let area = match &self.area {
            Some(text) => Some(serde_json::from_str(text).map_err(|e| corrupt("area", &e))?),
            None => None,
        };
        let translations =
            serde_json::from_str(&self.translations).map_err(|e| corrupt("translations", &e))?;
        let service_type = self
            .service_type
            .parse()
            .map_err(|e: String| corrupt("type", &e))?;
        Ok(Service {
            keywords: self
                .keywords
                .split(',')
                .filter(|k| !k.is_empty())
                .map(str::to_owned)
                .collect(),
            code: self.code,
            name: self.name,
            group: self.group_name,
            description: self.description,
            service_type,
            agency: self.agency,
            road_surface: self.road_surface,
            default_severity: self.default_severity,
            sla_days,
            duplicate_radius_m: self.duplicate_radius_m,
            attributes,
            area,
            translations,
        })
    }
}

/// Adds every service of `catalogue` whose code is not stored yet; returns how many.
/// Stored services are left as staff made them, retired ones included.
pub fn seed(conn: &mut Conn<'_>, catalogue: &[Service]) -> DbResult<usize> {
    let at = now();
    on!(conn, |conn| {
        let existing: Vec<String> = services::table.select(services::code).load(conn)?;
        let next_position = i32::try_from(existing.len()).unwrap_or(i32::MAX);
        let rows: Vec<ServiceRow> = catalogue
            .iter()
            .filter(|s| !existing.contains(&s.code))
            .enumerate()
            .map(|(i, s)| {
                ServiceRow::from_service(s, next_position + i32::try_from(i).unwrap_or(0), at)
            })
            .collect();
        for row in &rows {
            diesel::insert_into(services::table)
                .values(row)
                .execute(conn)?;
        }
        Ok(rows.len())
    })
}

/// Every service that is not retired, in catalogue order, and when any service last
/// changed (the epoch for an empty catalogue).
pub fn active(conn: &mut Conn<'_>) -> DbResult<(Vec<Service>, NaiveDateTime)> {
    let (rows, changed_at): (Vec<ServiceRow>, Option<NaiveDateTime>) = on!(conn, |conn| {
        let rows = services::table
            .filter(services::retired_at.is_null())
            .order((services::position, services::code))
            .select(ServiceRow::as_select())
            .load(conn)?;
        let latest_update = services::table
            .select(diesel::dsl::max(services::updated_at))
            .first(conn)?;
        (rows, latest_update)
    });
    let services = rows
        .into_iter()
        .map(ServiceRow::into_service)
        .collect::<DbResult<_>>()?;
    Ok((services, changed_at.unwrap_or_default()))
}

/// The codes of every service marked as a road-surface defect, retired ones included
/// (their past reports are still history).
pub fn road_surface_codes(conn: &mut Conn<'_>) -> DbResult<Vec<String>> {
    on!(conn, |conn| Ok(services::table
        .filter(services::road_surface.eq(true))
        .order(services::code)
        .select(services::code)
        .load(conn)?))
}

/// Whether a maintenance kind mends a road-surface defect: `<code>_repair` of a service
/// in `road_surface_codes`. A work order of any road-surface service leaves such a
/// record, and an import mapping names imported repairs the same way.
pub fn is_road_surface_repair(kind: &str, road_surface_codes: &[String]) -> bool {
    kind.strip_suffix("_repair")
        .is_some_and(|code| road_surface_codes.iter().any(|c| c == code))
}

/// Stores `service` under its code: a new service goes to the end of the catalogue, an
/// existing one (retired or not) is replaced in place and offered again. Returns true
/// when it was new.
pub fn upsert(conn: &mut Conn<'_>, service: &Service) -> DbResult<bool> {
    let at = now();
    on!(conn, |conn| {
        let existing: Option<(i32, NaiveDateTime)> = services::table
            .find(&service.code)
            .select((services::position, services::created_at))
            .first(conn)
            .optional()?;
        match existing {
            Some((position, created_at)) => {
                let mut row = ServiceRow::from_service(service, position, at);
                row.created_at = created_at;
                diesel::update(services::table.find(&service.code))
                    .set(&row)
                    .execute(conn)?;
                Ok(false)
            }
            None => {
                let count: i64 = services::table.count().get_result(conn)?;
                let row =
                    ServiceRow::from_service(service, i32::try_from(count).unwrap_or(i32::MAX), at);
                diesel::insert_into(services::table)
                    .values(&row)
                    .execute(conn)?;
                Ok(true)
            }
        }
    })
}

/// Stops offering a service; its reports stay. False when no live service has the code.
pub fn retire(conn: &mut Conn<'_>, code: &str) -> DbResult<bool> {
    let at = now();
    on!(conn, |conn| Ok(diesel::update(
        services::table
            .filter(services::code.eq(code))
            .filter(services::retired_at.is_null())
    )
    .set((services::retired_at.eq(at), services::updated_at.eq(at)))
    .execute(conn)?
        == 1))
}
