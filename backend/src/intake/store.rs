//! Storing checked reports: each with its photo and first history entry, joined to the
//! nearest open issue of its service or starting one, in the caller's transaction.
//!
//! De-duplication happens inside that transaction, so two reports of one pothole
//! arriving at once cannot both start an issue.

use crate::db::issues::{self, NewIssue};
use crate::db::media::{self, MediaRow};
use crate::db::requests::{self, NewRequest, NewUpdate};
use crate::db::words::Json;
use crate::db::{Conn, DbResult};
use crate::domain::{AnswerPairs, Circle, Coordinates, IssueStatus};

/// A report to store with its photo (if any) and the first line of its history.
pub struct Submission {
    pub request: NewRequest,
    pub photo: Option<MediaRow>,
    pub first_note: &'static str,
    /// Join the nearest open issue of the same service within this many metres, or
    /// start a new issue; None: no issue (reports without a position, queued requests).
    pub duplicate_radius_m: Option<f64>,
    /// The notice for a report that joined an issue, given the issue's first report.
    pub duplicate_notice: fn(i64) -> String,
    /// A pseudonym of where the report came from (a keyed hash of its address): an
    /// anonymous report is told apart by it, so one source is one reporter.
    pub source: Option<String>,
}

/// A stored report: its id, what was stored (with the issue it joined or started), and
/// the first report of that issue if it was a duplicate.
#[derive(Debug, Clone)]
pub struct Stored {
    pub id: i64,
    pub request: NewRequest,
    pub duplicate_of: Option<i64>,
}

/// Stores each submission in order; returns them as stored. The caller's transaction
/// makes it all or nothing.
pub fn store_all(conn: &mut Conn<'_>, submissions: &[&Submission]) -> DbResult<Vec<Stored>> {
    // Services whose reports may join an issue, in one order so that two servers locking
    // several never wait on each other in a cycle.
    let mut services: Vec<&str> = submissions
        .iter()
        .filter(|s| s.duplicate_radius_m.is_some())
        .map(|s| s.request.service_code.as_str())
        .collect();
    services.sort_unstable();
    services.dedup();
    issues::lock_for_dedup(conn, &services)?;
    submissions
        .iter()
        .map(|submission| store_one(conn, submission))
        .collect()
}

fn store_one(conn: &mut Conn<'_>, submission: &Submission) -> DbResult<Stored> {
    if let Some(photo) = &submission.photo {
        media::insert(conn, photo)?;
    }
    let mut request = std::borrow::Cow::Borrowed(&submission.request);
    let mut duplicate_of = None;
    let mut starts_issue = None;
    if let (Some(radius_m), Some(lat), Some(lon)) =
        (submission.duplicate_radius_m, request.lat, request.lon)
    {
        let centre = Coordinates { lon, lat };
        let circle = Circle { centre, radius_m };
        let reporters = reporter_keys(&request, submission.source.as_deref());
        let issue_id = match issues::nearest_open(conn, &request.service_code, circle)? {
            Some(issue_id) => {
                // The same resident reporting twice is not a second reporter, nor is one
                // source sending anonymous reports again and again.
                let same_reporter = issues::reported_by_any(conn, issue_id, &reporters)?;
                duplicate_of = issues::join(
                    conn,
                    issue_id,
                    same_reporter,
                    request.requested_at,
                    &request.attributes.0,
                )?;
                issue_id
            }
            None => {
                let issue_id = issues::insert(
                    conn,
                    &NewIssue {
                        service_code: &request.service_code,
                        status: IssueStatus::Open,
                        lat,
                        lon,
                        segment_id: request.segment_id,
                        reporter_count: 1,
                        first_reported_at: request.requested_at,
                        updated_at: request.requested_at,
                        closed_at: None,
                        cell: crate::grid::cell_of(centre),
                        answers: Json(AnswerPairs::of(&request.attributes.0)),
                    },
                )?;
                starts_issue = Some(issue_id);
                issue_id
            }
        };
        issues::add_reporters(conn, issue_id, &reporters)?;
        let owned = request.to_mut();
        owned.issue_id = Some(issue_id);
        if let Some(parent) = duplicate_of {
            owned.service_notice = Some((submission.duplicate_notice)(parent));
        }
    }
    let id = requests::insert(conn, &request)?;
    if let Some(issue_id) = starts_issue {
        issues::set_first_request(conn, issue_id, id)?;
    }
    requests::add_update(
        conn,
        &NewUpdate {
            request_id: id,
            status: request.status,
            description: Some(submission.first_note),
            media_url: request.media_url.as_deref(),
            author: "resident",
            created_at: request.requested_at,
        },
    )?;
    Ok(Stored {
        id,
        request: request.into_owned(),
        duplicate_of,
    })
}

/// How the reporter of `request` may be recognised again: by e-mail, device or
/// account, whichever it gave; an anonymous report by the pseudonym of its source.
fn reporter_keys(request: &NewRequest, source: Option<&str>) -> Vec<String> {
    let named: Vec<String> = [
        ("email", &request.email),
        ("device", &request.device_id),
        ("account", &request.account_id),
    ]
    .into_iter()
    .filter_map(|(kind, value)| {
        value
            .as_deref()
            .map(|v| format!("{kind}:{}", v.trim().to_lowercase()))
    })
    .collect();
    match source {
        // Several residents may share one address (a library, a carrier's gateway):
        // a resident who says who they are is counted as themselves.
        Some(source) if named.is_empty() => vec![format!("source:{source}")],
        _ => named,
    }
}
