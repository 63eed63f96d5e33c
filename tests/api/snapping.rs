use crate::helpers::{arterial_spot, pothole_at, spawn_tiny_city};

fn days_between(request: &serde_json::Value) -> i64 {
    let at =
        |key: &str| chrono::DateTime::parse_from_rfc3339(request[key].as_str().unwrap()).unwrap();
    (at("expected_datetime") - at("requested_datetime")).num_days()
}

#[tokio::test]
async fn a_report_snaps_to_the_nearest_segment_and_takes_its_road_class_service_level() {
    let app = spawn_tiny_city().await;
    let (lat, lon, arterial) = arterial_spot();
    let id = app.submit(&pothole_at(lat, lon)).await;
    let request = app.request_with_extensions(&id).await;
    let extended = &request["extended_attributes"];
    assert_eq!(extended["segment_id"], arterial.to_string());
    let distance = extended["snap_distance_m"].as_f64().unwrap();
    assert!((distance - 12.0).abs() < 0.5, "{distance}");
    assert_eq!(days_between(&request), 2, "potholes on arterials: 2 days");

    // Two kilometres out of town nothing is within 50 m: unsnapped, kept, longest level.
    let id = app.submit(&pothole_at(lat + 0.02, lon)).await;
    let request = app.request_with_extensions(&id).await;
    assert!(request["extended_attributes"]["segment_id"].is_null());
    assert_eq!(days_between(&request), 10);
}
