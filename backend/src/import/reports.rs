//! Past service requests from a city's export, read through a mapping. They keep
//! their own times, status and id; snap to segments as live reports do; group into
//! issues as de-duplication would have grouped them at the time; and record when they
//! closed.

use super::mapping::{CheckedMapping, StatusMeaning};
use super::{Cells, Context, Fault, Importer, Summary};
use crate::catalogue::Catalogue;
use crate::db::issues::{self, NewIssue};
use crate::db::request_sources::{self, NewRequestSource};
use crate::db::requests::{self, NewRequest, NewUpdate};
use crate::db::words::Json;
use crate::db::{Conn, DbResult};
use crate::domain::{AnswerPairs, Answers, Circle, Coordinates, IssueStatus, RequestStatus};
use crate::spatial::SegmentIndex;
use chrono::{Duration, NaiveDateTime};
use std::collections::HashMap;

/// A past report read from one row.
#[derive(Debug, Clone, PartialEq)]
pub struct PastReport {
    /// The row's line in its file (1 is the header).
    pub line: u64,
    pub external_id: String,
    pub service_code: String,
    pub status: RequestStatus,
    /// The source called it a duplicate of an earlier request.
    pub duplicate: bool,
    pub requested_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub closed_at: Option<NaiveDateTime>,
    pub position: Option<Coordinates>,
    pub address: Option<String>,
    pub description: Option<String>,
    pub channel: Option<String>,
}

/// Reads and stores past reports.
pub struct Reports<'a> {
    mapping: &'a CheckedMapping,
    catalogue: &'a Catalogue,
    segments: &'a SegmentIndex,
    snap_limit_m: f64,
}

impl<'a> Reports<'a> {
    pub fn new(ctx: &Context<'a>, mapping: &'a CheckedMapping) -> Reports<'a> {
        Reports {
            mapping,
            catalogue: ctx.catalogue,
            segments: ctx.segments,
            snap_limit_m: mapping.mapping.snap_limit_m.unwrap_or(ctx.snap_limit_m),
        }
    }
}

impl Importer for Reports<'_> {
    type Record = PastReport;

    fn read(&mut self, cells: &Cells<'_>) -> Result<PastReport, Fault> {
        read_row(self.mapping, self.catalogue, cells)
    }

    fn line(record: &PastReport) -> u64 {
        record.line
    }

    fn store(&mut self, conn: &mut Conn<'_>, batch: &mut [PastReport]) -> DbResult<Summary> {
        // De-duplication at the time needs the issues of earlier reports first.
        batch.sort_by_key(|r| (r.requested_at, r.line));
        store_batch(conn, self, batch)
    }

    fn dry_count(&self, batch: &[PastReport]) -> Summary {
        let address_only: Vec<String> = batch
            .iter()
            .filter(|r| r.position.is_none())
            .map(|r| r.external_id.clone())
            .collect();
        Summary {
            imported: batch.len() as u64,
            address_only: address_only.len() as u64,
            address_only_ids: address_only,
            ..Summary::default()
        }
    }
}

/// Reads one row; a row that cannot be read is refused naming the column and why.
fn read_row(
    mapping: &CheckedMapping,
    catalogue: &Catalogue,
    cells: &Cells<'_>,
) -> Result<PastReport, Fault> {
    let external_id = cells.required("id")?.to_owned();
    let requested_at = cells.time("requested")?.ok_or_else(|| {
        Fault::new(
            cells.column("requested"),
            "is empty: every row needs its time",
        )
    })?;
    let closed_at = cells.time("closed")?;
    let updated_at = cells.time("updated")?;
    let (status, duplicate) = match cells.text("status") {
        None if closed_at.is_some() => (RequestStatus::Closed, false),
        None => (RequestStatus::Open, false),
        Some(word) => match mapping.statuses.get(word) {
            Some(StatusMeaning::Status(status)) => (*status, false),
            Some(StatusMeaning::Duplicate) => (RequestStatus::Closed, true),
            None => {
                return Err(Fault::new(
                    cells.column("status"),
                    format!("'{word}' is not a status the mapping knows"),
                ));
            }
        },
    };
    let category = cells.text("service");
    // A category the mapping translates, or one that is already a service code here
    // (an Open311 server's own dump).
    let known = category.and_then(|c| {
        mapping
            .mapping
            .services
            .get(c)
            .cloned()
            .or_else(|| catalogue.get(c).map(|s| s.code.clone()))
    });
    let service_code = match known {
        Some(code) => code,
        None => match (&mapping.mapping.default_service, category) {
            (Some(code), _) => code.clone(),
            (None, Some(category)) => {
                return Err(Fault::new(
                    cells.column("service"),
                    format!("'{category}' is not a category the mapping knows"),
                ));
            }
            (None, None) => {
                return Err(Fault::new(
                    cells.column("service"),
                    "is empty and the mapping has no default_service",
                ));
            }
        },
    };
    let position = cells.position()?;
    // A closed report without a closing time closed when it last changed.
    let closed_at = match (status.is_open(), closed_at) {
        (true, _) => None,
        (false, Some(at)) => Some(at),
        (false, None) => Some(updated_at.unwrap_or(requested_at)),
    };
    if closed_at.is_some_and(|at| at < requested_at) {
        return Err(Fault::new(
            cells.column("closed"),
            "is before the request was made",
        ));
    }
    let updated_at = [Some(requested_at), updated_at, closed_at]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(requested_at);
    Ok(PastReport {
        line: cells.line(),
        external_id,
        service_code,
        status,
        duplicate,
        requested_at,
        updated_at,
        closed_at,
        position,
        address: cells.text("address").map(str::to_owned),
        description: cells.text("description").map(str::to_owned),
        channel: cells.text("channel").map(str::to_owned),
    })
}

fn store_batch(
    conn: &mut Conn<'_>,
    reports: &Reports<'_>,
    batch: &[PastReport],
) -> DbResult<Summary> {
    let source = reports.mapping.mapping.source.as_str();
    let ids: Vec<&str> = batch.iter().map(|r| r.external_id.as_str()).collect();
    let mut known: HashMap<String, i64> = request_sources::known(conn, source, &ids)?;
    let mut counted = Summary::default();
    let now = crate::domain::now();
    // Rows that nothing in the batch reads back are written together at its end.
    let mut sources = Vec::new();
    let mut history = Vec::new();
    for report in batch {
        if let Some(&id) = known.get(&report.external_id) {
            let (changed, issue) = requests::update_past(
                conn,
                id,
                report.status,
                report.updated_at,
                report.closed_at,
            )?;
            if changed {
                counted.updated += 1;
                if let Some(issue) = issue {
                    settle(conn, issue)?;
                }
            } else {
                counted.already_present += 1;
            }
            continue;
        }
        let id = insert(conn, reports, report, &mut history, &mut counted)?;
        sources.push(NewRequestSource {
            request_id: id,
            source,
            external_id: &report.external_id,
            channel: report.channel.as_deref(),
            imported_at: now,
        });
        known.insert(report.external_id.clone(), id);
        counted.imported += 1;
    }
    request_sources::insert_many(conn, &sources)?;
    requests::add_updates(conn, &history)?;
    Ok(counted)
}

/// Stores a new past report with its history, in its issue; returns its id.
fn insert<'b>(
    conn: &mut Conn<'_>,
    ctx: &Reports<'_>,
    report: &'b PastReport,
    history: &mut Vec<NewUpdate<'b>>,
    counted: &mut Summary,
) -> DbResult<i64> {
    let service = ctx.catalogue.get(&report.service_code);
    let snap = report
        .position
        .and_then(|p| ctx.segments.snap(p, ctx.snap_limit_m));
    let sla_days = service.map_or(10, |s| s.sla_days_for(snap.and_then(|s| s.class)));
    let mut issue = None;
    let mut starts_issue = false;
    match (report.position, service) {
        (Some(centre), Some(service)) => {
            let circle = Circle {
                centre,
                radius_m: service.duplicate_radius_m,
            };
            match issues::nearest_open_at(conn, &report.service_code, circle, report.requested_at)?
            {
                Some(found) => {
                    // A past report brings no answers to add.
                    issues::join(conn, found, false, report.requested_at, &Answers::new())?;
                    counted.joined_to_issue += 1;
                    issue = Some(found);
                }
                None => {
                    issue = Some(issues::insert(
                        conn,
                        // Its one report's closure is the issue's: nothing to settle.
                        &NewIssue {
                            service_code: &report.service_code,
                            status: if report.closed_at.is_some() {
                                IssueStatus::Closed
                            } else {
                                IssueStatus::Open
                            },
                            lat: centre.lat,
                            lon: centre.lon,
                            segment_id: snap.map(|s| s.segment_id),
                            reporter_count: 1,
                            first_reported_at: report.requested_at,
                            updated_at: report.updated_at,
                            closed_at: report.closed_at,
                            cell: crate::grid::cell_of(centre),
                            answers: Json(AnswerPairs::default()),
                        },
                    )?);
                    starts_issue = true;
                }
            }
        }
        (None, _) => {
            counted.address_only += 1;
            counted.address_only_ids.push(report.external_id.clone());
        }
        (Some(_), None) => {}
    }
    let id = requests::insert(
        conn,
        &NewRequest {
            description: report.description.clone(),
            agency_responsible: service.map(|s| s.agency.clone()),
            lat: report.position.map(|p| p.lat),
            lon: report.position.map(|p| p.lon),
            address: report.address.clone(),
            segment_id: snap.map(|s| s.segment_id),
            snap_distance_m: snap.map(|s| (s.distance_m * 10.0).round() / 10.0),
            issue_id: issue,
            updated_at: report.updated_at,
            expected_at: Some(report.requested_at + Duration::days(i64::from(sla_days))),
            cell: report.position.map(crate::grid::cell_of),
            closed_at: report.closed_at,
            channel: report.channel.clone(),
            ..NewRequest::accepted(&report.service_code, report.status, report.requested_at)
        },
    )?;
    if starts_issue && let Some(issue) = issue {
        issues::set_first_request(conn, issue, id)?;
    }
    // The history a resident following it would have seen: received, then closed.
    history.push(NewUpdate {
        request_id: id,
        status: RequestStatus::Open,
        description: Some("Report received (imported from the city's records)."),
        media_url: None,
        author: "import",
        created_at: report.requested_at,
    });
    if let Some(closed_at) = report.closed_at {
        let note = if report.duplicate {
            "Closed as a duplicate of an earlier report."
        } else {
            "Closed (from the city's records)."
        };
        history.push(NewUpdate {
            request_id: id,
            status: report.status,
            description: Some(note),
            media_url: None,
            author: "import",
            created_at: closed_at,
        });
    }
    if let Some(issue) = issue.filter(|_| !starts_issue) {
        settle(conn, issue)?;
    }
    Ok(id)
}

/// An issue is closed when all its reports are, at the latest closure.
fn settle(conn: &mut Conn<'_>, issue: i64) -> DbResult<()> {
    let (closed_at, updated_at) = requests::closure_of_issue(conn, issue)?;
    issues::settle(conn, issue, closed_at, updated_at)
}
