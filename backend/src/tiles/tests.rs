use super::*;
use mvt_reader::Reader;
use mvt_reader::feature::{Feature as Read, Value};

fn shape(id: i64, class: RoadClass, line: &[(f64, f64)]) -> SegmentShape {
    SegmentShape {
        id,
        class: Some(class),
        lines: vec![line.to_vec()],
    }
}

/// The tile containing a point at a zoom.
fn tile_at(lon: f64, lat: f64, z: u8) -> TileId {
    let [x, y] = world(lon, lat);
    let n = f64::from(1u32 << z);
    TileId {
        z,
        x: (x * n) as u32,
        y: (y * n) as u32,
    }
}

/// The one layer of a tile: its name and features (none for an empty tile).
fn read(bytes: Vec<u8>) -> (Option<String>, Vec<Read>) {
    let reader = Reader::new(bytes).expect("a valid tile");
    let names = reader.get_layer_names().unwrap();
    assert!(names.len() <= 1, "one layer a tile: {names:?}");
    match names.first() {
        None => (None, Vec::new()),
        Some(name) => (Some(name.clone()), reader.get_features(0).unwrap()),
    }
}

fn property(feature: &Read, key: &str) -> Option<Value> {
    feature.properties.as_ref()?.get(key).cloned()
}

fn int(feature: &Read, key: &str) -> i64 {
    match property(feature, key) {
        Some(Value::SInt(v) | Value::Int(v)) => v,
        other => panic!("{key} is {other:?}"),
    }
}

fn double(feature: &Read, key: &str) -> f64 {
    match property(feature, key) {
        Some(Value::Double(v)) => v,
        other => panic!("{key} is {other:?}"),
    }
}

/// A feature's polygons, however the reader wraps them.
fn polygons_of(feature: &Read) -> Vec<geo::Polygon<f32>> {
    match &feature.geometry {
        geo::Geometry::Polygon(p) => vec![p.clone()],
        geo::Geometry::MultiPolygon(m) => m.0.clone(),
        other => panic!("polygons, not {other:?}"),
    }
}

/// A small town around (10.0, 50.0): an arterial across, a local street off it, and a
/// very short local stub.
fn town() -> Streets {
    Streets::new(&[
        shape(1, RoadClass::Arterial, &[(9.99, 50.0), (10.01, 50.0)]),
        shape(2, RoadClass::Local, &[(10.0, 50.0), (10.0, 50.004)]),
        shape(
            3,
            RoadClass::Local,
            &[(10.002, 49.999), (10.002_01, 49.999)],
        ),
    ])
}

#[test]
fn tile_addresses_are_checked_and_say_what_is_wrong() {
    assert_eq!(
        TileId::parse("12", "2161", "1404.mvt"),
        Ok(TileId {
            z: 12,
            x: 2161,
            y: 1404
        })
    );
    let err = TileId::parse("23", "0", "0.mvt").unwrap_err();
    assert_eq!(err.field(), "z");
    assert!(err.to_string().contains("0 to 22"), "{err}");
    let err = TileId::parse("2", "4", "0.mvt").unwrap_err();
    assert_eq!(err.field(), "x");
    assert!(err.to_string().contains("0 to 3 at zoom 2"), "{err}");
    assert_eq!(TileId::parse("2", "0", "-1.mvt").unwrap_err().field(), "y");
    assert!(matches!(
        TileId::parse("2", "0", "1.png"),
        Err(TileError::Format(_))
    ));
    assert!(matches!(
        Layer::parse("roads"),
        Err(TileError::UnknownLayer(_))
    ));
    assert_eq!(Layer::parse("risk"), Ok(Layer::Risk));
}

#[test]
fn the_mercator_square_puts_null_island_in_its_middle_and_inverts() {
    assert_eq!(world(0.0, 0.0), [0.5, 0.5]);
    let (lon, lat) = lon_lat(world(-73.98, 40.75));
    assert!((lon + 73.98).abs() < 1e-9 && (lat - 40.75).abs() < 1e-9);
    let b = tile_at(10.0, 50.0, 14).bounding_box();
    assert!(b.contains(Coordinates {
        lon: 10.0,
        lat: 50.0
    }));
}

#[test]
fn a_street_tile_carries_each_segment_with_its_class_and_city_zoom_only_the_main_roads() {
    let streets = town();
    let (name, features) = read(super::streets(&streets, tile_at(10.0, 50.0, 15)));
    assert_eq!(name.as_deref(), Some("streets"));
    let mut ids: Vec<i64> = features.iter().map(|f| int(f, "segment_id")).collect();
    ids.sort();
    assert_eq!(ids, vec![1, 2, 3]);
    let arterial = features.iter().find(|f| int(f, "segment_id") == 1).unwrap();
    assert_eq!(
        property(arterial, "road_class"),
        Some(Value::String("arterial".into()))
    );
    let (_, city) = read(super::streets(&streets, tile_at(10.0, 50.0, 10)));
    let ids: Vec<i64> = city.iter().map(|f| int(f, "segment_id")).collect();
    assert_eq!(
        ids,
        vec![1],
        "local streets wait for zoom {LOCAL_STREETS_ZOOM}"
    );
}

#[test]
fn a_tile_far_from_the_city_is_empty_but_valid() {
    let (name, features) = read(super::streets(&town(), tile_at(-120.0, -30.0, 12)));
    assert_eq!((name, features.len()), (None, 0));
}

#[test]
fn lines_crossing_the_edge_are_cut_at_the_buffer_and_a_tiny_one_is_still_drawn() {
    // The arterial is 1.4 km long; at zoom 17 a tile is about 200 m across.
    let streets = town();
    let (_, features) = read(super::streets(&streets, tile_at(10.0, 50.0, 17)));
    let arterial = features.iter().find(|f| int(f, "segment_id") == 1).unwrap();
    let low = -BUFFER as f32;
    let high = EXTENT as f32 + BUFFER as f32;
    let coords: Vec<_> = match &arterial.geometry {
        geo::Geometry::LineString(l) => l.0.clone(),
        geo::Geometry::MultiLineString(m) => m.0.iter().flat_map(|l| l.0.clone()).collect(),
        other => panic!("a line, not {other:?}"),
    };
    assert!(
        coords
            .iter()
            .all(|c| (low..=high).contains(&c.x) && (low..=high).contains(&c.y))
    );
    // The 0.7 m stub is under a unit at zoom 12, yet it shows.
    let mut risk_by_segment = HashMap::new();
    risk_by_segment.insert(3, 0.5);
    let (_, features) = read(super::risk(
        &streets,
        &RiskScores::Segments(&risk_by_segment),
        tile_at(10.0, 50.0, 12),
    ));
    assert_eq!(features.len(), 1);
    assert!(matches!(features[0].geometry, geo::Geometry::LineString(_)));
}

#[test]
fn risk_tiles_carry_the_probability_and_draw_the_riskiest_last_on_top() {
    let streets = town();
    let scores: HashMap<i64, f64> = [(1, 0.2), (2, 0.7), (3, 0.05)].into_iter().collect();
    let (name, features) = read(super::risk(
        &streets,
        &RiskScores::Segments(&scores),
        tile_at(10.0, 50.0, 15),
    ));
    assert_eq!(name.as_deref(), Some("risk"));
    let drawn: Vec<(i64, f64)> = features
        .iter()
        .map(|f| (int(f, "segment_id"), double(f, "probability")))
        .collect();
    assert_eq!(drawn, vec![(3, 0.05), (1, 0.2), (2, 0.7)]);
    let arterial = features.iter().find(|f| int(f, "segment_id") == 1).unwrap();
    let length = int(arterial, "length_m") as f64;
    assert!((1_400.0..1_450.0).contains(&length), "{length}");
    // Without a run, the layer is empty.
    let (_, none) = read(super::risk(
        &streets,
        &RiskScores::None,
        tile_at(10.0, 50.0, 15),
    ));
    assert!(none.is_empty());
}

#[test]
fn risk_tiles_of_a_model_of_cells_draw_squares() {
    let cells = vec![(77, [9.99, 49.99, 10.01, 50.01], 0.3)];
    let (_, features) = read(super::risk(
        &town(),
        &RiskScores::Cells(&cells),
        tile_at(10.0, 50.0, 13),
    ));
    assert_eq!(features.len(), 1);
    assert_eq!(int(&features[0], "cell_id"), 77);
    assert_eq!(polygons_of(&features[0]).len(), 1);
}

#[test]
fn a_ward_with_a_hole_keeps_its_hole_as_the_format_winds_it() {
    let stored = r#"{"type":"Polygon","coordinates":[
        [[9.9,49.9],[10.1,49.9],[10.1,50.1],[9.9,50.1],[9.9,49.9]],
        [[9.95,49.95],[9.95,50.05],[10.05,50.05],[10.05,49.95],[9.95,49.95]]]}"#;
    let shape = boundary(stored).expect("a polygon");
    let (name, features) = read(super::wards(
        &[(4, "Riverside".into(), shape)],
        tile_at(10.0, 50.0, 10),
    ));
    assert_eq!(name.as_deref(), Some("wards"));
    assert_eq!(int(&features[0], "ward_id"), 4);
    let polygons = polygons_of(&features[0]);
    assert_eq!(polygons.len(), 1, "{polygons:?}");
    assert_eq!(polygons[0].interiors().len(), 1, "{polygons:?}");
    assert!(boundary(r#"{"type":"Point","coordinates":[0,0]}"#).is_none());
}

#[test]
fn issue_tiles_are_points_with_their_category() {
    let points = vec![(9, "pothole".to_owned(), 10.0, 50.0)];
    let (name, features) = read(super::issues(&points, tile_at(10.0, 50.0, 16)));
    assert_eq!(name.as_deref(), Some("issues"));
    assert_eq!(int(&features[0], "issue_id"), 9);
    assert_eq!(
        property(&features[0], "service_code"),
        Some(Value::String("pothole".into()))
    );
    match &features[0].geometry {
        geo::Geometry::Point(_) => {}
        geo::Geometry::MultiPoint(points) => assert_eq!(points.0.len(), 1),
        other => panic!("a point, not {other:?}"),
    }
}
