//! Importing a road network from GeoJSON: each LineString or MultiLineString feature
//! becomes one or more segments of at most [`grid::MAX_SEGMENT_LENGTH_M`], with its
//! class, surface, traffic, resurfacing date and ward read from the properties a
//! [`Mapping`] names. A feature that cannot be read is reported by its index and the
//! reason; the others are imported.

use crate::db::segments::{self, SegmentRow};
use crate::db::{Database, DbResult};
use crate::domain::{BoundingBox, Coordinates, SegmentClass};
use crate::grid;
use crate::spatial::SegmentCache;
use chrono::{NaiveDate, NaiveDateTime};
use geo::{Haversine, Length, LineString, LineStringSegmentizeHaversine};
use models::network::RoadClass;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The class given to a segment whose file says nothing about it.
pub const UNCLASSIFIED: &str = "unclassified";

/// Which property of the file holds what. Unset fields fall back to Upkeep's own names
/// (`external_id`, `name`, `road_class`, `surface`, `aadt`, `last_resurfaced`, `ward`).
#[derive(Debug, Clone, Default)]
pub struct Mapping {
    pub id_field: Option<String>,
    pub name_field: Option<String>,
    pub class_field: Option<String>,
    /// The file's class values → Upkeep's (`MAJOR` → arterial). Values neither mapped
    /// nor already a road class are kept as they are.
    pub class_map: HashMap<String, String>,
    pub surface_field: Option<String>,
    pub traffic_field: Option<String>,
    pub resurfaced_field: Option<String>,
    pub ward_field: Option<String>,
}

/// Why a mapping could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct MappingError {
    pub field: &'static str,
    pub message: String,
}

impl Mapping {
    /// The mapping from named options (`id_field`, `class_map=MAJOR=arterial,…`, …);
    /// `get` looks an option up by name.
    pub fn from_options<'a>(
        get: impl Fn(&str) -> Option<&'a str>,
    ) -> Result<Mapping, MappingError> {
        let text = |name: &str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let mut class_map = HashMap::new();
        if let Some(raw) = get("class_map") {
            for pair in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let Some((from, to)) = pair.split_once('=') else {
                    return Err(MappingError {
                        field: "class_map",
                        message: format!(
                            "'{pair}' is not VALUE=class (for example MAJOR=arterial)"
                        ),
                    });
                };
                let to = to.trim();
                let class = to.parse::<RoadClass>().map(|c| c.as_str().to_owned());
                class_map.insert(
                    from.trim().to_owned(),
                    class.unwrap_or_else(|_| to.to_owned()),
                );
            }
        }
        Ok(Mapping {
            id_field: text("id_field"),
            name_field: text("name_field"),
            class_field: text("class_field"),
            class_map,
            surface_field: text("surface_field"),
            traffic_field: text("traffic_field"),
            resurfaced_field: text("resurfaced_field"),
            ward_field: text("ward_field"),
        })
    }

    /// The names [`Mapping::from_options`] reads.
    pub const OPTIONS: [&'static str; 9] = [
        "id_field",
        "name_field",
        "class_field",
        "class_map",
        "surface_field",
        "traffic_field",
        "resurfaced_field",
        "ward_field",
        "dry_run",
    ];
}

/// A feature that was not imported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rejected {
    /// Position of the feature in the file's `features`, from 0.
    pub index: usize,
    pub reason: String,
}

/// What an import made of a file.
#[derive(Debug, Clone, Serialize)]
pub struct Imported {
    pub features: usize,
    pub features_imported: usize,
    /// Segments to store (long lines are split).
    #[serde(skip)]
    pub segments: Vec<SegmentRow>,
    pub segments_created: usize,
    pub rejected: Vec<Rejected>,
    /// Ward values in the file that match no ward (kept in the segment's properties).
    pub unknown_wards: Vec<String>,
    /// Class values that are not Upkeep road classes, kept as they are, with counts.
    pub unmapped_classes: Vec<(String, usize)>,
}

/// Why a whole file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is not GeoJSON: {0}")]
    NotGeoJson(String),
    #[error("the file is GeoJSON but not a FeatureCollection (it is a {0})")]
    NotCollection(&'static str),
}

/// Reads `text` (a GeoJSON FeatureCollection) into segment rows. `wards` maps ward
/// names (lower case) and ids (as text) to ward ids.
pub fn read(
    text: &str,
    mapping: &Mapping,
    wards: &HashMap<String, i64>,
    at: NaiveDateTime,
) -> Result<Imported, ImportError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| ImportError::NotGeoJson(e.to_string()))?;
    let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != "FeatureCollection" {
        return Err(match kind {
            "Feature" => ImportError::NotCollection("Feature"),
            "" => ImportError::NotGeoJson("it has no \"type\"".into()),
            _ => ImportError::NotCollection("geometry"),
        });
    }
    let features = value
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ImportError::NotGeoJson("a FeatureCollection needs a \"features\" array".into())
        })?;
    let mut imported = Imported {
        features: features.len(),
        features_imported: 0,
        segments: Vec::new(),
        segments_created: 0,
        rejected: Vec::new(),
        unknown_wards: Vec::new(),
        unmapped_classes: Vec::new(),
    };
    let mut unmapped: HashMap<String, usize> = HashMap::new();
    for (index, feature) in features.iter().enumerate() {
        match read_feature(feature, mapping, wards, at) {
            Ok((rows, unknown_ward)) => {
                imported.features_imported += 1;
                if let Some(ward) = unknown_ward
                    && !imported.unknown_wards.contains(&ward)
                {
                    imported.unknown_wards.push(ward);
                }
                if let Some(SegmentClass::Other(word)) = rows.first().map(|row| &row.road_class)
                    && word != UNCLASSIFIED
                {
                    *unmapped.entry(word.clone()).or_default() += 1;
                }
                imported.segments.extend(rows);
            }
            Err(reason) => imported.rejected.push(Rejected { index, reason }),
        }
    }
    imported.segments_created = imported.segments.len();
    imported.unmapped_classes = unmapped.into_iter().collect();
    imported.unmapped_classes.sort();
    Ok(imported)
}

/// One feature's segments, and its ward value if no ward matched it.
fn read_feature(
    feature: &Value,
    mapping: &Mapping,
    wards: &HashMap<String, i64>,
    at: NaiveDateTime,
) -> Result<(Vec<SegmentRow>, Option<String>), String> {
    if feature.get("type").and_then(Value::as_str) != Some("Feature") {
        return Err("is not a Feature".into());
    }
    let empty = Map::new();
    let properties = match feature.get("properties") {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(map)) => map,
        Some(_) => return Err("its properties are not an object".into()),
    };
    let geometry = feature
        .get("geometry")
        .filter(|g| !g.is_null())
        .ok_or("it has no geometry")?;
    let lines = read_lines(geometry)?;
    let field = |configured: &Option<String>, default: &str| -> Option<String> {
        let name = configured.as_deref().unwrap_or(default);
        match properties.get(name)? {
            Value::Null => None,
            Value::String(s) if s.trim().is_empty() => None,
            Value::String(s) => Some(s.trim().to_owned()),
            other => Some(other.to_string()),
        }
    };
    let external_id = field(&mapping.id_field, "external_id");
    let road_class = match field(&mapping.class_field, "road_class") {
        None => UNCLASSIFIED.to_owned(),
        Some(raw) => match mapping.class_map.get(&raw) {
            Some(class) => class.clone(),
            None => raw
                .parse::<RoadClass>()
                .map_or(raw, |class| class.as_str().to_owned()),
        },
    };
    let aadt = match field(&mapping.traffic_field, "aadt") {
        None => None,
        Some(raw) => Some(
            raw.parse::<f64>()
                .ok()
                .filter(|n| n.is_finite() && *n >= 0.0 && *n <= f64::from(i32::MAX))
                .map(|n| n.round() as i32)
                .ok_or_else(|| format!("its traffic '{raw}' is not a count of vehicles per day"))?,
        ),
    };
    let last_resurfaced = match field(&mapping.resurfaced_field, "last_resurfaced") {
        None => None,
        Some(raw) => Some(parse_date(&raw).ok_or_else(|| {
            format!("its resurfacing date '{raw}' is not a date (YYYY-MM-DD, or a year)")
        })?),
    };
    let (ward_id, unknown_ward) = match field(&mapping.ward_field, "ward") {
        None => (None, None),
        Some(raw) => match wards.get(&raw.to_lowercase()) {
            Some(id) => (Some(*id), None),
            None => (None, Some(raw)),
        },
    };
    let name = field(&mapping.name_field, "name");
    let surface = field(&mapping.surface_field, "surface");
    let properties_text = Value::Object(properties.clone()).to_string();
    let template = SegmentRow {
        id: 0,
        external_id: external_id.clone(),
        name,
        road_class: SegmentClass::from_word(&road_class),
        surface,
        length_m: 0.0,
        aadt,
        bus_route: false,
        last_resurfaced,
        ward_id,
        neighbourhood: None,
        geometry: String::new(),
        min_lon: 0.0,
        min_lat: 0.0,
        max_lon: 0.0,
        max_lat: 0.0,
        properties: Some(properties_text),
        created_at: at,
        updated_at: at,
        cell: 0,
    };
    let rows = segments_along(&lines, &template);
    Ok((rows, unknown_ward))
}

/// The segments of a street's lines: each line split into pieces of at most 250 m,
/// each piece a copy of `template` with its own geometry, bounding box, length and cell.
pub fn segments_along(lines: &[Vec<(f64, f64)>], template: &SegmentRow) -> Vec<SegmentRow> {
    lines
        .iter()
        .flat_map(|line| split(line))
        .map(|piece| {
            let bbox =
                BoundingBox::around(piece.iter().map(|&(lon, lat)| Coordinates { lon, lat }))
                    .unwrap_or_else(|| unreachable!("a piece has at least two points"));
            let length_m = Haversine.length(&LineString::from(piece.clone()));
            SegmentRow {
                length_m: (length_m * 10.0).round() / 10.0,
                geometry: serde_json::json!({
                    "type": "LineString",
                    "coordinates": piece.iter().map(|&(lon, lat)| [lon, lat]).collect::<Vec<_>>(),
                })
                .to_string(),
                min_lon: bbox.south_west.lon,
                min_lat: bbox.south_west.lat,
                max_lon: bbox.north_east.lon,
                max_lat: bbox.north_east.lat,
                cell: grid::segment_cell(&bbox),
                ..template.clone()
            }
        })
        .collect()
}

/// The lines of a LineString or MultiLineString, each checked: at least two positions,
/// longitude then latitude, on the globe.
fn read_lines(geometry: &Value) -> Result<Vec<Vec<(f64, f64)>>, String> {
    let kind = geometry.get("type").and_then(Value::as_str).unwrap_or("");
    let coordinates = geometry
        .get("coordinates")
        .and_then(Value::as_array)
        .ok_or("its geometry has no coordinates array")?;
    let line = |value: &Value, which: &str| -> Result<Vec<(f64, f64)>, String> {
        let positions = value
            .as_array()
            .ok_or_else(|| format!("{which} is not an array of positions"))?;
        if positions.len() < 2 {
            return Err(format!(
                "{which} has {} position(s); a line needs two",
                positions.len()
            ));
        }
        positions
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let numbers = p.as_array().filter(|a| (2..=3).contains(&a.len()));
                let (lon, lat) = numbers
                    .and_then(|a| Some((a[0].as_f64()?, a[1].as_f64()?)))
                    .ok_or_else(|| {
                        format!("position {i} of {which} is not [longitude, latitude]")
                    })?;
                Coordinates::new(lon, lat, "longitude", "latitude")
                    .map(|c| (c.lon, c.lat))
                    .map_err(|e| format!("position {i} of {which}: {}", e.message))
            })
            .collect()
    };
    match kind {
        "LineString" => Ok(vec![line(&Value::Array(coordinates.clone()), "the line")?]),
        "MultiLineString" => {
            if coordinates.is_empty() {
                return Err("its MultiLineString has no lines".into());
            }
            coordinates
                .iter()
                .enumerate()
                .map(|(i, l)| line(l, &format!("line {i}")))
                .collect()
        }
        other => Err(format!(
            "its geometry is a {}; only LineString and MultiLineString are road segments",
            if other.is_empty() {
                "geometry without a type"
            } else {
                other
            }
        )),
    }
}

/// `line` cut into equal pieces no longer than [`grid::MAX_SEGMENT_LENGTH_M`] and no
/// wider than the grid allows.
pub fn split(line: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let string = LineString::from(line.to_vec());
    let length_m = Haversine.length(&string);
    let bbox = BoundingBox::around(line.iter().map(|&(lon, lat)| Coordinates { lon, lat }));
    let span_deg = bbox.map_or(0.0, |b| {
        (b.north_east.lon - b.south_west.lon).max(b.north_east.lat - b.south_west.lat)
    });
    let by_length = (length_m / grid::MAX_SEGMENT_LENGTH_M).ceil();
    let by_span = (span_deg / grid::max_segment_span_deg()).ceil();
    let pieces = by_length.max(by_span).max(1.0) as usize;
    if pieces == 1 {
        return vec![line.to_vec()];
    }
    match string.line_segmentize_haversine(pieces) {
        Some(parts) => parts
            .0
            .into_iter()
            .map(|part| part.0.into_iter().map(|c| (c.x, c.y)).collect())
            .collect(),
        None => vec![line.to_vec()],
    }
}

fn parse_date(raw: &str) -> Option<NaiveDate> {
    let raw = raw.trim();
    if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return Some(date);
    }
    if let Ok(time) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(time.date_naive());
    }
    // A bare year, as many asset registers keep it: the middle of that year.
    let year: i32 = raw.parse().ok()?;
    (1800..=2200)
        .contains(&year)
        .then(|| NaiveDate::from_ymd_opt(year, 7, 1))
        .flatten()
}

/// The snapping index of the stored segments.
pub fn load_index(db: &Database) -> DbResult<SegmentCache> {
    db.read(|conn| {
        Ok(SegmentCache::new(
            segments::fingerprint(conn)?,
            segments::shapes(conn)?,
        ))
    })
}

/// Rebuilds the snapping index if the stored segments changed; returns whether it did.
pub fn refresh_index(db: &Database, cache: &SegmentCache) -> DbResult<bool> {
    db.read(|conn| {
        let fingerprint = segments::fingerprint(conn)?;
        cache.refresh(fingerprint, || segments::shapes(conn))
    })
}

#[cfg(test)]
mod tests;
