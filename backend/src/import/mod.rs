//! Importing a city's history: past reports, repairs, condition ratings, sensor
//! readings, weather and street attributes, each read through a mapping file
//! (`data/mappings/`) from CSV, Open311 JSON or XML, or Socrata JSON. Every row that
//! cannot be read is reported with its file, line, field and reason, and every good row
//! is still stored; importing the same file again updates what changed and adds nothing.
//!
//! One driver ([`import`]) streams the rows of every file, checks each for control
//! characters, hands it to the kind's importer to read, and stores what was read in
//! batches of one transaction each.

mod attributes;
mod cells;
mod locate;
pub mod mapping;
pub mod quality;
mod ratings;
mod repairs;
pub mod reports;
pub mod rows;
mod sensors;
mod weather;

use crate::catalogue::Catalogue;
use crate::db::{Conn, Database, DbError, DbResult};
use crate::domain::{FieldError, forbidden_control};
use crate::spatial::SegmentIndex;
pub use cells::{Cells, Fault};
use mapping::{CheckedMapping, Kind};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Rows stored per transaction.
const BATCH_ROWS: usize = 2_000;
/// Rejected rows and address-only ids listed in a summary; the counts go on. A file of
/// millions of bad rows must not hold them all in memory, and nobody reads past the
/// first thousands.
pub const MAX_LISTED: usize = 10_000;

/// What an import did, row by row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Summary {
    /// Data rows read (headers aside).
    pub read: u64,
    /// Rows stored as new records.
    pub imported: u64,
    /// Rows whose record was stored before and has changed since.
    pub updated: u64,
    /// New reports that joined an issue already reported nearby at the time.
    pub joined_to_issue: u64,
    /// New reports without a position, kept with their address.
    pub address_only: u64,
    /// Rows that could not be read; each is in `rejects`.
    pub rejected: u64,
    /// Rows stored before and unchanged.
    pub already_present: u64,
    /// Records a row made besides its own: resurfacing events from a rating's last
    /// overlay year, segments a row of attributes created.
    pub derived: u64,
    /// The source's ids of the new address-only reports (the first [`MAX_LISTED`]).
    pub address_only_ids: Vec<String>,
    /// Each mapped column of the file → in how many rows it held a value.
    pub filled: BTreeMap<String, u64>,
    /// The rows refused (the first [`MAX_LISTED`]; `rejected` counts them all).
    pub rejects: Vec<Rejected>,
}

/// Appends to a list that holds at most [`MAX_LISTED`] items.
fn list_more<T: Clone>(list: &mut Vec<T>, more: &[T]) {
    let room = MAX_LISTED.saturating_sub(list.len());
    list.extend(more.iter().take(room).cloned());
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
        list_more(&mut self.address_only_ids, &other.address_only_ids);
        self.already_present += other.already_present;
        self.derived += other.derived;
        self.rejected += other.rejected;
        list_more(&mut self.rejects, &other.rejects);
    }

    fn reject(&mut self, file: &str, line: u64, field: &str, reason: String) {
        self.rejected += 1;
        if self.rejects.len() >= MAX_LISTED {
            return;
        }
        self.rejects.push(Rejected {
            file: file.to_owned(),
            line,
            field: field.to_owned(),
            reason,
        });
    }
}

/// A row that could not be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rejected {
    pub file: String,
    /// The row's line in a CSV file (the header is line 1), or its record's number in a
    /// JSON or XML file.
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
    #[error("cannot prepare the import: {0}")]
    Prepare(DbError),
}

/// A file to import, and the name its rows are reported under.
#[derive(Debug, Clone)]
pub struct NamedFile {
    pub name: String,
    pub path: PathBuf,
}

impl NamedFile {
    /// A file reported under its own path.
    pub fn at(path: impl Into<PathBuf>) -> NamedFile {
        let path = path.into();
        NamedFile {
            name: path.display().to_string(),
            path,
        }
    }
}

/// What the importers need besides the rows.
pub struct Context<'a> {
    pub db: &'a Database,
    pub catalogue: &'a Catalogue,
    pub segments: &'a SegmentIndex,
    /// How far a point may be from its segment, metres (a mapping may say otherwise).
    pub snap_limit_m: f64,
    /// Check and count only; write nothing.
    pub dry_run: bool,
}

/// One kind's reading and storing of rows.
trait Importer {
    type Record;
    /// Reads one row; a fault names the column and why.
    fn read(&mut self, cells: &Cells<'_>) -> Result<Self::Record, Fault>;
    /// The line a record came from.
    fn line(record: &Self::Record) -> u64;
    /// Stores a batch in the transaction `conn` is in.
    fn store(&mut self, conn: &mut Conn<'_>, batch: &mut [Self::Record]) -> DbResult<Summary>;
    /// What storing a batch would count, on a dry run.
    fn dry_count(&self, batch: &[Self::Record]) -> Summary {
        Summary {
            imported: batch.len() as u64,
            ..Summary::default()
        }
    }
}

/// How far an import has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub rows: u64,
    /// Bytes of the files read so far, all files together.
    pub bytes: u64,
}

/// Imports every file in turn with the importer of the mapping's kind; `progress`
/// hears how far it has come after every batch.
pub fn import(
    ctx: &Context<'_>,
    mapping: &CheckedMapping,
    files: &[NamedFile],
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, ImportError> {
    let started_at = crate::domain::now();
    let summary = import_kind(ctx, mapping, files, progress)?;
    if !ctx.dry_run {
        let run = crate::db::import_runs::NewRun {
            source: mapping.mapping.source.clone(),
            kind: mapping.kind().as_str().to_owned(),
            started_at,
            finished_at: crate::domain::now(),
            files: serde_json::to_string(&files.iter().map(|f| &f.name).collect::<Vec<_>>())
                .unwrap_or_default(),
            summary: serde_json::to_string(&summary).unwrap_or_default(),
        };
        ctx.db
            .write(|conn| crate::db::import_runs::insert(conn, &run))
            .map_err(|error| ImportError::Stopped {
                file: files.last().map(|f| f.name.clone()).unwrap_or_default(),
                line: 0,
                error,
            })?;
        // The rows are in whatever happens here: the planner only guesses until later.
        if let Err(e) = ctx.db.refresh_statistics() {
            tracing::warn!(error = %e, "could not refresh the query planner's statistics");
        }
    }
    Ok(summary)
}

fn import_kind(
    ctx: &Context<'_>,
    mapping: &CheckedMapping,
    files: &[NamedFile],
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, ImportError> {
    match mapping.kind() {
        Kind::Reports => drive(
            ctx,
            mapping,
            files,
            progress,
            reports::Reports::new(ctx, mapping),
        ),
        Kind::Repairs => drive(
            ctx,
            mapping,
            files,
            progress,
            repairs::Repairs::new(ctx, mapping)?,
        ),
        Kind::Ratings => drive(
            ctx,
            mapping,
            files,
            progress,
            ratings::Ratings::new(ctx, mapping)?,
        ),
        Kind::Sensors => drive(
            ctx,
            mapping,
            files,
            progress,
            sensors::Sensors::new(ctx, mapping)?,
        ),
        Kind::Weather => drive(
            ctx,
            mapping,
            files,
            progress,
            weather::Weather::new(mapping),
        ),
        Kind::SegmentAttributes => drive(
            ctx,
            mapping,
            files,
            progress,
            attributes::Attributes::new(ctx, mapping)?,
        ),
    }
}

fn drive<I: Importer>(
    ctx: &Context<'_>,
    mapping: &CheckedMapping,
    files: &[NamedFile],
    progress: &mut dyn FnMut(Progress),
    mut importer: I,
) -> Result<Summary, ImportError> {
    let mut summary = Summary::default();
    let mut earlier_files = 0;
    for file in files {
        let mut batch = Vec::with_capacity(BATCH_ROWS);
        let consumed = std::cell::Cell::new(0);
        let mut tell = |rows| {
            progress(Progress {
                rows,
                bytes: earlier_files + consumed.get(),
            })
        };
        rows::each(file, mapping, &consumed, &mut |row| {
            summary.read += 1;
            let row = match row {
                Ok(row) => row,
                Err(unreadable) => {
                    summary.reject(&file.name, unreadable.line, "row", unreadable.reason);
                    return Ok(());
                }
            };
            for column in mapping.mapping.columns.values() {
                if row.get(column).is_some_and(|v| !mapping.is_missing(v)) {
                    *summary.filled.entry(column.clone()).or_insert(0) += 1;
                }
            }
            if let Some((column, c)) = row
                .cells()
                .find_map(|(column, value)| Some((column, forbidden_control(value)?)))
            {
                let reason = format!("holds the control character U+{:04X}", u32::from(c));
                summary.reject(&file.name, row.line, column, reason);
                return Ok(());
            }
            match importer.read(&Cells::new(mapping, &row)) {
                Ok(record) => batch.push(record),
                Err(fault) => summary.reject(&file.name, row.line, &fault.column, fault.reason),
            }
            if batch.len() == BATCH_ROWS {
                store(ctx, &mut importer, &file.name, &mut batch, &mut summary)?;
                tell(summary.read);
            }
            Ok(())
        })?;
        store(ctx, &mut importer, &file.name, &mut batch, &mut summary)?;
        tell(summary.read);
        earlier_files += consumed.get();
    }
    Ok(summary)
}

/// Stores a batch in one transaction (or, on a dry run, only counts it).
fn store<I: Importer>(
    ctx: &Context<'_>,
    importer: &mut I,
    file: &str,
    batch: &mut Vec<I::Record>,
    summary: &mut Summary,
) -> Result<(), ImportError> {
    if batch.is_empty() {
        return Ok(());
    }
    let first_line = batch.iter().map(I::line).min().unwrap_or(0);
    let mut counted = if ctx.dry_run {
        importer.dry_count(batch)
    } else {
        ctx.db
            .write(|conn| importer.store(conn, batch))
            .map_err(|error| ImportError::Stopped {
                file: file.to_owned(),
                line: first_line,
                error,
            })?
    };
    for reject in &mut counted.rejects {
        file.clone_into(&mut reject.file);
    }
    summary.add(&counted);
    batch.clear();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_every_refused_row_but_lists_only_the_first_ten_thousand() {
        let mut summary = Summary::default();
        for line in 0..(MAX_LISTED as u64 + 5) {
            summary.reject("f.csv", line, "row", "bad".into());
        }
        let batch = Summary {
            rejected: 3,
            rejects: vec![summary.rejects[0].clone(); 3],
            address_only_ids: vec!["A".into(); MAX_LISTED + 1],
            ..Summary::default()
        };
        summary.add(&batch);
        assert_eq!(summary.rejected, MAX_LISTED as u64 + 8);
        assert_eq!(summary.rejects.len(), MAX_LISTED);
        assert_eq!(summary.rejects.last().unwrap().line, MAX_LISTED as u64 - 1);
        assert_eq!(summary.address_only_ids.len(), MAX_LISTED);
    }
}
