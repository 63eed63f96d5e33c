//! Work orders (design §3): how they are made ([`creation`]), how they change and what
//! completing one does ([`lifecycle`]), their priorities ([`prioritisation`]), the weekly
//! proactive inspections ([`inspections`]) and a crew's day ([`crew_day`]).
//!
//! Each workflow opens its own transaction and calls the per-table query functions of
//! [`crate::db`] in order; the HTTP layer parses input into [`Edit`] and maps
//! [`WorkOrderError`] to statuses.

mod creation;
mod crew_day;
mod inspections;
mod lifecycle;
mod prioritisation;

pub use creation::{open_for_issue, open_for_issues, open_for_reported, open_inspection};
pub use crew_day::{DAY_RADIUS_M, Day, JOB_MINUTES, SPEED_KMH, day};
pub use inspections::{INSPECTION_DAYS, plan_inspections, week_start, weekly_budget};
pub use lifecycle::{apply, transition};
pub use prioritisation::{current_weights, reprioritise};

use crate::catalogue::Catalogue;
use crate::db::DbError;
use crate::db::crews::CrewRow;
use crate::db::work_orders::WorkOrderRow;
pub use crate::domain::Material;
use crate::domain::{FieldError, Outcome, WorkOrderKind, WorkOrderStatus};
use chrono::NaiveDateTime;

/// Why a work-order action did not happen.
#[derive(Debug, thiserror::Error)]
pub enum WorkOrderError {
    #[error("work order {0} does not exist")]
    NotFound(i64),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

fn invalid(field: &str, message: impl Into<String>) -> WorkOrderError {
    WorkOrderError::Invalid(FieldError::new(field, message))
}

/// Issues that took reports since the work-order upkeep last looked: a new issue needs
/// its order, a joined one a new priority. Intake adds to it; the upkeep takes them all
/// at once, so under a stream of reports it looks at the few issues reported, not at
/// every open order in the city.
#[derive(Default)]
pub struct ReportedIssues {
    issues: std::sync::Mutex<std::collections::HashSet<i64>>,
    added: tokio::sync::Notify,
}

impl ReportedIssues {
    /// Notes that `issue_id` took a report, and wakes the upkeep.
    pub fn add(&self, issue_id: i64) {
        if let Ok(mut issues) = self.issues.lock() {
            issues.insert(issue_id);
        }
        self.added.notify_one();
    }

    /// Every issue noted since the last call, lowest id first.
    pub fn take(&self) -> Vec<i64> {
        let taken = match self.issues.lock() {
            Ok(mut issues) => std::mem::take(&mut *issues),
            Err(_) => Default::default(),
        };
        let mut ids: Vec<i64> = taken.into_iter().collect();
        ids.sort_unstable();
        ids
    }

    /// Waits until an issue is added (at once if one was added since the last wait).
    pub async fn added(&self) {
        self.added.notified().await
    }
}

/// The longest free text accepted in notes and reasons, characters.
pub const MAX_TEXT_CHARS: usize = 4000;
/// Most photos one order keeps.
pub const MAX_PHOTOS: usize = 20;
/// Most labour one order records, minutes (a month of round-the-clock work).
pub const MAX_LABOUR_MINUTES: i32 = 60 * 24 * 31;

/// A change asked for. Absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct Edit {
    pub status: Option<WorkOrderStatus>,
    /// Some(None) unassigns.
    pub crew_id: Option<Option<i64>>,
    pub due_at: Option<NaiveDateTime>,
    pub notes: Option<String>,
    pub photo_urls: Option<Vec<String>>,
    pub labour_minutes: Option<i32>,
    pub materials: Option<Vec<Material>>,
    /// What completing found; repaired unless said.
    pub outcome: Option<Outcome>,
    /// Why an order is cancelled or reopened (required for both).
    pub reason: Option<String>,
    /// What residents read when the order completes; a sentence is written if absent.
    pub resident_note: Option<String>,
    /// A resident said the finished work did not fix the problem: reopening counts
    /// as a reopen, and the reports' history names the resident.
    pub by_resident: bool,
}

impl Edit {
    /// Checks what can be checked without the stored order.
    pub fn check(&self) -> Result<(), FieldError> {
        for (field, text) in [
            ("notes", &self.notes),
            ("reason", &self.reason),
            ("resident_note", &self.resident_note),
        ] {
            if text
                .as_ref()
                .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
            {
                return Err(FieldError::new(
                    field,
                    format!("is longer than {MAX_TEXT_CHARS} characters"),
                ));
            }
        }
        if let Some(urls) = &self.photo_urls {
            if urls.len() > MAX_PHOTOS {
                return Err(FieldError::new(
                    "photo_urls",
                    format!("holds more than {MAX_PHOTOS} photos"),
                ));
            }
            for (i, raw) in urls.iter().enumerate() {
                let ok = url::Url::parse(raw).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
                    || (raw.starts_with("/media/") && !raw.contains(".."));
                if !ok {
                    return Err(FieldError::new(
                        format!("photo_urls[{i}]"),
                        format!("'{raw}' is not an http(s) URL or a /media/ path"),
                    ));
                }
            }
        }
        if let Some(minutes) = self.labour_minutes
            && !(0..=MAX_LABOUR_MINUTES).contains(&minutes)
        {
            return Err(FieldError::new(
                "labour_minutes",
                format!("must be between 0 and {MAX_LABOUR_MINUTES} minutes"),
            ));
        }
        for (i, material) in self.materials.iter().flatten().enumerate() {
            if material.item.trim().is_empty() || material.item.chars().count() > 200 {
                return Err(FieldError::new(
                    format!("materials[{i}].item"),
                    "must name the item in 1 to 200 characters",
                ));
            }
            if !(material.quantity.is_finite() && material.quantity >= 0.0) {
                return Err(FieldError::new(
                    format!("materials[{i}].quantity"),
                    "must be a number of 0 or more",
                ));
            }
            if material.unit.chars().count() > 40 {
                return Err(FieldError::new(
                    format!("materials[{i}].unit"),
                    "must be at most 40 characters",
                ));
            }
        }
        Ok(())
    }
}

/// Whether `crew` does this kind of order (inspections go to road crews).
pub(crate) fn handles(crew: &CrewRow, order: &WorkOrderRow, catalogue: &Catalogue) -> bool {
    if order.kind == WorkOrderKind::Inspection {
        return handles_road_surface(crew, catalogue);
    }
    crew.handles().contains(&order.service_code)
}

/// Whether `crew` handles any road-surface defect (and so does inspections).
pub(crate) fn handles_road_surface(crew: &CrewRow, catalogue: &Catalogue) -> bool {
    crew.handles()
        .iter()
        .any(|code| catalogue.get(code).is_some_and(|s| s.road_surface))
}
