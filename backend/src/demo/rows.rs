//! The demo city as database rows, every table's, with its reports snapped to segments
//! and its history dated as the generator made it.

use crate::catalogue::Catalogue;
use crate::db::demo::*;
use crate::db::words::Json;
use crate::domain::{
    BoundingBox, Coordinates, IssueStatus, RequestStatus, SegmentClass, WorkOrderKind,
    WorkOrderStatus,
};
use chrono::{Duration, NaiveDateTime, NaiveTime};
use models::city::{City, WorkOrderOutcome};
use serde_json::json;

/// The weather station every demo reading comes from.
const STATION: &str = "demo-central";

fn noon(day: chrono::NaiveDate) -> NaiveDateTime {
    day.and_time(NaiveTime::from_hms_opt(12, 0, 0).expect("valid"))
}

fn outcome_words(outcome: WorkOrderOutcome) -> (RequestStatus, &'static str) {
    match outcome {
        WorkOrderOutcome::Repaired => (RequestStatus::Fixed, "Repaired by the crew."),
        WorkOrderOutcome::NothingFound => (
            RequestStatus::NothingFound,
            "A crew inspected the spot and found nothing to repair.",
        ),
        WorkOrderOutcome::Resurfaced => (
            RequestStatus::Fixed,
            "Fixed when the street was resurfaced.",
        ),
    }
}

/// The demo city's crews: its road crews (as many, and as productive, as the ones that
/// repaired its potholes), each based in its own part of the city, and three crews for
/// everything else.
fn crews(city: &City, created: NaiveDateTime) -> Vec<CrewRow> {
    let road = ["pothole", "sidewalk_damage", "damaged_sign", "other"];
    // Each neighbourhood's middle: the mean of its streets' first points.
    let depots: Vec<Coordinates> = city
        .neighbourhoods
        .iter()
        .filter_map(|hood| {
            let points: Vec<(f64, f64)> = city
                .segments
                .iter()
                .filter(|s| s.neighbourhood == hood.id)
                .map(|s| s.geometry[0])
                .collect();
            let n = points.len() as f64;
            (n > 0.0).then(|| Coordinates {
                lon: points.iter().map(|p| p.0).sum::<f64>() / n,
                lat: points.iter().map(|p| p.1).sum::<f64>() / n,
            })
        })
        .collect();
    let centre = Coordinates {
        lon: city.params.centre.0,
        lat: city.params.centre.1,
    };
    let road_crews = city.road_crews();
    // Spread over the neighbourhoods, so no two crews share a depot while there are
    // more neighbourhoods than crews.
    let depot = |i: usize| {
        let at = i * depots.len() / road_crews.max(1);
        depots.get(at).copied().unwrap_or(centre)
    };
    let mut crews: Vec<(String, Coordinates, Vec<&str>)> = (0..road_crews)
        .map(|i| (format!("Road crew {}", i + 1), depot(i), road.to_vec()))
        .collect();
    crews.push((
        "Lights and signals".into(),
        centre,
        vec!["street_light_out", "traffic_signal_fault"],
    ));
    crews.push((
        "Clean streets".into(),
        centre,
        vec!["graffiti", "illegal_dumping", "missed_collection"],
    ));
    crews.push((
        "Drains and trees".into(),
        centre,
        vec!["blocked_drain", "tree_hazard"],
    ));
    crews
        .into_iter()
        .enumerate()
        .map(|(i, (name, depot, codes))| CrewRow {
            id: i as i64 + 1,
            name,
            depot_lat: depot.lat,
            depot_lon: depot.lon,
            service_codes: Json(codes.iter().map(|c| (*c).to_owned()).collect()),
            daily_capacity: i32::try_from(models::city::REPAIRS_PER_CREW_DAY).unwrap_or(10),
            created_at: created,
            retired_at: None,
        })
        .collect()
}

/// Rows handed to the sink at once, at most, for the tables of many rows (reports and
/// their updates, probe readings, true segment-weeks): the large city's 66 million rows
/// are never all in memory.
const ROWS_PER_PART: usize = 100_000;

/// Turns a generated city into database rows, handing them to `sink` a part at a time,
/// parents before children: the city's wards and streets, their probe readings and the
/// truth of their weeks, then its work orders, reports, maintenance and weather. Events
/// after `now` (the generator works in whole days) are left out, so the database never
/// holds the future. Each part is dropped once the sink has it, and the city's long
/// lists once they are stored.
pub fn each_part<E>(
    mut city: City,
    catalogue: &Catalogue,
    now: NaiveDateTime,
    snap_limit_m: f64,
    sink: &mut dyn FnMut(CityRows) -> Result<(), E>,
) -> Result<(), E> {
    // The two longest lists go first after the streets they belong to, and are freed
    // before the reports are turned into rows. The truth behind each reading is not
    // stored at all.
    let mut readings = std::mem::take(&mut city.probe_readings);
    let weeks = std::mem::take(&mut city.truth.segment_weeks);
    city.truth.reading_roughness = Vec::new();
    let city = &city;
    let created = now;
    let mut rows = CityRows::default();
    let vulnerability = city.ward_vulnerability();
    for ward in &city.wards {
        let ring: Vec<[f64; 2]> = ward
            .boundary
            .iter()
            .map(|(lon, lat)| [*lon, *lat])
            .collect();
        rows.wards.push(WardRow {
            id: i64::from(ward.id),
            name: ward.name.clone(),
            population: i32::try_from(ward.population).ok(),
            income_index: city.ward_income(ward.id),
            geometry: Some(json!({"type": "Polygon", "coordinates": [ring]}).to_string()),
            // Poorer wards report less (the demo city's residents do, as real ones do),
            // so the weight helps their problems get the attention reports alone would not.
            vulnerability: vulnerability.get(&ward.id).copied().unwrap_or(0.0),
        });
    }
    rows.crews = crews(city, created);
    for hood in &city.neighbourhoods {
        rows.neighbourhoods.push(NeighbourhoodRow {
            id: i64::from(hood.id),
            ward_id: Some(i64::from(hood.ward)),
            name: hood.name.clone(),
            population: i32::try_from(hood.population).unwrap_or(i32::MAX),
            income_index: hood.income_index,
            density_per_km2: hood.density_per_km2,
        });
        rows.truth_neighbourhoods.push(TruthNeighbourhoodRow {
            neighbourhood_id: i64::from(hood.id),
            reporting_propensity: hood.reporting_propensity,
        });
    }
    for segment in &city.segments {
        let bbox = BoundingBox::around(
            segment
                .geometry
                .iter()
                .map(|&(lon, lat)| Coordinates { lon, lat }),
        )
        .expect("a generated segment has points");
        let line: Vec<[f64; 2]> = segment
            .geometry
            .iter()
            .map(|(lon, lat)| [*lon, *lat])
            .collect();
        rows.segments.push(SegmentRow {
            id: i64::from(segment.id),
            external_id: Some(format!("demo-{}", segment.id)),
            name: Some(segment.name.clone()),
            road_class: SegmentClass::Road(segment.class),
            surface: Some(segment.surface.as_str().to_owned()),
            length_m: segment.length_m,
            aadt: i32::try_from(segment.aadt).ok(),
            bus_route: segment.bus_route,
            last_resurfaced: Some(segment.last_resurfaced),
            ward_id: Some(i64::from(segment.ward)),
            neighbourhood: city
                .neighbourhoods
                .get(segment.neighbourhood as usize - 1)
                .map(|n| n.name.clone()),
            geometry: json!({"type": "LineString", "coordinates": line}).to_string(),
            min_lon: bbox.south_west.lon,
            min_lat: bbox.south_west.lat,
            max_lon: bbox.north_east.lon,
            max_lat: bbox.north_east.lat,
            properties: None,
            created_at: created,
            updated_at: created,
            cell: crate::grid::segment_cell(&bbox),
        });
        rows.truth_segments.push(TruthSegmentRow {
            segment_id: i64::from(segment.id),
            drainage: segment.drainage,
        });
    }

    sink(std::mem::take(&mut rows))?;

    // In segment order the (segment_id, observed_at) index grows at its end instead of
    // everywhere at once, which keeps a large city's load from thrashing the page cache.
    // A segment has at most one reading a day, so the order is the generator's for a
    // seed, and the row ids with it.
    readings.sort_unstable_by_key(|reading| (reading.segment, reading.observed_on));
    let ten = NaiveTime::from_hms_opt(10, 0, 0).expect("valid");
    for chunk in readings.chunks(ROWS_PER_PART) {
        for reading in chunk {
            let at = reading.observed_on.and_time(ten);
            if at <= now {
                rows.sensor_readings.push(SensorReadingRow {
                    segment_id: i64::from(reading.segment),
                    kind: "roughness_iri_m_per_km",
                    source: reading.source.as_str(),
                    value: reading.roughness_m_per_km(),
                    observed_at: at,
                });
            }
        }
        sink(std::mem::take(&mut rows))?;
    }
    drop(readings);

    for chunk in weeks.chunks(ROWS_PER_PART) {
        rows.truth_segment_weeks = chunk
            .iter()
            .map(|week| TruthSegmentWeekRow {
                segment_id: i64::from(week.segment),
                week_start: week.week_start,
                pci: week.pci,
                hazard_28d: week.hazard_28d,
            })
            .collect();
        sink(std::mem::take(&mut rows))?;
    }
    drop(weeks);

    // Work orders as of now; an order completed later today is still open.
    let completion = |order: &models::city::WorkOrder| {
        order
            .completed_at
            .filter(|at| *at <= now)
            .zip(order.outcome)
    };
    let reports: Vec<_> = city
        .reports
        .iter()
        .zip(&city.truth.report_pothole)
        .filter(|(report, _)| report.reported_at <= now)
        .collect();
    let mut reporters = vec![0i32; city.work_orders.len()];
    let mut first_report = vec![None::<(NaiveDateTime, u32)>; city.work_orders.len()];
    for (report, _) in &reports {
        let index = report.work_order as usize - 1;
        reporters[index] += 1;
        let first = first_report[index].get_or_insert((report.reported_at, report.id));
        *first = (*first).min((report.reported_at, report.id));
    }
    for (done_orders, order) in city
        .work_orders
        .iter()
        .filter(|o| o.created_at <= now)
        .enumerate()
    {
        if done_orders % ROWS_PER_PART == 0 && done_orders > 0 {
            sink(std::mem::take(&mut rows))?;
        }
        let index = order.id as usize - 1;
        let done = completion(order);
        let id = i64::from(order.id);
        if reporters[index] > 0 {
            rows.issues.push(IssueRow {
                id,
                service_code: order.service_code.to_owned(),
                status: if done.is_some() {
                    IssueStatus::Closed
                } else {
                    IssueStatus::Open
                },
                lat: order.lat,
                lon: order.lon,
                segment_id: order.segment.map(i64::from),
                reporter_count: reporters[index],
                first_reported_at: first_report[index].map_or(order.created_at, |(at, _)| at),
                first_request_id: first_report[index].map(|(_, id)| i64::from(id)),
                updated_at: done.map_or(order.created_at, |(at, _)| at),
                closed_at: done.map(|(at, _)| at),
                cell: crate::grid::cell_of(Coordinates {
                    lon: order.lon,
                    lat: order.lat,
                }),
            });
        }
        rows.work_orders.push(WorkOrderRow {
            id,
            issue_id: (reporters[index] > 0).then_some(id),
            segment_id: order.segment.map(i64::from),
            kind: WorkOrderKind::Repair,
            status: if done.is_some() {
                WorkOrderStatus::Completed
            } else {
                WorkOrderStatus::New
            },
            crew_id: None,
            priority: 0.0,
            priority_breakdown: Json::default(),
            due_at: Some(order.due_at),
            notes: done.map(|(_, outcome)| outcome_words(outcome).1.to_owned()),
            created_at: order.created_at,
            updated_at: done.map_or(order.created_at, |(at, _)| at),
            completed_at: done.map(|(at, _)| at),
            service_code: order.service_code.to_owned(),
            lat: order.lat,
            lon: order.lon,
            cell: crate::grid::cell_of(Coordinates {
                lon: order.lon,
                lat: order.lat,
            }),
            photo_urls: Json::default(),
            materials: Json::default(),
            labour_minutes: 0,
            outcome: done.map(|(_, outcome)| {
                match outcome {
                    WorkOrderOutcome::NothingFound => "nothing_found",
                    _ => "repaired",
                }
                .to_owned()
            }),
            reopens: 0,
        });
    }

    for (done_potholes, pothole) in city.truth.potholes.iter().enumerate() {
        if done_potholes % ROWS_PER_PART == 0 {
            sink(std::mem::take(&mut rows))?;
        }
        rows.truth_potholes.push(TruthPotholeRow {
            id: i64::from(pothole.id),
            segment_id: i64::from(pothole.segment),
            lat: pothole.lat,
            lon: pothole.lon,
            formed_on: pothole.formed_on,
            repaired_on: pothole.repaired_on,
            reports: i32::try_from(pothole.reports).unwrap_or(i32::MAX),
        });
    }
    sink(std::mem::take(&mut rows))?;

    // Historic reports snap to their nearest segment as new ones do.
    let index = crate::spatial::SegmentIndex::new(
        city.segments
            .iter()
            .map(|s| crate::spatial::SegmentShape {
                id: i64::from(s.id),
                class: Some(s.class),
                lines: vec![s.geometry.clone()],
            })
            .collect(),
    );
    let segment_class = |order: &models::city::WorkOrder| {
        order
            .segment
            .and_then(|s| city.segments.get(s as usize - 1))
            .map(|s| s.class)
    };
    for (done_reports, (report, pothole)) in reports.iter().enumerate() {
        if done_reports % ROWS_PER_PART == 0 && done_reports > 0 {
            sink(std::mem::take(&mut rows))?;
        }
        let order = &city.work_orders[report.work_order as usize - 1];
        let done = completion(order);
        let service = catalogue.get(report.service_code);
        let sla_days = service.map_or(10, |s| s.sla_days_for(segment_class(order)));
        let attributes: serde_json::Map<String, serde_json::Value> = report
            .attributes
            .iter()
            .map(|(k, v)| {
                let value = if service.is_some_and(|s| {
                    s.attributes.iter().any(|a| {
                        a.code == *k && a.datatype == crate::catalogue::Datatype::Multivaluelist
                    })
                }) {
                    json!([v])
                } else {
                    json!(v)
                };
                ((*k).to_owned(), value)
            })
            .collect();
        let id = i64::from(report.id);
        let (status, note) = match done {
            Some((_, outcome)) => {
                let (status, note) = outcome_words(outcome);
                (status, Some(note))
            }
            None if order.created_at + Duration::days(1) <= now => {
                (RequestStatus::Acknowledged, None)
            }
            None => (RequestStatus::Open, None),
        };
        let closed_at = done.map(|(at, _)| at.max(report.reported_at));
        let snap = index.snap(
            Coordinates {
                lon: report.lon,
                lat: report.lat,
            },
            snap_limit_m,
        );
        rows.requests.push(HistoricRequestRow {
            id,
            accepted_at: Some(report.reported_at),
            service_code: report.service_code.to_owned(),
            status: status.as_str().to_owned(),
            status_notes: note.map(str::to_owned),
            description: Some(report.description.clone()),
            agency_responsible: service.map(|s| s.agency.clone()),
            lat: Some(report.lat),
            lon: Some(report.lon),
            attributes: serde_json::Value::Object(attributes).to_string(),
            issue_id: Some(i64::from(report.work_order)),
            segment_id: snap.map(|s| s.segment_id),
            snap_distance_m: snap.map(|s| (s.distance_m * 10.0).round() / 10.0),
            requested_at: report.reported_at,
            updated_at: closed_at.unwrap_or(report.reported_at),
            expected_at: Some(report.reported_at + Duration::days(i64::from(sla_days))),
            closed_at,
            cell: Some(crate::grid::cell_of(Coordinates {
                lon: report.lon,
                lat: report.lat,
            })),
        });
        rows.updates.push(HistoricUpdateRow {
            request_id: id,
            status: RequestStatus::Open.as_str(),
            description: Some("Report received."),
            author: "resident",
            created_at: report.reported_at,
        });
        if let (Some(at), Some(note)) = (closed_at, note) {
            rows.updates.push(HistoricUpdateRow {
                request_id: id,
                status: status.as_str(),
                description: Some(note),
                author: "staff:Public works",
                created_at: at,
            });
        }
        if let Some(pothole) = pothole {
            rows.truth_report_potholes.push(TruthReportPotholeRow {
                request_id: id,
                pothole_id: i64::from(*pothole),
            });
        }
    }

    sink(std::mem::take(&mut rows))?;

    for entry in &city.maintenance {
        // A repair happens when its work order is completed; a resurfacing at noon.
        let performed_at = match entry.work_order {
            Some(order) => city.work_orders[order as usize - 1].completed_at,
            None => Some(noon(entry.performed_on)),
        };
        if let Some(performed_at) = performed_at.filter(|at| *at <= now) {
            rows.maintenance.push(MaintenanceRow {
                segment_id: i64::from(entry.segment),
                work_order_id: entry.work_order.map(i64::from),
                kind: entry.kind.as_str().to_owned(),
                performed_at,
            });
        }
    }
    for day in &city.weather {
        rows.weather.push(WeatherRow {
            station: STATION,
            day: day.date,
            tmin_c: day.tmin_c,
            tmax_c: day.tmax_c,
            precipitation_mm: day.precipitation_mm,
        });
    }
    rows.city = Some(DemoCityRow {
        seed: i64::try_from(city.params.seed).unwrap_or(i64::MAX),
        size: city.params.size.as_str().to_owned(),
        start_date: city.params.start(),
        end_date: city.params.end,
        loaded_at: created,
    });
    sink(std::mem::take(&mut rows))?;

    Ok(())
}
