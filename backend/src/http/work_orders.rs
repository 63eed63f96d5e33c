//! `/api/v1/work-orders`: the jobs crews do, with their priority and why, their history,
//! and the changes crews and planners make; `/api/v1/inspections` plans proactive ones.

use super::api::{ApiError, ErrorKind, optional_caller, require_role};
use super::query::{Described, Listing, invalid, item_id, not_found, one, point};
use super::{State, blocking, current_catalogue};
use crate::catalogue::Catalogue;
use crate::db::work_orders::{self as store, EventRow, WorkOrderFilter, WorkOrderRow};
use crate::domain::{
    Coordinates, FieldError, Outcome, Role, WorkOrderKind, WorkOrderStatus, format_datetime, now,
    parse_datetime,
};
use crate::work_orders::{self as service, Edit, Material, WorkOrderError};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use std::borrow::Cow;

const FILTERS: [&str; 7] = [
    "status",
    "service_code",
    "kind",
    "crew_id",
    "segment_id",
    "issue_id",
    "overdue",
];

const STAFF: [Role; 3] = [Role::Crew, Role::Planner, Role::Admin];
const PLANNERS: [Role; 2] = [Role::Planner, Role::Admin];

impl From<WorkOrderError> for ApiError {
    fn from(error: WorkOrderError) -> Self {
        match error {
            WorkOrderError::NotFound(id) => not_found("work order", &id.to_string()),
            WorkOrderError::Forbidden(why) => {
                ApiError::new(StatusCode::FORBIDDEN, ErrorKind::Forbidden, why)
            }
            WorkOrderError::Invalid(e) => invalid(vec![e]),
            WorkOrderError::Conflict(why) => {
                ApiError::new(StatusCode::CONFLICT, ErrorKind::Conflict, why)
            }
            WorkOrderError::Db(e) => super::ServerError::Db(e).into(),
        }
    }
}

fn one_number(listing: &Listing, name: &str) -> Result<Option<i64>, ApiError> {
    match listing.params.get(name) {
        None => Ok(None),
        Some(raw) => raw.trim().parse().map(Some).map_err(|_| {
            invalid(vec![FieldError::new(
                name,
                format!("'{raw}' is not a whole number"),
            )])
        }),
    }
}

/// `GET /api/v1/work-orders`, and `POST /api/v1/work-orders/search`: highest priority
/// first, filtered by status, category, kind, crew (`none`: unassigned), segment, issue
/// and `overdue=true`, by place like every listing.
pub async fn list(
    state: State,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let listing = Listing::read(&state, &req, payload, &FILTERS).await?;
    let statuses = listing.words::<WorkOrderStatus>("status")?;
    let kinds = listing.words::<WorkOrderKind>("kind")?;
    let crew_id = match listing.params.get("crew_id") {
        None => None,
        Some("none") => Some(None),
        Some(_) => Some(one_number(&listing, "crew_id")?),
    };
    let overdue_at = match listing.params.get("overdue") {
        None | Some("false") => None,
        Some("true") => Some(now()),
        Some(other) => {
            return Err(invalid(vec![FieldError::new(
                "overdue",
                format!("'{other}' is not true or false"),
            )]));
        }
    };
    let filter = WorkOrderFilter {
        statuses,
        service_codes: listing.list("service_code"),
        kinds,
        crew_id,
        segment_id: one_number(&listing, "segment_id")?,
        issue_id: one_number(&listing, "issue_id")?,
        overdue_at,
    };
    let (limit, offset) = listing.window();
    let area = listing.area.clone();
    let worker = state.clone();
    let page = blocking(move || {
        let db = &worker.db;
        crate::search::page_of(
            area.as_ref(),
            limit,
            offset,
            crate::search::Source {
                window_for: crate::search::Window::for_points,
                located: &|window| db.read(|conn| store::located(conn, &filter, window)),
                by_ids: &|ids| db.read(|conn| store::by_ids(conn, ids)),
                page: &|limit, offset| {
                    db.read(|conn| {
                        conn.snapshot(|conn| {
                            let rows = store::list(conn, &filter, limit, offset)?;
                            Ok((rows, store::count(conn, &filter)?))
                        })
                    })
                },
                id_of: |row: &WorkOrderRow| row.id,
            },
        )
    })
    .await?;
    let catalogue = current_catalogue(&state).await?;
    let audience = Audience::of(optional_caller(&state, &req).await?.as_ref());
    let at = now();
    Ok(listing.respond(&req, page, |row, d, format, out| {
        describe(row, &catalogue, at, d, audience).write(format, out)
    }))
}

/// `GET /api/v1/work-orders/{id}`: the order, its priority breakdown and its history.
pub async fn show(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let numeric = item_id(&id, "work order")?;
    let worker = state.clone();
    let (row, events) = blocking(move || -> Result<_, crate::db::DbError> {
        let Some(row) = worker.db.read(|conn| store::find(conn, numeric))? else {
            return Ok((None, Vec::new()));
        };
        let events = worker.db.read(|conn| store::events(conn, numeric))?;
        Ok((Some(row), events))
    })
    .await?;
    let row = row.ok_or_else(|| not_found("work order", &id))?;
    let catalogue = current_catalogue(&state).await?;
    let audience = Audience::of(optional_caller(&state, &req).await?.as_ref());
    if super::query::wants_geojson(&req)? {
        return one(&req, describe(&row, &catalogue, now(), None, audience));
    }
    let mut body =
        serde_json::to_value(view(&row, &catalogue, now(), None, audience)).unwrap_or_default();
    body["history"] = history(&events, audience);
    Ok(HttpResponse::Ok().json(body))
}

fn history(events: &[EventRow], audience: Audience) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| {
                // An actor is "role:name"; the public sees the role only.
                let by = match audience {
                    Audience::Staff => e.actor.as_str(),
                    Audience::Public => e.actor.split(':').next().unwrap_or_default(),
                };
                json!({
                    "at": format_datetime(e.created_at),
                    "by": by,
                    "field": e.field,
                    "from": e.old_value,
                    "to": e.new_value,
                })
            })
            .collect(),
    )
}

/// Absent stays None; `null` becomes Some(None).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// The body of `PATCH /api/v1/work-orders/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EditBody {
    status: Option<String>,
    #[serde(default, deserialize_with = "present")]
    crew_id: Option<Option<i64>>,
    due_at: Option<String>,
    notes: Option<String>,
    photo_urls: Option<Vec<String>>,
    labour_minutes: Option<i32>,
    materials: Option<Vec<Material>>,
    outcome: Option<String>,
    reason: Option<String>,
    resident_note: Option<String>,
}

impl EditBody {
    fn parse(self) -> Result<Edit, FieldError> {
        Ok(Edit {
            status: self
                .status
                .map(|s| s.parse::<WorkOrderStatus>())
                .transpose()
                .map_err(|why| FieldError::new("status", why))?,
            crew_id: self.crew_id,
            due_at: self
                .due_at
                .map(|d| parse_datetime(&d, "due_at"))
                .transpose()?,
            notes: self.notes,
            photo_urls: self.photo_urls,
            labour_minutes: self.labour_minutes,
            materials: self.materials,
            outcome: self
                .outcome
                .map(|o| o.parse::<Outcome>())
                .transpose()
                .map_err(|why| FieldError::new("outcome", why))?,
            reason: self.reason,
            resident_note: self.resident_note,
            // Only the "is it fixed?" answer reopens on a resident's word.
            by_resident: false,
        })
    }
}

/// `PATCH /api/v1/work-orders/{id}`: crews change their own orders (and may take an
/// unassigned one); planners and admins any. Completing closes the issue's reports with
/// a note residents read and writes maintenance history.
pub async fn update(
    state: State,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<EditBody>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_role(&state, &req, &STAFF, "change work orders").await?;
    let id = id.into_inner();
    let numeric = item_id(&id, "work order")?;
    let edit = body.into_inner().parse().map_err(|e| invalid(vec![e]))?;
    let catalogue = current_catalogue(&state).await?;
    let worker = state.clone();
    // The service's own error rides inside Ok, so it reaches the caller as itself.
    let row = blocking(move || {
        Ok::<_, crate::db::DbError>(service::apply(
            &worker.db,
            &catalogue,
            &caller,
            numeric,
            &edit,
            now(),
        ))
    })
    .await??;
    state.work_orders_due.notify_one();
    let catalogue = current_catalogue(&state).await?;
    Ok(HttpResponse::Ok().json(view(&row, &catalogue, now(), None, Audience::Staff)))
}

/// The body of `POST /api/v1/work-orders`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOrderBody {
    /// An order for this issue (if it has none yet).
    issue_id: Option<i64>,
    /// Or an inspection of this segment.
    segment_id: Option<i64>,
    notes: Option<String>,
}

/// `POST /api/v1/work-orders`: a planner opens an order for an issue that has none, or
/// an inspection of a segment. 201 with the order.
pub async fn create(
    state: State,
    req: HttpRequest,
    body: web::Json<NewOrderBody>,
) -> Result<HttpResponse, ApiError> {
    let caller = require_role(&state, &req, &PLANNERS, "open work orders").await?;
    let body = body.into_inner();
    let catalogue = current_catalogue(&state).await?;
    let worker = state.clone();
    let actor = format!("{}:{}", caller.role.as_str(), caller.name);
    let row = blocking(move || {
        let db = &worker.db;
        Ok::<_, crate::db::DbError>(match (body.issue_id, body.segment_id) {
            (Some(issue), None) => service::open_for_issue(db, &catalogue, issue, &actor, now()),
            (None, Some(segment)) => {
                service::open_inspection(db, &catalogue, segment, body.notes, &actor, now())
            }
            _ => Err(WorkOrderError::Invalid(FieldError::new(
                "issue_id",
                "give either issue_id (a repair) or segment_id (an inspection)",
            ))),
        })
    })
    .await??;
    state.work_orders_due.notify_one();
    let catalogue = current_catalogue(&state).await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/api/v1/work-orders/{}", row.id)))
        .json(view(&row, &catalogue, now(), None, Audience::Staff)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    budget: Option<u32>,
}

/// `POST /api/v1/inspections`: plans inspections now (the weekly plan runs by itself),
/// for the riskiest segments without an open order, at most `budget` (by default the
/// configured number per road crew).
pub async fn plan(
    state: State,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let caller = require_role(&state, &req, &PLANNERS, "plan inspections").await?;
    let catalogue = current_catalogue(&state).await?;
    // The body is optional, but one that is sent must be right: a broken body is
    // refused rather than read as none.
    let asked = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        serde_json::from_slice::<PlanBody>(&body)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    ErrorKind::InvalidBody,
                    format!("the body is not a plan: {e}"),
                )
            })?
            .budget
    };
    let budget = match asked {
        Some(budget) => budget as usize,
        None => {
            let worker = state.clone();
            let per_crew = state.settings.inspections_per_crew_per_week;
            let catalogue = catalogue.clone();
            blocking(move || service::weekly_budget(&worker.db, &catalogue, per_crew)).await?
        }
    };
    if budget > 10_000 {
        return Err(invalid(vec![FieldError::new(
            "budget",
            "must be at most 10000 orders",
        )]));
    }
    let catalogue = current_catalogue(&state).await?;
    let worker = state.clone();
    let actor = format!("{}:{}", caller.role.as_str(), caller.name);
    let planned = blocking(move || {
        service::plan_inspections(&worker.db, &catalogue, budget as usize, now(), true, &actor)
    })
    .await?;
    state.work_orders_due.notify_one();
    Ok(HttpResponse::Created().json(json!({
        "planned": planned.len(),
        "work_order_ids": planned.iter().map(|o| o.id).collect::<Vec<_>>(),
        "message": if planned.is_empty() {
            "nothing to plan: no risk scores yet, or every risky segment already has an open order"
        } else {
            "inspection orders opened for the riskiest segments without an open order"
        },
    })))
}

/// A work order as the native API shows it.
#[derive(Serialize)]
pub struct WorkOrderView<'a> {
    id: i64,
    kind: &'a str,
    status: &'a str,
    issue_id: Option<i64>,
    segment_id: Option<i64>,
    service_code: &'a str,
    service_name: Option<&'a str>,
    crew_id: Option<i64>,
    lat: f64,
    lon: f64,
    priority: f64,
    priority_breakdown: Value,
    due_at: Option<String>,
    overdue: bool,
    notes: Option<&'a str>,
    photo_urls: &'a [String],
    materials: &'a [Material],
    labour_minutes: i32,
    outcome: Option<&'a str>,
    /// How often residents said the finished order had not fixed the problem.
    reopens: i32,
    created_at: String,
    updated_at: String,
    completed_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    distance_m: Option<f64>,
}

/// Priorities are shown to two decimals: finer is noise to a reader.
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Who reads a work order: staff see all of it; anyone else (no key, or a client key)
/// sees no internal notes or materials, and role labels instead of key holders' names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Staff,
    Public,
}

impl Audience {
    /// The audience of a caller (None: anonymous).
    pub fn of(caller: Option<&crate::auth::Caller>) -> Audience {
        match caller {
            Some(c) if c.role.is_staff() => Audience::Staff,
            _ => Audience::Public,
        }
    }
}

pub fn view<'a>(
    row: &'a WorkOrderRow,
    catalogue: &'a Catalogue,
    at: chrono::NaiveDateTime,
    distance_m: Option<f64>,
    audience: Audience,
) -> WorkOrderView<'a> {
    let staff = audience == Audience::Staff;
    let parts = &row.priority_breakdown.0;
    let breakdown = json!({
        "severity": round2(parts.severity),
        "risk": round2(parts.risk),
        "road_class": round2(parts.road_class),
        "traffic": round2(parts.traffic),
        "reporters": round2(parts.reporters),
        "age": round2(parts.age),
        "vulnerability": round2(parts.vulnerability),
    });
    let open = row.status.is_open();
    WorkOrderView {
        id: row.id,
        kind: row.kind.as_str(),
        status: row.status.as_str(),
        issue_id: row.issue_id,
        segment_id: row.segment_id,
        service_code: &row.service_code,
        service_name: catalogue.get(&row.service_code).map(|s| s.name.as_str()),
        crew_id: row.crew_id,
        lat: row.lat,
        lon: row.lon,
        priority: row.priority,
        priority_breakdown: breakdown,
        due_at: row.due_at.map(format_datetime),
        overdue: open && row.due_at.is_some_and(|due| due < at),
        notes: row.notes.as_deref().filter(|_| staff),
        photo_urls: &row.photo_urls.0,
        materials: if staff { &row.materials.0 } else { &[] },
        labour_minutes: row.labour_minutes,
        outcome: row.outcome.as_deref(),
        reopens: row.reopens,
        created_at: format_datetime(row.created_at),
        updated_at: format_datetime(row.updated_at),
        completed_at: row.completed_at.map(format_datetime),
        distance_m,
    }
}

fn describe<'a>(
    row: &'a WorkOrderRow,
    catalogue: &'a Catalogue,
    at: chrono::NaiveDateTime,
    distance_m: Option<f64>,
    audience: Audience,
) -> Described<'a, WorkOrderView<'a>> {
    Described {
        id: row.id,
        properties: view(row, catalogue, at, distance_m, audience),
        geometry: Cow::Owned(point(Coordinates {
            lon: row.lon,
            lat: row.lat,
        })),
    }
}
