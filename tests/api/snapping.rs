use crate::helpers::{pothole_at, spawn_app_with};
use models::city::{CityParams, CitySize, generate};
use models::network::RoadClass;

fn days_between(request: &serde_json::Value) -> i64 {
    let at =
        |key: &str| chrono::DateTime::parse_from_rfc3339(request[key].as_str().unwrap()).unwrap();
    (at("expected_datetime") - at("requested_datetime")).num_days()
}

#[tokio::test]
async fn a_report_snaps_to_the_nearest_segment_and_takes_its_road_class_service_level() {
    let app = spawn_app_with(|s| {
        s.demo = true;
        s.demo_size = CitySize::Tiny;
    })
    .await;
    // The server's demo city: the same seed and day give the same streets.
    let city = generate(
        &CityParams::demo(42, CitySize::Tiny, backend::domain::now().date()),
        &mut |_| {},
    );
    let arterial = city
        .segments
        .iter()
        .find(|s| {
            s.class == RoadClass::Arterial && (s.geometry[0].1 - s.geometry[1].1).abs() < 1e-9
        })
        .expect("a straight east-west arterial");
    let (lon, lat) = (
        (arterial.geometry[0].0 + arterial.geometry[1].0) / 2.0,
        (arterial.geometry[0].1 + arterial.geometry[1].1) / 2.0 + 12.0 / 111_195.0,
    );
    let id = app.submit(&pothole_at(lat, lon)).await;
    let request = app.request_with_extensions(&id).await;
    let extended = &request["extended_attributes"];
    assert_eq!(extended["segment_id"], arterial.id.to_string());
    let distance = extended["snap_distance_m"].as_f64().unwrap();
    assert!((distance - 12.0).abs() < 0.5, "{distance}");
    assert_eq!(days_between(&request), 2, "potholes on arterials: 2 days");

    // Two kilometres out of town nothing is within 50 m: unsnapped, kept, longest level.
    let id = app.submit(&pothole_at(lat + 0.02, lon)).await;
    let request = app.request_with_extensions(&id).await;
    assert!(request["extended_attributes"]["segment_id"].is_null());
    assert_eq!(days_between(&request), 10);
}
