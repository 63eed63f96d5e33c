//! Staff setting a report's status directly (not through its work order), and what that
//! does to the report's issue and the issue's open order, in one transaction.

use crate::db::requests::{self, NewUpdate, RequestRow};
use crate::db::{Database, DbResult, issues, work_orders};
use crate::domain::RequestStatus;
use chrono::NaiveDateTime;

/// Why an order is cancelled when its issue is closed by a report's status.
const CANCEL_REASON: &str = "its issue was closed by a change to a report's status";

/// Sets report `id`'s status with a note for the resident and records it in the
/// history. A closed report closes its issue, so later reports there start a new one,
/// and cancels the issue's open work order. Returns the updated report, or None if
/// there is no accepted report with that id.
pub fn change(
    db: &Database,
    id: i64,
    status: RequestStatus,
    notes: Option<&str>,
    author: &str,
    at: NaiveDateTime,
) -> DbResult<Option<RequestRow>> {
    db.write(|conn| {
        let Some(row) = requests::set_status(conn, id, status, notes, at)? else {
            return Ok(None);
        };
        if let Some(issue_id) = row.issue_id {
            issues::set_open(conn, issue_id, status.is_open(), at)?;
            if !status.is_open() {
                work_orders::cancel_open_of_issue(conn, issue_id, author, CANCEL_REASON, at)?;
            }
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
        Ok(Some(row))
    })
}
