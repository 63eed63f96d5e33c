//! Which segment a row is about: by the source's street id where the file has one (a
//! street cut into pieces has several segments), else by snapping its position.

use super::{Cells, Fault, ImportError};
use crate::db::Database;
use crate::spatial::SegmentIndex;
use std::collections::HashMap;

/// The source's street id of a row (`segment`), as segments store it: spreadsheets
/// write whole numbers as 12581174.0.
pub fn street_id<'c>(cells: &Cells<'c>) -> Option<&'c str> {
    let street = cells.text("segment")?;
    Some(street.strip_suffix(".0").unwrap_or(street))
}

pub struct Locator<'a> {
    by_external: HashMap<String, Vec<i64>>,
    index: &'a SegmentIndex,
    limit_m: f64,
}

impl<'a> Locator<'a> {
    pub fn load(db: &Database, index: &'a SegmentIndex, limit_m: f64) -> Result<Self, ImportError> {
        let pairs = db
            .read(crate::db::segments::external_ids)
            .map_err(ImportError::Prepare)?;
        let mut by_external: HashMap<String, Vec<i64>> = HashMap::new();
        for (id, external) in pairs {
            by_external.entry(external).or_default().push(id);
        }
        for ids in by_external.values_mut() {
            ids.sort_unstable();
        }
        Ok(Locator {
            by_external,
            index,
            limit_m,
        })
    }

    /// Every segment of a street, by its external id.
    pub fn pieces(&self, street: &str) -> Option<&[i64]> {
        self.by_external.get(street).map(Vec::as_slice)
    }

    /// Remembers segments made during the import.
    pub fn add(&mut self, street: &str, ids: &[i64]) {
        self.by_external
            .entry(street.to_owned())
            .or_default()
            .extend_from_slice(ids);
    }

    /// Every segment of the street the row names (`segment`), if it names one.
    pub fn street(&self, cells: &Cells<'_>) -> Result<Option<&[i64]>, Fault> {
        let Some(street) = street_id(cells) else {
            return Ok(None);
        };
        self.by_external
            .get(street)
            .map(|ids| Some(ids.as_slice()))
            .ok_or_else(|| {
                Fault::new(
                    cells.column("segment"),
                    format!("'{street}' is the external id of no segment"),
                )
            })
    }

    /// The one segment a row is about: the piece of its street nearest its position, or
    /// the segment its position snaps to within the limit.
    pub fn one(&self, cells: &Cells<'_>) -> Result<i64, Fault> {
        let position = cells.position()?;
        // A street id Upkeep does not know still has a position to snap.
        let street = match (self.street(cells), position) {
            (Ok(street), _) => street,
            (Err(_), Some(_)) => None,
            (Err(fault), None) => return Err(fault),
        };
        match (street, position) {
            (Some([only]), _) => Ok(*only),
            (Some(pieces), Some(point)) => Ok(self
                .index
                .snap_among(point, self.limit_m, |id| pieces.contains(&id))
                .map_or(pieces[0], |snap| snap.segment_id)),
            (Some(pieces), None) => Ok(pieces[0]),
            (None, Some(point)) => self
                .index
                .snap(point, self.limit_m)
                .map(|snap| snap.segment_id)
                .ok_or_else(|| {
                    let column = cells
                        .mapping
                        .column("point")
                        .or(cells.mapping.column("lat"))
                        .unwrap_or("position");
                    Fault::new(
                        column,
                        format!(
                            "({:.6}, {:.6}) is more than {} m from every segment",
                            point.lat, point.lon, self.limit_m
                        ),
                    )
                }),
            (None, None) => Err(Fault::new(
                cells.column("segment"),
                "is empty and the row has no position: it belongs to no segment",
            )),
        }
    }
}
