//! Attributes joined onto segments by the source's street id: name, road class,
//! surface, traffic (AADT), bus route, last resurfacing, and further columns kept whole
//! in the segment's properties. A street Upkeep does not have yet is made from the row's
//! start and end points when the file gives them (a centreline kept in a spreadsheet).
//! A resurfacing date also becomes a dated resurfacing event.

use super::locate::Locator;
use super::mapping::CheckedMapping;
use super::ratings::overlay_done;
use super::{Cells, Context, Fault, ImportError, Importer, Summary};
use crate::db::maintenance::ImportedMaintenance;
use crate::db::segments::{self, SegmentChanges, SegmentRow};
use crate::db::{Conn, DbResult};
use crate::domain::{Coordinates, SegmentClass};
use chrono::{Datelike, NaiveDate};
use serde_json::{Map, Value};
use std::collections::HashMap;

pub struct Attributes<'a> {
    mapping: &'a CheckedMapping,
    locator: Locator<'a>,
    /// Each street read in this import, with its line and values. A file that lists a
    /// street twice with other values keeps the first, so a second import changes
    /// nothing.
    seen: HashMap<String, (u64, SegmentChanges, Map<String, Value>)>,
}

pub struct Row {
    line: u64,
    street: String,
    changes: SegmentChanges,
    /// Columns kept whole in the properties.
    kept: Map<String, Value>,
    /// Start and end, when the street is new and is made from them.
    ends: Option<[(f64, f64); 2]>,
}

impl<'a> Attributes<'a> {
    pub fn new(ctx: &Context<'a>, mapping: &'a CheckedMapping) -> Result<Self, ImportError> {
        Ok(Attributes {
            mapping,
            locator: Locator::load(ctx.db, ctx.segments, ctx.snap_limit_m)?,
            seen: HashMap::new(),
        })
    }
}

/// A day written as a date in the mapping's format, or as a bare year (its last day:
/// see [`overlay_done`]).
fn day_or_year(cells: &Cells<'_>, role: &str) -> Result<Option<NaiveDate>, Fault> {
    match cells.year(role) {
        Ok(Some(year)) => Ok(overlay_done(year).map(|t| t.date())),
        Ok(None) => Ok(None),
        Err(_) => cells.date(role),
    }
}

impl Importer for Attributes<'_> {
    type Record = Row;

    fn read(&mut self, cells: &Cells<'_>) -> Result<Row, Fault> {
        cells.required("segment")?;
        let street = super::locate::street_id(cells)
            .unwrap_or_default()
            .to_owned();
        let class = cells.text("class").map(|word| {
            self.mapping
                .classes
                .get(word)
                .cloned()
                .unwrap_or_else(|| SegmentClass::from_word(word))
        });
        let aadt = cells
            .number("aadt")?
            .map(|n| {
                (n >= 0.0 && n <= f64::from(i32::MAX))
                    .then(|| n.round() as i32)
                    .ok_or_else(|| {
                        Fault::new(
                            cells.column("aadt"),
                            format!("{n} is not a count of vehicles per day"),
                        )
                    })
            })
            .transpose()?;
        let end = |lon: &str, lat: &str| -> Result<Option<(f64, f64)>, Fault> {
            let pair = Coordinates::parse_pair(
                cells.text(lat),
                cells.text(lon),
                &cells.column(lat),
                &cells.column(lon),
            )
            .map_err(|e| Fault::new(e.field, e.message))?;
            Ok(pair.map(|p| (p.lon, p.lat)))
        };
        let ends = match (end("start_lon", "start_lat")?, end("end_lon", "end_lat")?) {
            (Some(a), Some(b)) if a != b => Ok([a, b]),
            (Some(_), Some(_)) => Err(
                "starts and ends at the same point (a loop), so its line cannot be drawn from its ends",
            ),
            _ => Err("has no start and end to make it from"),
        };
        let ends = match (self.locator.pieces(&street), ends) {
            (Some(_), _) => None,
            (None, Ok(ends)) => Some(ends),
            (None, Err(why)) => {
                return Err(Fault::new(
                    cells.column("segment"),
                    format!("'{street}' is the external id of no segment, and the row {why}"),
                ));
            }
        };
        let kept = self
            .mapping
            .mapping
            .keep
            .iter()
            .filter_map(|column| {
                let value = cells.row.get(column)?.trim();
                (!cells.mapping.is_missing(value))
                    .then(|| (column.clone(), Value::String(value.to_owned())))
            })
            .collect();
        let changes = SegmentChanges {
            name: cells.text("name").map(str::to_owned),
            road_class: class,
            surface: cells.text("surface").map(|w| self.mapping.pavement(w)),
            aadt,
            bus_route: cells.flag("bus_route")?,
            last_resurfaced: day_or_year(cells, "last_resurfaced")?,
            properties: None,
            updated_at: None,
        };
        match self.seen.get(&street) {
            Some((_, before, kept_before)) if *before == changes && *kept_before == kept => {}
            Some((line, _, _)) => {
                return Err(Fault::new(
                    cells.column("segment"),
                    format!(
                        "repeats street '{street}' read before (line {line}) with other values; the first stands"
                    ),
                ));
            }
            None => {
                self.seen.insert(
                    street.clone(),
                    (cells.line(), changes.clone(), kept.clone()),
                );
            }
        }
        Ok(Row {
            line: cells.line(),
            street,
            changes,
            kept,
            ends,
        })
    }

    fn line(record: &Row) -> u64 {
        record.line
    }

    fn store(&mut self, conn: &mut Conn<'_>, batch: &mut [Row]) -> DbResult<Summary> {
        let now = crate::domain::now();
        let mut counted = Summary::default();
        let mut resurfaced = Vec::new();
        for row in batch.iter() {
            let Some(pieces) = self.locator.pieces(&row.street).map(<[i64]>::to_vec) else {
                // Read found no segment, so the row has its ends.
                let Some(ends) = row.ends else { continue };
                let made = segments::insert(conn, &new_street(row, ends, now))?;
                self.locator.add(&row.street, &made);
                if let Some(day) = row.changes.last_resurfaced {
                    resurfaced.extend(made.iter().map(|&s| (s, day)));
                }
                counted.imported += 1;
                counted.derived += made.len() as u64;
                continue;
            };
            let mut changed = false;
            for stored in segments::by_ids(conn, &pieces)? {
                let changes = differences(&stored, row);
                if changes != SegmentChanges::default() {
                    segments::change(
                        conn,
                        stored.id,
                        &SegmentChanges {
                            updated_at: Some(now),
                            ..changes
                        },
                    )?;
                    changed = true;
                }
                if let Some(day) = row.changes.last_resurfaced {
                    resurfaced.push((stored.id, day));
                }
            }
            if changed {
                counted.updated += 1;
            } else {
                counted.already_present += 1;
            }
        }
        let source = &self.mapping.mapping.source;
        super::repairs::store_new_events(conn, source, resurfacing_events(source, &resurfaced))?;
        Ok(counted)
    }
}

/// What `row` would change on a stored segment (unchanged attributes left `None`).
fn differences(stored: &SegmentRow, row: &Row) -> SegmentChanges {
    fn differs<T: PartialEq + Clone>(new: &Option<T>, old: Option<&T>) -> Option<T> {
        new.as_ref().filter(|n| Some(*n) != old).cloned()
    }
    let c = &row.changes;
    let properties = if row.kept.is_empty() {
        None
    } else {
        let mut merged: Map<String, Value> = stored
            .properties
            .as_deref()
            .and_then(|p| serde_json::from_str(p).ok())
            .unwrap_or_default();
        let before = merged.clone();
        merged.extend(row.kept.clone());
        (merged != before).then(|| Value::Object(merged).to_string())
    };
    SegmentChanges {
        name: differs(&c.name, stored.name.as_ref()),
        road_class: differs(&c.road_class, Some(&stored.road_class)),
        surface: differs(&c.surface, stored.surface.as_ref()),
        aadt: differs(&c.aadt, stored.aadt.as_ref()),
        bus_route: differs(&c.bus_route, Some(&stored.bus_route)),
        // The snapshot only moves forward; the past stays in the dated events.
        last_resurfaced: c
            .last_resurfaced
            .filter(|day| stored.last_resurfaced.is_none_or(|old| *day > old)),
        properties,
        updated_at: None,
    }
}

/// A street the source has and Upkeep did not: a straight line from start to end.
fn new_street(row: &Row, ends: [(f64, f64); 2], now: chrono::NaiveDateTime) -> Vec<SegmentRow> {
    let c = &row.changes;
    let template = SegmentRow {
        id: 0,
        external_id: Some(row.street.clone()),
        name: c.name.clone(),
        road_class: c
            .road_class
            .clone()
            .unwrap_or_else(|| SegmentClass::from_word("local")),
        surface: c.surface.clone(),
        length_m: 0.0,
        aadt: c.aadt,
        bus_route: c.bus_route.unwrap_or(false),
        last_resurfaced: c.last_resurfaced,
        ward_id: None,
        neighbourhood: None,
        geometry: String::new(),
        min_lon: 0.0,
        min_lat: 0.0,
        max_lon: 0.0,
        max_lat: 0.0,
        properties: Some(Value::Object(row.kept.clone()).to_string()),
        created_at: now,
        updated_at: now,
        cell: 0,
    };
    crate::roads::segments_along(&[ends.to_vec()], &template)
}

/// Each (segment, day) of resurfacing as a dated event.
fn resurfacing_events(source: &str, done: &[(i64, NaiveDate)]) -> Vec<ImportedMaintenance> {
    done.iter()
        .filter_map(|(segment_id, day)| {
            Some(ImportedMaintenance {
                segment_id: *segment_id,
                kind: "resurfacing".to_owned(),
                performed_at: day.and_hms_opt(0, 0, 0)?,
                notes: Some(format!("resurfaced {} (street attributes)", day.year())),
                source: source.to_owned(),
                external_id: format!("resurfaced:{}", day.format("%Y-%m-%d")),
            })
        })
        .collect()
}
