//! "Is it fixed?": when a report closes, its reporter (if they left an address) gets a
//! single-use link, valid for 30 days, asking whether it is fixed and how satisfied
//! they are. "No" reopens the issue with their reason and sends it back to a crew.

use super::messages::Payload;
use crate::auth::Caller;
use crate::catalogue::Catalogue;
use crate::db::feedback::{self as store, FeedbackRow, NewFeedback};
use crate::db::{Conn, Database, DbError, DbResult, work_orders};
use crate::domain::{FieldError, RequestStatus, Role, WorkOrderStatus};
use crate::work_orders::{Edit, WorkOrderError};
use chrono::{Duration, NaiveDateTime};

/// How long a question can be answered, in days.
pub const VALID_DAYS: i64 = 30;
/// The longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 2000;

/// Asks the reporters of the just-closed reports `request_ids` whether it is fixed, in
/// the caller's transaction. `order` is the work order that closed them, with its crew.
/// A report already asked and not yet answered is not asked again.
pub fn ask(
    conn: &mut Conn<'_>,
    catalogue: Option<&Catalogue>,
    request_ids: &[i64],
    order: Option<(i64, Option<i64>)>,
    at: NaiveDateTime,
) -> DbResult<usize> {
    let mut asked = 0;
    for closed in store::closed_with_address(conn, request_ids)? {
        if store::pending_for(conn, closed.request_id, at)? {
            continue;
        }
        let (token, token_hash) = super::new_token();
        store::insert(
            conn,
            &NewFeedback {
                request_id: closed.request_id,
                issue_id: closed.issue_id,
                work_order_id: order.map(|(id, _)| id),
                crew_id: order.and_then(|(_, crew)| crew),
                ward_id: closed.ward_id,
                service_code: closed.service_code.clone(),
                token_hash,
                created_at: at,
                expires_at: at + Duration::days(VALID_DAYS),
            },
        )?;
        let service = catalogue
            .and_then(|c| c.get(&closed.service_code))
            .map_or(closed.service_code.clone(), |s| s.name.clone());
        super::enqueue_email(
            conn,
            &closed.email,
            None,
            &Payload::Feedback {
                request_id: closed.request_id,
                token: Some(token),
                service,
                note: closed.status_notes,
                address: closed.address,
            },
            at,
        )?;
        asked += 1;
    }
    Ok(asked)
}

/// Where a link stands.
#[derive(Debug, Clone)]
pub enum Standing {
    /// It can be answered.
    Open(FeedbackRow),
    /// It was answered (at).
    Used(NaiveDateTime),
    /// It ran out (at).
    Expired(NaiveDateTime),
    /// No such link.
    Unknown,
}

pub fn look(db: &Database, token: &str, now: NaiveDateTime) -> DbResult<Standing> {
    let hash = super::hash_token(token);
    let row = db.read(|conn| store::find_by_token(conn, &hash))?;
    Ok(match row {
        None => Standing::Unknown,
        Some(row) => match row.answered_at {
            Some(at) => Standing::Used(at),
            None if row.expires_at <= now => Standing::Expired(row.expires_at),
            None => Standing::Open(row),
        },
    })
}

/// A resident's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub fixed: bool,
    pub reason: Option<String>,
    /// 1 (not at all) to 5 (very).
    pub satisfaction: Option<i32>,
}

impl Answer {
    /// Reads the form's or JSON's words: `fixed` is yes/no (or true/false).
    pub fn parse(
        fixed: Option<&str>,
        reason: Option<&str>,
        satisfaction: Option<&str>,
    ) -> Result<Answer, FieldError> {
        let fixed = match fixed.map(|f| f.trim().to_ascii_lowercase()).as_deref() {
            Some("yes" | "true") => true,
            Some("no" | "false") => false,
            Some(other) => {
                return Err(FieldError::new(
                    "fixed",
                    format!("'{other}' is not yes or no"),
                ));
            }
            None => return Err(FieldError::new("fixed", "is required: yes or no")),
        };
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        if let Some(r) = reason {
            if r.chars().count() > MAX_REASON_CHARS {
                return Err(FieldError::new(
                    "reason",
                    format!("is longer than {MAX_REASON_CHARS} characters"),
                ));
            }
            if r.chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                return Err(FieldError::new("reason", "contains control characters"));
            }
        }
        let satisfaction = match satisfaction.map(str::trim).filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => match s.parse::<i32>() {
                Ok(n) if (1..=5).contains(&n) => Some(n),
                _ => {
                    return Err(FieldError::new(
                        "satisfaction",
                        format!("'{s}' is not a whole number from 1 to 5"),
                    ));
                }
            },
        };
        Ok(Answer {
            fixed,
            reason: reason.map(str::to_owned),
            satisfaction,
        })
    }
}

/// Why an answer was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum AnswerError {
    #[error("{0}")]
    Invalid(FieldError),
    #[error("this link was already used on {0}")]
    Used(NaiveDateTime),
    #[error("this link expired on {0}")]
    Expired(NaiveDateTime),
    #[error("this link is not one Upkeep sent")]
    Unknown,
    #[error("the report could not be reopened: {0}")]
    Reopen(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What an answer did.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub request_id: i64,
    /// The report was reopened and sent back to a crew.
    pub reopened: bool,
}

/// Records the answer for `token`, once; "not fixed" reopens the issue.
pub fn answer(
    db: &Database,
    catalogue: &Catalogue,
    token: &str,
    answer: &Answer,
    now: NaiveDateTime,
) -> Result<Recorded, AnswerError> {
    let row = match look(db, token, now)? {
        Standing::Open(row) => row,
        Standing::Used(at) => return Err(AnswerError::Used(at)),
        Standing::Expired(at) => return Err(AnswerError::Expired(at)),
        Standing::Unknown => return Err(AnswerError::Unknown),
    };
    if !answer.fixed && answer.reason.is_none() {
        return Err(AnswerError::Invalid(FieldError::new(
            "reason",
            "is required when it is not fixed: say what is still wrong",
        )));
    }
    // Taking the answer is the token's single use: of two answers at once, one wins.
    let recorded = db.write(|conn| {
        store::answer(
            conn,
            row.id,
            answer.fixed,
            answer.reason.as_deref(),
            answer.satisfaction,
            now,
        )
    })?;
    if !recorded {
        return match look(db, token, now)? {
            Standing::Expired(at) => Err(AnswerError::Expired(at)),
            Standing::Used(at) => Err(AnswerError::Used(at)),
            _ => Err(AnswerError::Unknown),
        };
    }
    if answer.fixed {
        return Ok(Recorded {
            request_id: row.request_id,
            reopened: false,
        });
    }
    let reason = answer.reason.as_deref().unwrap_or_default();
    if let Err(error) = reopen(db, catalogue, &row, reason, now) {
        // Nothing was reopened: the link may be used again.
        db.write(|conn| store::forget_answer(conn, row.id))?;
        return Err(error);
    }
    Ok(Recorded {
        request_id: row.request_id,
        reopened: true,
    })
}

/// Sends the issue back to a crew: its last order reopened (to its crew, if it had
/// one), or, for a report closed without an order, the report reopened so the usual
/// upkeep makes an order for it.
fn reopen(
    db: &Database,
    catalogue: &Catalogue,
    row: &FeedbackRow,
    reason: &str,
    now: NaiveDateTime,
) -> Result<(), AnswerError> {
    let words = format!("Reopened: a resident says it is not fixed: {reason}");
    let order = match row.issue_id {
        Some(issue) => db.read(|conn| work_orders::last_of_issue(conn, issue))?,
        None => None,
    };
    if let Some(order) = order.filter(|o| !o.status.is_open()) {
        let caller = Caller {
            name: "resident".into(),
            role: Role::Planner,
            // No key: the link's token is the resident's authority.
            key_id: 0,
            crew_id: None,
        };
        let edit = Edit {
            status: Some(if order.crew_id.is_some() {
                WorkOrderStatus::Assigned
            } else {
                WorkOrderStatus::New
            }),
            reason: Some(format!("a resident says it is not fixed: {reason}")),
            resident_note: Some(words),
            by_resident: true,
            ..Edit::default()
        };
        return crate::work_orders::apply(db, catalogue, &caller, order.id, &edit, now)
            .map(|_| ())
            .map_err(|e| match e {
                WorkOrderError::Db(e) => AnswerError::Db(e),
                other => AnswerError::Reopen(other.to_string()),
            });
    }
    crate::report_status::change(
        db,
        catalogue,
        row.request_id,
        RequestStatus::Acknowledged,
        Some(&words),
        "resident",
        None,
        now,
    )?
    .map(|_| ())
    .map_err(|_| AnswerError::Reopen(format!("report {} no longer exists", row.request_id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_reads_yes_or_no_a_reason_and_a_score_from_one_to_five() {
        let a = Answer::parse(Some("no"), Some(" still a hole "), Some("2")).unwrap();
        assert_eq!(
            a,
            Answer {
                fixed: false,
                reason: Some("still a hole".into()),
                satisfaction: Some(2)
            }
        );
        assert!(Answer::parse(Some("yes"), None, None).unwrap().fixed);
        assert_eq!(Answer::parse(None, None, None).unwrap_err().field, "fixed");
        assert_eq!(
            Answer::parse(Some("maybe"), None, None).unwrap_err().field,
            "fixed"
        );
        for bad in ["0", "6", "3.5", "five"] {
            assert_eq!(
                Answer::parse(Some("yes"), None, Some(bad))
                    .unwrap_err()
                    .field,
                "satisfaction"
            );
        }
        assert_eq!(
            Answer::parse(Some("no"), Some("bad\u{7}bell"), None)
                .unwrap_err()
                .field,
            "reason"
        );
    }
}
