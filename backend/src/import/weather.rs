//! A daily weather series per station in the GHCN-Daily layout: date, minimum and
//! maximum temperature (°C) and precipitation (mm). NOAA's raw files write tenths; a
//! mapping's `scale` reads them (`tmin = 0.1`).

use super::mapping::CheckedMapping;
use super::{Cells, Fault, Importer, Summary};
use crate::db::weather::{self, Day};
use crate::db::{Conn, DbResult};
use std::collections::{BTreeMap, HashMap, HashSet};

pub struct Weather<'a> {
    mapping: &'a CheckedMapping,
}

pub struct Observed {
    line: u64,
    day: Day,
}

impl<'a> Weather<'a> {
    pub fn new(mapping: &'a CheckedMapping) -> Self {
        Weather { mapping }
    }
}

impl Importer for Weather<'_> {
    type Record = Observed;

    fn read(&mut self, cells: &Cells<'_>) -> Result<Observed, Fault> {
        let day = cells
            .date("date")?
            .ok_or_else(|| Fault::new(cells.column("date"), "is empty: every row needs its day"))?;
        let figure = |role: &str, low: f64, high: f64, unit: &str| -> Result<f64, Fault> {
            let value = cells
                .number(role)?
                .ok_or_else(|| Fault::new(cells.column(role), "is empty"))?;
            if (low..=high).contains(&value) {
                Ok(value)
            } else {
                Err(Fault::new(
                    cells.column(role),
                    format!("{value} {unit} is outside {low} … {high} {unit}"),
                ))
            }
        };
        let tmin_c = figure("tmin", -90.0, 60.0, "°C")?;
        let tmax_c = figure("tmax", -90.0, 60.0, "°C")?;
        let precipitation_mm = figure("prcp", 0.0, 2_000.0, "mm")?;
        if tmin_c > tmax_c {
            return Err(Fault::new(
                cells.column("tmin"),
                format!("{tmin_c} °C is above the maximum, {tmax_c} °C"),
            ));
        }
        Ok(Observed {
            line: cells.line(),
            day: Day {
                station: cells
                    .text("station")
                    .unwrap_or(&self.mapping.mapping.source)
                    .to_owned(),
                day,
                tmin_c,
                tmax_c,
                precipitation_mm,
            },
        })
    }

    fn line(record: &Observed) -> u64 {
        record.line
    }

    fn store(&mut self, conn: &mut Conn<'_>, batch: &mut [Observed]) -> DbResult<Summary> {
        let mut counted = Summary::default();
        let mut stations: BTreeMap<&str, Vec<&Day>> = BTreeMap::new();
        for Observed { day, .. } in batch.iter() {
            stations.entry(day.station.as_str()).or_default().push(day);
        }
        let mut new = Vec::new();
        for (station, days) in stations {
            let dates: Vec<_> = days.iter().map(|d| d.day).collect();
            let stored: HashMap<_, _> = weather::known(conn, station, &dates)?;
            // A day the batch repeats: the first stands.
            let mut written = HashSet::new();
            for day in days {
                let figures = (day.tmin_c, day.tmax_c, day.precipitation_mm);
                match stored.get(&day.day) {
                    _ if !written.insert(day.day) => counted.already_present += 1,
                    Some(before) if *before == figures => counted.already_present += 1,
                    Some(_) => {
                        weather::update(conn, day)?;
                        counted.updated += 1;
                    }
                    None => {
                        new.push((*day).clone());
                        counted.imported += 1;
                    }
                }
            }
        }
        weather::insert(conn, &new)?;
        Ok(counted)
    }
}
