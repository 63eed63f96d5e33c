//! Snapping accuracy on real data: every 2016 Syracuse filled pothole snapped to the
//! city's street centrelines, imported as `upkeep segments import` would.
//!
//! cargo run --release --example syracuse_snap -- \
//!     ../shared/data/real/syracuse/roads-challenge/derived/streets_wgs84.geojson \
//!     ../shared/data/real/syracuse/roads-challenge/derived/potholes_filled_2016_clean.csv

use backend::domain::Coordinates;
use backend::roads::{Mapping, read};
use backend::spatial::{SegmentIndex, SegmentShape, lines_of_geojson};
use std::collections::HashMap;
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [streets, potholes] = args.as_slice() else {
        anyhow::bail!("usage: syracuse_snap STREETS.geojson POTHOLES.csv");
    };
    let options = HashMap::from([
        ("id_field", "STREET_ID"),
        ("name_field", "STREET"),
        ("class_field", "CART_CLASS"),
        (
            "class_map",
            "MAJOR=arterial,MINOR=local,INTERSTATE=arterial",
        ),
    ]);
    let mapping = Mapping::from_options(|name| options.get(name).copied())?;
    let imported = read(
        &std::fs::read_to_string(streets)?,
        &mapping,
        &HashMap::new(),
        backend::domain::now(),
    )?;
    let street_of: Vec<Option<String>> = imported
        .segments
        .iter()
        .map(|s| s.external_id.clone())
        .collect();
    let shapes = imported
        .segments
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            Some(SegmentShape {
                id: i as i64,
                class: s.road_class.road_class(),
                lines: lines_of_geojson(&s.geometry)?,
            })
        })
        .collect();
    let index = SegmentIndex::new(shapes);
    let mut reader = csv::Reader::from_path(potholes)?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let (Some(lat), Some(lon), Some(street)) = (column("lat"), column("lon"), column("street_id"))
    else {
        anyhow::bail!("{potholes} needs lat, lon and street_id columns");
    };
    let mut distances = Vec::new();
    let (mut total, mut same_street, mut with_street, mut unsnapped_50m) = (0, 0, 0, 0);
    let started = Instant::now();
    for record in reader.records() {
        let record = record?;
        let (Ok(y), Ok(x)) = (record[lat].parse::<f64>(), record[lon].parse::<f64>()) else {
            continue;
        };
        total += 1;
        let point = Coordinates { lon: x, lat: y };
        let Some(snap) = index.snap(point, f64::INFINITY) else {
            continue;
        };
        if snap.distance_m > 50.0 {
            unsnapped_50m += 1;
        }
        distances.push(snap.distance_m);
        let recorded = record[street].trim();
        if !recorded.is_empty() {
            with_street += 1;
            if street_of[snap.segment_id as usize].as_deref() == Some(recorded) {
                same_street += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    distances.sort_by(f64::total_cmp);
    let quantile = |q: f64| distances[((distances.len() - 1) as f64 * q).round() as usize];
    println!(
        "{} features → {} segments; {total} potholes in {:.1} ms ({:.2} µs per snap)",
        imported.features,
        imported.segments.len(),
        elapsed.as_secs_f64() * 1e3,
        elapsed.as_secs_f64() * 1e6 / total.max(1) as f64
    );
    println!(
        "distance to snapped segment: median {:.1} m, p90 {:.1} m, p99 {:.1} m; beyond the 50 m limit: {unsnapped_50m} ({:.2} %)",
        quantile(0.5),
        quantile(0.9),
        quantile(0.99),
        100.0 * unsnapped_50m as f64 / total.max(1) as f64
    );
    println!(
        "snapped to the recorded STREET_ID: {same_street} of {with_street} ({:.1} %)",
        100.0 * same_street as f64 / with_street.max(1) as f64
    );
    Ok(())
}
