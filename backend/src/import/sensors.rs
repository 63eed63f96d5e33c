//! Sensor readings on segments: roughness (IRI, m/km) from probe vehicles and phone
//! apps, or whatever the mapping's `sensor_kind` names. A reading is recognised again by
//! its source, kind, segment and time.

use super::locate::Locator;
use super::mapping::CheckedMapping;
use super::{Cells, Context, Fault, ImportError, Importer, Summary};
use crate::db::sensor_readings::{self, NewReading};
use crate::db::{Conn, DbResult};
use std::collections::{BTreeMap, HashMap, HashSet};

/// What a reading measures unless the mapping says otherwise (the demo city's probes).
const ROUGHNESS: &str = "roughness_iri_m_per_km";

pub struct Sensors<'a> {
    mapping: &'a CheckedMapping,
    locator: Locator<'a>,
}

pub struct Reading {
    line: u64,
    reading: NewReading,
}

impl<'a> Sensors<'a> {
    pub fn new(ctx: &Context<'a>, mapping: &'a CheckedMapping) -> Result<Self, ImportError> {
        let limit = mapping.mapping.snap_limit_m.unwrap_or(ctx.snap_limit_m);
        Ok(Sensors {
            mapping,
            locator: Locator::load(ctx.db, ctx.segments, limit)?,
        })
    }
}

impl Importer for Sensors<'_> {
    type Record = Reading;

    fn read(&mut self, cells: &Cells<'_>) -> Result<Reading, Fault> {
        let observed_at = cells.time("observed")?.ok_or_else(|| {
            Fault::new(
                cells.column("observed"),
                "is empty: every reading needs its time",
            )
        })?;
        let value = cells.number("value")?.ok_or_else(|| {
            Fault::new(
                cells.column("value"),
                "is empty: every reading needs its value",
            )
        })?;
        if value < 0.0 {
            return Err(Fault::new(
                cells.column("value"),
                format!("{value} is below zero"),
            ));
        }
        let segment_id = self.locator.one(cells)?;
        let source = cells
            .text("device")
            .unwrap_or(&self.mapping.mapping.source)
            .to_owned();
        Ok(Reading {
            line: cells.line(),
            reading: NewReading {
                segment_id,
                kind: self
                    .mapping
                    .mapping
                    .sensor_kind
                    .clone()
                    .unwrap_or_else(|| ROUGHNESS.to_owned()),
                source,
                value,
                observed_at,
            },
        })
    }

    fn line(record: &Reading) -> u64 {
        record.line
    }

    fn store(&mut self, conn: &mut Conn<'_>, batch: &mut [Reading]) -> DbResult<Summary> {
        let mut counted = Summary::default();
        // One look-up per source and kind in the batch.
        let mut groups: BTreeMap<(&str, &str), Vec<&NewReading>> = BTreeMap::new();
        for Reading { reading, .. } in batch.iter() {
            groups
                .entry((reading.source.as_str(), reading.kind.as_str()))
                .or_default()
                .push(reading);
        }
        let mut new = Vec::new();
        for ((source, kind), readings) in groups {
            let segments: Vec<i64> = readings.iter().map(|r| r.segment_id).collect();
            let from = readings.iter().map(|r| r.observed_at).min();
            let to = readings.iter().map(|r| r.observed_at).max();
            let (Some(from), Some(to)) = (from, to) else {
                continue;
            };
            let stored: HashMap<_, _> =
                sensor_readings::known(conn, source, kind, &segments, (from, to))?;
            // The same reading twice in one batch: the first stands.
            let mut written = HashSet::new();
            for reading in readings {
                let key = (reading.segment_id, reading.observed_at);
                match stored.get(&key) {
                    _ if !written.insert(key) => counted.already_present += 1,
                    Some((_, value)) if *value == reading.value => counted.already_present += 1,
                    Some((id, _)) => {
                        sensor_readings::set_value(conn, *id, reading.value)?;
                        counted.updated += 1;
                    }
                    None => {
                        new.push(reading.clone());
                        counted.imported += 1;
                    }
                }
            }
        }
        sensor_readings::insert(conn, &new)?;
        Ok(counted)
    }
}
