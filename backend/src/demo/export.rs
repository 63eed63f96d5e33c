//! The demo city as files: CSV tables and GeoJSON maps, with the generator's truth kept
//! apart in `truth/`.

use anyhow::Context;
use models::city::City;
use serde_json::json;
use std::path::Path;

/// Writes the city as CSV (tables) and GeoJSON (maps) into `dir`; the truth goes into
/// `dir/truth/` so nobody mistakes it for an observation.
pub fn export(city: &City, dir: &Path) -> anyhow::Result<Vec<String>> {
    let truth_dir = dir.join("truth");
    std::fs::create_dir_all(&truth_dir)
        .with_context(|| format!("cannot create {}", truth_dir.display()))?;
    let mut written = Vec::new();
    let mut csv_file = |name: &str,
                        header: &[&str],
                        records: &mut dyn Iterator<Item = Vec<String>>|
     -> anyhow::Result<()> {
        let path = dir.join(name);
        let mut writer = csv::Writer::from_path(&path)
            .with_context(|| format!("cannot write {}", path.display()))?;
        writer.write_record(header)?;
        for record in records {
            writer.write_record(&record)?;
        }
        writer.flush()?;
        written.push(name.to_owned());
        Ok(())
    };
    let f = |x: f64| format!("{x:.6}");
    csv_file(
        "segments.csv",
        &[
            "id",
            "name",
            "road_class",
            "surface",
            "length_m",
            "aadt",
            "bus_route",
            "last_resurfaced",
            "ward",
            "neighbourhood",
        ],
        &mut city.segments.iter().map(|s| {
            vec![
                s.id.to_string(),
                s.name.clone(),
                s.class.as_str().into(),
                s.surface.as_str().into(),
                format!("{:.1}", s.length_m),
                s.aadt.to_string(),
                s.bus_route.to_string(),
                s.last_resurfaced.to_string(),
                s.ward.to_string(),
                s.neighbourhood.to_string(),
            ]
        }),
    )?;
    csv_file(
        "neighbourhoods.csv",
        &[
            "id",
            "ward",
            "name",
            "population",
            "income_index",
            "density_per_km2",
        ],
        &mut city.neighbourhoods.iter().map(|n| {
            vec![
                n.id.to_string(),
                n.ward.to_string(),
                n.name.clone(),
                n.population.to_string(),
                format!("{:.3}", n.income_index),
                format!("{:.0}", n.density_per_km2),
            ]
        }),
    )?;
    csv_file(
        "reports.csv",
        &[
            "id",
            "service_code",
            "lon",
            "lat",
            "reported_at",
            "work_order",
            "description",
            "attributes",
        ],
        &mut city.reports.iter().map(|r| {
            let attributes: Vec<String> = r
                .attributes
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            vec![
                r.id.to_string(),
                r.service_code.into(),
                f(r.lon),
                f(r.lat),
                r.reported_at.to_string(),
                r.work_order.to_string(),
                r.description.clone(),
                attributes.join(";"),
            ]
        }),
    )?;
    csv_file(
        "work_orders.csv",
        &[
            "id",
            "service_code",
            "segment",
            "lon",
            "lat",
            "created_at",
            "due_at",
            "completed_at",
            "outcome",
        ],
        &mut city.work_orders.iter().map(|o| {
            vec![
                o.id.to_string(),
                o.service_code.into(),
                o.segment.map(|s| s.to_string()).unwrap_or_default(),
                f(o.lon),
                f(o.lat),
                o.created_at.to_string(),
                o.due_at.to_string(),
                o.completed_at.map(|t| t.to_string()).unwrap_or_default(),
                o.outcome
                    .map(|x| format!("{x:?}").to_lowercase())
                    .unwrap_or_default(),
            ]
        }),
    )?;
    csv_file(
        "maintenance.csv",
        &["segment", "work_order", "kind", "performed_on"],
        &mut city.maintenance.iter().map(|m| {
            vec![
                m.segment.to_string(),
                m.work_order.map(|w| w.to_string()).unwrap_or_default(),
                m.kind.as_str().into(),
                m.performed_on.to_string(),
            ]
        }),
    )?;
    csv_file(
        "probe_readings.csv",
        &["segment", "source", "observed_on", "roughness_m_per_km"],
        &mut city.probe_readings.iter().map(|r| {
            vec![
                r.segment.to_string(),
                r.source.as_str().into(),
                r.observed_on.to_string(),
                format!("{:.2}", r.roughness_m_per_km()),
            ]
        }),
    )?;
    csv_file(
        "weather.csv",
        &["date", "tmin_c", "tmax_c", "precipitation_mm"],
        &mut city.weather.iter().map(|w| {
            vec![
                w.date.to_string(),
                format!("{:.1}", w.tmin_c),
                format!("{:.1}", w.tmax_c),
                format!("{:.1}", w.precipitation_mm),
            ]
        }),
    )?;
    csv_file(
        "truth/potholes.csv",
        &[
            "id",
            "segment",
            "lon",
            "lat",
            "formed_on",
            "repaired_on",
            "reports",
        ],
        &mut city.truth.potholes.iter().map(|p| {
            vec![
                p.id.to_string(),
                p.segment.to_string(),
                f(p.lon),
                f(p.lat),
                p.formed_on.to_string(),
                p.repaired_on.map(|d| d.to_string()).unwrap_or_default(),
                p.reports.to_string(),
            ]
        }),
    )?;
    csv_file(
        "truth/report_potholes.csv",
        &["report", "pothole"],
        &mut city
            .reports
            .iter()
            .zip(&city.truth.report_pothole)
            .filter_map(|(r, p)| p.map(|p| vec![r.id.to_string(), p.to_string()])),
    )?;
    csv_file(
        "truth/segment_weeks.csv",
        &["segment", "week_start", "pci", "hazard_28d"],
        &mut city.truth.segment_weeks.iter().map(|w| {
            vec![
                w.segment.to_string(),
                w.week_start.to_string(),
                format!("{:.2}", w.pci),
                format!("{:.6}", w.hazard_28d),
            ]
        }),
    )?;
    csv_file(
        "truth/segments.csv",
        &["segment", "drainage"],
        &mut city
            .segments
            .iter()
            .map(|s| vec![s.id.to_string(), format!("{:.3}", s.drainage)]),
    )?;
    csv_file(
        "truth/neighbourhoods.csv",
        &["neighbourhood", "reporting_propensity"],
        &mut city
            .neighbourhoods
            .iter()
            .map(|n| vec![n.id.to_string(), format!("{:.4}", n.reporting_propensity)]),
    )?;

    let segments = json!({
        "type": "FeatureCollection",
        "features": city.segments.iter().map(|s| json!({
            "type": "Feature",
            "id": s.id,
            "geometry": {"type": "LineString", "coordinates": s.geometry.iter().map(|(lon, lat)| [*lon, *lat]).collect::<Vec<_>>()},
            "properties": {"name": s.name, "road_class": s.class.as_str(), "surface": s.surface.as_str(), "length_m": s.length_m, "aadt": s.aadt, "bus_route": s.bus_route, "ward": s.ward},
        })).collect::<Vec<_>>(),
    });
    let wards = json!({
        "type": "FeatureCollection",
        "features": city.wards.iter().map(|w| json!({
            "type": "Feature",
            "id": w.id,
            "geometry": {"type": "Polygon", "coordinates": [w.boundary.iter().map(|(lon, lat)| [*lon, *lat]).collect::<Vec<_>>()]},
            "properties": {"name": w.name, "population": w.population},
        })).collect::<Vec<_>>(),
    });
    for (name, value) in [("segments.geojson", segments), ("wards.geojson", wards)] {
        let path = dir.join(name);
        std::fs::write(&path, value.to_string())
            .with_context(|| format!("cannot write {}", path.display()))?;
        written.push(name.to_owned());
    }
    Ok(written)
}
