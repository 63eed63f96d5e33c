//! Staff setting a report's status directly (not through its work order), and what that
//! does to the report's issue and the issue's open order, in one transaction.

use crate::db::requests::{self, NewUpdate, RequestRow};
use crate::db::{Database, DbResult, issues, work_orders};
use crate::domain::RequestStatus;
use chrono::NaiveDateTime;

/// Why an order is cancelled when its issue is closed by a report's status.
const CANCEL_REASON: &str = "its issue was closed by a change to a report's status";

/// Why a status change was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// There is no accepted report with that id.
    NotFound,
    /// The caller is a crew and the report's work order is not theirs.
    NotTheirs,
}

/// Sets report `id`'s status with a note for the resident and records it in the
/// history. A closed report closes its issue, so later reports there start a new one,
/// and cancels the issue's open work order. `crew` is the caller's crew when a crew
/// makes the change: a crew changes only reports whose work order is theirs (planners
/// and admins pass `None` and change any). A closed report's reporter is asked "is it
/// fixed?". Returns the updated report.
#[allow(clippy::too_many_arguments)]
pub fn change(
    db: &Database,
    catalogue: &crate::catalogue::Catalogue,
    id: i64,
    status: RequestStatus,
    notes: Option<&str>,
    author: &str,
    crew: Option<i64>,
    at: NaiveDateTime,
) -> DbResult<Result<RequestRow, Refused>> {
    db.write(|conn| {
        if let Some(crew) = crew {
            let Some(report) = requests::find(conn, id)? else {
                return Ok(Err(Refused::NotFound));
            };
            let theirs = match report.issue_id {
                Some(issue) => work_orders::issue_has_crew(conn, issue, crew)?,
                None => false,
            };
            if !theirs {
                return Ok(Err(Refused::NotTheirs));
            }
        }
        let Some(row) = requests::set_status(conn, id, status, notes, at)? else {
            return Ok(Err(Refused::NotFound));
        };
        if let Some(issue_id) = row.issue_id {
            issues::set_open(conn, issue_id, status.is_open(), at)?;
            if !status.is_open() {
                work_orders::cancel_open_of_issue(conn, issue_id, author, CANCEL_REASON, at)?;
            }
        }
        if !status.is_open() {
            crate::alerts::feedback::ask(conn, Some(catalogue), &[row.id], None, at)?;
        }
        requests::add_update(
            conn,
            &NewUpdate {
                request_id: row.id,
                status,
                description: notes,
                media_url: None,
                author,
                created_at: at,
            },
        )?;
        Ok(Ok(row))
    })
}
