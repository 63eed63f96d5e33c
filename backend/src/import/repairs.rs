//! Repairs and other events on segments (pothole fills, resurfacing, water-main
//! breaks…) from a city's records. Each is a dated fact of the kind the mapping gives,
//! on the segment its street id or position names; the risk features read them as they
//! read Upkeep's own maintenance history.

use super::locate::Locator;
use super::mapping::CheckedMapping;
use super::{Cells, Context, Fault, ImportError, Importer, Summary};
use crate::db::maintenance::{self, ImportedMaintenance};
use crate::db::{Conn, DbResult};
use sha2::{Digest, Sha256};
use std::collections::HashMap;

pub struct Repairs<'a> {
    mapping: &'a CheckedMapping,
    locator: Locator<'a>,
    /// How often each row fingerprint has been seen in this import, for sources
    /// without ids (see [`Repairs::external_id`]); keyed by its first eight bytes, so
    /// a log of millions of rows stays small.
    seen: HashMap<u64, u32>,
}

pub struct Repair {
    line: u64,
    record: ImportedMaintenance,
}

impl<'a> Repairs<'a> {
    pub fn new(ctx: &Context<'a>, mapping: &'a CheckedMapping) -> Result<Self, ImportError> {
        let limit = mapping.mapping.snap_limit_m.unwrap_or(ctx.snap_limit_m);
        Ok(Repairs {
            mapping,
            locator: Locator::load(ctx.db, ctx.segments, limit)?,
            seen: HashMap::new(),
        })
    }

    /// The source's id of a row, or, for a source without ids (a crew's GPS log), a
    /// fingerprint of the row's cells, numbered when the same row occurs again. The same
    /// file gives the same ids each time it is read, so a second import adds nothing.
    fn external_id(&mut self, cells: &Cells<'_>) -> String {
        if let Some(id) = cells.text("id") {
            return id.to_owned();
        }
        let mut hash = Sha256::new();
        for (column, value) in cells.row.cells() {
            hash.update(column.as_bytes());
            hash.update([0x1f]);
            hash.update(value.trim().as_bytes());
            hash.update([0x1e]);
        }
        let digest = hash.finalize();
        let fingerprint: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
        let mut key = [0u8; 8];
        key.copy_from_slice(&digest[..8]);
        let seen = self.seen.entry(u64::from_le_bytes(key)).or_insert(0);
        *seen += 1;
        if *seen == 1 {
            format!("row:{fingerprint}")
        } else {
            format!("row:{fingerprint}#{seen}")
        }
    }
}

impl Importer for Repairs<'_> {
    type Record = Repair;

    fn read(&mut self, cells: &Cells<'_>) -> Result<Repair, Fault> {
        let performed_at = cells.time("performed")?.ok_or_else(|| {
            Fault::new(
                cells.column("performed"),
                "is empty: every row needs its time",
            )
        })?;
        let kind = match cells.text("kind") {
            Some(word) => match (
                self.mapping.mapping.kinds.get(word),
                &self.mapping.mapping.default_kind,
            ) {
                (Some(kind), _) | (None, Some(kind)) => kind.clone(),
                (None, None) => {
                    return Err(Fault::new(
                        cells.column("kind"),
                        format!("'{word}' is not a kind the mapping knows"),
                    ));
                }
            },
            None => self.mapping.mapping.default_kind.clone().ok_or_else(|| {
                Fault::new(
                    cells.column("kind"),
                    "is empty and the mapping has no default_kind",
                )
            })?,
        };
        let segment_id = self.locator.one(cells)?;
        let external_id = self.external_id(cells);
        Ok(Repair {
            line: cells.line(),
            record: ImportedMaintenance {
                segment_id,
                kind,
                performed_at,
                notes: cells.text("notes").map(str::to_owned),
                source: self.mapping.mapping.source.clone(),
                external_id,
            },
        })
    }

    fn line(record: &Repair) -> u64 {
        record.line
    }

    fn store(&mut self, conn: &mut Conn<'_>, batch: &mut [Repair]) -> DbResult<Summary> {
        let ids: Vec<&str> = batch
            .iter()
            .map(|r| r.record.external_id.as_str())
            .collect();
        let stored: HashMap<String, _> =
            maintenance::imported(conn, &self.mapping.mapping.source, &ids)?
                .into_iter()
                .map(|((external, _), row)| (external, row))
                .collect();
        let mut counted = Summary::default();
        let mut new = Vec::new();
        let mut in_batch = std::collections::HashSet::new();
        for Repair { record, .. } in batch.iter() {
            match stored.get(&record.external_id) {
                Some(event) => {
                    if (&event.kind, &event.performed_at, &event.notes)
                        == (&record.kind, &record.performed_at, &record.notes)
                    {
                        counted.already_present += 1;
                    } else {
                        maintenance::update_imported(conn, event.id, record)?;
                        counted.updated += 1;
                    }
                }
                // A source that repeats an id in one batch: the first row stands.
                None if !in_batch.insert(record.external_id.as_str()) => {
                    counted.already_present += 1;
                }
                None => {
                    new.push(record.clone());
                    counted.imported += 1;
                }
            }
        }
        maintenance::insert_imported(conn, &new)?;
        Ok(counted)
    }
}

/// Stores the events (resurfacing dated from a rating or a street's attributes) that
/// their source has not stored before on their segment; returns how many were new.
pub(super) fn store_new_events(
    conn: &mut Conn<'_>,
    source: &str,
    events: Vec<ImportedMaintenance>,
) -> DbResult<u64> {
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e.external_id.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let stored = maintenance::imported(conn, source, &ids)?;
    let mut seen = std::collections::HashSet::new();
    let new: Vec<ImportedMaintenance> = events
        .into_iter()
        .filter(|e| {
            let key = (e.external_id.clone(), e.segment_id);
            !stored.contains_key(&key) && seen.insert(key)
        })
        .collect();
    maintenance::insert_imported(conn, &new)?;
    Ok(new.len() as u64)
}
