use super::*;

fn at() -> NaiveDateTime {
    crate::domain::parse_datetime("2026-11-23T12:00:00Z", "at").expect("a time")
}

fn syracuse_mapping() -> Mapping {
    let options: HashMap<&str, &str> = [
        ("id_field", "STREET_ID"),
        ("name_field", "STREET"),
        ("class_field", "CART_CLASS"),
        ("class_map", "MAJOR=arterial, MINOR=local"),
        ("traffic_field", "AADT"),
        ("ward_field", "WARD"),
    ]
    .into_iter()
    .collect();
    Mapping::from_options(|name| options.get(name).copied()).expect("a valid mapping")
}

const FILE: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"STREET_ID":1,"STREET":"A ST","CART_CLASS":"MAJOR","AADT":"12000","WARD":"North"},
  "geometry":{"type":"LineString","coordinates":[[-76.15,43.05],[-76.149,43.05]]}},
 {"type":"Feature","properties":{"STREET_ID":2,"CART_CLASS":"TRAIL"},
  "geometry":{"type":"MultiLineString","coordinates":[[[-76.15,43.06],[-76.1499,43.06]],[[-76.14,43.06],[-76.1399,43.06]]]}},
 {"type":"Feature","properties":{"STREET_ID":3},"geometry":{"type":"Point","coordinates":[-76.15,43.05]}},
 {"type":"Feature","properties":{"STREET_ID":4},"geometry":{"type":"LineString","coordinates":[[-76.15,43.05]]}},
 {"type":"Feature","properties":{"STREET_ID":5},"geometry":{"type":"LineString","coordinates":[[-76.15,43.05],[-76.15,143.06]]}},
 {"type":"Feature","properties":{"STREET_ID":6,"AADT":"lots"},"geometry":{"type":"LineString","coordinates":[[-76.15,43.05],[-76.149,43.05]]}},
 {"type":"Feature","properties":{"STREET_ID":7,"WARD":"Atlantis"},"geometry":null}
]}"#;

#[test]
fn good_features_are_imported_and_bad_ones_reported_by_index_and_reason() {
    let wards = HashMap::from([("north".to_owned(), 1)]);
    let imported = read(FILE, &syracuse_mapping(), &wards, at()).expect("a collection");
    assert_eq!(imported.features, 7);
    assert_eq!(imported.features_imported, 2);
    let rejected: Vec<usize> = imported.rejected.iter().map(|r| r.index).collect();
    assert_eq!(rejected, vec![2, 3, 4, 5, 6]);
    let reasons: Vec<&str> = imported
        .rejected
        .iter()
        .map(|r| r.reason.as_str())
        .collect();
    assert!(reasons[0].contains("Point"), "{reasons:?}");
    assert!(reasons[1].contains("needs two"), "{reasons:?}");
    assert!(reasons[2].contains("latitude"), "{reasons:?}");
    assert!(reasons[3].contains("'lots'"), "{reasons:?}");
    assert!(reasons[4].contains("no geometry"), "{reasons:?}");

    let first = &imported.segments[0];
    assert_eq!(first.external_id.as_deref(), Some("1"));
    assert_eq!(first.name.as_deref(), Some("A ST"));
    assert_eq!(first.road_class.as_str(), "arterial");
    assert_eq!(first.aadt, Some(12_000));
    assert_eq!(first.ward_id, Some(1));
    assert!(
        first
            .properties
            .as_deref()
            .unwrap_or("")
            .contains("\"CART_CLASS\":\"MAJOR\"")
    );
}

#[test]
fn unknown_class_values_are_kept_and_counted() {
    let imported = read(FILE, &syracuse_mapping(), &HashMap::new(), at()).expect("a collection");
    let trail: Vec<&SegmentRow> = imported
        .segments
        .iter()
        .filter(|s| s.external_id.as_deref() == Some("2"))
        .collect();
    assert_eq!(
        trail.len(),
        2,
        "each line of a MultiLineString is a segment"
    );
    assert!(trail.iter().all(|s| s.road_class.as_str() == "TRAIL"));
    assert_eq!(imported.unmapped_classes, vec![("TRAIL".to_owned(), 1)]);
    assert_eq!(imported.unknown_wards, vec!["North".to_owned()]);
}

#[test]
fn long_lines_are_split_into_pieces_of_at_most_250_metres_that_keep_their_ends() {
    // About 1.6 km east–west.
    let line = vec![(-76.17, 43.05), (-76.15, 43.05)];
    let pieces = split(&line);
    assert_eq!(pieces.len(), 7);
    for piece in &pieces {
        let length = Haversine.length(&LineString::from(piece.clone()));
        assert!(length <= grid::MAX_SEGMENT_LENGTH_M + 0.01, "{length}");
    }
    assert_eq!(pieces[0][0], line[0]);
    assert_eq!(pieces.last().and_then(|p| p.last()), line.last());
    let short = vec![(-76.15, 43.05), (-76.149, 43.05)];
    assert_eq!(split(&short), vec![short.clone()]);
}

#[test]
fn files_that_are_not_feature_collections_are_refused_whole() {
    let mapping = Mapping::default();
    let wards = HashMap::new();
    assert!(matches!(
        read("nope", &mapping, &wards, at()),
        Err(ImportError::NotGeoJson(_))
    ));
    assert!(matches!(
        read(
            r#"{"type":"Feature","geometry":null,"properties":{}}"#,
            &mapping,
            &wards,
            at()
        ),
        Err(ImportError::NotCollection("Feature"))
    ));
}

#[test]
fn a_class_map_without_an_equals_sign_is_refused() {
    let error = Mapping::from_options(|name| (name == "class_map").then_some("MAJOR"))
        .expect_err("refused");
    assert_eq!(error.field, "class_map");
}
