//! Importing a city's history: past reports (this far), each kind read through a
//! mapping file (`data/mappings/`). Every row that cannot be read is reported with its
//! file, line, field and reason, and every good row is still stored; importing the same
//! file again updates what changed and adds nothing.

pub mod mapping;
pub mod reports;

use crate::db::DbError;
use crate::domain::FieldError;
use serde::Serialize;

/// What an import did, row by row.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    /// Data rows read (headers aside).
    pub read: u64,
    /// Rows stored as new records.
    pub imported: u64,
    /// Rows whose record was stored before and has changed since (status, times).
    pub updated: u64,
    /// New reports that joined an issue already reported nearby at the time.
    pub joined_to_issue: u64,
    /// New reports without a position, kept with their address.
    pub address_only: u64,
    /// Rows that could not be read; each is in `rejects`.
    pub rejected: u64,
    /// Rows stored before and unchanged.
    pub already_present: u64,
    pub rejects: Vec<Rejected>,
}

impl Summary {
    /// Rows that were read well, stored or not.
    pub fn good(&self) -> u64 {
        self.imported + self.updated + self.already_present
    }

    fn add(&mut self, other: &Summary) {
        self.imported += other.imported;
        self.updated += other.updated;
        self.joined_to_issue += other.joined_to_issue;
        self.address_only += other.address_only;
        self.already_present += other.already_present;
    }
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    pub file: String,
    /// The row's line in the file (the header is line 1).
    pub line: u64,
    /// The column (as the file names it) at fault, or `row` for the row as a whole.
    pub field: String,
    pub reason: String,
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the mapping is not usable: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Mapping(Vec<FieldError>),
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
    #[error("{file}: the mapping names column '{column}', which the file's header does not have")]
    Header { file: String, column: String },
    /// Rows before `line` are stored; importing the same files again resumes, since
    /// stored rows are recognised by their id.
    #[error(
        "{file}: stopped at the batch starting on line {line}: {error}; rows before it are stored, and running the same import again resumes"
    )]
    Stopped {
        file: String,
        line: u64,
        error: DbError,
    },
}
