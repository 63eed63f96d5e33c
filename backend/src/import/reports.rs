//! Past service requests from a city's export (CSV), read through a mapping. They keep
//! their own times, status and id; snap to segments as live reports do; group into
//! issues as de-duplication would have grouped them at the time; and record when they
//! closed. Rows are streamed and stored in batches, one transaction each.

use super::mapping::{CheckedMapping, StatusMeaning};
use super::{ImportError, Rejected, Summary};
use crate::catalogue::Catalogue;
use crate::db::issues::{self, NewIssue};
use crate::db::request_sources::{self, NewRequestSource};
use crate::db::requests::{self, NewRequest, NewUpdate};
use crate::db::{Conn, Database, DbResult};
use crate::domain::{Circle, Coordinates, IssueStatus, RequestStatus, forbidden_control};
use crate::spatial::SegmentIndex;
use chrono::{Duration, NaiveDateTime};
use std::collections::HashMap;
use std::path::Path;

/// Rows stored per transaction.
const BATCH_ROWS: usize = 2_000;

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

/// Where the mapped columns are in one file.
struct Columns {
    id: usize,
    requested: usize,
    updated: Option<usize>,
    closed: Option<usize>,
    status: Option<usize>,
    service: Option<usize>,
    lat: Option<usize>,
    lon: Option<usize>,
    address: Option<usize>,
    description: Option<usize>,
    channel: Option<usize>,
}

impl Columns {
    fn find(
        mapping: &CheckedMapping,
        headers: &csv::StringRecord,
        file: &str,
    ) -> Result<Columns, ImportError> {
        let position = |name: &str| -> Result<usize, ImportError> {
            headers
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| ImportError::Header {
                    file: file.to_owned(),
                    column: name.to_owned(),
                })
        };
        let optional = |name: &Option<String>| name.as_deref().map(position).transpose();
        let c = &mapping.mapping.columns;
        Ok(Columns {
            id: position(&c.id)?,
            requested: position(&c.requested)?,
            updated: optional(&c.updated)?,
            closed: optional(&c.closed)?,
            status: optional(&c.status)?,
            service: optional(&c.service)?,
            lat: optional(&c.lat)?,
            lon: optional(&c.lon)?,
            address: optional(&c.address)?,
            description: optional(&c.description)?,
            channel: optional(&c.channel)?,
        })
    }
}

/// Reads one row; a row that cannot be read is rejected naming the column and why.
fn read_row(
    mapping: &CheckedMapping,
    columns: &Columns,
    record: &csv::StringRecord,
    line: u64,
) -> Result<PastReport, (String, String)> {
    let names = &mapping.mapping.columns;
    for (index, value) in record.iter().enumerate() {
        if let Some(c) = forbidden_control(value) {
            return Err((
                headers_name(names, columns, index),
                format!("holds the control character U+{:04X}", u32::from(c)),
            ));
        }
    }
    let cell = |index: Option<usize>| -> Option<&str> {
        let value = record.get(index?)?.trim();
        (!mapping.is_missing(value)).then_some(value)
    };
    let text = |index: Option<usize>| cell(index).map(str::to_owned);
    let time = |index: Option<usize>,
                name: &Option<String>|
     -> Result<Option<NaiveDateTime>, (String, String)> {
        cell(index)
            .map(|raw| mapping.utc(raw))
            .transpose()
            .map_err(|why| (name.clone().unwrap_or_default(), why))
    };
    let external_id = text(Some(columns.id)).ok_or_else(|| {
        (
            names.id.clone(),
            "is empty: every row needs the source's id".to_owned(),
        )
    })?;
    let requested_at =
        time(Some(columns.requested), &Some(names.requested.clone()))?.ok_or_else(|| {
            (
                names.requested.clone(),
                "is empty: every row needs its time".to_owned(),
            )
        })?;
    let closed_at = time(columns.closed, &names.closed)?;
    let updated_at = time(columns.updated, &names.updated)?;
    let (status, duplicate) = match cell(columns.status) {
        None if closed_at.is_some() => (RequestStatus::Closed, false),
        None => (RequestStatus::Open, false),
        Some(word) => match mapping.statuses.get(word) {
            Some(StatusMeaning::Status(status)) => (*status, false),
            Some(StatusMeaning::Duplicate) => (RequestStatus::Closed, true),
            None => {
                return Err((
                    names.status.clone().unwrap_or_default(),
                    format!("'{word}' is not a status the mapping knows"),
                ));
            }
        },
    };
    let service_code = match cell(columns.service).and_then(|c| mapping.mapping.services.get(c)) {
        Some(code) => code.clone(),
        None => match (&mapping.mapping.default_service, cell(columns.service)) {
            (Some(code), _) => code.clone(),
            (None, Some(category)) => {
                return Err((
                    names.service.clone().unwrap_or_default(),
                    format!("'{category}' is not a category the mapping knows"),
                ));
            }
            (None, None) => {
                return Err((
                    names.service.clone().unwrap_or_else(|| "service".into()),
                    "is empty and the mapping has no default_service".to_owned(),
                ));
            }
        },
    };
    let lat_name = names.lat.clone().unwrap_or_else(|| "lat".into());
    let lon_name = names.lon.clone().unwrap_or_else(|| "lon".into());
    let position =
        Coordinates::parse_pair(cell(columns.lat), cell(columns.lon), &lat_name, &lon_name)
            .map_err(|e| (e.field, e.message))?;
    // A closed report without a closing time closed when it last changed.
    let closed_at = match (status.is_open(), closed_at) {
        (true, _) => None,
        (false, Some(at)) => Some(at),
        (false, None) => Some(updated_at.unwrap_or(requested_at)),
    };
    if closed_at.is_some_and(|at| at < requested_at) {
        return Err((
            names.closed.clone().unwrap_or_default(),
            "is before the request was made".to_owned(),
        ));
    }
    let updated_at = [Some(requested_at), updated_at, closed_at]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(requested_at);
    Ok(PastReport {
        line,
        external_id,
        service_code,
        status,
        duplicate,
        requested_at,
        updated_at,
        closed_at,
        position,
        address: text(columns.address),
        description: text(columns.description),
        channel: text(columns.channel),
    })
}

/// The mapped name of column `index`, or `row` for a column the mapping does not use.
fn headers_name(names: &super::mapping::ReportColumns, columns: &Columns, index: usize) -> String {
    let mapped = [
        (Some(columns.id), Some(&names.id)),
        (Some(columns.requested), Some(&names.requested)),
        (columns.updated, names.updated.as_ref()),
        (columns.closed, names.closed.as_ref()),
        (columns.status, names.status.as_ref()),
        (columns.service, names.service.as_ref()),
        (columns.lat, names.lat.as_ref()),
        (columns.lon, names.lon.as_ref()),
        (columns.address, names.address.as_ref()),
        (columns.description, names.description.as_ref()),
        (columns.channel, names.channel.as_ref()),
    ];
    mapped
        .into_iter()
        .find(|(at, _)| *at == Some(index))
        .and_then(|(_, name)| name.cloned())
        .unwrap_or_else(|| "row".to_owned())
}

/// What the importer needs besides the rows.
pub struct Context<'a> {
    pub db: &'a Database,
    pub catalogue: &'a Catalogue,
    pub segments: &'a SegmentIndex,
    pub snap_limit_m: f64,
    /// Check and count only; write nothing.
    pub dry_run: bool,
}

/// A file to import, and the name its rows are reported under.
#[derive(Debug, Clone)]
pub struct NamedFile {
    pub name: String,
    pub path: std::path::PathBuf,
}

impl NamedFile {
    /// A file reported under its own path.
    pub fn at(path: impl Into<std::path::PathBuf>) -> NamedFile {
        let path = path.into();
        NamedFile {
            name: path.display().to_string(),
            path,
        }
    }
}

/// Imports every file in turn; `progress` hears the rows read so far.
pub fn import(
    ctx: &Context<'_>,
    mapping: &CheckedMapping,
    files: &[NamedFile],
    progress: &mut dyn FnMut(u64),
) -> Result<Summary, ImportError> {
    let mut summary = Summary::default();
    for file in files {
        import_file(ctx, mapping, file, &mut summary, progress)?;
    }
    Ok(summary)
}

fn import_file(
    ctx: &Context<'_>,
    mapping: &CheckedMapping,
    file: &NamedFile,
    summary: &mut Summary,
    progress: &mut dyn FnMut(u64),
) -> Result<(), ImportError> {
    let name = file.name.clone();
    let unreadable = |e: csv::Error| ImportError::File {
        file: name.clone(),
        reason: e.to_string(),
    };
    // Rows end at a line feed: with CR LF endings the csv crate would number every row
    // one line too low. A CR left at a row's end is trimmed with the cell.
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(mapping.delimiter)
        .terminator(csv::Terminator::Any(b'\n'))
        .flexible(true)
        .from_reader(without_bom(&file.path).map_err(|e| ImportError::File {
            file: name.clone(),
            reason: e.to_string(),
        })?);
    let headers = reader.headers().map_err(unreadable)?.clone();
    let columns = Columns::find(mapping, &headers, &name)?;
    let mut batch = Vec::with_capacity(BATCH_ROWS);
    let mut record = csv::StringRecord::new();
    loop {
        // A row that does not read starts on the line after the last one that did.
        let next_line = reader.position().line() + 1;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                summary.read += 1;
                let line = e.position().map_or(next_line, |p| p.line());
                summary.reject(&name, line, "row", e.to_string());
                continue;
            }
        }
        let line = record.position().map_or(next_line, |p| p.line());
        summary.read += 1;
        if record.len() != headers.len() {
            summary.reject(
                &name,
                line,
                "row",
                format!(
                    "has {} fields where the header has {}",
                    record.len(),
                    headers.len()
                ),
            );
            continue;
        }
        match read_row(mapping, &columns, &record, line) {
            Ok(report) => batch.push(report),
            Err((field, reason)) => summary.reject(&name, line, &field, reason),
        }
        if batch.len() == BATCH_ROWS {
            store(ctx, mapping, &name, &mut batch, summary)?;
            progress(summary.read);
        }
    }
    store(ctx, mapping, &name, &mut batch, summary)?;
    progress(summary.read);
    Ok(())
}

/// The file, past a UTF-8 byte-order mark if it starts with one. (The csv crate skips a
/// mark itself, but then numbers every line one too low.)
fn without_bom(file: &Path) -> std::io::Result<std::io::BufReader<std::fs::File>> {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(std::fs::File::open(file)?);
    if reader.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        reader.consume(3);
    }
    Ok(reader)
}

/// Stores a batch in one transaction (or, on a dry run, only counts it).
fn store(
    ctx: &Context<'_>,
    mapping: &CheckedMapping,
    file: &str,
    batch: &mut Vec<PastReport>,
    summary: &mut Summary,
) -> Result<(), ImportError> {
    if batch.is_empty() {
        return Ok(());
    }
    // De-duplication at the time needs the issues of earlier reports first.
    batch.sort_by_key(|r| (r.requested_at, r.line));
    let first_line = batch.iter().map(|r| r.line).min().unwrap_or(0);
    let counted = if ctx.dry_run {
        dry_count(batch)
    } else {
        ctx.db
            .write(|conn| store_batch(conn, ctx, mapping, batch))
            .map_err(|error| ImportError::Stopped {
                file: file.to_owned(),
                line: first_line,
                error,
            })?
    };
    summary.add(&counted);
    batch.clear();
    Ok(())
}

fn dry_count(batch: &[PastReport]) -> Summary {
    Summary {
        imported: batch.len() as u64,
        address_only: batch.iter().filter(|r| r.position.is_none()).count() as u64,
        ..Summary::default()
    }
}

fn store_batch(
    conn: &mut Conn<'_>,
    ctx: &Context<'_>,
    mapping: &CheckedMapping,
    batch: &[PastReport],
) -> DbResult<Summary> {
    let source = mapping.mapping.source.as_str();
    let ids: Vec<&str> = batch.iter().map(|r| r.external_id.as_str()).collect();
    let mut known: HashMap<String, i64> = request_sources::known(conn, source, &ids)?;
    let mut counted = Summary::default();
    let now = crate::domain::now();
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
        let id = insert(conn, ctx, report, &mut counted)?;
        request_sources::insert(
            conn,
            &NewRequestSource {
                request_id: id,
                source,
                external_id: &report.external_id,
                channel: report.channel.as_deref(),
                imported_at: now,
            },
        )?;
        known.insert(report.external_id.clone(), id);
        counted.imported += 1;
    }
    Ok(counted)
}

/// Stores a new past report with its history, in its issue; returns its id.
fn insert(
    conn: &mut Conn<'_>,
    ctx: &Context<'_>,
    report: &PastReport,
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
                    issues::join(conn, found, false, report.requested_at)?;
                    counted.joined_to_issue += 1;
                    issue = Some(found);
                }
                None => {
                    issue = Some(issues::insert(
                        conn,
                        &NewIssue {
                            service_code: &report.service_code,
                            status: IssueStatus::Open,
                            lat: centre.lat,
                            lon: centre.lon,
                            segment_id: snap.map(|s| s.segment_id),
                            reporter_count: 1,
                            first_reported_at: report.requested_at,
                            updated_at: report.requested_at,
                            cell: crate::grid::cell_of(centre),
                        },
                    )?);
                    starts_issue = true;
                }
            }
        }
        (None, _) => counted.address_only += 1,
        (Some(_), None) => {}
    }
    let row = requests::insert(
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
            ..NewRequest::accepted(&report.service_code, report.status, report.requested_at)
        },
    )?;
    if starts_issue && let Some(issue) = issue {
        issues::set_first_request(conn, issue, row.id)?;
    }
    // The history a resident following it would have seen: received, then closed.
    requests::add_update(
        conn,
        &NewUpdate {
            request_id: row.id,
            status: RequestStatus::Open,
            description: Some("Report received (imported from the city's records)."),
            media_url: None,
            author: "import",
            created_at: report.requested_at,
        },
    )?;
    if let Some(closed_at) = report.closed_at {
        let note = if report.duplicate {
            "Closed as a duplicate of an earlier report."
        } else {
            "Closed (from the city's records)."
        };
        requests::add_update(
            conn,
            &NewUpdate {
                request_id: row.id,
                status: report.status,
                description: Some(note),
                media_url: None,
                author: "import",
                created_at: closed_at,
            },
        )?;
    }
    if let Some(issue) = issue {
        settle(conn, issue)?;
    }
    Ok(row.id)
}

/// An issue is closed when all its reports are, at the latest closure.
fn settle(conn: &mut Conn<'_>, issue: i64) -> DbResult<()> {
    let (closed_at, updated_at) = requests::closure_of_issue(conn, issue)?;
    issues::settle(conn, issue, closed_at, updated_at)
}

impl Summary {
    fn reject(&mut self, file: &str, line: u64, field: &str, reason: String) {
        self.rejected += 1;
        self.rejects.push(Rejected {
            file: file.to_owned(),
            line,
            field: field.to_owned(),
            reason,
        });
    }
}
